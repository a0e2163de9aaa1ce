/* SPDX-License-Identifier: Apache-2.0 */
/* TLS material generation and in-memory handshakes between an OpenSSL client
 * (memory BIOs, verifying against the generated ca.pem) and a tls_conn. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "crypto/tls.h"

static char tmpdir[] = "/tmp/tls_test.XXXXXX";
static char tlsdir[256], ca_pem[300], srv_pem[300], srv_key[300], ca_key[300];
static struct tls_server *server;

static const unsigned char ALPN_SRV[] = "\x02h2\x08http/1.1";

static mode_t mode_of(const char *p)
{
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	return st.st_mode & 0777;
}

static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

static char *slurp(const char *path)
{
	static char buf[3][8192];
	static int i;
	char *b = buf[i++ % 3];
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(b, 1, sizeof(buf[0]) - 1, f);
	fclose(f);
	b[n] = 0;
	return b;
}

static void test_material(void **state)
{
	(void)state;
	assert_int_equal(tls_material_ensure(tlsdir, "10.99.0.5"), 0);
	assert_int_equal(mode_of(tlsdir), 0700);
	assert_int_equal(mode_of(ca_key), 0600);
	assert_int_equal(mode_of(srv_key), 0600);
	assert_int_equal(mode_of(ca_pem), 0644);
	assert_int_equal(mode_of(srv_pem), 0644);

	X509 *ca = read_cert(ca_pem), *leaf = read_cert(srv_pem);
	X509_STORE *store = X509_STORE_new();
	X509_STORE_add_cert(store, ca);
	X509_STORE_CTX *vctx = X509_STORE_CTX_new();
	X509_STORE_CTX_init(vctx, store, leaf, NULL);
	X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_SERVER);
	assert_int_equal(X509_verify_cert(vctx), 1);
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	assert_int_equal(X509_check_ip_asc(leaf, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(leaf, "::1", 0), 1);
	assert_int_equal(X509_check_ip_asc(leaf, "10.99.0.5", 0), 1);
	assert_int_equal(X509_check_host(leaf, "localhost", 0, 0, NULL), 1);
	assert_int_not_equal(X509_check_host(leaf, "example.com", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ca(ca), 1);
	assert_int_equal(X509_check_ca(leaf), 0);
	X509_free(leaf);

	/* Idempotent; a new extra host reissues the leaf under the same CA. */
	char before_ca[8192], before_leaf[8192];
	snprintf(before_ca, sizeof(before_ca), "%s", slurp(ca_pem));
	snprintf(before_leaf, sizeof(before_leaf), "%s", slurp(srv_pem));
	assert_int_equal(tls_material_ensure(tlsdir, "0.0.0.0"), 0);
	assert_string_equal(slurp(srv_pem), before_leaf);
	assert_int_equal(tls_material_ensure(tlsdir, "sluice.test"), 0);
	assert_string_equal(slurp(ca_pem), before_ca);
	leaf = read_cert(srv_pem);
	assert_int_equal(X509_check_host(leaf, "sluice.test", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(leaf, "127.0.0.1", 0), 1);
	assert_int_equal(mode_of(srv_key), 0600);
	X509_free(leaf);
	X509_free(ca);
	assert_int_equal(tls_material_ensure(tlsdir, "bad,host"), -EINVAL);
}

/* ---- client side ------------------------------------------------------ */

struct client {
	SSL_CTX *ctx;
	SSL *ssl;
	BIO *rbio, *wbio;
};

static void client_new(struct client *cl, int max_ver, const char *ciphers,
		       const unsigned char *alpn, unsigned alpn_len)
{
	cl->ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(cl->ctx);
	assert_int_equal(SSL_CTX_load_verify_locations(cl->ctx, ca_pem, NULL), 1);
	SSL_CTX_set_verify(cl->ctx, SSL_VERIFY_PEER, NULL);
	if (max_ver) {
		SSL_CTX_set_security_level(cl->ctx, 0); /* let it even try TLS 1.1 */
		SSL_CTX_set_min_proto_version(cl->ctx, 0);
		SSL_CTX_set_max_proto_version(cl->ctx, max_ver);
	}
	if (ciphers)
		assert_int_equal(SSL_CTX_set_cipher_list(cl->ctx, ciphers), 1);
	cl->ssl = SSL_new(cl->ctx);
	assert_int_equal(SSL_set1_host(cl->ssl, "localhost"), 1);
	if (alpn)
		assert_int_equal(SSL_set_alpn_protos(cl->ssl, alpn, alpn_len), 0);
	cl->rbio = BIO_new(BIO_s_mem());
	cl->wbio = BIO_new(BIO_s_mem());
	BIO_set_mem_eof_return(cl->rbio, -1);
	SSL_set_bio(cl->ssl, cl->rbio, cl->wbio);
	SSL_set_connect_state(cl->ssl);
}

static void client_free(struct client *cl)
{
	SSL_free(cl->ssl);
	SSL_CTX_free(cl->ctx);
}

/* Moves ciphertext both ways once; returns the server's read result. */
static ssize_t pump(struct client *cl, struct tls_conn *c, char *plain, size_t cap)
{
	char buf[4096];
	int n;
	while ((n = BIO_read(cl->wbio, buf, sizeof(buf))) > 0)
		assert_int_equal(tls_conn_feed(c, buf, (size_t)n), 0);
	ssize_t r = tls_conn_read(c, plain, cap);
	size_t k;
	while ((k = tls_conn_take_out(c, buf, sizeof(buf))) > 0)
		assert_int_equal(BIO_write(cl->rbio, buf, (int)k), (int)k);
	assert_int_equal(tls_conn_pending_out(c), 0);
	return r;
}

/* Runs the handshake; returns 0 when both sides finished, else the server's
 * error (the client error queue is cleared). */
static ssize_t handshake(struct client *cl, struct tls_conn *c)
{
	char plain[64];
	for (int i = 0; i < 10; i++) {
		int cr = SSL_do_handshake(cl->ssl);
		/* before pump(): feeding the client's rbio resets its retry flags */
		int ce = cr == 1 ? SSL_ERROR_NONE : SSL_get_error(cl->ssl, cr);
		ssize_t r = pump(cl, c, plain, sizeof(plain));
		if (r < 0) {
			SSL_do_handshake(cl->ssl); /* consume the alert */
			ERR_clear_error();
			return r;
		}
		if (cr == 1 && tls_conn_handshake_done(c))
			return 0;
		if (cr != 1 && ce != SSL_ERROR_WANT_READ) {
			if (getenv("TLS_TEST_DEBUG")) {
				fprintf(stderr, "client error %d round %d\n", ce, i);
				ERR_print_errors_fp(stderr);
			}
			ERR_clear_error();
			return -999;
		}
	}
	return -998;
}

static void test_handshake_and_data(void **state)
{
	(void)state;
	struct client cl;
	client_new(&cl, 0, NULL, (const unsigned char *)"\x08http/1.1", 9);
	struct tls_conn *c = tls_conn_new(server);
	assert_non_null(c);
	assert_int_equal(tls_conn_write(c, "x", 1), -EAGAIN);
	assert_int_equal(handshake(&cl, c), 0);
	assert_int_equal(SSL_get_verify_result(cl.ssl), X509_V_OK);

	const unsigned char *proto;
	unsigned plen;
	tls_conn_alpn(c, &proto, &plen);
	assert_int_equal(plen, 8);
	assert_memory_equal(proto, "http/1.1", 8);
	assert_string_equal(tls_conn_version(c), "TLSv1.3");
	assert_string_equal(tls_conn_cipher(c), "TLS_AES_128_GCM_SHA256");

	/* client -> server */
	char plain[256];
	assert_int_equal(SSL_write(cl.ssl, "hello sluice", 12), 12);
	assert_int_equal(pump(&cl, c, plain, sizeof(plain)), 12);
	assert_memory_equal(plain, "hello sluice", 12);
	assert_int_equal(pump(&cl, c, plain, sizeof(plain)), 0);

	/* server -> client, larger than one record */
	static char big[100000], got[100000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	assert_int_equal(tls_conn_write(c, big, sizeof(big)), (ssize_t)sizeof(big));
	assert_true(tls_conn_pending_out(c) > sizeof(big));
	pump(&cl, c, plain, sizeof(plain));
	size_t total = 0;
	int n;
	while (total < sizeof(got) &&
	       (n = SSL_read(cl.ssl, got + total, (int)(sizeof(got) - total))) > 0)
		total += (size_t)n;
	assert_int_equal(total, sizeof(big));
	assert_memory_equal(got, big, sizeof(big));

	/* close_notify from the client */
	SSL_shutdown(cl.ssl);
	assert_int_equal(pump(&cl, c, plain, sizeof(plain)), -ECONNRESET);
	tls_conn_close(c);
	tls_conn_free(c);
	client_free(&cl);
}

static void test_tls12_no_alpn(void **state)
{
	(void)state;
	struct client cl;
	client_new(&cl, TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305", NULL, 0);
	struct tls_conn *c = tls_conn_new(server);
	assert_int_equal(handshake(&cl, c), 0);
	assert_string_equal(tls_conn_version(c), "TLSv1.2");
	assert_string_equal(tls_conn_cipher(c), "ECDHE-ECDSA-CHACHA20-POLY1305");
	const unsigned char *proto;
	unsigned plen = 99;
	tls_conn_alpn(c, &proto, &plen);
	assert_int_equal(plen, 0);
	tls_conn_free(c);
	client_free(&cl);
}

static void expect_refused(int max_ver, const char *ciphers, const unsigned char *alpn,
			   unsigned alpn_len)
{
	struct client cl;
	client_new(&cl, max_ver, ciphers, alpn, alpn_len);
	struct tls_conn *c = tls_conn_new(server);
	assert_int_equal(handshake(&cl, c), -EPROTO);
	assert_false(tls_conn_handshake_done(c));
	char b[8];
	assert_int_equal(tls_conn_read(c, b, sizeof(b)), -EPROTO);
	assert_int_equal(tls_conn_write(c, "x", 1), -EPROTO);
	assert_int_equal(ERR_peek_error(), 0);
	tls_conn_free(c);
	client_free(&cl);
}

static void test_refusals(void **state)
{
	(void)state;
	expect_refused(TLS1_1_VERSION, "DEFAULT:@SECLEVEL=0", NULL, 0);
	expect_refused(TLS1_2_VERSION, "AES128-SHA", NULL, 0);
	expect_refused(TLS1_2_VERSION, "AES128-GCM-SHA256", NULL, 0); /* AEAD, no FS */
	expect_refused(TLS1_2_VERSION, "ECDHE-RSA-AES128-SHA", NULL, 0); /* FS, no AEAD */
	/* ALPN offered, but nothing we speak: no_application_protocol */
	expect_refused(0, NULL, (const unsigned char *)"\x02h3", 3);
}

static void test_alpn_server_preference(void **state)
{
	(void)state;
	struct client cl;
	client_new(&cl, 0, NULL, (const unsigned char *)"\x08http/1.1\x02h2", 12);
	struct tls_conn *c = tls_conn_new(server);
	assert_int_equal(handshake(&cl, c), 0);
	const unsigned char *proto;
	unsigned plen;
	tls_conn_alpn(c, &proto, &plen);
	assert_int_equal(plen, 2);
	assert_memory_equal(proto, "h2", 2);
	tls_conn_free(c);
	client_free(&cl);
}

static void test_garbage_and_bad_config(void **state)
{
	(void)state;
	struct tls_conn *c = tls_conn_new(server);
	char b[16];
	assert_int_equal(tls_conn_feed(c, "GET / HTTP/1.1\r\n\r\n", 18), 0);
	assert_int_equal(tls_conn_read(c, b, sizeof(b)), -EPROTO);
	tls_conn_free(c);

	char err[256] = "";
	struct tls_server_config bad = { .cert_path = srv_pem, .key_path = ca_key };
	assert_null(tls_server_new(&bad, err, sizeof(err)));
	assert_true(strlen(err) > 0);
	bad.key_path = "/nonexistent/key.pem";
	assert_null(tls_server_new(&bad, err, sizeof(err)));
	bad.key_path = srv_key;
	bad.alpn = (const unsigned char *)"\x09http/1.1";
	bad.alpn_len = 9;
	assert_null(tls_server_new(&bad, err, sizeof(err)));
}

static int setup(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(tls_material_ensure(tlsdir, NULL), 0);
	struct tls_server_config cfg = {
		.cert_path = srv_pem,
		.key_path = srv_key,
		.alpn = ALPN_SRV,
		.alpn_len = sizeof(ALPN_SRV) - 1,
	};
	server = tls_server_new(&cfg, err, sizeof(err));
	if (!server)
		fprintf(stderr, "tls_server_new: %s\n", err);
	return server ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	tls_server_free(server);
	return 0;
}

/* OpenSSL's allocations of record-buffer size (>= 4 KiB), counted
 * (installed first thing in main, before OpenSSL allocates anything).
 * Small ones are left out: OpenSSL 3.0 allocates a 40-byte WPACKET per
 * record it seals or opens, whatever the buffer mode. */
static unsigned long g_ossl_allocs;
/* Every CRYPTO_free, NULL included. */
static unsigned long g_ossl_frees;
#define BIG_ALLOC 4096u

static void *count_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	if (n >= BIG_ALLOC)
		g_ossl_allocs++;
	return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	if (n >= BIG_ALLOC)
		g_ossl_allocs++;
	return realloc(p, n);
}

static void count_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	g_ossl_frees++;
	free(p);
}

/* Client-side: n bytes of ciphertext from the client's outgoing queue. */
static size_t client_out(struct client *cl, char *buf, size_t cap)
{
	int n = BIO_read(cl->wbio, buf, (int)cap);
	return n > 0 ? (size_t)n : 0;
}

/* Moves the server's ciphertext to the client, which must read want. */
static void to_client(struct client *cl, struct tls_conn *c, const char *want)
{
	char buf[4096];
	size_t k;
	while ((k = tls_conn_take_out(c, buf, sizeof(buf))) > 0)
		assert_int_equal(BIO_write(cl->rbio, buf, (int)k), (int)k);
	size_t n = strlen(want);
	assert_int_equal(SSL_read(cl->ssl, buf, (int)sizeof(buf)), (int)n);
	assert_memory_equal(buf, want, n);
}

/* Records are read and written with buffers kept for the connection's life
 * (no SSL_MODE_RELEASE_BUFFERS): many records cost no allocation each.
 * tls_conn_trim gives the buffers back only between records: not with half
 * a record fed, not with decrypted plaintext not yet read out; after a trim
 * the connection works both ways. */
static void test_trim_between_records(void **state)
{
	(void)state;
	struct client cl;
	client_new(&cl, 0, NULL, (const unsigned char *)"\x08http/1.1", 9);
	struct tls_conn *c = tls_conn_new(server);
	assert_non_null(c);
	assert_int_equal(handshake(&cl, c), 0);

	static char msg[64 * 1024], got[64 * 1024], cipher[80 * 1024];
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)(i * 13 + 1);
	/* Warm-up: the memory BIO and the record buffers reach their size. */
	assert_int_equal(SSL_write(cl.ssl, msg, (int)sizeof(msg)), (int)sizeof(msg));
	size_t clen = client_out(&cl, cipher, sizeof(cipher));
	assert_true(clen > sizeof(msg));
	assert_int_equal(tls_conn_feed(c, cipher, clen), 0);
	size_t total = 0;
	ssize_t r;
	while ((r = tls_conn_read(c, got + total, sizeof(got) - total)) > 0)
		total += (size_t)r;
	assert_int_equal(total, sizeof(msg));
	assert_int_equal(tls_conn_write(c, "ok", 2), 2);
	to_client(&cl, c, "ok");

	/* Four records in, one write out: no record buffer allocated. With
	 * SSL_MODE_RELEASE_BUFFERS this took one per record and per write. */
	assert_int_equal(SSL_write(cl.ssl, msg, (int)sizeof(msg)), (int)sizeof(msg));
	clen = client_out(&cl, cipher, sizeof(cipher));
	unsigned long before = g_ossl_allocs, frees_before = g_ossl_frees;
	assert_int_equal(tls_conn_feed(c, cipher, clen), 0);
	total = 0;
	while ((r = tls_conn_read(c, got + total, sizeof(got) - total)) > 0)
		total += (size_t)r;
	assert_int_equal(total, sizeof(msg));
	assert_int_equal(tls_conn_write(c, "ok", 2), 2);
	assert_int_equal(g_ossl_allocs - before, 0);
	/* OpenSSL 3.0's ERR_clear_error frees 32 (NULL) strings whether or not
	 * anything is queued; tls.c clears only a non-empty queue, so the ~7
	 * calls here (per read, per write, per "want more") free next to
	 * nothing: 40-byte WPACKETs, one per record. */
	assert_true(g_ossl_frees - frees_before < 32);
	assert_memory_equal(got, msg, sizeof(msg));
	to_client(&cl, c, "ok");

	/* Half a record fed: refused, and the rest still decrypts. */
	assert_int_equal(SSL_write(cl.ssl, msg, 1000), 1000);
	clen = client_out(&cl, cipher, sizeof(cipher));
	assert_int_equal(tls_conn_feed(c, cipher, 100), 0);
	assert_int_equal(tls_conn_read(c, got, sizeof(got)), 0);
	assert_false(tls_conn_trim(c));
	assert_int_equal(tls_conn_feed(c, cipher + 100, clen - 100), 0);
	/* Part of the record read out: the rest waits decrypted, refused. */
	assert_int_equal(tls_conn_read(c, got, 10), 10);
	assert_false(tls_conn_trim(c));
	assert_int_equal(tls_conn_read(c, got + 10, sizeof(got) - 10), 990);
	assert_memory_equal(got, msg, 1000);
	/* Between records: trimmed, and again (nothing held) still fine. */
	assert_true(tls_conn_trim(c));
	assert_true(tls_conn_trim(c));

	/* Both ways after the trim. */
	assert_int_equal(SSL_write(cl.ssl, msg, 20000), 20000);
	assert_int_equal(pump(&cl, c, got, sizeof(got)), 16384);
	assert_int_equal(tls_conn_read(c, got + 16384, sizeof(got)), 20000 - 16384);
	assert_memory_equal(got, msg, 20000);
	assert_true(tls_conn_trim(c));
	assert_int_equal(tls_conn_write(c, msg, 30000), 30000);
	assert_true(tls_conn_trim(c)); /* the ciphertext waits in the memory BIO */
	pump(&cl, c, got, sizeof(got));
	total = 0;
	int n;
	while (total < 30000 && (n = SSL_read(cl.ssl, got + total, 30000)) > 0)
		total += (size_t)n;
	assert_int_equal(total, 30000);
	assert_memory_equal(got, msg, 30000);

	struct tls_conn *p = tls_conn_new_plain();
	assert_non_null(p);
	assert_false(tls_conn_trim(p)); /* plaintext holds no record buffers */
	tls_conn_free(p);
	tls_conn_free(c);
	client_free(&cl);
}

/* tls_conn_new_plain: the pass-through under --plain-listen. Bytes fed come
 * back out of read unchanged, in pieces as asked; bytes written come out of
 * take_out unchanged; no handshake, no ALPN, nothing to close. */
static void test_plain_passthrough(void **state)
{
	(void)state;
	struct tls_conn *c = tls_conn_new_plain();
	assert_non_null(c);
	assert_true(tls_conn_is_plain(c));
	assert_true(tls_conn_handshake_done(c));
	const unsigned char *p = (const unsigned char *)"x";
	unsigned n = 7;
	tls_conn_alpn(c, &p, &n);
	assert_null(p);
	assert_int_equal(n, 0);
	assert_string_equal(tls_conn_version(c), "plaintext");
	char buf[64];
	assert_int_equal(tls_conn_read(c, buf, sizeof(buf)), 0); /* nothing yet: no EOF */
	assert_int_equal(tls_conn_feed(c, "PRI * HTTP/2.0", 14), 0);
	assert_int_equal(tls_conn_pending_in(c), 14);
	assert_int_equal(tls_conn_read(c, buf, 4), 4);
	assert_memory_equal(buf, "PRI ", 4);
	assert_int_equal(tls_conn_read(c, buf, sizeof(buf)), 10);
	assert_memory_equal(buf, "* HTTP/2.0", 10);
	assert_int_equal(tls_conn_pending_in(c), 0);
	assert_int_equal(tls_conn_write(c, "HTTP/1.1 200 OK\r\n", 17), 17);
	assert_int_equal(tls_conn_write(c, "", 0), 0);
	assert_int_equal(tls_conn_pending_out(c), 17);
	assert_int_equal(tls_conn_take_out(c, buf, 5), 5);
	assert_memory_equal(buf, "HTTP/", 5);
	assert_int_equal(tls_conn_take_out(c, buf, sizeof(buf)), 12);
	assert_memory_equal(buf, "1.1 200 OK\r\n", 12);
	assert_int_equal(tls_conn_take_out(c, buf, sizeof(buf)), 0);
	tls_conn_close(c); /* no-op: nothing queued */
	assert_int_equal(tls_conn_pending_out(c), 0);
	tls_conn_free(c);
}

int main(void)
{
	if (!CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free))
		return 1; /* OpenSSL allocated before main: cannot count */
	if (getenv("TLS_TEST_DEBUG"))
		sl_log_level = SL_LOG_DEBUG;
	if (!mkdtemp(tmpdir))
		return 1;
	snprintf(tlsdir, sizeof(tlsdir), "%s/tls", tmpdir);
	snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", tlsdir);
	snprintf(ca_key, sizeof(ca_key), "%s/ca.key", tlsdir);
	snprintf(srv_pem, sizeof(srv_pem), "%s/server.pem", tlsdir);
	snprintf(srv_key, sizeof(srv_key), "%s/server.key", tlsdir);
	const struct CMUnitTest material[] = {
		cmocka_unit_test(test_material),
	};
	const struct CMUnitTest conn[] = {
		cmocka_unit_test(test_handshake_and_data),
		cmocka_unit_test(test_tls12_no_alpn),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_alpn_server_preference),
		cmocka_unit_test(test_garbage_and_bad_config),
		cmocka_unit_test(test_plain_passthrough),
		cmocka_unit_test(test_trim_between_records),
	};
	int rc = cmocka_run_group_tests(material, NULL, NULL);
	rc |= cmocka_run_group_tests(conn, setup, teardown);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		rc |= 1;
	return rc;
}

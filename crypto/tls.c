/* SPDX-License-Identifier: Apache-2.0 */
/* TLS termination over memory BIOs (policy in tls.h and README.md).
 *
 * Each tls_conn owns two memory BIOs: rbio holds ciphertext the transport fed
 * us and OpenSSL has not consumed yet, wbio holds ciphertext OpenSSL produced
 * and the transport has not taken yet. Both grow on demand; the caller bounds
 * rbio by feeding only what its receive window allows, and bounds wbio by
 * draining it (tls_conn_take_out) before writing more plaintext. */
#include "crypto/tls.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/log.h"

#define TLS_CIPHERS_12                                                           \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"            \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"            \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS_SUITES_13 "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define TLS_GROUPS "X25519:P-256:P-384"
#define TLS_ALPN_MAX 255

/* Lifetime: a server is referenced by its owner and by every tls_conn made
 * from it (the ALPN callback's argument must outlive handshakes in flight
 * when a reload retires the server). Both live on one lcore, so the count
 * is a plain integer. */
struct tls_server {
	SSL_CTX *ctx;
	uint32_t refs;
	size_t alpn_len;
	unsigned char alpn[TLS_ALPN_MAX];
};

struct tls_conn {
	struct tls_server *srv; /* NULL: plaintext (tls_conn_new_plain) */
	SSL *ssl;		/* NULL: plaintext */
	BIO *rbio; /* peer -> us ciphertext; owned by ssl (plaintext: by us) */
	BIO *wbio; /* us -> peer ciphertext; owned by ssl (plaintext: by us) */
	bool failed;
};

/* RFC 7301: pick the first protocol in *our* preference order that the
 * client offered. A client that offered ALPN but nothing we speak gets a
 * fatal no_application_protocol alert; a client that sent no ALPN never
 * reaches this callback and proceeds as HTTP/1.1. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	const struct tls_server *s = arg;
	(void)ssl;

	for (size_t i = 0; i < s->alpn_len; i += 1u + s->alpn[i]) {
		const unsigned char *p = &s->alpn[i + 1];
		unsigned char plen = s->alpn[i];
		for (unsigned j = 0; j < inlen; j += 1u + in[j]) {
			if (j + 1u + in[j] > inlen)
				break;
			if (in[j] == plen && memcmp(&in[j + 1], p, plen) == 0) {
				*out = &in[j + 1];
				*outlen = plen;
				return SSL_TLSEXT_ERR_OK;
			}
		}
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static bool alpn_wire_ok(const unsigned char *p, size_t len)
{
	size_t i = 0;
	while (i < len) {
		if (p[i] == 0 || i + 1 + p[i] > len)
			return false;
		i += 1u + p[i];
	}
	return true;
}

static void set_err(char *err, size_t errlen, const char *what)
{
	char reason[256] = "";
	unsigned long e = ERR_peek_last_error();
	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	if (err && errlen)
		snprintf(err, errlen, "%s%s%s", what, *reason ? ": " : "", reason);
}

static bool ctx_policy(SSL_CTX *ctx)
{
	/* Stateless tickets would need a ticket key shared by all lcores and
	 * rotated; resumption buys little with keep-alive connections, so the
	 * server issues no tickets and keeps no session cache (which would be
	 * shared mutable state across lcores). */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* No SSL_MODE_RELEASE_BUFFERS: it frees the ~17 KB read buffer after
	 * every record and the write buffer after every write, and allocates
	 * them again for the next: ~40 malloc/free pairs per 700 KB request
	 * (perf/RESULTS.md, 2026-12-03 "TLS record buffers"). An idle
	 * connection gives them back through tls_conn_trim instead. */
	return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
	       SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1 &&
	       SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) == 1 &&
	       SSL_CTX_set_ciphersuites(ctx, TLS_SUITES_13) == 1 &&
	       SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) == 1 &&
	       SSL_CTX_set_num_tickets(ctx, 0) == 1;
}

struct tls_server *tls_server_new(const struct tls_server_config *cfg, char *err, size_t errlen)
{
	struct tls_server *s;

	ERR_clear_error();
	if (!cfg || !cfg->cert_path || !cfg->key_path || cfg->alpn_len > TLS_ALPN_MAX ||
	    !alpn_wire_ok(cfg->alpn, cfg->alpn_len)) {
		set_err(err, errlen, "invalid TLS configuration (paths or ALPN list)");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	s->refs = 1;
	if (cfg->alpn_len)
		memcpy(s->alpn, cfg->alpn, cfg->alpn_len);
	s->alpn_len = cfg->alpn_len;
	s->ctx = SSL_CTX_new(TLS_server_method());
	if (!s->ctx || !ctx_policy(s->ctx)) {
		set_err(err, errlen, "cannot create TLS context");
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(s->ctx, cfg->cert_path) != 1) {
		set_err(err, errlen, "cannot load certificate chain");
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(s->ctx, cfg->key_path, SSL_FILETYPE_PEM) != 1) {
		set_err(err, errlen, "cannot load private key");
		goto fail;
	}
	if (SSL_CTX_check_private_key(s->ctx) != 1) {
		set_err(err, errlen, "private key does not match the certificate");
		goto fail;
	}
	if (cfg->client_ca_path) {
		/* mTLS: a client must present a certificate chaining to this CA. */
		if (SSL_CTX_load_verify_locations(s->ctx, cfg->client_ca_path, NULL) != 1) {
			set_err(err, errlen, "cannot load the client CA");
			goto fail;
		}
		SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
				   NULL);
		SSL_CTX_set_verify_depth(s->ctx, 8);
	}
	if (s->alpn_len)
		SSL_CTX_set_alpn_select_cb(s->ctx, alpn_select, s);
	return s;
fail:
	tls_server_free(s);
	return NULL;
}

void tls_server_free(struct tls_server *s)
{
	if (!s || --s->refs > 0)
		return; /* connections made from it still run */
	SSL_CTX_free(s->ctx);
	free(s);
}

struct tls_conn *tls_conn_new(struct tls_server *s)
{
	struct tls_conn *c = calloc(1, sizeof(*c));
	if (!c)
		goto nomem;
	c->ssl = SSL_new(s->ctx);
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (!c->ssl || !c->rbio || !c->wbio) {
		BIO_free(c->rbio);
		BIO_free(c->wbio);
		SSL_free(c->ssl);
		free(c);
		goto nomem;
	}
	c->srv = s;
	s->refs++;
	/* An empty rbio means "no data yet", not end of stream. */
	BIO_set_mem_eof_return(c->rbio, -1);
	SSL_set_bio(c->ssl, c->rbio, c->wbio);
	SSL_set_accept_state(c->ssl);
	return c;
nomem:
	ERR_clear_error();
	errno = ENOMEM;
	return NULL;
}

struct tls_conn *tls_conn_new_plain(void)
{
	struct tls_conn *c = calloc(1, sizeof(*c));
	if (!c)
		goto nomem;
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (!c->rbio || !c->wbio) {
		BIO_free(c->rbio);
		BIO_free(c->wbio);
		free(c);
		goto nomem;
	}
	BIO_set_mem_eof_return(c->rbio, -1);
	BIO_set_mem_eof_return(c->wbio, -1);
	return c;
nomem:
	ERR_clear_error();
	errno = ENOMEM;
	return NULL;
}

bool tls_conn_is_plain(const struct tls_conn *c)
{
	return c->ssl == NULL;
}

void tls_conn_free(struct tls_conn *c)
{
	if (!c)
		return;
	if (!c->ssl) {
		BIO_free(c->rbio);
		BIO_free(c->wbio);
		free(c);
		return;
	}
	SSL_free(c->ssl); /* frees both BIOs */
	tls_server_free(c->srv); /* drops this connection's reference */
	free(c);
}

int tls_conn_feed(struct tls_conn *c, const void *cipher, size_t len)
{
	const char *p = cipher;
	while (len) {
		int n = (int)(len > INT_MAX ? INT_MAX : len);
		int w = BIO_write(c->rbio, p, n);
		if (w <= 0) {
			ERR_clear_error();
			return -ENOMEM;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* ERR_clear_error on the per-record path, only when something is queued:
 * OpenSSL 3.0's ERR_clear_error walks all 16 slots of the thread's queue
 * and frees two strings in each, empty or not (32 free() calls), and the
 * read and write paths clear before and after every call (~860 free()s per
 * 500-record PutRecords, counted with a uprobe on free). */
static inline void err_clear(void)
{
	if (ERR_peek_error() != 0)
		ERR_clear_error();
}

/* Maps an SSL_get_error result; logs the reason at debug level only (peer
 * behaviour must not be able to flood the log). */
static ssize_t map_error(struct tls_conn *c, int ret, const char *op)
{
	int e = SSL_get_error(c->ssl, ret);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		err_clear();
		return 0;
	}
	if (e == SSL_ERROR_ZERO_RETURN) {
		err_clear();
		return -ECONNRESET;
	}
	if (sl_log_level >= SL_LOG_DEBUG) {
		char reason[256] = "";
		unsigned long ec = ERR_peek_error();
		if (ec)
			ERR_error_string_n(ec, reason, sizeof(reason));
		SL_DEBUG("tls: %s failed (ssl error %d): %s", op, e, reason);
	}
	ERR_clear_error();
	c->failed = true;
	return -EPROTO;
}

/* Plaintext: moves up to cap bytes from one memory BIO out. */
static size_t plain_take(BIO *b, void *buf, size_t cap)
{
	size_t got = 0;
	if (cap == 0 || BIO_read_ex(b, buf, cap, &got) != 1)
		got = 0; /* empty: BIO_read_ex fails and reports nothing read */
	err_clear();
	return got;
}

ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t cap)
{
	size_t got = 0;

	if (!c->ssl)
		return (ssize_t)plain_take(c->rbio, buf, cap);
	if (c->failed)
		return -EPROTO;
	err_clear();
	if (!SSL_is_init_finished(c->ssl)) {
		int r = SSL_do_handshake(c->ssl);
		if (r != 1)
			return map_error(c, r, "handshake");
	}
	if (cap == 0)
		return 0;
	int r = SSL_read_ex(c->ssl, buf, cap, &got);
	if (r != 1)
		return map_error(c, 0, "read");
	return (ssize_t)got;
}

ssize_t tls_conn_write(struct tls_conn *c, const void *buf, size_t len)
{
	size_t done = 0;

	if (!c->ssl) {
		/* A memory BIO takes all of it, or fails for want of memory. */
		if (len && (BIO_write_ex(c->wbio, buf, len, &done) != 1 || done != len)) {
			ERR_clear_error();
			return -EPROTO;
		}
		return (ssize_t)len;
	}
	if (c->failed)
		return -EPROTO;
	if (!SSL_is_init_finished(c->ssl))
		return -EAGAIN;
	if (len == 0)
		return 0;
	err_clear();
	/* A memory wbio never refuses data, so one call takes all of len. */
	if (SSL_write_ex(c->ssl, buf, len, &done) != 1) {
		ssize_t r = map_error(c, 0, "write");
		return r == 0 ? -EAGAIN : -EPROTO;
	}
	return (ssize_t)done;
}

size_t tls_conn_pending_in(const struct tls_conn *c)
{
	return BIO_ctrl_pending(c->rbio);
}

size_t tls_conn_pending_out(const struct tls_conn *c)
{
	return BIO_ctrl_pending(c->wbio);
}

size_t tls_conn_take_out(struct tls_conn *c, void *buf, size_t cap)
{
	/* One memcpy out of the BIO's contiguous buffer; BIO_read_ex never
	 * blocks on a memory BIO. */
	return plain_take(c->wbio, buf, cap);
}

bool tls_conn_trim(struct tls_conn *c)
{
	if (!c->ssl)
		return false;
	/* SSL_free_buffers refuses (0) while a record is half read or half
	 * written; OpenSSL before 3.0.14 also freed a decrypted record not yet
	 * read out (CVE-2024-4741), so ask about buffered plaintext first. */
	if (SSL_has_pending(c->ssl))
		return false;
	int r = SSL_free_buffers(c->ssl);
	err_clear();
	return r == 1;
}

bool tls_conn_handshake_done(const struct tls_conn *c)
{
	return !c->ssl || SSL_is_init_finished(c->ssl) == 1;
}

void tls_conn_alpn(const struct tls_conn *c, const unsigned char **proto, unsigned *len)
{
	if (!c->ssl) {
		*proto = NULL;
		*len = 0;
		return;
	}
	SSL_get0_alpn_selected(c->ssl, proto, len);
	if (!*proto)
		*len = 0;
}

const char *tls_conn_version(const struct tls_conn *c)
{
	return c->ssl ? SSL_get_version(c->ssl) : "plaintext";
}

const char *tls_conn_cipher(const struct tls_conn *c)
{
	const char *n = c->ssl ? SSL_get_cipher_name(c->ssl) : NULL;
	return n ? n : "(none)";
}

void tls_conn_close(struct tls_conn *c)
{
	ERR_clear_error();
	if (c->ssl && !c->failed && SSL_is_init_finished(c->ssl))
		SSL_shutdown(c->ssl);
	ERR_clear_error();
}

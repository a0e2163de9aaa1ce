/* SPDX-License-Identifier: Apache-2.0 */
/* See conn_harness.h. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/err.h>

#include "common/slice.h"
#include "crypto/sigv4.h"
#include "crypto/tls.h"
#include "dataplane/ctl/ctl.h"
#include "dataplane/http/http_conn.h"

#include "conn_harness.h"

/* The fake transport finds a connection's client by slot. */
static struct hclient *g_by_idx[HC_MAX_CLIENTS];

static struct hclient *client_of(struct conn *c)
{
	uint32_t idx = http_conn_idx(c);
	assert_true(idx < HC_MAX_CLIENTS);
	assert_non_null(g_by_idx[idx]);
	return g_by_idx[idx];
}

static int fx_init(struct lcore_ctx *lc)
{
	(void)lc;
	return 0;
}

static int fx_poll(struct lcore_ctx *lc, uint32_t timeout_ms)
{
	(void)lc;
	(void)timeout_ms;
	return 0;
}

static void fx_send(struct lcore_ctx *lc, struct conn *c)
{
	(void)lc;
	client_of(c)->send_pending = true; /* completed by hc_pump */
}

static void fx_close(struct lcore_ctx *lc, struct conn *c)
{
	(void)lc;
	client_of(c)->closed = true; /* released by hc_pump */
}

static void fx_rx_pause(struct lcore_ctx *lc, struct conn *c, bool paused)
{
	(void)lc;
	client_of(c)->paused = paused;
}

static void fx_nop(struct lcore_ctx *lc)
{
	(void)lc;
}

static const struct xprt_ops fake_xprt = {
	.name = "memory",
	.init = fx_init,
	.poll = fx_poll,
	.send = fx_send,
	.close = fx_close,
	.rx_pause = fx_rx_pause,
	.stop_accept = fx_nop,
	.wake = fx_nop,
	.fini = fx_nop,
};

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

void h_setup(struct harness *h, const char *const *extra, bool with_ctl)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "/tmp/conn_harness_XXXXXX");
	assert_non_null(mkdtemp(h->dir));
	char *argv[32] = {"conn_harness", "--data-dir", h->dir};
	int argc = 3;
	for (; extra && *extra && argc < 31; extra++)
		argv[argc++] = (char *)*extra;
	assert_int_equal(sl_config_parse(&h->cfg, argc, argv), 0);

	char path[160];
	snprintf(path, sizeof(path), "%s/credentials", h->dir);
	write_file(path, "[default]\naws_access_key_id = " HC_KEY_ID
			 "\naws_secret_access_key = " HC_SECRET "\n");
	h->keys = sigv4_keyring_load(path, false);
	assert_non_null(h->keys);
	h->signer = sigv4_signer_new(HC_KEY_ID, HC_SECRET, h->cfg.region, "kinesis");
	assert_non_null(h->signer);

	snprintf(path, sizeof(path), "%s/tls", h->dir);
	assert_int_equal(tls_material_ensure(path, NULL), 0);
	snprintf(h->sh.tls_cert_path, sizeof(h->sh.tls_cert_path), "%s/server.pem", path);
	snprintf(h->sh.tls_key_path, sizeof(h->sh.tls_key_path), "%s/server.key", path);
	h->cctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(h->cctx);
	char ca[200];
	snprintf(ca, sizeof(ca), "%s/ca.pem", path);
	assert_int_equal(SSL_CTX_load_verify_locations(h->cctx, ca, NULL), 1);
	SSL_CTX_set_verify(h->cctx, SSL_VERIFY_PEER, NULL);

	h->sh.cfg = &h->cfg;
	h->sh.keys = h->keys;
	h->sh.n_io = 1;
	h->sh.lcs = &h->lc;
	if (with_ctl) {
		h->sh.ctl = ctl_create(1, NULL, NULL);
		assert_non_null(h->sh.ctl);
	}
	assert_int_equal(lcore_init_xprt(&h->lc, &h->sh, 0, &fake_xprt), 0);
}

void h_teardown(struct harness *h)
{
	lcore_fini(&h->lc);
	if (h->sh.ctl)
		ctl_destroy(h->sh.ctl);
	sigv4_signer_free(h->signer);
	sigv4_keyring_free(h->keys);
	SSL_CTX_free(h->cctx);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
	assert_int_equal(system(cmd), 0);
	memset(g_by_idx, 0, sizeof(g_by_idx));
}

/* Reads what plaintext the client can (running the handshake first). */
static void client_drain(struct hclient *cl)
{
	if (!SSL_is_init_finished(cl->ssl)) {
		int r = SSL_do_handshake(cl->ssl);
		if (r != 1) {
			int e = SSL_get_error(cl->ssl, r);
			assert_true(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE);
			return;
		}
	}
	for (;;) {
		if (cl->in_cap - cl->in_len < 16384) {
			cl->in_cap = cl->in_cap ? cl->in_cap * 2 : 65536;
			cl->in = realloc(cl->in, cl->in_cap);
			assert_non_null(cl->in);
		}
		int n = SSL_read(cl->ssl, cl->in + cl->in_len, (int)(cl->in_cap - cl->in_len));
		if (n <= 0)
			break;
		cl->in_len += (size_t)n;
	}
	ERR_clear_error();
}

void hc_pump(struct hclient *cl)
{
	struct lcore_ctx *lc = &cl->h->lc;
	/* Bounded: every round moves bytes, and tests move at most a few MiB. */
	for (int round = 0; round < 1000000; round++) {
		bool moved = false;
		if (cl->send_pending) {
			uint32_t len;
			const uint8_t *p = http_conn_out_ptr(cl->c, &len);
			assert_int_equal(BIO_write(cl->rbio, p, (int)len), (int)len);
			cl->send_pending = false;
			http_conn_on_sent(lc, cl->c, len);
			moved = true;
		}
		uint8_t buf[32768];
		int lim = cl->chunk ? (int)cl->chunk : (int)sizeof(buf);
		int n;
		if (!cl->closed && !cl->paused && (n = BIO_read(cl->wbio, buf, lim)) > 0) {
			cl->n_recv++;
			http_conn_on_recv(lc, cl->c, buf, (uint32_t)n);
			moved = true;
		}
		client_drain(cl);
		if (cl->closed && !cl->send_pending && !cl->released) {
			cl->released = true;
			http_conn_released(lc, cl->c);
			moved = true;
		}
		if (!moved)
			return;
	}
	fail_msg("hc_pump: bytes kept moving");
}

void hc_open(struct harness *h, struct hclient *cl, const char *alpn, unsigned alpn_len)
{
	memset(cl, 0, sizeof(*cl));
	cl->h = h;
	struct addr_key key;
	http_addr_key_ip4(&key, 0x7f000001);
	cl->c = http_conn_open(&h->lc, -1, 0, &key, "127.0.0.1:40000");
	assert_non_null(cl->c);
	assert_true(http_conn_idx(cl->c) < HC_MAX_CLIENTS);
	g_by_idx[http_conn_idx(cl->c)] = cl;
	cl->ssl = SSL_new(h->cctx);
	assert_non_null(cl->ssl);
	assert_int_equal(SSL_set1_host(cl->ssl, "localhost"), 1);
	assert_int_equal(SSL_set_alpn_protos(cl->ssl, (const unsigned char *)alpn, alpn_len), 0);
	cl->rbio = BIO_new(BIO_s_mem());
	cl->wbio = BIO_new(BIO_s_mem());
	BIO_set_mem_eof_return(cl->rbio, -1);
	SSL_set_bio(cl->ssl, cl->rbio, cl->wbio);
	SSL_set_connect_state(cl->ssl);
	client_drain(cl); /* ClientHello */
	hc_pump(cl);
	assert_true(SSL_is_init_finished(cl->ssl));
	assert_true(http_conn_is_open(cl->c));
}

void hc_free(struct hclient *cl)
{
	if (cl->ssl)
		SSL_free(cl->ssl);
	free(cl->in);
	if (!cl->released && cl->c && http_conn_in_use(cl->c) && cl->closed)
		http_conn_released(&cl->h->lc, cl->c);
	memset(cl, 0, sizeof(*cl));
}

void hc_write(struct hclient *cl, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		int k = (int)(n > 16384 ? 16384 : n);
		assert_int_equal(SSL_write(cl->ssl, b, k), k);
		b += k;
		n -= (size_t)k;
	}
}

bool hc_closed(const struct hclient *cl)
{
	return cl->closed || (SSL_get_shutdown(cl->ssl) & SSL_RECEIVED_SHUTDOWN);
}

/* Case-insensitive search for a header line's value inside head. */
static const char *head_find(const char *head, size_t len, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i + nl + 1 < len; i++) {
		if ((i == 0 || head[i - 1] == '\n') && strncasecmp(head + i, name, nl) == 0 &&
		    head[i + nl] == ':') {
			const char *v = head + i + nl + 1;
			while (*v == ' ')
				v++;
			const char *e = memchr(v, '\r', (size_t)(head + len - v));
			*vlen = e ? (size_t)(e - v) : 0;
			return v;
		}
	}
	return NULL;
}

int hc_h1_response(struct hclient *cl, struct h1_resp *r)
{
	memset(r, 0, sizeof(*r));
	const char *s = (const char *)cl->in;
	const char *end = memmem(s, cl->in_len, "\r\n\r\n", 4);
	if (!end)
		return 0;
	size_t head_len = (size_t)(end - s) + 4, vlen;
	assert_int_equal(strncmp(s, "HTTP/1.1 ", 9), 0);
	r->status = atoi(s + 9);
	const char *cl_v = head_find(s, head_len, "content-length", &vlen);
	assert_non_null(cl_v);
	size_t blen = strtoul(cl_v, NULL, 10);
	if (cl->in_len < head_len + blen)
		return 0;
	const char *conn = head_find(s, head_len, "connection", &vlen);
	r->closes = conn && vlen == 5 && strncasecmp(conn, "close", 5) == 0;
	assert_true(blen < sizeof(r->body));
	memcpy(r->body, s + head_len, blen);
	r->body_len = blen;
	const char *t = strstr(r->body, "\"__type\":\"");
	if (t) {
		t += 10;
		const char *q = strchr(t, '"');
		assert_non_null(q);
		snprintf(r->type, sizeof(r->type), "%.*s", (int)(q - t), t);
	}
	memmove(cl->in, cl->in + head_len + blen, cl->in_len - head_len - blen);
	cl->in_len -= head_len + blen;
	return 1;
}

/* The request's headers: the static storage h_signed_headers hands out. */
static char g_date[17], g_target[96], g_auth[1024];

unsigned h_signed_headers(struct harness *h, const char *method, const char *op, const char *body,
			  bool sign, const char **names, const char **values)
{
	int64_t now_s = (int64_t)time(NULL);
	sigv4_amz_date(now_s, g_date);
	snprintf(g_target, sizeof(g_target), "Kinesis_20131202.%s", op);
	unsigned n = 0;
	names[n] = "host", values[n++] = "localhost";
	names[n] = "x-amz-date", values[n++] = g_date;
	names[n] = "content-type", values[n++] = "application/x-amz-json-1.1";
	names[n] = "x-amz-target", values[n++] = g_target;
	if (!sign)
		return n;
	struct sl_header hdrs[8];
	for (unsigned i = 0; i < n; i++)
		hdrs[i] = (struct sl_header){{names[i], (uint32_t)strlen(names[i])},
					     {values[i], (uint32_t)strlen(values[i])}};
	struct sigv4_request sr = {
		.method = {method, (uint32_t)strlen(method)},
		.path = SL_SLICE_LIT("/"),
		.query = {"", 0},
		.hdrs = hdrs,
		.nhdrs = n,
		.body = (const uint8_t *)body,
		.body_len = (uint32_t)strlen(body),
		.now_s = now_s,
	};
	assert_true(sigv4_sign(h->signer, &sr, NULL, g_auth, sizeof(g_auth)) > 0);
	names[n] = "authorization", values[n++] = g_auth;
	return n;
}

size_t h_request(struct harness *h, char *out, size_t cap, const char *method, const char *op,
		 const char *body, bool sign)
{
	const char *names[8], *values[8];
	unsigned n = h_signed_headers(h, method, op, body, sign, names, values);
	int len = snprintf(out, cap, "%s / HTTP/1.1\r\n", method);
	for (unsigned i = 0; i < n; i++)
		len += snprintf(out + len, cap - (size_t)len, "%s: %s\r\n", names[i], values[i]);
	len += snprintf(out + len, cap - (size_t)len, "content-length: %zu\r\n\r\n%s", strlen(body),
			body);
	assert_true(len > 0 && (size_t)len < cap);
	return (size_t)len;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP/2 connection state machine (http_h2.c, http_h2_mux), driven
 * through the connection's public upcalls over real TLS (ALPN "h2") with an
 * in-memory transport (conn_harness.h) and an nghttp2 client: requests on
 * two streams of one connection, each answered on its own stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "dataplane/http/http_conn.h"

#include "conn_harness.h"

#define ALPN_H2 "\x02h2"

static struct harness g_h;

struct h2_answer {
	int32_t id;
	int status;
	char body[4096];
	size_t body_len;
	bool closed;
};

struct h2_client {
	struct hclient cl;
	nghttp2_session *sess;
	struct h2_answer ans[4];
	unsigned n_ans;
};

static struct h2_answer *answer_of(struct h2_client *k, int32_t id)
{
	for (unsigned i = 0; i < k->n_ans; i++)
		if (k->ans[i].id == id)
			return &k->ans[i];
	return NULL;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
		     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
	(void)s;
	(void)flags;
	struct h2_answer *a = answer_of(ud, f->hd.stream_id);
	if (a && nlen == 7 && memcmp(name, ":status", 7) == 0)
		a->status = atoi(strndupa((const char *)value, vlen));
	return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
		   void *ud)
{
	(void)s;
	(void)flags;
	struct h2_answer *a = answer_of(ud, id);
	if (a && a->body_len + len < sizeof(a->body)) {
		memcpy(a->body + a->body_len, data, len);
		a->body_len += len;
	}
	return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t err, void *ud)
{
	(void)s;
	(void)err;
	struct h2_answer *a = answer_of(ud, id);
	if (a)
		a->closed = true;
	return 0;
}

static void client_open(struct h2_client *k)
{
	memset(k, 0, sizeof(*k));
	hc_open(&g_h, &k->cl, ALPN_H2, sizeof(ALPN_H2) - 1);
	const unsigned char *p;
	unsigned n;
	SSL_get0_alpn_selected(k->cl.ssl, &p, &n);
	assert_int_equal(n, 2);
	assert_memory_equal(p, "h2", 2);
	nghttp2_session_callbacks *cb;
	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	assert_int_equal(nghttp2_session_client_new(&k->sess, cb, k), 0);
	nghttp2_session_callbacks_del(cb);
	assert_int_equal(nghttp2_submit_settings(k->sess, NGHTTP2_FLAG_NONE, NULL, 0), 0);
}

static void client_close(struct h2_client *k)
{
	nghttp2_session_del(k->sess);
	hc_free(&k->cl);
}

/* The client's queued frames onto the wire (not delivered yet). */
static void client_flush(struct h2_client *k)
{
	const uint8_t *data;
	ssize_t n;
	while ((n = nghttp2_session_mem_send(k->sess, &data)) > 0)
		hc_write(&k->cl, data, (size_t)n);
	assert_true(n == 0);
}

/* Client frames out, server answers back, until neither side has more. */
static void exchange(struct h2_client *k)
{
	for (int round = 0; round < 100; round++) {
		bool moved = false;
		const uint8_t *data;
		ssize_t n;
		while ((n = nghttp2_session_mem_send(k->sess, &data)) > 0) {
			hc_write(&k->cl, data, (size_t)n);
			moved = true;
		}
		assert_true(n == 0);
		hc_pump(&k->cl);
		if (k->cl.in_len) {
			assert_int_equal(nghttp2_session_mem_recv(k->sess, k->cl.in, k->cl.in_len),
					 (ssize_t)k->cl.in_len);
			k->cl.in_len = 0;
			moved = true;
		}
		if (!moved)
			return;
	}
	fail_msg("the HTTP/2 exchange did not settle");
}

static int32_t submit(struct h2_client *k, const char *op, const char *body, bool sign)
{
	const char *names[8], *values[8];
	unsigned n = h_signed_headers(&g_h, "POST", op, body, sign, names, values);
	nghttp2_nv nva[12];
	unsigned m = 0;
#define NV(nm, v) (nghttp2_nv){(uint8_t *)(nm), (uint8_t *)(v), strlen(nm), strlen(v), 0}
	nva[m++] = NV(":method", "POST");
	nva[m++] = NV(":scheme", "https");
	nva[m++] = NV(":path", "/");
	nva[m++] = NV(":authority", "localhost");
	for (unsigned i = 0; i < n; i++)
		if (strcmp(names[i], "host") != 0) /* :authority stands for it */
			nva[m++] = NV(names[i], values[i]);
#undef NV
	/* The body follows as one DATA frame (send_body). */
	int32_t id = nghttp2_submit_headers(k->sess, NGHTTP2_FLAG_NONE, -1, NULL, nva, m, NULL);
	assert_true(id > 0);
	assert_true(k->n_ans < 4);
	k->ans[k->n_ans++] = (struct h2_answer){.id = id};
	return id;
}

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
			 nghttp2_data_source *src, void *ud)
{
	(void)s;
	(void)id;
	(void)ud;
	const char *b = src->ptr;
	size_t n = strlen(b);
	assert_true(n <= len);
	memcpy(buf, b, n);
	*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static void send_body(struct h2_client *k, int32_t id, const char *body)
{
	nghttp2_data_provider prd = {.source.ptr = (void *)body, .read_callback = read_body};
	assert_int_equal(nghttp2_submit_data(k->sess, NGHTTP2_FLAG_END_STREAM, id, &prd), 0);
}

static void expect(struct h2_client *k, int32_t id, int status, const char *type)
{
	struct h2_answer *a = answer_of(k, id);
	assert_non_null(a);
	assert_true(a->closed);
	assert_int_equal(a->status, status);
	a->body[a->body_len] = 0;
	char want[160];
	snprintf(want, sizeof(want), "\"__type\":\"%s\"", type);
	if (!strstr(a->body, want))
		fail_msg("stream %d: %s lacks %s", id, a->body, want);
}

static int setup(void **state)
{
	(void)state;
	h_setup(&g_h, NULL, false);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h_teardown(&g_h);
	return 0;
}

/* Two streams open at once, their bodies sent interleaved (the second's
 * first): each gets its own answer, and the connection stays open. */
static void test_two_streams(void **state)
{
	(void)state;
	struct h2_client k;
	client_open(&k);
	exchange(&k); /* SETTINGS both ways */
	static const char body[] = "{}";
	int32_t a = submit(&k, "NoSuchOperation", body, true);
	int32_t b = submit(&k, "ListStreams", body, false);
	client_flush(&k); /* both HEADERS first: the streams exist */
	send_body(&k, b, body);
	send_body(&k, a, body);
	exchange(&k);
	expect(&k, a, 400, "UnknownOperationException");
	expect(&k, b, 400, "MissingAuthenticationTokenException");
	assert_true(http_conn_is_open(k.cl.c));
	assert_int_equal(g_h.lc.n_requests, 2);

	/* A third stream later on the same connection. */
	int32_t c = submit(&k, "NoSuchOperation", body, true);
	client_flush(&k);
	send_body(&k, c, body);
	exchange(&k);
	expect(&k, c, 400, "UnknownOperationException");
	assert_true(http_conn_is_open(k.cl.c));
	client_close(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_streams, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

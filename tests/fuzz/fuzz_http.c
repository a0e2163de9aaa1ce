/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for dataplane/http/http_parse.c. Parses the whole input
 * and every prefix of it (each from an exact-size heap copy, so ASan sees any
 * read past len), and checks that results are consistent: a prefix either
 * needs more bytes or yields exactly the whole input's result, and every
 * slice lies inside the head. Then feeds the input to the resumable parser in
 * pseudo-random pieces (sizes drawn from a PRNG seeded by the input) and
 * checks that after each piece it answers exactly as a one-shot parse of the
 * same prefix, and that past its first look its scanner never needed a full
 * parse to say "need more". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/http/http.h"
#include "dataplane/http/http_cors.h"

#define MAX_HDRS 16u
#define MAX_PREFIX_SCAN 4096u

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c))                                                     \
			abort();                                              \
	} while (0)

static void check_slice(struct sl_slice s, const char *buf, int head)
{
	CHECK(s.ptr >= buf && s.ptr + s.len <= buf + head);
}

static void check_req(const struct http_req *r, const char *buf, int head,
		      const struct sl_header *hdrs)
{
	check_slice(r->method, buf, head);
	check_slice(r->target, buf, head);
	check_slice(r->path, buf, head);
	CHECK(r->query.ptr >= buf && r->query.ptr + r->query.len <= buf + head);
	CHECK(r->method.len > 0 && r->target.len > 0);
	CHECK(r->path.len <= r->target.len && r->version_minor <= 1);
	CHECK(r->hdrs == hdrs && r->nhdrs <= MAX_HDRS);
	for (uint32_t i = 0; i < r->nhdrs; i++) {
		check_slice(hdrs[i].name, buf, head);
		check_slice(hdrs[i].value, buf, head);
		CHECK(hdrs[i].name.len > 0);
	}
	CHECK(!(r->chunked && r->has_content_length));
	CHECK(!r->has_content_length ||
	      sl_header_find(hdrs, r->nhdrs, "content-length") != NULL);
	CHECK(!r->has_content_length || r->content_length <= (UINT64_C(1) << 53));
}

/* CORS over the parsed headers (dataplane/http/http_cors.c), for each kind
 * of --cors-origins: every header it adds has a known name and a value that
 * lies in the head or in the configuration (or is one of its constants); the
 * Allow-Origin value is "*" or a whole entry of the list. */
static void check_cors(const struct http_req *r, const char *buf, int head)
{
	static const char *const lists[] = { "*", "https://a.example, https://b.example:8443",
					     "", "null,https://a.example" };
	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
		const char *o = lists[l];
		struct sl_slice allow = http_cors_allow(o, r->hdrs, r->nhdrs);
		CHECK(allow.len == 0 || (allow.len == 1 && allow.ptr[0] == '*') ||
		      (allow.ptr >= o && allow.ptr + allow.len <= o + strlen(o)));
		for (int pf = 0; pf < 2; pf++) {
			struct sl_header out[HTTP_CORS_HDRS_MAX];
			uint32_t n = http_cors_headers(allow, r->hdrs, r->nhdrs, pf, pf, out);
			CHECK(n <= HTTP_CORS_HDRS_MAX && (n == 0) == (allow.len == 0));
			for (uint32_t i = 0; i < n; i++) {
				CHECK(out[i].name.len > 0 && out[i].value.len > 0);
				const char *v = out[i].value.ptr;
				CHECK((v >= buf && v + out[i].value.len <= buf + head) ||
				      v == allow.ptr || strlen(v) >= out[i].value.len);
			}
		}
	}
}

static int parse_copy(const uint8_t *data, size_t n, uint32_t max_head, struct http_req *r,
		      struct sl_header *hdrs)
{
	char *p = malloc(n ? n : 1);
	int rc;

	CHECK(p);
	memcpy(p, data, n);
	rc = http_parse_request(p, n, r, hdrs, MAX_HDRS, max_head);
	if (rc > 0) {
		check_req(r, p, rc, hdrs);
		check_cors(r, p, rc);
	}
	free(p);
	return rc;
}

/* The resumed path, over a fresh exact-size copy of each prefix (the buffer
 * moves every call, as a connection's may). */
static void check_resume(const uint8_t *data, size_t size, uint32_t max_head,
			 struct sl_header *hdrs)
{
	static struct sl_header h1[MAX_HDRS];
	struct http_parse_state st;
	struct http_req r, r1;
	uint64_t x = 0x9e3779b97f4a7c15ull ^ size;
	size_t len = 0;
	int rc = HTTP_NEED_MORE;

	for (size_t i = 0; i < size; i++)
		x = (x ^ data[i]) * 0x100000001b3ull;
	http_parse_state_init(&st);
	/* The first piece: empty or short (then the scanner sees it all), or
	 * the whole input (then the first look answers). */
	len = (x & 3) == 0 ? size : (x & 3) == 1 ? 0 : (size_t)(x >> 8) % 64;
	if (len > size)
		len = size;
	while (rc == HTTP_NEED_MORE) {
		char *p = malloc(len ? len : 1);
		int one;

		CHECK(p);
		memcpy(p, data, len);
		rc = http_parse_request_resume(p, len, &st, &r, hdrs, MAX_HDRS, max_head);
		one = http_parse_request(p, len, &r1, h1, MAX_HDRS, max_head);
		CHECK(rc == one);
		/* The first look, then a full parse only at the answer. */
		CHECK(rc != HTTP_NEED_MORE || st.full_parses == 1);
		CHECK(st.full_parses <= 2);
		if (rc > 0) {
			check_req(&r, p, rc, hdrs);
			CHECK(r.nhdrs == r1.nhdrs && r.content_length == r1.content_length &&
			      r.keep_alive == r1.keep_alive && r.method.ptr == r1.method.ptr);
		}
		free(p);
		if (len == size)
			break;
		/* xorshift64: mostly tiny pieces (the trickle), sometimes big. */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		len += (x & 3) ? 1 + (x >> 8) % 4 : 1 + (x >> 8) % 512;
		if (len > size)
			len = size;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sl_header hdrs[MAX_HDRS];
	struct http_req r;
	/* The first byte picks a small head cap now and then, to reach 431. */
	uint32_t max_head = size && data[0] == 'P' ? 96 : 8192;
	int full, prev = HTTP_NEED_MORE;

	full = http_parse_request((const char *)data, size, &r, hdrs, MAX_HDRS, max_head);
	CHECK(full == HTTP_NEED_MORE || full > 0 || full == HTTP_E_BAD ||
	      full == HTTP_E_HEAD_TOO_LARGE || full == HTTP_E_VERSION ||
	      full == HTTP_E_NOT_IMPL);
	if (full > 0) {
		CHECK((size_t)full <= size && (uint32_t)full <= max_head);
		check_req(&r, (const char *)data, full, hdrs);
		/* Pipelined: whatever follows parses in bounds too. */
		parse_copy(data + full, size - (size_t)full, max_head, &r, hdrs);
	}
	check_resume(data, size, max_head, hdrs);
	if (size > MAX_PREFIX_SCAN)
		return 0;
	for (size_t n = 0; n <= size; n++) {
		int rc = parse_copy(data, n, max_head, &r, hdrs);

		CHECK(rc == HTTP_NEED_MORE || rc == full);
		/* Once decided, every longer prefix gives the same answer. */
		CHECK(prev == HTTP_NEED_MORE || rc == prev);
		prev = rc;
	}
	return 0;
}

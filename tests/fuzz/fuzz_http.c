/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for dataplane/http/http_parse.c. Parses the whole input
 * and every prefix of it (each from an exact-size heap copy, so ASan sees any
 * read past len), and checks that results are consistent: a prefix either
 * needs more bytes or yields exactly the whole input's result, and every
 * slice lies inside the head. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/http/http.h"

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

static int parse_copy(const uint8_t *data, size_t n, uint32_t max_head, struct http_req *r,
		      struct sl_header *hdrs)
{
	char *p = malloc(n ? n : 1);
	int rc;

	CHECK(p);
	memcpy(p, data, n);
	rc = http_parse_request(p, n, r, hdrs, MAX_HDRS, max_head);
	if (rc > 0)
		check_req(r, p, rc, hdrs);
	free(p);
	return rc;
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

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for dataplane/http/http_cors.c: which origins --cors-origins
 * allows (whole entries only, byte for byte), and the headers of ordinary
 * and preflight answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/http/http_cors.h"

#define S(lit) ((struct sl_slice){ (lit), sizeof(lit) - 1 })

static bool slice_is(struct sl_slice s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

static const char *find(const struct sl_header *h, uint32_t n, const char *name)
{
	static char v[512];
	for (uint32_t i = 0; i < n; i++)
		if (slice_is(h[i].name, name)) {
			snprintf(v, sizeof(v), "%.*s", (int)h[i].value.len, h[i].value.ptr);
			return v;
		}
	return NULL;
}

static void test_match(void **state)
{
	(void)state;
	const char *list = " https://a.example ,https://b.example:8443,, null";
	assert_true(slice_is(http_cors_match("*", S("https://x.example")), "*"));
	assert_true(slice_is(http_cors_match("https://a.example,*", S("https://x")), "*"));
	assert_true(slice_is(http_cors_match(list, S("https://a.example")), "https://a.example"));
	assert_true(slice_is(http_cors_match(list, S("https://b.example:8443")),
			     "https://b.example:8443"));
	assert_true(slice_is(http_cors_match(list, S("null")), "null"));
	/* Prefixes, extensions, another port or case: not the same origin. */
	assert_int_equal(http_cors_match(list, S("https://a.exampl")).len, 0);
	assert_int_equal(http_cors_match(list, S("https://a.example.evil")).len, 0);
	assert_int_equal(http_cors_match(list, S("https://b.example")).len, 0);
	assert_int_equal(http_cors_match(list, S("HTTPS://A.EXAMPLE")).len, 0);
	assert_int_equal(http_cors_match(list, S("")).len, 0);
	assert_int_equal(http_cors_match("", S("https://a.example")).len, 0);
}

static void test_headers(void **state)
{
	(void)state;
	struct sl_header req[] = {
		{ S("Host"), S("x") },
		{ S("Origin"), S("https://b.example:8443") },
		{ S("Access-Control-Request-Method"), S("POST") },
		{ S("Access-Control-Request-Headers"), S("content-type,x-amz-target") },
	};
	struct sl_header out[HTTP_CORS_HDRS_MAX];
	const char *list = "https://a.example,https://b.example:8443";

	/* No Origin, or CORS off: nothing. */
	assert_int_equal(http_cors_allow(list, req, 1).len, 0);
	assert_int_equal(http_cors_allow("", req, 4).len, 0);
	assert_int_equal(http_cors_headers(http_cors_allow("", req, 4), req, 4, true, false, out),
			 0);

	/* Ordinary answer, named origin: echoed, with Vary. */
	struct sl_slice allow = http_cors_allow(list, req, 4);
	uint32_t n = http_cors_headers(allow, req, 4, false, false, out);
	assert_int_equal(n, 3);
	assert_string_equal(find(out, n, "Access-Control-Allow-Origin"), "https://b.example:8443");
	assert_string_equal(find(out, n, "Vary"), "Origin");
	assert_string_equal(find(out, n, "Access-Control-Expose-Headers"), HTTP_CORS_EXPOSE);
	assert_null(find(out, n, "Access-Control-Allow-Methods"));

	/* Preflight, "*", HTTP/2 names. */
	allow = http_cors_allow("*", req, 4);
	n = http_cors_headers(allow, req, 4, true, true, out);
	assert_int_equal(n, 5);
	assert_string_equal(find(out, n, "access-control-allow-origin"), "*");
	assert_null(find(out, n, "vary"));
	assert_string_equal(find(out, n, "access-control-allow-methods"), "POST");
	assert_string_equal(find(out, n, "access-control-allow-headers"),
			    "content-type,x-amz-target");
	assert_string_equal(find(out, n, "access-control-max-age"), "172800");

	/* A preflight that asked for no headers gets no Allow-Headers. */
	n = http_cors_headers(allow, req, 3, true, false, out);
	assert_int_equal(n, 4);
	assert_null(find(out, n, "Access-Control-Allow-Headers"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

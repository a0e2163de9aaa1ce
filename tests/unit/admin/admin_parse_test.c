/* SPDX-License-Identifier: Apache-2.0 */
/* The admin listener's head parser (admin/admin_parse.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "admin/admin_parse.h"

static int parse(const char *s, struct admin_req *r)
{
	return admin_parse(s, strlen(s), r);
}

static void test_get(void **state)
{
	(void)state;
	struct admin_req r;
	const char *h = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nACCEPT:  application/openmetrics-text \r\n"
			"authorization: Bearer t0k\r\n\r\nextra";
	assert_int_equal(parse(h, &r), (int)(strstr(h, "extra") - h));
	assert_string_equal(r.method, "GET");
	assert_string_equal(r.path, "/metrics");
	assert_string_equal(r.accept, "application/openmetrics-text");
	assert_string_equal(r.auth, "Bearer t0k");
	assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &r), 18);
	assert_string_equal(r.accept, "");
}

static void test_incomplete_and_bad(void **state)
{
	(void)state;
	struct admin_req r;
	assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: a\r\n", &r), 0);
	assert_int_equal(parse("", &r), 0);
	assert_int_equal(parse("GET metrics HTTP/1.1\r\n\r\n", &r), -EINVAL);
	assert_int_equal(parse("GET /m HTTP/2.0\r\n\r\n", &r), -EINVAL);
	assert_int_equal(parse("GET /m HTTP/1.1\r\nno colon\r\n\r\n", &r), -EINVAL);
	assert_int_equal(parse("GET /m HTTP/1.1\r\nA: \x01\r\n\r\n", &r), -EINVAL);
	assert_int_equal(parse("VERYLONGMETHOD / HTTP/1.1\r\n\r\n", &r), -EINVAL);
	assert_int_equal(parse("\r\n\r\n", &r), -EINVAL);
}

static void test_bounds(void **state)
{
	(void)state;
	struct admin_req r;
	static char big[ADMIN_HEAD_MAX + 64];
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	assert_int_equal(admin_parse(big, sizeof(big), &r), -EMSGSIZE);
	assert_int_equal(admin_parse(big, ADMIN_HEAD_MAX - 1, &r), 0);
	/* An Authorization longer than the field never matches a token. */
	static char h[2048];
	int n = snprintf(h, sizeof(h), "GET / HTTP/1.1\r\nAuthorization: Bearer %0900d\r\n\r\n", 0);
	assert_int_equal(admin_parse(h, (size_t)n, &r), n);
	assert_true(r.auth_too_long);
	assert_string_equal(r.auth, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_incomplete_and_bad),
		cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

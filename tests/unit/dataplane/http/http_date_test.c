/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for dataplane/http/http_date.c: the IMF-fixdate text, and that
 * it is formatted once per second, not once per call (per response). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <errno.h>

#include <cmocka.h>

#include "dataplane/http/http.h"

static void test_format(void **state)
{
	struct http_date d = { 0 };

	(void)state;
	/* RFC 9110 §5.6.7's own example. */
	assert_int_equal(http_date_update(&d, 784111777), 1);
	assert_string_equal(d.str, "Sun, 06 Nov 1994 08:49:37 GMT");
	assert_int_equal(d.len, HTTP_DATE_LEN);
	assert_int_equal(http_date_update(&d, 0), 1);
	assert_string_equal(d.str, "Thu, 01 Jan 1970 00:00:00 GMT");
	assert_int_equal(http_date_update(&d, 951782400), 1); /* leap day */
	assert_string_equal(d.str, "Tue, 29 Feb 2000 00:00:00 GMT");
	assert_int_equal(http_date_update(&d, 253402300799), 1);
	assert_string_equal(d.str, "Fri, 31 Dec 9999 23:59:59 GMT");
	/* Year 10000 does not fit: the previous value stays. */
	assert_int_equal(http_date_update(&d, 253402300800), 0);
	assert_string_equal(d.str, "Fri, 31 Dec 9999 23:59:59 GMT");
	struct http_date e = { 0 };
	assert_int_equal(http_date_update(&e, 253402300800), -EINVAL);
	assert_int_equal(e.len, 0);
}

/* A million responses within one second format the date once; the next
 * second formats it again. */
static void test_once_per_second(void **state)
{
	struct http_date d = { 0 };

	(void)state;
	for (int i = 0; i < 1000000; i++)
		assert_true(http_date_update(&d, 1700000000) >= 0);
	assert_int_equal(d.n_formatted, 1);
	assert_string_equal(d.str, "Tue, 14 Nov 2023 22:13:20 GMT");
	assert_int_equal(http_date_update(&d, 1700000001), 1);
	assert_int_equal(d.n_formatted, 2);
	assert_string_equal(d.str, "Tue, 14 Nov 2023 22:13:21 GMT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_once_per_second),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

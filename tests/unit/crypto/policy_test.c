/* SPDX-License-Identifier: Apache-2.0 */
/* crypto/policy.c: a pattern is kept whole or the policy is refused (issue
 * 11 requirement 3: every JSON string read into a fixed buffer checks the
 * unescape result). A 512-byte pattern used to be cut to 511 bytes and a
 * \u0000 to end it early, both silently: the statement then matched other
 * resources than written. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/policy.h"

static struct policy *parse_resource(const char *resource)
{
	static char doc[4096];
	char why[256] = "";

	snprintf(doc, sizeof(doc), "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"kinesis:*\","
		 "\"Resource\":\"%s\"}]}", resource);
	struct policy *p = policy_parse(doc, strlen(doc), why, sizeof(why));
	if (p == NULL)
		assert_non_null(strstr(why, "at most 511 bytes"));
	return p;
}

static void test_pattern_whole_or_refused(void **state)
{
	static const char base[] = "arn:aws:kinesis:us-east-1:000000000000:stream/";
	char pat[600];
	struct policy *p;

	(void)state;
	/* 511 bytes: kept whole, trailing '*' included */
	memset(pat, 'a', sizeof(pat));
	memcpy(pat, base, sizeof(base) - 1);
	pat[510] = '*';
	pat[511] = '\0';
	p = parse_resource(pat);
	assert_non_null(p);
	char arn[600];
	memcpy(arn, pat, 510);
	strcpy(arn + 510, "-more");
	assert_int_equal(policy_eval(p, "kinesis:DescribeStream", arn), POLICY_ALLOW);
	policy_free(p);
	/* 512 bytes: refused (was: cut to 511, the '*' lost) */
	pat[510] = 'a';
	pat[511] = '*';
	pat[512] = '\0';
	errno = 0;
	assert_null(parse_resource(pat));
	assert_int_equal(errno, EINVAL);
	/* a \u0000 inside: refused (was: "...stream/a" only) */
	assert_null(parse_resource("arn:aws:kinesis:us-east-1:000000000000:stream/a\\u0000*"));
	/* escapes that decode within bounds are fine */
	p = parse_resource("arn:aws:kinesis:us-east-1:000000000000:stream/\\u00e9*");
	assert_non_null(p);
	assert_int_equal(policy_eval(p, "kinesis:PutRecord",
				     "arn:aws:kinesis:us-east-1:000000000000:stream/\xc3\xa9x"),
			 POLICY_ALLOW);
	policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pattern_whole_or_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

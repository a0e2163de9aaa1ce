/* SPDX-License-Identifier: Apache-2.0 */
/* crypto/policy.c: a pattern is kept whole or the policy is refused (issue
 * 11 requirement 3: every JSON string read into a fixed buffer checks the
 * unescape result). A 512-byte pattern used to be cut to 511 bytes and a
 * \u0000 to end it early, both silently: the statement then matched other
 * resources than written. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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


#define ACCT "000000000000"
#define ALICE "arn:aws:iam::" ACCT ":user/AKIAALICE"
#define BOB "arn:aws:iam::" ACCT ":user/AKIABOB"
#define S1 "arn:aws:kinesis:us-east-1:" ACCT ":stream/s1"
#define S2 "arn:aws:kinesis:us-east-1:" ACCT ":stream/s2"

static const struct policy_caller alice = { ALICE, ACCT };
static const struct policy_caller bob = { BOB, ACCT };

static struct policy *res(const char *doc)
{
	char why[256] = "";
	struct policy *p = policy_parse_resource(doc, strlen(doc), why, sizeof(why));
	if (!p)
		fail_msg("%s: %s", doc, why);
	return p;
}

static struct policy *ident(const char *doc)
{
	char why[256] = "";
	struct policy *p = policy_parse(doc, strlen(doc), why, sizeof(why));
	if (!p)
		fail_msg("%s: %s", doc, why);
	return p;
}

/* Principal matching: the user's ARN or "*" grant; the account (bare or
 * :root) only delegates for an Allow but binds for a Deny; principals
 * match exactly (no wildcards besides "*" alone). */
static void test_resource_principals(void **state)
{
	(void)state;
	struct policy *p = res("{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\""
			       ALICE "\"},\"Action\":\"kinesis:Get*\",\"Resource\":\"" S1 "\"}}");
	assert_int_equal(policy_eval_resource(p, &alice, "kinesis:GetRecords", S1), POLICY_ALLOW);
	assert_int_equal(policy_eval_resource(p, &alice, "kinesis:PutRecord", S1),
			 POLICY_IMPLICIT_DENY);
	assert_int_equal(policy_eval_resource(p, &alice, "kinesis:GetRecords", S2),
			 POLICY_IMPLICIT_DENY);
	assert_int_equal(policy_eval_resource(p, &bob, "kinesis:GetRecords", S1),
			 POLICY_IMPLICIT_DENY);
	assert_false(policy_has_deny(p));
	policy_free(p);

	p = res("{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kinesis:*\","
		"\"Resource\":\"*\"}]}");
	assert_int_equal(policy_eval_resource(p, &bob, "kinesis:PutRecord", S2), POLICY_ALLOW);
	policy_free(p);

	/* the account: an Allow delegates (grants nothing), a Deny binds */
	p = res("{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"" ACCT "\","
		"\"arn:aws:iam::" ACCT ":root\"]},\"Action\":\"kinesis:*\",\"Resource\":\"*\"}]}");
	assert_int_equal(policy_eval_resource(p, &alice, "kinesis:PutRecord", S1),
			 POLICY_IMPLICIT_DENY);
	policy_free(p);
	p = res("{\"Statement\":[{\"Effect\":\"Deny\",\"Principal\":{\"AWS\":\"arn:aws:iam::" ACCT
		":root\"},\"Action\":\"kinesis:Put*\",\"Resource\":\"*\"}]}");
	assert_int_equal(policy_eval_resource(p, &alice, "kinesis:PutRecords", S1),
			 POLICY_EXPLICIT_DENY);
	assert_true(policy_has_deny(p));
	policy_free(p);

	/* no wildcard principals other than "*" itself; another account never */
	p = res("{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":["
		"\"arn:aws:iam::" ACCT ":user/*\",\"111111111111\","
		"\"arn:aws:iam::111111111111:user/AKIAALICE\"]},"
		"\"Action\":\"kinesis:*\",\"Resource\":\"*\"}]}");
	assert_int_equal(policy_eval_resource(p, &alice, "kinesis:PutRecord", S1),
			 POLICY_IMPLICIT_DENY);
	policy_free(p);
}

/* The two together, as IAM decides within one account. */
static void test_decide(void **state)
{
	(void)state;
	struct policy *only_s2 = ident("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"kinesis:*\","
				       "\"Resource\":\"" S2 "\"}]}");
	struct policy *all = ident("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\","
				   "\"Resource\":\"*\"}]}");
	struct policy *deny_put = ident("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\","
					"\"Resource\":\"*\"},{\"Effect\":\"Deny\",\"Action\":"
					"\"kinesis:PutRecord\",\"Resource\":\"" S1 "\"}]}");
	struct policy *grant = res("{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\""
				   ALICE "\"},\"Action\":\"kinesis:*Record*\",\"Resource\":\"" S1
				   "\"}]}");
	struct policy *deny = res("{\"Statement\":[{\"Effect\":\"Deny\",\"Principal\":\"*\","
				  "\"Action\":\"kinesis:GetRecords\",\"Resource\":\"" S1 "\"}]}");
	struct policy_decision d;

	/* no policies at all: a full-access key */
	d = policy_decide(NULL, NULL, &alice, "kinesis:DeleteStream", S1);
	assert_int_equal(d.verdict, POLICY_ALLOW);
	assert_int_equal(d.by, POLICY_BY_NONE);
	/* identity says nothing about s1, the resource policy grants */
	d = policy_decide(only_s2, NULL, &alice, "kinesis:PutRecord", S1);
	assert_int_equal(d.verdict, POLICY_IMPLICIT_DENY);
	d = policy_decide(only_s2, grant, &alice, "kinesis:PutRecord", S1);
	assert_int_equal(d.verdict, POLICY_ALLOW);
	assert_int_equal(d.by, POLICY_BY_RESOURCE);
	/* ... to alice only, for its actions only */
	assert_int_equal(policy_decide(only_s2, grant, &bob, "kinesis:PutRecord", S1).verdict,
			 POLICY_IMPLICIT_DENY);
	assert_int_equal(policy_decide(only_s2, grant, &alice, "kinesis:DeleteStream", S1).verdict,
			 POLICY_IMPLICIT_DENY);
	/* an explicit Deny in either wins over an Allow in the other */
	d = policy_decide(all, deny, &alice, "kinesis:GetRecords", S1);
	assert_int_equal(d.verdict, POLICY_EXPLICIT_DENY);
	assert_int_equal(d.by, POLICY_BY_RESOURCE);
	d = policy_decide(NULL, deny, &alice, "kinesis:GetRecords", S1); /* full access too */
	assert_int_equal(d.verdict, POLICY_EXPLICIT_DENY);
	d = policy_decide(deny_put, grant, &alice, "kinesis:PutRecord", S1);
	assert_int_equal(d.verdict, POLICY_EXPLICIT_DENY);
	assert_int_equal(d.by, POLICY_BY_IDENTITY);
	assert_int_equal(policy_decide(deny_put, grant, &alice, "kinesis:PutRecords", S1).verdict,
			 POLICY_ALLOW);
	/* the resource policy is only about its resource */
	assert_int_equal(policy_decide(all, deny, &alice, "kinesis:GetRecords", S2).verdict,
			 POLICY_ALLOW);
	policy_free(only_s2);
	policy_free(all);
	policy_free(deny_put);
	policy_free(grant);
	policy_free(deny);
}

static void refused(bool resource, const char *doc, const char *why_part)
{
	char why[256] = "";
	struct policy *p = resource ? policy_parse_resource(doc, strlen(doc), why, sizeof(why))
				    : policy_parse(doc, strlen(doc), why, sizeof(why));
	if (p)
		fail_msg("accepted: %s", doc);
	assert_int_equal(errno, EINVAL);
	if (!strstr(why, why_part))
		fail_msg("%s: why '%s' lacks '%s'", doc, why, why_part);
}

/* What is not understood is refused with a reason, never ignored. */
static void test_refused(void **state)
{
	(void)state;
	char big[8192];
	int n = snprintf(big, sizeof(big), "{\"Statement\":[");
	for (int i = 0; i < POLICY_MAX_STATEMENTS + 1; i++)
		n += snprintf(big + n, sizeof(big) - (size_t)n, "%s{\"Effect\":\"Allow\","
			      "\"Principal\":\"*\",\"Action\":\"a\",\"Resource\":\"r\"}",
			      i ? "," : "");
	snprintf(big + n, sizeof(big) - (size_t)n, "]}");
	refused(true, big, "too many statements");
	refused(true, "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"a\","
		"\"Resource\":\"r\",\"Condition\":{\"StringEquals\":{\"aws:SourceVpc\":\"v\"}}}]}",
		"Condition is not supported (operator 'StringEquals', key 'aws:SourceVpc')");
	/* identity policies too: an ignored Condition would grant more */
	refused(false, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"a\",\"Resource\":\"r\","
		"\"Condition\":{}}]}", "Condition is not supported");
	refused(false, "{\"Statement\":[{\"Effect\":\"Allow\",\"NotAction\":\"a\",\"Action\":\"b\","
		"\"Resource\":\"r\"}]}", "statement member 'NotAction' is not supported");
	refused(false, "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"b\","
		"\"Resource\":\"r\"}]}", "statement member 'Principal' is not supported");
	refused(true, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"b\",\"Resource\":\"r\"}]}",
		"needs Effect, Principal, Action and Resource");
	refused(true, "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"x\"},"
		"\"Action\":\"b\",\"Resource\":\"r\"}]}", "Principal must be");
	refused(true, "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"someone\","
		"\"Action\":\"b\",\"Resource\":\"r\"}]}", "Principal must be");
	refused(true, "{\"Statement\":[{\"Effect\":\"allow\",\"Principal\":\"*\","
		"\"Action\":\"b\",\"Resource\":\"r\"}]}", "Effect must be Allow or Deny");
	refused(true, "[]", "not a JSON object");
	refused(true, "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[]},"
		"\"Action\":\"b\",\"Resource\":\"r\"}]}", "Principal must be");
	/* Sid and Version are fine */
	struct policy *p = res("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"x\","
			       "\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"*\"},\"Action\":\"b\","
			       "\"Resource\":\"r\"}]}");
	assert_int_equal(policy_eval_resource(p, &bob, "b", "r"), POLICY_ALLOW);
	policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pattern_whole_or_refused),
		cmocka_unit_test(test_resource_principals),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

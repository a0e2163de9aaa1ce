/* SPDX-License-Identifier: Apache-2.0 */
/* dataplane/quota: the large-record burst of the write-bytes bucket
 * (quota_take_burst) next to quota_take. Buckets hold milli-tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dataplane/quota/quota.h"

#define MIB (1u << 20)

static void test_burst(void **state)
{
	(void)state;
	const int64_t full = (int64_t)MIB * 1000; /* one second at 1 MiB/s */
	int64_t b = full;

	/* A record within a second of tokens takes them as quota_take does. */
	assert_true(quota_take_burst(&b, 1000, MIB));
	assert_true(b == full - 1000 * 1000);
	/* Not full: a large record waits; it never fits otherwise. */
	assert_false(quota_take_burst(&b, 8 * MIB, MIB));
	assert_true(b == full - 1000 * 1000);
	/* Full: the large record is admitted, into 7 seconds of debt... */
	b = full;
	assert_true(quota_take_burst(&b, 8 * MIB, MIB));
	assert_true(b == full - (int64_t)8 * MIB * 1000);
	/* ... during which nothing else is taken, small or large. */
	assert_false(quota_take_burst(&b, 1, MIB));
	assert_false(quota_take_burst(&b, 8 * MIB, MIB));
	assert_false(quota_take(&b, 1));
	/* A record of exactly one second fits a full bucket without debt. */
	b = full;
	assert_true(quota_take_burst(&b, MIB, MIB));
	assert_true(b == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

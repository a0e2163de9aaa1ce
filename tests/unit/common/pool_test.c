/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/pool.h: reuse without malloc, the bound, forget. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "common/pool.h"

static void test_init(void **state)
{
	struct sl_pool p;

	(void)state;
	assert_int_equal(sl_pool_init(&p, "t", 2, 4, 4), -EINVAL);
	assert_int_equal(sl_pool_init(&p, "t", 64, 0, 0), -EINVAL);
	assert_int_equal(sl_pool_init(&p, "t", 64, 4, 5), -EINVAL);
	assert_int_equal(sl_pool_init(&p, "t", 64, 4, 4), 0);
	assert_int_equal(sl_pool_in_use(&p), 0);
	sl_pool_fini(&p);
}

/* A request per get/put pair: after the first, no object is made. */
static void test_reuse(void **state)
{
	struct sl_pool p;

	(void)state;
	assert_int_equal(sl_pool_init(&p, "t", 4096, 8, 8), 0);
	for (int i = 0; i < 100000; i++) {
		char *a = sl_pool_get(&p), *b = sl_pool_zget(&p);

		assert_non_null(a);
		assert_non_null(b);
		assert_int_equal(b[0] | b[4095], 0);
		a[0] = b[4095] = 1;
		sl_pool_put(&p, a);
		sl_pool_put(&p, b);
	}
	assert_int_equal(p.n_made, 2);
	assert_int_equal(p.n_live, 2);
	assert_int_equal(sl_pool_in_use(&p), 0);
	sl_pool_put(&p, NULL); /* no-op */
	sl_pool_fini(&p);
}

/* n_max objects out: the next get is refused (and counted) until one comes
 * back; forget makes room for a new one. */
static void test_bound(void **state)
{
	struct sl_pool p;
	void *o[4];

	(void)state;
	assert_int_equal(sl_pool_init(&p, "t", 128, 4, 4), 0);
	for (int i = 0; i < 4; i++)
		assert_non_null(o[i] = sl_pool_get(&p));
	assert_null(sl_pool_get(&p));
	assert_int_equal(p.n_exhausted, 1);
	assert_int_equal(sl_pool_in_use(&p), 4);
	sl_pool_put(&p, o[3]);
	assert_ptr_equal(sl_pool_get(&p), o[3]); /* LIFO: the warm one */
	/* The user freed o[0] itself (as realloc would). */
	free(o[0]);
	sl_pool_forget(&p);
	assert_int_equal(sl_pool_in_use(&p), 3);
	assert_non_null(o[0] = sl_pool_get(&p));
	assert_int_equal(p.n_made, 5);
	assert_null(sl_pool_get(&p));
	for (int i = 1; i < 4; i++)
		sl_pool_put(&p, o[i]);
	assert_int_equal(sl_pool_fini(&p), 1); /* o[0] is still out */
	free(o[0]);
}

/* Idle objects past n_keep are freed on put, so a burst leaves at most
 * n_keep behind. */
static void test_keep(void **state)
{
	struct sl_pool p;
	void *o[6];

	(void)state;
	assert_int_equal(sl_pool_init(&p, "t", 128, 6, 2), 0);
	for (int i = 0; i < 6; i++)
		assert_non_null(o[i] = sl_pool_get(&p));
	for (int i = 0; i < 6; i++)
		sl_pool_put(&p, o[i]);
	assert_int_equal(p.n_free, 2);
	assert_int_equal(p.n_live, 2);
	assert_int_equal(sl_pool_in_use(&p), 0);
	sl_pool_fini(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_keep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

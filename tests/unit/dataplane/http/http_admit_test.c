/* SPDX-License-Identifier: Apache-2.0 */
/* dataplane/http/http_admit.c: the buffered-bytes budget (both ceilings, exact
 * refusal, nothing charged on refusal, peak) and the per-address count
 * (limit, IPv6 per /64, IPv4-mapped, and a churn run against a reference
 * model so backward-shift deletion never loses or duplicates an address). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/http/http_admit.h"

static void test_budget_ceilings(void **state)
{
	(void)state;
	struct mem_budget b = { .max_bytes = 100, .conn_max_bytes = 60 };
	uint64_t c1 = 0, c2 = 0;
	assert_int_equal(http_mb_charge(&b, &c1, 60), 0);
	/* the connection's own ceiling */
	assert_int_equal(http_mb_charge(&b, &c1, 1), -ENOBUFS);
	assert_int_equal(c1, 60);
	assert_int_equal(http_mb_headroom(&b, c2), 40);
	/* the lcore's ceiling, refused whole: nothing charged */
	assert_int_equal(http_mb_charge(&b, &c2, 41), -ENOBUFS);
	assert_int_equal(c2, 0);
	assert_int_equal(b.used_bytes, 60);
	assert_int_equal(http_mb_charge(&b, &c2, 40), 0);
	assert_int_equal(http_mb_headroom(&b, c1), 0);
	assert_int_equal(b.n_denied, 2);
	http_mb_uncharge(&b, &c1, 60);
	assert_int_equal(b.used_bytes, 40);
	assert_int_equal(b.peak_bytes, 100);
	assert_int_equal(http_mb_headroom(&b, c1), 60);
	assert_int_equal(http_mb_headroom(&b, c2), 20);
	http_mb_uncharge(&b, &c2, 40);
	assert_int_equal(b.used_bytes, 0);
}

static void test_addr_limit(void **state)
{
	(void)state;
	struct addr_table t;
	assert_int_equal(http_addr_table_init(&t, 16, 3), 0);
	struct addr_key a, b;
	http_addr_key_ip4(&a, 0x7f000002);
	http_addr_key_ip4(&b, 0x7f000003);
	for (int i = 0; i < 3; i++)
		assert_int_equal(http_addr_acquire(&t, &a), 0);
	assert_int_equal(http_addr_acquire(&t, &a), -EMFILE);
	assert_int_equal(http_addr_count(&t, &a), 3);
	assert_int_equal(http_addr_acquire(&t, &b), 0);
	http_addr_release(&t, &a);
	assert_int_equal(http_addr_acquire(&t, &a), 0);
	assert_int_equal(t.n_addrs, 2);
	for (int i = 0; i < 3; i++)
		http_addr_release(&t, &a);
	http_addr_release(&t, &b);
	assert_int_equal(t.n_addrs, 0);
	assert_int_equal(http_addr_count(&t, &a), 0);
	http_addr_table_fini(&t);
}

static void test_addr_keys(void **state)
{
	(void)state;
	uint8_t x[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t y[16];
	memcpy(y, x, 16);
	y[15] ^= 0xff; /* same /64, another host */
	struct addr_key kx, ky, k4, k4m;
	http_addr_key_ip6(&kx, x);
	http_addr_key_ip6(&ky, y);
	assert_memory_equal(&kx, &ky, sizeof(kx));
	y[7] ^= 1; /* another /64 */
	http_addr_key_ip6(&ky, y);
	assert_memory_not_equal(&kx, &ky, sizeof(kx));
	/* ::ffff:10.1.2.3 counts as the IPv4 peer 10.1.2.3 */
	uint8_t m[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3 };
	http_addr_key_ip6(&k4m, m);
	http_addr_key_ip4(&k4, 0x0a010203);
	assert_memory_equal(&k4, &k4m, sizeof(k4));
}

/* Random acquire/release of many addresses in a small table (load 1/2, long
 * probe chains, deletions in their middle) against plain counters. */
static void test_addr_churn(void **state)
{
	(void)state;
	enum { N_ADDR = 200, MAX_OPEN = 256, LIMIT = 5 };
	struct addr_table t;
	assert_int_equal(http_addr_table_init(&t, MAX_OPEN, LIMIT), 0);
	uint32_t model[N_ADDR] = { 0 }, open = 0;
	uint64_t rng = 0x2545F4914F6CDD1Dull;
	for (int step = 0; step < 200000; step++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		uint32_t i = (uint32_t)(rng % N_ADDR);
		struct addr_key k;
		http_addr_key_ip4(&k, 0x0a000000u + i * 7919u);
		if ((rng >> 32) & 1) {
			if (open == MAX_OPEN)
				continue;
			int rc = http_addr_acquire(&t, &k);
			assert_int_equal(rc, model[i] < LIMIT ? 0 : -EMFILE);
			if (!rc) {
				model[i]++;
				open++;
			}
		} else if (model[i]) {
			http_addr_release(&t, &k);
			model[i]--;
			open--;
		}
		assert_int_equal(http_addr_count(&t, &k), model[i]);
	}
	uint32_t distinct = 0;
	for (uint32_t i = 0; i < N_ADDR; i++) {
		struct addr_key k;
		http_addr_key_ip4(&k, 0x0a000000u + i * 7919u);
		assert_int_equal(http_addr_count(&t, &k), model[i]);
		distinct += model[i] != 0;
	}
	assert_int_equal(t.n_addrs, distinct);
	http_addr_table_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_budget_ceilings),
		cmocka_unit_test(test_addr_limit),
		cmocka_unit_test(test_addr_keys),
		cmocka_unit_test(test_addr_churn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

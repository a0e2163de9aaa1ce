/* SPDX-License-Identifier: Apache-2.0 */
/* The Prometheus exposition writer (common/prom.h): label escaping, the two
 * formats' differences, histograms, the size bound. Expected texts are
 * written from the formats' descriptions (Prometheus "Exposition formats",
 * OpenMetrics 1.0), not from the writer's output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/prom.h"

static void test_label_escaping(void **state)
{
	(void)state;
	struct prom_buf b;
	prom_init(&b, 1 << 20, false);
	/* Stream names may hold '.', '-' and '_': they pass unchanged. */
	struct prom_label l = { "stream", "orders.eu-west_1" };
	prom_u64(&b, "m", "_total", &l, 1, 7);
	struct prom_label q[2] = { { "a", "x\"y\\z\nw" }, { "b", "" } };
	prom_u64(&b, "m", "_total", q, 2, 0);
	assert_false(b.overflow);
	assert_string_equal(b.p, "m_total{stream=\"orders.eu-west_1\"} 7\n"
				 "m_total{a=\"x\\\"y\\\\z\\nw\",b=\"\"} 0\n");
	prom_free(&b);
}

static void test_counter_family_text_vs_openmetrics(void **state)
{
	(void)state;
	struct prom_buf b;
	prom_init(&b, 1 << 20, false);
	prom_family(&b, "sluice_x", PROM_COUNTER, "CloudWatch X.Y: a \\ b \"q\"");
	prom_u64(&b, "sluice_x", "_total", NULL, 0, 3);
	prom_end(&b);
	assert_string_equal(b.p, "# HELP sluice_x_total CloudWatch X.Y: a \\\\ b \"q\"\n"
				 "# TYPE sluice_x_total counter\n"
				 "sluice_x_total 3\n");
	prom_free(&b);
	prom_init(&b, 1 << 20, true);
	prom_family(&b, "sluice_x", PROM_COUNTER, "CloudWatch X.Y: a \\ b \"q\"");
	prom_u64(&b, "sluice_x", "_total", NULL, 0, 3);
	prom_end(&b);
	assert_string_equal(b.p, "# HELP sluice_x CloudWatch X.Y: a \\\\ b \\\"q\\\"\n"
				 "# TYPE sluice_x counter\n"
				 "sluice_x_total 3\n"
				 "# EOF\n");
	prom_free(&b);
}

static void test_histogram(void **state)
{
	(void)state;
	struct prom_buf b;
	prom_init(&b, 1 << 20, false);
	const double bounds[3] = { 0.001, 0.5, 10 };
	const uint64_t counts[4] = { 2, 0, 3, 1 }; /* per bucket, last: above 10 */
	struct prom_label l = { "stream", "s" };
	prom_histogram(&b, "h", &l, 1, bounds, counts, 3, 12.5);
	assert_string_equal(b.p, "h_bucket{stream=\"s\",le=\"0.001\"} 2\n"
				 "h_bucket{stream=\"s\",le=\"0.5\"} 2\n"
				 "h_bucket{stream=\"s\",le=\"10\"} 5\n"
				 "h_bucket{stream=\"s\",le=\"+Inf\"} 6\n"
				 "h_sum{stream=\"s\"} 12.5\n"
				 "h_count{stream=\"s\"} 6\n");
	prom_free(&b);
}

static void test_bounded(void **state)
{
	(void)state;
	struct prom_buf b;
	prom_init(&b, 64, false);
	for (int i = 0; i < 100; i++)
		prom_u64(&b, "a_long_metric_name", "_total", NULL, 0, (uint64_t)i);
	assert_true(b.overflow);
	assert_true(b.len < 64);
	prom_free(&b);
}

static void test_accept(void **state)
{
	(void)state;
	assert_true(prom_wants_openmetrics("application/openmetrics-text; version=1.0.0,"
					   "text/plain;version=0.0.4;q=0.5"));
	assert_false(prom_wants_openmetrics("text/plain"));
	assert_false(prom_wants_openmetrics(""));
	assert_false(prom_wants_openmetrics(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_counter_family_text_vs_openmetrics),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_accept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The control request queue (dataplane/ctl/ctl.h) on real rte_rings: a call
 * goes out on the request ring and comes back on its lcore's reply ring
 * with its cookie, the wake callback names that lcore, both directions are
 * bounded (full -> -ENOBUFS, the caller keeps the call), and ctl_destroy
 * frees whatever is left in the rings (ASan's leak check). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <rte_eal.h>

#include "dataplane/ctl/ctl.h"

static unsigned g_wakes[4];

static void wake(void *arg, uint16_t lcore)
{
	assert_ptr_equal(arg, g_wakes);
	assert_true(lcore < 4);
	g_wakes[lcore]++;
}

static struct ctl_call *mkcall(uint16_t lcore, uint64_t cookie)
{
	struct ctl_call *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->op = API_OP_LIST_STREAMS;
	c->lcore = lcore;
	c->cookie = cookie;
	c->body = strdup("{}");
	assert_non_null(c->body);
	c->body_len = 2;
	return c;
}

static void test_create_bounds(void **state)
{
	(void)state;
	errno = 0;
	assert_null(ctl_create(0, NULL, NULL));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(ctl_create(CTL_LCORES_MAX + 1, NULL, NULL));
	assert_int_equal(errno, EINVAL);
	ctl_destroy(NULL);
	ctl_call_free(NULL);
}

static void test_round_trip(void **state)
{
	(void)state;
	struct ctl_queue *q = ctl_create(3, wake, g_wakes);
	struct ctl_call *out[4];

	assert_non_null(q);
	memset(g_wakes, 0, sizeof(g_wakes));
	struct ctl_call *bad = mkcall(3, 0);
	assert_int_equal(ctl_post(q, bad), -EINVAL); /* no such reply ring */
	ctl_call_free(bad);
	assert_int_equal(ctl_post(q, mkcall(2, 0xabc)), 0);
	assert_int_equal(ctl_post(q, mkcall(0, 7)), 0);
	assert_int_equal(ctl_replies(q, 2, out, 4), 0);

	/* the answering side: FIFO, answered onto each poster's ring */
	assert_int_equal(ctl_requests(q, out, 4), 2);
	assert_int_equal(out[0]->cookie, 0xabc);
	assert_int_equal(out[1]->cookie, 7);
	for (int i = 0; i < 2; i++) {
		out[i]->status = 200;
		out[i]->resp = strdup("{\"ok\":1}");
		out[i]->resp_len = 8;
		ctl_answer(q, out[i]);
	}
	assert_int_equal(g_wakes[2], 1);
	assert_int_equal(g_wakes[0], 1);
	assert_int_equal(g_wakes[1], 0);

	assert_int_equal(ctl_replies(q, 1, out, 4), 0);
	assert_int_equal(ctl_replies(q, 9, out, 4), 0); /* unknown lcore */
	assert_int_equal(ctl_replies(q, 2, out, 4), 1);
	assert_int_equal(out[0]->cookie, 0xabc);
	assert_int_equal(out[0]->status, 200);
	ctl_call_free(out[0]);
	assert_int_equal(ctl_replies(q, 0, out, 4), 1);
	assert_int_equal(out[0]->cookie, 7);
	ctl_call_free(out[0]);
	ctl_destroy(q);
}

/* Credits: an lcore has at most CTL_LCORE_CREDITS calls out (posted, not yet
 * collected); more are refused (-ENOBUFS: the io lcore then answers
 * LimitExceededException), other lcores are not affected, answers never
 * wait for room, and a collected answer gives its credit back. */
static void test_credits(void **state)
{
	(void)state;
	struct ctl_queue *q = ctl_create(2, wake, g_wakes);
	struct ctl_call *c;
	unsigned n = 0;

	assert_non_null(q);
	memset(g_wakes, 0, sizeof(g_wakes));
	for (;;) {
		c = mkcall(1, n);
		if (ctl_post(q, c) != 0)
			break;
		n++;
		assert_true(n <= CTL_RING_SIZE);
	}
	assert_int_equal(n, CTL_LCORE_CREDITS);
	assert_int_equal(ctl_post(q, c), -ENOBUFS); /* still ours */

	/* answer them all without lcore 1 collecting: every answer fits */
	unsigned answered = 0;
	struct ctl_call *req;
	while (ctl_requests(q, &req, 1) == 1) {
		ctl_answer(q, req);
		answered++;
	}
	assert_int_equal(answered, CTL_LCORE_CREDITS);
	assert_int_equal(g_wakes[1], answered);
	/* still out of credits: the answers are not collected yet */
	assert_int_equal(ctl_post(q, c), -ENOBUFS);
	/* lcore 0 is not held back by lcore 1 */
	struct ctl_call *other = mkcall(0, 7);
	assert_int_equal(ctl_post(q, other), 0);
	assert_int_equal(ctl_requests(q, &req, 1), 1);
	assert_ptr_equal(req, other);
	ctl_answer(q, req);
	assert_int_equal(ctl_replies(q, 0, &req, 1), 1);
	ctl_call_free(req);

	/* one collected: one credit back */
	assert_int_equal(ctl_replies(q, 1, &req, 1), 1);
	ctl_call_free(req);
	assert_int_equal(ctl_post(q, c), 0);
	struct ctl_call *over = mkcall(1, 1u << 20);
	assert_int_equal(ctl_post(q, over), -ENOBUFS);
	ctl_call_free(over);

	/* calls left in both rings are freed by ctl_destroy */
	ctl_destroy(q);
}

int main(void)
{
	char *eal_args[] = { "ctl_test", "--no-pci", "--no-huge", "-m", "64", "--no-shconf",
			     "--log-level=lib.eal:error", "--no-telemetry", "-l", "0" };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_bounds),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_credits),
	};

	if (rte_eal_init((int)(sizeof(eal_args) / sizeof(eal_args[0])), eal_args) < 0) {
		fprintf(stderr, "rte_eal_init failed: cannot run here\n");
		return 77;
	}
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_eal_cleanup();
	return rc;
}

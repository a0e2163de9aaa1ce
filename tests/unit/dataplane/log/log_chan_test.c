/* SPDX-License-Identifier: Apache-2.0 */
/* The (io lcore, log lcore) channels: credits, holding back and resuming.
 *
 * Real rte_rings and the real dp_chan code, stepped in one thread: the test
 * plays the io lcore (log_chan_post / collect / hold / resume) and the log
 * lcore (dequeue, log_chan_reply). It fills one pair to its bound and shows
 * that the io side then holds requests back (FIFO, also for other log
 * lcores so nothing is starved), that the log side can answer everything
 * without a full reply ring, and that held requests go once replies return
 * credits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_eal.h>
#include <rte_ring.h>

#include "dataplane/http/http_internal.h"
#include "dataplane/log/log.h"

#define N_LOG 2

static struct sl_shared g_sh;
static struct lcore_ctx g_lc;
static struct log_ctx g_logs[N_LOG];
static struct rte_ring *g_in[N_LOG], *g_out[N_LOG];
static unsigned g_wakes;

static void test_wake(struct lcore_ctx *lc)
{
	(void)lc;
	g_wakes++;
}

/* Only wake is used on this path (log side -> io lcore). */
static const struct xprt_ops test_xprt = { .name = "test", .wake = test_wake };

static int setup(void **state)
{
	(void)state;
	memset(&g_sh, 0, sizeof(g_sh));
	memset(&g_lc, 0, sizeof(g_lc));
	g_sh.n_io = 1;
	g_sh.n_log = N_LOG;
	g_sh.lcs = &g_lc;
	g_sh.logs = g_logs;
	g_lc.sh = &g_sh;
	g_lc.xprt = &test_xprt;
	for (uint16_t l = 0; l < N_LOG; l++) {
		char n[RTE_RING_NAMESIZE];
		memset(&g_logs[l], 0, sizeof(g_logs[l]));
		g_logs[l].idx = l;
		g_logs[l].sh = &g_sh;
		g_logs[l].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(g_logs[l].efd >= 0);
		snprintf(n, sizeof(n), "ti%u", l);
		g_in[l] = rte_ring_create(n, DP_RING_SIZE, SOCKET_ID_ANY,
					  RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(n, sizeof(n), "to%u", l);
		g_out[l] = rte_ring_create(n, DP_RING_SIZE, SOCKET_ID_ANY,
					   RING_F_SP_ENQ | RING_F_SC_DEQ);
		assert_non_null(g_in[l]);
		assert_non_null(g_out[l]);
		/* The relation the credits rest on, as DPDK builds the ring. */
		assert_true(rte_ring_get_capacity(g_in[l]) >= DP_PAIR_CREDITS);
		g_logs[l].in = &g_in[l];
		g_logs[l].out = &g_out[l];
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (uint16_t l = 0; l < N_LOG; l++) {
		rte_ring_free(g_in[l]);
		rte_ring_free(g_out[l]);
		close(g_logs[l].efd);
	}
	return 0;
}

/* The log lcore's side: takes everything posted to log l and answers it. */
static unsigned log_answer_all(uint16_t l)
{
	struct dp_msg *ms[64];
	unsigned n, total = 0;
	while ((n = rte_ring_sc_dequeue_burst(g_in[l], (void **)ms, 64, NULL)) > 0) {
		for (unsigned i = 0; i < n; i++)
			log_chan_reply(&g_logs[l], ms[i]);
		total += n;
	}
	return total;
}

/* A held request: what ops_data.c embeds in its per-connection state. */
struct held {
	struct dp_wait w;
	struct dp_msg msg;
	int order;
};

static int g_resumed[4], g_n_resumed;

static void resume_cb(struct lcore_ctx *lc, struct dp_wait *w)
{
	struct held *h = (struct held *)((char *)w - offsetof(struct held, w));
	g_resumed[g_n_resumed++] = h->order;
	log_chan_post(lc, &h->msg); /* its credit is there: log_chan_resume checked */
}

static void test_credits_fill_hold_resume(void **state)
{
	(void)state;
	static struct dp_msg msgs[DP_PAIR_CREDITS];
	/* Fill the (io 0, log 0) pair to its bound. */
	for (uint32_t i = 0; i < DP_PAIR_CREDITS; i++) {
		assert_true(log_chan_can_post(&g_lc, 1u << 0));
		msgs[i] = (struct dp_msg){ .kind = DP_GET, .log = 0 };
		log_chan_post(&g_lc, &msgs[i]);
	}
	assert_int_equal(g_lc.dp_out_log[0], DP_PAIR_CREDITS);
	assert_int_equal(g_lc.dp_out, DP_PAIR_CREDITS);
	assert_int_equal(rte_ring_count(g_in[0]), DP_PAIR_CREDITS);
	/* Out of credits for log 0; log 1 still has all of its own. */
	assert_false(log_chan_can_post(&g_lc, 1u << 0));
	assert_false(log_chan_can_post(&g_lc, (1u << 0) | (1u << 1)));
	assert_true(log_chan_can_post(&g_lc, 1u << 1));

	/* The io side holds a request for log 0 back ... */
	static struct held h1, h2;
	h1 = (struct held){ .w.need_mask = 1u << 0, .msg = { .kind = DP_PUT, .log = 0 },
			    .order = 1 };
	log_chan_hold(&g_lc, &h1.w);
	/* ... and a later one for log 1 waits behind it (FIFO, no starvation). */
	assert_false(log_chan_can_post(&g_lc, 1u << 1));
	h2 = (struct held){ .w.need_mask = 1u << 1, .msg = { .kind = DP_PUT, .log = 1 },
			    .order = 2 };
	log_chan_hold(&g_lc, &h2.w);
	/* Nothing came back yet: nothing resumes. */
	assert_int_equal(log_chan_resume(&g_lc, resume_cb), 0);
	assert_int_equal(g_n_resumed, 0);

	/* The log lcore answers every message at once: the reply ring takes
	 * them all (before credits, it could fill and the log lcore spun). */
	g_wakes = 0;
	assert_int_equal(log_answer_all(0), DP_PAIR_CREDITS);
	assert_int_equal(rte_ring_count(g_out[0]), DP_PAIR_CREDITS);
	assert_int_equal(g_wakes, DP_PAIR_CREDITS);

	/* The io lcore collects a few replies: their credits return ... */
	struct dp_msg *back[8];
	assert_int_equal(log_chan_collect(&g_lc, 0, back, 8), 8);
	assert_ptr_equal(back[0], &msgs[0]); /* in order */
	assert_int_equal(g_lc.dp_out_log[0], DP_PAIR_CREDITS - 8);
	/* ... and the held requests go, oldest first. */
	assert_int_equal(log_chan_resume(&g_lc, resume_cb), 2);
	assert_int_equal(g_n_resumed, 2);
	assert_int_equal(g_resumed[0], 1);
	assert_int_equal(g_resumed[1], 2);
	assert_null(g_lc.dp_held_head);
	assert_int_equal(g_lc.dp_out_log[0], DP_PAIR_CREDITS - 7);
	assert_int_equal(g_lc.dp_out_log[1], 1);
	assert_true(log_chan_can_post(&g_lc, 1u << 1));

	/* Drain everything: the counts return to zero. */
	struct dp_msg *ms[64];
	unsigned n;
	assert_int_equal(log_answer_all(0), 1);
	assert_int_equal(log_answer_all(1), 1);
	for (uint16_t l = 0; l < N_LOG; l++)
		while ((n = log_chan_collect(&g_lc, l, ms, 64)) > 0)
			;
	assert_int_equal(g_lc.dp_out, 0);
	assert_int_equal(g_lc.dp_out_log[0], 0);
	assert_int_equal(g_lc.dp_out_log[1], 0);
	assert_true(log_chan_can_post(&g_lc, (1u << 0) | (1u << 1)));
}

int main(void)
{
	char *eal_args[] = { "dp_chan_test", "--no-pci", "--no-huge", "-m", "64", "--no-shconf",
			     "--log-level=lib.eal:error", "--no-telemetry", "-l", "0" };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_credits_fill_hold_resume, setup, teardown),
	};
	if (rte_eal_init((int)(sizeof(eal_args) / sizeof(eal_args[0])), eal_args) < 0) {
		fprintf(stderr, "rte_eal_init failed: cannot run here\n");
		return 77;
	}
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_eal_cleanup();
	return rc;
}

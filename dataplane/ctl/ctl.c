/* SPDX-License-Identifier: Apache-2.0 */
/* The control request queue (ctl.h): one MP/SC request ring, one SP/SC
 * reply ring per io lcore. rte_ring gives the memory ordering: an enqueue
 * publishes the call's contents to the thread that dequeues it. */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include "common/bug.h"
#include "common/config.h"
#include "dataplane/ctl/ctl.h"

/* One reply ring per io lcore: every --io-cores value must get its own. */
static_assert(SL_IO_CORES_MAX <= CTL_LCORES_MAX, "--io-cores above the reply rings");

static_assert((CTL_RING_SIZE & (CTL_RING_SIZE - 1)) == 0, "rte_ring sizes are powers of 2");
static_assert(CTL_LCORE_CREDITS >= 1 && CTL_LCORE_CREDITS <= CTL_RING_SIZE - 1u,
	      "an lcore's credits must fit its reply ring");

struct ctl_queue {
	struct rte_ring *req;  /* MP/SC: io lcores -> answerer */
	struct rte_ring **rep; /* SP/SC per lcore: answerer -> lcore */
	/* [lcore] calls posted and not yet collected (ctl_post / ctl_replies):
	 * at most CTL_LCORE_CREDITS. Atomic: ctl_post may run on any thread. */
	atomic_uint *out;
	uint16_t n_lcores;
	ctl_wake_fn wake;
	void *wake_arg;
};

static atomic_uint ctl_instance; /* ring names are process-global */

static int ctl_rings(struct ctl_queue *q, unsigned id)
{
	char name[RTE_RING_NAMESIZE];

	snprintf(name, sizeof(name), "ctlq%u_%d", id, (int)getpid() % 100000);
	q->req = rte_ring_create(name, CTL_RING_SIZE, SOCKET_ID_ANY, RING_F_SC_DEQ);
	if (q->req == NULL)
		return -rte_errno;
	q->rep = calloc(q->n_lcores, sizeof(*q->rep));
	q->out = calloc(q->n_lcores, sizeof(*q->out));
	if (q->rep == NULL || q->out == NULL)
		return -ENOMEM;
	for (uint16_t i = 0; i < q->n_lcores; i++) {
		snprintf(name, sizeof(name), "ctlr%u_%u", id, i);
		q->rep[i] = rte_ring_create(name, CTL_RING_SIZE, SOCKET_ID_ANY,
					    RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (q->rep[i] == NULL)
			return -rte_errno;
	}
	return 0;
}

/* Frees the calls left in a ring, then the ring (NULL: nothing). */
static void ctl_ring_drain_free(struct rte_ring *r)
{
	void *call;

	while (r && rte_ring_dequeue(r, &call) == 0)
		ctl_call_free(call);
	rte_ring_free(r);
}

void ctl_destroy(struct ctl_queue *q)
{
	if (q == NULL)
		return;
	if (q->rep) {
		for (uint16_t i = 0; i < q->n_lcores; i++)
			ctl_ring_drain_free(q->rep[i]);
		free(q->rep);
	}
	ctl_ring_drain_free(q->req);
	free(q->out);
	free(q);
}

struct ctl_queue *ctl_create(uint16_t n_lcores, ctl_wake_fn wake, void *wake_arg)
{
	if (n_lcores == 0 || n_lcores > CTL_LCORES_MAX) {
		errno = EINVAL;
		return NULL;
	}
	struct ctl_queue *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->n_lcores = n_lcores;
	q->wake = wake;
	q->wake_arg = wake_arg;
	int rc = ctl_rings(q, atomic_fetch_add(&ctl_instance, 1));
	if (rc < 0) {
		ctl_destroy(q);
		errno = -rc;
		return NULL;
	}
	return q;
}

int ctl_post(struct ctl_queue *q, struct ctl_call *call)
{
	if (call->lcore >= q->n_lcores)
		return -EINVAL;
	/* Take a credit first (relaxed: the count only bounds, the rings order
	 * the calls themselves); give it back if the call does not go. */
	atomic_uint *out = &q->out[call->lcore];

	if (atomic_fetch_add_explicit(out, 1, memory_order_relaxed) >= CTL_LCORE_CREDITS) {
		atomic_fetch_sub_explicit(out, 1, memory_order_relaxed);
		return -ENOBUFS;
	}
	if (rte_ring_mp_enqueue(q->req, call) != 0) {
		atomic_fetch_sub_explicit(out, 1, memory_order_relaxed);
		return -ENOBUFS;
	}
	return 0;
}

unsigned ctl_replies(struct ctl_queue *q, uint16_t lcore, struct ctl_call **calls,
		     unsigned max)
{
	if (lcore >= q->n_lcores)
		return 0;
	unsigned n = rte_ring_sc_dequeue_burst(q->rep[lcore], (void **)calls, max, NULL);

	/* Collected: their credits return. */
	atomic_fetch_sub_explicit(&q->out[lcore], n, memory_order_relaxed);
	return n;
}

void ctl_call_free(struct ctl_call *call)
{
	if (call == NULL)
		return;
	free(call->body);
	free(call->resp);
	free(call);
}

unsigned ctl_requests(struct ctl_queue *q, struct ctl_call **calls, unsigned max)
{
	return rte_ring_sc_dequeue_burst(q->req, (void **)calls, max, NULL);
}

void ctl_answer(struct ctl_queue *q, struct ctl_call *call)
{
	uint16_t lc = call->lcore;

	BUG_ON(lc >= q->n_lcores); /* ctl_post refused it */
	/* The lcore has at most CTL_LCORE_CREDITS calls out, this one among
	 * them, so its reply ring has room. */
	bool queued = rte_ring_sp_enqueue(q->rep[lc], call) == 0;

	BUG_ON(!queued);
	if (q->wake)
		q->wake(q->wake_arg, lc);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The control thread: drains the request ring, executes calls, answers on the
 * per-lcore reply rings, and runs the persisted stream lifecycle timers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include "common/bug.h"
#include "common/clock.h"
#include "common/log.h"
#include "controlplane/cp_internal.h"

#define CP_IDLE_SLEEP_NS 500000L /* 0.5 ms: idle latency bound without spinning */
#define CP_BURST 32u

static atomic_uint cp_instance; /* ring names are process-global */

static void cp_idle(void)
{
	struct timespec ts = { 0, CP_IDLE_SLEEP_NS };

	clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
}

static void cp_refresh_deadline(struct cp *cp)
{
	cp->next_deadline_ms = cp_store_next_deadline(cp->st);
}

static void cp_run_timers(struct cp *cp)
{
	int64_t now = sl_wall_ms();

	if (now < cp->next_deadline_ms)
		return;
	/* Bounded batches; loop until nothing is due any more. */
	int n, done = 0;
	for (int i = 0; i < 1000 && (n = cp_store_run_due(cp->st, now)) > 0; i++)
		done += n;
	cp_refresh_deadline(cp);
	/* A stream becomes routable in the same step that makes it ACTIVE, so
	 * a client that sees ACTIVE can write to it. */
	if (done && cp->qs)
		cp_route_publish(cp);
}

/* The cut-over of a reshard, before the answer leaves: (1) the table with
 * the parents closed and the children open is published, (2) every reader
 * passes a quiescent state, so no io lcore can route a record to a parent
 * any more, (3) the parents are sealed (their last sequence number is
 * final) and (4) a table carrying the ending numbers is published.
 * Children's sequence numbers start above their parents' by construction
 * (the shard index is in the high bits, and a child's index is higher). */
static void cp_cut_over(struct cp *cp)
{
	if (cp->qs == NULL)
		return;
	if (cp_route_publish_sync(cp) < 0)
		return; /* readers keep the old table; seals wait for the next publish */
	cp_seal_pending(cp);
	cp_route_publish(cp);
}

/* Seals left for later (a restart, or a hook that asked to be called
 * again) are retried at most every CP_SEAL_RETRY_MS, with a full cut-over:
 * the table in use may be older than the store if a publish failed. */
#define CP_SEAL_RETRY_MS 100u

static void cp_run_seals(struct cp *cp)
{
	uint64_t now = sl_mono_ms();

	if (!cp->seal_pending || now - cp->seal_retry_ms < CP_SEAL_RETRY_MS)
		return;
	cp->seal_retry_ms = now;
	cp_cut_over(cp);
}

void cp_execute(struct cp *cp, struct cp_call *call)
{
	cp_run_timers(cp);
	cp_streams_execute(cp, call);
	cp_refresh_deadline(cp);
	if (call->status != 200)
		return;
	/* What a success changes is a fact of the operation (api.h's table). */
	const struct api_op_info *info = api_op_info(call->op);
	uint32_t flags = info ? info->flags : 0;
	if (flags & API_OPF_RESHARDS) {
		cp->seal_pending = true;
		cp_cut_over(cp);
	} else if ((flags & API_OPF_MUTATES) && cp->qs) {
		cp_route_publish(cp);
	}
}

/* Hands a call back to its lcore. The reply ring holds CP_RING_SIZE calls;
 * when the lcore is behind we wait for it rather than drop an answer. */
static void cp_answer(struct cp *cp, struct cp_call *call)
{
	uint16_t lc = call->lcore;

	while (rte_ring_sp_enqueue(cp->rep[lc], call) != 0) {
		if (cp->cfg.wake)
			cp->cfg.wake(cp->cfg.wake_arg, lc);
		cp_idle();
	}
	if (cp->cfg.wake)
		cp->cfg.wake(cp->cfg.wake_arg, lc);
}

static void *cp_main(void *arg)
{
	struct cp *cp = arg;
	void *calls[CP_BURST];

	sl_log_thread_name("control");
	for (;;) {
		/* Pairs with the release store in cp_stop: once stop is seen,
		 * every cp_post that happened before cp_stop is in the ring. */
		bool stopping = atomic_load_explicit(&cp->stop, memory_order_acquire);
		unsigned n = rte_ring_sc_dequeue_burst(cp->req, calls, CP_BURST, NULL);

		for (unsigned i = 0; i < n; i++) {
			cp_execute(cp, calls[i]);
			cp_answer(cp, calls[i]);
		}
		if (n > 0)
			continue;
		if (stopping)
			break;
		cp_run_timers(cp);
		cp_run_seals(cp);
		cp_route_reclaim(cp, false);
		cp_idle();
	}
	return NULL;
}

static int cp_rings(struct cp *cp, unsigned id)
{
	char name[RTE_RING_NAMESIZE];

	snprintf(name, sizeof(name), "cpq%u_%d", id, (int)getpid() % 100000);
	cp->req = rte_ring_create(name, CP_RING_SIZE, SOCKET_ID_ANY, RING_F_SC_DEQ);
	if (cp->req == NULL)
		return -rte_errno;
	cp->rep = calloc(cp->cfg.n_lcores, sizeof(*cp->rep));
	if (cp->rep == NULL)
		return -ENOMEM;
	for (uint16_t i = 0; i < cp->cfg.n_lcores; i++) {
		snprintf(name, sizeof(name), "cpr%u_%u", id, i);
		cp->rep[i] = rte_ring_create(name, CP_RING_SIZE, SOCKET_ID_ANY,
					     RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (cp->rep[i] == NULL)
			return -rte_errno;
	}
	return 0;
}

static void cp_free(struct cp *cp)
{
	void *call;

	if (cp->rep) {
		for (uint16_t i = 0; i < cp->cfg.n_lcores; i++) {
			/* Answers nobody collected: io lcores are gone. */
			while (cp->rep[i] && rte_ring_dequeue(cp->rep[i], &call) == 0)
				cp_call_free(call);
			rte_ring_free(cp->rep[i]);
		}
		free(cp->rep);
	}
	rte_ring_free(cp->req);
	cp_route_fini(cp);
	cp_store_close(cp->st);
	free(cp);
}

struct cp *cp_open(const struct cp_config *cfg)
{
	struct cp *cp;
	int rc;

	if (cfg == NULL || cfg->data_dir == NULL || cfg->account_id == NULL ||
	    strlen(cfg->account_id) != 12 || cfg->n_lcores == 0) {
		errno = EINVAL;
		return NULL;
	}
	cp = calloc(1, sizeof(*cp));
	if (cp == NULL)
		return NULL;
	cp->cfg = *cfg;
	snprintf(cp->data_dir, sizeof(cp->data_dir), "%s", cfg->data_dir);
	snprintf(cp->account_id, sizeof(cp->account_id), "%s", cfg->account_id);
	cp->cfg.data_dir = cp->data_dir;
	cp->cfg.account_id = cp->account_id;
	atomic_init(&cp->stop, false);
	cp->st = cp_store_open(&cp_store_sqlite_ops, cp->data_dir);
	if (cp->st == NULL) {
		rc = -errno;
		goto fail;
	}
	/* A restart during CREATING/DELETING finishes the transition: the
	 * absolute deadlines are in the store. */
	cp->next_deadline_ms = INT64_MIN;
	cp_run_timers(cp);
	/* Shards closed but not sealed when we stopped are sealed again by
	 * the control thread (the hook may need the log lcores running). */
	cp->seal_pending = true;
	rc = cp_rings(cp, atomic_fetch_add(&cp_instance, 1));
	if (rc == 0)
		rc = cp_route_init(cp);
	if (rc)
		goto fail;
	return cp;
fail:
	SL_ERR("control plane start failed: %s", strerror(-rc));
	cp_free(cp);
	errno = -rc;
	return NULL;
}

struct cp *cp_start(const struct cp_config *cfg)
{
	struct cp *cp = cp_open(cfg);
	int rc;

	if (cp == NULL)
		return NULL;
	rc = pthread_create(&cp->thread, NULL, cp_main, cp);
	if (rc) {
		cp_free(cp);
		errno = rc;
		return NULL;
	}
	cp->thread_started = true;
	return cp;
}

void cp_stop(struct cp *cp)
{
	if (cp == NULL)
		return;
	/* Pairs with the acquire load in cp_main. */
	atomic_store_explicit(&cp->stop, true, memory_order_release);
	if (cp->thread_started)
		pthread_join(cp->thread, NULL);
	cp_free(cp);
}

int cp_post(struct cp *cp, struct cp_call *call)
{
	if (call->lcore >= cp->cfg.n_lcores)
		return -EINVAL;
	return rte_ring_mp_enqueue(cp->req, call) == 0 ? 0 : -ENOBUFS;
}

unsigned cp_replies(struct cp *cp, uint16_t lcore, struct cp_call **calls, unsigned max)
{
	if (lcore >= cp->cfg.n_lcores)
		return 0;
	return rte_ring_sc_dequeue_burst(cp->rep[lcore], (void **)calls, max, NULL);
}

void cp_call_free(struct cp_call *call)
{
	if (call == NULL)
		return;
	free(call->body);
	free(call->resp);
	free(call);
}

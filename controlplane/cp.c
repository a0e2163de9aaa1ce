/* SPDX-License-Identifier: Apache-2.0 */
/* The control thread: drains the dataplane's control request queue
 * (dataplane/ctl/ctl.h), executes calls, answers on the per-lcore reply
 * rings, and runs the persisted stream lifecycle timers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/bug.h"
#include "common/clock.h"
#include "common/log.h"
#include "controlplane/cp_internal.h"
#include "controlplane/cp_store_etcd.h"

#define CP_IDLE_SLEEP_NS 500000L /* 0.5 ms: idle latency bound without spinning */
#define CP_BURST 32u

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
	if (done && cp->routes)
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
	if (cp->routes == NULL)
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

void cp_execute(struct cp *cp, struct ctl_call *call)
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
	} else if ((flags & API_OPF_MUTATES) && cp->routes) {
		cp_route_publish(cp);
	}
}

/* Hands a call back to its lcore. Never waits: the lcore has at most
 * CTL_LCORE_CREDITS calls out (ctl_post), fewer than its reply ring holds. */
static void cp_answer(struct cp *cp, struct ctl_call *call)
{
	ctl_answer(cp->cfg.ctl, call);
}

static uint64_t cp_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The metrics of one answered call (cp_op_stats): written here only,
 * read by the admin thread with relaxed loads. */
static void cp_count(struct cp *cp, const struct ctl_call *call, uint64_t us)
{
	unsigned op = call->op < API_OP__COUNT ? call->op : API_OP_UNKNOWN;
	struct cp_op_stat *st = &cp->op_stats[op];
	__atomic_store_n(&st->calls, st->calls + 1, __ATOMIC_RELAXED);
	if (call->status != 200)
		__atomic_store_n(&st->errors, st->errors + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&st->us, st->us + us, __ATOMIC_RELAXED);
}

void cp_op_stats(const struct cp *cp, unsigned op, struct cp_op_stat *out)
{
	const struct cp_op_stat *st = &cp->op_stats[op < API_OP__COUNT ? op : API_OP_UNKNOWN];
	out->calls = __atomic_load_n(&st->calls, __ATOMIC_RELAXED);
	out->errors = __atomic_load_n(&st->errors, __ATOMIC_RELAXED);
	out->us = __atomic_load_n(&st->us, __ATOMIC_RELAXED);
}

/* Another node changed the metadata (the watch, cp_cluster.c): rebuild
 * the routing table from the store, and look at the lifecycle deadlines
 * again (a stream created elsewhere is made ACTIVE by whichever node's
 * timer comes first; both are compare-and-swap in the store). */
static void cp_run_watch(struct cp *cp)
{
	/* Pairs with the release add in cp_cluster.c's meta_bump. */
	uint64_t gen = atomic_load_explicit(&cp->meta_gen, memory_order_acquire);

	if (gen == cp->meta_gen_built)
		return;
	if (cp->routes && cp_route_publish(cp) < 0)
		return; /* etcd away: tried again on the next loop */
	cp->meta_gen_built = gen;
	cp_refresh_deadline(cp);
}

static void *cp_main(void *arg)
{
	struct cp *cp = arg;
	struct ctl_call *calls[CP_BURST];

	sl_log_thread_name("control");
	for (;;) {
		/* The admin listener's /readyz sees this advance (relaxed: a
		 * liveness sign, ordering nothing). */
		__atomic_store_n(&cp->heartbeat, cp->heartbeat + 1, __ATOMIC_RELAXED);
		/* Pairs with the release store in cp_stop: once stop is seen,
		 * every ctl_post that happened before cp_stop is in the ring. */
		bool stopping = atomic_load_explicit(&cp->stop, memory_order_acquire);
		unsigned n = ctl_requests(cp->cfg.ctl, calls, CP_BURST);

		for (unsigned i = 0; i < n; i++) {
			uint64_t t0_us = cp_now_us();
			if (calls[i]->route_miss) { /* not an operation: not counted */
				cp_route_miss(cp, calls[i]);
				cp_answer(cp, calls[i]);
				continue;
			}
			cp_execute(cp, calls[i]);
			cp_count(cp, calls[i], cp_now_us() - t0_us);
			cp_answer(cp, calls[i]);
		}
		if (n > 0)
			continue;
		if (stopping)
			break;
		cp_run_watch(cp);
		cp_run_timers(cp);
		cp_run_seals(cp);
		route_reclaim(cp->cfg.routes, false);
		cp_idle();
	}
	return NULL;
}

/* The queue and the snapshots are the caller's (ctl_destroy,
 * route_rcu_free): io lcores may still hold a snapshot. */
static void cp_free(struct cp *cp)
{
	cp_store_close(cp->st);
	free(cp->routed_ids);
	free(cp);
}

struct cp *cp_open(const struct cp_config *cfg)
{
	struct cp *cp;
	int rc;

	if (cfg == NULL || cfg->data_dir == NULL || cfg->account_id == NULL ||
	    strlen(cfg->account_id) != 12 || cfg->ctl == NULL || cfg->routes == NULL) {
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
	atomic_init(&cp->meta_gen, 0);
	atomic_init(&cp->clustered, false);
	cp->st = cfg->etcd ? cp_store_etcd_open(cfg->etcd)
			   : cp_store_open(&cp_store_sqlite_ops, cp->data_dir);
	cp->cfg.etcd = NULL; /* the caller's, read here only */
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

uint64_t cp_heartbeat(const struct cp *cp)
{
	return __atomic_load_n(&cp->heartbeat, __ATOMIC_RELAXED);
}

void cp_stop(struct cp *cp)
{
	if (cp == NULL)
		return;
	cp_cluster_stop(cp); /* its thread bumps cp->meta_gen; the lease goes now */
	/* Pairs with the acquire load in cp_main. */
	atomic_store_explicit(&cp->stop, true, memory_order_release);
	if (cp->thread_started)
		pthread_join(cp->thread, NULL);
	cp_cluster_free(cp);
	cp_free(cp);
}

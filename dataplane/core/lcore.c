/* SPDX-License-Identifier: Apache-2.0 */
/* The io lcore loop: transport events, control-plane replies, timers, and the
 * graceful drain on shutdown. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/bug.h"
#include "common/clock.h"
#include "common/log.h"
#include "dataplane/route/route.h"
#include "crypto/sigv4.h"
#include "crypto/tls.h"
#include "common/json.h"
#include "dataplane/api/api.h"
#include "dataplane/core/core.h"
#include "dataplane/http/http_conn.h"
#include "dataplane/ops/ops.h"
#include "dataplane/log/log.h"
#include "dataplane/core/pools.h"
#include "dataplane/metrics/mx.h"

#define LCORE_TIMER_PERIOD_MS 100
/* Longest sleep in io_uring when idle: bounds how late a timer fires. */
#define LCORE_IDLE_WAIT_MS 100

/* A TLS server from the configured files. NULL (logged) on failure. */
struct tls_server *lcore_tls_server(const struct sl_shared *sh)
{
	/* Server preference: HTTP/2 first (the JS SDK v3 default), HTTP/1.1
	 * for everyone else (boto3, the AWS CLI). */
	static const unsigned char alpn[] = "\x02h2\x08http/1.1";
	const struct sl_config *cfg = sh->cfg;
	struct tls_server_config tc = {
		.cert_path = sh->tls_cert_path, .key_path = sh->tls_key_path,
		.client_ca_path = cfg->tls_client_ca[0] ? cfg->tls_client_ca : NULL,
		.alpn = alpn, .alpn_len = sizeof(alpn) - 1 };
	char err[256];
	struct tls_server *s = tls_server_new(&tc, err, sizeof(err));
	if (!s)
		SL_ERR("TLS setup failed: %s", err);
	return s;
}

/* SIGHUP: build a server from the files as they are now. Connections keep
 * the server they were made with; new ones get the new one. On failure the
 * old certificate stays in use. */
static void lcore_tls_reload(struct lcore_ctx *lc)
{
	uint32_t gen = atomic_load(&lc->sh->tls_gen);
	if (gen == lc->tls_gen)
		return;
	lc->tls_gen = gen;
	struct tls_server *s = lcore_tls_server(lc->sh);
	if (!s) {
		SL_WARN("TLS reload failed: keeping the previous certificate");
		return;
	}
	tls_server_free(lc->tls);
	lc->tls = s;
	SL_INFO("TLS certificate reloaded");
}

int lcore_init(struct lcore_ctx *lc, struct sl_shared *sh, uint16_t idx)
{
	return lcore_init_xprt(lc, sh, idx, sh->dpk ? &dpdk_xprt_ops : &kernel_xprt_ops);
}

int lcore_init_xprt(struct lcore_ctx *lc, struct sl_shared *sh, uint16_t idx,
		    const struct xprt_ops *xprt)
{
	memset(lc, 0, sizeof(*lc));
	lc->idx = idx;
	lc->sh = sh;
	lc->xprt = xprt;
	int rc = http_conn_table_init(lc);
	if (rc < 0)
		return rc;
	rc = lcore_pools_init(lc);
	if (rc < 0)
		return rc;
	lc->tls = lcore_tls_server(sh);
	lc->tls_gen = atomic_load(&sh->tls_gen);
	if (!lc->tls)
		return -EINVAL;
	lc->sv = sigv4_verifier_new(sh->keys, sh->cfg->region);
	lc->av = malloc(sizeof(*lc->av));
	lc->max_toks = 4096;
	lc->toks = calloc(lc->max_toks, sizeof(*lc->toks));
	/* 500 PutRecords results at ~150 bytes each, with room to spare. */
	lc->resp_cap = 256u << 10;
	lc->resp_buf = malloc(lc->resp_cap);
	if (!lc->sv || !lc->av || !lc->resp_buf || !lc->toks)
		return -ENOMEM;
	if (getrandom(&lc->rng, sizeof(lc->rng), 0) != sizeof(lc->rng) || lc->rng == 0)
		lc->rng = 0x9E3779B97F4A7C15ull ^ (uint64_t)idx;
	lc->now_ms = sl_mono_ms();
	if (http_date_update(&lc->date, sl_wall_ms() / 1000) < 0)
		return -EINVAL; /* the wall clock is beyond year 9999 */
	if (strcmp(sh->cfg->metrics, "on") == 0) {
		lc->mx = aligned_alloc(64, sizeof(*lc->mx));
		if (!lc->mx)
			return -ENOMEM;
		rc = mx_lcore_init(lc->mx);
		if (rc < 0) {
			free(lc->mx);
			lc->mx = NULL;
			return rc;
		}
	}
	lc->accepting = true;
	return lc->xprt->init(lc);
}

void lcore_wake_cb(void *arg, uint16_t lcore)
{
	struct lcore_ctx *lcs = arg;
	lcs[lcore].xprt->wake(&lcs[lcore]);
}

static void lcore_tick(struct lcore_ctx *lc)
{
	/* Between events this lcore holds no routing-table pointer. */
	route_quiescent(lc->sh->routes, lc->idx);
	lc->now_ms = sl_mono_ms();
	/* Once per loop; it formats only when the second changes, so a
	 * response's Date lags the clock by at most one poll wait
	 * (LCORE_IDLE_WAIT_MS). The return value only says whether it
	 * formatted: on a clock it cannot show, the previous value stays. */
	(void)http_date_update(&lc->date, sl_wall_ms() / 1000);
	ops_poll_ctl(lc);
	ops_data_poll(lc);
	if (lc->subs)
		ops_sub_tick(lc);
	http_conn_mem_kick(lc); /* memory freed since: resume who waited */
	lcore_tls_reload(lc);
	if (lc->now_ms >= lc->next_timer_ms) {
		if (lc->mx) {
			/* Shard-level entries of streams deleted or no longer
			 * monitored go, once per new snapshot. */
			const struct route_table *rt = route_get(lc->sh->routes);
			if (rt && rt->version != lc->mx->io.route_version) {
				mx_shards_sweep(lc->mx, rt);
				lc->mx->io.route_version = rt->version;
			}
		}
		http_conn_timers(lc);
		lc->next_timer_ms = lc->now_ms + LCORE_TIMER_PERIOD_MS;
	}
}

int lcore_run(struct lcore_ctx *lc)
{
	char name[16];
	snprintf(name, sizeof(name), "io%u", lc->idx);
	sl_log_thread_name(name);
	route_reader(lc->sh->routes, lc->idx, true);
	while (!atomic_load_explicit(&lc->sh->stop, memory_order_acquire)) {
		int rc = lc->xprt->poll(lc, LCORE_IDLE_WAIT_MS);
		MX_ADD(lc->loops, 1);
		if (rc > 0)
			MX_ADD(lc->busy_loops, 1);
		if (rc < 0) {
			SL_ERR("transport poll failed: %s", strerror(-rc));
			route_reader(lc->sh->routes, lc->idx, false);
			return rc;
		}
		lcore_tick(lc);
	}
	/* Graceful shutdown: no new connections; idle ones close now; a
	 * request already begun is finished and answered with Connection:
	 * close; after the grace period everything left is cut. */
	lc->accepting = false;
	lc->xprt->stop_accept(lc);
	ops_sub_stop_all(lc); /* their ends go out before the drain */
	http_conn_drain_all(lc, false);
	uint64_t deadline = sl_mono_ms() + lc->sh->cfg->shutdown_grace_ms;
	bool forced = false;
	uint64_t hard_deadline = deadline + 2000;
	while ((lc->nconns > 0 || lc->dp_out > 0) && sl_mono_ms() < hard_deadline) {
		lc->xprt->poll(lc, 20);
		lcore_tick(lc);
		http_conn_drain_all(lc, false);
		if (!forced && lc->now_ms >= deadline) {
			SL_WARN("shutdown: %u connections still busy, closing them", lc->nconns);
			http_conn_drain_all(lc, true);
			forced = true;
		}
	}
	if (lc->n_dp_held)
		SL_INFO("%llu record requests waited for log lcore credits",
			(unsigned long long)lc->n_dp_held);
	route_reader(lc->sh->routes, lc->idx, false);
	return 0;
}

void lcore_fini(struct lcore_ctx *lc)
{
	if (lc->xprt)
		lc->xprt->fini(lc);
	http_conn_table_fini(lc);
	ops_sub_free_all(lc);
	lcore_pools_fini(lc); /* after the connections gave their objects back */
	sigv4_verifier_free(lc->sv);
	lc->sv = NULL;
	tls_server_free(lc->tls);
	lc->tls = NULL;
	if (lc->mx) {
		mx_lcore_fini(lc->mx);
		free(lc->mx);
		lc->mx = NULL;
	}
	free(lc->av);
	free(lc->resp_buf);
	free(lc->toks);
	lc->toks = NULL;
	lc->av = NULL;
	lc->resp_buf = NULL;
}

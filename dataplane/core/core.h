/* SPDX-License-Identifier: Apache-2.0 */
/* The io lcore: per-core context, the transport ops table, and the connection
 * upcalls a transport makes.
 *
 * Shared nothing: an io lcore owns its transport state (io_uring or DPDK
 * queues), its connection table, its SigV4 verifier and its scratch memory.
 * The only ways in from outside are rings (control-plane replies, through
 * dataplane/ctl), the routing snapshot (dataplane/route, RCU) and the stop
 * flag. */
#ifndef SL_DATAPLANE_CORE_H
#define SL_DATAPLANE_CORE_H

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "dataplane/http/http_admit.h"
#include "common/pool.h"
#include "dataplane/http/http.h"

struct conn;
struct lcore_ctx;
struct tls_server;
struct sigv4_keyring;
struct ctl_queue;
struct route_rcu;
struct mx_lcore;

/* A transport moves ciphertext between the network and connections. Kernel
 * (io_uring sockets) and DPDK (userspace TCP) implement the same table, so
 * TLS, HTTP and the API never know which one carries them (HAProxy xprt_ops). */
struct xprt_ops {
	const char *name;
	/* Sets up listening on this lcore. Returns 0 or -errno. */
	int (*init)(struct lcore_ctx *lc);
	/* Processes ready events, sleeping at most timeout_ms when idle (kernel
	 * mode; DPDK busy-polls and ignores it). Returns events handled or -errno. */
	int (*poll)(struct lcore_ctx *lc, uint32_t timeout_ms);
	/* c->out holds bytes to send; starts a send unless one is in flight. */
	void (*send)(struct lcore_ctx *lc, struct conn *c);
	/* Stops (paused) or resumes taking bytes from the network for c: the
	 * connection layer's back-pressure. While paused, at most what was
	 * already in flight is still delivered (kernel: the recv being
	 * cancelled; DPDK: the receive window closes, since delivered bytes
	 * are not reported consumed until resume). Idempotent. */
	void (*rx_pause)(struct lcore_ctx *lc, struct conn *c, bool paused);
	/* Stops reading from c and releases it: the transport calls
	 * http_conn_released() once no operation on it is in flight. Idempotent. */
	void (*close)(struct lcore_ctx *lc, struct conn *c);
	/* Stops accepting new connections (graceful shutdown, step one). */
	void (*stop_accept)(struct lcore_ctx *lc);
	/* Wakes a sleeping poll() from another thread. Async-signal-safe. */
	void (*wake)(struct lcore_ctx *lc);
	void (*fini)(struct lcore_ctx *lc);
};

extern const struct xprt_ops kernel_xprt_ops;
extern const struct xprt_ops dpdk_xprt_ops;

struct log_ctx;
struct dpk;
struct kr_keyring;
struct policy_set;
struct audit;
struct json_tok;
struct sub;

/* Shared, read-only after start-up (but for the stop flags). */
struct sl_shared {
	const struct sl_config *cfg;
	/* TLS: each io lcore builds its own server from these paths; SIGHUP
	 * bumps tls_gen and every lcore reloads (certificate rotation without
	 * dropping connections). */
	char tls_cert_path[SL_PATH_MAX + 32], tls_key_path[SL_PATH_MAX + 32];
	atomic_uint tls_gen;
	const struct sigv4_keyring *keys;
	const struct policy_set *policies; /* per-key access policies */
	/* The policy of sluiced's own credential (sigv4_keyring_add_internal):
	 * only the reads its mirror and channel delivery make. */
	const struct policy *internal_pol;
	struct audit *audit;		   /* DIR/audit.log writer */
	struct ctl_queue *ctl;	/* control calls out, answers back (ctl.h) */
	struct route_rcu *routes; /* routing snapshot; readers: io then log lcores */
	struct dpk *dpk;      /* DPDK ports (--transport dpdk), else NULL */
	struct kr_keyring *kr; /* at-rest keys (DIR/keys) */
	uint16_t actual_port; /* resolved when --listen used port 0 */
	uint16_t actual_plain_port; /* the same for --plain-listen */
	uint16_t n_io, n_log;
	struct lcore_ctx *lcs; /* [n_io] */
	struct log_ctx *logs;  /* [n_log] */
	uint8_t iter_key[32];  /* shard iterator MAC key (DIR/keys/iterator.key) */
	/* Retention in ms of a stream id for the journals' trim (< 0: gone). */
	int64_t (*retention_of)(void *sh, uint64_t stream_id);
	atomic_bool stop;      /* set by the signal handler; read by every io lcore */
	atomic_bool stop_logs; /* set once every io lcore has drained */
};

/* n_io, n_log and lcore indexes are uint16_t. */
static_assert(SL_IO_CORES_MAX <= UINT16_MAX && SL_LOG_CORES_MAX <= UINT16_MAX,
	      "lcore counts are uint16_t");

struct lcore_ctx {
	uint16_t idx; /* 0..io_cores-1, also the control-plane reply ring */
	struct sl_shared *sh;
	const struct xprt_ops *xprt;
	void *xprt_priv;
	/* connection table: fixed at start-up, free list threaded through it.
	 * max_conns slots = max_open (--max-conns-per-core) + CONN_EVICT_SPARE:
	 * a newcomer to a full table takes a spare slot while the idle
	 * connection evicted for it is still closing. */
	struct conn *conns;
	uint32_t max_conns;
	uint32_t max_open;
	uint32_t nconns;    /* slots open or closing */
	uint32_t n_open;    /* slots open (CONN_OPEN) */
	uint32_t free_head; /* index of first free slot, UINT32_MAX when full */
	struct addr_table addrs; /* open connections per source address */
	struct mem_budget mem;	 /* request bytes buffered (admit.h) */
	/* Connections stopped because the budget was spent, oldest first
	 * (indexes, UINT32_MAX: none); http_conn_mem_kick resumes them. */
	uint32_t mem_wait_head, mem_wait_tail;
	struct sigv4_verifier *sv;
	struct tls_server *tls; /* this lcore's; connections hold references */
	uint32_t tls_gen;
	uint64_t rng; /* request-id generator state (not security-relevant) */
	uint64_t now_ms; /* monotonic, refreshed once per loop iteration */
	struct http_date date; /* Date header value, reformatted when the second changes */
	uint64_t next_timer_ms;
	bool accepting;
	struct av *av;	       /* request decoding scratch (large) */
	struct json_tok *toks; /* small parses: stream names, error types */
	uint32_t max_toks;
	char *resp_buf;	       /* response encoding scratch */
	size_t resp_cap;
	/* Per-request objects of the record path (pools.h). */
	struct sl_pool dp_pool;	 /* struct dp_req: a connection's record-op state */
	struct sl_pool get_pool; /* GetRecords response buffers */
	struct sl_pool h2_pool;	 /* HTTP/2 streams with their header buffers */
	uint32_t dp_out;       /* data-path messages out to log lcores */
	uint32_t dp_out_hwm;   /* the most dp_out has been (metrics) */
	/* Credits (dp_chan.c): of those, out to each log lcore; at most
	 * DP_PAIR_CREDITS each, so the rings of a pair can never be full. */
	uint32_t dp_out_log[SL_LOG_CORES_MAX];
	/* Record requests held back for want of credits, oldest first; posted
	 * from the loop (ops_data_poll) as replies return credits. */
	struct dp_wait *dp_held_head, *dp_held_tail;
	struct sub *subs;      /* SubscribeToShard subscriptions on this lcore */
	/* Loop iterations, and of those the ones that handled events: the
	 * heartbeat /readyz watches and the busy ratio. Written by this lcore
	 * only (relaxed), read by the admin thread. */
	uint64_t loops, busy_loops;
	/* Metrics counters (dataplane/metrics/mx.h); NULL with --metrics off. */
	struct mx_lcore *mx;
	/* counters, read by the admin thread's scrape (relaxed loads) */
	uint64_t n_requests, n_accepted, n_rejected_full, n_rejected_addr, n_evicted;
	uint64_t n_h2_timeouts; /* HTTP/2 streams cut by --request-timeout-ms */
	uint64_t n_dp_held; /* record requests that waited for credits */
};

/* The connection layer's upcalls and accessors for transports are in
 * dataplane/http/http_conn.h. */

/* --- the lcore --- */

/* Sets up the lcore (transport, conn table, verifier). Returns 0 or -errno. */
int lcore_init(struct lcore_ctx *lc, struct sl_shared *sh, uint16_t idx);
/* The same with a transport chosen by the caller: the unit tests' seam, so
 * the connection layer and the handlers run over an in-memory transport. */
int lcore_init_xprt(struct lcore_ctx *lc, struct sl_shared *sh, uint16_t idx,
		    const struct xprt_ops *xprt);
/* Runs until sh->stop and then drains: stops accepting, lets in-flight
 * requests finish within shutdown_grace_ms, closes everything. */
int lcore_run(struct lcore_ctx *lc);
void lcore_fini(struct lcore_ctx *lc);

/* A TLS server built from sh's certificate paths (NULL and logged on error). */
struct tls_server *lcore_tls_server(const struct sl_shared *sh);

/* Control-plane reply notification target (ctl_create's wake; arg is the
 * lcore_ctx array). */
void lcore_wake_cb(void *arg, uint16_t lcore);

#endif

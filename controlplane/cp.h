/* SPDX-License-Identifier: Apache-2.0 */
/* The control plane: owns stream and shard metadata (SQLite under the data
 * directory), runs stream lifecycles (CREATING -> ACTIVE, DELETING -> gone) and
 * answers control operations on its own thread, never on a dataplane lcore.
 *
 * It sits above the dataplane and talks to the io lcores only through what
 * the dataplane defines: it drains and answers the control request queue
 * (dataplane/ctl/ctl.h: the io lcores post there, never call in here), and
 * it builds the routing snapshot from its metadata and publishes it through
 * dataplane/route/route.h, where the io and log lcores read it. */
#ifndef SL_CONTROLPLANE_CP_H
#define SL_CONTROLPLANE_CP_H

#include <stdbool.h>
#include <stdint.h>

#include "common/bug.h"
#include "common/u128.h"
#include "dataplane/api/api.h"
#include "dataplane/ctl/ctl.h"
#include "dataplane/route/route.h"

struct cp;
struct kr_keyring;

typedef sl_u128 cp_u128; /* common/u128.h: one 128-bit type, one codec */

struct cp_store_etcd_cfg;

struct cp_config {
	const char *data_dir;	     /* metadata at DIR/meta.db (0600) */
	const char *account_id;	     /* 12 digits, used in ARNs and messages */
	uint32_t create_delay_ms;    /* CREATING -> ACTIVE */
	uint32_t delete_delay_ms;    /* DELETING -> gone */
	uint32_t shard_limit;	     /* account-wide open shards (Kinesis: 500 default here 20000) */
	uint32_t stream_limit;	     /* streams per account */
	uint16_t n_log_lcores;	     /* shard owners in the routing table (0 = 1) */
	/* The control request queue the control thread drains and answers,
	 * and the routing snapshot's publication point; both are the
	 * dataplane's, created (and freed after cp_stop) by the caller. */
	struct ctl_queue *ctl;
	struct route_rcu *routes;
	/* Kinesis's per-account rate limits on control operations (token
	 * buckets at the documented TPS, LimitExceededException when empty).
	 * false: unlimited (--quota-mode off). */
	bool ctl_rate_limits;
	/* Seals a shard closed by resharding. Called on the control thread
	 * after the routing table that closes the shard is published AND every
	 * reader passed a quiescent state, so no io lcore routes to it any
	 * more. Must make every record already routed to the shard durable or
	 * appended, then return 0 with its last sequence number in *last_seq,
	 * -ENOENT when the shard holds no record, or another -errno to be
	 * called again later (e.g. -EAGAIN before the log lcores run; a restart
	 * also calls it again for shards not sealed yet). NULL: every shard is
	 * treated as empty (-ENOENT), for tests without lcores. */
	int (*seal)(void *arg, uint64_t stream_id, uint32_t shard_index, cp_u128 *last_seq);
	void *seal_arg;
	/* At-rest keys (crypto/keyring.h), owned by the caller: data keys are
	 * created with streams and destroyed with them (crypto-erase). NULL:
	 * no keyring (unit tests); streams are then stored in plaintext. */
	struct kr_keyring *kr;
	/* The etcd metadata store (cp_store_etcd.h), read at start only;
	 * NULL: SQLite at DIR/meta.db. */
	const struct cp_store_etcd_cfg *etcd;
};

/* Opens (creating if needed) the metadata store, loads it, finishes lifecycle
 * transitions whose deadline passed while stopped, and starts the control
 * thread (named "control"), which drains cfg.ctl. Publishes the first routing
 * snapshot into cfg.routes before it returns. Returns NULL and sets errno on
 * failure: EINVAL (bad config: account_id not 12 characters, ctl or routes
 * NULL), EIO (store cannot be opened), EPROTO (unknown schema version),
 * ENOMEM, or the pthread_create error. */
struct cp *cp_start(const struct cp_config *cfg);
/* Stops the thread and closes the store. Calls already posted are executed
 * and answered before the thread exits; answers nobody collected stay in
 * the queue (ctl_destroy frees them). The last published snapshot stays in
 * cfg.routes (route_rcu_free frees it). */
void cp_stop(struct cp *cp);
/* Iterations of the control thread's loop so far (any thread; relaxed):
 * a liveness sign for the admin listener's /readyz. */
uint64_t cp_heartbeat(const struct cp *cp);

/* Several nodes on one etcd (cp_cluster.c, docs/REPLICATION.md): this
 * node's key under a lease, and the watch that rebuilds the routing table
 * when another node changes the metadata. Only with the etcd store. */
struct cp_cluster_cfg {
	const struct cp_store_etcd_cfg *etcd; /* the store's etcd and cluster prefix */
	const char *node_id;		      /* 1..64 of A-Z a-z 0-9 _ . - */
	const char *addr;		      /* HOST:PORT clients reach this node at */
	uint32_t lease_ttl_s;		      /* 2..300: a dead node's key lasts this */
};
/* Starts the "cluster" thread after a first registration attempt (a failed
 * one is retried by the thread). 0, -EINVAL (bad cfg, or started twice),
 * -ENOMEM, -EIO (TLS material), or pthread_create's error. cp_stop stops it
 * first and revokes the lease, so the node key goes at once. */
int cp_cluster_start(struct cp *cp, const struct cp_cluster_cfg *cfg);

/* Calls the control thread answered for one operation (enum api_op), how
 * many were errors (status not 200), and the time spent executing them. */
struct cp_op_stat {
	uint64_t calls, errors, us;
};
/* Reads op's counters (any thread; relaxed loads, no lock). */
void cp_op_stats(const struct cp *cp, unsigned op, struct cp_op_stat *out);

/* Executes a call synchronously on the calling thread. Only for unit tests and
 * for the control thread itself; must not race with the control thread.
 * Operations served: every served control operation of dataplane/api's
 * table (API_OPS_CONTROL_MASK; cp_streams.c's handler table is checked
 * against it at compile time);
 * anything else -> 400 InvalidArgumentException "Operation not supported".
 * With cfg.ctl_rate_limits, a call over its operation's rate is answered
 * 400 LimitExceededException before it is decoded. Resharding operations
 * return after the cut-over (new routing table published, readers
 * quiescent, parents sealed through cfg.seal). Operations that change
 * what the routing snapshot holds publish a new one before they return. */
void cp_execute(struct cp *cp, struct ctl_call *call);

#endif

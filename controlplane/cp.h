/* SPDX-License-Identifier: Apache-2.0 */
/* The control plane: owns stream and shard metadata (SQLite under the data
 * directory), runs stream lifecycles (CREATING -> ACTIVE, DELETING -> gone) and
 * answers control operations on its own thread, never on a dataplane lcore.
 *
 * Protocol with the io lcores: an io lcore allocates a cp_call, fills the
 * request part and posts it (multi-producer ring). The control thread
 * executes it, fills the reply part and enqueues it on that lcore's reply ring
 * (single producer / single consumer), then calls cfg.wake so a sleeping lcore
 * notices. Ownership of the cp_call passes to the control plane at cp_post and
 * back to the io lcore when cp_replies hands it out. */
#ifndef SL_CONTROLPLANE_CP_H
#define SL_CONTROLPLANE_CP_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/api/api.h"

struct cp;

struct cp_config {
	const char *data_dir;	     /* metadata at DIR/meta.db (0600) */
	const char *account_id;	     /* 12 digits, used in ARNs and messages */
	uint32_t create_delay_ms;    /* CREATING -> ACTIVE */
	uint32_t delete_delay_ms;    /* DELETING -> gone */
	uint32_t shard_limit;	     /* account-wide open shards (Kinesis: 500 default here 20000) */
	uint32_t stream_limit;	     /* streams per account */
	uint16_t n_lcores;	     /* reply rings, one per io lcore */
	uint16_t n_log_lcores;	     /* shard owners in the routing table (>= 1) */
	void (*wake)(void *arg, uint16_t lcore);
	void *wake_arg;
};

struct cp_call {
	/* request, set by the poster */
	enum api_op op;
	uint16_t lcore;	   /* whose reply ring */
	uint64_t cookie;   /* poster's, returned untouched */
	char region[64];   /* from the SigV4 credential scope; used in ARNs */
	char *body;	   /* request JSON, owned by the call (malloc) */
	uint32_t body_len;
	/* reply, set by the control plane */
	uint16_t status;   /* HTTP status, 200 on success */
	char *resp;	   /* JSON body (malloc), owned by the call */
	uint32_t resp_len;
};

/* Opens (creating if needed) the metadata store, loads it, finishes lifecycle
 * transitions whose deadline passed while stopped, and starts the control
 * thread (named "control"). Needs rte_eal_init (rings). Returns NULL and sets
 * errno on failure: EINVAL (bad config: account_id not 12 characters,
 * n_lcores 0), EIO (store cannot be opened), EPROTO (unknown schema version),
 * or the rte_ring_create / pthread_create error. */
struct cp *cp_start(const struct cp_config *cfg);
/* Stops the thread and closes the store. Calls already posted are executed
 * and answered before the thread exits; answers still in the reply rings
 * afterwards are freed (the io lcores must have stopped polling). */
void cp_stop(struct cp *cp);

/* Posts a call (any thread, multi-producer). Returns 0, -EINVAL when
 * call->lcore >= n_lcores, or -ENOBUFS when the request ring (1024 calls) is
 * full; on error the caller keeps ownership (and answers
 * LimitExceededException / 503). The answer has status, resp and resp_len set;
 * resp is always a JSON body (success or Kinesis error), except resp == NULL
 * with status 500 when memory ran out. */
int cp_post(struct cp *cp, struct cp_call *call);

/* Dequeues up to max answered calls for lcore (only that lcore may call
 * this: single consumer). Returns the count; 0 for an unknown lcore. */
unsigned cp_replies(struct cp *cp, uint16_t lcore, struct cp_call **calls, unsigned max);

/* Frees a call and its body/response (all from malloc). NULL is a no-op. */
void cp_call_free(struct cp_call *call);

/* --- the routing table (read by io lcores on the hot path) ---
 *
 * An immutable snapshot of the ACTIVE streams and their shards, rebuilt by the
 * control thread after every metadata change and published with a pointer
 * swap. Readers never lock: they load the pointer, use the snapshot, and
 * report a quiescent state (cp_route_quiescent) once per loop iteration when
 * they hold no snapshot pointer any more; the control thread frees an old
 * snapshot only after every registered reader has done so (rte_rcu_qsbr). */

typedef unsigned __int128 cp_u128;

struct cp_route_shard {
	cp_u128 hash_start, hash_end; /* inclusive */
	uint32_t index;		      /* shardId-<index> */
	uint16_t log_lcore;	      /* owner of the shard's log */
	bool open;
};

struct cp_route_stream {
	uint64_t id;
	char name[129];
	uint32_t max_record_bytes;
	uint32_t retention_hours;
	uint32_t n_shards;		/* all shards, by index */
	struct cp_route_shard *shards;	/* shards[i].index == i */
	uint32_t n_open;
	uint32_t *open_by_hash;		/* indexes of open shards, by hash_start */
};

struct cp_route {
	uint64_t version;
	uint32_t n_streams;
	struct cp_route_stream *streams; /* sorted by name (strcmp) */
};

/* The current snapshot (never NULL after cp_start). Valid for the caller
 * until its next cp_route_quiescent. */
const struct cp_route *cp_route_get(struct cp *cp);
/* Reports that reader `reader` holds no snapshot pointer. Readers are the io
 * lcores (0..n_lcores-1) and then the log lcores (n_lcores + i). */
void cp_route_quiescent(struct cp *cp, uint16_t reader);
/* Marks a reader online or offline (e.g. on exit). */
void cp_route_reader(struct cp *cp, uint16_t reader, bool online);
/* Binary search by name; NULL when absent (or not ACTIVE). */
const struct cp_route_stream *cp_route_find(const struct cp_route *rt, const char *name,
					    size_t len);
/* The open shard whose hash range holds h (shards partition the space). */
const struct cp_route_shard *cp_route_shard_for(const struct cp_route_stream *s, cp_u128 h);
/* Which log lcore owns a shard, given m log lcores. */
static inline uint16_t cp_route_owner(uint64_t stream_id, uint32_t shard_index, uint16_t m)
{
	return (uint16_t)((stream_id * 0x9E3779B97F4A7C15ull + shard_index) % m);
}

/* Executes a call synchronously on the calling thread. Only for unit tests and
 * for the control thread itself; must not race with the control thread.
 * Operations served: API_OP_CREATE_STREAM .. API_OP_LIST_SHARDS and the two
 * retention ops; anything else -> 400 InvalidArgumentException "Operation not
 * supported". */
void cp_execute(struct cp *cp, struct cp_call *call);

#endif

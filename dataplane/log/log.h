/* SPDX-License-Identifier: Apache-2.0 */
/* The record data path between io lcores and log lcores.
 *
 * An io lcore decodes a record operation, resolves stream and shard from the
 * routing table, and posts one dp_msg per log lcore involved on the SP/SC
 * ring for that (io lcore, log lcore) pair. The log lcore owns the shards'
 * journal: it appends, waits for durability (group commit), or reads, fills
 * the reply part and returns the message on the SP/SC ring back to the io
 * lcore, then wakes it.
 *
 * Ownership: a dp_msg and everything it points to (records in the request
 * buffer, the per-connection dp_put arrays) belong to the io lcore's
 * connection; while the message is out, only the log lcore touches the
 * fields marked "log" below, and the io lcore touches nothing of it. The ring
 * enqueue/dequeue pairs order those accesses (rte_ring has release/acquire
 * semantics). A connection that closes with messages out keeps its buffers
 * until they come back (http_conn_released waits for dp_out == 0). */
#ifndef SL_DATAPLANE_LOG_H
#define SL_DATAPLANE_LOG_H

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/bug.h"
#include "common/config.h"

#include "dataplane/api/records.h"
#include "dataplane/quota/quota.h"
#include "dataplane/route/route.h"
#include "storage/st.h"

#define DP_MAX_LOG_LCORES 16
static_assert(SL_LOG_CORES_MAX <= DP_MAX_LOG_LCORES, "--log-cores above the per-request arrays");
static_assert(DP_MAX_LOG_LCORES <= 32, "log lcore masks (dp_wait.need_mask) are 32 bits");
/* Enhanced fan-out: each (consumer, shard) subscription gets 2 MiB/s. */
#define SUB_BYTES_PER_S (2u << 20)
/* Each (io lcore, log lcore) pair has two SP/SC rings of DP_RING_SIZE slots;
 * an rte_ring without RING_F_EXACT_SZ holds one less than its size. */
#define DP_RING_SIZE 1024
#define DP_RING_CAPACITY (DP_RING_SIZE - 1)
/* Credits: an io lcore has at most this many messages out to one log lcore
 * (in its ring, in the log lcore's hands or journal, or in the reply ring).
 * Every message out sits in at most one of the two rings, so neither can be
 * full: posting and replying never spin and never fail, whatever
 * --max-conns-per-core allows. An io lcore out of credits holds the request
 * back (log_chan_hold) and posts it when replies return credits. */
#define DP_PAIR_CREDITS DP_RING_CAPACITY
static_assert((DP_RING_SIZE & (DP_RING_SIZE - 1)) == 0, "rte_ring sizes are powers of two");
static_assert(DP_PAIR_CREDITS >= 1 && DP_PAIR_CREDITS <= DP_RING_CAPACITY,
	      "credits must fit the reply ring");

enum dp_kind {
	DP_PUT = 1,	 /* append records, reply when durable */
	DP_ITERATOR = 2, /* resolve a GetShardIterator position */
	DP_GET = 3,	 /* GetRecords: read and encode the response body */
};

/* One record of a PutRecord(s), in request order. */
struct dp_rec {
	const uint8_t *data; /* inside the request buffer (base64-decoded) */
	const char *pk;
	uint32_t data_len;
	uint16_t pk_len;
	uint16_t owner;	      /* log lcore */
	uint32_t shard_index;
	bool has_ehk;
	bool kms;	      /* the stream was KMS-encrypted (route_stream.kms) */
	uint8_t ehk[16];      /* ExplicitHashKey, big-endian */
	/* log: */
	st_seq_t seq;
	int32_t status;	      /* 0 durable, -errno failed */
};

struct dp_msg {
	uint8_t kind;	 /* enum dp_kind */
	uint16_t io;	 /* io lcore index (reply ring) */
	uint16_t log;	 /* log lcore index */
	uint64_t cookie; /* connection idx << 32 | gen */
	uint64_t stream_id;
	int64_t now_ms;	 /* wall clock at the io lcore: arrival time of records */
	uint64_t post_us; /* monotonic, set by log_chan_post: the log lcore's stage
			     histograms (log_ctx.put_queue, put_durable) */
	int64_t retention_ms;
	/* DP_PUT */
	struct dp_rec *recs;
	uint32_t n_recs;
	/* DP_ITERATOR / DP_GET */
	uint32_t shard_index;
	uint8_t it_type; /* enum rec_iter_type */
	bool sub;	 /* a SubscribeToShard poll: no GetRecords quota, event payload */
	bool emit_ehk;	 /* DP_GET: give each record's stored ExplicitHashKey (ops_data.c) */
	bool emit_behind; /* DP_GET: add SluiceRecordsBehind (the internal credential's reads) */
	bool es_framed;	 /* sub: resp is the whole eventstream message (JSON payload,
			  * framed on the log lcore), pushed as is: no copy */
	bool after;	 /* position exclusive */
	st_seq_t seq;
	int64_t ts_ms;
	uint32_t limit;
	char stream_name[REC_NAME_CAP];
	/* DP_GET of a closed (resharded, sealed) shard: where it ends and the
	 * shards that took over, for ChildShards. */
	bool closed;
	st_seq_t ending_seq;
	uint8_t n_children;
	struct rec_child_shard children[REC_CHILD_SHARDS_MAX];
	/* log: */
	uint32_t mine;	     /* DP_PUT: records owned by this log lcore */
	uint32_t appended;   /* DP_PUT: of those, appended so far */
	uint32_t undurable;  /* DP_PUT: appended, durability not yet reported */
	bool adm_valid;	     /* DP_PUT: quota admission of the current shard run: */
	uint32_t adm_at, adm_end, adm_run_end; /* [at,end) admitted, [end,run_end) throttled */
	int32_t status;	     /* 0 or -errno */
	uint16_t http_status; /* DP_GET: response */
	char *resp;	      /* DP_GET: JSON body (malloc), freed by the io lcore */
	/* DP_GET from a request: the io lcore's pooled buffer (pools.h) for
	 * the body, resp_cap bytes; the log lcore sets resp_buf_used once it
	 * owns it (it may then realloc or free it like its own). NULL for
	 * subscription polls: the log lcore mallocs. */
	char *resp_buf;
	uint32_t resp_cap;
	bool resp_buf_used;
	uint32_t resp_len;
	uint64_t bytes;	      /* DP_GET: record data bytes in the response */
	uint32_t n_out;	      /* DP_GET: records in the response */
	int64_t behind_ms;    /* DP_GET: its MillisBehindLatest */
	/* log: a DP_PUT with records in the journal whose durability is not
	 * reported yet is on the log lcore's in-journal list, so a failing
	 * journal can answer it (log_fail). */
	bool in_journal;
	struct dp_msg *j_prev, *j_next;
	/* log: a DP_GET waiting for its chunks to be read from disk
	 * (st_read_async) is parked on the log lcore's read list; its quota
	 * was taken when it first came. */
	bool rd_parked;
	struct dp_msg *rd_next;
	/* log: a subscription poll with nothing new to read waits on the log
	 * lcore's sub-wait list (log_sub_wait) until its shard has new durable
	 * records or sub_wait_until (monotonic ms; 0 = not parked yet, the io
	 * lcore clears it when it posts) passes; sub_waited tells the io lcore
	 * it did, so it may poll again at once. */
	uint64_t sub_wait_until;
	bool sub_waited;
	struct dp_msg *sw_next;
};

struct rte_ring;
struct lcore_ctx;
struct kr_reader;

/* A seal request from the control thread (resharding): after everything the
 * io lcores posted before it is appended and durable, report the shard's
 * last sequence number. */
struct log_seal {
	uint64_t stream_id;
	uint32_t shard_index;
	st_seq_t last;	  /* out */
	int rc;		  /* out: 0, -ENOENT (no records), -ETIMEDOUT, -EIO (the log
			     lcore's journal failed) */
	atomic_bool done; /* release by the log lcore, acquire by the waiter */
};

/* A log lcore: its journal and its rings with every io lcore. */
struct log_ctx {
	uint16_t idx;
	struct sl_shared *sh;
	struct st_journal *j;
	struct rte_ring **in;  /* [io] io -> log */
	struct rte_ring **out; /* [io] log -> io */
	int efd;	       /* wake-up from io lcores and the control thread */
	bool wr_efd;	       /* journal write completions signal efd too */
	_Atomic(struct log_seal *) seal; /* pending seal request, or NULL */
	atomic_bool exited;		 /* the loop has ended */
	/* The journal failed (st_poll error): every message and seal is now
	 * answered with an error, without touching the journal. Written by
	 * the log lcore only. */
	bool failed;
	int fail_err;
	/* DP_PUTs with records in the journal, not yet answered (bounded by
	 * n_io * DP_PAIR_CREDITS). */
	struct dp_msg *j_head;
	/* DP_GETs parked until their disk reads land (FIFO; bounded like
	 * j_head, by the credits). */
	struct dp_msg *rd_head, *rd_tail;
	/* Subscription polls waiting for records (log_sub_wait): at most
	 * LOG_SUB_WAIT_MAX, each holding one credit of its pair; sw_dirty:
	 * records became durable since the list was last looked at; sw_due_ms:
	 * the earliest deadline on it (monotonic). */
	struct dp_msg *sw_head;
	uint32_t sw_n;
	bool sw_dirty;
	uint64_t sw_due_ms;
	/* Messages taken off a ring but not finished: a PUT the journal could
	 * not take whole (back-pressure) stays at backlog[bl_pos]. */
	struct dp_msg *backlog[32];
	unsigned bl_pos, bl_n;
	uint64_t n_appended, n_acked;
	/* Loop iterations and of those the busy ones (the /readyz heartbeat,
	 * the busy ratio), and the journal's counters copied once per idle
	 * loop for the scraper: written by this lcore only, read relaxed. */
	uint64_t loops, busy_loops;
	struct st_stats st_copy;
	/* Where a PUT's time goes on this side (storage/README.md, "Group
	 * commit"), by st_write_lat_bounds_us, sums in us, written by this
	 * lcore only and read relaxed: queue = posted by the io lcore to taken
	 * off the ring; durable = posted to its answer posted back (all its
	 * records durable: queue, append, commit wait, write, delivery). */
	uint64_t put_queue[ST_WRITE_LAT_BOUNDS + 1], put_queue_sum_us;
	uint64_t put_durable[ST_WRITE_LAT_BOUNDS + 1], put_durable_sum_us;
	uint64_t recovery_ms; /* st_open's time at start-up */
	struct quota quota;	   /* buckets of the shards this lcore owns */
	struct kr_reader *kr_rd;   /* this lcore's view of the at-rest keys */
	struct st_record *scratch; /* REC_MAX_RECORDS */
	uint32_t *order;	   /* REC_MAX_RECORDS */
};

/* Monotonic microseconds (vDSO clock read): the PUT stage histograms. */
static inline uint64_t log_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* log_chan.c: the (io lcore, log lcore) channels and their credits. */

/* A request held back for want of credits (embedded in its owner). */
struct dp_wait {
	struct dp_wait *next;
	uint32_t need_mask; /* bit l: it posts one message to log lcore l */
};

/* io side. True when one message to each log lcore in mask may be posted
 * now: each has a credit, and no request held earlier is waiting (FIFO: a
 * request that needs several log lcores is never starved). */
bool log_chan_can_post(const struct lcore_ctx *lc, uint32_t mask);
/* io side. Posts m to log lcore m->log and wakes it. The caller checked
 * log_chan_can_post (or is resuming the head of the held FIFO): a missing
 * credit is a bug. */
void log_chan_post(struct lcore_ctx *lc, struct dp_msg *m);
/* io side. Takes up to max replies from log lcore log, returning their
 * credits. Returns the count. */
unsigned log_chan_collect(struct lcore_ctx *lc, uint16_t log, struct dp_msg **ms, unsigned max);
/* io side. Queues w (need_mask set) behind earlier held requests. */
void log_chan_hold(struct lcore_ctx *lc, struct dp_wait *w);
/* io side. Calls resume(lc, w) for held requests, oldest first, while the
 * oldest one's credits are there; resume must post (or drop) it. Returns
 * how many were resumed. */
unsigned log_chan_resume(struct lcore_ctx *lc,
			 void (*resume)(struct lcore_ctx *lc, struct dp_wait *w));
/* log side. Returns m to its io lcore and wakes it. Never fails: credits
 * bound what is out (BUG_ON otherwise). */
void log_chan_reply(struct log_ctx *lg, struct dp_msg *m);

/* log_lcore.c */
int SL_MUST_CHECK log_lcore_init(struct log_ctx *lg, struct sl_shared *sh, uint16_t idx);
/* Runs until sh->stop_logs. Returns 0, or the journal's -errno when it
 * failed: then every message and seal met was answered with an error
 * (InternalFailure to clients, -EIO to the seal) until the stop. */
int SL_MUST_CHECK log_lcore_run(struct log_ctx *lg);
void log_lcore_fini(struct log_ctx *lg);
/* Wakes a log lcore from any thread (write to its eventfd). */
void log_lcore_wake(struct log_ctx *lg);
/* The control plane's seal hook (cp_config.seal): blocks the calling
 * (control) thread until the owning log lcore answers, at most 10 s.
 * Returns 0 with *last, -ENOENT when the shard holds no records,
 * -ETIMEDOUT, -EIO (the log lcore's journal failed) or -ESHUTDOWN. */
int SL_MUST_CHECK log_lcore_seal(void *sh, uint64_t stream_id, uint32_t shard_index,
				 st_seq_t *last);

#endif

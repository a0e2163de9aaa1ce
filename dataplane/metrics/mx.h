/* SPDX-License-Identifier: Apache-2.0 */
/* Metrics counters: per lcore, written by their lcore alone, summed by the
 * scraper (the admin listener's thread) off the fast path.
 *
 * No shared atomics: every lcore writes only its own blocks
 * (cache-line-aligned, so two lcores never share a line) with relaxed
 * load/store pairs (MX_ADD: a plain add on x86, never a locked
 * instruction); the scraper reads with relaxed loads and never takes a
 * lock an lcore waits on. A scrape taken while an lcore writes sees each
 * counter either before or after the add; counters are not read as one
 * consistent cut (as with any Prometheus target).
 *
 * Per-stream counters live in a per-io-lcore array indexed by the routing
 * snapshot's stream slot (route_stream.mslot: stable for a stream's whole
 * life, given by the control plane, reused after the stream is deleted).
 * Each block carries the id of the stream it counts: an lcore that finds a
 * block of another id (the slot's stream was deleted and the slot reused)
 * clears it before counting, and the scraper sums only blocks whose id is
 * the current snapshot's stream at that slot. So a stream created between
 * two scrapes starts at zero, and a deleted stream's series disappear with
 * it (it is no longer in the snapshot the scraper walks).
 *
 * Shard-level counters (EnableEnhancedMonitoring) live in a bounded
 * per-io-lcore open-addressing table keyed by (stream id, shard), filled
 * only for streams whose snapshot entry has shard metrics enabled; the
 * lcore empties it when the routing snapshot changes (mx_shards_sweep), so
 * entries of deleted or disabled streams do not pile up. */
#ifndef SL_DATAPLANE_MX_H
#define SL_DATAPLANE_MX_H

#include <assert.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "dataplane/api/api.h"

/* Stream slots per io lcore: the snapshot gives a stream a slot below this
 * (route_stream.mslot), or MX_NO_SLOT past it (that stream is not counted,
 * and sluice_metrics_streams_unslotted says so). Above --stream-limit's
 * default; calloc'd, so pages of slots never used are never touched. */
#define MX_STREAM_SLOTS 16384u
#define MX_NO_SLOT UINT32_MAX
/* (stream, shard) entries per io lcore for shard-level metrics; power of 2.
 * Past it a shard is counted at stream level only
 * (sluice_metrics_shards_dropped_total). */
#define MX_SHARD_SLOTS 16384u
static_assert((MX_SHARD_SLOTS & (MX_SHARD_SLOTS - 1)) == 0, "power of two");

#define MX_ADD(p, v) __atomic_store_n(&(p), __atomic_load_n(&(p), __ATOMIC_RELAXED) + (v), \
				      __ATOMIC_RELAXED)
#define MX_SET(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELAXED)
#define MX_GET(p) __atomic_load_n(&(p), __ATOMIC_RELAXED)

/* Per-stream counters, CloudWatch's Kinesis metrics (README: the names). */
enum mx_sc {
	MX_INCOMING_BYTES = 0,
	MX_INCOMING_RECORDS,
	MX_PUT_RECORD_BYTES,
	MX_PUT_RECORD_SUCCESS,
	MX_PUT_RECORDS_BYTES,
	MX_PUT_RECORDS_RECORDS,
	MX_PUT_RECORDS_SUCCESSFUL_RECORDS,
	MX_PUT_RECORDS_FAILED_RECORDS,
	MX_PUT_RECORDS_THROTTLED_RECORDS,
	MX_PUT_RECORDS_TOTAL_RECORDS,
	MX_PUT_RECORDS_SUCCESS,
	MX_GET_RECORDS_BYTES,
	MX_GET_RECORDS_RECORDS,
	MX_GET_RECORDS_SUCCESS,
	MX_GET_SHARD_ITERATOR_SUCCESS,
	MX_OUTGOING_BYTES,
	MX_OUTGOING_RECORDS,
	MX_READ_THROTTLED,
	MX_WRITE_THROTTLED,
	MX_SUB_RATE_EXCEEDED,
	MX_SUB_SUCCESS,
	MX_SUB_EVENT_BYTES,
	MX_SUB_EVENT_RECORDS,
	MX_SUB_EVENT_SUCCESS,
	MX_SC_N
};

/* Latency histograms, in milliseconds. */
enum mx_hist_id { MX_H_PUT_RECORD = 0, MX_H_PUT_RECORDS, MX_H_GET_RECORDS, MX_H_N };
#define MX_LAT_BOUNDS 13 /* 1 2 5 10 25 50 100 250 500 1000 2500 5000 10000 ms */
extern const double mx_lat_bounds_ms[MX_LAT_BOUNDS];

struct mx_hist {
	uint64_t b[MX_LAT_BOUNDS + 1];
	uint64_t sum_us;
};

/* A last-seen value (iterator age, MillisBehindLatest) and when (wall ms);
 * the scraper shows the newest over the lcores. */
struct mx_last {
	int64_t v_ms, at_ms;
};

struct mx_stream {
	alignas(64) uint64_t stream_id; /* whose counters these are; 0: never used */
	uint64_t c[MX_SC_N];
	struct mx_last iter_age, sub_behind;
	struct mx_hist h[MX_H_N];
};

/* Shard-level metrics (EnableEnhancedMonitoring's names). */
enum mx_shc {
	MX_SH_INCOMING_BYTES = 0,
	MX_SH_INCOMING_RECORDS,
	MX_SH_OUTGOING_BYTES,
	MX_SH_OUTGOING_RECORDS,
	MX_SH_WRITE_THROTTLED,
	MX_SH_READ_THROTTLED,
	MX_SHC_N
};
/* Enhanced monitoring's bits follow cp_metric_names: the six counters
 * above, then IteratorAgeMilliseconds (a gauge, mx_shard.iter_age). */
#define MX_SH_ITERATOR_AGE_BIT MX_SHC_N

struct mx_shard {
	uint64_t stream_id; /* 0: free */
	uint32_t shard;
	uint64_t c[MX_SHC_N];
	struct mx_last iter_age;
};

/* HTTP statuses counted by their own label; the rest as "other". */
#define MX_HTTP_STATUSES 200, 400, 403, 404, 405, 408, 411, 413, 414, 431, 500, 501, 503, 505
#define MX_HTTP_ST_N 15 /* the list, then other */
extern const uint16_t mx_http_statuses[MX_HTTP_ST_N - 1];
/* The operation label: enum api_op, API_OP__COUNT for "none" (answered
 * before an operation was known: SigV4, limits, unknown targets). */
#define MX_OP_NONE API_OP__COUNT
#define MX_OP_N (API_OP__COUNT + 1)

/* TLS handshakes by version and result. */
enum mx_tls { MX_TLS_V12 = 0, MX_TLS_V13, MX_TLS_OTHER, MX_TLS_FAILED, MX_TLS_N };

/* SigV4 failures by the error type AWS answers (crypto/sigv4.h). */
#define MX_SIGV4_TYPES "IncompleteSignatureException", "InvalidSignatureException", \
	"MissingAuthenticationTokenException", "UnrecognizedClientException"
#define MX_SIGV4_N 5 /* the list, then other */
extern const char *const mx_sigv4_types[MX_SIGV4_N - 1];

/* The userspace stack's counters exported (net_stats fields, in this
 * order; dataplane/net/dpdk/dpdk_xprt.c copies them). */
#define MX_TCP_NAMES "rx_frames", "tx_frames", "tx_errors", "rx_drop_eth", "rx_drop_ip", \
	"rx_bad_csum", "arp_miss_drops", "tcp_rx_segs", "tcp_tx_segs", "tcp_retransmits", \
	"tcp_fast_retransmits", "tcp_rto", "tcp_rst_rx", "tcp_rst_tx", "tcp_out_of_window", \
	"tcp_ooo_drops", "tcp_paws_drops", "tcp_accepted", "tcp_refused", "tcp_table_full", \
	"syn_cookies_sent", "syn_cookies_ok", "syn_cookies_bad", "tcp_prr_episodes", \
	"tcp_rack_marks", "tcp_spurious_rto", "tcp_rexmit_recovery", "tcp_rexmit_tlp", \
	"tcp_rexmit_rto", "tcp_dsack_undo", "tcp_rto_repeat", "tcp_rto_recovery", \
	"tcp_rto_after_tlp", "tcp_rto_no_tlp", "tcp_rec_probes"
#define MX_TCP_N 35
extern const char *const mx_tcp_names[MX_TCP_N];
#define MX_TCP_COPY_US 100000

/* Appliance counters of an io lcore. */
struct mx_io {
	alignas(64) uint64_t route_version; /* snapshot the shard table was swept at */
	uint64_t shards_dropped;	/* shard-level counts lost to a full table */
	uint64_t http[MX_OP_N][MX_HTTP_ST_N]; /* answers by operation and status */
	uint64_t tls[MX_TLS_N];
	uint64_t sigv4[MX_SIGV4_N];
	/* The userspace TCP/IP stack's counters (DPDK transport), copied by
	 * the transport every MX_TCP_COPY_US (mx_tcp_names has the labels). */
	uint64_t tcp[MX_TCP_N];
	bool has_tcp;
};

/* One io lcore's metrics: its appliance counters, its stream slots and its
 * shard table. */
struct mx_lcore {
	struct mx_io io;
	struct mx_stream *streams; /* [MX_STREAM_SLOTS] */
	struct mx_shard *shards;   /* [MX_SHARD_SLOTS] */
};

/* A log lcore's: its heartbeat and its journal's write path. */
#define MX_BATCH_BOUNDS 8 /* records per group commit: 1 4 16 64 256 1024 4096 16384 */
struct mx_log {
	alignas(64) uint64_t loops;
	uint64_t busy_loops;
	uint64_t writes, write_bytes;
	struct mx_hist write_lat;	/* journal write (RWF_DSYNC) latency */
	uint64_t batch[MX_BATCH_BOUNDS + 1];
	uint64_t batch_sum;
	uint64_t recovery_ms;		/* st_open's time, set once */
};
extern const double mx_batch_bounds[MX_BATCH_BOUNDS];

/* Allocates one io lcore's blocks. Returns 0 or -ENOMEM. */
int mx_lcore_init(struct mx_lcore *m);
void mx_lcore_fini(struct mx_lcore *m);

static inline uint64_t mx_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The block counting stream_id at slot (cleared first when it counted
 * another stream); NULL for MX_NO_SLOT. */
static inline struct mx_stream *mx_stream_at(struct mx_lcore *m, uint32_t slot,
					     uint64_t stream_id)
{
	if (slot >= MX_STREAM_SLOTS)
		return NULL;
	struct mx_stream *s = &m->streams[slot];
	if (MX_GET(s->stream_id) != stream_id) {
		/* The slot's previous stream is gone: start from zero. The id
		 * goes last, so a scrape never adds the old counts to the new
		 * stream once it sees the new id. */
		MX_SET(s->stream_id, 0);
		__atomic_thread_fence(__ATOMIC_RELEASE);
		for (unsigned i = 0; i < MX_SC_N; i++)
			MX_SET(s->c[i], 0);
		for (unsigned h = 0; h < MX_H_N; h++) {
			for (unsigned i = 0; i <= MX_LAT_BOUNDS; i++)
				MX_SET(s->h[h].b[i], 0);
			MX_SET(s->h[h].sum_us, 0);
		}
		MX_SET(s->iter_age.at_ms, 0);
		MX_SET(s->sub_behind.at_ms, 0);
		__atomic_store_n(&s->stream_id, stream_id, __ATOMIC_RELEASE);
	}
	return s;
}

/* Adds one observation of lat_us to h. */
static inline void mx_hist_add(struct mx_hist *h, uint64_t lat_us)
{
	unsigned i = 0;
	while (i < MX_LAT_BOUNDS && (double)lat_us > mx_lat_bounds_ms[i] * 1000.0)
		i++;
	MX_ADD(h->b[i], 1);
	MX_ADD(h->sum_us, lat_us);
}

static inline void mx_last_set(struct mx_last *l, int64_t v_ms, int64_t at_ms)
{
	MX_SET(l->v_ms, v_ms);
	MX_SET(l->at_ms, at_ms);
}

/* One HTTP answer of operation op (MX_OP_NONE: none known) with status. */
static inline void mx_http_answer(struct mx_lcore *m, unsigned op, uint16_t status)
{
	unsigned i = 0;
	while (i < MX_HTTP_ST_N - 1 && mx_http_statuses[i] != status)
		i++;
	MX_ADD(m->io.http[op < MX_OP_N ? op : MX_OP_NONE][i], 1);
}

/* One SigV4 failure of AWS error type (e.g. "InvalidSignatureException"). */
static inline void mx_sigv4_fail(struct mx_lcore *m, const char *type)
{
	unsigned i = 0;
	while (i < MX_SIGV4_N - 1 && strcmp(mx_sigv4_types[i], type) != 0)
		i++;
	MX_ADD(m->io.sigv4[i], 1);
}

/* One TLS handshake: done with version ("TLSv1.3"), or failed (NULL). */
static inline void mx_tls_handshake(struct mx_lcore *m, const char *version)
{
	enum mx_tls k = !version			   ? MX_TLS_FAILED :
			strcmp(version, "TLSv1.3") == 0 ? MX_TLS_V13 :
			strcmp(version, "TLSv1.2") == 0 ? MX_TLS_V12 :
							   MX_TLS_OTHER;
	MX_ADD(m->io.tls[k], 1);
}

/* The shard table's entry for (stream_id, shard), inserted if missing;
 * NULL when the table is full (counted in shards_dropped). */
struct mx_shard *mx_shard_get(struct mx_lcore *m, uint64_t stream_id, uint32_t shard);

struct route_table;
/* Called by the io lcore when the routing snapshot's version changed:
 * empties the shard table if any entry's stream is gone or no longer has
 * shard-level metrics (the scraper shows only enabled ones anyway). */
void mx_shards_sweep(struct mx_lcore *m, const struct route_table *rt);

/* What a record operation's counting needs of its request (taken at
 * dispatch: the routing snapshot may be gone when the answer comes). */
struct mx_req {
	uint32_t slot;	       /* route_stream.mslot */
	uint8_t shard_metrics; /* route_stream.shard_metrics */
	uint64_t t0_us;	       /* when the request began (mx_now_us) */
};
struct dp_rec;
struct dp_msg;
/* PutRecord(s) answered: n records of stream sid, each with its status
 * (0, -EDQUOT throttled, else failed). */
void mx_count_put(struct mx_lcore *mx, const struct mx_req *d, uint64_t sid,
		  const struct dp_rec *recs, uint32_t n, bool many);
/* GetRecords answered (m back from the log lcore). */
void mx_count_get(struct mx_lcore *mx, const struct mx_req *d, const struct dp_msg *m);

struct prom_buf;
struct sl_shared;
/* Appends every dataplane family to b: the stream and shard families of
 * the current routing snapshot, the lcores, connections and journals.
 * reader is the caller's routing-snapshot reader index (registered for it,
 * offline between scrapes). Any thread but an lcore; takes no lock an
 * lcore waits on. Returns 0, or -ENOMEM (b overflowed). */
int mx_scrape(struct prom_buf *b, struct sl_shared *sh, uint16_t reader);

#endif

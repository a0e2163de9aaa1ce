/* SPDX-License-Identifier: Apache-2.0 */
/* What the off-fast-path threads of sluiced/ share (the mirror, mirror.c,
 * and channel delivery, delivery.c): a blocking HTTPS/1.1 client signed
 * with crypto/'s SigV4 signer and verified against a configured CA, the
 * reader of a local stream through the public GetShardIterator/GetRecords
 * path (over loopback TLS, so quotas, policies and encryption apply as to
 * any consumer), the 0600 configuration-file reader and bounded backoff.
 * One thread owns each object here. */
#ifndef SL_SLUICED_HCLIENT_H
#define SL_SLUICED_HCLIENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "common/json.h"
#include "common/slice.h"

#define HC_HOST_MAX 256
#define HC_PATH_MAX 4096
#define HC_RESP_MAX (16u << 20) /* largest response read (mirror_wire.h's) */
#define HC_HEAD_MAX 16384	/* largest response head */
#define HC_IO_TIMEOUT_MS 15000 /* a call fails after this long without progress */
#define HC_IO_STEP_MS 50	/* how often a waiting call looks at stop */
#define HC_BACKOFF_MIN_MS 100
#define HC_BACKOFF_MAX_MS 10000 /* bounded: a peer back is fed within 10 s */
#define HC_ITER_MAX 512
#define HC_SHARD_ID_MAX 64
#define HC_GET_SPACING_MS 220 /* 5 GetRecords/s per shard, with margin */
#define HC_SECRET_MAX 129     /* access key and secret, as the signer takes */
#define HC_LIST_PAGE 1000     /* ListShards MaxResults: Kinesis's default page */
#define HC_TOKEN_MAX 1024     /* a ListShards NextToken */

struct sigv4_signer;

struct hc_peer {
	char host[HC_HOST_MAX];
	char port[8];
	char ca[HC_PATH_MAX];
	char name[16]; /* "local" / "upstream" / "s3", for logs */
	bool plain;    /* http:// (only where a caller allows it) */
	/* A waiting call gives up (-ECANCELED) within HC_IO_STEP_MS once it
	 * is set; NULL: only HC_IO_TIMEOUT_MS ends a wait. */
	const atomic_bool *stop;
	struct sigv4_signer *signer;
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
	char *buf; /* response body, NUL-terminated */
	size_t len;
};

/* Sleeps ms in steps of at most 50 ms, returning early once *stop. */
void hc_nap(const atomic_bool *stop, uint32_t ms);
/* Doubles *backoff_ms within [HC_BACKOFF_MIN_MS, HC_BACKOFF_MAX_MS] and
 * sleeps that long. */
void hc_backoff(uint32_t *backoff_ms, const atomic_bool *stop);
uint64_t hc_now_ms(void); /* monotonic */

/* Copies v (1..cap-1 bytes) into dst; -EINVAL otherwise. */
int hc_copy_val(char *dst, size_t cap, const char *v);
/* "https://HOST:PORT" (HOST may be [v6]; "http://" too when plain is not
 * NULL, and then *plain says which) into host[0..HC_HOST_MAX) and
 * port[0..8); the path must be empty or "/". */
int hc_parse_endpoint(const char *v, char *host, char *port, bool *plain);
/* Reads a KEY = VALUE file that holds a secret: it must be a regular file
 * with no group/other bits. Calls line(arg, key, value) per line (blank and
 * '#' lines skipped); a negative answer stops the read. A bad line is
 * logged as "WHO: PATH line N: WHAT" (the line number only: the value may
 * be the secret). Returns 0 or -errno. */
int hc_read_secret_conf(const char *path, const char *who, const char *what,
			int (*line)(void *arg, const char *key, const char *value), void *arg);

/* TLS context (CA from p->ca, unless p->plain), signer for service, and a
 * response buffer of HC_RESP_MAX. Returns 0 or -errno. */
int hc_peer_init(struct hc_peer *p, const char *name, const char *key, const char *sec,
		 const char *region, const char *service);
void hc_peer_fini(struct hc_peer *p);
/* One signed request on the kept-alive connection (Host and X-Amz-Date are
 * added and signed, with hdrs[0..nhdrs)), one reconnect when a kept-alive
 * connection turns out closed. Returns the HTTP status (body in p->buf) or
 * -errno (-ECANCELED once p->stop is set). */
int hc_request(struct hc_peer *p, const char *method, const char *path,
	       const struct sl_header *hdrs, uint32_t nhdrs, const void *body, size_t blen);
/* A Kinesis JSON call (X-Amz-Target Kinesis_20131202.op). */
int hc_kinesis(struct hc_peer *p, const char *op, const char *body, size_t blen);
/* __type of a JSON error answer in p->buf, without its namespace ("" when
 * none). toks: scratch of ntoks. */
void hc_err_type(const struct hc_peer *p, struct json_tok *toks, uint32_t ntoks, char *out,
		 size_t cap);

/* The peer for the local listener: signed with key/sec (sluiced's
 * internal credential; the signer keeps its own copy), CA p->ca or
 * DIR/tls/ca.pem when none was configured. 0 or -errno. */
int hc_local_init(struct hc_peer *p, const char *key, const char *sec, const char *data_dir,
		  const char *region, const char *who);

/* A background thread: named who, at nice value nice_v (off the fast path
 * in CPU too: on a machine whose cores the lcores share, the scheduler
 * prefers them). hc_thread_start also points local at (host, port). */
struct hc_thread {
	pthread_t thr;
	bool running;
};
int hc_thread_start(struct hc_thread *t, struct hc_peer *local, const char *host,
		    uint16_t port, void *(*fn)(void *), void *arg, const char *who);
void hc_thread_prologue(const char *who, int nice_v);
void hc_thread_join(struct hc_thread *t); /* no-op when not started */

/* ---- reading a local stream ------------------------------------------- */

struct hc_shard {
	char id[HC_SHARD_ID_MAX];
	char ckpt[64]; /* last sequence number done with, "" = none */
	char iter[HC_ITER_MAX];
	bool closed;
	uint64_t last_get_ms;
	uint64_t lag_ms; /* MillisBehindLatest of its last GetRecords */
	/* Counter the next record read should have (one past the last read,
	 * or past the checkpoint on opening); 0: not known. */
	uint64_t next_ctr;
	/* A jump in the counters seen (gap_first > gap_prev + 1) that may be
	 * records lost to retention: checked by the next hc_get_records
	 * (hc_check_gaps); gap_first 0: none. */
	uint64_t gap_prev, gap_first;
	char parent[2][HC_SHARD_ID_MAX]; /* ParentShardId, AdjacentParentShardId */
	/* Records after the checkpoint (not yet forwarded or delivered): set
	 * by each read (its records plus SluiceRecordsBehind, what the local
	 * server counted after it in its storage index) and by
	 * hc_probe_backlog; the caller takes off what it moves past. */
	uint64_t backlog;
	uint64_t after; /* SluiceRecordsBehind of the last read: records after it */
};

struct hc_reader {
	struct hc_peer *local;
	const atomic_bool *stop;
	const char *stream;
	const char *who; /* log prefix */
	struct hc_shard *shards;
	uint32_t nshards, max_shards;
	struct json_tok *toks; /* ntoks: a GetRecords or ListShards answer */
	uint32_t ntoks;
	/* A shard without a checkpoint starts at TRIM_HORIZON, or at
	 * AT_TIMESTAMP start_ms (epoch ms) when it is not 0. */
	int64_t start_ms;
	uint32_t limit; /* GetRecords Limit */
	uint32_t list_page; /* ListShards MaxResults (0: HC_LIST_PAGE) */
	/* Ask for each record's stored ExplicitHashKey (OPS_EHK_HEADER; the
	 * local server honours it for the internal credential only). */
	bool want_ehk;
	/* Records that retention dropped before they were read (so never
	 * forwarded or delivered), and the episodes (a checked gap whose first
	 * record before it had expired). Written by the reader's thread, read
	 * by the scrape. */
	_Atomic uint64_t expired_records, expiries;
};

/* ListShards, page by page (MaxResults r->list_page) until the last, merged into r->shards (known shards keep their state; new
 * ones, children of a reshard, are added with their parents). */
int hc_list_shards(struct hc_reader *r);
/* One GetRecords on sh (spaced HC_GET_SPACING_MS from the last; iterator
 * from the checkpoint when there is none). On success d is the parsed
 * answer, *arr the token of its Records array, sh->iter the next iterator
 * (or sh->closed); returns 0. Else -errno (-EAGAIN: an error answer).
 *
 * Records lost to retention. A read from a checkpoint or iterator whose
 * records expired (the upstream was down longer than the retention) starts
 * at the first record still retained: the trim horizon. The answer's first
 * counter then jumps; so do counters after a restart (storage/README.md:
 * 2^23 or more) or a failed write, which lose nothing. So a jump is
 * checked before the next read (the answer holds the buffer until then):
 * a TRIM_HORIZON read of one record tells whether the record before the
 * jump is still retained. If it is not, the jump is counted in
 * r->expired_records (when under 2^23, i.e. no restart lies inside it;
 * else the episode alone is counted and the log says the count is not
 * known) and logged once, as a warning. */
int hc_get_records(struct hc_reader *r, struct hc_shard *sh, struct json_doc *d, int32_t *arr);
/* sh->backlog afresh: records after sh's checkpoint (GetShardIterator
 * from it and GetRecords of one record, whose SluiceRecordsBehind counts
 * the rest) on peer p with scratch toks[0..ntoks), not r->local: the
 * caller may hold an answer in r->local's buffer (a batch waiting for a
 * down upstream, when the gauge must keep growing). 0 or -errno. */
int hc_probe_backlog(struct hc_reader *r, struct hc_peer *p, struct json_tok *toks,
		     uint32_t ntoks, struct hc_shard *sh);
/* The sum of the shards' backlog. */
uint64_t hc_backlog(const struct hc_reader *r);
/* A child shard waits until its parents are read to their end. */
bool hc_parents_open(const struct hc_reader *r, const struct hc_shard *sh);
/* The largest lag of the open shards. */
uint64_t hc_lag_ms(const struct hc_reader *r);
/* The checkpoint file: "SHARD SEQUENCE" per shard with a checkpoint,
 * replaced (mode 0600); scratch[0..cap) holds the text. sync: with fsync
 * of the file and its directory (survives a power loss); else write and
 * rename only (survives the process's crash, kill -9, not a power loss). */
int hc_ckpt_save(const struct hc_reader *r, const char *path, char *scratch, size_t cap,
		 bool sync);
/* Sets the checkpoints of the known shards from path (absent: none). */
void hc_ckpt_load(struct hc_reader *r, const char *path);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* The Kinesis load generator (perf/loadgen): shared configuration and the
 * pre-built request-body pool. Private to perf/. */
#ifndef SL_PERF_LG_H
#define SL_PERF_LG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lg_keys {
	LG_KEYS_UNIFORM = 0, /* uniform over key_count keys */
	LG_KEYS_ZIPF = 1,    /* Zipf(zipf_s) over key_count keys: a few hot keys */
	LG_KEYS_FIXED = 2,   /* every record uses one key */
};

enum lg_mode {
	LG_MODE_PUTRECORDS = 0,
	LG_MODE_PUTRECORD = 1,
	LG_MODE_GET = 2, /* consumer: GetShardIterator then GetRecords */
	LG_MODE_SUB = 3, /* consumer: SubscribeToShard (event stream over HTTP/1.1) */
};

#define LG_CONSUMERS_MAX 16 /* --consumer-arn given at most this often */
#define LG_ARN_MAX 256
#define LG_AUTO_CONNS_MAX 1024 /* --auto-conns opens at most this many */

struct lg_config {
	char scheme_https;	   /* 1 https, 0 http */
	char host[256];		   /* as in the URL, for Host/SNI/checks */
	char port[16];
	char stream[129];
	char ca_path[512];
	char cred_path[512];
	char profile[64];
	char region[64];
	char json_path[512];
	char plot_path[512];
	char label[128];
	char admin[300];	    /* --admin HOST:PORT: scrape /metrics before and after */
	char admin_token_file[4096];
	bool insecure;		   /* skip certificate verification */
	enum lg_mode mode;
	uint32_t conns;
	uint32_t inflight;	   /* requests in flight per connection */
	uint32_t batch;		   /* records per PutRecords */
	uint32_t record_bytes;	   /* raw data bytes per record (before base64) */
	enum lg_keys keys;
	uint32_t key_count;
	double zipf_s;
	uint32_t pool;		   /* pre-built bodies */
	double duration_s;
	uint64_t records_max;	   /* 0: bounded by duration only */
	double rate_rps;	   /* records/s target (open loop); 0 closed loop */
	double auto_conns_ms;	   /* open loop: connections for requests of this many ms */
	int cpu;		   /* -1: no pinning */
	uint32_t shards;	   /* consumer: shards to read */
	char iterator[32];	   /* consumer: TRIM_HORIZON or LATEST */
	uint32_t poll_ms;	   /* consumer: wait after an empty GetRecords */
	char consumer_arn[LG_CONSUMERS_MAX][LG_ARN_MAX]; /* subscribe: registered consumers */
	uint32_t n_consumers;
	char consumer_name[129];   /* subscribe: register (or find) this consumer */
	bool quiet;
	bool cbor;		   /* application/x-amz-cbor-1.1, as the Java SDK */
	bool verify;		   /* self-checking data (put), checked on read (get) */
};

struct lg_body {
	char *json; /* the body: JSON, or CBOR with cfg->cbor */
	uint32_t len;
	uint32_t nrec;
	uint64_t payload_bytes;	   /* raw data bytes (what "payload MB/s" counts) */
	char sha256_hex[65];	   /* precomputed: the signer takes it as is */
};

struct sigv4_signer;

/* Builds cfg->pool bodies, each with its own draw of partition keys from the
 * configured distribution, and hashes them. Returns the array or NULL with a
 * message on stderr. */
struct lg_body *lg_bodies_build(const struct lg_config *cfg, struct sigv4_signer *s);
void lg_bodies_free(struct lg_body *b, uint32_t n);

#endif

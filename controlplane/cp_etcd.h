/* SPDX-License-Identifier: Apache-2.0 */
/* A small etcd v3 client for the metadata store (cp_store_etcd.c): the
 * gRPC-gateway's JSON API (POST /v3/kv/range, /v3/kv/txn) over HTTP/1.1 on
 * one blocking, kept-alive socket owned by the control thread, with TLS
 * (OpenSSL, server verified against a CA, optional client certificate) when
 * the endpoint is https. Why JSON and not gRPC: see controlplane/README.md.
 *
 * Everything is bounded: a request and an answer are at most
 * ETCD_MSG_MAX_BYTES, an answer holds at most ETCD_KVS_MAX key/values, a
 * call waits at most timeout_ms for connect, each send and each receive.
 *
 * The answer parsers (etcd_http_parse, etcd_answer_parse) read what the
 * network sent: tests/fuzz/fuzz_etcd.c reaches both. */
#ifndef SL_CONTROLPLANE_CP_ETCD_H
#define SL_CONTROLPLANE_CP_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/json.h"

/* One request or answer. etcd's own default is 1.5 MiB (--max-request-bytes);
 * a 10000-shard CreateStream is about 4 MiB in one transaction. The buffers
 * are malloc'd at this size but only touched as far as used. */
#define ETCD_MSG_MAX_BYTES (16u << 20)
#define ETCD_KVS_MAX 512u	       /* key/values in one answer */
#define ETCD_RANGES_MAX 8u	       /* range answers inside one txn answer */
/* A txn's answer has one entry per operation (7 tokens for a put's), so
 * the token budget bounds the operations of one transaction too
 * (ETCD_TXN_OPS_MAX, checked before sending: never a transaction applied
 * whose answer cannot be read). 5 MiB of tokens, touched only as used. */
#define ETCD_TOKS_MAX (1u << 18)
#define ETCD_TXN_OPS_MAX 32768u
#define ETCD_TIMEOUT_MS_DEFAULT 3000u

struct etcd_cfg {
	const char *endpoint; /* "http://HOST:PORT" or "https://HOST:PORT" */
	const char *ca;	      /* https: CA bundle (PEM); NULL/"" = system default */
	const char *cert;     /* https: client certificate (PEM); NULL/"" = none */
	const char *key;      /* its private key */
	uint32_t timeout_ms;  /* 0 = ETCD_TIMEOUT_MS_DEFAULT */
};

/* One key/value of an answer. key and value point into the answer buffer,
 * base64-decoded in place and NUL-terminated (keys and values never hold a
 * NUL here: cp_store_etcd writes text only). */
struct etcd_kv {
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
	int64_t create_rev, mod_rev;
};

/* One range's result: kvs[first .. first+n) of the answer. */
struct etcd_range {
	uint32_t first, n;
	int64_t count; /* matching keys in all (count_only, or beyond limit) */
	bool more;
};

struct etcd_ans {
	int64_t revision;   /* header.revision */
	/* /v3/lease/grant and /v3/lease/keepalive (whose answer is wrapped in
	 * "result"): the lease and its remaining TTL; ttl_s 0 = the lease is
	 * gone (expired or revoked). 0 for every other call. */
	int64_t lease_id, ttl_s;
	bool succeeded;	    /* txn: the compares held */
	uint32_t n_ranges;  /* /v3/kv/range: 1; txn: its response_range entries */
	struct etcd_range range[ETCD_RANGES_MAX];
	uint32_t n_kvs;
	struct etcd_kv kvs[ETCD_KVS_MAX];
};

/* Parses one HTTP/1.1 answer in buf[0..len): status line, headers, a body by
 * Content-Length or chunked (decoded in place). Returns the bytes the answer
 * took (> 0) with *status, *body, *body_len set; 0 when more bytes are
 * needed; -EPROTO when it is not a well-formed answer, -EMSGSIZE when it
 * claims more than ETCD_MSG_MAX_BYTES. */
int64_t etcd_http_parse(char *buf, size_t len, int *status, char **body, size_t *body_len);

/* Token readers shared with the watch stream parser (cp_etcd_watch.c):
 * an int64 field (proto3 JSON: a decimal string or a number; absent i < 0
 * is 0), and a base64 string decoded in place and NUL-terminated (absent:
 * ""). 0 or -EPROTO. */
int etcd_tok_i64(const struct json_doc *d, int32_t i, int64_t *out);
int etcd_tok_b64(const struct json_doc *d, int32_t i, const char **out, size_t *out_len);

/* Parses a /v3/kv/range or /v3/kv/txn JSON answer in buf[0..len) into a,
 * decoding keys and values in place. 0, or -EPROTO (not JSON, not the
 * shape, bad base64), -E2BIG (more than ETCD_KVS_MAX kvs or
 * ETCD_RANGES_MAX ranges). toks holds ETCD_TOKS_MAX tokens. */
int etcd_answer_parse(struct etcd_ans *a, char *buf, size_t len, struct json_tok *toks);

struct etcd;

/* Resolves nothing and connects nothing yet (the first call connects):
 * checks the endpoint and loads TLS material. NULL + errno: EINVAL (bad
 * endpoint), EIO (TLS files), ENOMEM. */
struct etcd *etcd_open(const struct etcd_cfg *cfg);
void etcd_close(struct etcd *e);

/* POSTs body to path ("/v3/kv/range", ...) and parses the answer into a.
 * The body is built in etcd_req_buf(e) (cap ETCD_MSG_MAX_BYTES). 0, -EIO
 * (etcd unreachable, timed out, or answered an error: the connection is
 * dropped and the next call reconnects), -EPROTO (answer unreadable). A
 * call that fails after its request was sent may or may not have been
 * applied: callers that mutate compare revisions, so a retry cannot apply
 * twice. */
int etcd_post(struct etcd *e, const char *path, size_t body_len, struct etcd_ans *a);
char *etcd_req_buf(struct etcd *e);

/* A streaming answer (/v3/watch): POSTs body (built in etcd_req_buf) on a
 * fresh connection and leaves the answer's bytes to etcd_stream_read, head
 * and all (cp_etcd_watch.c parses them). 0 or -EIO. Between start and
 * etcd_stream_stop the handle serves no etcd_post. */
int etcd_stream_start(struct etcd *e, const char *path, size_t body_len);
/* Waits at most wait_ms for bytes of the stream: > 0 bytes read into
 * buf[0..cap), 0 none yet, -EIO closed or failed (then call
 * etcd_stream_stop). A read that has begun waits at most timeout_ms more. */
int64_t etcd_stream_read(struct etcd *e, char *buf, size_t cap, uint32_t wait_ms);
/* Closes the stream's connection (etcd ends the watch with it). */
void etcd_stream_stop(struct etcd *e);

#endif

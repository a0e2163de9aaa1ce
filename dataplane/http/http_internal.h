/* SPDX-License-Identifier: Apache-2.0 */
/* The per-connection state machine (HTTP/1.1 and HTTP/2 over TLS), private
 * to dataplane/http/ and to the operation handlers (dataplane/ops/) that
 * answer its requests. Transports use dataplane/http/http_conn.h only. */
#ifndef SL_DATAPLANE_HTTP_INTERNAL_H
#define SL_DATAPLANE_HTTP_INTERNAL_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/slice.h"
#include "dataplane/core/core.h"
#include "dataplane/http/http_conn.h"
#include "dataplane/ops/ops.h"
#include "dataplane/http/http.h"

#define CONN_MAX_HDRS 64
/* Stop parsing further pipelined requests while this much response data is
 * unsent, so a client that writes but never reads cannot grow our memory. */
#define CONN_OUT_HIGH_WATER (1u << 20)
/* Back-pressure: once this much ciphertext waits unread inside TLS (the
 * request buffer cannot take it: budget spent, a request being answered,
 * the client not reading), the transport stops reading the connection; it
 * resumes when TLS drains below it. Above one TLS record (16 KiB + framing)
 * so TLS always has a whole record to decrypt when we resume. */
#define CONN_RX_PAUSE_BYTES (64u << 10)
/* See http_conn_rx_bulk: room that lets a transport read ahead without bound. */
#define CONN_RX_BULK_BYTES (1u << 20)
/* Safety net if a transport delivers far past the pause: what it may still
 * have in flight is bounded (kernel: its provided-buffer ring, 4 MiB per
 * lcore; DPDK: the 256 KiB receive window), so this is never reached by a
 * transport that honours rx_pause; past it the connection goes. */
#define CONN_TLS_BACKLOG_MAX (8u << 20)
/* Every connection's input buffer starts this size; it is part of a
 * connection's fixed cost (like its TLS state) and is not charged to the
 * buffered-bytes budget, so small requests are served even when the budget
 * is spent. Growth past it is charged. */
#define CONN_IN_INITIAL (16u << 10)
/* A connection that received nothing for this long gives back its TLS
 * record buffers (tls_conn_trim, ~34 KB; checked by http_conn_timers every
 * 100 ms): kept while it is busy, so records are not a malloc each. */
#define CONN_TLS_TRIM_IDLE_MS 100u
/* HTTP/2 frames are parsed as they arrive, so its input buffer stays small. */
#define CONN_IN_H2_MAX (64u << 10)
/* Spare slots past --max-conns-per-core for newcomers that evict an idle
 * connection (the evicted slot is freed asynchronously by the transport). */
#define CONN_EVICT_SPARE 64u
/* The input buffer never starts above the smallest head + body limit it may
 * grow to (conn_in_want clamps at in_max). */
static_assert(CONN_IN_INITIAL <= SL_HEAD_BYTES_MIN + SL_BODY_BYTES_MIN,
	      "initial input buffer above the smallest in_max");
/* in_max (uint32_t) = head + body; conn_in_want adds 16 KiB of read-ahead. */
static_assert((uint64_t)SL_HEAD_BYTES_MAX + SL_BODY_BYTES_MAX + 16384 <= UINT32_MAX,
	      "--max-head-bytes + --max-body-bytes overflow a connection's in_max");
/* Pausing must leave TLS a whole record (16 KiB + framing) to decrypt, and
 * the safety net lies past the pause. */
static_assert(CONN_RX_PAUSE_BYTES > 16384 + 256 && CONN_TLS_BACKLOG_MAX > CONN_RX_PAUSE_BYTES,
	      "rx pause thresholds out of order");
#define CONN_NONE	 UINT32_MAX

/* Numbered so logs stay stable. */
enum conn_state {
	CONN_FREE = 0,	  /* slot on the free list */
	CONN_OPEN = 1,	  /* reading and answering requests */
	CONN_CLOSING = 2, /* transport close requested; waiting for http_conn_released */
	CONN_ZOMBIE = 3,  /* transport done, but a log lcore still holds messages
			     pointing into our buffers: freed at http_conn_reap */
};

struct h2_conn;
struct conn;
struct lcore_ctx;

/* One application protocol over a connection (HAProxy mux_ops, H2O
 * h2o_conn_callbacks): HTTP/1.1 (http_conn.c) and HTTP/2 (http_h2.c) fill
 * the same table, chosen once when the TLS handshake ends (ALPN), so the
 * connection code, the transports and the operation handlers never ask
 * which protocol they speak. Both present a request through the same slot
 * of struct conn (req, hdrs, body): the protocol-neutral request. */
struct http_mux_ops {
	const char *name; /* ALPN id: "http/1.1", "h2" */
	/* Sets up the protocol's state on c. Returns 0 or -ENOMEM. */
	int (*open)(struct lcore_ctx *lc, struct conn *c);
	/* Frees it (once the log lcores let go of the request bytes). */
	void (*release)(struct lcore_ctx *lc, struct conn *c);
	/* Consumes plaintext from c->in: answers (dispatches) whole requests.
	 * Returns true when it made room in c->in (the caller reads more). */
	bool (*on_input)(struct lcore_ctx *lc, struct conn *c);
	/* After a read round: true when the protocol closes c itself (HTTP/2,
	 * from on_input); false lets conn.c close a connection whose peer is
	 * gone with nothing outstanding. */
	bool closes_itself;
	/* Queues the answer to the current request (rid/id2: its request ids). */
	void (*respond)(struct lcore_ctx *lc, struct conn *c, uint16_t status, const char *body,
			uint32_t body_len, const char *rid, const char *id2);
	/* The current request was answered asynchronously (log lcores): drop
	 * it and go on with the next one. */
	void (*request_done)(struct lcore_ctx *lc, struct conn *c);
	/* A control-plane answer was queued: go on with the next request. */
	void (*ctl_answered)(struct lcore_ctx *lc, struct conn *c);
	/* Per-request timeouts, every ~100 ms. Returns true when c waited for
	 * budget on behalf of something that timed out (it then stops waiting). */
	bool (*timers)(struct lcore_ctx *lc, struct conn *c);
	/* Requests in flight inside the protocol (HTTP/2: an open stream). */
	bool (*busy)(const struct conn *c);
	/* When c was last in use, for idleness and eviction. */
	uint64_t (*active_ms)(const struct conn *c);
	/* c may take a large burst from the transport now (http_conn_rx_bulk). */
	bool (*rx_bulk)(const struct conn *c);
	/* How large c->in should be now (never past c->in_max). */
	uint64_t (*in_want)(const struct lcore_ctx *lc, const struct conn *c);
	/* Open-ended answers (SubscribeToShard; HTTP/1.1: a chunked answer,
	 * HTTP/2: a stream); NULL when the protocol has none. push_open
	 * answers the current request with 200 and returns a stream id or
	 * -1; push appends (eof ends it): 0, -ENOENT (the client reset it, or
	 * the answer ended), -ENOBUFS (the client does not read) or -ENOMEM;
	 * push_alive: the stream is still there. */
	int32_t (*push_open)(struct lcore_ctx *lc, struct conn *c, const char *content_type,
			     const char *rid, const char *id2);
	int (*push)(struct lcore_ctx *lc, struct conn *c, int32_t id, const void *data,
		    uint32_t len, bool eof);
	bool (*push_alive)(const struct conn *c, int32_t id);
};

extern const struct http_mux_ops http_h1_mux;
extern const struct http_mux_ops http_h2_mux;

struct conn {
	uint32_t idx;
	uint32_t gen; /* bumped on each reuse: stale control replies are dropped */
	enum conn_state state;
	int fd;
	uint64_t xprt_id;
	uint32_t next_free;
	struct tls_conn *tls;

	/* Plaintext input: requests accumulate here until whole. Grows up to
	 * in_max (head + body limits); compacted after each request. */
	uint8_t *in;
	uint32_t in_len, in_cap, in_max;
	/* Ciphertext output: [out_off, out_len) is unsent. */
	uint8_t *out;
	uint32_t out_off, out_len, out_cap;
	/* A send of [out_off, out_len) is in flight: c->out must not move or be
	 * refilled until http_conn_on_sent; new ciphertext waits inside TLS. */
	bool send_busy;

	/* The request being received. Slices in req point into `in`. */
	struct http_req req;
	struct sl_header hdrs[CONN_MAX_HDRS];
	uint32_t head_len;
	/* How far the head parser got in `in` (offsets: survives a move). */
	struct http_parse_state hps;
	/* The body of the request being dispatched: inside `in` for HTTP/1.1,
	 * inside the stream's buffer for HTTP/2. Writable: record data is
	 * base64-decoded in place. */
	uint8_t *body;
	uint32_t body_len;
	bool have_head;
	bool sent_continue;
	bool req_active;   /* first byte of a request seen, not yet handled */
	bool waiting_cp;   /* a control call is outstanding: parse nothing more */
	bool waiting_dp;   /* record operation at log lcores: the request bytes
			      must stay where they are (no compaction, no growth) */
	bool miss_read;	   /* ops_data.c: this request's routing miss was read
			      from the store once already (several nodes) */
	struct dp_req *dp; /* record-operation state, allocated on first use */
	/* The protocol, chosen once at ALPN (conn_pick_mux); NULL during the
	 * TLS handshake. Every protocol decision goes through it. */
	const struct http_mux_ops *mux;
	struct h2_conn *h2; /* HTTP/2 session state (http_h2.c only) */
	bool close_after_send;
	bool peer_eof;
	/* HTTP/1.1 push (http_h1_push.c): while h1_push is set, c streams one
	 * open-ended answer and reads no further request. */
	bool h1_push;
	bool h1_push_raw;   /* HTTP/1.0 client: no chunks, the close ends it */
	bool h1_push_close; /* close once it ends (Connection: close) */
	int32_t h1_push_id; /* the current (or last) answer's id, > 0 */
	/* CORS (http_cors.h), HTTP/1.1: Access-Control-Allow-Origin for the
	 * request being answered (empty: none), decided when its head was
	 * parsed; it points into the configuration, never into `in`. */
	struct sl_slice cors_allow;
	bool cors_preflight; /* the answer being made is a CORS preflight's */
	/* Buffered-bytes accounting (admit.h): bytes charged to lc->mem for
	 * this connection; while mem_blocked it waits in lc's FIFO
	 * (mem_prev/mem_next) for mem_want_bytes of headroom. */
	uint64_t mem_bytes;
	uint64_t mem_want_bytes;
	uint32_t mem_prev, mem_next;
	bool mem_blocked;
	bool rx_paused;	   /* the transport was told to stop reading */
	bool addr_counted; /* addr holds one count in lc->addrs */
	struct addr_key addr;
	uint64_t opened_ms, req_start_ms, last_rx_ms, last_tx_ms;
	/* HTTP/2: when the connection last had no stream open (its idle clock;
	 * PINGs and SETTINGS do not reset it). */
	uint64_t quiet_ms;
	char peer[64]; /* "ip:port" for logs */
	/* The request being answered: who sent it (SigV4 key id), the policy
	 * that governs it (NULL: full access), and its stream for the audit. */
	char principal[129];
	const struct policy *pol;
	bool internal; /* signed with sluiced's own credential (sigv4_identity.internal) */
	char audit_stream[129];
	char audit_op[48];
	/* Content-Type of the next answer, reset once it is sent: NULL is
	 * application/x-amz-json-1.1; "" sends none (Kinesis's XML answers to
	 * requests it cannot route, ops_shape.c). A string constant. */
	const char *resp_ctype;
	/* The request being answered is application/x-amz-cbor-1.1: its
	 * answer goes out in CBOR (set by ops_dispatch, cleared once
	 * answered); its body transcoded to JSON, charged to the budget
	 * (dataplane/ops/ops_cbor.c). */
	bool cbor;
	char *cbor_json;
	uint64_t cbor_json_bytes;
	/* The operation of the request being answered (enum api_op) for the
	 * metrics; MX_OP_NONE until ops_dispatch knows it. */
	uint8_t mx_op;
};

/* Queues a complete HTTP response (status line, standard Kinesis headers,
 * body) on c. keep-alive follows c->req unless close_after_send is set. */
void http_conn_respond(struct lcore_ctx *lc, struct conn *c, uint16_t status, const char *body,
		       uint32_t body_len);
/* A fresh x-amzn-RequestId (UUID form) and x-amz-id-2 value. */
void http_conn_request_id(struct lcore_ctx *lc, char *rid, size_t rid_len, char *id2,
			  size_t id2_len);
/* Kinesis-shaped error response: {"__type":type,"message":msg}. */
void http_conn_respond_error(struct lcore_ctx *lc, struct conn *c, uint16_t status,
			     const char *type, const char *msg);

/* Moves ciphertext out of TLS into c->out and starts a send (no-op while a
 * send is in flight; http_conn_on_sent continues). */
void http_conn_flush(struct lcore_ctx *lc, struct conn *c);
/* Starts closing c (idempotent); the slot is freed at http_conn_released. */
void http_conn_close(struct lcore_ctx *lc, struct conn *c);
/* Bytes of response not yet handed to the network (ours + inside TLS). */
uint64_t http_conn_unsent(const struct conn *c);

/* The request being answered is finished: drop its bytes and go on with the
 * next pipelined one (used when the answer came asynchronously). */
void http_conn_request_done(struct lcore_ctx *lc, struct conn *c);
/* Frees a zombie slot once the log lcores returned everything. */
void http_conn_reap(struct lcore_ctx *lc, struct conn *c);

/* conn.c: buffered-bytes accounting. http_conn_mem_charge returns 0 or -ENOBUFS
 * (nothing charged); http_conn_mem_block queues c until want_bytes fit. */
int http_conn_mem_charge(struct lcore_ctx *lc, struct conn *c, uint64_t bytes);
void http_conn_mem_uncharge(struct lcore_ctx *lc, struct conn *c, uint64_t bytes);
void http_conn_mem_block(struct lcore_ctx *lc, struct conn *c, uint64_t want_bytes);

/* Push streams through c's protocol (see http_mux_ops.push_open): false /
 * -1 / -EPROTONOSUPPORT on a protocol without them. */
bool http_conn_can_push(const struct conn *c);
int32_t http_conn_push_open(struct lcore_ctx *lc, struct conn *c, const char *content_type,
			    const char *rid, const char *id2);
int http_conn_push(struct lcore_ctx *lc, struct conn *c, int32_t id, const void *data, uint32_t len,
		   bool eof);
bool http_conn_push_alive(const struct conn *c, int32_t id);
/* HTTP/1.1's push_open / push / push_alive (http_h1_push.c). */
int32_t http_h1_push_open(struct lcore_ctx *lc, struct conn *c, const char *content_type,
			  const char *rid, const char *id2);
int http_h1_push(struct lcore_ctx *lc, struct conn *c, int32_t id, const void *data, uint32_t len,
		 bool eof);
bool http_h1_push_alive(const struct conn *c, int32_t id);
/* The control-plane answer to c's request was queued: on to the next. */
void http_conn_ctl_answered(struct lcore_ctx *lc, struct conn *c);

/* For the mux implementations: reads more input and answers it (after the
 * protocol made room or finished a request). */
void http_conn_step(struct lcore_ctx *lc, struct conn *c);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* The per-connection state machine (HTTP/1.1 over TLS), private to core/. */
#ifndef SL_DATAPLANE_CORE_CONN_INTERNAL_H
#define SL_DATAPLANE_CORE_CONN_INTERNAL_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/slice.h"
#include "dataplane/core/core.h"
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
/* See conn_rx_bulk: room that lets a transport read ahead without bound. */
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
#define CONN_NONE UINT32_MAX

/* Numbered so logs stay stable. */
enum conn_state {
	CONN_FREE = 0,	  /* slot on the free list */
	CONN_OPEN = 1,	  /* reading and answering requests */
	CONN_CLOSING = 2, /* transport close requested; waiting for conn_released */
	CONN_ZOMBIE = 3,  /* transport done, but a log lcore still holds messages
			     pointing into our buffers: freed at conn_reap */
};

struct h2_conn;

struct conn {
	uint32_t idx;
	uint32_t gen;  /* bumped on each reuse: stale control replies are dropped */
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
	 * refilled until conn_on_sent; new ciphertext waits inside TLS. */
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
	struct dp_req *dp; /* record-operation state, allocated on first use */
	uint8_t proto;	   /* 0 until the handshake picks: 1 HTTP/1.1, 2 HTTP/2 */
	struct h2_conn *h2; /* HTTP/2 session state (conn_h2.c) */
	bool close_after_send;
	bool peer_eof;
	/* Buffered-bytes accounting (admit.h): bytes charged to lc->mem for
	 * this connection; while mem_blocked it waits in lc's FIFO
	 * (mem_prev/mem_next) for mem_want_bytes of headroom. */
	uint64_t mem_bytes;
	uint64_t mem_want_bytes;
	uint32_t mem_prev, mem_next;
	bool mem_blocked;
	bool rx_paused;	  /* the transport was told to stop reading */
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
	char audit_stream[129];
	char audit_op[48];
};

/* Queues a complete HTTP response (status line, standard Kinesis headers,
 * body) on c. keep-alive follows c->req unless close_after_send is set. */
void conn_respond(struct lcore_ctx *lc, struct conn *c, uint16_t status, const char *body,
		  uint32_t body_len);
/* A fresh x-amzn-RequestId (UUID form) and x-amz-id-2 value. */
void conn_request_id(struct lcore_ctx *lc, char *rid, size_t rid_len, char *id2,
		     size_t id2_len);
/* Kinesis-shaped error response: {"__type":type,"message":msg}. */
void conn_respond_error(struct lcore_ctx *lc, struct conn *c, uint16_t status,
			const char *type, const char *msg);

/* dispatch.c: one whole request (head + body) is in c->in; answer it or post
 * it. The body is [c->head_len, c->head_len + content_length). */
void dispatch_request(struct lcore_ctx *lc, struct conn *c);
struct sigv4_error;
/* dispatch.c: the SigV4 checks that need no body (sigv4_check_head), run
 * when a request's head is complete and its body is still to come, so an
 * unauthenticated client is refused before its body is buffered. hdrs are
 * the request's headers (an HTTP/2 stream's own, not yet in c's slot).
 * Returns true when the request may go on; otherwise err holds the answer,
 * and when audit is set the failure is logged and audited (else the full
 * check at dispatch does it, with the same error). */
bool dispatch_head_ok(struct lcore_ctx *lc, const struct conn *c, const struct sl_header *hdrs,
		      uint32_t nhdrs, struct sigv4_error *err, bool audit);
/* dispatch.c: AccessDeniedException (and an audit line) unless c's policy
 * allows op's IAM action (kinesis:<op>) on resource. Returns true when
 * allowed. */
struct api_op_info;
bool dispatch_authorize(struct lcore_ctx *lc, struct conn *c, const struct api_op_info *op,
			const char *resource, const char *stream);
/* dispatch.c: one audit line about c's current request. */
void dispatch_audit(struct lcore_ctx *lc, const struct conn *c, const char *principal,
		    const char *op, const char *stream, const char *result, uint16_t status);
/* dispatch.c: answered control-plane calls for this lcore. */
void dispatch_poll_cp(struct lcore_ctx *lc);

/* Moves ciphertext out of TLS into c->out and starts a send (no-op while a
 * send is in flight; conn_on_sent continues). */
void conn_flush(struct lcore_ctx *lc, struct conn *c);
/* Starts closing c (idempotent); the slot is freed at conn_released. */
void conn_close(struct lcore_ctx *lc, struct conn *c);
/* Bytes of response not yet handed to the network (ours + inside TLS). */
uint64_t conn_unsent(const struct conn *c);

/* The request being answered is finished: drop its bytes and go on with the
 * next pipelined one (used when the answer came asynchronously). */
void conn_request_done(struct lcore_ctx *lc, struct conn *c);
/* Frees a zombie slot once the log lcores returned everything. */
void conn_reap(struct lcore_ctx *lc, struct conn *c);

/* conn_h2.c: HTTP/2 (see the file comment). */
int h2_open(struct lcore_ctx *lc, struct conn *c);
void h2_close(struct lcore_ctx *lc, struct conn *c);
int h2_input(struct lcore_ctx *lc, struct conn *c, const uint8_t *data, size_t len);
void h2_process(struct lcore_ctx *lc, struct conn *c);
void h2_request_done(struct lcore_ctx *lc, struct conn *c);
int h2_flush(struct lcore_ctx *lc, struct conn *c);
void h2_respond(struct lcore_ctx *lc, struct conn *c, uint16_t status, const char *body,
		uint32_t body_len, const char *rid, const char *id2);
bool h2_wants_close(const struct conn *c);
/* Push streams (SubscribeToShard): answers the current stream with 200 and an
 * open-ended body; returns the stream id or -1. h2_push appends bytes (eof
 * ends the stream): 0, -ENOENT (the client reset it), -ENOBUFS (the client
 * does not read: over 32 MiB unsent) or -ENOMEM. */
int32_t h2_push_open(struct lcore_ctx *lc, struct conn *c, const char *content_type,
		     const char *rid, const char *id2);
int h2_push(struct lcore_ctx *lc, struct conn *c, int32_t id, const void *data, uint32_t len,
	    bool eof);
bool h2_push_alive(const struct conn *c, int32_t id);

/* conn.c: buffered-bytes accounting. conn_mem_charge returns 0 or -ENOBUFS
 * (nothing charged); conn_mem_block queues c until want_bytes fit. */
int conn_mem_charge(struct lcore_ctx *lc, struct conn *c, uint64_t bytes);
void conn_mem_uncharge(struct lcore_ctx *lc, struct conn *c, uint64_t bytes);
void conn_mem_block(struct lcore_ctx *lc, struct conn *c, uint64_t want_bytes);
/* Resumes blocked connections whose wants now fit, oldest first. */
void conn_mem_kick(struct lcore_ctx *lc);

/* conn_h2.c: stream timeouts (request timeout for each incomplete stream);
 * true while any stream is open (the connection is not idle). */
void h2_timers(struct lcore_ctx *lc, struct conn *c);
bool h2_busy(const struct conn *c);
/* How many of the avail plaintext bytes at the front of c->in belong to the
 * current HTTP/2 frame (or the connection preface): h2_input is fed a frame
 * at a time so it can stop between frames. >= 1 when avail >= 1. */
uint32_t h2_frame_room(struct conn *c, const uint8_t *data, uint32_t avail);
/* A stream's body waits for budget: retries its reservation. Returns 0 (no
 * longer waiting) or -ENOBUFS (c queued again with conn_mem_block). */
int h2_unblock(struct lcore_ctx *lc, struct conn *c);
bool h2_blocked(const struct conn *c);

/* Continues processing buffered input (after a reply or a send). */
void conn_process(struct lcore_ctx *lc, struct conn *c);
/* Timeouts; called every ~100 ms. */
void conn_timers(struct lcore_ctx *lc);
/* Graceful shutdown: close idle connections, mark busy ones to close after
 * their current response. */
void conn_drain_all(struct lcore_ctx *lc, bool force);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Load generator connections: non-blocking TCP (+ OpenSSL client, verified
 * against a CA with the host name checked), HTTP/1.1 keep-alive with
 * pipelining, responses matched to requests in order. Private to perf/. */
#ifndef SL_PERF_LG_NET_H
#define SL_PERF_LG_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "perf/lg.h"

#define LG_HDR_MAX 1536	      /* request head: line, headers, Authorization */
#define LG_DYN_MAX 1536	      /* small per-request body (consumer calls) */
#define LG_RBUF_MAX (64u << 20) /* largest response accepted */

enum lg_req_kind {
	LG_REQ_PUT = 0,
	LG_REQ_GET_ITER = 1,
	LG_REQ_GET_RECORDS = 2,
	LG_REQ_SUBSCRIBE = 3, /* answered with a chunked event stream */
	/* set-up calls made one at a time before the clock starts */
	LG_REQ_DESCRIBE_SUMMARY = 4,
	LG_REQ_REGISTER = 5,
	LG_REQ_DESCRIBE_CONSUMER = 6,
};

struct lg_req {
	enum lg_req_kind kind;
	uint64_t intended_ns; /* schedule time: latency is measured from here */
	uint64_t sent_ns;
	const char *body;
	uint32_t body_len;
	uint32_t hdr_len;
	uint32_t nrec;
	uint32_t shard;
	uint64_t payload_bytes;
	char hdr[LG_HDR_MAX];
	char dyn[LG_DYN_MAX];
};

enum lg_conn_state {
	LG_C_IDLE = 0,	     /* not connected (start, or after a failure) */
	LG_C_CONNECTING = 1, /* TCP connect in progress */
	LG_C_HANDSHAKE = 2,  /* TLS handshake in progress */
	LG_C_READY = 3,	     /* requests may be sent */
};

struct lg_conn {
	uint32_t id;
	int fd;
	SSL *ssl;
	enum lg_conn_state st;
	bool out_armed;	     /* EPOLLOUT requested */
	struct lg_req *q;    /* ring of cap entries (the in-flight limit) */
	uint32_t cap, head, n;
	uint32_t n_written;  /* entries from head fully written */
	uint32_t w_seg, w_off; /* progress in the first unwritten entry */
	char *rbuf;
	uint32_t rlen, rcap;
	uint32_t failures;
	bool in_stream;	     /* reading the chunked body of the head request */
	int stream_status;
};

/* One chunk of a chunked answer (SubscribeToShard) to the head request r;
 * the request completes through lg_on_response (empty body) after the last
 * chunk. */
typedef void (*lg_on_chunk)(void *arg, struct lg_conn *c, struct lg_req *r, const char *data,
			    uint32_t len);

struct lg_net {
	const struct lg_config *cfg;
	SSL_CTX *ctx;
	int ep;
	struct sockaddr_storage *addr;
	uint32_t addr_len;
	lg_on_chunk on_chunk; /* NULL: a chunked answer is malformed */
};

/* Completed response handed to the caller: status, body, and the request. */
typedef void (*lg_on_response)(void *arg, struct lg_conn *c, struct lg_req *r, int status,
			       const char *body, uint32_t body_len);
/* A connection failed: every request still queued is reported with status 0
 * (body is the reason). */

/* Returns 0 or -1 with a message on stderr. */
int lg_net_init(struct lg_net *n, const struct lg_config *cfg);
void lg_net_fini(struct lg_net *n);
/* Starts a non-blocking connect. Returns 0 or -errno. */
int lg_conn_start(struct lg_net *n, struct lg_conn *c);
/* Handles readiness: progresses connect/handshake, writes what is queued,
 * reads and completes responses through cb. */
void lg_conn_event(struct lg_net *n, struct lg_conn *c, uint32_t events, lg_on_response cb,
		   void *arg);
/* Writes as much queued request data as the socket takes. */
void lg_conn_flush(struct lg_net *n, struct lg_conn *c, lg_on_response cb, void *arg);
/* Next free request slot, or NULL when cap requests are in flight. */
struct lg_req *lg_conn_slot(struct lg_conn *c);
/* Queues the slot returned by lg_conn_slot. */
void lg_conn_push(struct lg_conn *c);

#endif

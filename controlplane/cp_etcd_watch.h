/* SPDX-License-Identifier: Apache-2.0 */
/* The parser of an etcd watch stream (the JSON gateway's POST /v3/watch):
 * an HTTP/1.1 200 answer with a chunked body that never ends while the
 * watch lives, carrying one JSON object per line:
 *   {"result":{"header":{"revision":"R"},"created":true}}
 *   {"result":{"header":{...},"events":[{"type":"DELETE","kv":{...}}, ...]}}
 *   {"result":{"canceled":true,"compact_revision":"C"}}   (C compacted away)
 *   {"error":{...}}
 * It is incremental (bytes are fed as they arrive, split anywhere: the
 * state is kept between calls, nothing is rescanned) and bounded: the head
 * is at most EW_HEAD_MAX_BYTES, one message at most ETCD_MSG_MAX_BYTES
 * (a 10000-shard CreateStream is one revision, so one message of about 5
 * MiB), a chunk-size line at most 32 bytes, the events of one message at
 * most EW_EVENTS_MAX. What the network sent reaches it: tests/fuzz/
 * fuzz_etcd_watch.c. */
#ifndef SL_CONTROLPLANE_CP_ETCD_WATCH_H
#define SL_CONTROLPLANE_CP_ETCD_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "controlplane/cp_etcd.h"

#define EW_HEAD_MAX_BYTES 8192u
#define EW_EVENTS_MAX 65536u /* above ETCD_TXN_OPS_MAX: one txn's events */

/* One event: key and value base64-decoded in place, NUL-terminated, valid
 * only during the callback. */
struct ew_event {
	bool del; /* DELETE (a lease expiry deletes too); else PUT */
	const char *key, *value;
	size_t key_len, value_len;
	int64_t mod_rev;
};

/* One message's facts, handed to the callback after its events. */
struct ew_msg {
	int64_t revision;	  /* header.revision */
	int64_t compact_revision; /* canceled because the start revision was compacted */
	bool created, canceled;
	uint32_t n_events;
};

/* ev != NULL: one event of the message m (m's counts not final yet);
 * ev == NULL: the message m is whole. Returns 0, or <0 to stop the feed
 * with that error. */
typedef int (*ew_cb)(void *arg, const struct ew_msg *m, const struct ew_event *ev);

enum ew_state {
	EW_HEAD = 0,	   /* reading the status line and headers */
	EW_CHUNK_SIZE = 1, /* reading a chunk-size line */
	EW_CHUNK_DATA = 2, /* inside a chunk's data */
	EW_CHUNK_END = 3,  /* the CRLF after a chunk's data */
	EW_DONE = 4,	   /* the last chunk came: the stream ended */
	EW_FAILED = 5,	   /* an error was returned; only ew_reset leaves it */
};

struct ew_parser {
	enum ew_state state;
	char head[EW_HEAD_MAX_BYTES];
	size_t head_len;
	char line[32]; /* a chunk-size line (+ extensions) */
	size_t line_len;
	uint8_t crlf_seen;    /* EW_CHUNK_END: bytes of CRLF consumed */
	uint64_t chunk_left;  /* EW_CHUNK_DATA: bytes of the chunk still to come */
	char *msg;	      /* ETCD_MSG_MAX_BYTES: the current line */
	size_t msg_len;
	struct json_tok *toks; /* ETCD_TOKS_MAX */
};

/* Allocates the buffers (touched only as used). 0 or -ENOMEM. */
int ew_init(struct ew_parser *p);
void ew_free(struct ew_parser *p);
/* Forgets everything: for a new stream on a new connection. */
void ew_reset(struct ew_parser *p);
/* Feeds data[0..n). Calls cb for each event and each whole message.
 * Returns 0 (more wanted), 1 (the stream ended: etcd closed the watch),
 * -EPROTO (not HTTP/1.1 200 chunked, bad chunk framing, a message that is
 * not JSON of the shape above, bad base64), -EMSGSIZE (a bound above),
 * -ECONNABORTED (an {"error":...} message), or cb's error. After an error
 * the parser stays failed until ew_reset. */
int ew_feed(struct ew_parser *p, const char *data, size_t n, ew_cb cb, void *arg);

#endif

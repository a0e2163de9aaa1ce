/* SPDX-License-Identifier: Apache-2.0 */
/* What the load generator reads of a SubscribeToShard answer over HTTP/1.1:
 * a chunked body (one chunk per event, but a message may span chunks) of
 * application/vnd.amazon.eventstream messages. Pure functions over caller
 * buffers, bounded, no allocation; reached by tests/fuzz/fuzz_lg_sub.c
 * because the bytes come from the server under test. Private to perf/. */
#ifndef SL_PERF_LG_SUB_H
#define SL_PERF_LG_SUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest chunk and largest message accepted: a SubscribeToShard event
 * carries at most what one GetRecords would (10 MB of data, base64'd), so
 * 16 MiB bounds both with room for the JSON around it. */
#define LG_SUB_MSG_MAX (16u << 20)
/* A chunk-size line ("1f4a;ext\r\n") and the trailers after the zero chunk. */
#define LG_CHUNK_LINE_MAX 64u
#define LG_CHUNK_TRAILER_MAX 8192u

/* One chunk at p[0..len): returns the bytes it takes (size line, data,
 * CRLF; for the zero chunk the trailers and the empty line too), 0 when more
 * bytes are needed, -1 when malformed or over LG_SUB_MSG_MAX. The data is
 * p[*data_off .. *data_off + *data_len); *data_len 0 is the last chunk. */
int64_t lg_chunk_next(const char *p, uint32_t len, uint32_t *data_off, uint32_t *data_len);

enum lg_ev_kind {
	LG_EV_RECORDS = 0, /* event SubscribeToShardEvent */
	LG_EV_INITIAL = 1, /* event initial-response */
	LG_EV_OTHER = 2,   /* another event type (ignored) */
	LG_EV_ERROR = 3,   /* message-type exception or error */
};

struct lg_sub_event {
	enum lg_ev_kind kind;
	const char *type; /* :event-type / :exception-type / :error-code value */
	uint32_t type_len;
	const char *payload;
	uint32_t payload_len;
};

/* One eventstream message at in[0..len): checks the prelude and message
 * CRC-32s and every header length. Returns the message length, 0 when more
 * bytes are needed, -1 when malformed. */
int64_t lg_sub_message(const uint8_t *in, size_t len, struct lg_sub_event *ev);

/* What a SubscribeToShardEvent payload (JSON) holds for the generator. */
struct lg_sub_records {
	uint32_t nrec;
	uint64_t bytes;		  /* decoded data bytes (from the base64 lengths) */
	double millis_behind;	  /* -1 when absent */
	const char *cont;	  /* ContinuationSequenceNumber, NULL when absent */
	uint32_t cont_len;
	bool child_shards;	  /* ChildShards: the shard is closed and read to its end */
};

/* Scans a SubscribeToShardEvent payload; on_ts (may be NULL) gets each
 * record's ApproximateArrivalTimestamp (epoch seconds), on_data (may be
 * NULL) each record's Data, still base64. */
void lg_sub_records(const char *p, uint32_t len, struct lg_sub_records *out,
		    void (*on_ts)(void *arg, double ts_s),
		    void (*on_data)(void *arg, const char *b64, uint32_t n), void *arg);

#endif

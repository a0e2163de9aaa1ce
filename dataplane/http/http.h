/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/1.1 request-head parser (RFC 9112): stateless and zero-copy, in the
 * manner of picohttpparser. It is layer one of three: the per-connection state
 * machine (dataplane/http/http_conn.c) feeds it bytes and owns buffering and
 * bodies; the API handlers see only parsed requests.
 *
 * The parser never allocates and never reads past buf[len). Slices in the
 * result point into buf.
 *
 * A connection that receives its head in pieces uses the resumable entry
 * point (http_parse_request_resume): a small per-connection state remembers
 * how far the head has been checked, so each call examines only the new
 * bytes and the full parse runs once, when the answer is known (in the manner
 * of picohttpparser's last_len). A client trickling a 16 KiB head one byte
 * per TLS record costs O(head), not O(head^2). */
#ifndef SL_DATAPLANE_HTTP_H
#define SL_DATAPLANE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/slice.h"

struct http_req {
	struct sl_slice method;
	struct sl_slice target; /* request-target as sent, e.g. "/?a=b" */
	struct sl_slice path;	/* target before '?' */
	struct sl_slice query;	/* target after '?', empty when none */
	uint8_t version_minor;	/* 0 or 1 (HTTP/1.0, HTTP/1.1) */
	struct sl_header *hdrs;
	uint32_t nhdrs;
	/* Derived from the headers: */
	bool has_content_length;
	uint64_t content_length;
	bool chunked;	      /* Transfer-Encoding: chunked present */
	bool keep_alive;      /* 1.1 default true unless "Connection: close";
				 1.0 only with "Connection: keep-alive" */
	bool expect_continue; /* Expect: 100-continue */
};

/* Parse results (negative values are errors carrying the HTTP status to
 * answer before closing the connection). */
#define HTTP_NEED_MORE 0
#define HTTP_E_BAD (-400)	      /* malformed request line / header */
#define HTTP_E_HEAD_TOO_LARGE (-431)  /* head longer than max_head_bytes or
					 more than max_hdrs headers */
#define HTTP_E_VERSION (-505)	      /* not HTTP/1.0 or HTTP/1.1 */
#define HTTP_E_NOT_IMPL (-501)	      /* unsupported Transfer-Encoding */

/* Parses one request head from buf[0..len). Returns the head length in bytes
 * (> 0, including the final CRLFCRLF) when complete, HTTP_NEED_MORE when the
 * head is incomplete and still within max_head_bytes, or an HTTP_E_* value.
 * Accepts bare LF line endings (RFC 9112 §2.2). Rejects bare CR, obsolete
 * line folding, whitespace before the colon, control characters in values,
 * conflicting or malformed Content-Length, and Content-Length together with
 * Transfer-Encoding (request smuggling). hdrs receives up to max_hdrs headers. */
int http_parse_request(const char *buf, size_t len, struct http_req *req,
		       struct sl_header *hdrs, uint32_t max_hdrs, uint32_t max_head_bytes);

/* Where a resumable parse stopped. Offsets only, never pointers, so the
 * caller's buffer may move (realloc) between calls. Zero it (or call
 * http_parse_state_init) before the first byte of each request head. */
struct http_parse_state {
	uint32_t pos;	   /* bytes of buf already examined */
	uint32_t nhdrs;	   /* header lines begun so far */
	uint8_t phase;	   /* enum hp_phase (http_parse.c) */
	uint8_t aux;	   /* per-phase counter (see http_parse.c) */
	bool bad_version;  /* HTTP/d.d seen that is not 1.0 or 1.1 (505 at EOL) */
	/* Work done, for tests and stats: bytes looked at by the incremental
	 * scan plus the window of every full parse, and how many full parses
	 * (at most two per head: the first look, and the decision). */
	uint64_t examined_bytes;
	uint32_t full_parses;
};

static inline void http_parse_state_init(struct http_parse_state *st)
{
	*st = (struct http_parse_state){ 0 };
}

/* Same answer as http_parse_request(buf, len, ...) on the same bytes, but
 * examines only buf[st->pos..len): st says how far earlier calls got, and
 * buf[0..st->pos) must hold the same bytes as then (the buffer may have
 * moved). The first call parses in full (a head usually arrives whole).
 * After that, while the head is incomplete and valid so far it returns
 * HTTP_NEED_MORE after a scan of the new bytes alone; once a decision is
 * possible (the end of the head, an error, the header or size cap) it runs
 * the full parse once more and returns its result, filling req and hdrs. Calls
 * after a decision parse in full again (same answer), so a caller whose
 * buffer moved may simply ask again. len < st->pos is a caller bug. */
int http_parse_request_resume(const char *buf, size_t len, struct http_parse_state *st,
			      struct http_req *req, struct sl_header *hdrs, uint32_t max_hdrs,
			      uint32_t max_head_bytes);

/* The Date header value, "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110
 * §5.6.7), cached per io lcore and formatted again only when the second
 * changes (http_date.c). Zero-initialise before the first update. */
#define HTTP_DATE_LEN 29
struct http_date {
	int64_t sec;		     /* the wall-clock second str shows */
	uint64_t n_formatted;	     /* formatting runs, for tests and stats */
	uint8_t len;		     /* 0 until the first update, then HTTP_DATE_LEN */
	char str[HTTP_DATE_LEN + 1]; /* NUL-terminated */
};

/* Makes d show wall-clock second now_s (seconds since the epoch). Returns 1
 * when it formatted a new value, 0 when d already showed that second (or
 * now_s cannot be shown and d keeps its previous value), -EINVAL when now_s
 * cannot be shown and d has no value yet. */
int http_date_update(struct http_date *d, int64_t now_s);

/* Reason phrase for a status code ("OK", "Bad Request", ...). */
const char *http_reason(uint16_t status);

#endif

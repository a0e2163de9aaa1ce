/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/1.1 request-head parser (RFC 9112): stateless and zero-copy, in the
 * manner of picohttpparser. It is layer one of three: the per-connection state
 * machine (dataplane/http/http_conn.c) feeds it bytes and owns buffering and
 * bodies; the API handlers see only parsed requests.
 *
 * The parser never allocates and never reads past buf[len). Slices in the
 * result point into buf. */
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

/* Reason phrase for a status code ("OK", "Bad Request", ...). */
const char *http_reason(uint16_t status);

#endif

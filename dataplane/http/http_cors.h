/* SPDX-License-Identifier: Apache-2.0 */
/* CORS as Kinesis answers browsers (the Fetch standard's CORS protocol).
 *
 * A browser page that calls Kinesis (the browser build of the AWS SDKs)
 * first sends a preflight, OPTIONS with Origin and
 * Access-Control-Request-Method, which carries no signature: it is answered
 * 200 without authentication, allowing the method and echoing the headers
 * asked for, so the browser then sends the signed POST. Every answer to a
 * request with an allowed Origin, success or error, carries
 * Access-Control-Allow-Origin and Access-Control-Expose-Headers, or the page
 * could not read it (nor the request id of an error).
 *
 * Which origins are allowed is --cors-origins: "*" (the default, as AWS:
 * any origin, answered with "*"), a comma-separated list of origins
 * (answered with the request's own origin and Vary: Origin), or "" (off: no
 * CORS headers, OPTIONS answered as any other method). Nothing here copies
 * a request byte: the values point into the configuration, static strings
 * or the request's own (already validated) headers. */
#ifndef SL_DATAPLANE_HTTP_CORS_H
#define SL_DATAPLANE_HTTP_CORS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/slice.h"

struct conn;
struct lcore_ctx;

/* What AWS JSON services (Kinesis among them) expose to pages and how long
 * a browser may cache a preflight answer (48 hours), as they answer. */
#define HTTP_CORS_EXPOSE \
	"x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date"
#define HTTP_CORS_MAX_AGE_S "172800"
/* Headers http_cors_headers may add to one answer. */
#define HTTP_CORS_HDRS_MAX 6

/* The configured origin that allows a request with Origin value origin:
 * the slice "*" for the wildcard, the matching list entry, or an empty
 * slice (not allowed, or CORS off). origins is the --cors-origins value. */
struct sl_slice http_cors_match(const char *origins, struct sl_slice origin);

/* What Access-Control-Allow-Origin says to a request with headers
 * hdrs[0..nhdrs): http_cors_match of its Origin, an empty slice when it has
 * none. Decided once, when the head is parsed: an answer may be made after
 * the request bytes are gone (control-plane operations). */
struct sl_slice http_cors_allow(const char *origins, const struct sl_header *hdrs,
				uint32_t nhdrs);

/* The CORS headers of an answer whose http_cors_allow was allow (none when
 * it is empty). preflight: the answer is http_cors_preflight's, and
 * hdrs[0..nhdrs) the preflight's headers (read only then); lower: names in
 * lower case (HTTP/2). Fills out and returns how many. Slices point into
 * allow, static strings or hdrs. */
uint32_t http_cors_headers(struct sl_slice allow, const struct sl_header *hdrs, uint32_t nhdrs,
			   bool preflight, bool lower, struct sl_header out[HTTP_CORS_HDRS_MAX]);

/* The first step of dispatch: when c's request is a preflight from an
 * allowed origin (OPTIONS with Origin and Access-Control-Request-Method),
 * answers it (200, empty body, no authentication) and returns true;
 * otherwise returns false and the request goes on as any other. */
bool http_cors_preflight(struct lcore_ctx *lc, struct conn *c);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Answering a CORS preflight on a connection (http_cors.h); the decisions
 * themselves are http_cors.c. */
#include "dataplane/http/http_cors.h"

#include "dataplane/http/http_internal.h"

bool http_cors_preflight(struct lcore_ctx *lc, struct conn *c)
{
	(void)lc;
	if (!sl_slice_eq(c->req.method, "OPTIONS"))
		return false;
	/* An origin that is not allowed gets no preflight answer: its OPTIONS
	 * goes on like any request (and is refused for want of a signature),
	 * so the browser never sends the real one. */
	if (!c->cors_allow.len ||
	    !sl_header_find(c->hdrs, c->req.nhdrs, "access-control-request-method"))
		return false;
	c->cors_preflight = true;
	http_conn_respond(lc, c, 200, "", 0);
	c->cors_preflight = false;
	return true;
}

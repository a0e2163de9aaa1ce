/* SPDX-License-Identifier: Apache-2.0 */
/* What Kinesis answers before it authenticates: a request it cannot route
 * to an operation. Recorded against the service by kinesalite (index.js,
 * test/connection.js), in this order:
 *  1. a method other than POST, or a Content-Type that is neither
 *     application/x-amz-json-1.1 nor application/json (nor another type the
 *     dispatcher serves): 403, no Content-Type, an XML body:
 *     AccessDeniedException "Unable to determine service/operation name to
 *     be authorized" when the request carries authentication (an
 *     Authorization header or an X-Amz-Algorithm query parameter), else
 *     MissingAuthenticationTokenException "Missing Authentication Token".
 *     application/x-amz-json-1.0 is refused so too: it is not Kinesis's.
 *  2. application/json (Coral's older envelope): 200, application/json,
 *     {"Output":{"__type":"com.amazon.coral.service#UnknownOperationException",
 *     "message":null},"Version":"1.0"}, or the SerializationException form
 *     ("Message":null) for a body that is not JSON. Nothing is served so.
 *  3. no X-Amz-Target, or one naming no Kinesis operation: 400
 *     {"__type":"UnknownOperationException"} (no message).
 *  4. an empty application/x-amz-json-1.1 body: 400
 *     {"__type":"SerializationException"}.
 * Every one of these depends only on the request's own bytes, never on
 * what the server holds, so answering before authentication tells an
 * unauthenticated peer nothing; none costs more than a header scan (the
 * application/json body parse is bounded by the lcore's token array and is
 * never on the record path).
 *
 * An HTTP/1.1 request whose body is still arriving and whose signature's
 * head check fails gets steps 1-3 from its head alone (ops_head_check ->
 * ops_shape_head_ok), and the connection is closed after the answer: an
 * unauthenticated body is never buffered. There an application/json body
 * is not read (step 2 answers UnknownOperationException). HTTP/2 streams
 * refused at their head reach ops_shape_ok through dispatch, without their
 * body (c->body NULL).
 *
 * Not reproduced: Kinesis also answers a body that is not JSON with
 * SerializationException before authenticating; here that waits for the
 * signature (the record path would otherwise parse every body twice). */
#include <string.h>

#include "common/json.h"
#include "dataplane/api/api.h"
#include "dataplane/http/http_internal.h"
#include "dataplane/ops/ops.h"

enum shape_ct {
	SHAPE_CT_BAD = 0,    /* refused (step 1) */
	SHAPE_CT_JSON11 = 1, /* application/x-amz-json-1.1 */
	SHAPE_CT_LEGACY = 2, /* application/json */
	SHAPE_CT_OTHER = 3,  /* another type the dispatcher serves */
};

struct sl_slice ops_media_type(const struct conn *c)
{
	const struct sl_header *h = sl_header_find(c->hdrs, c->req.nhdrs, "content-type");
	struct sl_slice v = h ? h->value : (struct sl_slice){ "", 0 };
	for (uint32_t i = 0; i < v.len; i++)
		if (v.ptr[i] == ';') {
			v.len = i;
			break;
		}
	while (v.len && (v.ptr[v.len - 1] == ' ' || v.ptr[v.len - 1] == '\t'))
		v.len--;
	while (v.len && (v.ptr[0] == ' ' || v.ptr[0] == '\t')) {
		v.ptr++;
		v.len--;
	}
	return v;
}

static enum shape_ct classify(const struct conn *c, bool ct_ok)
{
	struct sl_slice t = ops_media_type(c);
	if (sl_slice_caseeq(t, "application/x-amz-json-1.1"))
		return SHAPE_CT_JSON11;
	if (sl_slice_caseeq(t, "application/json"))
		return SHAPE_CT_LEGACY;
	if (sl_slice_caseeq(t, "application/x-amz-json-1.0"))
		return SHAPE_CT_BAD;
	return ct_ok ? SHAPE_CT_OTHER : SHAPE_CT_BAD;
}

/* True when the request carries authentication of either form. */
static bool has_auth(const struct conn *c)
{
	if (sl_header_find(c->hdrs, c->req.nhdrs, "authorization"))
		return true;
	struct sl_slice q = c->req.query;
	static const char key[] = "X-Amz-Algorithm";
	for (uint32_t i = 0; i < q.len;) {
		uint32_t j = i;
		while (j < q.len && q.ptr[j] != '&')
			j++;
		uint32_t k = i;
		while (k < j && q.ptr[k] != '=')
			k++;
		if (k - i == sizeof(key) - 1 && memcmp(q.ptr + i, key, sizeof(key) - 1) == 0)
			return true;
		i = j + 1;
	}
	return false;
}

/* Empty as sent: no bytes and none announced. An HTTP/2 stream refused at
 * its head (ops_head_ok) reaches dispatch without its body (c->body NULL,
 * or a Content-Length announcing one); that one is answered on its
 * signature. */
static bool body_empty(const struct conn *c)
{
	if (c->body_len != 0 || c->body == NULL)
		return false;
	const struct sl_header *h = sl_header_find(c->hdrs, c->req.nhdrs, "content-length");
	if (!h)
		return true;
	for (uint32_t i = 0; i < h->value.len; i++)
		if (h->value.ptr[i] >= '1' && h->value.ptr[i] <= '9')
			return false;
	return true;
}

/* Answers body with status and Content-Type ctype (NULL: Kinesis's JSON
 * type, "": none), and audits the refusal as type. */
static void answer(struct lcore_ctx *lc, struct conn *c, uint16_t status, const char *ctype,
		   const char *body, const char *type)
{
	ops_audit_refusal(lc, c, type, status);
	c->resp_ctype = ctype;
	http_conn_respond(lc, c, status, body, (uint32_t)strlen(body));
}

/* head: the body is still to come (HTTP/1.1, ops_head_shape_ok): the
 * connection closes after the answer, and an application/json body is not
 * parsed (it gets the UnknownOperationException envelope). */
static bool shape_ok(struct lcore_ctx *lc, struct conn *c, bool ct_ok, bool head)
{
	static const char denied[] =
		"<AccessDeniedException>\n"
		"  <Message>Unable to determine service/operation name to be authorized</Message>\n"
		"</AccessDeniedException>\n";
	static const char missing[] = "<MissingAuthenticationTokenException>\n"
				      "  <Message>Missing Authentication Token</Message>\n"
				      "</MissingAuthenticationTokenException>\n";
	static const char legacy_unknown[] =
		"{\"Output\":{\"__type\":\"com.amazon.coral.service#UnknownOperationException\","
		"\"message\":null},\"Version\":\"1.0\"}";
	static const char legacy_ser[] =
		"{\"Output\":{\"__type\":\"com.amazon.coral.service#SerializationException\","
		"\"Message\":null},\"Version\":\"1.0\"}";

	enum shape_ct ct = classify(c, ct_ok);
	if (head)
		c->req.keep_alive = false; /* set before answering: h1_respond reads it */
	if (!sl_slice_eq(c->req.method, "POST") || ct == SHAPE_CT_BAD) {
		bool auth = has_auth(c);
		answer(lc, c, 403, "", auth ? denied : missing,
		       auth ? "AccessDeniedException" : "MissingAuthenticationTokenException");
		return false;
	}
	if (ct == SHAPE_CT_LEGACY) {
		struct json_doc d;
		bool bad = !head && c->body_len > 0 &&
			   json_parse(&d, (const char *)c->body, c->body_len, lc->toks,
				      lc->max_toks, 32, NULL) < 0;
		answer(lc, c, 200, "application/json", bad ? legacy_ser : legacy_unknown,
		       bad ? "SerializationException" : "UnknownOperationException");
		return false;
	}
	const struct sl_header *th = sl_header_find(c->hdrs, c->req.nhdrs, "x-amz-target");
	if (!th || !api_op_lookup(th->value)) {
		answer(lc, c, 400, NULL, "{\"__type\":\"UnknownOperationException\"}",
		       "UnknownOperationException");
		return false;
	}
	if (!head && ct == SHAPE_CT_JSON11 && body_empty(c)) {
		answer(lc, c, 400, NULL, "{\"__type\":\"SerializationException\"}",
		       "SerializationException");
		return false;
	}
	return true;
}

bool ops_shape_ok(struct lcore_ctx *lc, struct conn *c, bool ct_ok)
{
	return shape_ok(lc, c, ct_ok, false);
}

bool ops_shape_head_ok(struct lcore_ctx *lc, struct conn *c, bool ct_ok)
{
	bool keep = c->req.keep_alive;
	if (shape_ok(lc, c, ct_ok, true))
		c->req.keep_alive = keep; /* nothing answered: as it was */
	else
		return false;
	return true;
}

struct sl_slice ops_head_query(const struct conn *c, const struct sl_header *hdrs, uint32_t n)
{
	const struct sl_header *p = sl_header_find(hdrs, n, ":path");
	if (!p)
		return c->req.query;
	for (uint32_t i = 0; i < p->value.len; i++)
		if (p->value.ptr[i] == '?')
			return (struct sl_slice){ p->value.ptr + i + 1, p->value.len - i - 1 };
	return (struct sl_slice){ p->value.ptr + p->value.len, 0 };
}

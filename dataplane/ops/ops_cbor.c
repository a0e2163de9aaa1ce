/* SPDX-License-Identifier: Apache-2.0 */
/* application/x-amz-cbor-1.1 at the boundary (the AWS SDK for Java's
 * default): a CBOR request's body is transcoded once to the JSON text every
 * operation decodes (dataplane/api/cbor.h), and every answer to it, errors
 * included, is transcoded back to CBOR on its way out. Nothing past this
 * file knows the request was CBOR; SigV4 has already hashed the CBOR bytes.
 *
 * The JSON lives in a buffer of its own (c->cbor_json), allocated to the
 * exact measured length and charged to the lcore's buffered-bytes budget
 * (it can be ~6x the CBOR for control-character text, 4/3 for blobs): it
 * replaces c->body, so record data is base64-decoded in place there and the
 * log lcores read it until the request is done (ops_cbor_release from
 * http_conn_request_done, the end of ops_dispatch, or http_conn_reap). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "dataplane/api/cbor.h"
#include "dataplane/http/http_internal.h"
#include "dataplane/ops/ops.h"

bool ops_cbor_is_cbor(const struct conn *c)
{
	return sl_slice_caseeq(ops_media_type(c), CBOR_CONTENT_TYPE);
}

void ops_cbor_release(struct lcore_ctx *lc, struct conn *c)
{
	if (!c->cbor_json)
		return;
	free(c->cbor_json);
	c->cbor_json = NULL;
	http_conn_mem_uncharge(lc, c, c->cbor_json_bytes);
	c->cbor_json_bytes = 0;
}

bool ops_cbor_request(struct lcore_ctx *lc, struct conn *c)
{
	ops_cbor_release(lc, c);
	int64_t n = cbor_to_json(c->body, c->body_len, NULL, 0);
	if (n < 0) {
		/* As for a body that is not JSON: Kinesis's bare type. */
		static const char bare[] = "{\"__type\":\"SerializationException\"}";
		http_conn_respond(lc, c, 400, bare, sizeof(bare) - 1);
		return false;
	}
	uint64_t bytes = (uint64_t)n + 1;
	if (http_conn_mem_charge(lc, c, bytes) < 0) {
		/* Invented wording (dataplane/api/README.md): the budget of
		 * buffered bytes is full; SDKs retry a 503. */
		http_conn_respond_error(lc, c, 503, "ServiceUnavailable",
					"The server is busy; retry the request.");
		return false;
	}
	c->cbor_json = malloc(bytes);
	if (!c->cbor_json) {
		http_conn_mem_uncharge(lc, c, bytes);
		http_conn_respond_error(lc, c, 500, "InternalFailure", "Out of memory.");
		return false;
	}
	c->cbor_json_bytes = bytes;
	int64_t w = cbor_to_json(c->body, c->body_len, c->cbor_json, (size_t)n);
	BUG_ON(w != n); /* the same walk over the same bytes */
	c->cbor_json[n] = 0;
	c->body = (uint8_t *)c->cbor_json;
	c->body_len = (uint32_t)n;
	return true;
}

void ops_cbor_respond(struct lcore_ctx *lc, struct conn *c, uint16_t status, const char *body,
		      uint32_t body_len, const char *rid, const char *id2)
{
	/* {"__type":"InternalFailure"}: what an answer we cannot transcode
	 * (never expected: the JSON is ours) or cannot allocate becomes. */
	static const uint8_t internal[] = { 0xbf, 0x66, '_', '_', 't', 'y', 'p', 'e', 0x6f,
					    'I', 'n', 't', 'e', 'r', 'n', 'a', 'l',
					    'F', 'a', 'i', 'l', 'u', 'r', 'e', 0xff };
	if (body_len == 0) { /* nothing to transcode: an empty body stays empty */
		c->mux->respond(lc, c, status, body, 0, rid, id2);
		return;
	}
	int64_t n = cbor_from_json(body, body_len, NULL, 0);
	uint8_t *out = n >= 0 ? malloc(n ? (size_t)n : 1) : NULL;
	if (out && cbor_from_json(body, body_len, out, (size_t)n) == n) {
		c->mux->respond(lc, c, status, (const char *)out, (uint32_t)n, rid, id2);
	} else {
		SL_WARN("CBOR answer not transcoded (%lld), %u bytes", (long long)n, body_len);
		c->mux->respond(lc, c, 500, (const char *)internal, sizeof(internal), rid, id2);
	}
	free(out);
}

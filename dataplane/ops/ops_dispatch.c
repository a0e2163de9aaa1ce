/* SPDX-License-Identifier: Apache-2.0 */
/* Layer three of HTTP: one whole request -> authentication -> operation.
 *
 * Order of checks, Kinesis's: first what it answers before authenticating
 * (method, Content-Type, X-Amz-Target, an empty body: ops_shape.c; answers
 * that depend only on the request's own bytes), then SigV4, then the
 * operation's own decoding and validation (control plane or data path). An
 * unauthenticated peer learns nothing about what the server holds and costs
 * us one HMAC at most. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bug.h"
#include "common/log.h"
#include "dataplane/ctl/ctl.h"
#include "common/audit.h"
#include "common/hex.h"
#include "common/json.h"
#include "crypto/policy.h"
#include "crypto/sigv4.h"
#include "dataplane/api/api.h"
#include "dataplane/http/http_cors.h"
#include "dataplane/http/http_internal.h"
#include "dataplane/ops/ops.h"
#include "dataplane/log/log.h"
#include "dataplane/route/route.h"
#include "dataplane/metrics/mx.h"

static bool content_type_ok(const struct conn *c)
{
	struct sl_slice v = ops_media_type(c);
	return sl_slice_caseeq(v, "application/x-amz-json-1.1") ||
	       sl_slice_caseeq(v, "application/x-amz-json-1.0") || ops_cbor_is_cbor(c);
}

/* Client-supplied bytes for the audit log: printable ASCII only (anything
 * else becomes '?'), so every line stays valid UTF-8 JSON. */
static void ascii_copy(char *out, size_t cap, const char *p, size_t n)
{
	size_t i = 0;
	for (; i < n && i + 1 < cap; i++)
		out[i] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?';
	out[i] = 0;
}

/* The operation name for the audit log, also for unknown targets. */
static void target_name(const struct sl_header *hdrs, uint32_t nhdrs, char *out, size_t cap)
{
	const struct sl_header *th = sl_header_find(hdrs, nhdrs, "x-amz-target");
	const struct api_op_info *op = th ? api_op_lookup(th->value) : NULL;
	if (op)
		snprintf(out, cap, "%s", op->name);
	else if (th)
		ascii_copy(out, SL_MIN(cap, (size_t)65), th->value.ptr, th->value.len);
	else
		out[0] = 0;
}

/* The access key a request claims (for the audit log of a failure): only
 * the key id, which is not secret. */
static void claimed_key(const struct sl_header *hdrs, uint32_t nhdrs, char *out, size_t cap)
{
	const struct sl_header *h = sl_header_find(hdrs, nhdrs, "authorization");
	struct sigv4_auth a;
	out[0] = 0;
	if (h && sigv4_parse_auth(h->value, &a, NULL) == 0)
		ascii_copy(out, cap, a.access_key.ptr, a.access_key.len);
}

void ops_audit(struct lcore_ctx *lc, const struct conn *c, const char *principal, const char *op,
	       const char *stream, const char *result, uint16_t status)
{
	struct audit_event e = { .principal = principal, .source = c->peer, .operation = op,
				 .stream = stream, .result = result, .status = status };
	audit_post(lc->sh->audit, &e);
}

/* Log who failed and why, never the signature or any secret. */
static void audit_auth_failure(struct lcore_ctx *lc, const struct conn *c,
			       const struct sl_header *hdrs, uint32_t nhdrs,
			       const struct sigv4_error *err)
{
	char key[129], op[80];
	SL_INFO("auth failure from %s: %s", c->peer, err->type);
	if (lc->mx)
		mx_sigv4_fail(lc->mx, err->type);
	claimed_key(hdrs, nhdrs, key, sizeof(key));
	target_name(hdrs, nhdrs, op, sizeof(op));
	ops_audit(lc, c, key, op, "", err->type, err->http_status);
}

void ops_audit_refusal(struct lcore_ctx *lc, const struct conn *c, const char *type,
		       uint16_t status)
{
	char key[129], op[80];
	claimed_key(c->hdrs, c->req.nhdrs, key, sizeof(key));
	target_name(c->hdrs, c->req.nhdrs, op, sizeof(op));
	ops_audit(lc, c, key, op, "", type, status);
}

static bool authenticate(struct lcore_ctx *lc, struct conn *c, struct sigv4_identity *id)
{
	struct sigv4_request sr = {
		.method = c->req.method,
		.path = c->req.path,
		.query = c->req.query,
		.hdrs = c->hdrs,
		.nhdrs = c->req.nhdrs,
		.body = c->body,
		.body_len = c->body_len,
		.now_s = (int64_t)time(NULL),
	};
	struct sigv4_error err;
	if (sigv4_verify(lc->sv, &sr, id, &err) == 0)
		return true;
	audit_auth_failure(lc, c, c->hdrs, c->req.nhdrs, &err);
	http_conn_respond_error(lc, c, err.http_status, err.type, err.message);
	return false;
}

bool ops_head_ok(struct lcore_ctx *lc, const struct conn *c, const struct sl_header *hdrs,
		 uint32_t nhdrs, struct sigv4_error *err, bool audit)
{
	struct sigv4_request sr = { .hdrs = hdrs, .nhdrs = nhdrs,
				    .query = ops_head_query(c, hdrs, nhdrs),
				    .now_s = (int64_t)time(NULL) };
	if (sigv4_check_head(lc->sv, &sr, err) == 0)
		return true;
	if (audit)
		audit_auth_failure(lc, c, hdrs, nhdrs, err);
	return false;
}

int ops_head_check(struct lcore_ctx *lc, struct conn *c, struct sigv4_error *err)
{
	if (ops_head_ok(lc, c, c->hdrs, c->req.nhdrs, err, false))
		return 0;
	/* It cannot be authentic: answer what Kinesis answers before it
	 * looks at the signature, if anything; else the signature's error. */
	if (!ops_shape_head_ok(lc, c, content_type_ok(c)))
		return 1;
	audit_auth_failure(lc, c, c->hdrs, c->req.nhdrs, err);
	return -1;
}

/* The resource a request touches, resolved once from its body and used by
 * both authorisation and the audit log. */
struct dp_resource {
	char stream[129];  /* its stream's name, "" when none or unreadable */
	char arn[2304];	   /* what policies are checked against; "*" when none */
};

/* One string member of the body, or false (absent, not a string, or longer
 * than any valid value: the operation's own validation rejects those). */
static bool body_str_in(const struct json_doc *d, uint32_t obj, const char *key, char *out,
			size_t cap)
{
	int32_t v = json_obj_get(d, obj, key);
	if (v < 0 || d->toks[v].type != JSON_STRING)
		return false;
	int64_t n = json_str_unescape(d, (uint32_t)v, out, cap);
	if (n < 0 || (size_t)n >= cap)
		return false;
	out[n] = 0;
	return true;
}

static bool body_str(const struct json_doc *d, const char *key, char *out, size_t cap)
{
	return body_str_in(d, 0, key, out, cap);
}

/* The stream a ListShards NextToken names: our tokens are the hex of
 * "NAME/created/last shard/max..." (controlplane/cp_streams.c), and a page
 * after the first lists that stream, so it is authorised as that stream
 * like the first page (on '*' a key allowed only on its stream could not
 * page, and a Deny on a stream did not bind a token naming it). The hex is
 * decoded by the handler's own codec (common/hex.h); false when it is not
 * one of ours (the handler refuses it). */
static bool list_shards_token_stream(const struct json_doc *d, char *name, size_t cap)
{
	char tok[1208], plain[604]; /* the handler takes at most 600 characters */

	if (!body_str(d, "NextToken", tok, sizeof(tok)) ||
	    sl_hex_decode(plain, sizeof(plain), tok, strlen(tok)) < 0)
		return false;
	char *slash = strchr(plain, '/');
	if (slash == NULL || slash == plain || (size_t)(slash - plain) >= cap)
		return false;
	*slash = '\0';
	if (!av_match_name(plain, strlen(plain)))
		return false;
	snprintf(name, cap, "%s", plain);
	return true;
}

/* DescribeStreamConsumer and DeregisterStreamConsumer may name their
 * consumer by StreamARN (or StreamName) and ConsumerName instead of its
 * ConsumerARN: either way it is the consumer they act on, so they are
 * authorised on its ARN (and its resource policy binds) whichever way it
 * is named. r->arn is the stream's ARN on entry; it becomes the consumer's
 * when the routing snapshot has it (ACTIVE consumers only: one CREATING or
 * DELETING stays authorised as its stream). Bisects the snapshot's
 * consumers, sorted by ARN, for "STREAM-ARN/consumer/NAME:". */
static void consumer_arn_by_name(struct lcore_ctx *lc, struct dp_resource *r,
				 const char *cname)
{
	/* no routes: a unit-test harness without a control plane */
	const struct route_table *rt = lc->sh->routes ? route_get(lc->sh->routes) : NULL;
	/* the stream's ARN (at most 200 bytes: name <= 128) + a ConsumerName;
	 * too long for any real one: then no consumer has it */
	char prefix[sizeof(r->arn) + 16];
	int pn = snprintf(prefix, sizeof(prefix), "%.1024s/consumer/%.1024s:", r->arn, cname);

	if (!rt || pn < 0 || (size_t)pn >= sizeof(prefix))
		return;
	uint32_t lo = 0, hi = rt->n_consumers;
	while (lo < hi) { /* first ARN >= prefix */
		uint32_t mid = lo + (hi - lo) / 2;
		if (strcmp(rt->consumers[mid].arn, prefix) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < rt->n_consumers && strncmp(rt->consumers[lo].arn, prefix, (size_t)pn) == 0)
		snprintf(r->arn, sizeof(r->arn), "%s", rt->consumers[lo].arn);
}

/* Decides what a request touches. The ARN checked against policies is
 * rebuilt from the stream (and consumer) name with the server's region and
 * account, never copied from the client's ARN or signature, so neither can
 * steer a Deny. A ConsumerARN names its stream; when the body also names a
 * stream (StreamARN or StreamName) that is not the consumer's, the request
 * is refused: otherwise authorisation and the operation could look at two
 * different streams. Returns 0, or -EINVAL with e set. */
static int resolve_resource(struct lcore_ctx *lc, const struct conn *c, struct dp_resource *r,
			    struct api_err *e)
{
	const struct sl_config *cfg = lc->sh->cfg;
	char sarn[2304], carn[2304], sname[160]; /* ARNs are at most 2048 characters */
	struct json_doc d;
	bool has_sarn, has_carn, has_name, bad_sarn = false;
	char region[64], account[16], aname[160];
	struct av_carn cp;

	r->stream[0] = 0;
	snprintf(r->arn, sizeof(r->arn), "*");
	if (json_parse(&d, (const char *)c->body, c->body_len, lc->toks, lc->max_toks, 32,
		       NULL) < 0 || lc->toks[0].type != JSON_OBJECT)
		return 0; /* the operation's decoder answers */
	has_sarn = body_str(&d, "StreamARN", sarn, sizeof(sarn));
	has_carn = body_str(&d, "ConsumerARN", carn, sizeof(carn));
	/* The resource-policy and tagging operations name a stream or a
	 * consumer as ResourceARN: authorised as that stream or consumer. */
	if (!has_sarn && !has_carn && body_str(&d, "ResourceARN", carn, sizeof(carn))) {
		struct av_carn rp;
		if (av_split_consumer_arn(carn, strlen(carn), &rp))
			has_carn = true;
		else
			has_sarn = snprintf(sarn, sizeof(sarn), "%s", carn) > 0;
	}
	/* The channel operations name a channel: authorised on its ARN,
	 * rebuilt like the others from the server's region and account and
	 * the channel id. */
	if (!has_sarn && !has_carn && body_str(&d, "ChannelARN", carn, sizeof(carn))) {
		const char *id = strstr(carn, ":channel/");
		if (id && id[9]) /* else not a channel ARN: the text as sent, refused later */
			snprintf(r->arn, sizeof(r->arn), "arn:aws:kinesis:%s:%s:channel/%s",
				 cfg->region, cfg->account_id, id + 9);
		else
			snprintf(r->arn, sizeof(r->arn), "%s", carn);
		return 0;
	}
	/* CreateChannel names its stream only inside StreamConfigurationList
	 * (one element: more are refused by its handler): the channel is
	 * made on that stream, so it is authorised as that stream, with the
	 * stream's resource policy, like every operation that names one. */
	if (!has_sarn && !has_carn) {
		int32_t l = json_obj_get(&d, 0, "StreamConfigurationList");
		if (l >= 0 && d.toks[l].type == JSON_ARRAY && d.toks[l].count > 0 &&
		    d.toks[l + 1].type == JSON_OBJECT)
			has_sarn = body_str_in(&d, (uint32_t)l + 1, "StreamARN", sarn, sizeof(sarn));
	}
	has_name = body_str(&d, "StreamName", sname, sizeof(sname)) ||
		   (c->mx_op == API_OP_LIST_SHARDS && !has_sarn && !has_carn &&
		    list_shards_token_stream(&d, sname, sizeof(sname)));
	if (has_sarn && av_split_stream_arn(sarn, region, sizeof(region), account,
					    sizeof(account), aname, sizeof(aname))) {
		has_sarn = false; /* invalid: validation says so, nothing is looked up */
		bad_sarn = true;
	}
	if (has_sarn && has_name && strcmp(aname, sname) != 0) {
		api_err_set(e, 400, "InvalidArgumentException",
			    "StreamARN %s and StreamName %s do not match.", sarn, sname);
		return -EINVAL;
	}
	if (has_carn && av_split_consumer_arn(carn, strlen(carn), &cp)) {
		size_t sl = cp.stream_end - cp.stream;
		/* Invented wording (Kinesis's answer to this mix is not
		 * recorded); listed in dataplane/api/README.md. */
		if (has_sarn && (strlen(sarn) != cp.stream_end ||
				 memcmp(sarn, carn, cp.stream_end) != 0)) {
			api_err_set(e, 400, "InvalidArgumentException",
				    "StreamARN %s and ConsumerARN %s do not match.", sarn, carn);
			return -EINVAL;
		}
		if (has_name && (strlen(sname) != sl || memcmp(sname, carn + cp.stream, sl))) {
			api_err_set(e, 400, "InvalidArgumentException",
				    "StreamName %s and ConsumerARN %s do not match.", sname, carn);
			return -EINVAL;
		}
		if (sl < sizeof(r->stream)) {
			memcpy(r->stream, carn + cp.stream, sl);
			r->stream[sl] = 0;
		}
		/* IAM authorises consumer operations on the consumer's ARN. */
		snprintf(r->arn, sizeof(r->arn), "arn:aws:kinesis:%s:%s:stream/%.*s/consumer/%s",
			 cfg->region, cfg->account_id, (int)sl, carn + cp.stream,
			 carn + cp.consumer);
		return 0;
	}
	if (has_carn || (bad_sarn && !has_name)) {
		/* Not a valid ARN: nothing can be found by it, and the decoder
		 * refuses it; authorise on the text as sent. */
		snprintf(r->arn, sizeof(r->arn), "%s", has_carn ? carn : sarn);
		return 0;
	}
	const char *name = has_sarn ? aname : has_name ? sname : NULL;
	if (!name || strlen(name) >= sizeof(r->stream))
		return 0;
	snprintf(r->stream, sizeof(r->stream), "%s", name);
	snprintf(r->arn, sizeof(r->arn), "arn:aws:kinesis:%s:%s:stream/%s", cfg->region,
		 cfg->account_id, name);
	if ((c->mx_op == API_OP_DESCRIBE_CONSUMER || c->mx_op == API_OP_DEREGISTER_CONSUMER) &&
	    body_str(&d, "ConsumerName", carn, sizeof(carn)))
		consumer_arn_by_name(lc, r, carn);
	return 0;
}

/* ListChannels with a StreamFilter lists only the channels of the streams
 * it names, so it is authorised as each of them (every one must be allowed,
 * and each stream's resource policy binds), as CreateChannel is as the
 * stream it names; without a filter it lists the account's channels and is
 * authorised on '*', like ListStreams. The ARN checked is rebuilt from the
 * stream's name with the server's region and account, as the handler
 * matches filters by name (cp_channels.c). Entries that are not stream ARNs
 * are skipped: the handler refuses the request for them. Returns 1 when
 * every named stream was allowed, 0 when the filter names none (authorise
 * on '*'), -1 when one was refused (answered). */
static int authorize_stream_filter(struct lcore_ctx *lc, struct conn *c,
				   const struct api_op_info *op)
{
	const struct sl_config *cfg = lc->sh->cfg;
	char sarn[2304], region[64], account[16], name[160], arn[2304];
	struct json_doc d;
	int named = 0;

	if (json_parse(&d, (const char *)c->body, c->body_len, lc->toks, lc->max_toks, 32,
		       NULL) < 0 || lc->toks[0].type != JSON_OBJECT)
		return 0; /* the operation's decoder answers */
	int32_t l = json_obj_get(&d, 0, "StreamFilter");
	if (l < 0 || d.toks[l].type != JSON_ARRAY)
		return 0;
	/* bounded by the parse's token budget (lc->max_toks) */
	for (uint32_t i = 0, t = (uint32_t)l + 1; i < d.toks[l].count; i++, t = d.toks[t].next) {
		if (d.toks[t].type != JSON_OBJECT ||
		    !body_str_in(&d, t, "StreamARN", sarn, sizeof(sarn)) ||
		    av_split_stream_arn(sarn, region, sizeof(region), account, sizeof(account),
					name, sizeof(name)) != 0)
			continue;
		snprintf(arn, sizeof(arn), "arn:aws:kinesis:%s:%s:stream/%s", cfg->region,
			 cfg->account_id, name);
		if (!ops_authorize(lc, c, op, arn, name))
			return -1;
		named = 1;
	}
	return named;
}

/* The resource policy attached to what resource names, from the routing
 * snapshot (read-only, RCU: valid until this lcore's next quiescent state,
 * which comes after the request is dispatched); NULL when none. resource is
 * the ARN resolve_resource rebuilt: a consumer's has "/consumer/", which a
 * stream name cannot hold. */
static const struct policy *resource_policy(struct lcore_ctx *lc, const char *resource,
					    const char *stream)
{
	/* no routes: a unit-test harness without a control plane */
	const struct route_table *rt = lc->sh->routes ? route_get(lc->sh->routes) : NULL;
	if (!rt || !stream[0])
		return NULL;
	if (strstr(resource, "/consumer/")) {
		const struct route_consumer *co =
			route_consumer_find(rt, resource, strlen(resource));
		return co ? co->res_policy : NULL;
	}
	const struct route_stream *s = route_stream_find(rt, stream, strlen(stream));
	return s ? s->res_policy : NULL;
}

bool ops_authorize(struct lcore_ctx *lc, struct conn *c, const struct api_op_info *op,
		   const char *resource, const char *stream)
{
	const struct policy *rp = resource_policy(lc, resource, stream);
	if (!c->pol && !rp)
		return true;
	/* A full-access key can always read and replace a resource policy,
	 * so no policy can lock the administrator out of a stream (as the
	 * AWS root user can always delete a bucket policy). */
	if (!c->pol && (op->op == API_OP_PUT_RESOURCE_POLICY ||
			op->op == API_OP_GET_RESOURCE_POLICY ||
			op->op == API_OP_DELETE_RESOURCE_POLICY))
		return true;
	const char *action = op->iam_action;
	char user[192];
	snprintf(user, sizeof(user), "arn:aws:iam::%s:user/%s", lc->sh->cfg->account_id,
		 c->principal);
	struct policy_caller who = { .user_arn = user, .account = lc->sh->cfg->account_id };
	struct policy_decision d = policy_decide(c->pol, rp, &who, action, resource);
	if (d.verdict == POLICY_ALLOW)
		return true;
	char msg[1024];
	const char *why = d.verdict != POLICY_EXPLICIT_DENY
				  ? "no identity-based policy allows the action"
			  : d.by == POLICY_BY_RESOURCE ? "an explicit deny in a resource-based policy"
						       : "an explicit deny in an identity-based policy";
	snprintf(msg, sizeof(msg), "User: %s is not authorized to perform: %s on resource: %s "
		 "because %s", user, action, resource, why);
	ops_audit(lc, c, c->principal, op->name, stream, "AccessDeniedException", 400);
	http_conn_respond_error(lc, c, 400, "AccessDeniedException", msg);
	return false;
}

static void post_control(struct lcore_ctx *lc, struct conn *c, const struct api_op_info *op)
{
	/* malloc, not a pool (pools.h): control operations are rate-limited to
	 * a few per second per operation, the call and its body belong to the
	 * control thread until it answers, and ctl_call_free frees them. */
	struct ctl_call *call = calloc(1, sizeof(*call));
	uint32_t blen = c->body_len;
	char *body = malloc((size_t)blen + 1);
	if (!call || !body) {
		free(call);
		free(body);
		http_conn_respond_error(lc, c, 500, "InternalFailure", "Out of memory.");
		return;
	}
	memcpy(body, c->body, blen);
	body[blen] = 0;
	call->op = op->op;
	snprintf(c->audit_op, sizeof(c->audit_op), "%s", op->name);
	call->lcore = lc->idx;
	call->cookie = ((uint64_t)c->idx << 32) | c->gen;
	/* ARNs the control plane makes carry the server's region (the
	 * signature's was checked to be the same). */
	snprintf(call->region, sizeof(call->region), "%s", lc->sh->cfg->region);
	call->body = body;
	call->body_len = blen;
	if (ctl_post(lc->sh->ctl, call) < 0) {
		ctl_call_free(call);
		http_conn_respond_error(lc, c, 400, "LimitExceededException",
					"Too many control-plane requests in flight; retry.");
		return;
	}
	c->waiting_cp = true;
}

/* Audit line of an answered control call: result is "OK" or the error's
 * __type, read from the answer. */
static void audit_control(struct lcore_ctx *lc, struct conn *c, const struct ctl_call *call)
{
	char result[96] = "OK";
	if (call->status != 200 && call->resp) {
		struct json_doc d;
		if (json_parse(&d, call->resp, call->resp_len, lc->toks, lc->max_toks, 8,
			       NULL) > 0 && lc->toks[0].type == JSON_OBJECT) {
			int32_t t = json_obj_get(&d, 0, "__type");
			if (t < 0 || json_str_unescape(&d, (uint32_t)t, result, sizeof(result)) < 0)
				snprintf(result, sizeof(result), "Error");
			result[sizeof(result) - 1] = 0;
		}
	} else if (call->status != 200) {
		snprintf(result, sizeof(result), "InternalFailure");
	}
	ops_audit(lc, c, c->principal, c->audit_op, c->audit_stream, result,
		  call->resp ? call->status : 500);
}

/* The io lcores' half of the operation table (the descriptors are in
 * dataplane/api/api.h, below this folder, and cannot name these): each data
 * operation's handler, indexed by enum api_op. One list expands to the
 * designated initializers and to the bit mask that must equal the api
 * table's served data operations, so the two cannot drift apart. */
typedef void (*dispatch_fn)(struct lcore_ctx *lc, struct conn *c, const struct api_op_info *op);
#define DP_HANDLERS(X)                                                                             \
	X(PUT_RECORD, ops_data_put_record)                                                         \
	X(PUT_RECORDS, ops_data_put_records)                                                       \
	X(GET_SHARD_ITERATOR, ops_data_get_shard_iterator)                                         \
	X(GET_RECORDS, ops_data_get_records)                                                       \
	X(SUBSCRIBE_TO_SHARD, ops_subscribe)

#define DP_HANDLER_INIT_(op, fn) [API_OP_##op] = fn,
#define DP_HANDLER_BIT_(op, fn) | API_OP_BIT(API_OP_##op)
static const dispatch_fn dp_handlers[API_OP__COUNT] = { DP_HANDLERS(DP_HANDLER_INIT_) };
static_assert((UINT64_C(0) DP_HANDLERS(DP_HANDLER_BIT_)) == API_OPS_DATA_MASK,
	      "dp_handlers must cover exactly the data operations of API_OPS");
#undef DP_HANDLER_INIT_
#undef DP_HANDLER_BIT_

bool ops_serves(enum api_op op)
{
	return op < API_OP__COUNT && dp_handlers[op] != NULL;
}

static void dispatch(struct lcore_ctx *lc, struct conn *c);

void ops_dispatch(struct lcore_ctx *lc, struct conn *c)
{
	/* A CBOR client is answered in CBOR from the first check on (a
	 * signature error too); its body becomes JSON once it is authenticated
	 * (SigV4 hashes the bytes as sent). */
	c->cbor = ops_cbor_is_cbor(c);
	dispatch(lc, c);
	if (!c->waiting_dp) /* answered, or posted with a copy (control) */
		ops_cbor_release(lc, c);
	if (!c->waiting_dp && !c->waiting_cp)
		c->cbor = false; /* answered (or a SubscribeToShard push) */
}

static void dispatch(struct lcore_ctx *lc, struct conn *c)
{
	struct sigv4_identity id;
	/* A browser's preflight carries no signature (http_cors.h); it is
	 * answered before the checks Kinesis makes of every other request. */
	if (http_cors_preflight(lc, c))
		return;
	/* Method, Content-Type, X-Amz-Target and an empty body are answered
	 * before authentication, as Kinesis does (ops_shape.c). */
	if (!ops_shape_ok(lc, c, content_type_ok(c)))
		return;
	if (!authenticate(lc, c, &id))
		return;
	const struct sl_header *th = sl_header_find(c->hdrs, c->req.nhdrs, "x-amz-target");
	const struct api_op_info *op = th ? api_op_lookup(th->value) : NULL;
	BUG_ON(op == NULL); /* ops_shape_ok answered it */
	c->mx_op = (uint8_t)op->op;
	if (c->cbor && !ops_cbor_request(lc, c))
		return;
	/* sluiced's own credential: never named (its key id stays out of the
	 * audit log), and limited to the reads its threads make */
	c->internal = id.internal && lc->sh->internal_pol;
	snprintf(c->principal, sizeof(c->principal), "%s",
		 c->internal ? "sluiced-internal" : id.access_key);
	c->pol = c->internal ? lc->sh->internal_pol : policy_for(lc->sh->policies, id.access_key);
	c->audit_stream[0] = 0;
	/* Record operations of full-access keys skip this (hot path): they name
	 * one stream only, and their decoder checks StreamName vs StreamARN;
	 * the handler checks the one thing that can refuse them, a Deny in
	 * that stream's resource policy (ops_data.c, resource_deny_ok).
	 * SubscribeToShard names a consumer, so it is always resolved. */
	bool record_op = (op->flags & API_OPF_RECORD) != 0;
	if (c->pol || !record_op) {
		struct dp_resource res;
		struct api_err e;
		if (resolve_resource(lc, c, &res, &e) < 0) {
			http_conn_respond_error(lc, c, e.http_status, e.type, e.message);
			return;
		}
		snprintf(c->audit_stream, sizeof(c->audit_stream), "%s", res.stream);
		/* GetRecords names its stream inside the iterator: ops_data.c checks. */
		int f = op->op == API_OP_LIST_CHANNELS ? authorize_stream_filter(lc, c, op) : 0;
		if (f < 0 || (f == 0 && !(op->flags & API_OPF_AUTHZ_IN_HANDLER) &&
			      !ops_authorize(lc, c, op, res.arn, c->audit_stream)))
			return;
	}
	if (c->body_len == 0) {
		/* Kinesis answers an empty body with a bare type, no message. */
		static const char bare[] = "{\"__type\":\"SerializationException\"}";
		http_conn_respond(lc, c, 400, bare, sizeof(bare) - 1);
		return;
	}
	if (op->plane == API_PLANE_DATA && ops_serves(op->op)) {
		dp_handlers[op->op](lc, c, op);
		return;
	}
	if (op->plane == API_PLANE_CONTROL && op->op != API_OP_OTHER_KNOWN) {
		post_control(lc, c, op);
		return;
	}
	/* OTHER_KNOWN: a real Kinesis operation sluice does not serve yet. */
	char msg[160];
	snprintf(msg, sizeof(msg), "%s is not served by this version of sluice.", op->name);
	http_conn_respond_error(lc, c, 400, "InvalidArgumentException", msg);
}

void ops_poll_ctl(struct lcore_ctx *lc)
{
	struct ctl_call *calls[32];
	unsigned n;
	while ((n = ctl_replies(lc->sh->ctl, lc->idx, calls, SL_ARRAY_SIZE(calls))) > 0) {
		for (unsigned i = 0; i < n; i++) {
			struct ctl_call *call = calls[i];
			uint32_t idx = (uint32_t)(call->cookie >> 32), gen = (uint32_t)call->cookie;
			BUG_ON(idx >= lc->max_conns);
			struct conn *c = &lc->conns[idx];
			if (call->route_miss) { /* ops_data.c: a stream read from the store */
				if (c->gen == gen && c->waiting_cp)
					ops_data_miss_answered(lc, c, call);
				ctl_call_free(call);
				continue;
			}
			/* The connection may have gone (and its slot been reused)
			 * while the control thread worked: gen tells. */
			if (c->gen == gen && c->state == CONN_OPEN && c->waiting_cp) {
				c->waiting_cp = false;
				audit_control(lc, c, call);
				if (call->resp)
					http_conn_respond(lc, c, call->status, call->resp,
							  call->resp_len);
				else
					http_conn_respond_error(
						lc, c, 500, "InternalFailure",
						"The control plane could not answer.");
				if (c->state == CONN_OPEN && c->peer_eof && !http_conn_unsent(c))
					http_conn_close(lc, c);
				else
					http_conn_ctl_answered(lc, c); /* on to the next request */
			}
			ctl_call_free(call);
		}
	}
}

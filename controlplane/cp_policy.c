/* SPDX-License-Identifier: Apache-2.0 */
/* Resource policies (PutResourcePolicy, GetResourcePolicy,
 * DeleteResourcePolicy) on stream and consumer ARNs, and
 * UpdateStreamRecordDistributionStrategy.
 *
 * The policies are stored as sent (GetResourcePolicy gives the text back),
 * checked by the same parser the routing snapshot uses
 * (policy_parse_resource, crypto/policy.h), and travel to the io lcores in
 * the snapshot (cp_route.c): both Put and Delete carry API_OPF_MUTATES, so
 * the snapshot is republished before the client is answered and the next
 * request is decided on the new policy. Enforcement is the dispatcher's
 * (dataplane/ops/ops_dispatch.c, ops_authorize). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"
#include "common/log.h"
#include "controlplane/cp_internal.h"
#include "crypto/policy.h"

/* ResourceARN pattern of the policy operations (API reference). */
#define CP_PAT_POLICY_ARN "arn:aws.*:kinesis:.*:\\d{12}:.*stream/\\S+"

static bool cp_match_policy_arn(const char *s, size_t n)
{
	return cp_match_kinesis_arn(s, n, true);
}

/* What a ResourceARN names, once found. */
struct cp_res {
	bool consumer;
	char arn[CP_STR_CAP];
	struct cp_consumer c;
};

/* Type and constraint pass of ResourceARN (and Policy when policy != NULL),
 * in the model's member order (ResourceARN, StreamId, Policy). Returns 0,
 * or -1 answered. */
static int cp_res_decode(struct cp_req *r, struct cp_res *res, char *policy, size_t cap,
			 bool *has_policy)
{
	struct av *v = &r->v;
	int32_t root = av_root(v);
	uint32_t pol_cp = 0;

	r->has_arn = av_get_str(v, root, "ResourceARN", res->arn, sizeof(res->arn), &r->arn_cp);
	if (policy)
		*has_policy = av_get_str(v, root, "Policy", policy, cap, &pol_cp);
	if (!v->ser && !v->bad_json) {
		av_not_null(v, "resourceARN", r->has_arn);
		if (r->has_arn)
			av_str_member(v, "resourceARN", res->arn, r->arn_cp, CP_PAT_POLICY_ARN,
				      cp_match_policy_arn, 1, 2048);
		if (policy)
			av_not_null(v, "policy", *has_policy);
	}
	if (av_finish(v, &r->err) == 0)
		return 0;
	cp_reply_err(r->call, &r->err);
	return -1;
}

/* Finds the stream (into r->s) or the consumer (into res->c, its stream
 * into r->s) res->arn names. Returns 0, or -1 answered. */
static int cp_res_find(struct cp_req *r, struct cp_res *res)
{
	struct av_carn p;
	int rc;

	res->consumer = av_split_consumer_arn(res->arn, strlen(res->arn), &p);
	if (!res->consumer) {
		snprintf(r->arn, sizeof(r->arn), "%s", res->arn);
		r->has_arn = true;
		r->has_name = false;
		return cp_resolve(r);
	}
	rc = cp_store_consumer_get(r->cp->st, NULL, res->arn, &res->c);
	if (rc == 0)
		rc = cp_store_get(r->cp->st, res->c.stream, &r->s);
	if (rc == -ENOENT) {
		/* Not recorded from Kinesis: the consumer operations' wording. */
		cp_fail(r, 400, "ResourceNotFoundException",
			"Consumer %.*s under stream %.*s and account %s not found.",
			(int)(p.consumer_end - p.consumer), res->arn + p.consumer,
			(int)(p.stream_end - p.stream), res->arn + p.stream, r->cp->account_id);
		return -1;
	}
	if (rc) {
		cp_internal(r);
		return -1;
	}
	return 0;
}

void cp_put_resource_policy(struct cp_req *r)
{
	struct cp_res *res = calloc(1, sizeof(*res));
	/* Room for 4 bytes past the limit: a longer text is cut (at a code
	 * point) to more than the limit, so its length says it is too long. */
	const size_t cap = CP_POLICY_MAX_BYTES + 5;
	char *text = malloc(cap);
	bool has_policy = false;
	char why[200];

	if (!res || !text) {
		cp_internal(r);
		goto out;
	}
	if (cp_res_decode(r, res, text, cap, &has_policy) || cp_res_find(r, res))
		goto out;
	size_t len = strlen(text);
	if (len > CP_POLICY_MAX_BYTES) {
		/* Invented wording (dataplane/api/README.md). */
		cp_fail(r, 400, "InvalidArgumentException", "Policy size exceeds the maximum "
			"allowed size of %u bytes.", CP_POLICY_MAX_BYTES);
		goto out;
	}
	struct policy *p = policy_parse_resource(text, len, why, sizeof(why));
	if (!p) {
		/* Invented wording (dataplane/api/README.md). */
		cp_fail(r, 400, "InvalidArgumentException", "Invalid policy document: %s.", why);
		goto out;
	}
	policy_free(p);
	if (cp_store_policy_put(r->cp->st, r->s.name, res->arn, text)) {
		cp_internal(r);
		goto out;
	}
	SL_INFO("resource policy of %s set (%zu bytes)", res->arn, len);
	cp_ok_empty(r);
out:
	free(text);
	free(res);
}

void cp_get_resource_policy(struct cp_req *r)
{
	struct cp_res *res = calloc(1, sizeof(*res));
	char *text = malloc(CP_POLICY_CAP);
	struct jw w;

	if (!res || !text) {
		cp_internal(r);
		goto out;
	}
	if (cp_res_decode(r, res, NULL, 0, NULL) || cp_res_find(r, res))
		goto out;
	int rc = cp_store_policy_get(r->cp->st, res->arn, text, CP_POLICY_CAP);
	if (rc == -ENOENT)
		snprintf(text, CP_POLICY_CAP, "{}"); /* Kinesis's answer for none */
	else if (rc) {
		cp_internal(r);
		goto out;
	}
	/* escaped: at most 6 bytes per byte (\u00XX) */
	if (!cp_out_begin(r, &w, 64 + 6 * strlen(text)))
		goto out;
	jw_obj_begin(&w);
	jw_key(&w, "Policy");
	jw_str(&w, text);
	jw_obj_end(&w);
	cp_out_end(r, &w);
out:
	free(text);
	free(res);
}

/* Deleting what is not there succeeds (idempotent, like DeleteStream of a
 * DELETING stream); the resource itself must exist. */
void cp_delete_resource_policy(struct cp_req *r)
{
	struct cp_res *res = calloc(1, sizeof(*res));

	if (!res) {
		cp_internal(r);
		return;
	}
	if (cp_res_decode(r, res, NULL, 0, NULL) == 0 && cp_res_find(r, res) == 0) {
		if (cp_store_policy_delete(r->cp->st, res->arn))
			cp_internal(r);
		else
			cp_ok_empty(r);
	}
	free(res);
}

const char *const cp_distributions[2] = { "USER_PARTITION_KEY", "AUTO" };
static_assert(CP_DIST_USER_PARTITION_KEY == 0 && CP_DIST_AUTO == 1, "cp_distributions' order");

/* UpdateStreamRecordDistributionStrategy {StreamARN, StreamId?,
 * RecordDistributionStrategy}: the model documents it for on-demand
 * streams only. */
void cp_update_distribution(struct cp_req *r)
{
	/* the model's enum order: AUTO, USER_PARTITION_KEY */
	static const char *const values[2] = { "AUTO", "USER_PARTITION_KEY" };
	struct av *v = &r->v;
	int32_t root = av_root(v), idx = -1;
	char strategy[64];
	bool has;

	/* the model's member order: StreamARN, StreamId, RecordDistributionStrategy */
	r->has_arn = av_get_str(v, root, "StreamARN", r->arn, sizeof(r->arn), &r->arn_cp);
	has = av_get_enum(v, root, "RecordDistributionStrategy", values, 2, &idx, strategy,
			  sizeof(strategy));
	if (!v->ser && !v->bad_json) {
		av_not_null(v, "streamARN", r->has_arn);
		cp_check_arn(r);
		av_not_null(v, "recordDistributionStrategy", has);
		if (has)
			av_enum(v, "recordDistributionStrategy", strategy, idx, values, 2);
	}
	if (av_finish(v, &r->err)) {
		cp_reply_err(r->call, &r->err);
		return;
	}
	if (cp_resolve(r) || cp_require_active(r))
		return;
	if (r->s.mode != CP_ON_DEMAND) {
		/* Invented wording (dataplane/api/README.md), shaped like the
		 * warm-throughput refusal. */
		cp_fail(r, 400, "InvalidArgumentException", "The record distribution strategy can "
			"only be set for stream %s under account %s in ON_DEMAND mode.",
			r->s.name, r->cp->account_id);
		return;
	}
	int64_t want = idx == 0 ? CP_DIST_AUTO : CP_DIST_USER_PARTITION_KEY;
	if (cp_store_set_int(r->cp->st, r->s.name, "distribution", want)) {
		cp_internal(r);
		return;
	}
	cp_ok_empty(r);
}


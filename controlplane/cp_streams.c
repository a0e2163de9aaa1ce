/* SPDX-License-Identifier: Apache-2.0 */
/* Stream operations of the control plane: decode and validate (Kinesis's
 * exact errors, dataplane/api validation toolkit), apply to the store, encode
 * Kinesis's JSON responses. Runs on the control thread only. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"
#include "common/clock.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/utf8.h"
#include "controlplane/cp_internal.h"
#include "crypto/keyring.h"
#include "storage/st.h"

#define CP_TOKEN_MAX 600 /* our NextTokens are far shorter; longer -> invalid */

const char *const cp_modes[2] = { "PROVISIONED", "ON_DEMAND" };
static const char *const cp_filters[] = { "AFTER_SHARD_ID", "AT_TRIM_HORIZON",
					  "FROM_TRIM_HORIZON", "AT_LATEST",
					  "AT_TIMESTAMP", "FROM_TIMESTAMP" };
enum { CP_F_AFTER = 0, CP_F_AT_TS = 4, CP_F_FROM_TS = 5 };

/* Bounded string copy (names are validated before they are copied). */
static void cp_copy(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* --- 128-bit hash ranges and sequence numbers --- */

/* Kinesis splits [0, 2^128) evenly: shard i starts at floor(2^128/n)*i and
 * ends one below the next start; the last one ends at 2^128-1. */
void cp_hash_range(uint32_t i, uint32_t n, char start[CP_HASH_CAP], char end[CP_HASH_CAP])
{
	const unsigned __int128 max = ~(unsigned __int128)0;
	/* floor(2^128 / n) without 2^128: floor(max/n), +1 when max%n == n-1 */
	unsigned __int128 step = max / n + (max % n == (unsigned __int128)(n - 1) ? 1 : 0);

	BUG_ON(n == 0 || i >= n);
	sl_u128_fmt(step * i, start);
	sl_u128_fmt(i + 1 == n ? max : step * (i + 1) - 1, end);
}


/* The first sequence number of a shard: the storage engine's format
 * (storage/st.h): tag, shard index, per-shard counter; the first record a
 * shard stores gets counter 1, so this is exactly its sequence number. */
void cp_start_seq(uint32_t shard_index, int64_t created_ms, char out[CP_SEQ_CAP])
{
	(void)created_ms; /* the counter, not the clock, orders records */
	sl_u128_fmt(st_seq_make(shard_index, 1), out);
}

/* The store keeps the 128-bit integer (what every release wrote there);
 * clients get its 56-digit text (st_seq_format). A value that is not one of
 * ours means the store was damaged: it is logged and shown as stored. */
static void cp_seq_json(struct jw *w, const char *key, const char *stored)
{
	char txt[ST_SEQ_STR_SIZE];
	st_seq_t seq;

	jw_key(w, key);
	if (sl_u128_parse(stored, strlen(stored), &seq) < 0 || !st_seq_valid(seq)) {
		SL_ERR("meta.db: bad sequence number '%.48s'", stored);
		jw_str(w, stored);
		return;
	}
	st_seq_format(seq, txt);
	jw_str(w, txt);
}

void cp_shard_make(uint32_t i, uint32_t n, int64_t created_ms, struct cp_shard *out)
{
	memset(out, 0, sizeof(*out));
	out->index = i;
	api_shard_id_fmt(i, out->id);
	cp_hash_range(i, n, out->hash_start, out->hash_end);
	cp_start_seq(i, created_ms, out->start_seq);
}

/* --- replies --- */

void cp_reply_err(struct ctl_call *call, const struct api_err *e)
{
	size_t cap = sizeof(e->message) + 256;
	char *buf = malloc(cap);
	int n;

	call->status = e->http_status;
	call->resp = buf;
	call->resp_len = 0;
	if (buf == NULL)
		return;
	n = api_err_encode(e, buf, cap);
	call->resp_len = n > 0 ? (uint32_t)n : 0;
}

void cp_fail(struct cp_req *r, uint16_t status, const char *type, const char *fmt, ...)
{
	va_list ap;

	r->err.http_status = status;
	r->err.type = type;
	va_start(ap, fmt);
	vsnprintf(r->err.message, sizeof(r->err.message), fmt, ap);
	va_end(ap);
	cp_reply_err(r->call, &r->err);
}

void cp_internal(struct cp_req *r)
{
	cp_fail(r, 500, "InternalFailure", "%s", "");
}

/* A response body under construction: capacity sized by the caller from the
 * bounded counts it will write. */
bool cp_out_begin(struct cp_req *r, struct jw *w, size_t cap)
{
	char *buf = malloc(cap);

	if (buf == NULL) {
		cp_internal(r);
		return false;
	}
	jw_init(w, buf, cap);
	return true;
}

void cp_out_end(struct cp_req *r, struct jw *w)
{
	if (w->overflow) {
		SL_ERR("control: response overflow (%zu bytes)", w->cap);
		free(w->buf);
		cp_internal(r);
		return;
	}
	r->call->status = 200;
	r->call->resp = w->buf;
	r->call->resp_len = (uint32_t)w->len;
}

/* An operation without output (DeleteStream, AddTagsToStream, ...): Kinesis
 * answers 200 with an empty body (Content-Length: 0), not "{}" (recorded
 * by kinesalite's tests against the service). The SDKs read both. */
void cp_ok_empty(struct cp_req *r)
{
	struct jw w;

	if (!cp_out_begin(r, &w, 1))
		return;
	cp_out_end(r, &w);
}

/* --- shared decoding --- */

const char *cp_status_name(uint8_t st)
{
	switch (st) {
	case CP_CREATING: return "CREATING";
	case CP_ACTIVE: return "ACTIVE";
	case CP_DELETING: return "DELETING";
	default: return "UPDATING";
	}
}

/* Type pass for StreamName and StreamARN. */
void cp_get_ident(struct cp_req *r)
{
	int32_t root = av_root(&r->v);

	r->has_name = av_get_str(&r->v, root, "StreamName", r->name, sizeof(r->name),
				 &r->name_cp);
	r->has_arn = av_get_str(&r->v, root, "StreamARN", r->arn, sizeof(r->arn), &r->arn_cp);
}

void cp_check_name(struct cp_req *r, const char *path, const char *val, uint32_t cp_len)
{
	av_str_member(&r->v, path, val, cp_len, AV_PAT_NAME, av_match_name, 1, CP_NAME_MAX);
}

/* Constraint pass for StreamName / StreamARN (when present). */
void cp_check_ident(struct cp_req *r, bool name_required)
{
	if (name_required)
		av_not_null(&r->v, "streamName", r->has_name);
	if (r->has_name)
		cp_check_name(r, "streamName", r->name, r->name_cp);
	cp_check_arn(r);
}

void cp_check_arn(struct cp_req *r)
{
	if (r->has_arn)
		av_str_member(&r->v, "streamARN", r->arn, r->arn_cp, AV_PAT_STREAM_ARN,
			      av_match_stream_arn, 1, 2048);
}

int cp_require_active(struct cp_req *r)
{
	if (r->s.status == CP_ACTIVE)
		return 0;
	cp_fail(r, 400, "ResourceInUseException", "Stream %s under account %s not ACTIVE, "
		"instead in state %s", r->s.name, r->cp->account_id, cp_status_name(r->s.status));
	return -1;
}

static void cp_not_found(struct cp_req *r, const char *name, const char *account)
{
	cp_fail(r, 400, "ResourceNotFoundException", "Stream %s under account %s not found.",
		name, account);
}

/* Finds the stream named by StreamName and/or StreamARN into r->s. On error
 * the reply is already made and -1 returned. */
int cp_resolve(struct cp_req *r)
{
	char region[CP_REGION_CAP], account[16], name[CP_NAME_MAX + 1];
	int rc;

	if (!r->has_name && !r->has_arn) {
		cp_fail(r, 400, "InvalidArgumentException", "%s",
			"Either StreamName or StreamARN should be provided.");
		return -1;
	}
	if (r->has_arn) {
		if (av_split_stream_arn(r->arn, region, sizeof(region), account, sizeof(account),
					name, sizeof(name)) || !av_match_name(name, strlen(name))) {
			cp_fail(r, 400, "InvalidArgumentException", "Invalid StreamARN %s.",
				r->arn);
			return -1;
		}
		if (r->has_name && strcmp(name, r->name) != 0) {
			cp_fail(r, 400, "InvalidArgumentException",
				"StreamARN %s and StreamName %s do not match.", r->arn, r->name);
			return -1;
		}
		if (strcmp(account, r->cp->account_id) != 0) {
			cp_not_found(r, name, account);
			return -1;
		}
		snprintf(r->name, sizeof(r->name), "%s", name);
	}
	rc = cp_store_get(r->cp->st, r->name, &r->s);
	if (rc == 0 && r->has_arn && strcmp(r->s.arn, r->arn) != 0)
		rc = -ENOENT; /* same name, other region or partition */
	if (rc == -ENOENT) {
		cp_not_found(r, r->name, r->cp->account_id);
		return -1;
	}
	if (rc) {
		cp_internal(r);
		return -1;
	}
	return 0;
}

/* --- CreateStream --- */

struct cp_create {
	bool has_count, has_mode_details, has_mode, has_kib, has_warm;
	int64_t shard_count, max_kib, warm;
	int32_t mode_idx;
	char mode[64];
	int32_t tags_tok;
	uint32_t n_tags;
	struct cp_tag *tags;
	bool has_dist;	  /* RecordDistributionStrategy (the JS SDK v3's model) */
	int32_t dist_idx; /* in cp_dist_values */
	char dist[64];
};

/* RecordDistributionStrategy in the model's enum order. */
static const char *const cp_dist_values[2] = { "AUTO", "USER_PARTITION_KEY" };

/* One tag into t, whole or not at all: 0, or -1 when it does not fit (it
 * always does when the lengths in code points are within bounds: at most 4
 * bytes each, a \u0000 then U+FFFD 3 bytes). A NUL becomes U+FFFD, which
 * the character check refuses: a tag is never stored cut or altered. */
static int cp_tag_take(const struct json_doc *d, uint32_t k, struct cp_tag *t)
{
	int64_t kn = json_str_unescape(d, k, t->key, sizeof(t->key));
	int64_t vn = json_str_unescape(d, k + 1, t->value, sizeof(t->value));

	if (kn < 0 || (size_t)kn >= sizeof(t->key) || vn < 0 || (size_t)vn >= sizeof(t->value))
		return -1;
	if (utf8_replace_nul(t->key, (size_t)kn, sizeof(t->key)) < (size_t)kn ||
	    utf8_replace_nul(t->value, (size_t)vn, sizeof(t->value)) < (size_t)vn)
		return -1;
	return 0;
}

/* Tags map: values must be strings; keys 1..128, values 0..256 code points.
 * Coral prints the map as Java does ({k=v, ...}), cut at a code point. */
void cp_tags_decode(struct cp_req *r, int32_t t, struct cp_tag **out, uint32_t *n_out)
{
	struct av *v = &r->v;
	struct cp_tag *tags;
	uint32_t n_tags = 0;
	uint32_t n = v->doc.toks[t].count, k = (uint32_t)t + 1;
	bool bad_key = false, bad_val = false;
	char shown[512];
	size_t len = 0;
	bool room;

	tags = calloc(SL_MIN(n, CP_MAX_TAGS) + 1, sizeof(*tags));
	room = utf8_append(shown, sizeof(shown), &len, "{");
	for (uint32_t i = 0; i < n; i++, k = v->doc.toks[k + 1].next) {
		uint32_t val = k + 1;
		if (v->doc.toks[val].type != JSON_STRING) {
			/* type pass: a tag value must be a String (checked on the
			 * token itself: a key need not fit any buffer) */
			(void)av_type_check(v, val, AV_STRING);
			continue;
		}
		uint32_t kcp = json_str_codepoints(&v->doc, k);
		uint32_t vcp = json_str_codepoints(&v->doc, val);
		bool key_ok = kcp >= 1 && kcp <= CP_TAG_KEY_MAX, val_ok = vcp <= CP_TAG_VALUE_MAX;
		if (key_ok && val_ok && tags && i < CP_MAX_TAGS &&
		    cp_tag_take(&v->doc, k, &tags[n_tags]) != 0)
			key_ok = false; /* cannot happen (see cp_tag_take); never stored cut */
		bad_key |= !key_ok;
		bad_val |= !val_ok;
		if (key_ok && val_ok && tags && i < CP_MAX_TAGS) {
			if (room)
				room = utf8_append(shown, sizeof(shown), &len, "%s%s=%s",
						   i ? ", " : "", tags[n_tags].key,
						   tags[n_tags].value);
			n_tags++;
		}
	}
	if (room)
		(void)utf8_append(shown, sizeof(shown), &len, "}");
	if (n < 1)
		av_violation(v, "tags", shown, "Member must have length greater than or equal to 1");
	if (n > CP_MAX_TAGS)
		av_violation(v, "tags", shown, "Member must have length less than or equal to 200");
	if (bad_key)
		av_violation(v, "tags", shown, "Map keys must satisfy constraint: [Member must have "
			     "length less than or equal to 128, Member must have length greater "
			     "than or equal to 1]");
	if (bad_val)
		av_violation(v, "tags", shown, "Map value must satisfy constraint: [Member must have "
			     "length less than or equal to 256, Member must have length greater "
			     "than or equal to 0]");
	*out = tags;
	*n_out = n_tags;
}

/* Type pass then constraint pass, in Kinesis's member order. */
static int cp_create_decode(struct cp_req *r, struct cp_create *c)
{
	struct av *v = &r->v;
	int32_t root = av_root(v), md;

	c->has_count = av_get_int(v, root, "ShardCount", AV_INTEGER, &c->shard_count);
	r->has_name = av_get_str(v, root, "StreamName", r->name, sizeof(r->name), &r->name_cp);
	md = av_get_obj(v, root, "StreamModeDetails");
	c->has_mode_details = md >= 0;
	c->has_mode = av_get_enum(v, md, "StreamMode", cp_modes, 2, &c->mode_idx, c->mode,
				  sizeof(c->mode));
	c->tags_tok = av_get(v, root, "Tags", AV_MAP);
	c->has_kib = av_get_int(v, root, "MaxRecordSizeInKiB", AV_INTEGER, &c->max_kib);
	c->has_warm = av_get_int(v, root, "WarmThroughputMiBps", AV_INTEGER, &c->warm);
	c->has_dist = av_get_enum(v, root, "RecordDistributionStrategy", cp_dist_values, 2,
				  &c->dist_idx, c->dist, sizeof(c->dist));
	if (v->ser || v->bad_json)
		return av_finish(v, &r->err);

	bool on_demand = c->has_mode && c->mode_idx == 1;
	if (!on_demand)
		av_not_null(v, "shardCount", c->has_count);
	if (c->has_count)
		av_range(v, "shardCount", c->shard_count, 1, INT64_MAX);
	av_not_null(v, "streamName", r->has_name);
	if (r->has_name)
		cp_check_name(r, "streamName", r->name, r->name_cp);
	if (c->has_mode_details)
		av_not_null(v, "streamModeDetails.streamMode", c->has_mode);
	if (c->has_mode)
		av_enum(v, "streamModeDetails.streamMode", c->mode, c->mode_idx, cp_modes, 2);
	if (c->tags_tok >= 0)
		cp_tags_decode(r, c->tags_tok, &c->tags, &c->n_tags);
	if (c->has_kib)
		av_range(v, "maxRecordSizeInKiB", c->max_kib, 1024, 10240);
	if (c->has_warm)
		av_range(v, "warmThroughputMiBps", c->warm, 0, INT64_MAX);
	if (c->has_dist)
		av_enum(v, "recordDistributionStrategy", c->dist, c->dist_idx, cp_dist_values, 2);
	return av_finish(v, &r->err);
}

/* kinesalite createStream.js / splitShard.js, recorded from Kinesis. */
void cp_limit_shards(struct cp_req *r, uint64_t current, uint32_t additional)
{
	cp_fail(r, 400, "LimitExceededException",
		"This request would exceed the shard limit for the account %s in %s. "
		"Current shard count for the account: %" PRIu64 ". Limit: %u. Number of "
		"additional shards that would have resulted from this request: %u. Refer "
		"to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest"
		"/gr/aws_service_limits.html) for current limits and how to request "
		"higher limits.", r->cp->account_id, r->call->region, current,
		r->cp->cfg.shard_limit, additional);
}

static int cp_create_limits(struct cp_req *r, uint32_t shards)
{
	const struct cp_config *cfg = &r->cp->cfg;
	uint32_t n_streams;
	uint64_t n_shards;

	if (cp_store_totals(r->cp->st, &n_streams, &n_shards)) {
		cp_internal(r);
		return -1;
	}
	if (n_shards + shards > cfg->shard_limit || shards > CP_MAX_SHARDS_PER_STREAM) {
		cp_limit_shards(r, n_shards, shards);
		return -1;
	}
	if (n_streams >= cfg->stream_limit) {
		cp_fail(r, 400, "LimitExceededException",
			"This request would exceed the stream limit for the account %s in %s. "
			"Current stream count for the account: %u. Limit: %u.",
			r->cp->account_id, r->call->region, n_streams, cfg->stream_limit);
		return -1;
	}
	return 0;
}

static void cp_create_stream(struct cp_req *r)
{
	struct cp_create c = { 0 };
	struct cp_stream *s = &r->s;
	int64_t now = sl_wall_ms();
	int rc;

	if (cp_create_decode(r, &c)) {
		cp_reply_err(r->call, &r->err);
		goto out;
	}
	memset(s, 0, sizeof(*s));
	cp_copy(s->name, sizeof(s->name), r->name);
	s->mode = c.has_mode && c.mode_idx == 1 ? CP_ON_DEMAND : CP_PROVISIONED;
	/* On-demand streams start with 4 shards; ShardCount is then ignored. */
	s->shard_count = s->mode == CP_ON_DEMAND ? CP_ON_DEMAND_SHARDS
		       : (uint32_t)SL_MIN(c.shard_count, (int64_t)UINT32_MAX);
	if (cp_store_get(r->cp->st, s->name, &r->s) == 0) {
		cp_fail(r, 400, "ResourceInUseException", "Stream %s under account %s already "
			"exists.", r->name, r->cp->account_id);
		goto out;
	}
	/* Tags are checked as AddTagsToStream checks them: refused, never
	 * stored altered. */
	if (cp_tags_check(r, c.tags, c.n_tags) || cp_create_limits(r, s->shard_count))
		goto out;
	if (c.has_dist && c.dist_idx == 0) {
		/* AUTO is an on-demand setting (the model); invented wording, as
		 * UpdateStreamRecordDistributionStrategy's (dataplane/api/README.md). */
		if (s->mode != CP_ON_DEMAND) {
			cp_fail(r, 400, "InvalidArgumentException", "The record distribution "
				"strategy can only be set for stream %s under account %s in "
				"ON_DEMAND mode.", s->name, r->cp->account_id);
			goto out;
		}
		s->distribution = CP_DIST_AUTO;
	}
	snprintf(s->arn, sizeof(s->arn), "arn:aws:kinesis:%s:%s:stream/%s", r->call->region,
		 r->cp->account_id, s->name);
	s->retention_hours = CP_DEFAULT_RETENTION_HOURS;
	s->max_record_kib = c.has_kib ? (uint32_t)c.max_kib : CP_DEFAULT_MAX_RECORD_KIB;
	s->created_ms = now;
	s->status = r->cp->cfg.create_delay_ms ? CP_CREATING : CP_ACTIVE;
	s->deadline_ms = r->cp->cfg.create_delay_ms ? now + r->cp->cfg.create_delay_ms : 0;
	rc = cp_store_create(r->cp->st, s, c.tags, c.n_tags);
	/* Every stream's data is sealed at rest under its own data key,
	 * created (durably) before the stream can become routable: the table
	 * is published only after this call returns. */
	if (rc == 0 && r->cp->cfg.kr && (rc = kr_stream_key_new(r->cp->cfg.kr, s->id, NULL,
								 NULL)) < 0) {
		SL_ERR("data key for stream %s: %s", s->name, strerror(-rc));
		cp_store_remove(r->cp->st, s->name);
	}
	if (rc == -EEXIST)
		cp_fail(r, 400, "ResourceInUseException", "Stream %s under account %s already "
			"exists.", r->name, r->cp->account_id);
	else if (rc)
		cp_internal(r);
	else
		cp_ok_empty(r);
out:
	free(c.tags);
}

/* --- DeleteStream --- */

static void cp_delete_stream(struct cp_req *r)
{
	struct av *v = &r->v;
	bool enforce = false;
	int64_t deadline_ms = sl_wall_ms() + r->cp->cfg.delete_delay_ms;
	int rc;

	cp_get_ident(r);
	(void)av_get_bool(v, av_root(v), "EnforceConsumerDeletion", &enforce);
	if (!v->ser && !v->bad_json)
		cp_check_ident(r, false);
	if (av_finish(v, &r->err)) {
		cp_reply_err(r->call, &r->err);
		return;
	}
	if (cp_resolve(r))
		return;
	/* Kinesis lets a CREATING stream be deleted; deleting a DELETING stream
	 * again succeeds and keeps the first deadline (kinesalite). */
	if (r->s.status == CP_DELETING) {
		cp_ok_empty(r);
		return;
	}
	/* Recorded from Kinesis (cloud-custodian issue #7260). */
	if (r->s.n_consumers && !enforce) {
		cp_fail(r, 400, "ResourceInUseException", "DeleteStream can't delete %s because "
			"there are consumers associated with this data stream. To delete %s "
			"anyway, set the EnforceConsumerDeletion parameter to true to force the "
			"deletion of all the consumers that are associated with it.", r->s.arn,
			r->s.name);
		return;
	}
	/* "A stream cannot be deleted while it has active channels" (the
	 * DeleteChannel documentation); the wording is ours. */
	uint32_t n_channels;
	if (cp_store_channel_count(r->cp->st, r->s.name, &n_channels)) {
		cp_internal(r);
		return;
	}
	if (n_channels) {
		cp_fail(r, 400, "ResourceInUseException", "DeleteStream can't delete %s because "
			"there are channels associated with this data stream. Delete the "
			"channels first.", r->s.arn);
		return;
	}
	/* The consumers go with the stream (cp_store_remove). */
	if (r->s.n_consumers && r->cp->cfg.delete_delay_ms &&
	    cp_store_consumers_deleting(r->cp->st, r->s.name, deadline_ms)) {
		cp_internal(r);
		return;
	}
	/* Crypto-erase first: once the data key is gone nothing of the
	 * stream can be read, whatever the journals still hold until their
	 * segments are trimmed. */
	if (r->cp->cfg.kr && (rc = kr_stream_key_destroy(r->cp->cfg.kr, r->s.id)) < 0)
		SL_ERR("crypto-erase of stream %s: %s (keys already gone from memory)",
		       r->s.name, strerror(-rc));
	if (r->cp->cfg.delete_delay_ms == 0)
		rc = cp_store_remove(r->cp->st, r->s.name);
	else
		rc = cp_store_set_status(r->cp->st, r->s.name, CP_DELETING, deadline_ms);
	if (rc)
		cp_internal(r);
	else
		cp_ok_empty(r);
}

/* --- DescribeStream / DescribeStreamSummary --- */

static void cp_write_head(struct jw *w, const struct cp_stream *s)
{
	jw_key(w, "StreamName");
	jw_str(w, s->name);
	jw_key(w, "StreamARN");
	jw_str(w, s->arn);
	jw_key(w, "StreamStatus");
	jw_str(w, cp_status_name(s->status));
	jw_key(w, "StreamModeDetails");
	jw_obj_begin(w);
	jw_key(w, "StreamMode");
	jw_str(w, cp_modes[s->mode == CP_ON_DEMAND]);
	jw_obj_end(w);
}

static void cp_write_tail(struct jw *w, const struct cp_stream *s)
{
	jw_key(w, "RetentionPeriodHours");
	jw_i64(w, s->retention_hours);
	jw_key(w, "StreamCreationTimestamp");
	jw_epoch_ms(w, s->created_ms);
	jw_key(w, "EnhancedMonitoring");
	jw_arr_begin(w);
	jw_obj_begin(w);
	jw_key(w, "ShardLevelMetrics");
	jw_arr_begin(w);
	for (uint32_t i = 0; i < CP_METRICS_N; i++)
		if (s->metrics & (1u << i))
			jw_str(w, cp_metric_names[i]);
	jw_arr_end(w);
	jw_obj_end(w);
	jw_arr_end(w);
	/* Every stream is sealed at rest under its own data key; Kinesis's
	 * EncryptionType / KeyId report what StartStreamEncryption asked for. */
	jw_key(w, "EncryptionType");
	jw_str(w, s->encryption ? "KMS" : "NONE");
	if (s->encryption) {
		jw_key(w, "KeyId");
		jw_str(w, s->key_id);
	}
}

struct cp_shard_out {
	struct jw *w;
	uint32_t limit;
	uint32_t n;
	char last[CP_SHARD_ID_CAP];
	int (*keep)(const struct cp_shard *sh, const void *arg);
	const void *keep_arg;
};

static int cp_shard_cb(void *arg, const struct cp_shard *sh)
{
	struct cp_shard_out *o = arg;
	struct jw *w = o->w;

	if (o->keep && !o->keep(sh, o->keep_arg))
		return 0;
	if (o->n++ >= o->limit)
		return 1; /* the extra row only says "more" */
	snprintf(o->last, sizeof(o->last), "%s", sh->id);
	jw_obj_begin(w);
	jw_key(w, "ShardId");
	jw_str(w, sh->id);
	if (sh->parent[0]) {
		jw_key(w, "ParentShardId");
		jw_str(w, sh->parent);
	}
	if (sh->adjacent[0]) {
		jw_key(w, "AdjacentParentShardId");
		jw_str(w, sh->adjacent);
	}
	jw_key(w, "HashKeyRange");
	jw_obj_begin(w);
	jw_key(w, "StartingHashKey");
	jw_str(w, sh->hash_start);
	jw_key(w, "EndingHashKey");
	jw_str(w, sh->hash_end);
	jw_obj_end(w);
	jw_key(w, "SequenceNumberRange");
	jw_obj_begin(w);
	cp_seq_json(w, "StartingSequenceNumber", sh->start_seq);
	if (sh->end_seq[0])
		cp_seq_json(w, "EndingSequenceNumber", sh->end_seq);
	jw_obj_end(w);
	jw_obj_end(w);
	return 0;
}

/* Shards are listed once the stream is ACTIVE (or UPDATING); a CREATING or
 * DELETING stream shows none (kinesalite, recorded from Kinesis). */
static bool cp_shards_visible(const struct cp_stream *s)
{
	return s->status == CP_ACTIVE || s->status == CP_UPDATING;
}

#define CP_SHARD_JSON_MAX 420u	/* one shard object, generous */
#define CP_HEAD_JSON_MAX (1024u + 6u * CP_KEY_ID_CAP) /* KeyId, escaped */
#define CP_SUMMARY_JSON_MAX 512u /* ListStreams: head of one stream, no KeyId */

static void cp_describe_stream(struct cp_req *r)
{
	struct av *v = &r->v;
	int32_t root = av_root(v);
	int64_t limit = 100;
	bool has_limit, has_start;
	char start[CP_STR_CAP];
	uint32_t start_cp = 0;
	struct jw w;

	has_limit = av_get_int(v, root, "Limit", AV_INTEGER, &limit);
	has_start = av_get_str(v, root, "ExclusiveStartShardId", start, sizeof(start), &start_cp);
	cp_get_ident(r);
	if (!v->ser && !v->bad_json) {
		if (has_limit)
			av_range(v, "limit", limit, 1, 10000);
		if (has_start)
			cp_check_name(r, "exclusiveStartShardId", start, start_cp);
		cp_check_ident(r, false);
	}
	if (av_finish(v, &r->err)) {
		cp_reply_err(r->call, &r->err);
		return;
	}
	if (cp_resolve(r))
		return;
	if (!cp_out_begin(r, &w, CP_HEAD_JSON_MAX + (size_t)limit * CP_SHARD_JSON_MAX))
		return;
	struct cp_shard_out o = { .w = &w, .limit = (uint32_t)limit };
	jw_obj_begin(&w);
	jw_key(&w, "StreamDescription");
	jw_obj_begin(&w);
	cp_write_head(&w, &r->s);
	jw_key(&w, "Shards");
	jw_arr_begin(&w);
	if (cp_shards_visible(&r->s) &&
	    cp_store_shards(r->cp->st, r->s.name, has_start ? start : NULL, o.limit + 1,
			    cp_shard_cb, &o) < 0) {
		free(w.buf);
		cp_internal(r);
		return;
	}
	jw_arr_end(&w);
	jw_key(&w, "HasMoreShards");
	jw_bool(&w, o.n > o.limit);
	cp_write_tail(&w, &r->s);
	jw_obj_end(&w);
	jw_obj_end(&w);
	cp_out_end(r, &w);
}

static void cp_describe_summary(struct cp_req *r)
{
	struct jw w;

	cp_get_ident(r);
	if (!r->v.ser && !r->v.bad_json)
		cp_check_ident(r, false);
	if (av_finish(&r->v, &r->err)) {
		cp_reply_err(r->call, &r->err);
		return;
	}
	if (cp_resolve(r) || !cp_out_begin(r, &w, CP_HEAD_JSON_MAX))
		return;
	jw_obj_begin(&w);
	jw_key(&w, "StreamDescriptionSummary");
	jw_obj_begin(&w);
	cp_write_head(&w, &r->s);
	cp_write_tail(&w, &r->s);
	jw_key(&w, "OpenShardCount");
	jw_i64(&w, cp_shards_visible(&r->s) ? r->s.shard_count : 0);
	jw_key(&w, "ConsumerCount");
	jw_i64(&w, r->s.n_consumers);
	jw_key(&w, "MaxRecordSizeInKiB");
	jw_i64(&w, r->s.max_record_kib);
	if (r->s.mode == CP_ON_DEMAND) {
		/* the model: present for on-demand streams only */
		jw_key(&w, "RecordDistributionStrategy");
		jw_str(&w, cp_distributions[r->s.distribution == CP_DIST_AUTO]);
	}
	if (r->s.warm_mibps) {
		/* sluice needs no warming: the target is current at once */
		jw_key(&w, "WarmThroughput");
		jw_obj_begin(&w);
		jw_key(&w, "TargetMiBps");
		jw_i64(&w, r->s.warm_mibps);
		jw_key(&w, "CurrentMiBps");
		jw_i64(&w, r->s.warm_mibps);
		jw_obj_end(&w);
	}
	jw_obj_end(&w);
	jw_obj_end(&w);
	cp_out_end(r, &w);
}

/* --- ListStreams --- */

struct cp_list_out {
	struct jw *w;
	uint32_t limit, n;
	bool summaries; /* second pass writes StreamSummaries */
	char last[CP_NAME_MAX + 1];
};

static int cp_list_cb(void *arg, const struct cp_stream *s)
{
	struct cp_list_out *o = arg;

	if (o->n++ >= o->limit)
		return 1;
	snprintf(o->last, sizeof(o->last), "%s", s->name);
	if (!o->summaries) {
		jw_str(o->w, s->name);
		return 0;
	}
	jw_obj_begin(o->w);
	cp_write_head(o->w, s);
	jw_key(o->w, "StreamCreationTimestamp");
	jw_epoch_ms(o->w, s->created_ms);
	jw_obj_end(o->w);
	return 0;
}

/* NextToken of ListStreams: hex of the last name returned (opaque to
 * clients, bounded, and stable across restarts). */
static int cp_list_decode(struct cp_req *r, int64_t *limit, char *after, size_t cap)
{
	struct av *v = &r->v;
	int32_t root = av_root(v);
	char start[CP_STR_CAP], token[CP_STR_CAP];
	uint32_t start_cp = 0, token_cp = 0;
	bool has_limit = av_get_int(v, root, "Limit", AV_INTEGER, limit);
	bool has_start = av_get_str(v, root, "ExclusiveStartStreamName", start, sizeof(start),
				    &start_cp);
	bool has_token = av_get_str(v, root, "NextToken", token, sizeof(token), &token_cp);

	if (!v->ser && !v->bad_json) {
		if (has_limit)
			av_range(v, "limit", *limit, 1, 10000);
		if (has_start)
			cp_check_name(r, "exclusiveStartStreamName", start, start_cp);
		if (has_token)
			av_len(v, "nextToken", token, token_cp, 1, 1048576);
	}
	if (av_finish(v, &r->err)) {
		cp_reply_err(r->call, &r->err);
		return -1;
	}
	after[0] = '\0';
	if (has_token) {
		if (token_cp > CP_TOKEN_MAX || sl_hex_decode(after, cap, token, strlen(token)) < 0 ||
		    !av_match_name(after, strlen(after))) {
			cp_fail(r, 400, "InvalidArgumentException", "Invalid NextToken: %s", token);
			return -1;
		}
	} else if (has_start) {
		cp_copy(after, cap, start);
	}
	return 0;
}

static void cp_list_streams(struct cp_req *r)
{
	int64_t limit = 100;
	char after[CP_NAME_MAX + 1], token[2 * CP_NAME_MAX + 1];
	struct jw w;

	if (cp_list_decode(r, &limit, after, sizeof(after)))
		return;
	if (!cp_out_begin(r, &w, 256 + (size_t)limit * (CP_SUMMARY_JSON_MAX + CP_ARN_CAP)))
		return;
	struct cp_list_out o = { .w = &w, .limit = (uint32_t)limit };
	jw_obj_begin(&w);
	jw_key(&w, "StreamNames");
	jw_arr_begin(&w);
	int n1 = cp_store_list(r->cp->st, after[0] ? after : NULL, o.limit + 1, cp_list_cb, &o);
	jw_arr_end(&w);
	bool more = o.n > o.limit;
	o.n = 0;
	o.summaries = true;
	jw_key(&w, "StreamSummaries");
	jw_arr_begin(&w);
	int n2 = cp_store_list(r->cp->st, after[0] ? after : NULL, o.limit, cp_list_cb, &o);
	jw_arr_end(&w);
	jw_key(&w, "HasMoreStreams");
	jw_bool(&w, more);
	if (more) {
		sl_hex_encode(token, o.last, strlen(o.last));
		jw_key(&w, "NextToken");
		jw_str(&w, token);
	}
	jw_obj_end(&w);
	if (n1 < 0 || n2 < 0) {
		free(w.buf);
		cp_internal(r);
		return;
	}
	cp_out_end(r, &w);
}

/* --- ListShards --- */

struct cp_ls {
	bool has_max, has_start, has_token, has_ts, has_filter, has_ftype, has_fid, has_fts;
	int64_t max, ts_ms, fts_ms;
	int32_t ftype;
	uint32_t start_cp, token_cp, fid_cp;
	char start[CP_STR_CAP], token[CP_STR_CAP], fid[CP_STR_CAP], ftype_s[64];
};

static int cp_ls_decode(struct cp_req *r, struct cp_ls *l)
{
	struct av *v = &r->v;
	int32_t root = av_root(v), f;

	r->has_name = av_get_str(v, root, "StreamName", r->name, sizeof(r->name), &r->name_cp);
	l->has_token = av_get_str(v, root, "NextToken", l->token, sizeof(l->token), &l->token_cp);
	l->has_start = av_get_str(v, root, "ExclusiveStartShardId", l->start, sizeof(l->start),
				  &l->start_cp);
	l->has_max = av_get_int(v, root, "MaxResults", AV_INTEGER, &l->max);
	l->has_ts = av_get_time_ms(v, root, "StreamCreationTimestamp", &l->ts_ms);
	f = av_get_obj(v, root, "ShardFilter");
	l->has_filter = f >= 0;
	l->has_ftype = av_get_enum(v, f, "Type", cp_filters, 6, &l->ftype, l->ftype_s,
				   sizeof(l->ftype_s));
	l->has_fid = av_get_str(v, f, "ShardId", l->fid, sizeof(l->fid), &l->fid_cp);
	l->has_fts = av_get_time_ms(v, f, "Timestamp", &l->fts_ms);
	r->has_arn = av_get_str(v, root, "StreamARN", r->arn, sizeof(r->arn), &r->arn_cp);
	if (v->ser || v->bad_json)
		return av_finish(v, &r->err);
	if (l->has_max)
		av_range(v, "maxResults", l->max, 1, 10000);
	if (l->has_start)
		cp_check_name(r, "exclusiveStartShardId", l->start, l->start_cp);
	cp_check_ident(r, false);
	if (l->has_token)
		av_len(v, "nextToken", l->token, l->token_cp, 1, 1048576);
	if (l->has_filter)
		av_not_null(v, "shardFilter.type", l->has_ftype);
	if (l->has_ftype)
		av_enum(v, "shardFilter.type", l->ftype_s, l->ftype, cp_filters, 6);
	if (l->has_fid)
		cp_check_name(r, "shardFilter.shardId", l->fid, l->fid_cp);
	return av_finish(v, &r->err);
}

/* Kinesis's rules on which ListShards members may be combined. */
static int cp_ls_rules(struct cp_req *r, const struct cp_ls *l)
{
	const char *with = NULL;

	if (!l->has_token && !r->has_name && !r->has_arn)
		with = "Either NextToken or StreamName should be provided.";
	else if (l->has_token && r->has_name)
		with = "NextToken and StreamName cannot be provided together.";
	else if (l->has_token && r->has_arn)
		with = "NextToken and StreamARN cannot be provided together.";
	else if (l->has_token && l->has_start)
		with = "NextToken and ExclusiveStartShardId cannot be provided together.";
	else if (l->has_token && l->has_ts)
		with = "NextToken and StreamCreationTimestamp cannot be provided together.";
	else if (l->has_token && l->has_filter)
		with = "NextToken and ShardFilter cannot be provided together.";
	else if (l->has_filter && l->ftype == CP_F_AFTER && !l->has_fid)
		with = "ShardId must be specified when ShardFilter type is AFTER_SHARD_ID.";
	else if (l->has_filter && (l->ftype == CP_F_AT_TS || l->ftype == CP_F_FROM_TS) &&
		 !l->has_fts)
		with = "Timestamp must be specified when ShardFilter type is AT_TIMESTAMP or "
		       "FROM_TIMESTAMP.";
	if (with == NULL)
		return 0;
	cp_fail(r, 400, "InvalidArgumentException", "%s", with);
	return -1;
}

/* ShardFilter by time (AWS ListShards docs): AT_LATEST: open shards;
 * AT_TRIM_HORIZON / AT_TIMESTAMP: shards open at that time; FROM_TRIM_HORIZON
 * / FROM_TIMESTAMP: shards open then or later (not closed before it). The
 * trim horizon is now - retention; both it and a timestamp are taken no
 * earlier than the stream's creation, when its first shards opened. */
struct cp_ls_filter {
	int32_t type;
	int64_t at_ms;
};

static void cp_ls_filter_init(struct cp_ls_filter *f, const struct cp_stream *s, int32_t type,
			      int64_t ts_ms)
{
	f->type = type;
	if (type == 1 || type == 2) /* AT_ / FROM_TRIM_HORIZON */
		ts_ms = sl_wall_ms() - (int64_t)s->retention_hours * 3600 * 1000;
	f->at_ms = SL_MAX(ts_ms, s->created_ms);
}

static int cp_ls_keep(const struct cp_shard *sh, const void *arg)
{
	const struct cp_ls_filter *f = arg;
	bool open_then = sh->closed_ms == 0 || sh->closed_ms >= f->at_ms;

	switch (f->type) {
	case 3: /* AT_LATEST */
		return sh->closed_ms == 0;
	case 1: /* AT_TRIM_HORIZON */
	case CP_F_AT_TS:
		return sh->created_ms <= f->at_ms && open_then;
	default: /* FROM_TRIM_HORIZON, FROM_TIMESTAMP */
		return open_then;
	}
}

/* ListShards NextToken: hex of "name/created_ms/last shard id/max results".
 * Opaque, bounded (< 400 chars), and tied to one incarnation of the stream. */
static int cp_ls_token_decode(struct cp_req *r, struct cp_ls *l, int64_t *created_ms)
{
	char plain[CP_TOKEN_MAX], *p1, *p2, *p3;

	if (l->token_cp > CP_TOKEN_MAX ||
	    sl_hex_decode(plain, sizeof(plain), l->token, strlen(l->token)) < 0)
		goto bad;
	p1 = strchr(plain, '/');
	p2 = p1 ? strchr(p1 + 1, '/') : NULL;
	p3 = p2 ? strchr(p2 + 1, '/') : NULL;
	if (p3 == NULL)
		goto bad;
	*p1 = *p2 = *p3 = '\0';
	if (!av_match_name(plain, strlen(plain)) || !av_match_name(p2 + 1, strlen(p2 + 1)) ||
	    strlen(plain) > CP_NAME_MAX || strlen(p2 + 1) >= CP_SHARD_ID_CAP)
		goto bad;
	snprintf(r->name, sizeof(r->name), "%s", plain);
	r->has_name = true;
	*created_ms = strtoll(p1 + 1, NULL, 10);
	snprintf(l->start, sizeof(l->start), "%s", p2 + 1);
	l->has_start = true;
	char *end;
	int64_t max = strtoll(p3 + 1, &end, 10);
	if (!l->has_max) {
		l->max = max;
		l->has_max = l->max >= 1 && l->max <= 10000;
	}
	/* The ShardFilter of the first page applies to the following ones. */
	if (*end == '/') {
		int64_t ft = strtoll(end + 1, &end, 10);
		if (*end != '/' || ft < 0 || ft > CP_F_FROM_TS)
			goto bad;
		l->has_filter = l->has_ftype = true;
		l->ftype = (int32_t)ft;
		l->fts_ms = strtoll(end + 1, NULL, 10);
	}
	return 0;
bad:
	cp_fail(r, 400, "InvalidArgumentException", "%s", "Invalid NextToken.");
	return -1;
}

static void cp_ls_write_token(struct jw *w, const struct cp_stream *s, const char *last,
			      uint32_t max, const struct cp_ls *l)
{
	char plain[CP_NAME_MAX + 120], hex[2 * sizeof(plain) + 1];
	int n = snprintf(plain, sizeof(plain), "%s/%lld/%s/%u", s->name,
			 (long long)s->created_ms, last, max);

	if (l->has_filter && l->ftype != CP_F_AFTER)
		n += snprintf(plain + n, sizeof(plain) - (size_t)n, "/%d/%lld", (int)l->ftype,
			      (long long)l->fts_ms);

	sl_hex_encode(hex, plain, (size_t)n);
	jw_key(w, "NextToken");
	jw_str(w, hex);
}

static void cp_list_shards(struct cp_req *r)
{
	struct cp_ls *l = calloc(1, sizeof(*l));
	int64_t created_ms = -1;
	const char *after = NULL;
	struct jw w;

	if (l == NULL) {
		cp_internal(r);
		return;
	}
	if (cp_ls_decode(r, l)) {
		cp_reply_err(r->call, &r->err);
		goto out;
	}
	if (cp_ls_rules(r, l) || (l->has_token && cp_ls_token_decode(r, l, &created_ms)))
		goto out;
	if (cp_resolve(r))
		goto out;
	if (created_ms >= 0 && created_ms != r->s.created_ms) {
		cp_fail(r, 400, "ExpiredNextTokenException", "%s", "The NextToken has expired.");
		goto out;
	}
	uint32_t max = l->has_max ? (uint32_t)l->max : 1000;
	if (l->has_start)
		after = l->start;
	/* AFTER_SHARD_ID: shards after the given one (an id, not a time). */
	if (l->has_filter && l->ftype == CP_F_AFTER && (!after || strcmp(l->fid, after) > 0))
		after = l->fid;
	if (!cp_out_begin(r, &w, 512 + (size_t)max * CP_SHARD_JSON_MAX))
		goto out;
	struct cp_shard_out o = { .w = &w, .limit = max };
	struct cp_ls_filter f;
	if (l->has_filter && l->ftype != CP_F_AFTER) {
		cp_ls_filter_init(&f, &r->s, l->ftype, l->fts_ms);
		o.keep = cp_ls_keep;
		o.keep_arg = &f;
	}
	jw_obj_begin(&w);
	jw_key(&w, "Shards");
	jw_arr_begin(&w);
	/* With a filter, rows it drops must not use up the query's LIMIT: the
	 * callback stops the scan instead. */
	uint32_t rows = o.keep ? UINT32_MAX : max + 1;
	if (cp_shards_visible(&r->s) &&
	    cp_store_shards(r->cp->st, r->s.name, after, rows, cp_shard_cb, &o) < 0) {
		free(w.buf);
		cp_internal(r);
		goto out;
	}
	jw_arr_end(&w);
	if (o.n > o.limit)
		cp_ls_write_token(&w, &r->s, o.last, max, l);
	jw_obj_end(&w);
	cp_out_end(r, &w);
out:
	free(l);
}

/* --- Increase/DecreaseStreamRetentionPeriod --- */

#define CP_RETENTION_MIN_HOURS 24
#define CP_RETENTION_MAX_HOURS 8760

static void cp_retention(struct cp_req *r, bool increase)
{
	struct av *v = &r->v;
	int64_t hours = 0;
	bool has_hours = av_get_int(v, av_root(v), "RetentionPeriodHours", AV_INTEGER, &hours);

	cp_get_ident(r);
	if (!v->ser && !v->bad_json) {
		av_not_null(v, "retentionPeriodHours", has_hours);
		if (has_hours)
			av_range(v, "retentionPeriodHours", hours, 1, INT64_MAX);
		cp_check_ident(r, false);
	}
	if (av_finish(v, &r->err)) {
		cp_reply_err(r->call, &r->err);
		return;
	}
	if (cp_resolve(r))
		return;
	if (hours < CP_RETENTION_MIN_HOURS) {
		cp_fail(r, 400, "InvalidArgumentException", "Minimum allowed retention period is "
			"%d hours. Requested retention period (%lld hours) is too short.",
			CP_RETENTION_MIN_HOURS, (long long)hours);
		return;
	}
	if (hours > CP_RETENTION_MAX_HOURS) {
		cp_fail(r, 400, "InvalidArgumentException", "Maximum allowed retention period is "
			"%d hours. Requested retention period (%lld hours) is too long.",
			CP_RETENTION_MAX_HOURS, (long long)hours);
		return;
	}
	if (r->s.status != CP_ACTIVE) {
		cp_fail(r, 400, "ResourceInUseException", "Stream %s under account %s not ACTIVE, "
			"instead in state %s", r->s.name, r->cp->account_id,
			cp_status_name(r->s.status));
		return;
	}
	if (increase ? hours < r->s.retention_hours : hours > r->s.retention_hours) {
		cp_fail(r, 400, "InvalidArgumentException", "Requested retention period (%lld "
			"hours) for stream %s can not be %s than existing retention period (%u "
			"hours). Use %s API.", (long long)hours, r->s.name,
			increase ? "shorter" : "longer", r->s.retention_hours,
			increase ? "DecreaseRetentionPeriod" : "IncreaseRetentionPeriod");
		return;
	}
	if (cp_store_set_retention(r->cp->st, r->s.name, (uint32_t)hours))
		cp_internal(r);
	else
		cp_ok_empty(r);
}

/* --- dispatch --- */

/* The operations whose handler takes an argument. */
static void cp_increase_retention(struct cp_req *r)
{
	cp_retention(r, true);
}

static void cp_decrease_retention(struct cp_req *r)
{
	cp_retention(r, false);
}

static void cp_describe_account_settings(struct cp_req *r)
{
	cp_account_settings(r, false);
}

static void cp_update_account_settings(struct cp_req *r)
{
	cp_account_settings(r, true);
}

static void cp_tag(struct cp_req *r)
{
	cp_tag_resource(r, 0);
}

static void cp_untag(struct cp_req *r)
{
	cp_tag_resource(r, 1);
}

static void cp_list_tags_for_resource(struct cp_req *r)
{
	cp_tag_resource(r, 2);
}

static void cp_enable_monitoring(struct cp_req *r)
{
	cp_monitoring(r, true);
}

static void cp_disable_monitoring(struct cp_req *r)
{
	cp_monitoring(r, false);
}

static void cp_start_encryption(struct cp_req *r)
{
	cp_stream_encryption(r, true);
}

static void cp_stop_encryption(struct cp_req *r)
{
	cp_stream_encryption(r, false);
}

/* The control plane's half of the operation table (the descriptors are in
 * dataplane/api/api.h, which cannot name these): each control operation's
 * handler, indexed by enum api_op. One list expands to the designated
 * initializers and to the bit mask that must equal the api table's served
 * control operations, so a new control operation that has no handler (or a
 * handler for an operation the table does not post here) fails to compile. */
#define CP_HANDLERS(X)                                                                     \
	X(CREATE_STREAM, cp_create_stream)                                                 \
	X(DELETE_STREAM, cp_delete_stream)                                                 \
	X(DESCRIBE_STREAM, cp_describe_stream)                                             \
	X(DESCRIBE_STREAM_SUMMARY, cp_describe_summary)                                    \
	X(LIST_STREAMS, cp_list_streams)                                                   \
	X(LIST_SHARDS, cp_list_shards)                                                     \
	X(INCREASE_RETENTION, cp_increase_retention)                                       \
	X(DECREASE_RETENTION, cp_decrease_retention)                                       \
	X(SPLIT_SHARD, cp_split_shard)                                                     \
	X(MERGE_SHARDS, cp_merge_shards)                                                   \
	X(UPDATE_SHARD_COUNT, cp_update_shard_count)                                       \
	X(UPDATE_STREAM_MODE, cp_update_stream_mode)                                       \
	X(UPDATE_WARM_THROUGHPUT, cp_update_warm)                                          \
	X(UPDATE_MAX_RECORD_SIZE, cp_update_max_record)                                    \
	X(DESCRIBE_LIMITS, cp_describe_limits)                                             \
	X(DESCRIBE_ACCOUNT_SETTINGS, cp_describe_account_settings)                         \
	X(UPDATE_ACCOUNT_SETTINGS, cp_update_account_settings)                             \
	X(ADD_TAGS_TO_STREAM, cp_add_tags)                                                 \
	X(REMOVE_TAGS_FROM_STREAM, cp_remove_tags)                                         \
	X(LIST_TAGS_FOR_STREAM, cp_list_tags)                                              \
	X(TAG_RESOURCE, cp_tag)                                                            \
	X(UNTAG_RESOURCE, cp_untag)                                                        \
	X(LIST_TAGS_FOR_RESOURCE, cp_list_tags_for_resource)                               \
	X(ENABLE_MONITORING, cp_enable_monitoring)                                         \
	X(DISABLE_MONITORING, cp_disable_monitoring)                                       \
	X(START_ENCRYPTION, cp_start_encryption)                                           \
	X(STOP_ENCRYPTION, cp_stop_encryption)                                             \
	X(REGISTER_CONSUMER, cp_register_consumer)                                         \
	X(DEREGISTER_CONSUMER, cp_deregister_consumer)                                     \
	X(DESCRIBE_CONSUMER, cp_describe_consumer)                                         \
	X(LIST_CONSUMERS, cp_list_consumers)                                               \
	X(PUT_RESOURCE_POLICY, cp_put_resource_policy)                                     \
	X(GET_RESOURCE_POLICY, cp_get_resource_policy)                                     \
	X(DELETE_RESOURCE_POLICY, cp_delete_resource_policy)                               \
	X(UPDATE_DISTRIBUTION, cp_update_distribution)                                     \
	X(CREATE_CHANNEL, cp_create_channel)                                               \
	X(DELETE_CHANNEL, cp_delete_channel)                                               \
	X(DESCRIBE_CHANNEL, cp_describe_channel)                                           \
	X(LIST_CHANNELS, cp_list_channels)                                                 \
	X(UPDATE_CHANNEL, cp_update_channel)

#define CP_HANDLER_INIT_(op, fn) [API_OP_##op] = fn,
#define CP_HANDLER_BIT_(op, fn) | API_OP_BIT(API_OP_##op)
static void (*const cp_handlers[API_OP__COUNT])(struct cp_req *r) = {
	CP_HANDLERS(CP_HANDLER_INIT_)
};
static_assert((UINT64_C(0) CP_HANDLERS(CP_HANDLER_BIT_)) == API_OPS_CONTROL_MASK,
	      "cp_handlers must cover exactly the control operations of API_OPS");
#undef CP_HANDLER_INIT_
#undef CP_HANDLER_BIT_

bool cp_serves(enum api_op op)
{
	return op < API_OP__COUNT && cp_handlers[op] != NULL;
}

void cp_streams_execute(struct cp *cp, struct ctl_call *call)
{
	struct cp_req *r = calloc(1, sizeof(*r));

	call->status = 500;
	call->resp = NULL;
	call->resp_len = 0;
	if (r == NULL)
		return;
	r->cp = cp;
	r->call = call;
	/* av_parse failing leaves v.bad_json set: every op answers it with a
	 * bare SerializationException from av_finish. */
	(void)av_parse(&r->v, call->body ? call->body : "", call->body ? call->body_len : 0);
	if (!cp_rate_take(r)) {
		free(r);
		return;
	}
	if (cp_serves(call->op))
		cp_handlers[call->op](r);
	else
		cp_fail(r, 400, "InvalidArgumentException", "%s", "Operation not supported");
	free(r);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Stream settings (UpdateStreamMode, UpdateStreamWarmThroughput,
 * UpdateMaxRecordSize), tags (AddTagsToStream, RemoveTagsFromStream,
 * ListTagsForStream, TagResource, UntagResource, ListTagsForResource),
 * DescribeLimits, Describe/UpdateAccountSettings, Enable/Disable
 * EnhancedMonitoring, and the control operations' rate limits. Runs on the
 * control thread only. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/utf8.h"
#include "controlplane/cp_internal.h"

#define CP_TBN "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"
#define CP_LIST_SHOWN 1024 /* a list as Coral prints it in a message, bounded */

const char *const cp_metric_names[CP_METRICS_N + 1] = {
	"IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
	"WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded",
	"IteratorAgeMilliseconds", "ALL",
};

/* --- shared decoding --- */

static void cp_ser(struct av *v, const char *msg)
{
	if (v->ser)
		return;
	v->ser = true;
	snprintf(v->ser_msg, sizeof(v->ser_msg), "%s", msg);
}

/* Type pass of a list of strings (Coral's texts for a wrong element). */
static int32_t cp_get_str_list(struct av *v, int32_t obj, const char *name)
{
	int32_t arr = av_get_arr(v, obj, name);
	uint32_t el;

	if (arr < 0)
		return -1;
	el = (uint32_t)arr + 1;
	for (uint32_t i = 0; i < v->doc.toks[arr].count; i++, el = v->doc.toks[el].next) {
		switch (v->doc.toks[el].type) {
		case JSON_STRING:
		case JSON_NULL:
			break;
		case JSON_NUMBER:
			cp_ser(v, CP_TBN " can not be converted to an String");
			break;
		case JSON_OBJECT:
			cp_ser(v, "Start of structure or map found where not expected.");
			break;
		case JSON_ARRAY:
			cp_ser(v, "Start of list found where not expected");
			break;
		default:
			cp_ser(v, "class java.lang.Boolean can not be converted to an String");
			break;
		}
	}
	return v->ser ? -1 : arr;
}

/* Calls fn for each string element (unescaped, with its code points) and
 * prints the list as Java does ("[a, b]") into shown (cut at a code point
 * when it does not fit). An element too long for the buffer (longer than
 * any valid value) reaches fn as NULL: shown by its prefix, never used. */
static void cp_str_list(struct av *v, int32_t arr, char *shown, size_t cap,
			void (*fn)(void *arg, const char *s, uint32_t len_cp), void *arg)
{
	size_t len = 0;
	bool room = utf8_append(shown, cap, &len, "[");
	uint32_t el = (uint32_t)arr + 1;
	char s[CP_STR_CAP];

	for (uint32_t i = 0; i < v->doc.toks[arr].count; i++, el = v->doc.toks[el].next) {
		bool null = v->doc.toks[el].type == JSON_NULL, whole = true;
		size_t n;

		if (null) {
			snprintf(s, sizeof(s), "null");
		} else {
			n = json_str_unescape_prefix(&v->doc, el, s, sizeof(s), &whole);
			(void)utf8_replace_nul(s, n, sizeof(s));
		}
		if (room)
			room = utf8_append(shown, cap, &len, "%s%s", i ? ", " : "", s);
		if (!null && fn)
			fn(arg, whole ? s : NULL, json_str_codepoints(&v->doc, el));
	}
	if (room)
		(void)utf8_append(shown, cap, &len, "]");
}

static int cp_finish(struct cp_req *r)
{
	if (av_finish(&r->v, &r->err) == 0)
		return 0;
	cp_reply_err(r->call, &r->err);
	return -1;
}

/* --- tags --- */

/* Kinesis's tag characters: Unicode letters, digits (numbers), white space
 * (separators: U+0020, U+00A0, U+3000, ..., but not tab or newline, as
 * recorded in kinesalite's tests) and _ . : / = + - @, the model's
 * [\p{L}\p{Z}\p{N}_.:/=+\-@]. '%' is listed as valid in the documentation
 * but refused with another message (kinesalite addTagsToStream.js, recorded
 * from Kinesis). Returns 0, 1 for a character outside the set, 2 for '%'. */
static int cp_tag_text_check(const char *s)
{
	size_t len = strlen(s), off = 0;
	int rc = 0;

	while (off < len) {
		uint32_t c = utf8_next(s, len, &off);
		if (c == '%')
			rc = 2;
		else if (!utf8_is_letter_number_sep(c) && !(c < 0x80 && strchr("_.:/=+-@", (int)c)))
			return 1;
	}
	return rc;
}

static const char cp_valid_tag_chars[] =
	"Some tags contain invalid characters. Valid characters: Unicode letters, digits, "
	"white space, _ . / = + - % @ :.";
static const char cp_illegal_tag_chars[] =
	"because some tags contained illegal characters. The allowed characters are Unicode "
	"letters, white-spaces, '_',',','/','=','+','-','@',':'.";

struct cp_tag_count {
	const struct cp_tag *add;
	uint32_t n_add, total;
};

static int cp_count_tag(void *arg, const struct cp_tag *t)
{
	struct cp_tag_count *c = arg;

	for (uint32_t i = 0; i < c->n_add; i++)
		if (strcmp(c->add[i].key, t->key) == 0)
			return 0; /* replaced, counted with the new ones */
	c->total++;
	return 0;
}

int cp_tags_check(struct cp_req *r, const struct cp_tag *tags, uint32_t n)
{
	int bad = 0;

	for (uint32_t i = 0; i < n && bad != 1; i++) {
		int k = cp_tag_text_check(tags[i].key), v = cp_tag_text_check(tags[i].value);
		bad = k == 1 || v == 1 ? 1 : k || v ? 2 : bad;
	}
	if (bad == 1) {
		cp_fail(r, 400, "InvalidArgumentException", "%s", cp_valid_tag_chars);
		return -1;
	}
	if (bad == 2) {
		cp_fail(r, 400, "InvalidArgumentException", "Failed to add tags to stream %s under "
			"account %s %s", r->s.name, r->cp->account_id, cp_illegal_tag_chars);
		return -1;
	}
	return 0;
}

/* Applies tags to r->s after Kinesis's checks (kinesalite texts). */
static void cp_tags_apply(struct cp_req *r, const struct cp_tag *tags, uint32_t n)
{
	struct cp_tag_count c = { tags, n, n };

	if (cp_tags_check(r, tags, n))
		return;
	if (cp_store_tags(r->cp->st, r->s.name, NULL, UINT32_MAX, cp_count_tag, &c) < 0) {
		cp_internal(r);
		return;
	}
	if (c.total > CP_MAX_TAGS_PER_STREAM) {
		/* sic: Kinesis's text says 10 while the limit is 50 (kinesalite) */
		cp_fail(r, 400, "InvalidArgumentException", "Failed to add tags to stream %s under "
			"account %s because a given stream cannot have more than 10 tags "
			"associated with it.", r->s.name, r->cp->account_id);
		return;
	}
	if (cp_store_tags_put(r->cp->st, r->s.name, tags, n))
		cp_internal(r);
	else
		cp_ok_empty(r);
}

void cp_add_tags(struct cp_req *r)
{
	struct av *v = &r->v;
	struct cp_tag *tags = NULL;
	uint32_t n = 0;
	int32_t t;

	r->has_name = av_get_str(v, av_root(v), "StreamName", r->name, sizeof(r->name),
				 &r->name_cp);
	t = av_get(v, av_root(v), "Tags", AV_MAP);
	r->has_arn = av_get_str(v, av_root(v), "StreamARN", r->arn, sizeof(r->arn), &r->arn_cp);
	if (!v->ser && !v->bad_json) {
		if (r->has_name)
			cp_check_name(r, "streamName", r->name, r->name_cp);
		av_not_null(v, "tags", t >= 0);
		if (t >= 0)
			cp_tags_decode(r, t, &tags, &n);
		cp_check_arn(r);
	}
	if (cp_finish(r) == 0 && cp_resolve(r) == 0) {
		if (tags == NULL && n == 0)
			cp_internal(r);
		else
			cp_tags_apply(r, tags, n);
	}
	free(tags);
}

struct cp_keys {
	char (*keys)[CP_TAG_KEY_CAP];
	uint32_t n, cap;
	bool bad_len, bad_chars;
};

static void cp_key_cb(void *arg, const char *s, uint32_t len_cp)
{
	struct cp_keys *k = arg;
	size_t n;

	k->bad_len |= len_cp < 1 || len_cp > CP_TAG_KEY_MAX;
	if (s == NULL || len_cp < 1 || len_cp > CP_TAG_KEY_MAX)
		return; /* reported by the length constraint, never stored cut */
	n = strlen(s);
	if (n >= CP_TAG_KEY_CAP) {
		/* Only a key with U+0000s (3 bytes each once replaced) can
		 * grow past 4 bytes per code point: it is invalid anyway. */
		k->bad_chars = true;
		return;
	}
	if (k->n < k->cap)
		memcpy(k->keys[k->n++], s, n + 1);
}

/* TagKeys (RemoveTagsFromStream, UntagResource): 1..50 keys of 1..128. */
static void cp_keys_decode(struct cp_req *r, int32_t arr, struct cp_keys *k)
{
	struct av *v = &r->v;
	char shown[CP_LIST_SHOWN];
	uint32_t n = v->doc.toks[arr].count;

	k->cap = SL_MIN(n, 50u);
	k->keys = calloc(k->cap + 1, sizeof(*k->keys));
	if (k->keys == NULL)
		k->cap = 0;
	cp_str_list(v, arr, shown, sizeof(shown), cp_key_cb, k);
	if (n < 1)
		av_violation(v, "tagKeys", shown, "Member must have length greater than or equal to 1");
	if (n > 50)
		av_violation(v, "tagKeys", shown, "Member must have length less than or equal to 50");
	if (k->bad_len)
		av_violation(v, "tagKeys", shown, "Member must satisfy constraint: [Member must "
			     "have length less than or equal to 128, Member must have length "
			     "greater than or equal to 1]");
}

static void cp_keys_apply(struct cp_req *r, struct cp_keys *k)
{
	if (k->bad_chars) {
		cp_fail(r, 400, "InvalidArgumentException", "%s", cp_valid_tag_chars);
		return;
	}
	for (uint32_t i = 0; i < k->n; i++) {
		int bad = cp_tag_text_check(k->keys[i]);
		if (bad == 1) {
			cp_fail(r, 400, "InvalidArgumentException", "%s", cp_valid_tag_chars);
			return;
		}
		if (bad == 2) {
			cp_fail(r, 400, "InvalidArgumentException", "Failed to remove tags from "
				"stream %s under account %s %s", r->s.name, r->cp->account_id,
				cp_illegal_tag_chars);
			return;
		}
	}
	if (cp_store_tags_del(r->cp->st, r->s.name, k->keys, k->n))
		cp_internal(r);
	else
		cp_ok_empty(r);
}

void cp_remove_tags(struct cp_req *r)
{
	struct av *v = &r->v;
	struct cp_keys k = { 0 };
	int32_t arr;

	r->has_name = av_get_str(v, av_root(v), "StreamName", r->name, sizeof(r->name),
				 &r->name_cp);
	arr = cp_get_str_list(v, av_root(v), "TagKeys");
	r->has_arn = av_get_str(v, av_root(v), "StreamARN", r->arn, sizeof(r->arn), &r->arn_cp);
	if (!v->ser && !v->bad_json) {
		if (r->has_name)
			cp_check_name(r, "streamName", r->name, r->name_cp);
		av_not_null(v, "tagKeys", arr >= 0);
		if (arr >= 0)
			cp_keys_decode(r, arr, &k);
		cp_check_arn(r);
	}
	if (cp_finish(r) == 0 && cp_resolve(r) == 0)
		cp_keys_apply(r, &k);
	free(k.keys);
}

struct cp_tags_out {
	struct jw *w;
	uint32_t limit, n;
};

static int cp_tag_out(void *arg, const struct cp_tag *t)
{
	struct cp_tags_out *o = arg;

	if (o->n++ >= o->limit)
		return 1; /* the extra row only says "more" */
	jw_obj_begin(o->w);
	jw_key(o->w, "Key");
	jw_str(o->w, t->key);
	jw_key(o->w, "Value");
	jw_str(o->w, t->value);
	jw_obj_end(o->w);
	return 0;
}

/* Tags of r->s as {"Tags":[...]} (+ HasMoreTags when paged). */
static void cp_tags_reply(struct cp_req *r, const char *after, uint32_t limit, bool paged)
{
	struct jw w;
	struct cp_tags_out o = { &w, limit, 0 };

	/* Stored tags passed the character check: JSON needs no escapes in
	 * them, so a tag takes its bytes plus the punctuation. */
	if (!cp_out_begin(r, &w, 64 + (size_t)SL_MIN(limit, CP_MAX_TAGS + 1) *
				      (CP_TAG_KEY_CAP + CP_TAG_VALUE_CAP + 32)))
		return;
	jw_obj_begin(&w);
	jw_key(&w, "Tags");
	jw_arr_begin(&w);
	if (cp_store_tags(r->cp->st, r->s.name, after, limit + 1, cp_tag_out, &o) < 0) {
		free(w.buf);
		cp_internal(r);
		return;
	}
	jw_arr_end(&w);
	if (paged) {
		jw_key(&w, "HasMoreTags");
		jw_bool(&w, o.n > limit);
	}
	jw_obj_end(&w);
	cp_out_end(r, &w);
}

#define CP_LIST_TAGS_DEFAULT 10 /* kinesalite's default Limit */

void cp_list_tags(struct cp_req *r)
{
	struct av *v = &r->v;
	int32_t root = av_root(v);
	char start[CP_STR_CAP];
	uint32_t start_cp = 0;
	int64_t limit = CP_LIST_TAGS_DEFAULT;
	bool has_start, has_limit;

	/* Kinesis's member order (kinesalite's listTagsForStream validations):
	 * Limit, ExclusiveStartTagKey, StreamName. */
	has_limit = av_get_int(v, root, "Limit", AV_INTEGER, &limit);
	has_start = av_get_str(v, root, "ExclusiveStartTagKey", start, sizeof(start), &start_cp);
	r->has_name = av_get_str(v, root, "StreamName", r->name, sizeof(r->name), &r->name_cp);
	r->has_arn = av_get_str(v, root, "StreamARN", r->arn, sizeof(r->arn), &r->arn_cp);
	if (!v->ser && !v->bad_json) {
		if (has_limit)
			av_range(v, "limit", limit, 1, 50);
		if (has_start)
			av_len(v, "exclusiveStartTagKey", start, start_cp, 1, 128);
		if (r->has_name)
			cp_check_name(r, "streamName", r->name, r->name_cp);
		cp_check_arn(r);
	}
	if (cp_finish(r) || cp_resolve(r))
		return;
	cp_tags_reply(r, has_start ? start : NULL, (uint32_t)limit, true);
}

/* The ARN shapes of the model's ResourceARN members, over the whole string:
 * "arn:aws" ... ":kinesis:" ... ":" + 12 digits + ":" and then a tail. With
 * need_stream false the tail is ".+" (arn:aws.*:kinesis:.*:\d{12}:.+, the
 * tagging operations); with need_stream true it is ".*stream/\S+" (the
 * resource-policy operations): some "stream/" followed by non-space
 * characters to the end. Every candidate account field is tried, as the
 * regular expression's backtracking would. */
bool cp_match_kinesis_arn(const char *s, size_t n, bool need_stream)
{
	const char *k = strstr(s, ":kinesis:");

	if (n < 7 || strncmp(s, "arn:aws", 7) != 0 || k == NULL)
		return false;
	for (const char *p = k + 8; *p; p++) {
		size_t d = 0;
		while (d < 12 && p[1 + d] >= '0' && p[1 + d] <= '9')
			d++;
		if (*p != ':' || d != 12 || p[13] != ':')
			continue;
		if (!need_stream) {
			if (p[14] != '\0')
				return true;
			continue;
		}
		for (const char *st = strstr(p + 14, "stream/"); st; st = strstr(st + 1, "stream/")) {
			const char *t = st + 7;
			if (!*t)
				continue;
			while (*t && !isspace((unsigned char)*t))
				t++;
			if (!*t)
				return true;
		}
	}
	return false;
}

/* ResourceARN pattern of the model: arn:aws.*:kinesis:.*:\d{12}:.+ */
#define CP_PAT_RESOURCE_ARN "arn:aws.*:kinesis:.*:\\d{12}:.+"
static bool cp_match_resource_arn(const char *s, size_t n)
{
	return cp_match_kinesis_arn(s, n, false);
}

/* TagResource (what 0), UntagResource (1), ListTagsForResource (2). Only
 * streams carry tags here; a consumer ARN is not found. */
void cp_tag_resource(struct cp_req *r, int what)
{
	struct av *v = &r->v;
	int32_t root = av_root(v), t = -1, arr = -1;
	struct cp_tag *tags = NULL;
	struct cp_keys k = { 0 };
	uint32_t n = 0;

	if (what == 0)
		t = av_get(v, root, "Tags", AV_MAP);
	if (what == 1)
		arr = cp_get_str_list(v, root, "TagKeys");
	r->has_arn = av_get_str(v, root, "ResourceARN", r->arn, sizeof(r->arn), &r->arn_cp);
	if (!v->ser && !v->bad_json) {
		if (what == 0) {
			av_not_null(v, "tags", t >= 0);
			if (t >= 0)
				cp_tags_decode(r, t, &tags, &n);
		}
		if (what == 1) {
			av_not_null(v, "tagKeys", arr >= 0);
			if (arr >= 0)
				cp_keys_decode(r, arr, &k);
		}
		av_not_null(v, "resourceARN", r->has_arn);
		if (r->has_arn)
			av_str_member(v, "resourceARN", r->arn, r->arn_cp, CP_PAT_RESOURCE_ARN,
				      cp_match_resource_arn, 1, 2048);
	}
	if (cp_finish(r))
		goto out;
	if (strstr(r->arn, "/consumer/")) {
		/* Not recorded from Kinesis. */
		cp_fail(r, 400, "ResourceNotFoundException", "Resource %s not found.", r->arn);
		goto out;
	}
	if (cp_resolve(r))
		goto out;
	if (what == 0)
		cp_tags_apply(r, tags, n);
	else if (what == 1)
		cp_keys_apply(r, &k);
	else
		cp_tags_reply(r, NULL, CP_MAX_TAGS, false);
out:
	free(tags);
	free(k.keys);
}

/* --- UpdateStreamMode, UpdateStreamWarmThroughput, UpdateMaxRecordSize --- */

static int cp_set(struct cp_req *r, const char *col, int64_t value)
{
	if (cp_store_set_int(r->cp->st, r->s.name, col, value) == 0)
		return 0;
	cp_internal(r);
	return -1;
}

/* Stream UPDATING for create_delay_ms (a mode switch is asynchronous). */
static int cp_set_updating(struct cp_req *r)
{
	uint32_t delay = r->cp->cfg.create_delay_ms;

	if (delay == 0)
		return 0;
	if (cp_store_set_status(r->cp->st, r->s.name, CP_UPDATING, sl_wall_ms() + delay) == 0)
		return 0;
	cp_internal(r);
	return -1;
}

static int cp_on_demand_limit(struct cp_req *r)
{
	uint32_t n;

	if (cp_store_on_demand_count(r->cp->st, &n)) {
		cp_internal(r);
		return -1;
	}
	if (n < CP_ON_DEMAND_STREAM_LIMIT)
		return 0;
	/* Not recorded from Kinesis (the limit is documented, not its text). */
	cp_fail(r, 400, "LimitExceededException", "This request would exceed the on-demand "
		"stream count limit for the account %s in %s. Current on-demand stream count: "
		"%u. Limit: %u.", r->cp->account_id, r->call->region, n, CP_ON_DEMAND_STREAM_LIMIT);
	return -1;
}

/* ON_DEMAND streams: on-demand auto-scaling by observed throughput is not
 * done (the shard count stays as it is); the mode is recorded and shown. */
void cp_update_stream_mode(struct cp_req *r)
{
	struct av *v = &r->v;
	int32_t root = av_root(v), md, idx = -1;
	char mode[64];
	int64_t warm = 0;
	bool has_mode, has_warm;

	r->has_arn = av_get_str(v, root, "StreamARN", r->arn, sizeof(r->arn), &r->arn_cp);
	md = av_get_obj(v, root, "StreamModeDetails");
	has_mode = av_get_enum(v, md, "StreamMode", cp_modes, 2, &idx, mode, sizeof(mode));
	has_warm = av_get_int(v, root, "WarmThroughputMiBps", AV_INTEGER, &warm);
	if (!v->ser && !v->bad_json) {
		av_not_null(v, "streamARN", r->has_arn);
		cp_check_arn(r);
		av_not_null(v, "streamModeDetails", md >= 0);
		if (md >= 0)
			av_not_null(v, "streamModeDetails.streamMode", has_mode);
		if (has_mode)
			av_enum(v, "streamModeDetails.streamMode", mode, idx, cp_modes, 2);
		if (has_warm)
			av_range(v, "warmThroughputMiBps", warm, 0, INT64_MAX);
	}
	if (cp_finish(r) || cp_resolve(r) || cp_require_active(r))
		return;
	uint8_t want = idx == 1 ? CP_ON_DEMAND : CP_PROVISIONED;
	if (want != r->s.mode) {
		if ((want == CP_ON_DEMAND && cp_on_demand_limit(r)) || cp_set(r, "mode", want) ||
		    cp_set_updating(r))
			return;
		/* AUTO distribution is an on-demand setting (the model): a
		 * provisioned stream routes by partition key again. */
		if (want == CP_PROVISIONED && r->s.distribution == CP_DIST_AUTO &&
		    cp_set(r, "distribution", CP_DIST_USER_PARTITION_KEY))
			return;
	}
	if (has_warm && want == CP_ON_DEMAND && cp_set(r, "warm_mibps", warm))
		return;
	cp_ok_empty(r);
}

void cp_update_warm(struct cp_req *r)
{
	struct av *v = &r->v;
	int32_t root = av_root(v);
	int64_t warm = 0;
	bool has_warm;
	struct jw w;

	r->has_arn = av_get_str(v, root, "StreamARN", r->arn, sizeof(r->arn), &r->arn_cp);
	r->has_name = av_get_str(v, root, "StreamName", r->name, sizeof(r->name), &r->name_cp);
	has_warm = av_get_int(v, root, "WarmThroughputMiBps", AV_INTEGER, &warm);
	if (!v->ser && !v->bad_json) {
		cp_check_arn(r);
		if (r->has_name)
			cp_check_name(r, "streamName", r->name, r->name_cp);
		av_not_null(v, "warmThroughputMiBps", has_warm);
		if (has_warm)
			av_range(v, "warmThroughputMiBps", warm, 0, INT64_MAX);
	}
	if (cp_finish(r) || cp_resolve(r) || cp_require_active(r))
		return;
	if (r->s.mode != CP_ON_DEMAND) {
		/* Not recorded from Kinesis: warm throughput is an on-demand setting. */
		cp_fail(r, 400, "InvalidArgumentException", "Warm throughput can only be set for "
			"stream %s under account %s in ON_DEMAND mode.", r->s.name,
			r->cp->account_id);
		return;
	}
	if (cp_set(r, "warm_mibps", warm) || !cp_out_begin(r, &w, 512 + CP_ARN_CAP))
		return;
	jw_obj_begin(&w);
	jw_key(&w, "StreamARN");
	jw_str(&w, r->s.arn);
	jw_key(&w, "StreamName");
	jw_str(&w, r->s.name);
	jw_key(&w, "WarmThroughput");
	jw_obj_begin(&w);
	jw_key(&w, "TargetMiBps");
	jw_i64(&w, warm);
	jw_key(&w, "CurrentMiBps");
	jw_i64(&w, warm); /* nothing to warm up here */
	jw_obj_end(&w);
	jw_obj_end(&w);
	cp_out_end(r, &w);
}

void cp_update_max_record(struct cp_req *r)
{
	struct av *v = &r->v;
	int32_t root = av_root(v);
	int64_t kib = 0;
	bool has_kib;

	r->has_arn = av_get_str(v, root, "StreamARN", r->arn, sizeof(r->arn), &r->arn_cp);
	has_kib = av_get_int(v, root, "MaxRecordSizeInKiB", AV_INTEGER, &kib);
	if (!v->ser && !v->bad_json) {
		cp_check_arn(r);
		av_not_null(v, "maxRecordSizeInKiB", has_kib);
		if (has_kib)
			av_range(v, "maxRecordSizeInKiB", kib, 1024, 10240);
	}
	if (cp_finish(r) || cp_resolve(r) || cp_require_active(r) ||
	    cp_set(r, "max_record_kib", kib))
		return;
	cp_ok_empty(r);
}

/* --- DescribeLimits --- */

void cp_describe_limits(struct cp_req *r)
{
	uint32_t streams, on_demand;
	uint64_t shards;
	struct jw w;

	if (cp_finish(r))
		return;
	if (cp_store_totals(r->cp->st, &streams, &shards) ||
	    cp_store_on_demand_count(r->cp->st, &on_demand)) {
		cp_internal(r);
		return;
	}
	if (!cp_out_begin(r, &w, 256))
		return;
	jw_obj_begin(&w);
	jw_key(&w, "ShardLimit");
	jw_i64(&w, r->cp->cfg.shard_limit);
	jw_key(&w, "OpenShardCount");
	jw_i64(&w, (int64_t)shards);
	jw_key(&w, "OnDemandStreamCount");
	jw_i64(&w, on_demand);
	jw_key(&w, "OnDemandStreamCountLimit");
	jw_i64(&w, CP_ON_DEMAND_STREAM_LIMIT);
	jw_obj_end(&w);
	cp_out_end(r, &w);
}

/* --- Describe/UpdateAccountSettings: the minimum throughput billing
 * commitment. Enabling starts it; it lasts at least CP_MTBC_MIN_MS, so
 * disabling earlier keeps it ENABLED_UNTIL_EARLIEST_ALLOWED_END. Stored in
 * the meta table as "status/started/ended/earliest" (ms, 0 = unset). --- */

#define CP_MTBC_MIN_MS (24 * 3600 * 1000LL)
static const char *const cp_mtbc_in[] = { "ENABLED", "DISABLED" };

struct cp_mtbc {
	char status[48];
	long long started_ms, ended_ms, earliest_ms;
};

static void cp_mtbc_load(struct cp_req *r, struct cp_mtbc *m, int64_t now)
{
	char buf[160];

	memset(m, 0, sizeof(*m));
	snprintf(m->status, sizeof(m->status), "DISABLED");
	if (cp_store_meta_get(r->cp->st, "mtbc", buf, sizeof(buf)) == 0 &&
	    sscanf(buf, "%47[A-Z_]/%lld/%lld/%lld", m->status, &m->started_ms, &m->ended_ms,
		   &m->earliest_ms) != 4)
		snprintf(m->status, sizeof(m->status), "DISABLED");
	if (strcmp(m->status, "ENABLED_UNTIL_EARLIEST_ALLOWED_END") == 0 && now >= m->ended_ms)
		snprintf(m->status, sizeof(m->status), "DISABLED");
}

static void cp_mtbc_write(struct jw *w, const struct cp_mtbc *m)
{
	jw_key(w, "MinimumThroughputBillingCommitment");
	jw_obj_begin(w);
	jw_key(w, "Status");
	jw_str(w, m->status);
	if (m->started_ms) {
		jw_key(w, "StartedAt");
		jw_epoch_ms(w, m->started_ms);
	}
	if (m->ended_ms) {
		jw_key(w, "EndedAt");
		jw_epoch_ms(w, m->ended_ms);
	}
	if (m->earliest_ms) {
		jw_key(w, "EarliestAllowedEndAt");
		jw_epoch_ms(w, m->earliest_ms);
	}
	jw_obj_end(w);
}

static int cp_mtbc_update(struct cp_req *r, struct cp_mtbc *m, bool enable, int64_t now)
{
	char buf[160];

	if (enable && strcmp(m->status, "DISABLED") == 0) {
		*m = (struct cp_mtbc){ "ENABLED", now, 0, now + CP_MTBC_MIN_MS };
	} else if (enable) {
		snprintf(m->status, sizeof(m->status), "ENABLED"); /* keeps its start */
		m->ended_ms = 0;
	} else if (strcmp(m->status, "DISABLED") != 0) {
		bool early = now < m->earliest_ms;
		snprintf(m->status, sizeof(m->status), "%s",
			 early ? "ENABLED_UNTIL_EARLIEST_ALLOWED_END" : "DISABLED");
		m->ended_ms = early ? m->earliest_ms : now;
	}
	snprintf(buf, sizeof(buf), "%s/%lld/%lld/%lld", m->status, m->started_ms, m->ended_ms,
		 m->earliest_ms);
	if (cp_store_meta_set(r->cp->st, "mtbc", buf) == 0)
		return 0;
	cp_internal(r);
	return -1;
}

void cp_account_settings(struct cp_req *r, bool update)
{
	struct av *v = &r->v;
	int32_t md = -1, idx = -1;
	char status[64];
	bool has_status = false;
	int64_t now = sl_wall_ms();
	struct cp_mtbc m;
	struct jw w;

	if (update) {
		md = av_get_obj(v, av_root(v), "MinimumThroughputBillingCommitment");
		has_status = av_get_enum(v, md, "Status", cp_mtbc_in, 2, &idx, status,
					 sizeof(status));
		if (!v->ser && !v->bad_json) {
			av_not_null(v, "minimumThroughputBillingCommitment", md >= 0);
			if (md >= 0)
				av_not_null(v, "minimumThroughputBillingCommitment.status",
					    has_status);
			if (has_status)
				av_enum(v, "minimumThroughputBillingCommitment.status", status,
					idx, cp_mtbc_in, 2);
		}
	}
	if (cp_finish(r))
		return;
	cp_mtbc_load(r, &m, now);
	if (update && cp_mtbc_update(r, &m, idx == 0, now))
		return;
	if (!cp_out_begin(r, &w, 512))
		return;
	jw_obj_begin(&w);
	cp_mtbc_write(&w, &m);
	jw_obj_end(&w);
	cp_out_end(r, &w);
}

/* --- Enable/DisableEnhancedMonitoring --- */

struct cp_metrics {
	uint8_t mask;
	bool bad;
};

static void cp_metric_cb(void *arg, const char *s, uint32_t len_cp)
{
	struct cp_metrics *m = arg;

	(void)len_cp;
	if (s == NULL) { /* longer than any metric name */
		m->bad = true;
		return;
	}
	for (uint32_t i = 0; i <= CP_METRICS_N; i++)
		if (strcmp(s, cp_metric_names[i]) == 0) {
			m->mask |= i == CP_METRICS_N ? (uint8_t)((1u << CP_METRICS_N) - 1)
						     : (uint8_t)(1u << i);
			return;
		}
	m->bad = true;
}

static void cp_metrics_decode(struct cp_req *r, int32_t arr, struct cp_metrics *m)
{
	struct av *v = &r->v;
	char shown[CP_LIST_SHOWN], set[256];
	uint32_t n = v->doc.toks[arr].count;
	size_t len = 0;

	cp_str_list(v, arr, shown, sizeof(shown), cp_metric_cb, m);
	if (n < 1)
		av_violation(v, "shardLevelMetrics", shown, "Member must have length greater than "
			     "or equal to 1");
	if (n > CP_METRICS_N)
		av_violation(v, "shardLevelMetrics", shown, "Member must have length less than or "
			     "equal to 7");
	if (!m->bad)
		return;
	len += (size_t)snprintf(set, sizeof(set), "Member must satisfy constraint: [Member "
				"must satisfy enum value set: [");
	for (uint32_t i = 0; i <= CP_METRICS_N && len < sizeof(set); i++)
		len += (size_t)snprintf(set + len, sizeof(set) - len, "%s%s", i ? ", " : "",
					cp_metric_names[i]);
	if (len < sizeof(set))
		snprintf(set + len, sizeof(set) - len, "]]");
	av_violation(v, "shardLevelMetrics", shown, set);
}

static void cp_metrics_list(struct jw *w, const char *key, uint8_t mask)
{
	jw_key(w, key);
	jw_arr_begin(w);
	for (uint32_t i = 0; i < CP_METRICS_N; i++)
		if (mask & (1u << i))
			jw_str(w, cp_metric_names[i]);
	jw_arr_end(w);
}

void cp_monitoring(struct cp_req *r, bool enable)
{
	struct av *v = &r->v;
	int32_t root = av_root(v), arr;
	struct cp_metrics m = { 0 };
	struct jw w;

	r->has_name = av_get_str(v, root, "StreamName", r->name, sizeof(r->name), &r->name_cp);
	arr = cp_get_str_list(v, root, "ShardLevelMetrics");
	r->has_arn = av_get_str(v, root, "StreamARN", r->arn, sizeof(r->arn), &r->arn_cp);
	if (!v->ser && !v->bad_json) {
		if (r->has_name)
			cp_check_name(r, "streamName", r->name, r->name_cp);
		av_not_null(v, "shardLevelMetrics", arr >= 0);
		if (arr >= 0)
			cp_metrics_decode(r, arr, &m);
		cp_check_arn(r);
	}
	if (cp_finish(r) || cp_resolve(r) || cp_require_active(r))
		return;
	uint8_t cur = r->s.metrics;
	uint8_t want = enable ? (uint8_t)(cur | m.mask) : (uint8_t)(cur & ~m.mask);
	if ((want != cur && cp_set(r, "metrics", want)) || !cp_out_begin(r, &w, 1024 + CP_ARN_CAP))
		return;
	jw_obj_begin(&w);
	jw_key(&w, "StreamName");
	jw_str(&w, r->s.name);
	cp_metrics_list(&w, "CurrentShardLevelMetrics", cur);
	cp_metrics_list(&w, "DesiredShardLevelMetrics", want);
	jw_key(&w, "StreamARN");
	jw_str(&w, r->s.arn);
	jw_obj_end(&w);
	cp_out_end(r, &w);
}

/* --- rate limits --- */

/* The stream a throttled request names, for the message. */
static bool cp_rate_stream(struct cp_req *r, char *name, size_t cap)
{
	const struct json_doc *d = &r->v.doc;
	char arn[CP_STR_CAP], region[CP_REGION_CAP], account[16];
	int32_t t;

	if (r->v.bad_json)
		return false;
	/* Before validation: a name longer than any valid one is shown by
	 * its prefix (cut at a code point), an ARN that long is not used. */
	t = json_obj_get(d, 0, "StreamName");
	if (t >= 0 && d->toks[t].type == JSON_STRING) {
		size_t n = json_str_unescape_prefix(d, (uint32_t)t, name, cap, NULL);
		(void)utf8_replace_nul(name, n, cap);
		return true;
	}
	t = json_obj_get(d, 0, "StreamARN");
	if (t < 0 || d->toks[t].type != JSON_STRING)
		return false;
	int64_t n = json_str_unescape(d, (uint32_t)t, arn, sizeof(arn));
	if (n < 0 || (size_t)n >= sizeof(arn) || memchr(arn, 0, (size_t)n))
		return false;
	return av_split_stream_arn(arn, region, sizeof(region), account, sizeof(account), name,
				   cap) == 0;
}

bool cp_rate_take(struct cp_req *r)
{
	struct cp *cp = r->cp;
	enum api_op op = r->call->op;
	/* Kinesis's documented per-account rate (api.h's table); 0 for an
	 * operation that is not a control operation, answered unsupported. */
	const struct api_op_info *info = api_op_info(op);
	uint16_t tps = info && info->plane == API_PLANE_CONTROL ? info->rate_tps : 0;
	uint64_t now = sl_mono_ms();
	char name[CP_NAME_MAX + 1];

	if (!cp->cfg.ctl_rate_limits || tps == 0 || tps == API_TPS_NONE)
		return true;
	/* Token bucket: refills at tps per second, holds one second's worth. */
	if (cp->rate[op].last_ms == 0)
		cp->rate[op].tokens = tps;
	else
		cp->rate[op].tokens += (double)(now - cp->rate[op].last_ms) * tps / 1000.0;
	cp->rate[op].tokens = SL_MIN(cp->rate[op].tokens, (double)tps);
	cp->rate[op].last_ms = now ? now : 1;
	if (cp->rate[op].tokens >= 1.0) {
		cp->rate[op].tokens -= 1.0;
		return true;
	}
	if (cp_rate_stream(r, name, sizeof(name)))
		cp_fail(r, 400, "LimitExceededException", "Rate exceeded for stream %s under "
			"account %s.", name, cp->account_id);
	else
		cp_fail(r, 400, "LimitExceededException", "Rate exceeded for account %s.",
			cp->account_id);
	return false;
}

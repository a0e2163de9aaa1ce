/* SPDX-License-Identifier: Apache-2.0 */
/* Channels: CreateChannel, DeleteChannel, DescribeChannel, ListChannels,
 * UpdateChannel (the current Kinesis model, as the JS SDK v3 carries it).
 * A channel delivers one stream's records to a general purpose S3 bucket.
 * Channels live in the table channels (cp_store.h) with persisted lifecycle
 * deadlines: CREATING -> ACTIVE after create_delay_ms, UPDATING -> ACTIVE
 * after create_delay_ms, DELETING -> gone after delete_delay_ms
 * (cp_store_run_due). Runs on the control thread only.
 *
 * Shapes and required members: the model. Constraints the model carries
 * but the SDK does not (lengths, patterns, ranges): the API reference
 * (ChannelARN arn:aws.*:kinesis:.*:\d{12}:channel/\S+ of 1..2048;
 * DataFreshnessInSeconds 300..900). No message of these operations is
 * recorded from Kinesis: every text made here is ours, in the style of its
 * stream messages, and listed in dataplane/api/README.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/bug.h"
#include "common/clock.h"
#include "common/hex.h"
#include "common/log.h"
#include "controlplane/cp_internal.h"

#define CP_PAT_CHANNEL_ARN "arn:aws.*:kinesis:.*:\\d{12}:channel/\\S+"
#define CP_PAT_ACCOUNT "\\d{12}"
#define CP_FRESHNESS_MIN 300
#define CP_FRESHNESS_MAX 900
#define CP_FRESHNESS_DEFAULT 300 /* what the model's example shows */
#define CP_CHANNEL_STR_MAX 1024u /* prefixes, templates, log names: an S3 key's length */
#define CP_CHANNEL_LIST_MAX 100u /* ListChannels: "at most 100 results" */
#define CP_CHANNELS_PER_STREAM 1u /* "one S3 channel ... per stream at launch" */
#define CP_CHANNEL_JSON_MAX (6u * CP_CHANNEL_OBJ_CAP + 2u * CP_CHANNEL_ARN_CAP + 1024u)

static const char *const cp_formats[] = { "GSR_JSON", "JSON", "STRING", "BYTE_ARRAY" };
static const char *const cp_compressions[] = { "GZIP", "NONE", "ZSTD" };
static const char *const cp_classes[] = { "GLACIER_IR", "INTELLIGENT_TIERING", "STANDARD" };
static const char *const cp_enc_types[] = { "KMS" };

/* The ChannelARN pattern over the whole string: "arn:aws" ... ":kinesis:"
 * ... ":" + 12 digits + ":channel/" and then non-space characters to the
 * end. Every ":channel/" is tried, as the regular expression's
 * backtracking would. */
static bool cp_match_channel_arn(const char *s, size_t n)
{
	static const char pre[] = "arn:aws";
	const char *end = s + n, *k, *c;

	if (n < sizeof(pre) - 1 || memcmp(s, pre, sizeof(pre) - 1) != 0)
		return false;
	k = memmem(s, n, ":kinesis:", 9);
	if (k == NULL)
		return false;
	/* the account's ':' may be the one ending ":kinesis:" (".*" empty) */
	for (c = k + 8; (c = memmem(c, (size_t)(end - c), ":channel/", 9)) != NULL; c++) {
		bool ok = c - (k + 8) >= 13 && c[-13] == ':' && c + 9 < end;
		for (const char *p = c - 12; ok && p < c; p++)
			ok = *p >= '0' && *p <= '9';
		for (const char *p = c + 9; ok && p < end; p++)
			ok = !(*p == ' ' || (*p >= '\t' && *p <= '\r'));
		if (ok)
			return true;
	}
	return false;
}

static bool cp_match_account(const char *s, size_t n)
{
	if (n != 12)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* One string member: present flag, text (cut at a code point when too long;
 * len_cp is the whole length), what the constraint pass needs. */
struct cp_cs {
	bool has;
	uint32_t cp;
	char s[CP_STR_CAP];
};

static void cp_cs_get(struct av *v, int32_t obj, const char *name, struct cp_cs *o)
{
	o->has = av_get_str(v, obj, name, o->s, sizeof(o->s), &o->cp);
}

/* An enum member: its index (-1 when not one of the values). */
struct cp_ce {
	bool has;
	int32_t idx;
	char s[64];
};

static void cp_ce_get(struct av *v, int32_t obj, const char *name, const char *const *vals,
		      uint32_t n, struct cp_ce *o)
{
	o->has = av_get_enum(v, obj, name, vals, n, &o->idx, o->s, sizeof(o->s));
}

static void cp_ce_check(struct av *v, const char *path, const struct cp_ce *e,
			const char *const *vals, uint32_t n)
{
	if (e->has)
		av_enum(v, path, e->s, e->idx, vals, n);
}

/* The bucket members shared by StorageConfiguration and the dead-letter
 * configuration. */
struct cp_bucket {
	int32_t tok;
	struct cp_cs arn, owner, extra; /* extra: template / error prefix */
};

static void cp_bucket_get(struct av *v, int32_t parent, const char *name, const char *extra,
			  struct cp_bucket *b)
{
	b->tok = av_get_obj(v, parent, name);
	cp_cs_get(v, b->tok, "BucketARN", &b->arn);
	cp_cs_get(v, b->tok, "ExpectedBucketOwner", &b->owner);
	cp_cs_get(v, b->tok, extra, &b->extra);
}

static void cp_bucket_check(struct av *v, const char *path, const char *extra,
			    const struct cp_bucket *b)
{
	char p[160];

	snprintf(p, sizeof(p), "%s.bucketARN", path);
	av_not_null(v, p, b->arn.has);
	if (b->arn.has)
		av_len(v, p, b->arn.s, b->arn.cp, 1, 2048);
	snprintf(p, sizeof(p), "%s.expectedBucketOwner", path);
	av_not_null(v, p, b->owner.has);
	if (b->owner.has)
		av_pattern(v, p, b->owner.s, CP_PAT_ACCOUNT, cp_match_account);
	snprintf(p, sizeof(p), "%s.%s", path, extra);
	if (b->extra.has)
		av_len(v, p, b->extra.s, b->extra.cp, 1, CP_CHANNEL_STR_MAX);
}

struct cp_chan_in {
	struct cp_cs name, role, sarn, gsr, key_id, log_group, log_stream, carn;
	int32_t list, s3, s3t, enc, tags, logging, cwl, filter;
	uint32_t n_streams;
	struct cp_ce format, compression, sclass, enc_type;
	bool has_fresh, has_log_enabled, log_enabled;
	int64_t fresh;
	struct cp_bucket storage, dlq;
	struct cp_channel c; /* what is stored */
};

/* LoggingConfiguration: {CloudWatchLogs: {Enabled, LogGroupName,
 * LogStreamName}}, the same in CreateChannel and UpdateChannel. */
static void cp_logging_get(struct av *v, struct cp_chan_in *k)
{
	k->logging = av_get_obj(v, av_root(v), "LoggingConfiguration");
	k->cwl = av_get_obj(v, k->logging, "CloudWatchLogs");
	k->has_log_enabled = av_get_bool(v, k->cwl, "Enabled", &k->log_enabled);
	cp_cs_get(v, k->cwl, "LogGroupName", &k->log_group);
	cp_cs_get(v, k->cwl, "LogStreamName", &k->log_stream);
}

static void cp_logging_check(struct av *v, const struct cp_chan_in *k)
{
	if (k->logging < 0)
		return;
	av_not_null(v, "loggingConfiguration.cloudWatchLogs", k->cwl >= 0);
	if (k->cwl < 0)
		return;
	av_not_null(v, "loggingConfiguration.cloudWatchLogs.enabled", k->has_log_enabled);
	if (k->log_group.has)
		av_len(v, "loggingConfiguration.cloudWatchLogs.logGroupName", k->log_group.s,
		       k->log_group.cp, 1, 512);
	if (k->log_stream.has)
		av_len(v, "loggingConfiguration.cloudWatchLogs.logStreamName", k->log_stream.s,
		       k->log_stream.cp, 1, 512);
}

/* The stored LoggingConfiguration: the CloudWatch Logs settings as given;
 * absent -> disabled (the description always has one). */
static int cp_logging_write(const struct cp_chan_in *k, char *out, size_t cap)
{
	struct jw w;

	jw_init(&w, out, cap);
	jw_obj_begin(&w);
	jw_key(&w, "CloudWatchLogs");
	jw_obj_begin(&w);
	jw_key(&w, "Enabled");
	jw_bool(&w, k->cwl >= 0 && k->log_enabled);
	if (k->cwl >= 0 && k->log_group.has) {
		jw_key(&w, "LogGroupName");
		jw_str(&w, k->log_group.s);
	}
	if (k->cwl >= 0 && k->log_stream.has) {
		jw_key(&w, "LogStreamName");
		jw_str(&w, k->log_stream.s);
	}
	jw_obj_end(&w);
	jw_obj_end(&w);
	if (w.overflow || w.len >= cap)
		return -ENOSPC;
	out[w.len] = '\0';
	return 0;
}

static int cp_finish(struct cp_req *r)
{
	if (av_finish(&r->v, &r->err) == 0)
		return 0;
	cp_reply_err(r->call, &r->err);
	return -1;
}

/* --- CreateChannel --- */

static int cp_create_decode(struct cp_req *r, struct cp_chan_in *k)
{
	struct av *v = &r->v;
	int32_t root = av_root(v), first = -1, rec = -1;

	cp_cs_get(v, root, "ChannelName", &k->name);
	cp_cs_get(v, root, "ServiceExecutionRoleARN", &k->role);
	k->list = av_get_arr(v, root, "StreamConfigurationList");
	if (k->list >= 0) {
		k->n_streams = v->doc.toks[k->list].count;
		/* Only the first element is read: more than one is refused below,
		 * but each must still be a structure (Coral's type pass). */
		for (uint32_t i = 0, t = (uint32_t)k->list + 1; i < k->n_streams;
		     i++, t = v->doc.toks[t].next) {
			if (!av_type_check(v, t, AV_STRUCT))
				break;
			if (i == 0)
				first = (int32_t)t;
		}
	}
	cp_cs_get(v, first, "StreamARN", &k->sarn);
	rec = av_get_obj(v, first, "RecordConfiguration");
	cp_ce_get(v, rec, "RecordFormatType", cp_formats, 4, &k->format);
	cp_cs_get(v, rec, "GSRSchemaARN", &k->gsr);
	k->s3 = av_get_obj(v, root, "S3DestinationConfiguration");
	k->has_fresh = av_get_int(v, k->s3, "DataFreshnessInSeconds", AV_INTEGER, &k->fresh);
	cp_bucket_get(v, k->s3, "DeadLetterQueueS3Configuration", "ErrorOutputPrefix", &k->dlq);
	cp_bucket_get(v, k->s3, "StorageConfiguration", "OutputKeyTemplate", &k->storage);
	cp_ce_get(v, k->storage.tok, "StorageClass", cp_classes, 3, &k->sclass);
	cp_ce_get(v, k->storage.tok, "CompressionType", cp_compressions, 3, &k->compression);
	k->s3t = av_get_obj(v, root, "S3TablesDestinationConfiguration");
	k->enc = av_get_obj(v, root, "EncryptionConfiguration");
	cp_ce_get(v, k->enc, "EncryptionType", cp_enc_types, 1, &k->enc_type);
	cp_cs_get(v, k->enc, "KeyId", &k->key_id);
	k->tags = av_get(v, root, "Tags", AV_MAP);
	cp_logging_get(v, k);
	if (!v->ser && !v->bad_json) {
		av_not_null(v, "channelName", k->name.has);
		if (k->name.has)
			av_str_member(v, "channelName", k->name.s, k->name.cp, AV_PAT_NAME,
				      av_match_name, 1, CP_NAME_MAX);
		av_not_null(v, "serviceExecutionRoleARN", k->role.has);
		if (k->role.has)
			av_len(v, "serviceExecutionRoleARN", k->role.s, k->role.cp, 1, 2048);
		av_not_null(v, "streamConfigurationList", k->list >= 0);
		if (first >= 0) {
			av_not_null(v, "streamConfigurationList.1.member.streamARN", k->sarn.has);
			if (k->sarn.has)
				av_str_member(v, "streamConfigurationList.1.member.streamARN",
					      k->sarn.s, k->sarn.cp, AV_PAT_STREAM_ARN,
					      av_match_stream_arn, 1, 2048);
			av_not_null(v, "streamConfigurationList.1.member.recordConfiguration",
				    rec >= 0);
			if (rec >= 0) {
				av_not_null(v, "streamConfigurationList.1.member."
					    "recordConfiguration.recordFormatType", k->format.has);
				cp_ce_check(v, "streamConfigurationList.1.member."
					    "recordConfiguration.recordFormatType", &k->format,
					    cp_formats, 4);
				if (k->gsr.has)
					av_len(v, "streamConfigurationList.1.member."
					       "recordConfiguration.gSRSchemaARN", k->gsr.s,
					       k->gsr.cp, 1, 2048);
			}
		}
		if (k->s3 >= 0) {
			if (k->has_fresh)
				av_range(v, "s3DestinationConfiguration.dataFreshnessInSeconds",
					 k->fresh, CP_FRESHNESS_MIN, CP_FRESHNESS_MAX);
			if (k->dlq.tok >= 0)
				cp_bucket_check(v, "s3DestinationConfiguration."
						"deadLetterQueueS3Configuration", "errorOutputPrefix",
						&k->dlq);
			av_not_null(v, "s3DestinationConfiguration.storageConfiguration",
				    k->storage.tok >= 0);
			if (k->storage.tok >= 0) {
				cp_bucket_check(v, "s3DestinationConfiguration.storageConfiguration",
						"outputKeyTemplate", &k->storage);
				cp_ce_check(v, "s3DestinationConfiguration.storageConfiguration."
					    "storageClass", &k->sclass, cp_classes, 3);
				av_not_null(v, "s3DestinationConfiguration.storageConfiguration."
					    "compressionType", k->compression.has);
				cp_ce_check(v, "s3DestinationConfiguration.storageConfiguration."
					    "compressionType", &k->compression, cp_compressions, 3);
			}
		}
		if (k->enc >= 0) {
			av_not_null(v, "encryptionConfiguration.encryptionType", k->enc_type.has);
			cp_ce_check(v, "encryptionConfiguration.encryptionType", &k->enc_type,
				    cp_enc_types, 1);
			av_not_null(v, "encryptionConfiguration.keyId", k->key_id.has);
			if (k->key_id.has)
				av_len(v, "encryptionConfiguration.keyId", k->key_id.s,
				       k->key_id.cp, 1, 2048);
		}
		cp_logging_check(v, k);
	}
	return cp_finish(r);
}

/* A member the decoder had to cut (more bytes than CP_STR_CAP holds,
 * though within its length in code points: multi-byte characters) is
 * refused, never stored cut. A cut ends on a code point, so at most 3
 * bytes short of the buffer. */
static bool cp_cs_cut(const struct cp_cs *o)
{
	return o->has && strlen(o->s) + 4 >= sizeof(o->s);
}

static int cp_refuse_cut(struct cp_req *r, const struct cp_chan_in *k)
{
	const struct {
		const struct cp_cs *cs;
		const char *name;
	} m[] = {
		{ &k->role, "ServiceExecutionRoleARN" },
		{ &k->storage.arn, "StorageConfiguration.BucketARN" },
		{ &k->storage.extra, "OutputKeyTemplate" },
		{ &k->dlq.arn, "DeadLetterQueueS3Configuration.BucketARN" },
		{ &k->dlq.extra, "ErrorOutputPrefix" },
		{ &k->key_id, "KeyId" },
		{ &k->log_group, "LogGroupName" },
		{ &k->log_stream, "LogStreamName" },
	};

	for (size_t i = 0; i < SL_ARRAY_SIZE(m); i++)
		if (cp_cs_cut(m[i].cs)) {
			cp_fail(r, 400, "InvalidArgumentException", "%s is too long.", m[i].name);
			return -1;
		}
	return 0;
}

/* What the model says in words rather than constraints. */
static int cp_create_rules(struct cp_req *r, const struct cp_chan_in *k)
{
	if (cp_refuse_cut(r, k))
		return -1;
	if (k->n_streams != 1) {
		cp_fail(r, 400, "InvalidArgumentException", "%s", "StreamConfigurationList "
			"must contain exactly one stream configuration.");
		return -1;
	}
	if (k->s3 >= 0 && k->s3t >= 0) {
		cp_fail(r, 400, "InvalidArgumentException", "%s", "Specify either "
			"S3DestinationConfiguration or S3TablesDestinationConfiguration, not both.");
		return -1;
	}
	if (k->s3t >= 0) {
		cp_fail(r, 400, "InvalidArgumentException", "%s", "S3TablesDestinationConfiguration "
			"is not supported by this endpoint: channels deliver to general purpose "
			"S3 buckets only (S3DestinationConfiguration).");
		return -1;
	}
	if (k->s3 < 0) {
		cp_fail(r, 400, "InvalidArgumentException", "%s", "Either "
			"S3DestinationConfiguration or S3TablesDestinationConfiguration must be "
			"specified.");
		return -1;
	}
	/* RecordConfiguration's documentation: GSR_JSON is for streaming tables
	 * only, and the schema goes with streaming tables. */
	if (strcmp(cp_formats[k->format.idx], "GSR_JSON") == 0) {
		cp_fail(r, 400, "InvalidArgumentException", "%s", "RecordFormatType GSR_JSON is "
			"supported only for S3 Tables destinations.");
		return -1;
	}
	if (k->gsr.has) {
		cp_fail(r, 400, "InvalidArgumentException", "%s", "GSRSchemaARN is supported only "
			"for S3 Tables destinations.");
		return -1;
	}
	/* A role of 2048 code points can take more bytes than the record
	 * keeps: refused, never cut. */
	if (strlen(k->role.s) >= CP_CHANNEL_ROLE_CAP) {
		cp_fail(r, 400, "InvalidArgumentException", "%s", "ServiceExecutionRoleARN is "
			"too long.");
		return -1;
	}
	/* Tags are not kept for channels yet: refused rather than dropped. */
	if (k->tags >= 0 && r->v.doc.toks[k->tags].count > 0) {
		cp_fail(r, 400, "InvalidArgumentException", "%s", "Tags on channels are not "
			"supported by this endpoint.");
		return -1;
	}
	return 0;
}

/* The stored JSON objects, as DescribeChannel shows them (defaults filled
 * in: the model's example shows DataFreshnessInSeconds 300, StorageClass
 * STANDARD, the dead-letter prefix kinesis-channel/errors/NAME/ID/). */
static int cp_create_objects(const struct cp_chan_in *k, struct cp_channel *c)
{
	struct jw w;

	jw_init(&w, c->record, sizeof(c->record));
	jw_obj_begin(&w);
	jw_key(&w, "RecordFormatType");
	jw_str(&w, cp_formats[k->format.idx]);
	jw_obj_end(&w);
	if (w.overflow || w.len >= sizeof(c->record))
		return -ENOSPC;
	c->record[w.len] = '\0';

	jw_init(&w, c->storage, sizeof(c->storage));
	jw_obj_begin(&w);
	jw_key(&w, "BucketARN");
	jw_str(&w, k->storage.arn.s);
	jw_key(&w, "ExpectedBucketOwner");
	jw_str(&w, k->storage.owner.s);
	jw_key(&w, "OutputKeyTemplate");
	if (k->storage.extra.has) {
		jw_str(&w, k->storage.extra.s);
	} else {
		/* The default the model's example shows. */
		jw_str(&w, "kinesis-channel/!{channel-name}/!{channel-id}/!{yyyy}/!{MM}/!{dd}/"
			   "!{HH}/!{channel-name}-!{channel-id}-!{yyyy}-!{MM}-!{dd}-!{HH}-!{mm}"
			   "!{extension}");
	}
	jw_key(&w, "StorageClass");
	jw_str(&w, k->sclass.has ? cp_classes[k->sclass.idx] : "STANDARD");
	jw_key(&w, "CompressionType");
	jw_str(&w, cp_compressions[k->compression.idx]);
	jw_obj_end(&w);
	if (w.overflow || w.len >= sizeof(c->storage))
		return -ENOSPC;
	c->storage[w.len] = '\0';

	/* Absent: dead letters go to the destination bucket, under the
	 * default prefix. */
	const struct cp_bucket *d = k->dlq.tok >= 0 ? &k->dlq : &k->storage;
	char prefix[CP_NAME_MAX + CP_CHANNEL_ID_CAP + 64];
	snprintf(prefix, sizeof(prefix), "kinesis-channel/errors/%s/%s/", c->name, c->id);
	jw_init(&w, c->dlq, sizeof(c->dlq));
	jw_obj_begin(&w);
	jw_key(&w, "BucketARN");
	jw_str(&w, d->arn.s);
	jw_key(&w, "ExpectedBucketOwner");
	jw_str(&w, d->owner.s);
	jw_key(&w, "ErrorOutputPrefix");
	jw_str(&w, k->dlq.tok >= 0 && k->dlq.extra.has ? k->dlq.extra.s : prefix);
	jw_obj_end(&w);
	if (w.overflow || w.len >= sizeof(c->dlq))
		return -ENOSPC;
	c->dlq[w.len] = '\0';

	c->encryption[0] = '\0';
	if (k->enc >= 0) {
		jw_init(&w, c->encryption, sizeof(c->encryption));
		jw_obj_begin(&w);
		jw_key(&w, "EncryptionType");
		jw_str(&w, "KMS");
		jw_key(&w, "KeyId");
		jw_str(&w, k->key_id.s);
		jw_obj_end(&w);
		if (w.overflow || w.len >= sizeof(c->encryption))
			return -ENOSPC;
		c->encryption[w.len] = '\0';
	}
	return cp_logging_write(k, c->logging, sizeof(c->logging));
}

/* A version 4 UUID from the kernel's random source. */
static int cp_channel_uuid(char out[CP_CHANNEL_ID_CAP])
{
	uint8_t b[16];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -EIO;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, CP_CHANNEL_ID_CAP,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
		 b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
	return 0;
}

static void cp_write_channel(struct cp_req *r, struct jw *w, const struct cp_channel *c,
			     const struct cp_stream *s)
{
	jw_key(w, "ChannelName");
	jw_str(w, c->name);
	jw_key(w, "ChannelARN");
	jw_str(w, c->arn);
	jw_key(w, "ChannelId");
	jw_str(w, c->id);
	jw_key(w, "ChannelStatus");
	jw_str(w, cp_status_name(c->status));
	jw_key(w, "ChannelCreationTimestamp");
	jw_epoch_ms(w, c->created_ms);
	jw_key(w, "ServiceExecutionRoleARN");
	jw_str(w, c->role);
	jw_key(w, "StreamConfigurationList");
	jw_arr_begin(w);
	jw_obj_begin(w);
	jw_key(w, "StreamARN");
	jw_str(w, s->arn);
	jw_key(w, "StreamCreationTimestamp");
	jw_epoch_ms(w, s->created_ms);
	jw_key(w, "RecordConfiguration");
	jw_raw(w, c->record, strlen(c->record));
	jw_obj_end(w);
	jw_arr_end(w);
	jw_key(w, "S3DestinationConfiguration");
	jw_obj_begin(w);
	jw_key(w, "DataFreshnessInSeconds");
	jw_i64(w, c->freshness_s);
	jw_key(w, "DeadLetterQueueS3Configuration");
	jw_raw(w, c->dlq, strlen(c->dlq));
	jw_key(w, "StorageConfiguration");
	jw_raw(w, c->storage, strlen(c->storage));
	jw_obj_end(w);
	if (c->encryption[0]) {
		jw_key(w, "EncryptionConfiguration");
		jw_raw(w, c->encryption, strlen(c->encryption));
	}
	jw_key(w, "LoggingConfiguration");
	jw_raw(w, c->logging, strlen(c->logging));
	(void)r;
}

/* {"ChannelDescription": {...}}: the answer of Create, Describe and
 * Update. */
static void cp_reply_channel(struct cp_req *r, const struct cp_channel *c,
			     const struct cp_stream *s)
{
	struct jw w;

	if (!cp_out_begin(r, &w, CP_CHANNEL_JSON_MAX))
		return;
	jw_obj_begin(&w);
	jw_key(&w, "ChannelDescription");
	jw_obj_begin(&w);
	cp_write_channel(r, &w, c, s);
	jw_obj_end(&w);
	jw_obj_end(&w);
	cp_out_end(r, &w);
}

static int cp_create_checks(struct cp_req *r, const struct cp_chan_in *k)
{
	struct cp_channel *old = malloc(sizeof(*old));
	uint32_t n, per_stream;
	int rc;

	if (old == NULL) {
		cp_internal(r);
		return -1;
	}
	rc = cp_store_channel_get(r->cp->st, NULL, k->name.s, old);
	free(old);
	if (rc == 0) {
		cp_fail(r, 400, "ResourceInUseException", "Channel %s already exists for account "
			"%s.", k->name.s, r->cp->account_id);
		return -1;
	}
	if (rc != -ENOENT || cp_store_channel_count(r->cp->st, NULL, &n)) {
		cp_internal(r);
		return -1;
	}
	/* "One S3 channel and one S3 Tables channel per stream at launch"
	 * (the S3 delivery guide); only S3 channels exist here. */
	if (cp_store_channel_count(r->cp->st, r->s.name, &per_stream)) {
		cp_internal(r);
		return -1;
	}
	if (per_stream >= CP_CHANNELS_PER_STREAM) {
		cp_fail(r, 400, "LimitExceededException", "Stream %s under account %s already has "
			"an S3 channel.", r->s.name, r->cp->account_id);
		return -1;
	}
	if (n >= CP_CHANNELS_MAX) {
		cp_fail(r, 400, "LimitExceededException", "Only %u channels can exist for account "
			"%s.", CP_CHANNELS_MAX, r->cp->account_id);
		return -1;
	}
	return 0;
}

void cp_create_channel(struct cp_req *r)
{
	struct cp_chan_in *k = calloc(1, sizeof(*k));
	uint32_t delay = r->cp->cfg.create_delay_ms;
	int64_t now = sl_wall_ms();
	struct cp_channel *c;
	int rc;

	if (k == NULL) {
		cp_internal(r);
		return;
	}
	if (cp_create_decode(r, k) || cp_create_rules(r, k))
		goto out;
	/* The source stream, found as every stream operation finds it. */
	r->has_arn = true;
	snprintf(r->arn, sizeof(r->arn), "%s", k->sarn.s);
	if (cp_resolve(r))
		goto out;
	if (r->s.status != CP_ACTIVE && r->s.status != CP_UPDATING) {
		(void)cp_require_active(r);
		goto out;
	}
	/* "This operation is only supported for data streams with the
	 * on-demand capacity mode" (the CreateChannel reference). */
	if (r->s.mode != CP_ON_DEMAND) {
		cp_fail(r, 400, "ValidationException", "Stream %s under account %s is in "
			"PROVISIONED capacity mode: channels are supported only for ON_DEMAND "
			"streams.", r->s.name, r->cp->account_id);
		goto out;
	}
	if (cp_create_checks(r, k))
		goto out;
	c = &k->c;
	/* Validated: at most CP_NAME_MAX ASCII characters, 2048 for the role. */
	snprintf(c->name, sizeof(c->name), "%.*s", CP_NAME_MAX, k->name.s);
	snprintf(c->stream, sizeof(c->stream), "%s", r->s.name);
	snprintf(c->role, sizeof(c->role), "%.*s", (int)sizeof(c->role) - 1, k->role.s);
	if (cp_channel_uuid(c->id)) {
		cp_internal(r);
		goto out;
	}
	/* The stream's partition, region and account: "...:stream/NAME" ->
	 * "...:channel/ID" (the model's example's form). */
	const char *st = strstr(r->s.arn, ":stream/");
	BUG_ON(st == NULL);
	snprintf(c->arn, sizeof(c->arn), "%.*s:channel/%s", (int)(st - r->s.arn), r->s.arn,
		 c->id);
	c->created_ms = now;
	c->status = delay ? CP_CREATING : CP_ACTIVE;
	c->deadline_ms = delay ? now + delay : 0;
	c->freshness_s = k->has_fresh ? (int32_t)k->fresh : CP_FRESHNESS_DEFAULT;
	if (cp_create_objects(k, c)) {
		cp_internal(r);
		goto out;
	}
	rc = cp_store_channel_add(r->cp->st, c);
	if (rc == -EEXIST) {
		cp_fail(r, 400, "ResourceInUseException", "Channel %s already exists for account "
			"%s.", c->name, r->cp->account_id);
		goto out;
	}
	if (rc) {
		cp_internal(r);
		goto out;
	}
	cp_reply_channel(r, c, &r->s);
out:
	free(k);
}

/* --- Delete / Describe / Update: by ChannelARN --- */

static void cp_carn_check(struct av *v, const struct cp_cs *carn)
{
	av_not_null(v, "channelARN", carn->has);
	if (carn->has)
		av_str_member(v, "channelARN", carn->s, carn->cp, CP_PAT_CHANNEL_ARN,
			      cp_match_channel_arn, 1, 2048);
}

/* The channel into c and its stream into r->s; on error the answer is
 * made and -1 returned. */
static int cp_channel_find(struct cp_req *r, const char *arn, struct cp_channel *c)
{
	int rc = cp_store_channel_get(r->cp->st, arn, NULL, c);

	if (rc == 0)
		rc = cp_store_get(r->cp->st, c->stream, &r->s);
	if (rc == -ENOENT) {
		cp_fail(r, 400, "ResourceNotFoundException", "Channel %s under account %s not "
			"found.", arn, r->cp->account_id);
		return -1;
	}
	if (rc) {
		cp_internal(r);
		return -1;
	}
	return 0;
}

static int cp_arn_only_decode(struct cp_req *r, struct cp_chan_in *k)
{
	struct av *v = &r->v;

	cp_cs_get(v, av_root(v), "ChannelARN", &k->carn);
	if (!v->ser && !v->bad_json)
		cp_carn_check(v, &k->carn);
	return cp_finish(r);
}

void cp_delete_channel(struct cp_req *r)
{
	struct cp_chan_in *k = calloc(1, sizeof(*k));
	uint32_t delay = r->cp->cfg.delete_delay_ms;
	int rc = 0;

	if (k == NULL) {
		cp_internal(r);
		return;
	}
	if (cp_arn_only_decode(r, k) || cp_channel_find(r, k->carn.s, &k->c))
		goto out;
	/* Deleting a DELETING channel again keeps its deadline. */
	if (k->c.status != CP_DELETING) {
		if (delay) {
			k->c.status = CP_DELETING;
			k->c.deadline_ms = sl_wall_ms() + delay;
			rc = cp_store_channel_update(r->cp->st, &k->c);
		} else {
			rc = cp_store_channel_remove(r->cp->st, k->c.arn);
		}
	}
	if (rc)
		cp_internal(r);
	else
		cp_ok_empty(r);
out:
	free(k);
}

void cp_describe_channel(struct cp_req *r)
{
	struct cp_chan_in *k = calloc(1, sizeof(*k));

	if (k == NULL) {
		cp_internal(r);
		return;
	}
	if (cp_arn_only_decode(r, k) || cp_channel_find(r, k->carn.s, &k->c))
		goto out;
	cp_reply_channel(r, &k->c, &r->s);
out:
	free(k);
}

void cp_update_channel(struct cp_req *r)
{
	struct cp_chan_in *k = calloc(1, sizeof(*k));
	uint32_t delay = r->cp->cfg.create_delay_ms;
	struct av *v = &r->v;
	int32_t root = av_root(v);
	bool has_tfresh;
	int64_t tfresh;

	if (k == NULL) {
		cp_internal(r);
		return;
	}
	cp_cs_get(v, root, "ChannelARN", &k->carn);
	k->s3 = av_get_obj(v, root, "S3DestinationConfiguration");
	k->has_fresh = av_get_int(v, k->s3, "DataFreshnessInSeconds", AV_INTEGER, &k->fresh);
	k->s3t = av_get_obj(v, root, "S3TablesDestinationConfiguration");
	has_tfresh = av_get_int(v, k->s3t, "DataFreshnessInSeconds", AV_INTEGER, &tfresh);
	cp_logging_get(v, k);
	if (!v->ser && !v->bad_json) {
		cp_carn_check(v, &k->carn);
		if (k->s3 >= 0) {
			av_not_null(v, "s3DestinationConfiguration.dataFreshnessInSeconds",
				    k->has_fresh);
			if (k->has_fresh)
				av_range(v, "s3DestinationConfiguration.dataFreshnessInSeconds",
					 k->fresh, CP_FRESHNESS_MIN, CP_FRESHNESS_MAX);
		}
		if (k->s3t >= 0) {
			av_not_null(v, "s3TablesDestinationConfiguration.dataFreshnessInSeconds",
				    has_tfresh);
			if (has_tfresh)
				av_range(v, "s3TablesDestinationConfiguration."
					 "dataFreshnessInSeconds", tfresh, CP_FRESHNESS_MIN,
					 CP_FRESHNESS_MAX);
		}
		cp_logging_check(v, k);
	}
	if (cp_finish(r) || cp_refuse_cut(r, k) || cp_channel_find(r, k->carn.s, &k->c))
		goto out;
	if (k->s3t >= 0) {
		cp_fail(r, 400, "InvalidArgumentException", "Channel %s delivers to a general "
			"purpose S3 bucket: update it with S3DestinationConfiguration.",
			k->c.arn);
		goto out;
	}
	if (k->s3 < 0 && k->logging < 0) {
		cp_fail(r, 400, "InvalidArgumentException", "%s", "Specify "
			"S3DestinationConfiguration or LoggingConfiguration to update.");
		goto out;
	}
	if (k->c.status != CP_ACTIVE) {
		cp_fail(r, 400, "ResourceInUseException", "Channel %s under account %s not ACTIVE, "
			"instead in state %s", k->c.arn, r->cp->account_id,
			cp_status_name(k->c.status));
		goto out;
	}
	if (k->s3 >= 0)
		k->c.freshness_s = (int32_t)k->fresh;
	if (k->logging >= 0 && cp_logging_write(k, k->c.logging, sizeof(k->c.logging))) {
		cp_internal(r);
		goto out;
	}
	if (delay) {
		k->c.status = CP_UPDATING;
		k->c.deadline_ms = sl_wall_ms() + delay;
	}
	if (cp_store_channel_update(r->cp->st, &k->c)) {
		cp_internal(r);
		goto out;
	}
	cp_reply_channel(r, &k->c, &r->s);
out:
	free(k);
}

/* --- ListChannels --- */

/* At most CP_CHANNELS_MAX filters could name a channel each: more is
 * refused as the filter list's bound (ours). */
#define CP_FILTERS_MAX 20u

struct cp_lch {
	struct cp_chan_in *k;
	bool has_max, has_token;
	int64_t max;
	struct cp_cs token;
	uint32_t n_filters;
	char filter[CP_FILTERS_MAX][CP_NAME_MAX + 1]; /* stream names */
	int64_t filter_ts[CP_FILTERS_MAX];		/* -1: any */
	char after[CP_NAME_MAX + 1];
};

static int cp_lch_decode(struct cp_req *r, struct cp_lch *l)
{
	struct av *v = &r->v;
	int32_t root = av_root(v), arr;
	struct cp_cs *sarn = &l->k->sarn;
	char path[96];

	arr = av_get_arr(v, root, "StreamFilter");
	l->has_max = av_get_int(v, root, "MaxResults", AV_INTEGER, &l->max);
	cp_cs_get(v, root, "NextToken", &l->token);
	if (arr >= 0) {
		uint32_t n = v->doc.toks[arr].count;
		for (uint32_t i = 0, t = (uint32_t)arr + 1; i < n && !v->ser;
		     i++, t = v->doc.toks[t].next) {
			int64_t ts = -1;
			if (!av_type_check(v, t, AV_STRUCT))
				break;
			cp_cs_get(v, (int32_t)t, "StreamARN", sarn);
			(void)av_get_time_ms(v, (int32_t)t, "StreamCreationTimestamp", &ts);
			if (v->ser)
				break;
			snprintf(path, sizeof(path), "streamFilter.%u.member.streamARN", i + 1);
			av_not_null(v, path, sarn->has);
			if (sarn->has)
				av_str_member(v, path, sarn->s, sarn->cp, AV_PAT_STREAM_ARN,
					      av_match_stream_arn, 1, 2048);
			char region[CP_REGION_CAP], account[16], name[CP_NAME_MAX + 1];
			if (l->n_filters < CP_FILTERS_MAX && sarn->has &&
			    av_split_stream_arn(sarn->s, region, sizeof(region), account,
						sizeof(account), name, sizeof(name)) == 0) {
				snprintf(l->filter[l->n_filters], sizeof(l->filter[0]), "%s",
					 name);
				l->filter_ts[l->n_filters++] = ts;
			}
		}
		if (!v->ser && n > CP_FILTERS_MAX) {
			cp_fail(r, 400, "InvalidArgumentException", "StreamFilter can name at most "
				"%u streams.", CP_FILTERS_MAX);
			return -1;
		}
	}
	if (!v->ser && !v->bad_json) {
		if (l->has_max)
			av_range(v, "maxResults", l->max, 1, INT64_MAX);
		if (l->token.has)
			av_len(v, "nextToken", l->token.s, l->token.cp, 1, 1048576);
	}
	return cp_finish(r);
}

/* NextToken: hex of the last channel name shown: opaque and bounded. */
static int cp_lch_token(struct cp_req *r, struct cp_lch *l)
{
	size_t n = strlen(l->token.s);

	if (!l->token.has)
		return 0;
	if (n == 0 || n / 2 > CP_NAME_MAX ||
	    sl_hex_decode(l->after, sizeof(l->after), l->token.s, n) < 0 ||
	    !av_match_name(l->after, n / 2))
		goto bad;
	return 0;
bad:
	cp_fail(r, 400, "InvalidArgumentException", "%s", "Invalid NextToken.");
	return -1;
}

struct cp_lch_out {
	struct cp_req *r;
	struct cp_lch *l;
	struct jw *w;
	uint32_t limit, n;
	bool more, failed;
	char last[CP_NAME_MAX + 1];
	struct cp_stream s;
};

static bool cp_lch_match(const struct cp_lch *l, const struct cp_channel *c,
			 const struct cp_stream *s)
{
	if (l->n_filters == 0)
		return true;
	for (uint32_t i = 0; i < l->n_filters; i++)
		if (strcmp(l->filter[i], c->stream) == 0 &&
		    (l->filter_ts[i] < 0 || l->filter_ts[i] / 1000 == s->created_ms / 1000))
			return true;
	return false;
}

static int cp_lch_cb(void *arg, const struct cp_channel *c)
{
	struct cp_lch_out *o = arg;

	if (cp_store_get(o->r->cp->st, c->stream, &o->s)) {
		o->failed = true;
		return 1;
	}
	if (!cp_lch_match(o->l, c, &o->s))
		return 0;
	if (o->n >= o->limit) {
		o->more = true;
		return 1;
	}
	o->n++;
	snprintf(o->last, sizeof(o->last), "%s", c->name);
	jw_obj_begin(o->w);
	jw_key(o->w, "ChannelName");
	jw_str(o->w, c->name);
	jw_key(o->w, "ChannelARN");
	jw_str(o->w, c->arn);
	jw_key(o->w, "ChannelId");
	jw_str(o->w, c->id);
	jw_key(o->w, "ChannelStatus");
	jw_str(o->w, cp_status_name(c->status));
	jw_key(o->w, "ChannelCreationTimestamp");
	jw_epoch_ms(o->w, c->created_ms);
	jw_key(o->w, "ChannelDestinationType");
	jw_str(o->w, "S3");
	jw_key(o->w, "Streams");
	jw_arr_begin(o->w);
	jw_obj_begin(o->w);
	jw_key(o->w, "StreamARN");
	jw_str(o->w, o->s.arn);
	jw_key(o->w, "StreamCreationTimestamp");
	jw_epoch_ms(o->w, o->s.created_ms);
	jw_obj_end(o->w);
	jw_arr_end(o->w);
	jw_obj_end(o->w);
	return 0;
}

void cp_list_channels(struct cp_req *r)
{
	struct cp_lch *l = calloc(1, sizeof(*l));
	struct cp_lch_out *o = NULL;
	struct jw w;

	if (l == NULL || (l->k = calloc(1, sizeof(*l->k))) == NULL ||
	    (o = calloc(1, sizeof(*o))) == NULL) {
		cp_internal(r);
		goto out;
	}
	if (cp_lch_decode(r, l) || cp_lch_token(r, l))
		goto out;
	/* "If you specify a value greater than 100, at most 100 results are
	 * returned." */
	uint32_t max = l->has_max ? (uint32_t)SL_MIN(l->max, (int64_t)CP_CHANNEL_LIST_MAX)
				  : CP_CHANNEL_LIST_MAX;
	if (!cp_out_begin(r, &w, 256 + (size_t)SL_MIN(max, CP_CHANNELS_MAX) *
					       (3 * CP_CHANNEL_ARN_CAP + 512)))
		goto out;
	*o = (struct cp_lch_out){ .r = r, .l = l, .w = &w, .limit = max };
	jw_obj_begin(&w);
	jw_key(&w, "ChannelSummaries");
	jw_arr_begin(&w);
	/* Every channel is at most CP_CHANNELS_MAX rows: one pass reads them
	 * all, the filter is applied here. */
	if (cp_store_channels(r->cp->st, l->after[0] ? l->after : NULL, CP_CHANNELS_MAX + 1,
			      cp_lch_cb, o) < 0 || o->failed) {
		free(w.buf);
		cp_internal(r);
		goto out;
	}
	jw_arr_end(&w);
	if (o->more) {
		static const char d[] = "0123456789abcdef";
		char hex[2 * CP_NAME_MAX + 1];
		size_t n = strlen(o->last);
		for (size_t i = 0; i < n; i++) {
			hex[2 * i] = d[(uint8_t)o->last[i] >> 4];
			hex[2 * i + 1] = d[(uint8_t)o->last[i] & 0xf];
		}
		hex[2 * n] = '\0';
		jw_key(&w, "NextToken");
		jw_str(&w, hex);
	}
	jw_obj_end(&w);
	cp_out_end(r, &w);
out:
	if (l)
		free(l->k);
	free(l);
	free(o);
}

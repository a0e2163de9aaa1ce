/* SPDX-License-Identifier: Apache-2.0 */
/* PutRecord(s), GetShardIterator, GetRecords: decode, validate, encode.
 *
 * Messages and their order come from kinesalite (validations/putRecords.js,
 * putRecord.js, getShardIterator.js, getRecords.js, validations/index.js and
 * the test/ files recorded against Kinesis): type pass in the model's member
 * order, then every constraint in that order (records.N.member.x paths,
 * 1-based), then av_finish. The Data blob prints as Coral prints a
 * ByteBuffer. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/base64.h"
#include "common/bug.h"
#include "common/u128.h"
#include "dataplane/api/records.h"

#define REC_PAT_HASH "0|([1-9]\\d{0,38})"
#define REC_PAT_SEQ "0|([1-9]\\d{0,128})"
#define REC_ENTRY_STR "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@2"
#define REC_PK_MAX_BYTES (REC_PK_MAX_CP * 4)

/* 0|([1-9]\d{0,max-1}) */
static bool rec_match_num(const char *s, size_t n, size_t max_digits)
{
	if (n == 0 || n > max_digits || (s[0] == '0' && n > 1))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool rec_match_hash(const char *s, size_t n)
{
	return rec_match_num(s, n, 39);
}

static bool rec_match_seq(const char *s, size_t n)
{
	return rec_match_num(s, n, 129);
}

/* Bounded copy (the value already passed its pattern, so it fits). */
static void rec_copy(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Latches a SerializationException the av toolkit has no getter for. */
static void rec_ser(struct av *v, const char *msg)
{
	if (v->ser)
		return;
	v->ser = true;
	snprintf(v->ser_msg, sizeof(v->ser_msg), "%s", msg);
}

/* PartitionKey, ExplicitHashKey, Data of one entry in one pass over its
 * members (json_obj_get_n): m[REC_M_*], -1 when absent. With null_absent a
 * null member counts as absent (a present member is non-null); without, it
 * is returned (av_type_check refuses null itself). */
enum { REC_M_PK, REC_M_EHK, REC_M_DATA, REC_M_N };
static void rec_members(const struct av *v, int32_t obj, bool null_absent, int32_t m[REC_M_N])
{
	static const char *const keys[REC_M_N] = { "PartitionKey", "ExplicitHashKey", "Data" };

	for (int j = 0; j < REC_M_N; j++)
		m[j] = -1;
	if (obj < 0 || v->doc.toks[obj].type != JSON_OBJECT)
		return;
	json_obj_get_n(&v->doc, (uint32_t)obj, keys, REC_M_N, m);
	if (null_absent)
		for (int j = 0; j < REC_M_N; j++)
			if (m[j] >= 0 && v->doc.toks[m[j]].type == JSON_NULL)
				m[j] = -1;
}

/* String token -> NUL-terminated unescaped text (the prefix that fits, cut
 * at a code point, when it does not: only used for messages and patterns). */
static void rec_tok_str(const struct av *v, int32_t tok, char *out, size_t cap)
{
	(void)json_str_unescape_prefix(&v->doc, (uint32_t)tok, out, cap, NULL);
}

static void rec_get_ident(struct av *v, int32_t root, struct rec_ident *id)
{
	id->has_name = av_get_str(v, root, "StreamName", id->name, sizeof(id->name), &id->name_cp);
	id->has_arn = av_get_str(v, root, "StreamARN", id->arn, sizeof(id->arn), &id->arn_cp);
}

static void rec_check_ident(struct av *v, const struct rec_ident *id)
{
	if (id->has_name)
		av_str_member(v, "streamName", id->name, id->name_cp, AV_PAT_NAME, av_match_name,
			      1, 128);
	if (id->has_arn)
		av_str_member(v, "streamARN", id->arn, id->arn_cp, AV_PAT_STREAM_ARN,
			      av_match_stream_arn, 1, 2048);
}

/* --- PutRecord(s) --- */

/* Type pass of one PutRecordsRequestEntry (model order). */
static void rec_type_entry(struct av *v, int32_t el)
{
	uint8_t jt = v->doc.toks[el].type;

	if (jt == JSON_NULL)
		return;
	if (jt == JSON_ARRAY) {
		rec_ser(v, "Start of list found where not expected");
		return;
	}
	if (jt != JSON_OBJECT) {
		rec_ser(v, "Expected null");
		return;
	}
	int32_t m[REC_M_N];

	rec_members(v, el, false, m);
	/* av_get's checks, in the model's order, on members found in one pass */
	if (m[REC_M_PK] >= 0)
		av_type_check(v, (uint32_t)m[REC_M_PK], AV_STRING);
	if (m[REC_M_EHK] >= 0)
		av_type_check(v, (uint32_t)m[REC_M_EHK], AV_STRING);
	if (m[REC_M_DATA] >= 0)
		av_type_check(v, (uint32_t)m[REC_M_DATA], AV_BLOB);
}

/* The member path of a violation: "field" for PutRecord (idx1 0), else
 * "records.N.member.field" (N = idx1). Built only when a constraint fails:
 * PutRecords checks 500 entries, and printing every path up front was a
 * per-record snprintf on the valid path (perf/RESULTS.md). */
static const char *rec_path(char *out, size_t cap, uint32_t idx1, const char *field)
{
	if (idx1 == 0)
		snprintf(out, cap, "%s", field);
	else
		snprintf(out, cap, "records.%u.member.%s", idx1, field);
	return out;
}

/* Constraints of PartitionKey / ExplicitHashKey / Data of one entry (idx1:
 * see rec_path), Kinesis's order. */
static void rec_check_fields(struct av *v, int32_t el, uint32_t idx1, uint32_t data_max)
{
	char path[96], val[REC_STR_CAP], c[80];
	int32_t m[REC_M_N];

	rec_members(v, el, true, m);
	int32_t pk = m[REC_M_PK], ehk = m[REC_M_EHK], data = m[REC_M_DATA];

	if (pk < 0)
		av_not_null(v, rec_path(path, sizeof(path), idx1, "partitionKey"), false);
	if (pk >= 0) {
		uint32_t cp = json_str_codepoints(&v->doc, (uint32_t)pk);
		if (cp < 1 || cp > REC_PK_MAX_CP) {
			rec_tok_str(v, pk, val, sizeof(val));
			av_len(v, rec_path(path, sizeof(path), idx1, "partitionKey"), val, cp, 1,
			       REC_PK_MAX_CP);
		}
	}
	if (ehk >= 0) {
		rec_tok_str(v, ehk, val, sizeof(val));
		if (!rec_match_hash(val, strlen(val)))
			av_pattern(v, rec_path(path, sizeof(path), idx1, "explicitHashKey"), val,
				   REC_PAT_HASH, rec_match_hash);
	}
	if (data < 0)
		av_not_null(v, rec_path(path, sizeof(path), idx1, "data"), false);
	if (data >= 0) {
		struct sl_slice s = json_tok_slice(&v->doc, (uint32_t)data);
		size_t n = b64_dec_len(s.ptr, s.len);
		if (n > data_max) {
			snprintf(val, sizeof(val), "java.nio.HeapByteBuffer[pos=0 lim=%zu cap=%zu]",
				 n, n);
			snprintf(c, sizeof(c), "Member must have length less than or equal to %u",
				 data_max);
			av_violation(v, rec_path(path, sizeof(path), idx1, "data"), val, c);
		}
	}
}

/* "records": not null, then length 1..500 printed as Coral prints a list. */
static void rec_check_list(struct av *v, int32_t arr)
{
	char val[2048];
	uint32_t n, len = 1;

	av_not_null(v, "records", arr >= 0);
	if (arr < 0)
		return;
	n = v->doc.toks[arr].count;
	if (n >= 1 && n <= REC_MAX_RECORDS)
		return;
	val[0] = '[';
	/* Long lists overflow Kinesis's message anyway: print what fits. */
	for (uint32_t i = 0; i < n && len + sizeof(REC_ENTRY_STR) + 3 < sizeof(val); i++)
		len += (uint32_t)snprintf(val + len, sizeof(val) - len, "%s%s", i ? ", " : "",
					  REC_ENTRY_STR);
	snprintf(val + len, sizeof(val) - len, "]");
	av_len(v, "records", val, n, 1, REC_MAX_RECORDS);
}

/* Turns a validated entry into a descriptor, decoding in place. */
static int rec_fill(struct av *v, char *body, int32_t el, struct rec_put_req *req, uint32_t idx,
		    struct rec_desc *d)
{
	const struct json_tok *t = v->doc.toks;
	int32_t m[REC_M_N];

	rec_members(v, el, true, m);
	int32_t pk = m[REC_M_PK], ehk = m[REC_M_EHK], data = m[REC_M_DATA];
	char tmp[REC_PK_MAX_BYTES + 8];
	char *p = body + t[pk].start;
	int64_t n;

	BUG_ON(pk < 0 || data < 0);
	d->pk = p;
	d->pk_len = (uint16_t)t[pk].len;
	if (t[pk].flags & JSON_TOK_ESCAPED) {
		n = json_str_unescape(&v->doc, (uint32_t)pk, tmp, sizeof(tmp));
		if (n < 0 || n > REC_PK_MAX_BYTES)
			return -EINVAL;
		memcpy(p, tmp, (size_t)n); /* never longer than the escaped text */
		d->pk_len = (uint16_t)n;
	}
	n = b64_decode((uint8_t *)body + t[data].start, body + t[data].start, t[data].len, NULL);
	if (n < 0)
		return -EINVAL; /* the type pass already rejected bad base64 */
	d->data = (const uint8_t *)body + t[data].start;
	d->data_len = (uint32_t)n;
	d->explicit_hash = ehk >= 0;
	if (ehk >= 0) {
		char txt[64];
		rec_tok_str(v, ehk, txt, sizeof(txt));
		if (route_u128_parse(txt, strlen(txt), &d->hash) != 0) {
			d->hash = 0;
			if (req->bad_hash_idx < 0) {
				req->bad_hash_idx = (int32_t)idx;
				rec_copy(req->bad_hash, sizeof(req->bad_hash), txt);
			}
		}
	} else {
		d->hash = route_hash_pk(d->pk, d->pk_len);
	}
	req->total_bytes += (uint64_t)d->data_len + d->pk_len;
	return 0;
}

static void rec_req_init(struct rec_put_req *req)
{
	memset(&req->id, 0, sizeof(req->id));
	req->n_records = 0;
	req->total_bytes = 0;
	req->bad_hash_idx = -1;
	req->bad_hash[0] = '\0';
	req->has_seq_ordering = false;
	req->seq_ordering[0] = '\0';
}

int rec_decode_put_records(struct av *v, char *body, size_t len, uint32_t data_max_bytes,
			   struct rec_put_req *req, struct rec_desc *out, uint32_t cap,
			   struct api_err *e)
{
	int32_t root, arr, el;
	uint32_t n, i;
	char prefix[48];

	rec_req_init(req);
	av_parse(v, body, len);
	root = av_root(v);
	arr = av_get_arr(v, root, "Records");
	if (arr >= 0)
		for (el = arr + 1, i = 0; i < v->doc.toks[arr].count; i++, el = v->doc.toks[el].next)
			rec_type_entry(v, el);
	rec_get_ident(v, root, &req->id);
	rec_check_list(v, arr);
	if (arr >= 0)
		for (el = arr + 1, i = 0; i < v->doc.toks[arr].count; i++, el = v->doc.toks[el].next) {
			if (v->doc.toks[el].type == JSON_NULL) {
				snprintf(prefix, sizeof(prefix), "records.%u.member", i + 1);
				av_not_null(v, prefix, false);
				continue;
			}
			rec_check_fields(v, el, i + 1, data_max_bytes);
		}
	rec_check_ident(v, &req->id);
	if (av_finish(v, e))
		return -1;
	n = v->doc.toks[arr].count;
	if (n > cap) {
		api_err_set(e, 500, "InternalFailure", "%s", "");
		return -1;
	}
	for (el = arr + 1, i = 0; i < n; i++, el = v->doc.toks[el].next)
		if (rec_fill(v, body, el, req, i, &out[i])) {
			api_err_set(e, 500, "InternalFailure", "%s", "");
			return -1;
		}
	req->n_records = n;
	return 0;
}

int rec_decode_put_record(struct av *v, char *body, size_t len, uint32_t data_max_bytes,
			  struct rec_put_req *req, struct rec_desc *out, struct api_err *e)
{
	int32_t root;
	uint32_t seq_cp = 0;
	char seq[REC_STR_CAP];

	rec_req_init(req);
	av_parse(v, body, len);
	root = av_root(v);
	req->has_seq_ordering = av_get_str(v, root, "SequenceNumberForOrdering", seq, sizeof(seq),
					   &seq_cp);
	av_get(v, root, "PartitionKey", AV_STRING);
	av_get(v, root, "ExplicitHashKey", AV_STRING);
	av_get(v, root, "Data", AV_BLOB);
	rec_get_ident(v, root, &req->id);
	if (req->has_seq_ordering)
		av_pattern(v, "sequenceNumberForOrdering", seq, REC_PAT_SEQ, rec_match_seq);
	if (root >= 0)
		rec_check_fields(v, root, 0, data_max_bytes);
	rec_check_ident(v, &req->id);
	if (av_finish(v, e))
		return -1;
	if (req->has_seq_ordering)
		rec_copy(req->seq_ordering, sizeof(req->seq_ordering), seq);
	if (rec_fill(v, body, root, req, 0, out)) {
		api_err_set(e, 500, "InternalFailure", "%s", "");
		return -1;
	}
	req->n_records = 1;
	return 0;
}

/* Data longer than the stream's limit: the record was decoded against the
 * model's 10 MiB, so the violation the model's constraint would have given
 * with the stream's limit is made here. */
static void rec_size_violation(struct av *v, const char *path, uint32_t len, uint32_t max)
{
	char val[80], c[80];

	snprintf(val, sizeof(val), "java.nio.HeapByteBuffer[pos=0 lim=%u cap=%u]", len, len);
	snprintf(c, sizeof(c), "Member must have length less than or equal to %u", max);
	av_violation(v, path, val, c);
}

int rec_put_check_size(struct av *v, const struct rec_desc *d, uint32_t n, bool put_records,
		       uint32_t max_record_bytes, struct api_err *e)
{
	char path[48];

	/* The decode's violations were none (it succeeded): start a new list,
	 * as av_parse would. */
	v->bad_json = v->ser = false;
	v->n_errors = 0;
	v->msg_len = 0;
	v->msg[0] = '\0';
	for (uint32_t i = 0; i < n; i++) {
		if (d[i].data_len <= max_record_bytes)
			continue;
		if (put_records)
			snprintf(path, sizeof(path), "records.%u.member.data", i + 1);
		else
			snprintf(path, sizeof(path), "data");
		rec_size_violation(v, path, d[i].data_len, max_record_bytes);
	}
	return av_finish(v, e);
}

int rec_put_check(const struct rec_put_req *req, bool put_records, uint32_t max_record_bytes,
		  struct api_err *e)
{
	bool large = max_record_bytes > REC_DATA_MAX_BYTES;
	uint64_t max_req = large ? REC_REQ_MAX_BYTES_LARGE : REC_REQ_MAX_BYTES;

	if (put_records && req->total_bytes > max_req) {
		api_err_set(e, 400, "InvalidArgumentException", "Records size exceeds %u MB limit",
			    large ? 10u : 5u);
		return -1;
	}
	if (req->bad_hash_idx >= 0) {
		api_err_set(e, 400, "InvalidArgumentException",
			    "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: "
			    "[0, 2^128-1]. Specified value was %s", req->bad_hash);
		return -1;
	}
	return 0;
}

/* --- GetShardIterator / GetRecords --- */

/* The enum as Coral prints it in its message (its own order, not the
 * model's), and the mapping to enum rec_iter_type. */
static const char *const rec_it_coral[] = { "AFTER_SEQUENCE_NUMBER", "LATEST", "AT_TIMESTAMP",
					    "AT_SEQUENCE_NUMBER", "TRIM_HORIZON" };
static const enum rec_iter_type rec_it_map[] = { REC_IT_AFTER_SEQUENCE_NUMBER, REC_IT_LATEST,
						 REC_IT_AT_TIMESTAMP, REC_IT_AT_SEQUENCE_NUMBER,
						 REC_IT_TRIM_HORIZON };
static const char *const rec_it_names[] = { "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER",
					    "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP" };

int rec_decode_get_shard_iterator(struct av *v, const char *body, size_t len,
				  struct rec_gsi_req *req, struct api_err *e)
{
	char type[REC_STR_CAP];
	uint32_t shard_cp = 0;
	int32_t root, idx = -1;
	bool has_shard, has_type;

	memset(&req->id, 0, sizeof(req->id));
	req->shard_id[0] = req->seq[0] = '\0';
	req->ts_ms = 0;
	av_parse(v, body, len);
	root = av_root(v);
	/* type pass, kinesalite's (Coral's) member order */
	has_shard = av_get_str(v, root, "ShardId", req->shard_id, sizeof(req->shard_id),
			       &shard_cp);
	has_type = av_get_enum(v, root, "ShardIteratorType", rec_it_coral, 5, &idx, type,
			       sizeof(type));
	req->has_seq = av_get_str(v, root, "StartingSequenceNumber", req->seq, sizeof(req->seq),
				  NULL);
	rec_get_ident(v, root, &req->id);
	req->has_ts = av_get_time_ms(v, root, "Timestamp", &req->ts_ms);
	/* constraint pass */
	av_not_null(v, "shardId", has_shard);
	if (has_shard)
		av_str_member(v, "shardId", req->shard_id, shard_cp, AV_PAT_NAME, av_match_name, 1,
			      128);
	av_not_null(v, "shardIteratorType", has_type);
	if (has_type)
		av_enum(v, "shardIteratorType", type, idx, rec_it_coral, 5);
	if (req->has_seq)
		av_pattern(v, "startingSequenceNumber", req->seq, REC_PAT_SEQ, rec_match_seq);
	rec_check_ident(v, &req->id);
	if (av_finish(v, e))
		return -1;
	req->type = rec_it_map[idx];
	return 0;
}

int rec_gsi_check(const struct rec_gsi_req *req, int64_t now_ms, struct api_err *e)
{
	static const char both[] =
		"Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
		"StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no "
		"StartingSequenceNumber. Request specified %s and %s StartingSequenceNumber.";
	const char *name = rec_it_names[req->type];
	bool seq_type = req->type == REC_IT_AT_SEQUENCE_NUMBER ||
			req->type == REC_IT_AFTER_SEQUENCE_NUMBER;

	if (req->has_seq && (req->type == REC_IT_TRIM_HORIZON || req->type == REC_IT_LATEST)) {
		api_err_set(e, 400, "InvalidArgumentException", both, name, "also a");
		return -1;
	}
	if (!req->has_seq && seq_type) {
		api_err_set(e, 400, "InvalidArgumentException", both, name, "no");
		return -1;
	}
	if (req->type != REC_IT_AT_TIMESTAMP)
		return 0;
	if (!req->has_ts) {
		api_err_set(e, 400, "InvalidArgumentException", "%s",
			    "Must specify timestampInMillis parameter for iterator of type "
			    "AT_TIMESTAMP. Current request has no timestamp parameter.");
		return -1;
	}
	if (req->ts_ms > now_ms) {
		api_err_set(e, 400, "InvalidArgumentException",
			    "The timestampInMillis parameter cannot be greater than the "
			    "currentTimestampInMillis. timestampInMillis: %lld, "
			    "currentTimestampInMillis: %lld",
			    (long long)req->ts_ms, (long long)now_ms);
		return -1;
	}
	return 0;
}

int rec_decode_get_records(struct av *v, const char *body, size_t len, struct rec_get_req *req,
			   struct api_err *e)
{
	int64_t limit = 10000;
	uint32_t iter_cp = 0;
	int32_t root;
	bool has_iter;

	req->iter[0] = req->arn[0] = '\0';
	req->iter_len = 0;
	req->arn_cp = 0;
	av_parse(v, body, len);
	root = av_root(v);
	req->has_limit = av_get_int(v, root, "Limit", AV_INTEGER, &limit);
	has_iter = av_get_str(v, root, "ShardIterator", req->iter, sizeof(req->iter), &iter_cp);
	req->has_arn = av_get_str(v, root, "StreamARN", req->arn, sizeof(req->arn), &req->arn_cp);
	if (req->has_limit)
		av_range(v, "limit", limit, 1, 10000);
	av_not_null(v, "shardIterator", has_iter);
	if (has_iter)
		av_len(v, "shardIterator", req->iter, iter_cp, 1, REC_ITER_MAX_CHARS);
	if (req->has_arn)
		av_str_member(v, "streamARN", req->arn, req->arn_cp, AV_PAT_STREAM_ARN,
			      av_match_stream_arn, 1, 2048);
	if (av_finish(v, e))
		return -1;
	req->limit = (uint32_t)limit;
	req->iter_len = (uint32_t)strlen(req->iter);
	return 0;
}

/* --- encoders --- */

/* One ok entry of PutRecords' Records list, which only the two numbers
 * vary: a template filled in place (digits and shard id need no escaping),
 * not 4 jw calls scanning 5 strings for escapes per record. */
#define PUT_OK_HEAD "{\"SequenceNumber\":\""
#define PUT_OK_MID "\",\"ShardId\":\""
#define PUT_OK_TAIL "\"}"
#define PUT_OK_BYTES (sizeof(PUT_OK_HEAD) - 1 + SL_SEQ56_DIGITS + sizeof(PUT_OK_MID) - 1 + \
		      API_SHARD_ID_CAP - 1 + sizeof(PUT_OK_TAIL) - 1)

static void rec_encode_put_ok(struct jw *w, const struct rec_put_result *r)
{
	char *p = jw_raw_reserve(w, PUT_OK_BYTES);

	if (!p)
		return; /* w->overflow tells the caller */
	memcpy(p, PUT_OK_HEAD, sizeof(PUT_OK_HEAD) - 1);
	p += sizeof(PUT_OK_HEAD) - 1;
	/* Each formatter ends with a NUL, overwritten by what follows. */
	sl_seq56_fmt(r->shard_index, r->seq_counter, p);
	p += SL_SEQ56_DIGITS;
	memcpy(p, PUT_OK_MID, sizeof(PUT_OK_MID) - 1);
	p += sizeof(PUT_OK_MID) - 1;
	api_shard_id_fmt(r->shard_index, p);
	p += API_SHARD_ID_CAP - 1;
	memcpy(p, PUT_OK_TAIL, sizeof(PUT_OK_TAIL) - 1);
}

void rec_encode_put_records(struct jw *w, const struct rec_put_result *res, uint32_t n,
			    const char *encryption)
{
	uint32_t failed = 0;

	for (uint32_t i = 0; i < n; i++)
		failed += !res[i].ok;
	jw_obj_begin(w);
	jw_key(w, "FailedRecordCount");
	jw_u64(w, failed);
	jw_key(w, "Records");
	jw_arr_begin(w);
	for (uint32_t i = 0; i < n; i++) {
		if (res[i].ok) {
			rec_encode_put_ok(w, &res[i]);
			continue;
		}
		jw_obj_begin(w);
		jw_key(w, "ErrorCode");
		jw_str(w, res[i].error_code);
		jw_key(w, "ErrorMessage");
		jw_str(w, res[i].error_message);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	if (encryption) {
		jw_key(w, "EncryptionType");
		jw_str(w, encryption);
	}
	jw_obj_end(w);
}

void rec_encode_put_record(struct jw *w, const struct rec_put_result *res,
			   const char *encryption)
{
	char seq[SL_SEQ56_CAP], sid[API_SHARD_ID_CAP];

	DBG_BUG_ON(!res->ok); /* a failed PutRecord is an error answer */
	sl_seq56_fmt(res->shard_index, res->seq_counter, seq);
	api_shard_id_fmt(res->shard_index, sid);
	jw_obj_begin(w);
	jw_key(w, "ShardId");
	jw_strn(w, sid, API_SHARD_ID_CAP - 1);
	jw_key(w, "SequenceNumber");
	jw_strn(w, seq, SL_SEQ56_DIGITS);
	if (encryption) {
		jw_key(w, "EncryptionType");
		jw_str(w, encryption);
	}
	jw_obj_end(w);
}

void rec_encode_shard_iterator(struct jw *w, const char *iter)
{
	jw_obj_begin(w);
	jw_key(w, "ShardIterator");
	jw_str(w, iter);
	jw_obj_end(w);
}

void rec_encode_records_begin(struct jw *w)
{
	jw_obj_begin(w);
	jw_key(w, "Records");
	jw_arr_begin(w);
}

void rec_encode_record(struct jw *w, const struct rec_out *r)
{
	jw_obj_begin(w);
	jw_key(w, "SequenceNumber");
	jw_str(w, r->seq);
	jw_key(w, "ApproximateArrivalTimestamp");
	jw_epoch_ms(w, r->arrival_ms);
	jw_key(w, "Data");
	jw_b64(w, r->data, r->data_len);
	jw_key(w, "PartitionKey");
	jw_strn(w, r->pk, r->pk_len);
	if (r->ehk) {
		route_u128 h = 0;
		for (int b = 0; b < 16; b++)
			h = h << 8 | r->ehk[b];
		char dec[ROUTE_U128_DEC_CAP];
		route_u128_fmt(h, dec);
		jw_key(w, "ExplicitHashKey");
		jw_str(w, dec);
	}
	if (r->kms) {
		jw_key(w, "EncryptionType");
		jw_str(w, "KMS");
	}
	jw_obj_end(w);
}

void rec_encode_records_end(struct jw *w)
{
	jw_arr_end(w);
}

void rec_encode_child_shards(struct jw *w, const struct rec_child_shard *c, uint32_t n)
{
	char id[API_SHARD_ID_CAP], dec[ROUTE_U128_DEC_CAP];

	BUG_ON(n > REC_CHILD_SHARDS_MAX);
	jw_key(w, "ChildShards");
	jw_arr_begin(w);
	for (uint32_t i = 0; i < n; i++) {
		BUG_ON(c[i].n_parents > REC_CHILD_PARENTS_MAX);
		jw_obj_begin(w);
		jw_key(w, "ShardId");
		api_shard_id_fmt(c[i].index, id);
		jw_str(w, id);
		jw_key(w, "ParentShards");
		jw_arr_begin(w);
		for (uint32_t p = 0; p < c[i].n_parents; p++) {
			api_shard_id_fmt(c[i].parents[p], id);
			jw_str(w, id);
		}
		jw_arr_end(w);
		jw_key(w, "HashKeyRange");
		jw_obj_begin(w);
		jw_key(w, "StartingHashKey");
		route_u128_fmt(c[i].hash_start, dec);
		jw_str(w, dec);
		jw_key(w, "EndingHashKey");
		route_u128_fmt(c[i].hash_end, dec);
		jw_str(w, dec);
		jw_obj_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

void rec_encode_get_records_tail(struct jw *w, const char *next_iter, size_t next_iter_len,
				 const struct rec_child_shard *children, uint32_t n_children,
				 int64_t millis_behind)
{
	if (next_iter) {
		jw_key(w, "NextShardIterator");
		jw_strn(w, next_iter, next_iter_len);
	}
	if (n_children > 0)
		rec_encode_child_shards(w, children, n_children);
	jw_key(w, "MillisBehindLatest");
	jw_i64(w, millis_behind);
	jw_obj_end(w);
}

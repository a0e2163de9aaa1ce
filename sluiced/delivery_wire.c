/* SPDX-License-Identifier: Apache-2.0 */
/* Channel delivery's parsers (delivery_wire.h). */
#include "sluiced/delivery_wire.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* String member key of object obj, unescaped into out[0..cap) with NUL. */
static int get_str(const struct json_doc *d, uint32_t obj, const char *key, char *out, size_t cap)
{
	int32_t t = json_obj_get(d, obj, key);
	if (t < 0 || d->toks[t].type != JSON_STRING)
		return -EPROTO;
	int64_t n = json_str_unescape(d, (uint32_t)t, out, cap);
	if (n < 0 || (size_t)n >= cap)
		return -EPROTO;
	out[n] = 0;
	return 0;
}

static int get_obj(const struct json_doc *d, uint32_t obj, const char *key, uint32_t *out)
{
	int32_t t = json_obj_get(d, obj, key);
	if (t < 0 || d->toks[t].type != JSON_OBJECT)
		return -EPROTO;
	*out = (uint32_t)t;
	return 0;
}

int dl_bucket_of_arn(const char *arn, size_t len, char *out, size_t cap)
{
	static const char *const parts[] = { "arn:aws:s3:::", "arn:aws-cn:s3:::",
					     "arn:aws-us-gov:s3:::" };
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		size_t pl = strlen(parts[i]);
		if (len <= pl || memcmp(arn, parts[i], pl) != 0)
			continue;
		size_t n = len - pl;
		if (n >= cap || n < 3 || n > 63)
			return -EINVAL;
		for (size_t k = 0; k < n; k++) {
			char c = arn[pl + k];
			/* S3's bucket alphabet: what may go in a path unencoded */
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			      c == '.'))
				return -EINVAL;
		}
		memcpy(out, arn + pl, n);
		out[n] = 0;
		return 0;
	}
	return -EINVAL;
}

/* ChannelCreationTimestamp: epoch seconds with a fraction. */
static int get_time_ms(const struct json_doc *d, uint32_t obj, const char *key, int64_t *out)
{
	int32_t t = json_obj_get(d, obj, key);
	if (t < 0 || d->toks[t].type != JSON_NUMBER || d->toks[t].len >= 32)
		return -EPROTO;
	char num[32];
	memcpy(num, d->buf + d->toks[t].start, d->toks[t].len);
	num[d->toks[t].len] = 0;
	char *e;
	double s = strtod(num, &e);
	if (*e || !(s >= 0 && s < 1e11))
		return -EPROTO;
	*out = (int64_t)(s * 1000.0 + 0.5);
	return 0;
}

/* The index of v in names[0..n), or -1. */
static int name_index(const char *v, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(v, names[i]) == 0)
			return i;
	return -1;
}

int dl_parse_describe(const char *body, size_t len, struct json_tok *toks, uint32_t ntoks,
		      struct dl_desc *out)
{
	struct json_doc d;
	memset(out, 0, sizeof(*out));
	if (json_parse(&d, body, len, toks, ntoks, 8, NULL) < 1 || d.toks[0].type != JSON_OBJECT)
		return -EPROTO;
	uint32_t c, s3, st, dlq;
	if (get_obj(&d, 0, "ChannelDescription", &c) < 0 ||
	    get_str(&d, c, "ChannelARN", out->arn, sizeof(out->arn)) < 0 ||
	    get_str(&d, c, "ChannelName", out->name, sizeof(out->name)) < 0 ||
	    get_str(&d, c, "ChannelId", out->id, sizeof(out->id)) < 0 ||
	    get_str(&d, c, "ChannelStatus", out->status, sizeof(out->status)) < 0 ||
	    get_time_ms(&d, c, "ChannelCreationTimestamp", &out->created_ms) < 0 ||
	    get_obj(&d, c, "S3DestinationConfiguration", &s3) < 0 ||
	    get_obj(&d, s3, "StorageConfiguration", &st) < 0 ||
	    get_obj(&d, s3, "DeadLetterQueueS3Configuration", &dlq) < 0 ||
	    get_str(&d, st, "OutputKeyTemplate", out->tmpl, sizeof(out->tmpl)) < 0 ||
	    get_str(&d, dlq, "ErrorOutputPrefix", out->err_prefix, sizeof(out->err_prefix)) < 0)
		return -EPROTO;
	int64_t fr;
	int32_t t = json_obj_get(&d, s3, "DataFreshnessInSeconds");
	if (t < 0 || json_num_i64(&d, (uint32_t)t, &fr) < 0 || fr < 1 || fr > 86400)
		return -EPROTO;
	out->freshness_s = (uint32_t)fr;
	char arn[DL_ARN_MAX], v[32];
	if (get_str(&d, st, "BucketARN", arn, sizeof(arn)) < 0 ||
	    dl_bucket_of_arn(arn, strlen(arn), out->bucket, sizeof(out->bucket)) < 0 ||
	    get_str(&d, dlq, "BucketARN", arn, sizeof(arn)) < 0 ||
	    dl_bucket_of_arn(arn, strlen(arn), out->err_bucket, sizeof(out->err_bucket)) < 0)
		return -EPROTO;
	if (get_str(&d, st, "CompressionType", v, sizeof(v)) < 0)
		return -EPROTO;
	static const char *const comps[] = { [DL_COMP_NONE] = "NONE", [DL_COMP_GZIP] = "GZIP",
					     [DL_COMP_ZSTD] = "ZSTD" };
	int k = name_index(v, comps, 3);
	if (k < 0)
		return -EPROTO;
	out->compression = (enum dl_compression)k;
	/* StreamConfigurationList[0]: the source stream and its format */
	int32_t l = json_obj_get(&d, c, "StreamConfigurationList");
	if (l < 0 || d.toks[l].type != JSON_ARRAY || d.toks[l].count < 1 ||
	    d.toks[l + 1].type != JSON_OBJECT)
		return -EPROTO;
	uint32_t sc = (uint32_t)l + 1, rec;
	if (get_str(&d, sc, "StreamARN", arn, sizeof(arn)) < 0 ||
	    get_obj(&d, sc, "RecordConfiguration", &rec) < 0 ||
	    get_str(&d, rec, "RecordFormatType", v, sizeof(v)) < 0)
		return -EPROTO;
	static const char *const fmts[] = { [DL_FMT_BYTE_ARRAY] = "BYTE_ARRAY",
					    [DL_FMT_STRING] = "STRING", [DL_FMT_JSON] = "JSON" };
	if ((k = name_index(v, fmts, 3)) < 0)
		return -EPROTO;
	out->format = (enum dl_format)k;
	const char *sl = strstr(arn, ":stream/");
	if (!sl || strlen(sl + 8) == 0 || strlen(sl + 8) >= sizeof(out->stream))
		return -EPROTO;
	snprintf(out->stream, sizeof(out->stream), "%s", sl + 8);
	return 0;
}

static bool put(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
	if (*n + len >= cap)
		return false;
	memcpy(out + *n, s, len);
	*n += len;
	return true;
}

int dl_expand_key(const char *tmpl, const struct dl_key_vars *v, char *out, size_t cap)
{
	time_t secs = (time_t)(v->time_ms / 1000);
	struct tm tm;
	if (!gmtime_r(&secs, &tm))
		return -EINVAL;
	size_t n = 0, tl = strlen(tmpl);
	static const char ext[] = "!{extension}";
	/* where the unique suffix goes: before a trailing !{extension} */
	size_t suffix_at = tl >= sizeof(ext) - 1 && strcmp(tmpl + tl - (sizeof(ext) - 1), ext) == 0
				   ? tl - (sizeof(ext) - 1) : tl;
	for (size_t i = 0; i <= tl; i++) {
		if (i == suffix_at && !put(out, cap, &n, v->suffix, strlen(v->suffix)))
			return -E2BIG;
		if (i == tl)
			break;
		if (tmpl[i] != '!' || tmpl[i + 1] != '{') {
			if (!put(out, cap, &n, tmpl + i, 1))
				return -E2BIG;
			continue;
		}
		const char *close = strchr(tmpl + i + 2, '}');
		if (!close)
			return -EINVAL;
		size_t vl = (size_t)(close - (tmpl + i + 2));
		const char *name = tmpl + i + 2;
		char num[16];
		const char *val = NULL;
#define IS(s) (vl == sizeof(s) - 1 && memcmp(name, s, vl) == 0)
		if (IS("channel-name"))
			val = v->channel_name;
		else if (IS("channel-id"))
			val = v->channel_id;
		else if (IS("stream-name"))
			val = v->stream_name;
		else if (IS("shard-id"))
			val = v->shard_id;
		else if (IS("extension"))
			val = v->extension;
		else if (IS("yyyy"))
			snprintf(num, sizeof(num), "%04d", (tm.tm_year + 1900) % 10000);
		else if (IS("YY"))
			snprintf(num, sizeof(num), "%02d", (tm.tm_year + 1900) % 100);
		else if (IS("MM"))
			snprintf(num, sizeof(num), "%02d", tm.tm_mon + 1);
		else if (IS("dd"))
			snprintf(num, sizeof(num), "%02d", tm.tm_mday);
		else if (IS("HH"))
			snprintf(num, sizeof(num), "%02d", tm.tm_hour);
		else if (IS("mm"))
			snprintf(num, sizeof(num), "%02d", tm.tm_min);
		else
			return -EINVAL;
#undef IS
		if (!val)
			val = num;
		if (!put(out, cap, &n, val, strlen(val)))
			return -E2BIG;
		i = (size_t)(close - tmpl);
	}
	out[n] = 0;
	return (int)n;
}

int dl_uri_encode_key(const char *key, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (const unsigned char *k = (const unsigned char *)key; *k; k++) {
		unsigned char c = *k;
		bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
			    c == '~' || c == '/';
		if (keep) {
			if (n + 1 >= cap)
				return -E2BIG;
			out[n++] = (char)c;
		} else {
			if (n + 3 >= cap)
				return -E2BIG;
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	if (n >= cap)
		return -E2BIG;
	out[n] = 0;
	return (int)n;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t len;
	uint32_t cp, min;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2, cp = c & 0x1F, min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3, cp = c & 0x0F, min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

bool dl_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_seq(p + i, n - i);
		if (!l)
			return false;
		i += l;
	}
	return true;
}

static size_t skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

/* A string from the opening quote at i; the index after it, or 0. */
static size_t json_string(const char *s, size_t n, size_t i)
{
	const unsigned char *p = (const unsigned char *)s;
	for (i++; i < n;) {
		unsigned char c = p[i];
		if (c == '"')
			return i + 1;
		if (c < 0x20)
			return 0;
		if (c == '\\') {
			if (i + 1 >= n)
				return 0;
			char e = s[i + 1];
			if (e == 'u') {
				if (i + 5 >= n)
					return 0;
				for (size_t k = 2; k < 6; k++) {
					char h = s[i + k];
					if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') ||
					      (h >= 'A' && h <= 'F')))
						return 0;
				}
				i += 6;
			} else if (strchr("\"\\/bfnrt", e) && e) {
				i += 2;
			} else {
				return 0;
			}
			continue;
		}
		size_t l = utf8_seq(p + i, n - i);
		if (!l)
			return 0;
		i += l;
	}
	return 0;
}

/* A number at i; the index after it, or 0. */
static size_t json_number(const char *s, size_t n, size_t i)
{
#define DIGIT(k) ((k) < n && s[k] >= '0' && s[k] <= '9')
	if (i < n && s[i] == '-')
		i++;
	if (!DIGIT(i))
		return 0;
	if (s[i] == '0')
		i++;
	else
		while (DIGIT(i))
			i++;
	if (i < n && s[i] == '.') {
		i++;
		if (!DIGIT(i))
			return 0;
		while (DIGIT(i))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (!DIGIT(i))
			return 0;
		while (DIGIT(i))
			i++;
	}
	return i;
#undef DIGIT
}

bool dl_json_valid(const char *s, size_t n)
{
	/* one bit per open container: 1 = object, 0 = array */
	uint8_t stack[DL_JSON_DEPTH_MAX / 8];
	uint32_t depth = 0;
	size_t i = skip_ws(s, n, 0);
	for (;;) {
		/* a value at i */
		if (i >= n)
			return false;
		char c = s[i];
		if (c == '{' || c == '[') {
			if (depth == DL_JSON_DEPTH_MAX)
				return false;
			bool obj = c == '{';
			if (obj)
				stack[depth / 8] |= (uint8_t)(1u << (depth % 8));
			else
				stack[depth / 8] &= (uint8_t)~(1u << (depth % 8));
			depth++;
			i = skip_ws(s, n, i + 1);
			if (i < n && s[i] == (obj ? '}' : ']')) {
				depth--;
				i++;
				goto after_value;
			}
			if (obj) {
				if (i >= n || s[i] != '"' || !(i = json_string(s, n, i)))
					return false;
				i = skip_ws(s, n, i);
				if (i >= n || s[i] != ':')
					return false;
				i = skip_ws(s, n, i + 1);
			}
			continue;
		}
		if (c == '"') {
			if (!(i = json_string(s, n, i)))
				return false;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			if (!(i = json_number(s, n, i)))
				return false;
		} else if (n - i >= 4 && memcmp(s + i, "true", 4) == 0) {
			i += 4;
		} else if (n - i >= 5 && memcmp(s + i, "false", 5) == 0) {
			i += 5;
		} else if (n - i >= 4 && memcmp(s + i, "null", 4) == 0) {
			i += 4;
		} else {
			return false;
		}
after_value:
		for (;;) {
			i = skip_ws(s, n, i);
			if (depth == 0)
				return i == n;
			bool obj = stack[(depth - 1) / 8] >> ((depth - 1) % 8) & 1;
			if (i >= n)
				return false;
			if (s[i] == (obj ? '}' : ']')) {
				depth--;
				i++;
				continue;
			}
			if (s[i] != ',')
				return false;
			i = skip_ws(s, n, i + 1);
			if (obj) {
				if (i >= n || s[i] != '"' || !(i = json_string(s, n, i)))
					return false;
				i = skip_ws(s, n, i);
				if (i >= n || s[i] != ':')
					return false;
				i = skip_ws(s, n, i + 1);
			}
			break; /* the next value */
		}
	}
}

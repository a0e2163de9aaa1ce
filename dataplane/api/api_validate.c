/* SPDX-License-Identifier: Apache-2.0 */
/* The validation toolkit: Coral's type pass (SerializationException) and
 * constraint pass (ValidationException), with Kinesis's exact texts. The texts
 * come from kinesalite (validations/index.js and test/helpers.js, recorded
 * against the real service). */
#include <errno.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"
#include "common/utf8.h"
#include "dataplane/api/api.h"

#define AV_TBN "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"

int av_parse(struct av *v, const char *body, size_t len)
{
	int n;

	v->bad_json = false;
	v->ser = false;
	v->n_errors = 0;
	v->msg_len = 0;
	v->msg[0] = '\0';
	v->ser_msg[0] = '\0';
	if (len == 0) {
		body = "{}";
		len = 2;
	}
	n = json_parse(&v->doc, body, len, v->toks, AV_MAX_TOKENS, AV_MAX_DEPTH, NULL);
	if (n < 1 || v->toks[0].type != JSON_OBJECT) {
		v->bad_json = true;
		return -EINVAL;
	}
	return 0;
}

static void av_ser(struct av *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void av_ser(struct av *v, const char *fmt, ...)
{
	va_list ap;

	if (v->ser)
		return;
	v->ser = true;
	va_start(ap, fmt);
	utf8_vsnprintf(v->ser_msg, sizeof(v->ser_msg), fmt, ap);
	va_end(ap);
}

/* Coral's base64 checks for a Blob, in its order. */
/* Number of leading bytes of p[0..n) that are base64 alphabet characters
 * (A-Z a-z 0-9 + /), 16 at a time with SSE2: the common case (valid data,
 * megabytes per request) costs a few instructions per 16 bytes; the exact
 * error text below is built only when something is wrong. */
#if defined(__x86_64__)
/* The same test 32 bytes at a time where the CPU has AVX2 (compiled for it
 * explicitly, chosen at run time): with 1 KiB records this scan was 3-4% of
 * sluiced's CPU (perf/RESULTS.md). Returns where the first 32-byte block
 * holding a non-alphabet byte starts (or the last whole block's end); the
 * caller finishes with the SSE2 and scalar loops, which find the byte. */
__attribute__((target("avx2"))) static uint32_t av_b64_prefix_avx2(const char *p, uint32_t n)
{
	const __m256i up_lo = _mm256_set1_epi8('A' - 1), up_hi = _mm256_set1_epi8('Z' + 1);
	const __m256i lo_lo = _mm256_set1_epi8('a' - 1), lo_hi = _mm256_set1_epi8('z' + 1);
	const __m256i d_lo = _mm256_set1_epi8('0' - 1), d_hi = _mm256_set1_epi8('9' + 1);
	const __m256i plus = _mm256_set1_epi8('+'), slash = _mm256_set1_epi8('/');
	uint32_t i = 0;

	for (; i + 32 <= n; i += 32) {
		__m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(p + i));
		/* Bytes >= 0x80 are negative in signed compares: never in a range. */
		__m256i ok = _mm256_and_si256(_mm256_cmpgt_epi8(x, up_lo),
					      _mm256_cmpgt_epi8(up_hi, x));
		ok = _mm256_or_si256(ok, _mm256_and_si256(_mm256_cmpgt_epi8(x, lo_lo),
							  _mm256_cmpgt_epi8(lo_hi, x)));
		ok = _mm256_or_si256(ok, _mm256_and_si256(_mm256_cmpgt_epi8(x, d_lo),
							  _mm256_cmpgt_epi8(d_hi, x)));
		ok = _mm256_or_si256(ok, _mm256_or_si256(_mm256_cmpeq_epi8(x, plus),
							 _mm256_cmpeq_epi8(x, slash)));
		if ((uint32_t)_mm256_movemask_epi8(ok) != 0xffffffffu)
			break;
	}
	return i;
}

static int av_have_avx2 = -1;
#endif

static uint32_t av_b64_prefix(const char *p, uint32_t n)
{
	uint32_t i = 0;
#if defined(__x86_64__)
	if (av_have_avx2 < 0)
		av_have_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
	if (av_have_avx2 == 1)
		i = av_b64_prefix_avx2(p, n);
#endif
#if defined(__SSE2__)
	const __m128i up_lo = _mm_set1_epi8('A' - 1), up_hi = _mm_set1_epi8('Z' + 1);
	const __m128i lo_lo = _mm_set1_epi8('a' - 1), lo_hi = _mm_set1_epi8('z' + 1);
	const __m128i d_lo = _mm_set1_epi8('0' - 1), d_hi = _mm_set1_epi8('9' + 1);
	const __m128i plus = _mm_set1_epi8('+'), slash = _mm_set1_epi8('/');
	for (; i + 16 <= n; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		/* Bytes >= 0x80 are negative in signed compares: never in a range. */
		__m128i ok = _mm_and_si128(_mm_cmpgt_epi8(x, up_lo), _mm_cmplt_epi8(x, up_hi));
		ok = _mm_or_si128(ok, _mm_and_si128(_mm_cmpgt_epi8(x, lo_lo),
						    _mm_cmplt_epi8(x, lo_hi)));
		ok = _mm_or_si128(ok, _mm_and_si128(_mm_cmpgt_epi8(x, d_lo),
						    _mm_cmplt_epi8(x, d_hi)));
		ok = _mm_or_si128(ok, _mm_or_si128(_mm_cmpeq_epi8(x, plus),
						   _mm_cmpeq_epi8(x, slash)));
		if (_mm_movemask_epi8(ok) != 0xffff)
			break; /* the scalar loop finds which byte */
	}
#endif
	for (; i < n; i++) {
		char c = p[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/'))
			break;
	}
	return i;
}

static void av_check_blob(struct av *v, uint32_t tok)
{
	struct sl_slice s = json_tok_slice(&v->doc, tok);
	char val[160];
	uint32_t i, pad = 0;

	/* Fast path for valid data: alphabet up to the last two characters,
	 * then "xx", "x=" or "==" with the pad bits of the last character zero.
	 * Anything else takes the exact (slow) path below for its message. */
	uint32_t body = s.len >= 2 ? s.len - 2 : 0;
	if (s.len % 4 == 0 && av_b64_prefix(s.ptr, body) == body) {
		if (s.len == 0)
			return;
		const char *t = s.ptr + body;
		uint32_t p = t[1] != '=' ? 0 : t[0] != '=' ? 1 : 2;
		if (p == 0 && av_b64_prefix(t, 2) == 2)
			return;
		if (p == 1 && av_b64_prefix(t, 1) == 1) {
			char c = t[0];
			int bits = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26
				   : c >= '0' && c <= '9' ? c - '0' + 52 : c == '+' ? 62 : 63;
			if (!(bits & 0x3))
				return;
		}
		if (p == 2 && s.len >= 4) {
			char c = s.ptr[s.len - 3];
			int bits = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26
				   : c >= '0' && c <= '9' ? c - '0' + 52 : c == '+' ? 62 : 63;
			if (!(bits & 0xf))
				return;
		}
	}
	/* The value as Coral prints it, bounded; cut between code points. */
	snprintf(val, sizeof(val), "%.*s", (int)utf8_cut(s.ptr, s.len, 128), s.ptr);
	if (s.len % 4) {
		av_ser(v, "'%s' can not be converted to a Blob: Base64 encoded "
		       "length is expected a multiple of 4 bytes but found: %u", val, s.len);
		return;
	}
	for (i = 0; i < s.len; i++) {
		char c = s.ptr[i];
		bool b64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			   (c >= '0' && c <= '9') || c == '+' || c == '/';
		if (c == '=' && (i + 1 == s.len || s.ptr[i + 1] == '=') && i + 2 >= s.len) {
			pad++;
			continue;
		}
		if (!b64) {
			/* Java prints the character: the whole sequence, not a byte. */
			size_t at = i;
			(void)utf8_next(s.ptr, s.len, &at);
			av_ser(v, "'%s' can not be converted to a Blob: Invalid "
			       "Base64 character: '%.*s'", val, (int)(at - i), s.ptr + i);
			return;
		}
	}
	if (pad > 0) {
		char c = s.ptr[s.len - pad - 1];
		int bits = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26
			   : c >= '0' && c <= '9' ? c - '0' + 52 : c == '+' ? 62 : 63;
		if (bits & (pad == 1 ? 0x3 : 0xf)) {
			av_ser(v, "'%s' can not be converted to a Blob: Invalid last "
			       "non-pad Base64 character dectected", val);
		}
	}
}

static const char *av_type_name(enum av_type t)
{
	return t == AV_INTEGER ? "Integer" : "Long";
}

static bool av_scalar_mismatch(struct av *v, uint8_t jt, enum av_type t)
{
	switch (t) {
	case AV_STRING:
		if (jt == JSON_TRUE || jt == JSON_FALSE)
			av_ser(v, "%s", "class java.lang.Boolean can not be converted to an String");
		else if (jt == JSON_NUMBER)
			av_ser(v, "%s", AV_TBN " can not be converted to an String");
		else
			return false;
		return true;
	case AV_INTEGER:
	case AV_LONG:
		if (jt == JSON_TRUE || jt == JSON_FALSE)
			av_ser(v, "class java.lang.Boolean can not be converted to an %s",
			       av_type_name(t));
		else if (jt == JSON_STRING)
			av_ser(v, "class java.lang.String can not be converted to an %s",
			       av_type_name(t));
		else
			return false;
		return true;
	case AV_TIMESTAMP:
		if (jt == JSON_TRUE || jt == JSON_FALSE)
			av_ser(v, "%s", "class java.lang.Boolean can not be converted to "
			       "milliseconds since epoch");
		else if (jt == JSON_STRING)
			av_ser(v, "%s", "class java.lang.String can not be converted to "
			       "milliseconds since epoch");
		else
			return false;
		return true;
	case AV_BLOB:
		if (jt == JSON_TRUE || jt == JSON_FALSE)
			av_ser(v, "%s", "class java.lang.Boolean can not be converted to a Blob");
		else if (jt == JSON_NUMBER)
			av_ser(v, "%s", AV_TBN " can not be converted to a Blob");
		else
			return false;
		return true;
	case AV_LIST:
	case AV_MAP:
	case AV_STRUCT:
		if (jt == JSON_OBJECT || jt == JSON_ARRAY)
			return false;
		av_ser(v, "%s", t == AV_LIST ? "Expected list or null"
			  : t == AV_MAP ? "Expected map or null" : "Expected null");
		return true;
	default:
		return false;
	}
}

/* Coral's Boolean conversion accepts these strings (case-insensitive). */
static int av_bool_string(struct av *v, uint32_t tok)
{
	struct sl_slice s = json_tok_slice(&v->doc, tok);
	static const char *const yes[] = { "true", "1", "yes" };
	static const char *const no[] = { "false", "0", "no" };

	for (uint32_t i = 0; i < 3; i++) {
		if (sl_slice_caseeq(s, yes[i]))
			return 1;
		if (sl_slice_caseeq(s, no[i]))
			return 0;
	}
	return -1;
}

/* Returns true when token tok has model type t; else latches the message. */
static bool av_type_ok(struct av *v, uint32_t tok, enum av_type t)
{
	uint8_t jt = v->doc.toks[tok].type;

	if (jt == JSON_ARRAY && t != AV_LIST) {
		av_ser(v, "%s", "Start of list found where not expected");
		return false;
	}
	if (jt == JSON_OBJECT && t != AV_MAP && t != AV_STRUCT) {
		av_ser(v, "%s", "Start of structure or map found where not expected.");
		return false;
	}
	if (jt == JSON_OBJECT && t == AV_LIST) {
		av_ser(v, "%s", "Start of structure or map found where not expected.");
		return false;
	}
	if (t == AV_BOOLEAN) {
		if (jt == JSON_NUMBER) {
			av_ser(v, "%s", AV_TBN " can not be converted to an Boolean");
			return false;
		}
		if (jt == JSON_STRING && av_bool_string(v, tok) < 0) {
			char up[160];
			struct sl_slice s = json_tok_slice(&v->doc, tok);
			uint32_t n = (uint32_t)utf8_cut(s.ptr, s.len, sizeof(up) - 1);
			for (uint32_t i = 0; i < n; i++)
				up[i] = (s.ptr[i] >= 'a' && s.ptr[i] <= 'z') ? s.ptr[i] - 32
									       : s.ptr[i];
			up[n] = '\0';
			av_ser(v, "'%s' can not be converted to an Boolean", up);
			return false;
		}
		return true;
	}
	if (av_scalar_mismatch(v, jt, t))
		return false;
	if (t == AV_BLOB)
		av_check_blob(v, tok);
	return !v->ser;
}

int32_t av_get(struct av *v, int32_t obj, const char *name, enum av_type t)
{
	int32_t i;

	if (obj < 0 || v->bad_json || v->doc.toks[obj].type != JSON_OBJECT)
		return -1;
	i = json_obj_get(&v->doc, (uint32_t)obj, name);
	if (i < 0 || v->doc.toks[i].type == JSON_NULL)
		return -1;
	if (v->ser) /* only the first mismatch is reported */
		return -1;
	return av_type_ok(v, (uint32_t)i, t) ? i : -1;
}

bool av_type_check(struct av *v, uint32_t tok, enum av_type t)
{
	if (v->bad_json || tok >= v->doc.ntoks || v->ser)
		return false;
	if (v->doc.toks[tok].type == JSON_NULL)
		return false;
	return av_type_ok(v, tok, t);
}

bool av_get_str(struct av *v, int32_t obj, const char *name, char *out, size_t cap,
		uint32_t *len_cp)
{
	int32_t i = av_get(v, obj, name, AV_STRING);
	size_t n;

	BUG_ON(cap == 0);
	out[0] = '\0';
	if (i < 0)
		return false;
	/* Too long for the caller's buffer: keep the decoded prefix, cut at a
	 * code point; the length constraint (computed below) reports it. */
	n = json_str_unescape_prefix(&v->doc, (uint32_t)i, out, cap, NULL);
	/* A \u0000 would silently end the C string early ("a\u0000b" read
	 * as "a", naming another stream): no member pattern accepts U+FFFD. */
	(void)utf8_replace_nul(out, n, cap);
	if (len_cp)
		*len_cp = json_str_codepoints(&v->doc, (uint32_t)i);
	return true;
}

/* Number text -> floored integer clamped into [lo, hi]. */
static int64_t av_num(const struct av *v, uint32_t tok, int64_t lo, int64_t hi)
{
	struct sl_slice s = json_tok_slice(&v->doc, tok);
	char buf[64];
	int64_t r;
	double d;

	if (s.len < sizeof(buf)) {
		memcpy(buf, s.ptr, s.len);
		buf[s.len] = '\0';
		if (strspn(buf + (buf[0] == '-'), "0123456789") == s.len - (buf[0] == '-')) {
			errno = 0;
			long long ll = strtoll(buf, NULL, 10);
			if (errno == 0)
				return ll < lo ? lo : ll > hi ? hi : ll;
		}
		d = floor(strtod(buf, NULL));
	} else {
		d = s.ptr[0] == '-' ? -HUGE_VAL : HUGE_VAL;
	}
	if (d <= (double)lo)
		return lo;
	if (d >= (double)hi)
		return hi;
	r = (int64_t)d;
	return r;
}

bool av_get_int(struct av *v, int32_t obj, const char *name, enum av_type t, int64_t *out)
{
	int32_t i = av_get(v, obj, name, t);

	if (i < 0)
		return false;
	*out = t == AV_INTEGER ? av_num(v, (uint32_t)i, INT32_MIN, INT32_MAX)
			       : av_num(v, (uint32_t)i, INT64_MIN, INT64_MAX);
	return true;
}

bool av_get_bool(struct av *v, int32_t obj, const char *name, bool *out)
{
	int32_t i = av_get(v, obj, name, AV_BOOLEAN);

	if (i < 0)
		return false;
	if (v->doc.toks[i].type == JSON_STRING)
		*out = av_bool_string(v, (uint32_t)i) == 1;
	else
		*out = v->doc.toks[i].type == JSON_TRUE;
	return true;
}

/* Epoch seconds written as a plain decimal ("1733222400.123", at most 15
 * integer digits) -> milliseconds, exactly; digits past the third decimal
 * are dropped. Through a double, 1733222400.123 * 1000 is 1733222400122.99,
 * which truncated one millisecond early: an AT_TIMESTAMP iterator then
 * also returned a record that arrived the millisecond before. false: not
 * that form (exponents, longer numbers), for strtod. */
static bool plain_secs_to_ms(const char *s, int64_t *out_ms)
{
	bool neg = *s == '-';
	int64_t sec = 0, frac = 0;
	int digits = 0, fdigits = 0;
	s += neg;
	for (; *s >= '0' && *s <= '9'; s++, digits++) {
		if (digits == 15)
			return false;
		sec = sec * 10 + (*s - '0');
	}
	if (digits == 0)
		return false;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++, fdigits++)
			if (fdigits < 3)
				frac = frac * 10 + (*s - '0');
	if (*s)
		return false;
	for (int i = fdigits; i < 3; i++)
		frac *= 10;
	*out_ms = neg ? -(sec * 1000 + frac) : sec * 1000 + frac;
	return true;
}

bool av_get_time_ms(struct av *v, int32_t obj, const char *name, int64_t *out_ms)
{
	int32_t i = av_get(v, obj, name, AV_TIMESTAMP);
	struct sl_slice s;
	char buf[64];
	double d;

	if (i < 0)
		return false;
	s = json_tok_slice(&v->doc, (uint32_t)i);
	if (s.len >= sizeof(buf)) {
		*out_ms = s.ptr[0] == '-' ? INT64_MIN / 2 : INT64_MAX / 2;
		return true;
	}
	memcpy(buf, s.ptr, s.len);
	buf[s.len] = '\0';
	if (plain_secs_to_ms(buf, out_ms))
		return true;
	d = strtod(buf, NULL) * 1000.0;
	*out_ms = d <= -9.2e18 ? INT64_MIN / 2 : d >= 9.2e18 ? INT64_MAX / 2 : (int64_t)d;
	return true;
}

bool av_get_enum(struct av *v, int32_t obj, const char *name, const char *const *values,
		 uint32_t n_values, int32_t *idx, char *out, size_t cap)
{
	*idx = -1;
	if (!av_get_str(v, obj, name, out, cap, NULL))
		return false;
	for (uint32_t k = 0; k < n_values; k++)
		if (strcmp(out, values[k]) == 0)
			*idx = (int32_t)k;
	return true;
}

int32_t av_get_obj(struct av *v, int32_t obj, const char *name)
{
	return av_get(v, obj, name, AV_STRUCT);
}

int32_t av_get_arr(struct av *v, int32_t obj, const char *name)
{
	return av_get(v, obj, name, AV_LIST);
}

/* --- constraint pass --- */

void av_violation(struct av *v, const char *path, const char *value, const char *constraint)
{
	size_t cap = sizeof(v->msg);
	int n;

	if (v->n_errors >= AV_MAX_ERRORS)
		return;
	if (value)
		n = snprintf(v->msg + v->msg_len, cap - v->msg_len,
			     "%sValue '%s' at '%s' failed to satisfy constraint: %s",
			     v->n_errors ? "; " : "", value, path, constraint);
	else
		n = snprintf(v->msg + v->msg_len, cap - v->msg_len,
			     "%sValue null at '%s' failed to satisfy constraint: %s",
			     v->n_errors ? "; " : "", path, constraint);
	v->n_errors++;
	if (n < 0)
		return;
	if ((size_t)v->msg_len + (size_t)n >= cap) {
		/* Cut: never inside a UTF-8 sequence of a quoted value. */
		size_t k = utf8_cut(v->msg, cap - 1, cap - 1);
		v->msg[k] = '\0';
		v->msg_len = (uint32_t)k;
		return;
	}
	v->msg_len += (uint32_t)n;
}

void av_not_null(struct av *v, const char *path, bool present)
{
	if (!present)
		av_violation(v, path, NULL, "Member must not be null");
}

void av_pattern(struct av *v, const char *path, const char *value, const char *pattern,
		bool (*match)(const char *s, size_t n))
{
	char c[256];

	if (match(value, strlen(value)))
		return;
	snprintf(c, sizeof(c), "Member must satisfy regular expression pattern: %s", pattern);
	av_violation(v, path, value, c);
}

void av_len(struct av *v, const char *path, const char *value, uint32_t len_cp, uint32_t min,
	    uint32_t max)
{
	char c[96];

	if (len_cp < min) {
		snprintf(c, sizeof(c), "Member must have length greater than or equal to %u", min);
		av_violation(v, path, value, c);
	}
	if (len_cp > max) {
		snprintf(c, sizeof(c), "Member must have length less than or equal to %u", max);
		av_violation(v, path, value, c);
	}
}

void av_range(struct av *v, const char *path, int64_t value, int64_t min, int64_t max)
{
	char c[96], val[24];

	snprintf(val, sizeof(val), "%lld", (long long)value);
	if (value < min) {
		snprintf(c, sizeof(c), "Member must have value greater than or equal to %lld",
			 (long long)min);
		av_violation(v, path, val, c);
	}
	if (value > max) {
		snprintf(c, sizeof(c), "Member must have value less than or equal to %lld",
			 (long long)max);
		av_violation(v, path, val, c);
	}
}

void av_enum(struct av *v, const char *path, const char *value, int32_t idx,
	     const char *const *values, uint32_t n_values)
{
	char c[512];
	size_t len;

	if (idx >= 0)
		return;
	len = (size_t)snprintf(c, sizeof(c), "Member must satisfy enum value set: [");
	for (uint32_t k = 0; k < n_values && len < sizeof(c); k++)
		len += (size_t)snprintf(c + len, sizeof(c) - len, "%s%s", k ? ", " : "", values[k]);
	if (len < sizeof(c))
		snprintf(c + len, sizeof(c) - len, "]");
	av_violation(v, path, value, c);
}

void av_str_member(struct av *v, const char *path, const char *value, uint32_t len_cp,
		   const char *pattern, bool (*match)(const char *s, size_t n), uint32_t min,
		   uint32_t max)
{
	if (match)
		av_pattern(v, path, value, pattern, match);
	av_len(v, path, value, len_cp, min, max);
}

int av_finish(struct av *v, struct api_err *e)
{
	if (v->bad_json) {
		api_err_set(e, 400, "SerializationException", "%s", "");
		return -1;
	}
	if (v->ser) {
		api_err_set(e, 400, "SerializationException", "%s", v->ser_msg);
		return -1;
	}
	if (v->n_errors == 0)
		return 0;
	api_err_set(e, 400, "ValidationException", "%u validation error%s detected: %s",
		    v->n_errors, v->n_errors > 1 ? "s" : "", v->msg);
	return -1;
}

/* --- matchers --- */

bool av_match_name(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static bool av_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Finds, in linear time, the ":stream/" that makes s match
 * arn:aws.*:kinesis:.*:\d{12}:stream/\S+ ; returns its offset or -1. */
static ssize_t av_arn_stream_at(const char *s, size_t n, size_t *kinesis_at)
{
	static const char kin[] = ":kinesis:";
	static const char str[] = ":stream/";
	const char *k;
	ssize_t last_space = -1;

	if (n < 7 || memcmp(s, "arn:aws", 7) != 0)
		return -1;
	k = memmem(s + 7, n - 7, kin, sizeof(kin) - 1);
	if (k == NULL)
		return -1;
	*kinesis_at = (size_t)(k - s);
	for (size_t i = 0; i < n; i++)
		if (av_is_space(s[i]))
			last_space = (ssize_t)i;
	size_t from = (size_t)(k - s) + sizeof(kin) - 1 + 13;
	for (size_t p = from; p + sizeof(str) - 1 < n; p++) {
		if (memcmp(s + p, str, sizeof(str) - 1) != 0)
			continue;
		size_t c = p - 13;
		bool ok = s[c] == ':';
		for (size_t d = c + 1; ok && d < p; d++)
			ok = s[d] >= '0' && s[d] <= '9';
		if (ok && (ssize_t)(p + sizeof(str) - 1) > last_space)
			return (ssize_t)p;
	}
	return -1;
}

bool av_match_stream_arn(const char *s, size_t n)
{
	size_t k;

	return av_arn_stream_at(s, n, &k) >= 0;
}

static int av_copy(char *dst, size_t cap, const char *src, size_t n)
{
	if (n == 0 || n >= cap)
		return -EINVAL;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

int av_split_stream_arn(const char *arn, char *region, size_t region_cap, char *account,
			size_t account_cap, char *name, size_t name_cap)
{
	size_t n = strlen(arn), k;
	ssize_t p = av_arn_stream_at(arn, n, &k);

	if (p < 0)
		return -EINVAL;
	size_t rs = k + 9, re = (size_t)p - 13;
	if (re < rs)
		return -EINVAL;
	if (re == rs) /* empty region: arn:aws:kinesis::123456789012:stream/x */
		region[0] = '\0';
	else if (av_copy(region, region_cap, arn + rs, re - rs))
		return -EINVAL;
	if (av_copy(account, account_cap, arn + re + 1, 12) ||
	    av_copy(name, name_cap, arn + p + 8, n - (size_t)p - 8))
		return -EINVAL;
	return 0;
}

static bool av_carn_name_ch(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

/* Matches the model's pattern (whole string). From the right: ":digits",
 * the consumer name, "/consumer/", the stream name, "stream/", and before it
 * "arn:aws.*:kinesis:.*:\d{12}:.*". */
bool av_split_consumer_arn(const char *s, size_t n, struct av_carn *p)
{
	size_t e = n, b, a;
	const char *k;

	if (n < 7 || strncmp(s, "arn:aws", 7) != 0 || strnlen(s, n) != n)
		return false;
	while (e > 0 && s[e - 1] >= '0' && s[e - 1] <= '9')
		e--;
	if (e == n || e == 0 || s[e - 1] != ':')
		return false;
	p->consumer_end = e - 1;
	for (b = p->consumer_end; b > 0 && av_carn_name_ch(s[b - 1]); b--)
		;
	if (b == p->consumer_end || b < 10 || memcmp(s + b - 10, "/consumer/", 10) != 0)
		return false;
	p->consumer = b;
	p->stream_end = b - 10;
	for (a = p->stream_end; a > 0 && av_carn_name_ch(s[a - 1]); a--)
		;
	if (a == p->stream_end || a < 7 || memcmp(s + a - 7, "stream/", 7) != 0)
		return false;
	p->stream = a;
	/* prefix [0, a - 7) against arn:aws.*:kinesis:.*:\d{12}:.* */
	k = strstr(s, ":kinesis:");
	if (k == NULL)
		return false;
	for (size_t j = (size_t)(k - s) + 9; j + 14 <= a - 7; j++) {
		size_t d = 0;
		while (d < 12 && s[j + 1 + d] >= '0' && s[j + 1 + d] <= '9')
			d++;
		if (s[j] == ':' && d == 12 && s[j + 13] == ':')
			return true;
	}
	return false;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* CBOR <-> awsJson transcoding (see cbor.h for the contract). Two small
 * recursive-descent walkers with a byte writer that can also only count, so
 * the caller measures first and allocates exactly. Heads are decoded per
 * RFC 8949 section 3; strings are checked and escaped as RFC 8259 wants. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "dataplane/api/cbor.h"

enum cbor_kind cbor_member_kind(const char *name, size_t len)
{
	/* botocore service-2.json (2013-12-02): every blob and timestamp
	 * member of every structure. tests/e2e/test_cbor.py checks the list
	 * against the model. */
	static const struct {
		const char *name;
		enum cbor_kind kind;
	} members[] = {
		{ "Data", CBOR_KIND_BLOB },
		{ "ApproximateArrivalTimestamp", CBOR_KIND_TIME },
		{ "ConsumerCreationTimestamp", CBOR_KIND_TIME },
		{ "StreamCreationTimestamp", CBOR_KIND_TIME },
		{ "Timestamp", CBOR_KIND_TIME },
	};
	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++)
		if (strlen(members[i].name) == len && memcmp(members[i].name, name, len) == 0)
			return members[i].kind;
	return CBOR_KIND_PLAIN;
}

/* --- output: bytes, or only their count when buf is NULL --- */
struct cw {
	uint8_t *buf;
	size_t cap, len;
	bool over;
};

static void cw_put(struct cw *w, const void *p, size_t n)
{
	if (w->buf) {
		if (w->over || n > w->cap - w->len) {
			w->over = true;
			return;
		}
		memcpy(w->buf + w->len, p, n);
	}
	w->len += n;
}

static void cw_byte(struct cw *w, uint8_t b)
{
	cw_put(w, &b, 1);
}

/* Room for n bytes at the end, or NULL (measuring, or full: then over). */
static uint8_t *cw_room(struct cw *w, size_t n)
{
	if (!w->buf)
		return NULL;
	if (w->over || n > w->cap - w->len) {
		w->over = true;
		return NULL;
	}
	return w->buf + w->len;
}

static int64_t cw_result(const struct cw *w)
{
	if (w->over || w->len > UINT32_MAX)
		return -E2BIG;
	return (int64_t)w->len;
}

/* ===================== CBOR -> JSON (requests) ===================== */

struct cr {
	const uint8_t *p;
	size_t n, off;
};

/* One head: major type, additional information, argument. An indefinite
 * head (ai 31) has arg 0. -EINVAL on reserved ai or a short input. */
static int cr_head(struct cr *r, uint8_t *major, uint8_t *ai, uint64_t *arg)
{
	if (r->off >= r->n)
		return -EINVAL;
	uint8_t b = r->p[r->off++];
	*major = b >> 5;
	*ai = b & 31;
	*arg = 0;
	if (*ai < 24) {
		*arg = *ai;
		return 0;
	}
	if (*ai == 31)
		return 0;
	if (*ai > 27)
		return -EINVAL; /* 28..30 are reserved (RFC 8949 3.1) */
	size_t k = (size_t)1 << (*ai - 24);
	if (r->n - r->off < k)
		return -EINVAL;
	for (size_t i = 0; i < k; i++)
		*arg = *arg << 8 | r->p[r->off++];
	return 0;
}

static void jput_u64(struct cw *w, uint64_t v)
{
	char t[24];
	int n = snprintf(t, sizeof(t), "%llu", (unsigned long long)v);
	cw_put(w, t, (size_t)n);
}

/* Epoch milliseconds (sign and magnitude) as the JSON epoch seconds the
 * decoders read: "1733222400.123". */
static void jput_ms(struct cw *w, bool neg, uint64_t mag_ms)
{
	char t[32];
	int n = snprintf(t, sizeof(t), "%s%llu.%03u", neg ? "-" : "",
			 (unsigned long long)(mag_ms / 1000), (unsigned)(mag_ms % 1000));
	cw_put(w, t, (size_t)n);
}

/* IEEE 754 half precision (RFC 8949 appendix D). */
static double half_to_double(uint16_t h)
{
	int e = (h >> 10) & 0x1f;
	double m = h & 0x3ff, v;
	if (e == 0)
		v = ldexp(m, -24);
	else if (e != 31)
		v = ldexp(m + 1024, e - 25);
	else
		v = m == 0 ? INFINITY : NAN;
	return (h & 0x8000) ? -v : v;
}

static double float_arg(uint8_t ai, uint64_t arg)
{
	if (ai == 25)
		return half_to_double((uint16_t)arg);
	if (ai == 26) {
		uint32_t u = (uint32_t)arg;
		float f;
		memcpy(&f, &u, sizeof(f));
		return f;
	}
	double d;
	memcpy(&d, &arg, sizeof(d));
	return d;
}

/* A float holding epoch milliseconds: the fraction is dropped (Kinesis keeps
 * milliseconds). */
static int jput_ms_double(struct cw *w, double ms)
{
	if (!isfinite(ms) || fabs(ms) >= 9.2e18)
		return -EINVAL;
	double f = floor(ms);
	jput_ms(w, f < 0, (uint64_t)(f < 0 ? -f : f));
	return 0;
}

static int jput_double(struct cw *w, double d)
{
	char t[40];
	if (!isfinite(d))
		return -EINVAL; /* JSON has no NaN or infinity */
	int n = snprintf(t, sizeof(t), "%.17g", d);
	cw_put(w, t, (size_t)n);
	return 0;
}

/* Bytes of the valid UTF-8 sequence at s[0..n), or 0 (overlong forms,
 * surrogates, past U+10FFFF, truncated: RFC 3629 section 4). */
static size_t utf8_valid_seq(const uint8_t *s, size_t n)
{
	uint8_t b = s[0];
	if (b < 0x80)
		return 1;
	size_t k = b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3
					    : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
	if (k == 0 || n < k)
		return 0;
	for (size_t i = 1; i < k; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	if ((b == 0xE0 && s[1] < 0xA0) || (b == 0xED && s[1] > 0x9F) ||
	    (b == 0xF0 && s[1] < 0x90) || (b == 0xF4 && s[1] > 0x8F))
		return 0;
	return k;
}

/* Text chunk s[0..n) as the inside of a JSON string. */
static int jput_text(struct cw *w, const uint8_t *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, run = 0;
	while (i < n) {
		uint8_t b = s[i];
		if (b >= 0x20 && b != '"' && b != '\\') {
			size_t k = utf8_valid_seq(s + i, n - i);
			if (k == 0)
				return -EINVAL;
			i += k;
			continue;
		}
		cw_put(w, s + run, i - run);
		char e[6] = { '\\', (char)b, 0, 0, 0, 0 };
		size_t el = 2;
		if (b < 0x20) {
			const char *short_esc = b == '\n' ? "n" : b == '\r' ? "r" : b == '\t' ? "t"
					      : b == '\b' ? "b" : b == '\f' ? "f" : NULL;
			if (short_esc) {
				e[1] = short_esc[0];
			} else {
				memcpy(e + 1, "u00", 3);
				e[4] = hex[b >> 4];
				e[5] = hex[b & 15];
				el = 6;
			}
		}
		cw_put(w, e, el);
		run = ++i;
	}
	cw_put(w, s + run, n - run);
	return 0;
}

/* Base64 across the chunks of one byte string: up to 2 bytes carried. */
struct b64s {
	uint8_t carry[3];
	size_t ncarry;
};

static void b64s_feed(struct cw *w, struct b64s *st, const uint8_t *p, size_t n)
{
	char q[4];
	while (n && st->ncarry) {
		st->carry[st->ncarry++] = *p++;
		n--;
		if (st->ncarry == 3) {
			b64_encode(q, st->carry, 3);
			cw_put(w, q, 4);
			st->ncarry = 0;
		}
	}
	size_t whole = n / 3 * 3;
	if (whole) {
		char *dst = (char *)cw_room(w, b64_enc_len(whole));
		if (dst)
			b64_encode(dst, p, whole);
		if (dst || !w->buf)
			w->len += b64_enc_len(whole);
	}
	for (size_t i = whole; i < n; i++)
		st->carry[st->ncarry++] = p[i];
}

static void b64s_end(struct cw *w, struct b64s *st)
{
	char q[4];
	if (st->ncarry) {
		b64_encode(q, st->carry, st->ncarry);
		cw_put(w, q, 4);
	}
}

/* A byte or text string (major 2 or 3) after its head: definite, or the
 * definite chunks of an indefinite one up to its break. */
static int cr_string(struct cr *r, struct cw *w, uint8_t major, uint8_t ai, uint64_t arg)
{
	struct b64s st = { .ncarry = 0 };
	bool indef = ai == 31;
	cw_byte(w, '"');
	for (;;) {
		if (indef) {
			if (r->off < r->n && r->p[r->off] == 0xff) {
				r->off++;
				break;
			}
			uint8_t m, a;
			if (cr_head(r, &m, &a, &arg) < 0 || m != major || a == 31)
				return -EINVAL;
		}
		if (arg > r->n - r->off)
			return -EINVAL;
		const uint8_t *s = r->p + r->off;
		r->off += (size_t)arg;
		if (major == 2)
			b64s_feed(w, &st, s, (size_t)arg);
		else if (jput_text(w, s, (size_t)arg) < 0)
			return -EINVAL;
		if (!indef)
			break;
	}
	if (major == 2)
		b64s_end(w, &st);
	cw_byte(w, '"');
	return 0;
}

static int cr_item(struct cr *r, struct cw *w, uint32_t depth, enum cbor_kind kind);

/* A number under tag 1 or in a timestamp member: milliseconds. */
static int cr_time(struct cr *r, struct cw *w, uint8_t major, uint8_t ai, uint64_t arg)
{
	if (ai == 31)
		return -EINVAL;
	if (major == 0) {
		jput_ms(w, false, arg);
		return 0;
	}
	if (major == 1) {
		if (arg == UINT64_MAX)
			return -EINVAL; /* -2^64 ms: no date */
		jput_ms(w, true, arg + 1);
		return 0;
	}
	if (major == 7 && ai >= 25 && ai <= 27)
		return jput_ms_double(w, float_arg(ai, arg));
	(void)r;
	return -EINVAL;
}

static int cr_container(struct cr *r, struct cw *w, uint32_t depth, uint8_t major, uint8_t ai,
			uint64_t arg)
{
	bool indef = ai == 31, map = major == 5;
	/* Every item is at least one byte: a count past the input is a lie,
	 * refused before looping on it. */
	if (!indef && arg > (r->n - r->off) / (map ? 2 : 1))
		return -EINVAL;
	cw_byte(w, map ? '{' : '[');
	for (uint64_t i = 0;; i++) {
		if (indef) {
			if (r->off >= r->n)
				return -EINVAL;
			if (r->p[r->off] == 0xff) {
				r->off++;
				break;
			}
		} else if (i == arg) {
			break;
		}
		if (i)
			cw_byte(w, ',');
		enum cbor_kind kind = CBOR_KIND_PLAIN;
		if (map) {
			uint8_t m, a;
			uint64_t len;
			size_t key_off = r->off;
			if (cr_head(r, &m, &a, &len) < 0 || m != 3)
				return -EINVAL; /* JSON keys are text */
			if (a != 31 && len <= r->n - r->off)
				kind = cbor_member_kind((const char *)r->p + r->off, (size_t)len);
			r->off = key_off;
			if (cr_item(r, w, depth + 1, CBOR_KIND_PLAIN) < 0)
				return -EINVAL;
			cw_byte(w, ':');
		}
		if (cr_item(r, w, depth + 1, kind) < 0)
			return -EINVAL;
	}
	cw_byte(w, map ? '}' : ']');
	return 0;
}

static int cr_item(struct cr *r, struct cw *w, uint32_t depth, enum cbor_kind kind)
{
	uint8_t major, ai;
	uint64_t arg;
	if (depth > CBOR_MAX_DEPTH || cr_head(r, &major, &ai, &arg) < 0)
		return -EINVAL;
	if (ai == 31 && (major <= 1 || major >= 6))
		return -EINVAL; /* no indefinite integers or tags; a stray break */
	if (kind == CBOR_KIND_TIME &&
	    (major <= 1 || (major == 7 && ai >= 25 && ai <= 27)))
		return cr_time(r, w, major, ai, arg);
	switch (major) {
	case 0:
		jput_u64(w, arg);
		return 0;
	case 1:
		if (arg == UINT64_MAX) {
			cw_put(w, "-18446744073709551616", 21);
			return 0;
		}
		cw_byte(w, '-');
		jput_u64(w, arg + 1);
		return 0;
	case 2:
	case 3:
		return cr_string(r, w, major, ai, arg);
	case 4:
	case 5:
		return cr_container(r, w, depth, major, ai, arg);
	case 6: {
		if (arg != 1 || depth + 1 > CBOR_MAX_DEPTH)
			return -EINVAL; /* only epoch time is meaningful here */
		uint8_t m, a;
		uint64_t v;
		if (cr_head(r, &m, &a, &v) < 0)
			return -EINVAL;
		return cr_time(r, w, m, a, v);
	}
	default: /* 7 */
		if (ai == 20 || ai == 21)
			cw_put(w, ai == 20 ? "false" : "true", ai == 20 ? 5 : 4);
		else if (ai == 22)
			cw_put(w, "null", 4);
		else if (ai >= 25 && ai <= 27)
			return jput_double(w, float_arg(ai, arg));
		else
			return -EINVAL; /* undefined, unassigned simple values */
		return 0;
	}
}

int64_t cbor_to_json(const uint8_t *in, size_t in_len, char *out, size_t cap)
{
	struct cr r = { .p = in, .n = in_len, .off = 0 };
	struct cw w = { .buf = (uint8_t *)out, .cap = out ? cap : 0 };
	if (in_len == 0)
		return 0; /* an empty body stays empty: the JSON path words that */
	if (cr_item(&r, &w, 0, CBOR_KIND_PLAIN) < 0 || r.off != r.n)
		return -EINVAL;
	return cw_result(&w);
}

/* ===================== JSON -> CBOR (answers) ===================== */

struct jr {
	const char *p;
	size_t n, off;
};

static void jr_ws(struct jr *r)
{
	while (r->off < r->n && (r->p[r->off] == ' ' || r->p[r->off] == '\n' ||
				 r->p[r->off] == '\r' || r->p[r->off] == '\t'))
		r->off++;
}

static void cb_head(struct cw *w, uint8_t major, uint64_t v)
{
	uint8_t h[9];
	size_t n;
	uint8_t m = (uint8_t)(major << 5);
	if (v < 24) {
		h[0] = m | (uint8_t)v;
		n = 1;
	} else if (v <= 0xff) {
		h[0] = m | 24;
		h[1] = (uint8_t)v;
		n = 2;
	} else if (v <= 0xffff) {
		h[0] = m | 25;
		n = 3;
	} else if (v <= 0xffffffffu) {
		h[0] = m | 26;
		n = 5;
	} else {
		h[0] = m | 27;
		n = 9;
	}
	for (size_t i = 1; n > 2 && i < n; i++)
		h[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	cw_put(w, h, n);
}

static void cb_int(struct cw *w, bool neg, uint64_t mag)
{
	/* major 1 holds -1 - arg */
	if (neg && mag != 0)
		cb_head(w, 1, mag - 1);
	else
		cb_head(w, 0, mag);
}

static int hex4(const char *s, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		uint32_t d = c >= '0' && c <= '9' ? (uint32_t)(c - '0')
			   : c >= 'a' && c <= 'f' ? (uint32_t)(c - 'a' + 10)
			   : c >= 'A' && c <= 'F' ? (uint32_t)(c - 'A' + 10) : 16u;
		if (d == 16)
			return -EINVAL;
		*v = *v << 4 | d;
	}
	return 0;
}

/* Unescapes the JSON string body s[0..n) into w (or counts it). */
static int unescape(struct cw *w, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		const char *bs = memchr(s + i, '\\', n - i);
		size_t run = bs ? (size_t)(bs - (s + i)) : n - i;
		cw_put(w, s + i, run);
		i += run;
		if (i == n)
			break;
		if (n - i < 2)
			return -EINVAL;
		char c = s[i + 1];
		const char *simple = strchr("\"\\/bfnrt", c);
		if (c && simple) {
			static const char to[] = "\"\\/\b\f\n\r\t";
			cw_byte(w, (uint8_t)to[simple - "\"\\/bfnrt"]);
			i += 2;
			continue;
		}
		uint32_t cp, lo;
		if (c != 'u' || n - i < 6 || hex4(s + i + 2, &cp) < 0)
			return -EINVAL;
		i += 6;
		if (cp >= 0xDC00 && cp <= 0xDFFF)
			return -EINVAL;
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			if (n - i < 6 || s[i] != '\\' || s[i + 1] != 'u' ||
			    hex4(s + i + 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
				return -EINVAL;
			i += 6;
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		}
		uint8_t u[4];
		size_t k;
		if (cp < 0x80) {
			u[0] = (uint8_t)cp;
			k = 1;
		} else if (cp < 0x800) {
			u[0] = (uint8_t)(0xC0 | cp >> 6);
			u[1] = (uint8_t)(0x80 | (cp & 0x3f));
			k = 2;
		} else if (cp < 0x10000) {
			u[0] = (uint8_t)(0xE0 | cp >> 12);
			u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
			u[2] = (uint8_t)(0x80 | (cp & 0x3f));
			k = 3;
		} else {
			u[0] = (uint8_t)(0xF0 | cp >> 18);
			u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
			u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
			u[3] = (uint8_t)(0x80 | (cp & 0x3f));
			k = 4;
		}
		cw_put(w, u, k);
	}
	return 0;
}

/* The body of the string opening at r->off ('"'): [*s, *s + *len), whether
 * it has escapes. Leaves r after the closing quote. */
static int jr_string(struct jr *r, const char **s, size_t *len, bool *escaped)
{
	size_t i = ++r->off;
	*escaped = false;
	while (i < r->n && r->p[i] != '"') {
		if ((uint8_t)r->p[i] < 0x20)
			return -EINVAL;
		if (r->p[i] == '\\') {
			*escaped = true;
			i++;
		}
		i++;
	}
	if (i >= r->n)
		return -EINVAL;
	*s = r->p + r->off;
	*len = i - r->off;
	r->off = i + 1;
	return 0;
}

static int cb_text(struct cw *w, const char *s, size_t len, bool escaped)
{
	if (!escaped) {
		cb_head(w, 3, len);
		cw_put(w, s, len);
		return 0;
	}
	struct cw count = { .buf = NULL };
	if (unescape(&count, s, len) < 0)
		return -EINVAL;
	cb_head(w, 3, count.len);
	return unescape(w, s, len);
}

static int cb_blob(struct cw *w, const char *s, size_t len)
{
	if (len % 4)
		return -EINVAL;
	size_t n = b64_dec_len(s, len);
	cb_head(w, 2, n);
	if (!w->buf) {
		w->len += n;
		return 0;
	}
	uint8_t *dst = cw_room(w, n);
	if (!dst)
		return 0; /* full: latched, cbor_from_json says -E2BIG */
	/* b64_decode may write up to 2 bytes past the exact length when the
	 * last quad is padded: all quads but the last go straight to dst,
	 * the last through a 3-byte bounce. */
	size_t head = len >= 4 ? len - 4 : 0, head_bytes = head / 4 * 3;
	uint8_t tail[3];
	if (b64_decode(dst, s, head, NULL) != (int64_t)head_bytes)
		return -EINVAL;
	int64_t t = b64_decode(tail, s + head, len - head, NULL);
	if (t < 0 || (size_t)t != n - head_bytes)
		return -EINVAL;
	memcpy(dst + head_bytes, tail, (size_t)t);
	w->len += n;
	return 0;
}

/* Epoch seconds text "S[.fff...]" -> milliseconds, exactly (a double would
 * turn 1733222400.123 into ...122.99). Fraction past milliseconds dropped. */
static int secs_to_ms(const char *s, size_t n, bool *neg, uint64_t *ms)
{
	size_t i = 0;
	uint64_t sec = 0, frac = 0;
	*neg = n && s[0] == '-';
	i = *neg;
	if (i == n)
		return -EINVAL;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		if (sec > (UINT64_MAX / 1000 - 9) / 10)
			return -EINVAL;
		sec = sec * 10 + (uint64_t)(s[i] - '0');
	}
	if (i < n && s[i] == '.') {
		unsigned digits = 0;
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++)
			if (digits < 3)
				frac = frac * 10 + (uint64_t)(s[i] - '0');
		for (; digits < 3; digits++)
			frac *= 10;
	}
	if (i != n)
		return -EINVAL; /* exponents: our writer never makes them */
	*ms = sec * 1000 + frac;
	return 0;
}

static int cb_number(struct jr *r, struct cw *w, enum cbor_kind kind)
{
	size_t st = r->off;
	bool integral = true;
	while (r->off < r->n && r->p[r->off] && strchr("+-0123456789.eE", r->p[r->off])) {
		if (strchr(".eE", r->p[r->off]))
			integral = false;
		r->off++;
	}
	const char *s = r->p + st;
	size_t n = r->off - st;
	if (n == 0 || n > 64)
		return -EINVAL;
	if (kind == CBOR_KIND_TIME) {
		bool neg;
		uint64_t ms;
		if (secs_to_ms(s, n, &neg, &ms) < 0)
			return -EINVAL;
		cb_head(w, 6, 1);
		if (neg && ms)
			cb_head(w, 1, ms - 1);
		else
			cb_head(w, 0, ms);
		return 0;
	}
	char t[72];
	memcpy(t, s, n);
	t[n] = 0;
	char *end;
	if (integral) {
		bool neg = t[0] == '-';
		errno = 0;
		uint64_t mag = strtoull(t + neg, &end, 10);
		if (*end || errno || (neg && t[1] == '-'))
			integral = false; /* out of range: a double below */
		else {
			cb_int(w, neg, mag);
			return 0;
		}
	}
	double d = strtod(t, &end);
	if (*end || !isfinite(d))
		return -EINVAL;
	uint64_t bits;
	memcpy(&bits, &d, sizeof(bits));
	cw_byte(w, 0xfb);
	for (int i = 7; i >= 0; i--)
		cw_byte(w, (uint8_t)(bits >> (8 * i)));
	return 0;
}

static int cb_value(struct jr *r, struct cw *w, uint32_t depth, enum cbor_kind kind);

static int cb_container(struct jr *r, struct cw *w, uint32_t depth, bool map)
{
	char close = map ? '}' : ']';
	r->off++;
	cw_byte(w, map ? 0xbf : 0x9f);
	jr_ws(r);
	if (r->off < r->n && r->p[r->off] == close) {
		r->off++;
		cw_byte(w, 0xff);
		return 0;
	}
	for (;;) {
		enum cbor_kind kind = CBOR_KIND_PLAIN;
		jr_ws(r);
		if (map) {
			const char *k;
			size_t klen;
			bool esc;
			if (r->off >= r->n || r->p[r->off] != '"' || jr_string(r, &k, &klen, &esc) < 0 ||
			    cb_text(w, k, klen, esc) < 0)
				return -EINVAL;
			if (!esc)
				kind = cbor_member_kind(k, klen);
			jr_ws(r);
			if (r->off >= r->n || r->p[r->off] != ':')
				return -EINVAL;
			r->off++;
		}
		if (cb_value(r, w, depth + 1, kind) < 0)
			return -EINVAL;
		jr_ws(r);
		if (r->off >= r->n)
			return -EINVAL;
		char c = r->p[r->off++];
		if (c == close)
			break;
		if (c != ',')
			return -EINVAL;
	}
	cw_byte(w, 0xff);
	return 0;
}

static int cb_value(struct jr *r, struct cw *w, uint32_t depth, enum cbor_kind kind)
{
	if (depth > CBOR_MAX_DEPTH)
		return -EINVAL;
	jr_ws(r);
	if (r->off >= r->n)
		return -EINVAL;
	char c = r->p[r->off];
	if (c == '{' || c == '[')
		return cb_container(r, w, depth, c == '{');
	if (c == '"') {
		const char *s;
		size_t len;
		bool esc;
		if (jr_string(r, &s, &len, &esc) < 0)
			return -EINVAL;
		if (kind == CBOR_KIND_BLOB)
			return esc ? -EINVAL : cb_blob(w, s, len);
		return cb_text(w, s, len, esc);
	}
	static const struct {
		const char *lit;
		uint8_t cb;
	} lits[] = { { "true", 0xf5 }, { "false", 0xf4 }, { "null", 0xf6 } };
	for (size_t i = 0; i < 3; i++) {
		size_t l = strlen(lits[i].lit);
		if (r->n - r->off >= l && memcmp(r->p + r->off, lits[i].lit, l) == 0) {
			r->off += l;
			cw_byte(w, lits[i].cb);
			return 0;
		}
	}
	return cb_number(r, w, kind);
}

int64_t cbor_from_json(const char *in, size_t in_len, uint8_t *out, size_t cap)
{
	struct jr r = { .p = in, .n = in_len, .off = 0 };
	struct cw w = { .buf = out, .cap = out ? cap : 0 };
	if (cb_value(&r, &w, 0, CBOR_KIND_PLAIN) < 0)
		return -EINVAL;
	jr_ws(&r);
	if (r.off != r.n)
		return -EINVAL;
	return cw_result(&w);
}

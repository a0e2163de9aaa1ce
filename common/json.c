/* SPDX-License-Identifier: Apache-2.0 */
/* Strict single-pass JSON tokeniser (RFC 8259) and bounded writer.
 *
 * The reader is on the PutRecords hot path: bodies of several megabytes that
 * are almost entirely base64 strings. So: one pass, no allocation, no
 * recursion (an explicit stack of open containers), and string bodies are
 * scanned 16 bytes at a time (SSE2) or 8 (portable SWAR) for the only bytes
 * that need attention: '"', '\\', controls and non-ASCII. */
#include "common/json.h"
#include "common/base64.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "common/bug.h"
#include "common/utf8.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Nesting bound: the stack below is a fixed local array of this size. */
#define JSON_MAX_DEPTH 64u

struct jp {
	const uint8_t *s;
	uint32_t len;
	uint32_t pos;
	struct json_tok *toks;
	uint32_t ntoks;
	uint32_t max_toks;
};

/* ---------------------------------------------------------------- reader */

static inline bool is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline void skip_ws(struct jp *p)
{
	while (p->pos < p->len && is_ws(p->s[p->pos]))
		p->pos++;
}

static inline bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* True for bytes a string body can hold without a closer look. */
static inline bool str_plain(uint8_t c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

#if !defined(__SSE2__)
#define SWAR_ONES 0x0101010101010101ull
#define SWAR_HIGH 0x8080808080808080ull
/* Nonzero iff some byte of x is zero / less than n (n <= 128); exact. */
#define SWAR_HASZERO(x) (((x) - SWAR_ONES) & ~(x) & SWAR_HIGH)
#define SWAR_HASLESS(x, n) (((x) - SWAR_ONES * (n)) & ~(x) & SWAR_HIGH)
#endif

/* First position in [pos, end) holding a byte that is not str_plain(). */
static inline uint32_t scan_plain(const uint8_t *s, uint32_t pos, uint32_t end)
{
#if defined(__SSE2__)
	const __m128i q = _mm_set1_epi8('"');
	const __m128i bs = _mm_set1_epi8('\\');
	const __m128i sp = _mm_set1_epi8(0x20);

	/* Signed compare: bytes >= 0x80 are negative, so "< 0x20" catches
	 * both controls and non-ASCII in one instruction. */
	while (end - pos >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + pos));
		__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q),
						      _mm_cmpeq_epi8(v, bs)),
					 _mm_cmplt_epi8(v, sp));
		uint32_t bits = (uint32_t)_mm_movemask_epi8(m);

		if (bits)
			return pos + (uint32_t)__builtin_ctz(bits);
		pos += 16;
	}
#else
	while (end - pos >= 8) {
		uint64_t x;

		memcpy(&x, s + pos, 8);
		uint64_t hit = SWAR_HASZERO(x ^ (SWAR_ONES * '"')) |
			       SWAR_HASZERO(x ^ (SWAR_ONES * '\\')) |
			       SWAR_HASLESS(x, 0x20) | (x & SWAR_HIGH);
		if (hit)
			break;
		pos += 8;
	}
#endif
	while (pos < end && str_plain(s[pos]))
		pos++;
	return pos;
}

/* Validates one multi-byte UTF-8 sequence at s[pos] (s[pos] >= 0x80).
 * Rejects overlongs, UTF-16 surrogates and code points above U+10FFFF.
 * Returns the sequence length or 0 when invalid or truncated. */
static uint32_t utf8_seq(const uint8_t *s, uint32_t pos, uint32_t end)
{
	uint8_t c = s[pos];
	uint8_t lo = 0x80, hi = 0xBF;
	uint32_t n;

	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		else if (c == 0xED)
			hi = 0x9F; /* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90; /* overlong */
		else if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (end - pos < n)
		return 0;
	if (s[pos + 1] < lo || s[pos + 1] > hi)
		return 0;
	for (uint32_t k = 2; k < n; k++)
		if ((s[pos + k] & 0xC0) != 0x80)
			return 0;
	return n;
}

static inline int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Reads 4 hex digits at s[pos]; -1 when malformed or truncated. */
static int32_t hex4(const uint8_t *s, uint32_t pos, uint32_t end)
{
	int32_t v = 0;

	if (end - pos < 4)
		return -1;
	for (uint32_t k = 0; k < 4; k++) {
		int h = hexval(s[pos + k]);

		if (h < 0)
			return -1;
		v = (v << 4) | h;
	}
	return v;
}

/* Validates the escape at s[pos] == '\\'; returns its length or 0. A high
 * surrogate must be followed at once by a low one; a lone low is invalid. */
static uint32_t escape_len(const uint8_t *s, uint32_t pos, uint32_t end)
{
	int32_t u, lo;

	if (end - pos < 2)
		return 0;
	switch (s[pos + 1]) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
		return 2;
	case 'u':
		break;
	default:
		return 0;
	}
	u = hex4(s, pos + 2, end);
	if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF))
		return 0;
	if (u < 0xD800 || u > 0xDBFF)
		return 6;
	if (end - pos < 12 || s[pos + 6] != '\\' || s[pos + 7] != 'u')
		return 0;
	lo = hex4(s, pos + 8, end);
	if (lo < 0xDC00 || lo > 0xDFFF)
		return 0;
	return 12;
}

static int tok_new(struct jp *p, uint8_t type, uint32_t depth, uint32_t start, uint32_t len)
{
	struct json_tok *t;

	if (p->ntoks >= p->max_toks)
		return -JSON_E_TOKENS;
	t = &p->toks[p->ntoks];
	t->type = type;
	t->flags = 0;
	t->depth = (uint16_t)depth;
	t->start = start;
	t->len = len;
	t->count = 0;
	t->next = p->ntoks + 1;
	return (int)p->ntoks++;
}

/* String at s[pos] == '"'; leaves pos after the closing quote. */
static int parse_string(struct jp *p, uint32_t depth)
{
	const uint8_t *s = p->s;
	uint32_t start = p->pos + 1, i = start;
	uint8_t flags = 0;
	int idx;

	for (;;) {
		uint32_t n;

		i = scan_plain(s, i, p->len);
		if (i >= p->len)
			goto bad;
		if (s[i] == '"')
			break;
		if (s[i] == '\\') {
			n = escape_len(s, i, p->len);
			flags |= JSON_TOK_ESCAPED;
		} else if (s[i] >= 0x80) {
			n = utf8_seq(s, i, p->len);
		} else {
			n = 0; /* unescaped control character */
		}
		if (!n)
			goto bad;
		i += n;
	}
	idx = tok_new(p, JSON_STRING, depth, start, i - start);
	if (idx < 0)
		return idx;
	p->toks[idx].flags = flags;
	p->pos = i + 1;
	return idx;
bad:
	p->pos = i;
	return -JSON_E_SYNTAX;
}

/* Number per RFC 8259: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static int parse_number(struct jp *p, uint32_t depth)
{
	const uint8_t *s = p->s;
	uint32_t start = p->pos, i = start, end = p->len;

	if (i < end && s[i] == '-')
		i++;
	if (i >= end || !is_digit(s[i]))
		goto bad;
	if (s[i++] != '0')
		while (i < end && is_digit(s[i]))
			i++;
	if (i < end && s[i] == '.') {
		i++;
		if (i >= end || !is_digit(s[i]))
			goto bad;
		while (i < end && is_digit(s[i]))
			i++;
	}
	if (i < end && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < end && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= end || !is_digit(s[i]))
			goto bad;
		while (i < end && is_digit(s[i]))
			i++;
	}
	p->pos = i;
	return tok_new(p, JSON_NUMBER, depth, start, i - start);
bad:
	p->pos = i;
	return -JSON_E_SYNTAX;
}

static int parse_literal(struct jp *p, uint32_t depth, const char *lit, uint8_t type)
{
	uint32_t n = (uint32_t)strlen(lit);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, lit, n) != 0)
		return -JSON_E_SYNTAX;
	p->pos += n;
	return tok_new(p, type, depth, p->pos - n, 0);
}

/* One value at p->pos (whitespace already skipped). Containers only get
 * their token here; their contents are handled by the caller's loop. */
static int parse_value(struct jp *p, uint32_t depth)
{
	if (p->pos >= p->len)
		return -JSON_E_SYNTAX;
	switch (p->s[p->pos]) {
	case '"':
		return parse_string(p, depth);
	case '{':
		p->pos++;
		return tok_new(p, JSON_OBJECT, depth, p->pos - 1, 0);
	case '[':
		p->pos++;
		return tok_new(p, JSON_ARRAY, depth, p->pos - 1, 0);
	case 't':
		return parse_literal(p, depth, "true", JSON_TRUE);
	case 'f':
		return parse_literal(p, depth, "false", JSON_FALSE);
	case 'n':
		return parse_literal(p, depth, "null", JSON_NULL);
	default:
		return parse_number(p, depth);
	}
}

/* Member key and ':' of the innermost open object `obj`, at nesting depth. */
static int parse_key(struct jp *p, uint32_t obj, uint32_t depth)
{
	int rc;

	skip_ws(p);
	if (p->pos >= p->len || p->s[p->pos] != '"')
		return -JSON_E_SYNTAX;
	rc = parse_string(p, depth);
	if (rc < 0)
		return rc;
	p->toks[obj].count++;
	skip_ws(p);
	if (p->pos >= p->len || p->s[p->pos] != ':')
		return -JSON_E_SYNTAX;
	p->pos++;
	skip_ws(p);
	return 0;
}

/* After a value at nesting sp: consumes ',' (then key or element start) or
 * closers. Returns 1 when another value is expected, 0 when the root is
 * complete, or -JSON_E_*. */
static int after_value(struct jp *p, uint32_t *stack, uint32_t *sp)
{
	for (;;) {
		struct json_tok *top;
		uint8_t c;

		skip_ws(p);
		if (*sp == 0)
			return 0;
		if (p->pos >= p->len)
			return -JSON_E_SYNTAX;
		top = &p->toks[stack[*sp - 1]];
		c = p->s[p->pos];
		if (c == ',') {
			p->pos++;
			if (top->type == JSON_OBJECT) {
				int rc = parse_key(p, stack[*sp - 1], *sp);

				return rc < 0 ? rc : 1;
			}
			top->count++;
			skip_ws(p);
			return 1;
		}
		if ((c == '}' && top->type == JSON_OBJECT) ||
		    (c == ']' && top->type == JSON_ARRAY)) {
			p->pos++;
			top->next = p->ntoks;
			(*sp)--;
			continue;
		}
		return -JSON_E_SYNTAX;
	}
}

/* A container token was just emitted at index idx: push it and consume up to
 * its first value, or close it at once when empty. Returns 1 when a value is
 * expected next, 0 when the container closed empty, or -JSON_E_*. */
static int open_container(struct jp *p, uint32_t idx, uint32_t *stack, uint32_t *sp)
{
	struct json_tok *t = &p->toks[idx];
	uint8_t closer = t->type == JSON_OBJECT ? '}' : ']';

	stack[(*sp)++] = idx;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == closer) {
		p->pos++;
		t->next = p->ntoks;
		(*sp)--;
		return 0;
	}
	if (t->type == JSON_OBJECT) {
		int rc = parse_key(p, idx, *sp);

		return rc < 0 ? rc : 1;
	}
	t->count++;
	return 1;
}

int json_parse(struct json_doc *doc, const char *buf, size_t len,
	       struct json_tok *toks, uint32_t max_toks, uint32_t max_depth,
	       size_t *err_off)
{
	uint32_t stack[JSON_MAX_DEPTH];
	uint32_t sp = 0;
	struct jp p = { (const uint8_t *)buf, (uint32_t)len, 0, toks, 0, max_toks };
	int rc;

	if (len > UINT32_MAX)
		return -JSON_E_TOOBIG;
	if (max_depth > JSON_MAX_DEPTH)
		max_depth = JSON_MAX_DEPTH;
	if (p.max_toks > INT32_MAX)
		p.max_toks = INT32_MAX;
	skip_ws(&p);
	for (;;) {
		if (p.pos < p.len && (p.s[p.pos] == '{' || p.s[p.pos] == '[') &&
		    sp >= max_depth) {
			rc = -JSON_E_DEPTH;
			goto fail;
		}
		rc = parse_value(&p, sp);
		if (rc < 0)
			goto fail;
		if (toks[rc].type == JSON_OBJECT || toks[rc].type == JSON_ARRAY) {
			rc = open_container(&p, (uint32_t)rc, stack, &sp);
			if (rc < 0)
				goto fail;
			if (rc == 1)
				continue;
		}
		rc = after_value(&p, stack, &sp);
		if (rc < 0)
			goto fail;
		if (rc == 0)
			break;
	}
	if (p.pos != p.len) {
		rc = -JSON_E_SYNTAX;
		goto fail;
	}
	doc->buf = buf;
	doc->len = len;
	doc->toks = toks;
	doc->ntoks = p.ntoks;
	return (int)p.ntoks;
fail:
	if (err_off)
		*err_off = p.pos;
	return rc;
}

/* ----------------------------------------------------- token accessors */

/* Decodes the escape at s[*i] == '\\' (already validated by the parser) into
 * UTF-8 at out; advances *i past it. Returns the number of bytes written. */
static uint32_t escape_decode(const uint8_t *s, uint32_t *i, uint8_t out[4])
{
	uint8_t c = s[*i + 1];
	uint32_t cp;

	*i += 2;
	switch (c) {
	case 'b': out[0] = '\b'; return 1;
	case 'f': out[0] = '\f'; return 1;
	case 'n': out[0] = '\n'; return 1;
	case 'r': out[0] = '\r'; return 1;
	case 't': out[0] = '\t'; return 1;
	case 'u': break;
	default: out[0] = c; return 1; /* " \ / */
	}
	cp = (uint32_t)hex4(s, *i, *i + 4);
	*i += 4;
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		uint32_t lo = (uint32_t)hex4(s, *i + 2, *i + 6);

		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		*i += 6;
	}
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xC0 | (cp >> 6));
		out[1] = (uint8_t)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xE0 | (cp >> 12));
		out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (uint8_t)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (uint8_t)(0xF0 | (cp >> 18));
	out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (uint8_t)(0x80 | (cp & 0x3F));
	return 4;
}

/* Compares an escaped string token with key[0..n) without a copy. */
static bool escaped_eq(const uint8_t *s, uint32_t len, const char *key, size_t n)
{
	uint32_t i = 0;
	size_t k = 0;

	while (i < len) {
		uint8_t tmp[4];
		uint32_t m;

		if (s[i] != '\\') {
			if (k >= n || (uint8_t)key[k] != s[i])
				return false;
			i++;
			k++;
			continue;
		}
		m = escape_decode(s, &i, tmp);
		if (n - k < m || memcmp(key + k, tmp, m) != 0)
			return false;
		k += m;
	}
	return k == n;
}

int32_t json_obj_get(const struct json_doc *doc, uint32_t obj, const char *key)
{
	const struct json_tok *t = doc->toks;
	size_t n = strlen(key);
	int32_t found = -1;
	uint32_t k = obj + 1;

	if (obj >= doc->ntoks || t[obj].type != JSON_OBJECT)
		return -1;
	for (uint32_t m = 0; m < t[obj].count; m++) {
		const uint8_t *s = (const uint8_t *)doc->buf + t[k].start;

		DBG_BUG_ON(k + 1 >= doc->ntoks || t[k].type != JSON_STRING);
		if (!(t[k].flags & JSON_TOK_ESCAPED)) {
			if (t[k].len == n && memcmp(s, key, n) == 0)
				found = (int32_t)(k + 1);
		} else if (escaped_eq(s, t[k].len, key, n)) {
			found = (int32_t)(k + 1);
		}
		k = t[k + 1].next;
	}
	return found;
}

void json_obj_get_n(const struct json_doc *doc, uint32_t obj, const char *const *keys,
		    uint32_t n, int32_t *out)
{
	const struct json_tok *t = doc->toks;
	uint32_t k = obj + 1;

	for (uint32_t j = 0; j < n; j++)
		out[j] = -1;
	if (obj >= doc->ntoks || t[obj].type != JSON_OBJECT)
		return;
	for (uint32_t m = 0; m < t[obj].count; m++) {
		const uint8_t *s = (const uint8_t *)doc->buf + t[k].start;

		DBG_BUG_ON(k + 1 >= doc->ntoks || t[k].type != JSON_STRING);
		for (uint32_t j = 0; j < n; j++) {
			size_t kl = strlen(keys[j]);
			bool eq = !(t[k].flags & JSON_TOK_ESCAPED) ?
				  t[k].len == kl && memcmp(s, keys[j], kl) == 0 :
				  escaped_eq(s, t[k].len, keys[j], kl);
			if (eq) {
				out[j] = (int32_t)(k + 1);
				break; /* keys are distinct: one member matches one key */
			}
		}
		k = t[k + 1].next;
	}
}

int64_t json_str_unescape(const struct json_doc *doc, uint32_t i, char *out, size_t cap)
{
	const struct json_tok *t = &doc->toks[i];
	const uint8_t *s = (const uint8_t *)doc->buf + t->start;
	size_t o = 0;
	uint32_t k = 0;

	if (t->type != JSON_STRING)
		return -1;
	if (!(t->flags & JSON_TOK_ESCAPED)) {
		if (t->len > cap)
			return -1;
		memcpy(out, s, t->len);
		o = t->len;
	} else {
		while (k < t->len) {
			uint8_t tmp[4];
			uint32_t m;

			if (s[k] != '\\') {
				if (o >= cap)
					return -1;
				out[o++] = (char)s[k++];
				continue;
			}
			m = escape_decode(s, &k, tmp);
			if (cap - o < m)
				return -1;
			memcpy(out + o, tmp, m);
			o += m;
		}
	}
	if (o < cap)
		out[o] = '\0';
	return (int64_t)o;
}

size_t json_str_unescape_prefix(const struct json_doc *doc, uint32_t i, char *out, size_t cap,
				bool *whole)
{
	const struct json_tok *t = &doc->toks[i];
	const uint8_t *s = (const uint8_t *)doc->buf + t->start;
	size_t o = 0, room;
	uint32_t k = 0;
	int64_t n;

	BUG_ON(cap == 0);
	n = json_str_unescape(doc, i, out, cap);
	if (whole)
		*whole = n >= 0 && (size_t)n < cap;
	if (n >= 0 && (size_t)n < cap)
		return (size_t)n; /* fits, NUL-terminated by json_str_unescape */
	if (t->type != JSON_STRING) {
		out[0] = '\0';
		return 0;
	}
	/* Too long: decode again, one whole code point at a time, and stop at
	 * the first that would not fit before the NUL. The parser accepted only
	 * valid UTF-8, so a raw sequence's lead byte gives its length. */
	room = cap - 1;
	while (k < t->len) {
		uint8_t tmp[4];
		uint32_t m;

		if (s[k] == '\\') {
			uint32_t at = k;
			m = escape_decode(s, &at, tmp);
			if (m > room - o)
				break;
			memcpy(out + o, tmp, m);
			k = at;
		} else {
			m = utf8_seq_bytes(s[k]);
			if (m > room - o || m > t->len - k)
				break;
			memcpy(out + o, s + k, m);
			k += m;
		}
		o += m;
	}
	out[o] = '\0';
	return o;
}

uint32_t json_str_codepoints(const struct json_doc *doc, uint32_t i)
{
	const struct json_tok *t = &doc->toks[i];
	const uint8_t *s = (const uint8_t *)doc->buf + t->start;
	uint32_t n = 0, k = 0;

	if (t->type != JSON_STRING)
		return 0;
	while (k < t->len) {
		if (s[k] == '\\') {
			uint8_t tmp[4];

			escape_decode(s, &k, tmp);
			n++;
			continue;
		}
		/* Count every byte that is not a UTF-8 continuation byte. */
		n += (s[k] & 0xC0) != 0x80;
		k++;
	}
	return n;
}

/* Digit k of the virtual string int-digits ++ frac-digits. */
static inline uint8_t num_digit(const uint8_t *ip, uint32_t ni, const uint8_t *fp, uint32_t k)
{
	return k < ni ? ip[k] : fp[k - ni];
}

/* Splits a validated number into sign, digit runs and a saturated exponent. */
static void num_split(const uint8_t *s, uint32_t len, bool *neg, uint32_t *ip, uint32_t *ni,
		      uint32_t *fp, uint32_t *nf, int64_t *exp)
{
	uint32_t k = 0;

	*neg = s[0] == '-';
	k = *neg;
	*ip = k;
	while (k < len && is_digit(s[k]))
		k++;
	*ni = k - *ip;
	*fp = k;
	*nf = 0;
	if (k < len && s[k] == '.') {
		*fp = ++k;
		while (k < len && is_digit(s[k]))
			k++;
		*nf = k - *fp;
	}
	*exp = 0;
	if (k < len) {
		bool eneg = false;

		k++; /* 'e' or 'E' */
		if (s[k] == '+' || s[k] == '-')
			eneg = s[k++] == '-';
		for (; k < len; k++)
			if (*exp < ((int64_t)1 << 40)) /* saturate: far beyond any int64 */
				*exp = *exp * 10 + (s[k] - '0');
		if (eneg)
			*exp = -*exp;
	}
}

int json_num_i64(const struct json_doc *doc, uint32_t i, int64_t *out)
{
	const struct json_tok *t = &doc->toks[i];
	const uint8_t *s = (const uint8_t *)doc->buf + t->start;
	uint32_t ip, ni, fp, nf, n, first, last;
	int64_t exp, scale;
	uint64_t mag = 0;
	bool neg;

	if (t->type != JSON_NUMBER)
		return -EINVAL;
	num_split(s, t->len, &neg, &ip, &ni, &fp, &nf, &exp);
	n = ni + nf;
	for (first = 0; first < n && num_digit(s + ip, ni, s + fp, first) == '0'; first++)
		;
	if (first == n) {
		*out = 0; /* zero with any exponent, including -0 */
		return 0;
	}
	for (last = n - 1; num_digit(s + ip, ni, s + fp, last) == '0'; last--)
		;
	/* value = digits[first..last] * 10^scale */
	scale = exp - (int64_t)nf + (int64_t)(n - 1 - last);
	if (scale < 0)
		return -EINVAL;
	if ((int64_t)(last - first + 1) + scale > 19)
		return -ERANGE;
	for (uint32_t k = first; k <= last; k++)
		mag = mag * 10 + (uint64_t)(num_digit(s + ip, ni, s + fp, k) - '0');
	for (int64_t k = 0; k < scale; k++)
		mag *= 10; /* cannot wrap: at most 19 digits in total */
	if (mag > (uint64_t)INT64_MAX + neg)
		return -ERANGE;
	*out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return 0;
}

/* ---------------------------------------------------------------- writer */

void jw_init(struct jw *w, char *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->overflow = false;
	w->need_comma = false;
}

static void jw_put(struct jw *w, const char *s, size_t n)
{
	if (w->overflow)
		return;
	if (w->cap - w->len < n) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static inline void jw_sep(struct jw *w)
{
	if (w->need_comma)
		jw_put(w, ",", 1);
}

void jw_obj_begin(struct jw *w)
{
	jw_sep(w);
	jw_put(w, "{", 1);
	w->need_comma = false;
}

void jw_obj_end(struct jw *w)
{
	jw_put(w, "}", 1);
	w->need_comma = true;
}

void jw_arr_begin(struct jw *w)
{
	jw_sep(w);
	jw_put(w, "[", 1);
	w->need_comma = false;
}

void jw_arr_end(struct jw *w)
{
	jw_put(w, "]", 1);
	w->need_comma = true;
}

/* Escaped string body (no quotes, no separator). */
static void jw_escaped(struct jw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	for (size_t k = 0; k < n; k++) {
		uint8_t c = (uint8_t)s[k];
		char esc[6] = { '\\', 0, '0', '0', 0, 0 };
		size_t m = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		jw_put(w, s + run, k - run);
		run = k + 1;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			esc[1] = 'u';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xF];
			m = 6;
		}
		jw_put(w, esc, m);
	}
	jw_put(w, s + run, n - run);
}

void jw_key(struct jw *w, const char *key)
{
	jw_sep(w);
	jw_put(w, "\"", 1);
	jw_escaped(w, key, strlen(key));
	jw_put(w, "\":", 2);
	w->need_comma = false;
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
	jw_sep(w);
	jw_put(w, "\"", 1);
	jw_escaped(w, s, n);
	jw_put(w, "\"", 1);
	w->need_comma = true;
}

void jw_str(struct jw *w, const char *s)
{
	jw_strn(w, s, strlen(s));
}

/* Decimal digits of v into the end of tmp[0..20); returns the first index. */
static size_t u64_digits(uint64_t v, char tmp[20])
{
	size_t k = 20;

	do {
		tmp[--k] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return k;
}

static void jw_mag(struct jw *w, bool neg, uint64_t mag)
{
	char tmp[21];
	size_t k = u64_digits(mag, tmp + 1) + 1;

	if (neg)
		tmp[--k] = '-';
	jw_sep(w);
	jw_put(w, tmp + k, 21 - k);
	w->need_comma = true;
}

void jw_i64(struct jw *w, int64_t v)
{
	jw_mag(w, v < 0, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
}

void jw_u64(struct jw *w, uint64_t v)
{
	jw_mag(w, false, v);
}

void jw_epoch_ms(struct jw *w, int64_t epoch_ms)
{
	/* Always three decimals: valid JSON, unambiguous, and what boto3 and
	 * the Java SDK parse back to the same millisecond. */
	uint64_t mag = epoch_ms < 0 ? 0 - (uint64_t)epoch_ms : (uint64_t)epoch_ms;
	uint64_t ms = mag % 1000;
	char frac[4] = { '.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10),
			 (char)('0' + ms % 10) };

	jw_mag(w, epoch_ms < 0, mag / 1000);
	jw_put(w, frac, sizeof(frac));
}

void jw_bool(struct jw *w, bool v)
{
	jw_sep(w);
	if (v)
		jw_put(w, "true", 4);
	else
		jw_put(w, "false", 5);
	w->need_comma = true;
}

void jw_null(struct jw *w)
{
	jw_sep(w);
	jw_put(w, "null", 4);
	w->need_comma = true;
}

void jw_raw(struct jw *w, const char *s, size_t n)
{
	jw_sep(w);
	jw_put(w, s, n);
	w->need_comma = true;
}

char *jw_raw_reserve(struct jw *w, size_t n)
{
	jw_sep(w);
	w->need_comma = true;
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = true;
		return NULL;
	}
	w->len += n;
	return w->buf + w->len - n;
}

void jw_b64(struct jw *w, const void *data, size_t n)
{
	size_t enc = b64_enc_len(n);
	jw_sep(w);
	if (w->overflow || w->cap - w->len < enc + 2) {
		w->overflow = true;
		return;
	}
	w->buf[w->len++] = '"';
	w->len += b64_encode(w->buf + w->len, data, n);
	w->buf[w->len++] = '"';
	w->need_comma = true;
}

void jw_error(struct jw *w, const char *type, const char *msg)
{
	jw_obj_begin(w);
	jw_key(w, "__type");
	jw_str(w, type);
	/* As Kinesis writes it (and api_err_encode): Coral's
	 * SerializationException spells the member "Message"; an empty
	 * message is left out. */
	if (msg[0] != '\0') {
		jw_key(w, strcmp(type, "SerializationException") == 0 ? "Message" : "message");
		jw_str(w, msg);
	}
	jw_obj_end(w);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/1.1 request-head parser (RFC 9112). http_parse_request is stateless:
 * each call parses the head from buf[0]. Connections go through
 * http_parse_request_resume, whose first call is that full parse. A head
 * still incomplete after it goes to a byte-at-a-time scanner that, with a
 * few bytes of state (struct http_parse_state), mirrors the parser's accept /
 * reject decisions, so each later piece is examined once; the full parse runs
 * again only when the scanner reaches a point where the answer is no longer
 * "need more". The scanner need not be exact to be correct, only conservative:
 * whenever it stops, the full parse (the one source of truth) answers, so a
 * scanner that stopped early would cost a parse, never a wrong result. The
 * fuzz target checks both paths agree on every split.
 *
 * Internal helpers return 1 when a piece was consumed, 0 when the bytes ran
 * out (need more, or 431 when the scan window is the max_head_bytes cap), or
 * a negative HTTP_E_* value. */
#include "dataplane/http/http.h"

#include <limits.h>
#include <string.h>

#include "common/bug.h"

/* Empty lines tolerated before the request line (RFC 9112 §2.2 lets a
 * server skip "at least one"); beyond this it is garbage, not a stray CRLF. */
#define HTTP_MAX_LEADING_EOL 4u
/* Content-Length bound: 2^53, the largest integer every client language can
 * represent exactly; far above any body sluice accepts. */
#define HTTP_CL_MAX (UINT64_C(1) << 53)

struct hp {
	const uint8_t *s;
	uint32_t end; /* scan window: min(len, max_head_bytes) */
	uint32_t pos;
};

/* tchar (RFC 9110 §5.6.2). */
static const uint8_t tchar_tab[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
};

static inline bool is_tchar(uint8_t c)
{
	return tchar_tab[c];
}

/* field-value bytes: VCHAR, SP, HTAB, obs-text. */
static inline bool is_vchar(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static inline bool is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* Line end at s[pos] (CR or LF). Bare LF is accepted, bare CR is not. */
static int eol(struct hp *p)
{
	if (p->s[p->pos] == '\n') {
		p->pos++;
		return 1;
	}
	if (p->end - p->pos < 2)
		return 0; /* buffer ends mid-CRLF */
	if (p->s[p->pos + 1] != '\n')
		return HTTP_E_BAD;
	p->pos += 2;
	return 1;
}

/* Token then one SP; out gets the token. */
static int token_sp(struct hp *p, bool (*ok)(uint8_t), struct sl_slice *out)
{
	uint32_t start = p->pos;

	while (p->pos < p->end && ok(p->s[p->pos]))
		p->pos++;
	if (p->pos >= p->end)
		return 0;
	if (p->s[p->pos] != ' ' || p->pos == start)
		return HTTP_E_BAD;
	*out = (struct sl_slice){ (const char *)p->s + start, p->pos - start };
	p->pos++;
	return 1;
}

static bool is_target_char(uint8_t c)
{
	return c > 0x20 && c < 0x7f;
}

static bool is_tchar_fn(uint8_t c)
{
	return is_tchar(c);
}

/* "HTTP/" DIGIT "." DIGIT, then the line end. Garbage is 400; a well-formed
 * version we do not speak is 505. */
static int parse_version(struct hp *p, struct http_req *req)
{
	static const char pat[] = "HTTP/d.d";
	const uint8_t *v = p->s + p->pos;
	uint32_t avail = p->end - p->pos;
	int rc;

	for (uint32_t k = 0; k < sizeof(pat) - 1; k++) {
		if (k >= avail)
			return 0;
		if (pat[k] == 'd' ? (v[k] < '0' || v[k] > '9') : v[k] != (uint8_t)pat[k])
			return HTTP_E_BAD;
	}
	if (avail <= 8)
		return 0;
	if (v[8] != '\r' && v[8] != '\n')
		return HTTP_E_BAD;
	p->pos += 8;
	rc = eol(p);
	if (rc <= 0)
		return rc;
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
		return HTTP_E_VERSION;
	req->version_minor = (uint8_t)(v[7] - '0');
	return 1;
}

static int parse_request_line(struct hp *p, struct http_req *req)
{
	int rc;

	/* Tolerate a few stray empty lines left over from a previous
	 * request (RFC 9112 §2.2). */
	for (uint32_t n = 0; p->pos < p->end &&
			     (p->s[p->pos] == '\r' || p->s[p->pos] == '\n'); n++) {
		if (n == HTTP_MAX_LEADING_EOL)
			return HTTP_E_BAD;
		rc = eol(p);
		if (rc <= 0)
			return rc;
	}
	rc = token_sp(p, is_tchar_fn, &req->method);
	if (rc <= 0)
		return rc;
	rc = token_sp(p, is_target_char, &req->target);
	if (rc <= 0)
		return rc;
	req->path = req->target;
	req->query = (struct sl_slice){ req->target.ptr + req->target.len, 0 };
	const char *q = memchr(req->target.ptr, '?', req->target.len);
	if (q) {
		req->path.len = (uint32_t)(q - req->target.ptr);
		req->query.ptr = q + 1;
		req->query.len = req->target.len - req->path.len - 1;
	}
	return parse_version(p, req);
}

/* name ":" OWS value OWS EOL. No whitespace is allowed before the colon
 * (RFC 9112 §5.1: a classic smuggling vector). */
static int parse_header(struct hp *p, struct sl_header *h)
{
	const uint8_t *s = p->s;
	uint32_t start = p->pos, vstart, vend;

	while (p->pos < p->end && is_tchar(s[p->pos]))
		p->pos++;
	if (p->pos >= p->end)
		return 0;
	if (s[p->pos] != ':' || p->pos == start)
		return HTTP_E_BAD;
	h->name = (struct sl_slice){ (const char *)s + start, p->pos - start };
	p->pos++;
	while (p->pos < p->end && is_ows(s[p->pos]))
		p->pos++;
	vstart = p->pos;
	while (p->pos < p->end && is_vchar(s[p->pos]))
		p->pos++;
	if (p->pos >= p->end)
		return 0;
	if (s[p->pos] != '\r' && s[p->pos] != '\n')
		return HTTP_E_BAD; /* control character in the value */
	for (vend = p->pos; vend > vstart && is_ows(s[vend - 1]); vend--)
		;
	h->value = (struct sl_slice){ (const char *)s + vstart, vend - vstart };
	return eol(p);
}

static int parse_headers(struct hp *p, struct sl_header *hdrs, uint32_t max_hdrs,
			 uint32_t *nhdrs)
{
	for (;;) {
		uint8_t c;
		int rc;

		if (p->pos >= p->end)
			return 0;
		c = p->s[p->pos];
		if (c == '\r' || c == '\n')
			return eol(p); /* the empty line ending the head */
		if (is_ows(c))
			return HTTP_E_BAD; /* obs-fold, or space before the first field */
		if (*nhdrs >= max_hdrs)
			return HTTP_E_HEAD_TOO_LARGE;
		rc = parse_header(p, &hdrs[*nhdrs]);
		if (rc <= 0)
			return rc;
		(*nhdrs)++;
	}
}

/* Next comma-separated list element of v starting at *i, OWS trimmed.
 * Returns false at the end of the list. */
static bool list_next(struct sl_slice v, uint32_t *i, struct sl_slice *elem)
{
	uint32_t a, b;

	if (*i > v.len)
		return false;
	a = *i;
	while (a < v.len && is_ows((uint8_t)v.ptr[a]))
		a++;
	b = a;
	while (b < v.len && v.ptr[b] != ',')
		b++;
	*i = b + 1;
	while (b > a && is_ows((uint8_t)v.ptr[b - 1]))
		b--;
	*elem = (struct sl_slice){ v.ptr + a, b - a };
	return true;
}

/* Content-Length: 1*DIGIT, or a list of identical values (RFC 9110 §8.6);
 * every occurrence must agree with the previous ones. */
static int content_length(struct sl_slice v, struct http_req *req)
{
	struct sl_slice e;
	uint32_t i = 0;

	while (list_next(v, &i, &e)) {
		uint64_t x = 0;

		if (e.len == 0)
			return HTTP_E_BAD;
		for (uint32_t k = 0; k < e.len; k++) {
			if (e.ptr[k] < '0' || e.ptr[k] > '9')
				return HTTP_E_BAD;
			x = x * 10 + (uint64_t)(e.ptr[k] - '0');
			if (x > HTTP_CL_MAX)
				return HTTP_E_BAD;
		}
		if (req->has_content_length && x != req->content_length)
			return HTTP_E_BAD;
		req->has_content_length = true;
		req->content_length = x;
	}
	return 1;
}

/* Fills the derived fields and applies the framing rules of RFC 9112 §6. */
static int derive(struct http_req *req)
{
	bool close = false, ka = false;
	uint32_t te = 0;
	int rc;

	for (uint32_t h = 0; h < req->nhdrs; h++) {
		struct sl_slice n = req->hdrs[h].name, v = req->hdrs[h].value, e;
		uint32_t i = 0;

		if (sl_slice_caseeq(n, "content-length")) {
			rc = content_length(v, req);
			if (rc < 0)
				return rc;
		} else if (sl_slice_caseeq(n, "transfer-encoding")) {
			te++;
			req->chunked = sl_slice_caseeq(v, "chunked");
		} else if (sl_slice_caseeq(n, "connection")) {
			while (list_next(v, &i, &e)) {
				close |= sl_slice_caseeq(e, "close");
				ka |= sl_slice_caseeq(e, "keep-alive");
			}
		} else if (sl_slice_caseeq(n, "expect")) {
			/* HTTP/1.0 expectations are ignored (RFC 9110 §10.1.1). */
			if (req->version_minor == 1 && sl_slice_caseeq(v, "100-continue"))
				req->expect_continue = true;
		}
	}
	if (te) {
		/* Both framings present, or chunked from a 1.0 client that cannot
		 * send it: the framing is ambiguous; refuse and close. */
		if (req->has_content_length || req->version_minor == 0)
			return HTTP_E_BAD;
		if (te > 1 || !req->chunked)
			return HTTP_E_NOT_IMPL;
	}
	req->keep_alive = req->version_minor == 1 ? !close : (ka && !close);
	return 1;
}

int http_parse_request(const char *buf, size_t len, struct http_req *req,
		       struct sl_header *hdrs, uint32_t max_hdrs, uint32_t max_head_bytes)
{
	uint32_t cap = max_head_bytes > INT_MAX ? INT_MAX : max_head_bytes;
	struct hp p = { (const uint8_t *)buf, len < cap ? (uint32_t)len : cap, 0 };
	int rc;

	memset(req, 0, sizeof(*req));
	req->hdrs = hdrs;
	rc = parse_request_line(&p, req);
	if (rc > 0)
		rc = parse_headers(&p, hdrs, max_hdrs, &req->nhdrs);
	if (rc > 0)
		rc = derive(req);
	if (rc == 0)
		/* Out of bytes: more may come, unless the window was the cap. */
		return len >= cap ? HTTP_E_HEAD_TOO_LARGE : HTTP_NEED_MORE;
	if (rc < 0)
		return rc;
	return (int)p.pos;
}

/* The scanner's phases: where in the head the next byte falls. */
enum hp_phase {
	HP_LEAD = 0,	/* stray empty lines before the request line; aux counts */
	HP_LEAD_CR = 1, /* ... a CR of one, LF to follow */
	HP_METHOD = 2,	/* aux: 1 once a method byte was seen */
	HP_TARGET = 3,	/* aux: 1 once a target byte was seen */
	HP_VERSION = 4, /* aux: index into "HTTP/d.d"; 8 = the line end is next */
	HP_RL_CR = 5,	/* request line CR, LF to follow */
	HP_LINE = 6,	/* start of a header line, or of the final empty line */
	HP_NAME = 7,	/* aux: 1 once a name byte was seen */
	HP_VALUE = 8,	/* after the colon: OWS and value bytes up to the EOL */
	HP_HDR_CR = 9,	/* header line CR, LF to follow */
	HP_END_CR = 10, /* final empty line CR, LF to follow */
	HP_DECIDED = 11 /* the answer is known: parse in full */
};

/* Advances the scanner over one byte. Returns false when the full parse
 * must answer now (an error, a cap, or the end of the head); each case
 * below mirrors the parse function named beside it. */
static bool hp_step(struct http_parse_state *st, uint8_t c, uint32_t max_hdrs)
{
	static const char pat[] = "HTTP/d.d";

	switch (st->phase) {
	case HP_LEAD: /* parse_request_line's loop */
		if (c == '\r' || c == '\n') {
			if (st->aux == HTTP_MAX_LEADING_EOL)
				return false;
			if (c == '\n')
				st->aux++;
			else
				st->phase = HP_LEAD_CR;
			return true;
		}
		st->phase = HP_METHOD;
		st->aux = 0;
		return hp_step(st, c, max_hdrs); /* one level: HP_METHOD never recurses */
	case HP_LEAD_CR: /* eol */
		if (c != '\n')
			return false;
		st->aux++;
		st->phase = HP_LEAD;
		return true;
	case HP_METHOD: /* token_sp */
	case HP_TARGET:
		if (st->phase == HP_METHOD ? is_tchar(c) : is_target_char(c)) {
			st->aux = 1;
			return true;
		}
		if (c != ' ' || st->aux == 0)
			return false;
		st->phase++;
		st->aux = 0;
		return true;
	case HP_VERSION: /* parse_version */
		if (st->aux < sizeof(pat) - 1) {
			if (pat[st->aux] == 'd' ? (c < '0' || c > '9') : c != (uint8_t)pat[st->aux])
				return false;
			if ((st->aux == 5 && c != '1') || (st->aux == 7 && c != '0' && c != '1'))
				st->bad_version = true;
			st->aux++;
			return true;
		}
		if (c == '\r') {
			st->phase = HP_RL_CR;
			return true;
		}
		if (c != '\n' || st->bad_version)
			return false;
		st->phase = HP_LINE;
		return true;
	case HP_RL_CR: /* eol, then the version verdict */
		if (c != '\n' || st->bad_version)
			return false;
		st->phase = HP_LINE;
		return true;
	case HP_LINE: /* parse_headers */
		if (c == '\r') {
			st->phase = HP_END_CR;
			return true;
		}
		if (c == '\n' || is_ows(c) || st->nhdrs >= max_hdrs)
			return false;
		st->nhdrs++;
		st->phase = HP_NAME;
		st->aux = 0;
		return hp_step(st, c, max_hdrs); /* one level: HP_NAME never recurses */
	case HP_NAME: /* parse_header */
		if (is_tchar(c)) {
			st->aux = 1;
			return true;
		}
		if (c != ':' || st->aux == 0)
			return false;
		st->phase = HP_VALUE;
		return true;
	case HP_VALUE:
		if (is_vchar(c))
			return true;
		if (c == '\r')
			st->phase = HP_HDR_CR;
		else if (c == '\n')
			st->phase = HP_LINE;
		else
			return false;
		return true;
	case HP_HDR_CR:
		if (c != '\n')
			return false;
		st->phase = HP_LINE;
		return true;
	default: /* HP_END_CR: complete (or malformed) either way; HP_DECIDED */
		return false;
	}
}

int http_parse_request_resume(const char *buf, size_t len, struct http_parse_state *st,
			      struct http_req *req, struct sl_header *hdrs, uint32_t max_hdrs,
			      uint32_t max_head_bytes)
{
	uint32_t cap = max_head_bytes > INT_MAX ? INT_MAX : max_head_bytes;
	uint32_t end = len < cap ? (uint32_t)len : cap;
	const uint8_t *s = (const uint8_t *)buf;
	int rc;

	BUG_ON(len < st->pos);
	if (st->full_parses == 0) {
		/* First look: a head usually arrives whole in one read, and then
		 * one full parse is all it costs, as before. Only a head still
		 * incomplete is scanned (from 0), and after that only new bytes:
		 * at most three passes over any byte in all. */
		st->full_parses++;
		st->examined_bytes += end;
		rc = http_parse_request(buf, len, req, hdrs, max_hdrs, max_head_bytes);
		if (rc != HTTP_NEED_MORE) {
			st->phase = HP_DECIDED;
			return rc;
		}
	}
	if (st->phase != HP_DECIDED) {
		uint32_t from = st->pos;

		/* pos <= end: a scan never passes the window, and the window
		 * only grows (same cap, len never shrinks). */
		while (st->pos < end && hp_step(st, s[st->pos], max_hdrs))
			st->pos++;
		st->examined_bytes += st->pos - from;
		if (st->pos < end)
			st->phase = HP_DECIDED; /* stopped on a byte: answer now */
		else if (len < cap)
			return HTTP_NEED_MORE; /* every byte fine; more may come */
		/* else the window is the cap: the full parse says 431 or
		 * finds what the scanner would have (it is exact) */
	}
	st->full_parses++;
	st->examined_bytes += end;
	rc = http_parse_request(buf, len, req, hdrs, max_hdrs, max_head_bytes);
	/* The scanner mirrors the parser: it stops exactly where the parser
	 * stops deciding, so "need more" from the full parse here means a
	 * scanner bug (harmless: the next call parses in full again). */
	DBG_BUG_ON(rc == HTTP_NEED_MORE);
	return rc;
}

const char *http_reason(uint16_t status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

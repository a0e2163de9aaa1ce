/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/1.1 request-head parser (RFC 9112). Stateless: each call rescans the
 * head from buf[0], which is cheap because heads are small and bounded by
 * max_head_bytes, and it keeps the parser free of per-connection state.
 *
 * Internal helpers return 1 when a piece was consumed, 0 when the bytes ran
 * out (need more, or 431 when the scan window is the max_head_bytes cap), or
 * a negative HTTP_E_* value. */
#include "dataplane/http/http.h"

#include <limits.h>
#include <string.h>

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

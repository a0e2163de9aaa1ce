/* SPDX-License-Identifier: Apache-2.0 */
/* Parsers of the mirror's answers (mirror_wire.h). Bounded by len and the
 * token array; no allocation. */
#include "sluiced/mirror_wire.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define WIRE_HEAD_MAX 16384 /* a head longer than this is refused */

int mirror_parse_head(const char *buf, size_t len, int *status, size_t *content_length)
{
	size_t scan = len < WIRE_HEAD_MAX ? len : WIRE_HEAD_MAX;
	const char *end = memmem(buf, scan, "\r\n\r\n", 4);
	if (!end)
		return len >= WIRE_HEAD_MAX ? -EPROTO : 0;
	size_t hlen = (size_t)(end - buf) + 4;
	/* "HTTP/1.1 NNN" */
	if (hlen < 14 || memcmp(buf, "HTTP/1.1 ", 9) != 0)
		return -EPROTO;
	int st = 0;
	for (int i = 9; i < 12; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -EPROTO;
		st = st * 10 + (buf[i] - '0');
	}
	if (st < 100 || st > 599 || (buf[12] != ' ' && buf[12] != '\r'))
		return -EPROTO;
	bool have = false;
	size_t clen = 0;
	const char *p = memmem(buf, hlen, "\r\n", 2) + 2; /* first header line */
	while (p < end) {
		const char *eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		if (!eol)
			return -EPROTO;
		size_t ll = (size_t)(eol - p);
		if (ll > 15 && strncasecmp(p, "content-length:", 15) == 0) {
			const char *v = p + 15;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			if (v == eol || have)
				return -EPROTO; /* empty, or two of them */
			clen = 0;
			for (; v < eol && *v >= '0' && *v <= '9'; v++) {
				clen = clen * 10 + (size_t)(*v - '0');
				if (clen > MIRROR_RESP_MAX)
					return -EPROTO;
			}
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			if (v != eol)
				return -EPROTO;
			have = true;
		}
		p = eol + 2;
	}
	if (!have)
		return -EPROTO;
	*status = st;
	*content_length = clen;
	return (int)hlen;
}

int mirror_put_result(const char *body, size_t len, struct json_tok *toks, uint32_t ntoks,
		      uint32_t *idx, uint32_t n)
{
	struct json_doc d;
	if (json_parse(&d, body, len, toks, ntoks, 8, NULL) < 1 || d.toks[0].type != JSON_OBJECT)
		return -EPROTO;
	int32_t arr = json_obj_get(&d, 0, "Records");
	if (arr < 0 || d.toks[arr].type != JSON_ARRAY || d.toks[arr].count != n)
		return -EPROTO;
	/* checked whole before idx is touched: a bad answer leaves it intact */
	for (uint32_t i = (uint32_t)arr + 1, k = 0; k < n; k++, i = d.toks[i].next)
		if (d.toks[i].type != JSON_OBJECT)
			return -EPROTO;
	uint32_t left = 0;
	for (uint32_t i = (uint32_t)arr + 1, k = 0; k < n; k++, i = d.toks[i].next)
		if (json_obj_get(&d, i, "ErrorCode") >= 0)
			idx[left++] = idx[k]; /* left <= k: order kept, in place */
	return (int)left;
}

bool mirror_ehk_ok(const struct json_doc *d, uint32_t rec)
{
	int32_t t = json_obj_get(d, rec, "ExplicitHashKey");
	if (t < 0)
		return true;
	if (d->toks[t].type != JSON_STRING)
		return false;
	struct sl_slice s = json_tok_slice(d, (uint32_t)t);
	if (s.len < 1 || s.len > 39) /* 2^128 - 1 has 39 digits */
		return false;
	for (uint32_t i = 0; i < s.len; i++)
		if (s.ptr[i] < '0' || s.ptr[i] > '9')
			return false;
	return true;
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "admin/admin_parse.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

/* Copies s[0..n) into out (cap bytes) NUL-terminated; false when it does
 * not fit. */
static bool copy(char *out, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		return false;
	memcpy(out, s, n);
	out[n] = 0;
	return true;
}

/* "GET /path?query HTTP/1.1" */
static int request_line(const char *l, size_t n, struct admin_req *r)
{
	const char *sp1 = memchr(l, ' ', n);
	if (!sp1 || sp1 == l)
		return -EINVAL;
	if (!copy(r->method, sizeof(r->method), l, (size_t)(sp1 - l)))
		return -EINVAL;
	const char *t = sp1 + 1, *end = l + n;
	const char *sp2 = memchr(t, ' ', (size_t)(end - t));
	if (!sp2 || sp2 == t || *t != '/')
		return -EINVAL;
	if ((size_t)(end - sp2 - 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
	    (sp2[8] != '0' && sp2[8] != '1'))
		return -EINVAL;
	const char *q = memchr(t, '?', (size_t)(sp2 - t));
	size_t plen = (size_t)((q ? q : sp2) - t);
	return copy(r->path, sizeof(r->path), t, plen) ? 0 : -EINVAL;
}

static int header_line(const char *l, size_t n, struct admin_req *r)
{
	const char *colon = memchr(l, ':', n);
	if (!colon || colon == l)
		return -EINVAL;
	size_t nl = (size_t)(colon - l);
	const char *v = colon + 1, *end = l + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t vl = (size_t)(end - v);
	if (nl == 6 && strncasecmp(l, "accept", 6) == 0) {
		if (!copy(r->accept, sizeof(r->accept), v, vl))
			r->accept[0] = 0;
	} else if (nl == 13 && strncasecmp(l, "authorization", 13) == 0) {
		if (!copy(r->auth, sizeof(r->auth), v, vl)) {
			r->auth[0] = 0;
			r->auth_too_long = true;
		}
	}
	return 0;
}

int admin_parse(const char *buf, size_t len, struct admin_req *r)
{
	memset(r, 0, sizeof(*r));
	size_t scan = len < ADMIN_HEAD_MAX ? len : ADMIN_HEAD_MAX;
	const char *end = NULL;
	for (size_t i = 0; i + 3 < scan; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
			end = buf + i;
			break;
		}
	if (!end)
		return len >= ADMIN_HEAD_MAX ? -EMSGSIZE : 0;
	for (const char *p = buf; p < end; p++)
		if ((unsigned char)*p < 0x20 && *p != '\r' && *p != '\n' && *p != '\t')
			return -EINVAL;
	const char *l = buf;
	bool first = true;
	/* Bounded: each line moves l forward; the head is < ADMIN_HEAD_MAX. */
	while (l <= end) {
		const char *eol = l;
		while (eol < end && !(eol[0] == '\r' && eol[1] == '\n'))
			eol++;
		size_t n = (size_t)(eol - l);
		int rc = first ? request_line(l, n, r) : header_line(l, n, r);
		if (rc < 0)
			return rc;
		first = false;
		l = eol + 2;
	}
	return (int)(end - buf) + 4;
}

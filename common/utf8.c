/* SPDX-License-Identifier: Apache-2.0 */
/* UTF-8 cutting, walking and Unicode classes (see utf8.h). */
#include "common/utf8.h"

#include <stdio.h>
#include <string.h>

#include "common/bug.h"

#include "common/utf8_classes.inc"

static inline bool utf8_is_cont(uint8_t b)
{
	return (b & 0xC0) == 0x80;
}

size_t utf8_cut(const char *s, size_t len, size_t max_bytes)
{
	const uint8_t *u = (const uint8_t *)s;
	size_t n = len < max_bytes ? len : max_bytes;
	size_t p = n;

	/* Back over at most 3 continuation bytes to the lead of the last
	 * sequence that starts before n; keep it only if it ends by n. */
	while (p > 0 && n - p < 3 && utf8_is_cont(u[p - 1]))
		p--;
	if (p == 0 || utf8_is_cont(u[p - 1]))
		return n; /* no lead within reach: invalid input, leave it */
	p--;
	if (p + utf8_seq_bytes(u[p]) > n && u[p] >= 0xC0)
		return p;
	return n;
}

size_t utf8_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
{
	int n;

	BUG_ON(cap == 0);
	n = vsnprintf(buf, cap, fmt, ap);
	if (n < 0) {
		buf[0] = '\0';
		return 0;
	}
	if ((size_t)n < cap)
		return (size_t)n;
	/* Cut: vsnprintf kept cap-1 bytes, maybe ending mid-sequence. */
	size_t k = utf8_cut(buf, cap - 1, cap - 1);
	buf[k] = '\0';
	return k;
}

size_t utf8_snprintf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = utf8_vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

bool utf8_append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	BUG_ON(*len >= cap);
	room = cap - *len;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		buf[*len] = '\0';
		return false;
	}
	if ((size_t)n < room) {
		*len += (size_t)n;
		return true;
	}
	*len += utf8_cut(buf + *len, room - 1, room - 1);
	buf[*len] = '\0';
	return false;
}

uint32_t utf8_next(const char *s, size_t len, size_t *off)
{
	const uint8_t *u = (const uint8_t *)s + *off;
	size_t left = len - *off;
	uint32_t m = utf8_seq_bytes(u[0]), c;

	DBG_BUG_ON(*off >= len);
	if (m == 1) {
		*off += 1;
		return u[0] < 0x80 ? u[0] : 0xFFFD;
	}
	if (m > left)
		goto bad;
	c = u[0] & (0x7Fu >> m);
	for (uint32_t i = 1; i < m; i++) {
		if (!utf8_is_cont(u[i]))
			goto bad;
		c = (c << 6) | (u[i] & 0x3Fu);
	}
	*off += m;
	return c;
bad:
	*off += 1;
	return 0xFFFD;
}

size_t utf8_replace_nul(char *s, size_t n, size_t cap)
{
	static const char fffd[3] = { '\xEF', '\xBF', '\xBD' };
	char *z;

	BUG_ON(n >= cap);
	while ((z = memchr(s, 0, n)) != NULL) {
		size_t at = (size_t)(z - s);
		if (n + 2 >= cap) {
			n = at;
			break;
		}
		memmove(z + 3, z + 1, n - at - 1);
		memcpy(z, fffd, sizeof(fffd));
		n += 2;
	}
	s[n] = '\0';
	return n;
}

size_t utf8_count(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += !utf8_is_cont((uint8_t)s[i]);
	return n;
}

bool utf8_is_letter_number_sep(uint32_t c)
{
	size_t lo = 0, hi = SL_ARRAY_SIZE(utf8_lnz);

	/* Binary search over sorted, disjoint, inclusive ranges. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c < utf8_lnz[mid][0])
			hi = mid;
		else if (c > utf8_lnz[mid][1])
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Decimal codec of unsigned 128-bit integers (see u128.h). */
#include <errno.h>

#include "common/bug.h"
#include "common/u128.h"

size_t sl_u128_fmt(sl_u128 v, char out[SL_U128_DEC_CAP])
{
	char tmp[SL_U128_DEC_MAX];
	size_t n = 0;

	/* Least significant digit first, then reversed: at most 39 rounds,
	 * since 10^39 > 2^128. */
	do {
		BUG_ON(n >= sizeof(tmp));
		tmp[n++] = (char)('0' + (int)(v % 10u));
		v /= 10u;
	} while (v != 0);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
	return n;
}

int sl_u128_parse(const char *s, size_t n, sl_u128 *out)
{
	sl_u128 v = 0;

	if (n == 0 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	/* The pattern first, so a malformed text is -EINVAL whatever its
	 * value would be. */
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		/* v * 10 + d must stay <= 2^128-1: checked before it is made */
		if (v > (SL_U128_MAX - d) / 10u)
			return -ERANGE;
		v = v * 10u + d;
	}
	*out = v;
	return 0;
}

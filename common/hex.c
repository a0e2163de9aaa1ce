/* SPDX-License-Identifier: Apache-2.0 */
#include "hex.h"

#include <errno.h>
#include <stdint.h>

void sl_hex_encode(char *out, const void *in, size_t n)
{
	static const char d[] = "0123456789abcdef";
	const uint8_t *p = in;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int hex_val(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

long sl_hex_decode(char *out, size_t cap, const char *in, size_t n)
{
	if (n % 2 || cap == 0 || n / 2 >= cap)
		return -EINVAL;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hex_val(in[i]), lo = hex_val(in[i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i / 2] = (char)(hi * 16 + lo);
	}
	out[n / 2] = '\0';
	return (long)(n / 2);
}

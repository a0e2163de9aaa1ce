/* SPDX-License-Identifier: Apache-2.0 */
/* Decimal codec of unsigned 128-bit integers (see u128.h). */
#include <errno.h>
#include <string.h>

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

/* ---- 56-digit sequence numbers ----------------------------------------- */

#define SEQ56_NIBBLES 47 /* 188 bits */
/* Base 10^9 limbs: 7 hold 63 digits >= 56. */
#define SEQ56_LIMBS 7
#define SEQ56_LIMB 1000000000u

/* Writes v's low `width` nibbles, most significant first, at nib[at..]. */
static void seq56_put(uint8_t nib[SEQ56_NIBBLES], unsigned at, unsigned width, uint64_t v)
{
	BUG_ON(at + width > SEQ56_NIBBLES || width > 16);
	for (unsigned i = 0; i < width; i++)
		nib[at + width - 1 - i] = (uint8_t)((v >> (4 * i)) & 0xfu);
}

static uint64_t seq56_get(const uint8_t nib[SEQ56_NIBBLES], unsigned at, unsigned width)
{
	uint64_t v = 0;

	BUG_ON(at + width > SEQ56_NIBBLES || width > 16);
	for (unsigned i = 0; i < width; i++)
		v = v << 4 | nib[at + i];
	return v;
}

static void seq56_layout(uint32_t shard, uint64_t counter, uint8_t nib[SEQ56_NIBBLES])
{
	uint64_t t = (uint64_t)SL_SEQ56_EPOCH_S + shard;

	seq56_put(nib, 0, 1, 2);
	seq56_put(nib, 1, 9, t);
	seq56_put(nib, 10, 1, shard & 0xfu);
	seq56_put(nib, 11, 16, counter);
	seq56_put(nib, 27, 2, 0);
	seq56_put(nib, 29, 9, t);
	seq56_put(nib, 38, 8, shard);
	seq56_put(nib, 46, 1, 2);
}

void sl_seq56_fmt(uint32_t shard_index, uint64_t counter, char out[SL_SEQ56_CAP])
{
	uint8_t nib[SEQ56_NIBBLES];
	uint32_t limb[SEQ56_LIMBS] = { 0 }; /* least significant first */

	seq56_layout(shard_index, counter, nib);
	/* limb = limb * 16 + nibble, 47 rounds of 7 limbs. */
	for (unsigned i = 0; i < SEQ56_NIBBLES; i++) {
		uint64_t carry = nib[i];

		for (unsigned k = 0; k < SEQ56_LIMBS; k++) {
			uint64_t x = (uint64_t)limb[k] * 16u + carry;

			limb[k] = (uint32_t)(x % SEQ56_LIMB);
			carry = x / SEQ56_LIMB;
		}
		BUG_ON(carry != 0); /* 16^47 < 10^63 */
	}
	/* The value is in [2 * 16^46, 3 * 16^46): always 56 digits, so the
	 * top limb (digits 55..63) holds exactly 2 digits. */
	char tmp[SEQ56_LIMBS * 9 + 1];
	for (unsigned k = 0; k < SEQ56_LIMBS; k++) {
		uint32_t v = limb[SEQ56_LIMBS - 1 - k];

		for (unsigned d = 0; d < 9; d++) {
			tmp[k * 9 + 8 - d] = (char)('0' + v % 10u);
			v /= 10u;
		}
	}
	BUG_ON(tmp[0] != '0' || tmp[6] != '0' || tmp[7] == '0');
	memcpy(out, tmp + 7, SL_SEQ56_DIGITS);
	out[SL_SEQ56_DIGITS] = '\0';
}

int sl_seq56_parse(const char *s, size_t n, uint32_t *shard_index, uint64_t *counter)
{
	uint8_t nib[SEQ56_NIBBLES] = { 0 }; /* most significant first */

	if (n != SL_SEQ56_DIGITS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
	/* nib = nib * 10 + digit; 10^56 < 16^47, so nothing is carried out. */
	for (size_t i = 0; i < n; i++) {
		unsigned carry = (unsigned)(s[i] - '0');

		for (unsigned k = SEQ56_NIBBLES; k-- > 0;) {
			unsigned x = nib[k] * 10u + carry;

			nib[k] = (uint8_t)(x & 0xfu);
			carry = x >> 4;
		}
		BUG_ON(carry != 0);
	}
	uint32_t shard = (uint32_t)seq56_get(nib, 38, 8);
	uint64_t ctr = seq56_get(nib, 11, 16);
	uint8_t want[SEQ56_NIBBLES];

	/* Every other field is a function of these two: the number is ours
	 * exactly when it reads back the same. */
	seq56_layout(shard, ctr, want);
	if (memcmp(nib, want, sizeof(want)) != 0)
		return -EINVAL;
	*shard_index = shard;
	*counter = ctr;
	return 0;
}

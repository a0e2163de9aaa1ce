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

/* The 188-bit value, with t = SL_SEQ56_EPOCH_S + shard (< 2^36) split as
 * th:tl = t >> 28 : t & 0xfffffff and shard as sh:sl = shard >> 4 : shard &
 * 0xf, is (u128.h's layout, most significant first)
 *   2^185 + t*2^148 + sl*2^144 + counter*2^80 + th*2^64 + tl*2^36
 *   + shard*2^4 + 2
 * = K0 + th*(2^176 + 2^64) + tl*(2^148 + 2^36) + sl*(2^144 + 2^4)
 *   + sh*2^8 + counter*2^80.
 * So the text is a sum of a few small factors times constants already in
 * base 10^9: a handful of multiplies and one carry pass, where dividing the
 * 192-bit number by 10^9 seven times (the first version) took 42 divisions
 * per sequence number, for every record of every PutRecords and GetRecords
 * answer. The constants' limbs, least significant first (printed by
 * Python's divmod; tests/unit/common/u128_test.c checks the result against
 * a plain long division). */
/* The same value as three 64-bit words, most significant first, with 4
 * zero bits on top (48 nibbles), which is how sl_seq56_parse checks a number
 * it read: the layout's nibbles fall on word edges as
 *   w0: 0 | 2 | time (9) | shard & 0xf | counter bits 63..48 (4)
 *   w1: counter bits 47..0 (12) | 00 | time bits 35..28 (2)
 *   w2: time bits 27..0 (7) | shard (8) | 2 */
static void seq56_words(uint32_t shard, uint64_t counter, uint64_t w[3])
{
	uint64_t t = (uint64_t)SL_SEQ56_EPOCH_S + shard; /* < 2^36 */

	w[0] = (2ull << 56) | (t << 20) | ((uint64_t)(shard & 0xfu) << 16) | (counter >> 48);
	w[1] = (counter << 16) | (t >> 28);
	w[2] = ((t & 0xfffffffull) << 36) | ((uint64_t)shard << 4) | 2u;
}

/* "00" "01" ... "99": two digits per step when printing. */
static const char seq56_pairs[201] =
	"0001020304050607080910111213141516171819"
	"2021222324252627282930313233343536373839"
	"4041424344454647484950515253545556575859"
	"6061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* Base 10^9: 7 limbs hold 63 digits >= 56. */
#define SEQ56_LIMBS 7
#define SEQ56_LIMB 1000000000u

static const uint32_t seq56_k0[SEQ56_LIMBS] = { 875269634, 799651909, 809893875, 467104868,
						708443467, 39857307, 49 };
static const uint32_t seq56_kth[SEQ56_LIMBS] = { 846026752, 422915268, 196894342, 647396689,
						 304118053, 95780971, 0 };
static const uint32_t seq56_ktl[SEQ56_LIMBS] = { 815163392, 362373852, 264571492, 176489970,
						 356811923, 0, 0 };
static const uint32_t seq56_ksl[SEQ56_LIMBS] = { 505980432, 272648361, 141535718, 198530623,
						 22300745, 0, 0 };
/* 2^80 (the counter's weight) */
static const uint32_t seq56_kctr[3] = { 174706176, 819614629, 1208925 };

void sl_seq56_fmt(uint32_t shard_index, uint64_t counter, char out[SL_SEQ56_CAP])
{
	uint64_t t = (uint64_t)SL_SEQ56_EPOCH_S + shard_index; /* < 2^36 */
	uint64_t th = t >> 28, tl = t & 0xfffffffu;
	uint64_t sh = shard_index >> 4, sl = shard_index & 0xfu;
	uint64_t c[3] = { counter % SEQ56_LIMB, counter / SEQ56_LIMB % SEQ56_LIMB,
			  counter / SEQ56_LIMB / SEQ56_LIMB }; /* c[2] <= 18 */
	uint64_t acc[SEQ56_LIMBS];
	uint32_t limb[SEQ56_LIMBS];

	/* Each limb sums at most 3 counter products (< 2^60 each) and 4 small
	 * ones (< 2^59 together): below 2^62, no overflow before the carry. */
	for (unsigned k = 0; k < SEQ56_LIMBS; k++)
		acc[k] = seq56_k0[k] + th * seq56_kth[k] + tl * seq56_ktl[k] + sl * seq56_ksl[k];
	acc[0] += sh << 8;
	for (unsigned i = 0; i < 3; i++)
		for (unsigned j = 0; j < 3; j++)
			acc[i + j] += c[i] * seq56_kctr[j];
	for (unsigned k = 0; k + 1 < SEQ56_LIMBS; k++) {
		acc[k + 1] += acc[k] / SEQ56_LIMB;
		limb[k] = (uint32_t)(acc[k] % SEQ56_LIMB); /* least significant first */
	}
	limb[SEQ56_LIMBS - 1] = (uint32_t)acc[SEQ56_LIMBS - 1];
	/* The value is in [2 * 16^46, 3 * 16^46): always 56 digits, so the top
	 * limb holds exactly 2 (digits 56..63 of the 63 are zeros). */
	BUG_ON(acc[SEQ56_LIMBS - 1] < 10u || acc[SEQ56_LIMBS - 1] > 99u);
	memcpy(out, seq56_pairs + 2 * limb[SEQ56_LIMBS - 1], 2);
	for (unsigned k = 1; k < SEQ56_LIMBS; k++) {
		uint32_t v = limb[SEQ56_LIMBS - 1 - k];
		char *p = out + 2 + (k - 1) * 9;

		/* two digits at a time, the odd one last */
		for (int d = 7; d >= 1; d -= 2) {
			memcpy(p + d, seq56_pairs + 2 * (v % 100u), 2);
			v /= 100u;
		}
		p[0] = (char)('0' + v);
	}
	out[SL_SEQ56_DIGITS] = '\0';
}

int sl_seq56_parse(const char *s, size_t n, uint32_t *shard_index, uint64_t *counter)
{
	uint32_t x[6] = { 0 }; /* most significant first */

	if (n != SL_SEQ56_DIGITS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
	/* x = x * 10^9 + chunk, over 2 digits then six chunks of 9; 10^56 <
	 * 2^192, so nothing is carried out of the top word. */
	for (size_t at = 0; at < n;) {
		size_t len = at == 0 ? 2 : 9;
		uint32_t chunk = 0, mul = at == 0 ? 100u : SEQ56_LIMB;
		uint64_t carry;

		for (size_t i = 0; i < len; i++)
			chunk = chunk * 10u + (uint32_t)(s[at + i] - '0');
		at += len;
		carry = chunk;
		for (unsigned i = 6; i-- > 0;) {
			uint64_t cur = (uint64_t)x[i] * mul + carry;

			x[i] = (uint32_t)cur;
			carry = cur >> 32;
		}
		BUG_ON(carry != 0);
	}
	uint64_t got[3], want[3];

	for (unsigned i = 0; i < 3; i++)
		got[i] = (uint64_t)x[2 * i] << 32 | x[2 * i + 1];
	uint32_t shard = (uint32_t)(got[2] >> 4);
	uint64_t ctr = (got[0] & 0xffffu) << 48 | got[1] >> 16;

	/* Every other field is a function of these two: the number is ours
	 * exactly when it reads back the same. */
	seq56_words(shard, ctr, want);
	if (got[0] != want[0] || got[1] != want[1] || got[2] != want[2])
		return -EINVAL;
	*shard_index = shard;
	*counter = ctr;
	return 0;
}

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

/* The 188-bit value as three 64-bit words, most significant first, with 4
 * zero bits on top (48 nibbles): the layout's nibbles fall on word edges as
 *   w0: 0 | 2 | time (9) | shard & 0xf | counter bits 63..48 (4)
 *   w1: counter bits 47..0 (12) | 00 | time bits 35..28 (2)
 *   w2: time bits 27..0 (7) | shard (8) | 2
 * so the text is three word builds and a radix conversion: on the hot path
 * (every sequence number of PutRecords and GetRecords answers) there are no
 * per-nibble loops. */
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

void sl_seq56_fmt(uint32_t shard_index, uint64_t counter, char out[SL_SEQ56_CAP])
{
	uint64_t w[3];
	uint32_t x[6], limb[SEQ56_LIMBS];

	seq56_words(shard_index, counter, w);
	for (unsigned i = 0; i < 3; i++) {
		x[2 * i] = (uint32_t)(w[i] >> 32);
		x[2 * i + 1] = (uint32_t)w[i];
	}
	/* Long division of the 192-bit x by 10^9, 7 times: each step divides a
	 * 64-bit remainder:word pair by a constant (a multiply, no divide).
	 * Words that became zero on top are skipped (x shrinks 30 bits a
	 * round). */
	unsigned top = 0;
	for (unsigned k = 0; k < SEQ56_LIMBS; k++) {
		uint64_t rem = 0;

		for (unsigned i = top; i < 6; i++) {
			uint64_t cur = rem << 32 | x[i];

			x[i] = (uint32_t)(cur / SEQ56_LIMB);
			rem = cur % SEQ56_LIMB;
		}
		while (top < 6 && x[top] == 0)
			top++;
		limb[k] = (uint32_t)rem; /* least significant first */
	}
	BUG_ON(top != 6); /* 2^192 < 10^63: nothing left */
	/* The value is in [2 * 16^46, 3 * 16^46): always 56 digits, so the top
	 * limb holds exactly 2 (digits 56..63 of the 63 are zeros). */
	BUG_ON(limb[SEQ56_LIMBS - 1] < 10u || limb[SEQ56_LIMBS - 1] > 99u);
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

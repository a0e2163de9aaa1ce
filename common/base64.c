/* SPDX-License-Identifier: Apache-2.0 */
/* Base64 (RFC 4648) with a scalar reference, SSSE3 / AVX2 decoders and an
 * SSSE3 encoder.
 *
 * The vector decoders classify each character by its high and low nibbles
 * with two pshufb lookups (a character is invalid when the class bits of
 * both lookups intersect), translate with a third lookup indexed by the high
 * nibble ('/' shares nibble 2 with '+' and is told apart by a compare), and
 * pack 4 x 6 bits into 3 bytes with pmaddubsw / pmaddwd / pshufb. This is
 * the well-known technique of Mula and Lemire, written here from the class
 * tables derived in the comments below. They stop before the last quad
 * (which may hold padding) and at the first invalid block; the scalar
 * decoder then finishes and reports the exact error and offset. */
#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

#include "common/base64.h"

static const char b64_alpha[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0..63 for alphabet characters, 0xff otherwise ('=' included). */
static const uint8_t b64_val[256] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3e, 0xff, 0xff, 0xff, 0x3f,
	0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
	0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
	0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* The scalar encoder from in[i], out[o] on (i a multiple of 3). */
static size_t b64_enc_scalar_from(char *out, const uint8_t *in, size_t n, size_t i, size_t o)
{
	for (; i + 3 <= n; i += 3, o += 4) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o] = b64_alpha[v >> 18];
		out[o + 1] = b64_alpha[(v >> 12) & 63];
		out[o + 2] = b64_alpha[(v >> 6) & 63];
		out[o + 3] = b64_alpha[v & 63];
	}
	if (n - i == 1) {
		out[o++] = b64_alpha[in[i] >> 2];
		out[o++] = b64_alpha[(in[i] & 3) << 4];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];
		out[o++] = b64_alpha[v >> 10];
		out[o++] = b64_alpha[(v >> 4) & 63];
		out[o++] = b64_alpha[(v << 2) & 63];
		out[o++] = '=';
	}
	return o;
}

/* SSSE3 encoder: 12 bytes -> 16 characters per step, while 16 bytes can be
 * loaded (the last 4 of each load are the next step's). Returns the input
 * bytes done (a multiple of 12). Per 3 bytes a, b, c the four 6-bit indices
 * are a>>2, (a&3)<<4|b>>4, (b&15)<<2|c>>6, c&63. pshufb lays each 3 bytes
 * out as b,a,c,b so the 16-bit words are a:b and b:c; the index in bits
 * 15..10 (of a:b) and 11..6 (of b:c) is moved down to bits 0..5 of its word
 * by a high multiply (x 2^6 and x 2^10, keeping the high half), the index in
 * bits 9..4 and 5..0 up to bits 8..13 by a low multiply (x 2^4, x 2^8), so
 * each byte holds one index in output order. Indices become characters by
 * adding an offset chosen by range: 0-25 +65 ('A'), 26-51 +71 ('a'-26),
 * 52-61 -4 ('0'-52), 62 -19 ('+'), 63 -16 ('/'); the range's number (a
 * saturating subtract of 51, and 13 for values below 26) picks the offset
 * with a pshufb. The well-known technique of Mula, written here from the
 * arithmetic above. */
__attribute__((target("ssse3"))) static size_t b64_enc_ssse3(char *out, const uint8_t *in,
							     size_t n)
{
	const __m128i shuf = _mm_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
	const __m128i mask_hi = _mm_set1_epi32(0x0fc0fc00);
	const __m128i mul_hi = _mm_set1_epi32(0x04000040);
	const __m128i mask_lo = _mm_set1_epi32(0x003f03f0);
	const __m128i mul_lo = _mm_set1_epi32(0x01000010);
	const __m128i offsets = _mm_setr_epi8(71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16,
					      65, 0, 0);
	size_t i = 0, o = 0;

	for (; i + 16 <= n; i += 12, o += 16) {
		__m128i v = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in + i)), shuf);
		__m128i hi = _mm_mulhi_epu16(_mm_and_si128(v, mask_hi), mul_hi);
		__m128i lo = _mm_mullo_epi16(_mm_and_si128(v, mask_lo), mul_lo);
		__m128i idx = _mm_or_si128(hi, lo);
		__m128i range = _mm_subs_epu8(idx, _mm_set1_epi8(51));
		__m128i below26 = _mm_cmpgt_epi8(_mm_set1_epi8(26), idx);
		range = _mm_or_si128(range, _mm_and_si128(below26, _mm_set1_epi8(13)));
		__m128i chars = _mm_add_epi8(idx, _mm_shuffle_epi8(offsets, range));
		_mm_storeu_si128((__m128i *)(out + o), chars);
	}
	return i;
}

static int b64_impl; /* 0 auto, 1 scalar, 2 ssse3, 3 avx2 */
static bool b64_use_sse41(void);

size_t b64_encode(char *out, const uint8_t *in, size_t n)
{
	/* GetRecords answers in JSON and CBOR requests' Data (transcoded to
	 * JSON) are encoded here: the vector loop does most of it. */
	size_t i = 0;

	if (b64_impl != 1 && b64_use_sse41())
		i = b64_enc_ssse3(out, in, n);
	return b64_enc_scalar_from(out, in, n, i, i / 3 * 4);
}

/* Index of the first non-alphabet character of quad q (4 characters). */
static size_t b64_bad_in_quad(const char *q)
{
	size_t k = 0;

	while (k < 4 && b64_val[(uint8_t)q[k]] != 0xff)
		k++;
	return k;
}

/* Decodes the last quad, which may carry one or two '='. */
static int64_t b64_last_quad(uint8_t *out, const char *q, size_t off, size_t *err_off)
{
	uint32_t a = b64_val[(uint8_t)q[0]], b = b64_val[(uint8_t)q[1]];
	uint32_t c = b64_val[(uint8_t)q[2]], d = b64_val[(uint8_t)q[3]];
	uint32_t pad = q[3] == '=' ? (q[2] == '=' ? 2 : 1) : 0;

	if ((a | b) & 0x80 || (pad < 2 && (c & 0x80)) || (pad < 1 && (d & 0x80))) {
		if (err_off)
			*err_off = off + b64_bad_in_quad(q);
		return -B64_E_CHAR;
	}
	if ((pad == 2 && (b & 0xf)) || (pad == 1 && (c & 0x3))) {
		if (err_off)
			*err_off = off + 3 - pad;
		return -B64_E_TRAIL;
	}
	out[0] = (uint8_t)(a << 2 | b >> 4);
	if (pad < 2)
		out[1] = (uint8_t)(b << 4 | c >> 2);
	if (pad < 1)
		out[2] = (uint8_t)(c << 6 | d);
	return 3 - pad;
}

/* Decodes in[pos..n) (n % 4 == 0, pos % 4 == 0) to out + pos/4*3. */
static int64_t b64_scalar_from(uint8_t *out, const char *in, size_t n, size_t pos,
			       size_t *err_off)
{
	size_t o = pos / 4 * 3;
	int64_t last;

	if (n == 0)
		return 0;
	for (; pos + 4 < n; pos += 4, o += 3) {
		uint32_t a = b64_val[(uint8_t)in[pos]], b = b64_val[(uint8_t)in[pos + 1]];
		uint32_t c = b64_val[(uint8_t)in[pos + 2]], d = b64_val[(uint8_t)in[pos + 3]];
		if ((a | b | c | d) & 0x80) {
			if (err_off)
				*err_off = pos + b64_bad_in_quad(in + pos);
			return -B64_E_CHAR;
		}
		uint32_t v = a << 18 | b << 12 | c << 6 | d;
		out[o] = (uint8_t)(v >> 16);
		out[o + 1] = (uint8_t)(v >> 8);
		out[o + 2] = (uint8_t)v;
	}
	last = b64_last_quad(out + o, in + pos, pos, err_off);
	return last < 0 ? last : (int64_t)o + last;
}

int64_t b64_decode_scalar(uint8_t *out, const char *in, size_t n, size_t *err_off)
{
	if (n % 4) {
		if (err_off)
			*err_off = n;
		return -B64_E_LEN;
	}
	return b64_scalar_from(out, in, n, 0, err_off);
}

/* Class bits (see the header comment): the high nibble selects a class,
 * the low nibble lists the classes in which it is invalid.
 *   0x01: hi 2 ('+' 0x2b, '/' 0x2f valid)   0x02: hi 3 (digits 0x30-0x39)
 *   0x04: hi 4, 6 (0x41-0x4f, 0x61-0x6f)     0x08: hi 5, 7 (0x50-0x5a, 0x70-0x7a)
 *   0x10: every other high nibble: always invalid. */
#define B64_LUT_LO                                                                    \
	0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1a, 0x1b, \
		0x1b, 0x1b, 0x1a
#define B64_LUT_HI                                                                    \
	0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, \
		0x10, 0x10, 0x10
/* Added to the character, indexed by high nibble ('/' looks up index 1). */
#define B64_LUT_ROLL 0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0
#define B64_PACK_SHUF 2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1

/* SSSE3 (+ SSE4.1 ptest): 16 characters -> 12 bytes per step. Returns
 * characters consumed (a multiple of 16), stopping early at an invalid
 * block. Compiled for the target explicitly: libraries that do not link
 * DPDK do not get its -march flags. */
__attribute__((target("ssse3,sse4.1"))) static size_t b64_dec_ssse3(uint8_t *out,
								    const char *in, size_t n)
{
	const __m128i lut_lo = _mm_setr_epi8(B64_LUT_LO);
	const __m128i lut_hi = _mm_setr_epi8(B64_LUT_HI);
	const __m128i lut_roll = _mm_setr_epi8(B64_LUT_ROLL);
	const __m128i shuf = _mm_setr_epi8(B64_PACK_SHUF);
	const __m128i nib = _mm_set1_epi8(0x0f), slash = _mm_set1_epi8('/');
	size_t pos = 0, o = 0;

	/* Margin: keep the last quad (padding) and room for the 16-byte store. */
	for (; pos + 24 <= n; pos += 16, o += 12) {
		__m128i s = _mm_loadu_si128((const __m128i *)(const void *)(in + pos));
		__m128i hi_n = _mm_and_si128(_mm_srli_epi32(s, 4), nib);
		__m128i lo = _mm_shuffle_epi8(lut_lo, _mm_and_si128(s, nib));
		__m128i hi = _mm_shuffle_epi8(lut_hi, hi_n);
		if (!_mm_testz_si128(lo, hi))
			break;
		__m128i idx = _mm_add_epi8(hi_n, _mm_cmpeq_epi8(s, slash));
		__m128i v = _mm_add_epi8(s, _mm_shuffle_epi8(lut_roll, idx));
		v = _mm_maddubs_epi16(v, _mm_set1_epi32(0x01400140));
		v = _mm_madd_epi16(v, _mm_set1_epi32(0x00011000));
		v = _mm_shuffle_epi8(v, shuf);
		_mm_storeu_si128((__m128i *)(void *)(out + o), v);
	}
	return pos;
}

/* AVX2: 32 characters -> 24 bytes per step; same contract as SSSE3. */
__attribute__((target("avx2"))) static size_t b64_dec_avx2(uint8_t *out, const char *in,
							     size_t n)
{
	const __m256i lut_lo = _mm256_setr_epi8(B64_LUT_LO, B64_LUT_LO);
	const __m256i lut_hi = _mm256_setr_epi8(B64_LUT_HI, B64_LUT_HI);
	const __m256i lut_roll = _mm256_setr_epi8(B64_LUT_ROLL, B64_LUT_ROLL);
	const __m256i shuf = _mm256_setr_epi8(B64_PACK_SHUF, B64_PACK_SHUF);
	const __m256i perm = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);
	const __m256i nib = _mm256_set1_epi8(0x0f), slash = _mm256_set1_epi8('/');
	size_t pos = 0, o = 0;

	for (; pos + 44 <= n; pos += 32, o += 24) {
		__m256i s = _mm256_loadu_si256((const __m256i *)(const void *)(in + pos));
		__m256i hi_n = _mm256_and_si256(_mm256_srli_epi32(s, 4), nib);
		__m256i lo = _mm256_shuffle_epi8(lut_lo, _mm256_and_si256(s, nib));
		__m256i hi = _mm256_shuffle_epi8(lut_hi, hi_n);
		if (!_mm256_testz_si256(lo, hi))
			break;
		__m256i idx = _mm256_add_epi8(hi_n, _mm256_cmpeq_epi8(s, slash));
		__m256i v = _mm256_add_epi8(s, _mm256_shuffle_epi8(lut_roll, idx));
		v = _mm256_maddubs_epi16(v, _mm256_set1_epi32(0x01400140));
		v = _mm256_madd_epi16(v, _mm256_set1_epi32(0x00011000));
		v = _mm256_shuffle_epi8(v, shuf);
		v = _mm256_permutevar8x32_epi32(v, perm);
		_mm256_storeu_si256((__m256i *)(void *)(out + o), v);
	}
	return pos;
}

static int b64_have_avx2 = -1, b64_have_sse41 = -1;

void b64_force_impl(int impl)
{
	b64_impl = impl;
}

static bool b64_use_avx2(void)
{
	if (b64_have_avx2 < 0)
		b64_have_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
	return b64_have_avx2 == 1 && (b64_impl == 0 || b64_impl == 3);
}

static bool b64_use_sse41(void)
{
	if (b64_have_sse41 < 0)
		b64_have_sse41 = __builtin_cpu_supports("sse4.1") ? 1 : 0;
	return b64_have_sse41 == 1;
}

int64_t b64_decode(uint8_t *out, const char *in, size_t n, size_t *err_off)
{
	size_t pos = 0;

	if (n % 4) {
		if (err_off)
			*err_off = n;
		return -B64_E_LEN;
	}
	if (b64_impl == 1)
		return b64_scalar_from(out, in, n, 0, err_off);
	if (b64_use_avx2())
		pos = b64_dec_avx2(out, in, n);
	if (b64_use_sse41())
		pos += b64_dec_ssse3(out + pos / 4 * 3, in + pos, n - pos);
	return b64_scalar_from(out, in, n, pos, err_off);
}

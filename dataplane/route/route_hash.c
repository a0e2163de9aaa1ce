/* SPDX-License-Identifier: Apache-2.0 */
/* Partition-key hashing and 128-bit hash-key helpers.
 *
 * MD5 is implemented here (RFC 1321) rather than through OpenSSL's EVP: the
 * EVP one-shot allocates a context per call, and this runs for every record
 * on the io lcores. Partition keys are at most 1 KiB, so simplicity beats
 * multi-buffer tricks. */
#include <string.h>

#include "dataplane/route/route.h"

static const uint32_t md5_k[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
	0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
	0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
	0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
	0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
	0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
	0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
	0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
	0xeb86d391,
};

static const uint8_t md5_r[64] = {
	7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
	5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
	4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
	6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
};

static inline uint32_t md5_rol(uint32_t x, uint32_t c)
{
	return (x << c) | (x >> (32 - c));
}

/* One round of 16 steps; f is the round's function, g(i) its message
 * word. The four rounds are separate loops, fully unrolled, so each step's
 * constant, shift and message index are compile-time constants (rotates by
 * an immediate, no per-step branch on the round): this runs for every
 * record's partition key (7.7% of sluiced at 100-byte records with the
 * branchy single loop, perf/RESULTS.md). */
#define MD5_ROUND(first, fexpr, gexpr)                                                  \
	_Pragma("GCC unroll 16") for (uint32_t i = (first); i < (first) + 16; i++) {    \
		uint32_t f = (fexpr), t = d;                                            \
		d = c;                                                                  \
		c = b;                                                                  \
		b = b + md5_rol(a + f + md5_k[i] + m[(gexpr) % 16], md5_r[i]);          \
		a = t;                                                                  \
	}

static void md5_block(uint32_t h[4], const uint8_t *p)
{
	uint32_t m[16], a = h[0], b = h[1], c = h[2], d = h[3];

	for (int i = 0; i < 16; i++)
		m[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		       (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
	MD5_ROUND(0, d ^ (b & (c ^ d)), i)
	MD5_ROUND(16, c ^ (d & (b ^ c)), 5 * i + 1)
	MD5_ROUND(32, b ^ c ^ d, 3 * i + 5)
	MD5_ROUND(48, c ^ (b | ~d), 7 * i)
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
}

void route_md5(const void *buf, size_t len, uint8_t digest[16])
{
	uint32_t h[4] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476 };
	const uint8_t *p = buf;
	uint8_t tail[128];
	size_t full = len / 64 * 64, rest = len - full, tlen;
	uint64_t bits = (uint64_t)len * 8;

	for (size_t off = 0; off < full; off += 64)
		md5_block(h, p + off);
	memset(tail, 0, sizeof(tail));
	if (rest)
		memcpy(tail, p + full, rest);
	tail[rest] = 0x80;
	tlen = rest + 1 + 8 <= 64 ? 64 : 128;
	for (int i = 0; i < 8; i++)
		tail[tlen - 8 + i] = (uint8_t)(bits >> (8 * i));
	md5_block(h, tail);
	if (tlen == 128)
		md5_block(h, tail + 64);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			digest[4 * i + j] = (uint8_t)(h[i] >> (8 * j));
}

route_u128 route_hash_pk(const void *pk, size_t len)
{
	uint8_t d[16];
	route_u128 v = 0;

	route_md5(pk, len, d);
	for (int i = 0; i < 16; i++)
		v = v << 8 | d[i];
	return v;
}

int32_t route_find(const struct route_range *t, uint32_t n, route_u128 hash)
{
	uint32_t lo = 0, hi = n;

	/* Find the last range whose start <= hash. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (t[mid].start <= hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || hash > t[lo - 1].end)
		return -1;
	return (int32_t)(lo - 1);
}

void route_split_even(struct route_range *t, uint32_t n)
{
	route_u128 step;

	if (n == 0)
		return;
	/* floor(2^128 / n) without 2^128: (2^128-1)/n, plus one when n divides
	 * 2^128 (n a power of two), since then (2^128-1) % n == n-1. */
	step = ROUTE_U128_MAX / n + (ROUTE_U128_MAX % n == n - 1 ? 1 : 0);
	for (uint32_t i = 0; i < n; i++) {
		t[i].start = step * i;
		t[i].end = i + 1 < n ? step * (i + 1) - 1 : ROUTE_U128_MAX;
	}
}

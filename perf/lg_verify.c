/* SPDX-License-Identifier: Apache-2.0 */
/* Self-checking record data (see lg_verify.h). The keystream is splitmix64
 * of the id and the word index: cheap enough that checking a record costs
 * less than base64-decoding it, so the reader stays faster than the link
 * it measures. */
#include "perf/lg_verify.h"

#include <stdlib.h>
#include <string.h>

#include "common/base64.h"

#define LG_VERIFY_MAGIC 0x7356674cu /* "LgVs" little-endian */
/* Largest record checked (Kinesis's 1 MiB, loadgen's own bound), so the
 * decode buffer is fixed. */
#define LG_VERIFY_MAX_BYTES (1u << 20)

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Keystream word k (bytes 8k..8k+7 after the header, little-endian) of
 * record id. */
static uint64_t ks_word(uint64_t id, uint32_t k)
{
	return mix(id * 0x9e3779b97f4a7c15ull + k + 1);
}

void lg_verify_fill(uint8_t *d, uint32_t len, uint64_t id)
{
	put32(d, LG_VERIFY_MAGIC);
	put32(d + 4, len);
	put32(d + 8, (uint32_t)id);
	put32(d + 12, (uint32_t)(id >> 32));
	for (uint32_t i = 0; LG_VERIFY_MIN_BYTES + i < len; i += 8) {
		uint64_t w = ks_word(id, i / 8);
		uint32_t n = len - LG_VERIFY_MIN_BYTES - i < 8 ? len - LG_VERIFY_MIN_BYTES - i : 8;

		for (uint32_t j = 0; j < n; j++)
			d[LG_VERIFY_MIN_BYTES + i + j] = (uint8_t)(w >> (8 * j));
	}
}

bool lg_verify_check(const uint8_t *d, uint32_t len)
{
	if (len < LG_VERIFY_MIN_BYTES || get32(d) != LG_VERIFY_MAGIC || get32(d + 4) != len)
		return false;
	uint64_t id = get32(d + 8) | (uint64_t)get32(d + 12) << 32;

	/* A word at a time: the reader must stay faster than the link it
	 * measures (100+ MB/s on one core). */
	for (uint32_t i = 0; LG_VERIFY_MIN_BYTES + i < len; i += 8) {
		uint64_t w = ks_word(id, i / 8);
		uint32_t n = len - LG_VERIFY_MIN_BYTES - i < 8 ? len - LG_VERIFY_MIN_BYTES - i : 8;

		for (uint32_t j = 0; j < n; j++)
			if (d[LG_VERIFY_MIN_BYTES + i + j] != (uint8_t)(w >> (8 * j)))
				return false;
	}
	return true;
}

bool lg_verify_b64(const char *b64, uint32_t n)
{
	/* One buffer for the process: loadgen is one thread. */
	static uint8_t *buf;
	size_t err = 0;

	if (n > b64_enc_len(LG_VERIFY_MAX_BYTES))
		return false;
	if (!buf && !(buf = malloc(b64_dec_len_max(b64_enc_len(LG_VERIFY_MAX_BYTES)))))
		return false;
	int64_t m = b64_decode(buf, b64, n, &err);
	return m >= 0 && lg_verify_check(buf, (uint32_t)m);
}

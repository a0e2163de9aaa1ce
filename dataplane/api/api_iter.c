/* SPDX-License-Identifier: Apache-2.0 */
/* Shard iterator tokens.
 *
 * Wire form (before base64), big-endian:
 *   0 version | 1 flags (bit 0: after) | 2 shard index u32 | 6 stream epoch
 *   u64 | 14 issued ms u64 | 22 sequence u128 | 38 name length | 39 name |
 *   then HMAC-SHA256(key, everything before) truncated to 16 bytes.
 * At most 39 + 128 + 16 = 183 bytes -> 244 base64 characters, well under
 * Kinesis's 512. The token is authenticated, not encrypted: what it holds
 * (stream name, shard, position) is what the client asked for anyway.
 *
 * Messages: "Invalid ShardIterator." and the ExpiredIteratorException text
 * are kinesalite's (actions/getRecords.js), which match Kinesis's as seen
 * in client logs ("Iterator expired. The iterator was created at time Thu
 * Dec 10 01:59:39 UTC 2015 while right now it is ..."). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/base64.h"
#include "dataplane/api/records.h"

#define ITER_HDR_BYTES 39
#define ITER_MAC_BYTES 16
#define ITER_MAX_BYTES (ITER_HDR_BYTES + 128 + ITER_MAC_BYTES)
/* Tolerated clock difference for an issue time in the future (lcores share
 * one clock, so this only covers coarse clock reads). */
#define ITER_SKEW_MS 1000

static void iter_put_be(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t iter_get_be(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

static int iter_mac(const uint8_t key[REC_ITER_KEY_BYTES], const uint8_t *msg, size_t n,
		    uint8_t out[ITER_MAC_BYTES])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (!HMAC(EVP_sha256(), key, REC_ITER_KEY_BYTES, msg, n, md, &md_len) ||
	    md_len < ITER_MAC_BYTES)
		return -EIO;
	memcpy(out, md, ITER_MAC_BYTES);
	return 0;
}

int rec_iter_encode(const struct rec_iter *it, const uint8_t key[REC_ITER_KEY_BYTES], char *out,
		    size_t cap)
{
	uint8_t b[ITER_MAX_BYTES];
	size_t n;

	if (it->name_len == 0 || it->name_len > 128)
		return -EINVAL;
	n = ITER_HDR_BYTES + it->name_len;
	if (cap < b64_enc_len(n + ITER_MAC_BYTES) + 1)
		return -ENOSPC;
	b[0] = REC_ITER_VERSION;
	b[1] = it->after ? 1 : 0;
	iter_put_be(b + 2, it->shard_index, 4);
	iter_put_be(b + 6, it->stream_epoch, 8);
	iter_put_be(b + 14, (uint64_t)it->issued_ms, 8);
	iter_put_be(b + 22, (uint64_t)(it->seq >> 64), 8);
	iter_put_be(b + 30, (uint64_t)it->seq, 8);
	b[38] = it->name_len;
	memcpy(b + ITER_HDR_BYTES, it->stream, it->name_len);
	if (iter_mac(key, b, n, b + n))
		return -EIO;
	n = b64_encode(out, b, n + ITER_MAC_BYTES);
	out[n] = '\0';
	return (int)n;
}

int rec_iter_decode(const char *s, size_t n, const uint8_t key[REC_ITER_KEY_BYTES],
		    int64_t now_ms, struct rec_iter *it)
{
	uint8_t b[REC_ITER_MAX_CHARS / 4 * 3], mac[ITER_MAC_BYTES];
	int64_t len;
	size_t body;

	if (n == 0 || n > REC_ITER_MAX_CHARS)
		return -EBADMSG;
	len = b64_decode(b, s, n, NULL);
	if (len < ITER_HDR_BYTES + 1 + ITER_MAC_BYTES || b[0] != REC_ITER_VERSION)
		return -EBADMSG;
	body = ITER_HDR_BYTES + (size_t)b[38];
	if (b[38] == 0 || b[38] > 128 || (size_t)len != body + ITER_MAC_BYTES)
		return -EBADMSG;
	if (iter_mac(key, b, body, mac) || CRYPTO_memcmp(mac, b + body, ITER_MAC_BYTES) != 0)
		return -EBADMSG;
	it->after = b[1] & 1;
	it->shard_index = (uint32_t)iter_get_be(b + 2, 4);
	it->stream_epoch = iter_get_be(b + 6, 8);
	it->issued_ms = (int64_t)iter_get_be(b + 14, 8);
	it->seq = (route_u128)iter_get_be(b + 22, 8) << 64 | iter_get_be(b + 30, 8);
	it->name_len = b[38];
	memcpy(it->stream, b + ITER_HDR_BYTES, it->name_len);
	it->stream[it->name_len] = '\0';
	if (it->issued_ms < 0 || it->issued_ms > now_ms + ITER_SKEW_MS)
		return -EBADMSG;
	if (now_ms - it->issued_ms > REC_ITER_TTL_MS)
		return -ETIME;
	return 0;
}

/* Java's Date.toString() in UTC: "Thu Dec 10 01:59:39 UTC 2015". */
static void iter_amz_time(int64_t ms, char *out, size_t cap)
{
	static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mo[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!gmtime_r(&t, &tm)) {
		snprintf(out, cap, "%lld", (long long)ms);
		return;
	}
	snprintf(out, cap, "%s %s %02d %02d:%02d:%02d UTC %d", wd[tm.tm_wday % 7],
		 mo[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 tm.tm_year + 1900);
}

void rec_iter_err(int rc, const struct rec_iter *it, int64_t now_ms, struct api_err *e)
{
	char then[48], now[48];

	if (rc != -ETIME) {
		api_err_set(e, 400, "InvalidArgumentException", "%s", "Invalid ShardIterator.");
		return;
	}
	iter_amz_time(it->issued_ms, then, sizeof(then));
	iter_amz_time(now_ms, now, sizeof(now));
	api_err_set(e, 400, "ExpiredIteratorException",
		    "Iterator expired. The iterator was created at time %s while right now it "
		    "is %s which is further in the future than the tolerated delay of %d "
		    "milliseconds.", then, now, REC_ITER_TTL_MS);
}

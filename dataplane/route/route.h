/* SPDX-License-Identifier: Apache-2.0 */
/* Routing: partition key -> 128-bit hash key -> shard.
 *
 * Kinesis maps a record to a shard by MD5(partition key bytes, UTF-8) read as
 * an unsigned 128-bit big-endian integer, or by the record's ExplicitHashKey
 * (a decimal string), and picks the open shard whose HashKeyRange
 * [start, end] holds it. The open shards of a stream partition [0, 2^128-1].
 *
 * Called by the io lcores for every PutRecord(s) record (route_hash_pk,
 * route_find) and by the control plane (route_split_even, decimal helpers).
 * Pure functions: nothing allocates, nothing blocks. */
#ifndef SL_DATAPLANE_ROUTE_H
#define SL_DATAPLANE_ROUTE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "common/u128.h"

typedef sl_u128 route_u128;

#define ROUTE_U128_MAX SL_U128_MAX
/* 2^128-1 has 39 decimal digits; + NUL. */
#define ROUTE_U128_DEC_CAP SL_U128_DEC_CAP

/* MD5 of pk[0..len) as a big-endian unsigned 128-bit integer. Cannot fail. */
route_u128 route_hash_pk(const void *pk, size_t len);

/* MD5 digest of buf[0..len) (RFC 1321), for tests and for callers needing
 * the raw bytes. Cannot fail. */
void route_md5(const void *buf, size_t len, uint8_t digest[16]);

/* Parses a decimal hash key s[0..n) (not NUL-terminated) into *out.
 * Accepts exactly Kinesis's pattern 0|([1-9]\d{0,38}): no sign, no spaces,
 * no leading zeros. Returns 0, -EINVAL when s does not match the pattern,
 * -ERANGE when the value is >= 2^128 (Kinesis then answers
 * InvalidArgumentException "Invalid ExplicitHashKey. ..."). */
static inline int route_u128_parse(const char *s, size_t n, route_u128 *out)
{
	/* Kinesis's pattern allows 39 digits at most: a longer text is
	 * malformed (-EINVAL), not merely too large as sl_u128_parse says. */
	if (n > SL_U128_DEC_MAX)
		return -EINVAL;
	return sl_u128_parse(s, n, out);
}

/* Writes v in decimal, NUL-terminated, into out; returns the digits
 * written (1..39). Cannot fail. */
static inline size_t route_u128_fmt(route_u128 v, char out[ROUTE_U128_DEC_CAP])
{
	return sl_u128_fmt(v, out);
}

/* One open shard's hash key range, inclusive at both ends. */
struct route_range {
	route_u128 start;
	route_u128 end;
};

/* Index of the range in t[0..n) (sorted by start, non-overlapping) that
 * holds hash, by binary search; -1 when none does (n == 0, or a gap, which
 * a consistent table of open shards never has). */
int32_t route_find(const struct route_range *t, uint32_t n, route_u128 hash);

/* Fills t[0..n) as CreateStream splits the hash space into n shards: shard i
 * starts at floor(2^128 / n) * i and ends one below the next start; the last
 * ends at 2^128-1. n must be >= 1 (n == 0 does nothing). */
void route_split_even(struct route_range *t, uint32_t n);

#endif

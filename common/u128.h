/* SPDX-License-Identifier: Apache-2.0 */
/* Unsigned 128-bit integers in decimal: the one codec behind Kinesis's
 * HashKeys (route, control plane) and SequenceNumbers (storage). Both are
 * decimal strings on the wire and in the metadata store, so formatting and
 * parsing live here once; callers add their own pattern rules on top (see
 * route.h, st.h). Pure functions: no allocation, bounded loops (at most
 * SL_U128_DEC_MAX digits are converted). */
#ifndef SL_COMMON_U128_H
#define SL_COMMON_U128_H

#include <stddef.h>
#include <stdint.h>

typedef unsigned __int128 sl_u128;

#define SL_U128_MAX (~(sl_u128)0)
/* 2^128-1 = 340282366920938463463374607431768211455 has 39 digits. */
#define SL_U128_DEC_MAX 39
/* Buffer for sl_u128_fmt: the digits + NUL. */
#define SL_U128_DEC_CAP (SL_U128_DEC_MAX + 1)

/* Writes v in decimal, NUL-terminated, into out; returns the digits written
 * (1..39). Cannot fail. */
size_t sl_u128_fmt(sl_u128 v, char out[SL_U128_DEC_CAP]);

/* Parses s[0..n) (not NUL-terminated: n bounds the text) as an unsigned
 * decimal integer into *out; *out is untouched on error.
 * Returns 0; -EINVAL when the text is empty or has a byte other than '0'..'9'
 * (so no sign, no spaces) or a leading zero on more than one digit;
 * -ERANGE when the value is >= 2^128 (any length of digits: the check is
 * made before each multiply, so nothing wraps). */
int sl_u128_parse(const char *s, size_t n, sl_u128 *out);

/* ---- Kinesis's 56-digit SequenceNumber text -------------------------------
 * AWS's sequence numbers are 56 decimal digits: a 188-bit number whose 47 hex
 * nibbles are, most significant first,
 *   [0]      2                     (makes every value 56 digits long)
 *   [1..9]   36-bit "shard time"   (AWS: the shard's creation, epoch seconds)
 *   [10]     shard index & 0xf
 *   [11..26] 64-bit per-shard counter
 *   [27..28] 00
 *   [29..37] 36-bit "record time"  (AWS: the record's arrival, epoch seconds)
 *   [38..45] 32-bit shard index
 *   [46]     2                     (the layout's version)
 * (AWS's published number 49590338271490256608559692538361571095921575989136588898
 * decodes to shard 6, counter 0x67648a17, times 2018-11-21 and 2018-12-17.)
 * We keep the layout but make the text a pure function of (shard index,
 * counter): both time fields hold SL_SEQ56_EPOCH_S + shard index. So the text
 * of a number never changes (old journals get it on read, restarts do not
 * move it), numbers of one shard order by counter, and a shard with a higher
 * index - every child of a split or merge - orders above all numbers of lower
 * ones, whatever their counters. */
#define SL_SEQ56_DIGITS 56
/* Buffer for sl_seq56_fmt: the digits + NUL. */
#define SL_SEQ56_CAP (SL_SEQ56_DIGITS + 1)
/* 2020-01-01T00:00:00Z: the "shard time" of shard 0. Plus a 32-bit index it
 * stays below 2^36 (the field's width). */
#define SL_SEQ56_EPOCH_S 1577836800u

/* Writes the 56 digits of (shard_index, counter), NUL-terminated, into out.
 * Cannot fail. */
void sl_seq56_fmt(uint32_t shard_index, uint64_t counter, char out[SL_SEQ56_CAP]);

/* Parses s[0..n) as a number sl_seq56_fmt wrote: exactly 56 digits whose
 * fields are consistent (version nibbles 2, byte 00, both time fields equal
 * to SL_SEQ56_EPOCH_S + the shard index, the low nibble repeated).
 * Returns 0 with *shard_index and *counter set; -EINVAL otherwise (outputs
 * untouched). */
int sl_seq56_parse(const char *s, size_t n, uint32_t *shard_index, uint64_t *counter);

#endif

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

#endif

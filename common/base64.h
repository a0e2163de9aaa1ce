/* SPDX-License-Identifier: Apache-2.0 */
/* Base64, RFC 4648 standard alphabet with '=' padding, as the AWS JSON
 * protocol carries blob members (Data in PutRecord(s) / GetRecords) and as
 * shard iterators look.
 *
 * Decoding is strict in the way Coral (Kinesis's front end) is: the length
 * must be a multiple of 4, '=' may only be the last one or two characters,
 * and the bits below the last non-pad character must be zero. Anything else
 * is an error; the caller turns it into Kinesis's SerializationException
 * (dataplane/api's type pass already words those messages).
 *
 * The decoder is on the PutRecords hot path (up to ~13 MB of base64 per
 * request): b64_decode uses AVX2 when the CPU has it, else SSSE3/SSE4.1
 * (chosen with __builtin_cpu_supports), 32 or 16 characters per step, and
 * falls back to the scalar reference for the tail and to locate errors.
 * b64_encode (GetRecords answers, CBOR requests' blobs) uses SSSE3, 12 bytes
 * per step, with the scalar encoder for the tail.
 * Nothing allocates. */
#ifndef SL_COMMON_BASE64_H
#define SL_COMMON_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Errors returned (negated) by the decoders. */
#define B64_E_LEN 1   /* length not a multiple of 4 */
#define B64_E_CHAR 2  /* a byte outside the alphabet, or '=' not at the end */
#define B64_E_TRAIL 3 /* non-zero bits after the last non-pad character */

/* Characters b64_encode writes for n bytes (no NUL). */
static inline size_t b64_enc_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

/* Upper bound of the bytes b64_decode writes for n characters. */
static inline size_t b64_dec_len_max(size_t n)
{
	return n / 4 * 3;
}

/* Exact decoded length of a valid encoding of n characters ending in s. */
static inline size_t b64_dec_len(const char *s, size_t n)
{
	size_t pad = 0;

	if (n >= 4 && n % 4 == 0)
		pad = (size_t)(s[n - 1] == '=') + (size_t)(s[n - 1] == '=' && s[n - 2] == '=');
	return n / 4 * 3 - pad;
}

/* Encodes in[0..n) into out[0..b64_enc_len(n)); returns the characters
 * written. out must not overlap in. No NUL is written. Cannot fail. */
size_t b64_encode(char *out, const uint8_t *in, size_t n);

/* Decodes in[0..n) into out, which must hold b64_dec_len_max(n) bytes.
 * out == (uint8_t *)in is allowed (in-place: the output never overtakes the
 * input); other overlaps are not. Returns the decoded length, or
 * -B64_E_LEN / -B64_E_CHAR / -B64_E_TRAIL; then *err_off (may be NULL) gets
 * the offset of the offending character (n for B64_E_LEN) and out holds
 * unspecified bytes. */
int64_t b64_decode(uint8_t *out, const char *in, size_t n, size_t *err_off);

/* The scalar reference decoder: same contract as b64_decode. */
int64_t b64_decode_scalar(uint8_t *out, const char *in, size_t n, size_t *err_off);

/* Selects the decoder: 0 = auto (AVX2 if present), 1 = scalar, 2 = SSSE3,
 * 3 = AVX2 (ignored, falls back to auto, when the CPU lacks it). For tests
 * and benchmarks. Not thread-safe: call before lcores start. */
void b64_force_impl(int impl);

#endif

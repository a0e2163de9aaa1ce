/* SPDX-License-Identifier: Apache-2.0 */
/* UTF-8 helpers: cutting text at a code-point boundary, walking code points,
 * and the Unicode classes (letters, numbers, separators) that Kinesis's tag
 * rules name.
 *
 * Why a cut helper: error messages quote client values and must stay within
 * fixed buffers, so long values are cut. A cut inside a multi-byte sequence
 * leaves invalid UTF-8, which is invalid JSON text (RFC 8259 section 8.1)
 * and which strict clients reject as a whole. Every place that shortens
 * client text (a printf precision, a truncating snprintf, a prefix copy)
 * goes through utf8_cut() or utf8_snprintf().
 *
 * Input is expected to be valid UTF-8 (the JSON reader only lets valid text
 * through); on invalid input every function stays within its bounds and
 * never makes the text less valid than it was. Nothing allocates. */
#ifndef SL_COMMON_UTF8_H
#define SL_COMMON_UTF8_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of the sequence led by byte b: 1 for ASCII, 2..4 for a lead byte;
 * 1 for a continuation or invalid byte (so a walk always advances). */
static inline uint32_t utf8_seq_bytes(uint8_t b)
{
	return b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : b < 0xF8 ? 4 : 1;
}

/* Length of the longest prefix of s[0..len) that is at most max_bytes long
 * and does not end inside a multi-byte sequence. With max_bytes >= len it
 * only drops an incomplete sequence at the very end (what a truncating
 * snprintf leaves). Never more than 3 bytes shorter than min(len, max). */
size_t utf8_cut(const char *s, size_t len, size_t max_bytes);

/* vsnprintf/snprintf into buf[0..cap) (cap >= 1) that, when the output does
 * not fit, cuts it at a code-point boundary instead of mid-sequence. Always
 * NUL-terminated. Returns the bytes written (< cap), not the bytes wanted. */
size_t utf8_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
size_t utf8_snprintf(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Appends to the text buf[0..*len) (cap > *len) as utf8_snprintf does and
 * advances *len. Returns false when the addition was cut (or *len already at
 * the end): a caller building a list stops there, so a cut list ends where
 * it was cut rather than going on with later, shorter items. */
bool utf8_append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Decodes the code point at s[*off] (off < len) and advances *off past it.
 * A truncated or invalid sequence yields U+FFFD and advances one byte. */
uint32_t utf8_next(const char *s, size_t len, size_t *off);

/* Replaces each NUL byte in s[0..n) (what a JSON \u0000 decodes to) with
 * U+FFFD, so the text can travel as a C string without being silently
 * shortened; the replacement is 2 bytes longer, and text that no longer fits
 * in cap is cut before the NUL. NUL-terminates; returns the new length. */
size_t utf8_replace_nul(char *s, size_t n, size_t cap);

/* Code points in s[0..len) (bytes that are not continuation bytes). */
size_t utf8_count(const char *s, size_t len);

/* Unicode general category classes of code point c (Unicode 14, generated
 * from Python's unicodedata by common/gen_utf8_classes.py): L* (letters),
 * N* (numbers) and Z* (separators: space, line and paragraph separators).
 * What Java's \p{L}, \p{N} and \p{Z} match. */
bool utf8_is_letter_number_sep(uint32_t c);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Strict, bounded, zero-copy JSON (RFC 8259) reader and a bounded writer.
 *
 * Reader: json_parse() tokenises a whole document into a caller-provided flat
 * array of tokens, in document order. Tokens point into the input buffer (no
 * copies); string tokens exclude the quotes and keep escapes as written
 * (JSON_TOK_ESCAPED says whether json_str_unescape() is needed).
 * Objects: a JSON_OBJECT token with `count` members is followed by 2*count
 * key/value subtrees (key is a JSON_STRING token). Arrays: `count` element
 * subtrees. `next` skips a token's whole subtree, so lookups are O(members).
 *
 * Strictness: no trailing commas, no comments, no leading zeros, no lone
 * surrogates, no control characters in strings, valid UTF-8 only, one value per
 * document (whitespace around it allowed), duplicate keys allowed (last wins is
 * the caller's choice: json_obj_get returns the last match, as Jackson does).
 *
 * Writer: jw_* append into a caller buffer with a fixed capacity; on overflow
 * the writer latches an error (jw->overflow) and further calls do nothing. */
#ifndef SL_COMMON_JSON_H
#define SL_COMMON_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bug.h"

#include "common/slice.h"

enum json_type {
	JSON_NONE = 0,
	JSON_NULL = 1,
	JSON_FALSE = 2,
	JSON_TRUE = 3,
	JSON_NUMBER = 4, /* text as written, validated against the RFC grammar */
	JSON_STRING = 5, /* bytes between the quotes, escapes not decoded */
	JSON_ARRAY = 6,
	JSON_OBJECT = 7,
};

#define JSON_TOK_ESCAPED 0x1u /* string contains at least one backslash */

struct json_tok {
	uint8_t type;	/* enum json_type */
	uint8_t flags;	/* JSON_TOK_* */
	uint16_t depth; /* 0 for the root */
	uint32_t start; /* byte offset into the document */
	uint32_t len;	/* bytes (strings: between the quotes; containers: 0) */
	uint32_t count; /* members (object) or elements (array); else 0 */
	uint32_t next;	/* index of the token after this subtree */
};

struct json_doc {
	const char *buf;
	size_t len;
	struct json_tok *toks;
	uint32_t ntoks;
};

/* Errors returned (negated) by json_parse. */
#define JSON_E_SYNTAX 1	 /* malformed document */
#define JSON_E_DEPTH 2	 /* nesting deeper than max_depth */
#define JSON_E_TOKENS 3	 /* more tokens than the array holds */
#define JSON_E_TOOBIG 4	 /* document longer than 2^32-1 bytes */

/* Parses buf[0..len) into toks[0..max_toks). Returns the number of tokens
 * (>= 1) or -JSON_E_*. On success doc is filled. err_off (may be NULL) gets the
 * byte offset of a syntax error. */
int SL_MUST_CHECK json_parse(struct json_doc *doc, const char *buf, size_t len,
	       struct json_tok *toks, uint32_t max_toks, uint32_t max_depth,
	       size_t *err_off);

/* Index of the value of member `key` in object token `obj`, or -1 when absent
 * (last one wins on duplicates). Keys are compared after unescaping. */
int32_t json_obj_get(const struct json_doc *doc, uint32_t obj, const char *key);
/* json_obj_get for n keys in one pass over the object's members (same
 * rule: the last match of each wins; -1 for a key not there, or when obj is
 * not an object): PutRecords looks up 3 members of each of 500 entries. */
void json_obj_get_n(const struct json_doc *doc, uint32_t obj, const char *const *keys,
		    uint32_t n, int32_t *out);

/* Iteration over an object's members: key index of the first member is obj+1;
 * value is key+1; next key is toks[value].next. Over an array: first element
 * is arr+1; next is toks[i].next. count says how many. */

static inline struct sl_slice json_tok_slice(const struct json_doc *doc, uint32_t i)
{
	return (struct sl_slice){ doc->buf + doc->toks[i].start, doc->toks[i].len };
}

/* Decodes string token i into out[0..cap); returns decoded length or -1 if it
 * does not fit. Output is UTF-8 (\uXXXX and surrogate pairs converted). Not
 * NUL-terminated unless room remains (then it is). */
int64_t SL_MUST_CHECK json_str_unescape(const struct json_doc *doc, uint32_t i, char *out, size_t cap);

/* Like json_str_unescape, for text that is shown rather than used (error
 * messages): when the string does not fit in out[0..cap) (cap >= 1), decodes
 * the longest prefix that does, cut at a code-point boundary, never inside a
 * UTF-8 sequence. Always NUL-terminated. Returns the bytes written (< cap);
 * *whole (may be NULL) says whether that is the whole string. */
size_t json_str_unescape_prefix(const struct json_doc *doc, uint32_t i, char *out, size_t cap,
				bool *whole);

/* Number token i as an integer. Returns 0 on success, -ERANGE if it does not
 * fit in int64, -EINVAL if it has a fraction or exponent that is not integral
 * (1.0 and 1e2 are integral and accepted, as Jackson does for int fields). */
int SL_MUST_CHECK json_num_i64(const struct json_doc *doc, uint32_t i, int64_t *out);

/* Length in Unicode code points of string token i after unescaping (what
 * Kinesis length constraints count). */
uint32_t json_str_codepoints(const struct json_doc *doc, uint32_t i);

/* --- writer --- */
struct jw {
	char *buf;
	size_t cap;
	size_t len;
	bool overflow;
	bool need_comma; /* internal: a value was written at this level */
};

void jw_init(struct jw *w, char *buf, size_t cap);
void jw_obj_begin(struct jw *w);
void jw_obj_end(struct jw *w);
void jw_arr_begin(struct jw *w);
void jw_arr_end(struct jw *w);
void jw_key(struct jw *w, const char *key);
/* Escapes as JSON requires (", \, control chars; non-ASCII passed through). */
void jw_str(struct jw *w, const char *s);
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_i64(struct jw *w, int64_t v);
void jw_u64(struct jw *w, uint64_t v);
/* Epoch seconds with millisecond precision, e.g. 1700000000.123 (the form
 * Kinesis uses for timestamps in JSON). */
void jw_epoch_ms(struct jw *w, int64_t epoch_ms);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);
/* A string value holding data[0..n) in base64 (how blobs travel in JSON),
 * encoded straight into the output. */
void jw_b64(struct jw *w, const void *data, size_t n);
/* Raw bytes appended as-is (caller guarantees they are valid JSON). */
void jw_raw(struct jw *w, const char *s, size_t n);
/* As jw_raw, but returns where the n bytes go, for the caller to write
 * them in place (no staging buffer, no copy); NULL on overflow (then
 * w->overflow is set and nothing is written). */
char *jw_raw_reserve(struct jw *w, size_t n);

/* Writes {"__type":type,"message":msg}: the Kinesis error body ("Message"
 * for SerializationException, as Coral spells it; no member when msg is ""). */
void jw_error(struct jw *w, const char *type, const char *msg);

#endif

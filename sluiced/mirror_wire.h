/* SPDX-License-Identifier: Apache-2.0 */
/* The mirror's parsers of what an upstream (or the local listener) answers:
 * pure functions over bytes, so tests/fuzz/fuzz_mirror.c reaches them. */
#ifndef SL_SLUICED_MIRROR_WIRE_H
#define SL_SLUICED_MIRROR_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/json.h"

/* Largest response body accepted (GetRecords answers reach 10 MiB + base64). */
#define MIRROR_RESP_MAX (16u << 20)

/* An HTTP/1.1 response head in buf[0..len). Returns the head's length (the
 * body starts there) and fills status and content_length; 0 when the head
 * is not complete yet; -EPROTO for a malformed head, a status outside
 * 100..599, no Content-Length (Kinesis never answers chunked), or a length
 * over MIRROR_RESP_MAX. */
int mirror_parse_head(const char *buf, size_t len, int *status, size_t *content_length);

/* A PutRecords answer body[0..len) for a request of n entries, whose
 * caller-side indices are idx[0..n): the indices of the entries that failed
 * (an ErrorCode member) are moved to the front of idx, in their order.
 * Returns how many failed, or -EPROTO when the body is not a PutRecords
 * answer with exactly n Records. toks[0..ntoks) is scratch. */
int mirror_put_result(const char *body, size_t len, struct json_tok *toks, uint32_t ntoks,
		      uint32_t *idx, uint32_t n);

/* Record object rec of a parsed GetRecords answer: true when it has no
 * ExplicitHashKey, or one that is a JSON string of 1..39 decimal digits
 * (the form rec_encode_record writes), which the mirror then copies into
 * its PutRecords as it stands. */
bool mirror_ehk_ok(const struct json_doc *d, uint32_t rec);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* application/x-amz-cbor-1.1 (what the AWS SDK for Java, and so KCL, Flink
 * and Spark, send by default) transcoded at the boundary to and from the
 * awsJson-1.1 text the operations already speak:
 *
 *   request  CBOR -> JSON: byte strings become base64 strings (how JSON
 *            carries blobs), tag 1 becomes epoch seconds with millisecond
 *            precision (the JSON form of a timestamp);
 *   answer   JSON -> CBOR: the members that are blobs or timestamps in the
 *            Kinesis model (cbor_member_kind, one table derived from
 *            botocore's service-2.json) become byte strings and tag 1.
 *
 * Timestamps: AWS's CBOR protocol puts integer epoch MILLISECONDS under tag 1
 * (RFC 8949 says seconds; the Java SDK writes Instant.toEpochMilli() and reads
 * the same). A tag-1 value may be an integer or a float (milliseconds, the
 * fraction dropped); an untagged number in a timestamp member is read as
 * milliseconds too. A member is recognised by a definite-length key (what
 * every SDK writes); under a key sent in chunks, only tag 1 marks a time.
 *
 * Strict decoder (RFC 8949 well-formedness plus what JSON can carry): any
 * malformed head (reserved additional information 28-30, a length past the
 * input, a break outside an indefinite item, an indefinite string whose
 * chunks are not definite strings of its own type), text that is not valid
 * UTF-8 (each chunk on its own), map keys that are not text, tags other than
 * 1, simple values other than false/true/null, NaN and infinities, nesting
 * deeper than CBOR_MAX_DEPTH, and bytes after the one top-level item are
 * refused with -EINVAL. Definite and indefinite lengths are both accepted.
 *
 * Answers are written with indefinite-length maps and arrays (one pass, no
 * counting; what Jackson's CBOR generator, Kinesis's own, writes) and
 * definite strings.
 *
 * Both directions: out == NULL measures (returns the bytes the output needs,
 * cap ignored), so the caller allocates exactly; with out, writes at most
 * cap bytes. Measuring a JSON answer checks its blobs' length but not their
 * characters (decoding them twice would cost GetRecords a second pass):
 * writing may then still say -EINVAL. Nothing allocates; recursion is bounded by CBOR_MAX_DEPTH. */
#ifndef SL_DATAPLANE_API_CBOR_H
#define SL_DATAPLANE_API_CBOR_H

#include <stddef.h>
#include <stdint.h>

#include "common/bug.h"

/* Nesting bound of both directions: Kinesis's deepest shape is 4 levels
 * (GetRecords -> Records -> Record -> ChildShards...), and the JSON decoders
 * take 32. */
#define CBOR_MAX_DEPTH 32u

#define CBOR_CONTENT_TYPE "application/x-amz-cbor-1.1"

enum cbor_kind {
	CBOR_KIND_PLAIN = 0,
	CBOR_KIND_BLOB = 1, /* base64 string in JSON, byte string in CBOR */
	CBOR_KIND_TIME = 2, /* epoch seconds in JSON, tag 1 + ms in CBOR */
};

/* The model's type of a structure member by its name. In the Kinesis model
 * every member of a given name has one type (Data is always a blob; the four
 * *Timestamp names and Timestamp always timestamps), so the name decides. */
enum cbor_kind cbor_member_kind(const char *name, size_t len);

/* CBOR request in[0..in_len) -> JSON text in out[0..cap). Returns the JSON
 * length, -EINVAL (malformed or not representable, see above) or -E2BIG
 * (does not fit cap, or longer than 2^32-1 bytes). */
int64_t SL_MUST_CHECK cbor_to_json(const uint8_t *in, size_t in_len, char *out, size_t cap);

/* JSON answer in[0..in_len) -> CBOR in out[0..cap). Returns the CBOR length,
 * -EINVAL (not valid JSON as our writer makes it, or a blob member that is
 * not valid base64) or -E2BIG (does not fit cap). */
int64_t SL_MUST_CHECK cbor_from_json(const char *in, size_t in_len, uint8_t *out, size_t cap);

#endif

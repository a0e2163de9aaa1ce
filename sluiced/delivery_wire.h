/* SPDX-License-Identifier: Apache-2.0 */
/* Channel delivery's parsers (delivery.c): what DescribeChannel answers,
 * the OutputKeyTemplate, the ARN of a bucket and the lines of
 * --channel-config. Pure functions over bytes, so tests/fuzz/fuzz_delivery.c
 * reaches them. */
#ifndef SL_SLUICED_DELIVERY_WIRE_H
#define SL_SLUICED_DELIVERY_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/json.h"

#define DL_NAME_MAX 129	     /* channel and stream names: 1..128 */
#define DL_ARN_MAX 2048
#define DL_ID_MAX 64
#define DL_BUCKET_MAX 64     /* S3 bucket names: 3..63 */
#define DL_TEMPLATE_MAX 1025 /* OutputKeyTemplate / ErrorOutputPrefix: 1024 */
#define DL_KEY_MAX 1400	     /* an S3 key: 1024 of S3's, plus our suffix */

enum dl_format { DL_FMT_BYTE_ARRAY, DL_FMT_STRING, DL_FMT_JSON };
enum dl_compression { DL_COMP_NONE, DL_COMP_GZIP, DL_COMP_ZSTD };

/* What delivery needs of one channel (DescribeChannel's ChannelDescription). */
struct dl_desc {
	char arn[DL_ARN_MAX];
	char name[DL_NAME_MAX];
	char id[DL_ID_MAX];
	char status[16];
	char stream[DL_NAME_MAX]; /* from StreamARN's "stream/NAME" */
	char bucket[DL_BUCKET_MAX];
	char tmpl[DL_TEMPLATE_MAX];
	char err_bucket[DL_BUCKET_MAX];
	char err_prefix[DL_TEMPLATE_MAX];
	enum dl_format format;
	enum dl_compression compression;
	uint32_t freshness_s;
	int64_t created_ms; /* ChannelCreationTimestamp */
};

/* Parses a DescribeChannel answer body[0..len). Returns 0, or -EPROTO when
 * a member delivery needs is missing, of the wrong type, too long or an
 * unknown enum value. toks[0..ntoks) is scratch. */
int dl_parse_describe(const char *body, size_t len, struct json_tok *toks, uint32_t ntoks,
		      struct dl_desc *out);

/* The bucket name of "arn:aws:s3:::NAME" (also arn:aws-cn / aws-us-gov).
 * Returns 0 or -EINVAL. */
int dl_bucket_of_arn(const char *arn, size_t len, char *out, size_t cap);

/* The values of the template variables for one object. */
struct dl_key_vars {
	const char *channel_name, *channel_id, *stream_name, *shard_id;
	const char *extension; /* "", ".gz", ".zst" */
	int64_t time_ms;       /* arrival time of the object's first record */
	const char *suffix;    /* the unique suffix (dl_expand_key's comment) */
};

/* Expands tmpl (the !{...} variables: channel-name, channel-id, yyyy, YY,
 * MM, dd, HH, mm, extension, and our stream-name and shard-id; UTC) into
 * out[0..cap) with NUL. The unique suffix goes before the expansion of a
 * trailing !{extension}, else at the end, so "x!{extension}" gives
 * "x-SUFFIX.gz". Returns the length, -E2BIG when it does not fit, -EINVAL
 * for an unknown variable or an unclosed "!{". */
int dl_expand_key(const char *tmpl, const struct dl_key_vars *v, char *out, size_t cap);

/* The URI-encoding of an S3 key for a path-style request line and its
 * SigV4 canonical URI (S3 encodes each byte outside A-Za-z0-9-._~ and keeps
 * '/'): out[0..cap) with NUL. Returns the length or -E2BIG. */
int dl_uri_encode_key(const char *key, char *out, size_t cap);

#endif

/* Whether s[0..n) is valid UTF-8 (RFC 3629: shortest forms only, no
 * surrogates, at most U+10FFFF): what a STRING channel accepts. */
bool dl_utf8_valid(const char *s, size_t n);

/* Whether s[0..n) is one JSON text (RFC 8259: one value with optional
 * whitespace around it, UTF-8 strings) nested at most DL_JSON_DEPTH_MAX
 * deep: what a JSON channel accepts. Needs no tokens, so a 10 MiB record
 * of small values is checked in O(n) time and O(1) space. */
#define DL_JSON_DEPTH_MAX 1024
bool dl_json_valid(const char *s, size_t n);

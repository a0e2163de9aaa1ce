/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for channel delivery's parsers (sluiced/delivery_wire.h).
 * The first byte picks one: a DescribeChannel answer, an OutputKeyTemplate
 * (expanded, then its key URI-encoded), a bucket ARN, or a record for the
 * STRING and JSON validators. What a parser writes must be NUL-terminated
 * inside its buffer; a JSON text the validator accepts is valid UTF-8. Any
 * violation aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluiced/delivery_wire.h"

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c))                                                     \
			abort();                                              \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	switch (data[0] % 4) {
	case 0: {
		static struct json_tok toks[1024];
		static struct dl_desc d;
		if (dl_parse_describe(in, len, toks, 1024, &d) == 0) {
			CHECK(memchr(d.name, 0, sizeof(d.name)));
			CHECK(memchr(d.stream, 0, sizeof(d.stream)) && d.stream[0]);
			CHECK(strlen(d.bucket) >= 3 && strlen(d.err_bucket) >= 3);
			CHECK(d.freshness_s >= 1);
		}
		break;
	}
	case 1: {
		char tmpl[DL_TEMPLATE_MAX], key[DL_KEY_MAX], enc[3 * DL_KEY_MAX];
		size_t n = len < sizeof(tmpl) - 1 ? len : sizeof(tmpl) - 1;
		memcpy(tmpl, in, n);
		tmpl[n] = 0;
		struct dl_key_vars v = { .channel_name = "c", .channel_id = "i",
					 .stream_name = "s", .shard_id = "shardId-0",
					 .extension = ".gz", .time_ms = 1767323045000LL,
					 .suffix = "-x" };
		int k = dl_expand_key(tmpl, &v, key, sizeof(key));
		if (k >= 0) {
			CHECK((size_t)k < sizeof(key) && key[k] == 0);
			int e = dl_uri_encode_key(key, enc, sizeof(enc));
			CHECK(e >= k && (size_t)e < sizeof(enc) && enc[e] == 0);
		}
		break;
	}
	case 2: {
		char b[DL_BUCKET_MAX];
		if (dl_bucket_of_arn(in, len, b, sizeof(b)) == 0)
			CHECK(strlen(b) >= 3 && strlen(b) <= 63);
		break;
	}
	default:
		if (dl_json_valid(in, len))
			CHECK(dl_utf8_valid(in, len));
		break;
	}
	return 0;
}

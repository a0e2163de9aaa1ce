/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for dataplane/api/cbor.c, both directions. Each input is
 * read as a CBOR request: measuring and writing must agree, the JSON made
 * must be valid JSON (common/json.c parses it) and must transcode back to
 * CBOR. The same bytes are then read as a JSON answer. Any violation
 * aborts. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "dataplane/api/cbor.h"

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c))                                                     \
			abort();                                              \
	} while (0)

#define MAX_TOKS 65536u
static struct json_tok toks[MAX_TOKS];

static void answer_side(const char *json, size_t n)
{
	int64_t m = cbor_from_json(json, n, NULL, 0);
	CHECK(m >= 0 || m == -EINVAL);
	if (m < 0)
		return;
	uint8_t *out = malloc((size_t)m + 1);
	CHECK(out);
	/* Measuring does not decode blobs: writing may still find one bad. */
	int64_t w = cbor_from_json(json, n, out, (size_t)m);
	CHECK(w == m || w == -EINVAL);
	if (w > 0)
		CHECK(cbor_from_json(json, n, out, (size_t)m - 1) == -E2BIG);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t m = cbor_to_json(data, size, NULL, 0);
	CHECK(m >= 0 || m == -EINVAL);
	if (m >= 0) {
		char *json = malloc((size_t)m + 1);
		CHECK(json);
		CHECK(cbor_to_json(data, size, json, (size_t)m) == m);
		if (m > 0) {
			struct json_doc d;
			CHECK(cbor_to_json(data, size, json, (size_t)m - 1) == -E2BIG);
			/* JSON nesting is the CBOR nesting: within the bound. */
			int r = json_parse(&d, json, (size_t)m, toks, MAX_TOKS,
					   CBOR_MAX_DEPTH + 1, NULL);
			CHECK(r > 0 || r == -JSON_E_TOKENS);
			answer_side(json, (size_t)m);
		}
		free(json);
	}
	answer_side((const char *)data, size);
	return 0;
}

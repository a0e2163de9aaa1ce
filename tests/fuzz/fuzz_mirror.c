/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for what the mirror reads from an upstream
 * (sluiced/mirror_wire.h): an HTTP/1.1 response head, and a PutRecords
 * answer, or a GetRecords answer's ExplicitHashKey members
 * (mirror_ehk_ok: one it takes is 1..39 digits, copied raw into PutRecords).
 * The first byte picks the parser. A head that parses must lie
 * inside the input with a status in 100..599; a PutRecords answer may only
 * keep indices it was given, in their order. Any violation aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluiced/mirror_wire.h"

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c))                                                     \
			abort();                                              \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	const char *in = (const char *)data + 2;
	size_t len = size - 2;
	if (data[0] & 1) {
		int st = 0;
		size_t clen = 0;
		int h = mirror_parse_head(in, len, &st, &clen);
		if (h > 0) {
			CHECK((size_t)h <= len);
			CHECK(st >= 100 && st <= 599);
			CHECK(clen <= MIRROR_RESP_MAX);
		}
		return 0;
	}
	static struct json_tok toks[4096];
	if (data[0] & 2) {
		struct json_doc d;
		if (json_parse(&d, in, len, toks, 4096, 8, NULL) < 1 ||
		    d.toks[0].type != JSON_OBJECT)
			return 0;
		int32_t arr = json_obj_get(&d, 0, "Records");
		if (arr < 0 || d.toks[arr].type != JSON_ARRAY)
			return 0;
		uint32_t i = (uint32_t)arr + 1;
		for (uint32_t k = 0; k < d.toks[arr].count; k++, i = d.toks[i].next) {
			if (d.toks[i].type != JSON_OBJECT || !mirror_ehk_ok(&d, i))
				continue;
			int32_t t = json_obj_get(&d, i, "ExplicitHashKey");
			if (t < 0)
				continue;
			struct sl_slice s = json_tok_slice(&d, (uint32_t)t);
			CHECK(s.len >= 1 && s.len <= 39);
			for (uint32_t c = 0; c < s.len; c++)
				CHECK(s.ptr[c] >= '0' && s.ptr[c] <= '9');
		}
		return 0;
	}
	uint32_t idx[64], n = data[1] % 64;
	for (uint32_t i = 0; i < n; i++)
		idx[i] = 1000 + i;
	int left = mirror_put_result(in, len, toks, 4096, idx, n);
	if (left >= 0) {
		CHECK((uint32_t)left <= n);
		for (int i = 1; i < left; i++)
			CHECK(idx[i] > idx[i - 1] && idx[i] < 1000 + n);
	}
	return 0;
}

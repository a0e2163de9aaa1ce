/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for what the mirror reads from an upstream
 * (sluiced/mirror_wire.h): an HTTP/1.1 response head, and a PutRecords
 * answer. The first byte picks the parser. A head that parses must lie
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

/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for perf/lg_verify.c, the load generator's check of
 * record data read back from a server (perf/tcp_loss.sh's integrity
 * verdict): any base64 text and any bytes. Properties: no crash or read
 * past the input; a text that checks decodes to bytes that check; bytes
 * that check, encoded, check as text; and a record refilled from the
 * header's own id is bit for bit what was checked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "perf/lg_verify.h"

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c))                                                     \
			abort();                                              \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t dec[1u << 16], again[1u << 16];
	static char enc[(1u << 16) / 3 * 4 + 8];

	if (size > (1u << 16) - 8)
		return 0;
	/* as text, the way loadgen sees a Data value */
	if (lg_verify_b64((const char *)data, (uint32_t)size)) {
		int64_t m = b64_decode(dec, (const char *)data, size, NULL);

		CHECK(m >= 0 && lg_verify_check(dec, (uint32_t)m));
	}
	/* as bytes */
	if (size < 1u << 15 && lg_verify_check(data, (uint32_t)size)) {
		uint64_t id = 0;

		for (int i = 0; i < 8; i++)
			id |= (uint64_t)data[8 + i] << (8 * i);
		lg_verify_fill(again, (uint32_t)size, id);
		CHECK(memcmp(again, data, size) == 0);
		size_t n = b64_encode(enc, data, size);

		CHECK(lg_verify_b64(enc, (uint32_t)n));
	}
	return 0;
}

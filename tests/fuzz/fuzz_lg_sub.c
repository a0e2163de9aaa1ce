/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for what perf/loadgen reads of a SubscribeToShard answer
 * (perf/lg_sub.h): HTTP/1.1 chunks and eventstream messages, whose bytes come
 * from the server being measured. The first byte picks the parser. A chunk
 * or message that parses must lie inside the input; a message's type and
 * payload must too, and scanning a payload must stay inside it. Any
 * violation aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perf/lg_sub.h"

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c))                                                     \
			abort();                                              \
	} while (0)

static const char *g_lo, *g_hi;

static void on_ts(void *arg, double ts)
{
	(void)ts;
	++*(uint32_t *)arg;
}

static void on_data(void *arg, const char *b64, uint32_t n)
{
	(void)arg;
	CHECK(b64 >= g_lo && b64 + n <= g_hi);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > (1u << 24))
		return 0;
	const uint8_t *in = data + 1;
	size_t len = size - 1;
	if (data[0] & 1) {
		uint32_t off = 0, dl = 0;
		int64_t t = lg_chunk_next((const char *)in, (uint32_t)len, &off, &dl);
		if (t > 0)
			CHECK((uint64_t)t <= len && (uint64_t)off + dl <= (uint64_t)t);
		return 0;
	}
	struct lg_sub_event ev;
	int64_t t = lg_sub_message(in, len, &ev);
	if (t <= 0)
		return 0;
	CHECK((uint64_t)t <= len);
	const char *lo = (const char *)in, *hi = lo + t;
	CHECK(ev.payload >= lo && ev.payload + ev.payload_len <= hi);
	CHECK(!ev.type || (ev.type >= lo && ev.type + ev.type_len <= hi));
	struct lg_sub_records rr;
	uint32_t nts = 0;
	g_lo = ev.payload;
	g_hi = ev.payload + ev.payload_len;
	lg_sub_records(ev.payload, ev.payload_len, &rr, on_ts, on_data, &nts);
	CHECK(!rr.cont || (rr.cont >= ev.payload &&
			   rr.cont + rr.cont_len <= ev.payload + ev.payload_len));
	CHECK(rr.nrec <= ev.payload_len && nts <= ev.payload_len);
	return 0;
}

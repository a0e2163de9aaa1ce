/* SPDX-License-Identifier: Apache-2.0 */
/* perf/lg_sub.c, what loadgen --mode subscribe reads: chunks (sizes,
 * extensions, the zero chunk with and without trailers, short input, bad
 * or over-long sizes) and eventstream messages (kinds by header, a changed
 * byte anywhere fails a CRC, a short message needs more, an over-long one is
 * refused before it is read), and the records scan of an event's payload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/api/eventstream.h"
#include "perf/lg_sub.h"

static int64_t chunk(const char *s, uint32_t *off, uint32_t *len)
{
	return lg_chunk_next(s, (uint32_t)strlen(s), off, len);
}

static void test_chunks(void **state)
{
	uint32_t off = 0, len = 0;

	(void)state;
	assert_int_equal(chunk("5\r\nhello\r\n", &off, &len), 10);
	assert_int_equal(off, 3);
	assert_int_equal(len, 5);
	assert_int_equal(chunk("A;x=1\r\n0123456789\r\nrest", &off, &len), 19);
	assert_int_equal(len, 10);
	assert_int_equal(chunk("0\r\n\r\n", &off, &len), 5);
	assert_int_equal(len, 0);
	assert_int_equal(chunk("0\r\nX-T: 1\r\n\r\n", &off, &len), 13);
	assert_int_equal(len, 0);
	/* more bytes needed */
	assert_int_equal(chunk("5\r\nhel", &off, &len), 0);
	assert_int_equal(chunk("5\r\nhello\r", &off, &len), 0);
	assert_int_equal(chunk("5", &off, &len), 0);
	assert_int_equal(chunk("0\r\nX-T: 1\r\n", &off, &len), 0);
	/* malformed */
	assert_int_equal(chunk("g\r\n", &off, &len), -1);
	assert_int_equal(chunk("\r\n", &off, &len), -1);
	assert_int_equal(chunk("5\nhello\r\n", &off, &len), -1);
	assert_int_equal(chunk("5\r\nhelloXY", &off, &len), -1);
	assert_int_equal(chunk("5x\r\nhello\r\n", &off, &len), -1);
	assert_int_equal(chunk("1000001\r\n", &off, &len), -1); /* over 16 MiB */
	char longline[100];
	memset(longline, '1', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = 0;
	assert_int_equal(chunk(longline, &off, &len), -1);
}

static size_t make(uint8_t *out, size_t cap, const char *mtype, const char *etype,
		   const char *payload)
{
	struct es_header h[3] = {
		{ ":message-type", mtype },
		{ strcmp(mtype, "event") ? ":exception-type" : ":event-type", etype },
		{ ":content-type", "application/json" },
	};
	return es_encode(out, cap, h, 3, payload, strlen(payload));
}

static const char *EVENT =
	"{\"Records\":[{\"SequenceNumber\":\"1\",\"ApproximateArrivalTimestamp\":1764770000.5,"
	"\"Data\":\"eHh4\",\"PartitionKey\":\"k\"},{\"SequenceNumber\":\"2\","
	"\"ApproximateArrivalTimestamp\":1764770001.25,\"Data\":\"eHg=\",\"PartitionKey\":\"k\"}],"
	"\"ContinuationSequenceNumber\":\"2\",\"MillisBehindLatest\":1500}";

static void test_messages(void **state)
{
	uint8_t m[1024];
	struct lg_sub_event ev;

	(void)state;
	size_t n = make(m, sizeof(m), "event", "SubscribeToShardEvent", EVENT);
	assert_true(n > 0);
	assert_int_equal(lg_sub_message(m, n, &ev), (int64_t)n);
	assert_int_equal(ev.kind, LG_EV_RECORDS);
	assert_int_equal(ev.payload_len, strlen(EVENT));
	assert_memory_equal(ev.payload, EVENT, strlen(EVENT));
	for (size_t k = 0; k < n; k++) /* short: more bytes needed, or a bad prelude */
		assert_true(lg_sub_message(m, k, &ev) <= 0);
	for (size_t i = 0; i < n; i++) { /* any changed byte: a CRC fails */
		m[i] ^= 0x20;
		assert_int_equal(lg_sub_message(m, n, &ev) == (int64_t)n, 0);
		m[i] ^= 0x20;
	}
	n = make(m, sizeof(m), "event", "initial-response", "{}");
	assert_int_equal(lg_sub_message(m, n, &ev), (int64_t)n);
	assert_int_equal(ev.kind, LG_EV_INITIAL);
	n = make(m, sizeof(m), "exception", "ResourceNotFoundException", "{\"message\":\"x\"}");
	assert_int_equal(lg_sub_message(m, n, &ev), (int64_t)n);
	assert_int_equal(ev.kind, LG_EV_ERROR);
	assert_int_equal(ev.type_len, 25);
	assert_memory_equal(ev.type, "ResourceNotFoundException", 25);
	/* a prelude announcing more than 16 MiB is refused at once */
	uint8_t big[16] = { 0x02, 0, 0, 0 };
	assert_int_equal(lg_sub_message(big, sizeof(big), &ev), -1);
}

static void on_ts(void *arg, double ts)
{
	double *sum = arg;
	*sum += ts;
}

static void test_records(void **state)
{
	struct lg_sub_records rr;
	double sum = 0;

	(void)state;
	lg_sub_records(EVENT, (uint32_t)strlen(EVENT), &rr, on_ts, NULL, &sum);
	assert_int_equal(rr.nrec, 2);
	assert_int_equal(rr.bytes, 3 + 2); /* "xxx" and "xx" */
	assert_true(sum > 2 * 1764770000.0 + 1.7 && sum < 2 * 1764770000.0 + 1.8);
	assert_true(rr.millis_behind == 1500.0);
	assert_int_equal(rr.cont_len, 1);
	assert_memory_equal(rr.cont, "2", 1);
	assert_false(rr.child_shards);
	const char *end = "{\"Records\":[],\"MillisBehindLatest\":0,\"ChildShards\":[{\"ShardId\":"
			  "\"shardId-000000000001\"}]}";
	lg_sub_records(end, (uint32_t)strlen(end), &rr, NULL, NULL, NULL);
	assert_true(rr.child_shards);
	lg_sub_records("{\"Records\":[]}", 14, &rr, NULL, NULL, NULL);
	assert_int_equal(rr.nrec, 0);
	assert_null(rr.cont);
	assert_true(rr.millis_behind < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunks),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

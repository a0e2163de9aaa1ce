/* SPDX-License-Identifier: Apache-2.0 */
/* What counting a PutRecords costs the io lcore: the same calls the record
 * path makes (mx_now_us at dispatch, mx_count_put at the answer), timed in
 * a loop over one lcore's real blocks. Compare with sluiced's CPU per
 * request (perf/compare.sh --metrics-ab) to get the share.
 *
 * usage: mx_bench [records-per-call (500)] [iterations (200000)] */
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "dataplane/log/log.h"
#include "dataplane/metrics/mx.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double run(struct mx_lcore *m, struct dp_rec *recs, uint32_t n, long iters,
		  uint8_t shard_metrics)
{
	double t0 = now_s();
	for (long i = 0; i < iters; i++) {
		struct mx_req d = { .slot = (uint32_t)(i & 7), .shard_metrics = shard_metrics,
				    .t0_us = mx_now_us() };
		mx_count_put(m, &d, 1000 + (uint64_t)(i & 7), recs, n, true);
	}
	return (now_s() - t0) / (double)iters;
}

int main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 500;
	long iters = argc > 2 ? strtol(argv[2], NULL, 10) : 200000;
	if (n == 0 || n > REC_MAX_RECORDS || iters <= 0) {
		fprintf(stderr, "usage: mx_bench [records 1..%u] [iterations]\n", REC_MAX_RECORDS);
		return 2;
	}
	static struct mx_lcore m;
	struct dp_rec *recs = calloc(n, sizeof(*recs));
	if (!recs || mx_lcore_init(&m) < 0)
		return 1;
	for (uint32_t i = 0; i < n; i++) {
		recs[i].data_len = 100;
		recs[i].shard_index = i % 4;
		recs[i].status = i % 50 == 49 ? -EDQUOT : 0; /* a few throttled */
	}
	run(&m, recs, n, iters / 10 + 1, 0); /* warm up */
	double plain = run(&m, recs, n, iters, 0);
	double shards = run(&m, recs, n, iters / 10 + 1, 0x7f); /* enhanced monitoring: ALL */
	printf("mx_count_put, %u records per call: %.0f ns per call (%.2f ns per record); "
	       "with shard-level metrics on: %.0f ns per call\n",
	       n, plain * 1e9, plain * 1e9 / n, shards * 1e9);
	mx_lcore_fini(&m);
	free(recs);
	return 0;
}

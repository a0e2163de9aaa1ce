/* SPDX-License-Identifier: Apache-2.0 */
/* The per-lcore metric blocks: allocation and the shard table (mx.h). */
#include "dataplane/metrics/mx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/bug.h"
#include "dataplane/route/route.h"

const double mx_lat_bounds_ms[MX_LAT_BOUNDS] = { 1,   2,   5,    10,   25,   50,   100,
						 250, 500, 1000, 2500, 5000, 10000 };
const uint16_t mx_http_statuses[MX_HTTP_ST_N - 1] = { MX_HTTP_STATUSES };
const char *const mx_sigv4_types[MX_SIGV4_N - 1] = { MX_SIGV4_TYPES };
const char *const mx_tcp_names[MX_TCP_N] = { MX_TCP_NAMES };
const double mx_batch_bounds[MX_BATCH_BOUNDS] = { 1, 4, 16, 64, 256, 1024, 4096, 16384 };

/* A free shard entry once used by an entry that went away: probing goes on
 * past it (stream ids are never 0 or this value). */
#define MX_TOMB UINT64_MAX
#define MX_STREAMS_BYTES ((size_t)MX_STREAM_SLOTS * sizeof(struct mx_stream))

int mx_lcore_init(struct mx_lcore *m)
{
	memset(m, 0, sizeof(*m));
	/* mmap: page-aligned (so every 64-byte block is too) and zero pages
	 * mapped lazily, so slots never used cost no memory. */
	void *p = mmap(NULL, MX_STREAMS_BYTES, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	m->streams = p;
	m->shards = calloc(MX_SHARD_SLOTS, sizeof(*m->shards));
	if (!m->shards) {
		munmap(m->streams, MX_STREAMS_BYTES);
		m->streams = NULL;
		return -ENOMEM;
	}
	return 0;
}

void mx_lcore_fini(struct mx_lcore *m)
{
	if (m->streams)
		munmap(m->streams, MX_STREAMS_BYTES);
	free(m->shards);
	m->streams = NULL;
	m->shards = NULL;
}

static uint32_t shard_hash(uint64_t stream_id, uint32_t shard)
{
	uint64_t h = (stream_id ^ ((uint64_t)shard << 32 | shard)) * 0x9E3779B97F4A7C15ull;
	return (uint32_t)(h >> 40) & (MX_SHARD_SLOTS - 1);
}

struct mx_shard *mx_shard_get(struct mx_lcore *m, uint64_t stream_id, uint32_t shard)
{
	DBG_BUG_ON(stream_id == 0 || stream_id == MX_TOMB);
	uint32_t i = shard_hash(stream_id, shard);
	struct mx_shard *tomb = NULL;
	/* Bounded: one lap of the table. */
	for (uint32_t n = 0; n < MX_SHARD_SLOTS; n++, i = (i + 1) & (MX_SHARD_SLOTS - 1)) {
		struct mx_shard *e = &m->shards[i];
		uint64_t id = e->stream_id;
		if (id == stream_id && e->shard == shard)
			return e;
		if (id == MX_TOMB && !tomb)
			tomb = e;
		if (id == 0) {
			if (!tomb)
				tomb = e;
			break;
		}
	}
	if (!tomb) {
		MX_ADD(m->io.shards_dropped, 1);
		return NULL;
	}
	/* A new entry starts at zero; the key goes last (the scraper reads the
	 * key first with acquire). */
	for (unsigned k = 0; k < MX_SHC_N; k++)
		MX_SET(tomb->c[k], 0);
	MX_SET(tomb->iter_age.at_ms, 0);
	MX_SET(tomb->shard, shard);
	__atomic_store_n(&tomb->stream_id, stream_id, __ATOMIC_RELEASE);
	return tomb;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

void mx_shards_sweep(struct mx_lcore *m, const struct route_table *rt)
{
	/* The ids of streams with shard-level metrics on, sorted, to look up
	 * each entry's. Slow path: runs once per routing snapshot. */
	uint32_t n = 0;
	for (uint32_t i = 0; i < rt->n_streams; i++)
		n += rt->streams[i].shard_metrics != 0;
	uint64_t *ids = n ? malloc(n * sizeof(*ids)) : NULL;
	if (n && !ids)
		return; /* next snapshot retries; entries only linger */
	n = 0;
	for (uint32_t i = 0; i < rt->n_streams; i++)
		if (rt->streams[i].shard_metrics)
			ids[n++] = rt->streams[i].id;
	if (n)
		qsort(ids, n, sizeof(*ids), cmp_u64);
	for (uint32_t i = 0; i < MX_SHARD_SLOTS; i++) {
		struct mx_shard *e = &m->shards[i];
		if (e->stream_id == 0 || e->stream_id == MX_TOMB)
			continue;
		if (!n || !bsearch(&e->stream_id, ids, n, sizeof(*ids), cmp_u64))
			MX_SET(e->stream_id, MX_TOMB);
	}
	free(ids);
}

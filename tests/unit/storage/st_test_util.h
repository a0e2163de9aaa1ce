/* SPDX-License-Identifier: Apache-2.0 */
/* Shared helpers for the storage unit tests. */
#ifndef SL_TESTS_ST_TEST_UTIL_H
#define SL_TESTS_ST_TEST_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/st.h"

#define TU_MAX_DONE 65536

struct tu_done {
	uint64_t token;
	uint64_t stream_id;
	st_seq_t first_seq;
	uint32_t shard_index;
	uint32_t count;
	int status;
};

struct tu_ctx {
	struct tu_done d[TU_MAX_DONE];
	uint32_t n;
	uint32_t nfail;
	uint64_t recs_ok;
};

static inline void tu_done_cb(void *ctx, uint64_t token, uint64_t stream_id,
			      uint32_t shard_index, st_seq_t first_seq,
			      uint32_t count, int status)
{
	struct tu_ctx *c = ctx;

	if (c->n < TU_MAX_DONE)
		c->d[c->n++] = (struct tu_done){ token, stream_id, first_seq,
						 shard_index, count, status };
	if (status)
		c->nfail++;
	else
		c->recs_ok += count;
}

/* Waits until nothing is pending (bounded: ~10 s). */
static inline void tu_drain(struct st_journal *j)
{
	for (int i = 0; i < 1000 && st_pending(j) > 0; i++) {
		int rc = st_wait(j, 10);
		if (rc < 0) { /* io_uring itself failed: no test can go on */
			fprintf(stderr, "tu_drain: st_wait: %d\n", rc);
			abort();
		}
	}
}

static inline void tu_mkdtemp(char *buf, size_t n)
{
	snprintf(buf, n, "/tmp/st-test-XXXXXX");
	if (!mkdtemp(buf))
		abort();
}

static inline void tu_rmrf(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "rm -rf %s failed\n", dir);
}

/* Deterministic payload for (shard, i): len bytes. */
static inline void tu_fill(uint8_t *p, uint32_t len, uint32_t shard, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull ^ ((uint64_t)shard << 40);

	for (uint32_t k = 0; k < len; k++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[k] = (uint8_t)x;
	}
}

/* The journal's header-CRC salt: u64 at offset 24 of DIR/journal.meta
 * (storage/st_meta.c). */
static inline uint64_t tu_journal_salt(const char *dir)
{
	char path[512];
	uint64_t salt = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/journal.meta", dir);
	f = fopen(path, "rb");
	if (!f || fseek(f, 24, SEEK_SET) != 0 || fread(&salt, 8, 1, f) != 1)
		abort();
	fclose(f);
	return salt;
}

static inline void tu_small_opts(struct st_opts *o)
{
	st_opts_default(o);
	o->segment_bytes = 1u << 20;
	o->buf_bytes = 128u << 10;
	o->max_inflight = 2;
	o->max_shards = 64;
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Crash-test driver for storage/.
 *
 *   st_crash_driver write DIR SEED    appends to 4 shards until killed (or
 *                                     30 s), printing "shard seq hash" for
 *                                     each record once st_poll reports it
 *                                     durable
 *   st_crash_driver verify DIR FILE.. reopens DIR (recovery) and checks that
 *                                     every record listed in FILEs is there,
 *                                     intact (FNV-1a of the data), in order
 *
 * Lines are written with one write(2) per poll, so a kill leaves at most a
 * torn last line, which verify ignores (that ack never reached anyone). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "storage/st.h"

#define NSHARD 4
#define RING 65536
#define MAXBATCH 8
#define MAXLEN 4096

struct pend {
	st_seq_t first;
	uint32_t shard, n;
	uint64_t hash[MAXBATCH];
};

static struct pend ring[RING];
static char out[1 << 20];
static size_t outlen;

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void flush_out(void)
{
	size_t off = 0;

	while (off < outlen) {
		ssize_t w = write(1, out + off, outlen - off);

		if (w <= 0)
			exit(3);
		off += (size_t)w;
	}
	outlen = 0;
}

static void on_done(void *ctx, uint64_t token, uint64_t stream_id, uint32_t shard,
		    st_seq_t first_seq, uint32_t count, int status)
{
	const struct pend *p = &ring[token % RING];
	uint64_t skip = st_seq_counter(first_seq) - st_seq_counter(p->first);

	(void)ctx;
	(void)stream_id;
	if (status != 0)
		return; /* not acknowledged */
	for (uint32_t i = 0; i < count; i++) {
		char s[ST_SEQ_STR_SIZE];

		st_seq_format(first_seq + i, s);
		if (outlen + 128 > sizeof(out))
			flush_out();
		outlen += (size_t)snprintf(out + outlen, sizeof(out) - outlen,
					   "%u %s %016llx\n", shard, s,
					   (unsigned long long)p->hash[skip + i]);
	}
}

static struct st_opts drv_opts(void)
{
	struct st_opts o;

	st_opts_default(&o);
	o.segment_bytes = 8u << 20;
	o.buf_bytes = 1u << 20;
	o.max_inflight = 2;
	o.max_shards = 64;
	/* Checkpoints as the log lcore takes them (st_checkpoint_due when
	 * idle), often: kill -9 lands in and between incremental ones. */
	o.checkpoint_bytes = 1u << 20;
	return o;
}

static int do_write(const char *dir, uint64_t seed)
{
	struct st_opts o = drv_opts();
	struct st_journal *j = st_open(dir, &o, on_done, NULL);
	static uint8_t data[MAXBATCH][MAXLEN];
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1, token = 0;
	uint64_t t_end = sl_mono_ms() + 30000;

	if (!j) {
		perror("st_open");
		return 2;
	}
	while (sl_mono_ms() < t_end) {
		struct st_record r[MAXBATCH];
		struct pend *p = &ring[token % RING];
		uint32_t n = 1 + (uint32_t)(rnd(&x) % MAXBATCH);
		int rc;

		p->shard = (uint32_t)(rnd(&x) % NSHARD);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t len = 1 + (uint32_t)(rnd(&x) % MAXLEN);

			for (uint32_t k = 0; k < len; k++)
				data[i][k] = (uint8_t)rnd(&x);
			r[i] = (struct st_record){ .pkey = "pk", .pkey_len = 2,
						   .data = data[i], .data_len = len };
			p->hash[i] = fnv1a(data[i], len);
		}
		while ((rc = st_append(j, 1, p->shard, r, n, sl_wall_ms(), token,
				       &p->first)) == -ENOBUFS) {
			if ((rc = st_wait(j, 5)) < 0) {
				fprintf(stderr, "st_wait: %d\n", rc);
				return 2;
			}
			flush_out();
		}
		if (rc < 0) {
			fprintf(stderr, "st_append: %d\n", rc);
			return 2;
		}
		/* Records not taken are simply not part of this test. */
		p->n = (uint32_t)rc;
		token++;
		if (token % 4 == 0) {
			if ((rc = st_poll(j)) < 0) {
				fprintf(stderr, "st_poll: %d\n", rc);
				return 2;
			}
			if (st_checkpoint_due(j) && (rc = st_checkpoint(j)) < 0) {
				fprintf(stderr, "st_checkpoint: %d\n", rc);
				return 2;
			}
			flush_out();
		}
	}
	int crc = st_close(j);
	flush_out();
	if (crc < 0) {
		fprintf(stderr, "st_close: %d\n", crc);
		return 2;
	}
	return 0;
}

struct got {
	st_seq_t seq;
	uint64_t hash;
};

struct vstate {
	struct got *g;
	size_t n, cap;
};

static int collect(void *ctx, const struct st_read_rec *r)
{
	struct vstate *v = ctx;

	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 4096;
		v->g = realloc(v->g, v->cap * sizeof(*v->g));
		if (!v->g)
			exit(2);
	}
	v->g[v->n++] = (struct got){ r->seq, fnv1a(r->data, r->data_len) };
	return 0;
}

static const struct got *find(const struct vstate *v, st_seq_t seq)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->g[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->n && v->g[lo].seq == seq ? &v->g[lo] : NULL;
}

static int check_file(const char *path, struct vstate *v, uint64_t *nacked)
{
	FILE *f = fopen(path, "r");
	char line[256];
	st_seq_t last[NSHARD] = { 0 };
	int bad = 0;

	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f)) {
		unsigned shard;
		char s[64];
		unsigned long long h;
		st_seq_t seq;

		if (!strchr(line, '\n'))
			break; /* torn last line: never acknowledged */
		if (sscanf(line, "%u %63s %llx", &shard, s, &h) != 3 || shard >= NSHARD ||
		    st_seq_parse(s, strlen(s), &seq) < 0 || st_seq_shard(seq) != shard) {
			fprintf(stderr, "verify: bad line %s", line);
			bad++;
			continue;
		}
		const struct got *g = find(&v[shard], seq);

		if (!g || g->hash != h || seq <= last[shard]) {
			fprintf(stderr, "verify: %s shard %u seq %s %s\n", path, shard, s,
				!g ? "missing" : g->hash != h ? "corrupt" : "out of order");
			bad++;
		}
		last[shard] = seq;
		(*nacked)++;
	}
	fclose(f);
	return bad;
}

static int do_verify(const char *dir, int nfiles, char **files)
{
	struct st_opts o = drv_opts();
	struct st_journal *j = st_open(dir, &o, on_done, NULL);
	struct vstate v[NSHARD] = { 0 };
	uint64_t nacked = 0, total = 0;
	int bad = 0;

	if (!j) {
		perror("st_open");
		return 2;
	}
	for (uint32_t sh = 0; sh < NSHARD; sh++) {
		st_seq_t pos = st_trim_horizon(j, 1, sh, INT64_MIN), next;
		int n;

		while ((n = st_read(j, 1, sh, pos, INT64_MIN, 10000, 64u << 20, collect,
				    &v[sh], &next)) > 0)
			pos = next;
		if (n < 0) {
			fprintf(stderr, "verify: st_read shard %u: %d\n", sh, n);
			bad++;
		}
		for (size_t k = 1; k < v[sh].n; k++)
			if (v[sh].g[k].seq <= v[sh].g[k - 1].seq)
				bad++;
		total += v[sh].n;
	}
	for (int i = 0; i < nfiles; i++)
		bad += check_file(files[i], v, &nacked);
	int crc = st_close(j);
	if (crc < 0) {
		fprintf(stderr, "st_close: %d\n", crc);
		bad++;
	}
	printf("verify: %llu acknowledged, %llu in the log, %d problems\n",
	       (unsigned long long)nacked, (unsigned long long)total, bad);
	for (uint32_t sh = 0; sh < NSHARD; sh++)
		free(v[sh].g);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "write") == 0)
		return do_write(argv[2], strtoull(argv[3], NULL, 10));
	if (argc >= 3 && strcmp(argv[1], "verify") == 0)
		return do_verify(argv[2], argc - 3, argv + 3);
	fprintf(stderr, "usage: %s write DIR SEED | verify DIR ACKFILE...\n", argv[0]);
	return 2;
}

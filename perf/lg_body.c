/* SPDX-License-Identifier: Apache-2.0 */
/* Pre-built request bodies. Hashing a 700 KB PutRecords body costs more than
 * the whole client-side signing, so bodies come from a pool built and hashed
 * before the run: each body draws its own partition keys from the chosen
 * distribution, and requests cycle through the pool. With the default pool
 * of 32 bodies x 500 records, 16000 key draws are in rotation, enough for
 * uniform, Zipf and fixed key workloads to spread (or not) across shards as
 * they would with fresh keys. Record data is random bytes, so nothing
 * downstream can compress it. */
#include "perf/lg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "dataplane/api/cbor.h"
#include "crypto/sigv4.h"
#include "perf/lg_verify.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void)
{
	/* splitmix64: fast, good enough to draw keys */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rng_unit(void)
{
	return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0);
}

struct keygen {
	const struct lg_config *cfg;
	double *cdf; /* Zipf only: cumulative probabilities, key_count entries */
};

static int keygen_init(struct keygen *kg, const struct lg_config *cfg)
{
	kg->cfg = cfg;
	kg->cdf = NULL;
	if (cfg->keys != LG_KEYS_ZIPF)
		return 0;
	kg->cdf = malloc(sizeof(double) * cfg->key_count);
	if (!kg->cdf)
		return -1;
	double sum = 0;
	for (uint32_t i = 0; i < cfg->key_count; i++) {
		sum += 1.0 / pow((double)(i + 1), cfg->zipf_s);
		kg->cdf[i] = sum;
	}
	for (uint32_t i = 0; i < cfg->key_count; i++)
		kg->cdf[i] /= sum;
	return 0;
}

static uint32_t keygen_next(struct keygen *kg)
{
	const struct lg_config *cfg = kg->cfg;
	if (cfg->keys == LG_KEYS_FIXED)
		return 0;
	if (cfg->keys == LG_KEYS_UNIFORM)
		return (uint32_t)(rng_next() % cfg->key_count);
	double u = rng_unit();
	uint32_t lo = 0, hi = cfg->key_count - 1;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (kg->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int put_record(char *p, size_t cap, const struct lg_config *cfg, uint32_t key,
		      const uint8_t *data, bool first)
{
	int n = snprintf(p, cap, "%s{\"Data\":\"", first ? "" : ",");
	if (n < 0 || (size_t)n >= cap)
		return -1;
	size_t e = b64_enc_len(cfg->record_bytes);
	if ((size_t)n + e + 64 >= cap)
		return -1;
	b64_encode(p + n, data, cfg->record_bytes);
	n += (int)e;
	int m = snprintf(p + n, cap - (size_t)n, "\",\"PartitionKey\":\"pk-%u\"}", key);
	if (m < 0 || (size_t)m >= cap - (size_t)n)
		return -1;
	return n + m;
}

static int build_one(struct lg_body *b, const struct lg_config *cfg, struct keygen *kg,
		     uint8_t *data)
{
	uint32_t nrec = cfg->mode == LG_MODE_PUTRECORD ? 1 : cfg->batch;
	size_t cap = (size_t)nrec * (b64_enc_len(cfg->record_bytes) + 64) + 256;
	char *p = malloc(cap);
	if (!p)
		return -1;
	size_t len = 0;
	int n;
	for (uint32_t i = 0; i < cfg->record_bytes; i++)
		data[i] = (uint8_t)rng_next();
	if (cfg->verify)
		lg_verify_fill(data, cfg->record_bytes, rng_next());
	if (cfg->mode == LG_MODE_PUTRECORD) {
		n = snprintf(p, cap, "{\"StreamName\":\"%s\",\"Data\":\"", cfg->stream);
		len = (size_t)n;
		len += b64_encode(p + len, data, cfg->record_bytes);
		len += (size_t)snprintf(p + len, cap - len, "\",\"PartitionKey\":\"pk-%u\"}",
					keygen_next(kg));
	} else {
		n = snprintf(p, cap, "{\"StreamName\":\"%s\",\"Records\":[", cfg->stream);
		len = (size_t)n;
		for (uint32_t i = 0; i < nrec; i++) {
			/* a different data offset per record: no two records equal
			 * (--verify: a fresh id, so each still checks) */
			if (cfg->verify)
				lg_verify_fill(data, cfg->record_bytes, rng_next());
			else
				data[i % cfg->record_bytes] ^= (uint8_t)(i + 1);
			n = put_record(p + len, cap - len, cfg, keygen_next(kg), data, i == 0);
			if (n < 0) {
				free(p);
				return -1;
			}
			len += (size_t)n;
		}
		len += (size_t)snprintf(p + len, cap - len, "]}");
	}
	if (cfg->cbor) {
		/* What the Java SDK sends: the same members, Data as byte
		 * strings (sluice's own transcoder, checked against cbor2 by
		 * tests/e2e/test_cbor.py). */
		int64_t m = cbor_from_json(p, len, NULL, 0);
		char *q = m > 0 ? malloc((size_t)m) : NULL;
		if (!q || cbor_from_json(p, len, (uint8_t *)q, (size_t)m) != m) {
			free(q);
			free(p);
			return -1;
		}
		free(p);
		p = q;
		len = (size_t)m;
	}
	b->json = p;
	b->len = (uint32_t)len;
	b->nrec = nrec;
	b->payload_bytes = (uint64_t)nrec * cfg->record_bytes;
	return 0;
}

struct lg_body *lg_bodies_build(const struct lg_config *cfg, struct sigv4_signer *s)
{
	struct keygen kg;
	struct lg_body *b = calloc(cfg->pool, sizeof(*b));
	uint8_t *data = malloc(cfg->record_bytes ? cfg->record_bytes : 1);
	if (!b || !data || keygen_init(&kg, cfg)) {
		fprintf(stderr, "loadgen: out of memory building bodies\n");
		free(b);
		free(data);
		return NULL;
	}
	for (uint32_t i = 0; i < cfg->pool; i++) {
		if (build_one(&b[i], cfg, &kg, data) ||
		    sigv4_sha256_hex(s, b[i].json, b[i].len, b[i].sha256_hex)) {
			fprintf(stderr, "loadgen: cannot build body %u\n", i);
			lg_bodies_free(b, i);
			b = NULL;
			break;
		}
	}
	free(kg.cdf);
	free(data);
	return b;
}

void lg_bodies_free(struct lg_body *b, uint32_t n)
{
	if (!b)
		return;
	for (uint32_t i = 0; i < n; i++)
		free(b[i].json);
	free(b);
}

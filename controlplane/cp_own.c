/* SPDX-License-Identifier: Apache-2.0 */
/* Shard ownership: the rendezvous choice and the record's key and value
 * (cp_own.h). Pure: no etcd, no allocation. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "controlplane/cp_own.h"

/* splitmix64's finalizer: every input bit reaches every output bit, so
 * scores of one node for neighbouring shards are unrelated. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 27;
	x *= 0x94D049BB133111EBull;
	x ^= x >> 31;
	return x;
}

uint64_t cp_own_score(const char *id, size_t n, uint64_t stream_id, uint32_t shard)
{
	uint64_t h = 0xCBF29CE484222325ull; /* FNV-1a 64 over the id */

	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)id[i];
		h *= 0x100000001B3ull;
	}
	/* the id's hash mixed too: FNV leaves ids that differ in their last
	 * byte (node-a, node-b) close in the high bits */
	return mix(mix(h) ^ mix(stream_id ^ mix((uint64_t)shard + 0x9E3779B97F4A7C15ull)));
}

int32_t cp_own_pick(const char *const *ids, uint32_t n, uint64_t stream_id, uint32_t shard)
{
	int32_t best = -1;
	uint64_t best_score = 0;

	for (uint32_t i = 0; i < n && i < INT32_MAX; i++) {
		uint64_t s = cp_own_score(ids[i], strlen(ids[i]), stream_id, shard);
		if (best < 0 || s > best_score ||
		    (s == best_score && strcmp(ids[i], ids[best]) < 0)) {
			best = (int32_t)i;
			best_score = s;
		}
	}
	return best;
}

size_t cp_own_rel_fmt(uint64_t stream_id, uint32_t shard, char out[CP_OWN_REL_CAP])
{
	int n = snprintf(out, CP_OWN_REL_CAP, "own/%" PRIu64 "/%010" PRIu32, stream_id, shard);

	BUG_ON(n < 0 || (size_t)n >= CP_OWN_REL_CAP); /* 4 + 20 + 1 + 10 */
	return (size_t)n;
}

int cp_own_rel_parse(const char *rel, size_t n, uint64_t *stream_id, uint32_t *shard)
{
	uint64_t id = 0, ix = 0;
	size_t i = 4, start;

	if (n < 4 || memcmp(rel, "own/", 4) != 0)
		return -EINVAL;
	start = i;
	while (i < n && rel[i] >= '0' && rel[i] <= '9') {
		uint64_t d = (uint64_t)(rel[i] - '0');
		if (id > (UINT64_MAX - d) / 10)
			return -EINVAL;
		id = id * 10 + d;
		i++;
	}
	if (i == start || i - start > 20 || (rel[start] == '0' && i - start > 1))
		return -EINVAL;
	if (i >= n || rel[i] != '/' || n - i - 1 != 10)
		return -EINVAL;
	for (i++; i < n; i++) {
		if (rel[i] < '0' || rel[i] > '9')
			return -EINVAL;
		ix = ix * 10 + (uint64_t)(rel[i] - '0'); /* 10 digits: < 2^64 */
	}
	if (ix > UINT32_MAX)
		return -EINVAL;
	*stream_id = id;
	*shard = (uint32_t)ix;
	return 0;
}

static bool id_ok(const char *s, size_t n)
{
	if (n == 0 || n > CP_OWN_NODE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

int cp_own_value_fmt(const char *id, int64_t lease, char *out, size_t cap)
{
	struct jw w;

	BUG_ON(!id_ok(id, strlen(id))); /* --node-id is checked at start */
	jw_init(&w, out, cap);
	jw_obj_begin(&w);
	jw_key(&w, "node");
	jw_str(&w, id);
	jw_key(&w, "lease");
	jw_i64(&w, lease);
	jw_obj_end(&w);
	if (w.overflow || w.len >= cap)
		return -ENOSPC;
	out[w.len] = '\0'; /* for the tests and logs; the length is what etcd gets */
	return (int)w.len;
}

int cp_own_value_parse(const char *v, size_t n, char node[CP_OWN_NODE_MAX + 1], int64_t *lease)
{
	/* A few members today; later versions add some (follower, epoch):
	 * more tokens than this is not a record we wrote. */
	struct json_tok toks[32];
	struct json_doc d;
	int32_t i;

	if (json_parse(&d, v, n, toks, SL_ARRAY_SIZE(toks), 4, NULL) < 1 ||
	    toks[0].type != JSON_OBJECT)
		return -EINVAL;
	i = json_obj_get(&d, 0, "node");
	/* no escapes: an id is plain ASCII, and the bytes are used as they are */
	if (i < 0 || toks[i].type != JSON_STRING || (toks[i].flags & JSON_TOK_ESCAPED) ||
	    !id_ok(v + toks[i].start, toks[i].len))
		return -EINVAL;
	memcpy(node, v + toks[i].start, toks[i].len);
	node[toks[i].len] = '\0';
	*lease = 0;
	i = json_obj_get(&d, 0, "lease");
	if (i >= 0 && (toks[i].type != JSON_NUMBER || json_num_i64(&d, (uint32_t)i, lease) < 0))
		return -EINVAL;
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The routing table's builder: the control thread turns the store into a
 * snapshot (struct route_table, dataplane/route/route.h) and publishes it
 * there; the dataplane swaps it in and reclaims the old one with RCU, so io
 * lcores read it without locks or shared writes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"
#include "common/clock.h"
#include "common/log.h"
#include "controlplane/cp_internal.h"
#include "crypto/keyring.h"
#include "crypto/policy.h"
#include "dataplane/metrics/mx.h"

/* A hash key or sequence number the store holds: we wrote it with
 * sl_u128_fmt, so anything else means the store was damaged. */
static int parse_u128(const char *s, route_u128 *out)
{
	int rc = sl_u128_parse(s, strlen(s), out);

	if (rc)
		SL_ERR("meta.db: bad 128-bit decimal '%.48s': %d", s, rc);
	return rc;
}

struct build {
	struct cp *cp;
	struct route_table *rt;
	uint32_t cap;
	struct route_stream *cur;
	/* per shard of cur, for lineage: creation / closing times */
	int64_t *created_ms, *closed_ms;
	uint32_t times_cap;
	int err;
};

/* "shardId-000000000007" -> 7; ROUTE_NONE for "" (no parent). */
static uint32_t shard_ref(const char *id)
{
	uint32_t idx;

	return id[0] && api_shard_id_parse(id, strlen(id), &idx) == 0 ? idx : ROUTE_NONE;
}

static int shard_cb(void *arg, const struct cp_shard *sh)
{
	struct build *b = arg;
	struct route_stream *s = b->cur;
	if (sh->index >= s->n_shards) {
		b->err = -EPROTO; /* indexes are dense 0..n-1 by construction */
		return 1;
	}
	struct route_shard *r = &s->shards[sh->index];
	r->index = sh->index;
	r->ending_seq = 0;
	if (parse_u128(sh->hash_start, &r->hash_start) ||
	    parse_u128(sh->hash_end, &r->hash_end) ||
	    (sh->end_seq[0] && parse_u128(sh->end_seq, &r->ending_seq))) {
		b->err = -EPROTO;
		return 1;
	}
	r->open = sh->closed_ms == 0;
	r->parent = shard_ref(sh->parent);
	r->adjacent_parent = shard_ref(sh->adjacent);
	b->created_ms[sh->index] = sh->created_ms;
	b->closed_ms[sh->index] = sh->closed_ms;
	r->log_lcore = route_owner(s->id, sh->index, b->cp->cfg.n_log_lcores);
	/* Several nodes: a shard another node owns is answered with an error
	 * here until forwarding exists (cp_cluster.c, cp_own.h). One node,
	 * or SQLite: every shard is this node's. */
	if (cp_clustered(b->cp))
		r->remote = cp_cluster_remote(b->cp->cluster, s->id, sh->index);
	if (r->remote)
		s->any_remote = true;
	if (r->open)
		s->open_by_hash[s->n_open++] = sh->index;
	return 0;
}

static int cmp_open(const void *a, const void *b, void *arg)
{
	const struct route_stream *s = arg;
	route_u128 x = s->shards[*(const uint32_t *)a].hash_start;
	route_u128 y = s->shards[*(const uint32_t *)b].hash_start;
	return x < y ? -1 : x > y;
}

static int stream_cb(void *arg, const struct cp_stream *cs)
{
	struct build *b = arg;
	if (cs->status != CP_ACTIVE && cs->status != CP_UPDATING)
		return 0;
	if (b->rt->n_streams == b->cap) {
		uint32_t ncap = b->cap ? b->cap * 2 : 16;
		void *p = realloc(b->rt->streams, ncap * sizeof(*b->rt->streams));
		if (!p) {
			b->err = -ENOMEM;
			return 1;
		}
		b->rt->streams = p;
		b->cap = ncap;
	}
	/* Several nodes (cp_cluster.c): a stream another node created has no
	 * data key in this node's keyring (keys are per node until they move to
	 * etcd). Records written through this node stay on this node today, so
	 * a key of its own seals them; made before the stream is routable here,
	 * as CreateStream does. */
	if (cp_clustered(b->cp) && b->cp->cfg.kr) {
		uint32_t ver;
		char mid[KR_KEY_ID_SIZE];
		int krc = kr_stream_key_info(b->cp->cfg.kr, cs->id, &ver, mid);
		if (krc == -ENOKEY &&
		    (krc = kr_stream_key_new(b->cp->cfg.kr, cs->id, NULL, NULL)) == 0)
			SL_INFO("cluster: stream %s made elsewhere: data key created here",
				cs->name);
		if (krc < 0) {
			SL_ERR("data key for stream %s: %s", cs->name, strerror(-krc));
			b->err = krc;
			return 1;
		}
	}
	struct route_stream *s = &b->rt->streams[b->rt->n_streams];
	memset(s, 0, sizeof(*s));
	s->id = cs->id;
	memcpy(s->name, cs->name, sizeof(s->name));
	s->distribution = cs->distribution == CP_DIST_AUTO ? ROUTE_DIST_AUTO
							   : ROUTE_DIST_USER_PARTITION_KEY;
	s->max_record_bytes = cs->max_record_kib * 1024u;
	s->retention_hours = cs->retention_hours;
	s->retention_ms = (int64_t)cs->retention_hours *
			  (b->cp->cfg.retention_hour_ms ? b->cp->cfg.retention_hour_ms : 3600000);
	s->kms = cs->encryption != 0;
	s->shard_metrics = cs->metrics;
	s->mslot = ROUTE_NONE; /* assign_mslots */
	/* All shards, open and closed: closed parents stay readable until
	 * retention expires, and shards[i].index == i. */
	s->n_shards = cs->shard_total;
	s->shards = calloc(s->n_shards ? s->n_shards : 1, sizeof(*s->shards));
	s->open_by_hash = calloc(s->n_shards ? s->n_shards : 1, sizeof(*s->open_by_hash));
	b->rt->n_streams++;
	if (!s->shards || !s->open_by_hash) {
		b->err = -ENOMEM;
		return 1;
	}
	b->cur = s;
	return 0;
}

/* Children of each closed shard: the shards created by the reshard that
 * closed it (created_ms == its closed_ms: unique per reshard of a stream,
 * and those children have consecutive indexes in hash order) whose range
 * overlaps its range. */
static void link_children(struct build *b, struct route_stream *s)
{
	for (uint32_t p = 0; p < s->n_shards; p++) {
		struct route_shard *ps = &s->shards[p];
		int64_t t = b->closed_ms[p];
		if (t == 0)
			continue;
		/* the first shard created at t: created_ms grows with the index */
		uint32_t lo = p + 1, hi = s->n_shards;
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;
			if (b->created_ms[mid] < t)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (uint32_t c = lo; c < s->n_shards && b->created_ms[c] == t; c++) {
			const struct route_shard *cs = &s->shards[c];
			if (cs->hash_end < ps->hash_start || cs->hash_start > ps->hash_end)
				continue;
			if (ps->n_children == ROUTE_CHILDREN_MAX) {
				SL_ERR("stream %s shard %u: too many children", s->name, p);
				break;
			}
			ps->children[ps->n_children++] = c;
		}
	}
}

static int times_reserve(struct build *b, uint32_t n)
{
	if (n <= b->times_cap)
		return 0;
	int64_t *a = realloc(b->created_ms, n * sizeof(*a));
	if (a)
		b->created_ms = a;
	int64_t *c = realloc(b->closed_ms, n * sizeof(*c));
	if (c)
		b->closed_ms = c;
	if (!a || !c)
		return -ENOMEM;
	b->times_cap = n;
	return 0;
}

struct build_consumers {
	struct route_table *rt;
	uint32_t cap;
	int err;
};

static int consumer_cb(void *arg, const struct cp_consumer *c, uint64_t stream_id)
{
	struct build_consumers *b = arg;

	if (b->rt->n_consumers == b->cap) {
		uint32_t ncap = b->cap ? b->cap * 2 : 16;
		void *p = realloc(b->rt->consumers, ncap * sizeof(*b->rt->consumers));
		if (!p) {
			b->err = -ENOMEM;
			return 1;
		}
		b->rt->consumers = p;
		b->cap = ncap;
	}
	struct route_consumer *rc = &b->rt->consumers[b->rt->n_consumers++];
	memset(rc, 0, sizeof(*rc));
	snprintf(rc->arn, sizeof(rc->arn), "%s", c->arn);
	snprintf(rc->stream_name, sizeof(rc->stream_name), "%s", c->stream);
	snprintf(rc->name, sizeof(rc->name), "%s", c->name);
	rc->stream_id = stream_id;
	rc->created_ms = c->created_ms;
	return 0;
}

/* ACTIVE consumers of ACTIVE/UPDATING streams, sorted by ARN by the store. */
static int build_consumers(struct cp *cp, struct route_table *rt)
{
	struct build_consumers b = { .rt = rt };
	int rc = cp_store_route_consumers(cp->st, consumer_cb, &b);

	return rc < 0 ? rc : b.err;
}

/* A stored policy that no longer parses (a damaged store, or a stricter
 * parser than the one that accepted it) fails closed: it denies everything
 * to everyone it can (full-access keys still get the policy operations, so
 * it can be replaced). */
static const char deny_all[] = "{\"Statement\":[{\"Effect\":\"Deny\",\"Principal\":\"*\","
			       "\"Action\":\"*\",\"Resource\":\"*\"}]}";

struct build_policies {
	struct route_table *rt;
	int err;
};

static int policy_cb(void *arg, const char *stream, const char *arn, const char *text,
		     size_t len)
{
	struct build_policies *bp = arg;
	struct route_table *rt = bp->rt;
	struct policy **slot = NULL;
	char why[200];

	if (strstr(arn, "/consumer/")) {
		struct route_consumer *c = (struct route_consumer *)route_consumer_find(
			rt, arn, strlen(arn));
		slot = c ? &c->res_policy : NULL;
	} else {
		struct route_stream *s =
			(struct route_stream *)route_stream_find(rt, stream, strlen(stream));
		slot = s ? &s->res_policy : NULL;
	}
	if (!slot)
		return 0; /* not ACTIVE (not in the snapshot): nothing reaches it */
	struct policy *p = policy_parse_resource(text, len, why, sizeof(why));
	if (!p) {
		SL_ERR("meta.db: resource policy of %s does not parse (%s): denying all", arn,
		       why);
		p = policy_parse_resource(deny_all, sizeof(deny_all) - 1, why, sizeof(why));
		if (!p) {
			bp->err = -ENOMEM;
			return 1;
		}
	}
	policy_free(*slot);
	*slot = p;
	return 0;
}

/* Metrics slots (route_stream.mslot): a stream keeps the slot it had in the
 * previous snapshot (same name, same id); a new one takes the lowest slot
 * no kept stream holds. A freed slot may be given again at once: the io
 * lcores' blocks carry the stream id they count and start from zero for a
 * new one (mx.h). The control thread is the only publisher, so the current
 * snapshot cannot be retired under it. */
static int assign_mslots(struct cp *cp, struct route_table *rt)
{
	const struct route_table *prev = cp->routes ? route_get(cp->routes) : NULL;
	uint8_t *used = calloc(MX_STREAM_SLOTS / 8, 1);
	if (!used)
		return -ENOMEM;
	for (uint32_t i = 0; prev && i < rt->n_streams; i++) {
		struct route_stream *s = &rt->streams[i];
		const struct route_stream *p = route_stream_find(prev, s->name, strlen(s->name));
		if (p && p->id == s->id && p->mslot < MX_STREAM_SLOTS) {
			s->mslot = p->mslot;
			used[s->mslot / 8] |= (uint8_t)(1u << (s->mslot % 8));
		}
	}
	uint32_t next = 0;
	for (uint32_t i = 0; i < rt->n_streams; i++) {
		struct route_stream *s = &rt->streams[i];
		if (s->mslot != ROUTE_NONE)
			continue;
		while (next < MX_STREAM_SLOTS && (used[next / 8] & (1u << (next % 8))))
			next++;
		if (next == MX_STREAM_SLOTS)
			break; /* the rest stay uncounted (mx.h) */
		s->mslot = next;
		used[next / 8] |= (uint8_t)(1u << (next % 8));
	}
	free(used);
	return 0;
}

static int build(struct cp *cp, struct route_table **out)
{
	struct build b = { .cp = cp };
	b.rt = calloc(1, sizeof(*b.rt));
	if (!b.rt)
		return -ENOMEM;
	int rc = cp_store_list(cp->st, NULL, UINT32_MAX, stream_cb, &b);
	if (rc < 0 || b.err)
		goto fail;
	/* Streams come sorted by name from the store (ORDER BY name, binary
	 * collation = strcmp order). */
	for (uint32_t i = 0; i < b.rt->n_streams; i++) {
		b.cur = &b.rt->streams[i];
		rc = times_reserve(&b, b.cur->n_shards + 1);
		if (rc < 0)
			goto fail;
		memset(b.closed_ms, 0, (b.cur->n_shards + 1) * sizeof(*b.closed_ms));
		rc = cp_store_shards(cp->st, b.cur->name, NULL, UINT32_MAX, shard_cb, &b);
		if (rc < 0 || b.err)
			goto fail;
		if ((uint32_t)rc != b.cur->n_shards) {
			b.err = -EPROTO; /* indexes are dense 0..n-1 */
			goto fail;
		}
		link_children(&b, b.cur);
		qsort_r(b.cur->open_by_hash, b.cur->n_open, sizeof(uint32_t), cmp_open, b.cur);
		rc = route_stream_index(b.cur); /* hash -> shard without a long search */
		if (rc < 0) {
			b.err = rc;
			goto fail;
		}
	}
	rc = build_consumers(cp, b.rt);
	if (rc < 0)
		goto fail;
	struct build_policies bp = { .rt = b.rt };
	rc = cp_store_policies(cp->st, policy_cb, &bp);
	if (rc < 0 || bp.err) {
		b.err = bp.err;
		goto fail;
	}
	rc = assign_mslots(cp, b.rt);
	if (rc < 0)
		goto fail;
	b.rt->version = ++cp->route_version;
	free(b.created_ms);
	free(b.closed_ms);
	*out = b.rt;
	return 0;
fail:
	free(b.created_ms);
	free(b.closed_ms);
	route_table_free(b.rt);
	return rc < 0 ? rc : b.err ? b.err : -EIO;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Several nodes: a stream that left the table was deleted (only DELETING
 * and removed streams leave it), perhaps through another node; its data
 * key here is destroyed as DeleteStream destroys it on the node that
 * served it (crypto-erase of what this node holds). Remembers the ids
 * routed now for the next table. A failure to remember is only logged:
 * the next table tries again, a key kept is not a wrong answer. */
static void keys_follow(struct cp *cp, const struct route_table *rt)
{
	uint64_t *ids = malloc((rt->n_streams ? rt->n_streams : 1) * sizeof(*ids));

	if (ids == NULL) {
		SL_WARN("cluster: no memory to follow data keys");
		return;
	}
	for (uint32_t i = 0; i < rt->n_streams; i++)
		ids[i] = rt->streams[i].id;
	qsort(ids, rt->n_streams, sizeof(*ids), cmp_u64);
	for (uint32_t i = 0; i < cp->n_routed_ids && cp->cfg.kr; i++) {
		if (bsearch(&cp->routed_ids[i], ids, rt->n_streams, sizeof(*ids), cmp_u64))
			continue;
		int rc = kr_stream_key_destroy(cp->cfg.kr, cp->routed_ids[i]);
		if (rc < 0)
			SL_ERR("data key of deleted stream %llu: %s",
			       (unsigned long long)cp->routed_ids[i], strerror(-rc));
	}
	free(cp->routed_ids);
	cp->routed_ids = ids;
	cp->n_routed_ids = rt->n_streams;
}

int cp_route_publish(struct cp *cp)
{
	struct route_table *rt = NULL;
	int rc = build(cp, &rt);
	if (rc < 0) {
		/* Readers keep the previous table; the next change retries. */
		SL_ERR("routing table rebuild failed: %d", rc);
		return rc;
	}
	route_publish(cp->cfg.routes, rt);
	if (cp_clustered(cp)) { /* rt is the readers' now, but only the control thread frees it */
		keys_follow(cp, rt);
		cp_cluster_want(cp->cluster, rt);
	}
	return 0;
}

void cp_route_miss(struct cp *cp, struct ctl_call *call)
{
	struct cp_stream cs;
	int64_t sec = (int64_t)(sl_mono_ms() / 1000u);

	call->status = 404;
	/* One node (SQLite): the table is always the store's. */
	if (!cp_clustered(cp) || !cp->routes || call->body == NULL)
		return;
	if (sec != cp->miss_second) {
		cp->miss_second = sec;
		cp->miss_reads = 0;
	}
	/* Bounded: a client naming streams that do not exist costs etcd at
	 * most this many reads a second; beyond, misses answer at once. */
	if (cp->miss_reads >= CP_MISS_READS_PER_S)
		return;
	cp->miss_reads++;
	if (cp_store_get(cp->st, call->body, &cs) < 0 ||
	    (cs.status != CP_ACTIVE && cs.status != CP_UPDATING))
		return; /* absent, CREATING, DELETING, or etcd away: not routable */
	/* The watch has not brought it yet: rebuild now (what the watch's
	 * delivery would do a few ms later). */
	if (cp_route_publish_sync(cp) == 0)
		call->status = 200;
}

int cp_route_publish_sync(struct cp *cp)
{
	int rc = cp_route_publish(cp);
	if (rc < 0)
		return rc;
	route_synchronize(cp->cfg.routes);
	return 0;
}

int cp_route_init(struct cp *cp)
{
	if (cp->cfg.n_log_lcores == 0)
		cp->cfg.n_log_lcores = 1;
	int rc = cp_route_publish(cp);
	if (rc == 0)
		cp->routes = cp->cfg.routes; /* from now on every change publishes */
	return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Several nodes on one etcd (issue #18, docs/REPLICATION.md): this node's
 * membership and the watch that keeps its routing table current.
 *
 * One thread, "cluster", with two etcd connections of its own (the control
 * thread keeps the store's, so a slow watch never delays a control call):
 *  - membership: a lease (TTL --etcd-lease-ttl-s) kept alive every TTL/3,
 *    and /sluice/<c>/nodes/<id> = {"addr":"HOST:PORT"} bound to it, written
 *    only if absent (two live nodes never share an id: a node restarted
 *    within the TTL waits for its old key to expire). A keepalive that
 *    finds the lease gone (this node was cut off longer than the TTL)
 *    registers again with a new lease.
 *  - the watch on the whole /sluice/<c>/ prefix: node keys update the set
 *    of live nodes (logged: joined / left); every other change bumps
 *    cp->meta_gen, and the control thread rebuilds and publishes its
 *    routing table from the store (cp.c). A lost connection resumes at the
 *    last revision seen + 1 (etcd replays what was missed); a compacted
 *    start revision, a message over the bounds or one unreadable is a full
 *    reload: the node set is read again and the table rebuilt, then the
 *    watch starts after that read's revision.
 *  - shard ownership (cp_own.h): /sluice/<c>/own/<stream-id>/<shard> =
 *    {"node","lease"} under the owner's lease. The watch keeps a map of
 *    them; an open or closed shard of the routing table without a record is
 *    claimed (written only if absent, under our lease) by the node that
 *    rendezvous hashing picks among the live nodes. Records are sticky: a
 *    node that joins takes nothing; a node that leaves (its lease ends, its
 *    records go with it) moves only its own shards, each to the next node
 *    by hash. The control thread asks, for each shard of the table it
 *    builds, whether another node owns it (cp_cluster_remote): an owned
 *    shard by its record, an unclaimed one by the hash (its claim is on the
 *    way), so every node agrees while they agree on the live set.
 * Every etcd call is bounded by --etcd-timeout-ms; the thread checks for
 * stop at least every CL_POLL_MS. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "controlplane/cp_etcd_watch.h"
#include "controlplane/cp_internal.h"
#include "controlplane/cp_own.h"
#include "controlplane/cp_store_etcd.h"

#define CL_NODES_MAX 256u	/* live nodes tracked; more are logged and ignored */
#define CL_POLL_MS 100u		/* stop is noticed within this */
#define CL_RETRY_MS 500u	/* after a failed etcd call */
#define CL_ADDR_MAX 280u
#define CL_READ_BYTES 65536u	/* one read of the watch stream */
#define CL_OWN_MAX (1u << 22)	/* ownership records kept (4M shards in all) */
#define CL_CLAIM_BATCH 64u	/* claims (and releases) per loop: stop stays prompt */
#define CL_RANGE_PAGE 512u	/* keys per range read (ETCD_KVS_MAX) */

/* One ownership record, in an open-addressing table keyed by (stream,
 * shard). Only "ours or not" is kept: forwarding (next) will want the
 * owner's id. */
struct cl_own {
	uint64_t stream_id;
	uint32_t shard;
	uint8_t used;
	uint8_t mine;
	uint8_t seen; /* own_reload: read again by the current reload */
};

/* A stream of the control thread's last routing table: its shards
 * 0..n_shards-1 want an owner. */
struct cl_want {
	uint64_t stream_id;
	uint32_t n_shards;
};

struct cl_node {
	char id[ES_CLUSTER_MAX + 1];
	char addr[CL_ADDR_MAX];
};

struct cp_cluster {
	struct cp *cp;
	pthread_t thread;
	atomic_bool stop; /* set by cp_cluster_stop, read by the thread */
	bool stopped;	  /* the thread is joined (or never ran) */
	struct etcd *kv;  /* lease and node calls */
	struct etcd *w;	  /* the watch stream */
	struct etcd_ans *a;
	struct ew_parser ep;
#define CL_PREFIX_MAX (16 + ES_CLUSTER_MAX)
	char prefix[CL_PREFIX_MAX]; /* "/sluice/<c>/" */
	size_t prefix_len;
	char node_key[CL_PREFIX_MAX + 8 + ES_CLUSTER_MAX];
	char node_id[ES_CLUSTER_MAX + 1];
	char addr[CL_ADDR_MAX];
	uint32_t ttl_s;
	int64_t lease;	     /* 0: none */
	bool registered;     /* our node key is written under lease */
	bool taken_logged;   /* the "id taken" warning was said once */
	uint64_t next_lease_ms;
	bool watching;
	bool need_reload;    /* before the next watch: read everything again */
	uint64_t next_watch_ms;
	int64_t last_rev;    /* highest revision applied */
	bool meta_changed;   /* this message changed something besides nodes */
	/* mu guards what the control thread reads (cp_cluster_remote,
	 * cp_cluster_want): nodes, own, want. This thread is the only writer
	 * of nodes and own, so it reads them without the lock. */
	pthread_mutex_t mu;
	uint32_t n_nodes;
	struct cl_node nodes[CL_NODES_MAX];
	struct cl_own *own;  /* own_cap slots, a power of two, or NULL */
	uint32_t own_cap, own_n;
	struct cl_want *want; /* sorted by stream_id */
	uint32_t n_want;
	bool want_set;	      /* a table was built: releases may run */
	uint64_t want_gen;    /* bumped by cp_cluster_want */
	uint64_t want_seen;
	bool claim_due;	      /* look for shards to claim or release */
	char rbuf[CL_READ_BYTES];
};

static void meta_bump(struct cp_cluster *cl);

/* --- ownership records --- */

static uint32_t own_slot(const struct cp_cluster *cl, uint64_t sid, uint32_t shard)
{
	uint64_t h = (sid * 0x9E3779B97F4A7C15ull) ^ (shard * 0xC2B2AE3D27D4EB4Full);

	return (uint32_t)((h ^ (h >> 29)) & (cl->own_cap - 1));
}

static struct cl_own *own_find(const struct cp_cluster *cl, uint64_t sid, uint32_t shard)
{
	if (cl->own_cap == 0)
		return NULL;
	for (uint32_t i = own_slot(cl, sid, shard);; i = (i + 1) & (cl->own_cap - 1)) {
		struct cl_own *e = &cl->own[i];
		if (!e->used)
			return NULL;
		if (e->stream_id == sid && e->shard == shard)
			return e;
	}
}

static void own_insert(struct cl_own *tab, uint32_t cap, const struct cl_own *e,
		       const struct cp_cluster *cl)
{
	for (uint32_t i = own_slot(cl, e->stream_id, e->shard);; i = (i + 1) & (cap - 1)) {
		if (!tab[i].used) {
			tab[i] = *e;
			return;
		}
	}
}

/* Under mu. Returns 0, or -ENOMEM / -ENOSPC (the record is not kept: the
 * shard looks unclaimed here and its claim fails, which is logged). */
static int own_put(struct cp_cluster *cl, uint64_t sid, uint32_t shard, bool mine)
{
	struct cl_own *e = own_find(cl, sid, shard);

	if (e != NULL) {
		e->mine = mine;
		e->seen = 1;
		return 0;
	}
	if ((cl->own_n + 1) * 2 > cl->own_cap) { /* at most half full */
		uint32_t ncap = cl->own_cap ? cl->own_cap * 2 : 1024;
		if (ncap > 2 * CL_OWN_MAX)
			return -ENOSPC;
		struct cl_own *t = calloc(ncap, sizeof(*t));
		if (t == NULL)
			return -ENOMEM;
		uint32_t ocap = cl->own_cap;
		cl->own_cap = ncap; /* own_slot hashes with the new size */
		for (uint32_t i = 0; i < ocap; i++)
			if (cl->own[i].used)
				own_insert(t, ncap, &cl->own[i], cl);
		free(cl->own);
		cl->own = t;
	}
	own_insert(cl->own, cl->own_cap,
		   &(struct cl_own){ .stream_id = sid, .shard = shard, .used = 1, .mine = mine,
				     .seen = 1 }, cl);
	cl->own_n++;
	return 0;
}

/* Under mu. Linear probing's deletion: the entries after the hole that
 * would no longer be found move back into it. */
static void own_del(struct cp_cluster *cl, uint64_t sid, uint32_t shard)
{
	struct cl_own *e = own_find(cl, sid, shard);
	uint32_t mask = cl->own_cap - 1, i, j;

	if (e == NULL)
		return;
	i = (uint32_t)(e - cl->own);
	cl->own[i].used = 0;
	cl->own_n--;
	for (j = (i + 1) & mask; cl->own[j].used; j = (j + 1) & mask) {
		uint32_t k = own_slot(cl, cl->own[j].stream_id, cl->own[j].shard);
		/* j's entry stays when its home k lies cyclically in (i, j] */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		cl->own[i] = cl->own[j];
		cl->own[j].used = 0;
		i = j;
	}
}

/* An ownership key's event (rel = the key after the prefix). */
static void own_event(struct cp_cluster *cl, const char *rel, size_t n, bool del, const char *v,
		      size_t vn)
{
	char node[CP_OWN_NODE_MAX + 1];
	uint64_t sid;
	uint32_t shard;
	int64_t lease;
	int rc = 0;

	if (cp_own_rel_parse(rel, n, &sid, &shard) < 0) {
		SL_WARN("cluster: unreadable ownership key %.*s ignored", (int)SL_MIN(n, 80u), rel);
		return;
	}
	if (!del && cp_own_value_parse(v, vn, node, &lease) < 0) {
		SL_WARN("cluster: unreadable ownership record %.*s ignored", (int)n, rel);
		return;
	}
	pthread_mutex_lock(&cl->mu);
	if (del)
		own_del(cl, sid, shard);
	else
		rc = own_put(cl, sid, shard, strcmp(node, cl->node_id) == 0);
	pthread_mutex_unlock(&cl->mu);
	if (rc < 0)
		SL_ERR("cluster: ownership of %.*s not kept: %s", (int)n, rel, strerror(-rc));
	if (del)
		cl->claim_due = true; /* perhaps ours now */
	cl->meta_changed = true;
}

/* Under mu: does the hash give (sid, shard) to this node among the live
 * nodes (this one counted even before its key is written)? */
static bool hash_mine(const struct cp_cluster *cl, uint64_t sid, uint32_t shard)
{
	const char *ids[CL_NODES_MAX + 1];
	uint32_t n = 0;
	bool self = false;

	for (uint32_t i = 0; i < cl->n_nodes; i++) {
		ids[n++] = cl->nodes[i].id;
		self |= strcmp(cl->nodes[i].id, cl->node_id) == 0;
	}
	if (!self)
		ids[n++] = cl->node_id;
	int32_t w = cp_own_pick(ids, n, sid, shard);
	BUG_ON(w < 0);
	return strcmp(ids[w], cl->node_id) == 0;
}

bool cp_cluster_remote(struct cp_cluster *cl, uint64_t stream_id, uint32_t shard)
{
	bool remote;

	pthread_mutex_lock(&cl->mu);
	const struct cl_own *e = own_find(cl, stream_id, shard);
	remote = e ? !e->mine : !hash_mine(cl, stream_id, shard);
	pthread_mutex_unlock(&cl->mu);
	return remote;
}

static int cmp_want(const void *a, const void *b)
{
	uint64_t x = ((const struct cl_want *)a)->stream_id;
	uint64_t y = ((const struct cl_want *)b)->stream_id;

	return x < y ? -1 : x > y;
}

void cp_cluster_want(struct cp_cluster *cl, const struct route_table *rt)
{
	struct cl_want *w = malloc((rt->n_streams ? rt->n_streams : 1) * sizeof(*w));

	if (w == NULL) {
		SL_WARN("cluster: no memory for the shards to own; the next table tries again");
		return;
	}
	for (uint32_t i = 0; i < rt->n_streams; i++)
		w[i] = (struct cl_want){ rt->streams[i].id, rt->streams[i].n_shards };
	qsort(w, rt->n_streams, sizeof(*w), cmp_want);
	pthread_mutex_lock(&cl->mu);
	free(cl->want);
	cl->want = w;
	cl->n_want = rt->n_streams;
	cl->want_set = true;
	cl->want_gen++;
	pthread_mutex_unlock(&cl->mu);
}

/* --- the set of live nodes --- */

static struct cl_node *node_find(struct cp_cluster *cl, const char *id, size_t n)
{
	for (uint32_t i = 0; i < cl->n_nodes; i++)
		if (strlen(cl->nodes[i].id) == n && memcmp(cl->nodes[i].id, id, n) == 0)
			return &cl->nodes[i];
	return NULL;
}

/* The address from a node key's value {"addr":"..."}; "" if unreadable
 * (the node still counts as live: the key is what says so). */
static void node_addr(const char *v, size_t n, char *out, size_t cap)
{
	struct json_tok toks[8];
	struct json_doc d;
	int32_t i;

	out[0] = '\0';
	if (json_parse(&d, v, n, toks, 8, 2, NULL) < 1 || toks[0].type != JSON_OBJECT)
		return;
	i = json_obj_get(&d, 0, "addr");
	if (i < 0 || toks[i].type != JSON_STRING || (toks[i].flags & JSON_TOK_ESCAPED) ||
	    toks[i].len >= cap)
		return;
	memcpy(out, v + toks[i].start, toks[i].len);
	out[toks[i].len] = '\0';
}

static void node_put(struct cp_cluster *cl, const char *id, size_t n, const char *v, size_t vn)
{
	struct cl_node *nd = node_find(cl, id, n);

	if (n == 0 || n > ES_CLUSTER_MAX)
		return;
	if (nd == NULL) {
		if (cl->n_nodes == CL_NODES_MAX) {
			SL_WARN("cluster: more than %u nodes; %.*s ignored", CL_NODES_MAX, (int)n, id);
			return;
		}
		pthread_mutex_lock(&cl->mu);
		nd = &cl->nodes[cl->n_nodes];
		memcpy(nd->id, id, n);
		nd->id[n] = '\0';
		node_addr(v, vn, nd->addr, sizeof(nd->addr));
		cl->n_nodes++;
		pthread_mutex_unlock(&cl->mu);
		/* the hash's choice for unclaimed shards changed */
		cl->meta_changed = true;
		cl->claim_due = true;
		SL_INFO("cluster: node %s joined (%s), %u live", nd->id, nd->addr, cl->n_nodes);
		return;
	}
	pthread_mutex_lock(&cl->mu);
	node_addr(v, vn, nd->addr, sizeof(nd->addr));
	pthread_mutex_unlock(&cl->mu);
}

static void node_del(struct cp_cluster *cl, const char *id, size_t n)
{
	struct cl_node *nd = node_find(cl, id, n);

	if (nd == NULL)
		return;
	SL_INFO("cluster: node %s left, %u live", nd->id, cl->n_nodes - 1);
	pthread_mutex_lock(&cl->mu);
	*nd = cl->nodes[--cl->n_nodes];
	pthread_mutex_unlock(&cl->mu);
	cl->meta_changed = true;
	cl->claim_due = true;
}

/* --- requests --- */

static int post(struct cp_cluster *cl, struct jw *w, const char *path)
{
	if (w->overflow)
		return -EIO;
	return etcd_post(cl->kv, path, w->len, cl->a) < 0 ? -EIO : 0;
}

static void w_key(struct jw *w, const char *name, const char *k)
{
	jw_key(w, name);
	jw_b64(w, k, strlen(k));
}

/* The prefix's range end: its last byte ('/') + 1. */
static void prefix_end(const struct cp_cluster *cl, char *out)
{
	memcpy(out, cl->prefix, cl->prefix_len + 1);
	out[cl->prefix_len - 1]++;
}

static int lease_grant(struct cp_cluster *cl)
{
	struct jw w;

	jw_init(&w, etcd_req_buf(cl->kv), ETCD_MSG_MAX_BYTES);
	jw_obj_begin(&w);
	jw_key(&w, "TTL");
	jw_i64(&w, cl->ttl_s);
	jw_obj_end(&w);
	if (post(cl, &w, "/v3/lease/grant") < 0 || cl->a->lease_id <= 0)
		return -EIO;
	cl->lease = cl->a->lease_id;
	return 0;
}

/* The node key, only if absent: 0 written, -EEXIST another holds it. */
static int node_register(struct cp_cluster *cl)
{
	char val[CL_ADDR_MAX + 16];
	struct jw w, v;

	jw_init(&v, val, sizeof(val));
	jw_obj_begin(&v);
	jw_key(&v, "addr");
	jw_str(&v, cl->addr);
	jw_obj_end(&v);
	if (v.overflow)
		return -EIO;
	jw_init(&w, etcd_req_buf(cl->kv), ETCD_MSG_MAX_BYTES);
	jw_obj_begin(&w);
	jw_key(&w, "compare");
	jw_arr_begin(&w);
	jw_obj_begin(&w);
	w_key(&w, "key", cl->node_key);
	jw_key(&w, "target");
	jw_str(&w, "CREATE");
	jw_key(&w, "create_revision");
	jw_i64(&w, 0);
	jw_obj_end(&w);
	jw_arr_end(&w);
	jw_key(&w, "success");
	jw_arr_begin(&w);
	jw_obj_begin(&w);
	jw_key(&w, "request_put");
	jw_obj_begin(&w);
	w_key(&w, "key", cl->node_key);
	jw_key(&w, "value");
	jw_b64(&w, val, v.len);
	jw_key(&w, "lease");
	jw_i64(&w, cl->lease);
	jw_obj_end(&w);
	jw_obj_end(&w);
	jw_arr_end(&w);
	jw_obj_end(&w);
	if (post(cl, &w, "/v3/kv/txn") < 0)
		return -EIO;
	return cl->a->succeeded ? 0 : -EEXIST;
}

/* 0 alive, -ENOENT the lease is gone, -EIO. */
static int lease_keepalive(struct cp_cluster *cl)
{
	struct jw w;

	jw_init(&w, etcd_req_buf(cl->kv), ETCD_MSG_MAX_BYTES);
	jw_obj_begin(&w);
	jw_key(&w, "ID");
	jw_i64(&w, cl->lease);
	jw_obj_end(&w);
	if (post(cl, &w, "/v3/lease/keepalive") < 0)
		return -EIO;
	return cl->a->ttl_s > 0 ? 0 : -ENOENT;
}

/* Ends the lease at once (a clean stop): the node key goes with it, so
 * the others see the node leave now rather than after the TTL. */
static void lease_revoke(struct cp_cluster *cl)
{
	struct jw w;

	if (cl->lease == 0)
		return;
	jw_init(&w, etcd_req_buf(cl->kv), ETCD_MSG_MAX_BYTES);
	jw_obj_begin(&w);
	jw_key(&w, "ID");
	jw_i64(&w, cl->lease);
	jw_obj_end(&w);
	if (post(cl, &w, "/v3/kv/lease/revoke") < 0)
		SL_WARN("cluster: lease revoke failed; node key expires after %u s", cl->ttl_s);
	cl->lease = 0;
}

/* One step of membership; sets the time of the next. */
static void lease_step(struct cp_cluster *cl, uint64_t now_ms)
{
	uint64_t every_ms = (uint64_t)cl->ttl_s * 1000u / 3u;
	int rc;

	cl->next_lease_ms = now_ms + CL_RETRY_MS;
	if (cl->lease == 0 && lease_grant(cl) < 0)
		return;
	if (cl->registered) {
		rc = lease_keepalive(cl);
		if (rc == -EIO)
			return;
		if (rc == -ENOENT) {
			SL_WARN("cluster: lease of node %s expired; registering again", cl->node_id);
			cl->lease = 0;
			cl->registered = false;
			cl->next_lease_ms = now_ms;
			return;
		}
		cl->next_lease_ms = now_ms + every_ms;
		return;
	}
	rc = node_register(cl);
	if (rc == -EEXIST) {
		if (!cl->taken_logged)
			SL_WARN("cluster: node id %s is held by a live lease; waiting for it to expire",
				cl->node_id);
		cl->taken_logged = true;
		/* keep our own lease alive meanwhile: it is reused */
		if (lease_keepalive(cl) == -ENOENT)
			cl->lease = 0;
		cl->next_lease_ms = now_ms + SL_MIN(every_ms, 1000u);
		return;
	}
	if (rc < 0)
		return;
	cl->registered = true;
	cl->claim_due = true; /* shards the hash gives us, under the new lease */
	cl->taken_logged = false;
	SL_INFO("cluster: node %s registered at %s (lease TTL %u s)", cl->node_id, cl->addr,
		cl->ttl_s);
	cl->next_lease_ms = now_ms + every_ms;
}

/* --- claiming and releasing shards --- */

/* One txn on key (the full key): a claim puts our record under our lease
 * only if the key is absent; a release deletes it only if it is still
 * under our lease. 1 done, 0 the compare failed, -EIO. */
static int own_txn(struct cp_cluster *cl, const char *key, bool claim)
{
	char val[CP_OWN_NODE_MAX + 48];
	int vn = 0;
	struct jw w;

	if (claim) {
		vn = cp_own_value_fmt(cl->node_id, cl->lease, val, sizeof(val));
		BUG_ON(vn < 0); /* the id is at most CP_OWN_NODE_MAX bytes */
	}
	jw_init(&w, etcd_req_buf(cl->kv), ETCD_MSG_MAX_BYTES);
	jw_obj_begin(&w);
	jw_key(&w, "compare");
	jw_arr_begin(&w);
	jw_obj_begin(&w);
	w_key(&w, "key", key);
	jw_key(&w, "target");
	jw_str(&w, claim ? "CREATE" : "LEASE");
	jw_key(&w, claim ? "create_revision" : "lease");
	jw_i64(&w, claim ? 0 : cl->lease);
	jw_obj_end(&w);
	jw_arr_end(&w);
	jw_key(&w, "success");
	jw_arr_begin(&w);
	jw_obj_begin(&w);
	jw_key(&w, claim ? "request_put" : "request_delete_range");
	jw_obj_begin(&w);
	w_key(&w, "key", key);
	if (claim) {
		jw_key(&w, "value");
		jw_b64(&w, val, (size_t)vn);
		jw_key(&w, "lease");
		jw_i64(&w, cl->lease);
	}
	jw_obj_end(&w);
	jw_obj_end(&w);
	jw_arr_end(&w);
	jw_obj_end(&w);
	if (post(cl, &w, "/v3/kv/txn") < 0)
		return -EIO;
	return cl->a->succeeded ? 1 : 0;
}

struct cl_job {
	uint64_t sid;
	uint32_t shard;
	bool claim; /* else release */
};

/* Under mu: up to CL_CLAIM_BATCH jobs: shards of the table without a
 * record that the hash gives us, and our records of streams that left the
 * table (deleted: stream ids are never reused). Returns the count; *more
 * says some were left for the next step. */
static uint32_t jobs_collect(struct cp_cluster *cl, struct cl_job *jobs, bool *more)
{
	uint32_t n = 0;

	*more = false;
	for (uint32_t i = 0; i < cl->n_want; i++) {
		for (uint32_t k = 0; k < cl->want[i].n_shards; k++) {
			uint64_t sid = cl->want[i].stream_id;
			if (own_find(cl, sid, k) || !hash_mine(cl, sid, k))
				continue;
			if (n == CL_CLAIM_BATCH) {
				*more = true;
				return n;
			}
			jobs[n++] = (struct cl_job){ sid, k, true };
		}
	}
	for (uint32_t i = 0; i < cl->own_cap && cl->want_set; i++) {
		const struct cl_own *e = &cl->own[i];
		struct cl_want key = { .stream_id = e->stream_id };
		if (!e->used || !e->mine ||
		    bsearch(&key, cl->want, cl->n_want, sizeof(key), cmp_want))
			continue;
		if (n == CL_CLAIM_BATCH) {
			*more = true;
			return n;
		}
		jobs[n++] = (struct cl_job){ e->stream_id, e->shard, false };
	}
	return n;
}

static void claim_step(struct cp_cluster *cl)
{
	struct cl_job jobs[CL_CLAIM_BATCH];
	char key[CL_PREFIX_MAX + CP_OWN_REL_CAP];
	uint32_t n;
	bool more;

	pthread_mutex_lock(&cl->mu);
	if (cl->want_gen != cl->want_seen) {
		cl->want_seen = cl->want_gen;
		cl->claim_due = true;
	}
	if (!cl->claim_due || !cl->registered || cl->lease == 0) {
		pthread_mutex_unlock(&cl->mu);
		return;
	}
	n = jobs_collect(cl, jobs, &more);
	pthread_mutex_unlock(&cl->mu);
	cl->claim_due = more;
	for (uint32_t i = 0; i < n; i++) {
		char rel[CP_OWN_REL_CAP];
		size_t rn = cp_own_rel_fmt(jobs[i].sid, jobs[i].shard, rel);
		int m = snprintf(key, sizeof(key), "%s%.*s", cl->prefix, (int)rn, rel);
		BUG_ON(m < 0 || (size_t)m >= sizeof(key));
		int rc = own_txn(cl, key, jobs[i].claim);
		if (rc < 0) {
			cl->claim_due = true; /* etcd away: again on the next loop */
			return;
		}
		if (rc == 0)
			continue; /* another node's record: the watch brings it */
		pthread_mutex_lock(&cl->mu);
		if (jobs[i].claim)
			rc = own_put(cl, jobs[i].sid, jobs[i].shard, true);
		else
			own_del(cl, jobs[i].sid, jobs[i].shard);
		pthread_mutex_unlock(&cl->mu);
		if (rc < 0)
			SL_ERR("cluster: claimed %s but cannot keep it: %s", key, strerror(-rc));
		if (jobs[i].claim)
			SL_DEBUG("cluster: node %s owns %s", cl->node_id, key);
		meta_bump(cl); /* the table's owners changed */
	}
}

/* --- the watch --- */

static void meta_bump(struct cp_cluster *cl)
{
	/* Pairs with the acquire load in cp.c's control loop: the control
	 * thread that sees the new generation reads the store afterwards. */
	atomic_fetch_add_explicit(&cl->cp->meta_gen, 1, memory_order_release);
}

/* After a complete reload: the records it did not read are gone. The map
 * stays whole meanwhile (a table built during the reload sees the old
 * records, not an empty map that would make every shard the hash's). */
static void own_drop_unseen(struct cp_cluster *cl)
{
	pthread_mutex_lock(&cl->mu);
	for (uint32_t i = 0; i < cl->own_cap;) {
		struct cl_own *e = &cl->own[i];
		if (e->used && !e->seen) {
			own_del(cl, e->stream_id, e->shard);
			continue; /* slot i may hold a moved entry now */
		}
		i++;
	}
	pthread_mutex_unlock(&cl->mu);
}

/* Every ownership record, read again (a page of CL_RANGE_PAGE keys at a
 * time, from the last key read + NUL); read after the node set, so the
 * watch's replay from that read's revision brings anything between. */
static int own_reload(struct cp_cluster *cl)
{
	char from[CL_PREFIX_MAX + CP_OWN_REL_CAP + 1], end[CL_PREFIX_MAX + 8];
	size_t from_len;
	struct jw w;
	int n = snprintf(end, sizeof(end), "%sown0", cl->prefix); /* '/' + 1 */

	BUG_ON(n < 0 || (size_t)n >= sizeof(end));
	from_len = (size_t)snprintf(from, sizeof(from), "%sown/", cl->prefix);
	pthread_mutex_lock(&cl->mu);
	for (uint32_t i = 0; i < cl->own_cap; i++)
		cl->own[i].seen = 0;
	pthread_mutex_unlock(&cl->mu);
	for (uint32_t page = 0; page <= CL_OWN_MAX / CL_RANGE_PAGE; page++) {
		jw_init(&w, etcd_req_buf(cl->kv), ETCD_MSG_MAX_BYTES);
		jw_obj_begin(&w);
		jw_key(&w, "key");
		jw_b64(&w, from, from_len);
		w_key(&w, "range_end", end);
		jw_key(&w, "limit");
		jw_i64(&w, CL_RANGE_PAGE);
		jw_obj_end(&w);
		if (post(cl, &w, "/v3/kv/range") < 0 || cl->a->n_ranges != 1)
			return -EIO;
		for (uint32_t k = 0; k < cl->a->n_kvs; k++) {
			const struct etcd_kv *kv = &cl->a->kvs[k];
			if (kv->key_len > cl->prefix_len)
				own_event(cl, kv->key + cl->prefix_len, kv->key_len - cl->prefix_len,
					  false, kv->value, kv->value_len);
		}
		if (!cl->a->range[0].more || cl->a->n_kvs == 0) {
			own_drop_unseen(cl);
			return 0;
		}
		const struct etcd_kv *last = &cl->a->kvs[cl->a->n_kvs - 1];
		if (last->key_len + 1 > sizeof(from))
			return -EIO; /* not a key of ours: the range is ours alone */
		memcpy(from, last->key, last->key_len);
		from[last->key_len] = '\0';
		from_len = last->key_len + 1;
	}
	SL_ERR("cluster: more than %u ownership records", CL_OWN_MAX);
	return -EIO;
}

/* The full reload: the node set from a range, the routing table rebuilt. */
static int reload(struct cp_cluster *cl)
{
	char key[sizeof(cl->node_key)], end[sizeof(cl->node_key)];
	struct jw w;
	int n = snprintf(key, sizeof(key), "%snodes/", cl->prefix);

	BUG_ON(n < 0 || (size_t)n >= sizeof(key));
	memcpy(end, key, (size_t)n + 1);
	end[n - 1]++;
	jw_init(&w, etcd_req_buf(cl->kv), ETCD_MSG_MAX_BYTES);
	jw_obj_begin(&w);
	w_key(&w, "key", key);
	w_key(&w, "range_end", end);
	jw_key(&w, "limit");
	jw_i64(&w, CL_NODES_MAX);
	jw_obj_end(&w);
	if (post(cl, &w, "/v3/kv/range") < 0 || cl->a->n_ranges != 1)
		return -EIO;
	/* who left while we were not watching */
	for (uint32_t i = 0; i < cl->n_nodes;) {
		bool found = false;
		for (uint32_t k = 0; k < cl->a->n_kvs && !found; k++)
			found = strcmp(cl->a->kvs[k].key + n, cl->nodes[i].id) == 0;
		if (found)
			i++;
		else
			node_del(cl, cl->nodes[i].id, strlen(cl->nodes[i].id));
	}
	for (uint32_t k = 0; k < cl->a->n_kvs; k++) {
		const struct etcd_kv *kv = &cl->a->kvs[k];
		if (kv->key_len > (size_t)n)
			node_put(cl, kv->key + n, kv->key_len - (size_t)n, kv->value, kv->value_len);
	}
	cl->last_rev = cl->a->revision;
	if (own_reload(cl) < 0)
		return -EIO;
	cl->claim_due = true;
	cl->meta_changed = false;
	meta_bump(cl);
	return 0;
}

static int watch_start(struct cp_cluster *cl)
{
	char end[sizeof(cl->prefix)];
	struct jw w;

	if (cl->need_reload) {
		if (reload(cl) < 0)
			return -EIO;
		cl->need_reload = false;
	}
	prefix_end(cl, end);
	jw_init(&w, etcd_req_buf(cl->w), ETCD_MSG_MAX_BYTES);
	jw_obj_begin(&w);
	jw_key(&w, "create_request");
	jw_obj_begin(&w);
	w_key(&w, "key", cl->prefix);
	w_key(&w, "range_end", end);
	jw_key(&w, "start_revision");
	jw_i64(&w, cl->last_rev + 1);
	jw_obj_end(&w);
	jw_obj_end(&w);
	BUG_ON(w.overflow);
	if (etcd_stream_start(cl->w, "/v3/watch", w.len) < 0)
		return -EIO;
	ew_reset(&cl->ep);
	cl->watching = true;
	return 0;
}

static int on_watch(void *arg, const struct ew_msg *m, const struct ew_event *ev)
{
	struct cp_cluster *cl = arg;

	if (ev == NULL) {
		if (m->canceled) {
			SL_WARN("cluster: watch canceled (compacted at %lld): full reload",
				(long long)m->compact_revision);
			return -ECANCELED;
		}
		if (cl->meta_changed)
			meta_bump(cl);
		cl->meta_changed = false;
		return 0;
	}
	if (ev->mod_rev > cl->last_rev)
		cl->last_rev = ev->mod_rev;
	if (ev->key_len < cl->prefix_len || memcmp(ev->key, cl->prefix, cl->prefix_len) != 0)
		return 0; /* not ours: etcd answered a range we did not ask for */
	const char *rel = ev->key + cl->prefix_len;
	size_t rel_len = ev->key_len - cl->prefix_len;
	if (rel_len > 6 && memcmp(rel, "nodes/", 6) == 0) {
		if (ev->del)
			node_del(cl, rel + 6, rel_len - 6);
		else
			node_put(cl, rel + 6, rel_len - 6, ev->value, ev->value_len);
		return 0;
	}
	if (rel_len > 4 && memcmp(rel, "own/", 4) == 0) {
		own_event(cl, rel, rel_len, ev->del, ev->value, ev->value_len);
		return 0;
	}
	cl->meta_changed = true;
	return 0;
}

static void watch_drop(struct cp_cluster *cl, uint64_t now_ms, bool reload_next)
{
	etcd_stream_stop(cl->w);
	cl->watching = false;
	cl->meta_changed = false;
	cl->need_reload |= reload_next;
	cl->next_watch_ms = now_ms + CL_RETRY_MS;
}

static void watch_step(struct cp_cluster *cl, uint32_t wait_ms)
{
	int64_t r = etcd_stream_read(cl->w, cl->rbuf, sizeof(cl->rbuf), wait_ms);
	int rc;

	if (r == 0)
		return;
	if (r < 0) {
		SL_WARN("cluster: watch connection lost; resuming at revision %lld",
			(long long)cl->last_rev + 1);
		watch_drop(cl, sl_mono_ms(), false);
		return;
	}
	rc = ew_feed(&cl->ep, cl->rbuf, (size_t)r, on_watch, cl);
	if (rc == 0)
		return;
	if (rc == 1) {
		watch_drop(cl, sl_mono_ms(), false);
		return;
	}
	if (rc != -ECANCELED)
		SL_WARN("cluster: watch stream unreadable (%s): full reload", strerror(-rc));
	watch_drop(cl, sl_mono_ms(), true);
}

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = { ms / 1000u, (long)(ms % 1000u) * 1000000L };

	clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
}

static void *cl_main(void *arg)
{
	struct cp_cluster *cl = arg;

	sl_log_thread_name("cluster");
	/* Pairs with the release store in cp_cluster_stop. */
	while (!atomic_load_explicit(&cl->stop, memory_order_acquire)) {
		uint64_t now = sl_mono_ms();

		if (now >= cl->next_lease_ms)
			lease_step(cl, now);
		claim_step(cl);
		if (!cl->watching && now >= cl->next_watch_ms && watch_start(cl) < 0)
			cl->next_watch_ms = now + CL_RETRY_MS;
		now = sl_mono_ms();
		uint32_t wait_ms = cl->claim_due ? 0 : CL_POLL_MS;
		if (cl->next_lease_ms > now && cl->next_lease_ms - now < wait_ms)
			wait_ms = (uint32_t)(cl->next_lease_ms - now);
		if (cl->next_lease_ms <= now)
			wait_ms = 0;
		if (cl->watching)
			watch_step(cl, wait_ms);
		else if (wait_ms > 0)
			sleep_ms(wait_ms);
	}
	etcd_stream_stop(cl->w);
	lease_revoke(cl);
	return NULL;
}

static void cl_free(struct cp_cluster *cl)
{
	etcd_close(cl->kv);
	etcd_close(cl->w);
	ew_free(&cl->ep);
	free(cl->a);
	free(cl->own);
	free(cl->want);
	pthread_mutex_destroy(&cl->mu);
	free(cl);
}

int cp_cluster_start(struct cp *cp, const struct cp_cluster_cfg *cfg)
{
	struct cp_cluster *cl;
	int rc, n;

	if (cfg == NULL || cfg->etcd == NULL || cfg->node_id == NULL || cfg->addr == NULL ||
	    cfg->node_id[0] == '\0' || strlen(cfg->node_id) > ES_CLUSTER_MAX ||
	    strlen(cfg->addr) >= CL_ADDR_MAX || cfg->lease_ttl_s < 2 || cfg->lease_ttl_s > 300 ||
	    cp->cluster != NULL)
		return -EINVAL;
	cl = calloc(1, sizeof(*cl));
	if (cl == NULL)
		return -ENOMEM;
	cl->cp = cp;
	atomic_init(&cl->stop, false);
	rc = pthread_mutex_init(&cl->mu, NULL);
	if (rc) {
		free(cl);
		return -rc;
	}
	cl->ttl_s = cfg->lease_ttl_s;
	snprintf(cl->node_id, sizeof(cl->node_id), "%s", cfg->node_id);
	snprintf(cl->addr, sizeof(cl->addr), "%s", cfg->addr);
	n = snprintf(cl->prefix, sizeof(cl->prefix), "/sluice/%s/", cfg->etcd->cluster);
	BUG_ON(n < 0 || (size_t)n >= sizeof(cl->prefix));
	cl->prefix_len = (size_t)n;
	n = snprintf(cl->node_key, sizeof(cl->node_key), "%snodes/%s", cl->prefix, cl->node_id);
	BUG_ON(n < 0 || (size_t)n >= sizeof(cl->node_key));
	cl->a = malloc(sizeof(*cl->a));
	cl->kv = etcd_open(&cfg->etcd->etcd);
	cl->w = etcd_open(&cfg->etcd->etcd);
	if (cl->a == NULL || cl->kv == NULL || cl->w == NULL || ew_init(&cl->ep) < 0) {
		rc = errno ? -errno : -ENOMEM;
		cl_free(cl);
		return rc;
	}
	cl->need_reload = true;
	/* Pairs with cp_clustered's acquire load: from here every routing
	 * table this node builds follows data keys and asks who owns each
	 * shard (cp_route.c), through cp->cluster, set first. */
	cp->cluster = cl;
	atomic_store_explicit(&cp->clustered, true, memory_order_release);
	/* Registered before the start returns when etcd allows: whoever sees
	 * sluiced.addr finds the node key already there. */
	lease_step(cl, sl_mono_ms());
	if (watch_start(cl) < 0)
		cl->next_watch_ms = sl_mono_ms() + CL_RETRY_MS;
	rc = pthread_create(&cl->thread, NULL, cl_main, cl);
	if (rc) {
		/* cl stays allocated (cp_cluster_free): the control thread may
		 * be building a table with it now */
		atomic_store_explicit(&cp->clustered, false, memory_order_release);
		lease_revoke(cl);
		cl->stopped = true;
		return -rc;
	}
	return 0;
}

void cp_cluster_stop(struct cp *cp)
{
	struct cp_cluster *cl = cp->cluster;

	if (cl == NULL || cl->stopped)
		return;
	/* Pairs with the acquire load in cl_main. */
	atomic_store_explicit(&cl->stop, true, memory_order_release);
	pthread_join(cl->thread, NULL);
	cl->stopped = true;
}

void cp_cluster_free(struct cp *cp)
{
	if (cp->cluster == NULL)
		return;
	cp_cluster_stop(cp);
	cl_free(cp->cluster);
	cp->cluster = NULL;
}


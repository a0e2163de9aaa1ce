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
 * Every etcd call is bounded by --etcd-timeout-ms; the thread checks for
 * stop at least every CL_POLL_MS. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "controlplane/cp_etcd_watch.h"
#include "controlplane/cp_internal.h"
#include "controlplane/cp_store_etcd.h"

#define CL_NODES_MAX 256u	/* live nodes tracked; more are logged and ignored */
#define CL_POLL_MS 100u		/* stop is noticed within this */
#define CL_RETRY_MS 500u	/* after a failed etcd call */
#define CL_ADDR_MAX 280u
#define CL_READ_BYTES 65536u	/* one read of the watch stream */

struct cl_node {
	char id[ES_CLUSTER_MAX + 1];
	char addr[CL_ADDR_MAX];
};

struct cp_cluster {
	struct cp *cp;
	pthread_t thread;
	atomic_bool stop; /* set by cp_cluster_stop, read by the thread */
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
	uint32_t n_nodes;
	struct cl_node nodes[CL_NODES_MAX];
	char rbuf[CL_READ_BYTES];
};

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
		nd = &cl->nodes[cl->n_nodes++];
		memcpy(nd->id, id, n);
		nd->id[n] = '\0';
		node_addr(v, vn, nd->addr, sizeof(nd->addr));
		SL_INFO("cluster: node %s joined (%s), %u live", nd->id, nd->addr, cl->n_nodes);
		return;
	}
	node_addr(v, vn, nd->addr, sizeof(nd->addr));
}

static void node_del(struct cp_cluster *cl, const char *id, size_t n)
{
	struct cl_node *nd = node_find(cl, id, n);

	if (nd == NULL)
		return;
	SL_INFO("cluster: node %s left, %u live", nd->id, cl->n_nodes - 1);
	*nd = cl->nodes[--cl->n_nodes];
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
	cl->taken_logged = false;
	SL_INFO("cluster: node %s registered at %s (lease TTL %u s)", cl->node_id, cl->addr,
		cl->ttl_s);
	cl->next_lease_ms = now_ms + every_ms;
}

/* --- the watch --- */

static void meta_bump(struct cp_cluster *cl)
{
	/* Pairs with the acquire load in cp.c's control loop: the control
	 * thread that sees the new generation reads the store afterwards. */
	atomic_fetch_add_explicit(&cl->cp->meta_gen, 1, memory_order_release);
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
		if (!cl->watching && now >= cl->next_watch_ms && watch_start(cl) < 0)
			cl->next_watch_ms = now + CL_RETRY_MS;
		now = sl_mono_ms();
		uint32_t wait_ms = CL_POLL_MS;
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
	 * table this node builds follows data keys (cp_route.c). */
	atomic_store_explicit(&cp->clustered, true, memory_order_release);
	/* Registered before the start returns when etcd allows: whoever sees
	 * sluiced.addr finds the node key already there. */
	lease_step(cl, sl_mono_ms());
	if (watch_start(cl) < 0)
		cl->next_watch_ms = sl_mono_ms() + CL_RETRY_MS;
	rc = pthread_create(&cl->thread, NULL, cl_main, cl);
	if (rc) {
		atomic_store_explicit(&cp->clustered, false, memory_order_release);
		lease_revoke(cl);
		cl_free(cl);
		return -rc;
	}
	cp->cluster = cl;
	return 0;
}

void cp_cluster_stop(struct cp *cp)
{
	struct cp_cluster *cl = cp->cluster;

	if (cl == NULL)
		return;
	/* Pairs with the acquire load in cl_main. */
	atomic_store_explicit(&cl->stop, true, memory_order_release);
	pthread_join(cl->thread, NULL);
	cl_free(cl);
	cp->cluster = NULL;
}


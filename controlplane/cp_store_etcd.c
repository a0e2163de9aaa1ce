/* SPDX-License-Identifier: Apache-2.0 */
/* The etcd metadata store (cp_store.h's second backend), over etcd v3's
 * JSON gateway (cp_etcd.h). Key layout, under P = /sluice/<cluster>/ (the
 * README of this folder has it too):
 *
 *   P schema                      "1"
 *   P id                          next stream id, decimal (bumped by CAS)
 *   P k/<key>                     account key/value setting
 *   P s/<stream>                  stream record (JSON, below)
 *   P h/<stream>/<index %010u>    shard record (JSON)
 *   P u/<stream>/<index %010u>    "" : closed shard without an ending seq
 *   P t/<stream>/<tag key>        tag value
 *   P n/<stream>/<at_ms, 16 hex>  "" : one UpdateShardCount (offset binary)
 *   P c/<stream>/<consumer>       consumer record (JSON)
 *   P a/<consumer ARN>            the same consumer record, by ARN
 *   P ds/<deadline 16 hex>/<stream>            status: a stream's deadline
 *   P dc/<deadline 16 hex>/<stream>/<consumer> status: a consumer's
 *   P p/<ARN>                     "<stream>\n<policy text>"
 *   P ps/<stream>/<ARN>           "" : the policies a stream takes along
 *   P ch/<channel>                channel record (JSON)
 *   P cha/<channel ARN>           the channel's name (by ARN; the ARN unique)
 *   P chs/<stream>/<channel>      "" : a stream's channels (channel_count)
 *   P chd/<deadline 16 hex>/<channel ARN>      status: a channel's deadline
 *
 * The four channel keys are written and deleted together; channels are
 * not removed with their stream (nor are they in the SQLite backend:
 * DeleteStream refuses a stream that has channels).
 *
 * etcd sorts keys bytewise, so every listing the contract orders by name,
 * key, index or ARN is one range in key order; fixed-width numbers keep
 * numeric order. Stream names, consumer names and the cluster have no '/',
 * so a prefix never matches a longer name.
 *
 * Atomicity and durability: each mutating call is ONE etcd transaction,
 * durable (in a quorum's WAL) when etcd answers. A read-modify-write
 * compares the mod_revision of what it read, so a change made meanwhile
 * (another node, later) fails the compare instead of being overwritten; the
 * call then re-reads and tries again, at most ES_CAS_TRIES times, and says
 * -EIO after that. Uniqueness (a stream or consumer name, the ARN) is a
 * compare on create_revision == 0. Ids are never reused: the id key is
 * bumped in the same transaction that creates the stream, compared on its
 * mod_revision.
 *
 * Bounds: a transaction holds the stream's shards and tags, so etcd's
 * --max-txn-ops (default 128) and --max-request-bytes (1.5 MiB) bound
 * the shards one CreateStream or reshard can write: run etcd with
 * --max-txn-ops above the largest shard count used (tests: 10240).
 * Listings read at most ES_PAGE records per request. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"
#include "common/clock.h"
#include "common/log.h"
#include "controlplane/cp_etcd.h"
#include "controlplane/cp_internal.h"
#include "controlplane/cp_store_etcd.h"

#define ES_KEY_CAP 2600u   /* prefix + stream + ARN (policy ARNs: 2048) + slack */
#define ES_VAL_CAP 16384u  /* one record's JSON (a KeyId of 2048, escaped) */
#define ES_CAS_TRIES 4	   /* read-modify-write attempts before -EIO */
#define ES_PAGE 64u	   /* records per range request when listing */
#define ES_VTOKS 64u	   /* tokens of one record */
#define ES_SCHEMA "1"

struct es {
	struct cp_store base; /* first: cp_store * <-> es * */
	struct etcd *e;
	char prefix[96]; /* "/sluice/<cluster>/" */
	size_t plen;
	struct etcd_ans *a;
	struct json_tok vtoks[ES_VTOKS];
	char val[ES_VAL_CAP];
};

static struct es *es_of(struct cp_store *st)
{
	BUG_ON(st->ops != &cp_store_etcd_ops);
	return (struct es *)st;
}

/* --- keys --- */

/* P + the formatted rest into out[ES_KEY_CAP]: its length, -EIO when it
 * does not fit (callers validated the names; this is the backstop). */
static int __attribute__((format(printf, 3, 4))) es_key(struct es *s, char *out,
							 const char *fmt, ...)
{
	va_list ap;
	int n;

	memcpy(out, s->prefix, s->plen);
	va_start(ap, fmt);
	n = vsnprintf(out + s->plen, ES_KEY_CAP - s->plen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= ES_KEY_CAP - s->plen - 1) /* room for a trailing NUL byte */
		return -EIO;
	return (int)s->plen + n;
}

/* The end of the range of every key starting with key[0..n): last byte + 1
 * (our prefixes end in '/', never 0xff). */
static void prefix_end(const char *key, size_t n, char *end)
{
	memcpy(end, key, n);
	BUG_ON(n == 0 || (uint8_t)end[n - 1] == 0xff);
	end[n - 1]++;
}

static const char *dl_hex(int64_t ms, char out[17])
{
	snprintf(out, 17, "%016" PRIx64, (uint64_t)ms ^ (UINT64_C(1) << 63)); /* sorts as signed */
	return out;
}

/* --- requests --- */

static void w_init(struct es *s, struct jw *w)
{
	jw_init(w, etcd_req_buf(s->e), ETCD_MSG_MAX_BYTES);
}

static void w_bytes(struct jw *w, const char *name, const char *p, size_t n)
{
	jw_key(w, name);
	jw_b64(w, p, n);
}

/* A RangeRequest's members: [key, end) or the one key (end NULL); after
 * is true to start just after key (key + NUL byte). */
static void w_range(struct jw *w, const char *key, size_t klen, const char *end, size_t elen,
		    uint32_t limit, bool count_only)
{
	jw_obj_begin(w);
	w_bytes(w, "key", key, klen);
	if (end != NULL)
		w_bytes(w, "range_end", end, elen);
	if (limit) {
		jw_key(w, "limit");
		jw_i64(w, limit);
	}
	if (count_only) {
		jw_key(w, "count_only");
		jw_bool(w, true);
	}
	jw_obj_end(w);
}

static int w_send(struct es *s, struct jw *w, const char *path)
{
	if (w->overflow) {
		SL_ERR("etcd: a request over %u bytes", ETCD_MSG_MAX_BYTES);
		return -EIO;
	}
	int rc = etcd_post(s->e, path, w->len, s->a);
	return rc < 0 ? -EIO : 0;
}

/* One range request: key alone, or [key, end). */
static int es_range(struct es *s, const char *key, size_t klen, const char *end, size_t elen,
		    uint32_t limit, bool count_only)
{
	struct jw w;

	w_init(s, &w);
	w_range(&w, key, klen, end, elen, limit, count_only);
	return w_send(s, &w, "/v3/kv/range");
}

/* Reads one key: 0 with *kv (valid until the next request), -ENOENT, -EIO. */
static int es_get(struct es *s, const char *key, size_t klen, const struct etcd_kv **kv)
{
	int rc = es_range(s, key, klen, NULL, 0, 0, false);

	if (rc)
		return rc;
	if (s->a->n_ranges != 1 || s->a->range[0].n == 0)
		return -ENOENT;
	*kv = &s->a->kvs[s->a->range[0].first];
	return 0;
}

/* A transaction being written: compares, then success operations, then
 * (optionally) failure ones. */
struct txn {
	struct jw w;
	int part;     /* 0 compare, 1 success, 2 failure */
	uint32_t ops; /* compares and operations, against ETCD_TXN_OPS_MAX */
};

static void txn_begin(struct es *s, struct txn *t)
{
	w_init(s, &t->w);
	jw_obj_begin(&t->w);
	jw_key(&t->w, "compare");
	jw_arr_begin(&t->w);
	t->part = 0;
	t->ops = 0;
}

/* key's mod_revision (target MOD) or create_revision (CREATE) equals rev;
 * CREATE == 0 is "absent". */
static void txn_cmp(struct txn *t, const char *key, size_t klen, bool create, int64_t rev)
{
	t->ops++;
	BUG_ON(t->part != 0);
	jw_obj_begin(&t->w);
	w_bytes(&t->w, "key", key, klen);
	jw_key(&t->w, "target");
	jw_str(&t->w, create ? "CREATE" : "MOD");
	jw_key(&t->w, "result");
	jw_str(&t->w, "EQUAL");
	jw_key(&t->w, create ? "create_revision" : "mod_revision");
	jw_i64(&t->w, rev);
	jw_obj_end(&t->w);
}

static void txn_next(struct txn *t)
{
	jw_arr_end(&t->w);
	jw_key(&t->w, t->part == 0 ? "success" : "failure");
	jw_arr_begin(&t->w);
	t->part++;
}

static void txn_put(struct txn *t, const char *key, size_t klen, const char *v, size_t vlen)
{
	t->ops++;
	BUG_ON(t->part == 0);
	jw_obj_begin(&t->w);
	jw_key(&t->w, "request_put");
	jw_obj_begin(&t->w);
	w_bytes(&t->w, "key", key, klen);
	w_bytes(&t->w, "value", v, vlen);
	jw_obj_end(&t->w);
	jw_obj_end(&t->w);
}

/* Deletes key, or every key in [key, end) when end is not NULL. */
static void txn_del(struct txn *t, const char *key, size_t klen, const char *end, size_t elen)
{
	t->ops++;
	BUG_ON(t->part == 0);
	jw_obj_begin(&t->w);
	jw_key(&t->w, "request_delete_range");
	jw_obj_begin(&t->w);
	w_bytes(&t->w, "key", key, klen);
	if (end != NULL)
		w_bytes(&t->w, "range_end", end, elen);
	jw_obj_end(&t->w);
	jw_obj_end(&t->w);
}

static void txn_del_prefix(struct txn *t, const char *key, size_t klen)
{
	char end[ES_KEY_CAP];

	prefix_end(key, klen, end);
	txn_del(t, key, klen, end, klen);
}

static void txn_range(struct txn *t, const char *key, size_t klen, const char *end, size_t elen,
		      bool count_only)
{
	BUG_ON(t->part == 0);
	t->ops++;
	jw_obj_begin(&t->w);
	jw_key(&t->w, "request_range");
	w_range(&t->w, key, klen, end, elen, 0, count_only);
	jw_obj_end(&t->w);
}

/* Sends it: 1 the compares held, 0 they did not, -EIO. */
static int txn_commit(struct es *s, struct txn *t)
{
	if (t->ops > ETCD_TXN_OPS_MAX) {
		SL_ERR("etcd: a transaction of %u operations (most: %u)", t->ops,
		       ETCD_TXN_OPS_MAX);
		return -EIO;
	}
	while (t->part < 1)
		txn_next(t);
	jw_arr_end(&t->w);
	jw_obj_end(&t->w);
	int rc = w_send(s, &t->w, "/v3/kv/txn");
	return rc < 0 ? rc : s->a->succeeded ? 1 : 0;
}

/* --- records: JSON values --- */

struct vr {
	struct json_doc d;
	int err;
};

static int vr_open(struct es *s, struct vr *r, const struct etcd_kv *kv)
{
	r->err = 0;
	if (json_parse(&r->d, kv->value, kv->value_len, s->vtoks, ES_VTOKS, 2, NULL) < 1 ||
	    s->vtoks[0].type != JSON_OBJECT) {
		SL_ERR("etcd: a record that is not ours under %.*s", (int)SL_MIN(kv->key_len, 200u),
		       kv->key);
		return -EIO;
	}
	return 0;
}

static int64_t vr_i64(struct vr *r, const char *name)
{
	int32_t i = json_obj_get(&r->d, 0, name);
	int64_t v = 0;

	if (i < 0)
		return 0;
	if (r->d.toks[i].type != JSON_NUMBER || json_num_i64(&r->d, (uint32_t)i, &v) < 0)
		r->err = -EIO;
	return v;
}

static void vr_str(struct vr *r, const char *name, char *out, size_t cap)
{
	int32_t i = json_obj_get(&r->d, 0, name);

	out[0] = '\0';
	if (i < 0)
		return;
	if (r->d.toks[i].type != JSON_STRING) {
		r->err = -EIO;
		return;
	}
	int64_t n = json_str_unescape(&r->d, (uint32_t)i, out, cap);
	if (n < 0 || (size_t)n >= cap)
		r->err = -EIO;
	else
		out[n] = '\0';
}

static void wi(struct jw *w, const char *k, int64_t v)
{
	jw_key(w, k);
	jw_i64(w, v);
}

static void ws(struct jw *w, const char *k, const char *v)
{
	jw_key(w, k);
	jw_str(w, v);
}

/* The stream record; last_ms is the newest shard's created_ms
 * (shard_last_created). Into s->val: its length, or -EIO. */
static int stream_enc(struct es *s, const struct cp_stream *cs, int64_t last_ms)
{
	struct jw w;

	jw_init(&w, s->val, sizeof(s->val));
	jw_obj_begin(&w);
	wi(&w, "id", (int64_t)cs->id);
	ws(&w, "arn", cs->arn);
	wi(&w, "status", cs->status);
	wi(&w, "mode", cs->mode);
	wi(&w, "enc", cs->encryption);
	wi(&w, "ret", cs->retention_hours);
	wi(&w, "open", cs->shard_count);
	wi(&w, "total", cs->shard_total);
	wi(&w, "mrk", cs->max_record_kib);
	wi(&w, "warm", cs->warm_mibps);
	wi(&w, "metrics", cs->metrics);
	wi(&w, "created", cs->created_ms);
	wi(&w, "deadline", cs->deadline_ms);
	ws(&w, "key_id", cs->key_id);
	wi(&w, "dist", cs->distribution);
	wi(&w, "last", last_ms);
	jw_obj_end(&w);
	return w.overflow ? -EIO : (int)w.len;
}

static int stream_dec(struct es *s, const struct etcd_kv *kv, const char *name,
		      struct cp_stream *cs, int64_t *last_ms)
{
	struct vr r;

	if (vr_open(s, &r, kv))
		return -EIO;
	memset(cs, 0, sizeof(*cs));
	snprintf(cs->name, sizeof(cs->name), "%s", name);
	cs->id = (uint64_t)vr_i64(&r, "id");
	vr_str(&r, "arn", cs->arn, sizeof(cs->arn));
	cs->status = (uint8_t)vr_i64(&r, "status");
	cs->mode = (uint8_t)vr_i64(&r, "mode");
	cs->encryption = (uint8_t)vr_i64(&r, "enc");
	cs->retention_hours = (uint32_t)vr_i64(&r, "ret");
	cs->shard_count = (uint32_t)vr_i64(&r, "open");
	cs->shard_total = (uint32_t)vr_i64(&r, "total");
	cs->max_record_kib = (uint32_t)vr_i64(&r, "mrk");
	cs->warm_mibps = (uint32_t)vr_i64(&r, "warm");
	cs->metrics = (uint8_t)vr_i64(&r, "metrics");
	cs->created_ms = vr_i64(&r, "created");
	cs->deadline_ms = vr_i64(&r, "deadline");
	vr_str(&r, "key_id", cs->key_id, sizeof(cs->key_id));
	cs->distribution = (uint8_t)vr_i64(&r, "dist");
	if (last_ms != NULL)
		*last_ms = vr_i64(&r, "last");
	return r.err;
}

/* Empty strings and zeros are left out (the decoder reads absent as
 * those): a create writes every shard in one transaction, so bytes count. */
static void ws_opt(struct jw *w, const char *k, const char *v)
{
	if (v[0])
		ws(w, k, v);
}

static void wi_opt(struct jw *w, const char *k, int64_t v)
{
	if (v)
		wi(w, k, v);
}

static int shard_enc(struct es *s, const struct cp_shard *sh)
{
	struct jw w;

	jw_init(&w, s->val, sizeof(s->val));
	jw_obj_begin(&w);
	wi_opt(&w, "i", sh->index);
	ws(&w, "id", sh->id);
	ws(&w, "hs", sh->hash_start);
	ws(&w, "he", sh->hash_end);
	ws(&w, "ss", sh->start_seq);
	ws_opt(&w, "es", sh->end_seq);
	ws_opt(&w, "p", sh->parent);
	ws_opt(&w, "a", sh->adjacent);
	wi(&w, "c", sh->created_ms);
	wi_opt(&w, "x", sh->closed_ms);
	jw_obj_end(&w);
	return w.overflow ? -EIO : (int)w.len;
}

static int shard_dec(struct es *s, const struct etcd_kv *kv, struct cp_shard *sh)
{
	struct vr r;

	if (vr_open(s, &r, kv))
		return -EIO;
	memset(sh, 0, sizeof(*sh));
	sh->index = (uint32_t)vr_i64(&r, "i");
	vr_str(&r, "id", sh->id, sizeof(sh->id));
	vr_str(&r, "hs", sh->hash_start, sizeof(sh->hash_start));
	vr_str(&r, "he", sh->hash_end, sizeof(sh->hash_end));
	vr_str(&r, "ss", sh->start_seq, sizeof(sh->start_seq));
	vr_str(&r, "es", sh->end_seq, sizeof(sh->end_seq));
	vr_str(&r, "p", sh->parent, sizeof(sh->parent));
	vr_str(&r, "a", sh->adjacent, sizeof(sh->adjacent));
	sh->created_ms = vr_i64(&r, "c");
	sh->closed_ms = vr_i64(&r, "x");
	return r.err;
}

static int consumer_enc(struct es *s, const struct cp_consumer *c)
{
	struct jw w;

	jw_init(&w, s->val, sizeof(s->val));
	jw_obj_begin(&w);
	ws(&w, "s", c->stream);
	ws(&w, "n", c->name);
	ws(&w, "arn", c->arn);
	wi(&w, "st", c->status);
	wi(&w, "c", c->created_ms);
	wi(&w, "d", c->deadline_ms);
	jw_obj_end(&w);
	return w.overflow ? -EIO : (int)w.len;
}

static int consumer_dec(struct es *s, const struct etcd_kv *kv, struct cp_consumer *c)
{
	struct vr r;

	if (vr_open(s, &r, kv))
		return -EIO;
	memset(c, 0, sizeof(*c));
	vr_str(&r, "s", c->stream, sizeof(c->stream));
	vr_str(&r, "n", c->name, sizeof(c->name));
	vr_str(&r, "arn", c->arn, sizeof(c->arn));
	c->status = (uint8_t)vr_i64(&r, "st");
	c->created_ms = vr_i64(&r, "c");
	c->deadline_ms = vr_i64(&r, "d");
	return r.err;
}

/* --- open / close --- */

static bool cluster_ok(const char *c)
{
	size_t n = strlen(c);

	return n >= 1 && n <= ES_CLUSTER_MAX &&
	       strspn(c, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static void es_close(struct cp_store *st)
{
	struct es *s = es_of(st);

	etcd_close(s->e);
	free(s->a);
	free(s);
}

/* Writes the schema key when absent, refuses another version. */
static int es_schema(struct es *s)
{
	char key[ES_KEY_CAP];
	const struct etcd_kv *kv = NULL;
	struct txn t;
	int n = es_key(s, key, "schema"), rc;

	if (n < 0)
		return -EIO;
	txn_begin(s, &t);
	txn_cmp(&t, key, (size_t)n, true, 0);
	txn_next(&t);
	txn_put(&t, key, (size_t)n, ES_SCHEMA, strlen(ES_SCHEMA));
	if ((rc = txn_commit(s, &t)) < 0)
		return rc;
	if ((rc = es_get(s, key, (size_t)n, &kv)) < 0)
		return rc;
	if (strcmp(kv->value, ES_SCHEMA) != 0) {
		SL_ERR("etcd: %s is schema %.16s, this build speaks %s", key, kv->value, ES_SCHEMA);
		return -EPROTO;
	}
	return 0;
}

struct cp_store *cp_store_etcd_open(const struct cp_store_etcd_cfg *cfg)
{
	struct es *s;
	int rc = -EINVAL;

	if (cfg == NULL || cfg->cluster == NULL || !cluster_ok(cfg->cluster)) {
		errno = EINVAL;
		return NULL;
	}
	cp_store_ops_check(&cp_store_etcd_ops);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->base.ops = &cp_store_etcd_ops;
	s->plen = (size_t)snprintf(s->prefix, sizeof(s->prefix), "/sluice/%s/", cfg->cluster);
	s->a = malloc(sizeof(*s->a));
	s->e = etcd_open(&cfg->etcd);
	if (s->a == NULL || s->e == NULL) {
		rc = s->e == NULL ? -errno : -ENOMEM;
		goto fail;
	}
	/* A store that cannot be reached fails the start, not the first call. */
	if ((rc = es_schema(s)) < 0) {
		SL_ERR("etcd: %s unreachable or unusable", cfg->etcd.endpoint);
		goto fail;
	}
	return &s->base;
fail:
	etcd_close(s->e);
	free(s->a);
	free(s);
	errno = rc == -EPROTO ? EPROTO : rc == -EINVAL ? EINVAL : rc == -ENOMEM ? ENOMEM : EIO;
	return NULL;
}

/* ops->open: spec is "ENDPOINT[ CLUSTER]" (plain http: TLS needs files,
 * cp_store_etcd_open takes them). For the contract tests. */
static struct cp_store *es_open_spec(const char *spec)
{
	char url[256], cluster[ES_CLUSTER_MAX + 2] = "default";
	const char *sp = strchr(spec, ' ');
	size_t ul = sp ? (size_t)(sp - spec) : strlen(spec);

	if (ul >= sizeof(url) || (sp && strlen(sp + 1) >= sizeof(cluster))) {
		errno = EINVAL;
		return NULL;
	}
	memcpy(url, spec, ul);
	url[ul] = '\0';
	if (sp)
		snprintf(cluster, sizeof(cluster), "%s", sp + 1);
	struct cp_store_etcd_cfg cfg = { .etcd = { .endpoint = url }, .cluster = cluster };
	return cp_store_etcd_open(&cfg);
}

/* --- streams --- */

/* The stream and its consumer count in one read (a txn of two ranges, so
 * they are of one revision). *rev gets the record's mod_revision. */
static int stream_read(struct es *s, const char *name, struct cp_stream *out, int64_t *rev,
		       int64_t *last_ms)
{
	char key[ES_KEY_CAP], ck[ES_KEY_CAP], ce[ES_KEY_CAP];
	int n = es_key(s, key, "s/%s", name), cn = es_key(s, ck, "c/%s/", name), rc;
	struct txn t;

	if (n < 0 || cn < 0)
		return -EIO;
	prefix_end(ck, (size_t)cn, ce);
	txn_begin(s, &t);
	txn_next(&t);
	txn_range(&t, key, (size_t)n, NULL, 0, false);
	txn_range(&t, ck, (size_t)cn, ce, (size_t)cn, true);
	if ((rc = txn_commit(s, &t)) < 0)
		return rc;
	if (s->a->n_ranges != 2)
		return -EIO;
	if (s->a->range[0].n == 0)
		return -ENOENT;
	const struct etcd_kv *kv = &s->a->kvs[s->a->range[0].first];
	if (stream_dec(s, kv, name, out, last_ms) < 0)
		return -EIO;
	out->n_consumers = (uint32_t)s->a->range[1].count;
	*rev = kv->mod_rev;
	return 0;
}

static int es_stream_get(struct cp_store *st, const char *name, struct cp_stream *out)
{
	int64_t rev;

	return stream_read(es_of(st), name, out, &rev, NULL);
}

/* Puts the stream record and moves its deadline index from old_dl. */
static int txn_stream(struct es *s, struct txn *t, const struct cp_stream *cs, int64_t last_ms,
		      int64_t old_dl)
{
	char key[ES_KEY_CAP], hex[17], st[4];
	int n = es_key(s, key, "s/%s", cs->name), v = stream_enc(s, cs, last_ms);

	if (n < 0 || v < 0)
		return -EIO;
	txn_put(t, key, (size_t)n, s->val, (size_t)v);
	if (old_dl > 0 && old_dl != cs->deadline_ms) {
		if ((n = es_key(s, key, "ds/%s/%s", dl_hex(old_dl, hex), cs->name)) < 0)
			return -EIO;
		txn_del(t, key, (size_t)n, NULL, 0);
	}
	if (cs->deadline_ms > 0) {
		if ((n = es_key(s, key, "ds/%s/%s", dl_hex(cs->deadline_ms, hex), cs->name)) < 0)
			return -EIO;
		snprintf(st, sizeof(st), "%u", cs->status);
		txn_put(t, key, (size_t)n, st, strlen(st));
	}
	return 0;
}

static int txn_shard(struct es *s, struct txn *t, const char *name, const struct cp_shard *sh)
{
	char key[ES_KEY_CAP];
	int n = es_key(s, key, "h/%s/%010u", name, sh->index), v = shard_enc(s, sh);

	if (n < 0 || v < 0)
		return -EIO;
	txn_put(t, key, (size_t)n, s->val, (size_t)v);
	return 0;
}

static int txn_tags(struct es *s, struct txn *t, const char *name, const struct cp_tag *tags,
		    uint32_t n_tags)
{
	char key[ES_KEY_CAP];

	for (uint32_t i = 0; i < n_tags; i++) {
		int n = es_key(s, key, "t/%s/%s", name, tags[i].key);
		if (n < 0)
			return -EIO;
		txn_put(t, key, (size_t)n, tags[i].value, strlen(tags[i].value));
	}
	return 0;
}

static int es_stream_create(struct cp_store *st, struct cp_stream *cs, const struct cp_tag *tags,
			    uint32_t n_tags)
{
	struct es *s = es_of(st);
	char idk[ES_KEY_CAP], key[ES_KEY_CAP], num[24];
	int in = es_key(s, idk, "id"), n = es_key(s, key, "s/%s", cs->name), rc;

	if (in < 0 || n < 0)
		return -EIO;
	for (int tries = 0; tries < ES_CAS_TRIES; tries++) {
		const struct etcd_kv *kv = NULL;
		int64_t next = 1, rev = 0;
		struct txn t;
		struct cp_shard sh;

		rc = es_get(s, idk, (size_t)in, &kv);
		if (rc == 0) {
			next = strtoll(kv->value, NULL, 10);
			rev = kv->mod_rev;
			if (next < 1)
				return -EIO;
		} else if (rc != -ENOENT)
			return rc;
		cs->id = (uint64_t)next;
		cs->shard_total = cs->shard_count;
		txn_begin(s, &t);
		txn_cmp(&t, key, (size_t)n, true, 0);
		txn_cmp(&t, idk, (size_t)in, rev == 0, rev);
		txn_next(&t);
		snprintf(num, sizeof(num), "%" PRId64, next + 1);
		txn_put(&t, idk, (size_t)in, num, strlen(num));
		if (txn_stream(s, &t, cs, cs->created_ms, 0) < 0)
			return -EIO;
		for (uint32_t i = 0; i < cs->shard_count; i++) {
			cp_shard_make(i, cs->shard_count, cs->created_ms, &sh);
			sh.created_ms = cs->created_ms;
			if (txn_shard(s, &t, cs->name, &sh) < 0)
				return -EIO;
		}
		if (txn_tags(s, &t, cs->name, tags, n_tags) < 0)
			return -EIO;
		txn_next(&t);
		txn_range(&t, key, (size_t)n, NULL, 0, true);
		if ((rc = txn_commit(s, &t)) != 0)
			return rc < 0 ? rc : 0;
		if (s->a->n_ranges == 1 && s->a->range[0].count > 0)
			return -EEXIST;
		/* the id moved under us: read it again */
	}
	return -EIO;
}

/* A read-modify-write of one stream record, compared on its revision. */
typedef int (*stream_edit_fn)(struct cp_stream *cs, int64_t *last_ms, const void *arg);

static int stream_update(struct es *s, const char *name, stream_edit_fn edit, const void *arg)
{
	char key[ES_KEY_CAP];
	int n = es_key(s, key, "s/%s", name), rc;

	if (n < 0)
		return -EIO;
	for (int tries = 0; tries < ES_CAS_TRIES; tries++) {
		struct cp_stream cs;
		int64_t rev, last = 0, old_dl;
		struct txn t;

		if ((rc = stream_read(s, name, &cs, &rev, &last)) < 0)
			return rc;
		old_dl = cs.deadline_ms;
		if ((rc = edit(&cs, &last, arg)) < 0)
			return rc;
		txn_begin(s, &t);
		txn_cmp(&t, key, (size_t)n, false, rev);
		txn_next(&t);
		if (txn_stream(s, &t, &cs, last, old_dl) < 0)
			return -EIO;
		if ((rc = txn_commit(s, &t)) != 0)
			return rc < 0 ? rc : 0;
	}
	return -EIO;
}

struct edit_status {
	uint8_t status;
	int64_t deadline_ms;
	const char *key_id; /* set_encryption: NULL = NONE */
	bool encryption;
};

static int edit_status(struct cp_stream *cs, int64_t *last_ms, const void *arg)
{
	const struct edit_status *e = arg;

	(void)last_ms;
	cs->status = e->status;
	cs->deadline_ms = e->deadline_ms;
	if (e->encryption) {
		cs->encryption = e->key_id != NULL;
		snprintf(cs->key_id, sizeof(cs->key_id), "%s", e->key_id ? e->key_id : "");
	}
	return 0;
}

static int es_stream_set_status(struct cp_store *st, const char *name, uint8_t status,
				int64_t deadline_ms)
{
	struct edit_status e = { .status = status, .deadline_ms = deadline_ms };

	return stream_update(es_of(st), name, edit_status, &e);
}

static int es_stream_set_encryption(struct cp_store *st, const char *name, const char *key_id,
				    uint8_t status, int64_t deadline_ms)
{
	struct edit_status e = { status, deadline_ms, key_id, true };

	return stream_update(es_of(st), name, edit_status, &e);
}

struct edit_field {
	const char *field;
	int64_t value;
};

static int edit_field(struct cp_stream *cs, int64_t *last_ms, const void *arg)
{
	const struct edit_field *f = arg;

	(void)last_ms;
	if (strcmp(f->field, "retention") == 0)
		cs->retention_hours = (uint32_t)f->value;
	else if (strcmp(f->field, "mode") == 0)
		cs->mode = (uint8_t)f->value;
	else if (strcmp(f->field, "max_record_kib") == 0)
		cs->max_record_kib = (uint32_t)f->value;
	else if (strcmp(f->field, "warm_mibps") == 0)
		cs->warm_mibps = (uint32_t)f->value;
	else if (strcmp(f->field, "metrics") == 0)
		cs->metrics = (uint8_t)f->value;
	else if (strcmp(f->field, "distribution") == 0)
		cs->distribution = (uint8_t)f->value;
	else
		BUG_ON(1); /* a constant of the caller, never request data */
	return 0;
}

static int es_stream_set_retention(struct cp_store *st, const char *name, uint32_t hours)
{
	struct edit_field f = { "retention", hours };

	return stream_update(es_of(st), name, edit_field, &f);
}

static int es_stream_set_field(struct cp_store *st, const char *name, const char *field,
			       int64_t value)
{
	struct edit_field f = { field, value };

	return stream_update(es_of(st), name, edit_field, &f);
}

/* Consumers of a stream, collected (at most CP_CONSUMERS_PER_STREAM and
 * a margin), for the calls that rewrite or delete them all. */
#define ES_CONSUMERS_MAX 64u
struct consumers {
	uint32_t n;
	struct cp_consumer c[ES_CONSUMERS_MAX];
	int64_t rev[ES_CONSUMERS_MAX];
};

static int consumers_read(struct es *s, const char *stream, struct consumers *out)
{
	char k[ES_KEY_CAP], e[ES_KEY_CAP];
	int n = es_key(s, k, "c/%s/", stream), rc;

	if (n < 0)
		return -EIO;
	prefix_end(k, (size_t)n, e);
	if ((rc = es_range(s, k, (size_t)n, e, (size_t)n, ES_CONSUMERS_MAX, false)) < 0)
		return rc;
	if (s->a->range[0].more)
		return -EIO; /* more than any stream may have: not ours */
	out->n = 0;
	for (uint32_t i = 0; i < s->a->range[0].n; i++) {
		const struct etcd_kv *kv = &s->a->kvs[s->a->range[0].first + i];
		if (consumer_dec(s, kv, &out->c[out->n]) < 0)
			return -EIO;
		out->rev[out->n++] = kv->mod_rev;
	}
	return 0;
}

/* Keys of the policies that go with the stream (ps/<stream>/<ARN>). */
#define ES_POLICIES_MAX (ES_CONSUMERS_MAX + 1u)
static int policies_of(struct es *s, const char *stream, char (*arns)[CP_STR_CAP], uint32_t *n)
{
	char k[ES_KEY_CAP], e[ES_KEY_CAP];
	int kn = es_key(s, k, "ps/%s/", stream), rc;

	if (kn < 0)
		return -EIO;
	prefix_end(k, (size_t)kn, e);
	if ((rc = es_range(s, k, (size_t)kn, e, (size_t)kn, ES_POLICIES_MAX, false)) < 0)
		return rc;
	if (s->a->range[0].more)
		return -EIO;
	*n = 0;
	for (uint32_t i = 0; i < s->a->range[0].n; i++) {
		const struct etcd_kv *kv = &s->a->kvs[s->a->range[0].first + i];
		size_t skip = (size_t)kn;
		if (kv->key_len <= skip || kv->key_len - skip >= CP_STR_CAP)
			return -EIO;
		memcpy(arns[*n], kv->key + skip, kv->key_len - skip);
		arns[(*n)++][kv->key_len - skip] = '\0';
	}
	return 0;
}

static int txn_consumer_del(struct es *s, struct txn *t, const struct cp_consumer *c)
{
	char key[ES_KEY_CAP], hex[17];
	int n;

	if ((n = es_key(s, key, "c/%s/%s", c->stream, c->name)) < 0)
		return -EIO;
	txn_del(t, key, (size_t)n, NULL, 0);
	if ((n = es_key(s, key, "a/%s", c->arn)) < 0)
		return -EIO;
	txn_del(t, key, (size_t)n, NULL, 0);
	if (c->deadline_ms > 0) {
		if ((n = es_key(s, key, "dc/%s/%s/%s", dl_hex(c->deadline_ms, hex), c->stream,
				c->name)) < 0)
			return -EIO;
		txn_del(t, key, (size_t)n, NULL, 0);
	}
	return 0;
}

static int es_stream_remove(struct cp_store *st, const char *name)
{
	static const char *const subs[] = { "h", "u", "t", "n", "c", "ps" };
	struct es *s = es_of(st);
	struct consumers *cs = malloc(sizeof(*cs));
	char (*arns)[CP_STR_CAP] = malloc(ES_POLICIES_MAX * CP_STR_CAP);
	char key[ES_KEY_CAP], sk[ES_KEY_CAP], hex[17];
	int n, sn = es_key(s, sk, "s/%s", name), rc = -EIO;

	if (cs == NULL || arns == NULL || sn < 0)
		goto out;
	for (int tries = 0; tries < ES_CAS_TRIES; tries++) {
		struct cp_stream str;
		int64_t rev;
		uint32_t n_arns = 0;
		struct txn t;

		rc = stream_read(s, name, &str, &rev, NULL);
		if (rc == -ENOENT) {
			rc = 0; /* absent: done */
			goto out;
		}
		if (rc < 0 || (rc = consumers_read(s, name, cs)) < 0 ||
		    (rc = policies_of(s, name, arns, &n_arns)) < 0)
			goto out;
		rc = -EIO;
		txn_begin(s, &t);
		txn_cmp(&t, sk, (size_t)sn, false, rev);
		txn_next(&t);
		txn_del(&t, sk, (size_t)sn, NULL, 0);
		if (str.deadline_ms > 0) {
			if ((n = es_key(s, key, "ds/%s/%s", dl_hex(str.deadline_ms, hex), name)) < 0)
				goto out;
			txn_del(&t, key, (size_t)n, NULL, 0);
		}
		for (size_t i = 0; i < SL_ARRAY_SIZE(subs); i++) {
			if ((n = es_key(s, key, "%s/%s/", subs[i], name)) < 0)
				goto out;
			txn_del_prefix(&t, key, (size_t)n);
		}
		for (uint32_t i = 0; i < cs->n; i++) {
			if ((n = es_key(s, key, "a/%s", cs->c[i].arn)) < 0)
				goto out;
			txn_del(&t, key, (size_t)n, NULL, 0);
			if (cs->c[i].deadline_ms > 0) {
				n = es_key(s, key, "dc/%s/%s/%s", dl_hex(cs->c[i].deadline_ms, hex),
					   name, cs->c[i].name);
				if (n < 0)
					goto out;
				txn_del(&t, key, (size_t)n, NULL, 0);
			}
		}
		for (uint32_t i = 0; i < n_arns; i++) {
			if ((n = es_key(s, key, "p/%s", arns[i])) < 0)
				goto out;
			txn_del(&t, key, (size_t)n, NULL, 0);
		}
		if ((rc = txn_commit(s, &t)) != 0) {
			rc = rc < 0 ? rc : 0;
			goto out;
		}
		rc = -EIO;
	}
out:
	free(cs);
	free(arns);
	return rc;
}

/* Visits every stream record, a page at a time. The visitor gets decoded
 * records and must not call the store (the answer buffer is reused). */
typedef int (*stream_visit_fn)(void *arg, const struct cp_stream *cs);

static int streams_scan(struct es *s, const char *after, uint32_t limit, stream_visit_fn fn,
			void *arg)
{
	char start[ES_KEY_CAP], end[ES_KEY_CAP];
	int sn = after ? es_key(s, start, "s/%s", after) : es_key(s, start, "s/");
	int pn = es_key(s, end, "s/"), rc, seen = 0;
	size_t slen;
	struct cp_stream *page = malloc(ES_PAGE * sizeof(*page));

	if (sn < 0 || pn < 0 || page == NULL) {
		free(page);
		return sn < 0 || pn < 0 ? -EIO : -ENOMEM;
	}
	prefix_end(end, (size_t)pn, end);
	slen = (size_t)sn + (after ? 1u : 0u); /* after: just past it (its key + NUL) */
	start[sn] = '\0';
	while ((uint32_t)seen < limit) {
		uint32_t want = SL_MIN(ES_PAGE, limit - (uint32_t)seen), got = 0;
		bool more;

		if ((rc = es_range(s, start, slen, end, (size_t)pn, want, false)) < 0)
			goto out;
		more = s->a->range[0].more;
		for (uint32_t i = 0; i < s->a->range[0].n; i++) {
			const struct etcd_kv *kv = &s->a->kvs[s->a->range[0].first + i];
			if (kv->key_len <= (size_t)pn || kv->key_len >= ES_KEY_CAP - 1) {
				rc = -EIO;
				goto out;
			}
			if (stream_dec(s, kv, kv->key + pn, &page[got], NULL) < 0) {
				rc = -EIO;
				goto out;
			}
			got++;
		}
		if (got > 0) {
			const struct etcd_kv *last = &s->a->kvs[s->a->range[0].first + got - 1];
			memcpy(start, last->key, last->key_len);
			start[last->key_len] = '\0';
			slen = last->key_len + 1;
		}
		for (uint32_t i = 0; i < got; i++) {
			seen++;
			if (fn(arg, &page[i])) {
				rc = seen;
				goto out;
			}
		}
		if (!more || got == 0)
			break;
	}
	rc = seen;
out:
	free(page);
	return rc;
}

struct totals {
	uint32_t streams, on_demand;
	uint64_t shards;
};

static int visit_totals(void *arg, const struct cp_stream *cs)
{
	struct totals *t = arg;

	t->streams++;
	t->shards += cs->shard_count;
	t->on_demand += cs->mode == CP_ON_DEMAND;
	return 0;
}

static int es_stream_totals(struct cp_store *st, uint32_t *streams, uint64_t *shards)
{
	struct totals t = { 0 };
	int rc = streams_scan(es_of(st), NULL, UINT32_MAX, visit_totals, &t);

	*streams = t.streams;
	*shards = t.shards;
	return rc < 0 ? rc : 0;
}

static int es_stream_on_demand_count(struct cp_store *st, uint32_t *out)
{
	struct totals t = { 0 };
	int rc = streams_scan(es_of(st), NULL, UINT32_MAX, visit_totals, &t);

	*out = t.on_demand;
	return rc < 0 ? rc : 0;
}

/* stream_list: a page at a time - collected first (a callback may read
 * the store), then each stream's consumer count filled in, then handed
 * over - so any limit (the routing table asks for all) costs one page of
 * memory. */
struct collect {
	uint32_t n;
	struct cp_stream v[ES_PAGE];
};

static int visit_collect(void *arg, const struct cp_stream *cs)
{
	struct collect *c = arg;

	BUG_ON(c->n >= ES_PAGE); /* streams_scan's limit */
	c->v[c->n++] = *cs;
	return 0;
}

static int es_stream_list(struct cp_store *st, const char *after, uint32_t limit,
			  cp_store_stream_fn cb, void *arg)
{
	struct es *s = es_of(st);
	struct collect *c = malloc(sizeof(*c));
	char cursor[CP_NAME_MAX + 1];
	int rc = 0, handed = 0;
	bool stop = false;

	if (c == NULL)
		return -ENOMEM;
	if (after != NULL)
		snprintf(cursor, sizeof(cursor), "%s", after);
	while (!stop && (uint32_t)handed < limit) {
		uint32_t want = SL_MIN(ES_PAGE, limit - (uint32_t)handed);

		c->n = 0;
		rc = streams_scan(s, handed || after ? cursor : NULL, want, visit_collect, c);
		if (rc < 0)
			break;
		for (uint32_t i = 0; i < c->n && !stop; i++) {
			char k[ES_KEY_CAP], e[ES_KEY_CAP];
			int n = es_key(s, k, "c/%s/", c->v[i].name);

			if (n < 0) {
				rc = -EIO;
				goto out;
			}
			prefix_end(k, (size_t)n, e);
			if ((rc = es_range(s, k, (size_t)n, e, (size_t)n, 0, true)) < 0)
				goto out;
			c->v[i].n_consumers = (uint32_t)s->a->range[0].count;
			handed++;
			stop = cb(arg, &c->v[i]) != 0;
		}
		if (c->n < want)
			break;
		snprintf(cursor, sizeof(cursor), "%s", c->v[c->n - 1].name);
	}
out:
	free(c);
	return rc < 0 ? rc : handed;
}

/* --- lifecycle deadlines --- */

/* The first key of the ds/ or dc/ index: its deadline, INT64_MAX none,
 * -EIO when etcd could not say. */
static int first_deadline(struct es *s, const char *sub, int64_t *out)
{
	char k[ES_KEY_CAP], e[ES_KEY_CAP], hex[17];
	int n = es_key(s, k, "%s/", sub);

	*out = INT64_MAX;
	if (n < 0)
		return -EIO;
	prefix_end(k, (size_t)n, e);
	if (es_range(s, k, (size_t)n, e, (size_t)n, 1, false) < 0)
		return -EIO;
	if (s->a->range[0].n == 0)
		return 0;
	const struct etcd_kv *kv = &s->a->kvs[s->a->range[0].first];
	if (kv->key_len < (size_t)n + 16)
		return -EIO;
	memcpy(hex, kv->key + n, 16);
	hex[16] = '\0';
	*out = (int64_t)(strtoull(hex, NULL, 16) ^ (UINT64_C(1) << 63));
	return 0;
}

/* Unlike a local file, etcd can be away for a while: when it cannot say,
 * the answer is "look again in ES_RETRY_MS" (not "none", which would
 * leave a CREATING stream CREATING after etcd is back until some other
 * call refreshed the deadline; not "now", a busy loop on a dead store). */
#define ES_RETRY_MS 1000
static int64_t es_next_deadline(struct cp_store *st)
{
	struct es *s = es_of(st);
	int64_t a, b, c;

	if (first_deadline(s, "ds", &a) < 0 || first_deadline(s, "dc", &b) < 0 ||
	    first_deadline(s, "chd", &c) < 0)
		return sl_wall_ms() + ES_RETRY_MS;
	return SL_MIN(SL_MIN(a, b), c);
}

struct due_batch {
	uint32_t n;
	char a[CP_STORE_BATCH_MAX][CP_NAME_MAX + 1];
	char b[CP_STORE_BATCH_MAX][CP_NAME_MAX + 1];
	uint8_t status[CP_STORE_BATCH_MAX];
};

/* Entries of ds/ (streams) or dc/ (consumers) due at now_ms, earliest
 * first, at most CP_STORE_BATCH_MAX. */
static int due_read(struct es *s, const char *sub, int64_t now_ms, struct due_batch *b)
{
	char k[ES_KEY_CAP], e[ES_KEY_CAP], hex[17];
	int n = es_key(s, k, "%s/", sub), en = es_key(s, e, "%s/%s/", sub, dl_hex(now_ms, hex));
	int rc;

	if (n < 0 || en < 0)
		return -EIO;
	e[en - 1]++; /* every deadline <= now_ms: up to and including its prefix */
	if ((rc = es_range(s, k, (size_t)n, e, (size_t)en, CP_STORE_BATCH_MAX, false)) < 0)
		return rc;
	b->n = 0;
	for (uint32_t i = 0; i < s->a->range[0].n; i++) {
		const struct etcd_kv *kv = &s->a->kvs[s->a->range[0].first + i];
		const char *rest = kv->key + n + 17; /* past "<16 hex>/" */
		const char *slash = strchr(rest, '/');

		if (kv->key_len <= (size_t)n + 17)
			return -EIO;
		if (sub[1] == 'c') {
			if (slash == NULL || (size_t)(slash - rest) > CP_NAME_MAX ||
			    strlen(slash + 1) > CP_NAME_MAX)
				return -EIO;
			memcpy(b->a[b->n], rest, (size_t)(slash - rest));
			b->a[b->n][slash - rest] = '\0';
			snprintf(b->b[b->n], sizeof(b->b[0]), "%s", slash + 1);
		} else {
			if (strlen(rest) > CP_NAME_MAX)
				return -EIO;
			snprintf(b->b[b->n], sizeof(b->b[0]), "%s", rest);
		}
		b->status[b->n++] = (uint8_t)atoi(kv->value);
	}
	return 0;
}

static int es_due(struct cp_store *st, int64_t now_ms, cp_store_due_fn cb, void *arg)
{
	struct es *s = es_of(st);
	struct due_batch *b = malloc(sizeof(*b));
	int handed = 0, rc;

	if (b == NULL)
		return -ENOMEM;
	if ((rc = due_read(s, "ds", now_ms, b)) < 0)
		goto out;
	for (uint32_t i = 0; i < b->n; i++, handed++)
		if (cb(arg, NULL, b->b[i], b->status[i]))
			goto done; /* as the SQLite backend: the stopping one not counted */
	/* after the streams: a consumer removed with its stream is gone */
	if ((rc = due_read(s, "dc", now_ms, b)) < 0)
		goto out;
	for (uint32_t i = 0; i < b->n; i++, handed++)
		if (cb(arg, b->a[i], b->b[i], b->status[i]))
			break;
done:
	rc = handed;
out:
	free(b);
	return rc;
}

/* --- shards --- */

static int es_shard_list(struct cp_store *st, const char *name, const char *after,
			 uint32_t limit, cp_store_shard_fn cb, void *arg)
{
	struct es *s = es_of(st);
	char start[ES_KEY_CAP], end[ES_KEY_CAP];
	int pn = es_key(s, end, "h/%s/", name), sn, rc = 0, seen = 0;
	uint32_t from = 0;
	struct cp_shard *page = malloc(ES_PAGE * sizeof(*page));

	if (page == NULL)
		return -ENOMEM;
	/* Shard ids sort like their index (zero-padded): after -> index + 1.
	 * An id of another shape (ListShards takes any ExclusiveStartShardId)
	 * scans from the first shard and skips ids not above it bytewise: the
	 * SQLite backend's "shard_id > ?". */
	const char *filter = NULL;
	if (after != NULL) {
		const char *digits = after + strlen("shardId-");
		if (strncmp(after, "shardId-", 8) == 0 && strlen(digits) == 12 &&
		    strspn(digits, "0123456789") == 12)
			from = (uint32_t)SL_MIN(strtoull(digits, NULL, 10) + 1, UINT32_MAX);
		else
			filter = after;
	}
	sn = es_key(s, start, "h/%s/%010u", name, from);
	if (pn < 0 || sn < 0) {
		free(page);
		return -EIO;
	}
	prefix_end(end, (size_t)pn, end);
	while (from != UINT32_MAX && (uint32_t)seen < limit) {
		uint32_t want = SL_MIN(ES_PAGE, limit - (uint32_t)seen), got = 0;
		bool more;

		if ((rc = es_range(s, start, (size_t)sn, end, (size_t)pn, want, false)) < 0)
			goto out;
		more = s->a->range[0].more;
		uint32_t read = 0;
		for (uint32_t i = 0; i < s->a->range[0].n; i++, read++)
			if (shard_dec(s, &s->a->kvs[s->a->range[0].first + i], &page[got++]) < 0) {
				rc = -EIO;
				goto out;
			}
		if (got > 0 && (sn = es_key(s, start, "h/%s/%010u", name,
					    page[got - 1].index + 1)) < 0) {
			rc = -EIO;
			goto out;
		}
		for (uint32_t i = 0; i < got; i++) {
			if (filter != NULL && strcmp(page[i].id, filter) <= 0)
				continue;
			seen++;
			if (cb(arg, &page[i])) {
				rc = seen;
				goto out;
			}
		}
		if (!more || read == 0)
			break;
	}
	rc = seen;
out:
	free(page);
	return rc;
}

static int shard_read(struct es *s, const char *name, uint32_t index, struct cp_shard *out,
		      int64_t *rev)
{
	char key[ES_KEY_CAP];
	const struct etcd_kv *kv = NULL;
	int n = es_key(s, key, "h/%s/%010u", name, index), rc;

	if (n < 0)
		return -EIO;
	if ((rc = es_get(s, key, (size_t)n, &kv)) < 0)
		return rc;
	if (rev != NULL)
		*rev = kv->mod_rev;
	return shard_dec(s, kv, out) < 0 ? -EIO : 0;
}

static int es_shard_get(struct cp_store *st, const char *name, uint32_t index,
			struct cp_shard *out)
{
	return shard_read(es_of(st), name, index, out, NULL);
}

static int es_reshard(struct cp_store *st, const char *name, const uint32_t *parents,
		      uint32_t n_parents, const struct cp_shard *children, uint32_t n_children,
		      int64_t now_ms, uint8_t status, int64_t deadline_ms)
{
	struct es *s = es_of(st);
	struct cp_shard *ps = malloc((size_t)SL_MAX(n_parents, 1u) * sizeof(*ps));
	int64_t *prev = malloc((size_t)SL_MAX(n_parents, 1u) * sizeof(*prev));
	char key[ES_KEY_CAP], sk[ES_KEY_CAP];
	int n, sn = es_key(s, sk, "s/%s", name), rc = -EIO;

	if (ps == NULL || prev == NULL || sn < 0)
		goto out;
	for (int tries = 0; tries < ES_CAS_TRIES; tries++) {
		struct cp_stream cs;
		int64_t rev, last = 0, old_dl;
		struct txn t;

		if ((rc = stream_read(s, name, &cs, &rev, &last)) < 0)
			goto out;
		for (uint32_t i = 0; i < n_parents; i++) {
			rc = shard_read(s, name, parents[i], &ps[i], &prev[i]);
			if (rc == -ENOENT || (rc == 0 && ps[i].closed_ms != 0))
				rc = -ESTALE; /* not open any more */
			if (rc < 0)
				goto out;
		}
		old_dl = cs.deadline_ms;
		cs.shard_count = (uint32_t)((int64_t)cs.shard_count + n_children - n_parents);
		cs.shard_total += n_children;
		cs.status = status;
		cs.deadline_ms = deadline_ms;
		rc = -EIO;
		txn_begin(s, &t);
		txn_cmp(&t, sk, (size_t)sn, false, rev);
		for (uint32_t i = 0; i < n_parents; i++) {
			if ((n = es_key(s, key, "h/%s/%010u", name, parents[i])) < 0)
				goto out;
			txn_cmp(&t, key, (size_t)n, false, prev[i]);
		}
		txn_next(&t);
		for (uint32_t i = 0; i < n_parents; i++) {
			ps[i].closed_ms = now_ms;
			if (txn_shard(s, &t, name, &ps[i]) < 0 ||
			    (n = es_key(s, key, "u/%s/%010u", name, parents[i])) < 0)
				goto out;
			txn_put(&t, key, (size_t)n, "", 0);
		}
		for (uint32_t i = 0; i < n_children; i++) {
			if (txn_shard(s, &t, name, &children[i]) < 0)
				goto out;
			last = SL_MAX(last, children[i].created_ms);
		}
		if (txn_stream(s, &t, &cs, last, old_dl) < 0)
			goto out;
		if ((rc = txn_commit(s, &t)) != 0) {
			rc = rc < 0 ? rc : 0;
			goto out;
		}
		rc = -EIO; /* raced: read again */
	}
out:
	free(ps);
	free(prev);
	return rc;
}

static int es_shard_last_created(struct cp_store *st, const char *name, int64_t *out_ms)
{
	struct cp_stream cs;
	int64_t rev;
	int rc = stream_read(es_of(st), name, &cs, &rev, out_ms);

	if (rc == -ENOENT) { /* as MAX() over no rows */
		*out_ms = 0;
		return 0;
	}
	return rc;
}

static int es_shard_set_end_seq(struct cp_store *st, const char *name, uint32_t index,
				const char *seq)
{
	struct es *s = es_of(st);
	char key[ES_KEY_CAP];
	int n = es_key(s, key, "h/%s/%010u", name, index), rc;

	if (n < 0)
		return -EIO;
	for (int tries = 0; tries < ES_CAS_TRIES; tries++) {
		struct cp_shard sh;
		int64_t rev;
		struct txn t;

		rc = shard_read(s, name, index, &sh, &rev);
		if (rc == -ENOENT)
			return 0; /* nothing to update, as UPDATE of no row */
		if (rc < 0)
			return rc;
		snprintf(sh.end_seq, sizeof(sh.end_seq), "%s", seq);
		txn_begin(s, &t);
		txn_cmp(&t, key, (size_t)n, false, rev);
		txn_next(&t);
		if (txn_shard(s, &t, name, &sh) < 0)
			return -EIO;
		char uk[ES_KEY_CAP];
		int un = es_key(s, uk, "u/%s/%010u", name, index);
		if (un < 0)
			return -EIO;
		txn_del(&t, uk, (size_t)un, NULL, 0);
		if ((rc = txn_commit(s, &t)) != 0)
			return rc < 0 ? rc : 0;
	}
	return -EIO;
}

static int es_shard_unsealed(struct cp_store *st, cp_store_unsealed_fn cb, void *arg)
{
	struct es *s = es_of(st);
	struct due_batch *b = malloc(sizeof(*b));
	uint32_t index[CP_STORE_BATCH_MAX];
	uint64_t id[CP_STORE_BATCH_MAX];
	char k[ES_KEY_CAP], e[ES_KEY_CAP];
	int n = es_key(s, k, "u/"), rc;

	if (b == NULL || n < 0) {
		free(b);
		return b == NULL ? -ENOMEM : -EIO;
	}
	prefix_end(k, (size_t)n, e);
	if ((rc = es_range(s, k, (size_t)n, e, (size_t)n, CP_STORE_BATCH_MAX, false)) < 0)
		goto out;
	b->n = 0;
	for (uint32_t i = 0; i < s->a->range[0].n; i++) {
		const struct etcd_kv *kv = &s->a->kvs[s->a->range[0].first + i];
		const char *rest = kv->key + n, *slash = strchr(rest, '/');

		if (kv->key_len <= (size_t)n || slash == NULL || (size_t)(slash - rest) > CP_NAME_MAX ||
		    strlen(slash + 1) != 10) {
			rc = -EIO;
			goto out;
		}
		memcpy(b->b[b->n], rest, (size_t)(slash - rest));
		b->b[b->n][slash - rest] = '\0';
		index[b->n++] = (uint32_t)strtoul(slash + 1, NULL, 10);
	}
	/* the stream ids, after the range (the answer buffer is reused) */
	for (uint32_t i = 0; i < b->n; i++) {
		struct cp_stream cs;
		int64_t rev;

		if (i > 0 && strcmp(b->b[i], b->b[i - 1]) == 0) {
			id[i] = id[i - 1];
			continue;
		}
		if ((rc = stream_read(s, b->b[i], &cs, &rev, NULL)) < 0)
			goto out;
		id[i] = cs.id;
	}
	rc = (int)b->n;
	for (uint32_t i = 0; i < b->n; i++)
		if (cb(arg, id[i], b->b[i], index[i]))
			break;
out:
	free(b);
	return rc;
}

/* --- UpdateShardCount history --- */

static int es_scaling_count(struct cp_store *st, const char *name, int64_t since_ms,
			    uint32_t *out)
{
	struct es *s = es_of(st);
	char k[ES_KEY_CAP], e[ES_KEY_CAP], hex[17];
	int n = es_key(s, k, "n/%s/%s", name, dl_hex(since_ms, hex));
	int pn = es_key(s, e, "n/%s/", name), rc;

	if (n < 0 || pn < 0)
		return -EIO;
	prefix_end(e, (size_t)pn, e);
	if ((rc = es_range(s, k, (size_t)n, e, (size_t)pn, 0, true)) < 0)
		return rc;
	*out = (uint32_t)s->a->range[0].count;
	return 0;
}

static int es_scaling_add(struct cp_store *st, const char *name, int64_t at_ms)
{
	struct es *s = es_of(st);
	char k[ES_KEY_CAP], lo[ES_KEY_CAP], hi[ES_KEY_CAP], hex[17];
	int n = es_key(s, k, "n/%s/%s", name, dl_hex(at_ms, hex));
	int ln = es_key(s, lo, "n/%s/", name);
	int hn = es_key(s, hi, "n/%s/%s", name, dl_hex(at_ms - 24 * 3600 * 1000LL, hex));
	struct txn t;

	if (n < 0 || ln < 0 || hn < 0)
		return -EIO;
	/* Older entries no longer count: keep the history bounded. */
	txn_begin(s, &t);
	txn_next(&t);
	txn_del(&t, lo, (size_t)ln, hi, (size_t)hn);
	txn_put(&t, k, (size_t)n, "", 0);
	return txn_commit(s, &t) < 0 ? -EIO : 0;
}

/* --- tags --- */

static int es_tag_list(struct cp_store *st, const char *name, const char *after,
		       uint32_t limit, cp_store_tag_fn cb, void *arg)
{
	struct es *s = es_of(st);
	char k[ES_KEY_CAP], e[ES_KEY_CAP];
	int pn = es_key(s, e, "t/%s/", name);
	int n = after ? es_key(s, k, "t/%s/%s", name, after) : es_key(s, k, "t/%s/", name);
	struct cp_tag *tags;
	uint32_t got = 0;
	int rc;

	if (n < 0 || pn < 0)
		return -EIO;
	limit = SL_MIN(limit, CP_MAX_TAGS); /* a stream holds at most CP_MAX_TAGS */
	prefix_end(e, (size_t)pn, e);
	k[n] = '\0';
	if ((rc = es_range(s, k, (size_t)n + (after ? 1u : 0u), e, (size_t)pn, limit, false)) < 0)
		return rc;
	tags = malloc((size_t)SL_MAX(s->a->range[0].n, 1u) * sizeof(*tags));
	if (tags == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->a->range[0].n; i++) {
		const struct etcd_kv *kv = &s->a->kvs[s->a->range[0].first + i];

		if (kv->key_len - (size_t)pn >= CP_TAG_KEY_CAP || kv->value_len >= CP_TAG_VALUE_CAP) {
			free(tags);
			return -EIO;
		}
		snprintf(tags[got].key, sizeof(tags[got].key), "%s", kv->key + pn);
		snprintf(tags[got].value, sizeof(tags[got].value), "%s", kv->value);
		got++;
	}
	rc = 0;
	for (uint32_t i = 0; i < got; i++) {
		rc++;
		if (cb(arg, &tags[i]))
			break;
	}
	free(tags);
	return rc;
}

static int es_tag_put(struct cp_store *st, const char *name, const struct cp_tag *tags,
		      uint32_t n)
{
	struct es *s = es_of(st);
	struct txn t;

	txn_begin(s, &t);
	txn_next(&t);
	if (txn_tags(s, &t, name, tags, n) < 0)
		return -EIO;
	return txn_commit(s, &t) < 0 ? -EIO : 0;
}

static int es_tag_del(struct cp_store *st, const char *name, char (*keys)[CP_TAG_KEY_CAP],
		      uint32_t n)
{
	struct es *s = es_of(st);
	char key[ES_KEY_CAP];
	struct txn t;

	txn_begin(s, &t);
	txn_next(&t);
	for (uint32_t i = 0; i < n; i++) {
		int kn = es_key(s, key, "t/%s/%s", name, keys[i]);
		if (kn < 0)
			return -EIO;
		txn_del(&t, key, (size_t)kn, NULL, 0);
	}
	return txn_commit(s, &t) < 0 ? -EIO : 0;
}

/* --- account key/value settings --- */

static int es_key_get(struct cp_store *st, const char *key, char *out, size_t cap)
{
	struct es *s = es_of(st);
	char k[ES_KEY_CAP];
	const struct etcd_kv *kv = NULL;
	int n = es_key(s, k, "k/%s", key), rc;

	if (n < 0)
		return -EIO;
	if ((rc = es_get(s, k, (size_t)n, &kv)) < 0)
		return rc;
	if (kv->value_len >= cap)
		return -EIO;
	memcpy(out, kv->value, kv->value_len + 1);
	return 0;
}

static int es_key_set(struct cp_store *st, const char *key, const char *value)
{
	struct es *s = es_of(st);
	char k[ES_KEY_CAP];
	int n = es_key(s, k, "k/%s", key);
	struct txn t;

	if (n < 0)
		return -EIO;
	txn_begin(s, &t);
	txn_next(&t);
	txn_put(&t, k, (size_t)n, value, strlen(value));
	return txn_commit(s, &t) < 0 ? -EIO : 0;
}

/* --- consumers --- */

/* Both copies of the consumer (by name, by ARN) and its deadline index. */
static int txn_consumer_put(struct es *s, struct txn *t, const struct cp_consumer *c,
			    int64_t old_dl)
{
	char key[ES_KEY_CAP], hex[17], st[4];
	int v = consumer_enc(s, c), n;

	if (v < 0 || (n = es_key(s, key, "c/%s/%s", c->stream, c->name)) < 0)
		return -EIO;
	txn_put(t, key, (size_t)n, s->val, (size_t)v);
	if ((n = es_key(s, key, "a/%s", c->arn)) < 0)
		return -EIO;
	txn_put(t, key, (size_t)n, s->val, (size_t)v);
	if (old_dl > 0 && old_dl != c->deadline_ms) {
		n = es_key(s, key, "dc/%s/%s/%s", dl_hex(old_dl, hex), c->stream, c->name);
		if (n < 0)
			return -EIO;
		txn_del(t, key, (size_t)n, NULL, 0);
	}
	if (c->deadline_ms > 0) {
		n = es_key(s, key, "dc/%s/%s/%s", dl_hex(c->deadline_ms, hex), c->stream, c->name);
		if (n < 0)
			return -EIO;
		snprintf(st, sizeof(st), "%u", c->status);
		txn_put(t, key, (size_t)n, st, strlen(st));
	}
	return 0;
}

static int es_consumer_add(struct cp_store *st, const struct cp_consumer *c)
{
	struct es *s = es_of(st);
	char k[ES_KEY_CAP], a[ES_KEY_CAP];
	int kn = es_key(s, k, "c/%s/%s", c->stream, c->name), an = es_key(s, a, "a/%s", c->arn);
	struct txn t;
	int rc;

	if (kn < 0 || an < 0)
		return -EIO;
	txn_begin(s, &t);
	txn_cmp(&t, k, (size_t)kn, true, 0);
	txn_cmp(&t, a, (size_t)an, true, 0);
	txn_next(&t);
	if (txn_consumer_put(s, &t, c, 0) < 0)
		return -EIO;
	rc = txn_commit(s, &t);
	return rc < 0 ? rc : rc == 1 ? 0 : -EEXIST;
}

static int consumer_read(struct es *s, const char *stream, const char *key,
			 struct cp_consumer *out, int64_t *rev)
{
	char k[ES_KEY_CAP];
	const struct etcd_kv *kv = NULL;
	int n = stream ? es_key(s, k, "c/%s/%s", stream, key) : es_key(s, k, "a/%s", key), rc;

	if (n < 0)
		return -EIO;
	if ((rc = es_get(s, k, (size_t)n, &kv)) < 0)
		return rc;
	if (rev != NULL)
		*rev = kv->mod_rev;
	return consumer_dec(s, kv, out) < 0 ? -EIO : 0;
}

static int es_consumer_get(struct cp_store *st, const char *stream, const char *key,
			   struct cp_consumer *out)
{
	return consumer_read(es_of(st), stream, key, out, NULL);
}

static int es_consumer_set_status(struct cp_store *st, const char *stream, const char *name,
				  uint8_t status, int64_t deadline_ms)
{
	struct es *s = es_of(st);
	char k[ES_KEY_CAP];
	int n = es_key(s, k, "c/%s/%s", stream, name), rc;

	if (n < 0)
		return -EIO;
	for (int tries = 0; tries < ES_CAS_TRIES; tries++) {
		struct cp_consumer c;
		int64_t rev, old_dl;
		struct txn t;

		if ((rc = consumer_read(s, stream, name, &c, &rev)) < 0)
			return rc;
		old_dl = c.deadline_ms;
		c.status = status;
		c.deadline_ms = deadline_ms;
		txn_begin(s, &t);
		txn_cmp(&t, k, (size_t)n, false, rev);
		txn_next(&t);
		if (txn_consumer_put(s, &t, &c, old_dl) < 0)
			return -EIO;
		if ((rc = txn_commit(s, &t)) != 0)
			return rc < 0 ? rc : 0;
	}
	return -EIO;
}

static int es_consumer_remove(struct cp_store *st, const char *stream, const char *name)
{
	struct es *s = es_of(st);
	char k[ES_KEY_CAP], key[ES_KEY_CAP];
	int n = es_key(s, k, "c/%s/%s", stream, name), rc;

	if (n < 0)
		return -EIO;
	for (int tries = 0; tries < ES_CAS_TRIES; tries++) {
		struct cp_consumer c;
		int64_t rev;
		struct txn t;
		int pn;

		rc = consumer_read(s, stream, name, &c, &rev);
		if (rc == -ENOENT)
			return 0; /* absent: done */
		if (rc < 0)
			return rc;
		txn_begin(s, &t);
		txn_cmp(&t, k, (size_t)n, false, rev);
		txn_next(&t);
		if (txn_consumer_del(s, &t, &c) < 0)
			return -EIO;
		/* its resource policy goes with it */
		if ((pn = es_key(s, key, "p/%s", c.arn)) < 0)
			return -EIO;
		txn_del(&t, key, (size_t)pn, NULL, 0);
		if ((pn = es_key(s, key, "ps/%s/%s", stream, c.arn)) < 0)
			return -EIO;
		txn_del(&t, key, (size_t)pn, NULL, 0);
		if ((rc = txn_commit(s, &t)) != 0)
			return rc < 0 ? rc : 0;
	}
	return -EIO;
}

static int es_consumer_all_deleting(struct cp_store *st, const char *stream,
				    int64_t deadline_ms)
{
	struct es *s = es_of(st);
	struct consumers *cs = malloc(sizeof(*cs));
	int rc = -ENOMEM;

	if (cs == NULL)
		return rc;
	for (int tries = 0; tries < ES_CAS_TRIES; tries++) {
		struct txn t;
		char k[ES_KEY_CAP];

		if ((rc = consumers_read(s, stream, cs)) < 0)
			break;
		txn_begin(s, &t);
		rc = -EIO;
		for (uint32_t i = 0; i < cs->n; i++) {
			int n = es_key(s, k, "c/%s/%s", stream, cs->c[i].name);
			if (n < 0)
				goto out;
			txn_cmp(&t, k, (size_t)n, false, cs->rev[i]);
		}
		txn_next(&t);
		for (uint32_t i = 0; i < cs->n; i++) {
			int64_t old_dl = cs->c[i].deadline_ms;

			cs->c[i].status = CP_DELETING;
			cs->c[i].deadline_ms = deadline_ms;
			if (txn_consumer_put(s, &t, &cs->c[i], old_dl) < 0)
				goto out;
		}
		if ((rc = txn_commit(s, &t)) != 0) {
			rc = rc < 0 ? rc : 0;
			break;
		}
		rc = -EIO;
	}
out:
	free(cs);
	return rc;
}

static int es_consumer_counts(struct cp_store *st, const char *stream, uint32_t *total,
			      uint32_t *creating)
{
	struct es *s = es_of(st);
	struct consumers *cs = malloc(sizeof(*cs));
	int rc;

	if (cs == NULL)
		return -ENOMEM;
	rc = consumers_read(s, stream, cs);
	*total = 0;
	*creating = 0;
	for (uint32_t i = 0; rc == 0 && i < cs->n; i++) {
		++*total;
		*creating += cs->c[i].status == CP_CREATING;
	}
	free(cs);
	return rc;
}

static int es_consumer_list(struct cp_store *st, const char *stream, const char *after,
			    uint32_t limit, cp_store_consumer_fn cb, void *arg)
{
	struct es *s = es_of(st);
	struct consumers *cs = malloc(sizeof(*cs));
	int rc, handed = 0;

	if (cs == NULL)
		return -ENOMEM;
	/* a stream has at most CP_CONSUMERS_PER_STREAM: read them all, then
	 * hand over those after `after`, in key (= name) order */
	if ((rc = consumers_read(s, stream, cs)) == 0)
		for (uint32_t i = 0; i < cs->n && (uint32_t)handed < limit; i++) {
			if (after != NULL && strcmp(cs->c[i].name, after) <= 0)
				continue;
			handed++;
			if (cb(arg, &cs->c[i]))
				break;
		}
	free(cs);
	return rc < 0 ? rc : handed;
}

static int es_consumer_route_list(struct cp_store *st, cp_store_route_consumer_fn cb,
				  void *arg)
{
	struct es *s = es_of(st);
	struct consumer_route {
		struct cp_consumer c;
		uint64_t id;
	} *v = NULL;
	char k[ES_KEY_CAP], e[ES_KEY_CAP];
	int n = es_key(s, k, "a/"), rc;
	uint32_t n_v = 0, cap = 0;
	size_t klen;

	if (n < 0)
		return -EIO;
	prefix_end(k, (size_t)n, e);
	klen = (size_t)n;
	/* by ARN: the a/ keys, a page at a time; ACTIVE ones kept */
	for (uint32_t pages = 0;; pages++) {
		bool more;
		uint32_t first = n_v;

		if ((rc = es_range(s, k, klen, e, (size_t)n, ES_PAGE, false)) < 0)
			goto out;
		more = s->a->range[0].more;
		if (n_v + s->a->range[0].n > cap) {
			cap = n_v + s->a->range[0].n + ES_PAGE;
			void *nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			v = nv;
		}
		for (uint32_t i = 0; i < s->a->range[0].n; i++) {
			const struct etcd_kv *kv = &s->a->kvs[s->a->range[0].first + i];
			if (consumer_dec(s, kv, &v[n_v].c) < 0) {
				rc = -EIO;
				goto out;
			}
			if (v[n_v].c.status == CP_ACTIVE)
				n_v++;
		}
		if (s->a->range[0].n > 0) {
			const struct etcd_kv *last =
				&s->a->kvs[s->a->range[0].first + s->a->range[0].n - 1];
			memcpy(k, last->key, last->key_len);
			k[last->key_len] = '\0';
			klen = last->key_len + 1;
		}
		(void)first;
		if (!more || s->a->range[0].n == 0)
			break;
	}
	/* their streams: ACTIVE or UPDATING only, with the id */
	uint32_t kept = 0;
	for (uint32_t i = 0; i < n_v; i++) {
		struct cp_stream cs;
		int64_t rev;

		rc = stream_read(s, v[i].c.stream, &cs, &rev, NULL);
		if (rc == -ENOENT)
			continue;
		if (rc < 0)
			goto out;
		if (cs.status != CP_ACTIVE && cs.status != CP_UPDATING)
			continue;
		v[i].id = cs.id;
		v[kept++] = v[i];
	}
	rc = 0;
	for (uint32_t i = 0; i < kept; i++) {
		rc++;
		if (cb(arg, &v[i].c, v[i].id))
			break;
	}
out:
	free(v);
	return rc;
}

/* --- resource policies --- */

static int es_policy_put(struct cp_store *st, const char *stream, const char *arn,
			 const char *policy)
{
	struct es *s = es_of(st);
	char k[ES_KEY_CAP], ps[ES_KEY_CAP];
	int n = es_key(s, k, "p/%s", arn), pn = es_key(s, ps, "ps/%s/%s", stream, arn);
	size_t sl = strlen(stream), pl = strlen(policy);
	char *v = malloc(sl + 1 + pl);
	struct txn t;
	int rc;

	if (v == NULL)
		return -ENOMEM;
	if (n < 0 || pn < 0 || pl > CP_POLICY_MAX_BYTES) {
		free(v);
		return -EIO;
	}
	memcpy(v, stream, sl);
	v[sl] = '\n';
	memcpy(v + sl + 1, policy, pl);
	txn_begin(s, &t);
	txn_next(&t);
	txn_put(&t, k, (size_t)n, v, sl + 1 + pl);
	txn_put(&t, ps, (size_t)pn, "", 0);
	rc = txn_commit(s, &t);
	free(v);
	return rc < 0 ? -EIO : 0;
}

/* A policy record's value, "STREAM\nTEXT": the stream's name into
 * stream[CP_NAME_MAX + 1], *text and *len the policy (inside kv->value).
 * 0, or -EIO for a value that is not ours. */
static int policy_rec_split(const struct etcd_kv *kv, char *stream, const char **text,
			    size_t *len)
{
	const char *nl = memchr(kv->value, '\n', kv->value_len);

	if (nl == NULL || (size_t)(nl - kv->value) > CP_NAME_MAX)
		return -EIO;
	memcpy(stream, kv->value, (size_t)(nl - kv->value));
	stream[nl - kv->value] = '\0';
	*text = nl + 1;
	*len = kv->value_len - (size_t)(nl + 1 - kv->value);
	return 0;
}

static int es_policy_get(struct cp_store *st, const char *arn, char *out, size_t cap)
{
	struct es *s = es_of(st);
	char k[ES_KEY_CAP];
	const struct etcd_kv *kv = NULL;
	int n = es_key(s, k, "p/%s", arn), rc;
	char stream[CP_NAME_MAX + 1];
	const char *text;
	size_t pl;

	if (n < 0)
		return -EIO;
	if ((rc = es_get(s, k, (size_t)n, &kv)) < 0)
		return rc;
	if (policy_rec_split(kv, stream, &text, &pl) < 0 || pl >= cap)
		return -EIO; /* not ours, or would be cut */
	memcpy(out, text, pl);
	out[pl] = '\0';
	return 0;
}

static int es_policy_delete(struct cp_store *st, const char *arn)
{
	struct es *s = es_of(st);
	char k[ES_KEY_CAP], ps[ES_KEY_CAP];
	const struct etcd_kv *kv = NULL;
	int n = es_key(s, k, "p/%s", arn), rc;

	if (n < 0)
		return -EIO;
	for (int tries = 0; tries < ES_CAS_TRIES; tries++) {
		struct txn t;
		char stream[CP_NAME_MAX + 1];
		int64_t rev;
		int pn;

		rc = es_get(s, k, (size_t)n, &kv);
		if (rc == -ENOENT)
			return 0;
		if (rc < 0)
			return rc;
		const char *text;
		size_t pl;
		if (policy_rec_split(kv, stream, &text, &pl) < 0)
			return -EIO;
		rev = kv->mod_rev;
		if ((pn = es_key(s, ps, "ps/%s/%s", stream, arn)) < 0)
			return -EIO;
		txn_begin(s, &t);
		txn_cmp(&t, k, (size_t)n, false, rev);
		txn_next(&t);
		txn_del(&t, k, (size_t)n, NULL, 0);
		txn_del(&t, ps, (size_t)pn, NULL, 0);
		if ((rc = txn_commit(s, &t)) != 0)
			return rc < 0 ? rc : 0;
	}
	return -EIO;
}

static int es_policy_list(struct cp_store *st, cp_store_policy_fn cb, void *arg)
{
	struct es *s = es_of(st);
	char k[ES_KEY_CAP], e[ES_KEY_CAP];
	int n = es_key(s, k, "p/"), rc, handed = 0;
	size_t klen;
	/* one page of policies at a time, copied out: a callback may read */
	struct pol {
		char stream[CP_NAME_MAX + 1];
		char arn[CP_STR_CAP];
		char *text;
		size_t len;
	} *v = calloc(ES_PAGE / 4, sizeof(*v));
	const uint32_t page = ES_PAGE / 4; /* 16 x 20 KiB: well inside an answer */

	if (v == NULL || n < 0) {
		free(v);
		return v == NULL ? -ENOMEM : -EIO;
	}
	prefix_end(k, (size_t)n, e);
	klen = (size_t)n;
	for (;;) {
		uint32_t got = 0;
		bool more, stop = false;

		if ((rc = es_range(s, k, klen, e, (size_t)n, page, false)) < 0)
			goto out;
		more = s->a->range[0].more;
		for (uint32_t i = 0; i < s->a->range[0].n; i++, got++) {
			const struct etcd_kv *kv = &s->a->kvs[s->a->range[0].first + i];
			const char *text;
			size_t al = kv->key_len - (size_t)n;

			if (al >= CP_STR_CAP ||
			    policy_rec_split(kv, v[got].stream, &text, &v[got].len) < 0) {
				rc = -EIO;
				goto out;
			}
			memcpy(v[got].arn, kv->key + n, al);
			v[got].arn[al] = '\0';
			v[got].text = malloc(v[got].len + 1);
			if (v[got].text == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			memcpy(v[got].text, text, v[got].len);
			v[got].text[v[got].len] = '\0';
		}
		if (got > 0) {
			const struct etcd_kv *last = &s->a->kvs[s->a->range[0].first + got - 1];
			memcpy(k, last->key, last->key_len);
			k[last->key_len] = '\0';
			klen = last->key_len + 1;
		}
		for (uint32_t i = 0; i < got; i++) {
			if (!stop) {
				handed++;
				stop = cb(arg, v[i].stream, v[i].arn, v[i].text, v[i].len) != 0;
			}
			free(v[i].text);
			v[i].text = NULL;
		}
		if (stop || !more || got == 0)
			break;
	}
	rc = handed;
out:
	for (uint32_t i = 0; i < page; i++)
		free(v[i].text);
	free(v);
	return rc;
}

/* --- channels --- */

/* A channel record is its fixed JSON objects (up to five of
 * CP_CHANNEL_OBJ_CAP) plus a role ARN: far over ES_VAL_CAP, so it is
 * written into a buffer of its own, sized for every string escaped at
 * worst (\u00XX: 6 bytes a byte). */
#define ES_CH_VAL_CAP (6u * (5u * CP_CHANNEL_OBJ_CAP + CP_CHANNEL_ROLE_CAP + 2u * CP_CHANNEL_ARN_CAP) + 1024u)
/* Channels decoded per listing request: a struct cp_channel is ~170 KiB. */
#define ES_CH_PAGE 4u

/* Into a new heap buffer (*out, the caller frees): its length or -errno. */
static int channel_enc(const struct cp_channel *c, char **out)
{
	struct jw w;
	char *buf = malloc(ES_CH_VAL_CAP);

	*out = buf;
	if (buf == NULL)
		return -ENOMEM;
	jw_init(&w, buf, ES_CH_VAL_CAP);
	jw_obj_begin(&w);
	ws(&w, "n", c->name);
	ws(&w, "id", c->id);
	ws(&w, "arn", c->arn);
	ws(&w, "s", c->stream);
	wi(&w, "st", c->status);
	wi(&w, "c", c->created_ms);
	wi_opt(&w, "d", c->deadline_ms);
	wi(&w, "f", c->freshness_s);
	ws(&w, "role", c->role);
	ws(&w, "rec", c->record);
	ws(&w, "sto", c->storage);
	ws(&w, "dlq", c->dlq);
	ws_opt(&w, "enc", c->encryption);
	ws(&w, "log", c->logging);
	jw_obj_end(&w);
	return w.overflow ? -EIO : (int)w.len;
}

static int channel_dec(struct es *s, const struct etcd_kv *kv, struct cp_channel *c)
{
	struct vr r;

	if (vr_open(s, &r, kv))
		return -EIO;
	memset(c, 0, sizeof(*c));
	vr_str(&r, "n", c->name, sizeof(c->name));
	vr_str(&r, "id", c->id, sizeof(c->id));
	vr_str(&r, "arn", c->arn, sizeof(c->arn));
	vr_str(&r, "s", c->stream, sizeof(c->stream));
	c->status = (uint8_t)vr_i64(&r, "st");
	c->created_ms = vr_i64(&r, "c");
	c->deadline_ms = vr_i64(&r, "d");
	c->freshness_s = (int32_t)vr_i64(&r, "f");
	vr_str(&r, "role", c->role, sizeof(c->role));
	vr_str(&r, "rec", c->record, sizeof(c->record));
	vr_str(&r, "sto", c->storage, sizeof(c->storage));
	vr_str(&r, "dlq", c->dlq, sizeof(c->dlq));
	vr_str(&r, "enc", c->encryption, sizeof(c->encryption));
	vr_str(&r, "log", c->logging, sizeof(c->logging));
	return r.err;
}

/* The record (ch/<name>), its ARN index (cha/<ARN> -> name), its stream's
 * index (chs/<stream>/<name>) and its deadline index (chd/<deadline>/<ARN>,
 * moved from old_dl). */
static int txn_channel_put(struct es *s, struct txn *t, const struct cp_channel *c,
			   int64_t old_dl, bool create)
{
	char key[ES_KEY_CAP], hex[17], st[4], *val = NULL;
	int n, v = channel_enc(c, &val);

	if (v < 0 || (n = es_key(s, key, "ch/%s", c->name)) < 0) {
		free(val);
		return v == -ENOMEM ? v : -EIO;
	}
	txn_put(t, key, (size_t)n, val, (size_t)v);
	free(val); /* txn_put copied it (base64) into the request */
	if (create) {
		if ((n = es_key(s, key, "cha/%s", c->arn)) < 0)
			return -EIO;
		txn_put(t, key, (size_t)n, c->name, strlen(c->name));
		if ((n = es_key(s, key, "chs/%s/%s", c->stream, c->name)) < 0)
			return -EIO;
		txn_put(t, key, (size_t)n, "", 0);
	}
	if (old_dl > 0 && old_dl != c->deadline_ms) {
		if ((n = es_key(s, key, "chd/%s/%s", dl_hex(old_dl, hex), c->arn)) < 0)
			return -EIO;
		txn_del(t, key, (size_t)n, NULL, 0);
	}
	if (c->deadline_ms > 0) {
		if ((n = es_key(s, key, "chd/%s/%s", dl_hex(c->deadline_ms, hex), c->arn)) < 0)
			return -EIO;
		snprintf(st, sizeof(st), "%u", c->status);
		txn_put(t, key, (size_t)n, st, strlen(st));
	}
	return 0;
}

static int es_channel_add(struct cp_store *st, const struct cp_channel *c)
{
	struct es *s = es_of(st);
	char k[ES_KEY_CAP], a[ES_KEY_CAP];
	int kn = es_key(s, k, "ch/%s", c->name), an = es_key(s, a, "cha/%s", c->arn), rc;
	struct txn t;

	if (kn < 0 || an < 0)
		return -EIO;
	/* the name and the ARN are each taken once: as the SQLite table's
	 * UNIQUE name and PRIMARY KEY arn */
	txn_begin(s, &t);
	txn_cmp(&t, k, (size_t)kn, true, 0);
	txn_cmp(&t, a, (size_t)an, true, 0);
	txn_next(&t);
	if ((rc = txn_channel_put(s, &t, c, 0, true)) < 0)
		return rc;
	rc = txn_commit(s, &t);
	return rc < 0 ? rc : rc == 1 ? 0 : -EEXIST;
}

/* By ARN (name NULL) or by name: the record and its mod_revision. The ARN
 * index is read first; a record whose ARN differs (the name was reused
 * between the two reads) is "absent", as it would be a moment later. */
static int channel_read(struct es *s, const char *arn, const char *name, struct cp_channel *out,
			int64_t *rev)
{
	char k[ES_KEY_CAP], nm[CP_NAME_MAX + 1];
	const struct etcd_kv *kv = NULL;
	int n, rc;

	if (arn != NULL) {
		if ((n = es_key(s, k, "cha/%s", arn)) < 0)
			return -EIO;
		if ((rc = es_get(s, k, (size_t)n, &kv)) < 0)
			return rc;
		if (kv->value_len == 0 || kv->value_len > CP_NAME_MAX)
			return -EIO;
		memcpy(nm, kv->value, kv->value_len);
		nm[kv->value_len] = '\0';
		name = nm;
	}
	if ((n = es_key(s, k, "ch/%s", name)) < 0)
		return -EIO;
	if ((rc = es_get(s, k, (size_t)n, &kv)) < 0)
		return rc;
	if (channel_dec(s, kv, out) < 0)
		return -EIO;
	if (arn != NULL && strcmp(out->arn, arn) != 0)
		return -ENOENT;
	if (rev != NULL)
		*rev = kv->mod_rev;
	return 0;
}

static int es_channel_get(struct cp_store *st, const char *arn, const char *name,
			  struct cp_channel *out)
{
	return channel_read(es_of(st), arn, name, out, NULL);
}

static int es_channel_update(struct cp_store *st, const struct cp_channel *c)
{
	struct es *s = es_of(st);
	struct cp_channel *cur = malloc(sizeof(*cur));
	char k[ES_KEY_CAP];
	int rc = -EIO;

	if (cur == NULL)
		return -ENOMEM;
	for (int tries = 0; tries < ES_CAS_TRIES; tries++) {
		int64_t rev, old_dl;
		struct txn t;
		int n;

		if ((rc = channel_read(s, c->arn, NULL, cur, &rev)) < 0)
			break;
		old_dl = cur->deadline_ms;
		/* only what the contract says changes: the rest stays as stored */
		cur->status = c->status;
		cur->deadline_ms = c->deadline_ms;
		cur->freshness_s = c->freshness_s;
		snprintf(cur->logging, sizeof(cur->logging), "%s", c->logging);
		rc = -EIO;
		if ((n = es_key(s, k, "ch/%s", cur->name)) < 0)
			break;
		txn_begin(s, &t);
		txn_cmp(&t, k, (size_t)n, false, rev);
		txn_next(&t);
		if ((rc = txn_channel_put(s, &t, cur, old_dl, false)) < 0)
			break;
		if ((rc = txn_commit(s, &t)) != 0) {
			rc = rc < 0 ? rc : 0;
			break;
		}
		rc = -EIO; /* raced: read again */
	}
	free(cur);
	return rc;
}

static int es_channel_remove(struct cp_store *st, const char *arn)
{
	struct es *s = es_of(st);
	struct cp_channel *c = malloc(sizeof(*c));
	char k[ES_KEY_CAP], key[ES_KEY_CAP], hex[17];
	int rc = -EIO;

	if (c == NULL)
		return -ENOMEM;
	for (int tries = 0; tries < ES_CAS_TRIES; tries++) {
		int64_t rev;
		struct txn t;
		int n, kn;

		rc = channel_read(s, arn, NULL, c, &rev);
		if (rc == -ENOENT) {
			rc = 0; /* absent: done */
			break;
		}
		if (rc < 0)
			break;
		rc = -EIO;
		if ((kn = es_key(s, k, "ch/%s", c->name)) < 0)
			break;
		txn_begin(s, &t);
		txn_cmp(&t, k, (size_t)kn, false, rev);
		txn_next(&t);
		txn_del(&t, k, (size_t)kn, NULL, 0);
		if ((n = es_key(s, key, "cha/%s", c->arn)) < 0)
			break;
		txn_del(&t, key, (size_t)n, NULL, 0);
		if ((n = es_key(s, key, "chs/%s/%s", c->stream, c->name)) < 0)
			break;
		txn_del(&t, key, (size_t)n, NULL, 0);
		if (c->deadline_ms > 0) {
			if ((n = es_key(s, key, "chd/%s/%s", dl_hex(c->deadline_ms, hex), c->arn)) < 0)
				break;
			txn_del(&t, key, (size_t)n, NULL, 0);
		}
		if ((rc = txn_commit(s, &t)) != 0) {
			rc = rc < 0 ? rc : 0;
			break;
		}
		rc = -EIO; /* raced: read again */
	}
	free(c);
	return rc;
}

static int es_channel_count(struct cp_store *st, const char *stream, uint32_t *out)
{
	struct es *s = es_of(st);
	char k[ES_KEY_CAP], e[ES_KEY_CAP];
	int n = stream ? es_key(s, k, "chs/%s/", stream) : es_key(s, k, "ch/"), rc;

	*out = 0;
	if (n < 0)
		return -EIO;
	prefix_end(k, (size_t)n, e);
	if ((rc = es_range(s, k, (size_t)n, e, (size_t)n, 0, true)) < 0)
		return rc;
	if (s->a->n_ranges != 1 || s->a->range[0].count > UINT32_MAX)
		return -EIO;
	*out = (uint32_t)s->a->range[0].count;
	return 0;
}

/* By name (ch/ in key order), name > after, <= limit: ES_CH_PAGE records
 * a request, decoded before they are handed over (a callback may read
 * the store, which reuses the answer buffer). */
static int es_channel_list(struct cp_store *st, const char *after, uint32_t limit,
			   cp_store_channel_fn cb, void *arg)
{
	struct es *s = es_of(st);
	struct cp_channel *page = malloc(ES_CH_PAGE * sizeof(*page));
	char start[ES_KEY_CAP], end[ES_KEY_CAP];
	int sn = after ? es_key(s, start, "ch/%s", after) : es_key(s, start, "ch/");
	int pn = es_key(s, end, "ch/"), rc = 0, handed = 0;
	size_t slen;

	if (page == NULL)
		return -ENOMEM;
	if (sn < 0 || pn < 0) {
		free(page);
		return -EIO;
	}
	prefix_end(end, (size_t)pn, end);
	slen = (size_t)sn + (after ? 1u : 0u); /* after: just past it (its key + NUL) */
	start[sn] = '\0';
	while ((uint32_t)handed < limit) {
		uint32_t want = SL_MIN(ES_CH_PAGE, limit - (uint32_t)handed), got = 0;
		bool more, stop = false;

		if ((rc = es_range(s, start, slen, end, (size_t)pn, want, false)) < 0)
			goto out;
		more = s->a->range[0].more;
		for (uint32_t i = 0; i < s->a->range[0].n && got < ES_CH_PAGE; i++)
			if (channel_dec(s, &s->a->kvs[s->a->range[0].first + i], &page[got++]) < 0) {
				rc = -EIO;
				goto out;
			}
		if (got > 0) {
			if ((sn = es_key(s, start, "ch/%s", page[got - 1].name)) < 0) {
				rc = -EIO;
				goto out;
			}
			start[sn] = '\0';
			slen = (size_t)sn + 1;
		}
		for (uint32_t i = 0; i < got && !stop; i++) {
			handed++;
			stop = cb(arg, &page[i]) != 0;
		}
		if (stop || !more || got == 0)
			break;
	}
	rc = handed;
out:
	free(page);
	return rc;
}

struct ch_due_batch {
	uint32_t n;
	char arn[CP_STORE_BATCH_MAX][CP_CHANNEL_ARN_CAP];
	uint8_t status[CP_STORE_BATCH_MAX];
};

static int es_channel_due(struct cp_store *st, int64_t now_ms, cp_store_channel_due_fn cb,
			  void *arg)
{
	struct es *s = es_of(st);
	struct ch_due_batch *b = malloc(sizeof(*b));
	char k[ES_KEY_CAP], e[ES_KEY_CAP], hex[17];
	int n = es_key(s, k, "chd/"), en = es_key(s, e, "chd/%s/", dl_hex(now_ms, hex));
	int handed = 0, rc;

	if (b == NULL)
		return -ENOMEM;
	if (n < 0 || en < 0) {
		rc = -EIO;
		goto out;
	}
	e[en - 1]++; /* every deadline <= now_ms: up to and including its prefix */
	if ((rc = es_range(s, k, (size_t)n, e, (size_t)en, CP_STORE_BATCH_MAX, false)) < 0)
		goto out;
	/* collected first: the callback writes, reusing the answer buffer */
	b->n = 0;
	for (uint32_t i = 0; i < s->a->range[0].n && b->n < CP_STORE_BATCH_MAX; i++) {
		const struct etcd_kv *kv = &s->a->kvs[s->a->range[0].first + i];
		size_t skip = (size_t)n + 17; /* past "<16 hex>/" */

		if (kv->key_len <= skip || kv->key_len - skip >= CP_CHANNEL_ARN_CAP) {
			rc = -EIO;
			goto out;
		}
		memcpy(b->arn[b->n], kv->key + skip, kv->key_len - skip);
		b->arn[b->n][kv->key_len - skip] = '\0';
		b->status[b->n++] = (uint8_t)atoi(kv->value);
	}
	for (uint32_t i = 0; i < b->n; i++, handed++)
		if (cb(arg, b->arn[i], b->status[i]))
			break; /* as the SQLite backend: the stopping one not counted */
	rc = handed;
out:
	free(b);
	return rc;
}

const struct cp_store_ops cp_store_etcd_ops = {
	.name = "etcd",
	.open = es_open_spec,
	.close = es_close,
	.stream_get = es_stream_get,
	.stream_create = es_stream_create,
	.stream_set_status = es_stream_set_status,
	.stream_set_retention = es_stream_set_retention,
	.stream_set_field = es_stream_set_field,
	.stream_remove = es_stream_remove,
	.stream_totals = es_stream_totals,
	.stream_on_demand_count = es_stream_on_demand_count,
	.stream_list = es_stream_list,
	.next_deadline = es_next_deadline,
	.due = es_due,
	.shard_list = es_shard_list,
	.shard_get = es_shard_get,
	.reshard = es_reshard,
	.shard_last_created = es_shard_last_created,
	.shard_set_end_seq = es_shard_set_end_seq,
	.shard_unsealed = es_shard_unsealed,
	.scaling_count = es_scaling_count,
	.scaling_add = es_scaling_add,
	.tag_list = es_tag_list,
	.tag_put = es_tag_put,
	.tag_del = es_tag_del,
	.key_get = es_key_get,
	.key_set = es_key_set,
	.consumer_add = es_consumer_add,
	.consumer_get = es_consumer_get,
	.consumer_set_status = es_consumer_set_status,
	.consumer_remove = es_consumer_remove,
	.consumer_all_deleting = es_consumer_all_deleting,
	.consumer_counts = es_consumer_counts,
	.consumer_list = es_consumer_list,
	.consumer_route_list = es_consumer_route_list,
	.stream_set_encryption = es_stream_set_encryption,
	.policy_put = es_policy_put,
	.policy_get = es_policy_get,
	.policy_delete = es_policy_delete,
	.policy_list = es_policy_list,
	.channel_add = es_channel_add,
	.channel_get = es_channel_get,
	.channel_update = es_channel_update,
	.channel_remove = es_channel_remove,
	.channel_count = es_channel_count,
	.channel_list = es_channel_list,
	.channel_due = es_channel_due,
};

/* --- the record decoders, for the fuzzer --- */

/* Runs one record decoder on a value as etcd would hand it over (a copy,
 * NUL-terminated like the answer parser's), with a store context of its
 * own and no etcd. Every decoded string must end inside its field. */
int cp_store_etcd_decode(enum es_rec kind, const char *value, size_t len)
{
	struct es *s = calloc(1, sizeof(*s));
	char *v = malloc(len + 1);
	union {
		struct cp_stream st;
		struct cp_shard sh;
		struct cp_consumer co;
		struct cp_channel ch;
	} *u = malloc(sizeof(*u));
	char stream[CP_NAME_MAX + 1];
	const char *text;
	size_t tl;
	int64_t last = 0;
	int rc = -ENOMEM;

	if (s == NULL || v == NULL || u == NULL)
		goto out;
	memcpy(v, value, len);
	v[len] = '\0';
	struct etcd_kv kv = { .key = "fuzz", .key_len = 4, .value = v, .value_len = len };
	switch (kind) {
	case ES_REC_STREAM:
		rc = stream_dec(s, &kv, "fuzz", &u->st, &last);
		BUG_ON(rc == 0 && (strnlen(u->st.arn, sizeof(u->st.arn)) == sizeof(u->st.arn) ||
				   strnlen(u->st.key_id, sizeof(u->st.key_id)) ==
					   sizeof(u->st.key_id)));
		break;
	case ES_REC_SHARD:
		rc = shard_dec(s, &kv, &u->sh);
		BUG_ON(rc == 0 && (strnlen(u->sh.id, sizeof(u->sh.id)) == sizeof(u->sh.id) ||
				   strnlen(u->sh.end_seq, sizeof(u->sh.end_seq)) ==
					   sizeof(u->sh.end_seq)));
		break;
	case ES_REC_CONSUMER:
		rc = consumer_dec(s, &kv, &u->co);
		BUG_ON(rc == 0 && strnlen(u->co.arn, sizeof(u->co.arn)) == sizeof(u->co.arn));
		break;
	case ES_REC_CHANNEL:
		rc = channel_dec(s, &kv, &u->ch);
		BUG_ON(rc == 0 && (strnlen(u->ch.storage, sizeof(u->ch.storage)) ==
					   sizeof(u->ch.storage) ||
				   strnlen(u->ch.logging, sizeof(u->ch.logging)) ==
					   sizeof(u->ch.logging)));
		break;
	case ES_REC_POLICY:
		rc = policy_rec_split(&kv, stream, &text, &tl);
		BUG_ON(rc == 0 && (text < v || text + tl != v + len ||
				   strlen(stream) > CP_NAME_MAX));
		break;
	default:
		rc = -EINVAL;
	}
out:
	free(u);
	free(v);
	free(s);
	return rc;
}

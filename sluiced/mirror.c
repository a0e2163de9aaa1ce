/* SPDX-License-Identifier: Apache-2.0 */
/* Store-and-forward mirror (mirror.h). One thread per mirrored stream,
 * off the fast path, whose only job is to keep one upstream fed in order.
 * The HTTPS client (stop-aware waits), the reader of the local stream, the
 * checkpoint file and the backoff are hclient.c's, shared with channel
 * delivery; what is the mirror's own is the batching below.
 *
 * Per-key order. Kinesis orders records per shard, and a PutRecords call
 * may fail some entries (throttling, InternalFailure) while later ones
 * succeed. If two records of one partition key were in one call and the
 * first failed while the second landed, no retry could put them back in
 * order. So a batch never holds two records of the same partition key: it
 * is cut before a key repeats (source order, at most 500 entries / 4 MiB).
 * The failed entries of a batch are retried alone, in their order, with
 * backoff, until every entry is acknowledged; only then is the checkpoint
 * moved past the batch and the next batch built. The cost is smaller
 * batches for hot keys.
 *
 * Duplicates. The checkpoint (DIR/mirror.ckpt, replaced with fsync) holds
 * the last source sequence number per shard whose batch was acknowledged
 * whole. A crash between the upstream's acknowledgement and the checkpoint
 * re-sends that one batch; a response lost on the wire re-sends the
 * entries of that call. Nothing else is sent twice. */
#include "sluiced/mirror.h"
#include "sluiced/mirror_wire.h"
#include "sluiced/hclient.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bug.h"
#include "common/json.h"
#include "common/log.h"
#include "common/prom.h"

#define MR_NAME_MAX 129		     /* stream names: 1..128 */
#define MR_SHARDS_MAX 4096	     /* source shards followed (ListShards pages of 1000): ~3.5 MiB */
#define MR_BATCH_RECORDS 500	     /* PutRecords' limit */
#define MR_BATCH_BYTES (4u << 20)    /* under PutRecords' 5 MiB */
#define MR_BODY_MAX (8u << 20)	     /* base64 of 4 MiB plus keys */
/* More than one batch per read: at 500 (one batch) and 5 reads/s a shard
 * forwarded at most ~2300 records/s, less than a shard takes in (1000
 * records/s is Kinesis's limit, but quotas may be off), and the per-call
 * costs (TLS records, headers, SigV4) were paid 4 times. 5000, not
 * GetRecords' 10000: 10000 records of 1 KiB answer ~16 MB (base64 and the
 * members), at MIRROR_RESP_MAX, which an answer over fails whole; 5000
 * stay under 9 MB, and an answer of larger records is bounded by the
 * server's 10 MiB of data per GetRecords (~14 MB as base64). */
#define MR_GET_LIMIT 5000	     /* records per GetRecords: 10 PutRecords batches */
#define MR_TOKS_MAX 98304	     /* GetRecords: 5000 x ~13; ListShards: 1000 x ~20 */
#define MR_NICE 10		     /* the mirror thread's nice value */
#define MR_PROBE_MS 1000	     /* backlog probes while a batch waits: at most this often */
#define MR_PROBE_SHARDS 64	     /* shards probed per refresh (round robin) */
#define MR_PROBE_TOKS 256	     /* a one-record GetRecords answer, ChildShards included */
/* checkpoint_sync_ms's default (ckpt_save): 0, fsync after every batch, so
 * even a power loss re-sends at most the last unacknowledged batch (issue
 * #17's bound); an operator may trade that for throughput. */
#define MR_CKPT_SYNC_MS 0
#define MR_STREAMS_MAX 8	     /* mirrored streams per server: ~40 MiB of buffers each */
_Static_assert(MIRROR_RESP_MAX <= HC_RESP_MAX, "hclient reads every answer the mirror takes");

/* The partition keys of the batch being built, as an open-addressing set:
 * a batch never holds a key twice, and comparing each record's key with
 * every key before it cost ~125000 memcmp per full batch of 500 (memcmp
 * fell from 4.2% to 3.1% of the mirror thread's samples with the set). */
#define MR_KEY_SLOTS 1024u /* a power of two over 2 x MR_BATCH_RECORDS: short probes */
_Static_assert(MR_KEY_SLOTS >= 2 * MR_BATCH_RECORDS, "the key set must stay half empty");

struct mr_keyset {
	uint16_t slot[MR_KEY_SLOTS]; /* 0 = empty, else 1 + index into key */
	struct sl_slice key[MR_BATCH_RECORDS];
	uint32_t n;
};

struct mr_stream {
	struct hc_thread thr;
	bool relist;  /* a shard closed: ListShards again for its children */
	const atomic_bool *stop;
	char stream[MR_NAME_MAX];
	char up_stream[MR_NAME_MAX];
	char tname[16]; /* log name of its thread: "mirror", or "mirror-K" of several */
	char ckpt_path[HC_PATH_MAX];
	struct hc_peer local, up;
	struct hc_reader rd; /* of stream, through local */
	/* A second local connection for backlog probes while a batch waits
	 * for the upstream (its records live in local's buffer), with
	 * scratch tokens of its own. */
	struct hc_peer probe;
	struct json_tok *probe_toks;
	uint64_t probe_ms;  /* last probe round */
	uint32_t probe_next; /* round robin over the shards */
	char *body;
	struct json_tok *toks, *ptoks;
	uint32_t backoff_ms;
	uint64_t ckpt_sync_ms; /* when the checkpoint was last saved with fsync */
	uint32_t sync_every_ms; /* fsync the checkpoint at most this often (0: every batch) */
	struct mr_keyset keys; /* of the batch being built (pump_shard) */
	/* written by the mirror thread, read by the admin thread's scrape */
	_Atomic uint64_t sent, retried, batches, errors;
	_Atomic uint64_t lag_ms;     /* largest MillisBehindLatest of the last round */
	_Atomic uint64_t backlog;    /* records after the checkpoints (hc_backlog) */
	_Atomic uint64_t ckpt_wall_ms; /* when the checkpoint last moved */
	_Atomic bool up_ok;	     /* the last upstream call succeeded */
};

/* The set --mirror-config names: one mr_stream (thread, connections,
 * checkpoint) per mirrored stream, so a stalled upstream of one stream
 * never holds up another's. */
struct mirror {
	struct mr_stream *s[MR_STREAMS_MAX];
	uint32_t n;
};

/* ---- configuration ------------------------------------------------------ */

/* One stream block of the configuration file, as text until mirror_open
 * checks it. The keys before the first "stream =" line are defaults that
 * every block inherits (one upstream and key for all, the common case);
 * each "stream =" line starts a block whose own keys override them. */
struct mr_conf {
	char stream[MR_NAME_MAX], up_stream[MR_NAME_MAX];
	char endpoint[HC_HOST_MAX + 16], region[64], key[HC_SECRET_MAX], sec[HC_SECRET_MAX];
	char ca[HC_PATH_MAX], local_ca[HC_PATH_MAX];
	uint32_t list_page; /* list_shards_page: ListShards MaxResults (0: HC_LIST_PAGE) */
	int32_t sync_ms;    /* checkpoint_sync_ms; -1: not given (MR_CKPT_SYNC_MS) */
};

/* key = value into c; -EINVAL for an unknown key or a bad value. */
static int conf_set(struct mr_conf *c, const char *k, const char *v)
{
	static const struct {
		const char *key;
		size_t off, cap;
	} keys[] = {
		{ "upstream_stream", offsetof(struct mr_conf, up_stream), MR_NAME_MAX },
		{ "endpoint", offsetof(struct mr_conf, endpoint), HC_HOST_MAX + 16 },
		{ "region", offsetof(struct mr_conf, region), 64 },
		{ "access_key", offsetof(struct mr_conf, key), HC_SECRET_MAX },
		{ "secret_key", offsetof(struct mr_conf, sec), HC_SECRET_MAX },
		{ "ca_bundle", offsetof(struct mr_conf, ca), HC_PATH_MAX },
		{ "local_ca", offsetof(struct mr_conf, local_ca), HC_PATH_MAX },
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(k, keys[i].key) == 0)
			return hc_copy_val((char *)c + keys[i].off, keys[i].cap, v);
	if (strcmp(k, "checkpoint_sync_ms") == 0) {
		/* 0: fsync after every batch (a power loss re-sends at most the
		 * last unacknowledged batch, as a crash does) */
		char *e;
		unsigned long ms = strtoul(v, &e, 10);
		if (*e || e == v || ms > 10000)
			return -EINVAL;
		c->sync_ms = (int32_t)ms;
		return 0;
	}
	if (strcmp(k, "list_shards_page") == 0) {
		/* ListShards' MaxResults range; a small page lets a test
		 * cross pages with a few shards */
		char *e;
		unsigned long p = strtoul(v, &e, 10);
		if (*e || e == v || p < 1 || p > 10000)
			return -EINVAL;
		c->list_page = (uint32_t)p;
		return 0;
	}
	return -EINVAL;
}

/* Kinesis stream names: [a-zA-Z0-9_.-]{1,128}. Checked here because the
 * name is also part of the checkpoint's file name. */
static bool stream_name_ok(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");
	return n > 0 && n < MR_NAME_MAX && s[n] == 0;
}

struct mr_conf_read {
	struct mr_conf *c, *cur, *defaults;
	uint32_t *n;
};

static int conf_line(void *arg, const char *k, const char *v)
{
	struct mr_conf_read *r = arg;
	if (strcmp(k, "stream") != 0)
		return conf_set(r->cur, k, v);
	if (*r->n == MR_STREAMS_MAX || !stream_name_ok(v))
		return -EINVAL;
	for (uint32_t i = 0; i < *r->n; i++)
		if (strcmp(r->c[i].stream, v) == 0)
			return -EINVAL; /* one mirror (and checkpoint) per stream */
	r->cur = &r->c[(*r->n)++];
	memcpy(r->cur, r->defaults, sizeof(*r->cur));
	memcpy(r->cur->stream, v, strlen(v) + 1);
	return 0;
}

/* Reads the file into c[0..*n) (at most MR_STREAMS_MAX blocks). */
static int read_conf(const char *path, struct mr_conf *c, uint32_t *n)
{
	struct mr_conf *defaults = calloc(1, sizeof(*defaults));
	if (!defaults)
		return -ENOMEM;
	defaults->sync_ms = -1;
	*n = 0;
	struct mr_conf_read r = { c, defaults, defaults, n };
	char what[96];
	snprintf(what, sizeof(what), "unknown key, bad value, a stream named twice or more "
		 "than %u streams", MR_STREAMS_MAX);
	int rc = hc_read_secret_conf(path, "mirror", what, conf_line, &r);
	explicit_bzero(defaults, sizeof(*defaults));
	free(defaults);
	if (rc < 0)
		return rc;
	if (*n == 0) {
		SL_ERR("mirror: %s names no stream", path);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < *n; i++) {
		if (!c[i].endpoint[0] || !c[i].region[0] || !c[i].key[0] || !c[i].sec[0] ||
		    !c[i].ca[0]) {
			SL_ERR("mirror: %s: stream %s needs endpoint, region, access_key, secret_key "
			       "and ca_bundle (in its block or before the first stream line)", path,
			       c[i].stream);
			return -EINVAL;
		}
		if (!c[i].up_stream[0])
			memcpy(c[i].up_stream, c[i].stream, sizeof(c[i].stream));
	}
	return 0;
}

/* ---- checkpoint ----------------------------------------------------------- */

/* After every acknowledged batch the checkpoint file is replaced, so a
 * crash of the process (kill -9) re-sends at most the last unacknowledged
 * batch; but with fsync (file and directory) at most every m->sync_every_ms
 * (and at stop): two fsyncs per batch were a fixed cost per 500 records or
 * fewer (fewer when few keys are hot). A power loss re-sends at most the
 * batches acknowledged in the last m->sync_every_ms (checkpoint_sync_ms,
 * default MR_CKPT_SYNC_MS; 0: every batch), plus that one. force: sync
 * now. */
static int ckpt_save(struct mr_stream *m, bool force)
{
	uint64_t now = hc_now_ms();
	bool sync = force || now - m->ckpt_sync_ms >= m->sync_every_ms;
	/* m->body is free between batches */
	int rc = hc_ckpt_save(&m->rd, m->ckpt_path, m->body, MR_BODY_MAX, sync);
	if (rc == 0 && sync)
		m->ckpt_sync_ms = now;
	if (rc == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		atomic_store_explicit(&m->ckpt_wall_ms,
				      (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u,
				      memory_order_relaxed);
	}
	return rc;
}

/* ---- the loop ------------------------------------------------------------- */

/* How old record object i of a GetRecords answer is (now minus its
 * ApproximateArrivalTimestamp, epoch seconds with decimals), in ms; 0 when
 * it cannot be read. */
static uint64_t record_age_ms(const struct json_doc *d, uint32_t i)
{
	int32_t t = json_obj_get(d, i, "ApproximateArrivalTimestamp");
	if (t < 0 || d->toks[t].type != JSON_NUMBER)
		return 0;
	struct sl_slice s = json_tok_slice(d, (uint32_t)t);
	char num[32];
	if (s.len == 0 || s.len >= sizeof(num))
		return 0;
	memcpy(num, s.ptr, s.len);
	num[s.len] = 0;
	char *e;
	double sec = strtod(num, &e);
	if (*e || !(sec > 0.0) || sec > 1e11)
		return 0;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	double age = (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6 - sec * 1000.0;
	return age > 0.0 ? (uint64_t)age : 0;
}

/* While a batch waits for the upstream, the lag gauge shows the age of its
 * oldest unacknowledged record (idx[0]): MillisBehindLatest comes from
 * local reads, which stop while the upstream is down, so without this the
 * gauge froze at its last value through an outage. */
static void publish_backlog(struct mr_stream *m)
{
	atomic_store_explicit(&m->backlog, hc_backlog(&m->rd), memory_order_relaxed);
}

/* The backlog gauge while a batch waits: records keep arriving, and the
 * reads that count them have stopped. At most every MR_PROBE_MS, up to
 * MR_PROBE_SHARDS shards (round robin) are counted afresh on the probe
 * connection (hc_probe_backlog: two small local calls each). */
static void probe_backlog(struct mr_stream *m)
{
	uint64_t now = hc_now_ms();
	if (now - m->probe_ms < MR_PROBE_MS || m->rd.nshards == 0)
		return;
	m->probe_ms = now;
	for (uint32_t k = 0; k < MR_PROBE_SHARDS && k < m->rd.nshards && !atomic_load(m->stop);
	     k++) {
		struct hc_shard *sh = &m->rd.shards[m->probe_next++ % m->rd.nshards];
		if (sh->closed)
			continue;
		int rc = hc_probe_backlog(&m->rd, &m->probe, m->probe_toks, MR_PROBE_TOKS, sh);
		if (rc < 0) {
			SL_DEBUG("mirror: backlog of %s: %d", sh->id, rc);
			break; /* the next retry tries again */
		}
	}
	publish_backlog(m);
}

static void note_waiting(struct mr_stream *m, const struct json_doc *d, uint32_t first)
{
	uint64_t age = record_age_ms(d, first);
	if (age > atomic_load_explicit(&m->lag_ms, memory_order_relaxed))
		atomic_store_explicit(&m->lag_ms, age, memory_order_relaxed);
	probe_backlog(m);
}

/* Sends records idx[0..n) (token indices into the local GetRecords answer
 * held in m->toks / m->local.buf) until every one is acknowledged. Returns 0,
 * or -ECANCELED when stopping. */
static int put_batch(struct mr_stream *m, const struct json_doc *d, uint32_t *idx, uint32_t n)
{
	while (n) {
		if (atomic_load(m->stop))
			return -ECANCELED;
		struct jw w;
		jw_init(&w, m->body, MR_BODY_MAX);
		jw_obj_begin(&w);
		jw_key(&w, "StreamName");
		jw_str(&w, m->up_stream);
		jw_key(&w, "Records");
		jw_arr_begin(&w);
		for (uint32_t k = 0; k < n; k++) {
			int32_t data = json_obj_get(d, idx[k], "Data");
			int32_t pk = json_obj_get(d, idx[k], "PartitionKey");
			int32_t ehk = json_obj_get(d, idx[k], "ExplicitHashKey");
			jw_obj_begin(&w);
			/* both are JSON strings as the local server wrote them
			 * (start - 1 is the opening quote): base64 and an
			 * escaped key pass through unchanged */
			jw_key(&w, "Data");
			jw_raw(&w, d->buf + d->toks[data].start - 1, d->toks[data].len + 2);
			jw_key(&w, "PartitionKey");
			jw_raw(&w, d->buf + d->toks[pk].start - 1, d->toks[pk].len + 2);
			/* the stored hash key (a decimal string, forward's check),
			 * so the upstream places the record where its producer
			 * asked: same shard when both have the same layout */
			if (ehk >= 0) {
				jw_key(&w, "ExplicitHashKey");
				jw_raw(&w, d->buf + d->toks[ehk].start - 1, d->toks[ehk].len + 2);
			}
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
		jw_obj_end(&w);
		BUG_ON(w.overflow); /* batches are cut well under MR_BODY_MAX */
		int st = hc_kinesis(&m->up, "PutRecords", m->body, w.len);
		atomic_store_explicit(&m->up_ok, st == 200, memory_order_relaxed);
		if (st == -ECANCELED)
			return st;
		if (st != 200) {
			atomic_fetch_add_explicit(&m->errors, 1, memory_order_relaxed);
			char type[96] = "";
			if (st > 0)
				hc_err_type(&m->up, m->ptoks, 64, type, sizeof(type));
			SL_WARN("mirror: upstream PutRecords: %s%s (%d; retrying %u records)",
				st < 0 ? strerror(-st) : "HTTP error ", type, st, n);
			note_waiting(m, d, idx[0]);
			hc_backoff(&m->backoff_ms, m->stop);
			continue;
		}
		int failed = mirror_put_result(m->up.buf, m->up.len, m->ptoks,
					       8 * MR_BATCH_RECORDS + 16, idx, n);
		if (failed < 0) {
			atomic_fetch_add_explicit(&m->errors, 1, memory_order_relaxed);
			hc_backoff(&m->backoff_ms, m->stop); /* not an answer we understand: send it all again */
			continue;
		}
		uint32_t left = (uint32_t)failed;
		atomic_fetch_add_explicit(&m->sent, n - left, memory_order_relaxed);
		if (left) {
			atomic_fetch_add_explicit(&m->retried, left, memory_order_relaxed);
			/* at most one line per backoff step (>= 100 ms) */
			SL_INFO("mirror: upstream failed %u of %u entries (throttled?); retrying "
				"them", left, n);
			note_waiting(m, d, idx[0]); /* the first failed entry, moved to the front */
			hc_backoff(&m->backoff_ms, m->stop); /* throttled or InternalFailure: both want a pause */
		} else {
			m->backoff_ms = 0;
		}
		n = left;
	}
	return 0;
}

static uint32_t key_hash(struct sl_slice k)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (uint32_t i = 0; i < k.len; i++)
		h = (h ^ (uint8_t)k.ptr[i]) * 16777619u;
	return h;
}

/* The slot where k is, or the empty slot where it would go. */
static uint32_t keyset_find(const struct mr_keyset *ks, struct sl_slice k)
{
	uint32_t i = key_hash(k) & (MR_KEY_SLOTS - 1);
	for (;; i = (i + 1) & (MR_KEY_SLOTS - 1)) {
		uint16_t e = ks->slot[i];
		if (!e)
			return i;
		const struct sl_slice *o = &ks->key[e - 1];
		if (o->len == k.len && memcmp(o->ptr, k.ptr, k.len) == 0)
			return i;
	}
}

/* Forwards the records of one GetRecords answer d (array token arr) of sh
 * in batches, moving sh's checkpoint past each acknowledged batch. Returns
 * the number forwarded or -errno. */
static int forward(struct mr_stream *m, struct hc_shard *sh, const struct json_doc *d,
		   int32_t arr)
{
	uint32_t idx[MR_BATCH_RECORDS], n = 0, total = 0;
	size_t bytes = 0;
	struct mr_keyset *ks = &m->keys;
	memset(ks->slot, 0, sizeof(ks->slot));
	ks->n = 0;
	int32_t last_seq = -1;
	for (uint32_t i = (uint32_t)arr + 1, k = 0;; k++, i = d->toks[i].next) {
		bool end = k == d->toks[arr].count;
		struct sl_slice pk = { 0 };
		size_t sz = 0;
		bool repeat = false;
		if (!end) {
			int32_t p = json_obj_get(d, i, "PartitionKey");
			int32_t da = json_obj_get(d, i, "Data");
			if (p < 0 || da < 0 || json_obj_get(d, i, "SequenceNumber") < 0 ||
			    !mirror_ehk_ok(d, i))
				return -EPROTO;
			pk = json_tok_slice(d, (uint32_t)p);
			sz = pk.len + d->toks[da].len / 4 * 3;
			repeat = ks->slot[keyset_find(ks, pk)] != 0;
		}
		/* cut before a key repeats (mirror.c's top comment) or the batch is full */
		if (n && (end || repeat || n == MR_BATCH_RECORDS || bytes + sz > MR_BATCH_BYTES)) {
			int rc = put_batch(m, d, idx, n);
			if (rc < 0)
				return rc;
			struct sl_slice s = json_tok_slice(d, (uint32_t)last_seq);
			if (s.len < sizeof(sh->ckpt)) {
				memcpy(sh->ckpt, s.ptr, s.len);
				sh->ckpt[s.len] = 0;
			}
			if ((rc = ckpt_save(m, false)) < 0)
				SL_ERR("mirror: checkpoint %s: %s", m->ckpt_path, strerror(-rc));
			atomic_fetch_add_explicit(&m->batches, 1, memory_order_relaxed);
			sh->backlog -= n < sh->backlog ? n : sh->backlog;
			publish_backlog(m);
			total += n;
			n = 0;
			bytes = 0;
			memset(ks->slot, 0, sizeof(ks->slot));
			ks->n = 0;
		}
		if (end)
			break;
		BUG_ON(ks->n != n || n >= MR_BATCH_RECORDS);
		ks->key[n] = pk;
		ks->slot[keyset_find(ks, pk)] = (uint16_t)(n + 1);
		ks->n = n + 1;
		idx[n++] = i;
		bytes += sz;
		last_seq = json_obj_get(d, i, "SequenceNumber");
	}
	return (int)total;
}

static int pump_shard(struct mr_stream *m, struct hc_shard *sh)
{
	struct json_doc d;
	int32_t arr;
	int rc = hc_get_records(&m->rd, sh, &d, &arr);
	if (rc < 0)
		return rc;
	publish_backlog(m);
	/* hc_get_records has moved sh->iter (or sh->closed) past this answer:
	 * any way out below before it is all forwarded re-opens the shard from
	 * its checkpoint instead, so nothing is skipped */
	rc = forward(m, sh, &d, arr);
	if (rc < 0 && rc != -ECANCELED) {
		sh->iter[0] = 0;
		sh->closed = false;
	}
	return rc;
}
static void *mirror_main(void *arg)
{
	struct mr_stream *m = arg;
	/* the mirror catches up when the lcores idle (store and forward) */
	hc_thread_prologue(m->tname, MR_NICE);
	/* the probe connection dials where hc_thread_start pointed local */
	memcpy(m->probe.host, m->local.host, sizeof(m->probe.host));
	memcpy(m->probe.port, m->local.port, sizeof(m->probe.port));
	struct hc_reader *r = &m->rd;
	while (!atomic_load(m->stop) && r->nshards == 0) {
		int rc = hc_list_shards(r);
		if (rc < 0 || r->nshards == 0) {
			SL_DEBUG("mirror: stream %s not listable yet (%d)", m->stream, rc);
			hc_backoff(&m->backoff_ms, m->stop);
			continue;
		}
		m->backoff_ms = 0;
		hc_ckpt_load(r, m->ckpt_path);
		SL_INFO("mirror: %s -> https://%s:%s stream %s, %u shards", m->stream, m->up.host,
			m->up.port, m->up_stream, r->nshards);
	}
	while (!atomic_load(m->stop)) {
		int moved = 0;
		for (uint32_t i = 0; i < r->nshards && !atomic_load(m->stop); i++) {
			/* a child waits until its parents are read to their end and
			 * forwarded: per-key order across a reshard */
			if (r->shards[i].closed || hc_parents_open(r, &r->shards[i]))
				continue;
			int rc = pump_shard(m, &r->shards[i]);
			m->relist |= r->shards[i].closed; /* its children are new to us */
			if (rc > 0)
				moved += rc;
			else if (rc < 0 && rc != -ECANCELED) {
				SL_DEBUG("mirror: local read of %s: %d", r->shards[i].id, rc);
				atomic_fetch_add_explicit(&m->errors, 1, memory_order_relaxed);
				hc_backoff(&m->backoff_ms, m->stop);
			}
		}
		atomic_store_explicit(&m->lag_ms, hc_lag_ms(r), memory_order_relaxed);
		if (m->relist) {
			if (hc_list_shards(r) < 0)
				SL_WARN("mirror: cannot list the shards of %s after a reshard; "
					"retrying", m->stream);
			else
				m->relist = false;
		}
		if (!moved)
			hc_nap(m->stop, HC_GET_SPACING_MS);
	}
	/* the last acknowledged position, durably */
	if (r->nshards > 0) {
		int rc = ckpt_save(m, true);
		if (rc < 0)
			SL_ERR("mirror: checkpoint %s: %s", m->ckpt_path, strerror(-rc));
	}
	SL_INFO("mirror: %s stopped (%llu records acknowledged upstream, %llu entries retried, "
		"%llu batches)", m->stream, (unsigned long long)atomic_load(&m->sent),
		(unsigned long long)atomic_load(&m->retried),
		(unsigned long long)atomic_load(&m->batches));
	return NULL;
}

static void stream_free(struct mr_stream *m)
{
	if (!m)
		return;
	hc_peer_fini(&m->local);
	hc_peer_fini(&m->up);
	hc_peer_fini(&m->probe);
	free(m->probe_toks);
	free(m->rd.shards);
	free(m->body);
	free(m->toks);
	free(m->ptoks);
	free(m);
}

/* One stream's mirror from its checked configuration block. */
static struct mr_stream *stream_open(struct mr_conf *c, const struct mirror_local *loc,
				     uint32_t k, uint32_t n)
{
	bool legacy_ckpt = n == 1;
	struct mr_stream *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	if (n == 1)
		snprintf(m->tname, sizeof(m->tname), "mirror");
	else
		snprintf(m->tname, sizeof(m->tname), "mirror-%u", k % 100u); /* k < MR_STREAMS_MAX */
	m->local.fd = m->up.fd = m->probe.fd = -1;
	m->stop = loc->stop;
	/* a black-holed upstream or local call ends within 50 ms of SIGTERM */
	m->local.stop = m->up.stop = m->probe.stop = loc->stop;
	memcpy(m->stream, c->stream, sizeof(m->stream));
	m->sync_every_ms = c->sync_ms < 0 ? MR_CKPT_SYNC_MS : (uint32_t)c->sync_ms;
	memcpy(m->up_stream, c->up_stream, sizeof(m->up_stream));
	memcpy(m->up.ca, c->ca, sizeof(m->up.ca));
	_Static_assert(sizeof(m->up.host) == HC_HOST_MAX, "hc_parse_endpoint fills HC_HOST_MAX");
	int rc = hc_parse_endpoint(c->endpoint, m->up.host, m->up.port, NULL);
	if (rc < 0)
		SL_ERR("mirror: stream %s: endpoint must be https://HOST[:PORT]", c->stream);
	if (c->local_ca[0]) {
		memcpy(m->local.ca, c->local_ca, sizeof(m->local.ca));
		memcpy(m->probe.ca, c->local_ca, sizeof(m->probe.ca));
	}
	/* one checkpoint per stream; a single-stream file keeps the name
	 * mirror.ckpt of the release that mirrored one stream only */
	int pn = legacy_ckpt ?
		snprintf(m->ckpt_path, sizeof(m->ckpt_path), "%s/mirror.ckpt", loc->data_dir) :
		snprintf(m->ckpt_path, sizeof(m->ckpt_path), "%s/mirror.%s.ckpt", loc->data_dir,
			 m->stream);
	if (rc == 0 && (pn < 0 || (size_t)pn >= sizeof(m->ckpt_path)))
		rc = -ENAMETOOLONG;
	if (rc == 0) {
		struct hc_shard *shards = calloc(MR_SHARDS_MAX, sizeof(*shards));
		m->body = malloc(MR_BODY_MAX);
		m->toks = calloc(MR_TOKS_MAX, sizeof(*m->toks));
		m->ptoks = calloc(8 * MR_BATCH_RECORDS + 16, sizeof(*m->ptoks));
		m->rd = (struct hc_reader){ .local = &m->local, .stop = m->stop,
					    .stream = m->stream, .who = "mirror",
					    .shards = shards, .max_shards = MR_SHARDS_MAX,
					    .toks = m->toks, .ntoks = MR_TOKS_MAX,
					    .limit = MR_GET_LIMIT, .want_ehk = true,
					    .list_page = c->list_page };
		m->probe_toks = calloc(MR_PROBE_TOKS, sizeof(*m->probe_toks));
		if (!shards || !m->body || !m->toks || !m->ptoks || !m->probe_toks)
			rc = -ENOMEM;
	}
	if (rc == 0)
		rc = hc_local_init(&m->probe, loc->key, loc->secret, loc->data_dir, loc->region,
				   "mirror");
	if (rc == 0 && (rc = hc_local_init(&m->local, loc->key, loc->secret, loc->data_dir,
					   loc->region, "mirror")) == 0)
		rc = hc_peer_init(&m->up, "upstream", c->key, c->sec, c->region, "kinesis");
	if (rc < 0) {
		stream_free(m);
		errno = -rc;
		return NULL;
	}
	return m;
}

struct mirror *mirror_open(const char *conf_path, const struct mirror_local *loc)
{
	struct mirror *ms = calloc(1, sizeof(*ms));
	struct mr_conf *c = calloc(MR_STREAMS_MAX, sizeof(*c));
	int rc = ms && c ? 0 : -ENOMEM;
	if (rc == 0)
		rc = read_conf(conf_path, c, &ms->n);
	for (uint32_t i = 0; rc == 0 && i < ms->n; i++)
		if (!(ms->s[i] = stream_open(&c[i], loc, i, ms->n)))
			rc = -errno;
	/* the secrets live on only inside the signers */
	if (c) {
		explicit_bzero(c, MR_STREAMS_MAX * sizeof(*c));
		free(c);
	}
	if (rc < 0) {
		for (uint32_t i = 0; ms && i < ms->n; i++)
			stream_free(ms->s[i]);
		free(ms);
		errno = -rc;
		return NULL;
	}
	return ms;
}

int mirror_start(struct mirror *ms, const char *host, uint16_t port)
{
	for (uint32_t i = 0; i < ms->n; i++) {
		struct mr_stream *m = ms->s[i];
		int rc = hc_thread_start(&m->thr, &m->local, host, port, mirror_main, m, m->tname);
		if (rc < 0)
			return rc; /* mirror_stop joins those that started */
	}
	return 0;
}

void mirror_stop(struct mirror *ms)
{
	if (!ms)
		return;
	for (uint32_t i = 0; i < ms->n; i++) {
		hc_thread_join(&ms->s[i]->thr);
		stream_free(ms->s[i]);
	}
	free(ms);
}

void mirror_scrape(void *arg, struct prom_buf *b)
{
	const struct mirror *ms = arg;
	static const struct {
		const char *name, *help;
		enum prom_type t;
		size_t off;
	} fam[] = {
		{ "sluice_mirror_records_sent", "records the upstream acknowledged", PROM_COUNTER,
		  offsetof(struct mr_stream, sent) },
		{ "sluice_mirror_entries_retried", "PutRecords entries the upstream failed "
		  "(throttled or InternalFailure) and that were sent again", PROM_COUNTER,
		  offsetof(struct mr_stream, retried) },
		{ "sluice_mirror_batches", "batches acknowledged whole and checkpointed",
		  PROM_COUNTER, offsetof(struct mr_stream, batches) },
		{ "sluice_mirror_errors", "failed calls (local reads or upstream writes), each "
		  "followed by a backoff", PROM_COUNTER, offsetof(struct mr_stream, errors) },
		{ "sluice_mirror_records_expired", "records retention dropped before they were "
		  "forwarded (the upstream was out longer than the retention); a restart inside "
		  "an outage makes the count unknown: then only sluice_mirror_expiries_total "
		  "moves", PROM_COUNTER, offsetof(struct mr_stream, rd.expired_records) },
		{ "sluice_mirror_expiries", "times the mirror found records expired before "
		  "they were forwarded and went on from the trim horizon (one warning each)",
		  PROM_COUNTER, offsetof(struct mr_stream, rd.expiries) },
		{ "sluice_mirror_backlog_records", "records of the stream not yet acknowledged "
		  "upstream (after the checkpoints), counted in the local storage index at each "
		  "read, and while a batch waits for the upstream at each retry (at most every "
		  "second)", PROM_GAUGE, offsetof(struct mr_stream, backlog) },
		{ "sluice_mirror_lag_milliseconds", "backlog as time: the largest "
		  "MillisBehindLatest over the source shards in the last round, or, while a batch "
		  "waits for the upstream, the age of its oldest unacknowledged record", PROM_GAUGE,
		  offsetof(struct mr_stream, lag_ms) },
	};
	/* family by family (one HELP/TYPE each), a sample per stream */
	for (size_t i = 0; i < sizeof(fam) / sizeof(fam[0]); i++) {
		prom_family(b, fam[i].name, fam[i].t, fam[i].help);
		for (uint32_t k = 0; k < ms->n; k++) {
			const struct mr_stream *m = ms->s[k];
			struct prom_label l = { "stream", m->stream };
			const _Atomic uint64_t *v =
				(const _Atomic uint64_t *)((const char *)m + fam[i].off);
			prom_u64(b, fam[i].name, fam[i].t == PROM_COUNTER ? "_total" : "", &l, 1,
				 atomic_load_explicit(v, memory_order_relaxed));
		}
	}
	prom_family(b, "sluice_mirror_upstream_up", PROM_GAUGE,
		    "1 when the last upstream call succeeded");
	for (uint32_t k = 0; k < ms->n; k++) {
		struct prom_label l = { "stream", ms->s[k]->stream };
		prom_u64(b, "sluice_mirror_upstream_up", "", &l, 1,
			 atomic_load_explicit(&ms->s[k]->up_ok, memory_order_relaxed) ? 1 : 0);
	}
	prom_family(b, "sluice_mirror_checkpoint_time_seconds", PROM_GAUGE,
		    "when the checkpoint last moved, seconds since the epoch (0: not yet)");
	for (uint32_t k = 0; k < ms->n; k++) {
		struct prom_label l = { "stream", ms->s[k]->stream };
		prom_f64(b, "sluice_mirror_checkpoint_time_seconds", "", &l, 1,
			 (double)atomic_load_explicit(&ms->s[k]->ckpt_wall_ms,
						      memory_order_relaxed) / 1000.0);
	}
}

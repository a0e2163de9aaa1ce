/* SPDX-License-Identifier: Apache-2.0 */
/* Store-and-forward mirror (mirror.h). One thread, blocking sockets with
 * timeouts: it is off the fast path and its only job is to keep one
 * upstream fed in order.
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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>


#include "common/file.h"
#include "common/json.h"
#include "common/log.h"
#include "common/prom.h"

#define MR_NAME_MAX 129		     /* stream names: 1..128 */
#define MR_SHARDS_MAX 1024	     /* source shards followed */
#define MR_BATCH_RECORDS 500	     /* PutRecords' limit */
#define MR_BATCH_BYTES (4u << 20)    /* under PutRecords' 5 MiB */
#define MR_BODY_MAX (8u << 20)	     /* base64 of 4 MiB plus keys */
#define MR_TOKS_MAX 32768	     /* GetRecords: 500 x ~12; ListShards: 1024 x ~20 */
#define MR_NICE 10		     /* the mirror thread's nice value */

struct mirror {
	struct hc_thread thr;
	bool relist;  /* a shard closed: ListShards again for its children */
	struct hc_reader rd; /* the local stream */
	const atomic_bool *stop;
	char stream[MR_NAME_MAX];
	char up_stream[MR_NAME_MAX];
	char ckpt_path[HC_PATH_MAX];
	struct hc_peer local, up;
	char *body;
	struct json_tok *toks, *ptoks;
	uint32_t backoff_ms;
	/* written by the mirror thread, read by the admin thread's scrape */
	_Atomic uint64_t sent, retried, batches, errors;
	_Atomic uint64_t lag_ms;     /* largest MillisBehindLatest of the last round */
	_Atomic uint64_t ckpt_wall_ms; /* when the checkpoint last moved */
	_Atomic bool up_ok;	     /* the last upstream call succeeded */
};

static void backoff(struct mirror *m)
{
	hc_backoff(&m->backoff_ms, m->stop);
}

/* ---- configuration ------------------------------------------------------ */

struct mr_conf {
	struct mirror *m;
	char *key, *sec, *region;
};

static int conf_line(void *arg, const char *k, const char *v)
{
	struct mr_conf *c = arg;
	struct mirror *m = c->m;
	if (strcmp(k, "stream") == 0)
		return hc_copy_val(m->stream, sizeof(m->stream), v);
	if (strcmp(k, "upstream_stream") == 0)
		return hc_copy_val(m->up_stream, sizeof(m->up_stream), v);
	if (strcmp(k, "endpoint") == 0)
		return hc_parse_endpoint(&m->up, v, false);
	if (strcmp(k, "region") == 0)
		return hc_copy_val(c->region, 64, v);
	if (strcmp(k, "access_key") == 0)
		return hc_copy_val(c->key, HC_SECRET_MAX, v);
	if (strcmp(k, "secret_key") == 0)
		return hc_copy_val(c->sec, HC_SECRET_MAX, v);
	if (strcmp(k, "ca_bundle") == 0)
		return hc_copy_val(m->up.ca, sizeof(m->up.ca), v);
	if (strcmp(k, "local_ca") == 0)
		return hc_copy_val(m->local.ca, sizeof(m->local.ca), v);
	return -EINVAL;
}

static int read_conf(struct mirror *m, const char *path, char *key, char *sec, char *region)
{
	struct mr_conf c = { m, key, sec, region };
	int rc = hc_read_secret_conf(path, "mirror", conf_line, &c);
	if (rc < 0)
		return rc;
	if (!m->stream[0] || !m->up.host[0] || !region[0] || !key[0] || !sec[0] || !m->up.ca[0]) {
		SL_ERR("mirror: %s needs stream, endpoint, region, access_key, secret_key and "
		       "ca_bundle", path);
		return -EINVAL;
	}
	if (!m->up_stream[0])
		memcpy(m->up_stream, m->stream, sizeof(m->stream));
	return 0;
}

/* ---- checkpoint ----------------------------------------------------------- */

static int ckpt_save(struct mirror *m)
{
	int rc = hc_ckpt_save(&m->rd, m->ckpt_path, m->body, MR_BODY_MAX);
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

/* Sends records idx[0..n) (token indices into the local GetRecords answer
 * held in m->rd.toks / m->local.buf) until every one is acknowledged. Returns 0,
 * or -ECANCELED when stopping. */
static int put_batch(struct mirror *m, const struct json_doc *d, uint32_t *idx, uint32_t n)
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
			jw_obj_begin(&w);
			/* both are JSON strings as the local server wrote them
			 * (start - 1 is the opening quote): base64 and an
			 * escaped key pass through unchanged */
			jw_key(&w, "Data");
			jw_raw(&w, d->buf + d->toks[data].start - 1, d->toks[data].len + 2);
			jw_key(&w, "PartitionKey");
			jw_raw(&w, d->buf + d->toks[pk].start - 1, d->toks[pk].len + 2);
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
		jw_obj_end(&w);
		BUG_ON(w.overflow); /* batches are cut well under MR_BODY_MAX */
		int st = hc_kinesis(&m->up, "PutRecords", m->body, w.len);
		atomic_store_explicit(&m->up_ok, st == 200, memory_order_relaxed);
		if (st != 200) {
			atomic_fetch_add_explicit(&m->errors, 1, memory_order_relaxed);
			char type[96] = "";
			if (st > 0)
				hc_err_type(&m->up, m->ptoks, 64, type, sizeof(type));
			SL_WARN("mirror: upstream PutRecords: %s%s (%d; retrying %u records)",
				st < 0 ? strerror(-st) : "HTTP error ", type, st, n);
			backoff(m);
			continue;
		}
		int failed = mirror_put_result(m->up.buf, m->up.len, m->ptoks,
					       8 * MR_BATCH_RECORDS + 16, idx, n);
		if (failed < 0) {
			atomic_fetch_add_explicit(&m->errors, 1, memory_order_relaxed);
			backoff(m); /* not an answer we understand: send it all again */
			continue;
		}
		uint32_t left = (uint32_t)failed;
		atomic_fetch_add_explicit(&m->sent, n - left, memory_order_relaxed);
		if (left) {
			atomic_fetch_add_explicit(&m->retried, left, memory_order_relaxed);
			/* at most one line per backoff step (>= 100 ms) */
			SL_INFO("mirror: upstream failed %u of %u entries (throttled?); retrying "
				"them", left, n);
			backoff(m); /* throttled or InternalFailure: both want a pause */
		} else {
			m->backoff_ms = 0;
		}
		n = left;
	}
	return 0;
}

/* One GetRecords on a shard and the forwarding of what it returned.
 * Returns the number of records forwarded, or -errno. */
static int pump_shard(struct mirror *m, struct hc_shard *sh)
{
	struct json_doc d;
	int32_t arr;
	int rc = hc_get_records(&m->rd, sh, &d, &arr);
	if (rc < 0)
		return rc;
	uint32_t idx[MR_BATCH_RECORDS], n = 0, total = 0;
	size_t bytes = 0;
	struct sl_slice keys[MR_BATCH_RECORDS];
	int32_t last_seq = -1;
	for (uint32_t i = (uint32_t)arr + 1, k = 0;; k++, i = d.toks[i].next) {
		bool end = k == d.toks[arr].count;
		struct sl_slice pk = { 0 };
		size_t sz = 0;
		bool repeat = false;
		if (!end) {
			int32_t p = json_obj_get(&d, i, "PartitionKey");
			int32_t da = json_obj_get(&d, i, "Data");
			if (p < 0 || da < 0 || json_obj_get(&d, i, "SequenceNumber") < 0)
				return -EPROTO;
			pk = json_tok_slice(&d, (uint32_t)p);
			sz = pk.len + d.toks[da].len / 4 * 3;
			for (uint32_t j = 0; j < n && !repeat; j++)
				repeat = keys[j].len == pk.len && memcmp(keys[j].ptr, pk.ptr, pk.len) == 0;
		}
		/* cut before a key repeats (mirror.c's top comment) or the batch is full */
		if (n && (end || repeat || n == MR_BATCH_RECORDS || bytes + sz > MR_BATCH_BYTES)) {
			rc = put_batch(m, &d, idx, n);
			if (rc < 0)
				return rc;
			struct sl_slice s = json_tok_slice(&d, (uint32_t)last_seq);
			if (s.len < sizeof(sh->ckpt)) {
				memcpy(sh->ckpt, s.ptr, s.len);
				sh->ckpt[s.len] = 0;
			}
			if ((rc = ckpt_save(m)) < 0)
				SL_ERR("mirror: checkpoint %s: %s", m->ckpt_path, strerror(-rc));
			atomic_fetch_add_explicit(&m->batches, 1, memory_order_relaxed);
			total += n;
			n = 0;
			bytes = 0;
		}
		if (end)
			break;
		keys[n] = pk;
		idx[n++] = i;
		bytes += sz;
		last_seq = json_obj_get(&d, i, "SequenceNumber");
	}
	return (int)total;
}

static void *mirror_main(void *arg)
{
	struct mirror *m = arg;
	/* the mirror catches up when the lcores idle (store and forward) */
	hc_thread_prologue("mirror", MR_NICE);
	while (!atomic_load(m->stop) && m->rd.nshards == 0) {
		int rc = hc_list_shards(&m->rd);
		if (rc < 0 || m->rd.nshards == 0) {
			SL_DEBUG("mirror: stream %s not listable yet (%d)", m->stream, rc);
			backoff(m);
			continue;
		}
		m->backoff_ms = 0;
		hc_ckpt_load(&m->rd, m->ckpt_path);
		SL_INFO("mirror: %s -> https://%s:%s stream %s, %u shards", m->stream, m->up.host,
			m->up.port, m->up_stream, m->rd.nshards);
	}
	while (!atomic_load(m->stop)) {
		int moved = 0;
		for (uint32_t i = 0; i < m->rd.nshards && !atomic_load(m->stop); i++) {
			/* a child waits until its parents are read to their end and
			 * forwarded: per-key order across a reshard */
			if (m->rd.shards[i].closed || hc_parents_open(&m->rd, &m->rd.shards[i]))
				continue;
			int rc = pump_shard(m, &m->rd.shards[i]);
			m->relist |= m->rd.shards[i].closed; /* its children are new to us */
			if (rc > 0)
				moved += rc;
			else if (rc < 0 && rc != -ECANCELED) {
				SL_DEBUG("mirror: local read of %s: %d", m->rd.shards[i].id, rc);
				atomic_fetch_add_explicit(&m->errors, 1, memory_order_relaxed);
				backoff(m);
			}
		}
		atomic_store_explicit(&m->lag_ms, hc_lag_ms(&m->rd), memory_order_relaxed);
		if (m->relist) {
			if (hc_list_shards(&m->rd) < 0)
				SL_WARN("mirror: cannot list the shards of %s after a reshard; "
					"retrying", m->stream);
			else
				m->relist = false;
		}
		if (!moved)
			hc_nap(m->stop, HC_GET_SPACING_MS);
	}
	SL_INFO("mirror: stopped (%llu records acknowledged upstream, %llu entries retried, "
		"%llu batches)", (unsigned long long)atomic_load(&m->sent),
		(unsigned long long)atomic_load(&m->retried),
		(unsigned long long)atomic_load(&m->batches));
	return NULL;
}

static void mirror_free(struct mirror *m)
{
	if (!m)
		return;
	hc_peer_fini(&m->local);
	hc_peer_fini(&m->up);
	free(m->rd.shards);
	free(m->body);
	free(m->rd.toks);
	free(m->ptoks);
	free(m);
}

struct mirror *mirror_open(const char *conf_path, const struct mirror_local *loc)
{
	struct mirror *m = calloc(1, sizeof(*m));
	if (!m) {
		errno = ENOMEM;
		return NULL;
	}
	m->local.fd = m->up.fd = -1;
	m->stop = loc->stop;
	char key[HC_SECRET_MAX] = "", sec[HC_SECRET_MAX] = "", region[64] = "";
	int rc = read_conf(m, conf_path, key, sec, region);
	if (rc == 0) {
		snprintf(m->ckpt_path, sizeof(m->ckpt_path), "%s/mirror.ckpt", loc->data_dir);
		m->rd.shards = calloc(MR_SHARDS_MAX, sizeof(*m->rd.shards));
		m->body = malloc(MR_BODY_MAX);
		m->rd.toks = calloc(MR_TOKS_MAX, sizeof(*m->rd.toks));
		m->ptoks = calloc(8 * MR_BATCH_RECORDS + 16, sizeof(*m->ptoks));
		m->rd = (struct hc_reader){ .local = &m->local, .stop = m->stop, .stream = m->stream,
			.who = "mirror", .shards = m->rd.shards, .max_shards = MR_SHARDS_MAX,
			.toks = m->rd.toks, .ntoks = MR_TOKS_MAX, .limit = MR_BATCH_RECORDS };
		if (!m->rd.shards || !m->body || !m->rd.toks || !m->ptoks)
			rc = -ENOMEM;
	}
	if (rc == 0 && (rc = hc_local_init(&m->local, loc->credentials, loc->data_dir, loc->region,
					   "mirror")) == 0)
		rc = hc_peer_init(&m->up, "upstream", key, sec, region, "kinesis");
	explicit_bzero(sec, sizeof(sec)); /* it lives on only inside the signer */
	if (rc < 0) {
		mirror_free(m);
		errno = -rc;
		return NULL;
	}
	return m;
}

int mirror_start(struct mirror *m, const char *host, uint16_t port)
{
	return hc_thread_start(&m->thr, &m->local, host, port, mirror_main, m, "mirror");
}

void mirror_stop(struct mirror *m)
{
	if (!m)
		return;
	hc_thread_join(&m->thr);
	mirror_free(m);
}

void mirror_scrape(void *arg, struct prom_buf *b)
{
	struct mirror *m = arg;
	struct prom_label l = { "stream", m->stream };
	static const struct {
		const char *name, *help;
		enum prom_type t;
		size_t off;
	} fam[] = {
		{ "sluice_mirror_records_sent", "records the upstream acknowledged", PROM_COUNTER,
		  offsetof(struct mirror, sent) },
		{ "sluice_mirror_entries_retried", "PutRecords entries the upstream failed "
		  "(throttled or InternalFailure) and that were sent again", PROM_COUNTER,
		  offsetof(struct mirror, retried) },
		{ "sluice_mirror_batches", "batches acknowledged whole and checkpointed",
		  PROM_COUNTER, offsetof(struct mirror, batches) },
		{ "sluice_mirror_errors", "failed calls (local reads or upstream writes), each "
		  "followed by a backoff", PROM_COUNTER, offsetof(struct mirror, errors) },
		{ "sluice_mirror_lag_milliseconds", "backlog as time: the largest "
		  "MillisBehindLatest over the source shards in the last round", PROM_GAUGE,
		  offsetof(struct mirror, lag_ms) },
	};
	for (size_t i = 0; i < sizeof(fam) / sizeof(fam[0]); i++) {
		const _Atomic uint64_t *v = (const _Atomic uint64_t *)((const char *)m + fam[i].off);
		prom_family(b, fam[i].name, fam[i].t, fam[i].help);
		prom_u64(b, fam[i].name, fam[i].t == PROM_COUNTER ? "_total" : "", &l, 1,
			 atomic_load_explicit(v, memory_order_relaxed));
	}
	prom_family(b, "sluice_mirror_upstream_up", PROM_GAUGE,
		    "1 when the last upstream call succeeded");
	prom_u64(b, "sluice_mirror_upstream_up", "", &l, 1,
		 atomic_load_explicit(&m->up_ok, memory_order_relaxed) ? 1 : 0);
	prom_family(b, "sluice_mirror_checkpoint_time_seconds", PROM_GAUGE,
		    "when the checkpoint last moved, seconds since the epoch (0: not yet)");
	prom_f64(b, "sluice_mirror_checkpoint_time_seconds", "", &l, 1,
		 (double)atomic_load_explicit(&m->ckpt_wall_ms, memory_order_relaxed) / 1000.0);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Channel delivery to S3 (delivery.h). One thread, blocking calls: it is
 * off the fast path and its job is to turn each ACTIVE channel's stream
 * into S3 objects without losing a record.
 *
 * Buffering. Records are read per shard (GetRecords, as the mirror reads)
 * into one buffer per channel and shard; the buffer becomes one object when
 * DataFreshnessInSeconds has passed since its first record was read, or
 * when it reaches DL_OBJECT_BYTES (uncompressed), or when all buffers
 * together reach DL_BUFFERED_MAX (then the one being filled is written).
 *
 * No loss, few duplicates. The checkpoint (DIR/channels/ID.ckpt, replaced
 * with fsync) holds per shard the last sequence number of the last object
 * S3 answered 200 for. After a restart a shard is read again from there, so
 * what was buffered and not written is read again, and an object written
 * whose checkpoint did not make it to disk is written again under the same
 * key (the key's unique suffix is the shard and the first record's sequence
 * number, and its time variables are the first record's arrival time): an
 * idempotent overwrite, so duplicates can only be inside that last object.
 *
 * Start. A channel delivers the records that arrived at or after its
 * ChannelCreationTimestamp (AT_TIMESTAMP): nothing older (no backfill, as
 * AWS documents), and nothing a producer wrote between CreateChannel and
 * ACTIVE is lost either. */
#include "sluiced/delivery.h"
#include "sluiced/delivery_wire.h"
#include "sluiced/hclient.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/bug.h"
#include "common/file.h"
#include "common/json.h"
#include "common/log.h"
#include "common/prom.h"
#include "crypto/sigv4.h"

#include <zlib.h>
#include <zstd.h>

#define DL_CHANNELS_MAX 20	    /* the account's channel limit (cp_channels.c) */
#define DL_SHARDS_MAX 1024	    /* shards followed per channel */
#define DL_TOKS_MAX 81920	    /* GetRecords: 5000 x ~12; ListShards: 1000 x ~20 */
/* Records per GetRecords. Reads of a shard are spaced HC_GET_SPACING_MS
 * (5 a second), so 500 capped a shard at ~2300 records/s (~7k records/s
 * delivered behind a saturating producer on 4 shards); 5000 as the
 * mirror's (mirror.c, MR_GET_LIMIT: an answer stays under 9 MB). */
#define DL_GET_LIMIT 5000
#define DL_OBJECT_BYTES (64u << 20) /* one object, uncompressed */
#define DL_BUFFERED_MAX (256u << 20) /* all buffers together */
#define DL_REFRESH_MS 2000	    /* ListChannels period */
#define DL_NICE 10		    /* as the mirror's */
#define DL_ZSTD_LEVEL 3		    /* zstd's default: fast, off the fast path anyway */

struct dl_buf {
	char *data;
	size_t len, cap;
	uint32_t records;
	uint64_t opened_ms; /* monotonic, when its first record was read */
	int64_t first_arrival_ms;
	char first_seq[64], last_seq[64];
};

struct dl_chan {
	bool used, active;
	struct dl_desc desc;
	struct hc_reader rd;
	struct dl_buf *bufs; /* parallel to rd.shards */
	char ckpt_path[HC_PATH_MAX];
	/* written by the delivery thread, read by the scrape */
	_Atomic uint64_t objects, bytes, records, errors, dead_letters, lag_ms;
	_Atomic uint64_t backlog; /* records after the checkpoints (note_backlog) */
};

struct delivery {
	struct hc_thread thr;
	const atomic_bool *stop;
	char dir[HC_PATH_MAX]; /* DIR/channels */
	struct hc_peer local, s3;
	struct json_tok *toks, *ptoks;
	uint32_t backoff_ms;
	/* flush_ms: when not 0, an object is written at most this long after
	 * its first record was read even if DataFreshnessInSeconds (300..900)
	 * is longer: for tests, and for edge boxes that want objects sooner */
	uint32_t flush_ms;
	uint64_t refreshed_ms;
	size_t buffered; /* bytes in all buffers */
	pthread_mutex_t lock; /* chans[].used and desc.name, for the scrape */
	struct dl_chan chans[DL_CHANNELS_MAX];
	char *obj; /* a compressed object or a dead letter, obj_cap bytes */
	size_t obj_cap;
};

/* ---- configuration ------------------------------------------------------ */

struct dl_conf {
	struct delivery *d;
	char *key, *sec, *region;
};

static int conf_line(void *arg, const char *k, const char *v)
{
	struct dl_conf *c = arg;
	struct delivery *d = c->d;
	if (strcmp(k, "endpoint") == 0)
		return hc_parse_endpoint(v, d->s3.host, d->s3.port, &d->s3.plain);
	if (strcmp(k, "region") == 0)
		return hc_copy_val(c->region, 64, v);
	if (strcmp(k, "access_key") == 0)
		return hc_copy_val(c->key, HC_SECRET_MAX, v);
	if (strcmp(k, "secret_key") == 0)
		return hc_copy_val(c->sec, HC_SECRET_MAX, v);
	if (strcmp(k, "ca_bundle") == 0)
		return hc_copy_val(d->s3.ca, sizeof(d->s3.ca), v);
	if (strcmp(k, "local_ca") == 0)
		return hc_copy_val(d->local.ca, sizeof(d->local.ca), v);
	if (strcmp(k, "flush_ms") == 0) {
		char *e;
		unsigned long ms = strtoul(v, &e, 10);
		if (!*v || *e || ms < 100 || ms > 900000)
			return -EINVAL;
		d->flush_ms = (uint32_t)ms;
		return 0;
	}
	return -EINVAL;
}

/* ---- checkpoint ----------------------------------------------------------- */

static int ckpt_save(struct delivery *d, struct dl_chan *c)
{
	/* d->obj is free between objects */
	return hc_ckpt_save(&c->rd, c->ckpt_path, d->obj, d->obj_cap, true);
}

/* ---- S3 --------------------------------------------------------------------- */

/* PutObject of body[0..len) at bucket/key, until S3 answers 200 or we stop.
 * Returns 0 or -ECANCELED. */
static int s3_put(struct delivery *d, struct dl_chan *c, const char *bucket, const char *key,
		  const void *body, size_t len)
{
	char path[DL_BUCKET_MAX + 3 * DL_KEY_MAX + 8], hash[65];
	int n = snprintf(path, sizeof(path), "/%s/", bucket);
	BUG_ON(n < 0 || (size_t)n >= sizeof(path));
	int k = dl_uri_encode_key(key, path + n, sizeof(path) - (size_t)n);
	BUG_ON(k < 0); /* keys are bounded by DL_KEY_MAX */
	if (sigv4_sha256_hex(d->s3.signer, body, len, hash) < 0)
		return -EIO;
	const char *ctype = "application/octet-stream";
	struct sl_header h[2] = {
		{ SL_SLICE_LIT("Content-Type"), { ctype, (uint32_t)strlen(ctype) } },
		{ SL_SLICE_LIT("x-amz-content-sha256"), { hash, 64 } },
	};
	for (;;) {
		if (atomic_load(d->stop))
			return -ECANCELED;
		int st = hc_request(&d->s3, "PUT", path, h, 2, body, len);
		if (st == 200) {
			d->backoff_ms = 0;
			return 0;
		}
		if (st == -ECANCELED)
			return st; /* stopping: not an S3 error */
		atomic_fetch_add_explicit(&c->errors, 1, memory_order_relaxed);
		/* S3 answers errors in XML; the status says enough for a log */
		SL_WARN("delivery: PutObject %s/%s: %s %d; retrying", bucket, key,
			st < 0 ? strerror(-st) : "HTTP", st);
		hc_backoff(&d->backoff_ms, d->stop);
	}
}

/* ---- buffers and objects ---------------------------------------------------- */

static void buf_reset(struct delivery *d, struct dl_buf *b)
{
	d->buffered -= b->len;
	b->len = 0;
	b->records = 0;
	b->first_seq[0] = b->last_seq[0] = 0;
}

static void buf_free(struct delivery *d, struct dl_buf *b)
{
	buf_reset(d, b);
	free(b->data);
	b->data = NULL;
	b->cap = 0;
}

static const char *const dl_ext[] = { [DL_COMP_NONE] = "", [DL_COMP_GZIP] = ".gz",
				      [DL_COMP_ZSTD] = ".zst" };

/* in[0..n) compressed as comp asks into d->obj. Returns its length, or
 * -EIO (the bound computed at open makes room always enough). */
static int64_t compress_obj(struct delivery *d, enum dl_compression comp, const char *in,
			    size_t n)
{
	if (comp == DL_COMP_ZSTD) {
		size_t r = ZSTD_compress(d->obj, d->obj_cap, in, n, DL_ZSTD_LEVEL);
		return ZSTD_isError(r) ? -EIO : (int64_t)r;
	}
	/* GZIP: deflate with a gzip header and trailer (windowBits 16 + 15) */
	z_stream z = { 0 };
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + 15, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -EIO;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)d->obj;
	z.avail_out = (uInt)d->obj_cap;
	int rc = deflate(&z, Z_FINISH);
	int64_t out = rc == Z_STREAM_END ? (int64_t)z.total_out : -EIO;
	if (deflateEnd(&z) != Z_OK)
		out = -EIO;
	return out;
}

/* Writes shard i's buffer as one object and moves the checkpoint past it.
 * Returns 0 or -errno (-ECANCELED when stopping). */
static int flush(struct delivery *d, struct dl_chan *c, uint32_t i)
{
	struct dl_buf *b = &c->bufs[i];
	struct hc_shard *sh = &c->rd.shards[i];
	if (!b->records)
		return 0;
	char suffix[HC_SHARD_ID_MAX + 72], key[DL_KEY_MAX];
	snprintf(suffix, sizeof(suffix), "-%s-%s", sh->id, b->first_seq);
	struct dl_key_vars v = {
		.channel_name = c->desc.name, .channel_id = c->desc.id,
		.stream_name = c->desc.stream, .shard_id = sh->id,
		.extension = dl_ext[c->desc.compression], .time_ms = b->first_arrival_ms,
		.suffix = suffix,
	};
	int kl = dl_expand_key(c->desc.tmpl, &v, key, sizeof(key));
	if (kl < 0) {
		/* an unknown variable: the template's literal text, so nothing
		 * is held back (DescribeChannel shows what was asked) */
		SL_WARN("delivery: channel %s: OutputKeyTemplate cannot be expanded (%d); "
			"using the default layout", c->desc.name, kl);
		kl = dl_expand_key("kinesis-channel/!{channel-name}/!{channel-id}/"
				   "!{channel-name}!{extension}", &v, key, sizeof(key));
		BUG_ON(kl < 0);
	}
	const void *body = b->data;
	size_t blen = b->len;
	if (c->desc.compression != DL_COMP_NONE) {
		int64_t z = compress_obj(d, c->desc.compression, b->data, b->len);
		if (z < 0) {
			SL_ERR("delivery: channel %s: compression failed", c->desc.name);
			return (int)z;
		}
		body = d->obj;
		blen = (size_t)z;
	}
	int rc = s3_put(d, c, c->desc.bucket, key, body, blen);
	if (rc < 0)
		return rc;
	atomic_fetch_add_explicit(&c->objects, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->bytes, b->len, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->records, b->records, memory_order_relaxed);
	memcpy(sh->ckpt, b->last_seq, sizeof(sh->ckpt));
	buf_reset(d, b);
	if ((rc = ckpt_save(d, c)) < 0)
		SL_ERR("delivery: checkpoint %s: %s", c->ckpt_path, strerror(-rc));
	return 0;
}

/* Appends one record's payload, decoded, to shard i's buffer (writing
 * the buffer out first when it is full), with room for a newline after it;
 * *at is where it starts. */
static int buf_append(struct delivery *d, struct dl_chan *c, uint32_t i, const char *b64,
		      size_t b64len, size_t *at)
{
	struct dl_buf *b = &c->bufs[i];
	size_t need = b64_dec_len_max(b64len) + 1;
	if (b->len + need > DL_OBJECT_BYTES || d->buffered + need > DL_BUFFERED_MAX) {
		int rc = flush(d, c, i);
		if (rc < 0)
			return rc;
	}
	if (b->len + need > b->cap) {
		size_t cap = b->cap ? b->cap : 64u << 10;
		while (cap < b->len + need)
			cap *= 2;
		if (cap > DL_OBJECT_BYTES + (16u << 20))
			cap = DL_OBJECT_BYTES + (16u << 20); /* a record is at most 10 MiB */
		char *p = realloc(b->data, cap);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	*at = b->len; /* after a flush the record starts the buffer */
	int64_t n = b64_decode((uint8_t *)b->data + b->len, b64, b64len, NULL);
	if (n < 0)
		return -EPROTO;
	b->len += (size_t)n;
	d->buffered += (size_t)n;
	return 0;
}

/* A record that failed its channel's validation, alone in an object
 * under ErrorOutputPrefix in the dead-letter bucket, with why and where
 * it came from (JSON; the payload in base64, as GetRecords gave it).
 * Its key ends in the shard and the record's sequence number, so writing it
 * again after a restart overwrites it. Returns 0 or -errno. */
static int dead_letter(struct delivery *d, struct dl_chan *c, uint32_t i,
		       const struct json_doc *doc, uint32_t rec, int64_t arrival,
		       const char *why)
{
	struct hc_shard *sh = &c->rd.shards[i];
	int32_t da = json_obj_get(doc, rec, "Data");
	int32_t sq = json_obj_get(doc, rec, "SequenceNumber");
	int32_t pk = json_obj_get(doc, rec, "PartitionKey");
	struct sl_slice seq = json_tok_slice(doc, (uint32_t)sq);
	char suffix[HC_SHARD_ID_MAX + 72], key[DL_KEY_MAX];
	snprintf(suffix, sizeof(suffix), "%s-%.*s.json", sh->id, (int)seq.len, seq.ptr);
	struct dl_key_vars v = {
		.channel_name = c->desc.name, .channel_id = c->desc.id,
		.stream_name = c->desc.stream, .shard_id = sh->id, .extension = "",
		.time_ms = arrival, .suffix = suffix,
	};
	if (dl_expand_key(c->desc.err_prefix, &v, key, sizeof(key)) < 0) {
		int kl = dl_expand_key("kinesis-channel/errors/!{channel-name}/!{channel-id}/", &v,
				       key, sizeof(key));
		BUG_ON(kl < 0);
	}
	struct jw w;
	jw_init(&w, d->obj, d->obj_cap);
	jw_obj_begin(&w);
	jw_key(&w, "errorCode");
	jw_str(&w, c->desc.format == DL_FMT_JSON ? "InvalidJSON" : "InvalidUTF8");
	jw_key(&w, "errorMessage");
	jw_str(&w, why);
	jw_key(&w, "channelName");
	jw_str(&w, c->desc.name);
	jw_key(&w, "streamName");
	jw_str(&w, c->desc.stream);
	jw_key(&w, "shardId");
	jw_str(&w, sh->id);
	/* the three below are JSON strings as the local server wrote them */
	jw_key(&w, "sequenceNumber");
	jw_raw(&w, doc->buf + doc->toks[sq].start - 1, doc->toks[sq].len + 2);
	if (pk >= 0 && doc->toks[pk].type == JSON_STRING) {
		jw_key(&w, "partitionKey");
		jw_raw(&w, doc->buf + doc->toks[pk].start - 1, doc->toks[pk].len + 2);
	}
	jw_key(&w, "approximateArrivalTimestamp");
	jw_i64(&w, arrival);
	jw_key(&w, "rawData");
	jw_raw(&w, doc->buf + doc->toks[da].start - 1, doc->toks[da].len + 2);
	jw_obj_end(&w);
	BUG_ON(w.overflow); /* a record's base64 is far under DL_OBJECT_BYTES */
	int rc = s3_put(d, c, c->desc.err_bucket, key, d->obj, w.len);
	if (rc == 0)
		atomic_fetch_add_explicit(&c->dead_letters, 1, memory_order_relaxed);
	return rc;
}

/* Arrival time of a record: epoch seconds with a fraction. */
static int64_t arrival_ms(const struct json_doc *doc, uint32_t rec)
{
	int32_t t = json_obj_get(doc, rec, "ApproximateArrivalTimestamp");
	if (t < 0 || doc->toks[t].type != JSON_NUMBER || doc->toks[t].len >= 32)
		return 0;
	char num[32];
	memcpy(num, doc->buf + doc->toks[t].start, doc->toks[t].len);
	num[doc->toks[t].len] = 0;
	double s = strtod(num, NULL);
	return s > 0 && s < 1e11 ? (int64_t)(s * 1000.0) : 0;
}

/* One GetRecords on shard i of c and the buffering of what it returned.
 * Returns the number of records read, or -errno. */
static int pump_shard(struct delivery *d, struct dl_chan *c, uint32_t i)
{
	struct hc_shard *sh = &c->rd.shards[i];
	struct dl_buf *b = &c->bufs[i];
	struct json_doc doc;
	int32_t arr;
	/* No iterator (a new shard, an expired one): it is opened from the
	 * checkpoint, so what is buffered will come again. */
	if (!sh->iter[0])
		buf_reset(d, b);
	int rc = hc_get_records(&c->rd, sh, &doc, &arr);
	if (rc < 0)
		return rc;
	uint32_t n = 0;
	for (uint32_t r = (uint32_t)arr + 1, k = 0; k < doc.toks[arr].count;
	     k++, r = doc.toks[r].next) {
		int32_t da = json_obj_get(&doc, r, "Data");
		int32_t sq = json_obj_get(&doc, r, "SequenceNumber");
		if (da < 0 || sq < 0 || doc.toks[da].type != JSON_STRING ||
		    doc.toks[sq].type != JSON_STRING || doc.toks[sq].len >= sizeof(b->last_seq))
			return -EPROTO;
		size_t at;
		if ((rc = buf_append(d, c, i, doc.buf + doc.toks[da].start, doc.toks[da].len,
				     &at)) < 0)
			return rc;
		if (c->desc.format != DL_FMT_BYTE_ARRAY) {
			const char *rec = b->data + at;
			size_t rl = b->len - at;
			bool ok = c->desc.format == DL_FMT_STRING ? dl_utf8_valid(rec, rl)
								  : dl_json_valid(rec, rl);
			if (!ok) {
				d->buffered -= rl;
				b->len = at;
				rc = dead_letter(d, c, i, &doc, r, arrival_ms(&doc, r),
						 c->desc.format == DL_FMT_STRING
							 ? "The record is not valid UTF-8."
							 : "The record is not valid JSON.");
				if (rc < 0)
					return rc;
				continue;
			}
			/* newline-separated, as the format is documented */
			b->data[b->len++] = '\n';
			d->buffered++;
		}
		struct sl_slice s = json_tok_slice(&doc, (uint32_t)sq);
		if (!b->records++) {
			b->opened_ms = hc_now_ms();
			b->first_arrival_ms = arrival_ms(&doc, r);
			memcpy(b->first_seq, s.ptr, s.len);
			b->first_seq[s.len] = 0;
		}
		memcpy(b->last_seq, s.ptr, s.len);
		b->last_seq[s.len] = 0;
		n++;
	}
	return (int)n;
}

/* ---- channels --------------------------------------------------------------- */

static void chan_drop(struct delivery *d, struct dl_chan *c, bool forget)
{
	for (uint32_t i = 0; c->bufs && i < DL_SHARDS_MAX; i++)
		buf_free(d, &c->bufs[i]);
	free(c->bufs);
	free(c->rd.shards);
	if (forget && unlink(c->ckpt_path) < 0 && errno != ENOENT)
		SL_WARN("delivery: cannot remove %s: %s", c->ckpt_path, strerror(errno));
	pthread_mutex_lock(&d->lock);
	c->used = false;
	c->bufs = NULL;
	c->rd.shards = NULL;
	pthread_mutex_unlock(&d->lock);
}

static struct dl_chan *chan_find(struct delivery *d, const char *arn, size_t len)
{
	for (uint32_t i = 0; i < DL_CHANNELS_MAX; i++)
		if (d->chans[i].used && strlen(d->chans[i].desc.arn) == len &&
		    memcmp(d->chans[i].desc.arn, arn, len) == 0)
			return &d->chans[i];
	return NULL;
}

/* DescribeChannel arn; a new channel gets a slot, a known one its new
 * DataFreshnessInSeconds (the only thing UpdateChannel changes that we use). */
static int chan_describe(struct delivery *d, const char *arn)
{
	char body[DL_ARN_MAX + 64];
	struct jw w;
	jw_init(&w, body, sizeof(body));
	jw_obj_begin(&w);
	jw_key(&w, "ChannelARN");
	jw_str(&w, arn);
	jw_obj_end(&w);
	if (w.overflow)
		return -E2BIG;
	int st = hc_kinesis(&d->local, "DescribeChannel", body, w.len);
	if (st != 200)
		return st < 0 ? st : -EAGAIN;
	struct dl_desc desc;
	if (dl_parse_describe(d->local.buf, d->local.len, d->toks, DL_TOKS_MAX, &desc) < 0) {
		SL_WARN("delivery: DescribeChannel %s: an answer we cannot use", arn);
		return -EPROTO;
	}
	struct dl_chan *c = chan_find(d, desc.arn, strlen(desc.arn));
	if (c) {
		c->desc.freshness_s = desc.freshness_s;
		memcpy(c->desc.status, desc.status, sizeof(desc.status));
		return 0;
	}
	for (uint32_t i = 0; i < DL_CHANNELS_MAX && !c; i++)
		if (!d->chans[i].used)
			c = &d->chans[i];
	if (!c)
		return -ENOSPC;
	struct hc_shard *shards = calloc(DL_SHARDS_MAX, sizeof(*shards));
	struct dl_buf *bufs = calloc(DL_SHARDS_MAX, sizeof(*bufs));
	if (!shards || !bufs) {
		free(shards);
		free(bufs);
		return -ENOMEM;
	}
	char path[sizeof(c->ckpt_path)];
	int pl = snprintf(path, sizeof(path), "%s/%s.ckpt", d->dir, desc.id);
	if (pl < 0 || (size_t)pl >= sizeof(path)) {
		free(shards);
		free(bufs);
		return -ENAMETOOLONG;
	}
	pthread_mutex_lock(&d->lock);
	memcpy(c->ckpt_path, path, sizeof(path));
	c->desc = desc;
	c->bufs = bufs;
	c->rd = (struct hc_reader){ .local = &d->local, .stop = d->stop, .stream = c->desc.stream,
		.who = "delivery", .shards = shards, .max_shards = DL_SHARDS_MAX,
		.toks = d->toks, .ntoks = DL_TOKS_MAX, .start_ms = desc.created_ms,
		.limit = DL_GET_LIMIT };
	atomic_store(&c->objects, 0);
	atomic_store(&c->bytes, 0);
	atomic_store(&c->records, 0);
	atomic_store(&c->errors, 0);
	atomic_store(&c->dead_letters, 0);
	atomic_store(&c->lag_ms, 0);
	atomic_store(&c->backlog, 0);
	c->used = true;
	pthread_mutex_unlock(&d->lock);
	SL_INFO("delivery: channel %s: stream %s -> s3 bucket %s", desc.name, desc.stream,
		desc.bucket);
	return 0;
}

/* ListChannels (one page: the account has at most DL_CHANNELS_MAX, a page
 * holds 100); ACTIVE and UPDATING channels deliver, the others are dropped
 * (DELETING: buffers and checkpoint go with it). */
static int refresh(struct delivery *d)
{
	static const char body[] = "{\"MaxResults\":100}";
	int st = hc_kinesis(&d->local, "ListChannels", body, sizeof(body) - 1);
	if (st != 200)
		return st < 0 ? st : -EAGAIN;
	struct json_doc doc;
	if (json_parse(&doc, d->local.buf, d->local.len, d->ptoks, 4096, 8, NULL) < 1)
		return -EPROTO;
	int32_t arr = json_obj_get(&doc, 0, "ChannelSummaries");
	if (arr < 0 || doc.toks[arr].type != JSON_ARRAY)
		return -EPROTO;
	bool seen[DL_CHANNELS_MAX] = { false };
	/* what to describe, copied out: DescribeChannel reuses d->local.buf */
	char todo[DL_CHANNELS_MAX][DL_ARN_MAX];
	uint32_t ntodo = 0;
	for (uint32_t i = (uint32_t)arr + 1, k = 0; k < doc.toks[arr].count;
	     k++, i = doc.toks[i].next) {
		int32_t a = json_obj_get(&doc, i, "ChannelARN");
		int32_t s = json_obj_get(&doc, i, "ChannelStatus");
		if (a < 0 || s < 0 || doc.toks[a].type != JSON_STRING || doc.toks[a].len >= DL_ARN_MAX)
			continue;
		struct sl_slice as = json_tok_slice(&doc, (uint32_t)a);
		struct sl_slice ss = json_tok_slice(&doc, (uint32_t)s);
		bool live = sl_slice_eq(ss, "ACTIVE") || sl_slice_eq(ss, "UPDATING");
		struct dl_chan *c = chan_find(d, as.ptr, as.len);
		if (c && live)
			seen[c - d->chans] = true;
		/* new, or its settings may have changed (UPDATING -> ACTIVE) */
		bool changed = c && !sl_slice_eq(ss, c->desc.status);
		if (live && (!c || changed) && ntodo < DL_CHANNELS_MAX) {
			memcpy(todo[ntodo], as.ptr, as.len);
			todo[ntodo++][as.len] = 0;
		}
	}
	for (uint32_t i = 0; i < DL_CHANNELS_MAX; i++)
		if (d->chans[i].used && !seen[i]) {
			SL_INFO("delivery: channel %s is gone or not ACTIVE; stopped",
				d->chans[i].desc.name);
			chan_drop(d, &d->chans[i], true);
		}
	for (uint32_t t = 0; t < ntodo; t++) {
		int rc = chan_describe(d, todo[t]);
		if (rc < 0)
			SL_DEBUG("delivery: DescribeChannel %s: %d", todo[t], rc);
	}
	return 0;
}

/* One round over a channel's shards. Returns the records read, or the
 * first -errno (after which the caller backs off). */
static int pump_channel(struct delivery *d, struct dl_chan *c)
{
	if (c->rd.nshards == 0) {
		int rc = hc_list_shards(&c->rd);
		if (rc < 0)
			return rc;
		hc_ckpt_load(&c->rd, c->ckpt_path);
	}
	int moved = 0;
	bool relist = false;
	uint64_t fresh_ms = (uint64_t)c->desc.freshness_s * 1000u;
	if (d->flush_ms && d->flush_ms < fresh_ms)
		fresh_ms = d->flush_ms;
	for (uint32_t i = 0; i < c->rd.nshards && !atomic_load(d->stop); i++) {
		struct hc_shard *sh = &c->rd.shards[i];
		if (!sh->closed && !hc_parents_open(&c->rd, sh)) {
			int rc = pump_shard(d, c, i);
			if (rc < 0)
				return rc;
			moved += rc;
			relist |= sh->closed;
		}
		struct dl_buf *b = &c->bufs[i];
		/* a closed shard's last records need not wait for more */
		if (b->records && (hc_now_ms() - b->opened_ms >= fresh_ms || sh->closed)) {
			int rc = flush(d, c, i);
			if (rc < 0)
				return rc;
		}
	}
	atomic_store_explicit(&c->lag_ms, hc_lag_ms(&c->rd), memory_order_relaxed);
	if (relist && hc_list_shards(&c->rd) < 0)
		SL_WARN("delivery: cannot list the shards of %s after a reshard; retrying",
			c->desc.stream);
	return moved;
}

/* The backlog gauge: per shard the records buffered (read, not yet in an
 * object S3 acknowledged) and those after its last read (counted by the
 * local server in its storage index: SluiceRecordsBehind). While S3 is
 * down delivery reads on into its buffers, so the count goes on growing
 * until they are full (DL_BUFFERED_MAX); then it holds until S3 is back.
 * Dead letters written since the last object are not in it. */
static void note_backlog(struct dl_chan *c)
{
	uint64_t n = 0;
	for (uint32_t i = 0; c->bufs && i < c->rd.nshards; i++)
		n += c->bufs[i].records + c->rd.shards[i].after;
	atomic_store_explicit(&c->backlog, n, memory_order_relaxed);
}

static void *delivery_main(void *arg)
{
	struct delivery *d = arg;
	hc_thread_prologue("delivery", DL_NICE);
	while (!atomic_load(d->stop)) {
		uint64_t t = hc_now_ms();
		if (t - d->refreshed_ms >= DL_REFRESH_MS || d->refreshed_ms == 0) {
			d->refreshed_ms = t;
			int rc = refresh(d);
			if (rc < 0)
				SL_DEBUG("delivery: ListChannels: %d", rc);
		}
		int moved = 0;
		for (uint32_t i = 0; i < DL_CHANNELS_MAX && !atomic_load(d->stop); i++) {
			struct dl_chan *c = &d->chans[i];
			if (!c->used)
				continue;
			int rc = pump_channel(d, c);
			note_backlog(c);
			if (rc > 0) {
				moved += rc;
			} else if (rc < 0 && rc != -ECANCELED) {
				SL_DEBUG("delivery: channel %s: %d", c->desc.name, rc);
				atomic_fetch_add_explicit(&c->errors, 1, memory_order_relaxed);
				hc_backoff(&d->backoff_ms, d->stop);
			}
		}
		if (!moved)
			hc_nap(d->stop, HC_GET_SPACING_MS);
	}
	SL_INFO("delivery: stopped");
	return NULL;
}

/* ---- lifecycle ------------------------------------------------------------ */

static void delivery_free(struct delivery *d)
{
	if (!d)
		return;
	for (uint32_t i = 0; i < DL_CHANNELS_MAX; i++)
		if (d->chans[i].used)
			chan_drop(d, &d->chans[i], false);
	hc_peer_fini(&d->local);
	hc_peer_fini(&d->s3);
	free(d->toks);
	free(d->ptoks);
	free(d->obj);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

struct delivery *delivery_open(const char *conf_path, const struct delivery_local *loc)
{
	struct delivery *d = calloc(1, sizeof(*d));
	if (!d) {
		errno = ENOMEM;
		return NULL;
	}
	int rc = -pthread_mutex_init(&d->lock, NULL);
	if (rc < 0) {
		free(d);
		errno = -rc;
		return NULL;
	}
	d->local.fd = d->s3.fd = -1;
	d->stop = loc->stop;
	/* a black-holed S3 or local call ends within 50 ms of SIGTERM */
	d->local.stop = d->s3.stop = loc->stop;
	char key[HC_SECRET_MAX] = "", sec[HC_SECRET_MAX] = "", region[64] = "";
	struct dl_conf cf = { d, key, sec, region };
	rc = hc_read_secret_conf(conf_path, "delivery", "unknown key or bad value", conf_line,
				 &cf);
	if (rc == 0 && (!d->s3.host[0] || !region[0] || !key[0] || !sec[0] ||
			(!d->s3.plain && !d->s3.ca[0]))) {
		SL_ERR("delivery: %s needs endpoint, region, access_key, secret_key and "
		       "ca_bundle (for https)", conf_path);
		rc = -EINVAL;
	}
	if (rc == 0) {
		snprintf(d->dir, sizeof(d->dir), "%s/channels", loc->data_dir);
		if (mkdir(d->dir, 0700) < 0 && errno != EEXIST) {
			rc = -errno;
			SL_ERR("delivery: cannot create %s: %s", d->dir, strerror(-rc));
		}
	}
	if (rc == 0) {
		d->toks = calloc(DL_TOKS_MAX, sizeof(*d->toks));
		d->ptoks = calloc(4096, sizeof(*d->ptoks));
		/* a buffer holds at most DL_OBJECT_BYTES + one record (10 MiB) */
		size_t most = DL_OBJECT_BYTES + (16u << 20);
		size_t zb = ZSTD_compressBound(most), gb = most + most / 1000 + 4096;
		d->obj_cap = zb > gb ? zb : gb;
		d->obj = malloc(d->obj_cap);
		if (!d->toks || !d->ptoks || !d->obj)
			rc = -ENOMEM;
	}
	if (rc == 0 && (rc = hc_local_init(&d->local, loc->key, loc->secret, loc->data_dir,
					   loc->region, "delivery")) == 0)
		rc = hc_peer_init(&d->s3, "s3", key, sec, region, "s3");
	explicit_bzero(sec, sizeof(sec)); /* it lives on only inside the signer */
	if (rc < 0) {
		delivery_free(d);
		errno = -rc;
		return NULL;
	}
	return d;
}

int delivery_start(struct delivery *d, const char *host, uint16_t port)
{
	return hc_thread_start(&d->thr, &d->local, host, port, delivery_main, d, "delivery");
}

void delivery_stop(struct delivery *d)
{
	if (!d)
		return;
	hc_thread_join(&d->thr);
	delivery_free(d);
}

void delivery_scrape(void *arg, struct prom_buf *b)
{
	struct delivery *d = arg;
	static const struct {
		const char *name, *help;
		enum prom_type t;
		size_t off;
	} fam[] = {
		{ "sluice_channel_objects", "objects S3 acknowledged (PutObject 200)", PROM_COUNTER,
		  offsetof(struct dl_chan, objects) },
		{ "sluice_channel_bytes", "bytes (uncompressed) of the objects S3 acknowledged", PROM_COUNTER,
		  offsetof(struct dl_chan, bytes) },
		{ "sluice_channel_records", "records in the objects S3 acknowledged", PROM_COUNTER,
		  offsetof(struct dl_chan, records) },
		{ "sluice_channel_dead_letters", "records written under the error prefix "
		  "(failed STRING or JSON validation)", PROM_COUNTER,
		  offsetof(struct dl_chan, dead_letters) },
		{ "sluice_channel_errors", "failed calls (local reads or S3 writes), each "
		  "followed by a backoff", PROM_COUNTER, offsetof(struct dl_chan, errors) },
		{ "sluice_channel_records_expired", "records retention dropped before they were "
		  "delivered (S3 was out longer than the retention; unknown, and not counted, "
		  "when a restart lies inside the outage)", PROM_COUNTER,
		  offsetof(struct dl_chan, rd.expired_records) },
		{ "sluice_channel_expiries", "times delivery found records expired before they "
		  "were delivered and went on from the trim horizon (one warning each)",
		  PROM_COUNTER, offsetof(struct dl_chan, rd.expiries) },
		{ "sluice_channel_backlog_records", "records of the stream not yet in an object "
		  "S3 acknowledged: buffered, and after the last read (counted in the local "
		  "storage index)", PROM_GAUGE, offsetof(struct dl_chan, backlog) },
		{ "sluice_channel_lag_milliseconds", "backlog as time: the largest "
		  "MillisBehindLatest over the channel's shards in the last round", PROM_GAUGE,
		  offsetof(struct dl_chan, lag_ms) },
	};
	pthread_mutex_lock(&d->lock);
	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		prom_family(b, fam[f].name, fam[f].t, fam[f].help);
		for (uint32_t i = 0; i < DL_CHANNELS_MAX; i++) {
			const struct dl_chan *c = &d->chans[i];
			if (!c->used)
				continue;
			struct prom_label l = { "channel", c->desc.name };
			const _Atomic uint64_t *v =
				(const _Atomic uint64_t *)((const char *)c + fam[f].off);
			prom_u64(b, fam[f].name, fam[f].t == PROM_COUNTER ? "_total" : "", &l, 1,
				 atomic_load_explicit(v, memory_order_relaxed));
		}
	}
	pthread_mutex_unlock(&d->lock);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The scrape: sums every lcore's counters (relaxed loads, no lock) into the
 * Prometheus exposition. Runs on the admin listener's thread, which is a
 * routing-snapshot reader of its own (registered after the lcores), online
 * only while it scrapes.
 *
 * Naming (README.md): a CloudWatch metric Group.Name becomes
 * sluice_kinesis_<group>_<name> in snake case ('.' -> '_'), with _total on
 * counters; a metric CloudWatch gives in milliseconds is in seconds here
 * (Prometheus's base unit: Latency -> latency_seconds,
 * IteratorAgeMilliseconds -> iterator_age_seconds); stream-level families carry a
 * stream label; the shard-level ones of enhanced monitoring are
 * sluice_kinesis_shard_<name>{stream,shard}. Every HELP line quotes the
 * CloudWatch name. */
#include "dataplane/metrics/mx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"
#include "common/prom.h"
#include "dataplane/api/api.h"
#include "dataplane/core/core.h"
#include "dataplane/log/log.h"
#include "dataplane/route/route.h"

static const struct {
	enum mx_sc id;
	const char *name, *help;
} stream_ctrs[] = {
	{ MX_INCOMING_BYTES, "sluice_kinesis_incoming_bytes",
	  "CloudWatch IncomingBytes: record data bytes successfully put (PutRecord, PutRecords)" },
	{ MX_INCOMING_RECORDS, "sluice_kinesis_incoming_records",
	  "CloudWatch IncomingRecords: records successfully put (PutRecord, PutRecords)" },
	{ MX_PUT_RECORD_BYTES, "sluice_kinesis_put_record_bytes",
	  "CloudWatch PutRecord.Bytes: record data bytes put with PutRecord" },
	{ MX_PUT_RECORD_SUCCESS, "sluice_kinesis_put_record_success",
	  "CloudWatch PutRecord.Success: successful PutRecord operations" },
	{ MX_PUT_RECORDS_BYTES, "sluice_kinesis_put_records_bytes",
	  "CloudWatch PutRecords.Bytes: record data bytes put with PutRecords (successful "
	  "records)" },
	{ MX_PUT_RECORDS_RECORDS, "sluice_kinesis_put_records_records",
	  "CloudWatch PutRecords.Records: successful records of PutRecords (deprecated there; "
	  "same as SuccessfulRecords)" },
	{ MX_PUT_RECORDS_SUCCESSFUL_RECORDS, "sluice_kinesis_put_records_successful_records",
	  "CloudWatch PutRecords.SuccessfulRecords: successful records of PutRecords" },
	{ MX_PUT_RECORDS_FAILED_RECORDS, "sluice_kinesis_put_records_failed_records",
	  "CloudWatch PutRecords.FailedRecords: records of PutRecords rejected by internal "
	  "failures" },
	{ MX_PUT_RECORDS_THROTTLED_RECORDS, "sluice_kinesis_put_records_throttled_records",
	  "CloudWatch PutRecords.ThrottledRecords: records of PutRecords rejected by throttling" },
	{ MX_PUT_RECORDS_TOTAL_RECORDS, "sluice_kinesis_put_records_total_records",
	  "CloudWatch PutRecords.TotalRecords: records sent in PutRecords" },
	{ MX_PUT_RECORDS_SUCCESS, "sluice_kinesis_put_records_success",
	  "CloudWatch PutRecords.Success: PutRecords operations with at least one record "
	  "successful" },
	{ MX_GET_RECORDS_BYTES, "sluice_kinesis_get_records_bytes",
	  "CloudWatch GetRecords.Bytes: record data bytes returned by GetRecords" },
	{ MX_GET_RECORDS_RECORDS, "sluice_kinesis_get_records_records",
	  "CloudWatch GetRecords.Records: records returned by GetRecords" },
	{ MX_GET_RECORDS_SUCCESS, "sluice_kinesis_get_records_success",
	  "CloudWatch GetRecords.Success: successful GetRecords operations" },
	{ MX_GET_SHARD_ITERATOR_SUCCESS, "sluice_kinesis_get_shard_iterator_success",
	  "CloudWatch GetShardIterator.Success: successful GetShardIterator operations" },
	{ MX_OUTGOING_BYTES, "sluice_kinesis_outgoing_bytes",
	  "CloudWatch OutgoingBytes: record data bytes retrieved (GetRecords)" },
	{ MX_OUTGOING_RECORDS, "sluice_kinesis_outgoing_records",
	  "CloudWatch OutgoingRecords: records retrieved (GetRecords)" },
	{ MX_READ_THROTTLED, "sluice_kinesis_read_provisioned_throughput_exceeded",
	  "CloudWatch ReadProvisionedThroughputExceeded: GetRecords calls throttled" },
	{ MX_WRITE_THROTTLED, "sluice_kinesis_write_provisioned_throughput_exceeded",
	  "CloudWatch WriteProvisionedThroughputExceeded: records rejected by throttling "
	  "(PutRecord, PutRecords)" },
	{ MX_SUB_RATE_EXCEEDED, "sluice_kinesis_subscribe_to_shard_rate_exceeded",
	  "CloudWatch SubscribeToShard.RateExceeded: subscriptions refused because the consumer "
	  "already reads the shard" },
	{ MX_SUB_SUCCESS, "sluice_kinesis_subscribe_to_shard_success",
	  "CloudWatch SubscribeToShard.Success: subscriptions established" },
	{ MX_SUB_EVENT_BYTES, "sluice_kinesis_subscribe_to_shard_event_bytes",
	  "CloudWatch SubscribeToShardEvent.Bytes: record data bytes pushed to subscribers" },
	{ MX_SUB_EVENT_RECORDS, "sluice_kinesis_subscribe_to_shard_event_records",
	  "CloudWatch SubscribeToShardEvent.Records: records pushed to subscribers" },
	{ MX_SUB_EVENT_SUCCESS, "sluice_kinesis_subscribe_to_shard_event_success",
	  "CloudWatch SubscribeToShardEvent.Success: events pushed to subscribers" },
};
static_assert(sizeof(stream_ctrs) / sizeof(stream_ctrs[0]) == MX_SC_N, "one family each");

static const struct {
	const char *name, *help;
} hists[MX_H_N] = {
	[MX_H_PUT_RECORD] = { "sluice_kinesis_put_record_latency_seconds",
			      "CloudWatch PutRecord.Latency: request to durable answer, seconds" },
	[MX_H_PUT_RECORDS] = { "sluice_kinesis_put_records_latency_seconds",
			       "CloudWatch PutRecords.Latency: request to durable answer, "
			       "seconds" },
	[MX_H_GET_RECORDS] = { "sluice_kinesis_get_records_latency_seconds",
			       "CloudWatch GetRecords.Latency: request to answer, seconds" },
};

/* Shard-level: cp_metric_names' order (mx_shc), then the iterator age. */
static const struct {
	const char *name, *help;
} shard_ctrs[MX_SHC_N] = {
	[MX_SH_INCOMING_BYTES] = { "sluice_kinesis_shard_incoming_bytes",
				   "CloudWatch IncomingBytes per shard (enhanced monitoring)" },
	[MX_SH_INCOMING_RECORDS] = { "sluice_kinesis_shard_incoming_records",
				     "CloudWatch IncomingRecords per shard (enhanced monitoring)" },
	[MX_SH_OUTGOING_BYTES] = { "sluice_kinesis_shard_outgoing_bytes",
				   "CloudWatch OutgoingBytes per shard (enhanced monitoring)" },
	[MX_SH_OUTGOING_RECORDS] = { "sluice_kinesis_shard_outgoing_records",
				     "CloudWatch OutgoingRecords per shard (enhanced monitoring)" },
	[MX_SH_WRITE_THROTTLED] = { "sluice_kinesis_shard_write_provisioned_throughput_exceeded",
				    "CloudWatch WriteProvisionedThroughputExceeded per shard "
				    "(enhanced monitoring)" },
	[MX_SH_READ_THROTTLED] = { "sluice_kinesis_shard_read_provisioned_throughput_exceeded",
				   "CloudWatch ReadProvisionedThroughputExceeded per shard "
				   "(enhanced monitoring)" },
};

/* The counts of one stream summed over the io lcores. */
struct stream_sum {
	uint64_t c[MX_SC_N];
	uint64_t hb[MX_H_N][MX_LAT_BOUNDS + 1], hsum_us[MX_H_N];
	struct mx_last iter_age, sub_behind;
	bool any;
};

static void last_merge(struct mx_last *to, const struct mx_last *l)
{
	int64_t at = MX_GET(l->at_ms);
	if (at > to->at_ms) {
		to->at_ms = at;
		to->v_ms = MX_GET(l->v_ms);
	}
}

static void sum_stream(const struct sl_shared *sh, const struct route_stream *s,
		       struct stream_sum *out)
{
	memset(out, 0, sizeof(*out));
	if (s->mslot >= MX_STREAM_SLOTS)
		return;
	for (uint16_t i = 0; i < sh->n_io; i++) {
		const struct mx_lcore *m = sh->lcs[i].mx;
		if (!m)
			continue;
		const struct mx_stream *b = &m->streams[s->mslot];
		/* Pairs with the release store of the id in mx_stream_at: a
		 * block of this id has been cleared for it. */
		if (__atomic_load_n(&b->stream_id, __ATOMIC_ACQUIRE) != s->id)
			continue;
		out->any = true;
		for (unsigned k = 0; k < MX_SC_N; k++)
			out->c[k] += MX_GET(b->c[k]);
		for (unsigned h = 0; h < MX_H_N; h++) {
			for (unsigned k = 0; k <= MX_LAT_BOUNDS; k++)
				out->hb[h][k] += MX_GET(b->h[h].b[k]);
			out->hsum_us[h] += MX_GET(b->h[h].sum_us);
		}
		last_merge(&out->iter_age, &b->iter_age);
		last_merge(&out->sub_behind, &b->sub_behind);
	}
}

/* Stream families: each family's lines for every stream of the snapshot. */
static void scrape_streams(struct prom_buf *b, const struct sl_shared *sh,
			   const struct route_table *rt)
{
	struct stream_sum *sums = calloc(rt->n_streams ? rt->n_streams : 1, sizeof(*sums));
	if (!sums) {
		b->overflow = true;
		return;
	}
	for (uint32_t i = 0; i < rt->n_streams; i++)
		sum_stream(sh, &rt->streams[i], &sums[i]);
	for (unsigned k = 0; k < MX_SC_N; k++) {
		prom_family(b, stream_ctrs[k].name, PROM_COUNTER, stream_ctrs[k].help);
		for (uint32_t i = 0; i < rt->n_streams; i++) {
			struct prom_label l = { "stream", rt->streams[i].name };
			prom_u64(b, stream_ctrs[k].name, "_total", &l, 1, sums[i].c[k]);
		}
	}
	/* Prometheus's base unit: seconds (the counters stay in ms). */
	double bounds_s[MX_LAT_BOUNDS];
	for (unsigned k = 0; k < MX_LAT_BOUNDS; k++)
		bounds_s[k] = mx_lat_bounds_ms[k] / 1000.0;
	for (unsigned h = 0; h < MX_H_N; h++) {
		prom_family(b, hists[h].name, PROM_HISTOGRAM, hists[h].help);
		for (uint32_t i = 0; i < rt->n_streams; i++) {
			struct prom_label l = { "stream", rt->streams[i].name };
			prom_histogram(b, hists[h].name, &l, 1, bounds_s, sums[i].hb[h],
				       MX_LAT_BOUNDS, (double)sums[i].hsum_us[h] / 1e6);
		}
	}
	static const char age[] = "sluice_kinesis_get_records_iterator_age_seconds";
	prom_family(b, age, PROM_GAUGE,
		    "CloudWatch GetRecords.IteratorAgeMilliseconds (in seconds): "
		    "MillisBehindLatest of the stream's latest GetRecords answer (0 before any)");
	for (uint32_t i = 0; i < rt->n_streams; i++) {
		struct prom_label l = { "stream", rt->streams[i].name };
		prom_f64(b, age, "", &l, 1, (double)sums[i].iter_age.v_ms / 1000.0);
	}
	static const char behind[] =
		"sluice_kinesis_subscribe_to_shard_event_behind_latest_seconds";
	prom_family(b, behind, PROM_GAUGE,
		    "CloudWatch SubscribeToShardEvent.MillisBehindLatest (in seconds): of the "
		    "stream's latest event (0 before any)");
	for (uint32_t i = 0; i < rt->n_streams; i++) {
		struct prom_label l = { "stream", rt->streams[i].name };
		prom_f64(b, behind, "", &l, 1, (double)sums[i].sub_behind.v_ms / 1000.0);
	}
	free(sums);
}

/* One (stream, shard) of the shard tables, summed over the io lcores. */
struct shard_row {
	uint64_t stream_id;
	uint32_t shard;
	uint64_t c[MX_SHC_N];
	struct mx_last iter_age;
};

static int cmp_row(const void *a, const void *b)
{
	const struct shard_row *x = a, *y = b;
	if (x->stream_id != y->stream_id)
		return x->stream_id < y->stream_id ? -1 : 1;
	return x->shard < y->shard ? -1 : x->shard > y->shard;
}

/* Every live entry of every io lcore's table, sorted and merged. Returns
 * the row count, rows in *out (malloc), or -ENOMEM. */
static int64_t shard_rows(const struct sl_shared *sh, struct shard_row **out)
{
	size_t cap = 256, n = 0;
	struct shard_row *r = malloc(cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (uint16_t io = 0; io < sh->n_io; io++) {
		const struct mx_lcore *m = sh->lcs[io].mx;
		for (uint32_t e = 0; m && e < MX_SHARD_SLOTS; e++) {
			const struct mx_shard *x = &m->shards[e];
			/* Pairs with the release store of the key (mx_shard_get). */
			uint64_t id = __atomic_load_n(&x->stream_id, __ATOMIC_ACQUIRE);
			if (id == 0 || id == UINT64_MAX)
				continue;
			if (n == cap) {
				struct shard_row *g = realloc(r, 2 * cap * sizeof(*r));
				if (!g) {
					free(r);
					return -ENOMEM;
				}
				r = g;
				cap *= 2;
			}
			struct shard_row *w = &r[n++];
			w->stream_id = id;
			w->shard = MX_GET(x->shard);
			for (unsigned k = 0; k < MX_SHC_N; k++)
				w->c[k] = MX_GET(x->c[k]);
			w->iter_age = (struct mx_last){ 0, 0 };
			last_merge(&w->iter_age, &x->iter_age);
		}
	}
	qsort(r, n, sizeof(*r), cmp_row);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && cmp_row(&r[m - 1], &r[i]) == 0) {
			for (unsigned k = 0; k < MX_SHC_N; k++)
				r[m - 1].c[k] += r[i].c[k];
			last_merge(&r[m - 1].iter_age, &r[i].iter_age);
		} else {
			r[m++] = r[i];
		}
	}
	*out = r;
	return (int64_t)m;
}

/* Shard families: exactly the metrics enhanced monitoring turned on for
 * each stream, one series per shard of it (0 until counted). */
static void scrape_shards(struct prom_buf *b, const struct sl_shared *sh,
			  const struct route_table *rt)
{
	struct shard_row *rows = NULL;
	int64_t nr = shard_rows(sh, &rows);
	if (nr < 0) {
		b->overflow = true;
		return;
	}
	for (unsigned k = 0; k <= MX_SHC_N; k++) {
		bool fam = false;
		const char *name = k < MX_SHC_N ? shard_ctrs[k].name :
			"sluice_kinesis_shard_iterator_age_seconds";
		for (uint32_t i = 0; i < rt->n_streams; i++) {
			const struct route_stream *s = &rt->streams[i];
			if (!(s->shard_metrics & (1u << k)))
				continue;
			if (!fam) {
				prom_family(b, name, k < MX_SHC_N ? PROM_COUNTER : PROM_GAUGE,
					    k < MX_SHC_N ? shard_ctrs[k].help :
					    "CloudWatch IteratorAgeMilliseconds per shard "
					    "(enhanced monitoring, in seconds): "
					    "MillisBehindLatest of the shard's latest "
					    "GetRecords answer");
				fam = true;
			}
			for (uint32_t sd = 0; sd < s->n_shards; sd++) {
				struct shard_row key = { .stream_id = s->id, .shard = sd };
				const struct shard_row *row =
					nr ? bsearch(&key, rows, (size_t)nr, sizeof(*rows), cmp_row)
					   : NULL;
				char sid[API_SHARD_ID_CAP];
				api_shard_id_fmt(sd, sid);
				struct prom_label l[2] = { { "stream", s->name },
							   { "shard", sid } };
				if (k < MX_SHC_N)
					prom_u64(b, name, "_total", l, 2, row ? row->c[k] : 0);
				else
					prom_f64(b, name, "", l, 2,
						 row ? (double)row->iter_age.v_ms / 1000.0 : 0.0);
			}
		}
	}
	free(rows);
}

static uint64_t ld(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Where a family of the appliance table takes its samples from: one per io
 * lcore (label lcore="ioN") or per log lcore ("logN"), read at an offset in
 * struct lcore_ctx / struct log_ctx as the field's type says. */
enum fam_src {
	FAM_IO = 0,	  /* uint64_t of struct lcore_ctx */
	FAM_IO_U32 = 1,	  /* uint32_t of struct lcore_ctx */
	FAM_LOG = 2,	  /* uint64_t of struct log_ctx */
	FAM_LOG_MS = 3,	  /* uint64_t milliseconds of struct log_ctx, shown in seconds */
	FAM_LOG_BOOL = 4, /* bool of struct log_ctx, shown as 0 or 1 */
	FAM_HISTS = 5,	  /* not a field: journal_hists' families go here */
};

struct fam {
	enum fam_src src;
	enum prom_type type;
	const char *name, *help;
	size_t off;
};

/* One family with a sample per io or log lcore; counters get "_total". */
static void per_lcore(struct prom_buf *b, const struct sl_shared *sh, const struct fam *f)
{
	bool io = f->src == FAM_IO || f->src == FAM_IO_U32;
	uint16_t n = io ? sh->n_io : sh->n_log;

	prom_family(b, f->name, f->type, f->help);
	for (uint16_t i = 0; i < n; i++) {
		char lc[16];
		snprintf(lc, sizeof(lc), "%s%u", io ? "io" : "log", i);
		struct prom_label l = { "lcore", lc };
		const char *base = io ? (const char *)&sh->lcs[i] : (const char *)&sh->logs[i];
		const char *p = base + f->off;
		const char *sfx = f->type == PROM_COUNTER ? "_total" : "";
		switch (f->src) {
		case FAM_IO_U32:
			prom_u64(b, f->name, sfx, &l, 1,
				 __atomic_load_n((const uint32_t *)(const void *)p,
						 __ATOMIC_RELAXED));
			break;
		case FAM_LOG_MS: /* written once before the lcores start */
			prom_f64(b, f->name, sfx, &l, 1,
				 (double)*(const uint64_t *)(const void *)p / 1000.0);
			break;
		case FAM_LOG_BOOL:
			prom_u64(b, f->name, sfx, &l, 1,
				 __atomic_load_n((const bool *)(const void *)p, __ATOMIC_RELAXED));
			break;
		default:
			prom_u64(b, f->name, sfx, &l, 1, ld((const uint64_t *)(const void *)p));
			break;
		}
	}
}

/* Group commit: write latency (RWF_DSYNC, submit to completion), commit
 * wait (first append into a write to its submission), records per write,
 * and a PUT's time on the log lcore's side (queue, to durable), per log
 * lcore. */
static void journal_hists(struct prom_buf *b, const struct sl_shared *sh)
{
	static const char *const name[5] = { "sluice_journal_write_latency_seconds",
					      "sluice_journal_commit_wait_seconds",
					      "sluice_journal_batch_records",
					      "sluice_log_put_queue_seconds",
					      "sluice_log_put_durable_seconds" };
	static const char *const help[5] = {
		"journal write latency: submit to completion of the durable (RWF_DSYNC) write",
		"journal commit wait: first append into a write buffer to the submission "
		"of its write",
		"records per journal write (group-commit batch size)",
		"PUT messages: posted by an io lcore to taken by the log lcore",
		"PUT messages: posted by an io lcore to their answer posted back, all "
		"records durable",
	};
	double lb[ST_WRITE_LAT_BOUNDS], bb[ST_BATCH_BOUNDS];
	for (unsigned k = 0; k < ST_WRITE_LAT_BOUNDS; k++)
		lb[k] = (double)st_write_lat_bounds_us[k] / 1e6;
	for (unsigned k = 0; k < ST_BATCH_BOUNDS; k++)
		bb[k] = (double)st_batch_bounds[k];
	static_assert(ST_BATCH_BOUNDS <= ST_WRITE_LAT_BOUNDS, "c[] holds either");
	for (int f = 0; f < 5; f++) {
		prom_family(b, name[f], PROM_HISTOGRAM, help[f]);
		for (uint16_t i = 0; i < sh->n_log; i++) {
			const struct log_ctx *lg = &sh->logs[i];
			const struct st_stats *st = &lg->st_copy;
			const uint64_t *src = f == 0 ? st->write_lat :
					      f == 1 ? st->commit_wait :
					      f == 2 ? st->batch :
					      f == 3 ? lg->put_queue : lg->put_durable;
			uint64_t c[ST_WRITE_LAT_BOUNDS + 1];
			unsigned n = f == 2 ? ST_BATCH_BOUNDS : ST_WRITE_LAT_BOUNDS;
			for (unsigned k = 0; k <= n; k++)
				c[k] = ld(&src[k]);
			double sum = f == 0 ? (double)ld(&st->write_lat_sum_us) / 1e6 :
				     f == 1 ? (double)ld(&st->commit_wait_sum_us) / 1e6 :
				     f == 2 ? (double)ld(&st->batch_sum) :
				     f == 3 ? (double)ld(&lg->put_queue_sum_us) / 1e6 :
					      (double)ld(&lg->put_durable_sum_us) / 1e6;
			char lc[16];
			snprintf(lc, sizeof(lc), "log%u", i);
			struct prom_label l = { "lcore", lc };
			prom_histogram(b, name[f], &l, 1, f == 2 ? bb : lb, c, n, sum);
		}
	}
}

#define IO_OFF(f) offsetof(struct lcore_ctx, f)
#define LOG_OFF(f) offsetof(struct log_ctx, f)

/* The appliance: lcore loops, connections, journals, in exposition order. */
static const struct fam appliance[] = {
	{ FAM_IO, PROM_COUNTER, "sluice_lcore_loops",
	  "io lcore loop iterations (busy ratio: rate of busy_loops over this)",
	  IO_OFF(loops) },
	{ FAM_IO, PROM_COUNTER, "sluice_lcore_busy_loops",
	  "io lcore loop iterations that handled events",
	  IO_OFF(busy_loops) },
	{ FAM_LOG, PROM_COUNTER, "sluice_log_lcore_loops",
	  "log lcore loop iterations",
	  LOG_OFF(loops) },
	{ FAM_LOG, PROM_COUNTER, "sluice_log_lcore_busy_loops",
	  "log lcore loop iterations that took messages or completions",
	  LOG_OFF(busy_loops) },
	{ FAM_IO, PROM_COUNTER, "sluice_connections_accepted",
	  "connections accepted",
	  IO_OFF(n_accepted) },
	{ FAM_IO, PROM_COUNTER, "sluice_connections_refused_full",
	  "connections refused: the table was full with nothing idle to evict",
	  IO_OFF(n_rejected_full) },
	{ FAM_IO, PROM_COUNTER, "sluice_connections_refused_addr",
	  "connections refused: --max-conns-per-addr",
	  IO_OFF(n_rejected_addr) },
	{ FAM_IO, PROM_COUNTER, "sluice_connections_evicted",
	  "idle connections closed to make room for a newcomer",
	  IO_OFF(n_evicted) },
	{ FAM_IO_U32, PROM_GAUGE, "sluice_connections_open",
	  "connections open",
	  IO_OFF(n_open) },
	{ FAM_IO, PROM_COUNTER, "sluice_http_requests",
	  "HTTP requests (HTTP/1.1 and HTTP/2)",
	  IO_OFF(n_requests) },
	{ FAM_IO, PROM_COUNTER, "sluice_record_requests_held",
	  "record requests that waited for log lcore credits (ring back-pressure)",
	  IO_OFF(n_dp_held) },
	{ FAM_IO_U32, PROM_GAUGE, "sluice_record_messages_out",
	  "messages out at log lcores (ring and journal occupancy, credits in use)",
	  IO_OFF(dp_out) },
	{ FAM_IO_U32, PROM_GAUGE, "sluice_record_messages_out_high_water",
	  "the most messages ever out at once to log lcores (the rings' high-water mark; "
	  "credits per log lcore: 1023)",
	  IO_OFF(dp_out_hwm) },
	{ FAM_LOG, PROM_COUNTER, "sluice_journal_records_appended",
	  "records appended to the journal",
	  LOG_OFF(n_appended) },
	{ FAM_LOG, PROM_COUNTER, "sluice_journal_records_acked",
	  "records acknowledged durable",
	  LOG_OFF(n_acked) },
	{ FAM_LOG, PROM_COUNTER, "sluice_journal_damaged_ranges",
	  "damaged ranges of acknowledged data found (recovery or reads)",
	  LOG_OFF(st_copy.damaged_ranges) },
	{ FAM_LOG, PROM_COUNTER, "sluice_journal_damaged_bytes",
	  "bytes in damaged ranges",
	  LOG_OFF(st_copy.damaged_bytes) },
	{ FAM_LOG, PROM_COUNTER, "sluice_journal_lost_records",
	  "acknowledged records known lost to damage",
	  LOG_OFF(st_copy.lost_records) },
	{ FAM_LOG, PROM_COUNTER, "sluice_journal_torn_tails",
	  "unacknowledged torn tails cut by recovery",
	  LOG_OFF(st_copy.torn_tails) },
	{ FAM_LOG, PROM_COUNTER, "sluice_journal_writes",
	  "journal writes (group commits) submitted",
	  LOG_OFF(st_copy.writes) },
	{ FAM_LOG, PROM_COUNTER, "sluice_journal_write_bytes",
	  "bytes of those writes (padded to 4 KiB blocks)",
	  LOG_OFF(st_copy.write_bytes) },
	{ FAM_LOG, PROM_GAUGE, "sluice_journal_segments",
	  "journal segment files",
	  LOG_OFF(st_copy.segments) },
	{ FAM_LOG, PROM_GAUGE, "sluice_journal_segment_bytes",
	  "bytes of the journal's segment files (preallocated)",
	  LOG_OFF(st_copy.segment_bytes) },
	/* the group-commit histograms stand here in the exposition */
	{ FAM_HISTS, PROM_HISTOGRAM, NULL, NULL, 0 },
	{ FAM_LOG, PROM_COUNTER, "sluice_journal_tail_read_records",
	  "records GetRecords/SubscribeToShard took from the in-memory tail",
	  LOG_OFF(st_copy.tail_records) },
	{ FAM_LOG, PROM_COUNTER, "sluice_journal_disk_read_records",
	  "records GetRecords/SubscribeToShard read from the journal's files",
	  LOG_OFF(st_copy.disk_records) },
	{ FAM_LOG, PROM_COUNTER, "sluice_journal_disk_read_chunks",
	  "chunks read from the journal's files by GetRecords/SubscribeToShard",
	  LOG_OFF(st_copy.disk_chunks) },
	{ FAM_LOG, PROM_COUNTER, "sluice_journal_async_read_chunks",
	  "chunks read from the journal's files with io_uring, off the log lcore (--read-slots)",
	  LOG_OFF(st_copy.aread_chunks) },
	{ FAM_LOG, PROM_COUNTER, "sluice_journal_async_read_bytes",
	  "bytes of those chunks",
	  LOG_OFF(st_copy.aread_bytes) },
	{ FAM_LOG, PROM_COUNTER, "sluice_journal_async_read_waits",
	  "GetRecords/SubscribeToShard polls that waited for a disk read",
	  LOG_OFF(st_copy.aread_waits) },
	{ FAM_LOG, PROM_COUNTER, "sluice_journal_async_read_evicted_unused",
	  "chunks read with io_uring whose room was taken before their reader used them",
	  LOG_OFF(st_copy.aread_evicted_unused) },
	{ FAM_LOG, PROM_GAUGE, "sluice_journal_tail_bytes",
	  "memory of the shards' in-memory read tails",
	  LOG_OFF(st_copy.tail_bytes) },
	{ FAM_LOG, PROM_COUNTER, "sluice_journal_tail_no_room",
	  "appends to a shard without a read tail that found its memory (--tail-mib) used up",
	  LOG_OFF(st_copy.tail_no_room) },
	{ FAM_LOG, PROM_COUNTER, "sluice_journal_tail_grows",
	  "read tail rings doubled for a shard evicting records younger than --tail-ms",
	  LOG_OFF(st_copy.tail_grows) },
	{ FAM_LOG, PROM_COUNTER, "sluice_journal_tail_steals",
	  "read tail rings halved or freed to give room to a shard with younger records",
	  LOG_OFF(st_copy.tail_steals) },
	{ FAM_LOG, PROM_COUNTER, "sluice_journal_meta_writes",
	  "journal.meta writes (sequence number reservations)",
	  LOG_OFF(st_copy.resv_writes) },
	{ FAM_LOG, PROM_COUNTER, "sluice_journal_marker_writes",
	  "durable-prefix marker writes of an idle journal",
	  LOG_OFF(st_copy.marker_writes) },
	{ FAM_LOG_MS, PROM_GAUGE, "sluice_journal_recovery_seconds",
	  "time the journal's recovery (st_open's scan) took at start-up",
	  LOG_OFF(recovery_ms) },
	{ FAM_LOG_BOOL, PROM_GAUGE, "sluice_journal_failed",
	  "1 when the log lcore's journal failed (every request answered with an error)",
	  LOG_OFF(failed) },
};

static void scrape_appliance(struct prom_buf *b, const struct sl_shared *sh)
{
	for (size_t k = 0; k < SL_ARRAY_SIZE(appliance); k++) {
		if (appliance[k].src == FAM_HISTS)
			journal_hists(b, sh);
		else
			per_lcore(b, sh, &appliance[k]);
	}
}

/* The operation label of enum api_op op (MX_OP_NONE: "none"). */
static const char *op_name(unsigned op)
{
	if (op == MX_OP_NONE)
		return "none";
	if (op == API_OP_UNKNOWN)
		return "unknown";
	if (op == API_OP_OTHER_KNOWN)
		return "other";
	const struct api_op_info *i = api_op_info((enum api_op)op);
	return i ? i->name : "unknown";
}

/* HTTP answers, TLS handshakes and SigV4 failures, summed over the io
 * lcores; the HTTP family shows only (operation, status) pairs seen. */
static void scrape_requests(struct prom_buf *b, const struct sl_shared *sh)
{
	static uint64_t http[MX_OP_N][MX_HTTP_ST_N]; /* the admin thread's only */
	uint64_t tls[MX_TLS_N] = { 0 }, sig[MX_SIGV4_N] = { 0 };
	memset(http, 0, sizeof(http));
	for (uint16_t i = 0; i < sh->n_io; i++) {
		const struct mx_lcore *m = sh->lcs[i].mx;
		if (!m)
			continue;
		for (unsigned o = 0; o < MX_OP_N; o++)
			for (unsigned k = 0; k < MX_HTTP_ST_N; k++)
				http[o][k] += MX_GET(m->io.http[o][k]);
		for (unsigned k = 0; k < MX_TLS_N; k++)
			tls[k] += MX_GET(m->io.tls[k]);
		for (unsigned k = 0; k < MX_SIGV4_N; k++)
			sig[k] += MX_GET(m->io.sigv4[k]);
	}
	static const char hn[] = "sluice_http_responses";
	prom_family(b, hn, PROM_COUNTER, "HTTP answers by operation and status");
	for (unsigned o = 0; o < MX_OP_N; o++)
		for (unsigned k = 0; k < MX_HTTP_ST_N; k++) {
			if (!http[o][k])
				continue;
			char st[8];
			if (k < MX_HTTP_ST_N - 1)
				snprintf(st, sizeof(st), "%u", mx_http_statuses[k]);
			else
				snprintf(st, sizeof(st), "other");
			struct prom_label l[2] = { { "operation", op_name(o) }, { "status", st } };
			prom_u64(b, hn, "_total", l, 2, http[o][k]);
		}
	static const char *const tv[MX_TLS_N][2] = { { "TLSv1.2", "ok" }, { "TLSv1.3", "ok" },
						     { "other", "ok" }, { "", "failed" } };
	static const char tn[] = "sluice_tls_handshakes";
	prom_family(b, tn, PROM_COUNTER,
		    "TLS handshakes of the data listener by version and result");
	for (unsigned k = 0; k < MX_TLS_N; k++) {
		struct prom_label l[2] = { { "version", tv[k][0] }, { "result", tv[k][1] } };
		prom_u64(b, tn, "_total", l, 2, tls[k]);
	}
	static const char nn[] = "sluice_net_stack";
	bool any_tcp = false;
	for (uint16_t i = 0; i < sh->n_io; i++)
		any_tcp |= sh->lcs[i].mx && MX_GET(sh->lcs[i].mx->io.has_tcp);
	if (any_tcp) {
		prom_family(b, nn, PROM_COUNTER,
			    "the userspace TCP/IP stack's counters (--transport dpdk), by counter "
			    "(tcp_retransmits, tcp_rto, syn_cookies_sent, rx_drop_ip, ...) and "
			    "lcore");
		for (uint16_t i = 0; i < sh->n_io; i++) {
			const struct mx_lcore *m = sh->lcs[i].mx;
			if (!m || !MX_GET(m->io.has_tcp))
				continue;
			char lc[16];
			snprintf(lc, sizeof(lc), "io%u", i);
			for (unsigned k = 0; k < MX_TCP_N; k++) {
				struct prom_label l[2] = { { "counter", mx_tcp_names[k] },
							   { "lcore", lc } };
				prom_u64(b, nn, "_total", l, 2, MX_GET(m->io.tcp[k]));
			}
		}
	}
	static const char sn[] = "sluice_sigv4_failures";
	prom_family(b, sn, PROM_COUNTER, "requests refused by SigV4, by the error type answered");
	for (unsigned k = 0; k < MX_SIGV4_N; k++) {
		struct prom_label l = { "type", k < MX_SIGV4_N - 1 ? mx_sigv4_types[k] : "other" };
		prom_u64(b, sn, "_total", &l, 1, sig[k]);
	}
}

int mx_scrape(struct prom_buf *b, struct sl_shared *sh, uint16_t reader)
{
	route_reader(sh->routes, reader, true);
	const struct route_table *rt = route_get(sh->routes);
	uint32_t unslotted = 0;
	/* --metrics off: no lcore counts streams; say nothing rather than 0. */
	if (rt && sh->n_io && sh->lcs[0].mx) {
		scrape_streams(b, sh, rt);
		scrape_shards(b, sh, rt);
		for (uint32_t i = 0; i < rt->n_streams; i++)
			unslotted += rt->streams[i].mslot >= MX_STREAM_SLOTS;
	}
	/* Going offline also says this reader holds no snapshot any more. */
	route_reader(sh->routes, reader, false);
	prom_family(b, "sluice_metrics_streams_unslotted", PROM_GAUGE,
		    "streams beyond the metric slots (not counted)");
	prom_u64(b, "sluice_metrics_streams_unslotted", "", NULL, 0, unslotted);
	uint64_t dropped = 0;
	for (uint16_t i = 0; i < sh->n_io; i++)
		if (sh->lcs[i].mx)
			dropped += ld(&sh->lcs[i].mx->io.shards_dropped);
	prom_family(b, "sluice_metrics_shards_dropped", PROM_COUNTER,
		    "shard-level counts lost to a full shard table");
	prom_u64(b, "sluice_metrics_shards_dropped", "_total", NULL, 0, dropped);
	scrape_appliance(b, sh);
	scrape_requests(b, sh);
	return b->overflow ? -ENOMEM : 0;
}

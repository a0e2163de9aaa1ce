/* SPDX-License-Identifier: Apache-2.0 */
/* Counting a record operation's answer into the io lcore's blocks (mx.h):
 * called by dataplane/ops when the answer is known, and by perf/mx_bench.c
 * to measure what counting costs. */
#include "dataplane/metrics/mx.h"

#include <errno.h>

#include "common/clock.h"
#include "dataplane/log/log.h"

/* Shard-level counter k of (stream, shard) += v, when enhanced monitoring
 * has metric k on for the stream. */
static void mx_shard_add(struct mx_lcore *mx, const struct mx_req *d, uint64_t stream_id,
			 uint32_t shard, enum mx_shc k, uint64_t v)
{
	if (!(d->shard_metrics & (1u << k)))
		return;
	struct mx_shard *e = mx_shard_get(mx, stream_id, shard);
	if (e)
		MX_ADD(e->c[k], v);
}

void mx_count_put(struct mx_lcore *mx, const struct mx_req *d, uint64_t sid,
		  const struct dp_rec *recs, uint32_t n, bool many)
{
	struct mx_stream *ms = mx_stream_at(mx, d->slot, sid);
	if (!ms)
		return;
	uint64_t ok = 0, ok_bytes = 0, thr = 0, failed = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct dp_rec *r = &recs[i];
		if (r->status == 0) {
			ok++;
			ok_bytes += r->data_len;
			mx_shard_add(mx, d, sid, r->shard_index, MX_SH_INCOMING_BYTES, r->data_len);
			mx_shard_add(mx, d, sid, r->shard_index, MX_SH_INCOMING_RECORDS, 1);
		} else if (r->status == -EDQUOT) {
			thr++;
			mx_shard_add(mx, d, sid, r->shard_index, MX_SH_WRITE_THROTTLED, 1);
		} else {
			failed++;
		}
	}
	uint64_t *c = ms->c;
	MX_ADD(c[MX_INCOMING_BYTES], ok_bytes);
	MX_ADD(c[MX_INCOMING_RECORDS], ok);
	MX_ADD(c[MX_WRITE_THROTTLED], thr);
	if (many) {
		MX_ADD(c[MX_PUT_RECORDS_BYTES], ok_bytes);
		MX_ADD(c[MX_PUT_RECORDS_RECORDS], ok);
		MX_ADD(c[MX_PUT_RECORDS_SUCCESSFUL_RECORDS], ok);
		MX_ADD(c[MX_PUT_RECORDS_FAILED_RECORDS], failed);
		MX_ADD(c[MX_PUT_RECORDS_THROTTLED_RECORDS], thr);
		MX_ADD(c[MX_PUT_RECORDS_TOTAL_RECORDS], n);
		MX_ADD(c[MX_PUT_RECORDS_SUCCESS], ok > 0);
	} else {
		MX_ADD(c[MX_PUT_RECORD_BYTES], ok_bytes);
		MX_ADD(c[MX_PUT_RECORD_SUCCESS], ok);
	}
	mx_hist_add(&ms->h[many ? MX_H_PUT_RECORDS : MX_H_PUT_RECORD], mx_now_us() - d->t0_us);
}

void mx_count_get(struct mx_lcore *mx, const struct mx_req *d, const struct dp_msg *m)
{
	struct mx_stream *ms = mx_stream_at(mx, d->slot, m->stream_id);
	if (!ms)
		return;
	uint64_t *c = ms->c;
	if (m->status == -EDQUOT) {
		MX_ADD(c[MX_READ_THROTTLED], 1);
		mx_shard_add(mx, d, m->stream_id, m->shard_index, MX_SH_READ_THROTTLED, 1);
	} else if (m->status == 0 && m->resp) {
		MX_ADD(c[MX_GET_RECORDS_SUCCESS], 1);
		MX_ADD(c[MX_GET_RECORDS_BYTES], m->bytes);
		MX_ADD(c[MX_GET_RECORDS_RECORDS], m->n_out);
		MX_ADD(c[MX_OUTGOING_BYTES], m->bytes);
		MX_ADD(c[MX_OUTGOING_RECORDS], m->n_out);
		int64_t now = sl_wall_ms();
		mx_last_set(&ms->iter_age, m->behind_ms, now);
		mx_shard_add(mx, d, m->stream_id, m->shard_index, MX_SH_OUTGOING_BYTES, m->bytes);
		mx_shard_add(mx, d, m->stream_id, m->shard_index, MX_SH_OUTGOING_RECORDS, m->n_out);
		if (d->shard_metrics & (1u << MX_SH_ITERATOR_AGE_BIT)) {
			struct mx_shard *e = mx_shard_get(mx, m->stream_id, m->shard_index);
			if (e)
				mx_last_set(&e->iter_age, m->behind_ms, now);
		}
	}
	mx_hist_add(&ms->h[MX_H_GET_RECORDS], mx_now_us() - d->t0_us);
}


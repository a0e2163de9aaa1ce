/* SPDX-License-Identifier: Apache-2.0 */
/* /status.json: what the status page shows besides the counters of
 * /metrics: the ACTIVE streams with their shards and the ACTIVE enhanced
 * fan-out consumers, read from the routing snapshot (the same RCU read the
 * scrape does: no lock, no query to the control thread, nothing an lcore
 * waits on).
 *
 * Bounded: at most ADMIN_STATUS_SHARDS_MAX shards listed per stream (the
 * counts are always whole), and ADMIN_STATUS_MAX_BYTES in all; past that,
 * whole streams (then whole consumers) are left out and "truncated" says
 * so. Names are JSON-escaped here; the page renders them as text. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_internal.h"
#include "common/bug.h"
#include "common/json.h"
#include "dataplane/api/api.h"
#include "dataplane/core/core.h"
#include "dataplane/route/route.h"

/* A stream with its first shards listed is ~300 bytes plus ~130 per shard,
 * so 4 MiB holds thousands of streams; the reserve closes the document. */
#define ADMIN_STATUS_RESERVE 256

static void hash_key(struct jw *w, const char *key, route_u128 v)
{
	char d[ROUTE_U128_DEC_CAP];
	size_t n = route_u128_fmt(v, d);
	jw_key(w, key);
	jw_strn(w, d, n);
}

static void shard_json(struct jw *w, const struct route_shard *s)
{
	char id[API_SHARD_ID_CAP];
	jw_obj_begin(w);
	api_shard_id_fmt(s->index, id);
	jw_key(w, "id");
	jw_str(w, id);
	jw_key(w, "open");
	jw_bool(w, s->open);
	jw_key(w, "parent");
	if (s->parent == ROUTE_NONE) {
		jw_null(w);
	} else {
		api_shard_id_fmt(s->parent, id);
		jw_str(w, id);
	}
	hash_key(w, "hash_start", s->hash_start);
	hash_key(w, "hash_end", s->hash_end);
	jw_obj_end(w);
}

static void stream_json(struct jw *w, const struct route_stream *s, const struct route_table *rt)
{
	jw_obj_begin(w);
	jw_key(w, "name");
	jw_str(w, s->name);
	jw_key(w, "shards_total");
	jw_u64(w, s->n_shards);
	jw_key(w, "shards_open");
	jw_u64(w, s->n_open);
	jw_key(w, "retention_hours");
	jw_u64(w, s->retention_hours);
	jw_key(w, "enhanced_monitoring");
	jw_u64(w, s->shard_metrics);
	uint32_t nc = 0;
	for (uint32_t i = 0; i < rt->n_consumers; i++)
		nc += rt->consumers[i].stream_id == s->id;
	jw_key(w, "consumers");
	jw_u64(w, nc);
	/* Open shards first (they take the writes), then the closed ones,
	 * up to the bound: a stream resharded many times still fits. */
	jw_key(w, "shards");
	jw_arr_begin(w);
	uint32_t listed = 0;
	for (int open = 1; open >= 0; open--)
		for (uint32_t i = 0; i < s->n_shards && listed < ADMIN_STATUS_SHARDS_MAX; i++)
			if (s->shards[i].open == (open == 1)) {
				shard_json(w, &s->shards[i]);
				listed++;
			}
	jw_arr_end(w);
	jw_obj_end(w);
}

static void consumer_json(struct jw *w, const struct route_consumer *c)
{
	jw_obj_begin(w);
	jw_key(w, "stream");
	jw_str(w, c->stream_name);
	jw_key(w, "name");
	jw_str(w, c->name);
	jw_key(w, "arn");
	jw_str(w, c->arn);
	jw_key(w, "created_ms");
	jw_i64(w, c->created_ms);
	jw_obj_end(w);
}

/* Remembers where the writer was, to take back an element that overflowed
 * (the document stays whole, one element shorter). */
struct mark {
	size_t len;
	bool need_comma;
};

static struct mark mark(const struct jw *w)
{
	return (struct mark){ w->len, w->need_comma };
}

static bool undo_if_over(struct jw *w, struct mark m)
{
	if (!w->overflow)
		return false;
	w->len = m.len;
	w->need_comma = m.need_comma;
	w->overflow = false;
	return true;
}

int admin_status_json(struct sl_shared *sh, uint16_t reader, const char *version, size_t cap,
		      char **out, size_t *out_len)
{
	BUG_ON(cap < 2 * ADMIN_STATUS_RESERVE);
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	struct jw w;
	/* Elements are written within cap - reserve; the reserve is given
	 * back for the closing members. */
	jw_init(&w, buf, cap - ADMIN_STATUS_RESERVE);
	bool truncated = false;
	jw_obj_begin(&w);
	jw_key(&w, "version");
	jw_str(&w, version);
	jw_key(&w, "io_lcores");
	jw_u64(&w, sh->n_io);
	jw_key(&w, "log_lcores");
	jw_u64(&w, sh->n_log);

	route_reader(sh->routes, reader, true);
	const struct route_table *rt = route_get(sh->routes);
	jw_key(&w, "streams");
	jw_arr_begin(&w);
	uint32_t n_streams = 0, n_consumers = 0;
	for (uint32_t i = 0; rt && i < rt->n_streams && !truncated; i++) {
		struct mark m = mark(&w);
		stream_json(&w, &rt->streams[i], rt);
		truncated = undo_if_over(&w, m);
		n_streams += !truncated;
	}
	jw_arr_end(&w);
	jw_key(&w, "consumers");
	jw_arr_begin(&w);
	for (uint32_t i = 0; rt && i < rt->n_consumers && !truncated; i++) {
		struct mark m = mark(&w);
		consumer_json(&w, &rt->consumers[i]);
		truncated = undo_if_over(&w, m);
		n_consumers += !truncated;
	}
	jw_arr_end(&w);
	uint64_t snapshot = rt ? rt->version : 0;
	route_reader(sh->routes, reader, false); /* no snapshot pointer kept */

	w.cap = cap;
	jw_key(&w, "streams_listed");
	jw_u64(&w, n_streams);
	jw_key(&w, "consumers_listed");
	jw_u64(&w, n_consumers);
	jw_key(&w, "truncated");
	jw_bool(&w, truncated);
	jw_key(&w, "snapshot");
	jw_u64(&w, snapshot);
	jw_obj_end(&w);
	BUG_ON(w.overflow); /* the reserve holds the closing members */
	*out = buf;
	*out_len = w.len;
	return 0;
}

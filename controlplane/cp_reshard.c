/* SPDX-License-Identifier: Apache-2.0 */
/* Resharding: SplitShard, MergeShards, UpdateShardCount (UNIFORM_SCALING)
 * and the sealing of closed parents. Runs on the control thread only.
 *
 * A reshard is applied at once in one store transaction (parents closed,
 * children inserted, stream UPDATING until create_delay_ms passes); the
 * cut-over of the data path (cp.c: cp_cut_over) follows before the answer.
 * Messages: kinesalite actions/splitShard.js, mergeShards.js,
 * updateShardCount.js (recorded from Kinesis) unless noted. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"
#include "common/clock.h"
#include "common/log.h"
#include "controlplane/cp_internal.h"
#include "storage/st.h"

#define CP_PAT_HASH "0|([1-9]\\d{0,38})"
static const char *const cp_scaling_types[] = { "UNIFORM_SCALING" };

/* HashKey pattern of the model: 0|([1-9]\d{0,38}), whole string. A value
 * above 2^128-1 matches the pattern (-ERANGE): the range check rejects it. */
static bool cp_match_hash(const char *s, size_t n)
{
	sl_u128 v;

	return n <= SL_U128_DEC_MAX && sl_u128_parse(s, n, &v) != -EINVAL;
}

/* Decimal -> u128 of a key that passed cp_match_hash, or one we stored;
 * values above 2^128-1 (39 digits allow up to 10^39-1) saturate, which
 * every range check then rejects. */
static cp_u128 cp_dec_u128(const char *s)
{
	sl_u128 v = 0;

	if (sl_u128_parse(s, strlen(s), &v) == -ERANGE)
		return SL_U128_MAX;
	return v;
}

/* Looks up a shard named in the request; on error answers
 * ResourceNotFoundException and returns -1. */
static int cp_find_shard(struct cp_req *r, const char *given, struct cp_shard *out)
{
	uint32_t idx;
	char id[CP_SHARD_ID_CAP];
	int rc;

	if (api_shard_id_parse(given, strlen(given), &idx) != 0) {
		cp_fail(r, 400, "ResourceNotFoundException", "Could not find shard %s in stream %s "
			"under account %s.", given, r->s.name, r->cp->account_id);
		return -1;
	}
	rc = cp_store_shard_get(r->cp->st, r->s.name, idx, out);
	if (rc == -ENOENT) {
		api_shard_id_fmt(idx, id);
		cp_fail(r, 400, "ResourceNotFoundException", "Could not find shard %s in stream %s "
			"under account %s.", id, r->s.name, r->cp->account_id);
		return -1;
	}
	if (rc)
		cp_internal(r);
	return rc ? -1 : 0;
}

/* Not from kinesalite (it does not check): the text Kinesis answers for a
 * shard that a reshard already closed. */
static int cp_require_open(struct cp_req *r, const struct cp_shard *sh)
{
	if (sh->closed_ms == 0)
		return 0;
	cp_fail(r, 400, "ResourceInUseException", "Shard %s in stream %s under account %s has "
		"already been merged or split, and thus is not eligible for merging or "
		"splitting.", sh->id, r->s.name, r->cp->account_id);
	return -1;
}

/* The reshard's time: the children's created_ms and the parents'
 * closed_ms. Strictly above every earlier shard time of the stream, so it
 * names this reshard alone (the routing table finds children by it). */
static int cp_reshard_time(struct cp_req *r, int64_t *out_ms)
{
	int64_t last = 0;

	if (cp_store_last_created(r->cp->st, r->s.name, &last)) {
		cp_internal(r);
		return -1;
	}
	*out_ms = SL_MAX(sl_wall_ms(), last + 1);
	return 0;
}

static void cp_child(uint32_t index, cp_u128 start, cp_u128 end, const char *parent,
		     const char *adjacent, int64_t now_ms, struct cp_shard *c)
{
	memset(c, 0, sizeof(*c));
	c->index = index;
	api_shard_id_fmt(index, c->id);
	sl_u128_fmt(start, c->hash_start);
	sl_u128_fmt(end, c->hash_end);
	cp_start_seq(index, now_ms, c->start_seq);
	snprintf(c->parent, sizeof(c->parent), "%s", parent);
	snprintf(c->adjacent, sizeof(c->adjacent), "%s", adjacent ? adjacent : "");
	c->created_ms = now_ms;
}

/* Applies a reshard; the stream is UPDATING for create_delay_ms. */
static int cp_apply(struct cp_req *r, const uint32_t *parents, uint32_t n_parents,
		    const struct cp_shard *children, uint32_t n_children, int64_t now_ms)
{
	uint32_t delay = r->cp->cfg.create_delay_ms;
	int rc = cp_store_reshard(r->cp->st, r->s.name, parents, n_parents, children, n_children,
				  now_ms, delay ? CP_UPDATING : CP_ACTIVE,
				  delay ? sl_wall_ms() + delay : 0);

	if (rc)
		cp_internal(r);
	return rc;
}

static int cp_account_shards(struct cp_req *r, uint64_t *shards)
{
	uint32_t streams;

	if (cp_store_totals(r->cp->st, &streams, shards) == 0)
		return 0;
	cp_internal(r);
	return -1;
}

/* --- SplitShard --- */

struct cp_split {
	bool has_shard, has_key;
	uint32_t shard_cp, key_cp;
	char shard[CP_STR_CAP], key[CP_STR_CAP];
};

static int cp_split_decode(struct cp_req *r, struct cp_split *q)
{
	struct av *v = &r->v;
	int32_t root = av_root(v);

	/* Kinesis's member order (kinesalite's recorded splitShard tests):
	 * NewStartingHashKey, StreamName, ShardToSplit, for both passes. */
	q->has_key = av_get_str(v, root, "NewStartingHashKey", q->key, sizeof(q->key),
				&q->key_cp);
	r->has_name = av_get_str(v, root, "StreamName", r->name, sizeof(r->name), &r->name_cp);
	q->has_shard = av_get_str(v, root, "ShardToSplit", q->shard, sizeof(q->shard),
				  &q->shard_cp);
	r->has_arn = av_get_str(v, root, "StreamARN", r->arn, sizeof(r->arn), &r->arn_cp);
	if (!v->ser && !v->bad_json) {
		av_not_null(v, "newStartingHashKey", q->has_key);
		if (q->has_key)
			av_pattern(v, "newStartingHashKey", q->key, CP_PAT_HASH, cp_match_hash);
		if (r->has_name)
			cp_check_name(r, "streamName", r->name, r->name_cp);
		av_not_null(v, "shardToSplit", q->has_shard);
		if (q->has_shard)
			cp_check_name(r, "shardToSplit", q->shard, q->shard_cp);
		cp_check_arn(r);
	}
	if (av_finish(v, &r->err)) {
		cp_reply_err(r->call, &r->err);
		return -1;
	}
	return 0;
}

void cp_split_shard(struct cp_req *r)
{
	struct cp_split *q = calloc(1, sizeof(*q));
	struct cp_shard sh, kids[2];
	uint64_t account_shards;
	int64_t now;

	if (q == NULL) {
		cp_internal(r);
		return;
	}
	if (cp_split_decode(r, q) || cp_resolve(r) || cp_find_shard(r, q->shard, &sh) ||
	    cp_account_shards(r, &account_shards))
		goto out;
	if (account_shards + 1 > r->cp->cfg.shard_limit) {
		cp_limit_shards(r, account_shards, 1);
		goto out;
	}
	cp_u128 key = cp_dec_u128(q->key), start = cp_dec_u128(sh.hash_start);
	cp_u128 end = cp_dec_u128(sh.hash_end);
	if (key <= start + 1 || key >= end) {
		cp_fail(r, 400, "InvalidArgumentException", "NewStartingHashKey %s used in "
			"SplitShard() on shard %s in stream %s under account %s is not both greater "
			"than one plus the shard's StartingHashKey %s and less than the shard's "
			"EndingHashKey %s.", q->key, sh.id, r->s.name, r->cp->account_id,
			sh.hash_start, sh.hash_end);
		goto out;
	}
	if (cp_require_active(r) || cp_require_open(r, &sh) || cp_reshard_time(r, &now))
		goto out;
	cp_child(r->s.shard_total, start, key - 1, sh.id, NULL, now, &kids[0]);
	cp_child(r->s.shard_total + 1, key, end, sh.id, NULL, now, &kids[1]);
	if (cp_apply(r, &sh.index, 1, kids, 2, now) == 0)
		cp_ok_empty(r);
out:
	free(q);
}

/* --- MergeShards --- */

struct cp_merge {
	bool has_a, has_b;
	uint32_t a_cp, b_cp;
	char a[CP_STR_CAP], b[CP_STR_CAP];
};

static int cp_merge_decode(struct cp_req *r, struct cp_merge *q)
{
	struct av *v = &r->v;
	int32_t root = av_root(v);

	/* Kinesis's member order (kinesalite's mergeShards validations):
	 * ShardToMerge, AdjacentShardToMerge, StreamName. */
	q->has_a = av_get_str(v, root, "ShardToMerge", q->a, sizeof(q->a), &q->a_cp);
	q->has_b = av_get_str(v, root, "AdjacentShardToMerge", q->b, sizeof(q->b), &q->b_cp);
	r->has_name = av_get_str(v, root, "StreamName", r->name, sizeof(r->name), &r->name_cp);
	r->has_arn = av_get_str(v, root, "StreamARN", r->arn, sizeof(r->arn), &r->arn_cp);
	if (!v->ser && !v->bad_json) {
		av_not_null(v, "shardToMerge", q->has_a);
		if (q->has_a)
			cp_check_name(r, "shardToMerge", q->a, q->a_cp);
		av_not_null(v, "adjacentShardToMerge", q->has_b);
		if (q->has_b)
			cp_check_name(r, "adjacentShardToMerge", q->b, q->b_cp);
		if (r->has_name)
			cp_check_name(r, "streamName", r->name, r->name_cp);
		cp_check_arn(r);
	}
	if (av_finish(v, &r->err)) {
		cp_reply_err(r->call, &r->err);
		return -1;
	}
	return 0;
}

void cp_merge_shards(struct cp_req *r)
{
	struct cp_merge *q = calloc(1, sizeof(*q));
	struct cp_shard a, b, kid;
	int64_t now;

	if (q == NULL) {
		cp_internal(r);
		return;
	}
	if (cp_merge_decode(r, q) || cp_resolve(r) || cp_find_shard(r, q->a, &a) ||
	    cp_find_shard(r, q->b, &b))
		goto out;
	cp_u128 as = cp_dec_u128(a.hash_start), ae = cp_dec_u128(a.hash_end);
	cp_u128 bs = cp_dec_u128(b.hash_start), be = cp_dec_u128(b.hash_end);
	/* Adjacent: the union of the two ranges is contiguous, in either order
	 * (AWS docs; kinesalite only accepts ShardToMerge first). */
	const cp_u128 max = ~(cp_u128)0;
	bool adjacent = a.index != b.index &&
			((ae != max && ae + 1 == bs) || (be != max && be + 1 == as));
	if (!adjacent) {
		cp_fail(r, 400, "InvalidArgumentException", "Shards %s and %s in stream %s under "
			"account %s are not an adjacent pair of shards eligible for merging",
			a.id, b.id, r->s.name, r->cp->account_id);
		goto out;
	}
	if (cp_require_active(r) || cp_require_open(r, &a) || cp_require_open(r, &b) ||
	    cp_reshard_time(r, &now))
		goto out;
	uint32_t parents[2] = { a.index, b.index };
	cp_child(r->s.shard_total, SL_MIN(as, bs), SL_MAX(ae, be), a.id, b.id, now, &kid);
	if (cp_apply(r, parents, 2, &kid, 1, now) == 0)
		cp_ok_empty(r);
out:
	free(q);
}

/* --- UpdateShardCount --- */

struct cp_open_shard {
	cp_u128 start, end;
	uint32_t index;
};

struct cp_open_list {
	struct cp_open_shard *v;
	uint32_t n, cap;
};

static int cp_collect_open(void *arg, const struct cp_shard *sh)
{
	struct cp_open_list *l = arg;

	if (sh->closed_ms != 0)
		return 0;
	if (l->n == l->cap)
		return 1; /* more open shards than the stream row says: stop */
	l->v[l->n].start = cp_dec_u128(sh->hash_start);
	l->v[l->n].end = cp_dec_u128(sh->hash_end);
	l->v[l->n++].index = sh->index;
	return 0;
}

static int cp_cmp_open(const void *x, const void *y)
{
	const struct cp_open_shard *a = x, *b = y;

	return a->start < b->start ? -1 : a->start > b->start;
}

/* The open shard (sorted by start) whose range holds h. */
static const struct cp_open_shard *cp_open_at(const struct cp_open_list *l, cp_u128 h)
{
	uint32_t lo = 0, hi = l->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (l->v[mid].start <= h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &l->v[lo - 1] : &l->v[0];
}

/* New shards split the space as CreateStream does. Lineage: a new shard's
 * parent is the old shard holding its StartingHashKey, its adjacent parent
 * the old one holding its EndingHashKey when that differs. (Kinesis goes
 * through intermediate splits and merges; sluice closes every old shard at
 * once, so an old shard lying strictly inside a new one is named by neither
 * field: the routing table's children lists still link it.) */
/* The lineage a closed shard's ChildShards carries is bounded: a closed
 * shard names at most ROUTE_CHILDREN_MAX children, and each child at most
 * ROUTE_PARENTS_MAX parents (dp_msg and the routing table hold fixed arrays).
 * Even steps never come near it (2x up: <= 3 children per shard; 0.5x down:
 * <= 3 parents per child), but after uneven SplitShards one wide shard can
 * overlap every new one. Kinesis gets there through intermediate splits and
 * merges; sluice closes every old shard at once, so such a step is refused
 * rather than answered with ChildShards that leave shards out (a KCL
 * consumer never reads a child it is not told about). Returns 0, or -1 after
 * answering LimitExceededException. */
static int cp_usc_lineage_check(struct cp_req *r, const struct cp_open_list *l,
				uint32_t target)
{
	char start[CP_HASH_CAP], end[CP_HASH_CAP];
	uint32_t n_kids = 0; /* children so far of prev */
	const struct cp_open_shard *prev = NULL; /* the parent holding the last child's end */

	for (uint32_t j = 0; j < target; j++) {
		cp_hash_range(j, target, start, end);
		cp_u128 s = cp_dec_u128(start), e = cp_dec_u128(end);
		const struct cp_open_shard *p = cp_open_at(l, s), *a = cp_open_at(l, e);
		/* p <= a: both sorted by start, s <= e. */
		BUG_ON(a < p);
		uint32_t n_parents = (uint32_t)(a - p) + 1;
		if (n_parents > ROUTE_PARENTS_MAX) {
			/* Not recorded from Kinesis: it never gets here. */
			cp_fail(r, 400, "LimitExceededException", "UpdateShardCount to %u would "
				"give a new shard %u parents, more than the %u ChildShards can "
				"name; even out the open shards with MergeShards first.", target,
				n_parents, (unsigned)ROUTE_PARENTS_MAX);
			return -1;
		}
		/* Children come by ascending start, so each parent's children are
		 * a run: the run of the parent holding s goes on while children
		 * start in it, and is complete once a child ends past it; a parent
		 * strictly inside [s, e] has this child alone. */
		n_kids = p == prev ? n_kids + 1 : 1;
		if (n_kids > ROUTE_CHILDREN_MAX) {
			/* Not recorded from Kinesis: it never gets here. */
			cp_fail(r, 400, "LimitExceededException", "UpdateShardCount to %u would "
				"give shard shardId-%012u more than %u ChildShards; even out the "
				"open shards with SplitShard first.", target, p->index,
				(unsigned)ROUTE_CHILDREN_MAX);
			return -1;
		}
		if (a != p)
			n_kids = 1; /* the first child of a */
		prev = a;
	}
	return 0;
}

static int cp_usc_build(struct cp_req *r, const struct cp_open_list *l, uint32_t target,
			int64_t now, struct cp_shard *kids)
{
	char start[CP_HASH_CAP], end[CP_HASH_CAP], pid[CP_SHARD_ID_CAP], aid[CP_SHARD_ID_CAP];

	if (cp_usc_lineage_check(r, l, target))
		return -1;
	for (uint32_t j = 0; j < target; j++) {
		cp_hash_range(j, target, start, end);
		cp_u128 s = cp_dec_u128(start), e = cp_dec_u128(end);
		const struct cp_open_shard *p = cp_open_at(l, s), *a = cp_open_at(l, e);
		api_shard_id_fmt(p->index, pid);
		api_shard_id_fmt(a->index, aid);
		cp_child(r->s.shard_total + j, s, e, pid, a != p ? aid : NULL, now, &kids[j]);
	}
	return 0;
}

struct cp_usc {
	bool has_target, has_type;
	int64_t target;
	int32_t type_idx;
	char type[64];
};

static int cp_usc_decode(struct cp_req *r, struct cp_usc *q)
{
	struct av *v = &r->v;
	int32_t root = av_root(v);

	/* Kinesis's member order (kinesalite's updateShardCount validations):
	 * ScalingType, StreamName, TargetShardCount. */
	q->has_type = av_get_enum(v, root, "ScalingType", cp_scaling_types, 1, &q->type_idx,
				  q->type, sizeof(q->type));
	r->has_name = av_get_str(v, root, "StreamName", r->name, sizeof(r->name), &r->name_cp);
	q->has_target = av_get_int(v, root, "TargetShardCount", AV_INTEGER, &q->target);
	r->has_arn = av_get_str(v, root, "StreamARN", r->arn, sizeof(r->arn), &r->arn_cp);
	if (!v->ser && !v->bad_json) {
		av_not_null(v, "scalingType", q->has_type);
		if (q->has_type)
			av_enum(v, "scalingType", q->type, q->type_idx, cp_scaling_types, 1);
		if (r->has_name)
			cp_check_name(r, "streamName", r->name, r->name_cp);
		av_not_null(v, "targetShardCount", q->has_target);
		if (q->has_target)
			av_range(v, "targetShardCount", q->target, 1, INT64_MAX);
		cp_check_arn(r);
	}
	if (av_finish(v, &r->err)) {
		cp_reply_err(r->call, &r->err);
		return -1;
	}
	return 0;
}

/* Kinesis's UpdateShardCount limits, in kinesalite's order, then the
 * account's shard limit and the rolling 24-hour count. */
static int cp_usc_limits(struct cp_req *r, uint32_t open, uint32_t target)
{
	uint32_t limit = SL_MIN(r->cp->cfg.shard_limit, CP_UPDATE_SHARD_COUNT_MAX);
	uint64_t account;
	uint32_t recent;

	if (target > limit) {
		cp_fail(r, 400, "LimitExceededException", "Target shard count or number of open "
			"shards cannot be greater than %u. Current open shard count: %u, Target "
			"shard count: %u", limit, open, target);
		return -1;
	}
	if (target > (uint64_t)open * 2) {
		cp_fail(r, 400, "LimitExceededException", "UpdateShardCount cannot scale up over "
			"double your current open shard count. Current open shard count: %u, "
			"Target shard count: %u", open, target);
		return -1;
	}
	if ((uint64_t)target * 2 < open) {
		cp_fail(r, 400, "LimitExceededException", "UpdateShardCount cannot scale down "
			"below half your current open shard count. Current open shard count: %u, "
			"Target shard count: %u", open, target);
		return -1;
	}
	if (cp_account_shards(r, &account))
		return -1;
	if (target > open && account + (target - open) > r->cp->cfg.shard_limit) {
		cp_limit_shards(r, account, target - open);
		return -1;
	}
	if (cp_store_scalings(r->cp->st, r->s.name, sl_wall_ms() - 24 * 3600 * 1000LL,
			      &recent)) {
		cp_internal(r);
		return -1;
	}
	if (recent >= CP_MAX_SCALINGS_PER_DAY) {
		/* Not recorded from Kinesis: the limit is documented, its text is not. */
		cp_fail(r, 400, "LimitExceededException", "UpdateShardCount cannot be called more "
			"than %u times in a rolling 24-hour period for stream %s under account %s.",
			CP_MAX_SCALINGS_PER_DAY, r->s.name, r->cp->account_id);
		return -1;
	}
	return 0;
}

static void cp_usc_reply(struct cp_req *r, uint32_t open, uint32_t target)
{
	struct jw w;

	if (!cp_out_begin(r, &w, 512 + CP_ARN_CAP))
		return;
	jw_obj_begin(&w);
	jw_key(&w, "StreamName");
	jw_str(&w, r->s.name);
	jw_key(&w, "CurrentShardCount");
	jw_i64(&w, open);
	jw_key(&w, "TargetShardCount");
	jw_i64(&w, target);
	jw_key(&w, "StreamARN");
	jw_str(&w, r->s.arn);
	jw_obj_end(&w);
	cp_out_end(r, &w);
}

static int cp_usc_checks(struct cp_req *r, uint32_t target)
{
	if (cp_resolve(r) || cp_require_active(r))
		return -1;
	if (r->s.mode == CP_ON_DEMAND) {
		/* Not recorded from Kinesis: the API is for provisioned streams. */
		cp_fail(r, 400, "InvalidArgumentException", "UpdateShardCount is not supported "
			"for stream %s under account %s in ON_DEMAND mode.", r->s.name,
			r->cp->account_id);
		return -1;
	}
	return cp_usc_limits(r, r->s.shard_count, target);
}

void cp_update_shard_count(struct cp_req *r)
{
	struct cp_usc q = { 0 };
	struct cp_open_list l = { 0 };
	struct cp_shard *kids = NULL;
	uint32_t *parents = NULL;
	int64_t now;

	if (cp_usc_decode(r, &q) || cp_usc_checks(r, (uint32_t)q.target))
		return;
	uint32_t open = r->s.shard_count, target = (uint32_t)q.target;
	if (target == open) {
		cp_usc_reply(r, open, target); /* nothing to do: no reshard */
		return;
	}
	l.cap = open;
	l.v = calloc(open ? open : 1, sizeof(*l.v));
	kids = calloc(target, sizeof(*kids));
	parents = calloc(open ? open : 1, sizeof(*parents));
	if (!l.v || !kids || !parents ||
	    cp_store_shards(r->cp->st, r->s.name, NULL, UINT32_MAX, cp_collect_open, &l) < 0 ||
	    l.n != open || open == 0) {
		cp_internal(r);
		goto out;
	}
	qsort(l.v, l.n, sizeof(*l.v), cp_cmp_open);
	for (uint32_t i = 0; i < l.n; i++)
		parents[i] = l.v[i].index;
	if (cp_reshard_time(r, &now) || cp_usc_build(r, &l, target, now, kids))
		goto out;
	if (cp_apply(r, parents, open, kids, target, now) == 0) {
		if (cp_store_add_scaling(r->cp->st, r->s.name, sl_wall_ms()))
			SL_ERR("meta.db: scaling of %s not recorded", r->s.name);
		cp_usc_reply(r, open, target);
	}
out:
	free(l.v);
	free(kids);
	free(parents);
}

/* --- sealing --- */

struct cp_seal_ctx {
	struct cp *cp;
	uint32_t left; /* seals the hook asked to retry */
};

/* EndingSequenceNumber: the parent's last sequence number from the hook.
 * A parent that never stored a record (-ENOENT, or no hook) ends at its
 * StartingSequenceNumber, st_seq_make(index, 1): Kinesis always reports an
 * ending number >= the starting one, this is the smallest such number, it
 * still names the shard (a valid AT/AFTER_SEQUENCE_NUMBER position), and
 * every child's number is above it (a child's index is higher). */
static int cp_seal_one(void *arg, uint64_t stream_id, const char *name, uint32_t index)
{
	struct cp_seal_ctx *c = arg;
	const struct cp_config *cfg = &c->cp->cfg;
	cp_u128 first = st_seq_make(index, 1), last = 0;
	char dec[CP_HASH_CAP];
	int rc = cfg->seal ? cfg->seal(cfg->seal_arg, stream_id, index, &last) : -ENOENT;

	if (rc == -ENOENT) {
		last = first;
	} else if (rc) {
		SL_INFO("seal of %s shard %u deferred: %d", name, index, rc);
		c->left++;
		return 1; /* keep the order: retry from this one later */
	}
	if (last < first || st_seq_shard(last) != index) {
		SL_ERR("seal of %s shard %u: sequence number of another shard", name, index);
		last = first;
	}
	sl_u128_fmt(last, dec);
	if (cp_store_set_end_seq(c->cp->st, name, index, dec)) {
		c->left++;
		return 1;
	}
	return 0;
}

void cp_seal_pending(struct cp *cp)
{
	struct cp_seal_ctx c = { .cp = cp };

	/* Bounded: 64 shards a round, at most 2000 rounds (UpdateShardCount
	 * closes up to 10000 shards of a stream at once). */
	for (int i = 0; i < 2000; i++) {
		int n = cp_store_unsealed(cp->st, cp_seal_one, &c);
		if (n < 0 || c.left)
			return;
		if (n == 0) {
			cp->seal_pending = false;
			return;
		}
	}
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Enhanced fan-out consumers: RegisterStreamConsumer,
 * DeregisterStreamConsumer, DescribeStreamConsumer, ListStreamConsumers.
 * Consumers live in the table consumers (cp_store.c) with persisted
 * lifecycle deadlines (CREATING -> ACTIVE after create_delay_ms, DELETING ->
 * gone after delete_delay_ms); the ACTIVE ones are published in the routing
 * table for SubscribeToShard. Runs on the control thread only.
 *
 * Messages: the AWS API reference and botocore's model give the types and
 * constraints; kinesalite has no consumers. Texts not recorded from Kinesis
 * are marked where they are made. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"
#include "common/clock.h"
#include "common/hex.h"
#include "common/log.h"
#include "controlplane/cp_internal.h"

/* ConsumerARN pattern of the model (botocore kinesis service-2.json), as
 * Coral prints it. */
#define CP_PAT_CONSUMER_ARN \
	"^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/" \
	"[a-zA-Z0-9_.-]+:[0-9]+"
#define CP_CONSUMER_JSON_MAX 1024u /* one Consumer object, escaped, generous */
#define CP_CONSUMERS_TOKEN_MAX 600u

static bool cp_match_consumer_arn(const char *s, size_t n)
{
	struct av_carn p;

	return av_split_consumer_arn(s, n, &p);
}

/* --- shared decoding: StreamARN, ConsumerName, ConsumerARN --- */

struct cp_cons {
	bool has_cname, has_carn;
	uint32_t cname_cp, carn_cp;
	char cname[CP_STR_CAP];
	char carn[CP_STR_CAP];
	struct cp_consumer c;
};

static void cp_check_cname(struct cp_req *r, const struct cp_cons *k)
{
	if (k->has_cname)
		av_str_member(&r->v, "consumerName", k->cname, k->cname_cp, AV_PAT_NAME,
			      av_match_name, 1, CP_NAME_MAX);
}

/* Members in the model's order; required ones as the operation says. */
static int cp_cons_decode(struct cp_req *r, struct cp_cons *k, bool register_op)
{
	struct av *v = &r->v;
	int32_t root = av_root(v);

	r->has_arn = av_get_str(v, root, "StreamARN", r->arn, sizeof(r->arn), &r->arn_cp);
	k->has_cname = av_get_str(v, root, "ConsumerName", k->cname, sizeof(k->cname),
				  &k->cname_cp);
	if (!register_op)
		k->has_carn = av_get_str(v, root, "ConsumerARN", k->carn, sizeof(k->carn),
					 &k->carn_cp);
	if (!v->ser && !v->bad_json) {
		if (register_op)
			av_not_null(v, "streamARN", r->has_arn);
		cp_check_arn(r);
		if (register_op)
			av_not_null(v, "consumerName", k->has_cname);
		cp_check_cname(r, k);
		if (k->has_carn)
			av_str_member(v, "consumerARN", k->carn, k->carn_cp, CP_PAT_CONSUMER_ARN,
				      cp_match_consumer_arn, 1, 2048);
	}
	if (av_finish(v, &r->err) == 0)
		return 0;
	cp_reply_err(r->call, &r->err);
	return -1;
}

/* Not recorded from Kinesis: our wording, in the style of its stream
 * messages. */
static void cp_cons_not_found(struct cp_req *r, const char *consumer, const char *stream)
{
	cp_fail(r, 400, "ResourceNotFoundException", "Consumer %s under stream %s and account "
		"%s not found.", consumer, stream, r->cp->account_id);
}

/* Finds the consumer (by ConsumerARN, or by StreamARN + ConsumerName) into
 * k->c and its stream into r->s. On error the reply is made, -1. */
static int cp_cons_find(struct cp_req *r, struct cp_cons *k)
{
	int rc;

	if (k->has_carn) {
		struct av_carn p;
		char stream[CP_NAME_MAX + 1], consumer[CP_NAME_MAX + 1];
		/* Validated when decoded; the split fills p, so it stays out of
		 * the assertion. */
		bool split = av_split_consumer_arn(k->carn, strlen(k->carn), &p);
		BUG_ON(!split);
		snprintf(stream, sizeof(stream), "%.*s", (int)(p.stream_end - p.stream),
			 k->carn + p.stream);
		snprintf(consumer, sizeof(consumer), "%.*s", (int)(p.consumer_end - p.consumer),
			 k->carn + p.consumer);
		rc = cp_store_consumer_get(r->cp->st, NULL, k->carn, &k->c);
		if (rc == 0)
			rc = cp_store_get(r->cp->st, k->c.stream, &r->s);
		if (rc == -ENOENT)
			cp_cons_not_found(r, consumer, stream);
		else if (rc)
			cp_internal(r);
		return rc ? -1 : 0;
	}
	if (!r->has_arn || !k->has_cname) {
		/* Not recorded from Kinesis (kinesis-mock's wording). */
		cp_fail(r, 400, "InvalidArgumentException", "%s", "ConsumerArn or both "
			"ConsumerName and StreamARN are required for this request.");
		return -1;
	}
	if (cp_resolve(r))
		return -1;
	rc = cp_store_consumer_get(r->cp->st, r->s.name, k->cname, &k->c);
	if (rc == -ENOENT)
		cp_cons_not_found(r, k->cname, r->s.name);
	else if (rc)
		cp_internal(r);
	return rc ? -1 : 0;
}

static void cp_write_consumer(struct jw *w, const struct cp_consumer *c)
{
	jw_key(w, "ConsumerName");
	jw_str(w, c->name);
	jw_key(w, "ConsumerARN");
	jw_str(w, c->arn);
	jw_key(w, "ConsumerStatus");
	jw_str(w, cp_status_name(c->status));
	jw_key(w, "ConsumerCreationTimestamp");
	jw_epoch_ms(w, c->created_ms);
}

/* --- RegisterStreamConsumer --- */

static int cp_register_checks(struct cp_req *r, const struct cp_cons *k)
{
	uint32_t total, creating;
	struct cp_consumer old;
	int rc;

	/* Consumers can be registered while the stream is UPDATING. */
	if (r->s.status == CP_CREATING || r->s.status == CP_DELETING)
		return cp_require_active(r);
	rc = cp_store_consumer_get(r->cp->st, r->s.name, k->cname, &old);
	if (rc == 0) {
		/* Not recorded from Kinesis: our wording. */
		cp_fail(r, 400, "ResourceInUseException", "Consumer %s under stream %s already "
			"exists for account %s.", k->cname, r->s.name, r->cp->account_id);
		return -1;
	}
	if (rc != -ENOENT || cp_store_consumer_counts(r->cp->st, r->s.name, &total, &creating)) {
		cp_internal(r);
		return -1;
	}
	/* Documented limits (API reference); texts are kinesis-mock's. */
	if (total >= CP_CONSUMERS_PER_STREAM) {
		cp_fail(r, 400, "LimitExceededException", "%s",
			"Only 20 consumers can be registered to a stream at once");
		return -1;
	}
	if (creating >= CP_CONSUMERS_CREATING_MAX) {
		cp_fail(r, 400, "LimitExceededException", "%s",
			"Only 5 consumers can be created at the same time");
		return -1;
	}
	return 0;
}

void cp_register_consumer(struct cp_req *r)
{
	struct cp_cons *k = calloc(1, sizeof(*k));
	uint32_t delay = r->cp->cfg.create_delay_ms;
	int64_t now = sl_wall_ms();
	struct cp_consumer *c;
	struct jw w;
	int rc;

	if (k == NULL) {
		cp_internal(r);
		return;
	}
	if (cp_cons_decode(r, k, true) || cp_resolve(r) || cp_register_checks(r, k))
		goto out;
	c = &k->c;
	snprintf(c->stream, sizeof(c->stream), "%s", r->s.name);
	snprintf(c->name, sizeof(c->name), "%.*s", CP_NAME_MAX, k->cname);
	snprintf(c->arn, sizeof(c->arn), "%s/consumer/%s:%lld", r->s.arn, c->name,
		 (long long)(now / 1000));
	c->created_ms = now;
	c->status = delay ? CP_CREATING : CP_ACTIVE;
	c->deadline_ms = delay ? now + delay : 0;
	rc = cp_store_consumer_add(r->cp->st, c);
	if (rc) {
		cp_internal(r);
		goto out;
	}
	if (!cp_out_begin(r, &w, 64 + CP_CONSUMER_JSON_MAX))
		goto out;
	jw_obj_begin(&w);
	jw_key(&w, "Consumer");
	jw_obj_begin(&w);
	cp_write_consumer(&w, c);
	jw_obj_end(&w);
	jw_obj_end(&w);
	cp_out_end(r, &w);
out:
	free(k);
}

/* --- DeregisterStreamConsumer / DescribeStreamConsumer --- */

void cp_deregister_consumer(struct cp_req *r)
{
	struct cp_cons *k = calloc(1, sizeof(*k));
	uint32_t delay = r->cp->cfg.delete_delay_ms;
	int rc = 0;

	if (k == NULL) {
		cp_internal(r);
		return;
	}
	if (cp_cons_decode(r, k, false) || cp_cons_find(r, k))
		goto out;
	/* Deregistering a DELETING consumer again keeps its deadline. */
	if (k->c.status != CP_DELETING)
		rc = delay ? cp_store_consumer_set_status(r->cp->st, k->c.stream, k->c.name,
							  CP_DELETING, sl_wall_ms() + delay)
			   : cp_store_consumer_remove(r->cp->st, k->c.stream, k->c.name);
	if (rc)
		cp_internal(r);
	else
		cp_ok_empty(r);
out:
	free(k);
}

void cp_describe_consumer(struct cp_req *r)
{
	struct cp_cons *k = calloc(1, sizeof(*k));
	struct jw w;

	if (k == NULL) {
		cp_internal(r);
		return;
	}
	if (cp_cons_decode(r, k, false) || cp_cons_find(r, k) ||
	    !cp_out_begin(r, &w, 64 + CP_CONSUMER_JSON_MAX + 2 * CP_ARN_CAP))
		goto out;
	jw_obj_begin(&w);
	jw_key(&w, "ConsumerDescription");
	jw_obj_begin(&w);
	cp_write_consumer(&w, &k->c);
	jw_key(&w, "StreamARN");
	jw_str(&w, r->s.arn);
	jw_obj_end(&w);
	jw_obj_end(&w);
	cp_out_end(r, &w);
out:
	free(k);
}

/* --- ListStreamConsumers --- */

struct cp_lc {
	bool has_token, has_max, has_ts;
	int64_t max, ts_ms;
	uint32_t token_cp;
	char token[CP_STR_CAP];
	char after[CP_NAME_MAX + 1];
	int64_t token_created_ms; /* -1: no token */
};

static int cp_lc_decode(struct cp_req *r, struct cp_lc *l)
{
	struct av *v = &r->v;
	int32_t root = av_root(v);

	r->has_arn = av_get_str(v, root, "StreamARN", r->arn, sizeof(r->arn), &r->arn_cp);
	l->has_token = av_get_str(v, root, "NextToken", l->token, sizeof(l->token), &l->token_cp);
	l->has_max = av_get_int(v, root, "MaxResults", AV_INTEGER, &l->max);
	l->has_ts = av_get_time_ms(v, root, "StreamCreationTimestamp", &l->ts_ms);
	if (!v->ser && !v->bad_json) {
		av_not_null(v, "streamARN", r->has_arn);
		cp_check_arn(r);
		if (l->has_token)
			av_len(v, "nextToken", l->token, l->token_cp, 1, 1048576);
		if (l->has_max)
			av_range(v, "maxResults", l->max, 1, 10000);
	}
	if (av_finish(v, &r->err) == 0)
		return 0;
	cp_reply_err(r->call, &r->err);
	return -1;
}

/* NextToken: hex of "created_ms/last name/max results": opaque, bounded,
 * tied to one incarnation of the stream. */
static int cp_lc_token(struct cp_req *r, struct cp_lc *l)
{
	char plain[CP_CONSUMERS_TOKEN_MAX], *p1, *p2, *end;
	size_t n = strlen(l->token);

	l->token_created_ms = -1;
	if (!l->has_token)
		return 0;
	if (l->token_cp > CP_CONSUMERS_TOKEN_MAX ||
	    sl_hex_decode(plain, sizeof(plain), l->token, n) < 0)
		goto bad;
	p1 = strchr(plain, '/');
	p2 = p1 ? strchr(p1 + 1, '/') : NULL;
	if (p2 == NULL || p2 - p1 - 1 > CP_NAME_MAX ||
	    !av_match_name(p1 + 1, (size_t)(p2 - p1 - 1)))
		goto bad;
	*p2 = '\0';
	l->token_created_ms = strtoll(plain, NULL, 10);
	snprintf(l->after, sizeof(l->after), "%s", p1 + 1);
	int64_t max = strtoll(p2 + 1, &end, 10);
	if (*end != '\0' || max < 1 || max > 10000)
		goto bad;
	if (!l->has_max) {
		l->max = max;
		l->has_max = true;
	}
	return 0;
bad:
	cp_fail(r, 400, "InvalidArgumentException", "%s", "Invalid NextToken.");
	return -1;
}

struct cp_lc_out {
	struct jw *w;
	uint32_t limit, n;
	char last[CP_NAME_MAX + 1];
};

static int cp_lc_cb(void *arg, const struct cp_consumer *c)
{
	struct cp_lc_out *o = arg;

	if (o->n++ >= o->limit)
		return 1; /* the extra row only says "more" */
	snprintf(o->last, sizeof(o->last), "%s", c->name);
	jw_obj_begin(o->w);
	cp_write_consumer(o->w, c);
	jw_obj_end(o->w);
	return 0;
}

static void cp_lc_write_token(struct jw *w, const struct cp_stream *s, const char *last,
			      uint32_t max)
{
	static const char d[] = "0123456789abcdef";
	char plain[CP_NAME_MAX + 48], hex[2 * sizeof(plain) + 1];
	int n = snprintf(plain, sizeof(plain), "%lld/%s/%u", (long long)s->created_ms, last, max);

	for (int i = 0; i < n; i++) {
		hex[2 * i] = d[(uint8_t)plain[i] >> 4];
		hex[2 * i + 1] = d[(uint8_t)plain[i] & 0xf];
	}
	hex[2 * n] = '\0';
	jw_key(w, "NextToken");
	jw_str(w, hex);
}

void cp_list_consumers(struct cp_req *r)
{
	struct cp_lc *l = calloc(1, sizeof(*l));
	struct jw w;

	if (l == NULL) {
		cp_internal(r);
		return;
	}
	if (cp_lc_decode(r, l) || cp_lc_token(r, l) || cp_resolve(r))
		goto out;
	if (l->token_created_ms >= 0 && l->token_created_ms != r->s.created_ms) {
		cp_fail(r, 400, "ExpiredNextTokenException", "%s", "The NextToken has expired.");
		goto out;
	}
	/* At most CP_CONSUMERS_PER_STREAM rows exist: size for what can come. */
	uint32_t max = l->has_max ? (uint32_t)l->max : 100;
	uint32_t rows = SL_MIN(max, CP_CONSUMERS_PER_STREAM + 1);
	if (!cp_out_begin(r, &w, 640 + (size_t)rows * CP_CONSUMER_JSON_MAX))
		goto out;
	struct cp_lc_out o = { .w = &w, .limit = max };
	jw_obj_begin(&w);
	jw_key(&w, "Consumers");
	jw_arr_begin(&w);
	if (cp_store_consumers(r->cp->st, r->s.name, l->after[0] ? l->after : NULL, rows + 1,
			       cp_lc_cb, &o) < 0) {
		free(w.buf);
		cp_internal(r);
		goto out;
	}
	jw_arr_end(&w);
	if (o.n > o.limit)
		cp_lc_write_token(&w, &r->s, o.last, max);
	jw_obj_end(&w);
	cp_out_end(r, &w);
out:
	free(l);
}

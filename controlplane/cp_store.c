/* SPDX-License-Identifier: Apache-2.0 */
/* The metadata store's shared layer (cp_store.h): opening through a
 * backend's ops table, and the lifecycle policy - what a due deadline turns
 * into - which is the same whatever keeps the records. Control thread
 * only. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/bug.h"
#include "common/log.h"
#include "controlplane/cp_internal.h"

/* Every call of struct cp_store_ops. A backend that leaves one NULL
 * crashes at its first use, maybe hours in (a lifecycle tick): the table is
 * checked whole at open instead. The static assertion below makes a member
 * added to the struct but not here a build error. */
#define CP_STORE_CALLS(X)                                                                     \
	X(open) X(close) X(stream_get) X(stream_create) X(stream_set_status)                  \
	X(stream_set_retention) X(stream_set_field) X(stream_remove) X(stream_totals)         \
	X(stream_on_demand_count) X(stream_list) X(next_deadline) X(due) X(shard_list)       \
	X(shard_get) X(reshard) X(shard_last_created) X(shard_set_end_seq)                   \
	X(shard_unsealed) X(scaling_count) X(scaling_add) X(tag_list) X(tag_put) X(tag_del)  \
	X(key_get) X(key_set) X(consumer_add) X(consumer_get) X(consumer_set_status)         \
	X(consumer_remove) X(consumer_all_deleting) X(consumer_counts) X(consumer_list)      \
	X(consumer_route_list) X(stream_set_encryption) X(policy_put) X(policy_get)          \
	X(policy_delete) X(policy_list) X(channel_add) X(channel_get) X(channel_update)      \
	X(channel_remove) X(channel_count) X(channel_list) X(channel_due)

#define CP_STORE_CALL_COUNT(m) +1
_Static_assert(sizeof(struct cp_store_ops) ==
		       offsetof(struct cp_store_ops, open) +
			       (0 CP_STORE_CALLS(CP_STORE_CALL_COUNT)) * sizeof(void (*)(void)),
	       "struct cp_store_ops has a call CP_STORE_CALLS does not list");

const char *cp_store_ops_missing(const struct cp_store_ops *ops)
{
#define CP_STORE_CALL_CHECK(m)  \
	if (ops->m == NULL)     \
		return #m;
	CP_STORE_CALLS(CP_STORE_CALL_CHECK)
#undef CP_STORE_CALL_CHECK
	return NULL;
}

void cp_store_ops_check(const struct cp_store_ops *ops)
{
	const char *m = cp_store_ops_missing(ops);

	if (m != NULL)
		SL_ERR("cp_store: the %s backend has no %s call", ops->name, m);
	BUG_ON(m != NULL);
}

struct cp_store *cp_store_open(const struct cp_store_ops *ops, const char *dir)
{
	struct cp_store *st;

	BUG_ON(ops == NULL);
	cp_store_ops_check(ops);
	st = ops->open(dir);
	if (st == NULL)
		return NULL;
	/* A backend that forgot to set its table would send every call to
	 * NULL: catch it here, once. */
	BUG_ON(st->ops != ops);
	return st;
}

void cp_store_close(struct cp_store *st)
{
	if (st != NULL)
		st->ops->close(st);
}

struct cp_due_run {
	struct cp_store *st;
	int done;
};

/* CREATING and UPDATING settle to ACTIVE; DELETING ends in removal. The
 * same for streams (stream == NULL) and consumers. */
static int cp_due_apply(void *arg, const char *stream, const char *name, uint8_t status)
{
	struct cp_due_run *d = arg;
	int rc;

	if (stream == NULL)
		rc = status == CP_DELETING ? cp_store_remove(d->st, name)
					   : cp_store_set_status(d->st, name, CP_ACTIVE, 0);
	else
		rc = status == CP_DELETING
			     ? cp_store_consumer_remove(d->st, stream, name)
			     : cp_store_consumer_set_status(d->st, stream, name, CP_ACTIVE, 0);
	if (rc == 0)
		d->done++;
	else if (stream == NULL)
		SL_ERR("meta.db: lifecycle transition of %s failed: %d", name, rc);
	else
		SL_ERR("meta.db: consumer %s/%s transition failed: %d", stream, name, rc);
	return 0; /* one failure does not hold up the others */
}

/* Channels settle the same way; read whole, since the update writes the
 * mutable fields together. */
static int cp_due_channel(void *arg, const char *arn, uint8_t status)
{
	struct cp_due_run *d = arg;
	struct cp_channel *c;
	int rc;

	if (status == CP_DELETING) {
		rc = cp_store_channel_remove(d->st, arn);
	} else if ((c = malloc(sizeof(*c))) == NULL) {
		rc = -ENOMEM;
	} else {
		rc = cp_store_channel_get(d->st, arn, NULL, c);
		if (rc == 0) {
			c->status = CP_ACTIVE;
			c->deadline_ms = 0;
			rc = cp_store_channel_update(d->st, c);
		}
		free(c);
	}
	if (rc == 0)
		d->done++;
	else
		SL_ERR("meta.db: channel %s transition failed: %d", arn, rc);
	return 0;
}

int cp_store_run_due(struct cp_store *st, int64_t now_ms)
{
	struct cp_due_run d = { .st = st, .done = 0 };
	int rc = st->ops->due(st, now_ms, cp_due_apply, &d);

	if (rc >= 0)
		rc = st->ops->channel_due(st, now_ms, cp_due_channel, &d);
	return rc < 0 ? rc : d.done;
}

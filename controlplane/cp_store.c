/* SPDX-License-Identifier: Apache-2.0 */
/* The metadata store's shared layer (cp_store.h): opening through a
 * backend's ops table, and the lifecycle policy - what a due deadline turns
 * into - which is the same whatever keeps the records. Control thread
 * only. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/bug.h"
#include "common/log.h"
#include "controlplane/cp_internal.h"

struct cp_store *cp_store_open(const struct cp_store_ops *ops, const char *dir)
{
	struct cp_store *st;

	BUG_ON(ops == NULL || ops->open == NULL);
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

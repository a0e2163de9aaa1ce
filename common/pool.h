/* SPDX-License-Identifier: Apache-2.0 */
/* A per-lcore pool of fixed-size objects: an intrusive LIFO free list, no
 * atomics (one owner thread), with a hard bound on how many objects exist.
 *
 * Objects are made on first use (one malloc each) and then reused, so a
 * request path that takes and returns an object per request stops calling
 * malloc once the working set is reached; the bound (n_max) caps how many can be out at once, and n_keep caps how many idle
 * ones a burst can leave behind. Allocation is lazy, not all at
 * start-up, because the worst case (the bound) is far above what most
 * deployments ever have in flight, and memory held for it would be idle.
 *
 * Each object is its own malloc block, so an owner may hand one to code that
 * frees or reallocs it (sl_pool_forget then says the pool lost it): see the
 * GetRecords response buffers in dataplane/ops/ops_data.c.
 *
 * Fast path (get/put) inline; create/destroy in pool.c. */
#ifndef SL_COMMON_POOL_H
#define SL_COMMON_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"

struct sl_pool_obj {
	struct sl_pool_obj *next;
};

struct sl_pool {
	struct sl_pool_obj *free_head;
	uint32_t obj_bytes; /* every object's size (>= a pointer) */
	uint32_t n_max;	    /* objects that may exist at once (free + in use) */
	uint32_t n_live;    /* objects existing now */
	uint32_t n_free;    /* of those, on the free list */
	uint32_t n_keep;    /* free-list length past which put frees */
	/* Stats: objects made (malloc calls) and gets refused at the bound. */
	uint64_t n_made, n_exhausted;
	const char *name;   /* for logs */
};

/* Sets up an empty pool of objects of obj_bytes (>= sizeof(void *)) bytes,
 * at most n_max of them (>= 1) existing at once, at most n_keep (<= n_max)
 * of them kept idle. Never allocates. Returns 0 or -EINVAL. */
SL_MUST_CHECK int sl_pool_init(struct sl_pool *p, const char *name, uint32_t obj_bytes,
			       uint32_t n_max, uint32_t n_keep);
/* Frees every object on the free list; the pool is empty and unusable until
 * sl_pool_init. Returns how many objects were still out: they are not
 * freed (their holders may still write to them, e.g. a message to a log
 * lcore that stopped before answering); at shutdown that is a leak the
 * caller may log, anywhere else a bug. */
uint32_t sl_pool_fini(struct sl_pool *p);

/* An object (contents undefined), or NULL when n_max objects are out
 * (exhausted: the caller answers with back-pressure or a 503) or malloc
 * failed. */
static inline void *sl_pool_get(struct sl_pool *p)
{
	struct sl_pool_obj *o = p->free_head;

	if (SL_LIKELY(o != NULL)) {
		p->free_head = o->next;
		p->n_free--;
		return o;
	}
	if (p->n_live >= p->n_max) {
		p->n_exhausted++;
		return NULL;
	}
	o = malloc(p->obj_bytes);
	if (!o)
		return NULL;
	p->n_live++;
	p->n_made++;
	return o;
}

/* Zeroed object, or NULL as sl_pool_get. */
static inline void *sl_pool_zget(struct sl_pool *p)
{
	void *o = sl_pool_get(p);

	if (o)
		memset(o, 0, p->obj_bytes);
	return o;
}

/* Returns an object got from p (NULL is a no-op); past n_keep idle ones it
 * is freed. */
static inline void sl_pool_put(struct sl_pool *p, void *obj)
{
	struct sl_pool_obj *o = obj;

	if (!o)
		return;
	DBG_BUG_ON(p->n_free >= p->n_live);
	if (p->n_free >= p->n_keep) {
		free(o);
		p->n_live--;
		return;
	}
	o->next = p->free_head;
	p->free_head = o;
	p->n_free++;
}

/* An object got from p was freed (or reallocated) by its user and will not
 * come back: p may make a new one in its place. */
static inline void sl_pool_forget(struct sl_pool *p)
{
	BUG_ON(p->n_live == p->n_free); /* nothing was out */
	p->n_live--;
}

/* Objects out (got, not yet put back or forgotten). */
static inline uint32_t sl_pool_in_use(const struct sl_pool *p)
{
	return p->n_live - p->n_free;
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Slow path of common/pool.h: set-up and tear-down. */
#include "common/pool.h"

#include <errno.h>

int sl_pool_init(struct sl_pool *p, const char *name, uint32_t obj_bytes, uint32_t n_max,
		 uint32_t n_keep)
{
	if (obj_bytes < sizeof(struct sl_pool_obj) || n_max == 0 || n_keep > n_max)
		return -EINVAL;
	*p = (struct sl_pool){ .obj_bytes = obj_bytes, .n_max = n_max, .n_keep = n_keep,
			       .name = name };
	return 0;
}

uint32_t sl_pool_fini(struct sl_pool *p)
{
	uint32_t n = 0, out;

	while (p->free_head) {
		struct sl_pool_obj *o = p->free_head;

		p->free_head = o->next;
		free(o);
		n++;
	}
	BUG_ON(n != p->n_free);
	out = p->n_live - p->n_free;
	*p = (struct sl_pool){ 0 };
	return out;
}

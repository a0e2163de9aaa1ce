/* SPDX-License-Identifier: Apache-2.0 */
/* Set-up and tear-down of the io lcore's request pools (see pools.h). */
#include "dataplane/core/pools.h"

#include "common/log.h"
#include "common/pool.h"
#include "dataplane/core/core.h"

int lcore_pools_init(struct lcore_ctx *lc)
{
	int rc;

	/* A connection holds at most one dp_req: max_conns can never run out. */
	rc = sl_pool_init(&lc->dp_pool, "dp_req", ops_dp_req_bytes(), lc->max_conns,
			  SL_MIN(LCORE_POOL_KEEP, lc->max_conns));
	if (rc == 0)
		rc = sl_pool_init(&lc->get_pool, "get_buf", LCORE_GET_BUF_BYTES,
				  LCORE_GET_BUFS_MAX, LCORE_POOL_KEEP);
	if (rc == 0)
		rc = sl_pool_init(&lc->h2_pool, "h2_stream", http_h2_stream_bytes(),
				  LCORE_H2_STREAMS_MAX, LCORE_POOL_KEEP);
	return rc;
}

void lcore_pools_fini(struct lcore_ctx *lc)
{
	struct sl_pool *pools[] = { &lc->dp_pool, &lc->get_pool, &lc->h2_pool };

	for (size_t i = 0; i < SL_ARRAY_SIZE(pools); i++) {
		const char *name = pools[i]->name;
		uint64_t exhausted = pools[i]->n_exhausted;
		uint32_t out = sl_pool_fini(pools[i]);

		if (out)
			SL_WARN("pool %s: %u objects still out at shutdown", name, out);
		if (exhausted)
			SL_INFO("pool %s: %llu requests refused at its bound", name,
				(unsigned long long)exhausted);
	}
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Private to dataplane/net/dpdk: the structures behind struct dpk and
 * struct dpk_lcore. */
#ifndef SL_DATAPLANE_NET_DPDK_INTERNAL_H
#define SL_DATAPLANE_NET_DPDK_INTERNAL_H

#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_spinlock.h>

#include "dataplane/net/dpdk/dpdk.h"

#define DPK_MAX_SOCKETS 8	/* NUMA nodes with a port (pool per node) */
#define DPK_ETH_HLEN 14
#define DPK_RSS_KEY_MAX 52	/* i40e's key; most NICs use 40 bytes */

struct dpk_port {
	struct dpk_port_info info;
	uint16_t port_id;
	struct rte_mempool *pool; /* on info.numa_node */
	/* With fewer TX queues than lcores, lcores share queue idx % n_txq:
	 * the lock orders their bursts on it (af_packet with one qpair). */
	bool tx_shared;
	rte_spinlock_t tx_lock[DPK_MAX_LCORES];
};

struct dpk_lcore {
	struct dpk *d;
	uint16_t idx;
	/* Frames other lcores dispatched to this one (MP/SC): software dispatch
	 * and broadcast replicas. NULL with a single lcore. */
	struct rte_ring *ring;
	const struct dpk_fault *fault;
	uint16_t n_stage[DPK_MAX_PORTS];
	struct rte_mbuf *stage[DPK_MAX_PORTS][DPK_TX_STAGE];
	struct dpk_lcore_stats st;
} __rte_cache_aligned;

struct dpk {
	struct dpk_conf conf;
	uint16_t n_ports;
	struct dpk_port ports[DPK_MAX_PORTS];
	struct rte_mempool *pools[DPK_MAX_SOCKETS];
	struct dpk_lcore *lcores; /* [conf.n_lcores], cache aligned */
};

/* dpdk_rxtx.c: a frame view of an mbuf (flags as dpk_rx_burst sets them). */
void dpk_frame_from_mbuf(const struct dpk_lcore *lc, struct rte_mbuf *m, struct dpk_frame *f);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Port set-up: capability detection, queues, pools, RSS, link.
 *
 * Queue plan per port, for n io lcores:
 *  - RSS with the symmetric key when the port offers IPv4/TCP RSS, at least n
 *    RX queues, a 40..52-byte key and a power-of-two RETA of >= 128 entries:
 *    n RX queues, RETA[i] = (i % 128) % n, so the NIC's queue for a flow is
 *    dpk_flow_owner(dpk_flow_hash(...)) and the stack can compute it.
 *  - otherwise (af_packet, af_xdp, tap): min(n, max_rx_queues) RX queues,
 *    read by lcores 0..n_rxq-1, which re-dispatch every frame to its owner
 *    over rte_rings (the queue a frame arrives on, e.g. by af_packet fanout,
 *    means nothing to us).
 * TX: min(n, max_tx_queues) queues; lcore i uses queue i % n_txq, under a
 * per-queue spinlock when queues are shared. */
#include <errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mempool.h>
#include <stdio.h>
#include <string.h>

#include "common/bug.h"
#include "common/config.h"
#include "common/log.h"
#include "dataplane/net/dpdk/dpdk_internal.h"

/* One tx queue and tx lock per io lcore (dpk.tx_lock[]). */
static_assert(SL_IO_CORES_MAX <= DPK_MAX_LCORES, "--io-cores above the DPDK queue arrays");

#define DPK_RSS_HF                                                            \
	(RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_FRAG_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP |  \
	 RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_NONFRAG_IPV4_OTHER)
#define DPK_TX_CSUM                                                           \
	(RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM |        \
	 RTE_ETH_TX_OFFLOAD_UDP_CKSUM)
#define DPK_RX_CSUM                                                           \
	(RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM |        \
	 RTE_ETH_RX_OFFLOAD_UDP_CKSUM)
#define DPK_POOL_CACHE 256

/* 0x6d5a repeated: the symmetric Toeplitz key dpk_flow_hash() assumes. */
static uint8_t sym_key[DPK_RSS_KEY_MAX];

static bool rss_usable(const struct rte_eth_dev_info *di, uint16_t n_lcores)
{
	uint64_t need = RTE_ETH_RSS_NONFRAG_IPV4_TCP;
	return n_lcores > 1 && di->max_rx_queues >= n_lcores &&
	       (di->flow_type_rss_offloads & need) == need && di->hash_key_size >= 40 &&
	       di->hash_key_size <= DPK_RSS_KEY_MAX && di->reta_size >= DPK_RETA_SIZE &&
	       rte_is_power_of_2(di->reta_size);
}

/* Decides the port's plan from its capabilities (no device change yet). */
static int port_probe(struct dpk *d, struct dpk_port *p, uint16_t port_id)
{
	struct rte_eth_dev_info di;
	struct dpk_port_info *in = &p->info;
	uint16_t n = d->conf.n_lcores;
	int rc = rte_eth_dev_info_get(port_id, &di);
	if (rc)
		return rc;
	p->port_id = port_id;
	in->port_id = port_id;
	rte_eth_dev_get_name_by_port(port_id, in->name);
	snprintf(in->driver, sizeof(in->driver), "%s", di.driver_name ? di.driver_name : "?");
	int sock = rte_eth_dev_socket_id(port_id);
	in->numa_node = sock < 0 ? 0 : sock; /* vdevs report SOCKET_ID_ANY */
	if (in->numa_node >= DPK_MAX_SOCKETS)
		return -ERANGE;
	in->hw_rss = !d->conf.force_sw_dispatch && rss_usable(&di, n);
	in->n_rxq = in->hw_rss ? n : (uint16_t)RTE_MIN(n, di.max_rx_queues);
	in->n_txq = (uint16_t)RTE_MIN(n, di.max_tx_queues);
	if (!in->n_rxq || !in->n_txq)
		return -ENOTSUP;
	in->sw_dispatch = !in->hw_rss && n > 1;
	in->tx_ip_csum = di.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
	in->tx_l4_csum = (di.tx_offload_capa & (RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
						RTE_ETH_TX_OFFLOAD_UDP_CKSUM)) ==
			 (RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM);
	in->rx_csum = (di.rx_offload_capa & DPK_RX_CSUM) == DPK_RX_CSUM;
	p->tx_shared = in->n_txq < n;
	for (uint16_t i = 0; i < DPK_MAX_LCORES; i++)
		rte_spinlock_init(&p->tx_lock[i]);
	return 0;
}

/* One pool per NUMA node holding a port: every descriptor of its ports'
 * queues, plus per lcore a dispatch ring, a TX stage, two bursts and a
 * mempool cache, plus slack for frames the stack holds (reassembly, fault
 * stage). */
static int pools_create(struct dpk *d)
{
	uint64_t need[DPK_MAX_SOCKETS] = { 0 };
	uint16_t n = d->conf.n_lcores;
	for (uint16_t i = 0; i < d->n_ports; i++) {
		const struct dpk_port_info *in = &d->ports[i].info;
		need[in->numa_node] += (uint64_t)in->n_rxq * d->conf.rx_desc +
				       (uint64_t)in->n_txq * d->conf.tx_desc;
		need[in->numa_node] += (uint64_t)n * (d->conf.ring_size + DPK_TX_STAGE +
						      2 * DPK_BURST_MAX + DPK_POOL_CACHE);
	}
	for (int s = 0; s < DPK_MAX_SOCKETS; s++) {
		if (!need[s])
			continue;
		uint64_t count = rte_align64pow2(need[s] + 1024) - 1;
		char name[RTE_MEMPOOL_NAMESIZE];
		snprintf(name, sizeof(name), "dpk_pool_s%d", s);
		d->pools[s] = rte_pktmbuf_pool_create(name, (uint32_t)count, DPK_POOL_CACHE, 0,
						      RTE_MBUF_DEFAULT_BUF_SIZE, s);
		if (!d->pools[s]) {
			SL_ERR("dpdk: mbuf pool of %llu on node %d: %s",
			       (unsigned long long)count, s, rte_strerror(rte_errno));
			return -ENOMEM;
		}
	}
	for (uint16_t i = 0; i < d->n_ports; i++)
		d->ports[i].pool = d->pools[d->ports[i].info.numa_node];
	return 0;
}

static void eth_conf_fill(const struct dpk_port *p, const struct rte_eth_dev_info *di,
			  struct rte_eth_conf *ec)
{
	memset(ec, 0, sizeof(*ec));
	if (p->info.hw_rss) {
		ec->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		ec->rx_adv_conf.rss_conf.rss_key = sym_key;
		ec->rx_adv_conf.rss_conf.rss_key_len = di->hash_key_size;
		ec->rx_adv_conf.rss_conf.rss_hf = DPK_RSS_HF & di->flow_type_rss_offloads;
		ec->rxmode.offloads |= di->rx_offload_capa & RTE_ETH_RX_OFFLOAD_RSS_HASH;
	}
	ec->rxmode.offloads |= di->rx_offload_capa & DPK_RX_CSUM;
	ec->txmode.offloads = di->tx_offload_capa & DPK_TX_CSUM;
}

static int reta_program(struct dpk_port *p, uint16_t reta_size, uint16_t n)
{
	struct rte_eth_rss_reta_entry64 reta[512 / RTE_ETH_RETA_GROUP_SIZE];
	if (reta_size > 512)
		return -ENOTSUP;
	memset(reta, 0, sizeof(reta));
	for (uint16_t i = 0; i < reta_size; i++) {
		struct rte_eth_rss_reta_entry64 *g = &reta[i / RTE_ETH_RETA_GROUP_SIZE];
		g->mask |= 1ull << (i % RTE_ETH_RETA_GROUP_SIZE);
		g->reta[i % RTE_ETH_RETA_GROUP_SIZE] = dpk_flow_owner(i, n);
	}
	return rte_eth_dev_rss_reta_update(p->port_id, reta, reta_size);
}

static int queues_setup(struct dpk *d, struct dpk_port *p)
{
	uint16_t rxd = d->conf.rx_desc, txd = d->conf.tx_desc;
	int rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &rxd, &txd);
	if (rc)
		return rc;
	int sock = p->info.numa_node;
	for (uint16_t q = 0; q < p->info.n_rxq && !rc; q++)
		rc = rte_eth_rx_queue_setup(p->port_id, q, rxd, (unsigned)sock, NULL, p->pool);
	for (uint16_t q = 0; q < p->info.n_txq && !rc; q++)
		rc = rte_eth_tx_queue_setup(p->port_id, q, txd, (unsigned)sock, NULL);
	return rc;
}

static int port_start(struct dpk *d, struct dpk_port *p)
{
	struct rte_eth_dev_info di;
	struct rte_eth_conf ec;
	int rc = rte_eth_dev_info_get(p->port_id, &di);
	if (rc)
		return rc;
	eth_conf_fill(p, &di, &ec);
	rc = rte_eth_dev_configure(p->port_id, p->info.n_rxq, p->info.n_txq, &ec);
	if (rc) {
		SL_ERR("dpdk: configure %s: %s", p->info.name, rte_strerror(-rc));
		return rc;
	}
	rc = queues_setup(d, p);
	if (rc) {
		SL_ERR("dpdk: queues of %s: %s", p->info.name, rte_strerror(-rc));
		return rc;
	}
	rc = rte_eth_dev_start(p->port_id);
	if (rc) {
		SL_ERR("dpdk: start %s: %s", p->info.name, rte_strerror(-rc));
		return rc;
	}
	if (p->info.hw_rss && reta_program(p, di.reta_size, d->conf.n_lcores)) {
		/* Without our RETA the NIC's queue would not be the owner. */
		SL_WARN("dpdk: %s: RETA update refused, dispatching in software",
			p->info.name);
		p->info.hw_rss = false;
		p->info.sw_dispatch = true;
	}
	struct rte_ether_addr mac;
	rte_eth_macaddr_get(p->port_id, &mac);
	memcpy(p->info.mac, mac.addr_bytes, 6);
	rte_eth_dev_get_mtu(p->port_id, &p->info.mtu);
	SL_INFO("dpdk: %s (%s) node %d: %u rxq %u txq, %s, tx csum ip %d l4 %d, rx csum %d",
		p->info.name, p->info.driver, p->info.numa_node, p->info.n_rxq, p->info.n_txq,
		p->info.hw_rss ? "symmetric RSS" : p->info.sw_dispatch ? "software dispatch" :
		"one lcore", p->info.tx_ip_csum, p->info.tx_l4_csum, p->info.rx_csum);
	return 0;
}

static int lcores_create(struct dpk *d)
{
	uint16_t n = d->conf.n_lcores;
	d->lcores = rte_zmalloc("dpk_lcores", sizeof(*d->lcores) * n, RTE_CACHE_LINE_SIZE);
	if (!d->lcores)
		return -ENOMEM;
	int sock = d->ports[0].info.numa_node;
	for (uint16_t i = 0; i < n; i++) {
		struct dpk_lcore *lc = &d->lcores[i];
		lc->d = d;
		lc->idx = i;
		if (n == 1)
			continue;
		char name[RTE_RING_NAMESIZE];
		snprintf(name, sizeof(name), "dpk_disp_%u", i);
		lc->ring = rte_ring_create(name, d->conf.ring_size, sock, RING_F_SC_DEQ);
		if (!lc->ring)
			return -ENOMEM;
	}
	return 0;
}

static int conf_check(struct dpk_conf *c)
{
	if (c->n_lcores < 1 || c->n_lcores > DPK_MAX_LCORES)
		return -EINVAL;
	c->rx_desc = c->rx_desc ? c->rx_desc : 1024;
	c->tx_desc = c->tx_desc ? c->tx_desc : 1024;
	c->ring_size = c->ring_size ? c->ring_size : 1024;
	if (!rte_is_power_of_2(c->ring_size) || c->ring_size > (1u << 16))
		return -EINVAL;
	return 0;
}

static int dpk_setup(struct dpk *d)
{
	uint16_t pid;
	RTE_ETH_FOREACH_DEV(pid) {
		if (d->n_ports == DPK_MAX_PORTS) {
			SL_WARN("dpdk: more than %d ports, ignoring the rest", DPK_MAX_PORTS);
			break;
		}
		int rc = port_probe(d, &d->ports[d->n_ports], pid);
		if (rc)
			return rc;
		d->n_ports++;
	}
	if (!d->n_ports)
		return -ENODEV;
	int rc = pools_create(d);
	for (uint16_t i = 0; i < d->n_ports && !rc; i++)
		rc = port_start(d, &d->ports[i]) ? -EIO : 0;
	return rc ? rc : lcores_create(d);
}

struct dpk *dpk_create(const struct dpk_conf *conf)
{
	for (size_t i = 0; i < sizeof(sym_key); i++)
		sym_key[i] = (i & 1) ? 0x5a : 0x6d;
	struct dpk *d = rte_zmalloc("dpk", sizeof(*d), RTE_CACHE_LINE_SIZE);
	if (!d) {
		errno = ENOMEM;
		return NULL;
	}
	d->conf = *conf;
	int rc = conf_check(&d->conf);
	rc = rc ? rc : dpk_setup(d);
	if (rc) {
		dpk_destroy(d);
		errno = -rc;
		return NULL;
	}
	return d;
}

void dpk_destroy(struct dpk *d)
{
	if (!d)
		return;
	for (uint16_t i = 0; i < d->n_ports; i++) {
		rte_eth_dev_stop(d->ports[i].port_id);
		rte_eth_dev_close(d->ports[i].port_id);
	}
	if (d->lcores) {
		for (uint16_t i = 0; i < d->conf.n_lcores; i++) {
			struct dpk_lcore *lc = &d->lcores[i];
			for (uint16_t p = 0; p < DPK_MAX_PORTS; p++)
				rte_pktmbuf_free_bulk(lc->stage[p], lc->n_stage[p]);
			if (lc->ring) {
				void *m;
				while (rte_ring_sc_dequeue(lc->ring, &m) == 0)
					rte_pktmbuf_free(m);
				rte_ring_free(lc->ring);
			}
		}
		rte_free(d->lcores);
	}
	for (int s = 0; s < DPK_MAX_SOCKETS; s++)
		rte_mempool_free(d->pools[s]);
	rte_free(d);
}

uint16_t dpk_port_count(const struct dpk *d)
{
	return d->n_ports;
}

const struct dpk_port_info *dpk_port_info(struct dpk *d, uint16_t port)
{
	if (port >= d->n_ports)
		return NULL;
	struct dpk_port *p = &d->ports[port];
	struct rte_eth_link link;
	if (rte_eth_link_get_nowait(p->port_id, &link) == 0) {
		p->info.link_up = link.link_status == RTE_ETH_LINK_UP;
		p->info.link_speed_mbps = link.link_speed;
	}
	return &p->info;
}

int dpk_link_wait(struct dpk *d, uint32_t timeout_ms)
{
	for (uint32_t waited_ms = 0;; waited_ms += 10) {
		uint16_t up = 0;
		for (uint16_t i = 0; i < d->n_ports; i++)
			up += dpk_port_info(d, i)->link_up;
		if (up == d->n_ports)
			return 0;
		if (waited_ms >= timeout_ms)
			return -ETIMEDOUT;
		rte_delay_ms(10);
	}
}

struct dpk_lcore *dpk_lcore(struct dpk *d, uint16_t idx)
{
	return idx < d->conf.n_lcores ? &d->lcores[idx] : NULL;
}

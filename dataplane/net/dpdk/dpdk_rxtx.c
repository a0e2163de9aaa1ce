/* SPDX-License-Identifier: Apache-2.0 */
/* Per io lcore receive and transmit: bursts, software flow dispatch,
 * checksum offload or its software fallback, and the fault-stage hook. */
#include <errno.h>
#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_tcp.h>
#include <rte_udp.h>
#include <stddef.h>
#include <string.h>

#include "common/bug.h"
#include "dataplane/net/dpdk/dpdk_internal.h"

#define OWNER_ALL UINT16_MAX /* broadcast: every lcore gets the frame */

/* The dpk port index of a DPDK port id (a handful of ports: a scan). */
static uint16_t port_index(const struct dpk *d, uint16_t port_id)
{
	for (uint16_t i = 0; i < d->n_ports; i++)
		if (d->ports[i].port_id == port_id)
			return i;
	return 0;
}

/* The EtherType after an optional 802.1Q tag, and the L3 offset. */
static uint16_t l3_type(const uint8_t *p, uint32_t len, uint32_t *off)
{
	*off = DPK_ETH_HLEN;
	if (len < DPK_ETH_HLEN)
		return 0;
	uint16_t t = (uint16_t)(p[12] << 8 | p[13]);
	if (t == RTE_ETHER_TYPE_VLAN && len >= DPK_ETH_HLEN + 4) {
		*off = DPK_ETH_HLEN + 4;
		t = (uint16_t)(p[16] << 8 | p[17]);
	}
	return t;
}

/* IPv6 TCP/UDP directly after the fixed header (the stack follows no
 * extension headers): the symmetric hash of the 36-byte tuple, which with
 * the 16-bit-periodic key is the hash of its XOR fold, i.e. dpk_flow_hash
 * of the addresses folded to 32 bits; an echo request hashes on the
 * addresses (one lcore answers). *own false: Neighbor Discovery and the
 * rest, for every lcore. */
static uint32_t frame_hash6(const uint8_t *p, uint32_t len, uint32_t off, bool *own)
{
	const uint8_t *ip = p + off;
	bool ports = ip[6] == IPPROTO_TCP || ip[6] == IPPROTO_UDP;
	bool echo = ip[6] == IPPROTO_ICMPV6 && len >= off + 41 && ip[40] == 128;
	*own = false;
	if (len < off + 40 + 4 || !(ports || echo))
		return 0;
	uint32_t s = 0, d = 0;
	for (unsigned i = 0; i < 16; i += 4) {
		s ^= (uint32_t)ip[8 + i] << 24 | (uint32_t)ip[9 + i] << 16 |
		     (uint32_t)ip[10 + i] << 8 | ip[11 + i];
		d ^= (uint32_t)ip[24 + i] << 24 | (uint32_t)ip[25 + i] << 16 |
		     (uint32_t)ip[26 + i] << 8 | ip[27 + i];
	}
	const uint8_t *l4 = ip + 40;
	*own = true;
	if (!ports)
		return dpk_flow_hash(s, d, 0, 0);
	return dpk_flow_hash(s, d, (uint16_t)(l4[0] << 8 | l4[1]), (uint16_t)(l4[2] << 8 | l4[3]));
}

/* Flow hash of a frame (0 when it is not IPv4). Fragments and protocols
 * without ports hash on the addresses alone, like an RSS NIC does. */
static uint32_t frame_hash(const uint8_t *p, uint32_t len)
{
	uint32_t off;
	if (l3_type(p, len, &off) != RTE_ETHER_TYPE_IPV4 ||
	    len < off + sizeof(struct rte_ipv4_hdr))
		return 0;
	const struct rte_ipv4_hdr *ip = (const void *)(p + off);
	uint32_t ihl = rte_ipv4_hdr_len(ip);
	uint16_t sport = 0, dport = 0;
	bool frag = rte_be_to_cpu_16(ip->fragment_offset) &
		    (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK);
	if (!frag && (ip->next_proto_id == IPPROTO_TCP || ip->next_proto_id == IPPROTO_UDP) &&
	    len >= off + ihl + 4) {
		const uint8_t *l4 = p + off + ihl;
		sport = (uint16_t)(l4[0] << 8 | l4[1]);
		dport = (uint16_t)(l4[2] << 8 | l4[3]);
	}
	return dpk_flow_hash(rte_be_to_cpu_32(ip->src_addr), rte_be_to_cpu_32(ip->dst_addr),
			     sport, dport);
}

static bool is_ipv4(const struct rte_mbuf *m)
{
	uint32_t off;
	return l3_type(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, &off) ==
	       RTE_ETHER_TYPE_IPV4;
}

void dpk_frame_from_mbuf(const struct dpk_lcore *lc, struct rte_mbuf *m, struct dpk_frame *f)
{
	f->data = rte_pktmbuf_mtod(m, uint8_t *);
	f->len = m->data_len;
	f->port = port_index(lc->d, m->port);
	f->mb = m;
	f->hash = m->hash.usr; /* frame_hash(), stored by classify() */
	f->flags = 0;
	if ((m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
		f->flags |= DPK_RX_IP_CSUM_OK;
	if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		f->flags |= DPK_RX_L4_CSUM_OK;
	if (lc->idx != 0 && !is_ipv4(m))
		f->flags |= DPK_RX_REPLICA;
}

/* Returns the owner lcore of m, or OWNER_ALL for non-IPv4 (ARP): every
 * lcore keeps an ARP cache, lcore 0 answers. */
static uint16_t classify(const struct dpk_lcore *lc, const struct dpk_port *p,
			 struct rte_mbuf *m)
{
	uint16_t n = lc->d->conf.n_lcores;
	const uint8_t *data = rte_pktmbuf_mtod(m, const uint8_t *);
	m->hash.usr = frame_hash(data, m->data_len);
	if (n == 1)
		return lc->idx;
	uint32_t off;
	if (l3_type(data, m->data_len, &off) == RTE_ETHER_TYPE_IPV6) {
		/* TCP and echo to an owner, in software (the RSS we program is
		 * IPv4's); ND to every lcore: each keeps a neighbor cache */
		bool own;
		m->hash.usr = frame_hash6(data, m->data_len, off, &own);
		return own ? dpk_flow_owner(m->hash.usr, n) : OWNER_ALL;
	}
	if (!is_ipv4(m))
		return OWNER_ALL;
	if (p->info.hw_rss)
		return lc->idx; /* the NIC chose the queue with the same function */
	return dpk_flow_owner(m->hash.usr, n);
}

static void dispatch_all(struct dpk_lcore *lc, struct rte_mbuf *m)
{
	uint16_t n = lc->d->conf.n_lcores;
	rte_mbuf_refcnt_update(m, (int16_t)(n - 1));
	for (uint16_t i = 0; i < n; i++) {
		if (i == lc->idx)
			continue;
		if (rte_ring_mp_enqueue(lc->d->lcores[i].ring, m) != 0) {
			rte_pktmbuf_free(m); /* drops that lcore's reference */
			lc->st.rx_ring_drops++;
		}
	}
}

/* Reads queue `lc->idx` of port p into f, keeping frames this lcore owns and
 * sending the others to their owners. Returns frames kept. */
static uint16_t rx_queue(struct dpk_lcore *lc, struct dpk_port *p, struct dpk_frame *f,
			 uint16_t cap)
{
	struct rte_mbuf *mbs[DPK_BURST_MAX];
	uint16_t got = rte_eth_rx_burst(p->port_id, lc->idx, mbs, cap);
	uint16_t kept = 0;
	for (uint16_t i = 0; i < got; i++) {
		struct rte_mbuf *m = mbs[i];
		if (m->nb_segs != 1 || m->data_len < DPK_ETH_HLEN) {
			rte_pktmbuf_free(m);
			lc->st.rx_bad++;
			continue;
		}
		/* A PMD that stripped an 802.1Q tag into the mbuf: put it back,
		 * the stack checks tags itself (--dpdk-vlan). af_packet does
		 * this on its own unless asked to strip. */
		if ((m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) && rte_vlan_insert(&m) != 0) {
			rte_pktmbuf_free(m);
			lc->st.rx_bad++;
			continue;
		}
		uint16_t owner = classify(lc, p, m);
		if (owner == OWNER_ALL)
			dispatch_all(lc, m);
		else if (owner != lc->idx) {
			if (rte_ring_mp_enqueue(lc->d->lcores[owner].ring, m) == 0) {
				lc->st.rx_dispatched++;
			} else {
				rte_pktmbuf_free(m);
				lc->st.rx_ring_drops++;
			}
			continue;
		}
		dpk_frame_from_mbuf(lc, m, &f[kept++]);
	}
	return kept;
}

uint16_t dpk_rx_burst(struct dpk_lcore *lc, struct dpk_frame *f, uint16_t cap)
{
	struct dpk *d = lc->d;
	uint16_t n = 0;
	cap = RTE_MIN(cap, (uint16_t)DPK_BURST_MAX);
	if (lc->ring) {
		void *mbs[DPK_BURST_MAX];
		n = (uint16_t)rte_ring_sc_dequeue_burst(lc->ring, mbs, cap, NULL);
		for (uint16_t i = 0; i < n; i++)
			dpk_frame_from_mbuf(lc, mbs[i], &f[i]);
	}
	for (uint16_t i = 0; i < d->n_ports && n < cap; i++) {
		struct dpk_port *p = &d->ports[i];
		if (lc->idx < p->info.n_rxq)
			n += rx_queue(lc, p, f + n, cap - n);
	}
	if (lc->fault && lc->fault->rx)
		n = lc->fault->rx(lc->fault->arg, lc, f, n, cap);
	lc->st.rx_frames += n;
	return n;
}

void dpk_frame_free(struct dpk_frame *f)
{
	rte_pktmbuf_free(f->mb);
	f->mb = NULL;
	f->data = NULL;
}

int dpk_tx_alloc(struct dpk_lcore *lc, uint16_t port, uint16_t len, struct dpk_frame *f)
{
	if (port >= lc->d->n_ports || len > DPK_FRAME_MAX)
		return -EMSGSIZE;
	struct rte_mbuf *m = rte_pktmbuf_alloc(lc->d->ports[port].pool);
	if (!m) {
		lc->st.tx_nobufs++;
		return -ENOBUFS;
	}
	f->data = (uint8_t *)rte_pktmbuf_append(m, len);
	BUG_ON(!f->data); /* DPK_FRAME_MAX fits RTE_MBUF_DEFAULT_BUF_SIZE */
	f->len = len;
	f->port = port;
	f->flags = 0;
	f->hash = 0;
	f->mb = m;
	return 0;
}

int dpk_frame_dup(struct dpk_lcore *lc, const struct dpk_frame *f, struct dpk_frame *out)
{
	int rc = dpk_tx_alloc(lc, f->port, f->len, out);
	if (rc)
		return -ENOBUFS; /* -EMSGSIZE cannot happen: f came from a port */
	memcpy(out->data, f->data, f->len);
	out->flags = f->flags;
	out->hash = f->hash;
	return 0;
}

/* Fills the IPv4 and/or TCP/UDP checksums of m: asks the NIC when it can,
 * computes them here otherwise. Returns 0 or -EINVAL (not IPv4/TCP|UDP, or
 * lengths that disagree with the frame). */
static int tx_csum(const struct dpk_port *p, struct rte_mbuf *m, uint32_t flags)
{
	uint8_t *data = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t len = m->data_len;
	if (len < DPK_ETH_HLEN + sizeof(struct rte_ipv4_hdr) || data[12] != 0x08 || data[13])
		return -EINVAL;
	struct rte_ipv4_hdr *ip = (void *)(data + DPK_ETH_HLEN);
	uint32_t ihl = rte_ipv4_hdr_len(ip);
	uint32_t tot = rte_be_to_cpu_16(ip->total_length);
	if (ihl < sizeof(*ip) || tot < ihl || DPK_ETH_HLEN + tot > len)
		return -EINVAL;
	uint8_t *l4 = data + DPK_ETH_HLEN + ihl;
	uint8_t *l4_csum = NULL; /* unaligned in general: written with memcpy */
	if (flags & DPK_TX_L4_CSUM) {
		if (ip->next_proto_id == IPPROTO_TCP && tot >= ihl + sizeof(struct rte_tcp_hdr))
			l4_csum = l4 + offsetof(struct rte_tcp_hdr, cksum);
		else if (ip->next_proto_id == IPPROTO_UDP && tot >= ihl + sizeof(struct rte_udp_hdr))
			l4_csum = l4 + offsetof(struct rte_udp_hdr, dgram_cksum);
		else
			return -EINVAL;
	}
	m->l2_len = DPK_ETH_HLEN;
	m->l3_len = ihl;
	if (flags & DPK_TX_IP_CSUM) {
		ip->hdr_checksum = 0;
		if (p->info.tx_ip_csum)
			m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
		else
			ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
	if (l4_csum) {
		uint16_t c = 0;
		memcpy(l4_csum, &c, sizeof(c));
		if (p->info.tx_l4_csum) {
			m->ol_flags |= RTE_MBUF_F_TX_IPV4 | (ip->next_proto_id == IPPROTO_TCP ?
				RTE_MBUF_F_TX_TCP_CKSUM : RTE_MBUF_F_TX_UDP_CKSUM);
			c = rte_ipv4_phdr_cksum(ip, m->ol_flags);
		} else {
			c = rte_ipv4_udptcp_cksum(ip, l4);
		}
		memcpy(l4_csum, &c, sizeof(c));
	}
	return 0;
}

int dpk_tx_send(struct dpk_lcore *lc, struct dpk_frame *f, uint32_t flags)
{
	struct rte_mbuf *m = f->mb;
	DBG_BUG_ON(!m || f->port >= lc->d->n_ports);
	struct dpk_port *p = &lc->d->ports[f->port];
	f->mb = NULL;
	if (f->len > m->data_len || f->len < DPK_ETH_HLEN) {
		rte_pktmbuf_free(m);
		return -EINVAL;
	}
	rte_pktmbuf_trim(m, (uint16_t)(m->data_len - f->len));
	if ((flags & (DPK_TX_IP_CSUM | DPK_TX_L4_CSUM)) && tx_csum(p, m, flags)) {
		rte_pktmbuf_free(m);
		return -EINVAL;
	}
	if (lc->n_stage[f->port] == DPK_TX_STAGE)
		dpk_tx_flush(lc);
	if (lc->n_stage[f->port] == DPK_TX_STAGE) {
		rte_pktmbuf_free(m);
		lc->st.tx_drops++;
		return -ENOBUFS;
	}
	lc->stage[f->port][lc->n_stage[f->port]++] = m;
	return 0;
}

int dpk_tx_copy(struct dpk_lcore *lc, uint16_t port, const void *data, uint16_t len,
		uint32_t flags)
{
	struct dpk_frame f;
	int rc = dpk_tx_alloc(lc, port, len, &f);
	if (rc)
		return rc;
	memcpy(f.data, data, len);
	return dpk_tx_send(lc, &f, flags);
}

/* Passes every staged frame through the fault hook and re-stages what it
 * returns (frames it holds come back in a later call). */
static void tx_fault(struct dpk_lcore *lc)
{
	struct dpk_frame fr[DPK_TX_STAGE];
	uint16_t n = 0;
	for (uint16_t p = 0; p < lc->d->n_ports; p++) {
		for (uint16_t i = 0; i < lc->n_stage[p]; i++) {
			struct rte_mbuf *m = lc->stage[p][i];
			if (n == DPK_TX_STAGE) { /* several ports' stages full at once */
				rte_pktmbuf_free(m);
				lc->st.tx_drops++;
				continue;
			}
			fr[n++] = (struct dpk_frame){ .data = rte_pktmbuf_mtod(m, uint8_t *),
						     .len = m->data_len, .port = p, .mb = m };
		}
		lc->n_stage[p] = 0;
	}
	n = lc->fault->tx(lc->fault->arg, lc, fr, n, DPK_TX_STAGE);
	for (uint16_t i = 0; i < n; i++) {
		uint16_t p = fr[i].port;
		if (lc->n_stage[p] == DPK_TX_STAGE) {
			dpk_frame_free(&fr[i]);
			lc->st.tx_drops++;
			continue;
		}
		lc->stage[p][lc->n_stage[p]++] = fr[i].mb;
	}
}

static uint16_t tx_port(struct dpk_lcore *lc, uint16_t pi)
{
	struct dpk_port *p = &lc->d->ports[pi];
	uint16_t q = lc->idx % p->info.n_txq;
	uint16_t n = lc->n_stage[pi], sent = 0;
	if (p->tx_shared)
		rte_spinlock_lock(&p->tx_lock[q]);
	/* A PMD may take part of a burst; a few tries, then the rest waits. */
	for (int tries = 0; tries < 4 && sent < n; tries++) {
		uint16_t k = rte_eth_tx_burst(p->port_id, q, lc->stage[pi] + sent, n - sent);
		if (!k)
			break;
		sent += k;
	}
	if (p->tx_shared)
		rte_spinlock_unlock(&p->tx_lock[q]);
	if (sent && sent < n)
		memmove(lc->stage[pi], lc->stage[pi] + sent, (n - sent) * sizeof(void *));
	lc->n_stage[pi] = n - sent;
	return sent;
}

uint16_t dpk_tx_flush(struct dpk_lcore *lc)
{
	uint16_t sent = 0;
	if (lc->fault && lc->fault->tx)
		tx_fault(lc);
	for (uint16_t pi = 0; pi < lc->d->n_ports; pi++)
		if (lc->n_stage[pi])
			sent += tx_port(lc, pi);
	lc->st.tx_frames += sent;
	return sent;
}

void dpk_lcore_set_fault(struct dpk_lcore *lc, const struct dpk_fault *fault)
{
	lc->fault = fault;
}

void dpk_lcore_stats(const struct dpk_lcore *lc, struct dpk_lcore_stats *out)
{
	*out = lc->st;
}

uint16_t dpk_lcore_idx(const struct dpk_lcore *lc)
{
	return lc->idx;
}

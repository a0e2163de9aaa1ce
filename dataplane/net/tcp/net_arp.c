/* SPDX-License-Identifier: Apache-2.0 */
/* ARP (RFC 826) for Ethernet/IPv4: replies for our address, a bounded cache
 * with expiry, and resolution for the next hop.
 *
 * On a miss we send a request and keep the frame in a small pending set
 * (ARP_PENDING frames, oldest overwritten, dropped after a second): enough
 * for the SYN-ACK to a peer whose cache still holds our MAC from an earlier
 * run, without an unbounded queue. Entries in use are refreshed by a unicast
 * request once past half their lifetime, so an active connection never sees
 * a miss. */
#include <errno.h>

#include "dataplane/net/tcp/tcp_internal.h"

#define ARP_LEN 28
#define ARP_REQUEST 1
#define ARP_REPLY 2
#define ARP_REQ_INTERVAL_US 1000000u

void arp_cache_init(struct arp_cache *c, struct arp_entry *mem, uint32_t n, uint32_t timeout_us)
{
	memset(mem, 0, sizeof(*mem) * n);
	c->e = mem;
	c->n = n;
	c->timeout_us = timeout_us;
}

static struct arp_entry *arp_find(struct arp_cache *c, uint32_t ip)
{
	for (uint32_t i = 0; i < c->n; i++)
		if (c->e[i].ip == ip)
			return &c->e[i];
	return NULL;
}

/* A slot for ip: its own, a free or expired one, else the oldest. */
static struct arp_entry *arp_slot(struct arp_cache *c, uint32_t ip, uint64_t now_us)
{
	struct arp_entry *e = arp_find(c, ip), *victim = &c->e[0];

	if (e)
		return e;
	for (uint32_t i = 0; i < c->n; i++) {
		e = &c->e[i];
		if (e->ip == 0 || e->expire_us <= now_us)
			return e;
		if (e->expire_us < victim->expire_us)
			victim = e;
	}
	return victim;
}

void arp_cache_put(struct arp_cache *c, uint32_t ip, const uint8_t mac[6], uint64_t now_us)
{
	struct arp_entry *e = arp_slot(c, ip, now_us);

	if (e->ip != ip)
		e->last_req_us = 0;
	e->ip = ip;
	memcpy(e->mac, mac, 6);
	e->expire_us = now_us + c->timeout_us;
}

struct arp_entry *arp_cache_get(struct arp_cache *c, uint32_t ip, uint64_t now_us)
{
	struct arp_entry *e = arp_find(c, ip);

	if (!e)
		return NULL;
	if (e->expire_us <= now_us) {
		memset(e, 0, sizeof(*e));
		return NULL;
	}
	return e;
}

static void arp_send(struct net_stack *st, uint16_t op, const uint8_t *dmac, uint32_t tip,
		     const uint8_t *tmac)
{
	/* own buffer: a refresh can be sent while txbuf holds a segment */
	uint8_t *a = st->arpbuf + ETH_HDR_LEN + VLAN_HDR_LEN;
	uint8_t *f = net_eth_hdr(st, a, dmac, ETH_TYPE_ARP);
	uint32_t hl = (uint32_t)(a - f);

	wr16(a, 1);		/* hardware: Ethernet */
	wr16(a + 2, ETH_TYPE_IPV4);
	a[4] = 6;
	a[5] = 4;
	wr16(a + 6, op);
	memcpy(a + 8, st->cfg.mac, 6);
	wr32(a + 14, st->cfg.ip);
	memcpy(a + 18, tmac, 6);
	wr32(a + 24, tip);
	/* pad to the 60-byte Ethernet minimum (64 with a tag) */
	memset(a + ARP_LEN, 0, 60 - ETH_HDR_LEN - ARP_LEN);
	net_tx_frame(st, f, hl + 60 - ETH_HDR_LEN);
}

static uint32_t next_hop(const struct net_stack *st, uint32_t ip);

void net_arp_hold(struct net_stack *st, uint32_t dst_ip, const uint8_t *frame, uint32_t len)
{
	struct arp_pending *p = &st->arp.pend[st->arp.pend_next++ % ARP_PENDING];
	uint32_t hop = next_hop(st, dst_ip);

	if (hop == 0 || len > NET_FRAME_MAX)
		return;
	p->ip = hop;
	p->len = len;
	p->since_us = st->now_us;
	memcpy(p->data, frame, len);
}

/* The next hop resolved: send what waited for it (if not too stale). */
static void arp_flush(struct net_stack *st, uint32_t ip, const uint8_t *mac)
{
	for (uint32_t i = 0; i < ARP_PENDING; i++) {
		struct arp_pending *p = &st->arp.pend[i];

		if (p->ip != ip)
			continue;
		p->ip = 0;
		if (st->now_us - p->since_us > ARP_REQ_INTERVAL_US)
			continue;
		memcpy(p->data, mac, 6);
		net_tx_frame(st, p->data, p->len);
	}
}

static bool same_subnet(const struct net_stack *st, uint32_t ip)
{
	return (ip & st->netmask) == (st->cfg.ip & st->netmask);
}

void net_arp_input(struct net_stack *st, const uint8_t *a, uint32_t len)
{
	if (st->cfg.ip == 0) { /* IPv6 only */
		st->stats.rx_drop_eth++;
		return;
	}
	if (len < ARP_LEN || rd16(a) != 1 || rd16(a + 2) != ETH_TYPE_IPV4 ||
	    a[4] != 6 || a[5] != 4) {
		st->stats.rx_drop_eth++;
		return;
	}
	uint16_t op = rd16(a + 6);
	uint32_t sip = rd32(a + 14), tip = rd32(a + 24);
	const uint8_t *sha = a + 8;

	if (sip == 0 || !same_subnet(st, sip) || (sha[0] & 1)) /* probes, foreign, mcast */
		return;
	/* RFC 826: update an existing entry from any packet; add one only when
	 * we are the target. */
	if (tip == st->cfg.ip || arp_find(&st->arp, sip)) {
		arp_cache_put(&st->arp, sip, sha, st->now_us);
		arp_flush(st, sip, sha);
	}
	if (op == ARP_REQUEST && tip == st->cfg.ip) {
		st->stats.arp_replies++;
		arp_send(st, ARP_REPLY, sha, sip, sha);
	}
}

static uint32_t next_hop(const struct net_stack *st, uint32_t ip)
{
	return same_subnet(st, ip) ? ip : st->cfg.gateway;
}

const uint8_t *net_arp_resolve(struct net_stack *st, uint32_t dst_ip)
{
	static const uint8_t zero[6];
	uint32_t hop = next_hop(st, dst_ip);

	if (hop == 0)
		return NULL;
	struct arp_entry *e = arp_cache_get(&st->arp, hop, st->now_us);

	if (e) {
		if (e->expire_us - st->now_us < st->arp.timeout_us / 2 &&
		    st->now_us - e->last_req_us >= ARP_REQ_INTERVAL_US) {
			e->last_req_us = st->now_us;
			st->stats.arp_requests++;
			arp_send(st, ARP_REQUEST, e->mac, hop, zero);
		}
		return e->mac;
	}
	/* No entry: broadcast a request, at most every 100 ms for the same
	 * address (the caller holds the frame with net_arp_hold). */
	st->stats.arp_miss_drops++;
	if (st->now_us - st->arp_last_bcast_us >= ARP_REQ_INTERVAL_US / 10 ||
	    st->arp_last_bcast_ip != hop) {
		st->arp_last_bcast_us = st->now_us;
		st->arp_last_bcast_ip = hop;
		st->stats.arp_requests++;
		arp_send(st, ARP_REQUEST, (const uint8_t[6]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
			 hop, zero);
	}
	return NULL;
}

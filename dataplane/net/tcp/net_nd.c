/* SPDX-License-Identifier: Apache-2.0 */
/* IPv6 Neighbor Discovery (RFC 4861) for one link: answering neighbor
 * solicitations for our addresses, soliciting the next hop, and a bounded
 * neighbor cache with expiry.
 *
 * Simplified the way net_arp.c simplifies ARP: an entry is usable until it
 * expires (arp_timeout_us) and refreshed by a unicast solicitation once past
 * half its lifetime, instead of RFC 4861 7.3's REACHABLE/STALE/DELAY/PROBE
 * machine; on a miss we multicast a solicitation (at most every 100 ms per
 * address) and keep the frame in a small pending set (ND_PENDING frames,
 * oldest overwritten, dropped after a second). No router discovery, no
 * redirects, no DAD of our own addresses (they are configured, and the
 * link-local one comes from the MAC). */
#include "dataplane/net/tcp/tcp_internal.h"

#define ND_NS 135
#define ND_NA 136
#define ND_OPT_SLLA 1
#define ND_OPT_TLLA 2
#define ND_MSG_LEN 32		/* NS/NA with one link-layer address option */
#define ND_REQ_INTERVAL_US 1000000u
#define NA_FLAG_SOLICITED 0x40
#define NA_FLAG_OVERRIDE 0x20

void nd_cache_init(struct nd_cache *c, struct nd_entry *mem, uint32_t n, uint32_t timeout_us)
{
	memset(mem, 0, sizeof(*mem) * n);
	c->e = mem;
	c->n = n;
	c->timeout_us = timeout_us;
}

static struct nd_entry *nd_find(struct nd_cache *c, const uint8_t ip[16])
{
	for (uint32_t i = 0; i < c->n; i++)
		if (c->e[i].used && memcmp(c->e[i].ip, ip, 16) == 0)
			return &c->e[i];
	return NULL;
}

void nd_cache_put(struct nd_cache *c, const uint8_t ip[16], const uint8_t mac[6],
		  uint64_t now_us)
{
	struct nd_entry *e = nd_find(c, ip), *victim = &c->e[0];

	for (uint32_t i = 0; !e && i < c->n; i++) {
		if (!c->e[i].used || c->e[i].expire_us <= now_us)
			e = &c->e[i];
		else if (c->e[i].expire_us < victim->expire_us)
			victim = &c->e[i];
	}
	if (!e)
		e = victim;
	if (!e->used || memcmp(e->ip, ip, 16) != 0)
		e->last_req_us = 0;
	e->used = true;
	memcpy(e->ip, ip, 16);
	memcpy(e->mac, mac, 6);
	e->expire_us = now_us + c->timeout_us;
}

struct nd_entry *nd_cache_get(struct nd_cache *c, const uint8_t ip[16], uint64_t now_us)
{
	struct nd_entry *e = nd_find(c, ip);

	if (!e)
		return NULL;
	if (e->expire_us <= now_us) {
		memset(e, 0, sizeof(*e));
		return NULL;
	}
	return e;
}

void nd_solicited_node(const uint8_t ip[16], uint8_t out[16])
{
	static const uint8_t pfx[13] = {0xff, 0x02, [11] = 0x01, [12] = 0xff};

	memcpy(out, pfx, 13);
	memcpy(out + 13, ip + 13, 3);
}

void nd_mcast_mac(const uint8_t ip[16], uint8_t mac[6])
{
	mac[0] = 0x33;
	mac[1] = 0x33;
	memcpy(mac + 2, ip + 12, 4);
}

void nd_link_local(const uint8_t mac[6], uint8_t out[16])
{
	memset(out, 0, 16);
	out[0] = 0xfe;
	out[1] = 0x80;
	out[8] = mac[0] ^ 0x02; /* the universal/local bit, inverted */
	out[9] = mac[1];
	out[10] = mac[2];
	out[11] = 0xff;
	out[12] = 0xfe;
	out[13] = mac[3];
	out[14] = mac[4];
	out[15] = mac[5];
}

/* Link-local destinations and our prefix are on the link; nothing else is
 * reachable (no router). */
static bool on_link(const struct net_stack *st, const uint8_t ip[16])
{
	uint32_t bits = st->cfg.prefix6_len, whole = bits / 8;

	if (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80)
		return true;
	if (memcmp(ip, st->cfg.ip6, whole) != 0)
		return false;
	if (bits % 8 == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - bits % 8));

	return (ip[whole] & mask) == (st->cfg.ip6[whole] & mask);
}

/* Sends an NS or NA from its own buffer: a solicitation goes out while
 * txbuf holds the segment that needs it. Hop limit 255 (RFC 4861 7.1). */
static void nd_send(struct net_stack *st, const uint8_t *dmac, const uint8_t src[16],
		    const uint8_t dst[16], uint8_t type, uint8_t flags, const uint8_t target[16])
{
	uint8_t *ip = st->ndbuf + ETH_HDR_LEN + VLAN_HDR_LEN;
	uint8_t *f = net_eth_hdr(st, ip, dmac, ETH_TYPE_IPV6), *m = ip + IP6_HDR_LEN;

	BUG_ON(m + ND_MSG_LEN > st->ndbuf + sizeof(st->ndbuf));
	wr32(ip, 6u << 28);
	wr16(ip + 4, ND_MSG_LEN);
	ip[6] = IP_PROTO_ICMPV6;
	ip[7] = 255;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	memset(m, 0, ND_MSG_LEN);
	m[0] = type;
	m[4] = flags;
	memcpy(m + 8, target, 16);
	m[24] = type == ND_NS ? ND_OPT_SLLA : ND_OPT_TLLA;
	m[25] = 1; /* in units of 8 bytes */
	memcpy(m + 26, st->cfg.mac, 6);
	wr16(m + 2, net_l4_csum6(src, dst, IP_PROTO_ICMPV6, m, ND_MSG_LEN));
	if (type == ND_NS)
		st->stats.nd_ns_tx++;
	else
		st->stats.nd_na_tx++;
	net_tx_frame(st, f, (uint32_t)(m - f) + ND_MSG_LEN);
}

/* Our address a neighbor should see us as: link-local for link-local
 * targets (RFC 4861 7.2.2 wants a source the target can answer). */
static const uint8_t *our_src_for(const struct net_stack *st, const uint8_t dst[16])
{
	if (dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80)
		return st->ip6_ll;
	return st->cfg.ip6;
}

static void nd_solicit(struct net_stack *st, const uint8_t target[16], const uint8_t *umac)
{
	uint8_t dst[16], mac[6];

	if (umac) { /* refresh: unicast to what we know */
		nd_send(st, umac, our_src_for(st, target), target, ND_NS, 0, target);
		return;
	}
	nd_solicited_node(target, dst);
	nd_mcast_mac(dst, mac);
	nd_send(st, mac, our_src_for(st, target), dst, ND_NS, 0, target);
}

void net_nd_hold(struct net_stack *st, const uint8_t dst[16], const uint8_t *frame, uint32_t len)
{
	if (!on_link(st, dst) || len > NET_FRAME_MAX)
		return;
	struct nd_pending *p = &st->nd.pend[st->nd.pend_next++ % ND_PENDING];

	memcpy(p->ip, dst, 16);
	p->used = true;
	p->len = len;
	p->since_us = st->now_us;
	memcpy(p->data, frame, len);
}

static bool nd_pending_for(const struct net_stack *st, const uint8_t ip[16])
{
	for (uint32_t i = 0; i < ND_PENDING; i++)
		if (st->nd.pend[i].used && memcmp(st->nd.pend[i].ip, ip, 16) == 0)
			return true;
	return false;
}

/* The neighbor resolved: send what waited for it (if not too stale). */
static void nd_flush(struct net_stack *st, const uint8_t ip[16], const uint8_t *mac)
{
	for (uint32_t i = 0; i < ND_PENDING; i++) {
		struct nd_pending *p = &st->nd.pend[i];

		if (!p->used || memcmp(p->ip, ip, 16) != 0)
			continue;
		p->used = false;
		if (st->now_us - p->since_us > ND_REQ_INTERVAL_US)
			continue;
		memcpy(p->data, mac, 6);
		net_tx_frame(st, p->data, p->len);
	}
}

const uint8_t *net_nd_resolve(struct net_stack *st, const uint8_t dst[16])
{
	if (!on_link(st, dst)) {
		st->stats.nd_miss_drops++;
		return NULL;
	}
	struct nd_entry *e = nd_cache_get(&st->nd, dst, st->now_us);

	if (e) {
		if (e->expire_us - st->now_us < st->nd.timeout_us / 2 &&
		    st->now_us - e->last_req_us >= ND_REQ_INTERVAL_US) {
			e->last_req_us = st->now_us;
			nd_solicit(st, dst, e->mac);
		}
		return e->mac;
	}
	st->stats.nd_miss_drops++;
	if (st->now_us - st->nd.last_mcast_us >= ND_REQ_INTERVAL_US / 10 ||
	    memcmp(st->nd.last_mcast_ip, dst, 16) != 0) {
		st->nd.last_mcast_us = st->now_us;
		memcpy(st->nd.last_mcast_ip, dst, 16);
		nd_solicit(st, dst, NULL);
	}
	return NULL;
}

/* The link-layer address option of type want, or NULL. False when the
 * options are malformed (a zero length: RFC 4861 7.1.1 says drop). */
static bool nd_opt_lla(const uint8_t *o, uint32_t len, uint8_t want, const uint8_t **lla)
{
	*lla = NULL;
	while (len >= 2) {
		uint32_t ol = (uint32_t)o[1] * 8;

		if (ol == 0 || ol > len)
			return false;
		if (o[0] == want && ol >= 8)
			*lla = o + 2;
		o += ol;
		len -= ol;
	}
	return len == 0;
}

void net_nd_input(struct net_stack *st, const uint8_t *ip6, const uint8_t *m, uint32_t len)
{
	const uint8_t *src = ip6 + 8, *dst = ip6 + 24, *target = m + 8, *lla;

	/* RFC 4861 7.1.1/7.1.2: hop limit 255 (not forwarded), code 0, at
	 * least 24 bytes, a unicast target, well-formed options */
	if (ip6[7] != 255 || m[1] != 0 || len < 24 || target[0] == 0xff ||
	    !nd_opt_lla(m + 24, len - 24, m[0] == ND_NS ? ND_OPT_SLLA : ND_OPT_TLLA, &lla) ||
	    (lla && (lla[0] & 1))) {
		st->stats.rx_drop_ip++;
		return;
	}
	if (m[0] == ND_NS) {
		if (!net_ip6_is_ours(st, target))
			return;
		st->stats.nd_ns_rx++;
		/* 7.2.3: the solicitation tells us the sender's address */
		if (lla) {
			nd_cache_put(&st->nd, src, lla, st->now_us);
			nd_flush(st, src, lla);
		}
		struct nd_entry *e = lla ? NULL : nd_cache_get(&st->nd, src, st->now_us);
		const uint8_t *to = lla ? lla : e ? e->mac : NULL;

		if (to) /* else a unicast probe from an unknown MAC: no answer */
			nd_send(st, to, target, src, ND_NA, NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE,
				target);
		return;
	}
	/* NA (7.2.5): only for neighbors we know or are resolving; a solicited
	 * NA to a multicast group is invalid (7.1.2) */
	if (dst[0] == 0xff && (m[4] & NA_FLAG_SOLICITED)) {
		st->stats.rx_drop_ip++;
		return;
	}
	if (!lla || !(nd_find(&st->nd, target) || nd_pending_for(st, target)))
		return;
	nd_cache_put(&st->nd, target, lla, st->now_us);
	nd_flush(st, target, lla);
}

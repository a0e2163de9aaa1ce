/* SPDX-License-Identifier: Apache-2.0 */
/* IPv6 (RFC 8200): input checks and demultiplexing, output.
 *
 * Only what a server on one link needs: TCP and ICMPv6 (echo, Neighbor
 * Discovery) directly after the fixed header. Extension headers are not
 * followed (dropped and counted): fragments for the reason net_ip.c rejects
 * IPv4 ones (our MSS keeps peers from fragmenting), and hop-by-hop options
 * only carry MLD reports, which a host that joins no groups beyond the
 * solicited-node ones (which switches flood anyway) can ignore. Off-link
 * peers are unreachable: there is no default router (yet). */
#include <errno.h>

#include "dataplane/net/tcp/tcp_internal.h"

#define IP6_NH_FRAGMENT 44

static bool is_zero16(const uint8_t *a)
{
	static const uint8_t z[16];

	return memcmp(a, z, 16) == 0;
}

uint32_t net_ip6_fold(const struct net_stack *st, const uint8_t a[16])
{
	/* keyed: a peer cannot pick addresses that collide in the hash */
	return (uint32_t)net_siphash24(st->cfg.syn_cookie_key, a, 16);
}

bool net_ip6_is_ours(const struct net_stack *st, const uint8_t a[16])
{
	return memcmp(a, st->cfg.ip6, 16) == 0 || memcmp(a, st->ip6_ll, 16) == 0;
}

/* All-nodes (ff02::1) or the solicited-node group of one of our addresses:
 * the only multicast we listen to (ND). */
static bool is_our_mcast(const struct net_stack *st, const uint8_t a[16])
{
	static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
	uint8_t sn[16];

	if (memcmp(a, all_nodes, 16) == 0)
		return true;
	nd_solicited_node(st->cfg.ip6, sn);
	if (memcmp(a, sn, 16) == 0)
		return true;
	nd_solicited_node(st->ip6_ll, sn);
	return memcmp(a, sn, 16) == 0;
}

/* Sources no packet for us may come from: unspecified (only DAD uses it,
 * and we do not take part in DAD), loopback, multicast, IPv4-mapped
 * (RFC 4291 2.5.5.2: never on the wire), ourselves. */
static bool martian_src(const struct net_stack *st, const uint8_t *s)
{
	static const uint8_t loop[16] = {[15] = 1};
	static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};

	return s[0] == 0xff || is_zero16(s) || memcmp(s, loop, 16) == 0 ||
	       memcmp(s, mapped, 12) == 0 || net_ip6_is_ours(st, s);
}

void net_ip6_input(struct net_stack *st, const uint8_t *pkt, uint32_t len)
{
	if (len < IP6_HDR_LEN || (pkt[0] >> 4) != 6)
		goto drop;
	uint32_t plen = rd16(pkt + 4);
	const uint8_t *src = pkt + 8, *dst = pkt + 24;

	/* Ethernet pads short frames: trust the payload length, not len. */
	if (plen > len - IP6_HDR_LEN || martian_src(st, src))
		goto drop;
	bool mcast = dst[0] == 0xff;

	if (mcast ? !is_our_mcast(st, dst) : !net_ip6_is_ours(st, dst))
		goto drop;
	st->stats.rx_ip6++;
	switch (pkt[6]) {
	case IP_PROTO_TCP:
		if (mcast)
			goto drop;
		/* the two addresses sit side by side in the header: the
		 * packet's own bytes are the rx context */
		st->rx6 = (const struct net_rx6 *)(const void *)src;
		tcp_input(st, net_ip6_fold(st, src), net_ip6_fold(st, dst), pkt + IP6_HDR_LEN,
			  plen);
		st->rx6 = NULL;
		return;
	case IP_PROTO_ICMPV6:
		net_icmp6_input(st, pkt, pkt + IP6_HDR_LEN, plen);
		return;
	case IP6_NH_FRAGMENT:
		st->stats.rx_ip_frags++;
		return;
	default:
		break;
	}
drop:
	st->stats.rx_drop_ip++;
}

int net_ip6_output(struct net_stack *st, const uint8_t src[16], const uint8_t dst[16],
		   uint8_t proto, uint32_t l4_len)
{
	static const uint8_t zero[6];
	const uint8_t *mac = net_nd_resolve(st, dst);
	uint8_t *ip = st->txbuf + NET_TX_L4_OFF - IP6_HDR_LEN;
	uint8_t *f = net_eth_hdr(st, ip, mac ? mac : zero, ETH_TYPE_IPV6);
	uint32_t len = (uint32_t)(ip - f) + IP6_HDR_LEN + l4_len;

	BUG_ON(l4_len > 0xffff);
	wr32(ip, 6u << 28); /* traffic class 0, flow label 0 */
	wr16(ip + 4, (uint16_t)l4_len);
	ip[6] = proto;
	ip[7] = 64;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	if (!mac) {
		net_nd_hold(st, dst, f, len);
		return -EHOSTUNREACH;
	}
	net_tx_frame(st, f, len);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* IPv4 (RFC 791): checksums, input validation and demultiplexing, output.
 * Fragments are rejected: a server behind a path with PMTU discovery (DF set
 * on everything we send, MSS clamped to our MTU) never needs reassembly, and
 * reassembly is a well-known memory-exhaustion target. */
#include <errno.h>

#include "dataplane/net/tcp/tcp_internal.h"

uint32_t net_csum_partial(const uint8_t *p, uint32_t len, uint32_t sum32)
{
	uint64_t sum = sum32;

	/* 32-bit big-endian words into a 64-bit accumulator: no carry lost. */
	while (len >= 4) {
		sum += rd32(p);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		sum += rd16(p);
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 32)
		sum = (sum & 0xffffffffu) + (sum >> 32);
	/* fold to at most 17 bits so callers can keep adding */
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint32_t)sum;
}

uint16_t net_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t net_ip_csum(const uint8_t *ip_hdr, uint32_t hdr_len)
{
	return net_csum_fold(net_csum_partial(ip_hdr, hdr_len, 0));
}

uint16_t net_l4_csum(uint32_t src_ip, uint32_t dst_ip, uint8_t proto, const uint8_t *l4,
		     uint32_t l4_len)
{
	uint32_t sum = (src_ip >> 16) + (src_ip & 0xffff) + (dst_ip >> 16) + (dst_ip & 0xffff) +
		       proto + l4_len;

	return net_csum_fold(net_csum_partial(l4, l4_len, sum));
}

uint16_t net_l4_csum6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto,
		      const uint8_t *l4, uint32_t l4_len)
{
	/* pseudo-header: addresses, 32-bit upper-layer length, next header */
	uint32_t sum = net_csum_partial(src, 16, 0);

	sum = net_csum_partial(dst, 16, sum);
	sum += (l4_len >> 16) + (l4_len & 0xffff) + proto;
	return net_csum_fold(net_csum_partial(l4, l4_len, sum));
}

void net_ip_input(struct net_stack *st, const uint8_t *pkt, uint32_t len)
{
	if (len < IP_HDR_LEN || (pkt[0] >> 4) != 4)
		goto drop;
	uint32_t hlen = (uint32_t)(pkt[0] & 0xf) * 4;
	uint32_t tot = rd16(pkt + 2);

	/* Ethernet pads short frames: trust the IP total length, not len. */
	if (hlen < IP_HDR_LEN || tot < hlen || tot > len)
		goto drop;
	if (net_ip_csum(pkt, hlen) != 0) {
		st->stats.rx_bad_csum++;
		goto drop;
	}
	uint32_t dst = rd32(pkt + 16), src = rd32(pkt + 12);

	if (dst != st->cfg.ip || dst == 0) /* 0: IPv6 only */
		goto drop;
	/* Martian sources: broadcast, multicast, loopback, zero, ourselves. */
	if (src == 0 || src == st->cfg.ip || (src >> 24) == 127 || (src >> 28) >= 14)
		goto drop;
	uint16_t frag = rd16(pkt + 6);

	if ((frag & 0x2000) || (frag & 0x1fff)) { /* MF or a non-zero offset */
		st->stats.rx_ip_frags++;
		return;
	}
	switch (pkt[9]) {
	case IP_PROTO_TCP:
		tcp_input(st, src, dst, pkt + hlen, tot - hlen);
		return;
	case IP_PROTO_ICMP:
		net_icmp_input(st, src, pkt + hlen, tot - hlen);
		return;
	default:
		break;
	}
drop:
	st->stats.rx_drop_ip++;
}

int net_ip_output(struct net_stack *st, uint32_t dst_ip, uint8_t proto, uint32_t l4_len)
{
	static const uint8_t zero[6];
	const uint8_t *mac = net_arp_resolve(st, dst_ip);
	uint8_t *ip = st->txbuf + NET_TX_L4_OFF - IP_HDR_LEN;
	uint8_t *f = net_eth_hdr(st, ip, mac ? mac : zero, ETH_TYPE_IPV4);
	uint32_t len = (uint32_t)(ip - f) + IP_HDR_LEN + l4_len;

	ip[0] = 0x45;
	ip[1] = 0;
	wr16(ip + 2, (uint16_t)(IP_HDR_LEN + l4_len));
	wr16(ip + 4, st->ip_id++);
	wr16(ip + 6, 0x4000); /* DF: we do PMTU the simple way (MSS clamp) */
	ip[8] = 64;
	ip[9] = proto;
	wr16(ip + 10, 0);
	wr32(ip + 12, st->cfg.ip);
	wr32(ip + 16, dst_ip);
	wr16(ip + 10, net_ip_csum(ip, IP_HDR_LEN));
	if (!mac) {
		net_arp_hold(st, dst_ip, f, len);
		return -EHOSTUNREACH;
	}
	net_tx_frame(st, f, len);
	return 0;
}

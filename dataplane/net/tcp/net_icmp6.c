/* SPDX-License-Identifier: Apache-2.0 */
/* ICMPv6 (RFC 4443): echo reply, and Neighbor Discovery's messages handed
 * to net_nd.c. Errors (unreachable, packet too big...) are counted and
 * dropped: our MSS is clamped to the configured MTU. */
#include "dataplane/net/tcp/tcp_internal.h"

#define ICMP6_ECHO_REQUEST 128
#define ICMP6_ECHO_REPLY 129
#define ICMP6_NS 135
#define ICMP6_NA 136

void net_icmp6_input(struct net_stack *st, const uint8_t *ip6, const uint8_t *icmp,
		     uint32_t len)
{
	const uint8_t *src = ip6 + 8, *dst = ip6 + 24;

	if (len < 8 || net_l4_csum6(src, dst, IP_PROTO_ICMPV6, icmp, len) != 0) {
		st->stats.rx_bad_csum++;
		return;
	}
	switch (icmp[0]) {
	case ICMP6_NS:
	case ICMP6_NA:
		net_nd_input(st, ip6, icmp, len);
		return;
	case ICMP6_ECHO_REQUEST:
		/* unicast only (no answers to ff02::1), and a reply that fits */
		if (icmp[1] == 0 && dst[0] != 0xff && len <= (uint32_t)st->cfg.mtu - IP6_HDR_LEN)
			break;
		/* fall through */
	default:
		st->stats.rx_drop_ip++;
		return;
	}
	uint8_t *out = st->txbuf + NET_TX_L4_OFF;
	uint8_t from[16], to[16];

	/* Same identifier, sequence and data; only the type changes. The
	 * addresses are copied first: they live in the received frame. */
	memcpy(from, dst, 16);
	memcpy(to, src, 16);
	memcpy(out, icmp, len);
	out[0] = ICMP6_ECHO_REPLY;
	wr16(out + 2, 0);
	wr16(out + 2, net_l4_csum6(from, to, IP_PROTO_ICMPV6, out, len));
	st->stats.icmp_echo++;
	net_ip6_output(st, from, to, IP_PROTO_ICMPV6, len);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* ICMP (RFC 792): echo reply only. Everything else (unreachables, redirects,
 * timestamps) is counted and dropped; PMTU discovery is not needed because
 * our MSS is clamped to the configured MTU. */
#include "dataplane/net/tcp/tcp_internal.h"

#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8

void net_icmp_input(struct net_stack *st, uint32_t src, const uint8_t *icmp, uint32_t len)
{
	uint32_t mtu_payload = (uint32_t)st->cfg.mtu - IP_HDR_LEN;

	if (len < 8 || net_csum_fold(net_csum_partial(icmp, len, 0)) != 0) {
		st->stats.rx_bad_csum++;
		return;
	}
	if (icmp[0] != ICMP_ECHO_REQUEST || icmp[1] != 0 || len > mtu_payload) {
		st->stats.rx_drop_ip++;
		return;
	}
	uint8_t *out = st->txbuf + NET_TX_L4_OFF;

	/* Same identifier, sequence and data; only the type changes. */
	memcpy(out, icmp, len);
	out[0] = ICMP_ECHO_REPLY;
	wr16(out + 2, 0);
	wr16(out + 2, net_csum_fold(net_csum_partial(out, len, 0)));
	st->stats.icmp_echo++;
	net_ip_output(st, src, IP_PROTO_ICMP, len);
}

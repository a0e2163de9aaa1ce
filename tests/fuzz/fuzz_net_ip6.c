/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the stack's IPv6 and 802.1Q input (Ethernet frame
 * in): the IPv6 header checks, ICMPv6 (echo, Neighbor Discovery and its
 * options), TCP over IPv6, and the VLAN tag check, on two stacks: A
 * untagged, B with VLAN 100; both dual stack.
 *
 * Each input is a list of records: [ctl:1][len:2 BE][frame:len]. ctl bits
 * steer a frame past the cheap rejections random bytes never pass:
 *   0x01 fix the payload length and the ICMPv6 / TCP checksum
 *   0x02 address it: Ethernet (our MAC, or with 0x08 the solicited-node
 *        group's), EtherType IPv6 (tagged for B), from the peer to our
 *        global address (0x08: our solicited-node group; 0x40 and 0x08:
 *        our link-local address)
 *   0x04 to stack B instead of A
 *   0x10 advance the clock by frame[0] * 64 ms and run the timers first
 * Before the records, stack A has one IPv6 connection established. After
 * every record the bounds must hold (table, backlog, neighbor cache). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/net/tcp/tcp_internal.h"

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c))                                                     \
			abort();                                              \
	} while (0)

#define MAX_CONNS 8
#define BACKLOG 4
#define PORT 443
#define ND_N 4

static const uint8_t our_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t our6[16] = {0xfd, 0, 0, 0x99, [15] = 2};
static const uint8_t peer6[16] = {0xfd, 0, 0, 0x99, [15] = 1};

static struct {
	struct net_stack *st[2];
	uint64_t now;
	uint32_t open;
	uint32_t synack_seq;
	int cur; /* the stack whose frames tx sees */
} F;

static int fz_tx(void *ctx, const uint8_t *f, uint32_t len)
{
	intptr_t which = (intptr_t)ctx;
	uint32_t hl = which ? ETH_HDR_LEN + VLAN_HDR_LEN : ETH_HDR_LEN;

	CHECK(len >= hl + 28 && len <= NET_FRAME_MAX);
	CHECK(memcmp(f + 6, our_mac, 6) == 0);
	if (which) /* everything B sends carries its tag */
		CHECK(rd16(f + 12) == ETH_TYPE_VLAN && (rd16(f + 14) & 0xfff) == 100);
	else
		CHECK(rd16(f + 12) != ETH_TYPE_VLAN);
	if (rd16(f + hl - 2) != ETH_TYPE_IPV6)
		return 0;
	const uint8_t *ip = f + hl;
	uint32_t plen = rd16(ip + 4);

	CHECK(len == hl + IP6_HDR_LEN + plen);
	CHECK(net_l4_csum6(ip + 8, ip + 24, ip[6], ip + IP6_HDR_LEN, plen) == 0);
	if (ip[6] == IP_PROTO_TCP && (ip[IP6_HDR_LEN + 13] & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK))
		F.synack_seq = rd32(ip + IP6_HDR_LEN + 4);
	return 0;
}

static void *up_accept(void *ctx, struct tcp_conn *c)
{
	(void)ctx;
	(void)c;
	F.open++;
	return &F;
}

static uint32_t up_data(void *cookie, const uint8_t *d, uint32_t len)
{
	(void)cookie;
	(void)d;
	return len;
}

static void up_none(void *cookie) { (void)cookie; }

static void up_closed(void *cookie, int err)
{
	(void)cookie;
	(void)err;
	F.open--;
}

static const struct net_ops ops = {.tx = fz_tx};
static const struct net_upcalls ups = {
	.on_accept = up_accept, .on_data = up_data, .on_eof = up_none,
	.on_writable = up_none, .on_closed = up_closed,
};

static void send_syn_ack(uint32_t seq, uint32_t ack, uint8_t flags)
{
	uint8_t f[ETH_HDR_LEN + IP6_HDR_LEN + TCP_HDR_LEN] = {0};
	uint8_t *ip = f + ETH_HDR_LEN, *t = ip + IP6_HDR_LEN;

	memcpy(f, our_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	wr16(f + 12, ETH_TYPE_IPV6);
	wr32(ip, 6u << 28);
	wr16(ip + 4, TCP_HDR_LEN);
	ip[6] = IP_PROTO_TCP;
	ip[7] = 64;
	memcpy(ip + 8, peer6, 16);
	memcpy(ip + 24, our6, 16);
	wr16(t, 40000);
	wr16(t + 2, PORT);
	wr32(t + 4, seq);
	wr32(t + 8, ack);
	t[12] = 5 << 4;
	t[13] = flags;
	wr16(t + 14, 65535);
	wr16(t + 16, net_l4_csum6(peer6, our6, IP_PROTO_TCP, t, TCP_HDR_LEN));
	net_input(F.st[0], f, sizeof(f), F.now);
}

static void setup(void)
{
	struct net_config cfg = {0};

	for (int i = 0; i < 2; i++)
		net_destroy(F.st[i]);
	memset(&F, 0, sizeof(F));
	memcpy(cfg.mac, our_mac, 6);
	cfg.ip = 0x0a630002u;
	cfg.prefix_len = 24;
	memcpy(cfg.ip6, our6, 16);
	cfg.prefix6_len = 64;
	cfg.listen_ports[0] = PORT;
	cfg.max_conns = MAX_CONNS;
	cfg.backlog = BACKLOG;
	cfg.snd_buf_bytes = 4096;
	cfg.rcv_buf_bytes = 4096;
	cfg.nd_entries = ND_N;
	cfg.arp_timeout_us = 5000000;
	memcpy(cfg.syn_cookie_key, "fuzz-ip6-fuzz-ip", 16);
	F.now = 1000000;
	F.st[0] = net_create(&cfg, &ops, &ups, (void *)(intptr_t)0, F.now);
	cfg.vlan_id = 100;
	F.st[1] = net_create(&cfg, &ops, &ups, (void *)(intptr_t)1, F.now);
	CHECK(F.st[0] && F.st[1]);
	nd_cache_put(&F.st[0]->nd, peer6, peer_mac, F.now);
	send_syn_ack(1000, 0, TH_SYN);
	send_syn_ack(1001, F.synack_seq + 1, TH_ACK);
	CHECK(F.open == 1);
}

static void fixup(uint8_t *f, uint32_t len, uint8_t ctl)
{
	uint32_t hl = (ctl & 0x04) ? ETH_HDR_LEN + VLAN_HDR_LEN : ETH_HDR_LEN;

	if (len < hl + IP6_HDR_LEN)
		return;
	uint8_t *ip = f + hl;
	struct net_stack *st = F.st[(ctl >> 2) & 1];

	if (ctl & 0x02) {
		memcpy(f, our_mac, 6);
		if (ctl & 0x04) {
			wr16(f + 12, ETH_TYPE_VLAN);
			wr16(f + 14, 100);
		}
		wr16(f + hl - 2, ETH_TYPE_IPV6);
		ip[0] = (uint8_t)(0x60 | (ip[0] & 0xf));
		memcpy(ip + 8, peer6, 16);
		memcpy(ip + 24, our6, 16);
		if (ctl & 0x08) {
			if (ctl & 0x40) {
				memcpy(ip + 24, st->ip6_ll, 16);
			} else {
				nd_solicited_node(our6, ip + 24);
				nd_mcast_mac(ip + 24, f);
			}
		}
	}
	if (ctl & 0x01) {
		uint32_t plen = len - hl - IP6_HDR_LEN;
		uint8_t *l4 = ip + IP6_HDR_LEN;
		uint32_t at = ip[6] == IP_PROTO_TCP ? 16 : ip[6] == IP_PROTO_ICMPV6 ? 2 : 0;

		wr16(ip + 4, (uint16_t)plen);
		if (at && plen >= at + 2) {
			wr16(l4 + at, 0);
			wr16(l4 + at, net_l4_csum6(ip + 8, ip + 24, ip[6], l4, plen));
		}
	}
}

static void check_bounds(void)
{
	for (int k = 0; k < 2; k++) {
		struct net_stats s;

		net_stats(F.st[k], &s);
		CHECK(s.conns_in_use <= MAX_CONNS && s.half_open <= BACKLOG);
		CHECK(F.st[k]->nd.n == ND_N && F.st[k]->rx6 == NULL);
		for (uint32_t i = 0; i < ND_N; i++) {
			const struct nd_entry *e = &F.st[k]->nd.e[i];

			/* never a multicast neighbor, never one with a group MAC */
			CHECK(!e->used || (e->ip[0] != 0xff && !(e->mac[0] & 1)));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[NET_FRAME_MAX];

	setup();
	while (size >= 3) {
		uint8_t ctl = data[0];
		uint32_t len = SL_MIN((uint32_t)rd16(data + 1), (uint32_t)(size - 3));

		len = SL_MIN(len, (uint32_t)sizeof(frame));
		memcpy(frame, data + 3, len);
		data += 3 + len;
		size -= 3 + len;
		if ((ctl & 0x10) && len) {
			F.now += (uint64_t)frame[0] * 64000;
			net_timers(F.st[0], F.now);
			net_timers(F.st[1], F.now);
		}
		fixup(frame, len, ctl);
		net_input(F.st[(ctl >> 2) & 1], frame, len, F.now);
		check_bounds();
	}
	return 0;
}

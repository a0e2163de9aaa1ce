/* SPDX-License-Identifier: Apache-2.0 */
/* IPv6, Neighbor Discovery, ICMPv6 echo, TCP over IPv6 and 802.1Q tags,
 * against a scripted peer with a simulated clock (like tcp_sim_test.c):
 * frames to the stack are built here, frames it sends are captured and
 * checked field by field. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "dataplane/net/tcp/tcp_internal.h"

#define OUR_IP4 0x0a630002u
#define PEER_IP4 0x0a630001u
#define PORT 443
#define CAP 32

static const uint8_t our_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
/* fd00:99:1::2/64 ours, fd00:99:1::1 the peer's */
static const uint8_t our6[16] = {0xfd, 0, 0, 0x99, 0, 1, [15] = 2};
static const uint8_t peer6[16] = {0xfd, 0, 0, 0x99, 0, 1, [15] = 1};
static const uint8_t peer_ll[16] = {0xfe, 0x80, [15] = 0x11};

static struct {
	struct net_stack *st;
	uint64_t now;
	uint8_t q[CAP][2048];	/* captured frames */
	uint32_t qlen[CAP];
	uint32_t n;
	struct tcp_conn *conn;
	uint8_t rx[4096];
	uint32_t rx_len;
	uint16_t vlan;		/* tag our frames carry */
} S;

static int cap_tx(void *ctx, const uint8_t *f, uint32_t len)
{
	(void)ctx;
	uint32_t i = S.n < CAP ? S.n++ : CAP - 1;

	assert_true(len <= sizeof(S.q[i]));
	memcpy(S.q[i], f, len);
	S.qlen[i] = len;
	return 0;
}

static void *up_accept(void *ctx, struct tcp_conn *c)
{
	(void)ctx;
	S.conn = c;
	return &S;
}

static uint32_t up_data(void *cookie, const uint8_t *d, uint32_t len)
{
	(void)cookie;
	memcpy(S.rx + S.rx_len, d, len);
	S.rx_len += len;
	return len;
}

static void up_eof(void *cookie) { (void)cookie; }
static void up_writable(void *cookie) { (void)cookie; }
static void up_closed(void *cookie, int err)
{
	(void)cookie;
	(void)err;
	S.conn = NULL;
}

static const struct net_ops ops = {.tx = cap_tx};
static const struct net_upcalls ups = {
	.on_accept = up_accept, .on_data = up_data, .on_eof = up_eof,
	.on_writable = up_writable, .on_closed = up_closed,
};

static void base_cfg(struct net_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	memcpy(cfg->mac, our_mac, 6);
	cfg->ip = OUR_IP4;
	cfg->prefix_len = 24;
	memcpy(cfg->ip6, our6, 16);
	cfg->prefix6_len = 64;
	cfg->listen_ports[0] = PORT;
	cfg->max_conns = 16;
	cfg->backlog = 8;
	cfg->snd_buf_bytes = 8192;
	cfg->rcv_buf_bytes = 65536;
	cfg->nd_entries = 4;
	cfg->arp_timeout_us = 10000000;
	memcpy(cfg->syn_cookie_key, "ip6-ip6-ip6-ip6!", 16);
}

static void start_cfg(const struct net_config *cfg)
{
	memset(&S, 0, sizeof(S));
	S.now = 5000000;
	S.vlan = cfg->vlan_id;
	S.st = net_create(cfg, &ops, &ups, NULL, S.now);
	assert_non_null(S.st);
}

static void start(void)
{
	struct net_config cfg;

	base_cfg(&cfg);
	start_cfg(&cfg);
}

/* Ethernet (+ tag when vid) header into f; returns its length. */
static uint32_t eth(uint8_t *f, const uint8_t *dmac, uint16_t type, int vid)
{
	memcpy(f, dmac, 6);
	memcpy(f + 6, peer_mac, 6);
	if (vid >= 0) {
		wr16(f + 12, ETH_TYPE_VLAN);
		wr16(f + 14, (uint16_t)(0xe000 | vid)); /* PCP 7: ignored */
		wr16(f + 16, type);
		return 18;
	}
	wr16(f + 12, type);
	return 14;
}

/* Sends an IPv6 packet from src to dst with payload l4 (checksum at
 * csum_off filled when >= 0), hop limit hop, untagged unless vid >= 0. */
static void send6(const uint8_t *dmac, const uint8_t src[16], const uint8_t dst[16],
		  uint8_t proto, uint8_t hop, uint8_t *l4, uint32_t len, int csum_off, int vid)
{
	static uint8_t f[2048];
	uint32_t hl = eth(f, dmac, ETH_TYPE_IPV6, vid);
	uint8_t *ip = f + hl;

	if (csum_off >= 0) {
		wr16(l4 + csum_off, 0);
		wr16(l4 + csum_off, net_l4_csum6(src, dst, proto, l4, len));
	}
	wr32(ip, 6u << 28);
	wr16(ip + 4, (uint16_t)len);
	ip[6] = proto;
	ip[7] = hop;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	memcpy(ip + 40, l4, len);
	net_input(S.st, f, hl + 40 + len, S.now);
}

/* The captured frame i as IPv6: checks the Ethernet type, tag, checksum,
 * and returns the IPv6 header. */
static const uint8_t *cap6(uint32_t i)
{
	const uint8_t *f = S.q[i];
	uint32_t hl = 14;

	assert_true(i < S.n);
	assert_memory_equal(f + 6, our_mac, 6);
	if (S.vlan) {
		assert_int_equal(rd16(f + 12), ETH_TYPE_VLAN);
		assert_int_equal(rd16(f + 14), S.vlan);
		hl = 18;
	}
	assert_int_equal(rd16(f + hl - 2), ETH_TYPE_IPV6);
	const uint8_t *ip = f + hl;
	uint32_t plen = rd16(ip + 4);

	assert_int_equal(ip[0] >> 4, 6);
	assert_int_equal(S.qlen[i], hl + 40 + plen);
	assert_int_equal(net_l4_csum6(ip + 8, ip + 24, ip[6], ip + 40, plen), 0);
	return ip;
}

static uint32_t ns_msg(uint8_t *m, const uint8_t target[16], const uint8_t *slla)
{
	memset(m, 0, 32);
	m[0] = 135;
	memcpy(m + 8, target, 16);
	if (!slla)
		return 24;
	m[24] = 1;
	m[25] = 1;
	memcpy(m + 26, slla, 6);
	return 32;
}

static void test_csum6_vector(void **state)
{
	(void)state;
	/* echo request fd00:99:1::1 -> ::2, id 0x1234 seq 1 "abcd"; the value
	 * was computed by an independent RFC 1071 implementation */
	uint8_t m[12] = {128, 0, 0, 0, 0x12, 0x34, 0, 1, 'a', 'b', 'c', 'd'};

	assert_int_equal(net_l4_csum6(peer6, our6, IP_PROTO_ICMPV6, m, sizeof(m)), 0xad84);
	wr16(m + 2, 0xad84);
	assert_int_equal(net_l4_csum6(peer6, our6, IP_PROTO_ICMPV6, m, sizeof(m)), 0);
	/* odd length: the last byte is padded, not dropped */
	assert_int_not_equal(net_l4_csum6(peer6, our6, IP_PROTO_ICMPV6, m, 11),
			     net_l4_csum6(peer6, our6, IP_PROTO_ICMPV6, m, 10));
}

static void test_addresses(void **state)
{
	(void)state;
	const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	const uint8_t ll[16] = {0xfe, 0x80, [8] = 0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56};
	const uint8_t sn[16] = {0xff, 0x02, [11] = 1, 0xff, 0x12, 0x34, 0x56};
	uint8_t out[16], m[6];

	nd_link_local(mac, out);
	assert_memory_equal(out, ll, 16);
	nd_solicited_node(ll, out);
	assert_memory_equal(out, sn, 16);
	nd_mcast_mac(sn, m);
	assert_memory_equal(m, ((const uint8_t[6]){0x33, 0x33, 0xff, 0x12, 0x34, 0x56}), 6);
}

static void test_nd_cache(void **state)
{
	(void)state;
	struct nd_entry mem[3];
	struct nd_cache c = {0};
	uint8_t ip[16] = {0xfd}, mac[6] = {2};

	nd_cache_init(&c, mem, 3, 1000);
	for (uint8_t i = 1; i <= 3; i++) {
		ip[15] = i;
		mac[5] = i;
		nd_cache_put(&c, ip, mac, 100 * i);
	}
	ip[15] = 2;
	assert_non_null(nd_cache_get(&c, ip, 500));
	assert_int_equal(nd_cache_get(&c, ip, 500)->mac[5], 2);
	/* full: a fourth evicts the one closest to expiry (1, put at 100) */
	ip[15] = 4;
	nd_cache_put(&c, ip, mac, 500);
	ip[15] = 1;
	assert_null(nd_cache_get(&c, ip, 500));
	ip[15] = 4;
	assert_non_null(nd_cache_get(&c, ip, 500));
	/* expiry: 2 was put at 200 with a 1000 us lifetime */
	ip[15] = 2;
	assert_null(nd_cache_get(&c, ip, 1200));
	/* refresh moves the expiry */
	ip[15] = 3;
	nd_cache_put(&c, ip, mac, 1250);
	assert_non_null(nd_cache_get(&c, ip, 2000));
}

static void test_ns_answered(void **state)
{
	(void)state;
	uint8_t m[64], sn[16], smac[6];

	start();
	/* NS for our global address, to its solicited-node group */
	nd_solicited_node(our6, sn);
	nd_mcast_mac(sn, smac);
	send6(smac, peer6, sn, IP_PROTO_ICMPV6, 255, m, ns_msg(m, our6, peer_mac), 2, -1);
	assert_int_equal(S.n, 1);
	const uint8_t *ip = cap6(0), *na = ip + 40;

	assert_memory_equal(S.q[0], peer_mac, 6);
	assert_int_equal(ip[7], 255);
	assert_memory_equal(ip + 8, our6, 16);
	assert_memory_equal(ip + 24, peer6, 16);
	assert_int_equal(na[0], 136);
	assert_int_equal(na[4], 0x60); /* Solicited | Override, not Router */
	assert_memory_equal(na + 8, our6, 16);
	assert_int_equal(na[24], 2); /* target link-layer address */
	assert_memory_equal(na + 26, our_mac, 6);
	/* the NS taught us the peer: an echo reply needs no solicitation */
	assert_non_null(nd_cache_get(&S.st->nd, peer6, S.now));

	/* the link-local address too, answered from it */
	S.n = 0;
	nd_solicited_node(S.st->ip6_ll, sn);
	nd_mcast_mac(sn, smac);
	send6(smac, peer_ll, sn, IP_PROTO_ICMPV6, 255, m, ns_msg(m, S.st->ip6_ll, peer_mac), 2,
	      -1);
	assert_int_equal(S.n, 1);
	assert_memory_equal(cap6(0) + 8, S.st->ip6_ll, 16);

	/* not answered: another target, a hop limit below 255 (forwarded), a
	 * zero-length option, a bad checksum, DAD (unspecified source) */
	static const uint8_t other[16] = {0xfd, 0, 0, 0x99, 0, 1, [15] = 9};
	static const uint8_t unspec[16];
	uint64_t bad = S.st->stats.rx_bad_csum;

	S.n = 0;
	send6(smac, peer6, sn, IP_PROTO_ICMPV6, 255, m, ns_msg(m, other, peer_mac), 2, -1);
	send6(smac, peer6, sn, IP_PROTO_ICMPV6, 64, m, ns_msg(m, our6, peer_mac), 2, -1);
	ns_msg(m, our6, peer_mac);
	m[25] = 0;
	send6(smac, peer6, sn, IP_PROTO_ICMPV6, 255, m, 32, 2, -1);
	ns_msg(m, our6, peer_mac);
	send6(smac, peer6, sn, IP_PROTO_ICMPV6, 255, m, 32, -1, -1);
	send6(smac, unspec, sn, IP_PROTO_ICMPV6, 255, m, ns_msg(m, our6, NULL), 2, -1);
	assert_int_equal(S.n, 0);
	assert_int_equal(S.st->stats.rx_bad_csum, bad + 1);
	net_destroy(S.st);
}

/* A SYN from a peer we have no entry for: we solicit it, hold the SYN-ACK,
 * and send it when the advertisement comes. */
/* A neighbor solicitation exactly as Linux 6.x sent it (captured on the
 * e2e veth): fd00:99:1::1 asks for fd00:99:1::2. */
static void test_linux_ns_frame(void **state)
{
	(void)state;
	static const char hex[] =
		"3333ff000002fac28b6a026a86dd6000000000203afffd00009900010000000000000000"
		"0001ff0200000000000000000001ff0000028700f5cc00000000fd000099000100000000"
		"0000000000020101fac28b6a026a";
	uint8_t f[128];
	uint32_t n = 0;
	struct net_config cfg;
	static const uint8_t ours[16] = {0xfd, 0, 0, 0x99, 0, 1, [15] = 2};

	for (; hex[2 * n]; n++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * n, "%2x", &v), 1);
		f[n] = (uint8_t)v;
	}
	base_cfg(&cfg);
	memcpy(cfg.ip6, ours, 16);
	start_cfg(&cfg);
	net_input(S.st, f, n, S.now);
	assert_int_equal(S.n, 1);
	const uint8_t *ip = cap6(0);

	assert_int_equal(ip[40], 136);
	assert_memory_equal(S.q[0], f + 6, 6);
	net_destroy(S.st);
}

static void test_solicit_and_hold(void **state)
{
	(void)state;
	uint8_t t[20] = {0}, na[32] = {0};

	start();
	wr16(t, 40000);
	wr16(t + 2, PORT);
	wr32(t + 4, 7000);
	t[12] = 5 << 4;
	t[13] = TH_SYN;
	wr16(t + 14, 65535);
	send6(our_mac, peer6, our6, IP_PROTO_TCP, 64, t, 20, 16, -1);
	assert_int_equal(S.n, 1);
	const uint8_t *ip = cap6(0), *ns = ip + 40;
	uint8_t sn[16];

	nd_solicited_node(peer6, sn);
	assert_memory_equal(S.q[0], ((const uint8_t[6]){0x33, 0x33, 0xff, 0, 0, 1}), 6);
	assert_memory_equal(ip + 24, sn, 16);
	assert_int_equal(ip[7], 255);
	assert_int_equal(ns[0], 135);
	assert_memory_equal(ns + 8, peer6, 16);
	assert_int_equal(ns[24], 1);
	assert_memory_equal(ns + 26, our_mac, 6);
	assert_true(S.st->stats.nd_miss_drops >= 1);

	/* an unsolicited NA for someone else changes nothing */
	static const uint8_t other[16] = {0xfd, 0, 0, 0x99, 0, 1, [15] = 7};

	na[0] = 136;
	na[4] = 0x60;
	memcpy(na + 8, other, 16);
	na[24] = 2;
	na[25] = 1;
	memcpy(na + 26, peer_mac, 6);
	S.n = 0;
	send6(our_mac, other, our6, IP_PROTO_ICMPV6, 255, na, 32, 2, -1);
	assert_int_equal(S.n, 0);
	assert_null(nd_cache_get(&S.st->nd, other, S.now));

	/* the answer: the held SYN-ACK goes out to the peer's MAC */
	memcpy(na + 8, peer6, 16);
	send6(our_mac, peer6, our6, IP_PROTO_ICMPV6, 255, na, 32, 2, -1);
	assert_int_equal(S.n, 1);
	ip = cap6(0);
	assert_memory_equal(S.q[0], peer_mac, 6);
	assert_int_equal(ip[6], IP_PROTO_TCP);
	assert_int_equal(ip[40 + 13], TH_SYN | TH_ACK);
	net_destroy(S.st);
}

static void test_echo6(void **state)
{
	(void)state;
	uint8_t m[12] = {128, 0, 0, 0, 0x12, 0x34, 0, 1, 'a', 'b', 'c', 'd'};

	start();
	nd_cache_put(&S.st->nd, peer6, peer_mac, S.now);
	send6(our_mac, peer6, our6, IP_PROTO_ICMPV6, 64, m, sizeof(m), 2, -1);
	assert_int_equal(S.n, 1);
	const uint8_t *ip = cap6(0), *r = ip + 40;

	assert_memory_equal(S.q[0], peer_mac, 6);
	assert_memory_equal(ip + 8, our6, 16);
	assert_memory_equal(ip + 24, peer6, 16);
	assert_int_equal(rd16(ip + 4), sizeof(m));
	assert_int_equal(r[0], 129);
	assert_memory_equal(r + 4, m + 4, sizeof(m) - 4);
	assert_int_equal(S.st->stats.icmp_echo, 1);
	/* to the all-nodes group: not answered; bad checksum: counted */
	static const uint8_t all[16] = {0xff, 0x02, [15] = 1};

	S.n = 0;
	send6((const uint8_t[6]){0x33, 0x33, 0, 0, 0, 1}, peer6, all, IP_PROTO_ICMPV6, 64, m,
	      sizeof(m), 2, -1);
	m[9] ^= 1;
	send6(our_mac, peer6, our6, IP_PROTO_ICMPV6, 64, m, sizeof(m), -1, -1);
	assert_int_equal(S.n, 0);
	assert_int_equal(S.st->stats.rx_bad_csum, 1);
	/* not for us, or from a martian source: dropped */
	static const uint8_t loop[16] = {[15] = 1};
	uint64_t drops = S.st->stats.rx_drop_ip;

	send6(our_mac, peer6, peer6, IP_PROTO_ICMPV6, 64, m, sizeof(m), 2, -1);
	send6(our_mac, loop, our6, IP_PROTO_ICMPV6, 64, m, sizeof(m), 2, -1);
	assert_int_equal(S.n, 0);
	assert_int_equal(S.st->stats.rx_drop_ip, drops + 2);
	net_destroy(S.st);
}

/* TCP segment from the peer over IPv6 (src given), vid as send6. */
static void seg6(const uint8_t src[16], uint16_t sport, uint32_t seq, uint32_t ack,
		 uint8_t flags, const void *data, uint32_t len, int vid)
{
	uint8_t t[20 + 256] = {0};

	wr16(t, sport);
	wr16(t + 2, PORT);
	wr32(t + 4, seq);
	wr32(t + 8, ack);
	t[12] = 5 << 4;
	t[13] = flags;
	wr16(t + 14, 65535);
	if (len > 0) /* data may be NULL when len is 0: memcpy(NULL, 0) is undefined */
		memcpy(t + 20, data, len);
	send6(our_mac, src, our6, IP_PROTO_TCP, 64, t, 20 + len, 16, vid);
}

/* IPv4 SYN from PEER_IP4:sport (no options). */
static void syn4(uint16_t sport)
{
	uint8_t f[64] = {0}, *ip = f + 14, *t = ip + 20;

	eth(f, our_mac, ETH_TYPE_IPV4, -1);
	ip[0] = 0x45;
	wr16(ip + 2, 40);
	ip[8] = 64;
	ip[9] = IP_PROTO_TCP;
	wr32(ip + 12, PEER_IP4);
	wr32(ip + 16, OUR_IP4);
	wr16(ip + 10, net_ip_csum(ip, 20));
	wr16(t, sport);
	wr16(t + 2, PORT);
	wr32(t + 4, 1000);
	t[12] = 5 << 4;
	t[13] = TH_SYN;
	wr16(t + 14, 65535);
	wr16(t + 16, net_l4_csum(PEER_IP4, OUR_IP4, IP_PROTO_TCP, t, 20));
	net_input(S.st, f, 54, S.now);
}

static void test_tcp6_connection(void **state)
{
	(void)state;
	start();
	nd_cache_put(&S.st->nd, peer6, peer_mac, S.now);
	arp_cache_put(&S.st->arp, PEER_IP4, peer_mac, S.now);
	/* SYN with MSS 9000: ours caps it at 1500 - 40 - 20 */
	uint8_t t[24] = {0};

	wr16(t, 40000);
	wr16(t + 2, PORT);
	wr32(t + 4, 7000);
	t[12] = 6 << 4;
	t[13] = TH_SYN;
	wr16(t + 14, 65535);
	t[20] = 2;
	t[21] = 4;
	wr16(t + 22, 9000);
	send6(our_mac, peer6, our6, IP_PROTO_TCP, 64, t, 24, 16, -1);
	assert_int_equal(S.n, 1);
	const uint8_t *ip = cap6(0), *sa = ip + 40;

	assert_memory_equal(ip + 8, our6, 16);
	assert_memory_equal(ip + 24, peer6, 16);
	assert_int_equal(sa[13], TH_SYN | TH_ACK);
	assert_int_equal(rd32(sa + 8), 7001);
	assert_int_equal(sa[20], 2);
	assert_int_equal(rd16(sa + 22), 1440);
	uint32_t iss = rd32(sa + 4);

	/* an IPv4 peer on the same port pair is another connection */
	S.n = 0;
	syn4(40000);
	assert_int_equal(S.n, 1);
	assert_int_equal(rd16(S.q[0] + 12), ETH_TYPE_IPV4);
	assert_int_equal(S.st->stats.half_open, 2);

	S.n = 0;
	seg6(peer6, 40000, 7001, iss + 1, TH_ACK, NULL, 0, -1);
	assert_non_null(S.conn);
	assert_int_equal(S.conn->mss, 1440);
	uint8_t a6[16];

	assert_true(tcp_peer6(S.conn, a6));
	assert_memory_equal(a6, peer6, 16);
	seg6(peer6, 40000, 7001, iss + 1, TH_ACK | TH_PSH, "hello", 5, -1);
	assert_int_equal(S.rx_len, 5);
	assert_memory_equal(S.rx, "hello", 5);
	S.n = 0;
	assert_int_equal(tcp_send(S.conn, (const uint8_t *)"world", 5), 5);
	assert_true(S.n >= 1);
	ip = cap6(S.n - 1);
	assert_int_equal(rd16(ip + 4), 20 + 5);
	assert_memory_equal(ip + 60, "world", 5);

	/* the hash key is a 32-bit fold: a colliding IPv4 address, or another
	 * IPv6 address with the same fold, must not find this connection */
	uint32_t fold = net_ip6_fold(S.st, peer6);
	struct net_rx6 other = {0};

	assert_int_equal(S.conn->rip, fold);
	assert_null(tcp_conn_lookup(S.st, fold, 40000, PORT)); /* rx6 NULL: IPv4 */
	memcpy(other.src, peer6, 16);
	other.src[15] ^= 0x40;
	S.st->rx6 = &other;
	assert_null(tcp_conn_lookup(S.st, fold, 40000, PORT));
	memcpy(other.src, peer6, 16);
	assert_ptr_equal(tcp_conn_lookup(S.st, fold, 40000, PORT), S.conn);
	S.st->rx6 = NULL;

	/* the same ports from another IPv6 address: not this connection
	 * (no SYN, so a reset comes back to that address) */
	static const uint8_t p2[16] = {0xfd, 0, 0, 0x99, 0, 1, [15] = 3};

	nd_cache_put(&S.st->nd, p2, peer_mac, S.now);
	S.n = 0;
	seg6(p2, 40000, 7006, iss + 6, TH_ACK, NULL, 0, -1);
	assert_int_equal(S.n, 1);
	ip = cap6(0);
	assert_memory_equal(ip + 24, p2, 16);
	assert_true(ip[40 + 13] & TH_RST);
	net_destroy(S.st);
}

/* IPv6 only: no IPv4 address; SYN cookies over IPv6 complete. */
static void test_ip6_only_cookies(void **state)
{
	(void)state;
	struct net_config cfg;

	base_cfg(&cfg);
	cfg.ip = 0;
	cfg.prefix_len = 0;
	cfg.syn_cookies_always = true;
	start_cfg(&cfg);
	nd_cache_put(&S.st->nd, peer6, peer_mac, S.now);
	seg6(peer6, 40001, 9000, 0, TH_SYN, NULL, 0, -1);
	assert_int_equal(S.n, 1);
	const uint8_t *sa = cap6(0) + 40;

	assert_int_equal(sa[13], TH_SYN | TH_ACK);
	assert_int_equal(S.st->stats.syn_cookies_sent, 1);
	seg6(peer6, 40001, 9001, rd32(sa + 4) + 1, TH_ACK, NULL, 0, -1);
	assert_int_equal(S.st->stats.syn_cookies_ok, 1);
	assert_non_null(S.conn);
	/* the cookie is bound to the address: the same ACK from elsewhere fails */
	static const uint8_t p2[16] = {0xfd, 0, 0, 0x99, 0, 1, [15] = 3};

	seg6(p2, 40001, 9001, rd32(sa + 4) + 1, TH_ACK, NULL, 0, -1);
	assert_int_equal(S.st->stats.syn_cookies_bad, 1);
	/* ARP and IPv4 are not spoken */
	uint64_t eth_drops = S.st->stats.rx_drop_eth, ip_drops = S.st->stats.rx_drop_ip;

	S.n = 0;
	syn4(40002);
	assert_int_equal(S.n, 0);
	assert_int_equal(S.st->stats.rx_drop_ip, ip_drops + 1);
	(void)eth_drops;
	net_destroy(S.st);
}

static void test_config_checks(void **state)
{
	(void)state;
	struct net_config cfg;

	base_cfg(&cfg);
	cfg.mtu = 1200; /* below IPv6's 1280 */
	assert_null(net_create(&cfg, &ops, &ups, NULL, 0));
	base_cfg(&cfg);
	cfg.ip6[0] = 0xfe; /* link-local: it comes from the MAC */
	cfg.ip6[1] = 0x80;
	assert_null(net_create(&cfg, &ops, &ups, NULL, 0));
	base_cfg(&cfg);
	cfg.prefix6_len = 129;
	assert_null(net_create(&cfg, &ops, &ups, NULL, 0));
	base_cfg(&cfg);
	cfg.vlan_id = 4095;
	assert_null(net_create(&cfg, &ops, &ups, NULL, 0));
	base_cfg(&cfg);
	cfg.ip = 0;
	memset(cfg.ip6, 0, 16);
	assert_null(net_create(&cfg, &ops, &ups, NULL, 0));
	assert_int_equal(errno, EINVAL);
}

/* 802.1Q: with a VID only frames tagged with it count, and all we send is
 * tagged; without one, tagged frames are dropped. */
static void test_vlan(void **state)
{
	(void)state;
	struct net_config cfg;
	uint8_t m[12] = {128, 0, 0, 0, 0x12, 0x34, 0, 1, 'a', 'b', 'c', 'd'};

	base_cfg(&cfg);
	cfg.vlan_id = 100;
	start_cfg(&cfg);
	nd_cache_put(&S.st->nd, peer6, peer_mac, S.now);
	send6(our_mac, peer6, our6, IP_PROTO_ICMPV6, 64, m, sizeof(m), 2, -1);	/* untagged */
	send6(our_mac, peer6, our6, IP_PROTO_ICMPV6, 64, m, sizeof(m), 2, 101);	/* other VLAN */
	assert_int_equal(S.n, 0);
	assert_int_equal(S.st->stats.rx_drop_vlan, 2);
	send6(our_mac, peer6, our6, IP_PROTO_ICMPV6, 64, m, sizeof(m), 2, 100);
	assert_int_equal(S.n, 1);
	assert_int_equal(cap6(0)[40], 129); /* cap6 checks the tag */

	/* ARP request, tagged: a tagged reply of 64 bytes */
	uint8_t f[64] = {0};
	uint32_t hl = eth(f, (const uint8_t[6]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
			  ETH_TYPE_ARP, 100);
	uint8_t *a = f + hl;

	wr16(a, 1);
	wr16(a + 2, ETH_TYPE_IPV4);
	a[4] = 6;
	a[5] = 4;
	wr16(a + 6, 1);
	memcpy(a + 8, peer_mac, 6);
	wr32(a + 14, PEER_IP4);
	wr32(a + 24, OUR_IP4);
	S.n = 0;
	net_input(S.st, f, 64, S.now);
	assert_int_equal(S.n, 1);
	assert_int_equal(S.qlen[0], 64);
	assert_int_equal(rd16(S.q[0] + 12), ETH_TYPE_VLAN);
	assert_int_equal(rd16(S.q[0] + 14), 100);
	assert_int_equal(rd16(S.q[0] + 16), ETH_TYPE_ARP);
	assert_int_equal(rd16(S.q[0] + 18 + 6), 2);

	/* TCP over IPv4, tagged both ways */
	S.n = 0;
	uint8_t g[80] = {0}, *ip = g + 18, *t = ip + 20;

	eth(g, our_mac, ETH_TYPE_IPV4, 100);
	ip[0] = 0x45;
	wr16(ip + 2, 40);
	ip[8] = 64;
	ip[9] = IP_PROTO_TCP;
	wr32(ip + 12, PEER_IP4);
	wr32(ip + 16, OUR_IP4);
	wr16(ip + 10, net_ip_csum(ip, 20));
	wr16(t, 40003);
	wr16(t + 2, PORT);
	t[12] = 5 << 4;
	t[13] = TH_SYN;
	wr16(t + 16, net_l4_csum(PEER_IP4, OUR_IP4, IP_PROTO_TCP, t, 20));
	net_input(S.st, g, 58, S.now);
	assert_int_equal(S.n, 1);
	assert_int_equal(rd16(S.q[0] + 12), ETH_TYPE_VLAN);
	assert_int_equal(rd16(S.q[0] + 16), ETH_TYPE_IPV4);
	assert_int_equal(net_ip_csum(S.q[0] + 18, 20), 0);
	assert_int_equal(S.q[0][18 + 20 + 13], TH_SYN | TH_ACK);
	net_destroy(S.st);

	/* no VID configured: a tagged frame is dropped and counted */
	base_cfg(&cfg);
	start_cfg(&cfg);
	nd_cache_put(&S.st->nd, peer6, peer_mac, S.now);
	send6(our_mac, peer6, our6, IP_PROTO_ICMPV6, 64, m, sizeof(m), 2, 100);
	assert_int_equal(S.n, 0);
	assert_int_equal(S.st->stats.rx_drop_vlan, 1);
	/* priority-tagged (VID 0) counts as untagged: answered, untagged */
	send6(our_mac, peer6, our6, IP_PROTO_ICMPV6, 64, m, sizeof(m), 2, 0);
	assert_int_equal(S.n, 1);
	assert_int_equal(cap6(0)[40], 129);
	net_destroy(S.st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum6_vector),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_nd_cache),
		cmocka_unit_test(test_ns_answered),
		cmocka_unit_test(test_linux_ns_frame),
		cmocka_unit_test(test_solicit_and_hold),
		cmocka_unit_test(test_echo6),
		cmocka_unit_test(test_tcp6_connection),
		cmocka_unit_test(test_ip6_only_cookies),
		cmocka_unit_test(test_config_checks),
		cmocka_unit_test(test_vlan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

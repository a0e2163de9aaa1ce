/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the stack's packet input path (Ethernet frame in).
 *
 * Each input is a list of records: [ctl:1][len:2 BE][frame:len]. Before the
 * records run, two connections are established with valid frames, so the
 * fuzzer starts inside ESTABLISHED as well as LISTEN. ctl bits steer the
 * frame past the cheap rejections that random bytes never pass:
 *   0x01 fix the IPv4 header and TCP/ICMP checksums
 *   0x02 address it to the stack (our MAC, our IP, from the peer)
 *   0x04 make it a segment of connection (ctl >> 6) & 1 (ports, and with
 *   0x08 in-window SEQ/ACK taken from what the stack last sent)
 *   0x10 advance the clock by frame[0] * 8 ms and run the timers first
 *   0x20 the application holds half of every delivery (window pressure)
 *   0x80 in the first record: the stack runs with ack_burst (one ACK per
 *        burst); in any record then: net_flush after it (a burst's end)
 * After every record the bounds must hold: table, backlog, buffers,
 * reassembly ranges, and every upcall's arguments. */
#include <math.h>
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
#define OUR_IP 0x0a630002u
#define PEER_IP 0x0a630001u

static const uint8_t our_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 0x01};

struct fz {
	struct net_stack *st;
	uint64_t now;
	bool hold;
	uint32_t open;
	/* per peer port we used: what the stack last said */
	uint16_t ports[2];
	uint32_t next_seq[2], next_ack[2];
	struct tcp_conn *conns[MAX_CONNS];
	uint8_t cookies[MAX_CONNS];
	uint32_t held[MAX_CONNS];
};

static struct fz F;

static int fz_tx(void *ctx, const uint8_t *f, uint32_t len)
{
	(void)ctx;
	CHECK(len >= 42 && len <= NET_FRAME_MAX);
	if (rd16(f + 12) != ETH_TYPE_IPV4 || f[23] != IP_PROTO_TCP)
		return 0;
	const uint8_t *ip = f + ETH_HDR_LEN, *t = ip + IP_HDR_LEN;
	uint32_t tot = rd16(ip + 2);

	CHECK(tot + ETH_HDR_LEN == len && net_ip_csum(ip, IP_HDR_LEN) == 0);
	CHECK(net_l4_csum(OUR_IP, rd32(ip + 16), IP_PROTO_TCP, t, tot - IP_HDR_LEN) == 0);
	for (int i = 0; i < 2; i++) {
		if (rd16(t + 2) != F.ports[i])
			continue;
		uint32_t plen = tot - IP_HDR_LEN - (uint32_t)(t[12] >> 4) * 4;

		F.next_ack[i] = rd32(t + 4) + plen + !!(t[13] & (TH_SYN | TH_FIN));
		F.next_seq[i] = rd32(t + 8);
	}
	return 0;
}

static void *fz_accept(void *ctx, struct tcp_conn *c)
{
	(void)ctx;
	for (uint32_t i = 0; i < MAX_CONNS; i++)
		if (!F.conns[i]) {
			F.conns[i] = c;
			F.held[i] = 0;
			F.open++;
			return &F.cookies[i];
		}
	return NULL; /* refuse: exercises the RST path */
}

static uint32_t fz_slot(void *cookie)
{
	uint32_t i = (uint32_t)((uint8_t *)cookie - F.cookies);

	CHECK(i < MAX_CONNS && F.conns[i]);
	return i;
}

static uint32_t fz_data(void *cookie, const uint8_t *data, uint32_t len)
{
	uint32_t i = fz_slot(cookie);
	uint32_t keep = F.hold ? len / 2 : 0;

	CHECK(data && len > 0);
	volatile uint8_t sink = data[0] ^ data[len - 1]; /* ASan checks the range ends */

	(void)sink;
	F.held[i] += keep;
	CHECK(F.held[i] <= F.st->cfg.rcv_buf_bytes);
	if (len > 8)
		(void)tcp_send(F.conns[i], data, 8); /* some output on the way */
	return len - keep;
}

static void fz_eof(void *cookie)
{
	tcp_shutdown(F.conns[fz_slot(cookie)]);
}

static void fz_writable(void *cookie)
{
	uint32_t i = fz_slot(cookie);

	tcp_recved(F.conns[i], F.held[i]);
	F.held[i] = 0;
}

static void fz_closed(void *cookie, int err)
{
	uint32_t i = fz_slot(cookie);

	CHECK(err <= 0);
	F.conns[i] = NULL;
	F.open--;
}

static const struct net_ops ops = {.tx = fz_tx};
static const struct net_upcalls ups = {
	.on_accept = fz_accept, .on_data = fz_data, .on_eof = fz_eof,
	.on_writable = fz_writable, .on_closed = fz_closed,
};

/* Ethernet + IPv4 headers from the peer to us; returns the L4 pointer. */
static uint8_t *mk_ip(uint8_t *f, uint8_t proto, uint32_t l4_len)
{
	uint8_t *ip = f + ETH_HDR_LEN;

	memcpy(f, our_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	wr16(f + 12, ETH_TYPE_IPV4);
	memset(ip, 0, IP_HDR_LEN);
	ip[0] = 0x45;
	wr16(ip + 2, (uint16_t)(IP_HDR_LEN + l4_len));
	ip[8] = 64;
	ip[9] = proto;
	wr32(ip + 12, PEER_IP);
	wr32(ip + 16, OUR_IP);
	wr16(ip + 10, net_ip_csum(ip, IP_HDR_LEN));
	return ip + IP_HDR_LEN;
}

static void send_seg(uint16_t sport, uint32_t seq, uint32_t ack, uint8_t flags)
{
	uint8_t f[80] = {0};
	uint8_t *t = mk_ip(f, IP_PROTO_TCP, 32);

	wr16(t, sport);
	wr16(t + 2, PORT);
	wr32(t + 4, seq);
	wr32(t + 8, ack);
	t[12] = 8 << 4; /* 32 bytes: MSS, NOP, WS, SACK-permitted, NOP NOP */
	t[13] = flags;
	wr16(t + 14, 8192);
	const uint8_t opts[12] = {2, 4, 0x05, 0xb4, 1, 3, 3, 2, 4, 2, 1, 1};

	memcpy(t + 20, opts, sizeof(opts));
	wr16(t + 16, net_l4_csum(PEER_IP, OUR_IP, IP_PROTO_TCP, t, 32));
	net_input(F.st, f, ETH_HDR_LEN + IP_HDR_LEN + 32, F.now);
}

static void setup(bool ack_burst)
{
	struct net_config cfg = {0};

	cfg.ack_burst = ack_burst;

	memcpy(cfg.mac, our_mac, 6);
	cfg.ip = OUR_IP;
	cfg.prefix_len = 24;
	cfg.listen_ports[0] = PORT;
	cfg.max_conns = MAX_CONNS;
	cfg.backlog = BACKLOG;
	cfg.snd_buf_bytes = 4096;
	cfg.rcv_buf_bytes = 8192;
	cfg.time_wait_us = 2000000;
	cfg.keepalive_idle_us = 5000000;
	memcpy(cfg.syn_cookie_key, "fuzz-fuzz-fuzz!!", 16);
	memset(&F, 0, sizeof(F));
	F.now = 1000000;
	F.st = net_create(&cfg, &ops, &ups, NULL, F.now);
	CHECK(F.st);
	arp_cache_put(&F.st->arp, PEER_IP, peer_mac, F.now);
	for (int i = 0; i < 2; i++) { /* two established connections */
		F.ports[i] = (uint16_t)(40000 + i);
		send_seg(F.ports[i], 1000, 0, TH_SYN);
		send_seg(F.ports[i], 1001, F.next_ack[i], TH_ACK);
		F.next_seq[i] = 1001;
	}
	CHECK(F.open == 2);
}

static void fixup(uint8_t *f, uint32_t len, uint8_t ctl)
{
	if (len < ETH_HDR_LEN + IP_HDR_LEN)
		return;
	uint8_t *ip = f + ETH_HDR_LEN;
	uint32_t hl = (uint32_t)(ip[0] & 0xf) * 4;

	if (ctl & 0x02) {
		memcpy(f, our_mac, 6);
		wr16(f + 12, ETH_TYPE_IPV4);
		ip[0] = (uint8_t)(0x40 | (ip[0] & 0xf));
		wr32(ip + 12, PEER_IP);
		wr32(ip + 16, OUR_IP);
		wr16(ip + 2, (uint16_t)(len - ETH_HDR_LEN));
		wr16(ip + 6, 0);
	}
	if (hl < IP_HDR_LEN || ETH_HDR_LEN + hl + TCP_HDR_LEN > len)
		return;
	uint8_t *l4 = ip + hl;
	uint32_t l4_len = len - ETH_HDR_LEN - hl;
	int k = (ctl >> 6) & 1;

	if ((ctl & 0x04) && ip[9] == IP_PROTO_TCP) {
		wr16(l4, F.ports[k]);
		wr16(l4 + 2, PORT);
		if (ctl & 0x08) {
			wr32(l4 + 4, F.next_seq[k] + (l4[4] & 0x0f));
			wr32(l4 + 8, F.next_ack[k]);
		}
	}
	if (ctl & 0x01) {
		wr16(ip + 10, 0);
		wr16(ip + 10, net_ip_csum(ip, hl));
		uint32_t sum_at = ip[9] == IP_PROTO_TCP ? 16 : ip[9] == IP_PROTO_ICMP ? 2 : 0;

		if (sum_at) {
			wr16(l4 + sum_at, 0);
			uint16_t c = ip[9] == IP_PROTO_TCP
					     ? net_l4_csum(rd32(ip + 12), rd32(ip + 16),
							   IP_PROTO_TCP, l4, l4_len)
					     : net_csum_fold(net_csum_partial(l4, l4_len, 0));

			wr16(l4 + sum_at, c);
		}
	}
}

static void check_bounds(void)
{
	struct net_stats s;

	net_stats(F.st, &s);
	CHECK(s.conns_in_use <= MAX_CONNS && s.half_open <= BACKLOG);
	for (uint32_t i = 0; i < MAX_CONNS; i++) {
		const struct tcp_conn *c = &F.st->conns[i];

		if (c->state == TCPS_CLOSED)
			continue;
		CHECK(c->sbuf_len <= c->smask + 1 && c->n_ooo <= TCP_OOO_RANGES);
		CHECK(c->app_held <= c->rmask + 1 && c->n_sacked <= TCP_SACKED_MAX);
		CHECK(seq_leq(c->snd_una, c->snd_nxt) && seq_leq(c->snd_nxt, c->snd_max));
		/* congestion control (CUBIC, PRR, DSACK undo) keeps the window
		 * in bounds and its CUBIC state finite */
		CHECK(c->cwnd >= 1 && c->cwnd <= TCP_CWND_MAX && c->ssthresh >= 1);
		CHECK(isfinite(c->cu.w_max) && isfinite(c->cu.w_est) && c->cu.frac < 1.0);
		for (uint32_t j = 0; j < c->n_ooo; j++)
			CHECK(seq_gt(c->ooo[j].start, c->rcv_nxt) &&
			      seq_lt(c->ooo[j].start, c->ooo[j].end) &&
			      c->ooo[j].end - c->rcv_nxt <= c->rmask + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[NET_FRAME_MAX];

	bool burst = size >= 1 && (data[0] & 0x80);

	setup(burst);
	while (size >= 3) {
		uint8_t ctl = data[0];
		uint32_t len = SL_MIN((uint32_t)rd16(data + 1), (uint32_t)(size - 3));

		len = SL_MIN(len, (uint32_t)sizeof(frame));
		memcpy(frame, data + 3, len);
		data += 3 + len;
		size -= 3 + len;
		F.hold = ctl & 0x20;
		if ((ctl & 0x10) && len) {
			F.now += (uint64_t)frame[0] * 8000;
			net_timers(F.st, F.now);
		}
		fixup(frame, len, ctl);
		net_input(F.st, frame, len, F.now);
		if (burst && (ctl & 0x80))
			net_flush(F.st, F.now);
		CHECK(F.st->n_ackq <= F.st->cfg.max_conns);
		check_bounds();
	}
	net_flush(F.st, F.now);
	CHECK(F.st->n_ackq == 0);
	F.now += 300000000; /* everything times out: timers must drain cleanly */
	for (int i = 0; i < 12; i++) {
		F.now += 60000000;
		net_timers(F.st, F.now);
	}
	check_bounds();
	net_destroy(F.st);
	CHECK(F.open == 0);
	return 0;
}

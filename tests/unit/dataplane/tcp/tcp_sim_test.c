/* SPDX-License-Identifier: Apache-2.0 */
/* Deterministic tests of the stack against a scripted peer, in one thread
 * with a simulated clock (STYLE 13): handshake options, SYN cookies, the
 * accept backlog, reassembly with SACK, persist, keepalive, retransmission
 * backoff, active close through TIME-WAIT, ARP, fragments. Frames the stack
 * sends are captured and parsed; frames to it are built here. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "dataplane/net/tcp/tcp_internal.h"

#define OUR_IP 0x0a630002u
#define PEER_IP 0x0a630001u
#define PORT 443
#define CAP 64

static const uint8_t our_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 0x01};

struct out { /* a captured frame, parsed */
	uint16_t ethertype, sport, dport, win;
	uint32_t seq, ack, len, optlen;
	uint8_t flags, proto, opts[40], data[2048];
};

static struct {
	struct net_stack *st;
	uint64_t now;
	struct out q[CAP];
	uint32_t n;
	struct tcp_conn *conn;
	int closed_err, n_closed, n_eof;
	uint8_t rx[1 << 17];
	uint32_t rx_len;
	const uint8_t *last_in_frame;
	uint32_t last_in_len;
	bool zero_copy_seen;
	bool hold; /* on_data keeps everything (the caller is paused) */
} S;

static int cap_tx(void *ctx, const uint8_t *f, uint32_t len)
{
	(void)ctx;
	struct out *o = &S.q[S.n < CAP ? S.n++ : CAP - 1];

	memset(o, 0, sizeof(*o));
	o->ethertype = rd16(f + 12);
	if (o->ethertype != ETH_TYPE_IPV4)
		return 0;
	const uint8_t *ip = f + ETH_HDR_LEN, *t = ip + IP_HDR_LEN;

	o->proto = ip[9];
	if (o->proto != IP_PROTO_TCP)
		return 0;
	uint32_t tot = rd16(ip + 2), hl = (uint32_t)(t[12] >> 4) * 4;

	assert_int_equal(net_l4_csum(OUR_IP, PEER_IP, IP_PROTO_TCP, t, tot - IP_HDR_LEN), 0);
	o->sport = rd16(t);
	o->dport = rd16(t + 2);
	o->seq = rd32(t + 4);
	o->ack = rd32(t + 8);
	o->flags = t[13];
	o->win = rd16(t + 14);
	o->optlen = hl - TCP_HDR_LEN;
	memcpy(o->opts, t + TCP_HDR_LEN, o->optlen);
	o->len = tot - IP_HDR_LEN - hl;
	memcpy(o->data, t + hl, SL_MIN(o->len, (uint32_t)sizeof(o->data)));
	(void)len;
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
	if (d >= S.last_in_frame && d + len <= S.last_in_frame + S.last_in_len)
		S.zero_copy_seen = true;
	assert_true(len <= sizeof(S.rx) - S.rx_len);
	memcpy(S.rx + S.rx_len, d, len);
	S.rx_len += len;
	return S.hold ? 0 : len;
}

static void up_eof(void *cookie)
{
	(void)cookie;
	S.n_eof++;
}

static void up_writable(void *cookie)
{
	(void)cookie;
}

static void up_closed(void *cookie, int err)
{
	(void)cookie;
	S.closed_err = err;
	S.n_closed++;
	S.conn = NULL;
}

static const struct net_ops ops = {.tx = cap_tx};
static const struct net_upcalls ups = {
	.on_accept = up_accept, .on_data = up_data, .on_eof = up_eof,
	.on_writable = up_writable, .on_closed = up_closed,
};

static void start(void (*tweak)(struct net_config *))
{
	struct net_config cfg = {0};

	memset(&S, 0, sizeof(S));
	memcpy(cfg.mac, our_mac, 6);
	cfg.ip = OUR_IP;
	cfg.prefix_len = 24;
	cfg.listen_ports[0] = PORT;
	cfg.max_conns = 16;
	cfg.backlog = 8;
	cfg.snd_buf_bytes = 8192;
	cfg.rcv_buf_bytes = 1 << 20; /* window scale 5 */
	cfg.time_wait_us = 2000000;
	memcpy(cfg.syn_cookie_key, "sim-sim-sim-sim!", 16);
	if (tweak)
		tweak(&cfg);
	S.now = 5000000;
	S.st = net_create(&cfg, &ops, &ups, NULL, S.now);
	assert_non_null(S.st);
	arp_cache_put(&S.st->arp, PEER_IP, peer_mac, S.now);
}

static void stop(void)
{
	net_destroy(S.st);
}

static void advance(uint64_t us)
{
	uint64_t end = S.now + us;

	while (S.now < end) { /* 1 ms steps, as a polling loop would */
		S.now = SL_MIN(end, S.now + 1000);
		net_timers(S.st, S.now);
	}
}

/* Sends a segment from the peer; opts may be NULL. */
static void seg(uint16_t sport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
		const uint8_t *opts, uint32_t optlen, const void *data, uint32_t len)
{
	static uint8_t f[2048];
	uint8_t *ip = f + ETH_HDR_LEN, *t = ip + IP_HDR_LEN;
	uint32_t hl = TCP_HDR_LEN + optlen, tot = IP_HDR_LEN + hl + len;

	memcpy(f, our_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	wr16(f + 12, ETH_TYPE_IPV4);
	memset(ip, 0, IP_HDR_LEN);
	ip[0] = 0x45;
	wr16(ip + 2, (uint16_t)tot);
	ip[8] = 64;
	ip[9] = IP_PROTO_TCP;
	wr32(ip + 12, PEER_IP);
	wr32(ip + 16, OUR_IP);
	wr16(ip + 10, net_ip_csum(ip, IP_HDR_LEN));
	memset(t, 0, TCP_HDR_LEN);
	wr16(t, sport);
	wr16(t + 2, PORT);
	wr32(t + 4, seq);
	wr32(t + 8, ack);
	t[12] = (uint8_t)((hl / 4) << 4);
	t[13] = flags;
	wr16(t + 14, win);
	if (optlen)
		memcpy(t + TCP_HDR_LEN, opts, optlen);
	if (len)
		memcpy(t + hl, data, len);
	wr16(t + 16, net_l4_csum(PEER_IP, OUR_IP, IP_PROTO_TCP, t, hl + len));
	S.last_in_frame = f;
	S.last_in_len = ETH_HDR_LEN + tot;
	net_input(S.st, f, ETH_HDR_LEN + tot, S.now);
}

static bool has_opt(const struct out *o, uint8_t kind)
{
	for (uint32_t i = 0; i < o->optlen;) {
		if (o->opts[i] == 0)
			return false;
		if (o->opts[i] == 1) {
			i++;
			continue;
		}
		if (o->opts[i] == kind)
			return true;
		i += o->opts[i + 1] ? o->opts[i + 1] : 1;
	}
	return false;
}

/* Handshake from port sport with ISN 1000; returns our ISS. Options: MSS
 * 1460, WS 7, SACK-permitted (no timestamps unless ts). */
static uint32_t handshake(uint16_t sport, bool ts)
{
	const uint8_t o_ts[] = {2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 50, 0, 0, 0, 0};
	const uint8_t o_nots[] = {2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 1, 1};

	S.n = 0;
	if (ts)
		seg(sport, 1000, 0, TH_SYN, 65535, o_ts, sizeof(o_ts), NULL, 0);
	else
		seg(sport, 1000, 0, TH_SYN, 65535, o_nots, sizeof(o_nots), NULL, 0);
	assert_int_equal(S.n, 1);
	assert_int_equal(S.q[0].flags, TH_SYN | TH_ACK);
	assert_int_equal(S.q[0].ack, 1001);
	uint32_t iss = S.q[0].seq;

	S.n = 0;
	if (ts) {
		const uint8_t o[] = {1, 1, 8, 10, 0, 0, 0, 51, 0, 0, 0, 0};

		seg(sport, 1001, iss + 1, TH_ACK, 1024, o, sizeof(o), NULL, 0);
	} else {
		seg(sport, 1001, iss + 1, TH_ACK, 1024, NULL, 0, NULL, 0); /* 1024 << 7 */
	}
	assert_non_null(S.conn);
	return iss;
}

static void test_handshake_options(void **state)
{
	(void)state;
	start(NULL);
	const uint8_t o[] = {2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 50, 0, 0, 0, 0};

	seg(40000, 1000, 0, TH_SYN, 65535, o, sizeof(o), NULL, 0);
	assert_int_equal(S.n, 1);
	struct out *sa = &S.q[0];

	assert_true(has_opt(sa, 2) && has_opt(sa, 3) && has_opt(sa, 4) && has_opt(sa, 8));
	assert_null(S.conn); /* not accepted before the ACK */
	struct net_stats st;

	net_stats(S.st, &st);
	assert_int_equal(st.half_open, 1);
	stop();
	start(NULL);
	handshake(40001, false);
	assert_true(S.conn->ws_ok && S.conn->sack_ok && !S.conn->ts_ok);
	assert_int_equal(S.conn->snd_wscale, 7);
	assert_int_equal(S.conn->rcv_wscale, 5);
	assert_int_equal(S.conn->snd_wnd, 1024u << 7); /* scaled after the SYN */
	assert_int_equal(S.conn->mss, 1460);
	stop();
}

static void cookies_always(struct net_config *c)
{
	c->syn_cookies_always = true;
}

static void test_syn_cookie_handshake(void **state)
{
	(void)state;
	start(cookies_always);
	const uint8_t o[] = {2, 4, 5, 0xb4, 4, 2};

	seg(40000, 7000, 0, TH_SYN, 65535, o, sizeof(o), NULL, 0);
	assert_int_equal(S.n, 1);
	assert_false(has_opt(&S.q[0], 4)); /* only MSS survives a cookie */
	uint32_t isn = S.q[0].seq;
	struct net_stats st;

	net_stats(S.st, &st);
	assert_int_equal(st.conns_in_use, 0); /* stateless */
	S.n = 0;
	seg(40000, 7001, isn + 2, TH_ACK, 100, NULL, 0, NULL, 0); /* wrong cookie */
	assert_null(S.conn);
	assert_int_equal(S.q[0].flags & TH_RST, TH_RST);
	seg(40000, 7001, isn + 1, TH_ACK | TH_PSH, 100, NULL, 0, "hi", 2);
	assert_non_null(S.conn);
	assert_int_equal(S.rx_len, 2); /* data on the completing ACK is kept */
	assert_int_equal(S.conn->mss, 1460);
	stop();
}

/* Offset of option kind in a captured segment's options, or -1. */
static int opt_at(const struct out *o, uint8_t kind)
{
	for (uint32_t i = 0; i < o->optlen;) {
		if (o->opts[i] == 0)
			return -1;
		if (o->opts[i] == 1) {
			i++;
			continue;
		}
		if (o->opts[i] == kind)
			return (int)i;
		i += o->opts[i + 1] ? o->opts[i + 1] : 1;
	}
	return -1;
}

/* A cookie SYN-ACK keeps window scaling, SACK-permitted and timestamps when
 * the SYN had timestamps: the options ride in the low bits of our TSval and
 * come back in the ACK's TSecr (Linux's scheme). */
static void test_syn_cookie_keeps_options(void **state)
{
	(void)state;
	start(cookies_always);
	/* MSS 1460, WS 7, SACK-permitted, TS 50 */
	const uint8_t o[] = {2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 50, 0, 0, 0, 0};

	seg(40000, 7000, 0, TH_SYN, 65535, o, sizeof(o), NULL, 0);
	assert_int_equal(S.n, 1);
	struct out *sa = &S.q[0];
	int ws = opt_at(sa, 3), ts = opt_at(sa, 8);

	assert_true(ws >= 0 && ts >= 0 && has_opt(sa, 4));
	assert_int_equal(sa->opts[ws + 2], 5); /* our shift for 1 MiB */
	assert_int_equal(sa->win, 65535);     /* SYN-ACK window never scaled */
	uint32_t tsval = rd32(sa->opts + ts + 2), now_ts = (uint32_t)(S.now / 1000);

	assert_int_equal(rd32(sa->opts + ts + 6), 50); /* echoes the SYN's */
	assert_int_equal(tsval & 0x3f, 7 | 16);
	assert_true(tsval <= now_ts && now_ts - tsval < 64);
	uint32_t isn = sa->seq;
	struct net_stats st;

	net_stats(S.st, &st);
	assert_int_equal(st.conns_in_use, 0); /* still stateless */

	/* a TSecr ahead of our clock is no echo of ours: refused */
	uint8_t a[] = {1, 1, 8, 10, 0, 0, 0, 51, 0, 0, 0, 0};

	wr32(a + 8, now_ts + 1000);
	S.n = 0;
	seg(40000, 7001, isn + 1, TH_ACK, 1024, a, sizeof(a), NULL, 0);
	assert_null(S.conn);
	assert_int_equal(S.q[0].flags & TH_RST, TH_RST);
	/* nor one with the reserved (ECN) bit set */
	wr32(a + 8, tsval | 32);
	seg(40000, 7001, isn + 1, TH_ACK, 1024, a, sizeof(a), NULL, 0);
	assert_null(S.conn);

	advance(3000); /* the echo comes back a few ms later */
	wr32(a + 8, tsval);
	S.n = 0;
	seg(40000, 7001, isn + 1, TH_ACK, 1024, a, sizeof(a), NULL, 0);
	assert_non_null(S.conn);
	assert_true(S.conn->from_cookie && S.conn->ts_ok && S.conn->sack_ok && S.conn->ws_ok);
	assert_int_equal(S.conn->snd_wscale, 7);
	assert_int_equal(S.conn->rcv_wscale, 5);
	assert_int_equal(S.conn->snd_wnd, 1024u << 7);
	assert_int_equal(S.conn->mss, 1460 - 12);
	/* what we send afterwards carries TS echoing the peer, and a scaled window */
	assert_int_equal(tcp_send(S.conn, (const uint8_t *)"hello", 5), 5);
	assert_true(S.n >= 1);
	struct out *d = &S.q[S.n - 1];

	ts = opt_at(d, 8);
	assert_true(ts >= 0);
	assert_int_equal(rd32(d->opts + ts + 6), 51);
	assert_int_equal(d->win, (1u << 20) >> 5);
	stop();

	/* timestamps but no window scaling or SACK in the SYN: neither on */
	start(cookies_always);
	const uint8_t o2[] = {2, 4, 5, 0xb4, 1, 1, 8, 10, 0, 0, 0, 50, 0, 0, 0, 0};

	seg(40001, 7000, 0, TH_SYN, 65535, o2, sizeof(o2), NULL, 0);
	assert_int_equal(S.n, 1);
	sa = &S.q[0];
	assert_false(has_opt(sa, 3) || has_opt(sa, 4));
	ts = opt_at(sa, 8);
	tsval = rd32(sa->opts + ts + 2);
	assert_int_equal(tsval & 0x3f, 0xf);
	wr32(a + 8, tsval);
	seg(40001, 7001, sa->seq + 1, TH_ACK, 1024, a, sizeof(a), NULL, 0);
	assert_non_null(S.conn);
	assert_true(S.conn->ts_ok && !S.conn->ws_ok && !S.conn->sack_ok);
	assert_int_equal(S.conn->snd_wnd, 1024);
	stop();
}

static void test_syncookie_ts_codec(void **state)
{
	(void)state;
	struct syncookie_opts in = {.ws_ok = true, .sack_ok = true, .snd_wscale = 14}, out;

	/* the clock's low bits below the options: step back a block */
	uint32_t v = syncookie_ts_encode(1000000 + 3, &in);

	assert_int_equal(v & 0x3f, 14 | 16);
	assert_true(v <= 1000000 + 3 && 1000000 + 3 - v < 64);
	assert_true(syncookie_ts_decode(v, 1000010, &out));
	assert_true(out.ws_ok && out.sack_ok);
	assert_int_equal(out.snd_wscale, 14);
	/* around the 32-bit wrap */
	v = syncookie_ts_encode(5, &in);
	assert_true(syncookie_ts_decode(v, 20, &out));
	assert_int_equal(out.snd_wscale, 14);
	/* too old; the reserved bit; shift 15 is "no window scaling" */
	assert_false(syncookie_ts_decode(v, v + 200000, &out));
	assert_false(syncookie_ts_decode(1000 | 32, 2000, &out));
	assert_true(syncookie_ts_decode(1024 | 15, 2000, &out));
	assert_false(out.ws_ok || out.sack_ok);
}

/* ---- sender loss recovery, scripted segment by segment ---- */

#define M 1460u /* the MSS of handshake(.., false) */

static void big_sndbuf(struct net_config *c)
{
	c->snd_buf_bytes = 1 << 16;
}

/* The recovery tests below count windows in NewReno's halves; CUBIC has
 * tests of its own. */
static uint8_t g_cc = NET_CC_NEWRENO;

/* ...and DupThresh's rules alone: their ACKs come back with no time
 * passing, which RACK (tested on its own below) would read as loss. */
static bool g_rack;
/* ...and, unless a test is about it, without the recovery probe (the
 * scripted recoveries below predate it and time their ACKs freely) */
static bool g_rec_probe;

static void rec_cfg(struct net_config *c)
{
	big_sndbuf(c);
	c->cc = g_cc;
	c->no_rack = !g_rack;
	c->no_rec_probe = !g_rec_probe;
}

static struct {
	uint32_t base;
	uint8_t data[40 * M];
} R;

/* Connection with SACK (no timestamps), n segments queued; the first 10
 * (initial window) go out. Returns after checking them. */
static void rec_start(uint32_t nsegs)
{
	start(rec_cfg);
	R.base = handshake(40000, false) + 1;
	for (uint32_t i = 0; i < sizeof(R.data); i++)
		R.data[i] = (uint8_t)(i * 7 + i / 251);
	S.n = 0;
	assert_int_equal(tcp_send(S.conn, R.data, nsegs * M), (int32_t)(nsegs * M));
	assert_int_equal(S.n, 10);
	for (uint32_t k = 0; k < 10; k++) {
		assert_int_equal(S.q[k].seq, R.base + k * M);
		assert_int_equal(S.q[k].len, M);
	}
	S.n = 0;
	advance(10000); /* RTT 10 ms for the first sample */
}

/* A peer ACK of segments [0, ack_seg) with SACK blocks given as segment
 * index pairs [a, b); -1 ends the list. */
static void rec_ack(uint32_t ack_seg, ...)
{
	uint8_t o[40];
	uint32_t n = 0, nb = 0;
	va_list ap;

	o[n++] = 1;
	o[n++] = 1;
	o[n++] = 5;
	o[n++] = 2;
	va_start(ap, ack_seg);
	for (int a = va_arg(ap, int); a >= 0 && nb < 4; a = va_arg(ap, int)) {
		int b = va_arg(ap, int);

		wr32(o + n, R.base + (uint32_t)a * M);
		wr32(o + n + 4, R.base + (uint32_t)b * M);
		n += 8;
		nb++;
	}
	va_end(ap);
	o[3] = (uint8_t)(2 + 8 * nb);
	seg(40000, 1001, R.base + ack_seg * M, TH_ACK, 1024, o, nb ? n : 0, NULL, 0);
}

/* The segments sent since the last check, as segment indexes (all M long). */
static void rec_expect(uint32_t n, ...)
{
	va_list ap;

	va_start(ap, n);
	for (uint32_t i = 0; i < n && i < S.n; i++) {
		uint32_t k = va_arg(ap, uint32_t);

		assert_int_equal(S.q[i].seq, R.base + k * M);
		assert_int_equal(S.q[i].len, M);
		assert_memory_equal(S.q[i].data, R.data + k * M, M);
	}
	va_end(ap);
	assert_int_equal(S.n, n);
	S.n = 0;
}

static uint64_t rec_rtos(void)
{
	struct net_stats st;

	net_stats(S.st, &st);
	return st.tcp_rto;
}

/* One segment lost in the middle: three SACKed duplicates start RFC 6675
 * recovery (cwnd = ssthresh = half the flight), the hole is resent at once,
 * then pipe paces new data until the recovery point is ACKed. */
static void test_recovery_middle_loss(void **state)
{
	(void)state;
	rec_start(30);
	rec_ack(3, -1);			/* 0..2 arrive: cwnd 12, sends 10..14 */
	rec_expect(5, 10, 11, 12, 13, 14);
	rec_ack(3, 4, 5, -1);		/* 3 lost */
	rec_ack(3, 4, 6, -1);
	rec_expect(0);
	rec_ack(3, 4, 7, -1);		/* third duplicate: 3 is lost */
	rec_expect(1, 3);
	assert_true(S.conn->in_recovery);
	assert_int_equal(S.conn->ssthresh, 6 * M); /* flight 12 / 2 */
	assert_int_equal(S.conn->cwnd, 9 * M);	/* PRR: pipe 8 + the resend */
	rec_ack(3, 4, 8, -1);		/* pipe 1 (resent 3) + 7 (8..14) */
	rec_ack(3, 4, 9, -1);		/* PRR: 3 delivered * 6 / 12 = 1.5 sent */
	rec_ack(3, 4, 10, -1);		/* pipe 6 = ssthresh: nothing yet */
	rec_expect(0);
	rec_ack(3, 4, 11, -1);		/* pipe 5: one new segment */
	rec_expect(1, 15);
	rec_ack(11, -1);		/* partial ACK: pipe 5 (11..15), one more */
	rec_expect(1, 16);
	assert_true(S.conn->in_recovery);
	rec_ack(16, -1);		/* past the recovery point (15): done */
	assert_false(S.conn->in_recovery);
	assert_int_equal(S.conn->cwnd, 6 * M); /* RFC 6937: cwnd = ssthresh */
	rec_expect(5, 17, 18, 19, 20, 21); /* 16 still in flight */
	assert_int_equal(rec_rtos(), 0);
	stop();
}

/* Several holes (2, 5, 8 lost): each is resent once the SACKed data above it
 * makes it IsLost and pipe leaves room, lowest first, without an RTO. */
static void test_recovery_several_holes(void **state)
{
	(void)state;
	rec_start(30);
	rec_ack(2, -1);			/* 0, 1 arrive: cwnd 12, sends 10..13 */
	rec_expect(4, 10, 11, 12, 13);
	rec_ack(2, 3, 4, -1);		/* 2 lost */
	rec_ack(2, 3, 5, -1);
	rec_expect(0);
	rec_ack(2, 6, 7, 3, 5, -1);	/* 5 lost too; third duplicate */
	rec_expect(1, 2);		/* ssthresh 6 = 12 / 2; pipe 1 + 1 (5) + 7 (7..13) */
	assert_int_equal(S.conn->ssthresh, 6 * M);
	assert_int_equal(S.conn->cwnd, 9 * M); /* PRR: pipe 8 + the resend */
	rec_ack(2, 8, 9, 6, 7, 3, 5, -1); /* 7 lost too */
	rec_expect(0);			/* pipe 1 + 1 (5) + 1 (7) + 5 (9..13) */
	rec_ack(2, 10, 11, 8, 9, 6, 7, 3, 5, -1); /* 5 IsLost: 3 runs above it */
	rec_expect(0);			/* pipe 1 + 0 + 1 + 1 + 3 = 6 */
	rec_ack(2, 10, 12, 8, 9, 6, 7, 3, 5, -1); /* 7 IsLost: 3 MSS above it */
	rec_expect(2, 5, 7);		/* pipe 4: two lost holes, lowest first */
	rec_ack(2, 10, 13, 8, 9, 6, 7, 3, 5, -1); /* 9 IsLost: pipe 4 again */
	rec_expect(2, 9, 14);		/* the last hole, then new data (rule 2) */
	rec_ack(13, -1);		/* resent ones arrive: partial ACK, pipe 2 */
	rec_expect(4, 15, 16, 17, 18);
	assert_true(S.conn->in_recovery);
	rec_ack(19, -1);		/* past the recovery point (14) */
	assert_false(S.conn->in_recovery);
	rec_expect(6, 19, 20, 21, 22, 23, 24); /* cwnd = ssthresh (RFC 6937) */
	assert_int_equal(rec_rtos(), 0);
	stop();
}

/* The last segment lost: the tail-loss probe (PTO = 2 * SRTT = 20 ms)
 * resends it long before the 200 ms RTO. */
static void test_recovery_last_segment_lost(void **state)
{
	(void)state;
	rec_start(10);
	rec_ack(9, -1);			/* 9 lost; nothing new to send */
	rec_expect(0);
	advance(15000);
	rec_expect(0);
	advance(10000);			/* 25 ms after the ACK */
	rec_expect(1, 9);
	rec_ack(10, -1);
	assert_int_equal(rec_rtos(), 0);
	assert_false(S.conn->in_recovery);
	stop();
}

/* The last three lost: the probe resends 9, its SACK makes RACK (RFC 8985
 * 6.2) call 7 and 8 lost, and recovery resends both at once, no RTO. */
static void test_recovery_tail_lost(void **state)
{
	(void)state;
	rec_start(10);
	rec_ack(7, -1);			/* 7, 8, 9 lost */
	rec_expect(0);
	advance(25000);
	rec_expect(1, 9);		/* the probe */
	advance(10000);
	rec_ack(7, 9, 10, -1);		/* the probe arrived, 7 and 8 did not */
	assert_true(S.conn->in_recovery);
	rec_expect(2, 7, 8);		/* cwnd 2 (ssthresh floor), pipe 1 then 2 */
	rec_ack(10, -1);
	assert_false(S.conn->in_recovery);
	assert_int_equal(rec_rtos(), 0);
	stop();
}

/* The probe itself lost: a second one goes out two PTOs later (at 70 ms,
 * where one probe alone waits for the RTO at 230 ms), its SACK makes RACK call 7 and 8 lost, and recovery
 * resends them: no RTO. */
static void test_recovery_tail_second_probe(void **state)
{
	(void)state;
	rec_start(10);
	rec_ack(7, -1);			/* 10 ms: 7, 8, 9 lost */
	advance(21000);
	rec_expect(1, 9);		/* 30 ms: the probe, lost */
	advance(38000);
	rec_expect(0);			/* 69 ms */
	advance(2000);
	rec_expect(1, 9);		/* 70 ms: the second probe */
	advance(10000);
	rec_ack(7, 9, 10, -1);		/* it arrived; 7 and 8 did not */
	assert_true(S.conn->in_recovery);
	rec_expect(2, 7, 8);
	rec_ack(10, -1);
	assert_false(S.conn->in_recovery);
	assert_int_equal(rec_rtos(), 0);
	stop();
}

/* The probe SACKed right after the tail was sent (a very short gap) is no
 * proof of loss: RACK waits RTT + reo_wnd, so nothing is resent early. */
static void test_recovery_tail_probe_too_soon(void **state)
{
	(void)state;
	rec_start(10);
	rec_ack(7, -1);			/* 7..9 outstanding, the probe due in 20 ms */
	advance(18000);
	assert_int_equal(tcp_send(S.conn, R.data + 10 * M, M), (int32_t)M);
	rec_expect(1, 10);		/* 2 ms before the probe */
	advance(3000);
	rec_expect(1, 10);		/* the probe: the last segment again */
	advance(1000);
	rec_ack(7, 10, 11, -1);		/* the probe SACKed, 3 ms after 10 went out */
	rec_expect(0);			/* RTT + reo_wnd not yet passed: no verdict */
	assert_false(S.conn->in_recovery);
	assert_false(S.conn->rack_lost);
	stop();
}

/* A spurious timeout (the ACKs were only late): F-RTO (RFC 5682) resends
 * segment 0, then answers the first late ACK with two new segments instead
 * of going back; the second ACK of new data proves the timeout spurious and
 * 5..9 are never resent. */
static void test_recovery_spurious_timeout(void **state)
{
	(void)state;
	rec_start(30);
	advance(200000);		/* RTO (200 ms floor, 1 s before a sample) */
	advance(900000);
	rec_expect(1, 0);
	assert_int_equal(rec_rtos(), 1);
	assert_int_equal(S.conn->frto, 1);
	rec_ack(5, -1);			/* the late ACKs */
	rec_expect(2, 10, 11);
	rec_ack(10, -1);		/* spurious: cwnd = ssthresh 5, +1 (CA), flight 2 */
	assert_int_equal(S.conn->frto, 0);
	rec_expect(4, 12, 13, 14, 15);	/* new data, not 5..9 again */
	rec_ack(16, -1);
	assert_true(S.n > 0);
	for (uint32_t i = 0; i < S.n; i++)
		assert_true(S.q[i].seq >= R.base + 16 * M);
	S.n = 0;
	assert_int_equal(rec_rtos(), 1);
	stop();
}

/* A real timeout under F-RTO: the probe's new segments bring duplicate ACKs,
 * so the sender goes back and resends from SND.UNA. */
static void test_recovery_timeout_real_loss(void **state)
{
	(void)state;
	rec_start(30);
	advance(1100000);
	rec_expect(1, 0);
	rec_ack(5, -1);			/* 0 arrived (the resend), 5..9 lost */
	rec_expect(2, 10, 11);
	rec_ack(5, 10, 11, -1);		/* a duplicate: the timeout was real */
	assert_int_equal(S.conn->frto, 0);
	assert_true(S.n >= 1);
	assert_int_equal(S.q[0].seq, R.base + 5 * M); /* back to 5 */
	stop();
}

/* Data timeouts are counted by their situation: no probe armed (no RTT
 * sample yet), then its backed-off repeat; a stalled SACK recovery; an
 * unanswered tail-loss probe. */
static void test_rto_causes(void **state)
{
	(void)state;
	struct net_stats st;

	rec_start(30); /* no ACK at all: no sample, so no probe */
	advance(1100000);
	rec_expect(1, 0);
	advance(2100000); /* backed off: 2 s */
	rec_expect(1, 0);
	net_stats(S.st, &st);
	assert_int_equal(st.tcp_rto, 2);
	assert_int_equal(st.tcp_rto_no_tlp, 1);
	assert_int_equal(st.tcp_rto_repeat, 1);
	assert_int_equal(st.tcp_rto_recovery + st.tcp_rto_after_tlp, 0);
	stop();

	rec_start(30); /* recovery whose resend is lost, and nothing after */
	rec_ack(1, 2, 5, -1);
	rec_ack(1, 2, 6, -1);
	rec_ack(1, 2, 7, -1);
	assert_true(S.conn->in_recovery);
	S.n = 0;
	advance(300000); /* RTO 200 ms (the floor) */
	net_stats(S.st, &st);
	assert_int_equal(st.tcp_rto, 1);
	assert_int_equal(st.tcp_rto_recovery, 1);
	stop();

	rec_start(30); /* the window ACKed (a sample), the next flight lost */
	rec_ack(10, -1);
	assert_true(S.n > 0);
	S.n = 0;
	advance(100000); /* PTO = 2 * SRTT = 20 ms: the probe, 40 ms later the second */
	net_stats(S.st, &st);
	assert_int_equal(st.tcp_rexmit_tlp, 2); /* resends of the last segment */
	assert_int_equal(S.n, 2);
	assert_int_equal(S.q[0].seq, S.q[1].seq);
	S.n = 0;
	advance(250000);
	net_stats(S.st, &st);
	assert_int_equal(st.tcp_rto, 1);
	assert_int_equal(st.tcp_rto_after_tlp, 1);
	stop();
}

/* Reordering: segment 3 is late by two duplicate ACKs: no retransmission. */
static void test_recovery_reorder_below_threshold(void **state)
{
	(void)state;
	rec_start(30);
	rec_ack(3, -1);
	rec_expect(5, 10, 11, 12, 13, 14);
	rec_ack(3, 4, 5, -1);
	rec_ack(3, 4, 6, -1);
	rec_ack(7, -1);			/* 3 turns up */
	assert_false(S.conn->in_recovery);
	rec_expect(6, 15, 16, 17, 18, 19, 20); /* slow start: cwnd 14, flight 8 */
	assert_int_equal(S.conn->cwnd, 14 * M);
	stop();
}

/* Reordering past DupThresh looks like loss to RFC 6675: one spurious
 * retransmission, and the cumulative ACK then ends recovery. */
static void test_recovery_reorder_above_threshold(void **state)
{
	(void)state;
	rec_start(30);
	rec_ack(3, -1);
	rec_expect(5, 10, 11, 12, 13, 14);
	rec_ack(3, 4, 5, -1);
	rec_ack(3, 4, 6, -1);
	rec_ack(3, 4, 7, -1);
	rec_expect(1, 3);
	rec_ack(15, -1);		/* the original 3 was only late */
	assert_false(S.conn->in_recovery);
	assert_int_equal(S.conn->ssthresh, 6 * M); /* no undo (no DSACK, no Eifel) */
	rec_expect(6, 15, 16, 17, 18, 19, 20); /* cwnd = ssthresh (RFC 6937) */
	stop();
}

static uint64_t stat_of(size_t off)
{
	struct net_stats st;

	net_stats(S.st, &st);
	return *(const uint64_t *)((const uint8_t *)&st + off);
}
#define STAT(f) stat_of(offsetof(struct net_stats, f))

/* PRR (RFC 6937) on one hole in a flight of 14: while pipe is above
 * ssthresh (7), one segment goes out per two delivered (ssthresh /
 * RecoverFS = 1/2), not none until pipe falls below cwnd as with cwnd =
 * ssthresh on entry; once pipe reaches ssthresh, PRR-SSRB sends one per
 * segment delivered. Exact segments and cwnd at every ACK. */
/* RACK (RFC 8985 6.2), with its ACKs spaced in time. The first 10 segments
 * went out at t = 0 and 0..2 are ACKed at 10 ms: RACK.rtt = min_RTT = 10
 * ms, reo_wnd = min_RTT / 4 = 2.5 ms. */
static void rack_start(void)
{
	g_rack = true;
	rec_start(30);
	g_rack = false;
	rec_ack(3, -1);
	rec_expect(5, 10, 11, 12, 13, 14);
}

/* Reordering inside the window: 4 SACKed 1 ms later makes 3 due at 13.5 ms
 * (sent at 0, + RACK.rtt 11 ms + reo_wnd); it turns up at 12 ms, so the
 * reordering timer marks nothing and 3 is never resent. */
static void test_rack_reorder_below_window(void **state)
{
	(void)state;
	rack_start();
	advance(1000);
	rec_ack(3, 4, 5, -1);
	rec_expect(0);
	assert_int_not_equal(S.conn->rk.t_reo, 0);
	advance(1000);
	rec_ack(5, -1);			/* 3 arrives: slow start sends new data */
	rec_expect(4, 15, 16, 17, 18);
	advance(5000);			/* past 13.5 ms */
	rec_expect(0);
	assert_false(S.conn->in_recovery);
	assert_int_equal(stat_of(offsetof(struct net_stats, tcp_rack_marks)), 0);
	assert_int_equal(stat_of(offsetof(struct net_stats, tcp_retransmits)), 0);
	stop();
}

/* Reordering (or loss) beyond the window with a single duplicate ACK,
 * far below DupThresh: the reordering timer fires at 13.5 ms, marks 3 lost
 * and recovery resends it then, not at the probe (30 ms) or the RTO. */
static void test_rack_reorder_above_window(void **state)
{
	(void)state;
	rack_start();
	advance(1000);
	rec_ack(3, 4, 5, -1);		/* one duplicate ACK at 11 ms */
	rec_expect(0);
	advance(2000);			/* 13 ms: not yet */
	rec_expect(0);
	assert_false(S.conn->in_recovery);
	advance(1000);			/* 14 ms: the timer has fired */
	assert_true(S.conn->in_recovery);
	assert_true(S.n >= 1);
	assert_int_equal(S.q[0].seq, R.base + 3 * M);
	assert_int_equal(stat_of(offsetof(struct net_stats, tcp_rack_marks)), 1);
	assert_int_equal(stat_of(offsetof(struct net_stats, tcp_rexmit_tlp)), 0);
	assert_int_equal(rec_rtos(), 0);
	stop();
}

/* A lost retransmission: 3 is lost, resent by fast retransmit at 10 ms, and
 * the resend is lost too. When 10..14 (sent with it) are SACKed, RACK
 * calls the resend lost reo_wnd later and 3 goes out a third time, without
 * the RTO that NextSeg alone (which never goes back below HighRxt) needs. */
static void test_rack_lost_retransmission(void **state)
{
	(void)state;
	rack_start();
	rec_ack(3, 4, 5, -1);
	rec_ack(3, 4, 6, -1);
	rec_ack(3, 4, 7, -1);		/* third duplicate: 3 resent */
	rec_expect(1, 3);
	assert_true(S.conn->in_recovery);
	advance(10000);			/* 20 ms: 8, 9 and 10..14 SACKed */
	rec_ack(3, 4, 10, -1);
	rec_ack(3, 4, 15, -1);
	S.n = 0;			/* PRR's new data, not the point here */
	advance(1000);
	for (uint32_t i = 0; i < S.n; i++)
		assert_int_not_equal(S.q[i].seq, R.base + 3 * M); /* not before reo_wnd */
	S.n = 0;
	advance(2000);			/* 23 ms: the resend is 2.5 ms overdue */
	bool again = false;

	for (uint32_t i = 0; i < S.n; i++)
		again |= S.q[i].seq == R.base + 3 * M;
	assert_true(again);
	S.n = 0;
	assert_int_equal(rec_rtos(), 0);
	rec_ack(25, -1);		/* the third copy arrives */
	assert_int_equal(rec_rtos(), 0);
	stop();
}

/* The recovery probe (tcp_timer.c), scripted: 10 segments sent at t = 0,
 * 0..2 ACKed at 10 ms (SRTT 10 ms, PTO 20 ms), 3 lost; three SACKs start
 * recovery and resend 3, and that resend is lost too. Every other segment
 * is SACKed and there is no new data, so nothing sent after the resend can
 * show RACK that it is lost. */
static void rec_probe_start(bool probe)
{
	g_rack = true;
	g_rec_probe = probe;
	rec_start(10);
	g_rack = false;
	g_rec_probe = false;
	rec_ack(3, 4, 5, -1);
	rec_ack(3, 4, 6, -1);
	rec_ack(3, 4, 7, -1);		/* third duplicate, t = 10 ms: 3 resent */
	rec_expect(1, 3);
	assert_true(S.conn->in_recovery);
	advance(1000);
	rec_ack(3, 4, 8, -1);		/* SACKs go on coming; the resend is lost */
	rec_expect(0);
}

/* With the probe: a PTO after recovery began (30 ms), 3 goes out a third
 * time, and its ACK ends recovery without an RTO (cwnd is untouched: the
 * probe is no congestion response). */
static void test_rec_probe_lost_resend(void **state)
{
	(void)state;
	rec_probe_start(true);
	rec_ack(3, 4, 10, -1);		/* 11 ms: all in but 3 */
	advance(18000);			/* 29 ms */
	rec_expect(0);
	advance(2000);			/* 31 ms: the probe */
	rec_expect(1, 3);
	assert_int_equal(STAT(tcp_rec_probes), 1);
	assert_true(S.conn->in_recovery);
	rec_ack(10, -1);
	assert_false(S.conn->in_recovery);
	assert_int_equal(rec_rtos(), 0);
	stop();
}

/* SACKs arriving do not hold the probe back (only an ACK of new data
 * re-arms it): SACKs at 11 and 26 ms (9 goes out as RFC 6675's rescue at
 * 26), and still 3 goes out at 30 ms. Holding it back until the SACKs
 * stopped let a recovery with a stuck hole run on new data for hundreds
 * of ms at 1% loss (perf/RESULTS.md, 2026-12-03 21:15 UTC). */
static void test_rec_probe_while_sacks_arrive(void **state)
{
	(void)state;
	rec_probe_start(true);
	advance(15000);
	rec_ack(3, 4, 9, -1);		/* 26 ms */
	rec_expect(1, 9);		/* the rescue */
	advance(3000);			/* 29 ms */
	rec_expect(0);
	advance(2000);			/* 31 ms: the probe */
	rec_expect(1, 3);
	assert_int_equal(STAT(tcp_rec_probes), 1);
	advance(10000);
	rec_ack(10, -1);		/* 41 ms: the probe's copy arrived */
	assert_false(S.conn->in_recovery);
	assert_int_equal(rec_rtos(), 0);
	stop();
}

/* The resend arrived and its ACK was lost: the probe draws an ACK that
 * DSACKs it and covers everything. That ACK is slow: a second probe would
 * wait two PTOs (70 ms), so nothing is resent again before it. */
static void test_rec_probe_ack_lost(void **state)
{
	(void)state;
	rec_probe_start(true);
	rec_ack(3, 4, 10, -1);		/* 11 ms */
	advance(21000);			/* 32 ms: the probe */
	rec_expect(1, 3);
	advance(30000);			/* its ACK is late too: no second probe */
	rec_expect(0);
	rec_ack(10, 3, 4, -1);		/* ACK of all, DSACK of the probe */
	assert_false(S.conn->in_recovery);
	rec_expect(0);
	assert_int_equal(rec_rtos(), 0);
	assert_int_equal(STAT(tcp_rec_probes), 1);
	stop();
}

/* After an RTO, one probe too: a flight of 12 (10..21) lost whole, two
 * tail-loss probes of 21 (30, 70 ms) unanswered, the RTO at 270 ms resends
 * 10, and that resend is lost as well. Two PTOs later (310 ms) 10 goes out
 * again, where the backed-off RTO would wait until 670 ms. */
static void test_rec_probe_after_rto(void **state)
{
	(void)state;
	g_rec_probe = true;
	rec_start(30);
	g_rec_probe = false;
	rec_ack(10, -1);		/* 10 ms: SRTT 10 ms, 10..21 sent */
	S.n = 0;
	advance(259000);		/* 269 ms */
	assert_int_equal(S.n, 2);	/* the two probes, of 21 */
	assert_int_equal(S.q[0].seq, R.base + 21 * M);
	assert_int_equal(S.q[1].seq, R.base + 21 * M);
	S.n = 0;
	advance(2000);			/* 271 ms: the RTO */
	rec_expect(1, 10);
	assert_int_equal(rec_rtos(), 1);
	advance(38000);			/* 309 ms */
	rec_expect(0);
	advance(2000);			/* 311 ms: the probe */
	rec_expect(1, 10);
	assert_int_equal(STAT(tcp_rec_probes), 1);
	advance(100000);		/* nothing more before the RTO (710 ms) */
	rec_expect(0);
	rec_ack(11, -1);
	assert_int_equal(rec_rtos(), 1);
	stop();
}

/* Without the probe (net_config.no_rec_probe; Linux's behaviour: RFC 8985
 * arms no probe in recovery) the same loss waits for the 200 ms RTO. */
static void test_rec_probe_off(void **state)
{
	(void)state;
	rec_probe_start(false);
	rec_ack(3, 4, 10, -1);
	advance(150000);
	rec_expect(0);
	advance(100000);		/* the RTO, 200 ms after the entry's arming */
	assert_int_equal(rec_rtos(), 1);
	assert_true(S.n >= 1);
	assert_int_equal(S.q[0].seq, R.base + 3 * M);
	S.n = 0;
	assert_int_equal(STAT(tcp_rec_probes), 0);
	stop();
}

/* DSACK grows reo_wnd (RFC 8985 6.2 step 4): after a DSACK the window is
 * 2 * min_RTT / 4 = 5 ms, so the hole of test_rack_reorder_above_window is
 * resent at 16 ms, not 13.5 ms. */
static void test_rack_dsack_grows_window(void **state)
{
	(void)state;
	rack_start();
	rec_ack(3, 1, 2, -1);		/* DSACK: 1 arrived twice */
	rec_expect(0);
	assert_int_equal(S.conn->rk.reo_mult, 2);
	advance(1000);
	rec_ack(3, 4, 5, -1);
	advance(3000);			/* 14 ms: the default window would have fired */
	rec_expect(0);
	assert_false(S.conn->in_recovery);
	advance(2000);			/* 16 ms */
	assert_true(S.conn->in_recovery);
	assert_true(S.n >= 1);
	assert_int_equal(S.q[0].seq, R.base + 3 * M);
	S.n = 0;
	stop();
}

static void test_prr_proportional(void **state)
{
	(void)state;
	rec_start(40);
	rec_ack(5, -1);			/* cwnd 12: 10..16 */
	rec_expect(7, 10, 11, 12, 13, 14, 15, 16);
	rec_ack(10, -1);		/* cwnd 14: 17..23, flight 14 (10..23) */
	rec_expect(7, 17, 18, 19, 20, 21, 22, 23);
	rec_ack(10, 11, 12, -1);	/* 10 lost */
	rec_ack(10, 11, 13, -1);
	rec_expect(0);
	rec_ack(10, 11, 14, -1);	/* third duplicate: RecoverFS 14, ssthresh 7 */
	assert_int_equal(S.conn->ssthresh, 7 * M);
	assert_int_equal(S.conn->recover_fs, 14 * M);
	assert_int_equal(S.conn->cwnd, 11 * M); /* pipe 10 + the resend */
	rec_expect(1, 10);
	rec_ack(10, 11, 15, -1);	/* delivered 2: 2 * 7/14 = 1 already out */
	assert_int_equal(S.conn->cwnd, 10 * M);
	rec_expect(0);
	rec_ack(10, 11, 16, -1);	/* delivered 3: 1.5, half a segment of room */
	assert_int_equal(S.conn->cwnd, 9 * M + M / 2);
	rec_expect(0);
	rec_ack(10, 11, 17, -1);	/* delivered 4: 2: one new segment */
	assert_int_equal(S.conn->cwnd, 9 * M);
	rec_expect(1, 24);
	rec_ack(10, 11, 18, -1);	/* delivered 5: 2.5 */
	assert_int_equal(S.conn->cwnd, 8 * M + M / 2);
	rec_expect(0);
	rec_ack(10, 11, 19, -1);	/* pipe 7 = ssthresh: SSRB, no room */
	assert_int_equal(S.conn->cwnd, 7 * M);
	rec_expect(0);
	rec_ack(10, 11, 20, -1);	/* pipe 6: one per segment delivered */
	assert_int_equal(S.conn->cwnd, 7 * M);
	rec_expect(1, 25);
	rec_ack(26, -1);		/* past the recovery point (24) */
	assert_false(S.conn->in_recovery);
	assert_int_equal(S.conn->cwnd, 7 * M); /* RFC 6937: cwnd = ssthresh */
	rec_expect(7, 26, 27, 28, 29, 30, 31, 32);
	assert_int_equal(STAT(tcp_prr_episodes), 1);
	assert_int_equal(STAT(tcp_rexmit_recovery), 1);
	assert_int_equal(rec_rtos(), 0);
	stop();
}

/* A spurious fast retransmit undone by DSACK (RFC 2883 4): 3 and 4 are
 * only late, recovery resends both, the originals end it; the peer then
 * reports each resend as received twice. One DSACK is not enough (4 may
 * have been lost); once every resend of the episode is DSACKed, cwnd and
 * ssthresh go back to where they were (Linux-style undo) and slow start
 * resumes. A DSACK below the episode's start, of a segment never resent
 * (a network duplicate) or of a resend already counted means nothing. */
static void test_dsack_undo(void **state)
{
	(void)state;
	rec_start(40);
	rec_ack(3, -1);			/* cwnd 12: 10..14, flight 12 */
	rec_expect(5, 10, 11, 12, 13, 14);
	rec_ack(3, 5, 6, -1);		/* 3 and 4 late */
	rec_ack(3, 5, 7, -1);
	rec_ack(3, 5, 8, -1);		/* third duplicate: recovery */
	rec_expect(1, 3);
	assert_int_equal(S.conn->ssthresh, 6 * M);
	rec_ack(3, 5, 9, -1);
	rec_ack(3, 5, 10, -1);
	rec_expect(0);
	rec_ack(3, 5, 11, -1);		/* PRR: pipe 5 < ssthresh: resend 4 */
	rec_expect(1, 4);
	rec_ack(15, -1);		/* the originals: recovery ends */
	assert_false(S.conn->in_recovery);
	assert_int_equal(S.conn->cwnd, 6 * M);
	rec_expect(6, 15, 16, 17, 18, 19, 20);
	/* DSACKs ride on duplicate and new ACKs alike (a DSACK-only ACK is
	 * still a duplicate ACK: 5 of them in a row would start recovery) */
	rec_ack(15, 1, 2, -1);		/* before the episode: ignored */
	rec_ack(15, 5, 6, -1);		/* a network duplicate of an original */
	rec_ack(16, 3, 4, -1);		/* the resent 3 arrived twice */
	assert_int_equal(S.conn->cwnd, 6 * M);
	assert_int_equal(STAT(tcp_dsack_undo), 0);
	rec_expect(1, 21);
	rec_ack(16, 3, 4, -1);		/* ... and again: counted once */
	assert_int_equal(STAT(tcp_dsack_undo), 0);
	rec_expect(0);
	rec_ack(17, 4, 5, -1);		/* and 4: every resend needless */
	assert_int_equal(STAT(tcp_dsack_undo), 1);
	assert_int_equal(S.conn->ssthresh, TCP_CWND_MAX); /* slow start again */
	assert_int_equal(S.conn->cwnd, 13 * M); /* 12 back, + 1 slow start */
	rec_expect(8, 22, 23, 24, 25, 26, 27, 28, 29);
	rec_ack(17, 4, 5, -1);		/* the same DSACK again: once only */
	assert_int_equal(STAT(tcp_dsack_undo), 1);
	stop();
}

/* CUBIC (the default): the same loss as test_recovery_middle_loss reduces
 * ssthresh to 0.7 of the flight (RFC 9438 4.6) and remembers W_max; a
 * second loss below W_max releases more (fast convergence, 4.7). */
static void test_cubic_reduction(void **state)
{
	(void)state;
	g_cc = NET_CC_CUBIC;
	rec_start(30);
	g_cc = NET_CC_NEWRENO;
	rec_ack(3, -1);
	rec_expect(5, 10, 11, 12, 13, 14);
	rec_ack(3, 4, 5, -1);
	rec_ack(3, 4, 6, -1);
	rec_ack(3, 4, 7, -1);		/* flight 12, cwnd 12 */
	assert_true(S.conn->in_recovery);
	assert_int_equal(S.conn->ssthresh, (uint32_t)(12 * M * 0.7));
	assert_true(fabs(S.conn->cu.w_max - 12.0) < 1e-9);
	assert_int_equal(S.conn->cwnd, 9 * M); /* PRR: pipe 8 + the resend */
	rec_expect(1, 3);
	S.conn->cwnd = 10 * M;		/* as if the next loss came at 10 */
	(void)tcp_cc_ssthresh(S.conn);
	assert_true(fabs(S.conn->cu.w_max - 10.0 * 1.7 / 2) < 1e-9);
	stop();
}

/* A connection for driving tcp_cc_ack() directly on a simulated clock. */
static struct tcp_conn *cc_conn(uint8_t cc, uint32_t rtt_us)
{
	g_cc = cc;
	start(rec_cfg);
	g_cc = NET_CC_NEWRENO;
	(void)handshake(40000, false);
	S.conn->rto.srtt_us = rtt_us;
	return S.conn;
}

/* One RTT of ACKs, one per MSS of the window at its start, evenly spread
 * from t0_us. */
static void cc_round(struct tcp_conn *c, uint64_t t0_us, uint32_t rtt_us)
{
	uint32_t n = c->cwnd / M;

	for (uint32_t j = 0; j < n; j++) {
		S.st->now_us = t0_us + (uint64_t)rtt_us * j / n;
		tcp_cc_ack(c, M);
	}
}

/* RFC 9438 4.3 as a formula: W_est(t) = W_max * beta + alpha * t / RTT,
 * alpha = 3 (1 - beta) / (1 + beta) until it reaches cwnd_prior (here
 * W_max), 1 per RTT after. */
static double w_est_at(double t, double rtt, double w_max)
{
	double alpha = 3 * 0.3 / 1.7, r = t / rtt, r0 = w_max * 0.3 / alpha;

	return r < r0 ? w_max * 0.7 + alpha * r : w_max + (r - r0);
}

static double w_cubic_at(double t, double k, double w_max)
{
	return 0.4 * pow(t - k, 3) + w_max;
}

/* RFC 9438 4.2: after a reduction from W_max 100 to 70 segments the window
 * follows W_cubic(t) = 0.4 (t - K)^3 + 100, K = cbrt(30 / 0.4): concave up
 * to W_max at K, flat around it, convex beyond; where W_est (the Reno-
 * friendly estimate) is higher, W_est. Checked every simulated RTT
 * (100 ms, 8 s in all): between the formula at t and at t + RTT (CUBIC
 * aims one RTT ahead), one segment of slack for rounding. */
static void test_cubic_growth_formula(void **state)
{
	(void)state;
	const uint32_t rtt = 100000;
	struct tcp_conn *c = cc_conn(NET_CC_CUBIC, rtt);

	c->cwnd = 100 * M;
	(void)tcp_cc_ssthresh(c);	/* W_max = 100 */
	c->cwnd = c->ssthresh = 70 * M;	/* where the episode left it */
	uint64_t t0 = S.st->now_us + 1000;
	double k = cbrt(30.0 / 0.4);
	uint32_t n_cubic = 0;

	for (uint32_t i = 0; i < 80; i++) {
		cc_round(c, t0 + (uint64_t)i * rtt, rtt);
		double t = (double)(S.st->now_us - t0) / 1e6;
		double lo = fmax(w_cubic_at(t, k, 100), w_est_at(t, 0.1, 100));
		double hi = fmax(w_cubic_at(t + 0.1, k, 100), w_est_at(t + 0.1, 0.1, 100));
		double w = (double)c->cwnd / M;

		assert_true(w >= lo - 1.0);
		assert_true(w <= hi + 1.0);
		n_cubic += w_cubic_at(t, k, 100) > w_est_at(t, 0.1, 100);
	}
	assert_true(n_cubic >= 50); /* mostly the cubic region (58 of 80) */
	assert_true(fabs(c->cu.k_s - k) < 1e-9);
	/* by 8 s the convex region is well past W_max */
	assert_true(c->cwnd > 115 * M);
	stop();
}

/* RFC 9438 4.3: where Reno would grow faster (W_max reached, long RTT),
 * the window follows W_est, alpha = 3 (1 - 0.7) / (1 + 0.7) segments per
 * RTT below cwnd_prior. */
static void test_cubic_reno_friendly(void **state)
{
	(void)state;
	const uint32_t rtt = 1000000;
	struct tcp_conn *c = cc_conn(NET_CC_CUBIC, rtt);

	c->cwnd = 20 * M;
	(void)tcp_cc_ssthresh(c);	/* cwnd_prior 20 */
	c->cu.w_max = 10;		/* K = 0: W_cubic starts flat at 10 */
	c->cwnd = c->ssthresh = 10 * M;
	cc_round(c, S.st->now_us + 1000, rtt);
	double w = (double)c->cwnd / M, alpha = 3 * 0.3 / 1.7;

	assert_true(fabs(w - (10 + alpha)) < 0.02);
	stop();
}

/* NewReno (--tcp-cc newreno): one MSS per window ACKed, whatever the time. */
static void test_newreno_option(void **state)
{
	(void)state;
	struct tcp_conn *c = cc_conn(NET_CC_NEWRENO, 100000);

	c->cwnd = c->ssthresh = 20 * M;
	c->snd_una = c->snd_max = c->snd_nxt = c->data_seq; /* flight 0 */
	cc_round(c, S.st->now_us + 1000, 100000);
	assert_int_equal(c->cwnd, 21 * M);
	cc_round(c, S.st->now_us + 5000000, 100000); /* long idle: no matter */
	assert_int_equal(c->cwnd, 22 * M);
	c->snd_max = c->snd_una + 10 * M;
	assert_int_equal(tcp_cc_ssthresh(c), 5 * M); /* half the flight */
	stop();
}

static void small_backlog(struct net_config *c)
{
	c->backlog = 2;
}

static void test_backlog_bound(void **state)
{
	(void)state;
	struct net_stats st;

	start(small_backlog);
	for (uint16_t p = 0; p < 10; p++)
		seg((uint16_t)(41000 + p), 1000, 0, TH_SYN, 65535, NULL, 0, NULL, 0);
	net_stats(S.st, &st);
	assert_int_equal(st.half_open, 2);
	assert_int_equal(st.conns_in_use, 2);
	assert_int_equal(st.syn_cookies_sent, 8);
	advance(70000000); /* SYN-ACK retries run out: the half-open entries go */
	net_stats(S.st, &st);
	assert_int_equal(st.half_open, 0);
	assert_int_equal(st.conns_in_use, 0);
	stop();
}

static void test_reassembly_sack(void **state)
{
	(void)state;
	start(NULL);
	uint32_t iss = handshake(40000, false);
	char a[100], b[100];

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	S.n = 0;
	seg(40000, 1101, iss + 1, TH_ACK, 1024, NULL, 0, b, 100); /* the second first */
	assert_int_equal(S.rx_len, 0);
	assert_int_equal(S.n, 1); /* immediate duplicate ACK... */
	assert_int_equal(S.q[0].ack, 1001);
	assert_true(has_opt(&S.q[0], 5)); /* ...with a SACK block */
	assert_int_equal(rd32(S.q[0].opts + 4), 1101);
	assert_int_equal(rd32(S.q[0].opts + 8), 1201);
	S.n = 0;
	S.zero_copy_seen = false;
	seg(40000, 1001, iss + 1, TH_ACK, 1024, NULL, 0, a, 100);
	assert_true(S.zero_copy_seen); /* in-order payload straight from the frame */
	assert_int_equal(S.rx_len, 200);
	assert_memory_equal(S.rx, a, 100);
	assert_memory_equal(S.rx + 100, b, 100);
	assert_int_equal(S.q[S.n - 1].ack, 1201);
	/* a duplicate of old data: ACKed, not delivered again */
	seg(40000, 1001, iss + 1, TH_ACK, 1024, NULL, 0, a, 100);
	assert_int_equal(S.rx_len, 200);
	/* FIN: on_eof, CLOSE-WAIT */
	seg(40000, 1201, iss + 1, TH_ACK | TH_FIN, 1024, NULL, 0, NULL, 0);
	assert_int_equal(S.n_eof, 1);
	assert_int_equal(S.conn->state, TCPS_CLOSE_WAIT);
	tcp_shutdown(S.conn);
	assert_int_equal(S.conn->state, TCPS_LAST_ACK);
	seg(40000, 1202, iss + 2, TH_ACK, 1024, NULL, 0, NULL, 0);
	assert_int_equal(S.n_closed, 1);
	assert_int_equal(S.closed_err, 0);
	stop();
}

static void ack_burst_on(struct net_config *c)
{
	c->ack_burst = true;
}

/* One segment of n bytes of 'x' at seq from port 40000. */
static void data_seg(uint32_t iss, uint32_t seq, uint32_t n)
{
	static const char x[1000] = {'x'};

	seg(40000, seq, iss + 1, TH_ACK, 1024, NULL, 0, x, n);
}

/* ack_burst: the every-second-segment ACKs of a burst become one ACK at
 * net_flush with the burst's final RCV.NXT; out-of-order data and a filled
 * gap are still ACKed at once; a window update waits for net_flush too.
 * Without ack_burst: an ACK per two segments, net_flush a no-op. */
static void test_ack_burst(void **state)
{
	(void)state;
	start(ack_burst_on);
	uint32_t iss = handshake(40000, false);

	S.n = 0;
	for (uint32_t i = 0; i < 6; i++)
		data_seg(iss, 1001 + 1000 * i, 1000);
	assert_int_equal(S.rx_len, 6000);
	assert_int_equal(S.n, 0); /* nothing during the burst */
	assert_int_equal(net_flush(S.st, S.now), 1);
	assert_int_equal(S.n, 1);
	assert_int_equal(S.q[0].flags, TH_ACK);
	assert_int_equal(S.q[0].ack, 7001);
	assert_int_equal(S.q[0].len, 0);
	assert_int_equal(net_flush(S.st, S.now), 0); /* owed once, paid once */
	/* a lone segment: the delayed-ACK timer, not the flush */
	S.n = 0;
	data_seg(iss, 7001, 1000);
	assert_int_equal(net_flush(S.st, S.now), 0);
	assert_int_equal(S.n, 0);
	advance(41000);
	assert_int_equal(S.n, 1);
	assert_int_equal(S.q[0].ack, 8001);
	/* out of order: the duplicate ACK (with SACK) at once */
	S.n = 0;
	data_seg(iss, 9001, 1000);
	assert_int_equal(S.n, 1);
	assert_int_equal(S.q[0].ack, 8001);
	assert_true(has_opt(&S.q[0], 5));
	/* the gap filled: at once too (the sender is recovering) */
	data_seg(iss, 8001, 1000);
	assert_int_equal(S.n, 2);
	assert_int_equal(S.q[1].ack, 10001);
	assert_int_equal(net_flush(S.st, S.now), 0);
	/* a window update (the caller held 4000 bytes, then let go) */
	S.hold = true;
	for (uint32_t i = 0; i < 4; i++)
		data_seg(iss, 10001 + 1000 * i, 1000);
	assert_int_equal(net_flush(S.st, S.now), 1);
	S.hold = false;
	S.n = 0;
	tcp_recved(S.conn, 4000);
	assert_int_equal(S.n, 0);
	assert_int_equal(net_flush(S.st, S.now), 1);
	assert_int_equal(S.n, 1);
	assert_int_equal(S.q[0].ack, 14001);
	assert_int_equal((uint32_t)S.q[0].win << 5, (1u << 20) & ~31u); /* all open again */
	stop();

	start(NULL); /* off: every second segment, as before */
	iss = handshake(40000, false);
	S.n = 0;
	for (uint32_t i = 0; i < 6; i++)
		data_seg(iss, 1001 + 1000 * i, 1000);
	assert_int_equal(S.n, 3);
	assert_int_equal(S.q[0].ack, 3001);
	assert_int_equal(S.q[2].ack, 7001);
	assert_int_equal(net_flush(S.st, S.now), 0);
	stop();
}

/* A slot freed and reused while its ACK is still queued: the stale entry
 * sends nothing for the new connection, and the queue stays bounded. */
static void test_ack_burst_slot_reuse(void **state)
{
	(void)state;
	start(ack_burst_on);
	uint32_t iss = handshake(40000, false);

	data_seg(iss, 1001, 1000);
	data_seg(iss, 2001, 1000); /* an ACK owed */
	S.n = 0;
	seg(40000, 3001, iss + 1, TH_RST, 0, NULL, 0, NULL, 0); /* gone */
	assert_int_equal(S.n_closed, 1);
	iss = handshake(40000, false); /* the same slot */
	assert_int_equal(S.st->n_ackq, 1);
	S.n = 0;
	assert_int_equal(net_flush(S.st, S.now), 0); /* the old one's: nothing */
	assert_int_equal(S.n, 0);
	assert_int_equal(S.st->n_ackq, 0);
	stop();

	start(ack_burst_on); /* the new one owes an ACK before the flush */
	iss = handshake(40000, false);
	data_seg(iss, 1001, 1000);
	data_seg(iss, 2001, 1000);
	seg(40000, 3001, iss + 1, TH_RST, 0, NULL, 0, NULL, 0);
	iss = handshake(40000, false);
	data_seg(iss, 1001, 1000);
	data_seg(iss, 2001, 1000);
	assert_int_equal(S.st->n_ackq, 1); /* the slot once, not twice */
	S.n = 0;
	assert_int_equal(net_flush(S.st, S.now), 1);
	assert_int_equal(S.n, 1);
	assert_int_equal(S.q[0].ack, 3001);
	for (uint32_t round = 0; round < 3 * 16; round++) { /* never above max_conns */
		data_seg(iss, 3001 + 2000 * round, 1000);
		data_seg(iss, 4001 + 2000 * round, 1000);
		assert_int_equal(S.st->n_ackq, 1);
		assert_int_equal(net_flush(S.st, S.now), 1);
	}
	stop();
}

static void test_persist_and_rto(void **state)
{
	(void)state;
	uint8_t data[3000];

	start(NULL);
	uint32_t iss = handshake(40000, false);

	memset(data, 'x', sizeof(data));
	S.n = 0;
	seg(40000, 1001, iss + 1, TH_ACK, 0, NULL, 0, NULL, 0); /* zero window */
	assert_int_equal(tcp_send(S.conn, data, sizeof(data)), (int32_t)sizeof(data));
	assert_int_equal(S.n, 0);
	advance(1100000); /* initial RTO 1 s: a zero-window probe, no data */
	assert_true(S.n >= 1);
	assert_int_equal(S.q[0].len, 0);
	assert_int_equal(S.q[0].seq, iss);
	S.n = 0;
	seg(40000, 1001, iss + 1, TH_ACK, 1024, NULL, 0, NULL, 0); /* window opens */
	assert_int_equal(S.n, 3);
	assert_int_equal(S.q[0].len + S.q[1].len + S.q[2].len, 3000);
	/* no ACKs: RTO retransmits with backoff, then gives up with ETIMEDOUT */
	S.n = 0;
	uint64_t t0 = S.now, gaps[4] = {0};
	uint32_t k = 0;

	for (int i = 0; i < 20000 && k < 4; i++) {
		uint32_t before = S.n;

		advance(1000);
		if (S.n > before && S.q[before].seq == iss + 1)
			gaps[k++] = S.now - t0;
	}
	assert_int_equal(k, 4);
	assert_true(gaps[1] - gaps[0] > (gaps[0]) && gaps[2] - gaps[1] > gaps[1] - gaps[0]);
	advance(900000000);
	assert_int_equal(S.n_closed, 1);
	assert_int_equal(S.closed_err, -ETIMEDOUT);
	stop();
}

static void keepalive_on(struct net_config *c)
{
	c->keepalive_idle_us = 10000000;
	c->keepalive_intvl_us = 1000000;
	c->keepalive_probes = 3;
}

static void test_keepalive(void **state)
{
	(void)state;
	start(keepalive_on);
	uint32_t iss = handshake(40000, false);

	S.n = 0;
	advance(9000000);
	assert_int_equal(S.n, 0);
	advance(1500000);
	assert_int_equal(S.n, 1);
	assert_int_equal(S.q[0].seq, iss); /* SND.UNA - 1, no data */
	seg(40000, 1001, iss + 1, TH_ACK, 1024, NULL, 0, NULL, 0); /* alive */
	advance(9000000);
	assert_int_equal(S.n_closed, 0);
	advance(5000000); /* idle again, 3 probes unanswered */
	advance(5000000);
	assert_int_equal(S.n_closed, 1);
	assert_int_equal(S.closed_err, -ETIMEDOUT);
	stop();
}

static void test_active_close_time_wait(void **state)
{
	(void)state;
	struct net_stats st;

	start(NULL);
	uint32_t iss = handshake(40000, true);

	S.n = 0;
	tcp_close(S.conn);
	assert_int_equal(S.n, 1);
	assert_int_equal(S.q[0].flags, TH_FIN | TH_ACK);
	const uint8_t ts[] = {1, 1, 8, 10, 0, 0, 0, 60, 0, 0, 0, 0};

	seg(40000, 1001, iss + 2, TH_ACK, 1024, ts, sizeof(ts), NULL, 0);
	assert_int_equal(S.conn->state, TCPS_FIN_WAIT_2);
	/* PAWS: an older timestamp is dropped */
	const uint8_t old[] = {1, 1, 8, 10, 0, 0, 0, 10, 0, 0, 0, 0};

	seg(40000, 1001, iss + 2, TH_ACK | TH_FIN, 1024, old, sizeof(old), NULL, 0);
	net_stats(S.st, &st);
	assert_int_equal(st.tcp_paws_drops, 1);
	assert_int_equal(S.n_closed, 0);
	seg(40000, 1001, iss + 2, TH_ACK | TH_FIN, 1024, ts, sizeof(ts), NULL, 0);
	assert_int_equal(S.n_closed, 1); /* the app is done at TIME-WAIT */
	assert_int_equal(S.closed_err, 0);
	net_stats(S.st, &st);
	assert_int_equal(st.conns_in_use, 1);
	advance(2100000);
	net_stats(S.st, &st);
	assert_int_equal(st.conns_in_use, 0);
	stop();
}

static void test_arp_and_frags(void **state)
{
	(void)state;
	uint8_t f[60] = {0};
	struct net_stats st;

	start(NULL);
	memset(f, 0xff, 6);
	memcpy(f + 6, peer_mac, 6);
	wr16(f + 12, ETH_TYPE_ARP);
	uint8_t *a = f + ETH_HDR_LEN;

	wr16(a, 1);
	wr16(a + 2, ETH_TYPE_IPV4);
	a[4] = 6;
	a[5] = 4;
	wr16(a + 6, 1);
	memcpy(a + 8, peer_mac, 6);
	wr32(a + 14, PEER_IP);
	wr32(a + 24, OUR_IP + 5); /* not us: no reply */
	net_input(S.st, f, 60, S.now);
	assert_int_equal(S.n, 0);
	wr32(a + 24, OUR_IP);
	net_input(S.st, f, 60, S.now);
	assert_int_equal(S.n, 1);
	assert_int_equal(S.q[0].ethertype, ETH_TYPE_ARP);
	/* a fragment (MF set) is rejected and counted */
	S.n = 0;
	uint8_t g[ETH_HDR_LEN + 40] = {0};
	uint8_t *ip = g + ETH_HDR_LEN;

	memcpy(g, our_mac, 6);
	wr16(g + 12, ETH_TYPE_IPV4);
	ip[0] = 0x45;
	wr16(ip + 2, 40);
	wr16(ip + 6, 0x2000);
	ip[8] = 64;
	ip[9] = IP_PROTO_TCP;
	wr32(ip + 12, PEER_IP);
	wr32(ip + 16, OUR_IP);
	wr16(ip + 10, net_ip_csum(ip, IP_HDR_LEN));
	net_input(S.st, g, sizeof(g), S.now);
	net_stats(S.st, &st);
	assert_int_equal(st.rx_ip_frags, 1);
	assert_int_equal(S.n, 0);
	stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_options),
		cmocka_unit_test(test_syn_cookie_handshake),
		cmocka_unit_test(test_syn_cookie_keeps_options),
		cmocka_unit_test(test_syncookie_ts_codec),
		cmocka_unit_test(test_recovery_middle_loss),
		cmocka_unit_test(test_recovery_several_holes),
		cmocka_unit_test(test_recovery_last_segment_lost),
		cmocka_unit_test(test_recovery_tail_lost),
		cmocka_unit_test(test_recovery_tail_second_probe),
		cmocka_unit_test(test_recovery_tail_probe_too_soon),
		cmocka_unit_test(test_recovery_spurious_timeout),
		cmocka_unit_test(test_recovery_timeout_real_loss),
		cmocka_unit_test(test_rto_causes),
		cmocka_unit_test(test_recovery_reorder_below_threshold),
		cmocka_unit_test(test_recovery_reorder_above_threshold),
		cmocka_unit_test(test_rack_reorder_below_window),
		cmocka_unit_test(test_rack_reorder_above_window),
		cmocka_unit_test(test_rack_lost_retransmission),
		cmocka_unit_test(test_rack_dsack_grows_window),
		cmocka_unit_test(test_rec_probe_lost_resend),
		cmocka_unit_test(test_rec_probe_while_sacks_arrive),
		cmocka_unit_test(test_rec_probe_ack_lost),
		cmocka_unit_test(test_rec_probe_after_rto),
		cmocka_unit_test(test_rec_probe_off),
		cmocka_unit_test(test_prr_proportional),
		cmocka_unit_test(test_dsack_undo),
		cmocka_unit_test(test_cubic_reduction),
		cmocka_unit_test(test_cubic_growth_formula),
		cmocka_unit_test(test_cubic_reno_friendly),
		cmocka_unit_test(test_newreno_option),
		cmocka_unit_test(test_backlog_bound),
		cmocka_unit_test(test_reassembly_sack),
		cmocka_unit_test(test_ack_burst),
		cmocka_unit_test(test_ack_burst_slot_reuse),
		cmocka_unit_test(test_persist_and_rto),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_active_close_time_wait),
		cmocka_unit_test(test_arp_and_frags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

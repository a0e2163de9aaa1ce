/* SPDX-License-Identifier: Apache-2.0 */
/* The stack's lifecycle, the per-lcore connection table (preallocated slots,
 * 4-tuple hash, free list, deferred release), SYN cookies, and the
 * application-facing calls (tcp_send, tcp_recved, tcp_shutdown, ...). */
#include <errno.h>
#include <stddef.h>

#include "dataplane/net/tcp/tcp_internal.h"

static_assert(offsetof(struct tcp_conn, timer) == 0, "timer entry casts to its connection");

#define NONE UINT32_MAX
#define RTO_MAX_US 60000000u
#define COOKIE_PERIOD_US 64000000ull

/* ---- SipHash-2-4 (Aumasson, Bernstein), for SYN cookies ---- */

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                              \
	do {                                                                  \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);     \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                        \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                        \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);     \
	} while (0)

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

uint64_t net_siphash24(const uint8_t key[16], const uint8_t *data, uint32_t len)
{
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
	uint64_t b = (uint64_t)len << 56, m;
	uint32_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		m = le64(data + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (uint32_t j = 0; i + j < len; j++)
		b |= (uint64_t)data[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- SYN cookies: | 5 bits time | 3 bits MSS index | 24 bits MAC | ---- */

static const uint16_t cookie_mss[8] = {536, 1200, 1300, 1400, 1440, 1460, 4312, 8960};

static uint32_t cookie_mac(const uint8_t key[16], uint32_t saddr, uint32_t daddr, uint16_t sport,
			   uint16_t dport, uint32_t peer_isn, uint64_t t, uint32_t idx)
{
	uint8_t b[28];

	wr32(b, saddr);
	wr32(b + 4, daddr);
	wr16(b + 8, sport);
	wr16(b + 10, dport);
	wr32(b + 12, peer_isn);
	wr32(b + 16, (uint32_t)(t >> 32));
	wr32(b + 20, (uint32_t)t);
	wr32(b + 24, idx);
	return (uint32_t)net_siphash24(key, b, sizeof(b)) & 0xffffff;
}

uint32_t syncookie_make(const uint8_t key[16], uint32_t saddr, uint32_t daddr, uint16_t sport,
			uint16_t dport, uint32_t peer_isn, uint16_t mss, uint64_t now_us)
{
	uint64_t t = now_us / COOKIE_PERIOD_US;
	uint32_t idx = 0;

	for (uint32_t i = 0; i < 8; i++)
		if (cookie_mss[i] <= mss)
			idx = i;
	return (uint32_t)(t & 31) << 27 | idx << 24 |
	       cookie_mac(key, saddr, daddr, sport, dport, peer_isn, t, idx);
}

uint16_t syncookie_check(const uint8_t key[16], uint32_t saddr, uint32_t daddr, uint16_t sport,
			 uint16_t dport, uint32_t peer_isn, uint32_t cookie, uint64_t now_us)
{
	uint64_t cur = now_us / COOKIE_PERIOD_US;
	uint32_t idx = (cookie >> 24) & 7;

	/* valid for the current and the previous period (64..128 s) */
	for (uint64_t age = 0; age < 2 && age <= cur; age++) {
		uint64_t t = cur - age;

		if ((t & 31) != cookie >> 27)
			continue;
		if (cookie_mac(key, saddr, daddr, sport, dport, peer_isn, t, idx) ==
		    (cookie & 0xffffff))
			return cookie_mss[idx];
	}
	return 0;
}

uint32_t syncookie_ts_encode(uint32_t ts_now, const struct syncookie_opts *o)
{
	uint32_t bits = o->ws_ok ? o->snd_wscale : SYNCOOKIE_TS_NO_WS;
	uint32_t v;

	BUG_ON(o->ws_ok && o->snd_wscale > 14);
	if (o->sack_ok)
		bits |= 1u << 4;
	v = (ts_now & ~SYNCOOKIE_TS_MASK) | bits;
	/* never ahead of our clock: step back one 64 ms block instead */
	if (seq_gt(v, ts_now))
		v -= 1u << SYNCOOKIE_TS_BITS;
	return v;
}

bool syncookie_ts_decode(uint32_t tsecr, uint32_t ts_now, struct syncookie_opts *o)
{
	uint32_t ws = tsecr & 0xf;
	/* a cookie lives at most two periods (128 s), in 1 ms ticks */
	uint32_t max_age_ms = (uint32_t)(2 * COOKIE_PERIOD_US / 1000);

	memset(o, 0, sizeof(*o));
	if (seq_gt(tsecr, ts_now) || ts_now - tsecr > max_age_ms)
		return false;
	if (tsecr & (1u << 5)) /* we never set the ECN bit */
		return false;
	if (ws != SYNCOOKIE_TS_NO_WS) { /* 0..14: 4 bits hold nothing else */
		o->ws_ok = true;
		o->snd_wscale = (uint8_t)ws;
	}
	o->sack_ok = (tsecr >> 4) & 1;
	return true;
}

uint8_t tcp_wscale_for(uint32_t buf_bytes)
{
	uint8_t s = 0;

	while (s < 14 && (buf_bytes >> s) > 65535)
		s++;
	return s;
}

/* ---- table ---- */

static uint32_t conn_hash(const struct net_stack *st, uint32_t rip, uint16_t rport,
			  uint16_t lport)
{
	uint64_t h = ((uint64_t)rip << 32 | (uint32_t)rport << 16 | lport) * 0x9E3779B97F4A7C15ull;

	return (uint32_t)(h >> 32) & (st->nhash - 1);
}

struct tcp_conn *tcp_conn_lookup(struct net_stack *st, uint32_t rip, uint16_t rport,
				 uint16_t lport)
{
	uint32_t i = st->hash[conn_hash(st, rip, rport, lport)];

	for (uint32_t n = 0; i != NONE && n < st->cfg.max_conns; n++) {
		struct tcp_conn *c = &st->conns[i];

		/* rip alone decides for IPv4; an IPv6 fold must also match
		 * the whole address (st->rx6: the segment being processed) */
		if (c->rip == rip && c->rport == rport && c->lport == lport &&
		    (!c->v6 ? !st->rx6 : st->rx6 && memcmp(c->rip6, st->rx6->src, 16) == 0))
			return c;
		i = c->hash_next;
	}
	return NULL;
}

struct tcp_conn *tcp_conn_alloc(struct net_stack *st, uint32_t rip, uint16_t rport,
				uint16_t lport)
{
	if (st->free_head == NONE) {
		st->stats.tcp_table_full++;
		return NULL;
	}
	struct tcp_conn *c = &st->conns[st->free_head];
	uint8_t *sbuf = c->sbuf, *rbuf = c->rbuf;
	uint32_t idx = c->idx, h = conn_hash(st, rip, rport, lport);

	bool queued = c->ack_queued; /* a stale ackq entry of the slot's last user */

	st->free_head = c->hash_next;
	memset(c, 0, sizeof(*c));
	c->ack_queued = queued;
	c->st = st;
	c->idx = idx;
	c->sbuf = sbuf;
	c->rbuf = rbuf;
	c->smask = st->cfg.snd_buf_bytes - 1;
	c->rmask = st->cfg.rcv_buf_bytes - 1;
	c->rip = rip;
	if (st->rx6) {
		c->v6 = true;
		memcpy(c->rip6, st->rx6->src, 16);
		memcpy(c->lip6, st->rx6->dst, 16);
	}
	c->rport = rport;
	c->lport = lport;
	c->hash_next = st->hash[h];
	st->hash[h] = idx;
	rto_init(&c->rto, st->cfg.rto_min_us, RTO_MAX_US);
	st->stats.conns_in_use++;
	return c;
}

static void conn_unhash(struct net_stack *st, struct tcp_conn *c)
{
	uint32_t *p = &st->hash[conn_hash(st, c->rip, c->rport, c->lport)];

	while (*p != NONE && *p != c->idx)
		p = &st->conns[*p].hash_next;
	BUG_ON(*p == NONE);
	*p = c->hash_next;
}

static void conn_free(struct net_stack *st, struct tcp_conn *c)
{
	c->hash_next = st->free_head;
	st->free_head = c->idx;
	c->release = false;
	st->stats.conns_in_use--;
}

void tcp_conn_notify_closed(struct tcp_conn *c, int err)
{
	if (!c->accepted || c->closed_up)
		return;
	c->closed_up = true;
	c->st->up->on_closed(c->cookie, err);
}

void tcp_conn_drop(struct tcp_conn *c, int err)
{
	struct net_stack *st = c->st;

	if (c->state == TCPS_CLOSED)
		return;
	if (c->state == TCPS_SYN_RECEIVED && !c->from_cookie)
		st->stats.half_open--;
	c->state = TCPS_CLOSED;
	tw_cancel(&st->wheel, &c->timer);
	c->t_rexmt = c->t_persist = c->t_delack = c->t_keep = c->t_2msl = 0;
	conn_unhash(st, c);
	tcp_conn_notify_closed(c, err);
	/* callers up the stack may still hold c: free it when they are done */
	if (st->depth) {
		c->release = true;
		st->release[st->n_release++] = c->idx;
	} else {
		conn_free(st, c);
	}
}

void tcp_conn_release_pending(struct net_stack *st)
{
	for (uint32_t i = 0; i < st->n_release; i++)
		conn_free(st, &st->conns[st->release[i]]);
	st->n_release = 0;
}

bool tcp_port_listening(const struct net_stack *st, uint16_t port)
{
	if (!st->listening || port == 0)
		return false;
	for (int i = 0; i < NET_MAX_LISTEN && st->cfg.listen_ports[i]; i++)
		if (st->cfg.listen_ports[i] == port)
			return true;
	return false;
}

uint32_t tcp_sbuf_free(const struct tcp_conn *c)
{
	return c->smask + 1 - c->sbuf_len;
}

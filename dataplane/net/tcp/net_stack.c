/* SPDX-License-Identifier: Apache-2.0 */
/* Stack construction and teardown: everything the stack will ever use is
 * allocated here (STYLE 9), sized by the config. Buffer memory is one calloc
 * whose pages the kernel hands out lazily, so a large table of mostly idle
 * connections costs address space, not RAM. */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "dataplane/net/tcp/tcp_internal.h"

#define WHEEL_SLOTS 4096
#define MAX_CONNS (1u << 20)

static bool pow2_in(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v >= lo && v <= hi && (v & (v - 1)) == 0;
}

static int cfg_fill(struct net_config *c)
{
	if (!c->mtu)
		c->mtu = 1500;
	if (!c->snd_buf_bytes)
		c->snd_buf_bytes = 65536;
	if (!c->rcv_buf_bytes)
		c->rcv_buf_bytes = 65536;
	if (!c->tick_us)
		c->tick_us = 1000;
	if (!c->arp_entries)
		c->arp_entries = 64;
	if (!c->arp_timeout_us)
		c->arp_timeout_us = 60000000;
	if (!c->rto_min_us)
		c->rto_min_us = 200000;
	if (!c->delack_us)
		c->delack_us = 40000;
	if (!c->time_wait_us)
		c->time_wait_us = 60000000;
	if (!c->keepalive_intvl_us)
		c->keepalive_intvl_us = 75000000;
	if (!c->keepalive_probes)
		c->keepalive_probes = 9;
	if (!c->backlog)
		c->backlog = 128;
	if (!c->nd_entries)
		c->nd_entries = 64;
	static const uint8_t zero6[16];
	bool v6 = memcmp(c->ip6, zero6, 16) != 0;

	/* IPv6: a unicast global address (not link-local, multicast or
	 * loopback), and the RFC 8200 5 minimum link MTU */
	if (v6 && (c->prefix6_len < 1 || c->prefix6_len > 128 || c->ip6[0] == 0xff ||
		   (c->ip6[0] == 0xfe && (c->ip6[1] & 0xc0) == 0x80) || c->mtu < 1280 ||
		   c->nd_entries > 4096))
		return -EINVAL;
	if (c->vlan_id > 4094)
		return -EINVAL;
	if (c->ip == 0 && !v6)
		return -EINVAL;
	if ((c->ip && (c->prefix_len < 1 || c->prefix_len > 32)) || c->mtu < 576 ||
	    c->mtu > 9000 || c->max_conns == 0 || c->max_conns > MAX_CONNS ||
	    !pow2_in(c->snd_buf_bytes, 4096, 1u << 24) ||
	    !pow2_in(c->rcv_buf_bytes, 4096, 1u << 24) || c->arp_entries > 4096 ||
	    (c->mac[0] & 1) || c->cc >= NET_CC__COUNT)
		return -EINVAL;
	return 0;
}

static int stack_alloc(struct net_stack *st)
{
	const struct net_config *c = &st->cfg;
	uint32_t n = c->max_conns;
	size_t per = (size_t)c->snd_buf_bytes + c->rcv_buf_bytes;

	st->nhash = 1;
	while (st->nhash < 2 * n)
		st->nhash <<= 1;
	st->conns = calloc(n, sizeof(*st->conns));
	st->hash = malloc(sizeof(*st->hash) * st->nhash);
	st->release = calloc(n, sizeof(*st->release));
	st->ackq = calloc(n, sizeof(*st->ackq));
	st->bufmem = calloc(n, per);
	st->slots = calloc(WHEEL_SLOTS, sizeof(*st->slots));
	st->arp.e = calloc(c->arp_entries, sizeof(*st->arp.e));
	st->arp.pend = calloc(ARP_PENDING, sizeof(*st->arp.pend));
	if (memcmp(c->ip6, (const uint8_t[16]){0}, 16) != 0) {
		st->nd.e = calloc(c->nd_entries, sizeof(*st->nd.e));
		st->nd.pend = calloc(ND_PENDING, sizeof(*st->nd.pend));
		if (!st->nd.e || !st->nd.pend)
			return -ENOMEM;
		st->ip6_on = true;
	}
	st->frx.held = c->fault_rx.seed ? calloc(NET_FAULT_SLOTS, sizeof(*st->frx.held)) : NULL;
	st->ftx.held = c->fault_tx.seed ? calloc(NET_FAULT_SLOTS, sizeof(*st->ftx.held)) : NULL;
	if (!st->conns || !st->hash || !st->release || !st->ackq || !st->bufmem || !st->slots || !st->arp.e ||
	    !st->arp.pend ||
	    (c->fault_rx.seed && !st->frx.held) || (c->fault_tx.seed && !st->ftx.held))
		return -ENOMEM;
	memset(st->hash, 0xff, sizeof(*st->hash) * st->nhash);
	for (uint32_t i = 0; i < n; i++) {
		struct tcp_conn *tc = &st->conns[i];

		tc->idx = i;
		tc->hash_next = i + 1 < n ? i + 1 : UINT32_MAX;
		tc->sbuf = st->bufmem + per * i;
		tc->rbuf = tc->sbuf + c->snd_buf_bytes;
	}
	st->free_head = 0;
	return 0;
}

static void stack_free(struct net_stack *st)
{
	free(st->conns);
	free(st->hash);
	free(st->release);
	free(st->ackq);
	free(st->bufmem);
	free(st->slots);
	free(st->arp.e);
	free(st->arp.pend);
	free(st->nd.e);
	free(st->nd.pend);
	free(st->frx.held);
	free(st->ftx.held);
	free(st);
}

struct net_stack *net_create(const struct net_config *cfg, const struct net_ops *ops,
			     const struct net_upcalls *up, void *ctx, uint64_t now_us)
{
	struct net_stack *st;
	static const uint8_t zero_key[16];

	if (!cfg || !ops || !ops->tx || !up || !up->on_accept || !up->on_data ||
	    !up->on_writable || !up->on_closed) {
		errno = EINVAL;
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		errno = ENOMEM;
		return NULL;
	}
	st->cfg = *cfg;
	int rc = cfg_fill(&st->cfg);

	if (rc == 0)
		rc = stack_alloc(st);
	if (rc) {
		stack_free(st);
		errno = -rc;
		return NULL;
	}
	if (memcmp(st->cfg.syn_cookie_key, zero_key, 16) == 0 &&
	    getrandom(st->cfg.syn_cookie_key, 16, 0) != 16) {
		stack_free(st);
		errno = EIO;
		return NULL;
	}
	st->ops = ops;
	st->up = up;
	st->ctx = ctx;
	st->now_us = now_us;
	st->netmask = st->cfg.prefix_len == 32 ? 0xffffffffu : ~(0xffffffffu >> st->cfg.prefix_len);
	if (st->ip6_on) {
		struct nd_pending *npend = st->nd.pend;

		nd_link_local(st->cfg.mac, st->ip6_ll);
		nd_cache_init(&st->nd, st->nd.e, st->cfg.nd_entries, st->cfg.arp_timeout_us);
		st->nd.pend = npend;
	}
	st->listening = true;
	st->rng = net_siphash24(st->cfg.syn_cookie_key, (const uint8_t *)"isn", 3) | 1;
	tw_init(&st->wheel, st->slots, WHEEL_SLOTS, st->cfg.tick_us, now_us);
	struct arp_pending *pend = st->arp.pend;

	arp_cache_init(&st->arp, st->arp.e, st->cfg.arp_entries, st->cfg.arp_timeout_us);
	st->arp.pend = pend;
	struct net_fault_frame *hr = st->frx.held, *ht = st->ftx.held;

	net_fault_init(&st->frx, &st->cfg.fault_rx, hr);
	net_fault_init(&st->ftx, &st->cfg.fault_tx, ht);
	return st;
}

void net_destroy(struct net_stack *st)
{
	if (!st)
		return;
	st->depth++; /* no slot reuse while tearing down */
	for (uint32_t i = 0; i < st->cfg.max_conns; i++)
		if (st->conns[i].state != TCPS_CLOSED)
			tcp_conn_drop(&st->conns[i], -ECONNABORTED);
	stack_free(st);
}

void net_stop_listen(struct net_stack *st)
{
	st->listening = false;
}

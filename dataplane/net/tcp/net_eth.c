/* SPDX-License-Identifier: Apache-2.0 */
/* Ethernet II framing, the frame entry and exit points of the stack (with the
 * optional fault stage on either side), and the timer entry point. */
#include <errno.h>

#include "dataplane/net/tcp/tcp_internal.h"

static const uint8_t eth_bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* IPv6 multicast to us: all-nodes (33:33:00:00:00:01) and the solicited-node
 * groups of our addresses (33:33:ff:..), RFC 2464 7. Exact match is left to
 * the IPv6 layer. */
static bool ip6_mcast_mac(const struct net_stack *st, const uint8_t *m)
{
	return st->ip6_on && m[0] == 0x33 && m[1] == 0x33;
}

void net_eth_input(struct net_stack *st, const uint8_t *frame, uint32_t len)
{
	uint32_t hl = ETH_HDR_LEN;

	if (len < ETH_HDR_LEN || len > NET_FRAME_MAX) {
		st->stats.rx_drop_eth++;
		return;
	}
	/* Ours, broadcast (ARP requests) or IPv6 multicast (ND) only. */
	if (memcmp(frame, st->cfg.mac, 6) != 0 && memcmp(frame, eth_bcast, 6) != 0 &&
	    !ip6_mcast_mac(st, frame)) {
		st->stats.rx_drop_eth++;
		return;
	}
	uint16_t type = rd16(frame + 12);

	/* 802.1Q: with a VID configured only frames tagged with it are ours
	 * (priority bits ignored); without, tagged frames are someone else's,
	 * except priority-tagged ones (VID 0), which 802.1Q counts as
	 * untagged. */
	if (st->cfg.vlan_id || type == ETH_TYPE_VLAN) {
		if (type != ETH_TYPE_VLAN || len < ETH_HDR_LEN + VLAN_HDR_LEN ||
		    (rd16(frame + 14) & 0xfff) != st->cfg.vlan_id) {
			st->stats.rx_drop_vlan++;
			return;
		}
		type = rd16(frame + 16);
		hl += VLAN_HDR_LEN;
	}
	switch (type) {
	case ETH_TYPE_IPV4:
		net_ip_input(st, frame + hl, len - hl);
		break;
	case ETH_TYPE_ARP:
		net_arp_input(st, frame + hl, len - hl);
		break;
	case ETH_TYPE_IPV6:
		if (st->ip6_on) {
			net_ip6_input(st, frame + hl, len - hl);
			break;
		}
		st->stats.rx_drop_eth++;
		break;
	default: /* LLDP, stacked tags...: not ours */
		st->stats.rx_drop_eth++;
		break;
	}
}

uint8_t *net_eth_hdr(struct net_stack *st, uint8_t *end, const uint8_t *dmac, uint16_t type)
{
	uint8_t *f = end - net_eth_hlen(st);

	memcpy(f, dmac, 6);
	memcpy(f + 6, st->cfg.mac, 6);
	if (st->cfg.vlan_id) {
		wr16(f + 12, ETH_TYPE_VLAN);
		wr16(f + 14, st->cfg.vlan_id); /* PCP 0, DEI 0 */
		wr16(f + 16, type);
	} else {
		wr16(f + 12, type);
	}
	return f;
}

static void deliver_rx(void *arg, const uint8_t *frame, uint32_t len)
{
	net_eth_input(arg, frame, len);
}

static void deliver_tx(void *arg, const uint8_t *frame, uint32_t len)
{
	struct net_stack *st = arg;

	if (st->ops->tx(st->ctx, frame, len) < 0)
		st->stats.tx_errors++;
	else
		st->stats.tx_frames++;
}

void net_tx_frame(struct net_stack *st, const uint8_t *frame, uint32_t len)
{
	if (st->ftx.cfg.seed)
		net_fault_push(&st->ftx, frame, len, st->now_us, deliver_tx, st);
	else
		deliver_tx(st, frame, len);
}

/* Upcalls may close connections; slots are reused only once no caller up the
 * stack can still hold a pointer to them. */
static void enter(struct net_stack *st, uint64_t now_us)
{
	if (now_us > st->now_us)
		st->now_us = now_us;
	st->depth++;
}

static void leave(struct net_stack *st)
{
	if (--st->depth == 0)
		tcp_conn_release_pending(st);
}

int net_input(struct net_stack *st, const uint8_t *frame, uint32_t len, uint64_t now_us)
{
	if (len < ETH_HDR_LEN || len > NET_FRAME_MAX) {
		st->stats.rx_drop_eth++;
		return -EINVAL;
	}
	enter(st, now_us);
	st->stats.rx_frames++;
	if (st->frx.cfg.seed)
		net_fault_push(&st->frx, frame, len, st->now_us, deliver_rx, st);
	else
		net_eth_input(st, frame, len);
	leave(st);
	return 0;
}

int net_timers(struct net_stack *st, uint64_t now_us)
{
	int n = 0;

	enter(st, now_us);
	if (st->frx.cfg.seed)
		n += (int)net_fault_poll(&st->frx, st->now_us, deliver_rx, st);
	if (st->ftx.cfg.seed)
		n += (int)net_fault_poll(&st->ftx, st->now_us, deliver_tx, st);
	n += (int)tw_advance(&st->wheel, st->now_us, tcp_timer_fire, st);
	leave(st);
	return n;
}

uint64_t net_next_timer(const struct net_stack *st)
{
	uint64_t t = tw_next(&st->wheel);

	if (st->frx.cfg.seed)
		t = SL_MIN(t, net_fault_next(&st->frx));
	if (st->ftx.cfg.seed)
		t = SL_MIN(t, net_fault_next(&st->ftx));
	return t;
}

void net_stats(const struct net_stack *st, struct net_stats *out)
{
	*out = st->stats;
	out->fault_dropped = st->frx.dropped + st->ftx.dropped;
	out->fault_duplicated = st->frx.duplicated + st->ftx.duplicated;
	out->fault_reordered = st->frx.reordered + st->ftx.reordered;
}

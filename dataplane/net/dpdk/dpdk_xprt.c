/* SPDX-License-Identifier: Apache-2.0 */
/* The DPDK transport: struct xprt_ops over the DPDK port layer (dpdk.h,
 * frames in and out) and the userspace TCP/IP stack (dataplane/net/tcp),
 * one stack per io lcore. TLS, HTTP and the API sit above, unchanged: the
 * stack's upcalls become the same conn_* upcalls the kernel transport makes.
 *
 * Poll loop: receive a burst, hand each frame to the stack (payload reaches
 * TLS zero-copy from the mbuf: TLS copies it into its BIO during on_data),
 * release the frames, run the stack's timers, send the ACKs the burst owes
 * (net_flush: one per connection with --dpdk-ack-burst 1), flush transmits. The lcore
 * busy-polls; after a long run of empty polls it naps 50 us so a small
 * machine that shares its cores with clients and tests stays usable (an
 * appliance with dedicated cores sets --dpdk-idle-us 0 to never nap).
 *
 * Back-pressure (rx_pause): while the connection layer has paused a
 * connection, on_data still hands the bytes to TLS (the stack cannot keep
 * them) but reports none consumed, so they count against the receive
 * window (rcv_buf_bytes) and the peer stops; resuming reports them with
 * tcp_recved(), which reopens the window.
 *
 * Slot lifetime: a connection slot is released (http_conn_released) only when the
 * stack has called on_closed, after which the tcp_conn is never touched. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bug.h"
#include "common/clock.h"
#include "common/log.h"
#include "dataplane/core/core.h"
#include "dataplane/http/http_conn.h"
#include "dataplane/net/dpdk/dpdk.h"
#include "dataplane/net/tcp/tcp.h"
#include "dataplane/metrics/mx.h"

#define DX_IDLE_SPINS 2000

struct dx_conn {
	struct lcore_ctx *lc;
	struct conn *c;
	struct tcp_conn *tc; /* NULL once the stack said on_closed */
	/* Bytes tcp_send took but http_conn_on_sent has not heard of yet. The stack
	 * takes bytes synchronously; telling the connection layer from inside
	 * its own flush would re-enter request processing, so the news is
	 * delivered from the poll loop (as the kernel transport's completions
	 * are). While some is pending, no further send starts. */
	uint32_t sent_pending;
	uint32_t held; /* bytes taken while paused, not yet reported consumed */
	bool queued;
};

struct dx {
	struct dpk_lcore *port;
	struct net_stack *stack;
	struct dx_conn *dc; /* parallel to lc->conns */
	uint32_t *sent_q;   /* conn indexes with sent_pending, max_conns */
	uint32_t n_sent_q;
	uint32_t idle;
	uint64_t mx_next_us; /* next copy of the stack's counters (metrics) */
};

/* Copies the stack's counters where the admin listener's scrape reads them
 * (mx.h, MX_TCP_NAMES' order). */
static void dx_publish_stats(struct lcore_ctx *lc, struct dx *dx)
{
	struct net_stats ns;
	net_stats(dx->stack, &ns);
	const uint64_t v[MX_TCP_N] = {
		ns.rx_frames, ns.tx_frames, ns.tx_errors, ns.rx_drop_eth, ns.rx_drop_ip,
		ns.rx_bad_csum, ns.arp_miss_drops, ns.tcp_rx_segs, ns.tcp_tx_segs,
		ns.tcp_retransmits, ns.tcp_fast_retransmits, ns.tcp_rto, ns.tcp_rst_rx,
		ns.tcp_rst_tx, ns.tcp_out_of_window, ns.tcp_ooo_drops, ns.tcp_paws_drops,
		ns.tcp_accepted, ns.tcp_refused, ns.tcp_table_full, ns.syn_cookies_sent,
		ns.syn_cookies_ok, ns.syn_cookies_bad, ns.tcp_prr_episodes, ns.tcp_rack_marks,
		ns.tcp_spurious_rto, ns.tcp_rexmit_recovery, ns.tcp_rexmit_tlp, ns.tcp_rexmit_rto,
		ns.tcp_dsack_undo, ns.tcp_rto_repeat, ns.tcp_rto_recovery, ns.tcp_rto_after_tlp,
		ns.tcp_rto_no_tlp, ns.tcp_rec_probes,
	};
	for (unsigned i = 0; i < MX_TCP_N; i++)
		MX_SET(lc->mx->io.tcp[i], v[i]);
	MX_SET(lc->mx->io.has_tcp, true);
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int dx_tx(void *ctx, const uint8_t *frame, uint32_t len)
{
	struct lcore_ctx *lc = ctx;
	struct dx *dx = lc->xprt_priv;
	/* The stack fills every checksum itself. */
	return dpk_tx_copy(dx->port, 0, frame, (uint16_t)len, 0);
}

static void *dx_on_accept(void *ctx, struct tcp_conn *tc)
{
	struct lcore_ctx *lc = ctx;
	struct dx *dx = lc->xprt_priv;
	uint32_t ip;
	uint16_t port;
	tcp_peer(tc, &ip, &port);
	char peer[64];
	struct addr_key key;
	uint8_t ip6[16];
	if (tcp_peer6(tc, ip6)) {
		char a[INET6_ADDRSTRLEN];
		if (!inet_ntop(AF_INET6, ip6, a, sizeof(a)))
			snprintf(a, sizeof(a), "?");
		snprintf(peer, sizeof(peer), "[%s]:%u", a, port);
		http_addr_key_ip6(&key, ip6);
	} else {
		snprintf(peer, sizeof(peer), "%u.%u.%u.%u:%u", ip >> 24, (ip >> 16) & 0xff,
			 (ip >> 8) & 0xff, ip & 0xff, port);
		http_addr_key_ip4(&key, ip);
	}
	struct conn *c = http_conn_open(lc, -1, (uint64_t)(uintptr_t)tc, &key, peer);
	if (!c)
		return NULL; /* refused (address limit, table full, draining): reset */
	bool queued = dx->dc[http_conn_idx(c)].queued; /* a stale entry of the slot's last
						 user may still sit in sent_q */
	dx->dc[http_conn_idx(c)] = (struct dx_conn){.lc = lc, .c = c, .tc = tc, .queued = queued};
	return &dx->dc[http_conn_idx(c)];
}

static uint32_t dx_on_data(void *cookie, const uint8_t *data, uint32_t len)
{
	struct dx_conn *d = cookie;
	http_conn_on_recv(d->lc, d->c, data, len); /* TLS copies every byte */
	if (http_conn_is_open(d->c) && http_conn_rx_paused(d->c)) {
		d->held += len; /* counts against the window until resumed */
		return 0;
	}
	return len;
}

static void dx_rx_pause(struct lcore_ctx *lc, struct conn *c, bool paused)
{
	struct dx *dx = lc->xprt_priv;
	struct dx_conn *d = &dx->dc[http_conn_idx(c)];
	if (paused || !d->tc || !d->held)
		return; /* pausing needs nothing now: on_data holds the window */
	uint32_t n = d->held;
	d->held = 0;
	tcp_recved(d->tc, n); /* reopens the window (an ACK), never delivers */
}

static void dx_on_eof(void *cookie)
{
	struct dx_conn *d = cookie;
	http_conn_on_eof(d->lc, d->c, 0);
}

static void dx_send(struct lcore_ctx *lc, struct conn *c);

static void dx_on_writable(void *cookie)
{
	struct dx_conn *d = cookie;
	if (http_conn_send_busy(d->c) && !d->sent_pending)
		dx_send(d->lc, d->c);
}

static void dx_on_closed(void *cookie, int err)
{
	struct dx_conn *d = cookie;
	struct conn *c = d->c;
	d->tc = NULL;
	d->sent_pending = 0; /* a queued entry finds nothing to report */
	if (http_conn_is_open(c))
		http_conn_on_eof(d->lc, c, err ? err : -ECONNRESET); /* -> dx_close */
	if (http_conn_is_closing(c))
		http_conn_released(d->lc, c);
}

static const struct net_upcalls dx_up = {
	.on_accept = dx_on_accept,
	.on_data = dx_on_data,
	.on_eof = dx_on_eof,
	.on_writable = dx_on_writable,
	.on_closed = dx_on_closed,
};

static const struct net_ops dx_ops = { .tx = dx_tx };

/* "seed=1,drop=50000,dup=0,reorder=20000,reorder-us=2000,delay-us=0" (ppm).
 * Returns 0 or -EINVAL. Test-only configuration. */
static int dx_fault_parse(const char *spec, struct net_fault_config *f)
{
	char buf[160];
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq)
			return -EINVAL;
		*eq = 0;
		char *end;
		unsigned long long v = strtoull(eq + 1, &end, 10);
		if (*end || v > UINT32_MAX)
			return -EINVAL;
		if (strcmp(kv, "seed") == 0)
			f->seed = v;
		else if (strcmp(kv, "drop") == 0)
			f->drop_ppm = (uint32_t)v;
		else if (strcmp(kv, "dup") == 0)
			f->dup_ppm = (uint32_t)v;
		else if (strcmp(kv, "reorder") == 0)
			f->reorder_ppm = (uint32_t)v;
		else if (strcmp(kv, "reorder-us") == 0)
			f->reorder_us = (uint32_t)v;
		else if (strcmp(kv, "delay-us") == 0)
			f->delay_us = (uint32_t)v;
		else
			return -EINVAL;
	}
	return 0;
}

static int dx_init(struct lcore_ctx *lc)
{
	const struct sl_config *cfg = lc->sh->cfg;
	struct dx *dx = calloc(1, sizeof(*dx));
	if (!dx)
		return -ENOMEM;
	lc->xprt_priv = dx;
	dx->dc = calloc(lc->max_conns, sizeof(*dx->dc));
	dx->sent_q = calloc(lc->max_conns, sizeof(*dx->sent_q));
	dx->port = dpk_lcore(lc->sh->dpk, lc->idx);
	if (!dx->dc || !dx->sent_q || !dx->port)
		return -ENOMEM;
	struct net_config nc = {
		.ip = cfg->ip4_addr,
		.prefix_len = cfg->ip4_prefix_len,
		.gateway = cfg->ip4_gateway,
		.prefix6_len = cfg->ip6_prefix_len,
		.vlan_id = (uint16_t)cfg->dpdk_vlan,
		.listen_ports = { cfg->listen_port },
		.max_conns = lc->max_conns,
		.backlog = 1024,
		.snd_buf_bytes = 256u << 10,
		.rcv_buf_bytes = 256u << 10,
		.cc = strcmp(cfg->tcp_cc, "newreno") == 0 ? NET_CC_NEWRENO : NET_CC_CUBIC,
		.ack_burst = cfg->dpdk_ack_burst != 0, /* dx_poll calls net_flush */
	};
	memcpy(nc.mac, dpk_port_info(lc->sh->dpk, 0)->mac, 6);
	memcpy(nc.ip6, cfg->ip6_addr, 16);
	if ((cfg->net_fault_rx[0] && dx_fault_parse(cfg->net_fault_rx, &nc.fault_rx) < 0) ||
	    (cfg->net_fault_tx[0] && dx_fault_parse(cfg->net_fault_tx, &nc.fault_tx) < 0)) {
		SL_ERR("--net-fault-rx/tx: want seed=N,drop=PPM,dup=PPM,reorder=PPM,"
		       "reorder-us=N,delay-us=N");
		return -EINVAL;
	}
	if (nc.fault_rx.seed || nc.fault_tx.seed)
		SL_WARN("test fault stage ON: frames are dropped/duplicated/reordered on purpose");
	dx->stack = net_create(&nc, &dx_ops, &dx_up, lc, now_us());
	if (!dx->stack) {
		SL_ERR("userspace stack setup failed: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* Tells connections what the stack took since the last poll. Only the
 * connections queued before this call are served: sends they start now are
 * reported at the next poll, so this always ends. */
static void dx_deliver_sent(struct lcore_ctx *lc, struct dx *dx)
{
	uint32_t n = dx->n_sent_q;
	for (uint32_t i = 0; i < n; i++) {
		struct dx_conn *d = &dx->dc[dx->sent_q[i]];
		uint32_t bytes = d->sent_pending;
		d->sent_pending = 0;
		d->queued = false;
		if (bytes && d->c && http_conn_in_use(d->c) && http_conn_send_busy(d->c))
			http_conn_on_sent(lc, d->c, bytes);
	}
	memmove(dx->sent_q, dx->sent_q + n, (dx->n_sent_q - n) * sizeof(*dx->sent_q));
	dx->n_sent_q -= n;
}

static int dx_poll(struct lcore_ctx *lc, uint32_t timeout_ms)
{
	(void)timeout_ms; /* poll mode: never sleeps in the kernel */
	struct dx *dx = lc->xprt_priv;
	struct dpk_frame f[DPK_BURST_MAX];
	uint16_t n = dpk_rx_burst(dx->port, f, DPK_BURST_MAX);
	uint64_t now = now_us();
	for (uint16_t i = 0; i < n; i++) {
		net_input(dx->stack, f[i].data, f[i].len, now);
		dpk_frame_free(&f[i]);
	}
	int t = net_timers(dx->stack, now);
	/* the burst's ACKs (and window updates from the last poll's
	 * tcp_recved), one per connection, before the transmit flush */
	t += net_flush(dx->stack, now);
	if (lc->mx && now >= dx->mx_next_us) {
		dx_publish_stats(lc, dx);
		dx->mx_next_us = now + MX_TCP_COPY_US;
	}
	dx_deliver_sent(lc, dx);
	dpk_tx_flush(dx->port);
	if (n || t > 0) {
		dx->idle = 0;
	} else if (++dx->idle > DX_IDLE_SPINS && lc->sh->cfg->dpdk_idle_us) {
		struct timespec ts = { 0, (long)lc->sh->cfg->dpdk_idle_us * 1000 };
		nanosleep(&ts, NULL);
	}
	return n;
}

static void dx_send(struct lcore_ctx *lc, struct conn *c)
{
	struct dx *dx = lc->xprt_priv;
	struct dx_conn *d = &dx->dc[http_conn_idx(c)];
	if (!d->tc || d->sent_pending)
		return; /* the poll loop reports the pending bytes, then we go on */
	uint32_t len;
	const uint8_t *p = http_conn_out_ptr(c, &len);
	if (!len)
		return;
	int32_t n = tcp_send(d->tc, p, len);
	if (n < 0) {
		http_conn_on_eof(lc, c, n);
		return;
	}
	if (n > 0) {
		d->sent_pending = (uint32_t)n;
		if (!d->queued) {
			d->queued = true;
			dx->sent_q[dx->n_sent_q++] = http_conn_idx(c);
		}
	}
	/* n == 0: the send buffer is full; on_writable resumes. */
}

static void dx_close(struct lcore_ctx *lc, struct conn *c)
{
	struct dx *dx = lc->xprt_priv;
	struct dx_conn *d = &dx->dc[http_conn_idx(c)];
	if (!d->tc) {
		http_conn_released(lc, c); /* the stack is already done with it */
		return;
	}
	/* FIN after queued data; on_closed releases the slot. */
	tcp_close(d->tc);
}

static void dx_stop_accept(struct lcore_ctx *lc)
{
	struct dx *dx = lc->xprt_priv;
	net_stop_listen(dx->stack);
}

static void dx_wake(struct lcore_ctx *lc)
{
	(void)lc; /* a polling lcore notices within its nap */
}

static void dx_fini(struct lcore_ctx *lc)
{
	struct dx *dx = lc->xprt_priv;
	if (!dx)
		return;
	struct net_stats ns;
	net_stats(dx->stack, &ns);
	SL_INFO("stack: %" PRIu64 " rx / %" PRIu64 " tx frames, %" PRIu64 " accepted, %" PRIu64
		" retransmits (%" PRIu64 " fast), %" PRIu64 " SYN cookies sent / %" PRIu64
		" ok, %" PRIu64 " challenge ACKs, %" PRIu64 " fault drops, %" PRIu64 " dups, %"
		PRIu64 " reorders",
		ns.rx_frames, ns.tx_frames, ns.tcp_accepted, ns.tcp_retransmits,
		ns.tcp_fast_retransmits, ns.syn_cookies_sent, ns.syn_cookies_ok,
		ns.tcp_challenge_acks, ns.fault_dropped, ns.fault_duplicated, ns.fault_reordered);
	/* Open connections get on_closed(-ECONNABORTED): their slots go. */
	net_destroy(dx->stack);
	free(dx->sent_q);
	free(dx->dc);
	free(dx);
	lc->xprt_priv = NULL;
}

const struct xprt_ops dpdk_xprt_ops = {
	.name = "dpdk",
	.init = dx_init,
	.poll = dx_poll,
	.send = dx_send,
	.rx_pause = dx_rx_pause,
	.close = dx_close,
	.stop_accept = dx_stop_accept,
	.wake = dx_wake,
	.fini = dx_fini,
};

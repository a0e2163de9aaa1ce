/* SPDX-License-Identifier: Apache-2.0 */
/* sluice's userspace network stack: Ethernet, ARP, IPv4, ICMP echo and a
 * server-side TCP (RFC 9293 passive open, RFC 7323, RFC 2018 receive side,
 * RFC 6298, RFC 5681/6582 NewReno, RFC 5961, SYN cookies).
 *
 * A pure library driven by frames: the environment (the DPDK port layer, or a
 * TAP device in tests) hands received Ethernet frames to net_input(), gives
 * the stack a transmit callback, and calls net_timers() from its loop. The
 * stack never includes DPDK headers and never allocates after net_create().
 *
 * One struct net_stack per io lcore, used only by that lcore (STYLE 6): no
 * locks, no atomics. Every upcall runs on the caller's thread from inside
 * net_input(), net_timers() or a tcp_*() call.
 *
 * Addresses and ports in this header are in host byte order. */
#ifndef SL_DATAPLANE_NET_TCP_H
#define SL_DATAPLANE_NET_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct net_stack;
struct tcp_conn;

#define NET_MAX_LISTEN 4

/* What the environment provides. */
struct net_ops {
	/* Transmits one complete Ethernet frame (checksums filled in). The
	 * frame is only valid during the call: copy it. Returns 0 or -errno;
	 * a failed transmit is a lost frame (TCP retransmits). */
	int (*tx)(void *ctx, const uint8_t *frame, uint32_t len);
};

/* Upcalls into the connection layer (TLS/HTTP later; an echo in tests). */
struct net_upcalls {
	/* The three-way handshake completed on a listening port. Returns the
	 * cookie passed to the other upcalls, or NULL to refuse (the stack then
	 * resets the connection). The tcp_conn stays valid until on_closed. */
	void *(*on_accept)(void *ctx, struct tcp_conn *c);
	/* In-order payload. For an in-order segment, data points into the
	 * received frame (zero copy); data that arrived out of order comes
	 * from the connection's reassembly buffer. Returns how many bytes the
	 * caller is done with: those reopen the receive window at once. The
	 * caller keeps (copies) the rest and reports them later with
	 * tcp_recved(); until then they count against the window, which is
	 * how a slow reader pushes back on the peer. */
	uint32_t (*on_data)(void *cookie, const uint8_t *data, uint32_t len);
	/* The peer sent FIN: no more data will arrive. May be NULL. */
	void (*on_eof)(void *cookie);
	/* Send-buffer space was freed after a tcp_send() returned short. */
	void (*on_writable)(void *cookie);
	/* The stack is done with the connection: err is 0 (orderly close),
	 * -ECONNRESET (peer RST), -ETIMEDOUT (retransmit or keepalive limit)
	 * or -ECONNABORTED (tcp_abort, or the stack was destroyed). Called
	 * exactly once per accepted connection; afterwards neither the cookie
	 * nor the tcp_conn is used again. */
	void (*on_closed)(void *cookie, int err);
};

/* Test-only fault stage (net_fault.c), applied to frames received and/or
 * sent, since these machines have no netem. Rates are in parts per million. */
struct net_fault_config {
	uint64_t seed;		/* 0: stage off */
	uint32_t drop_ppm;
	uint32_t dup_ppm;
	uint32_t reorder_ppm;	/* held back reorder_us, letting later frames pass */
	uint32_t reorder_us;
	uint32_t delay_us;	/* fixed extra delay for every frame (0: none) */
};

struct net_config {
	uint8_t mac[6];
	uint32_t ip;		/* our IPv4 address */
	uint8_t prefix_len;	/* on-link subnet, 1..32 */
	uint32_t gateway;	/* next hop for off-link peers (0: none) */
	uint8_t ip6[16];	/* our global IPv6 address (all zero: no IPv6;
				 * ip 0 and ip6 set: IPv6 only). With it we
				 * also answer on the fe80:: EUI-64 address */
	uint8_t prefix6_len;	/* on-link prefix of ip6, 1..128 */
	uint16_t vlan_id;	/* 802.1Q VID 1..4094: every frame sent tagged,
				 * only frames tagged with it accepted (0: none) */
	uint16_t mtu;		/* IP MTU, 576..9000 (0: 1500) */
	uint16_t listen_ports[NET_MAX_LISTEN]; /* 0 ends the list */
	uint32_t max_conns;	/* connection table size, preallocated */
	uint32_t backlog;	/* max half-open (SYN-RECEIVED) entries; beyond
				 * it every SYN gets a SYN cookie instead */
	uint32_t snd_buf_bytes;	/* per connection, power of two, 4 KiB..16 MiB */
	uint32_t rcv_buf_bytes;	/* per connection receive window and reassembly
				 * buffer, power of two, 4 KiB..16 MiB */
	uint32_t tick_us;	/* timer wheel granularity (0: 1000) */
	uint32_t arp_entries;	/* ARP cache size (0: 64) */
	uint32_t arp_timeout_us; /* entry lifetime (0: 60 s); also the neighbor
				  * cache's (IPv6) */
	uint32_t nd_entries;	/* IPv6 neighbor cache size (0: 64) */
	uint32_t rto_min_us;	/* (0: 200 ms; RFC 6298 says 1 s, stacks use less) */
	uint32_t delack_us;	/* delayed-ACK timeout (0: 40 ms) */
	uint32_t time_wait_us;	/* 2*MSL (0: 60 s) */
	uint32_t keepalive_idle_us; /* 0: keepalive off */
	uint32_t keepalive_intvl_us; /* (0: 75 s) */
	uint8_t keepalive_probes; /* (0: 9) */
	uint8_t syn_cookie_key[16]; /* all zero: random (getrandom) */
	bool syn_cookies_always; /* tests: cookie every SYN */
	uint8_t cc;		/* congestion control, enum net_cc (0: CUBIC) */
	bool no_rack;		/* RACK's time-based loss detection off (tests
				 * of RFC 6675's DupThresh rules alone) */
	bool no_rec_probe;	/* no probe in SACK recovery (tcp_timer.c):
				 * a lost resend waits for the RTO, as in
				 * Linux (tests, comparisons) */
	bool ack_burst;		/* one ACK per connection per receive burst:
				 * ACKs that RFC 5681's every-second-segment
				 * rule (and window updates) would send during
				 * input wait for net_flush(), which the driver
				 * must call after each burst */
	struct net_fault_config fault_rx, fault_tx;
};

/* Congestion control (tcp_cc.c). */
enum net_cc {
	NET_CC_CUBIC = 0,	/* RFC 9438, the default (as Linux) */
	NET_CC_NEWRENO = 1,	/* RFC 5681 / 6582 */
	NET_CC__COUNT
};

/* Counters; monotonically increasing, read with net_stats(). */
struct net_stats {
	uint64_t rx_frames, tx_frames, tx_errors;
	uint64_t rx_drop_eth, rx_drop_ip, rx_ip_frags, rx_bad_csum;
	uint64_t arp_replies, arp_requests, arp_miss_drops;
	uint64_t icmp_echo;
	uint64_t rx_drop_vlan;	/* untagged or another VLAN while vlan_id is set,
				 * or tagged while it is not */
	uint64_t nd_ns_rx, nd_na_tx, nd_ns_tx, nd_miss_drops, rx_ip6;
	uint64_t tcp_rx_segs, tcp_tx_segs, tcp_retransmits, tcp_fast_retransmits;
	uint64_t tcp_rto, tcp_rst_rx, tcp_rst_tx, tcp_challenge_acks;
	uint64_t tcp_out_of_window, tcp_ooo_segs, tcp_ooo_drops, tcp_paws_drops;
	uint64_t tcp_accepted, tcp_refused, tcp_table_full;
	uint64_t syn_cookies_sent, syn_cookies_ok, syn_cookies_bad;
	/* loss recovery: SACK recovery episodes (each one PRR-paced), RACK-TLP
	 * loss verdicts, timeouts F-RTO found spurious, episodes undone by
	 * DSACK (every resend was needless), and retransmitted
	 * segments by cause (the sum is tcp_retransmits) */
	uint64_t tcp_prr_episodes, tcp_rack_marks, tcp_spurious_rto, tcp_dsack_undo;
	uint64_t tcp_rexmit_recovery, tcp_rexmit_tlp, tcp_rexmit_rto;
	/* data-segment timeouts by what was going on when they fired (one
	 * each, in this order of precedence): a repeat of a timeout already
	 * backed off, SACK/NewReno recovery that stalled (a lost resend no
	 * later delivery revealed, or its ACKs lost), a tail-loss probe that
	 * went unanswered, and none of those (no probe armed) */
	uint64_t tcp_rto_repeat, tcp_rto_recovery, tcp_rto_after_tlp, tcp_rto_no_tlp;
	uint64_t tcp_rec_probes;	/* recovery probes sent (tcp_timer.c) */
	uint64_t fault_dropped, fault_duplicated, fault_reordered;
	uint32_t conns_in_use, half_open;
};

/* Builds a stack: the connection table, buffers, ARP cache and timer wheel
 * are all allocated here. ops, up and ctx must outlive the stack; ctx is
 * passed to ops->tx and up->on_accept. now_us is the environment's monotonic
 * clock (the same clock as later calls). Returns NULL with errno EINVAL (bad
 * config or a missing callback), ENOMEM, or EIO (no random SYN-cookie key). */
struct net_stack *net_create(const struct net_config *cfg, const struct net_ops *ops,
			     const struct net_upcalls *up, void *ctx, uint64_t now_us);
/* Tears everything down without sending anything; open connections get
 * on_closed(-ECONNABORTED). NULL is a no-op. */
void net_destroy(struct net_stack *st);

/* Processes one received Ethernet frame; the frame is only read, and only
 * during the call (payload handed to on_data points into it). Malformed,
 * foreign or unsupported frames are dropped and counted in net_stats. Returns
 * 0, or -EINVAL when len cannot be an Ethernet frame (< 14 or > 9018, a
 * tagged 9000-byte MTU). */
int net_input(struct net_stack *st, const uint8_t *frame, uint32_t len, uint64_t now_us);
/* Runs due timers (retransmit, persist, delayed ACK, keepalive, TIME-WAIT,
 * ARP refresh, the fault stage's held frames). Returns the number of timers
 * fired. Call at least every tick_us. */
int net_timers(struct net_stack *st, uint64_t now_us);
/* With cfg.ack_burst: sends the ACKs held back during the last net_input /
 * net_timers calls (one per connection, carrying the latest RCV.NXT and
 * window). Call it after every receive burst. Returns ACKs sent. Without
 * ack_burst it does nothing. */
int net_flush(struct net_stack *st, uint64_t now_us);
/* Time (absolute, same clock) of the next timer, UINT64_MAX when none: an
 * environment that may sleep sleeps until then. */
uint64_t net_next_timer(const struct net_stack *st);
void net_stats(const struct net_stack *st, struct net_stats *out);

/* Stops answering SYNs on every port (graceful shutdown, step one); new
 * SYNs get RST. Established connections continue. */
void net_stop_listen(struct net_stack *st);

/* Copies up to len bytes into the send buffer and transmits what the peer's
 * window and the congestion window allow. Returns bytes accepted: less than
 * len when the buffer fills (on_writable follows when space frees), 0 when
 * full. Returns -EPIPE after tcp_shutdown/tcp_close or once the connection
 * is closing down on our side, -ENOTCONN after a reset. */
int32_t tcp_send(struct tcp_conn *c, const uint8_t *data, uint32_t len);
/* Reports n more bytes kept by on_data as consumed (reopens the window). */
void tcp_recved(struct tcp_conn *c, uint32_t n);
/* Sends FIN after all queued data (half close; receiving continues).
 * Idempotent. */
void tcp_shutdown(struct tcp_conn *c);
/* tcp_shutdown, and any data still arriving is discarded. on_closed follows
 * once the FIN exchange is over (or fails). Idempotent. */
void tcp_close(struct tcp_conn *c);
/* Sends RST and drops the connection; on_closed(-ECONNABORTED) is called
 * before this returns. Idempotent. */
void tcp_abort(struct tcp_conn *c);
/* Free space in the send buffer, bytes. */
uint32_t tcp_send_space(const struct tcp_conn *c);
/* Peer address (host order; for an IPv6 peer ip is meaningless). */
void tcp_peer(const struct tcp_conn *c, uint32_t *ip, uint16_t *port);
/* True for an IPv6 connection, with the peer's address copied to ip6. */
bool tcp_peer6(const struct tcp_conn *c, uint8_t ip6[16]);
uint16_t tcp_local_port(const struct tcp_conn *c);

#endif

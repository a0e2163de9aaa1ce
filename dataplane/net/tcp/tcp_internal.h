/* SPDX-License-Identifier: Apache-2.0 */
/* Private declarations of the userspace stack (see tcp.h for the public face).
 * Pure helpers (checksums, sequence arithmetic, timer wheel, SYN cookies, RTO
 * estimator, fault stage) are declared here so unit tests can reach them. */
#ifndef SL_DATAPLANE_NET_TCP_INTERNAL_H
#define SL_DATAPLANE_NET_TCP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/bug.h"
#include "dataplane/net/tcp/tcp.h"

/* ---- wire formats ---- */
#define ETH_HDR_LEN 14
#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP 0x0806
#define ETH_TYPE_IPV6 0x86dd
#define ETH_TYPE_VLAN 0x8100	/* 802.1Q tag */
#define VLAN_HDR_LEN 4
#define IP_HDR_LEN 20
#define IP6_HDR_LEN 40
#define IP_PROTO_ICMPV6 58
#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP 6
#define TCP_HDR_LEN 20
#define TCP_MAX_OPT_LEN 40
#define NET_FRAME_MAX (ETH_HDR_LEN + VLAN_HDR_LEN + 9000)
/* Outgoing frames are built in txbuf with the L4 header always at this
 * offset, whatever the family and tag: TCP builds segments without knowing
 * them, and the IP layer writes its headers in front (net_ip_output,
 * net_ip6_output). */
#define NET_TX_L4_OFF (ETH_HDR_LEN + VLAN_HDR_LEN + IP6_HDR_LEN)

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* ---- checksums (RFC 1071), net_ip.c ---- */
/* Unfolded 32-bit partial sum of len bytes (big-endian 16-bit words). */
uint32_t net_csum_partial(const uint8_t *p, uint32_t len, uint32_t sum);
/* Folds and complements: the value to store in a checksum field. */
uint16_t net_csum_fold(uint32_t sum);
/* IPv4 header checksum of hdr_len bytes (field included: 0 when valid). */
uint16_t net_ip_csum(const uint8_t *ip_hdr, uint32_t hdr_len);
/* TCP/UDP checksum over the pseudo-header (RFC 9293 3.1) and l4_len bytes. */
uint16_t net_l4_csum(uint32_t src_ip, uint32_t dst_ip, uint8_t proto, const uint8_t *l4,
		     uint32_t l4_len);
/* The same over the IPv6 pseudo-header (RFC 8200 8.1): TCP and ICMPv6. */
uint16_t net_l4_csum6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto,
		      const uint8_t *l4, uint32_t l4_len);

/* ---- sequence numbers modulo 2^32 (RFC 9293 3.4) ---- */
static inline bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool seq_leq(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool seq_geq(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }
/* a <= x < b, all modulo 2^32 */
static inline bool seq_in(uint32_t x, uint32_t a, uint32_t b)
{
	return seq_leq(a, x) && seq_lt(x, b);
}

/* ---- timer wheel (tcp_timer.c): hashed wheel, one entry per owner ---- */
struct tw_entry {
	struct tw_entry *next, *prev; /* NULL prev: not armed */
	uint64_t expire_us;
};
struct tw_wheel {
	struct tw_entry *slots; /* [nslots] list heads (sentinels) */
	uint32_t nslots;	/* power of two */
	uint32_t tick_us;
	uint64_t cur_tick;	/* every tick before this has been run */
	uint32_t armed;
};
/* nslots a power of two; slots memory provided by the caller. */
void tw_init(struct tw_wheel *w, struct tw_entry *slots, uint32_t nslots, uint32_t tick_us,
	     uint64_t now_us);
void tw_arm(struct tw_wheel *w, struct tw_entry *e, uint64_t expire_us);
void tw_cancel(struct tw_wheel *w, struct tw_entry *e);
static inline bool tw_armed(const struct tw_entry *e) { return e->prev != NULL; }
/* Runs every entry whose expiry is <= now_us (unlinked before fn runs; fn may
 * re-arm it). Returns the count fired. */
uint32_t tw_advance(struct tw_wheel *w, uint64_t now_us,
		    void (*fn)(struct tw_entry *e, void *arg), void *arg);
/* Earliest expiry among armed entries (UINT64_MAX: none); O(nslots) worst. */
uint64_t tw_next(const struct tw_wheel *w);

/* ---- RTO estimator, RFC 6298 (tcp_timer.c) ---- */
struct rto_est {
	uint32_t srtt_us, rttvar_us, rto_us;
	uint32_t min_us, max_us;
	bool have_sample;
};
void rto_init(struct rto_est *r, uint32_t min_us, uint32_t max_us);
void rto_sample(struct rto_est *r, uint32_t rtt_us);
/* New data was acknowledged: drop the backoff (as Linux does; RFC 6298
 * would keep it until the next sample, which Karn's rule can delay for a
 * long time under heavy loss). */
void rto_ack_progress(struct rto_est *r);
/* RFC 6298 5.5: double, capped at max. */
void rto_backoff(struct rto_est *r);

/* ---- window scaling (RFC 7323 2) ---- */
/* Smallest shift (<= 14) such that buf_bytes >> shift fits in 16 bits. */
uint8_t tcp_wscale_for(uint32_t buf_bytes);

/* ---- SYN cookies (tcp_conn.c) ---- */
uint64_t net_siphash24(const uint8_t key[16], const uint8_t *data, uint32_t len);
/* Our ISN for a SYN from (saddr, sport) to (daddr, dport) carrying seq isn,
 * encoding a 3-bit MSS index and a 5-bit 64-second time counter. */
uint32_t syncookie_make(const uint8_t key[16], uint32_t saddr, uint32_t daddr, uint16_t sport,
			uint16_t dport, uint32_t peer_isn, uint16_t mss, uint64_t now_us);
/* Checks the cookie (the ACK's ack_seq - 1) against the ACK's seq - 1; returns
 * the MSS it encoded, or 0 when invalid or older than two periods. */
uint16_t syncookie_check(const uint8_t key[16], uint32_t saddr, uint32_t daddr, uint16_t sport,
			 uint16_t dport, uint32_t peer_isn, uint32_t cookie, uint64_t now_us);
/* The SYN's options a cookie connection keeps, carried (as Linux does) in
 * the low 6 bits of our SYN-ACK's TSval, which the peer echoes in TSecr:
 * bits 0-3 the peer's window shift (15: no window scaling), bit 4
 * SACK-permitted, bit 5 reserved (Linux: ECN; we never set it). Only a SYN
 * with timestamps can carry them. */
struct syncookie_opts {
	bool ws_ok, sack_ok;
	uint8_t snd_wscale;	/* the peer's shift, 0..14 */
};
#define SYNCOOKIE_TS_BITS 6
#define SYNCOOKIE_TS_MASK ((1u << SYNCOOKIE_TS_BITS) - 1)
#define SYNCOOKIE_TS_NO_WS 0xfu
/* TSval for the cookie SYN-ACK: ts_now with the options in its low bits,
 * never ahead of ts_now (the peer's PAWS must accept our next TSval). */
uint32_t syncookie_ts_encode(uint32_t ts_now, const struct syncookie_opts *o);
/* Decodes the completing ACK's TSecr. False when it cannot be one of ours:
 * ahead of ts_now, older than the cookie's lifetime, or malformed bits. */
bool syncookie_ts_decode(uint32_t tsecr, uint32_t ts_now, struct syncookie_opts *o);

/* ---- fault stage (net_fault.c) ---- */
#define NET_FAULT_SLOTS 64
struct net_fault_frame {
	uint64_t release_us;
	uint64_t seq; /* arrival order: ties in release_us go out in it */
	uint32_t len;
	uint8_t data[NET_FRAME_MAX];
};
struct net_fault {
	struct net_fault_config cfg;
	uint64_t rng;
	struct net_fault_frame *held; /* [NET_FAULT_SLOTS] */
	uint32_t n_held;
	uint64_t next_seq;
	uint64_t dropped, duplicated, reordered;
};
typedef void (*net_fault_deliver_fn)(void *arg, const uint8_t *frame, uint32_t len);
/* held must point at NET_FAULT_SLOTS frames. */
void net_fault_init(struct net_fault *f, const struct net_fault_config *cfg,
		    struct net_fault_frame *held);
/* Passes a frame through: delivered now (0..2 times), held, or dropped. */
void net_fault_push(struct net_fault *f, const uint8_t *frame, uint32_t len, uint64_t now_us,
		    net_fault_deliver_fn fn, void *arg);
/* Delivers held frames whose time has come; returns how many. */
uint32_t net_fault_poll(struct net_fault *f, uint64_t now_us, net_fault_deliver_fn fn,
			void *arg);
uint64_t net_fault_next(const struct net_fault *f);

/* ---- ARP cache (net_arp.c) ---- */
struct arp_entry {
	uint32_t ip;		/* 0: free */
	uint8_t mac[6];
	uint64_t expire_us;
	uint64_t last_req_us;	/* rate limit for our requests */
};
/* Frames waiting for an ARP reply: a few, overwritten oldest first. */
#define ARP_PENDING 8
struct arp_pending {
	uint32_t ip;		/* next hop; 0: free */
	uint32_t len;
	uint64_t since_us;
	uint8_t data[NET_FRAME_MAX];
};
struct arp_cache {
	struct arp_entry *e;
	uint32_t n;
	uint32_t timeout_us;
	struct arp_pending *pend; /* [ARP_PENDING] */
	uint32_t pend_next;
};
void arp_cache_init(struct arp_cache *c, struct arp_entry *mem, uint32_t n, uint32_t timeout_us);
/* Inserts or refreshes; evicts the entry closest to expiry when full. */
void arp_cache_put(struct arp_cache *c, uint32_t ip, const uint8_t mac[6], uint64_t now_us);
/* Live entry for ip, or NULL (expired entries are freed here). */
struct arp_entry *arp_cache_get(struct arp_cache *c, uint32_t ip, uint64_t now_us);

/* ---- IPv6 neighbor cache (net_nd.c), RFC 4861 simplified like ARP's:
 * an entry is reachable until it expires, refreshed by a unicast NS once
 * past half its lifetime; no INCOMPLETE/STALE/DELAY/PROBE states ---- */
struct nd_entry {
	uint8_t ip[16];
	bool used;
	uint8_t mac[6];
	uint64_t expire_us;
	uint64_t last_req_us;	/* rate limit for our solicitations */
};
#define ND_PENDING 8
struct nd_pending {
	uint8_t ip[16];		/* next hop */
	bool used;
	uint32_t len;
	uint64_t since_us;
	uint8_t data[NET_FRAME_MAX];
};
struct nd_cache {
	struct nd_entry *e;
	uint32_t n;
	uint32_t timeout_us;
	struct nd_pending *pend; /* [ND_PENDING] */
	uint32_t pend_next;
	uint64_t last_mcast_us;	/* rate limit of multicast solicitations */
	uint8_t last_mcast_ip[16];
};
void nd_cache_init(struct nd_cache *c, struct nd_entry *mem, uint32_t n, uint32_t timeout_us);
/* Inserts or refreshes; evicts the entry closest to expiry when full. */
void nd_cache_put(struct nd_cache *c, const uint8_t ip[16], const uint8_t mac[6],
		  uint64_t now_us);
/* Live entry for ip, or NULL (expired entries are freed here). */
struct nd_entry *nd_cache_get(struct nd_cache *c, const uint8_t ip[16], uint64_t now_us);
/* ff02::1:ffXX:XXXX for ip (RFC 4291 2.7.1) and its Ethernet group address
 * 33:33:ff:XX:XX:XX (RFC 2464 7). */
void nd_solicited_node(const uint8_t ip[16], uint8_t out[16]);
void nd_mcast_mac(const uint8_t ip[16], uint8_t mac[6]);
/* fe80::/64 with the modified EUI-64 of mac (RFC 4291 2.5.1, app. A). */
void nd_link_local(const uint8_t mac[6], uint8_t out[16]);

/* ---- TCP connection ---- */
/* RFC 9293 3.3.2 states. LISTEN is a property of a port, not a connection. */
enum tcp_state {
	TCPS_CLOSED = 0,	/* free slot, or dead and awaiting release */
	TCPS_SYN_RECEIVED = 1,	/* SYN seen, SYN-ACK sent */
	TCPS_ESTABLISHED = 2,
	TCPS_FIN_WAIT_1 = 3,	/* we sent FIN, not yet ACKed */
	TCPS_FIN_WAIT_2 = 4,	/* our FIN ACKed, waiting for theirs */
	TCPS_CLOSING = 5,	/* both sent FIN, ours not ACKed */
	TCPS_TIME_WAIT = 6,	/* 2*MSL quiet time after active close */
	TCPS_CLOSE_WAIT = 7,	/* peer sent FIN, we have not */
	TCPS_LAST_ACK = 8,	/* we sent FIN after theirs, not yet ACKed */
};

#define TCP_OOO_RANGES 16	/* out-of-order ranges kept (more: segment dropped) */
#define TCP_SACK_MAX 3
#define TCP_SACKED_MAX 8	/* scoreboard ranges kept on the send side */
#define TCP_CWND_MAX (1u << 30)	/* bytes; far above any send buffer */
/* Resends an episode may have and still be undone by DSACKs: a spurious
 * episode (reordering) resends one or a few segments; one with more had
 * real losses among them */
#define TCP_UNDO_SEGS 16
/* Probes (tail-loss or recovery) before the RTO, each PTO doubling: one as
 * RFC 8985 and Linux send loses itself or its ACK with probability ~2p (10%
 * at 5% loss each way), and then the RTO, 200 ms against RTTs of 0.1 ms,
 * was most of a lossy GetRecords cell (tcp_timer.c) */
#define TCP_PROBES_MAX 2

struct tcp_range { uint32_t start, end; };

/* RACK (RFC 8985, tcp_rack.c): transmissions kept per connection. 64 is
 * several times the flight under loss (cwnd 10-30 segments); a larger
 * flight forgets its oldest records, left to DupThresh and the RTO. */
#define TCP_RACK_LOG 64
struct tcp_rack_seg {
	uint32_t start, end;
	uint64_t xmit_us;
	uint32_t flags;
};
struct tcp_rack {
	struct tcp_rack_seg log[TCP_RACK_LOG];
	uint32_t head, n;
	/* RACK.xmit_ts, RACK.end_seq, RACK.rtt of the most recently sent
	 * delivered segment (have: one was seen), min_RTT */
	uint64_t xmit_us;
	uint32_t end_seq, rtt_us, min_rtt_us;
	bool have;
	/* reo_wnd multiplier grown by DSACK (0 and 1: min_RTT / 4), the
	 * recoveries left before it resets, and the end of the round in
	 * which it last grew */
	uint8_t reo_mult, reo_persist;
	bool dsack_round_valid;
	uint32_t dsack_round;
	uint64_t t_reo;	/* reordering timer, absolute us, 0 = off */
};

struct tcp_conn {
	struct tw_entry timer;	/* first: container_of by cast */
	struct net_stack *st;
	uint32_t idx;
	uint32_t hash_next;	/* chain in the 4-tuple hash, UINT32_MAX ends */
	enum tcp_state state;
	uint32_t rip;		/* remote address, host order; IPv6: its keyed
				 * 32-bit fold (net_ip6_fold), for hashing */
	bool v6;		/* rip6/lip6 valid */
	uint8_t rip6[16], lip6[16]; /* IPv6 peer, and which of ours it used */
	uint16_t rport, lport;
	void *cookie;		/* NULL until accepted */
	bool accepted, closed_up, app_closed, shut_wr, peer_fin, want_writable;
	bool release;		/* in the release list */
	bool ts_ok, sack_ok, ws_ok, from_cookie;
	bool tlp_pending;	/* t_rexmt is a tail-loss probe, not the RTO */
	bool tlp_done;		/* a probe went out since new data was ACKed */
	uint8_t n_probes;	/* probes since then, at most TCP_PROBES_MAX */
	int close_err;

	/* send side (RFC 9293 3.3.1) */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2, max_snd_wnd;
	uint8_t snd_wscale, rcv_wscale;
	uint16_t mss;		/* payload bytes per segment we send */
	uint8_t *sbuf;		/* ring, indexed by seq & smask */
	uint32_t smask;
	uint32_t sbuf_len;	/* bytes queued from data_seq (snd_una side) */
	uint32_t data_seq;	/* seq of the first byte in sbuf (>= snd_una) */
	uint32_t fin_seq;	/* valid when shut_wr: seq of our FIN */
	/* congestion control (tcp_cc.c): NewReno (RFC 5681, 6582) or CUBIC */
	uint32_t cwnd, ssthresh, recover, dupacks, cwnd_acc;
	bool in_recovery;
	bool tlp_sending;	/* tcp_send_seg: the segment is a TLP (counters) */
	/* CUBIC (RFC 9438) in segments and seconds: W_max, W_est, K,
	 * cwnd_epoch, cwnd_prior (before the last reduction), the start of
	 * the congestion-avoidance epoch (0: none yet), and the fraction of a
	 * byte of growth not yet added */
	struct {
		double w_max, w_est, k_s, cwnd_epoch, prior, frac;
		uint64_t epoch_us;
	} cu;
	/* PRR (RFC 6937) during SACK recovery: bytes delivered and sent
	 * since it started, the flight then, and this ACK's DeliveredData */
	uint32_t prr_delivered, prr_out, recover_fs, ack_delivered;
	/* DSACK undo (RFC 2883 4, Linux-style): cwnd, ssthresh and W_max
	 * before the last SACK recovery episode, SND.UNA when it began, and
	 * the segments it resent that no DSACK has yet shown to be needless
	 * (only a DSACK of exactly one of them counts, as Linux counts only
	 * DSACKs of retransmitted segments: a network duplicate of an
	 * original must not undo). undo_valid from the episode's start until
	 * the undo, the next congestion event, a retransmission outside
	 * recovery, or more than TCP_UNDO_SEGS resends. */
	uint32_t undo_cwnd, undo_ssthresh, undo_marker;
	double undo_w_max;
	struct tcp_range undo_seg[TCP_UNDO_SEGS];
	uint8_t n_undo_seg, n_undo_left;
	bool undo_valid;
	/* SACK scoreboard (RFC 6675, simplified): ranges the peer holds above
	 * SND.UNA, and the next sequence to consider for a hole retransmit */
	struct tcp_range sacked[TCP_SACKED_MAX];
	uint8_t n_sacked;
	uint32_t rexmit_nxt;	/* RFC 6675 HighRxt: end of the last hole resent */
	bool rescue_done;	/* RFC 6675 RescueRxt: one rescue per recovery */
	/* RACK-TLP (RFC 8985), for the tail only: the probe's range, and the
	 * time of the last data sent before it; when the probe comes back
	 * SACKed, the unSACKed data below it is lost (rack_lost_end) */
	bool tlp_active, rack_lost;
	uint32_t tlp_start, tlp_end, rack_lost_end;
	uint64_t tlp_prior_tx_us, last_data_tx_us;
	struct tcp_rack rk;
	/* F-RTO (RFC 5682 2.1): 1 after the first RTO of an episode, waiting
	 * for the first ACK; 2 after two new segments went out, waiting for
	 * the second. 0: off. */
	uint8_t frto;
	/* RTT: timestamps when ts_ok, else one timed segment (Karn) */
	uint32_t rtt_seq;
	uint64_t rtt_start_us;
	bool rtt_timing;
	struct rto_est rto;
	uint8_t rexmits, ka_probes, persist_shift;

	/* receive side */
	uint32_t irs, rcv_nxt, rcv_adv;	/* rcv_adv: right edge last advertised */
	uint32_t app_held;		/* bytes on_data kept */
	uint8_t *rbuf;			/* reassembly ring, indexed by seq & rmask */
	uint32_t rmask;
	struct tcp_range ooo[TCP_OOO_RANGES];
	uint8_t n_ooo;
	uint8_t ooo_last;		/* range of the latest OOO segment (SACK order) */
	uint32_t ts_recent, last_ack_sent;
	uint16_t unacked_segs;		/* delayed ACK (RFC 9293 3.8.6.3) */
	/* cfg.ack_burst: an ACK is owed at net_flush (cleared by any ACK
	 * sent), and the slot is on st->ackq (cleared by net_flush) */
	bool ack_owed, ack_queued;

	/* timers: absolute microseconds, 0 = off; the wheel runs the earliest */
	uint64_t t_rexmt, t_persist, t_delack, t_keep, t_2msl;
	uint64_t last_rx_us;
};

struct net_stack {
	struct net_config cfg;
	const struct net_ops *ops;
	const struct net_upcalls *up;
	void *ctx;
	uint64_t now_us;
	uint32_t netmask;
	bool listening;
	uint16_t ip_id;
	uint64_t rng;

	struct tcp_conn *conns;	/* [max_conns] */
	uint32_t free_head;	/* via hash_next */
	uint32_t *hash;		/* [nhash] heads */
	uint32_t nhash;
	uint32_t *release;	/* [max_conns] dead slots to free after the upcall depth hits 0 */
	uint32_t n_release;
	uint32_t depth;		/* nesting of input/timer processing */
	uint32_t *ackq;		/* [max_conns] slots owing an ACK at net_flush */
	uint32_t n_ackq;
	uint8_t *bufmem;

	struct tw_wheel wheel;
	struct tw_entry *slots;
	struct arp_cache arp;
	struct net_fault frx, ftx;
	uint64_t chack_window_us;  /* challenge-ACK rate limit (RFC 5961 7) */
	uint32_t chack_count;

	uint64_t arp_last_bcast_us;
	uint32_t arp_last_bcast_ip;
	/* IPv6 (cfg.ip6 set): the link-local address, the neighbor cache, and
	 * the addresses of the packet being processed (NULL while not in an
	 * IPv6 packet's processing: TCP replies and new connections take the
	 * family from it) */
	bool ip6_on;
	uint8_t ip6_ll[16];
	struct nd_cache nd;
	const struct net_rx6 *rx6;
	uint8_t ndbuf[VLAN_HDR_LEN + 128];

	uint8_t arpbuf[64 + VLAN_HDR_LEN];
	uint8_t txbuf[NET_TX_L4_OFF + 9000];
	struct net_stats stats;
};

struct net_rx6 {
	uint8_t src[16], dst[16];
};

/* net_stack.c / net_eth.c */
void net_eth_input(struct net_stack *st, const uint8_t *frame, uint32_t len);
/* Writes the Ethernet header (and the 802.1Q tag when configured) ending
 * right before end; returns the frame start. */
uint8_t *net_eth_hdr(struct net_stack *st, uint8_t *end, const uint8_t *dmac, uint16_t type);
static inline uint32_t net_eth_hlen(const struct net_stack *st)
{
	return ETH_HDR_LEN + (st->cfg.vlan_id ? VLAN_HDR_LEN : 0);
}
/* Sends an IPv4 packet whose payload (l4_len bytes) sits at
 * st->txbuf + NET_TX_L4_OFF; fills Ethernet and IP headers. */
int net_ip_output(struct net_stack *st, uint32_t dst_ip, uint8_t proto, uint32_t l4_len);
void net_tx_frame(struct net_stack *st, const uint8_t *frame, uint32_t len);
void net_ip_input(struct net_stack *st, const uint8_t *pkt, uint32_t len);
/* a: the ARP packet (after the Ethernet header and any tag) */
void net_arp_input(struct net_stack *st, const uint8_t *a, uint32_t len);
/* IPv6 (net_ip6.c): input from after the Ethernet header; output of the
 * payload at st->txbuf + NET_TX_L4_OFF from src to dst (checksum filled
 * by the caller). */
void net_ip6_input(struct net_stack *st, const uint8_t *pkt, uint32_t len);
int net_ip6_output(struct net_stack *st, const uint8_t src[16], const uint8_t dst[16],
		   uint8_t proto, uint32_t l4_len);
/* A keyed 32-bit digest of an IPv6 address: the connection hash and SYN
 * cookies take it where they take an IPv4 address. */
uint32_t net_ip6_fold(const struct net_stack *st, const uint8_t a[16]);
bool net_ip6_is_ours(const struct net_stack *st, const uint8_t a[16]);
/* ICMPv6 (net_icmp6.c): echo and Neighbor Discovery. */
void net_icmp6_input(struct net_stack *st, const uint8_t *ip6, const uint8_t *icmp,
		     uint32_t len);
/* An NS or NA (net_nd.c), checksum already verified. */
void net_nd_input(struct net_stack *st, const uint8_t *ip6, const uint8_t *m, uint32_t len);
/* Next-hop MAC for dst, or NULL (a solicitation was sent). */
const uint8_t *net_nd_resolve(struct net_stack *st, const uint8_t dst[16]);
void net_nd_hold(struct net_stack *st, const uint8_t dst[16], const uint8_t *frame,
		 uint32_t len);
/* Next-hop MAC for dst, or NULL (an ARP request was sent). */
const uint8_t *net_arp_resolve(struct net_stack *st, uint32_t dst_ip);
/* Keeps a frame (dst MAC to be filled) until dst_ip's next hop resolves. */
void net_arp_hold(struct net_stack *st, uint32_t dst_ip, const uint8_t *frame, uint32_t len);
void net_icmp_input(struct net_stack *st, uint32_t src, const uint8_t *icmp, uint32_t len);

/* tcp_input.c */
void tcp_input(struct net_stack *st, uint32_t src, uint32_t dst, const uint8_t *seg,
	       uint32_t len);

/* tcp_output.c */
/* Sends what the windows allow (data, FIN); ACK too if force_ack. */
void tcp_output(struct tcp_conn *c, bool force_ack);
/* One segment of [seq, seq+len) from the send buffer with the given flags. */
void tcp_send_seg(struct tcp_conn *c, uint32_t seq, uint32_t len, uint8_t flags);
void tcp_send_ack(struct tcp_conn *c);
/* An ACK the every-second-segment rule or a window update calls for: sent
 * now, or with cfg.ack_burst owed until net_flush (tcp_output.c). */
void tcp_ack_soon(struct tcp_conn *c);
/* Sends up to nsegs new (never sent) segments as the peer's window allows,
 * whatever cwnd says (F-RTO's probe). Returns how many went out. */
uint32_t tcp_output_new(struct tcp_conn *c, uint32_t nsegs);
/* Retransmits the first hole at or after rexmit_nxt (RFC 6675 NextSeg, one
 * segment). Returns false when there is none. */
bool tcp_rexmit_hole(struct tcp_conn *c);
void tcp_send_synack(struct tcp_conn *c);
/* RST for a segment with no connection (RFC 9293 3.10.7.1). */
void tcp_send_rst_reply(struct net_stack *st, uint32_t src, uint32_t dst, uint16_t sport,
			uint16_t dport, uint32_t seq, uint32_t ack, uint8_t seg_flags,
			uint32_t seg_len);
/* Stateless SYN-ACK carrying a SYN cookie: MSS, and when the SYN had
 * timestamps (ts_ok, its TSval peer_tsval) also window scaling and
 * SACK-permitted as in o, encoded in our TSval. */
void tcp_send_cookie_synack(struct net_stack *st, uint32_t src, uint32_t dst, uint16_t sport,
			    uint16_t dport, uint32_t isn, uint32_t ack, bool ts_ok,
			    uint32_t peer_tsval, const struct syncookie_opts *o);
/* Our 1 ms timestamp clock (RFC 7323 5.4). */
uint32_t tcp_ts_now(const struct net_stack *st);
uint32_t tcp_rcv_window(const struct tcp_conn *c);
uint16_t tcp_our_mss(const struct net_stack *st, bool v6);

/* tcp_sack.c: RFC 6675 scoreboard queries */
bool tcp_sack_is_lost(const struct tcp_conn *c, uint32_t seq);
uint32_t tcp_sack_pipe(const struct tcp_conn *c);
/* NextSeg rule 1 (lost holes above HighRxt), or with rule3 any hole above
 * HighRxt below the highest SACKed byte: one segment [*seq, *seq + *len). */
bool tcp_sack_next_rexmit(const struct tcp_conn *c, bool rule3, uint32_t *seq, uint32_t *len);
bool tcp_sack_rescue(const struct tcp_conn *c, uint32_t *seq, uint32_t *len);
/* After the scoreboard took an ACK: a SACKed or ACKed tail-loss probe
 * tells what below it is lost (RFC 8985 6.2 with the probe as the most
 * recently delivered segment). */
void tcp_rack_tlp_ack(struct tcp_conn *c);
/* Forgets RACK-TLP state (RTO, end of recovery). */
void tcp_rack_reset(struct tcp_conn *c);

/* tcp_rack.c: RACK (RFC 8985 6) */
/* Logs a data transmission (retrans: resent bytes, which retire the older
 * records of them). */
void tcp_rack_sent(struct tcp_conn *c, uint32_t seq, uint32_t len, bool retrans);
/* After the scoreboard took an ACK: updates RACK from what it delivered,
 * marks lost what is due, arms the reordering timer for the rest. Returns
 * how many records it marked. */
uint32_t tcp_rack_ack(struct tcp_conn *c);
/* The reordering timer fired: marks what is now due (returns how many). */
uint32_t tcp_rack_timeout(struct tcp_conn *c);
/* A DSACK arrived: reo_wnd grows (RFC 8985 6.2 step 4). */
void tcp_rack_dsack(struct tcp_conn *c);
/* A recovery episode ended (the grown reo_wnd lasts 16 of them). */
void tcp_rack_recovery_done(struct tcp_conn *c);
/* Forgets the log (RTO: everything is resent from SND.UNA). */
void tcp_rack_clear(struct tcp_conn *c);
bool tcp_rack_is_lost(const struct tcp_conn *c, uint32_t seq);
/* One segment at SND.UNA up to the first SACKed byte (recovery probe). */
bool tcp_sack_first_hole(const struct tcp_conn *c, uint32_t *seq, uint32_t *len);
/* A RACK-lost segment below HighRxt (a lost retransmission) to resend. */
bool tcp_rack_lost_rexmit(const struct tcp_conn *c, uint32_t *seq, uint32_t *len);
/* RFC 6675 5 step (4), tcp_input.c: enters SACK recovery. */
void tcp_sack_enter_recovery(struct tcp_conn *c);

/* tcp_cc.c: congestion control (c->st->cfg.cc picks NewReno or CUBIC) */
void tcp_cc_init(struct tcp_conn *c);
/* A congestion event (fast retransmit or RTO), before cwnd is reduced:
 * returns the new ssthresh and starts a new CUBIC epoch. */
uint32_t tcp_cc_ssthresh(struct tcp_conn *c);
/* New data ACKed outside recovery: slow start or congestion avoidance. */
void tcp_cc_ack(struct tcp_conn *c, uint32_t acked);
/* PRR (RFC 6937): starts with the recovery episode (ssthresh set), then on
 * each ACK in recovery sets cwnd = pipe + sndcnt for c->ack_delivered. */
void tcp_prr_start(struct tcp_conn *c);
void tcp_prr_ack(struct tcp_conn *c, bool entry);
/* DSACK undo: remembers the window before a SACK recovery episode, */
void tcp_undo_start(struct tcp_conn *c);
/* notes each segment it resends, */
void tcp_undo_rexmit(struct tcp_conn *c, uint32_t seq, uint32_t len);
/* takes a DSACK block off (true: it was exactly one of those resends) */
bool tcp_undo_dsack(struct tcp_conn *c, uint32_t start, uint32_t end);
/* ...and, once every retransmission of the episode came back DSACKed and
 * the episode is over, restores it (the losses were reordering). */
void tcp_undo_try(struct tcp_conn *c);
/* Sum of the scoreboard's SACKed bytes. */
uint32_t tcp_sack_bytes(const struct tcp_conn *c);

/* tcp_timer.c */
void tcp_timer_update(struct tcp_conn *c);
void tcp_timer_fire(struct tw_entry *e, void *arg);
void tcp_arm_rexmt(struct tcp_conn *c);

/* tcp_conn.c */
struct tcp_conn *tcp_conn_lookup(struct net_stack *st, uint32_t rip, uint16_t rport,
				 uint16_t lport);
struct tcp_conn *tcp_conn_alloc(struct net_stack *st, uint32_t rip, uint16_t rport,
				uint16_t lport);
/* Ends the connection: timers off, on_closed(err) if accepted, slot freed
 * (deferred while upcalls may still hold it). */
void tcp_conn_drop(struct tcp_conn *c, int err);
/* Tells the app it is done (on_closed) but keeps the slot (TIME-WAIT). */
void tcp_conn_notify_closed(struct tcp_conn *c, int err);
void tcp_conn_release_pending(struct net_stack *st);
bool tcp_port_listening(const struct net_stack *st, uint16_t port);
uint32_t tcp_sbuf_free(const struct tcp_conn *c);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* TCP input, following RFC 9293 3.10.7 "SEGMENT ARRIVES" step by step, with
 * RFC 5961 (challenge ACKs), RFC 7323 (PAWS, timestamps, window scaling),
 * RFC 2018 (SACK, receive side), RFC 5681/6582 (NewReno) and SYN cookies.
 *
 * Zero copy: an in-order segment's payload goes to on_data straight from the
 * received frame; only out-of-order data is copied, into the connection's
 * reassembly ring (indexed by sequence number, so placement is O(1)). */
#include <errno.h>

#include "dataplane/net/tcp/tcp_internal.h"

#define CHACK_PER_SEC 1000 /* RFC 5961 7: global challenge-ACK limit */
#define CWND_MAX TCP_CWND_MAX

struct tcp_opts {
	uint16_t mss;
	uint8_t ws, n_sack;
	bool mss_ok, ws_ok, sack_ok, ts_ok;
	uint32_t tsval, tsecr;
	struct tcp_range sack[4];
};

struct tcp_seg {
	uint32_t seq, ack, wnd, len; /* len: payload bytes */
	uint16_t sport, dport;
	uint8_t flags;
	const uint8_t *data;
	struct tcp_opts o;
};

/* RFC 9293 3.2 option parsing; malformed options end the walk (the segment
 * is still processed without the rest, as BSD does). */
static void parse_opts(const uint8_t *p, uint32_t n, bool syn, struct tcp_opts *o)
{
	memset(o, 0, sizeof(*o));
	for (uint32_t i = 0; i < n;) {
		uint8_t kind = p[i];

		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= n || p[i + 1] < 2 || i + p[i + 1] > n)
			break;
		uint8_t l = p[i + 1];

		if (kind == 2 && l == 4 && syn) {
			o->mss_ok = true;
			o->mss = rd16(p + i + 2);
		} else if (kind == 3 && l == 3 && syn) {
			o->ws_ok = true;
			o->ws = SL_MIN(p[i + 2], 14); /* RFC 7323 2.3: clamp to 14 */
		} else if (kind == 4 && l == 2 && syn) {
			o->sack_ok = true;
		} else if (kind == 5 && !syn && l >= 10 && (l - 2) % 8 == 0) {
			for (uint32_t k = 0; k < (uint32_t)(l - 2) / 8 && k < 4; k++) {
				o->sack[k].start = rd32(p + i + 2 + 8 * k);
				o->sack[k].end = rd32(p + i + 6 + 8 * k);
			}
			o->n_sack = (uint8_t)SL_MIN((l - 2) / 8, 4);
		} else if (kind == 8 && l == 10) {
			o->ts_ok = true;
			o->tsval = rd32(p + i + 2);
			o->tsecr = rd32(p + i + 6);
		}
		i += l;
	}
}

static void challenge_ack(struct tcp_conn *c)
{
	struct net_stack *st = c->st;

	if (st->now_us - st->chack_window_us >= 1000000) {
		st->chack_window_us = st->now_us;
		st->chack_count = 0;
	}
	if (st->chack_count++ < CHACK_PER_SEC) {
		st->stats.tcp_challenge_acks++;
		tcp_send_ack(c);
	}
}

/* ---- LISTEN (RFC 9293 3.10.7.2) ---- */

static void syn_negotiate(struct tcp_conn *c, const struct tcp_seg *s)
{
	struct net_stack *st = c->st;
	uint16_t peer_mss = s->o.mss_ok ? s->o.mss : 536; /* RFC 9293 3.7.1 default */

	c->ws_ok = s->o.ws_ok;
	c->snd_wscale = c->ws_ok ? s->o.ws : 0;
	c->rcv_wscale = c->ws_ok ? tcp_wscale_for(st->cfg.rcv_buf_bytes) : 0;
	c->sack_ok = s->o.sack_ok;
	c->ts_ok = s->o.ts_ok;
	c->ts_recent = s->o.tsval;
	c->mss = SL_MIN(SL_MAX(peer_mss, 64), tcp_our_mss(st, c->v6));
	if (c->ts_ok)
		c->mss -= 12; /* every segment carries the timestamp option */
}

/* Common set-up of a new connection from its SYN (seq = the peer's ISN). */
static void conn_init_seq(struct tcp_conn *c, uint32_t irs, uint32_t iss, uint32_t wnd)
{
	c->irs = irs;
	c->rcv_nxt = irs + 1;
	c->rcv_adv = c->rcv_nxt;
	c->iss = iss;
	c->snd_una = iss;
	c->snd_nxt = c->snd_max = iss + 1;
	c->data_seq = iss + 1;
	c->recover = iss;
	c->snd_wnd = wnd; /* RFC 7323 2.2: the SYN's window is never scaled */
	c->max_snd_wnd = wnd;
	c->snd_wl1 = irs;
	c->snd_wl2 = iss;
	c->cwnd = 10u * c->mss; /* RFC 6928 */
	c->ssthresh = CWND_MAX;
	tcp_cc_init(c);
	c->state = TCPS_SYN_RECEIVED;
}

static void listen_syn(struct net_stack *st, uint32_t src, uint32_t dst, const struct tcp_seg *s)
{
	if (!tcp_port_listening(st, s->dport)) {
		tcp_send_rst_reply(st, src, dst, s->sport, s->dport, s->seq, s->ack, s->flags,
				   s->len + 1 + !!(s->flags & TH_FIN));
		return;
	}
	struct tcp_conn *c = NULL;

	if (!st->cfg.syn_cookies_always && st->stats.half_open < st->cfg.backlog)
		c = tcp_conn_alloc(st, src, s->sport, s->dport);
	if (!c) { /* backlog full or table full: answer statelessly */
		uint16_t mss = s->o.mss_ok ? SL_MIN(s->o.mss, tcp_our_mss(st, st->rx6 != NULL)) : 536;
		uint32_t isn = syncookie_make(st->cfg.syn_cookie_key, src, dst, s->sport,
					      s->dport, s->seq, mss, st->now_us);
		struct syncookie_opts co = {
			.ws_ok = s->o.ws_ok, .sack_ok = s->o.sack_ok, .snd_wscale = s->o.ws,
		};

		tcp_send_cookie_synack(st, src, dst, s->sport, s->dport, isn, s->seq + 1,
				       s->o.ts_ok, s->o.tsval, &co);
		return;
	}
	/* ISN: keyed hash of the 4-tuple plus a clock, in the spirit of RFC 6528 */
	uint8_t b[16];

	wr32(b, src);
	wr16(b + 4, s->sport);
	wr16(b + 6, s->dport);
	wr32(b + 8, (uint32_t)(st->now_us >> 32));
	wr32(b + 12, (uint32_t)st->now_us);
	uint32_t iss = (uint32_t)net_siphash24(st->cfg.syn_cookie_key, b, 16) +
		       (uint32_t)(st->now_us / 4);

	syn_negotiate(c, s);
	conn_init_seq(c, s->seq, iss, s->wnd);
	st->stats.half_open++;
	tcp_send_synack(c);
	tcp_arm_rexmt(c);
	tcp_timer_update(c);
}

/* An ACK for no connection: it may complete a SYN-cookie handshake. */
static struct tcp_conn *listen_cookie_ack(struct net_stack *st, uint32_t src, uint32_t dst,
					  const struct tcp_seg *s)
{
	if (!tcp_port_listening(st, s->dport) || (s->flags & (TH_SYN | TH_RST | TH_FIN)))
		return NULL;
	uint16_t mss = syncookie_check(st->cfg.syn_cookie_key, src, dst, s->sport, s->dport,
				       s->seq - 1, s->ack - 1, st->now_us);

	struct syncookie_opts co = {0};

	/* An ACK with timestamps echoes our cookie SYN-ACK's TSval, which holds
	 * the SYN's window shift and SACK permission. Without timestamps the
	 * SYN had none either (or the peer dropped them): MSS only, as Linux. */
	if (mss && s->o.ts_ok && !syncookie_ts_decode(s->o.tsecr, tcp_ts_now(st), &co))
		mss = 0;
	if (!mss) {
		st->stats.syn_cookies_bad++;
		return NULL;
	}
	struct tcp_conn *c = tcp_conn_alloc(st, src, s->sport, s->dport);

	if (!c)
		return NULL;
	st->stats.syn_cookies_ok++;
	c->from_cookie = true;
	c->mss = mss;
	if (s->o.ts_ok) {
		c->ts_ok = true;
		c->ts_recent = s->o.tsval;
		c->mss -= 12; /* every segment carries the timestamp option */
		c->sack_ok = co.sack_ok;
		c->ws_ok = co.ws_ok;
		c->snd_wscale = co.ws_ok ? co.snd_wscale : 0;
		c->rcv_wscale = co.ws_ok ? tcp_wscale_for(st->cfg.rcv_buf_bytes) : 0;
	}
	conn_init_seq(c, s->seq - 1, s->ack - 1, s->wnd);
	/* what the cookie SYN-ACK advertised */
	c->rcv_adv = c->rcv_nxt + SL_MIN(st->cfg.rcv_buf_bytes, 65535u);
	return c;
}

/* ---- synchronized states (RFC 9293 3.10.7.4) ---- */

/* "First, check sequence number": the four-case acceptability table. */
static bool seq_acceptable(const struct tcp_conn *c, const struct tcp_seg *s)
{
	uint32_t wnd = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	uint32_t slen = s->len + !!(s->flags & TH_SYN) + !!(s->flags & TH_FIN);

	if (slen == 0)
		return wnd == 0 ? s->seq == c->rcv_nxt
				: seq_in(s->seq, c->rcv_nxt, c->rcv_nxt + wnd);
	if (wnd == 0)
		return false;
	return seq_in(s->seq, c->rcv_nxt, c->rcv_nxt + wnd) ||
	       seq_in(s->seq + slen - 1, c->rcv_nxt, c->rcv_nxt + wnd);
}

/* F-RTO (RFC 5682 2.1) on an ACK of new data after an RTO. Returns true
 * when it took over sending for this ACK. */
static bool frto_ack(struct tcp_conn *c)
{
	if (c->frto == 1) {
		/* 2a: everything outstanding ACKed: no verdict needed */
		if (seq_geq(c->snd_una, c->recover)) {
			c->frto = 0;
			return false;
		}
		/* 2b: some new data ACKed: probe with two new segments instead
		 * of going back */
		c->snd_nxt = c->snd_max;
		if (tcp_output_new(c, 2) == 0) {
			c->snd_nxt = c->snd_una; /* nothing to probe with */
			c->frto = 0;
			return false;
		}
		c->frto = 2;
		return true;
	}
	if (c->frto == 2) {
		/* 3b: new data ACKed again: the timeout was spurious; keep going
		 * with new data (cwnd stays at the RTO's ssthresh, conservative) */
		c->frto = 0;
		c->cwnd = SL_MAX(c->ssthresh, c->cwnd);
		c->st->stats.tcp_spurious_rto++;
		return false;
	}
	return false;
}

/* RFC 5682 2.1 3a / 2b: a duplicate ACK during F-RTO: the timeout was real,
 * go back to the conventional recovery (cwnd at most 3 MSS). */
static void frto_dupack(struct tcp_conn *c)
{
	if (c->frto == 2) {
		c->snd_nxt = c->snd_una;
		c->cwnd = SL_MIN(c->cwnd, 3u * c->mss);
	}
	c->frto = 0;
}

/* An ACK of new data: the end of recovery (RFC 6582 / 6937), NewReno's
 * partial ACK, or growth (tcp_cc.c). */
static void cc_ack(struct tcp_conn *c, uint32_t acked)
{
	if (c->in_recovery) {
		if (seq_geq(c->snd_una, c->recover)) { /* full ACK: 3.2 step 3 */
			uint32_t flight = c->snd_max - c->snd_una;

			/* RFC 6937 3: with SACK (PRR), cwnd = ssthresh, the
			 * flight PRR has brought it to; without, RFC 6582's
			 * min(ssthresh, FlightSize + SMSS) */
			c->cwnd = c->sack_ok ? c->ssthresh : SL_MIN(c->ssthresh, flight + c->mss);
			c->in_recovery = false;
			tcp_rack_reset(c);
			tcp_rack_recovery_done(c);
			c->dupacks = 0;
			tcp_undo_try(c); /* the DSACKs may all be in already */
			return;
		}
		/* with SACK, RFC 6675: PRR sets cwnd (ack_process), tcp_output
		 * sends what pipe allows */
		if (c->sack_ok)
			return;
		/* partial ACK: retransmit the next hole, deflate (3.2 step 4) */
		tcp_rexmit_hole(c);
		c->cwnd = c->cwnd > acked ? c->cwnd - acked : 0;
		if (acked >= c->mss)
			c->cwnd += c->mss;
		c->cwnd = SL_MAX(c->cwnd, (uint32_t)c->mss);
		return;
	}
	tcp_cc_ack(c, acked);
}

/* RFC 6675 5 step (4): enter loss recovery. */
void tcp_sack_enter_recovery(struct tcp_conn *c)
{
	uint32_t len = SL_MIN((uint32_t)c->mss, c->data_seq + c->sbuf_len - c->snd_una);

	tcp_undo_start(c);
	c->ssthresh = tcp_cc_ssthresh(c);
	c->recover = c->snd_max;	/* RecoveryPoint = HighData */
	c->in_recovery = true;
	c->rescue_done = false;
	c->rtt_timing = false;
	c->rexmit_nxt = c->snd_una;
	c->st->stats.tcp_fast_retransmits++;
	/* PRR paces the episode (RFC 6937): cwnd = pipe + sndcnt from here */
	tcp_prr_start(c);
	tcp_prr_ack(c, true);
	/* the segment at HighACK + 1 is retransmitted whatever pipe says */
	if (seq_lt(c->snd_una, c->data_seq + c->sbuf_len) && len) {
		tcp_send_seg(c, c->snd_una, len, TH_ACK);
		c->rexmit_nxt = c->snd_una + len;
	} else {
		c->rexmit_nxt = c->snd_una;
	}
	tcp_arm_rexmt(c);
}

/* RFC 6675 5 on a duplicate ACK (one carrying new SACK information counts):
 * enter loss recovery after DupThresh of them, or once the first unACKed
 * segment IsLost; in recovery the scoreboard drives tcp_output. */
static void sack_dupack(struct tcp_conn *c)
{
	if (c->in_recovery || seq_lt(c->snd_una, c->recover))
		return;
	if (c->dupacks < 3 && !tcp_sack_is_lost(c, c->snd_una))
		return;
	tcp_sack_enter_recovery(c);
}

/* RFC 5681 3.2 fast retransmit / fast recovery on duplicate ACKs. */
static void cc_dupack(struct tcp_conn *c)
{
	if (c->frto)
		frto_dupack(c);
	c->dupacks++;
	if (c->sack_ok) {
		sack_dupack(c);
		return;
	}
	if (c->in_recovery) {
		/* each dupack: a segment left the network; with SACK, fill the
		 * next hole with it, else inflate (RFC 5681 3.2 step 4) */
		if (!c->n_sacked || !tcp_rexmit_hole(c))
			c->cwnd += c->mss;
		return;
	}
	if (c->dupacks != 3 || seq_lt(c->snd_una, c->recover))
		return;
	c->ssthresh = tcp_cc_ssthresh(c);
	c->recover = c->snd_max;
	c->in_recovery = true;
	c->rtt_timing = false;
	c->rexmit_nxt = c->snd_una;
	c->st->stats.tcp_fast_retransmits++;
	tcp_rexmit_hole(c);
	c->cwnd = c->ssthresh + 3u * c->mss;
	tcp_arm_rexmt(c);
}

/* Our FIN is acknowledged once SND.UNA passes it. */
static bool fin_acked(const struct tcp_conn *c)
{
	return c->shut_wr && seq_gt(c->snd_una, c->fin_seq);
}

static void enter_time_wait(struct tcp_conn *c)
{
	c->state = TCPS_TIME_WAIT;
	c->t_rexmt = c->t_persist = c->t_keep = 0;
	c->t_2msl = c->st->now_us + c->st->cfg.time_wait_us;
	tcp_conn_notify_closed(c, 0);
}

/* A new cumulative ACK: free send buffer, RTT sample, timers, cwnd. */
static void ack_new(struct tcp_conn *c, uint32_t ack)
{
	uint32_t acked = ack - c->snd_una, freed = 0;

	if (seq_gt(ack, c->data_seq)) {
		freed = SL_MIN(ack - c->data_seq, c->sbuf_len);
		c->data_seq += freed;
		c->sbuf_len -= freed;
	}
	c->snd_una = ack;
	if (seq_lt(c->snd_nxt, c->snd_una))
		c->snd_nxt = c->snd_una;
	if (c->rtt_timing && seq_geq(ack, c->rtt_seq)) {
		c->rtt_timing = false;
		rto_sample(&c->rto, (uint32_t)SL_MIN(c->st->now_us - c->rtt_start_us,
						     (uint64_t)UINT32_MAX));
	}
	if (c->rexmits)
		rto_ack_progress(&c->rto);
	c->tlp_done = false;
	c->n_probes = 0;
	c->rexmits = 0;
	c->persist_shift = 0;
	c->t_persist = 0;
	if (!c->frto || !frto_ack(c))
		cc_ack(c, acked);
	/* RFC 6298 5.2/5.3 */
	if (c->snd_una == c->snd_max)
		c->t_rexmt = 0;
	else
		tcp_arm_rexmt(c);
	if (freed && c->want_writable && c->accepted && !c->closed_up) {
		c->want_writable = false;
		c->st->up->on_writable(c->cookie);
	}
}

/* Folds the segment's SACK blocks into the scoreboard and forgets what
 * SND.UNA passed. Returns true when a block told us something new. */
static bool sack_update(struct tcp_conn *c, const struct tcp_seg *s, uint32_t una)
{
	bool news = false;
	uint32_t k = 0;

	for (uint32_t i = 0; i < c->n_sacked; i++) { /* prune */
		struct tcp_range r = c->sacked[i];

		if (seq_leq(r.end, una))
			continue;
		if (seq_lt(r.start, una))
			r.start = una;
		c->sacked[k++] = r;
	}
	c->n_sacked = (uint8_t)k;
	for (uint32_t b = 0; c->sack_ok && b < s->o.n_sack; b++) {
		struct tcp_range r = s->o.sack[b];

		/* RFC 2018: only blocks inside (SND.UNA, SND.MAX] mean anything */
		if (!seq_lt(r.start, r.end) || seq_leq(r.start, una) ||
		    seq_gt(r.end, c->snd_max))
			continue;
		uint32_t i, j;

		for (i = 0; i < c->n_sacked && seq_lt(c->sacked[i].end, r.start); i++)
			;
		for (j = i; j < c->n_sacked && seq_leq(c->sacked[j].start, r.end); j++)
			;
		if (j == i + 1 && seq_leq(c->sacked[i].start, r.start) &&
		    seq_geq(c->sacked[i].end, r.end))
			continue; /* nothing new */
		if (i == j && c->n_sacked == TCP_SACKED_MAX)
			continue;
		if (i < j) {
			if (seq_lt(c->sacked[i].start, r.start))
				r.start = c->sacked[i].start;
			if (seq_gt(c->sacked[j - 1].end, r.end))
				r.end = c->sacked[j - 1].end;
		}
		memmove(&c->sacked[i + 1], &c->sacked[j],
			sizeof(r) * (size_t)(c->n_sacked - j));
		c->n_sacked = (uint8_t)(c->n_sacked - (j - i) + 1);
		c->sacked[i] = r;
		news = true;
	}
	return news;
}

/* RFC 6937 DeliveredData: the change in SND.UNA plus the change in SACKed
 * bytes (sb0 before this ACK); a reneging receiver can make it negative,
 * which counts as nothing. */
static void set_delivered(struct tcp_conn *c, uint32_t acked, uint32_t sb0)
{
	int64_t d = (int64_t)acked + (int64_t)tcp_sack_bytes(c) - (int64_t)sb0;

	c->ack_delivered = d > 0 ? (uint32_t)SL_MIN(d, (int64_t)UINT32_MAX) : 0;
}

/* RFC 2883 4: a first SACK block below the cumulative ACK, or inside the
 * second block, reports data received twice (returns true). When it is
 * exactly one of the undo episode's resends, that resend was needless. */
static bool dsack_check(struct tcp_conn *c, const struct tcp_seg *s)
{
	if (!c->sack_ok || s->o.n_sack == 0)
		return false;
	struct tcp_range r = s->o.sack[0];

	if (!seq_lt(r.start, r.end))
		return false;
	bool dup = seq_leq(r.end, s->ack) ||
		   (s->o.n_sack > 1 && seq_geq(r.start, s->o.sack[1].start) &&
		    seq_leq(r.end, s->o.sack[1].end));

	if (!dup)
		return false;
	tcp_rack_dsack(c); /* reordering seen: RACK's window grows */
	if (!c->undo_valid || seq_lt(r.start, c->undo_marker) || seq_gt(r.end, c->snd_max))
		return true;
	if (tcp_undo_dsack(c, r.start, r.end))
		tcp_undo_try(c);
	return true;
}

/* "Fifth, check the ACK field" for ESTABLISHED and later. Returns false when
 * the segment must be dropped. */
static bool ack_process(struct tcp_conn *c, const struct tcp_seg *s)
{
	uint32_t wnd = s->wnd << c->snd_wscale;

	if (seq_gt(s->ack, c->snd_max)) { /* acks something not yet sent */
		tcp_send_ack(c);
		return false;
	}
	if (seq_lt(s->ack, c->snd_una - c->max_snd_wnd)) { /* RFC 5961 5.2 */
		challenge_ack(c);
		return false;
	}
	bool news = false, was_in = c->in_recovery;
	uint32_t una0 = c->snd_una, sb0 = tcp_sack_bytes(c);

	dsack_check(c, s);

	c->ack_delivered = 0; /* an old ACK delivers nothing */

	if (seq_gt(s->ack, c->snd_una)) {
		sack_update(c, s, s->ack);
		set_delivered(c, s->ack - una0, sb0);
		ack_new(c, s->ack);
		if (c->state == TCPS_CLOSED)
			return false;
		/* a probe SACKed above a partial ACK: RACK may call the rest lost */
		tcp_rack_tlp_ack(c);
		uint32_t marked = c->sack_ok ? tcp_rack_ack(c) : 0;

		if (c->sack_ok && !c->in_recovery && (c->rack_lost || marked) &&
		    !seq_lt(c->snd_una, c->recover) && tcp_sack_is_lost(c, c->snd_una))
			tcp_sack_enter_recovery(c);
	} else if (s->ack == c->snd_una && c->snd_max != c->snd_una) {
		news = sack_update(c, s, c->snd_una);
		set_delivered(c, 0, sb0);
		tcp_rack_tlp_ack(c);
		if (c->sack_ok)
			tcp_rack_ack(c); /* its marks count in sack_dupack's IsLost */
		/* a duplicate ACK: RFC 5681's strict form, or any ACK bringing
		 * new SACK information (RFC 6675), which also covers ACKs that
		 * carry data in the other direction. One carrying only a DSACK
		 * still counts: not counting those cost 60% more RTOs in
		 * tcp_tap's 5% drop + dup + reorder echo (the peer's dupacks
		 * for a hole often carry a DSACK of a duplicated segment) */
		if (news || (s->len == 0 && !(s->flags & (TH_SYN | TH_FIN)) &&
			     wnd == c->snd_wnd))
			cc_dupack(c);
	}
	/* PRR (RFC 6937) paces an episode already under way; the ACK that
	 * started one did so in sack_enter_recovery */
	if (was_in && c->in_recovery && c->sack_ok && c->state != TCPS_CLOSED)
		tcp_prr_ack(c, false);
	/* window update (RFC 9293 3.10.7.4, SND.WL1/WL2 rule) */
	if (seq_lt(c->snd_wl1, s->seq) ||
	    (c->snd_wl1 == s->seq && seq_leq(c->snd_wl2, s->ack))) {
		c->snd_wnd = wnd;
		c->snd_wl1 = s->seq;
		c->snd_wl2 = s->ack;
		c->max_snd_wnd = SL_MAX(c->max_snd_wnd, wnd);
		if (wnd)
			c->t_persist = 0;
	}
	return true;
}

/* State changes driven by our FIN being acknowledged. Returns false when the
 * connection is gone. */
static bool ack_fin_states(struct tcp_conn *c)
{
	if (!fin_acked(c))
		return true;
	switch (c->state) {
	case TCPS_FIN_WAIT_1:
		c->state = TCPS_FIN_WAIT_2;
		/* nobody will read any more: bound the wait for the peer's FIN
		 * (Linux tcp_fin_timeout), reusing the TIME-WAIT timer */
		if (c->app_closed)
			c->t_2msl = c->st->now_us + c->st->cfg.time_wait_us;
		return true;
	case TCPS_CLOSING:
		enter_time_wait(c);
		return true;
	case TCPS_LAST_ACK:
		tcp_conn_drop(c, 0);
		return false;
	default:
		return true;
	}
}

/* SYN-RECEIVED + acceptable ACK: ESTABLISHED and the accept upcall. */
static bool establish(struct tcp_conn *c, const struct tcp_seg *s)
{
	struct net_stack *st = c->st;

	if (!(seq_gt(s->ack, c->snd_una) && seq_leq(s->ack, c->snd_nxt))) {
		tcp_send_rst_reply(st, c->rip, st->cfg.ip, c->rport, c->lport, s->seq, s->ack,
				   s->flags, s->len);
		return false;
	}
	if (!c->from_cookie)
		st->stats.half_open--;
	c->state = TCPS_ESTABLISHED;
	c->snd_una = s->ack;
	c->snd_wnd = s->wnd << c->snd_wscale;
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	c->rexmits = 0;
	c->t_rexmt = 0;
	if (st->cfg.keepalive_idle_us)
		c->t_keep = st->now_us + st->cfg.keepalive_idle_us;
	c->cookie = st->up->on_accept(st->ctx, c);
	if (c->state == TCPS_CLOSED)
		return false;
	if (!c->cookie) {
		st->stats.tcp_refused++;
		tcp_send_seg(c, c->snd_nxt, 0, TH_RST | TH_ACK);
		tcp_conn_drop(c, -ECONNREFUSED);
		return false;
	}
	c->accepted = true; /* on_closed is owed from here on */
	st->stats.tcp_accepted++;
	return true;
}

/* ---- segment text (RFC 9293 3.10.7.4 "Seventh") ---- */

/* Hands in-order bytes to the application. Returns false if it closed c. */
static bool deliver(struct tcp_conn *c, const uint8_t *data, uint32_t len)
{
	c->rcv_nxt += len;
	if (!c->accepted || c->app_closed || c->closed_up)
		return true; /* discarded after tcp_close (still acknowledged) */
	uint32_t used = c->st->up->on_data(c->cookie, data, len);

	if (c->state == TCPS_CLOSED)
		return false;
	c->app_held += len - SL_MIN(used, len);
	return true;
}

/* Delivers what the reassembly ring now holds contiguously at RCV.NXT. */
static bool ooo_pull(struct tcp_conn *c)
{
	while (c->n_ooo && seq_leq(c->ooo[0].start, c->rcv_nxt)) {
		struct tcp_range r = c->ooo[0];

		memmove(&c->ooo[0], &c->ooo[1], sizeof(r) * (size_t)(c->n_ooo - 1));
		c->n_ooo--;
		c->ooo_last = 0;
		while (seq_lt(c->rcv_nxt, r.end)) {
			uint32_t off = c->rcv_nxt & c->rmask;
			uint32_t n = SL_MIN(r.end - c->rcv_nxt, c->rmask + 1 - off);

			if (!deliver(c, c->rbuf + off, n))
				return false;
		}
	}
	return true;
}

/* Copies an out-of-order segment into the ring and merges its range. */
static void ooo_store(struct tcp_conn *c, uint32_t seq, const uint8_t *data, uint32_t len)
{
	uint32_t end = seq + len, i, j;

	/* the ranges it touches: [i, j) */
	for (i = 0; i < c->n_ooo && seq_lt(c->ooo[i].end, seq); i++)
		;
	for (j = i; j < c->n_ooo && seq_leq(c->ooo[j].start, end); j++)
		;
	if (i == j && c->n_ooo == TCP_OOO_RANGES) {
		c->st->stats.tcp_ooo_drops++;
		return;
	}
	for (uint32_t done = 0; done < len;) {
		uint32_t off = (seq + done) & c->rmask;
		uint32_t n = SL_MIN(len - done, c->rmask + 1 - off);

		memcpy(c->rbuf + off, data + done, n);
		done += n;
	}
	struct tcp_range r = {seq, end};

	if (i < j) {
		if (seq_lt(c->ooo[i].start, r.start))
			r.start = c->ooo[i].start;
		if (seq_gt(c->ooo[j - 1].end, r.end))
			r.end = c->ooo[j - 1].end;
	}
	/* replace ranges [i, j) by r */
	memmove(&c->ooo[i + 1], &c->ooo[j], sizeof(r) * (size_t)(c->n_ooo - j));
	c->n_ooo = (uint8_t)(c->n_ooo - (j - i) + 1);
	c->ooo[i] = r;
	c->ooo_last = (uint8_t)i;
	c->st->stats.tcp_ooo_segs++;
}

/* Returns false if the connection went away during delivery. */
static bool data_in(struct tcp_conn *c, const struct tcp_seg *s)
{
	uint32_t seq = s->seq, len = s->len;
	const uint8_t *data = s->data;

	if (seq_lt(seq, c->rcv_nxt)) { /* trim what we already have */
		uint32_t skip = c->rcv_nxt - seq;

		if (skip >= len) {
			tcp_send_ack(c); /* a duplicate: ACK at once (RFC 5681 4.2) */
			return true;
		}
		seq += skip;
		data += skip;
		len -= skip;
	}
	/* RFC 9293: trim to the window, and to what the buffers can take
	 * (a rounded-up scaled window may advertise a little more) */
	uint32_t wnd = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	uint32_t cap = c->rmask + 1 - c->app_held;
	uint32_t lim = c->rcv_nxt + SL_MIN(wnd, cap);
	uint32_t room = seq_lt(seq, lim) ? lim - seq : 0;

	len = SL_MIN(len, room);
	if (len == 0) {
		tcp_send_ack(c);
		return true;
	}
	if (seq != c->rcv_nxt) {
		ooo_store(c, seq, data, len);
		tcp_send_ack(c); /* immediate dup ACK with SACK (RFC 5681 4.2) */
		return true;
	}
	bool had_gap = c->n_ooo != 0;

	if (!deliver(c, data, len) || !ooo_pull(c))
		return false;
	/* RFC 9293 3.8.6.3 / RFC 5681 4.2: ACK every second full segment
	 * (with ack_burst: once at the end of the receive burst), at once
	 * when a gap was filled, else within delack_us */
	if (had_gap) {
		tcp_output(c, true); /* the sender is recovering: at once */
	} else if (++c->unacked_segs >= 2) {
		tcp_ack_soon(c);
	} else if (!c->t_delack) {
		c->t_delack = c->st->now_us + c->st->cfg.delack_us;
	}
	return true;
}

/* "Eighth, check the FIN bit" (only once the data before it is all here). */
static void fin_in(struct tcp_conn *c, const struct tcp_seg *s)
{
	if (s->seq + s->len != c->rcv_nxt || c->peer_fin) {
		if (c->state == TCPS_TIME_WAIT) { /* retransmitted FIN: re-ACK, restart */
			c->t_2msl = c->st->now_us + c->st->cfg.time_wait_us;
			tcp_send_ack(c);
		}
		return;
	}
	c->peer_fin = true;
	c->rcv_nxt++;
	c->n_ooo = 0; /* anything queued past the FIN is bogus */
	switch (c->state) {
	case TCPS_ESTABLISHED:
		c->state = TCPS_CLOSE_WAIT;
		break;
	case TCPS_FIN_WAIT_1: /* our FIN not yet acked, else we'd be in FIN-WAIT-2 */
		c->state = TCPS_CLOSING;
		break;
	case TCPS_FIN_WAIT_2:
		enter_time_wait(c);
		break;
	default:
		break;
	}
	tcp_send_ack(c);
	if (c->accepted && !c->closed_up && c->st->up->on_eof)
		c->st->up->on_eof(c->cookie);
}

/* "Second, check the RST bit" (RFC 5961 3.2). */
static void rst_in(struct tcp_conn *c, const struct tcp_seg *s)
{
	c->st->stats.tcp_rst_rx++;
	if (s->seq != c->rcv_nxt) {
		challenge_ack(c);
		return;
	}
	/* SYN-RECEIVED from a passive open returns to LISTEN: just forget it */
	tcp_conn_drop(c, c->state == TCPS_SYN_RECEIVED ? 0 : -ECONNRESET);
}

/* PAWS (RFC 7323 5.3) and TS.Recent (4.3). Returns false to drop. */
static bool ts_check(struct tcp_conn *c, const struct tcp_seg *s)
{
	if (!c->ts_ok || !s->o.ts_ok)
		return true;
	if (!(s->flags & TH_RST) && seq_lt(s->o.tsval, c->ts_recent)) {
		c->st->stats.tcp_paws_drops++;
		tcp_send_ack(c);
		return false;
	}
	if (seq_leq(s->seq, c->last_ack_sent))
		c->ts_recent = s->o.tsval;
	return true;
}

static void conn_input(struct tcp_conn *c, const struct tcp_seg *s)
{
	c->last_rx_us = c->st->now_us;
	c->ka_probes = 0;
	if (c->state == TCPS_SYN_RECEIVED && (s->flags & TH_SYN) && !(s->flags & TH_ACK) &&
	    s->seq == c->irs) {
		tcp_send_synack(c); /* our SYN-ACK was lost: the SYN came again */
		return;
	}
	if (!ts_check(c, s))
		return;
	if (!seq_acceptable(c, s)) { /* first: sequence number */
		c->st->stats.tcp_out_of_window++;
		if (s->flags & TH_RST)
			return;
		/* "If the RCV.WND is zero, no segments will be acceptable, but
		 * special allowance should be made to accept valid ACKs": the
		 * peer's ACKs ride on data we cannot take now. */
		if ((s->flags & (TH_ACK | TH_SYN)) == TH_ACK && s->seq == c->rcv_nxt &&
		    c->rcv_adv == c->rcv_nxt && c->state != TCPS_SYN_RECEIVED &&
		    (!ack_process(c, s) || !ack_fin_states(c)))
			return;
		if (c->state != TCPS_CLOSED) {
			tcp_send_ack(c);
			tcp_output(c, false);
		}
		return;
	}
	if (s->flags & TH_RST) { /* second */
		rst_in(c, s);
		return;
	}
	if (s->flags & TH_SYN) { /* fourth (RFC 5961 4.2) */
		challenge_ack(c);
		return;
	}
	if (!(s->flags & TH_ACK)) /* fifth */
		return;
	if (c->state == TCPS_SYN_RECEIVED && !establish(c, s))
		return;
	if (!ack_process(c, s) || !ack_fin_states(c))
		return;
	if (c->state == TCPS_TIME_WAIT) {
		fin_in(c, s);
		return;
	}
	if (s->len && (c->state == TCPS_ESTABLISHED || c->state == TCPS_FIN_WAIT_1 ||
		       c->state == TCPS_FIN_WAIT_2)) { /* seventh */
		if (!data_in(c, s))
			return;
	}
	if (s->flags & TH_FIN) /* eighth */
		fin_in(c, s);
	if (c->state != TCPS_CLOSED)
		tcp_output(c, false); /* ACKs opened the window: send more */
}

static bool seg_parse(uint32_t src, uint32_t dst, const uint8_t *p, uint32_t len,
		      struct tcp_seg *s)
{
	if (len < TCP_HDR_LEN)
		return false;
	uint32_t doff = (uint32_t)(p[12] >> 4) * 4;

	if (doff < TCP_HDR_LEN || doff > len)
		return false;
	s->sport = rd16(p);
	s->dport = rd16(p + 2);
	s->seq = rd32(p + 4);
	s->ack = rd32(p + 8);
	s->flags = p[13] & 0x3f;
	s->wnd = rd16(p + 14);
	s->data = p + doff;
	s->len = len - doff;
	parse_opts(p + TCP_HDR_LEN, doff - TCP_HDR_LEN, s->flags & TH_SYN, &s->o);
	(void)src;
	(void)dst;
	return s->sport != 0 && s->dport != 0;
}

void tcp_input(struct net_stack *st, uint32_t src, uint32_t dst, const uint8_t *seg,
	       uint32_t len)
{
	struct tcp_seg s;

	/* the one family check of the IPv4 path: the pseudo-header */
	if (len < TCP_HDR_LEN ||
	    (st->rx6 ? net_l4_csum6(st->rx6->src, st->rx6->dst, IP_PROTO_TCP, seg, len)
		     : net_l4_csum(src, dst, IP_PROTO_TCP, seg, len)) != 0) {
		st->stats.rx_bad_csum++;
		return;
	}
	if (!seg_parse(src, dst, seg, len, &s)) {
		st->stats.rx_drop_ip++;
		return;
	}
	st->stats.tcp_rx_segs++;
	struct tcp_conn *c = tcp_conn_lookup(st, src, s.sport, s.dport);

	/* TIME-WAIT and a new SYN above RCV.NXT: reuse the pair (RFC 6191) */
	if (c && c->state == TCPS_TIME_WAIT && (s.flags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN &&
	    seq_gt(s.seq, c->rcv_nxt)) {
		tcp_conn_drop(c, 0);
		c = NULL;
	}
	if (c) {
		conn_input(c, &s);
		return;
	}
	/* LISTEN, or CLOSED (RFC 9293 3.10.7.1 / 3.10.7.2) */
	if (s.flags & TH_RST)
		return;
	if (s.flags & TH_ACK) {
		c = listen_cookie_ack(st, src, dst, &s);
		if (c) {
			conn_input(c, &s);
			return;
		}
		tcp_send_rst_reply(st, src, dst, s.sport, s.dport, s.seq, s.ack, s.flags,
				   s.len);
		return;
	}
	if (s.flags & TH_SYN) {
		listen_syn(st, src, dst, &s);
		return;
	}
	/* neither SYN, ACK nor RST: a closed port answers RST (3.10.7.1); a
	 * listening one drops it (3.10.7.2 "fourth, other text or control") */
	if (!tcp_port_listening(st, s.dport))
		tcp_send_rst_reply(st, src, dst, s.sport, s.dport, s.seq, s.ack, s.flags,
				   s.len + !!(s.flags & TH_FIN));
}

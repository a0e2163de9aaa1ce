/* SPDX-License-Identifier: Apache-2.0 */
/* TCP output: segment construction (options per RFC 9293 3.2, RFC 7323,
 * RFC 2018), the send loop limited by the peer's window and the congestion
 * window (RFC 5681), sender SWS avoidance (RFC 9293 3.8.6.2.1), and the
 * segments sent without a connection (RST replies, SYN-cookie SYN-ACKs).
 * Nagle is off: the layers above send whole TLS records. */
#include "dataplane/net/tcp/tcp_internal.h"

#define OPT_EOL 0
#define OPT_NOP 1
#define OPT_MSS 2
#define OPT_WS 3
#define OPT_SACK_OK 4
#define OPT_SACK 5
#define OPT_TS 8

uint16_t tcp_our_mss(const struct net_stack *st, bool v6)
{
	return (uint16_t)(st->cfg.mtu - (v6 ? IP6_HDR_LEN : IP_HDR_LEN) - TCP_HDR_LEN);
}

uint32_t tcp_rcv_window(const struct tcp_conn *c)
{
	uint32_t cap = c->rmask + 1, w = cap > c->app_held ? cap - c->app_held : 0;

	return SL_MIN(w, (uint32_t)65535 << c->rcv_wscale);
}

uint32_t tcp_ts_now(const struct net_stack *st)
{
	return (uint32_t)(st->now_us / 1000); /* 1 ms timestamp clock (RFC 7323 5.4) */
}

static uint32_t put_ts(uint8_t *o, uint32_t tsval, uint32_t tsecr)
{
	o[0] = OPT_NOP;
	o[1] = OPT_NOP;
	o[2] = OPT_TS;
	o[3] = 10;
	wr32(o + 4, tsval);
	wr32(o + 8, tsecr);
	return 12;
}

/* SACK blocks (RFC 2018 4): the block holding the latest out-of-order
 * segment first, then the others. */
static uint32_t put_sack(const struct tcp_conn *c, uint8_t *o, uint32_t room)
{
	uint32_t n = SL_MIN((uint32_t)c->n_ooo, (room - 4) / 8), k = 0;

	if (!c->sack_ok || c->n_ooo == 0 || room < 12)
		return 0;
	n = SL_MIN(n, TCP_SACK_MAX);
	o[0] = OPT_NOP;
	o[1] = OPT_NOP;
	o[2] = OPT_SACK;
	o[3] = (uint8_t)(2 + 8 * n);
	for (uint32_t i = 0; k < n && i < c->n_ooo; i++) {
		uint32_t r = (c->ooo_last + i) % c->n_ooo;

		wr32(o + 4 + 8 * k, c->ooo[r].start);
		wr32(o + 8 + 8 * k, c->ooo[r].end);
		k++;
	}
	return 4 + 8 * n;
}

static uint32_t put_syn_opts(const struct tcp_conn *c, uint8_t *o)
{
	uint32_t n = 0;

	o[n++] = OPT_MSS;
	o[n++] = 4;
	wr16(o + n, tcp_our_mss(c->st, c->v6));
	n += 2;
	if (c->ws_ok) {
		o[n++] = OPT_NOP;
		o[n++] = OPT_WS;
		o[n++] = 3;
		o[n++] = c->rcv_wscale;
	}
	if (c->sack_ok) {
		o[n++] = OPT_NOP;
		o[n++] = OPT_NOP;
		o[n++] = OPT_SACK_OK;
		o[n++] = 2;
	}
	if (c->ts_ok)
		n += put_ts(o + n, tcp_ts_now(c->st), c->ts_recent);
	return n;
}

/* Writes the TCP header and returns its length (options included). */
static uint32_t put_hdr(uint8_t *t, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
			uint8_t flags, uint16_t win, uint32_t optlen)
{
	uint32_t hl = TCP_HDR_LEN + optlen;

	wr16(t, sport);
	wr16(t + 2, dport);
	wr32(t + 4, seq);
	wr32(t + 8, ack);
	t[12] = (uint8_t)((hl / 4) << 4);
	t[13] = flags;
	wr16(t + 14, win);
	wr16(t + 16, 0);
	wr16(t + 18, 0);
	return hl;
}

/* src6/dst6 NULL: IPv4 to dst. */
static void tcp_finish(struct net_stack *st, uint32_t dst, const uint8_t *src6,
		       const uint8_t *dst6, uint32_t l4_len)
{
	uint8_t *t = st->txbuf + NET_TX_L4_OFF;

	st->stats.tcp_tx_segs++;
	if (t[13] & TH_RST)
		st->stats.tcp_rst_tx++;
	if (dst6) {
		wr16(t + 16, net_l4_csum6(src6, dst6, IP_PROTO_TCP, t, l4_len));
		net_ip6_output(st, src6, dst6, IP_PROTO_TCP, l4_len);
		return;
	}
	wr16(t + 16, net_l4_csum(st->cfg.ip, dst, IP_PROTO_TCP, t, l4_len));
	net_ip_output(st, dst, IP_PROTO_TCP, l4_len);
}

/* A reply to the segment being processed: back to where it came from. */
static void tcp_finish_reply(struct net_stack *st, uint32_t src, uint32_t l4_len)
{
	if (st->rx6) {
		/* the rx addresses live in the received frame, not in txbuf */
		tcp_finish(st, 0, st->rx6->dst, st->rx6->src, l4_len);
		return;
	}
	tcp_finish(st, src, NULL, NULL, l4_len);
}

/* The window field. The right edge never moves left (RFC 9293 3.8.6.2.2):
 * when the scaled field cannot express the edge exactly it is rounded up,
 * so the edge may run up to 2^wscale - 1 bytes past the buffer; data_in()
 * trims what would not fit and the peer resends it. */
static uint16_t win_field(struct tcp_conn *c, bool syn)
{
	uint32_t shift = syn ? 0 : c->rcv_wscale, unit = 1u << shift;
	uint32_t cur = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	uint32_t w = SL_MAX(tcp_rcv_window(c), cur);
	uint32_t field = SL_MIN((w + unit - 1) >> shift, 65535u);
	uint32_t edge = c->rcv_nxt + (field << shift);

	if (seq_gt(edge, c->rcv_adv))
		c->rcv_adv = edge;
	return (uint16_t)field;
}

void tcp_send_seg(struct tcp_conn *c, uint32_t seq, uint32_t len, uint8_t flags)
{
	struct net_stack *st = c->st;
	uint8_t *t = st->txbuf + NET_TX_L4_OFF, opt[TCP_MAX_OPT_LEN];
	uint32_t ol = 0;

	if (flags & TH_SYN) {
		ol = put_syn_opts(c, opt);
	} else {
		if (c->ts_ok)
			ol = put_ts(opt, tcp_ts_now(st), c->ts_recent);
		/* SACK only where it fits in the MSS budget with the payload */
		uint32_t budget = c->mss + (c->ts_ok ? 12u : 0u);

		if (budget >= len + ol + 12)
			ol += put_sack(c, opt + ol,
				       SL_MIN(TCP_MAX_OPT_LEN - ol, budget - len - ol));
	}
	uint32_t hl = put_hdr(t, c->lport, c->rport, seq, c->rcv_nxt, flags,
			      win_field(c, flags & TH_SYN), ol);

	memcpy(t + TCP_HDR_LEN, opt, ol);
	if (len) { /* payload from the ring, in up to two pieces */
		uint32_t off = seq & c->smask, first = SL_MIN(len, c->smask + 1 - off);

		DBG_BUG_ON(seq_lt(seq, c->data_seq) || seq_gt(seq + len, c->data_seq + c->sbuf_len));
		memcpy(t + hl, c->sbuf + off, first);
		memcpy(t + hl + first, c->sbuf, len - first);
		if (seq_lt(seq, c->snd_max)) {
			st->stats.tcp_retransmits++;
			if (c->in_recovery)
				st->stats.tcp_rexmit_recovery++;
			else if (c->tlp_sending)
				st->stats.tcp_rexmit_tlp++;
			else
				st->stats.tcp_rexmit_rto++;
			/* DSACK undo: every resend of the episode must come
			 * back DSACKed; one outside recovery spoils the count */
			if (c->in_recovery)
				tcp_undo_rexmit(c, seq, len);
			else
				c->undo_valid = false;
		}
		tcp_rack_sent(c, seq, len, seq_lt(seq, c->snd_max));
		if (c->in_recovery) /* RFC 6937 prr_out: all data sent */
			c->prr_out += len;
		c->last_data_tx_us = st->now_us;
	}
	if (flags & TH_ACK) {
		c->last_ack_sent = c->rcv_nxt;
		c->t_delack = 0;
		c->unacked_segs = 0;
		c->ack_owed = false;
	}
	tcp_finish(st, c->rip, c->v6 ? c->lip6 : NULL, c->v6 ? c->rip6 : NULL, hl + len);
}

void tcp_send_ack(struct tcp_conn *c)
{
	tcp_send_seg(c, c->snd_nxt, 0, TH_ACK);
}

/* With ack_burst, the ACKs of a receive burst collapse into one per
 * connection, sent from net_flush with the burst's final RCV.NXT and
 * window: each ACK costs the peer an ACK-processing pass and a send
 * (Linux receivers get the same from GRO and deferring ACKs while the
 * socket is busy; over af_packet our sender saw ~0.7 ACKs per data
 * segment against the kernel's ~0.12). */
void tcp_ack_soon(struct tcp_conn *c)
{
	struct net_stack *st = c->st;

	if (!st->cfg.ack_burst) {
		tcp_output(c, true);
		return;
	}
	c->ack_owed = true;
	if (c->ack_queued)
		return;
	/* a slot is queued at most once (tcp_conn_alloc keeps the flag) */
	BUG_ON(st->n_ackq >= st->cfg.max_conns);
	c->ack_queued = true;
	st->ackq[st->n_ackq++] = c->idx;
}

int net_flush(struct net_stack *st, uint64_t now_us)
{
	uint32_t n = st->n_ackq;
	int sent = 0;

	if (!n)
		return 0;
	if (now_us > st->now_us)
		st->now_us = now_us;
	st->depth++; /* tcp_output may drop a connection: release after */
	for (uint32_t i = 0; i < n; i++) {
		struct tcp_conn *c = &st->conns[st->ackq[i]];

		c->ack_queued = false;
		/* owed and still open (a slot reused since has ack_owed clear) */
		if (c->ack_owed && c->state != TCPS_CLOSED) {
			tcp_output(c, true);
			sent++;
		}
	}
	/* bounded: whatever was queued during the pass stays for the next */
	memmove(st->ackq, st->ackq + n, sizeof(*st->ackq) * (st->n_ackq - n));
	st->n_ackq -= n;
	if (--st->depth == 0)
		tcp_conn_release_pending(st);
	return sent;
}

void tcp_send_synack(struct tcp_conn *c)
{
	tcp_send_seg(c, c->iss, 0, TH_SYN | TH_ACK);
}

static bool sacked_at(const struct tcp_conn *c, uint32_t seq, uint32_t *end)
{
	for (uint32_t i = 0; i < c->n_sacked; i++)
		if (seq_in(seq, c->sacked[i].start, c->sacked[i].end)) {
			*end = c->sacked[i].end;
			return true;
		}
	return false;
}

bool tcp_rexmit_hole(struct tcp_conn *c)
{
	uint32_t seq = seq_lt(c->rexmit_nxt, c->snd_una) ? c->snd_una : c->rexmit_nxt;
	uint32_t data_end = c->data_seq + c->sbuf_len, end;

	/* skip what the peer holds; a hole counts only below SACKed data, or
	 * at SND.UNA (the NewReno rule) */
	for (uint32_t i = 0; i <= c->n_sacked && sacked_at(c, seq, &end); i++)
		seq = end;
	if (!seq_lt(seq, data_end) || !seq_lt(seq, c->snd_max))
		return false;
	uint32_t len = SL_MIN((uint32_t)c->mss, data_end - seq), next = data_end;
	bool above = false;

	for (uint32_t i = 0; i < c->n_sacked; i++) {
		if (seq_gt(c->sacked[i].start, seq)) {
			above = true;
			if (seq_lt(c->sacked[i].start, next))
				next = c->sacked[i].start;
		}
	}
	if (!above && seq != c->snd_una)
		return false;
	len = SL_MIN(len, next - seq);
	tcp_send_seg(c, seq, len, TH_ACK);
	c->rexmit_nxt = seq + len;
	return true;
}

/* Payload bytes per segment: the peer's MSS less our per-segment options. */
static uint32_t seg_room(const struct tcp_conn *c)
{
	return c->mss;
}

static bool can_send_fin(const struct tcp_conn *c)
{
	return c->shut_wr && (c->state == TCPS_FIN_WAIT_1 || c->state == TCPS_CLOSING ||
			      c->state == TCPS_LAST_ACK);
}

/* One pass of the send loop: 0 nothing sent, 1 sent, 2 sent a FIN (stop). */
static int tcp_output_one(struct tcp_conn *c, uint32_t win)
{
	uint32_t data_end = c->data_seq + c->sbuf_len;
	uint32_t flight = c->snd_nxt - c->snd_una;
	uint32_t avail = seq_lt(c->snd_nxt, data_end) ? data_end - c->snd_nxt : 0;
	uint32_t usable = win > flight ? win - flight : 0;
	uint32_t len = SL_MIN(SL_MIN(avail, usable), seg_room(c));
	bool fin = can_send_fin(c) && c->snd_nxt + len == c->fin_seq;
	uint8_t flags = TH_ACK;

	if (len == 0 && !fin)
		return 0;
	/* sender SWS avoidance: no runt segment while data is in flight */
	if (!fin && len < seg_room(c) && len < avail && flight)
		return 0;
	if (fin)
		flags |= TH_FIN;
	if (len && c->snd_nxt + len == data_end)
		flags |= TH_PSH;
	if (len && !c->rtt_timing && c->snd_nxt == c->snd_max) {
		c->rtt_timing = true;
		c->rtt_seq = c->snd_nxt + len;
		c->rtt_start_us = c->st->now_us;
	}
	tcp_send_seg(c, c->snd_nxt, len, flags);
	c->snd_nxt += len + (fin ? 1 : 0);
	if (seq_gt(c->snd_nxt, c->snd_max))
		c->snd_max = c->snd_nxt;
	if (!c->t_rexmt)
		tcp_arm_rexmt(c);
	return fin ? 2 : 1;
}

uint32_t tcp_output_new(struct tcp_conn *c, uint32_t nsegs)
{
	uint32_t n = 0;

	BUG_ON(c->snd_nxt != c->snd_max);
	for (; n < nsegs; n++) {
		int r = tcp_output_one(c, c->snd_wnd);

		if (r == 0)
			break;
		if (r == 2) {
			n++;
			break;
		}
	}
	return n;
}

/* RFC 6675 5 step (C): while cwnd - pipe >= 1 SMSS, send NextSeg: a lost
 * hole, else new data, else any hole below the highest SACK, else (once) a
 * rescue of the tail. Returns true when something was sent. */
static bool sack_recovery_output(struct tcp_conn *c)
{
	bool sent = false;

	/* bounded: every pass sends one segment that adds to pipe */
	for (uint32_t i = 0; i < 4096; i++) {
		uint32_t seq, len;

		if (tcp_sack_pipe(c) + c->mss > c->cwnd)
			break;
		/* a lost retransmission first (RACK: NextSeg never goes back
		 * below HighRxt), then NextSeg */
		if (tcp_rack_lost_rexmit(c, &seq, &len)) {
			tcp_send_seg(c, seq, len, TH_ACK);
			sent = true;
			continue;
		}
		if (!tcp_sack_next_rexmit(c, false, &seq, &len)) {
			int r = tcp_output_one(c, c->snd_wnd); /* rule 2: new data */

			if (r) {
				sent = true;
				if (r == 2)
					break;
				continue;
			}
			if (!tcp_sack_next_rexmit(c, true, &seq, &len)) {
				if (c->rescue_done || !tcp_sack_rescue(c, &seq, &len))
					break;
				c->rescue_done = true;
			}
		}
		tcp_send_seg(c, seq, len, TH_ACK);
		if (seq_gt(seq + len, c->rexmit_nxt))
			c->rexmit_nxt = seq + len;
		sent = true;
	}
	return sent;
}

void tcp_output(struct tcp_conn *c, bool force_ack)
{
	bool sent = false;

	switch (c->state) {
	case TCPS_ESTABLISHED:
	case TCPS_CLOSE_WAIT:
	case TCPS_FIN_WAIT_1:
	case TCPS_CLOSING:
	case TCPS_LAST_ACK: {
		uint32_t win = SL_MIN(c->snd_wnd, c->cwnd);

		if (c->in_recovery && c->sack_ok) {
			sent = sack_recovery_output(c);
			break;
		}

		/* bounded: each pass sends a segment that uses window */
		for (uint32_t i = 0; i < 4096; i++) {
			int r = tcp_output_one(c, win);

			sent |= r != 0;
			if (r != 1)
				break;
		}
		break;
	}
	default:
		break;
	}
	if (!sent && force_ack)
		tcp_send_ack(c);
	/* persist (RFC 9293 3.8.6.1): zero window, data waiting, nothing in
	 * flight to elicit an ACK */
	if (c->snd_wnd == 0 && c->snd_una == c->snd_max && c->sbuf_len && !c->t_persist &&
	    c->state != TCPS_SYN_RECEIVED) {
		c->t_rexmt = 0;
		c->persist_shift = 0;
		c->t_persist = c->st->now_us + c->rto.rto_us;
	}
	tcp_timer_update(c);
}

/* RFC 9293 3.10.7.1: <SEQ=SEG.ACK><CTL=RST>, or <SEQ=0><ACK=SEG.SEQ+SEG.LEN>
 * <CTL=RST,ACK> when the offending segment had no ACK. */
void tcp_send_rst_reply(struct net_stack *st, uint32_t src, uint32_t dst, uint16_t sport,
			uint16_t dport, uint32_t seq, uint32_t ack, uint8_t seg_flags,
			uint32_t seg_len)
{
	uint8_t *t = st->txbuf + NET_TX_L4_OFF;
	uint32_t hl;

	(void)dst;
	if (seg_flags & TH_RST)
		return;
	if (seg_flags & TH_ACK)
		hl = put_hdr(t, dport, sport, ack, 0, TH_RST, 0, 0);
	else
		hl = put_hdr(t, dport, sport, 0, seq + seg_len, TH_RST | TH_ACK, 0, 0);
	tcp_finish_reply(st, src, hl);
}

void tcp_send_cookie_synack(struct net_stack *st, uint32_t src, uint32_t dst, uint16_t sport,
			    uint16_t dport, uint32_t isn, uint32_t ack, bool ts_ok,
			    uint32_t peer_tsval, const struct syncookie_opts *o)
{
	uint8_t *t = st->txbuf + NET_TX_L4_OFF, *p = t + TCP_HDR_LEN;
	uint32_t n = 0, hl;

	(void)dst;
	p[n++] = OPT_MSS;
	p[n++] = 4;
	wr16(p + n, tcp_our_mss(st, st->rx6 != NULL));
	n += 2;
	/* without timestamps there is nowhere to keep the rest: MSS only */
	if (ts_ok) {
		if (o->ws_ok) {
			p[n++] = OPT_NOP;
			p[n++] = OPT_WS;
			p[n++] = 3;
			p[n++] = tcp_wscale_for(st->cfg.rcv_buf_bytes);
		}
		if (o->sack_ok) {
			p[n++] = OPT_NOP;
			p[n++] = OPT_NOP;
			p[n++] = OPT_SACK_OK;
			p[n++] = 2;
		}
		n += put_ts(p + n, syncookie_ts_encode(tcp_ts_now(st), o), peer_tsval);
	}
	BUG_ON(n > TCP_MAX_OPT_LEN || n % 4);
	/* RFC 7323 2.2: the SYN-ACK's window is never scaled */
	hl = put_hdr(t, dport, sport, isn, ack, TH_SYN | TH_ACK,
		     (uint16_t)SL_MIN(st->cfg.rcv_buf_bytes, 65535u), n);
	st->stats.syn_cookies_sent++;
	tcp_finish_reply(st, src, hl);
}

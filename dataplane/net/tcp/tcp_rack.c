/* SPDX-License-Identifier: Apache-2.0 */
/* RACK (RFC 8985 6): time-based loss detection over a per-connection log
 * of data transmissions (c->rk.log, a ring of TCP_RACK_LOG records in send
 * order). The scoreboard (tcp_sack.c) keeps ranges; this log adds what the
 * ranges cannot say: when each piece of the flight was last sent, so that
 * a segment sent RACK.rtt + reo_wnd before the most recently delivered one
 * is lost, whether it was an original or a retransmission (a lost
 * retransmission is then found without an RTO).
 *
 * A record is the latest transmission of its bytes: a resend overlapping
 * older records retires them (RFC 8985's Segment.xmit_ts is the time of the
 * last transmission). When the ring is full the oldest record is dropped:
 * its bytes are left to DupThresh and the RTO, as before RACK. */
#include "dataplane/net/tcp/tcp_internal.h"

#define RK_RETRANS 1u	/* this transmission was a resend */
#define RK_LOST 2u	/* RACK marked it lost; the next resend retires it */
#define RK_DEAD 4u	/* retired (resent again, or delivered) */
/* RFC 8985 6.2 step 4: the DSACK-grown window persists 16 recoveries */
#define RK_REO_PERSIST 16

static struct tcp_rack_seg *rk_at(struct tcp_conn *c, uint32_t i)
{
	return &c->rk.log[(c->rk.head + i) % TCP_RACK_LOG];
}

/* Drops retired records at the old end so the ring has room. */
static void rk_prune(struct tcp_conn *c)
{
	while (c->rk.n && ((rk_at(c, 0)->flags & RK_DEAD) ||
			   seq_leq(rk_at(c, 0)->end, c->snd_una))) {
		c->rk.head = (c->rk.head + 1) % TCP_RACK_LOG;
		c->rk.n--;
	}
}

void tcp_rack_sent(struct tcp_conn *c, uint32_t seq, uint32_t len, bool retrans)
{
	if (retrans) /* this transmission supersedes older ones of these bytes */
		for (uint32_t i = 0; i < c->rk.n; i++) {
			struct tcp_rack_seg *r = rk_at(c, i);

			if (seq_lt(r->start, seq + len) && seq_lt(seq, r->end))
				r->flags |= RK_DEAD;
		}
	rk_prune(c);
	if (c->rk.n == TCP_RACK_LOG) { /* full: forget the oldest */
		c->rk.head = (c->rk.head + 1) % TCP_RACK_LOG;
		c->rk.n--;
	}
	struct tcp_rack_seg *r = rk_at(c, c->rk.n++);

	*r = (struct tcp_rack_seg){.start = seq, .end = seq + len, .xmit_us = c->st->now_us,
				   .flags = retrans ? RK_RETRANS : 0};
}

void tcp_rack_clear(struct tcp_conn *c)
{
	c->rk.n = 0;
	c->rk.head = 0;
	c->rk.t_reo = 0;
}

static bool rk_delivered(const struct tcp_conn *c, const struct tcp_rack_seg *r)
{
	if (seq_leq(r->end, c->snd_una))
		return true;
	for (uint32_t i = 0; i < c->n_sacked; i++)
		if (seq_leq(c->sacked[i].start, r->start) && seq_leq(r->end, c->sacked[i].end))
			return true;
	return false;
}

/* RFC 8985 6.2 step 3's RACK_sent_after(t1, seq1, t2, seq2) */
static bool sent_after(uint64_t t1, uint32_t seq1, uint64_t t2, uint32_t seq2)
{
	return t1 > t2 || (t1 == t2 && seq_gt(seq1, seq2));
}

/* RFC 8985 6.2 step 4: min_RTT / 4 times the DSACK multiplier, at most
 * SRTT. min_RTT is the minimum over the connection (not windowed). */
static uint64_t rk_reo_wnd(const struct tcp_conn *c)
{
	uint64_t w = (uint64_t)c->rk.min_rtt_us / 4 * (c->rk.reo_mult ? c->rk.reo_mult : 1);

	return SL_MIN(w, (uint64_t)c->rto.srtt_us);
}

/* Step 5: marks lost what was sent RACK.rtt + reo_wnd before the most
 * recently delivered segment; returns how long until the next one may be
 * (0: none waiting). */
static uint64_t rk_detect(struct tcp_conn *c, uint32_t *marked)
{
	uint64_t wait = 0, lim = (uint64_t)c->rk.rtt_us + rk_reo_wnd(c), now = c->st->now_us;

	for (uint32_t i = 0; i < c->rk.n; i++) {
		struct tcp_rack_seg *r = rk_at(c, i);

		if (r->flags & (RK_DEAD | RK_LOST))
			continue;
		if (!sent_after(c->rk.xmit_us, c->rk.end_seq, r->xmit_us, r->end))
			break; /* send order: nothing later is before RACK.xmit_ts */
		if (rk_delivered(c, r))
			continue;
		if (r->xmit_us + lim <= now) {
			r->flags |= RK_LOST;
			(*marked)++;
		} else {
			wait = SL_MAX(wait, r->xmit_us + lim - now);
		}
	}
	return wait;
}

static void rk_arm(struct tcp_conn *c, uint64_t wait_us)
{
	c->rk.t_reo = wait_us ? c->st->now_us + wait_us : 0;
}

uint32_t tcp_rack_ack(struct tcp_conn *c)
{
	uint64_t now = c->st->now_us;
	uint32_t marked = 0;

	if (c->st->cfg.no_rack)
		return 0;

	/* steps 1-2: the most recently sent of the newly delivered records
	 * sets RACK.xmit_ts/end_seq/rtt */
	for (uint32_t i = 0; i < c->rk.n; i++) {
		struct tcp_rack_seg *r = rk_at(c, i);

		if ((r->flags & RK_DEAD) || !rk_delivered(c, r))
			continue;
		r->flags |= RK_DEAD;
		uint64_t rtt = now - r->xmit_us;

		/* a resend ACKed sooner than min_RTT: the ACK was for an
		 * earlier transmission (RFC 8985 6.2 step 1) */
		if ((r->flags & RK_RETRANS) && c->rk.min_rtt_us && rtt < c->rk.min_rtt_us)
			continue;
		if (!(r->flags & RK_RETRANS) && rtt &&
		    (!c->rk.min_rtt_us || rtt < c->rk.min_rtt_us))
			c->rk.min_rtt_us = (uint32_t)SL_MIN(rtt, (uint64_t)UINT32_MAX);
		if (sent_after(r->xmit_us, r->end, c->rk.xmit_us, c->rk.end_seq)) {
			c->rk.xmit_us = r->xmit_us;
			c->rk.end_seq = r->end;
			c->rk.rtt_us = (uint32_t)SL_MIN(rtt, (uint64_t)UINT32_MAX);
			c->rk.have = true;
		}
	}
	rk_prune(c);
	if (!c->rk.have)
		return 0;
	rk_arm(c, rk_detect(c, &marked));
	c->st->stats.tcp_rack_marks += marked;
	return marked;
}

uint32_t tcp_rack_timeout(struct tcp_conn *c)
{
	uint32_t marked = 0;

	c->rk.t_reo = 0;
	if (!c->rk.have)
		return 0;
	rk_arm(c, rk_detect(c, &marked));
	c->st->stats.tcp_rack_marks += marked;
	return marked;
}

void tcp_rack_dsack(struct tcp_conn *c)
{
	/* step 4: once per round trip (until SND.UNA passes what was sent
	 * when the last increase came) */
	if (c->rk.dsack_round_valid && seq_lt(c->snd_una, c->rk.dsack_round))
		return;
	c->rk.dsack_round = c->snd_max;
	c->rk.dsack_round_valid = true;
	if (c->rk.reo_mult < 255)
		c->rk.reo_mult = (uint8_t)((c->rk.reo_mult ? c->rk.reo_mult : 1) + 1);
	c->rk.reo_persist = RK_REO_PERSIST;
}

void tcp_rack_recovery_done(struct tcp_conn *c)
{
	if (c->rk.reo_persist && --c->rk.reo_persist == 0)
		c->rk.reo_mult = 1;
}

bool tcp_rack_is_lost(const struct tcp_conn *c, uint32_t seq)
{
	for (uint32_t i = 0; i < c->rk.n; i++) {
		const struct tcp_rack_seg *r = &c->rk.log[(c->rk.head + i) % TCP_RACK_LOG];

		if ((r->flags & (RK_LOST | RK_DEAD)) == RK_LOST && seq_in(seq, r->start, r->end))
			return true;
	}
	return false;
}

bool tcp_rack_lost_rexmit(const struct tcp_conn *c, uint32_t *seq, uint32_t *len)
{
	uint32_t data_end = c->data_seq + c->sbuf_len;

	for (uint32_t i = 0; i < c->rk.n; i++) {
		const struct tcp_rack_seg *r = &c->rk.log[(c->rk.head + i) % TCP_RACK_LOG];
		uint32_t s = seq_lt(r->start, c->snd_una) ? c->snd_una : r->start;
		uint32_t e = seq_lt(data_end, r->end) ? data_end : r->end;

		/* only below HighRxt: above it NextSeg's rule 1 finds it */
		if ((r->flags & (RK_LOST | RK_DEAD)) != RK_LOST || !seq_lt(s, e) ||
		    !seq_lt(s, c->rexmit_nxt))
			continue;
		*seq = s;
		*len = SL_MIN(e - s, (uint32_t)c->mss);
		return true;
	}
	return false;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Sender-side SACK loss recovery (RFC 6675): the scoreboard queries IsLost,
 * SetPipe and NextSeg over the ranges tcp_input.c keeps in c->sacked
 * (sorted, disjoint, all inside (SND.UNA, SND.MAX]).
 *
 * The scoreboard holds ranges, not per-segment state, so two RFC quantities
 * are computed per hole (a gap between SACKed ranges) rather than per
 * segment: every byte of a hole has the same SACKed data above it, hence the
 * same IsLost answer, and "retransmitted" is everything below HighRxt
 * (c->rexmit_nxt). */
#include "dataplane/net/tcp/tcp_internal.h"

#define DUP_THRESH 3 /* RFC 6675 2, as RFC 5681 */

/* RFC 6675 4 IsLost(seq) for an unSACKed seq: more than (DupThresh - 1) *
 * SMSS bytes SACKed above it, or DupThresh discontiguous SACKed runs above
 * it. Runs stand in for segments there: each holds at least one, so this
 * declares loss no earlier than the RFC's segment count does. */
bool tcp_sack_is_lost(const struct tcp_conn *c, uint32_t seq)
{
	uint32_t bytes = 0, runs = 0;

	for (uint32_t i = 0; i < c->n_sacked; i++) {
		if (seq_lt(seq, c->sacked[i].start)) {
			bytes += c->sacked[i].end - c->sacked[i].start;
			runs++;
		}
	}
	if (c->rack_lost && seq_lt(seq, c->rack_lost_end))
		return true; /* RACK's verdict, tcp_rack_tlp_ack() */
	if (tcp_rack_is_lost(c, seq))
		return true; /* RACK's time-based verdict (tcp_rack.c) */
	return bytes > (DUP_THRESH - 1) * (uint32_t)c->mss || runs >= DUP_THRESH;
}

/* Is any SACKed byte above seq (seq below HighSACK)? */
static bool sacked_above(const struct tcp_conn *c, uint32_t seq)
{
	return c->n_sacked && seq_lt(seq, c->sacked[c->n_sacked - 1].start);
}

/* The holes [a, b) in [SND.UNA, SND.MAX), lowest first; at most one more
 * than the ranges (the tail above the highest). */
struct hole { uint32_t a, b; };

static uint32_t holes(const struct tcp_conn *c, struct hole *h)
{
	uint32_t n = 0, a = c->snd_una;

	for (uint32_t i = 0; i < c->n_sacked; i++) {
		if (seq_lt(a, c->sacked[i].start))
			h[n++] = (struct hole){a, c->sacked[i].start};
		if (seq_gt(c->sacked[i].end, a))
			a = c->sacked[i].end;
	}
	if (seq_lt(a, c->snd_max))
		h[n++] = (struct hole){a, c->snd_max};
	return n;
}

/* RFC 6675 4 SetPipe: bytes thought to be in the network. An unSACKed byte
 * counts once unless IsLost, and once more if it was retransmitted (unless
 * RACK found that retransmission lost). */
uint32_t tcp_sack_pipe(const struct tcp_conn *c)
{
	struct hole h[TCP_SACKED_MAX + 1];
	uint32_t n = holes(c, h), pipe = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (!tcp_sack_is_lost(c, h[i].a))
			pipe += h[i].b - h[i].a;
		/* a resend RACK found lost (tcp_rack.c) has left the network */
		if (seq_gt(c->rexmit_nxt, h[i].a) && !tcp_rack_is_lost(c, h[i].a))
			pipe += (seq_lt(c->rexmit_nxt, h[i].b) ? c->rexmit_nxt : h[i].b) - h[i].a;
	}
	return pipe;
}

/* Clips [s, b) to one segment of buffered data; false when nothing is left
 * (a hole holding only our FIN is the RTO's business). */
static bool clip(const struct tcp_conn *c, uint32_t s, uint32_t b, uint32_t *seq,
		 uint32_t *len)
{
	uint32_t data_end = c->data_seq + c->sbuf_len;

	if (seq_lt(data_end, b))
		b = data_end;
	if (!seq_lt(s, b))
		return false;
	*seq = s;
	*len = SL_MIN(b - s, (uint32_t)c->mss);
	return true;
}

/* RFC 6675 4 NextSeg, rules 1 and 3 (rule 2, new data, is the caller's, as
 * it goes through the ordinary send path). rule 3 is asked for only when
 * neither 1 nor 2 gave anything. */
bool tcp_sack_next_rexmit(const struct tcp_conn *c, bool rule3, uint32_t *seq, uint32_t *len)
{
	struct hole h[TCP_SACKED_MAX + 1];
	uint32_t n = holes(c, h);

	for (uint32_t i = 0; i < n; i++) {
		uint32_t s = seq_gt(c->rexmit_nxt, h[i].a) ? c->rexmit_nxt : h[i].a;

		if (!seq_lt(s, h[i].b))
			continue; /* all of it retransmitted already */
		/* rule 3 stops at the highest SACKed byte: above it is the tail */
		if (rule3 ? !sacked_above(c, h[i].a) : !tcp_sack_is_lost(c, h[i].a))
			continue;
		if (clip(c, s, h[i].b, seq, len))
			return true;
	}
	return false;
}

/* The first hole (from SND.UNA to the first SACKed byte), one segment of
 * it: what the cumulative ACK waits for, the recovery probe's choice. */
bool tcp_sack_first_hole(const struct tcp_conn *c, uint32_t *seq, uint32_t *len)
{
	struct hole h[TCP_SACKED_MAX + 1];
	uint32_t n = holes(c, h);

	return n && h[0].a == c->snd_una && clip(c, h[0].a, h[0].b, seq, len);
}

/* RFC 6675 4 NextSeg rule 4, the rescue retransmission: once per recovery,
 * the highest outstanding unSACKed segment, so that a lost tail gets an ACK
 * back without waiting for the RTO. */
bool tcp_sack_rescue(const struct tcp_conn *c, uint32_t *seq, uint32_t *len)
{
	uint32_t data_end = c->data_seq + c->sbuf_len;
	uint32_t top = seq_lt(c->snd_max, data_end) ? c->snd_max : data_end;
	uint32_t a = c->snd_una;

	if (c->n_sacked && seq_gt(c->sacked[c->n_sacked - 1].end, a))
		a = c->sacked[c->n_sacked - 1].end;
	if (!seq_lt(a, top))
		return false;
	if (top - a > c->mss)
		a = top - c->mss;
	*seq = a;
	*len = top - a;
	return true;
}

void tcp_rack_reset(struct tcp_conn *c)
{
	c->tlp_active = false;
	c->rack_lost = false;
}

void tcp_rack_tlp_ack(struct tcp_conn *c)
{
	bool delivered = false;

	if (c->rack_lost && seq_geq(c->snd_una, c->rack_lost_end))
		c->rack_lost = false; /* all of it ACKed: nothing left to say */
	if (!c->tlp_active)
		return;
	if (seq_geq(c->snd_una, c->tlp_end)) { /* everything below came too */
		c->tlp_active = false;
		return;
	}
	for (uint32_t i = 0; i < c->n_sacked; i++)
		if (seq_leq(c->sacked[i].start, c->tlp_start) &&
		    seq_geq(c->sacked[i].end, c->tlp_end))
			delivered = true;
	if (!delivered)
		return;
	c->tlp_active = false;
	/* RFC 8985 6.2: a segment sent before the most recently delivered one
	 * is lost once RTT + reo_wnd (SRTT / 4 here) has passed since it was
	 * sent. All data below the probe went out by tlp_prior_tx_us. If that
	 * is too recent we leave it to duplicate ACKs or the RTO (RACK would
	 * arm a reordering timer). */
	uint64_t wait_us = (uint64_t)c->rto.srtt_us + c->rto.srtt_us / 4;

	if (c->st->now_us - c->tlp_prior_tx_us < wait_us)
		return;
	c->rack_lost = true;
	c->rack_lost_end = c->tlp_start;
	c->st->stats.tcp_rack_marks++;
}

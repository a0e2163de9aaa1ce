/* SPDX-License-Identifier: Apache-2.0 */
/* Congestion control: the window's growth outside recovery (slow start,
 * then NewReno's or CUBIC's congestion avoidance), its reduction on a
 * congestion event, and Proportional Rate Reduction while SACK recovery
 * repairs the losses.
 *
 * CUBIC (RFC 9438) is the default because NewReno's one segment per RTT
 * takes hundreds of RTTs to regain a large window after each loss, and on a
 * lossy link the next loss comes first; CUBIC's growth depends on the time
 * since the last reduction, not on the RTT count. NewReno stays as an option
 * (net_config.cc) for links where CUBIC's 0.7 backoff is too gentle.
 *
 * CUBIC's quantities are in segments and seconds, as the RFC writes them, in
 * doubles: the cube root and the cube of a time have no comfortable integer
 * form, and the stack runs on general-purpose cores. */
#include <math.h>

#include "dataplane/net/tcp/tcp_internal.h"

#define CUBIC_C 0.4		/* RFC 9438 4.1, segments / s^3 */
#define CUBIC_BETA 0.7		/* RFC 9438 4.6 */
/* RFC 9438 4.3: Reno-friendly additive increase for beta 0.7 */
#define CUBIC_ALPHA (3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA))
/* Bounds the epoch time fed to the cube (an idle day would overflow the
 * window arithmetic; the window is capped at TCP_CWND_MAX anyway). */
#define CUBIC_T_MAX_S 3600.0

static bool is_cubic(const struct tcp_conn *c)
{
	return c->st->cfg.cc == NET_CC_CUBIC;
}

void tcp_cc_init(struct tcp_conn *c)
{
	memset(&c->cu, 0, sizeof(c->cu));
}

uint32_t tcp_cc_ssthresh(struct tcp_conn *c)
{
	uint32_t flight = c->snd_max - c->snd_una, floor = 2u * c->mss;

	if (!is_cubic(c))
		return SL_MAX(flight / 2, floor); /* RFC 5681 (4) */
	double cwnd = (double)c->cwnd / c->mss;

	c->cu.prior = cwnd;
	/* RFC 9438 4.7 fast convergence: a flow whose window fell short of
	 * the last W_max is likely losing share to a newcomer: release some */
	if (cwnd < c->cu.w_max)
		c->cu.w_max = cwnd * (1.0 + CUBIC_BETA) / 2.0;
	else
		c->cu.w_max = cwnd;
	c->cu.epoch_us = 0; /* the next ACK in congestion avoidance starts one */
	/* RFC 9438 4.6: ssthresh = flight_size * beta, at least 2 segments */
	return SL_MAX((uint32_t)((double)flight * CUBIC_BETA), floor);
}

/* RFC 9438 4.2: W_cubic(t) = C (t - K)^3 + W_max */
static double w_cubic(const struct tcp_conn *c, double t_s)
{
	double d = t_s - c->cu.k_s;

	return CUBIC_C * d * d * d + c->cu.w_max;
}

static void cubic_ca(struct tcp_conn *c, uint32_t acked)
{
	double mss = c->mss, cwnd = (double)c->cwnd / mss, segs = (double)acked / mss;
	uint64_t now = c->st->now_us;

	if (!c->cu.epoch_us) {
		/* RFC 9438 4.2: the epoch starts at the first ACK of congestion
		 * avoidance; K is when W_cubic climbs back to W_max (0 when the
		 * window is already there: the convex region from now) */
		c->cu.epoch_us = now;
		c->cu.cwnd_epoch = cwnd;
		c->cu.w_est = cwnd;
		if (c->cu.w_max < cwnd)
			c->cu.w_max = cwnd;
		c->cu.k_s = cbrt((c->cu.w_max - cwnd) / CUBIC_C);
	}
	double t = SL_MIN((double)(now - c->cu.epoch_us) / 1e6, CUBIC_T_MAX_S);
	double rtt = (double)c->rto.srtt_us / 1e6;

	/* RFC 9438 4.3: the Reno-friendly estimate; alpha becomes 1 once it
	 * passes the window before the reduction */
	c->cu.w_est += (c->cu.w_est >= c->cu.prior ? 1.0 : CUBIC_ALPHA) * segs / cwnd;
	double next;

	if (w_cubic(c, t) < c->cu.w_est) {
		next = c->cu.w_est; /* Reno-friendly region */
	} else {
		/* RFC 9438 4.4/4.5: aim at W_cubic one RTT ahead, clamped to
		 * [cwnd, 1.5 cwnd], a (target - cwnd) / cwnd share per segment */
		double target = w_cubic(c, t + rtt);

		target = target < cwnd ? cwnd : target > 1.5 * cwnd ? 1.5 * cwnd : target;
		next = cwnd + (target - cwnd) * segs / cwnd;
	}
	if (next <= cwnd)
		return;
	/* bytes, with the fraction carried so small per-ACK steps add up */
	double add = (next - cwnd) * mss + c->cu.frac;

	if (add > (double)TCP_CWND_MAX)
		add = (double)TCP_CWND_MAX;
	c->cu.frac = add - floor(add);
	c->cwnd = (uint32_t)SL_MIN((uint64_t)c->cwnd + (uint64_t)add, (uint64_t)TCP_CWND_MAX);
}

void tcp_cc_ack(struct tcp_conn *c, uint32_t acked)
{
	c->dupacks = 0;
	if (c->cwnd < c->ssthresh) { /* slow start, RFC 3465 L = 2 */
		c->cwnd += SL_MIN(acked, 2u * c->mss);
	} else if (is_cubic(c)) {
		cubic_ca(c, acked);
	} else { /* NewReno congestion avoidance: one MSS per cwnd acked */
		c->cwnd_acc += acked;
		if (c->cwnd_acc >= c->cwnd) {
			c->cwnd_acc -= c->cwnd;
			c->cwnd += c->mss;
		}
	}
	c->cwnd = SL_MIN(c->cwnd, TCP_CWND_MAX);
}

void tcp_prr_start(struct tcp_conn *c)
{
	c->prr_delivered = 0;
	c->prr_out = 0;
	c->recover_fs = c->snd_max - c->snd_una; /* RFC 6937 3: RecoverFS */
	c->st->stats.tcp_prr_episodes++;
}

/* RFC 6937 3, PRR-SSRB. While pipe is above ssthresh, send in proportion to
 * what was delivered (ssthresh / RecoverFS of it), so the flight shrinks
 * smoothly to ssthresh over one RTT instead of halting for half of it; below
 * ssthresh, slow start back up to it, at most one MSS beyond what was
 * delivered per ACK. cwnd carries the verdict to the send loop, which sends
 * while pipe + MSS <= cwnd. */
void tcp_prr_ack(struct tcp_conn *c, bool entry)
{
	uint32_t pipe = tcp_sack_pipe(c), delivered = c->ack_delivered;
	uint64_t sndcnt;

	c->prr_delivered += delivered;
	if (pipe > c->ssthresh) {
		uint64_t fs = SL_MAX(c->recover_fs, 1u);
		uint64_t want = ((uint64_t)c->prr_delivered * c->ssthresh + fs - 1) / fs;

		sndcnt = want > c->prr_out ? want - c->prr_out : 0;
	} else {
		uint64_t lim = (c->prr_delivered > c->prr_out ? c->prr_delivered - c->prr_out : 0);

		lim = SL_MAX(lim, (uint64_t)delivered) + c->mss;
		sndcnt = SL_MIN((uint64_t)(c->ssthresh - pipe), lim);
	}
	/* the fast retransmit on entry goes out whatever PRR says (RFC 6937
	 * 3: "at least one segment"; RFC 6675 sends it unconditionally) */
	if (entry)
		sndcnt = SL_MAX(sndcnt, (uint64_t)c->mss);
	c->cwnd = (uint32_t)SL_MIN((uint64_t)pipe + sndcnt, (uint64_t)TCP_CWND_MAX);
}

uint32_t tcp_sack_bytes(const struct tcp_conn *c)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < c->n_sacked; i++)
		n += c->sacked[i].end - c->sacked[i].start;
	return n;
}

void tcp_undo_start(struct tcp_conn *c)
{
	c->undo_cwnd = c->cwnd;
	c->undo_ssthresh = c->ssthresh;
	c->undo_w_max = c->cu.w_max;
	c->undo_marker = c->snd_una;
	c->n_undo_seg = 0;
	c->n_undo_left = 0;
	c->undo_valid = true;
}

void tcp_undo_rexmit(struct tcp_conn *c, uint32_t seq, uint32_t len)
{
	if (!c->undo_valid)
		return;
	if (c->n_undo_seg == TCP_UNDO_SEGS) {
		c->undo_valid = false;
		return;
	}
	c->undo_seg[c->n_undo_seg++] = (struct tcp_range){seq, seq + len};
	c->n_undo_left++;
}

bool tcp_undo_dsack(struct tcp_conn *c, uint32_t start, uint32_t end)
{
	for (uint32_t i = 0; i < c->n_undo_seg; i++) {
		struct tcp_range *r = &c->undo_seg[i];

		if (r->start != start || r->end != end)
			continue;
		/* once: a second DSACK of the same resend is a network dup */
		r->start = r->end = c->undo_marker - 1;
		c->n_undo_left--;
		return true;
	}
	return false;
}

void tcp_undo_try(struct tcp_conn *c)
{
	/* an episode that resent nothing (only a FIN was left) is no
	 * evidence: at least one resend, all of them DSACKed */
	if (!c->undo_valid || c->in_recovery || c->n_undo_seg == 0 || c->n_undo_left)
		return;
	/* as Linux's tcp_undo_cwnd_reduction: never below where the episode
	 * left the window, and slow start resumes if it was under way */
	c->cwnd = SL_MAX(c->cwnd, c->undo_cwnd);
	c->ssthresh = SL_MAX(c->ssthresh, c->undo_ssthresh);
	c->cu.w_max = c->undo_w_max;
	c->cu.epoch_us = 0;
	c->undo_valid = false;
	c->st->stats.tcp_dsack_undo++;
}

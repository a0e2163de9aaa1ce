/* SPDX-License-Identifier: Apache-2.0 */
/* Timers: a hashed timer wheel (one entry per connection, set to the earliest
 * of its deadlines), the RFC 6298 RTO estimator, and the TCP timer actions:
 * retransmit (RFC 6298 5.4-5.7), persist (RFC 9293 3.8.6.1), delayed ACK
 * (RFC 9293 3.8.6.3), keepalive (RFC 9293 3.8.4, RFC 1122 4.2.3.6) and
 * TIME-WAIT (RFC 9293 3.10.7.4, 2*MSL). */
#include <errno.h>

#include "dataplane/net/tcp/tcp_internal.h"

#define SYNACK_RETRIES 5
#define DATA_RETRIES 12
#define PERSIST_MAX_US 60000000ull

/* ---- wheel ---- */

static void tw_list_init(struct tw_entry *h)
{
	h->next = h->prev = h;
}

static void tw_link(struct tw_entry *h, struct tw_entry *e)
{
	e->next = h->next;
	e->prev = h;
	h->next->prev = e;
	h->next = e;
}

static void tw_unlink(struct tw_entry *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->next = e->prev = NULL;
}

void tw_init(struct tw_wheel *w, struct tw_entry *slots, uint32_t nslots, uint32_t tick_us,
	     uint64_t now_us)
{
	BUG_ON(nslots == 0 || (nslots & (nslots - 1)) || tick_us == 0);
	w->slots = slots;
	w->nslots = nslots;
	w->tick_us = tick_us;
	w->cur_tick = now_us / tick_us;
	w->armed = 0;
	for (uint32_t i = 0; i < nslots; i++)
		tw_list_init(&slots[i]);
}

void tw_arm(struct tw_wheel *w, struct tw_entry *e, uint64_t expire_us)
{
	uint64_t tick = expire_us / w->tick_us;

	if (tw_armed(e))
		tw_cancel(w, e);
	if (tick < w->cur_tick)
		tick = w->cur_tick;
	e->expire_us = expire_us;
	tw_link(&w->slots[tick & (w->nslots - 1)], e);
	w->armed++;
}

void tw_cancel(struct tw_wheel *w, struct tw_entry *e)
{
	if (!tw_armed(e))
		return;
	tw_unlink(e);
	w->armed--;
}

/* Moves the due entries of one slot to a private list, then fires them one
 * by one, so callbacks may arm or cancel any entry (including queued ones). */
static uint32_t tw_run_slot(struct tw_wheel *w, struct tw_entry *slot, uint64_t now_us,
			    void (*fn)(struct tw_entry *e, void *arg), void *arg)
{
	struct tw_entry due, *e, *nx;
	uint32_t n = 0;

	tw_list_init(&due);
	for (e = slot->next; e != slot; e = nx) {
		nx = e->next;
		if (e->expire_us <= now_us) {
			tw_unlink(e);
			tw_link(&due, e);
		}
	}
	while (due.next != &due) {
		e = due.next;
		tw_unlink(e);
		w->armed--;
		fn(e, arg);
		n++;
	}
	return n;
}

uint32_t tw_advance(struct tw_wheel *w, uint64_t now_us,
		    void (*fn)(struct tw_entry *e, void *arg), void *arg)
{
	uint64_t now_tick = now_us / w->tick_us, t = w->cur_tick;
	uint32_t n = 0, visits = 0;

	if (now_tick < t)
		return 0;
	/* Every slot at most once, whatever the gap: entries of later rounds
	 * stay where they are (their expiry is checked, not their slot). */
	for (; t <= now_tick && visits <= w->nslots; t++, visits++) {
		if (w->armed == 0)
			break;
		n += tw_run_slot(w, &w->slots[t & (w->nslots - 1)], now_us, fn, arg);
	}
	w->cur_tick = now_tick;
	return n;
}

uint64_t tw_next(const struct tw_wheel *w)
{
	uint64_t t = UINT64_MAX;

	if (w->armed == 0)
		return t;
	for (uint32_t i = 0; i < w->nslots; i++)
		for (const struct tw_entry *e = w->slots[i].next; e != &w->slots[i]; e = e->next)
			t = SL_MIN(t, e->expire_us);
	return t;
}

/* ---- RFC 6298 ---- */

void rto_init(struct rto_est *r, uint32_t min_us, uint32_t max_us)
{
	memset(r, 0, sizeof(*r));
	r->min_us = min_us;
	r->max_us = max_us;
	r->rto_us = SL_MAX(SL_MIN(1000000u, max_us), min_us); /* 2.1: initial 1 s */
}

static void rto_compute(struct rto_est *r)
{
	/* RTO = SRTT + max(G, 4 * RTTVAR); G (1 ms here) is below any min */
	uint64_t rto = (uint64_t)r->srtt_us + SL_MAX(1000u, 4ull * r->rttvar_us);

	rto = SL_MAX(rto, (uint64_t)r->min_us); /* 2.4 */
	r->rto_us = (uint32_t)SL_MIN(rto, (uint64_t)r->max_us); /* 2.5 */
}

void rto_ack_progress(struct rto_est *r)
{
	if (r->have_sample)
		rto_compute(r);
}

void rto_sample(struct rto_est *r, uint32_t rtt_us)
{
	if (!r->have_sample) { /* 2.2 */
		r->srtt_us = rtt_us;
		r->rttvar_us = rtt_us / 2;
		r->have_sample = true;
	} else { /* 2.3: beta = 1/4, alpha = 1/8 */
		uint32_t d = r->srtt_us > rtt_us ? r->srtt_us - rtt_us : rtt_us - r->srtt_us;

		r->rttvar_us = r->rttvar_us - r->rttvar_us / 4 + d / 4;
		r->srtt_us = r->srtt_us - r->srtt_us / 8 + rtt_us / 8;
	}
	rto_compute(r);
}

void rto_backoff(struct rto_est *r)
{
	r->rto_us = (uint32_t)SL_MIN(2ull * r->rto_us, (uint64_t)r->max_us);
}

/* ---- TCP timers ---- */

void tcp_timer_update(struct tcp_conn *c)
{
	uint64_t t = UINT64_MAX;
	const uint64_t all[] = {c->t_rexmt, c->t_persist, c->t_delack, c->t_keep, c->t_2msl,
				c->rk.t_reo};

	for (size_t i = 0; i < SL_ARRAY_SIZE(all); i++)
		if (all[i])
			t = SL_MIN(t, all[i]);
	if (t == UINT64_MAX)
		tw_cancel(&c->st->wheel, &c->timer);
	else if (!tw_armed(&c->timer) || c->timer.expire_us != t)
		tw_arm(&c->st->wheel, &c->timer, t);
}

/* Arms the retransmission timer. While data is in flight outside recovery
 * it first fires as a tail-loss probe (RFC 8985 7, simplified: PTO = 2*SRTT,
 * at least 2 ms): a lost tail then costs a SACK-driven fast retransmit, not
 * an RTO. In SACK recovery it first fires as a recovery probe (below). */
void tcp_arm_rexmt(struct tcp_conn *c)
{
	uint64_t rto = c->rto.rto_us;
	bool rec_probe = c->sack_ok && !c->st->cfg.no_rec_probe;

	c->tlp_pending = false;
	if (c->state != TCPS_SYN_RECEIVED && (!c->in_recovery || rec_probe) &&
	    c->n_probes < TCP_PROBES_MAX && c->rto.have_sample &&
	    (c->rexmits == 0 || rec_probe) && !c->shut_wr) {
		/* the second probe waits twice as long (TCP_PROBES_MAX) */
		uint64_t pto = SL_MAX(2ull * c->rto.srtt_us, 2000ull) << c->n_probes;

		if (pto < rto) {
			rto = pto;
			c->tlp_pending = true;
		}
	}
	c->t_rexmt = c->st->now_us + rto;
	c->t_persist = 0;
}

/* The recovery probe (not in RFC 8985, which arms no probe in recovery,
 * nor in Linux): when SACK recovery, or the RTO's go-back-N, has heard no
 * ACK of new data for a PTO, the segment the cumulative ACK waits for goes
 * out again (after an RTO once: a lost RTO resend otherwise waits for the
 * backed-off RTO, 400 ms). Why: a lost retransmission is found by RACK only
 * when something sent after it is delivered, and a lost ACK of the last
 * segments by nothing at all; with the flights CUBIC keeps at a few percent
 * loss (2-5 segments at the end of a response) there often is nothing after
 * it, and the RTO (200 ms against RTTs of 0.1 ms) was most of a GetRecords
 * cell's time at 5% loss. The probe either repairs the hole or draws an ACK
 * whose SACKs (the probe is the most recently sent segment: RACK) say what
 * is missing. At most TCP_PROBES_MAX per period without an ACK of new data,
 * then the RTO; cwnd is untouched (PRR counts the probe as data sent). */
static void tcp_rec_probe_fire(struct tcp_conn *c)
{
	uint32_t seq, len;

	c->tlp_pending = false;
	c->tlp_done = true;
	c->n_probes++;
	if (tcp_sack_first_hole(c, &seq, &len)) {
		c->tlp_sending = true;
		tcp_send_seg(c, seq, len, TH_ACK);
		c->tlp_sending = false;
		if (seq_gt(seq + len, c->rexmit_nxt))
			c->rexmit_nxt = seq + len;
		c->st->stats.tcp_rec_probes++;
	}
	tcp_arm_rexmt(c); /* the next probe, or the RTO */
}

/* The probe: new data if the windows allow, else the last segment again. */
static void tcp_tlp_fire(struct tcp_conn *c)
{
	uint32_t nxt = c->snd_nxt, data_end = c->data_seq + c->sbuf_len;

	uint64_t prior_us = c->last_data_tx_us;

	if (c->in_recovery || c->rexmits) {
		tcp_rec_probe_fire(c);
		return;
	}
	c->tlp_pending = false;
	c->tlp_done = true;
	c->n_probes++;
	c->t_rexmt = 0;
	tcp_output(c, false);
	if (c->snd_nxt != nxt) {
		c->tlp_active = true;
		c->tlp_start = nxt;
		c->tlp_end = c->snd_nxt;
	} else if (seq_gt(c->snd_max, c->snd_una) && seq_leq(c->snd_max, data_end)) {
		uint32_t len = SL_MIN((uint32_t)c->mss, c->snd_max - c->snd_una);

		c->tlp_sending = true;
		tcp_send_seg(c, c->snd_max - len, len, TH_ACK);
		c->tlp_sending = false;
		c->tlp_active = true;
		c->tlp_start = c->snd_max - len;
		c->tlp_end = c->snd_max;
	}
	c->tlp_prior_tx_us = prior_us;
	tcp_arm_rexmt(c); /* the next probe, or the RTO */
}

/* RFC 6298 5.4-5.7 and RFC 5681 3.1 (loss window), RFC 6582 (recover). */
static void tcp_rexmt_timeout(struct tcp_conn *c)
{
	c->t_rexmt = 0;
	if (c->rexmits >= (c->state == TCPS_SYN_RECEIVED ? SYNACK_RETRIES : DATA_RETRIES)) {
		tcp_conn_drop(c, -ETIMEDOUT);
		return;
	}
	c->rexmits++;
	c->st->stats.tcp_rto++;
	rto_backoff(&c->rto);
	c->rtt_timing = false; /* Karn: no sample from a retransmission */
	if (c->state == TCPS_SYN_RECEIVED) {
		tcp_send_synack(c);
		tcp_arm_rexmt(c);
		return;
	}
	if (c->rexmits > 1)
		c->st->stats.tcp_rto_repeat++;
	else if (c->in_recovery)
		c->st->stats.tcp_rto_recovery++;
	else if (c->tlp_done)
		c->st->stats.tcp_rto_after_tlp++;
	else
		c->st->stats.tcp_rto_no_tlp++;
	c->undo_valid = false; /* F-RTO judges timeouts, not DSACK */
	c->n_probes = TCP_PROBES_MAX - 1; /* one recovery probe after it */
	c->ssthresh = tcp_cc_ssthresh(c);
	c->cwnd = c->mss;
	c->cwnd_acc = 0;
	c->in_recovery = false;
	c->dupacks = 0;
	c->n_sacked = 0; /* RFC 2018 8: the receiver may have reneged */
	tcp_rack_reset(c);
	tcp_rack_clear(c); /* go-back-N resends (and logs) all of it again */
	c->recover = c->snd_max;
	c->snd_nxt = c->snd_una; /* go back: resend from the first unacked byte */
	/* F-RTO on the first timeout of an episode, when there is new data to
	 * probe with: the next two ACKs tell a spurious timeout from a loss */
	c->frto = c->rexmits == 1 && c->state == TCPS_ESTABLISHED &&
		  seq_lt(c->snd_max, c->data_seq + c->sbuf_len) ? 1 : 0;
	c->st->stats.tcp_retransmits++;
	tcp_output(c, false);
	if (!c->t_rexmt)
		tcp_arm_rexmt(c);
}

/* Zero-window probe: an ACK with seq SND.UNA-1 makes the peer answer with its
 * current window (as Linux does); the interval backs off to 60 s. */
static void tcp_persist_timeout(struct tcp_conn *c)
{
	uint64_t iv = (uint64_t)c->rto.rto_us << c->persist_shift;

	tcp_send_seg(c, c->snd_una - 1, 0, TH_ACK);
	if (c->persist_shift < 16)
		c->persist_shift++;
	c->t_persist = c->st->now_us + SL_MIN(iv, PERSIST_MAX_US);
}

static void tcp_keep_timeout(struct tcp_conn *c)
{
	const struct net_config *cfg = &c->st->cfg;
	uint64_t idle_end = c->last_rx_us + cfg->keepalive_idle_us;

	if (c->st->now_us < idle_end) {
		c->t_keep = idle_end;
		return;
	}
	if (c->ka_probes >= cfg->keepalive_probes) {
		tcp_conn_drop(c, -ETIMEDOUT);
		return;
	}
	c->ka_probes++;
	tcp_send_seg(c, c->snd_una - 1, 0, TH_ACK);
	c->t_keep = c->st->now_us + cfg->keepalive_intvl_us;
}

void tcp_timer_fire(struct tw_entry *e, void *arg)
{
	struct tcp_conn *c = (struct tcp_conn *)e;
	struct net_stack *st = arg;
	uint64_t now = st->now_us;

	if (c->state == TCPS_CLOSED)
		return;
	if (c->t_2msl && c->t_2msl <= now) {
		c->t_2msl = 0;
		tcp_conn_drop(c, 0);
		return;
	}
	if (c->t_rexmt && c->t_rexmt <= now && c->tlp_pending) {
		tcp_tlp_fire(c);
	} else if (c->t_rexmt && c->t_rexmt <= now) {
		tcp_rexmt_timeout(c);
		if (c->state == TCPS_CLOSED)
			return;
	}
	if (c->rk.t_reo && c->rk.t_reo <= now && tcp_rack_timeout(c) && c->sack_ok &&
	    !c->frto) {
		/* RACK's reordering timer marked losses: recover them now */
		if (!c->in_recovery && !seq_lt(c->snd_una, c->recover) &&
		    tcp_sack_is_lost(c, c->snd_una)) {
			c->ack_delivered = 0;
			tcp_sack_enter_recovery(c);
		}
		if (c->in_recovery)
			tcp_output(c, false);
	}
	if (c->t_persist && c->t_persist <= now)
		tcp_persist_timeout(c);
	if (c->t_delack && c->t_delack <= now) {
		c->t_delack = 0;
		tcp_send_ack(c);
	}
	if (c->t_keep && c->t_keep <= now) {
		tcp_keep_timeout(c);
		if (c->state == TCPS_CLOSED)
			return;
	}
	tcp_timer_update(c);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The channels between io lcores and log lcores: per (io, log) pair an SP/SC
 * ring each way and a credit count, kept by the io lcore alone.
 *
 * Why credits: a log lcore answers every message it is given, but an io lcore
 * may have far more requests in flight than a ring holds (one per
 * connection, up to --max-conns-per-core, plus subscriptions). Posting only
 * with a credit in hand (DP_PAIR_CREDITS per pair, at most the ring's
 * capacity) makes both rings impossible to fill, so neither side ever spins
 * on a full ring or drops a message; a log lcore never stops serving its
 * journal to wait for an io lcore. Out of credits, the io lcore holds the
 * request (its bytes stay pinned, the client waits) in a FIFO and posts it
 * from its loop when replies bring credits back. */
#include <rte_ring.h>

#include "common/bug.h"
#include "dataplane/core/core.h"
#include "dataplane/log/log.h"

static bool log_chan_fits(const struct lcore_ctx *lc, uint32_t mask)
{
	for (uint16_t l = 0; l < lc->sh->n_log; l++)
		if ((mask & (1u << l)) && lc->dp_out_log[l] >= DP_PAIR_CREDITS)
			return false;
	return true;
}

bool log_chan_can_post(const struct lcore_ctx *lc, uint32_t mask)
{
	return lc->dp_held_head == NULL && log_chan_fits(lc, mask);
}

void log_chan_post(struct lcore_ctx *lc, struct dp_msg *m)
{
	BUG_ON(m->log >= lc->sh->n_log);
	BUG_ON(lc->dp_out_log[m->log] >= DP_PAIR_CREDITS); /* no credit: the caller's bug */
	struct log_ctx *lg = &lc->sh->logs[m->log];
	m->io = lc->idx;
	m->post_us = log_now_us();
	/* Cannot fail: the ring holds at most our messages out to lg, fewer
	 * than DP_PAIR_CREDITS <= its capacity. Release order for m's fields
	 * pairs with the log lcore's dequeue (rte_ring). */
	unsigned ok = rte_ring_sp_enqueue(lg->in[lc->idx], m) == 0;
	BUG_ON(!ok);
	lc->dp_out_log[m->log]++;
	lc->dp_out++;
	if (lc->dp_out > lc->dp_out_hwm) /* metrics: the rings' high-water mark */
		lc->dp_out_hwm = lc->dp_out;
	log_lcore_wake(lg);
}

unsigned log_chan_collect(struct lcore_ctx *lc, uint16_t log, struct dp_msg **ms, unsigned max)
{
	unsigned n = rte_ring_sc_dequeue_burst(lc->sh->logs[log].out[lc->idx], (void **)ms, max,
					       NULL);
	BUG_ON(n > lc->dp_out_log[log] || n > lc->dp_out);
	for (unsigned i = 0; i < n; i++) /* our own messages, back from that log lcore */
		DBG_BUG_ON(ms[i]->io != lc->idx || ms[i]->log != log);
	lc->dp_out_log[log] -= n;
	lc->dp_out -= n;
	return n;
}

void log_chan_hold(struct lcore_ctx *lc, struct dp_wait *w)
{
	BUG_ON(w->need_mask == 0);
	w->next = NULL;
	if (lc->dp_held_tail)
		lc->dp_held_tail->next = w;
	else
		lc->dp_held_head = w;
	lc->dp_held_tail = w;
}

unsigned log_chan_resume(struct lcore_ctx *lc,
			 void (*resume)(struct lcore_ctx *lc, struct dp_wait *w))
{
	unsigned n = 0;
	/* Bounded: each step removes one held request; each is held once. */
	while (lc->dp_held_head && log_chan_fits(lc, lc->dp_held_head->need_mask)) {
		struct dp_wait *w = lc->dp_held_head;
		lc->dp_held_head = w->next;
		if (!lc->dp_held_head)
			lc->dp_held_tail = NULL;
		w->next = NULL;
		resume(lc, w);
		n++;
	}
	return n;
}

void log_chan_reply(struct log_ctx *lg, struct dp_msg *m)
{
	DBG_BUG_ON(m->io >= lg->sh->n_io || m->log != lg->idx);
	struct lcore_ctx *io = &lg->sh->lcs[m->io];
	/* Cannot fail: the io lcore has at most DP_PAIR_CREDITS messages out
	 * to us, and this ring holds only those (see log_chan_post). */
	unsigned ok = rte_ring_sp_enqueue(lg->out[m->io], m) == 0;
	BUG_ON(!ok);
	io->xprt->wake(io);
}

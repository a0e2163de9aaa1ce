/* SPDX-License-Identifier: Apache-2.0 */
/* Test-only fault stage: seeded drop, duplication, reordering and delay of
 * frames, in the receive or transmit path (there is no netem on these
 * machines). Deterministic for a given seed and frame/time sequence, so a
 * failing run can be replayed. Bounded: at most NET_FAULT_SLOTS frames held;
 * when full, frames pass straight through instead of being held. */
#include "dataplane/net/tcp/tcp_internal.h"

/* xorshift64*: small, fast, good enough for fault decisions */
static uint64_t fault_rand(struct net_fault *f)
{
	uint64_t x = f->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	f->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static bool fault_roll(struct net_fault *f, uint32_t ppm)
{
	return ppm && (uint32_t)((fault_rand(f) >> 32) % 1000000u) < ppm;
}

void net_fault_init(struct net_fault *f, const struct net_fault_config *cfg,
		    struct net_fault_frame *held)
{
	memset(f, 0, sizeof(*f));
	f->cfg = *cfg;
	f->held = held;
	f->rng = cfg->seed ? cfg->seed : 1;
}

static bool fault_hold(struct net_fault *f, const uint8_t *frame, uint32_t len,
		       uint64_t release_us)
{
	if (f->n_held == NET_FAULT_SLOTS || len > NET_FRAME_MAX)
		return false;
	struct net_fault_frame *h = &f->held[f->n_held++];

	h->release_us = release_us;
	h->seq = f->next_seq++;
	h->len = len;
	memcpy(h->data, frame, len);
	return true;
}

void net_fault_push(struct net_fault *f, const uint8_t *frame, uint32_t len, uint64_t now_us,
		    net_fault_deliver_fn fn, void *arg)
{
	if (fault_roll(f, f->cfg.drop_ppm)) {
		f->dropped++;
		return;
	}
	int copies = 1;

	if (fault_roll(f, f->cfg.dup_ppm)) {
		f->duplicated++;
		copies = 2;
	}
	for (int i = 0; i < copies; i++) {
		uint64_t at = now_us + f->cfg.delay_us;

		if (fault_roll(f, f->cfg.reorder_ppm)) {
			f->reordered++;
			at += f->cfg.reorder_us ? f->cfg.reorder_us : 1000;
		}
		if (at > now_us && fault_hold(f, frame, len, at))
			continue;
		fn(arg, frame, len);
	}
}

uint32_t net_fault_poll(struct net_fault *f, uint64_t now_us, net_fault_deliver_fn fn, void *arg)
{
	uint32_t n = 0;

	/* Release in order of release time, then arrival: pick the earliest due
	 * frame each round (held set is small and bounded). Removal moves the
	 * last slot into the hole, so slot order is not arrival order: a
	 * burst held with one release time (a constant delay) would come out
	 * shuffled without the seq tie-break. */
	for (;;) {
		uint32_t best = UINT32_MAX;

		for (uint32_t i = 0; i < f->n_held; i++) {
			const struct net_fault_frame *c = &f->held[i];

			if (c->release_us > now_us)
				continue;
			if (best == UINT32_MAX || c->release_us < f->held[best].release_us ||
			    (c->release_us == f->held[best].release_us &&
			     c->seq < f->held[best].seq))
				best = i;
		}
		if (best == UINT32_MAX)
			return n;
		struct net_fault_frame *h = &f->held[best];

		/* copy out first: delivering may hold new frames */
		struct net_fault_frame tmp;
		struct net_fault_frame *last = &f->held[f->n_held - 1];

		tmp.len = h->len;
		memcpy(tmp.data, h->data, h->len);
		if (h != last) {
			h->release_us = last->release_us;
			h->seq = last->seq;
			h->len = last->len;
			memcpy(h->data, last->data, last->len);
		}
		f->n_held--;
		fn(arg, tmp.data, tmp.len);
		n++;
	}
}

uint64_t net_fault_next(const struct net_fault *f)
{
	uint64_t t = UINT64_MAX;

	for (uint32_t i = 0; i < f->n_held; i++)
		t = SL_MIN(t, f->held[i].release_us);
	return t;
}

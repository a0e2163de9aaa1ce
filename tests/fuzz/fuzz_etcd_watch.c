/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the etcd watch stream parser
 * (controlplane/cp_etcd_watch.h): what etcd's JSON gateway streams back on
 * POST /v3/watch (HTTP head, chunked framing, one JSON message per line).
 * The input is fed in pieces whose sizes come from its first bytes, so
 * every split point of the framing is reached (the parser must give the
 * same events however the bytes arrive: checked against a one-piece feed).
 * Checked: each event's key and value lie NUL-terminated with the lengths
 * given, messages count their events, and a failed parser stays failed.
 * Any violation aborts. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controlplane/cp_etcd_watch.h"

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c))                                                     \
			abort();                                              \
	} while (0)

static struct ew_parser ep;
static int ready;

struct tally {
	uint64_t events, msgs, hash;
	uint32_t in_msg;
};

static int cb(void *arg, const struct ew_msg *m, const struct ew_event *ev)
{
	struct tally *t = arg;

	if (ev == NULL) {
		CHECK(m->n_events == t->in_msg);
		t->in_msg = 0;
		t->msgs++;
		t->hash = t->hash * 31 + (uint64_t)m->revision + m->canceled;
		return 0;
	}
	CHECK(ev->key_len > 0 && strlen(ev->key) == ev->key_len);
	CHECK(strlen(ev->value) == ev->value_len);
	t->in_msg++;
	CHECK(m->n_events == t->in_msg);
	t->events++;
	for (size_t i = 0; i < ev->key_len; i++)
		t->hash = t->hash * 131 + (uint8_t)ev->key[i];
	t->hash += (uint64_t)ev->mod_rev + ev->del;
	return 0;
}

static int run(const uint8_t *data, size_t size, const uint8_t *splits, size_t n_splits,
	       struct tally *t)
{
	/* A writable copy: the parser copies anyway, but a feed must not
	 * depend on the input staying put. */
	size_t off = 0, k = 0;
	int rc = 0;

	ew_reset(&ep);
	memset(t, 0, sizeof(*t));
	while (off < size && rc == 0) {
		size_t piece = n_splits ? (size_t)splits[k++ % n_splits] + 1 : size;
		if (piece > size - off)
			piece = size - off;
		rc = ew_feed(&ep, (const char *)data + off, piece, cb, t);
		off += piece;
	}
	if (rc < 0)
		CHECK(ew_feed(&ep, "x", 1, cb, t) == -EPROTO); /* stays failed */
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tally one, split;
	size_t n_splits;

	if (!ready) {
		if (ew_init(&ep) < 0)
			abort();
		ready = 1;
	}
	if (size < 1 || size > (1u << 20))
		return 0;
	n_splits = data[0] % 8;
	if (size < 1 + n_splits)
		return 0;
	const uint8_t *splits = data + 1;
	data += 1 + n_splits;
	size -= 1 + n_splits;
	int rc1 = run(data, size, NULL, 0, &one);
	int rc2 = run(data, size, splits, n_splits, &split);
	/* the same answer however the bytes were split: a resumable parser */
	CHECK(rc1 == rc2);
	if (rc1 >= 0)
		CHECK(one.events == split.events && one.msgs == split.msgs &&
		      one.hash == split.hash);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Admission bounds of an io lcore, kept apart from the connection code so
 * they can be unit-tested on their own:
 *
 *  - a budget of request bytes buffered while requests arrive (HTTP/1.1
 *    input buffers grown past their initial size, HTTP/2 stream header and
 *    body buffers): a lcore-wide ceiling (--max-buffered-mib) and a
 *    per-connection one (--max-conn-buffered-mib). A charge that does not
 *    fit is refused and the caller stops reading from that connection
 *    (back-pressure) instead of growing; nothing here allocates.
 *  - a count of open connections per source address (--max-conns-per-addr),
 *    in an open-addressing table sized at start-up for every connection
 *    slot, so it can never fill. IPv6 sources are counted per /64: one host
 *    commonly holds a whole /64, so per-/128 counting would bound nothing.
 *
 * Everything is per io lcore (shared nothing): no locks, no atomics. */
#ifndef SL_DATAPLANE_HTTP_ADMIT_H
#define SL_DATAPLANE_HTTP_ADMIT_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/bug.h"

struct mem_budget {
	uint64_t used_bytes;	 /* charged now, all connections */
	uint64_t max_bytes;	 /* lcore-wide ceiling */
	uint64_t conn_max_bytes; /* one connection's ceiling */
	uint64_t peak_bytes;	 /* high-water mark of used_bytes */
	uint64_t n_denied;	 /* charges refused (each one a back-pressure stop) */
};

/* Bytes one more charge could take for a connection holding held_bytes. */
static inline uint64_t http_mb_headroom(const struct mem_budget *b, uint64_t held_bytes)
{
	DBG_BUG_ON(b->used_bytes > b->max_bytes || held_bytes > b->conn_max_bytes);
	uint64_t lcore = b->max_bytes - b->used_bytes;
	uint64_t conn = b->conn_max_bytes - held_bytes;
	return lcore < conn ? lcore : conn;
}

/* Charges bytes to a connection holding *held_bytes. Returns 0, or -ENOBUFS
 * (nothing charged) when the lcore or the connection would go over its
 * ceiling. */
static inline int http_mb_charge(struct mem_budget *b, uint64_t *held_bytes, uint64_t bytes)
{
	if (bytes > http_mb_headroom(b, *held_bytes)) {
		b->n_denied++;
		return -ENOBUFS;
	}
	b->used_bytes += bytes;
	*held_bytes += bytes;
	if (b->used_bytes > b->peak_bytes)
		b->peak_bytes = b->used_bytes;
	return 0;
}

/* Returns bytes charged earlier (a caller never returns more than it took). */
static inline void http_mb_uncharge(struct mem_budget *b, uint64_t *held_bytes, uint64_t bytes)
{
	BUG_ON(bytes > *held_bytes || bytes > b->used_bytes);
	*held_bytes -= bytes;
	b->used_bytes -= bytes;
}

/* A source address as counted: IPv4 as ::ffff:a.b.c.d, IPv6 cut to /64. */
struct addr_key {
	uint8_t b[16];
};

struct addr_slot {
	struct addr_key key;
	uint32_t n; /* open connections; 0: slot empty */
};

struct addr_table {
	struct addr_slot *slots;
	uint32_t mask;		/* slots - 1 (a power of two) */
	uint32_t limit;		/* connections allowed per address */
	uint32_t n_addrs;	/* slots in use */
	uint32_t max_addrs;	/* what init was sized for */
	uint64_t seed[2];	/* keys are chosen by clients: hash with a secret */
};

/* Sizes the table for max_addrs distinct addresses at most (one per
 * connection slot) at load <= 1/2. Returns 0, -EINVAL or -ENOMEM. */
int http_addr_table_init(struct addr_table *t, uint32_t max_addrs, uint32_t limit_per_addr);
void http_addr_table_fini(struct addr_table *t);
/* Counts one more connection from k. Returns 0, or -EMFILE (nothing
 * counted) when k already has limit_per_addr open. */
int http_addr_acquire(struct addr_table *t, const struct addr_key *k);
/* Uncounts one connection from k (which must have been acquired). */
void http_addr_release(struct addr_table *t, const struct addr_key *k);
/* Open connections counted for k. */
uint32_t http_addr_count(const struct addr_table *t, const struct addr_key *k);

/* Keys from the two kinds of peer address the transports see. */
void http_addr_key_ip4(struct addr_key *k, uint32_t ip_host_order);
void http_addr_key_ip6(struct addr_key *k, const uint8_t ip6[16]);

#endif

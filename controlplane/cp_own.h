/* SPDX-License-Identifier: Apache-2.0 */
/* Shard ownership (issue #18, docs/REPLICATION.md "Shard ownership"): the
 * pure parts, so unit tests and a fuzz target reach them without etcd.
 *
 * A shard's owner is recorded at /sluice/<c>/own/<stream-id>/<index %010u>
 * = {"node":"<id>","lease":<lease id>}, written under the owner's lease
 * only if absent (cp_cluster.c). Which node claims an unowned shard:
 * rendezvous hashing over the live nodes (cp_own_pick): every node
 * computes the same winner from the same set, and a node that leaves
 * moves only the shards it held (every other shard keeps its winner). */
#ifndef SL_CP_OWN_H
#define SL_CP_OWN_H

#include <stddef.h>
#include <stdint.h>

#include "common/bug.h"

/* A node id is at most 64 bytes (ES_CLUSTER_MAX, --node-id). */
#define CP_OWN_NODE_MAX 64u
/* "own/" + 20 digits + "/" + 10 digits */
#define CP_OWN_REL_CAP 40u

/* The rendezvous score of node id[0..n) for (stream_id, shard): a 64-bit
 * hash of all three, the same on every machine (no seed, no endianness:
 * bytes are folded one by one). Pure. */
uint64_t cp_own_score(const char *id, size_t n, uint64_t stream_id, uint32_t shard);

/* The index in ids[0..n) of the winner for (stream_id, shard): the highest
 * score; an equal score goes to the smaller id (strcmp), so the choice does
 * not depend on the order of ids. -1 when n == 0. ids are NUL-terminated. */
int32_t cp_own_pick(const char *const *ids, uint32_t n, uint64_t stream_id, uint32_t shard);

/* The key's part after the cluster prefix, "own/<id>/<index %010u>", into
 * out (CP_OWN_REL_CAP); returns its length. */
size_t cp_own_rel_fmt(uint64_t stream_id, uint32_t shard, char out[CP_OWN_REL_CAP]);

/* Parses rel[0..n) (the key after the cluster prefix) as cp_own_rel_fmt
 * writes it: "own/" then 1..20 decimal digits (no leading zero, < 2^64),
 * "/", then exactly 10 digits (< 2^32). 0, or -EINVAL for anything else. */
int SL_MUST_CHECK cp_own_rel_parse(const char *rel, size_t n, uint64_t *stream_id,
				   uint32_t *shard);

/* The record's value {"node":"<id>","lease":<n>} into out[0..cap); returns
 * its length (NUL-terminated after it), or -ENOSPC. id is 1..CP_OWN_NODE_MAX of [A-Za-z0-9_.-]. */
int cp_own_value_fmt(const char *id, int64_t lease, char *out, size_t cap);

/* Parses a record's value (from etcd: any bytes): an object with "node", a
 * string of 1..CP_OWN_NODE_MAX bytes of [A-Za-z0-9_.-], copied to node
 * (NUL-terminated, CP_OWN_NODE_MAX + 1 bytes), and "lease", an integer
 * (optional: 0 when absent); other members are ignored (later versions add
 * them). 0, or -EINVAL. */
int SL_MUST_CHECK cp_own_value_parse(const char *v, size_t n, char node[CP_OWN_NODE_MAX + 1],
				     int64_t *lease);

#endif

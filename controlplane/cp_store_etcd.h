/* SPDX-License-Identifier: Apache-2.0 */
/* The etcd metadata store (cp_store_etcd.c): cp_store.h's contract on etcd
 * v3, chosen by --metadata etcd=URL. Its key layout and why each call is
 * safe are at the top of cp_store_etcd.c and in controlplane/README.md. */
#ifndef SL_CONTROLPLANE_CP_STORE_ETCD_H
#define SL_CONTROLPLANE_CP_STORE_ETCD_H

#include "controlplane/cp_etcd.h"
#include "controlplane/cp_store.h"

#define ES_CLUSTER_MAX 64 /* --etcd-cluster: 1..64 of A-Z a-z 0-9 _ . - */

struct cp_store_etcd_cfg {
	struct etcd_cfg etcd;
	const char *cluster; /* keys live under /sluice/<cluster>/ */
};

extern const struct cp_store_ops cp_store_etcd_ops;

/* Connects, checks (or writes) the schema key. NULL + errno: EINVAL (bad
 * endpoint or cluster), EIO (etcd unreachable, TLS material unusable),
 * EPROTO (another schema version under the prefix), ENOMEM. The ops
 * table's open(spec) takes "URL[ CLUSTER]", plain http only (tests). */
struct cp_store *cp_store_etcd_open(const struct cp_store_etcd_cfg *cfg);

/* The decoders of the records the store keeps in etcd (their values, as
 * read back), reachable without an etcd so a fuzzer can feed them
 * (tests/fuzz/fuzz_etcd.c). 0 (decoded), -EIO (not a record of ours),
 * -EINVAL (no such kind), -ENOMEM. */
enum es_rec { ES_REC_STREAM, ES_REC_SHARD, ES_REC_CONSUMER, ES_REC_CHANNEL, ES_REC_POLICY,
	      ES_REC_N };
int cp_store_etcd_decode(enum es_rec kind, const char *value, size_t len);

#endif

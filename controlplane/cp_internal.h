/* SPDX-License-Identifier: Apache-2.0 */
/* Private declarations of the control plane: the metadata store (cp_store.c),
 * the operations (cp_streams.c) and the control thread (cp.c). */
#ifndef SL_CONTROLPLANE_CP_INTERNAL_H
#define SL_CONTROLPLANE_CP_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>

#include "controlplane/cp.h"

#define CP_NAME_MAX 128		 /* stream name, code points (ASCII by pattern) */
#define CP_ARN_CAP 256		 /* arn:aws:kinesis:<region 63>:<12>:stream/<128> */
#define CP_REGION_CAP 64
#define CP_SHARD_ID_CAP 24	 /* "shardId-" + 12 digits */
#define CP_HASH_CAP 40		 /* 2^128-1 has 39 digits */
#define CP_SEQ_CAP 64
#define CP_MAX_SHARDS_PER_STREAM 100000u
#define CP_ON_DEMAND_SHARDS 4u
#define CP_DEFAULT_RETENTION_HOURS 24u
#define CP_DEFAULT_MAX_RECORD_KIB 1024u
#define CP_MAX_TAGS 200u
#define CP_RING_SIZE 1024u	 /* request ring and each reply ring */

/* Stream states, stored as numbers in the database: never renumber. */
enum cp_status {
	CP_CREATING = 1, /* until deadline_ms, then ACTIVE */
	CP_ACTIVE = 2,
	CP_DELETING = 3, /* until deadline_ms, then removed */
	CP_UPDATING = 4, /* resharding (later milestones) */
};

enum cp_mode {
	CP_PROVISIONED = 1,
	CP_ON_DEMAND = 2,
};

struct cp_stream {
	uint64_t id;		 /* unique for the data directory's life, never reused */
	char name[CP_NAME_MAX + 1];
	char arn[CP_ARN_CAP];
	uint8_t status;		 /* enum cp_status */
	uint8_t mode;		 /* enum cp_mode */
	uint8_t encryption;	 /* 0 NONE (KMS later) */
	uint32_t retention_hours;
	uint32_t shard_count;	 /* open shards */
	uint32_t max_record_kib;
	int64_t created_ms;	 /* wall clock */
	int64_t deadline_ms;	 /* wall clock of the next transition, 0 = none */
};

struct cp_shard {
	uint32_t index;
	char id[CP_SHARD_ID_CAP];
	char hash_start[CP_HASH_CAP];
	char hash_end[CP_HASH_CAP];
	char start_seq[CP_SEQ_CAP];
	char end_seq[CP_SEQ_CAP];	/* "" while open */
	char parent[CP_SHARD_ID_CAP];	/* "" when none */
	char adjacent[CP_SHARD_ID_CAP]; /* "" when none */
};

struct cp_tag {
	char key[129];
	char value[257];
};

struct cp_store;
struct rte_ring;
struct rte_rcu_qsbr;

#define CP_RETIRED_MAX 16 /* routing snapshots awaiting reclamation */

struct cp {
	struct cp_config cfg;
	char data_dir[4096];
	char account_id[16];
	struct cp_store *st;
	struct rte_ring *req;	     /* MP/SC: io lcores -> control thread */
	struct rte_ring **rep;	     /* SP/SC per lcore: control thread -> lcore */
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;	     /* set by cp_stop, read by the control thread */
	int64_t next_deadline_ms;    /* earliest lifecycle deadline, INT64_MAX none */
	/* routing table (cp_route.c) */
	_Atomic(struct cp_route *) route;
	struct rte_rcu_qsbr *qs;
	uint64_t route_version;
	struct {
		struct cp_route *rt;
		uint64_t token;
	} retired[CP_RETIRED_MAX];
	uint32_t n_retired;
};

/* --- cp_route.c --- */
int cp_route_init(struct cp *cp);
void cp_route_fini(struct cp *cp);
/* Rebuilds the table from the store and publishes it. 0 or -errno. */
int cp_route_publish(struct cp *cp);
/* Frees retired tables that no reader can hold; wait blocks until then. */
void cp_route_reclaim(struct cp *cp, bool wait);

/* cp_start without the thread: for unit tests that drive cp_execute alone.
 * cp_stop closes it. */
struct cp *cp_open(const struct cp_config *cfg);

/* --- cp_store.c: SQLite metadata (all functions return 0 or -errno) --- */
struct cp_store *cp_store_open(const char *dir); /* NULL + errno */
void cp_store_close(struct cp_store *st);
/* -ENOENT when absent. */
int cp_store_get(struct cp_store *st, const char *name, struct cp_stream *out);
/* Inserts the stream (assigning s->id), its shard_count shards (cp_shard_make)
 * and tags, in one durable transaction. -EEXIST when the name is taken. */
int cp_store_create(struct cp_store *st, struct cp_stream *s, const struct cp_tag *tags,
		    uint32_t n_tags);
int cp_store_set_status(struct cp_store *st, const char *name, uint8_t status,
			int64_t deadline_ms);
int cp_store_set_retention(struct cp_store *st, const char *name, uint32_t hours);
int cp_store_remove(struct cp_store *st, const char *name);
/* Streams and shards counted against the account limits. */
int cp_store_totals(struct cp_store *st, uint32_t *streams, uint64_t *shards);
/* Streams with name > after (NULL: from the start), by name, at most limit.
 * cb returns 0 to go on. Returns the count visited or -errno. */
int cp_store_list(struct cp_store *st, const char *after, uint32_t limit,
		  int (*cb)(void *arg, const struct cp_stream *s), void *arg);
/* Shards of a stream with id > after (NULL: all), by index, at most limit. */
int cp_store_shards(struct cp_store *st, const char *name, const char *after, uint32_t limit,
		    int (*cb)(void *arg, const struct cp_shard *sh), void *arg);
/* Applies every lifecycle transition due at now_ms; returns the count. */
int cp_store_run_due(struct cp_store *st, int64_t now_ms);
/* Earliest pending deadline, INT64_MAX when none. */
int64_t cp_store_next_deadline(struct cp_store *st);

/* --- cp_streams.c --- */
/* Fills shard i of an n-shard stream created at created_ms. */
void cp_shard_make(uint32_t i, uint32_t n, int64_t created_ms, struct cp_shard *out);
/* Hash key range of shard i of n as decimal strings (exactly Kinesis's split). */
void cp_hash_range(uint32_t i, uint32_t n, char start[CP_HASH_CAP], char end[CP_HASH_CAP]);
/* Unsigned 128-bit value -> decimal. */
void cp_u128_dec(unsigned __int128 v, char out[CP_HASH_CAP]);
/* The first sequence number of a shard (see the comment at the definition). */
void cp_start_seq(uint32_t shard_index, int64_t created_ms, char out[CP_SEQ_CAP]);
/* Executes one call (any op); fills status/resp. */
void cp_streams_execute(struct cp *cp, struct cp_call *call);

#endif

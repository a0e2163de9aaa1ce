/* SPDX-License-Identifier: Apache-2.0 */
/* The metadata store through its ops table (controlplane/cp_store.h), on a
 * real SQLite file: the contract every backend keeps (records in, the same
 * records out, in the documented order, with the documented errors; atomic
 * changes that survive a reopen; lifecycle transitions), then what the
 * SQLite backend adds: statements prepared once and reused, a listing
 * callback that re-enters the store, and no read snapshot left open after a
 * call (another connection can checkpoint the WAL to nothing).
 *
 * The contract tests take the ops table as a parameter (g_ops): with the
 * argument "etcd" the same tests run against the etcd backend
 * (controlplane/cp_store_etcd.c) on a real etcd (/usr/bin/etcd, or
 * $SL_ETCD) started here on free loopback ports with its own data
 * directory; each test gets its own cluster prefix, so a fresh store. The
 * etcd run also checks what a remote store adds: an etcd killed -9 gives
 * -EIO within the timeouts (no hang), and everything is back when etcd is.
 * Without etcd that run exits 77 (skip) and says why. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "common/clock.h"
#include "controlplane/cp_internal.h"
#include "controlplane/cp_store_etcd.h"

static const struct cp_store_ops *g_ops;
static char g_dir[256];

static struct cp_store *open_store(void)
{
	struct cp_store *st = cp_store_open(g_ops, g_dir);

	assert_non_null(st);
	assert_ptr_equal(st->ops, g_ops);
	return st;
}

/* --- a real etcd for the etcd backend --- */
static const char *g_etcd_bin;
static char g_etcd_dir[256];
static uint16_t g_etcd_port;
static pid_t g_etcd_pid = -1;
static uint32_t g_cluster_seq;

/* A port the kernel just handed out (and we released): free on loopback
 * unless something races us for it, which a retry of the start covers. */
static uint16_t free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Starts etcd on g_etcd_port (a free one when 0) with data in g_etcd_dir;
 * waits (up to 30 s, an ASan build is slow) until a store opens. */
static int etcd_start(void)
{
	char client[64], peer[64], cluster[96], spec[96];
	uint16_t peer_port = free_port();

	if (g_etcd_port == 0)
		g_etcd_port = free_port();
	if (g_etcd_port == 0 || peer_port == 0)
		return -1;
	snprintf(client, sizeof(client), "http://127.0.0.1:%u", g_etcd_port);
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%u", peer_port);
	snprintf(cluster, sizeof(cluster), "t=%s", peer);
	pid_t parent = getpid();
	g_etcd_pid = fork();
	if (g_etcd_pid < 0)
		return -1;
	if (g_etcd_pid == 0) {
		/* etcd dies with this test however the test ends (an abort, a
		 * timeout's SIGKILL), or it would hold its ports and data
		 * directory for good; checked after the prctl, as the parent
		 * may be gone already (etcd_orphan_test.sh). */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(126);
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execl(g_etcd_bin, g_etcd_bin, "--name", "t", "--data-dir", g_etcd_dir,
		      "--listen-client-urls", client, "--advertise-client-urls", client,
		      "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		      "--initial-cluster", cluster, "--max-txn-ops", "10240", (char *)NULL);
		_exit(127);
	}
	snprintf(spec, sizeof(spec), "%s probe", client);
	for (int i = 0; i < 300; i++) {
		struct cp_store *st = cp_store_open(&cp_store_etcd_ops, spec);
		if (st != NULL) {
			cp_store_close(st);
			return 0;
		}
		if (waitpid(g_etcd_pid, NULL, WNOHANG) == g_etcd_pid) {
			g_etcd_pid = -1;
			return -1;
		}
		usleep(100 * 1000);
	}
	return -1;
}

static void etcd_kill(int sig)
{
	if (g_etcd_pid > 0) {
		kill(g_etcd_pid, sig);
		waitpid(g_etcd_pid, NULL, 0);
	}
	g_etcd_pid = -1;
}

static int setup(void **state)
{
	(void)state;
	if (g_ops == &cp_store_etcd_ops) {
		/* a fresh prefix: a fresh store in the same etcd */
		snprintf(g_dir, sizeof(g_dir), "http://127.0.0.1:%u t%u-%ld", g_etcd_port,
			 ++g_cluster_seq, (long)getpid());
		return 0;
	}
	snprintf(g_dir, sizeof(g_dir), "/tmp/cp_store_test_XXXXXX");
	return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	if (g_ops == &cp_store_etcd_ops)
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void make_stream(struct cp_stream *s, const char *name, uint32_t shards, uint8_t status,
			int64_t deadline_ms)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->arn, sizeof(s->arn), "arn:aws:kinesis:us-east-1:000000000000:stream/%s",
		 name);
	s->status = status;
	s->mode = CP_PROVISIONED;
	s->retention_hours = 24;
	s->created_ms = 1700000000000;
	s->deadline_ms = deadline_ms;
	s->shard_count = shards;
	s->max_record_kib = 1024;
}

/* --- collectors for the listing calls --- */

struct names {
	uint32_t n, stop_after;
	char v[16][512]; /* one record, in short */
};

static int collect_stream(void *arg, const struct cp_stream *s)
{
	struct names *c = arg;

	assert_true(c->n < 16);
	snprintf(c->v[c->n], sizeof(c->v[0]), "%.128s", s->name);
	return ++c->n == c->stop_after;
}

static int collect_shard(void *arg, const struct cp_shard *sh)
{
	struct names *c = arg;

	assert_true(c->n < 16);
	snprintf(c->v[c->n++], sizeof(c->v[0]), "%.30s %.30s %s", sh->id, sh->parent,
		 sh->closed_ms ? "closed" : "open");
	return 0;
}

static int collect_tag(void *arg, const struct cp_tag *t)
{
	struct names *c = arg;

	assert_true(c->n < 16);
	snprintf(c->v[c->n++], sizeof(c->v[0]), "%.128s=%.256s", t->key, t->value);
	return 0;
}

static int collect_consumer(void *arg, const struct cp_consumer *k)
{
	struct names *c = arg;

	assert_true(c->n < 16);
	snprintf(c->v[c->n++], sizeof(c->v[0]), "%.128s", k->name);
	return 0;
}

static int collect_route(void *arg, const struct cp_consumer *k, uint64_t id)
{
	struct names *c = arg;

	assert_true(c->n < 16);
	snprintf(c->v[c->n++], sizeof(c->v[0]), "%.128s@%llu", k->name, (unsigned long long)id);
	return 0;
}

static int collect_unsealed(void *arg, uint64_t id, const char *name, uint32_t index)
{
	struct names *c = arg;

	assert_true(c->n < 16);
	snprintf(c->v[c->n++], sizeof(c->v[0]), "%.128s/%u@%llu", name, index,
		 (unsigned long long)id);
	return 0;
}

/* --- the contract --- */

static void test_streams(void **state)
{
	(void)state;
	struct cp_store *st = open_store();
	struct cp_stream s, got;
	struct cp_tag tags[2] = { { "b", "2" }, { "a", "1" } };
	struct names c = { 0 };
	uint32_t n_streams = 0;
	uint64_t n_shards = 0;

	make_stream(&s, "beta", 3, CP_ACTIVE, 0);
	assert_int_equal(cp_store_create(st, &s, tags, 2), 0);
	assert_int_equal(s.id, 1);
	make_stream(&s, "alpha", 2, CP_CREATING, 0);
	assert_int_equal(cp_store_create(st, &s, NULL, 0), 0);
	assert_int_equal(s.id, 2); /* ids are never reused */
	/* a taken name: -EEXIST, and nothing of it stays (one transaction) */
	make_stream(&s, "beta", 5, CP_ACTIVE, 0);
	assert_int_equal(cp_store_create(st, &s, NULL, 0), -EEXIST);
	assert_int_equal(cp_store_get(st, "gamma", &got), -ENOENT);

	assert_int_equal(cp_store_get(st, "beta", &got), 0);
	assert_string_equal(got.arn, "arn:aws:kinesis:us-east-1:000000000000:stream/beta");
	assert_int_equal(got.shard_count, 3);
	assert_int_equal(got.shard_total, 3);
	assert_int_equal(got.status, CP_ACTIVE);
	assert_int_equal(got.retention_hours, 24);
	assert_int_equal(got.encryption, 0);
	assert_string_equal(got.key_id, "");
	assert_true(got.created_ms == 1700000000000);

	assert_int_equal(cp_store_totals(st, &n_streams, &n_shards), 0);
	assert_int_equal(n_streams, 2);
	assert_int_equal(n_shards, 5);
	/* by name, bytewise; after excludes; limit bounds */
	assert_int_equal(cp_store_list(st, NULL, 10, collect_stream, &c), 2);
	assert_string_equal(c.v[0], "alpha");
	assert_string_equal(c.v[1], "beta");
	memset(&c, 0, sizeof(c));
	assert_int_equal(cp_store_list(st, "alpha", 10, collect_stream, &c), 1);
	assert_string_equal(c.v[0], "beta");
	memset(&c, 0, sizeof(c));
	c.stop_after = 1; /* a callback that stops: counted, and no more */
	assert_int_equal(cp_store_list(st, NULL, 10, collect_stream, &c), 1);

	assert_int_equal(cp_store_set_retention(st, "beta", 48), 0);
	assert_int_equal(cp_store_set_int(st, "beta", "max_record_kib", 2048), 0);
	assert_int_equal(cp_store_set_int(st, "beta", "mode", CP_ON_DEMAND), 0);
	assert_int_equal(cp_store_set_int(st, "nope", "metrics", 3), -ENOENT);
	assert_int_equal(cp_store_set_status(st, "nope", CP_ACTIVE, 0), -ENOENT);
	assert_int_equal(cp_store_set_encryption(st, "beta", "alias/k", CP_UPDATING, 77), 0);
	assert_int_equal(cp_store_on_demand_count(st, &n_streams), 0);
	assert_int_equal(n_streams, 1);
	assert_int_equal(cp_store_get(st, "beta", &got), 0);
	assert_int_equal(got.retention_hours, 48);
	assert_int_equal(got.max_record_kib, 2048);
	assert_int_equal(got.encryption, 1);
	assert_string_equal(got.key_id, "alias/k");
	assert_int_equal(got.status, CP_UPDATING);
	assert_true(got.deadline_ms == 77);

	/* tags: by key, replace on put, delete what is named */
	memset(&c, 0, sizeof(c));
	assert_int_equal(cp_store_tags(st, "beta", NULL, 10, collect_tag, &c), 2);
	assert_string_equal(c.v[0], "a=1");
	assert_string_equal(c.v[1], "b=2");
	struct cp_tag more = { "a", "9" };
	char del[2][CP_TAG_KEY_CAP] = { "b", "zz" };
	assert_int_equal(cp_store_tags_put(st, "beta", &more, 1), 0);
	assert_int_equal(cp_store_tags_del(st, "beta", del, 2), 0);
	memset(&c, 0, sizeof(c));
	assert_int_equal(cp_store_tags(st, "beta", NULL, 10, collect_tag, &c), 1);
	assert_string_equal(c.v[0], "a=9");

	/* key/value settings */
	char val[32];
	assert_int_equal(cp_store_meta_get(st, "mtbc", val, sizeof(val)), -ENOENT);
	assert_int_equal(cp_store_meta_set(st, "mtbc", "on"), 0);
	assert_int_equal(cp_store_meta_get(st, "mtbc", val, sizeof(val)), 0);
	assert_string_equal(val, "on");

	/* durable: a reopen sees it all */
	cp_store_close(st);
	st = open_store();
	assert_int_equal(cp_store_get(st, "beta", &got), 0);
	assert_int_equal(got.retention_hours, 48);
	assert_int_equal(cp_store_meta_get(st, "mtbc", val, sizeof(val)), 0);

	/* remove takes everything hanging off the stream; absent is fine */
	assert_int_equal(cp_store_remove(st, "beta"), 0);
	assert_int_equal(cp_store_get(st, "beta", &got), -ENOENT);
	memset(&c, 0, sizeof(c));
	assert_int_equal(cp_store_tags(st, "beta", NULL, 10, collect_tag, &c), 0);
	assert_int_equal(cp_store_shards(st, "beta", NULL, 10, collect_shard, &c), 0);
	assert_int_equal(cp_store_remove(st, "beta"), 0);
	cp_store_close(st);
}

static void test_shards_and_reshard(void **state)
{
	(void)state;
	struct cp_store *st = open_store();
	struct cp_stream s;
	struct cp_shard sh, kids[2];
	struct names c = { 0 };
	int64_t last = 0;

	make_stream(&s, "r", 2, CP_ACTIVE, 0);
	assert_int_equal(cp_store_create(st, &s, NULL, 0), 0);
	assert_int_equal(cp_store_shard_get(st, "r", 1, &sh), 0);
	/* cp_shard_make's split, stored as decimal text */
	assert_string_equal(sh.id, "shardId-000000000001");
	assert_string_equal(sh.hash_start, "170141183460469231731687303715884105728");
	assert_string_equal(sh.hash_end, "340282366920938463463374607431768211455");
	assert_string_equal(sh.end_seq, "");
	assert_int_equal(cp_store_shard_get(st, "r", 2, &sh), -ENOENT);

	/* split shard 0 into 2 and 3 */
	cp_shard_make(0, 4, 1700000000001, &kids[0]);
	cp_shard_make(1, 4, 1700000000001, &kids[1]);
	for (int i = 0; i < 2; i++) {
		kids[i].index = 2 + (uint32_t)i;
		snprintf(kids[i].id, sizeof(kids[i].id), "shardId-%012u", 2 + i);
		snprintf(kids[i].parent, sizeof(kids[i].parent), "shardId-000000000000");
		kids[i].created_ms = 1700000000001;
	}
	uint32_t parent = 0;
	assert_int_equal(cp_store_reshard(st, "r", &parent, 1, kids, 2, 1700000000001,
					  CP_UPDATING, 99),
			 0);
	/* again: the parent is closed -> -ESTALE, and nothing changed */
	assert_int_equal(cp_store_reshard(st, "r", &parent, 1, kids, 2, 1700000000002,
					  CP_UPDATING, 99),
			 -ESTALE);
	assert_int_equal(cp_store_get(st, "r", &s), 0);
	assert_int_equal(s.shard_count, 3);
	assert_int_equal(s.shard_total, 4);
	assert_int_equal(cp_store_shards(st, "r", NULL, 10, collect_shard, &c), 4);
	assert_string_equal(c.v[0], "shardId-000000000000  closed");
	assert_string_equal(c.v[1], "shardId-000000000001  open");
	assert_string_equal(c.v[2], "shardId-000000000002 shardId-000000000000 open");
	memset(&c, 0, sizeof(c));
	assert_int_equal(cp_store_shards(st, "r", "shardId-000000000001", 1, collect_shard, &c),
			 1);
	assert_string_equal(c.v[0], "shardId-000000000002 shardId-000000000000 open");
	assert_int_equal(cp_store_last_created(st, "r", &last), 0);
	assert_true(last == 1700000000001);

	/* the closed parent waits for its ending sequence number */
	memset(&c, 0, sizeof(c));
	assert_int_equal(cp_store_unsealed(st, collect_unsealed, &c), 1);
	assert_string_equal(c.v[0], "r/0@1");
	assert_int_equal(cp_store_set_end_seq(st, "r", 0, "340282366920938463463374607431768211455"),
			 0);
	assert_int_equal(cp_store_unsealed(st, collect_unsealed, &c), 0);
	assert_int_equal(cp_store_shard_get(st, "r", 0, &sh), 0);
	assert_string_equal(sh.end_seq, "340282366920938463463374607431768211455");

	/* UpdateShardCount history: a rolling 24 h */
	uint32_t n = 9;
	const int64_t day_ms = 24 * 3600 * 1000LL;
	assert_int_equal(cp_store_add_scaling(st, "r", 1000), 0);
	assert_int_equal(cp_store_add_scaling(st, "r", 2000), 0);
	assert_int_equal(cp_store_scalings(st, "r", 1500, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(cp_store_add_scaling(st, "r", 1500 + day_ms), 0); /* forgets 1000 */
	assert_int_equal(cp_store_scalings(st, "r", 0, &n), 0);
	assert_int_equal(n, 2);
	cp_store_close(st);
}

static void test_consumers_and_lifecycle(void **state)
{
	(void)state;
	struct cp_store *st = open_store();
	struct cp_stream s;
	struct cp_consumer k, got;
	struct names c = { 0 };
	uint32_t total = 9, creating = 9;
	const int64_t now = 1700000100000;

	make_stream(&s, "c", 1, CP_ACTIVE, 0);
	assert_int_equal(cp_store_create(st, &s, NULL, 0), 0);
	make_stream(&s, "soon", 1, CP_CREATING, now - 1);
	assert_int_equal(cp_store_create(st, &s, NULL, 0), 0);
	for (int i = 0; i < 3; i++) {
		memset(&k, 0, sizeof(k));
		snprintf(k.stream, sizeof(k.stream), "c");
		snprintf(k.name, sizeof(k.name), "k%d", 2 - i);
		snprintf(k.arn, sizeof(k.arn), "arn:c/consumer/k%d:1", 2 - i);
		k.status = i == 0 ? CP_CREATING : CP_ACTIVE;
		k.deadline_ms = i == 0 ? now - 5 : 0;
		k.created_ms = now;
		assert_int_equal(cp_store_consumer_add(st, &k), 0);
	}
	assert_int_equal(cp_store_consumer_add(st, &k), -EEXIST);
	assert_int_equal(cp_store_consumer_counts(st, "c", &total, &creating), 0);
	assert_int_equal(total, 3);
	assert_int_equal(creating, 1);
	assert_int_equal(cp_store_consumer_get(st, "c", "k1", &got), 0);
	assert_string_equal(got.arn, "arn:c/consumer/k1:1");
	assert_int_equal(cp_store_consumer_get(st, NULL, "arn:c/consumer/k2:1", &got), 0);
	assert_string_equal(got.name, "k2");
	assert_int_equal(cp_store_consumer_get(st, NULL, "arn:none", &got), -ENOENT);
	assert_int_equal(cp_store_consumers(st, "c", "k0", 10, collect_consumer, &c), 2);
	assert_string_equal(c.v[0], "k1");
	assert_string_equal(c.v[1], "k2");
	memset(&c, 0, sizeof(c));
	assert_int_equal(cp_store_route_consumers(st, collect_route, &c), 2); /* ACTIVE only */
	assert_string_equal(c.v[0], "k0@1");
	assert_string_equal(c.v[1], "k1@1");
	assert_int_equal(cp_store_get(st, "c", &s), 0);
	assert_int_equal(s.n_consumers, 3);

	/* deadlines: the earliest first; due ones settle */
	assert_true(cp_store_next_deadline(st) == now - 5);
	assert_int_equal(cp_store_run_due(st, now), 2); /* "soon" and k2 */
	assert_int_equal(cp_store_get(st, "soon", &s), 0);
	assert_int_equal(s.status, CP_ACTIVE);
	assert_true(s.deadline_ms == 0);
	assert_int_equal(cp_store_consumer_get(st, "c", "k2", &got), 0);
	assert_int_equal(got.status, CP_ACTIVE);
	assert_true(cp_store_next_deadline(st) == INT64_MAX);
	assert_int_equal(cp_store_run_due(st, now), 0);

	/* DeleteStream with consumers: they go DELETING, then with it */
	assert_int_equal(cp_store_consumers_deleting(st, "c", now + 10), 0);
	assert_int_equal(cp_store_set_status(st, "c", CP_DELETING, now + 10), 0);
	assert_int_equal(cp_store_run_due(st, now + 9), 0);
	assert_int_equal(cp_store_run_due(st, now + 10), 1); /* the stream took them */
	assert_int_equal(cp_store_get(st, "c", &s), -ENOENT);
	assert_int_equal(cp_store_consumer_get(st, "c", "k0", &got), -ENOENT);
	assert_int_equal(cp_store_consumer_remove(st, "c", "k0"), 0); /* absent: fine */
	cp_store_close(st);
}

static int collect_channel(void *arg, const struct cp_channel *ch)
{
	struct names *c = arg;

	assert_true(c->n < 16);
	snprintf(c->v[c->n++], sizeof(c->v[0]), "%.128s %d %d", ch->name, ch->status,
		 ch->freshness_s);
	return 0;
}

/* Channels: add (names unique), get by ARN or name, the mutable fields,
 * listing by name, the lifecycle (CREATING/UPDATING -> ACTIVE, DELETING ->
 * gone) through cp_store_run_due, and next_deadline seeing them. */
static void test_channels(void **state)
{
	(void)state;
	struct cp_store *st = open_store();
	struct cp_channel *k = calloc(1, sizeof(*k)), *got = calloc(1, sizeof(*got));
	struct names c = { 0 };
	uint32_t n = 9;
	const int64_t now = 1700000100000;

	assert_non_null(k);
	assert_non_null(got);
	assert_int_equal(cp_store_next_deadline(st), INT64_MAX);
	for (int i = 0; i < 2; i++) {
		memset(k, 0, sizeof(*k));
		snprintf(k->name, sizeof(k->name), "ch%d", 1 - i);
		snprintf(k->id, sizeof(k->id), "id-%d", i);
		snprintf(k->arn, sizeof(k->arn), "arn:x:channel/id-%d", i);
		snprintf(k->stream, sizeof(k->stream), "s%d", i);
		k->status = i == 0 ? CP_CREATING : CP_ACTIVE;
		k->deadline_ms = i == 0 ? now : 0;
		k->created_ms = now - 10;
		k->freshness_s = 300;
		snprintf(k->role, sizeof(k->role), "role");
		snprintf(k->record, sizeof(k->record), "{\"RecordFormatType\":\"JSON\"}");
		snprintf(k->storage, sizeof(k->storage), "{\"BucketARN\":\"b\"}");
		snprintf(k->dlq, sizeof(k->dlq), "{}");
		snprintf(k->logging, sizeof(k->logging), "{}");
		assert_int_equal(cp_store_channel_add(st, k), 0);
	}
	snprintf(k->arn, sizeof(k->arn), "arn:x:channel/other");
	assert_int_equal(cp_store_channel_add(st, k), -EEXIST); /* name ch0 taken */
	assert_int_equal(cp_store_channel_count(st, NULL, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(cp_store_channel_count(st, "s1", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(cp_store_channel_count(st, "none", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(cp_store_channel_get(st, "arn:x:channel/id-0", NULL, got), 0);
	assert_string_equal(got->name, "ch1");
	assert_string_equal(got->record, "{\"RecordFormatType\":\"JSON\"}");
	assert_string_equal(got->storage, "{\"BucketARN\":\"b\"}");
	assert_int_equal(got->created_ms, now - 10);
	assert_int_equal(cp_store_channel_get(st, NULL, "ch0", got), 0);
	assert_string_equal(got->arn, "arn:x:channel/id-1");
	assert_int_equal(cp_store_channel_get(st, "arn:none", NULL, got), -ENOENT);
	assert_int_equal(cp_store_channels(st, NULL, 10, collect_channel, &c), 2);
	assert_string_equal(c.v[0], "ch0 2 300");
	assert_string_equal(c.v[1], "ch1 1 300");
	c.n = 0;
	assert_int_equal(cp_store_channels(st, "ch0", 10, collect_channel, &c), 1);
	assert_string_equal(c.v[0], "ch1 1 300");

	/* the lifecycle: due at now */
	assert_int_equal(cp_store_next_deadline(st), now);
	assert_int_equal(cp_store_run_due(st, now - 1), 0);
	assert_int_equal(cp_store_run_due(st, now), 1);
	assert_int_equal(cp_store_channel_get(st, "arn:x:channel/id-0", NULL, got), 0);
	assert_int_equal(got->status, CP_ACTIVE);
	assert_int_equal(got->deadline_ms, 0);
	assert_int_equal(cp_store_next_deadline(st), INT64_MAX);

	/* UpdateChannel: freshness and logging, UPDATING until the deadline */
	got->status = CP_UPDATING;
	got->deadline_ms = now + 5;
	got->freshness_s = 600;
	snprintf(got->logging, sizeof(got->logging), "{\"x\":1}");
	snprintf(got->role, sizeof(got->role), "not written");
	assert_int_equal(cp_store_channel_update(st, got), 0);
	assert_int_equal(cp_store_run_due(st, now + 5), 1);
	assert_int_equal(cp_store_channel_get(st, "arn:x:channel/id-0", NULL, got), 0);
	assert_int_equal(got->status, CP_ACTIVE);
	assert_int_equal(got->freshness_s, 600);
	assert_string_equal(got->logging, "{\"x\":1}");
	assert_string_equal(got->role, "role"); /* fixed at creation */
	snprintf(got->arn, sizeof(got->arn), "arn:none");
	assert_int_equal(cp_store_channel_update(st, got), -ENOENT);

	/* DeleteChannel: DELETING, then gone */
	assert_int_equal(cp_store_channel_get(st, NULL, "ch0", got), 0);
	got->status = CP_DELETING;
	got->deadline_ms = now + 20;
	assert_int_equal(cp_store_channel_update(st, got), 0);
	assert_int_equal(cp_store_run_due(st, now + 20), 1);
	assert_int_equal(cp_store_channel_get(st, NULL, "ch0", got), -ENOENT);
	assert_int_equal(cp_store_channel_remove(st, "arn:x:channel/id-1"), 0); /* absent */
	assert_int_equal(cp_store_channel_count(st, NULL, &n), 0);
	assert_int_equal(n, 1);
	free(k);
	free(got);
	cp_store_close(st);
}

/* Channels past the sizes one page or one plain record holds: listing in
 * pages of 3 through 9 channels (names out of order when added), a record
 * of full-size JSON objects full of characters that JSON escapes, the
 * per-stream count after removals, and several channels due at once,
 * earliest first. */
static void test_channels_paging_and_size(void **state)
{
	(void)state;
	struct cp_store *st = open_store();
	struct cp_channel *k = calloc(1, sizeof(*k)), *got = calloc(1, sizeof(*got));
	struct names c = { 0 };
	static const char order[] = "518273640"; /* the order they are added in */
	const int64_t now = 1700000200000;
	char after[16] = "";
	uint32_t n = 0;
	int rc;

	assert_non_null(k);
	assert_non_null(got);
	for (size_t i = 0; i < sizeof(order) - 1; i++) {
		int d = order[i] - '0';

		memset(k, 0, sizeof(*k));
		snprintf(k->name, sizeof(k->name), "pc%d", d);
		snprintf(k->id, sizeof(k->id), "id-%d", d);
		snprintf(k->arn, sizeof(k->arn), "arn:x:channel/pc%d/id-%d", d, d);
		snprintf(k->stream, sizeof(k->stream), "s%d", d % 2);
		k->status = CP_CREATING;
		k->deadline_ms = now + (9 - d); /* pc8 first */
		k->freshness_s = d;
		snprintf(k->logging, sizeof(k->logging), "{}");
		if (d == 4) {
			/* every object as large as a channel may hold */
			char *objs[] = { k->record, k->storage, k->dlq, k->encryption, k->logging };
			for (size_t o = 0; o < SL_ARRAY_SIZE(objs); o++) {
				size_t len = CP_CHANNEL_OBJ_CAP - 1;
				for (size_t j = 0; j < len; j++)
					objs[o][j] = "\"\\\001a"[(j + o) % 4];
				objs[o][len] = '\0';
			}
			memset(k->role, 'r', CP_CHANNEL_ROLE_CAP - 1);
		}
		assert_int_equal(cp_store_channel_add(st, k), 0);
	}
	assert_int_equal(cp_store_channel_get(st, NULL, "pc4", got), 0);
	assert_int_equal(strlen(got->record), CP_CHANNEL_OBJ_CAP - 1);
	assert_int_equal(strlen(got->logging), CP_CHANNEL_OBJ_CAP - 1);
	assert_int_equal(strlen(got->role), CP_CHANNEL_ROLE_CAP - 1);
	assert_memory_equal(got->dlq, "\001a\"\\", 4);
	assert_memory_equal(got->encryption, "a\"\\\001", 4);

	/* pages of 3: pc0..pc2, pc3..pc5, pc6..pc8, then nothing */
	for (int page = 0; page < 4; page++) {
		c.n = 0;
		rc = cp_store_channels(st, after[0] ? after : NULL, 3, collect_channel, &c);
		assert_int_equal(rc, page < 3 ? 3 : 0);
		for (int i = 0; i < rc; i++) {
			char want[16];
			snprintf(want, sizeof(want), "pc%d", page * 3 + i);
			assert_memory_equal(c.v[i], want, strlen(want));
			assert_int_equal(c.v[i][strlen(want)], ' ');
		}
		if (rc > 0)
			snprintf(after, sizeof(after), "pc%d", page * 3 + 2);
	}
	c.n = 0;
	assert_int_equal(cp_store_channels(st, NULL, 16, collect_channel, &c), 9);
	assert_int_equal(cp_store_channel_count(st, "s0", &n), 0);
	assert_int_equal(n, 5);

	/* all due at now + 9: CREATING -> ACTIVE, every one in one run */
	assert_int_equal(cp_store_next_deadline(st), now + 1);
	assert_int_equal(cp_store_run_due(st, now + 3), 3); /* pc8, pc7, pc6 */
	assert_int_equal(cp_store_channel_get(st, NULL, "pc6", got), 0);
	assert_int_equal(got->status, CP_ACTIVE);
	assert_int_equal(cp_store_channel_get(st, NULL, "pc5", got), 0);
	assert_int_equal(got->status, CP_CREATING);
	assert_int_equal(cp_store_next_deadline(st), now + 4);
	assert_int_equal(cp_store_run_due(st, now + 9), 6);
	assert_int_equal(cp_store_next_deadline(st), INT64_MAX);

	/* removals take the channel out of its stream's count */
	assert_int_equal(cp_store_channel_remove(st, "arn:x:channel/pc4/id-4"), 0);
	assert_int_equal(cp_store_channel_remove(st, "arn:x:channel/pc0/id-0"), 0);
	assert_int_equal(cp_store_channel_count(st, "s0", &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(cp_store_channel_count(st, NULL, &n), 0);
	assert_int_equal(n, 7);
	assert_int_equal(cp_store_channel_get(st, "arn:x:channel/pc4/id-4", NULL, got), -ENOENT);
	/* the name is free again, under another ARN */
	snprintf(k->arn, sizeof(k->arn), "arn:x:channel/pc4/id-new");
	assert_int_equal(cp_store_channel_add(st, k), 0);
	assert_int_equal(cp_store_channel_get(st, "arn:x:channel/pc4/id-new", NULL, got), 0);
	free(k);
	free(got);
	cp_store_close(st);
}

/* Every backend's table has every call (a NULL one would crash at its
 * first use), and the check sees one left out. */
static void test_ops_complete(void **state)
{
	struct cp_store_ops ops = cp_store_sqlite_ops;

	(void)state;
	assert_null(cp_store_ops_missing(&cp_store_sqlite_ops));
	assert_null(cp_store_ops_missing(&cp_store_etcd_ops));
	ops.channel_due = NULL;
	assert_string_equal(cp_store_ops_missing(&ops), "channel_due");
	ops = cp_store_etcd_ops;
	ops.open = NULL;
	assert_string_equal(cp_store_ops_missing(&ops), "open");
}

/* --- the SQLite backend: the statement cache --- */

static int nested_list(void *arg, const struct cp_stream *s)
{
	struct cp_store *st = arg;
	struct names inner = { 0 };

	(void)s;
	/* the same listing again, from inside it */
	assert_int_equal(cp_store_list(st, NULL, 10, collect_stream, &inner), 2);
	assert_string_equal(inner.v[0], "n1");
	assert_string_equal(inner.v[1], "n2");
	return 0;
}

static void test_sqlite_statement_cache(void **state)
{
	(void)state;
	struct cp_store *st = open_store();
	struct cp_stream s;
	uint64_t p0;

	make_stream(&s, "n1", 1, CP_ACTIVE, 0);
	assert_int_equal(cp_store_create(st, &s, NULL, 0), 0);
	make_stream(&s, "n2", 1, CP_ACTIVE, 0);
	assert_int_equal(cp_store_create(st, &s, NULL, 0), 0);
	p0 = cp_store_sqlite_prepares(st);
	assert_true(p0 > 0);
	for (int i = 0; i < 1000; i++) {
		struct names c = { 0 };

		assert_int_equal(cp_store_get(st, i % 2 ? "n1" : "n2", &s), 0);
		assert_int_equal(cp_store_list(st, NULL, 10, collect_stream, &c), 2);
		assert_int_equal(cp_store_set_retention(st, "n1", 24 + (uint32_t)i % 10), 0);
	}
	/* reused, never prepared again */
	assert_true(cp_store_sqlite_prepares(st) == p0);
	/* a callback that re-enters the running statement gets its own copy:
	 * one prepare per nested call, and both listings are complete */
	assert_int_equal(cp_store_list(st, NULL, 10, nested_list, st), 2);
	assert_true(cp_store_sqlite_prepares(st) == p0 + 2);
	/* and the cached one is usable again afterwards */
	struct names c = { 0 };
	assert_int_equal(cp_store_list(st, "n1", 10, collect_stream, &c), 1);
	assert_string_equal(c.v[0], "n2");
	cp_store_close(st);
}

/* A cached statement left mid-step would hold a read snapshot: the WAL
 * could then never be checkpointed back to nothing by anyone. */
static void test_sqlite_no_snapshot_left(void **state)
{
	(void)state;
	struct cp_store *st = open_store();
	struct cp_stream s;
	struct names c = { .stop_after = 1 };
	char path[300];
	sqlite3 *db;
	int log_frames = -1, done = -1;
	struct stat sb;

	for (int i = 0; i < 3; i++) {
		char name[8];

		snprintf(name, sizeof(name), "w%d", i);
		make_stream(&s, name, 2, CP_ACTIVE, 0);
		assert_int_equal(cp_store_create(st, &s, NULL, 0), 0);
	}
	/* reads stopped early, a single-row read, a failed one */
	assert_int_equal(cp_store_list(st, NULL, 10, collect_stream, &c), 1);
	assert_int_equal(cp_store_get(st, "w1", &s), 0);
	assert_int_equal(cp_store_get(st, "none", &s), -ENOENT);

	snprintf(path, sizeof(path), "%s/meta.db", g_dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	/* a first read makes this connection see the WAL (else log_frames -1) */
	assert_int_equal(sqlite3_exec(db, "SELECT COUNT(*) FROM streams", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
						   &log_frames, &done),
			 SQLITE_OK);
	assert_int_equal(log_frames, 0); /* truncated: no reader held it */
	snprintf(path, sizeof(path), "%s/meta.db-wal", g_dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	sqlite3_close(db);
	/* and the store goes on */
	assert_int_equal(cp_store_get(st, "w2", &s), 0);
	cp_store_close(st);
}

/* --- resource policies and the distribution strategy --- */

static int collect_policy(void *arg, const char *stream, const char *arn, const char *policy,
			  size_t len)
{
	struct names *c = arg;

	assert_int_equal(strlen(policy), len);
	snprintf(c->v[c->n++], sizeof(c->v[0]), "%s|%s|%s", stream, arn, policy);
	return 0;
}

static void test_policies_and_distribution(void **state)
{
	(void)state;
	struct cp_store *st = open_store();
	struct cp_stream s;
	struct cp_consumer k;
	struct names c = { 0 };
	char out[64];

	make_stream(&s, "p", 1, CP_ACTIVE, 0);
	assert_int_equal(cp_store_create(st, &s, NULL, 0), 0);
	make_stream(&s, "q", 1, CP_ACTIVE, 0);
	assert_int_equal(cp_store_create(st, &s, NULL, 0), 0);
	memset(&k, 0, sizeof(k));
	snprintf(k.stream, sizeof(k.stream), "p");
	snprintf(k.name, sizeof(k.name), "k");
	snprintf(k.arn, sizeof(k.arn), "arn:p/consumer/k:1");
	k.status = CP_ACTIVE;
	assert_int_equal(cp_store_consumer_add(st, &k), 0);

	assert_int_equal(cp_store_policy_get(st, "arn:p", out, sizeof(out)), -ENOENT);
	assert_int_equal(cp_store_policy_put(st, "p", "arn:p", "{\"a\":1}"), 0);
	assert_int_equal(cp_store_policy_put(st, "p", "arn:p", "{\"a\":2}"), 0); /* replaces */
	assert_int_equal(cp_store_policy_put(st, "p", "arn:p/consumer/k:1", "{\"c\":1}"), 0);
	assert_int_equal(cp_store_policy_put(st, "q", "arn:q", "{\"q\":1}"), 0);
	assert_int_equal(cp_store_policy_get(st, "arn:p", out, sizeof(out)), 0);
	assert_string_equal(out, "{\"a\":2}");
	/* never cut: too small a buffer is an error */
	assert_int_equal(cp_store_policy_get(st, "arn:p", out, 7), -EIO);
	assert_int_equal(cp_store_policies(st, collect_policy, &c), 3);
	assert_string_equal(c.v[0], "p|arn:p|{\"a\":2}");
	assert_string_equal(c.v[1], "p|arn:p/consumer/k:1|{\"c\":1}");
	assert_string_equal(c.v[2], "q|arn:q|{\"q\":1}");

	/* distribution: USER_PARTITION_KEY (0) until set; a missing stream is -ENOENT */
	assert_int_equal(cp_store_get(st, "p", &s), 0);
	assert_int_equal(s.distribution, CP_DIST_USER_PARTITION_KEY);
	assert_int_equal(cp_store_set_int(st, "p", "distribution", CP_DIST_AUTO), 0);
	assert_int_equal(cp_store_set_int(st, "none", "distribution", CP_DIST_AUTO), -ENOENT);
	cp_store_close(st);
	st = open_store(); /* durable */
	assert_int_equal(cp_store_get(st, "p", &s), 0);
	assert_int_equal(s.distribution, CP_DIST_AUTO);
	assert_int_equal(cp_store_get(st, "q", &s), 0);
	assert_int_equal(s.distribution, CP_DIST_USER_PARTITION_KEY);

	/* a consumer's policy goes with the consumer, a stream's with the stream */
	assert_int_equal(cp_store_consumer_remove(st, "p", "k"), 0);
	assert_int_equal(cp_store_policy_get(st, "arn:p/consumer/k:1", out, sizeof(out)), -ENOENT);
	assert_int_equal(cp_store_policy_get(st, "arn:p", out, sizeof(out)), 0);
	assert_int_equal(cp_store_remove(st, "p"), 0);
	assert_int_equal(cp_store_policy_get(st, "arn:p", out, sizeof(out)), -ENOENT);
	make_stream(&s, "p", 1, CP_ACTIVE, 0); /* re-created: nothing left over */
	assert_int_equal(cp_store_create(st, &s, NULL, 0), 0);
	assert_int_equal(cp_store_get(st, "p", &s), 0);
	assert_int_equal(s.distribution, CP_DIST_USER_PARTITION_KEY);
	assert_int_equal(cp_store_policy_delete(st, "arn:q"), 0);
	assert_int_equal(cp_store_policy_delete(st, "arn:q"), 0); /* absent: fine */
	memset(&c, 0, sizeof(c));
	assert_int_equal(cp_store_policies(st, collect_policy, &c), 0);
	cp_store_close(st);
}

/* A meta.db written before resource policies and distribution existed
 * (schema 2 without their tables) opens, keeps its streams, and takes
 * both. */
static void test_sqlite_adds_policy_tables(void **state)
{
	(void)state;
	struct cp_store *st = open_store();
	struct cp_stream s;
	char path[300], out[32];
	sqlite3 *db;

	make_stream(&s, "old", 2, CP_ACTIVE, 0);
	assert_int_equal(cp_store_create(st, &s, NULL, 0), 0);
	cp_store_close(st);
	snprintf(path, sizeof(path), "%s/meta.db", g_dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE resource_policies; DROP TABLE "
				      "stream_distribution;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	st = open_store();
	assert_int_equal(cp_store_get(st, "old", &s), 0);
	assert_int_equal(s.shard_count, 2);
	assert_int_equal(s.distribution, CP_DIST_USER_PARTITION_KEY);
	assert_int_equal(cp_store_set_int(st, "old", "distribution", CP_DIST_AUTO), 0);
	assert_int_equal(cp_store_policy_put(st, "old", "arn:old", "{}"), 0);
	assert_int_equal(cp_store_policy_get(st, "arn:old", out, sizeof(out)), 0);
	assert_int_equal(cp_store_get(st, "old", &s), 0);
	assert_int_equal(s.distribution, CP_DIST_AUTO);
	cp_store_close(st);
}

/* --- listings past one page (the etcd backend reads 64 a request) --- */

struct ordered {
	uint32_t n;
	char last[CP_SHARD_ID_CAP > CP_NAME_MAX + 1 ? CP_SHARD_ID_CAP : CP_NAME_MAX + 1];
	bool in_order;
};

static int count_streams(void *arg, const struct cp_stream *s)
{
	struct ordered *o = arg;

	o->in_order &= o->n == 0 || strcmp(o->last, s->name) < 0;
	snprintf(o->last, sizeof(o->last), "%s", s->name);
	o->n++;
	return 0;
}

static int count_shards(void *arg, const struct cp_shard *sh)
{
	struct ordered *o = arg;

	o->in_order &= o->n == 0 || strcmp(o->last, sh->id) < 0;
	snprintf(o->last, sizeof(o->last), "%s", sh->id);
	o->n++;
	return 0;
}

static void test_paging(void **state)
{
	(void)state;
	struct cp_store *st = open_store();
	struct cp_stream s;
	struct ordered o = { .in_order = true };
	char name[16];
	uint32_t n_streams = 0;
	uint64_t n_shards = 0;

	for (int i = 0; i < 70; i++) {
		snprintf(name, sizeof(name), "p%03d", 69 - i);
		make_stream(&s, name, i == 0 ? 150 : 1, CP_ACTIVE, 0);
		assert_int_equal(cp_store_create(st, &s, NULL, 0), 0);
	}
	/* all of them, as the routing table asks (limit UINT32_MAX) */
	assert_int_equal(cp_store_list(st, NULL, UINT32_MAX, count_streams, &o), 70);
	assert_int_equal(o.n, 70);
	assert_true(o.in_order);
	assert_string_equal(o.last, "p069");
	memset(&o, 0, sizeof(o));
	o.in_order = true;
	assert_int_equal(cp_store_list(st, "p002", 66, count_streams, &o), 66);
	assert_true(o.in_order);
	assert_string_equal(o.last, "p068");
	assert_int_equal(cp_store_totals(st, &n_streams, &n_shards), 0);
	assert_int_equal(n_streams, 70);
	assert_true(n_shards == 150 + 69);
	/* 150 shards of one stream, by index, past a page; after + limit */
	memset(&o, 0, sizeof(o));
	o.in_order = true;
	assert_int_equal(cp_store_shards(st, "p069", NULL, UINT32_MAX, count_shards, &o), 150);
	assert_true(o.in_order);
	assert_string_equal(o.last, "shardId-000000000149");
	memset(&o, 0, sizeof(o));
	o.in_order = true;
	assert_int_equal(cp_store_shards(st, "p069", "shardId-000000000009", 100, count_shards,
					 &o), 100);
	assert_string_equal(o.last, "shardId-000000000109");
	/* an ExclusiveStartShardId of another shape: bytewise, as text */
	memset(&o, 0, sizeof(o));
	o.in_order = true;
	assert_int_equal(cp_store_shards(st, "p069", "shardId-0000000001", 100, count_shards, &o),
			 50); /* 100..149 sort above it, 0..99 below */
	assert_string_equal(o.last, "shardId-000000000149");
	memset(&o, 0, sizeof(o));
	assert_int_equal(cp_store_shards(st, "p069", "zzz", 100, count_shards, &o), 0);
	cp_store_close(st);
}

/* --- the etcd backend: what a remote store adds --- */

/* etcd killed -9 under the store: calls fail with -EIO within the
 * timeouts (never hang), the store object survives, and once etcd is back
 * (same data directory) every record is there and writes go through. */
static void test_etcd_outage(void **state)
{
	(void)state;
	struct cp_store *st = open_store();
	struct cp_stream s, got;
	uint64_t t0;

	make_stream(&s, "kept", 2, CP_ACTIVE, 0);
	assert_int_equal(cp_store_create(st, &s, NULL, 0), 0);
	etcd_kill(SIGKILL);
	t0 = sl_mono_ms();
	assert_int_equal(cp_store_get(st, "kept", &got), -EIO);
	make_stream(&s, "lost", 1, CP_ACTIVE, 0);
	assert_int_equal(cp_store_create(st, &s, NULL, 0), -EIO);
	assert_int_equal(cp_store_set_status(st, "kept", CP_UPDATING, 5), -EIO);
	/* error: look again soon (not "none": CREATING would stick after) */
	int64_t next = cp_store_next_deadline(st);
	assert_true(next > sl_wall_ms() && next <= sl_wall_ms() + 1000);
	/* connection refused is immediate; bound it by the timeouts anyway */
	assert_true(sl_mono_ms() - t0 < 4 * ETCD_TIMEOUT_MS_DEFAULT);
	assert_int_equal(etcd_start(), 0);
	assert_int_equal(cp_store_get(st, "kept", &got), 0);
	assert_int_equal(got.shard_count, 2);
	assert_int_equal(got.status, CP_ACTIVE);
	assert_int_equal(cp_store_get(st, "lost", &got), -ENOENT);
	make_stream(&s, "after", 1, CP_ACTIVE, 0);
	assert_int_equal(cp_store_create(st, &s, NULL, 0), 0);
	assert_int_equal(s.id, 2); /* the counter survived too */
	cp_store_close(st);
}

/* A second store on another cluster prefix sees none of the first's
 * records; the same prefix sees all of them (what a restart relies on). */
static void test_etcd_prefixes(void **state)
{
	(void)state;
	struct cp_store *st = open_store(), *other;
	struct cp_stream s, got;
	char spec[160];

	make_stream(&s, "mine", 1, CP_ACTIVE, 0);
	assert_int_equal(cp_store_create(st, &s, NULL, 0), 0);
	snprintf(spec, sizeof(spec), "http://127.0.0.1:%u other%ld", g_etcd_port, (long)getpid());
	other = cp_store_open(&cp_store_etcd_ops, spec);
	assert_non_null(other);
	assert_int_equal(cp_store_get(other, "mine", &got), -ENOENT);
	cp_store_close(other);
	/* a bad cluster name or endpoint is refused before any I/O */
	assert_null(cp_store_open(&cp_store_etcd_ops, "http://127.0.0.1:1 a/b"));
	assert_int_equal(errno, EINVAL);
	assert_null(cp_store_open(&cp_store_etcd_ops, "ftp://127.0.0.1:1 a"));
	assert_int_equal(errno, EINVAL);
	cp_store_close(st);
}

/* A create writes every shard in its one transaction, and etcd answers
 * once per operation: 5000 shards is a 2 MiB request and an answer of
 * 35000 JSON tokens, both read whole. */
static void test_etcd_big_create(void **state)
{
	(void)state;
	struct cp_store *st = open_store();
	struct cp_stream s, got;
	struct cp_shard sh;

	make_stream(&s, "big", 5000, CP_ACTIVE, 0);
	assert_int_equal(cp_store_create(st, &s, NULL, 0), 0);
	assert_int_equal(cp_store_get(st, "big", &got), 0);
	assert_int_equal(got.shard_count, 5000);
	assert_int_equal(cp_store_shard_get(st, "big", 4999, &sh), 0);
	assert_string_equal(sh.id, "shardId-000000004999");
	assert_string_equal(sh.hash_end, "340282366920938463463374607431768211455");
	assert_int_equal(cp_store_remove(st, "big"), 0);
	assert_int_equal(cp_store_shard_get(st, "big", 4999, &sh), -ENOENT);
	cp_store_close(st);
}

/* The record decoders the fuzzer reaches (fuzz_etcd, cp_store_etcd_decode)
 * accept the records the store writes and refuse what is not one: run
 * without an etcd, so they are checked on every machine. */
static void test_etcd_record_decoders(void **state)
{
	static const struct {
		enum es_rec kind;
		const char *good;
	} recs[] = {
		{ ES_REC_STREAM, "{\"id\":7,\"arn\":\"arn:aws:kinesis:us-east-1:000000000000:stream/s\","
				 "\"status\":1,\"ret\":24,\"open\":2,\"key_id\":\"\"}" },
		{ ES_REC_SHARD, "{\"i\":1,\"id\":\"shardId-000000000001\",\"hs\":\"0\",\"c\":1}" },
		{ ES_REC_CONSUMER, "{\"s\":\"st\",\"n\":\"c1\",\"st\":1,\"c\":1,\"d\":0}" },
		{ ES_REC_CHANNEL, "{\"n\":\"ch\",\"id\":\"0b1c\",\"s\":\"st\",\"f\":60}" },
		{ ES_REC_POLICY, "st\n{\"Version\":\"2012-10-17\"}" },
	};
	char long_name[CP_NAME_MAX + 8];

	(void)state;
	for (size_t i = 0; i < SL_ARRAY_SIZE(recs); i++) {
		assert_int_equal(cp_store_etcd_decode(recs[i].kind, recs[i].good,
						      strlen(recs[i].good)), 0);
		/* cut short: not JSON any more, or (policy) no newline */
		assert_int_equal(cp_store_etcd_decode(recs[i].kind, recs[i].good, 2), -EIO);
	}
	/* a member of the wrong type; a string longer than its field */
	assert_int_equal(cp_store_etcd_decode(ES_REC_STREAM, "{\"id\":\"7\"}", 10), -EIO);
	static const char long_id[] = "{\"id\":\"shardId-000000000000000000000000000000000000"
				      "00000000000000000000000000000000000000000000\"}";
	assert_int_equal(cp_store_etcd_decode(ES_REC_SHARD, long_id, strlen(long_id)), -EIO);
	/* a policy record's stream name longer than any name */
	memset(long_name, 'a', sizeof(long_name));
	long_name[sizeof(long_name) - 2] = '\n';
	assert_int_equal(cp_store_etcd_decode(ES_REC_POLICY, long_name, sizeof(long_name)), -EIO);
	assert_int_equal(cp_store_etcd_decode(ES_REC_N, "{}", 2), -EINVAL);
}

static int run_etcd(const struct CMUnitTest *contract, size_t n_contract)
{
	const struct CMUnitTest etcd[] = {
		cmocka_unit_test_setup_teardown(test_etcd_prefixes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_etcd_outage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_etcd_big_create, setup, teardown),
	};
	char cmd[300];
	int rc;

	g_etcd_bin = getenv("SL_ETCD") ? getenv("SL_ETCD") : "/usr/bin/etcd";
	if (access(g_etcd_bin, X_OK) != 0) {
		printf("SKIP: %s not found (Debian package etcd-server): the etcd backend's "
		       "contract tests need a real etcd\n", g_etcd_bin);
		return 77;
	}
	/* $TMPDIR lets etcd_orphan_test.sh find this run's etcd by its directory */
	const char *tmp = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
	if ((size_t)snprintf(g_etcd_dir, sizeof(g_etcd_dir), "%s/cp_store_etcd_XXXXXX", tmp) >=
	    sizeof(g_etcd_dir)) {
		printf("TMPDIR %s is too long\n", tmp);
		return 1;
	}
	if (mkdtemp(g_etcd_dir) == NULL || etcd_start() != 0) {
		printf("etcd did not start\n");
		etcd_kill(SIGKILL);
		return 1;
	}
	g_ops = &cp_store_etcd_ops;
	rc = _cmocka_run_group_tests("contract: etcd", contract, n_contract, NULL, NULL);
	rc += cmocka_run_group_tests_name("etcd backend", etcd, NULL, NULL);
	etcd_kill(SIGTERM);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g_etcd_dir);
	if (system(cmd) != 0)
		rc++;
	return rc;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest contract[] = {
		cmocka_unit_test_setup_teardown(test_streams, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shards_and_reshard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_consumers_and_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policies_and_distribution, setup, teardown),
		cmocka_unit_test_setup_teardown(test_channels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_channels_paging_and_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
	};
	const struct CMUnitTest sqlite[] = {
		cmocka_unit_test(test_ops_complete),
		cmocka_unit_test_setup_teardown(test_sqlite_statement_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_no_snapshot_left, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_adds_policy_tables, setup, teardown),
	};
	const struct CMUnitTest records[] = {
		cmocka_unit_test(test_etcd_record_decoders),
	};
	int rc;

	if (argc > 1 && strcmp(argv[1], "etcd") == 0)
		return run_etcd(contract, SL_ARRAY_SIZE(contract));
	g_ops = &cp_store_sqlite_ops;
	rc = cmocka_run_group_tests_name("contract: sqlite", contract, NULL, NULL);
	rc += cmocka_run_group_tests_name("sqlite backend", sqlite, NULL, NULL);
	return rc + cmocka_run_group_tests_name("etcd records (no etcd)", records, NULL, NULL);
}

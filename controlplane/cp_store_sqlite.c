/* SPDX-License-Identifier: Apache-2.0 */
/* The SQLite metadata store (cp_store.h's first backend): DIR/meta.db, 0600,
 * WAL, synchronous=FULL, so a committed change is on stable storage before
 * the caller answers. Only the control thread touches it.
 *
 * Every statement is in one table (sq_sql) and prepared once, at open: a
 * typo fails the start, not a request, and no call pays for parsing SQL.
 * One helper (sq_run) binds, steps, hands rows to a decoder and resets; one
 * (sq_txn) wraps a change in BEGIN IMMEDIATE / COMMIT, ROLLBACK on error. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/bug.h"
#include "common/log.h"
#include "controlplane/cp_internal.h"

#define CP_SCHEMA_VERSION "2"

static const char cp_schema[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"INSERT OR IGNORE INTO meta VALUES('schema_version', '" CP_SCHEMA_VERSION "');"
	/* Stream ids are never reused: storage and (later) data keys are keyed
	 * by id, so a re-created stream can never see a deleted one's data. */
	"INSERT OR IGNORE INTO meta VALUES('next_stream_id', '1');"
	"CREATE TABLE IF NOT EXISTS streams("
	" name TEXT PRIMARY KEY, arn TEXT NOT NULL, status INTEGER NOT NULL,"
	" mode INTEGER NOT NULL, retention_hours INTEGER NOT NULL,"
	" created_ms INTEGER NOT NULL, deadline_ms INTEGER NOT NULL DEFAULT 0,"
	" shard_count INTEGER NOT NULL, max_record_kib INTEGER NOT NULL,"
	" encryption INTEGER NOT NULL DEFAULT 0, id INTEGER NOT NULL UNIQUE,"
	" warm_mibps INTEGER NOT NULL DEFAULT 0, metrics INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS streams_deadline ON streams(deadline_ms)"
	" WHERE deadline_ms > 0;"
	/* Hash keys are decimal strings of up to 39 digits; sequence numbers
	 * decimal strings. shard_id sorts like idx (zero-padded). */
	"CREATE TABLE IF NOT EXISTS shards("
	" stream TEXT NOT NULL, idx INTEGER NOT NULL, shard_id TEXT NOT NULL,"
	" hash_start TEXT NOT NULL, hash_end TEXT NOT NULL, start_seq TEXT NOT NULL,"
	" end_seq TEXT, parent TEXT, adjacent_parent TEXT,"
	" created_ms INTEGER NOT NULL DEFAULT 0, closed_ms INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY(stream, idx));"
	"CREATE UNIQUE INDEX IF NOT EXISTS shards_id ON shards(stream, shard_id);"
	"CREATE TABLE IF NOT EXISTS tags("
	" stream TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
	" PRIMARY KEY(stream, key));"
	/* UpdateShardCount calls, for the rolling 24-hour limit */
	"CREATE TABLE IF NOT EXISTS scalings(stream TEXT NOT NULL, at_ms INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS scalings_stream ON scalings(stream, at_ms);"
	/* Added after schema 2 without a version change: CREATE IF NOT EXISTS
	 * is the whole migration (an older binary ignores the tables). */
	/* Enhanced fan-out consumers; status as enum cp_status. */
	"CREATE TABLE IF NOT EXISTS consumers("
	" stream TEXT NOT NULL, name TEXT NOT NULL, arn TEXT NOT NULL UNIQUE,"
	" status INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
	" deadline_ms INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(stream, name));"
	"CREATE INDEX IF NOT EXISTS consumers_deadline ON consumers(deadline_ms)"
	" WHERE deadline_ms > 0;"
	/* StartStreamEncryption's KeyId as the caller gave it; no row: NONE */
	"CREATE TABLE IF NOT EXISTS stream_kms(stream TEXT PRIMARY KEY, key_id TEXT NOT NULL);"
	/* Resource policies (PutResourcePolicy) by the ARN they are attached to
	 * (a stream's or a consumer's), with the stream they go away with;
	 * the text exactly as the client sent it (GetResourcePolicy). */
	"CREATE TABLE IF NOT EXISTS resource_policies(arn TEXT PRIMARY KEY,"
	" stream TEXT NOT NULL, policy TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS resource_policies_stream ON resource_policies(stream);"
	/* UpdateStreamRecordDistributionStrategy: enum cp_distribution; no
	 * row: USER_PARTITION_KEY (every stream before it existed) */
	"CREATE TABLE IF NOT EXISTS stream_distribution(stream TEXT PRIMARY KEY,"
	" strategy INTEGER NOT NULL);"
	/* Channels (CreateChannel): status as enum cp_status; the fixed parts
	 * as the JSON objects DescribeChannel shows (struct cp_channel). */
	"CREATE TABLE IF NOT EXISTS channels(arn TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" id TEXT NOT NULL, stream TEXT NOT NULL, status INTEGER NOT NULL,"
	" created_ms INTEGER NOT NULL, deadline_ms INTEGER NOT NULL DEFAULT 0,"
	" freshness_s INTEGER NOT NULL, role TEXT NOT NULL, record TEXT NOT NULL,"
	" storage TEXT NOT NULL, dlq TEXT NOT NULL, encryption TEXT NOT NULL,"
	" logging TEXT NOT NULL);";

/* Version 1 -> 2: resharding (shard creation/closing times), warm
 * throughput and enhanced monitoring settings. */
static const char cp_migrate_1_2[] =
	"BEGIN IMMEDIATE;"
	"ALTER TABLE streams ADD COLUMN warm_mibps INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE streams ADD COLUMN metrics INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE shards ADD COLUMN created_ms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE shards ADD COLUMN closed_ms INTEGER NOT NULL DEFAULT 0;"
	"UPDATE shards SET created_ms = (SELECT created_ms FROM streams"
	" WHERE streams.name = shards.stream);"
	"UPDATE meta SET value='2' WHERE key='schema_version';"
	"COMMIT;";


#define CP_STREAM_COLS_W                                                                  \
	"name, arn, status, mode, retention_hours, created_ms, deadline_ms, shard_count, " \
	"max_record_kib, encryption, id, warm_mibps, metrics"
/* shard_total: indexes are dense 0..n-1, so the count is the next index */
#define CP_STREAM_COLS                                                              \
	CP_STREAM_COLS_W ", (SELECT COUNT(*) FROM shards WHERE shards.stream = streams.name)" \
	", (SELECT COUNT(*) FROM consumers WHERE consumers.stream = streams.name)"   \
	", (SELECT key_id FROM stream_kms WHERE stream_kms.stream = streams.name)"   \
	", (SELECT strategy FROM stream_distribution WHERE stream_distribution.stream = " \
	"streams.name)"
#define CP_SHARD_COLS                                                                   \
	"idx, shard_id, hash_start, hash_end, start_seq, end_seq, parent, adjacent_parent, " \
	"created_ms, closed_ms"
#define CP_CONSUMER_COLS "stream, name, arn, status, created_ms, deadline_ms"
#define CP_CHANNEL_COLS                                                                 \
	"arn, name, id, stream, status, created_ms, deadline_ms, freshness_s, role, record, " \
	"storage, dlq, encryption, logging"

/* The statements, by what they do: indexes into sq_sql and the cache,
 * never stored anywhere. */
enum sq_id {
	SQ_BEGIN,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_SCHEMA_VERSION,
	SQ_NEXT_ID_GET,
	SQ_NEXT_ID_BUMP,
	SQ_STREAM_GET,
	SQ_STREAM_INSERT,
	SQ_STREAM_STATUS,
	SQ_STREAM_RETENTION,
	SQ_STREAM_MODE,
	SQ_STREAM_MAX_RECORD,
	SQ_STREAM_WARM,
	SQ_STREAM_METRICS,
	SQ_STREAM_RESHARD,
	SQ_STREAM_DELETE,
	SQ_STREAM_TOTALS,
	SQ_STREAM_ON_DEMAND,
	SQ_STREAM_LIST,
	SQ_STREAMS_DUE,
	SQ_NEXT_DEADLINE,
	SQ_SHARD_INSERT,
	SQ_SHARD_INSERT_CHILD,
	SQ_SHARD_CLOSE,
	SQ_SHARD_LIST,
	SQ_SHARD_GET,
	SQ_SHARD_LAST_CREATED,
	SQ_SHARD_END_SEQ,
	SQ_SHARD_UNSEALED,
	SQ_SHARDS_DELETE,
	SQ_SCALING_COUNT,
	SQ_SCALING_TRIM,
	SQ_SCALING_ADD,
	SQ_SCALINGS_DELETE,
	SQ_TAG_PUT,
	SQ_TAG_LIST,
	SQ_TAG_DEL,
	SQ_TAGS_DELETE,
	SQ_KEY_GET,
	SQ_KEY_SET,
	SQ_CONSUMER_ADD,
	SQ_CONSUMER_BY_NAME,
	SQ_CONSUMER_BY_ARN,
	SQ_CONSUMER_STATUS,
	SQ_CONSUMER_REMOVE,
	SQ_CONSUMER_ALL_DELETING,
	SQ_CONSUMER_COUNT,
	SQ_CONSUMER_COUNT_STATUS,
	SQ_CONSUMER_LIST,
	SQ_CONSUMER_ROUTE_LIST,
	SQ_CONSUMERS_DUE,
	SQ_CONSUMERS_DELETE,
	SQ_KMS_PUT,
	SQ_KMS_DELETE,
	SQ_DIST_PUT,
	SQ_DIST_DELETE,
	SQ_POLICY_PUT,
	SQ_POLICY_GET,
	SQ_POLICY_DELETE,
	SQ_POLICIES_DELETE,
	SQ_POLICY_DELETE_CONSUMER,
	SQ_POLICY_LIST,
	SQ_CHANNEL_ADD,
	SQ_CHANNEL_BY_ARN,
	SQ_CHANNEL_BY_NAME,
	SQ_CHANNEL_UPDATE,
	SQ_CHANNEL_REMOVE,
	SQ_CHANNEL_COUNT,
	SQ_CHANNEL_COUNT_STREAM,
	SQ_CHANNEL_LIST,
	SQ_CHANNELS_DUE,
	SQ__COUNT
};

static const char *const sq_sql[SQ__COUNT] = {
	[SQ_BEGIN] = "BEGIN IMMEDIATE",
	[SQ_COMMIT] = "COMMIT",
	[SQ_ROLLBACK] = "ROLLBACK",
	[SQ_SCHEMA_VERSION] = "SELECT value FROM meta WHERE key='schema_version'",
	/* Takes the next stream id inside the caller's transaction. */
	[SQ_NEXT_ID_GET] = "SELECT CAST(value AS INTEGER) FROM meta WHERE key='next_stream_id'",
	[SQ_NEXT_ID_BUMP] = "UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
			    "WHERE key='next_stream_id'",
	[SQ_STREAM_GET] = "SELECT " CP_STREAM_COLS " FROM streams WHERE name=?",
	[SQ_STREAM_INSERT] = "INSERT INTO streams(" CP_STREAM_COLS_W ") "
			     "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[SQ_STREAM_STATUS] = "UPDATE streams SET status=?, deadline_ms=? WHERE name=?",
	[SQ_STREAM_RETENTION] = "UPDATE streams SET retention_hours=? WHERE name=?",
	[SQ_STREAM_MODE] = "UPDATE streams SET mode=? WHERE name=?",
	[SQ_STREAM_MAX_RECORD] = "UPDATE streams SET max_record_kib=? WHERE name=?",
	[SQ_STREAM_WARM] = "UPDATE streams SET warm_mibps=? WHERE name=?",
	[SQ_STREAM_METRICS] = "UPDATE streams SET metrics=? WHERE name=?",
	[SQ_STREAM_RESHARD] = "UPDATE streams SET shard_count = shard_count + ?, status=?, "
			      "deadline_ms=? WHERE name=?",
	[SQ_STREAM_DELETE] = "DELETE FROM streams WHERE name=?",
	[SQ_STREAM_TOTALS] = "SELECT COUNT(*), TOTAL(shard_count) FROM streams",
	[SQ_STREAM_ON_DEMAND] = "SELECT COUNT(*) FROM streams WHERE mode=2",
	[SQ_STREAM_LIST] = "SELECT " CP_STREAM_COLS " FROM streams WHERE name > ? "
			   "ORDER BY name LIMIT ?",
	[SQ_STREAMS_DUE] = "SELECT name, status FROM streams WHERE deadline_ms > 0 "
			   "AND deadline_ms <= ? ORDER BY deadline_ms LIMIT ?",
	[SQ_NEXT_DEADLINE] = "SELECT MIN(d) FROM (SELECT MIN(deadline_ms) AS d FROM "
			     "streams WHERE deadline_ms > 0 UNION ALL SELECT "
			     "MIN(deadline_ms) FROM consumers WHERE deadline_ms > 0 UNION ALL "
			     "SELECT MIN(deadline_ms) FROM channels WHERE deadline_ms > 0)",
	[SQ_SHARD_INSERT] = "INSERT INTO shards(stream, idx, shard_id, hash_start, hash_end, "
			    "start_seq, created_ms) VALUES(?,?,?,?,?,?,?)",
	[SQ_SHARD_INSERT_CHILD] = "INSERT INTO shards(stream, idx, shard_id, hash_start, "
				  "hash_end, start_seq, parent, adjacent_parent, created_ms) "
				  "VALUES(?,?,?,?,?,?,?,?,?)",
	[SQ_SHARD_CLOSE] = "UPDATE shards SET closed_ms=? WHERE stream=? AND idx=? "
			   "AND closed_ms=0",
	[SQ_SHARD_LIST] = "SELECT " CP_SHARD_COLS " FROM shards WHERE stream=? AND "
			  "shard_id > ? ORDER BY idx LIMIT ?",
	[SQ_SHARD_GET] = "SELECT " CP_SHARD_COLS " FROM shards WHERE stream=? AND idx=?",
	[SQ_SHARD_LAST_CREATED] = "SELECT COALESCE(MAX(created_ms), 0) FROM shards "
				  "WHERE stream=?",
	[SQ_SHARD_END_SEQ] = "UPDATE shards SET end_seq=? WHERE stream=? AND idx=?",
	[SQ_SHARD_UNSEALED] = "SELECT s.name, s.id, h.idx FROM shards h JOIN streams s "
			      "ON s.name = h.stream WHERE h.closed_ms > 0 AND "
			      "h.end_seq IS NULL ORDER BY s.name, h.idx LIMIT ?",
	[SQ_SHARDS_DELETE] = "DELETE FROM shards WHERE stream=?",
	[SQ_SCALING_COUNT] = "SELECT COUNT(*) FROM scalings WHERE stream=? AND at_ms>=?",
	[SQ_SCALING_TRIM] = "DELETE FROM scalings WHERE stream=? AND at_ms<?",
	[SQ_SCALING_ADD] = "INSERT INTO scalings VALUES(?,?)",
	[SQ_SCALINGS_DELETE] = "DELETE FROM scalings WHERE stream=?",
	[SQ_TAG_PUT] = "INSERT OR REPLACE INTO tags VALUES(?,?,?)",
	[SQ_TAG_LIST] = "SELECT key, value FROM tags WHERE stream=? AND key > ? "
			"ORDER BY key LIMIT ?",
	[SQ_TAG_DEL] = "DELETE FROM tags WHERE stream=? AND key=?",
	[SQ_TAGS_DELETE] = "DELETE FROM tags WHERE stream=?",
	[SQ_KEY_GET] = "SELECT value FROM meta WHERE key=?",
	[SQ_KEY_SET] = "INSERT OR REPLACE INTO meta VALUES(?,?)",
	[SQ_CONSUMER_ADD] = "INSERT INTO consumers(" CP_CONSUMER_COLS ") VALUES(?,?,?,?,?,?)",
	[SQ_CONSUMER_BY_NAME] = "SELECT " CP_CONSUMER_COLS " FROM consumers "
				"WHERE stream=? AND name=?",
	[SQ_CONSUMER_BY_ARN] = "SELECT " CP_CONSUMER_COLS " FROM consumers WHERE arn=?",
	[SQ_CONSUMER_STATUS] = "UPDATE consumers SET status=?, deadline_ms=? "
			       "WHERE stream=? AND name=?",
	[SQ_CONSUMER_REMOVE] = "DELETE FROM consumers WHERE stream=? AND name=?",
	[SQ_CONSUMER_ALL_DELETING] = "UPDATE consumers SET status=?, deadline_ms=? "
				     "WHERE stream=?",
	[SQ_CONSUMER_COUNT] = "SELECT COUNT(*) FROM consumers WHERE stream=?",
	[SQ_CONSUMER_COUNT_STATUS] = "SELECT COUNT(*) FROM consumers WHERE stream=? "
				     "AND status=?",
	[SQ_CONSUMER_LIST] = "SELECT " CP_CONSUMER_COLS " FROM consumers WHERE stream=? "
			     "AND name > ? ORDER BY name LIMIT ?",
	/* ORDER BY arn: binary collation, the strcmp order readers search in */
	[SQ_CONSUMER_ROUTE_LIST] = "SELECT c.stream, c.name, c.arn, c.status, c.created_ms, "
				   "c.deadline_ms, s.id FROM consumers c JOIN streams s ON "
				   "s.name = c.stream WHERE c.status=? AND s.status IN (?,?) "
				   "ORDER BY c.arn",
	[SQ_CONSUMERS_DUE] = "SELECT stream, name, status FROM consumers WHERE "
			     "deadline_ms > 0 AND deadline_ms <= ? ORDER BY deadline_ms "
			     "LIMIT ?",
	[SQ_CONSUMERS_DELETE] = "DELETE FROM consumers WHERE stream=?",
	[SQ_KMS_PUT] = "INSERT INTO stream_kms VALUES(?,?)",
	[SQ_KMS_DELETE] = "DELETE FROM stream_kms WHERE stream=?",
	[SQ_DIST_PUT] = "INSERT OR REPLACE INTO stream_distribution VALUES(?,?)",
	[SQ_DIST_DELETE] = "DELETE FROM stream_distribution WHERE stream=?",
	[SQ_POLICY_PUT] = "INSERT OR REPLACE INTO resource_policies VALUES(?,?,?)",
	[SQ_POLICY_GET] = "SELECT policy FROM resource_policies WHERE arn=?",
	[SQ_POLICY_DELETE] = "DELETE FROM resource_policies WHERE arn=?",
	[SQ_POLICIES_DELETE] = "DELETE FROM resource_policies WHERE stream=?",
	[SQ_POLICY_DELETE_CONSUMER] = "DELETE FROM resource_policies WHERE arn IN (SELECT arn "
				      "FROM consumers WHERE stream=? AND name=?)",
	[SQ_POLICY_LIST] = "SELECT stream, arn, policy FROM resource_policies ORDER BY arn",
	[SQ_CHANNEL_ADD] = "INSERT INTO channels(" CP_CHANNEL_COLS ") "
			   "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[SQ_CHANNEL_BY_ARN] = "SELECT " CP_CHANNEL_COLS " FROM channels WHERE arn=?",
	[SQ_CHANNEL_BY_NAME] = "SELECT " CP_CHANNEL_COLS " FROM channels WHERE name=?",
	[SQ_CHANNEL_UPDATE] = "UPDATE channels SET status=?, deadline_ms=?, freshness_s=?, "
			      "logging=? WHERE arn=?",
	[SQ_CHANNEL_REMOVE] = "DELETE FROM channels WHERE arn=?",
	[SQ_CHANNEL_COUNT] = "SELECT COUNT(*) FROM channels",
	[SQ_CHANNEL_COUNT_STREAM] = "SELECT COUNT(*) FROM channels WHERE stream=?",
	[SQ_CHANNEL_LIST] = "SELECT " CP_CHANNEL_COLS " FROM channels WHERE name > ? "
			    "ORDER BY name LIMIT ?",
	[SQ_CHANNELS_DUE] = "SELECT arn, status FROM channels WHERE deadline_ms > 0 AND "
			    "deadline_ms <= ? ORDER BY deadline_ms LIMIT ?",
};

struct sq_store {
	struct cp_store base; /* first: cp_store * <-> sq_store * */
	sqlite3 *db;
	sqlite3_stmt *stmt[SQ__COUNT]; /* the cache, prepared at open */
	bool busy[SQ__COUNT];	       /* stmt[i] is being stepped (see sq_run) */
	uint64_t prepares;	       /* sqlite3_prepare_v2 calls since open */
};

static struct sq_store *sq_of(struct cp_store *st)
{
	BUG_ON(st->ops != &cp_store_sqlite_ops);
	return (struct sq_store *)st;
}

/* One bound parameter, typed, so a single helper binds them all. Text is
 * bound SQLITE_STATIC: it must outlive the call, and sq_run clears the
 * bindings before returning so no statement keeps a caller's pointer. */
struct sq_arg {
	enum { SQ_INT, SQ_TEXT, SQ_TEXT_OR_NULL } kind;
	int64_t i;
	const char *s;
};

#define SQ_I(v) ((struct sq_arg){ .kind = SQ_INT, .i = (int64_t)(v) })
#define SQ_T(v) ((struct sq_arg){ .kind = SQ_TEXT, .s = (v) })
/* "" is stored as NULL (lineage columns: no parent) */
#define SQ_TN(v) ((struct sq_arg){ .kind = SQ_TEXT_OR_NULL, .s = (v) })

/* A row decoder: reads the current row of q into ctx; 0 asks for the next
 * row, anything else stops. */
typedef int (*sq_row_fn)(sqlite3_stmt *q, void *ctx);

static int sq_bind(sqlite3_stmt *q, const struct sq_arg *args, uint32_t n)
{
	BUG_ON((int)n != sqlite3_bind_parameter_count(q)); /* the table and the call agree */
	for (uint32_t i = 0; i < n; i++) {
		int col = (int)i + 1, rc;
		const struct sq_arg *a = &args[i];

		if (a->kind == SQ_INT)
			rc = sqlite3_bind_int64(q, col, a->i);
		else if (a->kind == SQ_TEXT_OR_NULL && a->s[0] == '\0')
			rc = sqlite3_bind_null(q, col);
		else
			rc = sqlite3_bind_text(q, col, a->s, -1, SQLITE_STATIC);
		if (rc != SQLITE_OK)
			return -EIO;
	}
	return 0;
}

/* The one prepare/bind/step helper. Runs statement id with args; each row
 * goes to row(q, ctx) (NULL: rows are not read) until it asks to stop.
 * Returns the rows handed to row (the stopping one included), -EEXIST on a
 * constraint violation (a unique name taken), -EIO on any other failure.
 * The statement is reset and its bindings cleared before returning: no read
 * snapshot outlives the call, nothing keeps a caller's pointer. A decoder
 * that re-enters the store with the same statement (a listing callback
 * that lists again) gets a private copy, prepared and finalized here. */
static int sq_run(struct sq_store *s, enum sq_id id, const struct sq_arg *args, uint32_t n_args,
		  sq_row_fn row, void *ctx)
{
	sqlite3_stmt *q = s->stmt[id], *own = NULL;
	int rc, n = 0;

	BUG_ON(id >= SQ__COUNT);
	if (s->busy[id]) {
		s->prepares++;
		if (sqlite3_prepare_v2(s->db, sq_sql[id], -1, &own, NULL) != SQLITE_OK)
			return -EIO;
		q = own;
	} else {
		s->busy[id] = true;
	}
	if (sq_bind(q, args, n_args) != 0)
		rc = SQLITE_ERROR;
	else
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			n++;
			if (row == NULL || row(q, ctx))
				break;
		}
	if (own) {
		sqlite3_finalize(own);
	} else {
		/* reset repeats the step's error code: ours is already in rc */
		(void)sqlite3_reset(q);
		(void)sqlite3_clear_bindings(q);
		s->busy[id] = false;
	}
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return n;
	return rc == SQLITE_CONSTRAINT ? -EEXIST : -EIO;
}

#define SQ_ARGS(...) (const struct sq_arg[]){ __VA_ARGS__ }, \
	(uint32_t)(sizeof((const struct sq_arg[]){ __VA_ARGS__ }) / sizeof(struct sq_arg))
/* SQ_RUN(s, id, row, ctx, args...): sq_run with its arguments listed inline */
#define SQ_RUN(s, id, row, ctx, ...) sq_run(s, id, SQ_ARGS(__VA_ARGS__), row, ctx)

/* A write that must touch a row: -ENOENT when it touched none. */
static int sq_update(struct sq_store *s, int rc)
{
	if (rc < 0)
		return rc;
	return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

/* Exactly one row expected: 0, -ENOENT when none. */
static int sq_one(int rc)
{
	return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

/* Runs body(s, ctx) in one durable transaction: committed when it returns
 * 0, rolled back otherwise. Returns body's result or -EIO. */
static int sq_txn(struct sq_store *s, int (*body)(struct sq_store *s, void *ctx), void *ctx)
{
	int rc;

	if (SQ_RUN(s, SQ_BEGIN, NULL, NULL) < 0)
		return -EIO;
	rc = body(s, ctx);
	if (rc == 0 && SQ_RUN(s, SQ_COMMIT, NULL, NULL) < 0)
		rc = -EIO;
	if (rc && SQ_RUN(s, SQ_ROLLBACK, NULL, NULL) < 0)
		SL_ERR("meta.db: rollback failed: %s", sqlite3_errmsg(s->db));
	return rc;
}

/* --- row decoders --- */

static void sq_col(sqlite3_stmt *q, int col, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(q, col);

	snprintf(out, cap, "%s", t ? (const char *)t : "");
}

/* One text column into a caller's buffer (truncated to cap). */
struct sq_out {
	char *out;
	size_t cap;
};

static int sq_row_value(sqlite3_stmt *q, void *ctx)
{
	const struct sq_out *o = ctx;

	sq_col(q, 0, o->out, o->cap);
	return 1;
}

static int sq_row_i64(sqlite3_stmt *q, void *ctx)
{
	*(int64_t *)ctx = sqlite3_column_int64(q, 0);
	return 1;
}

static void sq_stream_of(sqlite3_stmt *q, struct cp_stream *s)
{
	memset(s, 0, sizeof(*s));
	sq_col(q, 0, s->name, sizeof(s->name));
	sq_col(q, 1, s->arn, sizeof(s->arn));
	s->status = (uint8_t)sqlite3_column_int(q, 2);
	s->mode = (uint8_t)sqlite3_column_int(q, 3);
	s->retention_hours = (uint32_t)sqlite3_column_int(q, 4);
	s->created_ms = sqlite3_column_int64(q, 5);
	s->deadline_ms = sqlite3_column_int64(q, 6);
	s->shard_count = (uint32_t)sqlite3_column_int(q, 7);
	s->max_record_kib = (uint32_t)sqlite3_column_int(q, 8);
	s->id = (uint64_t)sqlite3_column_int64(q, 10);
	s->warm_mibps = (uint32_t)sqlite3_column_int64(q, 11);
	s->metrics = (uint8_t)sqlite3_column_int(q, 12);
	s->shard_total = (uint32_t)sqlite3_column_int64(q, 13);
	s->n_consumers = (uint32_t)sqlite3_column_int64(q, 14);
	/* the column `encryption` is legacy: a stream_kms row is the truth */
	s->encryption = sqlite3_column_type(q, 15) != SQLITE_NULL;
	sq_col(q, 15, s->key_id, sizeof(s->key_id));
	s->distribution = (uint8_t)sqlite3_column_int(q, 16); /* NULL reads 0: USER_PARTITION_KEY */
}

static void sq_shard_of(sqlite3_stmt *q, struct cp_shard *sh)
{
	sh->index = (uint32_t)sqlite3_column_int(q, 0);
	sq_col(q, 1, sh->id, sizeof(sh->id));
	sq_col(q, 2, sh->hash_start, sizeof(sh->hash_start));
	sq_col(q, 3, sh->hash_end, sizeof(sh->hash_end));
	sq_col(q, 4, sh->start_seq, sizeof(sh->start_seq));
	sq_col(q, 5, sh->end_seq, sizeof(sh->end_seq));
	sq_col(q, 6, sh->parent, sizeof(sh->parent));
	sq_col(q, 7, sh->adjacent, sizeof(sh->adjacent));
	sh->created_ms = sqlite3_column_int64(q, 8);
	sh->closed_ms = sqlite3_column_int64(q, 9);
}

static void sq_consumer_of(sqlite3_stmt *q, struct cp_consumer *c)
{
	memset(c, 0, sizeof(*c));
	sq_col(q, 0, c->stream, sizeof(c->stream));
	sq_col(q, 1, c->name, sizeof(c->name));
	sq_col(q, 2, c->arn, sizeof(c->arn));
	c->status = (uint8_t)sqlite3_column_int(q, 3);
	c->created_ms = sqlite3_column_int64(q, 4);
	c->deadline_ms = sqlite3_column_int64(q, 5);
}

static int sq_row_stream(sqlite3_stmt *q, void *ctx)
{
	sq_stream_of(q, ctx);
	return 1;
}

static int sq_row_shard(sqlite3_stmt *q, void *ctx)
{
	sq_shard_of(q, ctx);
	return 1;
}

static int sq_row_consumer(sqlite3_stmt *q, void *ctx)
{
	sq_consumer_of(q, ctx);
	return 1;
}

/* A listing: each row decoded into a record and handed to the caller's
 * callback, which decides whether to go on. */
struct sq_list {
	union {
		cp_store_stream_fn stream;
		cp_store_shard_fn shard;
		cp_store_tag_fn tag;
		cp_store_consumer_fn consumer;
		cp_store_route_consumer_fn route;
	} cb;
	void *arg;
};

static int sq_list_stream(sqlite3_stmt *q, void *ctx)
{
	struct sq_list *l = ctx;
	struct cp_stream s;

	sq_stream_of(q, &s);
	return l->cb.stream(l->arg, &s);
}

static int sq_list_shard(sqlite3_stmt *q, void *ctx)
{
	struct sq_list *l = ctx;
	struct cp_shard sh;

	sq_shard_of(q, &sh);
	return l->cb.shard(l->arg, &sh);
}

static int sq_list_tag(sqlite3_stmt *q, void *ctx)
{
	struct sq_list *l = ctx;
	struct cp_tag t;

	sq_col(q, 0, t.key, sizeof(t.key));
	sq_col(q, 1, t.value, sizeof(t.value));
	return l->cb.tag(l->arg, &t);
}

static int sq_list_consumer(sqlite3_stmt *q, void *ctx)
{
	struct sq_list *l = ctx;
	struct cp_consumer c;

	sq_consumer_of(q, &c);
	return l->cb.consumer(l->arg, &c);
}

static int sq_list_route(sqlite3_stmt *q, void *ctx)
{
	struct sq_list *l = ctx;
	struct cp_consumer c;

	sq_consumer_of(q, &c);
	return l->cb.route(l->arg, &c, (uint64_t)sqlite3_column_int64(q, 6));
}

/* --- open / close --- */

static int sq_exec(struct sq_store *s, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		SL_ERR("meta.db: %s: %s", sql, err ? err : "?");
		sqlite3_free(err);
		return -EIO;
	}
	return 0;
}

/* Before the cache exists (the schema may still change): a one-off. */
static int sq_check_version(struct sq_store *s)
{
	char ver[16] = "";
	struct sq_out o = { ver, sizeof(ver) };
	sqlite3_stmt *q;
	int rc = -EPROTO;

	if (sqlite3_prepare_v2(s->db, sq_sql[SQ_SCHEMA_VERSION], -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	s->prepares++;
	if (sqlite3_step(q) == SQLITE_ROW)
		sq_row_value(q, &o);
	sqlite3_finalize(q);
	if (strcmp(ver, CP_SCHEMA_VERSION) == 0)
		return 0;
	if (strcmp(ver, "1") == 0) {
		rc = sq_exec(s, cp_migrate_1_2);
		if (rc)
			sq_exec(s, "ROLLBACK");
		else
			SL_INFO("meta.db: schema 1 -> 2");
	}
	if (rc)
		SL_ERR("meta.db: unknown schema version");
	return rc;
}

static int sq_prepare_all(struct sq_store *s)
{
	for (uint32_t i = 0; i < SQ__COUNT; i++) {
		BUG_ON(sq_sql[i] == NULL); /* every id has its statement */
		s->prepares++;
		if (sqlite3_prepare_v3(s->db, sq_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &s->stmt[i], NULL) != SQLITE_OK) {
			SL_ERR("meta.db: %s: %s", sq_sql[i], sqlite3_errmsg(s->db));
			return -EIO;
		}
	}
	return 0;
}

static void sq_free(struct sq_store *s)
{
	for (uint32_t i = 0; i < SQ__COUNT; i++)
		sqlite3_finalize(s->stmt[i]); /* NULL is a no-op */
	/* v2: a statement left behind would keep the handle open, not fail */
	sqlite3_close_v2(s->db);
	free(s);
}

static struct cp_store *sq_open(const char *dir)
{
	char path[PATH_MAX];
	struct sq_store *s;
	int fd;

	if (snprintf(path, sizeof(path), "%s/meta.db", dir) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	/* Create it 0600 ourselves: SQLite would honour the umask (0644). The
	 * -wal and -shm files inherit the database file's mode. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	if (fchmod(fd, 0600) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	close(fd);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->base.ops = &cp_store_sqlite_ops;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(s->db, 1000);
	if (sq_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
		       "PRAGMA foreign_keys=OFF;") ||
	    sq_exec(s, cp_schema) || sq_check_version(s) || sq_prepare_all(s))
		goto fail;
	return &s->base;
fail:
	SL_ERR("meta.db at %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "open failed");
	sq_free(s);
	errno = EIO;
	return NULL;
}

static void sq_close(struct cp_store *st)
{
	sq_free(sq_of(st));
}

uint64_t cp_store_sqlite_prepares(const struct cp_store *st)
{
	if (st == NULL || st->ops != &cp_store_sqlite_ops)
		return 0;
	return ((const struct sq_store *)st)->prepares;
}

/* --- streams --- */

static int sq_stream_get(struct cp_store *st, const char *name, struct cp_stream *out)
{
	return sq_one(SQ_RUN(sq_of(st), SQ_STREAM_GET, sq_row_stream, out, SQ_T(name)));
}

struct sq_create {
	struct cp_stream *s;
	const struct cp_tag *tags;
	uint32_t n_tags;
};

static int sq_put_tags(struct sq_store *s, const char *name, const struct cp_tag *tags,
		       uint32_t n)
{
	int rc = 0;

	for (uint32_t i = 0; i < n && rc >= 0; i++)
		rc = SQ_RUN(s, SQ_TAG_PUT, NULL, NULL, SQ_T(name), SQ_T(tags[i].key),
			    SQ_T(tags[i].value));
	return rc < 0 ? -EIO : 0;
}

static int sq_create_body(struct sq_store *s, void *ctx)
{
	struct sq_create *c = ctx;
	struct cp_stream *cs = c->s;
	struct cp_shard sh;
	int64_t id = 0;
	int rc;

	rc = SQ_RUN(s, SQ_NEXT_ID_GET, sq_row_i64, &id);
	if (rc <= 0 || SQ_RUN(s, SQ_NEXT_ID_BUMP, NULL, NULL) < 0)
		return -EIO;
	cs->id = (uint64_t)id;
	rc = SQ_RUN(s, SQ_STREAM_INSERT, NULL, NULL, SQ_T(cs->name), SQ_T(cs->arn),
		    SQ_I(cs->status), SQ_I(cs->mode), SQ_I(cs->retention_hours),
		    SQ_I(cs->created_ms), SQ_I(cs->deadline_ms), SQ_I(cs->shard_count),
		    SQ_I(cs->max_record_kib), SQ_I(cs->encryption), SQ_I(cs->id),
		    SQ_I(cs->warm_mibps), SQ_I(cs->metrics));
	if (rc < 0)
		return rc; /* -EEXIST: the name is taken */
	if (cs->distribution != CP_DIST_USER_PARTITION_KEY &&
	    SQ_RUN(s, SQ_DIST_PUT, NULL, NULL, SQ_T(cs->name), SQ_I(cs->distribution)) < 0)
		return -EIO;
	for (uint32_t i = 0; i < cs->shard_count; i++) {
		cp_shard_make(i, cs->shard_count, cs->created_ms, &sh);
		if (SQ_RUN(s, SQ_SHARD_INSERT, NULL, NULL, SQ_T(cs->name), SQ_I(i), SQ_T(sh.id),
			   SQ_T(sh.hash_start), SQ_T(sh.hash_end), SQ_T(sh.start_seq),
			   SQ_I(cs->created_ms)) < 0)
			return -EIO;
	}
	return sq_put_tags(s, cs->name, c->tags, c->n_tags);
}

static int sq_stream_create(struct cp_store *st, struct cp_stream *cs,
			    const struct cp_tag *tags, uint32_t n_tags)
{
	struct sq_create c = { .s = cs, .tags = tags, .n_tags = n_tags };

	return sq_txn(sq_of(st), sq_create_body, &c);
}

static int sq_stream_set_status(struct cp_store *st, const char *name, uint8_t status,
				int64_t deadline_ms)
{
	struct sq_store *s = sq_of(st);

	return sq_update(s, SQ_RUN(s, SQ_STREAM_STATUS, NULL, NULL, SQ_I(status),
				   SQ_I(deadline_ms), SQ_T(name)));
}

static int sq_stream_set_retention(struct cp_store *st, const char *name, uint32_t hours)
{
	struct sq_store *s = sq_of(st);

	return sq_update(s, SQ_RUN(s, SQ_STREAM_RETENTION, NULL, NULL, SQ_I(hours),
				   SQ_T(name)));
}

static int sq_stream_set_field(struct cp_store *st, const char *name, const char *field,
			       int64_t value)
{
	static const struct {
		const char *field;
		enum sq_id id;
	} fields[] = {
		{ "mode", SQ_STREAM_MODE },
		{ "max_record_kib", SQ_STREAM_MAX_RECORD },
		{ "warm_mibps", SQ_STREAM_WARM },
		{ "metrics", SQ_STREAM_METRICS },
	};
	struct sq_store *s = sq_of(st);

	/* In its own table (added without a schema version change): the
	 * stream must exist, and USER_PARTITION_KEY is the absence of a row. */
	if (strcmp(field, "distribution") == 0) {
		struct cp_stream cs;
		int rc = sq_stream_get(st, name, &cs);
		if (rc)
			return rc;
		rc = value == CP_DIST_USER_PARTITION_KEY
			     ? SQ_RUN(s, SQ_DIST_DELETE, NULL, NULL, SQ_T(name))
			     : SQ_RUN(s, SQ_DIST_PUT, NULL, NULL, SQ_T(name), SQ_I(value));
		return rc < 0 ? -EIO : 0;
	}

	for (size_t i = 0; i < SL_ARRAY_SIZE(fields); i++)
		if (strcmp(field, fields[i].field) == 0)
			return sq_update(s, SQ_RUN(s, fields[i].id, NULL, NULL, SQ_I(value),
						   SQ_T(name)));
	BUG_ON(1); /* a constant of the caller, never request data */
	return -EINVAL;
}

static int sq_remove_body(struct sq_store *s, void *ctx)
{
	/* everything keyed by the stream's name, the stream row last */
	static const enum sq_id order[] = { SQ_SHARDS_DELETE, SQ_TAGS_DELETE,
					    SQ_SCALINGS_DELETE, SQ_CONSUMERS_DELETE,
					    SQ_KMS_DELETE, SQ_DIST_DELETE, SQ_POLICIES_DELETE,
					    SQ_STREAM_DELETE };

	for (size_t i = 0; i < SL_ARRAY_SIZE(order); i++)
		if (SQ_RUN(s, order[i], NULL, NULL, SQ_T((const char *)ctx)) < 0)
			return -EIO;
	return 0;
}

static int sq_stream_remove(struct cp_store *st, const char *name)
{
	return sq_txn(sq_of(st), sq_remove_body, (void *)name);
}

struct sq_totals {
	uint32_t *streams;
	uint64_t *shards;
};

static int sq_row_totals(sqlite3_stmt *q, void *ctx)
{
	struct sq_totals *t = ctx;

	*t->streams = (uint32_t)sqlite3_column_int64(q, 0);
	*t->shards = (uint64_t)sqlite3_column_double(q, 1); /* TOTAL() is a REAL */
	return 1;
}

static int sq_stream_totals(struct cp_store *st, uint32_t *streams, uint64_t *shards)
{
	struct sq_totals t = { streams, shards };

	return SQ_RUN(sq_of(st), SQ_STREAM_TOTALS, sq_row_totals, &t) == 1 ? 0 : -EIO;
}

/* A COUNT(*) query: exactly one row. */
static int sq_count(int rc, int64_t n, uint32_t *out)
{
	*out = (uint32_t)n;
	return rc == 1 ? 0 : -EIO;
}

static int sq_stream_on_demand_count(struct cp_store *st, uint32_t *out)
{
	int64_t n = 0;
	int rc = SQ_RUN(sq_of(st), SQ_STREAM_ON_DEMAND, sq_row_i64, &n);

	return sq_count(rc, n, out);
}

static int sq_stream_list(struct cp_store *st, const char *after, uint32_t limit,
			  cp_store_stream_fn cb, void *arg)
{
	struct sq_list l = { .cb.stream = cb, .arg = arg };

	return SQ_RUN(sq_of(st), SQ_STREAM_LIST, sq_list_stream, &l, SQ_T(after ? after : ""),
		      SQ_I(limit));
}

/* --- lifecycle deadlines --- */

static int sq_row_deadline(sqlite3_stmt *q, void *ctx)
{
	if (sqlite3_column_type(q, 0) != SQLITE_NULL)
		*(int64_t *)ctx = sqlite3_column_int64(q, 0);
	return 1;
}

static int64_t sq_next_deadline(struct cp_store *st)
{
	int64_t d = INT64_MAX;

	(void)SQ_RUN(sq_of(st), SQ_NEXT_DEADLINE, sq_row_deadline, &d); /* error: none */
	return d;
}

/* Records collected from a running SELECT, handed over after it ends: the
 * callback writes, and no write may run under a SELECT. */
struct sq_batch {
	uint32_t n;
	char stream[CP_STORE_BATCH_MAX][CP_NAME_MAX + 1];
	char name[CP_STORE_BATCH_MAX][CP_NAME_MAX + 1];
	uint8_t status[CP_STORE_BATCH_MAX];
	uint64_t id[CP_STORE_BATCH_MAX];
	uint32_t index[CP_STORE_BATCH_MAX];
};

static int sq_row_stream_due(sqlite3_stmt *q, void *ctx)
{
	struct sq_batch *b = ctx;

	BUG_ON(b->n >= CP_STORE_BATCH_MAX); /* LIMIT bounds the rows */
	sq_col(q, 0, b->name[b->n], sizeof(b->name[0]));
	b->status[b->n++] = (uint8_t)sqlite3_column_int(q, 1);
	return 0;
}

static int sq_row_consumer_due(sqlite3_stmt *q, void *ctx)
{
	struct sq_batch *b = ctx;

	BUG_ON(b->n >= CP_STORE_BATCH_MAX);
	sq_col(q, 0, b->stream[b->n], sizeof(b->stream[0]));
	sq_col(q, 1, b->name[b->n], sizeof(b->name[0]));
	b->status[b->n++] = (uint8_t)sqlite3_column_int(q, 2);
	return 0;
}

static int sq_due(struct cp_store *st, int64_t now_ms, cp_store_due_fn cb, void *arg)
{
	struct sq_store *s = sq_of(st);
	struct sq_batch *b = calloc(1, sizeof(*b)); /* ~17 KiB: not on the stack */
	int handed = 0;

	if (b == NULL)
		return -ENOMEM;
	if (SQ_RUN(s, SQ_STREAMS_DUE, sq_row_stream_due, b, SQ_I(now_ms),
		   SQ_I(CP_STORE_BATCH_MAX)) < 0) {
		free(b);
		return -EIO;
	}
	for (uint32_t i = 0; i < b->n; i++, handed++)
		if (cb(arg, NULL, b->name[i], b->status[i]))
			goto out;
	b->n = 0;
	/* after the streams: a consumer removed with its stream is gone */
	if (SQ_RUN(s, SQ_CONSUMERS_DUE, sq_row_consumer_due, b, SQ_I(now_ms),
		   SQ_I(CP_STORE_BATCH_MAX)) < 0) {
		free(b);
		return -EIO;
	}
	for (uint32_t i = 0; i < b->n; i++, handed++)
		if (cb(arg, b->stream[i], b->name[i], b->status[i]))
			break;
out:
	free(b);
	return handed;
}

/* --- shards --- */

static int sq_shard_list(struct cp_store *st, const char *name, const char *after,
			 uint32_t limit, cp_store_shard_fn cb, void *arg)
{
	struct sq_list l = { .cb.shard = cb, .arg = arg };

	return SQ_RUN(sq_of(st), SQ_SHARD_LIST, sq_list_shard, &l, SQ_T(name),
		      SQ_T(after ? after : ""), SQ_I(limit));
}

static int sq_shard_get(struct cp_store *st, const char *name, uint32_t index,
			struct cp_shard *out)
{
	return sq_one(SQ_RUN(sq_of(st), SQ_SHARD_GET, sq_row_shard, out, SQ_T(name),
			     SQ_I(index)));
}

struct sq_reshard {
	const char *name;
	const uint32_t *parents;
	uint32_t n_parents;
	const struct cp_shard *children;
	uint32_t n_children;
	int64_t now_ms;
	uint8_t status;
	int64_t deadline_ms;
};

static int sq_reshard_body(struct sq_store *s, void *ctx)
{
	const struct sq_reshard *r = ctx;
	int64_t delta = (int64_t)r->n_children - (int64_t)r->n_parents;

	for (uint32_t i = 0; i < r->n_parents; i++) {
		int rc = SQ_RUN(s, SQ_SHARD_CLOSE, NULL, NULL, SQ_I(r->now_ms), SQ_T(r->name),
				SQ_I(r->parents[i]));
		if (rc < 0)
			return -EIO;
		if (sqlite3_changes(s->db) != 1)
			return -ESTALE; /* closed meanwhile */
	}
	for (uint32_t i = 0; i < r->n_children; i++) {
		const struct cp_shard *c = &r->children[i];

		if (SQ_RUN(s, SQ_SHARD_INSERT_CHILD, NULL, NULL, SQ_T(r->name), SQ_I(c->index),
			   SQ_T(c->id), SQ_T(c->hash_start), SQ_T(c->hash_end),
			   SQ_T(c->start_seq), SQ_TN(c->parent), SQ_TN(c->adjacent),
			   SQ_I(c->created_ms)) < 0)
			return -EIO;
	}
	return sq_update(s, SQ_RUN(s, SQ_STREAM_RESHARD, NULL, NULL, SQ_I(delta),
				   SQ_I(r->status), SQ_I(r->deadline_ms), SQ_T(r->name)));
}

static int sq_reshard(struct cp_store *st, const char *name, const uint32_t *parents,
		      uint32_t n_parents, const struct cp_shard *children, uint32_t n_children,
		      int64_t now_ms, uint8_t status, int64_t deadline_ms)
{
	struct sq_reshard r = { name, parents, n_parents, children, n_children,
				now_ms, status, deadline_ms };

	return sq_txn(sq_of(st), sq_reshard_body, &r);
}

static int sq_shard_last_created(struct cp_store *st, const char *name, int64_t *out_ms)
{
	return SQ_RUN(sq_of(st), SQ_SHARD_LAST_CREATED, sq_row_i64, out_ms, SQ_T(name)) == 1
		       ? 0
		       : -EIO;
}

static int sq_shard_set_end_seq(struct cp_store *st, const char *name, uint32_t index,
				const char *seq)
{
	int rc = SQ_RUN(sq_of(st), SQ_SHARD_END_SEQ, NULL, NULL, SQ_T(seq), SQ_T(name),
			SQ_I(index));

	return rc < 0 ? -EIO : 0;
}

static int sq_row_unsealed(sqlite3_stmt *q, void *ctx)
{
	struct sq_batch *b = ctx;

	BUG_ON(b->n >= CP_STORE_BATCH_MAX);
	sq_col(q, 0, b->name[b->n], sizeof(b->name[0]));
	b->id[b->n] = (uint64_t)sqlite3_column_int64(q, 1);
	b->index[b->n++] = (uint32_t)sqlite3_column_int64(q, 2);
	return 0;
}

static int sq_shard_unsealed(struct cp_store *st, cp_store_unsealed_fn cb, void *arg)
{
	struct sq_batch *b = calloc(1, sizeof(*b));
	int n;

	if (b == NULL)
		return -ENOMEM;
	/* Collect first: the callback writes to the store. */
	n = SQ_RUN(sq_of(st), SQ_SHARD_UNSEALED, sq_row_unsealed, b, SQ_I(CP_STORE_BATCH_MAX));
	if (n >= 0) {
		n = (int)b->n;
		for (uint32_t i = 0; i < b->n; i++)
			if (cb(arg, b->id[i], b->name[i], b->index[i]))
				break;
	}
	free(b);
	return n;
}

/* --- UpdateShardCount history --- */

static int sq_scaling_count(struct cp_store *st, const char *name, int64_t since_ms,
			    uint32_t *out)
{
	int64_t n = 0;
	int rc = SQ_RUN(sq_of(st), SQ_SCALING_COUNT, sq_row_i64, &n, SQ_T(name),
			SQ_I(since_ms));

	return sq_count(rc, n, out);
}

static int sq_scaling_add(struct cp_store *st, const char *name, int64_t at_ms)
{
	struct sq_store *s = sq_of(st);

	/* Older entries no longer count: keep the table bounded. */
	if (SQ_RUN(s, SQ_SCALING_TRIM, NULL, NULL, SQ_T(name), SQ_I(at_ms - 24 * 3600 * 1000LL)) <
		    0 ||
	    SQ_RUN(s, SQ_SCALING_ADD, NULL, NULL, SQ_T(name), SQ_I(at_ms)) < 0)
		return -EIO;
	return 0;
}

/* --- tags --- */

static int sq_tag_list(struct cp_store *st, const char *name, const char *after,
		       uint32_t limit, cp_store_tag_fn cb, void *arg)
{
	struct sq_list l = { .cb.tag = cb, .arg = arg };

	return SQ_RUN(sq_of(st), SQ_TAG_LIST, sq_list_tag, &l, SQ_T(name),
		      SQ_T(after ? after : ""), SQ_I(limit));
}

struct sq_tags {
	const char *name;
	const struct cp_tag *tags;
	char (*keys)[CP_TAG_KEY_CAP];
	uint32_t n;
};

static int sq_tag_put_body(struct sq_store *s, void *ctx)
{
	const struct sq_tags *t = ctx;

	return sq_put_tags(s, t->name, t->tags, t->n);
}

static int sq_tag_put(struct cp_store *st, const char *name, const struct cp_tag *tags,
		      uint32_t n)
{
	struct sq_tags t = { .name = name, .tags = tags, .n = n };

	return sq_txn(sq_of(st), sq_tag_put_body, &t);
}

static int sq_tag_del_body(struct sq_store *s, void *ctx)
{
	const struct sq_tags *t = ctx;

	for (uint32_t i = 0; i < t->n; i++)
		if (SQ_RUN(s, SQ_TAG_DEL, NULL, NULL, SQ_T(t->name), SQ_T(t->keys[i])) < 0)
			return -EIO;
	return 0;
}

static int sq_tag_del(struct cp_store *st, const char *name, char (*keys)[CP_TAG_KEY_CAP], uint32_t n)
{
	struct sq_tags t = { .name = name, .keys = keys, .n = n };

	return sq_txn(sq_of(st), sq_tag_del_body, &t);
}

/* --- account key/value settings --- */

static int sq_key_get(struct cp_store *st, const char *key, char *out, size_t cap)
{
	struct sq_out o = { out, cap };

	return sq_one(SQ_RUN(sq_of(st), SQ_KEY_GET, sq_row_value, &o, SQ_T(key)));
}

static int sq_key_set(struct cp_store *st, const char *key, const char *value)
{
	return SQ_RUN(sq_of(st), SQ_KEY_SET, NULL, NULL, SQ_T(key), SQ_T(value)) < 0 ? -EIO : 0;
}

/* --- consumers --- */

static int sq_consumer_add(struct cp_store *st, const struct cp_consumer *c)
{
	int rc = SQ_RUN(sq_of(st), SQ_CONSUMER_ADD, NULL, NULL, SQ_T(c->stream), SQ_T(c->name),
			SQ_T(c->arn), SQ_I(c->status), SQ_I(c->created_ms),
			SQ_I(c->deadline_ms));

	return rc < 0 ? rc : 0; /* -EEXIST: the stream has one of that name */
}

static int sq_consumer_get(struct cp_store *st, const char *stream, const char *key,
			   struct cp_consumer *out)
{
	struct sq_store *s = sq_of(st);

	if (stream)
		return sq_one(SQ_RUN(s, SQ_CONSUMER_BY_NAME, sq_row_consumer, out, SQ_T(stream),
				     SQ_T(key)));
	return sq_one(SQ_RUN(s, SQ_CONSUMER_BY_ARN, sq_row_consumer, out, SQ_T(key)));
}

static int sq_consumer_set_status(struct cp_store *st, const char *stream, const char *name,
				  uint8_t status, int64_t deadline_ms)
{
	struct sq_store *s = sq_of(st);

	return sq_update(s, SQ_RUN(s, SQ_CONSUMER_STATUS, NULL, NULL, SQ_I(status),
				   SQ_I(deadline_ms), SQ_T(stream), SQ_T(name)));
}

struct sq_consumer_key {
	const char *stream, *name;
};

/* The consumer's resource policy goes with it. */
static int sq_consumer_remove_body(struct sq_store *s, void *ctx)
{
	const struct sq_consumer_key *k = ctx;

	if (SQ_RUN(s, SQ_POLICY_DELETE_CONSUMER, NULL, NULL, SQ_T(k->stream), SQ_T(k->name)) < 0 ||
	    SQ_RUN(s, SQ_CONSUMER_REMOVE, NULL, NULL, SQ_T(k->stream), SQ_T(k->name)) < 0)
		return -EIO;
	return 0;
}

static int sq_consumer_remove(struct cp_store *st, const char *stream, const char *name)
{
	struct sq_consumer_key k = { stream, name };

	return sq_txn(sq_of(st), sq_consumer_remove_body, &k);
}

static int sq_consumer_all_deleting(struct cp_store *st, const char *stream,
				    int64_t deadline_ms)
{
	return SQ_RUN(sq_of(st), SQ_CONSUMER_ALL_DELETING, NULL, NULL, SQ_I(CP_DELETING),
		      SQ_I(deadline_ms), SQ_T(stream)) < 0
		       ? -EIO
		       : 0;
}

static int sq_consumer_counts(struct cp_store *st, const char *stream, uint32_t *total,
			      uint32_t *creating)
{
	struct sq_store *s = sq_of(st);
	int64_t a = 0, b = 0;
	int rc = SQ_RUN(s, SQ_CONSUMER_COUNT, sq_row_i64, &a, SQ_T(stream));

	if (rc == 1)
		rc = SQ_RUN(s, SQ_CONSUMER_COUNT_STATUS, sq_row_i64, &b, SQ_T(stream),
			    SQ_I(CP_CREATING));
	*total = (uint32_t)a;
	*creating = (uint32_t)b;
	return rc == 1 ? 0 : -EIO; /* COUNT(*): exactly one row each */
}

static int sq_consumer_list(struct cp_store *st, const char *stream, const char *after,
			    uint32_t limit, cp_store_consumer_fn cb, void *arg)
{
	struct sq_list l = { .cb.consumer = cb, .arg = arg };

	return SQ_RUN(sq_of(st), SQ_CONSUMER_LIST, sq_list_consumer, &l, SQ_T(stream),
		      SQ_T(after ? after : ""), SQ_I(limit));
}

static int sq_consumer_route_list(struct cp_store *st, cp_store_route_consumer_fn cb,
				  void *arg)
{
	struct sq_list l = { .cb.route = cb, .arg = arg };

	return SQ_RUN(sq_of(st), SQ_CONSUMER_ROUTE_LIST, sq_list_route, &l, SQ_I(CP_ACTIVE),
		      SQ_I(CP_ACTIVE), SQ_I(CP_UPDATING));
}

/* --- encryption --- */

struct sq_encryption {
	const char *name, *key_id;
	uint8_t status;
	int64_t deadline_ms;
};

static int sq_encryption_body(struct sq_store *s, void *ctx)
{
	const struct sq_encryption *e = ctx;

	if (SQ_RUN(s, SQ_KMS_DELETE, NULL, NULL, SQ_T(e->name)) < 0)
		return -EIO;
	if (e->key_id && SQ_RUN(s, SQ_KMS_PUT, NULL, NULL, SQ_T(e->name), SQ_T(e->key_id)) < 0)
		return -EIO;
	return sq_stream_set_status(&s->base, e->name, e->status, e->deadline_ms);
}

static int sq_stream_set_encryption(struct cp_store *st, const char *name, const char *key_id,
				    uint8_t status, int64_t deadline_ms)
{
	struct sq_encryption e = { name, key_id, status, deadline_ms };

	return sq_txn(sq_of(st), sq_encryption_body, &e);
}

/* --- resource policies --- */

static int sq_policy_put(struct cp_store *st, const char *stream, const char *arn,
			 const char *policy)
{
	int rc = SQ_RUN(sq_of(st), SQ_POLICY_PUT, NULL, NULL, SQ_T(arn), SQ_T(stream),
			SQ_T(policy));

	return rc < 0 ? -EIO : 0;
}

/* The whole text or -EIO: a policy cut to the buffer would be another one. */
static int sq_row_policy(sqlite3_stmt *q, void *ctx)
{
	struct sq_out *o = ctx;
	const unsigned char *t = sqlite3_column_text(q, 0);
	size_t n = (size_t)sqlite3_column_bytes(q, 0);

	if (t && n < o->cap) {
		memcpy(o->out, t, n);
		o->out[n] = 0;
	} else {
		o->cap = 0; /* marks the row unusable */
	}
	return 1;
}

static int sq_policy_get(struct cp_store *st, const char *arn, char *out, size_t cap)
{
	struct sq_out o = { out, cap };
	int rc = sq_one(SQ_RUN(sq_of(st), SQ_POLICY_GET, sq_row_policy, &o, SQ_T(arn)));

	return rc == 0 && o.cap == 0 ? -EIO : rc;
}

static int sq_policy_delete(struct cp_store *st, const char *arn)
{
	return SQ_RUN(sq_of(st), SQ_POLICY_DELETE, NULL, NULL, SQ_T(arn)) < 0 ? -EIO : 0;
}

struct sq_policy_list {
	cp_store_policy_fn cb;
	void *arg;
};

static int sq_list_policy(sqlite3_stmt *q, void *ctx)
{
	const struct sq_policy_list *l = ctx;
	const unsigned char *stream = sqlite3_column_text(q, 0);
	const unsigned char *arn = sqlite3_column_text(q, 1);
	const unsigned char *pol = sqlite3_column_text(q, 2);

	if (!stream || !arn || !pol)
		return 0; /* NOT NULL columns: cannot happen */
	return l->cb(l->arg, (const char *)stream, (const char *)arn, (const char *)pol,
		     (size_t)sqlite3_column_bytes(q, 2));
}

static int sq_policy_list(struct cp_store *st, cp_store_policy_fn cb, void *arg)
{
	struct sq_policy_list l = { cb, arg };

	return SQ_RUN(sq_of(st), SQ_POLICY_LIST, sq_list_policy, &l);
}

/* --- channels --- */

static void sq_channel_of(sqlite3_stmt *q, struct cp_channel *c)
{
	memset(c, 0, sizeof(*c));
	sq_col(q, 0, c->arn, sizeof(c->arn));
	sq_col(q, 1, c->name, sizeof(c->name));
	sq_col(q, 2, c->id, sizeof(c->id));
	sq_col(q, 3, c->stream, sizeof(c->stream));
	c->status = (uint8_t)sqlite3_column_int(q, 4);
	c->created_ms = sqlite3_column_int64(q, 5);
	c->deadline_ms = sqlite3_column_int64(q, 6);
	c->freshness_s = sqlite3_column_int(q, 7);
	sq_col(q, 8, c->role, sizeof(c->role));
	sq_col(q, 9, c->record, sizeof(c->record));
	sq_col(q, 10, c->storage, sizeof(c->storage));
	sq_col(q, 11, c->dlq, sizeof(c->dlq));
	sq_col(q, 12, c->encryption, sizeof(c->encryption));
	sq_col(q, 13, c->logging, sizeof(c->logging));
}

static int sq_row_channel(sqlite3_stmt *q, void *ctx)
{
	sq_channel_of(q, ctx);
	return 1;
}

static int sq_channel_add(struct cp_store *st, const struct cp_channel *c)
{
	int rc = SQ_RUN(sq_of(st), SQ_CHANNEL_ADD, NULL, NULL, SQ_T(c->arn), SQ_T(c->name),
			SQ_T(c->id), SQ_T(c->stream), SQ_I(c->status), SQ_I(c->created_ms),
			SQ_I(c->deadline_ms), SQ_I(c->freshness_s), SQ_T(c->role),
			SQ_T(c->record), SQ_T(c->storage), SQ_T(c->dlq), SQ_T(c->encryption),
			SQ_T(c->logging));

	return rc < 0 ? rc : 0; /* -EEXIST: the name (or ARN) is taken */
}

static int sq_channel_get(struct cp_store *st, const char *arn, const char *name,
			  struct cp_channel *out)
{
	struct sq_store *s = sq_of(st);

	if (arn)
		return sq_one(SQ_RUN(s, SQ_CHANNEL_BY_ARN, sq_row_channel, out, SQ_T(arn)));
	return sq_one(SQ_RUN(s, SQ_CHANNEL_BY_NAME, sq_row_channel, out, SQ_T(name)));
}

static int sq_channel_update(struct cp_store *st, const struct cp_channel *c)
{
	struct sq_store *s = sq_of(st);

	return sq_update(s, SQ_RUN(s, SQ_CHANNEL_UPDATE, NULL, NULL, SQ_I(c->status),
				   SQ_I(c->deadline_ms), SQ_I(c->freshness_s),
				   SQ_T(c->logging), SQ_T(c->arn)));
}

static int sq_channel_remove(struct cp_store *st, const char *arn)
{
	int rc = SQ_RUN(sq_of(st), SQ_CHANNEL_REMOVE, NULL, NULL, SQ_T(arn));

	return rc < 0 ? rc : 0;
}

static int sq_row_count(sqlite3_stmt *q, void *ctx)
{
	*(uint32_t *)ctx = (uint32_t)sqlite3_column_int64(q, 0);
	return 1;
}

static int sq_channel_count(struct cp_store *st, const char *stream, uint32_t *n)
{
	struct sq_store *s = sq_of(st);
	int rc;

	*n = 0;
	rc = stream ? SQ_RUN(s, SQ_CHANNEL_COUNT_STREAM, sq_row_count, n, SQ_T(stream))
		    : SQ_RUN(s, SQ_CHANNEL_COUNT, sq_row_count, n);
	return rc < 0 ? rc : 0;
}

struct sq_channel_list {
	cp_store_channel_fn cb;
	void *arg;
	struct cp_channel c; /* ~50 KiB: the list lives on the heap */
};

static int sq_list_channel(sqlite3_stmt *q, void *ctx)
{
	struct sq_channel_list *l = ctx;

	sq_channel_of(q, &l->c);
	return l->cb(l->arg, &l->c);
}

static int sq_channel_list(struct cp_store *st, const char *after, uint32_t limit,
			   cp_store_channel_fn cb, void *arg)
{
	struct sq_channel_list *l = malloc(sizeof(*l));
	int rc;

	if (l == NULL)
		return -ENOMEM;
	l->cb = cb;
	l->arg = arg;
	rc = SQ_RUN(sq_of(st), SQ_CHANNEL_LIST, sq_list_channel, l, SQ_T(after ? after : ""),
		    SQ_I(limit));
	free(l);
	return rc;
}

struct sq_channel_batch {
	uint32_t n;
	char arn[CP_STORE_BATCH_MAX][CP_CHANNEL_ARN_CAP];
	uint8_t status[CP_STORE_BATCH_MAX];
};

static int sq_row_channel_due(sqlite3_stmt *q, void *ctx)
{
	struct sq_channel_batch *b = ctx;

	BUG_ON(b->n >= CP_STORE_BATCH_MAX); /* LIMIT bounds the rows */
	sq_col(q, 0, b->arn[b->n], sizeof(b->arn[0]));
	b->status[b->n++] = (uint8_t)sqlite3_column_int(q, 1);
	return 0;
}

static int sq_channel_due(struct cp_store *st, int64_t now_ms, cp_store_channel_due_fn cb,
			  void *arg)
{
	struct sq_channel_batch *b = calloc(1, sizeof(*b));
	int handed = 0;

	if (b == NULL)
		return -ENOMEM;
	/* collected first: the callback writes, and no write may run under a
	 * SELECT */
	if (SQ_RUN(sq_of(st), SQ_CHANNELS_DUE, sq_row_channel_due, b, SQ_I(now_ms),
		   SQ_I(CP_STORE_BATCH_MAX)) < 0) {
		free(b);
		return -EIO;
	}
	for (uint32_t i = 0; i < b->n; i++, handed++)
		if (cb(arg, b->arn[i], b->status[i]))
			break;
	free(b);
	return handed;
}

const struct cp_store_ops cp_store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.stream_get = sq_stream_get,
	.stream_create = sq_stream_create,
	.stream_set_status = sq_stream_set_status,
	.stream_set_retention = sq_stream_set_retention,
	.stream_set_field = sq_stream_set_field,
	.stream_remove = sq_stream_remove,
	.stream_totals = sq_stream_totals,
	.stream_on_demand_count = sq_stream_on_demand_count,
	.stream_list = sq_stream_list,
	.next_deadline = sq_next_deadline,
	.due = sq_due,
	.shard_list = sq_shard_list,
	.shard_get = sq_shard_get,
	.reshard = sq_reshard,
	.shard_last_created = sq_shard_last_created,
	.shard_set_end_seq = sq_shard_set_end_seq,
	.shard_unsealed = sq_shard_unsealed,
	.scaling_count = sq_scaling_count,
	.scaling_add = sq_scaling_add,
	.tag_list = sq_tag_list,
	.tag_put = sq_tag_put,
	.tag_del = sq_tag_del,
	.key_get = sq_key_get,
	.key_set = sq_key_set,
	.consumer_add = sq_consumer_add,
	.consumer_get = sq_consumer_get,
	.consumer_set_status = sq_consumer_set_status,
	.consumer_remove = sq_consumer_remove,
	.consumer_all_deleting = sq_consumer_all_deleting,
	.consumer_counts = sq_consumer_counts,
	.consumer_list = sq_consumer_list,
	.consumer_route_list = sq_consumer_route_list,
	.stream_set_encryption = sq_stream_set_encryption,
	.policy_put = sq_policy_put,
	.policy_get = sq_policy_get,
	.policy_delete = sq_policy_delete,
	.policy_list = sq_policy_list,
	.channel_add = sq_channel_add,
	.channel_get = sq_channel_get,
	.channel_update = sq_channel_update,
	.channel_remove = sq_channel_remove,
	.channel_count = sq_channel_count,
	.channel_list = sq_channel_list,
	.channel_due = sq_channel_due,
};

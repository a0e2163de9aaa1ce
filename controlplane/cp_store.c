/* SPDX-License-Identifier: Apache-2.0 */
/* Metadata store: SQLite at DIR/meta.db (0600, WAL, synchronous=FULL so a
 * committed change is on stable storage before the caller answers). Only the
 * control thread touches it. */
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

struct cp_store {
	sqlite3 *db;
};

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
	"CREATE TABLE IF NOT EXISTS stream_kms(stream TEXT PRIMARY KEY, key_id TEXT NOT NULL);";

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

static int cp_exec(struct cp_store *st, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		SL_ERR("meta.db: %s: %s", sql, err ? err : "?");
		sqlite3_free(err);
		return -EIO;
	}
	return 0;
}

static int cp_check_version(struct cp_store *st)
{
	sqlite3_stmt *q;
	int rc = -EPROTO;
	bool v1 = false;

	if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key='schema_version'",
			       -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(q) == SQLITE_ROW) {
		const char *ver = (const char *)sqlite3_column_text(q, 0);
		if (strcmp(ver, CP_SCHEMA_VERSION) == 0)
			rc = 0;
		v1 = strcmp(ver, "1") == 0;
	}
	sqlite3_finalize(q);
	if (v1) {
		rc = cp_exec(st, cp_migrate_1_2);
		if (rc)
			cp_exec(st, "ROLLBACK");
		else
			SL_INFO("meta.db: schema 1 -> 2");
	}
	if (rc)
		SL_ERR("meta.db: unknown schema version");
	return rc;
}

struct cp_store *cp_store_open(const char *dir)
{
	char path[PATH_MAX];
	struct cp_store *st;
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
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(st->db, 1000);
	if (cp_exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			"PRAGMA foreign_keys=OFF;") ||
	    cp_exec(st, cp_schema) || cp_check_version(st))
		goto fail;
	return st;
fail:
	SL_ERR("meta.db at %s: %s", path, st->db ? sqlite3_errmsg(st->db) : "open failed");
	sqlite3_close(st->db);
	free(st);
	errno = EIO;
	return NULL;
}

void cp_store_close(struct cp_store *st)
{
	if (st == NULL)
		return;
	sqlite3_close(st->db);
	free(st);
}

static void cp_row_stream(sqlite3_stmt *q, struct cp_stream *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", (const char *)sqlite3_column_text(q, 0));
	snprintf(s->arn, sizeof(s->arn), "%s", (const char *)sqlite3_column_text(q, 1));
	s->status = (uint8_t)sqlite3_column_int(q, 2);
	s->mode = (uint8_t)sqlite3_column_int(q, 3);
	s->retention_hours = (uint32_t)sqlite3_column_int(q, 4);
	s->created_ms = sqlite3_column_int64(q, 5);
	s->deadline_ms = sqlite3_column_int64(q, 6);
	s->shard_count = (uint32_t)sqlite3_column_int(q, 7);
	s->max_record_kib = (uint32_t)sqlite3_column_int(q, 8);
	s->encryption = (uint8_t)sqlite3_column_int(q, 9);
	s->id = (uint64_t)sqlite3_column_int64(q, 10);
	s->warm_mibps = (uint32_t)sqlite3_column_int64(q, 11);
	s->metrics = (uint8_t)sqlite3_column_int(q, 12);
	s->shard_total = (uint32_t)sqlite3_column_int64(q, 13);
	s->n_consumers = (uint32_t)sqlite3_column_int64(q, 14);
	const unsigned char *key = sqlite3_column_text(q, 15);
	snprintf(s->key_id, sizeof(s->key_id), "%s", key ? (const char *)key : "");
	s->encryption = key != NULL;
}

#define CP_STREAM_COLS_W                                                                  \
	"name, arn, status, mode, retention_hours, created_ms, deadline_ms, shard_count, " \
	"max_record_kib, encryption, id, warm_mibps, metrics"
/* shard_total: indexes are dense 0..n-1, so the count is the next index */
#define CP_STREAM_COLS                                                              \
	CP_STREAM_COLS_W ", (SELECT COUNT(*) FROM shards WHERE shards.stream = streams.name)" \
	", (SELECT COUNT(*) FROM consumers WHERE consumers.stream = streams.name)"   \
	", (SELECT key_id FROM stream_kms WHERE stream_kms.stream = streams.name)"

int cp_store_get(struct cp_store *st, const char *name, struct cp_stream *out)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT " CP_STREAM_COLS " FROM streams WHERE name=?",
			       -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		cp_row_stream(q, out);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	sqlite3_finalize(q);
	return rc;
}

static int cp_insert_stream(struct cp_store *st, const struct cp_stream *s)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "INSERT INTO streams(" CP_STREAM_COLS_W ") "
				       "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(q, 1, s->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, s->arn, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 3, s->status);
	sqlite3_bind_int(q, 4, s->mode);
	sqlite3_bind_int(q, 5, (int)s->retention_hours);
	sqlite3_bind_int64(q, 6, s->created_ms);
	sqlite3_bind_int64(q, 7, s->deadline_ms);
	sqlite3_bind_int(q, 8, (int)s->shard_count);
	sqlite3_bind_int(q, 9, (int)s->max_record_kib);
	sqlite3_bind_int(q, 10, s->encryption);
	sqlite3_bind_int64(q, 11, (sqlite3_int64)s->id);
	sqlite3_bind_int64(q, 12, s->warm_mibps);
	sqlite3_bind_int(q, 13, s->metrics);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int cp_insert_shards(struct cp_store *st, const struct cp_stream *s)
{
	sqlite3_stmt *q;
	struct cp_shard sh;
	int rc = 0;

	if (sqlite3_prepare_v2(st->db, "INSERT INTO shards(stream, idx, shard_id, hash_start, "
				       "hash_end, start_seq, created_ms) VALUES(?,?,?,?,?,?,?)",
			       -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	for (uint32_t i = 0; i < s->shard_count && rc == 0; i++) {
		cp_shard_make(i, s->shard_count, s->created_ms, &sh);
		sqlite3_bind_text(q, 1, s->name, -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 2, (int)i);
		sqlite3_bind_text(q, 3, sh.id, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, sh.hash_start, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 5, sh.hash_end, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 6, sh.start_seq, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 7, s->created_ms);
		rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_reset(q);
	}
	sqlite3_finalize(q);
	return rc;
}

static int cp_insert_tags(struct cp_store *st, const char *name, const struct cp_tag *tags,
			  uint32_t n)
{
	sqlite3_stmt *q;
	int rc = 0;

	if (n == 0)
		return 0;
	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO tags VALUES(?,?,?)", -1, &q,
			       NULL) != SQLITE_OK)
		return -EIO;
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, tags[i].key, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, tags[i].value, -1, SQLITE_STATIC);
		rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_reset(q);
	}
	sqlite3_finalize(q);
	return rc;
}

/* Takes the next stream id inside the caller's transaction. */
static int cp_next_id(struct cp_store *st, uint64_t *id)
{
	sqlite3_stmt *q;
	int rc = -EIO;

	if (sqlite3_prepare_v2(st->db, "SELECT CAST(value AS INTEGER) FROM meta "
				       "WHERE key='next_stream_id'", -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(q) == SQLITE_ROW) {
		*id = (uint64_t)sqlite3_column_int64(q, 0);
		rc = 0;
	}
	sqlite3_finalize(q);
	if (rc == 0)
		rc = cp_exec(st, "UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
				 "WHERE key='next_stream_id'");
	return rc;
}

int cp_store_create(struct cp_store *st, struct cp_stream *s, const struct cp_tag *tags,
		    uint32_t n_tags)
{
	int rc;

	if (cp_exec(st, "BEGIN IMMEDIATE"))
		return -EIO;
	rc = cp_next_id(st, &s->id);
	if (rc == 0)
		rc = cp_insert_stream(st, s);
	if (rc == 0)
		rc = cp_insert_shards(st, s);
	if (rc == 0)
		rc = cp_insert_tags(st, s->name, tags, n_tags);
	if (rc == 0 && cp_exec(st, "COMMIT"))
		rc = -EIO;
	if (rc)
		cp_exec(st, "ROLLBACK");
	return rc;
}

int cp_store_set_status(struct cp_store *st, const char *name, uint8_t status,
			int64_t deadline_ms)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "UPDATE streams SET status=?, deadline_ms=? WHERE name=?",
			       -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int(q, 1, status);
	sqlite3_bind_int64(q, 2, deadline_ms);
	sqlite3_bind_text(q, 3, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return -EIO;
	return sqlite3_changes(st->db) > 0 ? 0 : -ENOENT;
}

int cp_store_set_retention(struct cp_store *st, const char *name, uint32_t hours)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "UPDATE streams SET retention_hours=? WHERE name=?", -1,
			       &q, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int(q, 1, (int)hours);
	sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return -EIO;
	return sqlite3_changes(st->db) > 0 ? 0 : -ENOENT;
}

static int cp_delete_from(struct cp_store *st, const char *sql, const char *name)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int cp_store_remove(struct cp_store *st, const char *name)
{
	int rc;

	if (cp_exec(st, "BEGIN IMMEDIATE"))
		return -EIO;
	rc = cp_delete_from(st, "DELETE FROM shards WHERE stream=?", name);
	if (rc == 0)
		rc = cp_delete_from(st, "DELETE FROM tags WHERE stream=?", name);
	if (rc == 0)
		rc = cp_delete_from(st, "DELETE FROM scalings WHERE stream=?", name);
	if (rc == 0)
		rc = cp_delete_from(st, "DELETE FROM consumers WHERE stream=?", name);
	if (rc == 0)
		rc = cp_delete_from(st, "DELETE FROM stream_kms WHERE stream=?", name);
	if (rc == 0)
		rc = cp_delete_from(st, "DELETE FROM streams WHERE name=?", name);
	if (rc == 0 && cp_exec(st, "COMMIT"))
		rc = -EIO;
	if (rc)
		cp_exec(st, "ROLLBACK");
	return rc;
}

int cp_store_totals(struct cp_store *st, uint32_t *streams, uint64_t *shards)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT COUNT(*), TOTAL(shard_count) FROM streams", -1,
			       &q, NULL) != SQLITE_OK)
		return -EIO;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*streams = (uint32_t)sqlite3_column_int64(q, 0);
		*shards = (uint64_t)sqlite3_column_double(q, 1);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : -EIO;
}

int cp_store_list(struct cp_store *st, const char *after, uint32_t limit,
		  int (*cb)(void *arg, const struct cp_stream *s), void *arg)
{
	sqlite3_stmt *q;
	struct cp_stream s;
	int n = 0, rc;

	if (sqlite3_prepare_v2(st->db, "SELECT " CP_STREAM_COLS " FROM streams WHERE name > ? "
				       "ORDER BY name LIMIT ?", -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(q, 1, after ? after : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		cp_row_stream(q, &s);
		n++;
		if (cb(arg, &s))
			break;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? n : -EIO;
}

static void cp_col(sqlite3_stmt *q, int col, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(q, col);

	snprintf(out, cap, "%s", t ? (const char *)t : "");
}

static void cp_row_shard(sqlite3_stmt *q, struct cp_shard *sh)
{
	sh->index = (uint32_t)sqlite3_column_int(q, 0);
	cp_col(q, 1, sh->id, sizeof(sh->id));
	cp_col(q, 2, sh->hash_start, sizeof(sh->hash_start));
	cp_col(q, 3, sh->hash_end, sizeof(sh->hash_end));
	cp_col(q, 4, sh->start_seq, sizeof(sh->start_seq));
	cp_col(q, 5, sh->end_seq, sizeof(sh->end_seq));
	cp_col(q, 6, sh->parent, sizeof(sh->parent));
	cp_col(q, 7, sh->adjacent, sizeof(sh->adjacent));
	sh->created_ms = sqlite3_column_int64(q, 8);
	sh->closed_ms = sqlite3_column_int64(q, 9);
}

int cp_store_shards(struct cp_store *st, const char *name, const char *after, uint32_t limit,
		    int (*cb)(void *arg, const struct cp_shard *sh), void *arg)
{
	sqlite3_stmt *q;
	struct cp_shard sh;
	int n = 0, rc;

	if (sqlite3_prepare_v2(st->db, "SELECT idx, shard_id, hash_start, hash_end, start_seq, "
				       "end_seq, parent, adjacent_parent, created_ms, closed_ms "
				       "FROM shards WHERE stream=? AND shard_id > ? "
				       "ORDER BY idx LIMIT ?",
			       -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, after ? after : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		cp_row_shard(q, &sh);
		n++;
		if (cb(arg, &sh))
			break;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? n : -EIO;
}

int64_t cp_store_next_deadline(struct cp_store *st)
{
	sqlite3_stmt *q;
	int64_t d = INT64_MAX;

	if (sqlite3_prepare_v2(st->db, "SELECT MIN(d) FROM (SELECT MIN(deadline_ms) AS d FROM "
				       "streams WHERE deadline_ms > 0 UNION ALL SELECT "
				       "MIN(deadline_ms) FROM consumers WHERE deadline_ms > 0)",
			       -1, &q, NULL) != SQLITE_OK)
		return INT64_MAX;
	if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
		d = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return d;
}

static int cp_consumers_due(struct cp_store *st, int64_t now_ms);

int cp_store_run_due(struct cp_store *st, int64_t now_ms)
{
	sqlite3_stmt *q;
	char names[64][CP_NAME_MAX + 1];
	int status[64];
	int n = 0, done = 0;

	/* Collect first (bounded batch), then change: no writes under a
	 * running SELECT. The caller comes back for the rest. */
	if (sqlite3_prepare_v2(st->db, "SELECT name, status FROM streams WHERE deadline_ms > 0 "
				       "AND deadline_ms <= ? ORDER BY deadline_ms LIMIT 64",
			       -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(q, 1, now_ms);
	while (n < 64 && sqlite3_step(q) == SQLITE_ROW) {
		cp_col(q, 0, names[n], sizeof(names[n]));
		status[n++] = sqlite3_column_int(q, 1);
	}
	sqlite3_finalize(q);
	for (int i = 0; i < n; i++) {
		int rc;
		if (status[i] == CP_DELETING)
			rc = cp_store_remove(st, names[i]);
		else /* CREATING and UPDATING settle to ACTIVE */
			rc = cp_store_set_status(st, names[i], CP_ACTIVE, 0);
		if (rc == 0)
			done++;
		else
			SL_ERR("meta.db: lifecycle transition of %s failed: %d", names[i], rc);
	}
	int c = cp_consumers_due(st, now_ms);
	return c > 0 ? done + c : done;
}

/* --- resharding --- */

static int cp_close_parent(struct cp_store *st, const char *name, uint32_t idx, int64_t now_ms)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "UPDATE shards SET closed_ms=? WHERE stream=? AND idx=? "
				       "AND closed_ms=0", -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(q, 1, now_ms);
	sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 3, (int)idx);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return -EIO;
	return sqlite3_changes(st->db) == 1 ? 0 : -ESTALE;
}

static void cp_bind_opt(sqlite3_stmt *q, int col, const char *s)
{
	if (s[0])
		sqlite3_bind_text(q, col, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, col);
}

static int cp_insert_children(struct cp_store *st, const char *name, const struct cp_shard *c,
			      uint32_t n)
{
	sqlite3_stmt *q;
	int rc = 0;

	if (sqlite3_prepare_v2(st->db, "INSERT INTO shards(stream, idx, shard_id, hash_start, "
				       "hash_end, start_seq, parent, adjacent_parent, created_ms) "
				       "VALUES(?,?,?,?,?,?,?,?,?)", -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 2, (int)c[i].index);
		sqlite3_bind_text(q, 3, c[i].id, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, c[i].hash_start, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 5, c[i].hash_end, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 6, c[i].start_seq, -1, SQLITE_STATIC);
		cp_bind_opt(q, 7, c[i].parent);
		cp_bind_opt(q, 8, c[i].adjacent);
		sqlite3_bind_int64(q, 9, c[i].created_ms);
		rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_reset(q);
	}
	sqlite3_finalize(q);
	return rc;
}

static int cp_reshard_stream(struct cp_store *st, const char *name, int64_t delta,
			     uint8_t status, int64_t deadline_ms)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "UPDATE streams SET shard_count = shard_count + ?, "
				       "status=?, deadline_ms=? WHERE name=?", -1, &q, NULL) !=
	    SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(q, 1, delta);
	sqlite3_bind_int(q, 2, status);
	sqlite3_bind_int64(q, 3, deadline_ms);
	sqlite3_bind_text(q, 4, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return -EIO;
	return sqlite3_changes(st->db) > 0 ? 0 : -ENOENT;
}

int cp_store_reshard(struct cp_store *st, const char *name, const uint32_t *parents,
		     uint32_t n_parents, const struct cp_shard *children, uint32_t n_children,
		     int64_t now_ms, uint8_t status, int64_t deadline_ms)
{
	int rc = 0;

	if (cp_exec(st, "BEGIN IMMEDIATE"))
		return -EIO;
	for (uint32_t i = 0; i < n_parents && rc == 0; i++)
		rc = cp_close_parent(st, name, parents[i], now_ms);
	if (rc == 0)
		rc = cp_insert_children(st, name, children, n_children);
	if (rc == 0)
		rc = cp_reshard_stream(st, name, (int64_t)n_children - (int64_t)n_parents, status,
				       deadline_ms);
	if (rc == 0 && cp_exec(st, "COMMIT"))
		rc = -EIO;
	if (rc)
		cp_exec(st, "ROLLBACK");
	return rc;
}

int cp_store_shard_get(struct cp_store *st, const char *name, uint32_t index,
		       struct cp_shard *out)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT idx, shard_id, hash_start, hash_end, start_seq, "
				       "end_seq, parent, adjacent_parent, created_ms, closed_ms "
				       "FROM shards WHERE stream=? AND idx=?", -1, &q, NULL) !=
	    SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, index);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		cp_row_shard(q, out);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

/* One integer (or 0 for NULL) from a query with one text parameter. */
static int cp_query_i64(struct cp_store *st, const char *sql, const char *arg, int64_t arg2,
			int64_t *out)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	if (arg)
		sqlite3_bind_text(q, 1, arg, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(q) >= 2)
		sqlite3_bind_int64(q, 2, arg2);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : -EIO;
}

int cp_store_last_created(struct cp_store *st, const char *name, int64_t *out_ms)
{
	return cp_query_i64(st, "SELECT COALESCE(MAX(created_ms), 0) FROM shards WHERE stream=?",
			    name, 0, out_ms);
}

int cp_store_set_end_seq(struct cp_store *st, const char *name, uint32_t index,
			 const char *seq)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "UPDATE shards SET end_seq=? WHERE stream=? AND idx=?",
			       -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(q, 1, seq, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, index);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int cp_store_unsealed(struct cp_store *st,
		      int (*cb)(void *arg, uint64_t stream_id, const char *name, uint32_t index),
		      void *arg)
{
	sqlite3_stmt *q;
	char names[64][CP_NAME_MAX + 1];
	uint64_t ids[64];
	uint32_t idx[64];
	int n = 0;

	/* Collect first: the callback writes to the store. */
	if (sqlite3_prepare_v2(st->db, "SELECT s.name, s.id, h.idx FROM shards h JOIN streams s "
				       "ON s.name = h.stream WHERE h.closed_ms > 0 AND "
				       "h.end_seq IS NULL ORDER BY s.name, h.idx LIMIT 64",
			       -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	while (n < 64 && sqlite3_step(q) == SQLITE_ROW) {
		cp_col(q, 0, names[n], sizeof(names[n]));
		ids[n] = (uint64_t)sqlite3_column_int64(q, 1);
		idx[n++] = (uint32_t)sqlite3_column_int64(q, 2);
	}
	sqlite3_finalize(q);
	for (int i = 0; i < n; i++)
		if (cb(arg, ids[i], names[i], idx[i]))
			break;
	return n;
}

int cp_store_set_int(struct cp_store *st, const char *name, const char *col, int64_t value)
{
	char sql[128];
	sqlite3_stmt *q;
	int rc;

	BUG_ON(strcmp(col, "mode") && strcmp(col, "max_record_kib") &&
	       strcmp(col, "warm_mibps") && strcmp(col, "metrics"));
	snprintf(sql, sizeof(sql), "UPDATE streams SET %s=? WHERE name=?", col);
	if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(q, 1, value);
	sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return -EIO;
	return sqlite3_changes(st->db) > 0 ? 0 : -ENOENT;
}

int cp_store_on_demand_count(struct cp_store *st, uint32_t *out)
{
	int64_t n = 0;
	int rc = cp_query_i64(st, "SELECT COUNT(*) FROM streams WHERE mode=2", NULL, 0, &n);

	*out = (uint32_t)n;
	return rc;
}

int cp_store_scalings(struct cp_store *st, const char *name, int64_t since_ms, uint32_t *out)
{
	int64_t n = 0;
	int rc = cp_query_i64(st, "SELECT COUNT(*) FROM scalings WHERE stream=? AND at_ms>=?",
			      name, since_ms, &n);

	*out = (uint32_t)n;
	return rc;
}

int cp_store_add_scaling(struct cp_store *st, const char *name, int64_t at_ms)
{
	sqlite3_stmt *q;
	int rc;

	/* Older entries no longer count: keep the table bounded. */
	if (sqlite3_prepare_v2(st->db, "DELETE FROM scalings WHERE stream=? AND at_ms<?", -1, &q,
			       NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, at_ms - 24 * 3600 * 1000LL);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE ||
	    sqlite3_prepare_v2(st->db, "INSERT INTO scalings VALUES(?,?)", -1, &q, NULL) !=
		    SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, at_ms);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* --- tags --- */

int cp_store_tags(struct cp_store *st, const char *name, const char *after, uint32_t limit,
		  int (*cb)(void *arg, const struct cp_tag *t), void *arg)
{
	sqlite3_stmt *q;
	struct cp_tag t;
	int n = 0, rc;

	if (sqlite3_prepare_v2(st->db, "SELECT key, value FROM tags WHERE stream=? AND key > ? "
				       "ORDER BY key LIMIT ?", -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, after ? after : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		cp_col(q, 0, t.key, sizeof(t.key));
		cp_col(q, 1, t.value, sizeof(t.value));
		n++;
		if (cb(arg, &t))
			break;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? n : -EIO;
}

int cp_store_tags_put(struct cp_store *st, const char *name, const struct cp_tag *tags,
		      uint32_t n)
{
	int rc;

	if (cp_exec(st, "BEGIN IMMEDIATE"))
		return -EIO;
	rc = cp_insert_tags(st, name, tags, n);
	if (rc == 0 && cp_exec(st, "COMMIT"))
		rc = -EIO;
	if (rc)
		cp_exec(st, "ROLLBACK");
	return rc;
}

int cp_store_tags_del(struct cp_store *st, const char *name, char (*keys)[CP_TAG_KEY_CAP],
		      uint32_t n)
{
	sqlite3_stmt *q;
	int rc = 0;

	if (cp_exec(st, "BEGIN IMMEDIATE"))
		return -EIO;
	if (sqlite3_prepare_v2(st->db, "DELETE FROM tags WHERE stream=? AND key=?", -1, &q,
			       NULL) != SQLITE_OK) {
		cp_exec(st, "ROLLBACK");
		return -EIO;
	}
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, keys[i], -1, SQLITE_STATIC);
		rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_reset(q);
	}
	sqlite3_finalize(q);
	if (rc == 0 && cp_exec(st, "COMMIT"))
		rc = -EIO;
	if (rc)
		cp_exec(st, "ROLLBACK");
	return rc;
}

/* --- account settings --- */

int cp_store_meta_get(struct cp_store *st, const char *key, char *out, size_t cap)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key=?", -1, &q, NULL) !=
	    SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		cp_col(q, 0, out, cap);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

int cp_store_meta_set(struct cp_store *st, const char *key, const char *value)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO meta VALUES(?,?)", -1, &q, NULL) !=
	    SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* --- consumers --- */

#define CP_CONSUMER_COLS "stream, name, arn, status, created_ms, deadline_ms"

static void cp_row_consumer(sqlite3_stmt *q, struct cp_consumer *c)
{
	memset(c, 0, sizeof(*c));
	cp_col(q, 0, c->stream, sizeof(c->stream));
	cp_col(q, 1, c->name, sizeof(c->name));
	cp_col(q, 2, c->arn, sizeof(c->arn));
	c->status = (uint8_t)sqlite3_column_int(q, 3);
	c->created_ms = sqlite3_column_int64(q, 4);
	c->deadline_ms = sqlite3_column_int64(q, 5);
}

int cp_store_consumer_add(struct cp_store *st, const struct cp_consumer *c)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "INSERT INTO consumers(" CP_CONSUMER_COLS ") "
				       "VALUES(?,?,?,?,?,?)", -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(q, 1, c->stream, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, c->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, c->arn, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 4, c->status);
	sqlite3_bind_int64(q, 5, c->created_ms);
	sqlite3_bind_int64(q, 6, c->deadline_ms);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int cp_store_consumer_get(struct cp_store *st, const char *stream, const char *key,
			  struct cp_consumer *out)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, stream ? "SELECT " CP_CONSUMER_COLS " FROM consumers "
						"WHERE stream=? AND name=?"
					      : "SELECT " CP_CONSUMER_COLS " FROM consumers "
						"WHERE arn=?", -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	if (stream) {
		sqlite3_bind_text(q, 1, stream, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
	} else {
		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	}
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		cp_row_consumer(q, out);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

int cp_store_consumer_set_status(struct cp_store *st, const char *stream, const char *name,
				 uint8_t status, int64_t deadline_ms)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "UPDATE consumers SET status=?, deadline_ms=? "
				       "WHERE stream=? AND name=?", -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int(q, 1, status);
	sqlite3_bind_int64(q, 2, deadline_ms);
	sqlite3_bind_text(q, 3, stream, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return -EIO;
	return sqlite3_changes(st->db) > 0 ? 0 : -ENOENT;
}

int cp_store_consumer_remove(struct cp_store *st, const char *stream, const char *name)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "DELETE FROM consumers WHERE stream=? AND name=?", -1, &q,
			       NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(q, 1, stream, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int cp_store_consumers_deleting(struct cp_store *st, const char *stream, int64_t deadline_ms)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "UPDATE consumers SET status=?, deadline_ms=? "
				       "WHERE stream=?", -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int(q, 1, CP_DELETING);
	sqlite3_bind_int64(q, 2, deadline_ms);
	sqlite3_bind_text(q, 3, stream, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int cp_store_consumer_counts(struct cp_store *st, const char *stream, uint32_t *total,
			     uint32_t *creating)
{
	int64_t a = 0, b = 0;
	int rc = cp_query_i64(st, "SELECT COUNT(*) FROM consumers WHERE stream=?", stream, 0,
			      &a);

	if (rc == 0)
		rc = cp_query_i64(st, "SELECT COUNT(*) FROM consumers WHERE stream=? AND status=?",
				  stream, CP_CREATING, &b);
	*total = (uint32_t)a;
	*creating = (uint32_t)b;
	return rc;
}

int cp_store_consumers(struct cp_store *st, const char *stream, const char *after,
		       uint32_t limit, int (*cb)(void *arg, const struct cp_consumer *c),
		       void *arg)
{
	sqlite3_stmt *q;
	struct cp_consumer c;
	int n = 0, rc;

	if (sqlite3_prepare_v2(st->db, "SELECT " CP_CONSUMER_COLS " FROM consumers WHERE "
				       "stream=? AND name > ? ORDER BY name LIMIT ?", -1, &q,
			       NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(q, 1, stream, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, after ? after : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		cp_row_consumer(q, &c);
		n++;
		if (cb(arg, &c))
			break;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? n : -EIO;
}

int cp_store_route_consumers(struct cp_store *st,
			     int (*cb)(void *arg, const struct cp_consumer *c, uint64_t id),
			     void *arg)
{
	sqlite3_stmt *q;
	struct cp_consumer c;
	int n = 0, rc;

	/* ORDER BY arn: binary collation, the strcmp order readers search in */
	if (sqlite3_prepare_v2(st->db, "SELECT c.stream, c.name, c.arn, c.status, c.created_ms, "
				       "c.deadline_ms, s.id FROM consumers c JOIN streams s ON "
				       "s.name = c.stream WHERE c.status=? AND s.status IN (?,?) "
				       "ORDER BY c.arn", -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int(q, 1, CP_ACTIVE);
	sqlite3_bind_int(q, 2, CP_ACTIVE);
	sqlite3_bind_int(q, 3, CP_UPDATING);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		cp_row_consumer(q, &c);
		n++;
		if (cb(arg, &c, (uint64_t)sqlite3_column_int64(q, 6)))
			break;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? n : -EIO;
}

/* Consumer lifecycles: CREATING -> ACTIVE, DELETING -> removed. Bounded
 * batch, like the streams'. */
static int cp_consumers_due(struct cp_store *st, int64_t now_ms)
{
	sqlite3_stmt *q;
	char streams[64][CP_NAME_MAX + 1], names[64][CP_NAME_MAX + 1];
	int status[64];
	int n = 0, done = 0;

	if (sqlite3_prepare_v2(st->db, "SELECT stream, name, status FROM consumers WHERE "
				       "deadline_ms > 0 AND deadline_ms <= ? ORDER BY deadline_ms "
				       "LIMIT 64", -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(q, 1, now_ms);
	while (n < 64 && sqlite3_step(q) == SQLITE_ROW) {
		cp_col(q, 0, streams[n], sizeof(streams[n]));
		cp_col(q, 1, names[n], sizeof(names[n]));
		status[n++] = sqlite3_column_int(q, 2);
	}
	sqlite3_finalize(q);
	for (int i = 0; i < n; i++) {
		int rc;
		if (status[i] == CP_DELETING)
			rc = cp_store_consumer_remove(st, streams[i], names[i]);
		else
			rc = cp_store_consumer_set_status(st, streams[i], names[i], CP_ACTIVE, 0);
		if (rc == 0)
			done++;
		else
			SL_ERR("meta.db: consumer %s/%s transition failed: %d", streams[i], names[i],
			       rc);
	}
	return done;
}

/* --- encryption --- */

int cp_store_set_encryption(struct cp_store *st, const char *name, const char *key_id,
			    uint8_t status, int64_t deadline_ms)
{
	sqlite3_stmt *q;
	int rc;

	if (cp_exec(st, "BEGIN IMMEDIATE"))
		return -EIO;
	rc = cp_delete_from(st, "DELETE FROM stream_kms WHERE stream=?", name);
	if (rc == 0 && key_id) {
		rc = -EIO;
		if (sqlite3_prepare_v2(st->db, "INSERT INTO stream_kms VALUES(?,?)", -1, &q,
				       NULL) == SQLITE_OK) {
			sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
			sqlite3_bind_text(q, 2, key_id, -1, SQLITE_STATIC);
			rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -EIO;
			sqlite3_finalize(q);
		}
	}
	if (rc == 0)
		rc = cp_store_set_status(st, name, status, deadline_ms);
	if (rc == 0 && cp_exec(st, "COMMIT"))
		rc = -EIO;
	if (rc)
		cp_exec(st, "ROLLBACK");
	return rc;
}

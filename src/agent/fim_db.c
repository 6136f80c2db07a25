#include "agent/fim_db.h"

#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define LOG_COMP       "fim"
#define SCHEMA_VERSION 2

struct trl_fim_db {
    sqlite3 *db;
    sqlite3_stmt *put;
    sqlite3_stmt *del;
    sqlite3_stmt *root;
    sqlite3_stmt *get;
    sqlite3_stmt *seen;
    char *path;
};

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS files("
    " path TEXT PRIMARY KEY, type INTEGER NOT NULL, hash_state INTEGER NOT NULL,"
    " mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, size INTEGER NOT NULL,"
    " ino INTEGER NOT NULL, dev INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
    " ctime_ns INTEGER NOT NULL, sha256 BLOB, gen INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS roots(path TEXT PRIMARY KEY) WITHOUT ROWID;";
/* Version 1 had no scan generation: its rows count as not seen since. */
static const char UPGRADE_1[] = "ALTER TABLE files ADD COLUMN gen INTEGER NOT NULL DEFAULT 0;";
#define ENTRY_COLUMNS "path,type,hash_state,mode,uid,gid,size,ino,dev,mtime_ns,ctime_ns,sha256"

static int fail(struct trl_fim_db *db, const char *what)
{
    trl_error(LOG_COMP, "baseline database %s failed path=%s err=\"%s\"", what, db->path,
              sqlite3_errmsg(db->db));
    return -EIO;
}

int trl_fim_db_open(const char *path, struct trl_fim_db **out)
{
    *out = NULL;
    struct trl_fim_db *db = trl_xcalloc(1, sizeof(*db));
    db->path = trl_xstrdup(path);
    int rc = -EIO;
    if (sqlite3_open_v2(path, &db->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = fail(db, "open");
        goto out;
    }
    /* WAL with synchronous=NORMAL: a commit costs no fsync, and a crash loses at most the last
     * transactions, never the database's consistency; the next scan redoes what was lost. */
    if (sqlite3_exec(db->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                     NULL) != SQLITE_OK) {
        rc = fail(db, "setup");
        goto out;
    }
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(db->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version != 0 && version != 1 && version != SCHEMA_VERSION) {
        trl_error(LOG_COMP, "baseline database has unknown version path=%s version=%d", path,
                  version);
        rc = TRL_EINVAL;
        goto out;
    }
    if ((version == 1 && sqlite3_exec(db->db, UPGRADE_1, NULL, NULL, NULL) != SQLITE_OK) ||
        sqlite3_exec(db->db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db->db, "PRAGMA user_version=2", NULL, NULL, NULL) != SQLITE_OK) {
        rc = fail(db, "schema");
        goto out;
    }
    if (sqlite3_prepare_v2(db->db,
                           "INSERT OR REPLACE INTO files(" ENTRY_COLUMNS
                           ",gen) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &db->put, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db->db, "SELECT " ENTRY_COLUMNS " FROM files WHERE path=?", -1, &db->get,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db->db, "UPDATE files SET gen=? WHERE path=? AND gen<>?1", -1, &db->seen,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db->db, "DELETE FROM files WHERE path=?", -1, &db->del, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(db->db, "INSERT OR IGNORE INTO roots VALUES(?)", -1, &db->root, NULL) !=
            SQLITE_OK) {
        rc = fail(db, "prepare");
        goto out;
    }
    *out = db;
    return 0;
out:
    trl_fim_db_close(db);
    return rc;
}

void trl_fim_db_close(struct trl_fim_db *db)
{
    if (!db)
        return;
    sqlite3_finalize(db->put);
    sqlite3_finalize(db->del);
    sqlite3_finalize(db->root);
    sqlite3_finalize(db->get);
    sqlite3_finalize(db->seen);
    sqlite3_close(db->db);
    free(db->path);
    free(db);
}

void trl_fim_db_trim(struct trl_fim_db *db)
{
    if (db)
        sqlite3_db_release_memory(db->db);
}

/* The entry of a row selected with ENTRY_COLUMNS; NULL path for a row without one. */
static const char *row_entry(sqlite3_stmt *st, struct trl_fim_entry *e)
{
    *e = (struct trl_fim_entry){
        .type = (uint8_t)sqlite3_column_int(st, 1),
        .hash_state = (uint8_t)sqlite3_column_int(st, 2),
        .mode = (uint32_t)sqlite3_column_int64(st, 3),
        .uid = (uint32_t)sqlite3_column_int64(st, 4),
        .gid = (uint32_t)sqlite3_column_int64(st, 5),
        .size = (uint64_t)sqlite3_column_int64(st, 6),
        .ino = (uint64_t)sqlite3_column_int64(st, 7),
        .dev = (uint64_t)sqlite3_column_int64(st, 8),
        .mtime_ns = sqlite3_column_int64(st, 9),
        .ctime_ns = sqlite3_column_int64(st, 10),
    };
    const void *h = sqlite3_column_blob(st, 11);
    if (h && sqlite3_column_bytes(st, 11) == (int)sizeof(e->sha256))
        memcpy(e->sha256, h, sizeof(e->sha256));
    else if (e->hash_state == TRL_FIM_HASH_OK)
        e->hash_state = TRL_FIM_HASH_NONE;
    return (const char *)sqlite3_column_text(st, 0);
}

int trl_fim_db_load_roots(struct trl_fim_db *db, void (*root)(void *ud, const char *path), void *ud,
                          uint32_t *gen)
{
    sqlite3_stmt *st;
    int rc;
    *gen = 0;
    if (sqlite3_prepare_v2(db->db, "SELECT max(gen) FROM files", -1, &st, NULL) != SQLITE_OK)
        return fail(db, "load");
    if (sqlite3_step(st) == SQLITE_ROW)
        *gen = (uint32_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db->db, "SELECT path FROM roots", -1, &st, NULL) != SQLITE_OK)
        return fail(db, "load");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *path = (const char *)sqlite3_column_text(st, 0);
        if (path)
            root(ud, path);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(db, "load");
}

int trl_fim_db_get(struct trl_fim_db *db, const char *path, struct trl_fim_entry *e)
{
    sqlite3_stmt *st = db->get;
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    bool found = rc == SQLITE_ROW && row_entry(st, e);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(db, "read");
    return found ? 1 : 0;
}

int trl_fim_db_select(struct trl_fim_db *db, const char *prefix, bool below_only, uint32_t gen,
                      void (*fn)(void *ud, const char *path, const struct trl_fim_entry *e),
                      void *ud)
{
    sqlite3_stmt *st;
    const char *sql = !prefix ? "SELECT " ENTRY_COLUMNS " FROM files WHERE gen<>?1"
                      : strcmp(prefix, "/") == 0
                          ? "SELECT " ENTRY_COLUMNS " FROM files WHERE ?2 OR path<>'/'"
                          /* Below p: the paths from "p/" up to "p0" ('0' follows '/'). */
                          : "SELECT " ENTRY_COLUMNS " FROM files WHERE (?2 AND path=?3)"
                            " OR (path>?3||'/' AND path<?3||'0')";
    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK)
        return fail(db, "read");
    if (!prefix) {
        sqlite3_bind_int64(st, 1, gen);
    } else {
        sqlite3_bind_int(st, 2, !below_only);
        if (strcmp(prefix, "/") != 0)
            sqlite3_bind_text(st, 3, prefix, -1, SQLITE_STATIC);
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct trl_fim_entry e;
        const char *path = row_entry(st, &e);
        if (path)
            fn(ud, path, &e);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(db, "read");
}

int trl_fim_db_count(struct trl_fim_db *db, uint64_t *count)
{
    sqlite3_stmt *st;
    *count = 0;
    if (sqlite3_prepare_v2(db->db, "SELECT count(*) FROM files", -1, &st, NULL) != SQLITE_OK)
        return fail(db, "read");
    if (sqlite3_step(st) == SQLITE_ROW)
        *count = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

int trl_fim_db_begin(struct trl_fim_db *db)
{
    return sqlite3_exec(db->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(db, "begin");
}

int trl_fim_db_commit(struct trl_fim_db *db)
{
    return sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(db, "commit");
}

static int step_reset(struct trl_fim_db *db, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : fail(db, what);
}

int trl_fim_db_put(struct trl_fim_db *db, const char *path, const struct trl_fim_entry *e,
                   uint32_t gen)
{
    sqlite3_stmt *st = db->put;
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, e->type);
    sqlite3_bind_int(st, 3, e->hash_state);
    sqlite3_bind_int64(st, 4, e->mode);
    sqlite3_bind_int64(st, 5, e->uid);
    sqlite3_bind_int64(st, 6, e->gid);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)e->size);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)e->ino);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)e->dev);
    sqlite3_bind_int64(st, 10, e->mtime_ns);
    sqlite3_bind_int64(st, 11, e->ctime_ns);
    if (e->hash_state == TRL_FIM_HASH_OK)
        sqlite3_bind_blob(st, 12, e->sha256, sizeof(e->sha256), SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 12);
    sqlite3_bind_int64(st, 13, gen);
    return step_reset(db, st, "write");
}

int trl_fim_db_seen(struct trl_fim_db *db, const char *path, uint32_t gen)
{
    sqlite3_bind_int64(db->seen, 1, gen);
    sqlite3_bind_text(db->seen, 2, path, -1, SQLITE_STATIC);
    return step_reset(db, db->seen, "write");
}

int trl_fim_db_delete(struct trl_fim_db *db, const char *path)
{
    sqlite3_bind_text(db->del, 1, path, -1, SQLITE_STATIC);
    return step_reset(db, db->del, "delete");
}

int trl_fim_db_add_root(struct trl_fim_db *db, const char *path)
{
    sqlite3_bind_text(db->root, 1, path, -1, SQLITE_STATIC);
    return step_reset(db, db->root, "write");
}

#include "ioc/iocdb.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "formats/json_encode.h"
#include "ioc/matcher.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct trl_iocdb {
    sqlite3 *db;
    sqlite3_stmt *upsert;
    sqlite3_stmt *remove;
    bool in_tx;
};

static const char *schema = "CREATE TABLE IF NOT EXISTS indicators ("
                            "  rowid INTEGER PRIMARY KEY,"
                            "  ioc_id TEXT NOT NULL,"
                            "  type TEXT NOT NULL,"
                            "  value TEXT NOT NULL,"
                            "  source TEXT NOT NULL,"
                            "  confidence INTEGER NOT NULL,"
                            "  valid_from INTEGER NOT NULL DEFAULT 0,"
                            "  valid_until INTEGER NOT NULL DEFAULT 0,"
                            "  tags TEXT NOT NULL DEFAULT '[]',"
                            "  labels TEXT NOT NULL DEFAULT '[]',"
                            "  description TEXT,"
                            "  first_imported INTEGER NOT NULL,"
                            "  last_imported INTEGER NOT NULL,"
                            "  imports INTEGER NOT NULL DEFAULT 1,"
                            "  UNIQUE (type, value, source));"
                            "CREATE INDEX IF NOT EXISTS indicators_id ON indicators(ioc_id);"
                            "CREATE INDEX IF NOT EXISTS indicators_source ON indicators(source);"
                            "CREATE TABLE IF NOT EXISTS feeds ("
                            "  name TEXT PRIMARY KEY,"
                            "  format TEXT,"
                            "  url TEXT,"
                            "  last_fetch INTEGER,"
                            "  count INTEGER NOT NULL DEFAULT 0,"
                            "  last_error TEXT);"
                            "PRAGMA user_version = 1;";

static int prepare(struct trl_iocdb *db, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(db->db, sql, -1, st, NULL) != SQLITE_OK) {
        trl_error("iocdb", "prepare failed error=\"%s\"", sqlite3_errmsg(db->db));
        return -EIO;
    }
    return 0;
}

struct trl_iocdb *trl_iocdb_open_path(const char *path, bool read_only)
{
    struct trl_iocdb *db = trl_xcalloc(1, sizeof(*db));
    int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &db->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        trl_error("iocdb", "cannot open path=%s error=\"%s\"", path,
                  db->db ? sqlite3_errmsg(db->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(db->db, 5000);
    if (!read_only) {
        char *err = NULL;
        /* A feed of a million indicators writes three indexes in random order: a page cache
         * of up to 256 MiB (used only as needed) keeps that from
         * turning into random I/O. */
        if (sqlite3_exec(db->db,
                         "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                         " PRAGMA cache_size=-262144; PRAGMA temp_store=MEMORY;",
                         NULL, NULL, &err) != SQLITE_OK ||
            sqlite3_exec(db->db, schema, NULL, NULL, &err) != SQLITE_OK) {
            trl_error("iocdb", "cannot initialise path=%s error=\"%s\"", path, err ? err : "");
            sqlite3_free(err);
            goto fail;
        }
        if (prepare(db,
                    "INSERT INTO indicators (ioc_id, type, value, source, confidence, valid_from,"
                    " valid_until, tags, labels, description, first_imported, last_imported)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)"
                    /* A row written earlier in the same import (the same value twice in one
                     * feed) is merged: the widest validity, the highest confidence, all tags.
                     * A row from an earlier import is replaced: the feed's current word. */
                    " ON CONFLICT (type, value, source) DO UPDATE SET"
                    " ioc_id = iif(last_imported = excluded.last_imported, ioc_id,"
                    "   excluded.ioc_id),"
                    " confidence = iif(last_imported = excluded.last_imported,"
                    "   max(confidence, excluded.confidence), excluded.confidence),"
                    " valid_from = iif(last_imported = excluded.last_imported,"
                    "   iif(valid_from = 0 OR excluded.valid_from = 0, 0,"
                    "     min(valid_from, excluded.valid_from)), excluded.valid_from),"
                    " valid_until = iif(last_imported = excluded.last_imported,"
                    "   iif(valid_until = 0 OR excluded.valid_until = 0, 0,"
                    "     max(valid_until, excluded.valid_until)), excluded.valid_until),"
                    " tags = iif(last_imported = excluded.last_imported,"
                    "   (SELECT json_group_array(value) FROM (SELECT value FROM json_each(tags)"
                    "    UNION SELECT value FROM json_each(excluded.tags))), excluded.tags),"
                    " labels = iif(last_imported = excluded.last_imported,"
                    "   (SELECT json_group_array(value) FROM (SELECT value FROM json_each(labels)"
                    "    UNION SELECT value FROM json_each(excluded.labels))), excluded.labels),"
                    " description = iif(last_imported = excluded.last_imported,"
                    "   coalesce(description, excluded.description), excluded.description),"
                    " last_imported = excluded.last_imported, imports = imports + 1"
                    " RETURNING imports",
                    &db->upsert) ||
            prepare(db, "DELETE FROM indicators WHERE ioc_id = ?1", &db->remove))
            goto fail;
    }
    return db;
fail:
    trl_iocdb_close(db);
    return NULL;
}

struct trl_iocdb *trl_iocdb_open(const char *data_dir, bool read_only)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/ioc.db", data_dir);
    return trl_iocdb_open_path(path, read_only);
}

void trl_iocdb_close(struct trl_iocdb *db)
{
    if (!db)
        return;
    if (db->in_tx)
        trl_iocdb_commit(db);
    sqlite3_finalize(db->upsert);
    sqlite3_finalize(db->remove);
    sqlite3_close(db->db);
    free(db);
}

static int exec(struct trl_iocdb *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        trl_error("iocdb", "%s failed error=\"%s\"", sql, err ? err : "");
        sqlite3_free(err);
        return -EIO;
    }
    return 0;
}

int trl_iocdb_begin(struct trl_iocdb *db)
{
    if (db->in_tx)
        return 0;
    int rc = exec(db, "BEGIN");
    db->in_tx = rc == 0;
    return rc;
}

int trl_iocdb_commit(struct trl_iocdb *db)
{
    if (!db->in_tx)
        return 0;
    db->in_tx = false;
    return exec(db, "COMMIT");
}

int trl_iocdb_rollback(struct trl_iocdb *db)
{
    if (!db->in_tx)
        return 0;
    db->in_tx = false;
    return exec(db, "ROLLBACK");
}

static void json_array(struct trl_buf *b, const char *const *v, size_t n)
{
    trl_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            trl_buf_putc(b, ',');
        trl_json_append_string(b, v[i], strlen(v[i]));
    }
    trl_buf_putc(b, ']');
}

int trl_iocdb_upsert(struct trl_iocdb *db, const struct trl_ioc *ioc, int64_t now_ns, bool *created)
{
    if (!db->upsert)
        return TRL_EINVAL;
    char derived[TRL_IOC_DERIVED_ID_SIZE];
    const char *id = ioc->id;
    if (!id || !*id) {
        trl_ioc_derive_id(ioc->type, ioc->source, ioc->value, derived);
        id = derived;
    }
    struct trl_buf tags = {0}, labels = {0};
    json_array(&tags, ioc->tags, ioc->ntags);
    json_array(&labels, ioc->labels, ioc->nlabels);
    sqlite3_stmt *st = db->upsert;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, trl_ioc_type_name(ioc->type), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, ioc->value, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, ioc->source ? ioc->source : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, ioc->confidence);
    sqlite3_bind_int64(st, 6, ioc->valid_from_ns);
    sqlite3_bind_int64(st, 7, ioc->valid_until_ns);
    sqlite3_bind_text(st, 8, tags.data, (int)tags.len, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, labels.data, (int)labels.len, SQLITE_STATIC);
    if (ioc->description)
        sqlite3_bind_text(st, 10, ioc->description, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 10);
    sqlite3_bind_int64(st, 11, now_ns);
    int rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        if (created)
            *created = sqlite3_column_int64(st, 0) == 1;
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        trl_error("iocdb", "write failed error=\"%s\"", sqlite3_errmsg(db->db));
        ret = rc == SQLITE_FULL ? -ENOSPC : -EIO;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    trl_buf_free(&tags);
    trl_buf_free(&labels);
    return ret;
}

long trl_iocdb_remove(struct trl_iocdb *db, const char *id)
{
    if (!db->remove)
        return TRL_EINVAL;
    sqlite3_bind_text(db->remove, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(db->remove);
    sqlite3_reset(db->remove);
    if (rc != SQLITE_DONE) {
        trl_error("iocdb", "remove failed error=\"%s\"", sqlite3_errmsg(db->db));
        return -EIO;
    }
    return (long)sqlite3_changes(db->db);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

long trl_iocdb_list(struct trl_iocdb *db, const struct trl_iocdb_filter *f,
                    int (*each)(void *ud, const struct trl_iocdb_row *row), void *ud)
{
    struct trl_buf sql = {0};
    trl_buf_puts(&sql, "SELECT rowid, ioc_id, type, value, source, confidence, valid_from,"
                       " valid_until, tags, labels, description, first_imported, last_imported"
                       " FROM indicators WHERE 1");
    int n = 0;
    if (f && f->ntypes) {
        trl_buf_puts(&sql, " AND type IN (");
        for (size_t i = 0; i < f->ntypes; i++)
            trl_buf_printf(&sql, "%s?%d", i ? "," : "", ++n);
        trl_buf_puts(&sql, ")");
    }
    int p_source = 0, p_id = 0, p_tag = 0, p_text = 0, p_at = 0;
    if (f && f->source)
        trl_buf_printf(&sql, " AND source = ?%d", p_source = ++n);
    if (f && f->id)
        trl_buf_printf(&sql, " AND ioc_id = ?%d", p_id = ++n);
    if (f && f->tag)
        trl_buf_printf(&sql, " AND instr(tags, ?%d) > 0", p_tag = ++n);
    if (f && f->text)
        trl_buf_printf(&sql, " AND instr(value, ?%d) > 0", p_text = ++n);
    if (f && f->valid_at) {
        p_at = ++n;
        trl_buf_printf(&sql,
                       " AND (valid_from = 0 OR valid_from <= ?%d)"
                       " AND (valid_until = 0 OR valid_until > ?%d)",
                       p_at, p_at);
    }
    if (!f || !f->any_order)
        trl_buf_puts(&sql, " ORDER BY source, type, value");
    if (f && f->limit)
        trl_buf_printf(&sql, " LIMIT %zu", f->limit);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, sql.data, -1, &st, NULL) != SQLITE_OK) {
        trl_error("iocdb", "list failed error=\"%s\"", sqlite3_errmsg(db->db));
        trl_buf_free(&sql);
        return -EIO;
    }
    trl_buf_free(&sql);
    for (size_t i = 0; f && i < f->ntypes; i++)
        sqlite3_bind_text(st, (int)i + 1, trl_ioc_type_name(f->types[i]), -1, SQLITE_STATIC);
    if (p_source)
        sqlite3_bind_text(st, p_source, f->source, -1, SQLITE_STATIC);
    if (p_id)
        sqlite3_bind_text(st, p_id, f->id, -1, SQLITE_STATIC);
    if (p_tag)
        sqlite3_bind_text(st, p_tag, f->tag, -1, SQLITE_STATIC);
    if (p_text)
        sqlite3_bind_text(st, p_text, f->text, -1, SQLITE_STATIC);
    if (p_at)
        sqlite3_bind_int64(st, p_at, f->valid_at);
    long count = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *type = col_text(st, 2);
        struct trl_iocdb_row row = {
            .rowid = sqlite3_column_int64(st, 0),
            .ioc =
                {
                    .id = col_text(st, 1),
                    .type = trl_ioc_type_from_name(type ? type : "", type ? strlen(type) : 0),
                    .value = col_text(st, 3),
                    .source = col_text(st, 4),
                    .confidence = sqlite3_column_int(st, 5),
                    .valid_from_ns = sqlite3_column_int64(st, 6),
                    .valid_until_ns = sqlite3_column_int64(st, 7),
                    .description = col_text(st, 10),
                },
            .tags_json = col_text(st, 8),
            .labels_json = col_text(st, 9),
            .first_imported_ns = sqlite3_column_int64(st, 11),
            .last_imported_ns = sqlite3_column_int64(st, 12),
        };
        if (!row.ioc.value || !row.ioc.id || !row.ioc.source)
            continue;
        count++;
        if (each && each(ud, &row))
            break;
    }
    long ret = count;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        trl_error("iocdb", "list failed error=\"%s\"", sqlite3_errmsg(db->db));
        ret = -EIO;
    }
    sqlite3_finalize(st);
    return ret;
}

long trl_iocdb_count(struct trl_iocdb *db, const char *source)
{
    sqlite3_stmt *st;
    const char *sql = source ? "SELECT count(*) FROM indicators WHERE source = ?1"
                             : "SELECT count(*) FROM indicators";
    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    if (source)
        sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
    long n = sqlite3_step(st) == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : -EIO;
    sqlite3_finalize(st);
    return n;
}

int trl_iocdb_feed_update(struct trl_iocdb *db, const char *name, const char *format,
                          const char *url, int64_t fetched_ns, const char *error)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db,
                           "INSERT INTO feeds (name, format, url, last_fetch, count, last_error)"
                           " VALUES (?1, ?2, ?3, ?4,"
                           " (SELECT count(*) FROM indicators WHERE source = ?1), ?5)"
                           " ON CONFLICT (name) DO UPDATE SET format = excluded.format,"
                           " url = coalesce(excluded.url, url), last_fetch = excluded.last_fetch,"
                           " count = excluded.count, last_error = excluded.last_error",
                           -1, &st, NULL) != SQLITE_OK) {
        trl_error("iocdb", "feed update failed error=\"%s\"", sqlite3_errmsg(db->db));
        return -EIO;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, format, -1, SQLITE_STATIC);
    if (url)
        sqlite3_bind_text(st, 3, url, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_int64(st, 4, fetched_ns);
    if (error)
        sqlite3_bind_text(st, 5, error, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 5);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        trl_error("iocdb", "feed update failed error=\"%s\"", sqlite3_errmsg(db->db));
        return -EIO;
    }
    return 0;
}

long trl_iocdb_feeds(struct trl_iocdb *db, int (*each)(void *ud, const struct trl_iocdb_feed *feed),
                     void *ud)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db,
                           "SELECT name, format, url, last_fetch, count, last_error FROM feeds"
                           " ORDER BY name",
                           -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    long n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct trl_iocdb_feed f = {
            .name = col_text(st, 0),
            .format = col_text(st, 1),
            .url = col_text(st, 2),
            .last_fetch_ns = sqlite3_column_int64(st, 3),
            .count = sqlite3_column_int64(st, 4),
            .last_error = col_text(st, 5),
        };
        if (!f.name)
            continue;
        n++;
        if (each && each(ud, &f))
            break;
    }
    sqlite3_finalize(st);
    return n;
}

static int add_row(void *ud, const struct trl_iocdb_row *row)
{
    struct trl_ioc_builder *b = ud;
    int rc = trl_ioc_builder_add(b, &row->ioc, row->tags_json);
    if (rc == TRL_EINVAL)
        trl_warn("iocdb", "skipping malformed indicator id=%s type=%s", row->ioc.id,
                 trl_ioc_type_name(row->ioc.type));
    return rc == TRL_EFULL;
}

int trl_iocdb_build_matcher(struct trl_iocdb *db, const struct trl_ioc_build_opts *opts,
                            struct trl_ioc_matcher **out)
{
    *out = NULL;
    struct trl_ioc_builder *b = trl_ioc_builder_create(opts);
    struct trl_iocdb_filter f = {.any_order = true};
    long n = trl_iocdb_list(db, &f, add_row, b);
    if (n < 0) {
        trl_ioc_builder_destroy(b);
        return (int)n;
    }
    *out = trl_ioc_builder_finish(b);
    return 0;
}

#include "detect/alerts.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "formats/json_encode.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_EVENT_IDS 100

struct trl_alert_store {
    sqlite3 *db;
    int64_t fold_window_ns;
    bool in_tx;
    sqlite3_stmt *find, *update, *insert;
    sqlite3_stmt *enqueue; /* NULL while the outbox is off */
    int outbox_min_rank;
};

static const char *schema =
    "CREATE TABLE IF NOT EXISTS alerts ("
    "  id INTEGER PRIMARY KEY,"
    "  fold_key TEXT NOT NULL,"
    "  rule_id TEXT, title TEXT NOT NULL, level TEXT, tags TEXT NOT NULL DEFAULT '[]',"
    "  correlation TEXT, group_by TEXT NOT NULL DEFAULT '{}', host TEXT,"
    "  first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, count INTEGER NOT NULL,"
    "  event_ids TEXT NOT NULL DEFAULT '[]', status TEXT NOT NULL DEFAULT 'new',"
    "  created INTEGER NOT NULL, updated INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS alerts_fold ON alerts(fold_key, last_seen);"
    "CREATE INDEX IF NOT EXISTS alerts_last ON alerts(last_seen);"
    "CREATE TABLE IF NOT EXISTS alert_outbox ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, alert_id INTEGER NOT NULL, body TEXT NOT NULL,"
    "  created INTEGER NOT NULL);";

/* The alert as the outputs send it: times in RFC 3339 (UTC, milliseconds), JSON columns inline. */
static const char *enqueue_sql =
    "INSERT INTO alert_outbox (alert_id, body, created) SELECT id, json_object("
    "'id', id, 'rule_id', rule_id, 'title', title, 'level', level, 'tags', json(tags),"
    " 'correlation', correlation, 'group_by', json(group_by), 'host', host,"
    " 'event_ids', json(event_ids),"
    " 'first_seen', strftime('%Y-%m-%dT%H:%M:%fZ', first_seen / 1e9, 'unixepoch'),"
    " 'last_seen', strftime('%Y-%m-%dT%H:%M:%fZ', last_seen / 1e9, 'unixepoch'),"
    " 'count', count, 'status', status), ?2"
    " FROM alerts WHERE id = ?1";

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
        trl_error("alerts", "prepare failed error=\"%s\"", sqlite3_errmsg(db));
        return -EIO;
    }
    return 0;
}

struct trl_alert_store *trl_alert_store_open(const char *data_dir, int64_t fold_window_ns,
                                             bool read_only)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/alerts.db", data_dir);
    struct trl_alert_store *s = trl_xcalloc(1, sizeof(*s));
    s->fold_window_ns = fold_window_ns;
    int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        trl_error("alerts", "cannot open path=%s error=\"%s\"", path,
                  s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if (!read_only) {
        char *err = NULL;
        if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                         &err) != SQLITE_OK ||
            sqlite3_exec(s->db, schema, NULL, NULL, &err) != SQLITE_OK) {
            trl_error("alerts", "cannot initialise path=%s error=\"%s\"", path, err ? err : "");
            sqlite3_free(err);
            goto fail;
        }
        if (prepare(s->db,
                    "SELECT id, event_ids FROM alerts WHERE fold_key = ?1 AND status != 'closed' "
                    "AND last_seen >= ?2 ORDER BY last_seen DESC LIMIT 1",
                    &s->find) ||
            prepare(s->db,
                    "UPDATE alerts SET count = count + ?5, last_seen = max(last_seen, ?2), "
                    "first_seen = min(first_seen, ?2), event_ids = ?3, updated = ?4 WHERE id = ?1",
                    &s->update) ||
            prepare(s->db,
                    "INSERT INTO alerts (fold_key, rule_id, title, level, tags, correlation, "
                    "group_by, host, first_seen, last_seen, count, event_ids, created, updated) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?12, ?10, ?11, ?11)",
                    &s->insert))
            goto fail;
    }
    return s;
fail:
    trl_alert_store_close(s);
    return NULL;
}

void trl_alert_store_close(struct trl_alert_store *s)
{
    if (!s)
        return;
    if (s->in_tx)
        trl_alert_store_commit(s);
    sqlite3_finalize(s->find);
    sqlite3_finalize(s->update);
    sqlite3_finalize(s->insert);
    sqlite3_finalize(s->enqueue);
    sqlite3_close(s->db);
    free(s);
}

int trl_alert_level_rank(const char *level)
{
    static const char *const names[] = {"informational", "low", "medium", "high", "critical"};
    for (int i = 0; level && i < (int)TRL_ARRAY_LEN(names); i++) {
        if (!strcmp(level, names[i]))
            return i;
    }
    return 0;
}

int trl_alert_store_set_outbox(struct trl_alert_store *s, int min_rank)
{
    if (!s->enqueue && prepare(s->db, enqueue_sql, &s->enqueue) != 0)
        return -EIO;
    s->outbox_min_rank = min_rank;
    return 0;
}

static void json_string_array(struct trl_buf *b, const char *const *v, size_t n)
{
    trl_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            trl_buf_putc(b, ',');
        trl_json_append_string(b, v[i], strlen(v[i]));
    }
    trl_buf_putc(b, ']');
}

/* Appends new ids to a stored JSON array of ids, keeping the first MAX_EVENT_IDS. The stored array
 * was written by us, so it is a flat list of plain strings. */
static void merge_ids(struct trl_buf *b, const char *stored, const struct trl_alert *a)
{
    size_t have = 0;
    trl_buf_putc(b, '[');
    const char *p = stored ? strchr(stored, '[') : NULL;
    if (p) {
        const char *end = strrchr(p, ']');
        size_t inner = end ? (size_t)(end - p - 1) : 0;
        if (inner > 0) {
            trl_buf_append(b, p + 1, inner);
            for (size_t i = 0; i < inner; i++)
                have += p[1 + i] == ',';
            have++;
        }
    }
    for (size_t i = 0; i < a->nevents && have < MAX_EVENT_IDS; i++, have++) {
        if (have)
            trl_buf_putc(b, ',');
        trl_json_append_string(b, a->event_ids[i], strlen(a->event_ids[i]));
    }
    trl_buf_putc(b, ']');
}

static int step_done(struct trl_alert_store *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        trl_error("alerts", "write failed error=\"%s\"", sqlite3_errmsg(s->db));
        return rc == SQLITE_FULL ? -ENOSPC : -EIO;
    }
    return 0;
}

/* Queues the alert's current state for the outputs, inside the caller's transaction. */
static int enqueue(struct trl_alert_store *s, int64_t id, const char *level, int64_t now)
{
    if (!s->enqueue || trl_alert_level_rank(level) < s->outbox_min_rank)
        return 0;
    sqlite3_bind_int64(s->enqueue, 1, id);
    sqlite3_bind_int64(s->enqueue, 2, now);
    return step_done(s, s->enqueue);
}

int trl_alert_store_add(struct trl_alert_store *s, const struct trl_alert *a)
{
    struct trl_buf key = {0}, group = {0}, ids = {0}, tags = {0};
    int rc = 0;
    if (!s->in_tx) {
        if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
            return -EIO;
        s->in_tx = true;
    }
    trl_buf_printf(&key, "%s\x1f%s", a->rule_id ? a->rule_id : a->title, a->host ? a->host : "");
    trl_buf_putc(&group, '{');
    for (size_t i = 0; i < a->ngroup; i++) {
        trl_buf_printf(&key, "\x1f%s=%s", a->group_fields[i], a->group_values[i]);
        if (i)
            trl_buf_putc(&group, ',');
        trl_json_append_string(&group, a->group_fields[i], strlen(a->group_fields[i]));
        trl_buf_putc(&group, ':');
        trl_json_append_string(&group, a->group_values[i], strlen(a->group_values[i]));
    }
    trl_buf_putc(&group, '}');
    int64_t now = (int64_t)time(NULL) * 1000000000LL;
    int64_t count = a->count > 0 ? a->count : 1;

    if (s->fold_window_ns > 0) {
        sqlite3_bind_text(s->find, 1, key.data, (int)key.len, SQLITE_STATIC);
        sqlite3_bind_int64(s->find, 2, a->timestamp_ns - s->fold_window_ns);
        if (sqlite3_step(s->find) == SQLITE_ROW) {
            int64_t id = sqlite3_column_int64(s->find, 0);
            merge_ids(&ids, (const char *)sqlite3_column_text(s->find, 1), a);
            sqlite3_reset(s->find);
            sqlite3_bind_int64(s->update, 1, id);
            sqlite3_bind_int64(s->update, 2, a->timestamp_ns);
            sqlite3_bind_text(s->update, 3, ids.data, (int)ids.len, SQLITE_STATIC);
            sqlite3_bind_int64(s->update, 4, now);
            sqlite3_bind_int64(s->update, 5, count);
            rc = step_done(s, s->update);
            if (rc == 0)
                rc = enqueue(s, id, a->level, now);
            goto out;
        }
        sqlite3_reset(s->find);
    }
    json_string_array(&tags, a->tags, a->ntags);
    merge_ids(&ids, NULL, a);
    sqlite3_stmt *st = s->insert;
    sqlite3_bind_text(st, 1, key.data, (int)key.len, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->rule_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->title, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, a->level, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, tags.data, (int)tags.len, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, a->correlation, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, group.data, (int)group.len, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, a->host, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, a->timestamp_ns);
    sqlite3_bind_text(st, 10, ids.data, (int)ids.len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 11, now);
    sqlite3_bind_int64(st, 12, count);
    rc = step_done(s, st);
    if (rc == 0)
        rc = enqueue(s, sqlite3_last_insert_rowid(s->db), a->level, now);
out:
    trl_buf_free(&key);
    trl_buf_free(&group);
    trl_buf_free(&ids);
    trl_buf_free(&tags);
    return rc;
}

int trl_alert_store_commit(struct trl_alert_store *s)
{
    if (!s->in_tx)
        return 0;
    s->in_tx = false;
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        trl_error("alerts", "commit failed error=\"%s\"", sqlite3_errmsg(s->db));
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -EIO;
    }
    return 0;
}

static const char *col(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

#define ROW_COLUMNS                                                                                \
    "id, rule_id, title, level, tags, correlation, group_by, host, event_ids, status,"             \
    " first_seen, last_seen, count"

/* The row of a statement that selected ROW_COLUMNS. */
static struct trl_alert_row row_from(sqlite3_stmt *st)
{
    return (struct trl_alert_row){
        .id = sqlite3_column_int64(st, 0),
        .rule_id = col(st, 1),
        .title = col(st, 2),
        .level = col(st, 3),
        .tags_json = col(st, 4),
        .correlation = col(st, 5),
        .group_by_json = col(st, 6),
        .host = col(st, 7),
        .event_ids_json = col(st, 8),
        .status = col(st, 9),
        .first_seen_ns = sqlite3_column_int64(st, 10),
        .last_seen_ns = sqlite3_column_int64(st, 11),
        .count = sqlite3_column_int64(st, 12),
    };
}

long trl_alert_store_list(struct trl_alert_store *s, const struct trl_alert_filter *f,
                          void (*each)(void *ud, const struct trl_alert_row *row), void *ud)
{
    sqlite3_stmt *st;
    const char *sql =
        "SELECT " ROW_COLUMNS " FROM alerts"
        " WHERE (?1 = 0 OR last_seen >= ?1) AND (?2 = 0 OR last_seen <= ?2)"
        " AND (?3 IS NULL OR level = ?3) AND (?4 IS NULL OR status = ?4)"
        " AND (?5 IS NULL OR instr(lower(title), lower(?5)) > 0 OR rule_id = ?5)"
        " AND (?6 IS NULL OR host = ?6)"
        " AND (?7 IS NULL OR instr(lower(title || ' ' || group_by || ' ' || ifnull(host, '')),"
        "      lower(?7)) > 0)"
        " ORDER BY last_seen DESC, id DESC LIMIT ?8";
    if (prepare(s->db, sql, &st) != 0)
        return -EIO;
    sqlite3_bind_int64(st, 1, f->from_ns);
    sqlite3_bind_int64(st, 2, f->to_ns);
    sqlite3_bind_text(st, 3, f->level, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, f->status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, f->rule, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, f->host, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, f->text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, f->limit ? (int64_t)f->limit : 1000);
    long n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct trl_alert_row row = row_from(st);
        each(ud, &row);
        n++;
    }
    if (rc != SQLITE_DONE)
        n = -EIO;
    sqlite3_finalize(st);
    return n;
}

int trl_alert_store_set_status(struct trl_alert_store *s, int64_t id, const char *status)
{
    if (strcmp(status, "new") && strcmp(status, "acknowledged") && strcmp(status, "closed"))
        return TRL_EINVAL;
    sqlite3_stmt *st;
    if (prepare(s->db, "UPDATE alerts SET status = ?2, updated = ?3 WHERE id = ?1", &st) != 0)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (int64_t)time(NULL) * 1000000000LL);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
    if (rc == 0 && sqlite3_changes(s->db) == 0)
        rc = -ENOENT;
    sqlite3_finalize(st);
    return rc;
}

int trl_alert_store_get(struct trl_alert_store *s, int64_t id,
                        void (*each)(void *ud, const struct trl_alert_row *row), void *ud)
{
    sqlite3_stmt *st;
    if (prepare(s->db, "SELECT " ROW_COLUMNS " FROM alerts WHERE id = ?1", &st) != 0)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    int rc = step == SQLITE_ROW ? 0 : step == SQLITE_DONE ? -ENOENT : -EIO;
    if (rc == 0) {
        struct trl_alert_row row = row_from(st);
        each(ud, &row);
    }
    sqlite3_finalize(st);
    return rc;
}

/* The tables of what analysts add to alerts, created on first use (stores opened before they
 * existed, and read-only stores, simply have none). */
static const char *notes_schema =
    "CREATE TABLE IF NOT EXISTS alert_assignees ("
    "  alert_id INTEGER PRIMARY KEY, assignee TEXT NOT NULL, updated INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS alert_comments ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, alert_id INTEGER NOT NULL, at INTEGER NOT NULL,"
    "  user TEXT NOT NULL, text TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS alert_comments_alert ON alert_comments(alert_id, id);";

static int ensure_notes(struct trl_alert_store *s)
{
    if (sqlite3_exec(s->db, notes_schema, NULL, NULL, NULL) != SQLITE_OK) {
        trl_error("alerts", "cannot create comment tables error=\"%s\"", sqlite3_errmsg(s->db));
        return -EIO;
    }
    return 0;
}

static bool alert_exists(struct trl_alert_store *s, int64_t id)
{
    sqlite3_stmt *st;
    if (prepare(s->db, "SELECT 1 FROM alerts WHERE id = ?1", &st) != 0)
        return false;
    sqlite3_bind_int64(st, 1, id);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

int trl_alert_store_set_assignee(struct trl_alert_store *s, int64_t id, const char *assignee)
{
    if (!alert_exists(s, id))
        return -ENOENT;
    if (ensure_notes(s) != 0)
        return -EIO;
    sqlite3_stmt *st;
    const char *sql = assignee[0] ? "INSERT OR REPLACE INTO alert_assignees VALUES (?1, ?2, ?3)"
                                  : "DELETE FROM alert_assignees WHERE alert_id = ?1";
    if (prepare(s->db, sql, &st) != 0)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    if (assignee[0]) {
        sqlite3_bind_text(st, 2, assignee, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (int64_t)time(NULL) * 1000000000LL);
    }
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
    sqlite3_finalize(st);
    return rc;
}

int trl_alert_store_assignee(struct trl_alert_store *s, int64_t id, char *out, size_t cap)
{
    out[0] = '\0';
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT assignee FROM alert_assignees WHERE alert_id = ?1", -1,
                           &st, NULL) != SQLITE_OK)
        return 0; /* no table yet: nobody is assigned */
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, cap, "%s", col(st, 0));
    sqlite3_finalize(st);
    return 0;
}

int trl_alert_store_add_comment(struct trl_alert_store *s, int64_t id, const char *user,
                                const char *text, int64_t at_ns)
{
    if (!alert_exists(s, id))
        return -ENOENT;
    if (ensure_notes(s) != 0)
        return -EIO;
    sqlite3_stmt *st;
    if (prepare(s->db, "INSERT INTO alert_comments (alert_id, at, user, text) VALUES (?1,?2,?3,?4)",
                &st) != 0)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, at_ns);
    sqlite3_bind_text(st, 3, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
    sqlite3_finalize(st);
    return rc;
}

long trl_alert_store_comments(struct trl_alert_store *s, int64_t id,
                              void (*each)(void *ud, int64_t at_ns, const char *user,
                                           const char *text),
                              void *ud)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT at, user, text FROM alert_comments WHERE alert_id = ?1 "
                           "ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return 0; /* no table yet: no comments */
    sqlite3_bind_int64(st, 1, id);
    long n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        each(ud, sqlite3_column_int64(st, 0), col(st, 1), col(st, 2));
        n++;
    }
    sqlite3_finalize(st);
    return n;
}

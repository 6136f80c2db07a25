#include "server/agent_registry.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "formats/json_encode.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

/* How often, at most, is_revoked looks at the database for changes made by other processes. */
#define CACHE_REFRESH_NS 1000000000LL

static const char schema[] = "CREATE TABLE IF NOT EXISTS agents ("
                             " id TEXT PRIMARY KEY,"
                             " hostname TEXT NOT NULL DEFAULT '',"
                             " version TEXT NOT NULL DEFAULT '',"
                             " cert_serial TEXT NOT NULL DEFAULT '',"
                             " cert_fingerprint TEXT NOT NULL DEFAULT '',"
                             " enrolled_at INTEGER NOT NULL,"
                             " revoked_at INTEGER,"
                             " last_seen INTEGER,"
                             " events_total INTEGER NOT NULL DEFAULT 0,"
                             " events_per_sec REAL NOT NULL DEFAULT 0,"
                             " spool_depth INTEGER NOT NULL DEFAULT 0,"
                             " dropped INTEGER NOT NULL DEFAULT 0,"
                             " last_seq INTEGER NOT NULL DEFAULT 0);"
                             "CREATE TABLE IF NOT EXISTS enroll_tokens ("
                             " id TEXT PRIMARY KEY,"
                             " secret_hash BLOB NOT NULL,"
                             " created_at INTEGER NOT NULL,"
                             " expires_at INTEGER NOT NULL,"
                             " used_at INTEGER);"
                             "CREATE TABLE IF NOT EXISTS agent_pending ("
                             " id TEXT PRIMARY KEY,"
                             " first_seq INTEGER NOT NULL,"
                             " last_seq INTEGER NOT NULL,"
                             " from_ns INTEGER NOT NULL,"
                             " to_ns INTEGER NOT NULL);";

#define AGENT_COLUMNS                                                                              \
    "id, hostname, version, cert_serial, cert_fingerprint, enrolled_at, revoked_at, last_seen, "   \
    "events_total, events_per_sec, spool_depth, dropped, last_seq"

struct cache_entry {
    char *id;
    bool revoked;
};

struct trl_agent_registry {
    sqlite3 *db;
    pthread_mutex_t lock;
    sqlite3_stmt *seen;
    sqlite3_stmt *seen_health;
    sqlite3_stmt *last_seq;
    sqlite3_stmt *commit_seq;
    sqlite3_stmt *data_version;
    /* The agents' revocation state as last read, sorted by id. */
    struct cache_entry *cache;
    size_t ncache;
    bool cache_valid;      /* false: reload at the next lookup (own writes, first use) */
    int64_t cache_checked; /* monotonic ns of the last look at data_version */
    int64_t cache_version; /* PRAGMA data_version when the cache was loaded */
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
        trl_error("agents", "cannot prepare statement error=\"%s\"", sqlite3_errmsg(db));
        return -EIO;
    }
    return 0;
}

static int exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        trl_error("agents", "statement failed error=\"%s\"", err ? err : sqlite3_errmsg(db));
        sqlite3_free(err);
        return -EIO;
    }
    return 0;
}

struct trl_agent_registry *trl_agent_registry_open(const char *data_dir)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/agents.db", data_dir) >= (int)sizeof(path)) {
        trl_error("agents", "data directory path too long path=%s", data_dir);
        return NULL;
    }
    struct trl_agent_registry *reg = trl_xcalloc(1, sizeof(*reg));
    pthread_mutex_init(&reg->lock, NULL);
    if (sqlite3_open_v2(path, &reg->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        trl_error("agents", "cannot open path=%s error=\"%s\"", path,
                  reg->db ? sqlite3_errmsg(reg->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(reg->db, 5000);
    /* synchronous=NORMAL for the frequent writes (last_seen, health, last_seq): a power loss may
     * undo the last of them, which for last_seq means resent events are stored twice rather than
     * lost. Revocations, enrollments and tokens are written with synchronous=FULL (durable_begin),
     * so what the CLI reports as done stays done. */
    if (exec(reg->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;") ||
        exec(reg->db, schema))
        goto fail;
    if (prepare(reg->db, "UPDATE agents SET last_seen = ?2 WHERE id = ?1", &reg->seen) ||
        prepare(reg->db,
                "UPDATE agents SET last_seen = ?2, version = coalesce(?3, version),"
                " hostname = coalesce(?4, hostname), events_total = ?5, events_per_sec = ?6,"
                " spool_depth = ?7, dropped = ?8 WHERE id = ?1",
                &reg->seen_health) ||
        prepare(reg->db, "SELECT last_seq FROM agents WHERE id = ?1", &reg->last_seq) ||
        prepare(reg->db, "UPDATE agents SET last_seq = max(last_seq, ?2) WHERE id = ?1",
                &reg->commit_seq) ||
        prepare(reg->db, "PRAGMA data_version", &reg->data_version))
        goto fail;
    return reg;
fail:
    trl_agent_registry_close(reg);
    return NULL;
}

/* Makes the following commits durable across power loss, until durable_end. */
static void durable_begin(struct trl_agent_registry *reg)
{
    exec(reg->db, "PRAGMA synchronous=FULL");
}

static void durable_end(struct trl_agent_registry *reg)
{
    exec(reg->db, "PRAGMA synchronous=NORMAL");
}

static void cache_clear(struct trl_agent_registry *reg)
{
    for (size_t i = 0; i < reg->ncache; i++)
        free(reg->cache[i].id);
    free(reg->cache);
    reg->cache = NULL;
    reg->ncache = 0;
    reg->cache_valid = false;
}

void trl_agent_registry_close(struct trl_agent_registry *reg)
{
    if (!reg)
        return;
    sqlite3_finalize(reg->seen);
    sqlite3_finalize(reg->seen_health);
    sqlite3_finalize(reg->last_seq);
    sqlite3_finalize(reg->commit_seq);
    sqlite3_finalize(reg->data_version);
    sqlite3_close(reg->db);
    cache_clear(reg);
    pthread_mutex_destroy(&reg->lock);
    free(reg);
}

static int64_t data_version(struct trl_agent_registry *reg)
{
    int64_t v = -1;
    if (sqlite3_step(reg->data_version) == SQLITE_ROW)
        v = sqlite3_column_int64(reg->data_version, 0);
    sqlite3_reset(reg->data_version);
    return v;
}

/* Reads every agent's id and revocation state; on error the old cache stays. */
static void cache_load(struct trl_agent_registry *reg, int64_t version)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(reg->db, "SELECT id, revoked_at IS NOT NULL FROM agents ORDER BY id", -1,
                           &st, NULL) != SQLITE_OK)
        return;
    struct cache_entry *entries = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        if (!id)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            entries = trl_xrealloc(entries, cap * sizeof(*entries));
        }
        entries[n].id = trl_xstrdup(id);
        entries[n].revoked = sqlite3_column_int(st, 1) != 0;
        n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        for (size_t i = 0; i < n; i++)
            free(entries[i].id);
        free(entries);
        return;
    }
    cache_clear(reg);
    reg->cache = entries;
    reg->ncache = n;
    reg->cache_valid = true;
    reg->cache_version = version;
}

static int cache_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct cache_entry *)elem)->id);
}

static const struct cache_entry *cache_find(struct trl_agent_registry *reg, const char *id)
{
    if (!reg->ncache)
        return NULL;
    /* SQLite's ORDER BY on TEXT uses memcmp order (BINARY collation), the same as strcmp. */
    return bsearch(id, reg->cache, reg->ncache, sizeof(*reg->cache), cache_cmp);
}

bool trl_agent_registry_is_revoked(struct trl_agent_registry *reg, const char *id)
{
    pthread_mutex_lock(&reg->lock);
    int64_t now = mono_ns();
    if (!reg->cache_valid || now - reg->cache_checked >= CACHE_REFRESH_NS) {
        reg->cache_checked = now;
        int64_t v = data_version(reg);
        if (!reg->cache_valid || v != reg->cache_version)
            cache_load(reg, v);
    }
    const struct cache_entry *e = cache_find(reg, id);
    if (!e) {
        /* An agent enrolled through another handle a moment ago: look again now rather than
         * refuse it for up to a second. Only certificates our CA signed get this far. */
        int64_t v = data_version(reg);
        if (v != reg->cache_version) {
            cache_load(reg, v);
            e = cache_find(reg, id);
        }
    }
    bool revoked = !e || e->revoked;
    pthread_mutex_unlock(&reg->lock);
    return revoked;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* Runs a bound UPDATE on one agent and resets it: 0, -ENOENT when no row matched, or -EIO. */
static int run_update(struct trl_agent_registry *reg, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
    if (rc)
        trl_error("agents", "update failed error=\"%s\"", sqlite3_errmsg(reg->db));
    else if (sqlite3_changes(reg->db) == 0)
        rc = -ENOENT;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int trl_agent_registry_seen(struct trl_agent_registry *reg, const char *id,
                            const struct trl_agent_health *h)
{
    pthread_mutex_lock(&reg->lock);
    sqlite3_stmt *st = h ? reg->seen_health : reg->seen;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now_s());
    if (h) {
        bind_text_or_null(st, 3, h->version);
        bind_text_or_null(st, 4, h->hostname);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)h->events_total);
        sqlite3_bind_double(st, 6, h->events_per_sec);
        sqlite3_bind_int64(st, 7, (sqlite3_int64)h->spool_depth);
        sqlite3_bind_int64(st, 8, (sqlite3_int64)h->dropped);
    }
    int rc = run_update(reg, st);
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int trl_agent_registry_last_seq(struct trl_agent_registry *reg, const char *id, uint64_t *seq)
{
    pthread_mutex_lock(&reg->lock);
    sqlite3_stmt *st = reg->last_seq;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *seq = (uint64_t)sqlite3_column_int64(st, 0);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = -ENOENT;
    } else {
        trl_error("agents", "query failed error=\"%s\"", sqlite3_errmsg(reg->db));
        rc = -EIO;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int trl_agent_registry_commit_seq(struct trl_agent_registry *reg, const char *id, uint64_t seq)
{
    /* SQLite integers are signed 64-bit: clamp so max() keeps its meaning. */
    if (seq > (uint64_t)INT64_MAX)
        seq = (uint64_t)INT64_MAX;
    pthread_mutex_lock(&reg->lock);
    sqlite3_stmt *st = reg->commit_seq;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
    int rc = run_update(reg, st);
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

static void row_info(sqlite3_stmt *st, struct trl_agent_info *a)
{
    a->id = col_text(st, 0);
    a->hostname = col_text(st, 1);
    a->version = col_text(st, 2);
    a->cert_serial = col_text(st, 3);
    a->cert_fingerprint = col_text(st, 4);
    a->enrolled_at = sqlite3_column_int64(st, 5);
    a->revoked_at = sqlite3_column_int64(st, 6);
    a->last_seen = sqlite3_column_int64(st, 7);
    a->events_total = (uint64_t)sqlite3_column_int64(st, 8);
    a->events_per_sec = sqlite3_column_double(st, 9);
    a->spool_depth = (uint64_t)sqlite3_column_int64(st, 10);
    a->dropped = (uint64_t)sqlite3_column_int64(st, 11);
    a->last_seq = (uint64_t)sqlite3_column_int64(st, 12);
}

static int select_agents(struct trl_agent_registry *reg, const char *id,
                         void (*cb)(void *ud, const struct trl_agent_info *a), void *ud)
{
    sqlite3_stmt *st = NULL;
    const char *sql = id ? "SELECT " AGENT_COLUMNS " FROM agents WHERE id = ?1"
                         : "SELECT " AGENT_COLUMNS " FROM agents ORDER BY id";
    pthread_mutex_lock(&reg->lock);
    int rc = -EIO, found = 0;
    if (sqlite3_prepare_v2(reg->db, sql, -1, &st, NULL) != SQLITE_OK)
        goto out;
    if (id)
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct trl_agent_info a;
        row_info(st, &a);
        cb(ud, &a);
        found++;
    }
    if (step == SQLITE_DONE)
        rc = id && !found ? -ENOENT : 0;
out:
    if (rc == -EIO)
        trl_error("agents", "listing failed error=\"%s\"", sqlite3_errmsg(reg->db));
    sqlite3_finalize(st);
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int trl_agent_registry_list(struct trl_agent_registry *reg,
                            void (*cb)(void *ud, const struct trl_agent_info *a), void *ud)
{
    return select_agents(reg, NULL, cb, ud);
}

int trl_agent_registry_get(struct trl_agent_registry *reg, const char *id,
                           void (*cb)(void *ud, const struct trl_agent_info *a), void *ud)
{
    return select_agents(reg, id, cb, ud);
}

int trl_agent_registry_revoke(struct trl_agent_registry *reg, const char *id)
{
    sqlite3_stmt *st = NULL, *exists = NULL;
    pthread_mutex_lock(&reg->lock);
    int rc = -EIO;
    if (sqlite3_prepare_v2(reg->db,
                           "UPDATE agents SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(reg->db, "SELECT 1 FROM agents WHERE id = ?1", -1, &exists, NULL) !=
            SQLITE_OK)
        goto out;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now_s());
    durable_begin(reg);
    int done = sqlite3_step(st);
    durable_end(reg);
    if (done != SQLITE_DONE)
        goto out;
    if (sqlite3_changes(reg->db) == 1) {
        rc = 0;
        reg->cache_valid = false;
        goto out;
    }
    sqlite3_bind_text(exists, 1, id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(exists);
    if (step == SQLITE_ROW)
        rc = -EALREADY;
    else if (step == SQLITE_DONE)
        rc = -ENOENT;
out:
    if (rc == -EIO)
        trl_error("agents", "revoke failed id=%s error=\"%s\"", id, sqlite3_errmsg(reg->db));
    sqlite3_finalize(st);
    sqlite3_finalize(exists);
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

const char *trl_agent_status(const struct trl_agent_info *a, int64_t now)
{
    if (a->revoked_at)
        return "revoked";
    if (a->last_seen && now - a->last_seen <= TRL_AGENT_ONLINE_SECS)
        return "online";
    return "silent";
}

static void json_str(struct trl_buf *b, const char *key, const char *v)
{
    trl_buf_printf(b, ",\"%s\":", key);
    trl_json_append_string(b, v, strlen(v));
}

static void json_time(struct trl_buf *b, const char *key, int64_t s)
{
    if (!s) {
        trl_buf_printf(b, ",\"%s\":null", key);
        return;
    }
    char t[TRL_RFC3339_MAX];
    trl_format_rfc3339(s * 1000000000LL, t);
    json_str(b, key, t);
}

void trl_agent_info_json(const struct trl_agent_info *a, int64_t now, struct trl_buf *b)
{
    trl_buf_puts(b, "{\"id\":");
    trl_json_append_string(b, a->id, strlen(a->id));
    json_str(b, "hostname", a->hostname);
    json_str(b, "version", a->version);
    json_str(b, "status", trl_agent_status(a, now));
    json_time(b, "enrolled_at", a->enrolled_at);
    json_time(b, "last_seen", a->last_seen);
    json_time(b, "revoked_at", a->revoked_at);
    trl_buf_printf(b,
                   ",\"events_total\":%llu,\"events_per_sec\":%.1f,\"spool_depth\":%llu,"
                   "\"dropped\":%llu,\"last_seq\":%llu",
                   (unsigned long long)a->events_total, a->events_per_sec,
                   (unsigned long long)a->spool_depth, (unsigned long long)a->dropped,
                   (unsigned long long)a->last_seq);
    json_str(b, "cert_serial", a->cert_serial);
    json_str(b, "cert_fingerprint", a->cert_fingerprint);
    trl_buf_putc(b, '}');
}

int trl_agent_registry_token_add(struct trl_agent_registry *reg, const char *token_id,
                                 const unsigned char hash[TRL_TOKEN_HASH_LEN], int64_t expires_at)
{
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&reg->lock);
    int rc = -EIO;
    if (sqlite3_prepare_v2(reg->db,
                           "INSERT INTO enroll_tokens (id, secret_hash, created_at, expires_at) "
                           "VALUES (?1, ?2, ?3, ?4)",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, token_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(st, 2, hash, TRL_TOKEN_HASH_LEN, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, now_s());
        sqlite3_bind_int64(st, 4, expires_at);
        durable_begin(reg);
        if (sqlite3_step(st) == SQLITE_DONE)
            rc = 0;
        durable_end(reg);
    }
    if (rc == 0) {
        char sql[128];
        snprintf(sql, sizeof(sql), "DELETE FROM enroll_tokens WHERE expires_at < %lld",
                 (long long)(now_s() - TRL_TOKEN_KEEP_SECS));
        rc = exec(reg->db, sql);
    }
    if (rc)
        trl_error("agents", "cannot store token error=\"%s\"", sqlite3_errmsg(reg->db));
    sqlite3_finalize(st);
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

/* The token check proper; the caller holds the lock. The secret is compared before anything else
 * is revealed, so whoever lacks it learns nothing about the token's state. */
static int token_check_locked(struct trl_agent_registry *reg, const char *token_id,
                              const unsigned char hash[TRL_TOKEN_HASH_LEN], int64_t now)
{
    sqlite3_stmt *st = NULL;
    int rc = -EIO;
    if (sqlite3_prepare_v2(reg->db,
                           "SELECT secret_hash, expires_at, used_at IS NOT NULL FROM enroll_tokens "
                           "WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_text(st, 1, token_id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        rc = -ENOENT;
    } else if (step == SQLITE_ROW) {
        const void *stored = sqlite3_column_blob(st, 0);
        if (sqlite3_column_bytes(st, 0) != TRL_TOKEN_HASH_LEN || !stored ||
            CRYPTO_memcmp(stored, hash, TRL_TOKEN_HASH_LEN) != 0)
            rc = -ENOENT;
        else if (sqlite3_column_int(st, 2))
            rc = -EALREADY;
        else if (now >= sqlite3_column_int64(st, 1))
            rc = -ETIMEDOUT;
        else
            rc = 0;
    }
out:
    if (rc == -EIO)
        trl_error("agents", "token lookup failed error=\"%s\"", sqlite3_errmsg(reg->db));
    sqlite3_finalize(st);
    return rc;
}

int trl_agent_registry_token_check(struct trl_agent_registry *reg, const char *token_id,
                                   const unsigned char hash[TRL_TOKEN_HASH_LEN], int64_t now)
{
    pthread_mutex_lock(&reg->lock);
    int rc = token_check_locked(reg, token_id, hash, now);
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int trl_agent_registry_enroll(struct trl_agent_registry *reg, const char *token_id,
                              const unsigned char hash[TRL_TOKEN_HASH_LEN], int64_t now,
                              const struct trl_agent_enrollment *e)
{
    sqlite3_stmt *use = NULL, *add = NULL;
    pthread_mutex_lock(&reg->lock);
    /* IMMEDIATE takes the write lock first, so a second enrollment with the same token waits and
     * then finds the token used. */
    /* The safety level cannot change inside a transaction: set it before. */
    durable_begin(reg);
    int rc = exec(reg->db, "BEGIN IMMEDIATE");
    if (rc)
        goto unlock;
    rc = token_check_locked(reg, token_id, hash, now);
    if (rc)
        goto rollback;
    rc = -EIO;
    if (sqlite3_prepare_v2(reg->db, "UPDATE enroll_tokens SET used_at = ?2 WHERE id = ?1", -1, &use,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(reg->db,
                           "INSERT INTO agents (id, hostname, version, cert_serial, "
                           "cert_fingerprint, enrolled_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                           -1, &add, NULL) != SQLITE_OK)
        goto rollback;
    sqlite3_bind_text(use, 1, token_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(use, 2, now);
    if (sqlite3_step(use) != SQLITE_DONE)
        goto rollback;
    sqlite3_bind_text(add, 1, e->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(add, 2, e->hostname ? e->hostname : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(add, 3, e->version ? e->version : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(add, 4, e->cert_serial ? e->cert_serial : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(add, 5, e->cert_fingerprint ? e->cert_fingerprint : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(add, 6, now);
    int step = sqlite3_step(add);
    if (step != SQLITE_DONE) {
        rc = sqlite3_extended_errcode(reg->db) == SQLITE_CONSTRAINT_PRIMARYKEY ? -EEXIST : -EIO;
        goto rollback;
    }
    rc = exec(reg->db, "COMMIT");
    if (rc)
        goto rollback;
    reg->cache_valid = false;
    goto unlock;
rollback:
    exec(reg->db, "ROLLBACK");
unlock:
    durable_end(reg);
    sqlite3_finalize(use);
    sqlite3_finalize(add);
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int trl_agent_registry_set_pending(struct trl_agent_registry *reg, const char *id,
                                   const struct trl_agent_pending *p)
{
    pthread_mutex_lock(&reg->lock);
    sqlite3_stmt *st = NULL;
    int rc = prepare(reg->db,
                     "INSERT INTO agent_pending(id, first_seq, last_seq, from_ns, to_ns)"
                     " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(id) DO UPDATE SET"
                     " first_seq = ?2, last_seq = ?3, from_ns = ?4, to_ns = ?5",
                     &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)TRL_MIN(p->first_seq, (uint64_t)INT64_MAX));
        sqlite3_bind_int64(st, 3, (sqlite3_int64)TRL_MIN(p->last_seq, (uint64_t)INT64_MAX));
        sqlite3_bind_int64(st, 4, p->from_ns);
        sqlite3_bind_int64(st, 5, p->to_ns);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int trl_agent_registry_pending(struct trl_agent_registry *reg, const char *id,
                               struct trl_agent_pending *out)
{
    pthread_mutex_lock(&reg->lock);
    sqlite3_stmt *st = NULL;
    int rc =
        prepare(reg->db,
                "SELECT first_seq, last_seq, from_ns, to_ns FROM agent_pending WHERE id = ?1", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW) {
            out->first_seq = (uint64_t)sqlite3_column_int64(st, 0);
            out->last_seq = (uint64_t)sqlite3_column_int64(st, 1);
            out->from_ns = sqlite3_column_int64(st, 2);
            out->to_ns = sqlite3_column_int64(st, 3);
        } else {
            rc = -ENOENT;
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

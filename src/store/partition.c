#include "store/partition.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PARTITION_FORMAT 1

/* Blocks are blobs of tens to hundreds of KiB: larger pages mean shorter overflow chains. */
#define PAGE_SIZE 16384

struct trl_partition {
    sqlite3 *db;
    char day[TRL_DAY_LEN + 1];
    bool readonly;
    bool in_tx;
    uint64_t seq;                 /* head seq inside the current transaction */
    uint8_t hash[TRL_SHA256_LEN]; /* head hash inside the current transaction */
    /* Writer: the head this writer committed last, or checked when it opened the file. A head
     * that differs at begin() was changed by someone else: signing over it would hide that. */
    uint64_t trusted_seq;
    uint8_t trusted_hash[TRL_SHA256_LEN];
    sqlite3_stmt *ins_block, *ins_chain, *del_block, *get_head, *set_head, *get_block, *get_entry,
        *get_block_meta;
};

static const char *const SCHEMA =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS blocks("
    " id INTEGER PRIMARY KEY, min_ts INTEGER NOT NULL, max_ts INTEGER NOT NULL,"
    " count INTEGER NOT NULL, meta BLOB NOT NULL, data BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS blocks_by_time ON blocks(max_ts, min_ts);"
    "CREATE TABLE IF NOT EXISTS chain("
    " seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, count INTEGER NOT NULL,"
    " min_ts INTEGER NOT NULL, max_ts INTEGER NOT NULL, content_hash BLOB NOT NULL,"
    " events_digest BLOB NOT NULL, replaces BLOB, at_ns INTEGER NOT NULL,"
    " prev_hash BLOB NOT NULL, hash BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS head("
    " id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash BLOB NOT NULL,"
    " key_id TEXT NOT NULL, signature BLOB NOT NULL);";

int64_t trl_day_of_ns(int64_t ns)
{
    int64_t d = ns / TRL_NS_PER_DAY;
    if (ns % TRL_NS_PER_DAY < 0)
        d--;
    return d;
}

void trl_day_name(int64_t day, char out[TRL_DAY_LEN + 1])
{
    int64_t y;
    unsigned m, d;
    trl_civil_from_days(day, &y, &m, &d);
    if (y < 0)
        y = 0;
    if (y > 9999)
        y = 9999;
    snprintf(out, TRL_DAY_LEN + 1, "%04u-%02u-%02u", (unsigned)y, m, d);
}

bool trl_day_parse(const char *s, size_t len, int64_t *day)
{
    if (len != TRL_DAY_LEN || s[4] != '-' || s[7] != '-')
        return false;
    unsigned v[3] = {0, 0, 0};
    const int starts[3] = {0, 5, 8}, lens[3] = {4, 2, 2};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < lens[k]; i++) {
            char c = s[starts[k] + i];
            if (c < '0' || c > '9')
                return false;
            v[k] = v[k] * 10 + (unsigned)(c - '0');
        }
    }
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31)
        return false;
    int64_t dn = trl_days_from_civil(v[0], v[1], v[2]);
    /* Reject dates like 2024-02-31 that normalise to another day. */
    char back[TRL_DAY_LEN + 1];
    trl_day_name(dn, back);
    if (memcmp(back, s, TRL_DAY_LEN) != 0)
        return false;
    *day = dn;
    return true;
}

int trl_sqlite_err(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_CANTOPEN:
        return -ENOENT;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_SCHEMA:
    case SQLITE_MISMATCH:
        return TRL_EINVAL;
    default:
        return -EIO;
    }
}

static int exec(sqlite3 *db, const char *sql)
{
    return trl_sqlite_err(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

static void finalize_all(struct trl_partition *p)
{
    sqlite3_stmt **all[] = {&p->ins_block, &p->ins_chain, &p->del_block,      &p->get_head,
                            &p->set_head,  &p->get_block, &p->get_block_meta, &p->get_entry};
    for (size_t i = 0; i < TRL_ARRAY_LEN(all); i++) {
        sqlite3_finalize(*all[i]);
        *all[i] = NULL;
    }
}

void trl_partition_close(struct trl_partition *p)
{
    if (!p)
        return;
    if (p->in_tx)
        trl_partition_rollback(p);
    finalize_all(p);
    sqlite3_close_v2(p->db);
    free(p);
}

const char *trl_partition_day(const struct trl_partition *p)
{
    return p->day;
}

sqlite3 *trl_partition_db(const struct trl_partition *p)
{
    return p->db;
}

static int prepare(struct trl_partition *p, sqlite3_stmt **st, const char *sql)
{
    return trl_sqlite_err(sqlite3_prepare_v3(p->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL));
}

static int prepare_all(struct trl_partition *p)
{
    int rc = prepare(p, &p->get_head, "SELECT seq, hash, key_id, signature FROM head WHERE id = 1");
    if (rc == 0)
        rc = prepare(p, &p->get_block,
                     "SELECT id, min_ts, max_ts, count, meta, data FROM blocks WHERE id = ?");
    if (rc == 0)
        rc = prepare(p, &p->get_block_meta,
                     "SELECT id, min_ts, max_ts, count, meta FROM blocks WHERE id = ?");
    if (rc != 0 || p->readonly)
        return rc;
    rc = prepare(p, &p->get_entry, "SELECT content_hash FROM chain WHERE seq = ?");
    if (rc == 0)
        rc = prepare(
            p, &p->ins_block,
            "INSERT INTO blocks(id, min_ts, max_ts, count, meta, data) VALUES(?,?,?,?,?,?)");
    if (rc == 0)
        rc = prepare(p, &p->ins_chain,
                     "INSERT INTO chain(seq, kind, count, min_ts, max_ts, content_hash,"
                     " events_digest, replaces, at_ns, prev_hash, hash)"
                     " VALUES(?,?,?,?,?,?,?,?,?,?,?)");
    if (rc == 0)
        rc = prepare(p, &p->del_block, "DELETE FROM blocks WHERE id = ?");
    if (rc == 0)
        rc = prepare(p, &p->set_head,
                     "UPDATE head SET seq = ?, hash = ?, key_id = ?, signature = ? WHERE id = 1");
    return rc;
}

/* Reads meta.day; TRL_EINVAL when the file has no partition schema. */
static int read_day(struct trl_partition *p)
{
    sqlite3_stmt *st = NULL;
    int rc = trl_sqlite_err(
        sqlite3_prepare_v2(p->db, "SELECT value FROM meta WHERE key = 'day'", -1, &st, NULL));
    if (rc != 0)
        return rc == -EIO ? TRL_EINVAL : rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        int64_t dn;
        if (v && trl_day_parse((const char *)v, (size_t)n, &dn))
            memcpy(p->day, v, TRL_DAY_LEN + 1);
        else
            rc = TRL_EINVAL;
    } else {
        rc = step == SQLITE_DONE ? TRL_EINVAL : trl_sqlite_err(step);
    }
    sqlite3_finalize(st);
    return rc;
}

static int sign_head(struct trl_partition *p, const struct trl_store_key *key)
{
    uint8_t msg[TRL_HEAD_MSG_MAX], sig[TRL_SIG_LEN];
    size_t n = trl_head_message(p->day, p->seq, p->hash, msg);
    int rc = trl_store_key_sign(key, msg, n, sig);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = p->set_head;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)p->seq);
    sqlite3_bind_blob(st, 2, p->hash, TRL_SHA256_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, trl_store_key_id(key), -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, sig, TRL_SIG_LEN, SQLITE_TRANSIENT);
    rc = trl_sqlite_err(sqlite3_step(st));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == 0 && sqlite3_changes(p->db) != 1)
        rc = TRL_EINVAL;
    return rc;
}

static int create_schema(struct trl_partition *p, const struct trl_store_key *key)
{
    int rc = exec(p->db, "BEGIN IMMEDIATE");
    if (rc != 0)
        return rc;
    rc = exec(p->db, SCHEMA);
    char sql[256];
    if (rc == 0) {
        snprintf(sql, sizeof(sql),
                 "INSERT OR IGNORE INTO meta(key, value) VALUES('format', %d), ('day', '%s'),"
                 " ('created_ns', %lld)",
                 PARTITION_FORMAT, p->day, (long long)trl_now_ns());
        rc = exec(p->db, sql);
    }
    if (rc == 0) {
        uint8_t genesis[TRL_SHA256_LEN];
        char hex[2 * TRL_SHA256_LEN + 1];
        trl_chain_genesis(p->day, genesis);
        trl_hex(genesis, TRL_SHA256_LEN, hex);
        snprintf(sql, sizeof(sql),
                 "INSERT OR IGNORE INTO head(id, seq, hash, key_id, signature)"
                 " VALUES(1, 0, x'%s', '', x'')",
                 hex);
        rc = exec(p->db, sql);
    }
    if (rc == 0)
        rc = prepare_all(p);
    if (rc == 0) {
        struct trl_partition_head h;
        rc = trl_partition_read_head(p, &h);
        /* Only the fresh head of a new file is signed here (a crash cannot leave a later one
         * unsigned: entries and signature commit together). */
        if (rc == 0 && h.sig_len == 0 && h.seq == 0) {
            p->seq = h.seq;
            memcpy(p->hash, h.hash, TRL_SHA256_LEN);
            rc = sign_head(p, key);
        }
    }
    if (rc == 0)
        rc = exec(p->db, "COMMIT");
    if (rc != 0)
        exec(p->db, "ROLLBACK");
    return rc;
}

static int open_common(const char *path, int flags, struct trl_partition **out)
{
    struct trl_partition *p = trl_xcalloc(1, sizeof(*p));
    int rc = trl_sqlite_err(sqlite3_open_v2(path, &p->db, flags | SQLITE_OPEN_NOMUTEX, NULL));
    if (rc != 0) {
        sqlite3_close_v2(p->db);
        free(p);
        return rc;
    }
    sqlite3_extended_result_codes(p->db, 1);
    sqlite3_busy_timeout(p->db, 10000);
    *out = p;
    return 0;
}

/* Whether the stored head is one this store's writer left: signed with its key, and naming the
 * chain's last entry (or the genesis of an empty chain). It becomes the trusted head. */
static int check_head(struct trl_partition *p, const struct trl_store_key *key)
{
    struct trl_partition_head h;
    int rc = trl_partition_read_head(p, &h);
    if (rc != 0)
        return rc;
    uint8_t last[TRL_SHA256_LEN];
    uint64_t last_seq = 0;
    trl_chain_genesis(p->day, last);
    rc = trl_sqlite_last_entry(p->db, "chain", &last_seq, last);
    if (rc != 0)
        return rc;
    uint8_t msg[TRL_HEAD_MSG_MAX];
    size_t n = trl_head_message(p->day, h.seq, h.hash, msg);
    if (h.seq != last_seq || memcmp(h.hash, last, TRL_SHA256_LEN) != 0 ||
        strcmp(h.key_id, trl_store_key_id(key)) != 0 ||
        !trl_store_key_verify(key, msg, n, h.sig, h.sig_len))
        return -EBADMSG;
    p->trusted_seq = h.seq;
    memcpy(p->trusted_hash, h.hash, TRL_SHA256_LEN);
    return 0;
}

int trl_partition_open_rw(const char *path, const char *day, const struct trl_store_key *key,
                          bool sync_full, struct trl_partition **out, bool *created)
{
    *out = NULL;
    *created = false;
    /* Create the file ourselves so it gets a restrictive mode (SQLite gives its WAL and shm the
     * same one); an empty file is a valid empty database. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd >= 0) {
        *created = true;
        close(fd);
    } else if (errno != EEXIST) {
        return -errno;
    }
    struct trl_partition *p;
    int rc = open_common(path, SQLITE_OPEN_READWRITE, &p);
    if (rc != 0)
        return rc;
    snprintf(p->day, sizeof(p->day), "%s", day);
    char pragmas[256];
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA page_size=%d; PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL;"
             " PRAGMA synchronous=%s; PRAGMA journal_size_limit=67108864;",
             PAGE_SIZE, sync_full ? "FULL" : "NORMAL");
    rc = exec(p->db, pragmas);
    if (rc == 0)
        rc = create_schema(p, key);
    if (rc == 0) {
        char stored[TRL_DAY_LEN + 1];
        memcpy(stored, p->day, sizeof(stored));
        rc = read_day(p);
        if (rc == 0 && strcmp(stored, p->day) != 0)
            rc = TRL_EINVAL;
    }
    if (rc == 0)
        rc = check_head(p, key);
    if (rc != 0) {
        trl_partition_close(p);
        return rc;
    }
    *out = p;
    return 0;
}

int trl_sqlite_open_reader(const char *path, sqlite3 **db)
{
    /* A read-only connection cannot rebuild the WAL index after a writer was killed (it fails
     * with SQLITE_READONLY_RECOVERY until a writer opens the file), so readers open read-write
     * when they may, with query_only set, and read-only otherwise. */
    *db = NULL;
    int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(*db, "PRAGMA query_only=1", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_close_v2(*db);
        rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    }
    if (rc != SQLITE_OK) {
        sqlite3_close_v2(*db);
        *db = NULL;
        return trl_sqlite_err(rc);
    }
    /* A reader closing last must not checkpoint (write) the file behind the writer's back. */
    sqlite3_db_config(*db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    sqlite3_extended_result_codes(*db, 1);
    sqlite3_busy_timeout(*db, 10000);
    return 0;
}

int trl_partition_open_ro(const char *path, struct trl_partition **out)
{
    *out = NULL;
    if (access(path, F_OK) != 0)
        return -ENOENT;
    struct trl_partition *p = trl_xcalloc(1, sizeof(*p));
    int rc = trl_sqlite_open_reader(path, &p->db);
    if (rc != 0) {
        free(p);
        return rc;
    }
    p->readonly = true;
    rc = read_day(p);
    if (rc == 0)
        rc = prepare_all(p);
    if (rc != 0) {
        trl_partition_close(p);
        return rc;
    }
    *out = p;
    return 0;
}

int trl_partition_read_head(struct trl_partition *p, struct trl_partition_head *h)
{
    memset(h, 0, sizeof(*h));
    sqlite3_stmt *st = p->get_head;
    int step = sqlite3_step(st);
    int rc = 0;
    if (step == SQLITE_ROW) {
        h->seq = (uint64_t)sqlite3_column_int64(st, 0);
        const void *hash = sqlite3_column_blob(st, 1);
        int hl = sqlite3_column_bytes(st, 1);
        const unsigned char *kid = sqlite3_column_text(st, 2);
        const void *sig = sqlite3_column_blob(st, 3);
        int sl = sqlite3_column_bytes(st, 3);
        if (!hash || hl != TRL_SHA256_LEN || sl > TRL_SIG_LEN) {
            rc = TRL_EINVAL;
        } else {
            memcpy(h->hash, hash, TRL_SHA256_LEN);
            snprintf(h->key_id, sizeof(h->key_id), "%s", kid ? (const char *)kid : "");
            if (sig && sl > 0)
                memcpy(h->sig, sig, (size_t)sl);
            h->sig_len = (size_t)sl;
        }
    } else {
        rc = step == SQLITE_DONE ? TRL_EINVAL : trl_sqlite_err(step);
    }
    sqlite3_reset(st);
    return rc;
}

int trl_partition_begin(struct trl_partition *p)
{
    int rc = exec(p->db, "BEGIN IMMEDIATE");
    if (rc != 0)
        return rc;
    p->in_tx = true;
    struct trl_partition_head h;
    rc = trl_partition_read_head(p, &h);
    if (rc != 0) {
        trl_partition_rollback(p);
        return rc;
    }
    if (h.seq != p->trusted_seq || memcmp(h.hash, p->trusted_hash, TRL_SHA256_LEN) != 0) {
        trl_partition_rollback(p);
        return -EBADMSG;
    }
    p->seq = h.seq;
    memcpy(p->hash, h.hash, TRL_SHA256_LEN);
    return 0;
}

int trl_partition_add_block(struct trl_partition *p, const struct trl_block_out *b, int kind,
                            const uint64_t *replaces, size_t nreplaces, int64_t now_ns,
                            uint64_t *id_out)
{
    struct trl_chain_entry e = {
        .seq = p->seq + 1,
        .kind = kind,
        .count = b->count,
        .min_ts = b->min_ts,
        .max_ts = b->max_ts,
        .at_ns = now_ns,
    };
    uint8_t *rep = NULL;
    if (nreplaces) {
        rep = trl_xmalloc(nreplaces * 8);
        for (size_t i = 0; i < nreplaces; i++)
            trl_put_u64le(rep + 8 * i, replaces[i]);
        e.replaces = rep;
        e.replaces_len = nreplaces * 8;
    }
    trl_block_content_hash(e.seq, b->min_ts, b->max_ts, b->count, b->meta, b->meta_len, b->data,
                           b->data_len, e.content_hash);
    memcpy(e.events_digest, b->events_digest, TRL_SHA256_LEN);
    memcpy(e.prev_hash, p->hash, TRL_SHA256_LEN);
    trl_chain_entry_hash(p->day, &e, e.hash);

    sqlite3_stmt *st = p->ins_block;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)e.seq);
    sqlite3_bind_int64(st, 2, b->min_ts);
    sqlite3_bind_int64(st, 3, b->max_ts);
    sqlite3_bind_int64(st, 4, b->count);
    sqlite3_bind_blob(st, 5, b->meta, (int)b->meta_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, b->data, (int)b->data_len, SQLITE_STATIC);
    int rc = trl_sqlite_err(sqlite3_step(st));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == 0) {
        st = p->ins_chain;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)e.seq);
        sqlite3_bind_int(st, 2, kind);
        sqlite3_bind_int64(st, 3, e.count);
        sqlite3_bind_int64(st, 4, e.min_ts);
        sqlite3_bind_int64(st, 5, e.max_ts);
        sqlite3_bind_blob(st, 6, e.content_hash, TRL_SHA256_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(st, 7, e.events_digest, TRL_SHA256_LEN, SQLITE_STATIC);
        if (rep)
            sqlite3_bind_blob(st, 8, rep, (int)e.replaces_len, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 8);
        sqlite3_bind_int64(st, 9, e.at_ns);
        sqlite3_bind_blob(st, 10, e.prev_hash, TRL_SHA256_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(st, 11, e.hash, TRL_SHA256_LEN, SQLITE_STATIC);
        rc = trl_sqlite_err(sqlite3_step(st));
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    free(rep);
    if (rc != 0)
        return rc;
    p->seq = e.seq;
    memcpy(p->hash, e.hash, TRL_SHA256_LEN);
    if (id_out)
        *id_out = e.seq;
    return 0;
}

int trl_partition_delete_block(struct trl_partition *p, uint64_t id)
{
    sqlite3_stmt *st = p->del_block;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    int rc = trl_sqlite_err(sqlite3_step(st));
    sqlite3_reset(st);
    if (rc == 0 && sqlite3_changes(p->db) != 1)
        rc = TRL_EINVAL;
    return rc;
}

int trl_partition_commit(struct trl_partition *p, const struct trl_store_key *key)
{
    int rc = sign_head(p, key);
    if (rc == 0)
        rc = exec(p->db, "COMMIT");
    if (rc != 0) {
        trl_partition_rollback(p);
        return rc;
    }
    p->in_tx = false;
    p->trusted_seq = p->seq;
    memcpy(p->trusted_hash, p->hash, TRL_SHA256_LEN);
    return 0;
}

void trl_partition_rollback(struct trl_partition *p)
{
    /* After SQLITE_FULL or an I/O error SQLite may already have rolled back; a second ROLLBACK
     * then fails harmlessly. */
    if (!sqlite3_get_autocommit(p->db))
        exec(p->db, "ROLLBACK");
    p->in_tx = false;
}

static void buf_set(struct trl_buf *b, const void *p, int n)
{
    trl_buf_reset(b);
    if (n > 0)
        trl_buf_append(b, p, (size_t)n);
    else
        trl_buf_reserve(b, 1);
}

int trl_partition_read_block(struct trl_partition *p, uint64_t id, struct trl_stored_block *out,
                             bool with_data)
{
    sqlite3_stmt *st = with_data ? p->get_block : p->get_block_meta;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    int step = sqlite3_step(st);
    int rc = 0;
    if (step == SQLITE_ROW) {
        out->id = (uint64_t)sqlite3_column_int64(st, 0);
        out->min_ts = sqlite3_column_int64(st, 1);
        out->max_ts = sqlite3_column_int64(st, 2);
        int64_t count = sqlite3_column_int64(st, 3);
        out->count = count > 0 && count <= TRL_BLOCK_MAX_EVENTS ? (uint32_t)count : 0;
        buf_set(&out->meta, sqlite3_column_blob(st, 4), sqlite3_column_bytes(st, 4));
        if (with_data)
            buf_set(&out->data, sqlite3_column_blob(st, 5), sqlite3_column_bytes(st, 5));
    } else {
        rc = step == SQLITE_DONE ? -ENOENT : trl_sqlite_err(step);
    }
    sqlite3_reset(st);
    return rc;
}

int trl_partition_check_block(struct trl_partition *p, const struct trl_stored_block *b)
{
    sqlite3_stmt *st = p->get_entry;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)b->id);
    int step = sqlite3_step(st);
    int rc = 0;
    if (step == SQLITE_ROW && sqlite3_column_bytes(st, 0) == TRL_SHA256_LEN) {
        uint8_t h[TRL_SHA256_LEN];
        trl_block_content_hash(b->id, b->min_ts, b->max_ts, b->count, b->meta.data, b->meta.len,
                               b->data.data, b->data.len, h);
        if (memcmp(h, sqlite3_column_blob(st, 0), TRL_SHA256_LEN) != 0)
            rc = TRL_EINVAL;
    } else {
        rc = step == SQLITE_ROW || step == SQLITE_DONE ? TRL_EINVAL : trl_sqlite_err(step);
    }
    sqlite3_reset(st);
    return rc;
}

int trl_sqlite_last_entry(sqlite3 *db, const char *table, uint64_t *seq,
                          uint8_t hash[TRL_SHA256_LEN])
{
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT seq, hash FROM %s ORDER BY seq DESC LIMIT 1", table);
    sqlite3_stmt *st = NULL;
    int rc = trl_sqlite_err(sqlite3_prepare_v2(db, sql, -1, &st, NULL));
    if (rc != 0)
        return rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW && sqlite3_column_bytes(st, 1) == TRL_SHA256_LEN) {
        *seq = (uint64_t)sqlite3_column_int64(st, 0);
        memcpy(hash, sqlite3_column_blob(st, 1), TRL_SHA256_LEN);
    } else if (step != SQLITE_DONE) {
        rc = step == SQLITE_ROW ? -EBADMSG : trl_sqlite_err(step);
    }
    sqlite3_finalize(st);
    return rc;
}

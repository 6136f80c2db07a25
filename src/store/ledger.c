#include "store/ledger.h"
#include "core/log.h"
#include "store/chain.h"
#include "store/partition.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct trl_ledger {
    sqlite3 *db;
    /* The head this writer appended last, once it has (see ledger_head()). */
    bool trusted;
    uint64_t trusted_seq;
    uint8_t trusted_hash[TRL_SHA256_LEN];
};

static const char *const LEDGER_SCHEMA =
    "CREATE TABLE IF NOT EXISTS entries("
    " seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, day TEXT NOT NULL, at_ns INTEGER NOT NULL,"
    " reason TEXT NOT NULL, part_seq INTEGER NOT NULL, part_hash BLOB NOT NULL,"
    " prev_hash BLOB NOT NULL, hash BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS entries_by_day ON entries(day, seq);"
    "CREATE TABLE IF NOT EXISTS head("
    " id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash BLOB NOT NULL,"
    " key_id TEXT NOT NULL, signature BLOB NOT NULL);";

void trl_ledger_genesis(uint8_t out[TRL_SHA256_LEN])
{
    struct trl_sha256 h;
    if (trl_sha256_init(&h) != 0)
        abort();
    trl_sha256_bytes(&h, "trapline-ledger-genesis-1", 25);
    trl_sha256_final(&h, out);
}

void trl_ledger_entry_hash(const struct trl_ledger_entry *e, uint8_t out[TRL_SHA256_LEN])
{
    struct trl_sha256 h;
    if (trl_sha256_init(&h) != 0)
        abort();
    trl_sha256_bytes(&h, "trapline-ledger-1", 17);
    trl_sha256_u64(&h, e->seq);
    trl_sha256_bytes(&h, e->kind, strlen(e->kind));
    trl_sha256_bytes(&h, e->day, strlen(e->day));
    trl_sha256_u64(&h, (uint64_t)e->at_ns);
    trl_sha256_bytes(&h, e->reason, strlen(e->reason));
    trl_sha256_u64(&h, e->part_seq);
    trl_sha256_update(&h, e->part_hash, TRL_SHA256_LEN);
    trl_sha256_update(&h, e->prev_hash, TRL_SHA256_LEN);
    trl_sha256_final(&h, out);
}

static int exec(sqlite3 *db, const char *sql)
{
    return trl_sqlite_err(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

static int ledger_path(const char *events_dir, char *path)
{
    if (snprintf(path, PATH_MAX, "%s/%s", events_dir, TRL_LEDGER_FILE) >= PATH_MAX)
        return -ENAMETOOLONG;
    return 0;
}

int trl_ledger_open(const char *events_dir, bool sync_full, struct trl_ledger **out)
{
    char path[PATH_MAX];
    *out = NULL;
    int rc = ledger_path(events_dir, path);
    if (rc != 0)
        return rc;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd >= 0)
        close(fd);
    else if (errno != EEXIST)
        return -errno;
    struct trl_ledger *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    rc = trl_sqlite_err(
        sqlite3_open_v2(path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL));
    if (rc == 0) {
        sqlite3_busy_timeout(l->db, 10000);
        rc = exec(l->db, sync_full ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                   : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
    }
    if (rc == 0)
        rc = exec(l->db, LEDGER_SCHEMA);
    if (rc == 0) {
        uint8_t g[TRL_SHA256_LEN];
        char hex[2 * TRL_SHA256_LEN + 1], sql[256];
        trl_ledger_genesis(g);
        trl_hex(g, TRL_SHA256_LEN, hex);
        snprintf(sql, sizeof(sql),
                 "INSERT OR IGNORE INTO head(id, seq, hash, key_id, signature)"
                 " VALUES(1, 0, x'%s', '', x'')",
                 hex);
        rc = exec(l->db, sql);
    }
    if (rc != 0) {
        trl_ledger_close(l);
        return rc;
    }
    *out = l;
    return 0;
}

int trl_ledger_open_ro(const char *events_dir, struct trl_ledger **out)
{
    char path[PATH_MAX];
    *out = NULL;
    int rc = ledger_path(events_dir, path);
    if (rc != 0)
        return rc;
    if (access(path, F_OK) != 0)
        return -ENOENT;
    struct trl_ledger *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    rc = trl_sqlite_open_reader(path, &l->db);
    if (rc != 0) {
        trl_ledger_close(l);
        return rc;
    }
    *out = l;
    return 0;
}

void trl_ledger_close(struct trl_ledger *l)
{
    if (!l)
        return;
    sqlite3_close_v2(l->db);
    free(l);
}

sqlite3 *trl_ledger_db(const struct trl_ledger *l)
{
    return l->db;
}

/* Reads the head a new entry follows, inside the caller's transaction: the one this writer left,
 * or, before its first append, one signed with key that names the last entry (or the genesis).
 * -EBADMSG for any other: appending and signing over it would hide how it was changed. */
static int ledger_head(struct trl_ledger *l, const struct trl_store_key *key, uint64_t *seq,
                       uint8_t hash[TRL_SHA256_LEN])
{
    sqlite3_stmt *st = NULL;
    uint8_t sig[TRL_SIG_LEN], last[TRL_SHA256_LEN];
    size_t sig_len = 0;
    char key_id[TRL_KEY_ID_LEN + 1] = "";
    uint64_t last_seq = 0;
    int rc = trl_sqlite_err(sqlite3_prepare_v2(
        l->db, "SELECT seq, hash, key_id, signature FROM head WHERE id = 1", -1, &st, NULL));
    if (rc == 0) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 1) == TRL_SHA256_LEN &&
            sqlite3_column_bytes(st, 3) <= TRL_SIG_LEN) {
            *seq = (uint64_t)sqlite3_column_int64(st, 0);
            memcpy(hash, sqlite3_column_blob(st, 1), TRL_SHA256_LEN);
            const unsigned char *kid = sqlite3_column_text(st, 2);
            snprintf(key_id, sizeof(key_id), "%s", kid ? (const char *)kid : "");
            sig_len = (size_t)sqlite3_column_bytes(st, 3);
            if (sig_len)
                memcpy(sig, sqlite3_column_blob(st, 3), sig_len);
        } else {
            rc = TRL_EINVAL;
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    if (rc != 0)
        return rc;
    if (l->trusted)
        return *seq == l->trusted_seq && !memcmp(hash, l->trusted_hash, TRL_SHA256_LEN) ? 0
                                                                                        : -EBADMSG;
    trl_ledger_genesis(last);
    rc = trl_sqlite_last_entry(l->db, "entries", &last_seq, last);
    if (rc != 0)
        return rc;
    if (*seq != last_seq || memcmp(hash, last, TRL_SHA256_LEN) != 0)
        return -EBADMSG;
    if (*seq == 0)
        return 0; /* the genesis head, signed by nobody yet */
    uint8_t msg[TRL_HEAD_MSG_MAX];
    size_t n = trl_head_message("ledger", *seq, hash, msg);
    return strcmp(key_id, trl_store_key_id(key)) == 0 &&
                   trl_store_key_verify(key, msg, n, sig, sig_len)
               ? 0
               : -EBADMSG;
}

int trl_ledger_append(struct trl_ledger *l, const struct trl_store_key *key, const char *kind,
                      const char *day, const char *reason, uint64_t part_seq,
                      const uint8_t part_hash[TRL_SHA256_LEN], int64_t now_ns)
{
    int rc = exec(l->db, "BEGIN IMMEDIATE");
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = NULL;
    struct trl_ledger_entry e = {
        .kind = kind, .day = day, .at_ns = now_ns, .reason = reason, .part_seq = part_seq};
    memcpy(e.part_hash, part_hash, TRL_SHA256_LEN);
    rc = ledger_head(l, key, &e.seq, e.prev_hash);
    if (rc == -EBADMSG)
        trl_error("store",
                  "the ledger's head is not the one this store's writer left (changed "
                  "outside the server): not recording %s %s; run trapline verify",
                  kind, day);
    e.seq++;
    if (rc == 0) {
        trl_ledger_entry_hash(&e, e.hash);
        rc = trl_sqlite_err(sqlite3_prepare_v2(
            l->db,
            "INSERT INTO entries(seq, kind, day, at_ns, reason, part_seq, part_hash, prev_hash,"
            " hash) VALUES(?,?,?,?,?,?,?,?,?)",
            -1, &st, NULL));
    }
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)e.seq);
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, day, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now_ns);
        sqlite3_bind_text(st, 5, reason, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, (sqlite3_int64)part_seq);
        sqlite3_bind_blob(st, 7, e.part_hash, TRL_SHA256_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(st, 8, e.prev_hash, TRL_SHA256_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(st, 9, e.hash, TRL_SHA256_LEN, SQLITE_STATIC);
        rc = trl_sqlite_err(sqlite3_step(st));
        sqlite3_finalize(st);
        st = NULL;
    }
    uint8_t msg[TRL_HEAD_MSG_MAX], sig[TRL_SIG_LEN];
    if (rc == 0) {
        size_t n = trl_head_message("ledger", e.seq, e.hash, msg);
        rc = trl_store_key_sign(key, msg, n, sig);
    }
    if (rc == 0)
        rc = trl_sqlite_err(sqlite3_prepare_v2(
            l->db, "UPDATE head SET seq = ?, hash = ?, key_id = ?, signature = ? WHERE id = 1", -1,
            &st, NULL));
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)e.seq);
        sqlite3_bind_blob(st, 2, e.hash, TRL_SHA256_LEN, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, trl_store_key_id(key), -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 4, sig, TRL_SIG_LEN, SQLITE_STATIC);
        rc = trl_sqlite_err(sqlite3_step(st));
        sqlite3_finalize(st);
    }
    if (rc == 0)
        rc = exec(l->db, "COMMIT");
    if (rc != 0 && !sqlite3_get_autocommit(l->db))
        exec(l->db, "ROLLBACK");
    if (rc == 0) {
        l->trusted = true;
        l->trusted_seq = e.seq;
        memcpy(l->trusted_hash, e.hash, TRL_SHA256_LEN);
    }
    return rc;
}

int trl_ledger_state(struct trl_ledger *l, const char *day, enum trl_ledger_state *state)
{
    sqlite3_stmt *st = NULL;
    *state = TRL_LEDGER_NONE;
    int rc = trl_sqlite_err(sqlite3_prepare_v2(
        l->db, "SELECT kind FROM entries WHERE day = ? ORDER BY seq DESC LIMIT 1", -1, &st, NULL));
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const unsigned char *k = sqlite3_column_text(st, 0);
        *state = k && !strcmp((const char *)k, "remove") ? TRL_LEDGER_REMOVED : TRL_LEDGER_OPEN;
    } else if (step != SQLITE_DONE) {
        rc = trl_sqlite_err(step);
    }
    sqlite3_finalize(st);
    return rc;
}

/*
 * users: accounts and API tokens in DATA/users.db.
 */
#include "web/users.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "web/http_parse.h"

#include <argon2.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct trl_users {
    sqlite3 *db;
    pthread_mutex_t mu;
    /* Verified against when the user is unknown, so that unknown and known names take as long. */
    char dummy_hash[TRL_PW_ENCODED_MAX];
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS users ("
    " name TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tokens ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, role TEXT NOT NULL,"
    " hash TEXT NOT NULL UNIQUE, created_by TEXT NOT NULL, created INTEGER NOT NULL,"
    " last_used INTEGER NOT NULL DEFAULT 0);";

int trl_users_open(const char *data_dir, struct trl_users **out)
{
    if (sodium_init() < 0) {
        trl_error("users", "libsodium failed to initialise");
        return -EIO;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/users.db", data_dir);
    /* Created 0600: it holds password hashes. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        trl_error("users", "cannot open %s: %s", path, strerror(e));
        return -e;
    }
    close(fd);
    struct trl_users *u = trl_xcalloc(1, sizeof(*u));
    pthread_mutex_init(&u->mu, NULL);
    if (sqlite3_open_v2(path, &u->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) !=
        SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(u->db, 5000);
    if (sqlite3_exec(u->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                     NULL) != SQLITE_OK ||
        sqlite3_exec(u->db, schema, NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    if (trl_password_hash("trapline-dummy-password", u->dummy_hash, sizeof(u->dummy_hash)) != 0)
        goto fail;
    *out = u;
    return 0;
fail:
    trl_error("users", "cannot open %s: %s", path, u->db ? sqlite3_errmsg(u->db) : "no memory");
    trl_users_close(u);
    return -EIO;
}

void trl_users_close(struct trl_users *u)
{
    if (!u)
        return;
    sqlite3_close(u->db);
    pthread_mutex_destroy(&u->mu);
    free(u);
}

int trl_password_hash(const char *password, char *out, size_t cap)
{
    size_t len = strlen(password);
    if (len > TRL_PW_MAX_LEN)
        return TRL_EINVAL;
    uint8_t salt[16];
    randombytes_buf(salt, sizeof(salt));
    int rc = argon2id_hash_encoded(TRL_PW_T_COST, TRL_PW_M_KIB, 1, password, len, salt,
                                   sizeof(salt), 32, out, cap);
    return rc == ARGON2_OK ? 0 : TRL_EINVAL;
}

int trl_password_verify(const char *encoded, const char *password)
{
    size_t len = strlen(password);
    if (len > TRL_PW_MAX_LEN)
        return TRL_ENOMATCH;
    return argon2id_verify(encoded, password, len) == ARGON2_OK ? 0 : TRL_ENOMATCH;
}

static bool password_ok(const char *pw)
{
    size_t n = pw ? strlen(pw) : 0;
    return n >= TRL_PW_MIN_LEN && n <= TRL_PW_MAX_LEN;
}

/* Runs one statement with text/integer parameters ("t" or "i" per parameter in types). Returns
 * the number of rows changed, or -EIO. */
static int exec_params(struct trl_users *u, const char *sql, const char *types, ...)
{
    va_list ap;
    sqlite3_stmt *st = NULL;
    int rc = -EIO;
    pthread_mutex_lock(&u->mu);
    if (sqlite3_prepare_v2(u->db, sql, -1, &st, NULL) != SQLITE_OK)
        goto out;
    va_start(ap, types);
    for (int i = 0; types[i]; i++) {
        if (types[i] == 't')
            sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
    }
    va_end(ap);
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE)
        rc = sqlite3_changes(u->db);
    else if (step == SQLITE_CONSTRAINT)
        rc = -EEXIST;
out:
    if (rc == -EIO)
        trl_error("users", "database error: %s", sqlite3_errmsg(u->db));
    sqlite3_finalize(st);
    pthread_mutex_unlock(&u->mu);
    return rc;
}

int trl_users_add(struct trl_users *u, const char *name, int role, const char *password)
{
    if (!trl_web_name_ok(name) || trl_role_name(role)[0] == 'n' || !password_ok(password))
        return TRL_EINVAL;
    char hash[TRL_PW_ENCODED_MAX];
    if (trl_password_hash(password, hash, sizeof(hash)) != 0)
        return TRL_EINVAL;
    int rc = exec_params(u, "INSERT INTO users(name, role, hash, created) VALUES(?,?,?,?)", "ttti",
                         name, trl_role_name(role), hash, (int64_t)trl_now_ns());
    sodium_memzero(hash, sizeof(hash));
    return rc < 0 ? rc : 0;
}

int trl_users_set_password(struct trl_users *u, const char *name, const char *password)
{
    if (!password_ok(password))
        return TRL_EINVAL;
    char hash[TRL_PW_ENCODED_MAX];
    if (trl_password_hash(password, hash, sizeof(hash)) != 0)
        return TRL_EINVAL;
    int rc = exec_params(u, "UPDATE users SET hash = ? WHERE name = ?", "tt", hash, name);
    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

int trl_users_set_role(struct trl_users *u, const char *name, int role)
{
    if (trl_role_name(role)[0] == 'n')
        return TRL_EINVAL;
    int rc =
        exec_params(u, "UPDATE users SET role = ? WHERE name = ?", "tt", trl_role_name(role), name);
    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

int trl_users_remove(struct trl_users *u, const char *name)
{
    int rc = exec_params(u, "DELETE FROM users WHERE name = ?", "t", name);
    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

/* Reads one user's role and hash. 0, -ENOENT or -EIO. */
static int load_user(struct trl_users *u, const char *name, int *role, char *hash, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc = -EIO;
    pthread_mutex_lock(&u->mu);
    if (sqlite3_prepare_v2(u->db, "SELECT role, hash FROM users WHERE name = ?", -1, &st, NULL) !=
        SQLITE_OK)
        goto out;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        *role = trl_role_parse((const char *)sqlite3_column_text(st, 0));
        if (hash)
            snprintf(hash, cap, "%s", (const char *)sqlite3_column_text(st, 1));
        rc = 0;
    } else if (step == SQLITE_DONE) {
        rc = -ENOENT;
    }
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&u->mu);
    return rc;
}

int trl_users_role(struct trl_users *u, const char *name, int *role)
{
    return load_user(u, name, role, NULL, 0);
}

int trl_users_verify(struct trl_users *u, const char *name, const char *password, int *role)
{
    char hash[TRL_PW_ENCODED_MAX];
    int r = -1;
    bool known = load_user(u, name, &r, hash, sizeof(hash)) == 0;
    int rc = trl_password_verify(known ? hash : u->dummy_hash, password);
    if (!known || rc != 0 || r < 0)
        return TRL_ENOMATCH;
    *role = r;
    return 0;
}

long trl_users_list(struct trl_users *u, void (*each)(void *ud, const struct trl_user_row *r),
                    void *ud)
{
    sqlite3_stmt *st = NULL;
    long n = -EIO;
    pthread_mutex_lock(&u->mu);
    if (sqlite3_prepare_v2(u->db, "SELECT name, role, created FROM users ORDER BY name", -1, &st,
                           NULL) != SQLITE_OK)
        goto out;
    n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct trl_user_row r = {
            .name = (const char *)sqlite3_column_text(st, 0),
            .role = trl_role_parse((const char *)sqlite3_column_text(st, 1)),
            .created_ns = sqlite3_column_int64(st, 2),
        };
        each(ud, &r);
        n++;
    }
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&u->mu);
    return n;
}

static long count_users(struct trl_users *u)
{
    sqlite3_stmt *st = NULL;
    long n = -EIO;
    pthread_mutex_lock(&u->mu);
    if (sqlite3_prepare_v2(u->db, "SELECT count(*) FROM users", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&u->mu);
    return n;
}

int trl_users_ensure_admin(struct trl_users *u, const char *data_dir)
{
    long n = count_users(u);
    if (n != 0)
        return n < 0 ? (int)n : 0;
    /* 18 random bytes as 24 characters of URL-safe base64. */
    uint8_t raw[18];
    char pw[32];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(pw, sizeof(pw), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char path[4096];
    snprintf(path, sizeof(path), "%s/admin-password", data_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        trl_error("users", "cannot write %s: %s", path, strerror(e));
        return -e;
    }
    size_t len = strlen(pw);
    bool ok =
        fchmod(fd, 0600) == 0 && write(fd, pw, len) == (ssize_t)len && write(fd, "\n", 1) == 1;
    ok = close(fd) == 0 && ok;
    int rc = ok ? trl_users_add(u, "admin", TRL_ROLE_ADMIN, pw) : -EIO;
    if (rc == 0)
        trl_info("users",
                 "created web user admin password=%s (also in %s; change it with `trapline users "
                 "passwd admin`)",
                 pw, path);
    else
        trl_error("users", "cannot create the first user admin: %s", trl_strerror(rc));
    sodium_memzero(pw, sizeof(pw));
    return rc;
}

static void token_digest(const char *token, size_t len, char hex[65])
{
    uint8_t d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, (const uint8_t *)token, len);
    sodium_bin2hex(hex, 65, d, sizeof(d));
}

int trl_tokens_create(struct trl_users *u, const char *name, int role, const char *created_by,
                      char token[TRL_TOKEN_LEN + 1], int64_t *id)
{
    if (!trl_web_name_ok(name) || trl_role_name(role)[0] == 'n')
        return TRL_EINVAL;
    uint8_t raw[32];
    randombytes_buf(raw, sizeof(raw));
    memcpy(token, "trl_", 4);
    sodium_bin2hex(token + 4, 65, raw, sizeof(raw));
    char hex[65];
    token_digest(token, TRL_TOKEN_LEN, hex);
    int rc = exec_params(
        u, "INSERT INTO tokens(name, role, hash, created_by, created) VALUES(?,?,?,?,?)", "tttti",
        name, trl_role_name(role), hex, created_by, (int64_t)trl_now_ns());
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&u->mu);
    *id = sqlite3_last_insert_rowid(u->db);
    pthread_mutex_unlock(&u->mu);
    return 0;
}

int trl_tokens_check(struct trl_users *u, const char *token, size_t len, char *name,
                     size_t name_cap, int *role)
{
    if (len != TRL_TOKEN_LEN || memcmp(token, "trl_", 4))
        return TRL_ENOMATCH;
    char hex[65];
    token_digest(token, len, hex);
    sqlite3_stmt *st = NULL;
    int rc = TRL_ENOMATCH;
    int64_t id = 0;
    pthread_mutex_lock(&u->mu);
    /* The lookup is by a digest of the token, so its timing tells nothing about the token. */
    if (sqlite3_prepare_v2(u->db, "SELECT id, name, role FROM tokens WHERE hash = ?", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, hex, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW) {
            id = sqlite3_column_int64(st, 0);
            snprintf(name, name_cap, "%s", (const char *)sqlite3_column_text(st, 1));
            *role = trl_role_parse((const char *)sqlite3_column_text(st, 2));
            rc = *role >= 0 ? 0 : TRL_ENOMATCH;
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&u->mu);
    if (rc == 0)
        (void)exec_params(u, "UPDATE tokens SET last_used = ? WHERE id = ?", "ii",
                          (int64_t)trl_now_ns(), id);
    return rc;
}

int trl_tokens_revoke(struct trl_users *u, int64_t id)
{
    int rc = exec_params(u, "DELETE FROM tokens WHERE id = ?", "i", id);
    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

long trl_tokens_list(struct trl_users *u, void (*each)(void *ud, const struct trl_token_row *r),
                     void *ud)
{
    sqlite3_stmt *st = NULL;
    long n = -EIO;
    pthread_mutex_lock(&u->mu);
    if (sqlite3_prepare_v2(u->db,
                           "SELECT id, name, role, created_by, created, last_used FROM tokens "
                           "ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct trl_token_row r = {
            .id = sqlite3_column_int64(st, 0),
            .name = (const char *)sqlite3_column_text(st, 1),
            .role = trl_role_parse((const char *)sqlite3_column_text(st, 2)),
            .created_by = (const char *)sqlite3_column_text(st, 3),
            .created_ns = sqlite3_column_int64(st, 4),
            .last_used_ns = sqlite3_column_int64(st, 5),
        };
        each(ud, &r);
        n++;
    }
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&u->mu);
    return n;
}

/*
 * fim_db: the file integrity baseline on disk, an SQLite database (see fim.h for why SQLite).
 *
 * Two tables: files (one row per monitored path with its attributes, SHA-256 and the generation
 * of the last full scan that saw it) and roots (the configured paths whose baseline is complete,
 * so a restart knows to report differences rather than build the baseline again). The monitor
 * keeps no copy of the baseline in memory: it reads each path's row when it looks at the path.
 * Writes are grouped by the caller between trl_fim_db_begin() and trl_fim_db_commit(). Owned and
 * driven by one fim monitor, on its thread.
 */
#ifndef TRL_AGENT_FIM_DB_H
#define TRL_AGENT_FIM_DB_H

#include <stdbool.h>
#include <stdint.h>

enum trl_fim_type { TRL_FIM_FILE = 1, TRL_FIM_DIR, TRL_FIM_SYMLINK, TRL_FIM_OTHER };

enum trl_fim_hash_state {
    TRL_FIM_HASH_NONE = 0,    /* not a regular file */
    TRL_FIM_HASH_OK = 1,      /* sha256 holds the content hash */
    TRL_FIM_HASH_TOO_BIG = 2, /* larger than max_hash_bytes */
    TRL_FIM_HASH_UNREADABLE = 3,
};

struct trl_fim_entry {
    uint8_t type;       /* enum trl_fim_type */
    uint8_t hash_state; /* enum trl_fim_hash_state */
    uint32_t mode;      /* permission bits (07777) */
    uint32_t uid, gid;
    uint64_t size, ino, dev;
    int64_t mtime_ns, ctime_ns;
    unsigned char sha256[32];
};

struct trl_fim_db;

/* Opens or creates the database. Returns 0 or a negative errno / TRL_EINVAL (not a baseline). */
int trl_fim_db_open(const char *path, struct trl_fim_db **out);
void trl_fim_db_close(struct trl_fim_db *db);
/* Frees the pages SQLite caches and no statement holds; they are read from the file again when
 * needed. */
void trl_fim_db_trim(struct trl_fim_db *db);

/* Calls root for every completed root; *gen: the latest scan generation stored. */
int trl_fim_db_load_roots(struct trl_fim_db *db, void (*root)(void *ud, const char *path), void *ud,
                          uint32_t *gen);
/* The stored entry of path: 1 (in e), 0 when there is none, or a negative error. */
int trl_fim_db_get(struct trl_fim_db *db, const char *path, struct trl_fim_entry *e);
/* Calls fn for every entry a full scan of generation gen did not see (prefix NULL), or for prefix
 * and everything below it (below_only: below it only). fn must not write the database. */
int trl_fim_db_select(struct trl_fim_db *db, const char *prefix, bool below_only, uint32_t gen,
                      void (*fn)(void *ud, const char *path, const struct trl_fim_entry *e),
                      void *ud);
int trl_fim_db_count(struct trl_fim_db *db, uint64_t *count);

int trl_fim_db_begin(struct trl_fim_db *db);
int trl_fim_db_commit(struct trl_fim_db *db);
/* Stores path's entry, seen by the scan of generation gen. */
int trl_fim_db_put(struct trl_fim_db *db, const char *path, const struct trl_fim_entry *e,
                   uint32_t gen);
/* Records that the scan of generation gen saw path, unchanged. */
int trl_fim_db_seen(struct trl_fim_db *db, const char *path, uint32_t gen);
int trl_fim_db_delete(struct trl_fim_db *db, const char *path);
int trl_fim_db_add_root(struct trl_fim_db *db, const char *path);

#endif

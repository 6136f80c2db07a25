/*
 * partition: one SQLite file of the event store, holding the blocks of one UTC day
 * (DATA/events/YYYY-MM-DD.db) with their hash chain and signed head.
 *
 * Tables: blocks (one row per live block: id, time range, count, meta and data blobs), chain (one
 * row per block ever committed, never deleted) and head (the signed last entry). The file is in
 * WAL mode so readers never wait for the writer; the writer commits with synchronous=FULL by
 * default (see docs/storage.md for why).
 *
 * A writable handle belongs to the store's writer thread; a read-only handle to one reader thread.
 * Handles are closed with trl_partition_close(). Errors are negative errno values: -ENOSPC for a
 * full disk, -EBUSY when the file is locked, -EIO otherwise; TRL_EINVAL for a file that is not a
 * partition.
 */
#ifndef TRL_STORE_PARTITION_H
#define TRL_STORE_PARTITION_H

#include "core/buf.h"
#include "store/block.h"
#include "store/chain.h"
#include "store/keys.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#define TRL_DAY_LEN    10 /* "YYYY-MM-DD" */
#define TRL_NS_PER_DAY (86400LL * 1000000000LL)

struct trl_partition;

struct trl_partition_head {
    uint64_t seq;
    uint8_t hash[TRL_SHA256_LEN];
    char key_id[TRL_KEY_ID_LEN + 1];
    uint8_t sig[TRL_SIG_LEN];
    size_t sig_len;
};

/* Day number (days since 1970-01-01, floor) of a timestamp, and its "YYYY-MM-DD" name. */
int64_t trl_day_of_ns(int64_t ns);
void trl_day_name(int64_t day, char out[TRL_DAY_LEN + 1]);
/* Parses "YYYY-MM-DD" (exactly); false otherwise. */
bool trl_day_parse(const char *s, size_t len, int64_t *day);

/* Maps a SQLite result code to a negative errno. */
int trl_sqlite_err(int rc);
/* The seq and hash of the last entry of a hash-chained table (a partition's chain, the ledger's
 * entries); both left as they are when it has none. -EBADMSG for a malformed entry. */
int trl_sqlite_last_entry(sqlite3 *db, const char *table, uint64_t *seq,
                          uint8_t hash[TRL_SHA256_LEN]);

/* Opens the partition for writing, creating the file with its schema and a signed empty head
 * when it does not exist (*created tells). -EBADMSG when its head is not one this store's writer
 * left: not signed with key, or not naming the chain's last entry. */
int trl_partition_open_rw(const char *path, const char *day, const struct trl_store_key *key,
                          bool sync_full, struct trl_partition **out, bool *created);
/* Opens a SQLite file of the store for reading (see partition.c for why read-write with
 * query_only when possible). 0 or a negative error. */
int trl_sqlite_open_reader(const char *path, sqlite3 **db);
/* Opens an existing partition read-only. The day is read from the file. */
int trl_partition_open_ro(const char *path, struct trl_partition **out);
void trl_partition_close(struct trl_partition *p);

const char *trl_partition_day(const struct trl_partition *p);
sqlite3 *trl_partition_db(const struct trl_partition *p);

/* Reads the head (inside the caller's transaction, or on its own). */
int trl_partition_read_head(struct trl_partition *p, struct trl_partition_head *h);

/* Writer: a transaction adding and removing blocks. begin() takes the write lock and reads the
 * head; add_block() chains a new block after it; commit() signs the new head and commits. On any
 * error the caller calls rollback(), which leaves the file as it was before begin(). begin()
 * returns -EBADMSG (and holds no transaction) when the head is not the one this writer committed
 * last or found signed at open: signing over a head someone else wrote would hide what they did. */
int trl_partition_begin(struct trl_partition *p);
int trl_partition_add_block(struct trl_partition *p, const struct trl_block_out *b, int kind,
                            const uint64_t *replaces, size_t nreplaces, int64_t now_ns,
                            uint64_t *id_out);
int trl_partition_delete_block(struct trl_partition *p, uint64_t id);
int trl_partition_commit(struct trl_partition *p, const struct trl_store_key *key);
void trl_partition_rollback(struct trl_partition *p);

/* Reads a block's blobs into caller buffers (inside a transaction for consistency). */
struct trl_stored_block {
    uint64_t id;
    int64_t min_ts, max_ts;
    uint32_t count;
    struct trl_buf meta;
    struct trl_buf data;
};
int trl_partition_read_block(struct trl_partition *p, uint64_t id, struct trl_stored_block *out,
                             bool with_data);
/* Writer: checks a block read with its data against its chain entry's content hash. 0, TRL_EINVAL
 * when the block or its entry was altered (or the entry is missing), or a negative errno. */
int trl_partition_check_block(struct trl_partition *p, const struct trl_stored_block *b);

#endif

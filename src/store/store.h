/*
 * store: Trapline's embedded event store, the writing side.
 *
 * Events are kept in immutable compressed blocks (block.h) inside one SQLite file per UTC day of
 * @timestamp (DATA/events/YYYY-MM-DD.db, partition.h), hash-chained and signed (chain.h, keys.h),
 * with a ledger of partitions created and removed (ledger.h). docs/storage.md is the full design.
 *
 * One process writes a data directory at a time (an exclusive lock on DATA/events/LOCK); any number
 * of readers (store_read.h, `trapline verify`) may run alongside it.
 *
 * Durability: trl_store_append() returns 0 only after every transaction holding the events has
 * committed (synchronous=FULL: on disk, surviving power loss; with sync_normal: surviving a crash
 * of the process). A batch whose events fall on several days is committed per day; when a later
 * day fails, the days already committed are remembered, and a retry of the same events (the
 * caller's duty after an error) does not store them twice. On a full disk the append returns
 * -ENOSPC and the files stay consistent; nothing of the failed day was stored.
 *
 * Threads: a struct trl_store belongs to one thread (the pipeline worker) for all calls; blocks
 * may be built beforehand on other threads (prebuild.h).
 */
#ifndef TRL_STORE_H
#define TRL_STORE_H

#include "core/event.h"
#include "core/util.h"
#include "server/pipeline.h"

#include <stdbool.h>
#include <stdint.h>

#define TRL_STORE_RETENTION_DAYS_DEFAULT 90

struct trl_store_opts {
    uint32_t block_max_events;    /* events per block, 16..65536 (default 4096) */
    int zstd_level;               /* 1..19 for blocks written by append (default 2) */
    int compact_zstd_level;       /* 1..19 for blocks written by compaction (default 9) */
    unsigned bloom_bits_per_term; /* 4..32 (default 12): the Bloom filter of a small block; a
                                   * larger block gets a ribbon filter of at most those false
                                   * positives (about 0.2%, docs/storage.md) */
    bool sync_normal;             /* synchronous=NORMAL instead of FULL (not power-loss safe) */
    uint32_t max_open_partitions; /* partition files kept open by the writer (default 4) */
    /* What the sink does when the pipeline is idle (flush): */
    bool no_compaction;           /* never merge small blocks */
    uint32_t retention_days;      /* 0: keep forever; else drop partitions older than this */
    uint64_t retention_max_bytes; /* 0: no cap; else drop the oldest partitions above it */
};

struct trl_store;

/* Opens (creating DATA/events, DATA/keys and the signing key when needed) a data directory for
 * writing. opts may be NULL for the defaults. 0 or a negative error (logged). */
int trl_store_open(const char *data_dir, const struct trl_store_opts *opts, struct trl_store **out);
/* NULL-safe. */
void trl_store_close(struct trl_store *st);

/* Stores n events (NULL entries are skipped). 0 once committed, else a negative error: -ENOSPC
 * (disk full), -EBUSY (a file stayed locked), -EIO. The events are only read. */
int trl_store_append(struct trl_store *st, struct trl_event *const *events, size_t n);
/* The same for events already encoded by trl_json_encode_event(): json[i] is event i's JSON
 * (without a newline); a NULL json[i].ptr, or json NULL, has the store encode it. */
int trl_store_append_encoded(struct trl_store *st, struct trl_event *const *events,
                             const struct trl_str *json, size_t n);

struct trl_prebuilt;
/* The same for blocks built beforehand by trl_store_prebuild() (prebuild.h), on any thread: only
 * the commit runs here. pb must stay valid until this returns, also for a retry after an error. */
int trl_store_append_prebuilt(struct trl_store *st, const struct trl_prebuilt *pb);
/* The options in effect (defaults applied). */
const struct trl_store_opts *trl_store_get_opts(const struct trl_store *st);

struct trl_store_compact_stats {
    uint32_t merges;          /* new blocks written */
    uint32_t blocks_replaced; /* small blocks they replaced */
    uint64_t events;          /* events moved */
};

/* Merges runs of small blocks (fewer than block_max_events/4 events each) into blocks of up to
 * block_max_events, in the partitions this store wrote to or found newest at open. A run is merged
 * once it holds half a block, or when its partition has been idle for 30 s, or always with force.
 * Stops after budget_ns (0: no limit). stats may be NULL. 0 or a negative error. */
int trl_store_compact(struct trl_store *st, int64_t budget_ns, bool force,
                      struct trl_store_compact_stats *stats);

struct trl_store_retention_result {
    uint32_t removed;    /* partitions removed */
    uint64_t bytes;      /* their size on disk */
    uint64_t kept_bytes; /* size of what remains */
};

/* Drops whole partitions: those whose day ended more than `days` days before now_ns (days 0:
 * none), then the oldest ones while the partitions take more than max_bytes (0: no cap), never the
 * newest one. Every removal is recorded in the ledger first. res may be NULL. */
int trl_store_apply_retention(struct trl_store *st, uint32_t days, uint64_t max_bytes,
                              int64_t now_ns, struct trl_store_retention_result *res);

/* The pipeline sink over a store: write() appends the batch (0 only once committed), flush()
 * (called when the pipeline is idle) compacts for up to 50 ms and applies the retention of opts at
 * most once a minute, destroy() closes the store. NULL (logged) when the store cannot be opened. */
struct trl_sink *trl_store_sink_create(const char *data_dir, const struct trl_store_opts *opts);

#endif

/*
 * store_internal: the writer's state shared by store.c, compact.c and retention.c. Not a public
 * interface: everything here belongs to the writer thread.
 */
#ifndef TRL_STORE_INTERNAL_H
#define TRL_STORE_INTERNAL_H

#include "core/buf.h"
#include "store/block.h"
#include "store/keys.h"
#include "store/ledger.h"
#include "store/partition.h"
#include "store/prebuild.h"
#include "store/store.h"

#include <stdint.h>

#define TRL_STORE_MAX_SLOTS 64

struct part_slot {
    int64_t day;
    char name[TRL_DAY_LEN + 1];
    struct trl_partition *p;
    uint64_t used; /* LRU clock */
};

/* A partition that may hold small blocks to merge. */
struct dirty_part {
    int64_t day;
    int64_t last_write_ns;
};

/* The days of a batch committed before a later day failed (see store.h). */
struct committed_group {
    int64_t day;
    uint8_t digest[TRL_SHA256_LEN];
};

struct trl_store {
    char *data_dir;
    char *events_dir;
    struct trl_store_opts opts;
    int lock_fd;
    struct trl_store_key *key;
    struct trl_ledger *ledger;
    struct trl_prebuilder *prebuilder;         /* append(), when the caller did not prebuild */
    struct trl_block_builder *compact_builder; /* compaction (stronger compression) */
    struct part_slot slots[TRL_STORE_MAX_SLOTS];
    uint64_t clock;
    struct dirty_part *dirty;
    size_t ndirty, dirty_cap;
    struct committed_group *partial;
    size_t npartial;
    struct trl_arena *scratch; /* append(): the blocks it builds */
};

/* The partition of a day, opened (and created with its ledger entry when create is set). Returns
 * -ENOENT when it does not exist and create is false. */
int trl_store_partition(struct trl_store *st, int64_t day, bool create, struct trl_partition **out);
/* trl_store_partition(), then trl_partition_begin(). A partition whose head changed since this
 * writer's last commit is moved aside and the day starts afresh (see open_partition()). */
int trl_store_begin(struct trl_store *st, int64_t day, bool create, struct trl_partition **out);
/* Closes the partition of a day if the writer has it open. */
void trl_store_partition_forget(struct trl_store *st, int64_t day);
void trl_store_mark_dirty(struct trl_store *st, int64_t day, int64_t now_ns);
void trl_store_unmark_dirty(struct trl_store *st, int64_t day);
/* "DIR/YYYY-MM-DD.db" into path (PATH_MAX). */
int trl_store_partition_path(const char *events_dir, const char *day, char *path);
void trl_store_sync_dir(const char *dir);

/* Lists the partition days found in events_dir, ascending. The caller frees *days. */
int trl_store_list_days(const char *events_dir, int64_t **days, size_t *n);

#endif

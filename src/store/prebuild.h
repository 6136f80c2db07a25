/*
 * prebuild: the CPU-heavy half of appending a batch to the event store, which needs no store
 * handle: filing the events under their UTC day and building their blocks (block.h). The
 * pipeline's parse threads run it side by side (the store sink's prepare()), so the one writer
 * thread only commits what was built (trl_store_append_prebuilt, store.h).
 *
 * Ownership: a prebuilder (a block builder and scratch) belongs to one thread at a time. A
 * prebuilt batch and everything it points to live in the arena given to trl_store_prebuild(),
 * except the events' JSON, which it points to: both must outlive the append.
 */
#ifndef TRL_STORE_PREBUILD_H
#define TRL_STORE_PREBUILD_H

#include "core/arena.h"
#include "core/event.h"
#include "core/util.h"
#include "store/block.h"

#include <stddef.h>
#include <stdint.h>

/* Largest JSON of the events of one block: a block holds fewer events when they are huge. */
#define TRL_STORE_BLOCK_MAX_JSON_BYTES (16u << 20)

struct trl_prebuilt_event {
    int64_t ts; /* @timestamp, else the receive time */
    const char *json;
    size_t len;
};

/* The events of one day of a batch (in batch order) and the blocks holding them. */
struct trl_prebuilt_day {
    int64_t day; /* trl_day_of_ns() */
    const struct trl_prebuilt_event *events;
    size_t nevents;
    struct trl_block_out *blocks;
    size_t nblocks;
};

struct trl_prebuilt {
    struct trl_prebuilt_day *days; /* ascending */
    size_t ndays;
    size_t nevents;
};

struct trl_prebuilder;

/* zstd_level and bloom_bits_per_term as in trl_block_builder_create(); block_max_events as in
 * struct trl_store_opts. */
struct trl_prebuilder *trl_prebuilder_create(int zstd_level, unsigned bloom_bits_per_term,
                                             uint32_t block_max_events);
void trl_prebuilder_destroy(struct trl_prebuilder *pb);

/* Files n events (NULL entries skipped) by day and builds their blocks into *out, allocated in a.
 * json[i] is event i's JSON as trl_json_encode_event() writes it, without a newline; where json
 * or json[i].ptr is NULL the event is encoded here (into a). 0 or a negative error. */
int trl_store_prebuild(struct trl_prebuilder *pb, struct trl_event *const *events,
                       const struct trl_str *json, size_t n, struct trl_arena *a,
                       struct trl_prebuilt *out);

/* The digest of a day's events (trl_events_digest_add() over each): what recognises a retried
 * day. 0 or a negative error. */
int trl_prebuilt_day_digest(const struct trl_prebuilt_day *d, uint8_t out[TRL_SHA256_LEN]);

#endif

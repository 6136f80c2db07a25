/*
 * chain: the hashes that make the event store tamper-evident.
 *
 * Each partition keeps an append-only chain of entries, one per block ever committed to it:
 * kind "add" for a block written by the pipeline, kind "compact" for a block that replaced older
 * ones (listed in `replaces`, in the order their events were concatenated). An entry's hash covers
 * its fields and the previous entry's hash; the first entry follows a genesis hash derived from the
 * partition's day, so blocks cannot be moved between partitions. The head (last seq and hash) is
 * signed with the store's Ed25519 key (keys.h). docs/storage.md gives every byte that is hashed.
 *
 * Pure functions; safe from any thread.
 */
#ifndef TRL_STORE_CHAIN_H
#define TRL_STORE_CHAIN_H

#include "store/digest.h"

#include <stddef.h>
#include <stdint.h>

enum trl_chain_kind {
    TRL_CHAIN_ADD = 1,
    TRL_CHAIN_COMPACT = 2,
};

struct trl_chain_entry {
    uint64_t seq;
    int kind;
    uint32_t count;
    int64_t min_ts, max_ts;
    uint8_t content_hash[TRL_SHA256_LEN];
    uint8_t events_digest[TRL_SHA256_LEN];
    const uint8_t *replaces; /* compaction: seqs of the replaced blocks, u64 LE each */
    size_t replaces_len;
    int64_t at_ns;
    uint8_t prev_hash[TRL_SHA256_LEN];
    uint8_t hash[TRL_SHA256_LEN];
};

#define TRL_HEAD_MSG_MAX 96

/* The hash a partition's first entry chains from. */
void trl_chain_genesis(const char *day, uint8_t out[TRL_SHA256_LEN]);
/* The hash of an entry (reads every field but e->hash). */
void trl_chain_entry_hash(const char *day, const struct trl_chain_entry *e,
                          uint8_t out[TRL_SHA256_LEN]);
/* The hash of a stored block: its row's metadata and both blobs. */
void trl_block_content_hash(uint64_t id, int64_t min_ts, int64_t max_ts, uint32_t count,
                            const void *meta, size_t meta_len, const void *data, size_t data_len,
                            uint8_t out[TRL_SHA256_LEN]);
/* The message a head signature covers; returns its length (<= TRL_HEAD_MSG_MAX). `scope` is the
 * partition day, or "ledger" for the ledger's own chain. */
size_t trl_head_message(const char *scope, uint64_t seq, const uint8_t hash[TRL_SHA256_LEN],
                        uint8_t *buf);

#endif

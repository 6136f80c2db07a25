/*
 * block: the event store's immutable unit of storage, built from up to a few thousand events.
 *
 * A block is two byte strings. `data` holds column streams, each compressed with zstd on its own
 * so a reader decompresses only what it needs: the timestamps, nine keyword columns (host.name,
 * source.ip, destination.ip, user.name, process.name, event.category, event.action,
 * event.outcome, event.code; format 4 stores each as its distinct entries and one reference per
 * event) and the full JSON of every event, shredded by field (json_shred.h) in parts of
 * consecutive events compressed apart (format 5), so that reading a few events decompresses their
 * parts only (blocks of formats 4, 3, 2 and 1, the last with row JSON, stay readable). `meta` holds
 * what lets a search skip the block without touching `data`: the time range, per-column summaries
 * (lower-cased min/max and the distinct values when there are few) and a Bloom filter of the
 * block's terms (terms.h). docs/storage.md describes the formats byte by byte.
 *
 * Building is done by a builder that owns its scratch memory and zstd context (one thread at a
 * time); the bytes it returns stay valid until its next build. Decoding is pure and validates
 * everything, so a damaged or hostile block yields TRL_EINVAL, never a crash; a decoder likewise
 * owns its buffers, reused across blocks.
 */
#ifndef TRL_STORE_BLOCK_H
#define TRL_STORE_BLOCK_H

#include "core/util.h"
#include "store/digest.h"
#include "store/json_shred.h"
#include "store/terms.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum trl_col {
    TRL_COL_TS = 0,
    TRL_COL_HOST_NAME,
    TRL_COL_SOURCE_IP,
    TRL_COL_DESTINATION_IP,
    TRL_COL_USER_NAME,
    TRL_COL_PROCESS_NAME,
    TRL_COL_EVENT_CATEGORY,
    TRL_COL_EVENT_ACTION,
    TRL_COL_EVENT_OUTCOME,
    TRL_COL_EVENT_CODE,
    TRL_COL_JSON,
    TRL_COL__COUNT
};

/* Data blob versions: 1 keeps each event's JSON as a row; 2 shreds the JSON column by field
 * (json_shred.h); 3 also keeps the few values of low-variety fields inline and times as deltas
 * from the event's timestamp; 4 may store a keyword column as its block's distinct entries and
 * one reference per event (a flag in the column's directory entry); 5 (written now) cuts the JSON
 * column into parts of consecutive events, each shredded and compressed on its own, so that
 * reading one event decompresses and rebuilds its part only. All are read. The meta blob keeps
 * its own version. */
#define TRL_BLOCK_VERSION        5
#define TRL_BLOCK_VERSION_DICT4  4
#define TRL_BLOCK_VERSION_SHRED3 3
#define TRL_BLOCK_VERSION_SHRED2 2
#define TRL_BLOCK_VERSION_ROWS   1
#define TRL_BLOCK_META_VERSION   1
#define TRL_BLOCK_MAX_EVENTS     65536 /* hard limit of the format; blocks are built smaller */
/* Events per part of the JSON column (format 5): blocks as appended, and larger ones (those
 * compaction builds); docs/storage.md gives the measurements behind them. */
#define TRL_BLOCK_SMALL             4096 /* larger blocks are built by compaction */
#define TRL_BLOCK_PART_EVENTS       1024
#define TRL_BLOCK_PART_EVENTS_LARGE 4096

/* Decoded size limit of one column: room for a block holding one 16 MiB message whose JSON
 * (message and event.original, every byte escaped) is 12 times larger. */
#define TRL_BLOCK_MAX_COL_BYTES  (256u << 20)
#define TRL_BLOCK_SUMMARY_VALUES 32  /* distinct values kept per column summary */
#define TRL_BLOCK_SUMMARY_MAXLEN 128 /* longest value kept in a summary */

/* Dotted field name of a keyword column (TRL_COL_HOST_NAME..TRL_COL_EVENT_CODE), else NULL. */
const char *trl_col_field(enum trl_col c);
/* The keyword column holding the field at this dotted path (case-insensitive), or -1. */
int trl_col_for_path(const char *path, size_t len);
/* True for fields searched as text (tokens and phrases) rather than as whole values. */
bool trl_store_is_text_field(const char *path, size_t len);
/* False for the fields kept out of the index and out of full-text search (@timestamp and
 * event.created: every event has a distinct one, and time is searched by range). */
bool trl_store_is_indexed_field(const char *path, size_t len);

/* One event handed to the builder: its @timestamp and its JSON. */
struct trl_block_input {
    int64_t ts;
    const char *json;
    size_t len;
};

struct trl_block_out {
    const uint8_t *data;
    size_t data_len;
    const uint8_t *meta;
    size_t meta_len;
    uint32_t count;
    int64_t min_ts, max_ts;
    uint8_t events_digest[TRL_SHA256_LEN]; /* see trl_events_digest_add(); zero when not computed */
    size_t distinct_terms;
};

struct trl_block_builder;

/* zstd_level 1..19; bloom_bits_per_term 4..32. */
struct trl_block_builder *trl_block_builder_create(int zstd_level, unsigned bloom_bits_per_term);
void trl_block_builder_destroy(struct trl_block_builder *b);
/* Events per part of the JSON column from now on (0: TRL_BLOCK_PART_EVENTS and ..._LARGE by the
 * block's size). Tests use small parts to build blocks of many parts from few events. */
void trl_block_builder_set_part_events(struct trl_block_builder *b, uint32_t events);
/* Whether trl_block_out.events_digest is computed (the default) or left all zero. Appends leave
 * it: the chain entry's content hash covers their bytes, and compaction, which re-encodes events,
 * computes the digest of the blocks it writes (docs/storage.md, "Hash chain and signatures"). */
void trl_block_builder_set_events_digest(struct trl_block_builder *b, bool on);
/* Builds one block of n (1..TRL_BLOCK_MAX_EVENTS) events. 0 or a negative error. */
int trl_block_build(struct trl_block_builder *b, const struct trl_block_input *ev, size_t n,
                    struct trl_block_out *out);

/* The digest of a block's events that the hash chain records and compaction preserves:
 * SHA-256 over, for each event in order, its timestamp (i64 LE), JSON length (u32 LE) and JSON. */
void trl_events_digest_add(struct trl_sha256 *h, int64_t ts, const char *json, size_t len);

/* --- decoding --- */

struct trl_block_view {
    const uint8_t *data;
    size_t len;
    uint32_t count;
    uint8_t version;
    struct {
        bool present;
        uint8_t codec; /* 0 stored, 1 zstd, 2 parts (the JSON column of version 5) */
        bool dict;     /* version 4: distinct entries and references (docs/storage.md) */
        uint32_t raw_len;
        uint32_t off;
        uint32_t stored_len;
    } cols[TRL_COL__COUNT];
};

/* Checks the header and directory of a data blob (nothing is decompressed). */
int trl_block_view_init(struct trl_block_view *v, const void *data, size_t len);

/* A part of the JSON column: the events first .. first + count - 1, shredded on their own (a
 * block before format 5 has one part, the whole column). */
struct trl_json_part {
    uint32_t first, count;
    uint32_t raw_len;
    uint32_t off, stored_len; /* its bytes in the data blob */
};

struct trl_json_parts {
    struct trl_json_part *p;
    size_t cap;
    uint32_t n;
    uint32_t prefix_len; /* the last bytes of the first part, zstd prefix of the others */
};

void trl_json_parts_free(struct trl_json_parts *ps);
/* Reads the parts of the JSON column from its directory (the column's stored bytes must be in
 * v->data). 0 or TRL_EINVAL. */
int trl_block_json_parts(const struct trl_block_view *v, struct trl_json_parts *ps);
/* Decompresses the parts k with sel[k] != 0 (every part when sel is NULL; the first must be
 * chosen with any other when ps->prefix_len > 0) back to back into dst,
 * which has room for the column's raw length; *len is their total length and first[j] the first
 * event of the j-th part written (what trl_shred_scan_open_parts() takes). *dctx is a ZSTD_DCtx,
 * created on first use, owned by the caller. 0, TRL_EINVAL or -ENOMEM. */
int trl_block_json_read(void **dctx, const struct trl_block_view *v,
                        const struct trl_json_parts *ps, const uint8_t *sel, uint8_t *dst,
                        size_t *len, uint32_t *first);

/* A decoded string column: the values of event i are vals[first[i]] .. vals[first[i+1]-1].
 * The JSON column has exactly one value per event. */
struct trl_strcol {
    uint32_t *first;
    struct trl_str *vals;
    size_t first_cap, vals_cap;
};

struct trl_block_decoder {
    void *dctx; /* ZSTD_DCtx */
    uint8_t *raw[TRL_COL__COUNT];
    size_t raw_cap[TRL_COL__COUNT];
    int64_t *ts;
    size_t ts_cap;
    struct trl_strcol str[TRL_COL__COUNT];
    struct trl_unshred_buf unshred; /* the JSON of a version 2 block */
    struct trl_json_parts parts;    /* of the JSON column of a version 5 block */
    uint32_t *json_off;
    size_t json_off_cap;
    uint8_t *packed; /* a dictionary-coded keyword column, before it is expanded into raw[] */
    size_t packed_cap;
    uint32_t *entry_off; /* where each distinct entry of such a column starts */
    size_t entry_off_cap;
    bool decoded[TRL_COL__COUNT];
    uint32_t count;
};

void trl_block_decoder_init(struct trl_block_decoder *d);
void trl_block_decoder_free(struct trl_block_decoder *d);
/* Forgets what was decoded (keeps the buffers): call before decoding columns of another block. */
void trl_block_decoder_reset(struct trl_block_decoder *d, const struct trl_block_view *v);
/* Decodes one column (a no-op when already decoded). 0 or TRL_EINVAL. */
int trl_block_decode(struct trl_block_decoder *d, const struct trl_block_view *v, enum trl_col c);

/* A keyword column (TRL_COL_HOST_NAME..TRL_COL_EVENT_CODE) as one byte string per event, for
 * comparing events' values without taking them apart: event i's values are encoded in
 * (*bytes)[start[i] .. start[i + 1]) as a varint count, then each value's varint length and bytes,
 * and nvals[i] is their count. start holds count + 1 entries, nvals count (the caller's arrays);
 * *bytes points into the decoder's buffer (NULL when no event has a value: every slice is then
 * empty) until its next decode of this column. Validates the column as trl_block_decode() does;
 * does not mark it decoded. 0 or TRL_EINVAL. */
int trl_block_decode_slices(struct trl_block_decoder *d, const struct trl_block_view *v,
                            enum trl_col c, uint32_t *start, uint32_t *nvals,
                            const uint8_t **bytes);

/* --- meta --- */

struct trl_block_summary {
    bool present;
    bool set_complete; /* values holds every distinct (lower-cased) value of the column */
    bool has_minmax;
    uint32_t nonempty; /* events with at least one value */
    uint32_t nvalues;
    const uint8_t *values; /* nvalues x (varint length, bytes) */
    size_t values_len;
    struct trl_str min, max; /* lower-cased */
};

struct trl_block_meta {
    uint32_t count;
    int64_t min_ts, max_ts;
    struct trl_bloom bloom;
    struct trl_block_summary sum[TRL_COL__COUNT];
};

int trl_block_meta_parse(const void *p, size_t len, struct trl_block_meta *m);
/* Calls fn(ud, value, len) for each value of a complete summary set; stops when fn returns true
 * and returns true then. */
bool trl_block_summary_any(const struct trl_block_summary *s,
                           bool (*fn)(void *ud, const char *v, size_t len), void *ud);

/* LEB128 helpers shared with the store's other formats. Writes v at p (room for 10 bytes) and
 * returns the bytes written; inline, as the shredder writes several per value. */
static inline size_t trl_varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}
/* Reads a varint from [*p, end); false when truncated or longer than 10 bytes. */
bool trl_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v);

#endif

/*
 * json_shred: the event store's columnar encoding of a block's JSON (block format 2; format 5
 * cuts it into parts, trl_shredder_cut()).
 *
 * Row JSON compresses poorly: every event repeats its keys, and values of one field (addresses,
 * ports, users) are scattered among unrelated text. Shredding splits a block's events into a
 * skeleton (keys, punctuation and one marker per value) and one value stream per dotted path,
 * so zstd sees the same field of all events side by side. A value that occurs byte for byte in
 * the same event's event.original (the source address, the user, the port of a syslog line) is
 * stored as a reference (offset, length) into it instead of a second copy. Unshredding gives back
 * every event's JSON byte for byte, which the hash chain's events digest relies on; an event that
 * is not plain JSON is kept verbatim. docs/storage.md describes the layout.
 *
 * A shredder owns its buffers (reused across blocks) and belongs to one thread. Unshredding is
 * pure, validates everything (damaged or hostile input gives TRL_EINVAL, never a crash) and
 * writes into buffers the caller owns.
 */
#ifndef TRL_STORE_JSON_SHRED_H
#define TRL_STORE_JSON_SHRED_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trl_shredder;

struct trl_shredder *trl_shredder_create(void);
void trl_shredder_destroy(struct trl_shredder *s);
/* Starts a new block. */
void trl_shredder_reset(struct trl_shredder *s);
struct trl_leaves;

/* Adds the next event's JSON. When leaves is not NULL, the event's leaves are appended to it as
 * trl_json_leaves() gives them, which saves the index a second walk, and true is returned; false
 * means they could not be (escapes, or not plain JSON): leaves then holds a part of them, and the
 * caller resets it and uses trl_json_leaves(). */
bool trl_shredder_add(struct trl_shredder *s, const char *json, size_t len,
                      struct trl_leaves *leaves);
/* One value of an event, for the index: its stream (one per dotted path in the block, see
 * trl_shredder_path()) and its bytes as trl_json_leaves() gives them (strings unescaped). */
struct trl_shred_val {
    const char *ptr; /* into the event's JSON, or into the shredder (escaped strings) */
    uint32_t len;
    uint32_t sid;
    uint32_t esc_off;
    bool is_string;
};

/* Adds the next event with its timestamp (times in it equal to or near ts are then stored as
 * deltas, format 3) and gives its values in *vals (valid until the next call); false when they
 * could not be given (as trl_shredder_add() with leaves): the caller then reads them with
 * trl_json_leaves(). */
bool trl_shredder_add_event(struct trl_shredder *s, int64_t ts, const char *json, size_t len,
                            const struct trl_shred_val **vals, size_t *nvals);
/* The dotted path of a stream of the current block. */
const char *trl_shredder_path(const struct trl_shredder *s, uint32_t sid, size_t *len);

/* Appends the shredded block (what the JSON column stores before compression) to out. */
void trl_shredder_finish(struct trl_shredder *s, struct trl_buf *out);
/* Appends the events added since the last cut (or reset) to out as one part of a format 5
 * column: a shredded column of its own, which names the block's stream numbers so far; the next
 * events start the next part of the same block. */
void trl_shredder_cut(struct trl_shredder *s, struct trl_buf *out);

/* Scratch of trl_json_unshred, owned by the caller and reused across blocks. */
struct trl_unshred_buf {
    char *json; /* the events' JSON, back to back */
    size_t json_cap;
    size_t *cursor; /* per stream: 4 read positions */
    size_t cursor_cap;
    struct {
        const uint8_t *ptr;
        size_t len;
    } * skel; /* the distinct skeletons of a format 3 block */
    size_t skel_cap;
};

void trl_unshred_buf_free(struct trl_unshred_buf *u);

/* Rebuilds the JSON of count events from a shredded block p[0..len) of the given block format
 * (2 or 3) into u->json; event i is u->json[off[i] .. off[i + 1]) (off has count + 1 entries,
 * filled here). ts holds the events' timestamps (format 3 stores times as deltas from them; NULL
 * refuses such times). max_json caps the rebuilt size. 0 or TRL_EINVAL. */
int trl_json_unshred_ts(const uint8_t *p, size_t len, uint32_t count, int version,
                        const int64_t *ts, size_t max_json, struct trl_unshred_buf *u,
                        uint32_t *off);
/* The same for the parts of a format 5 column (trl_shredder_cut()) laid back to back: each a
 * format 3 column of the next events; ts must not be NULL. */
int trl_json_unshred_parts(const uint8_t *p, size_t len, uint32_t count, const int64_t *ts,
                           size_t max_json, struct trl_unshred_buf *u, uint32_t *off);
/* The same for format 3 without timestamps. */
int trl_json_unshred(const uint8_t *p, size_t len, uint32_t count, size_t max_json,
                     struct trl_unshred_buf *u, uint32_t *off);

#endif

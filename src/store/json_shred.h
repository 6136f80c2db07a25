/*
 * json_shred: the event store's columnar encoding of a block's JSON (block format 2).
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
/* Appends the shredded block (what the JSON column stores before compression) to out. */
void trl_shredder_finish(struct trl_shredder *s, struct trl_buf *out);

/* Scratch of trl_json_unshred, owned by the caller and reused across blocks. */
struct trl_unshred_buf {
    char *json; /* the events' JSON, back to back */
    size_t json_cap;
    size_t *cursor; /* per stream: 4 read positions */
    size_t cursor_cap;
};

void trl_unshred_buf_free(struct trl_unshred_buf *u);

/* Rebuilds the JSON of count events from a shredded block p[0..len) into u->json; event i is
 * u->json[off[i] .. off[i + 1]) (off has count + 1 entries, filled here). max_json caps the
 * rebuilt size. 0 or TRL_EINVAL. */
int trl_json_unshred(const uint8_t *p, size_t len, uint32_t count, size_t max_json,
                     struct trl_unshred_buf *u, uint32_t *off);

#endif

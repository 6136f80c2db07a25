/*
 * json_encode: serialises an event as one JSON object with nested ECS objects, on one line.
 *
 * Output: {"@timestamp":"...","event":{"created":"...","original":"..."},"host":{"name":"..."},...}
 * Keys are sorted, dotted names become nested objects, array fields (event.category, related.ip...)
 * are always arrays, long fields are numbers when their text is an integer. Invalid UTF-8 becomes
 * U+FFFD so the output is always valid JSON. Appends to the caller's buffer (no newline).
 * trl_json_encode_event() is pure and safe from any thread on distinct buffers; the cached variant
 * gives the same bytes faster, with a cache owned by the calling thread (create/destroy).
 */
#ifndef TRL_JSON_ENCODE_H
#define TRL_JSON_ENCODE_H

#include "core/buf.h"
#include "core/event.h"

void trl_json_encode_event(const struct trl_event *ev, struct trl_buf *out);

/* A cache of the structure of the event shapes seen (the sequence of their field names): an event
 * of a known shape is encoded without sorting its fields or working out their nesting again, with
 * the same output as trl_json_encode_event(). One cache per thread: it is not thread-safe. */
struct trl_json_cache;
struct trl_json_cache *trl_json_cache_create(void);
void trl_json_cache_destroy(struct trl_json_cache *c); /* NULL-safe */
void trl_json_encode_event_cached(struct trl_json_cache *c, const struct trl_event *ev,
                                  struct trl_buf *out);
/* Appends s as a quoted, escaped JSON string. */
void trl_json_append_string(struct trl_buf *out, const char *s, size_t len);

#endif

/*
 * json_encode: serialises an event as one JSON object with nested ECS objects, on one line.
 *
 * Output: {"@timestamp":"...","event":{"created":"...","original":"..."},"host":{"name":"..."},...}
 * Keys are sorted, dotted names become nested objects, array fields (event.category, related.ip...)
 * are always arrays, long fields are numbers when their text is an integer. Invalid UTF-8 becomes
 * U+FFFD so the output is always valid JSON. Appends to the caller's buffer (no newline). Pure;
 * safe from any thread on distinct buffers.
 */
#ifndef TRL_JSON_ENCODE_H
#define TRL_JSON_ENCODE_H

#include "core/buf.h"
#include "core/event.h"

void trl_json_encode_event(const struct trl_event *ev, struct trl_buf *out);
/* Appends s as a quoted, escaped JSON string. */
void trl_json_append_string(struct trl_buf *out, const char *s, size_t len);

#endif

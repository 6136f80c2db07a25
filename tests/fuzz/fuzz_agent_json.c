/*
 * Fuzzes the decoder of agents' JSON (trl_json_parse_agent) against the generic JSON parser it
 * stands in for. The input is read in place from libFuzzer's exactly sized buffer, so any read
 * past its end is caught by ASan. Checked: input it refuses leaves the event untouched; input it
 * takes gives exactly the event trl_parse_json() builds for an agent's event (the same fields in
 * the same order, original, format, timestamp and JSON output), and so does the same text decoded
 * again along the shape the decoder kept, and a text of that shape with other value bytes.
 */
#include "core/arena.h"
#include "core/buf.h"
#include "core/event.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "formats/json_encode.h"
#include "formats/json_in.h"
#include "formats/parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* 2024-07-10T00:00:00Z */
#define RECEIVED_NS (1720569600LL * TRL_NS_PER_SEC)

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void check_same(const struct trl_event *a, const struct trl_event *b, struct trl_buf *ja,
                       struct trl_buf *jb)
{
    check(a->original_len == b->original_len);
    check(memcmp(a->original, b->original, a->original_len) == 0);
    check(a->format && b->format && strcmp(a->format, b->format) == 0);
    check(a->timestamp_ns == b->timestamp_ns && a->flags == b->flags);
    check(a->nfields == b->nfields);
    for (uint32_t i = 0; i < a->nfields; i++) {
        size_t na, nb;
        const char *x = trl_kv_name(&a->fields[i], &na), *y = trl_kv_name(&b->fields[i], &nb);
        check(a->fields[i].field == b->fields[i].field && na == nb && memcmp(x, y, na) == 0);
        check(a->fields[i].val_len == b->fields[i].val_len);
        check(memcmp(a->fields[i].val, b->fields[i].val, a->fields[i].val_len) == 0);
    }
    trl_buf_reset(ja);
    trl_buf_reset(jb);
    trl_json_encode_event(a, ja);
    trl_json_encode_event(b, jb);
    check(ja->len == jb->len && memcmp(ja->data, jb->data, ja->len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct trl_arena *arena;
    static struct trl_buf ja, jb;
    if (!arena)
        arena = trl_arena_create(0);
    trl_arena_reset(arena);
    const char *p = (const char *)data;

    struct trl_event *fast = trl_event_create(arena, NULL, 0, RECEIVED_NS);
    fast->original = p;
    fast->original_len = size;
    fast->flags |= TRL_EVF_FROM_AGENT;
    if (trl_json_parse_agent(fast) != 0) {
        check(fast->nfields == 0 && fast->format == NULL && fast->timestamp_ns == 0);
        check(fast->original == p && fast->original_len == size);
        return 0;
    }
    struct trl_event *slow = trl_event_create(arena, p, size, RECEIVED_NS);
    slow->flags |= TRL_EVF_FROM_AGENT;
    check(trl_parse_json(slow, slow->original, slow->original_len) == 0);
    check_same(slow, fast, &ja, &jb);

    /* The decoder now knows this shape: the same text again is read along it, to the same event,
     * as is a text that differs only in its first value's bytes. */
    struct trl_event *again = trl_event_create(arena, NULL, 0, RECEIVED_NS);
    again->original = p;
    again->original_len = size;
    again->flags |= TRL_EVF_FROM_AGENT;
    check(trl_json_parse_agent(again) == 0);
    check_same(slow, again, &ja, &jb);
    char *other = trl_arena_strndup(arena, p, size);
    for (size_t i = 0; i + 1 < size; i++) {
        if (other[i] == ':' && other[i + 1] == '"') {
            for (size_t j = i + 2; j < size && other[j] >= 'a' && other[j] <= 'z'; j++)
                other[j] = (char)('a' + 'z' - other[j]);
            break;
        }
    }
    struct trl_event *near = trl_event_create(arena, NULL, 0, RECEIVED_NS);
    near->original = other;
    near->original_len = size;
    near->flags |= TRL_EVF_FROM_AGENT;
    int rc = trl_json_parse_agent(near);
    struct trl_event *near_slow = trl_event_create(arena, other, size, RECEIVED_NS);
    near_slow->flags |= TRL_EVF_FROM_AGENT;
    if (rc == 0) {
        check(trl_parse_json(near_slow, near_slow->original, near_slow->original_len) == 0);
        check_same(near_slow, near, &ja, &jb);
    } else {
        check(near->nfields == 0 && near->format == NULL && near->timestamp_ns == 0);
    }
    return 0;
}

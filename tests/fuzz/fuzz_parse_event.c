/*
 * Fuzzes the whole of trl_parse_event (format detection, every parser, embedded payloads,
 * normalisers) over arbitrary bytes, with a fresh event per input, then serialises the event.
 * Checks the one promise the pipeline relies on: every input becomes an event, and an input no
 * parser understood keeps its text as the message.
 */
#include "core/arena.h"
#include "core/buf.h"
#include "core/event.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "formats/json_encode.h"
#include "formats/parse.h"

#include <stdint.h>
#include <stdlib.h>

/* 2024-07-10T00:00:00Z */
#define RECEIVED_NS (1720569600LL * TRL_NS_PER_SEC)

static void check(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct trl_arena *arena;
    static struct trl_buf out;
    if (!arena)
        arena = trl_arena_create(0);
    trl_arena_reset(arena);

    struct trl_event *ev = trl_event_create(arena, (const char *)data, size, RECEIVED_NS);
    trl_parse_event(ev, TRL_FORMAT_AUTO);
    check(ev->format != NULL);
    if (ev->flags & TRL_EVF_UNPARSED) {
        size_t len = 0, want = size;
        while (want > 0 && (data[want - 1] == '\n' || data[want - 1] == '\r'))
            want--;
        const char *msg = trl_event_get(ev, TRL_F_MESSAGE, &len);
        check(msg != NULL && len == want && memcmp(msg, data, len) == 0);
    }
    trl_buf_reset(&out);
    trl_json_encode_event(ev, &out);
    check(out.len > 0 && out.data[0] == '{' && out.data[out.len - 1] == '}');
    return 0;
}

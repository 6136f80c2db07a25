/*
 * Fuzzes the forwarders' encoders (formats/syslog_encode.h) with events parsed from arbitrary
 * bytes, as the agent does with every line it reads: each of the five formats must produce one
 * non-empty message without a line break (JSON always valid: checked by its first and last byte),
 * whatever the fields hold. A second run sets hostile values directly (every byte value, '|', '=',
 * ']', '"', '\', tabs) into the header fields the parsers would not let through.
 */
#include "core/arena.h"
#include "core/buf.h"
#include "core/event.h"
#include "formats/parse.h"
#include "formats/syslog_encode.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void encode_all(const struct trl_event *ev, struct trl_buf *out)
{
    for (int enc = TRL_ENCODE_RFC5424; enc <= TRL_ENCODE_JSON; enc++) {
        trl_buf_reset(out);
        trl_syslog_encode_event(out, ev, (enum trl_syslog_encoding)enc, "fuzzhost", NULL, 0,
                                1700000000000000000LL);
        check(out->len > 0);
        check(!memchr(out->data, '\n', out->len) && !memchr(out->data, '\r', out->len));
        if (enc == TRL_ENCODE_JSON)
            check(out->data[0] == '{' && out->data[out->len - 1] == '}');
        else
            check(out->data[0] == '<');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct trl_arena *arena;
    static struct trl_buf out;
    if (!arena)
        arena = trl_arena_create(0);
    trl_arena_reset(arena);
    const char *p = (const char *)data;
    struct trl_event *ev = trl_event_create(arena, p, size, 1700000000000000000LL);
    trl_parse_event(ev, TRL_FORMAT_AUTO);
    encode_all(ev, &out);

    struct trl_event *raw = trl_event_create(arena, NULL, 0, 0);
    size_t part = size / 4;
    trl_event_set(raw, TRL_F_HOST_NAME, p, part);
    trl_event_set(raw, TRL_F_PROCESS_NAME, p + part, part);
    trl_event_set(raw, TRL_F_EVENT_ACTION, p + 2 * part, part);
    trl_event_set(raw, TRL_F_PROCESS_PID, p + 3 * part, size - 3 * part);
    trl_event_set(raw, TRL_F_LOG_SYSLOG_PRIORITY, p, part);
    encode_all(raw, &out);
    return 0;
}

/*
 * payload_fuzz: the shared harness of the payload parsers' fuzz targets (CEF, LEEF, Snare). Each
 * runs the parser over arbitrary bytes, both as a whole line and as the MSG of an already parsed
 * syslog message. The input is libFuzzer's exactly sized buffer (no NUL after it), so a read past
 * len is caught by ASan. The parser's return contract is checked, and the event is serialised and
 * read back as JSON: every field name the parser made up must give valid JSON without duplicate
 * keys.
 */
#ifndef TRL_PAYLOAD_FUZZ_H
#define TRL_PAYLOAD_FUZZ_H

#include "core/arena.h"
#include "core/buf.h"
#include "core/event.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "formats/json_encode.h"
#include "formats/parse.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

/* 2024-07-10T00:00:00Z */
#define RECEIVED_NS (1720569600LL * TRL_NS_PER_SEC)

static inline void check(bool ok)
{
    if (!ok)
        abort();
}

static inline void check_json(struct trl_buf *out, const struct trl_event *ev)
{
    trl_buf_reset(out);
    trl_json_encode_event(ev, out);
    json_error_t err;
    json_t *doc = json_loadb(out->data, out->len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    check(json_is_object(doc));
    json_decref(doc);
}

/* The whole harness: parse is trl_parse_cef, trl_parse_leef or trl_parse_snare. */
static inline int fuzz_payload_parser(int (*parse)(struct trl_event *, const char *, size_t),
                                      const uint8_t *data, size_t size)
{
    static struct trl_arena *arena;
    static struct trl_buf out;
    if (!arena)
        arena = trl_arena_create(0);
    trl_arena_reset(arena);
    const char *p = (const char *)data;

    struct trl_event *ev = trl_event_create(arena, NULL, 0, RECEIVED_NS);
    int rc = parse(ev, p, size);
    check(rc == 0 || rc == TRL_ENOMATCH || rc == TRL_EINVAL);
    if (rc == TRL_ENOMATCH) {
        check(ev->nfields == 0 && ev->format == NULL && ev->timestamp_ns == 0);
    } else {
        check(ev->format != NULL && trl_event_has(ev, TRL_F_MESSAGE));
        check_json(&out, ev);
    }

    /* The same bytes as the MSG of a syslog message: the syslog format and host stay unless the
     * payload names its own host. */
    ev = trl_event_create(arena, NULL, 0, RECEIVED_NS);
    ev->format = "rfc3164";
    trl_event_set_str(ev, TRL_F_HOST_NAME, "relay");
    trl_event_set(ev, TRL_F_MESSAGE, p, size);
    rc = parse(ev, p, size);
    check(rc == 0 || rc == TRL_ENOMATCH || rc == TRL_EINVAL);
    check(ev->format != NULL && ev->format[0] == 'r');
    check(trl_event_has(ev, TRL_F_HOST_NAME));
    check_json(&out, ev);
    return 0;
}

#endif

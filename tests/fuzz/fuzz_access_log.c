/*
 * Fuzzes trl_parse_access_log over arbitrary bytes, from libFuzzer's exactly sized buffer (a read
 * past len is caught by ASan), once as a top-level line and once as the MSG of a syslog message.
 * Checks the contract (no match leaves the event untouched) and serialises every value set.
 */
#include "core/arena.h"
#include "core/buf.h"
#include "core/event.h"
#include "core/util.h"
#include "formats/json_encode.h"
#include "formats/parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void run(struct trl_arena *arena, struct trl_buf *out, const char *p, size_t len,
                const char *format)
{
    struct trl_event *ev = trl_event_create(arena, p, len, 0);
    ev->format = format;
    int rc = trl_parse_access_log(ev, p, len);
    check(rc == TRL_OK || rc == TRL_ENOMATCH);
    if (rc == TRL_ENOMATCH) {
        check(ev->nfields == 0 && ev->format == format && ev->timestamp_ns == 0);
        return;
    }
    check(ev->format && !strcmp(ev->format, format ? format : "access"));
    check(trl_event_is(ev, TRL_F_EVENT_ACTION, "http-request"));
    size_t slen;
    const char *status = trl_event_get(ev, TRL_F_HTTP_RESPONSE_STATUS_CODE, &slen);
    check(!status || slen == 3);
    trl_buf_reset(out);
    trl_json_encode_event(ev, out);
    check(out->len > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct trl_arena *arena;
    static struct trl_buf out;
    if (!arena)
        arena = trl_arena_create(0);
    trl_arena_reset(arena);
    run(arena, &out, (const char *)data, size, NULL);
    run(arena, &out, (const char *)data, size, "rfc3164");
    return 0;
}

/*
 * Fuzzes the event JSON encoder with events built straight from the input, so that every odd
 * field shape the parsers might ever produce is covered: dynamic names that collide with known
 * ones or nest under them, empty and dotted names, arrays, numbers, any bytes in values. Input:
 * lines "name=value" (a name that is a known field sets it); a line "+name=value" appends to an
 * array field. The encoder's output must always be one valid JSON object, and the cached encoder
 * (its cache kept across inputs, so shapes recorded for one input are reused for others) must
 * write exactly the same bytes.
 */
#include "core/arena.h"
#include "core/buf.h"
#include "core/event.h"
#include "core/fields.h"
#include "core/timeutil.h"
#include "formats/json_encode.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void add_line(struct trl_event *ev, const char *p, size_t len)
{
    bool append = len > 0 && p[0] == '+';
    if (append) {
        p++;
        len--;
    }
    const char *eq = memchr(p, '=', len);
    if (!eq)
        return;
    size_t nlen = (size_t)(eq - p);
    /* Valid JSON, but the checker (jansson) refuses "\u0000" in object keys. */
    if (memchr(p, '\0', nlen))
        return;
    const char *v = eq + 1;
    size_t vlen = len - nlen - 1;
    enum trl_field f = trl_field_lookup(p, nlen);
    if (append && f != TRL_F_NONE)
        trl_event_add(ev, f, v, vlen);
    else
        trl_event_set_named(ev, p, nlen, v, vlen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct trl_arena *arena;
    static struct trl_buf out, cached;
    static struct trl_json_cache *cache;
    if (!arena) {
        arena = trl_arena_create(0);
        cache = trl_json_cache_create();
    }
    trl_arena_reset(arena);
    /* 2024-07-10T00:00:00Z, and a timestamp taken from the first bytes. */
    struct trl_event *ev =
        trl_event_create(arena, (const char *)data, size, 1720569600LL * TRL_NS_PER_SEC);
    if (size >= 8) {
        int64_t ts;
        memcpy(&ts, data, sizeof(ts));
        ev->timestamp_ns = ts;
    }
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        add_line(ev, p, len);
        p += len + (nl != NULL);
    }
    trl_buf_reset(&out);
    trl_json_encode_event(ev, &out);
    for (int pass = 0; pass < 2; pass++) {
        trl_buf_reset(&cached);
        trl_json_encode_event_cached(cache, ev, &cached);
        check(cached.len == out.len && memcmp(cached.data, out.data, out.len) == 0);
    }
    json_error_t err;
    json_t *j = json_loadb(out.data, out.len, JSON_ALLOW_NUL, &err);
    check(j != NULL && json_is_object(j));
    json_decref(j);
    return 0;
}

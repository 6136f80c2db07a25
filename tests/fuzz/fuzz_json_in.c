/*
 * Fuzzes trl_parse_json over arbitrary bytes, then the Windows and program normalisers over what it
 * set. The input is passed as libFuzzer's exactly sized buffer (no NUL after it), so any read past
 * len is caught by ASan. Checked: the parser's contract (untouched event on TRL_ENOMATCH), that the
 * event serialises to valid JSON, and that no field name is both a leaf and a parent of another
 * (which the nested JSON output cannot represent). The same bytes are then parsed as the MSG of a
 * syslog event, which must keep its format.
 */
#include "core/arena.h"
#include "core/buf.h"
#include "core/event.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "formats/json_encode.h"
#include "formats/normalize.h"
#include "formats/parse.h"

#include <json-c/json.h>
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

static bool is_parent(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen < blen && b[alen] == '.' && memcmp(a, b, alen) == 0;
}

static void check_names(const struct trl_event *ev)
{
    for (uint32_t i = 0; i < ev->nfields; i++) {
        size_t alen;
        const char *a = trl_kv_name(&ev->fields[i], &alen);
        check(!(alen == 10 && memcmp(a, "@timestamp", 10) == 0));
        check(!is_parent(a, alen, "trapline.format", 15));
        for (uint32_t j = 0; j < ev->nfields; j++) {
            size_t blen;
            const char *b = trl_kv_name(&ev->fields[j], &blen);
            check(!is_parent(a, alen, b, blen));
        }
    }
}

static void check_output(const struct trl_event *ev, struct trl_buf *out)
{
    trl_buf_reset(out);
    trl_json_encode_event(ev, out);
    struct json_tokener *tok = json_tokener_new();
    check(tok != NULL);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    struct json_object *o = json_tokener_parse_ex(tok, out->data, (int)out->len);
    check(o != NULL && json_object_is_type(o, json_type_object));
    check(json_tokener_get_parse_end(tok) == out->len);
    json_object_put(o);
    json_tokener_free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct trl_arena *arena;
    static struct trl_buf out;
    if (!arena)
        arena = trl_arena_create(0);
    trl_arena_reset(arena);
    const char *p = (const char *)data;

    struct trl_event *ev = trl_event_create(arena, p, size, RECEIVED_NS);
    int rc = trl_parse_json(ev, p, size);
    check(rc == 0 || rc == TRL_ENOMATCH || rc == TRL_EINVAL);
    if (rc == TRL_ENOMATCH) {
        check(ev->nfields == 0 && ev->format == NULL && ev->timestamp_ns == 0);
        return 0;
    }
    check(ev->format && !strcmp(ev->format, "json"));
    trl_normalize(ev);
    check_names(ev);
    check_output(ev, &out);

    /* The same bytes as the MSG of a syslog line: fields are added, the format stays. */
    struct trl_event *sys = trl_event_create(arena, p, size, RECEIVED_NS);
    sys->format = "rfc3164";
    trl_event_set_str(sys, TRL_F_HOST_NAME, "app01");
    trl_event_set_ref(sys, TRL_F_MESSAGE, sys->original, sys->original_len);
    rc = trl_parse_json(sys, sys->original, sys->original_len);
    check(rc == 0 || rc == TRL_EINVAL);
    check(!strcmp(sys->format, "rfc3164"));
    trl_normalize(sys);
    check_names(sys);
    check_output(sys, &out);

    /* The same bytes as an agent's event: its event.original and parser name are adopted. */
    struct trl_event *ag = trl_event_create(arena, p, size, RECEIVED_NS);
    trl_parse_agent_event(ag);
    check(ag->format && ag->original);
    check_names(ag);
    check_output(ag, &out);
    return 0;
}

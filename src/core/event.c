#include "core/event.h"
#include "core/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct trl_event *trl_event_create(struct trl_arena *a, const char *original, size_t len,
                                   int64_t received_ns)
{
    struct trl_event *ev = trl_arena_alloc(a, sizeof(*ev));
    memset(ev, 0, sizeof(*ev));
    ev->arena = a;
    ev->received_ns = received_ns;
    ev->original = trl_arena_strndup(a, original ? original : "", original ? len : 0);
    ev->original_len = original ? len : 0;
    return ev;
}

static struct trl_kv *kv_append(struct trl_event *ev)
{
    if (ev->nfields == ev->cap) {
        uint32_t cap = ev->cap ? ev->cap * 2 : 24;
        struct trl_kv *fields = trl_arena_alloc(ev->arena, cap * sizeof(*fields));
        if (ev->nfields)
            memcpy(fields, ev->fields, ev->nfields * sizeof(*fields));
        ev->fields = fields;
        ev->cap = cap;
    }
    struct trl_kv *kv = &ev->fields[ev->nfields++];
    memset(kv, 0, sizeof(*kv));
    return kv;
}

static struct trl_kv *kv_find(const struct trl_event *ev, enum trl_field f)
{
    uint16_t s = ev->slot[f];
    return s ? &ev->fields[s - 1] : NULL;
}

static struct trl_kv *kv_append_known(struct trl_event *ev, enum trl_field f)
{
    struct trl_kv *kv = kv_append(ev);
    kv->field = (uint16_t)f;
    if (!ev->slot[f] && ev->nfields <= UINT16_MAX)
        ev->slot[f] = (uint16_t)ev->nfields;
    return kv;
}

static struct trl_kv *kv_find_named(const struct trl_event *ev, const char *name, size_t len)
{
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        if (!kv->field && kv->name_len == len && memcmp(kv->name, name, len) == 0)
            return &ev->fields[i];
    }
    return NULL;
}

void trl_event_set_ref(struct trl_event *ev, enum trl_field f, const char *v, size_t len)
{
    struct trl_kv *kv = kv_find(ev, f);
    if (!kv)
        kv = kv_append_known(ev, f);
    kv->val = v;
    kv->val_len = (uint32_t)len;
}

void trl_event_set(struct trl_event *ev, enum trl_field f, const char *v, size_t len)
{
    trl_event_set_ref(ev, f, trl_arena_strndup(ev->arena, v, len), len);
}

void trl_event_set_str(struct trl_event *ev, enum trl_field f, const char *v)
{
    trl_event_set(ev, f, v, strlen(v));
}

void trl_event_set_int(struct trl_event *ev, enum trl_field f, int64_t v)
{
    /* Formatted by hand: snprintf costs more than the rest of a typical normaliser. */
    char buf[24];
    char *end = buf + sizeof(buf), *p = end;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    trl_event_set(ev, f, p, (size_t)(end - p));
}

void trl_event_add(struct trl_event *ev, enum trl_field f, const char *v, size_t len)
{
    struct trl_kv *kv = kv_append_known(ev, f);
    kv->val = trl_arena_strndup(ev->arena, v, len);
    kv->val_len = (uint32_t)len;
}

void trl_event_add_unique(struct trl_event *ev, enum trl_field f, const char *v, size_t len)
{
    for (uint32_t i = ev->slot[f] ? ev->slot[f] - 1u : ev->nfields; i < ev->nfields; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        if (kv->field == f && kv->val_len == len && memcmp(kv->val, v, len) == 0)
            return;
    }
    trl_event_add(ev, f, v, len);
}

void trl_event_set_named(struct trl_event *ev, const char *name, size_t name_len, const char *v,
                         size_t len)
{
    enum trl_field f = trl_field_lookup(name, name_len);
    if (f != TRL_F_NONE) {
        if (trl_field_info(f)->type == TRL_FT_ARRAY)
            trl_event_add(ev, f, v, len);
        else
            trl_event_set(ev, f, v, len);
        return;
    }
    struct trl_kv *kv = kv_find_named(ev, name, name_len);
    if (!kv) {
        kv = kv_append(ev);
        kv->name = trl_arena_strndup(ev->arena, name, name_len);
        kv->name_len = (uint32_t)name_len;
    }
    kv->val = trl_arena_strndup(ev->arena, v, len);
    kv->val_len = (uint32_t)len;
}

void trl_event_remove(struct trl_event *ev, enum trl_field f)
{
    uint32_t out = 0;
    memset(ev->slot, 0, sizeof(ev->slot));
    for (uint32_t i = 0; i < ev->nfields; i++) {
        if (ev->fields[i].field == f)
            continue;
        ev->fields[out++] = ev->fields[i];
        uint16_t k = ev->fields[out - 1].field;
        if (k && !ev->slot[k] && out <= UINT16_MAX)
            ev->slot[k] = (uint16_t)out;
    }
    ev->nfields = out;
}

const char *trl_event_get(const struct trl_event *ev, enum trl_field f, size_t *len)
{
    const struct trl_kv *kv = kv_find(ev, f);
    if (!kv)
        return NULL;
    *len = kv->val_len;
    return kv->val;
}

const char *trl_event_get_named(const struct trl_event *ev, const char *name, size_t name_len,
                                size_t *len)
{
    enum trl_field f = trl_field_lookup(name, name_len);
    if (f != TRL_F_NONE)
        return trl_event_get(ev, f, len);
    const struct trl_kv *kv = kv_find_named(ev, name, name_len);
    if (!kv)
        return NULL;
    *len = kv->val_len;
    return kv->val;
}

bool trl_event_is(const struct trl_event *ev, enum trl_field f, const char *lit)
{
    size_t len;
    const char *v = trl_event_get(ev, f, &len);
    return v && len == strlen(lit) && memcmp(v, lit, len) == 0;
}

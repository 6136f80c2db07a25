#include "core/event.h"
#include "core/util.h"

#include <assert.h>
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
    /* Without bytes (the pipeline points event.original at the message it already keeps in the
     * arena), a literal empty string is as good as a copy of one. */
    ev->original = original ? trl_arena_strndup(a, original, len) : "";
    ev->original_len = original ? len : 0;
    return ev;
}

/* Most events have 20 to 30 fields (the syslog header, the host, a parser's and a normaliser's),
 * Windows and audit events 50 to 60: 32 to start with holds the first without growing and the
 * second with one growth. */
#define KV_FIRST_CAP 32

/* Out of line: appending a field (every parser's and normaliser's hot path) then compiles to a
 * few stores, without saving registers for a call it seldom makes. */
static __attribute__((noinline)) void kv_grow(struct trl_event *ev)
{
    uint32_t cap = ev->cap ? ev->cap * 2 : KV_FIRST_CAP;
    struct trl_kv *fields = trl_arena_alloc(ev->arena, cap * sizeof(*fields));
    if (ev->nfields)
        memcpy(fields, ev->fields, ev->nfields * sizeof(*fields));
    ev->fields = fields;
    ev->cap = cap;
}

static struct trl_kv *kv_append(struct trl_event *ev)
{
    if (ev->nfields == ev->cap)
        kv_grow(ev);
    return &ev->fields[ev->nfields++];
}

/* Appends a known field's entry with its value when the list has room; false when it is full. */
static inline bool kv_put_known(struct trl_event *ev, enum trl_field f, const char *v, size_t len)
{
    if (ev->nfields == ev->cap)
        return false;
    uint32_t n = ev->nfields++;
    trl_kv_put_known(&ev->fields[n], f, v, len);
    if (!ev->slot[f] && n < UINT16_MAX)
        ev->slot[f] = (uint16_t)(n + 1);
    return true;
}

/* Appends a known field's entry with its value, growing the list first when it is full. Callers
 * try kv_put_known() first and call this only when that fails: the common path then makes no
 * call and saves no registers. */
static __attribute__((noinline)) void kv_append_known(struct trl_event *ev, enum trl_field f,
                                                      const char *v, size_t len)
{
    kv_grow(ev);
    kv_put_known(ev, f, v, len);
}

/* Appends a known field's entry with its value. */
static inline void kv_add_known(struct trl_event *ev, enum trl_field f, const char *v, size_t len)
{
    if (!kv_put_known(ev, f, v, len))
        kv_append_known(ev, f, v, len);
}

/* A name of fewer than 8 bytes as one word: its first and last four bytes (overlapping when it
 * has fewer than eight), or its bytes one by one when it has fewer than four. */
static inline uint64_t load_short(const char *p, size_t len)
{
    if (len >= 4) {
        uint32_t head, tail;
        memcpy(&head, p, 4);
        memcpy(&tail, p + len - 4, 4);
        return head | (uint64_t)tail << 32;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < len; i++)
        w = w << 8 | (unsigned char)p[i];
    return w;
}

/* Dynamic names often share a long prefix ("winlog.event_data.", "auditd.data.") and a suffix
 * ("...UserName", "...uid"): they are told apart by their last eight bytes, eight from their
 * middle (past the prefix of a long name) and their length, all mixed into the six bits that pick
 * the name's bit in named_bits. A few multiplications, and no byte loop. */
static inline uint64_t name_bit(const char *name, size_t len)
{
    uint64_t tail, mid;
    if (len >= 8) {
        tail = trl_load_u64(name + len - 8);
        mid = trl_load_u64(name + (len >= 16 ? len / 2 - 4 : 0));
    } else {
        tail = load_short(name, len);
        mid = 0;
    }
    uint64_t h = (tail ^ (uint64_t)len) * 0x9e3779b97f4a7c15ULL;
    h = (h ^ (h >> 29) ^ mid) * 0xff51afd7ed558ccdULL;
    return 1ULL << (h >> 58);
}

/* The dynamic field of that name, found by a scan of the dynamic fields (they only ever follow
 * the first one, so the known fields before it are skipped): kv_find_named() has ruled out the
 * common case that the event has none of that name's bit. */
static __attribute__((noinline)) struct trl_kv *kv_scan_named(const struct trl_event *ev,
                                                              const char *name, size_t len)
{
    struct trl_kv *kv = &ev->fields[ev->first_named - 1], *end = &ev->fields[ev->nfields];
    for (; kv < end; kv++) {
        if (!kv->field && kv->name_len == len && trl_short_eq(kv->name, name, len))
            return kv;
    }
    return NULL;
}

static inline struct trl_kv *kv_find_named(const struct trl_event *ev, const char *name, size_t len,
                                           uint64_t bit)
{
    if (!ev->first_named || !(ev->named_bits & bit))
        return NULL;
    return kv_scan_named(ev, name, len);
}

void trl_event_append_known(struct trl_event *ev, enum trl_field f, const char *v, size_t len)
{
    kv_add_known(ev, f, v, len);
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
    const char *copy = trl_arena_strndup(ev->arena, v, len);
    kv_add_known(ev, f, copy, len);
}

/* Whether array field f already holds the value. */
static bool has_value(const struct trl_event *ev, enum trl_field f, const char *v, size_t len)
{
    for (uint32_t i = ev->slot[f] ? ev->slot[f] - 1u : ev->nfields; i < ev->nfields; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        if (kv->field == f && kv->val_len == len && memcmp(kv->val, v, len) == 0)
            return true;
    }
    return false;
}

/* A field without a value yet (the first related.ip, the first related.user) needs no search. */
void trl_event_add_unique(struct trl_event *ev, enum trl_field f, const char *v, size_t len)
{
    if (!ev->slot[f] || !has_value(ev, f, v, len))
        trl_event_add(ev, f, v, len);
}

void trl_event_add_unique_ref(struct trl_event *ev, enum trl_field f, const char *v, size_t len)
{
    if (!ev->slot[f] || !has_value(ev, f, v, len))
        kv_add_known(ev, f, v, len);
}

/* Sets a dynamic field, a name that is no known field's. Stores by reference what must outlive
 * the arena anyway (a literal name, a slice of event.original), copies the rest. */
static __attribute__((noinline)) void set_dynamic(struct trl_event *ev, const char *name,
                                                  size_t name_len, uint64_t bit, bool copy_name,
                                                  const char *v, size_t len, bool copy_value)
{
    struct trl_kv *kv = kv_find_named(ev, name, name_len, bit);
    if (kv) {
        kv->val = copy_value ? trl_arena_strndup(ev->arena, v, len) : v;
        kv->val_len = (uint32_t)len;
        return;
    }
    if (copy_name && copy_value) {
        /* A new name and its value: one allocation for both. */
        char *p = trl_arena_alloc(ev->arena, name_len + len + 2);
        if (name_len)
            memcpy(p, name, name_len);
        p[name_len] = '\0';
        char *pv = p + name_len + 1;
        if (len)
            memcpy(pv, v, len);
        pv[len] = '\0';
        name = p;
        v = pv;
    } else if (copy_name) {
        name = trl_arena_strndup(ev->arena, name, name_len);
    } else if (copy_value) {
        v = trl_arena_strndup(ev->arena, v, len);
    }
    kv = kv_append(ev);
    ev->named_bits |= bit;
    kv->name = name;
    kv->name_len = (uint32_t)name_len;
    kv->field = TRL_F_NONE;
    if (!ev->first_named)
        ev->first_named = ev->nfields;
    kv->val = v;
    kv->val_len = (uint32_t)len;
}

/* Stores a name that is a known field's as that field, any other as a dynamic field. */
static void set_named(struct trl_event *ev, const char *name, size_t name_len, bool copy_name,
                      const char *v, size_t len, bool copy_value)
{
    enum trl_field f = trl_field_lookup(name, name_len);
    if (f != TRL_F_NONE) {
        if (copy_value)
            v = trl_arena_strndup(ev->arena, v, len);
        if (trl_field_info(f)->type == TRL_FT_ARRAY)
            kv_add_known(ev, f, v, len);
        else
            trl_event_set_ref(ev, f, v, len);
        return;
    }
    set_dynamic(ev, name, name_len, name_bit(name, name_len), copy_name, v, len, copy_value);
}

void trl_event_set_named(struct trl_event *ev, const char *name, size_t name_len, const char *v,
                         size_t len)
{
    set_named(ev, name, name_len, true, v, len, true);
}

void trl_event_set_named_ex(struct trl_event *ev, const char *name, size_t name_len, const char *v,
                            size_t len, unsigned refs)
{
    set_named(ev, name, name_len, !(refs & TRL_REF_NAME), v, len, !(refs & TRL_REF_VALUE));
}

void trl_event_set_dynamic_ex(struct trl_event *ev, const char *name, size_t name_len,
                              const char *v, size_t len, unsigned refs)
{
    assert(trl_field_lookup(name, name_len) == TRL_F_NONE);
    /* The usual case, a new name stored with its value by reference, in a few stores; the rest
     * (a copy, a name already set, a full list) as set_dynamic() does it. */
    uint64_t bit = name_bit(name, name_len);
    uint32_t n = ev->nfields;
    if (refs == (TRL_REF_NAME | TRL_REF_VALUE) && !(ev->first_named && (ev->named_bits & bit)) &&
        n != ev->cap) {
        ev->fields[n] = (struct trl_kv){.name = name,
                                        .val = v,
                                        .name_len = (uint32_t)name_len,
                                        .val_len = (uint32_t)len,
                                        .field = TRL_F_NONE};
        ev->nfields = n + 1;
        ev->named_bits |= bit;
        if (!ev->first_named)
            ev->first_named = n + 1;
        return;
    }
    set_dynamic(ev, name, name_len, bit, !(refs & TRL_REF_NAME), v, len, !(refs & TRL_REF_VALUE));
}

void trl_event_remove(struct trl_event *ev, enum trl_field f)
{
    uint32_t out = 0;
    memset(ev->slot, 0, sizeof(ev->slot));
    ev->first_named = 0;
    for (uint32_t i = 0; i < ev->nfields; i++) {
        if (ev->fields[i].field == f)
            continue;
        ev->fields[out++] = ev->fields[i];
        uint16_t k = ev->fields[out - 1].field;
        if (k && !ev->slot[k] && out <= UINT16_MAX)
            ev->slot[k] = (uint16_t)out;
        else if (!k && !ev->first_named)
            ev->first_named = out;
    }
    ev->nfields = out;
}

const char *trl_event_get(const struct trl_event *ev, enum trl_field f, size_t *len)
{
    uint16_t s = ev->slot[f];
    if (!s)
        return NULL;
    const struct trl_kv *kv = &ev->fields[s - 1];
    *len = kv->val_len;
    return kv->val;
}

const char *trl_event_get_named(const struct trl_event *ev, const char *name, size_t name_len,
                                size_t *len)
{
    enum trl_field f = trl_field_lookup(name, name_len);
    if (f != TRL_F_NONE)
        return trl_event_get(ev, f, len);
    const struct trl_kv *kv = kv_find_named(ev, name, name_len, name_bit(name, name_len));
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

/*
 * event: one normalised log event, the unit every stage of the pipeline passes along.
 *
 * An event lives entirely in the arena of the batch that carries it: the struct, its field list and
 * every value. Nothing in an event is freed individually; the batch's arena is reset when the batch
 * is done. Values set with trl_event_set() are copied into the arena; trl_event_set_ref() stores a
 * pointer that must live at least as long as the arena (a slice of event.original, or a literal).
 *
 * Fields are either known ECS fields (enum trl_field, see fields.h) or dynamic fields named by
 * their dotted path (winlog.event_data.TargetUserName, labels.env, ...). Array fields
 * (event.category, related.ip, ...) may hold several values; all others hold one and
 * trl_event_set() replaces it.
 *
 * An event is owned by one thread at a time, like its batch.
 */
#ifndef TRL_EVENT_H
#define TRL_EVENT_H

#include "core/arena.h"
#include "core/fields.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum trl_event_flag {
    TRL_EVF_TRUNCATED = 1 << 0,  /* the message was cut at the maximum message size */
    TRL_EVF_UNPARSED = 1 << 1,   /* no parser understood it; kept whole with the receive time */
    TRL_EVF_FROM_AGENT = 1 << 2, /* parsed and normalised by a Trapline agent, sent as ECS JSON */
};

struct trl_kv {
    const char *name; /* dynamic fields only; NULL for known fields */
    const char *val;
    uint32_t name_len;
    uint32_t val_len;
    uint16_t field; /* enum trl_field, TRL_F_NONE for dynamic */
};

struct trl_event {
    struct trl_arena *arena;
    int64_t timestamp_ns; /* @timestamp, ns since the epoch, UTC; 0 until a parser sets it */
    int64_t received_ns;  /* when the pipeline received it (event.created) */
    const char *original; /* event.original: the bytes as received, NUL-terminated */
    size_t original_len;
    const char *format; /* static name of the parser that understood it ("rfc5424", ...) */
    uint32_t flags;     /* enum trl_event_flag */
    int assume_year;    /* year for timestamps that carry none (RFC 3164); 0: nearest to received */
    uint32_t nfields;
    uint32_t cap;
    struct trl_kv *fields;
    /* Index of the first dynamic field plus one (0: none yet): looking a dynamic field up by name
     * starts there instead of scanning the header fields every parser sets first. */
    uint32_t first_named;
    /* A bit per dynamic field name (name_bit() in event.c): a clear bit means the event has no
     * dynamic field of a name with that bit, so that setting a new name does not scan them all. */
    uint64_t named_bits;
    /* Index of the first value of each known field plus one (0: absent), so that setting and
     * getting a known field does not scan the field list. */
    uint16_t slot[TRL_F__COUNT];
};

/* Allocates a zeroed event in the arena. The original bytes are copied into the arena; without
 * them (NULL) event.original is empty until the caller points it at bytes of its own. */
struct trl_event *trl_event_create(struct trl_arena *a, const char *original, size_t len,
                                   int64_t received_ns);

/* Appends a known field's value by reference after growing the field list: the rare path of the
 * inline setters below, out of line so that their common path makes no call. */
void trl_event_append_known(struct trl_event *ev, enum trl_field f, const char *v, size_t len);

/* Fills a known field's entry member by member: a compound literal would first clear the whole
 * entry, padding included, and then store the members again. */
static inline void trl_kv_put_known(struct trl_kv *kv, enum trl_field f, const char *v, size_t len)
{
    kv->name = NULL;
    kv->val = v;
    kv->name_len = 0;
    kv->val_len = (uint32_t)len;
    kv->field = (uint16_t)f;
}

void trl_event_set(struct trl_event *ev, enum trl_field f, const char *v, size_t len);
void trl_event_set_str(struct trl_event *ev, enum trl_field f, const char *v);
void trl_event_set_int(struct trl_event *ev, enum trl_field f, int64_t v);
/* Appends a value to an array field; trl_event_add_unique() skips a value already present.
 * trl_event_add_ref() stores the pointer like trl_event_set_ref() (a literal, or a slice that lives
 * as long as the arena). */
void trl_event_add(struct trl_event *ev, enum trl_field f, const char *v, size_t len);
static inline void trl_event_add_ref(struct trl_event *ev, enum trl_field f, const char *v,
                                     size_t len)
{
    uint32_t n = ev->nfields;
    if (n == ev->cap || n >= UINT16_MAX) {
        trl_event_append_known(ev, f, v, len);
        return;
    }
    trl_kv_put_known(&ev->fields[n], f, v, len);
    ev->nfields = n + 1;
    if (!ev->slot[f])
        ev->slot[f] = (uint16_t)(n + 1);
}
/* Inline: parsers and normalisers set about twenty fields per event this way, and the common path
 * is a few loads and stores. */
static inline void trl_event_set_ref(struct trl_event *ev, enum trl_field f, const char *v,
                                     size_t len)
{
    uint16_t s = ev->slot[f];
    if (s) {
        struct trl_kv *kv = &ev->fields[s - 1];
        kv->val = v;
        kv->val_len = (uint32_t)len;
        return;
    }
    trl_event_add_ref(ev, f, v, len);
}
void trl_event_add_unique(struct trl_event *ev, enum trl_field f, const char *v, size_t len);
void trl_event_add_unique_ref(struct trl_event *ev, enum trl_field f, const char *v, size_t len);
/* Sets a dynamic field by dotted name. A name that is a known field is stored as that field. */
void trl_event_set_named(struct trl_event *ev, const char *name, size_t name_len, const char *v,
                         size_t len);
/* What trl_event_set_named_ex() stores by reference rather than copying; whatever is stored so
 * must live as long as the arena (a string literal, a slice of event.original). */
enum trl_set_ref {
    TRL_REF_NAME = 1 << 0,
    TRL_REF_VALUE = 1 << 1,
};
/* trl_event_set_named() with copies saved: refs is a set of enum trl_set_ref. */
void trl_event_set_named_ex(struct trl_event *ev, const char *name, size_t name_len, const char *v,
                            size_t len, unsigned refs);
/* trl_event_set_named_ex() for a name that is no known field's (a vendor namespace such as
 * "sshd." or "iptables."): it skips looking the name up among the known fields. Debug builds
 * check the promise. */
void trl_event_set_dynamic_ex(struct trl_event *ev, const char *name, size_t name_len,
                              const char *v, size_t len, unsigned refs);
void trl_event_remove(struct trl_event *ev, enum trl_field f);

/* The first value of a field, or NULL (len untouched) when absent. A value set with
 * trl_event_set_ref() may be a slice that is not NUL-terminated: always use len. */
const char *trl_event_get(const struct trl_event *ev, enum trl_field f, size_t *len);
const char *trl_event_get_named(const struct trl_event *ev, const char *name, size_t name_len,
                                size_t *len);
static inline bool trl_event_has(const struct trl_event *ev, enum trl_field f)
{
    size_t len;
    return trl_event_get(ev, f, &len) != NULL;
}
/* Whether [p, p+len) lies inside event.original. event.original lives in the event's arena, so
 * such a slice may be stored with trl_event_set_ref() instead of being copied. */
static inline bool trl_event_in_original(const struct trl_event *ev, const char *p, size_t len)
{
    uintptr_t o = (uintptr_t)ev->original, q = (uintptr_t)p;
    return ev->original && q >= o && q - o <= ev->original_len && len <= ev->original_len - (q - o);
}
/* True when field f has exactly the value lit. */
bool trl_event_is(const struct trl_event *ev, enum trl_field f, const char *lit);

/* Name of a field entry (known or dynamic). */
static inline const char *trl_kv_name(const struct trl_kv *kv, size_t *len)
{
    if (kv->field) {
        const struct trl_field_info *fi = trl_field_info((enum trl_field)kv->field);
        *len = fi->name_len;
        return fi->name;
    }
    *len = kv->name_len;
    return kv->name;
}

#endif

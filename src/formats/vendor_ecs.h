/*
 * vendor_ecs: helpers the vendor formats (Snare, CEF, LEEF) share to split key=value extensions
 * and to store values the way every Trapline parser does (IP or address, lower-case transport,
 * ECS action and outcome words, sanitised dynamic field names).
 *
 * Everything set on an event is copied into its arena; split results are arena arrays of slices
 * into the caller's buffer or the arena. Pure functions; callable from any thread on distinct
 * events.
 */
#ifndef TRL_VENDOR_ECS_H
#define TRL_VENDOR_ECS_H

#include "core/event.h"

#include <stdbool.h>
#include <stddef.h>

/* Longest extension or EventData name kept as a dynamic field. */
#define TRL_VENDOR_NAME_MAX 128

/* Fields are found by a linear scan of the event, so an input made of thousands of distinct keys
 * would cost quadratic time. Past this many fields an event takes no more fields named by the input
 * (extension keys, EventData names, related.* entries); mapped ECS fields are still set. */
#define TRL_VENDOR_FIELDS_MAX 512

static inline bool trl_vendor_room(const struct trl_event *ev)
{
    return ev->nfields < TRL_VENDOR_FIELDS_MAX;
}

struct trl_vendor_kv {
    const char *key;
    size_t key_len;
    const char *val;
    size_t val_len;
};

/* Splits "k1=v1 k2=value with spaces k3=v3": a value runs until the next " key=" (key characters:
 * letters, digits, '_', '.', '-', '[', ']'). With cef_escapes, '\' escapes in values are undone
 * (\= \\ \n \r) and an escaped '=' never ends a key. Text before the first key is skipped. Returns
 * the number of pairs; *out is an arena array. */
size_t trl_vendor_split_spaced(struct trl_event *ev, const char *p, size_t len, bool cef_escapes,
                               struct trl_vendor_kv **out);
/* Splits "k1=v1<delim>k2=v2": pieces without '=' or with an empty key are skipped; keys lose
 * surrounding spaces. */
size_t trl_vendor_split_delim(struct trl_event *ev, const char *p, size_t len, char delim,
                              struct trl_vendor_kv **out);

/* Sets "<prefix><name>" with every character of name outside [A-Za-z0-9_-] replaced by '_', so a
 * vendor key can never add path segments or empty ones. False when name is empty or too long, or
 * the event has no room left (TRL_VENDOR_FIELDS_MAX). */
bool trl_vendor_set_prefixed(struct trl_event *ev, const char *prefix, const char *name,
                             size_t nlen, const char *v, size_t vlen);

/* An IP address goes to ip_field and related.ip, anything else to addr_field. */
void trl_vendor_set_addr(struct trl_event *ev, enum trl_field ip_field, enum trl_field addr_field,
                         const char *v, size_t len);
/* Sets a port (1..65535 as decimal) or a byte/packet count; false when v is not a number. */
bool trl_vendor_set_number(struct trl_event *ev, enum trl_field f, const char *v, size_t len,
                           bool port);
/* network.transport in lower case; IANA protocol numbers 1, 6, 17, 58 become their names. */
void trl_vendor_set_transport(struct trl_event *ev, const char *v, size_t len);
/* event.action as lower-case words joined by '-' ("Blocked Connection" -> "blocked-connection"). */
void trl_vendor_set_action(struct trl_event *ev, const char *v, size_t len);
/* event.outcome from success/failure words; other values are not set. */
void trl_vendor_set_outcome(struct trl_event *ev, const char *v, size_t len);
/* A user name to field f and related.user. */
void trl_vendor_set_user(struct trl_event *ev, enum trl_field f, const char *v, size_t len);

/* Writes an ECS action into the arena: lower case, text in parentheses dropped, other runs of
 * non-alphanumerics become one '-' ("chmod(2)" -> "chmod"). NULL when nothing is left. */
const char *trl_vendor_action(struct trl_event *ev, const char *p, size_t len, size_t *out_len);

#endif

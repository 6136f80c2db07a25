/*
 * json_in: the pieces of the JSON input parser (trl_parse_json, see parse.h) shared by its files:
 * turning json-c values into field text, flattening nested objects into dotted field names, and the
 * two shapes that get their own mapping (journald export JSON, Windows events dumped from EVTX).
 *
 * The json-c tree passed in belongs to the caller, who releases it with json_object_put(); every
 * value set on the event is copied into the event's arena, so nothing here outlives the tree. Pure
 * functions over the tree and the event: callable from any thread on distinct events.
 */
#ifndef TRL_JSON_IN_H
#define TRL_JSON_IN_H

#include "core/event.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest dotted field name built from nested keys; longer paths are not stored as fields (the
 * whole input stays in event.original). */
#define TRL_JSON_NAME_MAX 256
/* Most segments in a flattened name (each is one level of nesting in the JSON output, and
 * consumers such as Elasticsearch refuse deep objects): deeper members are stored as one JSON
 * string, and a dotted key that would go deeper is kept as one segment. */
#define TRL_JSON_MAX_SEGMENTS 16

/* Room for the text of any JSON scalar that is not a string (the longest is a 64-bit integer). */
#define TRL_JSON_NUM_MAX 24

/*
 * The text of a scalar: a string's bytes (which may contain NUL), a number as written in the input
 * (integers as decimal; beyond 64 bits json-c saturates them), "true" or "false". num is scratch
 * space for numbers. Returns false for null, objects and arrays.
 */
bool trl_json_scalar(struct json_object *v, char num[TRL_JSON_NUM_MAX], const char **text,
                     size_t *len);

/* The compact JSON text of any value; it lives as long as v. */
const char *trl_json_dump(struct json_object *v, size_t *len);

/* The text of a scalar, or of an object's "#text" member (the way XML element text is written in
 * EVTX dumps). Returns false when there is none. */
bool trl_json_text(struct json_object *v, char num[TRL_JSON_NUM_MAX], const char **text,
                   size_t *len);

/*
 * Sets field name (known or dynamic) from value v: a scalar as its text, an array of scalars as
 * one value each when the field is an array field (event.category, tags, related.ip...), anything
 * else as its JSON text. null and empty arrays set nothing. A dynamic name that would be both a
 * leaf and a parent of another field (the event is written as nested JSON, where that cannot be) is
 * stored as json.<name with dots replaced by underscores> instead, or dropped when even that
 * clashes.
 */
void trl_json_set(struct trl_event *ev, const char *name, size_t name_len, struct json_object *v);

/* trl_field_lookup() by a hash table rather than a binary search (it runs for every member). */
enum trl_field trl_json_field_lookup(const char *name, size_t len);
/* The same for a name whose hash the caller computed: FNV-1a, started with TRL_JSON_HASH_INIT and
 * continued with trl_json_hash_more(), so that dotted names built piece by piece are hashed as
 * they grow. */
#define TRL_JSON_HASH_INIT 2166136261u
static inline uint32_t trl_json_hash_more(uint32_t h, const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}
enum trl_field trl_json_field_lookup_hashed(const char *name, size_t len, uint32_t hash);

/* Room for a name rewritten as json.<name> by trl_json_resolve(). */
#define TRL_JSON_ALT_MAX (TRL_JSON_NAME_MAX + 8)

/*
 * The field trl_json_set() stores a value of name under, given the fields already in the event: the
 * known field (*f), or a dynamic name, which is rewritten into alt as json.<name with underscores>
 * (and *name, *name_len made to point there) when it would clash. Returns false when the value is
 * to be dropped.
 */
bool trl_json_resolve(const struct trl_event *ev, const char **name, size_t *name_len,
                      char alt[TRL_JSON_ALT_MAX], enum trl_field *f);
/* The second half of trl_json_resolve(), for a caller that looked the name up itself (*f). */
bool trl_json_resolve_dynamic(const struct trl_event *ev, const char **name, size_t *name_len,
                              char alt[TRL_JSON_ALT_MAX], enum trl_field *f);
/* Stores the text of a scalar as trl_json_set() does, under what trl_json_resolve() returned. */
void trl_json_set_text(struct trl_event *ev, enum trl_field f, const char *name, size_t name_len,
                       const char *v, size_t len);

/*
 * Decodes ev->original when it is JSON as a Trapline agent writes it (trl_json_encode_event(): one
 * object of objects, strings, integers and arrays of scalars, no white space), with the members the
 * agent listener appends, into the same fields trl_parse_json() would set for an event flagged
 * TRL_EVF_FROM_AGENT, without building a json-c tree. Returns 0 when decoded, TRL_ENOMATCH when
 * the text is in any other shape; the event is then untouched and trl_parse_json() must do it.
 * Values may point into ev->original, which must live as long as the event's arena. Each calling
 * thread keeps the shapes (key sequences) of the events it decoded, to read the next events of a
 * known shape without looking their keys up again: about 140 KB, freed when the thread ends.
 */
int trl_json_parse_agent(struct trl_event *ev);

/*
 * Called for every leaf before it is set; returns true when it consumed the value itself (the
 * @timestamp of ECS documents, event.original...). ctx is the caller's.
 */
typedef bool (*trl_json_leaf_fn)(void *ctx, const char *name, size_t name_len,
                                 struct json_object *v);

/* Flattens every member of object obj into fields named prefix.key.subkey... (prefix may be empty).
 * A dotted key ("host.name") counts as its segments; one with an empty segment ("a..b", ".x") or
 * too many has its dots replaced by underscores. Empty keys are skipped. leaf may be NULL. */
void trl_json_flatten(struct trl_event *ev, struct json_object *obj, const char *prefix,
                      size_t prefix_len, trl_json_leaf_fn leaf, void *ctx);

/* Parses an RFC 3339 string value into ev->timestamp_ns; false when v is not one. */
bool trl_json_set_timestamp(struct trl_event *ev, struct json_object *v);

/* Shapes with their own mapping. Each returns true when obj has that shape and was mapped. */
bool trl_json_is_journald(struct json_object *obj);
void trl_json_parse_journald(struct trl_event *ev, struct json_object *obj);
/* The Event object of an EVTX dump ({"Event":{"System":{...},...}} or the bare Event), or NULL. */
struct json_object *trl_json_evtx_event(struct json_object *obj);
void trl_json_parse_evtx(struct trl_event *ev, struct json_object *event);

#endif

#include "core/timeutil.h"
#include "core/util.h"
#include "formats/json_in.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool trl_json_scalar(struct json_object *v, char num[TRL_JSON_NUM_MAX], const char **text,
                     size_t *len)
{
    switch (json_object_get_type(v)) {
    case json_type_string:
        *text = json_object_get_string(v);
        *len = (size_t)json_object_get_string_len(v);
        return true;
    case json_type_int: {
        /* json-c keeps integers above INT64_MAX as unsigned; get_int64 saturates on those. */
        int64_t i = json_object_get_int64(v);
        int n = i == INT64_MAX
                    ? snprintf(num, TRL_JSON_NUM_MAX, "%" PRIu64, json_object_get_uint64(v))
                    : snprintf(num, TRL_JSON_NUM_MAX, "%" PRId64, i);
        *text = num;
        *len = (size_t)n;
        return true;
    }
    case json_type_double:
        /* The tokener keeps the number's original spelling, so 1.10 stays "1.10". */
        *text = json_object_get_string(v);
        *len = strlen(*text);
        return true;
    case json_type_boolean:
        *text = json_object_get_boolean(v) ? "true" : "false";
        *len = strlen(*text);
        return true;
    default:
        return false;
    }
}

const char *trl_json_dump(struct json_object *v, size_t *len)
{
    return json_object_to_json_string_length(
        v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
}

bool trl_json_text(struct json_object *v, char num[TRL_JSON_NUM_MAX], const char **text,
                   size_t *len)
{
    struct json_object *t;
    if (json_object_is_type(v, json_type_object) && json_object_object_get_ex(v, "#text", &t))
        v = t;
    return trl_json_scalar(v, num, text, len);
}

/* True when a is a proper dotted prefix of b ("host" of "host.name"). */
static bool is_parent(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen < blen && b[alen] == '.' && memcmp(a, b, alen) == 0;
}

static bool related(const char *a, size_t alen, const char *b, size_t blen)
{
    return is_parent(a, alen, b, blen) || is_parent(b, blen, a, alen);
}

/* Names the JSON encoder writes itself for every event, outside the field list. */
static const struct trl_str reserved[] = {TRL_STR("@timestamp"), TRL_STR("trapline.format")};

/* Known field names in byte order, built once: whether a name is the parent of a known field is
 * then one binary search instead of a pass over the whole field list (this runs for every
 * dynamic field of every JSON event). */
static const struct trl_field_info *known_sorted[TRL_F__COUNT - 1];
static pthread_once_t known_once = PTHREAD_ONCE_INIT;

static int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

static int info_cmp(const void *x, const void *y)
{
    const struct trl_field_info *a = *(const struct trl_field_info *const *)x;
    const struct trl_field_info *b = *(const struct trl_field_info *const *)y;
    return bytes_cmp(a->name, a->name_len, b->name, b->name_len);
}

/* ... and in a hash table (open addressing, at most a quarter full): looking a name up is then
 * one comparison instead of a binary search. */
#define KNOWN_SLOTS 4096
_Static_assert(4 * TRL_F__COUNT <= KNOWN_SLOTS, "grow KNOWN_SLOTS with the field list");
static uint16_t known_slots[KNOWN_SLOTS];

static uint32_t name_hash(const char *name, size_t len)
{
    return trl_json_hash_more(TRL_JSON_HASH_INIT, name, len);
}

static void build_known_tables(void)
{
    for (int f = 1; f < TRL_F__COUNT; f++) {
        const struct trl_field_info *fi = trl_field_info((enum trl_field)f);
        known_sorted[f - 1] = fi;
        uint32_t h = name_hash(fi->name, fi->name_len) & (KNOWN_SLOTS - 1);
        while (known_slots[h])
            h = (h + 1) & (KNOWN_SLOTS - 1);
        known_slots[h] = (uint16_t)f;
    }
    qsort(known_sorted, TRL_F__COUNT - 1, sizeof(known_sorted[0]), info_cmp);
}

enum trl_field trl_json_field_lookup(const char *name, size_t len)
{
    return trl_json_field_lookup_hashed(name, len, name_hash(name, len));
}

enum trl_field trl_json_field_lookup_hashed(const char *name, size_t len, uint32_t hash)
{
    pthread_once(&known_once, build_known_tables);
    uint32_t h = hash & (KNOWN_SLOTS - 1);
    for (uint16_t f; (f = known_slots[h]) != 0; h = (h + 1) & (KNOWN_SLOTS - 1)) {
        const struct trl_field_info *fi = trl_field_info((enum trl_field)f);
        if (fi->name_len == len && memcmp(fi->name, name, len) == 0)
            return (enum trl_field)f;
    }
    return TRL_F_NONE;
}

/* Whether some known field name starts with name followed by a dot. Names with that prefix sort
 * together, right at the lower bound of the prefix. */
static bool parent_of_known(const char *name, size_t len)
{
    size_t lo = 0, hi = TRL_F__COUNT - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct trl_field_info *fi = known_sorted[mid];
        /* Compare fi against name + "." without building that string: a name equal to name
         * or a proper prefix of it sorts before. */
        int c = memcmp(fi->name, name, TRL_MIN(fi->name_len, len));
        if (c == 0)
            c = fi->name_len <= len ? -1 : (unsigned char)fi->name[len] - '.';
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= TRL_F__COUNT - 1)
        return false;
    const struct trl_field_info *fi = known_sorted[lo];
    return fi->name_len > len && fi->name[len] == '.' && memcmp(fi->name, name, len) == 0;
}

/* Whether a dynamic name would be a leaf and a parent at once, given the known fields, the names
 * the encoder reserves and the dynamic fields already in the event. */
static bool clashes(const struct trl_event *ev, const char *name, size_t len)
{
    pthread_once(&known_once, build_known_tables);
    if (parent_of_known(name, len))
        return true;
    /* A known field that is a parent of name: one of name's dotted prefixes. */
    for (size_t i = 1; i < len; i++)
        if (name[i] == '.' && trl_json_field_lookup(name, i) != TRL_F_NONE)
            return true;
    for (size_t i = 0; i < TRL_ARRAY_LEN(reserved); i++) {
        if ((len == reserved[i].len && memcmp(name, reserved[i].ptr, len) == 0) ||
            related(name, len, reserved[i].ptr, reserved[i].len))
            return true;
    }
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        if (!kv->field && related(name, len, kv->name, kv->name_len))
            return true;
    }
    return false;
}

void trl_json_set_text(struct trl_event *ev, enum trl_field f, const char *name, size_t name_len,
                       const char *v, size_t len)
{
    if (f == TRL_F_NONE)
        trl_event_set_named(ev, name, name_len, v, len);
    else if (trl_field_info(f)->type == TRL_FT_ARRAY)
        trl_event_add(ev, f, v, len);
    else
        trl_event_set(ev, f, v, len);
}

bool trl_json_resolve(const struct trl_event *ev, const char **name, size_t *name_len,
                      char alt[TRL_JSON_ALT_MAX], enum trl_field *f)
{
    *f = trl_json_field_lookup(*name, *name_len);
    return trl_json_resolve_dynamic(ev, name, name_len, alt, f);
}

bool trl_json_resolve_dynamic(const struct trl_event *ev, const char **name, size_t *name_len,
                              char alt[TRL_JSON_ALT_MAX], enum trl_field *f)
{
    if (*f != TRL_F_NONE || !clashes(ev, *name, *name_len))
        return true;
    if (*name_len + 5 >= TRL_JSON_ALT_MAX)
        return false;
    memcpy(alt, "json.", 5);
    for (size_t i = 0; i < *name_len; i++)
        alt[5 + i] = (*name)[i] == '.' ? '_' : (*name)[i];
    *name = alt;
    *name_len += 5;
    return !clashes(ev, *name, *name_len);
}

void trl_json_set(struct trl_event *ev, const char *name, size_t name_len, struct json_object *v)
{
    if (!v)
        return;
    enum trl_field f;
    char alt[TRL_JSON_ALT_MAX];
    if (!trl_json_resolve(ev, &name, &name_len, alt, &f))
        return;

    char num[TRL_JSON_NUM_MAX];
    const char *text;
    size_t len;
    if (trl_json_scalar(v, num, &text, &len)) {
        trl_json_set_text(ev, f, name, name_len, text, len);
        return;
    }
    if (json_object_is_type(v, json_type_array) && f != TRL_F_NONE &&
        trl_field_info(f)->type == TRL_FT_ARRAY) {
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
            struct json_object *el = json_object_array_get_idx(v, i);
            if (!el)
                continue;
            if (!trl_json_scalar(el, num, &text, &len))
                text = trl_json_dump(el, &len);
            trl_event_add(ev, f, text, len);
        }
        return;
    }
    if (json_object_is_type(v, json_type_array) && json_object_array_length(v) == 0)
        return;
    text = trl_json_dump(v, &len);
    trl_json_set_text(ev, f, name, name_len, text, len);
}

struct flat {
    struct trl_event *ev;
    trl_json_leaf_fn leaf;
    void *ctx;
    char name[TRL_JSON_NAME_MAX];
};

/* Segments a key adds to a name, or 0 when it has an empty one. */
static unsigned key_segments(const char *key, size_t len)
{
    unsigned n = 1;
    for (size_t i = 0; i < len; i++) {
        if (key[i] != '.')
            continue;
        if (i == 0 || i + 1 == len || key[i + 1] == '.')
            return 0;
        n++;
    }
    return n;
}

static void flatten(struct flat *fl, struct json_object *obj, size_t len, unsigned segs)
{
    json_object_object_foreach(obj, key, val)
    {
        size_t klen = strlen(key);
        size_t sep = len > 0;
        if (klen == 0 || len + sep + klen >= sizeof(fl->name))
            continue;
        if (sep)
            fl->name[len] = '.';
        char *dst = fl->name + len + sep;
        memcpy(dst, key, klen);
        unsigned ksegs = key_segments(key, klen);
        if (ksegs == 0 || segs + ksegs > TRL_JSON_MAX_SEGMENTS) {
            for (size_t i = 0; i < klen; i++)
                dst[i] = dst[i] == '.' ? '_' : dst[i];
            ksegs = 1;
        }
        size_t nlen = len + sep + klen;
        fl->name[nlen] = '\0';
        if (json_object_is_type(val, json_type_object) && segs + ksegs < TRL_JSON_MAX_SEGMENTS) {
            flatten(fl, val, nlen, segs + ksegs);
            continue;
        }
        if (fl->leaf && fl->leaf(fl->ctx, fl->name, nlen, val))
            continue;
        trl_json_set(fl->ev, fl->name, nlen, val);
    }
}

void trl_json_flatten(struct trl_event *ev, struct json_object *obj, const char *prefix,
                      size_t prefix_len, trl_json_leaf_fn leaf, void *ctx)
{
    struct flat fl = {.ev = ev, .leaf = leaf, .ctx = ctx};
    if (prefix_len >= sizeof(fl.name))
        return;
    memcpy(fl.name, prefix, prefix_len);
    flatten(&fl, obj, prefix_len, prefix_len ? key_segments(prefix, prefix_len) : 0);
}

bool trl_json_set_timestamp(struct trl_event *ev, struct json_object *v)
{
    if (!json_object_is_type(v, json_type_string))
        return false;
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    int64_t ns;
    /* An empty string is no time (and leaves ns unset). */
    if (len == 0 || trl_parse_rfc3339(s, len, &ns) != len)
        return false;
    ev->timestamp_ns = ns;
    return true;
}

#include "core/fields.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static const struct trl_field_info field_table[TRL_F__COUNT] = {
    [TRL_F_NONE] = {"", 0, TRL_FT_KEYWORD},
#define TRL_FIELD_INFO(id, name, type) [TRL_F_##id] = {name, sizeof(name) - 1, type},
    TRL_FIELD_LIST(TRL_FIELD_INFO)
#undef TRL_FIELD_INFO
};

const struct trl_field_info *trl_field_info(enum trl_field f)
{
    return &field_table[f];
}

/* Known fields by name in an open-addressing hash table, built once: dynamic fields are set by
 * name on the hot path (structured data, JSON input, normalisers' extra fields), and most of those
 * names are not known fields, so a miss must be cheap too. The hash samples the length and a few
 * bytes rather than reading the whole name. */
#define BY_NAME_SLOTS 1024u /* a power of two, several times the number of fields */

static uint16_t by_name[BY_NAME_SLOTS]; /* enum trl_field, TRL_F_NONE: empty */
static size_t max_name_len;
static pthread_once_t by_name_once = PTHREAD_ONCE_INIT;
static atomic_bool by_name_built;

static inline size_t name_hash(const char *name, size_t len)
{
    size_t h = len * 0x9E3779B1u;
    h ^= (unsigned char)name[0] * 0x85EBCA77u;
    h ^= (unsigned char)name[len - 1] * 0xC2B2AE3Du;
    h ^= (unsigned char)name[len / 2] * 0x27D4EB2Fu;
    h ^= (unsigned char)name[len / 3] * 0x165667B1u;
    return (h ^ (h >> 15)) & (BY_NAME_SLOTS - 1);
}

static void build_by_name(void)
{
    for (int f = 1; f < TRL_F__COUNT; f++) {
        const struct trl_field_info *fi = &field_table[f];
        size_t i = name_hash(fi->name, fi->name_len);
        while (by_name[i] != TRL_F_NONE)
            i = (i + 1) & (BY_NAME_SLOTS - 1);
        by_name[i] = (uint16_t)f;
        if (fi->name_len > max_name_len)
            max_name_len = fi->name_len;
    }
}

enum trl_field trl_field_lookup(const char *name, size_t len)
{
    /* pthread_once() is a library call: skip it once the table is known to be built. */
    if (!atomic_load_explicit(&by_name_built, memory_order_acquire)) {
        pthread_once(&by_name_once, build_by_name);
        atomic_store_explicit(&by_name_built, true, memory_order_release);
    }
    if (len == 0 || len > max_name_len)
        return TRL_F_NONE;
    for (size_t i = name_hash(name, len);; i = (i + 1) & (BY_NAME_SLOTS - 1)) {
        enum trl_field f = (enum trl_field)by_name[i];
        if (f == TRL_F_NONE)
            return TRL_F_NONE;
        const struct trl_field_info *fi = &field_table[f];
        if (fi->name_len == len && memcmp(fi->name, name, len) == 0)
            return f;
    }
}

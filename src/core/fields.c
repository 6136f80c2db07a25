#include "core/fields.h"

#include <pthread.h>
#include <stdlib.h>
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

/* Known fields sorted by name, built once, for binary search: dynamic fields are set by name on
 * the hot path (structured data, JSON input, normalisers' extra fields). */
static enum trl_field by_name[TRL_F__COUNT - 1];
static pthread_once_t by_name_once = PTHREAD_ONCE_INIT;

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

static int field_cmp(const void *a, const void *b)
{
    const struct trl_field_info *x = &field_table[*(const enum trl_field *)a];
    const struct trl_field_info *y = &field_table[*(const enum trl_field *)b];
    return name_cmp(x->name, x->name_len, y->name, y->name_len);
}

static void sort_by_name(void)
{
    for (int f = 1; f < TRL_F__COUNT; f++)
        by_name[f - 1] = (enum trl_field)f;
    qsort(by_name, TRL_F__COUNT - 1, sizeof(by_name[0]), field_cmp);
}

enum trl_field trl_field_lookup(const char *name, size_t len)
{
    pthread_once(&by_name_once, sort_by_name);
    size_t lo = 0, hi = TRL_F__COUNT - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct trl_field_info *fi = &field_table[by_name[mid]];
        int c = name_cmp(fi->name, fi->name_len, name, len);
        if (c == 0)
            return by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return TRL_F_NONE;
}

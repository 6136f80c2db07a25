/*
 * name_index: a read-only index of the names of a static table (audit record types, audit keys),
 * for tables looked up on every event, where a scan of the whole list costs more than the rest.
 * Open addressing over an array of table positions plus one (0: empty), of a power-of-two size at
 * least twice the number of names, and fewer than 255 names. The owner fills it once (under its
 * pthread_once) and any thread reads it afterwards; it holds no pointers and allocates nothing.
 */
#ifndef TRL_CORE_NAME_INDEX_H
#define TRL_CORE_NAME_INDEX_H

#include "core/util.h"

#include <stddef.h>

/* Files position pos of the table under its name. */
static inline void trl_name_index_put(unsigned char *slots, size_t nslots, const char *name,
                                      size_t len, size_t pos)
{
    size_t h = (size_t)trl_hash_short(name, len) & (nslots - 1);
    while (slots[h])
        h = (h + 1) & (nslots - 1);
    slots[h] = (unsigned char)(pos + 1);
}

/* The position of the table's entry named name, or -1. name_of(table, pos, &len) gives the name
 * of the entry at pos (inlined: the callers pass a function of their own file). */
static inline int trl_name_index_find(const unsigned char *slots, size_t nslots, const void *table,
                                      const char *(*name_of)(const void *table, size_t pos,
                                                             size_t *len),
                                      const char *name, size_t len)
{
    for (size_t h = (size_t)trl_hash_short(name, len) & (nslots - 1);; h = (h + 1) & (nslots - 1)) {
        unsigned i = slots[h];
        if (!i)
            return -1;
        size_t n;
        const char *s = name_of(table, i - 1, &n);
        if (n == len && trl_short_eq(s, name, len))
            return (int)i - 1;
    }
}

#endif

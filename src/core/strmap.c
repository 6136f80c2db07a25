#include "core/strmap.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

struct entry {
    struct entry *next;
    uint64_t hash;
    void *value;
    size_t len;
    char key[];
};

struct trl_strmap {
    struct entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
};

/* FNV-1a: short keys, no adversary who can choose them cheaply enough to matter here, since group
 * keys come from event values bounded by the per-correlation group limit. */
uint64_t trl_hash_bytes(const void *p, size_t len)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

struct trl_strmap *trl_strmap_create(void)
{
    struct trl_strmap *m = trl_xcalloc(1, sizeof(*m));
    m->nbuckets = 64;
    m->buckets = trl_xcalloc(m->nbuckets, sizeof(*m->buckets));
    return m;
}

void trl_strmap_destroy(struct trl_strmap *m, void (*free_value)(void *value))
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct entry *e = m->buckets[i];
        while (e) {
            struct entry *next = e->next;
            if (free_value)
                free_value(e->value);
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    free(m);
}

void *trl_strmap_get(const struct trl_strmap *m, const char *key, size_t len)
{
    uint64_t h = trl_hash_bytes(key, len);
    for (struct entry *e = m->buckets[h & (m->nbuckets - 1)]; e; e = e->next) {
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)
            return e->value;
    }
    return NULL;
}

static void grow(struct trl_strmap *m)
{
    size_t n = m->nbuckets * 2;
    struct entry **b = trl_xcalloc(n, sizeof(*b));
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct entry *e = m->buckets[i];
        while (e) {
            struct entry *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

void *trl_strmap_put(struct trl_strmap *m, const char *key, size_t len, void *value)
{
    uint64_t h = trl_hash_bytes(key, len);
    struct entry **slot = &m->buckets[h & (m->nbuckets - 1)];
    for (struct entry *e = *slot; e; e = e->next) {
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0) {
            void *old = e->value;
            e->value = value;
            return old;
        }
    }
    struct entry *e = trl_xmalloc(sizeof(*e) + len + 1);
    e->hash = h;
    e->len = len;
    e->value = value;
    memcpy(e->key, key, len);
    e->key[len] = '\0';
    e->next = *slot;
    *slot = e;
    if (++m->count > m->nbuckets)
        grow(m);
    return NULL;
}

void *trl_strmap_remove(struct trl_strmap *m, const char *key, size_t len)
{
    uint64_t h = trl_hash_bytes(key, len);
    for (struct entry **pp = &m->buckets[h & (m->nbuckets - 1)]; *pp; pp = &(*pp)->next) {
        struct entry *e = *pp;
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0) {
            void *value = e->value;
            *pp = e->next;
            free(e);
            m->count--;
            return value;
        }
    }
    return NULL;
}

size_t trl_strmap_count(const struct trl_strmap *m)
{
    return m->count;
}

size_t trl_strmap_remove_if(struct trl_strmap *m, bool (*pred)(void *value, void *ud), void *ud,
                            void (*free_value)(void *value))
{
    size_t removed = 0;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct entry **pp = &m->buckets[i];
        while (*pp) {
            struct entry *e = *pp;
            if (pred(e->value, ud)) {
                *pp = e->next;
                if (free_value)
                    free_value(e->value);
                free(e);
                removed++;
            } else {
                pp = &e->next;
            }
        }
    }
    m->count -= removed;
    return removed;
}

void trl_strmap_each(const struct trl_strmap *m,
                     void (*fn)(const char *key, size_t len, void *value, void *ud), void *ud)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        for (struct entry *e = m->buckets[i]; e; e = e->next)
            fn(e->key, e->len, e->value, ud);
    }
}

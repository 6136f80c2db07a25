/*
 * strmap: a hash map from byte-string keys to pointers, with chaining (so deletion during a sweep
 * is simple). Keys are copied and owned by the map; values are the caller's (freed by the callback
 * given to trl_strmap_destroy / trl_strmap_remove_if, if any). Not thread-safe.
 */
#ifndef TRL_STRMAP_H
#define TRL_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trl_strmap;

struct trl_strmap *trl_strmap_create(void);
void trl_strmap_destroy(struct trl_strmap *m, void (*free_value)(void *value));
void *trl_strmap_get(const struct trl_strmap *m, const char *key, size_t len);
/* Inserts or replaces; returns the previous value (or NULL). */
void *trl_strmap_put(struct trl_strmap *m, const char *key, size_t len, void *value);
size_t trl_strmap_count(const struct trl_strmap *m);
/* Removes key and returns its value (NULL when absent). */
void *trl_strmap_remove(struct trl_strmap *m, const char *key, size_t len);
/* Removes every entry for which pred returns true, freeing its value with free_value. */
size_t trl_strmap_remove_if(struct trl_strmap *m, bool (*pred)(void *value, void *ud), void *ud,
                            void (*free_value)(void *value));
/* Calls fn for every entry, in no particular order. */
void trl_strmap_each(const struct trl_strmap *m,
                     void (*fn)(const char *key, size_t len, void *value, void *ud), void *ud);
uint64_t trl_hash_bytes(const void *p, size_t len);

#endif

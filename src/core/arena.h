/*
 * arena: a bump allocator for everything that lives as long as one batch of events.
 *
 * Parsers and normalisers allocate field values here instead of calling malloc per field; the whole
 * batch is released at once with trl_arena_reset() or trl_arena_destroy(). Memory returned by
 * trl_arena_alloc() belongs to the arena and is valid until the next reset. An arena is not
 * thread-safe: one thread owns it at a time (the receiver while filling a batch, then the worker).
 */
#ifndef TRL_ARENA_H
#define TRL_ARENA_H

#include <stddef.h>

struct trl_arena;

struct trl_arena *trl_arena_create(size_t chunk_size);
void trl_arena_destroy(struct trl_arena *a);
/* Releases every allocation but keeps the first chunk for reuse. */
void trl_arena_reset(struct trl_arena *a);
/* Never returns NULL: running out of memory aborts with a message (see trl_xmalloc). */
void *trl_arena_alloc(struct trl_arena *a, size_t size);
/* Copies len bytes and adds a terminating NUL. */
char *trl_arena_strndup(struct trl_arena *a, const char *s, size_t len);
char *trl_arena_sprintf(struct trl_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Bytes handed out since the last reset (for batch size accounting). */
size_t trl_arena_used(const struct trl_arena *a);

#endif

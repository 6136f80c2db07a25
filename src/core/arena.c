#include "core/arena.h"
#include "core/util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Chunks form a singly linked list; the first one is kept across resets so a steady-state batch
 * loop allocates nothing from the heap. Requests larger than a chunk get a chunk of their own. */
struct arena_chunk {
    struct arena_chunk *next;
    size_t size;
    size_t used;
    max_align_t data[];
};

struct trl_arena {
    struct arena_chunk *head;
    struct arena_chunk *spare; /* standard-sized chunks kept across resets for reuse */
    size_t chunk_size;
    size_t total_used;
};

/* Chunks kept for reuse after a reset: enough for a full batch without going back to the kernel
 * (returning and refaulting pages on every batch costs more than parsing). */
#define MAX_SPARE_BYTES (64u << 20)

static struct arena_chunk *chunk_new(size_t size)
{
    struct arena_chunk *c = trl_xmalloc(sizeof(*c) + size);
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

struct trl_arena *trl_arena_create(size_t chunk_size)
{
    struct trl_arena *a = trl_xmalloc(sizeof(*a));
    a->chunk_size = chunk_size ? chunk_size : 64 * 1024;
    a->head = chunk_new(a->chunk_size);
    a->spare = NULL;
    a->total_used = 0;
    return a;
}

void trl_arena_destroy(struct trl_arena *a)
{
    if (!a)
        return;
    for (int list = 0; list < 2; list++) {
        struct arena_chunk *c = list ? a->spare : a->head;
        while (c) {
            struct arena_chunk *next = c->next;
            free(c);
            c = next;
        }
    }
    free(a);
}

void trl_arena_reset(struct trl_arena *a)
{
    /* Keep the last chunk of the list (the original one) as head; standard-sized chunks go to the
     * spare list up to MAX_SPARE_BYTES, oversized ones are freed. */
    size_t kept = 0;
    for (struct arena_chunk *s = a->spare; s; s = s->next)
        kept += s->size;
    struct arena_chunk *c = a->head;
    while (c->next) {
        struct arena_chunk *next = c->next;
        if (c->size == a->chunk_size && kept + c->size <= MAX_SPARE_BYTES) {
            c->next = a->spare;
            a->spare = c;
            kept += c->size;
        } else {
            free(c);
        }
        c = next;
    }
    c->used = 0;
    a->head = c;
    a->total_used = 0;
}

void *trl_arena_alloc(struct trl_arena *a, size_t size)
{
    size_t align = sizeof(max_align_t);
    size = (size + align - 1) & ~(align - 1);
    struct arena_chunk *c = a->head;
    if (c->size - c->used < size) {
        if (size <= a->chunk_size && a->spare) {
            c = a->spare;
            a->spare = c->next;
            c->used = 0;
        } else {
            c = chunk_new(size > a->chunk_size ? size : a->chunk_size);
        }
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    a->total_used += size;
    return p;
}

char *trl_arena_strndup(struct trl_arena *a, const char *s, size_t len)
{
    char *p = trl_arena_alloc(a, len + 1);
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *trl_arena_sprintf(struct trl_arena *a, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *p = trl_arena_alloc(a, (size_t)n + 1);
    if ((size_t)n < sizeof(small)) {
        memcpy(p, small, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return p;
}

size_t trl_arena_used(const struct trl_arena *a)
{
    return a->total_used;
}

/*
 * buf: a growable byte buffer for building output (JSON lines, wire frames).
 *
 * The buffer owns its memory (heap); trl_buf_free() releases it, trl_buf_reset() keeps it for
 * reuse. Not thread-safe: one owner at a time.
 */
#ifndef TRL_BUF_H
#define TRL_BUF_H

#include <stddef.h>
#include <string.h>

struct trl_buf {
    char *data;
    size_t len;
    size_t cap;
};

void trl_buf_free(struct trl_buf *b);
void trl_buf_reserve(struct trl_buf *b, size_t extra);
void trl_buf_printf(struct trl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void trl_buf_reset(struct trl_buf *b)
{
    b->len = 0;
}
static inline void trl_buf_append(struct trl_buf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n + 1)
        trl_buf_reserve(b, n + 1);
    /* p may be NULL when n is 0 (an empty buffer's data), which memcpy does not allow. */
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}
static inline void trl_buf_putc(struct trl_buf *b, char c)
{
    if (b->cap - b->len < 2)
        trl_buf_reserve(b, 2);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}
static inline void trl_buf_puts(struct trl_buf *b, const char *s)
{
    trl_buf_append(b, s, strlen(s));
}

#endif

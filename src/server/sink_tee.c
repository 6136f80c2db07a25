#include "core/util.h"
#include "server/pipeline.h"

#include <stdlib.h>

/* Two sinks fed the same batches: the event store and a JSON-lines copy. */
struct sink_tee {
    struct trl_sink base; /* first member */
    struct trl_sink *first;
    struct trl_sink *second;
};

static int tee_write(struct trl_sink *s, struct trl_batch *b)
{
    struct sink_tee *t = (struct sink_tee *)s;
    int rc = t->first->write(t->first, b);
    if (rc < 0)
        return rc;
    return t->second->write(t->second, b);
}

/* Only the first sink (the store) prepares batches: b->sink_data is its. */
static void tee_prepare(struct trl_sink *s, void *ctx, struct trl_batch *b)
{
    struct sink_tee *t = (struct sink_tee *)s;
    t->first->prepare(t->first, ctx, b);
}

static void *tee_ctx_create(struct trl_sink *s)
{
    struct sink_tee *t = (struct sink_tee *)s;
    return t->first->thread_ctx_create ? t->first->thread_ctx_create(t->first) : NULL;
}

static void tee_ctx_destroy(struct trl_sink *s, void *ctx)
{
    struct sink_tee *t = (struct sink_tee *)s;
    if (t->first->thread_ctx_destroy)
        t->first->thread_ctx_destroy(t->first, ctx);
}

static int tee_flush(struct trl_sink *s)
{
    struct sink_tee *t = (struct sink_tee *)s;
    int a = t->first->flush ? t->first->flush(t->first) : 0;
    int b = t->second->flush ? t->second->flush(t->second) : 0;
    return a < 0 ? a : b;
}

static void tee_destroy(struct trl_sink *s)
{
    struct sink_tee *t = (struct sink_tee *)s;
    if (!t)
        return;
    t->first->destroy(t->first);
    t->second->destroy(t->second);
    free(t);
}

struct trl_sink *trl_sink_tee_create(struct trl_sink *first, struct trl_sink *second)
{
    struct sink_tee *t = trl_xcalloc(1, sizeof(*t));
    t->base.write = tee_write;
    if (first->prepare) {
        t->base.prepare = tee_prepare;
        t->base.thread_ctx_create = tee_ctx_create;
        t->base.thread_ctx_destroy = tee_ctx_destroy;
    }
    t->base.flush = tee_flush;
    t->base.destroy = tee_destroy;
    t->first = first;
    t->second = second;
    return &t->base;
}

/*
 * The pipeline sink over the event store: prepare(), on the pipeline's parse threads, builds a
 * batch's blocks side by side; the worker thread's write() commits them and returns only once they
 * are committed; flush(), which the worker calls whenever its queue runs empty, is when
 * the store does its background work (compaction, retention), so that work never delays a batch
 * that is waiting.
 */
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "store/prebuild.h"
#include "store/store.h"

#include <stdlib.h>

#define COMPACT_BUDGET_NS   (50 * 1000000LL)
#define RETENTION_PERIOD_NS (60 * TRL_NS_PER_SEC)
/* A steady stream leaves the worker idle for a moment after nearly every batch: compacting at each
 * of those moments would merge a few small blocks at a time, again and again. Waiting lets one
 * pass merge a whole run. */
#define COMPACT_PERIOD_NS (2 * TRL_NS_PER_SEC)

struct store_sink {
    struct trl_sink base; /* first member */
    struct trl_store *st;
    struct trl_store_opts opts;
    int64_t last_retention; /* monotonic ns; 0 = never */
    int64_t last_compact;   /* monotonic ns; 0 = never */
};

/* The batch's pre-encoded events as the store takes them (no trailing newline), in the batch
 * arena; NULL when the pipeline did not encode them all. */
static const struct trl_str *batch_json(struct trl_batch *b)
{
    if (b->nevents == 0 || b->json_count != b->nevents)
        return NULL;
    struct trl_str *json = trl_arena_alloc(b->arena, b->nevents * sizeof(*json));
    for (uint32_t i = 0; i < b->nevents; i++) {
        size_t len = 0;
        const char *j = b->events[i] ? trl_batch_json(b, i, &len) : NULL;
        if (j && len > 0 && j[len - 1] == '\n')
            len--;
        json[i] = (struct trl_str){len ? j : NULL, len};
    }
    return json;
}

/* Parse threads: one block builder each. */
static void *sink_ctx_create(struct trl_sink *s)
{
    const struct trl_store_opts *o = trl_store_get_opts(((struct store_sink *)s)->st);
    return trl_prebuilder_create(o->zstd_level, o->bloom_bits_per_term, o->block_max_events);
}

static void sink_ctx_destroy(struct trl_sink *s, void *ctx)
{
    (void)s;
    trl_prebuilder_destroy(ctx);
}

/* On a parse thread: builds the batch's blocks, the costly part of storing it, so the worker's
 * write() only commits them. A failure here leaves the work to write(), which reports it. */
static void sink_prepare(struct trl_sink *s, void *ctx, struct trl_batch *b)
{
    (void)s;
    if (!ctx)
        return;
    struct trl_prebuilt *pb = trl_arena_alloc(b->arena, sizeof(*pb));
    if (trl_store_prebuild(ctx, b->events, batch_json(b), b->nevents, b->arena, pb) == 0)
        b->sink_data = pb;
}

static int sink_write(struct trl_sink *s, struct trl_batch *b)
{
    struct store_sink *ss = (struct store_sink *)s;
    if (b->sink_data)
        return trl_store_append_prebuilt(ss->st, b->sink_data);
    /* Built here when the sink runs without a pipeline's parse threads. */
    return trl_store_append_encoded(ss->st, b->events, batch_json(b), b->nevents);
}

static int sink_flush(struct trl_sink *s)
{
    struct store_sink *ss = (struct store_sink *)s;
    int rc = 0;
    int64_t mono = trl_mono_ns();
    if (!ss->opts.no_compaction && mono - ss->last_compact >= COMPACT_PERIOD_NS) {
        ss->last_compact = mono;
        rc = trl_store_compact(ss->st, COMPACT_BUDGET_NS, false, NULL);
    }
    if ((ss->opts.retention_days || ss->opts.retention_max_bytes) &&
        (ss->last_retention == 0 || mono - ss->last_retention >= RETENTION_PERIOD_NS)) {
        ss->last_retention = mono;
        int r = trl_store_apply_retention(ss->st, ss->opts.retention_days,
                                          ss->opts.retention_max_bytes, trl_now_ns(), NULL);
        if (rc == 0)
            rc = r;
    }
    return rc;
}

static void sink_destroy(struct trl_sink *s)
{
    struct store_sink *ss = (struct store_sink *)s;
    if (!ss)
        return;
    trl_store_close(ss->st);
    free(ss);
}

struct trl_sink *trl_store_sink_create(const char *data_dir, const struct trl_store_opts *opts)
{
    struct trl_store *st;
    if (trl_store_open(data_dir, opts, &st) != 0)
        return NULL;
    struct store_sink *ss = trl_xcalloc(1, sizeof(*ss));
    ss->base.write = sink_write;
    ss->base.prepare = sink_prepare;
    ss->base.thread_ctx_create = sink_ctx_create;
    ss->base.thread_ctx_destroy = sink_ctx_destroy;
    ss->base.flush = sink_flush;
    ss->base.destroy = sink_destroy;
    ss->st = st;
    if (opts)
        ss->opts = *opts;
    return &ss->base;
}

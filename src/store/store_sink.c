/*
 * The pipeline sink over the event store: the worker thread's write() appends a batch and returns
 * only once it is committed; flush(), which the worker calls whenever its queue runs empty, is when
 * the store does its background work (compaction, retention), so that work never delays a batch
 * that is waiting.
 */
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
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
    struct trl_str *json;   /* the batch's pre-encoded events, reused */
    size_t json_cap;
};

static int sink_write(struct trl_sink *s, struct trl_batch *b)
{
    struct store_sink *ss = (struct store_sink *)s;
    if (b->nevents == 0 || b->json_count != b->nevents)
        return trl_store_append(ss->st, b->events, b->nevents);
    /* The producer thread already encoded the events (as JSON lines): store that text rather
     * than encoding it again on this thread. */
    if (ss->json_cap < b->nevents) {
        ss->json_cap = b->nevents;
        ss->json = trl_xrealloc(ss->json, ss->json_cap * sizeof(*ss->json));
    }
    for (uint32_t i = 0; i < b->nevents; i++) {
        size_t len = 0;
        const char *j = b->events[i] ? trl_batch_json(b, i, &len) : NULL;
        if (j && len > 0 && j[len - 1] == '\n')
            len--;
        ss->json[i] = (struct trl_str){len ? j : NULL, len};
    }
    return trl_store_append_encoded(ss->st, b->events, ss->json, b->nevents);
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
    free(ss->json);
    free(ss);
}

struct trl_sink *trl_store_sink_create(const char *data_dir, const struct trl_store_opts *opts)
{
    struct trl_store *st;
    if (trl_store_open(data_dir, opts, &st) != 0)
        return NULL;
    struct store_sink *ss = trl_xcalloc(1, sizeof(*ss));
    ss->base.write = sink_write;
    ss->base.flush = sink_flush;
    ss->base.destroy = sink_destroy;
    ss->st = st;
    if (opts)
        ss->opts = *opts;
    return &ss->base;
}

/*
 * pipeline: the hand-off between receivers and the parse/normalise/output workers.
 *
 * Receivers (the event-loop thread of `trapline server`, the agent listener, the file reader of
 * `trapline ingest`) fill a batch with raw messages and submit it. Parse threads then parse,
 * normalise and (when asked) encode as JSON whole batches side by side; audit records are
 * assembled into events and the enrich hook runs one batch at a time in submission order; one
 * worker thread runs the detection stage and the sink, also in submission order, and recycles the
 * batch. Events thus keep their order from each receiver to the sink while parsing uses every core.
 *
 * Ownership: a batch from trl_pipeline_batch_get() belongs to the caller until
 * trl_pipeline_submit(), then to the pipeline. Message bytes are copied into the batch by
 * trl_batch_add().
 *
 * Back-pressure: trl_pipeline_submit() never drops: the queue is bounded by `queue_batches` as a
 * high watermark, and trl_pipeline_congested() turns true above it. Stream receivers must then stop
 * reading until the drain callback (called from the worker thread when the queue falls to half)
 * tells them to resume. Datagram receivers, which cannot slow the sender, drop and count instead.
 *
 * Threads: batch_get/batch_add/submit/congested from any thread (a batch from one thread at a
 * time); submit only queues. Parsers and normalisers therefore run on several threads at once and
 * must stay pure. The drain callback runs on the worker thread and must only signal (e.g.
 * uv_async_send).
 */
#ifndef TRL_PIPELINE_H
#define TRL_PIPELINE_H

#include "core/arena.h"
#include "core/buf.h"
#include "core/event.h"
#include "formats/parse.h"

#include <stdbool.h>
#include <stdint.h>

enum trl_msg_flag {
    TRL_MSG_TRUNCATED = 1 << 0,   /* cut at the maximum message size */
    TRL_MSG_AGENT_EVENT = 1 << 1, /* an event a Trapline agent parsed and normalised (ECS JSON) */
};

struct trl_raw_msg {
    const char *data; /* NUL-terminated, owned by the batch */
    uint32_t len;
    uint32_t flags; /* enum trl_msg_flag */
    int64_t received_ns;
    const char *peer; /* "ip:port" or a file path, NUL-terminated, owned by the batch; or NULL */
    uint32_t peer_len;
};

struct trl_batch {
    /* For what parsing and the later steps allocate for the batch's events, valid until the
     * batch is recycled. Parsing starts with an arena of its own: receivers must not allocate
     * here. */
    struct trl_arena *arena;
    struct trl_raw_msg *msgs;
    uint32_t count;
    uint32_t cap;
    size_t bytes;      /* sum of message lengths */
    uint32_t max_msgs; /* the batch is full at this many messages ... */
    size_t max_bytes;  /* ... or this many bytes */
    /* Filled by the worker: the events of the batch, in order. Usually events[i] comes from
     * msgs[i]; an audit record that waits to be assembled with the rest of its event leaves NULL,
     * and assembled events (from this or earlier batches) are appended after the messages'. */
    struct trl_event **events;
    uint32_t nevents;
    uint32_t events_cap;
    /* The events encoded as JSON by the parse threads, when the pipeline is configured to: event i
     * is json.data[json_end[i-1] .. json_end[i]) (empty for a NULL slot), for i < json_count. */
    struct trl_buf json;
    uint32_t *json_end;
    uint32_t json_count;
    uint32_t json_cap;
    /* Optional completion callback, run on the worker thread after the sink has taken the batch
     * (the sink's write returned): how `ingest` counts, and later how agents get acknowledgements.
     */
    void (*on_done)(struct trl_batch *b, int status, void *ud);
    void *on_done_ud;
    /* Optional, run on the worker thread with on_done_ud just before the sink takes the batch
     * (after the stage): how the agent listener records what it is about to commit. */
    void (*before_sink)(struct trl_batch *b, void *ud);
    /* Set by the enrich hook (in the batch arena) for the stage to read: the threat-intelligence
     * hits of the batch (struct trl_ioc_batch_hits, see ioc/ioc_stage.h). NULL: none. */
    void *ioc_hits;
    /* Set by the sink's prepare() (in the batch arena, or memory the sink manages) for its
     * write() to use. NULL: the sink's prepare() did not run or left nothing. */
    void *sink_data;
};

/* The output stage. write() is called on the worker thread with every event of a batch parsed,
 * one batch at a time in submission order; it returns 0 when the batch is durable (or written), a
 * negative error otherwise. prepare(), when set, runs first on a parse thread, batches side by
 * side, for work that needs no order (e.g. building the store's blocks); it may leave its result
 * in b->sink_data. ctx is the calling thread's own, made by thread_ctx_create() (optional). */
struct trl_sink {
    int (*write)(struct trl_sink *s, struct trl_batch *b);
    void (*prepare)(struct trl_sink *s, void *ctx, struct trl_batch *b);
    void *(*thread_ctx_create)(struct trl_sink *s);
    void (*thread_ctx_destroy)(struct trl_sink *s, void *ctx);
    int (*flush)(struct trl_sink *s);
    void (*destroy)(struct trl_sink *s);
};

struct trl_pipeline_stats {
    uint64_t batches;
    uint64_t events;
    uint64_t bytes;
    uint64_t unparsed;
    uint64_t truncated;
    uint64_t sink_errors;
    uint64_t per_format[TRL_FORMAT__COUNT];
    uint32_t queued_batches;
};

struct trl_pipeline_config {
    enum trl_format_id format; /* TRL_FORMAT_AUTO to detect per message */
    bool encode_json;        /* the parse threads also encode each event as JSON (trl_batch_json) */
    uint32_t parse_threads;  /* threads parsing batches side by side; 0: one per online CPU */
    int assume_year;         /* year for timestamps without one; 0: nearest to receive time */
    uint32_t queue_batches;  /* high watermark of queued batches (default 64) */
    uint32_t batch_max_msgs; /* a batch is full at this many messages (default 2048) */
    size_t batch_max_bytes;  /* ... or this many bytes (default 4 MiB) */
    struct trl_sink *sink;   /* owned by the pipeline from create() on */
    /* Optional stage run on the worker after parsing and before the sink (detection). A negative
     * return is logged; the batch still goes to the sink (nothing is lost for a failed stage). */
    int (*stage)(void *ud, struct trl_batch *b);
    void *stage_ud;
    /* Optional hook run right after parsing and audit assembly, before the events are stored
     * (threat-intelligence enrichment): one batch at a time, in submission order, never on two
     * threads at once. Events it adds fields to are encoded again. */
    void (*enrich)(void *ud, struct trl_batch *b);
    void *enrich_ud;
    void (*on_drain)(void *ud);
    void *on_drain_ud;
};

struct trl_pipeline;

/* Starts the worker thread. Returns NULL (and logs why) on failure. */
struct trl_pipeline *trl_pipeline_create(const struct trl_pipeline_config *cfg);
/* Processes everything queued, flushes and destroys the sink, joins the worker. NULL-safe. */
void trl_pipeline_destroy(struct trl_pipeline *p);

struct trl_batch *trl_pipeline_batch_get(struct trl_pipeline *p);
/* The JSON of event i when the pipeline encoded it, else NULL. */
static inline const char *trl_batch_json(const struct trl_batch *b, uint32_t i, size_t *len)
{
    if (i >= b->json_count)
        return NULL;
    uint32_t start = i ? b->json_end[i - 1] : 0;
    *len = b->json_end[i] - start;
    return b->json.data + start;
}

/* Copies one message into the batch. Returns true when the batch is now full. */
bool trl_batch_add(struct trl_batch *b, const char *data, size_t len, const char *peer,
                   int64_t received_ns, uint32_t flags);
static inline bool trl_batch_full(const struct trl_batch *b)
{
    return b->count >= b->max_msgs || b->bytes >= b->max_bytes;
}
/* Queues the batch for the worker; an empty batch is simply recycled. */
void trl_pipeline_submit(struct trl_pipeline *p, struct trl_batch *b);
bool trl_pipeline_congested(struct trl_pipeline *p);
/* Blocks until every submitted batch has been written and the sink flushed. */
void trl_pipeline_sync(struct trl_pipeline *p);
void trl_pipeline_get_stats(struct trl_pipeline *p, struct trl_pipeline_stats *out);

/* A sink that appends each event as one JSON line to a file (created 0640), or to stdout for "-".
 */
struct trl_sink *trl_sink_jsonl_create(const char *path);
/* A sink that writes to first, then to second; it owns both. The batch counts as written only when
 * both succeeded (a retried batch may then reach second twice, never first). */
struct trl_sink *trl_sink_tee_create(struct trl_sink *first, struct trl_sink *second);

#endif

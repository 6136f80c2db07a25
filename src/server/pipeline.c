#include "server/pipeline.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "formats/audit_assembler.h"
#include "formats/json_encode.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * Three kinds of threads share the work, and the events of a connection keep their order from
 * the receiver to the sink (correlation and the store's sequence depend on it):
 *
 *   submit      (any producer)  numbers the batch and gives each message its event.id; cheap.
 *   parse       (parse_threads) parses, normalises and encodes whole batches side by side.
 *   prepare     (one at a time) in submission order: assembles audit events across batches,
 *                               runs the enrich hook, encodes what parsing could not.
 *   sink prep   (parse_threads) the sink's optional prepare() (e.g. building the store's
 *                               blocks), batches side by side.
 *   stage       (one thread)    in submission order: the stage (detection).
 *   sink worker (one thread)    in submission order: the sink's write() (e.g. the commit).
 *
 * All batches sit in one list in submission order, each in a state of enum node_state. A pointer
 * per step marks the first batch that step has not taken yet: parse_next, prep_next, sinkprep_next,
 * stage_next; the sink worker takes from the head. Prepare is not a thread of its own: the parse
 * thread that finishes the batch at prep_next prepares it and every parsed batch after it, so the
 * serial step runs on whichever core is free. Parse threads take sink-prep work before parsing new
 * batches, which keeps the oldest batches moving. Recycled batches go to a free list, so the steady
 * state allocates nothing.
 *
 * A batch's memory comes in two parts. The raw messages go into the batch's own small arena when
 * the receiver adds them. Everything parsing makes (events, their fields, the JSON text) goes into
 * a work area the batch takes from a pool when a parse thread starts on it and gives back when it
 * is recycled. Receivers run far ahead of parsing (up to queue_batches), but only the few batches
 * between parsing and the sink hold a work area, so the same few areas, their pages mapped and
 * warm in the cache, serve every batch instead of each queued batch faulting in pages of its own.
 * Parse threads keep it few: they start no new batch while 2 * parse_threads + 2 batches hold an
 * area (a sink slower than parsing, or a core shared with other work, would otherwise let parsed
 * batches pile up, each on fresh pages).
 */

/* Each batch moves through these states in order; the list keeps submission order. */
enum node_state {
    NODE_QUEUED,    /* waiting for a parse thread */
    NODE_PARSING,   /* a parse thread has it */
    NODE_PARSED,    /* waiting for its turn to be prepared */
    NODE_PREPARED,  /* waiting for a parse thread to run the sink's prepare() */
    NODE_SINK_PREP, /* a parse thread runs the sink's prepare() */
    NODE_READY,     /* waiting for the stage thread */
    NODE_STAGING,   /* the stage thread has it */
    NODE_STAGED,    /* waiting for the sink worker */
};

/* Where parsing puts what it makes for one batch; kept in a pool while no batch holds it. */
struct work_area {
    struct trl_arena *arena;
    struct trl_buf json;
    struct work_area *next; /* in the pool */
};

struct batch_node {
    struct trl_batch batch; /* first member: a struct trl_batch * is a struct batch_node * */
    struct batch_node *next;
    struct trl_arena *msg_arena; /* the raw messages and their peers */
    struct work_area *work;      /* from the start of parsing until recycled, else NULL */
    const char *peer;            /* the last peer copied into msg_arena, and its length */
    size_t peer_len;
    enum node_state state;
    bool audit_flush;       /* no messages: emit the audit events the assembler holds */
    bool audit_flush_all;   /* ... all of them, complete or not (sync, stop) */
    int64_t audit_quiet_at; /* ... after those the input's silence completed (0: none) */
    uint64_t *ids;          /* event.id of each message, given at submit */
    uint32_t ids_cap;
    uint32_t *nfields_seen; /* per event: its field count when parsing encoded it */
    uint32_t nfields_cap;
    struct trl_pipeline_stats st; /* what parsing counted, added to the totals once prepared */
};

struct trl_pipeline {
    struct trl_pipeline_config cfg;
    pthread_t worker;
    pthread_t stager;
    bool stager_started;
    pthread_t *parsers;
    uint32_t nparsers;
    pthread_mutex_t mu;
    pthread_cond_t parse_work; /* a batch to parse or to sink-prepare, or stop */
    pthread_cond_t stage_work; /* a batch ready for the stage, or stop */
    pthread_cond_t has_work;   /* a staged batch at the head, or stop */
    pthread_cond_t idle;       /* the list emptied and the worker is idle */
    struct batch_node *head, *tail;
    struct batch_node *parse_next, *prep_next, *sinkprep_next, *stage_next;
    bool stager_stop;
    struct batch_node *free_list;
    struct work_area *work_pool; /* work areas no batch holds, the most recently used first */
    uint32_t areas_out;          /* work areas batches hold ... */
    uint32_t areas_max;          /* ... and how many they may hold at once */
    uint32_t queued;
    bool preparing;           /* a parse thread is preparing batches */
    bool busy;                /* the worker is processing a batch */
    bool stopping;            /* destroy(): the worker drains the list, then exits */
    bool parsers_stop;        /* the worker has exited: parse threads exit too */
    bool congestion_seen;     /* a producer saw congestion: call on_drain when it clears */
    bool sink_blocked;        /* the sink cannot write (disk full): receivers must pause */
    bool flush_requested;     /* sync(): emit audit events still waiting for their last record */
    bool flush_queued;        /* an audit flush batch is in the list */
    bool final_flushed;       /* stopping, and the last audit flush has gone through */
    uint64_t last_id;         /* the last event.id handed out */
    pthread_mutex_t audit_mu; /* guards audit (prepare, and the worker's readiness check) */
    struct trl_audit_assembler *audit;
    struct trl_pipeline_stats stats;
};

static struct batch_node *node_of(struct trl_batch *b)
{
    return (struct batch_node *)b;
}

/* Returns the batch's work area to the pool, emptied: the next batch parsed reuses its pages. */
static void work_release_locked(struct trl_pipeline *p, struct batch_node *n)
{
    struct work_area *w = n->work;
    struct trl_batch *b = &n->batch;
    if (!w)
        return;
    /* Preparing may have swapped the JSON buffer with a parse thread's scratch buffer: keep
     * whichever one the batch holds now. */
    w->json = b->json;
    trl_buf_reset(&w->json);
    trl_arena_reset(w->arena);
    w->next = p->work_pool;
    p->work_pool = w;
    n->work = NULL;
    b->json = (struct trl_buf){0};
    b->arena = n->msg_arena;
    /* A parse thread may be waiting for an area to start on the next batch. */
    p->areas_out--;
    if (p->parse_next)
        pthread_cond_signal(&p->parse_work);
}

static void work_free(struct work_area *w)
{
    trl_arena_destroy(w->arena);
    trl_buf_free(&w->json);
    free(w);
}

/* Gives n a work area for parsing: b->arena and b->json become the area's. Called without the
 * lock; w is what the caller took from the pool with it held, or NULL to make a new area. */
static void work_attach(struct batch_node *n, struct work_area *w)
{
    if (!w) {
        w = trl_xcalloc(1, sizeof(*w));
        w->arena = trl_arena_create(1 << 20);
    }
    n->work = w;
    n->batch.arena = w->arena;
    n->batch.json = w->json;
    w->json = (struct trl_buf){0};
}

static struct work_area *work_take_locked(struct trl_pipeline *p)
{
    struct work_area *w = p->work_pool;
    if (w)
        p->work_pool = w->next;
    p->areas_out++;
    return w;
}

static void batch_recycle_locked(struct trl_pipeline *p, struct trl_batch *b)
{
    struct batch_node *n = node_of(b);
    work_release_locked(p, n);
    trl_arena_reset(n->msg_arena);
    b->count = 0;
    b->nevents = 0;
    b->bytes = 0;
    b->json_count = 0;
    b->on_done = NULL;
    b->on_done_ud = NULL;
    b->before_sink = NULL;
    b->ioc_hits = NULL;
    b->sink_data = NULL;
    n->peer = NULL;
    n->peer_len = 0;
    n->audit_flush = false;
    n->audit_flush_all = false;
    n->audit_quiet_at = 0;
    memset(&n->st, 0, sizeof(n->st));
    n->next = p->free_list;
    p->free_list = n;
}

static void batch_free(struct batch_node *n)
{
    if (n->work)
        work_free(n->work);
    trl_arena_destroy(n->msg_arena);
    free(n->batch.msgs);
    free(n->batch.events);
    free(n->batch.json_end);
    trl_buf_free(&n->batch.json);
    free(n->ids);
    free(n->nfields_seen);
    free(n);
}

struct trl_batch *trl_pipeline_batch_get(struct trl_pipeline *p)
{
    pthread_mutex_lock(&p->mu);
    struct batch_node *n = p->free_list;
    if (n)
        p->free_list = n->next;
    pthread_mutex_unlock(&p->mu);
    if (n)
        return &n->batch;
    n = trl_xcalloc(1, sizeof(*n));
    struct trl_batch *b = &n->batch;
    /* A batch's messages take a few hundred KiB; a longer message gets a chunk of its own. */
    n->msg_arena = trl_arena_create(256 << 10);
    b->arena = n->msg_arena;
    b->max_msgs = p->cfg.batch_max_msgs;
    b->max_bytes = p->cfg.batch_max_bytes;
    b->cap = b->max_msgs;
    b->msgs = trl_xcalloc(b->cap, sizeof(*b->msgs));
    b->events_cap = b->cap;
    b->events = trl_xcalloc(b->events_cap, sizeof(*b->events));
    return b;
}

bool trl_batch_add(struct trl_batch *b, const char *data, size_t len, const char *peer,
                   int64_t received_ns, uint32_t flags)
{
    struct batch_node *n = node_of(b);
    if (b->count == b->cap) {
        /* Callers check trl_batch_full(); growing keeps a misbehaving caller from losing data. */
        b->cap *= 2;
        b->msgs = trl_xrealloc(b->msgs, b->cap * sizeof(*b->msgs));
    }
    struct trl_raw_msg *m = &b->msgs[b->count++];
    m->data = trl_arena_strndup(n->msg_arena, data, len);
    m->len = (uint32_t)len;
    m->flags = flags;
    m->received_ns = received_ns;
    m->peer = NULL;
    m->peer_len = 0;
    if (peer) {
        /* Messages mostly come in runs from one peer: copy its text once per run. */
        size_t plen = strlen(peer);
        if (!n->peer || plen != n->peer_len || memcmp(peer, n->peer, plen) != 0) {
            n->peer = trl_arena_strndup(n->msg_arena, peer, plen);
            n->peer_len = plen;
        }
        m->peer = n->peer;
        m->peer_len = (uint32_t)n->peer_len;
    }
    b->bytes += len;
    return trl_batch_full(b);
}

/* event.id: the receive time in ns, bumped past the previous id so ids are unique and sortable
 * by arrival even when the clock stands still or steps back. Given in submission order, with the
 * lock held, so parsing can run on several threads. */
static void assign_ids_locked(struct trl_pipeline *p, struct batch_node *n)
{
    struct trl_batch *b = &n->batch;
    if (n->ids_cap < b->count) {
        n->ids_cap = b->count;
        n->ids = trl_xrealloc(n->ids, n->ids_cap * sizeof(*n->ids));
    }
    for (uint32_t i = 0; i < b->count; i++) {
        uint64_t id = (uint64_t)b->msgs[i].received_ns;
        if (id <= p->last_id)
            id = p->last_id + 1;
        p->last_id = id;
        n->ids[i] = id;
    }
}

/* Writes the eight hex digits of v, most significant first. Every event gets an id, so the nibbles
 * are spread one per byte and turned into digits eight at a time rather than one by one. */
static void hex8(char *out, uint32_t v)
{
    uint64_t x = v;
    x = ((x & 0xFFFF0000u) << 16) | (x & 0xFFFFu);
    x = ((x & 0x0000FF000000FF00ull) << 8) | (x & 0x000000FF000000FFull);
    x = ((x & 0x00F000F000F000F0ull) << 4) | (x & 0x000F000F000F000Full);
    /* Byte k now holds nibble k. A nibble of 10 or more gets 'a' - '0' - 10 more than '0'. */
    uint64_t letters = ((x + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull;
    x += 0x3030303030303030ull + letters * (uint64_t)('a' - '0' - 10);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    x = __builtin_bswap64(x);
    memcpy(out, &x, 8);
#else
    for (int i = 7; i >= 0; i--, x >>= 8)
        out[i] = (char)(x & 0xFF);
#endif
}

static void set_id(struct trl_event *ev, uint64_t id)
{
    /* Written straight into the arena rather than copied there. */
    char *hex = trl_arena_alloc(ev->arena, 17);
    hex8(hex, (uint32_t)(id >> 32));
    hex8(hex + 8, (uint32_t)id);
    hex[16] = '\0';
    trl_event_set_ref(ev, TRL_F_EVENT_ID, hex, 16);
}

static void push_event(struct trl_batch *b, struct trl_event *ev)
{
    if (b->nevents == b->events_cap) {
        b->events_cap = b->events_cap ? b->events_cap * 2 : 64;
        b->events = trl_xrealloc(b->events, b->events_cap * sizeof(*b->events));
    }
    b->events[b->nevents++] = ev;
}

static void json_reserve(struct trl_batch *b, uint32_t n)
{
    if (b->json_cap < n) {
        b->json_cap = n;
        b->json_end = trl_xrealloc(b->json_end, b->json_cap * sizeof(*b->json_end));
    }
}

static void encode_one(struct trl_batch *b, const struct trl_event *ev, struct trl_json_cache *jc)
{
    trl_json_encode_event_cached(jc, ev, &b->json);
    trl_buf_putc(&b->json, '\n');
}

/* ---- Parse (several threads, one batch each) ---- */

/* The field list every parsed event starts with (it grows like any other when outnumbered). */
#define EVENT_FIELDS 48

/* Names the calling thread, so that top, perf and /proc/PID/task show which step it runs. */
static void name_thread(const char *name)
{
    pthread_setname_np(pthread_self(), name);
}

static void parse_batch(struct trl_pipeline *p, struct batch_node *n, struct trl_json_cache *jc)
{
    struct trl_batch *b = &n->batch;
    struct trl_pipeline_stats *st = &n->st;
    bool encode = p->cfg.encode_json;
    if (encode) {
        json_reserve(b, b->count);
        if (n->nfields_cap < b->count) {
            n->nfields_cap = b->count;
            n->nfields_seen = trl_xrealloc(n->nfields_seen, n->nfields_cap * sizeof(uint32_t));
        }
    }
    const char *last_format = NULL;
    int last_fmt = -1;
    for (uint32_t i = 0; i < b->count; i++) {
        const struct trl_raw_msg *m = &b->msgs[i];
        /* The message bytes already live (NUL-terminated) in this arena: point at them rather
         * than copying them again into event.original. */
        struct trl_event *ev = trl_event_create(b->arena, NULL, 0, m->received_ns);
        ev->original = m->data;
        ev->original_len = m->len;
        /* A parsed and normalised syslog event has 20 to 50 fields: room for them from the start
         * spares growing (and copying) the field list on the way, and the memory the outgrown
         * list would leave unused in the arena. */
        ev->fields = trl_arena_alloc(b->arena, EVENT_FIELDS * sizeof(*ev->fields));
        ev->cap = EVENT_FIELDS;
        ev->assume_year = p->cfg.assume_year;
        if (m->flags & TRL_MSG_TRUNCATED) {
            ev->flags |= TRL_EVF_TRUNCATED;
            st->truncated++;
        }
        if (m->peer)
            trl_event_set_ref(ev, TRL_F_LOG_SOURCE_ADDRESS, m->peer, m->peer_len);
        if (m->flags & TRL_MSG_AGENT_EVENT)
            trl_parse_agent_event(ev);
        else
            trl_parse_event(ev, p->cfg.format);
        set_id(ev, n->ids[i]);
        if (ev->flags & TRL_EVF_UNPARSED)
            st->unparsed++;
        /* A format is a parser's static name: look each one up once per batch. */
        if (ev->format != last_format) {
            last_format = ev->format;
            last_fmt = last_format ? trl_format_from_name(last_format) : -1;
        }
        int fmt = last_fmt;
        if (fmt >= 0)
            st->per_format[fmt]++;
        push_event(b, ev);
        if (!encode)
            continue;
        /* An audit record may yet be merged into an event with the rest of its records:
         * preparing decides and encodes what remains of it. */
        if (!trl_audit_assembler_wants(ev))
            encode_one(b, ev, jc);
        b->json_end[i] = (uint32_t)b->json.len;
        n->nfields_seen[i] = ev->nfields;
    }
    if (encode)
        b->json_count = b->count;
    st->events += b->count;
    st->bytes += b->bytes;
    st->batches += b->count > 0;
}

/* ---- Prepare (one batch at a time, in submission order) ---- */

/* Moves audit events whose records are all in (or that waited too long) into the batch. */
static void take_audit_events(struct trl_pipeline *p, struct trl_batch *b, bool flush_all)
{
    struct trl_event *done[64];
    size_t n;
    do {
        n = trl_audit_assembler_take(p->audit, b->arena, trl_now_ns(), flush_all, done,
                                     TRL_ARRAY_LEN(done));
        for (size_t i = 0; i < n; i++)
            push_event(b, done[i]);
    } while (n == TRL_ARRAY_LEN(done));
}

/* Brings the batch's JSON in line with its events after assembly and enrichment: an event that
 * parsing did not encode, or that gained fields since, is encoded; a slot emptied by the
 * assembler loses its text; events appended by the assembler are encoded after the rest. */
static void finish_json(struct batch_node *n, uint32_t parsed, struct trl_buf *scratch,
                        struct trl_json_cache *jc)
{
    struct trl_batch *b = &n->batch;
    bool stale = false;
    for (uint32_t i = 0; i < parsed && !stale; i++) {
        uint32_t start = i ? b->json_end[i - 1] : 0;
        bool has_text = b->json_end[i] > start;
        const struct trl_event *ev = b->events[i];
        stale = ev ? !has_text || ev->nfields != n->nfields_seen[i] : has_text;
    }
    if (stale) {
        trl_buf_reset(scratch);
        uint32_t start = 0; /* of event i in the old text */
        for (uint32_t i = 0; i < parsed; i++) {
            const struct trl_event *ev = b->events[i];
            uint32_t len = b->json_end[i] - start;
            start = b->json_end[i];
            if (ev && len > 0 && ev->nfields == n->nfields_seen[i]) {
                trl_buf_append(scratch, b->json.data + start - len, len);
            } else if (ev) {
                trl_json_encode_event_cached(jc, ev, scratch);
                trl_buf_putc(scratch, '\n');
            }
            b->json_end[i] = (uint32_t)scratch->len;
        }
        struct trl_buf t = b->json;
        b->json = *scratch;
        *scratch = t;
    }
    json_reserve(b, b->nevents);
    for (uint32_t i = parsed; i < b->nevents; i++) {
        if (b->events[i])
            encode_one(b, b->events[i], jc);
        b->json_end[i] = (uint32_t)b->json.len;
    }
    b->json_count = b->nevents;
}

static void prepare_batch(struct trl_pipeline *p, struct batch_node *n, struct trl_buf *scratch,
                          struct trl_json_cache *jc)
{
    struct trl_batch *b = &n->batch;
    uint32_t parsed = b->nevents;
    pthread_mutex_lock(&p->audit_mu);
    bool audit_seen = false;
    for (uint32_t i = 0; i < parsed; i++) {
        struct trl_event *ev = b->events[i];
        /* The records of one audit event (SYSCALL, EXECVE, PATH...) become one event; the
         * assembler keeps its own copy, so the record's slot stays empty. */
        if (trl_audit_assembler_wants(ev) && trl_audit_assembler_add(p->audit, ev) == 0) {
            b->events[i] = NULL;
            audit_seen = true;
        }
    }
    if (n->audit_quiet_at)
        trl_audit_assembler_complete_quiet(p->audit, n->audit_quiet_at);
    if (n->audit_flush || audit_seen || trl_audit_assembler_ready(p->audit, trl_now_ns()))
        take_audit_events(p, b, n->audit_flush_all);
    pthread_mutex_unlock(&p->audit_mu);
    if (p->cfg.enrich)
        p->cfg.enrich(p->cfg.enrich_ud, b);
    if (p->cfg.encode_json)
        finish_json(n, parsed, scratch, jc);
}

/* Records that n finished a step (its new state st), skips the steps this pipeline does not have
 * (no sink prepare(), no stage) and wakes the thread that takes n next. */
static void settle_locked(struct trl_pipeline *p, struct batch_node *n, enum node_state st)
{
    if (st == NODE_PREPARED && !p->cfg.sink->prepare)
        st = NODE_READY;
    if (st == NODE_READY && !p->cfg.stage)
        st = NODE_STAGED;
    n->state = st;
    if (st == NODE_PREPARED)
        pthread_cond_signal(&p->parse_work);
    else if (st == NODE_READY && n == p->stage_next)
        pthread_cond_signal(&p->stage_work);
    else if (st == NODE_STAGED && n == p->head)
        pthread_cond_signal(&p->has_work);
}

/* Called with the lock held by the parse thread that finished batch n; unlocks while working. */
static void prepare_ready_locked(struct trl_pipeline *p, struct trl_buf *scratch,
                                 struct trl_json_cache *jc)
{
    if (p->preparing)
        return; /* the thread preparing now will get to it */
    p->preparing = true;
    while (p->prep_next && p->prep_next->state == NODE_PARSED) {
        struct batch_node *n = p->prep_next;
        pthread_mutex_unlock(&p->mu);
        prepare_batch(p, n, scratch, jc);
        pthread_mutex_lock(&p->mu);
        p->prep_next = n->next;
        p->stats.batches += n->st.batches;
        p->stats.events += n->st.events;
        p->stats.bytes += n->st.bytes;
        p->stats.unparsed += n->st.unparsed;
        p->stats.truncated += n->st.truncated;
        for (int f = 0; f < TRL_FORMAT__COUNT; f++)
            p->stats.per_format[f] += n->st.per_format[f];
        settle_locked(p, n, NODE_PREPARED);
    }
    p->preparing = false;
}

static void *parser_main(void *arg)
{
    struct trl_pipeline *p = arg;
    struct trl_sink *sink = p->cfg.sink;
    struct trl_buf scratch = {0};
    name_thread("trl-parse");
    /* Parsing and preparing on this thread encode with the thread's own cache. */
    struct trl_json_cache *jc = trl_json_cache_create();
    void *sink_ctx =
        sink->prepare && sink->thread_ctx_create ? sink->thread_ctx_create(sink) : NULL;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        struct batch_node *n = p->sinkprep_next;
        if (n && n->state == NODE_PREPARED) {
            p->sinkprep_next = n->next;
            n->state = NODE_SINK_PREP;
            pthread_mutex_unlock(&p->mu);
            if (n->batch.nevents > 0)
                sink->prepare(sink, sink_ctx, &n->batch);
            pthread_mutex_lock(&p->mu);
            settle_locked(p, n, NODE_READY);
            continue;
        }
        /* Parsing far ahead of the sink gains nothing: a batch that waits, parsed, for its turn
         * holds a work area of several MiB that the next parsed batch would find cold or not yet
         * mapped. So parsing waits while areas_max batches hold one; the oldest of them is always
         * parsed or being parsed, so the sink keeps moving and frees one. */
        n = p->areas_out < p->areas_max ? p->parse_next : NULL;
        if (n) {
            p->parse_next = n->next;
            n->state = NODE_PARSING;
            struct work_area *w = work_take_locked(p);
            pthread_mutex_unlock(&p->mu);
            work_attach(n, w);
            parse_batch(p, n, jc);
            pthread_mutex_lock(&p->mu);
            n->state = NODE_PARSED;
            if (n == p->prep_next)
                prepare_ready_locked(p, &scratch, jc);
            continue;
        }
        if (p->parsers_stop)
            break;
        pthread_cond_wait(&p->parse_work, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    if (sink_ctx && sink->thread_ctx_destroy)
        sink->thread_ctx_destroy(sink, sink_ctx);
    trl_buf_free(&scratch);
    trl_json_cache_destroy(jc);
    return NULL;
}

/* ---- Stage (one thread, in submission order) ---- */

static void *stager_main(void *arg)
{
    struct trl_pipeline *p = arg;
    name_thread("trl-stage");
    pthread_mutex_lock(&p->mu);
    for (;;) {
        struct batch_node *n = p->stage_next;
        if (n && n->state == NODE_READY) {
            p->stage_next = n->next;
            n->state = NODE_STAGING;
            pthread_mutex_unlock(&p->mu);
            if (n->batch.nevents > 0) {
                int rc = p->cfg.stage(p->cfg.stage_ud, &n->batch);
                if (rc < 0)
                    trl_error("pipeline", "stage failed events=%u error=\"%s\"", n->batch.nevents,
                              trl_strerror(rc));
            }
            pthread_mutex_lock(&p->mu);
            settle_locked(p, n, NODE_STAGED);
            continue;
        }
        if (p->stager_stop)
            break;
        pthread_cond_wait(&p->stage_work, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- The queue ---- */

static void enqueue_locked(struct trl_pipeline *p, struct batch_node *n)
{
    n->next = NULL;
    n->state = NODE_QUEUED;
    if (p->tail)
        p->tail->next = n;
    else
        p->head = n;
    p->tail = n;
    if (!p->parse_next)
        p->parse_next = n;
    if (!p->prep_next)
        p->prep_next = n;
    /* A step the pipeline does not have never advances its pointer: leave it NULL. */
    if (!p->sinkprep_next && p->cfg.sink->prepare)
        p->sinkprep_next = n;
    if (!p->stage_next && p->cfg.stage)
        p->stage_next = n;
    p->queued++;
    pthread_cond_signal(&p->parse_work);
}

/* Queues a batch without messages that makes preparing emit the audit events the assembler
 * holds: those whose last record never came (after its timeout), those the input's silence
 * completed (quiet_at, see trl_audit_assembler_complete_quiet(); 0: none), or all of them. */
static void enqueue_audit_flush_locked(struct trl_pipeline *p, bool all, int64_t quiet_at)
{
    pthread_mutex_unlock(&p->mu);
    struct batch_node *n = node_of(trl_pipeline_batch_get(p));
    pthread_mutex_lock(&p->mu);
    n->audit_flush = true;
    n->audit_flush_all = all;
    n->audit_quiet_at = quiet_at;
    p->flush_queued = true;
    enqueue_locked(p, n);
}

/* Whether the assembler has events to emit at now; *quiet_at: when the input's silence completes
 * its pending events (INT64_MAX: none pending). */
static bool audit_ready(struct trl_pipeline *p, int64_t now, int64_t *quiet_at)
{
    pthread_mutex_lock(&p->audit_mu);
    bool ready = trl_audit_assembler_ready(p->audit, now);
    *quiet_at = trl_audit_assembler_quiet_at(p->audit);
    pthread_mutex_unlock(&p->audit_mu);
    return ready;
}

/* Waits for the next prepared batch, with the lock held. Returns NULL when the worker should
 * exit: on stop, once everything queued (and a last audit flush) has been processed. */
static struct batch_node *next_batch_locked(struct trl_pipeline *p)
{
    for (;;) {
        struct batch_node *n = p->head;
        if (n && n->state == NODE_STAGED) {
            p->head = n->next;
            if (!p->head)
                p->tail = NULL;
            p->queued--;
            if (n->audit_flush) {
                p->flush_queued = false;
                if (n->audit_flush_all) {
                    p->flush_requested = false;
                    p->final_flushed = p->stopping;
                }
            }
            if (n->batch.nevents > 0)
                return n;
            batch_recycle_locked(p, &n->batch);
            if (!p->head)
                pthread_cond_broadcast(&p->idle);
            continue;
        }
        int64_t wait_ns = TRL_NS_PER_SEC;
        if (!n) {
            if (p->final_flushed)
                return NULL;
            bool all = p->stopping || p->flush_requested;
            if (!p->flush_queued) {
                pthread_mutex_unlock(&p->mu);
                int64_t now = trl_now_ns(), quiet_at;
                bool ready = audit_ready(p, now, &quiet_at) || all;
                pthread_mutex_lock(&p->mu);
                /* Nothing queued: every record received so far was added, so a silence the
                 * assembler sees is the input's. */
                if (!p->head) {
                    bool quiet = quiet_at <= now;
                    if (ready || quiet) {
                        enqueue_audit_flush_locked(p, all || p->stopping || p->flush_requested,
                                                   quiet ? quiet_at : 0);
                        continue;
                    }
                    if (quiet_at - now < wait_ns)
                        wait_ns = quiet_at - now;
                }
            }
        }
        /* Wake up now and then: audit events whose last record never came are emitted after
         * the assembler's timeout even when no new traffic arrives, and those the input's
         * silence completes once it has lasted. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + wait_ns;
        until.tv_sec += ns / TRL_NS_PER_SEC;
        until.tv_nsec = ns % TRL_NS_PER_SEC;
        pthread_cond_timedwait(&p->has_work, &p->mu, &until);
    }
}

static void process_batch(struct trl_pipeline *p, struct trl_batch *b,
                          struct trl_pipeline_stats *st)
{
    if (b->before_sink)
        b->before_sink(b, b->on_done_ud);
    int rc = p->cfg.sink->write(p->cfg.sink, b);
    /* A full disk (or a file locked by someone else) passes: keep the batch, pause the receivers
     * through congestion, and retry with a growing delay. Nothing accepted is dropped. */
    int64_t delay_ms = 100, last_log = 0;
    while ((rc == -ENOSPC || rc == -EBUSY) && !p->stopping) {
        pthread_mutex_lock(&p->mu);
        p->sink_blocked = true;
        pthread_mutex_unlock(&p->mu);
        int64_t now = trl_mono_ns();
        if (!last_log || now - last_log >= 60 * TRL_NS_PER_SEC) {
            trl_error("pipeline",
                      "cannot store events, retrying and holding back senders "
                      "events=%u error=\"%s\"",
                      b->nevents, trl_strerror(rc));
            last_log = now;
        }
        struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        delay_ms = delay_ms * 2 > 5000 ? 5000 : delay_ms * 2;
        rc = p->cfg.sink->write(p->cfg.sink, b);
    }
    if (last_log) {
        pthread_mutex_lock(&p->mu);
        p->sink_blocked = false;
        p->congestion_seen = true; /* wake the receivers that paused */
        pthread_mutex_unlock(&p->mu);
        if (rc == 0)
            trl_info("pipeline", "storing events again");
    }
    if (rc < 0) {
        st->sink_errors++;
        trl_error("pipeline", "sink write failed events=%u error=\"%s\"", b->nevents,
                  trl_strerror(rc));
    }
    if (b->on_done)
        b->on_done(b, rc, b->on_done_ud);
}

static void *worker_main(void *arg)
{
    struct trl_pipeline *p = arg;
    name_thread("trl-sink");
    pthread_mutex_lock(&p->mu);
    struct batch_node *n;
    while ((n = next_batch_locked(p))) {
        p->busy = true;
        bool call_drain = p->congestion_seen && p->queued <= p->cfg.queue_batches / 2;
        if (call_drain)
            p->congestion_seen = false;
        pthread_mutex_unlock(&p->mu);

        if (call_drain && p->cfg.on_drain)
            p->cfg.on_drain(p->cfg.on_drain_ud);
        struct trl_pipeline_stats st = {0};
        process_batch(p, &n->batch, &st);

        pthread_mutex_lock(&p->mu);
        p->stats.sink_errors += st.sink_errors;
        batch_recycle_locked(p, &n->batch);
        p->busy = false;
        if (!p->head && !p->flush_requested) {
            /* Idle: a good moment to push buffered output to the file. */
            pthread_mutex_unlock(&p->mu);
            if (p->cfg.sink->flush)
                p->cfg.sink->flush(p->cfg.sink);
            pthread_mutex_lock(&p->mu);
            if (!p->head && !p->busy)
                pthread_cond_broadcast(&p->idle);
        }
    }
    p->busy = false;
    pthread_cond_broadcast(&p->idle);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static uint32_t default_parse_threads(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus < 1 ? 1 : cpus > 8 ? 8 : (uint32_t)cpus;
}

static void stop_stager(struct trl_pipeline *p)
{
    if (!p->stager_started)
        return;
    pthread_mutex_lock(&p->mu);
    p->stager_stop = true;
    pthread_cond_broadcast(&p->stage_work);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->stager, NULL);
    p->stager_started = false;
}

static void stop_parsers(struct trl_pipeline *p)
{
    pthread_mutex_lock(&p->mu);
    p->parsers_stop = true;
    pthread_cond_broadcast(&p->parse_work);
    pthread_mutex_unlock(&p->mu);
    for (uint32_t i = 0; i < p->nparsers; i++)
        pthread_join(p->parsers[i], NULL);
    p->nparsers = 0;
}

static void pipeline_free(struct trl_pipeline *p)
{
    struct batch_node *n = p->free_list;
    while (n) {
        struct batch_node *next = n->next;
        batch_free(n);
        n = next;
    }
    struct work_area *w = p->work_pool;
    while (w) {
        struct work_area *next = w->next;
        work_free(w);
        w = next;
    }
    free(p->parsers);
    pthread_cond_destroy(&p->idle);
    pthread_cond_destroy(&p->has_work);
    pthread_cond_destroy(&p->parse_work);
    pthread_cond_destroy(&p->stage_work);
    pthread_mutex_destroy(&p->audit_mu);
    pthread_mutex_destroy(&p->mu);
    trl_audit_assembler_destroy(p->audit);
    free(p);
}

struct trl_pipeline *trl_pipeline_create(const struct trl_pipeline_config *cfg)
{
    struct trl_pipeline *p = trl_xcalloc(1, sizeof(*p));
    p->cfg = *cfg;
    if (!p->cfg.queue_batches)
        p->cfg.queue_batches = 64;
    if (!p->cfg.batch_max_msgs)
        p->cfg.batch_max_msgs = 4096;
    if (!p->cfg.batch_max_bytes)
        p->cfg.batch_max_bytes = 4u << 20;
    if (!p->cfg.parse_threads)
        p->cfg.parse_threads = default_parse_threads();
    /* One batch being parsed per thread, and as many again parsed and waiting for their turn to be
     * prepared, staged and written, plus the two those steps work on. */
    p->areas_max = 2 * p->cfg.parse_threads + 2;
    p->audit = trl_audit_assembler_create(NULL);
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->audit_mu, NULL);
    pthread_cond_init(&p->parse_work, NULL);
    pthread_cond_init(&p->stage_work, NULL);
    pthread_cond_init(&p->has_work, NULL);
    pthread_cond_init(&p->idle, NULL);
    p->parsers = trl_xcalloc(p->cfg.parse_threads, sizeof(*p->parsers));
    for (uint32_t i = 0; i < p->cfg.parse_threads; i++) {
        int rc = pthread_create(&p->parsers[i], NULL, parser_main, p);
        if (rc != 0) {
            trl_error("pipeline", "cannot start a parse thread: %s", strerror(rc));
            goto fail;
        }
        p->nparsers++;
    }
    if (p->cfg.stage) {
        int rc = pthread_create(&p->stager, NULL, stager_main, p);
        if (rc != 0) {
            trl_error("pipeline", "cannot start the detection thread: %s", strerror(rc));
            goto fail;
        }
        p->stager_started = true;
    }
    int rc = pthread_create(&p->worker, NULL, worker_main, p);
    if (rc != 0) {
        trl_error("pipeline", "cannot start worker thread: %s", strerror(rc));
        goto fail;
    }
    return p;
fail:
    stop_stager(p);
    stop_parsers(p);
    pipeline_free(p);
    return NULL;
}

void trl_pipeline_submit(struct trl_pipeline *p, struct trl_batch *b)
{
    struct batch_node *n = node_of(b);
    pthread_mutex_lock(&p->mu);
    if (b->count == 0) {
        batch_recycle_locked(p, b);
        pthread_mutex_unlock(&p->mu);
        return;
    }
    assign_ids_locked(p, n);
    enqueue_locked(p, n);
    pthread_mutex_unlock(&p->mu);
}

bool trl_pipeline_congested(struct trl_pipeline *p)
{
    pthread_mutex_lock(&p->mu);
    bool congested = p->queued >= p->cfg.queue_batches || p->sink_blocked;
    if (congested)
        p->congestion_seen = true;
    pthread_mutex_unlock(&p->mu);
    return congested;
}

void trl_pipeline_sync(struct trl_pipeline *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->head || p->busy)
        pthread_cond_wait(&p->idle, &p->mu);
    /* Then let the worker emit the audit events still waiting for records. */
    p->flush_requested = true;
    pthread_cond_signal(&p->has_work);
    while (p->flush_requested || p->head || p->busy)
        pthread_cond_wait(&p->idle, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void trl_pipeline_get_stats(struct trl_pipeline *p, struct trl_pipeline_stats *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->stats;
    out->queued_batches = p->queued;
    pthread_mutex_unlock(&p->mu);
}

void trl_pipeline_destroy(struct trl_pipeline *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_signal(&p->has_work);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->worker, NULL);
    stop_stager(p);
    stop_parsers(p);
    if (p->cfg.sink) {
        if (p->cfg.sink->flush)
            p->cfg.sink->flush(p->cfg.sink);
        p->cfg.sink->destroy(p->cfg.sink);
    }
    pipeline_free(p);
}

#include "server/pipeline.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "formats/audit_assembler.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

/*
 * The producer parses a batch when it submits it (under prep_mu, which also guards the audit
 * assembler and event ids), then one worker thread takes batches in submission order, so events
 * from one connection keep their order all the way to the sink (which matters for correlation and
 * for the store's sequence). The queue is a linked list through struct batch_node; recycled batches
 * go to a free list so steady state allocates nothing.
 */
#include "formats/json_encode.h"
struct batch_node {
    struct trl_batch batch; /* first member: a struct trl_batch * is a struct batch_node * */
    struct batch_node *next;
};

struct trl_pipeline {
    struct trl_pipeline_config cfg;
    pthread_t worker;
    pthread_mutex_t mu;
    pthread_cond_t has_work; /* signalled on submit and on stop */
    pthread_cond_t idle;     /* signalled when the queue empties and the worker is idle */
    struct batch_node *head, *tail;
    struct batch_node *free_list;
    uint32_t queued;
    bool busy; /* the worker is processing a batch */
    bool stopping;
    bool congestion_seen;    /* a producer saw congestion: call on_drain when it clears */
    bool sink_blocked;       /* the sink cannot write (disk full): receivers must pause */
    bool flush_requested;    /* sync(): emit audit events still waiting for their last record */
    pthread_mutex_t prep_mu; /* guards last_id and audit */
    uint64_t last_id;        /* the last event.id handed out */
    struct trl_audit_assembler *audit;
    struct trl_pipeline_stats stats;
};

static struct batch_node *node_of(struct trl_batch *b)
{
    return (struct batch_node *)b;
}

static void batch_recycle_locked(struct trl_pipeline *p, struct trl_batch *b)
{
    trl_arena_reset(b->arena);
    b->count = 0;
    b->nevents = 0;
    b->bytes = 0;
    b->json_count = 0;
    trl_buf_reset(&b->json);
    b->on_done = NULL;
    b->on_done_ud = NULL;
    b->before_sink = NULL;
    b->ioc_hits = NULL;
    struct batch_node *n = node_of(b);
    n->next = p->free_list;
    p->free_list = n;
}

static void batch_free(struct batch_node *n)
{
    trl_arena_destroy(n->batch.arena);
    free(n->batch.msgs);
    free(n->batch.events);
    free(n->batch.json_end);
    trl_buf_free(&n->batch.json);
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
    b->arena = trl_arena_create(1 << 20);
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
    if (b->count == b->cap) {
        /* Callers check trl_batch_full(); growing keeps a misbehaving caller from losing data. */
        b->cap *= 2;
        b->msgs = trl_xrealloc(b->msgs, b->cap * sizeof(*b->msgs));
    }
    struct trl_raw_msg *m = &b->msgs[b->count++];
    m->data = trl_arena_strndup(b->arena, data, len);
    m->len = (uint32_t)len;
    m->flags = flags;
    m->received_ns = received_ns;
    m->peer = peer ? trl_arena_strndup(b->arena, peer, strlen(peer)) : NULL;
    b->bytes += len;
    return trl_batch_full(b);
}

/* event.id: the receive time in ns, bumped past the previous id so ids are unique and sortable
 * by arrival even when the clock stands still or steps back. 16 hex digits. */
static void assign_id(struct trl_pipeline *p, struct trl_event *ev)
{
    uint64_t id = (uint64_t)ev->received_ns;
    if (id <= p->last_id)
        id = p->last_id + 1;
    p->last_id = id;
    char hex[17];
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)id);
    trl_event_set(ev, TRL_F_EVENT_ID, hex, 16);
}

static void push_event(struct trl_batch *b, struct trl_event *ev)
{
    if (b->nevents == b->events_cap) {
        b->events_cap = b->events_cap ? b->events_cap * 2 : 64;
        b->events = trl_xrealloc(b->events, b->events_cap * sizeof(*b->events));
    }
    b->events[b->nevents++] = ev;
}

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

static void parse_batch(struct trl_pipeline *p, struct trl_batch *b, struct trl_pipeline_stats *st)
{
    bool audit_seen = false;
    for (uint32_t i = 0; i < b->count; i++) {
        const struct trl_raw_msg *m = &b->msgs[i];
        /* The message bytes already live (NUL-terminated) in this arena: point at them rather
         * than copying them again into event.original. */
        struct trl_event *ev = trl_event_create(b->arena, NULL, 0, m->received_ns);
        ev->original = m->data;
        ev->original_len = m->len;
        ev->assume_year = p->cfg.assume_year;
        if (m->flags & TRL_MSG_TRUNCATED) {
            ev->flags |= TRL_EVF_TRUNCATED;
            st->truncated++;
        }
        if (m->peer)
            trl_event_set_ref(ev, TRL_F_LOG_SOURCE_ADDRESS, m->peer, strlen(m->peer));
        if (m->flags & TRL_MSG_AGENT_EVENT)
            trl_parse_agent_event(ev);
        else
            trl_parse_event(ev, p->cfg.format);
        assign_id(p, ev);
        if (ev->flags & TRL_EVF_UNPARSED)
            st->unparsed++;
        int fmt = ev->format ? trl_format_from_name(ev->format) : -1;
        if (fmt >= 0)
            st->per_format[fmt]++;
        /* The records of one audit event (SYSCALL, EXECVE, PATH...) become one event; the
         * assembler keeps its own copy, so the record's slot stays empty. */
        if (trl_audit_assembler_wants(ev) && trl_audit_assembler_add(p->audit, ev) == 0) {
            push_event(b, NULL);
            audit_seen = true;
            continue;
        }
        push_event(b, ev);
    }
    if (audit_seen || trl_audit_assembler_ready(p->audit, trl_now_ns()))
        take_audit_events(p, b, false);
    st->events += b->count;
    st->bytes += b->bytes;
    st->batches++;
}

/* Waits for the next batch to process, with the lock held. Returns NULL when the worker should
 * exit. When nothing is queued but the audit assembler has events to emit (timed out, or a sync or
 * stop asks for everything), returns a fresh batch holding just those events. */
static void encode_batch(struct trl_batch *b)
{
    if (b->json_cap < b->nevents) {
        b->json_cap = b->nevents;
        b->json_end = trl_xrealloc(b->json_end, b->json_cap * sizeof(*b->json_end));
    }
    for (uint32_t i = 0; i < b->nevents; i++) {
        if (b->events[i]) {
            trl_json_encode_event(b->events[i], &b->json);
            trl_buf_putc(&b->json, '\n');
        }
        b->json_end[i] = (uint32_t)b->json.len;
    }
    b->json_count = b->nevents;
}

/* The producer's share of the work: parse, normalise, assemble audit events, enrich, encode. */
static void prepare_batch(struct trl_pipeline *p, struct trl_batch *b)
{
    struct trl_pipeline_stats st = {0};
    pthread_mutex_lock(&p->prep_mu);
    parse_batch(p, b, &st);
    if (p->cfg.enrich)
        p->cfg.enrich(p->cfg.enrich_ud, b);
    pthread_mutex_unlock(&p->prep_mu);
    if (p->cfg.encode_json)
        encode_batch(b);
    pthread_mutex_lock(&p->mu);
    p->stats.batches += st.batches;
    p->stats.events += st.events;
    p->stats.bytes += st.bytes;
    p->stats.unparsed += st.unparsed;
    p->stats.truncated += st.truncated;
    for (int f = 0; f < TRL_FORMAT__COUNT; f++)
        p->stats.per_format[f] += st.per_format[f];
    pthread_mutex_unlock(&p->mu);
}

static struct batch_node *next_batch_locked(struct trl_pipeline *p)
{
    for (;;) {
        if (p->head) {
            struct batch_node *n = p->head;
            p->head = n->next;
            if (!p->head)
                p->tail = NULL;
            p->queued--;
            return n;
        }
        bool flush_all = p->stopping || p->flush_requested;
        if (flush_all || trl_audit_assembler_ready(p->audit, trl_now_ns())) {
            pthread_mutex_unlock(&p->mu);
            struct trl_batch *ab = trl_pipeline_batch_get(p);
            pthread_mutex_lock(&p->prep_mu);
            take_audit_events(p, ab, flush_all);
            pthread_mutex_unlock(&p->prep_mu);
            pthread_mutex_lock(&p->mu);
            p->flush_requested = false;
            if (ab->nevents > 0)
                return node_of(ab);
            batch_recycle_locked(p, ab);
            pthread_cond_broadcast(&p->idle);
            if (p->stopping)
                return NULL;
            continue;
        }
        /* Wake up now and then: audit events whose last record never came are emitted after
         * the assembler's timeout even when no new traffic arrives. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&p->has_work, &p->mu, &until);
    }
}

static void process_batch(struct trl_pipeline *p, struct trl_batch *b,
                          struct trl_pipeline_stats *st)
{
    if (p->cfg.stage) {
        int rc = p->cfg.stage(p->cfg.stage_ud, b);
        if (rc < 0)
            trl_error("pipeline", "stage failed events=%u error=\"%s\"", b->nevents,
                      trl_strerror(rc));
    }
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
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct trl_pipeline *trl_pipeline_create(const struct trl_pipeline_config *cfg)
{
    struct trl_pipeline *p = trl_xcalloc(1, sizeof(*p));
    p->cfg = *cfg;
    if (!p->cfg.queue_batches)
        p->cfg.queue_batches = 64;
    if (!p->cfg.batch_max_msgs)
        p->cfg.batch_max_msgs = 2048;
    if (!p->cfg.batch_max_bytes)
        p->cfg.batch_max_bytes = 4u << 20;
    p->audit = trl_audit_assembler_create(NULL);
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->prep_mu, NULL);
    pthread_cond_init(&p->has_work, NULL);
    pthread_cond_init(&p->idle, NULL);
    int rc = pthread_create(&p->worker, NULL, worker_main, p);
    if (rc != 0) {
        trl_error("pipeline", "cannot start worker thread: %s", strerror(rc));
        goto fail;
    }
    return p;
fail:
    pthread_cond_destroy(&p->idle);
    pthread_cond_destroy(&p->has_work);
    pthread_mutex_destroy(&p->mu);
    trl_audit_assembler_destroy(p->audit);
    free(p);
    return NULL;
}

void trl_pipeline_submit(struct trl_pipeline *p, struct trl_batch *b)
{
    struct batch_node *n = node_of(b);
    if (b->count > 0)
        prepare_batch(p, b);
    pthread_mutex_lock(&p->mu);
    if (b->count == 0) {
        batch_recycle_locked(p, b);
        pthread_mutex_unlock(&p->mu);
        return;
    }
    n->next = NULL;
    if (p->tail)
        p->tail->next = n;
    else
        p->head = n;
    p->tail = n;
    p->queued++;
    pthread_cond_signal(&p->has_work);
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
    if (p->cfg.sink) {
        if (p->cfg.sink->flush)
            p->cfg.sink->flush(p->cfg.sink);
        p->cfg.sink->destroy(p->cfg.sink);
    }
    struct batch_node *n = p->free_list;
    while (n) {
        struct batch_node *next = n->next;
        batch_free(n);
        n = next;
    }
    pthread_cond_destroy(&p->idle);
    pthread_cond_destroy(&p->has_work);
    pthread_mutex_destroy(&p->prep_mu);
    pthread_mutex_destroy(&p->mu);
    trl_audit_assembler_destroy(p->audit);
    free(p);
}

#include "server/pipeline.h"
#include "core/log.h"
#include "core/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * One worker thread takes batches in submission order, so events from one connection keep their
 * order all the way to the sink (which matters for audit record assembly and for the store's
 * sequence). The queue is a linked list through struct batch_node; recycled batches go to a free
 * list so steady state allocates nothing.
 */
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
    bool busy;           /* the worker is processing a batch */
    bool stopping;
    bool congestion_seen; /* a producer saw congestion: call on_drain when it clears */
    uint64_t last_id;     /* worker only: the last event.id handed out */
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
    b->bytes = 0;
    b->on_done = NULL;
    b->on_done_ud = NULL;
    struct batch_node *n = node_of(b);
    n->next = p->free_list;
    p->free_list = n;
}

static void batch_free(struct batch_node *n)
{
    trl_arena_destroy(n->batch.arena);
    free(n->batch.msgs);
    free(n->batch.events);
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
    b->events = trl_xcalloc(b->cap, sizeof(*b->events));
    return b;
}

bool trl_batch_add(struct trl_batch *b, const char *data, size_t len, const char *peer,
                   int64_t received_ns, uint32_t flags)
{
    if (b->count == b->cap) {
        /* Callers check trl_batch_full(); growing keeps a misbehaving caller from losing data. */
        b->cap *= 2;
        b->msgs = trl_xrealloc(b->msgs, b->cap * sizeof(*b->msgs));
        b->events = trl_xrealloc(b->events, b->cap * sizeof(*b->events));
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

static void parse_batch(struct trl_pipeline *p, struct trl_batch *b, struct trl_pipeline_stats *st)
{
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
        trl_parse_event(ev, p->cfg.format);
        assign_id(p, ev);
        if (ev->flags & TRL_EVF_UNPARSED)
            st->unparsed++;
        int fmt = ev->format ? trl_format_from_name(ev->format) : -1;
        if (fmt >= 0)
            st->per_format[fmt]++;
        b->events[i] = ev;
    }
    st->events += b->count;
    st->bytes += b->bytes;
    st->batches++;
}

static void *worker_main(void *arg)
{
    struct trl_pipeline *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->has_work, &p->mu);
        if (!p->head)
            break; /* stopping and drained */
        struct batch_node *n = p->head;
        p->head = n->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        p->busy = true;
        bool call_drain = p->congestion_seen && p->queued <= p->cfg.queue_batches / 2;
        if (call_drain)
            p->congestion_seen = false;
        pthread_mutex_unlock(&p->mu);

        if (call_drain && p->cfg.on_drain)
            p->cfg.on_drain(p->cfg.on_drain_ud);
        struct trl_batch *b = &n->batch;
        struct trl_pipeline_stats st = {0};
        parse_batch(p, b, &st);
        if (p->cfg.stage) {
            int src = p->cfg.stage(p->cfg.stage_ud, b);
            if (src < 0)
                trl_error("pipeline", "stage failed events=%u error=\"%s\"", b->count,
                          trl_strerror(src));
        }
        int rc = p->cfg.sink->write(p->cfg.sink, b);
        if (rc < 0) {
            st.sink_errors++;
            trl_error("pipeline", "sink write failed events=%u error=\"%s\"", b->count,
                      trl_strerror(rc));
        }
        if (b->on_done)
            b->on_done(b, rc, b->on_done_ud);

        pthread_mutex_lock(&p->mu);
        p->stats.batches += st.batches;
        p->stats.events += st.events;
        p->stats.bytes += st.bytes;
        p->stats.unparsed += st.unparsed;
        p->stats.truncated += st.truncated;
        p->stats.sink_errors += st.sink_errors;
        for (int f = 0; f < TRL_FORMAT__COUNT; f++)
            p->stats.per_format[f] += st.per_format[f];
        batch_recycle_locked(p, b);
        p->busy = false;
        if (!p->head) {
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
    pthread_mutex_init(&p->mu, NULL);
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
    free(p);
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
    bool congested = p->queued >= p->cfg.queue_batches;
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
    pthread_mutex_destroy(&p->mu);
    free(p);
}

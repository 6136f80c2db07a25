/*
 * agent_listener: TLS connections from agents, BATCH frames into the pipeline, ACK after commit
 * (see agent_listener.h).
 */
#include "server/agent_listener.h"

#include "agent/proto.h"
#include "agent/tlsio.h"
#include "core/config.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "server/action_queue.h"
#include "server/agent_registry.h"
#include "server/enroll.h"
#include "store/query.h"
#include "store/store_read.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define COMP       "agents"
#define READ_CHUNK 65536
/* How long a connection may take to finish its TLS handshake and send HELLO. */
#define HELLO_TIMEOUT_MS 10000
/* The longest the input buffer of one connection may grow before frames are consumed. */
#define MAX_PENDING_INPUT (TRL_PROTO_MAX_FRAME + 2 * READ_CHUNK)

/* What the listener knows of one agent: its committed and submitted positions. Lives on the loop
 * thread until the listener stops; batches in the pipeline point to it. */
struct agent_state {
    char id[TRL_PROTO_MAX_STR + 1];
    uint64_t committed; /* highest seq the store committed */
    uint64_t submitted; /* highest seq handed to the pipeline (or committed) */
    /* Above committed: seqs the store holds already (found after a crash, see recover_pending),
     * sorted; a resend of them is dropped. */
    uint64_t *stored;
    size_t nstored;
    bool recovered; /* recover_pending() ran */
    struct agent_state *next;
};

struct conn {
    uv_tcp_t tcp;
    struct trl_agent_listener *l;
    struct trl_tlsio *tls;
    struct trl_proto_reader rd;
    struct agent_state *agent; /* set by HELLO */
    uint16_t proto;            /* the protocol version the agent said in HELLO */
    char peer[64];
    uint64_t opened_ms;
    uint64_t last_frame_ms;
    uint64_t frames;
    uint64_t events;
    uint64_t dups;
    /* Events of the BATCH frames read in this turn of the loop and not yet handed to the
     * pipeline: frames that arrive together reach the store as one batch (fewer, larger commits).
     * Handed over when full, when the connection fails, and at the latest by on_check() once the
     * loop has read everything that was waiting. */
    struct trl_batch *pending;
    uint64_t pending_first, pending_last;
    bool closing;
    bool reading;
    struct conn *prev, *next;
};

/* Carried by each pipeline batch through on_done. */
struct batch_tag {
    struct trl_agent_listener *l;
    struct agent_state *agent;
    uint64_t first_seq, last_seq;
};

/* A completed batch, queued from the worker thread to the loop. */
struct done_msg {
    struct agent_state *agent;
    uint64_t seq;
    int status;
    struct done_msg *next;
};

struct trl_agent_listener {
    struct trl_listener_counters *counters; /* GET /metrics; NULL: not counted */
    uv_loop_t loop;
    uv_tcp_t server;
    uv_async_t done_async;
    uv_async_t stop_async;
    uv_async_t action_async;
    uv_timer_t tick;
    uv_check_t check; /* after each turn's reads: hand the gathered events to the pipeline */
    pthread_t thread;
    bool thread_started;
    SSL_CTX *ssl_ctx;
    struct trl_agent_registry *reg;
    struct trl_pipeline *p;
    char *data_dir;
    char address[80];
    uint32_t max_conns;
    uint64_t idle_ms;
    struct trl_enroll_ctx enroll;

    struct conn *conns;
    uint32_t nconns;
    struct agent_state *agents;
    bool paused; /* the pipeline is congested: every connection stopped reading */

    struct trl_proto_zctx *zctx; /* decompression state, kept across batches */
    struct trl_buf raw;          /* decompressed batch */
    struct trl_buf line;         /* one event with the agent fields added */
    char plain[READ_CHUNK];

    /* guards done_head/done_tail, stopping, actions and next_action_id (other threads vs the
     * loop) */
    pthread_mutex_t mu;
    struct done_msg *done_head, *done_tail;
    bool stopping;
    struct trl_action_queue *actions;
    uint64_t next_action_id;
    void (*on_action_expired)(void *ud, const char *agent_id, const char *json, size_t len);
    void *action_ud;
};

static void conn_close(struct conn *c, const char *why);

static bool valid_agent_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 128)
        return false;
    for (const char *p = id; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.'))
            return false;
    }
    return true;
}

static struct agent_state *agent_get(struct trl_agent_listener *l, const char *id)
{
    for (struct agent_state *a = l->agents; a; a = a->next)
        if (!strcmp(a->id, id))
            return a;
    struct agent_state *a = trl_xcalloc(1, sizeof(*a));
    snprintf(a->id, sizeof(a->id), "%s", id);
    a->next = l->agents;
    l->agents = a;
    return a;
}

/* ---- output -----------------------------------------------------------------------------------
 */

/* Sends whatever TLS produced (handshake, records of frames written, alerts). */
static void conn_flush(struct conn *c)
{
    if (c->closing && uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    trl_tlsio_flush(c->tls, (uv_stream_t *)&c->tcp);
}

static void conn_send(struct conn *c, const struct trl_buf *frame)
{
    if (trl_tlsio_write(c->tls, frame->data, frame->len) == 0)
        conn_flush(c);
}

static void send_ack(struct conn *c, uint64_t seq)
{
    struct trl_buf f = {0};
    trl_proto_put_ack(&f, seq);
    conn_send(c, &f);
    trl_buf_free(&f);
}

/* Sends ERROR and closes the connection. */
static void conn_fail(struct conn *c, uint16_t code, const char *reason)
{
    struct trl_buf f = {0};
    trl_proto_put_error(&f, code, reason);
    conn_send(c, &f);
    trl_buf_free(&f);
    conn_close(c, reason);
}

/* ---- pipeline completion ----------------------------------------------------------------------
 */

/* Worker thread: record the commit durably, then tell the loop. */
static void on_batch_done(struct trl_batch *b, int status, void *ud)
{
    (void)b;
    struct batch_tag *t = ud;
    struct trl_agent_listener *l = t->l;
    if (status == 0 && t->last_seq) {
        int rc = trl_agent_registry_commit_seq(l->reg, t->agent->id, t->last_seq);
        if (rc < 0)
            trl_error(COMP, "cannot record delivery agent=%s seq=%llu error=\"%s\"", t->agent->id,
                      (unsigned long long)t->last_seq, trl_strerror(rc));
    }
    struct done_msg *m = trl_xcalloc(1, sizeof(*m));
    m->agent = t->agent;
    m->seq = t->last_seq;
    m->status = status;
    pthread_mutex_lock(&l->mu);
    bool stopping = l->stopping;
    if (!stopping) {
        if (l->done_tail)
            l->done_tail->next = m;
        else
            l->done_head = m;
        l->done_tail = m;
    }
    pthread_mutex_unlock(&l->mu);
    if (stopping)
        free(m);
    else
        uv_async_send(&l->done_async);
    free(t);
}

static void flush_pending(struct conn *c);

static void on_done_async(uv_async_t *a)
{
    struct trl_agent_listener *l = a->data;
    /* Events gathered in this turn count as submitted: hand them over before a failure below
     * resets what was submitted. */
    for (struct conn *c = l->conns; c; c = c->next)
        flush_pending(c);
    pthread_mutex_lock(&l->mu);
    struct done_msg *m = l->done_head;
    l->done_head = l->done_tail = NULL;
    pthread_mutex_unlock(&l->mu);
    while (m) {
        struct done_msg *next = m->next;
        struct agent_state *ag = m->agent;
        if (m->status == 0) {
            if (m->seq > ag->committed)
                ag->committed = m->seq;
            for (struct conn *c = l->conns; c; c = c->next)
                if (c->agent == ag && !c->closing)
                    send_ack(c, ag->committed);
        } else {
            /* The store refused the events: forget they were sent, and make the agent resend
             * them by dropping its connections. */
            ag->submitted = ag->committed;
            struct conn *c = l->conns;
            while (c) {
                struct conn *cn = c->next;
                if (c->agent == ag && !c->closing)
                    conn_fail(c, TRL_PROTO_ERR_BUSY, "store write failed");
                c = cn;
            }
        }
        free(m);
        m = next;
    }
}

/* ---- actions ----------------------------------------------------------------------------------
 */

static void action_send(void *ud, const struct trl_queued_action *a)
{
    struct conn *c = ud;
    struct trl_buf f = {0};
    if (trl_proto_put_action(&f, a->id, a->json, a->len) == 0) {
        conn_send(c, &f);
        trl_info(COMP, "action sent agent=%s id=%llu request=%s", a->agent_id,
                 (unsigned long long)a->id, a->json);
    }
    trl_buf_free(&f);
}

/* Expired actions, collected under the mutex and reported after it is released (reporting
 * feeds the pipeline, whose worker may be waiting for the mutex to queue another action). Each
 * entry is "AGENT_ID\0JSON\0". */
static void action_expired(void *ud, const struct trl_queued_action *a)
{
    struct trl_buf *expired = ud;
    trl_warn(COMP, "action expired before its agent connected agent=%s id=%llu request=%s",
             a->agent_id, (unsigned long long)a->id, a->json);
    trl_buf_append(expired, a->agent_id, strlen(a->agent_id) + 1);
    trl_buf_append(expired, a->json, a->len);
    trl_buf_putc(expired, '\0');
}

/* Drops the expired actions and records each. */
static void expire_actions(struct trl_agent_listener *l)
{
    struct trl_buf expired = {0};
    pthread_mutex_lock(&l->mu);
    trl_action_queue_expire(l->actions, trl_now_ns(), action_expired, &expired);
    pthread_mutex_unlock(&l->mu);
    for (size_t off = 0; off < expired.len && l->on_action_expired;) {
        const char *agent = expired.data + off;
        const char *json = agent + strlen(agent) + 1;
        size_t jlen = strlen(json);
        l->on_action_expired(l->action_ud, agent, json, jlen);
        off = (size_t)(json - expired.data) + jlen + 1;
    }
    trl_buf_free(&expired);
}

/* Sends the actions waiting for the connection's agent, if it speaks a version with ACTION. */
static void deliver_actions(struct conn *c)
{
    if (c->closing || !c->agent || c->proto < TRL_PROTO_VERSION_ACTIONS)
        return;
    struct trl_agent_listener *l = c->l;
    expire_actions(l);
    pthread_mutex_lock(&l->mu);
    trl_action_queue_take(l->actions, c->agent->id, trl_now_ns(), action_send, NULL, c);
    pthread_mutex_unlock(&l->mu);
}

static void on_action_async(uv_async_t *a)
{
    struct trl_agent_listener *l = a->data;
    for (struct conn *c = l->conns; c; c = c->next)
        deliver_actions(c);
}

int trl_agent_listener_action(struct trl_agent_listener *l, const char *agent_id, const char *json,
                              size_t len, int64_t expires_ns)
{
    if (!l || !agent_id || !valid_agent_id(agent_id))
        return TRL_EINVAL;
    pthread_mutex_lock(&l->mu);
    int rc = TRL_EINVAL;
    if (!l->stopping) {
        rc = trl_action_queue_push(l->actions, agent_id, l->next_action_id + 1, json, len,
                                   expires_ns);
        if (rc == 0) {
            l->next_action_id++;
            /* Under the lock: the handle is closed only after stopping is set. */
            uv_async_send(&l->action_async);
        }
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

static int handle_action_result(struct conn *c, const struct trl_proto_frame *f)
{
    struct trl_proto_action_result r;
    if (trl_proto_parse_action_result(f, &r) != 0) {
        conn_fail(c, TRL_PROTO_ERR_MALFORMED, "malformed ACTION_RESULT");
        return -1;
    }
    /* What the agent says goes into the log: no control characters. */
    for (char *p = r.action; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '"')
            *p = '?';
    for (char *p = r.reason; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '"')
            *p = '?';
    static const char *const outcomes[] = {"success", "failure", "refused"};
    if (r.outcome == TRL_PROTO_OUTCOME_SUCCESS)
        trl_info(COMP, "action done agent=%s id=%llu action=%s", c->agent->id,
                 (unsigned long long)r.id, r.action);
    else
        trl_warn(COMP, "action not done agent=%s id=%llu action=%s outcome=%s reason=\"%s\"",
                 c->agent->id, (unsigned long long)r.id, r.action, outcomes[r.outcome], r.reason);
    return 0;
}

/* ---- frames -----------------------------------------------------------------------------------
 */

/* Worker thread, before the store takes the batch: what is about to be committed, so that a crash
 * between the store's commit and commit_seq does not store these events twice on resend. */
static void before_commit(struct trl_batch *b, void *ud)
{
    struct batch_tag *t = ud;
    struct trl_agent_pending p = {t->first_seq, t->last_seq, INT64_MAX, INT64_MIN};
    for (uint32_t i = 0; i < b->nevents; i++) {
        const struct trl_event *ev = b->events[i];
        if (!ev)
            continue;
        int64_t ts = ev->timestamp_ns ? ev->timestamp_ns : ev->received_ns;
        p.from_ns = TRL_MIN(p.from_ns, ts);
        p.to_ns = TRL_MAX(p.to_ns, ts);
    }
    if (p.from_ns <= p.to_ns && trl_agent_registry_set_pending(t->l->reg, t->agent->id, &p) != 0)
        trl_error(COMP, "cannot record the batch being stored agent=%s seq=%llu", t->agent->id,
                  (unsigned long long)t->last_seq);
}

static void submit(struct trl_agent_listener *l, struct trl_batch *b, struct agent_state *a,
                   uint64_t first_seq, uint64_t last_seq)
{
    struct batch_tag *t = trl_xcalloc(1, sizeof(*t));
    t->l = l;
    t->agent = a;
    t->first_seq = first_seq;
    t->last_seq = last_seq;
    b->on_done = on_batch_done;
    b->on_done_ud = t;
    b->before_sink = before_commit;
    trl_pipeline_submit(l->p, b);
}

/* The event line with agent.id / agent.name / agent.type from the certificate and the event's
 * sequence number (event.sequence) appended as the object's last members (JSON readers keep the
 * last of duplicate keys, so what the agent may have claimed is overridden). Lines that are not an
 * object are passed on unchanged. */
static void with_agent_fields(struct trl_agent_listener *l, const char *id, uint64_t seq,
                              const char *p, size_t n)
{
    struct trl_buf *o = &l->line;
    trl_buf_reset(o);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\r' || p[n - 1] == '\t'))
        n--;
    if (n < 2 || p[0] != '{' || p[n - 1] != '}') {
        trl_buf_append(o, p, n);
        return;
    }
    bool empty = true;
    for (size_t i = 1; i + 1 < n && empty; i++)
        empty = p[i] == ' ' || p[i] == '\t';
    /* By hand rather than with printf: this runs for every event of every batch. The id is
     * plain ASCII (valid_agent_id), so it needs no escaping. */
    size_t id_len = strlen(id);
    char digits[20], *d = digits + sizeof(digits);
    do {
        *--d = (char)('0' + seq % 10);
        seq /= 10;
    } while (seq);
    trl_buf_append(o, p, n - 1);
    if (!empty)
        trl_buf_putc(o, ',');
    trl_buf_append(o, "\"agent\":{\"id\":\"", 15);
    trl_buf_append(o, id, id_len);
    trl_buf_append(o, "\",\"name\":\"", 10);
    trl_buf_append(o, id, id_len);
    trl_buf_append(o, "\",\"type\":\"trapline\"},\"event.sequence\":", 38);
    trl_buf_append(o, d, (size_t)(digits + sizeof(digits) - d));
    trl_buf_putc(o, '}');
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static bool already_stored(const struct agent_state *a, uint64_t seq)
{
    return a->nstored && bsearch(&seq, a->stored, a->nstored, sizeof(seq), cmp_u64);
}

struct found {
    uint64_t lo, hi; /* the sequence numbers looked for */
    uint64_t *seqs;
    size_t n, cap;
};

/* One stored event of the agent in the pending batch's time range: its event.sequence. */
static int found_event(void *ud, int64_t ts, const char *json, size_t len)
{
    (void)ts;
    struct found *f = ud;
    struct json_tokener *tok = json_tokener_new();
    struct json_object *o = tok ? json_tokener_parse_ex(tok, json, (int)len) : NULL;
    struct json_object *ev, *seq;
    if (o && json_object_object_get_ex(o, "event", &ev) &&
        json_object_object_get_ex(ev, "sequence", &seq)) {
        uint64_t s = (uint64_t)json_object_get_int64(seq);
        if (s >= f->lo && s <= f->hi) {
            if (f->n == f->cap) {
                f->cap = f->cap ? f->cap * 2 : 256;
                f->seqs = trl_xrealloc(f->seqs, f->cap * sizeof(*f->seqs));
            }
            f->seqs[f->n++] = s;
        }
    }
    json_object_put(o);
    json_tokener_free(tok);
    return 0;
}

/* After a crash the store may hold the last batch handed to it although commit_seq was not
 * recorded: look for those events (only in that batch's time range) and treat them as committed,
 * so the agent's resend does not store them twice. Runs once per agent, at its first HELLO. */
static void recover_pending(struct trl_agent_listener *l, struct agent_state *a)
{
    struct trl_agent_pending p;
    if (trl_agent_registry_pending(l->reg, a->id, &p) != 0 || p.last_seq <= a->committed)
        return;
    struct found f = {.lo = TRL_MAX(a->committed + 1, p.first_seq), .hi = p.last_seq};
    char text[TRL_PROTO_MAX_STR + 16];
    snprintf(text, sizeof(text), "agent.id:\"%s\"", a->id);
    struct trl_store_reader *r = NULL;
    struct trl_query *q = NULL;
    struct trl_store_search_opts o = {p.from_ns, p.to_ns + 1, 0};
    int rc = trl_store_reader_open(l->data_dir, &r);
    if (rc == 0)
        rc = trl_query_parse(text, strlen(text), &q, NULL);
    if (rc == 0)
        rc = trl_store_search(r, q, &o, found_event, &f, NULL);
    trl_query_free(q);
    trl_store_reader_close(r);
    if (rc != 0 && rc != -ENOENT) {
        trl_warn(COMP, "cannot check the store for a batch cut short agent=%s error=\"%s\"", a->id,
                 trl_strerror(rc));
        free(f.seqs);
        return;
    }
    if (f.n)
        qsort(f.seqs, f.n, sizeof(*f.seqs), cmp_u64);
    size_t k = 0;
    while (k < f.n && f.seqs[k] <= a->committed + 1) {
        a->committed = TRL_MAX(a->committed, f.seqs[k]);
        k++;
    }
    free(a->stored);
    a->stored = f.seqs;
    a->nstored = f.n;
    if (f.n) {
        trl_agent_registry_commit_seq(l->reg, a->id, a->committed);
        trl_info(COMP,
                 "batch cut short by a stop found in the store agent=%s seqs=%llu..%llu "
                 "stored=%zu committed=%llu",
                 a->id, (unsigned long long)f.lo, (unsigned long long)f.hi, f.n,
                 (unsigned long long)a->committed);
    }
}

/* Hands the events gathered from this turn's BATCH frames to the pipeline. */
static void flush_pending(struct conn *c)
{
    if (!c->pending)
        return;
    submit(c->l, c->pending, c->agent, c->pending_first, c->pending_last);
    c->pending = NULL;
}

static int handle_batch(struct conn *c, const struct trl_proto_frame *f)
{
    struct trl_agent_listener *l = c->l;
    struct agent_state *a = c->agent;
    struct trl_proto_batch pb;
    if (trl_proto_parse_batch(f, &pb) != 0 ||
        trl_proto_batch_decompress_z(l->zctx, &pb, &l->raw) != 0) {
        conn_fail(c, TRL_PROTO_ERR_MALFORMED, "malformed batch");
        return -1;
    }
    uint64_t last = pb.first_seq + pb.count - 1;
    int64_t now = trl_now_ns();
    uint64_t added_seq = 0;
    const char *p = l->raw.data, *end = l->raw.data + l->raw.len;
    for (uint64_t seq = pb.first_seq; p < end; seq++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)(nl - p);
        if (seq <= a->submitted || already_stored(a, seq)) {
            c->dups++;
        } else {
            if (!c->pending) {
                c->pending = trl_pipeline_batch_get(l->p);
                c->pending_first = seq;
            }
            with_agent_fields(l, a->id, seq, p, n);
            added_seq = seq;
            c->pending_last = seq;
            c->events++;
            if (l->counters)
                atomic_fetch_add_explicit(&l->counters->msgs, 1, memory_order_relaxed);
            if (trl_batch_add(c->pending, l->line.data, l->line.len, c->peer, now,
                              TRL_MSG_AGENT_EVENT))
                flush_pending(c);
        }
        p = nl + 1;
    }
    if (last > a->submitted)
        a->submitted = last;
    /* Nothing new: everything was sent before. Acknowledge now if it is already committed;
     * otherwise the commit in flight will. */
    if (!added_seq && last <= a->committed)
        send_ack(c, a->committed);
    return 0;
}

static void apply_health(struct conn *c, const struct trl_proto_hello *h,
                         const struct trl_proto_heartbeat *hb)
{
    struct trl_agent_health health = {0};
    if (h) {
        health.version = h->version;
        health.hostname = h->hostname;
    }
    if (hb) {
        health.events_total = hb->sent;
        health.events_per_sec = hb->events_per_sec;
        health.spool_depth = hb->spooled;
        health.dropped = hb->dropped;
    }
    int rc = trl_agent_registry_seen(c->l->reg, c->agent->id, &health);
    if (rc < 0 && rc != -ENOENT)
        trl_warn(COMP, "cannot update agent record agent=%s error=\"%s\"", c->agent->id,
                 trl_strerror(rc));
}

static int handle_hello(struct conn *c, const struct trl_proto_frame *f)
{
    struct trl_agent_listener *l = c->l;
    struct trl_proto_hello h;
    if (trl_proto_parse_hello(f, &h) != 0) {
        conn_fail(c, TRL_PROTO_ERR_MALFORMED, "malformed HELLO");
        return -1;
    }
    const char *cn = trl_tlsio_peer_cn(c->tls);
    if (!cn) {
        conn_fail(c, TRL_PROTO_ERR_NOT_ALLOWED, "a client certificate is required");
        return -1;
    }
    if (!valid_agent_id(cn)) {
        conn_fail(c, TRL_PROTO_ERR_NOT_ALLOWED, "invalid agent id in certificate");
        return -1;
    }
    if (trl_agent_registry_is_revoked(l->reg, cn)) {
        trl_warn(COMP, "refused agent=%s peer=%s reason=\"revoked or not enrolled\"", cn, c->peer);
        conn_fail(c, TRL_PROTO_ERR_REVOKED, "agent revoked or not enrolled");
        return -1;
    }
    struct agent_state *a = agent_get(l, cn);
    uint64_t stored = 0;
    if (trl_agent_registry_last_seq(l->reg, cn, &stored) == 0 && stored > a->committed)
        a->committed = stored;
    if (!a->recovered) {
        a->recovered = true;
        recover_pending(l, a);
    }
    if (a->committed > a->submitted)
        a->submitted = a->committed;
    c->agent = a;
    c->proto = h.proto;
    apply_health(c, &h, NULL);
    trl_info(COMP,
             "agent connected agent=%s peer=%s version=\"%s\" host=\"%s\" agent_acked=%llu "
             "committed=%llu",
             cn, c->peer, h.version, h.hostname, (unsigned long long)h.last_ack,
             (unsigned long long)a->committed);
    send_ack(c, a->committed);
    deliver_actions(c);
    return 0;
}

static int handle_enroll(struct conn *c, const struct trl_proto_frame *f)
{
    struct trl_agent_listener *l = c->l;
    const char *json;
    size_t len;
    if (trl_proto_parse_json(f, &json, &len) != 0) {
        conn_fail(c, TRL_PROTO_ERR_MALFORMED, "malformed ENROLL_REQ");
        return -1;
    }
    struct trl_buf resp = {0};
    int rc = trl_enroll_listener_fn(&l->enroll, c->peer, json, len, &resp);
    struct trl_buf frame = {0};
    if (rc == 0 && trl_proto_put_json(&frame, TRL_PROTO_ENROLL_RESP, resp.data, resp.len) == 0) {
        conn_send(c, &frame);
    } else {
        trl_buf_putc(&resp, '\0');
        trl_proto_put_error(&frame, TRL_PROTO_ERR_ENROLL,
                            rc != 0 && resp.data[0] ? resp.data : "enrollment refused");
        conn_send(c, &frame);
        rc = -1;
    }
    trl_buf_free(&frame);
    trl_buf_free(&resp);
    return rc == 0 ? 0 : -1;
}

/* Returns 0 to go on, -1 when the connection was closed. */
static int handle_frame(struct conn *c, const struct trl_proto_frame *f)
{
    c->frames++;
    c->last_frame_ms = uv_now(&c->l->loop);
    switch (f->type) {
    case TRL_PROTO_HELLO:
        if (c->agent) {
            conn_fail(c, TRL_PROTO_ERR_NOT_ALLOWED, "second HELLO");
            return -1;
        }
        return handle_hello(c, f);
    case TRL_PROTO_ENROLL_REQ:
        return handle_enroll(c, f);
    case TRL_PROTO_BATCH:
    case TRL_PROTO_HEARTBEAT:
    case TRL_PROTO_ACTION_RESULT:
        if (!c->agent) {
            conn_fail(c, TRL_PROTO_ERR_NOT_ALLOWED, "HELLO with a client certificate first");
            return -1;
        }
        if (f->type == TRL_PROTO_BATCH)
            return handle_batch(c, f);
        if (f->type == TRL_PROTO_ACTION_RESULT)
            return handle_action_result(c, f);
        struct trl_proto_heartbeat hb;
        if (trl_proto_parse_heartbeat(f, &hb) != 0) {
            conn_fail(c, TRL_PROTO_ERR_MALFORMED, "malformed HEARTBEAT");
            return -1;
        }
        apply_health(c, NULL, &hb);
        return 0;
    case TRL_PROTO_ERROR: {
        struct trl_proto_error e;
        if (trl_proto_parse_error(f, &e) == 0)
            trl_warn(COMP, "agent reported an error peer=%s code=%u reason=\"%s\"", c->peer, e.code,
                     e.reason);
        conn_close(c, "agent sent ERROR");
        return -1;
    }
    default:
        conn_fail(c, TRL_PROTO_ERR_NOT_ALLOWED, "frame type not accepted by the server");
        return -1;
    }
}

/* ---- connections ------------------------------------------------------------------------------
 */

static void on_conn_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    struct trl_agent_listener *l = c->l;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    l->nconns--;
    if (l->counters)
        atomic_fetch_sub_explicit(&l->counters->conns, 1, memory_order_relaxed);
    flush_pending(c);
    trl_tlsio_destroy(c->tls);
    trl_proto_reader_free(&c->rd);
    free(c);
}

static void conn_close(struct conn *c, const char *why)
{
    if (c->closing)
        return;
    c->closing = true;
    if (why)
        trl_info(COMP,
                 "connection closed peer=%s agent=%s frames=%llu events=%llu duplicates=%llu "
                 "reason=\"%s\"",
                 c->peer, c->agent ? c->agent->id : "-", (unsigned long long)c->frames,
                 (unsigned long long)c->events, (unsigned long long)c->dups, why);
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    (void)h;
    static __thread char scratch[READ_CHUNK];
    *buf = uv_buf_init(scratch, sizeof(scratch));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    struct trl_agent_listener *l = c->l;
    if (nread < 0) {
        conn_close(c, nread == UV_EOF ? "agent disconnected" : uv_strerror((int)nread));
        return;
    }
    if (nread == 0 || c->closing)
        return;
    if (l->counters)
        atomic_fetch_add_explicit(&l->counters->bytes, (uint64_t)nread, memory_order_relaxed);
    trl_tlsio_feed(c->tls, buf->base, (size_t)nread);
    for (;;) {
        int n = trl_tlsio_read(c->tls, l->plain, sizeof(l->plain));
        if (n == 0)
            break;
        if (n < 0) {
            flush_pending(c);
            conn_flush(c);
            if (n == -1) {
                conn_close(c, "agent closed TLS");
            } else {
                char why[300];
                snprintf(why, sizeof(why), "TLS: %s", trl_tlsio_error(c->tls));
                conn_close(c, why);
            }
            return;
        }
        trl_proto_reader_feed(&c->rd, l->plain, (size_t)n);
        struct trl_proto_frame f;
        int r;
        while ((r = trl_proto_reader_next(&c->rd, &f)) == 1) {
            if (handle_frame(c, &f) != 0) {
                flush_pending(c);
                return;
            }
        }
        if (r < 0) {
            flush_pending(c);
            conn_fail(c, r == TRL_ETRUNC ? TRL_PROTO_ERR_TOO_LARGE : TRL_PROTO_ERR_MALFORMED,
                      r == TRL_ETRUNC ? "frame too large" : "malformed frame");
            return;
        }
        if (trl_proto_reader_pending(&c->rd) > MAX_PENDING_INPUT) {
            flush_pending(c);
            conn_fail(c, TRL_PROTO_ERR_TOO_LARGE, "frame too large");
            return;
        }
    }
    conn_flush(c);
    if (!l->paused && trl_pipeline_congested(l->p)) {
        l->paused = true;
        for (struct conn *x = l->conns; x; x = x->next)
            if (!x->closing && x->reading) {
                uv_read_stop((uv_stream_t *)&x->tcp);
                x->reading = false;
            }
    }
}

static void conn_start_reading(struct conn *c)
{
    if (!c->closing && !c->reading && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = true;
}

/* Runs right after the loop's reads: whatever the connections gathered goes to the pipeline now,
 * before the loop waits for more. */
static void on_check(uv_check_t *h)
{
    struct trl_agent_listener *l = h->data;
    for (struct conn *c = l->conns; c; c = c->next)
        flush_pending(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct trl_agent_listener *l = server->data;
    if (status < 0) {
        trl_warn(COMP, "accept failed error=\"%s\"", uv_strerror(status));
        return;
    }
    struct conn *c = trl_xcalloc(1, sizeof(*c));
    c->l = l;
    uv_tcp_init(&l->loop, &c->tcp);
    c->tcp.data = c;
    c->next = l->conns;
    if (l->conns)
        l->conns->prev = c;
    l->conns = c;
    l->nconns++;
    if (l->counters)
        atomic_fetch_add_explicit(&l->counters->conns, 1, memory_order_relaxed);
    trl_proto_reader_init(&c->rd);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c, NULL);
        return;
    }
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    snprintf(c->peer, sizeof(c->peer), "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
        char ip[INET6_ADDRSTRLEN] = "";
        int port = 0;
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
            snprintf(c->peer, sizeof(c->peer), "[%s]:%d", ip, port);
        } else {
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
            snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, port);
        }
    }
    if (l->nconns > l->max_conns) {
        trl_warn(COMP, "refused connection peer=%s reason=\"too many connections\"", c->peer);
        conn_close(c, NULL);
        return;
    }
    c->tls = trl_tlsio_create(l->ssl_ctx, true, NULL);
    if (!c->tls) {
        conn_close(c, "out of memory for TLS");
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->opened_ms = c->last_frame_ms = uv_now(&l->loop);
    if (l->paused)
        return;
    conn_start_reading(c);
}

/* ---- timers, stop -----------------------------------------------------------------------------
 */

/* Every second: revocations, handshake and idle timeouts, resuming after congestion. */
static void on_tick(uv_timer_t *t)
{
    struct trl_agent_listener *l = t->data;
    uint64_t now = uv_now(&l->loop);
    struct conn *c = l->conns;
    while (c) {
        struct conn *next = c->next;
        if (c->closing) {
            c = next;
            continue;
        }
        if (c->agent && trl_agent_registry_is_revoked(l->reg, c->agent->id)) {
            trl_warn(COMP, "disconnecting revoked agent=%s peer=%s", c->agent->id, c->peer);
            conn_fail(c, TRL_PROTO_ERR_REVOKED, "agent revoked");
        } else if (!c->agent && now - c->opened_ms > HELLO_TIMEOUT_MS && !c->frames) {
            conn_close(c, "no HELLO in time");
        } else if (now - c->last_frame_ms > l->idle_ms) {
            conn_close(c, "idle timeout");
        }
        c = next;
    }
    expire_actions(l);
    if (l->paused && !trl_pipeline_congested(l->p)) {
        l->paused = false;
        for (c = l->conns; c; c = c->next)
            conn_start_reading(c);
    }
}

/* While paused the tick is too slow to resume: poll the pipeline more often. */
static void on_fast_tick(uv_timer_t *t)
{
    struct trl_agent_listener *l = t->data;
    if (l->paused)
        on_tick(t);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (uv_is_closing(h))
        return;
    if (h->type == UV_TCP && h->data && h->data != arg) {
        struct conn *c = h->data;
        if (c->tls) {
            trl_tlsio_shutdown(c->tls);
            conn_flush(c);
        }
        conn_close(c, "server stopping");
        return;
    }
    uv_close(h, NULL);
}

static void on_stop(uv_async_t *a)
{
    struct trl_agent_listener *l = a->data;
    uv_close((uv_handle_t *)&l->server, NULL);
    l->server.data = NULL;
    uv_walk(&l->loop, close_walk, l);
}

static void *thread_main(void *arg)
{
    struct trl_agent_listener *l = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    uv_run(&l->loop, UV_RUN_DEFAULT);
    return NULL;
}

static uv_timer_t *fast_timer(struct trl_agent_listener *l)
{
    /* The fast timer lives in the listener's allocation right after it, see start(). */
    return (uv_timer_t *)(l + 1);
}

int trl_agent_listener_start(const struct trl_agent_listener_opts *o,
                             struct trl_agent_listener **out)
{
    char host[64];
    uint16_t port;
    char err[300];
    if (!o->address || trl_config_parse_listen(o->address, host, sizeof(host), &port) != 0) {
        trl_error(COMP, "bad agents listen address \"%s\"", o->address ? o->address : "");
        return TRL_EINVAL;
    }
    struct sockaddr_storage ss;
    if (uv_ip4_addr(host[0] ? host : "0.0.0.0", port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
        trl_error(COMP, "bad agents listen address \"%s\"", o->address);
        return TRL_EINVAL;
    }
    struct trl_agent_listener *l = trl_xcalloc(1, sizeof(*l) + sizeof(uv_timer_t));
    l->p = o->pipeline;
    l->max_conns = o->max_connections ? o->max_connections : 4096;
    l->idle_ms = o->idle_timeout_ms ? o->idle_timeout_ms : 120000;
    l->enroll.pki = *o->pki;
    pthread_mutex_init(&l->mu, NULL);
    l->actions = trl_action_queue_create(0);
    l->on_action_expired = o->action_expired;
    l->action_ud = o->action_ud;
    int rc = TRL_EINVAL;
    uv_loop_init(&l->loop);
    l->ssl_ctx = trl_tlsio_server_ctx(o->pki->server_cert, o->pki->server_key, o->pki->ca_cert, err,
                                      sizeof(err));
    if (!l->ssl_ctx) {
        trl_error(COMP, "cannot load TLS files: %s", err);
        goto fail;
    }
    l->reg = trl_agent_registry_open(o->data_dir);
    if (!l->reg)
        goto fail;
    l->zctx = trl_proto_zctx_create();
    l->data_dir = trl_xstrdup(o->data_dir);
    l->enroll.reg = l->reg;
    uv_tcp_init(&l->loop, &l->server);
    l->server.data = l;
    rc = uv_tcp_bind(&l->server, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->server, 128, on_connection);
    if (rc != 0) {
        trl_error(COMP, "cannot listen agents=%s error=\"%s\"", o->address, uv_strerror(rc));
        goto fail;
    }
    int sl = sizeof(ss);
    uv_tcp_getsockname(&l->server, (struct sockaddr *)&ss, &sl);
    char ip[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
        snprintf(l->address, sizeof(l->address), "[%s]:%d", ip,
                 ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
    } else {
        uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
        snprintf(l->address, sizeof(l->address), "%s:%d", ip,
                 ntohs(((struct sockaddr_in *)&ss)->sin_port));
    }
    l->counters = o->counters ? trl_server_counters_slot(o->counters, "agent", l->address) : NULL;
    uv_async_init(&l->loop, &l->done_async, on_done_async);
    l->done_async.data = l;
    uv_async_init(&l->loop, &l->stop_async, on_stop);
    l->stop_async.data = l;
    uv_async_init(&l->loop, &l->action_async, on_action_async);
    l->action_async.data = l;
    uv_check_init(&l->loop, &l->check);
    l->check.data = l;
    uv_check_start(&l->check, on_check);
    uv_timer_init(&l->loop, &l->tick);
    l->tick.data = l;
    uv_timer_start(&l->tick, on_tick, 1000, 1000);
    uv_timer_init(&l->loop, fast_timer(l));
    fast_timer(l)->data = l;
    uv_timer_start(fast_timer(l), on_fast_tick, 20, 20);
    if (pthread_create(&l->thread, NULL, thread_main, l) != 0) {
        rc = -errno;
        trl_error(COMP, "cannot start the agents thread");
        goto fail;
    }
    l->thread_started = true;
    trl_info(COMP, "listening agents=%s", l->address);
    *out = l;
    return 0;
fail:
    uv_walk(&l->loop, close_walk, l);
    uv_run(&l->loop, UV_RUN_DEFAULT);
    uv_loop_close(&l->loop);
    trl_agent_registry_close(l->reg);
    SSL_CTX_free(l->ssl_ctx);
    trl_proto_zctx_destroy(l->zctx);
    trl_action_queue_destroy(l->actions);
    pthread_mutex_destroy(&l->mu);
    free(l);
    return rc < 0 ? rc : TRL_EINVAL;
}

const char *trl_agent_listener_address(const struct trl_agent_listener *l)
{
    return l->address;
}

void trl_agent_listener_stop(struct trl_agent_listener *l)
{
    if (!l)
        return;
    /* From now on batches that complete only record their commit in the registry: the loop that
     * would acknowledge them is going away. */
    pthread_mutex_lock(&l->mu);
    l->stopping = true;
    pthread_mutex_unlock(&l->mu);
    uv_async_send(&l->stop_async);
    pthread_join(l->thread, NULL);
    uv_loop_close(&l->loop);
    /* Wait for the batches still in the pipeline, which call back into the listener. */
    trl_pipeline_sync(l->p);
    struct done_msg *m = l->done_head;
    while (m) {
        struct done_msg *next = m->next;
        free(m);
        m = next;
    }
    free(l->data_dir);
    while (l->agents) {
        struct agent_state *next = l->agents->next;
        free(l->agents->stored);
        free(l->agents);
        l->agents = next;
    }
    trl_agent_registry_close(l->reg);
    SSL_CTX_free(l->ssl_ctx);
    trl_proto_zctx_destroy(l->zctx);
    trl_buf_free(&l->raw);
    trl_buf_free(&l->line);
    if (trl_action_queue_len(l->actions))
        trl_warn(COMP, "actions not sent at stop: %zu", trl_action_queue_len(l->actions));
    trl_action_queue_destroy(l->actions);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

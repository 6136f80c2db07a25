/*
 * agent_main: sources -> spool -> parse -> TLS sender, on one libuv loop (see agent_main.h).
 *
 * Exactly-once from file to spool: each line's record holds the line's position (offset, end,
 * CRC-32C of the line; line_record.h). The offsets file is committed after the spool is synced, and
 * tail.seq then records the spool seq from which lines are not covered by it. After a crash the
 * tailer re-reads from the committed offsets; the lines it delivers again whose positions are in
 * records at or after tail.seq are skipped once. Records are never deleted (acknowledged) before
 * the offsets cover them, so those records are always there to be found.
 */
#include "agent/agent_main.h"

#include "agent/agent_event.h"
#include "agent/audit_nl.h"
#include "agent/crc32c.h"
#include "agent/fim.h"
#include "agent/forward.h"
#include "agent/journal.h"
#include "agent/line_record.h"
#include "agent/netconn.h"
#include "agent/privsep.h"
#include "agent/privsep_net.h"
#include "agent/proc.h"
#include "agent/proto.h"
#include "agent/spool.h"
#include "agent/statefile.h"
#include "agent/tail.h"
#include "agent/utmp.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/event.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "detect/response.h"
#include "formats/json_encode.h"
#include "formats/parse.h"
#include "formats/syslog_encode.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <uv.h>

#define COMP       "agent"
#define MAX_WINDOW 64
/* Batches in flight and their size: the server works on batches in stages (parse, store,
 * commit), several at once, and acknowledges a batch only after its commit, so the window holds
 * many of its pipeline batches' worth (32 x 1000 events). */
#define DEFAULT_WINDOW      32
#define DEFAULT_BATCH_BYTES (1u << 20)
/* Memory is given back this long after the start, then at this interval (on_trim_timer). */
#define TRIM_FIRST_MS 10000
#define TRIM_EVERY_MS 20000
/* Batch buffers larger than this are freed as soon as the spool is drained (release_burst). */
#define BURST_KEEP (256u << 10)
/* Free room the spool must have for the file sources to read on: a few of the longest lines. */
#define SPOOL_MARGIN (4u << 20)
/* A connection that gets no ACK for this long while batches are unacknowledged is dead. */
#define ACK_TIMEOUT_MS 60000
/* Connecting, TLS and HELLO must be done by then. */
#define CONNECT_TIMEOUT_MS 15000
/* Queued but unwritten bytes on the socket above which no more batches are built. */
#define MAX_WRITE_QUEUE (4u << 20)
/* Lines read per turn of the loop, so that a large backlog does not starve the sender. */
#define TAIL_LINES_PER_TURN 500
/* File lines are appended to the spool in groups of up to this many (one write for all), or
 * fewer when they hold PEND_BYTES, and at the end of every tail poll. */
#define PEND_MAX   64
#define PEND_BYTES (1u << 20)
/* Batches built and waiting for compression, or being compressed (one at a time, on a thread of
 * libuv's pool): the loop builds the next while one is compressed, which the one built then
 * follows at once. */
#define ZQ_SLOTS 2

static const char *const default_logs[] = {"/var/log/auth.log", "/var/log/syslog",
                                           "/var/log/secure", "/var/log/messages"};
static const char *const default_fim[] = {"/etc",     "/bin",      "/sbin",
                                          "/usr/bin", "/usr/sbin", "/usr/local/bin"};

enum link_state { LINK_CONNECTING, LINK_HELLO, LINK_READY };

struct line_pos {
    uint64_t offset, end;
    uint32_t crc;
    bool used;
};

/* A file line encoded and waiting in pend for the next group append. */
struct pend_line {
    size_t off, len; /* of its record in pend */
    uint64_t file_id, end;
};

/* A batch on its way to the link: its events as newline-separated JSON, then its BATCH frame. gen
 * is the connection it was built for; a batch that comes back from compression after that
 * connection closed is dropped (the spool was rewound, it is resent). */
struct zbatch {
    uv_work_t req;
    struct agent *a;
    uint64_t gen;
    uint64_t first;
    uint32_t count;
    int rc;
    struct trl_buf raw, frame;
};

/* One connection attempt; freed when its handle is closed. The pipe is the agent's end of a
 * socket pair whose other end the network process relays to the server over TLS. */
struct link {
    uv_pipe_t pipe;
    struct agent *a;
    struct trl_proto_reader rd;
    enum link_state state;
    uint64_t started_ms;
    bool dead;
};

struct agent {
    const struct trl_agent_opts *o;
    uv_loop_t loop;
    char host[256];
    char port[16];
    char hostname[256];
    char *state_dir;
    /* The agent's identity and pinned CA in the state directory, which the network process loads:
     * the agent itself never initialises OpenSSL (docs/agent.md, "Footprint"). */
    char *ca_path, *crt_path, *key_path;

    struct trl_spool *spool;
    struct trl_tail *tail;
    struct trl_fim *fim;
    struct trl_proc *proc;
    struct trl_netconn *net;
    struct trl_utmp *utmp;
    struct trl_journal *journal;
    struct trl_audit_nl *audit;
    uv_poll_t tail_poll, fim_poll, proc_poll, journal_poll, audit_poll;
    uv_timer_t sources_timer; /* tail/fim timeouts, netconn, utmp */
    uv_timer_t commit_timer;  /* spool sync, offsets, heartbeat, watchdog */
    uv_timer_t reconnect_timer;
    uv_idle_t tail_idle; /* reads on while tail_more, once per loop turn (I/O runs in between) */
    uv_signal_t sigterm, sigint;
    uv_timer_t unblock_timer; /* the next block's end, for its ip-unblocked event */
    uv_timer_t trim_timer;    /* gives back memory every 20 s */
    uv_async_t durable_async; /* a background sync of the spool is done */
    bool pool_size_set;       /* this process set UV_THREADPOOL_SIZE (see trl_agent_run) */

    /* The unprivileged network process: the server connection and the forwarders. */
    struct trl_privsep_user user;
    struct trl_netproc *np;
    uv_poll_t np_poll;
    uv_timer_t np_timer; /* restarts a network process that died */
    bool np_polling;
    bool fwd_known;                            /* fwd[] holds a report of the network process */
    struct trl_forward_stats fwd[TRL_FWD_MAX]; /* as the network process last said */
    uint64_t fwd_local_drops[TRL_FWD_MAX];     /* control socket full; earlier processes' drops */
    uint64_t fwd_sent_base[TRL_FWD_MAX];       /* sent by earlier network processes */
    uint64_t fwd_reported_drops[TRL_FWD_MAX];  /* in the last health event */
    bool fwd_reported_up[TRL_FWD_MAX], fwd_reported[TRL_FWD_MAX];
    struct trl_buf fwd_msg;

    /* Active response: requests from the server (ACTION), run with the server's own code. */
    struct trl_response *response;
    char **protected_ips; /* the server's addresses, never blocked */
    size_t nprotected;

    struct trl_arena *arena;
    struct trl_arena *send_arena; /* the event of the record being added to a batch */
    struct trl_buf json;
    struct trl_buf pend; /* records of the file lines waiting to be appended */
    struct pend_line pend_lines[PEND_MAX];
    size_t npend;
    struct trl_proto_zctx *zctx; /* zstd state kept across batches */
    /* The JSON structure of the event shapes seen: sources repeat a few shapes, and an event of a
     * known one is encoded without working out its keys' order and nesting again. */
    struct trl_json_cache *jcache;

    struct link *link;
    uint64_t link_gen; /* counts connection attempts */
    /* Compression queue: zq[zhead], zq[zhead + 1], ... (mod ZQ_SLOTS), zcount of them, in
     * sequence order; the head is being compressed while zrunning. The zstd context is the
     * worker's while zrunning. */
    struct zbatch zq[ZQ_SLOTS];
    uint32_t zhead, zcount;
    bool zrunning;
    uint64_t inflight[MAX_WINDOW]; /* last seq of each unacknowledged batch, oldest first */
    uint32_t nin;
    uint64_t last_ack_ms;
    uint32_t attempt;
    struct trl_buf frame, held;
    bool have_held;
    uint64_t held_seq;

    bool tail_paused;
    bool tail_more; /* the last tail poll stopped at TAIL_LINES_PER_TURN */
    uint32_t tail_turn;
    int64_t tail_read_ns; /* when the turn started: the read time of its lines (event.created) */
    /* Lines spooled after the last offsets commit, which a restarted tailer delivers again: their
     * positions, sorted, to skip each once (see load_replay). */
    struct line_pos *replay;
    size_t nreplay, replay_left;
    uint64_t commit_seq; /* spool seq from which lines are not covered by the offsets file */
    char *commit_path;   /* where commit_seq is kept: <state>/tail.seq */
    bool stopping;
    uint64_t sent, dropped, collected;
    uint32_t source_errors;
    uint64_t last_hb_ms, hb_sent, last_fwd_report_ms;
    /* Coalescing, so that a trickle of events does not cost a sync, a batch, an acknowledgement
     * and its durable record per event: */
    uint32_t unsent;  /* events appended since the last pump */
    uint64_t ack_seq; /* highest seq the server acknowledged, applied to the spool each second */
    uint64_t lines_pending; /* lines spooled since tail.seq was last written */
    uint64_t last_commit_ms;
};

static void link_close(struct agent *a, const char *why);
static void pump(struct agent *a);
static void pump_soon(struct agent *a);
static void on_sources_timer(uv_timer_t *t);

/* ---- spool intake -----------------------------------------------------------------------------
 */

/* Asked before every line: the size alone, not the statistics (a walk over every segment). */
static bool spool_has_room(struct agent *a)
{
    uint64_t max = a->o->spool_max_bytes ? a->o->spool_max_bytes : (1ull << 30);
    return trl_spool_bytes(a->spool) + SPOOL_MARGIN < max;
}

/* Hands the event, in each forwarder's format, to the network process. Never waits: a message
 * the control socket has no room for is counted as dropped for that forwarder. */
static void forward_event(struct agent *a, const struct trl_event *ev, const char *json,
                          size_t json_len)
{
    if (!a->np)
        return;
    int64_t now = trl_now_ns();
    for (size_t i = 0; i < a->o->nforwarders; i++) {
        trl_buf_reset(&a->fwd_msg);
        trl_syslog_encode_event(&a->fwd_msg, ev, a->o->forwarders[i].format, a->hostname, json,
                                json_len, now);
        if (trl_netproc_forward(a->np, i, a->fwd_msg.data, a->fwd_msg.len) != 0)
            a->fwd_local_drops[i]++;
    }
}

/* Encodes ev (host.name set to this host's when the event has none) and appends it to the spool.
 * Returns 0 or the spool's error. */
static int spool_event(struct agent *a, struct trl_event *ev)
{
    if (!trl_event_has(ev, TRL_F_HOST_NAME))
        trl_event_set_str(ev, TRL_F_HOST_NAME, a->hostname);
    trl_buf_reset(&a->json);
    trl_json_encode_event_cached(a->jcache, ev, &a->json);
    int rc = trl_spool_append(a->spool, a->json.data, a->json.len, NULL);
    if (rc == 0) {
        a->collected++;
        a->unsent++;
        forward_event(a, ev, a->json.data, a->json.len);
    }
    return rc;
}

/* Appends the waiting file lines to the spool and acknowledges those appended to the tailer. */
static void flush_lines(struct agent *a)
{
    if (!a->npend)
        return;
    struct iovec iov[PEND_MAX];
    for (size_t i = 0; i < a->npend; i++)
        iov[i] = (struct iovec){a->pend.data + a->pend_lines[i].off, a->pend_lines[i].len};
    size_t done = 0;
    int rc = trl_spool_append_many(a->spool, iov, a->npend, NULL, &done);
    for (size_t i = 0; i < done; i++)
        trl_tail_ack(a->tail, a->pend_lines[i].file_id, a->pend_lines[i].end);
    a->collected += done;
    a->lines_pending += done;
    if (rc != 0) {
        /* Not acknowledged: these lines are read again after a restart. */
        a->dropped += a->npend - done;
        trl_error(COMP, "cannot spool %zu lines error=\"%s\"", a->npend - done, trl_strerror(rc));
    }
    a->npend = 0;
    trl_buf_reset(&a->pend);
}

static int pos_cmp(const void *x, const void *y)
{
    const struct line_pos *p = x, *q = y;
    if (p->offset != q->offset)
        return p->offset < q->offset ? -1 : 1;
    if (p->end != q->end)
        return p->end < q->end ? -1 : 1;
    return p->crc < q->crc ? -1 : p->crc > q->crc;
}

/* True (once) when the line is one a previous run spooled after its last offsets commit. */
static bool replayed(struct agent *a, const struct line_pos *pos)
{
    if (!a->replay_left)
        return false;
    struct line_pos *hit = bsearch(pos, a->replay, a->nreplay, sizeof(*pos), pos_cmp);
    if (!hit || hit->used)
        return false;
    hit->used = true;
    a->replay_left--;
    return true;
}

/* Counts the line against this turn's budget: non-zero ends the poll. */
static int turn_done(struct agent *a)
{
    if (++a->tail_turn < TAIL_LINES_PER_TURN)
        return 0;
    a->tail_more = true;
    return 1;
}

static int on_tail_line(void *ud, const struct trl_tail_line *line)
{
    struct agent *a = ud;
    struct line_pos pos = {line->offset, line->end, trl_crc32c(0, line->data, line->len), false};
    if (replayed(a, &pos)) {
        /* An acknowledgement covers every line before it: those must be in the spool first. */
        flush_lines(a);
        trl_tail_ack(a->tail, line->file_id, line->end);
        return turn_done(a);
    }
    /* Spooled as read, parsed when sent (line_record.h); the forwarders get its event now. */
    size_t off = a->pend.len;
    struct trl_line_rec rec = {.offset = pos.offset,
                               .end = pos.end,
                               .crc = pos.crc,
                               .read_ns = a->tail_read_ns,
                               .path = line->path,
                               .path_len = strlen(line->path),
                               .line = line->data,
                               .line_len = line->len};
    if (rec.path_len > TRL_LINE_REC_MAX_PATH)
        rec.path_len = TRL_LINE_REC_MAX_PATH;
    trl_line_rec_encode(&a->pend, &rec);
    if (a->np && a->o->nforwarders) {
        trl_arena_reset(a->arena);
        struct trl_event *ev = trl_line_rec_event(a->arena, &rec, a->hostname);
        trl_buf_reset(&a->json);
        trl_json_encode_event_cached(a->jcache, ev, &a->json);
        forward_event(a, ev, a->json.data, a->json.len);
    }
    a->pend_lines[a->npend++] =
        (struct pend_line){off, a->pend.len - off, line->file_id, line->end};
    if (a->npend == PEND_MAX || a->pend.len >= PEND_BYTES)
        flush_lines(a);
    if (!spool_has_room(a)) {
        a->tail_paused = true;
        return 1;
    }
    return turn_done(a);
}

static void on_host_event(void *ud, struct trl_event *ev)
{
    struct agent *a = ud;
    if (!spool_has_room(a) || spool_event(a, ev) != 0)
        a->dropped++;
}

static int on_utmp_event(void *ud, struct trl_event *ev)
{
    on_host_event(ud, ev);
    return 0;
}

/* The journal can wait like the files: with the spool full it is not read (its cursor stays). */
static void run_journal(struct agent *a)
{
    if (!a->journal || a->stopping || !spool_has_room(a))
        return;
    int n = trl_journal_poll(a->journal, a->arena, 1000, on_utmp_event, a);
    if (n < 0)
        a->source_errors++;
    trl_arena_reset(a->arena);
    if (n > 0)
        pump_soon(a);
}

static void on_journal_readable(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    run_journal(h->data);
}

static void run_audit(struct agent *a)
{
    if (!a->audit || a->stopping)
        return;
    int n = trl_audit_nl_poll(a->audit, a->arena, on_utmp_event, a);
    if (n < 0)
        a->source_errors++;
    trl_arena_reset(a->arena);
    if (n > 0)
        pump_soon(a);
}

static void on_audit_readable(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    run_audit(h->data);
}

static void run_tail(struct agent *a)
{
    if (!a->tail || a->stopping)
        return;
    if (!spool_has_room(a)) {
        if (!a->tail_paused)
            trl_warn(COMP, "spool full: pausing file sources until the server catches up");
        a->tail_paused = true;
        return;
    }
    if (a->tail_paused) {
        a->tail_paused = false;
        trl_info(COMP, "spool has room again: resuming file sources");
    }
    a->tail_turn = 0;
    a->tail_more = false;
    a->tail_read_ns = trl_now_ns();
    int n = trl_tail_poll(a->tail, on_tail_line, a);
    flush_lines(a);
    if (n < 0)
        a->source_errors++;
    if (n > 0)
        pump_soon(a);
}

static void on_tail_idle(uv_idle_t *h);

/* Keeps reading a backlog on the next turns of the loop, or stops doing so. */
static void tail_continue(struct agent *a)
{
    if (a->tail_more && !a->stopping)
        uv_idle_start(&a->tail_idle, on_tail_idle);
    else
        uv_idle_stop(&a->tail_idle);
}

static void on_tail_idle(uv_idle_t *h)
{
    struct agent *a = h->data;
    run_tail(a);
    tail_continue(a);
}

static void on_tail_readable(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    struct agent *a = h->data;
    run_tail(a);
    tail_continue(a);
}

static void on_fim_readable(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    struct agent *a = h->data;
    if (trl_fim_poll(a->fim, a->arena, on_host_event, a) > 0)
        pump_soon(a);
    trl_arena_reset(a->arena);
}

static void on_proc_readable(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    struct agent *a = h->data;
    if (trl_proc_poll(a->proc, a->arena, on_host_event, a) > 0)
        pump_soon(a);
    trl_arena_reset(a->arena);
}

/* Sources that need a timeout; reschedules itself for the earliest one due. */
static void on_sources_timer(uv_timer_t *t)
{
    struct agent *a = t->data;
    if (a->stopping)
        return;
    run_tail(a);
    int next = 1000;
    if (a->tail)
        next = TRL_MIN(next, TRL_MAX(trl_tail_timeout_ms(a->tail), 0));
    if (a->tail_paused)
        next = TRL_MIN(next, 100);
    if (a->fim) {
        if (trl_fim_timeout_ms(a->fim) <= 0) {
            trl_fim_poll(a->fim, a->arena, on_host_event, a);
            trl_arena_reset(a->arena);
        }
        next = TRL_MIN(next, TRL_MAX(trl_fim_timeout_ms(a->fim), 10));
    }
    if (a->net) {
        if (trl_netconn_timeout_ms(a->net) <= 0) {
            if (trl_netconn_poll(a->net, a->arena, on_host_event, a) < 0)
                a->source_errors++;
            trl_arena_reset(a->arena);
        }
        next = TRL_MIN(next, TRL_MAX(trl_netconn_timeout_ms(a->net), 10));
    }
    if (a->utmp) {
        trl_utmp_poll(a->utmp, a->arena, on_utmp_event, a);
        trl_arena_reset(a->arena);
    }
    run_journal(a);
    if (a->audit) {
        run_audit(a); /* completes audit events whose last record is overdue */
        int due = trl_audit_nl_timeout_ms(a->audit);
        if (due >= 0)
            next = TRL_MIN(next, TRL_MAX(due, 10));
    }
    tail_continue(a);
    pump_soon(a);
    uv_timer_start(t, on_sources_timer, (uint64_t)TRL_MAX(next, 1), 0);
}

/* Makes the spool durable, then the file offsets that point past the lines it holds, then the
 * spool seq from which lines are not covered by those offsets. Returns 0 or a negative error. */
static int commit_sources(struct agent *a)
{
    int rc = trl_spool_sync(a->spool);
    if (rc < 0) {
        trl_error(COMP, "cannot sync the spool: %s", trl_strerror(rc));
        return rc;
    }
    if (a->utmp)
        trl_utmp_commit(a->utmp);
    if (a->journal)
        trl_journal_commit(a->journal);
    if (!a->tail)
        return 0;
    if ((rc = trl_tail_commit(a->tail)) < 0) {
        trl_warn(COMP, "cannot save file offsets: %s", trl_strerror(rc));
        return rc;
    }
    struct trl_spool_stats st;
    trl_spool_stats(a->spool, &st);
    if (st.next_seq == a->commit_seq)
        return 0;
    if (a->lines_pending == 0) {
        /* Only host events since the value on disk: the records between it and next_seq hold no
         * line, so the older value still says where replayed lines may be found. */
        a->commit_seq = st.next_seq;
        return 0;
    }
    char txt[32];
    int n = snprintf(txt, sizeof(txt), "%llu\n", (unsigned long long)st.next_seq);
    if ((rc = trl_state_write(a->commit_path, txt, (size_t)n)) < 0) {
        trl_warn(COMP, "cannot save %s: %s", a->commit_path, trl_strerror(rc));
        return rc;
    }
    a->commit_seq = st.next_seq;
    a->lines_pending = 0;
    return 0;
}

/* ---- connection -------------------------------------------------------------------------------
 */

/* One write to the network process: the bytes follow the request. */
struct link_write {
    uv_write_t req;
    char data[];
};

static void on_link_written(uv_write_t *req, int status)
{
    (void)status; /* a failed write shows up as an error or EOF on the read side */
    free(req);
}

static void link_send(struct link *k, const struct trl_buf *frame)
{
    if (k->dead)
        return;
    struct link_write *w = trl_xmalloc(sizeof(*w) + frame->len);
    memcpy(w->data, frame->data, frame->len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)frame->len);
    if (uv_write(&w->req, (uv_stream_t *)&k->pipe, &b, 1, on_link_written) != 0)
        free(w);
}

static void on_link_closed(uv_handle_t *h)
{
    struct link *k = h->data;
    trl_proto_reader_free(&k->rd);
    free(k);
}

static void on_reconnect(uv_timer_t *t);

static void schedule_reconnect(struct agent *a)
{
    if (a->stopping)
        return;
    uint64_t cap = a->o->backoff_max_ms ? a->o->backoff_max_ms : 30000;
    uint64_t delay = 250;
    for (uint32_t i = 0; i < a->attempt && delay < cap; i++)
        delay *= 2;
    delay = TRL_MIN(delay, cap);
    /* Jitter: between half and all of the delay, so that agents do not reconnect in step. */
    uint32_t r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
        r = (uint32_t)trl_mono_ns();
    delay = delay / 2 + r % (delay / 2 + 1);
    a->attempt++;
    uv_timer_start(&a->reconnect_timer, on_reconnect, delay, 0);
}

static void link_close(struct agent *a, const char *why)
{
    struct link *k = a->link;
    if (!k)
        return;
    if (why)
        trl_warn(COMP, "connection to %s:%s closed: %s (unacknowledged batches: %u)", a->host,
                 a->port, why, a->nin);
    a->link = NULL;
    k->dead = true;
    uv_close((uv_handle_t *)&k->pipe, on_link_closed);
    a->nin = 0;
    a->have_held = false;
    /* Batches not yet compressed go; the one being compressed is dropped when it is done. */
    a->zcount = a->zrunning ? 1 : 0;
    trl_spool_rewind(a->spool);
    schedule_reconnect(a);
}

/* Records the server's acknowledgements in the spool (which deletes what they cover). Called
 * once a second, and at once when the spool is short of room: each call writes the ack file
 * durably, and the server drops whatever a restart resends anyway. */
static void apply_ack(struct agent *a)
{
    struct trl_spool_stats st;
    trl_spool_stats(a->spool, &st);
    uint64_t trim = a->ack_seq;
    if (trim <= st.acked_seq)
        return;
    /* Acknowledged records may be deleted: the offsets must cover their lines first, or a
     * restart would read those lines again without the records that say they were spooled. */
    if (a->tail && trim >= a->commit_seq)
        commit_sources(a);
    if (a->tail && trim >= a->commit_seq)
        trim = a->commit_seq - 1;
    if (trim > st.acked_seq) {
        int rc = trl_spool_ack(a->spool, trim);
        if (rc < 0)
            trl_error(COMP, "cannot record acknowledgement seq=%llu error=\"%s\"",
                      (unsigned long long)trim, trl_strerror(rc));
    }
}

static void handle_ack(struct agent *a, uint64_t seq)
{
    struct trl_spool_stats st;
    trl_spool_stats(a->spool, &st);
    uint64_t top = st.next_seq ? st.next_seq - 1 : 0;
    if (seq > top)
        seq = top; /* the server knows of events this spool never had: nothing to trim */
    if (seq > a->ack_seq)
        a->ack_seq = seq;
    if (!spool_has_room(a))
        apply_ack(a);
    uint32_t done = 0;
    while (done < a->nin && a->inflight[done] <= seq)
        done++;
    memmove(a->inflight, a->inflight + done, (a->nin - done) * sizeof(a->inflight[0]));
    a->nin -= done;
    a->last_ack_ms = uv_now(&a->loop);
}

/* ---- active response --------------------------------------------------------------------------
 */

/* A response event: spooled and sent like any other, with this host's name. */
static void on_response_event(void *ud, const char *json, size_t len)
{
    struct agent *a = ud;
    trl_buf_reset(&a->json);
    if (len >= 2 && json[len - 1] == '}') {
        trl_buf_append(&a->json, json, len - 1);
        trl_buf_puts(&a->json, ",\"host\":{\"name\":");
        trl_json_append_string(&a->json, a->hostname, strlen(a->hostname));
        trl_buf_puts(&a->json, "}}");
    } else {
        trl_buf_append(&a->json, json, len);
    }
    int rc = trl_spool_append(a->spool, a->json.data, a->json.len, NULL);
    if (rc == 0) {
        a->collected++;
        /* The forwarders get it with the JSON as its text (the JSON format: as it is). */
        struct trl_event *ev = trl_event_create(a->arena, NULL, 0, trl_now_ns());
        trl_event_set_ref(ev, TRL_F_EVENT_DATASET, "agent.response", 14);
        forward_event(a, ev, a->json.data, a->json.len);
    } else {
        a->dropped++;
        trl_error(COMP, "cannot spool a response event: %s", trl_strerror(rc));
    }
}

static void on_unblock_timer(uv_timer_t *t);

/* Arms the timer for the end of the next block. */
static void schedule_unblock(struct agent *a)
{
    int64_t next = trl_response_next_expiry(a->response);
    if (next == INT64_MAX) {
        uv_timer_stop(&a->unblock_timer);
        return;
    }
    int64_t ms = (next - trl_now_ns()) / 1000000 + 1;
    uv_timer_start(&a->unblock_timer, on_unblock_timer, (uint64_t)TRL_MAX(ms, 1), 0);
}

static void on_unblock_timer(uv_timer_t *t)
{
    struct agent *a = t->data;
    /* nft removed the element by its timeout; this records it. */
    trl_response_expire(a->response, trl_now_ns());
    schedule_unblock(a);
    pump(a);
}

/* ACTION: checks and runs the request, records it as an event and answers ACTION_RESULT. */
static void handle_action(struct agent *a, struct link *k, const struct trl_proto_action *act)
{
    struct trl_proto_action_result res = {.id = act->id};
    struct trl_response_request req;
    if (trl_response_request_parse(act->json, act->len, &req) != 0) {
        res.outcome = TRL_PROTO_OUTCOME_REFUSED;
        snprintf(res.action, sizeof(res.action), "action-refused");
        snprintf(res.reason, sizeof(res.reason), "malformed request");
        trl_warn(COMP, "refused a malformed action id=%llu", (unsigned long long)act->id);
    } else {
        enum trl_response_result r = TRL_RESPONSE_REFUSED;
        char err[TRL_PROTO_MAX_REASON] = "";
        if (a->o->active_response) {
            trl_response_execute_result(a->response, &req, err, sizeof(err), &r);
        } else {
            snprintf(err, sizeof(err), "active response is disabled on this agent");
            trl_response_record(a->response, &req, TRL_RESPONSE_REFUSED, err);
        }
        res.outcome = r == TRL_RESPONSE_REFUSED  ? TRL_PROTO_OUTCOME_REFUSED
                      : r == TRL_RESPONSE_FAILED ? TRL_PROTO_OUTCOME_FAILURE
                                                 : TRL_PROTO_OUTCOME_SUCCESS;
        snprintf(res.action, sizeof(res.action), "%s", trl_response_event_action(req.action, r));
        if (res.outcome != TRL_PROTO_OUTCOME_SUCCESS)
            snprintf(res.reason, sizeof(res.reason), "%s", err);
        schedule_unblock(a);
    }
    trl_buf_reset(&a->frame);
    trl_proto_put_action_result(&a->frame, &res);
    link_send(k, &a->frame);
    pump(a);
}

/* The server's addresses are never blocked, whatever a request says: the agent would cut itself
 * off from the server that could lift the block. */
static void collect_server_addresses(struct agent *a)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(a->host, a->port, &hints, &res) != 0)
        return;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        char ip[INET6_ADDRSTRLEN];
        const void *addr = ai->ai_family == AF_INET
                               ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                               : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            !inet_ntop(ai->ai_family, addr, ip, sizeof(ip)))
            continue;
        a->protected_ips =
            trl_xrealloc(a->protected_ips, (a->nprotected + 1) * sizeof(*a->protected_ips));
        a->protected_ips[a->nprotected++] = trl_xstrdup(ip);
    }
    freeaddrinfo(res);
}

static int setup_response(struct agent *a)
{
    collect_server_addresses(a);
    struct trl_response_config rc = {
        .allowlist = (const char *const *)a->protected_ips,
        .nallowlist = a->nprotected,
        .emit = on_response_event,
        .emit_ud = a,
        .synchronous = true,
    };
    a->response = trl_response_create(&rc);
    return a->response ? 0 : TRL_ECONFIG;
}

static int handle_frame(struct agent *a, struct link *k, const struct trl_proto_frame *f)
{
    if (f->type == TRL_PROTO_ACK) {
        uint64_t seq;
        if (trl_proto_parse_ack(f, &seq) != 0) {
            link_close(a, "malformed ACK from server");
            return -1;
        }
        handle_ack(a, seq);
        if (k->state == LINK_HELLO) {
            /* The first ACK answers HELLO: the server's committed position. Resend after it. */
            k->state = LINK_READY;
            a->attempt = 0;
            a->have_held = false;
            trl_spool_rewind(a->spool);
            trl_info(COMP, "connected to %s:%s, server has everything up to seq=%llu", a->host,
                     a->port, (unsigned long long)seq);
        }
        pump(a);
        return 0;
    }
    if (f->type == TRL_PROTO_ACTION && k->state == LINK_READY) {
        struct trl_proto_action act;
        if (trl_proto_parse_action(f, &act) != 0) {
            link_close(a, "malformed ACTION from server");
            return -1;
        }
        handle_action(a, k, &act);
        return 0;
    }
    if (f->type == TRL_PROTO_ERROR) {
        struct trl_proto_error e;
        char why[TRL_PROTO_MAX_REASON + 64];
        if (trl_proto_parse_error(f, &e) == 0)
            snprintf(why, sizeof(why), "server error %u: %s", e.code, e.reason);
        else
            snprintf(why, sizeof(why), "malformed ERROR from server");
        link_close(a, why);
        return -1;
    }
    link_close(a, "unexpected frame from server");
    return -1;
}

static void on_link_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char scratch[65536];
    *buf = uv_buf_init(scratch, sizeof(scratch));
}

static void on_link_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct link *k = s->data;
    struct agent *a = k->a;
    if (k->dead || nread == 0)
        return;
    if (nread < 0) {
        /* The network process logged why (TLS, refused connection, the server closing). */
        link_close(a, nread == UV_EOF ? "the connection to the server ended"
                                      : uv_strerror((int)nread));
        return;
    }
    trl_proto_reader_feed(&k->rd, buf->base, (size_t)nread);
    struct trl_proto_frame f;
    int r;
    while ((r = trl_proto_reader_next(&k->rd, &f)) == 1)
        if (handle_frame(a, k, &f) != 0)
            return;
    if (r < 0)
        link_close(a, "malformed frame from server");
}

static void send_hello(struct agent *a, struct link *k)
{
    struct trl_spool_stats st;
    trl_spool_stats(a->spool, &st);
    struct trl_proto_hello h = {.proto = TRL_PROTO_VERSION, .last_ack = st.acked_seq};
    snprintf(h.version, sizeof(h.version), "%s", TRL_VERSION);
    snprintf(h.hostname, sizeof(h.hostname), "%s", a->hostname);
    /* The server takes the id from the certificate; this one is informative. */
    snprintf(h.agent_id, sizeof(h.agent_id), "%s", "-");
    trl_buf_reset(&a->frame);
    trl_proto_put_hello(&a->frame, &h);
    link_send(k, &a->frame);
}

static void connect_now(struct agent *a)
{
    if (a->link || a->stopping)
        return;
    int fd = -1;
    int rc = a->np ? trl_netproc_connect(a->np, &fd) : -EPIPE;
    if (rc < 0) {
        trl_warn(COMP, "cannot reach the network process: %s", strerror(-rc));
        schedule_reconnect(a);
        return;
    }
    struct link *k = trl_xcalloc(1, sizeof(*k));
    k->a = a;
    trl_proto_reader_init(&k->rd);
    uv_pipe_init(&a->loop, &k->pipe, 0);
    k->pipe.data = k;
    k->started_ms = uv_now(&a->loop);
    k->state = LINK_HELLO;
    a->link = k;
    a->link_gen++;
    a->nin = 0;
    a->have_held = false;
    trl_spool_rewind(a->spool);
    if (uv_pipe_open(&k->pipe, fd) != 0) {
        close(fd);
        link_close(a, "cannot use the socket to the network process");
        return;
    }
    if (uv_read_start((uv_stream_t *)&k->pipe, on_link_alloc, on_link_read) != 0) {
        link_close(a, "cannot read from the network process");
        return;
    }
    /* The network process holds it until its TLS handshake with the server is done. */
    send_hello(a, k);
}

static void on_reconnect(uv_timer_t *t)
{
    connect_now(t->data);
}

/* ---- sending ----------------------------------------------------------------------------------
 */

/* Appends the JSON line of a spool record's event to out: a file line's event is made now
 * (line_record.h), an event of another source or of an earlier spool is already JSON. */
static void append_record_json(struct agent *a, const struct trl_spool_record *rec,
                               struct trl_buf *out)
{
    struct trl_line_rec line;
    int rc = trl_line_rec_decode(rec->data, rec->len, &line);
    if (rc == 0 || rc == TRL_EINVAL) {
        trl_arena_reset(a->send_arena);
        struct trl_event *ev;
        if (rc == 0) {
            ev = trl_line_rec_event(a->send_arena, &line, a->hostname);
        } else {
            /* The spool's CRC passed, so only a bug gets here: the sequence number still needs
             * its event, and this one says what happened. */
            trl_warn(COMP, "malformed line record seq=%llu", (unsigned long long)rec->seq);
            ev = trl_agent_event(a->send_arena, "agent.health", trl_now_ns());
            trl_event_set_str(ev, TRL_F_EVENT_ACTION, "spool-record-malformed");
            trl_event_set_str(ev, TRL_F_EVENT_OUTCOME, "failure");
            trl_event_set_str(ev, TRL_F_MESSAGE, "a file line's spool record could not be read");
            trl_event_set_str(ev, TRL_F_HOST_NAME, a->hostname);
        }
        trl_json_encode_event_cached(a->jcache, ev, out);
    } else {
        const char *json;
        size_t len;
        trl_line_rec_json(rec->data, rec->len, &json, &len);
        trl_buf_append(out, json, len);
    }
    trl_buf_putc(out, '\n');
}

/* Sends at once when a full batch waits; otherwise the commit timer sends within 200 ms, so that
 * events arriving one by one share a sync of the spool, a batch and its acknowledgement. */
static void pump_soon(struct agent *a)
{
    uint32_t max_events = a->o->batch_max_events ? a->o->batch_max_events : 1000;
    if (a->unsent >= max_events)
        pump(a);
}

/* Frees the compression queue's buffers that grew past keep bytes (all of them with 0); the queue
 * must be empty. Returns whether any was freed. */
static bool zq_release(struct agent *a, size_t keep)
{
    bool freed = false;
    for (size_t i = 0; i < ZQ_SLOTS; i++) {
        struct zbatch *b = &a->zq[i];
        if (b->raw.cap > keep || b->frame.cap > keep) {
            trl_buf_free(&b->raw);
            trl_buf_free(&b->frame);
            freed = true;
        }
    }
    return freed;
}

/* Called once the spool is drained: when a burst grew the batch buffers past BURST_KEEP, they and
 * the compressor's tables sized for that burst are freed now rather than at the next trim, up to
 * 20 s later. Buffers that large are mappings of their own (M_MMAP_THRESHOLD), so the memory goes
 * back to the kernel at once; the next burst maps it again. Smaller ones, which a steady flow of
 * events reuses every 200 ms, stay. */
static void release_burst(struct agent *a)
{
    if (!a->zcount && zq_release(a, BURST_KEEP))
        trl_proto_zctx_trim(a->zctx);
}

/* Runs on a thread of libuv's pool: touches only the batch and the zstd context. */
static void zbatch_compress(uv_work_t *req)
{
    struct zbatch *b = req->data;
    trl_buf_reset(&b->frame);
    b->rc = trl_proto_put_batch_z(b->a->zctx, &b->frame, b->first, b->count, b->raw.data,
                                  b->raw.len, 1);
}

static void zq_kick(struct agent *a);

/* Back on the loop: the head of the queue is compressed; sent when its connection is still up. */
static void zbatch_done(uv_work_t *req, int status)
{
    (void)status;
    struct zbatch *b = req->data;
    struct agent *a = b->a;
    a->zrunning = false;
    a->zhead = (a->zhead + 1) % ZQ_SLOTS;
    a->zcount--;
    struct link *k = a->link;
    if (a->stopping)
        return;
    if (!k || b->gen != a->link_gen) {
        /* Built for a closed connection: the batches of the next one may wait behind it. */
        zq_kick(a);
        return;
    }
    if (b->rc != 0) {
        trl_error(COMP, "cannot encode a batch seq=%llu count=%u: %s", (unsigned long long)b->first,
                  b->count, trl_strerror(b->rc));
        link_close(a, "batch encoding failed");
        return;
    }
    link_send(k, &b->frame);
    zq_kick(a);
    pump(a);
}

/* Starts compressing the head of the queue unless a batch is being compressed. */
static void zq_kick(struct agent *a)
{
    if (a->zrunning || a->zcount == 0)
        return;
    struct zbatch *b = &a->zq[a->zhead];
    b->req.data = b;
    a->zrunning = true;
    /* Fails only without a work callback. */
    (void)uv_queue_work(&a->loop, &b->req, zbatch_compress, zbatch_done);
}

/* The spool's sync thread finished a sync: the records it made durable may be sent. */
static void on_spool_durable(void *ud)
{
    struct agent *a = ud;
    uv_async_send(&a->durable_async);
}

static void on_durable_async(uv_async_t *h)
{
    struct agent *a = h->data;
    int rc = trl_spool_poll(a->spool);
    if (rc < 0)
        trl_error(COMP, "cannot sync the spool: %s", trl_strerror(rc));
    if (!a->stopping)
        pump(a);
}

/* Builds and sends batches while the window and the socket have room. */
static void pump(struct agent *a)
{
    a->unsent = 0;
    struct link *k = a->link;
    uint32_t window = a->o->window ? TRL_MIN(a->o->window, MAX_WINDOW) : DEFAULT_WINDOW;
    uint32_t max_events = a->o->batch_max_events ? a->o->batch_max_events : 1000;
    max_events = TRL_MIN(max_events, TRL_PROTO_MAX_EVENTS);
    size_t max_bytes = a->o->batch_max_bytes ? a->o->batch_max_bytes : DEFAULT_BATCH_BYTES;
    while (k && k->state == LINK_READY && a->nin < window && a->zcount < ZQ_SLOTS &&
           uv_stream_get_write_queue_size((uv_stream_t *)&k->pipe) < MAX_WRITE_QUEUE) {
        struct zbatch *b = &a->zq[(a->zhead + a->zcount) % ZQ_SLOTS];
        trl_buf_reset(&b->raw);
        uint32_t count = 0;
        uint64_t first = 0;
        for (;;) {
            struct trl_spool_record rec;
            if (a->have_held) {
                rec = (struct trl_spool_record){a->held_seq, a->held.data, a->held.len};
            } else {
                int r = trl_spool_read(a->spool, &rec);
                if (r < 0) {
                    trl_error(COMP, "cannot read the spool: %s", trl_strerror(r));
                    break;
                }
                if (r == 0)
                    break;
            }
            /* A record that cannot follow in this batch is held without being made into its
             * event; one that can is, as only its JSON tells whether the batch has room for it. */
            bool fits = count == 0 || (rec.seq == first + count && count < max_events);
            size_t mark = b->raw.len;
            if (fits) {
                append_record_json(a, &rec, &b->raw);
                fits = count == 0 || b->raw.len <= max_bytes;
            }
            if (!fits) {
                b->raw.len = mark;
                if (!a->have_held) {
                    trl_buf_reset(&a->held);
                    trl_buf_append(&a->held, rec.data, rec.len);
                    a->held_seq = rec.seq;
                    a->have_held = true;
                }
                break;
            }
            if (count == 0)
                first = rec.seq;
            count++;
            /* Last: rec may point into held. */
            a->have_held = false;
        }
        if (count == 0) {
            /* Not when the records left wait for a sync: the burst goes on. */
            if (trl_spool_unread(a->spool) == 0)
                release_burst(a);
            return;
        }
        /* Compressed off the loop, and sent in this order (zbatch_done). */
        b->a = a;
        b->gen = a->link_gen;
        b->first = first;
        b->count = count;
        a->zcount++;
        if (a->nin == 0)
            a->last_ack_ms = uv_now(&a->loop);
        a->inflight[a->nin++] = first + count - 1;
        a->sent += count;
        zq_kick(a);
    }
}

/* ---- housekeeping -----------------------------------------------------------------------------
 */

/* A health event per forwarder whose state changed since the last one: messages dropped, or
 * connected / disconnected. Spooled for the server, not forwarded. */
static void report_forwarders(struct agent *a)
{
    if (!a->fwd_known)
        return; /* the network process has not reported yet */
    for (size_t i = 0; i < a->o->nforwarders; i++) {
        const struct trl_forward_config *fc = &a->o->forwarders[i];
        const struct trl_forward_stats *st = &a->fwd[i];
        uint64_t drops = st->dropped + a->fwd_local_drops[i];
        bool up = st->connected;
        uint64_t delta = drops - a->fwd_reported_drops[i];
        bool first = !a->fwd_reported[i];
        if (!first && delta == 0 && up == a->fwd_reported_up[i])
            continue;
        a->fwd_reported[i] = true;
        a->fwd_reported_drops[i] = drops;
        a->fwd_reported_up[i] = up;
        if (first && up && delta == 0)
            continue; /* started and well: nothing to say */
        const char *action = delta ? "forwarder-dropped"
                             : up  ? "forwarder-connected"
                                   : "forwarder-disconnected";
        static const char *const transports[] = {"udp", "tcp", "tls"};
        char addr[300], msg[600];
        snprintf(addr, sizeof(addr), "%s:%u", fc->host, (unsigned)fc->port);
        snprintf(msg, sizeof(msg),
                 "forwarder %s (%s %s): %llu messages dropped since the last report (%llu in "
                 "total), %s, %u queued",
                 fc->name, transports[fc->transport], addr, (unsigned long long)delta,
                 (unsigned long long)drops, up ? "connected" : "not connected", st->queued);
        if (delta || !up)
            trl_warn(COMP, "%s", msg);
        else
            trl_info(COMP, "%s", msg);
        trl_arena_reset(a->arena);
        struct trl_event *ev = trl_agent_event(a->arena, "agent.health", trl_now_ns());
        trl_event_set_str(ev, TRL_F_EVENT_ACTION, action);
        trl_event_add(ev, TRL_F_EVENT_CATEGORY, "host", 4);
        trl_event_add(ev, TRL_F_EVENT_TYPE, delta || !up ? "error" : "info", delta || !up ? 5 : 4);
        trl_event_set_str(ev, TRL_F_EVENT_OUTCOME, delta || !up ? "failure" : "success");
        trl_event_set_str(ev, TRL_F_MESSAGE, msg);
        trl_event_set_str(ev, TRL_F_HOST_NAME, a->hostname);
        trl_agent_set_named_str(ev, "forwarder.name", fc->name);
        trl_agent_set_named_str(ev, "forwarder.address", addr);
        trl_agent_set_named_str(ev, "forwarder.transport", transports[fc->transport]);
        trl_agent_set_named_str(ev, "forwarder.format", trl_syslog_encoding_names[fc->format]);
        trl_agent_set_named_str(ev, "forwarder.connected", up ? "true" : "false");
        trl_agent_set_named_u64(ev, "forwarder.sent", st->sent + a->fwd_sent_base[i]);
        trl_agent_set_named_u64(ev, "forwarder.dropped", drops);
        trl_agent_set_named_u64(ev, "forwarder.dropped_since_last", delta);
        trl_agent_set_named_u64(ev, "forwarder.queued", st->queued);
        trl_buf_reset(&a->json);
        trl_json_encode_event_cached(a->jcache, ev, &a->json);
        if (spool_has_room(a) && trl_spool_append(a->spool, a->json.data, a->json.len, NULL) == 0)
            a->collected++;
        else
            a->dropped++;
        trl_arena_reset(a->arena);
    }
}

static void start_np_poll(struct agent *a);

static void on_np_timer(uv_timer_t *t)
{
    struct agent *a = t->data;
    if (a->stopping)
        return;
    char err[400];
    int rc = trl_netproc_restart(a->np, err, sizeof(err));
    if (rc < 0) {
        trl_error(COMP, "cannot start the network process: %s; retrying in 5 s", err);
        uv_timer_start(&a->np_timer, on_np_timer, 5000, 0);
        return;
    }
    trl_info(COMP, "network process restarted pid=%ld", (long)trl_netproc_pid(a->np));
    start_np_poll(a);
}

static void on_np_poll_closed(uv_handle_t *h)
{
    struct agent *a = h->data;
    a->np_polling = false;
    if (!a->stopping)
        uv_timer_start(&a->np_timer, on_np_timer, 1000, 0);
}

static void on_np_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct agent *a = h->data;
    int rc = status < 0 ? status : trl_netproc_poll(a->np, a->fwd);
    if (rc == 1)
        a->fwd_known = true;
    if (rc >= 0)
        return;
    if (a->stopping)
        return;
    trl_error(COMP, "the network process (pid %ld) is gone; starting another in 1 s",
              (long)trl_netproc_pid(a->np));
    /* The next process counts from zero: keep what this one counted. */
    for (size_t i = 0; i < a->o->nforwarders; i++) {
        a->fwd_local_drops[i] += a->fwd[i].dropped + a->fwd[i].queued;
        a->fwd_sent_base[i] += a->fwd[i].sent;
        memset(&a->fwd[i], 0, sizeof(a->fwd[i]));
    }
    a->fwd_known = false;
    uv_poll_stop(h);
    uv_close((uv_handle_t *)h, on_np_poll_closed);
}

static void start_np_poll(struct agent *a)
{
    uv_poll_init(&a->loop, &a->np_poll, trl_netproc_fd(a->np));
    a->np_poll.data = a;
    uv_poll_start(&a->np_poll, UV_READABLE | UV_DISCONNECT, on_np_readable);
    a->np_polling = true;
}

/* Forks the network process, which loads the agent's identity and the forwarders' TLS files,
 * then gives up every privilege before it opens a socket. */
static int setup_network(struct agent *a)
{
    const struct trl_agent_opts *o = a->o;
    if (o->nforwarders > TRL_FWD_MAX) {
        trl_error(COMP, "at most %d forwarders", TRL_FWD_MAX);
        return TRL_ECONFIG;
    }
    const char *user = o->network_user ? o->network_user : "nobody";
    if (trl_privsep_lookup(user, &a->user) != 0) {
        trl_error(COMP, "network_user \"%s\": the network process needs an unprivileged user",
                  user);
        return TRL_ECONFIG;
    }
    struct trl_netproc_config nc = {
        .server_host = a->host,
        .server_port = a->port,
        .server_ca = a->ca_path,
        .server_cert = a->crt_path,
        .server_key = a->key_path,
        .fwd = o->forwarders,
        .nfwd = o->nforwarders,
        .user = &a->user,
        .pool_size = a->pool_size_set ? "4" : NULL, /* libuv's default */
    };
    char err[400];
    int rc = trl_netproc_start(&nc, &a->np, err, sizeof(err));
    if (rc < 0) {
        a->np = NULL;
        if (rc == TRL_ECONFIG)
            trl_error(COMP, "%s (state directory %s)", err, a->state_dir);
        else
            trl_error(COMP, "cannot start the network process: %s", err);
        return rc;
    }
    for (size_t i = 0; i < o->nforwarders; i++) {
        static const char *const transports[] = {"udp", "tcp", "tls"};
        const struct trl_forward_config *f = &o->forwarders[i];
        trl_info(COMP, "forwarder %s: %s %s:%u format=%s", f->name, transports[f->transport],
                 f->host, (unsigned)f->port, trl_syslog_encoding_names[f->format]);
    }
    return 0;
}

static void send_heartbeat(struct agent *a)
{
    struct link *k = a->link;
    uint64_t now = uv_now(&a->loop);
    if (!k || k->state != LINK_READY)
        return;
    struct trl_spool_stats st;
    trl_spool_stats(a->spool, &st);
    uint64_t elapsed = now > a->last_hb_ms ? now - a->last_hb_ms : 1;
    struct trl_proto_heartbeat hb = {
        .spooled = st.pending,
        .dropped = a->dropped + st.dropped,
        .sent = a->sent,
        .sources_error = a->source_errors,
        .events_per_sec = (uint32_t)TRL_MIN((a->sent - a->hb_sent) * 1000 / elapsed, UINT32_MAX),
    };
    a->last_hb_ms = now;
    a->hb_sent = a->sent;
    trl_buf_reset(&a->frame);
    trl_proto_put_heartbeat(&a->frame, &hb);
    link_send(k, &a->frame);
}

/* Every 200 ms: make the spool durable (each second also the offsets and the acknowledgements);
 * the heartbeat, the forwarders' health, the connection watchdog, and sending what waits. */
static void on_commit_timer(uv_timer_t *t)
{
    struct agent *a = t->data;
    /* Events are on disk within 200 ms; the file offsets (two fsyncs each, and as many for
     * tail.seq) are saved once a second, which only bounds how many lines a crash makes the
     * tailer read again, and skip. */
    uint64_t now = uv_now(&a->loop);
    if (now - a->last_commit_ms >= 1000) {
        a->last_commit_ms = now;
        commit_sources(a);
        apply_ack(a);
    } else {
        int rc = trl_spool_sync_start(a->spool);
        if (rc < 0)
            trl_error(COMP, "cannot sync the spool: %s", trl_strerror(rc));
    }
    uint64_t hb = a->o->heartbeat_ms ? a->o->heartbeat_ms : 30000;
    if (now - a->last_hb_ms >= hb)
        send_heartbeat(a);
    if (now - a->last_fwd_report_ms >= hb) {
        a->last_fwd_report_ms = now;
        report_forwarders(a);
    }
    struct link *k = a->link;
    if (k && k->state != LINK_READY && now - k->started_ms > CONNECT_TIMEOUT_MS)
        link_close(a, "connection and HELLO timed out");
    else if (k && a->nin > 0 && now - a->last_ack_ms > ACK_TIMEOUT_MS)
        link_close(a, "no acknowledgement in time");
    pump(a);
}

/* Every 20 s: the buffers a burst grew are freed (they grow again when needed), and the heap's
 * free pages go back to the kernel. */
static void on_trim_timer(uv_timer_t *t)
{
    struct agent *a = t->data;
    trl_arena_destroy(a->arena);
    a->arena = trl_arena_create(0);
    trl_arena_destroy(a->send_arena);
    a->send_arena = trl_arena_create(0);
    trl_buf_free(&a->json);
    trl_buf_free(&a->fwd_msg);
    if (a->npend == 0)
        trl_buf_free(&a->pend);
    if (!a->have_held)
        trl_buf_free(&a->held);
    trl_buf_free(&a->frame);
    if (a->zcount == 0) {
        zq_release(a, 0);
        trl_proto_zctx_trim(a->zctx);
    }
    trl_spool_trim(a->spool);
    trl_fim_trim(a->fim);
    malloc_trim(0);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct agent *a = s->data;
    trl_info(COMP, "stopping on signal %d", signum);
    a->stopping = true;
    uv_stop(&a->loop);
}

/* ---- start-up ---------------------------------------------------------------------------------
 */

static int read_server_file(struct agent *a, char *out, size_t outlen)
{
    char *path = trl_path_join(a->state_dir, "server");
    char *data = NULL;
    size_t len = 0;
    int rc = trl_state_read(path, 1024, &data, &len);
    free(path);
    if (rc < 0)
        return rc;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
        data[--len] = '\0';
    snprintf(out, outlen, "%s", data);
    free(data);
    return 0;
}

static int setup_server(struct agent *a)
{
    char server[300];
    if (a->o->server && a->o->server[0]) {
        snprintf(server, sizeof(server), "%s", a->o->server);
    } else if (read_server_file(a, server, sizeof(server)) != 0) {
        trl_error(COMP, "no server address: give --server HOST:PORT or enroll first");
        return TRL_ECONFIG;
    }
    uint16_t port;
    if (trl_config_parse_listen(server, a->host, sizeof(a->host), &port) != 0 || !a->host[0] ||
        port == 0) {
        trl_error(COMP, "bad server address \"%s\": expected HOST:PORT", server);
        return TRL_ECONFIG;
    }
    snprintf(a->port, sizeof(a->port), "%u", port);
    a->ca_path = trl_path_join(a->state_dir, "ca.crt");
    a->crt_path = trl_path_join(a->state_dir, "agent.crt");
    a->key_path = trl_path_join(a->state_dir, "agent.key");
    return 0;
}

/* Collects the positions of the lines spooled at or after the seq in tail.seq: the offsets file
 * may not cover them, and the tailer would deliver them again after a crash. */
static void load_replay(struct agent *a)
{
    a->commit_path = trl_path_join(a->state_dir, "tail.seq");
    uint64_t from = 1;
    char *data = NULL;
    size_t len = 0;
    if (trl_state_read(a->commit_path, 64, &data, &len) == 0) {
        from = strtoull(data, NULL, 10);
        free(data);
    }
    a->commit_seq = from ? from : 1;
    size_t cap = 0;
    struct trl_spool_record rec;
    while (trl_spool_read(a->spool, &rec) == 1) {
        uint64_t off, end;
        uint32_t crc;
        if (rec.seq < a->commit_seq || !trl_line_rec_position(rec.data, rec.len, &off, &end, &crc))
            continue;
        if (a->nreplay == cap) {
            cap = cap ? cap * 2 : 256;
            a->replay = trl_xrealloc(a->replay, cap * sizeof(*a->replay));
        }
        a->replay[a->nreplay++] = (struct line_pos){off, end, crc, false};
    }
    trl_spool_rewind(a->spool);
    if (a->nreplay) {
        qsort(a->replay, a->nreplay, sizeof(*a->replay), pos_cmp);
        trl_info(COMP, "%zu lines were spooled after the last offsets commit: skipping them once",
                 a->nreplay);
    }
    a->replay_left = a->nreplay;
}

/* The journal is a default source only where no syslog daemon writes the default log files:
 * there rsyslog already copies every journal entry into them, and reading both would deliver
 * each line twice. */
static void setup_journal(struct agent *a, size_t syslog_files)
{
    if (syslog_files > 0) {
        trl_info(COMP, "journal: not read, the syslog files already carry its entries");
        return;
    }
    char *cursor = trl_path_join(a->state_dir, "journal.cursor");
    struct trl_journal_config jc = {.state_path = cursor};
    int rc = trl_journal_create(&jc, &a->journal);
    free(cursor);
    if (rc < 0) {
        a->journal = NULL;
        trl_warn(COMP, "journal unavailable: %s", trl_strerror(rc));
    }
}

static void setup_audit(struct agent *a)
{
    struct trl_audit_nl_config ac = {.mode = TRL_AUDIT_AUTO, .objectives = true};
    int rc = trl_audit_nl_create(&ac, &a->audit);
    if (rc < 0) {
        a->audit = NULL;
        trl_warn(COMP,
                 "Linux audit unavailable (needs root with CAP_AUDIT_CONTROL and "
                 "CAP_AUDIT_READ): %s",
                 trl_strerror(rc));
        return;
    }
    struct trl_audit_nl_stats st;
    trl_audit_nl_get_stats(a->audit, &st);
    trl_info(COMP, "audit: %s, %zu preset rules installed",
             trl_audit_nl_is_multicast(a->audit) ? "alongside auditd" : "as the audit daemon",
             st.rules);
}

static int setup_sources(struct agent *a)
{
    const struct trl_agent_opts *o = a->o;
    char *offsets = trl_path_join(a->state_dir, "tail.offsets");
    struct trl_tail_config tc = {.state_path = offsets};
    int rc = trl_tail_create(&tc, &a->tail);
    free(offsets);
    if (rc < 0) {
        trl_error(COMP, "cannot start the file tailer: %s", trl_strerror(rc));
        return rc;
    }
    size_t nfiles = 0;
    for (size_t i = 0; i < o->ntails; i++) {
        if (trl_tail_add(a->tail, o->tails[i]) != 0) {
            trl_error(COMP, "cannot follow \"%s\"", o->tails[i]);
            return TRL_ECONFIG;
        }
        nfiles++;
    }
    if (o->default_sources) {
        for (size_t i = 0; i < TRL_ARRAY_LEN(default_logs); i++)
            if (access(default_logs[i], F_OK) == 0 && trl_tail_add(a->tail, default_logs[i]) == 0)
                nfiles++;
        trl_tail_exclude(a->tail, "*.gz");
    }
    if (o->default_sources || o->nfim > 0) {
        char *db = trl_path_join(a->state_dir, "fim.db");
        struct trl_fim_config fc = {.db_path = db};
        rc = trl_fim_create(&fc, &a->fim);
        free(db);
        if (rc == 0) {
            for (size_t i = 0; o->default_sources && i < TRL_ARRAY_LEN(default_fim); i++)
                if (access(default_fim[i], F_OK) == 0)
                    trl_fim_add_path(a->fim, default_fim[i]);
            for (size_t i = 0; i < o->nfim; i++)
                if (trl_fim_add_path(a->fim, o->fim[i]) != 0)
                    trl_warn(COMP, "file integrity: cannot monitor \"%s\"", o->fim[i]);
        } else {
            a->fim = NULL;
            a->source_errors++;
            trl_warn(COMP, "file integrity monitoring unavailable: %s", trl_strerror(rc));
        }
    }
    if (o->default_sources || o->processes) {
        struct trl_proc_config pc = {0};
        if ((rc = trl_proc_create(&pc, &a->proc)) < 0) {
            a->proc = NULL;
            a->source_errors++;
            trl_warn(COMP, "process monitoring unavailable (needs root): %s", trl_strerror(rc));
        }
    }
    if (o->default_sources || o->network) {
        struct trl_netconn_config nc = {0};
        if ((rc = trl_netconn_create(&nc, &a->net)) < 0) {
            a->net = NULL;
            a->source_errors++;
            trl_warn(COMP, "network connection monitoring unavailable: %s", trl_strerror(rc));
        }
    }
    if (o->default_sources) {
        char *uo = trl_path_join(a->state_dir, "utmp.offsets");
        struct trl_utmp_config uc = {.state_path = uo};
        if (trl_utmp_create(&uc, &a->utmp) != 0)
            a->utmp = NULL;
        free(uo);
        setup_journal(a, nfiles);
        setup_audit(a);
    }
    trl_info(COMP, "sources: %zu log paths%s%s%s%s%s%s", nfiles, a->fim ? ", file integrity" : "",
             a->proc ? ", processes" : "", a->net ? ", network" : "", a->utmp ? ", logins" : "",
             a->journal ? ", journal" : "", a->audit ? ", audit" : "");
    if (trl_tail_fd(a->tail) >= 0) {
        uv_poll_init(&a->loop, &a->tail_poll, trl_tail_fd(a->tail));
        a->tail_poll.data = a;
        uv_poll_start(&a->tail_poll, UV_READABLE, on_tail_readable);
    }
    if (a->fim && trl_fim_fd(a->fim) >= 0) {
        uv_poll_init(&a->loop, &a->fim_poll, trl_fim_fd(a->fim));
        a->fim_poll.data = a;
        uv_poll_start(&a->fim_poll, UV_READABLE, on_fim_readable);
    }
    if (a->proc) {
        uv_poll_init(&a->loop, &a->proc_poll, trl_proc_fd(a->proc));
        a->proc_poll.data = a;
        uv_poll_start(&a->proc_poll, UV_READABLE, on_proc_readable);
    }
    if (a->journal && trl_journal_fd(a->journal) >= 0) {
        uv_poll_init(&a->loop, &a->journal_poll, trl_journal_fd(a->journal));
        a->journal_poll.data = a;
        uv_poll_start(&a->journal_poll, UV_READABLE, on_journal_readable);
    }
    if (a->audit) {
        uv_poll_init(&a->loop, &a->audit_poll, trl_audit_nl_fd(a->audit));
        a->audit_poll.data = a;
        uv_poll_start(&a->audit_poll, UV_READABLE, on_audit_readable);
    }
    return 0;
}

int trl_agent_run(const struct trl_agent_opts *o)
{
    struct agent *a = trl_xcalloc(1, sizeof(*a));
    a->o = o;
    int rc = TRL_ECONFIG;
    a->state_dir = trl_xstrdup(o->state_dir);
    if (gethostname(a->hostname, sizeof(a->hostname) - 1) != 0)
        snprintf(a->hostname, sizeof(a->hostname), "localhost");
    /* Buffers of 128 KiB and more (batches, the spool's read-ahead, zstd's tables) get mappings of
     * their own, given back to the kernel when freed. glibc otherwise raises this threshold once
     * such a buffer is freed, and the next ones stay in the heap until the next trim. */
    mallopt(M_MMAP_THRESHOLD, 128 << 10);
    /* Compressing batches, one at a time, is all the work this process gives libuv's thread pool:
     * one thread rather than the default four, and threads that share the main malloc arena
     * rather than keeping one each (about 70 KB of stack and 120 KB of arena resident per thread
     * that ran). The network process puts libuv's default back for its name lookups. Set before
     * any thread starts. */
    a->pool_size_set = !getenv("UV_THREADPOOL_SIZE") && setenv("UV_THREADPOOL_SIZE", "1", 0) == 0;
    mallopt(M_ARENA_MAX, 1);
    uv_loop_init(&a->loop);
    uv_async_init(&a->loop, &a->durable_async, on_durable_async);
    a->durable_async.data = a;
    a->arena = trl_arena_create(0);
    a->send_arena = trl_arena_create(0);
    a->zctx = trl_proto_zctx_create();
    a->jcache = trl_json_cache_create();
    if ((rc = trl_state_mkdir(a->state_dir)) < 0) {
        trl_error(COMP, "cannot create the state directory %s: %s", a->state_dir, trl_strerror(rc));
        goto out;
    }
    if ((rc = setup_server(a)) < 0)
        goto out;
    /* Forked now, while the agent is small and has opened nothing else. */
    if ((rc = setup_network(a)) < 0)
        goto out;
    char *spool_dir = trl_path_join(a->state_dir, "spool");
    struct trl_spool_config sc = {
        .dir = spool_dir,
        .max_bytes = o->spool_max_bytes,
        .policy = TRL_SPOOL_BLOCK,
        .sync_interval_ms = 200,
        .background_sync = true,
        .on_durable = on_spool_durable,
        .ud = a,
    };
    rc = trl_spool_create(&sc, &a->spool);
    free(spool_dir);
    if (rc < 0) {
        a->spool = NULL;
        trl_error(COMP, "cannot open the spool: %s", trl_strerror(rc));
        goto out;
    }
    load_replay(a);
    if ((rc = setup_sources(a)) < 0)
        goto out;
    if ((rc = setup_response(a)) < 0)
        goto out;

    uv_timer_init(&a->loop, &a->sources_timer);
    a->sources_timer.data = a;
    uv_timer_start(&a->sources_timer, on_sources_timer, 0, 0);
    uv_timer_init(&a->loop, &a->commit_timer);
    a->commit_timer.data = a;
    uv_timer_start(&a->commit_timer, on_commit_timer, 200, 200);
    uv_timer_init(&a->loop, &a->reconnect_timer);
    a->reconnect_timer.data = a;
    uv_idle_init(&a->loop, &a->tail_idle);
    a->tail_idle.data = a;
    uv_timer_init(&a->loop, &a->unblock_timer);
    a->unblock_timer.data = a;
    uv_timer_init(&a->loop, &a->trim_timer);
    a->trim_timer.data = a;
    uv_timer_start(&a->trim_timer, on_trim_timer, TRIM_FIRST_MS, TRIM_EVERY_MS);
    uv_timer_init(&a->loop, &a->np_timer);
    a->np_timer.data = a;
    start_np_poll(a);
    uv_signal_init(&a->loop, &a->sigterm);
    a->sigterm.data = a;
    uv_signal_start(&a->sigterm, on_signal, SIGTERM);
    uv_signal_init(&a->loop, &a->sigint);
    a->sigint.data = a;
    uv_signal_start(&a->sigint, on_signal, SIGINT);
    signal(SIGPIPE, SIG_IGN);
    a->last_hb_ms = a->last_fwd_report_ms = uv_now(&a->loop);
    struct trl_spool_stats st;
    trl_spool_stats(a->spool, &st);
    trl_info(COMP, "started state=%s server=%s:%s spooled=%llu next_seq=%llu", a->state_dir,
             a->host, a->port, (unsigned long long)st.pending, (unsigned long long)st.next_seq);
    connect_now(a);
    uv_run(&a->loop, UV_RUN_DEFAULT);
    rc = 0;
out:
    a->stopping = true;
    /* No background sync may be running (and wake durable_async) once the handles close. */
    if (a->spool)
        trl_spool_sync(a->spool);
    if (a->link) {
        struct link *k = a->link;
        a->link = NULL;
        k->dead = true;
        uv_close((uv_handle_t *)&k->pipe, on_link_closed);
    }
    uv_walk(&a->loop, close_walk, NULL);
    uv_run(&a->loop, UV_RUN_DEFAULT);
    uv_loop_close(&a->loop);
    if (a->spool && a->commit_path) {
        commit_sources(a);
        apply_ack(a);
    }
    trl_netproc_destroy(a->np);
    trl_buf_free(&a->fwd_msg);
    trl_tail_destroy(a->tail);
    trl_fim_destroy(a->fim);
    trl_proc_destroy(a->proc);
    trl_netconn_destroy(a->net);
    trl_utmp_destroy(a->utmp);
    trl_journal_destroy(a->journal);
    trl_audit_nl_destroy(a->audit);
    trl_response_destroy(a->response);
    for (size_t i = 0; i < a->nprotected; i++)
        free(a->protected_ips[i]);
    free(a->protected_ips);
    trl_spool_destroy(a->spool);
    free(a->ca_path);
    free(a->crt_path);
    free(a->key_path);
    trl_arena_destroy(a->arena);
    trl_arena_destroy(a->send_arena);
    trl_proto_zctx_destroy(a->zctx);
    trl_json_cache_destroy(a->jcache);
    trl_buf_free(&a->json);
    trl_buf_free(&a->pend);
    for (size_t i = 0; i < ZQ_SLOTS; i++) {
        trl_buf_free(&a->zq[i].raw);
        trl_buf_free(&a->zq[i].frame);
    }
    trl_buf_free(&a->frame);
    trl_buf_free(&a->held);
    free(a->replay);
    free(a->commit_path);
    free(a->state_dir);
    free(a);
    return rc;
}

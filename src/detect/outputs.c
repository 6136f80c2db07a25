#include "detect/outputs.h"
#include "core/config.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_OUTPUTS 8
/* Deliveries per output in one pump, so that a long queue does not delay stopping. */
#define PUMP_BATCH 64
/* How often the thread looks for rows another process queued in the same data directory. */
#define IDLE_POLL_MS 1000
/* How long stopping waits for queued alerts to be delivered; the rest waits on disk. */
#define DRAIN_TIMEOUT_MS 10000

struct output_state {
    struct trl_output *out;
    int64_t cursor;   /* last outbox id delivered */
    int64_t attempts; /* failed attempts at the row after the cursor */
    int64_t next_try_ms;
    bool pending; /* rows after the cursor were seen in the last pump */
};

struct trl_outputs {
    sqlite3 *db;
    sqlite3_stmt *next, *save, *purge;
    struct output_state outs[MAX_OUTPUTS];
    size_t nouts;
    int64_t backoff_initial_ms, backoff_max_ms, drain_timeout_ms;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool kick, stop;
};

static const char *schema =
    "CREATE TABLE IF NOT EXISTS alert_output_state ("
    "  output TEXT PRIMARY KEY, cursor INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_try INTEGER NOT NULL DEFAULT 0, last_error TEXT);";

void trl_outputs_config_from(struct trl_outputs_config *out, const struct trl_config *cfg)
{
    *out = (struct trl_outputs_config){
        .data_dir = cfg->data_dir,
        .webhook_url = cfg->alerts.webhook.url,
        .webhook_secret = cfg->alerts.webhook.secret,
        .webhook_ca = cfg->alerts.webhook.ca,
        .webhook_verify_tls = cfg->alerts.webhook.verify_tls,
        .webhook_timeout_ms = cfg->alerts.webhook.timeout_ms,
        .syslog_target = cfg->alerts.syslog.target,
        .syslog_format = (enum trl_syslog_format)cfg->alerts.syslog.format,
        .syslog_ca = cfg->alerts.syslog.ca,
        .exec_argv = (const char *const *)cfg->alerts.exec.command.items,
        .exec_argc = cfg->alerts.exec.command.count,
        .exec_timeout_ms = cfg->alerts.exec.timeout_ms,
        .email_url = cfg->alerts.email.url,
        .email_from = cfg->alerts.email.from,
        .email_to = (const char *const *)cfg->alerts.email.to.items,
        .email_nto = cfg->alerts.email.to.count,
        .email_username = cfg->alerts.email.username,
        .email_password = cfg->alerts.email.password,
        .email_starttls = (enum trl_email_starttls)cfg->alerts.email.starttls,
        .email_subject = cfg->alerts.email.subject,
        .email_timeout_ms = cfg->alerts.email.timeout_ms,
        .backoff_max_ms = cfg->alerts.max_backoff_ms,
        .drain_timeout_ms = DRAIN_TIMEOUT_MS,
    };
}

bool trl_outputs_configured(const struct trl_outputs_config *c)
{
    return (c->webhook_url && c->webhook_url[0]) || (c->syslog_target && c->syslog_target[0]) ||
           c->exec_argc > 0 || (c->email_url && c->email_url[0]);
}

static int64_t now_ms(void)
{
    return trl_now_ns() / 1000000;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
        trl_error("outputs", "prepare failed error=\"%s\"", sqlite3_errmsg(db));
        return -EIO;
    }
    return 0;
}

/* Loads or creates each output's state. A new output starts before the oldest queued row. */
static int load_state(struct trl_outputs *o)
{
    sqlite3_stmt *get = NULL, *ins = NULL;
    int rc = -EIO;
    if (prepare(o->db, "SELECT cursor, attempts FROM alert_output_state WHERE output = ?1", &get) ||
        prepare(o->db,
                "INSERT INTO alert_output_state (output, cursor) SELECT ?1, "
                "ifnull((SELECT min(id) - 1 FROM alert_outbox), 0)",
                &ins))
        goto out;
    for (size_t i = 0; i < o->nouts; i++) {
        struct output_state *s = &o->outs[i];
        sqlite3_bind_text(get, 1, s->out->name, -1, SQLITE_STATIC);
        if (sqlite3_step(get) != SQLITE_ROW) {
            sqlite3_reset(get);
            sqlite3_bind_text(ins, 1, s->out->name, -1, SQLITE_STATIC);
            int r = sqlite3_step(ins);
            sqlite3_reset(ins);
            if (r != SQLITE_DONE)
                goto out;
            if (sqlite3_step(get) != SQLITE_ROW)
                goto out;
        }
        s->cursor = sqlite3_column_int64(get, 0);
        /* A new process tries at once: the wait was for the old one's receiver. */
        s->attempts = sqlite3_column_int64(get, 1);
        s->next_try_ms = 0;
        sqlite3_reset(get);
    }
    rc = 0;
out:
    if (rc)
        trl_error("outputs", "cannot read delivery state error=\"%s\"", sqlite3_errmsg(o->db));
    sqlite3_finalize(get);
    sqlite3_finalize(ins);
    return rc;
}

static int open_queue(struct trl_outputs *o, const char *data_dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/alerts.db", data_dir);
    if (sqlite3_open_v2(path, &o->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        trl_error("outputs", "cannot open path=%s error=\"%s\"", path,
                  o->db ? sqlite3_errmsg(o->db) : "out of memory");
        return -EIO;
    }
    sqlite3_busy_timeout(o->db, 5000);
    char *err = NULL;
    if (sqlite3_exec(o->db, schema, NULL, NULL, &err) != SQLITE_OK) {
        trl_error("outputs", "cannot initialise path=%s error=\"%s\"", path, err ? err : "");
        sqlite3_free(err);
        return -EIO;
    }
    if (prepare(o->db,
                "SELECT id, alert_id, body FROM alert_outbox WHERE id > ?1 ORDER BY id LIMIT 1",
                &o->next) ||
        prepare(o->db,
                "UPDATE alert_output_state SET cursor = ?2, attempts = ?3, next_try = ?4, "
                "last_error = ?5 WHERE output = ?1",
                &o->save) ||
        prepare(o->db, "DELETE FROM alert_outbox WHERE id <= ?1", &o->purge))
        return -EIO;
    return load_state(o);
}

static void save_state(struct trl_outputs *o, const struct output_state *s, const char *error)
{
    sqlite3_bind_text(o->save, 1, s->out->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(o->save, 2, s->cursor);
    sqlite3_bind_int64(o->save, 3, s->attempts);
    sqlite3_bind_int64(o->save, 4, s->next_try_ms);
    sqlite3_bind_text(o->save, 5, error, -1, SQLITE_STATIC);
    if (sqlite3_step(o->save) != SQLITE_DONE)
        trl_error("outputs", "cannot save delivery state output=%s error=\"%s\"", s->out->name,
                  sqlite3_errmsg(o->db));
    sqlite3_reset(o->save);
}

static int64_t backoff_ms(const struct trl_outputs *o, int64_t attempts)
{
    int64_t wait = o->backoff_initial_ms;
    for (int64_t i = 1; i < attempts && wait < o->backoff_max_ms; i++)
        wait *= 2;
    return TRL_MIN(wait, o->backoff_max_ms);
}

/* Offers the row after the cursor to one output. Returns 1 when it was delivered, 0 when there
 * is nothing after the cursor, -1 when the output failed (the state then says when to retry). */
static int deliver_next(struct trl_outputs *o, struct output_state *s)
{
    sqlite3_bind_int64(o->next, 1, s->cursor);
    if (sqlite3_step(o->next) != SQLITE_ROW) {
        sqlite3_reset(o->next);
        return 0;
    }
    const char *body = (const char *)sqlite3_column_text(o->next, 2);
    struct trl_outbox_item it = {
        .id = sqlite3_column_int64(o->next, 0),
        .alert_id = sqlite3_column_int64(o->next, 1),
        .body = body ? body : "{}",
        .len = body ? (size_t)sqlite3_column_bytes(o->next, 2) : 2,
    };
    it.alert = json_loadb(it.body, it.len, 0, NULL);
    if (!it.alert)
        it.alert = json_object();
    char err[512] = "";
    int rc = s->out->deliver(s->out, &it, err, sizeof(err));
    json_decref(it.alert);
    sqlite3_reset(o->next);
    if (rc == 0) {
        if (s->attempts > 0)
            trl_info("outputs", "delivered after retries output=%s alert=%lld attempts=%lld",
                     s->out->name, (long long)it.alert_id, (long long)s->attempts + 1);
        s->cursor = it.id;
        s->attempts = 0;
        s->next_try_ms = 0;
        save_state(o, s, NULL);
        return 1;
    }
    s->attempts++;
    s->next_try_ms = now_ms() + backoff_ms(o, s->attempts);
    trl_warn("outputs",
             "delivery failed output=%s alert=%lld attempt=%lld retry_in_ms=%lld "
             "error=\"%s\"",
             s->out->name, (long long)it.alert_id, (long long)s->attempts,
             (long long)(s->next_try_ms - now_ms()), err);
    save_state(o, s, err);
    return -1;
}

int64_t trl_outputs_pump(struct trl_outputs *o)
{
    int64_t wait = -1;
    int64_t low = INT64_MAX;
    bool advanced = false;
    for (size_t i = 0; i < o->nouts; i++) {
        struct output_state *s = &o->outs[i];
        int r = 1;
        for (int n = 0; n < PUMP_BATCH && s->next_try_ms <= now_ms(); n++) {
            r = deliver_next(o, s);
            if (r <= 0)
                break;
            advanced = true;
        }
        s->pending = r != 0;
        low = TRL_MIN(low, s->cursor);
        if (!s->pending)
            continue;
        int64_t due = TRL_MAX(s->next_try_ms - now_ms(), 0);
        wait = wait < 0 ? due : TRL_MIN(wait, due);
    }
    if (advanced) {
        sqlite3_bind_int64(o->purge, 1, low);
        if (sqlite3_step(o->purge) != SQLITE_DONE)
            trl_error("outputs", "cannot remove delivered alerts error=\"%s\"",
                      sqlite3_errmsg(o->db));
        sqlite3_reset(o->purge);
    }
    return wait;
}

/* Waits on the condition variable for at most ms, or until notified. Called with the lock. */
static void wait_ms(struct trl_outputs *o, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (!o->kick && !o->stop) {
        if (pthread_cond_timedwait(&o->cond, &o->lock, &ts) == ETIMEDOUT)
            break;
    }
    o->kick = false;
}

static void *run(void *arg)
{
    struct trl_outputs *o = arg;
    /* A receiver that closes its socket or pipe must not kill the process: writes then fail
     * with EPIPE and the delivery is retried. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    pthread_mutex_lock(&o->lock);
    while (!o->stop) {
        pthread_mutex_unlock(&o->lock);
        int64_t wait = trl_outputs_pump(o);
        pthread_mutex_lock(&o->lock);
        if (wait != 0)
            wait_ms(o, wait < 0 ? IDLE_POLL_MS : TRL_MIN(wait, IDLE_POLL_MS));
    }
    pthread_mutex_unlock(&o->lock);

    /* Draining: keep delivering (and waiting out backoffs) until the queue is empty or time is
     * up. What is left is sent by the next process. */
    int64_t deadline = trl_mono_ns() / 1000000 + o->drain_timeout_ms;
    for (;;) {
        int64_t wait = trl_outputs_pump(o);
        int64_t left = deadline - trl_mono_ns() / 1000000;
        /* A retry due only after the deadline would not happen anyway: stop now. */
        if (wait < 0 || wait > left)
            break;
        if (wait > 0) {
            struct timespec ts = {.tv_sec = (time_t)(TRL_MIN(wait, left) / 1000),
                                  .tv_nsec = (long)(TRL_MIN(wait, left) % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

static void destroy_outputs(struct trl_output **outs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (outs[i])
            outs[i]->destroy(outs[i]);
    }
}

struct trl_outputs *trl_outputs_create_with(const struct trl_outputs_config *c,
                                            struct trl_output **outs, size_t nouts,
                                            bool start_thread)
{
    if (nouts > MAX_OUTPUTS) {
        destroy_outputs(outs, nouts);
        return NULL;
    }
    struct trl_outputs *o = trl_xcalloc(1, sizeof(*o));
    for (size_t i = 0; i < nouts; i++)
        o->outs[i].out = outs[i];
    o->nouts = nouts;
    o->backoff_initial_ms = c->backoff_initial_ms > 0 ? c->backoff_initial_ms : 1000;
    o->backoff_max_ms = c->backoff_max_ms > 0 ? c->backoff_max_ms : 300000;
    o->backoff_max_ms = TRL_MAX(o->backoff_max_ms, o->backoff_initial_ms);
    o->drain_timeout_ms = c->drain_timeout_ms;
    pthread_mutex_init(&o->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&o->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (open_queue(o, c->data_dir) != 0)
        goto fail;
    if (start_thread) {
        if (pthread_create(&o->thread, NULL, run, o) != 0) {
            trl_error("outputs", "cannot start the delivery thread");
            goto fail;
        }
        o->started = true;
    }
    return o;
fail:
    trl_outputs_destroy(o);
    return NULL;
}

struct trl_outputs *trl_outputs_create(const struct trl_outputs_config *c)
{
    struct trl_output *outs[4];
    size_t n = 0;
    if (c->webhook_url && c->webhook_url[0] && !(outs[n++] = trl_output_webhook_create(c)))
        goto fail;
    if (c->syslog_target && c->syslog_target[0] && !(outs[n++] = trl_output_syslog_create(c)))
        goto fail;
    if (c->exec_argc > 0 && !(outs[n++] = trl_output_exec_create(c)))
        goto fail;
    if (c->email_url && c->email_url[0] && !(outs[n++] = trl_output_email_create(c)))
        goto fail;
    struct trl_outputs *o = trl_outputs_create_with(c, outs, n, true);
    if (o)
        trl_info("outputs", "alert outputs started count=%zu", n);
    return o;
fail:
    destroy_outputs(outs, n);
    return NULL;
}

void trl_outputs_notify(struct trl_outputs *o)
{
    if (!o)
        return;
    pthread_mutex_lock(&o->lock);
    o->kick = true;
    pthread_cond_signal(&o->cond);
    pthread_mutex_unlock(&o->lock);
}

void trl_outputs_destroy(struct trl_outputs *o)
{
    if (!o)
        return;
    if (o->started) {
        pthread_mutex_lock(&o->lock);
        o->stop = true;
        pthread_cond_signal(&o->cond);
        pthread_mutex_unlock(&o->lock);
        pthread_join(o->thread, NULL);
    }
    for (size_t i = 0; i < o->nouts; i++)
        o->outs[i].out->destroy(o->outs[i].out);
    sqlite3_finalize(o->next);
    sqlite3_finalize(o->save);
    sqlite3_finalize(o->purge);
    sqlite3_close(o->db);
    pthread_cond_destroy(&o->cond);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

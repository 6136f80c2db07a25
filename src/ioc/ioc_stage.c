#include "ioc/ioc_stage.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "ioc/iocdb.h"
#include "ioc/matcher.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Tags copied from an indicator into its alert; the rest are left out. */
#define MAX_ALERT_TAGS 32
/* A database written less than this long ago may change again within the same file time. */
#define FRESH_NS (100 * 1000000LL)

/* What identifies one version of ioc.db on disk: the database file and its write-ahead log. A
 * commit changes the log at once and the database at the next checkpoint, so both are watched. */
struct db_signature {
    int64_t db_mtime, wal_mtime;
    int64_t db_size, wal_size;
    uint64_t db_ino;
    bool exists;
};

struct trl_ioc_stage {
    char *data_dir;
    char *db_path;
    char *wal_path;
    int64_t interval_ns;
    struct trl_ioc_handle *handle;
    /* The enrich hook's view (only it touches it) and its scratch arrays. */
    struct trl_ioc_reader reader;
    struct trl_event **evs;
    uint32_t *idx;
    size_t scratch_cap;
    /* The reload thread's state. */
    struct db_signature loaded;
    atomic_size_t indicators;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    bool stopping;
};

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * TRL_NS_PER_SEC + st->st_mtim.tv_nsec;
}

static void read_signature(const struct trl_ioc_stage *s, struct db_signature *sig)
{
    struct stat st;
    memset(sig, 0, sizeof(*sig));
    if (stat(s->db_path, &st) != 0)
        return;
    sig->exists = true;
    sig->db_mtime = mtime_ns(&st);
    sig->db_size = (int64_t)st.st_size;
    sig->db_ino = (uint64_t)st.st_ino;
    if (stat(s->wal_path, &st) == 0) {
        sig->wal_mtime = mtime_ns(&st);
        sig->wal_size = (int64_t)st.st_size;
    }
}

static bool same_signature(const struct db_signature *a, const struct db_signature *b)
{
    return a->exists == b->exists && a->db_mtime == b->db_mtime && a->db_size == b->db_size &&
           a->db_ino == b->db_ino && a->wal_mtime == b->wal_mtime && a->wal_size == b->wal_size;
}

int trl_ioc_stage_check_reload(struct trl_ioc_stage *s)
{
    struct db_signature sig;
    read_signature(s, &sig);
    if (same_signature(&sig, &s->loaded))
        return 0;
    struct trl_ioc_matcher *m = NULL;
    if (sig.exists) {
        struct trl_iocdb *db = trl_iocdb_open_path(s->db_path, true);
        if (!db)
            return -EIO;
        /* Indicators that have already expired could only match events from the past. */
        struct trl_ioc_build_opts bo = {.now_ns = trl_now_ns()};
        int64_t t0 = trl_mono_ns();
        int rc = trl_iocdb_build_matcher(db, &bo, &m);
        trl_iocdb_close(db);
        if (rc < 0) {
            trl_error("ioc", "cannot load indicators file=%s error=\"%s\"", s->db_path,
                      trl_strerror(rc));
            return rc;
        }
        trl_info("ioc", "indicators loaded count=%zu memory_kb=%zu ms=%lld",
                 trl_ioc_matcher_count(m), trl_ioc_matcher_memory(m) / 1024,
                 (long long)((trl_mono_ns() - t0) / 1000000));
    }
    atomic_store(&s->indicators, m ? trl_ioc_matcher_count(m) : 0);
    trl_ioc_handle_publish(s->handle, m);
    s->loaded = sig;
    /* File times advance by clock ticks (milliseconds): a commit later in the tick that stamped
     * what was just read would leave the same signature. Read such a fresh file once more. */
    int64_t newest = sig.db_mtime > sig.wal_mtime ? sig.db_mtime : sig.wal_mtime;
    if (sig.exists && trl_now_ns() - newest < FRESH_NS)
        s->loaded.db_ino = ~sig.db_ino;
    return 1;
}

static void *reload_main(void *arg)
{
    struct trl_ioc_stage *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = (int64_t)until.tv_nsec + s->interval_ns;
        until.tv_sec += (time_t)(ns / TRL_NS_PER_SEC);
        until.tv_nsec = (long)(ns % TRL_NS_PER_SEC);
        pthread_cond_timedwait(&s->wake, &s->mu, &until);
        if (s->stopping)
            break;
        pthread_mutex_unlock(&s->mu);
        trl_ioc_stage_check_reload(s);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static char *join_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = trl_xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

struct trl_ioc_stage *trl_ioc_stage_create(const struct trl_ioc_stage_opts *opts)
{
    struct trl_ioc_stage *s = trl_xcalloc(1, sizeof(*s));
    s->data_dir = trl_xstrdup(opts->data_dir);
    s->db_path = join_path(opts->data_dir, "ioc.db");
    s->wal_path = join_path(opts->data_dir, "ioc.db-wal");
    s->interval_ns = opts->reload_interval_ns > 0 ? opts->reload_interval_ns : 5 * TRL_NS_PER_SEC;
    s->handle = trl_ioc_handle_create();
    s->reader.handle = s->handle;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->wake, NULL);
    trl_ioc_stage_check_reload(s);
    if (!opts->no_reload_thread) {
        int rc = pthread_create(&s->thread, NULL, reload_main, s);
        if (rc != 0) {
            trl_error("ioc", "cannot start the indicator reload thread: %s", strerror(rc));
            goto fail;
        }
        s->thread_started = true;
    }
    return s;
fail:
    trl_ioc_stage_destroy(s);
    return NULL;
}

void trl_ioc_stage_destroy(struct trl_ioc_stage *s)
{
    if (!s)
        return;
    if (s->thread_started) {
        pthread_mutex_lock(&s->mu);
        s->stopping = true;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    trl_ioc_reader_release(&s->reader);
    trl_ioc_handle_destroy(s->handle);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mu);
    free(s->evs);
    free(s->idx);
    free(s->wal_path);
    free(s->db_path);
    free(s->data_dir);
    free(s);
}

size_t trl_ioc_stage_indicators(struct trl_ioc_stage *s)
{
    return atomic_load(&s->indicators);
}

/* ---- Matching a batch (the enrich hook, one batch at a time) ---- */

struct batch_ctx {
    struct trl_ioc_stage *s;
    struct trl_batch *b;
    struct trl_ioc_batch_hits *hits;
    int64_t last_event;
};

static const char *arena_copy(struct trl_arena *a, const char *s, size_t len)
{
    return s ? trl_arena_strndup(a, s, len) : NULL;
}

static int on_hit(void *ud, size_t index, const struct trl_ioc_hit *h)
{
    struct batch_ctx *c = ud;
    struct trl_arena *a = c->b->arena;
    struct trl_ioc_batch_hits *hs = c->hits;
    if (!hs) {
        hs = c->hits = trl_arena_alloc(a, sizeof(*hs));
        memset(hs, 0, sizeof(*hs));
    }
    if (hs->n == hs->cap) {
        /* Old arrays stay in the arena until the batch is recycled: hits are rare. */
        size_t cap = hs->cap ? hs->cap * 2 : 16;
        struct trl_ioc_batch_hit *items = trl_arena_alloc(a, cap * sizeof(*items));
        if (hs->n)
            memcpy(items, hs->items, hs->n * sizeof(*items));
        hs->items = items;
        hs->cap = cap;
    }
    uint32_t ev = c->s->idx[index];
    if ((int64_t)ev != c->last_event) {
        hs->events_hit++;
        c->last_event = ev;
    }
    /* The matcher may be replaced (and freed) before the worker reads the hits: copy. */
    hs->items[hs->n++] = (struct trl_ioc_batch_hit){
        .event = ev,
        .type = h->type,
        .confidence = h->confidence,
        .value = arena_copy(a, h->value, strlen(h->value)),
        .id = arena_copy(a, h->id, h->id ? strlen(h->id) : 0),
        .source = arena_copy(a, h->source, h->source ? strlen(h->source) : 0),
        .tags_json = arena_copy(a, h->tags_json, h->tags_json ? strlen(h->tags_json) : 0),
        .field = arena_copy(a, h->field, h->field ? strlen(h->field) : 0),
    };
    return 0;
}

void trl_ioc_stage_enrich(void *stage, struct trl_batch *b)
{
    struct trl_ioc_stage *s = stage;
    const struct trl_ioc_matcher *m = trl_ioc_reader_refresh(&s->reader);
    if (!m || b->nevents == 0)
        return;
    if (s->scratch_cap < b->nevents) {
        s->scratch_cap = b->nevents;
        s->evs = trl_xrealloc(s->evs, s->scratch_cap * sizeof(*s->evs));
        s->idx = trl_xrealloc(s->idx, s->scratch_cap * sizeof(*s->idx));
    }
    /* Audit records waiting for the rest of their event leave empty slots. */
    size_t n = 0;
    for (uint32_t i = 0; i < b->nevents; i++) {
        if (b->events[i]) {
            s->evs[n] = b->events[i];
            s->idx[n++] = i;
        }
    }
    struct batch_ctx c = {.s = s, .b = b, .last_event = -1};
    if (trl_ioc_match_batch(m, s->evs, n, on_hit, &c) == 0 || !c.hits)
        return;
    int64_t last = -1;
    for (size_t i = 0; i < c.hits->n; i++) {
        uint32_t ev = c.hits->items[i].event;
        if ((int64_t)ev != last)
            trl_ioc_enrich_event(m, b->events[ev]);
        last = ev;
    }
    b->ioc_hits = c.hits;
}

/* ---- Alerts (worker thread, or the retro-hunt) ---- */

static const char *level_of(int confidence)
{
    return confidence >= 80 ? "high" : confidence >= 50 ? "medium" : "low";
}

int trl_ioc_alert_add(struct trl_alert_store *store, const struct trl_ioc_alert_info *in)
{
    const char *tags[MAX_ALERT_TAGS + 1];
    size_t ntags = 0;
    json_t *arr = in->tags_json ? json_loads(in->tags_json, 0, NULL) : NULL;
    if (json_is_array(arr)) {
        for (size_t i = 0; i < json_array_size(arr) && ntags < MAX_ALERT_TAGS; i++) {
            const char *t = json_string_value(json_array_get(arr, i));
            if (t)
                tags[ntags++] = t;
        }
    }
    if (in->retro)
        tags[ntags++] = "retro-hunt";

    const char *type = trl_ioc_type_name(in->type);
    size_t idlen = strlen(in->id ? in->id : "") + 8;
    char *rule_id = trl_xmalloc(idlen);
    snprintf(rule_id, idlen, "ioc:%s", in->id ? in->id : "");
    size_t tlen = strlen(type) + strlen(in->value) + 64;
    char *title = trl_xmalloc(tlen);
    snprintf(title, tlen, "Threat intel match%s: %s %s", in->retro ? " (retro-hunt)" : "", type,
             in->value);

    char first_seen[TRL_RFC3339_MAX] = "";
    trl_format_rfc3339(in->timestamp_ns, first_seen);
    const char *gf[3] = {"indicator", "field", "first_seen"};
    const char *gv[3] = {in->value, in->field ? in->field : "", first_seen};
    const char *ids[1] = {in->event_id};
    struct trl_alert a = {
        .rule_id = rule_id,
        .title = title,
        .level = level_of(in->confidence),
        .tags = tags,
        .ntags = ntags,
        .group_fields = gf,
        .group_values = gv,
        .ngroup = in->retro ? 3 : 2,
        .event_ids = ids,
        .nevents = in->event_id ? 1 : 0,
        .host = in->host,
        .timestamp_ns = in->timestamp_ns,
    };
    int rc = trl_alert_store_add(store, &a);
    json_decref(arr);
    free(title);
    free(rule_id);
    return rc;
}

/* Copies an event field into buf as a C string; NULL when the event lacks it. */
static const char *field_text(const struct trl_event *ev, enum trl_field f, char *buf, size_t cap)
{
    size_t len;
    const char *v = trl_event_get(ev, f, &len);
    if (!v)
        return NULL;
    snprintf(buf, cap, "%.*s", (int)TRL_MIN(len, cap - 1), v);
    return buf;
}

size_t trl_ioc_alert_batch(const struct trl_batch *b, struct trl_alert_store *store,
                           uint64_t *written)
{
    const struct trl_ioc_batch_hits *hs = b->ioc_hits;
    size_t failed = 0;
    if (!hs)
        return 0;
    for (size_t i = 0; i < hs->n; i++) {
        const struct trl_ioc_batch_hit *h = &hs->items[i];
        const struct trl_event *ev = h->event < b->nevents ? b->events[h->event] : NULL;
        if (!ev)
            continue;
        char host[256], id[64];
        struct trl_ioc_alert_info info = {
            .type = h->type,
            .confidence = h->confidence,
            .value = h->value,
            .id = h->id,
            .tags_json = h->tags_json,
            .field = h->field,
            .host = field_text(ev, TRL_F_HOST_NAME, host, sizeof(host)),
            .event_id = field_text(ev, TRL_F_EVENT_ID, id, sizeof(id)),
            .timestamp_ns = ev->timestamp_ns ? ev->timestamp_ns : ev->received_ns,
        };
        if (trl_ioc_alert_add(store, &info) == 0)
            (*written)++;
        else
            failed++;
    }
    return failed;
}

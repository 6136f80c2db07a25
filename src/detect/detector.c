#include "detect/detector.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "detect/alerts.h"
#include "detect/rule_state.h"
#include "detect/sigma.h"
#include "ioc/ioc_stage.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The text of one rule file as last loaded, so that a reload that finds it broken can keep it. */
struct rule_file {
    char *path;
    char *text;
    size_t len;
};

/* A compiled ruleset with its evaluation state and load counters: what the worker evaluates. */
struct rule_set {
    struct trl_sigma_ruleset *rules;
    struct trl_sigma_scratch *scratch;
    size_t nrules, unsupported, invalid;
    _Atomic uint64_t *hits; /* matches per rule index since start (written by the worker) */
};

struct trl_detector {
    struct rule_set *set; /* the worker's */
    struct trl_alert_store *alerts;
    struct trl_outputs *outputs;   /* NULL: alerts are only stored */
    struct trl_response *response; /* NULL: no active response */
    struct trl_detector_stats stats;
    /* The event being evaluated, and the ids of the batch's events for correlation reports. */
    const struct trl_event *current;
    struct trl_batch *batch;
    /* Reload: the files as last loaded (the reloading thread's), and a ruleset built for the
     * worker to swap in at its next batch. */
    struct rule_file *files;
    size_t nfiles;
    pthread_mutex_t lock;
    struct rule_set *pending; /* under lock */
    atomic_bool has_pending;
    /* Rules turned off (DATA/rules-state.json): the state is under lock; the worker applies it to
     * its ruleset before the next batch when state_changed is set, and to every reloaded one. */
    char *data_dir;
    struct trl_rule_state state;
    atomic_bool state_changed;
    /* Time spent in trl_detector_process() and events evaluated, for rates per event. */
    _Atomic uint64_t eval_ns;
    _Atomic uint64_t eval_events;
};

/* Counts problems while a ruleset is built; logs them unless quiet. */
struct load_stats {
    size_t unsupported, invalid;
    bool quiet;
};

static void log_problem(void *ud, const char *file, int line, const char *rule, const char *reason,
                        bool unsupported)
{
    struct load_stats *st = ud;
    if (unsupported)
        st->unsupported++;
    else
        st->invalid++;
    if (st->quiet)
        return;
    trl_warn("rules", "%s rule skipped file=%s line=%d title=\"%s\" reason=\"%s\"",
             unsupported ? "unsupported" : "invalid", file, line, rule ? rule : "", reason);
}

static void rule_set_destroy(struct rule_set *rs)
{
    if (!rs)
        return;
    trl_sigma_scratch_destroy(rs->scratch);
    trl_sigma_ruleset_destroy(rs->rules);
    free(rs->hits);
    free(rs);
}

static void files_free(struct rule_file *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(f[i].path);
        free(f[i].text);
    }
    free(f);
}

struct list_ctx {
    char ***out;
    size_t *n;
    int depth;
};

static void list_files(const char *path, char ***out, size_t *n, int depth);

static void list_entry(void *ud, const char *path)
{
    struct list_ctx *c = ud;
    list_files(path, c->out, c->n, c->depth + 1);
}

/* Lists path, or the rule files under it (recursively, sorted like trl_sigma_load_path()). */
static void list_files(const char *path, char ***out, size_t *n, int depth)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        trl_warn("rules", "cannot read rules path=%s error=\"%s\"", path, strerror(errno));
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        *out = trl_xrealloc(*out, (*n + 1) * sizeof(**out));
        (*out)[(*n)++] = trl_xstrdup(path);
        return;
    }
    struct list_ctx c = {out, n, depth};
    if (depth >= 32 || trl_sigma_dir_each(path, list_entry, &c) != 0)
        trl_warn("rules", "cannot read rules directory path=%s", path);
}

static int read_file(const char *path, char **text, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -errno;
    struct trl_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        trl_buf_append(&b, chunk, n);
    int rc = ferror(fp) ? -EIO : 0;
    fclose(fp);
    if (rc) {
        trl_buf_free(&b);
        return rc;
    }
    trl_buf_putc(&b, '\0');
    *len = b.len - 1;
    *text = b.data;
    return 0;
}

static const struct rule_file *find_file(const struct rule_file *files, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(files[i].path, path))
            return &files[i];
    }
    return NULL;
}

/* Builds a ruleset from the files under paths. With old files (a reload), a file that is now
 * unreadable or has an invalid rule is reported and its old text is loaded instead. The texts
 * loaded are returned in files. */
static struct rule_set *build_rules(const char *const *paths, size_t npaths,
                                    const struct rule_file *old, size_t nold, bool reload,
                                    struct rule_file **files, size_t *nfiles)
{
    char **names = NULL;
    size_t nnames = 0;
    for (size_t i = 0; i < npaths; i++)
        list_files(paths[i], &names, &nnames, 0);
    struct rule_set *set = trl_xcalloc(1, sizeof(*set));
    set->rules = trl_sigma_ruleset_create();
    struct rule_file *out = trl_xcalloc(nnames + 1, sizeof(*out));
    size_t nout = 0;
    struct load_stats total = {0};
    for (size_t i = 0; i < nnames; i++) {
        const struct rule_file *prev = reload ? find_file(old, nold, names[i]) : NULL;
        char *text = NULL;
        size_t len = 0;
        int rc = read_file(names[i], &text, &len);
        bool keep_old = false;
        if (rc != 0) {
            trl_warn("rules", "cannot read rule file file=%s error=\"%s\"%s", names[i],
                     strerror(-rc), prev ? " previous_version_kept=1" : "");
            keep_old = prev != NULL;
        } else if (reload && !(prev && prev->len == len && !memcmp(prev->text, text, len))) {
            /* A changed or new file is tried on its own first, so that one broken rule does not
             * take the file's working rules away. */
            struct trl_sigma_ruleset *trial = trl_sigma_ruleset_create();
            struct load_stats st = {0};
            trl_sigma_load_buffer(trial, names[i], text, len, log_problem, &st);
            trl_sigma_ruleset_destroy(trial);
            if (st.invalid > 0 && prev) {
                trl_warn("rules",
                         "rule file has invalid rules: its previous version stays in effect "
                         "file=%s invalid=%zu",
                         names[i], st.invalid);
                keep_old = true;
            }
        }
        if (keep_old) {
            free(text);
            text = trl_xstrndup(prev->text, prev->len);
            len = prev->len;
        } else if (rc != 0) {
            free(names[i]);
            continue;
        }
        /* On reload the problems of the text loaded were logged when it was tried or first
         * loaded: count them only. */
        struct load_stats st = {.quiet = reload};
        trl_sigma_load_buffer(set->rules, names[i], text, len, log_problem, &st);
        total.unsupported += st.unsupported;
        total.invalid += st.invalid;
        out[nout++] = (struct rule_file){names[i], text, len};
    }
    free(names);
    trl_sigma_ruleset_finalize(set->rules, log_problem, &total);
    set->nrules = trl_sigma_rule_count(set->rules);
    set->unsupported = total.unsupported;
    set->invalid = total.invalid;
    set->scratch = trl_sigma_scratch_create(set->rules);
    set->hits = trl_xcalloc(set->nrules + 1, sizeof(*set->hits));
    *files = out;
    *nfiles = nout;
    return set;
}

static void use_counts(struct trl_detector *d, const struct rule_set *set)
{
    d->stats.rules = set->nrules;
    d->stats.unsupported = set->unsupported;
    d->stats.invalid = set->invalid;
}

struct trl_detector *trl_detector_create(const struct trl_detector_config *cfg)
{
    struct trl_detector *d = trl_xcalloc(1, sizeof(*d));
    pthread_mutex_init(&d->lock, NULL);
    d->set = build_rules(cfg->rule_paths, cfg->nrule_paths, NULL, 0, false, &d->files, &d->nfiles);
    use_counts(d, d->set);
    d->response = cfg->response;
    d->data_dir = trl_xstrdup(cfg->data_dir);
    (void)trl_detector_load_rule_state(d);
    d->alerts = trl_alert_store_open(cfg->data_dir, cfg->fold_window_ns, false);
    if (!d->alerts) {
        trl_detector_destroy(d);
        return NULL;
    }
    if (cfg->outputs && trl_outputs_configured(cfg->outputs) &&
        (trl_alert_store_set_outbox(d->alerts, cfg->outputs_min_level) != 0 ||
         !(d->outputs = trl_outputs_create(cfg->outputs)))) {
        trl_detector_destroy(d);
        return NULL;
    }
    trl_info("rules", "loaded rules=%zu unsupported=%zu invalid=%zu", d->stats.rules,
             d->stats.unsupported, d->stats.invalid);
    return d;
}

void trl_detector_destroy(struct trl_detector *d)
{
    if (!d)
        return;
    /* The store commits what is pending first, so that the outputs drain every last alert. */
    trl_alert_store_close(d->alerts);
    trl_outputs_destroy(d->outputs);
    rule_set_destroy(d->set);
    rule_set_destroy(d->pending);
    files_free(d->files, d->nfiles);
    trl_rule_state_free(&d->state);
    free(d->data_dir);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

int trl_detector_reload(struct trl_detector *d, const char *const *paths, size_t npaths)
{
    struct rule_file *files = NULL;
    size_t nfiles = 0;
    struct rule_set *set = build_rules(paths, npaths, d->files, d->nfiles, true, &files, &nfiles);
    files_free(d->files, d->nfiles);
    d->files = files;
    d->nfiles = nfiles;
    pthread_mutex_lock(&d->lock);
    /* A reload the worker has not taken yet is replaced by this newer one. */
    struct rule_set *superseded = d->pending;
    d->pending = set;
    atomic_store_explicit(&d->has_pending, true, memory_order_release);
    pthread_mutex_unlock(&d->lock);
    rule_set_destroy(superseded);
    /* A reload also reads which rules are turned off: `trapline rules disable` relies on it. */
    (void)trl_detector_load_rule_state(d);
    trl_info("rules", "reload prepared rules=%zu unsupported=%zu invalid=%zu files=%zu",
             set->nrules, set->unsupported, set->invalid, nfiles);
    return 0;
}

int trl_detector_load_rule_state(struct trl_detector *d)
{
    struct trl_rule_state st;
    int rc = trl_rule_state_load(d->data_dir, &st);
    if (rc != 0) {
        trl_warn("rules",
                 "cannot read the rule state, every rule stays as it was file=%s/%s "
                 "error=\"%s\"",
                 d->data_dir, TRL_RULE_STATE_FILE, trl_strerror(rc));
        return rc;
    }
    if (st.ndisabled)
        trl_info("rules", "rules turned off disabled=%zu file=%s/%s", st.ndisabled, d->data_dir,
                 TRL_RULE_STATE_FILE);
    pthread_mutex_lock(&d->lock);
    trl_rule_state_free(&d->state);
    d->state = st;
    atomic_store_explicit(&d->state_changed, true, memory_order_release);
    pthread_mutex_unlock(&d->lock);
    return 0;
}

/* Turns the rules of set on or off as the state says. Called with the lock held. */
static void apply_state(const struct trl_detector *d, struct rule_set *set)
{
    for (size_t i = 0; i < set->nrules; i++) {
        struct trl_sigma_rule_info info;
        trl_sigma_rule_get_info(set->rules, i, &info);
        trl_sigma_scratch_set_enabled(set->scratch, i,
                                      !trl_rule_state_is_disabled(&d->state, info.id));
    }
}

struct rule_hits {
    const char *id;
    uint64_t hits;
};

static int cmp_hits(const void *a, const void *b)
{
    return strcmp(((const struct rule_hits *)a)->id, ((const struct rule_hits *)b)->id);
}

/* The match counters of the rules that are still there (same id) go on counting. */
static void carry_hits(const struct rule_set *from, struct rule_set *to)
{
    struct rule_hits *old = trl_xcalloc(from->nrules + 1, sizeof(*old));
    size_t n = 0;
    for (size_t i = 0; i < from->nrules; i++) {
        struct trl_sigma_rule_info info;
        trl_sigma_rule_get_info(from->rules, i, &info);
        uint64_t h = atomic_load_explicit(&from->hits[i], memory_order_relaxed);
        if (info.id && h)
            old[n++] = (struct rule_hits){info.id, h};
    }
    if (n > 1)
        qsort(old, n, sizeof(*old), cmp_hits);
    for (size_t i = 0; n && i < to->nrules; i++) {
        struct trl_sigma_rule_info info;
        trl_sigma_rule_get_info(to->rules, i, &info);
        struct rule_hits key = {info.id, 0};
        const struct rule_hits *f = info.id ? bsearch(&key, old, n, sizeof(*old), cmp_hits) : NULL;
        if (f)
            atomic_store_explicit(&to->hits[i], f->hits, memory_order_relaxed);
    }
    free(old);
}

/* On the worker, between batches: takes a reloaded ruleset with the windows of the correlations
 * that did not change. The swap is made under the lock, so that trl_detector_each_rule() never
 * sees a ruleset being freed. */
static void swap_pending(struct trl_detector *d)
{
    pthread_mutex_lock(&d->lock);
    struct rule_set *set = d->pending;
    d->pending = NULL;
    atomic_store_explicit(&d->has_pending, false, memory_order_relaxed);
    if (!set) {
        pthread_mutex_unlock(&d->lock);
        return;
    }
    size_t kept = trl_sigma_scratch_adopt(set->scratch, d->set->scratch);
    size_t corrs = trl_sigma_correlation_count(set->rules);
    carry_hits(d->set, set);
    apply_state(d, set);
    atomic_store_explicit(&d->state_changed, false, memory_order_relaxed);
    struct rule_set *old = d->set;
    d->set = set;
    pthread_mutex_unlock(&d->lock);
    rule_set_destroy(old);
    use_counts(d, set);
    trl_info("rules",
             "reloaded rules=%zu unsupported=%zu invalid=%zu correlations=%zu "
             "correlations_kept_state=%zu",
             set->nrules, set->unsupported, set->invalid, corrs, kept);
}

static uint64_t event_number(const struct trl_event *ev)
{
    size_t len;
    const char *id = trl_event_get(ev, TRL_F_EVENT_ID, &len);
    return id ? strtoull(id, NULL, 16) : 0;
}

static void on_match(void *ud, const struct trl_sigma_match *m)
{
    struct trl_detector *d = ud;
    struct trl_sigma_rule_info info;
    trl_sigma_rule_get_info(d->set->rules, m->rule_index, &info);
    const struct trl_event *ev = d->current;
    size_t len = 0;
    const char *host = trl_event_get(ev, TRL_F_HOST_NAME, &len);
    char hostbuf[256] = "";
    if (host)
        snprintf(hostbuf, sizeof(hostbuf), "%.*s", (int)TRL_MIN(len, 255), host);

    /* Event ids travel as 64-bit numbers through correlation and are stored as event.id text. */
    char idtext[64][17];
    const char *ids[64];
    size_t nids = 0;
    if (m->correlation) {
        for (size_t i = 0; i < m->nevents && nids < 64; i++) {
            snprintf(idtext[nids], sizeof(idtext[nids]), "%016llx",
                     (unsigned long long)m->event_ids[i]);
            ids[nids] = idtext[nids];
            nids++;
        }
    } else {
        snprintf(idtext[0], sizeof(idtext[0]), "%016llx", (unsigned long long)event_number(ev));
        ids[0] = idtext[0];
        nids = 1;
    }
    struct trl_alert a = {
        .rule_id = info.id,
        .title = info.title,
        .level = info.level,
        .tags = info.tags,
        .ntags = info.ntags,
        .correlation = info.type,
        .group_fields = m->group_fields,
        .group_values = m->group_values,
        .ngroup = m->ngroup,
        .event_ids = ids,
        .nevents = nids,
        .count = (int64_t)m->count,
        .host = host ? hostbuf : NULL,
        .timestamp_ns = ev->timestamp_ns ? ev->timestamp_ns : ev->received_ns,
    };
    d->stats.matches++;
    atomic_fetch_add_explicit(&d->set->hits[m->rule_index], 1, memory_order_relaxed);
    if (trl_alert_store_add(d->alerts, &a) != 0)
        d->stats.alert_errors++;
    trl_response_alert(d->response, info.id, info.level, ev, m->group_fields, m->group_values,
                       m->ngroup);
}

int trl_detector_process(void *detector, struct trl_batch *b)
{
    struct trl_detector *d = detector;
    int64_t start = trl_mono_ns();
    if (atomic_load_explicit(&d->has_pending, memory_order_acquire))
        swap_pending(d);
    if (atomic_load_explicit(&d->state_changed, memory_order_acquire)) {
        pthread_mutex_lock(&d->lock);
        atomic_store_explicit(&d->state_changed, false, memory_order_relaxed);
        apply_state(d, d->set);
        pthread_mutex_unlock(&d->lock);
    }
    uint64_t evaluated = 0;
    for (uint32_t i = 0; i < b->nevents; i++) {
        const struct trl_event *ev = b->events[i];
        if (!ev)
            continue;
        evaluated++;
        /* Without rules there is nothing to evaluate: do not even read the event's id. */
        if (d->set->nrules == 0)
            continue;
        d->current = ev;
        trl_sigma_eval(d->set->rules, d->set->scratch, ev, event_number(ev), on_match, d);
    }
    /* Threat-intelligence hits found while the batch was parsed: one alert each. */
    d->stats.alert_errors += trl_ioc_alert_batch(b, d->alerts, &d->stats.ioc_matches);
    d->stats.events += b->nevents;
    int rc = trl_alert_store_commit(d->alerts);
    if (rc == 0)
        trl_outputs_notify(d->outputs);
    int64_t took = trl_mono_ns() - start;
    atomic_fetch_add_explicit(&d->eval_ns, took > 0 ? (uint64_t)took : 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&d->eval_events, evaluated, memory_order_relaxed);
    return rc;
}

void trl_detector_get_stats(const struct trl_detector *d, struct trl_detector_stats *out)
{
    *out = d->stats;
}

void trl_detector_each_rule(struct trl_detector *d,
                            void (*fn)(void *ud, const char *id, bool enabled, uint64_t hits),
                            void *ud)
{
    pthread_mutex_lock(&d->lock);
    const struct rule_set *set = d->set;
    for (size_t i = 0; i < set->nrules; i++) {
        struct trl_sigma_rule_info info;
        trl_sigma_rule_get_info(set->rules, i, &info);
        if (info.id)
            fn(ud, info.id, !trl_rule_state_is_disabled(&d->state, info.id),
               atomic_load_explicit(&set->hits[i], memory_order_relaxed));
    }
    pthread_mutex_unlock(&d->lock);
}

bool trl_detector_rule_enabled(struct trl_detector *d, const char *id)
{
    pthread_mutex_lock(&d->lock);
    bool on = !trl_rule_state_is_disabled(&d->state, id);
    pthread_mutex_unlock(&d->lock);
    return on;
}

void trl_detector_get_eval_stats(const struct trl_detector *d, uint64_t *events, uint64_t *ns)
{
    *events = atomic_load_explicit(&d->eval_events, memory_order_relaxed);
    *ns = atomic_load_explicit(&d->eval_ns, memory_order_relaxed);
}

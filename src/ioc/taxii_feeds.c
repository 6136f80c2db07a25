/* TAXII feeds: the refresh of one feed and the thread that refreshes them all on schedule. */
#include "ioc/taxii_feeds.h"
#include "core/buf.h"
#include "core/http_lib.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "ioc/feed_internal.h"
#include "ioc/hunt.h"
#include "ioc/iocdb.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FIRST_RETRY_MS INT64_C(5000)
#define MAX_RETRY_MS   (3600 * INT64_C(1000))
/* Events stamped a little ahead of this host's clock are still hunted. */
#define HUNT_AHEAD_NS (60 * TRL_NS_PER_SEC)

/* ---- The cursor, DATA/taxii/<feed>.json ---- */

static char *state_path(const char *data_dir, const char *name)
{
    struct trl_buf p = {0};
    trl_buf_printf(&p, "%s/taxii/%s.json", data_dir, name);
    return p.data;
}

/* The saved cursor, when it was saved for the same server and collection. */
static char *load_cursor(const char *data_dir, const struct trl_taxii_spec *spec)
{
    char *path = state_path(data_dir, spec->name);
    json_t *j = json_load_file(path, 0, NULL);
    free(path);
    const char *url = json_string_value(json_object_get(j, "url"));
    const char *coll = json_string_value(json_object_get(j, "collection"));
    const char *after = json_string_value(json_object_get(j, "added_after"));
    char *cursor = NULL;
    if (url && coll && after && !strcmp(url, spec->url) && !strcmp(coll, spec->collection) &&
        strlen(after) <= TRL_TAXII_TOKEN_MAX)
        cursor = trl_xstrdup(after);
    json_decref(j);
    return cursor;
}

/* Writes the cursor to a temporary file and renames it over the old one, so that a crash leaves
 * either cursor whole. */
static int save_cursor(const char *data_dir, const struct trl_taxii_spec *spec, const char *cursor)
{
    struct trl_buf dir = {0};
    trl_buf_printf(&dir, "%s/taxii", data_dir);
    if (mkdir(dir.data, 0750) != 0 && errno != EEXIST) {
        int e = -errno;
        trl_error("taxii", "cannot create %s: %s", dir.data, strerror(errno));
        trl_buf_free(&dir);
        return e;
    }
    trl_buf_free(&dir);
    char *path = state_path(data_dir, spec->name);
    struct trl_buf tmp = {0};
    trl_buf_printf(&tmp, "%s.tmp", path);
    json_t *j = json_pack("{s:s, s:s, s:s}", "url", spec->url, "collection", spec->collection,
                          "added_after", cursor);
    int rc = j && json_dump_file(j, tmp.data, JSON_COMPACT) == 0 ? 0 : -EIO;
    if (rc == 0 && rename(tmp.data, path) != 0)
        rc = -errno;
    if (rc != 0) {
        trl_error("taxii", "cannot save the cursor of feed=%s file=%s", spec->name, path);
        unlink(tmp.data);
    }
    json_decref(j);
    trl_buf_free(&tmp);
    free(path);
    return rc;
}

/* ---- One refresh ---- */

struct import {
    struct trl_iocdb *db;
    int64_t now;
    size_t created, updated;
    int error;
};

static int import_indicator(void *ud, const struct trl_ioc *ioc)
{
    struct import *im = ud;
    bool created = false;
    int rc = trl_iocdb_upsert(im->db, ioc, im->now, &created);
    if (rc < 0) {
        im->error = rc;
        return rc;
    }
    if (created)
        im->created++;
    else
        im->updated++;
    return 0;
}

static void record_error(const char *data_dir, const struct trl_taxii_spec *spec, const char *err)
{
    struct trl_iocdb *db = trl_iocdb_open(data_dir, false);
    if (!db)
        return;
    trl_iocdb_feed_update(db, spec->name, "taxii", spec->url, trl_now_ns(), err);
    trl_iocdb_close(db);
}

/* A new version of an indicator that revokes it takes the older versions out of ioc.db (STIX ids
 * are unique, whichever feed brought them). */
static int remove_revoked(struct trl_iocdb *db, const json_t *objects, size_t *removed)
{
    size_t i;
    const json_t *o;
    json_array_foreach(objects, i, o)
    {
        const char *type = json_string_value(json_object_get(o, "type"));
        const char *id = json_string_value(json_object_get(o, "id"));
        if (!type || strcmp(type, "indicator") || !id || strncmp(id, "indicator--", 11) ||
            !json_is_true(json_object_get(o, "revoked")))
            continue;
        long n = trl_iocdb_remove(db, id);
        if (n < 0)
            return (int)n;
        *removed += (size_t)n;
    }
    return 0;
}

static int import_objects(const char *data_dir, const struct trl_taxii_spec *spec,
                          const struct trl_taxii_poll *poll, int64_t now,
                          struct trl_taxii_refresh *res, char *err, size_t errlen)
{
    struct trl_iocdb *db = trl_iocdb_open(data_dir, false);
    if (!db) {
        snprintf(err, errlen, "cannot open the indicator database in %s", data_dir);
        return -EIO;
    }
    struct import im = {.db = db, .now = now};
    struct trl_ioc_sink sink = {.indicator = import_indicator, .ud = &im};
    struct trl_ioc_parse_opts po = {.source = spec->name, .confidence = spec->confidence};
    int rc = trl_iocdb_begin(db);
    if (rc == 0)
        rc = trl_ioc_parse_stix_objects(poll->objects, &po, &sink);
    /* Problems with single objects are the feed's, not the refresh's: they are counted. */
    if (rc == TRL_EINVAL)
        rc = 0;
    if (rc == 0)
        rc = remove_revoked(db, poll->objects, &res->revoked);
    if (rc == 0)
        rc = trl_iocdb_feed_update(db, spec->name, "taxii", poll->collection_url, now, NULL);
    if (rc == 0)
        rc = trl_iocdb_commit(db);
    else
        trl_iocdb_rollback(db);
    trl_iocdb_close(db);
    if (rc != 0) {
        snprintf(err, errlen, "cannot store the indicators: %s", trl_strerror(rc));
        return rc;
    }
    res->created = im.created;
    res->updated = im.updated;
    res->skipped = sink.skipped;
    res->notes = sink.notes;
    return 0;
}

int trl_taxii_refresh(const char *data_dir, const struct trl_taxii_spec *spec,
                      const atomic_bool *stop, struct trl_taxii_refresh *res, char *err,
                      size_t errlen)
{
    memset(res, 0, sizeof(*res));
    char *cursor = load_cursor(data_dir, spec);
    struct trl_taxii_poll poll;
    int64_t start = trl_now_ns();
    int rc = trl_taxii_poll(spec, cursor, stop, &poll, err, errlen);
    free(cursor);
    res->pages = poll.pages;
    if (rc != 0) {
        record_error(data_dir, spec, err);
        trl_taxii_poll_clear(&poll);
        return rc;
    }
    res->objects = json_array_size(poll.objects);
    res->partial = poll.partial;
    rc = import_objects(data_dir, spec, &poll, start, res, err, errlen);
    /* The cursor moves only once its objects are stored: a failed import is fetched again. */
    if (rc == 0 && poll.cursor)
        save_cursor(data_dir, spec, poll.cursor);
    trl_taxii_poll_clear(&poll);
    if (rc != 0) {
        record_error(data_dir, spec, err);
        return rc;
    }
    if (spec->hunt_ms > 0 && res->created + res->updated > 0) {
        int64_t now = trl_now_ns();
        struct trl_ioc_hunt_opts ho = {
            .data_dir = data_dir,
            .from_ns = now - spec->hunt_ms * 1000000,
            .to_ns = now + HUNT_AHEAD_NS,
            .imported_since_ns = start,
        };
        struct trl_ioc_hunt_result hr;
        memset(&hr, 0, sizeof(hr));
        if (trl_ioc_hunt(&ho, &hr) == 0) {
            res->hunt_sightings = hr.sightings;
            res->hunt_alerts = hr.alerts;
        } else {
            trl_warn("taxii", "feed=%s retro-hunt of the new indicators failed", spec->name);
        }
    }
    return 0;
}

/* ---- The thread ---- */

struct feed_state {
    struct trl_taxii_spec spec;
    int64_t due_ns; /* monotonic */
    unsigned failures;
};

struct trl_taxii_feeds {
    char *data_dir;
    struct feed_state *feeds;
    size_t nfeeds;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    atomic_bool stopping;
};

static int64_t retry_ms(const struct feed_state *f)
{
    int64_t ms = FIRST_RETRY_MS;
    for (unsigned i = 1; i < f->failures && ms < MAX_RETRY_MS; i++)
        ms *= 2;
    int64_t cap = TRL_MAX(f->spec.interval_ms, FIRST_RETRY_MS);
    return TRL_MIN(ms, TRL_MIN(cap, MAX_RETRY_MS));
}

static void refresh_one(struct trl_taxii_feeds *t, struct feed_state *f)
{
    struct trl_taxii_refresh res;
    char err[512] = "";
    int64_t t0 = trl_mono_ns();
    int rc = trl_taxii_refresh(t->data_dir, &f->spec, &t->stopping, &res, err, sizeof(err));
    if (atomic_load(&t->stopping))
        return;
    int64_t delay_ms;
    if (rc != 0) {
        f->failures++;
        delay_ms = retry_ms(f);
        trl_warn("taxii", "feed=%s refresh failed (attempt %u, retry in %llds) error=\"%s\"",
                 f->spec.name, f->failures, (long long)(delay_ms / 1000), err);
    } else {
        f->failures = 0;
        delay_ms = res.partial ? 0 : f->spec.interval_ms;
        trl_info("taxii",
                 "feed=%s pages=%zu objects=%zu new=%zu updated=%zu revoked=%zu skipped=%zu "
                 "hunt_sightings=%llu hunt_alerts=%llu ms=%lld",
                 f->spec.name, res.pages, res.objects, res.created, res.updated, res.revoked,
                 res.skipped, (unsigned long long)res.hunt_sightings,
                 (unsigned long long)res.hunt_alerts, (long long)((trl_mono_ns() - t0) / 1000000));
    }
    f->due_ns = trl_mono_ns() + delay_ms * 1000000;
}

static void *feeds_main(void *arg)
{
    struct trl_taxii_feeds *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!atomic_load(&t->stopping)) {
        int64_t now = trl_mono_ns();
        struct feed_state *due = NULL;
        int64_t next = INT64_MAX;
        for (size_t i = 0; i < t->nfeeds; i++) {
            if (t->feeds[i].due_ns <= now && !due)
                due = &t->feeds[i];
            next = TRL_MIN(next, t->feeds[i].due_ns);
        }
        if (due) {
            pthread_mutex_unlock(&t->mu);
            refresh_one(t, due);
            pthread_mutex_lock(&t->mu);
            continue;
        }
        /* The condition variable waits on the realtime clock; the schedule is monotonic. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = (int64_t)until.tv_nsec + (next - now);
        until.tv_sec += (time_t)(ns / TRL_NS_PER_SEC);
        until.tv_nsec = (long)(ns % TRL_NS_PER_SEC);
        pthread_cond_timedwait(&t->wake, &t->mu, &until);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

static void feeds_free(struct trl_taxii_feeds *t)
{
    for (size_t i = 0; i < t->nfeeds; i++)
        trl_taxii_spec_free(&t->feeds[i].spec);
    free(t->feeds);
    free(t->data_dir);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

struct trl_taxii_feeds *trl_taxii_feeds_start(const char *data_dir, char *const *lines,
                                              size_t nlines, bool *none)
{
    *none = nlines == 0;
    if (nlines == 0)
        return NULL;
    struct trl_taxii_feeds *t = trl_xcalloc(1, sizeof(*t));
    t->data_dir = trl_xstrdup(data_dir);
    t->feeds = trl_xcalloc(nlines, sizeof(*t->feeds));
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->wake, NULL);
    atomic_init(&t->stopping, false);
    int64_t now = trl_mono_ns();
    for (size_t i = 0; i < nlines; i++) {
        char err[256];
        struct feed_state *f = &t->feeds[t->nfeeds];
        if (trl_taxii_spec_parse(lines[i], &f->spec, err, sizeof(err)) != 0) {
            trl_error("taxii", "ioc.feeds item %zu: %s", i + 1, err);
            goto fail;
        }
        t->nfeeds++;
        for (size_t k = 0; k + 1 < t->nfeeds; k++) {
            if (!strcmp(t->feeds[k].spec.name, f->spec.name)) {
                trl_error("taxii", "ioc.feeds item %zu: feed name '%s' is used twice", i + 1,
                          f->spec.name);
                goto fail;
            }
        }
        f->due_ns = now;
        if (!strncmp(f->spec.url, "http://", 7) &&
            (f->spec.token || f->spec.token_file || f->spec.username))
            trl_warn("taxii", "feed=%s sends its credentials without TLS url=%s", f->spec.name,
                     f->spec.url);
    }
    char why[256];
    if (!trl_curl_get(why, sizeof(why))) {
        trl_error("taxii", "TAXII feeds need libcurl: %s", why);
        goto fail;
    }
    int rc = pthread_create(&t->thread, NULL, feeds_main, t);
    if (rc != 0) {
        trl_error("taxii", "cannot start the TAXII feed thread: %s", strerror(rc));
        goto fail;
    }
    trl_info("taxii", "polling feeds=%zu", t->nfeeds);
    return t;
fail:
    feeds_free(t);
    return NULL;
}

void trl_taxii_feeds_stop(struct trl_taxii_feeds *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    atomic_store(&t->stopping, true);
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    feeds_free(t);
}

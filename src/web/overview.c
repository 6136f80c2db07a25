/*
 * overview: GET /api/v1/overview and its per-minute cache (overview.h).
 *
 * The range is cut into whole buckets of whole minutes, aligned to multiples of the bucket width,
 * the last one holding `to`. Each minute (or, past the cache's reach, each bucket) is counted with
 * three scans of the store that read no event's JSON: the timestamps alone (events per minute),
 * and `| timechart count by host.name` and `... by process.name` from the keyword columns. The
 * minutes the cache cannot serve are counted in runs, a few cached minutes between two runs being
 * counted again with them rather than paying a scan each.
 */
#include "web/overview.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "detect/alerts.h"
#include "store/pipes.h"
#include "store/query.h"
#include "store/store_read.h"
#include "web/web.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S       1000000000LL
#define MIN_NS         (60 * NS_PER_S)
#define CACHE_MINUTES  (7 * 1440 + 120)
#define MAX_BUCKETS    1440
#define TOP_KEEP       64 /* values of a field kept per minute: top lists are exact below that */
#define TOP_SHOWN      10
#define SETTLE_NS      (120 * NS_PER_S)
#define FRESH_TTL_NS   (5 * NS_PER_S)
#define SETTLED_TTL_NS (600 * NS_PER_S)
#define GAP_UNITS      30

enum { F_HOST, F_PROGRAM, F__COUNT };
static const char *const field_names[F__COUNT] = {"host.name", "process.name"};

struct ov_val {
    char *value;
    uint64_t count;
};

/* The counts of one minute, or of one bucket when the range is not cached. */
struct ov_unit {
    int64_t start;
    int64_t computed; /* wall clock; 0: not counted */
    uint64_t total;
    struct ov_val *vals[F__COUNT];
    uint32_t nvals[F__COUNT], capvals[F__COUNT];
};

struct trl_overview_cache {
    pthread_mutex_t mu;
    struct ov_unit *slots; /* CACHE_MINUTES, by minute number modulo their count */
    /* The last alerts_by_level answer, for the same whole minutes within FRESH_TTL_NS. */
    json_t *levels;
    int64_t levels_from, levels_to, levels_at;
};

static void unit_clear(struct ov_unit *u)
{
    for (int f = 0; f < F__COUNT; f++) {
        for (uint32_t i = 0; i < u->nvals[f]; i++)
            free(u->vals[f][i].value);
        free(u->vals[f]);
    }
    memset(u, 0, sizeof(*u));
}

static void unit_add(struct ov_unit *u, int f, const char *value, size_t len, uint64_t count)
{
    if (u->nvals[f] == u->capvals[f]) {
        u->capvals[f] = u->capvals[f] ? u->capvals[f] * 2 : 8;
        u->vals[f] = trl_xrealloc(u->vals[f], u->capvals[f] * sizeof(*u->vals[f]));
    }
    u->vals[f][u->nvals[f]++] = (struct ov_val){trl_xstrndup(value, len), count};
}

static void unit_copy(struct ov_unit *dst, const struct ov_unit *src)
{
    *dst = (struct ov_unit){.start = src->start, .computed = src->computed, .total = src->total};
    for (int f = 0; f < F__COUNT; f++) {
        for (uint32_t i = 0; i < src->nvals[f]; i++)
            unit_add(dst, f, src->vals[f][i].value, strlen(src->vals[f][i].value),
                     src->vals[f][i].count);
    }
}

static int by_count_desc(const void *a, const void *b)
{
    const struct ov_val *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->value, y->value);
}

/* Keeps the TOP_KEEP most frequent values of each field. */
static void unit_trim(struct ov_unit *u)
{
    for (int f = 0; f < F__COUNT; f++) {
        if (u->nvals[f] <= TOP_KEEP)
            continue;
        qsort(u->vals[f], u->nvals[f], sizeof(*u->vals[f]), by_count_desc);
        for (uint32_t i = TOP_KEEP; i < u->nvals[f]; i++)
            free(u->vals[f][i].value);
        u->nvals[f] = TOP_KEEP;
    }
}

struct trl_overview_cache *trl_overview_cache_create(void)
{
    struct trl_overview_cache *c = trl_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    c->slots = trl_xcalloc(CACHE_MINUTES, sizeof(*c->slots));
    return c;
}

void trl_overview_cache_destroy(struct trl_overview_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < CACHE_MINUTES; i++)
        unit_clear(&c->slots[i]);
    free(c->slots);
    json_decref(c->levels);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static struct ov_unit *slot_of(struct trl_overview_cache *c, int64_t start)
{
    int64_t m = start / MIN_NS % CACHE_MINUTES;
    return &c->slots[m < 0 ? m + CACHE_MINUTES : m];
}

/* A minute counted once it was over for SETTLE_NS changes only with late events: keep it ten
 * minutes, plus up to nine by hour of the day so that a day's minutes are not all counted again
 * at once. A more recent count is kept for FRESH_TTL_NS. */
static bool unit_valid(const struct ov_unit *u, int64_t start, int64_t now)
{
    if (!u->computed || u->start != start || now < u->computed)
        return false;
    bool settled = u->computed - (start + MIN_NS) >= SETTLE_NS;
    int64_t ttl = settled
                      ? SETTLED_TTL_NS + (int64_t)((uint64_t)(start / MIN_NS / 60) % 10) * MIN_NS
                      : FRESH_TTL_NS;
    return now - u->computed < ttl;
}

/* ---- counting from the store ------------------------------------------------------------------
 */

struct span {
    struct ov_unit *units; /* units[0] starts at a */
    size_t n;
    int64_t a, width;
    int field;
};

static bool span_index(const struct span *s, int64_t ts, size_t *i)
{
    if (ts < s->a)
        return false;
    uint64_t k = (uint64_t)(ts - s->a) / (uint64_t)s->width;
    *i = (size_t)k;
    return k < s->n;
}

/* A `| timechart` row: {"@timestamp", "<field>", "count"}, ts the bucket's start. */
static int on_chart_row(void *ud, int64_t ts, const char *json, size_t len)
{
    struct span *s = ud;
    size_t i;
    if (!span_index(s, ts, &i))
        return 0;
    json_t *row = json_loadb(json, len, 0, NULL);
    json_t *v = json_object_get(row, field_names[s->field]);
    json_t *n = json_object_get(row, "count");
    if (json_is_string(v) && json_is_integer(n) && json_integer_value(n) > 0)
        unit_add(&s->units[i], s->field, json_string_value(v), json_string_length(v),
                 (uint64_t)json_integer_value(n));
    json_decref(row);
    return 0;
}

static int chart_field(struct trl_store_reader *r, struct span *s, int field)
{
    char text[128];
    snprintf(text, sizeof(text), "| timechart span=%lldm count by %s",
             (long long)(s->width / MIN_NS), field_names[field]);
    struct trl_query *q = NULL;
    if (trl_query_parse(text, strlen(text), &q, NULL) != 0)
        return TRL_EINVAL;
    s->field = field;
    struct trl_pipe_run *run = trl_pipe_run_create(q->pipeline, 0, on_chart_row, s);
    struct trl_store_search_opts so = {s->a, s->a + (int64_t)s->n * s->width, 0};
    int rc = trl_store_scan_pipe(r, q, &so, run, q->pipeline, NULL);
    if (rc == TRL_PIPE_STOP)
        rc = 0;
    if (rc == 0)
        rc = trl_pipe_run_finish(run);
    trl_pipe_run_destroy(run);
    trl_query_free(q);
    return rc;
}

/* Counts units[0..n) (each width long, from a). r NULL: an empty store. */
static int count_span(struct trl_store_reader *r, struct ov_unit *units, size_t n, int64_t a,
                      int64_t width, int64_t now)
{
    struct span s = {units, n, a, width, 0};
    for (size_t i = 0; i < n; i++) {
        unit_clear(&units[i]);
        units[i].start = a + (int64_t)i * width;
    }
    int rc = 0;
    if (r) {
        struct trl_query *all = NULL;
        rc = trl_query_parse("", 0, &all, NULL);
        struct trl_store_search_opts so = {a, a + (int64_t)n * width, 0};
        if (rc == 0) {
            uint64_t *tot = trl_xcalloc(n, sizeof(*tot));
            rc = trl_store_count_buckets(r, all, &so, width, tot, n, NULL);
            for (size_t i = 0; i < n; i++)
                units[i].total = tot[i];
            free(tot);
        }
        trl_query_free(all);
        for (int f = 0; rc == 0 && f < F__COUNT; f++)
            rc = chart_field(r, &s, f);
    }
    for (size_t i = 0; i < n; i++) {
        unit_trim(&units[i]);
        units[i].computed = rc == 0 ? now : 0;
    }
    return rc;
}

/* Counts the units marked in need, in runs (a short stretch of cached units between two runs is
 * counted again with them). */
static int count_needed(struct trl_store_reader *r, struct ov_unit *units, bool *need, size_t n,
                        int64_t a, int64_t width, int64_t now)
{
    size_t i = 0;
    while (i < n) {
        if (!need[i]) {
            i++;
            continue;
        }
        size_t last = i, k = i + 1;
        while (k < n) {
            if (need[k]) {
                last = k++;
                continue;
            }
            size_t g = k;
            while (g < n && !need[g])
                g++;
            if (g == n || g - k >= GAP_UNITS)
                break;
            k = g;
        }
        for (size_t j = i; j <= last; j++)
            need[j] = true;
        int rc = count_span(r, &units[i], last - i + 1, a + (int64_t)i * width, width, now);
        if (rc != 0)
            return rc;
        i = last + 1;
    }
    return 0;
}

/* ---- the answer -------------------------------------------------------------------------------
 */

/* Adds a unit's values into map (value -> count). */
static void merge_values(json_t *map, const struct ov_unit *u, int f)
{
    for (uint32_t i = 0; i < u->nvals[f]; i++) {
        const struct ov_val *v = &u->vals[f][i];
        json_t *cur = json_object_get(map, v->value);
        if (cur)
            json_integer_set(cur, json_integer_value(cur) + (json_int_t)v->count);
        else
            json_object_set_new(map, v->value, json_integer((json_int_t)v->count));
    }
}

/* The TOP_SHOWN most frequent values of a map as [{"value","count"}]. */
static json_t *top_list(json_t *map)
{
    size_t n = json_object_size(map), k = 0;
    struct ov_val *all = trl_xcalloc(n ? n : 1, sizeof(*all));
    const char *key;
    json_t *v;
    json_object_foreach(map, key, v)
    {
        all[k++] = (struct ov_val){(char *)key, (uint64_t)json_integer_value(v)};
    }
    qsort(all, n, sizeof(*all), by_count_desc);
    json_t *out = json_array();
    for (size_t i = 0; i < n && i < TOP_SHOWN; i++)
        json_array_append_new(
            out, json_pack("{s:s, s:I}", "value", all[i].value, "count", (json_int_t)all[i].count));
    free(all);
    return out;
}

static void count_level(void *ud, const struct trl_alert_row *row)
{
    json_t *levels = ud;
    const char *names[] = {"informational", "low", "medium", "high", "critical"};
    const char *name = names[trl_alert_level_rank(row->level)];
    json_object_set_new(levels, name,
                        json_integer(json_integer_value(json_object_get(levels, name)) + 1));
}

static json_t *count_levels(const char *data_dir, int64_t from, int64_t to)
{
    json_t *levels = json_pack("{s:i, s:i, s:i, s:i, s:i}", "critical", 0, "high", 0, "medium", 0,
                               "low", 0, "informational", 0);
    struct trl_alert_store *as = trl_alert_store_open(data_dir, 0, true);
    if (as) {
        struct trl_alert_filter f = {.from_ns = from, .to_ns = to, .limit = 1000000};
        (void)trl_alert_store_list(as, &f, count_level, levels);
        trl_alert_store_close(as);
    }
    return levels;
}

/* Alerts last seen in [from, to) by level; the alert store is read at most every FRESH_TTL_NS
 * for the same range (the console's refreshes and its several users ask for the same). */
static json_t *alert_levels(struct trl_overview_cache *c, const char *data_dir, int64_t from,
                            int64_t to, int64_t now)
{
    if (c) {
        pthread_mutex_lock(&c->mu);
        json_t *hit = c->levels && c->levels_from == from && c->levels_to == to &&
                              now >= c->levels_at && now - c->levels_at < FRESH_TTL_NS
                          ? json_deep_copy(c->levels)
                          : NULL;
        pthread_mutex_unlock(&c->mu);
        if (hit)
            return hit;
    }
    json_t *levels = count_levels(data_dir, from, to);
    if (c) {
        pthread_mutex_lock(&c->mu);
        json_decref(c->levels);
        c->levels = json_deep_copy(levels);
        c->levels_from = from;
        c->levels_to = to;
        c->levels_at = now;
        pthread_mutex_unlock(&c->mu);
    }
    return levels;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return q * b > a ? q - 1 : q;
}

void trl_api_overview(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    int64_t from, to;
    if (!trl_web_arg_range(rq, rs, "-1h", &from, &to))
        return;
    /* Whole-minute buckets, at most MAX_BUCKETS, aligned to their width, the last holding to. */
    int64_t minutes = TRL_MAX(1, (to - from + MIN_NS - 1) / MIN_NS);
    int64_t per = (minutes + MAX_BUCKETS - 1) / MAX_BUCKETS;
    int64_t width = per * MIN_NS;
    int64_t buckets = (minutes + per - 1) / per;
    int64_t end = (floor_div(to - 1, width) + 1) * width;
    int64_t start = end - buckets * width;
    struct trl_overview_cache *c = rq->web->overview;
    bool cached = c && buckets * per <= CACHE_MINUTES;
    int64_t unit = cached ? MIN_NS : width;
    size_t n = (size_t)(cached ? buckets * per : buckets);
    int64_t now = trl_now_ns();

    struct trl_store_reader *r = NULL;
    int rc = trl_store_reader_open(rq->web->data_dir, &r);
    if (rc != 0 && rc != -ENOENT) {
        trl_web_error(rs, 500, "cannot read the event store: %s", trl_strerror(rc));
        return;
    }
    struct ov_unit *units = trl_xcalloc(n, sizeof(*units));
    bool *need = trl_xcalloc(n, sizeof(*need));
    if (cached) {
        pthread_mutex_lock(&c->mu);
        for (size_t i = 0; i < n; i++) {
            int64_t s = start + (int64_t)i * unit;
            const struct ov_unit *u = slot_of(c, s);
            need[i] = !unit_valid(u, s, now);
            if (!need[i])
                unit_copy(&units[i], u);
        }
        pthread_mutex_unlock(&c->mu);
    } else {
        memset(need, 1, n * sizeof(*need));
    }
    rc = count_needed(r, units, need, n, start, unit, now);
    trl_store_reader_close(r);

    json_t *epm = NULL, *maps[F__COUNT] = {json_object(), json_object()};
    if (rc == 0) {
        uint64_t *counts = trl_xcalloc((size_t)buckets, sizeof(*counts));
        for (size_t i = 0; i < n; i++) {
            counts[cached ? i / (size_t)per : i] += units[i].total;
            for (int f = 0; f < F__COUNT; f++)
                merge_values(maps[f], &units[i], f);
        }
        epm = json_array();
        for (int64_t b = 0; b < buckets; b++)
            json_array_append_new(epm, json_pack("{s:o, s:I}", "t", trl_web_time(start + b * width),
                                                 "count", (json_int_t)counts[b]));
        free(counts);
    }
    if (rc == 0 && cached) {
        pthread_mutex_lock(&c->mu);
        for (size_t i = 0; i < n; i++) {
            if (!need[i])
                continue;
            struct ov_unit *u = slot_of(c, units[i].start);
            unit_clear(u);
            *u = units[i];
            memset(&units[i], 0, sizeof(units[i]));
        }
        pthread_mutex_unlock(&c->mu);
    }
    for (size_t i = 0; i < n; i++)
        unit_clear(&units[i]);
    free(units);
    free(need);
    if (rc != 0) {
        json_decref(maps[0]);
        json_decref(maps[1]);
        trl_web_error(rs, 500, "search failed: %s", trl_strerror(rc));
        return;
    }
    json_t *by_host = top_list(maps[F_HOST]), *by_source = top_list(maps[F_PROGRAM]);
    json_decref(maps[0]);
    json_decref(maps[1]);
    trl_web_json(rs, 200,
                 json_pack("{s:o, s:o, s:o, s:o, s:o}", "events_per_minute", epm, "by_host",
                           by_host, "by_source", by_source, "alerts_by_level",
                           alert_levels(c, rq->web->data_dir, start, end, now), "agents_silent",
                           trl_web_agents(rq->web, true)));
}

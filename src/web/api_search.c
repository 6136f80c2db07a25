/*
 * api_search: GET /api/v1/search (events with cursor paging, or the rows of a pipeline),
 * GET /api/v1/events/{id} and GET /api/v1/histogram. The store, query
 * language and pipes do the work (store/store_read.h, store/query.h, store/pipes.h).
 */
#include "core/timeutil.h"
#include "core/util.h"
#include "store/pipes.h"
#include "store/query.h"
#include "store/store_read.h"
#include "web/web.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIMIT     1000
#define MAX_PIPE_ROWS 10000
#define MAX_BUCKETS   1000

/* Opens the store; false with a response when there is none (an empty list) or it fails. */
static bool open_store(struct trl_web_req *rq, struct trl_web_resp *rs, struct trl_store_reader **r,
                       json_t *empty)
{
    int rc = trl_store_reader_open(rq->web->data_dir, r);
    if (rc == -ENOENT) {
        trl_web_json(rs, 200, empty);
        return false;
    }
    json_decref(empty);
    if (rc != 0) {
        trl_web_error(rs, 500, "cannot read the event store: %s", trl_strerror(rc));
        return false;
    }
    return true;
}

bool trl_web_parse_query(const char *q, struct trl_web_resp *rs, struct trl_query **out)
{
    struct trl_query_error e;
    if (trl_query_parse(q, strlen(q), out, &e) == 0)
        return true;
    trl_web_error_at(rs, 400, "position", (long)e.offset, "query syntax error: %s", e.message);
    return false;
}

bool trl_web_parse_query_no_pipes(const char *q, const char *what, struct trl_web_resp *rs,
                                  struct trl_query **out)
{
    if (!trl_web_parse_query(q, rs, out))
        return false;
    if (!(*out)->pipeline)
        return true;
    trl_query_free(*out);
    *out = NULL;
    trl_web_error(rs, 400, "%s takes a query without pipes", what);
    return false;
}

static json_t *event_item(int64_t ts, const char *json, size_t len)
{
    return trl_web_event_item(ts, json_loadb(json, len, 0, NULL));
}

json_t *trl_web_event_item(int64_t ts, json_t *ev)
{
    if (!json_is_object(ev)) {
        json_decref(ev);
        return NULL;
    }
    json_t *id = json_object_get(json_object_get(ev, "event"), "id");
    json_t *at = json_object_get(ev, "@timestamp");
    return json_pack("{s:O?, s:O, s:o}", "id", json_is_string(id) ? id : NULL, "@timestamp",
                     json_is_string(at) ? at : trl_web_time(ts), "event", ev);
}

/* ---- search -----------------------------------------------------------------------------------
 */

/* The cursor names the last event returned: its time and how many events of that time were
 * returned so far ("<ts>.<n>"). The next page searches up to that time, inclusive, and skips
 * those n. */
struct page {
    json_t *events;
    size_t limit;
    int64_t cursor_ts;
    uint64_t skip;    /* events at cursor_ts still to skip */
    int64_t last_ts;  /* the last event returned */
    uint64_t same_ts; /* events returned with last_ts, counting those of earlier pages */
    bool more;
};

static int on_page_hit(void *ud, int64_t ts, const char *json, size_t len)
{
    struct page *p = ud;
    if (ts == p->cursor_ts && p->skip) {
        p->skip--;
        return 0;
    }
    if (json_array_size(p->events) == p->limit) {
        p->more = true;
        return 1;
    }
    json_t *item = event_item(ts, json, len);
    if (item)
        json_array_append_new(p->events, item);
    p->same_ts = ts == p->last_ts ? p->same_ts + 1 : 1;
    p->last_ts = ts;
    return 0;
}

static bool parse_cursor(const char *c, int64_t *ts, uint64_t *n)
{
    const char *dot = strchr(c, '.');
    return dot && trl_parse_i64(c, (size_t)(dot - c), ts) &&
           trl_parse_u64(dot + 1, strlen(dot + 1), n) && *n <= 100000000;
}

/* Rows of a pipeline: the values of each column (dotted names looked up flat, then nested). */
struct rows {
    const char *cols[TRL_PIPE_MAX_FIELDS + 4];
    size_t ncols;
    json_t *rows;
    json_t *events; /* when the rows are whole events */
    bool cut;
};

static json_t *lookup(json_t *obj, const char *path)
{
    json_t *v = json_object_get(obj, path);
    if (v || !json_is_object(obj))
        return v;
    const char *dot = strchr(path, '.');
    if (!dot)
        return NULL;
    char head[256];
    size_t n = (size_t)(dot - path);
    if (n >= sizeof(head))
        return NULL;
    memcpy(head, path, n);
    head[n] = '\0';
    return lookup(json_object_get(obj, head), dot + 1);
}

static int on_row(void *ud, int64_t ts, const char *json, size_t len)
{
    struct rows *r = ud;
    json_t *target = r->ncols ? r->rows : r->events;
    if (json_array_size(target) >= MAX_PIPE_ROWS) {
        r->cut = true;
        return 1;
    }
    if (!r->ncols) {
        json_t *item = event_item(ts, json, len);
        if (item)
            json_array_append_new(r->events, item);
        return 0;
    }
    json_t *obj = json_loadb(json, len, 0, NULL);
    json_t *row = json_array();
    for (size_t i = 0; i < r->ncols; i++) {
        json_t *v = lookup(obj, r->cols[i]);
        json_array_append(row, v ? v : json_null());
    }
    json_decref(obj);
    json_array_append_new(r->rows, row);
    return 0;
}

static int on_piped(void *ud, int64_t ts, const char *json, size_t len)
{
    return trl_pipe_run_push(ud, ts, json, len);
}

static void run_pipeline(struct trl_store_reader *r, struct trl_query *q,
                         const struct trl_store_search_opts *so, struct trl_web_resp *rs,
                         int64_t t0)
{
    struct rows rw = {.rows = json_array(), .events = json_array()};
    rw.ncols = trl_pipeline_columns(q->pipeline, rw.cols, TRL_ARRAY_LEN(rw.cols));
    struct trl_pipe_run *run = trl_pipe_run_create(q->pipeline, 0, on_row, &rw);
    /* Aggregations by keyword columns read those columns rather than every event's JSON. */
    int rc = trl_pipeline_needs_all(q->pipeline)
                 ? trl_store_scan_pipe(r, q, so, run, q->pipeline, NULL)
                 : trl_store_search(r, q, so, on_piped, run, NULL);
    if (rc == TRL_PIPE_STOP || rc == 1)
        rc = 0;
    if (rc == 0)
        rc = trl_pipe_run_finish(run);
    if (rc == 1)
        rc = 0;
    rw.cut |= trl_pipe_run_cut(run);
    trl_pipe_run_destroy(run);
    if (rc != 0) {
        json_decref(rw.rows);
        json_decref(rw.events);
        trl_web_error(rs, 500, "search failed: %s", trl_strerror(rc));
        return;
    }
    json_int_t took = (json_int_t)((trl_mono_ns() - t0) / 1000000);
    if (!rw.ncols) {
        json_decref(rw.rows);
        trl_web_json(rs, 200,
                     json_pack("{s:o, s:n, s:I, s:b}", "events", rw.events, "next_cursor",
                               "took_ms", took, "truncated", rw.cut));
        return;
    }
    json_decref(rw.events);
    json_t *cols = json_array();
    for (size_t i = 0; i < rw.ncols; i++)
        json_array_append_new(cols, json_string(rw.cols[i]));
    trl_web_json(rs, 200,
                 json_pack("{s:o, s:o, s:I, s:b}", "columns", cols, "rows", rw.rows, "took_ms",
                           took, "truncated", rw.cut));
}

void trl_api_search(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    int64_t from, to;
    uint64_t limit;
    if (!trl_web_arg_range(rq, rs, "-24h", &from, &to) ||
        !trl_web_arg_uint(rq, rs, "limit", 100, 1, MAX_LIMIT, &limit))
        return;
    struct page pg = {.limit = (size_t)limit, .cursor_ts = INT64_MIN, .last_ts = INT64_MIN};
    const char *cursor = trl_web_arg(rq, "cursor");
    if (cursor && cursor[0]) {
        if (!parse_cursor(cursor, &pg.cursor_ts, &pg.skip) || pg.cursor_ts < from) {
            trl_web_json(rs, 400,
                         json_pack("{s:s, s:s}", "error", "malformed cursor", "field", "cursor"));
            return;
        }
        if (pg.cursor_ts < to - 1)
            to = pg.cursor_ts + 1;
        pg.last_ts = pg.cursor_ts;
        pg.same_ts = pg.skip;
    }
    const char *text = trl_web_arg(rq, "q");
    struct trl_query *q = NULL;
    if (!trl_web_parse_query(text ? text : "", rs, &q))
        return;
    struct trl_store_reader *r = NULL;
    if (!open_store(rq, rs, &r,
                    json_pack("{s:[], s:n, s:i}", "events", "next_cursor", "took_ms", 0))) {
        trl_query_free(q);
        return;
    }
    int64_t t0 = trl_mono_ns();
    struct trl_store_search_opts so = {from, to, 0};
    if (q->pipeline) {
        run_pipeline(r, q, &so, rs, t0);
    } else {
        pg.events = json_array();
        /* One more than the page (and the events skipped) tells whether another page exists. */
        so.limit = pg.limit + (size_t)pg.skip + 1;
        int rc = trl_store_search(r, q, &so, on_page_hit, &pg, NULL);
        if (rc != 0 && rc != 1) {
            json_decref(pg.events);
            trl_web_error(rs, 500, "search failed: %s", trl_strerror(rc));
        } else {
            char next[64];
            snprintf(next, sizeof(next), "%" PRId64 ".%" PRIu64, pg.last_ts, pg.same_ts);
            trl_web_json(rs, 200,
                         json_pack("{s:o, s:s?, s:I}", "events", pg.events, "next_cursor",
                                   pg.more ? next : NULL, "took_ms",
                                   (json_int_t)((trl_mono_ns() - t0) / 1000000)));
        }
    }
    trl_store_reader_close(r);
    trl_query_free(q);
}

/* ---- one event --------------------------------------------------------------------------------
 */

static int on_one(void *ud, int64_t ts, const char *json, size_t len)
{
    json_t **out = ud;
    *out = event_item(ts, json, len);
    return 1;
}

/* Event ids are 16 hex digits (server/pipeline.c). */
static bool event_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (trl_hex_value(id[i]) < 0)
            return false;
    return true;
}

void trl_api_event(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    char id[64];
    if (!trl_web_param(rq, 0, id, sizeof(id)) || !event_id_ok(id)) {
        trl_web_error(rs, 404, "no such event");
        return;
    }
    char text[96];
    snprintf(text, sizeof(text), "event.id:%s", id);
    struct trl_query *q = NULL;
    if (!trl_web_parse_query(text, rs, &q))
        return;
    struct trl_store_reader *r = NULL;
    json_t *item = NULL;
    int rc = trl_store_reader_open(rq->web->data_dir, &r);
    if (rc == 0) {
        /* Ids are receive times, but @timestamp (which partitions the store) can be anything. */
        struct trl_store_search_opts so = {INT64_MIN, INT64_MAX, 1};
        rc = trl_store_search(r, q, &so, on_one, &item, NULL);
        trl_store_reader_close(r);
    }
    trl_query_free(q);
    if (item)
        trl_web_json(rs, 200, item);
    else if (rc == 0 || rc == 1 || rc == -ENOENT)
        trl_web_error(rs, 404, "no such event");
    else
        trl_web_error(rs, 500, "cannot read the event store: %s", trl_strerror(rc));
}

/* ---- histogram ---------------------------------------------------------------------------------
 */

struct hist {
    int64_t from, interval;
    size_t n;
    uint64_t *counts;
};

/* Counts matches per bucket of [from, to). Returns the buckets array or NULL with rs filled. */
static json_t *histogram(struct trl_store_reader *r, struct trl_query *q, int64_t from, int64_t to,
                         size_t buckets, int64_t *interval, struct trl_web_resp *rs)
{
    struct hist h = {.from = from, .n = buckets};
    h.interval = (to - from + (int64_t)buckets - 1) / (int64_t)buckets;
    if (h.interval < 1000000)
        h.interval = 1000000;
    h.counts = trl_xcalloc(buckets, sizeof(*h.counts));
    struct trl_store_search_opts so = {from, to, 0};
    int rc = r ? trl_store_count_buckets(r, q, &so, h.interval, h.counts, buckets, NULL) : 0;
    if (rc != 0) {
        free(h.counts);
        trl_web_error(rs, 500, "search failed: %s", trl_strerror(rc));
        return NULL;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < buckets; i++)
        json_array_append_new(arr, json_pack("{s:o, s:I}", "t",
                                             trl_web_time(from + (int64_t)i * h.interval), "count",
                                             (json_int_t)h.counts[i]));
    free(h.counts);
    *interval = h.interval;
    return arr;
}

void trl_api_histogram(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    int64_t from, to, interval;
    uint64_t buckets;
    if (!trl_web_arg_range(rq, rs, "-24h", &from, &to) ||
        !trl_web_arg_uint(rq, rs, "buckets", 60, 1, MAX_BUCKETS, &buckets))
        return;
    const char *text = trl_web_arg(rq, "q");
    struct trl_query *q = NULL;
    if (!trl_web_parse_query_no_pipes(text ? text : "", "the histogram", rs, &q))
        return;
    struct trl_store_reader *r = NULL;
    int rc = trl_store_reader_open(rq->web->data_dir, &r);
    if (rc != 0 && rc != -ENOENT) {
        trl_query_free(q);
        trl_web_error(rs, 500, "cannot read the event store: %s", trl_strerror(rc));
        return;
    }
    json_t *arr = histogram(r, q, from, to, (size_t)buckets, &interval, rs);
    if (arr)
        trl_web_json(rs, 200,
                     json_pack("{s:I, s:o}", "interval_ms", (json_int_t)(interval / 1000000),
                               "buckets", arr));
    trl_store_reader_close(r);
    trl_query_free(q);
}

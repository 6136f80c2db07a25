/*
 * api_tail: GET /api/v1/search/tail, the console's live tail: the events matching a query that
 * the server received after a cursor, and the cursor to ask with next time.
 *
 * The cursor is an event.id: 16 hex digits holding the receive time in nanoseconds, unique and
 * increasing in the order events are committed (server/pipeline.c). The store is ordered by
 * @timestamp, not by arrival, so the tail searches the @timestamp window around the cursor's time
 * (TAIL_PAST before it, TAIL_FUTURE after now, for senders whose clocks are off) newest first for
 * the events whose id is past the cursor: the query gets `event.id>CURSOR` added, which compares
 * the fixed-width lower-case hex as text (a cursor of decimal digits only would compare as a
 * number, so then the ids are checked here alone). An event stamped outside that window is
 * stored and searchable but not tailed.
 */
#include "core/timeutil.h"
#include "core/util.h"
#include "store/query.h"
#include "store/store_read.h"
#include "web/web.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S    1000000000LL
#define TAIL_PAST   (15 * 60 * NS_PER_S)
#define TAIL_FUTURE (15 * 60 * NS_PER_S)
/* A cursor older than this is treated as this old: a tail paused for a long time resumes with
 * the last hour rather than searching days. */
#define TAIL_MAX_AGE (60 * 60 * NS_PER_S)
/* The cursor moves on to this long before now even when nothing matched, so the window stays
 * small; events still in the pipeline for longer than this when a poll passes are not tailed. */
#define TAIL_LAG (10 * NS_PER_S)
/* Events the store returns per poll at most (the newest by @timestamp). */
#define TAIL_SCAN 2000
#define MAX_LIMIT 1000

struct tail_hit {
    uint64_t id;
    json_t *item;
};

struct tail {
    uint64_t after;
    size_t limit;
    struct tail_hit *hits; /* the new events */
    size_t n, cap;
    uint64_t max_id;
};

static bool parse_id(const char *s, size_t n, uint64_t *out)
{
    if (n != 16)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        int d = trl_hex_value(s[i]);
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return true;
}

static int on_tail_hit(void *ud, int64_t ts, const char *json, size_t len)
{
    struct tail *t = ud;
    json_t *ev = json_loadb(json, len, 0, NULL);
    json_t *idv = json_object_get(json_object_get(ev, "event"), "id");
    uint64_t id;
    if (!json_is_string(idv) || !parse_id(json_string_value(idv), json_string_length(idv), &id) ||
        id <= t->after) {
        json_decref(ev);
        return 0;
    }
    json_t *item = trl_web_event_item(ts, ev);
    if (!item)
        return 0;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->hits = trl_xrealloc(t->hits, t->cap * sizeof(*t->hits));
    }
    t->hits[t->n++] = (struct tail_hit){id, item};
    if (id > t->max_id)
        t->max_id = id;
    return 0;
}

static int by_id_desc(const void *a, const void *b)
{
    uint64_t x = ((const struct tail_hit *)a)->id, y = ((const struct tail_hit *)b)->id;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The new events, newest arrival first, at most t->limit of them (the newest); frees the hits. */
static json_t *tail_events(struct tail *t)
{
    if (t->n > 1)
        qsort(t->hits, t->n, sizeof(*t->hits), by_id_desc);
    json_t *out = json_array();
    for (size_t i = 0; i < t->n; i++) {
        if (i < t->limit)
            json_array_append_new(out, t->hits[i].item);
        else
            json_decref(t->hits[i].item);
    }
    free(t->hits);
    t->hits = NULL;
    return out;
}

static void free_hits(struct tail *t)
{
    for (size_t i = 0; i < t->n; i++)
        json_decref(t->hits[i].item);
    free(t->hits);
}

/* The user's query with `event.id>after` in front, or NULL when it cannot take it. In front, a
 * trailing backslash of the user's text cannot change the bound; it breaks the parentheses, and
 * the query is then used alone. */
static char *with_id_bound(const char *text, uint64_t after)
{
    char hex[17];
    snprintf(hex, sizeof(hex), "%016" PRIx64, after);
    size_t n = strlen(text);
    if (!strpbrk(hex, "abcdef") || n + 64 > TRL_QUERY_MAX_LEN)
        return NULL;
    bool blank = strspn(text, " \t\r\n") == n;
    char *out = trl_xmalloc(n + 64);
    if (blank)
        snprintf(out, n + 64, "event.id>%s", hex);
    else
        snprintf(out, n + 64, "event.id>%s AND (%s)", hex, text);
    return out;
}

static void bad_cursor(struct trl_web_resp *rs, const char *why)
{
    trl_web_bad_field(rs, "after", why);
}

void trl_api_search_tail(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    uint64_t limit;
    if (!trl_web_arg_uint(rq, rs, "limit", 100, 1, MAX_LIMIT, &limit))
        return;
    int64_t now = trl_now_ns();
    struct tail t = {.limit = (size_t)limit};
    const char *after = trl_web_arg(rq, "after");
    if (after && after[0]) {
        if (!parse_id(after, strlen(after), &t.after)) {
            bad_cursor(rs, "malformed cursor: expected the 16 hex digits of a cursor or event id");
            return;
        }
        if (t.after > (uint64_t)(now + 60 * NS_PER_S)) {
            bad_cursor(rs, "the cursor lies in the future");
            return;
        }
    } else {
        t.after = (uint64_t)(now - TAIL_LAG);
    }
    const char *text = trl_web_arg(rq, "q");
    struct trl_query *q = NULL;
    /* The user's query alone first, so that an error's position is in the text they wrote. */
    if (!trl_web_parse_query_no_pipes(text ? text : "", "live tail", rs, &q))
        return;
    char *bounded = with_id_bound(text ? text : "", t.after);
    struct trl_query *bq = NULL;
    if (bounded && trl_query_parse(bounded, strlen(bounded), &bq, NULL) == 0 && !bq->pipeline) {
        trl_query_free(q);
        q = bq;
    } else {
        trl_query_free(bq);
    }
    free(bounded);
    int64_t t0 = trl_mono_ns();
    int64_t since = TRL_MAX((int64_t)t.after, now - TAIL_MAX_AGE);
    struct trl_store_search_opts so = {since - TAIL_PAST, now + TAIL_FUTURE, TAIL_SCAN};
    struct trl_store_reader *r = NULL;
    int rc = trl_store_reader_open(rq->web->data_dir, &r);
    if (rc == 0)
        rc = trl_store_search(r, q, &so, on_tail_hit, &t, NULL);
    trl_store_reader_close(r);
    trl_query_free(q);
    if (rc != 0 && rc != 1 && rc != -ENOENT) {
        free_hits(&t);
        trl_web_error(rs, 500, "search failed: %s", trl_strerror(rc));
        return;
    }
    bool cut = t.n > t.limit;
    json_t *events = tail_events(&t);
    uint64_t next = TRL_MAX(t.after, TRL_MAX(t.max_id, (uint64_t)(now - TAIL_LAG)));
    char cursor[17];
    snprintf(cursor, sizeof(cursor), "%016" PRIx64, next);
    trl_web_json(rs, 200,
                 json_pack("{s:o, s:s, s:b, s:I}", "events", events, "cursor", cursor, "truncated",
                           cut, "took_ms", (json_int_t)((trl_mono_ns() - t0) / 1000000)));
}

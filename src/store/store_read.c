#include "store/store_read.h"
#include "core/util.h"
#include "store/match.h"
#include "store/partition.h"
#include "store/store_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct trl_store_reader {
    char *events_dir;
    struct trl_block_decoder dec;
    struct trl_match_ctx mctx;
    struct trl_stored_block sb;
};

/* One result: ordered by timestamp, then by the position it was written at. */
struct hit {
    int64_t ts;
    uint64_t pos; /* block id << 20 | index: later written, larger */
    char *json;
    size_t len;
};

struct results {
    struct hit *h;
    size_t n, cap;
    size_t limit; /* 0: unbounded array; else a min-heap of at most limit hits */
};

static bool older(const struct hit *a, const struct hit *b)
{
    return a->ts != b->ts ? a->ts < b->ts : a->pos < b->pos;
}

static void heap_down(struct results *r, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < r->n && older(&r->h[l], &r->h[m]))
            m = l;
        if (l + 1 < r->n && older(&r->h[l + 1], &r->h[m]))
            m = l + 1;
        if (m == i)
            return;
        struct hit t = r->h[i];
        r->h[i] = r->h[m];
        r->h[m] = t;
        i = m;
    }
}

static void heap_up(struct results *r, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!older(&r->h[i], &r->h[p]))
            return;
        struct hit t = r->h[i];
        r->h[i] = r->h[p];
        r->h[p] = t;
        i = p;
    }
}

static bool results_full(const struct results *r)
{
    return r->limit && r->n >= r->limit;
}

/* Would an event at (ts, pos) make it into the results? */
static bool results_wants(const struct results *r, int64_t ts, uint64_t pos)
{
    if (!results_full(r))
        return true;
    struct hit probe = {ts, pos, NULL, 0};
    return older(&r->h[0], &probe);
}

static void results_add(struct results *r, int64_t ts, uint64_t pos, const char *json, size_t len,
                        struct trl_store_search_stats *st)
{
    if (results_full(r)) {
        st->more = true;
        free(r->h[0].json);
        r->h[0] = (struct hit){ts, pos, trl_xstrndup(json, len), len};
        heap_down(r, 0);
        return;
    }
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->h = trl_xrealloc(r->h, r->cap * sizeof(*r->h));
    }
    r->h[r->n] = (struct hit){ts, pos, trl_xstrndup(json, len), len};
    r->n++;
    if (r->limit)
        heap_up(r, r->n - 1);
}

static int cmp_newest_first(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;
    if (older(x, y))
        return 1;
    if (older(y, x))
        return -1;
    return 0;
}

int trl_store_reader_open(const char *data_dir, struct trl_store_reader **out)
{
    *out = NULL;
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof(dir), "%s/events", data_dir) >= (int)sizeof(dir))
        return -ENAMETOOLONG;
    if (access(dir, R_OK | X_OK) != 0)
        return -errno;
    struct trl_store_reader *r = trl_xcalloc(1, sizeof(*r));
    r->events_dir = trl_xstrdup(dir);
    trl_block_decoder_init(&r->dec);
    trl_match_ctx_init(&r->mctx);
    *out = r;
    return 0;
}

void trl_store_reader_close(struct trl_store_reader *r)
{
    if (!r)
        return;
    trl_block_decoder_free(&r->dec);
    trl_match_ctx_free(&r->mctx);
    trl_buf_free(&r->sb.meta);
    trl_buf_free(&r->sb.data);
    free(r->events_dir);
    free(r);
}

struct cand {
    uint64_t id;
    int64_t min_ts, max_ts;
};

static int list_blocks(struct trl_partition *p, int64_t from, int64_t to, struct cand **out,
                       size_t *n)
{
    sqlite3_stmt *st = NULL;
    *out = NULL;
    *n = 0;
    int rc = trl_sqlite_err(
        sqlite3_prepare_v2(trl_partition_db(p),
                           "SELECT id, min_ts, max_ts FROM blocks WHERE max_ts >= ? AND min_ts < ?"
                           " ORDER BY max_ts DESC, id DESC",
                           -1, &st, NULL));
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    size_t cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            *out = trl_xrealloc(*out, cap * sizeof(**out));
        }
        (*out)[(*n)++] = (struct cand){(uint64_t)sqlite3_column_int64(st, 0),
                                       sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2)};
    }
    if (step != SQLITE_DONE)
        rc = trl_sqlite_err(step);
    sqlite3_finalize(st);
    return rc;
}

struct search {
    struct trl_store_reader *r;
    const struct trl_match *m;
    const struct trl_store_search_opts *o;
    struct results res;
    struct trl_store_search_stats st;
    trl_store_hit_fn stream; /* trl_store_scan: each match goes straight to it */
    bool ts_only;
    void *stream_ud;
    /* trl_store_scan_pipe from columns: the pipeline run and the columns of its by-fields. */
    struct trl_pipe_run *run;
    int cols[TRL_PIPE_MAX_FIELDS];
    size_t ncols;
};

/* Pushes event i of the decoded block into the pipeline by its column values. */
static int push_columns(struct search *s, int64_t ts, uint32_t i)
{
    const struct trl_str *vals[TRL_PIPE_MAX_FIELDS];
    uint32_t nvals[TRL_PIPE_MAX_FIELDS];
    for (size_t k = 0; k < s->ncols; k++) {
        const struct trl_strcol *sc = &s->r->dec.str[s->cols[k]];
        vals[k] = sc->vals + sc->first[i];
        nvals[k] = sc->first[i + 1] - sc->first[i];
    }
    return trl_pipe_run_push_values(s->run, ts, vals, nvals);
}

static int search_block(struct search *s, struct trl_partition *p, const struct cand *c)
{
    struct trl_store_reader *r = s->r;
    s->st.blocks++;
    int rc = trl_partition_read_block(p, c->id, &r->sb, false);
    if (rc != 0)
        return rc == -ENOENT ? 0 : rc;
    struct trl_block_meta meta;
    if (trl_block_meta_parse(r->sb.meta.data, r->sb.meta.len, &meta) != 0) {
        s->st.blocks_unreadable++;
        return 0;
    }
    if (!trl_match_block_maybe(s->m, &meta)) {
        s->st.blocks_skipped_index++;
        return 0;
    }
    rc = trl_partition_read_block(p, c->id, &r->sb, true);
    if (rc != 0)
        return rc == -ENOENT ? 0 : rc;
    struct trl_block_view v;
    if (trl_block_view_init(&v, r->sb.data.data, r->sb.data.len) != 0) {
        s->st.blocks_unreadable++;
        return 0;
    }
    s->st.blocks_decoded++;
    trl_block_decoder_reset(&r->dec, &v);
    rc = trl_block_decode(&r->dec, &v, TRL_COL_TS);
    bool cols_only = trl_match_columns_only(s->m);
    uint32_t mask = trl_match_columns(s->m);
    for (int col = TRL_COL_HOST_NAME; rc == 0 && cols_only && col <= TRL_COL_EVENT_CODE; col++) {
        if (mask & (1u << col))
            rc = trl_block_decode(&r->dec, &v, (enum trl_col)col);
    }
    for (size_t k = 0; rc == 0 && k < s->ncols; k++)
        rc = trl_block_decode(&r->dec, &v, (enum trl_col)s->cols[k]);
    if (rc == 0 && !cols_only)
        rc = trl_block_decode(&r->dec, &v, TRL_COL_JSON);
    if (rc != 0) {
        s->st.blocks_unreadable++;
        return 0;
    }
    const struct trl_strcol *js = &r->dec.str[TRL_COL_JSON];
    for (uint32_t i = 0; i < v.count; i++) {
        int64_t ts = r->dec.ts[i];
        if (ts < s->o->from_ns || ts >= s->o->to_ns)
            continue;
        uint64_t pos = c->id << 20 | i;
        if (!results_wants(&s->res, ts, pos)) {
            s->st.more = true; /* older than every result kept */
            continue;
        }
        s->st.events_scanned++;
        if (cols_only) {
            if (!trl_match_event(s->m, &r->mctx, &r->dec, i, NULL, 0))
                continue;
            bool want_json = !(s->stream && (s->ts_only || s->ncols));
            if (want_json && trl_block_decode(&r->dec, &v, TRL_COL_JSON) != 0) {
                s->st.blocks_unreadable++;
                return 0;
            }
        } else {
            const struct trl_str *e = &js->vals[js->first[i]];
            if (!trl_match_event_maybe(s->m, &r->mctx, e->ptr, e->len) ||
                !trl_match_event(s->m, &r->mctx, &r->dec, i, e->ptr, e->len))
                continue;
        }
        s->st.events_matched++;
        if (s->ncols) {
            rc = push_columns(s, ts, i);
            if (rc != 0)
                return rc;
            continue;
        }
        if (s->stream) {
            /* With ts_only the JSON column may not have been needed at all. */
            const struct trl_str *e = r->dec.decoded[TRL_COL_JSON] ? &js->vals[js->first[i]] : NULL;
            rc = s->stream(s->stream_ud, ts, e ? e->ptr : NULL, e ? e->len : 0);
            if (rc != 0)
                return rc;
            continue;
        }
        const struct trl_str *e = &js->vals[js->first[i]];
        results_add(&s->res, ts, pos, e->ptr, e->len, &s->st);
    }
    return 0;
}

static int search_partition(struct search *s, int64_t day)
{
    char name[TRL_DAY_LEN + 1], path[PATH_MAX];
    trl_day_name(day, name);
    int rc = trl_store_partition_path(s->r->events_dir, name, path);
    if (rc != 0)
        return rc;
    struct trl_partition *p = NULL;
    rc = trl_partition_open_ro(path, &p);
    if (rc == -ENOENT && access(path, F_OK) != 0)
        return 0; /* removed by retention since the directory was listed */
    if (rc == TRL_EINVAL) {
        /* A file created but not yet initialised by the writer holds nothing. */
        return 0;
    }
    if (rc != 0)
        return rc;
    s->st.partitions++;
    sqlite3 *db = trl_partition_db(p);
    rc = trl_sqlite_err(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL));
    struct cand *c = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = list_blocks(p, s->o->from_ns, s->o->to_ns, &c, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        /* Blocks come newest first by their newest event: once the results are full and a
         * block's newest event is older than all of them, so is everything after it. */
        if (results_full(&s->res) && c[i].max_ts < s->res.h[0].ts) {
            s->st.more = true;
            break;
        }
        rc = search_block(s, p, &c[i]);
    }
    free(c);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    trl_partition_close(p);
    return rc;
}

int trl_store_search(struct trl_store_reader *r, const struct trl_query *q,
                     const struct trl_store_search_opts *o, trl_store_hit_fn fn, void *ud,
                     struct trl_store_search_stats *stats)
{
    struct search s = {.r = r, .o = o};
    s.res.limit = o->limit;
    s.m = trl_match_compile(q);
    int64_t *days = NULL;
    size_t ndays = 0;
    int rc = trl_store_list_days(r->events_dir, &days, &ndays);
    for (size_t k = ndays; rc == 0 && k-- > 0;) {
        int64_t start = days[k] * TRL_NS_PER_DAY;
        if (start >= o->to_ns || start + TRL_NS_PER_DAY <= o->from_ns)
            continue;
        /* Partitions hold disjoint days: an older one cannot beat a full set of results. */
        if (results_full(&s.res) && start + TRL_NS_PER_DAY <= s.res.h[0].ts) {
            s.st.more = true;
            break;
        }
        rc = search_partition(&s, days[k]);
    }
    free(days);
    trl_match_free((struct trl_match *)s.m);
    if (s.res.n > 1)
        qsort(s.res.h, s.res.n, sizeof(*s.res.h), cmp_newest_first);
    for (size_t i = 0; i < s.res.n; i++) {
        if (rc == 0 && fn)
            rc = fn(ud, s.res.h[i].ts, s.res.h[i].json, s.res.h[i].len);
        free(s.res.h[i].json);
    }
    free(s.res.h);
    if (stats)
        *stats = s.st;
    return rc;
}

/* Visits every partition overlapping the range, newest day first, streaming the matches. */
static int scan_days(struct search *s, const struct trl_query *q,
                     struct trl_store_search_stats *stats)
{
    s->m = trl_match_compile(q);
    int64_t *days = NULL;
    size_t ndays = 0;
    int rc = trl_store_list_days(s->r->events_dir, &days, &ndays);
    for (size_t k = ndays; rc == 0 && k-- > 0;) {
        int64_t start = days[k] * TRL_NS_PER_DAY;
        if (start >= s->o->to_ns || start + TRL_NS_PER_DAY <= s->o->from_ns)
            continue;
        rc = search_partition(s, days[k]);
    }
    free(days);
    trl_match_free((struct trl_match *)s->m);
    if (stats)
        *stats = s->st;
    return rc;
}

int trl_store_scan(struct trl_store_reader *r, const struct trl_query *q,
                   const struct trl_store_search_opts *o, bool ts_only, trl_store_hit_fn fn,
                   void *ud, struct trl_store_search_stats *stats)
{
    struct search s = {.r = r, .o = o, .stream = fn, .stream_ud = ud, .ts_only = ts_only};
    return scan_days(&s, q, stats);
}

static int push_json(void *ud, int64_t ts, const char *json, size_t len)
{
    return trl_pipe_run_push(ud, ts, json, len);
}

int trl_store_scan_pipe(struct trl_store_reader *r, const struct trl_query *q,
                        const struct trl_store_search_opts *o, struct trl_pipe_run *run,
                        const struct trl_pipeline *pl, struct trl_store_search_stats *stats)
{
    int cols[TRL_PIPE_MAX_FIELDS];
    size_t ncols = 0;
    if (!trl_pipeline_column_fields(pl, cols, &ncols))
        return trl_store_scan(r, q, o, !trl_pipeline_needs_json(pl), push_json, run, stats);
    struct search s = {
        .r = r, .o = o, .stream = push_json, .stream_ud = run, .run = run, .ncols = ncols};
    memcpy(s.cols, cols, ncols * sizeof(*cols));
    return scan_days(&s, q, stats);
}

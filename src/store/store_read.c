#include "store/store_read.h"
#include "core/util.h"
#include "store/match.h"
#include "store/partition.h"
#include "store/shred_scan.h"
#include "store/store_internal.h"

#include <zstd.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct trl_store_reader {
    char *events_dir;
    struct trl_block_decoder dec;
    struct trl_match_ctx mctx;
    /* The JSON column of a shredded block (or the parts of it a search needs), decompressed but
     * not rebuilt, and its scan. */
    void *dctx; /* ZSTD_DCtx */
    uint8_t *shred;
    size_t shred_cap;
    struct trl_json_parts parts;
    uint8_t *part_sel;    /* per part: decompressed */
    uint32_t *part_first; /* per part decompressed: its first event */
    size_t part_cap;
    struct trl_shred_scan scan;
    /* Per event of the current block: matched, JSON wanted; offsets of rebuilt JSON. */
    uint8_t *hit, *want;
    uint32_t *off, *len;
    size_t ev_cap;
    /* The data blob of the current block, read column by column through an incremental blob
     * handle: only the header and the columns a query needs leave the file. */
    sqlite3_blob *blob;
    uint8_t *data;
    size_t data_cap;
    uint32_t loaded; /* bit (1 << column) for each column whose bytes are in data */
    /* The meta blob of the current block, read through a second blob handle: a statement per
     * block would copy it twice on its way out of SQLite. */
    sqlite3_blob *mblob;
    uint8_t *meta;
    size_t meta_cap;
    unsigned threads; /* trl_store_reader_set_threads() */
    bool map_files;   /* trl_store_reader_map_files() */
    /* Readers for the helper threads of a search on several threads, opened when first needed
     * and kept for the next search. */
    struct trl_store_reader *helpers[TRL_STORE_SEARCH_MAX_THREADS - 1];
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

/* Adds a hit that results_wants(), taking its JSON. */
static void results_put(struct results *r, struct hit h, struct trl_store_search_stats *st)
{
    if (results_full(r)) {
        st->more = true;
        free(r->h[0].json);
        r->h[0] = h;
        heap_down(r, 0);
        return;
    }
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->h = trl_xrealloc(r->h, r->cap * sizeof(*r->h));
    }
    r->h[r->n] = h;
    r->n++;
    if (r->limit)
        heap_up(r, r->n - 1);
}

static void results_add(struct results *r, int64_t ts, uint64_t pos, const char *json, size_t len,
                        struct trl_store_search_stats *st)
{
    results_put(r, (struct hit){ts, pos, trl_xstrndup(json, len), len}, st);
}

static void results_free(struct results *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->h[i].json);
    free(r->h);
    r->h = NULL;
    r->n = r->cap = 0;
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

static struct trl_store_reader *reader_new(const char *events_dir)
{
    struct trl_store_reader *r = trl_xcalloc(1, sizeof(*r));
    r->events_dir = trl_xstrdup(events_dir);
    trl_block_decoder_init(&r->dec);
    trl_match_ctx_init(&r->mctx);
    trl_shred_scan_init(&r->scan);
    return r;
}

int trl_store_reader_open(const char *data_dir, struct trl_store_reader **out)
{
    *out = NULL;
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof(dir), "%s/events", data_dir) >= (int)sizeof(dir))
        return -ENAMETOOLONG;
    if (access(dir, R_OK | X_OK) != 0)
        return -errno;
    *out = reader_new(dir);
    return 0;
}

void trl_store_reader_map_files(struct trl_store_reader *r, bool on)
{
    r->map_files = on;
}

void trl_store_reader_set_threads(struct trl_store_reader *r, unsigned n)
{
    r->threads = n < 1 ? 1 : n > TRL_STORE_SEARCH_MAX_THREADS ? TRL_STORE_SEARCH_MAX_THREADS : n;
}

void trl_store_reader_close(struct trl_store_reader *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < TRL_STORE_SEARCH_MAX_THREADS - 1; i++)
        trl_store_reader_close(r->helpers[i]);
    trl_block_decoder_free(&r->dec);
    trl_match_ctx_free(&r->mctx);
    trl_shred_scan_free(&r->scan);
    ZSTD_freeDCtx(r->dctx);
    free(r->shred);
    trl_json_parts_free(&r->parts);
    free(r->part_sel);
    free(r->part_first);
    free(r->hit);
    free(r->want);
    free(r->off);
    free(r->len);
    free(r->data);
    free(r->meta);
    free(r->events_dir);
    free(r);
}

/* The capacity to give a buffer that must hold need bytes: a block's columns differ in size, and
 * growing by half at least keeps a scan from replacing (and faulting in afresh) a buffer of
 * hundreds of kilobytes at nearly every block. */
static size_t grow_cap(size_t cap, size_t need)
{
    size_t next = cap + cap / 2;
    if (next < 4096)
        next = 4096;
    return next > need ? next : need;
}

struct cand {
    uint64_t id;
    int64_t min_ts, max_ts;
    uint32_t count; /* 0 when unknown (see list_blocks) */
};

/* Lists the blocks overlapping [from, to), newest first. Their event counts only when
 * with_count: the time index holds the rest, and reading each block's row for its count costs a
 * page of the table per block. */
static int list_blocks(struct trl_partition *p, int64_t from, int64_t to, bool with_count,
                       struct cand **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    *out = NULL;
    *n = 0;
    int rc = trl_sqlite_err(sqlite3_prepare_v2(
        trl_partition_db(p),
        with_count ? "SELECT id, min_ts, max_ts, count FROM blocks WHERE max_ts >= ? AND min_ts < ?"
                     " ORDER BY max_ts DESC, id DESC"
                   : "SELECT id, min_ts, max_ts, 0 FROM blocks WHERE max_ts >= ? AND min_ts < ?"
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
        int64_t count = sqlite3_column_int64(st, 3);
        (*out)[(*n)++] =
            (struct cand){(uint64_t)sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                          sqlite3_column_int64(st, 2),
                          count > 0 && count <= TRL_BLOCK_MAX_EVENTS ? (uint32_t)count : 0};
    }
    if (step != SQLITE_DONE)
        rc = trl_sqlite_err(step);
    sqlite3_finalize(st);
    return rc;
}

/* The groups of a scan into an aggregation by keyword columns: each distinct combination of an
 * event's values of the by-fields (and its time bucket, for a timechart) is counted here as the
 * blocks are read, and fed to the pipeline once, with its count, when the scan ends. An event
 * costs a hash of its columns' bytes and a probe of a table of the block's groups, which stays in
 * cache; each group of a block then costs a probe of the table of all groups.
 *
 * An event's values of a column are compared as the column's bytes for them (a slice:
 * trl_block_decode_slices), without taking them apart. A tuple is: i64 bucket, then for each
 * by-field u32 length and the slice (native byte order: tuples never leave the process). A
 * column written with another (longer) encoding of the same values gives another tuple: the
 * pipeline's own table merges the two when they are fed to it. */
struct tuple_slot {
    uint64_t hash;
    size_t off; /* of the tuple in keys */
    size_t len; /* 0: slot free */
    uint64_t count;
};

struct block_group {
    uint64_t hash;
    uint32_t ev; /* the group's first event + 1; 0: slot free */
    uint32_t count;
};

struct tuples {
    struct tuple_slot *slot;
    size_t cap, n;
    uint8_t *keys;
    size_t keys_len, keys_cap;
    struct trl_str *vals; /* flushing: the values of one tuple */
    size_t vals_cap;
    /* The slices of the current block's by-columns. */
    uint32_t *start[TRL_PIPE_MAX_FIELDS], *nvals[TRL_PIPE_MAX_FIELDS];
    const uint8_t *bytes[TRL_PIPE_MAX_FIELDS];
    size_t ev_cap;
    /* The groups of the current block, before they are merged into the table above; used[]
     * lists the slots taken. */
    struct block_group *bg;
    uint32_t *used;
    size_t lcap;
};

static void tuples_free(struct tuples *t)
{
    free(t->slot);
    free(t->keys);
    free(t->vals);
    for (size_t k = 0; k < TRL_PIPE_MAX_FIELDS; k++) {
        free(t->start[k]);
        free(t->nvals[k]);
    }
    free(t->bg);
    free(t->used);
    memset(t, 0, sizeof(*t));
}

static void tuples_grow(struct tuples *t)
{
    size_t cap = t->cap ? t->cap * 2 : 1024;
    struct tuple_slot *slot = trl_xcalloc(cap, sizeof(*slot));
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slot[i].len)
            continue;
        size_t j = t->slot[i].hash & (cap - 1);
        while (slot[j].len)
            j = (j + 1) & (cap - 1);
        slot[j] = t->slot[i];
    }
    free(t->slot);
    t->slot = slot;
    t->cap = cap;
}

/* Room for the slices of a block of count events. */
static void tuples_reserve(struct tuples *t, size_t ncols, uint32_t count)
{
    if (t->ev_cap >= count)
        return;
    for (size_t k = 0; k < ncols; k++) {
        free(t->start[k]);
        free(t->nvals[k]);
        t->start[k] = trl_xmalloc(((size_t)count + 1) * sizeof(*t->start[k]));
        t->nvals[k] = trl_xmalloc((size_t)count * sizeof(*t->nvals[k]));
    }
    t->ev_cap = count;
    size_t cap = 64;
    while (cap < 2 * (size_t)count)
        cap *= 2;
    free(t->bg);
    free(t->used);
    t->bg = trl_xcalloc(cap, sizeof(*t->bg));
    t->used = trl_xmalloc(cap * sizeof(*t->used));
    t->lcap = cap;
}

struct search {
    struct trl_store_reader *r;
    const struct trl_match *m;
    const struct trl_store_search_opts *o;
    /* A search on several threads (see struct par_search), and its flag set when this
     * partition's results are no longer wanted. */
    struct par_search *par;
    const atomic_bool *abandon;
    struct results res;
    struct trl_store_search_stats st;
    trl_store_hit_fn stream; /* trl_store_scan: each match goes straight to it */
    bool ts_only;
    void *stream_ud;
    /* trl_store_scan_pipe from columns: the pipeline run and the columns of its by-fields. */
    struct trl_pipe_run *run;
    int cols[TRL_PIPE_MAX_FIELDS];
    size_t ncols;
    bool cols_untimed; /* ... whose groups do not depend on time (stats, top) */
    int64_t cols_span; /* ... else the timechart's bucket */
    struct tuples tup; /* ... the groups counted so far */
    /* trl_store_scan_pipe into a pipeline that only counts, or trl_store_count_buckets: events
     * go in by the block when they can. */
    bool counts;
    int64_t span;      /* the timechart's bucket, 0 for stats */
    uint64_t *buckets; /* trl_store_count_buckets: nbuckets counts of span from origin */
    size_t nbuckets;
    int64_t origin;
};

/* The bucket of a timechart that ts falls in (floor division, as the pipeline does). */
static int64_t bucket_of(int64_t ts, int64_t span)
{
    int64_t b = ts / span * span;
    return b > ts ? b - span : b;
}

/* Counts n events at ts (all in ts's bucket) into the pipeline or the buckets. */
static int count_events(struct search *s, int64_t ts, uint64_t n)
{
    if (!s->buckets)
        return trl_pipe_run_push_count(s->run, ts, n);
    if (ts >= s->origin) {
        uint64_t k = (uint64_t)(ts - s->origin) / (uint64_t)s->span;
        if (k < s->nbuckets)
            s->buckets[k] += n;
    }
    return 0;
}

/* The bucket ts falls in, for counting: a timechart's from the epoch, or from the origin. */
static int64_t count_bucket(const struct search *s, int64_t ts)
{
    if (s->span == 0)
        return 0;
    if (s->buckets)
        return ts < s->origin ? -1 : (ts - s->origin) / s->span;
    return bucket_of(ts, s->span);
}

/* The slice of event i's values of by-column k. */
static inline const uint8_t *slice(const struct tuples *t, size_t k, uint32_t i, size_t *len)
{
    *len = t->start[k][i + 1] - t->start[k][i];
    return t->bytes[k] ? t->bytes[k] + t->start[k][i] : NULL;
}

/* The hash of event i's values of the by-fields and its time bucket. */
static uint64_t event_hash(const struct search *s, int64_t bucket, uint32_t i)
{
    size_t len;
    const uint8_t *p = slice(&s->tup, 0, i, &len);
    uint64_t h = trl_hash_short(p, len) ^ (uint64_t)bucket;
    for (size_t k = 1; k < s->ncols; k++) {
        p = slice(&s->tup, k, i, &len);
        h = (h ^ trl_hash_short(p, len)) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
    }
    return h;
}

/* True when events a and b of the block have the same values of the by-fields. */
static bool events_equal(const struct search *s, uint32_t a, uint32_t b)
{
    for (size_t k = 0; k < s->ncols; k++) {
        size_t la, lb;
        const uint8_t *pa = slice(&s->tup, k, a, &la), *pb = slice(&s->tup, k, b, &lb);
        if (la != lb || !trl_short_eq((const char *)pa, (const char *)pb, la))
            return false;
    }
    return true;
}

/* Counts n events like event i of the block (in time bucket bucket), of hash h, in the table of
 * all groups. */
static void tuples_count(struct search *s, int64_t bucket, uint32_t i, uint64_t h, uint64_t n)
{
    struct tuples *t = &s->tup;
    size_t need = sizeof(bucket);
    for (size_t k = 0; k < s->ncols; k++)
        need += sizeof(uint32_t) + (t->start[k][i + 1] - t->start[k][i]);
    if ((t->n + 1) * 2 > t->cap)
        tuples_grow(t);
    if (t->keys_cap - t->keys_len < need) {
        t->keys_cap = grow_cap(t->keys_cap, t->keys_len + need);
        t->keys = trl_xrealloc(t->keys, t->keys_cap);
    }
    /* Written after the last tuple: kept when it is new. */
    uint8_t *key = t->keys + t->keys_len, *p = key;
    memcpy(p, &bucket, sizeof(bucket));
    p += sizeof(bucket);
    for (size_t k = 0; k < s->ncols; k++) {
        size_t len;
        const uint8_t *v = slice(t, k, i, &len);
        uint32_t l32 = (uint32_t)len;
        memcpy(p, &l32, sizeof(l32));
        if (len)
            memcpy(p + sizeof(l32), v, len);
        p += sizeof(l32) + len;
    }
    size_t j = h & (t->cap - 1);
    while (t->slot[j].len) {
        struct tuple_slot *e = &t->slot[j];
        if (e->hash == h && e->len == need &&
            trl_short_eq((const char *)t->keys + e->off, (const char *)key, need)) {
            e->count += n;
            return;
        }
        j = (j + 1) & (t->cap - 1);
    }
    t->slot[j] = (struct tuple_slot){h, t->keys_len, need, n};
    t->keys_len += need;
    t->n++;
}

/* Decodes the slices of the block's by-columns. 0 or TRL_EINVAL. */
static int decode_slices(struct search *s, const struct trl_block_view *v)
{
    struct tuples *t = &s->tup;
    tuples_reserve(t, s->ncols, v->count);
    for (size_t k = 0; k < s->ncols; k++) {
        int rc = trl_block_decode_slices(&s->r->dec, v, (enum trl_col)s->cols[k], t->start[k],
                                         t->nvals[k], &t->bytes[k]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Counts the matched events (r->hit) of the block of count events, whose slices are decoded, in
 * their groups. */
static void count_columns(struct search *s, uint32_t count)
{
    struct trl_store_reader *r = s->r;
    struct tuples *t = &s->tup;
    /* An event without a value of the first by-field counts in no group (pipes.h). */
    const uint32_t *nv0 = t->nvals[0];
    if (!s->cols_untimed) {
        for (uint32_t i = 0; i < count; i++) {
            if (!r->hit[i] || nv0[i] == 0)
                continue;
            int64_t b = bucket_of(r->dec.ts[i], s->cols_span);
            tuples_count(s, b, i, event_hash(s, b, i), 1);
        }
        return;
    }
    size_t mask = t->lcap - 1, nused = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (!r->hit[i] || nv0[i] == 0)
            continue;
        uint64_t h = event_hash(s, 0, i);
        size_t j = h & mask;
        for (;;) {
            struct block_group *g = &t->bg[j];
            if (!g->ev) {
                *g = (struct block_group){h, i + 1, 1};
                t->used[nused++] = (uint32_t)j;
                break;
            }
            if (g->hash == h && events_equal(s, g->ev - 1, i)) {
                g->count++;
                break;
            }
            j = (j + 1) & mask;
        }
    }
    /* The table of all groups outgrows the cache: the hashes are known, so the slots a few
     * groups ahead are fetched while this one is counted. */
    while ((t->n + nused) * 2 > t->cap)
        tuples_grow(t);
    for (size_t u = 0; u < nused; u++) {
        struct block_group *g = &t->bg[t->used[u]];
        if (u + 8 < nused)
            __builtin_prefetch(&t->slot[t->bg[t->used[u + 8]].hash & (t->cap - 1)]);
        tuples_count(s, 0, g->ev - 1, g->hash, g->count);
        g->ev = 0;
    }
}

/* Feeds every group counted to the pipeline, with its count. */
static int flush_columns(struct search *s)
{
    struct tuples *t = &s->tup;
    for (size_t e = 0; e < t->cap; e++) {
        const struct tuple_slot *sl = &t->slot[e];
        if (!sl->len)
            continue;
        const uint8_t *p = t->keys + sl->off, *end = p + sl->len;
        /* Every value takes at least its length's byte. */
        if (t->vals_cap < sl->len) {
            free(t->vals);
            t->vals_cap = grow_cap(t->vals_cap, sl->len);
            t->vals = trl_xmalloc(t->vals_cap * sizeof(*t->vals));
        }
        int64_t bucket;
        memcpy(&bucket, p, sizeof(bucket));
        p += sizeof(bucket);
        const struct trl_str *vals[TRL_PIPE_MAX_FIELDS];
        uint32_t nvals[TRL_PIPE_MAX_FIELDS];
        size_t used = 0;
        for (size_t k = 0; k < s->ncols; k++) {
            uint32_t len;
            memcpy(&len, p, sizeof(len));
            p += sizeof(len);
            const uint8_t *q = p, *qend = p + len;
            p = qend;
            vals[k] = t->vals + used;
            nvals[k] = 0;
            uint64_t n = 0;
            /* The slices were checked when their block was decoded. */
            if (len && !trl_varint_get(&q, qend, &n))
                return TRL_EINVAL;
            for (uint64_t j = 0; j < n; j++) {
                uint64_t vl;
                if (!trl_varint_get(&q, qend, &vl) || vl > (uint64_t)(qend - q))
                    return TRL_EINVAL;
                t->vals[used++] = (struct trl_str){(const char *)q, (size_t)vl};
                q += vl;
            }
            nvals[k] = (uint32_t)n;
        }
        if (p != end)
            return TRL_EINVAL;
        int rc = trl_pipe_run_push_values_n(s->run, bucket, vals, nvals, sl->count);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Opens block id's data blob and reads its header and directory (no column yet). 0, -ENOENT
 * when the row is gone, TRL_EINVAL when the header is damaged, or another negative error. */
static int load_view(struct trl_store_reader *r, struct trl_partition *p, uint64_t id,
                     struct trl_block_view *v)
{
    int rc = r->blob ? sqlite3_blob_reopen(r->blob, (sqlite3_int64)id)
                     : sqlite3_blob_open(trl_partition_db(p), "main", "blocks", "data",
                                         (sqlite3_int64)id, 0, &r->blob);
    if (rc != SQLITE_OK) {
        sqlite3_blob_close(r->blob);
        r->blob = NULL;
        return rc == SQLITE_ERROR ? -ENOENT : trl_sqlite_err(rc);
    }
    int len = sqlite3_blob_bytes(r->blob);
    if (len < 12)
        return TRL_EINVAL;
    if (r->data_cap < (size_t)len) {
        free(r->data);
        r->data_cap = grow_cap(r->data_cap, (size_t)len);
        r->data = trl_xmalloc(r->data_cap);
    }
    r->loaded = 0;
    /* "TRLB", version, ncols, u16, u32 count; then 12 bytes per column (docs/storage.md). */
    rc = sqlite3_blob_read(r->blob, r->data, 12, 0);
    if (rc != SQLITE_OK)
        return trl_sqlite_err(rc);
    int dir = 12 * r->data[5];
    if (dir > len - 12)
        return TRL_EINVAL;
    if (dir > 0 && (rc = sqlite3_blob_read(r->blob, r->data + 12, dir, 12)) != SQLITE_OK)
        return trl_sqlite_err(rc);
    return trl_block_view_init(v, r->data, (size_t)len);
}

/* Reads block id's meta blob and parses it into *m (which points into the reader's buffer). 0,
 * -ENOENT when the row is gone, TRL_EINVAL when the blob is damaged, or another negative error. */
static int load_meta(struct trl_store_reader *r, struct trl_partition *p, uint64_t id,
                     struct trl_block_meta *m)
{
    int rc = r->mblob ? sqlite3_blob_reopen(r->mblob, (sqlite3_int64)id)
                      : sqlite3_blob_open(trl_partition_db(p), "main", "blocks", "meta",
                                          (sqlite3_int64)id, 0, &r->mblob);
    if (rc != SQLITE_OK) {
        sqlite3_blob_close(r->mblob);
        r->mblob = NULL;
        return rc == SQLITE_ERROR ? -ENOENT : trl_sqlite_err(rc);
    }
    int len = sqlite3_blob_bytes(r->mblob);
    if (r->meta_cap < (size_t)len || !r->meta) {
        free(r->meta);
        r->meta_cap = grow_cap(r->meta_cap, (size_t)len);
        r->meta = trl_xmalloc(r->meta_cap);
    }
    if (len > 0 && (rc = sqlite3_blob_read(r->mblob, r->meta, len, 0)) != SQLITE_OK)
        return trl_sqlite_err(rc);
    return trl_block_meta_parse(r->meta, (size_t)len, m) != 0 ? TRL_EINVAL : 0;
}

/* Reads the bytes of the columns in mask that are not read yet. */
static int load_cols(struct trl_store_reader *r, const struct trl_block_view *v, uint32_t mask)
{
    for (int c = 0; c < TRL_COL__COUNT; c++) {
        uint32_t bit = 1u << c;
        if (!(mask & bit) || (r->loaded & bit))
            continue;
        if (v->cols[c].present && v->cols[c].stored_len > 0) {
            int rc = sqlite3_blob_read(r->blob, r->data + v->cols[c].off,
                                       (int)v->cols[c].stored_len, (int)v->cols[c].off);
            if (rc != SQLITE_OK)
                return trl_sqlite_err(rc);
        }
        r->loaded |= bit;
    }
    return 0;
}

static int decode_col(struct trl_store_reader *r, const struct trl_block_view *v, enum trl_col c)
{
    if (r->dec.decoded[c])
        return 0;
    int rc = load_cols(r, v, 1u << c);
    return rc != 0 ? rc : trl_block_decode(&r->dec, v, c);
}

/* Decompresses the JSON column of a shredded block without rebuilding it and opens its scan: the
 * whole column, or with want (per event) only the parts holding a wanted event. 0, or non-zero
 * when the block is to be decoded the usual way (which reports damage). */
static int open_scan(struct trl_store_reader *r, const struct trl_block_view *v,
                     const uint8_t *want)
{
    if (v->version == TRL_BLOCK_VERSION_ROWS || !v->cols[TRL_COL_JSON].present ||
        !r->dec.decoded[TRL_COL_TS])
        return TRL_ENOMATCH;
    int rc = load_cols(r, v, 1u << TRL_COL_JSON);
    if (rc != 0)
        return rc;
    if ((rc = trl_block_json_parts(v, &r->parts)) != 0)
        return rc;
    uint32_t n = r->parts.n, nsel = 0;
    if (r->part_cap < n) {
        free(r->part_sel);
        free(r->part_first);
        r->part_cap = grow_cap(r->part_cap, n);
        r->part_sel = trl_xmalloc(r->part_cap);
        r->part_first = trl_xmalloc(r->part_cap * sizeof(*r->part_first));
    }
    for (uint32_t k = 0; k < n; k++) {
        const struct trl_json_part *pt = &r->parts.p[k];
        r->part_sel[k] = !want || memchr(want + pt->first, 1, pt->count) != NULL;
        /* The first part holds skeletons the others name (and is their zstd prefix): it is
         * decompressed with any of them. */
        if (r->part_sel[k] && k > 0 && !r->part_sel[0]) {
            r->part_sel[0] = 1;
            nsel++;
        }
        nsel += r->part_sel[k];
    }
    size_t raw = v->cols[TRL_COL_JSON].raw_len, len;
    if (r->shred_cap < raw) {
        free(r->shred);
        r->shred_cap = grow_cap(r->shred_cap, raw);
        r->shred = trl_xmalloc(r->shred_cap);
    }
    rc = trl_block_json_read(&r->dctx, v, &r->parts, r->part_sel, r->shred, &len, r->part_first);
    if (rc != 0)
        return rc;
    if (nsel < n)
        return trl_shred_scan_open_parts(&r->scan, r->shred, len, v->count, r->dec.ts,
                                         r->part_first, nsel);
    return trl_shred_scan_open(&r->scan, r->shred, len, v->count, v->version, r->dec.ts);
}

static void reserve_events(struct trl_store_reader *r, uint32_t count)
{
    if (r->ev_cap >= count)
        return;
    free(r->hit);
    free(r->want);
    free(r->off);
    free(r->len);
    r->ev_cap = count;
    r->hit = trl_xmalloc(count);
    r->want = trl_xmalloc(count);
    r->off = trl_xmalloc(count * sizeof(*r->off));
    r->len = trl_xmalloc(count * sizeof(*r->len));
}

/* Makes the JSON of the matched events available: the whole column when many matched, else only
 * theirs, rebuilt from the scan. Sets *rebuilt when the JSON is in r->scan.json. */
static int matched_json(struct trl_store_reader *r, const struct trl_block_view *v, bool scanned,
                        uint32_t nhit, bool *rebuilt)
{
    *rebuilt = false;
    if (r->dec.decoded[TRL_COL_JSON])
        return 0;
    /* Rebuilding all the events costs about what skipping most of them and rebuilding the rest
     * does; the column decoder also checks the block as a whole. A block of format 5 needs only
     * the parts that hold a matched event decompressed and rebuilt. */
    bool parts = v->version >= TRL_BLOCK_VERSION && v->count > TRL_BLOCK_PART_EVENTS;
    if (((uint64_t)nhit * 4 < v->count || (parts && !scanned)) &&
        (scanned || open_scan(r, v, parts ? r->hit : NULL) == 0) &&
        trl_shred_rebuild(&r->scan, r->hit, r->off, r->len) == 0) {
        *rebuilt = true;
        return 0;
    }
    return decode_col(r, v, TRL_COL_JSON);
}

/* True when the search of this partition is no longer wanted: checked between the costly steps,
 * so that a search abandoned while its thread reads a large block ends soon. */
static bool abandoned(const struct search *s)
{
    return s->abandon && atomic_load_explicit(s->abandon, memory_order_relaxed);
}

static int search_block(struct search *s, struct trl_partition *p, const struct cand *c)
{
    struct trl_store_reader *r = s->r;
    s->st.blocks++;
    bool all = trl_match_all(s->m);
    /* Counting every event of a block that lies in the range (and in one time bucket) needs
     * nothing but its row. */
    if (all && s->counts && c->count > 0 && c->min_ts >= s->o->from_ns && c->max_ts < s->o->to_ns &&
        count_bucket(s, c->min_ts) == count_bucket(s, c->max_ts)) {
        s->st.events_scanned += c->count;
        s->st.events_matched += c->count;
        return count_events(s, c->min_ts, c->count);
    }
    int rc;
    if (!all) {
        struct trl_block_meta meta;
        rc = load_meta(r, p, c->id, &meta);
        if (rc == TRL_EINVAL) {
            s->st.blocks_unreadable++;
            return 0;
        }
        if (rc != 0)
            return rc == -ENOENT ? 0 : rc;
        if (!trl_match_block_maybe(s->m, &meta)) {
            s->st.blocks_skipped_index++;
            return 0;
        }
    }
    if (abandoned(s))
        return 0;
    struct trl_block_view v;
    rc = load_view(r, p, c->id, &v);
    if (rc == -ENOENT)
        return 0;
    if (rc == TRL_EINVAL) {
        s->st.blocks_unreadable++;
        return 0;
    }
    if (rc != 0)
        return rc;
    s->st.blocks_decoded++;
    trl_block_decoder_reset(&r->dec, &v);
    bool cols_only = trl_match_columns_only(s->m);
    /* Stats or top from columns, on a block wholly inside the range, with a query the columns
     * decide: no event's time matters, and the timestamps stay compressed. */
    bool untimed =
        s->cols_untimed && cols_only && c->min_ts >= s->o->from_ns && c->max_ts < s->o->to_ns;
    uint32_t mask = untimed ? 0 : 1u << TRL_COL_TS;
    if (cols_only)
        mask |= trl_match_columns(s->m);
    if (!cols_only)
        mask |= 1u << TRL_COL_JSON;
    /* The by-columns are read as slices (count_columns), unless the query decodes them too. */
    uint32_t by = 0;
    for (size_t k = 0; k < s->ncols; k++)
        by |= 1u << s->cols[k];
    rc = load_cols(r, &v, mask | by);
    if (rc != 0)
        return rc;
    for (int col = 0; rc == 0 && col <= TRL_COL_EVENT_CODE; col++) {
        if (mask & (1u << col))
            rc = trl_block_decode(&r->dec, &v, (enum trl_col)col);
    }
    if (rc == 0 && s->ncols)
        rc = decode_slices(s, &v);
    /* A plan that needs the JSON is tested on the shredded column's values when it can be,
     * without rebuilding every event's JSON. */
    bool scanned = false;
    if (rc == 0 && !cols_only && abandoned(s))
        return 0;
    if (rc == 0 && !cols_only) {
        scanned =
            open_scan(r, &v, NULL) == 0 && trl_match_scan_block(s->m, &r->mctx, &r->scan) == 0;
        if (!scanned)
            rc = trl_block_decode(&r->dec, &v, TRL_COL_JSON);
    }
    if (rc != 0) {
        s->st.blocks_unreadable++;
        return 0;
    }
    reserve_events(r, v.count);
    const struct trl_strcol *js = &r->dec.str[TRL_COL_JSON];
    uint32_t nhit = 0;
    for (uint32_t i = 0; i < v.count; i++) {
        r->hit[i] = 0;
        int64_t ts = untimed ? c->min_ts : r->dec.ts[i];
        if (ts < s->o->from_ns || ts >= s->o->to_ns)
            continue;
        if (!results_wants(&s->res, ts, c->id << 20 | i)) {
            s->st.more = true; /* older than every result kept */
            continue;
        }
        s->st.events_scanned++;
        bool ok;
        if (all) {
            ok = true;
        } else if (cols_only) {
            ok = trl_match_event(s->m, &r->mctx, &r->dec, i, NULL, 0);
        } else if (scanned) {
            ok = trl_match_event_scanned(s->m, &r->mctx, i);
        } else {
            const struct trl_str *e = &js->vals[js->first[i]];
            ok = trl_match_event_maybe(s->m, &r->mctx, e->ptr, e->len) &&
                 trl_match_event(s->m, &r->mctx, &r->dec, i, e->ptr, e->len);
        }
        if (ok) {
            r->hit[i] = 1;
            nhit++;
        }
    }
    s->st.events_matched += nhit;
    if (nhit == 0)
        return 0;
    if (s->ncols) {
        count_columns(s, v.count);
        return 0;
    }
    bool need_json = !(s->stream && s->ts_only);
    if (need_json && abandoned(s))
        return 0;
    bool rebuilt = false;
    if (need_json && matched_json(r, &v, scanned, nhit, &rebuilt) != 0) {
        s->st.blocks_unreadable++;
        return 0;
    }
    for (uint32_t i = 0; i < v.count; i++) {
        if (!r->hit[i])
            continue;
        int64_t ts = untimed ? c->min_ts : r->dec.ts[i];
        const char *json = NULL;
        size_t len = 0;
        if (rebuilt) {
            json = r->scan.json + r->off[i];
            len = r->len[i];
        } else if (need_json) {
            json = js->vals[js->first[i]].ptr;
            len = js->vals[js->first[i]].len;
        }
        if (s->stream) {
            rc = s->stream(s->stream_ud, ts, json, len);
            if (rc != 0)
                return rc;
            continue;
        }
        uint64_t pos = c->id << 20 | i;
        if (!results_wants(&s->res, ts, pos)) {
            s->st.more = true;
            continue;
        }
        results_add(&s->res, ts, pos, json, len, &s->st);
    }
    return 0;
}

static void par_maybe_start(struct search *s);

/* Opens the partition of day read-only, inside a read transaction. 0 with *out NULL when there is
 * nothing to search (the file went away or is not initialised yet). */
static int partition_begin(struct search *s, int64_t day, struct trl_partition **out)
{
    *out = NULL;
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
    sqlite3 *db = trl_partition_db(p);
    /* See trl_store_reader_map_files(): SQLite caps the map at its compile-time limit, 2 GiB by
     * default. */
    if (s->r->map_files)
        sqlite3_exec(db, "PRAGMA mmap_size=2147418112", NULL, NULL, NULL);
    rc = trl_sqlite_err(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL));
    if (rc != 0) {
        trl_partition_close(p);
        return rc;
    }
    *out = p;
    return 0;
}

static void partition_end(struct search *s, struct trl_partition *p)
{
    sqlite3_blob_close(s->r->blob);
    s->r->blob = NULL;
    sqlite3_blob_close(s->r->mblob);
    s->r->mblob = NULL;
    sqlite3_exec(trl_partition_db(p), "COMMIT", NULL, NULL, NULL);
    trl_partition_close(p);
}

/* Searches the blocks c[0..n) of partition p, newest first; with next, only those this thread
 * takes from the counter it shares with the other threads searching the same partition. */
static int search_blocks(struct search *s, struct trl_partition *p, const struct cand *c, size_t n,
                         atomic_size_t *next)
{
    int rc = 0;
    for (size_t k = 0; rc == 0; k++) {
        size_t i = next ? atomic_fetch_add(next, 1) : k;
        if (i >= n || abandoned(s))
            break;
        /* Blocks come newest first by their newest event: once the results are full and a
         * block's newest event is older than all of them, so is everything after it. */
        if (results_full(&s->res) && c[i].max_ts < s->res.h[0].ts) {
            s->st.more = true;
            break;
        }
        rc = search_block(s, p, &c[i]);
        if (s->par)
            par_maybe_start(s);
    }
    return rc;
}

static int search_partition(struct search *s, int64_t day)
{
    struct trl_partition *p;
    int rc = partition_begin(s, day, &p);
    if (rc != 0 || !p)
        return rc;
    s->st.partitions++;
    struct cand *c = NULL;
    size_t n = 0;
    rc = list_blocks(p, s->o->from_ns, s->o->to_ns, s->counts, &c, &n);
    if (rc == 0)
        rc = search_blocks(s, p, c, n, NULL);
    free(c);
    partition_end(s, p);
    return rc;
}

/* A search on several threads (trl_store_reader_set_threads). Partitions are taken newest day
 * first by whichever thread is free; a thread with no partition left to take joins one being
 * searched and shares its blocks (the block counter of the partition), reading them through its
 * own connection: its read transaction must then see the same blocks and head as the first
 * thread's, which it checks, or it leaves the partition to it. Each thread searches into its own
 * results. A partition's results join the search's in day order, once every newer partition's
 * have: the merged results are then what one thread keeps. When they are full and the next
 * partition holds only older events, the search is over: a partition being searched is abandoned
 * and the rest are not opened.
 *
 * The helper threads start only once the calling thread's partition has shown it will take a
 * while without filling the results (PAR_START_BLOCKS blocks read, or PAR_START_DECODED
 * decoded): a search for the newest events, over in a few blocks, reads nothing more for it. */
#define PAR_START_BLOCKS  16
#define PAR_START_DECODED 4
/* A partition with fewer blocks left is not worth opening a second time. */
#define PAR_JOIN_MIN_BLOCKS 4

struct par_job {
    int64_t day;
    /* The searches of the threads sharing the partition: [0] took it, the others joined. */
    struct search s[TRL_STORE_SEARCH_MAX_THREADS];
    unsigned nparts;
    unsigned active; /* threads still searching it */
    bool settled;    /* s[0] has listed the blocks, or failed to */
    bool listed;     /* ... and c, n and head are set */
    bool owner_done; /* s[0] has left its block loop: no thread joins any more */
    bool done;       /* every thread is done: the results can be merged */
    struct cand *c;  /* s[0]'s list of blocks, kept until the end of the search */
    size_t n;
    struct trl_partition_head head;
    atomic_size_t next_block;
    int rc;
};

struct par_worker {
    struct par_search *p;
    struct trl_store_reader *r;
    pthread_t tid;
};

struct par_search {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a partition settled or a thread finished one */
    struct par_job *jobs;
    size_t n;
    size_t next;   /* the next partition to take */
    size_t merged; /* partitions merged into res, a prefix of jobs */
    atomic_bool over;
    struct results res;
    struct trl_store_search_stats st;
    int rc;
    /* The helper threads; started by the calling thread only (par_maybe_start). */
    struct trl_store_reader *r;
    unsigned nthreads;
    bool started;
    struct par_worker w[TRL_STORE_SEARCH_MAX_THREADS - 1];
    size_t nw;
};

static void stats_add(struct trl_store_search_stats *a, const struct trl_store_search_stats *b)
{
    a->partitions += b->partitions;
    a->blocks += b->blocks;
    a->blocks_skipped_index += b->blocks_skipped_index;
    a->blocks_decoded += b->blocks_decoded;
    a->events_scanned += b->events_scanned;
    a->events_matched += b->events_matched;
    a->blocks_unreadable += b->blocks_unreadable;
    a->more |= b->more;
}

/* Merges the partitions searched since the last call that follow the merged ones. Called with the
 * mutex held. */
static void par_merge(struct par_search *p)
{
    while (!atomic_load(&p->over) && p->merged < p->n && p->jobs[p->merged].done) {
        struct par_job *j = &p->jobs[p->merged++];
        if (j->rc != 0) {
            p->rc = j->rc;
            atomic_store(&p->over, true);
            break;
        }
        for (unsigned k = 0; k < j->nparts; k++) {
            struct search *s = &j->s[k];
            stats_add(&p->st, &s->st);
            for (size_t i = 0; i < s->res.n; i++) {
                struct hit h = s->res.h[i];
                if (results_wants(&p->res, h.ts, h.pos)) {
                    results_put(&p->res, h, &p->st);
                } else {
                    p->st.more = true;
                    free(h.json);
                }
            }
            free(s->res.h);
            s->res = (struct results){0};
        }
        /* Partitions hold disjoint days: an older one cannot beat a full set of results. */
        if (p->merged < p->n && results_full(&p->res) &&
            p->jobs[p->merged].day * TRL_NS_PER_DAY + TRL_NS_PER_DAY <= p->res.h[0].ts) {
            p->st.more = true;
            atomic_store(&p->over, true);
        }
    }
}

/* The first thread of partition j: lists its blocks for the threads that join, then searches. */
static int par_own(struct par_search *p, struct par_job *j)
{
    struct search *s = &j->s[0];
    struct trl_partition *part;
    int rc = partition_begin(s, j->day, &part);
    struct cand *c = NULL;
    size_t n = 0;
    struct trl_partition_head head;
    if (rc == 0 && part) {
        s->st.partitions++;
        rc = list_blocks(part, s->o->from_ns, s->o->to_ns, s->counts, &c, &n);
        if (rc == 0)
            rc = trl_partition_read_head(part, &head);
    }
    pthread_mutex_lock(&p->mu);
    j->c = c;
    j->n = n;
    if (rc == 0 && part) {
        j->head = head;
        j->listed = true;
    }
    j->settled = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (rc == 0 && part)
        rc = search_blocks(s, part, c, n, &j->next_block);
    pthread_mutex_lock(&p->mu);
    j->owner_done = true;
    pthread_mutex_unlock(&p->mu);
    if (part)
        partition_end(s, part);
    return rc;
}

static bool same_blocks(const struct cand *a, const struct cand *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].id != b[i].id || a[i].min_ts != b[i].min_ts || a[i].max_ts != b[i].max_ts ||
            a[i].count != b[i].count)
            return false;
    }
    return true;
}

/* Another thread of partition j, as its k-th: shares the blocks left when its snapshot is the
 * first thread's. A partition it cannot open or list the same is left to the others. */
static int par_join(struct par_job *j, unsigned k)
{
    struct search *s = &j->s[k];
    struct trl_partition *part;
    if (partition_begin(s, j->day, &part) != 0 || !part)
        return 0;
    struct cand *c = NULL;
    size_t n = 0;
    struct trl_partition_head head;
    int rc = 0;
    if (list_blocks(part, s->o->from_ns, s->o->to_ns, s->counts, &c, &n) == 0 &&
        trl_partition_read_head(part, &head) == 0 && n == j->n && head.seq == j->head.seq &&
        memcmp(head.hash, j->head.hash, sizeof(head.hash)) == 0 && same_blocks(c, j->c, n))
        rc = search_blocks(s, part, c, n, &j->next_block);
    free(c);
    partition_end(s, part);
    return rc;
}

/* A partition the thread with reader r may join, or NULL. Called with the mutex held. */
static struct par_job *par_joinable(struct par_search *p, struct trl_store_reader *r)
{
    struct par_job *best = NULL;
    size_t best_left = PAR_JOIN_MIN_BLOCKS - 1;
    for (size_t i = p->merged; i < p->next; i++) {
        struct par_job *j = &p->jobs[i];
        if (!j->listed || j->owner_done || j->nparts >= TRL_STORE_SEARCH_MAX_THREADS)
            continue;
        bool in = false;
        for (unsigned k = 0; k < j->nparts; k++)
            in |= j->s[k].r == r;
        size_t taken = atomic_load(&j->next_block);
        size_t left = taken < j->n ? j->n - taken : 0;
        if (!in && left > best_left) {
            best = j;
            best_left = left;
        }
    }
    return best;
}

/* True while a partition taken has not listed its blocks yet. Called with the mutex held. */
static bool par_unsettled(const struct par_search *p)
{
    for (size_t i = p->merged; i < p->next; i++) {
        if (!p->jobs[i].settled)
            return true;
    }
    return false;
}

static void par_finish(struct par_search *p, struct par_job *j, int rc)
{
    if (rc != 0 && j->rc == 0)
        j->rc = rc;
    if (--j->active == 0) {
        j->done = true;
        par_merge(p);
    }
    pthread_cond_broadcast(&p->cv);
}

static void par_run(struct par_search *p, struct trl_store_reader *r)
{
    pthread_mutex_lock(&p->mu);
    while (!atomic_load(&p->over)) {
        struct par_job *j;
        int rc;
        if (p->next < p->n) {
            j = &p->jobs[p->next++];
            j->nparts = j->active = 1;
            j->s[0].r = r;
            pthread_mutex_unlock(&p->mu);
            rc = par_own(p, j);
        } else if ((j = par_joinable(p, r))) {
            unsigned k = j->nparts++;
            j->s[k].r = r;
            j->active++;
            pthread_mutex_unlock(&p->mu);
            rc = par_join(j, k);
        } else if (par_unsettled(p)) {
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        } else {
            break;
        }
        pthread_mutex_lock(&p->mu);
        par_finish(p, j, rc);
    }
    pthread_mutex_unlock(&p->mu);
}

static void *par_thread(void *arg)
{
    struct par_worker *w = arg;
    par_run(w->p, w->r);
    return NULL;
}

/* Called by the thread searching with s after each block: starts the helper threads once the
 * caller's partition proves long to search. */
static void par_maybe_start(struct search *s)
{
    struct par_search *p = s->par;
    if (s->r != p->r || p->started || results_full(&s->res) ||
        (s->st.blocks < PAR_START_BLOCKS && s->st.blocks_decoded < PAR_START_DECODED))
        return;
    p->started = true;
    for (; p->nw + 1 < p->nthreads; p->nw++) {
        struct par_worker *w = &p->w[p->nw];
        if (!p->r->helpers[p->nw])
            p->r->helpers[p->nw] = reader_new(p->r->events_dir);
        if (p->r->helpers[p->nw])
            p->r->helpers[p->nw]->map_files = p->r->map_files;
        *w = (struct par_worker){p, p->r->helpers[p->nw], 0};
        /* Without a thread, the threads that started (or the caller alone) search it all. */
        if (pthread_create(&w->tid, NULL, par_thread, w) != 0)
            break;
    }
}

/* Runs search s (its match, options, limit and by-columns set) over the partitions of days
 * (newest first) with up to nthreads threads, the caller's included, into s->res and s->st; the
 * groups counted by columns are fed to s->run, partition by partition in day order. 0 or the
 * first error in day order. */
static int par_search(struct search *s, const int64_t *days, size_t ndays, unsigned nthreads)
{
    struct par_search *p = trl_xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    atomic_init(&p->over, false);
    p->n = ndays;
    p->r = s->r;
    p->nthreads = nthreads;
    p->res.limit = s->res.limit;
    p->jobs = trl_xcalloc(ndays, sizeof(*p->jobs));
    for (size_t i = 0; i < ndays; i++) {
        struct par_job *j = &p->jobs[i];
        j->day = days[i];
        atomic_init(&j->next_block, 0);
        for (unsigned k = 0; k < TRL_STORE_SEARCH_MAX_THREADS; k++) {
            struct search *t = &j->s[k];
            *t = *s;
            t->r = NULL;
            t->res = (struct results){.limit = s->res.limit};
            t->st = (struct trl_store_search_stats){0};
            t->tup = (struct tuples){0};
            t->par = p;
            t->abandon = &p->over;
        }
    }
    par_run(p, s->r);
    for (size_t i = 0; i < p->nw; i++)
        pthread_join(p->w[i].tid, NULL);
    int rc = p->rc;
    for (size_t i = 0; i < ndays; i++) {
        struct par_job *j = &p->jobs[i];
        for (unsigned k = 0; k < TRL_STORE_SEARCH_MAX_THREADS; k++) {
            if (rc == 0 && s->ncols && i < p->merged && k < j->nparts)
                rc = flush_columns(&j->s[k]);
            results_free(&j->s[k].res);
            tuples_free(&j->s[k].tup);
        }
        free(j->c);
    }
    free(p->jobs);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    s->res = p->res;
    s->st = p->st;
    free(p);
    return rc;
}

/* The days of the partitions overlapping [o->from_ns, o->to_ns), newest first. */
static int days_in_range(const struct trl_store_reader *r, const struct trl_store_search_opts *o,
                         int64_t **out, size_t *nout)
{
    int64_t *days = NULL;
    size_t ndays = 0, n = 0;
    int rc = trl_store_list_days(r->events_dir, &days, &ndays);
    /* Listed oldest first. */
    for (size_t k = 0; rc == 0 && k < ndays; k++) {
        int64_t start = days[k] * TRL_NS_PER_DAY;
        if (start < o->to_ns && start + TRL_NS_PER_DAY > o->from_ns)
            days[n++] = days[k];
    }
    for (size_t k = 0; k < n / 2; k++) {
        int64_t d = days[k];
        days[k] = days[n - 1 - k];
        days[n - 1 - k] = d;
    }
    *out = days;
    *nout = n;
    return rc;
}

int trl_store_search(struct trl_store_reader *r, const struct trl_query *q,
                     const struct trl_store_search_opts *o, trl_store_hit_fn fn, void *ud,
                     struct trl_store_search_stats *stats)
{
    struct search s = {.r = r, .o = o};
    s.res.limit = o->limit;
    s.m = trl_match_compile(q);
    int64_t *days;
    size_t n;
    int rc = days_in_range(r, o, &days, &n);
    if (rc == 0 && r->threads > 1 && n > 0) {
        rc = par_search(&s, days, n, r->threads);
    } else {
        for (size_t k = 0; rc == 0 && k < n; k++) {
            /* Partitions hold disjoint days: an older one cannot beat a full set of results. */
            if (results_full(&s.res) &&
                days[k] * TRL_NS_PER_DAY + TRL_NS_PER_DAY <= s.res.h[0].ts) {
                s.st.more = true;
                break;
            }
            rc = search_partition(&s, days[k]);
        }
    }
    free(days);
    trl_match_free((struct trl_match *)s.m);
    if (s.res.n > 1)
        qsort(s.res.h, s.res.n, sizeof(*s.res.h), cmp_newest_first);
    for (size_t i = 0; i < s.res.n; i++) {
        if (rc == 0 && fn)
            rc = fn(ud, s.res.h[i].ts, s.res.h[i].json, s.res.h[i].len);
    }
    results_free(&s.res);
    if (stats)
        *stats = s.st;
    return rc;
}

/* Visits every partition overlapping the range, newest day first, streaming the matches; an
 * aggregation by columns, which holds its groups until the end, on several threads. */
static int scan_days(struct search *s, const struct trl_query *q,
                     struct trl_store_search_stats *stats)
{
    s->m = trl_match_compile(q);
    int64_t *days;
    size_t n;
    int rc = days_in_range(s->r, s->o, &days, &n);
    if (rc == 0 && s->ncols && s->r->threads > 1 && n > 0) {
        rc = par_search(s, days, n, s->r->threads);
    } else {
        for (size_t k = 0; rc == 0 && k < n; k++)
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

static int count_one(void *ud, int64_t ts, const char *json, size_t len)
{
    (void)json;
    (void)len;
    return count_events(ud, ts, 1);
}

int trl_store_count_buckets(struct trl_store_reader *r, const struct trl_query *q,
                            const struct trl_store_search_opts *o, int64_t interval,
                            uint64_t *counts, size_t n, struct trl_store_search_stats *stats)
{
    if (interval <= 0)
        return TRL_EINVAL;
    struct search s = {.r = r,
                       .o = o,
                       .stream = count_one,
                       .ts_only = true,
                       .counts = true,
                       .span = interval,
                       .buckets = counts,
                       .nbuckets = n,
                       .origin = o->from_ns};
    s.stream_ud = &s;
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
    int64_t span;
    if (trl_pipeline_counts_only(pl, &span)) {
        struct search s = {.r = r,
                           .o = o,
                           .stream = push_json,
                           .stream_ud = run,
                           .ts_only = true,
                           .run = run,
                           .counts = true,
                           .span = span};
        return scan_days(&s, q, stats);
    }
    if (!trl_pipeline_column_fields(pl, cols, &ncols))
        return trl_store_scan(r, q, o, !trl_pipeline_needs_json(pl), push_json, run, stats);
    struct search s = {.r = r,
                       .o = o,
                       .stream = push_json,
                       .stream_ud = run,
                       .run = run,
                       .ncols = ncols,
                       .cols_untimed = !trl_pipeline_groups_by_time(pl),
                       .cols_span = pl->stages[0].span_ns};
    memcpy(s.cols, cols, ncols * sizeof(*cols));
    int rc = scan_days(&s, q, stats);
    if (rc == 0)
        rc = flush_columns(&s);
    tuples_free(&s.tup);
    return rc;
}

#include "store/store_read.h"
#include "core/util.h"
#include "store/match.h"
#include "store/partition.h"
#include "store/shred_scan.h"
#include "store/store_internal.h"

#include <zstd.h>

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
    /* The JSON column of a format 2 block, decompressed but not rebuilt, and its scan. */
    void *dctx; /* ZSTD_DCtx */
    uint8_t *shred;
    size_t shred_cap;
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
    trl_shred_scan_init(&r->scan);
    *out = r;
    return 0;
}

void trl_store_reader_close(struct trl_store_reader *r)
{
    if (!r)
        return;
    trl_block_decoder_free(&r->dec);
    trl_match_ctx_free(&r->mctx);
    trl_shred_scan_free(&r->scan);
    ZSTD_freeDCtx(r->dctx);
    free(r->shred);
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
    uint32_t count;
};

static int list_blocks(struct trl_partition *p, int64_t from, int64_t to, struct cand **out,
                       size_t *n)
{
    sqlite3_stmt *st = NULL;
    *out = NULL;
    *n = 0;
    int rc = trl_sqlite_err(sqlite3_prepare_v2(
        trl_partition_db(p),
        "SELECT id, min_ts, max_ts, count FROM blocks WHERE max_ts >= ? AND min_ts < ?"
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

/* memcmp() == 0 for the short strings of group keys, without a call. */
static inline bool bytes_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
    if (n < 8) {
        for (size_t i = 0; i < n; i++) {
            if (a[i] != b[i])
                return false;
        }
        return true;
    }
    uint64_t x, y;
    for (size_t i = 0; i + 8 < n; i += 8) {
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            return false;
    }
    /* The last eight bytes, overlapping what was compared. */
    memcpy(&x, a + n - 8, 8);
    memcpy(&y, b + n - 8, 8);
    return x == y;
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
        if (la != lb || !bytes_eq(pa, pb, la))
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
        if (e->hash == h && e->len == need && bytes_eq(t->keys + e->off, key, need)) {
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

/* Decompresses the JSON column of a format 2 block without rebuilding it and opens its scan.
 * 0, or non-zero when the block is to be decoded the usual way (which reports damage). */
static int open_scan(struct trl_store_reader *r, const struct trl_block_view *v)
{
    if (v->version == TRL_BLOCK_VERSION_ROWS || !v->cols[TRL_COL_JSON].present ||
        !r->dec.decoded[TRL_COL_TS])
        return TRL_ENOMATCH;
    int rc = load_cols(r, v, 1u << TRL_COL_JSON);
    if (rc != 0)
        return rc;
    const uint8_t *p = v->data + v->cols[TRL_COL_JSON].off;
    size_t stored = v->cols[TRL_COL_JSON].stored_len, raw = v->cols[TRL_COL_JSON].raw_len;
    if (v->cols[TRL_COL_JSON].codec == 1) {
        if (raw == 0 || ZSTD_getFrameContentSize(p, stored) != raw)
            return TRL_EINVAL;
        if (!r->dctx && !(r->dctx = ZSTD_createDCtx()))
            return -ENOMEM;
        if (r->shred_cap < raw) {
            free(r->shred);
            r->shred_cap = grow_cap(r->shred_cap, raw);
            r->shred = trl_xmalloc(r->shred_cap);
        }
        size_t n = ZSTD_decompressDCtx(r->dctx, r->shred, raw, p, stored);
        if (ZSTD_isError(n) || n != raw)
            return TRL_EINVAL;
        p = r->shred;
    }
    return trl_shred_scan_open(&r->scan, p, raw, v->count, v->version, r->dec.ts);
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
     * does; the column decoder also checks the block as a whole. */
    if ((uint64_t)nhit * 4 < v->count && (scanned || open_scan(r, v) == 0) &&
        trl_shred_rebuild(&r->scan, r->hit, r->off, r->len) == 0) {
        *rebuilt = true;
        return 0;
    }
    return decode_col(r, v, TRL_COL_JSON);
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
    if (rc == 0 && !cols_only) {
        scanned = open_scan(r, &v) == 0 && trl_match_scan_block(s->m, &r->mctx, &r->scan) == 0;
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
    sqlite3_blob_close(s->r->blob);
    s->r->blob = NULL;
    sqlite3_blob_close(s->r->mblob);
    s->r->mblob = NULL;
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

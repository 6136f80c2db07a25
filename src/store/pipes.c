#include "store/pipes.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "formats/json_encode.h"
#include "store/block.h"
#include "store/json_leaves.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------------------------ */
/* Parsing                                                                                     */

struct pparse {
    const char *s;
    size_t len;
    size_t pos;
    struct trl_arena *a;
    size_t *err_off;
    char *msg;
    size_t msgcap;
    bool failed;
};

__attribute__((format(printf, 3, 4))) static void pfail(struct pparse *p, size_t off,
                                                        const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    *p->err_off = off;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, p->msgcap, fmt, ap);
    va_end(ap);
}

static bool p_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void p_skip(struct pparse *p)
{
    while (p->pos < p->len && p_space(p->s[p->pos]))
        p->pos++;
}

/* The next word (a run of bytes up to a space, ',' or '|'); its length, 0 at a separator. */
static size_t p_word(struct pparse *p, size_t *off)
{
    p_skip(p);
    *off = p->pos;
    size_t i = p->pos;
    while (i < p->len && !p_space(p->s[i]) && p->s[i] != ',' && p->s[i] != '|')
        i++;
    return i - p->pos;
}

static bool p_is(struct pparse *p, const char *kw)
{
    size_t off, n = p_word(p, &off);
    if (n != strlen(kw) || strncasecmp(p->s + off, kw, n) != 0)
        return false;
    p->pos = off + n;
    return true;
}

static bool p_at_end_of_stage(struct pparse *p)
{
    p_skip(p);
    return p->pos >= p->len || p->s[p->pos] == '|';
}

static bool field_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '@' || c == '-';
}

static const char *p_field(struct pparse *p, const char *what)
{
    size_t off, n = p_word(p, &off);
    if (n == 0) {
        pfail(p, off, "%s: a field name is missing", what);
        return NULL;
    }
    bool ok = p->s[off] != '.' && p->s[off + n - 1] != '.';
    for (size_t i = 0; ok && i < n; i++)
        ok = field_char(p->s[off + i]) && !(p->s[off + i] == '.' && p->s[off + i + 1] == '.');
    if (!ok) {
        pfail(p, off, "%s: '%.*s' is not a field name", what, (int)(n > 60 ? 60 : n), p->s + off);
        return NULL;
    }
    char *d = trl_arena_alloc(p->a, n + 1);
    for (size_t i = 0; i < n; i++)
        d[i] = (char)(p->s[off + i] >= 'A' && p->s[off + i] <= 'Z' ? p->s[off + i] + 32
                                                                   : p->s[off + i]);
    d[n] = '\0';
    p->pos = off + n;
    return d;
}

/* f1[,] f2 ... up to the end of the stage; max fields at most. */
static bool p_field_list(struct pparse *p, struct trl_pipe_stage *st, size_t max, const char *what)
{
    st->fields = trl_arena_alloc(p->a, max * sizeof(*st->fields));
    for (;;) {
        if (st->nfields == max) {
            pfail(p, p->pos, "%s: at most %zu fields", what, max);
            return false;
        }
        const char *f = p_field(p, what);
        if (!f)
            return false;
        st->fields[st->nfields++] = f;
        p_skip(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p_at_end_of_stage(p))
            return true;
    }
}

static bool p_count(struct pparse *p, uint64_t *n, const char *what)
{
    size_t off, len = p_word(p, &off);
    if (!trl_parse_u64(p->s + off, len, n) || *n == 0 || *n > 1000000000) {
        pfail(p, off, "%s: a number from 1 to 1000000000 is expected", what);
        return false;
    }
    p->pos = off + len;
    return true;
}

static bool p_span(struct pparse *p, int64_t *span)
{
    size_t off, len = p_word(p, &off);
    if (len < 6 || strncasecmp(p->s + off, "span=", 5) != 0)
        return false;
    const char *v = p->s + off + 5;
    size_t vlen = len - 5;
    uint64_t n;
    int64_t unit = 0;
    switch (v[vlen - 1]) {
    case 's':
        unit = TRL_NS_PER_SEC;
        break;
    case 'm':
        unit = 60 * TRL_NS_PER_SEC;
        break;
    case 'h':
        unit = 3600 * TRL_NS_PER_SEC;
        break;
    case 'd':
        unit = 86400 * TRL_NS_PER_SEC;
        break;
    }
    if (!unit || !trl_parse_u64(v, vlen - 1, &n) || n == 0 ||
        n > (uint64_t)(366 * 86400 * TRL_NS_PER_SEC / unit)) {
        pfail(p, off + 5, "timechart: span is a number and s, m, h or d, up to a year (1h, 15m)");
        return false;
    }
    *span = (int64_t)n * unit;
    p->pos = off + len;
    return true;
}

static bool parse_stage(struct pparse *p, struct trl_pipe_stage *st)
{
    size_t off, n = p_word(p, &off);
    st->offset = (uint32_t)off;
    if (n == 0) {
        pfail(p, off,
              "a stage name is expected after '|' (stats, top, timechart, fields, sort, "
              "head)");
        return false;
    }
    const char *w = p->s + off;
    p->pos = off + n;
    if (n == 5 && !strncasecmp(w, "stats", 5)) {
        st->kind = TRL_PIPE_STATS;
        if (!p_is(p, "count")) {
            pfail(p, p->pos, "stats: only 'count' is supported (stats count [by f1, f2])");
            return false;
        }
        if (p_is(p, "by"))
            return p_field_list(p, st, 4, "stats");
    } else if (n == 3 && !strncasecmp(w, "top", 3)) {
        st->kind = TRL_PIPE_TOP;
        st->n = 10;
        size_t o2, l2 = p_word(p, &o2);
        if (l2 && p->s[o2] >= '0' && p->s[o2] <= '9' && !p_count(p, &st->n, "top"))
            return false;
        return p_field_list(p, st, 1, "top");
    } else if (n == 9 && !strncasecmp(w, "timechart", 9)) {
        st->kind = TRL_PIPE_TIMECHART;
        st->span_ns = 3600 * TRL_NS_PER_SEC;
        if (!p_span(p, &st->span_ns) && p->failed)
            return false;
        if (!p_is(p, "count")) {
            pfail(p, p->pos, "timechart: 'count' is expected (timechart span=1h count [by f])");
            return false;
        }
        if (p_is(p, "by"))
            return p_field_list(p, st, 1, "timechart");
    } else if (n == 6 && !strncasecmp(w, "fields", 6)) {
        st->kind = TRL_PIPE_FIELDS;
        return p_field_list(p, st, TRL_PIPE_MAX_FIELDS, "fields");
    } else if (n == 4 && !strncasecmp(w, "sort", 4)) {
        st->kind = TRL_PIPE_SORT;
        st->fields = trl_arena_alloc(p->a, sizeof(*st->fields));
        st->fields[0] = p_field(p, "sort");
        if (!st->fields[0])
            return false;
        st->nfields = 1;
        if (p_is(p, "desc"))
            st->desc = true;
        else
            (void)p_is(p, "asc");
    } else if (n == 4 && !strncasecmp(w, "head", 4)) {
        st->kind = TRL_PIPE_HEAD;
        st->n = 10;
        if (!p_at_end_of_stage(p) && !p_count(p, &st->n, "head"))
            return false;
    } else {
        pfail(p, off, "unknown stage '%.*s' (stats, top, timechart, fields, sort, head)",
              (int)(n > 40 ? 40 : n), w);
        return false;
    }
    if (!p_at_end_of_stage(p)) {
        size_t o2, l2 = p_word(p, &o2);
        pfail(p, o2, "unexpected '%.*s'", (int)(l2 ? (l2 > 40 ? 40 : l2) : 1), p->s + o2);
        return false;
    }
    return true;
}

int trl_pipeline_parse(const char *s, size_t len, size_t off, struct trl_arena *a,
                       struct trl_pipeline **out, size_t *err_off, char *msg, size_t msgcap)
{
    struct pparse p = {s, len, off, a, err_off, msg, msgcap, false};
    struct trl_pipeline *pl = trl_arena_alloc(a, sizeof(*pl));
    pl->stages = trl_arena_alloc(a, TRL_PIPE_MAX_STAGES * sizeof(*pl->stages));
    pl->n = 0;
    *out = NULL;
    while (p.pos < p.len && p.s[p.pos] == '|') {
        if (pl->n == TRL_PIPE_MAX_STAGES) {
            pfail(&p, p.pos, "at most %d stages", TRL_PIPE_MAX_STAGES);
            return TRL_EINVAL;
        }
        p.pos++;
        struct trl_pipe_stage *st = &pl->stages[pl->n++];
        memset(st, 0, sizeof(*st));
        if (!parse_stage(&p, st))
            return TRL_EINVAL;
        p_skip(&p);
    }
    if (p.pos < p.len) {
        pfail(&p, p.pos, "'|' expected");
        return TRL_EINVAL;
    }
    *out = pl;
    return 0;
}

static void put_list(const struct trl_pipe_stage *st, void (*put)(void *, const char *), void *ud)
{
    for (size_t i = 0; i < st->nfields; i++) {
        if (i)
            put(ud, ", ");
        put(ud, st->fields[i]);
    }
}

void trl_pipeline_format(const struct trl_pipeline *pl, void (*put)(void *ud, const char *s),
                         void *ud)
{
    char num[64];
    for (size_t i = 0; i < pl->n; i++) {
        const struct trl_pipe_stage *st = &pl->stages[i];
        switch (st->kind) {
        case TRL_PIPE_STATS:
            put(ud, " | stats count");
            if (st->nfields) {
                put(ud, " by ");
                put_list(st, put, ud);
            }
            break;
        case TRL_PIPE_TOP:
            snprintf(num, sizeof(num), " | top %llu ", (unsigned long long)st->n);
            put(ud, num);
            put_list(st, put, ud);
            break;
        case TRL_PIPE_TIMECHART: {
            static const struct {
                int64_t ns;
                char c;
            } units[] = {{86400 * TRL_NS_PER_SEC, 'd'},
                         {3600 * TRL_NS_PER_SEC, 'h'},
                         {60 * TRL_NS_PER_SEC, 'm'},
                         {TRL_NS_PER_SEC, 's'}};
            size_t u = 0;
            while (u < 3 && st->span_ns % units[u].ns != 0)
                u++;
            snprintf(num, sizeof(num), " | timechart span=%lld%c count",
                     (long long)(st->span_ns / units[u].ns), units[u].c);
            put(ud, num);
            if (st->nfields) {
                put(ud, " by ");
                put_list(st, put, ud);
            }
            break;
        }
        case TRL_PIPE_FIELDS:
            put(ud, " | fields ");
            put_list(st, put, ud);
            break;
        case TRL_PIPE_SORT:
            put(ud, " | sort ");
            put_list(st, put, ud);
            if (st->desc)
                put(ud, " desc");
            break;
        case TRL_PIPE_HEAD:
            snprintf(num, sizeof(num), " | head %llu", (unsigned long long)st->n);
            put(ud, num);
            break;
        }
    }
}

bool trl_pipeline_needs_all(const struct trl_pipeline *pl)
{
    for (size_t i = 0; pl && i < pl->n; i++) {
        enum trl_pipe_kind k = pl->stages[i].kind;
        if (k == TRL_PIPE_STATS || k == TRL_PIPE_TOP || k == TRL_PIPE_TIMECHART ||
            k == TRL_PIPE_SORT)
            return true;
    }
    return false;
}

bool trl_pipeline_needs_json(const struct trl_pipeline *pl)
{
    for (size_t i = 0; pl && i < pl->n; i++) {
        const struct trl_pipe_stage *st = &pl->stages[i];
        if (st->kind == TRL_PIPE_HEAD)
            continue;
        return !((st->kind == TRL_PIPE_STATS || st->kind == TRL_PIPE_TIMECHART) &&
                 st->nfields == 0);
    }
    return true;
}

bool trl_pipeline_column_fields(const struct trl_pipeline *pl, int *cols, size_t *n)
{
    *n = 0;
    if (!pl || pl->n == 0)
        return false;
    const struct trl_pipe_stage *st = &pl->stages[0];
    if ((st->kind != TRL_PIPE_STATS && st->kind != TRL_PIPE_TOP &&
         st->kind != TRL_PIPE_TIMECHART) ||
        st->nfields == 0 || st->nfields > TRL_PIPE_MAX_FIELDS)
        return false;
    for (size_t k = 0; k < st->nfields; k++) {
        int c = trl_col_for_path(st->fields[k], strlen(st->fields[k]));
        if (c < 0)
            return false;
        cols[k] = c;
    }
    *n = st->nfields;
    return true;
}

size_t trl_pipeline_columns(const struct trl_pipeline *pl, const char **cols, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; pl && i < pl->n; i++) {
        const struct trl_pipe_stage *st = &pl->stages[i];
        if (st->kind == TRL_PIPE_SORT || st->kind == TRL_PIPE_HEAD)
            continue;
        n = 0;
        if (st->kind == TRL_PIPE_TIMECHART && n < cap)
            cols[n++] = "@timestamp";
        for (size_t k = 0; k < st->nfields && n < cap; k++)
            cols[n++] = st->fields[k];
        if (st->kind != TRL_PIPE_FIELDS && n < cap)
            cols[n++] = "count";
        if (st->kind == TRL_PIPE_TOP && n < cap)
            cols[n++] = "percent";
    }
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* Running                                                                                     */

/* A group's key: for each by-field, u8 kind ('s' string, 'r' other JSON literal), u32 length,
 * the bytes; for timechart prefixed by the bucket's start (i64). */
struct entry {
    char *key;
    size_t klen;
    uint64_t hash;
    uint64_t count;
};

struct map {
    struct entry *e;
    size_t cap, n;
    size_t last; /* slot of the entry added to last, + 1 (0: none): runs of one key are common */
};

static void map_grow(struct map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    struct entry *e = trl_xcalloc(cap, sizeof(*e));
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->e[i].key)
            continue;
        size_t j = m->e[i].hash & (cap - 1);
        while (e[j].key)
            j = (j + 1) & (cap - 1);
        e[j] = m->e[i];
    }
    free(m->e);
    m->e = e;
    m->cap = cap;
    m->last = 0;
}

/* Counts n more for a key. */
static void map_add_n(struct map *m, const char *key, size_t klen, uint64_t n)
{
    if (m->last) {
        struct entry *l = &m->e[m->last - 1];
        if (l->klen == klen && !memcmp(l->key, key, klen)) {
            l->count += n;
            return;
        }
    }
    if ((m->n + 1) * 10 > m->cap * 7)
        map_grow(m);
    uint64_t h = trl_hash_short(key, klen);
    size_t j = h & (m->cap - 1);
    while (m->e[j].key) {
        if (m->e[j].hash == h && m->e[j].klen == klen && !memcmp(m->e[j].key, key, klen)) {
            m->e[j].count += n;
            m->last = j + 1;
            return;
        }
        j = (j + 1) & (m->cap - 1);
    }
    /* A key holds at least one byte (a kind byte or a bucket), so the copy is never empty. */
    m->e[j] = (struct entry){trl_xstrndup(key, klen), klen, h, n};
    m->n++;
    m->last = j + 1;
}

static void map_add(struct map *m, const char *key, size_t klen)
{
    map_add_n(m, key, klen, 1);
}

static void map_free(struct map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->e[i].key);
    free(m->e);
    memset(m, 0, sizeof(*m));
}

struct srow {
    uint64_t seq;
    int64_t ts;
    char *json;
    size_t len;
    char *key; /* the sort field's value, or NULL when the row lacks it */
    size_t klen;
    double num;
    bool is_num;
};

struct stage_run {
    const struct trl_pipe_stage *st;
    struct trl_leaves leaves;
    struct trl_buf buf;
    uint64_t seen;  /* head: rows passed; aggregations: events counted */
    struct map map; /* stats, top, timechart */
    struct srow *rows;
    size_t nrows, rows_cap;
    bool cut;
    bool stopped;
};

struct trl_pipe_run {
    const struct trl_pipeline *pl;
    struct stage_run *s;
    size_t sort_cap;
    trl_pipe_row_fn out;
    void *ud;
    struct trl_buf key;
};

struct trl_pipe_run *trl_pipe_run_create(const struct trl_pipeline *pl, size_t sort_cap,
                                         trl_pipe_row_fn out, void *ud)
{
    struct trl_pipe_run *r = trl_xcalloc(1, sizeof(*r));
    r->pl = pl;
    r->s = trl_xcalloc(pl->n ? pl->n : 1, sizeof(*r->s));
    for (size_t i = 0; i < pl->n; i++) {
        r->s[i].st = &pl->stages[i];
        trl_leaves_init(&r->s[i].leaves);
    }
    r->sort_cap = sort_cap ? sort_cap : TRL_PIPE_SORT_CAP;
    r->out = out;
    r->ud = ud;
    return r;
}

void trl_pipe_run_destroy(struct trl_pipe_run *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->pl->n; i++) {
        struct stage_run *s = &r->s[i];
        trl_leaves_free(&s->leaves);
        trl_buf_free(&s->buf);
        map_free(&s->map);
        for (size_t k = 0; k < s->nrows; k++) {
            free(s->rows[k].json);
            free(s->rows[k].key);
        }
        free(s->rows);
    }
    trl_buf_free(&r->key);
    free(r->s);
    free(r);
}

bool trl_pipe_run_cut(const struct trl_pipe_run *r)
{
    for (size_t i = 0; i < r->pl->n; i++) {
        if (r->s[i].cut)
            return true;
    }
    return false;
}

static bool path_eq(const struct trl_leaves *l, const struct trl_leaf *f, const char *field)
{
    size_t n = strlen(field);
    return f->path_len == n && strncasecmp(trl_leaf_path(l, f), field, n) == 0;
}

/* A JSON literal that can be written back unquoted (a number, true, false, null). */
static bool plain_literal(const char *v, size_t n)
{
    if (n == 0)
        return false;
    if ((n == 4 && (!memcmp(v, "true", 4) || !memcmp(v, "null", 4))) ||
        (n == 5 && !memcmp(v, "false", 5)))
        return true;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'))
            return false;
    }
    return true;
}

static void put_value(struct trl_buf *b, const char *v, size_t n, bool is_string)
{
    if (!is_string && plain_literal(v, n))
        trl_buf_append(b, v, n);
    else
        trl_json_append_string(b, v, n);
}

static void put_key(struct trl_buf *b, const char *name)
{
    trl_json_append_string(b, name, strlen(name));
    trl_buf_putc(b, ':');
}

static int push(struct trl_pipe_run *r, size_t i, int64_t ts, const char *json, size_t len);

/* Walks the cartesian product of the by-fields' values (arrays give one group per element). */
static void add_groups(struct trl_pipe_run *r, struct stage_run *s, size_t k, size_t base)
{
    const struct trl_pipe_stage *st = s->st;
    if (k == st->nfields) {
        map_add(&s->map, r->key.data, r->key.len);
        return;
    }
    const struct trl_leaves *l = &s->leaves;
    for (size_t j = 0; j < l->n; j++) {
        const struct trl_leaf *f = &l->items[j];
        if (!path_eq(l, f, st->fields[k]))
            continue;
        r->key.len = base;
        char kind = f->is_string ? 's' : 'r';
        uint32_t vl = f->val_len;
        trl_buf_putc(&r->key, kind);
        trl_buf_append(&r->key, &vl, sizeof(vl));
        trl_buf_append(&r->key, trl_leaf_val(l, f), vl);
        add_groups(r, s, k + 1, r->key.len);
    }
}

/* Starts an aggregation's group key: the time bucket (timechart) or a marker. */
static void group_key_start(struct trl_pipe_run *r, const struct trl_pipe_stage *st, int64_t ts)
{
    trl_buf_reset(&r->key);
    if (st->kind == TRL_PIPE_TIMECHART) {
        /* Floor division, so buckets before 1970 start at a multiple of the span too. */
        int64_t b = ts / st->span_ns * st->span_ns;
        if (b > ts)
            b -= st->span_ns;
        trl_buf_append(&r->key, &b, sizeof(b));
    } else {
        trl_buf_putc(&r->key, 'g');
    }
}

static void aggregate(struct trl_pipe_run *r, struct stage_run *s, int64_t ts, const char *json,
                      size_t len)
{
    const struct trl_pipe_stage *st = s->st;
    group_key_start(r, st, ts);
    if (st->nfields == 0) {
        s->seen++;
        map_add(&s->map, r->key.data, r->key.len);
        return;
    }
    trl_leaves_reset(&s->leaves);
    (void)trl_json_leaves(json, len, &s->leaves);
    /* An event counts towards top's percentages when it has the field at all. */
    bool has = false;
    for (size_t j = 0; j < s->leaves.n && !has; j++)
        has = path_eq(&s->leaves, &s->leaves.items[j], st->fields[0]);
    if (has)
        s->seen++;
    add_groups(r, s, 0, r->key.len);
}

/* add_groups() over values given per field (keyword columns hold string values only), counting
 * n for each group. */
static void add_value_groups(struct trl_pipe_run *r, struct stage_run *s, size_t k, size_t base,
                             const struct trl_str *const *vals, const uint32_t *nvals, uint64_t n)
{
    if (k == s->st->nfields) {
        map_add_n(&s->map, r->key.data, r->key.len, n);
        return;
    }
    for (uint32_t j = 0; j < nvals[k]; j++) {
        const struct trl_str *v = &vals[k][j];
        r->key.len = base;
        uint32_t vl = (uint32_t)v->len;
        trl_buf_putc(&r->key, 's');
        trl_buf_append(&r->key, &vl, sizeof(vl));
        trl_buf_append(&r->key, v->ptr, vl);
        add_value_groups(r, s, k + 1, r->key.len, vals, nvals, n);
    }
}

int trl_pipe_run_push_values_n(struct trl_pipe_run *r, int64_t ts,
                               const struct trl_str *const *vals, const uint32_t *nvals, uint64_t n)
{
    struct stage_run *s = &r->s[0];
    group_key_start(r, s->st, ts);
    if (nvals[0])
        s->seen += n;
    add_value_groups(r, s, 0, r->key.len, vals, nvals, n);
    return 0;
}

int trl_pipe_run_push_values(struct trl_pipe_run *r, int64_t ts, const struct trl_str *const *vals,
                             const uint32_t *nvals)
{
    return trl_pipe_run_push_values_n(r, ts, vals, nvals, 1);
}

static void project(struct stage_run *s, const char *json, size_t len)
{
    const struct trl_pipe_stage *st = s->st;
    struct trl_leaves *l = &s->leaves;
    trl_leaves_reset(l);
    (void)trl_json_leaves(json, len, l);
    struct trl_buf *b = &s->buf;
    trl_buf_reset(b);
    trl_buf_putc(b, '{');
    bool first = true;
    for (size_t k = 0; k < st->nfields; k++) {
        const char *f = st->fields[k];
        size_t fl = strlen(f);
        for (size_t j = 0; j < l->n; j++) {
            const struct trl_leaf *e = &l->items[j];
            const char *path = trl_leaf_path(l, e);
            bool below = e->path_len > fl && path[fl] == '.' && !strncasecmp(path, f, fl);
            if (!path_eq(l, e, f) && !below)
                continue;
            /* Earlier leaves with this path were written already (as one array). */
            bool seen = false;
            for (size_t q = 0; q < j && !seen; q++)
                seen = l->items[q].path_len == e->path_len &&
                       !memcmp(trl_leaf_path(l, &l->items[q]), path, e->path_len);
            if (seen)
                continue;
            size_t count = 0;
            for (size_t q = j; q < l->n; q++)
                count += l->items[q].path_len == e->path_len &&
                         !memcmp(trl_leaf_path(l, &l->items[q]), path, e->path_len);
            if (!first)
                trl_buf_putc(b, ',');
            first = false;
            trl_json_append_string(b, path, e->path_len);
            trl_buf_putc(b, ':');
            if (count > 1)
                trl_buf_putc(b, '[');
            size_t put = 0;
            for (size_t q = j; q < l->n; q++) {
                const struct trl_leaf *v = &l->items[q];
                if (v->path_len != e->path_len || memcmp(trl_leaf_path(l, v), path, e->path_len))
                    continue;
                if (put++)
                    trl_buf_putc(b, ',');
                put_value(b, trl_leaf_val(l, v), v->val_len, v->is_string);
            }
            if (count > 1)
                trl_buf_putc(b, ']');
        }
    }
    trl_buf_putc(b, '}');
}

static bool parse_number(const char *v, size_t n, double *out)
{
    char tmp[64];
    if (n == 0 || n >= sizeof(tmp))
        return false;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    char *end;
    double d = strtod(tmp, &end);
    if (*end != '\0' || !isfinite(d) || p_space(tmp[0]))
        return false;
    *out = d;
    return true;
}

static void sort_add(struct trl_pipe_run *r, struct stage_run *s, int64_t ts, const char *json,
                     size_t len)
{
    if (s->nrows >= r->sort_cap) {
        s->cut = true;
        return;
    }
    if (s->nrows == s->rows_cap) {
        s->rows_cap = s->rows_cap ? s->rows_cap * 2 : 256;
        s->rows = trl_xrealloc(s->rows, s->rows_cap * sizeof(*s->rows));
    }
    struct srow *row = &s->rows[s->nrows];
    memset(row, 0, sizeof(*row));
    row->seq = s->nrows++;
    row->ts = ts;
    row->json = trl_xstrndup(json, len);
    row->len = len;
    trl_leaves_reset(&s->leaves);
    (void)trl_json_leaves(json, len, &s->leaves);
    for (size_t j = 0; j < s->leaves.n; j++) {
        const struct trl_leaf *f = &s->leaves.items[j];
        if (!path_eq(&s->leaves, f, s->st->fields[0]))
            continue;
        const char *v = trl_leaf_val(&s->leaves, f);
        row->key = trl_xstrndup(v, f->val_len);
        row->klen = f->val_len;
        row->is_num = parse_number(v, f->val_len, &row->num);
        break;
    }
}

static int cmp_rows_asc(const struct srow *a, const struct srow *b)
{
    /* Rows without the field go last either way. */
    if (!a->key || !b->key)
        return a->key ? -1 : b->key ? 1 : 0;
    if (a->is_num && b->is_num)
        return a->num < b->num ? -1 : a->num > b->num ? 1 : 0;
    if (a->is_num != b->is_num)
        return a->is_num ? -1 : 1; /* numbers before text */
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    int c = memcmp(a->key, b->key, n);
    return c ? c : a->klen < b->klen ? -1 : a->klen > b->klen ? 1 : 0;
}

static int cmp_rows(const void *x, const void *y, void *desc)
{
    const struct srow *a = x, *b = y;
    int c = cmp_rows_asc(a, b);
    if (c && *(bool *)desc && a->key && b->key)
        c = -c;
    /* Equal keys keep their input order: the sort is stable. */
    return c ? c : a->seq < b->seq ? -1 : 1;
}

static int push(struct trl_pipe_run *r, size_t i, int64_t ts, const char *json, size_t len)
{
    if (i == r->pl->n)
        return r->out(r->ud, ts, json, len);
    struct stage_run *s = &r->s[i];
    if (s->stopped)
        return TRL_PIPE_STOP;
    switch (s->st->kind) {
    case TRL_PIPE_STATS:
    case TRL_PIPE_TOP:
    case TRL_PIPE_TIMECHART:
        aggregate(r, s, ts, json, len);
        return 0;
    case TRL_PIPE_SORT:
        sort_add(r, s, ts, json, len);
        return 0;
    case TRL_PIPE_FIELDS:
        project(s, json, len);
        return push(r, i + 1, ts, s->buf.data, s->buf.len);
    case TRL_PIPE_HEAD: {
        s->seen++;
        int rc = push(r, i + 1, ts, json, len);
        if (rc == 0 && s->seen >= s->st->n)
            rc = TRL_PIPE_STOP;
        if (rc == TRL_PIPE_STOP)
            s->stopped = true;
        return rc;
    }
    }
    return 0;
}

bool trl_pipeline_counts_only(const struct trl_pipeline *pl, int64_t *span_ns)
{
    if (!pl || pl->n == 0)
        return false;
    const struct trl_pipe_stage *st = &pl->stages[0];
    if ((st->kind != TRL_PIPE_STATS && st->kind != TRL_PIPE_TIMECHART) || st->nfields != 0)
        return false;
    *span_ns = st->kind == TRL_PIPE_TIMECHART ? st->span_ns : 0;
    return true;
}

bool trl_pipeline_groups_by_time(const struct trl_pipeline *pl)
{
    return pl && pl->n > 0 && pl->stages[0].kind == TRL_PIPE_TIMECHART;
}

int trl_pipe_run_push_count(struct trl_pipe_run *r, int64_t ts, uint64_t n)
{
    struct stage_run *s = &r->s[0];
    group_key_start(r, s->st, ts);
    s->seen += n;
    map_add_n(&s->map, r->key.data, r->key.len, n);
    return 0;
}

int trl_pipe_run_push(struct trl_pipe_run *r, int64_t ts, const char *json, size_t len)
{
    return push(r, 0, ts, json, len);
}

/* Orders two group keys by their values, field after field, each byte-wise. */
static int cmp_groups(const char *a, const char *aend, const char *b, const char *bend)
{
    while (a + 5 <= aend && b + 5 <= bend) {
        uint32_t al, bl;
        memcpy(&al, a + 1, sizeof(al));
        memcpy(&bl, b + 1, sizeof(bl));
        int c = memcmp(a + 5, b + 5, al < bl ? al : bl);
        if (c == 0 && al != bl)
            c = al < bl ? -1 : 1;
        if (c)
            return c;
        a += 5 + al;
        b += 5 + bl;
    }
    return 0;
}

static int cmp_count_desc(const void *x, const void *y)
{
    const struct entry *a = x, *b = y;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return cmp_groups(a->key + 1, a->key + a->klen, b->key + 1, b->key + b->klen);
}

static int cmp_bucket(const void *x, const void *y)
{
    const struct entry *a = x, *b = y;
    int64_t ta, tb;
    memcpy(&ta, a->key, sizeof(ta));
    memcpy(&tb, b->key, sizeof(tb));
    if (ta != tb)
        return ta < tb ? -1 : 1;
    return cmp_groups(a->key + 8, a->key + a->klen, b->key + 8, b->key + b->klen);
}

static void put_time(struct trl_buf *b, int64_t ts)
{
    char t[TRL_RFC3339_MAX];
    size_t n = trl_format_rfc3339(ts, t);
    /* Buckets fall on whole seconds: drop the zero fraction. */
    if (n > 11 && !memcmp(t + n - 11, ".000000000Z", 11)) {
        t[n - 11] = 'Z';
        n -= 10;
    }
    trl_json_append_string(b, t, n);
}

/* Writes one aggregate row and pushes it on. */
static int emit_group(struct trl_pipe_run *r, size_t i, const struct entry *e, uint64_t total)
{
    struct stage_run *s = &r->s[i];
    const struct trl_pipe_stage *st = s->st;
    struct trl_buf *b = &s->buf;
    trl_buf_reset(b);
    trl_buf_putc(b, '{');
    const char *p = e->key, *end = e->key + e->klen;
    int64_t ts = 0;
    if (st->kind == TRL_PIPE_TIMECHART) {
        memcpy(&ts, p, sizeof(ts));
        p += sizeof(ts);
        put_key(b, "@timestamp");
        put_time(b, ts);
        trl_buf_putc(b, ',');
    } else {
        p++;
    }
    for (size_t k = 0; k < st->nfields && p + 5 <= end; k++) {
        bool str = *p == 's';
        uint32_t vl;
        memcpy(&vl, p + 1, sizeof(vl));
        p += 5;
        put_key(b, st->fields[k]);
        put_value(b, p, vl, str);
        trl_buf_putc(b, ',');
        p += vl;
    }
    put_key(b, "count");
    trl_buf_printf(b, "%llu", (unsigned long long)e->count);
    if (st->kind == TRL_PIPE_TOP) {
        trl_buf_putc(b, ',');
        put_key(b, "percent");
        trl_buf_printf(b, "%.2f", total ? 100.0 * (double)e->count / (double)total : 0.0);
    }
    trl_buf_putc(b, '}');
    return push(r, i + 1, ts, b->data, b->len);
}

/* Empty buckets between the first and the last (a timechart without by-field), up to a cap. */
#define TIMECHART_MAX_FILL 100000

static int flush_timechart(struct trl_pipe_run *r, size_t i, struct entry *e, size_t n)
{
    const struct trl_pipe_stage *st = r->s[i].st;
    int rc = 0;
    bool fill = st->nfields == 0 && n > 0;
    if (fill) {
        int64_t a, z;
        memcpy(&a, e[0].key, sizeof(a));
        memcpy(&z, e[n - 1].key, sizeof(z));
        int64_t d;
        fill = !__builtin_sub_overflow(z, a, &d) && d / st->span_ns < TIMECHART_MAX_FILL;
    }
    for (size_t k = 0; rc == 0 && k < n; k++) {
        if (fill && k > 0) {
            int64_t prev, cur;
            memcpy(&prev, e[k - 1].key, sizeof(prev));
            memcpy(&cur, e[k].key, sizeof(cur));
            for (int64_t t = prev + st->span_ns; rc == 0 && t < cur; t += st->span_ns) {
                struct entry zero = {(char *)&t, sizeof(t), 0, 0};
                rc = emit_group(r, i, &zero, 0);
            }
        }
        if (rc == 0)
            rc = emit_group(r, i, &e[k], 0);
    }
    return rc;
}

static int flush(struct trl_pipe_run *r, size_t i)
{
    struct stage_run *s = &r->s[i];
    const struct trl_pipe_stage *st = s->st;
    int rc = 0;
    if (st->kind == TRL_PIPE_SORT) {
        bool desc = st->desc;
        if (s->nrows > 1)
            qsort_r(s->rows, s->nrows, sizeof(*s->rows), cmp_rows, &desc);
        for (size_t k = 0; rc == 0 && k < s->nrows; k++)
            rc = push(r, i + 1, s->rows[k].ts, s->rows[k].json, s->rows[k].len);
        return rc;
    }
    if (st->kind != TRL_PIPE_STATS && st->kind != TRL_PIPE_TOP && st->kind != TRL_PIPE_TIMECHART)
        return 0;
    /* Compact the table's entries to its front and sort them. */
    struct entry *e = s->map.e;
    size_t n = 0;
    for (size_t k = 0; k < s->map.cap; k++) {
        if (e[k].key)
            e[n++] = e[k];
    }
    for (size_t k = n; k < s->map.cap; k++)
        e[k] = (struct entry){0};
    if (st->kind == TRL_PIPE_TIMECHART) {
        if (n > 1)
            qsort(e, n, sizeof(*e), cmp_bucket);
        rc = flush_timechart(r, i, e, n);
    } else {
        if (n > 1)
            qsort(e, n, sizeof(*e), cmp_count_desc);
        size_t max = st->kind == TRL_PIPE_TOP && st->n < n ? (size_t)st->n : n;
        for (size_t k = 0; rc == 0 && k < max; k++)
            rc = emit_group(r, i, &e[k], s->seen);
    }
    /* The table is no longer hashed: it can only be freed now. */
    s->map.n = n;
    return rc;
}

int trl_pipe_run_finish(struct trl_pipe_run *r)
{
    for (size_t i = 0; i < r->pl->n; i++) {
        int rc = flush(r, i);
        if (rc != 0 && rc != TRL_PIPE_STOP)
            return rc;
    }
    return 0;
}

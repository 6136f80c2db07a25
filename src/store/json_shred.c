#include "store/json_shred.h"
#include "core/util.h"
#include "store/block.h"
#include "store/json_leaves.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * Layout of a shredded block (all integers LEB128 varints):
 *
 *   count  json_length  nstreams  skeleton_length
 *   nstreams x { values_length  refs_length }
 *   skeleton: count x { varint length, bytes }
 *   for each stream in order: its values, then its refs
 *
 * A skeleton is the event's JSON with each value replaced by a marker and the value's stream
 * number (varint): MARK_STR (a string, its content in the values as varint length + the bytes
 * between the quotes, still escaped), MARK_SCALAR (a number or literal, likewise), MARK_ORIGINAL
 * (a string: the event's event.original, which later references point into), MARK_STR_REF and
 * MARK_SCALAR_REF (the value is bytes [offset, offset + length) of the event's event.original
 * content: the refs hold varint offset, varint length). MARK_VERBATIM (varint length, bytes)
 * holds an event that is not plain JSON. Every other byte is copied as is. Streams are numbered
 * in the order their dotted path first occurs in the block; values in an array share the path of
 * the array.
 */
enum {
    MARK_STR = 1,
    MARK_SCALAR = 2,
    MARK_STR_REF = 3,
    MARK_SCALAR_REF = 4,
    MARK_VERBATIM = 5,
    MARK_ORIGINAL = 6,
    MARK_LAST = 6,
};

#define SHRED_MAX_PATH  1024
#define SHRED_MAX_DEPTH 64
#define REF_MIN_LEN     4 /* shorter values cost less in their column than as a reference */

struct stream {
    struct trl_buf vals, refs;
    uint32_t path_off, path_len; /* in paths */
    uint32_t tries, hits;        /* reference attempts in this block */
};

struct path_slot {
    uint64_t hash;
    uint32_t sid;
    uint32_t off, len; /* in paths */
    bool used;
};

struct undo {
    uint32_t sid;
    size_t vals_len, refs_len;
};

struct trl_shredder {
    struct trl_buf skel, ev, paths;
    struct stream *st;
    size_t nst, st_cap;
    struct path_slot *map;
    size_t map_cap, map_n;
    struct undo *undo;
    size_t nundo, undo_cap;
    char path[SHRED_MAX_PATH];
    size_t plen;
    uint64_t phash; /* of path, kept up to date as keys are pushed and popped */
    /* Stream of the k-th value of the previous event: events of one kind share their shape. */
    uint32_t *ord_sid;
    size_t ord_cap, nord;
    const char *copy_from;     /* input not yet copied into the skeleton */
    struct trl_leaves *leaves; /* the event's leaves, while leaves_ok */
    bool leaves_ok;
    const char *orig;
    size_t orig_len;
    uint64_t total;
    uint32_t count;
};

struct trl_shredder *trl_shredder_create(void)
{
    return trl_xcalloc(1, sizeof(struct trl_shredder));
}

void trl_shredder_destroy(struct trl_shredder *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->st_cap; i++) {
        trl_buf_free(&s->st[i].vals);
        trl_buf_free(&s->st[i].refs);
    }
    free(s->st);
    free(s->map);
    free(s->undo);
    free(s->ord_sid);
    trl_buf_free(&s->skel);
    trl_buf_free(&s->ev);
    trl_buf_free(&s->paths);
    free(s);
}

void trl_shredder_reset(struct trl_shredder *s)
{
    for (size_t i = 0; i < s->nst; i++) {
        trl_buf_reset(&s->st[i].vals);
        trl_buf_reset(&s->st[i].refs);
    }
    s->nst = 0;
    if (s->map)
        memset(s->map, 0, s->map_cap * sizeof(*s->map));
    s->map_n = 0;
    if (s->ord_sid)
        memset(s->ord_sid, 0xff, s->ord_cap * sizeof(*s->ord_sid));
    trl_buf_reset(&s->skel);
    trl_buf_reset(&s->paths);
    s->total = 0;
    s->count = 0;
}

static inline void put_varint(struct trl_buf *b, uint64_t v)
{
    if (v < 0x80) {
        trl_buf_putc(b, (char)v);
        return;
    }
    uint8_t tmp[10];
    trl_buf_append(b, tmp, trl_varint_put(tmp, v));
}

#define PATH_HASH_SEED 0xcbf29ce484222325ULL

static inline uint64_t path_hash_step(uint64_t h, unsigned char c)
{
    return (h ^ c) * 0x100000001b3ULL;
}

static void map_grow(struct trl_shredder *s)
{
    size_t ncap = s->map_cap ? s->map_cap * 2 : 256;
    struct path_slot *n = trl_xcalloc(ncap, sizeof(*n));
    for (size_t i = 0; i < s->map_cap; i++) {
        if (!s->map[i].used)
            continue;
        size_t j = (size_t)s->map[i].hash & (ncap - 1);
        while (n[j].used)
            j = (j + 1) & (ncap - 1);
        n[j] = s->map[i];
    }
    free(s->map);
    s->map = n;
    s->map_cap = ncap;
}

static bool stream_is_path(const struct trl_shredder *s, uint32_t sid)
{
    const struct stream *st = &s->st[sid];
    return st->path_len == s->plen && !memcmp(s->paths.data + st->path_off, s->path, s->plen);
}

/* The stream of the current path, created on first use. */
static uint32_t stream_lookup(struct trl_shredder *s)
{
    if ((s->map_n + 1) * 2 > s->map_cap)
        map_grow(s);
    uint64_t h = s->phash;
    size_t j = (size_t)h & (s->map_cap - 1);
    while (s->map[j].used) {
        const struct path_slot *e = &s->map[j];
        if (e->hash == h && e->len == s->plen && !memcmp(s->paths.data + e->off, s->path, s->plen))
            return e->sid;
        j = (j + 1) & (s->map_cap - 1);
    }
    if (s->nst == s->st_cap) {
        size_t ncap = s->st_cap ? s->st_cap * 2 : 64;
        s->st = trl_xrealloc(s->st, ncap * sizeof(*s->st));
        memset(s->st + s->st_cap, 0, (ncap - s->st_cap) * sizeof(*s->st));
        s->st_cap = ncap;
    }
    uint32_t sid = (uint32_t)s->nst++;
    s->map[j] = (struct path_slot){h, sid, (uint32_t)s->paths.len, (uint32_t)s->plen, true};
    s->st[sid].path_off = (uint32_t)s->paths.len;
    s->st[sid].path_len = (uint32_t)s->plen;
    s->st[sid].tries = 0;
    s->st[sid].hits = 0;
    trl_buf_append(&s->paths, s->path, s->plen);
    s->map_n++;
    return sid;
}

static uint32_t stream_for_path(struct trl_shredder *s)
{
    size_t k = s->nord++;
    if (k >= s->ord_cap) {
        size_t ncap = s->ord_cap ? s->ord_cap * 2 : 128;
        s->ord_sid = trl_xrealloc(s->ord_sid, ncap * sizeof(*s->ord_sid));
        memset(s->ord_sid + s->ord_cap, 0xff, (ncap - s->ord_cap) * sizeof(*s->ord_sid));
        s->ord_cap = ncap;
    }
    uint32_t sid = s->ord_sid[k];
    if (sid < s->nst && stream_is_path(s, sid))
        return sid;
    sid = stream_lookup(s);
    s->ord_sid[k] = sid;
    return sid;
}

/* Whether a value of this stream may be a reference: a stream whose values were rarely found in
 * event.original (times, actions, outcomes) stops being searched for the rest of the block. */
static bool ref_worth_trying(const struct stream *st)
{
    return st->tries < 16 || st->hits * 4 >= st->tries;
}

/* First occurrence of needle (n >= 1) in hay: a line is short, so candidates found by their first
 * byte are cheaper to check than the set-up of a general substring search. */
static const char *find_in(const char *hay, size_t hlen, const char *needle, size_t n)
{
    const char *p = hay, *last = hay + hlen - n;
    while (p <= last) {
        p = memchr(p, needle[0], (size_t)(last - p) + 1);
        if (!p)
            return NULL;
        if (!memcmp(p + 1, needle + 1, n - 1))
            return p;
        p++;
    }
    return NULL;
}

/* A number or literal as trl_json_leaves() accepts it. */
static bool scalar_is_json(const char *v, size_t n)
{
    if ((n == 4 && (!memcmp(v, "true", 4) || !memcmp(v, "null", 4))) ||
        (n == 5 && !memcmp(v, "false", 5)))
        return true;
    return n > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9'));
}

/* Replaces the value at input [vstart, vend) (quotes included) by its marker in the skeleton and
 * files it in its stream; [a, a + n) is its content. */
static void emit_value(struct trl_shredder *s, bool is_str, const char *vstart, const char *vend,
                       const char *a, size_t n)
{
    trl_buf_append(&s->ev, s->copy_from, (size_t)(vstart - s->copy_from));
    s->copy_from = vend;
    if (s->leaves_ok) {
        /* Escaped strings are unescaped as trl_json_leaves() does; what it would refuse (a bad
         * escape, a scalar that is no number or literal) leaves the event to it. */
        if (is_str && memchr(a, '\\', n))
            s->leaves_ok = trl_leaves_add_escaped(s->leaves, s->path, s->plen, a, n);
        else if (is_str || scalar_is_json(a, n))
            trl_leaves_add(s->leaves, s->path, s->plen, a, n, is_str);
        else
            s->leaves_ok = false;
    }
    uint32_t sid = stream_for_path(s);
    struct stream *st = &s->st[sid];
    if (s->nundo == s->undo_cap) {
        s->undo_cap = s->undo_cap ? s->undo_cap * 2 : 64;
        s->undo = trl_xrealloc(s->undo, s->undo_cap * sizeof(*s->undo));
    }
    s->undo[s->nundo++] = (struct undo){sid, st->vals.len, st->refs.len};
    uint8_t mark[11];
    if (is_str && !s->orig && s->plen == 14 && !memcmp(s->path, "event.original", 14)) {
        mark[0] = MARK_ORIGINAL;
        trl_buf_append(&s->ev, mark, 1 + trl_varint_put(mark + 1, sid));
        put_varint(&st->vals, n);
        trl_buf_append(&st->vals, a, n);
        s->orig = a;
        s->orig_len = n;
        return;
    }
    if (s->orig && n >= REF_MIN_LEN && n <= s->orig_len && ref_worth_trying(st)) {
        st->tries++;
        const char *m = find_in(s->orig, s->orig_len, a, n);
        if (m) {
            st->hits++;
            mark[0] = is_str ? MARK_STR_REF : MARK_SCALAR_REF;
            trl_buf_append(&s->ev, mark, 1 + trl_varint_put(mark + 1, sid));
            put_varint(&st->refs, (uint64_t)(m - s->orig));
            put_varint(&st->refs, n);
            return;
        }
    }
    mark[0] = is_str ? MARK_STR : MARK_SCALAR;
    trl_buf_append(&s->ev, mark, 1 + trl_varint_put(mark + 1, sid));
    put_varint(&st->vals, n);
    trl_buf_append(&st->vals, a, n);
}

static inline bool is_ws(char c)
{
    unsigned char u = (unsigned char)c;
    return u <= ' ' &&
           ((1ULL << u) & ((1ULL << ' ') | (1ULL << '\t') | (1ULL << '\n') | (1ULL << '\r')));
}

static inline void skip_ws(const char **pp, const char *end)
{
    const char *p = *pp;
    while (p < end && is_ws(*p))
        p++;
    *pp = p;
}

/* Scans a string whose opening quote is at *pp; [*a, *b) is its raw (escaped) content. */
static bool scan_string(const char **pp, const char *end, const char **a, const char **b)
{
    const char *p = *pp + 1;
    *a = p;
    for (;;) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            return false;
        /* The quote is escaped when an odd number of backslashes precede it. */
        size_t bs = 0;
        while (q - bs > *a && q[-1 - (ptrdiff_t)bs] == '\\')
            bs++;
        if (bs % 2 == 0) {
            *b = q;
            *pp = q + 1;
            return true;
        }
        p = q + 1;
    }
}

static bool is_scalar_byte(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '+' || c == '.';
}

static bool shred_value(struct trl_shredder *s, const char **pp, const char *end, int depth);

static bool shred_container(struct trl_shredder *s, const char **pp, const char *end, int depth)
{
    const char *p = *pp;
    bool object = *p == '{';
    char close = object ? '}' : ']';
    p++;
    skip_ws(&p, end);
    if (p < end && *p == close) {
        *pp = p + 1;
        return true;
    }
    for (;;) {
        size_t saved = s->plen;
        uint64_t saved_hash = s->phash;
        if (object) {
            const char *a, *b;
            if (p >= end || *p != '"' || !scan_string(&p, end, &a, &b))
                return false;
            size_t need = (size_t)(b - a) + (s->plen ? 1 : 0);
            if (s->plen + need > sizeof(s->path))
                return false;
            uint64_t h = s->phash;
            if (s->plen) {
                s->path[s->plen++] = '.';
                h = path_hash_step(h, '.');
            }
            /* Keys stay in the skeleton: a key holding a marker byte (raw control bytes are not
             * JSON) makes the event verbatim. */
            for (const char *k = a; k < b; k++) {
                unsigned char c = (unsigned char)*k;
                if (c <= MARK_LAST)
                    return false;
                if (c == '\\')
                    s->leaves_ok = false;
                h = path_hash_step(h, c);
                s->path[s->plen++] = (char)c;
            }
            s->phash = h;
            skip_ws(&p, end);
            if (p >= end || *p != ':')
                return false;
            p++;
        }
        skip_ws(&p, end);
        if (!shred_value(s, &p, end, depth + 1))
            return false;
        s->plen = saved;
        s->phash = saved_hash;
        skip_ws(&p, end);
        if (p >= end)
            return false;
        char c = *p++;
        if (c == close) {
            *pp = p;
            return true;
        }
        if (c != ',')
            return false;
        skip_ws(&p, end);
    }
}

static bool shred_value(struct trl_shredder *s, const char **pp, const char *end, int depth)
{
    if (depth > SHRED_MAX_DEPTH || *pp >= end)
        return false;
    const char *p = *pp;
    if (*p == '{' || *p == '[')
        return shred_container(s, pp, end, depth);
    if (*p == '"') {
        const char *a, *b;
        if (!scan_string(pp, end, &a, &b))
            return false;
        emit_value(s, true, p, *pp, a, (size_t)(b - a));
        return true;
    }
    while (p < end && is_scalar_byte(*p))
        p++;
    if (p == *pp)
        return false;
    emit_value(s, false, *pp, p, *pp, (size_t)(p - *pp));
    *pp = p;
    return true;
}

bool trl_shredder_add(struct trl_shredder *s, const char *json, size_t len,
                      struct trl_leaves *leaves)
{
    s->leaves = leaves;
    s->leaves_ok = leaves != NULL;
    trl_buf_reset(&s->ev);
    s->plen = 0;
    s->phash = PATH_HASH_SEED;
    s->orig = NULL;
    s->orig_len = 0;
    s->nundo = 0;
    s->nord = 0;
    s->copy_from = json;
    const char *p = json, *end = json + len;
    skip_ws(&p, end);
    bool ok = p < end && (*p == '{' || *p == '[') && shred_container(s, &p, end, 0);
    if (ok)
        skip_ws(&p, end);
    /* Whitespace and punctuation between values: only the bytes JSON allows there. */
    if (ok && p == end)
        trl_buf_append(&s->ev, s->copy_from, (size_t)(end - s->copy_from));
    if (!ok || p != end) {
        /* Not plain JSON: take back what went into the streams and keep the bytes as they are. */
        while (s->nundo > 0) {
            const struct undo *u = &s->undo[--s->nundo];
            s->st[u->sid].vals.len = u->vals_len;
            s->st[u->sid].refs.len = u->refs_len;
        }
        trl_buf_reset(&s->ev);
        trl_buf_putc(&s->ev, MARK_VERBATIM);
        put_varint(&s->ev, len);
        trl_buf_append(&s->ev, json, len);
        s->leaves_ok = false;
    }
    put_varint(&s->skel, s->ev.len);
    trl_buf_append(&s->skel, s->ev.data, s->ev.len);
    s->total += len;
    s->count++;
    return s->leaves_ok;
}

void trl_shredder_finish(struct trl_shredder *s, struct trl_buf *out)
{
    put_varint(out, s->count);
    put_varint(out, s->total);
    put_varint(out, s->nst);
    put_varint(out, s->skel.len);
    for (size_t i = 0; i < s->nst; i++) {
        put_varint(out, s->st[i].vals.len);
        put_varint(out, s->st[i].refs.len);
    }
    trl_buf_append(out, s->skel.data, s->skel.len);
    for (size_t i = 0; i < s->nst; i++) {
        trl_buf_append(out, s->st[i].vals.data, s->st[i].vals.len);
        trl_buf_append(out, s->st[i].refs.data, s->st[i].refs.len);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Unshredding                                                                                 */

void trl_unshred_buf_free(struct trl_unshred_buf *u)
{
    free(u->json);
    free(u->cursor);
    memset(u, 0, sizeof(*u));
}

struct unshred {
    char *out;
    size_t olen, ocap;
    size_t *cur; /* per stream: vals pos, vals end, refs pos, refs end (offsets into base) */
    size_t nst;
    const uint8_t *base;
};

static bool out_put(struct unshred *u, const void *p, size_t n)
{
    if (n > u->ocap - u->olen)
        return false;
    memcpy(u->out + u->olen, p, n);
    u->olen += n;
    return true;
}

/* Reads one varint from stream field k (0 values, 2 refs) of stream sid. */
static bool stream_varint(struct unshred *u, uint64_t sid, int k, uint64_t *v)
{
    size_t *c = &u->cur[sid * 4 + (size_t)k];
    const uint8_t *p = u->base + c[0], *end = u->base + c[1];
    if (!trl_varint_get(&p, end, v))
        return false;
    c[0] = (size_t)(p - u->base);
    return true;
}

static bool unshred_event(struct unshred *u, const uint8_t *s, const uint8_t *se)
{
    size_t orig_off = 0, orig_len = 0;
    bool have_orig = false;
    while (s < se) {
        const uint8_t *run = s;
        while (s < se && (*s == 0 || *s > MARK_LAST))
            s++;
        if (s > run && !out_put(u, run, (size_t)(s - run)))
            return false;
        if (s >= se)
            break;
        uint8_t mark = *s++;
        uint64_t sid, n;
        if (!trl_varint_get(&s, se, mark == MARK_VERBATIM ? &n : &sid))
            return false;
        if (mark == MARK_VERBATIM) {
            if (n > (uint64_t)(se - s) || !out_put(u, s, (size_t)n))
                return false;
            s += n;
            continue;
        }
        if (sid >= u->nst)
            return false;
        bool quoted = mark != MARK_SCALAR && mark != MARK_SCALAR_REF;
        if (quoted && !out_put(u, "\"", 1))
            return false;
        if (mark == MARK_STR_REF || mark == MARK_SCALAR_REF) {
            uint64_t off;
            if (!have_orig || !stream_varint(u, sid, 2, &off) || !stream_varint(u, sid, 2, &n) ||
                off > orig_len || n > orig_len - off)
                return false;
            if (n > u->ocap - u->olen)
                return false;
            /* The original lies before the write position: the ranges cannot overlap. */
            memcpy(u->out + u->olen, u->out + orig_off + off, (size_t)n);
            u->olen += (size_t)n;
        } else {
            size_t *c = &u->cur[sid * 4];
            if (!stream_varint(u, sid, 0, &n) || n > c[1] - c[0])
                return false;
            if (mark == MARK_ORIGINAL) {
                if (have_orig)
                    return false;
                have_orig = true;
                orig_off = u->olen;
                orig_len = (size_t)n;
            }
            if (!out_put(u, u->base + c[0], (size_t)n))
                return false;
            c[0] += (size_t)n;
        }
        if (quoted && !out_put(u, "\"", 1))
            return false;
    }
    return true;
}

int trl_json_unshred(const uint8_t *p, size_t len, uint32_t count, size_t max_json,
                     struct trl_unshred_buf *ub, uint32_t *off)
{
    const uint8_t *q = p, *end = p + len;
    uint64_t n_ev, total, nst, skel_len;
    if (!trl_varint_get(&q, end, &n_ev) || !trl_varint_get(&q, end, &total) ||
        !trl_varint_get(&q, end, &nst) || !trl_varint_get(&q, end, &skel_len))
        return TRL_EINVAL;
    /* Each stream takes at least two directory bytes: that bounds nst by the input. */
    if (n_ev != count || total > max_json || total > UINT32_MAX || nst > (uint64_t)(end - q) / 2)
        return TRL_EINVAL;
    if (ub->cursor_cap < nst * 4) {
        free(ub->cursor);
        ub->cursor_cap = nst * 4 > 64 ? (size_t)nst * 4 : 64;
        ub->cursor = trl_xmalloc(ub->cursor_cap * sizeof(*ub->cursor));
    }
    size_t *cur = ub->cursor;
    uint64_t lens[2];
    /* First pass: the lengths; stream data starts after the skeleton. */
    const uint8_t *dir = q;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < nst; i++) {
        if (!trl_varint_get(&q, end, &lens[0]) || !trl_varint_get(&q, end, &lens[1]))
            return TRL_EINVAL;
        if (lens[0] > (uint64_t)(end - p) || lens[1] > (uint64_t)(end - p))
            return TRL_EINVAL;
        sum += lens[0] + lens[1];
    }
    if (skel_len > (uint64_t)(end - q) || sum != (uint64_t)(end - q) - skel_len)
        return TRL_EINVAL;
    const uint8_t *skel = q, *skel_end = q + skel_len;
    size_t pos = (size_t)(skel_end - p);
    q = dir;
    for (uint64_t i = 0; i < nst; i++) {
        trl_varint_get(&q, end, &lens[0]);
        trl_varint_get(&q, end, &lens[1]);
        cur[i * 4] = pos;
        cur[i * 4 + 1] = pos + (size_t)lens[0];
        pos += (size_t)lens[0];
        cur[i * 4 + 2] = pos;
        cur[i * 4 + 3] = pos + (size_t)lens[1];
        pos += (size_t)lens[1];
    }
    if (ub->json_cap < total || !ub->json) {
        free(ub->json);
        ub->json_cap = total ? (size_t)total : 1;
        ub->json = trl_xmalloc(ub->json_cap);
    }
    struct unshred u = {ub->json, 0, (size_t)total, cur, (size_t)nst, p};
    q = skel;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t sl;
        if (!trl_varint_get(&q, skel_end, &sl) || sl > (uint64_t)(skel_end - q))
            return TRL_EINVAL;
        off[i] = (uint32_t)u.olen;
        if (!unshred_event(&u, q, q + sl))
            return TRL_EINVAL;
        q += sl;
    }
    off[count] = (uint32_t)u.olen;
    if (q != skel_end || u.olen != total)
        return TRL_EINVAL;
    /* Every value and reference was used: anything left over means damage. */
    for (uint64_t i = 0; i < nst; i++) {
        if (cur[i * 4] != cur[i * 4 + 1] || cur[i * 4 + 2] != cur[i * 4 + 3])
            return TRL_EINVAL;
    }
    return 0;
}

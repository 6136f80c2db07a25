#include "store/shred_scan.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "store/block.h"

#include <stdlib.h>
#include <string.h>

/* Skeleton markers, as docs/storage.md ("The JSON column, shredded") specifies them. Every other
 * skeleton byte is JSON text copied as it is (format 3 also keeps some values there). */
enum {
    M_STR = 1,
    M_SCALAR = 2,
    M_STR_REF = 3,
    M_SCALAR_REF = 4,
    M_VERBATIM = 5,
    M_ORIGINAL = 6,
    M_TIME = 7, /* format 3: a time, as a zig-zag varint delta from the event's timestamp */
};

/* What a walk does with a stream's values. */
enum {
    MODE_WANT = 1, /* hand them to the visitor */
    MODE_ORIG = 2, /* event.original: its position is needed by the references */
};

/* trl_json_leaves() gives up beyond these; so does the scan (the full decoder then decides). */
#define SCAN_MAX_DEPTH TRL_LEAVES_MAX_DEPTH
#define SCAN_MAX_PATH  TRL_LEAVES_MAX_PATH

void trl_shred_scan_init(struct trl_shred_scan *s)
{
    memset(s, 0, sizeof(*s));
    trl_leaves_init(&s->unesc);
}

void trl_shred_scan_free(struct trl_shred_scan *s)
{
    free(s->cur);
    free(s->start);
    free(s->path_off);
    free(s->path_len);
    free(s->mode);
    free(s->paths);
    free(s->shapes);
    free(s->slots);
    free(s->ops);
    free(s->shape_bytes);
    free(s->dist);
    free(s->parts);
    free(s->shared);
    free(s->tmp);
    free(s->json);
    trl_leaves_free(&s->unesc);
    memset(s, 0, sizeof(*s));
}

/* Room for nst streams, keeping those of the parts opened before. */
static void reserve_streams(struct trl_shred_scan *s, size_t nst)
{
    if (s->st_cap >= nst)
        return;
    size_t cap = s->st_cap > 64 ? s->st_cap : 64;
    while (cap < nst)
        cap *= 2;
    s->cur = trl_xrealloc(s->cur, cap * sizeof(*s->cur));
    s->start = trl_xrealloc(s->start, cap * sizeof(*s->start));
    s->path_off = trl_xrealloc(s->path_off, cap * sizeof(*s->path_off));
    s->path_len = trl_xrealloc(s->path_len, cap * sizeof(*s->path_len));
    s->mode = trl_xrealloc(s->mode, cap);
    s->st_cap = cap;
}

/* Reads the header and stream directory of the part at p[*pos..len) (a shredded column of its
 * own): its streams' cursors are added to start, and *pos moves past it. */
static int open_part(struct trl_shred_scan *s, const uint8_t *p, size_t len, size_t *pos,
                     uint32_t first, uint32_t max_count, bool whole)
{
    const uint8_t *q = p + *pos, *end = p + len;
    uint64_t n_ev, total, nst, skel_len;
    if (!trl_varint_get(&q, end, &n_ev) || !trl_varint_get(&q, end, &total) ||
        !trl_varint_get(&q, end, &nst) || !trl_varint_get(&q, end, &skel_len))
        return TRL_EINVAL;
    /* Each stream takes at least two directory bytes: that bounds nst by the input. */
    if (n_ev > max_count || (whole ? n_ev != max_count : n_ev == 0) ||
        nst > (uint64_t)(end - q) / 2)
        return TRL_EINVAL;
    /* The part's cursors follow those of the parts before it in start; its stream numbers are
     * the block's (every part of a format 5 column keeps them). */
    size_t base = s->ncur;
    reserve_streams(s, base + (size_t)nst);
    const uint8_t *dir = q;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < nst; i++) {
        uint64_t a, b;
        if (!trl_varint_get(&q, end, &a) || !trl_varint_get(&q, end, &b) ||
            a > (uint64_t)(end - p) || b > (uint64_t)(end - p))
            return TRL_EINVAL;
        sum += a + b;
    }
    if (skel_len > (uint64_t)(end - q) || sum > (uint64_t)(end - q) - skel_len ||
        (whole && sum != (uint64_t)(end - q) - skel_len))
        return TRL_EINVAL;
    if (s->nparts == s->parts_cap) {
        s->parts_cap = s->parts_cap ? s->parts_cap * 2 : 16;
        s->parts = trl_xrealloc(s->parts, s->parts_cap * sizeof(*s->parts));
    }
    struct trl_shred_part *pt = &s->parts[s->nparts++];
    pt->skel = (size_t)(q - p);
    pt->skel_end = pt->skel + (size_t)skel_len;
    pt->first = first;
    pt->count = (uint32_t)n_ev;
    pt->cur_off = (uint32_t)base;
    pt->nst = (uint32_t)nst;
    size_t at = pt->skel_end;
    q = dir;
    for (uint64_t i = 0; i < nst; i++) {
        uint64_t a, b;
        trl_varint_get(&q, end, &a);
        trl_varint_get(&q, end, &b);
        struct trl_shred_cursor *c = &s->start[base + i];
        c->vals = at;
        c->vals_end = at + (size_t)a;
        at += (size_t)a;
        c->refs = at;
        c->refs_end = at + (size_t)b;
        at += (size_t)b;
    }
    s->ncur = base + (size_t)nst;
    if (nst > s->nst)
        s->nst = (size_t)nst;
    *pos = at;
    return 0;
}

static void dist_reserve(struct trl_shred_scan *s, size_t n)
{
    if (s->dist_cap - s->ndist >= n)
        return;
    size_t cap = s->dist_cap ? s->dist_cap * 2 : 64;
    while (cap - s->ndist < n)
        cap *= 2;
    s->dist = trl_xrealloc(s->dist, cap * sizeof(*s->dist));
    s->dist_cap = cap;
}

/* Makes part k the one walked: its skeletons and its streams' cursors. A part after the block's
 * first also names the first's distinct skeletons: those are dist[0 .. nshared). */
static void set_part(struct trl_shred_scan *s, uint32_t k)
{
    const struct trl_shred_part *pt = &s->parts[k];
    s->part = k;
    s->skel = pt->skel;
    s->skel_end = pt->skel_end;
    s->part_nst = pt->nst;
    /* Its cursors; the block's streams it has no directory entry for have no values. */
    if (pt->nst > 0)
        memcpy(s->cur, s->start + pt->cur_off, pt->nst * sizeof(*s->cur));
    if (s->nst > pt->nst)
        memset(s->cur + pt->nst, 0, (s->nst - pt->nst) * sizeof(*s->cur));
    s->sharing = pt->first > 0 && s->nshared > 0;
    if (s->sharing && s->ndist < s->nshared) {
        /* The first part was not walked (to its end): its skeletons come from the list. */
        dist_reserve(s, s->nshared - s->ndist);
        for (size_t i = s->ndist; i < s->nshared; i++)
            s->dist[i] = (struct trl_shred_skel){s->shared[i].off, s->shared[i].len, -1};
        s->ndist = s->nshared;
    }
    s->dist_base = s->ndist;
}

/* Lists the distinct skeletons of the block's first part (the scan's part 0), which the later
 * parts of a format 5 column name. */
static int list_shared(struct trl_shred_scan *s, const uint8_t *p)
{
    const struct trl_shred_part *pt = &s->parts[0];
    const uint8_t *q = p + pt->skel, *e = p + pt->skel_end;
    s->nshared = 0;
    for (uint32_t i = 0; i < pt->count; i++) {
        uint64_t n, idx;
        if (!trl_varint_get(&q, e, &n) || n > (uint64_t)(e - q))
            return TRL_EINVAL;
        if (n == 0) {
            if (!trl_varint_get(&q, e, &idx) || idx >= s->nshared)
                return TRL_EINVAL;
            continue;
        }
        if (s->nshared == s->shared_cap) {
            s->shared_cap = s->shared_cap ? s->shared_cap * 2 : 64;
            s->shared = trl_xrealloc(s->shared, s->shared_cap * sizeof(*s->shared));
        }
        s->shared[s->nshared++] = (struct trl_shred_skel){(size_t)(q - p), (size_t)n, -1};
        q += n;
    }
    return q == e ? 0 : TRL_EINVAL;
}

static int open_common(struct trl_shred_scan *s, const uint8_t *p, size_t len, uint32_t count,
                       int version, const int64_t *ts, const uint32_t *first, size_t nparts)
{
    s->nst = 0;
    s->ncur = 0;
    s->nparts = 0;
    s->nshared = 0;
    size_t pos = 0;
    uint32_t next = 0; /* the first event no part opened so far holds */
    if (version != 5) {
        int rc = open_part(s, p, len, &pos, 0, count, true);
        if (rc != 0)
            return rc;
    } else {
        for (size_t k = 0; first ? k < nparts : pos < len; k++) {
            uint32_t at = first ? first[k] : next;
            if (pos >= len || at < next || at >= count)
                return TRL_EINVAL;
            int rc = open_part(s, p, len, &pos, at, count - at, false);
            if (rc != 0)
                return rc;
            next = at + s->parts[s->nparts - 1].count;
        }
        if (pos != len || (!first && next != count))
            return TRL_EINVAL;
        version = 3;
        s->nshared = 0;
        if (s->parts[0].first == 0) {
            int rc = list_shared(s, p);
            if (rc != 0)
                return rc;
        }
    }
    reserve_streams(s, s->ncur);
    for (size_t i = 0; i < s->nst; i++)
        s->path_len[i] = UINT32_MAX;
    s->base = p;
    s->len = len;
    s->count = count;
    s->version = version;
    s->ts = ts;
    s->last_mark = version == 2 ? M_ORIGINAL : M_TIME;
    s->paths_len = 0;
    s->nshapes = 0;
    s->nops = 0;
    s->ndist = 0;
    s->dist_scanned = 0;
    s->shape_bytes_len = 0;
    if (s->slots_cap)
        memset(s->slots, 0, s->slots_cap * sizeof(*s->slots));
    set_part(s, 0);
    return 0;
}

int trl_shred_scan_open_parts(struct trl_shred_scan *s, const uint8_t *p, size_t len,
                              uint32_t count, const int64_t *ts, const uint32_t *first,
                              size_t nparts)
{
    /* A later part names the first part's skeletons: it is never read without it. */
    if (nparts == 0 || first[0] != 0)
        return TRL_EINVAL;
    return open_common(s, p, len, count, 5, ts, first, nparts);
}

int trl_shred_scan_open(struct trl_shred_scan *s, const uint8_t *p, size_t len, uint32_t count,
                        int version, const int64_t *ts)
{
    /* Format 4 changed the keyword columns only: its JSON column is that of format 3. */
    if (version == 4)
        version = 3;
    if (version != 2 && version != 3 && version != 5)
        return TRL_ENOMATCH;
    return open_common(s, p, len, count, version, ts, NULL, 0);
}

/* The first skeleton byte in [q, e) that is a marker, or e. Markers are control bytes, which JSON
 * text never holds unescaped: eight bytes at a time are skipped while none is below 8. */
static const uint8_t *find_marker(const uint8_t *q, const uint8_t *e, uint8_t last)
{
    while (e - q >= 8) {
        uint64_t x;
        memcpy(&x, q, 8);
        if ((x - 0x0808080808080808ULL) & ~x & 0x8080808080808080ULL)
            break;
        q += 8;
    }
    while (q < e && (*q == 0 || *q > last))
        q++;
    return q;
}

static inline bool cur_varint(const uint8_t *base, size_t *pos, size_t end, uint64_t *out)
{
    if (*pos < end && base[*pos] < 0x80) {
        *out = base[(*pos)++];
        return true;
    }
    const uint8_t *q = base + *pos;
    if (!trl_varint_get(&q, base + end, out))
        return false;
    *pos = (size_t)(q - base);
    return true;
}

/* A value as trl_json_leaves() gives it: strings unescaped, scalars checked for the shape it
 * accepts. False (TRL_ENOMATCH for the caller) where it would stop. */
static bool leaf_value(struct trl_shred_scan *s, const char **v, size_t *n, bool is_string)
{
    const char *p = *v;
    if (is_string && memchr(p, '\\', *n)) {
        if (s->tmp_cap < *n + 1) {
            free(s->tmp);
            s->tmp_cap = *n + 1 > 256 ? *n + 1 : 256;
            s->tmp = trl_xmalloc(s->tmp_cap);
        }
        memcpy(s->tmp, p, *n);
        s->tmp[*n] = '"';
        trl_leaves_reset(&s->unesc);
        if (!trl_leaves_add_escaped(&s->unesc, "", 0, s->tmp, *n))
            return false;
        const struct trl_leaf *f = &s->unesc.items[0];
        *v = trl_leaf_val(&s->unesc, f);
        *n = f->val_len;
        return true;
    }
    if (!is_string) {
        bool literal = (*n == 4 && (!memcmp(p, "true", 4) || !memcmp(p, "null", 4))) ||
                       (*n == 5 && !memcmp(p, "false", 5));
        return literal || (*n > 0 && (p[0] == '-' || (p[0] >= '0' && p[0] <= '9')));
    }
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Shapes                                                                                      */

static void set_path(struct trl_shred_scan *s, uint32_t sid, const char *path, size_t plen)
{
    if (s->paths_cap - s->paths_len < plen + 1) {
        size_t cap = s->paths_cap ? s->paths_cap : 1024;
        while (cap - s->paths_len < plen + 1)
            cap *= 2;
        s->paths = trl_xrealloc(s->paths, cap);
        s->paths_cap = cap;
    }
    memcpy(s->paths + s->paths_len, path, plen);
    s->paths[s->paths_len + plen] = '\0';
    s->path_off[sid] = (uint32_t)s->paths_len;
    s->path_len[sid] = (uint32_t)plen;
    s->paths_len += plen + 1;
}

static void add_op(struct trl_shred_scan *s, uint8_t mark, uint32_t sid)
{
    if (s->nops == s->ops_cap) {
        s->ops_cap = s->ops_cap ? s->ops_cap * 2 : 256;
        s->ops = trl_xrealloc(s->ops, s->ops_cap * sizeof(*s->ops));
    }
    s->ops[s->nops++] = (struct trl_shred_op){mark, sid};
}

static bool is_scalar_byte(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '+' || c == '.';
}

/* Reads the structure of a skeleton [q, e) (the paths are built as trl_json_leaves() builds them:
 * keys joined by '.', array elements on the array's path): records its markers as the shape's
 * ops, learns the path of each stream it uses first, and hands over its inline values. */
static int parse_shape(struct trl_shred_scan *s, const struct trl_shred_visitor *v, uint32_t id,
                       const uint8_t *q, const uint8_t *e)
{
    struct {
        bool obj;
        size_t base;
    } fr[SCAN_MAX_DEPTH];
    int depth = 0;
    char path[SCAN_MAX_PATH];
    size_t plen = 0;
    bool want_key = false;
    if (v && v->shape)
        v->shape(v->ud, id);
    while (q < e) {
        uint8_t c = *q++;
        if (c >= 1 && c <= s->last_mark) {
            uint64_t sid;
            if (c == M_VERBATIM || depth == 0)
                return TRL_ENOMATCH;
            if (!trl_varint_get(&q, e, &sid) || sid >= s->part_nst)
                return TRL_EINVAL;
            if (s->path_len[sid] == UINT32_MAX) {
                set_path(s, (uint32_t)sid, path, plen);
                uint8_t mode = v && v->stream(v->ud, (uint32_t)sid, path, plen) ? MODE_WANT : 0;
                if (plen == 14 && !memcmp(path, "event.original", 14))
                    mode |= MODE_ORIG;
                s->mode[sid] = mode;
            }
            add_op(s, c, (uint32_t)sid);
            continue;
        }
        switch (c) {
        case ' ':
        case '\t':
        case '\n':
        case '\r':
        case ':':
            break;
        case '{':
        case '[':
            if (depth == SCAN_MAX_DEPTH)
                return TRL_ENOMATCH;
            fr[depth].obj = c == '{';
            fr[depth].base = plen;
            depth++;
            want_key = c == '{';
            break;
        case '}':
        case ']':
            if (depth == 0)
                return TRL_ENOMATCH;
            depth--;
            plen = fr[depth].base;
            want_key = false;
            break;
        case ',':
            want_key = depth > 0 && fr[depth - 1].obj;
            break;
        case '"': {
            if (depth == 0)
                return TRL_ENOMATCH;
            const uint8_t *a = q;
            if (want_key) {
                while (q < e && *q != '"' && *q != '\\' && *q >= 0x20)
                    q++;
                if (q >= e || *q != '"')
                    return TRL_ENOMATCH; /* an escaped key: left to trl_json_leaves() */
                size_t base = fr[depth - 1].base, klen = (size_t)(q - a);
                q++;
                if (base + 1 + klen > SCAN_MAX_PATH)
                    return TRL_ENOMATCH;
                plen = base;
                if (plen)
                    path[plen++] = '.';
                memcpy(path + plen, a, klen);
                plen += klen;
                want_key = false;
                break;
            }
            /* A string kept inline (format 3). */
            while (q < e && *q != '"') {
                if (*q <= s->last_mark)
                    return TRL_ENOMATCH;
                if (*q == '\\' && (++q >= e || *q <= s->last_mark))
                    return TRL_ENOMATCH;
                q++;
            }
            if (q >= e)
                return TRL_ENOMATCH;
            const char *val = (const char *)a;
            size_t n = (size_t)(q - a);
            q++;
            if (!leaf_value(s, &val, &n, true))
                return TRL_ENOMATCH;
            if (v && v->inline_value)
                v->inline_value(v->ud, id, path, plen, val, n, true);
            break;
        }
        default: {
            if (!is_scalar_byte(c) || depth == 0 || want_key)
                return TRL_ENOMATCH;
            const uint8_t *a = q - 1;
            while (q < e && is_scalar_byte(*q))
                q++;
            const char *val = (const char *)a;
            size_t n = (size_t)(q - a);
            if (!leaf_value(s, &val, &n, false))
                return TRL_ENOMATCH;
            if (v && v->inline_value)
                v->inline_value(v->ud, id, path, plen, val, n, false);
            break;
        }
        }
    }
    return depth == 0 ? 0 : TRL_ENOMATCH;
}

static void slots_grow(struct trl_shred_scan *s)
{
    size_t cap = s->slots_cap ? s->slots_cap * 2 : 256;
    while (cap < (s->nshapes + 1) * 2)
        cap *= 2;
    free(s->slots);
    s->slots = trl_xcalloc(cap, sizeof(*s->slots));
    s->slots_cap = cap;
    for (size_t i = 0; i < s->nshapes; i++) {
        /* Shapes of ops only (from a rebuild) have no bytes to be found by. */
        if (s->shapes[i].skel_len == 0)
            continue;
        size_t j = s->shapes[i].hash & (cap - 1);
        while (s->slots[j])
            j = (j + 1) & (cap - 1);
        s->slots[j] = (uint32_t)i + 1;
    }
}

/* The shape of the skeleton [q, e): found, or read and added. */
static int shape_of(struct trl_shred_scan *s, const struct trl_shred_visitor *v, const uint8_t *q,
                    const uint8_t *e, const struct trl_shred_shape **out)
{
    size_t n = (size_t)(e - q);
    uint64_t h = trl_hash_short(q, n);
    if ((s->nshapes + 1) * 2 > s->slots_cap)
        slots_grow(s);
    size_t j = h & (s->slots_cap - 1);
    for (; s->slots[j]; j = (j + 1) & (s->slots_cap - 1)) {
        const struct trl_shred_shape *sh = &s->shapes[s->slots[j] - 1];
        if (sh->hash == h && sh->skel_len == n && !memcmp(s->shape_bytes + sh->skel_off, q, n)) {
            *out = sh;
            return 0;
        }
    }
    if (n > UINT32_MAX || s->shape_bytes_len > UINT32_MAX - n)
        return TRL_ENOMATCH;
    if (s->nshapes == s->shapes_cap) {
        s->shapes_cap = s->shapes_cap ? s->shapes_cap * 2 : 64;
        s->shapes = trl_xrealloc(s->shapes, s->shapes_cap * sizeof(*s->shapes));
    }
    if (s->shape_bytes_cap - s->shape_bytes_len < n) {
        size_t cap = s->shape_bytes_cap ? s->shape_bytes_cap : 16384;
        while (cap - s->shape_bytes_len < n)
            cap *= 2;
        s->shape_bytes = trl_xrealloc(s->shape_bytes, cap);
        s->shape_bytes_cap = cap;
    }
    uint32_t id = (uint32_t)s->nshapes;
    size_t first_op = s->nops;
    int rc = parse_shape(s, v, id, q, e);
    if (rc != 0)
        return rc;
    memcpy(s->shape_bytes + s->shape_bytes_len, q, n);
    struct trl_shred_shape *sh = &s->shapes[s->nshapes++];
    *sh = (struct trl_shred_shape){h, (uint32_t)s->shape_bytes_len, (uint32_t)n, (uint32_t)first_op,
                                   (uint32_t)(s->nops - first_op)};
    s->shape_bytes_len += n;
    s->slots[j] = id + 1;
    *out = sh;
    return 0;
}

/* Appends a shape of the ops from first to the last one added, without skeleton bytes; its index.
 */
static uint32_t ops_shape_add(struct trl_shred_scan *s, size_t first)
{
    if (s->nshapes == s->shapes_cap) {
        s->shapes_cap = s->shapes_cap ? s->shapes_cap * 2 : 64;
        s->shapes = trl_xrealloc(s->shapes, s->shapes_cap * sizeof(*s->shapes));
    }
    s->shapes[s->nshapes] =
        (struct trl_shred_shape){0, 0, 0, (uint32_t)first, (uint32_t)(s->nops - first)};
    return (uint32_t)s->nshapes++;
}

/* A shape of markers only, for a skeleton [q, e) whose inline values the visitor does not need:
 * 0 and *out when every stream it names was met before (their paths and modes are known), 1 when
 * one was not or the skeleton is verbatim (it is then read in full), or TRL_EINVAL. */
static int plain_shape(struct trl_shred_scan *s, const struct trl_shred_visitor *v,
                       const uint8_t *q, const uint8_t *e, const struct trl_shred_shape **out)
{
    size_t first = s->nops;
    for (;;) {
        q = find_marker(q, e, s->last_mark);
        if (q >= e)
            break;
        uint8_t mark = *q++;
        uint64_t sid;
        int rc = 0;
        if (mark == M_VERBATIM)
            rc = 1;
        else if (!trl_varint_get(&q, e, &sid) || sid >= s->part_nst)
            rc = TRL_EINVAL;
        else if (s->path_len[sid] == UINT32_MAX)
            rc = 1;
        if (rc != 0) {
            s->nops = first;
            return rc;
        }
        add_op(s, mark, (uint32_t)sid);
    }
    /* No bytes are kept: a skeleton is met once per block in format 3, through its entry. */
    uint32_t id = ops_shape_add(s, first);
    if (v->shape)
        v->shape(v->ud, id);
    *out = &s->shapes[id];
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Walking the values                                                                          */

/* The skeleton of the next event at *q: its own bytes, or in format 3 (a zero length, then a
 * number) those of an earlier distinct skeleton; *d is that skeleton's entry in s->dist (NULL in
 * format 2). */
static int next_skel(struct trl_shred_scan *s, const uint8_t **q, const uint8_t *qe,
                     const uint8_t **sk, size_t *sl, struct trl_shred_skel **d)
{
    uint64_t n;
    *d = NULL;
    if (!trl_varint_get(q, qe, &n) || n > (uint64_t)(qe - *q))
        return TRL_EINVAL;
    if (s->version >= 3 && n == 0) {
        uint64_t idx;
        if (!trl_varint_get(q, qe, &idx))
            return TRL_EINVAL;
        /* A later part of format 5 names the first part's skeletons (dist[0 .. nshared)) first. */
        if (s->sharing && idx < s->nshared) {
            *d = &s->dist[idx];
        } else {
            if (s->sharing)
                idx -= s->nshared;
            if (idx >= s->ndist - s->dist_base)
                return TRL_EINVAL;
            *d = &s->dist[s->dist_base + idx];
        }
        *sk = s->base + (*d)->off;
        *sl = (*d)->len;
        return 0;
    }
    *sk = *q;
    *sl = (size_t)n;
    *q += n;
    if (s->version >= 3) {
        if (s->ndist == s->dist_cap) {
            s->dist_cap = s->dist_cap ? s->dist_cap * 2 : 64;
            s->dist = trl_xrealloc(s->dist, s->dist_cap * sizeof(*s->dist));
        }
        /* A walk after trl_shred_scan_values() meets the same skeletons: keep their shapes. */
        size_t off = (size_t)(*sk - s->base);
        *d = &s->dist[s->ndist];
        if (s->ndist >= s->dist_scanned || (*d)->off != off || (*d)->len != (size_t)n)
            **d = (struct trl_shred_skel){off, (size_t)n, -1};
        s->ndist++;
    }
    return 0;
}

static int give(struct trl_shred_scan *s, const struct trl_shred_visitor *v, uint32_t ev,
                uint32_t sid, const uint8_t *val, size_t n, bool is_string)
{
    const char *p = (const char *)val;
    if (!is_string && !leaf_value(s, &p, &n, false))
        return TRL_ENOMATCH;
    return v->value(v->ud, ev, sid, p, n, is_string);
}

bool trl_shred_unescape(struct trl_shred_scan *s, const char **v, size_t *n)
{
    return leaf_value(s, v, n, true);
}

/* The stored values of one event, by its shape's ops. */
static int walk_event(struct trl_shred_scan *s, const struct trl_shred_visitor *v, uint32_t i,
                      const struct trl_shred_shape *sh)
{
    if (sh->nops == 0)
        return 0;
    const uint8_t *base = s->base;
    const uint8_t *orig = NULL;
    size_t orig_len = 0;
    const struct trl_shred_op *op = s->ops + sh->op, *op_end = op + sh->nops;
    for (; op < op_end; op++) {
        uint8_t mark = op->mark, mode = s->mode[op->sid];
        struct trl_shred_cursor *c = &s->cur[op->sid];
        uint64_t n;
        if (!mode && mark != M_ORIGINAL)
            continue;
        if (mark == M_STR_REF || mark == M_SCALAR_REF) {
            uint64_t off;
            if (!(mode & MODE_WANT))
                continue;
            if (!orig || !cur_varint(base, &c->refs, c->refs_end, &off) ||
                !cur_varint(base, &c->refs, c->refs_end, &n) || off > orig_len ||
                n > orig_len - off)
                return TRL_EINVAL;
            size_t at = (size_t)(orig - base) + (size_t)off;
            if (v->filter && !trl_bits_any(v->filter, at, at + (size_t)n))
                continue;
            int rc = give(s, v, i, op->sid, orig + off, (size_t)n, mark == M_STR_REF);
            if (rc != 0)
                return rc;
            continue;
        }
        if (!cur_varint(base, &c->vals, c->vals_end, &n))
            return TRL_EINVAL;
        if (mark == M_TIME) {
            if (!(mode & MODE_WANT))
                continue;
            char buf[TRL_RFC3339_MAX];
            uint64_t t = (uint64_t)s->ts[i] + ((n >> 1) ^ (uint64_t)(-(int64_t)(n & 1)));
            size_t len = trl_format_rfc3339((int64_t)t, buf);
            int rc = v->value(v->ud, i, op->sid, buf, len, true);
            if (rc != 0)
                return rc;
            continue;
        }
        if (n > c->vals_end - c->vals)
            return TRL_EINVAL;
        const uint8_t *val = base + c->vals;
        c->vals += (size_t)n;
        if (mark == M_ORIGINAL) {
            if (orig)
                return TRL_EINVAL;
            orig = val;
            orig_len = (size_t)n;
        }
        if ((mode & MODE_WANT) &&
            (!v->filter || trl_bits_any(v->filter, c->vals - (size_t)n, c->vals))) {
            int rc = give(s, v, i, op->sid, val, (size_t)n, mark != M_SCALAR);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

static int walk_part(struct trl_shred_scan *s, const struct trl_shred_visitor *v);

int trl_shred_scan_values(struct trl_shred_scan *s, const struct trl_shred_visitor *v)
{
    if (s->version == 3 && !s->ts)
        return TRL_ENOMATCH;
    s->ndist = 0;
    s->dist_scanned = 0;
    for (uint32_t k = 0; k < s->nparts; k++) {
        set_part(s, k);
        int rc = walk_part(s, v);
        if (rc != 0)
            return rc;
    }
    s->dist_scanned = s->ndist;
    return 0;
}

/* Walks the events of the part set_part() chose. */
static int walk_part(struct trl_shred_scan *s, const struct trl_shred_visitor *v)
{
    const struct trl_shred_part *pt = &s->parts[s->part];
    const uint8_t *q = s->base + s->skel, *qe = s->base + s->skel_end;
    for (uint32_t i = pt->first; i < pt->first + pt->count; i++) {
        const uint8_t *sk;
        size_t sl;
        struct trl_shred_skel *d;
        int rc = next_skel(s, &q, qe, &sk, &sl, &d);
        if (rc != 0)
            return rc;
        const uint8_t *e = sk + sl;
        if (sl > 0 && *sk == M_VERBATIM) {
            const uint8_t *r = sk + 1;
            uint64_t n;
            if (!trl_varint_get(&r, e, &n) || n != (uint64_t)(e - r))
                return TRL_ENOMATCH;
            v->verbatim(v->ud, i, (const char *)r, (size_t)n);
            continue;
        }
        const struct trl_shred_shape *sh;
        if (d && d->shape >= 0) {
            sh = &s->shapes[d->shape];
        } else {
            rc = 1;
            if (d && v->plain && v->plain(v->ud, (size_t)(sk - s->base), sl))
                rc = plain_shape(s, v, sk, e, &sh);
            if (rc == 1)
                rc = shape_of(s, v, sk, e, &sh);
            if (rc != 0)
                return rc;
            if (d)
                d->shape = (int32_t)(sh - s->shapes);
        }
        if (v->event)
            v->event(v->ud, i, (uint32_t)(sh - s->shapes));
        rc = walk_event(s, v, i, sh);
        if (rc != 0)
            return rc;
    }
    return q == qe ? 0 : TRL_EINVAL;
}

/* ------------------------------------------------------------------------------------------ */
/* Rebuilding chosen events                                                                    */

static void out_reserve(struct trl_shred_scan *s, size_t n)
{
    if (s->json_cap - s->json_len >= n)
        return;
    size_t cap = s->json_cap ? s->json_cap : 4096;
    while (cap - s->json_len < n)
        cap *= 2;
    s->json = trl_xrealloc(s->json, cap);
    s->json_cap = cap;
}

static void out_put(struct trl_shred_scan *s, const void *p, size_t n)
{
    out_reserve(s, n);
    memcpy(s->json + s->json_len, p, n);
    s->json_len += n;
}

/* Moves the cursors past one event's values without writing anything. */
static int skip_event(struct trl_shred_scan *s, const uint8_t *q, const uint8_t *e)
{
    const uint8_t *base = s->base;
    for (;;) {
        q = find_marker(q, e, s->last_mark);
        if (q >= e)
            return 0;
        uint8_t mark = *q++;
        uint64_t x, n;
        if (!trl_varint_get(&q, e, &x))
            return TRL_EINVAL;
        if (mark == M_VERBATIM) {
            if (x > (uint64_t)(e - q))
                return TRL_EINVAL;
            q += x;
            continue;
        }
        if (x >= s->part_nst)
            return TRL_EINVAL;
        struct trl_shred_cursor *c = &s->cur[x];
        if (mark == M_STR_REF || mark == M_SCALAR_REF) {
            if (!cur_varint(base, &c->refs, c->refs_end, &n) ||
                !cur_varint(base, &c->refs, c->refs_end, &n))
                return TRL_EINVAL;
            continue;
        }
        if (!cur_varint(base, &c->vals, c->vals_end, &n))
            return TRL_EINVAL;
        if (mark == M_TIME)
            continue;
        if (n > c->vals_end - c->vals)
            return TRL_EINVAL;
        c->vals += (size_t)n;
    }
}

/* Records the markers of a skeleton [q, e) as a shape of ops only (no paths: it serves to skip
 * the events that reuse the skeleton). Its index, or -1 for a verbatim event. */
static int ops_of(struct trl_shred_scan *s, const uint8_t *q, const uint8_t *e, int32_t *id)
{
    *id = -1;
    size_t first = s->nops;
    for (;;) {
        q = find_marker(q, e, s->last_mark);
        if (q >= e)
            break;
        uint8_t mark = *q++;
        uint64_t sid;
        if (mark == M_VERBATIM) {
            s->nops = first;
            return 0;
        }
        if (!trl_varint_get(&q, e, &sid) || sid >= s->part_nst) {
            s->nops = first;
            return TRL_EINVAL;
        }
        add_op(s, mark, (uint32_t)sid);
    }
    *id = (int32_t)ops_shape_add(s, first);
    return 0;
}

/* skip_event() for a skeleton whose shape is known: by its ops, without reading its bytes. */
static int skip_shape(struct trl_shred_scan *s, const struct trl_shred_shape *sh)
{
    if (sh->nops == 0)
        return 0;
    const uint8_t *base = s->base;
    const struct trl_shred_op *op = s->ops + sh->op, *op_end = op + sh->nops;
    for (; op < op_end; op++) {
        struct trl_shred_cursor *c = &s->cur[op->sid];
        uint64_t n;
        if (op->mark == M_STR_REF || op->mark == M_SCALAR_REF) {
            if (!cur_varint(base, &c->refs, c->refs_end, &n) ||
                !cur_varint(base, &c->refs, c->refs_end, &n))
                return TRL_EINVAL;
            continue;
        }
        if (!cur_varint(base, &c->vals, c->vals_end, &n))
            return TRL_EINVAL;
        if (op->mark == M_TIME)
            continue;
        if (n > c->vals_end - c->vals)
            return TRL_EINVAL;
        c->vals += (size_t)n;
    }
    return 0;
}

/* Writes one event's JSON, as the full decoder does. */
static int rebuild_event(struct trl_shred_scan *s, uint32_t i, const uint8_t *q, const uint8_t *e)
{
    const uint8_t *base = s->base;
    size_t orig_off = 0, orig_len = 0;
    bool have_orig = false;
    while (q < e) {
        const uint8_t *run = q;
        q = find_marker(q, e, s->last_mark);
        if (q > run)
            out_put(s, run, (size_t)(q - run));
        if (q >= e)
            break;
        uint8_t mark = *q++;
        uint64_t x, n;
        if (!trl_varint_get(&q, e, &x))
            return TRL_EINVAL;
        if (mark == M_VERBATIM) {
            if (x > (uint64_t)(e - q))
                return TRL_EINVAL;
            out_put(s, q, (size_t)x);
            q += x;
            continue;
        }
        if (x >= s->part_nst)
            return TRL_EINVAL;
        struct trl_shred_cursor *c = &s->cur[x];
        bool quoted = mark != M_SCALAR && mark != M_SCALAR_REF;
        if (quoted)
            out_put(s, "\"", 1);
        if (mark == M_TIME) {
            if (!s->ts || !cur_varint(base, &c->vals, c->vals_end, &n))
                return TRL_EINVAL;
            char buf[TRL_RFC3339_MAX];
            uint64_t t = (uint64_t)s->ts[i] + ((n >> 1) ^ (uint64_t)(-(int64_t)(n & 1)));
            out_put(s, buf, trl_format_rfc3339((int64_t)t, buf));
        } else if (mark == M_STR_REF || mark == M_SCALAR_REF) {
            uint64_t off;
            if (!have_orig || !cur_varint(base, &c->refs, c->refs_end, &off) ||
                !cur_varint(base, &c->refs, c->refs_end, &n) || off > orig_len ||
                n > orig_len - off)
                return TRL_EINVAL;
            /* The original was written before: make room, then copy from the output. */
            out_reserve(s, (size_t)n);
            memcpy(s->json + s->json_len, s->json + orig_off + off, (size_t)n);
            s->json_len += (size_t)n;
        } else {
            if (!cur_varint(base, &c->vals, c->vals_end, &n) || n > c->vals_end - c->vals)
                return TRL_EINVAL;
            if (mark == M_ORIGINAL) {
                if (have_orig)
                    return TRL_EINVAL;
                have_orig = true;
                orig_off = s->json_len;
                orig_len = (size_t)n;
            }
            out_put(s, base + c->vals, (size_t)n);
            c->vals += (size_t)n;
        }
        if (quoted)
            out_put(s, "\"", 1);
    }
    return 0;
}

/* Rebuilds the chosen events of the part set_part() chose, up to its last chosen one (stop). */
static int rebuild_part(struct trl_shred_scan *s, const uint8_t *want, uint32_t stop, uint32_t *off,
                        uint32_t *len)
{
    const struct trl_shred_part *pt = &s->parts[s->part];
    const uint8_t *q = s->base + s->skel, *qe = s->base + s->skel_end;
    for (uint32_t i = pt->first; i < stop; i++) {
        const uint8_t *sk;
        size_t sl;
        struct trl_shred_skel *d;
        int rc = next_skel(s, &q, qe, &sk, &sl, &d);
        if (rc != 0)
            return rc;
        if (want[i]) {
            size_t at = s->json_len;
            rc = rebuild_event(s, i, sk, sk + sl);
            if (s->json_len > UINT32_MAX)
                return TRL_EINVAL;
            off[i] = (uint32_t)at;
            len[i] = (uint32_t)(s->json_len - at);
        } else if (d) {
            /* Format 3 names repeated skeletons: their markers are read once. */
            if (d->shape < 0 && (rc = ops_of(s, sk, sk + sl, &d->shape)) != 0)
                return rc;
            rc = d->shape >= 0 ? skip_shape(s, &s->shapes[d->shape]) : skip_event(s, sk, sk + sl);
        } else {
            rc = skip_event(s, sk, sk + sl);
        }
        if (rc != 0)
            return rc;
    }
    return stop < pt->first + pt->count || q == qe ? 0 : TRL_EINVAL;
}

int trl_shred_rebuild(struct trl_shred_scan *s, const uint8_t *want, uint32_t *off, uint32_t *len)
{
    s->json_len = 0;
    s->ndist = 0;
    out_reserve(s, 1); /* s->json is never NULL after a rebuild, even of empty events */
    memset(off, 0, s->count * sizeof(*off));
    memset(len, 0, s->count * sizeof(*len));
    /* A part without a chosen event is not read; in the others the walk stops after the last. */
    uint32_t next = 0;
    for (uint32_t k = 0; k < s->nparts; k++) {
        const struct trl_shred_part *pt = &s->parts[k];
        for (uint32_t i = next; i < pt->first; i++) {
            if (want[i])
                return TRL_EINVAL; /* an event of no part opened */
        }
        next = pt->first + pt->count;
        uint32_t stop = next;
        while (stop > pt->first && !want[stop - 1])
            stop--;
        if (stop == pt->first)
            continue;
        set_part(s, k);
        int rc = rebuild_part(s, want, stop, off, len);
        if (rc != 0)
            return rc;
    }
    for (uint32_t i = next; i < s->count; i++) {
        if (want[i])
            return TRL_EINVAL;
    }
    return 0;
}

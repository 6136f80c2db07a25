#include "store/json_leaves.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

struct walker {
    const char *p;
    const char *end;
    struct trl_leaves *out;
    char *path; /* TRL_LEAVES_MAX_PATH bytes */
    size_t plen;
};

void trl_leaves_init(struct trl_leaves *l)
{
    memset(l, 0, sizeof(*l));
}

void trl_leaves_free(struct trl_leaves *l)
{
    free(l->buf);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

static void buf_reserve(struct trl_leaves *l, size_t extra)
{
    if (l->cap - l->len >= extra)
        return;
    size_t ncap = l->cap ? l->cap : 1024;
    while (ncap - l->len < extra)
        ncap *= 2;
    l->buf = trl_xrealloc(l->buf, ncap);
    l->cap = ncap;
}

static void buf_put(struct trl_leaves *l, const void *p, size_t n)
{
    buf_reserve(l, n + 1);
    memcpy(l->buf + l->len, p, n);
    l->len += n;
}

static void skip_ws(struct walker *w)
{
    while (w->p < w->end && (*w->p == ' ' || *w->p == '\t' || *w->p == '\n' || *w->p == '\r'))
        w->p++;
}

static bool read_hex4(struct walker *w, unsigned *out)
{
    if (w->end - w->p < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = trl_hex_value(w->p[i]);
        if (h < 0)
            return false;
        v = v << 4 | (unsigned)h;
    }
    w->p += 4;
    *out = v;
    return true;
}

static size_t utf8_put(unsigned cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the escape whose backslash was just read (w->p after it) into out (room for 4 bytes):
 * its length, or 0 when it is not JSON. A lone surrogate becomes U+FFFD. */
static size_t read_escape(struct walker *w, char *out)
{
    if (w->p >= w->end)
        return 0;
    char c = *w->p++;
    switch (c) {
    case '"':
    case '\\':
    case '/':
        out[0] = c;
        return 1;
    case 'b':
        out[0] = '\b';
        return 1;
    case 'f':
        out[0] = '\f';
        return 1;
    case 'n':
        out[0] = '\n';
        return 1;
    case 'r':
        out[0] = '\r';
        return 1;
    case 't':
        out[0] = '\t';
        return 1;
    case 'u': {
        unsigned cp;
        if (!read_hex4(w, &cp))
            return 0;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo;
            const char *save = w->p;
            if (w->end - w->p >= 6 && w->p[0] == '\\' && w->p[1] == 'u') {
                w->p += 2;
                if (read_hex4(w, &lo) && lo >= 0xDC00 && lo <= 0xDFFF)
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                else {
                    w->p = save;
                    cp = 0xFFFD;
                }
            } else {
                cp = 0xFFFD;
            }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0xFFFD;
        }
        return utf8_put(cp, out);
    }
    default:
        return 0;
    }
}

/* The next quote or backslash of a string from w->p (w->end when there is none), given q, the
 * first quote at or after an earlier position (NULL when not yet looked for): an escape before
 * that quote leaves it where it is, unless the escape is the quote's own. */
static const char *next_stop(struct walker *w, const char **q)
{
    if (!*q || *q < w->p)
        *q = memchr(w->p, '"', (size_t)(w->end - w->p));
    if (!*q)
        return w->end;
    const char *bs = memchr(w->p, '\\', (size_t)(*q - w->p));
    return bs ? bs : *q;
}

/* Reads a string (w->p just after the opening quote) and appends its unescaped bytes through
 * put(ctx, bytes, n). */
static int read_string(struct walker *w, void (*put)(void *ctx, const char *b, size_t n), void *ctx)
{
    const char *q = NULL;
    for (;;) {
        /* Copy up to the closing quote or the next escape at once. */
        const char *run = w->p;
        w->p = next_stop(w, &q);
        if (w->p > run)
            put(ctx, run, (size_t)(w->p - run));
        if (w->p >= w->end)
            return TRL_EINVAL;
        if (*w->p++ == '"')
            return 0;
        char enc[4];
        size_t n = read_escape(w, enc);
        if (n == 0)
            return TRL_EINVAL;
        put(ctx, enc, n);
    }
}

/* What the one-letter escapes stand for (0: another escape, or none). */
static const char simple_escape[256] = {
    ['"'] = '"',  ['\\'] = '\\', ['/'] = '/',  ['b'] = '\b',
    ['f'] = '\f', ['n'] = '\n',  ['r'] = '\r', ['t'] = '\t',
};

/* Copies the bytes from w->p up to the next quote or backslash (or the end) to o, leaving w->p
 * there, and returns o past them. Sixteen bytes at a time where the machine allows: escaped
 * strings are mostly runs of plain text between short escapes, for each of which a library
 * search would otherwise be called. o must have room for the rest of the input. */
static inline char *copy_run(struct walker *w, char *o)
{
    const char *p = w->p, *end = w->end;
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* Whole vectors go out as they are; o has room for them (see read_string_to). */
        _mm_storeu_si128((__m128i *)(void *)o, x);
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)));
        if (m) {
            unsigned k = (unsigned)__builtin_ctz(m);
            w->p = p + k;
            return o + k;
        }
        p += 16;
        o += 16;
    }
#endif
    while (p < end && *p != '"' && *p != '\\')
        *o++ = *p++;
    w->p = p;
    return o;
}

/* The same into out, which has room for the rest of the input (no escape is shorter than what
 * it decodes to, so out never gets ahead of the input read); *n is the length written. */
static int read_string_to(struct walker *w, char *out, size_t *n)
{
    char *o = out;
    for (;;) {
        o = copy_run(w, o);
        if (w->p >= w->end)
            return TRL_EINVAL;
        if (*w->p++ == '"') {
            *n = (size_t)(o - out);
            return 0;
        }
        /* The usual escapes (a tab, a quote) without a call. */
        char one = w->p < w->end ? simple_escape[(unsigned char)*w->p] : 0;
        if (one) {
            *o++ = one;
            w->p++;
            continue;
        }
        size_t k = read_escape(w, o);
        if (k == 0)
            return TRL_EINVAL;
        o += k;
    }
}

static void put_value(void *ctx, const char *b, size_t n)
{
    buf_put(ctx, b, n);
}

struct path_put {
    struct walker *w;
    bool overflow;
};

static void put_path(void *ctx, const char *b, size_t n)
{
    struct path_put *pp = ctx;
    if (pp->w->plen + n > TRL_LEAVES_MAX_PATH) {
        pp->overflow = true;
        return;
    }
    memcpy(pp->w->path + pp->w->plen, b, n);
    pp->w->plen += n;
}

static struct trl_leaf *leaf_begin(struct walker *w)
{
    struct trl_leaves *l = w->out;
    if (l->n == l->items_cap) {
        l->items_cap = l->items_cap ? l->items_cap * 2 : 64;
        l->items = trl_xrealloc(l->items, l->items_cap * sizeof(*l->items));
    }
    struct trl_leaf *f = &l->items[l->n];
    f->path_off = (uint32_t)l->len;
    f->path_len = (uint32_t)w->plen;
    buf_put(l, w->path, w->plen);
    buf_put(l, "", 1);
    f->val_off = (uint32_t)l->len;
    return f;
}

static void leaf_end(struct walker *w, struct trl_leaf *f, bool is_string)
{
    struct trl_leaves *l = w->out;
    f->val_len = (uint32_t)(l->len - f->val_off);
    f->is_string = is_string;
    buf_put(l, "", 1);
    l->n++;
}

static int parse_value(struct walker *w, int depth);

static int parse_object(struct walker *w, int depth)
{
    w->p++; /* '{' */
    skip_ws(w);
    if (w->p < w->end && *w->p == '}') {
        w->p++;
        return 0;
    }
    for (;;) {
        skip_ws(w);
        if (w->p >= w->end || *w->p != '"')
            return TRL_EINVAL;
        w->p++;
        size_t saved = w->plen;
        struct path_put pp = {w, false};
        if (w->plen > 0)
            put_path(&pp, ".", 1);
        int rc = read_string(w, put_path, &pp);
        if (rc != 0 || pp.overflow)
            return TRL_EINVAL;
        skip_ws(w);
        if (w->p >= w->end || *w->p != ':')
            return TRL_EINVAL;
        w->p++;
        rc = parse_value(w, depth + 1);
        w->plen = saved;
        if (rc != 0)
            return rc;
        skip_ws(w);
        if (w->p >= w->end)
            return TRL_EINVAL;
        if (*w->p == ',') {
            w->p++;
            continue;
        }
        if (*w->p == '}') {
            w->p++;
            return 0;
        }
        return TRL_EINVAL;
    }
}

static int parse_array(struct walker *w, int depth)
{
    w->p++; /* '[' */
    skip_ws(w);
    if (w->p < w->end && *w->p == ']') {
        w->p++;
        return 0;
    }
    for (;;) {
        int rc = parse_value(w, depth + 1);
        if (rc != 0)
            return rc;
        skip_ws(w);
        if (w->p >= w->end)
            return TRL_EINVAL;
        if (*w->p == ',') {
            w->p++;
            continue;
        }
        if (*w->p == ']') {
            w->p++;
            return 0;
        }
        return TRL_EINVAL;
    }
}

static bool is_scalar_byte(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '+' || c == '.' ||
           (c >= 'A' && c <= 'Z');
}

static int parse_value(struct walker *w, int depth)
{
    if (depth > TRL_LEAVES_MAX_DEPTH)
        return TRL_EINVAL;
    skip_ws(w);
    if (w->p >= w->end)
        return TRL_EINVAL;
    char c = *w->p;
    if (c == '{')
        return parse_object(w, depth);
    if (c == '[')
        return parse_array(w, depth);
    if (c == '"') {
        w->p++;
        struct trl_leaf *f = leaf_begin(w);
        int rc = read_string(w, put_value, w->out);
        if (rc != 0) {
            /* Drop the partial leaf: the buffer keeps the bytes, the item is not counted. */
            return rc;
        }
        leaf_end(w, f, true);
        return 0;
    }
    /* A number or a literal: take the run of plausible bytes and check its shape. */
    const char *start = w->p;
    while (w->p < w->end && is_scalar_byte(*w->p))
        w->p++;
    size_t n = (size_t)(w->p - start);
    if (n == 0)
        return TRL_EINVAL;
    bool literal = (n == 4 && (!memcmp(start, "true", 4) || !memcmp(start, "null", 4))) ||
                   (n == 5 && !memcmp(start, "false", 5));
    if (!literal && !(start[0] == '-' || (start[0] >= '0' && start[0] <= '9')))
        return TRL_EINVAL;
    struct trl_leaf *f = leaf_begin(w);
    buf_put(w->out, start, n);
    leaf_end(w, f, false);
    return 0;
}

int trl_json_leaves(const char *json, size_t len, struct trl_leaves *out)
{
    char path[TRL_LEAVES_MAX_PATH];
    struct walker w = {.p = json, .end = json + len, .out = out, .path = path, .plen = 0};
    int rc = parse_value(&w, 0);
    if (rc != 0)
        return rc;
    skip_ws(&w);
    return w.p == w.end ? 0 : TRL_EINVAL;
}

void trl_leaves_add(struct trl_leaves *l, const char *path, size_t path_len, const char *val,
                    size_t val_len, bool is_string)
{
    if (l->n == l->items_cap) {
        l->items_cap = l->items_cap ? l->items_cap * 2 : 64;
        l->items = trl_xrealloc(l->items, l->items_cap * sizeof(*l->items));
    }
    buf_reserve(l, path_len + val_len + 2);
    struct trl_leaf *f = &l->items[l->n++];
    f->path_off = (uint32_t)l->len;
    f->path_len = (uint32_t)path_len;
    memcpy(l->buf + l->len, path, path_len);
    l->len += path_len;
    l->buf[l->len++] = '\0';
    f->val_off = (uint32_t)l->len;
    f->val_len = (uint32_t)val_len;
    memcpy(l->buf + l->len, val, val_len);
    l->len += val_len;
    l->buf[l->len++] = '\0';
    f->is_string = is_string;
}

bool trl_leaves_add_escaped(struct trl_leaves *l, const char *path, size_t path_len,
                            const char *raw, size_t len)
{
    if (path_len > TRL_LEAVES_MAX_PATH)
        return false;
    if (l->n == l->items_cap) {
        l->items_cap = l->items_cap ? l->items_cap * 2 : 64;
        l->items = trl_xrealloc(l->items, l->items_cap * sizeof(*l->items));
    }
    /* The value is no longer than its escaped form with the closing quote. */
    buf_reserve(l, path_len + len + 3);
    size_t at = l->len;
    memcpy(l->buf + at, path, path_len);
    l->buf[at + path_len] = '\0';
    struct walker w = {.p = raw, .end = raw + len + 1, .out = l};
    size_t n;
    char *val = l->buf + at + path_len + 1;
    if (read_string_to(&w, val, &n) != 0 || w.p != raw + len + 1)
        return false;
    val[n] = '\0';
    struct trl_leaf *f = &l->items[l->n++];
    f->path_off = (uint32_t)at;
    f->path_len = (uint32_t)path_len;
    f->val_off = (uint32_t)(at + path_len + 1);
    f->val_len = (uint32_t)n;
    f->is_string = true;
    l->len = at + path_len + n + 2;
    return true;
}

#include "formats/json_encode.h"
#include "core/timeutil.h"
#include "core/util.h"

#include <pthread.h>
#include <stdlib.h>

/* Bytes that cannot be copied verbatim into a JSON string: controls, quote, backslash, and every
 * non-ASCII byte (checked as UTF-8 on the slow path). */
static const unsigned char needs_care[256] = {
    [0 ... 31] = 1,
    ['"'] = 1,
    ['\\'] = 1,
    [128 ... 255] = 1,
};

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is invalid or cut short. */
static size_t utf8_seq_len(const unsigned char *p, size_t left)
{
    unsigned char c = p[0];
    size_t n;
    unsigned min;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, cp = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* True when any of the 8 bytes of w needs escaping or UTF-8 checking: a control character, '"',
 * '\\' or a byte >= 0x80 (the classic "has a byte less than / equal to" bit tricks). */
static inline bool word_needs_care(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t quote = w ^ (ones * '"');
    uint64_t bslash = w ^ (ones * '\\');
    uint64_t lt_space = (w - ones * 0x20) & ~w;
    uint64_t is_quote = (quote - ones) & ~quote;
    uint64_t is_bslash = (bslash - ones) & ~bslash;
    return ((lt_space | is_quote | is_bslash) & highs) | (w & highs);
}

void trl_json_append_string(struct trl_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    /* Worst case: every byte becomes \u00XX (6 bytes), plus quotes. */
    trl_buf_reserve(out, len * 6 + 3);
    char *o = out->data + out->len;
    *o++ = '"';
    size_t i = 0;
    while (i < len) {
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (word_needs_care(w))
                break;
            memcpy(o, p + i, 8);
            o += 8;
            i += 8;
        }
        if (i == len)
            break;
        unsigned char c = p[i];
        if (!needs_care[c]) {
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t n = utf8_seq_len(p + i, len - i);
            if (n) {
                memcpy(o, p + i, n);
                o += n;
                i += n;
            } else {
                memcpy(o, "\xEF\xBF\xBD", 3);
                o += 3;
                i++;
            }
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
        i++;
    }
    *o++ = '"';
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
}

struct entry {
    const char *name;
    size_t name_len;
    const char *val;
    size_t val_len;
    enum trl_field_type type;
    uint32_t rank; /* position in name order: even for known fields, odd between them */
};

static int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return (alen > blen) - (alen < blen);
}

/* Known field names in sorted order, computed once, so sorting an event's fields compares small
 * integers instead of strings. */
static uint32_t known_rank[TRL_F__COUNT];
static enum trl_field sorted_known[TRL_F__COUNT];
static pthread_once_t ranks_once = PTHREAD_ONCE_INIT;

static int known_cmp(const void *a, const void *b)
{
    const struct trl_field_info *x = trl_field_info(*(const enum trl_field *)a);
    const struct trl_field_info *y = trl_field_info(*(const enum trl_field *)b);
    return bytes_cmp(x->name, x->name_len, y->name, y->name_len);
}

static void compute_ranks(void)
{
    for (int f = 1; f < TRL_F__COUNT; f++)
        sorted_known[f - 1] = (enum trl_field)f;
    qsort(sorted_known, TRL_F__COUNT - 1, sizeof(sorted_known[0]), known_cmp);
    for (int i = 0; i < TRL_F__COUNT - 1; i++)
        known_rank[sorted_known[i]] = (uint32_t)(2 * i + 2);
}

/* The rank of a dynamic name: odd, just after the last known name that sorts before it. */
static uint32_t dynamic_rank(const char *name, size_t len)
{
    size_t lo = 0, hi = TRL_F__COUNT - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct trl_field_info *fi = trl_field_info(sorted_known[mid]);
        if (bytes_cmp(fi->name, fi->name_len, name, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (uint32_t)(2 * lo + 1);
}

static int entry_cmp(const struct entry *a, const struct entry *b)
{
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    if (!(a->rank & 1))
        return 0; /* the same known field */
    return bytes_cmp(a->name, a->name_len, b->name, b->name_len);
}

/* Insertion sort of indexes: events have a few dozen fields, and the sort must be stable so the
 * values of an array field keep the order in which they were added. */
static void sort_entries(const struct entry *e, uint16_t *idx, size_t n)
{
    for (size_t i = 0; i < n; i++)
        idx[i] = (uint16_t)i;
    for (size_t i = 1; i < n; i++) {
        uint16_t tmp = idx[i];
        size_t j = i;
        while (j > 0 && entry_cmp(&e[idx[j - 1]], &e[tmp]) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = tmp;
    }
}

static void append_value(struct trl_buf *out, const struct entry *e)
{
    int64_t num;
    if (e->type == TRL_FT_LONG && trl_parse_i64(e->val, e->val_len, &num) &&
        !(e->val_len > 1 && e->val[0] == '0'))
        trl_buf_append(out, e->val, e->val_len);
    else
        trl_json_append_string(out, e->val, e->val_len);
}

/* Number of leading path segments two dotted names share: the dots inside their common prefix
 * each close a segment both names have. */
static size_t common_segments(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen, segs = 0;
    for (size_t i = 0; i < n && a[i] == b[i]; i++)
        segs += a[i] == '.';
    return segs;
}

void trl_json_encode_event(const struct trl_event *ev, struct trl_buf *out)
{
    char ts[TRL_RFC3339_MAX], created[TRL_RFC3339_MAX];
    size_t ts_len = trl_format_rfc3339(ev->timestamp_ns ? ev->timestamp_ns : ev->received_ns, ts);
    size_t created_len = trl_format_rfc3339(ev->received_ns, created);

    pthread_once(&ranks_once, compute_ranks);
    size_t cap = ev->nfields + 8;
    struct entry stack_entries[128];
    struct entry *e =
        cap <= TRL_ARRAY_LEN(stack_entries) ? stack_entries : trl_xmalloc(cap * sizeof(*e));
    size_t n = 0;
    e[n++] = (struct entry){"event.created", 13,          created,
                            created_len,     TRL_FT_DATE, known_rank[TRL_F_EVENT_CREATED]};
    e[n++] = (struct entry){"event.original", 14,          ev->original,
                            ev->original_len, TRL_FT_TEXT, known_rank[TRL_F_EVENT_ORIGINAL]};
    if (ev->format)
        e[n++] = (struct entry){"trapline.format", 15,
                                ev->format,        strlen(ev->format),
                                TRL_FT_KEYWORD,    dynamic_rank("trapline.format", 15)};
    if (ev->flags & TRL_EVF_TRUNCATED)
        e[n++] = (struct entry){
            "tags", 4, "trapline.truncated", 18, TRL_FT_ARRAY, known_rank[TRL_F_TAGS]};
    if (ev->flags & TRL_EVF_UNPARSED)
        e[n++] = (struct entry){
            "tags", 4, "trapline.unparsed", 17, TRL_FT_ARRAY, known_rank[TRL_F_TAGS]};
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        struct entry *x = &e[n++];
        x->name = trl_kv_name(kv, &x->name_len);
        x->val = kv->val;
        x->val_len = kv->val_len;
        if (kv->field) {
            x->type = trl_field_info((enum trl_field)kv->field)->type;
            x->rank = known_rank[kv->field];
        } else {
            x->type = TRL_FT_KEYWORD;
            x->rank = dynamic_rank(x->name, x->name_len);
        }
    }
    /* n is bounded by the number of fields an event can carry, well below 65536. */
    uint16_t stack_idx[128];
    uint16_t *idx = n <= TRL_ARRAY_LEN(stack_idx) ? stack_idx : trl_xmalloc(n * sizeof(*idx));
    sort_entries(e, idx, n);

    trl_buf_append(out, "{\"@timestamp\":\"", 15);
    trl_buf_append(out, ts, ts_len);
    trl_buf_putc(out, '"');

    /* Walk the sorted names keeping the chain of open objects: close the objects the next name
     * does not share, open the ones it adds, then write its last segment as the key. */
    const struct entry *prev = NULL;
    size_t open = 0;
    for (size_t i = 0; i < n; i++) {
        const struct entry *x = &e[idx[i]];
        bool same_as_prev = prev && entry_cmp(prev, x) == 0;
        if (same_as_prev && x->type == TRL_FT_ARRAY) {
            trl_buf_putc(out, ',');
            append_value(out, x);
            continue;
        }
        if (same_as_prev)
            continue; /* a scalar set twice through different paths: first one wins */
        if (prev && prev->type == TRL_FT_ARRAY)
            trl_buf_putc(out, ']');
        size_t keep = prev ? common_segments(prev->name, prev->name_len, x->name, x->name_len) : 0;
        for (; open > keep; open--)
            trl_buf_putc(out, '}');
        /* Skip the segments already open, then write the rest as nested keys. */
        const char *seg = x->name, *end = x->name + x->name_len;
        for (size_t s = 0; s < open; s++)
            seg = (const char *)memchr(seg, '.', (size_t)(end - seg)) + 1;
        for (;;) {
            const char *dot = memchr(seg, '.', (size_t)(end - seg));
            const char *seg_end = dot ? dot : end;
            /* A member right after an opening brace needs no separating comma. */
            size_t slen = (size_t)(seg_end - seg);
            trl_buf_reserve(out, slen + 8);
            if (out->data[out->len - 1] != '{')
                out->data[out->len++] = ',';
            if (!(x->rank & 1)) {
                /* Known field names are plain ASCII: no escaping to do. */
                out->data[out->len++] = '"';
                memcpy(out->data + out->len, seg, slen);
                out->len += slen;
                out->data[out->len++] = '"';
            } else {
                trl_json_append_string(out, seg, slen);
            }
            trl_buf_putc(out, ':');
            if (!dot)
                break;
            trl_buf_putc(out, '{');
            open++;
            seg = dot + 1;
        }
        if (x->type == TRL_FT_ARRAY)
            trl_buf_putc(out, '[');
        append_value(out, x);
        prev = x;
    }
    if (prev && prev->type == TRL_FT_ARRAY)
        trl_buf_putc(out, ']');
    for (; open > 0; open--)
        trl_buf_putc(out, '}');
    trl_buf_putc(out, '}');
    if (idx != stack_idx)
        free(idx);
    if (e != stack_entries)
        free(e);
}

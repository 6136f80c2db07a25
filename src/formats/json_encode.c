#include "formats/json_encode.h"
#include "core/timeutil.h"
#include "core/util.h"

#include <stdlib.h>

/* Bytes that cannot be copied verbatim into a JSON string: controls, quote, backslash, and every
 * non-ASCII byte (checked as UTF-8 on the slow path). */
static const unsigned char needs_care[256] = {
    [0 ... 31] = 1, ['"'] = 1, ['\\'] = 1, [128 ... 255] = 1,
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

void trl_json_append_string(struct trl_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    trl_buf_reserve(out, len + 3);
    out->data[out->len++] = '"';
    size_t i = 0;
    while (i < len) {
        size_t run = i;
        while (run < len && !needs_care[p[run]])
            run++;
        if (run > i) {
            trl_buf_append(out, p + i, run - i);
            i = run;
            if (i == len)
                break;
        }
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t n = utf8_seq_len(p + i, len - i);
            if (n) {
                trl_buf_append(out, p + i, n);
                i += n;
            } else {
                trl_buf_append(out, "\xEF\xBF\xBD", 3);
                i++;
            }
            continue;
        }
        char esc[6] = {'\\', 0};
        size_t elen = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        trl_buf_append(out, esc, elen);
        i++;
    }
    trl_buf_putc(out, '"');
}

struct entry {
    const char *name;
    size_t name_len;
    const char *val;
    size_t val_len;
    enum trl_field_type type;
};

static int name_cmp(const struct entry *a, const struct entry *b)
{
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = memcmp(a->name, b->name, n);
    if (c)
        return c;
    return (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

/* Insertion sort: events have a few dozen fields, and the sort must be stable so the values of an
 * array field keep the order in which they were added. */
static void sort_entries(struct entry *e, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct entry tmp = e[i];
        size_t j = i;
        while (j > 0 && name_cmp(&e[j - 1], &tmp) > 0) {
            e[j] = e[j - 1];
            j--;
        }
        e[j] = tmp;
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

/* Number of leading path segments two dotted names share. */
static size_t common_segments(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t segs = 0, i = 0;
    for (;;) {
        size_t sa = i, sb = i;
        while (sa < alen && a[sa] != '.')
            sa++;
        while (sb < blen && b[sb] != '.')
            sb++;
        if (sa != sb || memcmp(a + i, b + i, sa - i) != 0 || sa >= alen || sb >= blen)
            return segs;
        segs++;
        i = sa + 1;
    }
}

static size_t count_segments(const char *s, size_t len)
{
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += s[i] == '.';
    return n;
}

void trl_json_encode_event(const struct trl_event *ev, struct trl_buf *out)
{
    char ts[TRL_RFC3339_MAX], created[TRL_RFC3339_MAX];
    size_t ts_len = trl_format_rfc3339(ev->timestamp_ns ? ev->timestamp_ns : ev->received_ns, ts);
    size_t created_len = trl_format_rfc3339(ev->received_ns, created);

    size_t cap = ev->nfields + 8;
    struct entry stack_entries[128];
    struct entry *e = cap <= TRL_ARRAY_LEN(stack_entries) ? stack_entries
                                                          : trl_xmalloc(cap * sizeof(*e));
    size_t n = 0;
    e[n++] = (struct entry){"event.created", 13, created, created_len, TRL_FT_DATE};
    e[n++] = (struct entry){"event.original", 14, ev->original, ev->original_len, TRL_FT_TEXT};
    if (ev->format)
        e[n++] = (struct entry){"trapline.format", 15, ev->format, strlen(ev->format),
                                TRL_FT_KEYWORD};
    if (ev->flags & TRL_EVF_TRUNCATED)
        e[n++] = (struct entry){"tags", 4, "trapline.truncated", 18, TRL_FT_ARRAY};
    if (ev->flags & TRL_EVF_UNPARSED)
        e[n++] = (struct entry){"tags", 4, "trapline.unparsed", 17, TRL_FT_ARRAY};
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        struct entry *x = &e[n++];
        x->name = trl_kv_name(kv, &x->name_len);
        x->val = kv->val;
        x->val_len = kv->val_len;
        x->type = kv->field ? trl_field_info((enum trl_field)kv->field)->type : TRL_FT_KEYWORD;
    }
    sort_entries(e, n);

    trl_buf_append(out, "{\"@timestamp\":\"", 15);
    trl_buf_append(out, ts, ts_len);
    trl_buf_putc(out, '"');

    /* Walk the sorted names keeping the chain of open objects: close the objects the next name
     * does not share, open the ones it adds, then write its last segment as the key. */
    const char *prev = "";
    size_t prev_len = 0, open = 0;
    for (size_t i = 0; i < n; i++) {
        const struct entry *x = &e[i];
        bool same_as_prev = i > 0 && name_cmp(&e[i - 1], x) == 0;
        if (same_as_prev && x->type == TRL_FT_ARRAY) {
            trl_buf_putc(out, ',');
            append_value(out, x);
            continue;
        }
        if (same_as_prev)
            continue; /* a scalar set twice through different paths: first one wins */
        if (i > 0 && e[i - 1].type == TRL_FT_ARRAY)
            trl_buf_putc(out, ']');
        size_t keep = common_segments(prev, prev_len, x->name, x->name_len);
        for (; open > keep; open--)
            trl_buf_putc(out, '}');
        size_t segs = count_segments(x->name, x->name_len);
        const char *seg = x->name;
        const char *end = x->name + x->name_len;
        for (size_t s = 0; s < segs; s++) {
            const char *dot = memchr(seg, '.', (size_t)(end - seg));
            const char *seg_end = dot ? dot : end;
            if (s >= open) {
                /* A member right after an opening brace needs no separating comma. */
                if (out->data[out->len - 1] != '{')
                    trl_buf_putc(out, ',');
                trl_json_append_string(out, seg, (size_t)(seg_end - seg));
                trl_buf_putc(out, ':');
                if (s + 1 < segs) {
                    trl_buf_putc(out, '{');
                    open++;
                }
            }
            seg = seg_end + 1;
        }
        if (x->type == TRL_FT_ARRAY)
            trl_buf_putc(out, '[');
        append_value(out, x);
        prev = x->name;
        prev_len = x->name_len;
    }
    if (n > 0 && e[n - 1].type == TRL_FT_ARRAY)
        trl_buf_putc(out, ']');
    for (; open > 0; open--)
        trl_buf_putc(out, '}');
    trl_buf_putc(out, '}');
    if (e != stack_entries)
        free(e);
}

#include "core/timeutil.h"
#include "ioc/feed_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void feed_ctx_init(struct feed_ctx *c, const struct trl_ioc_parse_opts *opts,
                   const char *default_source, struct trl_ioc_sink *sink)
{
    c->opts = opts;
    c->source = opts && opts->source && *opts->source ? opts->source : default_source;
    c->sink = sink;
}

void feed_rec_init(struct feed_rec *r, struct trl_arena *a)
{
    memset(r, 0, sizeof(*r));
    r->arena = a;
    r->confidence = -1;
}

void feed_rec_reset(struct feed_rec *r, struct trl_arena *a)
{
    trl_arena_reset(a);
    feed_rec_init(r, a);
}

char *feed_rec_strdup(struct feed_rec *r, const char *p, size_t len)
{
    return trl_arena_strndup(r->arena, p, len);
}

static bool add_unique(const char **list, size_t *n, size_t max, struct feed_rec *r, const char *p,
                       size_t len)
{
    struct trl_str s = feed_trim((struct trl_str){p, len});
    if (s.len == 0 || *n >= max || memchr(s.ptr, '\0', s.len))
        return false;
    for (size_t i = 0; i < *n; i++) {
        if (strlen(list[i]) == s.len && memcmp(list[i], s.ptr, s.len) == 0)
            return false;
    }
    list[(*n)++] = trl_arena_strndup(r->arena, s.ptr, s.len);
    return true;
}

void feed_rec_tag(struct feed_rec *r, const char *p, size_t len)
{
    add_unique(r->tags, &r->ntags, FEED_MAX_TAGS, r, p, len);
}

void feed_rec_label(struct feed_rec *r, const char *p, size_t len)
{
    add_unique(r->labels, &r->nlabels, FEED_MAX_LABELS, r, p, len);
}

void feed_rec_tag_list(struct feed_rec *r, const char *p, size_t len)
{
    while (len) {
        const char *comma = memchr(p, ',', len);
        size_t n = comma ? (size_t)(comma - p) : len;
        feed_rec_tag(r, p, n);
        if (!comma)
            break;
        p += n + 1;
        len -= n + 1;
    }
}

void feed_problem(struct feed_ctx *c, size_t item, bool skipped, const char *fmt, ...)
{
    if (skipped)
        c->sink->skipped++;
    else
        c->sink->notes++;
    if (!c->sink->problem)
        return;
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    /* Reasons quote input: keep them printable so a terminal or a log line stays intact. */
    for (char *p = buf; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    }
    c->sink->problem(c->sink->ud, item, buf, skipped);
}

/* A value quoted in a problem: cut, and never more than one line. */
static int quote_len(const char *p, size_t len)
{
    size_t n = len > 80 ? 80 : len;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n' || p[i] == '\r')
            return (int)i;
    }
    return (int)n;
}

int feed_emit(struct feed_ctx *c, const struct feed_rec *r, size_t item, enum trl_ioc_type type,
              const char *raw, size_t len, bool skipped)
{
    char buf[TRL_IOC_VALUE_MAX + 2];
    size_t n;
    const char *why;
    if (trl_ioc_normalize(type, raw, len, buf, sizeof(buf), &n, &why) != 0) {
        feed_problem(c, item, skipped, "%s '%.*s': %s", trl_ioc_type_name(type),
                     quote_len(raw, len), raw, why);
        return 0;
    }
    int conf = r->confidence;
    if (conf < 0)
        conf =
            c->opts && c->opts->confidence >= 0 ? c->opts->confidence : TRL_IOC_DEFAULT_CONFIDENCE;
    if (conf > 100)
        conf = 100;
    struct trl_ioc ioc = {
        .type = type,
        .value = buf,
        .id = r->id,
        .source = c->source,
        .confidence = conf,
        .valid_from_ns = r->valid_from_ns,
        .valid_until_ns = r->valid_until_ns,
        .tags = r->tags,
        .ntags = r->ntags,
        .labels = r->labels,
        .nlabels = r->nlabels,
        .description = r->description,
    };
    c->sink->indicators++;
    int rc = c->sink->indicator ? c->sink->indicator(c->sink->ud, &ioc) : 0;
    return rc < 0 ? rc : 1;
}

int feed_emit_ip_port(struct feed_ctx *c, const struct feed_rec *r, size_t item, const char *v,
                      size_t len)
{
    struct trl_str s = feed_trim((struct trl_str){v, len});
    if (s.len > 2 && s.ptr[0] == '[') {
        const char *close = memchr(s.ptr, ']', s.len);
        if (close)
            return feed_emit(c, r, item, TRL_IOC_IPV6, s.ptr + 1, (size_t)(close - s.ptr - 1),
                             true);
    }
    const char *colon = memchr(s.ptr, ':', s.len);
    if (colon && !memchr(colon + 1, ':', s.len - (size_t)(colon - s.ptr) - 1))
        return feed_emit(c, r, item, TRL_IOC_IPV4, s.ptr, (size_t)(colon - s.ptr), true);
    enum trl_ioc_type t = trl_ioc_detect_type(s.ptr, s.len, 0);
    return feed_emit(c, r, item, t == TRL_IOC_IPV6 ? TRL_IOC_IPV6 : TRL_IOC_IPV4, s.ptr, s.len,
                     true);
}

bool feed_lines_next(struct feed_lines *l, struct trl_str *line)
{
    if (l->p >= l->end)
        return false;
    const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
    const char *e = nl ? nl : l->end;
    line->ptr = l->p;
    line->len = (size_t)(e - l->p);
    if (line->len && line->ptr[line->len - 1] == '\r')
        line->len--;
    l->p = nl ? nl + 1 : l->end;
    l->lineno++;
    return true;
}

size_t feed_skip_space(const char *buf, size_t len, size_t i)
{
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
        i++;
    return i;
}

struct trl_str feed_trim(struct trl_str s)
{
    while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t' || s.ptr[0] == '\r' || s.ptr[0] == '\n')) {
        s.ptr++;
        s.len--;
    }
    while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t' ||
                     s.ptr[s.len - 1] == '\r' || s.ptr[s.len - 1] == '\n'))
        s.len--;
    return s;
}

int feed_csv_split(struct trl_str line, struct trl_str *out, int max, struct trl_arena *arena)
{
    const char *p = line.ptr, *end = line.ptr + line.len;
    int n = 0;
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        struct trl_str f;
        if (p < end && *p == '"') {
            p++;
            char *buf = trl_arena_alloc(arena, (size_t)(end - p) + 1);
            size_t k = 0;
            for (;;) {
                if (p >= end)
                    return -1; /* no closing quote on the line */
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"') {
                        buf[k++] = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                buf[k++] = *p++;
            }
            buf[k] = '\0';
            f = (struct trl_str){buf, k};
            while (p < end && (*p == ' ' || *p == '\t'))
                p++;
            if (p < end && *p != ',')
                return -1; /* text after the closing quote */
        } else {
            const char *s = p;
            while (p < end && *p != ',') {
                if (*p == '"')
                    return -1; /* a quote inside an unquoted field */
                p++;
            }
            f = feed_trim((struct trl_str){s, (size_t)(p - s)});
        }
        if (n < max)
            out[n] = f;
        n++;
        if (p >= end)
            break;
        p++; /* the comma */
    }
    return n;
}

json_t *feed_json_load(struct feed_ctx *c, const char *buf, size_t len)
{
    json_error_t err;
    if (len >= 3 && (unsigned char)buf[0] == 0xef && (unsigned char)buf[1] == 0xbb &&
        (unsigned char)buf[2] == 0xbf) {
        buf += 3;
        len -= 3;
    }
    json_t *root = json_loadb(buf, len, JSON_ALLOW_NUL, &err);
    if (!root)
        feed_problem(c, 0, true, "not valid JSON: %s (line %d, column %d)", err.text, err.line,
                     err.column);
    return root;
}

const char *feed_json_str(const json_t *obj, const char *key, size_t *len)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return NULL;
    if (len)
        *len = json_string_length(v);
    return json_string_value(v);
}

bool feed_json_truthy(const json_t *v)
{
    if (json_is_true(v))
        return true;
    if (json_is_integer(v))
        return json_integer_value(v) != 0;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        return !strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "True");
    }
    return false;
}

int64_t feed_parse_time(const char *s, size_t len)
{
    int64_t ns;
    struct trl_str t = feed_trim((struct trl_str){s, len});
    if (t.len < 10 || trl_parse_rfc3339(t.ptr, t.len, &ns) != t.len)
        return 0;
    return ns;
}

/* ---- Dispatch and detection ---- */

static const char *const format_names[TRL_IOC_FMT__COUNT] = {
    [TRL_IOC_FMT_AUTO] = "auto",           [TRL_IOC_FMT_STIX] = "stix",
    [TRL_IOC_FMT_MISP] = "misp",           [TRL_IOC_FMT_MISP_FEED] = "misp-feed",
    [TRL_IOC_FMT_MISP_CSV] = "misp-csv",   [TRL_IOC_FMT_FREETEXT] = "freetext",
    [TRL_IOC_FMT_FEODO] = "feodo",         [TRL_IOC_FMT_URLHAUS] = "urlhaus",
    [TRL_IOC_FMT_THREATFOX] = "threatfox", [TRL_IOC_FMT_SPAMHAUS] = "spamhaus",
    [TRL_IOC_FMT_LIST] = "list",
};

const char *trl_ioc_format_name(enum trl_ioc_format f)
{
    return (unsigned)f < TRL_IOC_FMT__COUNT ? format_names[f] : "auto";
}

int trl_ioc_format_from_name(const char *name)
{
    for (int f = 0; f < TRL_IOC_FMT__COUNT; f++) {
        if (!strcmp(format_names[f], name))
            return f;
    }
    return -1;
}

static enum trl_ioc_format detect_json(const json_t *root)
{
    if (json_is_array(root)) {
        const json_t *first = json_array_get(root, 0);
        if (json_object_get(first, "Event"))
            return TRL_IOC_FMT_MISP;
        if (json_object_get(first, "ioc_value") || json_object_get(first, "ioc"))
            return TRL_IOC_FMT_THREATFOX;
        if (json_object_get(first, "type") && json_object_get(first, "spec_version"))
            return TRL_IOC_FMT_STIX;
        return TRL_IOC_FMT_AUTO;
    }
    if (!json_is_object(root))
        return TRL_IOC_FMT_AUTO;
    if (json_is_array(json_object_get(root, "objects")))
        return TRL_IOC_FMT_STIX;
    const char *type = feed_json_str(root, "type", NULL);
    if (type && !strcmp(type, "bundle"))
        return TRL_IOC_FMT_STIX;
    if (type && !strcmp(type, "indicator"))
        return TRL_IOC_FMT_STIX;
    if (json_object_get(root, "Event") || json_is_array(json_object_get(root, "Attribute")) ||
        json_is_array(json_object_get(root, "response")))
        return TRL_IOC_FMT_MISP;
    if (json_object_get(root, "query_status") && json_is_array(json_object_get(root, "data")))
        return TRL_IOC_FMT_THREATFOX;
    if (json_object_get(root, "cidr") || json_object_get(root, "sblid"))
        return TRL_IOC_FMT_SPAMHAUS;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)root, key, v)
    {
        if (json_is_array(v)) {
            const json_t *first = json_array_get(v, 0);
            if (json_object_get(first, "ioc_value"))
                return TRL_IOC_FMT_THREATFOX;
        } else if (json_is_object(v) && json_object_get(v, "info")) {
            return TRL_IOC_FMT_MISP_FEED;
        }
        break; /* the first member decides */
    }
    return TRL_IOC_FMT_AUTO;
}

/* Counts how the data lines (not comments) of a text look in the first lines. */
static enum trl_ioc_format detect_text(const char *buf, size_t len)
{
    struct feed_lines l;
    struct trl_str line;
    size_t data = 0, single = 0, csv = 0, drop = 0;
    feed_lines_init(&l, buf, len);
    while (l.lineno < 200 && feed_lines_next(&l, &line)) {
        struct trl_str t = feed_trim(line);
        if (t.len == 0)
            continue;
        if (t.ptr[0] == '#' || t.ptr[0] == ';') {
            if (trl_memstr(t.ptr, t.len, "Feodo Tracker"))
                return TRL_IOC_FMT_FEODO;
            if (trl_memstr(t.ptr, t.len, "URLhaus") || trl_memstr(t.ptr, t.len, "id,dateadded,url"))
                return TRL_IOC_FMT_URLHAUS;
            if (trl_memstr(t.ptr, t.len, "ThreatFox") ||
                trl_memstr(t.ptr, t.len, "\"ioc_id\",\"ioc_value\""))
                return TRL_IOC_FMT_THREATFOX;
            if (trl_memstr(t.ptr, t.len, "Spamhaus"))
                return TRL_IOC_FMT_SPAMHAUS;
            continue;
        }
        if (trl_memstr(t.ptr, t.len, "dst_ip") && trl_memstr(t.ptr, t.len, "first_seen"))
            return TRL_IOC_FMT_FEODO;
        data++;
        const char *semi = memchr(t.ptr, ';', t.len);
        if (semi && trl_memstr(semi, t.len - (size_t)(semi - t.ptr), "SBL"))
            drop++;
        bool space = memchr(t.ptr, ' ', t.len) || memchr(t.ptr, '\t', t.len);
        if (!space && !memchr(t.ptr, ',', t.len))
            single++;
        else if (memchr(t.ptr, ',', t.len)) {
            const char *comma = memchr(t.ptr, ',', t.len);
            struct trl_str first = feed_trim((struct trl_str){t.ptr, (size_t)(comma - t.ptr)});
            if (first.len && first.ptr[0] == '"') {
                first.ptr++;
                first.len -= first.len >= 2 ? 2 : 1;
            }
            if (trl_ioc_detect_type(first.ptr, first.len, 0) != TRL_IOC_NONE || data == 1)
                csv++;
        }
    }
    if (data == 0)
        return TRL_IOC_FMT_LIST;
    if (drop * 2 > data)
        return TRL_IOC_FMT_SPAMHAUS;
    if (single * 2 > data)
        return TRL_IOC_FMT_LIST;
    if (csv * 2 > data)
        return TRL_IOC_FMT_MISP_CSV;
    return TRL_IOC_FMT_FREETEXT;
}

enum trl_ioc_format trl_ioc_detect_format(const char *buf, size_t len, char *why_buf,
                                          size_t why_cap)
{
    if (why_cap)
        why_buf[0] = '\0';
    size_t probe = len < 65536 ? len : 65536;
    if (len == 0) {
        snprintf(why_buf, why_cap, "empty input");
        return TRL_IOC_FMT_AUTO;
    }
    if (memchr(buf, '\0', probe)) {
        snprintf(why_buf, why_cap, "binary data, not a feed");
        return TRL_IOC_FMT_AUTO;
    }
    size_t i = 0;
    if (len >= 3 && (unsigned char)buf[0] == 0xef && (unsigned char)buf[1] == 0xbb &&
        (unsigned char)buf[2] == 0xbf)
        i = 3;
    i = feed_skip_space(buf, len, i);
    if (i == len) {
        snprintf(why_buf, why_cap, "empty input");
        return TRL_IOC_FMT_AUTO;
    }
    if (buf[i] != '{' && buf[i] != '[')
        return detect_text(buf, len);
    json_error_t err;
    json_t *root = json_loadb(buf + i, len - i, JSON_ALLOW_NUL, &err);
    if (root) {
        enum trl_ioc_format f = detect_json(root);
        json_decref(root);
        if (f == TRL_IOC_FMT_AUTO)
            snprintf(why_buf, why_cap,
                     "JSON that is no STIX bundle, MISP event, MISP manifest, "
                     "ThreatFox export or Spamhaus DROP");
        return f;
    }
    /* Not one JSON document: NDJSON (Spamhaus) has one object per line. */
    const char *nl = memchr(buf + i, '\n', len - i);
    if (nl) {
        json_error_t lerr;
        json_t *first = json_loadb(buf + i, (size_t)(nl - buf - i), JSON_ALLOW_NUL, &lerr);
        enum trl_ioc_format f = first ? detect_json(first) : TRL_IOC_FMT_AUTO;
        json_decref(first);
        if (f == TRL_IOC_FMT_SPAMHAUS)
            return f;
    }
    snprintf(why_buf, why_cap, "not valid JSON: %s (line %d, column %d)", err.text, err.line,
             err.column);
    return TRL_IOC_FMT_AUTO;
}

int trl_ioc_parse(enum trl_ioc_format fmt, const char *buf, size_t len,
                  const struct trl_ioc_parse_opts *opts, struct trl_ioc_sink *sink)
{
    if (fmt == TRL_IOC_FMT_AUTO) {
        char why[256];
        fmt = trl_ioc_detect_format(buf, len, why, sizeof(why));
        if (fmt == TRL_IOC_FMT_AUTO) {
            struct feed_ctx c;
            feed_ctx_init(&c, opts, "auto", sink);
            feed_problem(&c, 0, true, "format not recognised: %s", why);
            return TRL_EINVAL;
        }
    }
    switch (fmt) {
    case TRL_IOC_FMT_STIX:
        return trl_ioc_parse_stix(buf, len, opts, sink);
    case TRL_IOC_FMT_MISP:
        return trl_ioc_parse_misp(buf, len, opts, sink);
    case TRL_IOC_FMT_MISP_CSV:
        return trl_ioc_parse_misp_csv(buf, len, opts, sink);
    case TRL_IOC_FMT_FREETEXT:
        return trl_ioc_parse_freetext(buf, len, opts, sink);
    case TRL_IOC_FMT_FEODO:
        return trl_ioc_parse_feodo(buf, len, opts, sink);
    case TRL_IOC_FMT_URLHAUS:
        return trl_ioc_parse_urlhaus(buf, len, opts, sink);
    case TRL_IOC_FMT_THREATFOX:
        return trl_ioc_parse_threatfox(buf, len, opts, sink);
    case TRL_IOC_FMT_SPAMHAUS:
        return trl_ioc_parse_spamhaus(buf, len, opts, sink);
    case TRL_IOC_FMT_LIST:
        return trl_ioc_parse_list(buf, len, opts, sink);
    default: {
        struct feed_ctx c;
        feed_ctx_init(&c, opts, "auto", sink);
        feed_problem(&c, 0, true,
                     "a MISP feed is a directory: give the directory or its manifest.json");
        return TRL_EINVAL;
    }
    }
}

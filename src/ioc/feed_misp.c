/* MISP: events in the core JSON format, feed manifests, simple CSV and freetext feeds. */
#include "ioc/feed_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum part { P_WHOLE, P_LEFT, P_RIGHT, P_BOTH };

/* How each MISP attribute type becomes indicators. For composite types ("a|b") the part says which
 * side(s) of the '|' are used: a file name next to its hash adds nothing a match on the hash would
 * not find, so only the hash is kept. */
static const struct {
    const char *misp;
    enum trl_ioc_type left, right; /* TRL_IOC_NONE for an address: its family is detected */
    enum part part;
} type_map[] = {
    {"ip-src", TRL_IOC_NONE, TRL_IOC_NONE, P_WHOLE},
    {"ip-dst", TRL_IOC_NONE, TRL_IOC_NONE, P_WHOLE},
    {"ip-src|port", TRL_IOC_NONE, TRL_IOC_NONE, P_LEFT},
    {"ip-dst|port", TRL_IOC_NONE, TRL_IOC_NONE, P_LEFT},
    {"domain", TRL_IOC_DOMAIN, TRL_IOC_NONE, P_WHOLE},
    {"hostname", TRL_IOC_DOMAIN, TRL_IOC_NONE, P_WHOLE},
    {"hostname|port", TRL_IOC_DOMAIN, TRL_IOC_NONE, P_LEFT},
    {"domain|ip", TRL_IOC_DOMAIN, TRL_IOC_NONE, P_BOTH},
    {"url", TRL_IOC_URL, TRL_IOC_NONE, P_WHOLE},
    {"md5", TRL_IOC_MD5, TRL_IOC_NONE, P_WHOLE},
    {"sha1", TRL_IOC_SHA1, TRL_IOC_NONE, P_WHOLE},
    {"sha256", TRL_IOC_SHA256, TRL_IOC_NONE, P_WHOLE},
    {"filename", TRL_IOC_FILENAME, TRL_IOC_NONE, P_WHOLE},
    {"filename|md5", TRL_IOC_FILENAME, TRL_IOC_MD5, P_RIGHT},
    {"filename|sha1", TRL_IOC_FILENAME, TRL_IOC_SHA1, P_RIGHT},
    {"filename|sha256", TRL_IOC_FILENAME, TRL_IOC_SHA256, P_RIGHT},
    {"email", TRL_IOC_EMAIL, TRL_IOC_NONE, P_WHOLE},
    {"email-src", TRL_IOC_EMAIL, TRL_IOC_NONE, P_WHOLE},
    {"email-dst", TRL_IOC_EMAIL, TRL_IOC_NONE, P_WHOLE},
    {"email-reply-to", TRL_IOC_EMAIL, TRL_IOC_NONE, P_WHOLE},
    {"user-agent", TRL_IOC_USER_AGENT, TRL_IOC_NONE, P_WHOLE},
};

/* An address attribute: a network when it has a prefix, else IPv4 or IPv6 by its form. */
static int emit_addr(struct feed_ctx *c, const struct feed_rec *r, size_t item, const char *v,
                     size_t len)
{
    if (memchr(v, '/', len))
        return feed_emit(c, r, item, TRL_IOC_CIDR, v, len, true);
    enum trl_ioc_type t = trl_ioc_detect_type(v, len, 0);
    return feed_emit(c, r, item, t == TRL_IOC_IPV6 ? TRL_IOC_IPV6 : TRL_IOC_IPV4, v, len, true);
}

static int emit_typed(struct feed_ctx *c, const struct feed_rec *r, size_t item,
                      enum trl_ioc_type t, const char *v, size_t len)
{
    return t == TRL_IOC_NONE ? emit_addr(c, r, item, v, len)
                             : feed_emit(c, r, item, t, v, len, true);
}

static void add_tags(struct feed_rec *r, const json_t *tags)
{
    size_t i;
    const json_t *t;
    json_array_foreach(tags, i, t)
    {
        size_t n;
        const char *name = feed_json_str(t, "name", &n);
        if (name)
            feed_rec_tag(r, name, n);
    }
}

struct misp_event {
    const json_t *tags;
    const char *info;
    size_t info_len;
};

static int parse_attribute(struct feed_ctx *c, const struct misp_event *ev, const json_t *a,
                           size_t item, struct trl_arena *scratch)
{
    size_t tlen, vlen;
    const char *type = feed_json_str(a, "type", &tlen);
    const char *value = feed_json_str(a, "value", &vlen);
    if (!type || !value) {
        feed_problem(c, item, true, "attribute without a type and a string value");
        return 0;
    }
    if (feed_json_truthy(json_object_get(a, "deleted"))) {
        feed_problem(c, item, true, "%.40s attribute deleted in MISP", type);
        return 0;
    }
    if (!feed_json_truthy(json_object_get(a, "to_ids"))) {
        c->sink->context++;
        return 0;
    }
    size_t k = 0;
    while (k < TRL_ARRAY_LEN(type_map) && strcmp(type_map[k].misp, type))
        k++;
    if (k == TRL_ARRAY_LEN(type_map)) {
        feed_problem(c, item, true, "MISP type '%.40s' is not matched by Trapline", type);
        return 0;
    }
    struct feed_rec r;
    feed_rec_reset(&r, scratch);
    size_t n;
    const char *s = feed_json_str(a, "uuid", &n);
    if (s && n && !memchr(s, '\0', n))
        r.id = feed_rec_strdup(&r, s, n);
    s = feed_json_str(a, "comment", &n);
    if (s && n)
        r.description = feed_rec_strdup(&r, s, n);
    else if (ev->info)
        r.description = feed_rec_strdup(&r, ev->info, ev->info_len);
    if ((s = feed_json_str(a, "category", &n)))
        feed_rec_label(&r, s, n);
    add_tags(&r, ev->tags);
    add_tags(&r, json_object_get(a, "Tag"));

    const char *bar = memchr(value, '|', vlen);
    if (type_map[k].part == P_WHOLE)
        return emit_typed(c, &r, item, type_map[k].left, value, vlen);
    if (!bar) {
        feed_problem(c, item, true, "%s value without '|': '%.80s'", type, value);
        return 0;
    }
    size_t llen = (size_t)(bar - value), rlen = vlen - llen - 1;
    int rc = 0;
    if (type_map[k].part == P_LEFT || type_map[k].part == P_BOTH)
        rc = emit_typed(c, &r, item, type_map[k].left, value, llen);
    if (rc >= 0 && (type_map[k].part == P_RIGHT || type_map[k].part == P_BOTH))
        rc = emit_typed(c, &r, item, type_map[k].right, bar + 1, rlen);
    return rc < 0 ? rc : 0;
}

static int parse_event(struct feed_ctx *c, const json_t *e, size_t *item, struct trl_arena *scratch)
{
    struct misp_event ev = {.tags = json_object_get(e, "Tag")};
    ev.info = feed_json_str(e, "info", &ev.info_len);
    size_t i;
    const json_t *a;
    int rc = 0;
    json_array_foreach(json_object_get(e, "Attribute"), i, a)
    {
        if ((rc = parse_attribute(c, &ev, a, ++*item, scratch)) < 0)
            return rc;
    }
    const json_t *o;
    json_array_foreach(json_object_get(e, "Object"), i, o)
    {
        size_t j;
        json_array_foreach(json_object_get(o, "Attribute"), j, a)
        {
            if ((rc = parse_attribute(c, &ev, a, ++*item, scratch)) < 0)
                return rc;
        }
    }
    return 0;
}

int trl_ioc_parse_misp(const char *buf, size_t len, const struct trl_ioc_parse_opts *opts,
                       struct trl_ioc_sink *sink)
{
    struct feed_ctx c;
    feed_ctx_init(&c, opts, "misp", sink);
    json_t *root = feed_json_load(&c, buf, len);
    if (!root)
        return TRL_EINVAL;
    const json_t *events = NULL;
    json_t *wrap = NULL;
    if (json_is_array(root))
        events = root;
    else if (json_is_array(json_object_get(root, "response")))
        events = json_object_get(root, "response");
    else if (json_is_object(root)) {
        wrap = json_array();
        json_array_append(wrap, root);
        events = wrap;
    }
    struct trl_arena *scratch = trl_arena_create(16384);
    size_t i, item = 0, found = 0;
    const json_t *e;
    int rc = 0;
    json_array_foreach(events, i, e)
    {
        const json_t *ev = json_object_get(e, "Event");
        if (!json_is_object(ev))
            ev = e;
        if (!json_is_array(json_object_get(ev, "Attribute")) &&
            !json_is_array(json_object_get(ev, "Object")))
            continue;
        found++;
        if ((rc = parse_event(&c, ev, &item, scratch)) < 0)
            break;
    }
    if (!found && rc == 0) {
        feed_problem(&c, 0, true, "no MISP event (want {\"Event\":{\"Attribute\":[...]}})");
        rc = TRL_EINVAL;
    }
    trl_arena_destroy(scratch);
    json_decref(wrap);
    json_decref(root);
    return rc;
}

static bool is_uuid(const char *s)
{
    size_t n = strlen(s);
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? ch != '-'
                 : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                     (ch >= 'A' && ch <= 'F')))
            return false;
    }
    return true;
}

int trl_ioc_parse_misp_manifest(const char *buf, size_t len,
                                int (*each)(void *ud, const char *uuid), void *ud,
                                struct trl_ioc_sink *sink)
{
    struct feed_ctx c;
    feed_ctx_init(&c, NULL, "misp", sink);
    json_t *root = feed_json_load(&c, buf, len);
    if (!root)
        return TRL_EINVAL;
    if (!json_is_object(root)) {
        feed_problem(&c, 0, true, "a MISP manifest is an object of event uuids");
        json_decref(root);
        return TRL_EINVAL;
    }
    const char *key;
    json_t *v;
    size_t item = 0;
    int rc = 0;
    json_object_foreach(root, key, v)
    {
        item++;
        /* The uuid becomes a file name: anything else (a path) is refused. */
        if (!is_uuid(key)) {
            feed_problem(&c, item, true, "manifest key '%.60s' is not an event uuid", key);
            continue;
        }
        if ((rc = each(ud, key)) < 0)
            break;
    }
    json_decref(root);
    return rc;
}

/* MISP "simple CSV": one value per line in a given column; the type is detected per value. */
int trl_ioc_parse_misp_csv(const char *buf, size_t len, const struct trl_ioc_parse_opts *opts,
                           struct trl_ioc_sink *sink)
{
    struct feed_ctx c;
    feed_ctx_init(&c, opts, "misp-csv", sink);
    unsigned col = opts && opts->value_column ? opts->value_column : 1;
    struct trl_arena *scratch = trl_arena_create(16384);
    struct feed_lines l;
    struct trl_str line;
    bool first = true;
    int rc = 0;
    feed_lines_init(&l, buf, len);
    while (rc >= 0 && feed_lines_next(&l, &line)) {
        struct trl_str t = feed_trim(line);
        if (t.len == 0 || t.ptr[0] == '#')
            continue;
        struct feed_rec r;
        feed_rec_reset(&r, scratch);
        struct trl_str f[64];
        int nf = feed_csv_split(t, f, 64, scratch);
        if (nf < 0) {
            feed_problem(&c, l.lineno, true, "bad CSV quoting");
            first = false;
            continue;
        }
        if ((unsigned)nf < col || col > 64) {
            feed_problem(&c, l.lineno, true, "no column %u", col);
            first = false;
            continue;
        }
        char v[TRL_IOC_VALUE_MAX + 2];
        size_t vlen = trl_ioc_refang(f[col - 1].ptr, f[col - 1].len, v, sizeof(v));
        enum trl_ioc_type type = trl_ioc_detect_type(v, vlen, 0);
        if (type == TRL_IOC_NONE) {
            if (first) {
                sink->context++; /* a header line */
            } else {
                feed_problem(&c, l.lineno, true,
                             "'%.80s' is no IP, network, hash, URL, e-mail "
                             "address or domain",
                             v);
            }
            first = false;
            continue;
        }
        first = false;
        rc = feed_emit(&c, &r, l.lineno, type, v, vlen, true);
    }
    trl_arena_destroy(scratch);
    return rc < 0 ? rc : 0;
}

static bool is_sep(char ch)
{
    return ch == ' ' || ch == '\t' || ch == ',' || ch == ';' || ch == '"' || ch == '\'' ||
           ch == '(' || ch == ')' || ch == '<' || ch == '>' || ch == '|' || ch == '{' ||
           ch == '}' || ch == '`';
}

/* MISP "freetext": indicators found anywhere in prose; words that are none are prose. */
int trl_ioc_parse_freetext(const char *buf, size_t len, const struct trl_ioc_parse_opts *opts,
                           struct trl_ioc_sink *sink)
{
    struct feed_ctx c;
    feed_ctx_init(&c, opts, "freetext", sink);
    struct trl_arena *scratch = trl_arena_create(16384);
    struct feed_lines l;
    struct trl_str line;
    int rc = 0;
    feed_lines_init(&l, buf, len);
    char *text = trl_xmalloc(len + 1);
    while (rc >= 0 && feed_lines_next(&l, &line)) {
        size_t n = trl_ioc_refang(line.ptr, line.len, text, len + 1);
        size_t i = 0;
        while (i < n && rc >= 0) {
            while (i < n && is_sep(text[i]))
                i++;
            size_t s = i;
            while (i < n && !is_sep(text[i]))
                i++;
            size_t e = i;
            /* Sentence punctuation after a word is not part of it. */
            while (e > s && (text[e - 1] == '.' || text[e - 1] == ':' || text[e - 1] == '!' ||
                             text[e - 1] == '?' || text[e - 1] == ']' || text[e - 1] == '['))
                e--;
            while (s < e && text[s] == '[')
                s++;
            if (e == s)
                continue;
            enum trl_ioc_type type = trl_ioc_detect_type(text + s, e - s, TRL_IOC_DETECT_FREETEXT);
            if (type == TRL_IOC_NONE)
                continue;
            struct feed_rec r;
            feed_rec_reset(&r, scratch);
            rc = feed_emit(&c, &r, l.lineno, type, text + s, e - s, true);
        }
    }
    free(text);
    trl_arena_destroy(scratch);
    return rc < 0 ? rc : 0;
}

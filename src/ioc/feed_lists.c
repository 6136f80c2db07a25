/* Line-oriented feeds: Spamhaus DROP (text and NDJSON) and plain one-value-per-line lists. */
#include "ioc/feed_internal.h"

#include <stdio.h>
#include <string.h>

static int spamhaus_ndjson(struct feed_ctx *c, const char *buf, size_t len,
                           struct trl_arena *scratch)
{
    struct feed_lines l;
    struct trl_str line;
    int rc = 0;
    feed_lines_init(&l, buf, len);
    while (rc >= 0 && feed_lines_next(&l, &line)) {
        struct trl_str t = feed_trim(line);
        if (t.len == 0)
            continue;
        json_error_t err;
        json_t *o = json_loadb(t.ptr, t.len, 0, &err);
        if (!json_is_object(o)) {
            feed_problem(c, l.lineno, true, "not a JSON object: %s",
                         o ? "another JSON value" : err.text);
            json_decref(o);
            continue;
        }
        size_t n;
        const char *cidr = feed_json_str(o, "cidr", &n);
        const char *type = feed_json_str(o, "type", NULL);
        if (!cidr) {
            if (type && !strcmp(type, "metadata"))
                c->sink->context++;
            else
                feed_problem(c, l.lineno, true, "DROP record without \"cidr\"");
            json_decref(o);
            continue;
        }
        struct feed_rec r;
        feed_rec_reset(&r, scratch);
        size_t sl;
        const char *s = feed_json_str(o, "sblid", &sl);
        if (s && sl && !memchr(s, '\0', sl))
            r.id = feed_rec_strdup(&r, s, sl);
        if ((s = feed_json_str(o, "rir", &sl)))
            feed_rec_label(&r, s, sl);
        feed_rec_label(&r, "drop", 4);
        rc = feed_emit(c, &r, l.lineno, TRL_IOC_CIDR, cidr, n, true);
        json_decref(o);
    }
    return rc < 0 ? rc : 0;
}

/* DROP text: "203.0.113.0/24 ; SBL100001", comments start with ';'. */
static int spamhaus_text(struct feed_ctx *c, const char *buf, size_t len, struct trl_arena *scratch)
{
    struct feed_lines l;
    struct trl_str line;
    int rc = 0;
    feed_lines_init(&l, buf, len);
    while (rc >= 0 && feed_lines_next(&l, &line)) {
        struct trl_str t = feed_trim(line);
        if (t.len == 0 || t.ptr[0] == ';' || t.ptr[0] == '#')
            continue;
        struct feed_rec r;
        feed_rec_reset(&r, scratch);
        const char *semi = memchr(t.ptr, ';', t.len);
        struct trl_str net =
            feed_trim((struct trl_str){t.ptr, semi ? (size_t)(semi - t.ptr) : t.len});
        if (semi) {
            struct trl_str id =
                feed_trim((struct trl_str){semi + 1, t.len - (size_t)(semi - t.ptr) - 1});
            if (id.len)
                r.id = feed_rec_strdup(&r, id.ptr, TRL_MIN(id.len, 64));
        }
        feed_rec_label(&r, "drop", 4);
        rc = feed_emit(c, &r, l.lineno,
                       memchr(net.ptr, '/', net.len)                              ? TRL_IOC_CIDR
                       : trl_ioc_detect_type(net.ptr, net.len, 0) == TRL_IOC_IPV6 ? TRL_IOC_IPV6
                                                                                  : TRL_IOC_IPV4,
                       net.ptr, net.len, true);
    }
    return rc < 0 ? rc : 0;
}

int trl_ioc_parse_spamhaus(const char *buf, size_t len, const struct trl_ioc_parse_opts *opts,
                           struct trl_ioc_sink *sink)
{
    struct feed_ctx c;
    feed_ctx_init(&c, opts, "spamhaus", sink);
    struct trl_arena *scratch = trl_arena_create(4096);
    size_t i = feed_skip_space(buf, len, 0);
    int rc = i < len && buf[i] == '{' ? spamhaus_ndjson(&c, buf, len, scratch)
                                      : spamhaus_text(&c, buf, len, scratch);
    trl_arena_destroy(scratch);
    return rc;
}

int trl_ioc_parse_list(const char *buf, size_t len, const struct trl_ioc_parse_opts *opts,
                       struct trl_ioc_sink *sink)
{
    struct feed_ctx c;
    feed_ctx_init(&c, opts, "list", sink);
    struct trl_arena *scratch = trl_arena_create(4096);
    struct feed_lines l;
    struct trl_str line;
    int rc = 0;
    feed_lines_init(&l, buf, len);
    while (rc >= 0 && feed_lines_next(&l, &line)) {
        struct trl_str t = feed_trim(line);
        if (t.len == 0 || t.ptr[0] == '#' || t.ptr[0] == ';' || trl_starts_with(t.ptr, t.len, "//"))
            continue;
        /* The value is the first word; what follows (a comment, a reference) is not. */
        size_t w = 0;
        while (w < t.len && t.ptr[w] != ' ' && t.ptr[w] != '\t')
            w++;
        char v[TRL_IOC_VALUE_MAX + 2];
        size_t vlen = trl_ioc_refang(t.ptr, w, v, sizeof(v));
        enum trl_ioc_type type = trl_ioc_detect_type(v, vlen, 0);
        if (type == TRL_IOC_NONE) {
            int q = (int)TRL_MIN(vlen, 80);
            feed_problem(&c, l.lineno, true,
                         "'%.*s' is no IP, network, hash, URL, e-mail address or domain", q, v);
            continue;
        }
        struct feed_rec r;
        feed_rec_reset(&r, scratch);
        rc = feed_emit(&c, &r, l.lineno, type, v, vlen, true);
    }
    trl_arena_destroy(scratch);
    return rc < 0 ? rc : 0;
}

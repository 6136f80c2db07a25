#include "ioc/hunt.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/event.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "detect/alerts.h"
#include "formats/parse.h"
#include "ioc/ioc_stage.h"
#include "ioc/iocdb.h"
#include "ioc/matcher.h"
#include "store/query.h"
#include "store/store_read.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Sightings of one indicator beyond this are left out (and reported) unless asked otherwise. */
#define DEFAULT_MAX_EVENTS 10000

struct target {
    enum trl_ioc_type type;
    char *value;
    char *source;
};

struct hunt {
    const struct trl_ioc_hunt_opts *o;
    struct trl_ioc_hunt_result *res;
    int64_t now;
    struct target *targets;
    size_t ntargets, cap;
    /* Values given by the analyst, normalised; found[i] once ioc.db has it. */
    struct target *wanted;
    bool *found;
    size_t nwanted;
    struct trl_ioc_builder *builder;
    int error;
    /* While one indicator is searched. */
    const struct trl_ioc_matcher *m;
    const struct target *cur;
    struct trl_alert_store *alerts;
    struct trl_arena *arena;
    uint64_t cur_events;
    int64_t first_ns, last_ns;
};

static void add_target(struct hunt *h, enum trl_ioc_type type, const char *value,
                       const char *source)
{
    if (h->ntargets == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->targets = trl_xrealloc(h->targets, h->cap * sizeof(*h->targets));
    }
    h->targets[h->ntargets++] = (struct target){
        .type = type,
        .value = trl_xstrdup(value),
        .source = trl_xstrdup(source ? source : ""),
    };
}

static int cmp_target(const void *a, const void *b)
{
    const struct target *x = a, *y = b;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    return strcmp(x->value, y->value);
}

/* One search per (type, value), however many sources carry it: the matcher reports them all. */
static void unique_targets(struct hunt *h)
{
    if (h->ntargets == 0)
        return;
    qsort(h->targets, h->ntargets, sizeof(*h->targets), cmp_target);
    size_t k = 1;
    for (size_t i = 1; i < h->ntargets; i++) {
        if (cmp_target(&h->targets[i], &h->targets[k - 1]) == 0) {
            free(h->targets[i].value);
            free(h->targets[i].source);
            continue;
        }
        h->targets[k++] = h->targets[i];
    }
    h->ntargets = k;
}

static int normalise_value(const char *raw, struct target *t)
{
    char refanged[TRL_IOC_VALUE_MAX + 1], norm[TRL_IOC_VALUE_MAX + 1];
    size_t len = trl_ioc_refang(raw, strlen(raw), refanged, sizeof(refanged));
    enum trl_ioc_type type = trl_ioc_detect_type(refanged, len, 0);
    const char *why = NULL;
    size_t nlen;
    if (type == TRL_IOC_NONE ||
        trl_ioc_normalize(type, refanged, len, norm, sizeof(norm), &nlen, &why) != 0)
        return TRL_EINVAL;
    t->type = type;
    t->value = trl_xstrdup(norm);
    t->source = NULL;
    return 0;
}

static int take_row(void *ud, const struct trl_iocdb_row *row)
{
    struct hunt *h = ud;
    const struct trl_ioc *ioc = &row->ioc;
    if (h->nwanted) {
        bool want = false;
        for (size_t i = 0; i < h->nwanted; i++) {
            if (h->wanted[i].type == ioc->type && !strcmp(h->wanted[i].value, ioc->value)) {
                h->found[i] = true;
                want = true;
            }
        }
        if (!want)
            return 0;
    } else if (h->o->imported_since_ns && row->last_imported_ns < h->o->imported_since_ns) {
        return 0;
    }
    if (!trl_ioc_valid_at(ioc->valid_from_ns, ioc->valid_until_ns, h->now))
        return 0;
    int rc = trl_ioc_builder_add(h->builder, ioc, row->tags_json);
    if (rc != 0) {
        h->error = rc;
        return 1;
    }
    add_target(h, ioc->type, ioc->value, ioc->source);
    return 0;
}

/* ---- Queries ---- */

static void put_quoted(struct trl_buf *q, const char *field, const char *v)
{
    if (q->len)
        trl_buf_puts(q, " OR ");
    trl_buf_puts(q, field);
    trl_buf_puts(q, ":\"");
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            trl_buf_putc(q, '\\');
        trl_buf_putc(q, *p);
    }
    trl_buf_putc(q, '"');
}

/* A wildcard term: prefix, the value with its query specials escaped, suffix. */
static void put_glob(struct trl_buf *q, const char *field, const char *prefix, const char *v,
                     const char *suffix)
{
    if (q->len)
        trl_buf_puts(q, " OR ");
    trl_buf_printf(q, "%s:%s", field, prefix);
    for (const char *p = v; *p; p++) {
        if (strchr("\\*:\"()[]| \t", *p))
            trl_buf_putc(q, '\\');
        trl_buf_putc(q, *p);
    }
    trl_buf_puts(q, suffix);
}

static void put_each(struct trl_buf *q, const char *const *fields, size_t n, const char *v)
{
    for (size_t i = 0; i < n; i++)
        put_quoted(q, fields[i], v);
}

static const char *const ip_fields[] = {"source.ip", "destination.ip", "related.ip",
                                        "client.ip", "server.ip",      "host.ip"};
static const char *const domain_fields[] = {"url.domain",    "destination.domain",
                                            "source.domain", "client.domain",
                                            "server.domain", "dns.question.name"};
static const char *const email_fields[] = {"email.from.address", "email.to.address",
                                           "email.sender.address", "email.reply_to.address"};

/* An IPv4 network as the address text it starts with: 198.51.100.0/22 -> "198.51.", every
 * address of the network begins so (the matcher then keeps the ones inside). Prefixes shorter
 * than 8 bits have no such text. */
static bool ipv4_net_prefix(const char *cidr, char *out, size_t cap)
{
    unsigned a, b, c, d, len;
    if (sscanf(cidr, "%u.%u.%u.%u/%u", &a, &b, &c, &d, &len) != 5 || len < 8 || len > 32)
        return false;
    if (len >= 24)
        snprintf(out, cap, "%u.%u.%u.", a, b, c);
    else if (len >= 16)
        snprintf(out, cap, "%u.%u.", a, b);
    else
        snprintf(out, cap, "%u.", a);
    return true;
}

/* The query that finds every stored event that may hold the indicator; false when none can. */
static bool build_query(const struct target *t, struct trl_buf *q)
{
    trl_buf_reset(q);
    const char *v = t->value;
    char prefix[32];
    switch (t->type) {
    case TRL_IOC_IPV4:
    case TRL_IOC_IPV6:
        put_each(q, ip_fields, TRL_ARRAY_LEN(ip_fields), v);
        break;
    case TRL_IOC_CIDR:
        if (strchr(v, ':')) {
            /* IPv6 networks have no text prefix: the query's address-block test does it. */
            for (size_t i = 0; i < TRL_ARRAY_LEN(ip_fields); i++)
                trl_buf_printf(q, "%s%s:%s", q->len ? " OR " : "", ip_fields[i], v);
            break;
        }
        if (!ipv4_net_prefix(v, prefix, sizeof(prefix)))
            return false;
        for (size_t i = 0; i < TRL_ARRAY_LEN(ip_fields); i++)
            put_glob(q, ip_fields[i], "", prefix, "*");
        break;
    case TRL_IOC_DOMAIN:
        for (size_t i = 0; i < TRL_ARRAY_LEN(domain_fields); i++) {
            put_quoted(q, domain_fields[i], v);
            put_glob(q, domain_fields[i], "*.", v, "");
        }
        break;
    case TRL_IOC_URL:
        put_quoted(q, "url.full", v);
        put_quoted(q, "url.original", v);
        break;
    case TRL_IOC_MD5:
    case TRL_IOC_SHA1:
    case TRL_IOC_SHA256: {
        const char *alg = t->type == TRL_IOC_MD5    ? "md5"
                          : t->type == TRL_IOC_SHA1 ? "sha1"
                                                    : "sha256";
        char f[32];
        snprintf(f, sizeof(f), "file.hash.%s", alg);
        put_quoted(q, f, v);
        snprintf(f, sizeof(f), "process.hash.%s", alg);
        put_quoted(q, f, v);
        put_quoted(q, "related.hash", v);
        break;
    }
    case TRL_IOC_EMAIL:
        put_each(q, email_fields, TRL_ARRAY_LEN(email_fields), v);
        break;
    case TRL_IOC_FILENAME:
        if (strchr(v, '/') || strchr(v, '\\')) {
            put_quoted(q, "file.path", v);
        } else {
            put_quoted(q, "file.name", v);
            put_glob(q, "file.path", "*/", v, "");
            put_glob(q, "file.path", "*\\\\", v, "");
        }
        break;
    case TRL_IOC_USER_AGENT:
        put_quoted(q, "user_agent.original", v);
        break;
    default:
        return false;
    }
    return q->len > 0;
}

/* ---- Confirming and recording sightings ---- */

struct sighting {
    struct hunt *h;
    const struct trl_event *ev;
    int64_t ts;
    bool seen;
};

static void copy_field(const struct trl_event *ev, enum trl_field f, char *buf, size_t cap,
                       const char **out)
{
    size_t len;
    const char *v = trl_event_get(ev, f, &len);
    *out = NULL;
    if (v) {
        snprintf(buf, cap, "%.*s", (int)TRL_MIN(len, cap - 1), v);
        *out = buf;
    }
}

/* The matcher names the first field that holds the value, and an event read back from the store
 * lists related.* before source.*: name the specific field when one holds the same value, as the
 * alerts raised at ingest do. */
static const char *specific_field(const struct trl_event *ev, const struct trl_ioc_hit *hit)
{
    static const char *const ips[] = {"source.ip", "destination.ip", "client.ip",
                                      "server.ip", "host.ip",        NULL};
    static const char *const hashes[] = {"file.hash.sha256",
                                         "file.hash.sha1",
                                         "file.hash.md5",
                                         "process.hash.sha256",
                                         "process.hash.sha1",
                                         "process.hash.md5",
                                         NULL};
    const char *const *names = !strcmp(hit->field, "related.ip")     ? ips
                               : !strcmp(hit->field, "related.hash") ? hashes
                                                                     : NULL;
    for (size_t i = 0; names && names[i]; i++) {
        size_t len = 0;
        const char *v = trl_event_get_named(ev, names[i], strlen(names[i]), &len);
        if (v && len == hit->matched_len && !strncasecmp(v, hit->matched, len))
            return names[i];
    }
    return hit->field;
}

static int on_sighting(void *ud, const struct trl_ioc_hit *hit)
{
    struct sighting *s = ud;
    struct hunt *h = s->h;
    if (hit->type != h->cur->type || strcmp(hit->value, h->cur->value) != 0)
        return 0;
    s->seen = true;
    h->res->sightings++;
    char host[256], id[64];
    struct trl_ioc_alert_info info = {
        .type = hit->type,
        .confidence = hit->confidence,
        .value = hit->value,
        .id = hit->id,
        .tags_json = hit->tags_json,
        .field = specific_field(s->ev, hit),
        .timestamp_ns = s->ts,
        .retro = true,
    };
    copy_field(s->ev, TRL_F_HOST_NAME, host, sizeof(host), &info.host);
    copy_field(s->ev, TRL_F_EVENT_ID, id, sizeof(id), &info.event_id);
    if (trl_ioc_alert_add(h->alerts, &info) == 0)
        h->res->alerts++;
    else
        h->res->alert_errors++;
    return 0;
}

static int on_event(void *ud, int64_t ts_ns, const char *json, size_t len)
{
    struct hunt *h = ud;
    h->res->events++;
    trl_arena_reset(h->arena);
    struct trl_event *ev = trl_event_create(h->arena, json, len, ts_ns);
    trl_parse_event(ev, TRL_FORMAT_JSON);
    struct sighting s = {.h = h, .ev = ev, .ts = ev->timestamp_ns ? ev->timestamp_ns : ts_ns};
    trl_ioc_match_event(h->m, ev, on_sighting, &s);
    if (s.seen) {
        if (!h->cur_events || s.ts < h->first_ns)
            h->first_ns = s.ts;
        if (!h->cur_events || s.ts > h->last_ns)
            h->last_ns = s.ts;
        h->cur_events++;
    }
    return 0;
}

static int hunt_one(struct hunt *h, struct trl_store_reader *r, const struct target *t,
                    struct trl_buf *q)
{
    h->res->indicators++;
    if (!build_query(t, q)) {
        h->res->unsearchable++;
        if (h->o->out)
            fprintf(h->o->out, "%s %s: cannot be searched in stored events\n",
                    trl_ioc_type_name(t->type), t->value);
        return 0;
    }
    struct trl_query *query = NULL;
    struct trl_query_error qe;
    if (trl_query_parse(q->data, q->len, &query, &qe) != 0) {
        trl_warn("ioc", "hunt query refused value=\"%s\" error=\"%s\"", t->value, qe.message);
        h->res->unsearchable++;
        return 0;
    }
    h->cur = t;
    h->cur_events = 0;
    struct trl_store_search_opts so = {
        .from_ns = h->o->from_ns,
        .to_ns = h->o->to_ns,
        .limit = h->o->max_events ? h->o->max_events : DEFAULT_MAX_EVENTS,
    };
    struct trl_store_search_stats st;
    int rc = trl_store_search(r, query, &so, on_event, h, &st);
    trl_query_free(query);
    if (rc < 0) {
        trl_error("ioc", "hunt search failed value=\"%s\" error=\"%s\"", t->value,
                  trl_strerror(rc));
        return rc;
    }
    h->res->unreadable_blocks += st.blocks_unreadable;
    if (st.more)
        h->res->truncated = true;
    if (h->cur_events) {
        h->res->sighted++;
        if (h->o->out) {
            char first[TRL_RFC3339_MAX], last[TRL_RFC3339_MAX];
            trl_format_rfc3339(h->first_ns, first);
            trl_format_rfc3339(h->last_ns, last);
            fprintf(h->o->out, "%s %s (%s): %llu events%s, first %s, last %s\n",
                    trl_ioc_type_name(t->type), t->value, t->source,
                    (unsigned long long)h->cur_events, st.more ? " or more" : "", first, last);
        }
    }
    return 0;
}

static int load_targets(struct hunt *h)
{
    const struct trl_ioc_hunt_opts *o = h->o;
    for (size_t i = 0; i < o->nvalues; i++) {
        if (normalise_value(o->values[i], &h->wanted[h->nwanted]) != 0) {
            if (o->out)
                fprintf(o->out, "%s: not an indicator value, skipped\n", o->values[i]);
            continue;
        }
        h->nwanted++;
    }
    if (o->nvalues && !h->nwanted)
        return 0;
    char path[4096];
    snprintf(path, sizeof(path), "%s/ioc.db", o->data_dir);
    if (access(path, F_OK) != 0) {
        if (!h->nwanted)
            return -ENOENT;
    } else {
        struct trl_iocdb *db = trl_iocdb_open_path(path, true);
        if (!db)
            return -EIO;
        struct trl_iocdb_filter f = {.any_order = true};
        long n = trl_iocdb_list(db, &f, take_row, h);
        trl_iocdb_close(db);
        if (n < 0)
            return (int)n;
        if (h->error)
            return h->error;
    }
    /* Values the database does not know are hunted all the same. */
    for (size_t i = 0; i < h->nwanted; i++) {
        if (h->found[i])
            continue;
        struct trl_ioc ioc = {
            .type = h->wanted[i].type,
            .value = h->wanted[i].value,
            .source = "hunt",
            .confidence = TRL_IOC_DEFAULT_CONFIDENCE,
        };
        int rc = trl_ioc_builder_add(h->builder, &ioc, NULL);
        if (rc != 0)
            return rc;
        add_target(h, ioc.type, ioc.value, ioc.source);
    }
    return 0;
}

int trl_ioc_hunt(const struct trl_ioc_hunt_opts *o, struct trl_ioc_hunt_result *res)
{
    memset(res, 0, sizeof(*res));
    struct hunt h = {.o = o, .res = res, .now = trl_now_ns()};
    struct trl_ioc_matcher *m = NULL;
    struct trl_store_reader *r = NULL;
    struct trl_buf q = {0};
    int rc;
    h.wanted = trl_xcalloc(o->nvalues + 1, sizeof(*h.wanted));
    h.found = trl_xcalloc(o->nvalues + 1, sizeof(*h.found));
    struct trl_ioc_build_opts bo = {.now_ns = h.now, .at_ns = h.now};
    h.builder = trl_ioc_builder_create(&bo);
    rc = load_targets(&h);
    m = trl_ioc_builder_finish(h.builder);
    h.builder = NULL;
    if (rc != 0)
        goto out;
    unique_targets(&h);
    if (h.ntargets == 0)
        goto out;
    rc = trl_store_reader_open(o->data_dir, &r);
    if (rc == -ENOENT) {
        /* No stored events: nothing to find. */
        res->indicators = h.ntargets;
        rc = 0;
        goto out;
    }
    if (rc != 0) {
        trl_error("ioc", "cannot open the event store data=%s error=\"%s\"", o->data_dir,
                  trl_strerror(rc));
        goto out;
    }
    /* A second hunt over the same events folds into the alerts of the first. */
    h.alerts = trl_alert_store_open(o->data_dir, 3600 * TRL_NS_PER_SEC, false);
    if (!h.alerts) {
        rc = -EIO;
        goto out;
    }
    h.arena = trl_arena_create(64 * 1024);
    h.m = m;
    for (size_t i = 0; i < h.ntargets && rc == 0; i++) {
        rc = hunt_one(&h, r, &h.targets[i], &q);
        if (trl_alert_store_commit(h.alerts) != 0)
            res->alert_errors++;
    }
out:
    trl_alert_store_close(h.alerts);
    trl_arena_destroy(h.arena);
    trl_store_reader_close(r);
    trl_ioc_builder_destroy(h.builder);
    trl_ioc_matcher_unref(m);
    trl_buf_free(&q);
    for (size_t i = 0; i < h.ntargets; i++) {
        free(h.targets[i].value);
        free(h.targets[i].source);
    }
    for (size_t i = 0; i < h.nwanted; i++)
        free(h.wanted[i].value);
    free(h.targets);
    free(h.wanted);
    free(h.found);
    return rc;
}

/* STIX 2.1 export: the identity of this instance, its indicators and its sightings. */
#include "ioc/stix_export.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/strmap.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "detect/alerts.h"
#include "ioc/iocdb.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The namespace STIX 2.1 gives for deterministic identifiers (section 2.9). */
static const unsigned char stix_ns[16] = {0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c,
                                          0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7};

/* The identity has no history of its own: a fixed time keeps it byte-identical in every export. */
#define IDENTITY_TIME "2020-01-01T00:00:00.000Z"
#define MAX_COUNT     999999999

/* The TLP 1.0 marking definitions of the STIX 2.1 specification. */
static const struct {
    const char *tag, *id;
} tlp_markings[] = {
    {"tlp:white", "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"},
    {"tlp:green", "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"},
    {"tlp:amber", "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"},
    {"tlp:red", "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"},
};

void trl_stix_uuid5(const char *name, char out[37])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha1(), NULL);
    EVP_DigestUpdate(ctx, stix_ns, sizeof(stix_ns));
    EVP_DigestUpdate(ctx, name, strlen(name));
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);
    md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[md[i] >> 4];
        out[o++] = hex[md[i] & 15];
    }
    out[o] = '\0';
}

void trl_stix_timestamp(int64_t ns, char out[25])
{
    char full[TRL_RFC3339_MAX];
    size_t n = trl_format_rfc3339(ns > 0 ? ns : 0, full);
    /* "YYYY-MM-DDTHH:MM:SS.mmm" then Z: nanoseconds cut to milliseconds. */
    if (n < 23) {
        snprintf(out, 25, "1970-01-01T00:00:00.000Z");
        return;
    }
    memcpy(out, full, 23);
    out[23] = 'Z';
    out[24] = '\0';
}

static json_t *stamped(const char *type, const char *uuid, const char *created,
                       const char *modified)
{
    char id[128];
    snprintf(id, sizeof(id), "%s--%s", type, uuid);
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type, "spec_version", "2.1", "id", id,
                     "created", created, "modified", modified);
}

json_t *trl_stix_identity(const char *name)
{
    struct trl_buf key = {0};
    trl_buf_printf(&key, "identity|%s", name);
    char uuid[37];
    trl_stix_uuid5(key.data, uuid);
    trl_buf_free(&key);
    json_t *o = stamped("identity", uuid, IDENTITY_TIME, IDENTITY_TIME);
    json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "identity_class", json_string("system"));
    return o;
}

/* Writes value as the inside of a STIX string literal ('\' and '\'' escaped). */
static bool put_literal(char *out, size_t cap, size_t *used, const char *v)
{
    for (const char *p = v; *p; p++) {
        bool esc = *p == '\'' || *p == '\\';
        if (*used + (esc ? 2 : 1) >= cap)
            return false;
        if (esc)
            out[(*used)++] = '\\';
        out[(*used)++] = *p;
    }
    out[*used] = '\0';
    return true;
}

bool trl_stix_pattern_of(enum trl_ioc_type type, const char *value, char *out, size_t cap)
{
    const char *path = NULL, *op = "=";
    switch (type) {
    case TRL_IOC_IPV4:
        path = "ipv4-addr:value";
        break;
    case TRL_IOC_IPV6:
        path = "ipv6-addr:value";
        break;
    case TRL_IOC_CIDR:
        path = strchr(value, ':') ? "ipv6-addr:value" : "ipv4-addr:value";
        op = "ISSUBSET";
        break;
    case TRL_IOC_DOMAIN:
        path = "domain-name:value";
        break;
    case TRL_IOC_URL:
        path = "url:value";
        break;
    case TRL_IOC_MD5:
        path = "file:hashes.MD5";
        break;
    case TRL_IOC_SHA1:
        path = "file:hashes.'SHA-1'";
        break;
    case TRL_IOC_SHA256:
        path = "file:hashes.'SHA-256'";
        break;
    case TRL_IOC_EMAIL:
        path = "email-addr:value";
        break;
    case TRL_IOC_FILENAME:
        path = "file:name";
        break;
    case TRL_IOC_USER_AGENT:
        path = "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'";
        break;
    default:
        return false;
    }
    int n = snprintf(out, cap, "[%s %s '", path, op);
    if (n < 0 || (size_t)n >= cap)
        return false;
    size_t used = (size_t)n;
    if (!put_literal(out, cap, &used, value) || used + 3 > cap)
        return false;
    memcpy(out + used, "']", 3);
    return true;
}

static void indicator_uuid(const struct trl_ioc *ioc, char uuid[37])
{
    struct trl_buf key = {0};
    trl_buf_printf(&key, "indicator|%s|%s|%s", trl_ioc_type_name(ioc->type), ioc->value,
                   ioc->source ? ioc->source : "");
    trl_stix_uuid5(key.data, uuid);
    trl_buf_free(&key);
}

json_t *trl_stix_indicator(const struct trl_ioc *ioc, const char *identity_id, int64_t created_ns,
                           int64_t modified_ns)
{
    char pattern[TRL_IOC_VALUE_MAX * 2 + 128];
    if (!trl_stix_pattern_of(ioc->type, ioc->value, pattern, sizeof(pattern)))
        return NULL;
    char uuid[37], created[25], modified[25], from[25];
    indicator_uuid(ioc, uuid);
    trl_stix_timestamp(created_ns, created);
    trl_stix_timestamp(modified_ns > created_ns ? modified_ns : created_ns, modified);
    int64_t from_ns = ioc->valid_from_ns ? ioc->valid_from_ns : created_ns;
    trl_stix_timestamp(from_ns, from);
    json_t *o = stamped("indicator", uuid, created, modified);
    json_object_set_new(o, "created_by_ref", json_string(identity_id));
    char name[TRL_IOC_VALUE_MAX + 32];
    snprintf(name, sizeof(name), "%s %s", trl_ioc_type_name(ioc->type), ioc->value);
    json_object_set_new(o, "name", json_string(ioc->description ? ioc->description : name));
    json_object_set_new(o, "pattern", json_string(pattern));
    json_object_set_new(o, "pattern_type", json_string("stix"));
    json_object_set_new(o, "pattern_version", json_string("2.1"));
    json_object_set_new(o, "valid_from", json_string(from));
    /* valid_until must be after valid_from; millisecond rounding could make them equal. */
    if (ioc->valid_until_ns && ioc->valid_until_ns / 1000000 > from_ns / 1000000) {
        char until[25];
        trl_stix_timestamp(ioc->valid_until_ns, until);
        json_object_set_new(o, "valid_until", json_string(until));
    }
    json_object_set_new(o, "confidence", json_integer(ioc->confidence));
    json_t *labels = json_array(), *markings = json_array();
    for (size_t i = 0; i < ioc->nlabels; i++)
        json_array_append_new(labels, json_string(ioc->labels[i]));
    for (size_t i = 0; i < ioc->ntags; i++) {
        bool tlp = false;
        for (size_t k = 0; k < TRL_ARRAY_LEN(tlp_markings); k++) {
            if (!strcmp(ioc->tags[i], tlp_markings[k].tag)) {
                json_array_append_new(markings, json_string(tlp_markings[k].id));
                tlp = true;
            }
        }
        if (!tlp)
            json_array_append_new(labels, json_string(ioc->tags[i]));
    }
    if (json_array_size(labels))
        json_object_set(o, "labels", labels);
    if (json_array_size(markings))
        json_object_set(o, "object_marking_refs", markings);
    json_decref(labels);
    json_decref(markings);
    return o;
}

json_t *trl_stix_sighting(const struct trl_stix_sighting_info *s, const char *identity_id)
{
    struct trl_buf key = {0};
    trl_buf_printf(&key, "sighting|%s|%s", s->indicator_ref, identity_id);
    char uuid[37], first[25], last[25];
    trl_stix_uuid5(key.data, uuid);
    trl_buf_free(&key);
    int64_t last_ns = s->last_seen_ns > s->first_seen_ns ? s->last_seen_ns : s->first_seen_ns;
    trl_stix_timestamp(s->first_seen_ns, first);
    trl_stix_timestamp(last_ns, last);
    /* The sighting is as old as its first observation; each new one makes a new version. */
    json_t *o = stamped("sighting", uuid, first, last);
    json_object_set_new(o, "created_by_ref", json_string(identity_id));
    json_object_set_new(o, "sighting_of_ref", json_string(s->indicator_ref));
    json_object_set_new(o, "count", json_integer(TRL_MIN(TRL_MAX(s->count, 0), MAX_COUNT)));
    json_object_set_new(o, "first_seen", json_string(first));
    json_object_set_new(o, "last_seen", json_string(last));
    json_object_set_new(o, "where_sighted_refs", json_pack("[s]", identity_id));
    return o;
}

/* ---- Checking what is written ---- */

static bool is_uuid(const char *p)
{
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? p[i] != '-' : !((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    }
    return p[36] == '\0';
}

/* True for an identifier "<type>--<uuid>" (of the given type when type is not NULL). */
static bool is_ref(const char *id, const char *type)
{
    if (!id)
        return false;
    const char *sep = strstr(id, "--");
    if (!sep || sep == id)
        return false;
    if (type && ((size_t)(sep - id) != strlen(type) || strncmp(id, type, strlen(type))))
        return false;
    return is_uuid(sep + 2);
}

/* True for "YYYY-MM-DDTHH:MM:SS.mmmZ". */
static bool is_ms_timestamp(const char *s, int64_t *ns)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (!s || strlen(s) != sizeof(shape) - 1)
        return false;
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
            return false;
    }
    return trl_parse_rfc3339(s, strlen(s), ns) == strlen(s);
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        return false;                                                                              \
    } while (0)

bool trl_stix_check_object(const json_t *o, char *err, size_t errlen)
{
    const char *type = json_string_value(json_object_get(o, "type"));
    const char *id = json_string_value(json_object_get(o, "id"));
    if (!json_is_object(o) || !type)
        FAIL("an object without a type");
    if (!is_ref(id, type))
        FAIL("%s: id '%.80s' is not %s--<uuid>", type, id ? id : "", type);
    if (!strcmp(type, "bundle")) {
        if (!json_is_array(json_object_get(o, "objects")))
            FAIL("%s: a bundle without objects", id);
        return true;
    }
    const char *sv = json_string_value(json_object_get(o, "spec_version"));
    if (!sv || strcmp(sv, "2.1"))
        FAIL("%s: spec_version is not \"2.1\"", id);
    int64_t created, modified;
    if (!is_ms_timestamp(json_string_value(json_object_get(o, "created")), &created))
        FAIL("%s: created is not a timestamp with milliseconds and Z", id);
    if (!is_ms_timestamp(json_string_value(json_object_get(o, "modified")), &modified))
        FAIL("%s: modified is not a timestamp with milliseconds and Z", id);
    if (modified < created)
        FAIL("%s: modified is before created", id);
    const char *by = json_string_value(json_object_get(o, "created_by_ref"));
    if (json_object_get(o, "created_by_ref") && !is_ref(by, "identity"))
        FAIL("%s: created_by_ref is not an identity id", id);
    if (!strcmp(type, "identity")) {
        if (!json_string_value(json_object_get(o, "name")))
            FAIL("%s: an identity without a name", id);
    } else if (!strcmp(type, "indicator")) {
        int64_t from, until;
        const json_t *vu = json_object_get(o, "valid_until");
        if (!json_string_value(json_object_get(o, "pattern")))
            FAIL("%s: an indicator without a pattern", id);
        if (!json_string_value(json_object_get(o, "pattern_type")))
            FAIL("%s: an indicator without a pattern_type", id);
        if (!is_ms_timestamp(json_string_value(json_object_get(o, "valid_from")), &from))
            FAIL("%s: valid_from is not a timestamp with milliseconds and Z", id);
        if (vu && (!is_ms_timestamp(json_string_value(vu), &until) || until <= from))
            FAIL("%s: valid_until is not a timestamp after valid_from", id);
    } else if (!strcmp(type, "sighting")) {
        const json_t *count = json_object_get(o, "count");
        int64_t first, last;
        if (!is_ref(json_string_value(json_object_get(o, "sighting_of_ref")), NULL))
            FAIL("%s: sighting_of_ref is not an id", id);
        if (count && (!json_is_integer(count) || json_integer_value(count) < 0 ||
                      json_integer_value(count) > MAX_COUNT))
            FAIL("%s: count is not 0..999999999", id);
        if (!is_ms_timestamp(json_string_value(json_object_get(o, "first_seen")), &first) ||
            !is_ms_timestamp(json_string_value(json_object_get(o, "last_seen")), &last) ||
            last < first)
            FAIL("%s: first_seen and last_seen are not timestamps in order", id);
        size_t i;
        const json_t *r;
        json_array_foreach(json_object_get(o, "where_sighted_refs"), i, r)
        {
            if (!is_ref(json_string_value(r), NULL))
                FAIL("%s: where_sighted_refs holds something other than ids", id);
        }
    }
    return true;
}

/* ---- The export ---- */

struct sighting_agg {
    int64_t count, first, last;
};

struct export
{
    const struct trl_stix_export_opts *o;
    const char *identity_id;
    struct trl_strmap *local;   /* source -> non-NULL */
    struct trl_strmap *our_ids; /* indicator id in ioc.db -> indicator--<uuid> we export */
    struct trl_strmap *sights;  /* sighting_of_ref -> struct sighting_agg */
    json_t *indicators;
    size_t unreferable;
};

static int add_local_feed(void *ud, const struct trl_iocdb_feed *f)
{
    struct export *x = ud;
    if (f->format && !strcmp(f->format, "list"))
        trl_strmap_put(x->local, f->name, strlen(f->name), x);
    return 0;
}

static int take_row(void *ud, const struct trl_iocdb_row *row)
{
    struct export *x = ud;
    const struct trl_ioc *r = &row->ioc;
    if (!r->source || !trl_strmap_get(x->local, r->source, strlen(r->source)))
        return 0;
    /* Tags and labels come as JSON arrays in a row. */
    json_t *tags = json_loads(row->tags_json ? row->tags_json : "[]", 0, NULL);
    json_t *labels = json_loads(row->labels_json ? row->labels_json : "[]", 0, NULL);
    const char *tv[64], *lv[64];
    struct trl_ioc ioc = *r;
    ioc.ntags = ioc.nlabels = 0;
    for (size_t i = 0; i < json_array_size(tags) && ioc.ntags < 64; i++) {
        if (json_string_value(json_array_get(tags, i)))
            tv[ioc.ntags++] = json_string_value(json_array_get(tags, i));
    }
    for (size_t i = 0; i < json_array_size(labels) && ioc.nlabels < 64; i++) {
        if (json_string_value(json_array_get(labels, i)))
            lv[ioc.nlabels++] = json_string_value(json_array_get(labels, i));
    }
    ioc.tags = tv;
    ioc.labels = lv;
    json_t *o =
        trl_stix_indicator(&ioc, x->identity_id, row->first_imported_ns, row->last_imported_ns);
    if (o) {
        const char *sid = json_string_value(json_object_get(o, "id"));
        if (r->id && !trl_strmap_get(x->our_ids, r->id, strlen(r->id)))
            trl_strmap_put(x->our_ids, r->id, strlen(r->id), trl_xstrdup(sid));
        if (row->last_imported_ns >= x->o->since_ns)
            json_array_append(x->indicators, o);
        json_decref(o);
    }
    json_decref(tags);
    json_decref(labels);
    return 0;
}

static void take_alert(void *ud, const struct trl_alert_row *a)
{
    struct export *x = ud;
    if (!a->rule_id || strncmp(a->rule_id, "ioc:", 4))
        return;
    const char *id = a->rule_id + 4;
    const char *ref = is_ref(id, "indicator") ? id : trl_strmap_get(x->our_ids, id, strlen(id));
    if (!ref) {
        x->unreferable++;
        return;
    }
    struct sighting_agg *g = trl_strmap_get(x->sights, ref, strlen(ref));
    if (!g) {
        g = trl_xcalloc(1, sizeof(*g));
        g->first = a->first_seen_ns;
        g->last = a->last_seen_ns;
        trl_strmap_put(x->sights, ref, strlen(ref), g);
    }
    g->count += a->count;
    g->first = TRL_MIN(g->first, a->first_seen_ns);
    g->last = TRL_MAX(g->last, a->last_seen_ns);
}

struct sight_list {
    const char **refs;
    size_t n;
};

static void collect_ref(const char *key, size_t len, void *value, void *ud)
{
    (void)len, (void)value;
    struct sight_list *l = ud;
    l->refs[l->n++] = key;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_id(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
    return strcmp(json_string_value(json_object_get(x, "id")),
                  json_string_value(json_object_get(y, "id")));
}

static bool exists(const char *dir, const char *name)
{
    struct trl_buf p = {0};
    trl_buf_printf(&p, "%s/%s", dir, name);
    struct stat st;
    bool ok = stat(p.data, &st) == 0;
    trl_buf_free(&p);
    return ok;
}

/* Sorts a JSON array of objects by id, so that an export does not depend on storage order. */
static void sort_by_id(json_t *arr)
{
    size_t n = json_array_size(arr);
    if (n < 2)
        return;
    json_t **v = trl_xmalloc(n * sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof(*v), cmp_id);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, v[i]);
    free(v);
}

int trl_stix_export(const struct trl_stix_export_opts *o, json_t **out,
                    struct trl_stix_export_stats *stats, char *err, size_t errlen)
{
    *out = NULL;
    memset(stats, 0, sizeof(*stats));
    char host[256] = "";
    char name[300];
    if (!o->identity_name) {
        if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
            snprintf(host, sizeof(host), "localhost");
        snprintf(name, sizeof(name), "Trapline on %s", host);
    } else {
        snprintf(name, sizeof(name), "%s", o->identity_name);
    }
    json_t *identity = trl_stix_identity(name);
    struct export x = {
        .o = o,
        .identity_id = json_string_value(json_object_get(identity, "id")),
        .local = trl_strmap_create(),
        .our_ids = trl_strmap_create(),
        .sights = trl_strmap_create(),
        .indicators = json_array(),
    };
    int rc = 0;
    if (exists(o->data_dir, "ioc.db")) {
        struct trl_iocdb *db = trl_iocdb_open(o->data_dir, true);
        if (!db) {
            snprintf(err, errlen, "cannot open the indicator database in %s", o->data_dir);
            rc = -EIO;
            goto done;
        }
        if (o->local_sources) {
            for (size_t i = 0; i < o->nlocal; i++)
                trl_strmap_put(x.local, o->local_sources[i], strlen(o->local_sources[i]), &x);
        } else {
            trl_iocdb_feeds(db, add_local_feed, &x);
        }
        struct trl_iocdb_filter f = {.any_order = false};
        long n = trl_strmap_count(x.local) ? trl_iocdb_list(db, &f, take_row, &x) : 0;
        trl_iocdb_close(db);
        if (n < 0) {
            snprintf(err, errlen, "cannot read the indicator database: %s", trl_strerror((int)n));
            rc = (int)n;
            goto done;
        }
    }
    if (exists(o->data_dir, "alerts.db")) {
        struct trl_alert_store *as = trl_alert_store_open(o->data_dir, 0, true);
        if (!as) {
            snprintf(err, errlen, "cannot open the alert database in %s", o->data_dir);
            rc = -EIO;
            goto done;
        }
        struct trl_alert_filter af = {
            .from_ns = o->since_ns, .rule = "Threat intel match", .limit = 100000000};
        long n = trl_alert_store_list(as, &af, take_alert, &x);
        trl_alert_store_close(as);
        if (n < 0) {
            snprintf(err, errlen, "cannot read the alert database: %s", trl_strerror((int)n));
            rc = (int)n;
            goto done;
        }
    }
    json_t *objects = json_array();
    json_array_append(objects, identity);
    sort_by_id(x.indicators);
    json_array_extend(objects, x.indicators);
    struct sight_list sl = {trl_xcalloc(trl_strmap_count(x.sights) + 1, sizeof(char *)), 0};
    trl_strmap_each(x.sights, collect_ref, &sl);
    qsort(sl.refs, sl.n, sizeof(*sl.refs), cmp_str);
    for (size_t i = 0; i < sl.n; i++) {
        const struct sighting_agg *g = trl_strmap_get(x.sights, sl.refs[i], strlen(sl.refs[i]));
        struct trl_stix_sighting_info si = {sl.refs[i], g->count, g->first, g->last};
        json_array_append_new(objects, trl_stix_sighting(&si, x.identity_id));
    }
    free(sl.refs);
    /* The bundle's id follows from what it holds: the same export twice is the same bundle. */
    struct trl_buf key = {0};
    trl_buf_puts(&key, "bundle");
    size_t i;
    json_t *obj;
    json_array_foreach(objects, i, obj)
    {
        trl_buf_printf(&key, "|%s@%s", json_string_value(json_object_get(obj, "id")),
                       json_string_value(json_object_get(obj, "modified")));
        if (rc == 0 && !trl_stix_check_object(obj, err, errlen))
            rc = TRL_EINVAL;
    }
    char uuid[37], bid[64];
    trl_stix_uuid5(key.data, uuid);
    trl_buf_free(&key);
    snprintf(bid, sizeof(bid), "bundle--%s", uuid);
    stats->indicators = json_array_size(x.indicators);
    stats->sightings = sl.n;
    stats->unreferable = x.unreferable;
    if (rc == 0)
        *out = json_pack("{s:s, s:s, s:o}", "type", "bundle", "id", bid, "objects", objects);
    else
        json_decref(objects);
done:
    trl_strmap_destroy(x.local, NULL);
    trl_strmap_destroy(x.our_ids, free);
    trl_strmap_destroy(x.sights, free);
    json_decref(x.indicators);
    json_decref(identity);
    return rc;
}

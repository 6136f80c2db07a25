/* abuse.ch feeds: Feodo Tracker (CSV and text), URLhaus (csv_recent), ThreatFox (JSON and CSV). */
#include "ioc/feed_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLS 32

/* Column positions of a CSV feed, found from its header (which abuse.ch writes either as a comment,
 * "# id,dateadded,...", or as the first line) or defaulting to the documented order. */
struct columns {
    const char *const *names;
    size_t count;
    int pos[MAX_COLS];
    bool from_header;
};

static void columns_init(struct columns *cols, const char *const *names, size_t count)
{
    cols->names = names;
    cols->count = count;
    cols->from_header = false;
    for (size_t i = 0; i < count; i++)
        cols->pos[i] = (int)i;
}

/* Reads a header line; true when it names at least two of the expected columns. */
static bool columns_header(struct columns *cols, struct trl_str line, struct trl_arena *a)
{
    struct trl_str f[MAX_COLS];
    int nf = feed_csv_split(line, f, MAX_COLS, a);
    if (nf < 2)
        return false;
    int pos[MAX_COLS];
    size_t known = 0;
    for (size_t k = 0; k < cols->count; k++) {
        pos[k] = -1;
        for (int i = 0; i < nf && i < MAX_COLS; i++) {
            if (trl_str_eq(f[i], cols->names[k])) {
                pos[k] = i;
                known++;
                break;
            }
        }
    }
    if (known < 2)
        return false;
    memcpy(cols->pos, pos, cols->count * sizeof(int));
    cols->from_header = true;
    return true;
}

/* Comment lines: a header after the '#' is taken; other comments are skipped. */
static bool comment_line(struct columns *cols, struct trl_str t, struct trl_arena *a)
{
    if (t.len == 0 || t.ptr[0] != '#')
        return false;
    struct trl_str rest = feed_trim((struct trl_str){t.ptr + 1, t.len - 1});
    if (!cols->from_header && memchr(rest.ptr, ',', rest.len))
        columns_header(cols, rest, a);
    return true;
}

/* The data rows of a CSV feed, split into fields: blank lines, comments and the header (a line
 * holding header_key, a name only the header has) are read past, the header into the columns. */
struct csv_rows {
    struct feed_lines lines;
    struct columns cols;
    const char *header_key;
    struct trl_arena *scratch; /* reset per row: the fields live in it */
    struct trl_str f[MAX_COLS];
    int nf;
};

static void csv_rows_init(struct csv_rows *rows, const char *buf, size_t len,
                          const char *const *names, size_t count, const char *header_key,
                          struct trl_arena *scratch)
{
    feed_lines_init(&rows->lines, buf, len);
    columns_init(&rows->cols, names, count);
    rows->header_key = header_key;
    rows->scratch = scratch;
    rows->nf = 0;
}

/* Reads the next data row; false at the end. A row with bad quoting is reported and skipped. */
static bool csv_rows_next(struct csv_rows *rows, struct feed_ctx *c)
{
    struct trl_str line;
    while (feed_lines_next(&rows->lines, &line)) {
        struct trl_str t = feed_trim(line);
        trl_arena_reset(rows->scratch);
        if (t.len == 0 || comment_line(&rows->cols, t, rows->scratch))
            continue;
        if (!rows->cols.from_header && trl_memstr(t.ptr, t.len, rows->header_key) &&
            columns_header(&rows->cols, t, rows->scratch))
            continue;
        rows->nf = feed_csv_split(t, rows->f, MAX_COLS, rows->scratch);
        if (rows->nf < 0) {
            feed_problem(c, rows->lines.lineno, true, "bad CSV quoting");
            continue;
        }
        return true;
    }
    return false;
}

/* Field k of the current row, or an empty string; ThreatFox writes "None" for no value. */
static struct trl_str col(const struct csv_rows *rows, size_t k)
{
    int i = rows->cols.pos[k];
    if (i < 0 || i >= rows->nf || i >= MAX_COLS)
        return (struct trl_str){"", 0};
    if (trl_str_eq(rows->f[i], "None") || trl_str_eq(rows->f[i], "null"))
        return (struct trl_str){"", 0};
    return rows->f[i];
}

/* ---- Feodo Tracker ---- */

enum { FD_FIRST_SEEN, FD_IP, FD_PORT, FD_STATUS, FD_LAST_ONLINE, FD_MALWARE, FD__COUNT };
static const char *const feodo_cols[FD__COUNT] = {"first_seen_utc", "dst_ip",      "dst_port",
                                                  "c2_status",      "last_online", "malware"};

int trl_ioc_parse_feodo(const char *buf, size_t len, const struct trl_ioc_parse_opts *opts,
                        struct trl_ioc_sink *sink)
{
    struct feed_ctx c;
    feed_ctx_init(&c, opts, "feodo", sink);
    struct trl_arena *scratch = trl_arena_create(16384);
    struct csv_rows rows;
    csv_rows_init(&rows, buf, len, feodo_cols, FD__COUNT, "dst_ip", scratch);
    int rc = 0;
    while (rc >= 0 && csv_rows_next(&rows, &c)) {
        size_t lineno = rows.lines.lineno;
        struct feed_rec r;
        feed_rec_init(&r, scratch);
        feed_rec_label(&r, "botnet_cc", 9);
        if (rows.nf == 1) { /* the plain-text blocklist: one address per line */
            rc = feed_emit_ip_port(&c, &r, lineno, rows.f[0].ptr, rows.f[0].len);
            continue;
        }
        struct trl_str ip = col(&rows, FD_IP);
        if (ip.len == 0) {
            feed_problem(&c, lineno, true, "no dst_ip column");
            continue;
        }
        struct trl_str mal = col(&rows, FD_MALWARE);
        feed_rec_tag(&r, mal.ptr, mal.len);
        struct trl_str port = col(&rows, FD_PORT);
        struct trl_str status = col(&rows, FD_STATUS);
        if (status.len)
            feed_rec_label(&r, status.ptr, status.len);
        r.description =
            trl_arena_sprintf(scratch, "botnet C2%s%.*s%s%.*s%s", port.len ? " on port " : "",
                              (int)TRL_MIN(port.len, 8), port.ptr, status.len ? " (" : "",
                              (int)TRL_MIN(status.len, 16), status.ptr, status.len ? ")" : "");
        rc = feed_emit_ip_port(&c, &r, lineno, ip.ptr, ip.len);
    }
    trl_arena_destroy(scratch);
    return rc < 0 ? rc : 0;
}

/* ---- URLhaus ---- */

enum {
    UH_ID,
    UH_DATE,
    UH_URL,
    UH_STATUS,
    UH_LAST_ONLINE,
    UH_THREAT,
    UH_TAGS,
    UH_LINK,
    UH_REPORTER,
    UH__COUNT
};
static const char *const urlhaus_cols[UH__COUNT] = {"id",         "dateadded",    "url",
                                                    "url_status", "last_online",  "threat",
                                                    "tags",       "urlhaus_link", "reporter"};

int trl_ioc_parse_urlhaus(const char *buf, size_t len, const struct trl_ioc_parse_opts *opts,
                          struct trl_ioc_sink *sink)
{
    struct feed_ctx c;
    feed_ctx_init(&c, opts, "urlhaus", sink);
    struct trl_arena *scratch = trl_arena_create(16384);
    struct csv_rows rows;
    csv_rows_init(&rows, buf, len, urlhaus_cols, UH__COUNT, "dateadded", scratch);
    int rc = 0;
    while (rc >= 0 && csv_rows_next(&rows, &c)) {
        size_t lineno = rows.lines.lineno;
        struct feed_rec r;
        feed_rec_init(&r, scratch);
        if (rows.nf == 1) { /* the plain-text URL list */
            rc = feed_emit(&c, &r, lineno, TRL_IOC_URL, rows.f[0].ptr, rows.f[0].len, true);
            continue;
        }
        struct trl_str url = col(&rows, UH_URL);
        if (url.len == 0) {
            feed_problem(&c, lineno, true, "no url column");
            continue;
        }
        struct trl_str id = col(&rows, UH_ID);
        if (id.len)
            r.id = trl_arena_sprintf(scratch, "urlhaus:%.*s", (int)TRL_MIN(id.len, 64), id.ptr);
        struct trl_str v = col(&rows, UH_THREAT);
        feed_rec_label(&r, v.ptr, v.len);
        v = col(&rows, UH_STATUS);
        feed_rec_label(&r, v.ptr, v.len);
        v = col(&rows, UH_TAGS);
        feed_rec_tag_list(&r, v.ptr, v.len);
        v = col(&rows, UH_LINK);
        if (v.len)
            r.description = feed_rec_strdup(&r, v.ptr, v.len);
        rc = feed_emit(&c, &r, lineno, TRL_IOC_URL, url.ptr, url.len, true);
    }
    trl_arena_destroy(scratch);
    return rc < 0 ? rc : 0;
}

/* ---- ThreatFox ---- */

struct tf_record {
    struct trl_str value, type, id, confidence, malware, tags, threat, reference;
    const json_t *tag_array; /* the API's "tags" is a list */
};

static int tf_emit(struct feed_ctx *c, struct tf_record *t, size_t item, struct trl_arena *scratch)
{
    /* The caller resets the scratch arena per record: the fields of t may live in it. */
    struct feed_rec r;
    feed_rec_init(&r, scratch);
    if (t->value.len == 0 || t->type.len == 0) {
        feed_problem(c, item, true, "record without ioc_value and ioc_type");
        return 0;
    }
    if (t->id.len)
        r.id = trl_arena_sprintf(scratch, "threatfox:%.*s", (int)TRL_MIN(t->id.len, 64), t->id.ptr);
    uint64_t conf;
    if (t->confidence.len && trl_parse_u64(t->confidence.ptr, t->confidence.len, &conf) &&
        conf <= 100)
        r.confidence = (int)conf;
    /* ThreatFox names a malware it has not identified "Unknown malware" (or "Unknown ELF"): no
     * family to tag. */
    if (t->malware.len && !trl_starts_with(t->malware.ptr, t->malware.len, "Unknown"))
        feed_rec_tag(&r, t->malware.ptr, t->malware.len);
    feed_rec_tag_list(&r, t->tags.ptr, t->tags.len);
    size_t i;
    const json_t *v;
    json_array_foreach(t->tag_array, i, v)
    {
        if (json_is_string(v))
            feed_rec_tag(&r, json_string_value(v), json_string_length(v));
    }
    feed_rec_label(&r, t->threat.ptr, t->threat.len);
    if (t->reference.len)
        r.description = feed_rec_strdup(&r, t->reference.ptr, t->reference.len);
    struct trl_str ty = t->type;
    if (trl_str_eq(ty, "ip:port"))
        return feed_emit_ip_port(c, &r, item, t->value.ptr, t->value.len);
    enum trl_ioc_type type = trl_str_eq(ty, "domain")        ? TRL_IOC_DOMAIN
                             : trl_str_eq(ty, "url")         ? TRL_IOC_URL
                             : trl_str_eq(ty, "md5_hash")    ? TRL_IOC_MD5
                             : trl_str_eq(ty, "sha1_hash")   ? TRL_IOC_SHA1
                             : trl_str_eq(ty, "sha256_hash") ? TRL_IOC_SHA256
                                                             : TRL_IOC_NONE;
    if (type == TRL_IOC_NONE) {
        feed_problem(c, item, true, "ThreatFox ioc_type '%.*s' is not matched by Trapline",
                     (int)TRL_MIN(ty.len, 40), ty.ptr);
        return 0;
    }
    return feed_emit(c, &r, item, type, t->value.ptr, t->value.len, true);
}

static struct trl_str jstr(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_string(v))
        return (struct trl_str){json_string_value(v), json_string_length(v)};
    return (struct trl_str){"", 0};
}

static int tf_json_record(struct feed_ctx *c, const json_t *o, const char *id, size_t item,
                          struct trl_arena *scratch, char *numbuf, size_t numcap)
{
    if (!json_is_object(o)) {
        feed_problem(c, item, true, "ThreatFox record is not an object");
        return 0;
    }
    struct tf_record t = {
        .value = jstr(o, "ioc_value"),
        .type = jstr(o, "ioc_type"),
        .malware = jstr(o, "malware_printable"),
        .tags = jstr(o, "tags"),
        .threat = jstr(o, "threat_type"),
        .reference = jstr(o, "reference"),
    };
    if (t.value.len == 0)
        t.value = jstr(o, "ioc"); /* the API's field name */
    if (json_is_array(json_object_get(o, "tags")))
        t.tag_array = json_object_get(o, "tags");
    const json_t *conf = json_object_get(o, "confidence_level");
    if (json_is_integer(conf)) {
        int n = snprintf(numbuf, numcap, "%lld", (long long)json_integer_value(conf));
        t.confidence = (struct trl_str){numbuf, (size_t)n};
    } else {
        t.confidence = jstr(o, "confidence_level");
    }
    if (id)
        t.id = (struct trl_str){id, strlen(id)};
    else if (json_is_string(json_object_get(o, "id")))
        t.id = jstr(o, "id");
    else if (json_is_integer(json_object_get(o, "id"))) {
        char *b = trl_arena_sprintf(scratch, "%lld",
                                    (long long)json_integer_value(json_object_get(o, "id")));
        t.id = (struct trl_str){b, strlen(b)};
    }
    return tf_emit(c, &t, item, scratch);
}

static int threatfox_json(struct feed_ctx *c, const char *buf, size_t len,
                          struct trl_arena *scratch)
{
    json_t *root = feed_json_load(c, buf, len);
    if (!root)
        return TRL_EINVAL;
    char num[32];
    int rc = 0;
    size_t item = 0, i;
    const json_t *o;
    const json_t *data = json_is_array(root) ? root : json_object_get(root, "data");
    if (json_is_array(data)) {
        json_array_foreach(data, i, o)
        {
            trl_arena_reset(scratch);
            if ((rc = tf_json_record(c, o, NULL, ++item, scratch, num, sizeof(num))) < 0)
                break;
        }
    } else if (json_is_object(root)) {
        /* The export: {"<id>": [record, ...], ...}. */
        const char *key;
        json_t *arr;
        json_object_foreach(root, key, arr)
        {
            if (!json_is_array(arr)) {
                feed_problem(c, ++item, true, "ThreatFox export entry '%.40s' is not a list", key);
                continue;
            }
            json_array_foreach(arr, i, o)
            {
                trl_arena_reset(scratch);
                if ((rc = tf_json_record(c, o, key, ++item, scratch, num, sizeof(num))) < 0)
                    goto out;
            }
        }
    } else {
        feed_problem(c, 0, true, "not a ThreatFox export (want an object of id: [records])");
        rc = TRL_EINVAL;
    }
out:
    json_decref(root);
    return rc < 0 ? rc : 0;
}

enum {
    TF_FIRST_SEEN,
    TF_ID,
    TF_VALUE,
    TF_TYPE,
    TF_THREAT,
    TF_FK_MALWARE,
    TF_ALIAS,
    TF_MALWARE,
    TF_LAST_SEEN,
    TF_CONF,
    TF_REF,
    TF_TAGS,
    TF_ANON,
    TF_REPORTER,
    TF__COUNT
};
static const char *const threatfox_cols[TF__COUNT] = {
    "first_seen_utc", "ioc_id",        "ioc_value",         "ioc_type",      "threat_type",
    "fk_malware",     "malware_alias", "malware_printable", "last_seen_utc", "confidence_level",
    "reference",      "tags",          "anonymous",         "reporter"};

static int threatfox_csv(struct feed_ctx *c, const char *buf, size_t len, struct trl_arena *scratch)
{
    struct csv_rows rows;
    csv_rows_init(&rows, buf, len, threatfox_cols, TF__COUNT, "ioc_value", scratch);
    int rc = 0;
    while (rc >= 0 && csv_rows_next(&rows, c)) {
        struct tf_record rec = {
            .value = col(&rows, TF_VALUE),
            .type = col(&rows, TF_TYPE),
            .id = col(&rows, TF_ID),
            .confidence = col(&rows, TF_CONF),
            .malware = col(&rows, TF_MALWARE),
            .tags = col(&rows, TF_TAGS),
            .threat = col(&rows, TF_THREAT),
            .reference = col(&rows, TF_REF),
        };
        rc = tf_emit(c, &rec, rows.lines.lineno, scratch);
    }
    return rc < 0 ? rc : 0;
}

int trl_ioc_parse_threatfox(const char *buf, size_t len, const struct trl_ioc_parse_opts *opts,
                            struct trl_ioc_sink *sink)
{
    struct feed_ctx c;
    feed_ctx_init(&c, opts, "threatfox", sink);
    struct trl_arena *scratch = trl_arena_create(16384);
    size_t i = feed_skip_space(buf, len, 0);
    int rc = i < len && (buf[i] == '{' || buf[i] == '[') ? threatfox_json(&c, buf, len, scratch)
                                                         : threatfox_csv(&c, buf, len, scratch);
    trl_arena_destroy(scratch);
    return rc;
}

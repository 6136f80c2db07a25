/*
 * api_iocs: GET /api/v1/iocs, POST /api/v1/iocs (import a feed file), GET /api/v1/feeds and
 * GET /api/v1/sightings, over the indicator database (ioc/iocdb.h), the feed parsers (ioc/feed.h)
 * and the alerts of indicator hits (detect/alerts.h). The running server's
 * threat-intelligence stage picks imported indicators up at its next reload interval.
 */
#include "core/timeutil.h"
#include "core/util.h"
#include "detect/alerts.h"
#include "ioc/feed.h"
#include "ioc/indicator.h"
#include "ioc/iocdb.h"
#include "web/web.h"

#include <stdio.h>
#include <string.h>

#define MAX_LIMIT  5000
#define MAX_ERRORS 20

static json_t *json_or_array(const char *text)
{
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    return json_is_array(v) ? v : (json_decref(v), json_array());
}

static int on_ioc(void *ud, const struct trl_iocdb_row *r)
{
    const struct trl_ioc *i = &r->ioc;
    json_array_append_new(
        ud, json_pack("{s:s?, s:s, s:s?, s:s?, s:i, s:o, s:o?, s:o?}", "id", i->id, "type",
                      trl_ioc_type_name(i->type), "value", i->value, "source", i->source,
                      "confidence", i->confidence, "tags", json_or_array(r->tags_json),
                      "valid_from", i->valid_from_ns ? trl_web_time(i->valid_from_ns) : NULL,
                      "valid_until", i->valid_until_ns ? trl_web_time(i->valid_until_ns) : NULL));
    return 0;
}

void trl_api_iocs_list(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    uint64_t limit;
    if (!trl_web_arg_uint(rq, rs, "limit", 100, 1, MAX_LIMIT, &limit))
        return;
    enum trl_ioc_type type = TRL_IOC_NONE;
    const char *tname = trl_web_arg(rq, "type");
    if (tname && tname[0] &&
        (type = trl_ioc_type_from_name(tname, strlen(tname))) == TRL_IOC_NONE) {
        trl_web_bad_field(rs, "type",
                          "type: ipv4, ipv6, cidr, domain, url, md5, sha1, sha256, email, "
                          "filename or user-agent");
        return;
    }
    const char *text = trl_web_arg(rq, "q");
    json_t *list = json_array();
    struct trl_iocdb *db = trl_iocdb_open(rq->web->data_dir, true);
    if (db) {
        struct trl_iocdb_filter f = {
            .types = type != TRL_IOC_NONE ? &type : NULL,
            .ntypes = type != TRL_IOC_NONE ? 1 : 0,
            .text = text && text[0] ? text : NULL,
            .limit = (size_t)limit,
        };
        long n = trl_iocdb_list(db, &f, on_ioc, list);
        trl_iocdb_close(db);
        if (n < 0) {
            json_decref(list);
            trl_web_error(rs, 500, "cannot read the indicator database");
            return;
        }
    }
    trl_web_json(rs, 200, json_pack("{s:o}", "indicators", list));
}

struct import {
    struct trl_iocdb *db;
    int64_t now;
    size_t imported, db_errors;
    json_t *errors;
};

static int import_one(void *ud, const struct trl_ioc *ioc)
{
    struct import *im = ud;
    if (trl_iocdb_upsert(im->db, ioc, im->now, NULL) < 0) {
        im->db_errors++;
        return -1;
    }
    im->imported++;
    return 0;
}

static void import_problem(void *ud, size_t item, const char *reason, bool skipped)
{
    struct import *im = ud;
    if (!skipped || json_array_size(im->errors) >= MAX_ERRORS)
        return;
    char msg[300];
    snprintf(msg, sizeof(msg), "item %zu: %s", item, reason);
    json_t *s = json_string(msg);
    if (s)
        json_array_append_new(im->errors, s);
}

void trl_api_iocs_import(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    const char *fname = trl_web_arg(rq, "format");
    /* "csv" is the MISP simple CSV feed, the only CSV the parsers take without a named source. */
    int format = !fname || !fname[0]     ? TRL_IOC_FMT_AUTO
                 : !strcmp(fname, "csv") ? TRL_IOC_FMT_MISP_CSV
                                         : trl_ioc_format_from_name(fname);
    if (format < 0 || format == TRL_IOC_FMT_MISP_FEED) {
        trl_web_bad_field(rs, "format",
                          "format: auto, stix, misp, misp-csv, freetext, feodo, urlhaus, "
                          "threatfox, spamhaus or list");
        return;
    }
    const char *source = trl_web_arg(rq, "source");
    if (source && source[0] && !trl_web_name_ok(source)) {
        trl_web_bad_field(rs, "source", "source: 1 to 64 letters, digits, . _ - @");
        return;
    }
    if (format == TRL_IOC_FMT_AUTO) {
        char why[256];
        format = trl_ioc_detect_format(rq->body, rq->body_len, why, sizeof(why));
        if (format == TRL_IOC_FMT_AUTO || format == TRL_IOC_FMT_MISP_FEED) {
            trl_web_error(rs, 400, "unknown indicator format: %s", why);
            return;
        }
    }
    if (!source || !source[0])
        source = format == TRL_IOC_FMT_LIST || format == TRL_IOC_FMT_FREETEXT ||
                         format == TRL_IOC_FMT_MISP_CSV
                     ? "upload"
                     : trl_ioc_format_name((enum trl_ioc_format)format);
    struct trl_iocdb *db = trl_iocdb_open(rq->web->data_dir, false);
    if (!db || trl_iocdb_begin(db) != 0) {
        trl_iocdb_close(db);
        trl_web_error(rs, 500, "cannot open the indicator database");
        return;
    }
    struct import im = {.db = db, .now = trl_now_ns(), .errors = json_array()};
    struct trl_ioc_parse_opts opts = {.source = source, .confidence = -1};
    struct trl_ioc_sink sink = {.indicator = import_one, .problem = import_problem, .ud = &im};
    int prc = trl_ioc_parse((enum trl_ioc_format)format, rq->body, rq->body_len, &opts, &sink);
    if (im.db_errors || trl_iocdb_commit(db) != 0) {
        trl_iocdb_rollback(db);
        trl_iocdb_close(db);
        json_decref(im.errors);
        trl_web_error(rs, 500, "database error: nothing imported");
        return;
    }
    trl_iocdb_feed_update(db, source, trl_ioc_format_name((enum trl_ioc_format)format), NULL,
                          im.now,
                          prc == TRL_EINVAL ? "the input could not be read as the format" : NULL);
    trl_iocdb_close(db);
    trl_web_audit(rq, "indicators-imported", "configuration", "change", true, NULL,
                  "%zu indicators imported into source %s", im.imported, source);
    trl_web_json(rs, prc == TRL_EINVAL && !im.imported ? 400 : 200,
                 json_pack("{s:I, s:I, s:o}", "imported", (json_int_t)im.imported, "rejected",
                           (json_int_t)sink.skipped, "errors", im.errors));
}

static int on_feed(void *ud, const struct trl_iocdb_feed *f)
{
    json_array_append_new(ud, json_pack("{s:s, s:s?, s:s?, s:o?, s:I, s:s?}", "name", f->name,
                                        "format", f->format, "url", f->url, "last_fetch",
                                        f->last_fetch_ns ? trl_web_time(f->last_fetch_ns) : NULL,
                                        "count", (json_int_t)f->count, "error", f->last_error));
    return 0;
}

void trl_api_feeds(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    json_t *list = json_array();
    struct trl_iocdb *db = trl_iocdb_open(rq->web->data_dir, true);
    if (db) {
        trl_iocdb_feeds(db, on_feed, list);
        trl_iocdb_close(db);
    }
    trl_web_json(rs, 200, json_pack("{s:o}", "feeds", list));
}

/* Sightings are the threat-intelligence alerts (rule id "ioc:<indicator id>", see
 * ioc/ioc_stage.h): one per alert, with its latest event and the number of hits folded into it. */
struct sightings {
    json_t *list;
    size_t limit;
};

static void on_sighting(void *ud, const struct trl_alert_row *r)
{
    struct sightings *s = ud;
    if (!r->rule_id || strncmp(r->rule_id, "ioc:", 4) || json_array_size(s->list) >= s->limit)
        return;
    json_t *group = r->group_by_json ? json_loads(r->group_by_json, 0, NULL) : NULL;
    json_t *ids = r->event_ids_json ? json_loads(r->event_ids_json, 0, NULL) : NULL;
    json_t *last = json_array_get(ids, json_array_size(ids) ? json_array_size(ids) - 1 : 0);
    json_array_append_new(
        s->list,
        json_pack("{s:s, s:O?, s:O?, s:O?, s:o, s:o, s:I, s:I}", "indicator", r->rule_id + 4,
                  "value", json_object_get(group, "indicator"), "field",
                  json_object_get(group, "field"), "event_id", json_is_string(last) ? last : NULL,
                  "at", trl_web_time(r->last_seen_ns), "first_seen", trl_web_time(r->first_seen_ns),
                  "count", (json_int_t)r->count, "alert_id", (json_int_t)r->id));
    json_decref(group);
    json_decref(ids);
}

void trl_api_sightings(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    uint64_t limit;
    if (!trl_web_arg_uint(rq, rs, "limit", 100, 1, MAX_LIMIT, &limit))
        return;
    struct sightings s = {.list = json_array(), .limit = (size_t)limit};
    struct trl_alert_store *as = trl_alert_store_open(rq->web->data_dir, 0, true);
    if (as) {
        struct trl_alert_filter f = {.limit = 1000000};
        (void)trl_alert_store_list(as, &f, on_sighting, &s);
        trl_alert_store_close(as);
    }
    trl_web_json(rs, 200, json_pack("{s:o}", "sightings", s.list));
}

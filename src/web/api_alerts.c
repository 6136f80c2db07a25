/*
 * api_alerts: GET /api/v1/alerts, GET|PATCH /api/v1/alerts/{id}, POST
 * /api/v1/alerts/{id}/comments, over the alert store (detect/alerts.h).
 */
#include "core/buf.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "detect/alerts.h"
#include "store/query.h"
#include "store/store_read.h"
#include "web/web.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIMIT        1000
#define MAX_ALERT_EVENTS 100
#define MAX_COMMENT      8192

static struct trl_alert_store *open_alerts(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    struct trl_alert_store *s = trl_alert_store_open(rq->web->data_dir, 0, false);
    if (!s)
        trl_web_error(rs, 500, "cannot open the alert store");
    return s;
}

static json_t *json_or(const char *text, json_t *def)
{
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    if (v) {
        json_decref(def);
        return v;
    }
    return def;
}

struct list_ctx {
    struct trl_alert_store *s;
    json_t *alerts;
    uint64_t skip;
    size_t limit;
    bool more;
};

static json_t *alert_json(struct trl_alert_store *s, const struct trl_alert_row *r)
{
    char assignee[128];
    trl_alert_store_assignee(s, r->id, assignee, sizeof(assignee));
    return json_pack("{s:I, s:s?, s:s?, s:s?, s:o, s:s?, s:s?, s:I, s:s?, s:s?, s:o, s:o, s:o}",
                     "id", (json_int_t)r->id, "rule_id", r->rule_id, "title", r->title, "level",
                     r->level, "tags", json_or(r->tags_json, json_array()), "correlation",
                     r->correlation, "host", r->host, "count", (json_int_t)r->count, "status",
                     r->status, "assignee", assignee[0] ? assignee : NULL, "first_seen",
                     trl_web_time(r->first_seen_ns), "last_seen", trl_web_time(r->last_seen_ns),
                     "group", json_or(r->group_by_json, json_object()));
}

static void on_list(void *ud, const struct trl_alert_row *r)
{
    struct list_ctx *c = ud;
    if (c->skip) {
        c->skip--;
        return;
    }
    if (json_array_size(c->alerts) == c->limit) {
        c->more = true;
        return;
    }
    json_t *a = alert_json(c->s, r);
    if (a)
        json_array_append_new(c->alerts, a);
}

static bool status_ok(const char *s)
{
    return !strcmp(s, "new") || !strcmp(s, "acknowledged") || !strcmp(s, "closed");
}

void trl_api_alerts_list(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    uint64_t limit, offset = 0;
    if (!trl_web_arg_uint(rq, rs, "limit", 100, 1, MAX_LIMIT, &limit))
        return;
    /* The cursor is the number of alerts already listed (the list is newest first). */
    const char *cursor = trl_web_arg(rq, "cursor");
    if (cursor && cursor[0] &&
        (!trl_parse_u64(cursor, strlen(cursor), &offset) || offset > 1000000)) {
        trl_web_bad_field(rs, "cursor", "malformed cursor");
        return;
    }
    const char *status = trl_web_arg(rq, "status");
    if (status && !status[0])
        status = NULL;
    if (status && !status_ok(status)) {
        trl_web_bad_field(rs, "status", "status: new, acknowledged or closed");
        return;
    }
    const char *level = trl_web_arg(rq, "level");
    const char *text = trl_web_arg(rq, "q");
    struct trl_alert_store *s = open_alerts(rq, rs);
    if (!s)
        return;
    struct list_ctx c = {.s = s, .alerts = json_array(), .skip = offset, .limit = (size_t)limit};
    struct trl_alert_filter f = {
        .status = status,
        .level = level && level[0] ? level : NULL,
        .text = text && text[0] ? text : NULL,
        .limit = (size_t)(offset + limit + 1),
    };
    long n = trl_alert_store_list(s, &f, on_list, &c);
    trl_alert_store_close(s);
    if (n < 0) {
        json_decref(c.alerts);
        trl_web_error(rs, 500, "cannot list alerts");
        return;
    }
    char next[32];
    snprintf(next, sizeof(next), "%llu", (unsigned long long)(offset + limit));
    trl_web_json(rs, 200,
                 json_pack("{s:o, s:s?}", "alerts", c.alerts, "next_cursor", c.more ? next : NULL));
}

/* The {id} of the path; false with a 404. */
static bool alert_id(struct trl_web_req *rq, struct trl_web_resp *rs, int64_t *id)
{
    char buf[32];
    if (!trl_web_param(rq, 0, buf, sizeof(buf)) || !trl_parse_i64(buf, strlen(buf), id) ||
        *id <= 0) {
        trl_web_error(rs, 404, "no such alert");
        return false;
    }
    return true;
}

/* The alert id of the path and the request body, a JSON object; NULL after a 404 or a 400. */
static json_t *alert_body(struct trl_web_req *rq, struct trl_web_resp *rs, int64_t *id)
{
    return alert_id(rq, rs, id) ? trl_web_body_object(rq, rs) : NULL;
}

struct one_ctx {
    struct trl_alert_store *s;
    json_t *alert;
    char *event_ids_json;
};

static void on_one(void *ud, const struct trl_alert_row *r)
{
    struct one_ctx *c = ud;
    c->alert = alert_json(c->s, r);
    c->event_ids_json = r->event_ids_json ? trl_xstrdup(r->event_ids_json) : NULL;
}

static void on_comment(void *ud, int64_t at, const char *user, const char *text)
{
    json_array_append_new(
        ud, json_pack("{s:o, s:s?, s:s?}", "at", trl_web_time(at), "user", user, "text", text));
}

static int on_event(void *ud, int64_t ts, const char *json, size_t len)
{
    json_t *ev = json_loadb(json, len, 0, NULL);
    if (!json_is_object(ev)) {
        json_decref(ev);
        return 0;
    }
    json_t *id = json_object_get(json_object_get(ev, "event"), "id");
    json_t *at = json_object_get(ev, "@timestamp");
    json_array_append_new(ud, json_pack("{s:O?, s:O, s:o}", "id", json_is_string(id) ? id : NULL,
                                        "@timestamp", json_is_string(at) ? at : trl_web_time(ts),
                                        "event", ev));
    return 0;
}

/* The triggering events, oldest first: one search for all their ids. */
static json_t *alert_events(struct trl_web_req *rq, const char *ids_json)
{
    json_t *out = json_array();
    json_t *ids = json_or(ids_json, json_array());
    struct trl_buf text = {0};
    trl_buf_puts(&text, "event.id:(");
    size_t i, used = 0;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        const char *s = json_string_value(v);
        if (!s || used == MAX_ALERT_EVENTS || strspn(s, "0123456789abcdefABCDEF") != strlen(s) ||
            !s[0])
            continue;
        if (used++)
            trl_buf_puts(&text, " OR ");
        trl_buf_puts(&text, s);
    }
    trl_buf_puts(&text, ")");
    json_decref(ids);
    struct trl_query *q = NULL;
    struct trl_store_reader *r = NULL;
    if (used && trl_query_parse(text.data, text.len, &q, NULL) == 0 &&
        trl_store_reader_open(rq->web->data_dir, &r) == 0) {
        struct trl_store_search_opts so = {0, INT64_MAX, MAX_ALERT_EVENTS};
        (void)trl_store_search(r, q, &so, on_event, out, NULL);
    }
    trl_store_reader_close(r);
    trl_query_free(q);
    trl_buf_free(&text);
    /* The search returns newest first. */
    size_t n = json_array_size(out);
    json_t *rev = json_array();
    for (size_t k = n; k > 0; k--)
        json_array_append(rev, json_array_get(out, k - 1));
    json_decref(out);
    return rev;
}

/* Sends the alert (with events and comments when full). */
static void send_alert(struct trl_web_req *rq, struct trl_web_resp *rs, struct trl_alert_store *s,
                       int64_t id, bool full, unsigned status)
{
    struct one_ctx c = {.s = s};
    int rc = trl_alert_store_get(s, id, on_one, &c);
    if (rc != 0 || !c.alert) {
        json_decref(c.alert);
        free(c.event_ids_json);
        trl_web_failed(rs, rc, "alert", "cannot read the alert store");
        return;
    }
    if (full) {
        json_t *comments = json_array();
        trl_alert_store_comments(s, id, on_comment, comments);
        json_object_set_new(c.alert, "comments", comments);
        json_object_set_new(c.alert, "events", alert_events(rq, c.event_ids_json));
    }
    free(c.event_ids_json);
    trl_web_json(rs, status, c.alert);
}

void trl_api_alert_get(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    int64_t id;
    if (!alert_id(rq, rs, &id))
        return;
    struct trl_alert_store *s = open_alerts(rq, rs);
    if (!s)
        return;
    send_alert(rq, rs, s, id, true, 200);
    trl_alert_store_close(s);
}

void trl_api_alert_patch(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    int64_t id;
    json_t *body = alert_body(rq, rs, &id);
    if (!body)
        return;
    json_t *jstatus = json_object_get(body, "status");
    json_t *jassignee = json_object_get(body, "assignee");
    const char *status = json_string_value(jstatus);
    const char *assignee = json_string_value(jassignee);
    if ((jstatus && (!status || !status_ok(status)))) {
        trl_web_bad_field(rs, "status", "status: new, acknowledged or closed");
        goto out;
    }
    if (jassignee && !json_is_null(jassignee) &&
        (!assignee || (assignee[0] && !trl_web_name_ok(assignee)))) {
        trl_web_bad_field(rs, "assignee", "assignee: a user name or \"\"");
        goto out;
    }
    if (!jstatus && !jassignee) {
        trl_web_error(rs, 400, "nothing to change: give status and/or assignee");
        goto out;
    }
    struct trl_alert_store *s = open_alerts(rq, rs);
    if (!s)
        goto out;
    int rc = 0;
    if (status)
        rc = trl_alert_store_set_status(s, id, status);
    if (rc == 0 && jassignee)
        rc = trl_alert_store_set_assignee(s, id, assignee ? assignee : "");
    if (rc != 0) {
        trl_web_failed(rs, rc, "alert", "cannot update the alert");
    } else {
        if (status)
            trl_web_audit(rq, "alert-status-changed", "configuration", "change", true, NULL,
                          "alert %lld status set to %s", (long long)id, status);
        if (jassignee)
            trl_web_audit(rq, "alert-assigned", "configuration", "change", true,
                          assignee && assignee[0] ? assignee : NULL, "alert %lld assigned to %s",
                          (long long)id, assignee && assignee[0] ? assignee : "nobody");
        send_alert(rq, rs, s, id, false, 200);
    }
    trl_alert_store_close(s);
out:
    json_decref(body);
}

void trl_api_alert_comment(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    int64_t id;
    json_t *body = alert_body(rq, rs, &id);
    if (!body)
        return;
    const char *text = json_string_value(json_object_get(body, "text"));
    if (!text || !text[0] || strlen(text) > MAX_COMMENT) {
        trl_web_bad_field(rs, "text", "text: 1 to 8192 bytes of text");
        json_decref(body);
        return;
    }
    struct trl_alert_store *s = open_alerts(rq, rs);
    if (s) {
        int64_t now = trl_now_ns();
        int rc = trl_alert_store_add_comment(s, id, rq->user, text, now);
        if (rc != 0) {
            trl_web_failed(rs, rc, "alert", "cannot store the comment");
        } else {
            trl_web_audit(rq, "alert-commented", "configuration", "change", true, NULL,
                          "comment on alert %lld", (long long)id);
            trl_web_json(rs, 201,
                         json_pack("{s:o, s:s, s:s}", "at", trl_web_time(now), "user", rq->user,
                                   "text", text));
        }
        trl_alert_store_close(s);
    }
    json_decref(body);
}

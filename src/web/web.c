/*
 * web: routing, responses, parameters, body decoding and audit events for the API handlers.
 */
#include "web/web.h"
#include "core/log.h"
#include "core/mhd_lib.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "store/timearg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct trl_route *trl_web_route_find(const char *method, const char *path,
                                           struct trl_route_param *params, size_t *nparams,
                                           bool *path_known)
{
    *path_known = false;
    for (const struct trl_route *r = trl_web_routes; r->method; r++) {
        struct trl_route_param p[TRL_ROUTE_MAX_PARAMS];
        size_t n;
        if (!trl_route_match(r->pattern, path, p, &n))
            continue;
        *path_known = true;
        if (strcmp(r->method, method))
            continue;
        memcpy(params, p, sizeof(p));
        *nparams = n;
        return r;
    }
    return NULL;
}

void trl_web_json(struct trl_web_resp *rs, unsigned status, json_t *obj)
{
    free(rs->body);
    rs->body = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
    rs->len = rs->body ? strlen(rs->body) : 0;
    rs->status = rs->body ? status : 500;
    rs->ctype = "application/json; charset=utf-8";
    json_decref(obj);
}

static void verror(struct trl_web_resp *rs, unsigned status, const char *key, long value,
                   const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    json_t *o = json_object();
    /* A message quoting invalid UTF-8 from the request cannot be a JSON string. */
    json_t *text = json_string(msg);
    json_object_set_new(o, "error", text ? text : json_string("invalid text in request"));
    if (key)
        json_object_set_new(o, key, json_integer(value));
    trl_web_json(rs, status, o);
}

void trl_web_error(struct trl_web_resp *rs, unsigned status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(rs, status, NULL, 0, fmt, ap);
    va_end(ap);
}

void trl_web_error_at(struct trl_web_resp *rs, unsigned status, const char *key, long value,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(rs, status, key, value, fmt, ap);
    va_end(ap);
}

void trl_web_no_content(struct trl_web_resp *rs)
{
    free(rs->body);
    rs->body = NULL;
    rs->len = 0;
    rs->status = MHD_HTTP_NO_CONTENT;
}

void trl_web_failed(struct trl_web_resp *rs, int rc, const char *what, const char *failed)
{
    if (rc == -ENOENT)
        trl_web_error(rs, 404, "no such %s", what);
    else
        trl_web_error(rs, 500, "%s", failed);
}

void trl_web_bad_field(struct trl_web_resp *rs, const char *field, const char *msg)
{
    trl_web_json(rs, 400, json_pack("{s:s, s:s}", "error", msg, "field", field));
}

const char *trl_web_arg(const struct trl_web_req *rq, const char *name)
{
    return trl_mhd()->lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *trl_web_header(const struct trl_web_req *rq, const char *name)
{
    return trl_mhd()->lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

bool trl_web_arg_uint(const struct trl_web_req *rq, struct trl_web_resp *rs, const char *name,
                      uint64_t def, uint64_t min, uint64_t max, uint64_t *out)
{
    const char *v = trl_web_arg(rq, name);
    if (!v || !v[0]) {
        *out = def;
        return true;
    }
    uint64_t n;
    if (!trl_parse_u64(v, strlen(v), &n) || n < min || n > max) {
        char msg[160];
        snprintf(msg, sizeof(msg), "%s: a number from %llu to %llu", name, (unsigned long long)min,
                 (unsigned long long)max);
        trl_web_bad_field(rs, name, msg);
        return false;
    }
    *out = n;
    return true;
}

static bool time_arg(const struct trl_web_req *rq, struct trl_web_resp *rs, const char *name,
                     const char *def, bool end, int64_t now, int64_t *out)
{
    const char *v = trl_web_arg(rq, name);
    if (!v || !v[0])
        v = def;
    if (trl_parse_time_arg(v, now, end, out) == 0)
        return true;
    trl_web_bad_field(rs, name,
                      end ? "to: expected RFC 3339, now, or -15m/-24h/-7d"
                          : "from: expected RFC 3339, now, or -15m/-24h/-7d");
    return false;
}

bool trl_web_arg_range(const struct trl_web_req *rq, struct trl_web_resp *rs, const char *def_from,
                       int64_t *from_ns, int64_t *to_ns)
{
    int64_t now = trl_now_ns();
    if (!time_arg(rq, rs, "from", def_from, false, now, from_ns) ||
        !time_arg(rq, rs, "to", "now", true, now, to_ns))
        return false;
    if (*from_ns >= *to_ns) {
        trl_web_error(rs, 400, "the time range is empty (from is not before to)");
        return false;
    }
    return true;
}

bool trl_web_param(const struct trl_web_req *rq, size_t i, char *buf, size_t cap)
{
    if (i >= rq->nparams || rq->params[i].len >= cap)
        return false;
    memcpy(buf, rq->params[i].ptr, rq->params[i].len);
    buf[rq->params[i].len] = '\0';
    return true;
}

json_t *trl_web_body_object(const struct trl_web_req *rq, struct trl_web_resp *rs)
{
    json_error_t e;
    json_t *o = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &e);
    if (!o) {
        trl_web_error_at(rs, 400, "position", (long)e.position, "malformed JSON body: %s", e.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        trl_web_error(rs, 400, "the body must be a JSON object");
        return NULL;
    }
    return o;
}

json_t *trl_web_time(int64_t ns)
{
    char buf[64];
    size_t n = trl_format_rfc3339(ns, buf);
    /* Milliseconds are enough for people and for JavaScript's Date. */
    char *dot = memchr(buf, '.', n);
    if (dot && (size_t)(dot - buf) + 5 <= n) {
        memcpy(dot + 4, "Z", 2);
        n = (size_t)(dot - buf) + 5;
    }
    return json_stringn(buf, n);
}

void trl_web_audit(struct trl_web_req *rq, const char *action, const char *category,
                   const char *type, bool success, const char *target, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int64_t now = trl_now_ns();
    trl_info("audit", "action=%s outcome=%s user=%s source=%s %s", action,
             success ? "success" : "failure", rq->user, rq->client_ip, msg);
    if (!rq->web->pipeline)
        return;
    json_t *ev = json_pack("{s:o, s:s, s:{s:s, s:[s,s], s:[s], s:s, s:s, s:s, s:s}, s:{s:s}}",
                           "@timestamp", trl_web_time(now), "message", msg, "event", "kind",
                           "event", "category", category, "configuration", "type", type, "action",
                           action, "outcome", success ? "success" : "failure", "module", "trapline",
                           "dataset", "trapline.audit", "user", "name", rq->user);
    if (!ev)
        return;
    if (strcmp(rq->client_ip, "unknown"))
        json_object_set_new(ev, "source", json_pack("{s:s}", "ip", rq->client_ip));
    if (target)
        json_object_set_new(json_object_get(ev, "user"), "target",
                            json_pack("{s:s}", "name", target));
    char *line = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (!line)
        return;
    /* The pipeline takes batches from any thread (its queue is locked): the event is parsed,
     * checked by detection and stored like every other one. */
    struct trl_batch *b = trl_pipeline_batch_get(rq->web->pipeline);
    trl_batch_add(b, line, strlen(line), "web-api", now, 0);
    trl_pipeline_submit(rq->web->pipeline, b);
    free(line);
}

/*
 * api_rules: GET /api/v1/rules, GET and PATCH /api/v1/rules/{id}, POST /api/v1/rules (upload) and
 * POST /api/v1/rules/{id}/test, over the Sigma engine (detect/sigma.h). Each call loads the rule
 * files the server evaluates (the configured paths, and DATA/rules where uploads go), so what it
 * shows is what is on disk; whether a rule is on and how often it matched come from the running
 * detector. An upload is checked by compiling it, saved as DATA/rules/<id>.yml, and the running
 * detector is asked to reload (the SIGHUP path of the server). Turning a rule off or on is saved
 * in DATA/rules-state.json (detect/rule_state.h) and handed to the detector at once.
 */
#include "core/arena.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "detect/alerts.h"
#include "detect/rule_state.h"
#include "detect/sigma.h"
#include "formats/parse.h"
#include "store/query.h"
#include "store/store_read.h"
#include "store/timearg.h"
#include "web/web.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_YAML      ((size_t)1 << 20)
#define MAX_TEST_SCAN 200000
#define MAX_MATCHES   1000

/* The first problem reported while loading. */
struct problem {
    char reason[400];
    int line;
    bool set;
};

static void on_problem(void *ud, const char *file, int line, const char *rule, const char *reason,
                       bool unsupported)
{
    (void)file;
    (void)rule;
    (void)unsupported;
    struct problem *p = ud;
    if (p->set)
        return;
    p->set = true;
    p->line = line;
    snprintf(p->reason, sizeof(p->reason), "%s", reason);
}

static void ignore_problem(void *ud, const char *file, int line, const char *rule,
                           const char *reason, bool unsupported)
{
    (void)ud;
    (void)file;
    (void)line;
    (void)rule;
    (void)reason;
    (void)unsupported;
}

static void local_dir(const struct trl_web *w, char *out, size_t cap)
{
    snprintf(out, cap, "%s/rules", w->data_dir);
}

/* Every rule the server evaluates: the configured paths, plus DATA/rules when uploads count. */
static struct trl_sigma_ruleset *load_all(const struct trl_web *w)
{
    struct trl_sigma_ruleset *rs = trl_sigma_ruleset_create();
    char local[4096];
    local_dir(w, local, sizeof(local));
    bool have_local = false;
    for (size_t i = 0; i < w->nrule_paths; i++) {
        (void)trl_sigma_load_path(rs, w->rule_paths[i], ignore_problem, NULL);
        have_local |= !strcmp(w->rule_paths[i], local);
    }
    struct stat st;
    if (w->local_rules && !have_local && stat(local, &st) == 0 && S_ISDIR(st.st_mode))
        (void)trl_sigma_load_path(rs, local, ignore_problem, NULL);
    trl_sigma_ruleset_finalize(rs, ignore_problem, NULL);
    return rs;
}

static void count_hits(void *ud, const struct trl_alert_row *row)
{
    if (!row->rule_id)
        return;
    json_t *hits = ud;
    json_int_t n = json_integer_value(json_object_get(hits, row->rule_id));
    json_object_set_new(hits, row->rule_id, json_integer(n + row->count));
}

/* What the rule files do not say: whether each rule is on and how often it matched. */
struct rule_view {
    json_t *live;   /* id -> matches since the server started (the detector's counters) */
    json_t *alerts; /* id -> events counted by its alerts in alerts.db (see alerts.h) */
    struct trl_rule_state state; /* DATA/rules-state.json, when no detector runs */
};

static void live_hits(void *ud, const char *id, bool enabled, uint64_t hits)
{
    (void)enabled;
    json_object_set_new(ud, id, json_integer((json_int_t)hits));
}

static void view_open(const struct trl_web *w, struct rule_view *v)
{
    v->live = json_object();
    v->alerts = json_object();
    memset(&v->state, 0, sizeof(v->state));
    if (w->detector)
        trl_detector_each_rule(w->detector, live_hits, v->live);
    else
        (void)trl_rule_state_load(w->data_dir, &v->state);
    struct trl_alert_store *as = trl_alert_store_open(w->data_dir, 0, true);
    if (as) {
        struct trl_alert_filter f = {.limit = 1000000};
        (void)trl_alert_store_list(as, &f, count_hits, v->alerts);
        trl_alert_store_close(as);
    }
}

static void view_close(struct rule_view *v)
{
    json_decref(v->live);
    json_decref(v->alerts);
    trl_rule_state_free(&v->state);
}

/* On unless the state in effect turns it off: the detector's, or the saved one without it. */
static bool rule_enabled(const struct trl_web *w, const struct rule_view *v, const char *id)
{
    if (!id)
        return true;
    if (w->detector)
        return trl_detector_rule_enabled(w->detector, id);
    return !trl_rule_state_is_disabled(&v->state, id);
}

static json_int_t count_of(json_t *counts, const char *id)
{
    return id && counts ? json_integer_value(json_object_get(counts, id)) : 0;
}

static json_t *rule_json(const struct trl_web *w, const struct trl_sigma_rule_info *in,
                         const struct rule_view *v)
{
    json_t *tags = json_array();
    for (size_t i = 0; i < in->ntags; i++)
        json_array_append_new(tags, json_string(in->tags[i]));
    json_t *ls = json_object();
    if (in->logsource) {
        if (in->logsource->product)
            json_object_set_new(ls, "product", json_string(in->logsource->product));
        if (in->logsource->category)
            json_object_set_new(ls, "category", json_string(in->logsource->category));
        if (in->logsource->service)
            json_object_set_new(ls, "service", json_string(in->logsource->service));
    }
    return json_pack("{s:s?, s:s?, s:s?, s:o, s:b, s:I, s:I, s:s?, s:i, s:o, s:s, s:s?}", "id",
                     in->id, "title", in->title, "level", in->level, "tags", tags, "enabled",
                     rule_enabled(w, v, in->id), "hits", count_of(v->live, in->id), "alert_hits",
                     count_of(v->alerts, in->id), "file", in->file, "line", in->line, "logsource",
                     ls, "kind", in->correlation ? "correlation" : "rule", "type", in->type);
}

void trl_api_rules_list(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    struct trl_sigma_ruleset *set = load_all(rq->web);
    struct rule_view v;
    view_open(rq->web, &v);
    json_t *list = json_array();
    size_t n = trl_sigma_rule_count(set);
    for (size_t i = 0; i < n; i++) {
        struct trl_sigma_rule_info in;
        trl_sigma_rule_get_info(set, i, &in);
        json_t *r = rule_json(rq->web, &in, &v);
        if (r)
            json_array_append_new(list, r);
    }
    view_close(&v);
    trl_sigma_ruleset_destroy(set);
    trl_web_json(rs, 200, json_pack("{s:o}", "rules", list));
}

/* The index of the rule with this id, or -1. */
static long find_rule(const struct trl_sigma_ruleset *set, const char *id,
                      struct trl_sigma_rule_info *out)
{
    size_t n = trl_sigma_rule_count(set);
    for (size_t i = 0; i < n; i++) {
        trl_sigma_rule_get_info(set, i, out);
        if (out->id && !strcmp(out->id, id))
            return (long)i;
    }
    return -1;
}

static char *read_file(const char *path, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = trl_xmalloc(cap + 1);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

void trl_api_rule_get(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    char id[160];
    if (!trl_web_param(rq, 0, id, sizeof(id))) {
        trl_web_error(rs, 404, "no such rule");
        return;
    }
    struct trl_sigma_ruleset *set = load_all(rq->web);
    struct trl_sigma_rule_info in;
    if (find_rule(set, id, &in) < 0) {
        trl_sigma_ruleset_destroy(set);
        trl_web_error(rs, 404, "no such rule");
        return;
    }
    struct rule_view v;
    view_open(rq->web, &v);
    json_t *r = rule_json(rq->web, &in, &v);
    view_close(&v);
    char *yaml = in.file ? read_file(in.file, MAX_YAML) : NULL;
    json_t *y = yaml ? json_string(yaml) : NULL;
    json_object_set_new(r, "yaml", y ? y : json_null());
    free(yaml);
    trl_sigma_ruleset_destroy(set);
    trl_web_json(rs, 200, r);
}

/* Sigma ids are UUIDs; anything that could not be a plain file name is refused. */
static bool id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 100 || id[0] == '.')
        return false;
    return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

/* Writes data to dir/name atomically (temporary file, fsync, rename). 0 or a negative errno. */
static int write_atomic(const char *dir, const char *name, const char *data, size_t len)
{
    char tmp[4096], path[4096];
    if (snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= (int)sizeof(tmp) ||
        snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0)
        return -errno;
    bool ok = write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno ? errno : EIO;
        unlink(tmp);
        return -e;
    }
    return 0;
}

void trl_api_rules_upload(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    if (!rq->body_len) {
        trl_web_error(rs, 400, "the body must be a Sigma rule in YAML");
        return;
    }
    struct problem p = {0};
    struct trl_sigma_ruleset *set = trl_sigma_ruleset_create();
    int n = trl_sigma_load_buffer(set, "upload", rq->body, rq->body_len, on_problem, &p);
    if (!p.set && n > 0)
        trl_sigma_ruleset_finalize(set, on_problem, &p);
    struct trl_sigma_rule_info in = {0};
    if (n > 0)
        trl_sigma_rule_get_info(set, 0, &in);
    if (p.set || n <= 0) {
        trl_web_error_at(rs, 400, "line", p.line, "%s", p.set ? p.reason : "no rule in the body");
    } else if (!in.id || !id_ok(in.id)) {
        trl_web_error(rs, 400, "the rule needs an id (a UUID)");
    } else {
        char dir[4096], name[160];
        local_dir(rq->web, dir, sizeof(dir));
        snprintf(name, sizeof(name), "%s.yml", in.id);
        int rc = mkdir(dir, 0750) == 0 || errno == EEXIST ? 0 : -errno;
        if (rc == 0)
            rc = write_atomic(dir, name, rq->body, rq->body_len);
        if (rc != 0) {
            trl_web_error(rs, 500, "cannot save the rule: %s", strerror(-rc));
        } else {
            char path[4096 + 160];
            snprintf(path, sizeof(path), "%s/%s", dir, name);
            trl_web_audit(rq, "rule-uploaded", "configuration", "creation", true, NULL,
                          "Sigma rule %s uploaded to %s", in.id, path);
            struct rule_view v = {0};
            (void)trl_rule_state_load(rq->web->data_dir, &v.state);
            json_t *r = rule_json(rq->web, &in, &v);
            trl_rule_state_free(&v.state);
            json_object_set_new(r, "file", json_string(path));
            /* The server reloads its configuration and rules on SIGHUP; uploads take that same
             * path, so the new rule goes live the way an edited file does. */
            json_object_set_new(r, "loaded", json_boolean(rq->web->local_rules));
            if (rq->web->local_rules)
                raise(SIGHUP);
            trl_web_json(rs, 201, r);
        }
    }
    trl_sigma_ruleset_destroy(set);
}

void trl_api_rule_patch(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    char id[160];
    if (!trl_web_param(rq, 0, id, sizeof(id))) {
        trl_web_error(rs, 404, "no such rule");
        return;
    }
    json_t *body = trl_web_body_object(rq, rs);
    if (!body)
        return;
    json_t *en = json_object_get(body, "enabled");
    if (!json_is_boolean(en)) {
        trl_web_bad_field(rs, "enabled", "enabled: true or false");
        json_decref(body);
        return;
    }
    bool enabled = json_is_true(en);
    json_decref(body);
    struct trl_sigma_ruleset *set = load_all(rq->web);
    struct trl_sigma_rule_info in;
    if (find_rule(set, id, &in) < 0) {
        trl_sigma_ruleset_destroy(set);
        trl_web_error(rs, 404, "no such rule");
        return;
    }
    bool changed = false;
    int rc = trl_rule_state_set(rq->web->data_dir, id, enabled, &changed);
    if (rc != 0) {
        trl_sigma_ruleset_destroy(set);
        trl_web_error(rs, 500, "cannot save the rule state: %s", trl_strerror(rc));
        return;
    }
    /* The detector takes the new state before its next batch: no reload, no restart. */
    if (rq->web->detector)
        (void)trl_detector_load_rule_state(rq->web->detector);
    if (changed)
        trl_web_audit(rq, enabled ? "rule-enabled" : "rule-disabled", "configuration", "change",
                      true, NULL, "Sigma rule %s turned %s", id, enabled ? "on" : "off");
    struct rule_view v;
    view_open(rq->web, &v);
    json_t *r = rule_json(rq->web, &in, &v);
    view_close(&v);
    trl_sigma_ruleset_destroy(set);
    trl_web_json(rs, 200, r);
}

/* ---- test ---------------------------------------------------------------------------------- */

struct test_ctx {
    struct trl_sigma_ruleset *set;
    struct trl_sigma_scratch *scratch;
    struct trl_arena *arena;
    long index; /* the rule under test */
    json_t *matches;
    size_t limit;
    uint64_t scanned;
    bool hit;
};

static void on_match(void *ud, const struct trl_sigma_match *m)
{
    struct test_ctx *c = ud;
    if ((long)m->rule_index == c->index)
        c->hit = true;
}

static int on_event(void *ud, int64_t ts, const char *json, size_t len)
{
    struct test_ctx *c = ud;
    if (c->scanned++ >= MAX_TEST_SCAN)
        return 1;
    trl_arena_reset(c->arena);
    struct trl_event *ev = trl_event_create(c->arena, json, len, trl_now_ns());
    trl_parse_event(ev, TRL_FORMAT_JSON);
    c->hit = false;
    trl_sigma_eval(c->set, c->scratch, ev, c->scanned, on_match, c);
    if (!c->hit)
        return 0;
    json_t *obj = json_loadb(json, len, 0, NULL);
    json_t *id = json_object_get(json_object_get(obj, "event"), "id");
    json_t *at = json_object_get(obj, "@timestamp");
    json_array_append_new(c->matches,
                          json_pack("{s:O?, s:O, s:o}", "id", json_is_string(id) ? id : NULL,
                                    "@timestamp", json_is_string(at) ? at : trl_web_time(ts),
                                    "event", obj ? obj : json_object()));
    return json_array_size(c->matches) >= c->limit ? 1 : 0;
}

void trl_api_rule_test(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    char id[160];
    if (!trl_web_param(rq, 0, id, sizeof(id))) {
        trl_web_error(rs, 404, "no such rule");
        return;
    }
    json_t *body = rq->body_len ? trl_web_body_object(rq, rs) : json_object();
    if (!body)
        return;
    const char *from_s = json_string_value(json_object_get(body, "from"));
    const char *to_s = json_string_value(json_object_get(body, "to"));
    json_t *jlimit = json_object_get(body, "limit");
    /* A limit that is not an integer is as wrong as one out of range. */
    json_int_t limit = !jlimit ? 100 : json_is_integer(jlimit) ? json_integer_value(jlimit) : 0;
    int64_t now = trl_now_ns(), from, to;
    if (limit < 1 || limit > MAX_MATCHES) {
        trl_web_bad_field(rs, "limit", "limit: 1 to 1000");
        goto out_body;
    }
    if (trl_parse_time_arg(from_s ? from_s : "-24h", now, false, &from) != 0 ||
        trl_parse_time_arg(to_s ? to_s : "now", now, true, &to) != 0 || from >= to) {
        trl_web_bad_field(rs, from_s ? "from" : "to",
                          "from/to: RFC 3339 or -15m/-24h/-7d, from before to");
        goto out_body;
    }
    struct test_ctx c = {.set = load_all(rq->web), .limit = (size_t)limit};
    struct trl_sigma_rule_info in;
    c.index = find_rule(c.set, id, &in);
    if (c.index < 0) {
        trl_sigma_ruleset_destroy(c.set);
        trl_web_error(rs, 404, "no such rule");
        goto out_body;
    }
    c.scratch = trl_sigma_scratch_create(c.set);
    c.arena = trl_arena_create(0);
    c.matches = json_array();
    struct trl_query *q = NULL;
    struct trl_store_reader *r = NULL;
    int rc = trl_query_parse("", 0, &q, NULL);
    if (rc == 0)
        rc = trl_store_reader_open(rq->web->data_dir, &r);
    if (rc == 0) {
        struct trl_store_search_opts so = {from, to, 0};
        rc = trl_store_scan(r, q, &so, false, on_event, &c, NULL);
    }
    if (rc == 0 || rc == 1 || rc == -ENOENT)
        trl_web_json(rs, 200,
                     json_pack("{s:O, s:I}", "matches", c.matches, "scanned",
                               (json_int_t)TRL_MIN(c.scanned, (uint64_t)MAX_TEST_SCAN)));
    else
        trl_web_error(rs, 500, "cannot read the event store: %s", trl_strerror(rc));
    json_decref(c.matches);
    trl_store_reader_close(r);
    trl_query_free(q);
    trl_arena_destroy(c.arena);
    trl_sigma_scratch_destroy(c.scratch);
    trl_sigma_ruleset_destroy(c.set);
out_body:
    json_decref(body);
}

/*
 * web: what the REST API handlers (api_*.c) share: the server context, the request and response
 * of one call, the route table, and helpers for JSON, errors, parameters and audit events.
 *
 * A handler runs on one of the HTTP server's threads with a request that has passed
 * authentication, the role check and the CSRF check of its route. It fills the response
 * (trl_web_json, trl_web_error ...) and returns; the server adds the headers and sends it.
 * Handlers open what they read per call (store reader, alert store), so they share no state but
 * the context's, whose members are thread-safe.
 */
#ifndef TRL_WEB_WEB_H
#define TRL_WEB_WEB_H

#include "detect/detector.h"
#include "server/pipeline.h"
#include "server/server.h"
#include "web/http_parse.h"
#include "web/overview.h"
#include "web/sessions.h"
#include "web/users.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRL_WEB_BODY_MAX     ((size_t)1 << 20)
#define TRL_WEB_BODY_MAX_BIG ((size_t)8 << 20)
#define TRL_WEB_USER_FAILS   5  /* failed logins per user name before it is locked */
#define TRL_WEB_ADDR_FAILS   20 /* ... per client address (several people may share one) */

struct trl_web {
    char *data_dir;
    struct trl_users *users;
    struct trl_sessions *sessions;
    struct trl_throttle *throttle;
    struct trl_pipeline *pipeline; /* may be NULL */
    int64_t started_ns;
    char **rule_paths; /* the Sigma rule files and directories the detector loads */
    size_t nrule_paths;
    bool local_rules;              /* DATA/rules (uploads) is evaluated too */
    char *agents_address;          /* the agent listener's address, for enrollment commands */
    struct trl_detector *detector; /* the running detector, or NULL (not owned) */
    const struct trl_server_counters *listener_counters; /* or NULL (not owned) */
    struct trl_overview_cache *overview;                 /* counts of GET /overview */
};

struct trl_web_req {
    struct trl_web *web;
    void *conn; /* struct MHD_Connection */
    const char *method;
    const char *path;
    struct trl_route_param params[TRL_ROUTE_MAX_PARAMS];
    size_t nparams;
    const char *body; /* NUL-terminated; "" when there is none */
    size_t body_len;
    char client_ip[64];
    /* Who is calling: a user with a session, or an API token ("token:NAME"). */
    char user[80];
    int role;
    bool session;
    char session_id[TRL_SESSION_ID_LEN + 1];
    char csrf[TRL_SESSION_ID_LEN + 1]; /* the session's CSRF token */
    bool csrf_ok; /* false: a session request that changes something without the right token */
};

struct trl_web_resp {
    unsigned status;
    char *body; /* malloc'd */
    size_t len;
    const char *ctype;
    char set_cookie[200];
    long retry_after_s; /* > 0: a Retry-After header */
};

enum trl_route_flags {
    TRL_ROUTE_PUBLIC = 1 << 0,   /* no authentication */
    TRL_ROUTE_BIG_BODY = 1 << 1, /* uploads up to TRL_WEB_BODY_MAX_BIG */
    TRL_ROUTE_NO_CSRF = 1 << 2,  /* changes nothing a forged request could abuse (login) */
};

typedef void (*trl_web_handler)(struct trl_web_req *rq, struct trl_web_resp *rs);

struct trl_route {
    const char *method;
    const char *pattern;
    trl_web_handler fn;
    int min_role; /* enum trl_role */
    unsigned flags;
};

/* The route table (api_routes.c), ended by a NULL method. */
extern const struct trl_route trl_web_routes[];

/* Finds the route for a request. Returns it, or NULL with *path_known true when the path exists
 * under another method (405). */
const struct trl_route *trl_web_route_find(const char *method, const char *path,
                                           struct trl_route_param *params, size_t *nparams,
                                           bool *path_known);

/* Responses. trl_web_json takes the reference to obj. */
void trl_web_json(struct trl_web_resp *rs, unsigned status, json_t *obj);
void trl_web_error(struct trl_web_resp *rs, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An error with one more integer member: "position", "line". */
void trl_web_error_at(struct trl_web_resp *rs, unsigned status, const char *key, long value,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void trl_web_no_content(struct trl_web_resp *rs);
/* Answers an operation on what the path names that failed with rc: 404 "no such <what>" when
 * rc is -ENOENT, else 500 with the message failed. */
void trl_web_failed(struct trl_web_resp *rs, int rc, const char *what, const char *failed);
/* 400 for a bad request member or parameter: {"error": msg, "field": field}. */
void trl_web_bad_field(struct trl_web_resp *rs, const char *field, const char *msg);

/* A query-string parameter (decoded), or NULL. */
const char *trl_web_arg(const struct trl_web_req *rq, const char *name);
/* An unsigned query parameter in [min, max] or def when absent; false (and a 400 in rs) when
 * malformed. */
bool trl_web_arg_uint(const struct trl_web_req *rq, struct trl_web_resp *rs, const char *name,
                      uint64_t def, uint64_t min, uint64_t max, uint64_t *out);
/* from/to parameters (RFC 3339 or relative) with defaults; false and a 400 when malformed. */
bool trl_web_arg_range(const struct trl_web_req *rq, struct trl_web_resp *rs, const char *def_from,
                       int64_t *from_ns, int64_t *to_ns);
/* A request header, or NULL. */
const char *trl_web_header(const struct trl_web_req *rq, const char *name);
/* The path parameter i as a NUL-terminated copy in buf; false when it does not fit. */
bool trl_web_param(const struct trl_web_req *rq, size_t i, char *buf, size_t cap);

/* Parses the body as a JSON object. NULL and a 400 in rs when it is not one. */
json_t *trl_web_body_object(const struct trl_web_req *rq, struct trl_web_resp *rs);

/* Records a change (or a login) made through the API as an event in the store, and in the log
 * (ECS: event.kind event, event.category [category, "configuration"], event.type [type],
 * event.action action, event.outcome success or failure, user.name the caller, source.ip the
 * client, user.target.name target when given, message text). */
void trl_web_audit(struct trl_web_req *rq, const char *action, const char *category,
                   const char *type, bool success, const char *target, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* The enrolled agents as the API shows them (all, or only the silent ones). */
json_t *trl_web_agents(const struct trl_web *w, bool silent_only);

/* Parses a search query; false with a 400 in rs carrying the position of the fault. */
struct trl_query;
bool trl_web_parse_query(const char *q, struct trl_web_resp *rs, struct trl_query **out);
/* The same for endpoints that take no pipes (`| stats` ...): those give a 400 naming `what`. */
bool trl_web_parse_query_no_pipes(const char *q, const char *what, struct trl_web_resp *rs,
                                  struct trl_query **out);
/* {"id","@timestamp","event"} for a stored event's parsed JSON (the reference to ev is taken);
 * NULL when ev is not an object. ts is used when the event has no @timestamp. */
json_t *trl_web_event_item(int64_t ts, json_t *ev);

/* RFC 3339 text (UTC, milliseconds) of a nanosecond time into a JSON string. */
json_t *trl_web_time(int64_t ns);

/* Handlers, by area. */
void trl_api_health(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_metrics(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_openapi(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_login(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_logout(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_me(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_search(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_search_tail(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_event(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_histogram(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_overview(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_alerts_list(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_alert_get(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_alert_patch(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_alert_comment(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_agents(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_agent_token(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_agent_revoke(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_rules_list(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_rule_get(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_rule_patch(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_rules_upload(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_rule_test(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_iocs_list(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_iocs_import(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_feeds(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_sightings(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_users_list(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_users_add(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_users_patch(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_users_remove(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_tokens_list(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_tokens_create(struct trl_web_req *rq, struct trl_web_resp *rs);
void trl_api_tokens_revoke(struct trl_web_req *rq, struct trl_web_resp *rs);

#endif

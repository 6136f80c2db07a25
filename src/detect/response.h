/*
 * response: active response. An alert of a configured rule (response.rules) or of at least a
 * level (response.min_level) makes Trapline act on the host it runs on: block the alert's source
 * address in nftables for a while, kill the alert's process, or lock the alert's user account.
 *
 * An action is first decided as a request, a small JSON object
 *   {"action":"block-ip","ip":"203.0.113.45","timeout":3600,"rule_id":"..."}
 *   {"action":"kill-process","pid":4242,"rule_id":"..."}
 *   {"action":"lock-account","user":"eve","rule_id":"..."}
 * that is then executed on this host, or, when the alert's event came from a Trapline agent
 * (received from the agent listener, with agent.id) and a route is configured, handed to the route,
 * which sends it to that agent; the agent executes it with the same code
 * (trl_response_execute_result). The safety checks (allowlist, pid, account) are made when deciding
 * and again when executing, so a request from elsewhere gets the same checks. Every action, its
 * refusal and the end of a block becomes an event (event.category intrusion_detection, event.action
 * ip-blocked, ip-unblocked, process-killed, account-locked or action-refused, rule.id) handed to
 * the emit callback, which puts it into the pipeline (or, on an agent, the spool) like any received
 * event.
 *
 * Commands run without a shell (nft, usermod, passwd), with fixed arguments and targets that were
 * parsed and re-formatted first (an address in canonical form, a user name of safe characters).
 *
 * Ownership: struct trl_response owns its thread, its queue and copies of the configuration's
 * strings. Threads: trl_response_alert() may be called from one thread (the pipeline worker); the
 * actions run on the response thread (or in the caller with synchronous set); emit is called on
 * the thread that runs the action, route on the thread of trl_response_alert().
 */
#ifndef TRL_RESPONSE_H
#define TRL_RESPONSE_H

#include "core/buf.h"
#include "core/event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* In the order of the response.action names in the configuration. */
enum trl_response_action {
    TRL_RESPONSE_BLOCK_IP,
    TRL_RESPONSE_KILL_PROCESS,
    TRL_RESPONSE_LOCK_ACCOUNT,
};

struct trl_response_request {
    enum trl_response_action action;
    char target[256];  /* the address, the pid in decimal, or the user name */
    int64_t timeout_s; /* block-ip: how long; otherwise 0 */
    char rule_id[128];
};

/* What the response does to the system, replaceable for tests. Each returns 0 or a negative error
 * with a reason in err. */
struct trl_response_ops {
    /* Runs argv[0] (looked up in PATH) with argv, without a shell; 0 when it exits with 0. */
    int (*run)(void *ud, const char *const *argv, char *err, size_t errlen);
    int (*kill)(void *ud, int64_t pid, char *err, size_t errlen);
    /* The UID of a local account, or -ENOENT. */
    int (*user_uid)(void *ud, const char *user, int64_t *uid);
    /* Calls add for each address of this host's interfaces, as text. */
    void (*own_addresses)(void *ud, void (*add)(void *ctx, const char *ip), void *ctx);
    void *ud;
};

struct trl_response_config {
    const char *const *rules; /* "RULE_ID:ACTION" or "RULE_ID:ACTION:TIMEOUT" */
    size_t nrules;
    int min_level; /* 0: off; 1 informational .. 5 critical */
    enum trl_response_action level_action;
    int64_t timeout_ms;           /* of a block whose rule names none; 0 = 1 hour */
    const char *const *allowlist; /* addresses and CIDRs never blocked */
    size_t nallowlist;
    bool lock_system_accounts;          /* allow UIDs below 1000 (never 0) */
    int64_t self_pid;                   /* never killed; 0 = getpid() */
    const struct trl_response_ops *ops; /* NULL: the real system */
    /* Receives each response event as one ECS JSON object; NULL drops them (after logging). */
    void (*emit)(void *ud, const char *json, size_t len);
    void *emit_ud;
    /* Hands a decided (and checked) request for an event of agent_id to that agent. Returns 0, or
     * a negative error with the reason in err, in which case the action is recorded as failed.
     * NULL: every action runs on this host. */
    int (*route)(void *ud, const char *agent_id, const struct trl_response_request *req, char *err,
                 size_t errlen);
    void *route_ud;
    bool synchronous; /* run actions in the caller, no thread (tests, the agent) */
};

/* What trl_response_execute_result() did. */
enum trl_response_result {
    TRL_RESPONSE_DONE,      /* the action was carried out */
    TRL_RESPONSE_UNCHANGED, /* nothing to do: the address is already blocked long enough */
    TRL_RESPONSE_FAILED,    /* tried, and the command failed */
    TRL_RESPONSE_REFUSED,   /* not tried: the checks refused it */
};

struct trl_config;
/* Fills out from Trapline's configuration (response.*); out points into cfg. */
void trl_response_config_from(struct trl_response_config *out, const struct trl_config *cfg);
/* True when a rule or a level asks for responses. */
bool trl_response_configured(const struct trl_response_config *c);

/* Returns NULL (after logging why) when a response.rules item or an allowlist entry is unusable. */
struct trl_response *trl_response_create(const struct trl_response_config *c);
/* Stops the thread after the queued actions; NULL-safe. */
void trl_response_destroy(struct trl_response *r);
/* From now on response events are dropped (logged) instead of emitted: call before the pipeline
 * that emit feeds goes away. */
void trl_response_detach(struct trl_response *r);

/* An alert: what it asks for is decided, checked and queued (or run, when synchronous). ev is the
 * event that raised it (for a correlation, the last one); group values are used when the event
 * lacks the field. */
void trl_response_alert(struct trl_response *r, const char *rule_id, const char *level,
                        const struct trl_event *ev, const char *const *group_fields,
                        const char *const *group_values, size_t ngroup);

/* The action an alert asks for: 1 with req filled, 0 when none is configured or the alert lacks
 * the field the action needs, or a negative error when the action is refused (the reason in why).
 */
int trl_response_decide(struct trl_response *r, const char *rule_id, const char *level,
                        const struct trl_event *ev, const char *const *group_fields,
                        const char *const *group_values, size_t ngroup,
                        struct trl_response_request *req, char *why, size_t whylen);
/* Checks and runs one request on this host and emits its event. Returns 0 or a negative error. */
int trl_response_execute(struct trl_response *r, const struct trl_response_request *req, char *err,
                         size_t errlen);
/* The same, telling what was done in *res (may be NULL). */
int trl_response_execute_result(struct trl_response *r, const struct trl_response_request *req,
                                char *err, size_t errlen, enum trl_response_result *res);
/* Records req as not done, without checking or running it: refused (event.action
 * action-refused) or failed (ip-blocked, process-killed or account-locked with outcome failure),
 * with the reason why. */
void trl_response_record(struct trl_response *r, const struct trl_response_request *req,
                         enum trl_response_result res, const char *why);
/* Emits ip-unblocked for every block whose timeout has passed by now_ns. */
void trl_response_expire(struct trl_response *r, int64_t now_ns);
/* When the next block ends (wall clock, ns), INT64_MAX when none: with synchronous set, the
 * caller schedules trl_response_expire() by it. */
int64_t trl_response_next_expiry(const struct trl_response *r);
/* The event.action recorded for a request with that result: "ip-blocked", "process-killed",
 * "account-locked", or "action-refused". */
const char *trl_response_event_action(enum trl_response_action a, enum trl_response_result res);

/* True when ip (any textual form) may never be blocked: loopback, unspecified, one of this host's
 * addresses or in the allowlist. Also true for text that is not an address. */
bool trl_response_ip_protected(struct trl_response *r, const char *ip);

/* The request as its JSON object. */
void trl_response_request_json(const struct trl_response_request *req, struct trl_buf *out);
/* Parses such an object. Returns 0 or TRL_EINVAL. */
int trl_response_request_parse(const char *json, size_t len, struct trl_response_request *out);
const char *trl_response_action_name(enum trl_response_action a);

#endif

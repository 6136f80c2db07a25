/*
 * api_agents: GET /api/v1/agents, POST /api/v1/agents/tokens and POST
 * /api/v1/agents/{id}/revoke, over the agent registry (server/agent_registry.h) and enrollment
 * tokens (server/enroll_token.h).
 */
#include "core/buf.h"
#include "core/util.h"
#include "server/agent_registry.h"
#include "server/enroll_token.h"
#include "web/web.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define TOKEN_TTL_DEFAULT 3600
#define TOKEN_TTL_MAX     (30 * 86400)

/* The registry, or NULL when no agent has ever enrolled (DATA/agents.db does not exist): reading
 * must not create it. */
static struct trl_agent_registry *open_registry(const struct trl_web *w, bool create)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/agents.db", w->data_dir);
    if (!create && stat(path, &st) != 0)
        return NULL;
    return trl_agent_registry_open(w->data_dir);
}

struct list_ctx {
    struct trl_buf buf;
    int64_t now;
    size_t n;
    bool silent_only;
};

static void on_agent(void *ud, const struct trl_agent_info *a)
{
    struct list_ctx *c = ud;
    if (c->silent_only && strcmp(trl_agent_status(a, c->now), "silent"))
        return;
    if (c->n++)
        trl_buf_putc(&c->buf, ',');
    trl_agent_info_json(a, c->now, &c->buf);
}

json_t *trl_web_agents(const struct trl_web *w, bool silent_only)
{
    struct trl_agent_registry *reg = open_registry(w, false);
    if (!reg)
        return json_array();
    struct list_ctx c = {.now = (int64_t)time(NULL), .silent_only = silent_only};
    trl_buf_putc(&c.buf, '[');
    int rc = trl_agent_registry_list(reg, on_agent, &c);
    trl_agent_registry_close(reg);
    trl_buf_putc(&c.buf, ']');
    json_t *arr = rc == 0 ? json_loadb(c.buf.data, c.buf.len, 0, NULL) : NULL;
    trl_buf_free(&c.buf);
    return arr ? arr : json_array();
}

void trl_api_agents(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    trl_web_json(rs, 200, json_pack("{s:o}", "agents", trl_web_agents(rq->web, false)));
}

/* A listen address names no host an agent could reach when it is a wildcard. */
static bool reachable(const char *addr)
{
    return addr && addr[0] && strncmp(addr, "0.0.0.0:", 8) && strncmp(addr, "[::]:", 5) &&
           strncmp(addr, ":", 1) && strncmp(addr, "*:", 2);
}

void trl_api_agent_token(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    json_t *body = rq->body_len ? trl_web_body_object(rq, rs) : json_object();
    if (!body)
        return;
    json_t *jserver = json_object_get(body, "server");
    json_t *jttl = json_object_get(body, "ttl_s");
    const char *server = jserver ? json_string_value(jserver) : rq->web->agents_address;
    json_int_t ttl = !jttl                   ? TOKEN_TTL_DEFAULT
                     : json_is_integer(jttl) ? json_integer_value(jttl)
                                             : 0;
    if (jserver && (!server || !server[0] || strlen(server) > TRL_TOKEN_SERVER_MAX ||
                    strpbrk(server, " \t\r\n\"'"))) {
        trl_web_bad_field(rs, "server", "server: HOST:PORT");
        goto out;
    }
    if (ttl < 60 || ttl > TOKEN_TTL_MAX) {
        trl_web_bad_field(rs, "ttl_s", "ttl_s: 60 to 2592000 seconds");
        goto out;
    }
    if (!reachable(server))
        server = NULL;
    char ca[4096];
    snprintf(ca, sizeof(ca), "%s/keys/ca.crt", rq->web->data_dir);
    struct trl_agent_registry *reg = open_registry(rq->web, true);
    char token[TRL_TOKEN_TEXT_MAX];
    int rc =
        reg ? trl_enroll_token_create(reg, ca, (int64_t)ttl, server, token, sizeof(token)) : -EIO;
    trl_agent_registry_close(reg);
    if (rc != 0) {
        trl_web_error(rs, 500, "cannot create an enrollment token: %s", trl_strerror(rc));
        goto out;
    }
    char command[TRL_TOKEN_TEXT_MAX + 400];
    snprintf(command, sizeof(command), "trapline agent enroll --server %s --token %s",
             server ? server : "HOST:PORT", token);
    trl_web_audit(rq, "agent-token-created", "configuration", "creation", true, NULL,
                  "agent enrollment token created, valid %lld s", (long long)ttl);
    trl_web_json(rs, 201,
                 json_pack("{s:s, s:o, s:s}", "token", token, "expires",
                           trl_web_time(((int64_t)time(NULL) + ttl) * 1000000000LL), "command",
                           command));
out:
    json_decref(body);
}

void trl_api_agent_revoke(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    char id[256];
    if (!trl_web_param(rq, 0, id, sizeof(id))) {
        trl_web_error(rs, 404, "no such agent");
        return;
    }
    struct trl_agent_registry *reg = open_registry(rq->web, false);
    int rc = reg ? trl_agent_registry_revoke(reg, id) : -ENOENT;
    trl_agent_registry_close(reg);
    if (rc == -ENOENT) {
        trl_web_error(rs, 404, "no such agent");
    } else if (rc == -EALREADY) {
        trl_web_error(rs, 409, "the agent is already revoked");
    } else if (rc != 0) {
        trl_web_error(rs, 500, "cannot revoke the agent");
    } else {
        trl_web_audit(rq, "agent-revoked", "configuration", "deletion", true, NULL,
                      "agent %s revoked", trl_web_name_ok(id) ? id : "(id)");
        trl_web_no_content(rs);
    }
}

/*
 * api_users: GET/POST /api/v1/users, PATCH/DELETE /api/v1/users/{name}, GET/POST /api/v1/tokens,
 * DELETE /api/v1/tokens/{id} (admin only), over web/users.h.
 */
#include "core/util.h"
#include "web/web.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void on_user(void *ud, const struct trl_user_row *r)
{
    json_array_append_new(ud, json_pack("{s:s, s:s, s:o}", "name", r->name, "role",
                                        trl_role_name(r->role), "created",
                                        trl_web_time(r->created_ns)));
}

void trl_api_users_list(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    json_t *users = json_array();
    if (trl_users_list(rq->web->users, on_user, users) < 0) {
        json_decref(users);
        trl_web_error(rs, 500, "cannot read the user database");
        return;
    }
    trl_web_json(rs, 200, json_pack("{s:o}", "users", users));
}

static const char role_rule[] = "role: admin, analyst or viewer";

/* The role member of a body: -1 when absent, -2 (and a 400) when not a role. */
static int body_role(json_t *body, struct trl_web_resp *rs)
{
    json_t *v = json_object_get(body, "role");
    if (!v)
        return -1;
    int role = json_is_string(v) ? trl_role_parse(json_string_value(v)) : -1;
    if (role < 0) {
        trl_web_bad_field(rs, "role", role_rule);
        return -2;
    }
    return role;
}

/* The name and role a new user or token needs, both required. false after a 400. */
static bool body_name_role(json_t *body, struct trl_web_resp *rs, const char **name, int *role)
{
    *name = json_string_value(json_object_get(body, "name"));
    *role = body_role(body, rs);
    if (*role == -2)
        return false;
    if (!*name || !trl_web_name_ok(*name)) {
        trl_web_bad_field(rs, "name", "name: 1 to 64 letters, digits, '.', '_', '-' or '@'");
        return false;
    }
    if (*role < 0) {
        trl_web_bad_field(rs, "role", role_rule);
        return false;
    }
    return true;
}

/* The user named in the path, into name; false after a 404. */
static bool path_user(struct trl_web_req *rq, struct trl_web_resp *rs, char *name, size_t cap)
{
    if (!trl_web_param(rq, 0, name, cap) || !trl_web_name_ok(name)) {
        trl_web_error(rs, 404, "no such user");
        return false;
    }
    return true;
}

static const char pw_rule[] = "password: 8 to 1024 bytes";

void trl_api_users_add(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    json_t *body = trl_web_body_object(rq, rs);
    if (!body)
        return;
    const char *name, *pw = json_string_value(json_object_get(body, "password"));
    int role;
    if (!body_name_role(body, rs, &name, &role))
        goto out;
    if (!pw || strlen(pw) < TRL_PW_MIN_LEN || strlen(pw) > TRL_PW_MAX_LEN) {
        trl_web_bad_field(rs, "password", pw_rule);
        goto out;
    }
    int rc = trl_users_add(rq->web->users, name, role, pw);
    if (rc == -EEXIST) {
        trl_web_error(rs, 409, "user %s exists", name);
    } else if (rc != 0) {
        trl_web_error(rs, 500, "cannot add the user");
    } else {
        trl_web_audit(rq, "web-user-created", "iam", "creation", true, name,
                      "web user %s created with role %s", name, trl_role_name(role));
        trl_web_json(rs, 201, json_pack("{s:s, s:s}", "name", name, "role", trl_role_name(role)));
    }
out:
    json_decref(body);
}

void trl_api_users_patch(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    char name[80];
    if (!path_user(rq, rs, name, sizeof(name)))
        return;
    json_t *body = trl_web_body_object(rq, rs);
    if (!body)
        return;
    json_t *jpw = json_object_get(body, "password");
    const char *pw = json_string_value(jpw);
    int role = body_role(body, rs);
    if (role == -2)
        goto out;
    if (jpw && (!pw || strlen(pw) < TRL_PW_MIN_LEN || strlen(pw) > TRL_PW_MAX_LEN)) {
        trl_web_bad_field(rs, "password", pw_rule);
        goto out;
    }
    if (!jpw && role < 0) {
        trl_web_error(rs, 400, "nothing to change: give role and/or password");
        goto out;
    }
    int rc = 0;
    if (role >= 0)
        rc = trl_users_set_role(rq->web->users, name, role);
    if (rc == 0 && pw)
        rc = trl_users_set_password(rq->web->users, name, pw);
    if (rc != 0) {
        trl_web_failed(rs, rc, "user", "cannot change the user");
        goto out;
    }
    /* Sessions opened with the old password or role end. */
    trl_sessions_end_user(rq->web->sessions, name);
    if (role >= 0)
        trl_web_audit(rq, "web-user-role-changed", "iam", "change", true, name,
                      "web user %s now has role %s", name, trl_role_name(role));
    if (pw)
        trl_web_audit(rq, "web-user-password-changed", "iam", "change", true, name,
                      "password of web user %s changed", name);
    int now_role = TRL_ROLE_VIEWER;
    trl_users_role(rq->web->users, name, &now_role);
    trl_web_json(rs, 200, json_pack("{s:s, s:s}", "name", name, "role", trl_role_name(now_role)));
out:
    json_decref(body);
}

void trl_api_users_remove(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    char name[80];
    if (!path_user(rq, rs, name, sizeof(name)))
        return;
    if (!strcmp(name, rq->user)) {
        trl_web_error(rs, 400, "you cannot remove yourself");
        return;
    }
    int rc = trl_users_remove(rq->web->users, name);
    if (rc != 0) {
        trl_web_failed(rs, rc, "user", "cannot remove the user");
        return;
    }
    trl_sessions_end_user(rq->web->sessions, name);
    trl_web_audit(rq, "web-user-deleted", "iam", "deletion", true, name, "web user %s removed",
                  name);
    trl_web_no_content(rs);
}

static void on_token(void *ud, const struct trl_token_row *r)
{
    json_array_append_new(ud, json_pack("{s:I, s:s, s:s, s:s, s:o, s:o?}", "id", (json_int_t)r->id,
                                        "name", r->name, "role", trl_role_name(r->role),
                                        "created_by", r->created_by, "created",
                                        trl_web_time(r->created_ns), "last_used",
                                        r->last_used_ns ? trl_web_time(r->last_used_ns) : NULL));
}

void trl_api_tokens_list(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    json_t *tokens = json_array();
    if (trl_tokens_list(rq->web->users, on_token, tokens) < 0) {
        json_decref(tokens);
        trl_web_error(rs, 500, "cannot read the user database");
        return;
    }
    trl_web_json(rs, 200, json_pack("{s:o}", "tokens", tokens));
}

void trl_api_tokens_create(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    json_t *body = trl_web_body_object(rq, rs);
    if (!body)
        return;
    const char *name;
    int role;
    if (!body_name_role(body, rs, &name, &role))
        goto out;
    char token[TRL_TOKEN_LEN + 1];
    int64_t id;
    if (trl_tokens_create(rq->web->users, name, role, rq->user, token, &id) != 0) {
        trl_web_error(rs, 500, "cannot create the token");
        goto out;
    }
    trl_web_audit(rq, "api-token-created", "iam", "creation", true, NULL,
                  "API token %lld (%s, role %s) created", (long long)id, name, trl_role_name(role));
    trl_web_json(rs, 201,
                 json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)id, "name", name, "role",
                           trl_role_name(role), "token", token));
    sodium_memzero(token, sizeof(token));
out:
    json_decref(body);
}

void trl_api_tokens_revoke(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    char buf[32];
    int64_t id;
    if (!trl_web_param(rq, 0, buf, sizeof(buf)) || !trl_parse_i64(buf, strlen(buf), &id)) {
        trl_web_error(rs, 404, "no such token");
        return;
    }
    int rc = trl_tokens_revoke(rq->web->users, id);
    if (rc != 0) {
        trl_web_failed(rs, rc, "token", "cannot revoke the token");
        return;
    }
    trl_web_audit(rq, "api-token-revoked", "iam", "deletion", true, NULL, "API token %lld revoked",
                  (long long)id);
    trl_web_no_content(rs);
}

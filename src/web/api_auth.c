/*
 * api_auth: POST /api/v1/login, POST /api/v1/logout, GET /api/v1/me.
 */
#include "core/timeutil.h"
#include "web/web.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define COOKIE_ATTRS "; Path=/; HttpOnly; Secure; SameSite=Strict"

static long seconds_up(int64_t ns)
{
    return (long)((ns + 999999999) / 1000000000);
}

void trl_api_login(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    json_t *body = trl_web_body_object(rq, rs);
    if (!body)
        return;
    const char *name = json_string_value(json_object_get(body, "username"));
    const char *pw = json_string_value(json_object_get(body, "password"));
    if (!name || !pw) {
        trl_web_error(rs, 400, "username and password (strings) are required");
        json_decref(body);
        return;
    }
    /* Names outside the allowed alphabet cannot exist; they are throttled under one key so
     * that they cannot be used to fill the throttle table. */
    bool valid = trl_web_name_ok(name);
    char ukey[80], akey[80];
    snprintf(ukey, sizeof(ukey), "u:%s", valid ? name : "(invalid)");
    snprintf(akey, sizeof(akey), "a:%s", rq->client_ip);
    snprintf(rq->user, sizeof(rq->user), "%s", valid ? name : "(invalid)");
    int64_t now = trl_mono_ns();
    int64_t wait = trl_throttle_wait(rq->web->throttle, ukey, now);
    int64_t await = trl_throttle_wait(rq->web->throttle, akey, now);
    if (await > wait)
        wait = await;
    if (wait > 0) {
        trl_web_error(rs, 429, "too many failed logins: try again in %ld s", seconds_up(wait));
        rs->retry_after_s = seconds_up(wait);
        json_decref(body);
        return;
    }
    int role;
    int rc = valid ? trl_users_verify(rq->web->users, name, pw, &role) : -1;
    json_decref(body);
    name = rq->user; /* the body and its strings are gone */
    if (rc != 0) {
        trl_throttle_fail(rq->web->throttle, ukey, TRL_WEB_USER_FAILS, now);
        trl_throttle_fail(rq->web->throttle, akey, TRL_WEB_ADDR_FAILS, now);
        trl_web_audit(rq, "web-login-failed", "authentication", "start", false, NULL,
                      "failed web login of %s from %s", rq->user, rq->client_ip);
        trl_web_error(rs, 401, "wrong user name or password");
        return;
    }
    trl_throttle_clear(rq->web->throttle, ukey);
    char id[TRL_SESSION_ID_LEN + 1];
    struct trl_session_info si;
    trl_sessions_start(rq->web->sessions, name, role, now, id, &si);
    snprintf(rs->set_cookie, sizeof(rs->set_cookie), "trl_session=%s" COOKIE_ATTRS, id);
    sodium_memzero(id, sizeof(id));
    trl_web_audit(rq, "web-login", "authentication", "start", true, NULL, "web login of %s from %s",
                  name, rq->client_ip);
    trl_web_json(rs, 200,
                 json_pack("{s:{s:s, s:s}, s:s}", "user", "name", name, "role", trl_role_name(role),
                           "csrf", si.csrf));
}

void trl_api_logout(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    if (rq->session)
        trl_sessions_end(rq->web->sessions, rq->session_id, strlen(rq->session_id));
    snprintf(rs->set_cookie, sizeof(rs->set_cookie), "trl_session=" COOKIE_ATTRS "; Max-Age=0");
    trl_web_no_content(rs);
}

void trl_api_me(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    trl_web_json(rs, 200,
                 json_pack("{s:s, s:s, s:s?}", "name", rq->user, "role", trl_role_name(rq->role),
                           "csrf", rq->session ? rq->csrf : NULL));
}

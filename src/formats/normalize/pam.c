/*
 * pam: lines written by PAM modules on behalf of whatever program loaded them, as
 * "pam_unix(SERVICE:TYPE): TEXT", as bare TEXT under an old "program(pam_unix)" tag (the module is
 * then in log.logger), or as sshd's "PAM N more authentication failures; ..." summary.
 *
 * Who is who: in "session opened for user TARGET(uid=N) by ACTOR(uid=M)" and in the key=value list
 * of "authentication failure; ... ruser=ACTOR ... user=TARGET", the actor is the one asking (the
 * user running su or sudo) and the target the account whose session or credentials are at stake.
 * When there is no distinct actor (sshd, cron, login), the target is the acting user.
 */
#include "formats/normalize.h"
#include "formats/normalize/scan.h"

#include <string.h>

static const struct trl_norm_class cls_auth_failed = {"authentication", "start", NULL,
                                                      "pam-auth-failed", "failure"};
static const struct trl_norm_class cls_auth_summary = {"authentication", "info", NULL,
                                                       "pam-auth-failed-summary", "failure"};
static const struct trl_norm_class cls_user_unknown = {"authentication", "info", NULL,
                                                       "pam-user-unknown", "failure"};
static const struct trl_norm_class cls_session_opened = {"session", "start", NULL, "session-opened",
                                                         "success"};
static const struct trl_norm_class cls_session_closed = {"session", "end", NULL, "session-closed",
                                                         "success"};
static const struct trl_norm_class cls_account_expired = {"authentication", "info", NULL,
                                                          "account-expired", "failure"};
static const struct trl_norm_class cls_password_expired = {"authentication", "info", NULL,
                                                           "password-expired", "failure"};
static const struct trl_norm_class cls_account_locked = {"authentication", "info", NULL,
                                                         "account-locked", "failure"};
static const struct trl_norm_class cls_password_changed = {"iam", "user", "change",
                                                           "password-changed", "success"};

static bool str_eq(struct trl_str a, struct trl_str b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* Sets user.name / user.target.name from an actor that may be absent or the target itself. */
static void set_actor_target(struct trl_event *ev, struct trl_str actor, struct trl_str target)
{
    if (actor.len > 0 && target.len > 0 && !str_eq(actor, target)) {
        trl_norm_user(ev, TRL_F_USER_NAME, actor);
        trl_norm_user(ev, TRL_F_USER_TARGET_NAME, target);
    } else {
        trl_norm_user(ev, TRL_F_USER_NAME, target.len > 0 ? target : actor);
    }
}

/* "...; logname=L uid=N euid=N tty=T ruser=R rhost=H  user=U" */
static void auth_failure_kv(struct trl_event *ev, struct trl_str kv)
{
    struct trl_str user = {NULL, 0}, ruser = {NULL, 0}, rhost = {NULL, 0}, tty = {NULL, 0};
    trl_scan_kv(kv, "user", &user);
    trl_scan_kv(kv, "ruser", &ruser);
    trl_scan_kv(kv, "rhost", &rhost);
    trl_scan_kv(kv, "tty", &tty);
    set_actor_target(ev, ruser, user);
    if (!trl_norm_ip(ev, TRL_F_SOURCE_IP, rhost))
        trl_norm_set(ev, TRL_F_SOURCE_DOMAIN, rhost);
    trl_norm_set_dynamic(ev, "pam.tty", tty);
}

/* Reads "NAME(uid=N)", "NAME" or "(uid=N)"; name stops at '(' or a space. */
static void name_uid(struct trl_scan *s, struct trl_str *name, struct trl_str *uid)
{
    const char *q = s->p;
    while (q < s->end && *q != '(' && *q != ' ')
        q++;
    *name = (struct trl_str){s->p, (size_t)(q - s->p)};
    s->p = q;
    *uid = (struct trl_str){NULL, 0};
    struct trl_scan t = *s;
    if (trl_scan_lit(&t, "(uid=") && trl_scan_digits(&t, uid) && trl_scan_lit(&t, ")"))
        *s = t;
    else
        *uid = (struct trl_str){NULL, 0};
}

/* "session opened for user TARGET(uid=N) by ACTOR(uid=M)", the uids and " by ..." optional. */
static int session_opened(struct trl_event *ev, struct trl_str rest)
{
    struct trl_scan s = trl_scan_init(rest.ptr, rest.len);
    struct trl_str target, tuid, actor = {NULL, 0}, auid = {NULL, 0};
    name_uid(&s, &target, &tuid);
    if (target.len == 0)
        return TRL_ENOMATCH;
    if (trl_scan_lit(&s, " by "))
        name_uid(&s, &actor, &auid);
    /* login(1) reports its own pseudo-user, not a person. */
    if (actor.len == 5 && memcmp(actor.ptr, "LOGIN", 5) == 0)
        actor.len = 0;
    trl_norm_classify(ev, &cls_session_opened);
    if (actor.len > 0 && !str_eq(actor, target)) {
        trl_norm_user(ev, TRL_F_USER_NAME, actor);
        trl_norm_set(ev, TRL_F_USER_ID, auid);
        trl_norm_user(ev, TRL_F_USER_TARGET_NAME, target);
        trl_norm_set(ev, TRL_F_USER_TARGET_ID, tuid);
    } else {
        trl_norm_user(ev, TRL_F_USER_NAME, target);
        trl_norm_set(ev, TRL_F_USER_ID, tuid);
    }
    return 0;
}

/* The TEXT part of a PAM line, whichever way the module was named. */
static int pam_text(struct trl_event *ev, struct trl_str text)
{
    /* Each opening names the shape: once one matched, the line is that shape or none. */
    struct trl_scan s = trl_scan_init(text.ptr, text.len);
    struct trl_str v, uid, tally;
    if (trl_scan_lit(&s, "authentication failure")) {
        trl_scan_lit(&s, ";");
        trl_norm_classify(ev, &cls_auth_failed);
        auth_failure_kv(ev, trl_scan_rest(&s));
        return 0;
    }
    if (trl_scan_lit(&s, "check pass; user unknown")) {
        trl_norm_classify(ev, &cls_user_unknown);
        return 0;
    }
    if (trl_scan_lit(&s, "session opened for user "))
        return session_opened(ev, trl_scan_rest(&s));
    if (trl_scan_lit(&s, "session closed for user ")) {
        name_uid(&s, &v, &uid);
        if (v.len == 0)
            return TRL_ENOMATCH;
        trl_norm_classify(ev, &cls_session_closed);
        trl_norm_user(ev, TRL_F_USER_NAME, v);
        return 0;
    }
    if (trl_scan_lit(&s, "account ")) {
        if (!trl_scan_until_last(&s, " has expired", &v) || v.len == 0)
            return TRL_ENOMATCH;
        trl_norm_classify(ev, &cls_account_expired);
        trl_norm_user(ev, TRL_F_USER_NAME, v);
        return 0;
    }
    if (trl_scan_lit(&s, "expired password for user ")) {
        if (!trl_scan_word(&s, &v))
            return TRL_ENOMATCH;
        trl_norm_classify(ev, &cls_password_expired);
        trl_norm_user(ev, TRL_F_USER_NAME, v);
        return 0;
    }
    if (trl_scan_lit(&s, "password changed for ")) {
        if (!trl_scan_word(&s, &v))
            return TRL_ENOMATCH;
        trl_norm_classify(ev, &cls_password_changed);
        trl_norm_user(ev, TRL_F_USER_TARGET_NAME, v);
        return 0;
    }
    if (trl_scan_lit(&s, "auth could not identify password for [")) {
        if (!trl_scan_until_last(&s, "]", &v) || v.len == 0)
            return TRL_ENOMATCH;
        trl_norm_classify(ev, &cls_auth_failed);
        trl_norm_user(ev, TRL_F_USER_NAME, v);
        return 0;
    }
    /* pam_faillock */
    if (trl_scan_lit(&s, "Consecutive login failures for user ")) {
        if (!trl_scan_until(&s, " account temporarily locked", &v) || v.len == 0)
            return TRL_ENOMATCH;
        trl_norm_classify(ev, &cls_account_locked);
        trl_norm_user(ev, TRL_F_USER_NAME, v);
        return 0;
    }
    /* pam_tally2: "user U (UID) tally N, deny M" */
    if (trl_scan_lit(&s, "user ")) {
        if (!trl_scan_word(&s, &v) || !trl_scan_lit(&s, " (") || !trl_scan_digits(&s, &uid) ||
            !trl_scan_lit(&s, ") tally ") || !trl_scan_digits(&s, &tally) ||
            !trl_scan_lit(&s, ", deny "))
            return TRL_ENOMATCH;
        trl_norm_classify(ev, &cls_account_locked);
        trl_norm_user(ev, TRL_F_USER_NAME, v);
        trl_norm_set(ev, TRL_F_USER_ID, uid);
        return 0;
    }
    return TRL_ENOMATCH;
}

static int pam_body(struct trl_event *ev, struct trl_str m)
{
    struct trl_scan s = trl_scan_init(m.ptr, m.len);
    struct trl_str module, service, n;
    /* sshd: "PAM 2 more authentication failures; logname= uid=0 ... rhost=H  user=U" */
    if (trl_scan_lit(&s, "PAM ")) {
        if (!trl_scan_digits(&s, &n) || !trl_scan_lit(&s, " more authentication failure"))
            return TRL_ENOMATCH;
        trl_scan_until(&s, ";", &service);
        trl_norm_classify(ev, &cls_auth_summary);
        auth_failure_kv(ev, trl_scan_rest(&s));
        trl_norm_set_dynamic(ev, "pam.failures", n);
        return 0;
    }
    if (trl_norm_is_pam(m)) {
        if (!trl_scan_until(&s, "(", &module) || !trl_scan_until(&s, "): ", &service))
            return TRL_ENOMATCH;
        const char *colon = memchr(service.ptr, ':', service.len);
        if (colon)
            service.len = (size_t)(colon - service.ptr);
        int rc = pam_text(ev, trl_scan_rest(&s));
        if (rc != 0)
            return rc;
        trl_norm_set_dynamic(ev, "pam.module", module);
        trl_norm_set_dynamic(ev, "pam.service", service);
        return 0;
    }
    /* Old tags ("sshd(pam_unix)[42]: ...") leave the module in log.logger and the text bare. */
    size_t llen = 0;
    const char *logger = trl_event_get(ev, TRL_F_LOG_LOGGER, &llen);
    int rc = pam_text(ev, m);
    if (rc == 0 && logger && trl_starts_with(logger, llen, "pam_"))
        trl_norm_set_dynamic(ev, "pam.module", (struct trl_str){logger, llen});
    return rc;
}

int trl_norm_pam(struct trl_event *ev, const char *msg, size_t len)
{
    return trl_norm_run(ev, msg, len, pam_body);
}

/*
 * su: util-linux su ("(to TARGET) USER on TTY", "FAILED SU (to TARGET) USER on TTY"), the older
 * shadow-utils su ("Successful su for TARGET by USER", "FAILED su for TARGET by USER",
 * "+ TTY USER:TARGET", "- TTY USER:TARGET"), and PAM lines of the su / su-l services.
 */
#include "formats/normalize.h"
#include "formats/normalize/scan.h"

#include <string.h>

static const struct trl_norm_class cls_su = {"authentication", "start", NULL, "su-login",
                                             "success"};
static const struct trl_norm_class cls_su_failed = {"authentication", "start", NULL,
                                                    "su-login-failed", "failure"};

static int commit(struct trl_event *ev, const struct trl_norm_class *c, struct trl_str user,
                  struct trl_str target, struct trl_str tty)
{
    if (user.len == 0 || target.len == 0)
        return TRL_ENOMATCH;
    trl_norm_classify(ev, c);
    trl_norm_user(ev, TRL_F_USER_NAME, user);
    trl_norm_user(ev, TRL_F_USER_TARGET_NAME, target);
    trl_norm_set_named(ev, "su.tty", tty);
    return 0;
}

/* "(to TARGET) USER on TTY" */
static int util_linux(struct trl_event *ev, struct trl_scan *s, const struct trl_norm_class *c)
{
    struct trl_str target, user, tty;
    if (!trl_scan_until(s, ") ", &target) || !trl_scan_until_last(s, " on ", &user))
        return TRL_ENOMATCH;
    tty = trl_scan_rest(s);
    if (tty.len == 0 || memchr(tty.ptr, ' ', tty.len))
        return TRL_ENOMATCH;
    return commit(ev, c, user, target, tty);
}

/* "su for TARGET by USER" */
static int shadow_for_by(struct trl_event *ev, struct trl_scan *s, const struct trl_norm_class *c)
{
    struct trl_str target, user;
    if (!trl_scan_until(s, " by ", &target))
        return TRL_ENOMATCH;
    user = trl_scan_rest(s);
    return commit(ev, c, user, target, (struct trl_str){NULL, 0});
}

/* "TTY USER:TARGET" after the "+ " or "- " of the shadow-utils sulog line. */
static int shadow_sulog(struct trl_event *ev, struct trl_scan *s, const struct trl_norm_class *c)
{
    struct trl_str tty, user, target;
    if (!trl_scan_word(s, &tty) || !trl_scan_lit(s, " ") || !trl_scan_until_last(s, ":", &user))
        return TRL_ENOMATCH;
    target = trl_scan_rest(s);
    if (memchr(user.ptr, ' ', user.len) || memchr(target.ptr, ' ', target.len))
        return TRL_ENOMATCH;
    return commit(ev, c, user, target, tty);
}

static int su_body(struct trl_event *ev, struct trl_str m)
{
    if (trl_norm_is_pam(m))
        return trl_norm_pam(ev, m.ptr, m.len);
    struct trl_scan s = trl_scan_init(m.ptr, m.len);
    if (trl_scan_lit(&s, "(to "))
        return util_linux(ev, &s, &cls_su);
    if (trl_scan_lit(&s, "FAILED SU (to "))
        return util_linux(ev, &s, &cls_su_failed);
    if (trl_scan_lit(&s, "Successful su for "))
        return shadow_for_by(ev, &s, &cls_su);
    if (trl_scan_lit(&s, "FAILED su for "))
        return shadow_for_by(ev, &s, &cls_su_failed);
    if (trl_scan_lit(&s, "+ "))
        return shadow_sulog(ev, &s, &cls_su);
    if (trl_scan_lit(&s, "- "))
        return shadow_sulog(ev, &s, &cls_su_failed);
    return TRL_ENOMATCH;
}

int trl_norm_su(struct trl_event *ev, const char *msg, size_t len)
{
    return trl_norm_run(ev, msg, len, su_body);
}

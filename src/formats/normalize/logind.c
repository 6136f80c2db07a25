/*
 * logind: systemd-logind session and seat lines. systemd up to 254 writes "New session 12 of user
 * alice."; 255 and later quote the values and add the class and type ("New session '12' of user
 * 'alice' with class 'user' and type 'tty'."). Both are read.
 */
#include "formats/normalize.h"
#include "formats/normalize/scan.h"

#include <string.h>

static const struct trl_norm_class cls_opened = {"session", "start", NULL, "session-opened",
                                                 "success"};
static const struct trl_norm_class cls_closed = {"session", "end", NULL, "session-closed",
                                                 "success"};
static const struct trl_norm_class cls_removed = {"session", "end", NULL, "session-removed",
                                                  "success"};
static const struct trl_norm_class cls_seat = {"host", "info", NULL, "seat-added", NULL};
static const struct trl_norm_class cls_power_off = {"host", "end", NULL, "system-shutdown", NULL};
static const struct trl_norm_class cls_reboot = {"host", "end", NULL, "system-reboot", NULL};

/* Reads a value that may be in single quotes; unquoted, it ends at a space or stop. */
static bool value(struct trl_scan *s, char stop, struct trl_str *out)
{
    if (trl_scan_lit(s, "'"))
        return trl_scan_until(s, "'", out) && out->len > 0;
    const char *q = s->p;
    while (q < s->end && *q != ' ' && *q != stop)
        q++;
    if (q == s->p)
        return false;
    *out = (struct trl_str){s->p, (size_t)(q - s->p)};
    s->p = q;
    return true;
}

/* "N of user NAME." or "'N' of user 'NAME' with class 'C' and type 'T'." */
static int new_session(struct trl_event *ev, struct trl_scan *s)
{
    struct trl_str id, user, cls = {NULL, 0}, type = {NULL, 0};
    if (!value(s, '\0', &id) || !trl_scan_lit(s, " of user "))
        return TRL_ENOMATCH;
    /* A user name may end in '.', so an unquoted one runs to the final '.'. */
    if (trl_scan_lit(s, "'")) {
        if (!trl_scan_until(s, "'", &user))
            return TRL_ENOMATCH;
        if (trl_scan_lit(s, " with class ") && value(s, '\0', &cls) &&
            trl_scan_lit(s, " and type "))
            value(s, '.', &type);
    } else {
        user = trl_scan_rest(s);
        if (user.len > 0 && user.ptr[user.len - 1] == '.')
            user.len--;
        if (memchr(user.ptr, ' ', user.len))
            return TRL_ENOMATCH;
    }
    if (user.len == 0)
        return TRL_ENOMATCH;
    trl_norm_classify(ev, &cls_opened);
    trl_norm_user(ev, TRL_F_USER_NAME, user);
    trl_norm_set_named(ev, "labels.session_id", id);
    trl_norm_set_named(ev, "labels.session_class", cls);
    trl_norm_set_named(ev, "labels.session_type", type);
    return 0;
}

static int session_id_line(struct trl_event *ev, struct trl_scan *s, const char *tail,
                           const struct trl_norm_class *c)
{
    struct trl_str id;
    if (!value(s, '.', &id) || !trl_scan_lit(s, tail))
        return TRL_ENOMATCH;
    trl_norm_classify(ev, c);
    trl_norm_set_named(ev, "labels.session_id", id);
    return 0;
}

static int logind_body(struct trl_event *ev, struct trl_str m)
{
    struct trl_scan s = trl_scan_init(m.ptr, m.len);
    struct trl_str seat;
    if (trl_scan_lit(&s, "New session "))
        return new_session(ev, &s);
    if (trl_scan_lit(&s, "Session "))
        return session_id_line(ev, &s, " logged out.", &cls_closed);
    if (trl_scan_lit(&s, "Removed session "))
        return session_id_line(ev, &s, ".", &cls_removed);
    if (trl_scan_lit(&s, "New seat ") && value(&s, '.', &seat)) {
        trl_norm_classify(ev, &cls_seat);
        trl_norm_set_named(ev, "labels.seat", seat);
        return 0;
    }
    if (trl_str_eq(m, "System is powering down.") || trl_str_eq(m, "System is halting.")) {
        trl_norm_classify(ev, &cls_power_off);
        return 0;
    }
    if (trl_str_eq(m, "System is rebooting.")) {
        trl_norm_classify(ev, &cls_reboot);
        return 0;
    }
    return TRL_ENOMATCH;
}

int trl_norm_logind(struct trl_event *ev, const char *msg, size_t len)
{
    return trl_norm_run(ev, msg, len, logind_body);
}

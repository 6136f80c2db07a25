/*
 * cron: Debian cron and cronie (RHEL) lines "(USER) ACTION (DETAIL)" from the daemon and from
 * crontab(1), plus PAM lines of the cron / crond services.
 *
 * USER is the account the line is about ("*system*" for /etc/crontab and /etc/cron.d, "CRON" for
 * the daemon itself, neither of which is a user). DETAIL runs to the last ')' because commands
 * contain parentheses of their own.
 */
#include "formats/normalize.h"
#include "formats/normalize/scan.h"

#include <string.h>

enum detail_use {
    DETAIL_NONE,
    DETAIL_COMMAND, /* process.command_line */
    DETAIL_TARGET,  /* user.target.name: whose crontab */
    DETAIL_FILE,    /* file.path */
    DETAIL_REASON,  /* event.reason */
};

struct cron_action {
    const char *word;
    struct trl_norm_class cls;
    enum detail_use use;
};

static const struct cron_action actions[] = {
    {"CMD", {"process", "start", NULL, "cron-command", "success"}, DETAIL_COMMAND},
    {"CMDEND", {"process", "end", NULL, "cron-command-end", NULL}, DETAIL_COMMAND},
    {"REPLACE", {"configuration", "change", NULL, "crontab-modified", "success"}, DETAIL_TARGET},
    {"DELETE", {"configuration", "deletion", NULL, "crontab-deleted", "success"}, DETAIL_TARGET},
    {"BEGIN EDIT", {"configuration", "info", NULL, "crontab-edit-begin", NULL}, DETAIL_TARGET},
    {"END EDIT", {"configuration", "info", NULL, "crontab-edit-end", NULL}, DETAIL_TARGET},
    {"LIST", {"configuration", "access", NULL, "crontab-listed", "success"}, DETAIL_TARGET},
    {"RELOAD", {"configuration", "change", NULL, "crontab-reloaded", "success"}, DETAIL_FILE},
    {"AUTH", {"authentication", "info", NULL, "crontab-denied", "failure"}, DETAIL_REASON},
    {"STARTUP", {"process", "start", NULL, "cron-started", "success"}, DETAIL_NONE},
    {"INSECURE MODE", {"configuration", "info", NULL, "crontab-ignored", "failure"}, DETAIL_REASON},
    {"WRONG FILE OWNER",
     {"configuration", "info", NULL, "crontab-ignored", "failure"},
     DETAIL_FILE},
    {"BAD FILE MODE", {"configuration", "info", NULL, "crontab-ignored", "failure"}, DETAIL_FILE},
    {"WRONG INODE INFO",
     {"configuration", "info", NULL, "crontab-ignored", "failure"},
     DETAIL_FILE},
};

static bool is_account(struct trl_str u)
{
    return !(u.len >= 8 && memcmp(u.ptr, "*system*", 8) == 0) && !trl_str_eq(u, "CRON") &&
           !memchr(u.ptr, ' ', u.len);
}

static int cron_body(struct trl_event *ev, struct trl_str m)
{
    if (trl_norm_is_pam(m))
        return trl_norm_pam(ev, m.ptr, m.len);
    struct trl_scan s = trl_scan_init(m.ptr, m.len);
    struct trl_str user, word, detail;
    if (!trl_scan_lit(&s, "(") || !trl_scan_until(&s, ") ", &user) || user.len == 0 ||
        !trl_scan_until(&s, " (", &word))
        return TRL_ENOMATCH;
    detail = trl_scan_rest(&s);
    if (detail.len > 0 && detail.ptr[detail.len - 1] == ')')
        detail.len--;
    const struct cron_action *a = NULL;
    for (size_t i = 0; i < TRL_ARRAY_LEN(actions); i++) {
        if (trl_str_eq(word, actions[i].word)) {
            a = &actions[i];
            break;
        }
    }
    if (!a)
        return TRL_ENOMATCH;
    trl_norm_classify(ev, &a->cls);
    if (is_account(user))
        trl_norm_user(ev, TRL_F_USER_NAME, user);
    switch (a->use) {
    case DETAIL_COMMAND:
        trl_norm_set(ev, TRL_F_PROCESS_COMMAND_LINE, detail);
        break;
    case DETAIL_TARGET:
        if (is_account(detail))
            trl_norm_user(ev, TRL_F_USER_TARGET_NAME, detail);
        break;
    case DETAIL_FILE:
        trl_norm_set(ev, TRL_F_FILE_PATH, detail);
        break;
    case DETAIL_REASON: {
        /* "(*system*) INSECURE MODE (group/other writable) (/etc/crontab)" names the file last. */
        const char *sep = trl_scan_rfind(detail.ptr, detail.len, ") (");
        if (sep) {
            size_t off = (size_t)(sep - detail.ptr);
            trl_norm_set(ev, TRL_F_FILE_PATH, (struct trl_str){sep + 3, detail.len - off - 3});
            detail.len = off;
        }
        trl_norm_set(ev, TRL_F_EVENT_REASON, detail);
        break;
    }
    case DETAIL_NONE:
        break;
    }
    return 0;
}

int trl_norm_cron(struct trl_event *ev, const char *msg, size_t len)
{
    return trl_norm_run(ev, msg, len, cron_body);
}

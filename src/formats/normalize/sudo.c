/*
 * sudo: the sudoers log line "USER : [REASON ; ]TTY=.. ; PWD=.. ; USER=.. ; [GROUP=.. ; ]
 * [ENV=.. ; ]COMMAND=..[ ; EXIT=N]" (sudo 1.8 and 1.9), and PAM lines of the sudo service.
 *
 * COMMAND is always the last item and may itself contain " ; " (arguments are only quoted when they
 * contain spaces), so it runs to the end of the line, less a trailing exit status that sudo 1.9
 * appends when it logs command exits.
 */
#include "formats/normalize.h"
#include "formats/normalize/scan.h"

#include <string.h>

struct sudo_line {
    struct trl_str user;
    struct trl_str reason;
    struct trl_str tty;
    struct trl_str pwd;
    struct trl_str runas;
    struct trl_str group;
    struct trl_str env;
    struct trl_str command;
    struct trl_str exit;
    struct trl_str signal;
    int items; /* KEY=VALUE items seen */
};

static const struct trl_norm_class cls_command = {"process", "start", NULL, "sudo-command",
                                                  "success"};
static const struct trl_norm_class cls_exit = {"process", "end", NULL, "sudo-command-exit", NULL};
static const struct trl_norm_class cls_list = {"process", "info", NULL, "sudo-list", "success"};
static const struct trl_norm_class cls_auth_failed = {"authentication", "start", NULL,
                                                      "sudo-auth-failed", "failure"};
static const struct trl_norm_class cls_not_in_sudoers = {"authentication", "info", NULL,
                                                         "sudo-not-in-sudoers", "failure"};
static const struct trl_norm_class cls_host_not_allowed = {"authentication", "info", NULL,
                                                           "sudo-host-not-allowed", "failure"};
static const struct trl_norm_class cls_not_allowed = {"authentication", "info", NULL,
                                                      "sudo-command-not-allowed", "failure"};
static const struct trl_norm_class cls_password_required = {"authentication", "info", NULL,
                                                            "sudo-password-required", "failure"};
static const struct trl_norm_class cls_denied = {"authentication", "info", NULL, "sudo-denied",
                                                 "failure"};

/* Inline: with key a literal, its length and the compare are settled when compiling. */
static inline bool take_value(struct trl_str item, const char *key, struct trl_str *out)
{
    size_t n = strlen(key);
    if (item.len < n + 1 || memcmp(item.ptr, key, n) != 0 || item.ptr[n] != '=')
        return false;
    *out = (struct trl_str){item.ptr + n + 1, item.len - n - 1};
    return true;
}

static bool take_item(struct sudo_line *l, struct trl_str item)
{
    struct trl_str ignored;
    if (take_value(item, "TTY", &l->tty) || take_value(item, "PWD", &l->pwd) ||
        take_value(item, "CWD", &l->pwd) || take_value(item, "USER", &l->runas) ||
        take_value(item, "GROUP", &l->group) || take_value(item, "ENV", &l->env) ||
        take_value(item, "HOST", &ignored) || take_value(item, "CHROOT", &ignored) ||
        take_value(item, "TSID", &ignored)) {
        l->items++;
        return true;
    }
    return false;
}

/* Splits " ; EXIT=N" and " ; SIGNAL=S" off the end of the command. */
static void split_exit(struct sudo_line *l)
{
    for (int i = 0; i < 2; i++) {
        const char *semi = trl_scan_rfind(l->command.ptr, l->command.len, " ; ");
        if (!semi)
            return;
        struct trl_str tail = {semi + 3, l->command.len - (size_t)(semi + 3 - l->command.ptr)};
        uint64_t code;
        if (take_value(tail, "EXIT", &l->exit) && trl_parse_u64(l->exit.ptr, l->exit.len, &code))
            l->command.len = (size_t)(semi - l->command.ptr);
        else if (take_value(tail, "SIGNAL", &l->signal) && l->signal.len > 0 &&
                 !memchr(l->signal.ptr, ' ', l->signal.len))
            l->command.len = (size_t)(semi - l->command.ptr);
        else
            return;
    }
}

static bool parse_line(struct trl_str m, struct sudo_line *l)
{
    memset(l, 0, sizeof(*l));
    struct trl_scan s = trl_scan_init(m.ptr, m.len);
    if (!trl_scan_until(&s, " : ", &l->user))
        return false;
    l->user = trl_scan_trim(l->user.ptr, l->user.len);
    if (l->user.len == 0 || memchr(l->user.ptr, ' ', l->user.len))
        return false;
    bool first = true;
    while (s.p < s.end) {
        if (trl_scan_lit(&s, "COMMAND=")) {
            l->command = trl_scan_rest(&s);
            l->items++;
            split_exit(l);
            break;
        }
        struct trl_str item;
        if (!trl_scan_until(&s, " ; ", &item)) {
            item = trl_scan_rest(&s);
            s.p = s.end;
        }
        if (!take_item(l, item)) {
            /* Only the first item may be free text: the reason a request was refused. */
            if (!first)
                return false;
            l->reason = item;
        }
        first = false;
    }
    return l->items > 0;
}

static const struct trl_norm_class *classify(const struct sudo_line *l)
{
    struct trl_str r = l->reason;
    if (r.len == 0) {
        if (l->exit.len > 0 || l->signal.len > 0)
            return &cls_exit;
        if (l->command.len == 4 && memcmp(l->command.ptr, "list", 4) == 0)
            return &cls_list;
        return &cls_command;
    }
    if (trl_memstr(r.ptr, r.len, "incorrect password attempt"))
        return &cls_auth_failed;
    if (trl_memstr(r.ptr, r.len, "NOT in sudoers"))
        return &cls_not_in_sudoers;
    if (trl_memstr(r.ptr, r.len, "NOT authorized on host"))
        return &cls_host_not_allowed;
    if (trl_memstr(r.ptr, r.len, "command not allowed"))
        return &cls_not_allowed;
    if (trl_memstr(r.ptr, r.len, "a password is required") ||
        trl_memstr(r.ptr, r.len, "a terminal is required"))
        return &cls_password_required;
    return &cls_denied;
}

static int sudo_body(struct trl_event *ev, struct trl_str m)
{
    if (trl_norm_is_pam(m))
        return trl_norm_pam(ev, m.ptr, m.len);
    struct sudo_line l;
    if (!parse_line(m, &l))
        return TRL_ENOMATCH;
    const struct trl_norm_class *c = classify(&l);
    trl_norm_classify(ev, c);
    trl_norm_user(ev, TRL_F_USER_NAME, l.user);
    trl_norm_user(ev, TRL_F_USER_TARGET_NAME, l.runas);
    trl_norm_set_named(ev, "user.target.group.name", l.group);
    trl_norm_set(ev, TRL_F_EVENT_REASON, l.reason);
    trl_norm_set_dynamic(ev, "sudo.tty", l.tty);
    trl_norm_set_dynamic(ev, "sudo.env", l.env);
    trl_norm_set(ev, TRL_F_PROCESS_WORKING_DIRECTORY, l.pwd);
    trl_norm_set_named(ev, "process.exit_code", l.exit);
    trl_norm_set_dynamic(ev, "sudo.signal", l.signal);
    if (c != &cls_list && l.command.len > 0) {
        struct trl_scan s = trl_scan_init(l.command.ptr, l.command.len);
        struct trl_str exe;
        trl_norm_set(ev, TRL_F_PROCESS_COMMAND_LINE, l.command);
        if (trl_scan_word(&s, &exe))
            trl_norm_set(ev, TRL_F_PROCESS_EXECUTABLE, exe);
    }
    return 0;
}

int trl_norm_sudo(struct trl_event *ev, const char *msg, size_t len)
{
    return trl_norm_run(ev, msg, len, sudo_body);
}

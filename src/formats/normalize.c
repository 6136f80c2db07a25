#include "formats/normalize.h"
#include "core/util.h"

#include <string.h>

typedef int (*norm_fn)(struct trl_event *, const char *, size_t);

struct program_normalizer {
    const char *program;
    norm_fn fn;
};

/* Programs are matched on log.syslog.appname (or process.name when the format has no appname). */
static const struct program_normalizer by_program[] = {
    {"sshd", trl_norm_sshd},
    {"sshd-session", trl_norm_sshd},
    {"sshd-auth", trl_norm_sshd},
    {"sudo", trl_norm_sudo},
    {"su", trl_norm_su},
    {"useradd", trl_norm_accounts},
    {"userdel", trl_norm_accounts},
    {"usermod", trl_norm_accounts},
    {"groupadd", trl_norm_accounts},
    {"groupdel", trl_norm_accounts},
    {"groupmod", trl_norm_accounts},
    {"gpasswd", trl_norm_accounts},
    {"passwd", trl_norm_accounts},
    {"chpasswd", trl_norm_accounts},
    {"chage", trl_norm_accounts},
    {"systemd-logind", trl_norm_logind},
    {"cron", trl_norm_cron},
    {"CRON", trl_norm_cron},
    {"crond", trl_norm_cron},
    {"crontab", trl_norm_cron},
    {"CROND", trl_norm_cron},
    {"chfn", trl_norm_accounts},
    {"chsh", trl_norm_accounts},
    {"kernel", trl_norm_netfilter},
};

void trl_normalize(struct trl_event *ev)
{
    if (trl_event_has(ev, TRL_F_WINLOG_EVENT_ID)) {
        trl_norm_windows(ev);
        return;
    }
    size_t plen = 0, mlen = 0;
    const char *prog = trl_event_get(ev, TRL_F_LOG_SYSLOG_APPNAME, &plen);
    if (!prog)
        prog = trl_event_get(ev, TRL_F_PROCESS_NAME, &plen);
    const char *msg = trl_event_get(ev, TRL_F_MESSAGE, &mlen);
    if (!prog || !msg)
        return;
    for (size_t i = 0; i < TRL_ARRAY_LEN(by_program); i++) {
        if (strlen(by_program[i].program) == plen &&
            memcmp(by_program[i].program, prog, plen) == 0) {
            if (by_program[i].fn(ev, msg, mlen) == 0)
                return;
            break;
        }
    }
    /* PAM modules log under the name of whatever program loaded them, either as a message prefix
     * ("pam_unix(sshd:auth): ...") or, in old syslog tags ("sshd(pam_unix)[42]:"), as log.logger.
     */
    size_t llen = 0;
    const char *logger = trl_event_get(ev, TRL_F_LOG_LOGGER, &llen);
    if (trl_memstr(msg, TRL_MIN(mlen, 40), "pam_") ||
        (logger && trl_starts_with(logger, llen, "pam_")))
        trl_norm_pam(ev, msg, mlen);
}

#include "formats/normalize.h"
#include "core/util.h"

#include <string.h>

typedef int (*norm_fn)(struct trl_event *, const char *, size_t);

/* A byte loop: for names this short it beats a call to memcmp(3), and most fail on a first byte. */
static bool name_is(const char *p, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != lit[i])
            return false;
    }
    return true;
}

#define IS(lit) name_is(prog, lit, sizeof(lit) - 1)

/* The normaliser for a program, matched on log.syslog.appname (or process.name when the format
 * has no appname); NULL when there is none. Dispatched on the name's length first: this runs for
 * every event. */
static norm_fn normalizer_for(const char *prog, size_t len)
{
    switch (len) {
    case 2:
        return IS("su") ? trl_norm_su : NULL;
    case 4:
        if (IS("sshd"))
            return trl_norm_sshd;
        if (IS("sudo"))
            return trl_norm_sudo;
        if (IS("cron") || IS("CRON"))
            return trl_norm_cron;
        if (IS("chfn") || IS("chsh"))
            return trl_norm_accounts;
        return NULL;
    case 5:
        if (IS("crond") || IS("CROND"))
            return trl_norm_cron;
        return IS("chage") ? trl_norm_accounts : NULL;
    case 6:
        if (IS("kernel"))
            return trl_norm_netfilter;
        return IS("passwd") ? trl_norm_accounts : NULL;
    case 7:
        if (IS("crontab"))
            return trl_norm_cron;
        return IS("useradd") || IS("userdel") || IS("usermod") || IS("gpasswd") ? trl_norm_accounts
                                                                                : NULL;
    case 8:
        return IS("groupadd") || IS("groupdel") || IS("groupmod") || IS("chpasswd")
                   ? trl_norm_accounts
                   : NULL;
    case 9:
        return IS("sshd-auth") ? trl_norm_sshd : NULL;
    case 12:
        return IS("sshd-session") ? trl_norm_sshd : NULL;
    case 14:
        return IS("systemd-logind") ? trl_norm_logind : NULL;
    default:
        return NULL;
    }
}

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
    norm_fn fn = normalizer_for(prog, plen);
    if (fn && fn(ev, msg, mlen) == 0)
        return;
    /* PAM modules log under the name of whatever program loaded them, either as a message prefix
     * ("pam_unix(sshd:auth): ...") or, in old syslog tags ("sshd(pam_unix)[42]:"), as log.logger.
     */
    size_t llen = 0;
    const char *logger = trl_event_get(ev, TRL_F_LOG_LOGGER, &llen);
    if (trl_mem_contains(msg, TRL_MIN(mlen, 40), "pam_", 4, 3) ||
        (logger && trl_starts_with(logger, llen, "pam_")))
        trl_norm_pam(ev, msg, mlen);
}

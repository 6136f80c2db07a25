/*
 * Fuzzes the Linux program normalisers. The first input byte picks the program (and whether an old
 * "prog(pam_unix)" tag put the module in log.logger); the rest is the message. Each input runs
 * three ways: as a whole RFC 3164 line through trl_parse_event(), as an event whose message is an
 * exact-size heap buffer through trl_normalize(), and through every normaliser directly, so that a
 * read past the message is caught whichever way a normaliser is reached.
 */
#include "core/arena.h"
#include "core/event.h"
#include "formats/normalize.h"
#include "formats/parse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const programs[] = {
    "sshd",    "sshd-session",   "sshd-auth", "sudo",     "su",      "useradd", "userdel",
    "usermod", "groupadd",       "groupdel",  "groupmod", "gpasswd", "passwd",  "chpasswd",
    "chage",   "cron",           "CRON",      "crond",    "crontab", "kernel",  "login",
    "vsftpd",  "systemd-logind",
};

typedef int (*norm_fn)(struct trl_event *, const char *, size_t);

static const norm_fn normalisers[] = {
    trl_norm_sshd,   trl_norm_sudo, trl_norm_su,        trl_norm_accounts,
    trl_norm_logind, trl_norm_cron, trl_norm_netfilter, trl_norm_pam,
};

static struct trl_event *tagged_event(struct trl_arena *a, const char *prog, bool pam_logger)
{
    struct trl_event *ev = trl_event_create(a, "", 0, 0);
    trl_event_set_str(ev, TRL_F_HOST_NAME, "fuzz01");
    trl_event_set_str(ev, TRL_F_LOG_SYSLOG_APPNAME, prog);
    trl_event_set_str(ev, TRL_F_PROCESS_NAME, prog);
    if (pam_logger)
        trl_event_set_str(ev, TRL_F_LOG_LOGGER, "pam_unix");
    return ev;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *prog = programs[data[0] % (sizeof(programs) / sizeof(programs[0]))];
    bool pam_logger = (data[0] & 0x80) != 0;
    const char *msg_in = (const char *)data + 1;
    size_t len = size - 1;
    struct trl_arena *a = trl_arena_create(0);

    /* A whole syslog line, as a receiver would hand it over. */
    char header[64];
    int hlen = snprintf(header, sizeof(header), "<38>Jul  9 22:40:03 web01 %s[4242]: ", prog);
    char *line = malloc((size_t)hlen + len);
    memcpy(line, header, (size_t)hlen);
    memcpy(line + hlen, msg_in, len);
    struct trl_event *ev = trl_event_create(a, line, (size_t)hlen + len, 0);
    free(line);
    trl_parse_event(ev, TRL_FORMAT_AUTO);

    /* The message alone, in a buffer with nothing after it. */
    char *msg = malloc(len ? len : 1);
    memcpy(msg, msg_in, len);
    ev = tagged_event(a, prog, pam_logger);
    trl_event_set_ref(ev, TRL_F_MESSAGE, msg, len);
    trl_normalize(ev);
    for (size_t i = 0; i < sizeof(normalisers) / sizeof(normalisers[0]); i++) {
        ev = tagged_event(a, prog, pam_logger);
        uint32_t before = ev->nfields;
        if (normalisers[i](ev, msg, len) != 0 && ev->nfields != before)
            abort(); /* a message that was not recognised must leave the event untouched */
    }
    free(msg);
    trl_arena_destroy(a);
    return 0;
}

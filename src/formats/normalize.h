/*
 * normalize: program-specific normalisers that read the message text of an already parsed event
 * and set ECS fields (event.category/type/action/outcome, user.*, source.*, process.*, ...).
 *
 * trl_normalize() picks normalisers by the program (log.syslog.appname / process.name) and by
 * the event's format; each normaliser recognises its message shapes and leaves the event untouched
 * when a message is not one it knows. Pure functions over the event; allocate only in its arena;
 * callable from any thread on distinct events.
 */
#ifndef TRL_NORMALIZE_H
#define TRL_NORMALIZE_H

#include "core/event.h"

#include <stddef.h>

void trl_normalize(struct trl_event *ev);

/* Each takes the event and its message text (the syslog MSG without the "program[pid]: " tag).
 * Returns 0 when it recognised the message, TRL_ENOMATCH otherwise. */
int trl_norm_sshd(struct trl_event *ev, const char *msg, size_t len);
int trl_norm_sudo(struct trl_event *ev, const char *msg, size_t len);
int trl_norm_su(struct trl_event *ev, const char *msg, size_t len);
/* useradd, userdel, usermod, groupadd, groupdel, groupmod, gpasswd, passwd, chpasswd, chage. */
int trl_norm_accounts(struct trl_event *ev, const char *msg, size_t len);
int trl_norm_logind(struct trl_event *ev, const char *msg, size_t len);
/* cron, CRON, crond, crontab. */
int trl_norm_cron(struct trl_event *ev, const char *msg, size_t len);
/* netfilter LOG lines ("... IN=eth0 OUT= SRC=... DST=... PROTO=TCP SPT=.. DPT=..") from the kernel.
 */
int trl_norm_netfilter(struct trl_event *ev, const char *msg, size_t len);
/* PAM lines of any program: "pam_unix(sshd:auth): authentication failure; ... rhost=... user=...".
 */
int trl_norm_pam(struct trl_event *ev, const char *msg, size_t len);
/* Windows events: maps winlog.event_id + winlog.event_data.* (EVTX names) onto ECS. */
int trl_norm_windows(struct trl_event *ev);

#endif

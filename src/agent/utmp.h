/*
 * utmp: login and logout records from wtmp, failed logins from btmp, and tampering with either.
 *
 * Both files are arrays of struct utmp (<utmp.h>). New records are read from the offset reached
 * last time, which is kept, with the file's device and inode, in an offsets file in the agent's
 * state directory (like the log tailer), so a restart neither repeats nor skips a login.
 *
 * Events (event.dataset "agent.login"):
 *   wtmp USER_PROCESS   -> event.action "logged-in"  (category authentication+session, type start)
 *   wtmp DEAD_PROCESS   -> event.action "logged-out" (category session, type end); the user comes
 *                          from the matching login on the same tty when the record has none
 *   wtmp BOOT_TIME      -> event.action "system-boot"; RUN_LVL "shutdown" -> "system-shutdown"
 *   btmp any record     -> event.action "logon-failed" (outcome failure)
 *   either file shrinks -> event.action "log-truncated"; either file deleted -> "log-deleted".
 * Attackers wipe these files to hide their logins; truncation is reported because detection relies
 * on it. After a truncation or a recreation only records newer than the last one seen are
 * reported, so rewriting the file does not replay old logins.
 *
 * Hand-off: events are passed to a callback, allocated in the caller's arena. trl_utmp_commit()
 * persists the position after the last record delivered: call it once those events are safely
 * handed off (spooled). Not thread-safe: one thread drives a reader.
 */
#ifndef TRL_AGENT_UTMP_H
#define TRL_AGENT_UTMP_H

#include "core/arena.h"
#include "core/event.h"

#include <stdbool.h>
#include <stddef.h>

struct trl_utmp_config {
    const char *state_path; /* offsets file, e.g. <state_dir>/utmp.offsets; NULL: not persisted */
    const char *wtmp_path;  /* NULL: /var/log/wtmp; "": not read */
    const char *btmp_path;  /* NULL: /var/log/btmp; "": not read */
    bool read_existing;     /* without saved state, report records already in the files (default:
                               start at their end) */
};

/* Receives one event. Returns 0 to go on, non-zero to stop the poll after this event. */
typedef int (*trl_utmp_cb)(void *ud, struct trl_event *ev);

struct trl_utmp;

/* Returns 0 and sets *out, or TRL_EINVAL. Missing files are not an error (they may appear). */
int trl_utmp_create(const struct trl_utmp_config *cfg, struct trl_utmp **out);
void trl_utmp_destroy(struct trl_utmp *u);

/* Reads new records of both files; call it every second or so. Returns the number of events
 * delivered. */
int trl_utmp_poll(struct trl_utmp *u, struct trl_arena *arena, trl_utmp_cb cb, void *ud);
/* Persists the positions reached. Returns 0 or a negative errno. */
int trl_utmp_commit(struct trl_utmp *u);

/* Turns one raw record into an event (NULL for records that report nothing: EMPTY, INIT_PROCESS,
 * ...). from_btmp selects the failed-login meaning. Pure: exposed for tests and fuzzing. */
struct trl_event *trl_utmp_record_event(struct trl_arena *arena, const void *rec, size_t len,
                                        bool from_btmp, const char *path);

#endif

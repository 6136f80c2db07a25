/*
 * journal: the systemd journal as an agent source, through libsystemd's sd_journal.
 *
 * Each entry becomes one event, mapped exactly as the server maps `journalctl -o json` lines
 * (formats/json_in.h: host.name, process.*, log.syslog.*, message, journald.* for the rest) and
 * then normalised like a syslog line from the same program, so sshd's failed passwords read the
 * same whichever way they arrive. event.original holds the entry's MESSAGE.
 *
 * Position: the cursor of the last entry delivered is kept in a state file (see statefile.h) by
 * trl_journal_commit(), so a restart resumes after it; an entry rotated away since then resumes at
 * the oldest entry still there. Without a saved cursor the reader starts at the end of the journal
 * (only new entries), or at its start with read_existing.
 *
 * Hand-off: events are passed to a callback, allocated in the caller's arena. Not thread-safe:
 * one thread drives a reader (sd_journal objects are bound to one thread).
 */
#ifndef TRL_AGENT_JOURNAL_H
#define TRL_AGENT_JOURNAL_H

#include "core/arena.h"
#include "core/event.h"

#include <stdbool.h>
#include <stddef.h>

struct trl_journal_config {
    const char *state_path; /* cursor file, e.g. <state_dir>/journal.cursor; NULL: not persisted */
    const char *directory;  /* NULL: this machine's journal; else the journal files in it */
    const char *const *matches; /* NULL-terminated "FIELD=value" list, any of which selects an
                                   entry (e.g. "_SYSTEMD_UNIT=ssh.service"); NULL: every entry */
    bool read_existing;         /* without a saved cursor, start at the oldest entry */
    size_t max_field;           /* longest field value read; 0: 64 KiB */
};

/* Receives one event. Returns 0 to go on, non-zero to stop the poll after this event. */
typedef int (*trl_journal_cb)(void *ud, struct trl_event *ev);

struct trl_journal;

/* Returns 0 and sets *out, TRL_EINVAL for a bad match, or a negative errno from sd_journal (e.g.
 * -ENOENT when the directory does not exist). */
int trl_journal_create(const struct trl_journal_config *cfg, struct trl_journal **out);
void trl_journal_destroy(struct trl_journal *j);

/* A descriptor that turns readable when the journal changes, for the caller's event loop; then
 * call trl_journal_poll(). Negative errno when the journal cannot be watched (poll on a timer). */
int trl_journal_fd(struct trl_journal *j);

/* Delivers up to max new entries (0: no limit). Returns the number delivered or a negative errno.
 */
int trl_journal_poll(struct trl_journal *j, struct trl_arena *arena, size_t max, trl_journal_cb cb,
                     void *ud);
/* Persists the cursor of the last entry delivered. Returns 0 or a negative errno. */
int trl_journal_commit(struct trl_journal *j);

#endif

/*
 * fim: file integrity monitoring. Watches configured files and directory trees and reports files
 * created, modified, deleted, or whose permissions or owner changed, with the values before and
 * after.
 *
 * The baseline (SHA-256, size, mode, uid, gid, mtime, ctime, inode of every file) lives in an
 * SQLite database in the agent's state directory, read row by row as paths are looked at. SQLite
 * rather than a flat file because the baseline changes a few rows at a time: each change is one
 * small transaction instead of rewriting a file of every entry, the write-ahead log keeps it
 * consistent after kill -9 or power loss, and an incident responder can query it with sqlite3.
 *
 * Detection has two halves. inotify (IN_CREATE, IN_CLOSE_WRITE, IN_ATTRIB, IN_DELETE, IN_MOVED_*)
 * reports changes as they happen: a path that changed is looked at after settle_ms, so a file
 * created and then written is one "file-created" event with its final content. A periodic full
 * scan catches what inotify cannot (changes while the agent was down, queue overflows, watch
 * limits). The first scan of a path builds its baseline silently; later scans report differences.
 * A file is re-hashed only when its size, mtime, ctime or inode changed; files larger than
 * max_hash_bytes are not hashed (fim.hash_skipped: "size-limit").
 *
 * Events (event.dataset "agent.fim", category "file"): event.action "file-created" (type
 * creation), "file-modified", "file-permissions-changed", "file-owner-changed" (type change),
 * "file-deleted" (type deletion); file.* hold the current values (the last known ones for a
 * deletion), fim.before.* the previous ones, fim.changed lists what differed.
 *
 * Ownership: events go to the callback, allocated in the caller's arena; the monitor never touches
 * them afterwards. The monitor owns its descriptors and database. Not thread-safe: one thread
 * drives it. A full scan hashes whatever changed and may take a while on large trees: give the
 * monitor a thread of its own when that matters.
 */
#ifndef TRL_AGENT_FIM_H
#define TRL_AGENT_FIM_H

#include "agent/agent_event.h"
#include "core/arena.h"

#include <stdbool.h>
#include <stdint.h>

struct trl_fim_config {
    const char *db_path;     /* baseline database, e.g. <state_dir>/fim.db (required) */
    uint64_t max_hash_bytes; /* 0: 64 MiB */
    int scan_interval_s;     /* full scan period; 0: 3600 */
    int settle_ms;           /* delay before looking at a path inotify reported; 0: 200 */
    bool no_realtime;        /* periodic scans only, no inotify */
};

struct trl_fim_stats {
    uint64_t entries;     /* files and directories in the baseline */
    uint64_t scans;       /* full scans done */
    uint64_t watches;     /* directories watched by inotify */
    uint64_t watch_fails; /* directories that could not be watched (limit reached, ...) */
    uint64_t overflows;   /* inotify queue overflows (each triggers a full scan) */
};

struct trl_fim;

/* Opens or creates the baseline. Returns 0 and sets *out, TRL_EINVAL, or a negative errno. */
int trl_fim_create(const struct trl_fim_config *cfg, struct trl_fim **out);
void trl_fim_destroy(struct trl_fim *f);

/* Monitors an absolute path: a file, or a directory and everything below it. */
int trl_fim_add_path(struct trl_fim *f, const char *path);
/* Skips paths matching an fnmatch(3) pattern, tested against the full path and the name. */
int trl_fim_ignore(struct trl_fim *f, const char *pattern);

/* The inotify descriptor to poll for readability, or -1. */
int trl_fim_fd(const struct trl_fim *f);
/* Milliseconds until trl_fim_poll() has work even without an inotify event. */
int trl_fim_timeout_ms(const struct trl_fim *f);
/* Handles inotify events, looks at settled paths, and runs the full scan when due (the first call
 * runs it at once). Returns the number of events delivered. */
int trl_fim_poll(struct trl_fim *f, struct trl_arena *arena, trl_agent_event_fn cb, void *ud);
/* Runs a full scan now. Returns the number of events delivered. */
int trl_fim_scan(struct trl_fim *f, struct trl_arena *arena, trl_agent_event_fn cb, void *ud);

void trl_fim_stats(const struct trl_fim *f, struct trl_fim_stats *st);
/* Gives back the baseline database's cache between scans (NULL-safe). */
void trl_fim_trim(struct trl_fim *f);

#endif

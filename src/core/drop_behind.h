/*
 * drop_behind: keeps a file that is written as a stream (appended to, not read back by its writer)
 * from filling the page cache.
 *
 * Without it, every byte written stays cached until memory runs short, and the kernel writes the
 * dirty pages back in bursts. A relay that writes its output at hundreds of MB/s then takes fresh
 * memory for every page and evicts what other work had cached. Here, every TRL_DROP_BEHIND_WINDOW
 * bytes written, their writeback is started (sync_file_range); the window before that, whose
 * writeback has had a window's time to finish, is waited for and dropped from the cache
 * (POSIX_FADV_DONTNEED). At most about three windows of the file stay cached, and its pages are
 * reused while they are still warm. A reader that follows the file closely (tail -f) still reads
 * from the cache; one more than two windows behind reads from the disk. When the disk is slower
 * than the writer, the writer waits for it, as it would once the kernel's dirty limit is reached,
 * but with a few tens of MB dirty instead of gigabytes.
 *
 * The file's end is read again at every window, so a file truncated under the writer (logrotate's
 * copytruncate) or appended to by another one is followed. Only regular files are handled; for
 * anything else (a pipe, a terminal) the calls do nothing.
 * Errors of the hints are ignored: they change what is cached, never what is written.
 *
 * Ownership: the struct is the caller's and does not own the descriptor. One thread at a time (the
 * one that writes the file).
 */
#ifndef TRL_CORE_DROP_BEHIND_H
#define TRL_CORE_DROP_BEHIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRL_DROP_BEHIND_WINDOW (16u << 20)

struct trl_drop_behind {
    int fd;
    bool on;          /* a regular file */
    uint64_t end;     /* offset after the last byte written */
    uint64_t started; /* writeback started for [dropped, started) */
    uint64_t dropped; /* dropped from the cache below this */
};

/* Starts following fd, whose next write goes at its current end (O_APPEND) or offset. */
void trl_drop_behind_init(struct trl_drop_behind *d, int fd);
/* Records that n more bytes were written, starting and dropping what the windows say. */
void trl_drop_behind_wrote(struct trl_drop_behind *d, size_t n);

#endif

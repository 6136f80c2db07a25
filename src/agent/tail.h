/*
 * tail: follows log files line by line, as `tail -F` does, without losing or repeating a line
 * across rotations and restarts.
 *
 * Files are named by paths or glob(3) patterns (re-expanded on every scan, so new files are picked
 * up). A file is identified by device + inode, which makes it possible to follow:
 *   - rotation by rename: the old file is read to its end (and watched a little longer, in case
 *     the writer has not reopened yet) before and while the new file under the same name is read;
 *   - copytruncate: the size drops below the read offset (or the first bytes change), reading
 *     restarts at 0;
 *   - deletion and recreation: the deleted file is drained through the open descriptor, the new
 *     one is read from its start.
 *
 * Delivery is at-least-once with an explicit hand-off: every line carries (file_id, end), the
 * offset just past it. The caller acknowledges with trl_tail_ack() once the line is safely handed
 * off (e.g. appended to the spool) and calls trl_tail_commit() to persist the acknowledged
 * positions, with device, inode and a fingerprint of the first bytes, to the state file (atomic
 * write). After a restart each file resumes exactly after its last acknowledged line, including a
 * file that was rotated away meanwhile (found again by inode in the same directory).
 *
 * Lines: the newline (and a CR before it) is removed; a line longer than max_line is cut there and
 * flagged TRL_TAIL_TRUNCATED, the rest up to the next newline skipped; a last line without a
 * newline is delivered, flagged TRL_TAIL_PARTIAL, once the file has not grown for idle_flush_ms.
 *
 * Driving it: poll(2) trl_tail_fd() (inotify; -1 when inotify is unavailable) with the timeout
 * trl_tail_timeout_ms(), then call trl_tail_poll(). Files are also rescanned every
 * poll_interval_ms, which catches what inotify cannot see (NFS, directories created later).
 *
 * Ownership: the tailer owns its descriptors and buffers; a line passed to the callback is valid
 * only during the call. Not thread-safe: one thread calls every function of a tailer.
 */
#ifndef TRL_AGENT_TAIL_H
#define TRL_AGENT_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum trl_tail_line_flag {
    TRL_TAIL_TRUNCATED = 1 << 0, /* cut at max_line; the rest of the line was skipped */
    TRL_TAIL_PARTIAL = 1 << 1,   /* no newline yet: delivered after idle_flush_ms */
};

struct trl_tail_config {
    const char *state_path; /* offsets file, e.g. <state_dir>/tail.offsets; NULL: not persisted */
    size_t max_line;        /* 0: 64 KiB */
    int idle_flush_ms;      /* 0: 5000 */
    int poll_interval_ms;   /* 0: 1000 */
    int rotate_wait_ms;     /* how long a rotated or deleted file is still read after it last
                               grew; 0: 5000 */
    bool start_at_end;      /* files present at the first scan and unknown to the state file are
                               read from their end instead of their beginning */
};

struct trl_tail_line {
    const char *data; /* NUL-terminated, without the newline */
    size_t len;
    const char *path; /* the name the file was last seen under */
    uint64_t file_id; /* pass to trl_tail_ack() */
    uint64_t offset;  /* of the line's first byte */
    uint64_t end;     /* just past the line and its newline */
    unsigned flags;   /* enum trl_tail_line_flag */
};

/* Receives one line. Returns 0 to go on, non-zero to make trl_tail_poll() return after this line
 * (the line counts as delivered; the rest waits for the next poll). */
typedef int (*trl_tail_cb)(void *ud, const struct trl_tail_line *line);

struct trl_tail;

/* Returns 0 and sets *out, or a negative errno / TRL_EINVAL. A damaged state file is logged and
 * ignored (files are then read from their beginning). */
int trl_tail_create(const struct trl_tail_config *cfg, struct trl_tail **out);
/* Closes every file; does not commit. NULL-safe. */
void trl_tail_destroy(struct trl_tail *t);

/* Follows the files a path or glob pattern names (now and later). Returns 0 or TRL_EINVAL. */
int trl_tail_add(struct trl_tail *t, const char *pattern);
/* Never follows files whose name (last component) matches this fnmatch(3) pattern ("*.gz"). */
int trl_tail_exclude(struct trl_tail *t, const char *pattern);

/* The descriptor to poll for readability, or -1 (then rely on the timeout). */
int trl_tail_fd(const struct trl_tail *t);
/* Milliseconds until trl_tail_poll() has work even without an inotify event (0: now). */
int trl_tail_timeout_ms(const struct trl_tail *t);
/* Reads what is available and calls cb for each complete line. Returns the number of lines
 * delivered (>= 0) or a negative errno when the inotify descriptor failed. */
int trl_tail_poll(struct trl_tail *t, trl_tail_cb cb, void *ud);

/* Acknowledges every line of file_id that ends at or before end. Unknown ids (a file since
 * truncated or gone) are ignored. */
void trl_tail_ack(struct trl_tail *t, uint64_t file_id, uint64_t end);
/* Persists the acknowledged positions when they changed. Returns 0 or a negative errno. */
int trl_tail_commit(struct trl_tail *t);

/* Number of files currently open (tests, stats). */
size_t trl_tail_open_files(const struct trl_tail *t);

#endif

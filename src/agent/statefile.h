/*
 * statefile: small durable files in the agent's state directory (offsets, ack positions).
 *
 * A state file is always replaced whole and atomically: the new content goes to "<path>.tmp", is
 * fsync'ed, renamed over the old file, and the directory is fsync'ed, so after a crash or power
 * loss the file holds either the old or the new content, never a mix. Strings returned are
 * malloc'ed and owned by the caller. The functions keep no state: safe from any thread, as long as
 * two threads do not write the same path.
 */
#ifndef TRL_AGENT_STATEFILE_H
#define TRL_AGENT_STATEFILE_H

#include <stddef.h>

/* Creates dir and its missing parents with mode 0700. Returns 0 or a negative errno. */
int trl_state_mkdir(const char *dir);
/* Replaces path with len bytes of data atomically and durably. Returns 0 or a negative errno. */
int trl_state_write(const char *path, const void *data, size_t len);
/* Reads at most max bytes of path into a malloc'ed NUL-terminated buffer. Returns 0, -ENOENT when
 * the file does not exist, -EFBIG when it is larger than max, or another negative errno. */
int trl_state_read(const char *path, size_t max, char **out, size_t *len);
/* fsyncs a directory so that entries created, renamed or removed in it are durable. */
int trl_state_sync_dir(const char *dir);
/* "dir/name", malloc'ed. */
char *trl_path_join(const char *dir, const char *name);

#endif

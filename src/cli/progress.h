/*
 * progress: a one-line progress bar on stderr for long-running verbs (ingest), redrawn at most a
 * few times a second. When disabled (not a terminal) every call is a no-op. Single-threaded use.
 */
#ifndef TRL_PROGRESS_H
#define TRL_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct trl_progress;

/* total = expected bytes (0 when unknown). Returns NULL when disabled; NULL is accepted below. */
struct trl_progress *trl_progress_create(bool enabled, uint64_t total);
void trl_progress_add(struct trl_progress *p, uint64_t done);
/* Erases the bar. NULL-safe. */
void trl_progress_destroy(struct trl_progress *p);

#endif

/*
 * rule_state: which Sigma rules are turned off, kept in DATA/rules-state.json as
 * {"disabled":["<rule id>",...]} (sorted, no duplicates). The API (PATCH /api/v1/rules/{id}) and
 * `trapline rules disable|enable` change it; the detector reads it when it starts, on every
 * reload (SIGHUP) and when the API asks it to.
 *
 * Changes are read-modify-write under an exclusive lock on DATA/rules-state.lock, so concurrent
 * writers (API threads, the CLI) lose nothing, and the file is replaced atomically (temporary
 * file, fsync, rename), so a reader sees the old state or the new one, never a torn file.
 *
 * Ownership: a struct trl_rule_state owns its strings; free it with trl_rule_state_free().
 * Threads: any thread; the functions share no state but the files.
 */
#ifndef TRL_RULE_STATE_H
#define TRL_RULE_STATE_H

#include <stdbool.h>
#include <stddef.h>

#define TRL_RULE_STATE_FILE "rules-state.json"

struct trl_rule_state {
    char **disabled; /* sorted by strcmp */
    size_t ndisabled;
};

/* Reads the state of data_dir. A missing file is the empty state (every rule on). Returns 0, or a
 * negative error (unreadable or malformed file: out is then empty). */
int trl_rule_state_load(const char *data_dir, struct trl_rule_state *out);
void trl_rule_state_free(struct trl_rule_state *st);
/* True when the rule with this id is turned off. */
bool trl_rule_state_is_disabled(const struct trl_rule_state *st, const char *id);
/* Turns the rule id on or off in data_dir's state. *changed (may be NULL) tells whether the state
 * was different before. Returns 0, or a negative error (the file is then unchanged). */
int trl_rule_state_set(const char *data_dir, const char *id, bool enabled, bool *changed);

#endif

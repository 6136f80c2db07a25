/*
 * sigma: Trapline's native Sigma rule engine (specification v2.1): loads rule files, compiles them
 * once (wildcards, modifiers, regexes with PCRE2 JIT, CIDR, conditions) and evaluates events
 * against them in the stream.
 *
 * A ruleset owns its rules; trl_sigma_ruleset_destroy() frees everything. Loading is
 * single-threaded (do it before sharing the ruleset, or build a new one and swap it on reload).
 * Evaluation only reads the ruleset, so one ruleset may be evaluated from several threads, each
 * with its own struct trl_sigma_scratch.
 */
#ifndef TRL_SIGMA_H
#define TRL_SIGMA_H

#include "core/event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trl_sigma_ruleset;
struct trl_sigma_scratch;

struct trl_sigma_logsource {
    char *product;
    char *category;
    char *service;
};

struct trl_sigma_rule_info {
    bool correlation; /* a correlation rule (type names which) rather than a detection rule */
    const char *type; /* event_count, value_count, temporal, temporal_ordered; NULL for detection */
    const char *id;
    const char *title;
    const char *level; /* informational, low, medium, high, critical */
    const char *status;
    const char *file;
    int line;
    const char *const *tags;
    size_t ntags;
    const struct trl_sigma_logsource *logsource;
};

/* Called once per problem while loading: file, line (0 when unknown), rule title or id when known,
 * reason. unsupported=true for valid Sigma we deliberately do not evaluate (old syntax...). */
typedef void (*trl_sigma_report_fn)(void *ud, const char *file, int line, const char *rule,
                                    const char *reason, bool unsupported);

struct trl_sigma_ruleset *trl_sigma_ruleset_create(void);
void trl_sigma_ruleset_destroy(struct trl_sigma_ruleset *rs);
/* Loads a rule file or, recursively, every *.yml / *.yaml file under a directory. Invalid or
 * unsupported rules are reported and skipped. Returns the number of rules added, or a negative
 * error when the path cannot be read at all. */
int trl_sigma_load_path(struct trl_sigma_ruleset *rs, const char *path, trl_sigma_report_fn report,
                        void *ud);
/* Calls each with the full path of every entry of directory dir that trl_sigma_load_path() reads,
 * in the order it reads them: subdirectories and *.yml / *.yaml files, hidden ones left out,
 * sorted by name. Returns 0, or a negative errno when dir cannot be read. */
int trl_sigma_dir_each(const char *dir, void (*each)(void *ud, const char *path), void *ud);
/* Loads rules from a YAML buffer; name is used in reports. */
int trl_sigma_load_buffer(struct trl_sigma_ruleset *rs, const char *name, const char *buf,
                          size_t len, trl_sigma_report_fn report, void *ud);
/* Resolves correlation rules' references (by id or name, across every file loaded so far) and
 * reports those that cannot be resolved. Call once after the last load; evaluation needs it. */
void trl_sigma_ruleset_finalize(struct trl_sigma_ruleset *rs, trl_sigma_report_fn report, void *ud);
/* Detection rules and correlation rules are numbered together: 0..count-1. */
size_t trl_sigma_rule_count(const struct trl_sigma_ruleset *rs);
size_t trl_sigma_correlation_count(const struct trl_sigma_ruleset *rs);
void trl_sigma_rule_get_info(const struct trl_sigma_ruleset *rs, size_t index,
                             struct trl_sigma_rule_info *out);

/* Evaluation state: regex match data, and the correlation windows of one event stream. Events
 * given to one scratch must come in time order (timestamps going backwards are taken as they are).
 * Memory is bounded: each correlation keeps at most max_groups groups (default 100000). */
struct trl_sigma_scratch *trl_sigma_scratch_create(const struct trl_sigma_ruleset *rs);
void trl_sigma_scratch_destroy(struct trl_sigma_scratch *s);

/* Reload: hands the correlation windows of from (evaluated against its ruleset) over to to (a
 * fresh scratch of the new ruleset). A correlation keeps its windows when the new ruleset has one
 * with the same id and the same document (compared by a hash of its parsed YAML, so comments and
 * layout do not count); changed, removed and new correlations start empty. from keeps only what
 * was not handed over. Returns how many correlations kept their windows. Call on the thread that
 * evaluates with both scratches. */
size_t trl_sigma_scratch_adopt(struct trl_sigma_scratch *to, struct trl_sigma_scratch *from);

/* Turns one rule (detection or correlation, numbered as for trl_sigma_rule_get_info) off or back
 * on for the evaluations made with this scratch. A rule that is off is skipped before anything of
 * it is evaluated: it raises nothing and feeds no correlation; a correlation that is off takes no
 * hits and fires nothing. Every rule is on in a new scratch. */
void trl_sigma_scratch_set_enabled(struct trl_sigma_scratch *s, size_t index, bool enabled);

struct trl_sigma_match {
    size_t rule_index;
    bool correlation;
    /* Correlation hits: the group-by fields and their values, and the ids (as given to
     * trl_sigma_eval) of the events that made it fire, oldest first (at most 64). */
    const char *const *group_fields;
    const char *const *group_values;
    size_t ngroup;
    const uint64_t *event_ids;
    size_t nevents;
    /* How many events made it fire: 1 for a detection rule; for a correlation, the events in the
     * window (event_count, value_count) or the one event per rule it saw (temporal,
     * temporal_ordered), a correlation it builds on counting every event that made that one
     * fire. May be more than the nevents listed. */
    uint64_t count;
};

/* Evaluates ev (identified by event_id in correlation hits) against every rule: calls match for
 * each detection rule that matches and should generate alerts, and for each correlation that
 * fires. Returns the number of calls. */
size_t trl_sigma_eval(const struct trl_sigma_ruleset *rs, struct trl_sigma_scratch *s,
                      const struct trl_event *ev, uint64_t event_id,
                      void (*match)(void *ud, const struct trl_sigma_match *m), void *ud);

#endif

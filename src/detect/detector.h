/*
 * detector: the detection stage of the pipeline. Runs every parsed event through the loaded Sigma
 * rules (with correlation state kept across batches) and records alerts in the alert store.
 *
 * Ownership: the detector owns its ruleset, evaluation state and alert store handle. Threads:
 * create on the main thread, then only the pipeline worker calls trl_detector_process();
 * trl_detector_reload() builds a new ruleset on its caller's thread and the worker swaps it in
 * between batches.
 */
#ifndef TRL_DETECTOR_H
#define TRL_DETECTOR_H

#include "detect/outputs.h"
#include "detect/response.h"
#include "server/pipeline.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trl_detector_config {
    const char *const *rule_paths; /* files or directories of Sigma rules */
    size_t nrule_paths;
    const char *data_dir;   /* where alerts.db lives */
    int64_t fold_window_ns; /* repeats of an open alert within this window fold into it */
    /* Where alerts are sent (NULL or none configured: only stored), and the least level sent:
     * 0 informational .. 4 critical. */
    const struct trl_outputs_config *outputs;
    int outputs_min_level;
    /* Active response asked for by alerts (see detect/response.h); NULL: none. Not owned: it
     * must outlive the detector's last trl_detector_process(). */
    struct trl_response *response;
};

struct trl_detector_stats {
    size_t rules;
    size_t unsupported;
    size_t invalid;
    uint64_t events;
    uint64_t matches;
    uint64_t ioc_matches; /* threat-intelligence alerts written (see ioc/ioc_stage.h) */
    uint64_t alert_errors;
};

/* Loads and compiles the rules (problems are logged with file, line and reason), opens the alert
 * store and starts the alert outputs. Returns NULL only when the alert store cannot be opened or
 * an output's settings are unusable. */
struct trl_detector *trl_detector_create(const struct trl_detector_config *cfg);
void trl_detector_destroy(struct trl_detector *d);
/* Reload (SIGHUP): reads the rules of paths again and hands them to the worker, which swaps them
 * in between two batches, so that every event is evaluated exactly once, by the old rules or by
 * the new. Correlations whose document is unchanged keep their windows (see
 * trl_sigma_scratch_adopt()); changed, removed and new ones start empty. A rule file that now has
 * an invalid rule or is unreadable is reported and its previous version stays in effect. The
 * rules are compiled on the calling thread (not the worker's); call from one thread at a time.
 * Returns 0, or a negative error when the new rules were not handed over. */
int trl_detector_reload(struct trl_detector *d, const char *const *paths, size_t npaths);

/* A pipeline stage (see trl_pipeline_config.stage): evaluates every event of the batch and writes
 * an alert for each threat-intelligence hit the enrich hook left in it. */
int trl_detector_process(void *detector, struct trl_batch *b);
void trl_detector_get_stats(const struct trl_detector *d, struct trl_detector_stats *out);

/* Reads which rules are turned off (DATA/rules-state.json, see detect/rule_state.h) again; the
 * worker applies it before its next batch. trl_detector_create() and trl_detector_reload() call
 * it too. Any thread. Returns 0, or a negative error (logged; the state in effect stays). */
int trl_detector_load_rule_state(struct trl_detector *d);
/* True unless the rule state in effect turns the rule id off. Any thread. */
bool trl_detector_rule_enabled(struct trl_detector *d, const char *id);
/* Calls fn for every rule with an id that the worker evaluates: whether it is on, and how often it
 * matched (fired, for a correlation) since the server started; counts go on across reloads for
 * rules whose id stays. Any thread; fn runs with the detector's lock held and must not call the
 * detector. */
void trl_detector_each_rule(struct trl_detector *d,
                            void (*fn)(void *ud, const char *id, bool enabled, uint64_t hits),
                            void *ud);
/* Events evaluated and nanoseconds spent in trl_detector_process() since the start. Any thread. */
void trl_detector_get_eval_stats(const struct trl_detector *d, uint64_t *events, uint64_t *ns);

#endif

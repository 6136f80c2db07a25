/*
 * detector: the detection stage of the pipeline. Runs every parsed event through the loaded Sigma
 * rules (with correlation state kept across batches) and records alerts in the alert store.
 *
 * Ownership: the detector owns its ruleset, evaluation state and alert store handle. Threads:
 * create on the main thread, then only the pipeline worker calls trl_detector_process(); reload
 * swaps in a newly built ruleset between batches (called by the worker through the pipeline).
 */
#ifndef TRL_DETECTOR_H
#define TRL_DETECTOR_H

#include "detect/outputs.h"
#include "server/pipeline.h"

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
/* A pipeline stage (see trl_pipeline_config.stage): evaluates every event of the batch and writes
 * an alert for each threat-intelligence hit the enrich hook left in it. */
int trl_detector_process(void *detector, struct trl_batch *b);
void trl_detector_get_stats(const struct trl_detector *d, struct trl_detector_stats *out);

#endif

/*
 * ioc_stage: threat-intelligence matching in the live pipeline.
 *
 * The stage keeps the matcher built from DATA/ioc.db. Its enrich hook (trl_ioc_stage_enrich, for
 * trl_pipeline_config.enrich) runs right after parsing, one batch at a time: it matches every event
 * of the batch, adds the best hit's threat.indicator.* fields to the event (so they are encoded and
 * stored with it) and leaves every hit in the batch (b->ioc_hits, in the batch arena, strings
 * copied) for the worker, whose detector writes one alert per hit with trl_ioc_alert_batch(): the
 * alert store handle belongs to the worker thread.
 *
 * A reload thread looks at ioc.db (and its write-ahead log) every few seconds; when it changed, it
 * builds a new matcher and publishes it, and the enrich hook picks it up between two batches, so
 * `trapline ioc import` into a running server's data directory takes effect without a restart.
 *
 * Ownership: the stage owns its matcher handle, reader and reload thread. Threads: create and
 * destroy on one thread (after the pipeline is destroyed); the enrich hook from one thread at a
 * time (the pipeline never runs it on two at once); trl_ioc_alert_batch on the stage's thread.
 */
#ifndef TRL_IOC_STAGE_H
#define TRL_IOC_STAGE_H

#include "detect/alerts.h"
#include "ioc/indicator.h"
#include "server/pipeline.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trl_ioc_stage;

struct trl_ioc_stage_opts {
    const char *data_dir;       /* where ioc.db lives */
    int64_t reload_interval_ns; /* how often ioc.db is checked for changes; 0: 5 s */
    bool no_reload_thread;      /* tests: reload only through trl_ioc_stage_check_reload() */
};

/* Loads the indicators of DATA/ioc.db (a missing database means none, until it appears) and
 * starts the reload thread. Returns NULL (logged) when the thread cannot start. */
struct trl_ioc_stage *trl_ioc_stage_create(const struct trl_ioc_stage_opts *opts);
/* Stops the reload thread and drops the matchers. NULL-safe. */
void trl_ioc_stage_destroy(struct trl_ioc_stage *s);
/* Rebuilds the matcher when ioc.db changed since the last load. Returns 1 when a new matcher was
 * published, 0 when nothing changed, or a negative error (the old matcher stays). */
int trl_ioc_stage_check_reload(struct trl_ioc_stage *s);
/* Indicators in the matcher last published. */
size_t trl_ioc_stage_indicators(struct trl_ioc_stage *s);

/* The pipeline hook (trl_pipeline_config.enrich, with the stage as ud). */
void trl_ioc_stage_enrich(void *stage, struct trl_batch *b);

/* One hit of a batch; strings live in the batch arena. */
struct trl_ioc_batch_hit {
    uint32_t event; /* index in b->events */
    enum trl_ioc_type type;
    int confidence;
    const char *value; /* the indicator */
    const char *id;
    const char *source;
    const char *tags_json;
    const char *field; /* the event field it matched in */
};

struct trl_ioc_batch_hits {
    struct trl_ioc_batch_hit *items;
    size_t n, cap;
    uint64_t events_hit;
};

/* What one threat-intelligence alert says. */
struct trl_ioc_alert_info {
    enum trl_ioc_type type;
    int confidence;
    const char *value, *id, *tags_json, *field;
    const char *host;     /* may be NULL */
    const char *event_id; /* may be NULL */
    int64_t timestamp_ns; /* when the event happened */
    bool retro;           /* found by a retro-hunt in stored events */
};

/* Adds (or folds) one alert: rule "ioc:<id>", title "Threat intel match: <type> <value>", level
 * from the confidence (>= 80 high, >= 50 medium, else low), the indicator's tags (plus
 * "retro-hunt" for a retro-hunt, whose group-by also holds the event's time as first_seen), and
 * group-by indicator and field. Returns 0 or a negative error. */
int trl_ioc_alert_add(struct trl_alert_store *store, const struct trl_ioc_alert_info *info);

/* Writes one alert per hit left in b by the enrich hook. Returns the number of alerts that could
 * not be written (0 when all were). *written counts those written. */
size_t trl_ioc_alert_batch(const struct trl_batch *b, struct trl_alert_store *store,
                           uint64_t *written);

#endif

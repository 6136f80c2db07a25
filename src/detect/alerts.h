/*
 * alerts: the alert store (DATA/alerts.db, SQLite, WAL). Detection adds alerts; analysts list them
 * and move them through new -> acknowledged -> closed.
 *
 * Repeats fold: an alert with the same rule, the same host and the same correlation group-by
 * values as an open alert (not closed) last seen within the fold window is counted into that alert
 * (count, last_seen, more event ids) instead of creating a new one. An alert's count is the number
 * of events that raised it: one per detection, every event that made a correlation fire.
 *
 * Outbox: when enabled with trl_alert_store_set_outbox(), every new or folded alert at or above a
 * level is also written, as a JSON object, to the table alert_outbox (id INTEGER PRIMARY KEY
 * AUTOINCREMENT, alert_id, body, created) in the same transaction, so that an alert stored is
 * never an alert lost to the outputs (detect/outputs.h reads and empties that table).
 *
 * Ownership: the store owns its SQLite handle; strings in struct trl_alert are the caller's and are
 * copied. Threads: one thread per store handle (the pipeline worker writes with its own handle, the
 * CLI reads with another; SQLite's WAL lets them run at once).
 */
#ifndef TRL_ALERTS_H
#define TRL_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trl_alert_store;

struct trl_alert {
    const char *rule_id;
    const char *title;
    const char *level;
    const char *const *tags;
    size_t ntags;
    const char *correlation; /* correlation type, NULL for a single-event detection */
    const char *const *group_fields;
    const char *const *group_values;
    size_t ngroup;
    const char *const *event_ids; /* the triggering events' event.id values (some of them) */
    size_t nevents;
    int64_t count; /* how many events raised it (a correlation's whole window); 0 counts as 1 */
    const char *host;
    int64_t timestamp_ns; /* when it happened (the event's @timestamp) */
};

/* Opens (creating if needed) DATA/alerts.db. fold_window_ns: 0 disables folding. */
struct trl_alert_store *trl_alert_store_open(const char *data_dir, int64_t fold_window_ns,
                                             bool read_only);
void trl_alert_store_close(struct trl_alert_store *s);
/* Adds or folds one alert. Writes are grouped into one transaction until trl_alert_store_commit. */
int trl_alert_store_add(struct trl_alert_store *s, const struct trl_alert *a);
int trl_alert_store_commit(struct trl_alert_store *s);

/* Sigma levels in order: informational 0, low 1, medium 2, high 3, critical 4; anything else 0. */
int trl_alert_level_rank(const char *level);
/* From now on, queues every added or folded alert whose level ranks at least min_rank into the
 * outbox. Returns 0 or -EIO. */
int trl_alert_store_set_outbox(struct trl_alert_store *s, int min_rank);

/* A stored alert, as listed. Strings are valid during the callback only. */
struct trl_alert_row {
    int64_t id;
    const char *rule_id;
    const char *title;
    const char *level;
    const char *tags_json;     /* JSON array */
    const char *correlation;   /* NULL for single-event detections */
    const char *group_by_json; /* JSON object */
    const char *host;
    const char *event_ids_json; /* JSON array of event.id values */
    const char *status;
    int64_t first_seen_ns;
    int64_t last_seen_ns;
    int64_t count;
};

struct trl_alert_filter {
    int64_t from_ns, to_ns; /* on last_seen; 0 = unbounded */
    const char *level;      /* exact, or NULL */
    const char *status;     /* exact, or NULL */
    const char *rule;       /* substring of title or rule id, or NULL */
    const char *host;       /* exact, or NULL */
    const char *text;       /* substring of title, group values or host, or NULL */
    size_t limit;           /* 0 = 1000 */
};

/* Newest first. Returns the number listed or a negative error. */
long trl_alert_store_list(struct trl_alert_store *s, const struct trl_alert_filter *f,
                          void (*each)(void *ud, const struct trl_alert_row *row), void *ud);
/* "new", "acknowledged", "closed". Returns 0, -ENOENT for an unknown id, TRL_EINVAL for a bad
 * status. */
int trl_alert_store_set_status(struct trl_alert_store *s, int64_t id, const char *status);
/* One alert by id: each() is called once. 0, -ENOENT for an unknown id, or -EIO. */
int trl_alert_store_get(struct trl_alert_store *s, int64_t id,
                        void (*each)(void *ud, const struct trl_alert_row *row), void *ud);

/* Analysts' notes on alerts (tables alert_assignees and alert_comments, created on first write;
 * need a writable store). An empty assignee clears it. 0, -ENOENT for an unknown alert, -EIO. */
int trl_alert_store_set_assignee(struct trl_alert_store *s, int64_t id, const char *assignee);
/* The assignee into out ("" when none). 0. */
int trl_alert_store_assignee(struct trl_alert_store *s, int64_t id, char *out, size_t cap);
int trl_alert_store_add_comment(struct trl_alert_store *s, int64_t id, const char *user,
                                const char *text, int64_t at_ns);
/* The comments of an alert, oldest first; strings valid during the callback. Returns their
 * number. */
long trl_alert_store_comments(struct trl_alert_store *s, int64_t id,
                              void (*each)(void *ud, int64_t at_ns, const char *user,
                                           const char *text),
                              void *ud);

#endif

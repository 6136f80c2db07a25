/*
 * pipes: the stages after '|' in a search (`failed | stats count by source.ip | head 10`).
 *
 *   | stats count [by f1[, f2 ...]]        one row per distinct combination of values: count
 *   | top N field                          the N most frequent values of a field, with percent
 *   | timechart span=1h count [by field]   counts per time bucket (spans in s, m, h, d)
 *   | fields f1, f2                        keeps only these (dotted) fields of each row
 *   | sort field [desc]                    orders the rows (numbers numerically, else as text)
 *   | head N                               the first N rows
 *
 * Stages chain left to right. A stage reads rows and writes rows; rows are flat JSON objects
 * (aggregate rows) or the events' JSON. The aggregating stages (stats, top, timechart) stream the
 * events into hash maps, so they see every matching event of the time range without holding the
 * events; sort buffers rows up to a cap and reports when it had to cut.
 *
 * Parsing (trl_pipeline_parse) is pure and allocates in the caller's arena, which owns the result.
 * A struct trl_pipe_run owns its own memory (trl_pipe_run_destroy) and belongs to one thread.
 */
#ifndef TRL_STORE_PIPES_H
#define TRL_STORE_PIPES_H

#include "core/arena.h"
#include "core/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRL_PIPE_MAX_STAGES 32
#define TRL_PIPE_MAX_FIELDS 16
#define TRL_PIPE_SORT_CAP   100000 /* rows a sort holds by default */

enum trl_pipe_kind {
    TRL_PIPE_STATS,
    TRL_PIPE_TOP,
    TRL_PIPE_TIMECHART,
    TRL_PIPE_FIELDS,
    TRL_PIPE_SORT,
    TRL_PIPE_HEAD,
};

struct trl_pipe_stage {
    enum trl_pipe_kind kind;
    uint32_t offset;     /* byte offset of the stage's name in the query */
    const char **fields; /* stats/timechart: by-fields; top, sort: one; fields: the list */
    size_t nfields;
    uint64_t n;      /* top N, head N */
    int64_t span_ns; /* timechart */
    bool desc;       /* sort */
};

struct trl_pipeline {
    struct trl_pipe_stage *stages;
    size_t n;
};

/* Parses the stages of s[off..len), where s[off] is the first '|'. On success returns 0 and *out
 * (in arena a); on a syntax error returns TRL_EINVAL with the byte offset of the fault in *err_off
 * and a message in msg. */
int trl_pipeline_parse(const char *s, size_t len, size_t off, struct trl_arena *a,
                       struct trl_pipeline **out, size_t *err_off, char *msg, size_t msgcap);

/* Writes the pipeline back (" | stats count by a, b ...") in a form that parses to the same. */
void trl_pipeline_format(const struct trl_pipeline *pl, void (*put)(void *ud, const char *s),
                         void *ud);

/* True when the pipeline needs every matching event of the range (an aggregation or a sort),
 * rather than the newest ones in order. */
bool trl_pipeline_needs_all(const struct trl_pipeline *pl);

/* True when the pipeline reads the events' JSON; false when only their timestamps matter
 * (`| stats count`, `| timechart count` without by-fields): trl_pipe_run_push then accepts a NULL
 * json. */
bool trl_pipeline_needs_json(const struct trl_pipeline *pl);

/* True when the pipeline's first stage aggregates (stats, top, timechart) by fields that are all
 * keyword columns of the store (block.h): its input can then be fed with
 * trl_pipe_run_push_values() from those columns instead of the events' JSON. cols[k] receives the
 * column (enum trl_col) of by-field k; *n their number (at most TRL_PIPE_MAX_FIELDS). */
bool trl_pipeline_column_fields(const struct trl_pipeline *pl, int *cols, size_t *n);

/* True when the pipeline's first stage only counts events (`| stats count`, `| timechart span=S
 * count`, without by-fields): its input can then be fed with trl_pipe_run_push_count(). *span_ns
 * receives the timechart's span (0 for stats: every event counts in one group). */
bool trl_pipeline_counts_only(const struct trl_pipeline *pl, int64_t *span_ns);

/* True when the first stage's groups depend on the events' times (a timechart): its input must
 * then come with each event's own timestamp. */
bool trl_pipeline_groups_by_time(const struct trl_pipeline *pl);

/* Names of the columns of the rows the pipeline produces, for table and CSV output; returns their
 * number, or 0 when the rows are whole events. The names live in the pipeline (or are static). */
size_t trl_pipeline_columns(const struct trl_pipeline *pl, const char **cols, size_t cap);

/* Receives each output row: its time (0 for aggregate rows without one) and flat JSON. A non-zero
 * return stops the run and becomes the return value of push/finish. */
typedef int (*trl_pipe_row_fn)(void *ud, int64_t ts, const char *json, size_t len);

/* trl_pipe_run_push returns this when no further input can change the output (a head is full). */
#define TRL_PIPE_STOP 1

struct trl_pipe_run;

/* sort_cap 0 means TRL_PIPE_SORT_CAP. */
struct trl_pipe_run *trl_pipe_run_create(const struct trl_pipeline *pl, size_t sort_cap,
                                         trl_pipe_row_fn out, void *ud);
void trl_pipe_run_destroy(struct trl_pipe_run *r);
/* Feeds one event. 0, TRL_PIPE_STOP, or the output callback's non-zero value. */
int trl_pipe_run_push(struct trl_pipe_run *r, int64_t ts, const char *json, size_t len);
/* Feeds one event by its values of the first stage's by-fields (trl_pipeline_column_fields):
 * vals[k][0..nvals[k]) are by-field k's values, strings in the order the event's JSON has them.
 * Counts exactly as trl_pipe_run_push() of the event's JSON would. 0 or the callback's value. */
int trl_pipe_run_push_values(struct trl_pipe_run *r, int64_t ts, const struct trl_str *const *vals,
                             const uint32_t *nvals);
/* Feeds n events that have the same values of the by-fields (and, for a timechart, fall in the
 * same time bucket as ts): the same as n calls of trl_pipe_run_push_values(). Returns 0. */
int trl_pipe_run_push_values_n(struct trl_pipe_run *r, int64_t ts,
                               const struct trl_str *const *vals, const uint32_t *nvals,
                               uint64_t n);
/* Feeds n events that the first stage counts alike (trl_pipeline_counts_only(): all in the same
 * time bucket as ts, for a timechart): the same as n calls of trl_pipe_run_push(r, ts, NULL, 0).
 * Returns 0. */
int trl_pipe_run_push_count(struct trl_pipe_run *r, int64_t ts, uint64_t n);
/* Flushes the aggregations and sorts through the remaining stages. 0 or the callback's value. */
int trl_pipe_run_finish(struct trl_pipe_run *r);
/* True when a sort dropped rows beyond its cap. */
bool trl_pipe_run_cut(const struct trl_pipe_run *r);

#endif

/*
 * sigma_fields: maps the field names Sigma rules use (Windows EventData names, the Sigma taxonomy's
 * Image/CommandLine/..., raw auditd keys, web server names, or ECS dotted names) onto Trapline's
 * event fields, and classifies events into Sigma log sources (product / category / service).
 *
 * A field reference is resolved once when a rule is compiled into a short list of candidate event
 * fields tried in order. The mapping tables are constant data (documented in docs/detection.md).
 * Pure functions; safe from any thread.
 */
#ifndef TRL_SIGMA_FIELDS_H
#define TRL_SIGMA_FIELDS_H

#include "core/event.h"

#include <stdbool.h>
#include <stddef.h>

#define SIGMA_FIELD_MAX_CANDIDATES 6

enum sigma_field_kind { SIGMA_FIELD_KEYWORDS, SIGMA_FIELD_NAMED };

struct sigma_field_candidate {
    enum trl_field field; /* a known field, or TRL_F_NONE for a dynamic name */
    char *name;           /* dynamic dotted name (owned) */
    size_t name_len;
};

struct sigma_field_ref {
    enum sigma_field_kind kind;
    char *sigma_name; /* as written in the rule (owned) */
    struct sigma_field_candidate cand[SIGMA_FIELD_MAX_CANDIDATES];
    size_t ncand;
};

struct trl_sigma_logsource;

/* Resolves a Sigma field name for rules of the given log source. */
void sigma_field_ref_init(struct sigma_field_ref *ref, const char *name,
                          const struct trl_sigma_logsource *ls);
void sigma_field_ref_keywords(struct sigma_field_ref *ref);
void sigma_field_ref_free(struct sigma_field_ref *ref);
/* The first candidate present in ev, or NULL. */
const char *sigma_field_get(const struct sigma_field_ref *ref, const struct trl_event *ev,
                            size_t *len);

/* Every value of a field: the first candidate present, then, for array fields (event.category,
 * auditd.log.record_types...), its further values. index is the iteration state. */
const struct trl_kv *sigma_field_first(const struct sigma_field_ref *ref,
                                       const struct trl_event *ev, uint32_t *index);
const struct trl_kv *sigma_field_next(const struct trl_event *ev, const struct trl_kv *prev,
                                      uint32_t *index);

/* Whether a rule with log source ls applies to ev (unknown product/category/service: no). */
bool sigma_logsource_matches(const struct trl_sigma_logsource *ls, const struct trl_event *ev);

#endif

/*
 * sigma_prefilter: skips the rules that cannot match an event without evaluating them.
 *
 * From every rule's condition a set of "atoms" is derived — literal strings at least one of which
 * must occur in some value of an event for the rule to hold (a `contains|windash` value, the
 * longest fixed part of a wildcard pattern, the whole of an `endswith` value...). A condition part
 * that promises no literal (a regex, a negation, a number, a CIDR, a value too short to be
 * selective) makes the rule "always evaluated". Per event, every field value and the original text
 * are scanned once, case-insensitively, against one Vectorscan database of all atoms; a rule is
 * then evaluated only when it is always evaluated or one of its atoms was seen. The derivation only
 * ever gives up selectivity, never a match: an atom is something the rule's own matching requires.
 *
 * Built by trl_sigma_ruleset_finalize(), owned by the ruleset, immutable afterwards; the per-event
 * state lives in struct trl_sigma_scratch (one per evaluating thread).
 */
#ifndef TRL_SIGMA_PREFILTER_H
#define TRL_SIGMA_PREFILTER_H

#include "core/event.h"

#include <stdbool.h>
#include <stddef.h>

struct trl_sigma_ruleset;
struct trl_sigma_scratch;

/* Derives every rule's atoms and compiles the database. Without Vectorscan (or with no atoms)
 * every rule is evaluated, as before. */
void sigma_prefilter_build(struct trl_sigma_ruleset *rs);
void sigma_prefilter_free(struct trl_sigma_ruleset *rs);
void sigma_prefilter_scratch_init(const struct trl_sigma_ruleset *rs, struct trl_sigma_scratch *s);
void sigma_prefilter_scratch_free(struct trl_sigma_scratch *s);

/* Forgets the previous event's scan; the next may_match() scans ev. */
void sigma_prefilter_reset(struct trl_sigma_scratch *s);
/* Whether rule (an index into the ruleset's rules) may hold for ev. */
bool sigma_prefilter_may_match(const struct trl_sigma_ruleset *rs, struct trl_sigma_scratch *s,
                               const struct trl_event *ev, size_t rule);

/* How many rules have atoms (the others are always evaluated), for the load summary and tests. */
size_t sigma_prefilter_selective_rules(const struct trl_sigma_ruleset *rs);

#endif

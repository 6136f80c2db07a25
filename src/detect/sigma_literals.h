/*
 * sigma_literals: the "contains" prefilter. Every case-insensitive `contains` value of every
 * loaded rule becomes one literal of a single Vectorscan database; a field value is scanned once
 * per event against all of them, and each `contains` test is then a bit lookup instead of its own
 * substring search. With thousands of rules this is what keeps the cost per event small.
 *
 * Built by trl_sigma_ruleset_finalize(), owned by the ruleset, immutable afterwards; the scan state
 * (Vectorscan scratch, result bits) lives in struct trl_sigma_scratch, one per evaluating thread.
 */
#ifndef TRL_SIGMA_LITERALS_H
#define TRL_SIGMA_LITERALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trl_sigma_ruleset;
struct trl_sigma_scratch;
struct sigma_lower;

/* Assigns literal ids to the ruleset's contains-values and compiles the database. Returns 0, or
 * a negative error when Vectorscan fails (then every contains test falls back to memmem). */
int sigma_literals_build(struct trl_sigma_ruleset *rs);
void sigma_literals_free(struct trl_sigma_ruleset *rs);
int sigma_literals_scratch_init(const struct trl_sigma_ruleset *rs, struct trl_sigma_scratch *s);
void sigma_literals_scratch_free(struct trl_sigma_scratch *s);
/* Whether literal id occurs in the lowered value l (scanning it on first use in this event). */
bool sigma_literals_contains(const struct trl_sigma_ruleset *rs, struct trl_sigma_scratch *s,
                             struct sigma_lower *l, int32_t id);

#endif

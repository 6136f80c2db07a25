/*
 * match: evaluates a parsed query (query.h) against the event store's blocks and events.
 *
 * trl_match_compile() turns the query tree into a plan that knows, for each term, which keyword
 * column holds its field, whether the field is searched as text, and which index terms every
 * matching event must have. The plan then answers three questions, cheapest first:
 *   - trl_match_block_maybe(): can this block hold a match at all? (Bloom filter and column
 *     summaries; a "no" is certain, a "yes" is only possible);
 *   - trl_match_event_maybe(): can this event's JSON text hold a match? (a substring pre-check
 *     before the JSON is walked; again "no" is certain);
 *   - trl_match_event(): does the event match? (exact).
 *
 * Term semantics (all ASCII case-insensitive):
 *   - text without a field, and text on a text field (message, event.original): the text occurs
 *     in a value without splitting a word at either end ("pass" does not match "password");
 *   - text on any other field: the whole value equals the text (each element of an array);
 *   - a pattern without a field or on a text field: matches some word of a value, either a
 *     whitespace/punctuation-separated one ("10.0.0.*" on "src=10.0.0.5") or a run of word
 *     characters ("fail*" on "authentication failure");
 *   - a pattern on another field: matches the whole value;
 *   - field:* : the field (or an object below it) exists;
 *   - a comparison or range: the value compares as a number when every bound is one, as an
 *     RFC 3339 time when every bound is one, else as lower-cased text; a value of another kind
 *     does not match. Such tests have no index terms: blocks are skipped by the column
 *     summaries (value set, text min/max) and, for @timestamp, by the block's time range;
 *   - an address block: the value is an IPv4 or IPv6 address inside it.
 * Full-text terms never look at @timestamp or event.created; time is searched by range.
 *
 * A plan owns its memory (trl_match_free) and is read-only once compiled: any number of threads
 * may evaluate it, each with its own struct trl_match_ctx.
 */
#ifndef TRL_STORE_MATCH_H
#define TRL_STORE_MATCH_H

#include "store/block.h"
#include "store/json_leaves.h"
#include "store/query.h"
#include "store/shred_scan.h"

#include <stdbool.h>
#include <stdint.h>

struct trl_match;

struct trl_match *trl_match_compile(const struct trl_query *q);
void trl_match_free(struct trl_match *m);

/* True when the plan matches every event (an empty query, `*`). */
bool trl_match_all(const struct trl_match *m);

/* True when every term can be decided from the keyword columns alone (no JSON needed until an
 * event is known to match). */
bool trl_match_columns_only(const struct trl_match *m);
/* Bit (1 << col) for each keyword column the plan reads. */
uint32_t trl_match_columns(const struct trl_match *m);

bool trl_match_block_maybe(const struct trl_match *m, const struct trl_block_meta *meta);

/* Per-thread evaluation state: scratch buffers reused across events. */
struct trl_match_ctx {
    struct trl_leaves leaves;
    char *lower;
    size_t lower_cap;
    /* trl_match_scan_block: whether term t holds for event i, at bits[t * count + i] */
    uint8_t *bits;
    size_t bits_cap;
    uint32_t count;
    uint64_t *rel; /* per stream: the terms its values are tested against */
    size_t rel_cap;
    uint64_t *shape_mask; /* per shape of the block: the terms its inline values satisfy */
    size_t shape_cap;
    /* Where in the block's column each term's text occurs (one bitmap of words per term), and
     * the backslashes (after the last term): see find_occurrences() in match.c. */
    const char *col;
    size_t col_len;
    uint64_t prefilter; /* the terms that have a bitmap */
    uint64_t *occ;
    size_t occ_cap, words, nterms_occ;
};

void trl_match_ctx_init(struct trl_match_ctx *c);
void trl_match_ctx_free(struct trl_match_ctx *c);

/* Pre-check on the raw JSON of one event; false means it cannot match. */
bool trl_match_event_maybe(const struct trl_match *m, struct trl_match_ctx *c, const char *json,
                           size_t len);

/* Exact test of event i of a block. The decoder must hold the columns of trl_match_columns() when
 * json is NULL (columns-only plans); otherwise json is the event's JSON and is what is tested. */
bool trl_match_event(const struct trl_match *m, struct trl_match_ctx *c,
                     const struct trl_block_decoder *d, uint32_t i, const char *json, size_t len);

/* True when trl_match_scan_block() can evaluate the plan (it has terms, at most 64). */
bool trl_match_can_scan(const struct trl_match *m);

/* Tests every term of the plan against every event of a block at once, on the values of its
 * shredded JSON column (shred_scan.h, opened on the block) rather than on each event's rebuilt
 * JSON: the same answers as trl_match_event() on the JSON. 0, TRL_EINVAL (damaged), or
 * TRL_ENOMATCH when the block or plan needs trl_match_event() on the rebuilt JSON instead. */
int trl_match_scan_block(const struct trl_match *m, struct trl_match_ctx *c,
                         struct trl_shred_scan *s);

/* After trl_match_scan_block(): does event i match? */
bool trl_match_event_scanned(const struct trl_match *m, const struct trl_match_ctx *c, uint32_t i);

#endif

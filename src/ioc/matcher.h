/*
 * matcher: immutable in-memory indicator sets built for matching events fast, and the hand-over of
 * a new set to the threads that match.
 *
 * Building: a trl_ioc_builder collects indicators (from the indicator database or straight from a
 * parser) and trl_ioc_builder_finish() turns them into a trl_ioc_matcher: open-addressing hash
 * tables keyed by (type, value) for exact types, per-prefix-length tables for IPv4 and IPv6
 * addresses and networks (looked up from the most specific length down), and a small Bloom filter
 * in front of each large table so that the common case, a value that is no indicator, costs one
 * cache-resident word. Domains match the event's name and every parent of it; file names and
 * hashes match without regard to case.
 *
 * Matching: trl_ioc_match_event() walks the event's fields once (addresses, URLs, domains, hashes,
 * e-mail addresses, file names, the user agent: see docs/threat-intel.md for the list) and reports
 * each hit. It does not allocate and only reads the matcher, so any number of threads may match
 * against one matcher at the same time. An indicator matches only while valid at the event's time
 * (@timestamp, else the receive time) unless the matcher was built with a fixed time.
 *
 * Ownership and swapping: a matcher is reference counted. The builder's owner (the thread that
 * reloads indicators) publishes a new matcher into a trl_ioc_handle; each matching thread holds a
 * trl_ioc_reader and calls trl_ioc_reader_refresh() between batches, which costs one atomic load
 * when nothing changed. A refresh that sees a new generation takes a reference on the new matcher
 * and drops the one on the old; the old matcher is freed by whoever drops its last reference: the
 * last reader to move on (between two of its batches), or the publisher if no reader holds it.
 * A matcher therefore never disappears under a batch that is being matched.
 */
#ifndef TRL_IOC_MATCHER_H
#define TRL_IOC_MATCHER_H

#include "core/event.h"
#include "ioc/indicator.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trl_ioc_builder;
struct trl_ioc_matcher;

struct trl_ioc_build_opts {
    /* Indicators no longer valid at this time are left out of the matcher (they could only match
     * events from the past). 0 keeps every indicator. */
    int64_t now_ns;
    /* Non-zero: validity is checked at this fixed time instead of each event's time (matching old
     * logs as if they arrived now). */
    int64_t at_ns;
};

struct trl_ioc_builder *trl_ioc_builder_create(const struct trl_ioc_build_opts *opts);
/* Abandons a builder (NULL-safe). */
void trl_ioc_builder_destroy(struct trl_ioc_builder *b);
/* Copies one indicator. Its value must be normalised (trl_ioc_normalize). tags_json is the tags as
 * a JSON array (as the database stores them); NULL: built from ioc->tags. A NULL ioc->id is
 * derived (trl_ioc_derive_id). Returns 0, TRL_EINVAL for a value that is not normalised, or
 * TRL_EFULL past 4 GiB of strings. */
int trl_ioc_builder_add(struct trl_ioc_builder *b, const struct trl_ioc *ioc,
                        const char *tags_json);
/* Indicators added so far, and those left out as expired. */
size_t trl_ioc_builder_count(const struct trl_ioc_builder *b);
size_t trl_ioc_builder_expired(const struct trl_ioc_builder *b);
/* Builds the matcher and destroys the builder. The caller owns the one reference returned. */
struct trl_ioc_matcher *trl_ioc_builder_finish(struct trl_ioc_builder *b);

struct trl_ioc_matcher *trl_ioc_matcher_ref(struct trl_ioc_matcher *m);
/* Drops a reference; the last one frees the matcher. NULL-safe. */
void trl_ioc_matcher_unref(struct trl_ioc_matcher *m);
size_t trl_ioc_matcher_count(const struct trl_ioc_matcher *m);
/* Bytes held by the matcher's tables and strings. */
size_t trl_ioc_matcher_memory(const struct trl_ioc_matcher *m);

struct trl_ioc_hit {
    enum trl_ioc_type type;
    const char *value; /* the indicator, normalised */
    const char *id;
    const char *source;
    const char *tags_json;   /* JSON array */
    const char *description; /* may be NULL */
    int confidence;
    int64_t valid_from_ns, valid_until_ns;
    const char *field;   /* the event field that matched: "source.ip", "dns.question.name" ... */
    const char *matched; /* that field's value (not NUL-terminated) */
    size_t matched_len;
};
/* Strings in a hit belong to the matcher (valid while the caller holds its reference) or to the
 * event. Return non-zero to stop matching this event. */
typedef int (*trl_ioc_hit_fn)(void *ud, const struct trl_ioc_hit *hit);

/* Matches every indicator-bearing field of ev. Returns the number of hits reported. */
int trl_ioc_match_event(const struct trl_ioc_matcher *m, const struct trl_event *ev,
                        trl_ioc_hit_fn fn, void *ud);

/* The pipeline's form: matches every event of a batch, fetching the next events' fields ahead
 * while one is matched. index is the event's position in evs. Returns the number of hits. */
typedef int (*trl_ioc_batch_hit_fn)(void *ud, size_t index, const struct trl_ioc_hit *hit);
size_t trl_ioc_match_batch(const struct trl_ioc_matcher *m, struct trl_event *const *evs, size_t n,
                           trl_ioc_batch_hit_fn fn, void *ud);

/* The kinds of event value a matcher looks up. */
enum trl_ioc_value_kind {
    TRL_IOC_V_IP,     /* an IPv4 or IPv6 address: exact addresses and networks */
    TRL_IOC_V_DOMAIN, /* a host name: the name and its parents */
    TRL_IOC_V_URL,    /* an absolute URL (scheme and host compared without case) */
    TRL_IOC_V_HASH,   /* a hex digest: MD5, SHA-1 or SHA-256 by its length */
    TRL_IOC_V_EMAIL,
    TRL_IOC_V_FILENAME, /* a file name, or a path (matches path indicators and its last part) */
    TRL_IOC_V_USER_AGENT,
};
/* Matches one value as if it were in an event field named field, valid at time t. Returns the
 * number of hits reported. */
int trl_ioc_match_value(const struct trl_ioc_matcher *m, enum trl_ioc_value_kind kind,
                        const char *v, size_t len, const char *field, int64_t t, trl_ioc_hit_fn fn,
                        void *ud);

/*
 * Enriches ev with the best hit (highest confidence, then the most specific) as ECS
 * threat.indicator.* fields: type, ip / url.full / url.domain / file.hash.* / file.name /
 * email.address, name (the indicator), provider and threat.feed.name (the source), confidence
 * (None/Low/Medium/High), id, description and marking.tlp. Fields are copied into the event's
 * arena. Returns the number of hits (0: the event is untouched).
 */
int trl_ioc_enrich_event(const struct trl_ioc_matcher *m, struct trl_event *ev);

/* ---- Hand-over between the thread that builds and the threads that match ---- */

struct trl_ioc_handle;

struct trl_ioc_handle *trl_ioc_handle_create(void);
/* Drops the published matcher's reference. Readers must have been released first. NULL-safe. */
void trl_ioc_handle_destroy(struct trl_ioc_handle *h);
/* Publishes m (NULL: no matching), taking over the caller's reference to it. */
void trl_ioc_handle_publish(struct trl_ioc_handle *h, struct trl_ioc_matcher *m);
/* A new reference to the published matcher (or NULL) and its generation. */
struct trl_ioc_matcher *trl_ioc_handle_acquire(struct trl_ioc_handle *h, uint64_t *generation);

/* One matching thread's view: zero-initialise with .handle set. */
struct trl_ioc_reader {
    struct trl_ioc_handle *handle;
    struct trl_ioc_matcher *current;
    uint64_t generation;
};
/* Call between batches: picks up a newly published matcher. Returns the matcher to use for the
 * next batch (NULL: none published). */
const struct trl_ioc_matcher *trl_ioc_reader_refresh(struct trl_ioc_reader *r);
/* Drops the reader's reference (when the thread stops). */
void trl_ioc_reader_release(struct trl_ioc_reader *r);

#endif

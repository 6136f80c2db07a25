/*
 * taxii_feeds: keeps the configured TAXII 2.1 feeds (ioc.feeds) flowing into DATA/ioc.db.
 *
 * A background thread refreshes every feed at its interval: it polls the collection for the
 * objects added since the cursor saved in DATA/taxii/<feed>.json (the newest
 * X-TAXII-Date-Added-Last of the last poll), imports their indicators with the feed's name as
 * their source (an indicator revoked by a new version is removed), saves the new cursor, records
 * the fetch (time, count, error) in the feeds table that `trapline ioc feeds` prints, and
 * retro-hunts the indicators the refresh added or changed in the events stored over the feed's hunt
 * window. The server's indicator stage notices the changed database and matches live events against
 * the new indicators within its reload interval.
 *
 * A failed refresh is logged, recorded as the feed's last error and retried after 5 s, 10 s,
 * 20 s ... up to the feed's interval; it never stops the server.
 *
 * Ownership: the handle owns its thread and copies of the specs. Threads: start and stop on one
 * thread; trl_taxii_refresh() from any thread (it opens its own database handles).
 */
#ifndef TRL_IOC_TAXII_FEEDS_H
#define TRL_IOC_TAXII_FEEDS_H

#include "ioc/taxii_client.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trl_taxii_feeds;

/* Parses every feed line and starts the thread. Returns NULL (logged) when a line is not a valid
 * feed or the thread cannot start; with no lines, returns NULL without error (*none set). */
struct trl_taxii_feeds *trl_taxii_feeds_start(const char *data_dir, char *const *lines,
                                              size_t nlines, bool *none);
/* Stops the thread (a transfer in progress is aborted). NULL-safe. */
void trl_taxii_feeds_stop(struct trl_taxii_feeds *f);

struct trl_taxii_refresh {
    size_t pages, objects;
    size_t created, updated; /* indicators imported */
    size_t revoked;          /* indicators removed: a new version revoked them */
    size_t skipped, notes;   /* records the STIX parser reported */
    bool partial;            /* the poll stopped early: poll again soon */
    uint64_t hunt_sightings; /* retro-hunt of the indicators imported */
    uint64_t hunt_alerts;
};

/* Refreshes one feed now (see above). Returns 0, or a negative error with a sentence in err (also
 * recorded as the feed's last error). */
int trl_taxii_refresh(const char *data_dir, const struct trl_taxii_spec *spec,
                      const atomic_bool *stop, struct trl_taxii_refresh *res, char *err,
                      size_t errlen);

#endif

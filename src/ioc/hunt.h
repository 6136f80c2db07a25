/*
 * hunt: retro-hunting, searching the stored events for indicators learnt after the events came in.
 *
 * For each indicator (from DATA/ioc.db, or values given by the analyst) one query over the event
 * fields that can hold it (`source.ip:"…" OR destination.ip:"…" OR related.ip:"…"`, a domain and
 * its subdomains, a hash in file, process and related hashes...) runs through the event store's
 * index; each event found is parsed back and confirmed with the matcher (networks are searched
 * by their address prefix and checked exactly here), and each confirmed sighting becomes an alert
 * marked retrospective (tag "retro-hunt", the event's time as first_seen in its group-by).
 *
 * Validity is judged now rather than at each event's time: an indicator valid today is hunted
 * through the whole window, which is the point of looking back.
 *
 * Ownership: trl_ioc_hunt opens and closes its own database, store reader and alert store
 * handles. Threads: any one thread; it may run while a server writes to the same data directory.
 */
#ifndef TRL_IOC_HUNT_H
#define TRL_IOC_HUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct trl_ioc_hunt_opts {
    const char *data_dir;
    int64_t from_ns, to_ns; /* the stored events searched: [from, to) */
    /* Values to hunt (refanged and normalised here; values not in ioc.db are hunted too, as an
     * indicator of confidence 50 from source "hunt"). None: the indicators of ioc.db. */
    const char *const *values;
    size_t nvalues;
    int64_t imported_since_ns; /* without values: only indicators imported since then; 0: all */
    size_t max_events;         /* most sightings per indicator (0: 10000) */
    FILE *out;                 /* a line per indicator sighted, and unsearchable ones; or NULL */
};

struct trl_ioc_hunt_result {
    size_t indicators;   /* indicators hunted */
    size_t unsearchable; /* ... that no store query can express (short IPv6 networks ...) */
    size_t sighted;      /* ... found in at least one event */
    uint64_t events;     /* events found by the queries */
    uint64_t sightings;  /* (indicator, event) pairs confirmed */
    uint64_t alerts;     /* alerts written */
    uint64_t alert_errors;
    uint64_t unreadable_blocks; /* damaged store blocks skipped (see trapline verify) */
    bool truncated;             /* some indicator had more than max_events sightings */
};

/* Runs the hunt. Returns 0, -ENOENT when there is no ioc.db and no values were given, or another
 * negative error (logged) when a database or the store cannot be read. */
int trl_ioc_hunt(const struct trl_ioc_hunt_opts *opts, struct trl_ioc_hunt_result *res);

#endif

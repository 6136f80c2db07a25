/*
 * iocdb: the indicator database, DATA/ioc.db (SQLite, WAL).
 *
 * One row per (type, value, source): importing the same indicator from the same feed again
 * updates it (id, confidence, validity, tags, labels, description) instead of adding a copy, while
 * the same value from two feeds stays two rows (each keeps its own confidence and context). The id
 * is the source's (STIX id, MISP uuid, feed record id) or derived (trl_ioc_derive_id); several rows
 * may share an id (a STIX indicator whose pattern names two observables), and removing an id
 * removes them all. A second table keeps per-feed bookkeeping: when a feed was last imported or
 * fetched, how many indicators it holds, and its last error.
 *
 * Ownership: the handle owns its SQLite connection; rows handed to callbacks are valid during the
 * call only; strings passed in are copied. Threads: one thread per handle (the CLI and a reloading
 * server each open their own; WAL lets readers and a writer run at once).
 */
#ifndef TRL_IOC_IOCDB_H
#define TRL_IOC_IOCDB_H

#include "ioc/indicator.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trl_iocdb;

/* Opens DATA/ioc.db, creating it (and its tables) unless read_only. NULL (logged) on failure. */
struct trl_iocdb *trl_iocdb_open(const char *data_dir, bool read_only);
/* The same for an explicit database path. */
struct trl_iocdb *trl_iocdb_open_path(const char *path, bool read_only);
void trl_iocdb_close(struct trl_iocdb *db);

/* Groups writes into one transaction (an import of a million rows takes seconds, not hours). */
int trl_iocdb_begin(struct trl_iocdb *db);
int trl_iocdb_commit(struct trl_iocdb *db);
int trl_iocdb_rollback(struct trl_iocdb *db);

/* Inserts or updates one indicator (its value must be normalised). *created (may be NULL) tells
 * whether the row is new. Returns 0 or a negative error. */
int trl_iocdb_upsert(struct trl_iocdb *db, const struct trl_ioc *ioc, int64_t now_ns,
                     bool *created);
/* Removes every row with this id. Returns the number removed, or a negative error. */
long trl_iocdb_remove(struct trl_iocdb *db, const char *id);

struct trl_iocdb_row {
    int64_t rowid;
    struct trl_ioc ioc;    /* tags and labels are NULL here: see the JSON arrays */
    const char *tags_json; /* JSON array of strings */
    const char *labels_json;
    int64_t first_imported_ns, last_imported_ns;
};

struct trl_iocdb_filter {
    const enum trl_ioc_type *types; /* any of these; NULL: every type */
    size_t ntypes;
    const char *source; /* exact, or NULL */
    const char *id;     /* exact, or NULL */
    const char *tag;    /* appears in the tags, or NULL */
    const char *text;   /* substring of the value, or NULL */
    int64_t valid_at;   /* non-zero: only indicators valid at this time */
    size_t limit;       /* 0: no limit */
    bool any_order;     /* true: rows in storage order (no sort: loading a matcher) */
};

/* Lists rows (ordered by source, type, value); each() returning non-zero stops. Returns the number
 * of rows handed out, or a negative error. */
long trl_iocdb_list(struct trl_iocdb *db, const struct trl_iocdb_filter *f,
                    int (*each)(void *ud, const struct trl_iocdb_row *row), void *ud);
/* Number of rows (all when source is NULL). */
long trl_iocdb_count(struct trl_iocdb *db, const char *source);

struct trl_iocdb_feed {
    const char *name;
    const char *format;
    const char *url; /* NULL for feeds only ever imported from files */
    int64_t last_fetch_ns;
    int64_t count;
    const char *last_error; /* NULL after a clean import */
};

/* Records an import or fetch of feed name: the time, the format, the error (NULL: none) and the
 * feed's indicator count as it now stands. */
int trl_iocdb_feed_update(struct trl_iocdb *db, const char *name, const char *format,
                          const char *url, int64_t fetched_ns, const char *error);
long trl_iocdb_feeds(struct trl_iocdb *db, int (*each)(void *ud, const struct trl_iocdb_feed *feed),
                     void *ud);

struct trl_ioc_matcher;
struct trl_ioc_build_opts;
/* Builds a matcher from every indicator in the database (see matcher.h). Returns 0 and *out (one
 * reference, the caller's), or a negative error. */
int trl_iocdb_build_matcher(struct trl_iocdb *db, const struct trl_ioc_build_opts *opts,
                            struct trl_ioc_matcher **out);

#endif

/*
 * store_read: searching the event store (for `trapline search` and the web console).
 *
 * A reader opens partition files read-only, so it runs alongside the writer (and other readers)
 * without blocking it. A search visits the partitions overlapping [from, to) newest first; in
 * each it reads, inside one read transaction (a consistent snapshot even while compaction
 * replaces blocks), the blocks whose time range overlaps, skips those whose Bloom filter or column
 * summaries rule the query out before decompressing anything, decompresses only the columns the
 * query needs, and returns the matching events' JSON newest first (ties: the later-written event
 * first), stopping early once `limit` events newer than anything left are found.
 *
 * A struct trl_store_reader belongs to one thread; open one per thread for parallel searches. A
 * search may itself run on helper threads of its own (trl_store_reader_set_threads): it returns
 * when they are done.
 */
#ifndef TRL_STORE_READ_H
#define TRL_STORE_READ_H

#include "store/pipes.h"
#include "store/query.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trl_store_reader;

/* 0, or a negative error (-ENOENT when DATA/events does not exist). Not logged. */
int trl_store_reader_open(const char *data_dir, struct trl_store_reader **out);
void trl_store_reader_close(struct trl_store_reader *r);

/* The most threads one search uses (trl_store_reader_set_threads). */
#define TRL_STORE_SEARCH_MAX_THREADS 4

/* The threads trl_store_search(), and trl_store_scan_pipe() when it aggregates by columns, run
 * on: the caller's and helper threads the reader keeps (1, the default: the calling thread alone;
 * at most TRL_STORE_SEARCH_MAX_THREADS). They take partitions newest first, and share the blocks
 * of one when none is left. The results, and an aggregation's rows, are the same as with one
 * thread. The stats count what was read, which may differ with a limit: each thread is bounded by
 * its own results only, and a partition abandoned because newer ones filled the limit is not
 * counted. The other functions ignore it. */
void trl_store_reader_set_threads(struct trl_store_reader *r, unsigned n);

/* Whether searches read the partition files through a memory map instead of a read() per page
 * (default off). A search reads the meta blob of every block in its range, and copying it out of
 * the kernel costs more than mapping it; but a read error on a mapped file (a failing disk) is a
 * SIGBUS that kills the process instead of an error SQLite reports. So only a process whose
 * crash costs nothing but the answer, `trapline search`, turns it on; the server's readers keep
 * read(). */
void trl_store_reader_map_files(struct trl_store_reader *r, bool on);

struct trl_store_search_opts {
    int64_t from_ns; /* inclusive */
    int64_t to_ns;   /* exclusive */
    size_t limit;    /* at most this many events (0: all; they are held in memory) */
};

struct trl_store_search_stats {
    uint32_t partitions;           /* partition files searched */
    uint64_t blocks;               /* blocks overlapping the time range that were considered */
    uint64_t blocks_skipped_index; /* ... ruled out by Bloom filter or summaries */
    uint64_t blocks_decoded;       /* ... decompressed */
    uint64_t events_scanned;       /* events tested */
    uint64_t events_matched;       /* events that matched (may exceed the limit) */
    uint64_t blocks_unreadable;    /* ... that failed to decode (damaged: see trapline verify) */
    bool more; /* the limit was reached and older events were not all searched */
};

/* Called once per result, newest first, with the event's @timestamp and JSON (valid during the
 * call only). A non-zero return stops the search and becomes its return value. */
typedef int (*trl_store_hit_fn)(void *ud, int64_t ts_ns, const char *json, size_t len);

/* Runs a query. 0, the callback's non-zero value, or a negative error (a partition that cannot be
 * opened is an error). A block that does not decode is counted in blocks_unreadable and skipped,
 * so one damaged block does not hide the rest; callers must report it. stats may be NULL. */
int trl_store_search(struct trl_store_reader *r, const struct trl_query *q,
                     const struct trl_store_search_opts *o, trl_store_hit_fn fn, void *ud,
                     struct trl_store_search_stats *stats);

/* Streams every match in [from, to) to fn as it is found, holding none of them: partitions newest
 * day first, but within a day in block order, not strictly by time. opts->limit is ignored. For
 * aggregations (pipes.h). When ts_only, the callback needs the timestamps alone: the JSON column
 * is not decompressed when the query can be decided without it (json is then NULL, len 0).
 * Returns like trl_store_search. */
int trl_store_scan(struct trl_store_reader *r, const struct trl_query *q,
                   const struct trl_store_search_opts *o, bool ts_only, trl_store_hit_fn fn,
                   void *ud, struct trl_store_search_stats *stats);

/* trl_store_scan() into a pipeline run: every match is pushed into run. When the pipeline's first
 * stage aggregates by keyword columns only (trl_pipeline_column_fields), the matches are pushed
 * with those columns' values (trl_pipe_run_push_values) and the JSON column is not decompressed
 * unless the query needs it; otherwise the events' JSON is pushed (NULL when the pipeline does
 * not need it). Returns like trl_store_scan (TRL_PIPE_STOP when the run stopped early). */
int trl_store_scan_pipe(struct trl_store_reader *r, const struct trl_query *q,
                        const struct trl_store_search_opts *o, struct trl_pipe_run *run,
                        const struct trl_pipeline *pl, struct trl_store_search_stats *stats);

/* Counts the matches in [from, to) by time: counts[k] += the events in [from + k * interval,
 * from + (k + 1) * interval), for k < n (later ones are not counted). For histograms: a block
 * that a query matching everything covers within one bucket is counted from its row, without
 * being read, and otherwise only the timestamps (and what the query needs) are decoded.
 * opts->limit is ignored. 0, TRL_EINVAL (interval <= 0), or a negative error. */
int trl_store_count_buckets(struct trl_store_reader *r, const struct trl_query *q,
                            const struct trl_store_search_opts *o, int64_t interval,
                            uint64_t *counts, size_t n, struct trl_store_search_stats *stats);

#endif

/*
 * spool: the agent's disk queue. Events wait here, in order, until the server acknowledges them,
 * so that neither a network outage nor a crash (kill -9, power loss) loses what was collected.
 *
 * Layout: a directory (normally <state_dir>/spool) holding segment files 00000001.seg,
 * 00000002.seg, ... of up to segment_bytes each, plus "ack", the last acknowledged sequence number.
 * A segment is a series of records, all integers little-endian:
 *     [u32 payload length][u32 CRC-32C of length, sequence and payload][u64 sequence][payload]
 * Sequence numbers start at 1 and grow by one per record for the life of the spool, across
 * restarts. Records are appended with write(2) and made durable with fdatasync() in groups (every
 * sync_interval_ms, on trl_spool_sync(), and before a record is first handed to the reader: a
 * record is never sent before it is on disk, so the server can never have seen a sequence number
 * the spool could lose and later reuse).
 *
 * Background sync (cfg->background_sync): the waits for the disk leave the caller's thread. A
 * thread of the spool runs one sync at a time, covering every record appended when it started;
 * the records appended meanwhile wait for the next one (group commit). trl_spool_read() then never
 * waits: at the first record that is not durable yet it starts a sync (unless one runs) and
 * returns 0; cfg->on_durable is called, from the sync thread, when a sync is done, and the owner
 * then calls trl_spool_poll() and reads on. The interval sync of the appends is started in the
 * background too. trl_spool_sync() still waits, for the running sync and then its own.
 *
 * Reading is separate from acknowledging: trl_spool_read() advances a cursor through unsent
 * records; trl_spool_ack(seq) marks everything up to seq delivered, deletes segments that are
 * wholly delivered and keeps the ack position on disk; trl_spool_rewind() moves the cursor back to
 * the first unacknowledged record (after a reconnect).
 *
 * On open every segment is checked record by record: a torn tail (bad length, bad CRC, short
 * record) is truncated with a log line; corruption in the middle of a segment is skipped up to the
 * next valid record. Sequence numbers continue after the highest one found.
 *
 * Size cap: when the segments would exceed max_bytes, policy TRL_SPOOL_BLOCK makes append return
 * TRL_EFULL (the caller pauses its sources and retries after acks), TRL_SPOOL_DROP_OLDEST deletes
 * the oldest segment, acknowledged or not, and counts the records lost.
 *
 * Ownership: the spool owns its files and memory; a record returned by trl_spool_read() points into
 * a buffer of the spool, valid until the next call on it. Not thread-safe: one thread drives a
 * spool (or the caller locks around every call); the sync thread touches nothing of it but the
 * descriptors it was handed.
 */
#ifndef TRL_AGENT_SPOOL_H
#define TRL_AGENT_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* The largest payload one record may carry. */
#define TRL_SPOOL_MAX_RECORD (16u << 20)

enum trl_spool_full_policy {
    TRL_SPOOL_BLOCK,       /* append returns TRL_EFULL */
    TRL_SPOOL_DROP_OLDEST, /* the oldest segment is deleted and its records counted as dropped */
};

struct trl_spool_config {
    const char *dir;        /* created (mode 0700) when missing */
    uint64_t segment_bytes; /* 0: 8 MiB */
    uint64_t max_bytes;     /* cap on the segments' total size; 0: 1 GiB */
    enum trl_spool_full_policy policy;
    int sync_interval_ms; /* group-commit interval; 0: fdatasync after every append */
    bool background_sync; /* fdatasync on a thread of the spool (see above) */
    /* Called from the sync thread when a background sync is done (may be NULL). It runs under the
     * spool's lock and must only wake the owner (e.g. uv_async_send), never call the spool. */
    void (*on_durable)(void *ud);
    void *ud;
};

struct trl_spool_record {
    uint64_t seq;
    const void *data;
    size_t len;
};

struct trl_spool_stats {
    uint64_t bytes; /* total size of the segment files */
    uint64_t segments;
    uint64_t next_seq;      /* sequence the next append gets */
    uint64_t acked_seq;     /* everything up to here is delivered */
    uint64_t durable_seq;   /* everything up to here is on disk */
    uint64_t read_seq;      /* the last sequence trl_spool_read() returned (or acked_seq) */
    uint64_t pending;       /* records appended but not acknowledged */
    uint64_t dropped;       /* records deleted unacknowledged by TRL_SPOOL_DROP_OLDEST */
    uint64_t corrupt_bytes; /* bytes skipped or truncated as corrupt since open */
};

struct trl_spool;

/* Opens (or creates) the spool in cfg->dir, checking and repairing its segments. Returns 0 and sets
 * *out, or a negative errno / TRL_EINVAL (bad configuration). */
int trl_spool_create(const struct trl_spool_config *cfg, struct trl_spool **out);
/* Makes everything durable and releases the spool. NULL-safe. */
void trl_spool_destroy(struct trl_spool *s);

/* Appends one record of len bytes (1 <= len <= TRL_SPOOL_MAX_RECORD) and sets *seq (may be NULL).
 * Returns 0, TRL_EFULL (policy block, spool full), TRL_EINVAL (record too large) or a negative
 * errno (the record was not written). */
int trl_spool_append(struct trl_spool *s, const void *data, size_t len, uint64_t *seq);
/* Appends recs[0..n) in order as n calls of trl_spool_append() would, with one write for up to 64
 * records (a syscall per record is most of what spooling a short line costs). *first_seq (may be
 * NULL) is the sequence of the first; the others follow it. Returns 0 when every record was
 * appended, else the error that stopped the appends, with *done (may be NULL) set to how many were
 * appended before it (those are in the spool as if appended one by one). */
int trl_spool_append_many(struct trl_spool *s, const struct iovec *recs, size_t n,
                          uint64_t *first_seq, size_t *done);
/* fdatasyncs appended records and persists the ack position now, after waiting for the background
 * sync in flight. Returns 0 or a negative errno. */
int trl_spool_sync(struct trl_spool *s);
/* Starts a background sync of the records appended so far unless one runs (without background
 * sync: trl_spool_sync()). Returns 0 or a negative errno. */
int trl_spool_sync_start(struct trl_spool *s);
/* Takes the result of a finished background sync (durable advances). Returns 0, also while the
 * sync still runs, or the error of the sync (logged; the next sync retries what it covered). */
int trl_spool_poll(struct trl_spool *s);
/* Records appended but not yet returned by trl_spool_read(). */
uint64_t trl_spool_unread(const struct trl_spool *s);
/* Syncs when the group-commit interval has passed since the last sync and something is unsynced;
 * call it from the main loop at least every sync_interval_ms. */
int trl_spool_tick(struct trl_spool *s);

/* The next unsent record: returns 1 and fills *rec, 0 when there is none, or a negative errno. */
int trl_spool_read(struct trl_spool *s, struct trl_spool_record *rec);
/* Moves the read cursor back to the first unacknowledged record. */
void trl_spool_rewind(struct trl_spool *s);
/* Frees the read-ahead buffer (256 KiB, more after a large record) until the next read (NULL-safe);
 * invalidates the record trl_spool_read() returned last. */
void trl_spool_trim(struct trl_spool *s);
/* Marks every record up to seq delivered. Returns 0, TRL_EINVAL when seq was never appended, or a
 * negative errno when persisting the ack position failed. */
int trl_spool_ack(struct trl_spool *s, uint64_t seq);

void trl_spool_stats(const struct trl_spool *s, struct trl_spool_stats *st);
/* The segments' total size (trl_spool_stats' bytes) without the rest: cheap enough to ask before
 * every append. */
uint64_t trl_spool_bytes(const struct trl_spool *s);

#endif

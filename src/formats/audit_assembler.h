/*
 * audit_assembler: merges the records of one Linux audit event into one event.
 *
 * The kernel writes one event as several records with the same host, time and serial (SYSCALL,
 * EXECVE, CWD, PATH..., PROCTITLE, then EOE); trl_parse_audit() turns each record into an event of
 * its own. The assembler collects them and hands back one event per audit event, with the fields of
 * all records merged (see docs/formats-audit.md).
 *
 * An event is complete when its EOE record arrives; when a record with another serial arrives from
 * the same host and the event has had no record for settle_ns; when the whole input has had no
 * record for settle_ns after the event's last one (complete_quiet(), for a caller that knows its
 * input is drained); when it has had no record for timeout_ns; when it has too many records; or,
 * as the oldest, when more than max_pending events (or max_bytes of records) are waiting. Records
 * of user-space messages (USER_*, CRED_*, ADD_USER, SERVICE_START, ...) are whole events already:
 * trl_audit_assembler_wants() says no to them.
 *
 * Ownership: add() copies what it keeps into the assembler's own heap memory, so the record's
 * arena may be reset right after. take() builds events in the arena it is given; they belong to
 * that arena. Times are in the clock of the records' received_ns (trl_now_ns()).
 *
 * Threads: an assembler is not thread-safe; one thread (the pipeline worker that parses the
 * records) owns it. Records of one host must all go to the same assembler.
 */
#ifndef TRL_AUDIT_ASSEMBLER_H
#define TRL_AUDIT_ASSEMBLER_H

#include "core/arena.h"
#include "core/event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trl_audit_assembler_config {
    int64_t timeout_ns; /* 0: 2 s */
    int64_t settle_ns;  /* 0: 100 ms (never more than timeout_ns) */
    size_t max_pending; /* 0: 4096 events */
    size_t max_bytes;   /* 0: 64 MiB of copied records, pending or completed */
};

struct trl_audit_assembler_stats {
    uint64_t records;   /* records taken by add() */
    uint64_t events;    /* events returned by take() */
    uint64_t timed_out; /* events completed by the timeout rather than EOE or a later serial */
    uint64_t quiet;     /* events completed because the input went quiet after them */
    uint64_t evicted;   /* events completed early because of max_pending or max_bytes */
    uint64_t orphans;   /* EOE records whose event was already complete (dropped: no content) */
    size_t pending;     /* events waiting for more records now */
};

struct trl_audit_assembler;

/* cfg may be NULL for the defaults. Never returns NULL (allocation failure aborts). */
struct trl_audit_assembler *
trl_audit_assembler_create(const struct trl_audit_assembler_config *cfg);
/* Frees everything, including events not yet taken. NULL-safe. */
void trl_audit_assembler_destroy(struct trl_audit_assembler *a);

/* True when ev is an audit record that belongs to a multi-record event (it has auditd.log.sequence
 * and auditd.log.record_type, is not a user-space message, and was not assembled already: no
 * auditd.log.record_types): pass it to add() instead of emitting it. Everything else, single-record
 * audit events included, is emitted as it is. */
bool trl_audit_assembler_wants(const struct trl_event *ev);

/* Copies the record into the event it belongs to. Returns 0, or TRL_EINVAL (nothing kept) when
 * trl_audit_assembler_wants(record) is false. May complete other events (see above). */
int trl_audit_assembler_add(struct trl_audit_assembler *a, const struct trl_event *record);

/* Completes the events that timed out at now_ns (all pending events when flush_all), then builds up
 * to max completed events in arena and stores them in out, oldest first. Returns how many; call
 * again while it returns max. */
size_t trl_audit_assembler_take(struct trl_audit_assembler *a, struct trl_arena *arena,
                                int64_t now_ns, bool flush_all, struct trl_event **out, size_t max);

/* True when take() would return at least one event at now_ns. */
bool trl_audit_assembler_ready(const struct trl_audit_assembler *a, int64_t now_ns);

/* When the input's silence completes the pending events: settle_ns after the last record added.
 * INT64_MAX when no event is pending. */
int64_t trl_audit_assembler_quiet_at(const struct trl_audit_assembler *a);
/* For a caller that had added every record it received by the time quiet_at() passed (its input
 * drained, so the silence was real): completes the events that were pending then. at is the value
 * quiet_at() returned; events that got a record since stay pending. The kernel writes an event's
 * records together, so a stream that stopped for settle_ns after them sends no more: this spares
 * the last events of a stream the wait for timeout_ns. */
void trl_audit_assembler_complete_quiet(struct trl_audit_assembler *a, int64_t at);

void trl_audit_assembler_get_stats(const struct trl_audit_assembler *a,
                                   struct trl_audit_assembler_stats *out);

#endif

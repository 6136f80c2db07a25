/*
 * audit_nl: Linux audit records straight from the kernel's audit netlink socket, assembled into one
 * event per audit event.
 *
 * Two ways to listen: as the audit daemon (the kernel sends every record to one registered
 * process; only when no auditd holds that place), or on the read-only multicast group next to a
 * running auditd (CAP_AUDIT_READ). TRL_AUDIT_AUTO picks the first when it is free. Records are
 * parsed by the same parser as audit.log lines (formats/parse.h) and merged by the assembler
 * (formats/audit_assembler.h), so an execve arrives as one event with the program, its arguments,
 * the working directory and the paths. Optionally installs the objectives preset (audit_rules.h)
 * and removes it again on destroy.
 *
 * Without the capabilities (not root, a container) create() fails with -EPERM: the caller says so
 * once and carries on without this source.
 *
 * Hand-off: events are passed to a callback, allocated in the caller's arena. Not thread-safe: one
 * thread drives a reader.
 */
#ifndef TRL_AGENT_AUDIT_NL_H
#define TRL_AGENT_AUDIT_NL_H

#include "core/arena.h"
#include "core/event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum trl_audit_mode {
    TRL_AUDIT_AUTO,      /* the daemon's place when free, else the multicast group */
    TRL_AUDIT_DAEMON,    /* register as the audit daemon (fails with -EBUSY when one is running) */
    TRL_AUDIT_MULTICAST, /* the read-only multicast group */
};

struct trl_audit_nl_config {
    int mode;                          /* enum trl_audit_mode */
    bool objectives;                   /* install the preset rules, removed again on destroy */
    const char *const *objective_keys; /* the preset's keys to install; NULL: all */
    size_t rcvbuf;                     /* socket receive buffer; 0: 8 MiB */
};

struct trl_audit_nl_stats {
    uint64_t records;  /* records received */
    uint64_t events;   /* events delivered */
    uint64_t overruns; /* times the socket buffer overflowed (records lost in the kernel) */
    size_t rules;      /* preset rules installed */
};

/* Receives one event. Returns 0 to go on, non-zero to stop the poll after this event. */
typedef int (*trl_audit_nl_cb)(void *ud, struct trl_event *ev);

struct trl_audit_nl;

/* Returns 0 and sets *out, -EPERM without the capabilities, -EBUSY for TRL_AUDIT_DAEMON while
 * another audit daemon runs, or another negative errno. */
int trl_audit_nl_create(const struct trl_audit_nl_config *cfg, struct trl_audit_nl **out);
/* Unregisters as the audit daemon, removes the installed rules, frees. NULL-safe. */
void trl_audit_nl_destroy(struct trl_audit_nl *a);

int trl_audit_nl_fd(const struct trl_audit_nl *a);
/* true when listening on the multicast group rather than as the daemon. */
bool trl_audit_nl_is_multicast(const struct trl_audit_nl *a);
/* Milliseconds until poll() should run even with nothing to read (events waiting to complete), or
 * -1. */
int trl_audit_nl_timeout_ms(const struct trl_audit_nl *a);

/* Reads the records waiting on the socket, at most 512 per call (never blocks; poll again while
 * the socket is readable), and delivers the events completed.
 * Returns the number of events delivered or a negative errno. */
int trl_audit_nl_poll(struct trl_audit_nl *a, struct trl_arena *arena, trl_audit_nl_cb cb,
                      void *ud);
void trl_audit_nl_get_stats(const struct trl_audit_nl *a, struct trl_audit_nl_stats *out);

/* One netlink record (message type and payload "audit(SECS.MS:SERIAL): ...") as the event the
 * audit.log parser makes of "type=NAME msg=PAYLOAD". Pure: exposed for tests and fuzzing. */
struct trl_event *trl_audit_nl_record(struct trl_arena *arena, int type, const char *payload,
                                      size_t len);

#endif

/*
 * proc: process execution monitoring through the kernel's netlink process connector
 * (NETLINK_CONNECTOR, CN_IDX_PROC), which announces every fork, exec and exit.
 *
 * On each exec the monitor reads /proc/PID (executable, command line, parent, user, working
 * directory) at once: a short-lived process may already be gone, in which case the event carries
 * what could still be read (always the pid; the parent pid from the fork announcement when
 * /proc no longer has it). Events (event.dataset "agent.process"): event.category ["process"],
 * event.type ["start"], event.action "process-started", process.pid, process.parent.pid,
 * process.executable, process.name, process.command_line, process.args, process.args_count,
 * process.working_directory, process.parent.executable, process.parent.name, user.id (real uid),
 * user.effective.id (when it differs: setuid programs), group.id.
 *
 * Subscribing needs CAP_NET_ADMIN on older kernels (recent ones let any user listen).
 * trl_proc_create() returns a negative errno when it is not possible (-EPERM without the
 * capability, -EPROTONOSUPPORT or -ENOENT on a kernel without the connector) after logging why; the
 * caller carries on without process events.
 *
 * Ownership: events go to the callback, allocated in the caller's arena. The monitor owns its
 * socket. Not thread-safe: one thread drives it. The kernel drops announcements when the socket
 * buffer is full (a fork storm while the agent is busy): they are counted in stats.lost.
 */
#ifndef TRL_AGENT_PROC_H
#define TRL_AGENT_PROC_H

#include "agent/agent_event.h"
#include "core/arena.h"

#include <stddef.h>
#include <stdint.h>

struct trl_proc_config {
    const char *proc_root; /* NULL: "/proc" */
    int rcvbuf_bytes;      /* socket receive buffer; 0: 4 MiB */
};

struct trl_proc_stats {
    uint64_t execs;   /* exec announcements received */
    uint64_t partial; /* of which the process had already exited, fully or partly */
    uint64_t lost;    /* receive-buffer overruns (announcements dropped by the kernel) */
};

struct trl_proc;

/* Subscribes to process announcements. Returns 0 and sets *out, or a negative errno. */
int trl_proc_create(const struct trl_proc_config *cfg, struct trl_proc **out);
/* Unsubscribes and releases the monitor. NULL-safe. */
void trl_proc_destroy(struct trl_proc *p);

/* The socket to poll for readability. */
int trl_proc_fd(const struct trl_proc *p);
/* Reads pending announcements, at most TRL_PROC_READS_PER_POLL datagrams (poll again while the
 * descriptor is readable), and delivers an event per exec. Returns the number of events
 * delivered, or a negative errno when the socket failed. */
#define TRL_PROC_READS_PER_POLL 256
int trl_proc_poll(struct trl_proc *p, struct trl_arena *arena, trl_agent_event_fn cb, void *ud);

void trl_proc_stats(const struct trl_proc *p, struct trl_proc_stats *st);

#endif

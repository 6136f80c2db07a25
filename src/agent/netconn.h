/*
 * netconn: network connection monitoring. Takes a snapshot of the host's TCP sockets (IPv4 and
 * IPv6; listening, established and connecting) through sock_diag netlink every interval, compares
 * it with the previous one, and reports new listening sockets and new connections with the
 * process that owns them.
 *
 * The owner of a socket is found by its inode among the /proc/PID/fd links ("socket:[inode]"); the
 * inode -> pid table is rebuilt only when a socket with an unknown inode shows up. A connection
 * accepted by the kernel but not yet by its server has no inode: it is reported one snapshot
 * later, with its owner if it has one by then.
 *
 * Events (event.dataset "agent.network", category "network", network.transport "tcp",
 * network.type ipv4/ipv6):
 *   "socket-listening"  event.type ["info"]; destination.ip/port: the local address listened on.
 *   "connection-opened" event.type ["connection","start"]; source is the initiator: for an
 *                       outbound connection (local port ephemeral and not listened on) the local
 *                       end, for an inbound one the remote end; network.direction outbound/inbound.
 * Both carry process.pid, process.name, process.executable and user.id (the socket's uid) when
 * known. The first snapshot is a silent baseline unless report_existing is set. A connection that
 * opens and closes between two snapshots is not seen: this is sampling, not tracing.
 *
 * Ownership: events go to the callback, allocated in the caller's arena. The monitor owns its
 * socket and tables. Not thread-safe: one thread drives it.
 */
#ifndef TRL_AGENT_NETCONN_H
#define TRL_AGENT_NETCONN_H

#include "agent/agent_event.h"
#include "core/arena.h"

#include <stdbool.h>
#include <stdint.h>

struct trl_netconn_config {
    const char *proc_root; /* NULL: "/proc" */
    int interval_ms;       /* snapshot period for trl_netconn_timeout_ms(); 0: 1000 */
    bool report_existing;  /* the first snapshot reports what is already open */
};

struct trl_netconn_stats {
    uint64_t snapshots;
    uint64_t sockets;      /* in the last snapshot */
    uint64_t proc_rescans; /* rebuilds of the inode -> pid table */
};

struct trl_netconn;

/* Opens the sock_diag socket. Returns 0 and sets *out, or a negative errno. */
int trl_netconn_create(const struct trl_netconn_config *cfg, struct trl_netconn **out);
void trl_netconn_destroy(struct trl_netconn *n);

/* Milliseconds until the next snapshot is due. */
int trl_netconn_timeout_ms(const struct trl_netconn *n);
/* Takes a snapshot now and reports what is new. Returns the number of events, or a negative
 * errno when the kernel could not be asked. */
int trl_netconn_poll(struct trl_netconn *n, struct trl_arena *arena, trl_agent_event_fn cb,
                     void *ud);

void trl_netconn_stats(const struct trl_netconn *n, struct trl_netconn_stats *st);

#endif

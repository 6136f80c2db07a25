/*
 * privsep_net: the agent's unprivileged network process. The agent (root, for audit, process
 * events, file integrity) forks it at start; the process loads the agent's TLS identity and the
 * forwarders' certificates while it still can read them, reports that it did, gives up its
 * privileges (privsep.h) and does all the agent's network I/O: the TLS 1.3 connection to the
 * Trapline server and the forwarders (forward.h). The agent never opens a network socket itself,
 * nor initialises OpenSSL, whose set-up would keep megabytes of its pages resident.
 *
 * Between the two, one SOCK_SEQPACKET control socket:
 *   agent -> network  'C' + a stream socket (SCM_RIGHTS): connect to the server and relay: the
 *                          agent speaks the plaintext protocol (docs/protocol.md) on its end, the
 *                          network process carries it over TLS;
 *                     'F' + forwarder index + one encoded message: queue it for that forwarder;
 *   network -> agent  'R' once, when its TLS contexts are loaded, or 'E' + why they are not;
 *                     'S' + the forwarders' counters, every second.
 * The network process exits when the control socket closes (the agent stopped or died). When it
 * dies, the agent sees the control socket close and starts another (trl_netproc_restart()).
 *
 * Ownership: the configuration (and the strings in it) is borrowed and must outlive the handle.
 * Threads: the agent's loop thread only.
 */
#ifndef TRL_AGENT_PRIVSEP_NET_H
#define TRL_AGENT_PRIVSEP_NET_H

#include "agent/forward.h"
#include "agent/privsep.h"

#include <stddef.h>
#include <sys/types.h>

/* Largest forwarded message; longer ones are cut. */
#define TRL_NETPROC_MAX_MSG (128u << 10)

struct trl_netproc_config {
    const char *server_host;
    const char *server_port;
    /* The agent's identity and the CA its server must chain to (PEM files). */
    const char *server_ca;
    const char *server_cert;
    const char *server_key;
    const struct trl_forward_config *fwd; /* TLS forwarders name their own files */
    size_t nfwd;
    const struct trl_privsep_user *user;
    /* UV_THREADPOOL_SIZE for the network process, whose pool resolves names (NULL: inherited). */
    const char *pool_size;
};

struct trl_netproc;

/* Forks the network process and waits until it has loaded its TLS contexts. Returns 0,
 * TRL_ECONFIG when a TLS file cannot be loaded (err says which and why), or another negative
 * error (err says what failed). */
int trl_netproc_start(const struct trl_netproc_config *c, struct trl_netproc **out, char *err,
                      size_t errlen);
/* Reaps the old process (killed if still there) and forks a new one, as trl_netproc_start(). */
int trl_netproc_restart(struct trl_netproc *np, char *err, size_t errlen);
/* Closes the control socket and waits (up to 2 s, then SIGKILL) for the process. NULL-safe. */
void trl_netproc_destroy(struct trl_netproc *np);

pid_t trl_netproc_pid(const struct trl_netproc *np);
/* The control socket, to poll for readability. */
int trl_netproc_fd(const struct trl_netproc *np);

/* Asks for a new connection to the server; *fd is the agent's end (plaintext, stream), owned by
 * the caller. Returns 0 or a negative error. */
int trl_netproc_connect(struct trl_netproc *np, int *fd);
/* Hands one message to forwarder idx without waiting: TRL_EFULL when the control socket has no
 * room (the caller counts the message as dropped). */
int trl_netproc_forward(struct trl_netproc *np, size_t idx, const void *msg, size_t len);
/* Reads what the network process sent: returns 1 when the forwarders' counters changed (copied to
 * stats, nfwd entries), 0 when nothing, a negative error when the process is gone. */
int trl_netproc_poll(struct trl_netproc *np, struct trl_forward_stats *stats);

#endif

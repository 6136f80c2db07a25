/*
 * agent_main: the main loop of `trapline agent`. Sources (tailed log files, and by default the
 * host's file integrity, process, network and login sources) produce events, which are given a
 * sequence number and appended to the disk spool before anything is sent: a file line as it was
 * read (line_record.h), any other event encoded as ECS JSON. A sender reads the spool, parses and
 * normalises each file line with Trapline's own parsers, sends BATCH frames
 * over TLS 1.3 (docs/protocol.md) with a bounded window of unacknowledged batches, and on ACK
 * advances the spool's acknowledged position durably, so a restarted agent resends only what the
 * server has not committed. Any error closes the connection and reconnects with exponential,
 * capped and jittered backoff. When the spool reaches its size cap the file sources pause (their
 * offsets wait) and the host sources' events are counted as dropped.
 *
 * Active response: an ACTION from the server is checked and carried out with the server's own
 * response code (detect/response.h), recorded as an event in the spool and answered with
 * ACTION_RESULT; the end of a block is recorded by a timer (ip-unblocked).
 *
 * The state directory holds agent.key, agent.crt (CN = agent id), ca.crt (the server CA pinned at
 * enrollment), server (HOST:PORT), the spool and the sources' offsets.
 *
 * Privilege separation: every network connection (the server, the forwarders) is made by a forked
 * network process that runs without privileges (privsep_net.h); the loop here talks the protocol
 * in plaintext over a socket pair to it.
 *
 * Ownership: the options' strings stay the caller's. Threads: trl_agent_run() runs the loop on the
 * calling thread (the main thread: it handles SIGTERM and SIGINT) until it is told to stop.
 */
#ifndef TRL_AGENT_MAIN_H
#define TRL_AGENT_MAIN_H

#include "agent/forward.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRL_AGENT_MAX_TAILS 64

struct trl_agent_opts {
    const char *state_dir;
    const char *server;                     /* "HOST:PORT"; NULL: read <state_dir>/server */
    const char *tails[TRL_AGENT_MAX_TAILS]; /* paths or glob patterns */
    size_t ntails;
    bool default_sources; /* system logs that exist, FIM, processes, network, logins */
    const char *fim[TRL_AGENT_MAX_TAILS]; /* file integrity roots, besides the default ones */
    size_t nfim;
    bool processes;            /* process executions, also without the default sources */
    bool network;              /* network connections, also without the default sources */
    bool active_response;      /* carry out the server's ACTION requests; false: refuse them */
    uint64_t spool_max_bytes;  /* 0: 1 GiB */
    uint64_t heartbeat_ms;     /* 0: 30000 */
    uint32_t batch_max_events; /* 0: 1000 */
    size_t batch_max_bytes;    /* 0: 1 MiB of JSON before compression */
    uint32_t window;           /* unacknowledged batches in flight; 0: 32 */
    uint64_t backoff_max_ms;   /* 0: 30000 */
    /* Third-party collectors that also get every event (forward.h); at most TRL_FWD_MAX. */
    const struct trl_forward_config *forwarders;
    size_t nforwarders;
    const char *network_user; /* the network process's user when run as root; NULL: "nobody" */
};

/* Runs until SIGTERM or SIGINT. Returns 0 after a clean stop, or a negative error when the agent
 * cannot start (missing certificate, unusable state directory: logged). */
int trl_agent_run(const struct trl_agent_opts *o);

#endif

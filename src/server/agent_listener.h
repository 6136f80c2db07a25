/*
 * agent_listener: the server's end of the agent protocol (docs/protocol.md). It accepts TLS 1.3
 * connections from `trapline agent`, identifies each agent by the CN of its verified client
 * certificate, refuses revoked or unknown agents (at HELLO and again every second), feeds the
 * events of every BATCH into the pipeline with agent.id / agent.name set from the certificate, and
 * answers ACK seq once the store has committed the events up to seq (the batch's on_done callback,
 * on the pipeline's worker thread, signals the listener's loop). The highest committed seq of each
 * agent is kept in the agent registry (DATA/agents.db), and events that arrive again at or below
 * it, or that are already on their way to the store, are dropped: a retransmission is
 * acknowledged, not stored twice. The BATCH frames of one connection read in the same turn of the
 * loop go to the pipeline as one batch (up to the pipeline's batch size), so that a window of small
 * batches reaches the store in fewer, larger commits; ACK then covers them all.
 *
 * Active response: trl_agent_listener_action() queues a response request for an agent (any
 * thread; the loop is woken with an async handle). It is sent as an ACTION frame on the agent's
 * live connection, or kept (bounded, until the request's own expiry) and sent when the agent next
 * connects with a protocol version that knows ACTION. The agent's ACTION_RESULT is logged; the
 * agent records the action as an event itself.
 *
 * It runs its own libuv loop on its own thread, next to the syslog listeners: the pipeline takes
 * batches from both producers. trl_agent_listener_start() binds (so a bad address fails at once)
 * and starts the thread; trl_agent_listener_stop() closes every connection, waits until the
 * pipeline has written what the agents sent (so every callback has run) and frees everything.
 * Stop it before destroying the pipeline.
 *
 * Ownership: the options' strings are copied; the pipeline stays the caller's. Threads: start and
 * stop from one thread (the server's main thread).
 */
#ifndef TRL_AGENT_LISTENER_H
#define TRL_AGENT_LISTENER_H

#include "server/pipeline.h"
#include "server/pki.h"
#include "server/server.h"

#include <stddef.h>
#include <stdint.h>

struct trl_agent_listener_opts {
    const char *address;  /* "ADDR:PORT"; port 0 picks a free one */
    const char *data_dir; /* holds agents.db */
    /* The server's CA and certificate (server/pki.h): the TLS identity, the CA agent
     * certificates must chain to, and what enrollment (server/enroll.h) signs with. */
    const struct trl_pki_paths *pki;
    struct trl_pipeline *pipeline;
    uint32_t max_connections; /* 0: 4096 */
    uint64_t idle_timeout_ms; /* 0: 120000; agents send a heartbeat every 30 s */
    /* Called on the listener's thread for each action whose request expired before its agent
     * connected (json: the request, NUL-terminated), so that it is recorded; NULL: only logged. */
    void (*action_expired)(void *ud, const char *agent_id, const char *json, size_t len);
    void *action_ud;
    /* Where the listener counts the events and bytes it receives and its open connections, for
     * GET /metrics (kind "agent" and the bound address); NULL: not counted. */
    struct trl_server_counters *counters;
};

struct trl_agent_listener;

/* Binds and starts serving. Returns 0 and sets *out, or a negative error (logged). */
int trl_agent_listener_start(const struct trl_agent_listener_opts *o,
                             struct trl_agent_listener **out);
/* The bound address with its real port ("127.0.0.1:6515"). */
const char *trl_agent_listener_address(const struct trl_agent_listener *l);
/* Queues the response request json (detect/response.h) for agent_id until expires_ns (wall
 * clock). Any thread, until trl_agent_listener_stop(). Returns 0, TRL_EFULL when 1024 actions
 * wait already, or TRL_EINVAL (bad arguments, the listener is stopping). */
int trl_agent_listener_action(struct trl_agent_listener *l, const char *agent_id, const char *json,
                              size_t len, int64_t expires_ns);
/* Stops serving, waits for the pipeline to write what was submitted, frees. NULL-safe. */
void trl_agent_listener_stop(struct trl_agent_listener *l);

#endif

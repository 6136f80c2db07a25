/*
 * enroll_client: `trapline agent enroll`, the agent's side of enrollment.
 *
 *   trapline agent enroll --token T [--server HOST:PORT] [--state DIR]
 *
 * Generates the agent's key (EC P-256) and a certificate signing request, connects with TLS 1.3 to
 * the server's agent listener, accepts the server only if its certificate chains to a CA whose
 * SHA-256 fingerprint is the one in the token, sends ENROLL_REQ and, from ENROLL_RESP, writes
 * agent.key, agent.crt, ca.crt, server and agent.id into the state directory (each atomically,
 * agent.id last). docs/agent-enrollment.md describes the whole exchange.
 *
 * Called from the main thread (the `agent` verb's dispatcher); returns the process exit status.
 */
#ifndef TRL_AGENT_ENROLL_CLIENT_H
#define TRL_AGENT_ENROLL_CLIENT_H

/* The default state directory of `trapline agent`. */
#define TRL_AGENT_DEFAULT_STATE "/var/lib/trapline-agent"

/* argv[0] is "enroll". */
int trl_cmd_agent_enroll(int argc, char **argv);

#endif

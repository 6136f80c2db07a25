/*
 * agent_registry: the enrolled agents and the pending enrollment tokens, in DATA/agents.db
 * (SQLite, WAL).
 *
 * Tables: agents (id TEXT PRIMARY KEY = the CN of the agent's client certificate, hostname,
 * version, cert_serial, cert_fingerprint, enrolled_at, revoked_at, last_seen, events_total,
 * events_per_sec, spool_depth, dropped, last_seq) and enroll_tokens (id, secret_hash, created_at,
 * expires_at, used_at). Times are Unix seconds; revoked_at and used_at are NULL until it happens.
 * last_seq is the highest event sequence number the server has committed for the agent, so the
 * listener can drop what an agent resends after a reconnect.
 *
 * Writers: the server process (listener, enrollment) and the CLI verbs (`trapline token`,
 * `trapline agents revoke`), each with its own handle; WAL and a busy timeout let them run at once.
 * A revocation by another process is seen by trl_agent_registry_is_revoked within a second.
 *
 * Ownership: the registry owns its SQLite handle; strings passed in are copied; strings in struct
 * trl_agent_info are valid during the list callback only. Threads: a handle may be shared by the
 * threads of one process (calls are serialised by a mutex inside); destroy it from one thread once
 * the others are done with it.
 */
#ifndef TRL_AGENT_REGISTRY_H
#define TRL_AGENT_REGISTRY_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trl_agent_registry;

/* An agent is "online" when seen within this many seconds, "silent" after. */
#define TRL_AGENT_ONLINE_SECS 120

/* What an agent reports about itself with each connection or heartbeat. NULL strings leave the
 * stored value unchanged. */
struct trl_agent_health {
    const char *version;
    const char *hostname;
    uint64_t events_total; /* events sent since the agent started */
    double events_per_sec;
    uint64_t spool_depth; /* events waiting on the agent's disk spool */
    uint64_t dropped;     /* events the agent had to drop (spool full) */
};

/* One agent as listed. cert_* may be "" for rows written by older versions. */
struct trl_agent_info {
    const char *id;
    const char *hostname;
    const char *version;
    const char *cert_serial;      /* hex */
    const char *cert_fingerprint; /* SHA-256, lower-case hex with colons */
    int64_t enrolled_at;
    int64_t revoked_at; /* 0: not revoked */
    int64_t last_seen;  /* 0: never connected */
    uint64_t events_total;
    double events_per_sec;
    uint64_t spool_depth;
    uint64_t dropped;
    uint64_t last_seq;
};

/* Opens (creating if needed) DATA/agents.db. NULL on error (logged). */
struct trl_agent_registry *trl_agent_registry_open(const char *data_dir);
void trl_agent_registry_close(struct trl_agent_registry *reg);

/* True when the agent may not connect: revoked, or not enrolled at all. Answers from a cache that
 * is checked against the database at most once a second, so it is cheap enough to call for every
 * connection and every batch. */
bool trl_agent_registry_is_revoked(struct trl_agent_registry *reg, const char *id);

/* Records that the agent is connected now (last_seen) and what it reports; h may be NULL.
 * 0, -ENOENT for an unknown agent, or -EIO. */
int trl_agent_registry_seen(struct trl_agent_registry *reg, const char *id,
                            const struct trl_agent_health *h);

/* The highest committed sequence number (0 before the first). 0, -ENOENT or -EIO. */
int trl_agent_registry_last_seq(struct trl_agent_registry *reg, const char *id, uint64_t *seq);
/* Raises last_seq to seq (a lower seq leaves it unchanged). Call once the events up to seq are
 * durably stored. 0, -ENOENT or -EIO. */
int trl_agent_registry_commit_seq(struct trl_agent_registry *reg, const char *id, uint64_t seq);

/* The batch the server is about to commit for an agent: its sequence numbers and the range of its
 * events' @timestamp. Recorded before the store commits it and left in place after, so that after
 * a crash between the store's commit and commit_seq the server can look in the store (only in that
 * time range) for which of those events it already holds. */
struct trl_agent_pending {
    uint64_t first_seq, last_seq;
    int64_t from_ns, to_ns;
};
int trl_agent_registry_set_pending(struct trl_agent_registry *reg, const char *id,
                                   const struct trl_agent_pending *p);
/* 0 and *out, or -ENOENT when nothing was ever pending for the agent. */
int trl_agent_registry_pending(struct trl_agent_registry *reg, const char *id,
                               struct trl_agent_pending *out);

/* Calls cb for every agent, ordered by id. 0 or -EIO. */
int trl_agent_registry_list(struct trl_agent_registry *reg,
                            void (*cb)(void *ud, const struct trl_agent_info *a), void *ud);
/* Calls cb once with the one agent id (for the web API's detail view). 0, -ENOENT or -EIO. */
int trl_agent_registry_get(struct trl_agent_registry *reg, const char *id,
                           void (*cb)(void *ud, const struct trl_agent_info *a), void *ud);
/* Marks the agent revoked (now). 0, -ENOENT, -EALREADY when already revoked, or -EIO. */
int trl_agent_registry_revoke(struct trl_agent_registry *reg, const char *id);

/* "online", "silent" or "revoked" for an agent at time now (Unix seconds). */
const char *trl_agent_status(const struct trl_agent_info *a, int64_t now);
/* Appends the agent as one JSON object (every column, times as RFC 3339 or null, and "status"),
 * the form `trapline agents --output json` prints and the web API serves. */
void trl_agent_info_json(const struct trl_agent_info *a, int64_t now, struct trl_buf *out);

/* Enrollment (server/enroll.h uses these; tokens are created by `trapline token`). */

#define TRL_TOKEN_HASH_LEN  32 /* SHA-256 of the token's secret */
#define TRL_TOKEN_KEEP_SECS (30 * 86400)

/* Stores a new token whose secret hashes to hash, valid until expires_at, and forgets tokens that
 * expired more than TRL_TOKEN_KEEP_SECS ago. 0 or -EIO. */
int trl_agent_registry_token_add(struct trl_agent_registry *reg, const char *token_id,
                                 const unsigned char hash[TRL_TOKEN_HASH_LEN], int64_t expires_at);
/* Checks a presented token without using it up: 0, -ENOENT (unknown, or the secret does not
 * match), -ETIMEDOUT (expired), -EALREADY (used), or -EIO. */
int trl_agent_registry_token_check(struct trl_agent_registry *reg, const char *token_id,
                                   const unsigned char hash[TRL_TOKEN_HASH_LEN], int64_t now);

/* The new agent's record for trl_agent_registry_enroll. */
struct trl_agent_enrollment {
    const char *id;
    const char *hostname;
    const char *version;
    const char *cert_serial;
    const char *cert_fingerprint;
};
/* In one transaction: checks the token again, marks it used and adds the agent. A token can thus
 * enroll one agent only, even when two requests race. Same errors as token_check, plus -EEXIST
 * when the agent id is taken. */
int trl_agent_registry_enroll(struct trl_agent_registry *reg, const char *token_id,
                              const unsigned char hash[TRL_TOKEN_HASH_LEN], int64_t now,
                              const struct trl_agent_enrollment *e);

#endif

/*
 * action_queue: response actions waiting for the agent that must carry them out. The server's
 * agent listener keeps here each ACTION it could not send yet (the agent is not connected, or
 * speaks a protocol without ACTION) and sends them when the agent comes back, unless the request
 * has expired by then: a block whose timeout has passed is pointless, and a kill or lock decided
 * long ago no longer matches what runs on the host.
 *
 * The queue is bounded: a push beyond its capacity fails and the caller records the action as not
 * done.
 *
 * Ownership: the queue copies the agent id and the request. Threads: not synchronised; the
 * listener guards it with its own mutex.
 */
#ifndef TRL_ACTION_QUEUE_H
#define TRL_ACTION_QUEUE_H

#include <stddef.h>
#include <stdint.h>

struct trl_action_queue;

/* One queued action, as handed to the callbacks; valid during the call only. */
struct trl_queued_action {
    const char *agent_id;
    uint64_t id;
    const char *json; /* the request (detect/response.h), NUL-terminated */
    size_t len;
    int64_t expires_ns; /* wall clock */
};

/* capacity 0: 1024. */
struct trl_action_queue *trl_action_queue_create(size_t capacity);
/* NULL-safe. */
void trl_action_queue_destroy(struct trl_action_queue *q);
/* Returns 0, TRL_EFULL at capacity, or TRL_EINVAL for an empty agent id or request. */
int trl_action_queue_push(struct trl_action_queue *q, const char *agent_id, uint64_t id,
                          const char *json, size_t len, int64_t expires_ns);
/* Removes the actions of agent_id in the order they were pushed, calling send for those not
 * expired at now_ns and expired for the others (either may be NULL); expired actions of other
 * agents are removed through expired too. Returns how many were sent. */
size_t trl_action_queue_take(struct trl_action_queue *q, const char *agent_id, int64_t now_ns,
                             void (*send)(void *ud, const struct trl_queued_action *a),
                             void (*expired)(void *ud, const struct trl_queued_action *a),
                             void *ud);
/* Removes every action expired at now_ns, calling expired for each. Returns how many. */
size_t trl_action_queue_expire(struct trl_action_queue *q, int64_t now_ns,
                               void (*expired)(void *ud, const struct trl_queued_action *a),
                               void *ud);
size_t trl_action_queue_len(const struct trl_action_queue *q);

#endif

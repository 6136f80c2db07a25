/*
 * action_queue: a bounded list of actions waiting for their agent (see action_queue.h).
 */
#include "server/action_queue.h"

#include "core/util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CAPACITY 1024

struct item {
    char *agent_id;
    uint64_t id;
    char *json;
    size_t len;
    int64_t expires_ns;
};

struct trl_action_queue {
    struct item *items; /* in push order */
    size_t n, cap;
};

struct trl_action_queue *trl_action_queue_create(size_t capacity)
{
    struct trl_action_queue *q = trl_xcalloc(1, sizeof(*q));
    q->cap = capacity ? capacity : DEFAULT_CAPACITY;
    q->items = trl_xcalloc(q->cap, sizeof(*q->items));
    return q;
}

static void item_free(struct item *it)
{
    free(it->agent_id);
    free(it->json);
}

void trl_action_queue_destroy(struct trl_action_queue *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n; i++)
        item_free(&q->items[i]);
    free(q->items);
    free(q);
}

int trl_action_queue_push(struct trl_action_queue *q, const char *agent_id, uint64_t id,
                          const char *json, size_t len, int64_t expires_ns)
{
    if (!agent_id || !agent_id[0] || !json || len == 0)
        return TRL_EINVAL;
    if (q->n == q->cap)
        return TRL_EFULL;
    struct item *it = &q->items[q->n++];
    it->agent_id = trl_xstrdup(agent_id);
    it->id = id;
    it->json = trl_xstrndup(json, len);
    it->len = len;
    it->expires_ns = expires_ns;
    return 0;
}

static struct trl_queued_action view(const struct item *it)
{
    return (struct trl_queued_action){.agent_id = it->agent_id,
                                      .id = it->id,
                                      .json = it->json,
                                      .len = it->len,
                                      .expires_ns = it->expires_ns};
}

/* Removes, in order, every expired item (through expired) and the items of agent_id (through
 * send); the others stay, in order. */
static size_t sweep(struct trl_action_queue *q, const char *agent_id, int64_t now_ns,
                    void (*send)(void *ud, const struct trl_queued_action *a),
                    void (*expired)(void *ud, const struct trl_queued_action *a), void *ud)
{
    size_t k = 0, sent = 0;
    for (size_t i = 0; i < q->n; i++) {
        struct item *it = &q->items[i];
        bool is_expired = it->expires_ns <= now_ns;
        bool mine = agent_id && !strcmp(it->agent_id, agent_id);
        if (!mine && !is_expired) {
            q->items[k++] = *it;
            continue;
        }
        struct trl_queued_action a = view(it);
        if (is_expired) {
            if (expired)
                expired(ud, &a);
        } else {
            if (send)
                send(ud, &a);
            sent++;
        }
        item_free(it);
    }
    q->n = k;
    return agent_id ? sent : 0;
}

size_t trl_action_queue_take(struct trl_action_queue *q, const char *agent_id, int64_t now_ns,
                             void (*send)(void *ud, const struct trl_queued_action *a),
                             void (*expired)(void *ud, const struct trl_queued_action *a), void *ud)
{
    if (!agent_id)
        return 0;
    return sweep(q, agent_id, now_ns, send, expired, ud);
}

size_t trl_action_queue_expire(struct trl_action_queue *q, int64_t now_ns,
                               void (*expired)(void *ud, const struct trl_queued_action *a),
                               void *ud)
{
    size_t before = q->n;
    sweep(q, NULL, now_ns, NULL, expired, ud);
    return before - q->n;
}

size_t trl_action_queue_len(const struct trl_action_queue *q)
{
    return q->n;
}

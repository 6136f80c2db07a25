/*
 * listener_counters: claims the per-listener slots of struct trl_server_counters (server.h).
 */
#include "server/server.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

static void copy_cut(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static bool slot_is(const struct trl_listener_counters *s, const char *kind, const char *address)
{
    return atomic_load_explicit(&s->state, memory_order_acquire) == TRL_COUNTERS_USED &&
           !strcmp(s->kind, kind) && !strcmp(s->address, address);
}

struct trl_listener_counters *trl_server_counters_slot(struct trl_server_counters *c,
                                                       const char *kind, const char *address)
{
    if (!c)
        return NULL;
    for (size_t i = 0; i < TRL_SERVER_COUNTER_SLOTS; i++) {
        if (slot_is(&c->listeners[i], kind, address))
            return &c->listeners[i];
    }
    for (size_t i = 0; i < TRL_SERVER_COUNTER_SLOTS; i++) {
        struct trl_listener_counters *s = &c->listeners[i];
        int expect = TRL_COUNTERS_FREE;
        if (!atomic_compare_exchange_strong(&s->state, &expect, TRL_COUNTERS_CLAIMING))
            continue;
        /* Longer names are cut: they only label the metric. */
        copy_cut(s->kind, sizeof(s->kind), kind);
        copy_cut(s->address, sizeof(s->address), address);
        atomic_store_explicit(&s->state, TRL_COUNTERS_USED, memory_order_release);
        return s;
    }
    return NULL;
}

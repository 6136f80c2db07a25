/*
 * agent_event: small helpers the agent's host sources (FIM, process, network, logins) share to
 * build their events.
 *
 * Every event is allocated in the arena the caller passes and belongs to it (see core/event.h);
 * nothing here keeps state, so the helpers are safe from any thread that owns the arena.
 */
#ifndef TRL_AGENT_EVENT_H
#define TRL_AGENT_EVENT_H

#include "core/event.h"

#include <stdint.h>

/* Receives an event from a host source. The source does not touch the event after the call, so the
 * callback may hand it off and reset the arena it lives in. */
typedef void (*trl_agent_event_fn)(void *ud, struct trl_event *ev);

/* A new event with @timestamp ts_ns, event.created now, event.kind "event" and event.dataset
 * dataset ("agent.fim", ...); ev->format is "agent". */
struct trl_event *trl_agent_event(struct trl_arena *a, const char *dataset, int64_t ts_ns);
void trl_agent_set_u64(struct trl_event *ev, enum trl_field f, uint64_t v);
void trl_agent_set_named_str(struct trl_event *ev, const char *name, const char *v);
void trl_agent_set_named_u64(struct trl_event *ev, const char *name, uint64_t v);
/* Sets an IP field from a binary address (AF_INET: 4 bytes, AF_INET6: 16 bytes). An IPv4-mapped
 * IPv6 address is written in its IPv4 form. */
void trl_agent_set_ip(struct trl_event *ev, enum trl_field f, int family, const void *addr);
/* Sets a date field from ns since the epoch (RFC 3339, UTC). */
void trl_agent_set_date(struct trl_event *ev, enum trl_field f, int64_t ns);

#endif

#include "agent/agent_event.h"

#include "core/timeutil.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

struct trl_event *trl_agent_event(struct trl_arena *a, const char *dataset, int64_t ts_ns)
{
    struct trl_event *ev = trl_event_create(a, NULL, 0, trl_now_ns());
    ev->timestamp_ns = ts_ns;
    ev->format = "agent";
    trl_event_set_ref(ev, TRL_F_EVENT_KIND, "event", 5);
    trl_event_set_ref(ev, TRL_F_EVENT_DATASET, dataset, strlen(dataset));
    return ev;
}

void trl_agent_set_u64(struct trl_event *ev, enum trl_field f, uint64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%" PRIu64, v);
    trl_event_set(ev, f, buf, (size_t)n);
}

void trl_agent_set_named_str(struct trl_event *ev, const char *name, const char *v)
{
    trl_event_set_named(ev, name, strlen(name), v, strlen(v));
}

void trl_agent_set_named_u64(struct trl_event *ev, const char *name, uint64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%" PRIu64, v);
    trl_event_set_named(ev, name, strlen(name), buf, (size_t)n);
}

void trl_agent_set_ip(struct trl_event *ev, enum trl_field f, int family, const void *addr)
{
    char buf[INET6_ADDRSTRLEN];
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (family == AF_INET6 && memcmp(addr, v4mapped, sizeof(v4mapped)) == 0) {
        family = AF_INET;
        addr = (const unsigned char *)addr + 12;
    }
    if (inet_ntop(family, addr, buf, sizeof(buf)))
        trl_event_set_str(ev, f, buf);
}

void trl_agent_set_date(struct trl_event *ev, enum trl_field f, int64_t ns)
{
    char buf[TRL_RFC3339_MAX];
    size_t n = trl_format_rfc3339(ns, buf);
    trl_event_set(ev, f, buf, n);
}

#include "trl_test.h"

#include "test_agent_util.h"

#include "agent/netconn.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/socket.h>

/*
 * The tests open sockets on loopback in this process, take snapshots and look for the events
 * about those sockets (other processes on the machine may open sockets meanwhile: they are
 * ignored). The owner of every socket here is this test process.
 */
#define MAX_EV 256

struct got {
    struct trl_arena *arena;
    int n;
    struct trl_event *ev[MAX_EV];
};

static void collect(void *ud, struct trl_event *ev)
{
    struct got *g = ud;
    if (g->n < MAX_EV)
        g->ev[g->n++] = ev;
}

static struct trl_netconn *make(bool report_existing)
{
    struct trl_netconn_config cfg = {.report_existing = report_existing};
    struct trl_netconn *n;
    assert_int_equal(trl_netconn_create(&cfg, &n), 0);
    return n;
}

static int snapshot(struct trl_netconn *n, struct got *g)
{
    g->n = 0;
    trl_arena_reset(g->arena);
    int rc = trl_netconn_poll(n, g->arena, collect, g);
    assert_true(rc >= 0);
    assert_int_equal(rc, g->n);
    return rc;
}

/* The event with this action whose field f equals port, or NULL. */
static struct trl_event *find(struct got *g, const char *action, enum trl_field f, int port,
                              const char *direction)
{
    char want[16];
    snprintf(want, sizeof(want), "%d", port);
    for (int i = 0; i < g->n; i++) {
        struct trl_event *ev = g->ev[i];
        if (trl_event_is(ev, TRL_F_EVENT_ACTION, action) && trl_event_is(ev, f, want) &&
            (!direction || trl_event_is(ev, TRL_F_NETWORK_DIRECTION, direction)))
            return ev;
    }
    return NULL;
}

static int listen_on(int family, const char *addr, int *port)
{
    int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        inet_pton(AF_INET, addr, &a->sin_addr);
        sl = sizeof(*a);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        inet_pton(AF_INET6, addr, &a->sin6_addr);
        sl = sizeof(*a);
    }
    if (bind(s, (struct sockaddr *)&ss, sl) != 0 || listen(s, 8) != 0) {
        close(s);
        return -1;
    }
    assert_int_equal(getsockname(s, (struct sockaddr *)&ss, &sl), 0);
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return s;
}

static int connect_to(int family, const char *addr, int port, int *local_port)
{
    int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, addr, &a->sin_addr);
        sl = sizeof(*a);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, addr, &a->sin6_addr);
        sl = sizeof(*a);
    }
    assert_int_equal(connect(s, (struct sockaddr *)&ss, sl), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&ss, &sl), 0);
    *local_port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                          : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return s;
}

static void assert_owned_by_me(const struct trl_event *ev)
{
    char want[PATH_MAX];
    snprintf(want, sizeof(want), "%d", (int)getpid());
    assert_field(ev, TRL_F_PROCESS_PID, want);
    ssize_t n = readlink("/proc/self/exe", want, sizeof(want) - 1);
    assert_true(n > 0);
    want[n] = '\0';
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE, want);
    assert_field(ev, TRL_F_PROCESS_NAME, "test_agent_netconn");
    snprintf(want, sizeof(want), "%u", (unsigned)getuid());
    assert_field(ev, TRL_F_USER_ID, want);
}

static void test_netconn_reports_listener_and_both_connection_ends(void **state)
{
    (void)state;
    struct got g = {.arena = trl_arena_create(65536)};
    struct trl_netconn *n = make(false);
    snapshot(n, &g); /* baseline: whatever is open already is not reported */

    int lport, cport;
    int ls = listen_on(AF_INET, "127.0.0.1", &lport);
    assert_true(ls >= 0);
    int cs = connect_to(AF_INET, "127.0.0.1", lport, &cport);
    int as = accept(ls, NULL, NULL);
    assert_true(as >= 0);
    snapshot(n, &g);

    struct trl_event *ev = find(&g, "socket-listening", TRL_F_DESTINATION_PORT, lport, NULL);
    assert_non_null(ev);
    assert_field(ev, TRL_F_EVENT_CATEGORY, "network");
    assert_field(ev, TRL_F_EVENT_TYPE, "info");
    assert_field(ev, TRL_F_EVENT_DATASET, "agent.network");
    assert_field(ev, TRL_F_DESTINATION_IP, "127.0.0.1");
    assert_field(ev, TRL_F_NETWORK_TRANSPORT, "tcp");
    assert_field(ev, TRL_F_NETWORK_TYPE, "ipv4");
    assert_field(ev, TRL_F_SOURCE_IP, NULL);
    assert_owned_by_me(ev);

    /* The client end: local ephemeral port, not listened on. */
    ev = find(&g, "connection-opened", TRL_F_SOURCE_PORT, cport, "outbound");
    assert_non_null(ev);
    assert_field(ev, TRL_F_EVENT_TYPE, "connection");
    assert_field(ev, TRL_F_SOURCE_IP, "127.0.0.1");
    assert_field(ev, TRL_F_DESTINATION_IP, "127.0.0.1");
    char want[16];
    snprintf(want, sizeof(want), "%d", lport);
    assert_field(ev, TRL_F_DESTINATION_PORT, want);
    assert_owned_by_me(ev);
    size_t types = 0;
    for (uint32_t i = 0; i < ev->nfields; i++)
        types += ev->fields[i].field == TRL_F_EVENT_TYPE;
    assert_int_equal(types, 2); /* connection, start */

    /* The server end: the local port is listened on; the source is the remote client. */
    ev = find(&g, "connection-opened", TRL_F_DESTINATION_PORT, lport, "inbound");
    assert_non_null(ev);
    snprintf(want, sizeof(want), "%d", cport);
    assert_field(ev, TRL_F_SOURCE_PORT, want);
    assert_owned_by_me(ev);

    /* Nothing about them twice. */
    snapshot(n, &g);
    assert_null(find(&g, "socket-listening", TRL_F_DESTINATION_PORT, lport, NULL));
    assert_null(find(&g, "connection-opened", TRL_F_SOURCE_PORT, cport, NULL));
    assert_null(find(&g, "connection-opened", TRL_F_DESTINATION_PORT, lport, NULL));

    /* Closed and reopened: a new connection is new again. */
    close(cs);
    close(as);
    snapshot(n, &g);
    int cport2;
    cs = connect_to(AF_INET, "127.0.0.1", lport, &cport2);
    as = accept(ls, NULL, NULL);
    snapshot(n, &g);
    assert_non_null(find(&g, "connection-opened", TRL_F_SOURCE_PORT, cport2, "outbound"));

    struct trl_netconn_stats st;
    trl_netconn_stats(n, &st);
    assert_int_equal(st.snapshots, 5);
    assert_true(st.proc_rescans >= 1);
    close(cs);
    close(as);
    close(ls);
    trl_netconn_destroy(n);
    trl_arena_destroy(g.arena);
}

static void test_netconn_unaccepted_connection_reported_one_snapshot_later(void **state)
{
    (void)state;
    struct got g = {.arena = trl_arena_create(65536)};
    struct trl_netconn *n = make(false);
    snapshot(n, &g);
    int lport, cport;
    int ls = listen_on(AF_INET, "127.0.0.1", &lport);
    int cs = connect_to(AF_INET, "127.0.0.1", lport, &cport);
    snapshot(n, &g);
    assert_non_null(find(&g, "connection-opened", TRL_F_SOURCE_PORT, cport, "outbound"));
    /* Still in the accept queue: no owner yet, so it waits. */
    assert_null(find(&g, "connection-opened", TRL_F_DESTINATION_PORT, lport, "inbound"));
    snapshot(n, &g);
    struct trl_event *ev = find(&g, "connection-opened", TRL_F_DESTINATION_PORT, lport, "inbound");
    assert_non_null(ev);
    assert_field(ev, TRL_F_PROCESS_PID, NULL);
    close(cs);
    close(ls);
    trl_netconn_destroy(n);
    trl_arena_destroy(g.arena);
}

static void test_netconn_ipv6_and_report_existing(void **state)
{
    (void)state;
    struct got g = {.arena = trl_arena_create(65536)};
    int lport;
    int ls = listen_on(AF_INET6, "::1", &lport);
    if (ls < 0) {
        print_message("skipped: no IPv6 loopback\n");
        trl_arena_destroy(g.arena);
        skip();
        return;
    }
    /* Already open when monitoring starts, and report_existing asks for it. */
    struct trl_netconn *n = make(true);
    snapshot(n, &g);
    struct trl_event *ev = find(&g, "socket-listening", TRL_F_DESTINATION_PORT, lport, NULL);
    assert_non_null(ev);
    assert_field(ev, TRL_F_DESTINATION_IP, "::1");
    assert_field(ev, TRL_F_NETWORK_TYPE, "ipv6");
    assert_owned_by_me(ev);
    close(ls);
    trl_netconn_destroy(n);
    trl_arena_destroy(g.arena);
}

int main(void)
{
    trl_log_set_level(TRL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_netconn_reports_listener_and_both_connection_ends),
        cmocka_unit_test(test_netconn_unaccepted_connection_reported_one_snapshot_later),
        cmocka_unit_test(test_netconn_ipv6_and_report_existing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

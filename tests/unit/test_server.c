/*
 * The server runtime end to end on loopback: it runs in a thread with a real pipeline and a sink
 * that records (and, to force congestion, slows down); the test thread sends and signals.
 */
#include "trl_test.h"

#include "core/buf.h"
#include "core/log.h"
#include "server/pipeline.h"
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

struct record_sink {
    struct trl_sink base;
    pthread_mutex_t mu;
    struct trl_buf seen; /* every event.original, one per line */
    atomic_ulong count;
    int delay_us; /* per batch */
};

static int record_write(struct trl_sink *s, struct trl_batch *b)
{
    struct record_sink *r = (struct record_sink *)s;
    pthread_mutex_lock(&r->mu);
    for (uint32_t i = 0; i < b->count; i++) {
        trl_buf_append(&r->seen, b->events[i]->original, b->events[i]->original_len);
        trl_buf_putc(&r->seen, '\n');
    }
    pthread_mutex_unlock(&r->mu);
    atomic_fetch_add(&r->count, b->count);
    if (r->delay_us)
        usleep((useconds_t)r->delay_us);
    return 0;
}

static void record_destroy(struct trl_sink *s)
{
    (void)s; /* owned by the test fixture */
}

struct fixture {
    struct record_sink sink;
    struct trl_pipeline *p;
    struct trl_server_waker *waker;
    struct trl_server_opts opts;
    struct trl_server_opts reload_opts[2];
    int reloads;
    struct trl_server_hooks hooks;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool ready;
    int rc;
    int ports[3]; /* by enum trl_listen_kind, from the ready hook */
    char logpath[64];
    int logfd;
};

static void on_ready(void *ud, const struct trl_server_bound *bound, size_t count)
{
    struct fixture *f = ud;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < count; i++) {
        const char *colon = strrchr(bound[i].address, ':');
        f->ports[bound[i].kind] = atoi(colon + 1);
    }
    f->ready = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static int on_reload(void *ud, struct trl_server_opts *out)
{
    struct fixture *f = ud;
    *out = f->reload_opts[f->reloads++ % 2];
    return 0;
}

static void *server_main(void *arg)
{
    struct fixture *f = arg;
    int rc = trl_server_run(&f->opts, f->p, &f->hooks);
    pthread_mutex_lock(&f->mu);
    f->rc = rc;
    f->ready = true; /* a failed start must not leave the test waiting */
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

static struct fixture *fixture_new(uint32_t queue_batches, uint32_t batch_msgs, int delay_us)
{
    struct fixture *f = trl_xcalloc(1, sizeof(*f));
    pthread_mutex_init(&f->sink.mu, NULL);
    f->sink.base = (struct trl_sink){.write = record_write, .destroy = record_destroy};
    f->sink.delay_us = delay_us;
    f->waker = trl_server_waker_create();
    struct trl_pipeline_config pc = {
        .format = TRL_FORMAT_RAW,
        .queue_batches = queue_batches,
        .batch_max_msgs = batch_msgs,
        .sink = &f->sink.base,
        .on_drain = trl_server_waker_notify,
        .on_drain_ud = f->waker,
    };
    f->p = trl_pipeline_create(&pc);
    assert_non_null(f->p);
    trl_server_opts_init(&f->opts);
    f->opts.stats_interval_ms = 0;
    f->hooks = (struct trl_server_hooks){
        .ud = f, .reload = on_reload, .ready = on_ready, .waker = f->waker};
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    snprintf(f->logpath, sizeof(f->logpath), "/tmp/trl-test-server-%d.log", (int)getpid());
    f->logfd = open(f->logpath, O_CREAT | O_TRUNC | O_RDWR, 0600);
    assert_true(f->logfd >= 0);
    trl_log_set_fd(f->logfd);
    return f;
}

static void fixture_start(struct fixture *f)
{
    assert_int_equal(pthread_create(&f->thread, NULL, server_main, f), 0);
    pthread_mutex_lock(&f->mu);
    while (!f->ready)
        pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
}

/* SIGTERM, then the server's return code. */
static int fixture_stop(struct fixture *f)
{
    kill(getpid(), SIGTERM);
    pthread_join(f->thread, NULL);
    return f->rc;
}

/* The server's log so far (static buffer). */
static const char *fixture_log(struct fixture *f)
{
    static char text[1 << 16];
    ssize_t n = pread(f->logfd, text, sizeof(text) - 1, 0);
    text[n > 0 ? n : 0] = '\0';
    return text;
}

static void fixture_free(struct fixture *f)
{
    trl_pipeline_destroy(f->p);
    trl_server_waker_destroy(f->waker);
    trl_buf_free(&f->sink.seen);
    pthread_mutex_destroy(&f->sink.mu);
    trl_log_set_fd(2);
    close(f->logfd);
    unlink(f->logpath);
    free(f);
}

static bool sink_has(struct fixture *f, const char *text)
{
    pthread_mutex_lock(&f->sink.mu);
    bool found = f->sink.seen.data && strstr(f->sink.seen.data, text) != NULL;
    pthread_mutex_unlock(&f->sink.mu);
    return found;
}

/* Waits up to 10 s for the sink to have seen text. */
static bool wait_for(struct fixture *f, const char *text)
{
    for (int i = 0; i < 1000; i++) {
        if (sink_has(f, text))
            return true;
        usleep(10000);
    }
    return false;
}

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

/* True when the peer closes fd within ms. */
static bool closed_by_peer(int fd, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    char buf[64];
    while (poll(&pfd, 1, ms) == 1) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            return true;
    }
    return false;
}

static void test_server_tcp_backpressure_loses_nothing(void **state)
{
    (void)state;
    /* A tiny queue and a slow sink: the server must pause reading again and again. */
    struct fixture *f = fixture_new(2, 64, 2000);
    trl_server_opts_add(&f->opts, TRL_LISTEN_TCP, "127.0.0.1:0");
    fixture_start(f);
    int fd = tcp_connect(f->ports[TRL_LISTEN_TCP]);
    assert_true(fd >= 0);
    enum { N = 20000 };
    struct trl_buf b = {0};
    for (int i = 0; i < N; i++)
        trl_buf_printf(&b, "<13>Jul  9 22:31:02 web01 app: message-%06d\n", i);
    send_all(fd, b.data, b.len);
    close(fd);
    assert_true(wait_for(f, "message-019999"));
    assert_int_equal(fixture_stop(f), 0);
    trl_pipeline_sync(f->p);
    assert_int_equal(atomic_load(&f->sink.count), N);
    const char *log = fixture_log(f);
    assert_non_null(strstr(log, "msgs=20000 "));
    const char *pauses = strstr(log, " pauses=");
    assert_non_null(pauses);
    assert_true(strtoul(pauses + 8, NULL, 10) > 0);
    trl_buf_free(&b);
    fixture_free(f);
}

static void test_server_udp_drops_and_counts_under_congestion(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(1, 8, 20000);
    trl_server_opts_add(&f->opts, TRL_LISTEN_UDP, "127.0.0.1:0");
    fixture_start(f);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)f->ports[TRL_LISTEN_UDP])};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    enum { N = 5000 };
    for (int i = 0; i < N; i++) {
        char msg[64];
        int n = snprintf(msg, sizeof(msg), "<13>Jul  9 22:31:02 web01 app: dgram-%05d\n", i);
        sendto(fd, msg, (size_t)n, 0, (struct sockaddr *)&a, sizeof(a));
        if (i % 500 == 0)
            usleep(1000);
    }
    close(fd);
    usleep(200000);
    assert_int_equal(fixture_stop(f), 0);
    trl_pipeline_sync(f->p);
    const char *log = fixture_log(f);
    const char *drops = strstr(log, " drops=");
    assert_non_null(drops);
    unsigned long dropped = strtoul(drops + 7, NULL, 10);
    assert_true(dropped > 0);
    assert_true(atomic_load(&f->sink.count) + dropped <= N);
    assert_non_null(strstr(log, "WARN  udp: dropping datagrams: pipeline congested"));
    fixture_free(f);
}

static void test_server_reload_opens_and_closes_listeners(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(0, 0, 0);
    trl_server_opts_add(&f->opts, TRL_LISTEN_TCP, "127.0.0.1:0");
    /* First reload: the TCP listener stays, a UDP one is added. Second: TCP goes away. */
    f->reload_opts[0] = f->opts;
    trl_server_opts_add(&f->reload_opts[0], TRL_LISTEN_UDP, "127.0.0.1:0");
    trl_server_opts_init(&f->reload_opts[1]);
    f->reload_opts[1].stats_interval_ms = 0;
    trl_server_opts_add(&f->reload_opts[1], TRL_LISTEN_UDP, "127.0.0.1:0");
    fixture_start(f);
    int port = f->ports[TRL_LISTEN_TCP];
    int fd = tcp_connect(port);
    assert_true(fd >= 0);
    send_all(fd, "<13>before-reload\n", 18);
    assert_true(wait_for(f, "before-reload"));

    kill(getpid(), SIGHUP);
    for (int i = 0; i < 500 && !strstr(fixture_log(f), "listeners_opened=1"); i++)
        usleep(10000);
    assert_non_null(
        strstr(fixture_log(f), "reloaded listeners_opened=1 listeners_closed=0 listeners_kept=1"));
    send_all(fd, "<13>after-first-reload\n", 23);
    assert_true(wait_for(f, "after-first-reload"));

    kill(getpid(), SIGHUP);
    for (int i = 0; i < 500 && !strstr(fixture_log(f), "listeners_closed=1"); i++)
        usleep(10000);
    assert_non_null(
        strstr(fixture_log(f), "reloaded listeners_opened=0 listeners_closed=1 listeners_kept=1"));
    /* The listener is gone but the connection it accepted lives on. */
    assert_int_equal(tcp_connect(port), -1);
    send_all(fd, "<13>after-listener-closed\n", 26);
    assert_true(wait_for(f, "after-listener-closed"));
    close(fd);
    assert_int_equal(fixture_stop(f), 0);
    fixture_free(f);
}

static void test_server_refuses_connections_past_max(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(0, 0, 0);
    trl_server_opts_add(&f->opts, TRL_LISTEN_TCP, "127.0.0.1:0");
    f->opts.max_connections = 3;
    fixture_start(f);
    int fds[5];
    for (int i = 0; i < 5; i++) {
        fds[i] = tcp_connect(f->ports[TRL_LISTEN_TCP]);
        assert_true(fds[i] >= 0);
        usleep(20000);
    }
    assert_true(closed_by_peer(fds[3], 2000));
    assert_true(closed_by_peer(fds[4], 2000));
    assert_false(closed_by_peer(fds[0], 200));
    send_all(fds[0], "<13>still-served\n", 17);
    assert_true(wait_for(f, "still-served"));
    for (int i = 0; i < 5; i++)
        close(fds[i]);
    assert_int_equal(fixture_stop(f), 0);
    assert_non_null(strstr(fixture_log(f), "refused connection peer=127.0.0.1:"));
    assert_non_null(strstr(fixture_log(f), "reason=\"max_connections reached\""));
    fixture_free(f);
}

static void test_server_fails_to_start_on_port_in_use(void **state)
{
    (void)state;
    int busy = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(busy, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(busy, 1), 0);
    socklen_t al = sizeof(a);
    getsockname(busy, (struct sockaddr *)&a, &al);
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(a.sin_port));

    struct fixture *f = fixture_new(0, 0, 0);
    trl_server_opts_add(&f->opts, TRL_LISTEN_TCP, addr);
    assert_int_equal(trl_server_run(&f->opts, f->p, &f->hooks), TRL_ECONFIG);
    assert_non_null(strstr(fixture_log(f), "cannot listen tcp="));
    fixture_free(f);
    close(busy);
}

static void test_server_opts_check_explains_mistakes(void **state)
{
    (void)state;
    struct trl_server_opts o;
    char err[256];
    trl_server_opts_init(&o);
    assert_int_equal(trl_server_opts_check(&o, err, sizeof(err)), TRL_ECONFIG);
    assert_string_equal(err, "no listener configured");

    trl_server_opts_add(&o, TRL_LISTEN_UDP, "::1:514");
    assert_int_equal(trl_server_opts_check(&o, err, sizeof(err)), TRL_ECONFIG);
    assert_non_null(strstr(err, "brackets"));

    trl_server_opts_clear(&o, TRL_LISTEN_UDP);
    trl_server_opts_add(&o, TRL_LISTEN_UDP, "[::1]:514");
    trl_server_opts_add(&o, TRL_LISTEN_TCP, "0.0.0.0:70000");
    assert_int_equal(trl_server_opts_check(&o, err, sizeof(err)), TRL_ECONFIG);
    assert_non_null(strstr(err, "port must be 0..65535"));

    trl_server_opts_clear(&o, TRL_LISTEN_TCP);
    trl_server_opts_add(&o, TRL_LISTEN_TCP, "514");
    trl_server_opts_add(&o, TRL_LISTEN_TCP, "*:601");
    trl_server_opts_add(&o, TRL_LISTEN_TCP, "localhost:602");
    assert_int_equal(trl_server_opts_check(&o, err, sizeof(err)), 0);

    trl_server_opts_add(&o, TRL_LISTEN_TLS, "127.0.0.1:6514");
    assert_int_equal(trl_server_opts_check(&o, err, sizeof(err)), TRL_ECONFIG);
    assert_non_null(strstr(err, "certificate and a key"));
    o.tls_cert = "cert.pem";
    o.tls_key = "key.pem";
    o.tls_client_auth = TRL_CLIENT_AUTH_REQUIRED;
    assert_int_equal(trl_server_opts_check(&o, err, sizeof(err)), TRL_ECONFIG);
    assert_non_null(strstr(err, "CA bundle"));
    o.tls_ca = "ca.pem";
    assert_int_equal(trl_server_opts_check(&o, err, sizeof(err)), 0);

    assert_int_equal(trl_client_auth_parse("optional"), TRL_CLIENT_AUTH_OPTIONAL);
    assert_int_equal(trl_client_auth_parse("maybe"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_opts_check_explains_mistakes),
        cmocka_unit_test(test_server_tcp_backpressure_loses_nothing),
        cmocka_unit_test(test_server_udp_drops_and_counts_under_congestion),
        cmocka_unit_test(test_server_reload_opens_and_closes_listeners),
        cmocka_unit_test(test_server_refuses_connections_past_max),
        cmocka_unit_test(test_server_fails_to_start_on_port_in_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

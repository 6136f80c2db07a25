#include "trl_test.h"

#include "agent/forward.h"
#include "core/buf.h"
#include "formats/parse.h"
#include "formats/syslog_encode.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

/*
 * The agent's forwarders: the encoders (exact output, and read back by Trapline's own parsers),
 * the `forwarders` configuration, and the forwarder itself on a uv loop against sockets opened
 * here on loopback.
 */

/* 2026-11-27T19:28:46.123456789Z */
#define TS_NS 1795807726123456789LL

static struct trl_event *sshd_event(struct trl_arena *a)
{
    static const char line[] =
        "Failed password for invalid user eve from 203.0.113.7 port 40022 ssh2";
    struct trl_event *ev = trl_event_create(a, NULL, 0, TS_NS);
    ev->timestamp_ns = TS_NS;
    trl_event_set_str(ev, TRL_F_MESSAGE, line);
    trl_event_set_str(ev, TRL_F_HOST_NAME, "web01");
    trl_event_set_str(ev, TRL_F_PROCESS_NAME, "sshd");
    trl_event_set_str(ev, TRL_F_PROCESS_PID, "1234");
    trl_event_set_str(ev, TRL_F_EVENT_ACTION, "ssh-login-failed");
    trl_event_set_str(ev, TRL_F_EVENT_OUTCOME, "failure");
    trl_event_add(ev, TRL_F_EVENT_CATEGORY, "authentication", 14);
    trl_event_set_str(ev, TRL_F_SOURCE_IP, "203.0.113.7");
    trl_event_set_str(ev, TRL_F_SOURCE_PORT, "40022");
    trl_event_set_str(ev, TRL_F_USER_NAME, "eve");
    return ev;
}

static const char *encode(struct trl_buf *b, const struct trl_event *ev,
                          enum trl_syslog_encoding enc)
{
    trl_buf_reset(b);
    trl_syslog_encode_event(b, ev, enc, "agenthost", NULL, 0, 0);
    trl_buf_putc(b, '\0');
    return b->data;
}

/* Parses text as Trapline's server would. */
static struct trl_event *reparse(struct trl_arena *a, const char *text)
{
    struct trl_event *ev = trl_event_create(a, text, strlen(text), TS_NS);
    ev->assume_year = 2026;
    trl_parse_event(ev, TRL_FORMAT_AUTO);
    return ev;
}

static void test_rfc5424_encodes_header_sd_and_message(void **state)
{
    (void)state;
    struct trl_arena *a = trl_arena_create(0);
    struct trl_buf b = {0};
    const char *m = encode(&b, sshd_event(a), TRL_ENCODE_RFC5424);
    assert_string_equal(m, "<12>1 2026-11-27T19:28:46.123456Z web01 sshd 1234 ssh-login-failed "
                           "[trapline@32473 action=\"ssh-login-failed\" outcome=\"failure\" "
                           "category=\"authentication\"] Failed password for invalid user eve "
                           "from 203.0.113.7 port 40022 ssh2");
    struct trl_event *back = reparse(a, m);
    assert_field(back, TRL_F_HOST_NAME, "web01");
    assert_field(back, TRL_F_PROCESS_NAME, "sshd");
    assert_field(back, TRL_F_PROCESS_PID, "1234");
    assert_field(back, TRL_F_SOURCE_IP, "203.0.113.7");
    assert_field(back, TRL_F_EVENT_OUTCOME, "failure");
    trl_buf_free(&b);
    trl_arena_destroy(a);
}

static void test_rfc3164_encodes_bsd_header_and_tag(void **state)
{
    (void)state;
    struct trl_arena *a = trl_arena_create(0);
    struct trl_buf b = {0};
    const char *m = encode(&b, sshd_event(a), TRL_ENCODE_RFC3164);
    assert_string_equal(m, "<12>Nov 27 19:28:46 web01 sshd[1234]: Failed password for invalid "
                           "user eve from 203.0.113.7 port 40022 ssh2");
    struct trl_event *back = reparse(a, m);
    assert_field(back, TRL_F_HOST_NAME, "web01");
    assert_field(back, TRL_F_PROCESS_NAME, "sshd");
    assert_field(back, TRL_F_USER_NAME, "eve");
    trl_buf_free(&b);
    trl_arena_destroy(a);
}

static void test_cef_encodes_header_and_mapped_extensions(void **state)
{
    (void)state;
    struct trl_arena *a = trl_arena_create(0);
    struct trl_buf b = {0};
    const char *m = encode(&b, sshd_event(a), TRL_ENCODE_CEF);
    assert_string_equal(
        m, "<12>Nov 27 19:28:46 web01 CEF:0|Trapline|Trapline Agent|" TRL_VERSION
           "|ssh-login-failed|Failed password for invalid user eve from 203.0.113.7 port 40022 "
           "ssh2|6|rt=1795807726123 dvchost=web01 src=203.0.113.7 spt=40022 suser=eve "
           "act=ssh-login-failed outcome=failure sproc=sshd spid=1234 msg=Failed password for "
           "invalid user eve from 203.0.113.7 port 40022 ssh2");
    struct trl_event *back = reparse(a, m);
    assert_field(back, TRL_F_SOURCE_IP, "203.0.113.7");
    assert_field(back, TRL_F_SOURCE_PORT, "40022");
    assert_field(back, TRL_F_OBSERVER_VENDOR, "Trapline");
    trl_buf_free(&b);
    trl_arena_destroy(a);
}

static void test_snare_encodes_epilog_columns(void **state)
{
    (void)state;
    struct trl_arena *a = trl_arena_create(0);
    struct trl_buf b = {0};
    struct trl_event *ev = sshd_event(a);
    trl_event_set_str(ev, TRL_F_MESSAGE, "a\ttab and a\nline break");
    const char *m = encode(&b, ev, TRL_ENCODE_SNARE);
    assert_string_equal(m,
                        "<12>Nov 27 19:28:46 web01 web01\tGenericLog\t3\ta tab and a line break");
    struct trl_event *back = reparse(a, m);
    assert_field(back, TRL_F_MESSAGE, "a tab and a line break");
    trl_buf_free(&b);
    trl_arena_destroy(a);
}

static void test_json_is_the_ecs_document(void **state)
{
    (void)state;
    struct trl_arena *a = trl_arena_create(0);
    struct trl_buf b = {0};
    const char *m = encode(&b, sshd_event(a), TRL_ENCODE_JSON);
    assert_non_null(strstr(m, "\"source\":{\"ip\":\"203.0.113.7\",\"port\":40022}"));
    assert_null(strchr(m, '\n'));
    trl_buf_reset(&b);
    trl_syslog_encode_event(&b, sshd_event(a), TRL_ENCODE_JSON, "h", "{\"x\":1}", 7, 0);
    assert_int_equal(b.len, 7);
    trl_buf_free(&b);
    trl_arena_destroy(a);
}

static void test_escapes_hostile_values(void **state)
{
    (void)state;
    struct trl_arena *a = trl_arena_create(0);
    struct trl_buf b = {0};
    struct trl_event *ev = trl_event_create(a, NULL, 0, TS_NS);
    ev->timestamp_ns = TS_NS;
    trl_event_set_str(ev, TRL_F_HOST_NAME, "bad host");
    trl_event_set_str(ev, TRL_F_PROCESS_NAME, "p|x=y");
    trl_event_set_str(ev, TRL_F_EVENT_ACTION, "a\"b]c\\d");
    trl_event_set_str(ev, TRL_F_MESSAGE, "m=1|2\\3\r\n");
    const char *m = encode(&b, ev, TRL_ENCODE_RFC5424);
    assert_string_equal(m, "<13>1 2026-11-27T19:28:46.123456Z bad_host p|x=y - a\"b]c\\d "
                           "[trapline@32473 action=\"a\\\"b\\]c\\\\d\"] m=1|2\\3  ");
    m = encode(&b, ev, TRL_ENCODE_CEF);
    assert_non_null(strstr(m, "CEF:0|Trapline|Trapline Agent|" TRL_VERSION "|a\"b]c\\\\d|m=1\\|2"
                              "\\\\3  |3|"));
    assert_non_null(strstr(m, " sproc=p|x\\=y "));
    assert_non_null(strstr(m, " msg=m\\=1|2\\\\3\\r\\n"));
    m = encode(&b, ev, TRL_ENCODE_RFC3164);
    assert_string_equal(m, "<13>Nov 27 19:28:46 bad_host p_x_y: m=1|2\\3  ");
    trl_buf_free(&b);
    trl_arena_destroy(a);
}

static void test_event_without_text_carries_its_json(void **state)
{
    (void)state;
    struct trl_arena *a = trl_arena_create(0);
    struct trl_buf b = {0};
    struct trl_event *ev = trl_event_create(a, NULL, 0, TS_NS);
    ev->timestamp_ns = TS_NS;
    trl_event_set_str(ev, TRL_F_EVENT_ACTION, "file-created");
    trl_event_set_str(ev, TRL_F_FILE_PATH, "/etc/x");
    const char *m = encode(&b, ev, TRL_ENCODE_RFC3164);
    assert_non_null(strstr(m, " agenthost trapline-agent: {"));
    assert_non_null(strstr(m, "\"path\":\"/etc/x\""));
    trl_buf_free(&b);
    trl_arena_destroy(a);
}

/* ---- configuration ---- */

static void test_config_reads_forwarders_and_blanks_them(void **state)
{
    (void)state;
    char yaml[] = "server: 127.0.0.1:6515\n"
                  "forwarders:\n"
                  "  - address: 10.0.0.5:514\n"
                  "  - name: siem\n"
                  "    address: \"[::1]:6514\"\n"
                  "    transport: tls\n"
                  "    format: cef\n"
                  "    queue_size: 20\n"
                  "    tls: {ca: /etc/ca.pem, cert: /c.pem, key: /k.pem}\n"
                  "  - address: logs:5000\n"
                  "    transport: tcp\n"
                  "    format: json\n"
                  "heartbeat: 5s\n";
    struct trl_forward_config *f;
    size_t n;
    char err[512];
    assert_int_equal(
        trl_forward_config_extract("a.yml", yaml, strlen(yaml), &f, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 3);
    assert_string_equal(f[0].name, "10.0.0.5:514");
    assert_int_equal(f[0].transport, TRL_FWD_UDP);
    assert_int_equal(f[0].format, TRL_ENCODE_RFC5424);
    assert_int_equal(f[0].framing, TRL_FWD_OCTET_COUNTING);
    assert_string_equal(f[1].host, "::1");
    assert_int_equal(f[1].port, 6514);
    assert_int_equal(f[1].transport, TRL_FWD_TLS);
    assert_int_equal(f[1].format, TRL_ENCODE_CEF);
    assert_int_equal(f[1].queue_size, 20);
    assert_string_equal(f[1].tls_ca, "/etc/ca.pem");
    assert_string_equal(f[1].tls_key, "/k.pem");
    assert_int_equal(f[2].framing, TRL_FWD_LF); /* the default for JSON */
    /* The rest keeps its lines: "heartbeat" is still on line 13. */
    assert_non_null(strstr(yaml, "server: 127.0.0.1:6515\n"));
    assert_null(strstr(yaml, "forwarders"));
    assert_null(strstr(yaml, "siem"));
    int line = 1;
    for (const char *p = yaml; p < strstr(yaml, "heartbeat"); p++)
        line += *p == '\n';
    assert_int_equal(line, 13);
    trl_forward_config_free(f, n);
}

static void test_config_without_forwarders_is_untouched(void **state)
{
    (void)state;
    char yaml[] = "tail: [/var/log/a.log]\n";
    struct trl_forward_config *f;
    size_t n;
    char err[256];
    assert_int_equal(
        trl_forward_config_extract("a.yml", yaml, strlen(yaml), &f, &n, err, sizeof(err)), 0);
    assert_null(f);
    assert_int_equal(n, 0);
    assert_string_equal(yaml, "tail: [/var/log/a.log]\n");
}

static void expect_config_error(const char *text, const char *want)
{
    char *yaml = strdup(text);
    struct trl_forward_config *f = NULL;
    size_t n = 0;
    char err[512] = "";
    assert_int_equal(
        trl_forward_config_extract("a.yml", yaml, strlen(yaml), &f, &n, err, sizeof(err)),
        TRL_ECONFIG);
    bool ok = strstr(err, want) != NULL;
    free(yaml);
    if (!ok)
        fail_msg("error \"%s\" does not say \"%s\"", err, want);
    assert_null(f);
}

static void test_config_rejects_bad_forwarders(void **state)
{
    (void)state;
    expect_config_error("forwarders: 514\n", "a.yml:1: forwarders: expected a list");
    expect_config_error("forwarders:\n  - transport: tcp\n", "address is required");
    expect_config_error("forwarders:\n  - address: h:1\n    transport: sctp\n",
                        "transport: expected one of udp, tcp, tls, got \"sctp\"");
    expect_config_error("forwarders:\n  - address: h:1\n    format: gelf\n",
                        "format: expected one of rfc5424, rfc3164, snare, cef, json");
    expect_config_error("forwarders:\n  - address: h\n", "address: expected HOST:PORT");
    expect_config_error("forwarders:\n  - address: h:1\n    tls: {ca: /x}\n",
                        "tls settings need transport: tls");
    expect_config_error("forwarders:\n  - address: h:1\n    colour: red\n",
                        "unknown key \"colour\"");
    expect_config_error("forwarders:\n  - address: h:1\n    queue_size: 0\n", "queue_size");
}

/* ---- the forwarder on a loop ---- */

static uv_loop_t *loop_new(void)
{
    uv_loop_t *l = malloc(sizeof(*l));
    assert_int_equal(uv_loop_init(l), 0);
    return l;
}

static void loop_free(uv_loop_t *l)
{
    uv_run(l, UV_RUN_DEFAULT); /* closes what the forwarder closed */
    assert_int_equal(uv_loop_close(l), 0);
    free(l);
}

/* Runs the loop until cond(ud) or 5 s. */
static bool run_until(uv_loop_t *l, bool (*cond)(void *), void *ud)
{
    for (int i = 0; i < 500; i++) {
        uv_run(l, UV_RUN_NOWAIT);
        if (cond(ud))
            return true;
        usleep(10000);
    }
    return false;
}

struct tcp_peer {
    int lfd, cfd;
    char buf[8192];
    size_t len;
};

static bool tcp_got(void *ud)
{
    struct tcp_peer *p = ud;
    if (p->cfd < 0) {
        p->cfd = accept(p->lfd, NULL, NULL);
        if (p->cfd < 0)
            return false;
    }
    struct pollfd pf = {.fd = p->cfd, .events = POLLIN};
    while (poll(&pf, 1, 0) == 1 && p->len < sizeof(p->buf)) {
        ssize_t n = recv(p->cfd, p->buf + p->len, sizeof(p->buf) - p->len, 0);
        if (n <= 0)
            break;
        p->len += (size_t)n;
    }
    return p->len >= 25;
}

static int listen_loopback(int type, uint16_t *port)
{
    int fd = socket(AF_INET, type | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t sl = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    if (type == SOCK_STREAM)
        listen(fd, 4);
    *port = ntohs(sa.sin_port);
    return fd;
}

static void test_tcp_forwarder_sends_octet_counted_frames(void **state)
{
    (void)state;
    uint16_t port;
    struct tcp_peer p = {.cfd = -1};
    p.lfd = listen_loopback(SOCK_STREAM, &port);
    uv_loop_t *l = loop_new();
    struct trl_forward_config c = {.name = "t",
                                   .host = "127.0.0.1",
                                   .port = port,
                                   .transport = TRL_FWD_TCP,
                                   .framing = TRL_FWD_OCTET_COUNTING};
    struct trl_forwarder *f;
    assert_int_equal(trl_forwarder_create(l, &c, NULL, &f), 0);
    trl_forwarder_push(f, "<13>1 - a", 9);
    trl_forwarder_push(f, "hello world", 11);
    assert_true(run_until(l, tcp_got, &p));
    assert_int_equal(p.len, 25);
    assert_memory_equal(p.buf, "9 <13>1 - a11 hello world", 25);
    struct trl_forward_stats st;
    trl_forwarder_stats(f, &st);
    assert_true(st.connected);
    assert_int_equal(st.sent, 2);
    assert_int_equal(st.dropped, 0);
    trl_forwarder_destroy(f);
    loop_free(l);
    close(p.cfd);
    close(p.lfd);
}

static void test_udp_forwarder_sends_one_datagram_per_message(void **state)
{
    (void)state;
    uint16_t port;
    int fd = listen_loopback(SOCK_DGRAM, &port);
    uv_loop_t *l = loop_new();
    struct trl_forward_config c = {.name = "u", .host = "127.0.0.1", .port = port};
    struct trl_forwarder *f;
    assert_int_equal(trl_forwarder_create(l, &c, NULL, &f), 0);
    trl_forwarder_push(f, "first", 5);
    trl_forwarder_push(f, "second", 6);
    char buf[64];
    ssize_t n = -1;
    for (int i = 0; i < 500 && n < 0; i++) {
        uv_run(l, UV_RUN_NOWAIT);
        n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0)
            usleep(10000);
    }
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "first", 5);
    for (int i = 0; i < 100 && (n = recv(fd, buf, sizeof(buf), 0)) < 0; i++)
        usleep(10000);
    assert_int_equal(n, 6);
    trl_forwarder_destroy(f);
    loop_free(l);
    close(fd);
}

static bool reconnected(struct trl_forwarder *f)
{
    struct trl_forward_stats st;
    trl_forwarder_stats(f, &st);
    return st.reconnects >= 2 && st.connected;
}

static int listen_on(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(port)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    listen(fd, 4);
    return fd;
}

static void test_tcp_forwarder_reconnects_after_the_collector_restarts(void **state)
{
    (void)state;
    uint16_t port;
    int probe = listen_loopback(SOCK_STREAM, &port);
    close(probe);
    struct tcp_peer p = {.cfd = -1};
    p.lfd = listen_on(port);
    uv_loop_t *l = loop_new();
    struct trl_forward_config c = {.name = "r",
                                   .host = "127.0.0.1",
                                   .port = port,
                                   .transport = TRL_FWD_TCP,
                                   .framing = TRL_FWD_LF};
    struct trl_forwarder *f;
    assert_int_equal(trl_forwarder_create(l, &c, NULL, &f), 0);
    trl_forwarder_push(f, "before the restart......", 24); /* 25 bytes with its LF */
    assert_true(run_until(l, tcp_got, &p));
    /* The collector goes away and comes back on the same port. */
    close(p.cfd);
    close(p.lfd);
    struct tcp_peer q = {.cfd = -1};
    q.lfd = listen_on(port);
    for (int i = 0; i < 500 && !reconnected(f); i++) {
        uv_run(l, UV_RUN_NOWAIT);
        if (q.cfd < 0)
            q.cfd = accept(q.lfd, NULL, NULL);
        usleep(10000);
    }
    assert_true(reconnected(f));
    trl_forwarder_push(f, "after the restart.......", 24);
    assert_true(run_until(l, tcp_got, &q));
    assert_memory_equal(q.buf, "after the restart.......\n", 25);
    trl_forwarder_destroy(f);
    loop_free(l);
    close(q.cfd);
    close(q.lfd);
}

static bool attempted(void *ud)
{
    struct trl_forward_stats st;
    trl_forwarder_stats(ud, &st);
    return st.dropped > 0 && !st.connected;
}

static void test_dead_collector_drops_beyond_its_queue(void **state)
{
    (void)state;
    uint16_t port;
    int fd = listen_loopback(SOCK_STREAM, &port);
    close(fd); /* nobody listens there now */
    uv_loop_t *l = loop_new();
    struct trl_forward_config c = {
        .name = "d", .host = "127.0.0.1", .port = port, .transport = TRL_FWD_TCP, .queue_size = 5};
    struct trl_forwarder *f;
    assert_int_equal(trl_forwarder_create(l, &c, NULL, &f), 0);
    for (int i = 0; i < 20; i++)
        trl_forwarder_push(f, "message", 7);
    assert_true(run_until(l, attempted, f));
    struct trl_forward_stats st;
    trl_forwarder_stats(f, &st);
    assert_int_equal(st.queued, 5);
    assert_int_equal(st.dropped, 15);
    assert_int_equal(st.sent, 0);
    trl_forwarder_destroy(f);
    loop_free(l);
}

static void test_tls_context_needs_a_readable_ca(void **state)
{
    (void)state;
    struct trl_forward_config c = {.name = "s",
                                   .host = "h",
                                   .port = 1,
                                   .transport = TRL_FWD_TLS,
                                   .tls_ca = "/nonexistent/ca.pem"};
    SSL_CTX *ctx = NULL;
    char err[300];
    assert_int_equal(trl_forward_ssl_ctx(&c, &ctx, err, sizeof(err)), TRL_ECONFIG);
    assert_null(ctx);
    assert_non_null(strstr(err, "forwarder s: cannot load the CA file"));
    c.tls_ca = NULL;
    assert_int_equal(trl_forward_ssl_ctx(&c, &ctx, err, sizeof(err)), 0);
    assert_non_null(ctx);
    SSL_CTX_free(ctx);
    c.transport = TRL_FWD_UDP;
    assert_int_equal(trl_forward_ssl_ctx(&c, &ctx, err, sizeof(err)), 0);
    assert_null(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5424_encodes_header_sd_and_message),
        cmocka_unit_test(test_rfc3164_encodes_bsd_header_and_tag),
        cmocka_unit_test(test_cef_encodes_header_and_mapped_extensions),
        cmocka_unit_test(test_snare_encodes_epilog_columns),
        cmocka_unit_test(test_json_is_the_ecs_document),
        cmocka_unit_test(test_escapes_hostile_values),
        cmocka_unit_test(test_event_without_text_carries_its_json),
        cmocka_unit_test(test_config_reads_forwarders_and_blanks_them),
        cmocka_unit_test(test_config_without_forwarders_is_untouched),
        cmocka_unit_test(test_config_rejects_bad_forwarders),
        cmocka_unit_test(test_tcp_forwarder_sends_octet_counted_frames),
        cmocka_unit_test(test_udp_forwarder_sends_one_datagram_per_message),
        cmocka_unit_test(test_tcp_forwarder_reconnects_after_the_collector_restarts),
        cmocka_unit_test(test_dead_collector_drops_beyond_its_queue),
        cmocka_unit_test(test_tls_context_needs_a_readable_ca),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

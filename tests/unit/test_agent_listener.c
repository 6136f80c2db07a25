#include "trl_test.h"

#include "test_agent_util.h"

#include "agent/proto.h"
#include "agent/tlsio.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "formats/parse.h"
#include "server/agent_listener.h"
#include "server/agent_registry.h"
#include "server/pipeline.h"
#include "server/pki.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/socket.h>

#define AGENT_ID "agt-00112233aabbccdd"

struct fixture {
    char *dir;
    struct trl_pki_paths pki;
    struct trl_pipeline *p;
    struct trl_agent_listener *l;
    struct trl_agent_registry *reg;
    int port;
    char out[4200];
    char crt[4200];
    char key[4200];
    atomic_int expired; /* actions reported expired by the listener */
    char expired_json[256];
};

static void on_action_expired(void *ud, const char *agent_id, const char *json, size_t len)
{
    struct fixture *f = ud;
    /* On the listener's thread: only recorded here, checked by the test. */
    snprintf(f->expired_json, sizeof(f->expired_json), "%s %.*s", agent_id, (int)len, json);
    atomic_fetch_add(&f->expired, 1);
}

/* A client certificate for cn, signed by the server's CA. */
static void issue_cert(const struct trl_pki_paths *pki, const char *cn, const char *crt_path,
                       const char *key_path)
{
    FILE *f = fopen(pki->ca_cert, "r");
    assert_non_null(f);
    X509 *ca = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    f = fopen(pki->ca_key, "r");
    assert_non_null(f);
    EVP_PKEY *cakey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(ca);
    assert_non_null(cakey);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 77);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(ca));
    assert_true(X509_sign(x, cakey, EVP_sha256()) > 0);
    f = fopen(crt_path, "w");
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(key_path, "w");
    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    X509_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(cakey);
}

static int setup(void **state)
{
    trl_log_set_level(TRL_LOG_ERROR);
    struct fixture *f = calloc(1, sizeof(*f));
    f->dir = agent_test_mkdtemp();
    assert_int_equal(trl_pki_ensure(f->dir, &f->pki), 0);
    snprintf(f->out, sizeof(f->out), "%s/out.jsonl", f->dir);
    snprintf(f->crt, sizeof(f->crt), "%s/agent.crt", f->dir);
    snprintf(f->key, sizeof(f->key), "%s/agent.key", f->dir);
    issue_cert(&f->pki, AGENT_ID, f->crt, f->key);

    f->reg = trl_agent_registry_open(f->dir);
    assert_non_null(f->reg);
    unsigned char hash[TRL_TOKEN_HASH_LEN] = {1, 2, 3};
    int64_t now = time(NULL);
    assert_int_equal(trl_agent_registry_token_add(f->reg, "tok1", hash, now + 3600), 0);
    struct trl_agent_enrollment e = {.id = AGENT_ID,
                                     .hostname = "web01",
                                     .version = "0.1.0",
                                     .cert_serial = "4d",
                                     .cert_fingerprint = ""};
    assert_int_equal(trl_agent_registry_enroll(f->reg, "tok1", hash, now, &e), 0);

    struct trl_pipeline_config pc = {
        .format = TRL_FORMAT_AUTO,
        .encode_json = true,
        .sink = trl_sink_jsonl_create(f->out),
    };
    f->p = trl_pipeline_create(&pc);
    assert_non_null(f->p);
    struct trl_agent_listener_opts o = {.address = "127.0.0.1:0",
                                        .data_dir = f->dir,
                                        .pki = &f->pki,
                                        .pipeline = f->p,
                                        .action_expired = on_action_expired,
                                        .action_ud = f};
    assert_int_equal(trl_agent_listener_start(&o, &f->l), 0);
    const char *addr = trl_agent_listener_address(f->l);
    f->port = atoi(strrchr(addr, ':') + 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    trl_agent_listener_stop(f->l);
    trl_pipeline_destroy(f->p);
    trl_agent_registry_close(f->reg);
    agent_test_rmdir(f->dir);
    free(f);
    return 0;
}

/* ---- a blocking test client ------------------------------------------------------------------ */

struct client {
    int fd;
    SSL_CTX *ctx;
    struct trl_tlsio *t;
    struct trl_proto_reader rd;
    struct trl_buf out;
};

static void client_open(struct client *c, const struct fixture *f, bool with_cert)
{
    memset(c, 0, sizeof(*c));
    char err[300];
    c->ctx = trl_tlsio_client_ctx(f->pki.ca_cert, with_cert ? f->crt : NULL,
                                  with_cert ? f->key : NULL, err, sizeof(err));
    assert_non_null(c->ctx);
    c->t = trl_tlsio_create(c->ctx, false, "127.0.0.1");
    trl_proto_reader_init(&c->rd);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

static void client_close(struct client *c)
{
    close(c->fd);
    trl_tlsio_destroy(c->t);
    SSL_CTX_free(c->ctx);
    trl_proto_reader_free(&c->rd);
    trl_buf_free(&c->out);
}

static void client_flush(struct client *c)
{
    trl_buf_reset(&c->out);
    trl_tlsio_take_output(c->t, &c->out);
    if (c->out.len)
        assert_int_equal(send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL), (ssize_t)c->out.len);
}

static void client_send(struct client *c, const struct trl_buf *frame)
{
    assert_int_equal(trl_tlsio_write(c->t, frame->data, frame->len), 0);
    client_flush(c);
}

/* The next frame from the server within timeout_ms: 1, 0 on timeout, -1 once closed. */
static int client_recv(struct client *c, struct trl_proto_frame *f, int timeout_ms)
{
    int64_t until = trl_mono_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        if (trl_proto_reader_next(&c->rd, f) == 1)
            return 1;
        char plain[16384];
        int n;
        while ((n = trl_tlsio_read(c->t, plain, sizeof(plain))) > 0) {
            trl_proto_reader_feed(&c->rd, plain, (size_t)n);
            if (trl_proto_reader_next(&c->rd, f) == 1) {
                client_flush(c);
                return 1;
            }
        }
        client_flush(c);
        if (n < 0)
            return -1;
        int left = (int)((until - trl_mono_ns()) / 1000000);
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (poll(&pfd, 1, left) <= 0)
            return 0;
        char buf[65536];
        ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
        if (r <= 0)
            return -1;
        trl_tlsio_feed(c->t, buf, (size_t)r);
    }
}

static uint64_t expect_ack(struct client *c)
{
    struct trl_proto_frame f;
    assert_int_equal(client_recv(c, &f, 5000), 1);
    assert_int_equal(f.type, TRL_PROTO_ACK);
    uint64_t seq = 0;
    assert_int_equal(trl_proto_parse_ack(&f, &seq), 0);
    return seq;
}

static uint16_t expect_error(struct client *c, int timeout_ms)
{
    struct trl_proto_frame f;
    assert_int_equal(client_recv(c, &f, timeout_ms), 1);
    assert_int_equal(f.type, TRL_PROTO_ERROR);
    struct trl_proto_error e;
    assert_int_equal(trl_proto_parse_error(&f, &e), 0);
    return e.code;
}

static void send_hello(struct client *c)
{
    struct trl_proto_hello h = {.proto = TRL_PROTO_VERSION};
    snprintf(h.agent_id, sizeof(h.agent_id), "someone-else");
    snprintf(h.version, sizeof(h.version), "0.1.0");
    snprintf(h.hostname, sizeof(h.hostname), "web01");
    struct trl_buf b = {0};
    trl_proto_put_hello(&b, &h);
    client_send(c, &b);
    trl_buf_free(&b);
}

static void send_batch(struct client *c, uint64_t first, uint32_t count, const char *raw)
{
    struct trl_buf b = {0};
    assert_int_equal(trl_proto_put_batch(&b, first, count, raw, strlen(raw), 1), 0);
    client_send(c, &b);
    trl_buf_free(&b);
}

static size_t count_lines(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[65536];
    size_t n = 0;
    while (fgets(line, sizeof(line), f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* ---- tests ------------------------------------------------------------------------------------
 */

static const char events_1_3[] =
    "{\"@timestamp\":\"2026-11-27T10:00:01Z\",\"message\":\"first tok-a1\"}\n"
    "{\"@timestamp\":\"2026-11-27T10:00:02Z\",\"message\":\"second tok-a2\","
    "\"agent\":{\"id\":\"forged\"}}\n"
    "{\"@timestamp\":\"2026-11-27T10:00:03Z\",\"message\":\"third tok-a3\"}\n";

static void test_listener_acks_after_commit_and_drops_resent_events(void **state)
{
    struct fixture *f = *state;
    struct client c;
    client_open(&c, f, true);
    send_hello(&c);
    assert_true(expect_ack(&c) == 0);
    send_batch(&c, 1, 3, events_1_3);
    assert_true(expect_ack(&c) == 3);
    /* Acknowledged means written: the sink holds the three events, with the certificate's id
     * (not the one the second event claimed). */
    assert_int_equal(count_lines(f->out, "tok-a"), 3);
    assert_int_equal(count_lines(f->out, "\"agent\":{\"id\":\"" AGENT_ID "\""), 3);
    assert_int_equal(count_lines(f->out, "\"id\":\"forged\""), 0);
    assert_int_equal(count_lines(f->out, "\"sequence\":2"), 1);
    uint64_t last = 0;
    assert_int_equal(trl_agent_registry_last_seq(f->reg, AGENT_ID, &last), 0);
    assert_true(last == 3);

    /* A resend after a reconnect (2..4): 2 and 3 are dropped, 4 is new. */
    client_close(&c);
    client_open(&c, f, true);
    send_hello(&c);
    assert_true(expect_ack(&c) == 3);
    send_batch(&c, 2, 3,
               "{\"message\":\"second tok-a2\"}\n{\"message\":\"third tok-a3\"}\n"
               "{\"message\":\"fourth tok-a4\"}\n");
    assert_true(expect_ack(&c) == 4);
    assert_int_equal(count_lines(f->out, "tok-a"), 4);
    /* Entirely old: acknowledged at once, nothing stored. */
    send_batch(&c, 1, 1, "{\"message\":\"first tok-a1\"}\n");
    assert_true(expect_ack(&c) == 4);
    trl_pipeline_sync(f->p);
    assert_int_equal(count_lines(f->out, "tok-a"), 4);
    client_close(&c);
}

/* BATCH frames that arrive together reach the store as one batch: one commit, one ACK for the
 * last event of the two. */
static void test_listener_stores_frames_read_together_as_one_batch(void **state)
{
    struct fixture *f = *state;
    struct client c;
    client_open(&c, f, true);
    send_hello(&c);
    assert_true(expect_ack(&c) == 0);
    struct trl_buf both = {0};
    assert_int_equal(trl_proto_put_batch(&both, 1, 3, events_1_3, strlen(events_1_3), 1), 0);
    static const char events_4_5[] = "{\"message\":\"fourth tok-b4\"}\n"
                                     "{\"message\":\"fifth tok-b5\"}\n";
    assert_int_equal(trl_proto_put_batch(&both, 4, 2, events_4_5, strlen(events_4_5), 1), 0);
    client_send(&c, &both);
    trl_buf_free(&both);
    assert_true(expect_ack(&c) == 5);
    assert_int_equal(count_lines(f->out, "tok-a"), 3);
    assert_int_equal(count_lines(f->out, "tok-b"), 2);
    assert_int_equal(count_lines(f->out, "\"sequence\":5"), 1);
    uint64_t last = 0;
    assert_int_equal(trl_agent_registry_last_seq(f->reg, AGENT_ID, &last), 0);
    assert_true(last == 5);
    client_close(&c);
}

static void test_listener_refuses_data_without_client_cert(void **state)
{
    struct fixture *f = *state;
    struct client c;
    client_open(&c, f, false);
    send_hello(&c);
    assert_int_equal(expect_error(&c, 5000), TRL_PROTO_ERR_NOT_ALLOWED);
    client_close(&c);

    client_open(&c, f, false);
    send_batch(&c, 1, 1, "{\"message\":\"sneaky\"}\n");
    assert_int_equal(expect_error(&c, 5000), TRL_PROTO_ERR_NOT_ALLOWED);
    client_close(&c);
    trl_pipeline_sync(f->p);
    assert_int_equal(count_lines(f->out, "sneaky"), 0);
}

static void test_listener_closes_on_garbage_and_oversize_frames(void **state)
{
    struct fixture *f = *state;
    struct client c;
    client_open(&c, f, true);
    send_hello(&c);
    assert_true(expect_ack(&c) == 0);
    struct trl_buf b = {0};
    trl_buf_append(&b, "\0\0\0\x02\x63xx", 7); /* type 99 */
    client_send(&c, &b);
    assert_int_equal(expect_error(&c, 5000), TRL_PROTO_ERR_MALFORMED);
    struct trl_proto_frame fr;
    assert_int_equal(client_recv(&c, &fr, 5000), -1);
    client_close(&c);

    client_open(&c, f, true);
    send_hello(&c);
    assert_true(expect_ack(&c) == 0);
    trl_buf_reset(&b);
    trl_buf_append(&b, "\x7f\0\0\0\x02", 5); /* 2 GiB */
    client_send(&c, &b);
    assert_int_equal(expect_error(&c, 5000), TRL_PROTO_ERR_TOO_LARGE);
    client_close(&c);

    /* A batch whose zstd frame is garbage. */
    client_open(&c, f, true);
    send_hello(&c);
    assert_true(expect_ack(&c) == 0);
    trl_buf_reset(&b);
    trl_buf_append(&b, "\0\0\0\x19\x02\0\0\0\0\0\0\0\x01\0\0\0\x01\0\0\0\x05garbage!", 29);
    client_send(&c, &b);
    assert_int_equal(expect_error(&c, 5000), TRL_PROTO_ERR_MALFORMED);
    client_close(&c);
    trl_buf_free(&b);

    /* Not TLS at all. */
    client_open(&c, f, true);
    assert_int_equal(send(c.fd, "hello\r\n", 7, MSG_NOSIGNAL), 7);
    char buf[256];
    struct pollfd pfd = {.fd = c.fd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    while (recv(c.fd, buf, sizeof(buf), 0) > 0)
        ;
    client_close(&c);
}

static void test_listener_disconnects_revoked_agent(void **state)
{
    struct fixture *f = *state;
    struct client c;
    client_open(&c, f, true);
    send_hello(&c);
    assert_true(expect_ack(&c) == 0);
    assert_int_equal(trl_agent_registry_revoke(f->reg, AGENT_ID), 0);
    /* Within the registry's cache period and the listener's one-second check. */
    assert_int_equal(expect_error(&c, 5000), TRL_PROTO_ERR_REVOKED);
    client_close(&c);

    client_open(&c, f, true);
    send_hello(&c);
    assert_int_equal(expect_error(&c, 5000), TRL_PROTO_ERR_REVOKED);
    client_close(&c);
}

static const char block_req[] =
    "{\"action\":\"block-ip\",\"ip\":\"203.0.113.45\",\"timeout\":600,\"rule_id\":\"r1\"}";

static uint64_t expect_action(struct client *c, const char *json)
{
    struct trl_proto_frame f;
    assert_int_equal(client_recv(c, &f, 5000), 1);
    assert_int_equal(f.type, TRL_PROTO_ACTION);
    struct trl_proto_action a;
    assert_int_equal(trl_proto_parse_action(&f, &a), 0);
    assert_int_equal(a.len, strlen(json));
    assert_memory_equal(a.json, json, a.len);
    return a.id;
}

static void send_hello_version(struct client *c, uint16_t proto)
{
    struct trl_proto_hello h = {.proto = proto};
    snprintf(h.version, sizeof(h.version), "0.1.0");
    snprintf(h.hostname, sizeof(h.hostname), "web01");
    struct trl_buf b = {0};
    trl_proto_put_hello(&b, &h);
    client_send(c, &b);
    trl_buf_free(&b);
}

static void test_listener_sends_queued_action_when_agent_connects(void **state)
{
    struct fixture *f = *state;
    int64_t later = trl_now_ns() + 60 * TRL_NS_PER_SEC;
    /* Decided while the agent is away: kept until it connects. */
    assert_int_equal(trl_agent_listener_action(f->l, AGENT_ID, block_req, strlen(block_req), later),
                     0);
    struct client c;
    client_open(&c, f, true);
    send_hello(&c);
    assert_true(expect_ack(&c) == 0);
    uint64_t id = expect_action(&c, block_req);
    assert_true(id > 0);
    struct trl_proto_action_result r = {.id = id, .outcome = TRL_PROTO_OUTCOME_SUCCESS};
    snprintf(r.action, sizeof(r.action), "ip-blocked");
    struct trl_buf b = {0};
    trl_proto_put_action_result(&b, &r);
    client_send(&c, &b);
    trl_buf_free(&b);
    /* Decided while it is connected: sent at once, with a new id. */
    static const char kill_req[] = "{\"action\":\"kill-process\",\"pid\":4242,\"rule_id\":\"r2\"}";
    assert_int_equal(trl_agent_listener_action(f->l, AGENT_ID, kill_req, strlen(kill_req), later),
                     0);
    assert_true(expect_action(&c, kill_req) > id);
    /* The connection stays usable after the result. */
    send_batch(&c, 1, 3, events_1_3);
    assert_true(expect_ack(&c) == 3);
    client_close(&c);
}

static void test_listener_holds_actions_for_old_agents_and_drops_expired(void **state)
{
    struct fixture *f = *state;
    int64_t now = trl_now_ns();
    assert_int_equal(trl_agent_listener_action(f->l, AGENT_ID, block_req, strlen(block_req),
                                               now + 60 * TRL_NS_PER_SEC),
                     0);
    assert_int_equal(trl_agent_listener_action(f->l, "bad id!", block_req, strlen(block_req),
                                               now + 60 * TRL_NS_PER_SEC),
                     TRL_EINVAL);
    /* An agent of protocol 1 knows no ACTION: nothing is sent to it. */
    struct client c;
    client_open(&c, f, true);
    send_hello_version(&c, 1);
    assert_true(expect_ack(&c) == 0);
    struct trl_proto_frame fr;
    assert_int_equal(client_recv(&c, &fr, 300), 0);
    client_close(&c);
    /* The same agent updated: the kept action comes; one that expired meanwhile does not. */
    assert_int_equal(trl_agent_listener_action(f->l, AGENT_ID, "{\"x\":1}", 7, trl_now_ns() - 1),
                     0);
    client_open(&c, f, true);
    send_hello(&c);
    assert_true(expect_ack(&c) == 0);
    expect_action(&c, block_req);
    assert_int_equal(client_recv(&c, &fr, 300), 0);
    /* The expired one was reported, to be recorded as a failed action. */
    assert_int_equal(atomic_load(&f->expired), 1);
    assert_string_equal(f->expired_json, AGENT_ID " {\"x\":1}");
    client_close(&c);
}

/* A stop between the store's commit and the record of it (commit_seq) leaves the batch in the
 * store with the registry one batch behind: at the agent's first HELLO the listener finds those
 * events in the store (in the pending batch's time range) and drops their resend. */
static void test_listener_finds_a_batch_stored_before_a_crash(void **state)
{
    struct fixture *f = *state;
    static const char *const lines[] = {
        "{\"@timestamp\":\"2026-11-27T10:00:04Z\",\"message\":\"tok-r4\",\"agent\":{\"id\":"
        "\"" AGENT_ID "\"},\"event\":{\"sequence\":4}}",
        "{\"@timestamp\":\"2026-11-27T10:00:05Z\",\"message\":\"tok-r5\",\"agent\":{\"id\":"
        "\"" AGENT_ID "\"},\"event\":{\"sequence\":5}}"};
    struct trl_store *st;
    assert_int_equal(trl_store_open(f->dir, NULL, &st), 0);
    struct trl_arena *a = trl_arena_create(0);
    struct trl_event *ev[2];
    for (int i = 0; i < 2; i++) {
        ev[i] = trl_event_create(a, lines[i], strlen(lines[i]), trl_now_ns());
        trl_parse_agent_event(ev[i]);
    }
    assert_int_equal(trl_store_append(st, ev, 2), 0);
    trl_store_close(st);
    trl_arena_destroy(a);
    int64_t t4, t5;
    assert_true(trl_parse_rfc3339("2026-11-27T10:00:04Z", 20, &t4) > 0);
    assert_true(trl_parse_rfc3339("2026-11-27T10:00:05Z", 20, &t5) > 0);
    assert_int_equal(trl_agent_registry_commit_seq(f->reg, AGENT_ID, 3), 0);
    struct trl_agent_pending p = {4, 5, t4, t5};
    assert_int_equal(trl_agent_registry_set_pending(f->reg, AGENT_ID, &p), 0);

    struct client c;
    client_open(&c, f, true);
    send_hello(&c);
    assert_true(expect_ack(&c) == 5);
    send_batch(&c, 4, 3,
               "{\"message\":\"tok-r4\"}\n{\"message\":\"tok-r5\"}\n{\"message\":\"tok-r6\"}\n");
    assert_true(expect_ack(&c) == 6);
    trl_pipeline_sync(f->p);
    assert_int_equal(count_lines(f->out, "tok-r"), 1);
    uint64_t last = 0;
    assert_int_equal(trl_agent_registry_last_seq(f->reg, AGENT_ID, &last), 0);
    assert_true(last == 6);
    client_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_listener_acks_after_commit_and_drops_resent_events,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_finds_a_batch_stored_before_a_crash, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_listener_stores_frames_read_together_as_one_batch,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_refuses_data_without_client_cert, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_listener_closes_on_garbage_and_oversize_frames, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_listener_disconnects_revoked_agent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_sends_queued_action_when_agent_connects,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_listener_holds_actions_for_old_agents_and_drops_expired, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Active response on agents: an action for an event that came from an agent (agent.id) goes to
 * that agent through the route instead of running on the server, the server's checks still refuse
 * first; the agent runs a request received as JSON with the same code (and never blocks its
 * server's address); the listener's queue keeps actions for agents that are away, in order, until
 * the request expires or the queue is full. The system is faked: no privileges needed. */
#include "trl_test.h"

#include "core/timeutil.h"
#include "detect/response.h"
#include "server/action_queue.h"

#include <errno.h>

#define BRUTE "b8246bfe-b48e-4091-88f0-cc1293d1a285"

struct fake {
    int ncommands;
    char commands[8][256];
    int64_t last_command_done_ns; /* when the last command "returned" */
    char events[8][2048];
    int nevents;
    int nroutes;
    char route_agent[64];
    struct trl_response_request routed;
    int route_rc;
};

static struct fake fake;
static struct trl_arena *arena;

static int fake_run(void *ud, const char *const *argv, char *err, size_t errlen)
{
    (void)ud;
    char line[256] = "";
    for (size_t i = 0; argv[i]; i++) {
        size_t n = strlen(line);
        snprintf(line + n, sizeof(line) - n, "%s%s", i ? "|" : "", argv[i]);
    }
    if (fake.ncommands < 8)
        snprintf(fake.commands[fake.ncommands++], sizeof(fake.commands[0]), "%s", line);
    (void)err;
    (void)errlen;
    fake.last_command_done_ns = trl_now_ns();
    return 0;
}

static int fake_kill(void *ud, int64_t pid, char *err, size_t errlen)
{
    (void)ud;
    (void)pid;
    (void)err;
    (void)errlen;
    return 0;
}

static int fake_uid(void *ud, const char *user, int64_t *uid)
{
    (void)ud;
    (void)user;
    *uid = 1001;
    return 0;
}

static void fake_addresses(void *ud, void (*add)(void *ctx, const char *ip), void *ctx)
{
    (void)ud;
    add(ctx, "192.0.2.10");
}

static void fake_emit(void *ud, const char *json, size_t len)
{
    (void)ud;
    if (fake.nevents < 8)
        snprintf(fake.events[fake.nevents++], sizeof(fake.events[0]), "%.*s", (int)len, json);
}

static int fake_route(void *ud, const char *agent_id, const struct trl_response_request *req,
                      char *err, size_t errlen)
{
    (void)ud;
    fake.nroutes++;
    snprintf(fake.route_agent, sizeof(fake.route_agent), "%s", agent_id);
    fake.routed = *req;
    if (fake.route_rc)
        snprintf(err, errlen, "too many actions waiting for their agents");
    return fake.route_rc;
}

static const struct trl_response_ops ops = {
    .run = fake_run, .kill = fake_kill, .user_uid = fake_uid, .own_addresses = fake_addresses};

static int setup(void **state)
{
    (void)state;
    memset(&fake, 0, sizeof(fake));
    arena = trl_arena_create(0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    trl_arena_destroy(arena);
    return 0;
}

/* The server's response: block-ip for BRUTE, 10 minutes, routed to agents. */
static struct trl_response *server_response(void)
{
    static const char *const rules[] = {BRUTE ":block-ip:10m"};
    static const char *const allow[] = {"198.51.100.0/24"};
    struct trl_response_config c = {
        .rules = rules,
        .nrules = 1,
        .allowlist = allow,
        .nallowlist = 1,
        .ops = &ops,
        .emit = fake_emit,
        .route = fake_route,
        .synchronous = true,
    };
    struct trl_response *r = trl_response_create(&c);
    assert_non_null(r);
    return r;
}

static struct trl_event *event(const char *ip, const char *agent_id)
{
    struct trl_event *ev = trl_event_create(arena, "{}", 2, 0);
    trl_event_set_str(ev, TRL_F_SOURCE_IP, ip);
    if (agent_id) {
        trl_event_set_str(ev, TRL_F_AGENT_ID, agent_id);
        ev->flags |= TRL_EVF_FROM_AGENT; /* as the pipeline marks what the agent listener got */
    }
    return ev;
}

static void test_action_for_agent_event_is_routed_to_that_agent(void **state)
{
    (void)state;
    struct trl_response *r = server_response();
    trl_response_alert(r, BRUTE, "medium", event("203.0.113.45", "agt-web01"), NULL, NULL, 0);
    assert_int_equal(fake.nroutes, 1);
    assert_string_equal(fake.route_agent, "agt-web01");
    assert_int_equal(fake.routed.action, TRL_RESPONSE_BLOCK_IP);
    assert_string_equal(fake.routed.target, "203.0.113.45");
    assert_int_equal(fake.routed.timeout_s, 600);
    assert_string_equal(fake.routed.rule_id, BRUTE);
    /* Nothing ran on the server, and the agent records the action itself. */
    assert_int_equal(fake.ncommands, 0);
    assert_int_equal(fake.nevents, 0);
    trl_response_destroy(r);
}

static void test_action_for_server_event_runs_on_server(void **state)
{
    (void)state;
    struct trl_response *r = server_response();
    trl_response_alert(r, BRUTE, "medium", event("203.0.113.45", NULL), NULL, NULL, 0);
    assert_int_equal(fake.nroutes, 0);
    assert_string_equal(fake.commands[fake.ncommands - 1],
                        "nft|add|element|inet|trapline|blocked4|{ 203.0.113.45 timeout 600s }");
    assert_int_equal(fake.nevents, 1);
    assert_non_null(strstr(fake.events[0], "\"action\":\"ip-blocked\",\"outcome\":\"success\""));
    trl_response_destroy(r);
}

static void test_agent_id_forged_in_syslog_is_not_routed(void **state)
{
    (void)state;
    struct trl_response *r = server_response();
    /* A JSON syslog message may carry any agent.id: without the agent listener's mark it is a
     * server event. */
    struct trl_event *ev = event("203.0.113.45", NULL);
    trl_event_set_str(ev, TRL_F_AGENT_ID, "agt-web01");
    trl_response_alert(r, BRUTE, "medium", ev, NULL, NULL, 0);
    assert_int_equal(fake.nroutes, 0);
    assert_string_equal(fake.commands[fake.ncommands - 1],
                        "nft|add|element|inet|trapline|blocked4|{ 203.0.113.45 timeout 600s }");
    trl_response_destroy(r);
}

static void test_allowlisted_agent_event_is_refused_on_server(void **state)
{
    (void)state;
    struct trl_response *r = server_response();
    trl_response_alert(r, BRUTE, "medium", event("198.51.100.7", "agt-web01"), NULL, NULL, 0);
    assert_int_equal(fake.nroutes, 0);
    assert_int_equal(fake.ncommands, 0);
    assert_int_equal(fake.nevents, 1);
    assert_non_null(
        strstr(fake.events[0], "\"action\":\"action-refused\",\"outcome\":\"failure\""));
    assert_non_null(strstr(fake.events[0], "allowlisted"));
    assert_non_null(strstr(fake.events[0], "\"source\":{\"ip\":\"198.51.100.7\"}"));
    trl_response_destroy(r);
}

static void test_route_failure_is_recorded(void **state)
{
    (void)state;
    struct trl_response *r = server_response();
    fake.route_rc = TRL_EFULL;
    trl_response_alert(r, BRUTE, "medium", event("203.0.113.45", "agt-web01"), NULL, NULL, 0);
    assert_int_equal(fake.nroutes, 1);
    assert_int_equal(fake.ncommands, 0);
    assert_int_equal(fake.nevents, 1);
    assert_non_null(strstr(fake.events[0], "\"action\":\"ip-blocked\",\"outcome\":\"failure\""));
    assert_non_null(strstr(fake.events[0], "too many actions waiting"));
    trl_response_destroy(r);
}

/* The agent's side: a synchronous response without rules whose allowlist holds the server. */
static struct trl_response *agent_response(void)
{
    static const char *const server[] = {"203.0.113.1"};
    struct trl_response_config c = {
        .allowlist = server,
        .nallowlist = 1,
        .ops = &ops,
        .emit = fake_emit,
        .synchronous = true,
    };
    struct trl_response *r = trl_response_create(&c);
    assert_non_null(r);
    return r;
}

static void test_agent_runs_request_from_json_and_records_expiry(void **state)
{
    (void)state;
    struct trl_response *r = agent_response();
    static const char json[] =
        "{\"action\":\"block-ip\",\"ip\":\"203.0.113.45\",\"timeout\":600,\"rule_id\":\"" BRUTE
        "\"}";
    struct trl_response_request req;
    assert_int_equal(trl_response_request_parse(json, strlen(json), &req), 0);
    char err[256] = "";
    enum trl_response_result res;
    assert_int_equal(trl_response_execute_result(r, &req, err, sizeof(err), &res), 0);
    assert_int_equal(res, TRL_RESPONSE_DONE);
    assert_string_equal(trl_response_event_action(req.action, res), "ip-blocked");
    assert_string_equal(fake.commands[fake.ncommands - 1],
                        "nft|add|element|inet|trapline|blocked4|{ 203.0.113.45 timeout 600s }");
    assert_int_equal(fake.nevents, 1);
    assert_non_null(strstr(fake.events[0], "\"rule\":{\"id\":\"" BRUTE "\"}"));
    /* The block's end is known: after the kernel's, which counts from when nft inserted the
     * element, by less than a second. It is recorded once it has passed. */
    int64_t end = trl_response_next_expiry(r);
    int64_t kernel_end = fake.last_command_done_ns + 600 * TRL_NS_PER_SEC;
    assert_true(end > kernel_end && end < kernel_end + TRL_NS_PER_SEC);
    trl_response_expire(r, end - 1);
    assert_int_equal(fake.nevents, 1);
    trl_response_expire(r, end);
    assert_int_equal(fake.nevents, 2);
    assert_non_null(strstr(fake.events[1], "\"action\":\"ip-unblocked\""));
    assert_true(trl_response_next_expiry(r) == INT64_MAX);
    trl_response_destroy(r);
}

static void test_agent_never_blocks_its_server(void **state)
{
    (void)state;
    struct trl_response *r = agent_response();
    static const char json[] =
        "{\"action\":\"block-ip\",\"ip\":\"203.0.113.1\",\"timeout\":600,\"rule_id\":\"r\"}";
    struct trl_response_request req;
    assert_int_equal(trl_response_request_parse(json, strlen(json), &req), 0);
    char err[256] = "";
    enum trl_response_result res;
    assert_true(trl_response_execute_result(r, &req, err, sizeof(err), &res) < 0);
    assert_int_equal(res, TRL_RESPONSE_REFUSED);
    assert_string_equal(trl_response_event_action(req.action, res), "action-refused");
    assert_int_equal(fake.ncommands, 0);
    assert_int_equal(fake.nevents, 1);
    assert_non_null(strstr(fake.events[0], "\"action\":\"action-refused\""));
    assert_non_null(strstr(fake.events[0], "allowlisted"));
    trl_response_destroy(r);
}

static void test_agent_with_response_disabled_records_refusal(void **state)
{
    (void)state;
    struct trl_response *r = agent_response();
    static const char json[] = "{\"action\":\"lock-account\",\"user\":\"eve\",\"rule_id\":\"r\"}";
    struct trl_response_request req;
    assert_int_equal(trl_response_request_parse(json, strlen(json), &req), 0);
    trl_response_record(r, &req, TRL_RESPONSE_REFUSED, "active response is disabled on this agent");
    assert_int_equal(fake.ncommands, 0);
    assert_int_equal(fake.nevents, 1);
    assert_non_null(
        strstr(fake.events[0], "\"action\":\"action-refused\",\"outcome\":\"failure\""));
    assert_non_null(strstr(fake.events[0], "\"reason\":\"active response is disabled"));
    assert_non_null(strstr(fake.events[0], "\"user\":{\"name\":\"eve\"}"));
    trl_response_destroy(r);
}

/* ---- the listener's queue ---- */

struct seen {
    uint64_t sent[8], expired[8];
    int nsent, nexpired;
};

static void on_send(void *ud, const struct trl_queued_action *a)
{
    struct seen *s = ud;
    s->sent[s->nsent++] = a->id;
}

static void on_expired(void *ud, const struct trl_queued_action *a)
{
    struct seen *s = ud;
    s->expired[s->nexpired++] = a->id;
}

static void test_queue_keeps_actions_for_absent_agent_in_order(void **state)
{
    (void)state;
    struct trl_action_queue *q = trl_action_queue_create(8);
    static const char req[] = "{\"action\":\"kill-process\",\"pid\":4242,\"rule_id\":\"r\"}";
    assert_int_equal(trl_action_queue_push(q, "agt-a", 1, req, strlen(req), 1000), 0);
    assert_int_equal(trl_action_queue_push(q, "agt-b", 2, req, strlen(req), 1000), 0);
    assert_int_equal(trl_action_queue_push(q, "agt-a", 3, req, strlen(req), 1000), 0);
    assert_int_equal(trl_action_queue_push(q, "agt-a", 4, req, strlen(req), 50), 0);
    struct seen s = {0};
    /* agt-a connects at 100: 1 and 3 are sent in order, 4 has expired, agt-b's waits. */
    assert_int_equal(trl_action_queue_take(q, "agt-a", 100, on_send, on_expired, &s), 2);
    assert_int_equal(s.nsent, 2);
    assert_true(s.sent[0] == 1 && s.sent[1] == 3);
    assert_int_equal(s.nexpired, 1);
    assert_true(s.expired[0] == 4);
    assert_int_equal(trl_action_queue_len(q), 1);
    /* Nothing more for agt-a. */
    assert_int_equal(trl_action_queue_take(q, "agt-a", 100, on_send, on_expired, &s), 0);
    /* agt-b never comes: its action expires. */
    assert_int_equal(trl_action_queue_expire(q, 999, on_expired, &s), 0);
    assert_int_equal(trl_action_queue_expire(q, 1000, on_expired, &s), 1);
    assert_true(s.expired[1] == 2);
    assert_int_equal(trl_action_queue_len(q), 0);
    trl_action_queue_destroy(q);
}

static void test_queue_is_bounded_and_rejects_empty(void **state)
{
    (void)state;
    struct trl_action_queue *q = trl_action_queue_create(2);
    assert_int_equal(trl_action_queue_push(q, "agt-a", 1, "{}", 2, 10), 0);
    assert_int_equal(trl_action_queue_push(q, "agt-a", 2, "{}", 2, 10), 0);
    assert_int_equal(trl_action_queue_push(q, "agt-a", 3, "{}", 2, 10), TRL_EFULL);
    assert_int_equal(trl_action_queue_push(q, "", 4, "{}", 2, 10), TRL_EINVAL);
    assert_int_equal(trl_action_queue_push(q, "agt-a", 5, "", 0, 10), TRL_EINVAL);
    assert_int_equal(trl_action_queue_len(q), 2);
    /* Destroying with actions left frees them. */
    trl_action_queue_destroy(q);
    trl_action_queue_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_action_for_agent_event_is_routed_to_that_agent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_action_for_server_event_runs_on_server, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_agent_id_forged_in_syslog_is_not_routed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_allowlisted_agent_event_is_refused_on_server, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_route_failure_is_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_runs_request_from_json_and_records_expiry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_agent_never_blocks_its_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_with_response_disabled_records_refusal, setup,
                                        teardown),
        cmocka_unit_test(test_queue_keeps_actions_for_absent_agent_in_order),
        cmocka_unit_test(test_queue_is_bounded_and_rejects_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

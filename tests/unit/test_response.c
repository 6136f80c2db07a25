/* Active response: which alerts trigger which action, what is never touched (allowlisted
 * addresses, init, Trapline itself, root and system accounts), the exact commands run (through an
 * injected runner: no privileges needed), the request JSON and the events written for each action
 * and expiry. */
#include "trl_test.h"

#include "core/config.h"
#include "core/timeutil.h"
#include "detect/detector.h"
#include "detect/response.h"

#include <ftw.h>
#include <sys/stat.h>

#include <errno.h>

/* ---- a fake system ---- */

struct fake {
    char commands[16][512]; /* argv joined with '|' */
    int ncommands;
    int fail_run; /* how many of the next run calls fail */
    bool table_exists;
    int64_t killed[8];
    int nkilled;
    char events[16][2048];
    int nevents;
};

static struct fake fake;

static int fake_run(void *ud, const char *const *argv, char *err, size_t errlen)
{
    (void)ud;
    char line[512] = "";
    for (size_t i = 0; argv[i]; i++) {
        size_t n = strlen(line);
        snprintf(line + n, sizeof(line) - n, "%s%s", i ? "|" : "", argv[i]);
    }
    if (fake.ncommands < 16)
        snprintf(fake.commands[fake.ncommands++], sizeof(fake.commands[0]), "%s", line);
    if (!strcmp(line, "nft|list|table|inet|trapline") && !fake.table_exists) {
        snprintf(err, errlen, "No such file or directory");
        return TRL_EINVAL;
    }
    if (fake.fail_run > 0) {
        fake.fail_run--;
        snprintf(err, errlen, "nft exited with status 1: Operation not permitted");
        return TRL_EINVAL;
    }
    return 0;
}

static int fake_kill(void *ud, int64_t pid, char *err, size_t errlen)
{
    (void)ud;
    (void)err;
    (void)errlen;
    fake.killed[fake.nkilled++] = pid;
    return 0;
}

static int fake_uid(void *ud, const char *user, int64_t *uid)
{
    (void)ud;
    if (!strcmp(user, "root"))
        *uid = 0;
    else if (!strcmp(user, "www-data"))
        *uid = 33;
    else if (!strcmp(user, "eve"))
        *uid = 1001;
    else if (!strcmp(user, "nobody"))
        *uid = 65534;
    else
        return -ENOENT;
    return 0;
}

static void fake_addresses(void *ud, void (*add)(void *ctx, const char *ip), void *ctx)
{
    (void)ud;
    add(ctx, "192.0.2.10");
    add(ctx, "2001:db8::10");
}

static void fake_emit(void *ud, const char *json, size_t len)
{
    (void)ud;
    if (fake.nevents < 16)
        snprintf(fake.events[fake.nevents++], sizeof(fake.events[0]), "%.*s", (int)len, json);
}

static const struct trl_response_ops ops = {
    .run = fake_run, .kill = fake_kill, .user_uid = fake_uid, .own_addresses = fake_addresses};

static struct trl_arena *arena;

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

#define BRUTE "b8246bfe-b48e-4091-88f0-cc1293d1a285"

static struct trl_response *make(const char *const *rules, size_t nrules, int min_level,
                                 bool system_accounts)
{
    static const char *const allow[] = {"198.51.100.0/24", "2001:db8:ffff::/48"};
    struct trl_response_config c = {
        .rules = rules,
        .nrules = nrules,
        .min_level = min_level,
        .level_action = TRL_RESPONSE_BLOCK_IP,
        .timeout_ms = 3600000,
        .allowlist = allow,
        .nallowlist = 2,
        .lock_system_accounts = system_accounts,
        .self_pid = 4000,
        .ops = &ops,
        .emit = fake_emit,
        .synchronous = true,
    };
    struct trl_response *r = trl_response_create(&c);
    assert_non_null(r);
    return r;
}

static struct trl_event *event(const char *ip, const char *pid, const char *user)
{
    struct trl_event *ev = trl_event_create(arena, "{}", 2, 0);
    if (ip)
        trl_event_set_str(ev, TRL_F_SOURCE_IP, ip);
    if (pid)
        trl_event_set_str(ev, TRL_F_PROCESS_PID, pid);
    if (user)
        trl_event_set_str(ev, TRL_F_USER_NAME, user);
    return ev;
}

static int decide(struct trl_response *r, const char *rule, const char *level,
                  const struct trl_event *ev, struct trl_response_request *req)
{
    char why[256];
    return trl_response_decide(r, rule, level, ev, NULL, NULL, 0, req, why, sizeof(why));
}

/* ---- allowlist ---- */

static void test_allowlist_protects_loopback_own_and_configured(void **state)
{
    (void)state;
    struct trl_response *r = make(NULL, 0, 1, false);
    const char *protected[] = {"127.0.0.1",
                               "127.8.9.10",
                               "::1",
                               "0.0.0.0",
                               "::",
                               "::ffff:127.0.0.1",
                               "192.0.2.10",
                               "2001:db8::10",
                               "198.51.100.77",
                               "2001:db8:ffff::1",
                               "not-an-ip",
                               "10.0.0.0/8",
                               "",
                               "203.0.113.45 ; flush ruleset"};
    for (size_t i = 0; i < TRL_ARRAY_LEN(protected); i++) {
        if (!trl_response_ip_protected(r, protected[i]))
            fail_msg("%s should be protected", protected[i]);
    }
    const char *blockable[] = {"203.0.113.45", "192.0.2.11", "198.51.101.1", "2001:db8::11",
                               "::ffff:203.0.113.45"};
    for (size_t i = 0; i < TRL_ARRAY_LEN(blockable); i++) {
        if (trl_response_ip_protected(r, blockable[i]))
            fail_msg("%s should be blockable", blockable[i]);
    }
    trl_response_destroy(r);
}

static void test_allowlisted_source_is_never_blocked(void **state)
{
    (void)state;
    const char *rules[] = {BRUTE ":block-ip:10m"};
    struct trl_response *r = make(rules, 1, 0, false);
    struct trl_response_request req;
    assert_true(decide(r, BRUTE, "medium", event("198.51.100.7", NULL, NULL), &req) < 0);
    trl_response_alert(r, BRUTE, "medium", event("127.0.0.1", NULL, NULL), NULL, NULL, 0);
    trl_response_alert(r, BRUTE, "medium", event("192.0.2.10", NULL, NULL), NULL, NULL, 0);
    assert_int_equal(fake.ncommands, 0);
    /* The refusals are recorded as events. */
    assert_int_equal(fake.nevents, 2);
    assert_non_null(
        strstr(fake.events[0], "\"action\":\"action-refused\",\"outcome\":\"failure\""));
    assert_non_null(strstr(fake.events[0], "allowlisted"));
    /* A request from elsewhere (an agent's, later) gets the same check. */
    struct trl_response_request direct = {.action = TRL_RESPONSE_BLOCK_IP, .timeout_s = 60};
    snprintf(direct.target, sizeof(direct.target), "127.0.0.1");
    char err[256];
    assert_true(trl_response_execute(r, &direct, err, sizeof(err)) < 0);
    assert_int_equal(fake.ncommands, 0);
    trl_response_destroy(r);
}

/* ---- decisions ---- */

static void test_rule_triggers_block_with_its_timeout(void **state)
{
    (void)state;
    const char *rules[] = {BRUTE ":block-ip:10m"};
    struct trl_response *r = make(rules, 1, 0, false);
    struct trl_response_request req;
    assert_int_equal(decide(r, BRUTE, "medium", event("203.0.113.45", NULL, NULL), &req), 1);
    assert_int_equal(req.action, TRL_RESPONSE_BLOCK_IP);
    assert_string_equal(req.target, "203.0.113.45");
    assert_int_equal(req.timeout_s, 600);
    assert_string_equal(req.rule_id, BRUTE);
    /* Another rule: nothing (no min_level). */
    assert_int_equal(decide(r, "other", "critical", event("203.0.113.45", NULL, NULL), &req), 0);
    /* No source.ip in the event nor in the group-by values: nothing. */
    assert_int_equal(decide(r, BRUTE, "medium", event(NULL, NULL, NULL), &req), 0);
    trl_response_destroy(r);
}

static void test_group_by_value_gives_the_address(void **state)
{
    (void)state;
    const char *rules[] = {BRUTE ":block-ip"};
    struct trl_response *r = make(rules, 1, 0, false);
    struct trl_response_request req;
    const char *fields[] = {"source.ip"}, *values[] = {"2001:DB8:0:0::99"};
    char why[256];
    assert_int_equal(trl_response_decide(r, BRUTE, "high", event(NULL, NULL, NULL), fields, values,
                                         1, &req, why, sizeof(why)),
                     1);
    /* Canonical form, default timeout (response.timeout). */
    assert_string_equal(req.target, "2001:db8::99");
    assert_int_equal(req.timeout_s, 3600);
    trl_response_destroy(r);
}

static void test_min_level_triggers_configured_action(void **state)
{
    (void)state;
    struct trl_response *r = make(NULL, 0, 4 /* high */, false);
    struct trl_response_request req;
    assert_int_equal(decide(r, "x", "medium", event("203.0.113.45", NULL, NULL), &req), 0);
    assert_int_equal(decide(r, "x", "high", event("203.0.113.45", NULL, NULL), &req), 1);
    assert_int_equal(decide(r, "x", "critical", event("203.0.113.45", NULL, NULL), &req), 1);
    assert_int_equal(req.action, TRL_RESPONSE_BLOCK_IP);
    trl_response_destroy(r);
}

static void test_kill_refuses_init_and_itself(void **state)
{
    (void)state;
    const char *rules[] = {"miner:kill-process"};
    struct trl_response *r = make(rules, 1, 0, false);
    struct trl_response_request req;
    assert_true(decide(r, "miner", "high", event(NULL, "1", NULL), &req) < 0);
    assert_true(decide(r, "miner", "high", event(NULL, "0", NULL), &req) < 0);
    assert_true(decide(r, "miner", "high", event(NULL, "4000", NULL), &req) < 0);
    assert_true(decide(r, "miner", "high", event(NULL, "-5", NULL), &req) < 0);
    assert_true(decide(r, "miner", "high", event(NULL, "12abc", NULL), &req) < 0);
    assert_int_equal(decide(r, "miner", "high", event(NULL, "4242", NULL), &req), 1);
    trl_response_alert(r, "miner", "high", event(NULL, "4242", NULL), NULL, NULL, 0);
    assert_int_equal(fake.nkilled, 1);
    assert_int_equal(fake.killed[0], 4242);
    assert_non_null(
        strstr(fake.events[0], "\"action\":\"process-killed\",\"outcome\":\"success\""));
    assert_non_null(strstr(fake.events[0], "\"process\":{\"pid\":4242}"));
    trl_response_destroy(r);
}

static void test_lock_refuses_root_and_system_accounts(void **state)
{
    (void)state;
    const char *rules[] = {"takeover:lock-account"};
    struct trl_response *r = make(rules, 1, 0, false);
    struct trl_response_request req;
    assert_true(decide(r, "takeover", "high", event(NULL, NULL, "root"), &req) < 0);
    assert_true(decide(r, "takeover", "high", event(NULL, NULL, "www-data"), &req) < 0);
    assert_true(decide(r, "takeover", "high", event(NULL, NULL, "nobody"), &req) < 0);
    assert_true(decide(r, "takeover", "high", event(NULL, NULL, "nobody-here"), &req) < 0);
    assert_true(decide(r, "takeover", "high", event(NULL, NULL, "-e"), &req) < 0);
    assert_true(decide(r, "takeover", "high", event(NULL, NULL, "eve;reboot"), &req) < 0);
    trl_response_alert(r, "takeover", "high", event(NULL, NULL, "eve"), NULL, NULL, 0);
    assert_string_equal(fake.commands[0], "usermod|-L|--expiredate|1|--|eve");
    assert_non_null(strstr(fake.events[fake.nevents - 1], "\"action\":\"account-locked\""));
    trl_response_destroy(r);

    /* With response.lock_system_accounts: system accounts yes, root never. */
    memset(&fake, 0, sizeof(fake));
    r = make(rules, 1, 0, true);
    assert_int_equal(decide(r, "takeover", "high", event(NULL, NULL, "www-data"), &req), 1);
    assert_true(decide(r, "takeover", "high", event(NULL, NULL, "root"), &req) < 0);
    trl_response_destroy(r);
}

/* ---- commands and events ---- */

static void test_block_sets_up_nft_then_adds_element_with_timeout(void **state)
{
    (void)state;
    const char *rules[] = {BRUTE ":block-ip:10m"};
    struct trl_response *r = make(rules, 1, 0, false);
    trl_response_alert(r, BRUTE, "medium", event("203.0.113.45", NULL, NULL), NULL, NULL, 0);
    assert_int_equal(fake.ncommands, 3);
    assert_string_equal(fake.commands[0], "nft|list|table|inet|trapline");
    assert_non_null(strstr(fake.commands[1], "add set inet trapline blocked4 { type ipv4_addr ; "
                                             "flags timeout ; }"));
    assert_non_null(strstr(fake.commands[1], "add rule inet trapline input ip saddr @blocked4 "
                                             "drop"));
    assert_string_equal(fake.commands[2],
                        "nft|add|element|inet|trapline|blocked4|{ 203.0.113.45 timeout 600s }");
    assert_int_equal(fake.nevents, 1);
    assert_non_null(strstr(fake.events[0], "\"category\":[\"intrusion_detection\"]"));
    assert_non_null(strstr(fake.events[0], "\"action\":\"ip-blocked\",\"outcome\":\"success\""));
    assert_non_null(strstr(fake.events[0], "\"rule\":{\"id\":\"" BRUTE "\"}"));
    assert_non_null(strstr(fake.events[0], "\"source\":{\"ip\":\"203.0.113.45\"}"));
    /* The same address again within its block: nothing run, nothing written. */
    trl_response_alert(r, BRUTE, "medium", event("203.0.113.45", NULL, NULL), NULL, NULL, 0);
    assert_int_equal(fake.ncommands, 3);
    assert_int_equal(fake.nevents, 1);
    /* IPv6 goes to blocked6; the table is set up already. */
    trl_response_alert(r, BRUTE, "medium", event("2001:db8:1::5", NULL, NULL), NULL, NULL, 0);
    assert_string_equal(fake.commands[3],
                        "nft|add|element|inet|trapline|blocked6|{ 2001:db8:1::5 timeout 600s }");
    trl_response_destroy(r);
}

static void test_failed_block_is_recorded_as_failure(void **state)
{
    (void)state;
    const char *rules[] = {BRUTE ":block-ip:10m"};
    struct trl_response *r = make(rules, 1, 0, false);
    fake.table_exists = true;
    fake.fail_run = 2; /* nft can neither list nor create the table: not permitted */
    trl_response_alert(r, BRUTE, "medium", event("203.0.113.45", NULL, NULL), NULL, NULL, 0);
    assert_int_equal(fake.nevents, 1);
    assert_non_null(strstr(fake.events[0], "\"outcome\":\"failure\""));
    assert_non_null(strstr(fake.events[0], "Operation not permitted"));
    trl_response_destroy(r);
}

static void test_expiry_writes_ip_unblocked(void **state)
{
    (void)state;
    const char *rules[] = {BRUTE ":block-ip:90s"};
    struct trl_response *r = make(rules, 1, 0, false);
    trl_response_alert(r, BRUTE, "medium", event("203.0.113.45", NULL, NULL), NULL, NULL, 0);
    assert_int_equal(fake.nevents, 1);
    trl_response_expire(r, trl_now_ns() + 60 * 1000000000LL);
    assert_int_equal(fake.nevents, 1);
    trl_response_expire(r, trl_now_ns() + 91 * 1000000000LL);
    assert_int_equal(fake.nevents, 2);
    assert_non_null(strstr(fake.events[1], "\"action\":\"ip-unblocked\""));
    assert_non_null(strstr(fake.events[1], "\"source\":{\"ip\":\"203.0.113.45\"}"));
    assert_non_null(strstr(fake.events[1], "\"rule\":{\"id\":\"" BRUTE "\"}"));
    trl_response_destroy(r);
}

static void test_request_json_round_trip(void **state)
{
    (void)state;
    struct trl_response_request req = {.action = TRL_RESPONSE_BLOCK_IP, .timeout_s = 600};
    snprintf(req.target, sizeof(req.target), "203.0.113.45");
    snprintf(req.rule_id, sizeof(req.rule_id), BRUTE);
    struct trl_buf b = {0};
    trl_response_request_json(&req, &b);
    trl_buf_putc(&b, '\0');
    assert_string_equal(b.data, "{\"action\":\"block-ip\",\"ip\":\"203.0.113.45\",\"timeout\":600,"
                                "\"rule_id\":\"" BRUTE "\"}");
    struct trl_response_request back;
    assert_int_equal(trl_response_request_parse(b.data, b.len - 1, &back), 0);
    assert_int_equal(back.action, TRL_RESPONSE_BLOCK_IP);
    assert_string_equal(back.target, "203.0.113.45");
    assert_int_equal(back.timeout_s, 600);
    trl_buf_free(&b);
    const char *kill = "{\"action\":\"kill-process\",\"pid\":4242,\"rule_id\":\"r\"}";
    assert_int_equal(trl_response_request_parse(kill, strlen(kill), &back), 0);
    assert_string_equal(back.target, "4242");
    const char *bad[] = {"{\"action\":\"reboot\"}", "{\"action\":\"kill-process\",\"pid\":\"1\"}",
                         "[]", "{", "{\"action\":\"lock-account\"}"};
    for (size_t i = 0; i < TRL_ARRAY_LEN(bad); i++)
        assert_int_equal(trl_response_request_parse(bad[i], strlen(bad[i]), &back), TRL_EINVAL);
}

static void test_bad_configuration_is_refused(void **state)
{
    (void)state;
    const char *bad_rules[] = {"rule:reboot"};
    struct trl_response_config c = {
        .rules = bad_rules, .nrules = 1, .ops = &ops, .synchronous = true};
    assert_null(trl_response_create(&c));
    const char *bad_allow[] = {"10.0.0.0/33"};
    struct trl_response_config d = {
        .allowlist = bad_allow, .nallowlist = 1, .ops = &ops, .synchronous = true};
    assert_null(trl_response_create(&d));
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* The detector hands every alert to the response: a rule's alert blocks the event's source. */
static void test_detector_alert_triggers_response(void **state)
{
    (void)state;
    char dir[] = "/tmp/trl-response-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char rule[128];
    snprintf(rule, sizeof(rule), "%s/scan.yml", dir);
    FILE *fp = fopen(rule, "w");
    assert_non_null(fp);
    fputs("title: port scan\nid: 30000000-0000-0000-0000-000000000001\n"
          "logsource:\n  product: linux\ndetection:\n  sel:\n    event.action: port-scan\n"
          "  condition: sel\nlevel: high\n",
          fp);
    fclose(fp);
    const char *rules[] = {"30000000-0000-0000-0000-000000000001:block-ip:5m"};
    struct trl_response *r = make(rules, 1, 0, false);
    const char *paths[] = {rule};
    struct trl_detector_config dc = {
        .rule_paths = paths, .nrule_paths = 1, .data_dir = dir, .response = r};
    struct trl_detector *d = trl_detector_create(&dc);
    assert_non_null(d);
    struct trl_event *ev = event("203.0.113.9", NULL, NULL);
    trl_event_set_str(ev, TRL_F_EVENT_ACTION, "port-scan");
    trl_event_set_str(ev, TRL_F_EVENT_ID, "00000000000000aa");
    struct trl_event *evs[] = {ev, event("203.0.113.10", NULL, NULL)};
    struct trl_batch b = {.arena = arena, .events = evs, .nevents = 2};
    assert_int_equal(trl_detector_process(d, &b), 0);
    assert_int_equal(fake.ncommands, 3);
    assert_string_equal(fake.commands[2],
                        "nft|add|element|inet|trapline|blocked4|{ 203.0.113.9 timeout 300s }");
    assert_non_null(strstr(fake.events[0], "\"id\":\"30000000-0000-0000-0000-000000000001\""));
    trl_detector_destroy(d);
    trl_response_destroy(r);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* The response.* and alerts.email.* keys: accepted forms, and what is refused with a reason. */
static void test_config_keys(void **state)
{
    (void)state;
    struct trl_config c;
    char err[512];
    trl_config_defaults(&c);
    const char *good = "response:\n  rules: [\"" BRUTE ":block-ip:30m\", \"r2:kill-process\"]\n"
                       "  min_level: high\n  action: lock-account\n  timeout: 2h\n"
                       "  allowlist: [10.0.0.0/8, \"2001:db8::/32\", 192.0.2.1]\n"
                       "alerts:\n  email:\n    url: smtps://mail.example.org:465\n"
                       "    from: t@example.org\n    to: [a@example.org]\n    starttls: off\n";
    assert_int_equal(trl_config_load_buffer(&c, "t.yml", good, strlen(good), err, sizeof(err)), 0);
    assert_int_equal(c.response.rules.count, 2);
    assert_int_equal(c.response.min_level, 4);
    assert_int_equal(c.response.action, TRL_RESPONSE_LOCK_ACCOUNT);
    assert_int_equal(c.response.timeout_ms, 7200000);
    assert_int_equal(c.alerts.email.starttls, 2);
    struct trl_response_config rc;
    trl_response_config_from(&rc, &c);
    assert_true(trl_response_configured(&rc));
    trl_config_free(&c);
    const char *bad[] = {
        "response:\n  rules: [\"r:reboot\"]\n",
        "response:\n  rules: [\"r:block-ip:10x\"]\n",
        "response:\n  rules: [\":block-ip\"]\n",
        "response:\n  allowlist: [10.0.0.0/33]\n",
        "response:\n  allowlist: [example.org]\n",
        "alerts:\n  email:\n    url: http://mail.example.org\n",
        "alerts:\n  email:\n    starttls: maybe\n",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(bad); i++) {
        trl_config_defaults(&c);
        if (trl_config_load_buffer(&c, "t.yml", bad[i], strlen(bad[i]), err, sizeof(err)) == 0)
            fail_msg("accepted: %s", bad[i]);
        trl_config_free(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_allowlist_protects_loopback_own_and_configured, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_allowlisted_source_is_never_blocked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rule_triggers_block_with_its_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_by_value_gives_the_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_min_level_triggers_configured_action, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_refuses_init_and_itself, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_refuses_root_and_system_accounts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_block_sets_up_nft_then_adds_element_with_timeout,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_block_is_recorded_as_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_writes_ip_unblocked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detector_alert_triggers_response, setup, teardown),
        cmocka_unit_test(test_config_keys),
        cmocka_unit_test(test_request_json_round_trip),
        cmocka_unit_test(test_bad_configuration_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

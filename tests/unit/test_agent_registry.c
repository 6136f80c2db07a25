/* Agent registry (DATA/agents.db): enrollment through a token, health, committed sequence
 * numbers across reopen, revocation seen by another handle within a second, listing. */
#include "trl_test.h"

#include "server/agent_registry.h"
#include "test_agent_util.h"

#include <time.h>

struct fixture {
    char *dir;
    struct trl_agent_registry *reg;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->dir = agent_test_mkdtemp();
    f->reg = f->dir ? trl_agent_registry_open(f->dir) : NULL;
    *state = f;
    return f->reg ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    trl_agent_registry_close(f->reg);
    agent_test_rmdir(f->dir);
    free(f);
    return 0;
}

static void hash_of(unsigned char h[TRL_TOKEN_HASH_LEN], unsigned char fill)
{
    memset(h, fill, TRL_TOKEN_HASH_LEN);
}

/* Adds a token and enrolls id with it, as server/enroll.c does after signing. */
static void enroll(struct trl_agent_registry *reg, const char *token_id, const char *id,
                   const char *hostname)
{
    unsigned char h[TRL_TOKEN_HASH_LEN];
    hash_of(h, 0x42);
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(trl_agent_registry_token_add(reg, token_id, h, now + 3600), 0);
    struct trl_agent_enrollment e = {.id = id,
                                     .hostname = hostname,
                                     .version = "0.1.0",
                                     .cert_serial = "7f01",
                                     .cert_fingerprint = "aa:bb"};
    assert_int_equal(trl_agent_registry_enroll(reg, token_id, h, now, &e), 0);
}

struct listing {
    int n;
    char rows[8][512];
};

static void collect(void *ud, const struct trl_agent_info *a)
{
    struct listing *l = ud;
    if (l->n < 8)
        snprintf(l->rows[l->n], sizeof(l->rows[0]),
                 "%s host=%s version=%s serial=%s fp=%s revoked=%d seen=%d total=%llu "
                 "eps=%.1f spool=%llu dropped=%llu seq=%llu status=%s",
                 a->id, a->hostname, a->version, a->cert_serial, a->cert_fingerprint,
                 a->revoked_at != 0, a->last_seen != 0, (unsigned long long)a->events_total,
                 a->events_per_sec, (unsigned long long)a->spool_depth,
                 (unsigned long long)a->dropped, (unsigned long long)a->last_seq,
                 trl_agent_status(a, (int64_t)time(NULL)));
    l->n++;
}

static void test_new_registry_lists_no_agents(void **state)
{
    struct fixture *f = *state;
    struct listing l = {0};
    assert_int_equal(trl_agent_registry_list(f->reg, collect, &l), 0);
    assert_int_equal(l.n, 0);
}

static void test_enrolled_agents_are_listed_by_id(void **state)
{
    struct fixture *f = *state;
    enroll(f->reg, "tok2", "agt-00000000000000b2", "db01");
    enroll(f->reg, "tok1", "agt-00000000000000a1", "web01");
    struct listing l = {0};
    assert_int_equal(trl_agent_registry_list(f->reg, collect, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.rows[0], "agt-00000000000000a1 host=web01 version=0.1.0 serial=7f01 "
                                   "fp=aa:bb revoked=0 seen=0 total=0 eps=0.0 spool=0 dropped=0 "
                                   "seq=0 status=silent");
    assert_string_equal(l.rows[1], "agt-00000000000000b2 host=db01 version=0.1.0 serial=7f01 "
                                   "fp=aa:bb revoked=0 seen=0 total=0 eps=0.0 spool=0 dropped=0 "
                                   "seq=0 status=silent");
}

static void test_unknown_agent_counts_as_revoked(void **state)
{
    struct fixture *f = *state;
    enroll(f->reg, "tok1", "agt-00000000000000a1", "web01");
    assert_false(trl_agent_registry_is_revoked(f->reg, "agt-00000000000000a1"));
    assert_true(trl_agent_registry_is_revoked(f->reg, "agt-ffffffffffffffff"));
    assert_true(trl_agent_registry_is_revoked(f->reg, ""));
}

static void test_seen_records_health_and_goes_online(void **state)
{
    struct fixture *f = *state;
    enroll(f->reg, "tok1", "agt-00000000000000a1", "web01");
    struct trl_agent_health h = {.version = "0.2.0",
                                 .hostname = NULL, /* unchanged */
                                 .events_total = 1234,
                                 .events_per_sec = 56.5,
                                 .spool_depth = 78,
                                 .dropped = 9};
    assert_int_equal(trl_agent_registry_seen(f->reg, "agt-00000000000000a1", &h), 0);
    struct listing l = {0};
    assert_int_equal(trl_agent_registry_get(f->reg, "agt-00000000000000a1", collect, &l), 0);
    assert_string_equal(l.rows[0], "agt-00000000000000a1 host=web01 version=0.2.0 serial=7f01 "
                                   "fp=aa:bb revoked=0 seen=1 total=1234 eps=56.5 spool=78 "
                                   "dropped=9 seq=0 status=online");
    /* A bare heartbeat keeps the health figures. */
    assert_int_equal(trl_agent_registry_seen(f->reg, "agt-00000000000000a1", NULL), 0);
    l.n = 0;
    assert_int_equal(trl_agent_registry_get(f->reg, "agt-00000000000000a1", collect, &l), 0);
    assert_non_null(strstr(l.rows[0], "total=1234 eps=56.5 spool=78"));
}

static void test_seen_and_seq_of_unknown_agent_are_enoent(void **state)
{
    struct fixture *f = *state;
    uint64_t seq = 99;
    assert_int_equal(trl_agent_registry_seen(f->reg, "agt-nobody", NULL), -ENOENT);
    assert_int_equal(trl_agent_registry_last_seq(f->reg, "agt-nobody", &seq), -ENOENT);
    assert_int_equal(trl_agent_registry_commit_seq(f->reg, "agt-nobody", 5), -ENOENT);
    assert_int_equal(trl_agent_registry_revoke(f->reg, "agt-nobody"), -ENOENT);
    struct listing l = {0};
    assert_int_equal(trl_agent_registry_get(f->reg, "agt-nobody", collect, &l), -ENOENT);
    assert_int_equal(l.n, 0);
}

static void test_commit_seq_survives_reopen_and_never_goes_back(void **state)
{
    struct fixture *f = *state;
    enroll(f->reg, "tok1", "agt-00000000000000a1", "web01");
    uint64_t seq = 99;
    assert_int_equal(trl_agent_registry_last_seq(f->reg, "agt-00000000000000a1", &seq), 0);
    assert_int_equal(seq, 0);
    assert_int_equal(trl_agent_registry_commit_seq(f->reg, "agt-00000000000000a1", 500), 0);
    assert_int_equal(trl_agent_registry_commit_seq(f->reg, "agt-00000000000000a1", 300), 0);
    trl_agent_registry_close(f->reg);
    f->reg = trl_agent_registry_open(f->dir);
    assert_non_null(f->reg);
    assert_int_equal(trl_agent_registry_last_seq(f->reg, "agt-00000000000000a1", &seq), 0);
    assert_int_equal(seq, 500);
    assert_int_equal(trl_agent_registry_commit_seq(f->reg, "agt-00000000000000a1", 1ULL << 40), 0);
    assert_int_equal(trl_agent_registry_last_seq(f->reg, "agt-00000000000000a1", &seq), 0);
    assert_int_equal(seq, 1ULL << 40);
}

static void test_revoke_by_another_handle_is_seen_within_a_second(void **state)
{
    struct fixture *f = *state;
    enroll(f->reg, "tok1", "agt-00000000000000a1", "web01");
    assert_false(trl_agent_registry_is_revoked(f->reg, "agt-00000000000000a1"));
    /* The CLI revokes with its own connection, as another process would. */
    struct trl_agent_registry *cli = trl_agent_registry_open(f->dir);
    assert_non_null(cli);
    assert_int_equal(trl_agent_registry_revoke(cli, "agt-00000000000000a1"), 0);
    assert_int_equal(trl_agent_registry_revoke(cli, "agt-00000000000000a1"), -EALREADY);
    trl_agent_registry_close(cli);
    bool revoked = false;
    for (int i = 0; i < 22 && !revoked; i++) {
        revoked = trl_agent_registry_is_revoked(f->reg, "agt-00000000000000a1");
        if (!revoked)
            agent_test_sleep_ms(50);
    }
    assert_true(revoked);
    struct listing l = {0};
    assert_int_equal(trl_agent_registry_list(f->reg, collect, &l), 0);
    assert_non_null(strstr(l.rows[0], "revoked=1"));
    assert_non_null(strstr(l.rows[0], "status=revoked"));
}

static void test_agent_enrolled_by_another_handle_is_accepted_at_once(void **state)
{
    struct fixture *f = *state;
    assert_true(trl_agent_registry_is_revoked(f->reg, "agt-00000000000000a1"));
    struct trl_agent_registry *other = trl_agent_registry_open(f->dir);
    assert_non_null(other);
    enroll(other, "tok1", "agt-00000000000000a1", "web01");
    trl_agent_registry_close(other);
    assert_false(trl_agent_registry_is_revoked(f->reg, "agt-00000000000000a1"));
}

static void test_token_enrolls_one_agent_only(void **state)
{
    struct fixture *f = *state;
    enroll(f->reg, "tok1", "agt-00000000000000a1", "web01");
    unsigned char h[TRL_TOKEN_HASH_LEN];
    hash_of(h, 0x42);
    int64_t now = (int64_t)time(NULL);
    struct trl_agent_enrollment e = {.id = "agt-00000000000000a2"};
    assert_int_equal(trl_agent_registry_token_check(f->reg, "tok1", h, now), -EALREADY);
    assert_int_equal(trl_agent_registry_enroll(f->reg, "tok1", h, now, &e), -EALREADY);
    struct listing l = {0};
    assert_int_equal(trl_agent_registry_list(f->reg, collect, &l), 0);
    assert_int_equal(l.n, 1);
}

static void test_token_check_rejects_wrong_secret_expiry_and_unknown_id(void **state)
{
    struct fixture *f = *state;
    unsigned char h[TRL_TOKEN_HASH_LEN], wrong[TRL_TOKEN_HASH_LEN];
    hash_of(h, 0x42);
    hash_of(wrong, 0x43);
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(trl_agent_registry_token_add(f->reg, "tok1", h, now + 60), 0);
    assert_int_equal(trl_agent_registry_token_check(f->reg, "tok1", h, now), 0);
    assert_int_equal(trl_agent_registry_token_check(f->reg, "tok1", wrong, now), -ENOENT);
    assert_int_equal(trl_agent_registry_token_check(f->reg, "tok9", h, now), -ENOENT);
    assert_int_equal(trl_agent_registry_token_check(f->reg, "tok1", h, now + 60), -ETIMEDOUT);
    /* A failed enrollment leaves the token usable. */
    struct trl_agent_enrollment e = {.id = "agt-00000000000000a1"};
    assert_int_equal(trl_agent_registry_enroll(f->reg, "tok1", wrong, now, &e), -ENOENT);
    assert_int_equal(trl_agent_registry_token_check(f->reg, "tok1", h, now), 0);
}

static void test_enroll_with_taken_id_is_eexist_and_keeps_token(void **state)
{
    struct fixture *f = *state;
    enroll(f->reg, "tok1", "agt-00000000000000a1", "web01");
    unsigned char h[TRL_TOKEN_HASH_LEN];
    hash_of(h, 0x42);
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(trl_agent_registry_token_add(f->reg, "tok2", h, now + 60), 0);
    struct trl_agent_enrollment e = {.id = "agt-00000000000000a1"};
    assert_int_equal(trl_agent_registry_enroll(f->reg, "tok2", h, now, &e), -EEXIST);
    assert_int_equal(trl_agent_registry_token_check(f->reg, "tok2", h, now), 0);
}

static void test_status_follows_last_seen_and_revocation(void **state)
{
    (void)state;
    struct trl_agent_info a = {.id = "agt-1", .last_seen = 1000};
    assert_string_equal(trl_agent_status(&a, 1000 + TRL_AGENT_ONLINE_SECS), "online");
    assert_string_equal(trl_agent_status(&a, 1001 + TRL_AGENT_ONLINE_SECS), "silent");
    a.last_seen = 0;
    assert_string_equal(trl_agent_status(&a, 1000), "silent");
    a.last_seen = 1000;
    a.revoked_at = 999;
    assert_string_equal(trl_agent_status(&a, 1000), "revoked");
}

static void test_tokens_expired_long_ago_are_forgotten(void **state)
{
    struct fixture *f = *state;
    unsigned char h[TRL_TOKEN_HASH_LEN];
    hash_of(h, 0x42);
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(trl_agent_registry_token_add(f->reg, "old", h, now - TRL_TOKEN_KEEP_SECS - 5),
                     0);
    assert_int_equal(trl_agent_registry_token_add(f->reg, "recent", h, now - 5), 0);
    assert_int_equal(trl_agent_registry_token_add(f->reg, "new", h, now + 60), 0);
    assert_int_equal(trl_agent_registry_token_check(f->reg, "old", h, now), -ENOENT);
    assert_int_equal(trl_agent_registry_token_check(f->reg, "recent", h, now), -ETIMEDOUT);
    assert_int_equal(trl_agent_registry_token_check(f->reg, "new", h, now), 0);
}

static void test_agent_json_has_every_column_and_status(void **state)
{
    (void)state;
    struct trl_agent_info a = {.id = "agt-00000000000000a1",
                               .hostname = "web\"01",
                               .version = "0.1.0",
                               .cert_serial = "7f01",
                               .cert_fingerprint = "aa:bb",
                               .enrolled_at = 1720000000,
                               .last_seen = 1720000100,
                               .events_total = 5,
                               .events_per_sec = 2.25,
                               .spool_depth = 3,
                               .dropped = 1,
                               .last_seq = 5};
    struct trl_buf b = {0};
    trl_agent_info_json(&a, 1720000110, &b);
    trl_buf_putc(&b, '\0');
    assert_string_equal(
        b.data, "{\"id\":\"agt-00000000000000a1\",\"hostname\":\"web\\\"01\",\"version\":\"0.1.0\","
                "\"status\":\"online\",\"enrolled_at\":\"2024-07-03T09:46:40.000000000Z\","
                "\"last_seen\":\"2024-07-03T09:48:20.000000000Z\",\"revoked_at\":null,"
                "\"events_total\":5,\"events_per_sec\":2.2,\"spool_depth\":3,\"dropped\":1,"
                "\"last_seq\":5,\"cert_serial\":\"7f01\",\"cert_fingerprint\":\"aa:bb\"}");
    trl_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_registry_lists_no_agents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enrolled_agents_are_listed_by_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_agent_counts_as_revoked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seen_records_health_and_goes_online, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seen_and_seq_of_unknown_agent_are_enoent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_commit_seq_survives_reopen_and_never_goes_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_revoke_by_another_handle_is_seen_within_a_second,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_enrolled_by_another_handle_is_accepted_at_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_enrolls_one_agent_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_check_rejects_wrong_secret_expiry_and_unknown_id,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_enroll_with_taken_id_is_eexist_and_keeps_token, setup,
                                        teardown),
        cmocka_unit_test(test_status_follows_last_seen_and_revocation),
        cmocka_unit_test_setup_teardown(test_tokens_expired_long_ago_are_forgotten, setup,
                                        teardown),
        cmocka_unit_test(test_agent_json_has_every_column_and_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

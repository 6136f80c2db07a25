#include "trl_test.h"

#include "test_agent_util.h"

#include "agent/utmp.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <utmp.h>

/*
 * The tests write struct utmp records straight into scratch wtmp/btmp files, the way login, sshd
 * and systemd append them, and check the events the reader produces from them.
 */
struct fixture {
    char *dir;
    char wtmp[4096];
    char btmp[4096];
    char state[4096];
    struct trl_arena *arena;
};

static int setup(void **state)
{
    trl_log_set_level(TRL_LOG_ERROR);
    struct fixture *f = calloc(1, sizeof(*f));
    f->dir = agent_test_mkdtemp();
    snprintf(f->wtmp, sizeof(f->wtmp), "%s/wtmp", f->dir);
    snprintf(f->btmp, sizeof(f->btmp), "%s/btmp", f->dir);
    snprintf(f->state, sizeof(f->state), "%s/utmp.offsets", f->dir);
    f->arena = trl_arena_create(65536);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    trl_arena_destroy(f->arena);
    agent_test_rmdir(f->dir);
    free(f);
    return 0;
}

static void put_rec(const char *path, short type, pid_t pid, const char *line, const char *user,
                    const char *host, const char *ip, int32_t sec)
{
    struct utmp r;
    memset(&r, 0, sizeof(r));
    r.ut_type = type;
    r.ut_pid = pid;
    strncpy(r.ut_line, line, sizeof(r.ut_line));
    strncpy(r.ut_user, user, sizeof(r.ut_user));
    strncpy(r.ut_host, host, sizeof(r.ut_host));
    if (ip && strchr(ip, ':'))
        assert_int_equal(inet_pton(AF_INET6, ip, r.ut_addr_v6), 1);
    else if (ip)
        assert_int_equal(inet_pton(AF_INET, ip, r.ut_addr_v6), 1);
    r.ut_tv.tv_sec = sec;
    r.ut_tv.tv_usec = 250000;
    agent_test_write(path, "a", &r, sizeof(r));
}

#define MAX_EV 32
struct got {
    int n;
    struct trl_event *ev[MAX_EV];
};

static int collect(void *ud, struct trl_event *ev)
{
    struct got *g = ud;
    assert_true(g->n < MAX_EV);
    g->ev[g->n++] = ev;
    return 0;
}

static struct trl_utmp *make(struct fixture *f, bool read_existing)
{
    struct trl_utmp_config cfg = {
        .state_path = f->state,
        .wtmp_path = f->wtmp,
        .btmp_path = f->btmp,
        .read_existing = read_existing,
    };
    struct trl_utmp *u;
    assert_int_equal(trl_utmp_create(&cfg, &u), 0);
    return u;
}

static struct got poll_once(struct fixture *f, struct trl_utmp *u)
{
    struct got g = {0};
    int n = trl_utmp_poll(u, f->arena, collect, &g);
    assert_int_equal(n, g.n);
    return g;
}

static const char *named(const struct trl_event *ev, const char *name)
{
    size_t len;
    const char *v = trl_event_get_named(ev, name, strlen(name), &len);
    return v ? trl_arena_strndup(ev->arena, v, len) : NULL;
}

static void test_utmp_reports_boot_login_and_attributed_logout(void **state)
{
    struct fixture *f = *state;
    put_rec(f->wtmp, BOOT_TIME, 0, "~", "reboot", "6.1.0-18-amd64", NULL, 1732700000);
    put_rec(f->wtmp, USER_PROCESS, 4242, "pts/0", "root", "203.0.113.7", "203.0.113.7", 1732700100);
    put_rec(f->wtmp, DEAD_PROCESS, 4242, "pts/0", "", "", NULL, 1732700200);
    struct trl_utmp *u = make(f, true);
    struct got g = poll_once(f, u);
    assert_int_equal(g.n, 3);

    assert_field(g.ev[0], TRL_F_EVENT_ACTION, "system-boot");
    assert_field(g.ev[0], TRL_F_EVENT_CATEGORY, "host");
    assert_string_equal(named(g.ev[0], "host.os.kernel"), "6.1.0-18-amd64");
    assert_field(g.ev[0], TRL_F_USER_NAME, "reboot");

    struct trl_event *in = g.ev[1];
    assert_field(in, TRL_F_EVENT_ACTION, "logged-in");
    assert_field(in, TRL_F_EVENT_KIND, "event");
    assert_field(in, TRL_F_EVENT_DATASET, "agent.login");
    assert_field(in, TRL_F_EVENT_CATEGORY, "authentication");
    assert_field(in, TRL_F_EVENT_TYPE, "start");
    assert_field(in, TRL_F_EVENT_OUTCOME, "success");
    assert_field(in, TRL_F_USER_NAME, "root");
    assert_field(in, TRL_F_SOURCE_IP, "203.0.113.7");
    assert_field(in, TRL_F_SOURCE_ADDRESS, "203.0.113.7");
    assert_field(in, TRL_F_RELATED_IP, "203.0.113.7");
    assert_field(in, TRL_F_PROCESS_PID, "4242");
    assert_field(in, TRL_F_LOG_FILE_PATH, f->wtmp);
    assert_field(in, TRL_F_MESSAGE, "root logged in on pts/0 from 203.0.113.7");
    assert_string_equal(named(in, "utmp.tty"), "pts/0");
    assert_int_equal(in->timestamp_ns, 1732700100250000000LL);
    /* Both categories are present. */
    int cats = 0;
    for (uint32_t i = 0; i < in->nfields; i++)
        cats += in->fields[i].field == TRL_F_EVENT_CATEGORY;
    assert_int_equal(cats, 2);

    struct trl_event *out = g.ev[2];
    assert_field(out, TRL_F_EVENT_ACTION, "logged-out");
    assert_field(out, TRL_F_EVENT_CATEGORY, "session");
    assert_field(out, TRL_F_EVENT_TYPE, "end");
    assert_field(out, TRL_F_USER_NAME, "root");
    assert_field(out, TRL_F_MESSAGE, "root logged out on pts/0");
    trl_utmp_destroy(u);
}

static void test_utmp_btmp_records_are_failed_logins(void **state)
{
    struct fixture *f = *state;
    put_rec(f->btmp, LOGIN_PROCESS, 901, "ssh:notty", "admin", "198.51.100.23", "198.51.100.23",
            1732700300);
    put_rec(f->btmp, USER_PROCESS, 902, "ssh:notty", "oracle", "2001:db8::17", "2001:db8::17",
            1732700301);
    struct trl_utmp *u = make(f, true);
    struct got g = poll_once(f, u);
    assert_int_equal(g.n, 2);
    assert_field(g.ev[0], TRL_F_EVENT_ACTION, "logon-failed");
    assert_field(g.ev[0], TRL_F_EVENT_CATEGORY, "authentication");
    assert_field(g.ev[0], TRL_F_EVENT_OUTCOME, "failure");
    assert_field(g.ev[0], TRL_F_USER_NAME, "admin");
    assert_field(g.ev[0], TRL_F_SOURCE_IP, "198.51.100.23");
    assert_field(g.ev[1], TRL_F_USER_NAME, "oracle");
    assert_field(g.ev[1], TRL_F_SOURCE_IP, "2001:db8::17");
    trl_utmp_destroy(u);
}

static void test_utmp_starts_at_end_without_state(void **state)
{
    struct fixture *f = *state;
    put_rec(f->wtmp, USER_PROCESS, 1, "pts/1", "old", "", NULL, 1700000000);
    struct trl_utmp *u = make(f, false);
    assert_int_equal(poll_once(f, u).n, 0);
    put_rec(f->wtmp, USER_PROCESS, 2, "pts/2", "new", "", NULL, 1700000100);
    struct got g = poll_once(f, u);
    assert_int_equal(g.n, 1);
    assert_field(g.ev[0], TRL_F_USER_NAME, "new");
    assert_field(g.ev[0], TRL_F_SOURCE_IP, NULL);
    trl_utmp_destroy(u);
}

static void test_utmp_truncation_is_reported_and_not_replayed(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 3; i++)
        put_rec(f->wtmp, USER_PROCESS, 10 + i, "pts/3", "alice", "", NULL, 1700000000 + i);
    struct trl_utmp *u = make(f, true);
    assert_int_equal(poll_once(f, u).n, 3);

    /* An intruder rewrites wtmp without the last two logins. */
    assert_int_equal(truncate(f->wtmp, sizeof(struct utmp)), 0);
    struct got g = poll_once(f, u);
    assert_int_equal(g.n, 1);
    assert_field(g.ev[0], TRL_F_EVENT_ACTION, "log-truncated");
    assert_field(g.ev[0], TRL_F_EVENT_CATEGORY, "file");
    assert_field(g.ev[0], TRL_F_FILE_PATH, f->wtmp);
    char want[32];
    snprintf(want, sizeof(want), "%zu", sizeof(struct utmp));
    assert_field(g.ev[0], TRL_F_FILE_SIZE, want);
    snprintf(want, sizeof(want), "%zu", 3 * sizeof(struct utmp));
    assert_string_equal(named(g.ev[0], "utmp.previous_size"), want);

    /* The record left in the file is not reported again; a new login is. */
    put_rec(f->wtmp, USER_PROCESS, 20, "pts/4", "bob", "", NULL, 1700000100);
    g = poll_once(f, u);
    assert_int_equal(g.n, 1);
    assert_field(g.ev[0], TRL_F_USER_NAME, "bob");
    trl_utmp_destroy(u);
}

static void test_utmp_deletion_is_reported_and_new_file_read(void **state)
{
    struct fixture *f = *state;
    put_rec(f->wtmp, USER_PROCESS, 1, "pts/0", "carol", "", NULL, 1700000000);
    struct trl_utmp *u = make(f, true);
    assert_int_equal(poll_once(f, u).n, 1);
    assert_int_equal(unlink(f->wtmp), 0);
    struct got g = poll_once(f, u);
    assert_int_equal(g.n, 1);
    assert_field(g.ev[0], TRL_F_EVENT_ACTION, "log-deleted");
    assert_field(g.ev[0], TRL_F_EVENT_TYPE, "deletion");

    put_rec(f->wtmp, USER_PROCESS, 2, "pts/1", "dave", "", NULL, 1700000050);
    g = poll_once(f, u);
    assert_int_equal(g.n, 1);
    assert_field(g.ev[0], TRL_F_USER_NAME, "dave");
    trl_utmp_destroy(u);
}

static void test_utmp_rotation_reads_old_tail_then_new_file(void **state)
{
    struct fixture *f = *state;
    put_rec(f->wtmp, USER_PROCESS, 1, "pts/0", "erin", "", NULL, 1700000000);
    struct trl_utmp *u = make(f, true);
    assert_int_equal(poll_once(f, u).n, 1);
    /* A last record reaches the old file, then logrotate renames it and creates a new one. */
    put_rec(f->wtmp, USER_PROCESS, 2, "pts/1", "frank", "", NULL, 1700000010);
    assert_int_equal(rename(f->wtmp, agent_test_path(f->dir, "wtmp.1")), 0);
    put_rec(f->wtmp, USER_PROCESS, 3, "pts/2", "grace", "", NULL, 1700000020);
    struct got g = poll_once(f, u);
    assert_int_equal(g.n, 2);
    assert_field(g.ev[0], TRL_F_USER_NAME, "frank");
    assert_field(g.ev[1], TRL_F_USER_NAME, "grace");
    trl_utmp_destroy(u);
}

static void test_utmp_restart_resumes_from_state(void **state)
{
    struct fixture *f = *state;
    put_rec(f->wtmp, USER_PROCESS, 1, "pts/0", "heidi", "", NULL, 1700000000);
    put_rec(f->btmp, LOGIN_PROCESS, 2, "ssh:notty", "guest", "192.0.2.1", NULL, 1700000001);
    struct trl_utmp *u = make(f, true);
    assert_int_equal(poll_once(f, u).n, 2);
    assert_int_equal(trl_utmp_commit(u), 0);
    trl_utmp_destroy(u);

    put_rec(f->wtmp, USER_PROCESS, 3, "pts/1", "ivan", "", NULL, 1700000100);
    u = make(f, true);
    struct got g = poll_once(f, u);
    assert_int_equal(g.n, 1);
    assert_field(g.ev[0], TRL_F_USER_NAME, "ivan");
    assert_int_equal(trl_utmp_commit(u), 0);
    trl_utmp_destroy(u);

    /* Wiped while the agent was down: reported at start-up. */
    assert_int_equal(truncate(f->wtmp, 0), 0);
    u = make(f, true);
    g = poll_once(f, u);
    assert_int_equal(g.n, 1);
    assert_field(g.ev[0], TRL_F_EVENT_ACTION, "log-truncated");
    assert_field(g.ev[0], TRL_F_FILE_SIZE, "0");
    trl_utmp_destroy(u);
}

static void test_utmp_partial_record_waits(void **state)
{
    struct fixture *f = *state;
    struct trl_utmp *u = make(f, true);
    assert_int_equal(poll_once(f, u).n, 0);
    struct utmp r;
    memset(&r, 0, sizeof(r));
    r.ut_type = USER_PROCESS;
    strcpy(r.ut_user, "judy");
    strcpy(r.ut_line, "tty1");
    r.ut_tv.tv_sec = 1700000000;
    agent_test_write(f->wtmp, "a", &r, 100);
    assert_int_equal(poll_once(f, u).n, 0);
    agent_test_write(f->wtmp, "a", (char *)&r + 100, sizeof(r) - 100);
    struct got g = poll_once(f, u);
    assert_int_equal(g.n, 1);
    assert_field(g.ev[0], TRL_F_USER_NAME, "judy");
    trl_utmp_destroy(u);
}

static void test_utmp_record_without_nul_terminators(void **state)
{
    struct fixture *f = *state;
    struct utmp r;
    memset(&r, 'A', sizeof(r));
    r.ut_type = USER_PROCESS;
    r.ut_tv.tv_sec = 1700000000;
    r.ut_tv.tv_usec = 0;
    memset(r.ut_addr_v6, 0, sizeof(r.ut_addr_v6));
    struct trl_event *ev = trl_utmp_record_event(f->arena, &r, sizeof(r), false, "/var/log/wtmp");
    assert_non_null(ev);
    size_t len;
    assert_non_null(trl_event_get(ev, TRL_F_USER_NAME, &len));
    assert_int_equal(len, UT_NAMESIZE);
    assert_non_null(trl_event_get(ev, TRL_F_SOURCE_ADDRESS, &len));
    assert_int_equal(len, UT_HOSTSIZE);
    /* Too short to be a record, and record types that report nothing. */
    assert_null(trl_utmp_record_event(f->arena, &r, sizeof(r) - 1, false, "/var/log/wtmp"));
    r.ut_type = INIT_PROCESS;
    assert_null(trl_utmp_record_event(f->arena, &r, sizeof(r), false, "/var/log/wtmp"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_utmp_reports_boot_login_and_attributed_logout),
        T(test_utmp_btmp_records_are_failed_logins),
        T(test_utmp_starts_at_end_without_state),
        T(test_utmp_truncation_is_reported_and_not_replayed),
        T(test_utmp_deletion_is_reported_and_new_file_read),
        T(test_utmp_rotation_reads_old_tail_then_new_file),
        T(test_utmp_restart_resumes_from_state),
        T(test_utmp_partial_record_waits),
        T(test_utmp_record_without_nul_terminators),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The audit netlink source: records become the same events as audit.log lines, and on a kernel
 * that allows it, the execve objective reports a program this test runs, with its pid and
 * arguments, as one assembled event. */
#include "trl_test.h"

#include "agent/audit_nl.h"
#include "agent/audit_rules.h"
#include "core/arena.h"
#include "core/event.h"
#include "core/fields.h"
#include "core/timeutil.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_a_netlink_record_parses_like_an_audit_log_line(void **state)
{
    (void)state;
    struct trl_arena *a = trl_arena_create(1 << 14);
    /* The kernel's payload: no "type=", a trailing newline and NUL inside the length. */
    const char payload[] =
        "audit(1720563243.412:8801): arch=c000003e syscall=59 success=yes exit=0 "
        "ppid=4100 pid=4102 auid=1001 uid=0 comm=\"id\" exe=\"/usr/bin/id\" "
        "key=\"trl_exec\"\n";
    struct trl_event *ev = trl_audit_nl_record(a, 1300, payload, sizeof(payload));
    assert_non_null(ev);
    assert_string_equal(ev->original, "type=SYSCALL msg=audit(1720563243.412:8801): arch=c000003e "
                                      "syscall=59 success=yes exit=0 ppid=4100 pid=4102 auid=1001 "
                                      "uid=0 comm=\"id\" exe=\"/usr/bin/id\" key=\"trl_exec\"");
    assert_field(ev, TRL_F_PROCESS_PID, "4102");
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE, "/usr/bin/id");
    char ts[TRL_RFC3339_MAX];
    trl_format_rfc3339(ev->timestamp_ns, ts);
    assert_string_equal(ts, "2024-07-09T22:14:03.412000000Z");

    /* A type libaudit does not name is written as auditd writes it. */
    ev = trl_audit_nl_record(a, 1999, "audit(1.5:7): x=1", 17);
    assert_non_null(ev);
    assert_string_equal(ev->original, "type=UNKNOWN[1999] msg=audit(1.5:7): x=1");
    trl_arena_destroy(a);
}

static void test_malformed_records_are_refused_without_harm(void **state)
{
    (void)state;
    struct trl_arena *a = trl_arena_create(1 << 14);
    const char *bad[] = {"", "audit(", "audit(x:y): a=b", "no header at all", "audit(1.0:1"};
    for (size_t i = 0; i < TRL_ARRAY_LEN(bad); i++)
        trl_audit_nl_record(a, 1300, bad[i], strlen(bad[i]));
    char binary[64];
    for (size_t i = 0; i < sizeof(binary); i++)
        binary[i] = (char)(i * 37 + 1);
    trl_audit_nl_record(a, 1300, binary, sizeof(binary));
    trl_arena_destroy(a);
}

static void test_the_preset_names_every_objective_once(void **state)
{
    (void)state;
    size_t n = 0;
    for (const struct trl_audit_objective *o = trl_audit_objectives; o->key; o++, n++) {
        assert_true(strncmp(o->key, "trl_", 4) == 0);
        assert_true((o->syscalls != NULL) != (o->paths != NULL));
        for (const struct trl_audit_objective *p = trl_audit_objectives; p != o; p++)
            assert_string_not_equal(p->key, o->key);
    }
    assert_true(n >= 8);
}

struct probe {
    pid_t pid;
    char token[64];
    bool seen;
    char args[256];
};

static int find_probe(void *ud, struct trl_event *ev)
{
    struct probe *p = ud;
    size_t len = 0;
    const char *pid = trl_event_get(ev, TRL_F_PROCESS_PID, &len);
    char want[24];
    snprintf(want, sizeof(want), "%d", (int)p->pid);
    if (!pid || len != strlen(want) || memcmp(pid, want, len) != 0)
        return 0;
    const char *cmd = trl_event_get(ev, TRL_F_PROCESS_COMMAND_LINE, &len);
    if (cmd && memmem(cmd, len, p->token, strlen(p->token))) {
        p->seen = true;
        snprintf(p->args, sizeof(p->args), "%.*s", (int)len, cmd);
    }
    return 0;
}

static void test_an_exec_by_this_test_is_reported_with_its_pid(void **state)
{
    (void)state;
    const char *const keys[] = {"trl_exec", NULL};
    struct trl_audit_nl_config cfg = {
        .mode = TRL_AUDIT_AUTO, .objectives = true, .objective_keys = keys};
    struct trl_audit_nl *an = NULL;
    int rc = trl_audit_nl_create(&cfg, &an);
    if (rc == -EPERM || rc == -EPROTONOSUPPORT || rc == -EACCES) {
        print_message("skipped: this kernel or these privileges allow no audit netlink (%s)\n",
                      strerror(-rc));
        skip();
    }
    assert_int_equal(rc, 0);
    struct trl_audit_nl_stats st;
    trl_audit_nl_get_stats(an, &st);
    assert_true(st.rules >= 1);

    struct probe p = {0};
    snprintf(p.token, sizeof(p.token), "trl-audit-probe-%d", (int)getpid());
    p.pid = fork();
    assert_true(p.pid >= 0);
    if (p.pid == 0) {
        execl("/bin/echo", "echo", p.token, (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(p.pid, &status, 0);

    struct trl_arena *a = trl_arena_create(1 << 16);
    int64_t until = trl_now_ns() + 5 * TRL_NS_PER_SEC;
    while (!p.seen && trl_now_ns() < until) {
        struct pollfd pfd = {.fd = trl_audit_nl_fd(an), .events = POLLIN};
        poll(&pfd, 1, 100);
        trl_arena_reset(a);
        assert_true(trl_audit_nl_poll(an, a, find_probe, &p) >= 0);
    }
    trl_arena_destroy(a);
    trl_audit_nl_destroy(an);
    if (!p.seen)
        fail_msg("no audit event for pid %d running `echo %s`", (int)p.pid, p.token);
    char want[128];
    snprintf(want, sizeof(want), "echo %s", p.token);
    assert_string_equal(p.args, want);

    /* Destroy gave the daemon's place back: another reader can take it. */
    cfg.objectives = false;
    cfg.mode = TRL_AUDIT_DAEMON;
    assert_int_equal(trl_audit_nl_create(&cfg, &an), 0);
    trl_audit_nl_destroy(an);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_netlink_record_parses_like_an_audit_log_line),
        cmocka_unit_test(test_malformed_records_are_refused_without_harm),
        cmocka_unit_test(test_the_preset_names_every_objective_once),
        cmocka_unit_test(test_an_exec_by_this_test_is_reported_with_its_pid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

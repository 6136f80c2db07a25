#include "trl_test.h"

#include "test_agent_util.h"

#include "agent/proc.h"
#include "agent/procfs.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

/*
 * The monitor needs CAP_NET_ADMIN and a kernel with the process connector; without them the
 * exec test is skipped with a message. The /proc reading helpers are tested everywhere.
 */
struct found {
    pid_t pid;
    const char *marker;
    struct trl_event *by_pid; /* the exec event of pid */
    struct trl_event *ev;     /* the same, when its command line holds the marker */
    int total;
};

static void on_event(void *ud, struct trl_event *ev)
{
    struct found *f = ud;
    f->total++;
    size_t len;
    const char *pid = trl_event_get(ev, TRL_F_PROCESS_PID, &len);
    char want[16];
    snprintf(want, sizeof(want), "%d", (int)f->pid);
    if (!pid || len != strlen(want) || memcmp(pid, want, len) != 0)
        return;
    f->by_pid = ev;
    const char *cmd = trl_event_get(ev, TRL_F_PROCESS_COMMAND_LINE, &len);
    if (cmd && trl_memstr(cmd, len, f->marker))
        f->ev = ev;
}

static struct trl_proc *open_or_skip(void)
{
    struct trl_proc_config cfg = {0};
    struct trl_proc *p = NULL;
    int rc = trl_proc_create(&cfg, &p);
    if (rc < 0) {
        print_message("skipped: process connector unavailable (%s); needs root / CAP_NET_ADMIN\n",
                      strerror(-rc));
        return NULL;
    }
    return p;
}

static void test_proc_reports_exec_with_command_line(void **state)
{
    (void)state;
    trl_log_set_level(TRL_LOG_ERROR);
    struct trl_proc *p = open_or_skip();
    if (!p) {
        skip();
        return;
    }
    char marker[64];
    snprintf(marker, sizeof(marker), "trl-proc-test-%d-%lld", (int)getpid(),
             (long long)(trl_mono_ns() % 1000000007));
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        execl("/bin/sh", "sh", "-c", "sleep 0.3", marker, (char *)NULL);
        _exit(127);
    }
    struct trl_arena *arena = trl_arena_create(65536);
    struct found f = {.pid = child, .marker = marker};
    int64_t deadline = trl_mono_ns() + 3 * TRL_NS_PER_SEC;
    while (!f.ev && trl_mono_ns() < deadline) {
        struct pollfd pfd = {trl_proc_fd(p), POLLIN, 0};
        poll(&pfd, 1, 100);
        assert_true(trl_proc_poll(p, arena, on_event, &f) >= 0);
    }
    int status;
    waitpid(child, &status, 0);
    assert_non_null(f.ev);
    struct trl_event *ev = f.ev;
    assert_field(ev, TRL_F_EVENT_ACTION, "process-started");
    assert_field(ev, TRL_F_EVENT_CATEGORY, "process");
    assert_field(ev, TRL_F_EVENT_TYPE, "start");
    assert_field(ev, TRL_F_EVENT_DATASET, "agent.process");
    char want[PATH_MAX + 64];
    snprintf(want, sizeof(want), "sh -c sleep 0.3 %s", marker);
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE, want);
    assert_field(ev, TRL_F_PROCESS_ARGS_COUNT, "4");
    assert_field(ev, TRL_F_PROCESS_ARGS, "sh");
    snprintf(want, sizeof(want), "%d", (int)getpid());
    assert_field(ev, TRL_F_PROCESS_PARENT_PID, want);
    char sh[PATH_MAX];
    assert_non_null(realpath("/bin/sh", sh));
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE, sh);
    assert_field(ev, TRL_F_PROCESS_NAME, trl_procfs_basename(sh));
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    assert_true(n > 0);
    self[n] = '\0';
    assert_field(ev, TRL_F_PROCESS_PARENT_EXECUTABLE, self);
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_field(ev, TRL_F_PROCESS_WORKING_DIRECTORY, cwd);
    snprintf(want, sizeof(want), "%u", (unsigned)getuid());
    assert_field(ev, TRL_F_USER_ID, want);
    /* The announcement's time is converted to wall-clock time. */
    assert_true(llabs(ev->timestamp_ns - trl_now_ns()) < 10 * TRL_NS_PER_SEC);
    trl_arena_destroy(arena);
    trl_proc_destroy(p);
}

static void test_proc_short_lived_process_still_reported(void **state)
{
    (void)state;
    trl_log_set_level(TRL_LOG_ERROR);
    struct trl_proc *p = open_or_skip();
    if (!p) {
        skip();
        return;
    }
    /* The child is gone (and reaped) before the monitor looks: the event carries the pid and the
     * parent from the fork announcement. */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(child, &status, 0);
    struct trl_arena *arena = trl_arena_create(65536);
    struct found f = {.pid = child, .marker = "-"};
    int64_t deadline = trl_mono_ns() + 3 * TRL_NS_PER_SEC;
    while (!f.by_pid && trl_mono_ns() < deadline) {
        struct pollfd pfd = {trl_proc_fd(p), POLLIN, 0};
        poll(&pfd, 1, 100);
        assert_true(trl_proc_poll(p, arena, on_event, &f) >= 0);
    }
    struct trl_event *ev = f.by_pid;
    assert_non_null(ev);
    char want[16];
    snprintf(want, sizeof(want), "%d", (int)child);
    assert_field(ev, TRL_F_PROCESS_PID, want);
    snprintf(want, sizeof(want), "%d", (int)getpid());
    assert_field(ev, TRL_F_PROCESS_PARENT_PID, want);
    struct trl_proc_stats st;
    trl_proc_stats(p, &st);
    assert_true(st.execs >= 1);
    assert_true(st.partial >= 1);
    trl_arena_destroy(arena);
    trl_proc_destroy(p);
}

static void test_procfs_reads_own_process(void **state)
{
    (void)state;
    struct trl_procinfo *pi = malloc(sizeof(*pi));
    assert_int_equal(trl_procfs_read("/proc", getpid(),
                                     TRL_PI_EXE | TRL_PI_CMDLINE | TRL_PI_STATUS | TRL_PI_CWD, pi),
                     0);
    assert_int_equal(pi->valid, TRL_PI_EXE | TRL_PI_CMDLINE | TRL_PI_STATUS | TRL_PI_CWD);
    assert_int_equal(pi->ppid, getppid());
    assert_int_equal(pi->uid, getuid());
    assert_int_equal(pi->euid, geteuid());
    assert_int_equal(pi->gid, getgid());
    assert_true(pi->cmdline_len > 0);
    assert_string_equal(trl_procfs_basename(pi->exe), "test_agent_proc");
    /* A pid that does not exist. */
    assert_int_equal(trl_procfs_read("/proc", 0x7ffffff0, TRL_PI_EXE | TRL_PI_STATUS, pi), -ESRCH);
    assert_int_equal(pi->valid, 0);
    free(pi);
    assert_string_equal(trl_procfs_basename("/usr/bin/curl (deleted)"), "curl (deleted)");
    assert_string_equal(trl_procfs_basename("sshd"), "sshd");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proc_reports_exec_with_command_line),
        cmocka_unit_test(test_proc_short_lived_process_still_reported),
        cmocka_unit_test(test_procfs_reads_own_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

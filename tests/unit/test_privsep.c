#include "trl_test.h"

#include "agent/privsep.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/*
 * The network process's confinement: a child of the test gives up its privileges with
 * trl_privsep_drop() and then checks, from the inside, what it holds (its own
 * /proc/self/task/TID/status and a thread's) and what it can still do. It writes one line per
 * check to a pipe; the test compares them. As root the user switch is checked too; otherwise
 * that part is skipped with a message (the rest holds for any user).
 */

struct thread_caps {
    struct trl_privsep_status st;
    int rc;
};

static void *thread_main(void *arg)
{
    struct thread_caps *t = arg;
    t->rc = trl_privsep_status(0, &t->st);
    return NULL;
}

static void report(int fd, const char *what, long got)
{
    char line[160];
    int n = snprintf(line, sizeof(line), "%s=%ld\n", what, got);
    if (write(fd, line, (size_t)n) != n)
        _exit(3);
}

static void child(int fd, bool root)
{
    struct trl_privsep_user u;
    if (trl_privsep_lookup("nobody", &u) != 0)
        _exit(2);
    char err[300];
    int rc = trl_privsep_drop(&u, err, sizeof(err));
    report(fd, "drop", rc);
    if (rc != 0)
        _exit(0);
    struct trl_privsep_status st;
    report(fd, "status", trl_privsep_status(0, &st));
    report(fd, "CapEff", (long)st.cap_eff);
    report(fd, "CapPrm", (long)st.cap_prm);
    report(fd, "CapInh", (long)st.cap_inh);
    report(fd, "CapBnd", root ? (long)st.cap_bnd : 0);
    report(fd, "CapAmb", (long)st.cap_amb);
    report(fd, "NoNewPrivs", st.no_new_privs);
    report(fd, "Seccomp", st.seccomp);
    report(fd, "root", root ? (long)(st.uid == 0) : 0);
    /* A thread (as the resolver makes them) starts with nothing either. */
    pthread_t th;
    struct thread_caps tc = {.rc = -1};
    report(fd, "thread", pthread_create(&th, NULL, thread_main, &tc));
    pthread_join(th, NULL);
    report(fd, "thread.CapEff", tc.rc == 0 ? (long)tc.st.cap_eff : -1);
    report(fd, "thread.Seccomp", tc.st.seccomp);
    /* What the network process needs still works. */
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    report(fd, "tcp", s >= 0);
    close(s);
    s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    report(fd, "udp6", s >= 0);
    close(s);
    int ro = open("/etc/hosts", O_RDONLY | O_CLOEXEC);
    report(fd, "read", ro >= 0);
    close(ro);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    report(fd, "resolve", getaddrinfo("127.0.0.1", "80", &hints, &res) == 0);
    if (res)
        freeaddrinfo(res);
    /* What it must not do. */
    errno = 0;
    int w = open("/tmp/trl-privsep-test-write", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    report(fd, "write", w >= 0 ? 0 : errno);
    char *const argv[] = {"/bin/true", NULL};
    errno = 0;
    execve("/bin/true", argv, NULL);
    report(fd, "exec", errno);
    errno = 0;
    s = socket(AF_PACKET, SOCK_RAW, 0);
    report(fd, "packet", s >= 0 ? 0 : errno);
    errno = 0;
    s = socket(AF_NETLINK, SOCK_RAW, 9 /* NETLINK_AUDIT */);
    report(fd, "audit", s >= 0 ? 0 : errno);
    errno = 0;
    long pid = syscall(SYS_clone, (unsigned long)SIGCHLD, 0, 0, 0, 0);
    if (pid == 0)
        _exit(0);
    report(fd, "fork", pid > 0 ? 0 : errno);
    errno = 0;
    report(fd, "setuid", setuid(0) == 0 ? 0 : errno);
    errno = 0;
    report(fd, "ptrace", syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0) == 0 ? 0 : errno);
    _exit(0);
}

static void test_dropped_process_holds_nothing_and_can_do_little(void **state)
{
    (void)state;
    bool root = geteuid() == 0;
    if (!root)
        printf("not root: the user switch and the bounding set are not checked\n");
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child(p[1], root);
    }
    close(p[1]);
    char out[4096];
    size_t len = 0;
    ssize_t n;
    while ((n = read(p[0], out + len, sizeof(out) - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(p[0]);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    unlink("/tmp/trl-privsep-test-write");
    char want[1024];
    snprintf(want, sizeof(want),
             "drop=0\nstatus=0\nCapEff=0\nCapPrm=0\nCapInh=0\nCapBnd=0\nCapAmb=0\n"
             "NoNewPrivs=1\nSeccomp=2\nroot=0\nthread=0\nthread.CapEff=0\nthread.Seccomp=2\n"
             "tcp=1\nudp6=1\nread=1\nresolve=1\nwrite=%d\nexec=%d\npacket=%d\naudit=%d\n"
             "fork=%d\nsetuid=%d\nptrace=%d\n",
             EACCES, EPERM, EPERM, EPERM, EPERM, EPERM, EPERM);
    assert_string_equal(out, want);
}

static void test_lookup_refuses_root_without_user(void **state)
{
    (void)state;
    struct trl_privsep_user u;
    if (geteuid() != 0) {
        assert_int_equal(trl_privsep_lookup("", &u), 0);
        assert_false(u.change);
        return;
    }
    assert_int_equal(trl_privsep_lookup("", &u), TRL_EINVAL);
    assert_int_equal(trl_privsep_lookup("root", &u), TRL_EINVAL);
    assert_int_equal(trl_privsep_lookup("trl-no-such-user", &u), 0);
    assert_true(u.change);
    assert_int_equal(u.uid, 65534);
}

static void test_status_reads_this_thread(void **state)
{
    (void)state;
    struct trl_privsep_status st;
    assert_int_equal(trl_privsep_status(0, &st), 0);
    assert_int_equal(st.uid, geteuid());
    assert_true(st.no_new_privs == 0 || st.no_new_privs == 1);
    assert_int_equal(trl_privsep_status(999999999, &st), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dropped_process_holds_nothing_and_can_do_little),
        cmocka_unit_test(test_lookup_refuses_root_without_user),
        cmocka_unit_test(test_status_reads_this_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

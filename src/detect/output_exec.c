/*
 * The exec output: runs a program for each alert, never through a shell. The alert JSON is its
 * standard input, TRAPLINE_ALERT_ID, TRAPLINE_ALERT_LEVEL and TRAPLINE_ALERT_RULE are in its
 * environment, its standard output is discarded and its standard error is Trapline's. Exit status
 * 0 means delivered; a program that runs past the timeout is killed and the alert retried.
 */
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "detect/outputs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct exec_out {
    struct trl_output base;
    char **argv; /* NULL-terminated, owned */
    size_t argc;
    int64_t timeout_ms;
};

static bool is_ours(const char *var)
{
    return !strncmp(var, "TRAPLINE_ALERT_ID=", 18) || !strncmp(var, "TRAPLINE_ALERT_LEVEL=", 21) ||
           !strncmp(var, "TRAPLINE_ALERT_RULE=", 20);
}

/* The child's environment: ours without any inherited TRAPLINE_ALERT_*, plus the alert's. */
static char **build_env(const struct trl_outbox_item *it, char *vars[3])
{
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **env = trl_xcalloc(n + 4, sizeof(*env));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_ours(environ[i]))
            env[k++] = environ[i];
    }
    const char *level = json_string_value(json_object_get(it->alert, "level"));
    const char *rule = json_string_value(json_object_get(it->alert, "rule_id"));
    struct trl_buf b = {0};
    trl_buf_printf(&b, "TRAPLINE_ALERT_ID=%lld", (long long)it->alert_id);
    vars[0] = trl_xstrdup(b.data);
    trl_buf_reset(&b);
    trl_buf_printf(&b, "TRAPLINE_ALERT_LEVEL=%s", level ? level : "");
    vars[1] = trl_xstrdup(b.data);
    trl_buf_reset(&b);
    trl_buf_printf(&b, "TRAPLINE_ALERT_RULE=%s", rule ? rule : "");
    vars[2] = trl_xstrdup(b.data);
    trl_buf_free(&b);
    env[k++] = vars[0];
    env[k++] = vars[1];
    env[k++] = vars[2];
    return env;
}

/* Writes the body to the child's stdin until done, the child stops reading, or the deadline.
 * SIGPIPE is blocked meanwhile in the calling thread, and one it raised is taken back, so that a
 * program that exits without reading cannot kill Trapline. */
static void feed(int fd, const char *p, size_t len, int64_t deadline_ms)
{
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    bool broken = false;
    while (len > 0) {
        int64_t left = deadline_ms - trl_mono_ns() / 1000000;
        if (left <= 0)
            return;
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        if (poll(&pf, 1, (int)TRL_MIN(left, 1000)) <= 0)
            continue;
        ssize_t n = write(fd, p, len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            /* EPIPE: the program does not want it all; its exit status decides. */
            broken = n < 0 && errno == EPIPE;
            break;
        }
        p += n;
        len -= (size_t)n;
    }
    if (broken && !sigismember(&old, SIGPIPE)) {
        struct timespec zero = {0};
        sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Waits for the child until the deadline, then kills it. Returns its wait status, or -1 when it
 * was killed for running too long. */
static int reap(pid_t pid, int64_t deadline_ms)
{
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            return -2;
        if (trl_mono_ns() / 1000000 >= deadline_ms) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            return -1;
        }
        struct timespec ts = {.tv_nsec = 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int deliver(struct trl_output *base, const struct trl_outbox_item *it, char *err,
                   size_t errlen)
{
    struct exec_out *x = (struct exec_out *)base;
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -errno;
    }
    char *vars[3];
    char **env = build_env(it, vars);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[0], 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, x->argv[0], &fa, NULL, x->argv, env);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[0]);
    free(env);
    for (int i = 0; i < 3; i++)
        free(vars[i]);
    if (rc != 0) {
        close(pipefd[1]);
        snprintf(err, errlen, "cannot run %s: %s", x->argv[0], strerror(rc));
        return -rc;
    }
    int64_t deadline = trl_mono_ns() / 1000000 + x->timeout_ms;
    fcntl(pipefd[1], F_SETFL, O_NONBLOCK);
    feed(pipefd[1], it->body, it->len, deadline);
    close(pipefd[1]);
    int status = reap(pid, deadline);
    if (status == -1) {
        snprintf(err, errlen, "%s killed after %lld ms", x->argv[0], (long long)x->timeout_ms);
        return -ETIMEDOUT;
    }
    if (status == -2) {
        snprintf(err, errlen, "cannot wait for %s: %s", x->argv[0], strerror(errno));
        return -ECHILD;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        snprintf(err, errlen, "%s exited with status %d", x->argv[0], WEXITSTATUS(status));
    else
        snprintf(err, errlen, "%s killed by signal %d", x->argv[0],
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return TRL_EINVAL;
}

static void destroy(struct trl_output *base)
{
    struct exec_out *x = (struct exec_out *)base;
    for (size_t i = 0; i < x->argc; i++)
        free(x->argv[i]);
    free(x->argv);
    free(x);
}

struct trl_output *trl_output_exec_create(const struct trl_outputs_config *c)
{
    if (c->exec_argc == 0 || !c->exec_argv[0][0]) {
        trl_error("outputs", "alerts.exec.command: the program to run is empty");
        return NULL;
    }
    struct exec_out *x = trl_xcalloc(1, sizeof(*x));
    x->base.name = "exec";
    x->base.deliver = deliver;
    x->base.destroy = destroy;
    x->argc = c->exec_argc;
    x->argv = trl_xcalloc(c->exec_argc + 1, sizeof(*x->argv));
    for (size_t i = 0; i < c->exec_argc; i++)
        x->argv[i] = trl_xstrdup(c->exec_argv[i]);
    x->timeout_ms = c->exec_timeout_ms > 0 ? c->exec_timeout_ms : 30000;
    return &x->base;
}

/*
 * privsep: capability, user and system-call confinement of the agent's network process (see
 * privsep.h). The seccomp program is classic BPF written out here (no libseccomp): check the
 * architecture, load the system call number, compare it with the allowed ones; a few calls are
 * allowed only with safe arguments (socket families, read-only opens, thread-only clone, a short
 * list of ioctl requests).
 */
#include "agent/privsep.h"

#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <pwd.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#if defined(__x86_64__)
#define TRL_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TRL_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

int trl_privsep_lookup(const char *user, struct trl_privsep_user *out)
{
    memset(out, 0, sizeof(*out));
    if (geteuid() != 0)
        return 0;
    if (!user || !user[0])
        return TRL_EINVAL;
    out->change = true;
    snprintf(out->name, sizeof(out->name), "%s", user);
    struct passwd *pw = getpwnam(user);
    out->uid = pw ? pw->pw_uid : 65534;
    out->gid = pw ? pw->pw_gid : 65534;
    if (out->uid == 0)
        return TRL_EINVAL;
    return 0;
}

/* ---- capabilities ---- */

static int cap_last(void)
{
    int last = 40;
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
    if (f) {
        if (fscanf(f, "%d", &last) != 1)
            last = 40;
        fclose(f);
    }
    return last;
}

static int drop_thread_caps(void)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof(d));
    return syscall(SYS_capset, &h, d) == 0 ? 0 : -errno;
}

/* ---- seccomp ---- */

#define LOAD_NR   BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define ARG_LO(i) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[i]))
#define RET(v)    BPF_STMT(BPF_RET | BPF_K, (v))
#define DENY      RET(SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))

/* Calls allowed with any argument. */
static const int plain_calls[] = {
    SYS_read,
    SYS_write,
    SYS_readv,
    SYS_writev,
    SYS_pread64,
    SYS_close,
    SYS_fstat,
    SYS_newfstatat,
    SYS_statx,
    SYS_lseek,
    SYS_mmap,
    SYS_munmap,
    SYS_mprotect,
    SYS_mremap,
    SYS_brk,
    SYS_madvise,
    SYS_futex,
    SYS_set_robust_list,
    SYS_get_robust_list,
    SYS_rt_sigaction,
    SYS_rt_sigprocmask,
    SYS_rt_sigreturn,
    SYS_sigaltstack,
    SYS_exit,
    SYS_exit_group,
    SYS_getpid,
    SYS_gettid,
    SYS_getppid,
    SYS_getuid,
    SYS_geteuid,
    SYS_getgid,
    SYS_getegid,
    SYS_getrandom,
    SYS_clock_gettime,
    SYS_clock_getres,
    SYS_gettimeofday,
    SYS_nanosleep,
    SYS_clock_nanosleep,
    SYS_sched_yield,
    SYS_sched_getaffinity,
    SYS_uname,
    SYS_epoll_create1,
    SYS_epoll_ctl,
    SYS_epoll_pwait,
    SYS_ppoll,
    SYS_pselect6,
    SYS_eventfd2,
    SYS_pipe2,
    SYS_connect,
    SYS_sendto,
    SYS_recvfrom,
    SYS_sendmsg,
    SYS_recvmsg,
    SYS_sendmmsg,
    SYS_recvmmsg,
    SYS_shutdown,
    SYS_bind,
    SYS_getsockname,
    SYS_getpeername,
    SYS_setsockopt,
    SYS_getsockopt,
    SYS_fcntl,
    SYS_dup,
    SYS_dup3,
    SYS_faccessat,
    SYS_readlinkat,
    SYS_getdents64,
    SYS_prlimit64,
    SYS_set_tid_address,
    SYS_rseq,
    SYS_restart_syscall,
    SYS_sysinfo,
    SYS_getrusage,
    SYS_timerfd_create,
    SYS_timerfd_settime,
    SYS_membarrier,
#ifdef SYS_epoll_pwait2
    SYS_epoll_pwait2,
#endif
#ifdef SYS_faccessat2
    SYS_faccessat2,
#endif
#if defined(__x86_64__)
    SYS_poll,
    SYS_select,
    SYS_epoll_wait,
    SYS_epoll_create,
    SYS_pipe,
    SYS_dup2,
    SYS_stat,
    SYS_lstat,
    SYS_access,
    SYS_readlink,
    SYS_getdents,
    SYS_arch_prctl,
    SYS_time,
#endif
};

/* Flags that make an open able to change a file. */
#define OPEN_WRITE_FLAGS (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)

static int install_filter(void)
{
#ifndef TRL_AUDIT_ARCH
    return -ENOSYS;
#else
    size_t n = TRL_ARRAY_LEN(plain_calls);
    size_t cap = n * 2 + 96;
    struct sock_filter *p = trl_xcalloc(cap, sizeof(*p));
    size_t i = 0;
    p[i++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    p[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TRL_AUDIT_ARCH, 1, 0);
    p[i++] = (struct sock_filter)RET(SECCOMP_RET_KILL_PROCESS);
    p[i++] = (struct sock_filter)LOAD_NR;
#if defined(__x86_64__)
    /* x32 numbers (bit 30) are another ABI. */
    p[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);
    p[i++] = (struct sock_filter)RET(SECCOMP_RET_KILL_PROCESS);
#endif
    for (size_t k = 0; k < n; k++) {
        p[i++] =
            (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)plain_calls[k], 0, 1);
        p[i++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
    }
    /* clone3 cannot be checked (its flags are in memory): ENOSYS makes libc use clone. */
    p[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 435, 0, 1);
    p[i++] = (struct sock_filter)RET(SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
    /* clone: threads (of the resolver) only, never a new process. */
    p[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 4);
    p[i++] = (struct sock_filter)ARG_LO(0);
    p[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1);
    p[i++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
    p[i++] = (struct sock_filter)DENY;
    /* tgkill: signals to this process only (abort() raises one). */
    p[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_tgkill, 0, 4);
    p[i++] = (struct sock_filter)ARG_LO(0);
    p[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)getpid(), 0, 1);
    p[i++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
    p[i++] = (struct sock_filter)DENY;
    /* openat: read-only. */
    p[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 4);
    p[i++] = (struct sock_filter)ARG_LO(2);
    p[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, OPEN_WRITE_FLAGS, 0, 1);
    p[i++] = (struct sock_filter)RET(SECCOMP_RET_ERRNO | (EACCES & SECCOMP_RET_DATA));
    p[i++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
#if defined(__x86_64__)
    p[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_open, 0, 4);
    p[i++] = (struct sock_filter)ARG_LO(1);
    p[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, OPEN_WRITE_FLAGS, 0, 1);
    p[i++] = (struct sock_filter)RET(SECCOMP_RET_ERRNO | (EACCES & SECCOMP_RET_DATA));
    p[i++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
#endif
    /* socket and socketpair: inet, inet6, unix; netlink only for routes (the resolver's
     * interface list). */
    static const int sock_calls[] = {SYS_socket, SYS_socketpair};
    for (size_t k = 0; k < TRL_ARRAY_LEN(sock_calls); k++) {
        p[i++] =
            (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)sock_calls[k], 0, 9);
        p[i++] = (struct sock_filter)ARG_LO(0);
        p[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET, 5, 0);
        p[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 4, 0);
        p[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 3, 0);
        p[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 0, 3);
        p[i++] = (struct sock_filter)ARG_LO(2);
        p[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NETLINK_ROUTE, 0, 1);
        p[i++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
        p[i++] = (struct sock_filter)DENY;
    }
    /* ioctl: non-blocking and close-on-exec switches, bytes readable, "is it a terminal". */
    static const unsigned ioctls[] = {FIONBIO, FIOCLEX, FIONCLEX, FIONREAD, TCGETS};
    p[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0,
                                          (unsigned char)(TRL_ARRAY_LEN(ioctls) + 3));
    p[i++] = (struct sock_filter)ARG_LO(1);
    for (size_t k = 0; k < TRL_ARRAY_LEN(ioctls); k++)
        p[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ioctls[k],
                                              (unsigned char)(TRL_ARRAY_LEN(ioctls) - k), 0);
    p[i++] = (struct sock_filter)DENY;
    p[i++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
    p[i++] = (struct sock_filter)DENY;
    struct sock_fprog prog = {.len = (unsigned short)i, .filter = p};
    int rc = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0 ? 0 : -errno;
    free(p);
    return rc;
#endif
}

int trl_privsep_drop(const struct trl_privsep_user *u, char *err, size_t errlen)
{
    int last = cap_last();
    bool root = geteuid() == 0;
    for (int c = 0; c <= last; c++) {
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL && root) {
            snprintf(err, errlen, "cannot drop capability %d from the bounding set: %s", c,
                     strerror(errno));
            return -errno;
        }
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (u && u->change) {
        if (setgroups(0, NULL) != 0 || setresgid(u->gid, u->gid, u->gid) != 0 ||
            setresuid(u->uid, u->uid, u->uid) != 0) {
            int e = errno;
            snprintf(err, errlen, "cannot become user %s (uid %u): %s", u->name, (unsigned)u->uid,
                     strerror(e));
            return -e;
        }
        if (setuid(0) == 0 || geteuid() == 0) {
            snprintf(err, errlen, "root could be regained after switching to %s", u->name);
            return -EPERM;
        }
    } else if (root) {
        snprintf(err, errlen, "refusing to run the network process as root");
        return -EPERM;
    }
    int rc = drop_thread_caps();
    if (rc < 0) {
        snprintf(err, errlen, "capset: %s", strerror(-rc));
        return rc;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
        return -errno;
    }
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if ((rc = install_filter()) < 0) {
        snprintf(err, errlen, "seccomp filter: %s", strerror(-rc));
        return rc;
    }
    return 0;
}

int trl_privsep_status(pid_t tid, struct trl_privsep_status *st)
{
    memset(st, 0, sizeof(*st));
    st->no_new_privs = st->seccomp = -1;
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%ld/status",
             (long)(tid ? tid : (pid_t)syscall(SYS_gettid)));
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    char line[256];
    bool any = false;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long v;
        unsigned a, b;
        int i;
        if (sscanf(line, "CapEff: %llx", &v) == 1) {
            st->cap_eff = v;
            any = true;
        } else if (sscanf(line, "CapPrm: %llx", &v) == 1) {
            st->cap_prm = v;
        } else if (sscanf(line, "CapInh: %llx", &v) == 1) {
            st->cap_inh = v;
        } else if (sscanf(line, "CapBnd: %llx", &v) == 1) {
            st->cap_bnd = v;
        } else if (sscanf(line, "CapAmb: %llx", &v) == 1) {
            st->cap_amb = v;
        } else if (sscanf(line, "NoNewPrivs: %d", &i) == 1) {
            st->no_new_privs = i;
        } else if (sscanf(line, "Seccomp: %d", &i) == 1) {
            st->seccomp = i;
        } else if (sscanf(line, "Uid: %u %u", &a, &b) == 2) {
            st->uid = (uid_t)b;
        }
    }
    fclose(f);
    return any ? 0 : TRL_EINVAL;
}

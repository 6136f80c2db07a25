/*
 * privsep: gives up privileges for the agent's network-facing code (docs/agent.md, "Privilege
 * separation"). trl_privsep_drop() is called once, in the forked network process, before it
 * touches the network:
 *
 *   1. the capability bounding set and the ambient set are emptied (nothing can come back through
 *      a file capability or an exec);
 *   2. when the process runs as root, it becomes the unprivileged user (supplementary groups
 *      cleared, real, effective and saved ids changed), which also clears its capabilities;
 *   3. the permitted, effective and inheritable capability sets of the calling thread are set to
 *      empty with capset(2), whoever the process runs as;
 *   4. PR_SET_NO_NEW_PRIVS, and PR_SET_DUMPABLE 0 (other processes of that user cannot ptrace it or
 *      read its memory, which holds the agent's TLS key);
 *   5. a seccomp filter that allows only the system calls the network process makes (sockets of
 *      the inet, inet6, unix and route-netlink families, read-only opens for name resolution,
 *      memory, time, threads of the resolver), answers everything else with EPERM, and kills the
 *      process on a foreign architecture's system call numbers.
 *
 * Threads: call trl_privsep_drop() while the process has one thread; threads created afterwards
 * inherit the filter and the empty capability sets. The status reader may be called from anywhere.
 */
#ifndef TRL_AGENT_PRIVSEP_H
#define TRL_AGENT_PRIVSEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct trl_privsep_user {
    bool change; /* the process runs as root: switch to uid/gid */
    uid_t uid;
    gid_t gid;
    char name[64];
};

/* Looks up user (e.g. "nobody") when the process is root; a name that does not exist falls back
 * to uid and gid 65534. Call it before forking: it may read /etc/passwd. Returns 0 or TRL_EINVAL
 * (root with an empty user name: the network process would keep root). */
int trl_privsep_lookup(const char *user, struct trl_privsep_user *out);

/* Steps 1-5 above. Returns 0, or a negative error with the reason in err; the caller must not go
 * on to use the network after a failure. */
int trl_privsep_drop(const struct trl_privsep_user *u, char *err, size_t errlen);

/* What /proc/self/task/TID/status says about a thread (tid 0: the calling thread). */
struct trl_privsep_status {
    uint64_t cap_eff, cap_prm, cap_inh, cap_bnd, cap_amb;
    int no_new_privs; /* -1: unknown */
    int seccomp;      /* 0 off, 1 strict, 2 filter; -1 unknown */
    uid_t uid;        /* effective uid */
};

int trl_privsep_status(pid_t tid, struct trl_privsep_status *st);

#endif

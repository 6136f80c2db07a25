/*
 * procfs: reads what the agent reports about a process from /proc/PID (executable, command line,
 * parent, user, working directory).
 *
 * A process may exit while it is being read: every part is read independently and what could be
 * read is kept (the flags say which parts are valid). All results are written into a
 * caller-provided struct trl_procinfo (no allocation), so a monitor can keep one and reuse it. Pure
 * apart from reading /proc: safe from any thread with its own struct.
 */
#ifndef TRL_AGENT_PROCFS_H
#define TRL_AGENT_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TRL_PROC_PATH_MAX    4096
#define TRL_PROC_CMDLINE_MAX 32768

enum trl_procinfo_part {
    TRL_PI_EXE = 1 << 0,     /* exe: readlink(/proc/PID/exe) */
    TRL_PI_CMDLINE = 1 << 1, /* cmdline: NUL-separated arguments */
    TRL_PI_STATUS = 1 << 2,  /* name, ppid, uid, euid, gid from /proc/PID/status */
    TRL_PI_CWD = 1 << 3,     /* cwd: readlink(/proc/PID/cwd) */
};

struct trl_procinfo {
    pid_t pid;
    unsigned valid; /* enum trl_procinfo_part: the parts that were read */
    pid_t ppid;
    uint32_t uid, euid, gid;
    char name[64]; /* the kernel's comm (at most 15 characters) */
    char exe[TRL_PROC_PATH_MAX];
    char cwd[TRL_PROC_PATH_MAX];
    char cmdline[TRL_PROC_CMDLINE_MAX]; /* NUL-separated, cmdline_len bytes */
    size_t cmdline_len;
    bool cmdline_truncated;
};

/* Reads the parts asked for (enum trl_procinfo_part) of /proc/<pid> under proc_root (normally
 * "/proc"). Returns 0 when at least one part was read, -ESRCH when none could be. */
int trl_procfs_read(const char *proc_root, pid_t pid, unsigned parts, struct trl_procinfo *pi);

/* The last path component of an executable path (the whole string when it has no '/'). A
 * " (deleted)" suffix the kernel adds to a replaced or removed binary is kept. */
const char *trl_procfs_basename(const char *path);

#endif

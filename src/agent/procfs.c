#include "agent/procfs.h"

#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *trl_procfs_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static bool read_link(const char *proc_root, pid_t pid, const char *what, char *out, size_t cap)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%d/%s", proc_root, (int)pid, what);
    ssize_t n = readlink(path, out, cap - 1);
    if (n < 0) {
        out[0] = '\0';
        return false;
    }
    out[n] = '\0';
    return true;
}

/* Reads up to cap bytes of a /proc file; returns the byte count or -1. */
static ssize_t read_small(const char *proc_root, pid_t pid, const char *what, char *out, size_t cap,
                          bool *more)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%d/%s", proc_root, (int)pid, what);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got < cap) {
        ssize_t n = read(fd, out + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    char extra;
    *more = got == cap && read(fd, &extra, 1) == 1;
    close(fd);
    return (ssize_t)got;
}

/* Parses the value of "Key:\t..." lines of /proc/PID/status. */
static bool status_field(const char *buf, size_t len, const char *key, const char **val,
                         size_t *vlen)
{
    size_t kl = strlen(key);
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if ((size_t)(le - p) > kl && memcmp(p, key, kl) == 0 && p[kl] == ':') {
            const char *v = p + kl + 1;
            while (v < le && (*v == '\t' || *v == ' '))
                v++;
            *val = v;
            *vlen = (size_t)(le - v);
            return true;
        }
        p = le + 1;
    }
    return false;
}

/* The first decimal in a status value ("1000\t1000\t1000\t1000" -> 1000; with skip=1 the second).
 */
static bool status_u32(const char *v, size_t len, unsigned skip, uint32_t *out)
{
    const char *p = v, *end = v + len;
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *s = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == s)
            return false;
        if (skip-- == 0) {
            uint64_t u;
            if (!trl_parse_u64(s, (size_t)(p - s), &u) || u > UINT32_MAX)
                return false;
            *out = (uint32_t)u;
            return true;
        }
    }
}

static bool read_status(const char *proc_root, struct trl_procinfo *pi)
{
    char buf[4096];
    bool more;
    ssize_t n = read_small(proc_root, pi->pid, "status", buf, sizeof(buf), &more);
    if (n <= 0)
        return false;
    const char *v;
    size_t vl;
    uint32_t u;
    pi->name[0] = '\0';
    if (status_field(buf, (size_t)n, "Name", &v, &vl)) {
        size_t cl = TRL_MIN(vl, sizeof(pi->name) - 1);
        memcpy(pi->name, v, cl);
        pi->name[cl] = '\0';
    }
    if (!status_field(buf, (size_t)n, "PPid", &v, &vl) || !status_u32(v, vl, 0, &u))
        return false;
    pi->ppid = (pid_t)u;
    if (!status_field(buf, (size_t)n, "Uid", &v, &vl) || !status_u32(v, vl, 0, &pi->uid) ||
        !status_u32(v, vl, 1, &pi->euid))
        return false;
    if (!status_field(buf, (size_t)n, "Gid", &v, &vl) || !status_u32(v, vl, 0, &pi->gid))
        return false;
    return true;
}

int trl_procfs_read(const char *proc_root, pid_t pid, unsigned parts, struct trl_procinfo *pi)
{
    pi->pid = pid;
    pi->valid = 0;
    pi->cmdline_len = 0;
    pi->cmdline_truncated = false;
    /* The command line first: it is what disappears soonest for a short-lived process, and the
     * part analysts need most. */
    if (parts & TRL_PI_CMDLINE) {
        bool more = false;
        ssize_t n = read_small(proc_root, pid, "cmdline", pi->cmdline, sizeof(pi->cmdline), &more);
        if (n >= 0) {
            pi->cmdline_len = (size_t)n;
            pi->cmdline_truncated = more;
            pi->valid |= TRL_PI_CMDLINE;
        }
    }
    if ((parts & TRL_PI_EXE) && read_link(proc_root, pid, "exe", pi->exe, sizeof(pi->exe)))
        pi->valid |= TRL_PI_EXE;
    if ((parts & TRL_PI_STATUS) && read_status(proc_root, pi))
        pi->valid |= TRL_PI_STATUS;
    if ((parts & TRL_PI_CWD) && read_link(proc_root, pid, "cwd", pi->cwd, sizeof(pi->cwd)))
        pi->valid |= TRL_PI_CWD;
    return pi->valid ? 0 : -ESRCH;
}

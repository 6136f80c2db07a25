#include "agent/proc.h"

#include "agent/procfs.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"

#include <errno.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOG_COMP "proc"
/* Slots of the parent cache (a power of two). */
#define PARENT_SLOTS 16384

/* A direct-mapped cache of pid -> parent pid filled from fork announcements: it answers for a
 * process that exited before /proc could be read. A collision simply evicts the older entry. */
struct parent_slot {
    pid_t pid;
    pid_t ppid;
};

struct trl_proc {
    int fd;
    char *proc_root;
    struct parent_slot parents[PARENT_SLOTS];
    struct trl_procinfo pi; /* scratch, reused: large buffers */
    struct trl_procinfo parent;
    struct trl_proc_stats st;
};

/* Sends the connector control message that starts or stops the announcements: a netlink header,
 * a connector header, then the operation. */
static int mcast_op(int fd, enum proc_cn_mcast_op op)
{
    char msg[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof(op))] __attribute__((aligned(8)));
    memset(msg, 0, sizeof(msg));
    struct nlmsghdr nh = {
        .nlmsg_len = (uint32_t)NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof(op)),
        .nlmsg_type = NLMSG_DONE,
    };
    struct cn_msg cn = {.id = {.idx = CN_IDX_PROC, .val = CN_VAL_PROC}, .len = sizeof(op)};
    memcpy(msg, &nh, sizeof(nh));
    memcpy(msg + NLMSG_HDRLEN, &cn, sizeof(cn));
    memcpy(msg + NLMSG_HDRLEN + sizeof(cn), &op, sizeof(op));
    ssize_t n = send(fd, msg, nh.nlmsg_len, 0);
    return n == (ssize_t)nh.nlmsg_len ? 0 : -errno;
}

int trl_proc_create(const struct trl_proc_config *cfg, struct trl_proc **out)
{
    *out = NULL;
    int fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR);
    if (fd < 0) {
        int rc = -errno;
        trl_warn(LOG_COMP,
                 "process events unavailable: netlink connector socket failed "
                 "err=\"%s\"",
                 strerror(errno));
        return rc;
    }
    int rcvbuf = cfg->rcvbuf_bytes > 0 ? cfg->rcvbuf_bytes : 4 << 20;
    /* SO_RCVBUFFORCE passes the rmem_max limit with CAP_NET_ADMIN; fall back otherwise. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    /* nl_pid 0 lets the kernel pick a unique port id, so several monitors can coexist. */
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = 0};
    int rc = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        rc = -errno;
    if (rc == 0)
        rc = mcast_op(fd, PROC_CN_MCAST_LISTEN);
    if (rc < 0) {
        trl_warn(LOG_COMP,
                 "process events unavailable: cannot subscribe to the proc connector "
                 "err=\"%s\"%s",
                 strerror(-rc), rc == -EPERM ? " (needs CAP_NET_ADMIN)" : "");
        close(fd);
        return rc;
    }
    struct trl_proc *p = trl_xcalloc(1, sizeof(*p));
    p->fd = fd;
    p->proc_root = trl_xstrdup(cfg->proc_root ? cfg->proc_root : "/proc");
    *out = p;
    return 0;
}

void trl_proc_destroy(struct trl_proc *p)
{
    if (!p)
        return;
    mcast_op(p->fd, PROC_CN_MCAST_IGNORE);
    close(p->fd);
    free(p->proc_root);
    free(p);
}

int trl_proc_fd(const struct trl_proc *p)
{
    return p->fd;
}

void trl_proc_stats(const struct trl_proc *p, struct trl_proc_stats *st)
{
    *st = p->st;
}

static struct parent_slot *parent_slot(struct trl_proc *p, pid_t pid)
{
    return &p->parents[((uint32_t)pid * 2654435761u) % PARENT_SLOTS];
}

static void remember_parent(struct trl_proc *p, pid_t child, pid_t parent)
{
    *parent_slot(p, child) = (struct parent_slot){child, parent};
}

static pid_t known_parent(struct trl_proc *p, pid_t pid)
{
    const struct parent_slot *s = parent_slot(p, pid);
    return s->pid == pid ? s->ppid : 0;
}

static void forget(struct trl_proc *p, pid_t pid)
{
    struct parent_slot *s = parent_slot(p, pid);
    if (s->pid == pid)
        s->pid = 0;
}

/* Splits the NUL-separated command line into process.args and joins it into
 * process.command_line. */
static void set_args(struct trl_event *ev, const struct trl_procinfo *pi)
{
    const char *s = pi->cmdline, *end = pi->cmdline + pi->cmdline_len;
    if (s == end)
        return;
    char *line = trl_arena_alloc(ev->arena, pi->cmdline_len + 1);
    size_t ll = 0;
    int64_t count = 0;
    while (s < end) {
        const char *z = memchr(s, '\0', (size_t)(end - s));
        size_t n = z ? (size_t)(z - s) : (size_t)(end - s);
        trl_event_add(ev, TRL_F_PROCESS_ARGS, s, n);
        if (ll)
            line[ll++] = ' ';
        memcpy(line + ll, s, n);
        ll += n;
        count++;
        s += n + 1;
    }
    line[ll] = '\0';
    trl_event_set_ref(ev, TRL_F_PROCESS_COMMAND_LINE, line, ll);
    trl_event_set_int(ev, TRL_F_PROCESS_ARGS_COUNT, count);
    if (pi->cmdline_truncated)
        trl_agent_set_named_str(ev, "process.args_truncated", "true");
}

static void on_exec(struct trl_proc *p, pid_t pid, int64_t ts, struct trl_arena *arena,
                    trl_agent_event_fn cb, void *ud)
{
    struct trl_procinfo *pi = &p->pi;
    unsigned want = TRL_PI_CMDLINE | TRL_PI_EXE | TRL_PI_STATUS | TRL_PI_CWD;
    trl_procfs_read(p->proc_root, pid, want, pi);
    p->st.execs++;
    if (pi->valid != want)
        p->st.partial++;

    struct trl_event *ev = trl_agent_event(arena, "agent.process", ts);
    trl_event_add(ev, TRL_F_EVENT_CATEGORY, "process", 7);
    trl_event_add(ev, TRL_F_EVENT_TYPE, "start", 5);
    trl_event_set_ref(ev, TRL_F_EVENT_ACTION, "process-started", 15);
    trl_event_set_int(ev, TRL_F_PROCESS_PID, pid);
    if (pi->valid & TRL_PI_EXE) {
        trl_event_set_str(ev, TRL_F_PROCESS_EXECUTABLE, pi->exe);
        trl_event_set_str(ev, TRL_F_PROCESS_NAME, trl_procfs_basename(pi->exe));
    } else if ((pi->valid & TRL_PI_STATUS) && pi->name[0]) {
        trl_event_set_str(ev, TRL_F_PROCESS_NAME, pi->name);
    }
    if (pi->valid & TRL_PI_CMDLINE)
        set_args(ev, pi);
    if (pi->valid & TRL_PI_CWD)
        trl_event_set_str(ev, TRL_F_PROCESS_WORKING_DIRECTORY, pi->cwd);
    pid_t ppid = (pi->valid & TRL_PI_STATUS) ? pi->ppid : known_parent(p, pid);
    if (pi->valid & TRL_PI_STATUS) {
        trl_agent_set_u64(ev, TRL_F_USER_ID, pi->uid);
        if (pi->euid != pi->uid)
            trl_agent_set_u64(ev, TRL_F_USER_EFFECTIVE_ID, pi->euid);
        trl_agent_set_u64(ev, TRL_F_GROUP_ID, pi->gid);
    }
    if (ppid > 0) {
        trl_event_set_int(ev, TRL_F_PROCESS_PARENT_PID, ppid);
        if (trl_procfs_read(p->proc_root, ppid, TRL_PI_EXE, &p->parent) == 0) {
            trl_event_set_str(ev, TRL_F_PROCESS_PARENT_EXECUTABLE, p->parent.exe);
            trl_event_set_str(ev, TRL_F_PROCESS_PARENT_NAME, trl_procfs_basename(p->parent.exe));
        }
    }
    size_t cl = 0;
    const char *cmd = trl_event_get(ev, TRL_F_PROCESS_COMMAND_LINE, &cl);
    char *msg =
        trl_arena_sprintf(arena, "process started pid=%d: %.*s", (int)pid, (int)cl, cmd ? cmd : "");
    trl_event_set_ref(ev, TRL_F_MESSAGE, msg, strlen(msg));
    cb(ud, ev);
}

/* The netlink message at *off in buf[0, len), advancing *off past it; NULL at the end or at a
 * malformed header. */
static const struct nlmsghdr *nl_next(const char *buf, size_t len, size_t *off)
{
    if (*off >= len || len - *off < sizeof(struct nlmsghdr))
        return NULL;
    const struct nlmsghdr *nh = (const struct nlmsghdr *)(buf + *off);
    if (nh->nlmsg_len < sizeof(*nh) || nh->nlmsg_len > len - *off)
        return NULL;
    *off += TRL_MIN((size_t)NLMSG_ALIGN(nh->nlmsg_len), len - *off);
    return nh;
}

/* Handles one datagram of connector messages. Returns the number of events delivered. */
static int handle(struct trl_proc *p, const char *buf, size_t len, int64_t clock_off,
                  struct trl_arena *arena, trl_agent_event_fn cb, void *ud)
{
    int count = 0;
    const struct nlmsghdr *nh;
    size_t off = 0;
    while ((nh = nl_next(buf, len, &off))) {
        if (nh->nlmsg_type == NLMSG_NOOP || nh->nlmsg_type == NLMSG_ERROR)
            continue;
        if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct cn_msg)))
            continue;
        const struct cn_msg *cn = NLMSG_DATA(nh);
        size_t avail = nh->nlmsg_len - NLMSG_LENGTH(sizeof(struct cn_msg));
        if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC || cn->len > avail ||
            cn->len < sizeof(struct proc_event))
            continue;
        struct proc_event pe;
        memcpy(&pe, cn->data, sizeof(pe));
        switch (pe.what) {
        case PROC_EVENT_FORK:
            /* Threads share the tgid: only new processes are remembered. */
            if (pe.event_data.fork.child_pid == pe.event_data.fork.child_tgid)
                remember_parent(p, pe.event_data.fork.child_tgid, pe.event_data.fork.parent_tgid);
            break;
        case PROC_EVENT_EXEC: {
            int64_t ts = (int64_t)pe.timestamp_ns + clock_off;
            on_exec(p, pe.event_data.exec.process_tgid, ts, arena, cb, ud);
            count++;
            break;
        }
        case PROC_EVENT_EXIT:
            if (pe.event_data.exit.process_pid == pe.event_data.exit.process_tgid)
                forget(p, pe.event_data.exit.process_tgid);
            break;
        default:
            break;
        }
    }
    return count;
}

int trl_proc_poll(struct trl_proc *p, struct trl_arena *arena, trl_agent_event_fn cb, void *ud)
{
    /* Announcements carry CLOCK_MONOTONIC time; events want wall-clock time. */
    int64_t clock_off = trl_now_ns() - trl_mono_ns();
    char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
    int count = 0;
    /* A bounded number of datagrams per call: the events live in the caller's arena until it is
     * reset after the call, so a backlog of thousands of executions is taken a slice at a time
     * (the descriptor stays readable) instead of growing the arena to hold them all. */
    for (int reads = 0; reads < TRL_PROC_READS_PER_POLL; reads++) {
        struct sockaddr_nl from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(p->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return count;
            if (errno == ENOBUFS) {
                p->st.lost++;
                trl_warn(LOG_COMP,
                         "process announcements lost: receive buffer overrun "
                         "overruns=%llu",
                         (unsigned long long)p->st.lost);
                continue;
            }
            return -errno;
        }
        /* Only the kernel (port 0) speaks on this socket. */
        if (fl != sizeof(from) || from.nl_pid != 0)
            continue;
        count += handle(p, buf, (size_t)n, clock_off, arena, cb, ud);
    }
    return count;
}

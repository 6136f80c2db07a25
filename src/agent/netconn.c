#include "agent/netconn.h"

#include "agent/procfs.h"
#include "core/log.h"
#include "core/strmap.h"
#include "core/timeutil.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOG_COMP "netconn"

/* What identifies a socket across snapshots. The state is not part of it, so a connection moving
 * from SYN_SENT to ESTABLISHED stays the same connection. */
struct sock_key {
    uint8_t family;
    uint8_t listening;
    uint16_t lport, rport; /* host order */
    unsigned char laddr[16], raddr[16];
};

struct sock_ent {
    struct sock_key key;
    uint32_t inode;
    uint32_t uid;
    uint32_t gen;
    bool reported;
    bool deferred; /* seen once without an inode (not yet accepted) */
};

struct trl_netconn {
    int fd;
    char *proc_root;
    int64_t interval_ns;
    int64_t next_ns;
    bool report_existing;
    bool first_done;
    uint32_t seq;
    uint32_t gen;
    uint16_t eph_lo, eph_hi;

    struct trl_strmap *socks;    /* struct sock_key -> struct sock_ent */
    struct trl_strmap *owners;   /* inode (4 bytes) -> pid + 1 */
    bool rescanned;              /* the owner table was rebuilt during this poll */
    uint8_t listened[65536 / 8]; /* bitmap of the ports listened on in the last snapshot */
    struct trl_procinfo pi;
    struct trl_netconn_stats st;

    char *buf;
    size_t bufcap;
};

static void read_port_range(struct trl_netconn *n)
{
    n->eph_lo = 32768;
    n->eph_hi = 60999;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/sys/net/ipv4/ip_local_port_range", n->proc_root);
    FILE *f = fopen(path, "re");
    unsigned lo, hi;
    if (f && fscanf(f, "%u %u", &lo, &hi) == 2 && lo <= hi && hi <= 65535) {
        n->eph_lo = (uint16_t)lo;
        n->eph_hi = (uint16_t)hi;
    }
    if (f)
        fclose(f);
}

int trl_netconn_create(const struct trl_netconn_config *cfg, struct trl_netconn **out)
{
    *out = NULL;
    if (cfg->interval_ms < 0)
        return TRL_EINVAL;
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) {
        int rc = -errno;
        trl_warn(LOG_COMP, "connection monitoring unavailable: sock_diag socket failed err=\"%s\"",
                 strerror(errno));
        return rc;
    }
    struct trl_netconn *n = trl_xcalloc(1, sizeof(*n));
    n->fd = fd;
    n->proc_root = trl_xstrdup(cfg->proc_root ? cfg->proc_root : "/proc");
    n->interval_ns = (int64_t)(cfg->interval_ms ? cfg->interval_ms : 1000) * 1000000;
    n->report_existing = cfg->report_existing;
    n->socks = trl_strmap_create();
    n->owners = trl_strmap_create();
    n->bufcap = 65536;
    n->buf = trl_xmalloc(n->bufcap);
    read_port_range(n);
    *out = n;
    return 0;
}

void trl_netconn_destroy(struct trl_netconn *n)
{
    if (!n)
        return;
    close(n->fd);
    trl_strmap_destroy(n->socks, free);
    trl_strmap_destroy(n->owners, NULL);
    free(n->proc_root);
    free(n->buf);
    free(n);
}

int trl_netconn_timeout_ms(const struct trl_netconn *n)
{
    int64_t left = n->next_ns - trl_mono_ns();
    if (left <= 0)
        return 0;
    return (int)TRL_MIN((left + 999999) / 1000000, (int64_t)INT_MAX);
}

void trl_netconn_stats(const struct trl_netconn *n, struct trl_netconn_stats *st)
{
    *st = n->st;
}

/* ---- socket owners ------------------------------------------------------------------------- */

/* Rebuilds inode -> pid from every process's descriptors. */
static void rescan_owners(struct trl_netconn *n)
{
    trl_strmap_destroy(n->owners, NULL);
    n->owners = trl_strmap_create();
    n->rescanned = true;
    n->st.proc_rescans++;
    DIR *proc = opendir(n->proc_root);
    if (!proc)
        return;
    struct dirent *pe;
    while ((pe = readdir(proc))) {
        uint64_t pid;
        if (!trl_parse_u64(pe->d_name, strlen(pe->d_name), &pid) || pid == 0 || pid > INT_MAX)
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s/fd", n->proc_root, pe->d_name);
        int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *fds = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!fds) {
            if (dfd >= 0)
                close(dfd);
            continue;
        }
        struct dirent *fe;
        while ((fe = readdir(fds))) {
            char link[64];
            ssize_t l = readlinkat(dfd, fe->d_name, link, sizeof(link) - 1);
            if (l < 9 || memcmp(link, "socket:[", 8) != 0 || link[l - 1] != ']')
                continue;
            uint64_t ino;
            if (!trl_parse_u64(link + 8, (size_t)l - 9, &ino) || ino > UINT32_MAX)
                continue;
            uint32_t key = (uint32_t)ino;
            /* The first owner found wins; a socket shared after fork has several. */
            if (!trl_strmap_get(n->owners, (const char *)&key, sizeof(key)))
                trl_strmap_put(n->owners, (const char *)&key, sizeof(key),
                               (void *)(intptr_t)(pid + 1));
        }
        closedir(fds);
    }
    closedir(proc);
}

static pid_t owner_of(struct trl_netconn *n, uint32_t inode)
{
    if (inode == 0)
        return 0;
    void *v = trl_strmap_get(n->owners, (const char *)&inode, sizeof(inode));
    if (!v && !n->rescanned) {
        rescan_owners(n);
        v = trl_strmap_get(n->owners, (const char *)&inode, sizeof(inode));
    }
    return v ? (pid_t)((intptr_t)v - 1) : 0;
}

/* ---- events -------------------------------------------------------------------------------- */

static bool is_v4mapped(const unsigned char *a)
{
    static const unsigned char prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, prefix, sizeof(prefix)) == 0;
}

static bool port_listened(const struct trl_netconn *n, uint16_t port)
{
    return n->listened[port / 8] & (1u << (port % 8));
}

static void set_end(struct trl_event *ev, enum trl_field ip, enum trl_field port, int family,
                    const unsigned char *addr, uint16_t p)
{
    trl_agent_set_ip(ev, ip, family, addr);
    trl_event_set_int(ev, port, p);
    size_t len;
    const char *v = trl_event_get(ev, ip, &len);
    if (v)
        trl_event_add_unique(ev, TRL_F_RELATED_IP, v, len);
}

static void report(struct trl_netconn *n, const struct sock_ent *e, struct trl_arena *arena,
                   trl_agent_event_fn cb, void *ud)
{
    const struct sock_key *k = &e->key;
    int family = k->family;
    struct trl_event *ev = trl_agent_event(arena, "agent.network", trl_now_ns());
    trl_event_add(ev, TRL_F_EVENT_CATEGORY, "network", 7);
    trl_event_set_ref(ev, TRL_F_NETWORK_TRANSPORT, "tcp", 3);
    bool v4 = family == AF_INET || is_v4mapped(k->laddr);
    trl_event_set_str(ev, TRL_F_NETWORK_TYPE, v4 ? "ipv4" : "ipv6");
    const char *dir = NULL;
    if (k->listening) {
        trl_event_add(ev, TRL_F_EVENT_TYPE, "info", 4);
        trl_event_set_ref(ev, TRL_F_EVENT_ACTION, "socket-listening", 16);
        set_end(ev, TRL_F_DESTINATION_IP, TRL_F_DESTINATION_PORT, family, k->laddr, k->lport);
    } else {
        trl_event_add(ev, TRL_F_EVENT_TYPE, "connection", 10);
        trl_event_add(ev, TRL_F_EVENT_TYPE, "start", 5);
        trl_event_set_ref(ev, TRL_F_EVENT_ACTION, "connection-opened", 17);
        bool outbound =
            k->lport >= n->eph_lo && k->lport <= n->eph_hi && !port_listened(n, k->lport);
        dir = outbound ? "outbound" : "inbound";
        trl_event_set_str(ev, TRL_F_NETWORK_DIRECTION, dir);
        if (outbound) {
            set_end(ev, TRL_F_SOURCE_IP, TRL_F_SOURCE_PORT, family, k->laddr, k->lport);
            set_end(ev, TRL_F_DESTINATION_IP, TRL_F_DESTINATION_PORT, family, k->raddr, k->rport);
        } else {
            set_end(ev, TRL_F_SOURCE_IP, TRL_F_SOURCE_PORT, family, k->raddr, k->rport);
            set_end(ev, TRL_F_DESTINATION_IP, TRL_F_DESTINATION_PORT, family, k->laddr, k->lport);
        }
    }
    trl_agent_set_u64(ev, TRL_F_USER_ID, e->uid);
    pid_t pid = owner_of(n, e->inode);
    const char *name = NULL;
    if (pid > 0) {
        trl_event_set_int(ev, TRL_F_PROCESS_PID, pid);
        if (trl_procfs_read(n->proc_root, pid, TRL_PI_EXE | TRL_PI_STATUS, &n->pi) == 0) {
            if (n->pi.valid & TRL_PI_EXE) {
                trl_event_set_str(ev, TRL_F_PROCESS_EXECUTABLE, n->pi.exe);
                name = trl_procfs_basename(n->pi.exe);
            } else if (n->pi.valid & TRL_PI_STATUS) {
                name = n->pi.name;
            }
            if (name && *name)
                trl_event_set_str(ev, TRL_F_PROCESS_NAME, name);
        }
    }
    size_t sl = 0, sp = 0, dl = 0, dp = 0;
    const char *s = trl_event_get(ev, TRL_F_SOURCE_IP, &sl);
    const char *spt = trl_event_get(ev, TRL_F_SOURCE_PORT, &sp);
    const char *d = trl_event_get(ev, TRL_F_DESTINATION_IP, &dl);
    const char *dpt = trl_event_get(ev, TRL_F_DESTINATION_PORT, &dp);
    char *msg;
    if (k->listening)
        msg = trl_arena_sprintf(arena, "%s listening on %.*s port %.*s", name ? name : "socket",
                                (int)dl, d ? d : "", (int)dp, dpt ? dpt : "");
    else
        msg = trl_arena_sprintf(arena, "%s connection %.*s:%.*s -> %.*s:%.*s%s%s", dir, (int)sl,
                                s ? s : "", (int)sp, spt ? spt : "", (int)dl, d ? d : "", (int)dp,
                                dpt ? dpt : "", name ? " by " : "", name ? name : "");
    trl_event_set_ref(ev, TRL_F_MESSAGE, msg, strlen(msg));
    cb(ud, ev);
}

/* ---- snapshots ----------------------------------------------------------------------------- */

static void mark_listen(const char *key, size_t len, void *value, void *ud)
{
    (void)key;
    (void)len;
    const struct sock_ent *e = value;
    struct trl_netconn *n = ud;
    if (e->key.listening)
        n->listened[e->key.lport / 8] |= (uint8_t)(1u << (e->key.lport % 8));
}

/* Records one socket of the dump; returns the entry when it is new. */
static struct sock_ent *note(struct trl_netconn *n, const struct inet_diag_msg *m)
{
    struct sock_key k;
    memset(&k, 0, sizeof(k));
    k.family = m->idiag_family;
    k.listening = m->idiag_state == TCP_LISTEN;
    k.lport = ntohs(m->id.idiag_sport);
    size_t alen = m->idiag_family == AF_INET ? 4 : 16;
    memcpy(k.laddr, m->id.idiag_src, alen);
    if (!k.listening) {
        k.rport = ntohs(m->id.idiag_dport);
        memcpy(k.raddr, m->id.idiag_dst, alen);
    }
    struct sock_ent *e = trl_strmap_get(n->socks, (const char *)&k, sizeof(k));
    if (e) {
        e->gen = n->gen;
        if (!e->inode && m->idiag_inode)
            e->inode = m->idiag_inode;
        return NULL;
    }
    e = trl_xcalloc(1, sizeof(*e));
    e->key = k;
    e->inode = m->idiag_inode;
    e->uid = m->idiag_uid;
    e->gen = n->gen;
    trl_strmap_put(n->socks, (const char *)&k, sizeof(k), e);
    return e;
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

/* Asks for every TCP socket of one family in the states we care about and records them. */
static int dump_family(struct trl_netconn *n, uint8_t family)
{
    struct {
        struct nlmsghdr nh;
        struct inet_diag_req_v2 r;
    } req;
    memset(&req, 0, sizeof(req));
    req.nh.nlmsg_len = sizeof(req);
    req.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.nh.nlmsg_seq = ++n->seq;
    req.r.sdiag_family = family;
    req.r.sdiag_protocol = IPPROTO_TCP;
    req.r.idiag_states = 1u << TCP_LISTEN | 1u << TCP_ESTABLISHED | 1u << TCP_SYN_SENT;
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    if (sendto(n->fd, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -errno;
    for (;;) {
        ssize_t len = recv(n->fd, n->buf, n->bufcap, 0);
        if (len < 0 && errno == EINTR)
            continue;
        if (len < 0)
            return -errno;
        if (len == 0)
            return -EIO;
        const struct nlmsghdr *nh;
        size_t off = 0;
        while ((nh = nl_next(n->buf, (size_t)len, &off))) {
            if (nh->nlmsg_seq != n->seq)
                continue;
            if (nh->nlmsg_type == NLMSG_DONE)
                return 0;
            if (nh->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *err = NLMSG_DATA(nh);
                if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*err)))
                    return -EIO;
                return err->error ? err->error : -EIO;
            }
            if (nh->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
                nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
                continue;
            const struct inet_diag_msg *m = NLMSG_DATA(nh);
            if (m->idiag_family == family)
                note(n, m);
        }
    }
}

static bool stale(void *value, void *ud)
{
    const struct sock_ent *e = value;
    const struct trl_netconn *n = ud;
    return e->gen != n->gen;
}

struct report_ctx {
    struct trl_netconn *n;
    bool baseline;
    struct sock_ent **todo;
    size_t ntodo, cap;
};

static void pick(const char *key, size_t len, void *value, void *ud)
{
    (void)key;
    (void)len;
    struct sock_ent *e = value;
    struct report_ctx *c = ud;
    if (e->reported)
        return;
    if (c->baseline) {
        e->reported = true;
        return;
    }
    /* Not yet accepted (no inode): give the server one snapshot to accept it and show up as its
     * owner. */
    if (!e->inode && !e->key.listening && !e->deferred) {
        e->deferred = true;
        return;
    }
    if (c->ntodo == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->todo = trl_xrealloc(c->todo, c->cap * sizeof(*c->todo));
    }
    c->todo[c->ntodo++] = e;
}

int trl_netconn_poll(struct trl_netconn *n, struct trl_arena *arena, trl_agent_event_fn cb,
                     void *ud)
{
    n->next_ns = trl_mono_ns() + n->interval_ns;
    n->gen++;
    n->rescanned = false;
    int rc = dump_family(n, AF_INET);
    if (rc == 0)
        rc = dump_family(n, AF_INET6);
    if (rc < 0) {
        trl_warn(LOG_COMP, "socket dump failed err=\"%s\"", strerror(-rc));
        return rc;
    }
    trl_strmap_remove_if(n->socks, stale, n, free);
    n->st.snapshots++;
    n->st.sockets = trl_strmap_count(n->socks);
    memset(n->listened, 0, sizeof(n->listened));
    trl_strmap_each(n->socks, mark_listen, n);
    struct report_ctx c = {.n = n, .baseline = !n->first_done && !n->report_existing};
    n->first_done = true;
    trl_strmap_each(n->socks, pick, &c);
    for (size_t i = 0; i < c.ntodo; i++) {
        report(n, c.todo[i], arena, cb, ud);
        c.todo[i]->reported = true;
    }
    free(c.todo);
    return (int)c.ntodo;
}

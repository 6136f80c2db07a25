#include "agent/audit_nl.h"

#include "agent/audit_rules.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "formats/audit_assembler.h"
#include "formats/parse.h"

#include <errno.h>
#include <libaudit.h>
#include <linux/netlink.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOG_COMP "audit"
/* The kernel never sends a record longer than this (MAX_AUDIT_MESSAGE_LENGTH is 8970). */
#define RECV_MAX         (64 * 1024)
#define TAKE_MAX         64
#define RECORDS_PER_POLL 512

struct trl_audit_nl {
    int fd;     /* records arrive here */
    int ctl_fd; /* rule changes and status requests, so their replies never mix with records */
    bool multicast;
    bool registered;    /* we are the audit daemon: unregister on destroy */
    int enabled_before; /* the kernel's audit enabled flag before we changed it; -1: unchanged */
    struct trl_audit_rules *rules;
    struct trl_audit_assembler *assembler;
    struct trl_audit_nl_stats stats;
    char *buf;
};

struct trl_event *trl_audit_nl_record(struct trl_arena *arena, int type, const char *payload,
                                      size_t len)
{
    len = strnlen(payload, len);
    while (len > 0 && (payload[len - 1] == '\n' || payload[len - 1] == ' '))
        len--;
    const char *name = audit_msg_type_to_name(type);
    char unknown[24];
    if (!name) {
        snprintf(unknown, sizeof(unknown), "UNKNOWN[%d]", type);
        name = unknown;
    }
    size_t nlen = strlen(name), total = 5 + nlen + 5 + len;
    char *line = trl_arena_alloc(arena, total + 1);
    memcpy(line, "type=", 5);
    memcpy(line + 5, name, nlen);
    memcpy(line + 5 + nlen, " msg=", 5);
    memcpy(line + 10 + nlen, payload, len);
    line[total] = '\0';
    struct trl_event *ev = trl_event_create(arena, line, total, trl_now_ns());
    if (trl_parse_audit(ev, ev->original, ev->original_len) != 0)
        return NULL;
    return ev;
}

/* The kernel's status: the registered daemon's pid and the enabled flag. */
static int audit_status(int fd, struct audit_status *out)
{
    if (audit_request_status(fd) <= 0)
        return -EPERM;
    struct audit_reply rep;
    for (int tries = 0; tries < 16; tries++) {
        if (audit_get_reply(fd, &rep, GET_REPLY_BLOCKING, 0) <= 0)
            return -EIO;
        if (rep.type == AUDIT_GET && rep.status) {
            *out = *rep.status;
            return 0;
        }
        if (rep.type == NLMSG_ERROR && rep.error && rep.error->error)
            return rep.error->error;
    }
    return -EIO;
}

static int open_multicast(struct trl_audit_nl *a)
{
    a->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
    if (a->fd < 0)
        return -errno;
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = 1u << (AUDIT_NLGRP_READLOG - 1)};
    if (bind(a->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        return -errno;
    a->multicast = true;
    return 0;
}

static int open_daemon(struct trl_audit_nl *a, const struct audit_status *st)
{
    if (st->pid != 0 && kill((pid_t)st->pid, 0) == 0)
        return -EBUSY;
    a->fd = audit_open();
    if (a->fd < 0)
        return -errno;
    if (audit_set_pid(a->fd, (uint32_t)getpid(), WAIT_YES) <= 0)
        return -EPERM;
    a->registered = true;
    if (st->enabled == 0) {
        if (audit_set_enabled(a->ctl_fd, 1) <= 0)
            return -EPERM;
        a->enabled_before = 0;
    }
    return 0;
}

int trl_audit_nl_create(const struct trl_audit_nl_config *cfg, struct trl_audit_nl **out)
{
    *out = NULL;
    set_aumessage_mode(MSG_QUIET, DBG_NO);
    struct trl_audit_nl *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->fd = -1;
    a->enabled_before = -1;
    int rc;
    a->ctl_fd = audit_open();
    if (a->ctl_fd < 0) {
        rc = errno == EPROTONOSUPPORT ? -EPROTONOSUPPORT : -EPERM;
        goto fail;
    }
    struct audit_status st;
    rc = audit_status(a->ctl_fd, &st);
    if (rc != 0)
        goto fail;
    if (cfg->mode == TRL_AUDIT_MULTICAST)
        rc = open_multicast(a);
    else {
        rc = open_daemon(a, &st);
        if (rc == -EBUSY && cfg->mode == TRL_AUDIT_AUTO) {
            trl_info(LOG_COMP, "an audit daemon runs (pid %u): listening alongside it",
                     (unsigned)st.pid);
            rc = open_multicast(a);
        }
    }
    if (rc != 0)
        goto fail;
    int rcvbuf = cfg->rcvbuf ? (int)cfg->rcvbuf : 8 << 20;
    if (setsockopt(a->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0)
        setsockopt(a->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (cfg->objectives) {
        size_t refused = 0;
        rc = trl_audit_rules_install(a->ctl_fd, cfg->objective_keys, &a->rules, &refused);
        if (rc != 0)
            goto fail;
        a->stats.rules = trl_audit_rules_count(a->rules);
        if (refused)
            trl_warn(LOG_COMP, "%zu preset rules refused by the kernel", refused);
    }
    a->assembler = trl_audit_assembler_create(NULL);
    a->buf = malloc(RECV_MAX);
    if (!a->buf) {
        rc = -ENOMEM;
        goto fail;
    }
    *out = a;
    return 0;
fail:
    trl_audit_nl_destroy(a);
    return rc;
}

void trl_audit_nl_destroy(struct trl_audit_nl *a)
{
    if (!a)
        return;
    trl_audit_rules_remove(a->ctl_fd, a->rules);
    if (a->registered && a->ctl_fd >= 0) {
        if (a->enabled_before == 0)
            audit_set_enabled(a->ctl_fd, 0);
        audit_set_pid(a->ctl_fd, 0, WAIT_NO);
    }
    if (a->fd >= 0)
        close(a->fd);
    if (a->ctl_fd >= 0)
        audit_close(a->ctl_fd);
    trl_audit_assembler_destroy(a->assembler);
    free(a->buf);
    free(a);
}

int trl_audit_nl_fd(const struct trl_audit_nl *a)
{
    return a->fd;
}

bool trl_audit_nl_is_multicast(const struct trl_audit_nl *a)
{
    return a->multicast;
}

int trl_audit_nl_timeout_ms(const struct trl_audit_nl *a)
{
    struct trl_audit_assembler_stats s;
    trl_audit_assembler_get_stats(a->assembler, &s);
    return s.pending > 0 ? 100 : -1;
}

/* Parses one record; records of multi-record events go to the assembler, others out at once. The
 * kernel sends one record per datagram and, for compatibility with old auditd, its nlmsg_len does
 * not count the header: the datagram's own length bounds the payload (which ends with a NUL). */
static int record(struct trl_audit_nl *a, struct trl_arena *arena, const char *dgram, size_t len,
                  trl_audit_nl_cb cb, void *ud, int *delivered)
{
    const struct nlmsghdr *h = (const struct nlmsghdr *)dgram;
    if (len < NLMSG_HDRLEN || h->nlmsg_type < AUDIT_FIRST_USER_MSG)
        return 0; /* acks and status replies */
    a->stats.records++;
    struct trl_event *ev =
        trl_audit_nl_record(arena, h->nlmsg_type, dgram + NLMSG_HDRLEN, len - NLMSG_HDRLEN);
    if (!ev)
        return 0;
    if (trl_audit_assembler_wants(ev)) {
        trl_audit_assembler_add(a->assembler, ev);
        return 0;
    }
    a->stats.events++;
    (*delivered)++;
    return cb(ud, ev);
}

static int take(struct trl_audit_nl *a, struct trl_arena *arena, trl_audit_nl_cb cb, void *ud,
                int *delivered)
{
    struct trl_event *out[TAKE_MAX];
    size_t n;
    do {
        n = trl_audit_assembler_take(a->assembler, arena, trl_now_ns(), false, out, TAKE_MAX);
        for (size_t i = 0; i < n; i++) {
            a->stats.events++;
            (*delivered)++;
            if (cb(ud, out[i]) != 0)
                return 1;
        }
    } while (n == TAKE_MAX);
    return 0;
}

int trl_audit_nl_poll(struct trl_audit_nl *a, struct trl_arena *arena, trl_audit_nl_cb cb, void *ud)
{
    int delivered = 0;
    /* At most RECORDS_PER_POLL records per call: each one lives in the caller's arena until the
     * call returns, so a backlog is taken a slice at a time (the socket stays readable). */
    for (int reads = 0; reads < RECORDS_PER_POLL; reads++) {
        ssize_t n = recv(a->fd, a->buf, RECV_MAX, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == ENOBUFS) {
            if (a->stats.overruns++ == 0)
                trl_warn(LOG_COMP, "audit records were lost: the socket buffer overflowed");
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0)
            return delivered > 0 ? delivered : -errno;
        if (record(a, arena, a->buf, (size_t)n, cb, ud, &delivered) != 0)
            return delivered;
    }
    take(a, arena, cb, ud, &delivered);
    return delivered;
}

void trl_audit_nl_get_stats(const struct trl_audit_nl *a, struct trl_audit_nl_stats *out)
{
    *out = a->stats;
}

/*
 * udp: syslog over UDP (RFC 5426): one message per datagram, received in batches with recvmmsg()
 * into the loop's shared datagram buffer. A sender cannot be slowed down, so when the pipeline is
 * past its hard limit a datagram is dropped and counted rather than queued.
 */
#include "core/log.h"
#include "core/timeutil.h"
#include "server/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static bool sockaddr_equal(const struct sockaddr_storage *a, const struct sockaddr *b)
{
    if (a->ss_family != b->sa_family)
        return false;
    if (b->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a;
        const struct sockaddr_in *y = (const struct sockaddr_in *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (b->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    return false;
}

static const char *peer_str(struct trl_listener *l, const struct sockaddr *sa)
{
    if (!sockaddr_equal(&l->last_peer, sa)) {
        size_t n =
            sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        memcpy(&l->last_peer, sa, n);
        trl_sockaddr_str(sa, l->last_peer_str, sizeof(l->last_peer_str));
    }
    return l->last_peer_str;
}

/* One datagram: the message, minus the trailing LF, CR or NUL that many senders append. */
static void datagram(struct trl_listener *l, const char *p, size_t n, const struct sockaddr *from,
                     bool partial)
{
    struct trl_srv *s = l->srv;
    l->st.bytes += n;
    const char *peer = peer_str(l, from);
    if (trl_ingress_must_drop(&s->in) && !s->stopping) {
        l->st.drops++;
        trl_srv_log_drop(s, l, peer);
        return;
    }
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == '\0'))
        n--;
    if (n == 0)
        return;
    uint32_t flags = partial ? TRL_MSG_TRUNCATED : 0;
    if (n > s->max_msg) {
        n = s->max_msg;
        flags |= TRL_MSG_TRUNCATED;
    }
    if (flags & TRL_MSG_TRUNCATED)
        l->st.truncated++;
    l->st.msgs++;
    trl_ingress_add(&s->in, p, n, peer, trl_now_ns(), flags);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct trl_listener *l = h->data;
    /* A buffer of several maximum-size datagrams makes libuv use recvmmsg(). */
    *buf = uv_buf_init(l->srv->udpbuf, TRL_UDP_BATCH * TRL_UDP_DGRAM_MAX);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    struct trl_listener *l = h->data;
    if (flags & UV_UDP_MMSG_FREE) {
        /* The end of a recvmmsg() batch; the buffer is the loop's own, nothing to free. */
        trl_listener_publish(l);
        return;
    }
    if (nread < 0) {
        l->st.errors++;
        trl_warn("udp", "receive failed listener=%s error=\"%s\"", l->bound,
                 uv_strerror((int)nread));
        return;
    }
    if (nread == 0 || !addr)
        return;
    datagram(l, buf->base, (size_t)nread, addr, (flags & UV_UDP_PARTIAL) != 0);
    if (!(flags & UV_UDP_MMSG_CHUNK))
        trl_listener_publish(l);
}

void trl_udp_apply_rcvbuf(struct trl_listener *l)
{
    int want = l->srv->udp_rcvbuf;
    uv_os_fd_t fd;
    if (want <= 0 || uv_fileno(&l->h.handle, &fd) != 0)
        return;
    /* SO_RCVBUFFORCE passes net.core.rmem_max when we may (CAP_NET_ADMIN); else the capped one. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
    int got = 0;
    socklen_t gl = sizeof(got);
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl) == 0 && got < want) {
        trl_info("udp",
                 "receive buffer smaller than asked listener=%s bytes=%d wanted=%d "
                 "hint=\"raise net.core.rmem_max\"",
                 l->bound, got, want);
    }
}

int trl_udp_open(struct trl_listener *l)
{
    struct trl_srv *s = l->srv;
    int family = l->addr.ss_family;
    int rc = uv_udp_init_ex(&s->loop, &l->h.udp, (unsigned)family | UV_UDP_RECVMMSG);
    if (rc < 0)
        return rc;
    l->h.handle.data = l;
    l->handle_open = true;
    l->refs++;
    unsigned bind_flags = family == AF_INET6 ? UV_UDP_IPV6ONLY : 0;
    rc = uv_udp_bind(&l->h.udp, (const struct sockaddr *)&l->addr, bind_flags);
    if (rc < 0)
        return rc;
    struct sockaddr_storage name;
    int namelen = sizeof(name);
    if (uv_udp_getsockname(&l->h.udp, (struct sockaddr *)&name, &namelen) == 0)
        trl_sockaddr_str((struct sockaddr *)&name, l->bound, sizeof(l->bound));
    trl_listener_claim_slot(l);
    trl_udp_apply_rcvbuf(l);
    return uv_udp_recv_start(&l->h.udp, on_alloc, on_recv);
}

void trl_udp_drain(struct trl_listener *l)
{
    uv_os_fd_t fd;
    if (!l->handle_open || uv_fileno(&l->h.handle, &fd) != 0)
        return;
    /* Bounded, so a flood during shutdown cannot keep us here. */
    for (int i = 0; i < 100000; i++) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(fd, l->srv->udpbuf, TRL_UDP_DGRAM_MAX, MSG_DONTWAIT | MSG_TRUNC,
                             (struct sockaddr *)&from, &fl);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        bool partial = n > TRL_UDP_DGRAM_MAX;
        datagram(l, l->srv->udpbuf, partial ? TRL_UDP_DGRAM_MAX : (size_t)n,
                 (struct sockaddr *)&from, partial);
    }
    trl_listener_publish(l);
}

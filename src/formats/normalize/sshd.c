/*
 * sshd: OpenSSH server messages (sshd, and the sshd-session / sshd-auth programs of OpenSSH 9.8+).
 *
 * User names in these messages are chosen by the remote peer and may contain spaces or text that
 * looks like an address, so the peer's "<IP> port <N>" is taken from the end of the message (or the
 * position the format fixes), never from the first match after a user name.
 */
#include "formats/normalize.h"
#include "formats/normalize/scan.h"

#include <string.h>

/* The parts of "[invalid user ]USER from IP port N<after>" and its relatives. */
struct peer_user {
    struct trl_str user;
    struct trl_str ip;
    struct trl_str port;
    struct trl_str after;
    bool invalid;
};

static const struct trl_norm_class cls_login = {"authentication", "start", NULL, "ssh-login",
                                                "success"};
static const struct trl_norm_class cls_login_failed = {"authentication", "start", NULL,
                                                       "ssh-login-failed", "failure"};
static const struct trl_norm_class cls_login_partial = {"authentication", "info", NULL,
                                                        "ssh-login-partial", "unknown"};
static const struct trl_norm_class cls_login_postponed = {"authentication", "info", NULL,
                                                          "ssh-login-postponed", "unknown"};
static const struct trl_norm_class cls_invalid_user = {"authentication", "info", NULL,
                                                       "ssh-invalid-user", "failure"};
static const struct trl_norm_class cls_max_auth = {"authentication", "info", NULL,
                                                   "ssh-max-auth-exceeded", "failure"};
static const struct trl_norm_class cls_not_allowed = {"authentication", "info", NULL,
                                                      "ssh-user-not-allowed", "failure"};
static const struct trl_norm_class cls_closed = {"session", "end", NULL, "ssh-connection-closed",
                                                 NULL};
static const struct trl_norm_class cls_reset = {"session", "end", NULL, "ssh-connection-reset",
                                                NULL};
static const struct trl_norm_class cls_disconnect = {"session", "end", NULL, "ssh-disconnect",
                                                     NULL};
static const struct trl_norm_class cls_disconnect_received = {"session", "end", NULL,
                                                              "ssh-disconnect-received", NULL};
static const struct trl_norm_class cls_disconnecting = {"session", "end", NULL, "ssh-disconnecting",
                                                        NULL};
static const struct trl_norm_class cls_timeout = {"session", "end", NULL, "ssh-timeout", NULL};
static const struct trl_norm_class cls_auth_timeout = {"session", "end", NULL, "ssh-auth-timeout",
                                                       "failure"};
static const struct trl_norm_class cls_session_start = {"session", "start", NULL,
                                                        "ssh-session-start", "success"};
static const struct trl_norm_class cls_session_close = {"session", "end", NULL, "ssh-session-close",
                                                        NULL};
static const struct trl_norm_class cls_connection = {"network", "connection", "start",
                                                     "ssh-connection", NULL};
static const struct trl_norm_class cls_negotiation = {"network", "connection", "denied",
                                                      "ssh-negotiation-failed", "failure"};
static const struct trl_norm_class cls_bad_banner = {"network", "protocol", NULL, "ssh-bad-banner",
                                                     "failure"};
static const struct trl_norm_class cls_no_ident = {"network", "connection", NULL,
                                                   "ssh-no-identification", "failure"};
static const struct trl_norm_class cls_dropped = {"network", "connection", "denied",
                                                  "ssh-connection-dropped", "failure"};
static const struct trl_norm_class cls_listening = {"network", "start", NULL,
                                                    "ssh-server-listening", NULL};
static const struct trl_norm_class cls_stopped = {"process", "end", NULL, "ssh-server-stopped",
                                                  NULL};

static struct trl_str str_before(struct trl_str s, const char *at)
{
    return (struct trl_str){s.ptr, (size_t)(at - s.ptr)};
}

static struct trl_str str_from(struct trl_str s, const char *at)
{
    return (struct trl_str){at, s.len - (size_t)(at - s.ptr)};
}

static bool str_ends_with(struct trl_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len >= n && memcmp(s.ptr + s.len - n, lit, n) == 0;
}

/* Removes a leading "invalid user " and reports it. */
static struct trl_str strip_invalid(struct trl_str user, bool *invalid)
{
    *invalid = trl_starts_with(user.ptr, user.len, "invalid user ");
    if (*invalid)
        return (struct trl_str){user.ptr + 13, user.len - 13};
    return user;
}

/* Parses "[invalid user ]USER from IP port N<after>": the last address whose text before ends
 * in " from ". */
static bool parse_user_from(struct trl_str text, struct peer_user *out)
{
    struct trl_str before, ip, port, after;
    if (!trl_scan_addr_port(text, true, &before, &ip, &port, &after) ||
        !str_ends_with(before, " from "))
        return false;
    struct trl_str user = {before.ptr, before.len - 6};
    out->user = strip_invalid(user, &out->invalid);
    out->ip = ip;
    out->port = port;
    out->after = after;
    return true;
}

/* Parses "[authenticating user |invalid user |user ]USER IP port N<after>" or "IP port N<after>".
 * With colon, only an address followed by ':' counts (the reason follows it). */
static bool parse_qualified_peer(struct trl_str text, bool colon, struct peer_user *out)
{
    struct trl_str before, ip, port, after, t = text;
    for (;;) {
        if (!trl_scan_addr_port(t, true, &before, &ip, &port, &after))
            return false;
        after = str_from(text, after.ptr);
        if (!colon || (after.len > 0 && after.ptr[0] == ':'))
            break;
        t = before;
    }
    out->invalid = false;
    out->user = (struct trl_str){NULL, 0};
    if (before.len > 0) {
        struct trl_str u = {before.ptr, before.len - 1}; /* before ends with the space */
        if (trl_starts_with(u.ptr, u.len, "authenticating user "))
            u = (struct trl_str){u.ptr + 20, u.len - 20};
        else if (trl_starts_with(u.ptr, u.len, "user "))
            u = (struct trl_str){u.ptr + 5, u.len - 5};
        else
            u = strip_invalid(u, &out->invalid);
        out->user = u;
    }
    out->ip = ip;
    out->port = port;
    out->after = after;
    return true;
}

/* Every peer_user's ip has been checked with trl_is_ip() by the parser that filled it, or is
 * empty. */
static void set_peer(struct trl_event *ev, const struct peer_user *pu)
{
    trl_norm_user(ev, TRL_F_USER_NAME, pu->user);
    trl_norm_checked_ip(ev, TRL_F_SOURCE_IP, pu->ip);
    trl_norm_port(ev, TRL_F_SOURCE_PORT, pu->port);
    if (pu->invalid)
        trl_event_set_dynamic_ex(ev, "sshd.invalid_user", 17, "true", 4,
                                 TRL_REF_NAME | TRL_REF_VALUE);
}

/* The host part of "from HOST": an address goes to source.ip, a name to source.domain. */
static void set_host(struct trl_event *ev, struct trl_str host)
{
    if (!trl_norm_ip(ev, TRL_F_SOURCE_IP, host))
        trl_norm_set(ev, TRL_F_SOURCE_DOMAIN, host);
}

/* "Accepted|Failed|Partial|Postponed METHOD for [invalid user ]USER from IP port N ssh2[: KEY FP]"
 * Inline where it is called with each class: the most frequent sshd lines, classified without
 * measuring the class's strings. */
static inline __attribute__((always_inline)) int
auth_result(struct trl_event *ev, struct trl_scan *s, const struct trl_norm_class *c)
{
    struct trl_str method, rest;
    struct peer_user pu;
    if (!trl_scan_word(s, &method) || !trl_scan_lit(s, " for "))
        return TRL_ENOMATCH;
    rest = trl_scan_rest(s);
    if (!parse_user_from(rest, &pu))
        return TRL_ENOMATCH;
    struct trl_scan a = trl_scan_init(pu.after.ptr, pu.after.len);
    struct trl_str key_type = {NULL, 0}, fingerprint = {NULL, 0};
    /* The protocol tag may be cut off by a truncated line; anything else after the port is not
     * this message. */
    if (a.p != a.end && !trl_starts_with(a.p, trl_scan_left(&a), " ssh"))
        return TRL_ENOMATCH;
    if (trl_scan_lit(&a, " ssh2") && trl_scan_lit(&a, ": ")) {
        trl_scan_word(&a, &key_type);
        trl_scan_lit(&a, " ");
        trl_scan_word(&a, &fingerprint);
    }
    const char *slash = memchr(method.ptr, '/', method.len);
    if (slash)
        method.len = (size_t)(slash - method.ptr);
    trl_norm_classify(ev, c);
    set_peer(ev, &pu);
    trl_norm_set_dynamic(ev, "sshd.method", method);
    trl_norm_set_dynamic(ev, "sshd.key_type", key_type);
    trl_norm_set_dynamic(ev, "sshd.key_fingerprint", fingerprint);
    return 0;
}

/* "Invalid user USER from IP port N", or without " port N" before OpenSSH 7.5. */
static int invalid_user(struct trl_event *ev, struct trl_str rest)
{
    struct peer_user pu;
    if (parse_user_from(rest, &pu)) {
        if (pu.after.len != 0)
            return TRL_ENOMATCH;
    } else {
        const char *from = trl_scan_rfind(rest.ptr, rest.len, " from ");
        if (!from)
            return TRL_ENOMATCH;
        struct trl_str host = str_from(rest, from + 6);
        if (!trl_is_ip(host.ptr, host.len))
            return TRL_ENOMATCH;
        pu.user = str_before(rest, from);
        pu.ip = host;
        pu.port = (struct trl_str){NULL, 0};
    }
    pu.invalid = true;
    trl_norm_classify(ev, &cls_invalid_user);
    set_peer(ev, &pu);
    return 0;
}

/* "maximum authentication attempts exceeded for [invalid user ]USER from IP port N ssh2" */
static int max_auth(struct trl_event *ev, struct trl_str rest)
{
    struct peer_user pu;
    if (!parse_user_from(rest, &pu))
        return TRL_ENOMATCH;
    trl_norm_classify(ev, &cls_max_auth);
    set_peer(ev, &pu);
    return 0;
}

/* "Connection closed by ...", "Connection reset by ...", "Disconnected from ...": the peer,
 * optionally preceded by the user it was authenticating as. */
static int peer_end(struct trl_event *ev, struct trl_str rest, const struct trl_norm_class *c)
{
    struct peer_user pu;
    if (!parse_qualified_peer(rest, false, &pu))
        return TRL_ENOMATCH;
    trl_norm_classify(ev, c);
    set_peer(ev, &pu);
    return 0;
}

/* "Received disconnect from IP port N:CODE: TEXT", or "from IP: CODE: TEXT" before OpenSSH 7.5. */
static int received_disconnect(struct trl_event *ev, struct trl_str rest)
{
    struct trl_scan s = trl_scan_init(rest.ptr, rest.len);
    struct trl_str ip, port = {NULL, 0}, code = {NULL, 0};
    const char *q = s.p;
    while (q < s.end && *q != ' ' && !(*q == ':' && (q + 1 == s.end || q[1] == ' ')))
        q++;
    ip = (struct trl_str){s.p, (size_t)(q - s.p)};
    if (!trl_is_ip(ip.ptr, ip.len))
        return TRL_ENOMATCH;
    s.p = q;
    if (trl_scan_lit(&s, " port ") && !trl_scan_digits(&s, &port))
        return TRL_ENOMATCH;
    if (trl_scan_lit(&s, ":")) {
        trl_scan_skip_space(&s);
        trl_scan_digits(&s, &code);
        trl_scan_lit(&s, ":");
        trl_scan_skip_space(&s);
    } else if (s.p != s.end) {
        return TRL_ENOMATCH;
    }
    trl_norm_classify(ev, &cls_disconnect_received);
    trl_norm_ip(ev, TRL_F_SOURCE_IP, ip);
    trl_norm_port(ev, TRL_F_SOURCE_PORT, port);
    trl_norm_set_dynamic(ev, "sshd.disconnect_code", code);
    trl_norm_set(ev, TRL_F_EVENT_REASON, trl_scan_rest(&s));
    return 0;
}

/* "Disconnecting [authenticating user |invalid user |user ]USER IP port N: REASON", or
 * "Disconnecting: REASON" from older releases. */
static int disconnecting(struct trl_event *ev, struct trl_str rest)
{
    struct peer_user pu = {0};
    struct trl_str reason;
    if (trl_starts_with(rest.ptr, rest.len, ": ")) {
        reason = (struct trl_str){rest.ptr + 2, rest.len - 2};
        const char *for_ = trl_scan_rfind(reason.ptr, reason.len, " for ");
        if (for_ && trl_starts_with(reason.ptr, reason.len, "Too many authentication failures"))
            pu.user = strip_invalid(str_from(reason, for_ + 5), &pu.invalid);
    } else {
        if (!trl_starts_with(rest.ptr, rest.len, " ") ||
            !parse_qualified_peer((struct trl_str){rest.ptr + 1, rest.len - 1}, true, &pu))
            return TRL_ENOMATCH;
        reason = trl_scan_trim(pu.after.ptr + 1, pu.after.len - 1);
    }
    trl_norm_classify(ev, &cls_disconnecting);
    set_peer(ev, &pu);
    trl_norm_set(ev, TRL_F_EVENT_REASON, reason);
    return 0;
}

/* "Connection from IP port N on IP port N[ rdomain "X"]" */
static int connection_from(struct trl_event *ev, struct trl_str rest)
{
    struct trl_scan s = trl_scan_init(rest.ptr, rest.len);
    struct trl_str sip, sport, dip, dport;
    if (!trl_scan_word(&s, &sip) || !trl_scan_lit(&s, " port ") || !trl_scan_digits(&s, &sport) ||
        !trl_scan_lit(&s, " on ") || !trl_scan_word(&s, &dip) || !trl_scan_lit(&s, " port ") ||
        !trl_scan_digits(&s, &dport) || !trl_is_ip(sip.ptr, sip.len) ||
        !trl_is_ip(dip.ptr, dip.len))
        return TRL_ENOMATCH;
    trl_norm_classify(ev, &cls_connection);
    trl_norm_ip(ev, TRL_F_SOURCE_IP, sip);
    trl_norm_port(ev, TRL_F_SOURCE_PORT, sport);
    trl_norm_ip(ev, TRL_F_DESTINATION_IP, dip);
    trl_norm_port(ev, TRL_F_DESTINATION_PORT, dport);
    return 0;
}

/* "IP port N: REASON" after a fixed prefix ("Unable to negotiate with ", "banner exchange:
 * Connection from "); the peer comes first, the reason (partly peer-chosen) after it. */
static int peer_reason(struct trl_event *ev, struct trl_str rest, const struct trl_norm_class *c)
{
    struct trl_scan s = trl_scan_init(rest.ptr, rest.len);
    struct trl_str ip, port;
    if (!trl_scan_word(&s, &ip) || !trl_scan_lit(&s, " port ") || !trl_scan_digits(&s, &port) ||
        !trl_is_ip(ip.ptr, ip.len))
        return TRL_ENOMATCH;
    trl_scan_lit(&s, ":");
    trl_scan_skip_space(&s);
    trl_norm_classify(ev, c);
    trl_norm_ip(ev, TRL_F_SOURCE_IP, ip);
    trl_norm_port(ev, TRL_F_SOURCE_PORT, port);
    trl_norm_set(ev, TRL_F_EVENT_REASON, trl_scan_rest(&s));
    return 0;
}

/* "IP[ port N]" and nothing else, after a fixed prefix. */
static int peer_only(struct trl_event *ev, struct trl_str rest, const struct trl_norm_class *c)
{
    struct trl_scan s = trl_scan_init(rest.ptr, rest.len);
    struct trl_str ip, port = {NULL, 0};
    if (!trl_scan_word(&s, &ip) || !trl_is_ip(ip.ptr, ip.len))
        return TRL_ENOMATCH;
    if (trl_scan_lit(&s, " port ") && !trl_scan_digits(&s, &port))
        return TRL_ENOMATCH;
    if (s.p != s.end)
        return TRL_ENOMATCH;
    trl_norm_classify(ev, c);
    trl_norm_ip(ev, TRL_F_SOURCE_IP, ip);
    trl_norm_port(ev, TRL_F_SOURCE_PORT, port);
    return 0;
}

/* "Timeout, client not responding[ from [user USER ]IP port N][.]" */
static int client_timeout(struct trl_event *ev, struct trl_str rest)
{
    struct peer_user pu = {0};
    if (rest.len > 0 && rest.ptr[rest.len - 1] == '.')
        rest.len--;
    if (trl_starts_with(rest.ptr, rest.len, " from ")) {
        if (!parse_qualified_peer((struct trl_str){rest.ptr + 6, rest.len - 6}, false, &pu))
            return TRL_ENOMATCH;
    } else if (rest.len != 0) {
        return TRL_ENOMATCH;
    }
    trl_norm_classify(ev, &cls_timeout);
    set_peer(ev, &pu);
    return 0;
}

/* "Bad protocol version identification 'TEXT' from IP port N" */
static int bad_version(struct trl_event *ev, struct trl_str rest)
{
    struct trl_str before, ip, port, after;
    if (!trl_scan_addr_port(rest, true, &before, &ip, &port, &after) ||
        !str_ends_with(before, " from ") || after.len != 0)
        return TRL_ENOMATCH;
    trl_norm_classify(ev, &cls_bad_banner);
    trl_norm_ip(ev, TRL_F_SOURCE_IP, ip);
    trl_norm_port(ev, TRL_F_SOURCE_PORT, port);
    return 0;
}

/* "User USER from HOST not allowed because REASON" */
static int not_allowed(struct trl_event *ev, struct trl_str rest)
{
    const char *because = trl_scan_rfind(rest.ptr, rest.len, " not allowed because ");
    if (!because)
        return TRL_ENOMATCH;
    struct trl_str head = str_before(rest, because);
    const char *from = trl_scan_rfind(head.ptr, head.len, " from ");
    if (!from)
        return TRL_ENOMATCH;
    trl_norm_classify(ev, &cls_not_allowed);
    trl_norm_user(ev, TRL_F_USER_NAME, str_before(head, from));
    set_host(ev, str_from(head, from + 6));
    trl_norm_set(ev, TRL_F_EVENT_REASON, str_from(rest, because + 21));
    return 0;
}

/* "Starting session: WHAT for USER from IP port N id N" / "Close session: user USER from IP port
 * N id N". Only authenticated users reach these, so the user is an existing account. */
static int session_line(struct trl_event *ev, struct trl_str rest, const char *lead,
                        const struct trl_norm_class *c)
{
    struct trl_str before, ip, port, after;
    if (!trl_scan_addr_port(rest, true, &before, &ip, &port, &after) ||
        !str_ends_with(before, " from ") || !trl_starts_with(after.ptr, after.len, " id "))
        return TRL_ENOMATCH;
    struct trl_str head = {before.ptr, before.len - 6};
    const char *at = trl_scan_rfind(head.ptr, head.len, lead);
    if (!at)
        return TRL_ENOMATCH;
    trl_norm_classify(ev, c);
    trl_norm_user(ev, TRL_F_USER_NAME, str_from(head, at + strlen(lead)));
    trl_norm_ip(ev, TRL_F_SOURCE_IP, ip);
    trl_norm_port(ev, TRL_F_SOURCE_PORT, port);
    return 0;
}

/* "[IP]:PORT" */
static bool bracketed_addr(struct trl_scan *s, struct trl_str *ip, struct trl_str *port)
{
    return trl_scan_lit(s, "[") && trl_scan_until(s, "]:", ip) && trl_is_ip(ip->ptr, ip->len) &&
           trl_scan_digits(s, port);
}

/* "drop connection #N from [IP]:PORT on [IP]:PORT REASON" */
static int drop_connection(struct trl_event *ev, struct trl_str rest)
{
    struct trl_scan s = trl_scan_init(rest.ptr, rest.len);
    struct trl_str n, sip, sport, dip, dport;
    if (!trl_scan_digits(&s, &n) || !trl_scan_lit(&s, " from ") ||
        !bracketed_addr(&s, &sip, &sport) || !trl_scan_lit(&s, " on ") ||
        !bracketed_addr(&s, &dip, &dport))
        return TRL_ENOMATCH;
    trl_scan_skip_space(&s);
    trl_norm_classify(ev, &cls_dropped);
    trl_norm_ip(ev, TRL_F_SOURCE_IP, sip);
    trl_norm_port(ev, TRL_F_SOURCE_PORT, sport);
    trl_norm_ip(ev, TRL_F_DESTINATION_IP, dip);
    trl_norm_port(ev, TRL_F_DESTINATION_PORT, dport);
    trl_norm_set(ev, TRL_F_EVENT_REASON, trl_scan_rest(&s));
    return 0;
}

/* "Server listening on ADDR port N." */
static int listening(struct trl_event *ev, struct trl_str rest)
{
    struct trl_scan s = trl_scan_init(rest.ptr, rest.len);
    struct trl_str ip, port;
    if (!trl_scan_word(&s, &ip) || !trl_is_ip(ip.ptr, ip.len) || !trl_scan_lit(&s, " port ") ||
        !trl_scan_digits(&s, &port))
        return TRL_ENOMATCH;
    trl_norm_classify(ev, &cls_listening);
    trl_norm_set_named(ev, "server.ip", ip);
    trl_norm_set_named(ev, "server.port", port);
    return 0;
}

static int sshd_body(struct trl_event *ev, struct trl_str m)
{
    if (trl_norm_is_pam(m))
        return trl_norm_pam(ev, m.ptr, m.len);
    struct trl_scan s = trl_scan_init(m.ptr, m.len);
    if (!trl_scan_lit(&s, "error: "))
        trl_scan_lit(&s, "fatal: ");
    /* The pre-authentication child tags its lines; the tag says nothing the action does not. */
    struct trl_str body = trl_scan_rest(&s);
    if (str_ends_with(body, " [preauth]"))
        body.len -= 10;
    else if (str_ends_with(body, " [net]"))
        body.len -= 6;
    s = trl_scan_init(body.ptr, body.len);
    struct trl_str rest;

    if (trl_scan_lit(&s, "Accepted "))
        return auth_result(ev, &s, &cls_login);
    if (trl_scan_lit(&s, "Failed "))
        return auth_result(ev, &s, &cls_login_failed);
    if (trl_scan_lit(&s, "Partial "))
        return auth_result(ev, &s, &cls_login_partial);
    if (trl_scan_lit(&s, "Postponed "))
        return auth_result(ev, &s, &cls_login_postponed);
    if (trl_scan_lit(&s, "Invalid user "))
        return invalid_user(ev, trl_scan_rest(&s));
    if (trl_scan_lit(&s, "maximum authentication attempts exceeded for "))
        return max_auth(ev, trl_scan_rest(&s));
    if (trl_scan_lit(&s, "Connection closed by "))
        return peer_end(ev, trl_scan_rest(&s), &cls_closed);
    if (trl_scan_lit(&s, "Connection reset by "))
        return peer_end(ev, trl_scan_rest(&s), &cls_reset);
    if (trl_scan_lit(&s, "Disconnected from "))
        return peer_end(ev, trl_scan_rest(&s), &cls_disconnect);
    if (trl_scan_lit(&s, "Received disconnect from "))
        return received_disconnect(ev, trl_scan_rest(&s));
    if (trl_scan_lit(&s, "Disconnecting"))
        return disconnecting(ev, trl_scan_rest(&s));
    if (trl_scan_lit(&s, "Connection from "))
        return connection_from(ev, trl_scan_rest(&s));
    if (trl_scan_lit(&s, "Unable to negotiate with "))
        return peer_reason(ev, trl_scan_rest(&s), &cls_negotiation);
    if (trl_scan_lit(&s, "banner exchange: Connection from "))
        return peer_reason(ev, trl_scan_rest(&s), &cls_bad_banner);
    if (trl_scan_lit(&s, "Did not receive identification string from "))
        return peer_only(ev, trl_scan_rest(&s), &cls_no_ident);
    if (trl_scan_lit(&s, "Timeout before authentication for "))
        return peer_only(ev, trl_scan_rest(&s), &cls_auth_timeout);
    if (trl_scan_lit(&s, "Timeout, client not responding"))
        return client_timeout(ev, trl_scan_rest(&s));
    if (trl_scan_lit(&s, "Bad protocol version identification "))
        return bad_version(ev, trl_scan_rest(&s));
    if (trl_scan_lit(&s, "User "))
        return not_allowed(ev, trl_scan_rest(&s));
    if (trl_scan_lit(&s, "Starting session: "))
        return session_line(ev, trl_scan_rest(&s), " for ", &cls_session_start);
    if (trl_scan_lit(&s, "Close session: "))
        return session_line(ev, trl_scan_rest(&s), "user ", &cls_session_close);
    if (trl_scan_lit(&s, "drop connection #"))
        return drop_connection(ev, trl_scan_rest(&s));
    if (trl_scan_lit(&s, "Server listening on "))
        return listening(ev, trl_scan_rest(&s));
    if (trl_scan_lit(&s, "Received signal ") && trl_scan_until(&s, "; terminating", &rest) &&
        trl_parse_u64(rest.ptr, rest.len, &(uint64_t){0})) {
        trl_norm_classify(ev, &cls_stopped);
        return 0;
    }
    return TRL_ENOMATCH;
}

int trl_norm_sshd(struct trl_event *ev, const char *msg, size_t len)
{
    return trl_norm_run(ev, msg, len, sshd_body);
}

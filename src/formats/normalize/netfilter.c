/*
 * netfilter: packet log lines the kernel writes for iptables/nftables LOG rules:
 * "[uptime] PREFIX IN=eth0 OUT= MAC=.. SRC=.. DST=.. LEN=.. ... PROTO=TCP SPT=.. DPT=.. ... SYN
 * ...".
 *
 * PREFIX is whatever the rule's --log-prefix / `log prefix` says ("[UFW BLOCK] ", "IPTABLES-DROP:
 * ", "nft-drop "); it becomes rule.name and its words tell whether the packet was denied or
 * allowed. Only the header of the logged packet is read: an ICMP error quotes the offending packet
 * in brackets after it, with SRC= and DST= of its own.
 */
#include "formats/normalize.h"
#include "formats/normalize/scan.h"

#include <string.h>

static const struct trl_norm_class cls_denied = {"network", "connection", "denied",
                                                 "firewall-packet", NULL};
static const struct trl_norm_class cls_allowed = {"network", "connection", "allowed",
                                                  "firewall-packet", NULL};
static const struct trl_norm_class cls_logged = {"network", "connection", NULL, "firewall-packet",
                                                 NULL};

struct packet {
    struct trl_str in, out, mac, src, dst, proto, spt, dpt, icmp_type, icmp_code;
    char flags[40];
    size_t flags_len;
};

static bool is_uptime(struct trl_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if (!(c == ' ' || c == '.' || (c >= '0' && c <= '9')))
            return false;
    }
    return s.len > 0;
}

static bool contains_ci(struct trl_str s, const char *w)
{
    size_t n = strlen(w);
    for (size_t i = 0; i + n <= s.len; i++) {
        if (trl_strcase_eq(s.ptr + i, n, w, n))
            return true;
    }
    return false;
}

/* The rule name: the prefix without the kernel's "[uptime]", brackets, spaces and a final ':'. */
static struct trl_str rule_name(struct trl_str p)
{
    p = trl_scan_trim(p.ptr, p.len);
    if (p.len > 0 && p.ptr[0] == '[') {
        const char *close = memchr(p.ptr, ']', p.len);
        if (close && is_uptime((struct trl_str){p.ptr + 1, (size_t)(close - p.ptr - 1)}))
            p = trl_scan_trim(close + 1, p.len - (size_t)(close + 1 - p.ptr));
    }
    while (p.len > 0 && (p.ptr[p.len - 1] == ':' || p.ptr[p.len - 1] == ' '))
        p.len--;
    if (p.len >= 2 && p.ptr[0] == '[' && p.ptr[p.len - 1] == ']')
        p = trl_scan_trim(p.ptr + 1, p.len - 2);
    return p;
}

/* Finds "IN=<name> OUT=" (the prefix may run straight into it without a space). */
static const char *find_in(struct trl_str m)
{
    const char *p = m.ptr, *end = m.ptr + m.len;
    while (p < end) {
        const char *hit = trl_memstr(p, (size_t)(end - p), "IN=");
        if (!hit)
            return NULL;
        const char *q = hit + 3;
        while (q < end && *q != ' ')
            q++;
        if (trl_starts_with(q, (size_t)(end - q), " OUT="))
            return hit;
        p = hit + 1;
    }
    return NULL;
}

static void add_flag(struct packet *pk, struct trl_str tok)
{
    if (pk->flags_len + tok.len + 1 > sizeof(pk->flags))
        return;
    if (pk->flags_len)
        pk->flags[pk->flags_len++] = ' ';
    memcpy(pk->flags + pk->flags_len, tok.ptr, tok.len);
    pk->flags_len += tok.len;
}

static bool is_tcp_flag(struct trl_str t)
{
    static const char *const names[] = {"CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN"};
    for (size_t i = 0; i < TRL_ARRAY_LEN(names); i++) {
        if (trl_str_eq(t, names[i]))
            return true;
    }
    return false;
}

static void take(struct trl_str tok, const char *key, struct trl_str *out)
{
    size_t n = strlen(key);
    if (!out->ptr && tok.len > n && memcmp(tok.ptr, key, n) == 0 && tok.ptr[n] == '=')
        *out = (struct trl_str){tok.ptr + n + 1, tok.len - n - 1};
}

static void parse_packet(struct trl_str kv, struct packet *pk)
{
    struct trl_scan s = trl_scan_init(kv.ptr, kv.len);
    struct trl_str tok;
    for (;;) {
        trl_scan_skip_space(&s);
        if (s.p == s.end || *s.p == '[')
            break;
        if (!trl_scan_word(&s, &tok))
            break;
        take(tok, "IN", &pk->in);
        take(tok, "OUT", &pk->out);
        take(tok, "MAC", &pk->mac);
        take(tok, "SRC", &pk->src);
        take(tok, "DST", &pk->dst);
        take(tok, "PROTO", &pk->proto);
        take(tok, "SPT", &pk->spt);
        take(tok, "DPT", &pk->dpt);
        take(tok, "TYPE", &pk->icmp_type);
        take(tok, "CODE", &pk->icmp_code);
        if (is_tcp_flag(tok))
            add_flag(pk, tok);
    }
}

static void set_transport(struct trl_event *ev, struct trl_str proto)
{
    static const struct {
        const char *log, *ecs;
    } names[] = {{"ICMPv6", "ipv6-icmp"}, {"2", "igmp"}, {"47", "gre"},
                 {"50", "esp"},           {"51", "ah"},  {"132", "sctp"}};
    for (size_t i = 0; i < TRL_ARRAY_LEN(names); i++) {
        if (trl_str_eq(proto, names[i].log)) {
            trl_event_set_str(ev, TRL_F_NETWORK_TRANSPORT, names[i].ecs);
            return;
        }
    }
    char low[16];
    if (proto.len == 0 || proto.len > sizeof(low))
        return;
    for (size_t i = 0; i < proto.len; i++) {
        char c = proto.ptr[i];
        low[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    trl_event_set(ev, TRL_F_NETWORK_TRANSPORT, low, proto.len);
}

/* MAC= holds destination (6 octets), source (6) and EtherType (2) for Ethernet; ECS writes MAC
 * addresses upper-case with hyphens. */
static void set_macs(struct trl_event *ev, struct trl_str mac)
{
    if (mac.len != 41)
        return;
    for (size_t i = 0; i < mac.len; i++) {
        char c = mac.ptr[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (i % 3 == 2 ? c != ':' : !hex)
            return;
    }
    char dst[17], src[17];
    for (size_t i = 0; i < 17; i++) {
        char d = mac.ptr[i], s = mac.ptr[18 + i];
        dst[i] = d == ':' ? '-' : (char)(d >= 'a' && d <= 'f' ? d - ('a' - 'A') : d);
        src[i] = s == ':' ? '-' : (char)(s >= 'a' && s <= 'f' ? s - ('a' - 'A') : s);
    }
    trl_event_set(ev, TRL_F_SOURCE_MAC, src, sizeof(src));
    trl_event_set_named(ev, "destination.mac", 15, dst, sizeof(dst));
}

static int netfilter_body(struct trl_event *ev, struct trl_str m)
{
    const char *in = find_in(m);
    if (!in || !trl_memstr(in, m.len - (size_t)(in - m.ptr), " SRC=") ||
        !trl_memstr(in, m.len - (size_t)(in - m.ptr), " DST=") ||
        !trl_memstr(in, m.len - (size_t)(in - m.ptr), "PROTO="))
        return TRL_ENOMATCH;
    struct packet pk;
    memset(&pk, 0, sizeof(pk));
    parse_packet((struct trl_str){in, m.len - (size_t)(in - m.ptr)}, &pk);
    if (!trl_is_ip(pk.src.ptr, pk.src.len) || !trl_is_ip(pk.dst.ptr, pk.dst.len))
        return TRL_ENOMATCH;
    struct trl_str rule = rule_name((struct trl_str){m.ptr, (size_t)(in - m.ptr)});
    const struct trl_norm_class *c = &cls_logged;
    if (contains_ci(rule, "BLOCK") || contains_ci(rule, "DROP") || contains_ci(rule, "REJECT") ||
        contains_ci(rule, "DENY") || contains_ci(rule, "DENIED"))
        c = &cls_denied;
    else if (contains_ci(rule, "ACCEPT") || contains_ci(rule, "ALLOW") || contains_ci(rule, "PASS"))
        c = &cls_allowed;

    trl_norm_classify(ev, c);
    trl_norm_set(ev, TRL_F_RULE_NAME, rule);
    trl_norm_ip(ev, TRL_F_SOURCE_IP, pk.src);
    trl_norm_ip(ev, TRL_F_DESTINATION_IP, pk.dst);
    trl_norm_port(ev, TRL_F_SOURCE_PORT, pk.spt);
    trl_norm_port(ev, TRL_F_DESTINATION_PORT, pk.dpt);
    set_transport(ev, pk.proto);
    trl_event_set_str(ev, TRL_F_NETWORK_TYPE,
                      memchr(pk.src.ptr, ':', pk.src.len) ? "ipv6" : "ipv4");
    trl_norm_set(ev, TRL_F_OBSERVER_INGRESS_INTERFACE_NAME, pk.in);
    trl_norm_set(ev, TRL_F_OBSERVER_EGRESS_INTERFACE_NAME, pk.out);
    if (pk.in.len > 0 && pk.out.len == 0)
        trl_event_set_str(ev, TRL_F_NETWORK_DIRECTION, "ingress");
    else if (pk.out.len > 0 && pk.in.len == 0)
        trl_event_set_str(ev, TRL_F_NETWORK_DIRECTION, "egress");
    set_macs(ev, pk.mac);
    if (pk.flags_len)
        trl_event_set_named(ev, "iptables.tcp.flags", 18, pk.flags, pk.flags_len);
    trl_norm_set_named(ev, "iptables.icmp.type", pk.icmp_type);
    trl_norm_set_named(ev, "iptables.icmp.code", pk.icmp_code);
    return 0;
}

int trl_norm_netfilter(struct trl_event *ev, const char *msg, size_t len)
{
    return trl_norm_run(ev, msg, len, netfilter_body);
}

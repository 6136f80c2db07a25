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

static char ascii_lower(char c)
{
    return (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

/* Whether s contains w, ignoring ASCII case; w is an upper-case word. */
static bool contains_ci(struct trl_str s, const char *w)
{
    size_t n = strlen(w);
    char first = ascii_lower(w[0]);
    for (size_t i = 0; i + n <= s.len; i++) {
        if (ascii_lower(s.ptr[i]) != first)
            continue;
        size_t k = 1;
        while (k < n && ascii_lower(s.ptr[i + k]) == ascii_lower(w[k]))
            k++;
        if (k == n)
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
    static const char names[] = "CWRECEURGACKPSHRSTSYNFIN";
    if (t.len != 3)
        return false;
    for (size_t i = 0; i < sizeof(names) - 1; i += 3) {
        if (t.ptr[0] == names[i] && t.ptr[1] == names[i + 1] && t.ptr[2] == names[i + 2])
            return true;
    }
    return false;
}

/* Whether tok is "KEY=..." for the n-byte key. */
static bool key_is(struct trl_str tok, const char *key, size_t n)
{
    return tok.len > n && tok.ptr[n] == '=' && memcmp(tok.ptr, key, n) == 0;
}

/* The slot of a "KEY=value" token and the key's length, or NULL. No key is a prefix of another
 * followed by '=', so the first letter and the '=' settle which key a token can be. */
static struct trl_str *slot_for(struct packet *pk, struct trl_str tok, size_t *key_len)
{
    struct trl_str *slot = NULL;
    size_t n = 3;
    switch (tok.ptr[0]) {
    case 'I':
        n = 2;
        slot = key_is(tok, "IN", 2) ? &pk->in : NULL;
        break;
    case 'O':
        slot = key_is(tok, "OUT", 3) ? &pk->out : NULL;
        break;
    case 'M':
        slot = key_is(tok, "MAC", 3) ? &pk->mac : NULL;
        break;
    case 'S':
        slot = key_is(tok, "SRC", 3) ? &pk->src : key_is(tok, "SPT", 3) ? &pk->spt : NULL;
        break;
    case 'D':
        slot = key_is(tok, "DST", 3) ? &pk->dst : key_is(tok, "DPT", 3) ? &pk->dpt : NULL;
        break;
    case 'P':
        n = 5;
        slot = key_is(tok, "PROTO", 5) ? &pk->proto : NULL;
        break;
    case 'T':
        n = 4;
        slot = key_is(tok, "TYPE", 4) ? &pk->icmp_type : NULL;
        break;
    case 'C':
        n = 4;
        slot = key_is(tok, "CODE", 4) ? &pk->icmp_code : NULL;
        break;
    default:
        break;
    }
    *key_len = n;
    return slot;
}

/* Reads the space-separated tokens up to the end or a '[' that opens a quoted packet; the first
 * occurrence of each key wins. */
static void parse_packet(struct trl_str kv, struct packet *pk)
{
    const char *p = kv.ptr, *end = kv.ptr + kv.len;
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p == end || *p == '[')
            break;
        const char *q = trl_scan_find_space(p, end);
        struct trl_str tok = {p, (size_t)(q - p)}, *slot;
        size_t klen = 0;
        p = q;
        if ((slot = slot_for(pk, tok, &klen)) != NULL) {
            if (!slot->ptr)
                *slot = (struct trl_str){tok.ptr + klen + 1, tok.len - klen - 1};
        } else if (is_tcp_flag(tok)) {
            add_flag(pk, tok);
        }
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

/* Copies the 17 bytes "xx:xx:xx:xx:xx:xx" at in (hex digits and colons, checked) to out with the
 * letters in upper case and '-' for ':'. Of those bytes only the lower-case letters have both
 * 0x40 and 0x20 set: clearing 0x20 where 0x40 is set changes exactly them, 8 bytes at a time. */
static void upper_mac(char *out, const char *in)
{
    const uint64_t bit40 = 0x4040404040404040ULL;
    uint64_t a, b;
    memcpy(&a, in, 8);
    memcpy(&b, in + 8, 8);
    a &= ~((a & bit40) >> 1);
    b &= ~((b & bit40) >> 1);
    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 8);
    char c = in[16];
    out[16] = (char)(c & ~((c & 0x40) >> 1));
    for (size_t i = 2; i < 17; i += 3)
        out[i] = '-';
}

/* MAC= holds destination (6 octets), source (6) and EtherType (2) for Ethernet; ECS writes MAC
 * addresses upper-case with hyphens. */
static void set_macs(struct trl_event *ev, struct trl_str mac)
{
    if (mac.len != 41)
        return;
    for (size_t i = 0; i < mac.len; i += 3) {
        if (trl_hex_value(mac.ptr[i]) < 0 || trl_hex_value(mac.ptr[i + 1]) < 0 ||
            (i + 2 < mac.len && mac.ptr[i + 2] != ':'))
            return;
    }
    char dst[17], src[17];
    upper_mac(dst, mac.ptr);
    upper_mac(src, mac.ptr + 18);
    trl_event_set(ev, TRL_F_SOURCE_MAC, src, sizeof(src));
    trl_event_set_named_ex(ev, "destination.mac", 15, dst, sizeof(dst), TRL_REF_NAME);
}

/* Whether the n bytes of lit occur in [p, end); val, when set, is the value of the token the
 * packet parser took for that key, which settles it without a search when a space precedes it. */
static bool has_key(const char *p, const char *end, struct trl_str val, const char *lit, size_t n)
{
    if (val.ptr && (size_t)(val.ptr - p) >= n && memcmp(val.ptr - n, lit, n) == 0)
        return true;
    return trl_memmem(p, (size_t)(end - p), lit, n) != NULL;
}

static int netfilter_body(struct trl_event *ev, struct trl_str m)
{
    const char *in = find_in(m);
    if (!in)
        return TRL_ENOMATCH;
    const char *end = m.ptr + m.len;
    struct packet pk;
    memset(&pk, 0, sizeof(pk));
    parse_packet((struct trl_str){in, (size_t)(end - in)}, &pk);
    if (!has_key(in, end, pk.src, " SRC=", 5) || !has_key(in, end, pk.dst, " DST=", 5) ||
        !has_key(in, end, pk.proto, "PROTO=", 6))
        return TRL_ENOMATCH;
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
    trl_norm_checked_ip(ev, TRL_F_SOURCE_IP, pk.src);
    trl_norm_checked_ip(ev, TRL_F_DESTINATION_IP, pk.dst);
    trl_norm_port(ev, TRL_F_SOURCE_PORT, pk.spt);
    trl_norm_port(ev, TRL_F_DESTINATION_PORT, pk.dpt);
    set_transport(ev, pk.proto);
    trl_event_set_ref(ev, TRL_F_NETWORK_TYPE, memchr(pk.src.ptr, ':', pk.src.len) ? "ipv6" : "ipv4",
                      4);
    trl_norm_set(ev, TRL_F_OBSERVER_INGRESS_INTERFACE_NAME, pk.in);
    trl_norm_set(ev, TRL_F_OBSERVER_EGRESS_INTERFACE_NAME, pk.out);
    if (pk.in.len > 0 && pk.out.len == 0)
        trl_event_set_ref(ev, TRL_F_NETWORK_DIRECTION, "ingress", 7);
    else if (pk.out.len > 0 && pk.in.len == 0)
        trl_event_set_ref(ev, TRL_F_NETWORK_DIRECTION, "egress", 6);
    set_macs(ev, pk.mac);
    if (pk.flags_len)
        trl_event_set_dynamic_ex(ev, "iptables.tcp.flags", 18, pk.flags, pk.flags_len,
                                 TRL_REF_NAME);
    trl_norm_set_dynamic(ev, "iptables.icmp.type", pk.icmp_type);
    trl_norm_set_dynamic(ev, "iptables.icmp.code", pk.icmp_code);
    return 0;
}

int trl_norm_netfilter(struct trl_event *ev, const char *msg, size_t len)
{
    return trl_norm_run(ev, msg, len, netfilter_body);
}

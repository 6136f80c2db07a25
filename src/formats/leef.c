/*
 * LEEF (IBM QRadar Log Event Extended Format), versions 1.0 and 2.0:
 *   LEEF:1.0|Vendor|Product|Version|EventID|key=value<TAB>key=value...
 *   LEEF:2.0|Vendor|Product|Version|EventID|DelimiterCharacter|key=value<delim>key=value...
 *
 * LEEF 2.0's delimiter field is optional: one character ("^"), or its code in hex ("x09", "0x5E").
 * Some LEEF 1.0 senders separate attributes with spaces instead of tabs; such a line is split like
 * a CEF extension (a value runs until the next " key=").
 *
 * Every attribute is kept as leef.<key>; the predefined ones are also mapped to ECS (src, dst,
 * srcPort, usrName, proto, sev, devTime with devTimeFormat, url, action, ...). cat is a vendor's
 * own category, not one of ECS's event.category values, so it stays in leef.cat only.
 */
#include "core/timeutil.h"
#include "core/util.h"
#include "formats/parse.h"
#include "formats/vendor_ecs.h"
#include "formats/vendor_time.h"

#include <string.h>

#define HEADER_FIELDS 4 /* after the version: vendor, product, version, event ID */

static bool key_is(const struct trl_vendor_kv *kv, const char *lit)
{
    return trl_strcase_eq(kv->key, kv->key_len, lit, strlen(lit));
}

/* "x09", "0x09", "X5E": a delimiter written as its code (one byte). */
static bool hex_delim(const char *p, size_t len, char *out)
{
    size_t i = 0;
    if (len > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        i = 2;
    else if (len > 1 && (p[0] == 'x' || p[0] == 'X'))
        i = 1;
    else
        return false;
    if (len - i > 4)
        return false;
    unsigned v = 0;
    for (; i < len; i++) {
        int d = trl_hex_value(p[i]);
        if (d < 0)
            return false;
        v = v * 16 + (unsigned)d;
    }
    if (v == 0 || v > 0xff)
        return false;
    *out = (char)v;
    return true;
}

static void set_time(struct trl_event *ev, const struct trl_vendor_kv *t,
                     const struct trl_vendor_kv *fmt)
{
    int64_t ref = ev->received_ns ? ev->received_ns : trl_now_ns();
    int64_t ns;
    bool ok = fmt && fmt->val_len &&
              trl_vtime_parse_pattern(fmt->val, fmt->val_len, t->val, t->val_len, ref, &ns);
    if (ok || trl_vtime_parse_any(t->val, t->val_len, ref, &ns))
        ev->timestamp_ns = ns;
}

static void apply(struct trl_event *ev, const struct trl_vendor_kv *kv,
                  const struct trl_vendor_kv *time_fmt)
{
    const char *v = kv->val;
    size_t len = kv->val_len;
    if (len == 0)
        return;
    if (key_is(kv, "src"))
        trl_vendor_set_addr(ev, TRL_F_SOURCE_IP, TRL_F_SOURCE_ADDRESS, v, len);
    else if (key_is(kv, "dst"))
        trl_vendor_set_addr(ev, TRL_F_DESTINATION_IP, TRL_F_DESTINATION_ADDRESS, v, len);
    else if (key_is(kv, "srcPort"))
        trl_vendor_set_number(ev, TRL_F_SOURCE_PORT, v, len, true);
    else if (key_is(kv, "dstPort"))
        trl_vendor_set_number(ev, TRL_F_DESTINATION_PORT, v, len, true);
    else if (key_is(kv, "usrName"))
        trl_vendor_set_user(ev, TRL_F_USER_NAME, v, len);
    else if (key_is(kv, "accountName") || key_is(kv, "identUser")) {
        if (!trl_event_has(ev, TRL_F_USER_NAME))
            trl_vendor_set_user(ev, TRL_F_USER_NAME, v, len);
    } else if (key_is(kv, "domain"))
        trl_event_set(ev, TRL_F_USER_DOMAIN, v, len);
    else if (key_is(kv, "proto"))
        trl_vendor_set_transport(ev, v, len);
    else if (key_is(kv, "sev")) {
        uint64_t n;
        if (len <= 2 && trl_parse_u64(v, len, &n) && n <= 10)
            trl_event_set(ev, TRL_F_EVENT_SEVERITY, v, len);
    } else if (key_is(kv, "devTime"))
        set_time(ev, kv, time_fmt);
    else if (key_is(kv, "identSrc")) {
        if (!trl_event_has(ev, TRL_F_SOURCE_IP))
            trl_vendor_set_addr(ev, TRL_F_SOURCE_IP, TRL_F_SOURCE_ADDRESS, v, len);
    } else if (key_is(kv, "identHostName")) {
        if (!trl_event_has(ev, TRL_F_SOURCE_DOMAIN))
            trl_event_set(ev, TRL_F_SOURCE_DOMAIN, v, len);
    } else if (key_is(kv, "url"))
        trl_event_set(ev, TRL_F_URL_ORIGINAL, v, len);
    else if (key_is(kv, "action"))
        trl_vendor_set_action(ev, v, len);
    else if (key_is(kv, "outcome"))
        trl_vendor_set_outcome(ev, v, len);
    else if (key_is(kv, "srcMAC"))
        trl_event_set(ev, TRL_F_SOURCE_MAC, v, len);
    else if (key_is(kv, "dstMAC"))
        trl_event_set_named(ev, "destination.mac", 15, v, len);
    else if (key_is(kv, "srcBytes"))
        trl_vendor_set_number(ev, TRL_F_SOURCE_BYTES, v, len, false);
    else if (key_is(kv, "dstBytes"))
        trl_vendor_set_number(ev, TRL_F_DESTINATION_BYTES, v, len, false);
    else if (key_is(kv, "totalPackets"))
        trl_vendor_set_number(ev, TRL_F_NETWORK_PACKETS, v, len, false);
    else if (key_is(kv, "policy"))
        trl_event_set(ev, TRL_F_RULE_NAME, v, len);
    else if (key_is(kv, "reason"))
        trl_event_set(ev, TRL_F_EVENT_REASON, v, len);
    else if (key_is(kv, "userAgent"))
        trl_event_set(ev, TRL_F_USER_AGENT_ORIGINAL, v, len);
    else if (key_is(kv, "msg") || key_is(kv, "message"))
        trl_event_set(ev, TRL_F_MESSAGE, v, len);
}

/* A header field with "\\|" turned back into '|'. */
static struct trl_str header_field(struct trl_event *ev, const char *p, size_t len)
{
    if (!trl_memstr(p, len, "\\|"))
        return (struct trl_str){p, len};
    char *out = trl_arena_alloc(ev->arena, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\\' && i + 1 < len && p[i + 1] == '|')
            i++;
        out[n++] = p[i];
    }
    out[n] = '\0';
    return (struct trl_str){out, n};
}

/* The attribute delimiter and where the attributes start, after "...|EventID|". */
static char attribute_delim(bool v2, const char *p, size_t len, size_t *start)
{
    if (!v2)
        return '\t';
    size_t s = *start;
    const char *bar = memchr(p + s, '|', TRL_MIN(len - s, (size_t)8));
    if (!bar)
        return '\t';
    size_t fl = (size_t)(bar - (p + s));
    char d;
    if (fl == 0) {
        *start = s + 1;
        return '\t';
    }
    if (fl == 1 && p[s] != '=') {
        *start = s + 2;
        return p[s];
    }
    if (hex_delim(p + s, fl, &d)) {
        *start = s + fl + 1;
        return d;
    }
    return '\t';
}

int trl_parse_leef(struct trl_event *ev, const char *p, size_t len)
{
    if (!p)
        return TRL_ENOMATCH;
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r' || p[len - 1] == '\0'))
        len--;
    if (!trl_starts_with(p, len, "LEEF:"))
        return TRL_ENOMATCH;
    if (!ev->format)
        ev->format = "leef";
    if (!trl_event_has(ev, TRL_F_MESSAGE))
        trl_event_set(ev, TRL_F_MESSAGE, p, len);

    size_t i = 5;
    while (i < len && p[i] == ' ')
        i++;
    size_t vs = i;
    while (i < len && ((p[i] >= '0' && p[i] <= '9') || p[i] == '.'))
        i++;
    if (i == vs || i >= len || p[i] != '|')
        return TRL_EINVAL;
    bool v2 = p[vs] == '2';
    size_t start = ++i;
    struct trl_str h[HEADER_FIELDS];
    size_t nh = 0;
    for (; i < len && nh < HEADER_FIELDS; i++) {
        if (p[i] == '\\' && i + 1 < len && p[i + 1] == '|') {
            i++;
            continue;
        }
        if (p[i] == '|') {
            h[nh++] = header_field(ev, p + start, i - start);
            start = i + 1;
        }
    }
    static const enum trl_field header_fields[HEADER_FIELDS] = {
        TRL_F_OBSERVER_VENDOR, TRL_F_OBSERVER_PRODUCT, TRL_F_OBSERVER_VERSION, TRL_F_EVENT_CODE};
    for (size_t k = 0; k < nh; k++) {
        if (h[k].len)
            trl_event_set(ev, header_fields[k], h[k].ptr, h[k].len);
    }
    if (nh < HEADER_FIELDS)
        return TRL_EINVAL;

    char delim = attribute_delim(v2, p, len, &start);
    const char *attrs = p + start;
    size_t alen = len - start;
    struct trl_vendor_kv *kv;
    size_t n;
    if (delim == '\t' && !memchr(attrs, '\t', alen) && memchr(attrs, ' ', alen))
        n = trl_vendor_split_spaced(ev, attrs, alen, false, &kv);
    else
        n = trl_vendor_split_delim(ev, attrs, alen, delim, &kv);
    const struct trl_vendor_kv *time_fmt = NULL;
    for (size_t k = 0; k < n; k++) {
        if (key_is(&kv[k], "devTimeFormat"))
            time_fmt = &kv[k];
    }
    for (size_t k = 0; k < n; k++) {
        trl_vendor_set_prefixed(ev, "leef.", kv[k].key, kv[k].key_len, kv[k].val, kv[k].val_len);
        apply(ev, &kv[k], time_fmt);
    }
    return 0;
}

#include "formats/vendor_ecs.h"
#include "core/util.h"

#include <string.h>

static bool is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_key_char(char c)
{
    return is_alnum(c) || c == '_' || c == '.' || c == '-' || c == '[' || c == ']';
}

/* Appends to an arena array that doubles when full. */
static struct trl_vendor_kv *push(struct trl_event *ev, struct trl_vendor_kv **arr, size_t *n,
                                  size_t *cap)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct trl_vendor_kv *a = trl_arena_alloc(ev->arena, ncap * sizeof(*a));
        if (*n)
            memcpy(a, *arr, *n * sizeof(*a));
        *arr = a;
        *cap = ncap;
    }
    return &(*arr)[(*n)++];
}

/* Is there a "key=" at p[t]? */
static bool key_follows(const char *p, size_t len, size_t t)
{
    size_t start = t;
    while (t < len && is_key_char(p[t]))
        t++;
    return t > start && t < len && p[t] == '=';
}

static const char *cef_unescape(struct trl_event *ev, const char *p, size_t len, size_t *out_len)
{
    if (!memchr(p, '\\', len)) {
        *out_len = len;
        return p;
    }
    char *out = trl_arena_alloc(ev->arena, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\\' && i + 1 < len) {
            char c = p[i + 1];
            if (c == '=' || c == '\\' || c == '|') {
                out[n++] = c;
                i++;
                continue;
            }
            if (c == 'n' || c == 'r') {
                out[n++] = c == 'n' ? '\n' : '\r';
                i++;
                continue;
            }
        }
        out[n++] = p[i];
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

size_t trl_vendor_split_spaced(struct trl_event *ev, const char *p, size_t len, bool cef_escapes,
                               struct trl_vendor_kv **out)
{
    size_t n = 0, cap = 0, i = 0;
    *out = NULL;
    while (i < len) {
        while (i < len && p[i] == ' ')
            i++;
        size_t ks = i;
        while (i < len && is_key_char(p[i]))
            i++;
        if (i == ks || i >= len || p[i] != '=') {
            /* Not a key: skip this word (text before the first key, or a stray token). */
            while (i < len && p[i] != ' ') {
                if (cef_escapes && p[i] == '\\' && i + 1 < len)
                    i++;
                i++;
            }
            continue;
        }
        size_t klen = i - ks;
        size_t vs = ++i, ve = len;
        while (i < len) {
            if (cef_escapes && p[i] == '\\') {
                i += 2;
                continue;
            }
            if (p[i] == ' ') {
                size_t t = i + 1;
                while (t < len && p[t] == ' ')
                    t++;
                if (key_follows(p, len, t)) {
                    ve = i;
                    break;
                }
                i = t;
                continue;
            }
            i++;
        }
        if (i > len)
            i = len;
        while (ve > vs && p[ve - 1] == ' ')
            ve--;
        struct trl_vendor_kv *kv = push(ev, out, &n, &cap);
        kv->key = p + ks;
        kv->key_len = klen;
        if (cef_escapes) {
            kv->val = cef_unescape(ev, p + vs, ve - vs, &kv->val_len);
        } else {
            kv->val = p + vs;
            kv->val_len = ve - vs;
        }
        i = ve;
    }
    return n;
}

size_t trl_vendor_split_delim(struct trl_event *ev, const char *p, size_t len, char delim,
                              struct trl_vendor_kv **out)
{
    size_t n = 0, cap = 0, start = 0;
    *out = NULL;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && p[i] != delim)
            continue;
        const char *piece = p + start;
        size_t plen = i - start;
        start = i + 1;
        const char *eq = memchr(piece, '=', plen);
        if (!eq)
            continue;
        size_t ks = 0, ke = (size_t)(eq - piece);
        while (ks < ke && (piece[ks] == ' ' || piece[ks] == '\r' || piece[ks] == '\n'))
            ks++;
        while (ke > ks && piece[ke - 1] == ' ')
            ke--;
        if (ke == ks)
            continue;
        size_t vs = (size_t)(eq - piece) + 1, ve = plen;
        while (ve > vs && (piece[ve - 1] == '\r' || piece[ve - 1] == '\n'))
            ve--;
        struct trl_vendor_kv *kv = push(ev, out, &n, &cap);
        kv->key = piece + ks;
        kv->key_len = ke - ks;
        kv->val = piece + vs;
        kv->val_len = ve - vs;
    }
    return n;
}

bool trl_vendor_set_prefixed(struct trl_event *ev, const char *prefix, const char *name,
                             size_t nlen, const char *v, size_t vlen)
{
    size_t plen = strlen(prefix);
    char buf[64 + TRL_VENDOR_NAME_MAX];
    if (nlen == 0 || nlen > TRL_VENDOR_NAME_MAX || plen > 64 || !trl_vendor_room(ev))
        return false;
    memcpy(buf, prefix, plen);
    for (size_t i = 0; i < nlen; i++) {
        char c = name[i];
        buf[plen + i] = (is_alnum(c) || c == '_' || c == '-') ? c : '_';
    }
    trl_event_set_named(ev, buf, plen + nlen, v, vlen);
    return true;
}

void trl_vendor_set_addr(struct trl_event *ev, enum trl_field ip_field, enum trl_field addr_field,
                         const char *v, size_t len)
{
    if (len == 0)
        return;
    if (trl_is_ip(v, len)) {
        trl_event_set(ev, ip_field, v, len);
        if (trl_vendor_room(ev))
            trl_event_add_unique(ev, TRL_F_RELATED_IP, v, len);
    } else {
        trl_event_set(ev, addr_field, v, len);
    }
}

bool trl_vendor_set_number(struct trl_event *ev, enum trl_field f, const char *v, size_t len,
                           bool port)
{
    uint64_t n;
    if (len > 19 || !trl_parse_u64(v, len, &n) || (port && (n == 0 || n > 65535)))
        return false;
    trl_event_set(ev, f, v, len);
    return true;
}

void trl_vendor_set_transport(struct trl_event *ev, const char *v, size_t len)
{
    static const struct {
        const char *num, *name;
    } numbers[] = {{"1", "icmp"}, {"6", "tcp"}, {"17", "udp"}, {"58", "ipv6-icmp"}};
    if (len == 0 || len > 32)
        return;
    for (size_t i = 0; i < TRL_ARRAY_LEN(numbers); i++) {
        if (trl_str_eq((struct trl_str){v, len}, numbers[i].num)) {
            trl_event_set_str(ev, TRL_F_NETWORK_TRANSPORT, numbers[i].name);
            return;
        }
    }
    char low[33];
    for (size_t i = 0; i < len; i++)
        low[i] = (v[i] >= 'A' && v[i] <= 'Z') ? (char)(v[i] - 'A' + 'a') : v[i];
    trl_event_set(ev, TRL_F_NETWORK_TRANSPORT, low, len);
}

const char *trl_vendor_action(struct trl_event *ev, const char *p, size_t len, size_t *out_len)
{
    char *out = trl_arena_alloc(ev->arena, len + 1);
    size_t n = 0;
    int depth = 0;
    bool dash = false;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (c == '(') {
            depth++;
            continue;
        }
        if (c == ')' && depth > 0) {
            depth--;
            continue;
        }
        if (depth > 0)
            continue;
        if (is_alnum(c)) {
            if (dash && n > 0)
                out[n++] = '-';
            dash = false;
            out[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        } else {
            dash = true;
        }
    }
    out[n] = '\0';
    *out_len = n;
    return n ? out : NULL;
}

void trl_vendor_set_action(struct trl_event *ev, const char *v, size_t len)
{
    size_t alen;
    const char *a = trl_vendor_action(ev, v, len, &alen);
    if (a)
        trl_event_set_ref(ev, TRL_F_EVENT_ACTION, a, alen);
}

void trl_vendor_set_outcome(struct trl_event *ev, const char *v, size_t len)
{
    static const char *const success[] = {"success", "succeeded", "successful", "ok"};
    static const char *const failure[] = {"failure", "failed", "fail", "failed_login"};
    /* Some products prefix the word with a slash ("/Success"). */
    if (len > 0 && v[0] == '/') {
        v++;
        len--;
    }
    for (size_t i = 0; i < TRL_ARRAY_LEN(success); i++) {
        if (trl_strcase_eq(v, len, success[i], strlen(success[i]))) {
            trl_event_set_str(ev, TRL_F_EVENT_OUTCOME, "success");
            return;
        }
    }
    for (size_t i = 0; i < TRL_ARRAY_LEN(failure); i++) {
        if (trl_strcase_eq(v, len, failure[i], strlen(failure[i]))) {
            trl_event_set_str(ev, TRL_F_EVENT_OUTCOME, "failure");
            return;
        }
    }
    if (trl_strcase_eq(v, len, "unknown", 7))
        trl_event_set_str(ev, TRL_F_EVENT_OUTCOME, "unknown");
}

void trl_vendor_set_user(struct trl_event *ev, enum trl_field f, const char *v, size_t len)
{
    if (len == 0)
        return;
    trl_event_set(ev, f, v, len);
    if (trl_vendor_room(ev))
        trl_event_add_unique(ev, TRL_F_RELATED_USER, v, len);
}

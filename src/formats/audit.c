/*
 * Linux audit records, one per call:
 *
 *   [node=NAME ]type=TYPE msg=audit(SECS.MSEC:SERIAL): key=value ...[\x1dKEY="name" ...]
 *
 * as auditd writes them, and as they arrive inside syslog: from audispd / audisp-syslog
 * ("type=..." or "node=x type=..."), or from the kernel when auditd is not running
 * ("audit: type=1300 audit(SECS.MSEC:SERIAL): ...", possibly after a "[ 12.345678] " uptime).
 *
 * Values come bare, double-quoted, single-quoted (user-space messages wrap their own key=value
 * list in msg='...', which is parsed too) or hex-encoded: auditd writes a value that would need
 * quoting (spaces, quotes, control characters) of a normally quoted field as bare hex.
 */
#include "formats/audit_ecs.h"
#include "formats/parse.h"
#include "core/timeutil.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>

/* Real records have a few dozen pairs (EXECVE arguments aside, which are not counted); each one
 * kept costs a scan of the fields before it, so a flood of pairs is cut off here. */
#define MAX_PAIRS 128
/* EXECVE arguments all go to process.args; the first ones are also auditd.data.aN, the names
 * auditd rules (Sigma "a0: base64") use. */
#define MAX_DATA_ARGS 64
/* The separator of the enriched block (auditd log_format=ENRICHED). */
#define GS '\x1d'

struct header {
    const char *node;
    size_t node_len;
    const char *type;
    size_t type_len;
    int64_t ts_ns;
    const char *serial;
    size_t serial_len;
    bool have_stamp;
    size_t body; /* offset of the key=value pairs */
    bool malformed;
};

struct tok_ctx {
    struct trl_event *ev;
    bool execve;
    bool avc;
    unsigned npairs;
    const char *brace; /* start of an SELinux "{ perms }" list */
    /* The EXECVE argument being read: pieces a3[0], a3[1], ... are joined before it is added. */
    uint64_t arg_idx;
    const char *arg;
    size_t arg_len;
    bool have_arg;
    bool seen_arg;
    unsigned data_args;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static size_t skip_spaces(const char *p, size_t len, size_t i)
{
    while (i < len && is_space(p[i]))
        i++;
    return i;
}

static bool valid_key(const char *k, size_t len)
{
    if (len == 0 || len > TRL_AUDIT_KEY_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' ||
              c == '-' || c == '.' || c == '[' || c == ']'))
            return false;
    }
    return true;
}

static bool is_hex(const char *v, size_t len)
{
    if (len < 2 || len % 2)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (trl_hex_value(v[i]) < 0)
            return false;
    }
    return true;
}

/* Length of "a" DIGITS at the start of k when k is an EXECVE argument key ("a3", "a3[1]"). */
static size_t arg_key_len(const char *k, size_t len)
{
    if (len < 2 || k[0] != 'a' || !is_digit(k[1]))
        return 0;
    size_t i = 1;
    while (i < len && is_digit(k[i]))
        i++;
    if (i == len)
        return i;
    /* "a3[1]": one piece of an argument too long for one key. */
    if (k[i] != '[' || k[len - 1] != ']' || len - i < 3)
        return 0;
    for (size_t j = i + 1; j < len - 1; j++) {
        if (!is_digit(k[j]))
            return 0;
    }
    return i;
}

/* Fields auditd hex-encodes when their value needs quoting. saddr is always hex but binary: it is
 * decoded as a socket address instead. */
static bool hex_field(const struct tok_ctx *c, const char *k, size_t len)
{
    static const struct {
        const char *s;
        size_t len;
    } names[] = {
#define N(s) {s, sizeof(s) - 1}
        N("proctitle"), N("name"), N("cwd"), N("comm"),  N("exe"), N("acct"),  N("cmd"),
        N("data"),      N("path"), N("dir"), N("ocomm"), N("key"), N("watch"),
#undef N
    };
    if (c->execve && arg_key_len(k, len))
        return true;
    for (size_t i = 0; i < TRL_ARRAY_LEN(names); i++) {
        if (names[i].len == len && names[i].s[0] == k[0] && memcmp(names[i].s, k, len) == 0)
            return true;
    }
    return false;
}

/* Decodes hex into the arena; NUL bytes (proctitle's argument separators) become spaces. */
static char *hex_decode(struct trl_arena *a, const char *v, size_t len, size_t *out_len)
{
    size_t n = len / 2;
    char *out = trl_arena_alloc(a, n + 1);
    for (size_t i = 0; i < n; i++) {
        char c = (char)(trl_hex_value(v[2 * i]) << 4 | trl_hex_value(v[2 * i + 1]));
        out[i] = c ? c : ' ';
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

static void flush_arg(struct tok_ctx *c)
{
    if (!c->have_arg)
        return;
    trl_event_add(c->ev, TRL_F_PROCESS_ARGS, c->arg, c->arg_len);
    if (c->data_args < MAX_DATA_ARGS) {
        char name[TRL_AUDIT_DATA_PREFIX_LEN + 24];
        int n = snprintf(name, sizeof(name), TRL_AUDIT_DATA_PREFIX "a%llu",
                         (unsigned long long)c->arg_idx);
        trl_event_set_named(c->ev, name, (size_t)n, c->arg, c->arg_len);
        c->data_args++;
    }
    c->have_arg = false;
}

/* EXECVE arguments go to process.args in order (a record may hold thousands). */
static void store_arg(struct tok_ctx *c, const char *k, size_t klen, size_t base, const char *v,
                      size_t vlen)
{
    uint64_t idx = 0, piece = 0;
    trl_parse_u64(k + 1, base - 1, &idx);
    if (base < klen)
        trl_parse_u64(k + base + 1, klen - base - 2, &piece);
    if (!c->seen_arg && piece > 0) {
        /* The record starts in the middle of an argument begun in the previous record. */
        trl_event_set_named(c->ev, "auditd.execve.continued", 23, "true", 4);
    }
    c->seen_arg = true;
    if (c->have_arg && base < klen && piece > 0 && idx == c->arg_idx) {
        char *joined = trl_arena_alloc(c->ev->arena, c->arg_len + vlen + 1);
        memcpy(joined, c->arg, c->arg_len);
        memcpy(joined + c->arg_len, v, vlen);
        joined[c->arg_len + vlen] = '\0';
        c->arg = joined;
        c->arg_len += vlen;
        return;
    }
    flush_arg(c);
    c->arg = v;
    c->arg_len = vlen;
    c->arg_idx = idx;
    c->have_arg = true;
}

static void store(struct tok_ctx *c, const char *k, size_t klen, const char *v, size_t vlen,
                  bool quoted)
{
    struct trl_event *ev = c->ev;
    size_t base = c->execve ? arg_key_len(k, klen) : 0;
    if (!base && c->npairs >= MAX_PAIRS)
        return;
    if (!quoted && hex_field(c, k, klen) && is_hex(v, vlen))
        v = hex_decode(ev->arena, v, vlen, &vlen);
    if (base) {
        store_arg(c, k, klen, base, v, vlen);
        return;
    }
    c->npairs++;
    char name[TRL_AUDIT_DATA_PREFIX_LEN + TRL_AUDIT_KEY_MAX];
    memcpy(name, TRL_AUDIT_DATA_PREFIX, TRL_AUDIT_DATA_PREFIX_LEN);
    memcpy(name + TRL_AUDIT_DATA_PREFIX_LEN, k, klen);
    trl_event_set_named(ev, name, TRL_AUDIT_DATA_PREFIX_LEN + klen, v, vlen);
}

/* Words that are not key=value: SELinux AVC records say "avc:  denied  { read write } for ...". */
static void junk_token(struct tok_ctx *c, const char *t, size_t len, const char *body_end)
{
    if (!c->avc)
        return;
    if ((len == 6 && !memcmp(t, "denied", 6)) || (len == 7 && !memcmp(t, "granted", 7)))
        store(c, "seresult", 8, t, len, true);
    else if (len == 1 && t[0] == '{')
        c->brace = t + 1;
    else if (len == 1 && t[0] == '}' && c->brace && c->brace <= t && t <= body_end) {
        const char *s = c->brace;
        size_t n = (size_t)(t - s);
        while (n > 0 && is_space(*s))
            s++, n--;
        while (n > 0 && is_space(s[n - 1]))
            n--;
        c->brace = NULL;
        if (n == 0)
            return;
        char *perms = trl_arena_strndup(c->ev->arena, s, n);
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            if (!is_space(perms[i]))
                perms[o++] = perms[i];
            else if (o > 0 && perms[o - 1] != ',')
                perms[o++] = ',';
        }
        store(c, "seperms", 7, perms, o, true);
    }
}

static void tokenize(struct tok_ctx *c, const char *p, size_t len, int depth)
{
    size_t i = 0;
    while (i < len) {
        i = skip_spaces(p, len, i);
        if (i >= len)
            break;
        size_t k = i;
        while (i < len && p[i] != '=' && !is_space(p[i]))
            i++;
        if (i >= len || p[i] != '=') {
            junk_token(c, p + k, i - k, p + len);
            continue;
        }
        size_t klen = i - k;
        i++;
        size_t v, vlen;
        char q = 0;
        if (i < len && (p[i] == '"' || p[i] == '\'')) {
            q = p[i++];
            v = i;
            const char *close = memchr(p + i, q, len - i);
            /* An unterminated quote runs to the end of the record. */
            size_t end = close ? (size_t)(close - p) : len;
            vlen = end - v;
            i = close ? end + 1 : len;
        } else {
            v = i;
            while (i < len && !is_space(p[i]))
                i++;
            vlen = i - v;
        }
        if (!valid_key(p + k, klen))
            continue;
        /* msg='op=login acct="alice" ... res=failed': the user-space message's own pairs. */
        if (q == '\'' && depth == 0 && klen == 3 && !memcmp(p + k, "msg", 3) &&
            memchr(p + v, '=', vlen)) {
            tokenize(c, p + v, vlen, depth + 1);
            continue;
        }
        store(c, p + k, klen, p + v, vlen, q != 0);
    }
}

/* Reads "audit(SECS.MSEC:SERIAL)" (the "audit(" already matched) at p[i]; returns the offset after
 * the ')' or 0 when the stamp is malformed (h->have_stamp tells whether time and serial were read).
 */
static size_t parse_stamp(const char *p, size_t len, size_t i, struct header *h)
{
    size_t s = i;
    while (i < len && is_digit(p[i]) && i - s < 12)
        i++;
    uint64_t secs;
    if (!trl_parse_u64(p + s, i - s, &secs) || secs > 9000000000ULL)
        return 0;
    uint64_t frac = 0;
    unsigned digits = 0;
    if (i < len && p[i] == '.') {
        i++;
        while (i < len && is_digit(p[i])) {
            if (digits < 9) {
                frac = frac * 10 + (uint64_t)(p[i] - '0');
                digits++;
            }
            i++;
        }
    }
    while (digits < 9) {
        frac *= 10;
        digits++;
    }
    if (i >= len || p[i] != ':')
        return 0;
    size_t serial = ++i;
    while (i < len && is_digit(p[i]) && i - serial < 20)
        i++;
    uint64_t n;
    if (!trl_parse_u64(p + serial, i - serial, &n))
        return 0;
    h->ts_ns = (int64_t)secs * TRL_NS_PER_SEC + (int64_t)frac;
    h->serial = p + serial;
    h->serial_len = i - serial;
    h->have_stamp = true;
    if (i >= len || p[i] != ')')
        return 0;
    return i + 1;
}

/* Reads everything before the key=value pairs. Returns false when p is not an audit record. */
static bool parse_header(const char *p, size_t len, struct header *h)
{
    memset(h, 0, sizeof(*h));
    size_t i = skip_spaces(p, len, 0);
    /* A kernel log line may start with the uptime: "[   12.345678] audit: ...". */
    if (i < len && p[i] == '[') {
        size_t j = i + 1;
        while (j < len && j - i < 24 && (is_digit(p[j]) || p[j] == '.' || p[j] == ' '))
            j++;
        if (j < len && p[j] == ']')
            i = skip_spaces(p, len, j + 1);
    }
    if (trl_starts_with(p + i, len - i, "audit: "))
        i = skip_spaces(p, len, i + 7);
    if (trl_starts_with(p + i, len - i, "node=")) {
        i += 5;
        h->node = p + i;
        while (i < len && !is_space(p[i]))
            i++;
        h->node_len = (size_t)(p + i - h->node);
        i = skip_spaces(p, len, i);
    }
    if (!trl_starts_with(p + i, len - i, "type="))
        return false;
    i += 5;
    h->type = p + i;
    while (i < len && !is_space(p[i]) && p[i] != GS)
        i++;
    h->type_len = (size_t)(p + i - h->type);
    if (!valid_key(h->type, h->type_len))
        return false;
    i = skip_spaces(p, len, i);
    if (trl_starts_with(p + i, len - i, "msg="))
        i += 4;
    if (!trl_starts_with(p + i, len - i, "audit("))
        return false;
    size_t after = parse_stamp(p, len, i + 6, h);
    if (after == 0) {
        /* Keep what was read; the pairs start after the next space, if any. */
        h->malformed = true;
        while (i < len && !is_space(p[i]))
            i++;
        h->body = i;
        return true;
    }
    i = after;
    if (i < len && p[i] == ':')
        i++;
    h->body = i;
    return true;
}

static void set_record_type(struct trl_event *ev, const struct header *h, const char **name,
                            size_t *nlen)
{
    *name = h->type;
    *nlen = h->type_len;
    uint64_t num;
    /* The kernel prints numbers ("type=1400"); auditd names them ("type=AVC"). */
    if (trl_parse_u64(h->type, h->type_len, &num) && num < 65536) {
        const char *known = trl_audit_type_name((unsigned)num);
        if (known) {
            *name = known;
            *nlen = strlen(known);
        }
    }
    trl_event_set(ev, TRL_F_AUDITD_RECORD_TYPE, *name, *nlen);
}

static bool type_is(const char *t, size_t len, const char *lit)
{
    return strlen(lit) == len && memcmp(t, lit, len) == 0;
}

int trl_parse_audit(struct trl_event *ev, const char *p, size_t len)
{
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r' || p[len - 1] == '\0'))
        len--;
    struct header h;
    if (!parse_header(p, len, &h))
        return TRL_ENOMATCH;

    bool top = ev->format == NULL;
    if (top) {
        ev->format = "audit";
    } else {
        /* Inside syslog the tag names the forwarder (audispd, kernel), which stays in
         * log.syslog.appname and procid; process.* describe the audited process. */
        trl_event_remove(ev, TRL_F_PROCESS_NAME);
        trl_event_remove(ev, TRL_F_PROCESS_PID);
    }
    const char *rtype;
    size_t rtlen;
    set_record_type(ev, &h, &rtype, &rtlen);
    if (h.node_len > 0)
        trl_event_set(ev, TRL_F_HOST_NAME, h.node, h.node_len);
    if (h.have_stamp) {
        ev->timestamp_ns = h.ts_ns;
        trl_event_set(ev, TRL_F_AUDITD_SEQUENCE, h.serial, h.serial_len);
    }

    struct tok_ctx c = {
        .ev = ev,
        .execve = type_is(rtype, rtlen, "EXECVE"),
        .avc = type_is(rtype, rtlen, "AVC") || type_is(rtype, rtlen, "USER_AVC"),
    };
    const char *body = p + h.body;
    size_t blen = len - h.body;
    const char *gs = memchr(body, GS, blen);
    size_t plain = gs ? (size_t)(gs - body) : blen;
    tokenize(&c, body, plain, 0);
    flush_arg(&c);
    if (gs) {
        /* The enriched names are always quoted or plain words: never hex. */
        c.execve = false;
        tokenize(&c, gs + 1, blen - plain - 1, 1);
    }

    trl_audit_ecs_common(ev, ev, rtype, rtlen);
    if (c.execve) {
        const struct trl_event *self = ev;
        trl_audit_ecs_execve(ev, &self, 1);
    } else if (type_is(rtype, rtlen, "PROCTITLE")) {
        trl_audit_ecs_proctitle(ev, ev);
    } else if (type_is(rtype, rtlen, "PATH")) {
        trl_audit_ecs_path(ev, ev, NULL, 0);
    } else if (type_is(rtype, rtlen, "SOCKADDR")) {
        trl_audit_ecs_sockaddr(ev, ev, TRL_AUDIT_PEER_DESTINATION);
    } else if (c.avc) {
        size_t nlen;
        const char *name = trl_audit_data(ev, "name", &nlen);
        if (name && nlen > 1 && name[0] == '/')
            trl_event_set(ev, TRL_F_FILE_PATH, name, nlen);
    }
    trl_audit_ecs_classify(ev);
    trl_audit_ecs_related(ev);
    return h.malformed ? TRL_EINVAL : TRL_OK;
}

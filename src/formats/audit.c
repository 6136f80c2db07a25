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
#include "core/name_index.h"
#include "core/util.h"

#include <pthread.h>
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
    bool arg_ref; /* arg lives as long as the arena: it may be stored by reference */
};

/* Byte classes of the tokenizer. */
enum {
    C_SPACE = 1, /* separates pairs */
    C_EQ = 2,    /* ends a key */
    C_KEY = 4,   /* may be part of a key */
};

static const unsigned char byte_class[256] = {
    [' '] = C_SPACE, ['\t'] = C_SPACE,      ['\n'] = C_SPACE,      ['\r'] = C_SPACE,
    ['='] = C_EQ,    ['0' ... '9'] = C_KEY, ['a' ... 'z'] = C_KEY, ['A' ... 'Z'] = C_KEY,
    ['_'] = C_KEY,   ['-'] = C_KEY,         ['.'] = C_KEY,         ['['] = C_KEY,
    [']'] = C_KEY,
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

/* The keys records commonly carry, with their full field names: a pair with one of these keys is
 * stored without building and copying its name. hex marks the fields auditd hex-encodes when their
 * value needs quoting (saddr is always hex but binary: it is decoded as a socket address instead).
 */
#define DATA_NAME_MAX (TRL_AUDIT_DATA_PREFIX_LEN + 16)
static const struct data_key {
    char full[DATA_NAME_MAX]; /* TRL_AUDIT_DATA_PREFIX key, NUL-terminated */
    unsigned char len;        /* of the key */
    bool hex;
} data_keys[] = {
#define K(key, hex)                                                                                \
    {                                                                                              \
        TRL_AUDIT_DATA_PREFIX key, sizeof(key) - 1, hex                                            \
    }
    /* Hex-encoded when they need quoting. */
    K("proctitle", true),
    K("name", true),
    K("cwd", true),
    K("comm", true),
    K("exe", true),
    K("acct", true),
    K("cmd", true),
    K("data", true),
    K("path", true),
    K("dir", true),
    K("ocomm", true),
    K("key", true),
    K("watch", true),
    /* SYSCALL. */
    K("arch", false),
    K("syscall", false),
    K("success", false),
    K("exit", false),
    K("a0", false),
    K("a1", false),
    K("a2", false),
    K("a3", false),
    K("items", false),
    K("ppid", false),
    K("pid", false),
    K("auid", false),
    K("uid", false),
    K("gid", false),
    K("euid", false),
    K("suid", false),
    K("fsuid", false),
    K("egid", false),
    K("sgid", false),
    K("fsgid", false),
    K("tty", false),
    K("ses", false),
    K("subj", false),
    /* PATH, EXECVE, SOCKADDR. */
    K("item", false),
    K("inode", false),
    K("dev", false),
    K("mode", false),
    K("ouid", false),
    K("ogid", false),
    K("rdev", false),
    K("obj", false),
    K("nametype", false),
    K("cap_fp", false),
    K("cap_fi", false),
    K("cap_fe", false),
    K("cap_fver", false),
    K("cap_frootid", false),
    K("argc", false),
    K("saddr", false),
    /* User-space messages. */
    K("msg", false),
    K("op", false),
    K("hostname", false),
    K("addr", false),
    K("terminal", false),
    K("res", false),
    K("id", false),
    K("unit", false),
    K("grantors", false),
    K("old-auid", false),
    K("old-ses", false),
    /* AVC. */
    K("seresult", false),
    K("seperms", false),
    K("scontext", false),
    K("tcontext", false),
    K("tclass", false),
    K("permissive", false),
    K("apparmor", false),
    K("operation", false),
    K("profile", false),
    K("denied_mask", false),
    K("requested_mask", false),
    /* The enriched block. */
    K("ARCH", false),
    K("SYSCALL", false),
    K("AUID", false),
    K("UID", false),
    K("GID", false),
    K("EUID", false),
    K("SUID", false),
    K("FSUID", false),
    K("EGID", false),
    K("SGID", false),
    K("FSGID", false),
    K("OUID", false),
    K("OGID", false),
#undef K
};

/* data_keys by key (core/name_index.h), built once (see trl_parse_audit()). */
#define KEY_SLOTS 256
_Static_assert(TRL_ARRAY_LEN(data_keys) < KEY_SLOTS / 2, "the key table must stay sparse");
_Static_assert(TRL_ARRAY_LEN(data_keys) < UINT8_MAX, "key indices must fit in a byte");

static unsigned char key_slots[KEY_SLOTS];
static pthread_once_t key_slots_once = PTHREAD_ONCE_INIT;

static void build_key_slots(void)
{
    for (size_t i = 0; i < TRL_ARRAY_LEN(data_keys); i++)
        trl_name_index_put(key_slots, KEY_SLOTS, data_keys[i].full + TRL_AUDIT_DATA_PREFIX_LEN,
                           data_keys[i].len, i);
}

static const char *key_at(const void *table, size_t pos, size_t *len)
{
    const struct data_key *k = (const struct data_key *)table + pos;
    *len = k->len;
    return k->full + TRL_AUDIT_DATA_PREFIX_LEN;
}

/* The name of the known key klen bytes long at key, or NULL; *hex tells whether auditd hex-encodes
 * its value when it needs quoting. */
static const char *data_name(const char *key, size_t klen, bool *hex)
{
    *hex = false;
    if (klen == 0 || klen >= DATA_NAME_MAX - TRL_AUDIT_DATA_PREFIX_LEN)
        return NULL;
    int i = trl_name_index_find(key_slots, KEY_SLOTS, data_keys, key_at, key, klen);
    if (i < 0)
        return NULL;
    *hex = data_keys[i].hex;
    return data_keys[i].full;
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

/* Decodes v when it is hex (an even number, at least two, of hex digits) into the arena, in one
 * pass; NUL bytes (proctitle's argument separators) become spaces. NULL when v is not hex: a value
 * that turns out not to be after its first two digits leaves its buffer unused in the arena (the
 * fields auditd hex-encodes are written either all hex or quoted, so this is rare). */
static char *hex_decode(struct trl_arena *a, const char *v, size_t len, size_t *out_len)
{
    if (len < 2 || len % 2 || trl_hex_value(v[0]) < 0 || trl_hex_value(v[1]) < 0)
        return NULL;
    size_t n = len / 2;
    char *out = trl_arena_alloc(a, n + 1);
    for (size_t i = 0; i < n; i++) {
        int hi = trl_hex_value(v[2 * i]), lo = trl_hex_value(v[2 * i + 1]);
        if ((hi | lo) < 0)
            return NULL;
        char c = (char)(hi << 4 | lo);
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
    if (c->arg_ref)
        trl_event_add_ref(c->ev, TRL_F_PROCESS_ARGS, c->arg, c->arg_len);
    else
        trl_event_add(c->ev, TRL_F_PROCESS_ARGS, c->arg, c->arg_len);
    if (c->data_args < MAX_DATA_ARGS) {
        /* TRL_AUDIT_DATA_PREFIX "a" and the argument's index in decimal. */
        char name[TRL_AUDIT_DATA_PREFIX_LEN + 24], digits[20];
        size_t nd = 0, n = TRL_AUDIT_DATA_PREFIX_LEN;
        uint64_t idx = c->arg_idx;
        do {
            digits[nd++] = (char)('0' + idx % 10);
            idx /= 10;
        } while (idx);
        memcpy(name, TRL_AUDIT_DATA_PREFIX, TRL_AUDIT_DATA_PREFIX_LEN);
        name[n++] = 'a';
        while (nd)
            name[n++] = digits[--nd];
        trl_event_set_dynamic_ex(c->ev, name, n, c->arg, c->arg_len,
                                 c->arg_ref ? TRL_REF_VALUE : 0);
        c->data_args++;
    }
    c->have_arg = false;
}

/* EXECVE arguments go to process.args in order (a record may hold thousands). */
static void store_arg(struct tok_ctx *c, const char *k, size_t klen, size_t base, const char *v,
                      size_t vlen, bool ref)
{
    uint64_t idx = 0, piece = 0;
    trl_parse_u64(k + 1, base - 1, &idx);
    if (base < klen)
        trl_parse_u64(k + base + 1, klen - base - 2, &piece);
    if (!c->seen_arg && piece > 0) {
        /* The record starts in the middle of an argument begun in the previous record. */
        trl_event_set_dynamic_ex(c->ev, "auditd.execve.continued", 23, "true", 4,
                                 TRL_REF_NAME | TRL_REF_VALUE);
    }
    c->seen_arg = true;
    if (c->have_arg && base < klen && piece > 0 && idx == c->arg_idx) {
        char *joined = trl_arena_alloc(c->ev->arena, c->arg_len + vlen + 1);
        memcpy(joined, c->arg, c->arg_len);
        memcpy(joined + c->arg_len, v, vlen);
        joined[c->arg_len + vlen] = '\0';
        c->arg = joined;
        c->arg_len += vlen;
        c->arg_ref = true;
        return;
    }
    flush_arg(c);
    c->arg = v;
    c->arg_len = vlen;
    c->arg_idx = idx;
    c->have_arg = true;
    c->arg_ref = ref;
}

/* Stores the pair k=v (k a valid key). in_arena: v lives in the event's arena already. No known
 * field's name starts with TRL_AUDIT_DATA_PREFIX: the names are set as dynamic fields directly. */
static void store(struct tok_ctx *c, const char *k, size_t klen, const char *v, size_t vlen,
                  bool quoted, bool in_arena)
{
    struct trl_event *ev = c->ev;
    size_t base = c->execve ? arg_key_len(k, klen) : 0;
    if (!base && c->npairs >= MAX_PAIRS)
        return;
    bool hex = false;
    const char *full = base ? NULL : data_name(k, klen, &hex);
    /* EXECVE arguments are hex-encoded like the named fields. */
    if (!quoted && (base || hex)) {
        size_t dlen;
        const char *d = hex_decode(ev->arena, v, vlen, &dlen);
        if (d) {
            v = d;
            vlen = dlen;
            in_arena = true;
        }
    }
    /* A value that lives as long as the arena (a slice of event.original, or decoded into the
     * arena) is stored by reference. */
    bool ref = in_arena || trl_event_in_original(ev, v, vlen);
    if (base) {
        store_arg(c, k, klen, base, v, vlen, ref);
        return;
    }
    c->npairs++;
    unsigned refs = ref ? TRL_REF_VALUE : 0;
    if (full) {
        trl_event_set_dynamic_ex(ev, full, TRL_AUDIT_DATA_PREFIX_LEN + klen, v, vlen,
                                 refs | TRL_REF_NAME);
        return;
    }
    char name[TRL_AUDIT_DATA_PREFIX_LEN + TRL_AUDIT_KEY_MAX];
    memcpy(name, TRL_AUDIT_DATA_PREFIX, TRL_AUDIT_DATA_PREFIX_LEN);
    memcpy(name + TRL_AUDIT_DATA_PREFIX_LEN, k, klen);
    trl_event_set_dynamic_ex(ev, name, TRL_AUDIT_DATA_PREFIX_LEN + klen, v, vlen, refs);
}

/* Words that are not key=value: SELinux AVC records say "avc:  denied  { read write } for ...". */
static void junk_token(struct tok_ctx *c, const char *t, size_t len, const char *body_end)
{
    if (!c->avc)
        return;
    if ((len == 6 && !memcmp(t, "denied", 6)) || (len == 7 && !memcmp(t, "granted", 7)))
        store(c, "seresult", 8, t, len, true, false);
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
        store(c, "seperms", 7, perms, o, true, true);
    }
}

static void tokenize(struct tok_ctx *c, const char *p, size_t len, int depth)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && (byte_class[(unsigned char)p[i]] & C_SPACE))
            i++;
        if (i >= len)
            break;
        size_t k = i;
        /* The key, checked while it is scanned: valid when all its bytes are key bytes. */
        unsigned char all = C_KEY;
        unsigned char cl;
        while (i < len && !((cl = byte_class[(unsigned char)p[i]]) & (C_SPACE | C_EQ))) {
            all &= cl;
            i++;
        }
        if (i >= len || p[i] != '=') {
            junk_token(c, p + k, i - k, p + len);
            continue;
        }
        size_t klen = i - k;
        bool key_ok = all && klen > 0 && klen <= TRL_AUDIT_KEY_MAX;
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
            while (i < len && !(byte_class[(unsigned char)p[i]] & C_SPACE))
                i++;
            vlen = i - v;
        }
        if (!key_ok)
            continue;
        /* msg='op=login acct="alice" ... res=failed': the user-space message's own pairs. */
        if (q == '\'' && depth == 0 && klen == 3 && !memcmp(p + k, "msg", 3) &&
            memchr(p + v, '=', vlen)) {
            tokenize(c, p + v, vlen, depth + 1);
            continue;
        }
        store(c, p + k, klen, p + v, vlen, q != 0, false);
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

/* Sets f to a slice of the input: by reference when it lies in event.original, else copied. */
static void set_slice(struct trl_event *ev, enum trl_field f, const char *v, size_t len)
{
    if (trl_event_in_original(ev, v, len))
        trl_event_set_ref(ev, f, v, len);
    else
        trl_event_set(ev, f, v, len);
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
            trl_event_set_ref(ev, TRL_F_AUDITD_RECORD_TYPE, *name, *nlen);
            return;
        }
    }
    /* A known name is stored as the table's literal: record types are read as C strings too
     * (auditd.log.record_types); any other is copied, NUL-terminated. */
    const char *lit = trl_audit_type_literal(*name, *nlen);
    if (lit) {
        *name = lit;
        trl_event_set_ref(ev, TRL_F_AUDITD_RECORD_TYPE, lit, *nlen);
    } else {
        trl_event_set(ev, TRL_F_AUDITD_RECORD_TYPE, *name, *nlen);
    }
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
    pthread_once(&key_slots_once, build_key_slots);

    bool top = ev->format == NULL;
    if (top) {
        ev->format = "audit";
    } else {
        /* Inside syslog the tag names the forwarder (audispd, kernel), which stays in
         * log.syslog.appname and procid; process.* describe the audited process. */
        if (trl_event_has(ev, TRL_F_PROCESS_NAME))
            trl_event_remove(ev, TRL_F_PROCESS_NAME);
        if (trl_event_has(ev, TRL_F_PROCESS_PID))
            trl_event_remove(ev, TRL_F_PROCESS_PID);
    }
    const char *rtype;
    size_t rtlen;
    set_record_type(ev, &h, &rtype, &rtlen);
    if (h.node_len > 0)
        set_slice(ev, TRL_F_HOST_NAME, h.node, h.node_len);
    if (h.have_stamp) {
        ev->timestamp_ns = h.ts_ns;
        set_slice(ev, TRL_F_AUDITD_SEQUENCE, h.serial, h.serial_len);
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
            trl_event_set_ref(ev, TRL_F_FILE_PATH, name, nlen);
    }
    trl_audit_ecs_classify(ev);
    trl_audit_ecs_related(ev);
    return h.malformed ? TRL_EINVAL : TRL_OK;
}

/*
 * agent_json: the fast path of trl_parse_agent_event() (see json_in.h). An agent's event arrives as
 * the JSON trl_json_encode_event() wrote on the agent: nested objects of strings, integers and
 * arrays of strings, no white space, no duplicate keys. Decoding that with json-c (a tree of
 * allocated objects, a locale switch per parse, then flattening) is most of what the server spends
 * on an agent's event, so this decoder reads the bytes once and sets the fields directly.
 *
 * It must set exactly what trl_parse_json() sets for the same text (the generic path is the
 * reference: unit/test_json_in_agent and fuzz_agent_json compare the two), so anything where the
 * generic path does more than read values in order is left to it: duplicate keys (json-c keeps
 * the last value at the first position), keys that are empty or have empty dotted segments, names
 * too long or too deep, nested arrays, arrays of anything but a known array field, numbers other
 * than plain 64-bit integers, escapes this decoder does not need (surrogates, NUL), raw control
 * characters, white space, and the members that select another mapping or a fallback (journald,
 * EVTX, msg, MESSAGE, timestamp or time without a valid @timestamp). Input of any of those shapes
 * is not touched: the caller hands it to trl_parse_json().
 *
 * Two passes: the first checks the whole text and collects its leaves (values are slices of the
 * input, or decoded into the event's arena when they hold escapes), the second sets the fields in
 * document order, as json-c's iteration would. Pure; callable from any thread on distinct events.
 */
#include "core/timeutil.h"
#include "core/util.h"
#include "formats/json_in.h"
#include "formats/parse.h"

#include <string.h>
#include <strings.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Events with more leaves (or longer names in total) than this take the generic path. */
#define MAX_LEAVES 256
#define NAMES_MAX  8192
/* Keys of the objects open at one time, for the duplicate check. */
#define MAX_KEYS 256
/* Integers of up to 18 digits always fit in int64_t, and print back as they were written. */
#define MAX_DIGITS 18

enum kind { K_STR, K_NUM, K_TRUE, K_FALSE, K_NULL, K_ARRAY };

/* What the ECS mapping of trl_parse_json() does with a leaf besides storing it. */
enum role { R_FIELD, R_TIMESTAMP, R_ORIGINAL, R_FORMAT, R_CREATED, R_ELEMENT };

struct leaf {
    const char *name; /* in names; NULL for array elements and fields set by their id */
    const char *val;
    uint32_t len; /* bytes of val; for K_ARRAY the number of elements, which follow */
    uint16_t name_len;
    uint16_t field; /* the known field named so (R_FIELD only), or TRL_F_NONE */
    uint8_t kind;
    uint8_t role;
};

struct key {
    const char *p;
    size_t len;
};

struct dec {
    struct trl_event *ev;
    const char *p, *end;
    size_t nleaves, names_len, nkeys;
    bool have_timestamp;
    bool time_alt; /* a leaf named timestamp or time: the generic path may read @timestamp there */
    char name[TRL_JSON_NAME_MAX];
    char names[NAMES_MAX];
    struct leaf leaves[MAX_LEAVES];
    struct key keys[MAX_KEYS];
};

static bool is_lit(const char *p, size_t len, const char *lit, size_t lit_len)
{
    return len == lit_len && memcmp(p, lit, len) == 0;
}

#define IS(p, len, lit) is_lit((p), (len), (lit), sizeof(lit) - 1)

/* Decodes the escaped string whose body is raw[0..n) into the arena. False for what json-c would
 * read differently or not at all. */
static bool unescape(struct dec *d, const char *raw, size_t n, const char **out, uint32_t *out_len)
{
    /* Decoded text is never longer than its escaped form. */
    char *o = trl_arena_alloc(d->ev->arena, n + 1), *w = o;
    for (size_t i = 0; i < n; i++) {
        char c = raw[i];
        if (c != '\\') {
            *w++ = c;
            continue;
        }
        if (++i >= n)
            return false;
        switch (raw[i]) {
        case '"':
        case '\\':
        case '/':
            *w++ = raw[i];
            break;
        case 'b':
            *w++ = '\b';
            break;
        case 'f':
            *w++ = '\f';
            break;
        case 'n':
            *w++ = '\n';
            break;
        case 'r':
            *w++ = '\r';
            break;
        case 't':
            *w++ = '\t';
            break;
        case 'u': {
            if (n - i < 5)
                return false;
            unsigned cp = 0;
            for (int k = 1; k <= 4; k++) {
                int h = trl_hex_value(raw[i + (size_t)k]);
                if (h < 0)
                    return false;
                cp = cp << 4 | (unsigned)h;
            }
            i += 4;
            if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
                return false;
            if (cp < 0x80) {
                *w++ = (char)cp;
            } else if (cp < 0x800) {
                *w++ = (char)(0xC0 | cp >> 6);
                *w++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *w++ = (char)(0xE0 | cp >> 12);
                *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *w++ = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            return false;
        }
    }
    *w = '\0';
    *out = o;
    *out_len = (uint32_t)(w - o);
    return true;
}

/* The high bit of each byte of w that is '"', '\\' or below 0x20 (the classic "has a byte equal
 * to / less than" tricks: a borrow may mark bytes after the first hit, never before it). */
static inline uint64_t special_bytes(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t quote = w ^ (ones * '"'), bslash = w ^ (ones * '\\');
    return (((quote - ones) & ~quote) | ((bslash - ones) & ~bslash) | ((w - ones * 0x20) & ~w)) &
           highs;
}

#ifdef __SSE2__
/* Bit i set when p[i] is '"', '\\' or below 0x20, for the 16 bytes at p. */
static inline unsigned special_mask16(const char *p)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i quote = _mm_cmpeq_epi8(x, _mm_set1_epi8('"'));
    __m128i bslash = _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'));
    __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1F)), x);
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, bslash), ctl));
}
#endif

/* The first quote, backslash or control character in [q, end), or end. */
static const char *skip_plain(const char *q, const char *end)
{
#ifdef __SSE2__
    while (end - q >= 16) {
        unsigned m = special_mask16(q);
        if (m)
            return q + __builtin_ctz(m);
        q += 16;
    }
#endif
    /* On a little-endian machine the lowest marked byte is the first one in memory. */
    while (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && end - q >= 8) {
        uint64_t w, m;
        memcpy(&w, q, 8);
        if ((m = special_bytes(w)) != 0)
            return q + (__builtin_ctzll(m) >> 3);
        q += 8;
    }
    while (q < end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
        q++;
    return q;
}

/* A string at d->p (its opening quote). Keys may not hold escapes (allow_escapes false). Inlined:
 * it runs twice per member, and a call costs as much as scanning a short key. */
static inline __attribute__((always_inline)) bool read_string(struct dec *d, bool allow_escapes,
                                                              const char **out, uint32_t *len)
{
    const char *s = ++d->p;
    bool escaped = false;
    const char *q = s;
    for (;;) {
        q = skip_plain(q, d->end);
        if (q >= d->end)
            return false;
        if (*q == '"')
            break;
        if (*q != '\\')
            return false; /* a control character */
        escaped = true;
        q += 2;
    }
    if (q >= d->end)
        return false;
    size_t n = (size_t)(q - s);
    if (n > UINT32_MAX / 2)
        return false;
    d->p = q + 1;
    if (!escaped) {
        *out = s;
        *len = (uint32_t)n;
        return true;
    }
    return allow_escapes && unescape(d, s, n, out, len);
}

/* A scalar at d->p into leaf l: string, plain integer, true, false or null. */
static bool read_scalar(struct dec *d, struct leaf *l)
{
    char c = *d->p;
    if (c == '"') {
        l->kind = K_STR;
        return read_string(d, true, &l->val, &l->len);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        const char *s = d->p, *q = s + (c == '-');
        const char *digits = q;
        while (q < d->end && *q >= '0' && *q <= '9')
            q++;
        size_t nd = (size_t)(q - digits);
        /* No leading zeros and no "-0": json-c would print those back differently. */
        if (nd == 0 || nd > MAX_DIGITS || (digits[0] == '0' && (nd > 1 || c == '-')))
            return false;
        if (q < d->end && (*q == '.' || *q == 'e' || *q == 'E'))
            return false;
        l->kind = K_NUM;
        l->val = s;
        l->len = (uint32_t)(q - s);
        d->p = q;
        return true;
    }
    size_t left = (size_t)(d->end - d->p);
    if (left >= 4 && memcmp(d->p, "true", 4) == 0) {
        l->kind = K_TRUE;
        d->p += 4;
        return true;
    }
    if (left >= 5 && memcmp(d->p, "false", 5) == 0) {
        l->kind = K_FALSE;
        d->p += 5;
        return true;
    }
    if (left >= 4 && memcmp(d->p, "null", 4) == 0) {
        l->kind = K_NULL;
        d->p += 4;
        return true;
    }
    return false;
}

static struct leaf *new_leaf(struct dec *d)
{
    if (d->nleaves == MAX_LEAVES)
        return NULL;
    struct leaf *l = &d->leaves[d->nleaves++];
    memset(l, 0, sizeof(*l));
    return l;
}

/* The role of a leaf by its flattened name (ecs_leaf in json_in.c). False: generic path. Most
 * names have none of the lengths looked for, so the length decides before any comparison. */
static bool leaf_role(struct dec *d, const char *name, size_t len, uint8_t *role)
{
    *role = R_FIELD;
    switch (len) {
    case 3:
        return !IS(name, len, "msg");
    case 4:
        if (IS(name, len, "time"))
            d->time_alt = true;
        break;
    case 7:
        return !IS(name, len, "MESSAGE");
    case 9:
        if (IS(name, len, "timestamp"))
            d->time_alt = true;
        break;
    case 10:
        if (IS(name, len, "@timestamp"))
            *role = R_TIMESTAMP;
        break;
    case 13:
        if (IS(name, len, "event.created"))
            *role = R_CREATED;
        break;
    case 14:
        if (IS(name, len, "event.original"))
            *role = R_ORIGINAL;
        break;
    case 15:
        if (IS(name, len, "trapline.format"))
            *role = R_FORMAT;
        break;
    default:
        break;
    }
    return true;
}

/* A string leaf that is wholly an RFC 3339 time (trl_json_set_timestamp()). */
static bool rfc3339(const struct leaf *l, int64_t *ns)
{
    return l->len > 0 && trl_parse_rfc3339(l->val, l->len, ns) == l->len;
}

/* The value of the member named d->name[0..nlen) (whose hash is hash) at d->p, not an object. */
static bool read_leaf(struct dec *d, size_t nlen, uint32_t hash)
{
    uint8_t role;
    if (!leaf_role(d, d->name, nlen, &role))
        return false;
    struct leaf *l = new_leaf(d);
    if (!l)
        return false;
    l->role = role;
    enum trl_field f =
        role == R_FIELD ? trl_json_field_lookup_hashed(d->name, nlen, hash) : TRL_F_NONE;
    l->field = (uint16_t)f;
    /* Only a dynamic field or a known array field is set by its name (set_leaf): the name of
     * any other leaf is not kept. */
    if (role == R_FIELD && (f == TRL_F_NONE || trl_field_info(f)->type == TRL_FT_ARRAY)) {
        if (d->names_len + nlen > NAMES_MAX)
            return false;
        l->name = memcpy(d->names + d->names_len, d->name, nlen);
        l->name_len = (uint16_t)nlen;
        d->names_len += nlen;
    }
    if (*d->p != '[') {
        if (!read_scalar(d, l))
            return false;
        int64_t ns;
        if (role == R_TIMESTAMP && l->kind == K_STR && rfc3339(l, &ns))
            d->have_timestamp = true;
        return true;
    }
    l->kind = K_ARRAY;
    size_t first = d->nleaves;
    d->p++;
    if (d->p < d->end && *d->p == ']') {
        d->p++;
        return true;
    }
    for (;;) {
        if (d->p >= d->end)
            return false;
        struct leaf *el = new_leaf(d);
        if (!el || !read_scalar(d, el))
            return false;
        el->role = R_ELEMENT;
        if (d->p >= d->end)
            return false;
        if (*d->p == ']') {
            d->p++;
            break;
        }
        if (*d->p++ != ',')
            return false;
    }
    l->len = (uint32_t)(d->nleaves - first);
    /* Elements are stored one by one only in a known array field: anything else gets the
     * array's JSON text from json-c (and message, @timestamp... are never arrays here). */
    if (role == R_FIELD && (f == TRL_F_NONE || trl_field_info(f)->type != TRL_FT_ARRAY))
        return false;
    return true;
}

/* Appends the key k to the name being built at dst (after a '.' when sep), continuing the name's
 * hash *h, in one pass over its bytes. Returns the key's segments, 0 when it has an empty one
 * (flattening would rewrite it). */
static unsigned put_key(char *dst, bool sep, const char *k, size_t len, uint32_t *h)
{
    uint32_t x = *h;
    if (sep) {
        *dst++ = '.';
        x = trl_json_hash_more(x, ".", 1);
    }
    unsigned n = 1;
    bool empty = k[0] == '.' || k[len - 1] == '.';
    for (size_t i = 0; i < len; i++) {
        char c = k[i];
        dst[i] = c;
        x = trl_json_hash_more(x, &c, 1);
        if (c == '.') {
            n++;
            empty |= i + 1 < len && k[i + 1] == '.';
        }
    }
    *h = x;
    return empty ? 0 : n;
}

/* Top-level members that select the journald or EVTX mapping, or the msg/MESSAGE fallback. */
static bool special_top_key(const char *k, size_t len)
{
    switch (len) {
    case 3:
        return IS(k, len, "msg");
    case 5:
        return IS(k, len, "Event");
    case 6:
        return IS(k, len, "System");
    case 7:
        return IS(k, len, "MESSAGE");
    case 8:
        return IS(k, len, "__CURSOR") || IS(k, len, "_BOOT_ID");
    case 20:
        return IS(k, len, "__REALTIME_TIMESTAMP");
    default:
        return false;
    }
}

/* The object at d->p, whose members are named d->name[0..plen).key (hash: that of the prefix),
 * plen segments deep. */
static bool read_object(struct dec *d, size_t plen, unsigned segs, uint32_t hash)
{
    d->p++;
    if (d->p < d->end && *d->p == '}') {
        d->p++;
        return true;
    }
    size_t keys_from = d->nkeys;
    /* Which (first byte, length) pairs this object's keys have, so that a key is compared with
     * the others only when one of them might be equal. */
    uint64_t seen = 0;
    for (;;) {
        if (d->p >= d->end || *d->p != '"')
            return false;
        const char *k;
        uint32_t klen;
        if (!read_string(d, false, &k, &klen) || klen == 0)
            return false;
        uint64_t bit = 1ull << (((unsigned char)k[0] ^ klen * 7u) & 63);
        if (seen & bit) {
            for (size_t i = keys_from; i < d->nkeys; i++)
                if (d->keys[i].len == klen && memcmp(d->keys[i].p, k, klen) == 0)
                    return false;
        }
        seen |= bit;
        if (d->nkeys == MAX_KEYS)
            return false;
        d->keys[d->nkeys++] = (struct key){k, klen};
        if (plen == 0 && special_top_key(k, klen))
            return false;
        size_t sep = plen > 0;
        size_t nlen = plen + sep + klen;
        if (nlen >= TRL_JSON_NAME_MAX)
            return false;
        uint32_t h = hash;
        unsigned ksegs = put_key(d->name + plen, sep, k, klen, &h);
        if (ksegs == 0 || segs + ksegs > TRL_JSON_MAX_SEGMENTS)
            return false;
        if (d->p >= d->end || *d->p++ != ':' || d->p >= d->end)
            return false;
        if (*d->p == '{') {
            if (segs + ksegs >= TRL_JSON_MAX_SEGMENTS || !read_object(d, nlen, segs + ksegs, h))
                return false;
        } else if (!read_leaf(d, nlen, h)) {
            return false;
        }
        if (d->p >= d->end)
            return false;
        if (*d->p == '}') {
            d->p++;
            break;
        }
        if (*d->p++ != ',')
            return false;
    }
    d->nkeys = keys_from;
    return true;
}

static const char *leaf_text(const struct leaf *l, size_t *len)
{
    switch (l->kind) {
    case K_TRUE:
        *len = 4;
        return "true";
    case K_FALSE:
        *len = 5;
        return "false";
    default:
        *len = l->len;
        return l->val;
    }
}

/* trapline.format names the agent's parser: ours by its canonical name, else "agent". */
static const char *format_name(const char *v, size_t len)
{
    for (int f = 0; f < TRL_FORMAT__COUNT; f++) {
        const char *n = trl_format_name((enum trl_format_id)f);
        if (strlen(n) == len && strncasecmp(n, v, len) == 0)
            return n;
    }
    return "agent";
}

/* Sets one leaf that is stored as a field (and not null). */
static void set_leaf(struct trl_event *ev, const struct leaf *l)
{
    const char *name = l->name;
    size_t name_len = l->name_len;
    char alt[TRL_JSON_ALT_MAX];
    enum trl_field f = (enum trl_field)l->field;
    if (!trl_json_resolve_dynamic(ev, &name, &name_len, alt, &f))
        return;
    if (l->kind == K_ARRAY) {
        for (uint32_t i = 1; i <= l->len; i++) {
            const struct leaf *el = l + i;
            size_t len;
            const char *text = leaf_text(el, &len);
            if (el->kind != K_NULL)
                trl_event_add(ev, f, text, len);
        }
        return;
    }
    size_t len;
    const char *text = leaf_text(l, &len);
    /* The text lives in the input or the arena (or is a literal): no copy needed. */
    if (f != TRL_F_NONE && trl_field_info(f)->type != TRL_FT_ARRAY)
        trl_event_set_ref(ev, f, text, len);
    else
        trl_json_set_text(ev, f, name, name_len, text, len);
}

static void apply(struct dec *d)
{
    struct trl_event *ev = d->ev;
    int64_t ns;
    for (size_t i = 0; i < d->nleaves; i++) {
        const struct leaf *l = &d->leaves[i];
        size_t skip = l->kind == K_ARRAY ? l->len : 0;
        switch (l->role) {
        case R_TIMESTAMP:
            if (l->kind == K_STR && rfc3339(l, &ns))
                ev->timestamp_ns = ns;
            break;
        case R_ORIGINAL:
            if (l->kind == K_STR) {
                ev->original = trl_arena_strndup(ev->arena, l->val, l->len);
                ev->original_len = l->len;
            }
            break;
        case R_FORMAT:
            if (l->kind == K_STR)
                ev->format = format_name(l->val, l->len);
            break;
        case R_CREATED:
            break;
        default:
            /* Arrays here are empty or of a known array field (read_leaf checked). */
            if (l->kind != K_NULL && !(l->kind == K_ARRAY && l->len == 0))
                set_leaf(ev, l);
            break;
        }
        i += skip;
    }
}

int trl_json_parse_agent(struct trl_event *ev)
{
    struct dec d;
    d.ev = ev;
    d.p = ev->original;
    d.end = ev->original + ev->original_len;
    d.nleaves = d.names_len = d.nkeys = 0;
    d.have_timestamp = d.time_alt = false;
    const char *end = d.end;
    while (end > d.p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n' ||
                         end[-1] == '\0'))
        end--;
    d.end = end;
    if (d.p >= d.end || *d.p != '{' || !read_object(&d, 0, 0, TRL_JSON_HASH_INIT) || d.p != d.end)
        return TRL_ENOMATCH;
    /* Without a valid @timestamp the generic path takes it from timestamp or time. */
    if (d.time_alt && !d.have_timestamp)
        return TRL_ENOMATCH;

    size_t mlen = 0;
    const char *msg_before = trl_event_get(ev, TRL_F_MESSAGE, &mlen);
    bool message_is_input = msg_before && msg_before == ev->original;
    apply(&d);
    /* As trl_parse_json(): a message that was only the JSON text itself is dropped. */
    if (message_is_input && trl_event_get(ev, TRL_F_MESSAGE, &mlen) == msg_before)
        trl_event_remove(ev, TRL_F_MESSAGE);
    if (!ev->format)
        ev->format = "json";
    return 0;
}

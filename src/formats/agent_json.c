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
 * Two steps: the first checks the whole text and collects its leaves (values are slices of the
 * input, or decoded into the event's arena when they hold escapes), the second sets the fields in
 * document order, as json-c's iteration would.
 *
 * The events of one source come in a few shapes: the same keys in the same nesting, with values of
 * the same kinds. Each thread keeps the shapes it has decoded in a tree (struct shapes): a node per
 * leaf holds the bytes between the previous value and this one (keys, colons, braces, commas), the
 * kind of the value and what the leaf resolved to (its field, its role, its flattened name, and
 * whether a dynamic name had to move under json. or be dropped). A text that follows a path of
 * that tree byte for byte between values of the same kinds is then read with a comparison per
 * leaf: the keys need no hashing, looking up, duplicate check or name building, since all of that
 * was done for exactly those bytes when the path was added. Values are still read and checked one
 * by one as in the first reading, so a text that matches a path is one the full reading accepts,
 * with the same leaves. Anything else takes the full reading, which then adds its path.
 *
 * Pure but for that per-thread tree; callable from any thread on distinct events.
 */
#include "core/timeutil.h"
#include "core/util.h"
#include "formats/json_in.h"
#include "formats/parse.h"

#include <pthread.h>
#include <stdlib.h>
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

/* The size of a thread's shape tree: room for a few dozen shapes of a hundred leaves. When it is
 * full it is emptied and filled again with the shapes that come next. */
#define SHAPE_NODES 2048
#define SHAPE_BYTES 65536
/* Most shapes that part at one leaf: reading a text compares it with each of them there, and a
 * source whose every event is another shape should not make that a long list. */
#define SHAPE_FORKS 16

/* K_END: the node of the bytes after a shape's last value (the closing braces). */
enum kind { K_STR, K_NUM, K_TRUE, K_FALSE, K_NULL, K_ARRAY, K_END };

/* What the ECS mapping of trl_parse_json() does with a leaf besides storing it. */
enum role { R_FIELD, R_TIMESTAMP, R_ORIGINAL, R_FORMAT, R_CREATED, R_ELEMENT };

struct leaf {
    const char *name; /* NULL for array elements and fields set by their id */
    const char *val;
    uint32_t len; /* bytes of val; for K_ARRAY the number of elements, which follow */
    uint32_t raw; /* where the value's text starts in the input (quotes and brackets included) */
    uint32_t raw_len; /* and its length */
    uint32_t node;    /* its node in the thread's shape tree, 0 when it has none */
    uint16_t name_len;
    uint16_t field; /* the known field named so (R_FIELD only), or TRL_F_NONE */
    uint8_t kind;
    uint8_t role;
    bool time_alt;    /* named timestamp or time: the generic path may read @timestamp there */
    bool copied;      /* val was decoded into the arena (and is NUL-terminated there) */
    bool array_field; /* field is a known array field */
};

struct key {
    const char *p;
    size_t len;
};

/* Where a dynamic name is stored, once known for a node (see resolve_name()). */
enum res { RES_UNKNOWN, RES_SAME, RES_ALT, RES_DROP };

/* One leaf of a shape, reached from the root through the leaves before it. Offsets are into
 * shapes.bytes; indexes into shapes.nodes, where 0 is the root (and means none as a link). */
struct node {
    uint32_t child, next; /* first child, next sibling */
    uint32_t piece;       /* the bytes between the previous value and this one */
    uint32_t name;        /* the flattened name, when the leaf keeps one */
    uint32_t alt;         /* the name a dynamic field is stored under, for RES_ALT */
    uint16_t piece_len, name_len, alt_len;
    uint16_t field;
    uint8_t kind, role, res;
    uint8_t nchildren;
    bool time_alt;    /* this leaf or one before it is named timestamp or time */
    bool array_field; /* as in struct leaf */
};

struct shapes {
    uint32_t nnodes, nbytes;
    struct node nodes[SHAPE_NODES];
    char bytes[SHAPE_BYTES];
};

struct dec {
    struct trl_event *ev;
    const char *base; /* the start of the input */
    const char *p, *end;
    size_t nleaves, names_len, nkeys;
    int64_t timestamp_ns; /* of the @timestamp leaf, when have_timestamp */
    bool have_timestamp;
    bool time_alt; /* a leaf named timestamp or time: the generic path may read @timestamp there */
    char name[TRL_JSON_NAME_MAX];
    char names[NAMES_MAX];
    struct leaf leaves[MAX_LEAVES];
    struct key keys[MAX_KEYS];
};

/* Each thread's shape tree: made on the thread's first agent event, freed when the thread ends. */
static pthread_key_t shapes_key;
static pthread_once_t shapes_once = PTHREAD_ONCE_INIT;
static bool shapes_key_ok;
static _Thread_local struct shapes *thread_tree;

static void make_shapes_key(void)
{
    shapes_key_ok = pthread_key_create(&shapes_key, free) == 0;
}

static struct shapes *thread_shapes(void)
{
    struct shapes *s = thread_tree;
    if (s)
        return s;
    pthread_once(&shapes_once, make_shapes_key);
    if (!shapes_key_ok)
        return NULL;
    s = malloc(sizeof(*s));
    if (!s)
        return NULL;
    if (pthread_setspecific(shapes_key, s) != 0) {
        free(s);
        return NULL;
    }
    s->nnodes = 1;
    s->nbytes = 0;
    memset(&s->nodes[0], 0, sizeof(s->nodes[0]));
    thread_tree = s;
    return s;
}

static bool is_lit(const char *p, size_t len, const char *lit, size_t lit_len)
{
    return len == lit_len && memcmp(p, lit, len) == 0;
}

#define IS(p, len, lit) is_lit((p), (len), (lit), sizeof(lit) - 1)

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

/* Decodes the escaped string whose body is raw[0..n) into the arena (NUL-terminated). False for
 * what json-c would read differently or not at all. */
static bool unescape(struct dec *d, const char *raw, size_t n, const char **out, uint32_t *out_len)
{
    /* Decoded text is never longer than its escaped form. */
    char *o = trl_arena_alloc(d->ev->arena, n + 1), *w = o;
    const char *end = raw + n;
    for (;;) {
        /* Runs without escapes are copied whole: in the body of a string read_string() took, the
         * only special bytes are backslashes and the bytes they escape. */
        const char *q = skip_plain(raw, end);
        memcpy(w, raw, (size_t)(q - raw));
        w += q - raw;
        if (q >= end)
            break;
        if (*q != '\\' || end - q < 2)
            return false;
        raw = q + 2;
        switch (q[1]) {
        case '"':
        case '\\':
        case '/':
            *w++ = q[1];
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
            if (end - raw < 4)
                return false;
            unsigned cp = 0;
            for (int k = 0; k < 4; k++) {
                int h = trl_hex_value(raw[k]);
                if (h < 0)
                    return false;
                cp = cp << 4 | (unsigned)h;
            }
            raw += 4;
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

/* A string at d->p (its opening quote). Keys may not hold escapes (copied NULL); a value that
 * does is decoded into the arena, and *copied set. Inlined: it runs twice per member, and a call
 * costs as much as scanning a short key. */
static inline __attribute__((always_inline)) bool read_string(struct dec *d, bool *copied,
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
    if (!copied)
        return false;
    *copied = true;
    return unescape(d, s, n, out, len);
}

/* A scalar at d->p into leaf l: string, plain integer, true, false or null. Inlined into its
 * few callers: it runs for every value, most of them a few bytes long. */
static inline __attribute__((always_inline)) bool read_scalar(struct dec *d, struct leaf *l)
{
    char c = *d->p;
    if (c == '"') {
        l->kind = K_STR;
        return read_string(d, &l->copied, &l->val, &l->len);
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

/* The role of leaf l by its flattened name (ecs_leaf in json_in.c). False: generic path. Most
 * names have none of the lengths looked for, so the length decides before any comparison. */
static bool leaf_role(struct leaf *l, const char *name, size_t len)
{
    l->role = R_FIELD;
    switch (len) {
    case 3:
        return !IS(name, len, "msg");
    case 4:
        l->time_alt = IS(name, len, "time");
        break;
    case 7:
        return !IS(name, len, "MESSAGE");
    case 9:
        l->time_alt = IS(name, len, "timestamp");
        break;
    case 10:
        if (IS(name, len, "@timestamp"))
            l->role = R_TIMESTAMP;
        break;
    case 13:
        if (IS(name, len, "event.created"))
            l->role = R_CREATED;
        break;
    case 14:
        if (IS(name, len, "event.original"))
            l->role = R_ORIGINAL;
        break;
    case 15:
        if (IS(name, len, "trapline.format"))
            l->role = R_FORMAT;
        break;
    default:
        break;
    }
    return true;
}

/* A scalar leaf's value at d->p; notes a valid @timestamp (trl_json_set_timestamp()). */
static bool read_value(struct dec *d, struct leaf *l)
{
    if (!read_scalar(d, l))
        return false;
    if (l->role == R_TIMESTAMP && l->kind == K_STR && l->len > 0 &&
        trl_parse_rfc3339(l->val, l->len, &d->timestamp_ns) == l->len)
        d->have_timestamp = true;
    return true;
}

/* The elements of the array at d->p (its '['), which follow its leaf l. */
static bool read_array(struct dec *d, struct leaf *l)
{
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
    return true;
}

/* The value of the member named d->name[0..nlen) (whose hash is hash) at d->p, not an object. */
static bool read_leaf(struct dec *d, size_t nlen, uint32_t hash)
{
    struct leaf *l = new_leaf(d);
    if (!l || !leaf_role(l, d->name, nlen))
        return false;
    d->time_alt |= l->time_alt;
    enum trl_field f =
        l->role == R_FIELD ? trl_json_field_lookup_hashed(d->name, nlen, hash) : TRL_F_NONE;
    l->field = (uint16_t)f;
    l->array_field = f != TRL_F_NONE && trl_field_info(f)->type == TRL_FT_ARRAY;
    /* Only a dynamic field or a known array field is set by its name (set_leaf): the name of
     * any other leaf is not kept. */
    if (l->role == R_FIELD && (f == TRL_F_NONE || l->array_field)) {
        if (d->names_len + nlen > NAMES_MAX)
            return false;
        l->name = memcpy(d->names + d->names_len, d->name, nlen);
        l->name_len = (uint16_t)nlen;
        d->names_len += nlen;
    }
    l->raw = (uint32_t)(d->p - d->base);
    if (*d->p != '[') {
        if (!read_value(d, l))
            return false;
        l->raw_len = (uint32_t)(d->p - d->base) - l->raw;
        return true;
    }
    if (!read_array(d, l))
        return false;
    l->raw_len = (uint32_t)(d->p - d->base) - l->raw;
    /* Elements are stored one by one only in a known array field: anything else gets the
     * array's JSON text from json-c (and message, @timestamp... are never arrays here). */
    if (l->role == R_FIELD && !l->array_field)
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
        if (!read_string(d, NULL, &k, &klen) || klen == 0)
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

/* Whether a value of kind k may start with byte c. */
static bool starts_kind(enum kind k, char c)
{
    switch (k) {
    case K_STR:
        return c == '"';
    case K_NUM:
        return c == '-' || (c >= '0' && c <= '9');
    case K_TRUE:
        return c == 't';
    case K_FALSE:
        return c == 'f';
    case K_NULL:
        return c == 'n';
    case K_ARRAY:
        return c == '[';
    default:
        return false;
    }
}

/* The child of node n whose bytes come next in the input and whose kind of value follows them,
 * or 0. */
static uint32_t next_node(const struct shapes *s, uint32_t n, const char *p, size_t left)
{
    for (uint32_t c = s->nodes[n].child; c; c = s->nodes[c].next) {
        const struct node *x = &s->nodes[c];
        if (x->piece_len > left || !trl_short_eq(p, s->bytes + x->piece, x->piece_len))
            continue;
        if (x->kind == K_END ? x->piece_len == left
                             : x->piece_len < left && starts_kind(x->kind, p[x->piece_len]))
            return c;
    }
    return 0;
}

/* Reads the input along a path of the shape tree. False when it follows none to its end (the
 * leaves read so far are then to be dropped). */
static bool match_shape(struct dec *d, const struct shapes *s)
{
    uint32_t n = 0;
    for (;;) {
        uint32_t c = next_node(s, n, d->p, (size_t)(d->end - d->p));
        if (!c)
            return false;
        const struct node *x = &s->nodes[c];
        d->p += x->piece_len;
        if (x->kind == K_END) {
            d->time_alt = x->time_alt;
            return true;
        }
        struct leaf *l = new_leaf(d);
        if (!l)
            return false;
        l->role = x->role;
        l->field = x->field;
        l->array_field = x->array_field;
        l->node = c;
        if (x->name_len) {
            l->name = s->bytes + x->name;
            l->name_len = x->name_len;
        }
        if (x->kind == K_ARRAY) {
            if (!read_array(d, l))
                return false;
        } else if (!read_value(d, l) || l->kind != x->kind) {
            return false;
        }
        n = c;
    }
}

/* Room for n bytes in the tree, copied from p; its offset, or UINT32_MAX when it is full. */
static uint32_t keep_bytes(struct shapes *s, const char *p, size_t n)
{
    if (n > SHAPE_BYTES - s->nbytes)
        return UINT32_MAX;
    uint32_t off = s->nbytes;
    memcpy(s->bytes + off, p, n);
    s->nbytes += (uint32_t)n;
    return off;
}

enum add { ADD_DONE, ADD_FULL, ADD_SKIPPED };

/* Adds the path of the leaves just read (the full reading of the input) to the tree and points
 * each leaf at its node. ADD_FULL when the tree has no room left, ADD_SKIPPED when the path would
 * part from the others where too many do already (its leaves from there on get no node). */
static enum add add_shape(struct shapes *s, struct dec *d)
{
    uint32_t n = 0;
    size_t from = 0, total = (size_t)(d->end - d->base);
    for (size_t i = 0; i <= d->nleaves; i++) {
        struct leaf *l = i < d->nleaves ? &d->leaves[i] : NULL;
        size_t to = l ? l->raw : total;
        size_t len = to - from;
        enum kind kind = l ? (enum kind)l->kind : K_END;
        if (len > UINT16_MAX)
            return ADD_SKIPPED;
        const char *piece = d->base + from;
        uint32_t c = s->nodes[n].child;
        for (; c; c = s->nodes[c].next) {
            const struct node *x = &s->nodes[c];
            if (x->kind == kind && x->piece_len == len &&
                trl_short_eq(s->bytes + x->piece, piece, len))
                break;
        }
        if (!c) {
            if (s->nodes[n].nchildren == SHAPE_FORKS)
                return ADD_SKIPPED;
            if (s->nnodes == SHAPE_NODES || len + (l ? l->name_len : 0) > SHAPE_BYTES - s->nbytes)
                return ADD_FULL;
            c = s->nnodes++;
            struct node *x = &s->nodes[c];
            memset(x, 0, sizeof(*x));
            x->piece = keep_bytes(s, piece, len);
            x->piece_len = (uint16_t)len;
            x->kind = (uint8_t)kind;
            x->time_alt = s->nodes[n].time_alt;
            if (l) {
                x->role = l->role;
                x->field = l->field;
                x->array_field = l->array_field;
                x->time_alt |= l->time_alt;
                if (l->name_len) {
                    x->name = keep_bytes(s, l->name, l->name_len);
                    x->name_len = l->name_len;
                }
            }
            /* Newest first: the shapes seen last are the likeliest next. */
            x->next = s->nodes[n].child;
            s->nodes[n].child = c;
            s->nodes[n].nchildren++;
        }
        if (l) {
            l->node = c;
            from = l->raw + l->raw_len;
            if (l->kind == K_ARRAY)
                i += l->len;
        }
        n = c;
    }
    return ADD_DONE;
}

/* Adds the shape of the leaves just read, emptying the tree first when it is full. A shape too
 * big to share the tree with others is not kept at all. */
static void remember_shape(struct shapes *s, struct dec *d)
{
    if (d->nleaves >= SHAPE_NODES / 8 ||
        (size_t)(d->end - d->base) + d->names_len >= SHAPE_BYTES / 8)
        return;
    if (add_shape(s, d) != ADD_FULL)
        return;
    s->nnodes = 1;
    s->nbytes = 0;
    memset(&s->nodes[0], 0, sizeof(s->nodes[0]));
    /* Some leaves may still point at nodes of the tree just emptied. */
    if (add_shape(s, d) != ADD_DONE) {
        for (size_t i = 0; i < d->nleaves; i++)
            d->leaves[i].node = 0;
    }
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

/*
 * The name a dynamic field is stored under (trl_json_resolve_dynamic()); false when it is dropped.
 * That depends on the name and on the dynamic fields set before it: when the event had none of
 * its own (tree set), those are the ones the same path set before, so the answer is kept in the
 * leaf's node and read from there the next time.
 */
static bool resolve_name(struct shapes *tree, const struct leaf *l, struct trl_event *ev,
                         const char **name, size_t *name_len, char alt[TRL_JSON_ALT_MAX])
{
    struct node *x = tree && l->node ? &tree->nodes[l->node] : NULL;
    if (x && x->res != RES_UNKNOWN) {
        if (x->res == RES_ALT) {
            *name = tree->bytes + x->alt;
            *name_len = x->alt_len;
        }
        return x->res != RES_DROP;
    }
    enum trl_field f = TRL_F_NONE;
    const char *before = *name;
    bool keep = trl_json_resolve_dynamic(ev, name, name_len, alt, &f);
    if (!x)
        return keep;
    if (!keep) {
        x->res = RES_DROP;
    } else if (*name == before) {
        x->res = RES_SAME;
    } else {
        uint32_t off = keep_bytes(tree, *name, *name_len);
        if (off != UINT32_MAX) {
            x->alt = off;
            x->alt_len = (uint16_t)*name_len;
            x->res = RES_ALT;
        }
    }
    return keep;
}

/* Sets one leaf that is stored as a field (and not null). Every value lives as long as the
 * event's arena (a slice of the input, text decoded into the arena, or a literal), so none is
 * copied. */
static void set_leaf(struct shapes *tree, struct trl_event *ev, const struct leaf *l)
{
    enum trl_field f = (enum trl_field)l->field;
    const char *name = l->name;
    size_t name_len = l->name_len;
    char alt[TRL_JSON_ALT_MAX];
    if (f == TRL_F_NONE && !resolve_name(tree, l, ev, &name, &name_len, alt))
        return;
    size_t len;
    if (l->kind == K_ARRAY) {
        for (uint32_t i = 1; i <= l->len; i++) {
            const struct leaf *el = l + i;
            const char *text = leaf_text(el, &len);
            if (el->kind != K_NULL)
                trl_event_add_ref(ev, f, text, len);
        }
        return;
    }
    const char *text = leaf_text(l, &len);
    if (f == TRL_F_NONE)
        trl_event_set_named_ex(ev, name, name_len, text, len, TRL_REF_VALUE);
    else if (l->array_field)
        trl_event_add_ref(ev, f, text, len);
    else
        trl_event_set_ref(ev, f, text, len);
}

static void apply(struct dec *d, struct shapes *tree)
{
    struct trl_event *ev = d->ev;
    /* Names resolved for a node hold for events that start without dynamic fields. */
    if (ev->first_named)
        tree = NULL;
    for (size_t i = 0; i < d->nleaves; i++) {
        const struct leaf *l = &d->leaves[i];
        size_t skip = l->kind == K_ARRAY ? l->len : 0;
        switch (l->role) {
        case R_TIMESTAMP:
            /* There is one @timestamp at most (the top level has no duplicate keys). */
            if (d->have_timestamp)
                ev->timestamp_ns = d->timestamp_ns;
            break;
        case R_ORIGINAL:
            if (l->kind == K_STR) {
                /* A decoded value is a NUL-terminated copy in the arena already. */
                ev->original = l->copied ? l->val : trl_arena_strndup(ev->arena, l->val, l->len);
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
                set_leaf(tree, ev, l);
            break;
        }
        i += skip;
    }
}

static void start(struct dec *d)
{
    d->p = d->base;
    d->nleaves = d->names_len = d->nkeys = 0;
    d->have_timestamp = d->time_alt = false;
}

int trl_json_parse_agent(struct trl_event *ev)
{
    struct dec d;
    d.ev = ev;
    d.base = ev->original;
    const char *end = ev->original + ev->original_len;
    while (end > d.base && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' ||
                            end[-1] == '\n' || end[-1] == '\0'))
        end--;
    d.end = end;
    start(&d);
    if (d.p >= d.end || *d.p != '{')
        return TRL_ENOMATCH;
    struct shapes *tree = thread_shapes();
    if (!tree || !match_shape(&d, tree)) {
        start(&d);
        if (!read_object(&d, 0, 0, TRL_JSON_HASH_INIT) || d.p != d.end)
            return TRL_ENOMATCH;
        /* Without a valid @timestamp the generic path takes it from timestamp or time. */
        if (d.time_alt && !d.have_timestamp)
            return TRL_ENOMATCH;
        if (tree)
            remember_shape(tree, &d);
    } else if (d.time_alt && !d.have_timestamp) {
        return TRL_ENOMATCH;
    }

    size_t mlen = 0;
    const char *msg_before = trl_event_get(ev, TRL_F_MESSAGE, &mlen);
    bool message_is_input = msg_before && msg_before == ev->original;
    apply(&d, tree);
    /* As trl_parse_json(): a message that was only the JSON text itself is dropped. */
    if (message_is_input && trl_event_get(ev, TRL_F_MESSAGE, &mlen) == msg_before)
        trl_event_remove(ev, TRL_F_MESSAGE);
    if (!ev->format)
        ev->format = "json";
    return 0;
}

#include "formats/json_encode.h"
#include "core/timeutil.h"
#include "core/util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#if defined(__linux__)
#include <link.h>
#endif

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/*
 * Every event is encoded once on its way to the store, so this is on the pipeline's hot path.
 * Two things keep it cheap:
 *
 * - The output buffer is reserved once per event for the worst case (every value byte escaped as
 *   \u00XX), so the writers below store through a plain pointer without bounds checks. Some of
 *   them store 16 bytes at a time past the current end; the reservation includes that slack.
 * - Known fields are laid out once, at first use: their position in name order and the text that
 *   opens them ("\"log\":{\"syslog\":{\"appname\":"). Encoding an event then buckets its known
 *   fields by position (no sorting) and only sorts the few dynamic fields, merging them in.
 */

/* Room the writers may store past the bytes they account for (a 16-byte block store, a 16-byte
 * chunked copy of a field's opening text). */
#define WRITE_SLACK 32

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is invalid or cut short. */
static size_t utf8_seq_len(const unsigned char *p, size_t left)
{
    unsigned char c = p[0];
    size_t n;
    unsigned min;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, cp = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

#if defined(__SSE2__)
/* 0xFF in each byte of v that needs care. A signed compare catches both the controls and the bytes
 * >= 0x80, which are negative as signed chars. */
static inline __m128i care_bytes(__m128i v)
{
    /* With bit 1 flipped, '"' (0x22) becomes 0x20 while the controls stay below it and the bytes
     * >= 0x80 stay negative; no other byte lands below 0x21. One compare then finds all three. */
    __m128i low_or_quote =
        _mm_cmplt_epi8(_mm_xor_si128(v, _mm_set1_epi8(0x02)), _mm_set1_epi8(0x21));
    __m128i bslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    return _mm_or_si128(low_or_quote, bslash);
}

/* Bit i set when byte i of v needs care. */
static inline unsigned block_needs_care(__m128i v)
{
    return (unsigned)_mm_movemask_epi8(care_bytes(v));
}
#endif

/* Writes the byte at p that needs care: escaped (controls, quote, backslash) or checked as UTF-8
 * (copied when valid, U+FFFD when not). Returns the bytes written times 16 plus the bytes read,
 * so that the caller's pointers stay in registers. */
static __attribute__((noinline)) unsigned put_special(char *o, const unsigned char *p,
                                                      const unsigned char *end)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = *p;
    if (c >= 0x80) {
        size_t n = utf8_seq_len(p, (size_t)(end - p));
        if (n) {
            memcpy(o, p, n);
            return (unsigned)(n * 16 + n);
        }
        memcpy(o, "\xEF\xBF\xBD", 3);
        return 3 * 16 + 1;
    }
    o[0] = '\\';
    switch (c) {
    case '"':
    case '\\':
        o[1] = (char)c;
        return 2 * 16 + 1;
    case '\n':
        o[1] = 'n';
        return 2 * 16 + 1;
    case '\r':
        o[1] = 'r';
        return 2 * 16 + 1;
    case '\t':
        o[1] = 't';
        return 2 * 16 + 1;
    default:
        memcpy(o + 1, "u00", 3);
        o[4] = hex[c >> 4];
        o[5] = hex[c & 15];
        return 6 * 16 + 1;
    }
}

/* Where the bytes of a string that needed care (escaped, or checked as UTF-8) were: from the
 * first of them to the end of the last; first is NULL when there was none. Between them, gap is
 * the longest run of bytes that needed none (empty when there is no such run): a Snare line's
 * message between its header's tabs and its trailing tab, say. */
struct care_span {
    const char *first;
    const char *end;
    const char *gap_start;
    size_t gap_len;
};

/* Escapes the byte at p into o, advancing both. */
#define PUT_SPECIAL(o, p, end)                                                                     \
    do {                                                                                           \
        unsigned moved_ = put_special(o, p, end);                                                  \
        o += moved_ >> 4;                                                                          \
        p += moved_ & 15;                                                                          \
    } while (0)

#if defined(__SSE2__)
/* The r (1..7) bytes at p as the low bytes of a word, the rest zero, without reading past p + r:
 * two overlapping 4-byte loads, or three single bytes that cover 1..3. x86 is little-endian. */
static inline uint64_t load_short(const unsigned char *p, size_t r)
{
    if (r >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + r - 4, 4);
        return (uint64_t)lo | ((uint64_t)hi << (8 * (r - 4)));
    }
    return (uint64_t)p[0] | ((uint64_t)p[r >> 1] << (8 * (r >> 1))) |
           ((uint64_t)p[r - 1] << (8 * (r - 1)));
}

/* Writes s as a quoted JSON string at o, which has room for 6 * len + 2 + WRITE_SLACK bytes, and
 * returns the end of what it wrote; notes in *span where the bytes that needed care were (see
 * struct care_span). Plain bytes are copied 16 at a time; a tail shorter than 16
 * is checked in one go (two overlapping 8-byte loads, or one short load), so short values cost
 * no loop at all. Every store copies source bytes verbatim, so storing more than the plain run
 * is harmless: the next write starts at the first byte that needs care. */
static inline __attribute__((always_inline)) char *
put_string_noting(char *o, const char *s, size_t len, struct care_span *span)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    *o++ = '"';
    /* Long runs of plain bytes (event.original, messages) go 32 at a time with one test. */
    while (end - p >= 32) {
        __m128i v0 = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i v1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
        _mm_storeu_si128((__m128i *)(void *)o, v0);
        _mm_storeu_si128((__m128i *)(void *)(o + 16), v1);
        if (_mm_movemask_epi8(_mm_or_si128(care_bytes(v0), care_bytes(v1))))
            break;
        p += 32;
        o += 32;
    }
    while (p < end) {
        size_t r = (size_t)(end - p);
        unsigned m, k;
        if (r >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            _mm_storeu_si128((__m128i *)(void *)o, v);
            m = block_needs_care(v);
            if (!m) {
                p += 16;
                o += 16;
                continue;
            }
            k = (unsigned)__builtin_ctz(m);
        } else if (r >= 8) {
            /* Bytes 0..7 of the block are p[0..7], bytes 8..15 are p[r-8..r-1]. */
            __m128i lo = _mm_loadl_epi64((const __m128i *)(const void *)p);
            __m128i hi = _mm_loadl_epi64((const __m128i *)(const void *)(end - 8));
            _mm_storel_epi64((__m128i *)(void *)o, lo);
            _mm_storel_epi64((__m128i *)(void *)(o + r - 8), hi);
            m = block_needs_care(_mm_unpacklo_epi64(lo, hi));
            if (!m) {
                o += r;
                break;
            }
            k = (m & 0xFF) ? (unsigned)__builtin_ctz(m)
                           : (unsigned)__builtin_ctz(m >> 8) + (unsigned)r - 8;
        } else {
            uint64_t w = load_short(p, r);
            memcpy(o, &w, 8);
            /* The zero padding reads as controls: only the r real bytes count. */
            m = block_needs_care(_mm_set_epi64x(0, (long long)w)) & ((1u << r) - 1);
            if (!m) {
                o += r;
                break;
            }
            k = (unsigned)__builtin_ctz(m);
        }
        p += k;
        o += k;
        if (!span->first)
            span->first = (const char *)p;
        else if ((size_t)((const char *)p - span->end) > span->gap_len)
            span->gap_start = span->end, span->gap_len = (size_t)((const char *)p - span->end);
        PUT_SPECIAL(o, p, end);
        span->end = (const char *)p;
    }
    *o++ = '"';
    return o;
}
#else
/* Bytes that cannot be copied verbatim into a JSON string: controls, quote, backslash, and every
 * non-ASCII byte (checked as UTF-8 on the slow path). */
static const unsigned char needs_care[256] = {
    [0 ... 31] = 1,
    ['"'] = 1,
    ['\\'] = 1,
    [128 ... 255] = 1,
};

/* True when any of the 8 bytes of w needs escaping or UTF-8 checking: a control character, '"',
 * '\\' or a byte >= 0x80 (the classic "has a byte less than / equal to" bit tricks). */
static inline uint64_t word_needs_care(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t quote = w ^ (ones * '"');
    uint64_t bslash = w ^ (ones * '\\');
    uint64_t lt_space = (w - ones * 0x20) & ~w;
    uint64_t is_quote = (quote - ones) & ~quote;
    uint64_t is_bslash = (bslash - ones) & ~bslash;
    return ((lt_space | is_quote | is_bslash) & highs) | (w & highs);
}

/* Writes s as a quoted JSON string at o, which has room for 6 * len + 2 + WRITE_SLACK bytes, and
 * returns the end of what it wrote; notes in *span where the bytes that needed care were. Plain
 * bytes are copied a word at a time. */
static inline char *put_string_noting(char *o, const char *s, size_t len, struct care_span *span)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    *o++ = '"';
    while (p < end) {
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            if (word_needs_care(w))
                break;
            memcpy(o, &w, 8);
            o += 8;
            p += 8;
        }
        while (p < end && !needs_care[*p])
            *o++ = (char)*p++;
        if (p < end) {
            if (!span->first)
                span->first = (const char *)p;
            else if ((size_t)((const char *)p - span->end) > span->gap_len)
                span->gap_start = span->end, span->gap_len = (size_t)((const char *)p - span->end);
            PUT_SPECIAL(o, p, end);
            span->end = (const char *)p;
        }
    }
    *o++ = '"';
    return o;
}
#endif

static inline __attribute__((always_inline)) char *put_string(char *o, const char *s, size_t len)
{
    struct care_span unused = {NULL, NULL, NULL, 0};
    return put_string_noting(o, s, len, &unused);
}

void trl_json_append_string(struct trl_buf *out, const char *s, size_t len)
{
    trl_buf_reserve(out, len * 6 + 3 + WRITE_SLACK);
    char *o = put_string(out->data + out->len, s, len);
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
}

/* True when a long field's text is written as a bare JSON number: it parses as an int64 and has
 * no leading zero. Up to 18 digits always fit, so only longer texts take the full parse. */
static inline bool plain_integer(const char *v, size_t len)
{
    size_t i = len > 0 && v[0] == '-';
    size_t digits = len - i;
    if (digits == 0)
        return false;
    if (digits > 1 && v[i] == '0')
        return false; /* "012" and "-012" are not JSON numbers */
    if (digits > 18) {
        int64_t num;
        return trl_parse_i64(v, len, &num);
    }
    for (; i < len; i++) {
        if ((unsigned char)(v[i] - '0') > 9)
            return false;
    }
    return true;
}

/* Copies a short text (a number, a formatted time) with fixed-size moves. */
static inline char *put_raw(char *o, const char *v, size_t len)
{
    if (len >= 8 && len <= 16) {
        memcpy(o, v, 8);
        memcpy(o + len - 8, v + len - 8, 8);
    } else if (len >= 4 && len < 8) {
        memcpy(o, v, 4);
        memcpy(o + len - 4, v + len - 4, 4);
    } else if (len > 0 && len < 4) {
        o[0] = v[0];
        o[len >> 1] = v[len >> 1];
        o[len - 1] = v[len - 1];
    } else if (len > 16 && len <= 32) {
        memcpy(o, v, 16);
        memcpy(o + len - 16, v + len - 16, 16);
    } else if (len > 32) {
        memcpy(o, v, len);
    }
    return o + len;
}

/* Writes s quoted, its bytes copied as they are: for a text known to need no escaping. Copies 16
 * bytes at a time, the last block overlapping the one before, never reading past s + len. */
static inline char *put_verbatim(char *o, const char *s, size_t len)
{
    *o++ = '"';
    if (len <= 16) {
        o = put_raw(o, s, len);
    } else {
        size_t i = 0;
        for (; i + 16 < len; i += 16)
            memcpy(o + i, s + i, 16);
        memcpy(o + len - 16, s + len - 16, 16);
        o += len;
    }
    *o++ = '"';
    return o;
}

/* Writes a value of the given type at o (room as for put_string). */
static inline char *put_value(char *o, enum trl_field_type type, const char *v, size_t len)
{
    if (type == TRL_FT_LONG && plain_integer(v, len))
        return put_raw(o, v, len);
    return put_string(o, v, len);
}

/* ---- Layout of the known fields, built once ---- */

#define NAME_BYTES_OF(id, name, type) +sizeof(name)
/* Total size of the known names with their NULs: bounds the object paths and opening texts. */
enum { KNOWN_NAME_BYTES = 0 TRL_FIELD_LIST(NAME_BYTES_OF) + sizeof("trapline.format") };
#undef NAME_BYTES_OF
_Static_assert(KNOWN_NAME_BYTES < 65536, "object node ids and text offsets are 16-bit");

/* The members laid out in advance: every known field, plus "trapline.format", which every parsed
 * event carries (from ev->format). That one is a dynamic name, and keeps a dynamic name's rules:
 * a dynamic field of the same name comes after it and is dropped. */
#define FORMAT_SLOT  TRL_F__COUNT
#define NMEMBERS     TRL_F__COUNT /* TRL_F__COUNT - 1 known fields and "trapline.format" */
#define MEMBER_WORDS ((NMEMBERS + 63) / 64)

/* An object that members live in ("log", "log.syslog", ...); node 0 is the event itself. */
struct object_node {
    uint16_t up;       /* the enclosing object */
    uint16_t depth;    /* objects from the root: the number of dots in its path plus one */
    uint16_t skip;     /* bytes of a member's opening text that open this object and above */
    uint16_t path_len; /* length of the dotted path */
    const char *path;  /* the dotted path, a prefix of a member's name */
};

struct member {
    const char *name;
    const char *open; /* "\"a\":{\"b\":{\"c\":": the keys from the root down to the member's */
    uint16_t name_len;
    uint16_t open_len;
    uint16_t parent; /* the object node that holds the member */
    uint8_t depth;   /* objects it sits in below the root: the number of dots in its name */
    uint8_t type;    /* enum trl_field_type */
    bool dynamic;    /* "trapline.format": equal dynamic names after it are duplicates */
};

struct layout {
    struct member sorted[NMEMBERS];    /* in name order */
    uint16_t pos_of[TRL_F__COUNT + 1]; /* position in name order of a field, or FORMAT_SLOT */
    uint16_t first_byte_at[257];       /* first position whose name starts with byte >= c */
    uint32_t member_max;               /* the most bytes a member takes beyond its value */
    uint32_t nnodes;
    uint16_t *shared; /* nnodes x nnodes: the innermost object two objects are both inside */
    struct object_node nodes[KNOWN_NAME_BYTES];
    char open_text[4 * KNOWN_NAME_BYTES + WRITE_SLACK];
    /* The read-only segment this code's string literals are in (empty when unknown): the bytes
     * there never change, so a value found there clean once stays clean. */
    uintptr_t ro_start, ro_end;
};

/* Written once under layout_once, read-only afterwards. */
static struct layout layout;
static pthread_once_t layout_once = PTHREAD_ONCE_INIT;
static atomic_bool layout_built;

static void build_layout(void);

/* pthread_once() is a library call: the cached encoder, called for every event, skips it once
 * the layout is known to be built. */
static inline void ensure_layout(void)
{
    if (!atomic_load_explicit(&layout_built, memory_order_acquire)) {
        pthread_once(&layout_once, build_layout);
        atomic_store_explicit(&layout_built, true, memory_order_release);
    }
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LITTLE_ENDIAN_WORDS 1
#endif

/* Byte order of two names (as memcmp, then the shorter first), 8 bytes at a time: names are
 * short, and a call to memcmp costs more than the comparison. */
static inline int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y) {
#if defined(LITTLE_ENDIAN_WORDS)
            x = __builtin_bswap64(x);
            y = __builtin_bswap64(y);
#endif
            return x < y ? -1 : 1;
        }
    }
    for (; i < n; i++) {
        if (a[i] != b[i])
            return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
    }
    return (alen > blen) - (alen < blen);
}

static void slot_name(uint16_t slot, const char **name, size_t *len)
{
    if (slot == FORMAT_SLOT) {
        *name = "trapline.format";
        *len = 15;
    } else {
        const struct trl_field_info *fi = trl_field_info((enum trl_field)slot);
        *name = fi->name;
        *len = fi->name_len;
    }
}

/* Name order; "trapline.format" before a known field of the same name, as a dynamic name. */
static int slot_cmp(const void *a, const void *b)
{
    uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
    const char *xn, *yn;
    size_t xl, yl;
    slot_name(x, &xn, &xl);
    slot_name(y, &yn, &yl);
    int c = bytes_cmp(xn, xl, yn, yl);
    if (c)
        return c;
    return (y == FORMAT_SLOT) - (x == FORMAT_SLOT);
}

/* The node for the object path name[0..len), created under parent when new. */
static uint16_t object_node(uint16_t parent, const char *name, size_t len)
{
    for (uint32_t i = 1; i < layout.nnodes; i++) {
        const struct object_node *n = &layout.nodes[i];
        if (n->up == parent && n->path_len == len && memcmp(n->path, name, len) == 0)
            return (uint16_t)i;
    }
    struct object_node *n = &layout.nodes[layout.nnodes];
    n->up = parent;
    n->depth = (uint16_t)(layout.nodes[parent].depth + 1);
    /* Opening "\"seg\":{" per object: the path's bytes, minus the dots, plus 4 per object. */
    n->skip = (uint16_t)(len + 1 + 3 * n->depth);
    n->path = name;
    n->path_len = (uint16_t)len;
    return (uint16_t)layout.nnodes++;
}

#if defined(__linux__)
/* dl_iterate_phdr(3) callback: the loaded segment holding the address data, kept when it is not
 * writable. */
static int find_read_only_segment(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    uintptr_t probe = (uintptr_t)data;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
        if (ph->p_type != PT_LOAD || probe < start || probe >= end)
            continue;
        if (!(ph->p_flags & PF_W)) {
            layout.ro_start = start;
            layout.ro_end = end;
        }
        return 1;
    }
    return 0;
}
#endif

static void build_layout(void)
{
#if defined(__linux__)
    /* The string literals of the program this code is linked into share the read-only segment
     * of this array; values anywhere else are checked every time. */
    static const char probe[] = "trapline.format";
    dl_iterate_phdr(find_read_only_segment, (void *)(uintptr_t)probe);
#endif
    layout.nnodes = 1; /* node 0: the root, depth 0, nothing to skip */
    uint16_t order[NMEMBERS];
    for (uint16_t i = 0; i < NMEMBERS; i++)
        order[i] = (uint16_t)(i + 1); /* the known fields 1.., then FORMAT_SLOT */
    qsort(order, NMEMBERS, sizeof(order[0]), slot_cmp);

    char *text = layout.open_text;
    for (uint16_t pos = 0; pos < NMEMBERS; pos++) {
        struct member *k = &layout.sorted[pos];
        const char *name;
        size_t name_len;
        slot_name(order[pos], &name, &name_len);
        layout.pos_of[order[pos]] = pos;
        k->name = name;
        k->name_len = (uint16_t)name_len;
        k->dynamic = order[pos] == FORMAT_SLOT;
        k->type = (uint8_t)(k->dynamic ? TRL_FT_KEYWORD
                                       : trl_field_info((enum trl_field)order[pos])->type);
        k->open = text;
        uint16_t parent = 0;
        const char *seg = name, *end = name + name_len;
        for (;;) {
            const char *dot = memchr(seg, '.', (size_t)(end - seg));
            const char *seg_end = dot ? dot : end;
            *text++ = '"';
            memcpy(text, seg, (size_t)(seg_end - seg));
            text += seg_end - seg;
            *text++ = '"';
            *text++ = ':';
            if (!dot)
                break;
            *text++ = '{';
            parent = object_node(parent, name, (size_t)(dot - name));
            seg = dot + 1;
        }
        k->open_len = (uint16_t)(text - k->open);
        k->parent = parent;
        k->depth = (uint8_t)layout.nodes[parent].depth;
        /* Closing braces, a comma, the opening text, brackets and the quotes of the value. */
        uint32_t most = (uint32_t)k->open_len + k->depth + 8;
        if (most > layout.member_max)
            layout.member_max = most;
    }

    /* The objects any two objects share, by walking both up to the same depth, then together. */
    const struct object_node *nodes = layout.nodes;
    layout.shared = trl_xmalloc(layout.nnodes * layout.nnodes * sizeof(*layout.shared));
    for (uint32_t i = 0; i < layout.nnodes; i++) {
        for (uint32_t j = 0; j < layout.nnodes; j++) {
            uint32_t x = i, y = j;
            while (nodes[x].depth > nodes[y].depth)
                x = nodes[x].up;
            while (nodes[y].depth > nodes[x].depth)
                y = nodes[y].up;
            while (x != y) {
                x = nodes[x].up;
                y = nodes[y].up;
            }
            layout.shared[i * layout.nnodes + j] = (uint16_t)x;
        }
    }

    /* first_byte_at[c]: how many members' names start with a byte below c. */
    uint32_t pos = 0;
    for (unsigned c = 0; c <= 256; c++) {
        while (pos < NMEMBERS && (unsigned char)layout.sorted[pos].name[0] < c)
            pos++;
        layout.first_byte_at[c] = (uint16_t)pos;
    }
}

/* Where a dynamic name goes among the laid-out members: the number of them that sort before it.
 * A dynamic name equal to a known field's goes first; one equal to "trapline.format" after it. */
static uint32_t dynamic_pos(const char *name, size_t len)
{
    if (len == 0)
        return 0;
    unsigned char c = (unsigned char)name[0];
    uint32_t lo = layout.first_byte_at[c], hi = layout.first_byte_at[c + 1];
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        const struct member *k = &layout.sorted[mid];
        if (bytes_cmp(k->name, k->name_len, name, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < NMEMBERS && layout.sorted[lo].dynamic && layout.sorted[lo].name_len == len &&
        memcmp(layout.sorted[lo].name, name, len) == 0)
        lo++;
    return lo;
}

/* Number of leading path segments two dotted names share: the dots inside their common prefix
 * each close a segment both names have. *rest: where b's first segment not shared starts. */
static size_t common_segments(const char *a, size_t alen, const char *b, size_t blen, size_t *rest)
{
    size_t n = alen < blen ? alen : blen, segs = 0, after = 0, i = 0;
#if defined(LITTLE_ENDIAN_WORDS)
    /* Dynamic names often share long prefixes (log.syslog.structured_data.): whole words first. */
    const uint64_t ones = 0x0101010101010101ULL, lows = 0x7F7F7F7F7F7F7F7FULL;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            break;
        /* Exactly the high bit of each byte of x that is a dot. */
        uint64_t t = x ^ (ones * '.');
        uint64_t dots = ~(((t & lows) + lows) | t | lows);
        if (dots) {
            segs += (size_t)(((dots >> 7) * ones) >> 56);
            after = i + (size_t)(63 - __builtin_clzll(dots)) / 8 + 1;
        }
    }
#endif
    for (; i < n && a[i] == b[i]; i++) {
        if (a[i] == '.') {
            segs++;
            after = i + 1;
        }
    }
    *rest = after;
    return segs;
}

/* The innermost object two members share: a lookup in the table of shared objects. */
static inline const struct object_node *shared_object(const struct member *a,
                                                      const struct member *b)
{
    if (a->parent == b->parent)
        return &layout.nodes[b->parent];
    return &layout.nodes[layout.shared[a->parent * layout.nnodes + b->parent]];
}

/* The enclosing object of member k at the given depth (at most k's own depth). */
static const struct object_node *object_at(const struct member *k, size_t depth)
{
    uint32_t x = k->parent;
    while (layout.nodes[x].depth > depth)
        x = layout.nodes[x].up;
    return &layout.nodes[x];
}

/* ---- Encoding one event ---- */

#define NO_NEXT UINT32_MAX

/* Where a value comes from, for recording a plan (see below): one of these, or SRC_FIELD0 plus
 * the index of the field in the event's list. */
enum value_src {
    SRC_TIMESTAMP,
    SRC_CREATED,
    SRC_ORIGINAL,
    SRC_FORMAT,
    SRC_TAG_TRUNCATED,
    SRC_TAG_UNPARSED,
    SRC_FIELD0,
};

/* A value of a laid-out member; array fields chain further values in insertion order. */
struct member_value {
    const char *val;
    uint32_t len;
    uint32_t next; /* index in collect.more */
    uint32_t src;  /* enum value_src */
};

struct dynamic_value {
    const char *name;
    const char *val;
    uint32_t name_len;
    uint32_t val_len;
    uint32_t pos; /* dynamic_pos() of the name */
    uint32_t src; /* enum value_src */
};

struct collect {
    uint64_t present[MEMBER_WORDS];      /* positions of the members the event has */
    struct member_value first[NMEMBERS]; /* the first value at each present position */
    uint32_t last[NMEMBERS];             /* the last value in more, or NO_NEXT: first */
    struct member_value *more;           /* further values of array fields */
    uint32_t nmore, more_cap;
    struct dynamic_value *dyn;
    uint32_t ndyn, dyn_cap;
    size_t most;        /* values an event can have: its fields and two tags */
    size_t value_bytes; /* of the members' values */
    size_t need;        /* output bytes the dynamic fields can take at most */
};

/* The arrays on the stack hold what a typical event has; a larger event moves them to the heap,
 * sized for its whole field list, once. */
static __attribute__((noinline)) void *spill(const void *from, size_t n, size_t size, size_t most)
{
    void *to = trl_xmalloc(most * size);
    memcpy(to, from, n * size);
    return to;
}

static inline void add_member(struct collect *c, uint32_t pos, const char *val, size_t len,
                              uint32_t src)
{
    uint64_t bit = 1ULL << (pos & 63);
    c->value_bytes += len;
    if (!(c->present[pos >> 6] & bit)) {
        c->present[pos >> 6] |= bit;
        c->first[pos] = (struct member_value){val, (uint32_t)len, NO_NEXT, src};
        c->last[pos] = NO_NEXT;
    } else if (layout.sorted[pos].type == TRL_FT_ARRAY) {
        if (c->nmore == c->more_cap) {
            c->more = spill(c->more, c->nmore, sizeof(*c->more), c->most);
            c->more_cap = (uint32_t)c->most;
        }
        uint32_t i = c->nmore++;
        c->more[i] = (struct member_value){val, (uint32_t)len, NO_NEXT, src};
        if (c->last[pos] == NO_NEXT)
            c->first[pos].next = i;
        else
            c->more[c->last[pos]].next = i;
        c->last[pos] = i;
    }
    /* Otherwise a scalar set twice through different paths: the first one wins. */
}

static inline void add_dynamic(struct collect *c, const char *name, size_t name_len,
                               const char *val, size_t val_len, uint32_t src)
{
    if (c->ndyn == c->dyn_cap) {
        c->dyn = spill(c->dyn, c->ndyn, sizeof(*c->dyn), c->most);
        c->dyn_cap = (uint32_t)c->most;
    }
    c->dyn[c->ndyn++] = (struct dynamic_value){
        name, val, (uint32_t)name_len, (uint32_t)val_len, dynamic_pos(name, name_len), src};
    /* Every byte of the name escaped, each segment quoted with ':' and '{', then the closing
     * braces, a comma and the quoted, escaped value. */
    c->need += 11 * name_len + 6 * val_len + 8;
}

/* Stable insertion sort by name: dynamic fields are few, and the first of two equal names wins. */
static void sort_dynamic(struct dynamic_value *d, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        struct dynamic_value tmp = d[i];
        uint32_t j = i;
        while (j > 0 && (d[j - 1].pos > tmp.pos ||
                         (d[j - 1].pos == tmp.pos && bytes_cmp(d[j - 1].name, d[j - 1].name_len,
                                                               tmp.name, tmp.name_len) > 0))) {
            d[j] = d[j - 1];
            j--;
        }
        d[j] = tmp;
    }
}

/* Value kinds of a recorded plan: how the value is written. */
enum value_kind {
    KIND_RAW,    /* copied as it is (the formatted @timestamp) */
    KIND_STRING, /* put_string() */
    KIND_LONG,   /* a long field: a bare number when it is one (as put_value() writes it) */
};

/* Where each value of one encoding went in the output, in order: the rest of the output is the
 * event's structure, the same for every event of the same shape. */
struct recorded_value {
    uint32_t start, end; /* offsets from the start of the event's text */
    uint32_t src;        /* enum value_src */
    uint32_t kind;       /* enum value_kind */
};

struct recorder {
    struct recorded_value *v;
    uint32_t n, cap;
};

/* The previous member written: its name, and its layout when it was laid out. */
struct writer {
    char *o;
    char *base;           /* the start of the event's text */
    struct recorder *rec; /* NULL unless recording */
    const struct member *prev_member;
    const char *prev_name;
    size_t prev_len;
    bool prev_dynamic;
    size_t open; /* objects open below the root */
};

/* Closes the objects open beyond keep and starts the next member. Names are rarely more than a
 * few levels deep: braces go out 8 at a time, into the output's slack. */
static inline char *close_objects(char *o, size_t open, size_t keep)
{
    size_t n = open - keep;
    memcpy(o, "}}}}}}}}", 8);
    for (size_t i = 8; i < n; i += 8)
        memcpy(o + i, "}}}}}}}}", 8);
    o += n;
    *o++ = ',';
    return o;
}

static inline char *copy_open_text(char *o, const char *src, size_t len)
{
    /* The layout's text has WRITE_SLACK bytes after its end, and so has the output. */
    memcpy(o, src, 16);
    memcpy(o + 16, src + 16, 16);
    for (size_t i = 32; i < len; i += 16)
        memcpy(o + i, src + i, 16);
    return o + len;
}

/* Notes that the value from src was written at [from, w->o), when recording. */
static inline void record(struct writer *w, const char *from, uint32_t src, enum value_kind kind)
{
    struct recorder *r = w->rec;
    if (!r || r->n == r->cap)
        return;
    r->v[r->n++] =
        (struct recorded_value){(uint32_t)(from - w->base), (uint32_t)(w->o - w->base), src, kind};
}

static inline void write_member(struct writer *w, const struct collect *c, uint32_t pos)
{
    const struct member *k = &layout.sorted[pos];
    const struct object_node *keep;
    size_t rest;
    if (w->prev_member)
        keep = shared_object(w->prev_member, k);
    else if (w->prev_name)
        keep =
            object_at(k, common_segments(w->prev_name, w->prev_len, k->name, k->name_len, &rest));
    else
        keep = layout.nodes;
    char *o = close_objects(w->o, w->open, keep->depth);
    o = copy_open_text(o, k->open + keep->skip, k->open_len - keep->skip);
    const struct member_value *v = &c->first[pos];
    if (k->type == TRL_FT_ARRAY) {
        *o++ = '[';
        w->o = put_string(o, v->val, v->len);
        record(w, o, v->src, KIND_STRING);
        while (v->next != NO_NEXT) {
            v = &c->more[v->next];
            o = w->o;
            *o++ = ',';
            w->o = put_string(o, v->val, v->len);
            record(w, o, v->src, KIND_STRING);
        }
        *w->o++ = ']';
    } else {
        w->o = put_value(o, (enum trl_field_type)k->type, v->val, v->len);
        record(w, o, v->src, k->type == TRL_FT_LONG ? KIND_LONG : KIND_STRING);
    }
    w->open = k->depth;
    w->prev_member = k;
    w->prev_name = k->name;
    w->prev_len = k->name_len;
    w->prev_dynamic = k->dynamic;
}

/* A name with bytes to escape, written a segment at a time through put_string. */
static char *put_escaped_key(char *o, const char *seg, const char *end, size_t *opened)
{
    size_t dots = 0;
    for (;;) {
        const char *dot = seg < end ? memchr(seg, '.', (size_t)(end - seg)) : NULL;
        const char *seg_end = dot ? dot : end;
        o = put_string(o, seg, (size_t)(seg_end - seg));
        *o++ = ':';
        if (!dot)
            break;
        *o++ = '{';
        dots++;
        seg = dot + 1;
    }
    *opened = dots;
    return o;
}

#if defined(__SSE2__)
/* Writes the segments of [seg, end) as nested keys, "a":{"b":{"c":, and returns the end of the
 * output; *opened counts the objects it opened. A name with nothing to escape is copied 8 bytes
 * at a time, each dot becoming "\":{\"". */
static char *put_dynamic_key(char *o, const char *seg, const char *end, size_t *opened)
{
    const unsigned char *p = (const unsigned char *)seg, *e = (const unsigned char *)end;
    char *start = o;
    size_t dots = 0;
    *o++ = '"';
    while (p < e) {
        size_t r = (size_t)(e - p);
        uint64_t w;
        unsigned valid = 0xFF;
        if (r >= 8) {
            memcpy(&w, p, 8);
            r = 8;
        } else {
            w = load_short(p, r);
            valid = (1u << r) - 1;
        }
        __m128i v = _mm_set_epi64x(0, (long long)w);
        if (block_needs_care(v) & valid)
            return put_escaped_key(start, seg, end, opened);
        unsigned dot = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('.'))) & valid;
        memcpy(o, &w, 8);
        if (!dot) {
            o += r;
            p += r;
            continue;
        }
        unsigned k = (unsigned)__builtin_ctz(dot);
        memcpy(o + k, "\":{\"", 4);
        o += k + 4;
        p += k + 1;
        dots++;
    }
    *o++ = '"';
    *o++ = ':';
    *opened = dots;
    return o;
}
#else
/* Character classes of dynamic names, for writing them as nested keys in one pass. */
enum { NAME_PLAIN, NAME_DOT, NAME_CARE };
static const unsigned char name_class[256] = {
    [0 ... 31] = NAME_CARE, ['"'] = NAME_CARE,         ['\\'] = NAME_CARE,
    ['.'] = NAME_DOT,       [128 ... 255] = NAME_CARE,
};

/* Writes the segments of [seg, end) as nested keys, "a":{"b":{"c":, and returns the end of the
 * output; *opened counts the objects it opened. A name with nothing to escape is copied in one
 * pass, each dot becoming "\":{\"". */
static char *put_dynamic_key(char *o, const char *seg, const char *end, size_t *opened)
{
    char *start = o;
    size_t dots = 0;
    *o++ = '"';
    for (const char *p = seg; p < end; p++) {
        unsigned cls = name_class[(unsigned char)*p];
        if (cls == NAME_PLAIN) {
            *o++ = *p;
        } else if (cls == NAME_DOT) {
            memcpy(o, "\":{\"", 4);
            o += 4;
            dots++;
        } else {
            return put_escaped_key(start, seg, end, opened);
        }
    }
    *o++ = '"';
    *o++ = ':';
    *opened = dots;
    return o;
}
#endif

static inline __attribute__((always_inline)) void write_dynamic(struct writer *w,
                                                                const struct dynamic_value *d)
{
    size_t keep = 0, rest = 0;
    if (w->prev_name) {
        if (w->prev_dynamic && w->prev_len == d->name_len &&
            memcmp(w->prev_name, d->name, d->name_len) == 0)
            return; /* the same name twice: the first one wins */
        keep = common_segments(w->prev_name, w->prev_len, d->name, d->name_len, &rest);
    }
    char *o = close_objects(w->o, w->open, keep);
    /* The segments already open are skipped; the rest become nested keys. */
    size_t opened;
    o = put_dynamic_key(o, d->name + rest, d->name + d->name_len, &opened);
    w->o = put_string(o, d->val, d->val_len);
    record(w, o, d->src, KIND_STRING);
    w->open = keep + opened;
    w->prev_member = NULL;
    w->prev_name = d->name;
    w->prev_len = d->name_len;
    w->prev_dynamic = true;
}

/* Encodes ev after out->len; created is event.created formatted. With rec, notes where each
 * value went. */
static void encode_full(const struct trl_event *ev, struct trl_buf *out, const char *created,
                        size_t created_len, struct recorder *rec)
{
    char ts[TRL_RFC3339_MAX];
    size_t ts_len = created_len;
    if (ev->timestamp_ns && ev->timestamp_ns != ev->received_ns)
        ts_len = trl_format_rfc3339(ev->timestamp_ns, ts);
    else
        memcpy(ts, created, created_len);

    struct collect c;
    memset(c.present, 0, sizeof(c.present));
    c.nmore = c.ndyn = 0;
    c.need = c.value_bytes = 0;
    struct member_value stack_more[32];
    struct dynamic_value stack_dyn[32];
    c.more = stack_more;
    c.dyn = stack_dyn;
    c.more_cap = c.dyn_cap = 32;
    c.most = (size_t)ev->nfields + 2;

    /* The values the event carries outside its field list come first, so they win over fields
     * of the same name. */
    add_member(&c, layout.pos_of[TRL_F_EVENT_CREATED], created, created_len, SRC_CREATED);
    add_member(&c, layout.pos_of[TRL_F_EVENT_ORIGINAL], ev->original, ev->original_len,
               SRC_ORIGINAL);
    if (ev->format)
        add_member(&c, layout.pos_of[FORMAT_SLOT], ev->format, strlen(ev->format), SRC_FORMAT);
    if (ev->flags & TRL_EVF_TRUNCATED)
        add_member(&c, layout.pos_of[TRL_F_TAGS], "trapline.truncated", 18, SRC_TAG_TRUNCATED);
    if (ev->flags & TRL_EVF_UNPARSED)
        add_member(&c, layout.pos_of[TRL_F_TAGS], "trapline.unparsed", 17, SRC_TAG_UNPARSED);
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        if (kv->field)
            add_member(&c, layout.pos_of[kv->field], kv->val, kv->val_len, SRC_FIELD0 + i);
        else
            add_dynamic(&c, kv->name, kv->name_len, kv->val, kv->val_len, SRC_FIELD0 + i);
    }
    sort_dynamic(c.dyn, c.ndyn);

    /* The header, the closing braces of the deepest name and the final brace. */
    size_t values = 5 + (size_t)ev->nfields - c.ndyn;
    size_t need =
        c.need + 6 * c.value_bytes + values * layout.member_max + ts_len + 64 + WRITE_SLACK;
    if (out->cap - out->len < need)
        trl_buf_reserve(out, need);
    struct writer w = {.o = out->data + out->len, .base = out->data + out->len, .rec = rec};
    memcpy(w.o, "{\"@timestamp\":\"", 15);
    char *from = w.o + 15;
    w.o = put_raw(from, ts, ts_len);
    record(&w, from, SRC_TIMESTAMP, KIND_RAW);
    *w.o++ = '"';

    /* Walk the members in name order, letting in each dynamic name before the first member
     * whose name does not sort before it. */
    uint32_t d = 0, next_dyn = c.ndyn ? c.dyn[0].pos : UINT32_MAX;
    for (uint32_t word = 0; word < MEMBER_WORDS; word++) {
        for (uint64_t bits = c.present[word]; bits; bits &= bits - 1) {
            uint32_t pos = word * 64 + (uint32_t)__builtin_ctzll(bits);
            if (next_dyn <= pos) {
                do
                    write_dynamic(&w, &c.dyn[d++]);
                while (d < c.ndyn && c.dyn[d].pos <= pos);
                next_dyn = d < c.ndyn ? c.dyn[d].pos : UINT32_MAX;
            }
            write_member(&w, &c, pos);
        }
    }
    while (d < c.ndyn)
        write_dynamic(&w, &c.dyn[d++]);
    char *o = w.o;
    for (size_t i = 0; i < w.open; i++)
        *o++ = '}';
    *o++ = '}';
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';

    if (c.dyn != stack_dyn)
        free(c.dyn);
    if (c.more != stack_more)
        free(c.more);
}

void trl_json_encode_event(const struct trl_event *ev, struct trl_buf *out)
{
    ensure_layout();
    char created[TRL_RFC3339_MAX];
    size_t created_len = trl_format_rfc3339(ev->received_ns, created);
    encode_full(ev, out, created, created_len, NULL);
}

/* ---- Plans: the structure of an event shape, recorded once ---- */

/*
 * Everything in an event's JSON besides its values (the keys, the nesting, the order, which
 * duplicates are dropped, where arrays open and close) depends only on the event's shape: the
 * sequence of its fields' names, whether it has a format, and its truncated/unparsed flags.
 * Events from one source mostly share a handful of shapes, so the cache keeps, per shape, the
 * structure as text pieces with the place of each value between them (a plan). Encoding an event
 * whose shape is cached is then copying those pieces and writing its values, exactly as
 * encode_full() would have.
 */

#define CACHE_SLOTS      256
#define RECENT_SLOTS     64
#define PLAN_MAX_VALUES  1024  /* larger events are encoded without a plan ... */
#define PLAN_MAX_BYTES   16384 /* ... and so are those whose plan would take more memory */
#define SHAPE_HAS_FORMAT (1u << 0)
#define SHAPE_TRUNCATED  (1u << 1)
#define SHAPE_UNPARSED   (1u << 2)

/* What a plan does with a value: the source and the kind of value_src and value_kind in one,
 * so that the most frequent case (a field's string) is told apart with one test. */
enum plan_code {
    OP_FIELD_STRING, /* arg: the field's index */
    OP_FIELD_LONG,   /* arg: the field's index */
    OP_OTHER_STRING, /* arg: enum value_src below SRC_FIELD0 */
    OP_OTHER_RAW,    /* arg: enum value_src below SRC_FIELD0 */
};

_Static_assert(PLAN_MAX_BYTES <= UINT16_MAX, "a plan's text pieces have 16-bit lengths");

struct plan_op {
    uint16_t text_len; /* structure text before the value (a plan is under PLAN_MAX_BYTES) */
    uint8_t code;      /* enum plan_code */
    /* The last value written here that was found to need no escaping (for a long field: to be a
     * plain number) and lies in the read-only segment (a literal: "event", "authpriv",
     * "ssh-login"): the same one again is copied. seen_block: it is at most 16 bytes long and
     * seen_text holds a copy, so that one block from there copies it. Until a value is seen,
     * seen_len is UINT16_MAX, which no value seen has, so that no value (not even an empty one
     * at NULL) matches. */
    uint8_t seen_block;
    uint16_t arg;
    uint16_t seen_len;
    const char *seen;
    char seen_text[16];
};

/* The plan's code and argument for a value recorded from src, written as kind. */
static struct plan_op plan_op_of(uint32_t text_len, uint32_t src, uint32_t kind)
{
    if (src >= SRC_FIELD0)
        return (struct plan_op){.text_len = (uint16_t)text_len,
                                .code = kind == KIND_LONG ? OP_FIELD_LONG : OP_FIELD_STRING,
                                .arg = (uint16_t)(src - SRC_FIELD0),
                                .seen_len = UINT16_MAX};
    return (struct plan_op){.text_len = (uint16_t)text_len,
                            .code = kind == KIND_RAW ? OP_OTHER_RAW : OP_OTHER_STRING,
                            .arg = (uint16_t)src,
                            .seen_len = UINT16_MAX};
}

/* A dynamic name of a shape: the field's index in the event's list, and where the name's bytes
 * are in the plan's names. */
struct plan_name {
    uint32_t index;
    uint32_t at;
    uint32_t len;
    /* The name's address when it lies in the read-only segment (a literal, as most parsers'
     * dynamic names are), else NULL: a name at that address has those bytes for good, so an
     * event with the same address needs no comparison. */
    const char *literal;
};

struct plan {
    uint64_t hash;
    uint32_t nfields;
    uint32_t bits; /* SHAPE_* */
    uint32_t nops;
    uint32_t text_len; /* all the structure text, the part after the last value included */
    uint32_t ndyn;
    uint16_t *fields;      /* the shape: each field's enum trl_field, 0 for a dynamic name */
    struct plan_name *dyn; /* the dynamic names of the shape, ndyn of them */
    char *names;
    struct plan_op *ops;
    char *text;    /* text_len bytes and WRITE_SLACK more */
    void *mem;     /* the one allocation everything above lives in */
    uint64_t used; /* the cache's tick when the plan was last used */
};

struct trl_json_cache {
    struct plan slots[CACHE_SLOTS];
    /* The plans that events of the same recent_key() used last, the latest first: tried before
     * the shape's hash is worked out, which an event of the same shape as an earlier one then
     * does not need. Two of them, so that two shapes that share a key do not keep evicting each
     * other. */
    struct plan *recent[RECENT_SLOTS][2];
    uint64_t tick;      /* counts lookups: the older plan of a shape's two slots is replaced */
    int64_t created_ns; /* the last receive time formatted, and its text */
    size_t created_len;
    char created[TRL_RFC3339_MAX];
    const char *format; /* the last event.format measured, in the read-only segment, and its */
    size_t format_len;  /* length: formats are parsers' static names */
    int64_t ts_secs;    /* the second of the last @timestamp formatted, and its text */
    size_t ts_len;
    char ts[TRL_RFC3339_MAX];
};

struct trl_json_cache *trl_json_cache_create(void)
{
    struct trl_json_cache *c = trl_xcalloc(1, sizeof(*c));
    c->created_ns = INT64_MIN;
    c->ts_secs = INT64_MIN;
    return c;
}

void trl_json_cache_destroy(struct trl_json_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        free(c->slots[i].mem);
    free(c);
}

static inline uint64_t mix(uint64_t h, uint64_t v)
{
    h = (h ^ v) * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 29);
}

/* The key of a dynamic name in a shape's hash: its length and up to 16 of its bytes, the end
 * (where names with a common prefix differ) and the middle. The top bit keeps it apart from every
 * known field's key, its enum trl_field. A weak key only makes two shapes share cache slots: a
 * plan is used only after plan_matches() compared every name. */
static inline uint64_t name_key(const char *name, size_t len)
{
    uint64_t k = (uint64_t)len << 48 | (uint64_t)1 << 63;
    if (len >= 8) {
        uint64_t end, mid;
        memcpy(&end, name + len - 8, 8);
        memcpy(&mid, name + len / 2 - 4, 8);
        return k ^ end ^ (mid * 0xFF51AFD7ED558CCDULL);
    }
    for (size_t i = 0; i < len; i++)
        k ^= (uint64_t)(unsigned char)name[i] << (8 * i);
    return k;
}

static uint32_t shape_bits(const struct trl_event *ev)
{
    return (ev->format ? SHAPE_HAS_FORMAT : 0) |
           (ev->flags & TRL_EVF_TRUNCATED ? SHAPE_TRUNCATED : 0) |
           (ev->flags & TRL_EVF_UNPARSED ? SHAPE_UNPARSED : 0);
}

/* Whether pl is the plan of ev's shape; if so, also sums the bytes of ev's values into
 * *value_bytes (one pass over the fields for both, without a branch per field: the differences
 * of the field ids are gathered and looked at once). The fields and names are compared in full: a
 * plan found by a hash, or tried on a guess, is used only when it is the right one. */
static bool plan_fits(const struct plan *pl, const struct trl_event *ev, size_t *value_bytes)
{
    if (!pl->mem || pl->nfields != ev->nfields || pl->bits != shape_bits(ev))
        return false;
    /* An event without fields may have no field list at all: no pointer is derived from it. */
    if (ev->nfields == 0) {
        *value_bytes = 0;
        return true;
    }
    const struct trl_kv *kv = ev->fields, *k = kv, *end = kv + ev->nfields;
    const uint16_t *f = pl->fields;
    size_t bytes = 0, bytes2 = 0;
    uint16_t diff = 0, diff2 = 0;
    for (; k + 1 < end; k += 2, f += 2) {
        bytes += k[0].val_len;
        bytes2 += k[1].val_len;
        diff |= (uint16_t)(f[0] ^ k[0].field);
        diff2 |= (uint16_t)(f[1] ^ k[1].field);
    }
    if (k < end) {
        bytes += k->val_len;
        diff |= (uint16_t)(*f ^ k->field);
    }
    if (diff | diff2)
        return false;
    for (uint32_t d = 0; d < pl->ndyn; d++) {
        const struct plan_name *pn = &pl->dyn[d];
        const struct trl_kv *k = &kv[pn->index];
        if (pn->len != k->name_len ||
            (k->name != pn->literal && !trl_short_eq(pl->names + pn->at, k->name, pn->len)))
            return false;
    }
    *value_bytes = bytes + bytes2;
    return true;
}

/* plan_fits() for a plan found by hash: the stored hash rules most wrong ones out first. */
static inline bool plan_matches(const struct plan *pl, const struct trl_event *ev, uint64_t hash,
                                size_t *value_bytes)
{
    return pl->hash == hash && plan_fits(pl, ev, value_bytes);
}

/* Makes pl the plan of ev's shape from where encode_full() put each value (the event's text is
 * at text, len bytes), unless that plan would be too big. */
static void plan_build(struct plan *pl, const struct trl_event *ev, uint64_t hash, const char *text,
                       size_t len, const struct recorder *rec)
{
    size_t names_len = 0, ndyn = 0;
    for (uint32_t i = 0; i < ev->nfields; i++) {
        if (!ev->fields[i].field) {
            names_len += ev->fields[i].name_len;
            ndyn++;
        }
    }
    size_t value_bytes = 0;
    for (uint32_t i = 0; i < rec->n; i++)
        value_bytes += rec->v[i].end - rec->v[i].start;
    size_t text_len = len - value_bytes;
    size_t n = ev->nfields;
    size_t size = rec->n * sizeof(struct plan_op) + ndyn * sizeof(struct plan_name) +
                  n * sizeof(uint16_t) + names_len + text_len + WRITE_SLACK;
    /* Bounds the cache (CACHE_SLOTS plans at most this big) whatever the input: such an event
     * keeps being encoded in full, and the slot keeps its plan. */
    if (size > PLAN_MAX_BYTES)
        return;
    free(pl->mem);
    char *mem = trl_xmalloc(size);
    pl->mem = mem;
    pl->ops = (struct plan_op *)(void *)mem;
    mem += rec->n * sizeof(struct plan_op);
    pl->dyn = (struct plan_name *)(void *)mem;
    mem += ndyn * sizeof(struct plan_name);
    pl->fields = (uint16_t *)(void *)mem;
    mem += n * sizeof(uint16_t);
    pl->names = mem;
    mem += names_len;
    pl->text = mem;

    size_t at = 0;
    uint32_t d = 0;
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        pl->fields[i] = kv->field;
        if (!kv->field) {
            if (kv->name_len)
                memcpy(pl->names + at, kv->name, kv->name_len);
            uintptr_t ro = (uintptr_t)kv->name - layout.ro_start,
                      ro_size = layout.ro_end - layout.ro_start;
            bool literal = kv->name && ro < ro_size && kv->name_len <= ro_size - ro;
            pl->dyn[d++] =
                (struct plan_name){i, (uint32_t)at, kv->name_len, literal ? kv->name : NULL};
            at += kv->name_len;
        }
    }
    pl->ndyn = d;
    size_t from = 0, t = 0;
    for (uint32_t i = 0; i < rec->n; i++) {
        const struct recorded_value *v = &rec->v[i];
        memcpy(pl->text + t, text + from, v->start - from);
        pl->ops[i] = plan_op_of(v->start - (uint32_t)from, v->src, v->kind);
        t += v->start - from;
        from = v->end;
    }
    memcpy(pl->text + t, text + from, len - from);
    memset(pl->text + text_len, 0, WRITE_SLACK);
    pl->hash = hash;
    pl->nfields = ev->nfields;
    pl->bits = shape_bits(ev);
    pl->nops = rec->n;
    pl->text_len = (uint32_t)text_len;
}

/* "00" .. "99". */
static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

/* Formats ns as trl_format_rfc3339() does, into c->ts, and returns its length. Timestamps mostly
 * come in order, many in one second: the text of the last second is kept and only its nine digits
 * of fraction are rewritten. */
static size_t format_time(struct trl_json_cache *c, int64_t ns)
{
    int64_t secs = ns / TRL_NS_PER_SEC;
    int64_t frac = ns % TRL_NS_PER_SEC;
    if (frac < 0) {
        frac += TRL_NS_PER_SEC;
        secs -= 1;
    }
    if (secs != c->ts_secs) {
        c->ts_len = trl_format_rfc3339(ns, c->ts);
        /* Only a text that ends in ".NNNNNNNNNZ" has its fraction rewritten next time. */
        bool fixed = c->ts_len >= 11 && c->ts[c->ts_len - 11] == '.' && c->ts[c->ts_len - 1] == 'Z';
        c->ts_secs = fixed ? secs : INT64_MIN;
        return c->ts_len;
    }
    /* The nine digits before the 'Z', by constant divisions and two digits at a time. */
    char *p = c->ts + c->ts_len - 10;
    uint32_t f = (uint32_t)frac;
    p[0] = (char)('0' + f / 100000000);
    f %= 100000000;
    memcpy(p + 1, digit_pairs + 2 * (f / 1000000), 2);
    f %= 1000000;
    memcpy(p + 3, digit_pairs + 2 * (f / 10000), 2);
    f %= 10000;
    memcpy(p + 5, digit_pairs + 2 * (f / 100), 2);
    memcpy(p + 7, digit_pairs + 2 * (f % 100), 2);
    return c->ts_len;
}

/* Copies structure text; both sides have WRITE_SLACK bytes of room past the end. */
static inline char *put_text(char *o, const char *t, size_t len)
{
    /* Most pieces (a closing quote, a comma and the next key) take one or two blocks. */
    memcpy(o, t, 16);
    if (len > 16) {
        memcpy(o + 16, t + 16, 16);
        for (size_t i = 32; i < len; i += 16)
            memcpy(o + i, t + i, 16);
    }
    return o + len;
}

/* Records in op a value of the read-only segment found to be written as it is. Out of line: it
 * runs once for each literal an op meets, and the loop that calls it keeps its registers. */
static __attribute__((noinline)) void record_seen(struct plan_op *op, const char *v, size_t len)
{
    op->seen = v;
    op->seen_len = (uint16_t)len;
    op->seen_block = len <= 16;
    if (len <= 16)
        memcpy(op->seen_text, v, len);
}

/* Notes in op a value found to be written as it is, when it lies in the read-only segment, where
 * it cannot change. */
static inline void note_seen(struct plan_op *op, const char *v, size_t len)
{
    uintptr_t at = (uintptr_t)v - layout.ro_start, size = layout.ro_end - layout.ro_start;
    if (at < size && len <= size - at && len < UINT16_MAX)
        record_seen(op, v, len);
}

/* Writes a value that is no slice of a clean event.original, escaped as needed; notes it in op
 * when it needed nothing. */
static inline __attribute__((always_inline)) char *put_checked(struct plan_op *op, char *o,
                                                               const char *v, size_t len)
{
    struct care_span span = {NULL, NULL, NULL, 0};
    o = put_string_noting(o, v, len, &span);
    if (!span.first)
        note_seen(op, v, len);
    return o;
}

static void plan_run(struct trl_json_cache *c, const struct plan *pl, const struct trl_event *ev,
                     struct trl_buf *out, size_t value_bytes)
{
    size_t created_len = c->created_len;
    const char *ts = c->created;
    size_t ts_len = created_len;
    if (ev->timestamp_ns && ev->timestamp_ns != ev->received_ns) {
        ts_len = format_time(c, ev->timestamp_ns);
        ts = c->ts;
    }
    size_t format_len = 0;
    if (ev->format == c->format) {
        format_len = c->format_len;
    } else if (ev->format) {
        format_len = strlen(ev->format);
        uintptr_t at = (uintptr_t)ev->format - layout.ro_start;
        if (at < layout.ro_end - layout.ro_start) {
            c->format = ev->format;
            c->format_len = format_len;
        }
    }
    /* Every value escaped at worst 6 bytes a byte, with its quotes and array separators. */
    size_t need =
        pl->text_len +
        6 * (value_bytes + ev->original_len + format_len + created_len + ts_len + 18 + 17) +
        4 * (size_t)pl->nops + 2 * WRITE_SLACK;
    if (out->cap - out->len < need)
        trl_buf_reserve(out, need);

    /* The values from outside the field list, by source. */
    const char *other[SRC_FIELD0];
    size_t other_len[SRC_FIELD0];
    other[SRC_TIMESTAMP] = ts, other_len[SRC_TIMESTAMP] = ts_len;
    other[SRC_CREATED] = c->created, other_len[SRC_CREATED] = created_len;
    other[SRC_ORIGINAL] = ev->original, other_len[SRC_ORIGINAL] = ev->original_len;
    other[SRC_FORMAT] = ev->format, other_len[SRC_FORMAT] = format_len;
    other[SRC_TAG_TRUNCATED] = "trapline.truncated", other_len[SRC_TAG_TRUNCATED] = 18;
    other[SRC_TAG_UNPARSED] = "trapline.unparsed", other_len[SRC_TAG_UNPARSED] = 17;

    /* Most values are slices of event.original. Once that has been written, the parts of it
     * before the first byte that needed care, after the last, and the longest run between two of
     * them are known to need none: a slice within one of these windows is copied without
     * checking. Until then the windows are empty. Everything the loop reads is held in locals:
     * the output is written through a char pointer, which may alias anything. */
    uintptr_t orig = (uintptr_t)ev->original, orig_end = orig + ev->original_len;
    /* The windows as address ranges [lo, hi): the head is [orig, head_end), the tail
     * [tail_start, orig_end). */
    uintptr_t head_end = orig, tail_start = UINTPTR_MAX, gap_lo = UINTPTR_MAX, gap_hi = UINTPTR_MAX;
    const struct trl_kv *fields = ev->fields;
    struct plan_op *op = pl->ops, *op_end = op + pl->nops;
    const char *t = pl->text;
    char *o = out->data + out->len;
    for (; op < op_end; op++) {
        size_t text_len = op->text_len;
        unsigned code = op->code, arg = op->arg;
        o = put_text(o, t, text_len);
        t += text_len;
        /* The values that take the common checked path below leave their text in v and len;
         * the others are written where they are told apart, so that the checked writer (a long
         * piece of code) is inlined once. */
        const char *v;
        size_t len;
        if (code == OP_FIELD_STRING) {
            v = fields[arg].val;
            len = fields[arg].val_len;
            /* Within one of the clean windows of event.original. A value's bytes are real
             * memory, so lo + len does not wrap. */
            uintptr_t lo = (uintptr_t)v, hi = lo + len;
            if ((lo >= orig && hi <= head_end) || (lo >= tail_start && hi <= orig_end) ||
                (lo >= gap_lo && hi <= gap_hi)) {
                if (len <= 16 && lo + 16 <= orig_end) {
                    /* A short slice with 16 bytes of event.original from its start: one block
                     * copies it (the output has room past the value for the rest). */
                    *o = '"';
                    memcpy(o + 1, v, 16);
                    o += len + 2;
                    o[-1] = '"';
                } else {
                    o = put_verbatim(o, v, len);
                }
                continue;
            }
        } else if (code == OP_FIELD_LONG) {
            v = fields[arg].val;
            len = fields[arg].val_len;
            /* The check inline and put_value() (out of line) only for a text that is not a
             * plain number: numbers are most long values. */
            if (v == op->seen && len == op->seen_len) {
                if (op->seen_block) {
                    memcpy(o, op->seen_text, 16);
                    o += len;
                } else {
                    o = put_raw(o, v, len);
                }
            } else if (plain_integer(v, len)) {
                o = put_raw(o, v, len);
                note_seen(op, v, len);
            } else {
                o = put_value(o, TRL_FT_LONG, v, len);
            }
            continue;
        } else if (code == OP_OTHER_RAW) {
            o = put_raw(o, other[arg], other_len[arg]);
            continue;
        } else if (arg == SRC_ORIGINAL) {
            struct care_span span = {NULL, NULL, NULL, 0};
            o = put_string_noting(o, ev->original, ev->original_len, &span);
            head_end = span.first ? (uintptr_t)span.first : orig_end;
            tail_start = span.first ? (uintptr_t)span.end : orig_end;
            if (span.gap_len) {
                gap_lo = (uintptr_t)span.gap_start;
                gap_hi = gap_lo + span.gap_len;
            }
            continue;
        } else if (arg == SRC_CREATED) {
            /* trl_format_rfc3339() writes digits, '-', ':', 'T', '.' and 'Z' only. */
            o = put_verbatim(o, other[arg], other_len[arg]);
            continue;
        } else {
            v = other[arg];
            len = other_len[arg];
        }
        if (v == op->seen && len == op->seen_len) {
            if (op->seen_block) {
                *o = '"';
                memcpy(o + 1, op->seen_text, 16);
                o += len + 2;
                o[-1] = '"';
            } else {
                o = put_verbatim(o, v, len);
            }
        } else {
            o = put_checked(op, o, v, len);
        }
    }
    o = put_text(o, t, pl->text_len - (size_t)(t - pl->text));
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
}

/* Which recent plans an event tries first: its number of fields and three of their ids (the last
 * one, mostly set by a normaliser, one in the middle and the fourth), which a mixed stream's kinds
 * of events rarely all share. A key that two shapes share only costs a full lookup. */
static inline size_t recent_key(const struct trl_event *ev)
{
    uint32_t n = ev->nfields;
    if (n == 0)
        return 0;
    const struct trl_kv *f = ev->fields;
    size_t k = n * 31u + f[n - 1].field * 7u + f[n / 2].field * 131u + f[n > 3 ? 3 : 0].field * 17u;
    return (k ^ (k >> 6)) % RECENT_SLOTS;
}

/* Makes pl the latest recent plan of its key. */
static inline void note_recent(struct plan **recent, struct plan *pl)
{
    if (recent[0] != pl) {
        recent[1] = recent[0];
        recent[0] = pl;
    }
}

void trl_json_encode_event_cached(struct trl_json_cache *c, const struct trl_event *ev,
                                  struct trl_buf *out)
{
    ensure_layout();
    /* Events of one read share their receive time: format it once. */
    if (ev->received_ns != c->created_ns) {
        c->created_len = trl_format_rfc3339(ev->received_ns, c->created);
        c->created_ns = ev->received_ns;
    }
    if (ev->nfields + 8 > PLAN_MAX_VALUES) {
        encode_full(ev, out, c->created, c->created_len, NULL);
        return;
    }
    struct plan **recent = c->recent[recent_key(ev)];
    size_t value_bytes;
    c->tick++;
    for (int i = 0; i < 2; i++) {
        struct plan *pl = recent[i];
        if (pl && plan_fits(pl, ev, &value_bytes)) {
            pl->used = c->tick;
            note_recent(recent, pl);
            plan_run(c, pl, ev, out, value_bytes);
            return;
        }
    }
    /* The shape's hash: one multiply per field (a polynomial in the field keys), mixed once at
     * the end to spread it over the slots. */
    uint64_t h = 0;
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        uint64_t k = kv->field ? kv->field : name_key(kv->name, kv->name_len);
        h = (h + k) * 0x9E3779B97F4A7C15ULL;
    }
    h = mix(mix(h, ev->nfields), shape_bits(ev));
    /* A shape may take either of two slots, so two frequent shapes that share a slot do not keep
     * replacing each other's plan. */
    struct plan *a = &c->slots[h % CACHE_SLOTS], *b = &c->slots[(h >> 32) % CACHE_SLOTS];
    struct plan *hit = plan_matches(a, ev, h, &value_bytes)             ? a
                       : a != b && plan_matches(b, ev, h, &value_bytes) ? b
                                                                        : NULL;
    if (hit) {
        hit->used = c->tick;
        note_recent(recent, hit);
        plan_run(c, hit, ev, out, value_bytes);
        return;
    }
    struct plan *pl = !a->mem ? a : !b->mem ? b : a->used <= b->used ? a : b;
    pl->used = c->tick;
    note_recent(recent, pl);
    struct recorded_value stack[64];
    struct recorder rec = {stack, 0, TRL_ARRAY_LEN(stack)};
    /* Every field, the values outside the list and the timestamp. */
    size_t most = (size_t)ev->nfields + 8;
    if (most > rec.cap) {
        rec.v = trl_xmalloc(most * sizeof(*rec.v));
        rec.cap = (uint32_t)most;
    }
    size_t start = out->len;
    encode_full(ev, out, c->created, c->created_len, &rec);
    /* A full recorder may have missed a value: no plan then (it never fills, by its size). */
    if (rec.n < rec.cap)
        plan_build(pl, ev, h, out->data + start, out->len - start, &rec);
    if (rec.v != stack)
        free(rec.v);
}

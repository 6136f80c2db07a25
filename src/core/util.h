/*
 * util: small helpers shared by every module: checked allocation, string slices, case-insensitive
 * comparison, number parsing without locale or errno surprises.
 *
 * All functions are pure or allocate with trl_xmalloc (which aborts on out-of-memory with a
 * message rather than limping on); callers free what trl_x* returns. Safe from any thread.
 */
#ifndef TRL_UTIL_H
#define TRL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define TRL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define TRL_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define TRL_MAX(a, b)    ((a) > (b) ? (a) : (b))

/* Error codes: functions return 0 or one of these negatives (or a negative errno). */
enum {
    TRL_OK = 0,
    TRL_ENOMATCH = -1000, /* input is not in this format: try another parser */
    TRL_EINVAL = -1001,   /* input claims the format but is malformed */
    TRL_ETRUNC = -1002,   /* input was cut at a size limit */
    TRL_EFULL = -1003,    /* a bounded queue or buffer is full */
    TRL_ECONFIG = -1004,  /* configuration error (already reported with file and line) */
};
const char *trl_strerror(int err);

void *trl_xmalloc(size_t n);
void *trl_xcalloc(size_t n, size_t size);
void *trl_xrealloc(void *p, size_t n);
char *trl_xstrdup(const char *s);
char *trl_xstrndup(const char *s, size_t n);

/* A non-owning view of bytes. */
struct trl_str {
    const char *ptr;
    size_t len;
};
#define TRL_STR(lit) ((struct trl_str){(lit), sizeof(lit) - 1})

static inline bool trl_str_eq(struct trl_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}
static inline bool trl_starts_with(const char *p, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len >= n && memcmp(p, lit, n) == 0;
}
bool trl_strcase_eq(const char *a, size_t alen, const char *b, size_t blen);
/* Finds the n bytes of needle in the first hlen bytes of hay, like memmem(3) but cheaper for the
 * short haystacks and needles of log messages. */
const char *trl_memmem(const char *hay, size_t hlen, const char *needle, size_t n);
/* Finds needle in the first hlen bytes of hay (memmem with a C-string needle). Inline so that the
 * length of a literal needle is known at compile time. */
static inline const char *trl_memstr(const char *hay, size_t hlen, const char *needle)
{
    return trl_memmem(hay, hlen, needle, strlen(needle));
}
/* Whether the n bytes of needle occur in the first hlen bytes of hay, for short literal needles
 * (the work is at most hlen times n). Candidates come from memchr(3) on needle[key]: pick a byte
 * that is rare in the haystack, so that a message without the needle costs one vectorised scan. */
bool trl_mem_contains(const char *hay, size_t hlen, const char *needle, size_t n, size_t key);

/* Parses an unsigned decimal that fills exactly [p, p+len); returns false on anything else. */
bool trl_parse_u64(const char *p, size_t len, uint64_t *out);
bool trl_parse_i64(const char *p, size_t len, int64_t *out);
/* The value of a hexadecimal digit, or -1. */
static inline int trl_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Is any bit of [from, to) set in the bit array b (bit i is b[i / 64] >> (i % 64))? */
static inline bool trl_bits_any(const uint64_t *b, size_t from, size_t to)
{
    if (from >= to)
        return false;
    size_t wf = from >> 6, wt = (to - 1) >> 6;
    uint64_t first = ~0ULL << (from & 63), last = ~0ULL >> (63 - ((to - 1) & 63));
    if (wf == wt)
        return (b[wf] & first & last) != 0;
    if (b[wf] & first)
        return true;
    for (size_t w = wf + 1; w < wt; w++) {
        if (b[w])
            return true;
    }
    return (b[wt] & last) != 0;
}

/* The 8 bytes at p as one word (any alignment). */
static inline uint64_t trl_load_u64(const void *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof(w));
    return w;
}

/* Whether the first and the last w bytes (w <= len, w <= 8) of a and b are equal. */
static inline bool trl_ends_eq(const char *a, const char *b, size_t len, size_t w)
{
    uint64_t a0 = 0, b0 = 0, a1 = 0, b1 = 0;
    memcpy(&a0, a, w);
    memcpy(&b0, b, w);
    memcpy(&a1, a + len - w, w);
    memcpy(&b1, b + len - w, w);
    return a0 == b0 && a1 == b1;
}

/* Whether the len bytes at a and b are equal, for short strings such as field names, keys and
 * the literals of known shapes, without a call to memcmp. Below a word, two overlapping reads of
 * 4 or 2 bytes cover every length. Names that share a prefix usually differ at their end, so the
 * last word is compared first, then the rest word by word. */
static inline bool trl_short_eq(const char *a, const char *b, size_t len)
{
    if (len < 8) {
        if (len >= 4)
            return trl_ends_eq(a, b, len, 4);
        if (len >= 2)
            return trl_ends_eq(a, b, len, 2);
        return len == 0 || a[0] == b[0];
    }
    if (trl_load_u64(a + len - 8) != trl_load_u64(b + len - 8))
        return false;
    for (size_t i = 0; i + 8 < len; i += 8) {
        if (trl_load_u64(a + i) != trl_load_u64(b + i))
            return false;
    }
    return true;
}

/* Lower-cases the ASCII capitals among eight bytes at once: a byte gets 0x20 added when it is in
 * 'A'..'Z'; bytes >= 0x80 are left alone (their high bit excludes them). */
static inline uint64_t trl_ascii_lower8(uint64_t x)
{
    const uint64_t hi = 0x8080808080808080ULL;
    uint64_t t = x & 0x7f7f7f7f7f7f7f7fULL;
    uint64_t ge_a = t + 0x3f3f3f3f3f3f3f3fULL; /* high bit set when byte >= 'A' */
    uint64_t gt_z = t + 0x2525252525252525ULL; /* high bit set when byte > 'Z' */
    return x | ((ge_a & ~gt_z & ~x & hi) >> 2);
}

/* A fast hash of a short byte string, eight bytes at a time, for in-memory tables (group keys,
 * skeletons). Its values may change between versions: never store them. */
static inline uint64_t trl_hash_short(const void *data, size_t n)
{
    const uint8_t *p = data;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        h = (h ^ x) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
    }
    /* The last 0..7 bytes, read whole: copying them one by one into x stalls the load of x. */
    uint64_t x = 0;
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        x = a | (uint64_t)b << ((n - 4) * 8);
    } else if (n > 0) {
        x = (uint64_t)p[0] | (uint64_t)p[n / 2] << 8 | (uint64_t)p[n - 1] << 16;
    }
    h = (h ^ x) * 0x94d049bb133111ebULL;
    return h ^ (h >> 29);
}

/* write(2) until every byte is written (EINTR retried). 0 or a negative errno. */
int trl_write_all(int fd, const void *p, size_t len);
/* pread(2) until n bytes or end of file (EINTR retried). The bytes read, or a negative errno. */
long trl_pread_full(int fd, void *p, size_t n, uint64_t off);

/* True when [p, p+len) is a textual IPv4 or IPv6 address. */
bool trl_is_ip(const char *p, size_t len);

/* The offset of the first byte equal to a or b in p[from, len), or len: 16 bytes at a time on
 * SSE2, never reading past p + len. For the delimiters parsers and framers look for (a quote or a
 * backslash, a line feed or a NUL). */
static inline size_t trl_find_either(const char *p, size_t len, size_t from, char a, char b)
{
    size_t i = from;
#if defined(__SSE2__)
    const __m128i va = _mm_set1_epi8(a), vb = _mm_set1_epi8(b);
    for (; len - i >= 16; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        unsigned m =
            (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, va), _mm_cmpeq_epi8(v, vb)));
        if (m)
            return i + (unsigned)__builtin_ctz(m);
    }
#endif
    while (i < len && p[i] != a && p[i] != b)
        i++;
    return i;
}

#endif

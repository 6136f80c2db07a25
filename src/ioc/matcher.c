#include "ioc/matcher.h"
#include "core/strmap.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define NO_STR UINT32_MAX
/* Tables with fewer slots than this stay in cache anyway: no Bloom filter in front of them. */
#define FILTER_MIN_SLOTS 16384
/* Hits one event can report without repeating an indicator (a value seen in two fields). */
#define MAX_REPORTED 32

struct rec {
    uint32_t value; /* offsets into the string pool */
    uint32_t id;
    uint32_t source;
    uint32_t tags;
    uint32_t desc; /* NO_STR when there is none */
    uint32_t next; /* next record with the same key, plus one; 0 ends the chain */
    uint32_t aux;  /* IPv4 address, or index into the IPv6 address array */
    uint16_t value_len;
    uint8_t type;
    uint8_t confidence;
    uint8_t plen; /* prefix length of an address or network */
    int64_t valid_from, valid_until;
};

struct slot32 {
    uint32_t key; /* high half of the hash (strings) or the address (IPv4) */
    uint32_t rec; /* record index plus one; 0 marks an empty slot */
};

struct slot128 {
    uint64_t hi, lo;
    uint32_t rec;
    uint32_t pad;
};

/* A blocked Bloom filter: one 64-bit word per key, three bits in it, about 8 bits per key (a false
 * positive rate of about 4%). The word count need not be a power of two: a key's word is picked by
 * multiplying, so the filter is no larger than it needs to be and stays in cache longer. */
struct filter {
    uint64_t *words;
    uint64_t nwords;
};

struct tab32 {
    struct slot32 *slots;
    uint64_t mask;
    struct filter f;
};

struct tab128 {
    struct slot128 *slots;
    uint64_t mask;
    struct filter f;
};

struct trl_ioc_matcher {
    atomic_int refs;
    int64_t at_ns;
    struct rec *recs;
    size_t nrecs;
    char *pool;
    size_t pool_len;
    uint8_t (*v6)[16];
    size_t nv6;
    struct tab32 str; /* every type compared as a string */
    struct tab32 v4[33];
    struct tab128 v6t[129];
    uint64_t v4_lens;    /* bit L set: v4[L] has entries */
    uint64_t v4_always;  /* lengths every lookup probes: below 16, and 32 (single addresses) */
    uint32_t *v4_by16;   /* per /16: bit L - 16 set when v4[L] (16 <= L < 32) has an entry in it */
    uint64_t *v4_any16;  /* per /16, one bit: v4_by16 has something there (8 KiB, stays cached) */
    uint64_t *hot;       /* one block holding every filter's words, v4_by16 and v4_any16 */
    size_t hot_len;      /* its size in bytes */
    bool hot_mapped;     /* mapped on its own (huge pages), not from malloc */
    uint64_t v6_lens[3]; /* bit L of the 129-bit set */
    size_t by_type[TRL_IOC_TYPE__COUNT];
    uint32_t kinds;                   /* value kinds worth looking up (active_kinds) */
    uint8_t cand_field[TRL_F__COUNT]; /* 1: this known field carries a kind worth looking up */
    uint64_t dyn_lengths; /* bit n: a dynamic field of a kind worth looking up has an n-byte name */
    uint64_t domain_labels; /* bit n: some domain indicator has n labels (n < 63, else bit 63) */
    size_t memory;
};

struct trl_ioc_builder {
    struct trl_ioc_build_opts opts;
    struct rec *recs;
    size_t n, cap;
    char *pool;
    size_t pool_len, pool_cap;
    uint8_t (*v6)[16];
    size_t n6, cap6;
    struct trl_strmap *intern;
    size_t expired;
    bool full;
};

/* ---- Hashing ---- */

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* The last n (< 8) bytes as one word, read with loads that do not pass the end, and without going
 * through a byte-wise copy (which would stall the following word load). */
static inline uint64_t load_tail(const char *p, size_t n)
{
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        return a | (uint64_t)b << ((n - 4) * 8);
    }
    if (n == 0)
        return 0;
    return (uint64_t)(uint8_t)p[0] | (uint64_t)(uint8_t)p[n / 2] << (n / 2 * 8) |
           (uint64_t)(uint8_t)p[n - 1] << ((n - 1) * 8);
}

/* Types whose values compare without regard to case: their stored values are lower-case, and an
 * event's value is folded while it is hashed and compared, without copying it. */
static inline bool type_folds(unsigned type)
{
    return type == TRL_IOC_DOMAIN || type == TRL_IOC_MD5 || type == TRL_IOC_SHA1 ||
           type == TRL_IOC_SHA256 || type == TRL_IOC_EMAIL || type == TRL_IOC_FILENAME;
}

static inline uint64_t hash_str(unsigned type, const char *p, size_t n)
{
    const bool fold = type_folds(type);
    uint64_t h = (type + 1) * 0x9e3779b97f4a7c15ULL ^ n;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        if (fold)
            v = trl_ascii_lower8(v);
        h = (h ^ v) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    uint64_t v = load_tail(p, n);
    if (fold)
        v = trl_ascii_lower8(v);
    h = (h ^ v) * 0x94d049bb133111ebULL;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 32);
}

/* Compares a stored (lower-case) value with an event's value of the same length. */
static inline bool eq_fold(const char *stored, const char *v, size_t n)
{
    while (n >= 8) {
        uint64_t a, b;
        memcpy(&a, stored, 8);
        memcpy(&b, v, 8);
        if (a != trl_ascii_lower8(b))
            return false;
        stored += 8;
        v += 8;
        n -= 8;
    }
    return load_tail(stored, n) == trl_ascii_lower8(load_tail(v, n));
}

static inline uint64_t hash_v4(uint32_t a)
{
    return mix64((uint64_t)a * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL);
}

static inline uint64_t hash_v6(uint64_t hi, uint64_t lo)
{
    return mix64(hi ^ mix64(lo + 0x632be59bd9b4e019ULL));
}

static inline uint64_t filter_bits(uint64_t h)
{
    return (1ULL << (h & 63)) | (1ULL << ((h >> 6) & 63)) | (1ULL << ((h >> 12) & 63));
}

static inline bool filter_maybe(const struct filter *f, uint64_t h)
{
    if (!f->words)
        return true;
    uint64_t bits = filter_bits(h);
    return (f->words[((h >> 32) * f->nwords) >> 32] & bits) == bits;
}

/* Words of the filter in front of a table of nslots slots holding nkeys keys (0: none), rounded
 * up to whole cache lines. */
static size_t filter_words(size_t nslots, size_t nkeys)
{
    return nslots < FILTER_MIN_SLOTS ? 0 : (nkeys / 8 + 64 + 7) & ~(size_t)7;
}

static void filter_init(struct filter *f, size_t nslots, size_t nkeys, uint64_t **hot)
{
    size_t words = filter_words(nslots, nkeys);
    if (!words)
        return;
    f->words = *hot;
    f->nwords = words;
    *hot += words;
}

/* Every lookup reads a filter word (and an IPv4 lookup the per-/16 maps) at random: kept in one
 * block, mapped on its own and backed by huge pages where the system grants them on request, those
 * reads cost their cache miss and no TLB miss on top (a million indicators have about a megabyte
 * of filters: 250 small pages, more than the first-level TLB holds). A small block comes from
 * malloc. */
#define HUGE_PAGE ((size_t)2 << 20)

static void hot_alloc(struct trl_ioc_matcher *m, size_t words)
{
    m->hot_len = words * sizeof(uint64_t);
    if (m->hot_len < HUGE_PAGE / 4) {
        m->hot = words ? trl_xcalloc(words, sizeof(uint64_t)) : NULL;
        return;
    }
    size_t cap = (m->hot_len + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    /* A huge page more than needed, to cut an aligned block out of it. */
    char *p =
        mmap(NULL, cap + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        /* As trl_xmalloc() does. */
        fprintf(stderr, "trapline: out of memory allocating %zu bytes\n", cap);
        abort();
    }
    size_t head = (HUGE_PAGE - (uintptr_t)p % HUGE_PAGE) % HUGE_PAGE;
    if (head)
        munmap(p, head);
    munmap(p + head + cap, HUGE_PAGE - head);
    /* Advice only: without huge pages the block works the same. A new mapping reads as zeros. */
    (void)madvise(p + head, cap, MADV_HUGEPAGE);
    m->hot = (uint64_t *)(void *)(p + head);
    m->hot_len = cap;
    m->hot_mapped = true;
}

static void hot_free(struct trl_ioc_matcher *m)
{
    if (m->hot_mapped)
        munmap(m->hot, m->hot_len);
    else
        free(m->hot);
}

static inline void filter_add(struct filter *f, uint64_t h)
{
    if (f->words)
        f->words[((h >> 32) * f->nwords) >> 32] |= filter_bits(h);
}

static size_t table_size(size_t n)
{
    size_t s = 16;
    while (s < n * 2)
        s *= 2;
    return s;
}

/* ---- Builder ---- */

struct trl_ioc_builder *trl_ioc_builder_create(const struct trl_ioc_build_opts *opts)
{
    struct trl_ioc_builder *b = trl_xcalloc(1, sizeof(*b));
    if (opts)
        b->opts = *opts;
    b->intern = trl_strmap_create();
    b->pool_cap = 1 << 16;
    b->pool = trl_xmalloc(b->pool_cap);
    return b;
}

void trl_ioc_builder_destroy(struct trl_ioc_builder *b)
{
    if (!b)
        return;
    free(b->recs);
    free(b->pool);
    free(b->v6);
    trl_strmap_destroy(b->intern, NULL);
    free(b);
}

size_t trl_ioc_builder_count(const struct trl_ioc_builder *b)
{
    return b->n;
}

size_t trl_ioc_builder_expired(const struct trl_ioc_builder *b)
{
    return b->expired;
}

static uint32_t pool_add(struct trl_ioc_builder *b, const char *s, size_t len)
{
    if (b->pool_len + len + 1 > UINT32_MAX - 1) {
        b->full = true;
        return NO_STR;
    }
    if (b->pool_len + len + 1 > b->pool_cap) {
        while (b->pool_len + len + 1 > b->pool_cap)
            b->pool_cap *= 2;
        b->pool = trl_xrealloc(b->pool, b->pool_cap);
    }
    uint32_t off = (uint32_t)b->pool_len;
    memcpy(b->pool + off, s, len);
    b->pool[off + len] = '\0';
    b->pool_len += len + 1;
    return off;
}

/* Sources, tag lists and descriptions repeat across indicators: each is stored once. */
static uint32_t pool_intern(struct trl_ioc_builder *b, const char *s)
{
    size_t len = strlen(s);
    void *v = trl_strmap_get(b->intern, s, len);
    if (v)
        return (uint32_t)((uintptr_t)v - 1);
    uint32_t off = pool_add(b, s, len);
    if (off != NO_STR)
        trl_strmap_put(b->intern, s, len, (void *)((uintptr_t)off + 1));
    return off;
}

static void tags_to_json(const struct trl_ioc *ioc, char *out, size_t cap)
{
    size_t n = 0;
    out[n++] = '[';
    for (size_t i = 0; i < ioc->ntags; i++) {
        const char *t = ioc->tags[i];
        size_t need = strlen(t) * 6 + 4;
        if (n + need + 2 > cap)
            break;
        if (i)
            out[n++] = ',';
        out[n++] = '"';
        for (const unsigned char *p = (const unsigned char *)t; *p; p++) {
            if (*p == '"' || *p == '\\') {
                out[n++] = '\\';
                out[n++] = (char)*p;
            } else if (*p < 0x20) {
                n += (size_t)snprintf(out + n, cap - n, "\\u%04x", *p);
            } else {
                out[n++] = (char)*p;
            }
        }
        out[n++] = '"';
    }
    out[n++] = ']';
    out[n] = '\0';
}

/* Parses a normalised address or network into the record. */
static bool parse_ip_value(struct trl_ioc_builder *b, struct rec *r, const char *v)
{
    char buf[INET6_ADDRSTRLEN + 8];
    size_t len = strlen(v);
    if (len >= sizeof(buf))
        return false;
    memcpy(buf, v, len + 1);
    unsigned plen = 0;
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = '\0';
        uint64_t bits;
        if (!trl_parse_u64(slash + 1, strlen(slash + 1), &bits) || bits == 0 || bits > 128)
            return false;
        plen = (unsigned)bits;
    }
    unsigned char a[16];
    if (inet_pton(AF_INET, buf, a) == 1) {
        if (plen > 32)
            return false;
        r->aux = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
        r->plen = (uint8_t)(plen ? plen : 32);
        return r->type == TRL_IOC_IPV4 || r->type == TRL_IOC_CIDR;
    }
    if (inet_pton(AF_INET6, buf, a) != 1)
        return false;
    if (b->n6 == b->cap6) {
        b->cap6 = b->cap6 ? b->cap6 * 2 : 64;
        b->v6 = trl_xrealloc(b->v6, b->cap6 * 16);
    }
    memcpy(b->v6[b->n6], a, 16);
    r->aux = (uint32_t)b->n6++;
    r->plen = (uint8_t)(plen ? plen : 128);
    return r->type == TRL_IOC_IPV6 || r->type == TRL_IOC_CIDR;
}

int trl_ioc_builder_add(struct trl_ioc_builder *b, const struct trl_ioc *ioc, const char *tags_json)
{
    if (ioc->type <= TRL_IOC_NONE || ioc->type >= TRL_IOC_TYPE__COUNT || !ioc->value)
        return TRL_EINVAL;
    size_t vlen = strlen(ioc->value);
    if (vlen == 0 || vlen > TRL_IOC_VALUE_MAX)
        return TRL_EINVAL;
    if (b->opts.now_ns && ioc->valid_until_ns && ioc->valid_until_ns <= b->opts.now_ns) {
        b->expired++;
        return 0;
    }
    if (b->n >= UINT32_MAX - 1 || b->full)
        return TRL_EFULL;
    struct rec r = {
        .type = (uint8_t)ioc->type,
        .confidence = (uint8_t)(ioc->confidence < 0     ? 0
                                : ioc->confidence > 100 ? 100
                                                        : ioc->confidence),
        .valid_from = ioc->valid_from_ns,
        .valid_until = ioc->valid_until_ns,
        .value_len = (uint16_t)vlen,
        .desc = NO_STR,
    };
    bool ip = ioc->type == TRL_IOC_IPV4 || ioc->type == TRL_IOC_IPV6 || ioc->type == TRL_IOC_CIDR;
    if (ip && !parse_ip_value(b, &r, ioc->value))
        return TRL_EINVAL;
    char derived[TRL_IOC_DERIVED_ID_SIZE];
    const char *id = ioc->id;
    if (!id || !*id) {
        trl_ioc_derive_id(ioc->type, ioc->source, ioc->value, derived);
        id = derived;
    }
    char tagbuf[4096];
    if (!tags_json) {
        tags_to_json(ioc, tagbuf, sizeof(tagbuf));
        tags_json = tagbuf;
    }
    r.value = pool_add(b, ioc->value, vlen);
    r.id = pool_add(b, id, strlen(id));
    r.source = pool_intern(b, ioc->source ? ioc->source : "");
    r.tags = pool_intern(b, tags_json);
    if (ioc->description && *ioc->description)
        r.desc = pool_intern(b, ioc->description);
    if (b->full)
        return TRL_EFULL;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 1024;
        b->recs = trl_xrealloc(b->recs, b->cap * sizeof(*b->recs));
    }
    b->recs[b->n++] = r;
    return 0;
}

static inline uint32_t v4_mask(unsigned plen)
{
    return plen >= 32 ? UINT32_MAX : plen == 0 ? 0 : ~(UINT32_MAX >> plen);
}

static inline void v6_split(const uint8_t a[16], uint64_t *hi, uint64_t *lo)
{
    uint64_t h = 0, l = 0;
    for (int i = 0; i < 8; i++) {
        h = h << 8 | a[i];
        l = l << 8 | a[8 + i];
    }
    *hi = h;
    *lo = l;
}

static inline void v6_mask(unsigned plen, uint64_t *hi, uint64_t *lo)
{
    uint64_t mh = plen >= 64 ? UINT64_MAX : plen == 0 ? 0 : ~(UINT64_MAX >> plen);
    uint64_t ml = plen >= 128 ? UINT64_MAX : plen <= 64 ? 0 : ~(UINT64_MAX >> (plen - 64));
    *hi &= mh;
    *lo &= ml;
}

static void insert_str(struct trl_ioc_matcher *m, uint32_t idx)
{
    struct rec *r = &m->recs[idx];
    uint64_t h = hash_str(r->type, m->pool + r->value, r->value_len);
    filter_add(&m->str.f, h);
    uint32_t key = (uint32_t)(h >> 32);
    for (uint64_t i = h & m->str.mask;; i = (i + 1) & m->str.mask) {
        struct slot32 *s = &m->str.slots[i];
        if (!s->rec) {
            s->key = key;
            s->rec = idx + 1;
            return;
        }
        struct rec *o = &m->recs[s->rec - 1];
        if (s->key == key && o->type == r->type && o->value_len == r->value_len &&
            memcmp(m->pool + o->value, m->pool + r->value, r->value_len) == 0) {
            r->next = o->next;
            o->next = idx + 1;
            return;
        }
    }
}

static void insert_v4(struct trl_ioc_matcher *m, uint32_t idx)
{
    struct rec *r = &m->recs[idx];
    struct tab32 *t = &m->v4[r->plen];
    uint32_t a = r->aux & v4_mask(r->plen);
    if (r->plen >= 16 && r->plen < 32) {
        m->v4_by16[a >> 16] |= 1u << (r->plen - 16);
        m->v4_any16[a >> 22] |= 1ULL << (a >> 16 & 63);
    }
    uint64_t h = hash_v4(a);
    filter_add(&t->f, h);
    for (uint64_t i = h & t->mask;; i = (i + 1) & t->mask) {
        struct slot32 *s = &t->slots[i];
        if (!s->rec) {
            s->key = a;
            s->rec = idx + 1;
            return;
        }
        if (s->key == a) {
            struct rec *o = &m->recs[s->rec - 1];
            r->next = o->next;
            o->next = idx + 1;
            return;
        }
    }
}

static void insert_v6(struct trl_ioc_matcher *m, uint32_t idx)
{
    struct rec *r = &m->recs[idx];
    struct tab128 *t = &m->v6t[r->plen];
    uint64_t hi, lo;
    v6_split(m->v6[r->aux], &hi, &lo);
    v6_mask(r->plen, &hi, &lo);
    uint64_t h = hash_v6(hi, lo);
    filter_add(&t->f, h);
    for (uint64_t i = h & t->mask;; i = (i + 1) & t->mask) {
        struct slot128 *s = &t->slots[i];
        if (!s->rec) {
            s->hi = hi;
            s->lo = lo;
            s->rec = idx + 1;
            return;
        }
        if (s->hi == hi && s->lo == lo) {
            struct rec *o = &m->recs[s->rec - 1];
            r->next = o->next;
            o->next = idx + 1;
            return;
        }
    }
}

static bool is_v6_rec(const struct trl_ioc_matcher *m, const struct rec *r)
{
    if (r->type == TRL_IOC_IPV6)
        return true;
    return r->type == TRL_IOC_CIDR && memchr(m->pool + r->value, ':', r->value_len) != NULL;
}

static uint32_t active_kinds(const struct trl_ioc_matcher *m);
static void set_candidates(struct trl_ioc_matcher *m);

struct trl_ioc_matcher *trl_ioc_builder_finish(struct trl_ioc_builder *b)
{
    struct trl_ioc_matcher *m = trl_xcalloc(1, sizeof(*m));
    atomic_init(&m->refs, 1);
    m->at_ns = b->opts.at_ns;
    m->recs = b->recs;
    m->nrecs = b->n;
    m->pool = b->pool;
    m->pool_len = b->pool_len;
    m->v6 = b->v6;
    m->nv6 = b->n6;
    b->recs = NULL;
    b->pool = NULL;
    b->v6 = NULL;
    trl_ioc_builder_destroy(b);

    size_t nstr = 0, n4[33] = {0}, n6[129] = {0};
    for (size_t i = 0; i < m->nrecs; i++) {
        struct rec *r = &m->recs[i];
        m->by_type[r->type]++;
        if (r->type == TRL_IOC_IPV4 || r->type == TRL_IOC_IPV6 || r->type == TRL_IOC_CIDR) {
            if (is_v6_rec(m, r))
                n6[r->plen]++;
            else
                n4[r->plen]++;
        } else {
            nstr++;
            if (r->type == TRL_IOC_DOMAIN) {
                unsigned labels = 1;
                for (const char *p = m->pool + r->value; *p; p++)
                    labels += *p == '.';
                m->domain_labels |= 1ULL << (labels < 63 ? labels : 63);
            }
        }
    }
    m->memory = m->nrecs * sizeof(struct rec) + m->pool_len + m->nv6 * 16;
    size_t hot_words = nstr ? filter_words(table_size(nstr), nstr) : 0;
    bool by16 = false;
    for (unsigned l = 1; l <= 32; l++) {
        hot_words += n4[l] ? filter_words(table_size(n4[l]), n4[l]) : 0;
        by16 |= l >= 16 && l < 32 && n4[l];
    }
    for (unsigned l = 1; l <= 128; l++)
        hot_words += n6[l] ? filter_words(table_size(n6[l]), n6[l]) : 0;
    if (by16)
        hot_words += 65536 * sizeof(uint32_t) / 8 + 65536 / 64;
    hot_alloc(m, hot_words);
    m->memory += m->hot_len;
    uint64_t *hot = m->hot;
    if (nstr) {
        size_t s = table_size(nstr);
        m->str.slots = trl_xcalloc(s, sizeof(struct slot32));
        m->str.mask = s - 1;
        m->memory += s * sizeof(struct slot32);
        filter_init(&m->str.f, s, nstr, &hot);
    }
    for (unsigned l = 1; l <= 32; l++) {
        if (!n4[l])
            continue;
        size_t s = table_size(n4[l]);
        m->v4[l].slots = trl_xcalloc(s, sizeof(struct slot32));
        m->v4[l].mask = s - 1;
        m->memory += s * sizeof(struct slot32);
        filter_init(&m->v4[l].f, s, n4[l], &hot);
        m->v4_lens |= 1ULL << l;
    }
    for (unsigned l = 1; l <= 128; l++) {
        if (!n6[l])
            continue;
        size_t s = table_size(n6[l]);
        m->v6t[l].slots = trl_xcalloc(s, sizeof(struct slot128));
        m->v6t[l].mask = s - 1;
        m->memory += s * sizeof(struct slot128);
        filter_init(&m->v6t[l].f, s, n6[l], &hot);
        m->v6_lens[l / 64] |= 1ULL << (l % 64);
    }
    m->kinds = active_kinds(m);
    set_candidates(m);
    m->v4_always = m->v4_lens & (0xfffeULL | 1ULL << 32);
    if (by16) {
        /* Most /16 blocks hold no network: these maps let a lookup skip the prefix lengths that
         * have nothing there, usually with one read of a small bitmap. */
        m->v4_by16 = (uint32_t *)(void *)hot;
        hot += 65536 * sizeof(uint32_t) / 8;
        m->v4_any16 = hot;
    }
    for (size_t i = 0; i < m->nrecs; i++) {
        struct rec *r = &m->recs[i];
        if (r->type == TRL_IOC_IPV4 || r->type == TRL_IOC_IPV6 || r->type == TRL_IOC_CIDR) {
            if (is_v6_rec(m, r))
                insert_v6(m, (uint32_t)i);
            else
                insert_v4(m, (uint32_t)i);
        } else {
            insert_str(m, (uint32_t)i);
        }
    }
    return m;
}

struct trl_ioc_matcher *trl_ioc_matcher_ref(struct trl_ioc_matcher *m)
{
    if (m)
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void trl_ioc_matcher_unref(struct trl_ioc_matcher *m)
{
    if (!m || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
        return;
    hot_free(m);
    free(m->str.slots);
    for (unsigned l = 0; l <= 32; l++)
        free(m->v4[l].slots);
    for (unsigned l = 0; l <= 128; l++)
        free(m->v6t[l].slots);
    free(m->recs);
    free(m->pool);
    free(m->v6);
    free(m);
}

size_t trl_ioc_matcher_count(const struct trl_ioc_matcher *m)
{
    return m ? m->nrecs : 0;
}

size_t trl_ioc_matcher_memory(const struct trl_ioc_matcher *m)
{
    return m ? m->memory + sizeof(*m) : 0;
}

/* ---- Matching ---- */

struct mctx {
    const struct trl_ioc_matcher *m;
    int64_t t;
    trl_ioc_hit_fn fn;
    void *ud;
    int hits;
    bool stop;
    int nreported;
    uint32_t reported[MAX_REPORTED];
};

static void report(struct mctx *c, uint32_t rec1, const char *field, const char *v, size_t len)
{
    const struct trl_ioc_matcher *m = c->m;
    for (; rec1 && !c->stop; rec1 = m->recs[rec1 - 1].next) {
        const struct rec *r = &m->recs[rec1 - 1];
        if (!trl_ioc_valid_at(r->valid_from, r->valid_until, c->t))
            continue;
        bool seen = false;
        for (int i = 0; i < c->nreported && !seen; i++)
            seen = c->reported[i] == rec1;
        if (seen)
            continue;
        if (c->nreported < MAX_REPORTED)
            c->reported[c->nreported++] = rec1;
        struct trl_ioc_hit hit = {
            .type = (enum trl_ioc_type)r->type,
            .value = m->pool + r->value,
            .id = m->pool + r->id,
            .source = m->pool + r->source,
            .tags_json = m->pool + r->tags,
            .description = r->desc == NO_STR ? NULL : m->pool + r->desc,
            .confidence = r->confidence,
            .valid_from_ns = r->valid_from,
            .valid_until_ns = r->valid_until,
            .field = field,
            .matched = v,
            .matched_len = len,
        };
        c->hits++;
        if (c->fn && c->fn(c->ud, &hit))
            c->stop = true;
    }
}

static void lookup_str(struct mctx *c, enum trl_ioc_type type, const char *key, size_t klen,
                       const char *field, const char *v, size_t vlen)
{
    const struct trl_ioc_matcher *m = c->m;
    if (!m->by_type[type] || klen == 0)
        return;
    uint64_t h = hash_str(type, key, klen);
    if (!filter_maybe(&m->str.f, h))
        return;
    uint32_t k = (uint32_t)(h >> 32);
    for (uint64_t i = h & m->str.mask;; i = (i + 1) & m->str.mask) {
        const struct slot32 *s = &m->str.slots[i];
        if (!s->rec)
            return;
        if (s->key != k)
            continue;
        const struct rec *r = &m->recs[s->rec - 1];
        if (r->type == type && r->value_len == klen &&
            (type_folds(type) ? eq_fold(m->pool + r->value, key, klen)
                              : memcmp(m->pool + r->value, key, klen) == 0)) {
            report(c, s->rec, field, v, vlen);
            return;
        }
    }
}

static inline char lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
}

/* Dotted-quad IPv4 only: four decimal parts of 1-3 digits, no leading zeros, each at most 255.
 * One pass over the bytes: every IP field of every event goes through here. */
static bool parse_v4(const char *p, size_t len, uint32_t *out)
{
    if (len < 7 || len > 15)
        return false;
    const unsigned char *s = (const unsigned char *)p, *e = s + len;
    uint32_t addr = 0;
    for (int part = 0; part < 4; part++) {
        if (part) {
            if (s >= e || *s != '.')
                return false;
            s++;
        }
        if (s >= e || (unsigned)(*s - '0') > 9)
            return false;
        unsigned v = (unsigned)(*s++ - '0');
        if (s < e && (unsigned)(*s - '0') <= 9) {
            if (v == 0)
                return false; /* a leading zero */
            v = v * 10 + (unsigned)(*s++ - '0');
            if (s < e && (unsigned)(*s - '0') <= 9) {
                v = v * 10 + (unsigned)(*s++ - '0');
                if (v > 255)
                    return false;
            }
        }
        addr = addr << 8 | v;
    }
    if (s != e)
        return false;
    *out = addr;
    return true;
}

static void match_v4(struct mctx *c, uint32_t a, const char *field, const char *v, size_t len)
{
    const struct trl_ioc_matcher *m = c->m;
    uint64_t lens = m->v4_always;
    if (lens >> 32) {
        /* The single-address filter is the likely miss: start reading it right away. */
        const struct filter *f = &m->v4[32].f;
        if (f->words)
            __builtin_prefetch(&f->words[((hash_v4(a) >> 32) * f->nwords) >> 32]);
    }
    if (m->v4_any16 && (m->v4_any16[a >> 22] >> (a >> 16 & 63) & 1))
        lens |= (uint64_t)m->v4_by16[a >> 16] << 16;
    while (lens && !c->stop) {
        unsigned l = 63 - (unsigned)__builtin_clzll(lens);
        lens &= ~(1ULL << l);
        const struct tab32 *t = &m->v4[l];
        uint32_t key = a & v4_mask(l);
        uint64_t h = hash_v4(key);
        if (!filter_maybe(&t->f, h))
            continue;
        for (uint64_t i = h & t->mask;; i = (i + 1) & t->mask) {
            const struct slot32 *s = &t->slots[i];
            if (!s->rec)
                break;
            if (s->key == key) {
                report(c, s->rec, field, v, len);
                break;
            }
        }
    }
}

static void match_v6(struct mctx *c, const uint8_t a[16], const char *field, const char *v,
                     size_t len)
{
    const struct trl_ioc_matcher *m = c->m;
    uint64_t hi0, lo0;
    v6_split(a, &hi0, &lo0);
    for (int w = 2; w >= 0 && !c->stop; w--) {
        for (uint64_t lens = m->v6_lens[w]; lens && !c->stop;) {
            unsigned b = 63 - (unsigned)__builtin_clzll(lens);
            lens &= ~(1ULL << b);
            unsigned l = (unsigned)w * 64 + b;
            if (l == 0 || l > 128)
                continue;
            const struct tab128 *t = &m->v6t[l];
            uint64_t hi = hi0, lo = lo0;
            v6_mask(l, &hi, &lo);
            uint64_t h = hash_v6(hi, lo);
            if (!filter_maybe(&t->f, h))
                continue;
            for (uint64_t i = h & t->mask;; i = (i + 1) & t->mask) {
                const struct slot128 *s = &t->slots[i];
                if (!s->rec)
                    break;
                if (s->hi == hi && s->lo == lo) {
                    report(c, s->rec, field, v, len);
                    break;
                }
            }
        }
    }
}

static void match_ip(struct mctx *c, const char *v, size_t len, const char *field)
{
    const struct trl_ioc_matcher *m = c->m;
    if (!m->by_type[TRL_IOC_IPV4] && !m->by_type[TRL_IOC_IPV6] && !m->by_type[TRL_IOC_CIDR])
        return;
    uint32_t a4;
    if (parse_v4(v, len, &a4)) {
        match_v4(c, a4, field, v, len);
        return;
    }
    char buf[INET6_ADDRSTRLEN + 1];
    const char *p = v;
    size_t n = len;
    if (n >= 2 && p[0] == '[' && p[n - 1] == ']') {
        p++;
        n -= 2;
    }
    const char *zone = memchr(p, '%', n);
    if (zone)
        n = (size_t)(zone - p);
    if (n == 0 || n >= sizeof(buf) || !memchr(p, ':', n))
        return;
    memcpy(buf, p, n);
    buf[n] = '\0';
    uint8_t a6[16];
    if (inet_pton(AF_INET6, buf, a6) != 1)
        return;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a6, mapped, 12) == 0) {
        match_v4(c,
                 (uint32_t)a6[12] << 24 | (uint32_t)a6[13] << 16 | (uint32_t)a6[14] << 8 | a6[15],
                 field, v, len);
        return;
    }
    match_v6(c, a6, field, v, len);
}

static void match_domain(struct mctx *c, const char *v, size_t len, const char *field)
{
    const uint64_t want = c->m->domain_labels;
    if (!want)
        return;
    size_t n = len;
    if (n && v[n - 1] == '.')
        n--;
    if (n == 0 || n > 253)
        return;
    unsigned labels = 1;
    for (size_t i = 0; i < n; i++)
        labels += v[i] == '.';
    /* The name itself, then each parent: a.b.evil.example, b.evil.example, evil.example, example;
     * only those with as many labels as some domain indicator has. */
    for (size_t s = 0; s < n && !c->stop; labels--) {
        if (want >> (labels < 63 ? labels : 63) & 1)
            lookup_str(c, TRL_IOC_DOMAIN, v + s, n - s, field, v, len);
        const char *dot = memchr(v + s, '.', n - s);
        if (!dot)
            break;
        s = (size_t)(dot - v) + 1;
    }
}

/* The host of an absolute URL: [s, e) of buf, without user info and port. */
static bool url_host(const char *u, size_t len, size_t *s, size_t *e)
{
    const char *sep = trl_memstr(u, len, "://");
    if (!sep)
        return false;
    size_t h = (size_t)(sep - u) + 3, end = h;
    while (end < len && u[end] != '/' && u[end] != '?' && u[end] != '#')
        end++;
    const char *at = memchr(u + h, '@', end - h);
    if (at)
        h = (size_t)(at - u) + 1;
    size_t he = end;
    if (h < end && u[h] == '[') {
        const char *close = memchr(u + h, ']', end - h);
        if (!close)
            return false;
        *s = h + 1;
        *e = (size_t)(close - u);
        return true;
    }
    const char *colon = memchr(u + h, ':', end - h);
    if (colon)
        he = (size_t)(colon - u);
    *s = h;
    *e = he;
    return he > h;
}

static void match_url(struct mctx *c, const char *v, size_t len, const char *field)
{
    const struct trl_ioc_matcher *m = c->m;
    if (m->by_type[TRL_IOC_URL] && len <= TRL_IOC_VALUE_MAX) {
        const char *sep = trl_memstr(v, len, "://");
        if (sep) {
            char buf[TRL_IOC_VALUE_MAX + 2];
            size_t host = (size_t)(sep - v) + 3, end = host;
            while (end < len && v[end] != '/' && v[end] != '?' && v[end] != '#')
                end++;
            for (size_t i = 0; i < end; i++)
                buf[i] = lower(v[i]);
            memcpy(buf + end, v + end, len - end);
            size_t n = len;
            if (end == len)
                buf[n++] = '/';
            lookup_str(c, TRL_IOC_URL, buf, n, field, v, len);
        }
    }
    size_t hs, he;
    if (!c->stop && url_host(v, len, &hs, &he)) {
        uint32_t a4;
        if (parse_v4(v + hs, he - hs, &a4) || memchr(v + hs, ':', he - hs))
            match_ip(c, v + hs, he - hs, field);
        else
            match_domain(c, v + hs, he - hs, field);
    }
}

/* A path-only URL (an access log's request target) on a known host: both schemes are tried. */
static void match_relative_url(struct mctx *c, const char *path, size_t plen, const char *host,
                               size_t hlen, const char *field)
{
    static const char *const schemes[] = {"http://", "https://"};
    if (!c->m->by_type[TRL_IOC_URL] || hlen == 0 || hlen > 255 ||
        plen + hlen + 8 > TRL_IOC_VALUE_MAX)
        return;
    char buf[TRL_IOC_VALUE_MAX + 2];
    for (size_t k = 0; k < 2 && !c->stop; k++) {
        size_t sl = strlen(schemes[k]);
        memcpy(buf, schemes[k], sl);
        for (size_t i = 0; i < hlen; i++)
            buf[sl + i] = lower(host[i]);
        memcpy(buf + sl + hlen, path, plen);
        lookup_str(c, TRL_IOC_URL, buf, sl + hlen + plen, field, path, plen);
    }
}

static void match_hash(struct mctx *c, const char *v, size_t len, const char *field)
{
    enum trl_ioc_type t = len == 32   ? TRL_IOC_MD5
                          : len == 40 ? TRL_IOC_SHA1
                          : len == 64 ? TRL_IOC_SHA256
                                      : TRL_IOC_NONE;
    if (t != TRL_IOC_NONE && c->m->by_type[t])
        lookup_str(c, t, v, len, field, v, len);
}

static void match_email(struct mctx *c, const char *v, size_t len, const char *field)
{
    if (!c->m->by_type[TRL_IOC_EMAIL])
        return;
    const char *lt = memchr(v, '<', len);
    const char *p = v;
    size_t n = len;
    if (lt) { /* "Name <addr@example>" */
        const char *gt = memchr(lt, '>', len - (size_t)(lt - v));
        if (!gt)
            return;
        p = lt + 1;
        n = (size_t)(gt - p);
    }
    lookup_str(c, TRL_IOC_EMAIL, p, n, field, v, len);
}

static void match_filename(struct mctx *c, const char *v, size_t len, const char *field)
{
    if (!c->m->by_type[TRL_IOC_FILENAME] || len == 0)
        return;
    size_t base = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] == '/' || v[i] == '\\')
            base = i + 1;
    }
    lookup_str(c, TRL_IOC_FILENAME, v, len, field, v, len);
    if (base && base < len && !c->stop)
        lookup_str(c, TRL_IOC_FILENAME, v + base, len - base, field, v, len);
}

/* What each known field carries, as a value kind plus one (0: nothing the matcher looks at). */
static const uint8_t field_kind[TRL_F__COUNT] = {
    [TRL_F_SOURCE_IP] = 1 + TRL_IOC_V_IP,
    [TRL_F_DESTINATION_IP] = 1 + TRL_IOC_V_IP,
    [TRL_F_HOST_IP] = 1 + TRL_IOC_V_IP,
    [TRL_F_RELATED_IP] = 1 + TRL_IOC_V_IP,
    [TRL_F_URL_ORIGINAL] = 1 + TRL_IOC_V_URL,
    [TRL_F_URL_DOMAIN] = 1 + TRL_IOC_V_DOMAIN,
    [TRL_F_DESTINATION_DOMAIN] = 1 + TRL_IOC_V_DOMAIN,
    [TRL_F_SOURCE_DOMAIN] = 1 + TRL_IOC_V_DOMAIN,
    [TRL_F_FILE_HASH_SHA256] = 1 + TRL_IOC_V_HASH,
    [TRL_F_PROCESS_HASH_SHA256] = 1 + TRL_IOC_V_HASH,
    [TRL_F_RELATED_HASH] = 1 + TRL_IOC_V_HASH,
    [TRL_F_FILE_NAME] = 1 + TRL_IOC_V_FILENAME,
    [TRL_F_FILE_PATH] = 1 + TRL_IOC_V_FILENAME,
    [TRL_F_USER_AGENT_ORIGINAL] = 1 + TRL_IOC_V_USER_AGENT,
};

/* Dynamic (not enumerated) ECS fields that carry indicators. */
#define DYN(name, kind)                                                                            \
    {                                                                                              \
        name, sizeof(name) - 1, kind                                                               \
    }
static const struct {
    const char *name;
    size_t len;
    enum trl_ioc_value_kind kind;
} dyn_fields[] = {
    DYN("client.ip", TRL_IOC_V_IP),
    DYN("server.ip", TRL_IOC_V_IP),
    DYN("dns.question.name", TRL_IOC_V_DOMAIN),
    DYN("client.domain", TRL_IOC_V_DOMAIN),
    DYN("server.domain", TRL_IOC_V_DOMAIN),
    DYN("url.full", TRL_IOC_V_URL),
    DYN("file.hash.md5", TRL_IOC_V_HASH),
    DYN("file.hash.sha1", TRL_IOC_V_HASH),
    DYN("process.hash.md5", TRL_IOC_V_HASH),
    DYN("process.hash.sha1", TRL_IOC_V_HASH),
    DYN("email.from.address", TRL_IOC_V_EMAIL),
    DYN("email.to.address", TRL_IOC_V_EMAIL),
    DYN("email.sender.address", TRL_IOC_V_EMAIL),
    DYN("email.reply_to.address", TRL_IOC_V_EMAIL),
};
#undef DYN

/* The value kinds worth looking up in m (bit per enum trl_ioc_value_kind). */
static uint32_t active_kinds(const struct trl_ioc_matcher *m)
{
    const size_t *n = m->by_type;
    bool ip = n[TRL_IOC_IPV4] || n[TRL_IOC_IPV6] || n[TRL_IOC_CIDR];
    uint32_t k = 0;
    if (ip)
        k |= 1u << TRL_IOC_V_IP;
    if (n[TRL_IOC_DOMAIN])
        k |= 1u << TRL_IOC_V_DOMAIN;
    if (n[TRL_IOC_URL] || n[TRL_IOC_DOMAIN] || ip) /* a URL's host is checked too */
        k |= 1u << TRL_IOC_V_URL;
    if (n[TRL_IOC_MD5] || n[TRL_IOC_SHA1] || n[TRL_IOC_SHA256])
        k |= 1u << TRL_IOC_V_HASH;
    if (n[TRL_IOC_EMAIL])
        k |= 1u << TRL_IOC_V_EMAIL;
    if (n[TRL_IOC_FILENAME])
        k |= 1u << TRL_IOC_V_FILENAME;
    if (n[TRL_IOC_USER_AGENT])
        k |= 1u << TRL_IOC_V_USER_AGENT;
    return k;
}

/* Which fields scan_event() keeps as candidates: known fields by number, and dynamic fields by the
 * length of their name (bit n of dyn_lengths: some dynamic field of an active kind has an n-byte
 * name), so that most dynamic fields (winlog.event_data.*, labels.*) are ruled out at once. */
static void set_candidates(struct trl_ioc_matcher *m)
{
    for (size_t f = 1; f < TRL_F__COUNT; f++)
        m->cand_field[f] = field_kind[f] && (m->kinds >> (field_kind[f] - 1) & 1);
    /* The host of a path-only url.original, for URL indicators (see match_relative_url()). */
    if (m->kinds >> TRL_IOC_V_URL & 1)
        m->cand_field[TRL_F_URL_DOMAIN] = m->cand_field[TRL_F_DESTINATION_DOMAIN] = 1;
    for (size_t k = 0; k < TRL_ARRAY_LEN(dyn_fields); k++) {
        if (m->kinds >> dyn_fields[k].kind & 1 && dyn_fields[k].len < 64)
            m->dyn_lengths |= 1ULL << dyn_fields[k].len;
    }
}

static void match_field(struct mctx *c, enum trl_ioc_value_kind kind, const char *v, size_t len,
                        const char *field)
{
    switch (kind) {
    case TRL_IOC_V_IP:
        match_ip(c, v, len, field);
        break;
    case TRL_IOC_V_DOMAIN:
        match_domain(c, v, len, field);
        break;
    case TRL_IOC_V_URL:
        match_url(c, v, len, field);
        break;
    case TRL_IOC_V_HASH:
        match_hash(c, v, len, field);
        break;
    case TRL_IOC_V_EMAIL:
        match_email(c, v, len, field);
        break;
    case TRL_IOC_V_FILENAME:
        match_filename(c, v, len, field);
        break;
    case TRL_IOC_V_USER_AGENT:
        lookup_str(c, TRL_IOC_USER_AGENT, v, len, field, v, len);
        break;
    }
}

int trl_ioc_match_value(const struct trl_ioc_matcher *m, enum trl_ioc_value_kind kind,
                        const char *v, size_t len, const char *field, int64_t t, trl_ioc_hit_fn fn,
                        void *ud)
{
    if (!m || !m->nrecs || !v)
        return 0;
    struct mctx c = {.m = m, .t = m->at_ns ? m->at_ns : t, .fn = fn, .ud = ud};
    match_field(&c, kind, v, len, field);
    return c.hits;
}

/* Values already looked up in this event: related.ip repeats source.ip, related.hash repeats
 * file.hash.*; each distinct value is looked up once. */
#define MAX_SEEN 16
struct seen {
    const char *v;
    uint32_t len;
    uint32_t kind;
};

static bool seen_before(struct seen *s, int *n, uint32_t kind, const char *v, uint32_t len)
{
    for (int i = 0; i < *n; i++) {
        if (s[i].len == len && s[i].kind == kind && memcmp(s[i].v, v, len) == 0)
            return true;
    }
    if (*n < MAX_SEEN)
        s[(*n)++] = (struct seen){v, len, kind};
    return false;
}

/* The value kind of a field that may carry an indicator, or -1; *field gets its ECS name (NULL
 * for a known field: looked up only when needed). */
static int kv_kind(const struct trl_kv *kv, const char **field)
{
    *field = NULL;
    if (kv->field) {
        if (kv->field >= TRL_F__COUNT || !field_kind[kv->field])
            return -1;
        return field_kind[kv->field] - 1;
    }
    for (size_t k = 0; k < TRL_ARRAY_LEN(dyn_fields); k++) {
        if (dyn_fields[k].len == kv->name_len &&
            memcmp(dyn_fields[k].name, kv->name, kv->name_len) == 0) {
            *field = dyn_fields[k].name;
            return (int)dyn_fields[k].kind;
        }
    }
    return -1;
}

/* What matching needs to know of one candidate field, worked out before it is matched: its kind
 * (-1: nothing to look up), its ECS name for a dynamic field, and an IPv4 address already parsed
 * (the address is needed early, to fetch its filter word ahead). */
struct cand {
    const struct trl_kv *kv;
    const char *name;
    int8_t kind;
    bool is_v4;
    bool host; /* url.domain or destination.domain: the host of a path-only url.original */
    uint32_t v4;
};

/* Looks at one candidate field. */
static void match_cand(struct mctx *c, const struct cand *cd, struct seen *seen, int *nseen,
                       const struct trl_kv **rel_url, const struct trl_kv **host)
{
    const struct trl_kv *kv = cd->kv;
    if (cd->host && (kv->field == TRL_F_URL_DOMAIN || !*host))
        *host = kv;
    if (cd->kind < 0)
        return;
    if (kv->field == TRL_F_URL_ORIGINAL && kv->val[0] == '/') {
        *rel_url = kv; /* a path: its host may come in a later field */
        return;
    }
    if (seen_before(seen, nseen, (uint32_t)cd->kind, kv->val, kv->val_len))
        return;
    const char *field = cd->name ? cd->name : trl_field_info((enum trl_field)kv->field)->name;
    if (cd->is_v4)
        match_v4(c, cd->v4, field, kv->val, kv->val_len);
    else
        match_field(c, (enum trl_ioc_value_kind)cd->kind, kv->val, kv->val_len, field);
}

/* Starts reading the word a lookup of (type, p) will read first: its filter word, or without a
 * filter its first slot. */
static inline void prefetch_str(const struct trl_ioc_matcher *m, unsigned type, const char *p,
                                size_t n)
{
    if (!m->by_type[type] || n == 0)
        return;
    uint64_t h = hash_str(type, p, n);
    const struct filter *f = &m->str.f;
    if (f->words)
        __builtin_prefetch(&f->words[((h >> 32) * f->nwords) >> 32]);
    else
        __builtin_prefetch(&m->str.slots[h & m->str.mask]);
}

/* Starts reading the filter words of the names match_domain() will look up: the name and those
 * parents with as many labels as some domain indicator has (not the name alone: in a DNS query
 * for www.cdn.example.org, the names looked up are often only its parents). */
static void prefetch_domain(const struct trl_ioc_matcher *m, const char *v, size_t n)
{
    const uint64_t want = m->domain_labels;
    if (n && v[n - 1] == '.')
        n--;
    if (!want || n == 0 || n > 253)
        return;
    unsigned labels = 1;
    for (size_t i = 0; i < n; i++)
        labels += v[i] == '.';
    for (size_t s = 0; s < n; labels--) {
        if (want >> (labels < 63 ? labels : 63) & 1)
            prefetch_str(m, TRL_IOC_DOMAIN, v + s, n - s);
        const char *dot = memchr(v + s, '.', n - s);
        if (!dot)
            break;
        s = (size_t)(dot - v) + 1;
    }
}

/* Works out what matching needs of one candidate field; with prefetch, also starts reading the
 * table words its lookup will need, so that matching it later finds them in cache. */
static void resolve_cand(const struct trl_ioc_matcher *m, struct cand *cd, const struct cand *prev,
                         uint32_t nprev, bool prefetch)
{
    const struct trl_kv *kv = cd->kv;
    int kind = kv_kind(kv, &cd->name);
    const char *v = kv->val;
    size_t len = kv->val_len;
    cd->is_v4 = false;
    /* Also when no domain indicator makes the name worth looking up itself: URL indicators need
     * the host of an access log's path. */
    cd->host = (kv->field == TRL_F_URL_DOMAIN || kv->field == TRL_F_DESTINATION_DOMAIN) && v &&
               len && (m->kinds >> TRL_IOC_V_URL & 1);
    if (kind < 0 || !(m->kinds >> kind & 1) || !v || len == 0) {
        cd->kind = -1;
        return;
    }
    cd->kind = (int8_t)kind;
    switch (kind) {
    case TRL_IOC_V_IP:
        /* related.ip repeats the event's other addresses: an address already parsed is not
         * parsed (nor fetched) again; matching skips it as seen. */
        for (uint32_t j = 0; j < nprev; j++) {
            const struct trl_kv *o = prev[j].kv;
            if (prev[j].kind == TRL_IOC_V_IP && o->val_len == len && memcmp(o->val, v, len) == 0) {
                cd->is_v4 = prev[j].is_v4;
                cd->v4 = prev[j].v4;
                return;
            }
        }
        cd->is_v4 = parse_v4(v, len, &cd->v4);
        if (prefetch && cd->is_v4 && m->v4[32].f.words) {
            const struct filter *f = &m->v4[32].f;
            __builtin_prefetch(&f->words[((hash_v4(cd->v4) >> 32) * f->nwords) >> 32]);
        }
        break;
    case TRL_IOC_V_DOMAIN:
        if (prefetch)
            prefetch_domain(m, v, len);
        break;
    case TRL_IOC_V_HASH:
        if (prefetch)
            prefetch_str(m,
                         len == 32   ? TRL_IOC_MD5
                         : len == 40 ? TRL_IOC_SHA1
                                     : TRL_IOC_SHA256,
                         v, len == 32 || len == 40 || len == 64 ? len : 0);
        break;
    case TRL_IOC_V_FILENAME:
        if (prefetch)
            prefetch_str(m, TRL_IOC_FILENAME, v, len);
        break;
    case TRL_IOC_V_USER_AGENT:
        if (prefetch)
            prefetch_str(m, TRL_IOC_USER_AGENT, v, len);
        break;
    default:
        break;
    }
}

/* The candidate fields of one event. */
#define MAX_CAND 32
struct staged {
    const struct trl_event *ev;
    uint32_t n; /* more than MAX_CAND: the list is incomplete, walk the fields instead */
    struct cand c[MAX_CAND + 1]; /* the last one takes the stores past MAX_CAND candidates */
};

/* Collects the fields of ev that may carry something worth looking up in m. The test is made
 * without a branch: most fields do not, and which do differs from event to event, so a branch per
 * field would often be mispredicted (which costs more than the whole test). Known fields are
 * judged by one byte of m->cand_field; dynamic fields by the length of their name (most dynamic
 * fields, winlog.event_data.* and labels.*, are ruled out by it). The list may hold a few fields
 * too many: resolve_cand() has the last word. */
static void scan_event(const struct trl_ioc_matcher *m, const struct trl_event *ev,
                       struct staged *st)
{
    const struct trl_kv *fields = ev->fields;
    const uint32_t nfields = ev->nfields;
    const uint64_t dyn = m->dyn_lengths;
    uint32_t n = 0;
    st->ev = ev;
    for (uint32_t i = 0; i < nfields; i++) {
        const struct trl_kv *kv = &fields[i];
        unsigned f = kv->field;
        st->c[n < MAX_CAND ? n : MAX_CAND].kv = kv;
        /* A known field's name length is 0 (bit 0 of dyn is never set); a name of 64 bytes or
         * more may pass as a shorter one and is then ruled out by resolve_cand(). */
        n += (m->cand_field[f < TRL_F__COUNT ? f : 0] | (unsigned)(dyn >> (kv->name_len & 63))) & 1;
    }
    st->n = n;
}

static void resolve_staged(const struct trl_ioc_matcher *m, struct staged *st, bool prefetch)
{
    for (uint32_t j = 0; j < st->n && j < MAX_CAND; j++)
        resolve_cand(m, &st->c[j], st->c, j, prefetch);
}

static int match_staged(const struct trl_ioc_matcher *m, const struct staged *st, trl_ioc_hit_fn fn,
                        void *ud)
{
    const struct trl_event *ev = st->ev;
    /* Not zero-initialised as a whole: the reported list is only read up to nreported. */
    struct mctx c;
    c.m = m;
    c.t = m->at_ns ? m->at_ns : ev->timestamp_ns ? ev->timestamp_ns : ev->received_ns;
    c.fn = fn;
    c.ud = ud;
    c.hits = 0;
    c.stop = false;
    c.nreported = 0;
    const struct trl_kv *rel_url = NULL, *host = NULL;
    struct seen seen[MAX_SEEN];
    int nseen = 0;
    if (st->n <= MAX_CAND) {
        for (uint32_t j = 0; j < st->n && !c.stop; j++)
            match_cand(&c, &st->c[j], seen, &nseen, &rel_url, &host);
    } else {
        /* More candidates than the list holds (a JSON event with many addresses): all of the
         * event's fields, in order. */
        const uint64_t dyn = m->dyn_lengths;
        for (uint32_t i = 0; i < ev->nfields && !c.stop; i++) {
            const struct trl_kv *kv = &ev->fields[i];
            unsigned f = kv->field;
            if (!(f < TRL_F__COUNT && m->cand_field[f]) &&
                !(f == 0 && kv->name_len < 64 && (dyn >> kv->name_len & 1)))
                continue;
            struct cand cd = {.kv = kv};
            resolve_cand(m, &cd, NULL, 0, false);
            match_cand(&c, &cd, seen, &nseen, &rel_url, &host);
        }
    }
    if (rel_url && host && !c.stop)
        match_relative_url(&c, rel_url->val, rel_url->val_len, host->val, host->val_len,
                           "url.original");
    return c.hits;
}

int trl_ioc_match_event(const struct trl_ioc_matcher *m, const struct trl_event *ev,
                        trl_ioc_hit_fn fn, void *ud)
{
    if (!m || !m->nrecs)
        return 0;
    /* The field list is usually no longer in the first-level caches when a batch is matched:
     * asking for all of its lines at once overlaps the misses instead of taking them in turn. */
    for (uint32_t i = 0; i < ev->nfields; i += 2)
        __builtin_prefetch(&ev->fields[i]);
    struct staged st;
    scan_event(m, ev, &st);
    resolve_staged(m, &st, false);
    return match_staged(m, &st, fn, ud);
}

struct batch_hit {
    trl_ioc_batch_hit_fn fn;
    void *ud;
    size_t index;
};

static int batch_hit(void *ud, const struct trl_ioc_hit *h)
{
    struct batch_hit *b = ud;
    return b->fn(b->ud, b->index, h);
}

size_t trl_ioc_match_batch(const struct trl_ioc_matcher *m, struct trl_event *const *evs, size_t n,
                           trl_ioc_batch_hit_fn fn, void *ud)
{
    if (!m || !m->nrecs)
        return 0;
    /* A software pipeline over the batch, so that the cache misses of several events overlap
     * instead of being taken one after the other: event t + 2's header and t + 1's field list are
     * fetched; event t's fields are scanned and its candidates' values fetched; event t - WARM's
     * candidates are resolved and their table words fetched; event t - 2 * WARM is matched. */
    enum { WARM = 4, RING = 16 };
    struct staged ring[RING];
    size_t hits = 0;
    struct batch_hit b = {.fn = fn, .ud = ud};
    for (size_t t = 0; t < n + 2 * WARM; t++) {
        if (t + 2 < n) {
            /* The event's first line, and the one holding its field count and list (the event
             * need not start on a line). */
            __builtin_prefetch(evs[t + 2]);
            __builtin_prefetch(&evs[t + 2]->fields);
        }
        if (t + 1 < n) {
            const struct trl_event *next = evs[t + 1];
            const struct trl_kv *fields = next->fields;
            uint32_t nf = next->nfields < 64 ? next->nfields : 64;
            for (uint32_t k = 0; k < nf; k += 2)
                __builtin_prefetch(&fields[k]);
        }
        if (t < n) {
            struct staged *st = &ring[t % RING];
            scan_event(m, evs[t], st);
            for (uint32_t j = 0; j < st->n && j < MAX_CAND; j++)
                __builtin_prefetch(st->c[j].kv->val);
        }
        if (t >= WARM && t - WARM < n) {
            struct staged *st = &ring[(t - WARM) % RING];
            if (st->n <= MAX_CAND)
                resolve_staged(m, st, true);
        }
        if (t >= 2 * WARM) {
            size_t i = t - 2 * WARM;
            b.index = i;
            hits += (size_t)match_staged(m, &ring[i % RING], fn ? batch_hit : NULL, &b);
        }
    }
    return hits;
}

/* ---- Enrichment ---- */

struct best {
    struct trl_ioc_hit hit;
    int n;
};

static int type_rank(enum trl_ioc_type t)
{
    return t == TRL_IOC_CIDR ? 0 : t == TRL_IOC_DOMAIN ? 1 : 2;
}

static int keep_best(void *ud, const struct trl_ioc_hit *h)
{
    struct best *b = ud;
    if (b->n++ == 0 || h->confidence > b->hit.confidence ||
        (h->confidence == b->hit.confidence && type_rank(h->type) > type_rank(b->hit.type)) ||
        (h->confidence == b->hit.confidence && h->type == b->hit.type &&
         strlen(h->value) > strlen(b->hit.value)))
        b->hit = *h;
    return 0;
}

static void set_dyn(struct trl_event *ev, const char *name, const char *v, size_t len)
{
    trl_event_set_named(ev, name, strlen(name), v, len);
}

static const char *confidence_word(int c)
{
    return c <= 0 ? "None" : c < 30 ? "Low" : c < 70 ? "Medium" : "High";
}

int trl_ioc_enrich_event(const struct trl_ioc_matcher *m, struct trl_event *ev)
{
    struct best b = {.n = 0};
    trl_ioc_match_event(m, ev, keep_best, &b);
    if (b.n == 0)
        return 0;
    const struct trl_ioc_hit *h = &b.hit;
    const char *stix_type = "ipv4-addr";
    size_t vlen = strlen(h->value);
    switch (h->type) {
    case TRL_IOC_IPV4:
    case TRL_IOC_IPV6:
    case TRL_IOC_CIDR:
        stix_type = memchr(h->matched, ':', h->matched_len) ? "ipv6-addr" : "ipv4-addr";
        set_dyn(ev, "threat.indicator.ip", h->matched, h->matched_len);
        break;
    case TRL_IOC_DOMAIN:
        stix_type = "domain-name";
        set_dyn(ev, "threat.indicator.url.domain", h->value, vlen);
        break;
    case TRL_IOC_URL:
        stix_type = "url";
        set_dyn(ev, "threat.indicator.url.full", h->value, vlen);
        break;
    case TRL_IOC_MD5:
        stix_type = "file";
        set_dyn(ev, "threat.indicator.file.hash.md5", h->value, vlen);
        break;
    case TRL_IOC_SHA1:
        stix_type = "file";
        set_dyn(ev, "threat.indicator.file.hash.sha1", h->value, vlen);
        break;
    case TRL_IOC_SHA256:
        stix_type = "file";
        set_dyn(ev, "threat.indicator.file.hash.sha256", h->value, vlen);
        break;
    case TRL_IOC_EMAIL:
        stix_type = "email-addr";
        set_dyn(ev, "threat.indicator.email.address", h->value, vlen);
        break;
    case TRL_IOC_FILENAME:
        stix_type = "file";
        set_dyn(ev,
                memchr(h->value, '/', vlen) || memchr(h->value, '\\', vlen)
                    ? "threat.indicator.file.path"
                    : "threat.indicator.file.name",
                h->value, vlen);
        break;
    default:
        stix_type = "user-agent";
        break;
    }
    set_dyn(ev, "threat.indicator.type", stix_type, strlen(stix_type));
    set_dyn(ev, "threat.indicator.name", h->value, vlen);
    set_dyn(ev, "threat.indicator.provider", h->source, strlen(h->source));
    set_dyn(ev, "threat.feed.name", h->source, strlen(h->source));
    const char *cw = confidence_word(h->confidence);
    set_dyn(ev, "threat.indicator.confidence", cw, strlen(cw));
    set_dyn(ev, "threat.indicator.id", h->id, strlen(h->id));
    if (h->description)
        set_dyn(ev, "threat.indicator.description", h->description, strlen(h->description));
    const char *tlp = strstr(h->tags_json, "\"tlp:");
    if (tlp) {
        char buf[32];
        size_t n = 0;
        for (const char *p = tlp + 5; *p && *p != '"' && n < sizeof(buf) - 1; p++)
            buf[n++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        if (n)
            set_dyn(ev, "threat.indicator.marking.tlp", buf, n);
    }
    return b.n;
}

/* ---- Hand-over ---- */

struct trl_ioc_handle {
    pthread_mutex_t mu;
    struct trl_ioc_matcher *cur;
    _Atomic uint64_t gen;
};

struct trl_ioc_handle *trl_ioc_handle_create(void)
{
    struct trl_ioc_handle *h = trl_xcalloc(1, sizeof(*h));
    pthread_mutex_init(&h->mu, NULL);
    atomic_init(&h->gen, 0);
    return h;
}

void trl_ioc_handle_destroy(struct trl_ioc_handle *h)
{
    if (!h)
        return;
    trl_ioc_matcher_unref(h->cur);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

void trl_ioc_handle_publish(struct trl_ioc_handle *h, struct trl_ioc_matcher *m)
{
    pthread_mutex_lock(&h->mu);
    struct trl_ioc_matcher *old = h->cur;
    h->cur = m;
    atomic_fetch_add_explicit(&h->gen, 1, memory_order_release);
    pthread_mutex_unlock(&h->mu);
    /* Readers still matching with the old matcher hold their own references. */
    trl_ioc_matcher_unref(old);
}

struct trl_ioc_matcher *trl_ioc_handle_acquire(struct trl_ioc_handle *h, uint64_t *generation)
{
    pthread_mutex_lock(&h->mu);
    struct trl_ioc_matcher *m = trl_ioc_matcher_ref(h->cur);
    if (generation)
        *generation = atomic_load_explicit(&h->gen, memory_order_relaxed);
    pthread_mutex_unlock(&h->mu);
    return m;
}

const struct trl_ioc_matcher *trl_ioc_reader_refresh(struct trl_ioc_reader *r)
{
    uint64_t g = atomic_load_explicit(&r->handle->gen, memory_order_acquire);
    if (g == r->generation)
        return r->current;
    struct trl_ioc_matcher *m = trl_ioc_handle_acquire(r->handle, &r->generation);
    trl_ioc_matcher_unref(r->current);
    r->current = m;
    return m;
}

void trl_ioc_reader_release(struct trl_ioc_reader *r)
{
    trl_ioc_matcher_unref(r->current);
    r->current = NULL;
    r->generation = 0;
}

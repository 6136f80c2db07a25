#include "formats/audit_assembler.h"
#include "core/util.h"
#include "formats/audit_ecs.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* An event with more records than this is emitted and a new one started: real events have a
 * SYSCALL, a few PATH items and some EXECVE records, never hundreds. */
#define MAX_EVENT_RECORDS 512
#define MAX_EVENT_BYTES   (1024 * 1024)

/* The record types the merge treats apart from the others. */
enum rec_kind { R_OTHER, R_SYSCALL, R_EOE, R_EXECVE, R_PATH, R_PROCTITLE, R_SOCKADDR };

/* A record copied out of its batch arena: a read-only event whose fields and strings live in the
 * same heap allocation: the struct, the field list, then its strings (strs, str_bytes long): the
 * original first, which the values that are slices of it point into, then the other values and
 * the names of the dynamic fields. */
struct rec {
    struct trl_event ev;
    struct rec *next_free; /* in the assembler's pool of unused records */
    size_t cap;            /* bytes allocated */
    size_t bytes;          /* bytes used */
    const char *type;
    size_t type_len;
    enum rec_kind kind;
    char *strs;
    size_t str_bytes;
    struct trl_kv kvs[];
};

/* Records are allocated in classes of REC_UNIT bytes, and those of up to REC_POOL_CLASSES units
 * go back to a pool when their event is taken: a stream's records have much the same sizes, and
 * reusing one costs a few instructions where malloc(3) and free(3) cost hundreds. The pool keeps
 * at most REC_POOL_BYTES; events waiting for their records hold what they hold anyway. */
#define REC_UNIT         512
#define REC_POOL_CLASSES 16
#define REC_POOL_BYTES   (4 * 1024 * 1024)
/* Taken events whose struct is kept for the next event. */
#define PENDING_POOL_MAX 1024

/* Records of an event held without a further allocation: most events have a few. */
#define INLINE_RECS 4

struct host;

struct pending {
    struct pending *hash_next;
    struct pending *prev, *next;           /* every pending event, by last arrival; ready FIFO */
    struct pending *host_prev, *host_next; /* this host's pending events, by last arrival */
    struct host *host;
    uint64_t serial;
    int64_t ts_ns;
    int64_t last_arrival;
    struct rec **recs; /* inline_recs until there are more */
    uint32_t nrecs;
    uint32_t cap;
    size_t bytes;
    struct rec *inline_recs[INLINE_RECS];
};

struct host {
    struct host *hash_next;
    struct pending *first, *last;
    size_t npending;
    size_t len;
    char name[];
};

struct trl_audit_assembler {
    struct trl_audit_assembler_config cfg;
    struct pending **buckets;
    struct host **host_buckets;
    size_t nbuckets; /* a power of two */
    struct pending *first, *last;
    struct pending *ready_first, *ready_last;
    size_t npending;
    size_t nready;
    size_t bytes;
    int64_t last_add; /* the arrival of the last record added */
    struct trl_audit_assembler_stats stats;
    struct rec *rec_pool[REC_POOL_CLASSES + 1]; /* by size class, unused */
    size_t rec_pool_bytes;
    struct pending *pending_pool; /* unused, chained by hash_next */
    size_t pending_pooled;
};

static uint64_t hash_bytes(const char *p, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static size_t event_bucket(const struct trl_audit_assembler *a, const struct host *h,
                           uint64_t serial, int64_t ts)
{
    return (size_t)(mix((uint64_t)(uintptr_t)h ^ mix(serial) ^ (uint64_t)ts) & (a->nbuckets - 1));
}

/* Fields the audit parser derives from the records are rebuilt from the merged data; everything
 * else (host, log.*, labels, the syslog header of a forwarded record) is copied from the primary
 * record. */
static bool derived_name(const char *name, size_t len)
{
    /* Most dynamic names of a record are its auditd.data.* pairs. */
    if (trl_audit_is_data_name(name, len))
        return true;
    static const struct {
        const char *s;
        size_t len;
    } prefixes[] = {
#define P(s) {s, sizeof(s) - 1}
        P("auditd."),       P("process."),       P("user."),        P("group."),
        P("file."),         P("source."),        P("destination."), P("service."),
        P("related."),      P("event.category"), P("event.type"),   P("event.action"),
        P("event.outcome"), P("event.kind"),     P("message"),
#undef P
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(prefixes); i++) {
        if (len >= prefixes[i].len && name[0] == prefixes[i].s[0] &&
            trl_short_eq(name, prefixes[i].s, prefixes[i].len))
            return true;
    }
    return false;
}

/* derived_name() of every known field, and whether freeze() keeps it (see frozen_field()), worked
 * out once and read-only afterwards. */
static bool derived_known[TRL_F__COUNT];
static pthread_once_t derived_once = PTHREAD_ONCE_INIT;

static bool frozen_known[TRL_F__COUNT];

static void build_derived_known(void)
{
    for (int f = 1; f < TRL_F__COUNT; f++) {
        const struct trl_field_info *fi = trl_field_info((enum trl_field)f);
        derived_known[f] = derived_name(fi->name, fi->name_len);
        frozen_known[f] = !derived_known[f] || f == TRL_F_AUDITD_SEQUENCE ||
                          f == TRL_F_AUDITD_RECORD_TYPE || f == TRL_F_PROCESS_ARGS;
    }
}

static bool derived_field(const struct trl_kv *kv)
{
    if (kv->field)
        return derived_known[kv->field];
    return derived_name(kv->name, kv->name_len);
}

struct trl_audit_assembler *trl_audit_assembler_create(const struct trl_audit_assembler_config *cfg)
{
    pthread_once(&derived_once, build_derived_known);
    struct trl_audit_assembler *a = trl_xcalloc(1, sizeof(*a));
    if (cfg)
        a->cfg = *cfg;
    if (a->cfg.timeout_ns <= 0)
        a->cfg.timeout_ns = 2 * 1000000000LL;
    if (a->cfg.settle_ns <= 0)
        a->cfg.settle_ns = 100 * 1000000LL;
    if (a->cfg.settle_ns > a->cfg.timeout_ns)
        a->cfg.settle_ns = a->cfg.timeout_ns;
    if (a->cfg.max_pending == 0)
        a->cfg.max_pending = 4096;
    if (a->cfg.max_bytes == 0)
        a->cfg.max_bytes = 64 * 1024 * 1024;
    a->nbuckets = 64;
    while (a->nbuckets < a->cfg.max_pending && a->nbuckets < (1u << 20))
        a->nbuckets <<= 1;
    a->buckets = trl_xcalloc(a->nbuckets, sizeof(*a->buckets));
    a->host_buckets = trl_xcalloc(a->nbuckets, sizeof(*a->host_buckets));
    return a;
}

/* --- memory ----------------------------------------------------------------------------------- */

static struct rec *rec_alloc(struct trl_audit_assembler *a, size_t size)
{
    size_t units = (size + REC_UNIT - 1) / REC_UNIT;
    if (units <= REC_POOL_CLASSES && a->rec_pool[units]) {
        struct rec *r = a->rec_pool[units];
        a->rec_pool[units] = r->next_free;
        a->rec_pool_bytes -= r->cap;
        return r;
    }
    size_t cap = units <= REC_POOL_CLASSES ? units * REC_UNIT : size;
    struct rec *r = trl_xmalloc(cap);
    r->cap = cap;
    return r;
}

static void rec_release(struct trl_audit_assembler *a, struct rec *r)
{
    size_t units = r->cap / REC_UNIT;
    if (r->cap % REC_UNIT || units > REC_POOL_CLASSES ||
        a->rec_pool_bytes + r->cap > REC_POOL_BYTES) {
        free(r);
        return;
    }
    r->next_free = a->rec_pool[units];
    a->rec_pool[units] = r;
    a->rec_pool_bytes += r->cap;
}

static struct pending *pending_alloc(struct trl_audit_assembler *a)
{
    struct pending *pe = a->pending_pool;
    if (!pe)
        return trl_xcalloc(1, sizeof(*pe));
    a->pending_pool = pe->hash_next;
    a->pending_pooled--;
    memset(pe, 0, sizeof(*pe));
    return pe;
}

static void free_pending(struct trl_audit_assembler *a, struct pending *pe)
{
    for (uint32_t i = 0; i < pe->nrecs; i++)
        rec_release(a, pe->recs[i]);
    if (pe->recs != pe->inline_recs)
        free(pe->recs);
    if (a->pending_pooled >= PENDING_POOL_MAX) {
        free(pe);
        return;
    }
    pe->hash_next = a->pending_pool;
    a->pending_pool = pe;
    a->pending_pooled++;
}

void trl_audit_assembler_destroy(struct trl_audit_assembler *a)
{
    if (!a)
        return;
    for (struct pending *pe = a->first, *next; pe; pe = next) {
        next = pe->next;
        free_pending(a, pe);
    }
    for (struct pending *pe = a->ready_first, *next; pe; pe = next) {
        next = pe->next;
        free_pending(a, pe);
    }
    for (struct pending *pe = a->pending_pool, *next; pe; pe = next) {
        next = pe->hash_next;
        free(pe);
    }
    for (size_t i = 0; i <= REC_POOL_CLASSES; i++) {
        for (struct rec *r = a->rec_pool[i], *next; r; r = next) {
            next = r->next_free;
            free(r);
        }
    }
    for (size_t i = 0; i < a->nbuckets; i++) {
        for (struct host *h = a->host_buckets[i], *next; h; h = next) {
            next = h->hash_next;
            free(h);
        }
    }
    free(a->buckets);
    free(a->host_buckets);
    free(a);
}

/* The kind of a record type, told by its length first and then compared with a literal of that
 * length (which compiles to a load or two): every record is sorted this way, some of them several
 * times. */
static enum rec_kind rec_kind(const char *t, size_t len)
{
#define IS(lit) (memcmp(t, lit, sizeof(lit) - 1) == 0)
    if (!t)
        return R_OTHER;
    switch (len) {
    case 3:
        return IS("EOE") ? R_EOE : R_OTHER;
    case 4:
        return IS("PATH") ? R_PATH : R_OTHER;
    case 6:
        return IS("EXECVE") ? R_EXECVE : R_OTHER;
    case 7:
        return IS("SYSCALL") ? R_SYSCALL : R_OTHER;
    case 8:
        return IS("SOCKADDR") ? R_SOCKADDR : R_OTHER;
    case 9:
        return IS("PROCTITLE") ? R_PROCTITLE : R_OTHER;
    default:
        return R_OTHER;
    }
#undef IS
}

/* trl_parse_u64() of an audit serial: up to 19 digits cannot overflow, so only a longer number
 * (or none) takes the careful way. Called for every record, several times. */
static inline bool parse_serial(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 19)
        return trl_parse_u64(s, len, out);
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* The record types the merge treats apart (SYSCALL, EXECVE, PATH...) are the kernel's own, never
 * user-space messages: they skip the lookup of the type's number. */
static bool type_is_standalone(const char *type, size_t len)
{
    return rec_kind(type, len) == R_OTHER && trl_audit_type_is_standalone(type, len);
}

/* trl_event_get() without a call: the pipeline asks wants() about every event it parses. */
static inline const char *known_value(const struct trl_event *ev, enum trl_field f, size_t *len)
{
    uint16_t at = ev->slot[f];
    if (!at)
        return NULL;
    *len = ev->fields[at - 1].val_len;
    return ev->fields[at - 1].val;
}

bool trl_audit_assembler_wants(const struct trl_event *ev)
{
    size_t tlen, slen;
    /* Most events are no audit records at all: they have no record type. */
    const char *type = known_value(ev, TRL_F_AUDITD_RECORD_TYPE, &tlen);
    if (!type)
        return false;
    /* record_types marks an event assembled already (by an agent, or Trapline's own JSON read
     * back): it is whole. */
    if (ev->slot[TRL_F_AUDITD_RECORD_TYPES])
        return false;
    const char *serial = known_value(ev, TRL_F_AUDITD_SEQUENCE, &slen);
    uint64_t n;
    return serial && parse_serial(serial, slen, &n) && !type_is_standalone(type, tlen);
}

/* --- hosts ------------------------------------------------------------------------------------ */

static struct host **host_slot(struct trl_audit_assembler *a, const char *name, size_t len)
{
    struct host **slot = &a->host_buckets[hash_bytes(name, len) & (a->nbuckets - 1)];
    while (*slot && !((*slot)->len == len && memcmp((*slot)->name, name, len) == 0))
        slot = &(*slot)->hash_next;
    return slot;
}

static struct host *host_get(struct trl_audit_assembler *a, const char *name, size_t len,
                             bool create)
{
    struct host **slot = host_slot(a, name, len);
    if (*slot || !create)
        return *slot;
    struct host *h = trl_xcalloc(1, sizeof(*h) + len + 1);
    memcpy(h->name, name, len);
    h->len = len;
    *slot = h;
    return h;
}

static void host_unlink(struct trl_audit_assembler *a, struct pending *pe)
{
    struct host *h = pe->host;
    if (pe->host_prev)
        pe->host_prev->host_next = pe->host_next;
    else
        h->first = pe->host_next;
    if (pe->host_next)
        pe->host_next->host_prev = pe->host_prev;
    else
        h->last = pe->host_prev;
    pe->host_prev = pe->host_next = NULL;
    if (--h->npending == 0) {
        struct host **slot = host_slot(a, h->name, h->len);
        *slot = h->hash_next;
        free(h);
    }
    pe->host = NULL;
}

static void host_append(struct host *h, struct pending *pe)
{
    pe->host_next = NULL;
    pe->host_prev = h->last;
    if (h->last)
        h->last->host_next = pe;
    else
        h->first = pe;
    h->last = pe;
}

/* --- pending events -----------------------------------------------------------------------------
 */

static void list_unlink(struct trl_audit_assembler *a, struct pending *pe)
{
    if (pe->prev)
        pe->prev->next = pe->next;
    else
        a->first = pe->next;
    if (pe->next)
        pe->next->prev = pe->prev;
    else
        a->last = pe->prev;
    pe->prev = pe->next = NULL;
}

static void list_append(struct trl_audit_assembler *a, struct pending *pe)
{
    pe->next = NULL;
    pe->prev = a->last;
    if (a->last)
        a->last->next = pe;
    else
        a->first = pe;
    a->last = pe;
}

static struct pending *lookup(struct trl_audit_assembler *a, const struct host *h, uint64_t serial,
                              int64_t ts)
{
    if (!h)
        return NULL;
    struct pending *pe = a->buckets[event_bucket(a, h, serial, ts)];
    while (pe && !(pe->host == h && pe->serial == serial && pe->ts_ns == ts))
        pe = pe->hash_next;
    return pe;
}

/* Moves a pending event to the ready FIFO: it takes no more records. */
static void complete(struct trl_audit_assembler *a, struct pending *pe)
{
    struct pending **slot = &a->buckets[event_bucket(a, pe->host, pe->serial, pe->ts_ns)];
    while (*slot && *slot != pe)
        slot = &(*slot)->hash_next;
    if (*slot)
        *slot = pe->hash_next;
    pe->hash_next = NULL;
    list_unlink(a, pe);
    host_unlink(a, pe);
    a->npending--;
    if (a->ready_last)
        a->ready_last->next = pe;
    else
        a->ready_first = pe;
    a->ready_last = pe;
    a->nready++;
}

static struct pending *pending_new(struct trl_audit_assembler *a, struct host *h, uint64_t serial,
                                   int64_t ts)
{
    struct pending *pe = pending_alloc(a);
    pe->recs = pe->inline_recs;
    pe->cap = INLINE_RECS;
    pe->host = h;
    pe->serial = serial;
    pe->ts_ns = ts;
    size_t b = event_bucket(a, h, serial, ts);
    pe->hash_next = a->buckets[b];
    a->buckets[b] = pe;
    h->npending++;
    host_append(h, pe);
    list_append(a, pe);
    a->npending++;
    return pe;
}

/* Whether [v, v+len) lies inside the len bytes at o: trl_event_in_original() for a source whose
 * original is known to be set. */
static inline bool in_block(const char *o, size_t olen, const char *v, size_t len)
{
    uintptr_t off = (uintptr_t)v - (uintptr_t)o;
    return (uintptr_t)v >= (uintptr_t)o && len <= olen && off <= olen - len;
}

/* Whether freeze() keeps a field of a record: build() reads the fields it copies as they are (those
 * derived_field() says no to), the auditd.* dynamic fields (the record's data, the EXECVE
 * continuation mark), the serial, the record type and EXECVE's process.args. The other fields
 * the record parser derived (process.*, user.*, event.*, related.*...) are rebuilt from the merged
 * data, so they are left behind: they are most of a record's fields. */
static bool frozen_field(const struct trl_kv *kv)
{
    return !kv->field || frozen_known[kv->field];
}

/* A record being filled by freeze(): the next string byte, the number of fields so far, and the
 * source's original, which values that are slices of it are relative to. */
struct frozen {
    struct rec *r;
    char *s;
    uint32_t n;
    const char *src_original;
};

/* Appends a copy of kv to the record: its value as a slice of the record's original when it is
 * one of the source's, its name when it is a dynamic field's. */
static inline void freeze_field(struct frozen *f, const struct trl_kv *kv, bool slice)
{
    struct rec *r = f->r;
    struct trl_kv *out = &r->kvs[f->n++];
    *out = *kv;
    if (slice) {
        out->val = r->ev.original + (kv->val - f->src_original);
    } else {
        memcpy(f->s, kv->val, kv->val_len);
        f->s[kv->val_len] = '\0';
        out->val = f->s;
        f->s += kv->val_len + 1;
    }
    if (!kv->field) {
        memcpy(f->s, kv->name, kv->name_len);
        f->s[kv->name_len] = '\0';
        out->name = f->s;
        f->s += kv->name_len + 1;
        if (!r->ev.first_named)
            r->ev.first_named = f->n;
    } else if (!r->ev.slot[kv->field] && f->n <= UINT16_MAX) {
        r->ev.slot[kv->field] = (uint16_t)f->n;
    }
}

/* Copies what build() needs of a record's event (see frozen_field()) into one heap allocation.
 * Values that are slices of the original point into its copy, without a copy of their own. Every
 * value copied is NUL-terminated; a slice of the original is not (values are always read with
 * their length). */
static struct rec *freeze(struct trl_audit_assembler *a, const struct trl_event *src)
{
    size_t nsrc = src->nfields, n = 0, olen = src->original ? src->original_len : 0,
           strs = olen + 1;
    const char *orig = src->original ? src->original : "";
    /* Which of the first 64 fields are kept, and which of those are slices of the original, for
     * the second pass. */
    uint64_t keep = 0, sliced = 0;
    for (size_t i = 0; i < nsrc; i++) {
        const struct trl_kv *kv = &src->fields[i];
        if (!frozen_field(kv))
            continue;
        uint64_t bit = i < 64 ? 1ULL << i : 0;
        keep |= bit;
        n++;
        if (in_block(orig, olen, kv->val, kv->val_len))
            sliced |= bit;
        else
            strs += kv->val_len + 1;
        if (!kv->field)
            strs += kv->name_len + 1;
    }
    size_t size = sizeof(struct rec) + n * sizeof(struct trl_kv) + strs;
    struct rec *r = rec_alloc(a, size);
    char *s = (char *)(r->kvs + n);
    r->ev = *src;
    r->ev.arena = NULL;
    r->ev.nfields = r->ev.cap = (uint32_t)n;
    r->ev.fields = r->kvs;
    r->ev.first_named = 0;
    memset(r->ev.slot, 0, sizeof(r->ev.slot));
    r->strs = s;
    r->str_bytes = strs;
    memcpy(s, orig, olen);
    s[olen] = '\0';
    r->ev.original = s;
    r->ev.original_len = olen;
    s += olen + 1;
    struct frozen f = {r, s, 0, orig};
    /* The first 64 fields by the bits of those kept, the others (seldom any) one by one. */
    for (uint64_t m = keep; m; m &= m - 1) {
        unsigned i = (unsigned)__builtin_ctzll(m);
        freeze_field(&f, &src->fields[i], (sliced >> i) & 1);
    }
    for (size_t i = 64; i < nsrc; i++) {
        const struct trl_kv *kv = &src->fields[i];
        if (frozen_field(kv))
            freeze_field(&f, kv, in_block(orig, olen, kv->val, kv->val_len));
    }
    r->bytes = size;
    r->type = trl_event_get(&r->ev, TRL_F_AUDITD_RECORD_TYPE, &r->type_len);
    r->kind = rec_kind(r->type, r->type_len);
    return r;
}

/* Moves a record's field strings into arena, in one copy: the merged event then stores them by
 * reference instead of copying them value by value. The record is freed right after the merge,
 * so its own field list is pointed at the copy. */
static void thaw(struct trl_arena *arena, struct rec *r)
{
    char *s = trl_arena_alloc(arena, r->str_bytes ? r->str_bytes : 1);
    if (r->str_bytes)
        memcpy(s, r->strs, r->str_bytes);
    for (uint32_t i = 0; i < r->ev.nfields; i++) {
        struct trl_kv *kv = &r->kvs[i];
        kv->val = s + (kv->val - r->strs);
        if (!kv->field)
            kv->name = s + (kv->name - r->strs);
    }
    if (r->type)
        r->type = s + (r->type - r->strs);
    r->ev.original = s;
    r->strs = s;
}

static bool rec_is(const struct rec *r, enum rec_kind kind)
{
    return r->kind == kind;
}

static void append_rec(struct trl_audit_assembler *a, struct pending *pe, struct rec *r,
                       int64_t arrival)
{
    if (pe->nrecs == pe->cap) {
        uint32_t cap = pe->cap * 2;
        struct rec **recs = trl_xmalloc(cap * sizeof(*recs));
        memcpy(recs, pe->recs, pe->nrecs * sizeof(*recs));
        if (pe->recs != pe->inline_recs)
            free(pe->recs);
        pe->recs = recs;
        pe->cap = cap;
    }
    pe->recs[pe->nrecs++] = r;
    pe->bytes += r->bytes;
    a->bytes += r->bytes;
    pe->last_arrival = arrival;
    /* Keep both lists ordered by last arrival: the front is always the longest idle. */
    list_unlink(a, pe);
    list_append(a, pe);
    struct host *h = pe->host;
    if (h->last != pe) {
        if (pe->host_prev)
            pe->host_prev->host_next = pe->host_next;
        else
            h->first = pe->host_next;
        pe->host_next->host_prev = pe->host_prev;
        host_append(h, pe);
    }
}

int trl_audit_assembler_add(struct trl_audit_assembler *a, const struct trl_event *record)
{
    if (!trl_audit_assembler_wants(record))
        return TRL_EINVAL;
    size_t slen, hlen = 0;
    const char *s = trl_event_get(record, TRL_F_AUDITD_SEQUENCE, &slen);
    uint64_t serial = 0;
    parse_serial(s, slen, &serial);
    const char *hname = trl_event_get(record, TRL_F_HOST_NAME, &hlen);
    if (!hname)
        hname = "";
    int64_t ts = record->timestamp_ns, arrival = record->received_ns;
    a->stats.records++;

    struct rec *r = freeze(a, record);
    struct pending *pe = lookup(a, host_get(a, hname, hlen, false), serial, ts);
    if (rec_is(r, R_EOE) && !pe) {
        a->stats.orphans++;
        rec_release(a, r);
        return TRL_OK;
    }
    if (pe && (pe->nrecs >= MAX_EVENT_RECORDS || pe->bytes + r->bytes > MAX_EVENT_BYTES)) {
        complete(a, pe);
        pe = NULL;
    }
    if (!pe) {
        while (a->first &&
               (a->npending >= a->cfg.max_pending || a->bytes + r->bytes > a->cfg.max_bytes)) {
            a->stats.evicted++;
            complete(a, a->first);
        }
        pe = pending_new(a, host_get(a, hname, hlen, true), serial, ts);
    }
    append_rec(a, pe, r, arrival);
    a->last_add = TRL_MAX(a->last_add, arrival);
    /* A record of another event from the same host: events of that host that have been quiet for
     * settle_ns will get no more records (the kernel writes an event's records together). pe is
     * the last of its host's list, so the host outlives this loop. */
    struct host *h = pe->host;
    while (h->first != pe && arrival - h->first->last_arrival >= a->cfg.settle_ns)
        complete(a, h->first);
    if (rec_is(r, R_EOE))
        complete(a, pe);
    return TRL_OK;
}

/* --- building the merged event -----------------------------------------------------------------
 */

/* Copies a field of a record thawed into ev's arena (see thaw()): by reference. A dynamic field's
 * name is no known field's (the event would hold it as that field), so it is not looked up among
 * them again. */
static void copy_field(struct trl_event *ev, const struct trl_kv *kv)
{
    if (kv->field) {
        enum trl_field f = (enum trl_field)kv->field;
        if (trl_field_info(f)->type == TRL_FT_ARRAY)
            trl_event_add_ref(ev, f, kv->val, kv->val_len);
        else
            trl_event_set_ref(ev, f, kv->val, kv->val_len);
    } else {
        trl_event_set_dynamic_ex(ev, kv->name, kv->name_len, kv->val, kv->val_len,
                                 TRL_REF_NAME | TRL_REF_VALUE);
    }
}

static bool is_data(const struct trl_kv *kv)
{
    return !kv->field && trl_audit_is_data_name(kv->name, kv->name_len);
}

/* True for auditd.data.aN: SYSCALL's argument registers, or EXECVE's arguments. */
static bool is_arg_data(const struct trl_kv *kv)
{
    const char *k = kv->name + TRL_AUDIT_DATA_PREFIX_LEN;
    size_t klen = kv->name_len - TRL_AUDIT_DATA_PREFIX_LEN;
    if (klen < 2 || k[0] != 'a')
        return false;
    for (size_t i = 1; i < klen; i++) {
        if (k[i] < '0' || k[i] > '9')
            return false;
    }
    return true;
}

/* Copies auditd.data.* of rec; with only_new, keys the event already has are kept; with
 * skip_args, the aN values are left out. */
static void copy_data(struct trl_event *ev, const struct trl_event *rec, bool only_new,
                      bool skip_args)
{
    for (uint32_t i = 0; i < rec->nfields; i++) {
        const struct trl_kv *kv = &rec->fields[i];
        size_t old;
        if (!is_data(kv) || (skip_args && is_arg_data(kv)))
            continue;
        if (only_new && trl_event_get_named(ev, kv->name, kv->name_len, &old))
            continue;
        trl_event_set_dynamic_ex(ev, kv->name, kv->name_len, kv->val, kv->val_len,
                                 TRL_REF_NAME | TRL_REF_VALUE);
    }
}

static bool data_is(const struct trl_event *rec, const char *key, const char *lit)
{
    size_t len;
    const char *v = trl_audit_data(rec, key, &len);
    return v && strlen(lit) == len && memcmp(v, lit, len) == 0;
}

static bool is_loader(const struct trl_event *rec)
{
    size_t len;
    const char *v = trl_audit_data(rec, "name", &len);
    if (!v)
        return false;
    size_t i = len;
    while (i > 0 && v[i - 1] != '/')
        i--;
    const char *base = v + i;
    size_t blen = len - i;
    if (trl_starts_with(base, blen, "ld-"))
        return true;
    /* "ld.so" or "ld.so.<version digits>" is the loader; /etc/ld.so.preload, .cache and .conf
     * are files an attacker may well be writing. */
    if (!trl_starts_with(base, blen, "ld.so"))
        return false;
    for (size_t k = 5; k < blen; k++) {
        if (!(base[k] == '.' || (base[k] >= '0' && base[k] <= '9')))
            return false;
    }
    return true;
}

/* Writes the decimal digits of v at out; returns how many. */
static size_t put_decimal(char *out, uint64_t v)
{
    char digits[20];
    size_t n = 0, len;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    len = n;
    while (n)
        *out++ = digits[--n];
    return len;
}

/* "auditd.paths.<idx>.<key>" into name (room for 32 + TRL_AUDIT_KEY_MAX bytes: idx has at most
 * four digits, key at most TRL_AUDIT_KEY_MAX bytes); returns its length. */
static size_t path_item_name(char *name, uint64_t idx, const char *key, size_t klen)
{
    static const char pfx[] = "auditd.paths.";
    size_t n = sizeof(pfx) - 1;
    memcpy(name, pfx, n);
    n += put_decimal(name + n, idx);
    name[n++] = '.';
    memcpy(name + n, key, klen);
    return n + klen;
}

/* Stores every PATH item as auditd.paths.<item>.<key>. */
static void store_path_items(struct trl_event *ev, const struct rec *const *paths, size_t n)
{
    for (size_t p = 0; p < n; p++) {
        const struct trl_event *rec = &paths[p]->ev;
        size_t ilen;
        const char *item = trl_audit_data(rec, "item", &ilen);
        uint64_t idx = p;
        if (item && ilen <= 4)
            trl_parse_u64(item, ilen, &idx);
        for (uint32_t i = 0; i < rec->nfields; i++) {
            const struct trl_kv *kv = &rec->fields[i];
            if (!is_data(kv))
                continue;
            const char *key = kv->name + TRL_AUDIT_DATA_PREFIX_LEN;
            size_t klen = kv->name_len - TRL_AUDIT_DATA_PREFIX_LEN;
            if (klen == 4 && !memcmp(key, "item", 4))
                continue;
            char name[32 + TRL_AUDIT_KEY_MAX];
            size_t nlen = path_item_name(name, idx, key, klen);
            trl_event_set_dynamic_ex(ev, name, nlen, kv->val, kv->val_len, TRL_REF_VALUE);
        }
    }
}

/* The PATH item that is the file the event is about: not a parent directory, not the dynamic
 * loader. For execve the first item is the program itself and is left out, unless an interpreter
 * follows it (a script: the script is the file of interest). */
static const struct trl_event *file_item(const struct trl_event *ev, const struct rec *const *paths,
                                         size_t n)
{
    const struct trl_event *cand[8];
    size_t nc = 0;
    for (size_t i = 0; i < n && nc < TRL_ARRAY_LEN(cand); i++) {
        const struct trl_event *rec = &paths[i]->ev;
        size_t len;
        if (!trl_audit_data(rec, "name", &len) || data_is(rec, "nametype", "PARENT") ||
            is_loader(rec))
            continue;
        cand[nc++] = rec;
    }
    if (nc == 0)
        return NULL;
    bool exec = trl_event_is(ev, TRL_F_AUDITD_SYSCALL, "execve") ||
                trl_event_is(ev, TRL_F_AUDITD_SYSCALL, "execveat");
    if (exec && nc < 2)
        return NULL;
    return cand[0];
}

static enum trl_audit_peer sockaddr_peer(const struct trl_event *ev)
{
    static const char *const incoming[] = {"accept", "accept4", "recvfrom", "recvmsg"};
    for (size_t i = 0; i < TRL_ARRAY_LEN(incoming); i++) {
        if (trl_event_is(ev, TRL_F_AUDITD_SYSCALL, incoming[i]))
            return TRL_AUDIT_PEER_SOURCE;
    }
    if (trl_event_is(ev, TRL_F_AUDITD_SYSCALL, "bind"))
        return TRL_AUDIT_PEER_NONE;
    return TRL_AUDIT_PEER_DESTINATION;
}

/* auditd.log.record_types: the distinct record types of the event in arrival order (SYSCALL,
 * EXECVE, CWD, PATH, PROCTITLE, EOE), one array value each, so that a rule about one record type
 * finds it. */
static void set_record_types(struct trl_event *ev, struct rec *const *recs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct rec *r = recs[i];
        if (r->type && r->type_len)
            trl_event_add_unique_ref(ev, TRL_F_AUDITD_RECORD_TYPES, r->type, r->type_len);
    }
}

/* The first arguments again as auditd.data.aN, as the record parser keeps them. */
static void set_arg_data(struct trl_event *ev)
{
    unsigned n = 0;
    for (uint32_t i = 0; i < ev->nfields && n < 64; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        if (kv->field != TRL_F_PROCESS_ARGS)
            continue;
        char name[TRL_AUDIT_DATA_PREFIX_LEN + 24];
        memcpy(name, TRL_AUDIT_DATA_PREFIX "a", TRL_AUDIT_DATA_PREFIX_LEN + 1);
        size_t nlen =
            TRL_AUDIT_DATA_PREFIX_LEN + 1 + put_decimal(name + TRL_AUDIT_DATA_PREFIX_LEN + 1, n++);
        /* Fields may move while adding: the value is read before that. It lives in the arena. */
        const char *v = kv->val;
        size_t vlen = kv->val_len;
        trl_event_set_dynamic_ex(ev, name, nlen, v, vlen, TRL_REF_VALUE);
    }
}

static size_t trimmed_len(const char *p, size_t len)
{
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
        len--;
    return len;
}

static struct trl_event *build(struct trl_arena *arena, const struct pending *pe)
{
    struct rec *const *recs = pe->recs;
    size_t n = pe->nrecs, total = 0;
    for (size_t i = 0; i < n; i++)
        thaw(arena, recs[i]);
    const char *orig;
    size_t olen = 0;
    if (n == 1 &&
        trimmed_len(recs[0]->ev.original, recs[0]->ev.original_len) == recs[0]->ev.original_len) {
        /* The record's original, thawed into the arena and NUL-terminated, is the event's. */
        orig = recs[0]->ev.original;
        olen = recs[0]->ev.original_len;
    } else {
        for (size_t i = 0; i < n; i++)
            total += trimmed_len(recs[i]->ev.original, recs[i]->ev.original_len) + 1;
        char *joined = trl_arena_alloc(arena, total + 1);
        for (size_t i = 0; i < n; i++) {
            size_t l = trimmed_len(recs[i]->ev.original, recs[i]->ev.original_len);
            if (i)
                joined[olen++] = '\n';
            memcpy(joined + olen, recs[i]->ev.original, l);
            olen += l;
        }
        joined[olen] = '\0';
        orig = joined;
    }

    struct trl_event *ev = trl_event_create(arena, NULL, 0, recs[0]->ev.received_ns);
    /* Room for the records' fields and as many again that the mapping derives: the list then
     * never grows, a copy of it that would leave the outgrown list unused in the arena. */
    size_t want = 32;
    for (size_t i = 0; i < n; i++)
        want += recs[i]->ev.nfields;
    ev->fields = trl_arena_alloc(arena, want * sizeof(*ev->fields));
    ev->cap = (uint32_t)want;
    ev->original = orig;
    ev->original_len = olen;
    ev->timestamp_ns = pe->ts_ns;
    ev->format = recs[0]->ev.format;
    for (size_t i = 0; i < n; i++)
        ev->flags |= recs[i]->ev.flags;

    /* The primary record (SYSCALL when there is one) gives the event its data and process. */
    const struct rec *primary = NULL;
    for (size_t i = 0; i < n && !primary; i++) {
        if (rec_is(recs[i], R_SYSCALL))
            primary = recs[i];
    }
    for (size_t i = 0; i < n && !primary; i++) {
        if (!rec_is(recs[i], R_EOE))
            primary = recs[i];
    }
    if (!primary)
        primary = recs[0];
    const struct trl_event *pev = &primary->ev;
    for (uint32_t i = 0; i < pev->nfields; i++) {
        if (!derived_field(&pev->fields[i]))
            copy_field(ev, &pev->fields[i]);
    }
    size_t len;
    const char *v = trl_event_get(pev, TRL_F_AUDITD_SEQUENCE, &len);
    if (v)
        trl_event_set_ref(ev, TRL_F_AUDITD_SEQUENCE, v, len);
    if (primary->type)
        trl_event_set_ref(ev, TRL_F_AUDITD_RECORD_TYPE, primary->type, primary->type_len);
    set_record_types(ev, recs, n);
    /* In an exec event the argument registers are pointers; auditd.data.aN are the arguments. */
    bool has_execve = false;
    for (size_t i = 0; i < n && !has_execve; i++)
        has_execve = rec_is(recs[i], R_EXECVE);
    copy_data(ev, pev, false, has_execve);
    trl_audit_ecs_common(ev, pev, primary->type ? primary->type : "", primary->type_len);

    const struct trl_event **execve = trl_arena_alloc(arena, n * sizeof(*execve));
    const struct rec **paths = trl_arena_alloc(arena, n * sizeof(*paths));
    size_t nexec = 0, npaths = 0;
    for (size_t i = 0; i < n; i++) {
        const struct rec *r = recs[i];
        if (r == primary || rec_is(r, R_EOE))
            continue;
        if (rec_is(r, R_EXECVE)) {
            execve[nexec++] = &r->ev;
            continue;
        }
        if (rec_is(r, R_PATH)) {
            paths[npaths++] = r;
            continue;
        }
        copy_data(ev, &r->ev, true, has_execve);
        trl_audit_ecs_common(ev, &r->ev, r->type ? r->type : "", r->type_len);
        if (rec_is(r, R_PROCTITLE))
            trl_audit_ecs_proctitle(ev, &r->ev);
        else if (rec_is(r, R_SOCKADDR))
            trl_audit_ecs_sockaddr(ev, &r->ev, sockaddr_peer(ev));
    }
    if (nexec) {
        trl_audit_ecs_execve(ev, execve, nexec);
        set_arg_data(ev);
    }
    if (npaths) {
        store_path_items(ev, paths, npaths);
        const struct trl_event *file = file_item(ev, paths, npaths);
        size_t cwdlen = 0;
        const char *cwd = trl_event_get(ev, TRL_F_PROCESS_WORKING_DIRECTORY, &cwdlen);
        if (file)
            trl_audit_ecs_path(ev, file, cwd, cwdlen);
    }
    trl_audit_ecs_classify(ev);
    trl_audit_ecs_related(ev);
    return ev;
}

/* --- taking completed events ------------------------------------------------------------------ */

static void expire(struct trl_audit_assembler *a, int64_t now_ns, bool flush_all)
{
    while (a->first && (flush_all || now_ns - a->first->last_arrival >= a->cfg.timeout_ns)) {
        if (!flush_all)
            a->stats.timed_out++;
        complete(a, a->first);
    }
}

size_t trl_audit_assembler_take(struct trl_audit_assembler *a, struct trl_arena *arena,
                                int64_t now_ns, bool flush_all, struct trl_event **out, size_t max)
{
    expire(a, now_ns, flush_all);
    size_t n = 0;
    while (n < max && a->ready_first) {
        struct pending *pe = a->ready_first;
        a->ready_first = pe->next;
        if (!a->ready_first)
            a->ready_last = NULL;
        a->nready--;
        out[n++] = build(arena, pe);
        a->bytes -= pe->bytes;
        free_pending(a, pe);
    }
    a->stats.events += n;
    return n;
}

bool trl_audit_assembler_ready(const struct trl_audit_assembler *a, int64_t now_ns)
{
    return a->ready_first || (a->first && now_ns - a->first->last_arrival >= a->cfg.timeout_ns);
}

int64_t trl_audit_assembler_quiet_at(const struct trl_audit_assembler *a)
{
    return a->first ? a->last_add + a->cfg.settle_ns : INT64_MAX;
}

void trl_audit_assembler_complete_quiet(struct trl_audit_assembler *a, int64_t at)
{
    int64_t cutoff = at - a->cfg.settle_ns;
    while (a->first && a->first->last_arrival <= cutoff) {
        a->stats.quiet++;
        complete(a, a->first);
    }
}

void trl_audit_assembler_get_stats(const struct trl_audit_assembler *a,
                                   struct trl_audit_assembler_stats *out)
{
    *out = a->stats;
    out->pending = a->npending;
}

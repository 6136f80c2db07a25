#include "store/verify.h"
#include "core/timeutil.h"
#include "store/block.h"
#include "store/chain.h"
#include "store/keys.h"
#include "store/ledger.h"
#include "store/partition.h"
#include "store/store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Past this many findings in one partition the rest are summed up in one line. */
#define MAX_FINDINGS_PER_SCOPE 20

struct verifier {
    trl_verify_fn fn;
    void *ud;
    struct trl_verify_summary *sum;
    struct trl_store_key *key;
    const char *scope;
    uint32_t scope_findings;
    uint32_t scope_suppressed;
};

__attribute__((format(printf, 4, 5))) static void
report(struct verifier *v, enum trl_verify_what what, uint64_t block, const char *fmt, ...)
{
    if (trl_verify_is_finding(what)) {
        v->sum->findings++;
        if (++v->scope_findings > MAX_FINDINGS_PER_SCOPE) {
            v->scope_suppressed++;
            return;
        }
    }
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    struct trl_verify_report r = {what, v->scope, block, text};
    if (v->fn)
        v->fn(v->ud, &r);
}

static void begin_scope(struct verifier *v, const char *scope)
{
    v->scope = scope;
    v->scope_findings = 0;
    v->scope_suppressed = 0;
}

static void end_scope(struct verifier *v)
{
    if (v->scope_suppressed) {
        char text[128];
        snprintf(text, sizeof(text), "%u more findings not shown", v->scope_suppressed);
        struct trl_verify_report r = {TRL_VERIFY_NOTE, v->scope, 0, text};
        if (v->fn)
            v->fn(v->ud, &r);
    }
}

static const char *short_time(int64_t ns, char *buf)
{
    trl_format_rfc3339(ns, buf);
    buf[19] = 'Z';
    buf[20] = '\0';
    return buf;
}

/* Checks a signed head: right key, valid signature. */
static void check_head(struct verifier *v, const char *scope, uint64_t seq, const uint8_t *hash,
                       const char *key_id, const uint8_t *sig, size_t sig_len)
{
    if (!v->key)
        return;
    if (sig_len == 0) {
        report(v, TRL_VERIFY_SIGNATURE, seq, "the head (seq %llu) is not signed",
               (unsigned long long)seq);
        return;
    }
    if (strcmp(key_id, trl_store_key_id(v->key)) != 0) {
        report(v, TRL_VERIFY_SIGNATURE, seq,
               "the head (seq %llu) is signed by key %s, not by the store key %s",
               (unsigned long long)seq, key_id, trl_store_key_id(v->key));
        return;
    }
    uint8_t msg[TRL_HEAD_MSG_MAX];
    size_t n = trl_head_message(scope, seq, hash, msg);
    if (!trl_store_key_verify(v->key, msg, n, sig, sig_len))
        report(v, TRL_VERIFY_SIGNATURE, seq,
               "the head signature does not match (seq %llu): the chain head was rewritten",
               (unsigned long long)seq);
}

/* ------------------------------------------------------------------------------------------ */
/* Partitions                                                                                  */

struct entry {
    uint64_t seq;
    int kind;
    uint32_t count;
    int64_t min_ts, max_ts;
    uint8_t content_hash[TRL_SHA256_LEN];
    uint8_t events_digest[TRL_SHA256_LEN];
    uint64_t *replaces;
    size_t nreplaces;
    uint64_t replaced_by; /* seq of the compaction that replaced this block, 0 if none */
    bool live;            /* its block row is present */
    bool valid;           /* the entry itself hashed correctly */
};

struct chain {
    struct entry *e; /* indexed by seq - 1 */
    size_t n;        /* highest seq seen */
};

static struct entry *chain_get(struct chain *c, uint64_t seq)
{
    if (seq == 0 || seq > c->n)
        return NULL;
    struct entry *e = &c->e[seq - 1];
    return e->seq == seq ? e : NULL;
}

static void chain_free(struct chain *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->e[i].replaces);
    free(c->e);
}

static bool blob_copy(sqlite3_stmt *st, int col, uint8_t *out, size_t len)
{
    if (sqlite3_column_bytes(st, col) != (int)len || !sqlite3_column_blob(st, col))
        return false;
    memcpy(out, sqlite3_column_blob(st, col), len);
    return true;
}

/* Walks the chain table: contiguous seqs, each prev_hash the previous hash, each hash recomputed.
 * Fills c and returns the last seq and hash seen. */
static int walk_chain(struct verifier *v, struct trl_partition *p, struct chain *c,
                      uint64_t *last_seq, uint8_t last_hash[TRL_SHA256_LEN])
{
    const char *day = trl_partition_day(p);
    sqlite3_stmt *st = NULL;
    int rc = trl_sqlite_err(sqlite3_prepare_v2(
        trl_partition_db(p),
        "SELECT seq, kind, count, min_ts, max_ts, content_hash, events_digest, replaces, at_ns,"
        " prev_hash, hash FROM chain ORDER BY seq",
        -1, &st, NULL));
    if (rc != 0)
        return rc;
    uint8_t prev[TRL_SHA256_LEN];
    trl_chain_genesis(day, prev);
    uint64_t expect = 1;
    size_t cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct trl_chain_entry e = {0};
        sqlite3_int64 seq = sqlite3_column_int64(st, 0);
        e.seq = (uint64_t)seq;
        e.kind = sqlite3_column_int(st, 1);
        sqlite3_int64 count = sqlite3_column_int64(st, 2);
        e.count = count > 0 && count <= TRL_BLOCK_MAX_EVENTS ? (uint32_t)count : 0;
        e.min_ts = sqlite3_column_int64(st, 3);
        e.max_ts = sqlite3_column_int64(st, 4);
        e.replaces = sqlite3_column_blob(st, 7);
        e.replaces_len = (size_t)sqlite3_column_bytes(st, 7);
        e.at_ns = sqlite3_column_int64(st, 8);
        bool shape = seq > 0 && seq < (1LL << 40) && blob_copy(st, 5, e.content_hash, 32) &&
                     blob_copy(st, 6, e.events_digest, 32) && blob_copy(st, 9, e.prev_hash, 32) &&
                     blob_copy(st, 10, e.hash, 32) && e.replaces_len % 8 == 0 &&
                     (e.kind == TRL_CHAIN_ADD || e.kind == TRL_CHAIN_COMPACT) &&
                     (uint64_t)count == e.count;
        if (!shape) {
            report(v, TRL_VERIFY_ALTERED, (uint64_t)seq, "chain entry %lld is malformed (altered)",
                   (long long)seq);
            continue;
        }
        if (e.seq > expect) {
            if (e.seq == expect + 1)
                report(v, TRL_VERIFY_DELETED, expect, "chain entry %llu is missing (deleted)",
                       (unsigned long long)expect);
            else
                report(v, TRL_VERIFY_DELETED, expect,
                       "chain entries %llu..%llu are missing (deleted)", (unsigned long long)expect,
                       (unsigned long long)(e.seq - 1));
        }
        uint8_t h[TRL_SHA256_LEN];
        trl_chain_entry_hash(day, &e, h);
        bool valid = memcmp(h, e.hash, TRL_SHA256_LEN) == 0;
        if (!valid)
            report(v, TRL_VERIFY_ALTERED, e.seq,
                   "chain entry %llu does not hash to its recorded hash (altered)",
                   (unsigned long long)e.seq);
        else if (memcmp(e.prev_hash, prev, TRL_SHA256_LEN) != 0 && e.seq == expect)
            report(v, TRL_VERIFY_INSERTED, e.seq,
                   "chain entry %llu does not follow entry %llu (inserted or replaced)",
                   (unsigned long long)e.seq, (unsigned long long)(e.seq - 1));
        memcpy(prev, e.hash, TRL_SHA256_LEN);
        expect = e.seq + 1;
        if (e.seq > cap) {
            size_t ncap = cap ? cap : 256;
            while (ncap < e.seq)
                ncap *= 2;
            c->e = trl_xrealloc(c->e, ncap * sizeof(*c->e));
            memset(c->e + cap, 0, (ncap - cap) * sizeof(*c->e));
            cap = ncap;
        }
        struct entry *x = &c->e[e.seq - 1];
        x->seq = e.seq;
        x->kind = e.kind;
        x->count = e.count;
        x->min_ts = e.min_ts;
        x->max_ts = e.max_ts;
        x->valid = valid;
        memcpy(x->content_hash, e.content_hash, TRL_SHA256_LEN);
        memcpy(x->events_digest, e.events_digest, TRL_SHA256_LEN);
        x->nreplaces = e.replaces_len / 8;
        if (x->nreplaces) {
            x->replaces = trl_xmalloc(x->nreplaces * sizeof(*x->replaces));
            for (size_t i = 0; i < x->nreplaces; i++)
                x->replaces[i] = trl_get_u64le(e.replaces + 8 * i);
        }
        if (e.seq > c->n)
            c->n = e.seq;
    }
    if (step != SQLITE_DONE)
        rc = trl_sqlite_err(step);
    sqlite3_finalize(st);
    *last_seq = expect - 1;
    memcpy(last_hash, prev, TRL_SHA256_LEN);
    return rc;
}

/* Links each compaction to the entries it replaced. */
static void link_compactions(struct verifier *v, struct chain *c)
{
    for (size_t i = 0; i < c->n; i++) {
        struct entry *e = &c->e[i];
        if (e->seq == 0 || e->kind != TRL_CHAIN_COMPACT)
            continue;
        uint64_t total = 0;
        for (size_t k = 0; k < e->nreplaces; k++) {
            struct entry *r = chain_get(c, e->replaces[k]);
            if (!r || r->seq >= e->seq) {
                report(v, TRL_VERIFY_ALTERED, e->seq,
                       "compaction at chain entry %llu names block %llu, which it cannot replace",
                       (unsigned long long)e->seq, (unsigned long long)e->replaces[k]);
                continue;
            }
            if (r->replaced_by) {
                report(v, TRL_VERIFY_ALTERED, e->seq,
                       "block %llu is replaced twice (by entries %llu and %llu)",
                       (unsigned long long)r->seq, (unsigned long long)r->replaced_by,
                       (unsigned long long)e->seq);
                continue;
            }
            r->replaced_by = e->seq;
            total += r->count;
        }
        if (total != e->count)
            report(v, TRL_VERIFY_ALTERED, e->seq,
                   "compaction at chain entry %llu holds %u events but replaced %llu",
                   (unsigned long long)e->seq, e->count, (unsigned long long)total);
    }
}

struct block_ctx {
    struct trl_stored_block sb;
    struct trl_block_decoder dec;
};

/* False for the all-zero digest of an appended block, which records none (block.h). */
static bool digest_recorded(const uint8_t d[TRL_SHA256_LEN])
{
    static const uint8_t zero[TRL_SHA256_LEN];
    return memcmp(d, zero, TRL_SHA256_LEN) != 0;
}

/* Checks the events of a compacted block against the digests of the blocks it replaced. */
static void check_compaction_slices(struct verifier *v, struct chain *c, const struct entry *e,
                                    const struct trl_block_decoder *d)
{
    uint32_t at = 0;
    for (size_t k = 0; k < e->nreplaces; k++) {
        struct entry *r = chain_get(c, e->replaces[k]);
        if (!r || r->replaced_by != e->seq || at + r->count > d->count)
            return; /* already reported by link_compactions() */
        if (!digest_recorded(r->events_digest)) {
            /* An appended block: the compaction checked its content hash before merging it. */
            at += r->count;
            continue;
        }
        struct trl_sha256 h;
        if (trl_sha256_init(&h) != 0)
            return;
        const struct trl_strcol *js = &d->str[TRL_COL_JSON];
        for (uint32_t i = at; i < at + r->count; i++) {
            const struct trl_str *s = &js->vals[js->first[i]];
            trl_events_digest_add(&h, d->ts[i], s->ptr, s->len);
        }
        uint8_t digest[TRL_SHA256_LEN];
        trl_sha256_final(&h, digest);
        if (memcmp(digest, r->events_digest, TRL_SHA256_LEN) != 0)
            report(v, TRL_VERIFY_ALTERED, e->seq,
                   "block %llu (compaction) does not hold the events of replaced block %llu "
                   "(its events %u..%u differ)",
                   (unsigned long long)e->seq, (unsigned long long)r->seq, at, at + r->count - 1);
        at += r->count;
    }
}

static void check_block_row(struct verifier *v, struct trl_partition *p, struct chain *c,
                            struct block_ctx *b, uint64_t id)
{
    int rc = trl_partition_read_block(p, id, &b->sb, true);
    if (rc != 0) {
        report(v, TRL_VERIFY_UNREADABLE, id, "block %llu cannot be read: %s",
               (unsigned long long)id, trl_strerror(rc));
        return;
    }
    struct trl_stored_block *sb = &b->sb;
    struct entry *e = chain_get(c, id);
    char t1[TRL_RFC3339_MAX], t2[TRL_RFC3339_MAX];
    if (!e) {
        report(v, TRL_VERIFY_INSERTED, id,
               "block %llu (%u events, %s..%s) has no chain entry (inserted)",
               (unsigned long long)id, sb->count, short_time(sb->min_ts, t1),
               short_time(sb->max_ts, t2));
        return;
    }
    e->live = true;
    if (e->replaced_by) {
        report(v, TRL_VERIFY_INSERTED, id,
               "block %llu was replaced by compaction %llu but is present again (inserted)",
               (unsigned long long)id, (unsigned long long)e->replaced_by);
        return;
    }
    uint8_t h[TRL_SHA256_LEN];
    trl_block_content_hash(id, sb->min_ts, sb->max_ts, sb->count, sb->meta.data, sb->meta.len,
                           sb->data.data, sb->data.len, h);
    if (memcmp(h, e->content_hash, TRL_SHA256_LEN) != 0 || sb->count != e->count ||
        sb->min_ts != e->min_ts || sb->max_ts != e->max_ts) {
        report(v, TRL_VERIFY_ALTERED, id,
               "block %llu (%u events, %s..%s) differs from what was committed (altered)",
               (unsigned long long)id, e->count, short_time(e->min_ts, t1),
               short_time(e->max_ts, t2));
        return;
    }
    struct trl_block_view view;
    struct trl_block_meta meta;
    rc = trl_block_view_init(&view, sb->data.data, sb->data.len);
    if (rc == 0)
        rc = trl_block_meta_parse(sb->meta.data, sb->meta.len, &meta);
    /* An appended block records no events digest: its content hash, just checked, covers its
     * events, so its columns are not decompressed (their headers and the meta still must parse:
     * what a search reads first). */
    if (rc == 0 && !digest_recorded(e->events_digest) && e->kind == TRL_CHAIN_ADD &&
        view.count == e->count) {
        v->sum->blocks++;
        v->sum->events += e->count;
        return;
    }
    if (rc == 0) {
        trl_block_decoder_reset(&b->dec, &view);
        rc = trl_block_decode(&b->dec, &view, TRL_COL_TS);
    }
    if (rc == 0)
        rc = trl_block_decode(&b->dec, &view, TRL_COL_JSON);
    if (rc != 0 || view.count != e->count) {
        report(v, TRL_VERIFY_UNREADABLE, id, "block %llu hashes correctly but does not decode",
               (unsigned long long)id);
        return;
    }
    struct trl_sha256 dh;
    if (trl_sha256_init(&dh) != 0)
        return;
    const struct trl_strcol *js = &b->dec.str[TRL_COL_JSON];
    for (uint32_t i = 0; i < view.count; i++) {
        const struct trl_str *s = &js->vals[js->first[i]];
        trl_events_digest_add(&dh, b->dec.ts[i], s->ptr, s->len);
    }
    trl_sha256_final(&dh, h);
    if (digest_recorded(e->events_digest) && memcmp(h, e->events_digest, TRL_SHA256_LEN) != 0) {
        report(v, TRL_VERIFY_ALTERED, id, "block %llu holds events its chain entry does not name",
               (unsigned long long)id);
        return;
    }
    if (e->kind == TRL_CHAIN_COMPACT)
        check_compaction_slices(v, c, e, &b->dec);
    v->sum->blocks++;
    v->sum->events += view.count;
}

/* True when the file is a database without the partition's tables yet: the writer creates the
 * file, then its schema, and a crash in between leaves such a file (empty or not). */
static bool uninitialised(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && sb.st_size == 0)
        return true;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    bool none = false;
    if (trl_sqlite_open_reader(path, &db) == 0 &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        none = sqlite3_column_int(st, 0) == 0;
    sqlite3_finalize(st);
    sqlite3_close_v2(db);
    return none;
}

enum { VERIFIED, UNINITIALISED };

static int verify_partition(struct verifier *v, const char *path, uint64_t *head_seq)
{
    struct trl_partition *p = NULL;
    *head_seq = 0;
    if (uninitialised(path))
        return UNINITIALISED;
    int rc = trl_partition_open_ro(path, &p);
    if (rc != 0) {
        report(v, TRL_VERIFY_UNREADABLE, 0, "cannot open the partition: %s", trl_strerror(rc));
        return VERIFIED;
    }
    sqlite3 *db = trl_partition_db(p);
    struct chain c = {0};
    struct block_ctx b = {0};
    trl_block_decoder_init(&b.dec);
    uint64_t last_seq = 0;
    uint8_t last_hash[TRL_SHA256_LEN];
    struct trl_partition_head head;
    sqlite3_stmt *st = NULL;
    rc = trl_sqlite_err(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL));
    if (rc == 0)
        rc = trl_partition_read_head(p, &head);
    if (rc != 0) {
        report(v, TRL_VERIFY_UNREADABLE, 0, "the chain head cannot be read: %s", trl_strerror(rc));
        goto out;
    }
    *head_seq = head.seq;
    check_head(v, trl_partition_day(p), head.seq, head.hash, head.key_id, head.sig, head.sig_len);
    rc = walk_chain(v, p, &c, &last_seq, last_hash);
    if (rc != 0) {
        report(v, TRL_VERIFY_UNREADABLE, 0, "the chain cannot be read: %s", trl_strerror(rc));
        goto out;
    }
    if (head.seq > last_seq)
        report(v, TRL_VERIFY_DELETED, last_seq + 1,
               "the signed head is at entry %llu but the chain ends at %llu: entries %llu..%llu "
               "deleted",
               (unsigned long long)head.seq, (unsigned long long)last_seq,
               (unsigned long long)(last_seq + 1), (unsigned long long)head.seq);
    else if (head.seq < last_seq)
        report(v, TRL_VERIFY_INSERTED, head.seq + 1,
               "chain entries %llu..%llu are not covered by the signed head (inserted)",
               (unsigned long long)(head.seq + 1), (unsigned long long)last_seq);
    else if (memcmp(head.hash, last_hash, TRL_SHA256_LEN) != 0)
        report(v, TRL_VERIFY_ALTERED, head.seq,
               "the last chain entry (%llu) is not the one the head signed (altered)",
               (unsigned long long)head.seq);
    link_compactions(v, &c);

    rc = trl_sqlite_err(sqlite3_prepare_v2(db, "SELECT id FROM blocks ORDER BY id", -1, &st, NULL));
    int step = SQLITE_DONE;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
        check_block_row(v, p, &c, &b, (uint64_t)sqlite3_column_int64(st, 0));
    if (rc == 0 && step != SQLITE_DONE)
        rc = trl_sqlite_err(step);
    if (rc != 0) {
        report(v, TRL_VERIFY_UNREADABLE, 0, "the blocks cannot be listed: %s", trl_strerror(rc));
        goto out;
    }
    for (size_t i = 0; i < c.n; i++) {
        struct entry *e = &c.e[i];
        if (e->seq == 0 || e->live || e->replaced_by)
            continue;
        char t1[TRL_RFC3339_MAX], t2[TRL_RFC3339_MAX];
        report(v, TRL_VERIFY_DELETED, e->seq, "block %llu (%u events, %s..%s) is missing (deleted)",
               (unsigned long long)e->seq, e->count, short_time(e->min_ts, t1),
               short_time(e->max_ts, t2));
    }
out:
    sqlite3_finalize(st);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    chain_free(&c);
    trl_buf_free(&b.sb.meta);
    trl_buf_free(&b.sb.data);
    trl_block_decoder_free(&b.dec);
    trl_partition_close(p);
    return VERIFIED;
}

/* ------------------------------------------------------------------------------------------ */
/* Ledger and directory                                                                        */

struct day_state {
    char day[TRL_DAY_LEN + 1];
    enum trl_ledger_state state;
};

struct ledger_view {
    struct day_state *d;
    size_t n, cap;
    bool present;
};

static struct day_state *day_slot(struct ledger_view *lv, const char *day)
{
    for (size_t i = 0; i < lv->n; i++) {
        if (!strcmp(lv->d[i].day, day))
            return &lv->d[i];
    }
    if (lv->n == lv->cap) {
        lv->cap = lv->cap ? lv->cap * 2 : 32;
        lv->d = trl_xrealloc(lv->d, lv->cap * sizeof(*lv->d));
    }
    struct day_state *s = &lv->d[lv->n++];
    snprintf(s->day, sizeof(s->day), "%s", day);
    s->state = TRL_LEDGER_NONE;
    return s;
}

static void verify_ledger(struct verifier *v, struct trl_ledger *l, struct ledger_view *lv)
{
    sqlite3 *db = trl_ledger_db(l);
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    sqlite3_stmt *st = NULL;
    uint8_t prev[TRL_SHA256_LEN];
    trl_ledger_genesis(prev);
    uint64_t expect = 1;
    int rc = trl_sqlite_err(sqlite3_prepare_v2(
        db,
        "SELECT seq, kind, day, at_ns, reason, part_seq, part_hash, prev_hash, hash FROM entries"
        " ORDER BY seq",
        -1, &st, NULL));
    int step = SQLITE_DONE;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        struct trl_ledger_entry e = {0};
        e.seq = (uint64_t)sqlite3_column_int64(st, 0);
        const char *kind = (const char *)sqlite3_column_text(st, 1);
        const char *day = (const char *)sqlite3_column_text(st, 2);
        e.at_ns = sqlite3_column_int64(st, 3);
        const char *reason = (const char *)sqlite3_column_text(st, 4);
        e.part_seq = (uint64_t)sqlite3_column_int64(st, 5);
        int64_t dn;
        if (!kind || !day || !reason || !trl_day_parse(day, strlen(day), &dn) ||
            (strcmp(kind, "open") && strcmp(kind, "remove")) ||
            !blob_copy(st, 6, e.part_hash, 32) || !blob_copy(st, 7, e.prev_hash, 32) ||
            !blob_copy(st, 8, e.hash, 32)) {
            report(v, TRL_VERIFY_ALTERED, e.seq, "ledger entry %llu is malformed (altered)",
                   (unsigned long long)e.seq);
            continue;
        }
        e.kind = kind;
        e.day = day;
        e.reason = reason;
        if (e.seq != expect)
            report(v, TRL_VERIFY_DELETED, expect, "ledger entries %llu..%llu are missing (deleted)",
                   (unsigned long long)expect, (unsigned long long)(e.seq - 1));
        uint8_t h[TRL_SHA256_LEN];
        trl_ledger_entry_hash(&e, h);
        if (memcmp(h, e.hash, TRL_SHA256_LEN) != 0)
            report(v, TRL_VERIFY_ALTERED, e.seq,
                   "ledger entry %llu (%s %s) does not hash to its recorded hash (altered)",
                   (unsigned long long)e.seq, kind, day);
        else if (e.seq == expect && memcmp(e.prev_hash, prev, TRL_SHA256_LEN) != 0)
            report(v, TRL_VERIFY_INSERTED, e.seq,
                   "ledger entry %llu does not follow entry %llu (inserted or replaced)",
                   (unsigned long long)e.seq, (unsigned long long)(e.seq - 1));
        memcpy(prev, e.hash, TRL_SHA256_LEN);
        expect = e.seq + 1;
        struct day_state *s = day_slot(lv, day);
        bool removal = !strcmp(kind, "remove");
        s->state = removal ? TRL_LEDGER_REMOVED : TRL_LEDGER_OPEN;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = trl_sqlite_err(step);
    sqlite3_finalize(st);
    st = NULL;
    if (rc != 0) {
        report(v, TRL_VERIFY_UNREADABLE, 0, "the ledger cannot be read: %s", trl_strerror(rc));
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        return;
    }
    rc = trl_sqlite_err(sqlite3_prepare_v2(
        db, "SELECT seq, hash, key_id, signature FROM head WHERE id = 1", -1, &st, NULL));
    if (rc == 0 && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 1) == 32) {
        uint64_t hseq = (uint64_t)sqlite3_column_int64(st, 0);
        uint8_t hhash[TRL_SHA256_LEN], sig[TRL_SIG_LEN];
        memcpy(hhash, sqlite3_column_blob(st, 1), TRL_SHA256_LEN);
        const char *kid = (const char *)sqlite3_column_text(st, 2);
        int sl = sqlite3_column_bytes(st, 3);
        size_t sig_len = sl > 0 && sl <= TRL_SIG_LEN ? (size_t)sl : 0;
        if (sig_len)
            memcpy(sig, sqlite3_column_blob(st, 3), sig_len);
        uint64_t last = expect - 1;
        if (hseq > last)
            report(v, TRL_VERIFY_DELETED, last + 1,
                   "the signed ledger head is at entry %llu but the ledger ends at %llu (deleted)",
                   (unsigned long long)hseq, (unsigned long long)last);
        else if (hseq < last)
            report(v, TRL_VERIFY_INSERTED, hseq + 1,
                   "ledger entries %llu..%llu are not covered by the signed head (inserted)",
                   (unsigned long long)(hseq + 1), (unsigned long long)last);
        else if (memcmp(hhash, prev, TRL_SHA256_LEN) != 0)
            report(v, TRL_VERIFY_ALTERED, hseq,
                   "the last ledger entry is not the one the head signed (altered)");
        if (hseq > 0 || sig_len)
            check_head(v, "ledger", hseq, hhash, kid ? kid : "", sig, sig_len);
    } else {
        report(v, TRL_VERIFY_UNREADABLE, 0, "the ledger head cannot be read");
    }
    sqlite3_finalize(st);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
}

/* The state of one day in a fresh read of the ledger: resolves races with a running writer that
 * created or removed a partition after the ledger snapshot was taken. */
static enum trl_ledger_state fresh_state(const char *events_dir, const char *day)
{
    struct trl_ledger *l = NULL;
    enum trl_ledger_state s = TRL_LEDGER_NONE;
    if (trl_ledger_open_ro(events_dir, &l) == 0)
        trl_ledger_state(l, day, &s);
    trl_ledger_close(l);
    return s;
}

static void report_strays(struct verifier *v, const char *events_dir)
{
    DIR *d = opendir(events_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        bool planted = strstr(e->d_name, ".db.quarantined.") != NULL;
        if (planted || strstr(e->d_name, ".db.altered.")) {
            char day[TRL_DAY_LEN + 1];
            snprintf(day, sizeof(day), "%.10s", e->d_name);
            begin_scope(v, day);
            if (planted)
                report(v, TRL_VERIFY_INSERTED, 0,
                       "%s: a partition file with blocks but no ledger entry, moved aside by the "
                       "writer (inserted)",
                       e->d_name);
            else
                report(v, TRL_VERIFY_ALTERED, 0,
                       "%s: a partition whose chain head the writer did not leave (changed outside "
                       "it), moved aside by the writer, which started the day afresh (altered)",
                       e->d_name);
            end_scope(v);
        }
    }
    closedir(d);
}

int trl_store_verify(const char *data_dir, const struct trl_verify_opts *opts, trl_verify_fn fn,
                     void *ud, struct trl_verify_summary *sum)
{
    struct trl_verify_summary local = {0};
    if (!sum)
        sum = &local;
    memset(sum, 0, sizeof(*sum));
    struct verifier v = {.fn = fn, .ud = ud, .sum = sum};
    char events_dir[PATH_MAX];
    if (snprintf(events_dir, sizeof(events_dir), "%s/events", data_dir) >= (int)sizeof(events_dir))
        return -ENAMETOOLONG;
    if (access(events_dir, R_OK | X_OK) != 0)
        return -errno;

    /* Files first, then the ledger: a partition the writer creates in between is then in the
     * ledger but not in the listing, which fresh_state() resolves. */
    int64_t *days = NULL;
    size_t ndays = 0;
    int rc = trl_store_list_days(events_dir, &days, &ndays);
    if (rc != 0)
        return rc;

    /* A store that never committed anything (a writer stopped before its first partition) has
     * nothing signed yet, and may have no key yet either. */
    begin_scope(&v, "keys");
    rc = trl_store_key_open_public(data_dir, opts ? opts->pubkey_path : NULL, &v.key);
    if (rc == 0)
        snprintf(sum->key_id, sizeof(sum->key_id), "%s", trl_store_key_id(v.key));
    else if (ndays > 0 || (opts && opts->pubkey_path))
        report(&v, TRL_VERIFY_SIGNATURE, 0, "no public key (%s): signatures cannot be checked",
               opts && opts->pubkey_path ? opts->pubkey_path : "keys/store-signing.pub");
    end_scope(&v);
    struct ledger_view lv = {0};
    struct trl_ledger *l = NULL;
    begin_scope(&v, "ledger");
    /* A writer killed while creating the ledger leaves a file without tables: as good as none. */
    char ledger_path[PATH_MAX];
    bool blank = snprintf(ledger_path, sizeof(ledger_path), "%s/%s", events_dir, TRL_LEDGER_FILE) <
                     (int)sizeof(ledger_path) &&
                 uninitialised(ledger_path);
    rc = blank ? -ENOENT : trl_ledger_open_ro(events_dir, &l);
    if (rc == 0) {
        lv.present = true;
        verify_ledger(&v, l, &lv);
        trl_ledger_close(l);
    } else if (ndays > 0) {
        report(&v, TRL_VERIFY_DELETED, 0, "the ledger (events/%s) is missing", TRL_LEDGER_FILE);
    }
    end_scope(&v);

    for (size_t i = 0; i < ndays; i++) {
        char day[TRL_DAY_LEN + 1], path[PATH_MAX];
        trl_day_name(days[i], day);
        if (trl_store_partition_path(events_dir, day, path) != 0)
            continue;
        begin_scope(&v, day);
        struct day_state *s = day_slot(&lv, day);
        uint32_t before = sum->findings;
        uint64_t blocks_before = sum->blocks, events_before = sum->events;
        uint64_t head_seq = 0;
        int kind = verify_partition(&v, path, &head_seq);
        sum->partitions++;
        enum trl_ledger_state state = s->state;
        if (state != TRL_LEDGER_OPEN && lv.present)
            state = fresh_state(events_dir, day);
        /* The ledger entry follows the schema: once it is there, the tables must be too (a
         * second look covers a writer finishing the creation meanwhile). */
        if (kind == UNINITIALISED && state == TRL_LEDGER_OPEN)
            kind = verify_partition(&v, path, &head_seq);
        if (kind == UNINITIALISED) {
            if (state == TRL_LEDGER_OPEN)
                report(&v, TRL_VERIFY_DELETED, 0,
                       "the partition is in the ledger but its file holds no tables (emptied)");
            else
                report(&v, TRL_VERIFY_NOTE, 0,
                       "a partition file whose creation was interrupted (no tables yet)");
        } else if (state == TRL_LEDGER_NONE && lv.present) {
            if (head_seq > 0)
                report(&v, TRL_VERIFY_INSERTED, 0,
                       "the partition holds blocks but is not in the ledger (inserted)");
            else
                report(&v, TRL_VERIFY_NOTE, 0, "an empty partition not yet in the ledger");
        } else if (state == TRL_LEDGER_REMOVED) {
            report(&v, TRL_VERIFY_NOTE, 0,
                   "removed by retention; the writer deletes the file when it next starts");
        }
        if (sum->findings == before)
            report(&v, TRL_VERIFY_OK, 0, "%llu blocks, %llu events, chain and signature ok",
                   (unsigned long long)(sum->blocks - blocks_before),
                   (unsigned long long)(sum->events - events_before));
        s->state = TRL_LEDGER_NONE; /* seen */
        end_scope(&v);
    }
    for (size_t i = 0; i < lv.n; i++) {
        struct day_state *s = &lv.d[i];
        if (s->state == TRL_LEDGER_REMOVED) {
            sum->removed_partitions++;
            continue;
        }
        if (s->state != TRL_LEDGER_OPEN)
            continue;
        begin_scope(&v, s->day);
        enum trl_ledger_state now = fresh_state(events_dir, s->day);
        if (now == TRL_LEDGER_REMOVED)
            sum->removed_partitions++;
        else
            report(&v, TRL_VERIFY_DELETED, 0,
                   "the partition file is missing and was not removed by retention (deleted)");
        end_scope(&v);
    }
    report_strays(&v, events_dir);
    free(lv.d);
    free(days);
    trl_store_key_free(v.key);
    return 0;
}

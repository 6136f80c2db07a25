#include "store/match.h"
#include "core/arena.h"
#include "core/util.h"

#include "core/timeutil.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct mnode {
    enum trl_qnode_kind kind;
    uint32_t tid; /* TRL_Q_TERM: its number in the plan (bit of the block scan) */
    struct mnode **kids;
    uint32_t nkids;
    /* TRL_Q_TERM */
    enum trl_qterm_kind term;
    const char *field; /* lower-cased, or NULL */
    size_t field_len;
    const char *text; /* lower-cased */
    size_t text_len;
    int col;         /* keyword column of the field, or -1 */
    bool text_field; /* the field is searched as text (or there is no field) */
    bool indexed;    /* the field's values are in the index */
    bool has_field_hash;
    uint64_t field_hash;
    uint64_t *tok_hash; /* text tokens every matching event has */
    struct trl_str *tok;
    size_t ntok;
    bool json_value_check; /* text must appear verbatim in the JSON */
    bool has_slash;        /* the text holds '/', which JSON may escape as \/ */
    struct trl_str *lits;  /* pattern: literal parts that must appear verbatim in the JSON */
    size_t nlits;
    /* TRL_QT_RANGE: how the bounds compare, and their values in that form */
    enum { RANGE_TEXT, RANGE_NUM, RANGE_TIME } rmode;
    struct trl_qrange range;
    double lo_num, hi_num;
    int64_t lo_ts, hi_ts;
    struct trl_qcidr cidr; /* TRL_QT_CIDR */
};

struct trl_match {
    struct trl_arena *a;
    struct mnode *root;
    bool columns_only;
    bool has_event_check;
    uint32_t colmask;
    struct mnode **terms; /* every term, by tid */
    uint32_t nterms, terms_cap;
};

struct tok_list {
    struct trl_arena *a;
    uint64_t *hash;
    struct trl_str *tok;
    size_t n, cap;
};

static void tok_list_add(struct tok_list *l, const char *t, size_t n)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->tok[i].len == n && memcmp(l->tok[i].ptr, t, n) == 0)
            return;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        uint64_t *h = trl_arena_alloc(l->a, cap * sizeof(*h));
        struct trl_str *s = trl_arena_alloc(l->a, cap * sizeof(*s));
        if (l->n) {
            memcpy(h, l->hash, l->n * sizeof(*h));
            memcpy(s, l->tok, l->n * sizeof(*s));
        }
        l->hash = h;
        l->tok = s;
        l->cap = cap;
    }
    l->hash[l->n] = trl_term_text_hash(t, n);
    l->tok[l->n].ptr = t;
    l->tok[l->n].len = n;
    l->n++;
}

static void tok_cb(void *ud, const char *t, size_t n)
{
    tok_list_add(ud, t, n);
}

/* Tokens every value matched by a pattern must contain: the tokens of its literal parts that end
 * at a word break inside the part, or at the pattern's start or end (which the match aligns with
 * a word start or end). Tokens touching a '*' may be partial and are not required. */
static void glob_required_tokens(struct tok_list *l, const char *pat, size_t plen)
{
    char *lit = trl_arena_alloc(l->a, plen + 1);
    size_t i = 0;
    while (i <= plen) {
        bool at_pattern_start = i == 0;
        size_t n = 0;
        while (i < plen && pat[i] != '*') {
            if (pat[i] == '\\' && i + 1 < plen)
                i++;
            lit[n++] = pat[i++];
        }
        bool at_pattern_end = i >= plen;
        /* lit[0..n) is one literal part: its complete tokens, and pairs of complete tokens
         * joined by one joiner (as the index holds them). */
        size_t j = 0, prev_s = 0, prev_e = 0;
        bool prev_complete = false;
        while (j < n) {
            while (j < n && !trl_term_is_word((unsigned char)lit[j]))
                j++;
            size_t s = j;
            while (j < n && trl_term_is_word((unsigned char)lit[j]))
                j++;
            if (j == s)
                break;
            bool left_ok = s > 0 || at_pattern_start;
            bool right_ok = j < n || at_pattern_end;
            bool complete = left_ok && right_ok;
            if (complete)
                tok_list_add(l, trl_arena_strndup(l->a, lit + s, j - s), j - s);
            if (complete && prev_complete && s == prev_e + 1 &&
                trl_term_is_joiner((unsigned char)lit[prev_e]))
                tok_list_add(l, trl_arena_strndup(l->a, lit + prev_s, j - prev_s), j - prev_s);
            prev_complete = complete;
            prev_s = s;
            prev_e = j;
        }
        lit += n;
        i++; /* the star */
    }
}

static bool json_safe(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80)
            return false;
    }
    return true;
}

/* The literal parts between the stars of a pattern, unescaped, kept when JSON-safe. */
static void glob_literals(struct trl_match *m, struct mnode *n)
{
    n->lits = trl_arena_alloc(m->a, (n->text_len / 2 + 1) * sizeof(*n->lits));
    char *buf = trl_arena_alloc(m->a, n->text_len + 1);
    size_t i = 0;
    while (i < n->text_len) {
        size_t k = 0;
        char *lit = buf;
        while (i < n->text_len && n->text[i] != '*') {
            if (n->text[i] == '\\' && i + 1 < n->text_len)
                i++;
            lit[k++] = n->text[i++];
        }
        i++;
        buf += k;
        if (k > 0 && json_safe(lit, k))
            n->lits[n->nlits++] = (struct trl_str){lit, k};
    }
}

/* The whole of [v, v+n) as a finite number. */
static bool as_number(const char *v, size_t n, double *out)
{
    char tmp[64];
    if (n == 0 || n >= sizeof(tmp) || v[0] == ' ' || v[0] == '\t')
        return false;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    char *end;
    double d = strtod(tmp, &end);
    if (*end != '\0' || !isfinite(d))
        return false;
    *out = d;
    return true;
}

/* The whole of [v, v+n) as an RFC 3339 time; the query's bounds are lower-cased, so 't' and 'z'
 * are accepted too. */
static bool as_time(const char *v, size_t n, int64_t *out)
{
    char tmp[64];
    if (n < 10 || n >= sizeof(tmp))
        return false;
    for (size_t i = 0; i < n; i++)
        tmp[i] = v[i] == 't' ? 'T' : v[i] == 'z' ? 'Z' : v[i];
    return trl_parse_rfc3339(tmp, n, out) == n;
}

static void compile_range(struct mnode *n, const struct trl_qnode *q)
{
    const struct trl_qrange *r = &q->range;
    n->range = *r;
    bool num = true, time = true;
    if (r->lo) {
        num &= as_number(r->lo, r->lo_len, &n->lo_num);
        time &= as_time(r->lo, r->lo_len, &n->lo_ts);
    }
    if (r->hi) {
        num &= as_number(r->hi, r->hi_len, &n->hi_num);
        time &= as_time(r->hi, r->hi_len, &n->hi_ts);
    }
    n->rmode = num ? RANGE_NUM : time ? RANGE_TIME : RANGE_TEXT;
}

static struct mnode *compile(struct trl_match *m, const struct trl_qnode *q)
{
    struct mnode *n = trl_arena_alloc(m->a, sizeof(*n));
    memset(n, 0, sizeof(*n));
    n->kind = q->kind;
    n->col = -1;
    if (q->kind != TRL_Q_TERM) {
        n->nkids = q->nkids;
        n->kids = trl_arena_alloc(m->a, (q->nkids ? q->nkids : 1) * sizeof(*n->kids));
        uint32_t i = 0;
        for (const struct trl_qnode *k = q->kids; k && i < q->nkids; k = k->next)
            n->kids[i++] = compile(m, k);
        n->nkids = i;
        return n;
    }
    if (m->nterms == m->terms_cap) {
        uint32_t cap = m->terms_cap ? m->terms_cap * 2 : 8;
        struct mnode **t = trl_arena_alloc(m->a, cap * sizeof(*t));
        if (m->nterms)
            memcpy(t, m->terms, m->nterms * sizeof(*t));
        m->terms = t;
        m->terms_cap = cap;
    }
    n->tid = m->nterms;
    m->terms[m->nterms++] = n;
    n->term = q->term;
    n->field = q->field;
    n->field_len = q->field ? q->field_len : 0;
    n->text = q->text ? q->text : "";
    n->text_len = q->text ? q->text_len : 0;
    if (n->term == TRL_QT_RANGE)
        compile_range(n, q);
    if (n->term == TRL_QT_CIDR)
        n->cidr = q->cidr;
    n->text_field = !n->field || trl_store_is_text_field(n->field, n->field_len);
    n->indexed = !n->field || trl_store_is_indexed_field(n->field, n->field_len);
    if (n->field) {
        n->col = trl_col_for_path(n->field, n->field_len);
        if (n->col >= 0)
            m->colmask |= 1u << n->col;
    }
    if (n->col < 0)
        m->columns_only = false;
    struct tok_list l = {.a = m->a};
    if (n->indexed && n->text_field && n->term == TRL_QT_TEXT)
        trl_term_index_terms(n->text, n->text_len, tok_cb, &l);
    else if (n->indexed && n->text_field && n->term == TRL_QT_GLOB)
        glob_required_tokens(&l, n->text, n->text_len);
    n->tok_hash = l.hash;
    n->tok = l.tok;
    n->ntok = l.n;
    if (n->ntok)
        m->has_event_check = true;
    if (n->indexed && !n->text_field && n->term == TRL_QT_TEXT) {
        n->has_field_hash = true;
        n->field_hash = trl_term_field_hash(n->field, n->field_len, n->text, n->text_len);
    }
    /* A value holding the text (or a pattern's literal parts) shows it verbatim in the event's
     * JSON, unless the encoder had to escape it: a cheap test before walking the JSON. */
    if (n->term == TRL_QT_TEXT) {
        n->json_value_check = n->text_len > 0 && json_safe(n->text, n->text_len);
        n->has_slash = memchr(n->text, '/', n->text_len) != NULL;
    } else if (n->term == TRL_QT_GLOB)
        glob_literals(m, n);
    if (n->json_value_check || n->nlits)
        m->has_event_check = true;
    return n;
}

struct trl_match *trl_match_compile(const struct trl_query *q)
{
    struct trl_match *m = trl_xcalloc(1, sizeof(*m));
    m->a = trl_arena_create(4096);
    m->columns_only = true;
    m->root = compile(m, q->root);
    return m;
}

void trl_match_free(struct trl_match *m)
{
    if (!m)
        return;
    trl_arena_destroy(m->a);
    free(m);
}

bool trl_match_all(const struct trl_match *m)
{
    return m->root->kind == TRL_Q_ALL;
}

bool trl_match_columns_only(const struct trl_match *m)
{
    return m->columns_only;
}

uint32_t trl_match_columns(const struct trl_match *m)
{
    return m->colmask;
}

/* ------------------------------------------------------------------------------------------ */
/* Block pre-check                                                                             */

struct set_probe {
    const struct mnode *n;
};

static bool set_has_text(void *ud, const char *v, size_t len)
{
    const struct mnode *n = ((struct set_probe *)ud)->n;
    return len == n->text_len && memcmp(v, n->text, len) == 0;
}

static bool set_has_glob(void *ud, const char *v, size_t len)
{
    const struct mnode *n = ((struct set_probe *)ud)->n;
    return trl_glob_match(n->text, n->text_len, v, len);
}

static bool value_matches(const struct mnode *n, const char *v, size_t len);

static bool set_has_value(void *ud, const char *v, size_t len)
{
    return value_matches(((struct set_probe *)ud)->n, v, len);
}

/* Lexicographic order of byte strings. */
static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : an < bn ? -1 : an > bn ? 1 : 0;
}

/* Can a range or address test hold in this block? The Bloom filter knows nothing of order, so
 * only the time range and the column summaries can tell. */
static bool bounded_block_maybe(const struct mnode *n, const struct trl_block_meta *meta)
{
    if (n->term == TRL_QT_RANGE && n->rmode == RANGE_TIME && n->field_len == 10 &&
        !memcmp(n->field, "@timestamp", 10)) {
        const struct trl_qrange *r = &n->range;
        if (r->lo && (meta->max_ts < n->lo_ts || (!r->lo_incl && meta->max_ts == n->lo_ts)))
            return false;
        if (r->hi && (meta->min_ts > n->hi_ts || (!r->hi_incl && meta->min_ts == n->hi_ts)))
            return false;
        return true;
    }
    if (n->col < 0)
        return true;
    const struct trl_block_summary *s = &meta->sum[n->col];
    if (!s->present)
        return true;
    if (s->nonempty == 0)
        return false;
    struct set_probe probe = {n};
    if (s->set_complete)
        return trl_block_summary_any(s, set_has_value, &probe);
    if (n->term == TRL_QT_RANGE && n->rmode == RANGE_TEXT && s->has_minmax) {
        const struct trl_qrange *r = &n->range;
        if (r->lo) {
            int c = bytes_cmp(s->max.ptr, s->max.len, r->lo, r->lo_len);
            if (c < 0 || (c == 0 && !r->lo_incl))
                return false;
        }
        if (r->hi) {
            int c = bytes_cmp(s->min.ptr, s->min.len, r->hi, r->hi_len);
            if (c > 0 || (c == 0 && !r->hi_incl))
                return false;
        }
    }
    return true;
}

static bool term_block_maybe(const struct mnode *n, const struct trl_block_meta *meta)
{
    if (n->term == TRL_QT_RANGE || n->term == TRL_QT_CIDR)
        return bounded_block_maybe(n, meta);
    for (size_t i = 0; i < n->ntok; i++) {
        if (!trl_bloom_maybe(&meta->bloom, n->tok_hash[i]))
            return false;
    }
    if (n->has_field_hash && !trl_bloom_maybe(&meta->bloom, n->field_hash))
        return false;
    if (n->col < 0)
        return true;
    const struct trl_block_summary *s = &meta->sum[n->col];
    if (!s->present)
        return true;
    if (s->nonempty == 0)
        return false; /* no event has the field: no test on it can pass */
    struct set_probe probe = {n};
    if (s->set_complete && n->term == TRL_QT_TEXT)
        return trl_block_summary_any(s, set_has_text, &probe);
    if (s->set_complete && n->term == TRL_QT_GLOB)
        return trl_block_summary_any(s, set_has_glob, &probe);
    return true;
}

static bool block_maybe(const struct mnode *n, const struct trl_block_meta *meta)
{
    switch (n->kind) {
    case TRL_Q_ALL:
    case TRL_Q_NOT:
        return true;
    case TRL_Q_AND:
        for (uint32_t i = 0; i < n->nkids; i++) {
            if (!block_maybe(n->kids[i], meta))
                return false;
        }
        return true;
    case TRL_Q_OR:
        for (uint32_t i = 0; i < n->nkids; i++) {
            if (block_maybe(n->kids[i], meta))
                return true;
        }
        return false;
    case TRL_Q_TERM:
        return term_block_maybe(n, meta);
    }
    return true;
}

bool trl_match_block_maybe(const struct trl_match *m, const struct trl_block_meta *meta)
{
    return block_maybe(m->root, meta);
}

/* ------------------------------------------------------------------------------------------ */
/* Event pre-check on the raw JSON                                                             */

void trl_match_ctx_init(struct trl_match_ctx *c)
{
    memset(c, 0, sizeof(*c));
    trl_leaves_init(&c->leaves);
}

void trl_match_ctx_free(struct trl_match_ctx *c)
{
    trl_leaves_free(&c->leaves);
    free(c->lower);
    free(c->bits);
    free(c->rel);
    free(c->shape_mask);
    free(c->occ);
    memset(c, 0, sizeof(*c));
}

/* The capacity to give a scratch buffer that must hold need elements: blocks differ in size, and
 * growing by half at least keeps a search from replacing (and faulting in afresh) a buffer of
 * hundreds of kilobytes at nearly every block. */
static size_t grow_cap(size_t cap, size_t need)
{
    size_t next = cap + cap / 2;
    if (next < 4096)
        next = 4096;
    return next > need ? next : need;
}

static bool event_maybe(const struct mnode *n, const char *lj, size_t len)
{
    switch (n->kind) {
    case TRL_Q_ALL:
    case TRL_Q_NOT:
        return true;
    case TRL_Q_AND:
        for (uint32_t i = 0; i < n->nkids; i++) {
            if (!event_maybe(n->kids[i], lj, len))
                return false;
        }
        return true;
    case TRL_Q_OR:
        for (uint32_t i = 0; i < n->nkids; i++) {
            if (event_maybe(n->kids[i], lj, len))
                return true;
        }
        return false;
    case TRL_Q_TERM:
        break;
    }
    /* Word characters are never escaped by the encoder, so every token of a matching value
     * appears in the JSON text as it is (lower-cased here like the tokens). */
    for (size_t i = 0; i < n->ntok; i++) {
        if (!memmem(lj, len, n->tok[i].ptr, n->tok[i].len))
            return false;
    }
    if (n->json_value_check && !memmem(lj, len, n->text, n->text_len))
        return false;
    for (size_t i = 0; i < n->nlits; i++) {
        if (!memmem(lj, len, n->lits[i].ptr, n->lits[i].len))
            return false;
    }
    return true;
}

bool trl_match_event_maybe(const struct trl_match *m, struct trl_match_ctx *c, const char *json,
                           size_t len)
{
    if (!m->has_event_check)
        return true;
    if (c->lower_cap < len + 1) {
        free(c->lower);
        c->lower_cap = grow_cap(c->lower_cap, len + 1);
        c->lower = trl_xmalloc(c->lower_cap);
    }
    for (size_t i = 0; i < len; i++)
        c->lower[i] = (char)trl_ascii_lower((unsigned char)json[i]);
    return event_maybe(m->root, c->lower, len);
}

/* ------------------------------------------------------------------------------------------ */
/* Exact evaluation                                                                            */

static bool eq_nocase(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (trl_ascii_lower((unsigned char)a[i]) != (unsigned char)b[i])
            return false;
    }
    return true;
}

/* The text occurs in v without splitting a word at either end. */
static bool text_in(const char *v, size_t len, const char *t, size_t tlen)
{
    if (tlen == 0)
        return true;
    if (tlen > len)
        return false;
    bool t_starts_word = trl_term_is_word((unsigned char)t[0]);
    bool t_ends_word = trl_term_is_word((unsigned char)t[tlen - 1]);
    unsigned char first = (unsigned char)t[0];
    for (size_t i = 0; i + tlen <= len; i++) {
        if (trl_ascii_lower((unsigned char)v[i]) != first)
            continue;
        if (t_starts_word && i > 0 && trl_term_is_word((unsigned char)v[i - 1]))
            continue;
        if (t_ends_word && i + tlen < len && trl_term_is_word((unsigned char)v[i + tlen]))
            continue;
        if (eq_nocase(v + i + 1, t + 1, tlen - 1))
            return true;
    }
    return false;
}

/* Separators of the coarse words a pattern is tried against: whitespace, control bytes, quotes,
 * brackets and the usual key=value punctuation. */
static bool major_break(unsigned char c)
{
    return c <= ' ' || c == '"' || c == '\'' || c == '(' || c == ')' || c == '[' || c == ']' ||
           c == '{' || c == '}' || c == '<' || c == '>' || c == ',' || c == ';' || c == '|' ||
           c == '=' || c == 0x7f;
}

static bool glob_any_word(const char *pat, size_t plen, const char *v, size_t len)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && major_break((unsigned char)v[i]))
            i++;
        size_t s = i;
        while (i < len && !major_break((unsigned char)v[i]))
            i++;
        if (i > s && trl_glob_match(pat, plen, v + s, i - s))
            return true;
    }
    i = 0;
    while (i < len) {
        while (i < len && !trl_term_is_word((unsigned char)v[i]))
            i++;
        size_t s = i;
        while (i < len && trl_term_is_word((unsigned char)v[i]))
            i++;
        if (i > s && trl_glob_match(pat, plen, v + s, i - s))
            return true;
    }
    return false;
}

static bool range_matches(const struct mnode *n, const char *v, size_t len)
{
    const struct trl_qrange *r = &n->range;
    int lo = 1, hi = -1; /* value against each bound: <0, 0, >0 */
    if (n->rmode == RANGE_NUM) {
        double d;
        if (!as_number(v, len, &d))
            return false;
        if (r->lo)
            lo = d < n->lo_num ? -1 : d > n->lo_num ? 1 : 0;
        if (r->hi)
            hi = d < n->hi_num ? -1 : d > n->hi_num ? 1 : 0;
    } else if (n->rmode == RANGE_TIME) {
        int64_t t;
        if (!as_time(v, len, &t))
            return false;
        if (r->lo)
            lo = t < n->lo_ts ? -1 : t > n->lo_ts ? 1 : 0;
        if (r->hi)
            hi = t < n->hi_ts ? -1 : t > n->hi_ts ? 1 : 0;
    } else {
        /* Text compares lower-cased, byte by byte. */
        if (r->lo) {
            size_t k = 0;
            int c = 0;
            for (; k < len && k < r->lo_len && !c; k++)
                c = (int)trl_ascii_lower((unsigned char)v[k]) - (int)(unsigned char)r->lo[k];
            lo = c ? c : len < r->lo_len ? -1 : len > r->lo_len ? 1 : 0;
        }
        if (r->hi) {
            size_t k = 0;
            int c = 0;
            for (; k < len && k < r->hi_len && !c; k++)
                c = (int)trl_ascii_lower((unsigned char)v[k]) - (int)(unsigned char)r->hi[k];
            hi = c ? c : len < r->hi_len ? -1 : len > r->hi_len ? 1 : 0;
        }
    }
    if (lo < 0 || (lo == 0 && !r->lo_incl))
        return false;
    if (hi > 0 || (hi == 0 && !r->hi_incl))
        return false;
    return true;
}

static bool value_matches(const struct mnode *n, const char *v, size_t len)
{
    switch (n->term) {
    case TRL_QT_RANGE:
        return range_matches(n, v, len);
    case TRL_QT_CIDR:
        return trl_cidr_contains(&n->cidr, v, len);
    case TRL_QT_EXISTS:
        return true;
    case TRL_QT_TEXT:
        if (n->text_field)
            return text_in(v, len, n->text, n->text_len);
        return len == n->text_len && eq_nocase(v, n->text, len);
    case TRL_QT_GLOB:
        if (n->text_field)
            return glob_any_word(n->text, n->text_len, v, len);
        return trl_glob_match(n->text, n->text_len, v, len);
    }
    return false;
}

static bool term_on_column(const struct mnode *n, const struct trl_block_decoder *d, uint32_t i)
{
    const struct trl_strcol *s = &d->str[n->col];
    for (uint32_t k = s->first[i]; k < s->first[i + 1]; k++) {
        if (value_matches(n, s->vals[k].ptr, s->vals[k].len))
            return true;
    }
    return false;
}

static bool path_is(const char *path, size_t plen, const struct mnode *n)
{
    if (plen == n->field_len)
        return strncasecmp(path, n->field, plen) == 0;
    /* field:* also holds when the field is an object with something below it. */
    return n->term == TRL_QT_EXISTS && plen > n->field_len && path[n->field_len] == '.' &&
           strncasecmp(path, n->field, n->field_len) == 0;
}

static bool term_on_leaves(const struct mnode *n, const struct trl_leaves *l)
{
    for (size_t k = 0; k < l->n; k++) {
        const struct trl_leaf *f = &l->items[k];
        const char *path = trl_leaf_path(l, f);
        if (n->field) {
            if (!path_is(path, f->path_len, n))
                continue;
        } else if (!trl_store_is_indexed_field(path, f->path_len)) {
            continue;
        }
        if (value_matches(n, trl_leaf_val(l, f), f->val_len))
            return true;
    }
    return false;
}

struct eval {
    const struct trl_block_decoder *d;
    uint32_t i;
    const struct trl_leaves *leaves; /* NULL: use columns (or bits) */
    const uint8_t *bits;             /* the block scan's results: term t of event i at t*count+i */
    uint32_t count;
};

static bool eval(const struct mnode *n, const struct eval *e)
{
    switch (n->kind) {
    case TRL_Q_ALL:
        return true;
    case TRL_Q_NOT:
        return n->nkids ? !eval(n->kids[0], e) : true;
    case TRL_Q_AND:
        for (uint32_t k = 0; k < n->nkids; k++) {
            if (!eval(n->kids[k], e))
                return false;
        }
        return true;
    case TRL_Q_OR:
        for (uint32_t k = 0; k < n->nkids; k++) {
            if (eval(n->kids[k], e))
                return true;
        }
        return false;
    case TRL_Q_TERM:
        break;
    }
    if (e->bits)
        return e->bits[(size_t)n->tid * e->count + e->i] != 0;
    if (!e->leaves)
        return n->col >= 0 && e->d && e->d->decoded[n->col] ? term_on_column(n, e->d, e->i) : false;
    return term_on_leaves(n, e->leaves);
}

bool trl_match_event(const struct trl_match *m, struct trl_match_ctx *c,
                     const struct trl_block_decoder *d, uint32_t i, const char *json, size_t len)
{
    struct eval e = {d, i, NULL, NULL, 0};
    if (json) {
        trl_leaves_reset(&c->leaves);
        (void)trl_json_leaves(json, len, &c->leaves);
        e.leaves = &c->leaves;
    }
    return eval(m->root, &e);
}

/* ------------------------------------------------------------------------------------------ */
/* Evaluation over a shredded block                                                            */

struct scan_ctx {
    const struct trl_match *m;
    struct trl_match_ctx *c;
    struct trl_shred_scan *s;
};

/* The term's text could be (part of) a time as trl_format_rfc3339() writes it, lower-cased: such a
 * value may be stored as a delta from the event's timestamp, not as text. */
static bool time_like(const struct mnode *n)
{
    size_t i = 0;
    while (i < n->text_len && memchr("0123456789-:.tz+", n->text[i], 16))
        i++;
    return i == n->text_len;
}

static bool scan_stream(void *ud, uint32_t sid, const char *path, size_t plen)
{
    struct scan_ctx *sc = ud;
    const struct trl_match *m = sc->m;
    struct trl_match_ctx *c = sc->c;
    uint64_t mask = 0;
    bool indexed = trl_store_is_indexed_field(path, plen);
    for (uint32_t t = 0; t < m->nterms; t++) {
        const struct mnode *n = m->terms[t];
        if (n->field ? path_is(path, plen, n) : indexed)
            mask |= 1ULL << t;
    }
    /* A stream whose stored values hold none of its terms' texts (and no escape, and no
     * reference into an original, which has its own bytes) need not be read at all. Its values
     * lie in each part of the column (one part before format 5). */
    const struct trl_shred_scan *s = sc->s;
    bool plain = mask && (mask & ~c->prefilter) == 0;
    for (size_t k = 0; plain && k < s->nparts; k++) {
        const struct trl_shred_part *pt = &s->parts[k];
        if (sid >= pt->nst)
            continue;
        const struct trl_shred_cursor *st = &s->start[pt->cur_off + sid];
        plain = st->refs == st->refs_end &&
                !trl_bits_any(c->occ + c->words * m->nterms, st->vals, st->vals_end);
    }
    if (plain) {
        uint64_t keep = 0;
        for (uint64_t k = mask; k; k &= k - 1) {
            uint32_t t = (uint32_t)__builtin_ctzll(k);
            /* A time stored as a delta from the timestamp is not in the values as text. */
            bool found = time_like(m->terms[t]);
            for (size_t j = 0; !found && j < s->nparts; j++) {
                const struct trl_shred_part *pt = &s->parts[j];
                if (sid >= pt->nst)
                    continue;
                const struct trl_shred_cursor *st = &s->start[pt->cur_off + sid];
                found = trl_bits_any(c->occ + c->words * t, st->vals, st->vals_end);
            }
            if (found)
                keep |= 1ULL << t;
        }
        mask = keep;
    }
    c->rel[sid] = mask;
    return mask != 0;
}

static inline void set_bit(uint64_t *b, size_t i)
{
    b[i >> 6] |= 1ULL << (i & 63);
}

/* How common a byte is in lower-cased log text, roughly (higher: more common). */
static int byte_rank(unsigned char c)
{
    static const char letters[] = "zqxjkvbpygfwmucldrhsnioate";
    if (c >= '0' && c <= '9')
        return 40;
    if (c == ' ' || c == '.' || c == '"' || c == ':' || c == '-' || c == '/' || c == '=')
        return 30;
    const char *p = c >= 'a' && c <= 'z' ? strchr(letters, c) : NULL;
    return p ? 4 + (int)(p - letters) : 2;
}

/* Marks in occ every place of h[0..n) where the text t (lower-cased, tlen > 0) occurs, ASCII
 * case-insensitively. memchr() of the text's least common byte, in each case, finds the
 * candidates: far faster than a general substring search, and the column needs no lower-cased
 * copy. */
static void mark_text(uint64_t *occ, const char *h, size_t n, const char *t, size_t tlen)
{
    if (tlen > n)
        return;
    size_t k = 0;
    for (size_t i = 1; i < tlen; i++) {
        if (byte_rank((unsigned char)t[i]) < byte_rank((unsigned char)t[k]))
            k = i;
    }
    unsigned char lc = (unsigned char)t[k];
    unsigned char uc = lc >= 'a' && lc <= 'z' ? (unsigned char)(lc - 32) : lc;
    const char *last = h + (n - tlen) + k; /* the last place byte k of an occurrence can be */
    for (int pass = 0; pass < (uc != lc ? 2 : 1); pass++) {
        const char *p = h + k;
        while (p <= last && (p = memchr(p, pass ? uc : lc, (size_t)(last - p) + 1))) {
            if (eq_nocase(p - k, t, tlen))
                set_bit(occ, (size_t)(p - k - h));
            p++;
        }
    }
}

/* Is some backslash of the column (marked by find_occurrences()) followed by c? */
static bool escape_before(const struct trl_match_ctx *c, const struct trl_shred_scan *s, char ch)
{
    const uint64_t *bs = c->occ + c->words * (c->nterms_occ);
    for (size_t w = 0; w < c->words; w++) {
        for (uint64_t b = bs[w]; b; b &= b - 1) {
            size_t i = w * 64 + (size_t)__builtin_ctzll(b);
            if (i + 1 < s->len && s->base[i + 1] == (uint8_t)ch)
                return true;
        }
    }
    return false;
}

/* For the terms whose text every matching value holds (lower-cased, as it is), marks where it
 * occurs in the block's stored values; and marks the backslashes (escaped strings are tested
 * unescaped, without this shortcut). A value without an occurrence inside it is then passed over
 * without looking at its bytes. */
static void find_occurrences(const struct trl_match *m, struct trl_match_ctx *c,
                             const struct trl_shred_scan *s)
{
    c->col = (const char *)s->base;
    c->col_len = s->len;
    c->prefilter = 0;
    for (uint32_t t = 0; t < m->nterms; t++) {
        const struct mnode *n = m->terms[t];
        if (n->term == TRL_QT_TEXT && n->json_value_check)
            c->prefilter |= 1ULL << t;
    }
    if (!c->prefilter)
        return;
    c->words = s->len / 64 + 1;
    size_t need = c->words * ((size_t)m->nterms + 2);
    if (c->occ_cap < need) {
        free(c->occ);
        c->occ_cap = grow_cap(c->occ_cap, need);
        c->occ = trl_xmalloc(c->occ_cap * sizeof(*c->occ));
    }
    /* The whole column is searched: the stored values (references' originals included) and the
     * skeletons with the values kept inline, for block_has_no_match(). */
    c->nterms_occ = m->nterms;
    uint64_t *bs = c->occ + c->words * m->nterms;
    memset(bs, 0, c->words * sizeof(*bs));
    const uint8_t *end8 = s->base + s->len;
    for (const uint8_t *q = s->base; q < end8 && (q = memchr(q, '\\', (size_t)(end8 - q))); q++)
        set_bit(bs, (size_t)(q - s->base));
    for (uint64_t mask = c->prefilter; mask; mask &= mask - 1) {
        uint32_t t = (uint32_t)__builtin_ctzll(mask);
        const struct mnode *n = m->terms[t];
        uint64_t *occ = c->occ + c->words * t;
        memset(occ, 0, c->words * sizeof(*occ));
        mark_text(occ, (const char *)s->base, s->len, n->text, n->text_len);
    }
}

/* True when a term every match needs has its text nowhere in the block's column: not in a value,
 * not inline in a skeleton. Escapes could hide it (\u0041 is 'A', \/ is '/'), and a time stored as
 * a delta from the timestamp is not in the column as text: such cases are not ruled out. */
static bool block_has_no_match(const struct trl_match *m, const struct trl_match_ctx *c,
                               const struct trl_shred_scan *s)
{
    const struct mnode *root = m->root;
    const struct mnode *const *req = (const struct mnode *const *)&root;
    uint32_t nreq = 1;
    if (root->kind == TRL_Q_AND) {
        req = (const struct mnode *const *)root->kids;
        nreq = root->nkids;
    }
    for (uint32_t k = 0; k < nreq; k++) {
        const struct mnode *n = req[k];
        if (n->kind != TRL_Q_TERM || !(c->prefilter >> n->tid & 1))
            continue;
        if (trl_bits_any(c->occ + c->words * n->tid, 0, s->len))
            continue;
        if (time_like(n))
            continue;
        if (escape_before(c, s, 'u') ||
            (memchr(n->text, '/', n->text_len) && escape_before(c, s, '/')))
            continue;
        return true;
    }
    return false;
}

/* The escapes of the stored string at [a, a+len) of the column that could stand for a byte of a
 * term's text: \uXXXX (any byte) in *u, \/ in *slash. A term's text is JSON-safe (no quote,
 * backslash or control byte), so no other escape can hide it: without these, a value whose
 * stored bytes lack the text does not hold it unescaped either. */
static void hiding_escapes(const struct trl_match_ctx *c, size_t a, size_t len, bool *u,
                           bool *slash)
{
    const uint64_t *bs = c->occ + c->words * c->nterms_occ;
    *u = *slash = false;
    size_t end = a + len;
    for (size_t w = a >> 6; w <= (end - 1) >> 6 && w < c->words; w++) {
        for (uint64_t b = bs[w]; b; b &= b - 1) {
            size_t i = w * 64 + (size_t)__builtin_ctzll(b);
            if (i < a || i + 1 >= end)
                continue;
            *u |= c->col[i + 1] == 'u';
            *slash |= c->col[i + 1] == '/';
        }
    }
}

/* text_in() for a value stored unescaped at [a, a+len) of the column: only the places where the
 * term's text occurs (marked by find_occurrences()) need their word boundaries checked. */
static bool text_at_occurrences(const struct trl_match_ctx *c, const struct mnode *n, uint32_t t,
                                size_t a, size_t len)
{
    const uint64_t *occ = c->occ + c->words * t;
    const char *v = c->col + a;
    size_t tlen = n->text_len, last = a + len - tlen;
    bool starts_word = trl_term_is_word((unsigned char)n->text[0]);
    bool ends_word = trl_term_is_word((unsigned char)n->text[tlen - 1]);
    for (size_t w = a >> 6; w <= last >> 6; w++) {
        for (uint64_t b = occ[w]; b; b &= b - 1) {
            size_t p = w * 64 + (size_t)__builtin_ctzll(b);
            if (p < a || p > last)
                continue;
            size_t i = p - a;
            if (starts_word && i > 0 && trl_term_is_word((unsigned char)v[i - 1]))
                continue;
            if (ends_word && i + tlen < len && trl_term_is_word((unsigned char)v[i + tlen]))
                continue;
            return true;
        }
    }
    return false;
}

static int scan_value(void *ud, uint32_t ev, uint32_t sid, const char *v, size_t len,
                      bool is_string)
{
    struct scan_ctx *sc = ud;
    struct trl_match_ctx *c = sc->c;
    uint64_t todo = 0;
    for (uint64_t mask = c->rel[sid]; mask; mask &= mask - 1) {
        uint32_t t = (uint32_t)__builtin_ctzll(mask);
        if (!c->bits[(size_t)t * c->count + ev])
            todo |= 1ULL << t;
    }
    if (!todo)
        return 0;
    uintptr_t at = (uintptr_t)v, col = (uintptr_t)c->col;
    bool inside = c->prefilter && at >= col && at - col < c->col_len;
    size_t a = inside ? (size_t)(at - col) : 0;
    bool esc = is_string && (inside ? trl_bits_any(c->occ + c->words * sc->m->nterms, a, a + len)
                                    : memchr(v, '\\', len) != NULL);
    bool hide_u = false, hide_slash = false;
    if (inside && esc && len > 0)
        hiding_escapes(c, a, len, &hide_u, &hide_slash);
    bool unescaped = false;
    for (; todo; todo &= todo - 1) {
        uint32_t t = (uint32_t)__builtin_ctzll(todo);
        const struct mnode *n = sc->m->terms[t];
        bool pre = inside && (c->prefilter >> t & 1);
        if (pre && !hide_u && !(hide_slash && n->has_slash) &&
            (len < n->text_len ||
             !trl_bits_any(c->occ + c->words * t, a, a + len - n->text_len + 1)))
            continue;
        if (pre && !esc && n->text_field) {
            if (text_at_occurrences(c, n, t, a, len))
                c->bits[(size_t)t * c->count + ev] = 1;
            continue;
        }
        if (esc && !unescaped) {
            if (!trl_shred_unescape(sc->s, &v, &len))
                return TRL_ENOMATCH;
            unescaped = true;
        }
        if (value_matches(n, v, len))
            c->bits[(size_t)t * c->count + ev] = 1;
    }
    return 0;
}

static void scan_verbatim(void *ud, uint32_t ev, const char *json, size_t len)
{
    struct scan_ctx *sc = ud;
    struct trl_match_ctx *c = sc->c;
    trl_leaves_reset(&c->leaves);
    (void)trl_json_leaves(json, len, &c->leaves);
    for (uint32_t t = 0; t < sc->m->nterms; t++)
        c->bits[(size_t)t * c->count + ev] = term_on_leaves(sc->m->terms[t], &c->leaves);
}

static void scan_shape(void *ud, uint32_t shape)
{
    struct trl_match_ctx *c = ((struct scan_ctx *)ud)->c;
    if (shape >= c->shape_cap) {
        size_t cap = c->shape_cap ? c->shape_cap * 2 : 64;
        while (cap <= shape)
            cap *= 2;
        c->shape_mask = trl_xrealloc(c->shape_mask, cap * sizeof(*c->shape_mask));
        c->shape_cap = cap;
    }
    c->shape_mask[shape] = 0;
}

/* A value kept inline in a shape holds for every event of that shape: tested once. */
static void scan_inline(void *ud, uint32_t shape, const char *path, size_t plen, const char *v,
                        size_t len, bool is_string)
{
    (void)is_string;
    struct scan_ctx *sc = ud;
    const struct trl_match *m = sc->m;
    struct trl_match_ctx *c = sc->c;
    bool indexed = trl_store_is_indexed_field(path, plen);
    /* Unescaped values lie outside the column: those are tested without the shortcut. */
    uintptr_t at = (uintptr_t)v, col = (uintptr_t)c->col;
    bool inside = c->prefilter && at >= col && at - col < c->col_len;
    size_t a = inside ? (size_t)(at - col) : 0;
    for (uint32_t t = 0; t < m->nterms; t++) {
        const struct mnode *n = m->terms[t];
        if (!(n->field ? path_is(path, plen, n) : indexed))
            continue;
        bool pre = inside && (c->prefilter >> t & 1);
        if (pre && (len < n->text_len ||
                    !trl_bits_any(c->occ + c->words * t, a, a + len - n->text_len + 1)))
            continue;
        if (pre && n->text_field ? text_at_occurrences(c, n, t, a, len) : value_matches(n, v, len))
            c->shape_mask[shape] |= 1ULL << t;
    }
}

/* A skeleton can be read for its markers alone when no term's text occurs in it and it holds no
 * escape: none of its inline values can then satisfy a term (the plan's terms all have their
 * occurrences marked, see scan_plain_ok()). */
static bool scan_plain(void *ud, size_t off, size_t n)
{
    struct scan_ctx *sc = ud;
    const struct trl_match_ctx *c = sc->c;
    if (n == 0)
        return true;
    for (uint32_t t = 0; t <= sc->m->nterms; t++) {
        if (trl_bits_any(c->occ + c->words * t, off, off + n))
            return false;
    }
    return true;
}

/* True when every term of the plan is a text prefiltered by find_occurrences(). */
static bool scan_plain_ok(const struct trl_match *m, const struct trl_match_ctx *c)
{
    return m->nterms > 0 && c->prefilter == (m->nterms == 64 ? ~0ULL : (1ULL << m->nterms) - 1);
}

static void scan_event(void *ud, uint32_t ev, uint32_t shape)
{
    struct trl_match_ctx *c = ((struct scan_ctx *)ud)->c;
    for (uint64_t mask = c->shape_mask[shape]; mask; mask &= mask - 1)
        c->bits[(size_t)__builtin_ctzll(mask) * c->count + ev] = 1;
}

bool trl_match_can_scan(const struct trl_match *m)
{
    return m->nterms > 0 && m->nterms <= 64;
}

int trl_match_scan_block(const struct trl_match *m, struct trl_match_ctx *c,
                         struct trl_shred_scan *s)
{
    if (!trl_match_can_scan(m))
        return TRL_ENOMATCH;
    size_t nbits = (size_t)m->nterms * s->count;
    if (c->bits_cap < nbits) {
        free(c->bits);
        c->bits_cap = grow_cap(c->bits_cap, nbits);
        c->bits = trl_xmalloc(c->bits_cap);
    }
    memset(c->bits, 0, nbits);
    if (c->rel_cap < s->nst) {
        free(c->rel);
        c->rel_cap = s->nst > 64 ? s->nst : 64;
        c->rel = trl_xmalloc(c->rel_cap * sizeof(*c->rel));
    }
    c->count = s->count;
    find_occurrences(m, c, s);
    if (c->prefilter && block_has_no_match(m, c, s))
        return 0; /* every bit stays 0 */
    struct scan_ctx sc = {m, c, s};
    struct trl_shred_visitor v = {scan_stream,   scan_shape, scan_inline, scan_event, scan_value,
                                  scan_verbatim, &sc,        NULL,        NULL};
    if (scan_plain_ok(m, c)) {
        /* Every term is decided by where its text occurs: a value holding no occurrence and no
         * escape cannot satisfy one, and need not be visited at all. */
        uint64_t *any = c->occ + c->words * ((size_t)m->nterms + 1);
        memcpy(any, c->occ + c->words * m->nterms, c->words * sizeof(*any));
        for (uint32_t t = 0; t < m->nterms; t++) {
            const uint64_t *o = c->occ + c->words * t;
            for (size_t w = 0; w < c->words; w++)
                any[w] |= o[w];
        }
        v.plain = scan_plain;
        v.filter = any;
    }
    return trl_shred_scan_values(s, &v);
}

bool trl_match_event_scanned(const struct trl_match *m, const struct trl_match_ctx *c, uint32_t i)
{
    struct eval e = {NULL, i, NULL, c->bits, c->count};
    return eval(m->root, &e);
}

#include "detect/sigma_prefilter.h"

#include "core/buf.h"
#include "core/hs_lib.h"
#include "core/log.h"
#include "core/util.h"
#include "detect/sigma_internal.h"

#include "core/strmap.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Shorter literals occur in almost every event: requiring them would select nearly everything
 * while costing matches. */
#define MIN_ATOM 3
/* A rule needing one of more atoms than this is evaluated always (the check would cost more than
 * it saves). */
#define MAX_RULE_ATOMS 256

struct sigma_prefilter {
    hs_database_t *db;
    uint32_t natoms; /* distinct atoms (case-folded): one database id each */
    uint32_t *first; /* atom id a is needed by the rules rules[first[a] .. first[a + 1]) */
    uint32_t *rules;
    uint8_t *always;  /* per rule: evaluated whatever the scan found */
    size_t selective; /* rules with atoms */
};

/* A set of atoms, or "top": no literal is required. Atoms point into the rules' values. */
struct atoms {
    const char **s;
    size_t *len;
    size_t n, cap;
    bool top;
};

static void atoms_add(struct atoms *a, const char *s, size_t len)
{
    if (a->top)
        return;
    if (a->n == MAX_RULE_ATOMS) {
        a->top = true;
        return;
    }
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 8;
        a->s = trl_xrealloc(a->s, a->cap * sizeof(*a->s));
        a->len = trl_xrealloc(a->len, a->cap * sizeof(*a->len));
    }
    a->s[a->n] = s;
    a->len[a->n] = len;
    a->n++;
}

static void atoms_union(struct atoms *into, const struct atoms *from)
{
    if (from->top)
        into->top = true;
    for (size_t i = 0; i < from->n && !into->top; i++)
        atoms_add(into, from->s[i], from->len[i]);
}

static void atoms_free(struct atoms *a)
{
    free(a->s);
    free(a->len);
    memset(a, 0, sizeof(*a));
}

static size_t shortest(const struct atoms *a)
{
    size_t m = SIZE_MAX;
    for (size_t i = 0; i < a->n; i++)
        m = TRL_MIN(m, a->len[i]);
    return m;
}

/* Of two requirements of a conjunction, either one will do: keep the more selective (fewer atoms,
 * then longer ones) in *best. */
static void keep_better(struct atoms *best, struct atoms *cand)
{
    bool better = !cand->top && (best->top || cand->n < best->n ||
                                 (cand->n == best->n && shortest(cand) > shortest(best)));
    if (better) {
        atoms_free(best);
        *best = *cand;
        memset(cand, 0, sizeof(*cand));
    }
    atoms_free(cand);
}

/* The literal a value needs in the text it is matched against, if any. */
static bool value_atom(const struct sigma_value *v, const char **s, size_t *len)
{
    if (v->negate)
        return false;
    switch (v->op) {
    case SIGMA_EQ:
    case SIGMA_PREFIX:
    case SIGMA_SUFFIX:
    case SIGMA_CONTAINS:
        *s = v->text;
        *len = v->len;
        break;
    case SIGMA_GLOB:
        *s = v->atom;
        *len = v->atom_len;
        break;
    default:
        return false;
    }
    return *s && *len >= MIN_ATOM;
}

static struct atoms test_atoms(const struct sigma_test *t)
{
    struct atoms a = {0};
    if (t->all) {
        /* Every value must hold: any one value's literal is required; take the longest. */
        const char *best = NULL;
        size_t best_len = 0;
        for (size_t i = 0; i < t->nvalues; i++) {
            const char *s;
            size_t len;
            if (value_atom(&t->values[i], &s, &len) && len > best_len) {
                best = s;
                best_len = len;
            }
        }
        if (best)
            atoms_add(&a, best, best_len);
        else
            a.top = true;
        return a;
    }
    for (size_t i = 0; i < t->nvalues && !a.top; i++) {
        const char *s;
        size_t len;
        if (value_atom(&t->values[i], &s, &len))
            atoms_add(&a, s, len);
        else
            a.top = true;
    }
    if (t->nvalues == 0)
        a.top = true;
    return a;
}

static struct atoms search_atoms(const struct sigma_search *se)
{
    struct atoms u = {.top = se->nalts == 0};
    for (size_t k = 0; k < se->nalts && !u.top; k++) {
        const struct sigma_conj *cj = &se->alts[k];
        struct atoms best = {.top = true};
        for (size_t t = 0; t < cj->ntests; t++) {
            struct atoms ta = test_atoms(&cj->tests[t]);
            keep_better(&best, &ta);
        }
        atoms_union(&u, &best);
        atoms_free(&best);
    }
    return u;
}

static struct atoms cond_atoms(const struct sigma_rule *r, const struct sigma_cond *c)
{
    struct atoms out = {0};
    switch (c->kind) {
    case COND_SEARCH:
        return search_atoms(&r->searches[c->search]);
    case COND_NOT:
        out.top = true;
        return out;
    case COND_AND:
        out.top = true;
        for (size_t i = 0; i < c->nkids; i++) {
            struct atoms k = cond_atoms(r, c->kids[i]);
            keep_better(&out, &k);
        }
        return out;
    case COND_OR:
        for (size_t i = 0; i < c->nkids && !out.top; i++) {
            struct atoms k = cond_atoms(r, c->kids[i]);
            atoms_union(&out, &k);
            atoms_free(&k);
        }
        return out;
    }
    out.top = true;
    return out;
}

void sigma_prefilter_free(struct trl_sigma_ruleset *rs)
{
    struct sigma_prefilter *pf = rs->prefilter;
    if (!pf)
        return;
    if (pf->db)
        trl_hs()->free_database(pf->db);
    free(pf->first);
    free(pf->rules);
    free(pf->always);
    free(pf);
    rs->prefilter = NULL;
}

/* One (atom, rule) need, collected before the database is built. */
struct need {
    uint32_t atom;
    uint32_t rule;
};

/* The distinct atoms, case-folded (the database matches without case): an atom many rules share
 * is scanned for, and reported, once. */
struct atom_table {
    struct trl_strmap *ids; /* folded text -> id + 1 */
    const char **s;
    size_t *len;
    uint32_t n, cap;
};

static uint32_t atom_id(struct atom_table *t, const char *s, size_t len)
{
    char *folded = trl_xmalloc(len);
    for (size_t i = 0; i < len; i++)
        folded[i] = (char)tolower((unsigned char)s[i]);
    uintptr_t id = (uintptr_t)trl_strmap_get(t->ids, folded, len);
    if (!id) {
        if (t->n == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 1024;
            t->s = trl_xrealloc(t->s, t->cap * sizeof(*t->s));
            t->len = trl_xrealloc(t->len, t->cap * sizeof(*t->len));
        }
        t->s[t->n] = s;
        t->len[t->n] = len;
        id = ++t->n;
        trl_strmap_put(t->ids, folded, len, (void *)id);
    }
    free(folded);
    return (uint32_t)(id - 1);
}

static bool compile(struct sigma_prefilter *pf, const struct atom_table *t)
{
    unsigned *flags = trl_xcalloc(t->n, sizeof(*flags));
    unsigned *ids = trl_xcalloc(t->n, sizeof(*ids));
    for (uint32_t i = 0; i < t->n; i++) {
        flags[i] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
        ids[i] = i;
    }
    char why[256];
    const struct trl_hs *hs = trl_hs_get(why, sizeof(why));
    hs_compile_error_t *err = NULL;
    bool ok = hs && hs->compile_lit_multi(t->s, flags, ids, t->len, t->n, HS_MODE_BLOCK, NULL,
                                          &pf->db, &err) == HS_SUCCESS;
    if (!ok) {
        trl_warn("rules", "rule prefilter unavailable, every rule is evaluated error=\"%s\"",
                 !hs                   ? why
                 : err && err->message ? err->message
                                       : "unknown");
        if (hs)
            hs->free_compile_error(err);
        pf->db = NULL;
    }
    free(flags);
    free(ids);
    return ok;
}

void sigma_prefilter_build(struct trl_sigma_ruleset *rs)
{
    sigma_prefilter_free(rs);
    if (rs->nrules == 0)
        return;
    struct sigma_prefilter *pf = trl_xcalloc(1, sizeof(*pf));
    pf->always = trl_xcalloc(rs->nrules, 1);
    struct atom_table t = {.ids = trl_strmap_create()};
    struct need *needs = NULL;
    size_t nneeds = 0, cap = 0;
    for (size_t i = 0; i < rs->nrules; i++) {
        const struct sigma_rule *r = &rs->rules[i];
        struct atoms a = r->cond ? cond_atoms(r, r->cond) : (struct atoms){.top = true};
        if (a.top || a.n == 0) {
            pf->always[i] = 1;
        } else {
            for (size_t k = 0; k < a.n; k++) {
                if (nneeds == cap) {
                    cap = cap ? cap * 2 : 1024;
                    needs = trl_xrealloc(needs, cap * sizeof(*needs));
                }
                needs[nneeds++] = (struct need){atom_id(&t, a.s[k], a.len[k]), (uint32_t)i};
            }
            pf->selective++;
        }
        atoms_free(&a);
    }
    if (t.n > 0 && compile(pf, &t)) {
        /* Group the needs by atom: first[] by counting, then each rule into its atom's slice. */
        pf->natoms = t.n;
        pf->first = trl_xcalloc(t.n + 1, sizeof(*pf->first));
        pf->rules = trl_xcalloc(nneeds, sizeof(*pf->rules));
        for (size_t k = 0; k < nneeds; k++)
            pf->first[needs[k].atom + 1]++;
        for (uint32_t a = 0; a < t.n; a++)
            pf->first[a + 1] += pf->first[a];
        uint32_t *fill = trl_xcalloc(t.n, sizeof(*fill));
        for (size_t k = 0; k < nneeds; k++) {
            uint32_t a = needs[k].atom;
            pf->rules[pf->first[a] + fill[a]++] = needs[k].rule;
        }
        free(fill);
    } else if (t.n > 0) {
        memset(pf->always, 1, rs->nrules);
        pf->selective = 0;
    }
    free(needs);
    free(t.s);
    free(t.len);
    trl_strmap_destroy(t.ids, NULL);
    rs->prefilter = pf;
}

size_t sigma_prefilter_selective_rules(const struct trl_sigma_ruleset *rs)
{
    return rs->prefilter ? rs->prefilter->selective : 0;
}

void sigma_prefilter_scratch_init(const struct trl_sigma_ruleset *rs, struct trl_sigma_scratch *s)
{
    const struct sigma_prefilter *pf = rs->prefilter;
    s->pf_hs = NULL;
    s->pf_bits = NULL;
    s->pf_state = 0;
    if (!pf || !pf->db)
        return;
    if (trl_hs()->alloc_scratch(pf->db, &s->pf_hs) != HS_SUCCESS) {
        trl_warn("rules", "no scan space for the rule prefilter: every rule is evaluated");
        s->pf_hs = NULL;
        return;
    }
    s->pf_bits = trl_xcalloc((rs->nrules + 63) / 64, sizeof(uint64_t));
    s->pf_words = (rs->nrules + 63) / 64;
}

void sigma_prefilter_scratch_free(struct trl_sigma_scratch *s)
{
    if (s->pf_hs)
        trl_hs()->free_scratch(s->pf_hs);
    s->pf_hs = NULL;
    free(s->pf_bits);
    s->pf_bits = NULL;
    trl_buf_free(&s->pf_text);
}

void sigma_prefilter_reset(struct trl_sigma_scratch *s)
{
    s->pf_state = 0;
}

struct scan_ctx {
    const struct sigma_prefilter *pf;
    uint64_t *bits;
};

/* An atom seen: the rules that need it become candidates. */
static int on_atom(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                   void *ctx)
{
    (void)from, (void)to, (void)flags;
    struct scan_ctx *c = ctx;
    for (uint32_t k = c->pf->first[id]; k < c->pf->first[id + 1]; k++) {
        uint32_t rule = c->pf->rules[k];
        c->bits[rule / 64] |= 1ULL << (rule % 64);
    }
    return 0;
}

/* Every value a test can look at (the field values, and the original text when keyword tests read
 * it) joined by line feeds, scanned once. An atom spanning two values only makes a rule evaluated
 * needlessly. */
static void scan(const struct sigma_prefilter *pf, struct trl_sigma_scratch *s,
                 const struct trl_event *ev)
{
    memset(s->pf_bits, 0, s->pf_words * sizeof(uint64_t));
    struct scan_ctx ctx = {pf, s->pf_bits};
    struct trl_buf *t = &s->pf_text;
    trl_buf_reset(t);
    for (uint32_t i = 0; i < ev->nfields; i++) {
        trl_buf_append(t, ev->fields[i].val, ev->fields[i].val_len);
        trl_buf_putc(t, '\n');
    }
    /* Keyword tests read the original text only when the event has no message. */
    if (ev->original && !trl_event_has(ev, TRL_F_MESSAGE))
        trl_buf_append(t, ev->original, ev->original_len);
    if (t->len > 0 && t->len < UINT32_MAX &&
        trl_hs()->scan(pf->db, t->data, (unsigned)t->len, 0, s->pf_hs, on_atom, &ctx) !=
            HS_SUCCESS) {
        /* A failed scan selects every rule rather than none. */
        memset(s->pf_bits, 0xff, s->pf_words * sizeof(uint64_t));
    }
    s->pf_state = 1;
}

bool sigma_prefilter_may_match(const struct trl_sigma_ruleset *rs, struct trl_sigma_scratch *s,
                               const struct trl_event *ev, size_t rule)
{
    const struct sigma_prefilter *pf = rs->prefilter;
    if (!pf || !s->pf_hs || pf->always[rule])
        return true;
    if (!s->pf_state)
        scan(pf, s, ev);
    return (s->pf_bits[rule / 64] >> (rule % 64)) & 1;
}

#include "detect/sigma_literals.h"
#include "core/hs_lib.h"
#include "core/log.h"
#include "core/strmap.h"
#include "core/util.h"
#include "detect/sigma_internal.h"

#include <stdlib.h>
#include <string.h>

struct collect {
    struct trl_strmap *ids; /* literal text -> id + 1 */
    const char **texts;
    size_t *lens;
    uint32_t n, cap;
};

static void collect_value(struct sigma_value *v, void *ud)
{
    struct collect *c = ud;
    v->lit_id = -1;
    if (v->op != SIGMA_CONTAINS || v->cased || v->len == 0)
        return;
    uintptr_t id = (uintptr_t)trl_strmap_get(c->ids, v->text, v->len);
    if (!id) {
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 256;
            c->texts = trl_xrealloc(c->texts, c->cap * sizeof(*c->texts));
            c->lens = trl_xrealloc(c->lens, c->cap * sizeof(*c->lens));
        }
        c->texts[c->n] = v->text;
        c->lens[c->n] = v->len;
        id = ++c->n;
        trl_strmap_put(c->ids, v->text, v->len, (void *)id);
    }
    v->lit_id = (int32_t)(id - 1);
}

static void clear_id(struct sigma_value *v, void *ud)
{
    (void)ud;
    v->lit_id = -1;
}

void sigma_literals_free(struct trl_sigma_ruleset *rs)
{
    if (rs->literals)
        trl_hs()->free_database(rs->literals);
    rs->literals = NULL;
    rs->nliterals = 0;
}

int sigma_literals_build(struct trl_sigma_ruleset *rs)
{
    sigma_literals_free(rs);
    struct collect c = {.ids = trl_strmap_create()};
    sigma_each_value(rs, collect_value, &c);
    int rc = 0;
    if (c.n > 0) {
        unsigned *flags = trl_xcalloc(c.n, sizeof(*flags));
        unsigned *ids = trl_xcalloc(c.n, sizeof(*ids));
        for (uint32_t i = 0; i < c.n; i++) {
            flags[i] = HS_FLAG_SINGLEMATCH;
            ids[i] = i;
        }
        char why[256];
        const struct trl_hs *hs = trl_hs_get(why, sizeof(why));
        hs_compile_error_t *err = NULL;
        if (!hs || hs->compile_lit_multi(c.texts, flags, ids, c.lens, c.n, HS_MODE_BLOCK, NULL,
                                         &rs->literals, &err) != HS_SUCCESS) {
            trl_warn("rules", "literal prefilter unavailable, using plain search error=\"%s\"",
                     !hs                   ? why
                     : err && err->message ? err->message
                                           : "unknown");
            if (hs)
                hs->free_compile_error(err);
            rs->literals = NULL;
            sigma_each_value(rs, clear_id, NULL);
            rc = TRL_EINVAL;
        } else {
            rs->nliterals = c.n;
        }
        free(flags);
        free(ids);
    }
    free(c.texts);
    free(c.lens);
    trl_strmap_destroy(c.ids, NULL);
    return rc;
}

int sigma_literals_scratch_init(const struct trl_sigma_ruleset *rs, struct trl_sigma_scratch *s)
{
    s->hs = NULL;
    if (!rs->literals)
        return 0;
    if (trl_hs()->alloc_scratch(rs->literals, &s->hs) != HS_SUCCESS)
        return TRL_EINVAL;
    size_t words = (rs->nliterals + 63) / 64;
    for (size_t i = 0; i < TRL_ARRAY_LEN(s->lower); i++)
        s->lower[i].bits = trl_xcalloc(words, sizeof(uint64_t));
    return 0;
}

void sigma_literals_scratch_free(struct trl_sigma_scratch *s)
{
    if (s->hs)
        trl_hs()->free_scratch(s->hs);
    s->hs = NULL;
    for (size_t i = 0; i < TRL_ARRAY_LEN(s->lower); i++) {
        free(s->lower[i].bits);
        s->lower[i].bits = NULL;
    }
}

static int on_literal(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                      void *ctx)
{
    (void)from, (void)to, (void)flags;
    uint64_t *bits = ctx;
    bits[id / 64] |= 1ULL << (id % 64);
    return 0;
}

bool sigma_literals_contains(const struct trl_sigma_ruleset *rs, struct trl_sigma_scratch *s,
                             struct sigma_lower *l, int32_t id)
{
    if (!l->scanned) {
        memset(l->bits, 0, (rs->nliterals + 63) / 64 * sizeof(uint64_t));
        /* Values are at most the maximum message size, far below Vectorscan's 4 GiB limit. */
        trl_hs()->scan(rs->literals, l->buf, (unsigned)l->len, 0, s->hs, on_literal, l->bits);
        l->scanned = true;
    }
    return (l->bits[id / 64] >> (id % 64)) & 1;
}

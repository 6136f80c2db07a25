/*
 * Sigma correlation rules evaluated on the event stream.
 *
 * Each correlation keeps, per group (the tuple of its group-by values), a sliding window of the
 * hits of its referenced rules within `timespan`, timed by the events' own @timestamp. The
 * condition is checked on every new hit; when it holds the correlation fires, reports the group and
 * the contributing events, and the group's window is cleared (so a burst of 30 failures with
 * `gte: 10` fires three times, not twenty-one). A correlation that refers to another one receives
 * that one's hits as events. Memory is bounded per correlation (MAX_GROUPS groups, MAX_WINDOW hits
 * per group); groups idle for longer than the timespan are swept away.
 */
#include "core/strmap.h"
#include "core/util.h"
#include "detect/sigma_internal.h"
#include "detect/yaml_doc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_GROUPS   100000
#define MAX_WINDOW   65536
#define MAX_REPORTED 64

void sigma_corr_free(struct sigma_corr *c)
{
    free(c->id);
    free(c->name);
    free(c->title);
    free(c->level);
    free(c->status);
    free(c->file);
    for (size_t i = 0; i < c->ntags; i++)
        free(c->tags[i]);
    free(c->tags);
    for (size_t i = 0; i < c->nrefs; i++)
        free(c->refs[i].text);
    free(c->refs);
    if (c->group_refs) {
        for (size_t i = 0; i < c->ngroup * c->nrefs; i++)
            sigma_field_ref_free(&c->group_refs[i]);
    }
    free(c->group_refs);
    for (size_t i = 0; i < c->ngroup; i++)
        free(c->group_names[i]);
    free(c->group_names);
    for (size_t i = 0; i < c->naliases; i++) {
        free(c->aliases[i].alias);
        free(c->aliases[i].rule);
        free(c->aliases[i].field);
    }
    free(c->aliases);
    free(c->value_field);
    if (c->value_refs) {
        for (size_t i = 0; i < c->nrefs; i++)
            sigma_field_ref_free(&c->value_refs[i]);
    }
    free(c->value_refs);
    free(c->feeds);
    memset(c, 0, sizeof(*c));
}

/* FNV-1a over the document's structure and text: equal for documents that say the same thing,
 * whatever their comments, layout or place in the file. */
static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t hash_node(uint64_t h, const struct trl_yaml_node *n, int depth)
{
    unsigned char tag[2] = {(unsigned char)n->kind, (unsigned char)n->quoted};
    h = hash_bytes(h, tag, sizeof(tag));
    uint64_t len = n->len;
    h = hash_bytes(h, &len, sizeof(len));
    if (n->kind == TRL_YAML_SCALAR)
        return hash_bytes(h, n->scalar, n->len);
    size_t items = n->kind == TRL_YAML_MAP ? n->len * 2 : n->len;
    for (size_t i = 0; i < items && depth < 64; i++)
        h = hash_node(h, n->items[i], depth + 1);
    return h;
}

static char *dup_scalar(const struct trl_yaml_node *n)
{
    return n && n->kind == TRL_YAML_SCALAR ? trl_xstrdup(n->scalar) : NULL;
}

/* "90m", "1h", "30s", "7d" */
static int parse_timespan(const char *s, int64_t *ns)
{
    size_t n = strlen(s);
    uint64_t v;
    if (n < 2 || !trl_parse_u64(s, n - 1, &v) || v == 0 || v > 100000000)
        return -1;
    int64_t unit;
    switch (s[n - 1]) {
    case 's':
        unit = 1;
        break;
    case 'm':
        unit = 60;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'd':
        unit = 86400;
        break;
    default:
        return -1;
    }
    *ns = (int64_t)v * unit * 1000000000LL;
    return 0;
}

static int load_condition(struct sigma_corr *c, const struct trl_yaml_node *cond, char *err,
                          size_t errlen)
{
    static const char *const ops[CORR__OPS] = {"gt", "gte", "lt", "lte", "eq", "neq"};
    if (cond->kind != TRL_YAML_MAP) {
        snprintf(err, errlen, "line %d: correlation condition must be a mapping", cond->line);
        return -1;
    }
    for (size_t i = 0; i < cond->len; i++) {
        const struct trl_yaml_node *k = cond->items[i * 2], *v = cond->items[i * 2 + 1];
        if (k->kind != TRL_YAML_SCALAR || v->kind != TRL_YAML_SCALAR)
            goto bad;
        if (!strcmp(k->scalar, "field")) {
            free(c->value_field);
            c->value_field = trl_xstrdup(v->scalar);
            continue;
        }
        bool known = false;
        for (int o = 0; o < CORR__OPS; o++) {
            if (!strcmp(k->scalar, ops[o])) {
                char *end;
                double d = strtod(v->scalar, &end);
                if (*end || end == v->scalar)
                    goto bad;
                c->has_op[o] = true;
                c->op_value[o] = d;
                c->has_condition = true;
                known = true;
            }
        }
        if (!known) {
            snprintf(err, errlen, "line %d: unknown correlation condition '%s'", k->line,
                     k->scalar);
            return -1;
        }
    }
    return 0;
bad:
    snprintf(err, errlen, "line %d: invalid correlation condition", cond->line);
    return -1;
}

int sigma_corr_load(struct trl_sigma_ruleset *rs, const struct trl_yaml_node *doc, const char *file,
                    char *err, size_t errlen)
{
    struct sigma_corr c = {0};
    const struct trl_yaml_node *corr = trl_yaml_get(doc, "correlation");
    const struct trl_yaml_node *title = trl_yaml_get(doc, "title");
    c.title = title ? dup_scalar(title) : trl_xstrdup("(untitled)");
    c.id = dup_scalar(trl_yaml_get(doc, "id"));
    c.name = dup_scalar(trl_yaml_get(doc, "name"));
    c.level = dup_scalar(trl_yaml_get(doc, "level"));
    c.status = dup_scalar(trl_yaml_get(doc, "status"));
    c.file = trl_xstrdup(file);
    c.line = doc->line;
    c.hash = hash_node(0xcbf29ce484222325ULL, doc, 0);
    const struct trl_yaml_node *tags = trl_yaml_get(doc, "tags");
    if (tags && tags->kind == TRL_YAML_SEQ) {
        c.tags = trl_xcalloc(tags->len + 1, sizeof(*c.tags));
        for (size_t i = 0; i < tags->len; i++) {
            if (tags->items[i]->kind == TRL_YAML_SCALAR)
                c.tags[c.ntags++] = trl_xstrdup(tags->items[i]->scalar);
        }
    }
    const struct trl_yaml_node *gen = trl_yaml_get(corr, "generate");
    if (!gen)
        gen = trl_yaml_get(doc, "generate");
    c.generate = gen && gen->kind == TRL_YAML_SCALAR && !strcasecmp(gen->scalar, "true");

    const struct trl_yaml_node *type = trl_yaml_get(corr, "type");
    const char *t = type && type->kind == TRL_YAML_SCALAR ? type->scalar : "";
    if (!strcmp(t, "event_count"))
        c.type = CORR_EVENT_COUNT;
    else if (!strcmp(t, "value_count"))
        c.type = CORR_VALUE_COUNT;
    else if (!strcmp(t, "temporal"))
        c.type = CORR_TEMPORAL;
    else if (!strcmp(t, "temporal_ordered"))
        c.type = CORR_TEMPORAL_ORDERED;
    else {
        snprintf(err, errlen, "line %d: unsupported correlation type '%s'",
                 type ? type->line : corr->line, t);
        goto fail;
    }
    const struct trl_yaml_node *rules = trl_yaml_get(corr, "rules");
    if (rules && rules->kind == TRL_YAML_SCALAR) {
        c.refs = trl_xcalloc(1, sizeof(*c.refs));
        c.refs[c.nrefs++].text = trl_xstrdup(rules->scalar);
    } else if (rules && rules->kind == TRL_YAML_SEQ && rules->len > 0) {
        c.refs = trl_xcalloc(rules->len, sizeof(*c.refs));
        for (size_t i = 0; i < rules->len; i++) {
            if (rules->items[i]->kind != TRL_YAML_SCALAR)
                continue;
            c.refs[c.nrefs++].text = trl_xstrdup(rules->items[i]->scalar);
        }
    }
    if (c.nrefs == 0) {
        snprintf(err, errlen, "line %d: correlation has no 'rules'", corr->line);
        goto fail;
    }
    const struct trl_yaml_node *gb = trl_yaml_get(corr, "group-by");
    if (gb && gb->kind == TRL_YAML_SCALAR) {
        c.group_names = trl_xcalloc(1, sizeof(char *));
        c.group_names[c.ngroup++] = trl_xstrdup(gb->scalar);
    } else if (gb && gb->kind == TRL_YAML_SEQ) {
        c.group_names = trl_xcalloc(gb->len + 1, sizeof(char *));
        for (size_t i = 0; i < gb->len; i++) {
            if (gb->items[i]->kind == TRL_YAML_SCALAR)
                c.group_names[c.ngroup++] = trl_xstrdup(gb->items[i]->scalar);
        }
    }
    const struct trl_yaml_node *ts = trl_yaml_get(corr, "timespan");
    if (!ts)
        ts = trl_yaml_get(corr, "timeframe");
    if (!ts || ts->kind != TRL_YAML_SCALAR || parse_timespan(ts->scalar, &c.timespan_ns) != 0) {
        snprintf(err, errlen, "line %d: correlation needs a timespan like 5m, 1h or 1d",
                 ts ? ts->line : corr->line);
        goto fail;
    }
    const struct trl_yaml_node *cond = trl_yaml_get(corr, "condition");
    if (cond && load_condition(&c, cond, err, errlen) != 0)
        goto fail;
    if ((c.type == CORR_EVENT_COUNT || c.type == CORR_VALUE_COUNT) && !c.has_condition) {
        snprintf(err, errlen, "line %d: %s correlation needs a condition", corr->line, t);
        goto fail;
    }
    if (c.type == CORR_VALUE_COUNT && !c.value_field) {
        snprintf(err, errlen, "line %d: value_count needs 'field' in its condition", corr->line);
        goto fail;
    }
    const struct trl_yaml_node *aliases = trl_yaml_get(corr, "aliases");
    if (aliases && aliases->kind == TRL_YAML_MAP) {
        for (size_t i = 0; i < aliases->len; i++) {
            const struct trl_yaml_node *an = aliases->items[i * 2], *am = aliases->items[i * 2 + 1];
            if (an->kind != TRL_YAML_SCALAR || am->kind != TRL_YAML_MAP)
                continue;
            for (size_t j = 0; j < am->len; j++) {
                const struct trl_yaml_node *rn = am->items[j * 2], *fn = am->items[j * 2 + 1];
                if (rn->kind != TRL_YAML_SCALAR || fn->kind != TRL_YAML_SCALAR)
                    continue;
                c.aliases = trl_xrealloc(c.aliases, (c.naliases + 1) * sizeof(*c.aliases));
                c.aliases[c.naliases++] = (struct sigma_alias){
                    trl_xstrdup(an->scalar), trl_xstrdup(rn->scalar), trl_xstrdup(fn->scalar)};
            }
        }
    }
    if (rs->ncorrs == rs->corr_cap) {
        rs->corr_cap = rs->corr_cap ? rs->corr_cap * 2 : 16;
        rs->corrs = trl_xrealloc(rs->corrs, rs->corr_cap * sizeof(*rs->corrs));
    }
    rs->corrs[rs->ncorrs++] = c;
    return 0;
fail:
    sigma_corr_free(&c);
    return -1;
}

static bool ref_is(const char *text, const char *id, const char *name)
{
    return (id && !strcmp(text, id)) || (name && !strcmp(text, name));
}

static void add_feed(struct sigma_feed **feeds, size_t *n, size_t corr, size_t slot)
{
    *feeds = trl_xrealloc(*feeds, (*n + 1) * sizeof(**feeds));
    (*feeds)[(*n)++] = (struct sigma_feed){corr, slot};
}

/* The field a group-by name stands for in events of reference r (aliases first). */
static const char *field_for(const struct sigma_corr *c, const char *group, const char *refname,
                             const char *refid)
{
    for (size_t i = 0; i < c->naliases; i++) {
        if (!strcmp(c->aliases[i].alias, group) && ref_is(c->aliases[i].rule, refid, refname))
            return c->aliases[i].field;
        if (!strcmp(c->aliases[i].alias, group) && refname && !strcmp(c->aliases[i].rule, refname))
            return c->aliases[i].field;
    }
    return group;
}

/* Detects a correlation that (through others) refers to itself. */
static bool chains_to(const struct trl_sigma_ruleset *rs, size_t from, size_t target, int depth)
{
    if (depth > 32)
        return true;
    const struct sigma_corr *c = &rs->corrs[from];
    for (size_t r = 0; r < c->nrefs; r++) {
        if (!c->refs[r].is_corr)
            continue;
        if (c->refs[r].index == target || chains_to(rs, c->refs[r].index, target, depth + 1))
            return true;
    }
    return false;
}

void sigma_corr_finalize(struct trl_sigma_ruleset *rs, trl_sigma_report_fn report, void *ud)
{
    for (size_t i = 0; i < rs->nrules; i++) {
        rs->rules[i].generate = true;
        free(rs->rules[i].feeds);
        rs->rules[i].feeds = NULL;
        rs->rules[i].nfeeds = 0;
    }
    bool *referenced = trl_xcalloc(rs->nrules + 1, sizeof(bool));
    bool *generate = trl_xcalloc(rs->nrules + 1, sizeof(bool));
    for (size_t ci = 0; ci < rs->ncorrs; ci++) {
        struct sigma_corr *c = &rs->corrs[ci];
        c->resolved = true;
        for (size_t r = 0; r < c->nrefs && c->resolved; r++) {
            struct sigma_corr_ref *ref = &c->refs[r];
            bool found = false;
            for (size_t i = 0; i < rs->nrules && !found; i++) {
                if (ref_is(ref->text, rs->rules[i].id, rs->rules[i].name)) {
                    ref->is_corr = false;
                    ref->index = i;
                    found = true;
                }
            }
            for (size_t i = 0; i < rs->ncorrs && !found; i++) {
                if (i != ci && ref_is(ref->text, rs->corrs[i].id, rs->corrs[i].name)) {
                    ref->is_corr = true;
                    ref->index = i;
                    found = true;
                }
            }
            if (!found) {
                char reason[300];
                snprintf(reason, sizeof(reason), "refers to unknown rule '%s'", ref->text);
                if (report)
                    report(ud, c->file, c->line, c->title, reason, false);
                c->resolved = false;
            }
        }
    }
    for (size_t ci = 0; ci < rs->ncorrs; ci++) {
        struct sigma_corr *c = &rs->corrs[ci];
        if (c->resolved && chains_to(rs, ci, ci, 0)) {
            if (report)
                report(ud, c->file, c->line, c->title, "correlation chain refers to itself", false);
            c->resolved = false;
        }
    }
    for (size_t ci = 0; ci < rs->ncorrs; ci++) {
        struct sigma_corr *c = &rs->corrs[ci];
        free(c->feeds);
        c->feeds = NULL;
        c->nfeeds = 0;
    }
    for (size_t ci = 0; ci < rs->ncorrs; ci++) {
        struct sigma_corr *c = &rs->corrs[ci];
        if (!c->resolved)
            continue;
        if (!c->group_refs) {
            c->group_refs = trl_xcalloc(c->ngroup * c->nrefs + 1, sizeof(*c->group_refs));
            for (size_t r = 0; r < c->nrefs; r++) {
                const struct trl_sigma_logsource *ls = NULL;
                const char *rname = NULL, *rid = NULL;
                if (!c->refs[r].is_corr) {
                    const struct sigma_rule *rule = &rs->rules[c->refs[r].index];
                    ls = &rule->logsource;
                    rname = rule->name;
                    rid = rule->id;
                } else {
                    rname = rs->corrs[c->refs[r].index].name;
                    rid = rs->corrs[c->refs[r].index].id;
                }
                for (size_t g = 0; g < c->ngroup; g++)
                    sigma_field_ref_init(&c->group_refs[g * c->nrefs + r],
                                         field_for(c, c->group_names[g], rname, rid), ls);
                if (c->value_field) {
                    if (!c->value_refs)
                        c->value_refs = trl_xcalloc(c->nrefs, sizeof(*c->value_refs));
                    sigma_field_ref_init(&c->value_refs[r],
                                         field_for(c, c->value_field, rname, rid), ls);
                }
            }
        }
        for (size_t r = 0; r < c->nrefs; r++) {
            if (c->refs[r].is_corr) {
                struct sigma_corr *inner = &rs->corrs[c->refs[r].index];
                add_feed(&inner->feeds, &inner->nfeeds, ci, r);
            } else {
                struct sigma_rule *rule = &rs->rules[c->refs[r].index];
                add_feed(&rule->feeds, &rule->nfeeds, ci, r);
                referenced[c->refs[r].index] = true;
                generate[c->refs[r].index] |= c->generate;
            }
        }
    }
    /* Rules used by a correlation report their own matches only when it says `generate: true`. */
    for (size_t i = 0; i < rs->nrules; i++) {
        if (referenced[i])
            rs->rules[i].generate = generate[i];
    }
    free(referenced);
    free(generate);
}

/* ---- stream state ---- */

struct hit {
    int64_t ts;
    uint64_t id;
    uint64_t weight; /* how many events it stands for (see sigma_corr_feed) */
    char *value;     /* value_count: the counted field's value (owned) */
    size_t slot;     /* which reference produced it */
};

struct group {
    int64_t last_ts;
    struct hit *hits; /* ring buffer in arrival order */
    size_t head, n, cap;
    uint64_t weight;   /* the events the hits in the window stand for */
    int64_t *seen_ts;  /* temporal: last hit time per reference; ordered: chain start per step */
    uint64_t *seen_id; /* the event of that hit */
    uint64_t *seen_weight; /* and how many events it stands for */
    bool *seen;
    size_t nrefs;
    char **group_values; /* for reports */
    size_t ngroup;
    struct trl_strmap *distinct; /* value_count: value -> hits in the window holding it */
};

struct sigma_corr_state {
    struct trl_strmap **groups; /* per correlation */
    size_t ncorrs;
    uint64_t dropped_groups;
    const bool *off; /* rules turned off (the scratch's), or NULL */
};

/* value_count keeps a count per distinct value, so the condition is checked in constant time. */
static void distinct_add(struct group *g, const char *v)
{
    if (!g->distinct)
        g->distinct = trl_strmap_create();
    size_t len = strlen(v);
    uintptr_t n = (uintptr_t)trl_strmap_get(g->distinct, v, len);
    trl_strmap_put(g->distinct, v, len, (void *)(n + 1));
}

static void distinct_drop(struct group *g, const char *v)
{
    size_t len = strlen(v);
    uintptr_t n = (uintptr_t)trl_strmap_get(g->distinct, v, len);
    if (n <= 1)
        trl_strmap_remove(g->distinct, v, len);
    else
        trl_strmap_put(g->distinct, v, len, (void *)(n - 1));
}

/* Drops the oldest hit of the window. */
static void hit_pop(struct group *g)
{
    struct hit *h = &g->hits[g->head];
    g->weight -= h->weight;
    if (h->value) {
        distinct_drop(g, h->value);
        free(h->value);
    }
    g->head = (g->head + 1) % g->cap;
    g->n--;
}

static void group_clear(struct group *g)
{
    while (g->n > 0)
        hit_pop(g);
    g->head = 0;
    memset(g->seen, 0, g->nrefs * sizeof(*g->seen));
}

static void group_free(void *p)
{
    struct group *g = p;
    if (!g)
        return;
    group_clear(g);
    trl_strmap_destroy(g->distinct, NULL);
    free(g->hits);
    free(g->seen_ts);
    free(g->seen_id);
    free(g->seen_weight);
    free(g->seen);
    for (size_t i = 0; i < g->ngroup; i++)
        free(g->group_values[i]);
    free(g->group_values);
    free(g);
}

struct sigma_corr_state *sigma_corr_state_create(const struct trl_sigma_ruleset *rs)
{
    struct sigma_corr_state *st = trl_xcalloc(1, sizeof(*st));
    st->ncorrs = rs->ncorrs;
    st->groups = trl_xcalloc(rs->ncorrs + 1, sizeof(*st->groups));
    for (size_t i = 0; i < rs->ncorrs; i++)
        st->groups[i] = trl_strmap_create();
    return st;
}

void sigma_corr_state_destroy(struct sigma_corr_state *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->ncorrs; i++)
        trl_strmap_destroy(st->groups[i], group_free);
    free(st->groups);
    free(st);
}

static bool same_id(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

size_t sigma_corr_state_adopt(const struct trl_sigma_ruleset *rs, struct sigma_corr_state *st,
                              const struct trl_sigma_ruleset *old_rs,
                              struct sigma_corr_state *old_st)
{
    size_t moved = 0;
    for (size_t i = 0; i < rs->ncorrs && i < st->ncorrs; i++) {
        const struct sigma_corr *c = &rs->corrs[i];
        for (size_t j = 0; j < old_rs->ncorrs && j < old_st->ncorrs; j++) {
            const struct sigma_corr *o = &old_rs->corrs[j];
            /* A correlation without an id is known only by its text; one that does not resolve
             * keeps nothing (it was never fed). */
            if (o->hash != c->hash || !same_id(o->id, c->id) || !c->resolved || !o->resolved)
                continue;
            /* The old map is left empty, so that it is not given to a second correlation. */
            struct trl_strmap *tmp = st->groups[i];
            st->groups[i] = old_st->groups[j];
            old_st->groups[j] = tmp;
            moved++;
            break;
        }
    }
    return moved;
}

static void hit_push(struct group *g, int64_t ts, uint64_t id, uint64_t weight, const char *value,
                     size_t vlen, size_t slot)
{
    if (g->n == MAX_WINDOW)
        hit_pop(g);
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        struct hit *h = trl_xmalloc(cap * sizeof(*h));
        for (size_t i = 0; i < g->n; i++)
            h[i] = g->hits[(g->head + i) % g->cap];
        free(g->hits);
        g->hits = h;
        g->head = 0;
        g->cap = cap;
    }
    struct hit *h = &g->hits[(g->head + g->n) % g->cap];
    h->ts = ts;
    h->id = id;
    h->weight = weight;
    g->weight += weight;
    h->slot = slot;
    h->value = value ? trl_xstrndup(value, vlen) : NULL;
    if (h->value)
        distinct_add(g, h->value);
    g->n++;
}

static void window_prune(struct group *g, int64_t now, int64_t span)
{
    while (g->n > 0 && g->hits[g->head].ts < now - span)
        hit_pop(g);
}

static bool condition_holds(const struct sigma_corr *c, double v)
{
    if (c->has_op[CORR_GT] && !(v > c->op_value[CORR_GT]))
        return false;
    if (c->has_op[CORR_GTE] && !(v >= c->op_value[CORR_GTE]))
        return false;
    if (c->has_op[CORR_LT] && !(v < c->op_value[CORR_LT]))
        return false;
    if (c->has_op[CORR_LTE] && !(v <= c->op_value[CORR_LTE]))
        return false;
    if (c->has_op[CORR_EQ] && !(v == c->op_value[CORR_EQ]))
        return false;
    if (c->has_op[CORR_NEQ] && !(v != c->op_value[CORR_NEQ]))
        return false;
    return true;
}

struct sweep_ctx {
    int64_t before;
};

static bool group_idle(void *value, void *ud)
{
    const struct group *g = value;
    return g->last_ts < ((struct sweep_ctx *)ud)->before;
}

static int64_t event_time(const struct trl_event *ev)
{
    return ev->timestamp_ns ? ev->timestamp_ns : ev->received_ns;
}

/* Reports that correlation ci fired for group g, on the count events listed (the last nids of them
 * by id), and feeds the correlations that reference it. */
static size_t fire(const struct trl_sigma_ruleset *rs, struct sigma_corr_state *st, size_t ci,
                   struct group *g, const uint64_t *ids, size_t nids, uint64_t count,
                   const struct trl_event *ev, uint64_t event_id,
                   void (*match)(void *, const struct trl_sigma_match *), void *ud)
{
    const struct sigma_corr *c = &rs->corrs[ci];
    size_t calls = 0;
    if (match) {
        struct trl_sigma_match m = {
            .rule_index = rs->nrules + ci,
            .correlation = true,
            .group_fields = (const char *const *)c->group_names,
            .group_values = (const char *const *)g->group_values,
            .ngroup = c->ngroup,
            .event_ids = ids,
            .nevents = nids,
            .count = count,
        };
        match(ud, &m);
        calls++;
    }
    if (c->nfeeds)
        calls += sigma_corr_feed(rs, st, c->feeds, c->nfeeds, ev, event_id, count, match, ud);
    return calls;
}

static size_t feed_one(const struct trl_sigma_ruleset *rs, struct sigma_corr_state *st, size_t ci,
                       size_t slot, const struct trl_event *ev, uint64_t event_id, uint64_t weight,
                       void (*match)(void *, const struct trl_sigma_match *), void *ud)
{
    const struct sigma_corr *c = &rs->corrs[ci];
    if (!c->resolved)
        return 0;
    int64_t now = event_time(ev);

    /* The group key: group-by values joined by a separator that cannot appear in them unescaped. */
    struct trl_buf key = {0};
    const char *vals[32];
    size_t lens[32];
    size_t ngroup = TRL_MIN(c->ngroup, TRL_ARRAY_LEN(vals));
    for (size_t gi = 0; gi < ngroup; gi++) {
        size_t len = 0;
        const char *v = sigma_field_get(&c->group_refs[gi * c->nrefs + slot], ev, &len);
        vals[gi] = v ? v : "";
        lens[gi] = v ? len : 0;
        trl_buf_append(&key, vals[gi], lens[gi]);
        trl_buf_putc(&key, '\x1f');
    }
    if (!key.data)
        trl_buf_append(&key, "", 0);
    struct trl_strmap *groups = st->groups[ci];
    struct group *g = trl_strmap_get(groups, key.data, key.len);
    if (!g) {
        if (trl_strmap_count(groups) >= MAX_GROUPS) {
            struct sweep_ctx sw = {now - c->timespan_ns};
            trl_strmap_remove_if(groups, group_idle, &sw, group_free);
        }
        if (trl_strmap_count(groups) >= MAX_GROUPS) {
            st->dropped_groups++;
            trl_buf_free(&key);
            return 0;
        }
        g = trl_xcalloc(1, sizeof(*g));
        g->nrefs = c->nrefs;
        g->seen_ts = trl_xcalloc(c->nrefs, sizeof(*g->seen_ts));
        g->seen_id = trl_xcalloc(c->nrefs, sizeof(*g->seen_id));
        g->seen_weight = trl_xcalloc(c->nrefs, sizeof(*g->seen_weight));
        g->seen = trl_xcalloc(c->nrefs, sizeof(*g->seen));
        g->ngroup = ngroup;
        g->group_values = trl_xcalloc(ngroup + 1, sizeof(char *));
        for (size_t gi = 0; gi < ngroup; gi++)
            g->group_values[gi] = trl_xstrndup(vals[gi], lens[gi]);
        trl_strmap_put(groups, key.data, key.len, g);
    }
    trl_buf_free(&key);
    g->last_ts = now;

    uint64_t ids[MAX_REPORTED];
    size_t nids = 0;
    uint64_t count = 0;
    switch (c->type) {
    case CORR_EVENT_COUNT:
    case CORR_VALUE_COUNT: {
        size_t vlen = 0;
        const char *v = NULL;
        if (c->type == CORR_VALUE_COUNT) {
            v = sigma_field_get(&c->value_refs[slot], ev, &vlen);
            if (!v)
                return 0; /* an event without the counted field adds no value */
        }
        window_prune(g, now, c->timespan_ns);
        hit_push(g, now, event_id, weight, v, vlen, slot);
        double measure = c->type == CORR_EVENT_COUNT
                             ? (double)g->n
                             : (double)(g->distinct ? trl_strmap_count(g->distinct) : 0);
        if (!condition_holds(c, measure))
            return 0;
        count = g->weight;
        size_t first = g->n > MAX_REPORTED ? g->n - MAX_REPORTED : 0;
        for (size_t i = first; i < g->n; i++)
            ids[nids++] = g->hits[(g->head + i) % g->cap].id;
        break;
    }
    case CORR_TEMPORAL: {
        g->seen[slot] = true;
        g->seen_ts[slot] = now;
        g->seen_id[slot] = event_id;
        g->seen_weight[slot] = weight;
        size_t distinct = 0;
        for (size_t r = 0; r < c->nrefs; r++) {
            if (g->seen[r] && g->seen_ts[r] >= now - c->timespan_ns)
                distinct++;
            else
                g->seen[r] = false;
        }
        bool ok = c->has_condition ? condition_holds(c, (double)distinct) : distinct == c->nrefs;
        if (!ok)
            return 0;
        for (size_t r = 0; r < c->nrefs; r++) {
            if (!g->seen[r])
                continue;
            count += g->seen_weight[r];
            if (nids < MAX_REPORTED)
                ids[nids++] = g->seen_id[r];
        }
        break;
    }
    case CORR_TEMPORAL_ORDERED: {
        /* seen_ts[i] holds when the chain rules[0..i] (in order) began; a hit of rule i extends
         * a chain that reached i-1 within the timespan. */
        if (slot == 0) {
            g->seen[0] = true;
            g->seen_ts[0] = now;
            g->seen_id[0] = event_id;
            g->seen_weight[0] = weight;
        } else if (g->seen[slot - 1] && now - g->seen_ts[slot - 1] <= c->timespan_ns) {
            g->seen[slot] = true;
            g->seen_ts[slot] = g->seen_ts[slot - 1];
            g->seen_id[slot] = event_id;
            g->seen_weight[slot] = weight;
        }
        if (!g->seen[c->nrefs - 1])
            return 0;
        for (size_t r = 0; r < c->nrefs; r++) {
            count += g->seen_weight[r];
            if (nids < MAX_REPORTED)
                ids[nids++] = g->seen_id[r];
        }
        break;
    }
    }
    size_t calls = fire(rs, st, ci, g, ids, nids, count, ev, event_id, match, ud);
    group_clear(g);
    return calls;
}

size_t sigma_corr_feed(const struct trl_sigma_ruleset *rs, struct sigma_corr_state *st,
                       const struct sigma_feed *feeds, size_t nfeeds, const struct trl_event *ev,
                       uint64_t event_id, uint64_t weight,
                       void (*match)(void *ud, const struct trl_sigma_match *m), void *ud)
{
    size_t calls = 0;
    for (size_t i = 0; i < nfeeds; i++) {
        if (st->off && st->off[rs->nrules + feeds[i].corr])
            continue;
        calls += feed_one(rs, st, feeds[i].corr, feeds[i].slot, ev, event_id, weight, match, ud);
    }
    return calls;
}

void sigma_corr_state_set_off(struct sigma_corr_state *st, const bool *off)
{
    st->off = off;
}

/*
 * Sigma rule loading: YAML documents -> compiled rules in a ruleset, and the evaluator that runs an
 * event through them. Invalid or unsupported rules are reported (file, line, reason) and skipped;
 * they never stop the caller.
 */
#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "detect/sigma_internal.h"
#include "detect/sigma_literals.h"
#include "detect/sigma_prefilter.h"
#include "detect/yaml_doc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct trl_sigma_ruleset *trl_sigma_ruleset_create(void)
{
    return trl_xcalloc(1, sizeof(struct trl_sigma_ruleset));
}

static void search_free(struct sigma_search *s)
{
    for (size_t i = 0; i < s->nalts; i++) {
        for (size_t j = 0; j < s->alts[i].ntests; j++)
            sigma_test_free(&s->alts[i].tests[j]);
        free(s->alts[i].tests);
    }
    free(s->alts);
    free(s->name);
}

static void rule_free(struct sigma_rule *r)
{
    free(r->id);
    free(r->name);
    free(r->feeds);
    free(r->filters);
    for (size_t i = 0; i < r->nfilter_refs; i++)
        free(r->filter_refs[i]);
    free(r->filter_refs);
    free(r->title);
    free(r->level);
    free(r->status);
    free(r->file);
    for (size_t i = 0; i < r->ntags; i++)
        free(r->tags[i]);
    free(r->tags);
    free(r->logsource.product);
    free(r->logsource.category);
    free(r->logsource.service);
    for (size_t i = 0; i < r->nsearches; i++)
        search_free(&r->searches[i]);
    free(r->searches);
    sigma_cond_free(r->cond);
    memset(r, 0, sizeof(*r));
}

static void free_groups(struct trl_sigma_ruleset *rs)
{
    for (size_t i = 0; i < rs->ngroups; i++)
        free(rs->groups[i].rules);
    free(rs->groups);
    rs->groups = NULL;
    rs->ngroups = 0;
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcasecmp(a, b));
}

static void build_groups(struct trl_sigma_ruleset *rs)
{
    free_groups(rs);
    for (size_t i = 0; i < rs->nrules; i++) {
        const struct trl_sigma_logsource *ls = &rs->rules[i].logsource;
        struct sigma_ls_group *g = NULL;
        for (size_t k = 0; k < rs->ngroups && !g; k++) {
            const struct trl_sigma_logsource *o = rs->groups[k].logsource;
            if (same_str(ls->product, o->product) && same_str(ls->category, o->category) &&
                same_str(ls->service, o->service))
                g = &rs->groups[k];
        }
        if (!g) {
            rs->groups = trl_xrealloc(rs->groups, (rs->ngroups + 1) * sizeof(*rs->groups));
            g = &rs->groups[rs->ngroups++];
            memset(g, 0, sizeof(*g));
            g->logsource = ls;
            sigma_logsource_compile(ls, &g->match);
        }
        g->rules = trl_xrealloc(g->rules, (g->nrules + 1) * sizeof(*g->rules));
        g->rules[g->nrules++] = i;
    }
}

void trl_sigma_ruleset_destroy(struct trl_sigma_ruleset *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->nrules; i++)
        rule_free(&rs->rules[i]);
    free(rs->rules);
    for (size_t i = 0; i < rs->ncorrs; i++)
        sigma_corr_free(&rs->corrs[i]);
    free(rs->corrs);
    for (size_t i = 0; i < rs->nfilters; i++)
        rule_free(&rs->filters[i]);
    free(rs->filters);
    free_groups(rs);
    sigma_literals_free(rs);
    sigma_prefilter_free(rs);
    free(rs);
}

size_t trl_sigma_rule_count(const struct trl_sigma_ruleset *rs)
{
    return rs->nrules + rs->ncorrs;
}

size_t trl_sigma_correlation_count(const struct trl_sigma_ruleset *rs)
{
    return rs->ncorrs;
}

static void attach_filters(struct trl_sigma_ruleset *rs, trl_sigma_report_fn report, void *ud)
{
    for (size_t i = 0; i < rs->nrules; i++) {
        free(rs->rules[i].filters);
        rs->rules[i].filters = NULL;
        rs->rules[i].nfilters = 0;
    }
    for (size_t f = 0; f < rs->nfilters; f++) {
        const struct sigma_rule *flt = &rs->filters[f];
        for (size_t k = 0; k < flt->nfilter_refs; k++) {
            const char *ref = flt->filter_refs[k];
            bool found = false;
            for (size_t i = 0; i < rs->nrules; i++) {
                struct sigma_rule *r = &rs->rules[i];
                if ((r->id && !strcmp(r->id, ref)) || (r->name && !strcmp(r->name, ref))) {
                    r->filters = trl_xrealloc(r->filters, (r->nfilters + 1) * sizeof(size_t));
                    r->filters[r->nfilters++] = f;
                    found = true;
                }
            }
            if (!found && report) {
                char reason[300];
                snprintf(reason, sizeof(reason), "filter refers to unknown rule '%s'", ref);
                report(ud, flt->file, flt->line, flt->title, reason, false);
            }
        }
    }
}

void trl_sigma_ruleset_finalize(struct trl_sigma_ruleset *rs, trl_sigma_report_fn report, void *ud)
{
    attach_filters(rs, report, ud);
    sigma_corr_finalize(rs, report, ud);
    build_groups(rs);
    sigma_literals_build(rs);
    sigma_prefilter_build(rs);
    rs->finalized = true;
}

void trl_sigma_rule_get_info(const struct trl_sigma_ruleset *rs, size_t index,
                             struct trl_sigma_rule_info *out)
{
    static const char *const types[] = {"event_count", "value_count", "temporal",
                                        "temporal_ordered"};
    static const struct trl_sigma_logsource no_logsource = {0};
    memset(out, 0, sizeof(*out));
    if (index >= rs->nrules) {
        const struct sigma_corr *c = &rs->corrs[index - rs->nrules];
        out->correlation = true;
        out->type = types[c->type];
        out->id = c->id;
        out->title = c->title;
        out->level = c->level;
        out->status = c->status;
        out->file = c->file;
        out->line = c->line;
        out->tags = (const char *const *)c->tags;
        out->ntags = c->ntags;
        out->logsource = &no_logsource;
        return;
    }
    const struct sigma_rule *r = &rs->rules[index];
    out->id = r->id;
    out->title = r->title;
    out->level = r->level;
    out->status = r->status;
    out->file = r->file;
    out->line = r->line;
    out->tags = (const char *const *)r->tags;
    out->ntags = r->ntags;
    out->logsource = &r->logsource;
}

static char *scalar_dup(const struct trl_yaml_node *n)
{
    return n && n->kind == TRL_YAML_SCALAR ? trl_xstrdup(n->scalar) : NULL;
}

struct load_ctx {
    const char *file;
    trl_sigma_report_fn report;
    void *ud;
    int added;
};

static void report(struct load_ctx *c, int line, const char *rule, const char *reason,
                   bool unsupported)
{
    if (c->report)
        c->report(c->ud, c->file, line, rule, reason, unsupported);
}

/* One map of a search: every key is a test, all must hold. */
static int compile_conj(struct sigma_conj *cj, const struct trl_yaml_node *map,
                        const struct trl_sigma_logsource *ls, char *err, size_t errlen,
                        bool *unsupported)
{
    cj->tests = trl_xcalloc(map->len ? map->len : 1, sizeof(*cj->tests));
    for (size_t i = 0; i < map->len; i++) {
        const struct trl_yaml_node *k = map->items[i * 2], *v = map->items[i * 2 + 1];
        if (k->kind != TRL_YAML_SCALAR) {
            snprintf(err, errlen, "line %d: a field name must be a scalar", k->line);
            return -1;
        }
        if (sigma_test_compile(&cj->tests[cj->ntests], k->scalar, v, ls, err, errlen,
                               unsupported) != 0)
            return -1;
        cj->ntests++;
    }
    return 0;
}

static struct sigma_conj *add_alt(struct sigma_search *s)
{
    s->alts = trl_xrealloc(s->alts, (s->nalts + 1) * sizeof(*s->alts));
    struct sigma_conj *cj = &s->alts[s->nalts++];
    memset(cj, 0, sizeof(*cj));
    return cj;
}

static int compile_search(struct sigma_search *s, const struct trl_yaml_node *n,
                          const struct trl_sigma_logsource *ls, char *err, size_t errlen,
                          bool *unsupported)
{
    if (n->kind == TRL_YAML_MAP)
        return compile_conj(add_alt(s), n, ls, err, errlen, unsupported);
    bool all_maps = n->kind == TRL_YAML_SEQ && n->len > 0;
    for (size_t i = 0; all_maps && i < n->len; i++)
        all_maps = n->items[i]->kind == TRL_YAML_MAP;
    if (all_maps) {
        for (size_t i = 0; i < n->len; i++) {
            if (compile_conj(add_alt(s), n->items[i], ls, err, errlen, unsupported) != 0)
                return -1;
        }
        return 0;
    }
    /* A list of plain values (or one value) with no field: keywords. */
    struct sigma_conj *cj = add_alt(s);
    cj->tests = trl_xcalloc(1, sizeof(*cj->tests));
    if (sigma_test_compile(&cj->tests[0], NULL, n, ls, err, errlen, unsupported) != 0)
        return -1;
    cj->ntests = 1;
    return 0;
}

static int compile_detection(struct sigma_rule *r, const struct trl_yaml_node *det, char *err,
                             size_t errlen, bool *unsupported)
{
    const struct trl_yaml_node *cond = NULL;
    if (!det || det->kind != TRL_YAML_MAP) {
        snprintf(err, errlen, "missing or invalid 'detection'");
        return -1;
    }
    r->searches = trl_xcalloc(det->len ? det->len : 1, sizeof(*r->searches));
    for (size_t i = 0; i < det->len; i++) {
        const struct trl_yaml_node *k = det->items[i * 2], *v = det->items[i * 2 + 1];
        if (k->kind != TRL_YAML_SCALAR)
            continue;
        if (!strcmp(k->scalar, "condition")) {
            cond = v;
            continue;
        }
        if (!strcmp(k->scalar, "rules") && r->filter_refs)
            continue; /* a filter's list of the rules it applies to */
        if (!strcmp(k->scalar, "timeframe")) {
            snprintf(err, errlen, "line %d: 'timeframe' is the old aggregation syntax", k->line);
            *unsupported = true;
            return -1;
        }
        struct sigma_search *s = &r->searches[r->nsearches++];
        s->name = trl_xstrdup(k->scalar);
        if (compile_search(s, v, &r->logsource, err, errlen, unsupported) != 0)
            return -1;
    }
    if (!cond) {
        snprintf(err, errlen, "line %d: detection has no condition", det->line);
        return -1;
    }
    /* Several conditions in a list: the rule matches when any of them does. */
    size_t nconds = cond->kind == TRL_YAML_SEQ ? cond->len : 1;
    struct sigma_cond *any = NULL;
    for (size_t i = 0; i < nconds; i++) {
        const struct trl_yaml_node *c = cond->kind == TRL_YAML_SEQ ? cond->items[i] : cond;
        if (c->kind != TRL_YAML_SCALAR) {
            snprintf(err, errlen, "line %d: a condition must be a string", c->line);
            sigma_cond_free(any);
            return -1;
        }
        char cerr[256];
        struct sigma_cond *sc =
            sigma_cond_compile(c->scalar, r->searches, r->nsearches, cerr, sizeof(cerr));
        if (!sc) {
            snprintf(err, errlen, "line %d: %s", c->line, cerr);
            *unsupported = strstr(cerr, "old, unsupported") != NULL;
            sigma_cond_free(any);
            return -1;
        }
        if (nconds == 1) {
            any = sc;
        } else {
            if (!any) {
                any = trl_xcalloc(1, sizeof(*any));
                any->kind = COND_OR;
            }
            any->kids = trl_xrealloc(any->kids, (any->nkids + 1) * sizeof(*any->kids));
            any->kids[any->nkids++] = sc;
        }
    }
    r->cond = any;
    return 0;
}

static void load_tags(struct sigma_rule *r, const struct trl_yaml_node *tags)
{
    if (!tags || tags->kind != TRL_YAML_SEQ)
        return;
    r->tags = trl_xcalloc(tags->len ? tags->len : 1, sizeof(*r->tags));
    for (size_t i = 0; i < tags->len; i++) {
        if (tags->items[i]->kind == TRL_YAML_SCALAR)
            r->tags[r->ntags++] = trl_xstrdup(tags->items[i]->scalar);
    }
}

static void load_document(struct trl_sigma_ruleset *rs, struct load_ctx *c,
                          const struct trl_yaml_node *doc)
{
    const struct trl_yaml_node *title = trl_yaml_get(doc, "title");
    const char *name = title && title->kind == TRL_YAML_SCALAR ? title->scalar : "(untitled)";
    const struct trl_yaml_node *action = trl_yaml_get(doc, "action");
    if (action) {
        report(c, action->line, name, "'action: global/reset/repeat' documents are the old syntax",
               true);
        return;
    }
    if (trl_yaml_get(doc, "correlation")) {
        char cerr[512];
        if (sigma_corr_load(rs, doc, c->file, cerr, sizeof(cerr)) != 0)
            report(c, !strncmp(cerr, "line ", 5) ? atoi(cerr + 5) : doc->line, name, cerr, false);
        else
            c->added++;
        return;
    }
    const struct trl_yaml_node *filter = trl_yaml_get(doc, "filter");
    struct sigma_rule r = {0};
    char err[512] = "";
    bool unsupported = false;
    r.title = trl_xstrdup(name);
    r.id = scalar_dup(trl_yaml_get(doc, "id"));
    r.name = scalar_dup(trl_yaml_get(doc, "name"));
    r.generate = true;
    r.level = scalar_dup(trl_yaml_get(doc, "level"));
    r.status = scalar_dup(trl_yaml_get(doc, "status"));
    r.file = trl_xstrdup(c->file);
    r.line = doc->line;
    load_tags(&r, trl_yaml_get(doc, "tags"));
    const struct trl_yaml_node *ls = trl_yaml_get(doc, "logsource");
    if (!ls || ls->kind != TRL_YAML_MAP) {
        snprintf(err, sizeof(err), "missing or invalid 'logsource'");
        goto fail;
    }
    r.logsource.product = scalar_dup(trl_yaml_get(ls, "product"));
    r.logsource.category = scalar_dup(trl_yaml_get(ls, "category"));
    r.logsource.service = scalar_dup(trl_yaml_get(ls, "service"));
    if (filter) {
        /* A Sigma filter: its selections and condition describe what to exclude from the rules
         * it lists. */
        const struct trl_yaml_node *refs = trl_yaml_get(filter, "rules");
        if (!refs || (refs->kind != TRL_YAML_SEQ && refs->kind != TRL_YAML_SCALAR)) {
            snprintf(err, sizeof(err), "line %d: filter has no 'rules'", filter->line);
            goto fail;
        }
        size_t n = refs->kind == TRL_YAML_SEQ ? refs->len : 1;
        r.filter_refs = trl_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
            const struct trl_yaml_node *x = refs->kind == TRL_YAML_SEQ ? refs->items[i] : refs;
            if (x->kind == TRL_YAML_SCALAR)
                r.filter_refs[r.nfilter_refs++] = trl_xstrdup(x->scalar);
        }
        if (compile_detection(&r, filter, err, sizeof(err), &unsupported) != 0)
            goto fail;
        if (rs->nfilters == rs->filter_cap) {
            rs->filter_cap = rs->filter_cap ? rs->filter_cap * 2 : 8;
            rs->filters = trl_xrealloc(rs->filters, rs->filter_cap * sizeof(*rs->filters));
        }
        rs->filters[rs->nfilters++] = r;
        c->added++;
        return;
    }
    if (compile_detection(&r, trl_yaml_get(doc, "detection"), err, sizeof(err), &unsupported) != 0)
        goto fail;
    if (rs->nrules == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 64;
        rs->rules = trl_xrealloc(rs->rules, rs->cap * sizeof(*rs->rules));
    }
    rs->rules[rs->nrules++] = r;
    c->added++;
    return;
fail:
    report(c, err[0] == 'l' && !strncmp(err, "line ", 5) ? atoi(err + 5) : doc->line, name, err,
           unsupported);
    rule_free(&r);
}

int trl_sigma_load_buffer(struct trl_sigma_ruleset *rs, const char *name, const char *buf,
                          size_t len, trl_sigma_report_fn report_fn, void *ud)
{
    struct load_ctx c = {.file = name, .report = report_fn, .ud = ud};
    char err[256];
    struct trl_yaml_file *f = trl_yaml_parse(buf, len, err, sizeof(err));
    if (!f) {
        report(&c, err[0] == 'l' ? atoi(err + 5) : 0, NULL, err, false);
        return 0;
    }
    for (size_t i = 0; i < f->ndocs; i++) {
        if (f->docs[i]->kind != TRL_YAML_MAP) {
            report(&c, f->docs[i]->line, NULL, "a rule document must be a mapping", false);
            continue;
        }
        load_document(rs, &c, f->docs[i]);
    }
    trl_yaml_file_destroy(f);
    return c.added;
}

static int load_file(struct trl_sigma_ruleset *rs, const char *path, trl_sigma_report_fn report_fn,
                     void *ud)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        int err = errno;
        if (report_fn)
            report_fn(ud, path, 0, NULL, strerror(err), false);
        return -err;
    }
    struct trl_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        trl_buf_append(&b, chunk, n);
    fclose(fp);
    int added = trl_sigma_load_buffer(rs, path, b.data ? b.data : "", b.len, report_fn, ud);
    trl_buf_free(&b);
    return added;
}

static bool is_rule_file(const char *name)
{
    size_t n = strlen(name);
    return (n > 4 && !strcmp(name + n - 4, ".yml")) || (n > 5 && !strcmp(name + n - 5, ".yaml"));
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int trl_sigma_dir_each(const char *dir, void (*each)(void *ud, const char *path), void *ud)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    /* Sorted, so rule order (and so output order) does not depend on the file system. */
    char **names = NULL;
    size_t nnames = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        names = trl_xrealloc(names, (nnames + 1) * sizeof(*names));
        names[nnames++] = trl_xstrdup(e->d_name);
    }
    closedir(d);
    if (nnames > 1)
        qsort(names, nnames, sizeof(*names), cmp_names);
    for (size_t i = 0; i < nnames; i++) {
        struct trl_buf full = {0};
        trl_buf_printf(&full, "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(full.data, &st) == 0 && (S_ISDIR(st.st_mode) || is_rule_file(names[i])))
            each(ud, full.data);
        trl_buf_free(&full);
        free(names[i]);
    }
    free(names);
    return 0;
}

struct path_ctx {
    struct trl_sigma_ruleset *rs;
    trl_sigma_report_fn report_fn;
    void *ud;
    int added;
};

static void load_entry(void *ud, const char *path)
{
    struct path_ctx *c = ud;
    int n = trl_sigma_load_path(c->rs, path, c->report_fn, c->ud);
    if (n > 0)
        c->added += n;
}

int trl_sigma_load_path(struct trl_sigma_ruleset *rs, const char *path,
                        trl_sigma_report_fn report_fn, void *ud)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int err = errno;
        if (report_fn)
            report_fn(ud, path, 0, NULL, strerror(err), false);
        return -err;
    }
    if (!S_ISDIR(st.st_mode))
        return load_file(rs, path, report_fn, ud);
    struct path_ctx c = {rs, report_fn, ud, 0};
    int rc = trl_sigma_dir_each(path, load_entry, &c);
    return rc < 0 ? rc : c.added;
}

static void each_rule_value(struct sigma_rule *r, void (*fn)(struct sigma_value *v, void *ud),
                            void *ud)
{
    for (size_t i = 0; i < r->nsearches; i++) {
        struct sigma_search *se = &r->searches[i];
        for (size_t a = 0; a < se->nalts; a++) {
            for (size_t t = 0; t < se->alts[a].ntests; t++) {
                struct sigma_test *test = &se->alts[a].tests[t];
                for (size_t v = 0; v < test->nvalues; v++)
                    fn(&test->values[v], ud);
            }
        }
    }
}

void sigma_each_value(struct trl_sigma_ruleset *rs, void (*fn)(struct sigma_value *v, void *ud),
                      void *ud)
{
    for (size_t i = 0; i < rs->nrules; i++)
        each_rule_value(&rs->rules[i], fn, ud);
    for (size_t i = 0; i < rs->nfilters; i++)
        each_rule_value(&rs->filters[i], fn, ud);
}

/* ---- evaluation ---- */

struct trl_sigma_scratch *trl_sigma_scratch_create(const struct trl_sigma_ruleset *rs)
{
    (void)rs;
    struct trl_sigma_scratch *s = trl_xcalloc(1, sizeof(*s));
    s->rs = rs;
    s->md = pcre2_match_data_create(1, NULL);
    s->corr = sigma_corr_state_create(rs);
    if (sigma_literals_scratch_init(rs, s) != 0)
        trl_warn("rules", "no scan space for the literal prefilter: using plain search");
    sigma_prefilter_scratch_init(rs, s);
    return s;
}

size_t trl_sigma_scratch_adopt(struct trl_sigma_scratch *to, struct trl_sigma_scratch *from)
{
    return sigma_corr_state_adopt(to->rs, to->corr, from->rs, from->corr);
}

void trl_sigma_scratch_set_enabled(struct trl_sigma_scratch *s, size_t index, bool enabled)
{
    size_t n = trl_sigma_rule_count(s->rs);
    if (index >= n || (!s->off && enabled))
        return;
    if (!s->off) {
        s->off = trl_xcalloc(n, sizeof(*s->off));
        sigma_corr_state_set_off(s->corr, s->off);
    }
    s->off[index] = !enabled;
}

void trl_sigma_scratch_destroy(struct trl_sigma_scratch *s)
{
    if (!s)
        return;
    pcre2_match_data_free(s->md);
    sigma_literals_scratch_free(s);
    sigma_prefilter_scratch_free(s);
    sigma_corr_state_destroy(s->corr);
    for (size_t i = 0; i < TRL_ARRAY_LEN(s->lower); i++)
        free(s->lower[i].buf);
    free(s->off);
    free(s);
}

static bool search_holds(const struct sigma_search *s, const struct trl_event *ev,
                         struct trl_sigma_scratch *sc)
{
    for (size_t a = 0; a < s->nalts; a++) {
        const struct sigma_conj *cj = &s->alts[a];
        bool all = true;
        for (size_t t = 0; t < cj->ntests && all; t++)
            all = sigma_test_eval(&cj->tests[t], ev, sc);
        if (all)
            return true;
    }
    return false;
}

static bool cond_holds(const struct sigma_rule *r, const struct sigma_cond *c,
                       const struct trl_event *ev, struct trl_sigma_scratch *sc)
{
    switch (c->kind) {
    case COND_SEARCH:
        return search_holds(&r->searches[c->search], ev, sc);
    case COND_NOT:
        return !cond_holds(r, c->kids[0], ev, sc);
    case COND_AND:
        for (size_t i = 0; i < c->nkids; i++) {
            if (!cond_holds(r, c->kids[i], ev, sc))
                return false;
        }
        return true;
    case COND_OR:
        for (size_t i = 0; i < c->nkids; i++) {
            if (cond_holds(r, c->kids[i], ev, sc))
                return true;
        }
        return false;
    }
    return false;
}

static size_t eval_group(const struct trl_sigma_ruleset *rs, const struct sigma_ls_group *g,
                         struct trl_sigma_scratch *s, const struct trl_event *ev, uint64_t event_id,
                         void (*match)(void *ud, const struct trl_sigma_match *m), void *ud)
{
    size_t calls = 0;
    for (size_t k = 0; k < g->nrules; k++) {
        size_t i = g->rules[k];
        const struct sigma_rule *r = &rs->rules[i];
        if ((s->off && s->off[i]) || !sigma_prefilter_may_match(rs, s, ev, i) ||
            !cond_holds(r, r->cond, ev, s))
            continue;
        bool filtered = false;
        for (size_t f = 0; f < r->nfilters && !filtered; f++) {
            const struct sigma_rule *flt = &rs->filters[r->filters[f]];
            filtered = cond_holds(flt, flt->cond, ev, s);
        }
        if (filtered)
            continue;
        if (r->generate) {
            calls++;
            if (match) {
                struct trl_sigma_match m = {.rule_index = i, .count = 1};
                match(ud, &m);
            }
        }
        if (r->nfeeds)
            calls += sigma_corr_feed(rs, s->corr, r->feeds, r->nfeeds, ev, event_id, 1, match, ud);
    }
    return calls;
}

size_t trl_sigma_eval(const struct trl_sigma_ruleset *rs, struct trl_sigma_scratch *s,
                      const struct trl_event *ev, uint64_t event_id,
                      void (*match)(void *ud, const struct trl_sigma_match *m), void *ud)
{
    size_t calls = 0;
    s->nlower = 0; /* lowered values and the prefilter's scan belong to the previous event */
    s->lower_next = 0;
    sigma_prefilter_reset(s);
    if (rs->ngroups == 0)
        return 0;
    struct sigma_ls_facts facts;
    sigma_logsource_facts(ev, &facts);
    for (size_t gi = 0; gi < rs->ngroups; gi++) {
        const struct sigma_ls_group *g = &rs->groups[gi];
        if (!sigma_logsource_matches(&g->match, &facts))
            continue;
        calls += eval_group(rs, g, s, ev, event_id, match, ud);
    }
    return calls;
}

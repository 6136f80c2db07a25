/*
 * Sigma condition compiler: "selection and not 1 of filter_*" -> a tree over the rule's searches.
 * Precedence, loosest first: or, and, not; parentheses group. `1 of P` / `all of P` / `any of P`
 * expand the pattern P (a search name with * wildcards, or `them`) at compile time into an OR / AND
 * of the matching searches. Keywords are matched as whole words, so `notepad_sel` is an identifier.
 */
#include "core/util.h"
#include "detect/sigma_internal.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum tok { T_END, T_LPAREN, T_RPAREN, T_WORD, T_BAD };

struct cparser {
    const char *src;
    size_t pos;
    enum tok tok;
    size_t tok_start;
    size_t tok_len;
    const struct sigma_search *searches;
    size_t nsearches;
    char *err;
    size_t errlen;
    int depth;
};

static bool word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '*' || c == '.' || c == '?';
}

static void next(struct cparser *p)
{
    while (p->src[p->pos] && isspace((unsigned char)p->src[p->pos]))
        p->pos++;
    p->tok_start = p->pos;
    char c = p->src[p->pos];
    if (!c) {
        p->tok = T_END;
        p->tok_len = 0;
    } else if (c == '(' || c == ')') {
        p->tok = c == '(' ? T_LPAREN : T_RPAREN;
        p->tok_len = 1;
        p->pos++;
    } else if (word_char(c)) {
        while (word_char(p->src[p->pos]))
            p->pos++;
        p->tok = T_WORD;
        p->tok_len = p->pos - p->tok_start;
    } else {
        p->tok = T_BAD;
        p->tok_len = 1;
    }
}

static bool tok_is(const struct cparser *p, const char *kw)
{
    return p->tok == T_WORD && strlen(kw) == p->tok_len &&
           !strncasecmp(p->src + p->tok_start, kw, p->tok_len);
}

static struct sigma_cond *fail_at(struct cparser *p, const char *what)
{
    if (!p->err[0])
        snprintf(p->err, p->errlen, "condition column %zu: %s", p->tok_start + 1, what);
    return NULL;
}

static struct sigma_cond *node_new(enum sigma_cond_kind kind)
{
    struct sigma_cond *c = trl_xcalloc(1, sizeof(*c));
    c->kind = kind;
    return c;
}

static void node_add(struct sigma_cond *parent, struct sigma_cond *kid)
{
    parent->kids = trl_xrealloc(parent->kids, (parent->nkids + 1) * sizeof(*parent->kids));
    parent->kids[parent->nkids++] = kid;
}

void sigma_cond_free(struct sigma_cond *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nkids; i++)
        sigma_cond_free(c->kids[i]);
    free(c->kids);
    free(c);
}

static struct sigma_cond *parse_or(struct cparser *p);

static struct sigma_cond *search_ref(struct cparser *p)
{
    for (size_t i = 0; i < p->nsearches; i++) {
        const char *name = p->searches[i].name;
        if (strlen(name) == p->tok_len && !memcmp(name, p->src + p->tok_start, p->tok_len)) {
            struct sigma_cond *c = node_new(COND_SEARCH);
            c->search = i;
            next(p);
            return c;
        }
    }
    char what[160];
    snprintf(what, sizeof(what), "unknown search identifier '%.*s'", (int)TRL_MIN(p->tok_len, 80),
             p->src + p->tok_start);
    return fail_at(p, what);
}

/* `1 of P`, `any of P`, `all of P`: the quantifier token is current. */
static struct sigma_cond *parse_of(struct cparser *p, bool all)
{
    next(p); /* quantifier */
    if (!tok_is(p, "of"))
        return fail_at(p, "expected 'of'");
    next(p);
    if (p->tok != T_WORD)
        return fail_at(p, "expected a search pattern or 'them' after 'of'");
    char pattern[256];
    if (p->tok_len >= sizeof(pattern))
        return fail_at(p, "pattern too long");
    memcpy(pattern, p->src + p->tok_start, p->tok_len);
    pattern[p->tok_len] = '\0';
    bool them = !strcasecmp(pattern, "them");
    struct sigma_cond *group = node_new(all ? COND_AND : COND_OR);
    for (size_t i = 0; i < p->nsearches; i++) {
        const char *name = p->searches[i].name;
        /* `them` excludes identifiers starting with an underscore, as the specification says. */
        if (them ? name[0] != '_' : fnmatch(pattern, name, 0) == 0) {
            struct sigma_cond *s = node_new(COND_SEARCH);
            s->search = i;
            node_add(group, s);
        }
    }
    if (group->nkids == 0) {
        sigma_cond_free(group);
        char what[320];
        snprintf(what, sizeof(what), "no search identifier matches '%s'", pattern);
        return fail_at(p, what);
    }
    next(p);
    return group;
}

static struct sigma_cond *parse_primary(struct cparser *p)
{
    if (++p->depth > 100)
        return fail_at(p, "condition nested too deeply");
    struct sigma_cond *c = NULL;
    if (p->tok == T_LPAREN) {
        next(p);
        c = parse_or(p);
        if (!c)
            goto out;
        if (p->tok != T_RPAREN) {
            sigma_cond_free(c);
            c = fail_at(p, "expected ')'");
            goto out;
        }
        next(p);
    } else if (tok_is(p, "1") || tok_is(p, "any")) {
        c = parse_of(p, false);
    } else if (tok_is(p, "all")) {
        c = parse_of(p, true);
    } else if (p->tok == T_WORD && !tok_is(p, "and") && !tok_is(p, "or") && !tok_is(p, "of") &&
               !tok_is(p, "them")) {
        if (memchr(p->src + p->tok_start, '*', p->tok_len))
            c = fail_at(p, "wildcards are only allowed after 'of'");
        else
            c = search_ref(p);
    } else if (p->tok == T_WORD && memchr(p->src + p->tok_start, '|', p->tok_len)) {
        c = fail_at(p, "pipes in conditions are the old, unsupported aggregation syntax");
    } else if (p->tok == T_END) {
        c = fail_at(p, "unexpected end of condition");
    } else {
        c = fail_at(p, "unexpected token");
    }
out:
    p->depth--;
    return c;
}

static struct sigma_cond *parse_not(struct cparser *p)
{
    if (tok_is(p, "not")) {
        next(p);
        if (++p->depth > 100)
            return fail_at(p, "condition nested too deeply");
        struct sigma_cond *kid = parse_not(p);
        p->depth--;
        if (!kid)
            return NULL;
        struct sigma_cond *c = node_new(COND_NOT);
        node_add(c, kid);
        return c;
    }
    return parse_primary(p);
}

static struct sigma_cond *parse_binary(struct cparser *p, const char *kw, enum sigma_cond_kind kind,
                                       struct sigma_cond *(*operand)(struct cparser *))
{
    struct sigma_cond *left = operand(p);
    if (!left || !tok_is(p, kw))
        return left;
    struct sigma_cond *group = node_new(kind);
    node_add(group, left);
    while (tok_is(p, kw)) {
        next(p);
        struct sigma_cond *right = operand(p);
        if (!right) {
            sigma_cond_free(group);
            return NULL;
        }
        node_add(group, right);
    }
    return group;
}

static struct sigma_cond *parse_and(struct cparser *p)
{
    return parse_binary(p, "and", COND_AND, parse_not);
}

static struct sigma_cond *parse_or(struct cparser *p)
{
    return parse_binary(p, "or", COND_OR, parse_and);
}

struct sigma_cond *sigma_cond_compile(const char *text, const struct sigma_search *searches,
                                      size_t nsearches, char *err, size_t errlen)
{
    struct cparser p = {
        .src = text,
        .searches = searches,
        .nsearches = nsearches,
        .err = err,
        .errlen = errlen,
    };
    err[0] = '\0';
    if (strchr(text, '|'))
        return fail_at(&p, "pipes in conditions are the old, unsupported aggregation syntax");
    next(&p);
    struct sigma_cond *c = parse_or(&p);
    if (c && p.tok != T_END) {
        sigma_cond_free(c);
        return fail_at(&p, "unexpected text after the condition");
    }
    return c;
}

#include "store/query.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tok_kind { TK_EOF, TK_WORD, TK_PHRASE, TK_LPAREN, TK_RPAREN, TK_AND, TK_OR, TK_NOT, TK_PIPE };

struct tok {
    enum tok_kind kind;
    size_t off; /* first byte (the quote for a phrase) */
    size_t len; /* raw bytes, quotes included */
};

struct parser {
    const char *s;
    size_t len;
    size_t pos;
    struct tok cur;
    struct trl_arena *a;
    struct trl_query_error *err;
    bool failed;
    int depth;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Characters that end a bare word unless escaped. */
static bool ends_word(char c)
{
    return is_space(c) || c == '(' || c == ')' || c == '"' || c == '|';
}

static unsigned column_of(const char *s, size_t off)
{
    unsigned col = 1;
    for (size_t i = 0; i < off; i++)
        col += ((unsigned char)s[i] & 0xC0) != 0x80;
    return col;
}

__attribute__((format(printf, 3, 4))) static void fail(struct parser *p, size_t off,
                                                       const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    if (!p->err)
        return;
    p->err->offset = off;
    p->err->column = column_of(p->s, off);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
    va_end(ap);
}

static void next_token(struct parser *p)
{
    while (p->pos < p->len && is_space(p->s[p->pos]))
        p->pos++;
    struct tok t = {TK_EOF, p->pos, 0};
    /* After an error every caller unwinds: hand out the end so no loop can go on. */
    if (p->pos >= p->len || p->failed) {
        p->cur = t;
        return;
    }
    char c = p->s[p->pos];
    if (c == '(' || c == ')' || c == '|') {
        t.kind = c == '(' ? TK_LPAREN : c == ')' ? TK_RPAREN : TK_PIPE;
        t.len = 1;
        p->pos++;
        p->cur = t;
        return;
    }
    if (c == '"') {
        size_t i = p->pos + 1;
        while (i < p->len && p->s[i] != '"') {
            if (p->s[i] == '\\' && i + 1 < p->len)
                i++;
            i++;
        }
        if (i >= p->len) {
            fail(p, p->pos, "unterminated phrase: missing closing '\"'");
            t.kind = TK_EOF;
            p->pos = p->len;
            p->cur = t;
            return;
        }
        t.kind = TK_PHRASE;
        t.len = i + 1 - p->pos;
        p->pos = i + 1;
        p->cur = t;
        return;
    }
    size_t i = p->pos;
    while (i < p->len && !ends_word(p->s[i])) {
        if (p->s[i] == '\\') {
            if (i + 1 >= p->len) {
                fail(p, i, "a backslash at the end of the query escapes nothing");
                p->pos = p->len;
                p->cur = (struct tok){TK_EOF, p->len, 0};
                return;
            }
            i++;
        }
        i++;
    }
    t.kind = TK_WORD;
    t.len = i - p->pos;
    if (t.len == 3 && !memcmp(p->s + p->pos, "AND", 3))
        t.kind = TK_AND;
    else if (t.len == 2 && !memcmp(p->s + p->pos, "OR", 2))
        t.kind = TK_OR;
    else if (t.len == 3 && !memcmp(p->s + p->pos, "NOT", 3))
        t.kind = TK_NOT;
    p->pos = i;
    p->cur = t;
}

static struct trl_qnode *new_node(struct parser *p, enum trl_qnode_kind kind, size_t off)
{
    struct trl_qnode *n = trl_arena_alloc(p->a, sizeof(*n));
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    n->offset = (uint32_t)off;
    return n;
}

static void add_kid(struct trl_qnode *parent, struct trl_qnode **tail, struct trl_qnode *kid)
{
    if (*tail)
        (*tail)->next = kid;
    else
        parent->kids = kid;
    *tail = kid;
    parent->nkids++;
}

static bool valid_field_name(const char *s, size_t n)
{
    if (n == 0 || s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '@' || c == '-';
        if (!ok || (c == '.' && i + 1 < n && s[i + 1] == '.'))
            return false;
    }
    return true;
}

static char *lower_dup(struct parser *p, const char *s, size_t n)
{
    char *d = trl_arena_alloc(p->a, n + 1);
    for (size_t i = 0; i < n; i++)
        d[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
    d[n] = '\0';
    return d;
}

/* Turns the raw bytes of a bare word value into a term: unescapes it, and keeps it as a pattern
 * when it holds an unescaped '*'. */
static void word_value(struct parser *p, struct trl_qnode *t, const char *s, size_t n)
{
    bool glob = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\') {
            i++;
            continue;
        }
        if (s[i] == '*')
            glob = true;
    }
    char *d = trl_arena_alloc(p->a, n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            c = s[++i];
            /* Inside a pattern the two characters that mean something keep their escape. */
            if (glob && (c == '*' || c == '\\'))
                d[k++] = '\\';
        }
        d[k++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    d[k] = '\0';
    t->text = d;
    t->text_len = k;
    t->term = glob ? TRL_QT_GLOB : TRL_QT_TEXT;
    if (glob && k > 0) {
        bool only_stars = true;
        for (size_t i = 0; i < k; i++)
            only_stars &= d[i] == '*';
        if (only_stars)
            t->term = TRL_QT_EXISTS;
    }
}

static void phrase_value(struct parser *p, struct trl_qnode *t, const struct tok *tk)
{
    const char *s = p->s + tk->off + 1;
    size_t n = tk->len - 2;
    char *d = trl_arena_alloc(p->a, n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        /* Only \" and \\ are escapes: Windows paths keep their single backslashes. */
        if (c == '\\' && i + 1 < n && (s[i + 1] == '"' || s[i + 1] == '\\'))
            c = s[++i];
        d[k++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    d[k] = '\0';
    t->text = d;
    t->text_len = k;
    t->term = TRL_QT_TEXT;
    t->quoted = true;
}

static struct trl_qnode *parse_or(struct parser *p, const char *field, size_t field_len);

static bool starts_unary(enum tok_kind k)
{
    return k == TK_WORD || k == TK_PHRASE || k == TK_LPAREN || k == TK_NOT;
}

static struct trl_qnode *parse_group(struct parser *p, const char *field, size_t field_len)
{
    size_t open = p->cur.off;
    next_token(p);
    if (p->cur.kind == TK_RPAREN) {
        fail(p, p->cur.off, "empty parentheses");
        return NULL;
    }
    struct trl_qnode *inner = parse_or(p, field, field_len);
    if (!inner)
        return NULL;
    if (p->cur.kind != TK_RPAREN) {
        fail(p, open, "unclosed '(': missing ')'");
        return NULL;
    }
    next_token(p);
    return inner;
}

/* Characters a range bound may not hold: they would end or change the word it is written in. */
static bool bad_bound_char(char c)
{
    return is_space(c) || c == '(' || c == ')' || c == '"' || c == '|' || c == '\\' || c == '[' ||
           c == ']';
}

/* field>N, field>=N, field<N, field<=N: w[0..n) is one bare word, op at w[k]. */
static struct trl_qnode *parse_comparison(struct parser *p, const struct tok *tk, size_t k)
{
    const char *w = p->s + tk->off;
    size_t n = tk->len;
    char op = w[k];
    bool incl = k + 1 < n && w[k + 1] == '=';
    size_t v = k + (incl ? 2 : 1);
    if (v >= n) {
        fail(p, tk->off + n, "missing value after '%.*s'", (int)v, w);
        return NULL;
    }
    for (size_t i = v; i < n; i++) {
        if (bad_bound_char(w[i]) || w[i] == '<' || w[i] == '>') {
            fail(p, tk->off + i, "'%c' cannot appear in a compared value", w[i]);
            return NULL;
        }
    }
    if (n - v == 1 && w[v] == '*') {
        fail(p, tk->off + v, "a comparison needs a value, not '*'");
        return NULL;
    }
    struct trl_qnode *t = new_node(p, TRL_Q_TERM, tk->off);
    t->field = lower_dup(p, w, k);
    t->field_len = k;
    t->term = TRL_QT_RANGE;
    const char *val = lower_dup(p, w + v, n - v);
    t->text = val;
    t->text_len = n - v;
    if (op == '>') {
        t->range.lo = val;
        t->range.lo_len = n - v;
        t->range.lo_incl = incl;
    } else {
        t->range.hi = val;
        t->range.hi_len = n - v;
        t->range.hi_incl = incl;
    }
    next_token(p);
    return t;
}

/* One bound of [lo TO hi] starting at *i; '*' is an open end (NULL). */
static bool range_bound(struct parser *p, size_t *i, const char **out, size_t *out_len)
{
    size_t s = *i;
    while (*i < p->len && !bad_bound_char(p->s[*i]))
        (*i)++;
    if (*i == s || (*i - s == 2 && !memcmp(p->s + s, "TO", 2))) {
        fail(p, s, "a range needs a bound here ('*' for none)");
        return false;
    }
    if (*i - s == 1 && p->s[s] == '*') {
        *out = NULL;
        *out_len = 0;
    } else {
        *out = lower_dup(p, p->s + s, *i - s);
        *out_len = *i - s;
    }
    return true;
}

static void skip_spaces(const struct parser *p, size_t *i)
{
    while (*i < p->len && is_space(p->s[*i]))
        (*i)++;
}

/* field:[lo TO hi], read from the raw text from the '[' at offset open (the tokens split it). */
static struct trl_qnode *parse_range(struct parser *p, const char *fname, size_t flen, size_t start,
                                     size_t open)
{
    struct trl_qnode *t = new_node(p, TRL_Q_TERM, start);
    t->field = fname;
    t->field_len = flen;
    t->term = TRL_QT_RANGE;
    t->range.bracketed = true;
    t->range.lo_incl = t->range.hi_incl = true;
    t->text = "";
    size_t i = open + 1;
    skip_spaces(p, &i);
    if (!range_bound(p, &i, &t->range.lo, &t->range.lo_len))
        return NULL;
    size_t to = i;
    skip_spaces(p, &i);
    if (i == to || i + 2 > p->len || memcmp(p->s + i, "TO", 2) != 0 ||
        (i + 2 < p->len && !is_space(p->s[i + 2]))) {
        fail(p, i, "a range is written [low TO high]");
        return NULL;
    }
    i += 2;
    skip_spaces(p, &i);
    if (!range_bound(p, &i, &t->range.hi, &t->range.hi_len))
        return NULL;
    skip_spaces(p, &i);
    if (i >= p->len || p->s[i] != ']') {
        fail(p, open, "unclosed '[': missing ']'");
        return NULL;
    }
    p->pos = i + 1;
    next_token(p);
    return t;
}

/* A bare field value that reads as an address block is a CIDR test (quoted, it stays text). */
static void maybe_cidr(struct trl_qnode *t)
{
    if (t->term == TRL_QT_TEXT && memchr(t->text, '/', t->text_len) &&
        trl_cidr_parse(t->text, t->text_len, &t->cidr))
        t->term = TRL_QT_CIDR;
}

/* The offset of '<' or '>' in a bare word when what precedes it is a field name, else n. */
static size_t comparison_at(const char *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (w[i] == '\\' || w[i] == ':' || w[i] == '*')
            return n;
        if (w[i] == '<' || w[i] == '>')
            return valid_field_name(w, i) ? i : n;
    }
    return n;
}

static struct trl_qnode *parse_primary(struct parser *p, const char *field, size_t field_len)
{
    struct tok tk = p->cur;
    if (tk.kind == TK_LPAREN)
        return parse_group(p, field, field_len);
    if (tk.kind == TK_PHRASE) {
        if (tk.len == 2) {
            fail(p, tk.off, "empty phrase");
            return NULL;
        }
        struct trl_qnode *t = new_node(p, TRL_Q_TERM, tk.off);
        t->field = field;
        t->field_len = field_len;
        phrase_value(p, t, &tk);
        next_token(p);
        return t;
    }
    if (tk.kind != TK_WORD) {
        if (tk.kind == TK_EOF)
            fail(p, tk.off, "the query ends where a term was expected");
        else if (tk.kind == TK_PIPE)
            fail(p, tk.off, "'|' where a term was expected");
        else
            fail(p, tk.off, "unexpected '%.*s' where a term was expected", (int)tk.len,
                 p->s + tk.off);
        return NULL;
    }
    const char *w = p->s + tk.off;
    size_t cmp = comparison_at(w, tk.len);
    if (cmp < tk.len) {
        if (field) {
            fail(p, tk.off, "a field inside '%.*s:(...)' cannot name another field", (int)field_len,
                 field);
            return NULL;
        }
        return parse_comparison(p, &tk, cmp);
    }
    struct trl_qcidr block;
    if (field && memchr(w, '/', tk.len) && trl_cidr_parse(w, tk.len, &block)) {
        /* Inside field:(...), an IPv6 block's colons do not name a field. */
        struct trl_qnode *t = new_node(p, TRL_Q_TERM, tk.off);
        t->field = field;
        t->field_len = field_len;
        t->term = TRL_QT_CIDR;
        t->cidr = block;
        t->text = lower_dup(p, w, tk.len);
        t->text_len = tk.len;
        next_token(p);
        return t;
    }
    size_t colon = tk.len;
    for (size_t i = 0; i < tk.len; i++) {
        if (w[i] == '\\') {
            i++;
            continue;
        }
        if (w[i] == ':') {
            colon = i;
            break;
        }
    }
    if (colon < tk.len && valid_field_name(w, colon)) {
        if (field) {
            fail(p, tk.off, "a field inside '%.*s:(...)' cannot name another field", (int)field_len,
                 field);
            return NULL;
        }
        const char *fname = lower_dup(p, w, colon);
        size_t rest = tk.len - colon - 1;
        if (rest > 0 && w[colon + 1] == '[')
            return parse_range(p, fname, colon, tk.off, tk.off + colon + 1);
        if (rest > 0) {
            struct trl_qnode *t = new_node(p, TRL_Q_TERM, tk.off);
            t->field = fname;
            t->field_len = colon;
            word_value(p, t, w + colon + 1, rest);
            maybe_cidr(t);
            next_token(p);
            return t;
        }
        /* "field:" must be followed at once by a phrase or a group. */
        size_t after = tk.off + tk.len;
        next_token(p);
        if (p->cur.off == after && p->cur.kind == TK_PHRASE)
            return parse_primary(p, fname, colon);
        if (p->cur.off == after && p->cur.kind == TK_LPAREN) {
            if (++p->depth > TRL_QUERY_MAX_DEPTH) {
                fail(p, p->cur.off, "the query nests deeper than %d levels", TRL_QUERY_MAX_DEPTH);
                return NULL;
            }
            struct trl_qnode *g = parse_group(p, fname, colon);
            p->depth--;
            return g;
        }
        fail(p, after, "missing value after '%.*s'", (int)(colon + 1), w);
        return NULL;
    }
    struct trl_qnode *t = new_node(p, TRL_Q_TERM, tk.off);
    t->field = field;
    t->field_len = field_len;
    word_value(p, t, w, tk.len);
    if (field)
        maybe_cidr(t);
    if (!field && t->term == TRL_QT_EXISTS)
        t->kind = TRL_Q_ALL;
    next_token(p);
    return t;
}

static struct trl_qnode *parse_unary(struct parser *p, const char *field, size_t field_len)
{
    if (++p->depth > TRL_QUERY_MAX_DEPTH) {
        fail(p, p->cur.off, "the query nests deeper than %d levels", TRL_QUERY_MAX_DEPTH);
        return NULL;
    }
    struct trl_qnode *r;
    if (p->cur.kind == TK_NOT) {
        size_t off = p->cur.off;
        next_token(p);
        if (!starts_unary(p->cur.kind)) {
            fail(p, off, "NOT needs a term after it");
            return NULL;
        }
        struct trl_qnode *kid = parse_unary(p, field, field_len);
        if (!kid)
            return NULL;
        r = new_node(p, TRL_Q_NOT, off);
        struct trl_qnode *tail = NULL;
        add_kid(r, &tail, kid);
    } else {
        r = parse_primary(p, field, field_len);
    }
    p->depth--;
    return r;
}

static struct trl_qnode *parse_and(struct parser *p, const char *field, size_t field_len)
{
    struct trl_qnode *first = parse_unary(p, field, field_len);
    if (!first)
        return NULL;
    struct trl_qnode *and = NULL, *tail = NULL;
    for (;;) {
        size_t op_off = p->cur.off;
        if (p->cur.kind == TK_AND) {
            next_token(p);
            if (!starts_unary(p->cur.kind)) {
                fail(p, op_off, "AND needs a term on both sides");
                return NULL;
            }
        } else if (!starts_unary(p->cur.kind)) {
            break;
        }
        struct trl_qnode *kid = parse_unary(p, field, field_len);
        if (!kid)
            return NULL;
        if (!and) {
            and = new_node(p, TRL_Q_AND, first->offset);
            add_kid(and, &tail, first);
        }
        add_kid(and, &tail, kid);
    }
    return and? and : first;
}

static struct trl_qnode *parse_or(struct parser *p, const char *field, size_t field_len)
{
    if (p->cur.kind == TK_OR || p->cur.kind == TK_AND) {
        fail(p, p->cur.off, "%s needs a term on both sides", p->cur.kind == TK_OR ? "OR" : "AND");
        return NULL;
    }
    struct trl_qnode *first = parse_and(p, field, field_len);
    if (!first)
        return NULL;
    struct trl_qnode * or = NULL, *tail = NULL;
    while (p->cur.kind == TK_OR) {
        size_t op_off = p->cur.off;
        next_token(p);
        if (!starts_unary(p->cur.kind)) {
            fail(p, op_off, "OR needs a term on both sides");
            return NULL;
        }
        struct trl_qnode *kid = parse_and(p, field, field_len);
        if (!kid)
            return NULL;
        if (! or) {
            or = new_node(p, TRL_Q_OR, first->offset);
            add_kid(or, &tail, first);
        }
        add_kid(or, &tail, kid);
    }
    return or ? or : first;
}

int trl_query_parse(const char *text, size_t len, struct trl_query **out,
                    struct trl_query_error *err)
{
    *out = NULL;
    if (err)
        memset(err, 0, sizeof(*err));
    struct parser p = {.s = text ? text : "", .len = text ? len : 0, .err = err};
    if (p.len > TRL_QUERY_MAX_LEN) {
        p.s = "";
        p.len = 0;
        fail(&p, 0, "the query is longer than %d bytes", TRL_QUERY_MAX_LEN);
        return TRL_EINVAL;
    }
    p.a = trl_arena_create(4096);
    next_token(&p);
    struct trl_qnode *root = NULL;
    if (!p.failed && (p.cur.kind == TK_EOF || p.cur.kind == TK_PIPE)) {
        root = new_node(&p, TRL_Q_ALL, 0);
    } else if (!p.failed) {
        root = parse_or(&p, NULL, 0);
        if (root && !p.failed && p.cur.kind != TK_EOF && p.cur.kind != TK_PIPE) {
            if (p.cur.kind == TK_RPAREN)
                fail(&p, p.cur.off, "unexpected ')' without a matching '('");
            else
                fail(&p, p.cur.off, "unexpected '%.*s'", (int)p.cur.len, p.s + p.cur.off);
        }
    }
    if (p.failed || !root) {
        if (!p.failed)
            fail(&p, p.cur.off, "cannot parse the query");
        trl_arena_destroy(p.a);
        return TRL_EINVAL;
    }
    struct trl_pipeline *pl = NULL;
    if (p.cur.kind == TK_PIPE) {
        size_t eoff = 0;
        char msg[sizeof(((struct trl_query_error *)0)->message)];
        if (trl_pipeline_parse(p.s, p.len, p.cur.off, p.a, &pl, &eoff, msg, sizeof(msg)) != 0) {
            fail(&p, eoff, "%s", msg);
            trl_arena_destroy(p.a);
            return TRL_EINVAL;
        }
    }
    struct trl_query *q = trl_arena_alloc(p.a, sizeof(*q));
    q->arena = p.a;
    q->root = root;
    q->pipeline = pl;
    *out = q;
    return 0;
}

void trl_query_free(struct trl_query *q)
{
    if (q)
        trl_arena_destroy(q->arena);
}

struct fmt {
    char *buf;
    size_t cap;
    size_t len;
};

static void fmt_put(struct fmt *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (f->len + 1 < f->cap)
            f->buf[f->len] = s[i];
        f->len++;
    }
    if (f->cap)
        f->buf[f->len < f->cap ? f->len : f->cap - 1] = '\0';
}

static void fmt_str(struct fmt *f, const char *s)
{
    fmt_put(f, s, strlen(s));
}

static void fmt_range(struct fmt *f, const struct trl_qnode *n)
{
    const struct trl_qrange *r = &n->range;
    if (r->bracketed) {
        fmt_str(f, "[");
        if (r->lo)
            fmt_put(f, r->lo, r->lo_len);
        else
            fmt_str(f, "*");
        fmt_str(f, " TO ");
        if (r->hi)
            fmt_put(f, r->hi, r->hi_len);
        else
            fmt_str(f, "*");
        fmt_str(f, "]");
        return;
    }
    /* A comparison: the field was written by the caller followed by ':', which a comparison
     * does not have, so drop it. */
    f->len--;
    if (f->cap)
        f->buf[f->len < f->cap ? f->len : f->cap - 1] = '\0';
    fmt_str(f, r->lo ? (r->lo_incl ? ">=" : ">") : (r->hi_incl ? "<=" : "<"));
    if (r->lo)
        fmt_put(f, r->lo, r->lo_len);
    else
        fmt_put(f, r->hi, r->hi_len);
}

static void fmt_put_cb(void *ud, const char *s)
{
    fmt_str(ud, s);
}

static void fmt_node(struct fmt *f, const struct trl_qnode *n)
{
    switch (n->kind) {
    case TRL_Q_ALL:
        fmt_str(f, "*");
        return;
    case TRL_Q_NOT:
        fmt_str(f, "NOT ");
        fmt_node(f, n->kids);
        return;
    case TRL_Q_AND:
    case TRL_Q_OR:
        fmt_str(f, "(");
        for (const struct trl_qnode *k = n->kids; k; k = k->next) {
            if (k != n->kids)
                fmt_str(f, n->kind == TRL_Q_AND ? " AND " : " OR ");
            fmt_node(f, k);
        }
        fmt_str(f, ")");
        return;
    case TRL_Q_TERM:
        break;
    }
    if (n->field) {
        fmt_put(f, n->field, n->field_len);
        fmt_str(f, ":");
    }
    if (n->term == TRL_QT_EXISTS) {
        fmt_str(f, "*");
        return;
    }
    if (n->term == TRL_QT_CIDR) {
        fmt_put(f, n->text, n->text_len);
        return;
    }
    if (n->term == TRL_QT_RANGE) {
        fmt_range(f, n);
        return;
    }
    if (n->term == TRL_QT_TEXT) {
        fmt_str(f, "\"");
        for (size_t i = 0; i < n->text_len; i++) {
            char c = n->text[i];
            if (c == '"' || c == '\\')
                fmt_put(f, "\\", 1);
            fmt_put(f, &c, 1);
        }
        fmt_str(f, "\"");
        return;
    }
    /* A pattern is written as a bare word: its escapes stay, and every other character that
     * would end or split the word, or make it a comparison or a range, gets one. */
    for (size_t i = 0; i < n->text_len; i++) {
        char c = n->text[i];
        if (c == '\\' && i + 1 < n->text_len) {
            fmt_put(f, n->text + i, 2);
            i++;
            continue;
        }
        if (ends_word(c) || c == ':' || c == '\\' || c == '<' || c == '>' || c == '[')
            fmt_put(f, "\\", 1);
        fmt_put(f, &c, 1);
    }
}

size_t trl_query_format(const struct trl_query *q, char *buf, size_t cap)
{
    struct fmt f = {buf, cap, 0};
    if (cap)
        buf[0] = '\0';
    if (q && q->root)
        fmt_node(&f, q->root);
    if (q && q->pipeline)
        trl_pipeline_format(q->pipeline, fmt_put_cb, &f);
    return f.len;
}

bool trl_glob_match(const char *pat, size_t plen, const char *s, size_t len)
{
    size_t p = 0, i = 0, star_p = 0, star_i = 0;
    bool have_star = false;
    while (i < len) {
        if (p < plen && pat[p] == '*') {
            have_star = true;
            star_p = ++p;
            star_i = i;
            continue;
        }
        if (p < plen) {
            char c = pat[p];
            size_t adv = 1;
            if (c == '\\' && p + 1 < plen) {
                c = pat[p + 1];
                adv = 2;
            }
            char sc = s[i];
            if (sc >= 'A' && sc <= 'Z')
                sc = (char)(sc + 32);
            if (c == sc) {
                p += adv;
                i++;
                continue;
            }
        }
        if (!have_star)
            return false;
        p = star_p;
        i = ++star_i;
    }
    while (p < plen && pat[p] == '*')
        p++;
    return p == plen;
}

bool trl_cidr_parse(const char *s, size_t len, struct trl_qcidr *out)
{
    const char *slash = memchr(s, '/', len);
    if (!slash)
        return false;
    size_t alen = (size_t)(slash - s), blen = len - alen - 1;
    char a[INET6_ADDRSTRLEN + 1];
    if (alen == 0 || alen >= sizeof(a) || blen == 0 || blen > 3)
        return false;
    unsigned bits = 0;
    for (size_t i = 0; i < blen; i++) {
        char c = slash[1 + i];
        if (c < '0' || c > '9')
            return false;
        bits = bits * 10 + (unsigned)(c - '0');
    }
    memcpy(a, s, alen);
    a[alen] = '\0';
    memset(out, 0, sizeof(*out));
    uint8_t v4[4];
    if (inet_pton(AF_INET, a, v4) == 1) {
        if (bits > 32)
            return false;
        out->addr[10] = out->addr[11] = 0xff;
        memcpy(out->addr + 12, v4, 4);
        bits += 96;
    } else if (inet_pton(AF_INET6, a, out->addr) != 1 || bits > 128) {
        return false;
    }
    out->bits = bits;
    for (unsigned i = bits; i < 128; i++)
        out->addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
    return true;
}

bool trl_cidr_contains(const struct trl_qcidr *c, const char *s, size_t len)
{
    char a[INET6_ADDRSTRLEN + 1];
    uint8_t ip[16] = {0};
    if (len == 0 || len >= sizeof(a))
        return false;
    memcpy(a, s, len);
    a[len] = '\0';
    if (inet_pton(AF_INET, a, ip + 12) == 1)
        ip[10] = ip[11] = 0xff;
    else if (inet_pton(AF_INET6, a, ip) != 1)
        return false;
    unsigned full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(ip, c->addr, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (ip[full] & mask) == c->addr[full];
}

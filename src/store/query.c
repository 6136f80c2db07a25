#include "store/query.h"
#include "core/util.h"

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
        if (p->cur.kind == TK_PIPE)
            fail(p, p->cur.off, "pipes ('|') are not supported yet");
        else
            fail(p, open, "unclosed '(': missing ')'");
        return NULL;
    }
    next_token(p);
    return inner;
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
            fail(p, tk.off, "pipes ('|') are not supported yet");
        else
            fail(p, tk.off, "unexpected '%.*s' where a term was expected", (int)tk.len,
                 p->s + tk.off);
        return NULL;
    }
    const char *w = p->s + tk.off;
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
        if (rest > 0) {
            struct trl_qnode *t = new_node(p, TRL_Q_TERM, tk.off);
            t->field = fname;
            t->field_len = colon;
            word_value(p, t, w + colon + 1, rest);
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
    if (!p.failed && p.cur.kind == TK_EOF) {
        root = new_node(&p, TRL_Q_ALL, 0);
    } else if (!p.failed) {
        root = parse_or(&p, NULL, 0);
        if (root && !p.failed && p.cur.kind != TK_EOF) {
            if (p.cur.kind == TK_PIPE)
                fail(&p, p.cur.off, "pipes ('|') are not supported yet");
            else if (p.cur.kind == TK_RPAREN)
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
    struct trl_query *q = trl_arena_alloc(p.a, sizeof(*q));
    q->arena = p.a;
    q->root = root;
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
     * would end or split the word gets one. */
    for (size_t i = 0; i < n->text_len; i++) {
        char c = n->text[i];
        if (c == '\\' && i + 1 < n->text_len) {
            fmt_put(f, n->text + i, 2);
            i++;
            continue;
        }
        if (ends_word(c) || c == ':' || c == '\\')
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

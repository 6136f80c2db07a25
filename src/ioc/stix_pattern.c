#include "ioc/stix_pattern.h"
#include "core/arena.h"
#include "core/timeutil.h"
#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parentheses and brackets nest at most this deep: deeper input is refused rather than recursed. */
#define MAX_DEPTH 64

enum tok {
    T_EOF,
    T_LBRACK,
    T_RBRACK,
    T_LPAREN,
    T_RPAREN,
    T_COMMA,
    T_COLON,
    T_DOT,
    T_STAR,
    T_EQ,
    T_NEQ,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_STRING,
    T_INT,
    T_FLOAT,
    T_TIMESTAMP,
    T_BINARY,
    T_HEX,
    T_BOOL,
    T_IDENT,
    T_AND,
    T_OR,
    T_NOT,
    T_FOLLOWEDBY,
    T_LIKE,
    T_MATCHES,
    T_ISSUBSET,
    T_ISSUPERSET,
    T_IN,
    T_START,
    T_STOP,
    T_WITHIN,
    T_REPEATS,
    T_TIMES,
    T_SECONDS,
    T_EXISTS,
};

static const struct {
    const char *word;
    enum tok tok;
} keywords[] = {
    {"AND", T_AND},
    {"OR", T_OR},
    {"NOT", T_NOT},
    {"FOLLOWEDBY", T_FOLLOWEDBY},
    {"LIKE", T_LIKE},
    {"MATCHES", T_MATCHES},
    {"ISSUBSET", T_ISSUBSET},
    {"ISSUPERSET", T_ISSUPERSET},
    {"IN", T_IN},
    {"START", T_START},
    {"STOP", T_STOP},
    {"WITHIN", T_WITHIN},
    {"REPEATS", T_REPEATS},
    {"TIMES", T_TIMES},
    {"SECONDS", T_SECONDS},
    {"EXISTS", T_EXISTS},
};

struct token {
    enum tok t;
    const char *p; /* the token as written */
    size_t len;
    unsigned col;
    char *str; /* STRING: unescaped; TIMESTAMP/BINARY/HEX: the quoted text */
    size_t slen;
    int64_t i;
    double f;
};

struct trl_stix_pattern {
    struct trl_arena *arena;
    const struct trl_stix_obs_expr *root;
};

struct parser {
    const char *src;
    size_t len;
    size_t pos;
    struct token tok;
    struct trl_arena *arena;
    char *err;
    size_t errlen;
    bool failed;
    int depth;
};

static void fail_at(struct parser *ps, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_at(struct parser *ps, unsigned col, const char *fmt, ...)
{
    if (ps->failed)
        return;
    ps->failed = true;
    if (!ps->err || ps->errlen == 0)
        return;
    int n = snprintf(ps->err, ps->errlen, "column %u: ", col);
    if (n < 0 || (size_t)n >= ps->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static bool is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident_char(char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9') || c == '-';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Describes the current token for an error message: 'text' or "end of pattern". */
static const char *tok_desc(struct parser *ps, char *buf, size_t cap)
{
    if (ps->tok.t == T_EOF)
        return "end of pattern";
    size_t n = ps->tok.len > 24 ? 24 : ps->tok.len;
    bool printable = true;
    for (size_t i = 0; i < n; i++)
        printable &= (unsigned char)ps->tok.p[i] >= 0x20 && (unsigned char)ps->tok.p[i] < 0x7f;
    if (!printable)
        return "a non-printable byte";
    snprintf(buf, cap, "'%.*s%s'", (int)n, ps->tok.p, ps->tok.len > n ? "..." : "");
    return buf;
}

/* Reads a quoted literal starting at the opening quote; stores the unescaped text. */
static bool lex_quoted(struct parser *ps, size_t start, bool unescape)
{
    size_t i = ps->pos + 1;
    char *out = trl_arena_alloc(ps->arena, ps->len - ps->pos + 1);
    size_t n = 0;
    while (i < ps->len && ps->src[i] != '\'') {
        if (ps->src[i] == '\\') {
            if (i + 1 < ps->len && (ps->src[i + 1] == '\'' || ps->src[i + 1] == '\\')) {
                out[n++] = ps->src[i + 1];
                i += 2;
                continue;
            }
            if (unescape) {
                fail_at(ps, (unsigned)i + 1,
                        "bad escape in string (only \\' and \\\\ are allowed)");
                return false;
            }
        }
        out[n++] = ps->src[i++];
    }
    if (i >= ps->len) {
        fail_at(ps, (unsigned)start + 1, "unterminated string (no closing ')");
        return false;
    }
    out[n] = '\0';
    ps->tok.str = out;
    ps->tok.slen = n;
    ps->pos = i + 1;
    return true;
}

static bool check_timestamp(struct parser *ps, unsigned col)
{
    const char *s = ps->tok.str;
    size_t n = ps->tok.slen;
    int64_t ns;
    if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[n - 1] != 'Z' ||
        trl_parse_rfc3339(s, n, &ns) != n) {
        fail_at(ps, col, "bad timestamp literal (want t'YYYY-MM-DDTHH:MM:SS[.frac]Z')");
        return false;
    }
    ps->tok.i = ns;
    return true;
}

static void lex(struct parser *ps)
{
    const char *s = ps->src;
    while (ps->pos < ps->len &&
           (s[ps->pos] == ' ' || s[ps->pos] == '\t' || s[ps->pos] == '\r' || s[ps->pos] == '\n'))
        ps->pos++;
    struct token *t = &ps->tok;
    memset(t, 0, sizeof(*t));
    t->p = s + ps->pos;
    t->col = (unsigned)ps->pos + 1;
    if (ps->pos >= ps->len) {
        t->t = T_EOF;
        return;
    }
    size_t start = ps->pos;
    char c = s[ps->pos];
    char c1 = ps->pos + 1 < ps->len ? s[ps->pos + 1] : '\0';
    switch (c) {
    case '[':
        t->t = T_LBRACK;
        ps->pos++;
        break;
    case ']':
        t->t = T_RBRACK;
        ps->pos++;
        break;
    case '(':
        t->t = T_LPAREN;
        ps->pos++;
        break;
    case ')':
        t->t = T_RPAREN;
        ps->pos++;
        break;
    case ',':
        t->t = T_COMMA;
        ps->pos++;
        break;
    case ':':
        t->t = T_COLON;
        ps->pos++;
        break;
    case '.':
        t->t = T_DOT;
        ps->pos++;
        break;
    case '*':
        t->t = T_STAR;
        ps->pos++;
        break;
    case '=':
        t->t = T_EQ;
        ps->pos += c1 == '=' ? 2 : 1;
        break;
    case '!':
        if (c1 != '=') {
            fail_at(ps, t->col, "unexpected '!' (did you mean '!=' ?)");
            return;
        }
        t->t = T_NEQ;
        ps->pos += 2;
        break;
    case '<':
        t->t = c1 == '=' ? T_LE : c1 == '>' ? T_NEQ : T_LT;
        ps->pos += c1 == '=' || c1 == '>' ? 2 : 1;
        break;
    case '>':
        t->t = c1 == '=' ? T_GE : T_GT;
        ps->pos += c1 == '=' ? 2 : 1;
        break;
    case '\'':
        t->t = T_STRING;
        if (!lex_quoted(ps, start, true))
            return;
        break;
    case '"':
        fail_at(ps, t->col, "strings are quoted with single quotes ('...'), not \"");
        return;
    default:
        if ((c == 't' || c == 'b' || c == 'h') && c1 == '\'') {
            ps->pos++;
            if (!lex_quoted(ps, start + 1, c == 't'))
                return;
            if (c == 't') {
                t->t = T_TIMESTAMP;
                if (!check_timestamp(ps, t->col))
                    return;
            } else if (c == 'b') {
                t->t = T_BINARY;
                for (size_t i = 0; i < t->slen; i++) {
                    char d = t->str[i];
                    if (!(is_ident_start(d) || is_digit(d) || d == '+' || d == '/' || d == '=') ||
                        d == '_') {
                        fail_at(ps, t->col, "bad binary literal (want base64 in b'...')");
                        return;
                    }
                }
            } else {
                t->t = T_HEX;
                for (size_t i = 0; i < t->slen; i++) {
                    char d = t->str[i];
                    if (!(is_digit(d) || (d >= 'a' && d <= 'f') || (d >= 'A' && d <= 'F'))) {
                        fail_at(ps, t->col, "bad hex literal (want hex digits in h'...')");
                        return;
                    }
                }
                if (t->slen % 2) {
                    fail_at(ps, t->col, "hex literal with an odd number of digits");
                    return;
                }
            }
            break;
        }
        if (is_digit(c) || ((c == '-' || c == '+') && is_digit(c1))) {
            size_t i = ps->pos + 1;
            while (i < ps->len && is_digit(s[i]))
                i++;
            bool is_float = false;
            if (i + 1 < ps->len && s[i] == '.' && is_digit(s[i + 1])) {
                is_float = true;
                i++;
                while (i < ps->len && is_digit(s[i]))
                    i++;
            }
            if (i < ps->len && (is_ident_char(s[i]) || s[i] == '.')) {
                fail_at(ps, t->col, "malformed number (a string value must be quoted with '...')");
                return;
            }
            char buf[64];
            size_t n = i - ps->pos;
            if (n >= sizeof(buf)) {
                fail_at(ps, t->col, "number too long");
                return;
            }
            memcpy(buf, s + ps->pos, n);
            buf[n] = '\0';
            if (is_float) {
                t->t = T_FLOAT;
                t->f = strtod(buf, NULL);
            } else {
                t->t = T_INT;
                const char *d = buf + (buf[0] == '-' || buf[0] == '+');
                uint64_t u;
                if (!trl_parse_u64(d, strlen(d), &u) || u > (uint64_t)INT64_MAX) {
                    fail_at(ps, t->col, "integer out of range");
                    return;
                }
                t->i = buf[0] == '-' ? -(int64_t)u : (int64_t)u;
            }
            ps->pos = i;
            break;
        }
        if (is_ident_start(c)) {
            size_t i = ps->pos + 1;
            while (i < ps->len && is_ident_char(s[i]))
                i++;
            size_t n = i - ps->pos;
            t->t = T_IDENT;
            for (size_t k = 0; k < TRL_ARRAY_LEN(keywords); k++) {
                if (strlen(keywords[k].word) == n && memcmp(keywords[k].word, s + ps->pos, n) == 0)
                    t->t = keywords[k].tok;
            }
            if ((n == 4 && memcmp(s + ps->pos, "true", 4) == 0) ||
                (n == 5 && memcmp(s + ps->pos, "false", 5) == 0)) {
                t->t = T_BOOL;
                t->i = n == 4;
            }
            ps->pos = i;
            break;
        }
        if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
            fail_at(ps, t->col, "unexpected character '%c'", c);
        else
            fail_at(ps, t->col, "unexpected byte 0x%02x", (unsigned char)c);
        return;
    }
    t->len = ps->pos - start;
}

static void next(struct parser *ps)
{
    if (!ps->failed)
        lex(ps);
}

static void expected(struct parser *ps, const char *what)
{
    char buf[48];
    fail_at(ps, ps->tok.col, "expected %s, found %s", what, tok_desc(ps, buf, sizeof(buf)));
}

static bool accept(struct parser *ps, enum tok t)
{
    if (ps->failed || ps->tok.t != t)
        return false;
    next(ps);
    return true;
}

static bool enter(struct parser *ps)
{
    if (++ps->depth > MAX_DEPTH) {
        fail_at(ps, ps->tok.col, "nesting deeper than %d levels", MAX_DEPTH);
        return false;
    }
    return true;
}

/* Object path: type ':' component ('.' component | '[' index ']')*. */
static bool parse_path(struct parser *ps, struct trl_stix_comparison *c)
{
    if (ps->tok.t != T_IDENT) {
        expected(ps, "an object path (type:property)");
        return false;
    }
    c->column = ps->tok.col;
    c->object_type = trl_arena_strndup(ps->arena, ps->tok.p, ps->tok.len);
    next(ps);
    if (!accept(ps, T_COLON)) {
        if (!ps->failed)
            expected(ps, "':' and a property after the object type");
        return false;
    }
    struct {
        char *p;
        size_t len, cap;
    } path = {trl_arena_alloc(ps->arena, 128), 0, 128};
    bool first = true;
    for (;;) {
        const char *comp = NULL;
        size_t clen = 0;
        bool index = false;
        if (first || accept(ps, T_DOT)) {
            if (ps->tok.t == T_IDENT) {
                if (memchr(ps->tok.p, '-', ps->tok.len)) {
                    fail_at(ps, ps->tok.col, "property names with '-' must be quoted ('%.*s')",
                            (int)TRL_MIN(ps->tok.len, 40), ps->tok.p);
                    return false;
                }
                comp = ps->tok.p;
                clen = ps->tok.len;
            } else if (ps->tok.t == T_STRING) {
                comp = ps->tok.str;
                clen = ps->tok.slen;
            } else {
                expected(ps, first ? "a property name after ':'" : "a property name after '.'");
                return false;
            }
            next(ps);
        } else if (!ps->failed && ps->tok.t == T_LBRACK) {
            next(ps);
            if (ps->tok.t == T_STAR) {
                comp = "[*]";
                clen = 3;
            } else if (ps->tok.t == T_INT && ps->tok.i >= 0) {
                comp = trl_arena_sprintf(ps->arena, "[%lld]", (long long)ps->tok.i);
                clen = strlen(comp);
            } else {
                expected(ps, "a list index (a number or *)");
                return false;
            }
            next(ps);
            if (!accept(ps, T_RBRACK)) {
                if (!ps->failed)
                    expected(ps, "']' after the list index");
                return false;
            }
            index = true;
        } else {
            break;
        }
        if (ps->failed)
            return false;
        size_t need = path.len + clen + 2;
        if (need > path.cap) {
            size_t cap = need * 2;
            char *np = trl_arena_alloc(ps->arena, cap);
            memcpy(np, path.p, path.len);
            path.p = np;
            path.cap = cap;
        }
        if (!first && !index)
            path.p[path.len++] = '.';
        memcpy(path.p + path.len, comp, clen);
        path.len += clen;
        path.p[path.len] = '\0';
        first = false;
    }
    c->path = path.p;
    return !ps->failed;
}

static bool is_primitive(enum tok t)
{
    return t == T_STRING || t == T_INT || t == T_FLOAT || t == T_BOOL || t == T_TIMESTAMP ||
           t == T_BINARY || t == T_HEX;
}

static void take_value(struct parser *ps, struct trl_stix_value *v)
{
    memset(v, 0, sizeof(*v));
    switch (ps->tok.t) {
    case T_STRING:
        v->kind = TRL_STIX_V_STRING;
        break;
    case T_INT:
        v->kind = TRL_STIX_V_INT;
        break;
    case T_FLOAT:
        v->kind = TRL_STIX_V_FLOAT;
        break;
    case T_BOOL:
        v->kind = TRL_STIX_V_BOOL;
        break;
    case T_TIMESTAMP:
        v->kind = TRL_STIX_V_TIMESTAMP;
        break;
    case T_BINARY:
        v->kind = TRL_STIX_V_BINARY;
        break;
    default:
        v->kind = TRL_STIX_V_HEX;
        break;
    }
    if (ps->tok.str) {
        v->text = ps->tok.str;
        v->len = ps->tok.slen;
    } else {
        v->text = trl_arena_strndup(ps->arena, ps->tok.p, ps->tok.len);
        v->len = ps->tok.len;
    }
    v->i = ps->tok.i;
    v->f = ps->tok.f;
    next(ps);
}

static const char *op_text(enum trl_stix_op op)
{
    static const char *const names[] = {"=",       "!=",       "<",          ">",
                                        "<=",      ">=",       "IN",         "LIKE",
                                        "MATCHES", "ISSUBSET", "ISSUPERSET", "EXISTS"};
    switch (op) {
    case TRL_STIX_EQ:
        return names[0];
    case TRL_STIX_NEQ:
        return names[1];
    case TRL_STIX_LT:
        return names[2];
    case TRL_STIX_GT:
        return names[3];
    case TRL_STIX_LE:
        return names[4];
    case TRL_STIX_GE:
        return names[5];
    case TRL_STIX_IN:
        return names[6];
    case TRL_STIX_LIKE:
        return names[7];
    case TRL_STIX_MATCHES:
        return names[8];
    case TRL_STIX_ISSUBSET:
        return names[9];
    case TRL_STIX_ISSUPERSET:
        return names[10];
    default:
        return names[11];
    }
}

static const struct trl_stix_cmp_expr *parse_cmp_or(struct parser *ps);

static const struct trl_stix_cmp_expr *parse_prop_test(struct parser *ps)
{
    if (ps->failed)
        return NULL;
    if (ps->tok.t == T_LPAREN) {
        if (!enter(ps))
            return NULL;
        next(ps);
        const struct trl_stix_cmp_expr *e = parse_cmp_or(ps);
        if (!e)
            return NULL;
        if (!accept(ps, T_RPAREN)) {
            if (!ps->failed)
                expected(ps, "')' to close the parenthesised comparison");
            return NULL;
        }
        ps->depth--;
        return e;
    }
    struct trl_stix_comparison *c = trl_arena_alloc(ps->arena, sizeof(*c));
    memset(c, 0, sizeof(*c));
    if (accept(ps, T_EXISTS)) {
        if (!parse_path(ps, c))
            return NULL;
        c->op = TRL_STIX_EXISTS;
    } else {
        if (!parse_path(ps, c))
            return NULL;
        c->negated = accept(ps, T_NOT);
        enum tok optok = ps->tok.t;
        switch (optok) {
        case T_EQ:
            c->op = TRL_STIX_EQ;
            break;
        case T_NEQ:
            c->op = TRL_STIX_NEQ;
            break;
        case T_LT:
            c->op = TRL_STIX_LT;
            break;
        case T_LE:
            c->op = TRL_STIX_LE;
            break;
        case T_GT:
            c->op = TRL_STIX_GT;
            break;
        case T_GE:
            c->op = TRL_STIX_GE;
            break;
        case T_IN:
            c->op = TRL_STIX_IN;
            break;
        case T_LIKE:
            c->op = TRL_STIX_LIKE;
            break;
        case T_MATCHES:
            c->op = TRL_STIX_MATCHES;
            break;
        case T_ISSUBSET:
            c->op = TRL_STIX_ISSUBSET;
            break;
        case T_ISSUPERSET:
            c->op = TRL_STIX_ISSUPERSET;
            break;
        default:
            if (!ps->failed)
                expected(ps, "a comparison operator (=, !=, <, >, IN, LIKE, MATCHES, ISSUBSET...)");
            return NULL;
        }
        next(ps);
        if (ps->failed)
            return NULL;
        struct trl_stix_value *vals;
        if (c->op == TRL_STIX_IN) {
            if (!accept(ps, T_LPAREN)) {
                if (!ps->failed)
                    expected(ps, "'(' and a list of values after IN");
                return NULL;
            }
            size_t cap = 4, n = 0;
            vals = trl_arena_alloc(ps->arena, cap * sizeof(*vals));
            for (;;) {
                if (!is_primitive(ps->tok.t)) {
                    if (!ps->failed)
                        expected(ps, "a value in the IN list");
                    return NULL;
                }
                if (n == cap) {
                    struct trl_stix_value *nv = trl_arena_alloc(ps->arena, 2 * cap * sizeof(*nv));
                    memcpy(nv, vals, n * sizeof(*nv));
                    vals = nv;
                    cap *= 2;
                }
                take_value(ps, &vals[n++]);
                if (accept(ps, T_COMMA))
                    continue;
                if (accept(ps, T_RPAREN))
                    break;
                if (!ps->failed)
                    expected(ps, "',' or ')' in the IN list");
                return NULL;
            }
            c->values = vals;
            c->nvalues = n;
        } else {
            bool ok;
            const char *want;
            enum tok vt = ps->tok.t;
            switch (c->op) {
            case TRL_STIX_EQ:
            case TRL_STIX_NEQ:
                ok = is_primitive(vt);
                want = "a value (a 'string', number, true/false, t'...', b'...' or h'...')";
                break;
            case TRL_STIX_LT:
            case TRL_STIX_LE:
            case TRL_STIX_GT:
            case TRL_STIX_GE:
                ok = is_primitive(vt) && vt != T_BOOL;
                want = "an orderable value (a number, 'string', t'...', b'...' or h'...')";
                break;
            default:
                ok = vt == T_STRING;
                want = "a 'string'";
                break;
            }
            if (!ok) {
                if (!ps->failed) {
                    char buf[48];
                    fail_at(ps, ps->tok.col, "expected %s after %s, found %s", want, op_text(c->op),
                            tok_desc(ps, buf, sizeof(buf)));
                }
                return NULL;
            }
            vals = trl_arena_alloc(ps->arena, sizeof(*vals));
            take_value(ps, vals);
            c->values = vals;
            c->nvalues = 1;
        }
    }
    if (ps->failed)
        return NULL;
    struct trl_stix_cmp_expr *e = trl_arena_alloc(ps->arena, sizeof(*e));
    memset(e, 0, sizeof(*e));
    e->kind = TRL_STIX_CMP_LEAF;
    e->cmp = c;
    return e;
}

static const struct trl_stix_cmp_expr *join_cmp(struct parser *ps, enum trl_stix_cmp_kind kind,
                                                const struct trl_stix_cmp_expr *l,
                                                const struct trl_stix_cmp_expr *r)
{
    struct trl_stix_cmp_expr *e = trl_arena_alloc(ps->arena, sizeof(*e));
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->left = l;
    e->right = r;
    return e;
}

static const struct trl_stix_cmp_expr *parse_cmp_and(struct parser *ps)
{
    const struct trl_stix_cmp_expr *l = parse_prop_test(ps);
    while (l && accept(ps, T_AND)) {
        const struct trl_stix_cmp_expr *r = parse_prop_test(ps);
        if (!r)
            return NULL;
        l = join_cmp(ps, TRL_STIX_CMP_AND, l, r);
    }
    return ps->failed ? NULL : l;
}

static const struct trl_stix_cmp_expr *parse_cmp_or(struct parser *ps)
{
    const struct trl_stix_cmp_expr *l = parse_cmp_and(ps);
    while (l && accept(ps, T_OR)) {
        const struct trl_stix_cmp_expr *r = parse_cmp_and(ps);
        if (!r)
            return NULL;
        l = join_cmp(ps, TRL_STIX_CMP_OR, l, r);
    }
    return ps->failed ? NULL : l;
}

static const struct trl_stix_obs_expr *parse_obs_followedby(struct parser *ps);

static bool parse_qualifiers(struct parser *ps, struct trl_stix_obs_expr *e)
{
    struct trl_stix_qualifier **tail = (struct trl_stix_qualifier **)&e->quals;
    while (!ps->failed) {
        struct trl_stix_qualifier q = {0};
        unsigned col = ps->tok.col;
        if (accept(ps, T_WITHIN)) {
            q.kind = TRL_STIX_Q_WITHIN;
            if (ps->tok.t == T_INT && ps->tok.i > 0)
                q.within_s = (double)ps->tok.i;
            else if (ps->tok.t == T_FLOAT && ps->tok.f > 0)
                q.within_s = ps->tok.f;
            else {
                if (!ps->failed)
                    expected(ps, "a positive number of seconds after WITHIN");
                return false;
            }
            next(ps);
            if (!accept(ps, T_SECONDS)) {
                if (!ps->failed)
                    expected(ps, "SECONDS after the WITHIN duration");
                return false;
            }
        } else if (accept(ps, T_REPEATS)) {
            q.kind = TRL_STIX_Q_REPEATS;
            if (ps->tok.t != T_INT || ps->tok.i <= 0) {
                if (!ps->failed)
                    expected(ps, "a positive integer after REPEATS");
                return false;
            }
            q.repeats = ps->tok.i;
            next(ps);
            if (!accept(ps, T_TIMES)) {
                if (!ps->failed)
                    expected(ps, "TIMES after the REPEATS count");
                return false;
            }
        } else if (accept(ps, T_START)) {
            q.kind = TRL_STIX_Q_START_STOP;
            if (ps->tok.t != T_TIMESTAMP) {
                if (!ps->failed)
                    expected(ps, "a timestamp t'...' after START");
                return false;
            }
            q.start_ns = ps->tok.i;
            next(ps);
            if (!accept(ps, T_STOP)) {
                if (!ps->failed)
                    expected(ps, "STOP after the START timestamp");
                return false;
            }
            if (ps->tok.t != T_TIMESTAMP) {
                if (!ps->failed)
                    expected(ps, "a timestamp t'...' after STOP");
                return false;
            }
            q.stop_ns = ps->tok.i;
            if (q.stop_ns <= q.start_ns) {
                fail_at(ps, col, "the STOP time must be later than the START time");
                return false;
            }
            next(ps);
        } else {
            break;
        }
        struct trl_stix_qualifier *nq = trl_arena_alloc(ps->arena, sizeof(*nq));
        *nq = q;
        *tail = nq;
        tail = (struct trl_stix_qualifier **)&nq->next;
    }
    return !ps->failed;
}

static const struct trl_stix_obs_expr *parse_obs_primary(struct parser *ps)
{
    struct trl_stix_obs_expr *e = NULL;
    if (ps->failed)
        return NULL;
    if (ps->tok.t == T_LBRACK) {
        if (!enter(ps))
            return NULL;
        next(ps);
        if (ps->tok.t == T_RBRACK) {
            expected(ps, "a comparison inside [ ]");
            return NULL;
        }
        const struct trl_stix_cmp_expr *c = parse_cmp_or(ps);
        if (!c)
            return NULL;
        if (!accept(ps, T_RBRACK)) {
            if (!ps->failed)
                expected(ps, "']' to close the observation expression");
            return NULL;
        }
        ps->depth--;
        e = trl_arena_alloc(ps->arena, sizeof(*e));
        memset(e, 0, sizeof(*e));
        e->kind = TRL_STIX_OBS;
        e->cmp = c;
    } else if (ps->tok.t == T_LPAREN) {
        if (!enter(ps))
            return NULL;
        next(ps);
        const struct trl_stix_obs_expr *inner = parse_obs_followedby(ps);
        if (!inner)
            return NULL;
        if (!accept(ps, T_RPAREN)) {
            if (!ps->failed)
                expected(ps, "')' to close the parenthesised observation expressions");
            return NULL;
        }
        ps->depth--;
        e = trl_arena_alloc(ps->arena, sizeof(*e));
        *e = *inner;
        if (inner->quals) {
            /* Qualifiers written inside and outside the parentheses both apply; the outer ones are
             * appended after the inner ones. */
            struct trl_stix_obs_expr outer = {0};
            if (!parse_qualifiers(ps, &outer))
                return NULL;
            if (outer.quals) {
                const struct trl_stix_qualifier *q = inner->quals;
                struct trl_stix_qualifier *copy = NULL, **tail = &copy;
                for (; q; q = q->next) {
                    struct trl_stix_qualifier *nq = trl_arena_alloc(ps->arena, sizeof(*nq));
                    *nq = *q;
                    nq->next = NULL;
                    *tail = nq;
                    tail = (struct trl_stix_qualifier **)&nq->next;
                }
                *tail = (struct trl_stix_qualifier *)outer.quals;
                e->quals = copy;
            }
            return e;
        }
        e->quals = NULL;
    } else {
        expected(ps, "'[' or '(' to start an observation expression");
        return NULL;
    }
    if (!parse_qualifiers(ps, e))
        return NULL;
    return e;
}

static const struct trl_stix_obs_expr *join_obs(struct parser *ps, enum trl_stix_obs_kind kind,
                                                const struct trl_stix_obs_expr *l,
                                                const struct trl_stix_obs_expr *r)
{
    struct trl_stix_obs_expr *e = trl_arena_alloc(ps->arena, sizeof(*e));
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->left = l;
    e->right = r;
    return e;
}

static const struct trl_stix_obs_expr *parse_obs_and(struct parser *ps)
{
    const struct trl_stix_obs_expr *l = parse_obs_primary(ps);
    while (l && !ps->failed && ps->tok.t == T_AND) {
        next(ps);
        const struct trl_stix_obs_expr *r = parse_obs_primary(ps);
        if (!r) {
            if (!ps->failed)
                expected(ps, "an observation expression after AND");
            return NULL;
        }
        l = join_obs(ps, TRL_STIX_OBS_AND, l, r);
    }
    return ps->failed ? NULL : l;
}

static const struct trl_stix_obs_expr *parse_obs_or(struct parser *ps)
{
    const struct trl_stix_obs_expr *l = parse_obs_and(ps);
    while (l && !ps->failed && ps->tok.t == T_OR) {
        next(ps);
        const struct trl_stix_obs_expr *r = parse_obs_and(ps);
        if (!r)
            return NULL;
        l = join_obs(ps, TRL_STIX_OBS_OR, l, r);
    }
    return ps->failed ? NULL : l;
}

static const struct trl_stix_obs_expr *parse_obs_followedby(struct parser *ps)
{
    const struct trl_stix_obs_expr *l = parse_obs_or(ps);
    while (l && !ps->failed && ps->tok.t == T_FOLLOWEDBY) {
        next(ps);
        const struct trl_stix_obs_expr *r = parse_obs_or(ps);
        if (!r)
            return NULL;
        l = join_obs(ps, TRL_STIX_OBS_FOLLOWEDBY, l, r);
    }
    return ps->failed ? NULL : l;
}

int trl_stix_pattern_parse(const char *p, size_t len, struct trl_stix_pattern **out, char *err,
                           size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    struct parser ps = {.src = p, .len = len, .err = err, .errlen = errlen};
    if (len > TRL_STIX_PATTERN_MAX) {
        fail_at(&ps, 1, "pattern longer than %d bytes", TRL_STIX_PATTERN_MAX);
        return TRL_EINVAL;
    }
    if (memchr(p, '\0', len)) {
        fail_at(&ps, (unsigned)((const char *)memchr(p, '\0', len) - p) + 1, "NUL byte in pattern");
        return TRL_EINVAL;
    }
    ps.arena = trl_arena_create(len * 4 + 1024);
    lex(&ps);
    if (!ps.failed && ps.tok.t == T_EOF) {
        fail_at(&ps, 1, "empty pattern");
        goto fail;
    }
    const struct trl_stix_obs_expr *root = parse_obs_followedby(&ps);
    if (!root || ps.failed)
        goto fail;
    if (ps.tok.t != T_EOF) {
        char buf[48];
        fail_at(&ps, ps.tok.col, "unexpected %s after the pattern (want AND, OR or FOLLOWEDBY)",
                tok_desc(&ps, buf, sizeof(buf)));
        goto fail;
    }
    struct trl_stix_pattern *pat = trl_arena_alloc(ps.arena, sizeof(*pat));
    pat->arena = ps.arena;
    pat->root = root;
    *out = pat;
    return 0;
fail:
    if (!ps.failed)
        fail_at(&ps, ps.tok.col, "syntax error");
    trl_arena_destroy(ps.arena);
    return TRL_EINVAL;
}

void trl_stix_pattern_free(struct trl_stix_pattern *pat)
{
    if (pat)
        trl_arena_destroy(pat->arena);
}

const struct trl_stix_obs_expr *trl_stix_pattern_root(const struct trl_stix_pattern *pat)
{
    return pat->root;
}

/* ---- Extraction of per-event indicators ---- */

enum obs_class {
    C_NONE,
    C_IP,   /* ipv4 / ipv6 / cidr by value */
    C_IPV4, /* ipv4-addr:value: the value must be IPv4 */
    C_IPV6, /* ipv6-addr:value */
    C_HOST, /* network-traffic refs: an address, or a domain name */
    C_DOMAIN,
    C_URL,
    C_MD5,
    C_SHA1,
    C_SHA256,
    C_HASH_OTHER,
    C_EMAIL,
    C_FILENAME,
    C_USER_AGENT,
};

struct extract {
    struct trl_arena *arena;
    struct trl_stix_atom *atoms;
    size_t natoms, cap_atoms;
    const char **problems;
    size_t nproblems, cap_problems;
};

static void problem(struct extract *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct extract *x, const char *fmt, ...)
{
    /* Large patterns can explain themselves at length; keep the list readable. */
    if (x->nproblems >= 32)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < x->nproblems; i++) {
        if (!strcmp(x->problems[i], buf))
            return;
    }
    if (x->nproblems == x->cap_problems) {
        size_t cap = x->cap_problems ? x->cap_problems * 2 : 4;
        const char **np = trl_arena_alloc(x->arena, cap * sizeof(*np));
        if (x->nproblems)
            memcpy(np, x->problems, x->nproblems * sizeof(*np));
        x->problems = np;
        x->cap_problems = cap;
    }
    x->problems[x->nproblems++] = trl_arena_strndup(x->arena, buf, strlen(buf));
}

static void add_atom(struct extract *x, enum trl_ioc_type type, const char *value, size_t len,
                     int64_t start, int64_t stop)
{
    for (size_t i = 0; i < x->natoms; i++) {
        if (x->atoms[i].type == type && strcmp(x->atoms[i].value, value) == 0 &&
            x->atoms[i].start_ns == start && x->atoms[i].stop_ns == stop)
            return;
    }
    if (x->natoms == x->cap_atoms) {
        size_t cap = x->cap_atoms ? x->cap_atoms * 2 : 4;
        struct trl_stix_atom *na = trl_arena_alloc(x->arena, cap * sizeof(*na));
        if (x->natoms)
            memcpy(na, x->atoms, x->natoms * sizeof(*na));
        x->atoms = na;
        x->cap_atoms = cap;
    }
    x->atoms[x->natoms++] = (struct trl_stix_atom){
        .type = type,
        .value = trl_arena_strndup(x->arena, value, len),
        .start_ns = start,
        .stop_ns = stop,
    };
}

static bool hash_class(const char *alg, enum obs_class *cls)
{
    size_t n = strlen(alg);
    if (trl_strcase_eq(alg, n, "MD5", 3))
        *cls = C_MD5;
    else if (trl_strcase_eq(alg, n, "SHA-1", 5) || trl_strcase_eq(alg, n, "SHA1", 4))
        *cls = C_SHA1;
    else if (trl_strcase_eq(alg, n, "SHA-256", 7) || trl_strcase_eq(alg, n, "SHA256", 6))
        *cls = C_SHA256;
    else
        *cls = C_HASH_OTHER;
    return true;
}

/* Maps an object path to what Trapline matches it as. */
static enum obs_class classify(const struct trl_stix_comparison *c)
{
    const char *t = c->object_type, *p = c->path;
    enum obs_class cls = C_NONE;
    if (!strcmp(p, "value")) {
        if (!strcmp(t, "ipv4-addr"))
            return C_IPV4;
        if (!strcmp(t, "ipv6-addr"))
            return C_IPV6;
        if (!strcmp(t, "domain-name"))
            return C_DOMAIN;
        if (!strcmp(t, "url"))
            return C_URL;
        if (!strcmp(t, "email-addr"))
            return C_EMAIL;
        return C_NONE;
    }
    if (!strcmp(t, "file") || !strcmp(t, "artifact")) {
        if (!strncmp(p, "hashes.", 7) && hash_class(p + 7, &cls))
            return cls;
        if (!strcmp(t, "file") && !strcmp(p, "name"))
            return C_FILENAME;
        return C_NONE;
    }
    if (!strcmp(t, "process")) {
        if ((!strncmp(p, "image_ref.hashes.", 17) && hash_class(p + 17, &cls)) ||
            (!strncmp(p, "binary_ref.hashes.", 18) && hash_class(p + 18, &cls)))
            return cls;
        if (!strcmp(p, "image_ref.name") || !strcmp(p, "binary_ref.name"))
            return C_FILENAME;
        return C_NONE;
    }
    if (!strcmp(t, "network-traffic")) {
        if (!strcmp(p, "dst_ref.value") || !strcmp(p, "src_ref.value"))
            return C_HOST;
        if (!strcmp(p, "extensions.http-request-ext.request_header.User-Agent"))
            return C_USER_AGENT;
        return C_NONE;
    }
    if (!strcmp(t, "email-message")) {
        if (!strcmp(p, "from_ref.value") || !strcmp(p, "sender_ref.value") ||
            !strcmp(p, "to_refs[*].value") || !strcmp(p, "cc_refs[*].value") ||
            !strcmp(p, "bcc_refs[*].value"))
            return C_EMAIL;
        return C_NONE;
    }
    return C_NONE;
}

static bool is_type_annotation(const struct trl_stix_comparison *c)
{
    size_t n = strlen(c->path);
    return c->op == TRL_STIX_EQ && !c->negated &&
           ((n > 9 && !strcmp(c->path + n - 9, "_ref.type")) ||
            (n > 13 && !strcmp(c->path + n - 13, "_refs[*].type")));
}

/* Normalises one value for a class; returns the type or TRL_IOC_NONE (with a problem noted). */
static void emit_value(struct extract *x, const struct trl_stix_comparison *c, enum obs_class cls,
                       const struct trl_stix_value *v, bool subset, int64_t start, int64_t stop)
{
    char buf[TRL_IOC_VALUE_MAX + 2];
    size_t n;
    const char *why = NULL;
    enum trl_ioc_type type = TRL_IOC_NONE;
    if (v->kind != TRL_STIX_V_STRING) {
        problem(x, "%s:%s: the value is not a string", c->object_type, c->path);
        return;
    }
    switch (cls) {
    case C_IP:
    case C_IPV4:
    case C_IPV6:
    case C_HOST: {
        bool net = subset || memchr(v->text, '/', v->len);
        type = net ? TRL_IOC_CIDR : TRL_IOC_NONE;
        if (!net) {
            enum trl_ioc_type d = trl_ioc_detect_type(v->text, v->len, 0);
            type = d == TRL_IOC_IPV4 || d == TRL_IOC_IPV6 ? d : TRL_IOC_NONE;
            if (type == TRL_IOC_NONE && cls == C_HOST)
                type = TRL_IOC_DOMAIN;
            if (type == TRL_IOC_NONE)
                type = cls == C_IPV6 ? TRL_IOC_IPV6 : TRL_IOC_IPV4;
        }
        if (subset && !memchr(v->text, '/', v->len)) {
            /* ISSUBSET with a bare address: the address itself. */
            enum trl_ioc_type d = trl_ioc_detect_type(v->text, v->len, 0);
            type = d == TRL_IOC_IPV6 ? TRL_IOC_IPV6 : TRL_IOC_IPV4;
        }
        break;
    }
    case C_DOMAIN:
        type = TRL_IOC_DOMAIN;
        break;
    case C_URL:
        type = TRL_IOC_URL;
        break;
    case C_MD5:
        type = TRL_IOC_MD5;
        break;
    case C_SHA1:
        type = TRL_IOC_SHA1;
        break;
    case C_SHA256:
        type = TRL_IOC_SHA256;
        break;
    case C_EMAIL:
        type = TRL_IOC_EMAIL;
        break;
    case C_FILENAME:
        type = TRL_IOC_FILENAME;
        break;
    case C_USER_AGENT:
        type = TRL_IOC_USER_AGENT;
        break;
    default:
        return;
    }
    if (trl_ioc_normalize(type, v->text, v->len, buf, sizeof(buf), &n, &why) != 0) {
        problem(x, "%s:%s = '%.*s': %s", c->object_type, c->path, (int)TRL_MIN(v->len, 80), v->text,
                why);
        return;
    }
    if ((cls == C_IPV4 || cls == C_IPV6) && type == TRL_IOC_CIDR) {
        bool v6 = memchr(buf, ':', n) != NULL;
        if (v6 != (cls == C_IPV6)) {
            problem(x, "%s:%s = '%s': wrong address family for %s", c->object_type, c->path, buf,
                    c->object_type);
            return;
        }
    }
    if ((cls == C_IPV4 && type == TRL_IOC_IPV6) || (cls == C_IPV6 && type == TRL_IOC_IPV4)) {
        problem(x, "%s:%s = '%s': wrong address family for %s", c->object_type, c->path, buf,
                c->object_type);
        return;
    }
    add_atom(x, type, buf, n, start, stop);
}

static void extract_cmp(struct extract *x, const struct trl_stix_comparison *c, int64_t start,
                        int64_t stop)
{
    enum obs_class cls = classify(c);
    if (cls == C_NONE) {
        problem(x, "%s:%s is not an observable Trapline matches", c->object_type, c->path);
        return;
    }
    if (cls == C_HASH_OTHER) {
        problem(x, "%s:%s: hash algorithm not matched (MD5, SHA-1 and SHA-256 are)", c->object_type,
                c->path);
        return;
    }
    if (c->negated) {
        problem(x, "%s:%s NOT %s: negations are not supported for matching", c->object_type,
                c->path, op_text(c->op));
        return;
    }
    bool ip = cls == C_IP || cls == C_IPV4 || cls == C_IPV6 || cls == C_HOST;
    switch (c->op) {
    case TRL_STIX_EQ:
        emit_value(x, c, cls, &c->values[0], false, start, stop);
        return;
    case TRL_STIX_IN:
        for (size_t i = 0; i < c->nvalues; i++)
            emit_value(x, c, cls, &c->values[i], false, start, stop);
        return;
    case TRL_STIX_ISSUBSET:
        if (ip) {
            emit_value(x, c, cls, &c->values[0], true, start, stop);
            return;
        }
        break;
    case TRL_STIX_LIKE:
    case TRL_STIX_MATCHES:
        problem(x, "%s:%s %s: unsupported for matching (only =, IN and ISSUBSET are)",
                c->object_type, c->path, op_text(c->op));
        return;
    default:
        break;
    }
    problem(x, "%s:%s %s: operator not supported for matching (only =, IN and ISSUBSET are)",
            c->object_type, c->path, op_text(c->op));
}

/* Collects the leaves of a run of AND nodes; false when an OR sits below an AND. */
static bool and_leaves(const struct trl_stix_cmp_expr *e, const struct trl_stix_comparison **out,
                       size_t *n, size_t cap)
{
    if (e->kind == TRL_STIX_CMP_LEAF) {
        if (*n < cap)
            out[*n] = e->cmp;
        (*n)++;
        return true;
    }
    if (e->kind == TRL_STIX_CMP_OR)
        return false;
    return and_leaves(e->left, out, n, cap) && and_leaves(e->right, out, n, cap);
}

static bool is_hash_eq(const struct trl_stix_comparison *c)
{
    enum obs_class cls = classify(c);
    return (cls == C_MD5 || cls == C_SHA1 || cls == C_SHA256) && c->op == TRL_STIX_EQ &&
           !c->negated;
}

static void extract_and(struct extract *x, const struct trl_stix_cmp_expr *e, int64_t start,
                        int64_t stop)
{
    const struct trl_stix_comparison *leaves[16];
    size_t n = 0;
    if (!and_leaves(e, leaves, &n, TRL_ARRAY_LEN(leaves))) {
        problem(x, "comparisons joined by AND around an OR: not matched per event");
        return;
    }
    if (n > TRL_ARRAY_LEN(leaves)) {
        problem(x, "%zu comparisons joined by AND: not matched per event", n);
        return;
    }
    const struct trl_stix_comparison *rest[16];
    size_t nrest = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_type_annotation(leaves[i]))
            rest[nrest++] = leaves[i];
    }
    if (nrest == 0) {
        problem(x, "only object type conditions (%s:%s): nothing to match", leaves[0]->object_type,
                leaves[0]->path);
        return;
    }
    if (nrest == 1) {
        extract_cmp(x, rest[0], start, stop);
        return;
    }
    /* A hash identifies the file's content: the other conditions on the same object (its name, its
     * size) only narrow it further, so the hash alone is matched and the rest is reported. */
    bool same = true, any_hash = false;
    for (size_t i = 0; i < nrest; i++) {
        same &= !strcmp(rest[i]->object_type, rest[0]->object_type);
        any_hash |= is_hash_eq(rest[i]);
    }
    if (same && any_hash) {
        for (size_t i = 0; i < nrest; i++) {
            if (is_hash_eq(rest[i]))
                extract_cmp(x, rest[i], start, stop);
            else
                problem(x, "%s:%s not checked: the hash identifies the file", rest[i]->object_type,
                        rest[i]->path);
        }
        return;
    }
    problem(x, "comparisons joined by AND (%s:%s AND %s:%s%s): not matched per event",
            rest[0]->object_type, rest[0]->path, rest[1]->object_type, rest[1]->path,
            nrest > 2 ? " ..." : "");
}

static void extract_cmp_or(struct extract *x, const struct trl_stix_cmp_expr *e, int64_t start,
                           int64_t stop)
{
    if (e->kind == TRL_STIX_CMP_OR) {
        extract_cmp_or(x, e->left, start, stop);
        extract_cmp_or(x, e->right, start, stop);
    } else if (e->kind == TRL_STIX_CMP_AND) {
        extract_and(x, e, start, stop);
    } else {
        extract_cmp(x, e->cmp, start, stop);
    }
}

static const char *obs_kind_name(enum trl_stix_obs_kind k)
{
    return k == TRL_STIX_OBS_AND ? "AND" : "FOLLOWEDBY";
}

static void extract_obs(struct extract *x, const struct trl_stix_obs_expr *e, int64_t start,
                        int64_t stop)
{
    for (const struct trl_stix_qualifier *q = e->quals; q; q = q->next) {
        if (q->kind == TRL_STIX_Q_REPEATS) {
            problem(x,
                    "correlated pattern: not matched per event (REPEATS %lld TIMES needs "
                    "several observations)",
                    (long long)q->repeats);
            return;
        }
        if (q->kind == TRL_STIX_Q_START_STOP) {
            /* Nested windows intersect. */
            start = start > q->start_ns ? start : q->start_ns;
            stop = stop && stop < q->stop_ns ? stop : q->stop_ns;
            if (stop <= start) {
                problem(x, "START/STOP windows that do not overlap: never matches");
                return;
            }
        }
        /* WITHIN bounds the time between several observations; on what one event satisfies it
         * changes nothing. */
    }
    switch (e->kind) {
    case TRL_STIX_OBS:
        extract_cmp_or(x, e->cmp, start, stop);
        return;
    case TRL_STIX_OBS_OR:
        extract_obs(x, e->left, start, stop);
        extract_obs(x, e->right, start, stop);
        return;
    default:
        problem(x, "correlated pattern: not matched per event (observations joined by %s)",
                obs_kind_name(e->kind));
        return;
    }
}

int trl_stix_pattern_extract(struct trl_stix_pattern *pat, struct trl_stix_extract *out)
{
    struct extract x = {.arena = pat->arena};
    extract_obs(&x, pat->root, 0, 0);
    out->atoms = x.atoms;
    out->natoms = x.natoms;
    out->problems = (const char *const *)x.problems;
    out->nproblems = x.nproblems;
    return x.natoms ? 0 : TRL_EINVAL;
}

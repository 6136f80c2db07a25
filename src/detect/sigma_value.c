/*
 * Sigma values and modifiers: compiles `field|mod|mod: value(s)` into matchers once, at load time,
 * and evaluates them against event fields. Matching is case-insensitive unless |cased (both sides
 * lower-cased in ASCII), plain values match the whole field with * and ? wildcards (\ escapes),
 * |re is an unanchored PCRE2 search (JIT-compiled), numbers compare numerically when the field is a
 * number. See docs/detection.md for the semantics chosen where the specification is silent.
 */
#include "core/timeutil.h"
#include "core/util.h"
#include "detect/sigma_internal.h"
#include "detect/sigma_literals.h"
#include "detect/yaml_doc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_VARIANTS 4096

enum mod_bit {
    MOD_CONTAINS = 1 << 0,
    MOD_STARTSWITH = 1 << 1,
    MOD_ENDSWITH = 1 << 2,
    MOD_ALL = 1 << 3,
    MOD_RE = 1 << 4,
    MOD_CIDR = 1 << 5,
    MOD_EXISTS = 1 << 6,
    MOD_CASED = 1 << 7,
    MOD_NEQ = 1 << 8,
    MOD_FIELDREF = 1 << 9,
    MOD_LT = 1 << 10,
    MOD_LTE = 1 << 11,
    MOD_GT = 1 << 12,
    MOD_GTE = 1 << 13,
    MOD_RE_I = 1 << 14,
    MOD_RE_M = 1 << 15,
    MOD_RE_S = 1 << 16,
    MOD_EXPAND = 1 << 17,
};

enum time_part { TP_NONE, TP_MINUTE, TP_HOUR, TP_DAY, TP_WEEK, TP_MONTH, TP_YEAR };

/* Transformations that rewrite the value text, applied in the order they are written. */
enum transform { TX_WINDASH, TX_BASE64, TX_BASE64OFFSET, TX_UTF16LE, TX_UTF16BE, TX_UTF16 };

struct variants {
    struct trl_buf *v;
    size_t n;
};

static void variants_add(struct variants *vs, const char *p, size_t len)
{
    vs->v = trl_xrealloc(vs->v, (vs->n + 1) * sizeof(*vs->v));
    memset(&vs->v[vs->n], 0, sizeof(vs->v[vs->n]));
    trl_buf_append(&vs->v[vs->n], p, len);
    vs->n++;
}

static void variants_free(struct variants *vs)
{
    for (size_t i = 0; i < vs->n; i++)
        trl_buf_free(&vs->v[i]);
    free(vs->v);
    vs->v = NULL;
    vs->n = 0;
}

static void base64_encode(const unsigned char *in, size_t len, struct trl_buf *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        char q[4] = {tbl[(v >> 18) & 63], tbl[(v >> 12) & 63],
                     i + 1 < len ? tbl[(v >> 6) & 63] : '=', i + 2 < len ? tbl[v & 63] : '='};
        trl_buf_append(out, q, 4);
    }
    if (!out->data)
        trl_buf_append(out, "", 0);
}

/* UTF-8 to UTF-16 (little or big endian); invalid bytes are taken as Latin-1. */
static void utf16_encode(const unsigned char *in, size_t len, bool big, bool bom,
                         struct trl_buf *out)
{
    if (bom)
        trl_buf_append(out, big ? "\xFE\xFF" : "\xFF\xFE", 2);
    for (size_t i = 0; i < len;) {
        unsigned cp = in[i];
        size_t n = 1;
        if (cp >= 0xC0 && cp < 0xE0 && i + 1 < len)
            cp = ((cp & 0x1F) << 6) | (in[i + 1] & 0x3F), n = 2;
        else if (cp >= 0xE0 && cp < 0xF0 && i + 2 < len)
            cp = ((cp & 0x0F) << 12) | ((in[i + 1] & 0x3F) << 6) | (in[i + 2] & 0x3F), n = 3;
        else if (cp >= 0xF0 && i + 3 < len)
            cp = ((cp & 0x07) << 18) | ((in[i + 1] & 0x3F) << 12) | ((in[i + 2] & 0x3F) << 6) |
                 (in[i + 3] & 0x3F),
            n = 4;
        i += n;
        unsigned units[2];
        size_t nu = 1;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            units[0] = 0xD800 | (cp >> 10);
            units[1] = 0xDC00 | (cp & 0x3FF);
            nu = 2;
        } else {
            units[0] = cp;
        }
        for (size_t u = 0; u < nu; u++) {
            char b[2] = {(char)(big ? units[u] >> 8 : units[u] & 0xFF),
                         (char)(big ? units[u] & 0xFF : units[u] >> 8)};
            trl_buf_append(out, b, 2);
        }
    }
    if (!out->data)
        trl_buf_append(out, "", 0);
}

static bool is_dash(const char *p, size_t left, size_t *n)
{
    if (*p == '-' || *p == '/') {
        *n = 1;
        return true;
    }
    /* en dash, em dash, horizontal bar */
    if (left >= 3 && (unsigned char)p[0] == 0xE2 && (unsigned char)p[1] == 0x80 &&
        ((unsigned char)p[2] == 0x93 || (unsigned char)p[2] == 0x94 ||
         (unsigned char)p[2] == 0x95)) {
        *n = 3;
        return true;
    }
    return false;
}

/* windash: every dash that starts a command-line flag (not preceded by a word character) becomes
 * each of - / – — ―, in every combination. */
static int windash(const struct variants *in, struct variants *out)
{
    static const char *const dashes[] = {"-", "/", "\xE2\x80\x93", "\xE2\x80\x94", "\xE2\x80\x95"};
    for (size_t v = 0; v < in->n; v++) {
        const char *s = in->v[v].data;
        size_t len = in->v[v].len;
        size_t pos[16], plen[16], npos = 0;
        for (size_t i = 0; i < len && npos < 16;) {
            size_t n;
            bool word_before = i > 0 && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_');
            if (is_dash(s + i, len - i, &n) && !word_before) {
                pos[npos] = i;
                plen[npos++] = n;
                i += n;
            } else {
                i++;
            }
        }
        size_t combos = 1;
        for (size_t k = 0; k < npos; k++) {
            combos *= 5;
            if (combos > MAX_VARIANTS)
                return -1;
        }
        for (size_t c = 0; c < combos; c++) {
            struct trl_buf b = {0};
            size_t last = 0, code = c;
            for (size_t k = 0; k < npos; k++) {
                trl_buf_append(&b, s + last, pos[k] - last);
                trl_buf_puts(&b, dashes[code % 5]);
                code /= 5;
                last = pos[k] + plen[k];
            }
            trl_buf_append(&b, s + last, len - last);
            variants_add(out, b.data, b.len);
            trl_buf_free(&b);
        }
    }
    return 0;
}

static void apply_transform(enum transform tx, const struct variants *in, struct variants *out)
{
    for (size_t v = 0; v < in->n; v++) {
        const unsigned char *s = (const unsigned char *)in->v[v].data;
        size_t len = in->v[v].len;
        struct trl_buf b = {0};
        switch (tx) {
        case TX_BASE64:
            base64_encode(s, len, &b);
            variants_add(out, b.data, b.len);
            break;
        case TX_BASE64OFFSET: {
            /* The value's base64 form at each of the three alignments, trimmed of the characters
             * that depend on the unknown surrounding bytes. */
            static const size_t start[3] = {0, 2, 3};
            static const size_t end_trim[3] = {0, 3, 2};
            for (size_t i = 0; i < 3; i++) {
                unsigned char *tmp = trl_xmalloc(len + 3);
                memset(tmp, ' ', i);
                memcpy(tmp + i, s, len);
                trl_buf_reset(&b);
                base64_encode(tmp, len + i, &b);
                free(tmp);
                size_t trim = end_trim[(len + i) % 3];
                if (b.len > start[i] + trim)
                    variants_add(out, b.data + start[i], b.len - start[i] - trim);
            }
            break;
        }
        case TX_UTF16LE:
        case TX_UTF16BE:
        case TX_UTF16:
            utf16_encode(s, len, tx == TX_UTF16BE, tx == TX_UTF16, &b);
            variants_add(out, b.data, b.len);
            break;
        case TX_WINDASH:
            break;
        }
        trl_buf_free(&b);
    }
}

static void lower_ascii(char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (char)tolower((unsigned char)p[i]);
}

/* Splits a Sigma string into literal text and wildcards. Returns the literal with escapes removed
 * and reports whether * or ? appear anywhere but at the ends. */
struct pattern_shape {
    bool lead_star, trail_star, inner_wild;
};

static void shape_of(const char *s, size_t len, struct pattern_shape *sh, struct trl_buf *literal)
{
    memset(sh, 0, sizeof(*sh));
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < len && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
            trl_buf_putc(literal, s[++i]);
        } else if (c == '*' && i == 0) {
            sh->lead_star = true;
        } else if (c == '*' && i == len - 1) {
            sh->trail_star = true;
        } else if (c == '*' || c == '?') {
            sh->inner_wild = true;
            trl_buf_putc(literal, c);
        } else {
            trl_buf_putc(literal, c);
        }
    }
    if (!literal->data)
        trl_buf_append(literal, "", 0);
}

/* A Sigma wildcard pattern as an anchored regular expression. */
static void glob_to_regex(const char *s, size_t len, struct trl_buf *re)
{
    trl_buf_puts(re, "^");
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < len && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
            c = s[++i];
            trl_buf_putc(re, '\\');
            trl_buf_putc(re, c);
        } else if (c == '*') {
            trl_buf_puts(re, ".*");
        } else if (c == '?') {
            trl_buf_putc(re, '.');
        } else if (isalnum((unsigned char)c) || (unsigned char)c >= 0x80) {
            trl_buf_putc(re, c);
        } else {
            char hex[8];
            snprintf(hex, sizeof(hex), "\\x{%02x}", (unsigned char)c);
            trl_buf_puts(re, hex);
        }
    }
    trl_buf_puts(re, "$");
}

static pcre2_code *compile_re(const char *re, size_t len, uint32_t flags, char *err, size_t errlen)
{
    int code;
    PCRE2_SIZE off;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, len, flags, &code, &off, NULL);
    if (!c) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof(msg));
        snprintf(err, errlen, "invalid regular expression at offset %zu: %s", (size_t)off, msg);
        return NULL;
    }
    /* JIT is an optimisation: without it (e.g. no executable memory) matching still works. */
    pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
    return c;
}

static int parse_cidr(const char *s, struct sigma_value *v)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    if (alen >= sizeof(buf))
        return -1;
    memcpy(buf, s, alen);
    buf[alen] = '\0';
    if (inet_pton(AF_INET, buf, v->cidr_addr) == 1)
        v->cidr_family = 4;
    else if (inet_pton(AF_INET6, buf, v->cidr_addr) == 1)
        v->cidr_family = 6;
    else
        return -1;
    int max = v->cidr_family == 4 ? 32 : 128;
    v->cidr_bits = max;
    if (slash) {
        uint64_t bits;
        if (!trl_parse_u64(slash + 1, strlen(slash + 1), &bits) || bits > (uint64_t)max)
            return -1;
        v->cidr_bits = (int)bits;
    }
    return 0;
}

static bool cidr_contains(const struct sigma_value *v, const char *ip, size_t len)
{
    char buf[64];
    uint8_t addr[16];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, ip, len);
    buf[len] = '\0';
    int fam = 0;
    if (inet_pton(AF_INET, buf, addr) == 1)
        fam = 4;
    else if (inet_pton(AF_INET6, buf, addr) == 1)
        fam = 6;
    if (fam != v->cidr_family)
        return false;
    int full = v->cidr_bits / 8, rest = v->cidr_bits % 8;
    if (memcmp(addr, v->cidr_addr, (size_t)full) != 0)
        return false;
    if (rest) {
        uint8_t mask = (uint8_t)(0xFF << (8 - rest));
        return (addr[full] & mask) == (v->cidr_addr[full] & mask);
    }
    return true;
}

static bool parse_number(const char *s, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    double d = strtod(buf, &end);
    if (*end || isnan(d))
        return false;
    /* Hex event values (Windows ids such as 0x3e7) are numbers too. */
    *out = d;
    return true;
}

struct mods {
    uint32_t bits;
    enum transform tx[8];
    size_t ntx;
    enum time_part time;
};

static int parse_modifiers(const char *key, char **field, struct mods *m, char *err, size_t errlen,
                           bool *unsupported)
{
    static const struct {
        const char *name;
        uint32_t bit;
    } simple[] = {
        {"contains", MOD_CONTAINS},
        {"startswith", MOD_STARTSWITH},
        {"endswith", MOD_ENDSWITH},
        {"all", MOD_ALL},
        {"re", MOD_RE},
        {"cidr", MOD_CIDR},
        {"exists", MOD_EXISTS},
        {"cased", MOD_CASED},
        {"neq", MOD_NEQ},
        {"fieldref", MOD_FIELDREF},
        {"lt", MOD_LT},
        {"lte", MOD_LTE},
        {"gt", MOD_GT},
        {"gte", MOD_GTE},
        {"i", MOD_RE_I},
        {"m", MOD_RE_M},
        {"s", MOD_RE_S},
        {"expand", MOD_EXPAND},
    };
    static const struct {
        const char *name;
        enum transform tx;
    } transforms[] = {
        {"windash", TX_WINDASH}, {"base64", TX_BASE64}, {"base64offset", TX_BASE64OFFSET},
        {"utf16le", TX_UTF16LE}, {"wide", TX_UTF16LE},  {"utf16be", TX_UTF16BE},
        {"utf16", TX_UTF16},
    };
    static const struct {
        const char *name;
        enum time_part part;
    } times[] = {{"minute", TP_MINUTE}, {"hour", TP_HOUR},   {"day", TP_DAY},
                 {"week", TP_WEEK},     {"month", TP_MONTH}, {"year", TP_YEAR}};
    memset(m, 0, sizeof(*m));
    const char *bar = strchr(key, '|');
    *field = trl_xstrndup(key, bar ? (size_t)(bar - key) : strlen(key));
    while (bar) {
        const char *name = bar + 1;
        bar = strchr(name, '|');
        size_t n = bar ? (size_t)(bar - name) : strlen(name);
        bool known = false;
        for (size_t i = 0; i < TRL_ARRAY_LEN(simple) && !known; i++) {
            if (strlen(simple[i].name) == n && !strncmp(simple[i].name, name, n)) {
                if ((simple[i].bit & (MOD_RE_I | MOD_RE_M | MOD_RE_S)) && !(m->bits & MOD_RE))
                    break; /* i/m/s are only sub-modifiers of re */
                m->bits |= simple[i].bit;
                known = true;
            }
        }
        for (size_t i = 0; i < TRL_ARRAY_LEN(transforms) && !known; i++) {
            if (strlen(transforms[i].name) == n && !strncmp(transforms[i].name, name, n)) {
                if (m->ntx == TRL_ARRAY_LEN(m->tx))
                    break;
                m->tx[m->ntx++] = transforms[i].tx;
                known = true;
            }
        }
        for (size_t i = 0; i < TRL_ARRAY_LEN(times) && !known; i++) {
            if (strlen(times[i].name) == n && !strncmp(times[i].name, name, n)) {
                m->time = times[i].part;
                known = true;
            }
        }
        if (!known) {
            snprintf(err, errlen, "unknown modifier '%.*s'", (int)TRL_MIN(n, 40), name);
            *unsupported = true;
            return -1;
        }
    }
    return 0;
}

static void value_free(struct sigma_value *v)
{
    free(v->text);
    free(v->atom);
    pcre2_code_free(v->re);
    sigma_field_ref_free(&v->ref);
}

void sigma_test_free(struct sigma_test *t)
{
    for (size_t i = 0; i < t->nvalues; i++)
        value_free(&t->values[i]);
    free(t->values);
    sigma_field_ref_free(&t->field);
    memset(t, 0, sizeof(*t));
}

/* The longest run of fixed characters of a glob (escapes resolved), which every match contains. */
static void glob_atom(struct sigma_value *v, const char *g, size_t len)
{
    struct trl_buf run = {0}, best = {0};
    for (size_t i = 0; i <= len; i++) {
        bool wild = i == len || g[i] == '*' || g[i] == '?';
        if (!wild) {
            /* As glob_to_regex(): a backslash escapes only '*', '?' and itself. */
            if (g[i] == '\\' && i + 1 < len &&
                (g[i + 1] == '*' || g[i + 1] == '?' || g[i + 1] == '\\'))
                i++;
            trl_buf_putc(&run, g[i]);
            continue;
        }
        if (run.len > best.len) {
            struct trl_buf tmp = best;
            best = run;
            run = tmp;
        }
        trl_buf_reset(&run);
    }
    trl_buf_free(&run);
    v->atom = best.len ? best.data : NULL;
    v->atom_len = best.len;
    if (!v->atom)
        trl_buf_free(&best);
}

static struct sigma_value *new_value(struct sigma_test *t)
{
    t->values = trl_xrealloc(t->values, (t->nvalues + 1) * sizeof(*t->values));
    struct sigma_value *v = &t->values[t->nvalues++];
    memset(v, 0, sizeof(*v));
    v->lit_id = -1;
    return v;
}

/* Compiles one string variant (after transforms) into a matcher. */
static int compile_string(struct sigma_test *t, const struct mods *m, const char *s, size_t len,
                          bool literal, char *err, size_t errlen)
{
    struct sigma_value *v = new_value(t);
    v->cased = m->bits & MOD_CASED;
    v->negate = m->bits & MOD_NEQ;
    if (m->bits & MOD_RE) {
        uint32_t flags = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
        if (m->bits & MOD_RE_I)
            flags |= PCRE2_CASELESS;
        if (m->bits & MOD_RE_M)
            flags |= PCRE2_MULTILINE;
        if (m->bits & MOD_RE_S)
            flags |= PCRE2_DOTALL;
        v->op = SIGMA_RE;
        v->re = compile_re(s, len, flags, err, errlen);
        return v->re ? 0 : -1;
    }
    struct trl_buf lit = {0};
    struct pattern_shape sh = {0};
    if (literal) {
        /* Encoded values (base64, utf16) are byte strings: no wildcards inside them. */
        trl_buf_append(&lit, s, len);
    } else {
        shape_of(s, len, &sh, &lit);
    }
    bool lead = sh.lead_star || (m->bits & (MOD_CONTAINS | MOD_ENDSWITH));
    bool trail = sh.trail_star || (m->bits & (MOD_CONTAINS | MOD_STARTSWITH));
    if (!v->cased)
        lower_ascii(lit.data, lit.len);
    if (sh.inner_wild) {
        /* Rebuild the full pattern with its wildcards and match it as an anchored regex. */
        struct trl_buf pat = {0}, re = {0};
        if (lead)
            trl_buf_putc(&pat, '*');
        trl_buf_append(&pat, s + (sh.lead_star ? 1 : 0),
                       len - (sh.lead_star ? 1 : 0) - (sh.trail_star ? 1 : 0));
        if (trail)
            trl_buf_putc(&pat, '*');
        if (!v->cased)
            lower_ascii(pat.data, pat.len);
        glob_to_regex(pat.data, pat.len, &re);
        glob_atom(v, pat.data, pat.len);
        v->op = SIGMA_GLOB;
        v->re = compile_re(re.data, re.len, PCRE2_DOTALL | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, err,
                           errlen);
        trl_buf_free(&pat);
        trl_buf_free(&re);
        trl_buf_free(&lit);
        return v->re ? 0 : -1;
    }
    v->op = lead && trail ? SIGMA_CONTAINS : lead ? SIGMA_SUFFIX : trail ? SIGMA_PREFIX : SIGMA_EQ;
    v->text = lit.data ? lit.data : trl_xstrdup("");
    v->len = lit.len;
    return 0;
}

static int compile_scalar(struct sigma_test *t, const struct mods *m, const struct trl_yaml_node *n,
                          const struct trl_sigma_logsource *ls, char *err, size_t errlen,
                          bool *unsupported)
{
    if (n->kind != TRL_YAML_SCALAR) {
        snprintf(err, errlen, "line %d: a value must be a scalar", n->line);
        return -1;
    }
    if (m->bits & MOD_EXPAND) {
        snprintf(err, errlen, "line %d: 'expand' placeholder '%s' has no configured value", n->line,
                 n->scalar);
        *unsupported = true;
        return -1;
    }
    if (trl_yaml_is_null(n)) {
        struct sigma_value *v = new_value(t);
        v->op = SIGMA_NULL;
        v->negate = m->bits & MOD_NEQ;
        return 0;
    }
    if (m->bits & MOD_EXISTS) {
        struct sigma_value *v = new_value(t);
        v->op = SIGMA_EXISTS;
        if (!strcasecmp(n->scalar, "true") || !strcasecmp(n->scalar, "yes"))
            v->exists = true;
        else if (!strcasecmp(n->scalar, "false") || !strcasecmp(n->scalar, "no"))
            v->exists = false;
        else {
            snprintf(err, errlen, "line %d: 'exists' takes true or false", n->line);
            return -1;
        }
        return 0;
    }
    if (m->bits & MOD_FIELDREF) {
        struct sigma_value *v = new_value(t);
        v->op = SIGMA_FIELDREF;
        v->negate = m->bits & MOD_NEQ;
        v->cased = m->bits & MOD_CASED;
        sigma_field_ref_init(&v->ref, n->scalar, ls);
        return 0;
    }
    if (m->bits & MOD_CIDR) {
        struct sigma_value *v = new_value(t);
        v->op = SIGMA_CIDR;
        v->negate = m->bits & MOD_NEQ;
        if (parse_cidr(n->scalar, v) != 0) {
            snprintf(err, errlen, "line %d: invalid CIDR '%s'", n->line, n->scalar);
            return -1;
        }
        return 0;
    }
    uint32_t cmp = m->bits & (MOD_LT | MOD_LTE | MOD_GT | MOD_GTE);
    double num;
    bool is_num = !n->quoted && parse_number(n->scalar, n->len, &num);
    if (cmp || m->time) {
        if (!is_num) {
            snprintf(err, errlen, "line %d: a numeric comparison needs a number, got '%s'", n->line,
                     n->scalar);
            return -1;
        }
        struct sigma_value *v = new_value(t);
        v->op = (m->bits & MOD_LT)    ? SIGMA_LT
                : (m->bits & MOD_LTE) ? SIGMA_LTE
                : (m->bits & MOD_GT)  ? SIGMA_GT
                : (m->bits & MOD_GTE) ? SIGMA_GTE
                                      : SIGMA_NUM_EQ;
        v->num = num;
        v->negate = m->bits & MOD_NEQ;
        v->time_part = (int)m->time;
        return 0;
    }
    if (is_num && !m->ntx && !(m->bits & (MOD_CONTAINS | MOD_STARTSWITH | MOD_ENDSWITH | MOD_RE))) {
        struct sigma_value *v = new_value(t);
        v->op = SIGMA_NUM_EQ;
        v->num = num;
        v->negate = m->bits & MOD_NEQ;
        v->text = trl_xstrdup(n->scalar);
        lower_ascii(v->text, n->len);
        v->len = n->len;
        return 0;
    }
    /* Strings: apply the transformations in order, then compile each resulting variant. */
    struct variants cur = {0}, next = {0};
    variants_add(&cur, n->scalar, n->len);
    bool encoded = false;
    int rc = 0;
    for (size_t i = 0; i < m->ntx; i++) {
        if (m->tx[i] == TX_WINDASH) {
            if (windash(&cur, &next) != 0) {
                snprintf(err, errlen, "line %d: windash expands to too many variants", n->line);
                rc = -1;
                goto out;
            }
        } else {
            apply_transform(m->tx[i], &cur, &next);
            encoded = true;
        }
        variants_free(&cur);
        cur = next;
        memset(&next, 0, sizeof(next));
    }
    for (size_t i = 0; i < cur.n && rc == 0; i++)
        rc = compile_string(t, m, cur.v[i].data, cur.v[i].len, encoded, err, errlen);
out:
    variants_free(&cur);
    variants_free(&next);
    return rc;
}

int sigma_test_compile(struct sigma_test *t, const char *key, const struct trl_yaml_node *node,
                       const struct trl_sigma_logsource *ls, char *err, size_t errlen,
                       bool *unsupported)
{
    struct mods m;
    char *field = NULL;
    memset(t, 0, sizeof(*t));
    int rc = parse_modifiers(key ? key : "", &field, &m, err, errlen, unsupported);
    if (rc != 0)
        goto out;
    if (key && field[0])
        sigma_field_ref_init(&t->field, field, ls);
    else {
        sigma_field_ref_keywords(&t->field);
        /* Keywords match anywhere in the message. */
        m.bits |= MOD_CONTAINS;
    }
    t->all = m.bits & MOD_ALL;
    if (node->kind == TRL_YAML_SEQ) {
        if (t->all && node->len < 2) {
            snprintf(err, errlen, "line %d: 'all' needs more than one value", node->line);
            rc = -1;
            goto out;
        }
        for (size_t i = 0; i < node->len && rc == 0; i++) {
            if (trl_yaml_is_null(node->items[i])) {
                snprintf(err, errlen, "line %d: null inside a list of values", node->line);
                *unsupported = true;
                rc = -1;
                break;
            }
            rc = compile_scalar(t, &m, node->items[i], ls, err, errlen, unsupported);
        }
    } else if (t->all) {
        snprintf(err, errlen, "line %d: 'all' with a single value", node->line);
        *unsupported = true;
        rc = -1;
    } else {
        rc = compile_scalar(t, &m, node, ls, err, errlen, unsupported);
    }
    if (rc == 0 && t->nvalues == 0) {
        snprintf(err, errlen, "line %d: no values", node->line);
        rc = -1;
    }
out:
    free(field);
    if (rc != 0)
        sigma_test_free(t);
    return rc;
}

/* ---- evaluation ---- */

/* The value lower-cased, computed once per evaluation of an event: the values of an event do not
 * move while it is evaluated, so (pointer, length) identifies them (the cache is emptied by
 * trl_sigma_eval for each event). */
struct sigma_lower *sigma_lowered(struct trl_sigma_scratch *s, const char *v, size_t len)
{
    for (size_t i = 0; i < s->nlower; i++) {
        if (s->lower[i].src == v && s->lower[i].len == len)
            return &s->lower[i];
    }
    struct sigma_lower *l = &s->lower[s->lower_next];
    s->lower_next = (s->lower_next + 1) % TRL_ARRAY_LEN(s->lower);
    if (s->nlower < TRL_ARRAY_LEN(s->lower))
        s->nlower++;
    if (l->cap < len + 1) {
        l->cap = len + 1 > 256 ? len + 1 : 256;
        l->buf = trl_xrealloc(l->buf, l->cap);
    }
    for (size_t i = 0; i < len; i++)
        l->buf[i] = (char)tolower((unsigned char)v[i]);
    l->buf[len] = '\0';
    l->src = v;
    l->len = len;
    l->scanned = false;
    return l;
}

static const char *lowered(struct trl_sigma_scratch *s, const char *v, size_t len)
{
    return sigma_lowered(s, v, len)->buf;
}

/* Compares n bytes of a field value with a lower-cased rule value, ignoring ASCII case. */
static bool equal_lower(const char *v, const char *lower, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((char)tolower((unsigned char)v[i]) != lower[i])
            return false;
    }
    return true;
}

static bool re_match(const pcre2_code *re, const char *v, size_t len, pcre2_match_data *md)
{
    int rc = pcre2_match(re, (PCRE2_SPTR)v, len, 0, 0, md, NULL);
    return rc >= 0;
}

static int time_part_of(const char *v, size_t len, enum time_part part, double *out)
{
    int64_t ns;
    if (!trl_parse_rfc3339(v, len, &ns))
        return -1;
    int64_t secs = ns / TRL_NS_PER_SEC;
    int64_t days = secs / 86400;
    int64_t y;
    unsigned mo, d;
    trl_civil_from_days(days, &y, &mo, &d);
    switch (part) {
    case TP_MINUTE:
        *out = (double)(secs % 3600 / 60);
        break;
    case TP_HOUR:
        *out = (double)(secs % 86400 / 3600);
        break;
    case TP_DAY:
        *out = d;
        break;
    case TP_WEEK:
        *out = (double)((days - trl_days_from_civil(y, 1, 1)) / 7 + 1);
        break;
    case TP_MONTH:
        *out = mo;
        break;
    case TP_YEAR:
        *out = (double)y;
        break;
    default:
        return -1;
    }
    return 0;
}

/* Matches one value against a present field value. */
static bool value_matches(const struct sigma_value *sv, const char *v, size_t len,
                          const struct trl_event *ev, struct trl_sigma_scratch *s)
{
    switch (sv->op) {
    case SIGMA_EQ:
    case SIGMA_PREFIX:
    case SIGMA_SUFFIX:
    case SIGMA_CONTAINS:
    case SIGMA_GLOB: {
        if (sv->op == SIGMA_GLOB)
            return re_match(sv->re, sv->cased ? v : lowered(s, v, len), len, s->md);
        if (sv->len > len || (sv->op == SIGMA_EQ && sv->len != len))
            return false;
        /* Whole, prefix and suffix compare in place; only "contains" needs the value lowered. */
        const char *at = sv->op == SIGMA_SUFFIX ? v + len - sv->len : v;
        if (sv->op != SIGMA_CONTAINS)
            return sv->cased ? memcmp(at, sv->text, sv->len) == 0
                             : equal_lower(at, sv->text, sv->len);
        if (sv->lit_id >= 0 && s->hs)
            return sigma_literals_contains(s->rs, s, sigma_lowered(s, v, len), sv->lit_id);
        const char *x = sv->cased ? v : lowered(s, v, len);
        return sv->len == 0 || memmem(x, len, sv->text, sv->len) != NULL;
    }
    case SIGMA_RE:
        return re_match(sv->re, v, len, s->md);
    case SIGMA_CIDR:
        return cidr_contains(sv, v, len);
    case SIGMA_NUM_EQ:
    case SIGMA_LT:
    case SIGMA_LTE:
    case SIGMA_GT:
    case SIGMA_GTE: {
        double d;
        bool ok = sv->time_part ? time_part_of(v, len, (enum time_part)sv->time_part, &d) == 0
                                : parse_number(v, len, &d);
        if (!ok) {
            /* Not a number: a plain numeric value in a rule then compares as text. */
            return sv->op == SIGMA_NUM_EQ && sv->text && sv->len == len &&
                   !strncasecmp(v, sv->text, len);
        }
        switch (sv->op) {
        case SIGMA_LT:
            return d < sv->num;
        case SIGMA_LTE:
            return d <= sv->num;
        case SIGMA_GT:
            return d > sv->num;
        case SIGMA_GTE:
            return d >= sv->num;
        default:
            return d == sv->num;
        }
    }
    case SIGMA_FIELDREF: {
        size_t olen;
        const char *o = sigma_field_get(&sv->ref, ev, &olen);
        if (!o || olen != len)
            return false;
        return sv->cased ? memcmp(o, v, len) == 0 : strncasecmp(o, v, len) == 0;
    }
    case SIGMA_EXISTS:
        return sv->exists;
    case SIGMA_NULL:
        return len == 0;
    }
    return false;
}

static bool value_holds(const struct sigma_value *sv, const char *v, size_t len,
                        const struct trl_event *ev, struct trl_sigma_scratch *s)
{
    if (!v) {
        /* A missing field: only `null`, `exists: false` and negated values hold. */
        if (sv->op == SIGMA_NULL)
            return !sv->negate;
        if (sv->op == SIGMA_EXISTS)
            return !sv->exists;
        return sv->negate;
    }
    bool m = value_matches(sv, v, len, ev, s);
    return sv->negate ? !m : m;
}

/* The values a test looks at, gathered once per test rather than once per rule value: the
 * message (or the original text) for keywords, else every value of the field (array fields hold
 * several). */
#define MAX_TEST_VALUES 32

struct test_input {
    const char *val[MAX_TEST_VALUES];
    size_t len[MAX_TEST_VALUES];
    size_t n;
};

static void gather(const struct sigma_test *t, const struct trl_event *ev, struct test_input *in)
{
    in->n = 0;
    if (t->field.kind == SIGMA_FIELD_KEYWORDS) {
        size_t len;
        const char *msg = trl_event_get(ev, TRL_F_MESSAGE, &len);
        in->val[0] = msg ? msg : ev->original;
        in->len[0] = msg ? len : ev->original_len;
        in->n = 1;
        return;
    }
    uint32_t idx;
    for (const struct trl_kv *kv = sigma_field_first(&t->field, ev, &idx);
         kv && in->n < MAX_TEST_VALUES; kv = sigma_field_next(ev, kv, &idx)) {
        in->val[in->n] = kv->val;
        in->len[in->n] = kv->val_len;
        in->n++;
    }
}

/* One rule value against the gathered values: a positive value holds when any of them matches, a
 * negated one when none does; a missing field is judged by value_holds(NULL). */
static bool input_holds(const struct sigma_value *sv, const struct test_input *in,
                        const struct trl_event *ev, struct trl_sigma_scratch *s)
{
    if (in->n == 0)
        return value_holds(sv, NULL, 0, ev, s);
    for (size_t i = 0; i < in->n; i++) {
        bool m = value_holds(sv, in->val[i], in->len[i], ev, s);
        if (sv->negate ? !m : m)
            return !sv->negate;
    }
    return sv->negate;
}

bool sigma_test_eval(const struct sigma_test *t, const struct trl_event *ev,
                     struct trl_sigma_scratch *s)
{
    struct test_input in;
    gather(t, ev, &in);
    for (size_t i = 0; i < t->nvalues; i++) {
        const struct sigma_value *sv = &t->values[i];
        bool m = input_holds(sv, &in, ev, s);
        /* neq over a list means "none of these": every value must differ. */
        if (t->all || sv->negate) {
            if (!m)
                return false;
        } else if (m) {
            return true;
        }
    }
    return t->all || (t->nvalues > 0 && t->values[0].negate);
}

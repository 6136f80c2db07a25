/*
 * The generic, table-driven configuration loader: value parsing and validation, the YAML walk over
 * libyaml's event stream, precedence between sources, and the YAML dump.
 *
 * The event API is used rather than the document API so that nothing is ever expanded: an alias
 * (*name) is rejected where it appears, and every collection that is not expected by the table is
 * an error at its first event, so a hostile file costs at most one pass over its bytes.
 */
#include "core/config.h"
#include "core/util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

/* Longest dotted path the loader builds; longer keys cannot be known keys. */
#define KEY_MAX 256
/* Longest piece of a bad value quoted back in an error message. */
#define QUOTE_MAX 64

union cfg_value {
    char *s;
    bool b;
    int64_t i;
    int e;
    struct trl_strlist l;
};

static const char *const type_names[] = {
    [TRL_CFG_STRING] = "string", [TRL_CFG_BOOL] = "bool",         [TRL_CFG_INT] = "int",
    [TRL_CFG_SIZE] = "size",     [TRL_CFG_DURATION] = "duration", [TRL_CFG_ENUM] = "enum",
    [TRL_CFG_LIST] = "list",
};

const char *trl_cfg_type_name(enum trl_cfg_type t)
{
    return (unsigned)t < TRL_ARRAY_LEN(type_names) ? type_names[t] : "?";
}

static int config_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int config_error(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return TRL_ECONFIG;
}

/* Writes s as a double-quoted, printable excerpt for an error message: control bytes and bytes
 * outside ASCII become \xNN so a hostile value cannot forge terminal output or log lines. */
static void quote_excerpt(const char *s, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    size_t shown = TRL_MIN(len, (size_t)QUOTE_MAX);
    if (outlen < 8) {
        if (outlen)
            out[0] = '\0';
        return;
    }
    out[o++] = '"';
    for (size_t i = 0; i < shown && o + 8 < outlen; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20 || ch >= 0x7f) {
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    if (shown < len && o + 5 < outlen) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = '\0';
}

/* ---- sizes and durations ---- */

struct unit {
    const char *name;
    int64_t mult;
};

static const struct unit size_units[] = {
    {"", 1},
    {"B", 1},
    {"KiB", INT64_C(1) << 10},
    {"MiB", INT64_C(1) << 20},
    {"GiB", INT64_C(1) << 30},
    {"TiB", INT64_C(1) << 40},
    {"kB", 1000},
    {"KB", 1000},
    {"MB", 1000 * 1000},
    {"GB", 1000 * 1000 * 1000},
    {"TB", INT64_C(1000) * 1000 * 1000 * 1000},
};

/* Longest unit first so that "ms" is not read as "m" followed by garbage. */
static const struct unit duration_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", 86400 * 1000},
};

static size_t digits_len(const char *p, size_t len)
{
    size_t n = 0;
    while (n < len && p[n] >= '0' && p[n] <= '9')
        n++;
    return n;
}

static bool parse_size(const char *p, size_t len, int64_t *out)
{
    size_t nd = digits_len(p, len);
    uint64_t v;
    if (nd == 0 || !trl_parse_u64(p, nd, &v) || v > (uint64_t)INT64_MAX)
        return false;
    const char *u = p + nd;
    size_t ulen = len - nd;
    if (ulen > 0 && *u == ' ') {
        u++;
        ulen--;
        if (ulen == 0)
            return false;
    }
    for (size_t i = 0; i < TRL_ARRAY_LEN(size_units); i++) {
        if (!trl_strcase_eq(u, ulen, size_units[i].name, strlen(size_units[i].name)))
            continue;
        /* "kb" and "KB" are both 1000: matching case-insensitively keeps them one unit. */
        if ((int64_t)v > INT64_MAX / size_units[i].mult)
            return false;
        *out = (int64_t)v * size_units[i].mult;
        return true;
    }
    return false;
}

/* A duration is one or more <number><unit> parts ("1h30m"), or a bare 0. */
static bool parse_duration(const char *p, size_t len, int64_t *out)
{
    if (len == 1 && p[0] == '0') {
        *out = 0;
        return true;
    }
    int64_t total = 0;
    size_t i = 0;
    if (len == 0)
        return false;
    while (i < len) {
        size_t nd = digits_len(p + i, len - i);
        uint64_t v;
        if (nd == 0 || !trl_parse_u64(p + i, nd, &v) || v > (uint64_t)INT64_MAX)
            return false;
        i += nd;
        const struct unit *unit = NULL;
        for (size_t k = 0; k < TRL_ARRAY_LEN(duration_units); k++) {
            if (trl_starts_with(p + i, len - i, duration_units[k].name)) {
                unit = &duration_units[k];
                break;
            }
        }
        if (!unit)
            return false;
        i += strlen(unit->name);
        if ((int64_t)v > INT64_MAX / unit->mult || total > INT64_MAX - (int64_t)v * unit->mult)
            return false;
        total += (int64_t)v * unit->mult;
    }
    *out = total;
    return true;
}

static void format_with_units(int64_t v, const struct unit *units, size_t n, char *out,
                              size_t outlen)
{
    for (size_t i = n; i-- > 1;) {
        if (v != 0 && v % units[i].mult == 0) {
            snprintf(out, outlen, "%" PRId64 "%s", v / units[i].mult, units[i].name);
            return;
        }
    }
    snprintf(out, outlen, "%" PRId64 "%s", v, units[0].name);
}

void trl_cfg_format_size(int64_t bytes, char *out, size_t outlen)
{
    /* Binary units only (entries 2 to 5: KiB to TiB), and only when exact: 10MB is shown as
     * 10000000. */
    for (size_t i = 5; i >= 2; i--) {
        if (bytes != 0 && bytes % size_units[i].mult == 0) {
            snprintf(out, outlen, "%" PRId64 "%s", bytes / size_units[i].mult, size_units[i].name);
            return;
        }
    }
    snprintf(out, outlen, "%" PRId64, bytes);
}

void trl_cfg_format_duration(int64_t ms, char *out, size_t outlen)
{
    if (ms == 0) {
        snprintf(out, outlen, "0");
        return;
    }
    format_with_units(ms, duration_units, TRL_ARRAY_LEN(duration_units), out, outlen);
}

static void format_number(const struct trl_cfg_entry *e, int64_t v, char *out, size_t outlen)
{
    if (e->type == TRL_CFG_SIZE)
        trl_cfg_format_size(v, out, outlen);
    else if (e->type == TRL_CFG_DURATION)
        trl_cfg_format_duration(v, out, outlen);
    else
        snprintf(out, outlen, "%" PRId64, v);
}

/* ---- one value from text ---- */

static bool parse_bool(const char *p, size_t len, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < TRL_ARRAY_LEN(yes); i++) {
        if (trl_strcase_eq(p, len, yes[i], strlen(yes[i]))) {
            *out = true;
            return true;
        }
        if (trl_strcase_eq(p, len, no[i], strlen(no[i]))) {
            *out = false;
            return true;
        }
    }
    return false;
}

static void expected_phrase(const struct trl_cfg_entry *e, char *out, size_t outlen)
{
    size_t o;
    switch (e->type) {
    case TRL_CFG_STRING:
        snprintf(out, outlen, "a string");
        return;
    case TRL_CFG_BOOL:
        snprintf(out, outlen, "true or false");
        return;
    case TRL_CFG_INT:
        snprintf(out, outlen, "an integer");
        return;
    case TRL_CFG_SIZE:
        snprintf(out, outlen, "a size like 64KiB");
        return;
    case TRL_CFG_DURATION:
        snprintf(out, outlen, "a duration like 10s or 5m");
        return;
    case TRL_CFG_LIST:
        snprintf(out, outlen, "a list, a single value or off");
        return;
    case TRL_CFG_ENUM:
        o = (size_t)snprintf(out, outlen, "one of");
        for (size_t i = 0; e->names && e->names[i] && o < outlen; i++)
            o += (size_t)snprintf(out + o, outlen - o, "%s %s", i ? "," : "", e->names[i]);
        return;
    }
    snprintf(out, outlen, "a value");
}

/* Writes "expected <phrase>, got <what>" into why. */
static void expected_got(const struct trl_cfg_entry *e, const char *got, char *why, size_t whylen)
{
    char phrase[256];
    expected_phrase(e, phrase, sizeof(phrase));
    snprintf(why, whylen, "expected %s%s got %s", phrase, e->type == TRL_CFG_ENUM ? ";" : ",", got);
}

static void expected_got_text(const struct trl_cfg_entry *e, const char *p, size_t len, char *why,
                              size_t whylen)
{
    char q[QUOTE_MAX * 4 + 8];
    quote_excerpt(p, len, q, sizeof(q));
    expected_got(e, q, why, whylen);
}

/* Decodes one UTF-8 character at p (n bytes available): returns its length and sets *cp, or 0
 * when the bytes are not well-formed UTF-8 (overlong forms and surrogates included). */
static size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
    static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len;
    uint32_t c;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if ((p[0] & 0xe0) == 0xc0) {
        len = 2;
        c = p[0] & 0x1f;
    } else if ((p[0] & 0xf0) == 0xe0) {
        len = 3;
        c = p[0] & 0x0f;
    } else if ((p[0] & 0xf8) == 0xf0) {
        len = 4;
        c = p[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min_cp[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* Checks text that becomes a string or a list item: no NUL (C strings would cut it), then the
 * entry's own check. */
static bool check_text(const struct trl_cfg_entry *e, const char *p, size_t len, char *why,
                       size_t whylen)
{
    char q[QUOTE_MAX * 4 + 8];
    if (memchr(p, '\0', len)) {
        snprintf(why, whylen, "the value contains a NUL byte");
        return false;
    }
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_decode((const unsigned char *)p + i, len - i, &cp);
        if (n == 0) {
            quote_excerpt(p, len, q, sizeof(q));
            snprintf(why, whylen, "expected UTF-8 text, got %s", q);
            return false;
        }
        i += n;
    }
    if (!e->check)
        return true;
    char reason[200];
    reason[0] = '\0';
    /* The check reads a C string; p may be a slice of a longer one (a list item of a flag). */
    char *value = trl_xstrndup(p, len);
    bool ok = e->check(value, reason, sizeof(reason));
    free(value);
    if (ok)
        return true;
    quote_excerpt(p, len, q, sizeof(q));
    snprintf(why, whylen, "%s, got %s", reason[0] ? reason : "invalid value", q);
    return false;
}

static void strlist_free(struct trl_strlist *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

static void strlist_push(struct trl_strlist *l, const char *p, size_t len)
{
    /* The capacity is the next power of two: grow when count reaches one, so long lists stay
     * linear to build. */
    if ((l->count & (l->count - 1)) == 0)
        l->items = trl_xrealloc(l->items, (l->count ? l->count * 2 : 1) * sizeof(*l->items));
    l->items[l->count++] = trl_xstrndup(p, len);
}

static void value_free(const struct trl_cfg_entry *e, union cfg_value *v)
{
    if (e->type == TRL_CFG_STRING)
        free(v->s);
    else if (e->type == TRL_CFG_LIST)
        strlist_free(&v->l);
}

/* Parses the text of a scalar for any type but a list (a NUL-free C string is not required: p may
 * hold embedded NULs from a YAML escape, which are rejected). */
static bool parse_scalar(const struct trl_cfg_entry *e, const char *p, size_t len,
                         union cfg_value *out, char *why, size_t whylen)
{
    int64_t n = 0;
    bool ok = false;
    switch (e->type) {
    case TRL_CFG_STRING:
        if (!check_text(e, p, len, why, whylen))
            return false;
        out->s = trl_xstrndup(p, len);
        return true;
    case TRL_CFG_BOOL:
        if (parse_bool(p, len, &out->b))
            return true;
        expected_got_text(e, p, len, why, whylen);
        return false;
    case TRL_CFG_ENUM:
        for (int i = 0; e->names && e->names[i]; i++) {
            if (trl_strcase_eq(p, len, e->names[i], strlen(e->names[i]))) {
                out->e = i;
                return true;
            }
        }
        expected_got_text(e, p, len, why, whylen);
        return false;
    case TRL_CFG_INT:
        ok = trl_parse_i64(p, len, &n);
        break;
    case TRL_CFG_SIZE:
        ok = parse_size(p, len, &n);
        break;
    case TRL_CFG_DURATION:
        ok = parse_duration(p, len, &n);
        break;
    case TRL_CFG_LIST:
        break;
    }
    if (!ok) {
        expected_got_text(e, p, len, why, whylen);
        return false;
    }
    bool bounded = e->min != 0 || e->max != 0;
    if (bounded && (n < e->min || n > e->max)) {
        char q[QUOTE_MAX * 4 + 8], lo[32], hi[32];
        quote_excerpt(p, len, q, sizeof(q));
        format_number(e, e->min, lo, sizeof(lo));
        format_number(e, e->max, hi, sizeof(hi));
        snprintf(why, whylen, "%s is out of range %s..%s", q, lo, hi);
        return false;
    }
    out->i = n;
    return true;
}

static bool is_off(const char *p, size_t len)
{
    return trl_strcase_eq(p, len, "off", 3);
}

/* Parses the text form used by flags, the environment and defaults: for a list, comma-separated
 * items with surrounding spaces trimmed; "" or "off" is the empty list. */
static bool parse_text(const struct trl_cfg_entry *e, const char *text, union cfg_value *out,
                       char *why, size_t whylen)
{
    size_t len = strlen(text);
    if (e->type != TRL_CFG_LIST)
        return parse_scalar(e, text, len, out, why, whylen);
    memset(out, 0, sizeof(*out));
    if (len == 0 || is_off(text, len))
        return true;
    const char *p = text;
    const char *end = text + len;
    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        const char *a = p;
        const char *b = stop;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        if (a == b) {
            char q[QUOTE_MAX * 4 + 8];
            quote_excerpt(text, len, q, sizeof(q));
            snprintf(why, whylen, "empty item in the list %s", q);
            goto fail;
        }
        if (!check_text(e, a, (size_t)(b - a), why, whylen))
            goto fail;
        strlist_push(&out->l, a, (size_t)(b - a));
        p = stop + 1;
    }
    return true;
fail:
    strlist_free(&out->l);
    return false;
}

/* ---- the map ---- */

static struct trl_cfg_origins *origins_of(const struct trl_cfg_map *m, void *base)
{
    return (struct trl_cfg_origins *)((char *)base + m->origins_offset);
}

static void *field_of(const struct trl_cfg_entry *e, void *base)
{
    return (char *)base + e->offset;
}

/* Moves v into the field, releasing the old value. */
static void store(const struct trl_cfg_entry *e, void *base, union cfg_value *v)
{
    void *f = field_of(e, base);
    switch (e->type) {
    case TRL_CFG_STRING:
        free(*(char **)f);
        *(char **)f = v->s;
        break;
    case TRL_CFG_BOOL:
        *(bool *)f = v->b;
        break;
    case TRL_CFG_INT:
    case TRL_CFG_SIZE:
    case TRL_CFG_DURATION:
        *(int64_t *)f = v->i;
        break;
    case TRL_CFG_ENUM:
        *(int *)f = v->e;
        break;
    case TRL_CFG_LIST:
        strlist_free((struct trl_strlist *)f);
        *(struct trl_strlist *)f = v->l;
        break;
    }
}

/* Stores v unless the key already holds a value from a source of higher precedence, in which case
 * v is released. Takes ownership of v either way. */
static void commit(const struct trl_cfg_map *m, void *base, size_t idx, union cfg_value *v,
                   enum trl_cfg_source src, uint32_t line)
{
    const struct trl_cfg_entry *e = &m->entries[idx];
    struct trl_cfg_origins *o = origins_of(m, base);
    if (o->source[idx] > src) {
        value_free(e, v);
        return;
    }
    store(e, base, v);
    o->source[idx] = (uint8_t)src;
    o->line[idx] = line;
}

static long find_index(const struct trl_cfg_map *m, const char *key, size_t len)
{
    for (size_t i = 0; i < m->count; i++) {
        const char *k = m->entries[i].key;
        if (strlen(k) == len && memcmp(k, key, len) == 0)
            return (long)i;
    }
    return -1;
}

const struct trl_cfg_entry *trl_cfgmap_find(const struct trl_cfg_map *m, const char *key)
{
    long i = find_index(m, key, strlen(key));
    return i < 0 ? NULL : &m->entries[i];
}

/* True when path names a section: some key continues it with ".". */
static bool is_section(const struct trl_cfg_map *m, const char *path, size_t len)
{
    for (size_t i = 0; i < m->count; i++) {
        const char *k = m->entries[i].key;
        if (strlen(k) > len && memcmp(k, path, len) == 0 && k[len] == '.')
            return true;
    }
    return false;
}

static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
    size_t row[KEY_MAX + 1];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            best = TRL_MIN(best, up + 1);
            best = TRL_MIN(best, row[j - 1] + 1);
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const char *last_part(const char *p, size_t len, size_t *out_len)
{
    const char *dot = NULL;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '.')
            dot = p + i;
    }
    const char *start = dot ? dot + 1 : p;
    *out_len = len - (size_t)(start - p);
    return start;
}

/* Writes into out the known key or section closest to the unknown path, or "" when none is close.
 * Candidates are every key and each of its sections ("server", "server.tls"). First comes one whose
 * last part is the path's last part (a setting or section put at the wrong level), then the
 * smallest edit distance within a quarter of the candidate's length. */
static void suggest(const struct trl_cfg_map *m, const char *path, size_t len, char *out,
                    size_t outlen)
{
    out[0] = '\0';
    if (len == 0 || len > KEY_MAX / 2)
        return;
    size_t leaf_len;
    const char *leaf = last_part(path, len, &leaf_len);
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < m->count; i++) {
        const char *k = m->entries[i].key;
        size_t klen = TRL_MIN(strlen(k), (size_t)KEY_MAX);
        for (size_t cl = 1; cl <= klen; cl++) {
            if (cl < klen && k[cl] != '.')
                continue;
            size_t cleaf_len;
            const char *cleaf = last_part(k, cl, &cleaf_len);
            if (cleaf_len == leaf_len && memcmp(cleaf, leaf, leaf_len) == 0) {
                snprintf(out, outlen, "%.*s", (int)cl, k);
                return;
            }
            /* The distance is at least the difference in length: skip hopeless candidates. */
            size_t limit = TRL_MAX((size_t)1, cl / 4);
            if ((len > cl ? len - cl : cl - len) > limit)
                continue;
            size_t d = edit_distance(path, len, k, cl);
            if (d < best && d <= limit) {
                best = d;
                snprintf(out, outlen, "%.*s", (int)cl, k);
            }
        }
    }
}

static int unknown_key_msg(const struct trl_cfg_map *m, const char *path, size_t len, char *why,
                           size_t whylen)
{
    char q[QUOTE_MAX * 4 + 8], near[KEY_MAX];
    quote_excerpt(path, len, q, sizeof(q));
    suggest(m, path, len, near, sizeof(near));
    if (near[0])
        snprintf(why, whylen, "unknown key %s (did you mean %s?)", q, near);
    else
        snprintf(why, whylen, "unknown key %s", q);
    return TRL_ECONFIG;
}

void trl_cfgmap_defaults(const struct trl_cfg_map *m, void *base)
{
    if (m->count > TRL_CFG_MAX_KEYS) {
        fprintf(stderr, "trapline: configuration table has %zu keys, more than %d\n", m->count,
                TRL_CFG_MAX_KEYS);
        abort();
    }
    struct trl_cfg_origins *o = origins_of(m, base);
    for (size_t i = 0; i < m->count; i++) {
        const struct trl_cfg_entry *e = &m->entries[i];
        union cfg_value v;
        char why[512];
        if (!parse_text(e, e->def ? e->def : "", &v, why, sizeof(why))) {
            /* A default that does not parse is a bug in the table, caught by the unit tests. */
            fprintf(stderr, "trapline: bad default for %s: %s\n", e->key, why);
            abort();
        }
        store(e, base, &v);
        o->source[i] = TRL_CFG_SRC_DEFAULT;
        o->line[i] = 0;
    }
}

int trl_cfgmap_set(const struct trl_cfg_map *m, void *base, const char *key, const char *value,
                   enum trl_cfg_source src, char *err, size_t errlen)
{
    char why[512];
    long idx = find_index(m, key, strlen(key));
    if (idx < 0) {
        size_t len = strlen(key);
        if (is_section(m, key, len))
            return config_error(err, errlen, "%s: is a section, not a setting", key);
        unknown_key_msg(m, key, len, why, sizeof(why));
        return config_error(err, errlen, "%s", why);
    }
    const struct trl_cfg_entry *e = &m->entries[idx];
    union cfg_value v;
    if (!parse_text(e, value, &v, why, sizeof(why)))
        return config_error(err, errlen, "%s: %s", e->key, why);
    commit(m, base, (size_t)idx, &v, src, 0);
    return 0;
}

void trl_cfgmap_free(const struct trl_cfg_map *m, void *base)
{
    for (size_t i = 0; i < m->count; i++) {
        const struct trl_cfg_entry *e = &m->entries[i];
        void *f = field_of(e, base);
        if (e->type == TRL_CFG_STRING) {
            free(*(char **)f);
            *(char **)f = NULL;
        } else if (e->type == TRL_CFG_LIST) {
            strlist_free((struct trl_strlist *)f);
        }
    }
    struct trl_cfg_origins *o = origins_of(m, base);
    free(o->file);
    o->file = NULL;
}

/* ---- YAML ---- */

struct section_seen {
    char *path;
    uint32_t line;
};

/* One load: values are collected in pending[] and committed only when the whole file is good, so
 * a file with an error changes nothing. */
struct loader {
    const struct trl_cfg_map *m;
    const char *name;
    const char *data;
    size_t len;
    yaml_parser_t parser;
    yaml_event_t ev;
    bool have_ev;
    union cfg_value pending[TRL_CFG_MAX_KEYS];
    uint32_t pending_line[TRL_CFG_MAX_KEYS]; /* 0 = not set by this file */
    struct section_seen *sections;
    size_t nsections;
    char *err;
    size_t errlen;
};

static uint32_t ev_line(const struct loader *ld)
{
    return (uint32_t)TRL_MIN(ld->ev.start_mark.line + 1, (size_t)UINT32_MAX);
}

static int fail_at(struct loader *ld, uint32_t line, const char *key, const char *why)
{
    if (key)
        return config_error(ld->err, ld->errlen, "config %s:%" PRIu32 ": %s: %s", ld->name, line,
                            key, why);
    return config_error(ld->err, ld->errlen, "config %s:%" PRIu32 ": %s", ld->name, line, why);
}

static int syntax_error(struct loader *ld)
{
    yaml_parser_t *p = &ld->parser;
    if (p->error == YAML_READER_ERROR) {
        /* The reader reports a byte offset, not a mark: count the lines up to it. */
        size_t off = TRL_MIN(p->problem_offset, ld->len);
        size_t line = 1, col = 1;
        for (size_t i = 0; i < off; i++) {
            if (ld->data[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        char why[256];
        if (p->problem_value >= 0)
            snprintf(why, sizeof(why), "%s (byte 0x%02x)",
                     p->problem ? p->problem : "unreadable text",
                     (unsigned)p->problem_value & 0xff);
        else
            snprintf(why, sizeof(why), "%s", p->problem ? p->problem : "unreadable text");
        return config_error(ld->err, ld->errlen, "config %s:%zu:%zu: not valid UTF-8 text: %s",
                            ld->name, line, col, why);
    }
    if (p->error == YAML_MEMORY_ERROR)
        return config_error(ld->err, ld->errlen, "config %s: out of memory while parsing",
                            ld->name);
    return config_error(ld->err, ld->errlen, "config %s:%zu:%zu: YAML syntax error: %s%s%s%s",
                        ld->name, p->problem_mark.line + 1, p->problem_mark.column + 1,
                        p->problem ? p->problem : "malformed YAML", p->context ? " (" : "",
                        p->context ? p->context : "", p->context ? ")" : "");
}

static int next_event(struct loader *ld)
{
    if (ld->have_ev) {
        yaml_event_delete(&ld->ev);
        ld->have_ev = false;
    }
    if (!yaml_parser_parse(&ld->parser, &ld->ev))
        return syntax_error(ld);
    ld->have_ev = true;
    return 0;
}

static bool scalar_is_null(const yaml_event_t *ev)
{
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    return len == 0 || (len == 1 && v[0] == '~') ||
           (len == 4 && (!memcmp(v, "null", 4) || !memcmp(v, "Null", 4) || !memcmp(v, "NULL", 4)));
}

/* Names what the current event starts, for "expected X, got Y" messages. */
static const char *event_kind(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_MAPPING_START_EVENT:
        return "a mapping";
    case YAML_SEQUENCE_START_EVENT:
        return "a list";
    case YAML_ALIAS_EVENT:
        return "an alias";
    default:
        return "something else";
    }
}

static int alias_error(struct loader *ld, const char *key)
{
    return fail_at(ld, ev_line(ld), key,
                   "YAML aliases (*name) are not supported; write the value out");
}

/* Reads a list value: a sequence of scalars, or one scalar ("off" = empty). */
static int load_list(struct loader *ld, const struct trl_cfg_entry *e, union cfg_value *out)
{
    char why[512];
    uint32_t line = ev_line(ld);
    memset(out, 0, sizeof(*out));
    if (ld->ev.type == YAML_SCALAR_EVENT) {
        const char *v = (const char *)ld->ev.data.scalar.value;
        size_t len = ld->ev.data.scalar.length;
        if (scalar_is_null(&ld->ev)) {
            expected_got(e, "nothing", why, sizeof(why));
            return fail_at(ld, line, e->key, why);
        }
        if (ld->ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && is_off(v, len))
            return 0;
        if (!check_text(e, v, len, why, sizeof(why)))
            return fail_at(ld, line, e->key, why);
        strlist_push(&out->l, v, len);
        return 0;
    }
    if (ld->ev.type != YAML_SEQUENCE_START_EVENT) {
        if (ld->ev.type == YAML_ALIAS_EVENT)
            return alias_error(ld, e->key);
        expected_got(e, event_kind(&ld->ev), why, sizeof(why));
        return fail_at(ld, line, e->key, why);
    }
    for (;;) {
        int rc = next_event(ld);
        if (rc)
            goto fail;
        if (ld->ev.type == YAML_SEQUENCE_END_EVENT)
            return 0;
        if (ld->ev.type == YAML_ALIAS_EVENT) {
            rc = alias_error(ld, e->key);
            goto fail;
        }
        if (ld->ev.type != YAML_SCALAR_EVENT) {
            snprintf(why, sizeof(why), "list items must be single values, got %s",
                     event_kind(&ld->ev));
            rc = fail_at(ld, ev_line(ld), e->key, why);
            goto fail;
        }
        const char *v = (const char *)ld->ev.data.scalar.value;
        size_t len = ld->ev.data.scalar.length;
        if (scalar_is_null(&ld->ev)) {
            rc = fail_at(ld, ev_line(ld), e->key, "empty list item");
            goto fail;
        }
        if (!check_text(e, v, len, why, sizeof(why))) {
            rc = fail_at(ld, ev_line(ld), e->key, why);
            goto fail;
        }
        strlist_push(&out->l, v, len);
    }
fail:
    strlist_free(&out->l);
    return TRL_ECONFIG;
}

/* Reads the value of a leaf key; the current event is its first event. */
static int load_leaf(struct loader *ld, size_t idx, uint32_t key_line)
{
    const struct trl_cfg_entry *e = &ld->m->entries[idx];
    char why[512];
    if (ld->pending_line[idx]) {
        snprintf(why, sizeof(why), "duplicate key (first set on line %" PRIu32 ")",
                 ld->pending_line[idx]);
        return fail_at(ld, key_line, e->key, why);
    }
    union cfg_value v;
    if (e->type == TRL_CFG_LIST) {
        if (load_list(ld, e, &v))
            return TRL_ECONFIG;
    } else if (ld->ev.type == YAML_ALIAS_EVENT) {
        return alias_error(ld, e->key);
    } else if (ld->ev.type != YAML_SCALAR_EVENT) {
        expected_got(e, event_kind(&ld->ev), why, sizeof(why));
        return fail_at(ld, ev_line(ld), e->key, why);
    } else if (scalar_is_null(&ld->ev)) {
        /* "file:" with nothing after it: an empty string is a real value, the rest need one. */
        if (e->type != TRL_CFG_STRING) {
            expected_got(e, "nothing", why, sizeof(why));
            return fail_at(ld, ev_line(ld), e->key, why);
        }
        if (!check_text(e, "", 0, why, sizeof(why)))
            return fail_at(ld, ev_line(ld), e->key, why);
        v.s = trl_xstrdup("");
    } else if (!parse_scalar(e, (const char *)ld->ev.data.scalar.value, ld->ev.data.scalar.length,
                             &v, why, sizeof(why))) {
        return fail_at(ld, ev_line(ld), e->key, why);
    }
    ld->pending[idx] = v;
    ld->pending_line[idx] = key_line;
    return 0;
}

static int note_section(struct loader *ld, const char *path, uint32_t line)
{
    for (size_t i = 0; i < ld->nsections; i++) {
        if (strcmp(ld->sections[i].path, path) == 0) {
            char why[128];
            snprintf(why, sizeof(why), "duplicate section (first on line %" PRIu32 ")",
                     ld->sections[i].line);
            return fail_at(ld, line, path, why);
        }
    }
    ld->sections = trl_xrealloc(ld->sections, (ld->nsections + 1) * sizeof(*ld->sections));
    ld->sections[ld->nsections].path = trl_xstrdup(path);
    ld->sections[ld->nsections].line = line;
    ld->nsections++;
    return 0;
}

/* Reads a mapping whose MAPPING-START is the current event; prefix is the dotted path of the
 * section it belongs to ("" at the top). Depth is bounded by the table: only known sections open a
 * nested mapping. */
static int load_mapping(struct loader *ld, const char *prefix)
{
    char path[KEY_MAX + 1];
    char why[512];
    size_t plen = strlen(prefix);
    for (;;) {
        if (next_event(ld))
            return TRL_ECONFIG;
        if (ld->ev.type == YAML_MAPPING_END_EVENT)
            return 0;
        uint32_t key_line = ev_line(ld);
        if (ld->ev.type == YAML_ALIAS_EVENT)
            return alias_error(ld, NULL);
        if (ld->ev.type != YAML_SCALAR_EVENT) {
            snprintf(why, sizeof(why), "a key must be a plain name, got %s", event_kind(&ld->ev));
            return fail_at(ld, key_line, plen ? prefix : NULL, why);
        }
        const char *k = (const char *)ld->ev.data.scalar.value;
        size_t klen = ld->ev.data.scalar.length;
        size_t len = plen + (plen ? 1 : 0) + klen;
        bool fits = len <= KEY_MAX && !memchr(k, '\0', klen);
        if (fits) {
            memcpy(path, prefix, plen);
            if (plen)
                path[plen] = '.';
            memcpy(path + len - klen, k, klen);
            path[len] = '\0';
        }
        long idx = fits ? find_index(ld->m, path, len) : -1;
        bool section = fits && idx < 0 && is_section(ld->m, path, len);
        if (idx < 0 && !section) {
            if (fits)
                unknown_key_msg(ld->m, path, len, why, sizeof(why));
            else
                unknown_key_msg(ld->m, k, klen, why, sizeof(why));
            return fail_at(ld, key_line, NULL, why);
        }
        if (next_event(ld))
            return TRL_ECONFIG;
        if (idx >= 0) {
            if (load_leaf(ld, (size_t)idx, key_line))
                return TRL_ECONFIG;
            continue;
        }
        if (note_section(ld, path, key_line))
            return TRL_ECONFIG;
        if (ld->ev.type == YAML_SCALAR_EVENT && scalar_is_null(&ld->ev))
            continue; /* "tls:" with every setting below it commented out */
        if (ld->ev.type == YAML_ALIAS_EVENT)
            return alias_error(ld, path);
        if (ld->ev.type != YAML_MAPPING_START_EVENT) {
            snprintf(why, sizeof(why), "is a section: expected a mapping of settings, got %s",
                     ld->ev.type == YAML_SCALAR_EVENT ? "a single value" : event_kind(&ld->ev));
            return fail_at(ld, ev_line(ld), path, why);
        }
        if (load_mapping(ld, path))
            return TRL_ECONFIG;
    }
}

static int load_stream(struct loader *ld)
{
    if (next_event(ld)) /* STREAM-START */
        return TRL_ECONFIG;
    if (next_event(ld))
        return TRL_ECONFIG;
    if (ld->ev.type == YAML_STREAM_END_EVENT)
        return 0; /* an empty file, or only comments */
    /* DOCUMENT-START, then the root node. */
    if (next_event(ld))
        return TRL_ECONFIG;
    if (ld->ev.type == YAML_MAPPING_START_EVENT) {
        if (load_mapping(ld, ""))
            return TRL_ECONFIG;
    } else if (ld->ev.type == YAML_ALIAS_EVENT) {
        return alias_error(ld, NULL);
    } else if (ld->ev.type != YAML_SCALAR_EVENT || !scalar_is_null(&ld->ev)) {
        char why[128];
        snprintf(why, sizeof(why), "the file must be a mapping of settings (key: value), got %s",
                 ld->ev.type == YAML_SCALAR_EVENT ? "a single value" : event_kind(&ld->ev));
        return fail_at(ld, ev_line(ld), NULL, why);
    }
    if (next_event(ld)) /* DOCUMENT-END */
        return TRL_ECONFIG;
    if (next_event(ld))
        return TRL_ECONFIG;
    if (ld->ev.type != YAML_STREAM_END_EVENT)
        return fail_at(ld, ev_line(ld), NULL, "only one YAML document is allowed");
    return 0;
}

int trl_cfgmap_load(const struct trl_cfg_map *m, void *base, const char *name, const char *data,
                    size_t len, char *err, size_t errlen)
{
    struct loader *ld = trl_xcalloc(1, sizeof(*ld));
    ld->m = m;
    ld->name = name;
    ld->data = data;
    ld->len = len;
    ld->err = err;
    ld->errlen = errlen;
    int rc;
    if (!yaml_parser_initialize(&ld->parser)) {
        rc = config_error(err, errlen, "config %s: out of memory", name);
        free(ld);
        return rc;
    }
    yaml_parser_set_input_string(&ld->parser, (const unsigned char *)data, len);
    rc = load_stream(ld);
    for (size_t i = 0; i < m->count; i++) {
        if (!ld->pending_line[i])
            continue;
        if (rc == 0)
            commit(m, base, i, &ld->pending[i], TRL_CFG_SRC_FILE, ld->pending_line[i]);
        else
            value_free(&m->entries[i], &ld->pending[i]);
    }
    if (rc == 0) {
        struct trl_cfg_origins *o = origins_of(m, base);
        free(o->file);
        o->file = trl_xstrdup(name);
    }
    if (ld->have_ev)
        yaml_event_delete(&ld->ev);
    yaml_parser_delete(&ld->parser);
    for (size_t i = 0; i < ld->nsections; i++)
        free(ld->sections[i].path);
    free(ld->sections);
    free(ld);
    return rc;
}

/* ---- dump ---- */

static bool is_null_word(const char *s)
{
    return !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* Writes s as a YAML scalar: plain when it is unambiguous, else double-quoted. */
static void put_scalar(FILE *out, const char *s)
{
    bool plain = s[0] != '\0' && !is_null_word(s) &&
                 ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
                  (s[0] >= '0' && s[0] <= '9') || s[0] == '/' || s[0] == '_');
    /* A trailing ':' would read as a mapping indicator. */
    plain = plain && s[strlen(s) - 1] != ':';
    for (const char *p = s; plain && *p; p++) {
        unsigned char ch = (unsigned char)*p;
        plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                strchr("._/:-+@", ch) != NULL;
    }
    if (plain) {
        fputs(s, out);
        return;
    }
    /* Values are valid UTF-8 (check_text); what YAML would not read back verbatim inside double
     * quotes (control and C1 characters, line and paragraph separators, BOM, non-characters) is
     * escaped by code point. */
    fputc('"', out);
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_decode((const unsigned char *)s + i, len - i, &cp);
        if (n == 0) {
            fprintf(out, "\\x%02x", (unsigned char)s[i]);
            i++;
            continue;
        }
        if (cp == '"' || cp == '\\')
            fprintf(out, "\\%c", (char)cp);
        else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
            fprintf(out, "\\x%02x", (unsigned)cp);
        else if (cp == 0x2028 || cp == 0x2029 || cp == 0xfeff || cp == 0xfffe || cp == 0xffff)
            fprintf(out, "\\u%04x", (unsigned)cp);
        else
            fwrite(s + i, 1, n, out);
        i += n;
    }
    fputc('"', out);
}

static void put_origin(FILE *out, const struct trl_cfg_origins *o, size_t i)
{
    switch ((enum trl_cfg_source)o->source[i]) {
    case TRL_CFG_SRC_DEFAULT:
        break;
    case TRL_CFG_SRC_FILE:
        fputs("  # from ", out);
        /* A comment cannot escape anything: replace what could break the line or the UTF-8. */
        for (const char *p = o->file ? o->file : "file"; *p; p++)
            fputc((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f ? '?' : *p, out);
        fprintf(out, ":%" PRIu32, o->line[i]);
        break;
    case TRL_CFG_SRC_ENV:
        fputs("  # from the environment", out);
        break;
    case TRL_CFG_SRC_FLAG:
        fputs("  # from the command line", out);
        break;
    }
}

static void put_indent(FILE *out, size_t depth)
{
    for (size_t i = 0; i < depth; i++)
        fputs("  ", out);
}

void trl_cfgmap_dump(const struct trl_cfg_map *m, const void *base, FILE *out)
{
    const struct trl_cfg_origins *o = origins_of(m, (void *)base);
    const char *prev = "";
    for (size_t i = 0; i < m->count; i++) {
        const struct trl_cfg_entry *e = &m->entries[i];
        const void *f = field_of(e, (void *)base);
        /* Length of the section part the previous key shares with this one. */
        size_t common = 0;
        for (size_t j = 0; e->key[j] && e->key[j] == prev[j]; j++) {
            if (e->key[j] == '.')
                common = j + 1;
        }
        size_t depth = 0;
        for (size_t j = 0; j < common; j++)
            depth += e->key[j] == '.';
        /* Open each new section after the shared part. */
        const char *part = e->key + common;
        const char *dot;
        while ((dot = strchr(part, '.'))) {
            put_indent(out, depth);
            fprintf(out, "%.*s:\n", (int)(dot - part), part);
            depth++;
            part = dot + 1;
        }
        put_indent(out, depth);
        fprintf(out, "%s:%s", part, e->type == TRL_CFG_LIST ? "" : " ");
        char buf[64];
        switch (e->type) {
        case TRL_CFG_STRING:
            put_scalar(out, *(char *const *)f ? *(char *const *)f : "");
            break;
        case TRL_CFG_BOOL:
            fputs(*(const bool *)f ? "true" : "false", out);
            break;
        case TRL_CFG_INT:
        case TRL_CFG_SIZE:
        case TRL_CFG_DURATION:
            format_number(e, *(const int64_t *)f, buf, sizeof(buf));
            fputs(buf, out);
            break;
        case TRL_CFG_ENUM:
            put_scalar(out, e->names[*(const int *)f]);
            break;
        case TRL_CFG_LIST: {
            const struct trl_strlist *l = f;
            if (l->count == 0)
                fputs(" off", out);
            put_origin(out, o, i);
            fputc('\n', out);
            for (size_t k = 0; k < l->count; k++) {
                put_indent(out, depth + 1);
                fputs("- ", out);
                put_scalar(out, l->items[k]);
                fputc('\n', out);
            }
            prev = e->key;
            continue;
        }
        }
        put_origin(out, o, i);
        fputc('\n', out);
        prev = e->key;
    }
}

#include "ioc/indicator.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[TRL_IOC_TYPE__COUNT] = {
    [TRL_IOC_NONE] = "none",   [TRL_IOC_IPV4] = "ipv4",         [TRL_IOC_IPV6] = "ipv6",
    [TRL_IOC_CIDR] = "cidr",   [TRL_IOC_DOMAIN] = "domain",     [TRL_IOC_URL] = "url",
    [TRL_IOC_MD5] = "md5",     [TRL_IOC_SHA1] = "sha1",         [TRL_IOC_SHA256] = "sha256",
    [TRL_IOC_EMAIL] = "email", [TRL_IOC_FILENAME] = "filename", [TRL_IOC_USER_AGENT] = "user-agent",
};

const char *trl_ioc_type_name(enum trl_ioc_type t)
{
    return (unsigned)t < TRL_IOC_TYPE__COUNT ? type_names[t] : "none";
}

enum trl_ioc_type trl_ioc_type_from_name(const char *name, size_t len)
{
    for (int t = TRL_IOC_IPV4; t < TRL_IOC_TYPE__COUNT; t++) {
        if (strlen(type_names[t]) == len && memcmp(type_names[t], name, len) == 0)
            return (enum trl_ioc_type)t;
    }
    return TRL_IOC_NONE;
}

static inline char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static inline bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static inline bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static void trim(const char **p, size_t *len)
{
    while (*len && is_space(**p)) {
        (*p)++;
        (*len)--;
    }
    while (*len && is_space((*p)[*len - 1]))
        (*len)--;
}

static bool has_control(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == 0x7f)
            return true;
    }
    return false;
}

/* Parses an address of either family from [p, p+len); family is AF_INET or AF_INET6. */
static bool parse_addr(const char *p, size_t len, int *family, unsigned char addr[16])
{
    char buf[INET6_ADDRSTRLEN + 1];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, p, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, addr) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, buf, addr) == 1) {
        *family = AF_INET6;
        return true;
    }
    return false;
}

static int norm_ip(enum trl_ioc_type type, const char *p, size_t len, char *out, size_t cap,
                   size_t *out_len, const char **why)
{
    if (type == TRL_IOC_IPV6 && len >= 2 && p[0] == '[' && p[len - 1] == ']') {
        p++;
        len -= 2;
    }
    int family;
    unsigned char addr[16];
    if (!parse_addr(p, len, &family, addr)) {
        *why = type == TRL_IOC_IPV4 ? "not an IPv4 address" : "not an IPv6 address";
        return TRL_EINVAL;
    }
    if ((type == TRL_IOC_IPV4) != (family == AF_INET)) {
        *why = type == TRL_IOC_IPV4 ? "an IPv6 address where IPv4 was expected"
                                    : "an IPv4 address where IPv6 was expected";
        return TRL_EINVAL;
    }
    char text[INET6_ADDRSTRLEN];
    inet_ntop(family, addr, text, sizeof(text));
    size_t n = strlen(text);
    if (n + 1 > cap) {
        *why = "value too long";
        return TRL_EINVAL;
    }
    memcpy(out, text, n + 1);
    *out_len = n;
    return 0;
}

static int norm_cidr(const char *p, size_t len, char *out, size_t cap, size_t *out_len,
                     const char **why)
{
    const char *slash = memchr(p, '/', len);
    if (!slash) {
        *why = "a network needs a prefix length (addr/len)";
        return TRL_EINVAL;
    }
    int family;
    unsigned char addr[16];
    if (!parse_addr(p, (size_t)(slash - p), &family, addr)) {
        *why = "bad network address before '/'";
        return TRL_EINVAL;
    }
    uint64_t bits;
    size_t blen = len - (size_t)(slash - p) - 1;
    unsigned max = family == AF_INET ? 32 : 128;
    if (blen == 0 || blen > 3 || !trl_parse_u64(slash + 1, blen, &bits) || bits > max) {
        *why = family == AF_INET ? "bad prefix length (0-32)" : "bad prefix length (0-128)";
        return TRL_EINVAL;
    }
    if (bits == 0) {
        *why = "a /0 network would match every address";
        return TRL_EINVAL;
    }
    unsigned nbytes = max / 8;
    for (unsigned i = 0; i < nbytes; i++) {
        unsigned keep = bits >= (i + 1) * 8 ? 8 : bits > i * 8 ? (unsigned)bits - i * 8 : 0;
        addr[i] &= (unsigned char)(keep ? 0xff << (8 - keep) : 0);
    }
    char text[INET6_ADDRSTRLEN];
    inet_ntop(family, addr, text, sizeof(text));
    int n = snprintf(out, cap, "%s/%u", text, (unsigned)bits);
    if (n < 0 || (size_t)n >= cap) {
        *why = "value too long";
        return TRL_EINVAL;
    }
    *out_len = (size_t)n;
    return 0;
}

/* Checks a host name that is already lower-case in [p, p+len). */
static const char *check_domain(const char *p, size_t len)
{
    if (len == 0)
        return "empty domain name";
    if (len > 253)
        return "domain name longer than 253 characters";
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (c == '.') {
            if (label == 0)
                return "empty label in domain name";
            label = 0;
            continue;
        }
        if ((unsigned char)c >= 0x80)
            return "domain name is not ASCII (use its punycode form)";
        if (!(is_alpha(c) || is_digit(c) || c == '-' || c == '_'))
            return "character not allowed in a domain name";
        if (++label > 63)
            return "domain label longer than 63 characters";
    }
    if (label == 0)
        return "empty label in domain name";
    return NULL;
}

static int norm_domain(const char *p, size_t len, char *out, size_t cap, size_t *out_len,
                       const char **why)
{
    if (len >= 2 && p[0] == '*' && p[1] == '.') {
        p += 2;
        len -= 2;
    }
    if (len && p[len - 1] == '.')
        len--;
    if (len + 1 > cap) {
        *why = "value too long";
        return TRL_EINVAL;
    }
    for (size_t i = 0; i < len; i++)
        out[i] = lower(p[i]);
    out[len] = '\0';
    if ((*why = check_domain(out, len)) != NULL)
        return TRL_EINVAL;
    if (trl_is_ip(out, len)) {
        *why = "an IP address, not a domain name";
        return TRL_EINVAL;
    }
    *out_len = len;
    return 0;
}

static int norm_url(const char *p, size_t len, char *out, size_t cap, size_t *out_len,
                    const char **why)
{
    size_t i = 0;
    while (i < len && (is_alpha(p[i]) ||
                       (i > 0 && (is_digit(p[i]) || p[i] == '+' || p[i] == '-' || p[i] == '.'))))
        i++;
    if (i == 0 || len - i < 3 || memcmp(p + i, "://", 3) != 0) {
        *why = "not an absolute URL (scheme://host...)";
        return TRL_EINVAL;
    }
    size_t host = i + 3, end = host;
    while (end < len && p[end] != '/' && p[end] != '?' && p[end] != '#')
        end++;
    if (end == host) {
        *why = "URL without a host";
        return TRL_EINVAL;
    }
    for (size_t k = 0; k < len; k++) {
        if (is_space(p[k]) || (unsigned char)p[k] < 0x20 || p[k] == 0x7f) {
            *why = "white space or control character in URL";
            return TRL_EINVAL;
        }
    }
    bool add_slash = end == len;
    if (len + (add_slash ? 1 : 0) > TRL_IOC_VALUE_MAX || len + 2 > cap) {
        *why = "URL longer than 4096 bytes";
        return TRL_EINVAL;
    }
    for (size_t k = 0; k < end; k++)
        out[k] = lower(p[k]);
    memcpy(out + end, p + end, len - end);
    size_t n = len;
    if (add_slash)
        out[n++] = '/';
    out[n] = '\0';
    *out_len = n;
    return 0;
}

static int norm_hash(enum trl_ioc_type type, const char *p, size_t len, char *out, size_t cap,
                     size_t *out_len, const char **why)
{
    size_t want = type == TRL_IOC_MD5 ? 32 : type == TRL_IOC_SHA1 ? 40 : 64;
    if (len != want) {
        *why = type == TRL_IOC_MD5    ? "an MD5 hash has 32 hex digits"
               : type == TRL_IOC_SHA1 ? "a SHA-1 hash has 40 hex digits"
                                      : "a SHA-256 hash has 64 hex digits";
        return TRL_EINVAL;
    }
    if (len + 1 > cap) {
        *why = "value too long";
        return TRL_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_hex(p[i])) {
            *why = "hash with a character that is not a hex digit";
            return TRL_EINVAL;
        }
        out[i] = lower(p[i]);
    }
    out[len] = '\0';
    *out_len = len;
    return 0;
}

static int norm_email(const char *p, size_t len, char *out, size_t cap, size_t *out_len,
                      const char **why)
{
    if (len >= 7 && trl_strcase_eq(p, 7, "mailto:", 7)) {
        p += 7;
        len -= 7;
    }
    if (len >= 2 && p[0] == '<' && p[len - 1] == '>') {
        p++;
        len -= 2;
    }
    const char *at = memchr(p, '@', len);
    if (!at || at == p || memchr(at + 1, '@', len - (size_t)(at - p) - 1)) {
        *why = "an e-mail address needs exactly one '@' after a local part";
        return TRL_EINVAL;
    }
    if (len + 1 > cap || len > 320) {
        *why = "e-mail address too long";
        return TRL_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        if (is_space(p[i]) || (unsigned char)p[i] < 0x20 || p[i] == '<' || p[i] == '>' ||
            p[i] == ',' || p[i] == ';') {
            *why = "character not allowed in an e-mail address";
            return TRL_EINVAL;
        }
        out[i] = lower(p[i]);
    }
    out[len] = '\0';
    size_t local = (size_t)(at - p);
    if ((*why = check_domain(out + local + 1, len - local - 1)) != NULL)
        return TRL_EINVAL;
    *out_len = len;
    return 0;
}

static int norm_text(bool fold, const char *p, size_t len, char *out, size_t cap, size_t *out_len,
                     const char **why)
{
    if (len == 0) {
        *why = "empty value";
        return TRL_EINVAL;
    }
    if (has_control(p, len)) {
        *why = "control character in value";
        return TRL_EINVAL;
    }
    if (len > TRL_IOC_VALUE_MAX || len + 1 > cap) {
        *why = "value longer than 4096 bytes";
        return TRL_EINVAL;
    }
    for (size_t i = 0; i < len; i++)
        out[i] = fold ? lower(p[i]) : p[i];
    out[len] = '\0';
    *out_len = len;
    return 0;
}

int trl_ioc_normalize(enum trl_ioc_type type, const char *in, size_t len, char *out, size_t cap,
                      size_t *out_len, const char **why)
{
    const char *p = in;
    const char *unused;
    if (!why)
        why = &unused;
    trim(&p, &len);
    if (len == 0) {
        *why = "empty value";
        return TRL_EINVAL;
    }
    if (memchr(p, '\0', len)) {
        *why = "NUL byte in value";
        return TRL_EINVAL;
    }
    switch (type) {
    case TRL_IOC_IPV4:
    case TRL_IOC_IPV6:
        return norm_ip(type, p, len, out, cap, out_len, why);
    case TRL_IOC_CIDR:
        return norm_cidr(p, len, out, cap, out_len, why);
    case TRL_IOC_DOMAIN:
        return norm_domain(p, len, out, cap, out_len, why);
    case TRL_IOC_URL:
        return norm_url(p, len, out, cap, out_len, why);
    case TRL_IOC_MD5:
    case TRL_IOC_SHA1:
    case TRL_IOC_SHA256:
        return norm_hash(type, p, len, out, cap, out_len, why);
    case TRL_IOC_EMAIL:
        return norm_email(p, len, out, cap, out_len, why);
    case TRL_IOC_FILENAME:
        return norm_text(true, p, len, out, cap, out_len, why);
    case TRL_IOC_USER_AGENT:
        return norm_text(false, p, len, out, cap, out_len, why);
    default:
        *why = "unknown indicator type";
        return TRL_EINVAL;
    }
}

/* Last labels that are file extensions far more often than top-level domains in free text. */
static bool is_file_extension(const char *p, size_t len)
{
    static const char *const ext[] = {
        "php",  "txt", "exe", "sh",   "js",  "html", "htm", "jsp", "asp", "aspx", "log", "zip",
        "gz",   "tar", "dll", "bin",  "doc", "docx", "pdf", "xls", "png", "jpg",  "gif", "py",
        "pl",   "cfg", "ini", "json", "xml", "csv",  "tmp", "bat", "ps1", "vbs",  "elf", "so",
        "conf", "md",  "rar", "7z",   "iso", "lnk",  "hta", "jar", "dat", "db",   "bak", "sys",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(ext); i++) {
        if (trl_strcase_eq(p, len, ext[i], strlen(ext[i])))
            return true;
    }
    return false;
}

enum trl_ioc_type trl_ioc_detect_type(const char *v, size_t len, unsigned flags)
{
    trim(&v, &len);
    if (len == 0 || len > TRL_IOC_VALUE_MAX)
        return TRL_IOC_NONE;
    char buf[TRL_IOC_VALUE_MAX + 2];
    size_t n;
    const char *why;
    if (trl_memstr(v, len, "://"))
        return trl_ioc_normalize(TRL_IOC_URL, v, len, buf, sizeof(buf), &n, &why) == 0
                   ? TRL_IOC_URL
                   : TRL_IOC_NONE;
    if (memchr(v, '/', len))
        return trl_ioc_normalize(TRL_IOC_CIDR, v, len, buf, sizeof(buf), &n, &why) == 0
                   ? TRL_IOC_CIDR
                   : TRL_IOC_NONE;
    int family;
    unsigned char addr[16];
    if (parse_addr(v, len, &family, addr))
        return family == AF_INET ? TRL_IOC_IPV4 : TRL_IOC_IPV6;
    if (len >= 2 && v[0] == '[' && v[len - 1] == ']' && parse_addr(v + 1, len - 2, &family, addr))
        return family == AF_INET6 ? TRL_IOC_IPV6 : TRL_IOC_NONE;
    bool hex = true;
    for (size_t i = 0; i < len && hex; i++)
        hex = is_hex(v[i]);
    if (hex)
        return len == 32   ? TRL_IOC_MD5
               : len == 40 ? TRL_IOC_SHA1
               : len == 64 ? TRL_IOC_SHA256
                           : TRL_IOC_NONE;
    if (memchr(v, '@', len))
        return trl_ioc_normalize(TRL_IOC_EMAIL, v, len, buf, sizeof(buf), &n, &why) == 0
                   ? TRL_IOC_EMAIL
                   : TRL_IOC_NONE;
    if (trl_ioc_normalize(TRL_IOC_DOMAIN, v, len, buf, sizeof(buf), &n, &why) != 0)
        return TRL_IOC_NONE;
    const char *dot = memrchr(buf, '.', n);
    if (!dot)
        return TRL_IOC_NONE; /* a single word is not taken for a domain */
    const char *tld = dot + 1;
    size_t tlen = n - (size_t)(tld - buf);
    if (tlen < 2 || tlen > 24)
        return TRL_IOC_NONE;
    for (size_t i = 0; i < tlen; i++) {
        if (!is_alpha(tld[i]))
            return TRL_IOC_NONE;
    }
    if ((flags & TRL_IOC_DETECT_FREETEXT) && is_file_extension(tld, tlen))
        return TRL_IOC_NONE;
    return TRL_IOC_DOMAIN;
}

size_t trl_ioc_refang(const char *in, size_t len, char *out, size_t cap)
{
    static const struct {
        const char *from, *to;
    } subst[] = {
        {"[.]", "."},           {"(.)", "."},         {"{.}", "."},  {"[dot]", "."},
        {"[:]", ":"},           {"[@]", "@"},         {"[at]", "@"}, {"hxxps://", "https://"},
        {"hxxp://", "http://"}, {"fxp://", "ftp://"},
    };
    size_t n = 0;
    if (cap == 0)
        return 0;
    for (size_t i = 0; i < len && n + 1 < cap;) {
        bool done = false;
        for (size_t k = 0; k < TRL_ARRAY_LEN(subst) && !done; k++) {
            size_t fl = strlen(subst[k].from);
            if (len - i >= fl && trl_strcase_eq(in + i, fl, subst[k].from, fl)) {
                size_t tl = strlen(subst[k].to);
                if (n + tl + 1 > cap)
                    break;
                memcpy(out + n, subst[k].to, tl);
                n += tl;
                i += fl;
                done = true;
            }
        }
        if (!done)
            out[n++] = in[i++];
    }
    out[n] = '\0';
    return n;
}

void trl_ioc_derive_id(enum trl_ioc_type type, const char *source, const char *value,
                       char out[TRL_IOC_DERIVED_ID_SIZE])
{
    char stack[512];
    const char *tn = trl_ioc_type_name(type);
    size_t sl = source ? strlen(source) : 0, tl = strlen(tn), vl = strlen(value);
    size_t n = sl + tl + vl + 2;
    char *buf = n <= sizeof(stack) ? stack : trl_xmalloc(n);
    memcpy(buf, source ? source : "", sl);
    buf[sl] = '\n';
    memcpy(buf + sl + 1, tn, tl);
    buf[sl + 1 + tl] = '\n';
    memcpy(buf + sl + tl + 2, value, vl);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(buf, n, md, &mdlen, EVP_sha256(), NULL) != 1)
        abort();
    if (buf != stack)
        free(buf);
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "ioc--", 5);
    for (int i = 0; i < 16; i++) {
        out[5 + 2 * i] = hex[md[i] >> 4];
        out[6 + 2 * i] = hex[md[i] & 15];
    }
    out[37] = '\0';
}

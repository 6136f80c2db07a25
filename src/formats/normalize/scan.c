#include "formats/normalize/scan.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

bool trl_scan_until_n(struct trl_scan *s, const char *lit, size_t n, struct trl_str *out)
{
    const char *hit = trl_memmem(s->p, trl_scan_left(s), lit, n);
    if (!hit)
        return false;
    *out = (struct trl_str){s->p, (size_t)(hit - s->p)};
    s->p = hit + n;
    return true;
}

bool trl_scan_until_last(struct trl_scan *s, const char *lit, struct trl_str *out)
{
    const char *hit = trl_scan_rfind(s->p, trl_scan_left(s), lit);
    if (!hit)
        return false;
    *out = (struct trl_str){s->p, (size_t)(hit - s->p)};
    s->p = hit + strlen(lit);
    return true;
}

const char *trl_scan_rfind(const char *p, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    if (n == 0 || n > len)
        return NULL;
    /* memrchr(3) jumps between the places a byte of lit could be: its first byte that is not a
     * space, which is rarer in text than the spaces literals start and end with. */
    size_t k = 0;
    while (k + 1 < n && lit[k] == ' ')
        k++;
    /* A match starts at i in [0, len - n]: its key byte is at i + k, below lim. */
    size_t lim = len - n + 1 + k;
    const char *hit;
    while (lim > k && (hit = memrchr(p + k, lit[k], lim - k)) != NULL) {
        const char *at = hit - k;
        if (memcmp(at, lit, n) == 0)
            return at;
        lim = (size_t)(hit - p);
    }
    return NULL;
}

struct trl_str trl_scan_trim(const char *p, size_t len)
{
    while (len > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        len--;
    }
    for (;;) {
        if (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r' ||
                        p[len - 1] == '\n' || p[len - 1] == '\0'))
            len--;
        else if (len >= 4 && memcmp(p + len - 4, "#012", 4) == 0)
            len -= 4;
        else
            break;
    }
    return (struct trl_str){p, len};
}

bool trl_scan_kv(struct trl_str text, const char *key, struct trl_str *out)
{
    size_t klen = strlen(key);
    const char *p = text.ptr, *end = text.ptr + text.len;
    while (p < end) {
        const char *hit = memmem(p, (size_t)(end - p), key, klen);
        if (!hit)
            return false;
        const char *eq = hit + klen;
        if ((hit == text.ptr || hit[-1] == ' ') && eq < end && *eq == '=') {
            const char *v = eq + 1, *q = v;
            while (q < end && *q != ' ')
                q++;
            *out = (struct trl_str){v, (size_t)(q - v)};
            return true;
        }
        p = hit + 1;
    }
    return false;
}

/* Checks for "<IP> port <digits>" around the " port " at offset at of text. */
static bool addr_port_at(struct trl_str text, size_t at, struct trl_str *before, struct trl_str *ip,
                         struct trl_str *port, struct trl_str *after)
{
    const char *p = text.ptr;
    const char *sp = at ? memrchr(p, ' ', at) : NULL;
    size_t ip_start = sp ? (size_t)(sp - p) + 1 : 0;
    if (ip_start == at || !trl_is_ip(p + ip_start, at - ip_start))
        return false;
    size_t d = at + 6, dend = d;
    while (dend < text.len && p[dend] >= '0' && p[dend] <= '9')
        dend++;
    if (dend == d)
        return false;
    *before = (struct trl_str){p, ip_start};
    *ip = (struct trl_str){p + ip_start, at - ip_start};
    *port = (struct trl_str){p + d, dend - d};
    *after = (struct trl_str){p + dend, text.len - dend};
    return true;
}

bool trl_scan_addr_port(struct trl_str text, bool last, struct trl_str *before, struct trl_str *ip,
                        struct trl_str *port, struct trl_str *after)
{
    static const char needle[] = " port ";
    const size_t n = sizeof(needle) - 1;
    if (text.len < n)
        return false;
    /* Candidates start at a space: memchr(3) / memrchr(3) jump from one to the next. */
    if (last) {
        size_t lim = text.len - n + 1; /* candidates start below lim */
#if defined(__SSE2__)
        /* The last occurrence is usually near the end, behind a few words (a key fingerprint,
         * "ssh2:"): 16 candidate starts at a time, from the end, are screened by three bytes of
         * the needle (' ', 'p', ' '), and only those that pass are compared in full, the highest
         * first. The blocks read up to p[i + 20] for a start i below lim: inside the text. */
        const char *p = text.ptr;
        size_t below = lim; /* the candidates at and above it have been tried */
        while (below >= 16) {
            size_t b = below - 16;
            __m128i sp0 = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + b)),
                                         _mm_set1_epi8(' '));
            __m128i p1 = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + b + 1)),
                                        _mm_set1_epi8('p'));
            __m128i sp5 = _mm_cmpeq_epi8(
                _mm_loadu_si128((const __m128i *)(const void *)(p + b + 5)), _mm_set1_epi8(' '));
            unsigned bits = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_and_si128(sp0, p1), sp5));
            while (bits) {
                unsigned k = 31u - (unsigned)__builtin_clz(bits);
                bits &= ~(1u << k);
                size_t i = b + k;
                if (memcmp(p + i, needle, n) == 0 && addr_port_at(text, i, before, ip, port, after))
                    return true;
            }
            below = b;
        }
        lim = below;
#endif
        const char *sp;
        while (lim > 0 && (sp = memrchr(text.ptr, ' ', lim)) != NULL) {
            size_t i = (size_t)(sp - text.ptr);
            if (memcmp(sp, needle, n) == 0 && addr_port_at(text, i, before, ip, port, after))
                return true;
            lim = i;
        }
        return false;
    }
    size_t i = 0;
    while (i + n <= text.len) {
        const char *sp = memchr(text.ptr + i, ' ', text.len - n + 1 - i);
        if (!sp)
            return false;
        i = (size_t)(sp - text.ptr);
        if (memcmp(sp, needle, n) == 0 && addr_port_at(text, i, before, ip, port, after))
            return true;
        i++;
    }
    return false;
}

bool trl_scan_repeated(struct trl_str msg, struct trl_str *inner, struct trl_str *count)
{
    struct trl_scan s = trl_scan_init(msg.ptr, msg.len);
    struct trl_str n;
    if (!trl_scan_lit(&s, "message repeated ") || !trl_scan_digits(&s, &n) ||
        !trl_scan_lit(&s, " times: ["))
        return false;
    struct trl_str rest = trl_scan_trim(s.p, trl_scan_left(&s));
    /* rsyslog closes the bracket even when it shortened the message, but a line cut further on
     * may have lost it. */
    if (rest.len > 0 && rest.ptr[rest.len - 1] == ']')
        rest = trl_scan_trim(rest.ptr, rest.len - 1);
    *inner = rest;
    *count = n;
    return true;
}

/* The class strings are literals: stored by reference, not copied. */
void trl_norm_classify_n(struct trl_event *ev, const struct trl_norm_class *c, const size_t len[5])
{
    trl_event_set_ref(ev, TRL_F_EVENT_KIND, "event", 5);
    trl_event_add_ref(ev, TRL_F_EVENT_CATEGORY, c->category, len[0]);
    trl_event_add_ref(ev, TRL_F_EVENT_TYPE, c->type, len[1]);
    if (c->type2)
        trl_event_add_ref(ev, TRL_F_EVENT_TYPE, c->type2, len[2]);
    trl_event_set_ref(ev, TRL_F_EVENT_ACTION, c->action, len[3]);
    if (c->outcome)
        trl_event_set_ref(ev, TRL_F_EVENT_OUTCOME, c->outcome, len[4]);
}

/* Messages handed to the normalisers are usually slices of event.original: what they set is then
 * stored by reference. stable() returns s itself when it can be, else a copy in the arena. */
static inline bool in_original(const struct trl_event *ev, struct trl_str s)
{
    return trl_event_in_original(ev, s.ptr, s.len);
}

static inline const char *stable(struct trl_event *ev, struct trl_str s)
{
    return in_original(ev, s) ? s.ptr : trl_arena_strndup(ev->arena, s.ptr, s.len);
}

/* related.* share the value just set rather than a copy of their own. */
void trl_norm_user(struct trl_event *ev, enum trl_field f, struct trl_str s)
{
    if (s.len == 0)
        return;
    const char *v = stable(ev, s);
    trl_event_set_ref(ev, f, v, s.len);
    trl_event_add_unique_ref(ev, TRL_F_RELATED_USER, v, s.len);
}

void trl_norm_checked_ip(struct trl_event *ev, enum trl_field f, struct trl_str s)
{
    if (s.len == 0)
        return;
    const char *v = stable(ev, s);
    trl_event_set_ref(ev, f, v, s.len);
    trl_event_add_unique_ref(ev, TRL_F_RELATED_IP, v, s.len);
}

bool trl_norm_ip(struct trl_event *ev, enum trl_field f, struct trl_str s)
{
    if (!trl_is_ip(s.ptr, s.len))
        return false;
    trl_norm_checked_ip(ev, f, s);
    return true;
}

/* s as a number when it is one of 1 to 5 digits; anything else goes to trl_parse_u64(). */
static bool parse_port(struct trl_str s, uint64_t *v)
{
    if (s.len == 0 || s.len > 5)
        return trl_parse_u64(s.ptr, s.len, v);
    unsigned n = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned)(unsigned char)s.ptr[i] - '0';
        if (d > 9)
            return false;
        n = n * 10 + d;
    }
    *v = n;
    return true;
}

void trl_norm_port(struct trl_event *ev, enum trl_field f, struct trl_str s)
{
    uint64_t v;
    if (!parse_port(s, &v) || v > 65535)
        return;
    /* Without leading zeros the digits are already the value's text. */
    if (s.len == 1 || s.ptr[0] != '0')
        trl_event_set_ref(ev, f, stable(ev, s), s.len);
    else
        trl_event_set_int(ev, f, (int64_t)v);
}

void trl_norm_set(struct trl_event *ev, enum trl_field f, struct trl_str s)
{
    if (s.len > 0)
        trl_event_set_ref(ev, f, stable(ev, s), s.len);
}

int trl_norm_run(struct trl_event *ev, const char *msg, size_t len, trl_norm_body_fn fn)
{
    if (!msg)
        return TRL_ENOMATCH;
    struct trl_str m = trl_scan_trim(msg, len), inner, count;
    if (!trl_scan_repeated(m, &inner, &count))
        return m.len > 0 ? fn(ev, m) : TRL_ENOMATCH;
    if (inner.len == 0 || fn(ev, inner) != 0)
        return TRL_ENOMATCH;
    trl_norm_set_dynamic(ev, "trapline.repeat_count", count);
    return 0;
}

bool trl_norm_is_pam(struct trl_str msg)
{
    if (trl_starts_with(msg.ptr, msg.len, "PAM "))
        return true;
    if (!trl_starts_with(msg.ptr, msg.len, "pam_"))
        return false;
    /* A module name is a short identifier followed by "(service:type): ". */
    for (size_t i = 4; i < msg.len && i < 40; i++) {
        char c = msg.ptr[i];
        if (c == '(')
            return true;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return false;
}

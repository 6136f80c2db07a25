/*
 * scan: small token readers and field setters shared by the Linux program normalisers.
 *
 * Messages handed to normalisers are slices that are not NUL-terminated, so every reader here takes
 * explicit bounds and never looks past them. A struct trl_scan is a cursor over such a slice; the
 * readers either consume what they matched and return true, or leave the cursor where it was and
 * return false. The setters write into the event's arena (see event.h). Pure functions: safe from
 * any thread on distinct events.
 */
#ifndef TRL_NORMALIZE_SCAN_H
#define TRL_NORMALIZE_SCAN_H

#include "core/event.h"
#include "core/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct trl_scan {
    const char *p;
    const char *end;
};

static inline struct trl_scan trl_scan_init(const char *p, size_t len)
{
    return (struct trl_scan){p, p + len};
}

static inline size_t trl_scan_left(const struct trl_scan *s)
{
    return (size_t)(s->end - s->p);
}

static inline struct trl_str trl_scan_rest(const struct trl_scan *s)
{
    return (struct trl_str){s->p, trl_scan_left(s)};
}

/* Consumes lit when the cursor starts with it. Inline: the length of a literal is then known at
 * compile time and the compare is a few instructions. */
static inline bool trl_scan_lit(struct trl_scan *s, const char *lit)
{
    size_t n = strlen(lit);
    if (trl_scan_left(s) < n || memcmp(s->p, lit, n) != 0)
        return false;
    s->p += n;
    return true;
}
/* Consumes spaces and tabs. */
static inline void trl_scan_skip_space(struct trl_scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t'))
        s->p++;
}

/* The first space in [p, end), or end. Words run to a few dozen bytes (key fingerprints, MAC
 * addresses): they are tested 8 bytes at a time, a zero byte of w ^ spaces being a space, and
 * never read past end. */
static inline const char *trl_scan_find_space(const char *p, const char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    for (; end - p >= 8; p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t x = w ^ (ones * ' ');
        /* Exact for the lowest zero byte, the first space in memory order. */
        uint64_t zero = (x - ones) & ~x & highs;
        if (zero)
            return p + __builtin_ctzll(zero) / 8;
    }
#endif
    while (p < end && *p != ' ')
        p++;
    return p;
}

/* Reads up to (not including) the next space or the end; false when that is empty. */
static inline bool trl_scan_word(struct trl_scan *s, struct trl_str *out)
{
    const char *q = trl_scan_find_space(s->p, s->end);
    if (q == s->p)
        return false;
    *out = (struct trl_str){s->p, (size_t)(q - s->p)};
    s->p = q;
    return true;
}

/* Reads a run of decimal digits; false when there is none. */
static inline bool trl_scan_digits(struct trl_scan *s, struct trl_str *out)
{
    const char *q = s->p;
    while (q < s->end && *q >= '0' && *q <= '9')
        q++;
    if (q == s->p)
        return false;
    *out = (struct trl_str){s->p, (size_t)(q - s->p)};
    s->p = q;
    return true;
}
/* Reads the text up to the first occurrence of the n bytes of lit and consumes them too; false when
 * they are absent. */
bool trl_scan_until_n(struct trl_scan *s, const char *lit, size_t n, struct trl_str *out);
/* Reads the text up to the first occurrence of lit and consumes lit too; false when lit is absent.
 */
static inline bool trl_scan_until(struct trl_scan *s, const char *lit, struct trl_str *out)
{
    return trl_scan_until_n(s, lit, strlen(lit), out);
}
/* Like trl_scan_until() but stops at the last occurrence of lit. */
bool trl_scan_until_last(struct trl_scan *s, const char *lit, struct trl_str *out);

/* The last occurrence of lit in [p, p+len), or NULL. */
const char *trl_scan_rfind(const char *p, size_t len, const char *lit);

/* Removes leading spaces and trailing spaces, CR/LF and a trailing "#012" (a line feed that the
 * syslog daemon escaped). */
struct trl_str trl_scan_trim(const char *p, size_t len);

/* Finds `key=value` where key starts the text or follows a space; the value runs to the next space.
 * Returns false when the key is absent (an empty value is found and true). */
bool trl_scan_kv(struct trl_str text, const char *key, struct trl_str *out);

/*
 * Finds "<IP> port <digits>" in text, where the IP starts the text or follows a space. With last,
 * the last such occurrence is taken (user names precede the address and are chosen by the peer, so
 * the real address is the last one); otherwise the first. On success *ip and *port are set and
 * *before / *after are the text before the IP and after the digits.
 */
bool trl_scan_addr_port(struct trl_str text, bool last, struct trl_str *before, struct trl_str *ip,
                        struct trl_str *port, struct trl_str *after);

/*
 * rsyslog folds identical lines into "message repeated N times: [ <message>]". When msg is such a
 * line, *inner is set to the folded message, *count to N, and true is returned.
 */
bool trl_scan_repeated(struct trl_str msg, struct trl_str *inner, struct trl_str *count);

/* ECS classification of one recognised message. type2 and outcome may be NULL. */
struct trl_norm_class {
    const char *category;
    const char *type;
    const char *type2;
    const char *action;
    const char *outcome;
};

/* trl_norm_classify() with the lengths of c's category, type, type2, action and outcome (0 for an
 * absent one) given. */
void trl_norm_classify_n(struct trl_event *ev, const struct trl_norm_class *c, const size_t len[5]);

/* Sets event.kind=event, event.category, event.type(s), event.action and event.outcome. The
 * class's strings are stored by reference: they must be string literals. Inline: for a class
 * that is a constant where it is called, the lengths of its strings are worked out when
 * compiling. */
static inline void trl_norm_classify(struct trl_event *ev, const struct trl_norm_class *c)
{
    const size_t len[5] = {strlen(c->category), strlen(c->type), c->type2 ? strlen(c->type2) : 0,
                           strlen(c->action), c->outcome ? strlen(c->outcome) : 0};
    trl_norm_classify_n(ev, c, len);
}
/* Sets field f to s and adds s to related.user; does nothing for an empty s. */
void trl_norm_user(struct trl_event *ev, enum trl_field f, struct trl_str s);
/* Sets field f to s and adds it to related.ip when s is an IP address; returns whether it was. */
bool trl_norm_ip(struct trl_event *ev, enum trl_field f, struct trl_str s);
/* trl_norm_ip() for an s the caller has already checked with trl_is_ip(), or an empty s (which
 * sets nothing). */
void trl_norm_checked_ip(struct trl_event *ev, enum trl_field f, struct trl_str s);
/* Sets a port field when s is a number in 0..65535. */
void trl_norm_port(struct trl_event *ev, enum trl_field f, struct trl_str s);
/* Sets field f to s unless s is empty. */
void trl_norm_set(struct trl_event *ev, enum trl_field f, struct trl_str s);
/* What the setters below may keep by reference: the name (a string literal) always, the value
 * when it lies in event.original. */
static inline unsigned trl_norm_refs(const struct trl_event *ev, struct trl_str s)
{
    return TRL_REF_NAME | (trl_event_in_original(ev, s.ptr, s.len) ? TRL_REF_VALUE : 0u);
}
/* Sets the dynamic field name (a string literal: it is not copied) to s unless s is empty. Inline:
 * the literal's length is then known when compiling. */
static inline void trl_norm_set_named(struct trl_event *ev, const char *name, struct trl_str s)
{
    if (s.len > 0)
        trl_event_set_named_ex(ev, name, strlen(name), s.ptr, s.len, trl_norm_refs(ev, s));
}
/* trl_norm_set_named() for a name in a vendor namespace ("sshd.", "pam.", "iptables."), which no
 * known field's name is: the name is not looked up among them. */
static inline void trl_norm_set_dynamic(struct trl_event *ev, const char *name, struct trl_str s)
{
    if (s.len > 0)
        trl_event_set_dynamic_ex(ev, name, strlen(name), s.ptr, s.len, trl_norm_refs(ev, s));
}

/*
 * Runs fn over msg after trimming it and unfolding an rsyslog "message repeated N times" wrapper;
 * when fn recognises the (inner) message and it was folded, sets trapline.repeat_count to N. Every
 * public Linux normaliser goes through here so folded lines are normalised like single ones.
 */
typedef int (*trl_norm_body_fn)(struct trl_event *ev, struct trl_str msg);
int trl_norm_run(struct trl_event *ev, const char *msg, size_t len, trl_norm_body_fn fn);

/* True when msg starts with a PAM module prefix such as "pam_unix(" or the "PAM " of sshd. */
bool trl_norm_is_pam(struct trl_str msg);

#endif

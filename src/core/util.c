#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

const char *trl_strerror(int err)
{
    switch (err) {
    case TRL_OK:
        return "success";
    case TRL_ENOMATCH:
        return "input is not in this format";
    case TRL_EINVAL:
        return "malformed input";
    case TRL_ETRUNC:
        return "input truncated at the size limit";
    case TRL_EFULL:
        return "queue full";
    case TRL_ECONFIG:
        return "configuration error";
    default:
        return err < 0 && err > -1000 ? strerror(-err) : "unknown error";
    }
}

static void out_of_memory(size_t n)
{
    fprintf(stderr, "trapline: out of memory allocating %zu bytes\n", n);
    abort();
}

void *trl_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory(n);
    return p;
}

void *trl_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory(n * size);
    return p;
}

void *trl_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        out_of_memory(n);
    return q;
}

char *trl_xstrdup(const char *s)
{
    return trl_xstrndup(s, strlen(s));
}

char *trl_xstrndup(const char *s, size_t n)
{
    char *p = trl_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

bool trl_strcase_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && strncasecmp(a, b, alen) == 0;
}

/* Candidates found by memchr(3) on the needle's first byte are checked with memcmp(3): fastest on
 * text, where that byte is usually rare. Text built to defeat this (many near misses) is handed to
 * memmem(3), whose time stays linear, once the misses outnumber what honest text produces. */
#define MEMMEM_MAX_MISSES 16

const char *trl_memmem(const char *hay, size_t hlen, const char *needle, size_t n)
{
    if (n == 0)
        return hay;
    if (n > hlen)
        return NULL;
    const char *p = hay, *last = hay + (hlen - n);
    for (unsigned misses = 0; misses < MEMMEM_MAX_MISSES; misses++) {
        const char *hit = memchr(p, needle[0], (size_t)(last - p) + 1);
        if (!hit)
            return NULL;
        if (memcmp(hit + 1, needle + 1, n - 1) == 0)
            return hit;
        p = hit + 1;
        if (p > last)
            return NULL;
    }
    return memmem(p, (size_t)(last - p) + n, needle, n);
}

bool trl_mem_contains(const char *hay, size_t hlen, const char *needle, size_t n, size_t key)
{
    if (n == 0)
        return true;
    if (hlen < n)
        return false;
    if (key >= n)
        key = 0;
    const char *q = hay + key, *last = hay + (hlen - n) + key;
    while (q <= last) {
        const char *hit = memchr(q, needle[key], (size_t)(last - q) + 1);
        if (!hit)
            return false;
        if (memcmp(hit - key, needle, n) == 0)
            return true;
        q = hit + 1;
    }
    return false;
}

bool trl_parse_u64(const char *p, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool trl_parse_i64(const char *p, size_t len, int64_t *out)
{
    bool neg = len > 0 && p[0] == '-';
    uint64_t v;
    if (!trl_parse_u64(p + neg, len - neg, &v))
        return false;
    if (v > (uint64_t)INT64_MAX + neg)
        return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* Dotted-quad IPv4 exactly as inet_pton(AF_INET) takes it: four decimal numbers 0..255 without
 * leading zeros, nothing else. The text ends at p + len or at a NUL, as a C string would.
 *
 * The longest such text is 15 bytes, so the first 16 bytes (or fewer) are copied into a zeroed
 * block with two fixed-size moves: a zero byte then marks the end wherever it comes from, and
 * the digits are read without a bounds check each. */
static bool is_ipv4(const char *p, size_t len)
{
    unsigned char b[16] = {0};
    if (len < 7)
        return false; /* "1.2.3.4" is the shortest */
    size_t n = len < sizeof(b) ? len : sizeof(b);
    if (n >= 8) {
        memcpy(b, p, 8);
        memcpy(b + n - 8, p + n - 8, 8);
    } else {
        memcpy(b, p, 4);
        memcpy(b + n - 4, p + n - 4, 4);
    }
    /* An octet starts at offset 12 at the latest and is read with the byte after its third
     * digit: b[15] is the last byte read. */
    const unsigned char *q = b;
    for (int octet = 0;; octet++) {
        unsigned d0 = (unsigned)q[0] - '0', d1 = (unsigned)q[1] - '0', d2 = (unsigned)q[2] - '0';
        if (d0 > 9)
            return false;
        if (d1 > 9) {
            q += 1;
        } else if (d0 == 0) {
            return false; /* a leading zero */
        } else if (d2 > 9) {
            q += 2;
        } else {
            if (d0 * 100 + d1 * 10 + d2 > 255 || (unsigned)q[3] - '0' <= 9)
                return false;
            q += 3;
        }
        if (octet == 3)
            return *q == '\0';
        if (*q++ != '.')
            return false;
    }
}

/* The IPv6 forms, out of line: the IPv4 check before it needs no stack buffer. */
static __attribute__((noinline)) bool is_ipv6(const char *p, size_t len)
{
    char buf[INET6_ADDRSTRLEN + 1];
    unsigned char addr[sizeof(struct in6_addr)];
    /* inet_pton(3) reads a C string: the address ends at a NUL. Every IPv6 text form has a colon;
     * without one only IPv4 could have matched. */
    const char *nul = memchr(p, '\0', len);
    size_t n = nul ? (size_t)(nul - p) : len;
    if (!memchr(p, ':', n))
        return false;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return inet_pton(AF_INET6, buf, addr) == 1;
}

bool trl_is_ip(const char *p, size_t len)
{
    if (len == 0 || len > INET6_ADDRSTRLEN)
        return false;
    return is_ipv4(p, len) || is_ipv6(p, len);
}

int trl_write_all(int fd, const void *p, size_t len)
{
    const char *c = p;
    while (len > 0) {
        ssize_t n = write(fd, c, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        c += n;
        len -= (size_t)n;
    }
    return 0;
}

long trl_pread_full(int fd, void *p, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)p + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (long)got;
}

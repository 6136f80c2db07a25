/* Test helper: a byte-by-byte reference for how the JSON encoder writes a string (quotes,
 * escapes, valid UTF-8 kept, each invalid byte replaced by U+FFFD), to check its fast paths
 * against. */
#ifndef TRL_TEST_JSON_REF_STRING_H
#define TRL_TEST_JSON_REF_STRING_H

#include "core/buf.h"

#include <stddef.h>

/* Length of the valid UTF-8 sequence of 2..4 bytes at p, or 0 (an ASCII byte, a bad or cut
 * sequence): shortest form, no surrogates, at most U+10FFFF. */
static inline size_t ref_utf8_len(const unsigned char *p, size_t left)
{
    unsigned cp;
    size_t n;
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        n = 2, cp = p[0] & 0x1Fu;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF)
        n = 3, cp = p[0] & 0x0Fu;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4)
        n = 4, cp = p[0] & 0x07u;
    else
        return 0;
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    unsigned min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* The quoted JSON string for s. */
static inline void ref_string(struct trl_buf *b, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    trl_buf_putc(b, '"');
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t n = ref_utf8_len(p + i, len - i);
            if (n) {
                trl_buf_append(b, p + i, n);
                i += n;
            } else {
                trl_buf_append(b, "\xEF\xBF\xBD", 3);
                i++;
            }
            continue;
        }
        if (c == '"' || c == '\\')
            trl_buf_printf(b, "\\%c", c);
        else if (c == '\n')
            trl_buf_append(b, "\\n", 2);
        else if (c == '\r')
            trl_buf_append(b, "\\r", 2);
        else if (c == '\t')
            trl_buf_append(b, "\\t", 2);
        else if (c < 0x20)
            trl_buf_printf(b, "\\u%04x", c);
        else
            trl_buf_putc(b, (char)c);
        i++;
    }
    trl_buf_putc(b, '"');
}

#endif

/*
 * query: the search language of `trapline search` (and later the web console), parsed into a tree.
 *
 *   failed password                   bare words: full text, implicit AND, case-insensitive
 *   "failed password for root"        a phrase
 *   user.name:root                    field:value (ECS dotted names; keyword values compare whole,
 *                                     case-insensitively; text fields such as message by words)
 *   process.name:ssh*  url.path:*admin*   wildcards (* = any run of bytes; \* is a literal star)
 *   source.ip:*                       the field exists
 *   source.ip:10.0.0.0/8              an address inside a CIDR block (IPv4 or IPv6)
 *   http.response.status_code>=500    a comparison (>, >=, <, <=): numbers, RFC 3339 times, or
 *                                     else text, lexicographically
 *   destination.port:[1 TO 1023]      an inclusive range (`*` leaves one end open)
 *   user.name:(root OR admin)         a group of values for one field
 *   a AND (b OR c) NOT d              operators are upper case; NOT binds tighter than AND,
 *                                     AND tighter than OR
 *
 * An unquoted '|' ends the search expression and starts a pipeline (`| stats count by host.name`,
 * see pipes.h); an expression that is empty before it matches every event.
 *
 * The parser is pure (no I/O, no globals): every node, string and the query itself live in the
 * query's own arena, released by trl_query_free(). Values and field names are lower-cased at parse
 * time (matching is case-insensitive). Safe from any thread; a parsed query is read-only and may
 * be shared by threads.
 */
#ifndef TRL_STORE_QUERY_H
#define TRL_STORE_QUERY_H

#include "core/arena.h"
#include "store/pipes.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRL_QUERY_MAX_LEN   65536
#define TRL_QUERY_MAX_DEPTH 64

enum trl_qnode_kind {
    TRL_Q_ALL,  /* matches every event (empty query, or a lone `*`) */
    TRL_Q_AND,  /* every child matches */
    TRL_Q_OR,   /* some child matches */
    TRL_Q_NOT,  /* the only child does not match */
    TRL_Q_TERM, /* a word, phrase, wildcard or field test */
};

enum trl_qterm_kind {
    TRL_QT_TEXT,   /* text: whole value (keyword field) or aligned words (text, or any field) */
    TRL_QT_GLOB,   /* text holds a pattern: '*' is a wildcard, '\*' and '\\' are literal */
    TRL_QT_EXISTS, /* field:* */
    TRL_QT_RANGE,  /* field>N, field<=N, field:[a TO b]: see struct trl_qrange */
    TRL_QT_CIDR,   /* field:10.0.0.0/8: see struct trl_qcidr; text keeps it as written */
};

/* Bounds of a range test, lower-cased text; a NULL bound is open. Whether the bounds compare as
 * numbers, times or text is decided when the query is compiled (match.h). */
struct trl_qrange {
    const char *lo, *hi;
    size_t lo_len, hi_len;
    bool lo_incl, hi_incl;
    bool bracketed; /* written field:[lo TO hi] rather than as a comparison */
};

/* An address block over the 128-bit form of addresses: IPv4 is mapped to ::ffff:a.b.c.d, and the
 * prefix length counts those 96 leading bits. */
struct trl_qcidr {
    uint8_t addr[16]; /* bits beyond the prefix are zero */
    unsigned bits;    /* 0..128 */
};

struct trl_qnode {
    enum trl_qnode_kind kind;
    struct trl_qnode *kids; /* AND, OR, NOT: first child; siblings through next */
    struct trl_qnode *next;
    uint32_t nkids;
    /* TRL_Q_TERM */
    enum trl_qterm_kind term;
    const char *field; /* lower-cased dotted name, or NULL for full text */
    size_t field_len;
    const char *text; /* lower-cased, NUL-terminated */
    size_t text_len;
    bool quoted;             /* written as a "phrase" */
    struct trl_qrange range; /* TRL_QT_RANGE */
    struct trl_qcidr cidr;   /* TRL_QT_CIDR */
    uint32_t offset;         /* byte offset of the term in the query text */
};

struct trl_query {
    struct trl_arena *arena;
    struct trl_qnode *root;
    const struct trl_pipeline *pipeline; /* the stages after '|', or NULL */
};

struct trl_query_error {
    size_t offset;   /* byte offset in the query */
    unsigned column; /* 1-based character (UTF-8 code point) column */
    char message[160];
};

/* Parses text[0..len). On success returns 0 and *out (free with trl_query_free); on a syntax error
 * returns TRL_EINVAL and fills err (when not NULL). */
int trl_query_parse(const char *text, size_t len, struct trl_query **out,
                    struct trl_query_error *err);
void trl_query_free(struct trl_query *q);

/* Writes the query back in a canonical form (fully parenthesised, phrases quoted) that parses to
 * the same tree. Returns the length it needed (like snprintf); buf may be NULL when cap is 0. */
size_t trl_query_format(const struct trl_query *q, char *buf, size_t cap);

/* Parses an address block "a.b.c.d/n" or "v6::/n" (the whole of [s, s+len)) into *out. */
bool trl_cidr_parse(const char *s, size_t len, struct trl_qcidr *out);
/* True when the address written in [s, s+len) lies in the block. */
bool trl_cidr_contains(const struct trl_qcidr *c, const char *s, size_t len);

/* Glob match of a pattern (TRL_QT_GLOB syntax) against [s, s+len), ASCII case-insensitive. The
 * pattern is already lower-case. Linear-time in practice (greedy star with one backtrack point). */
bool trl_glob_match(const char *pat, size_t plen, const char *s, size_t len);

#endif

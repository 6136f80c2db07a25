/*
 * query: the search language of `trapline search` (and later the web console), parsed into a tree.
 *
 *   failed password                   bare words: full text, implicit AND, case-insensitive
 *   "failed password for root"        a phrase
 *   user.name:root                    field:value (ECS dotted names; keyword values compare whole,
 *                                     case-insensitively; text fields such as message by words)
 *   process.name:ssh*  url.path:*admin*   wildcards (* = any run of bytes; \* is a literal star)
 *   source.ip:*                       the field exists
 *   user.name:(root OR admin)         a group of values for one field
 *   a AND (b OR c) NOT d              operators are upper case; NOT binds tighter than AND,
 *                                     AND tighter than OR
 *
 * An unquoted '|' starts a pipeline stage (`| stats count by host.name`); this version rejects it
 * with an error at its column, and the tree keeps room for stages.
 *
 * The parser is pure (no I/O, no globals): every node, string and the query itself live in the
 * query's own arena, released by trl_query_free(). Values and field names are lower-cased at parse
 * time (matching is case-insensitive). Safe from any thread; a parsed query is read-only and may
 * be shared by threads.
 */
#ifndef TRL_STORE_QUERY_H
#define TRL_STORE_QUERY_H

#include "core/arena.h"

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
    bool quoted;     /* written as a "phrase" */
    uint32_t offset; /* byte offset of the term in the query text */
};

struct trl_query {
    struct trl_arena *arena;
    struct trl_qnode *root;
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

/* Glob match of a pattern (TRL_QT_GLOB syntax) against [s, s+len), ASCII case-insensitive. The
 * pattern is already lower-case. Linear-time in practice (greedy star with one backtrack point). */
bool trl_glob_match(const char *pat, size_t plen, const char *s, size_t len);

#endif

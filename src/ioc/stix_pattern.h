/*
 * stix_pattern: the STIX 2.1 patterning language, parsed into a tree, and the atomic comparisons
 * Trapline can match one event at a time.
 *
 * trl_stix_pattern_parse() accepts the whole language (observation expressions joined by AND, OR,
 * FOLLOWEDBY; the WITHIN, REPEATS and START/STOP qualifiers; comparison expressions with =, !=, <,
 * <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET, EXISTS and NOT; string, integer, float,
 * boolean, timestamp t'', binary b'' and hex h'' literals; object paths with quoted components and
 * list indexes). A pattern that does not follow the grammar is refused with a message naming the
 * column (1-based, in bytes) where it goes wrong.
 *
 * trl_stix_pattern_extract() then reduces a parsed pattern to indicators: the equality (or IN, or
 * ISSUBSET for networks) comparisons of observables Trapline matches, where any one of them being
 * seen in one event satisfies the pattern. Everything else is explained in a problem string: LIKE
 * and MATCHES (not supported for matching), negations, observables Trapline does not match, and
 * correlated patterns (observations joined by AND or FOLLOWEDBY, REPEATS) that one event can never
 * satisfy.
 *
 * Ownership: a pattern owns an arena holding the tree, the extracted atoms and the problem strings;
 * all of it is released by trl_stix_pattern_free(). Pure code: safe from any thread on distinct
 * patterns.
 */
#ifndef TRL_IOC_STIX_PATTERN_H
#define TRL_IOC_STIX_PATTERN_H

#include "ioc/indicator.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest pattern accepted, in bytes. */
#define TRL_STIX_PATTERN_MAX (64 * 1024)

enum trl_stix_op {
    TRL_STIX_EQ,
    TRL_STIX_NEQ,
    TRL_STIX_LT,
    TRL_STIX_LE,
    TRL_STIX_GT,
    TRL_STIX_GE,
    TRL_STIX_IN,
    TRL_STIX_LIKE,
    TRL_STIX_MATCHES,
    TRL_STIX_ISSUBSET,
    TRL_STIX_ISSUPERSET,
    TRL_STIX_EXISTS,
};

enum trl_stix_value_kind {
    TRL_STIX_V_STRING,
    TRL_STIX_V_INT,
    TRL_STIX_V_FLOAT,
    TRL_STIX_V_BOOL,
    TRL_STIX_V_TIMESTAMP,
    TRL_STIX_V_BINARY, /* text holds the base64 as written */
    TRL_STIX_V_HEX,    /* text holds the hex digits as written */
};

struct trl_stix_value {
    enum trl_stix_value_kind kind;
    const char *text; /* strings unescaped; NUL-terminated */
    size_t len;
    int64_t i; /* INT, BOOL (0/1), TIMESTAMP (ns) */
    double f;  /* FLOAT */
};

struct trl_stix_comparison {
    const char *object_type; /* "ipv4-addr", "file", "x-custom-object" */
    const char *path; /* after ':', quotes removed: "value", "hashes.SHA-256", "refs[*].value" */
    enum trl_stix_op op;
    bool negated;                        /* NOT before the operator */
    const struct trl_stix_value *values; /* one; the set for IN; none for EXISTS */
    size_t nvalues;
    unsigned column; /* of the object path */
};

enum trl_stix_cmp_kind { TRL_STIX_CMP_LEAF, TRL_STIX_CMP_AND, TRL_STIX_CMP_OR };

struct trl_stix_cmp_expr {
    enum trl_stix_cmp_kind kind;
    const struct trl_stix_cmp_expr *left, *right; /* AND / OR */
    const struct trl_stix_comparison *cmp;        /* LEAF */
};

enum trl_stix_qual_kind { TRL_STIX_Q_WITHIN, TRL_STIX_Q_REPEATS, TRL_STIX_Q_START_STOP };

struct trl_stix_qualifier {
    enum trl_stix_qual_kind kind;
    double within_s;
    int64_t repeats;
    int64_t start_ns, stop_ns;
    const struct trl_stix_qualifier *next; /* qualifiers apply in order */
};

enum trl_stix_obs_kind {
    TRL_STIX_OBS, /* one [ ... ] */
    TRL_STIX_OBS_AND,
    TRL_STIX_OBS_OR,
    TRL_STIX_OBS_FOLLOWEDBY,
};

struct trl_stix_obs_expr {
    enum trl_stix_obs_kind kind;
    const struct trl_stix_obs_expr *left, *right; /* AND / OR / FOLLOWEDBY */
    const struct trl_stix_cmp_expr *cmp;          /* OBS */
    const struct trl_stix_qualifier *quals;       /* on this expression, or NULL */
};

/* One indicator Trapline can match per event. */
struct trl_stix_atom {
    enum trl_ioc_type type;
    const char *value;         /* normalised (trl_ioc_normalize) */
    int64_t start_ns, stop_ns; /* from START/STOP qualifiers; 0 when none */
};

struct trl_stix_extract {
    const struct trl_stix_atom *atoms;
    size_t natoms;
    const char *const *problems; /* why parts of the pattern are not matched */
    size_t nproblems;
};

struct trl_stix_pattern;

/* Parses [p, p+len). Returns 0 and *out, or TRL_EINVAL with "column N: reason" in err. */
int trl_stix_pattern_parse(const char *p, size_t len, struct trl_stix_pattern **out, char *err,
                           size_t errlen);
void trl_stix_pattern_free(struct trl_stix_pattern *pat);
/* The root of the tree (valid until trl_stix_pattern_free). */
const struct trl_stix_obs_expr *trl_stix_pattern_root(const struct trl_stix_pattern *pat);

/* Fills *out (valid until trl_stix_pattern_free). Returns 0 when at least one atom came out,
 * TRL_EINVAL when none did (the problems say why). */
int trl_stix_pattern_extract(struct trl_stix_pattern *pat, struct trl_stix_extract *out);

#endif

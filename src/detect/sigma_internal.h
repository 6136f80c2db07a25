/*
 * sigma_internal: the compiled form of Sigma rules shared by the loader, the condition compiler and
 * the evaluator. Everything here is owned by the ruleset (struct trl_sigma_ruleset) and immutable
 * after loading.
 */
#ifndef TRL_SIGMA_INTERNAL_H
#define TRL_SIGMA_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include "detect/sigma.h"
#include "core/buf.h"
#include "detect/sigma_fields.h"

#include <pcre2.h>

enum sigma_op {
    SIGMA_EQ,       /* whole value, with no wildcard */
    SIGMA_PREFIX,   /* value* */
    SIGMA_SUFFIX,   /* *value */
    SIGMA_CONTAINS, /* *value* */
    SIGMA_GLOB,     /* any other use of * and ? */
    SIGMA_RE,
    SIGMA_CIDR,
    SIGMA_LT,
    SIGMA_LTE,
    SIGMA_GT,
    SIGMA_GTE,
    SIGMA_NUM_EQ, /* a number in the rule: numeric compare when the field is numeric too */
    SIGMA_EXISTS,
    SIGMA_NULL, /* field: null — the field is absent or empty */
    SIGMA_FIELDREF,
};

struct sigma_value {
    enum sigma_op op;
    bool cased;
    bool negate;       /* neq */
    char *text;        /* pattern text; lower-cased unless cased */
    size_t len;
    pcre2_code *re;    /* SIGMA_RE, and SIGMA_GLOB compiled to a regex */
    double num;        /* numeric ops */
    int time_part;     /* numeric ops on a date: which part (minute...year), 0 for none */
    bool exists;       /* SIGMA_EXISTS: want present (true) or absent */
    uint8_t cidr_addr[16];
    int cidr_family;   /* 4 or 6 */
    int cidr_bits;
    struct sigma_field_ref ref; /* SIGMA_FIELDREF: the other field */
};

/* One `field|modifiers: values` entry; field.kind == SIGMA_FIELD_KEYWORDS for field-less values. */
struct sigma_test {
    struct sigma_field_ref field;
    bool all; /* |all: every value must match */
    struct sigma_value *values;
    size_t nvalues;
};

/* A conjunction of tests (one map of a search). */
struct sigma_conj {
    struct sigma_test *tests;
    size_t ntests;
};

/* A search identifier: an OR of conjunctions (a list of maps, or one map, or a keyword list). */
struct sigma_search {
    char *name;
    struct sigma_conj *alts;
    size_t nalts;
};

enum sigma_cond_kind { COND_SEARCH, COND_AND, COND_OR, COND_NOT };

struct sigma_cond {
    enum sigma_cond_kind kind;
    size_t search;               /* COND_SEARCH: index into the rule's searches */
    struct sigma_cond **kids;    /* AND / OR: operands; NOT: one */
    size_t nkids;
};

struct sigma_rule {
    char *id;
    char *title;
    char *level;
    char *status;
    char *file;
    int line;
    char **tags;
    size_t ntags;
    struct trl_sigma_logsource logsource;
    struct sigma_search *searches;
    size_t nsearches;
    struct sigma_cond *cond; /* several conditions in the rule are ORed into one */
    bool is_filter_target;   /* reserved for Sigma filters */
};

struct trl_sigma_ruleset {
    struct sigma_rule *rules;
    size_t nrules;
    size_t cap;
};

/* Compiles a condition string against the rule's searches. Returns NULL and writes a message
 * (with the column) into err on failure. */
struct sigma_cond *sigma_cond_compile(const char *text, const struct sigma_search *searches,
                                      size_t nsearches, char *err, size_t errlen);
void sigma_cond_free(struct sigma_cond *c);

/* Compiles the values of one `field|mods` entry. node is the YAML value (scalar or list). */
struct trl_yaml_node;
int sigma_test_compile(struct sigma_test *t, const char *key, const struct trl_yaml_node *node,
                       const struct trl_sigma_logsource *ls, char *err, size_t errlen,
                       bool *unsupported);
void sigma_test_free(struct sigma_test *t);
/* Per-thread working memory for evaluation. */
struct trl_sigma_scratch {
    pcre2_match_data *md;
    char *lower; /* the current field value, lower-cased */
    size_t lower_cap;
};

/* True when the test holds for ev. */
bool sigma_test_eval(const struct sigma_test *t, const struct trl_event *ev,
                     struct trl_sigma_scratch *s);

#endif

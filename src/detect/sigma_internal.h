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

struct trl_yaml_node;

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
    bool negate; /* neq */
    char *text;  /* pattern text; lower-cased unless cased */
    size_t len;
    pcre2_code *re; /* SIGMA_RE, and SIGMA_GLOB compiled to a regex */
    double num;     /* numeric ops */
    int time_part;  /* numeric ops on a date: which part (minute...year), 0 for none */
    bool exists;    /* SIGMA_EXISTS: want present (true) or absent */
    uint8_t cidr_addr[16];
    int cidr_family; /* 4 or 6 */
    int cidr_bits;
    struct sigma_field_ref ref; /* SIGMA_FIELDREF: the other field */
    int32_t lit_id;             /* SIGMA_CONTAINS: id in the literal prefilter, -1 when none */
    char *atom; /* SIGMA_GLOB: the longest fixed part of the pattern (lowered unless cased), for
                   the rule prefilter; NULL when it has none */
    size_t atom_len;
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
    size_t search;            /* COND_SEARCH: index into the rule's searches */
    struct sigma_cond **kids; /* AND / OR: operands; NOT: one */
    size_t nkids;
};

/* Which correlation consumes a rule's (or a correlation's) hits, and as which of its references. */
struct sigma_feed {
    size_t corr;
    size_t slot;
};

struct sigma_rule {
    char *id;
    char *name; /* the optional `name:` correlations refer to */
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
    bool generate;           /* report its own matches (false when only a correlation uses it) */
    struct sigma_feed *feeds;
    size_t nfeeds;
    size_t *filters; /* indexes of the Sigma filters that apply to this rule */
    size_t nfilters;
    char **filter_refs; /* a filter's `rules:` (ids or names), resolved at finalize */
    size_t nfilter_refs;
};

enum sigma_corr_type { CORR_EVENT_COUNT, CORR_VALUE_COUNT, CORR_TEMPORAL, CORR_TEMPORAL_ORDERED };

enum sigma_corr_op { CORR_GT, CORR_GTE, CORR_LT, CORR_LTE, CORR_EQ, CORR_NEQ, CORR__OPS };

struct sigma_corr_ref {
    char *text;   /* id or name as written */
    bool is_corr; /* resolved to a correlation rather than a detection rule */
    size_t index;
};

/* An alias: in events of the rule named `rule`, the group-by name `alias` means field `field`. */
struct sigma_alias {
    char *alias;
    char *rule;
    char *field;
};

struct sigma_corr {
    char *id;
    char *name;
    char *title;
    char *level;
    char *status;
    char *file;
    int line;
    char **tags;
    size_t ntags;
    enum sigma_corr_type type;
    bool generate;
    struct sigma_corr_ref *refs;
    size_t nrefs;
    char **group_names;
    size_t ngroup;
    struct sigma_alias *aliases;
    size_t naliases;
    /* group_refs[g * nrefs + r]: where group-by field g is read in events of reference r. */
    struct sigma_field_ref *group_refs;
    char *value_field;                  /* value_count */
    struct sigma_field_ref *value_refs; /* per reference */
    int64_t timespan_ns;
    bool has_op[CORR__OPS];
    double op_value[CORR__OPS];
    bool has_condition;
    struct sigma_feed *feeds; /* correlations that chain on this one */
    size_t nfeeds;
    bool resolved;
    uint64_t hash; /* of the rule's document, to recognise it unchanged across a reload */
};

/* Rules that share one log source: the log source is checked once per event for all of them. */
struct sigma_ls_group {
    const struct trl_sigma_logsource *logsource; /* the first rule's */
    struct sigma_ls_match match;                 /* logsource, resolved */
    size_t *rules;
    size_t nrules;
};

struct trl_sigma_ruleset {
    struct sigma_ls_group *groups; /* built by finalize */
    size_t ngroups;
    struct sigma_rule *rules;
    size_t nrules;
    size_t cap;
    struct sigma_corr *corrs;
    size_t ncorrs;
    size_t corr_cap;
    struct sigma_rule *filters; /* Sigma filters: a rule matches only when none of its filters do */
    size_t nfilters;
    size_t filter_cap;
    struct hs_database *literals;      /* the contains prefilter, see sigma_literals.h */
    struct sigma_prefilter *prefilter; /* which rules may match, see sigma_prefilter.h */
    uint32_t nliterals;
    bool finalized;
};

/* Calls fn for every value of every test of every rule and filter. */
void sigma_each_value(struct trl_sigma_ruleset *rs, void (*fn)(struct sigma_value *v, void *ud),
                      void *ud);
/* The lowered form of a field value, cached for the event being evaluated. */
struct sigma_lower *sigma_lowered(struct trl_sigma_scratch *s, const char *v, size_t len);

/* Parses a correlation document into rs (unresolved until finalize). Returns 0, or -1 with err. */
int sigma_corr_load(struct trl_sigma_ruleset *rs, const struct trl_yaml_node *doc, const char *file,
                    char *err, size_t errlen);
void sigma_corr_free(struct sigma_corr *c);
void sigma_corr_finalize(struct trl_sigma_ruleset *rs, trl_sigma_report_fn report, void *ud);

struct sigma_corr_state;
struct sigma_corr_state *sigma_corr_state_create(const struct trl_sigma_ruleset *rs);
void sigma_corr_state_destroy(struct sigma_corr_state *st);
/* Moves the windows of every correlation of old_rs whose id and document hash are those of a
 * correlation of rs from old_st into st (which must be empty). Returns how many moved. */
size_t sigma_corr_state_adopt(const struct trl_sigma_ruleset *rs, struct sigma_corr_state *st,
                              const struct trl_sigma_ruleset *old_rs,
                              struct sigma_corr_state *old_st);
/* Feeds a hit of a rule (or correlation) into the correlations listed in feeds. */
/* The rules turned off (indexed like trl_sigma_rule_get_info; NULL: none): correlations that are
 * off are not fed. The array stays the scratch's. */
void sigma_corr_state_set_off(struct sigma_corr_state *st, const bool *off);
/* Feeds a hit of a rule to the correlations that reference it. weight is how many events the hit
 * stands for: 1 for an event a detection rule matched, the count of a correlation that fired (a
 * correlation built on correlations reports every event underneath). */
size_t sigma_corr_feed(const struct trl_sigma_ruleset *rs, struct sigma_corr_state *st,
                       const struct sigma_feed *feeds, size_t nfeeds, const struct trl_event *ev,
                       uint64_t event_id, uint64_t weight,
                       void (*match)(void *ud, const struct trl_sigma_match *m), void *ud);

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
/* A field value lower-cased, cached during the evaluation of one event, with the literals of the
 * prefilter found in it. */
struct sigma_lower {
    const char *src;
    size_t len;
    char *buf;
    size_t cap;
    bool scanned;   /* bits holds this value's literals */
    uint64_t *bits; /* one bit per literal id */
};

struct trl_sigma_scratch {
    const struct trl_sigma_ruleset *rs;
    struct hs_scratch *hs; /* Vectorscan scratch for the ruleset's literal database */
    pcre2_match_data *md;
    struct sigma_corr_state *corr;
    struct sigma_lower lower[8];
    size_t nlower;
    size_t lower_next;
    struct hs_scratch *pf_hs; /* Vectorscan scratch for the rule prefilter's database */
    uint64_t *pf_bits;        /* rules one of whose atoms the current event has */
    size_t pf_words;
    int pf_state;           /* 0: the current event is not scanned yet */
    struct trl_buf pf_text; /* the current event's values, joined for the scan */
    bool *off;              /* rules turned off, by index; NULL while every rule is on */
};

/* True when the test holds for ev. */
bool sigma_test_eval(const struct sigma_test *t, const struct trl_event *ev,
                     struct trl_sigma_scratch *s);

#endif

/* Helpers for the indicator tests: a sink that records what a feed parser produced, and file
 * reading for the shared threat-intelligence samples. */
#ifndef TRL_IOC_TEST_UTIL_H
#define TRL_IOC_TEST_UTIL_H

#include "trl_test.h"

#include "ioc/feed.h"

#define COLLECT_MAX 64

struct collected {
    struct trl_ioc_sink sink;
    size_t n;
    char values[COLLECT_MAX][160]; /* "type value" */
    char ids[COLLECT_MAX][80];
    char tags[COLLECT_MAX][256]; /* tags joined by ',' */
    int confidence[COLLECT_MAX];
    int64_t valid_from[COLLECT_MAX], valid_until[COLLECT_MAX];
    char source[COLLECT_MAX][32];
    char description[COLLECT_MAX][128];
    size_t nproblems;
    char problems[COLLECT_MAX][256]; /* "item N: reason" */
};

static inline int collect_indicator(void *ud, const struct trl_ioc *ioc)
{
    struct collected *c = ud;
    if (c->n >= COLLECT_MAX)
        return 0;
    snprintf(c->values[c->n], sizeof(c->values[0]), "%s %s", trl_ioc_type_name(ioc->type),
             ioc->value);
    snprintf(c->ids[c->n], sizeof(c->ids[0]), "%s", ioc->id ? ioc->id : "");
    c->tags[c->n][0] = '\0';
    for (size_t i = 0; i < ioc->ntags; i++) {
        size_t n = strlen(c->tags[c->n]);
        snprintf(c->tags[c->n] + n, sizeof(c->tags[0]) - n, "%s%s", i ? "," : "", ioc->tags[i]);
    }
    c->confidence[c->n] = ioc->confidence;
    c->valid_from[c->n] = ioc->valid_from_ns;
    c->valid_until[c->n] = ioc->valid_until_ns;
    snprintf(c->source[c->n], sizeof(c->source[0]), "%s", ioc->source);
    snprintf(c->description[c->n], sizeof(c->description[0]), "%s",
             ioc->description ? ioc->description : "");
    c->n++;
    return 0;
}

static inline void collect_problem(void *ud, size_t item, const char *reason, bool skipped)
{
    struct collected *c = ud;
    (void)skipped;
    if (c->nproblems >= COLLECT_MAX)
        return;
    snprintf(c->problems[c->nproblems++], sizeof(c->problems[0]), "item %zu: %s", item, reason);
}

static inline void collected_init(struct collected *c)
{
    memset(c, 0, sizeof(*c));
    c->sink.indicator = collect_indicator;
    c->sink.problem = collect_problem;
    c->sink.ud = c;
}

/* Index of the indicator "type value", or -1. */
static inline int collected_find(const struct collected *c, const char *type_value)
{
    for (size_t i = 0; i < c->n; i++) {
        if (!strcmp(c->values[i], type_value))
            return (int)i;
    }
    return -1;
}

static inline bool collected_has_problem(const struct collected *c, const char *text)
{
    for (size_t i = 0; i < c->nproblems; i++) {
        if (strstr(c->problems[i], text))
            return true;
    }
    return false;
}

#define assert_collected(c, type_value)                                                            \
    do {                                                                                           \
        if (collected_find((c), (type_value)) < 0)                                                 \
            fail_msg("indicator '%s' not produced", (type_value));                                 \
    } while (0)

#define assert_problem(c, text)                                                                    \
    do {                                                                                           \
        if (!collected_has_problem((c), (text))) {                                                 \
            for (size_t i_ = 0; i_ < (c)->nproblems; i_++)                                         \
                print_message("problem: %s\n", (c)->problems[i_]);                                 \
            fail_msg("no problem mentioning '%s'", (text));                                        \
        }                                                                                          \
    } while (0)

/* Reads shared/data/ti/<rel>; skips the test when the shared data is absent. */
static inline char *ioc_read_shared(const char *rel, size_t *len)
{
    const char *shared = trl_test_shared_dir();
    if (!shared) {
        print_message("TRL_SHARED not set: skipping (needs shared/data/ti/%s)\n", rel);
        return NULL;
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/data/ti/%s", shared, rel);
    FILE *f = fopen(path, "rb");
    if (!f) {
        print_message("%s not found: skipping\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* Declares var holding the shared file rel; skips the test when it is absent. */
#define READ_SHARED_OR_SKIP(var, rel, lenp)                                                        \
    char *var = ioc_read_shared((rel), (lenp));                                                    \
    if (!var)                                                                                      \
        skip();

#endif

/* Helpers for Sigma unit tests: load one rule from text and evaluate hand-built events. */
#ifndef TRL_SIGMA_TEST_UTIL_H
#define TRL_SIGMA_TEST_UTIL_H

#include "trl_test.h"

#include "detect/sigma.h"

struct load_report {
    int problems;
    bool unsupported;
    char last[512];
};

static void collect_report(void *ud, const char *file, int line, const char *rule,
                           const char *reason, bool unsupported)
{
    struct load_report *r = ud;
    (void)file;
    (void)rule;
    r->problems++;
    r->unsupported = unsupported;
    snprintf(r->last, sizeof(r->last), "%d: %s", line, reason);
}

/* Loads a rule; fails the test when it does not load. */
static inline struct trl_sigma_ruleset *load_rule(const char *yaml)
{
    struct trl_sigma_ruleset *rs = trl_sigma_ruleset_create();
    struct load_report rep = {0};
    int n = trl_sigma_load_buffer(rs, "test.yml", yaml, strlen(yaml), collect_report, &rep);
    trl_sigma_ruleset_finalize(rs, collect_report, &rep);
    if (n != 1)
        print_error("rule did not load: %s\n", rep.last);
    assert_int_equal(n, 1);
    return rs;
}

/* The reason a rule was rejected ("" when it loaded). */
static inline struct load_report reject_reason(const char *yaml)
{
    struct trl_sigma_ruleset *rs = trl_sigma_ruleset_create();
    struct load_report rep = {0};
    trl_sigma_load_buffer(rs, "test.yml", yaml, strlen(yaml), collect_report, &rep);
    trl_sigma_ruleset_finalize(rs, collect_report, &rep);
    trl_sigma_ruleset_destroy(rs);
    return rep;
}

static inline bool matches(const struct trl_sigma_ruleset *rs, const struct trl_event *ev)
{
    struct trl_sigma_scratch *s = trl_sigma_scratch_create(rs);
    size_t n = trl_sigma_eval(rs, s, ev, 0, NULL, NULL);
    trl_sigma_scratch_destroy(s);
    return n > 0;
}

/* A Sysmon process-creation event with the given EventData pairs (NULL-terminated). */
static inline struct trl_event *sysmon1(struct trl_arena *a, ...)
{
    struct trl_event *ev = trl_event_create(a, "{}", 2, 0);
    trl_event_set_str(ev, TRL_F_WINLOG_EVENT_ID, "1");
    trl_event_set_str(ev, TRL_F_WINLOG_CHANNEL, "Microsoft-Windows-Sysmon/Operational");
    va_list ap;
    va_start(ap, a);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        const char *v = va_arg(ap, const char *);
        char name[128];
        snprintf(name, sizeof(name), "winlog.event_data.%s", k);
        trl_event_set_named(ev, name, strlen(name), v, strlen(v));
    }
    va_end(ap);
    return ev;
}

#define PROC_RULE_HEAD                                                                             \
    "title: t\nid: 00000000-0000-0000-0000-000000000001\nlevel: high\n"                            \
    "logsource:\n  product: windows\n  category: process_creation\ndetection:\n"

#endif

/* Helpers shared by the event store's unit tests: scratch data directories, hand-made events,
 * and collecting search results and verify findings. */
#ifndef TRL_STORE_TESTUTIL_H
#define TRL_STORE_TESTUTIL_H

#include "trl_test.h"

#include "core/timeutil.h"
#include "store/query.h"
#include "store/store.h"
#include "store/store_read.h"
#include "store/verify.h"

#include <ftw.h>
#include <stdarg.h>
#include <unistd.h>

#define DAY_NS (86400LL * TRL_NS_PER_SEC)
/* 2026-11-27T00:00:00Z */
#define D0 (20784LL * DAY_NS)

static inline char *tu_mkdtemp(void)
{
    char tmpl[] = "/tmp/trl-store-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static int tu_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void tu_rmrf(char *dir)
{
    nftw(dir, tu_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* An event with @timestamp ts, event.original and message = the formatted text, and optional
 * user.name / host.name. */
__attribute__((format(printf, 5, 6))) static inline struct trl_event *
tu_event(struct trl_arena *a, int64_t ts, const char *user, const char *host, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    struct trl_event *ev = trl_event_create(a, text, strlen(text), ts + 1000);
    ev->timestamp_ns = ts;
    trl_event_set_str(ev, TRL_F_MESSAGE, text);
    if (user)
        trl_event_set_str(ev, TRL_F_USER_NAME, user);
    if (host)
        trl_event_set_str(ev, TRL_F_HOST_NAME, host);
    return ev;
}

struct tu_results {
    char **json;
    int64_t *ts;
    size_t n;
    struct trl_store_search_stats st;
};

static int tu_collect(void *ud, int64_t ts, const char *json, size_t len)
{
    struct tu_results *r = ud;
    r->json = realloc(r->json, (r->n + 1) * sizeof(*r->json));
    r->ts = realloc(r->ts, (r->n + 1) * sizeof(*r->ts));
    r->json[r->n] = strndup(json, len);
    r->ts[r->n] = ts;
    r->n++;
    return 0;
}

static inline void tu_results_free(struct tu_results *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->json[i]);
    free(r->json);
    free(r->ts);
    memset(r, 0, sizeof(*r));
}

/* Runs a search over [from, to) on that many threads and returns the results (caller frees with
 * tu_results_free); again: runs it twice on the same reader (whose helper threads' readers are
 * then reused) and checks that the second run returns the same. */
static inline struct tu_results tu_search_on(const char *dir, const char *query, int64_t from,
                                             int64_t to, size_t limit, unsigned threads, bool again)
{
    struct tu_results r = {0};
    struct trl_store_reader *rd;
    assert_int_equal(trl_store_reader_open(dir, &rd), 0);
    trl_store_reader_set_threads(rd, threads);
    struct trl_query *q;
    struct trl_query_error e;
    if (trl_query_parse(query, strlen(query), &q, &e) != 0)
        fail_msg("query '%s': %s", query, e.message);
    struct trl_store_search_opts o = {from, to, limit};
    assert_int_equal(trl_store_search(rd, q, &o, tu_collect, &r, &r.st), 0);
    if (again) {
        struct tu_results r2 = {0};
        assert_int_equal(trl_store_search(rd, q, &o, tu_collect, &r2, &r2.st), 0);
        assert_int_equal(r2.n, r.n);
        for (size_t i = 0; i < r.n; i++)
            assert_string_equal(r2.json[i], r.json[i]);
        tu_results_free(&r2);
    }
    trl_query_free(q);
    trl_store_reader_close(rd);
    return r;
}

/* tu_search_on() on the calling thread alone, once. */
static inline struct tu_results tu_search(const char *dir, const char *query, int64_t from,
                                          int64_t to, size_t limit)
{
    return tu_search_on(dir, query, from, to, limit, 1, false);
}

struct tu_findings {
    char text[4096];
    uint32_t n;
    struct trl_verify_summary sum;
};

static void tu_on_report(void *ud, const struct trl_verify_report *r)
{
    struct tu_findings *f = ud;
    if (!trl_verify_is_finding(r->what))
        return;
    char line[700];
    snprintf(line, sizeof(line), "%s #%llu %d %s\n", r->scope ? r->scope : "-",
             (unsigned long long)r->block, (int)r->what, r->text);
    strncat(f->text, line, sizeof(f->text) - strlen(f->text) - 1);
    f->n++;
}

static inline struct tu_findings tu_verify(const char *dir, const char *pubkey)
{
    struct tu_findings f = {0};
    struct trl_verify_opts o = {pubkey};
    assert_int_equal(trl_store_verify(dir, &o, tu_on_report, &f, &f.sum), 0);
    assert_int_equal(f.n, f.sum.findings);
    return f;
}

#define assert_no_findings(dir)                                                                    \
    do {                                                                                           \
        struct tu_findings f_ = tu_verify((dir), NULL);                                            \
        if (f_.n)                                                                                  \
            fail_msg("unexpected findings:\n%s", f_.text);                                         \
    } while (0)

#endif

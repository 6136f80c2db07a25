/*
 * Fuzzes the search language: any input must parse or fail with an error inside the input; a
 * parsed query's canonical form must parse to the same canonical form; the compiled plan must
 * evaluate against an event without crashing, and its pre-check must never reject a match; a
 * pipeline must run over a few events and produce only rows that are JSON objects.
 */
#include "store/match.h"
#include "store/pipes.h"
#include "store/query.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char EVENT[] =
    "{\"@timestamp\":\"2024-07-09T22:40:03Z\",\"event\":{\"action\":\"ssh-login-failed\","
    "\"category\":[\"authentication\"],\"original\":\"Failed password for invalid user admin "
    "from 203.0.113.45 port 51120 ssh2\"},\"host\":{\"name\":\"web01\"},\"message\":\"Failed "
    "password for invalid user admin from 203.0.113.45\",\"source\":{\"ip\":\"203.0.113.45\"},"
    "\"url\":{\"path\":\"/wp-admin/x.php\"},\"user\":{\"name\":\"admin\"}}";

static int check_row(void *ud, int64_t ts, const char *json, size_t len)
{
    (void)ts;
    (void)ud;
    if (len < 2 || json[0] != '{' || json[len - 1] != '}')
        abort();
    return 0;
}

static void run_pipeline(const struct trl_pipeline *pl)
{
    struct trl_pipe_run *r = trl_pipe_run_create(pl, 2, check_row, NULL);
    for (int64_t i = 0; i < 3; i++) {
        if (trl_pipe_run_push(r, i * 1800000000000LL - 1, EVENT, sizeof(EVENT) - 1) != 0)
            break;
    }
    (void)trl_pipe_run_finish(r);
    trl_pipe_run_destroy(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trl_query *q = NULL;
    struct trl_query_error err;
    if (trl_query_parse((const char *)data, size, &q, &err) != 0) {
        if (err.offset > size)
            abort();
        return 0;
    }
    size_t need = trl_query_format(q, NULL, 0);
    char *a = malloc(need + 1);
    trl_query_format(q, a, need + 1);
    struct trl_query *q2 = NULL;
    if (trl_query_parse(a, need, &q2, &err) != 0)
        abort(); /* the canonical form must parse */
    size_t need2 = trl_query_format(q2, NULL, 0);
    char *b = malloc(need2 + 1);
    trl_query_format(q2, b, need2 + 1);
    if (need != need2 || memcmp(a, b, need) != 0)
        abort(); /* and be a fixed point */
    struct trl_match *m = trl_match_compile(q);
    struct trl_match_ctx c;
    trl_match_ctx_init(&c);
    bool exact = trl_match_event(m, &c, NULL, 0, EVENT, sizeof(EVENT) - 1);
    bool maybe = trl_match_event_maybe(m, &c, EVENT, sizeof(EVENT) - 1);
    if (exact && !maybe)
        abort();
    if (q->pipeline)
        run_pipeline(q->pipeline);
    trl_match_ctx_free(&c);
    trl_match_free(m);
    free(a);
    free(b);
    trl_query_free(q2);
    trl_query_free(q);
    return 0;
}

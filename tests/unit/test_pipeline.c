/* The pipeline's threads: parse threads working side by side must still hand batches to the
 * stage and the sink in submission order, with unique increasing event ids, the sink's prepare()
 * run once per batch before its write(), audit records assembled across batches, and JSON that
 * matches each event after the enrich hook changed it. */
#include "trl_test.h"

#include "formats/json_encode.h"
#include "server/pipeline.h"

#include <pthread.h>
#include <time.h>

#define BATCHES   120
#define PER_BATCH 50

struct recorder {
    struct trl_sink base; /* first member */
    pthread_mutex_t mu;
    int contexts_made, contexts_freed;
    int prepared;
    int staged_batches;
    long last_staged_seq; /* the stage sees events in order too */
    long next_seq;        /* the sequence number the next stored event must carry */
    long events;
    uint64_t last_id;
    bool order_ok, ids_ok, json_ok, prepared_first, stage_first;
    bool enriching; /* the enrich hook labels every seventh event */
    int audit_events;
    char *audit_args;
    struct trl_buf enc;
};

/* "seq=N" in the message, or -1 */
static long seq_of(const struct trl_event *ev)
{
    size_t len = 0;
    const char *m = trl_event_get(ev, TRL_F_MESSAGE, &len);
    const char *p = m ? memmem(m, len, "seq=", 4) : NULL;
    return p ? strtol(p + 4, NULL, 10) : -1;
}

static void *ctx_create(struct trl_sink *s)
{
    struct recorder *r = (struct recorder *)s;
    pthread_mutex_lock(&r->mu);
    r->contexts_made++;
    pthread_mutex_unlock(&r->mu);
    return trl_xcalloc(1, sizeof(int));
}

static void ctx_destroy(struct trl_sink *s, void *ctx)
{
    struct recorder *r = (struct recorder *)s;
    pthread_mutex_lock(&r->mu);
    r->contexts_freed++;
    pthread_mutex_unlock(&r->mu);
    free(ctx);
}

static void rec_prepare(struct trl_sink *s, void *ctx, struct trl_batch *b)
{
    struct recorder *r = (struct recorder *)s;
    (*(int *)ctx)++;
    b->sink_data = trl_arena_alloc(b->arena, sizeof(uint32_t));
    *(uint32_t *)b->sink_data = b->nevents;
    pthread_mutex_lock(&r->mu);
    r->prepared++;
    pthread_mutex_unlock(&r->mu);
}

static int stage(void *ud, struct trl_batch *b)
{
    struct recorder *r = ud;
    r->staged_batches++;
    for (uint32_t i = 0; i < b->nevents; i++) {
        long seq = b->events[i] ? seq_of(b->events[i]) : -1;
        if (seq < 0)
            continue;
        if (seq <= r->last_staged_seq)
            r->stage_first = false;
        r->last_staged_seq = seq;
    }
    /* The stage runs before the sink takes the batch. */
    if (b->sink_data == NULL)
        r->prepared_first = false;
    return 0;
}

static void enrich(void *ud, struct trl_batch *b)
{
    (void)ud;
    for (uint32_t i = 0; i < b->nevents; i++) {
        if (b->events[i] && seq_of(b->events[i]) % 7 == 3)
            trl_event_set_named(b->events[i], "labels.enriched", 15, "yes", 3);
    }
}

static int rec_write(struct trl_sink *s, struct trl_batch *b)
{
    struct recorder *r = (struct recorder *)s;
    if (!b->sink_data || *(uint32_t *)b->sink_data != b->nevents)
        r->prepared_first = false;
    if (b->json_count != b->nevents)
        r->json_ok = false;
    for (uint32_t i = 0; i < b->nevents; i++) {
        const struct trl_event *ev = b->events[i];
        size_t jlen = 0;
        const char *j = trl_batch_json(b, i, &jlen);
        if (!ev) {
            if (jlen != 0)
                r->json_ok = false;
            continue;
        }
        trl_buf_reset(&r->enc);
        trl_json_encode_event(ev, &r->enc);
        trl_buf_putc(&r->enc, '\n');
        if (!j || jlen != r->enc.len || memcmp(j, r->enc.data, jlen) != 0)
            r->json_ok = false;
        size_t idlen = 0;
        const char *id = trl_event_get(ev, TRL_F_EVENT_ID, &idlen);
        uint64_t idv = id && idlen == 16 ? strtoull(id, NULL, 16) : 0;
        if (idv <= r->last_id)
            r->ids_ok = false;
        r->last_id = idv;
        r->events++;
        long seq = seq_of(ev);
        if (seq >= 0) {
            if (seq != r->next_seq)
                r->order_ok = false;
            r->next_seq = seq + 1;
            if (r->enriching && seq % 7 == 3 &&
                !trl_event_get_named(ev, "labels.enriched", 15, &idlen))
                r->json_ok = false;
            continue;
        }
        size_t alen = 0;
        const char *args = trl_event_get(ev, TRL_F_PROCESS_COMMAND_LINE, &alen);
        if (args) {
            r->audit_events++;
            free(r->audit_args);
            r->audit_args = trl_xstrndup(args, alen);
        }
    }
    return 0;
}

static void rec_destroy(struct trl_sink *s)
{
    (void)s;
}

static void recorder_init(struct recorder *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    r->base = (struct trl_sink){.write = rec_write,
                                .prepare = rec_prepare,
                                .thread_ctx_create = ctx_create,
                                .thread_ctx_destroy = ctx_destroy,
                                .destroy = rec_destroy};
    r->last_staged_seq = -1;
    r->order_ok = r->ids_ok = r->json_ok = r->prepared_first = r->stage_first = true;
}

static void recorder_free(struct recorder *r)
{
    free(r->audit_args);
    trl_buf_free(&r->enc);
    pthread_mutex_destroy(&r->mu);
}

static void submit_numbered(struct trl_pipeline *p, long *seq, int64_t now)
{
    struct trl_batch *b = trl_pipeline_batch_get(p);
    for (int i = 0; i < PER_BATCH; i++) {
        char line[160];
        int n = snprintf(line, sizeof(line),
                         "<86>Nov 27 21:03:46 web01 sshd[44]: Accepted publickey for bob from "
                         "10.0.0.%ld port 22 ssh2 seq=%ld",
                         *seq % 250, *seq);
        (*seq)++;
        /* The clock stands still: ids must still be unique and increasing. */
        trl_batch_add(b, line, (size_t)n, "127.0.0.1:5000", now, 0);
    }
    trl_pipeline_submit(p, b);
}

static void test_pipeline_keeps_order_across_parse_threads(void **state)
{
    (void)state;
    struct recorder r;
    recorder_init(&r);
    r.enriching = true;
    struct trl_pipeline_config pc = {.encode_json = true,
                                     .parse_threads = 4,
                                     .queue_batches = 8,
                                     .sink = &r.base,
                                     .stage = stage,
                                     .stage_ud = &r,
                                     .enrich = enrich};
    struct trl_pipeline *p = trl_pipeline_create(&pc);
    assert_non_null(p);
    long seq = 0;
    int64_t now = trl_now_ns();
    for (int i = 0; i < BATCHES; i++)
        submit_numbered(p, &seq, now);
    trl_pipeline_sync(p);
    struct trl_pipeline_stats st;
    trl_pipeline_get_stats(p, &st);
    assert_int_equal(st.events, BATCHES * PER_BATCH);
    assert_int_equal(st.batches, BATCHES);
    trl_pipeline_destroy(p);

    assert_int_equal(r.events, BATCHES * PER_BATCH);
    assert_int_equal(r.next_seq, BATCHES * PER_BATCH);
    assert_true(r.order_ok);
    assert_true(r.stage_first);
    assert_true(r.ids_ok);
    assert_true(r.json_ok);
    assert_true(r.prepared_first);
    assert_int_equal(r.prepared, BATCHES);
    assert_int_equal(r.staged_batches, BATCHES);
    /* One context per parse thread, all freed. */
    assert_int_equal(r.contexts_made, 4);
    assert_int_equal(r.contexts_freed, 4);
    recorder_free(&r);
}

static void submit_lines(struct trl_pipeline *p, const char *const *lines, size_t n)
{
    struct trl_batch *b = trl_pipeline_batch_get(p);
    for (size_t i = 0; i < n; i++)
        trl_batch_add(b, lines[i], strlen(lines[i]), NULL, trl_now_ns(), 0);
    trl_pipeline_submit(p, b);
}

static void test_pipeline_assembles_audit_records_split_across_batches(void **state)
{
    (void)state;
    struct recorder r;
    recorder_init(&r);
    struct trl_pipeline_config pc = {.encode_json = true, .parse_threads = 3, .sink = &r.base};
    struct trl_pipeline *p = trl_pipeline_create(&pc);
    assert_non_null(p);
    static const char *const first[] = {
        "type=SYSCALL msg=audit(1700000000.000:77): arch=c000003e syscall=59 success=yes "
        "exit=0 pid=4242 ppid=1 uid=0 comm=\"cat\" exe=\"/usr/bin/cat\"",
    };
    static const char *const second[] = {
        "type=EXECVE msg=audit(1700000000.000:77): argc=2 a0=\"cat\" a1=\"/etc/shadow\"",
        "type=EOE msg=audit(1700000000.000:77): ",
    };
    long seq = 0;
    submit_lines(p, first, 1);
    submit_numbered(p, &seq, trl_now_ns());
    submit_lines(p, second, 2);
    trl_pipeline_sync(p);
    trl_pipeline_destroy(p);
    /* The three records make one event, whose JSON was encoded after assembly. */
    assert_int_equal(r.audit_events, 1);
    assert_string_equal(r.audit_args, "cat /etc/shadow");
    assert_true(r.json_ok);
    assert_true(r.order_ok);
    assert_int_equal(r.next_seq, PER_BATCH);
    recorder_free(&r);
}

static void test_pipeline_emits_unfinished_audit_event_on_destroy(void **state)
{
    (void)state;
    struct recorder r;
    recorder_init(&r);
    struct trl_pipeline_config pc = {.encode_json = true, .parse_threads = 2, .sink = &r.base};
    struct trl_pipeline *p = trl_pipeline_create(&pc);
    assert_non_null(p);
    static const char *const lines[] = {
        "type=SYSCALL msg=audit(1700000001.000:78): arch=c000003e syscall=59 success=yes "
        "exit=0 pid=4243 ppid=1 uid=0 comm=\"id\" exe=\"/usr/bin/id\"",
        "type=EXECVE msg=audit(1700000001.000:78): argc=1 a0=\"id\"",
    };
    submit_lines(p, lines, 2);
    /* No EOE ever comes: stopping must still store the event. */
    trl_pipeline_destroy(p);
    assert_int_equal(r.audit_events, 1);
    assert_string_equal(r.audit_args, "id");
    assert_true(r.json_ok);
    recorder_free(&r);
}

/* Peers as receivers pass them: in runs, switching back and forth, sometimes none. */
static const char *peer_of_seq(long seq)
{
    static const char *const peers[] = {"10.0.0.1:514", "10.0.0.2:514", NULL, "[::1]:6514"};
    return peers[(seq / 3) % 4];
}

struct peer_check {
    struct trl_sink base; /* first member */
    long events;
    bool ok;
};

static int peer_write(struct trl_sink *s, struct trl_batch *b)
{
    struct peer_check *c = (struct peer_check *)s;
    for (uint32_t i = 0; i < b->nevents; i++) {
        const struct trl_event *ev = b->events[i];
        long seq = seq_of(ev);
        const char *want = peer_of_seq(seq);
        size_t len = 0;
        const char *got = trl_event_get(ev, TRL_F_LOG_SOURCE_ADDRESS, &len);
        if (seq != c->events ||
            (want ? !got || len != strlen(want) || memcmp(got, want, len) : got != NULL))
            c->ok = false;
        /* The message bytes stay whole and NUL-terminated until the sink is done. */
        if (!ev->original || strlen(ev->original) != ev->original_len ||
            !strstr(ev->original, "seq="))
            c->ok = false;
        c->events++;
    }
    return 0;
}

/* Batches are recycled and their memory reused many times over while receivers keep filling new
 * ones: every event must still carry its own message and the peer it came from. */
static void test_pipeline_each_message_keeps_its_peer_across_reused_batches(void **state)
{
    (void)state;
    struct peer_check c = {.base = {.write = peer_write, .destroy = rec_destroy}, .ok = true};
    struct trl_pipeline_config pc = {
        .encode_json = true, .parse_threads = 2, .queue_batches = 4, .sink = &c.base};
    struct trl_pipeline *p = trl_pipeline_create(&pc);
    assert_non_null(p);
    long seq = 0;
    for (int batch = 0; batch < 200; batch++) {
        struct trl_batch *b = trl_pipeline_batch_get(p);
        /* Batches of 1 to 97 messages of growing and shrinking length. */
        for (int i = 0; i < 1 + batch * 37 % 97; i++, seq++) {
            char line[600];
            int pad = (int)(seq * 13 % 500);
            int n = snprintf(line, sizeof(line), "<13>Nov 27 21:03:46 web01 app: %*s seq=%ld", pad,
                             "", seq);
            memset(line + 31, 'x', (size_t)pad);
            trl_batch_add(b, line, (size_t)n, peer_of_seq(seq), trl_now_ns(), 0);
        }
        trl_pipeline_submit(p, b);
    }
    trl_pipeline_destroy(p);
    assert_int_equal(c.events, seq);
    assert_true(c.ok);
}

/* Keeps the event.id of every event it is given. */
struct id_sink {
    struct trl_sink base; /* first member */
    char ids[8][17];
    int n;
};

static int id_write(struct trl_sink *s, struct trl_batch *b)
{
    struct id_sink *k = (struct id_sink *)s;
    for (uint32_t i = 0; i < b->nevents && k->n < 8; i++) {
        size_t len = 0;
        const char *id = trl_event_get(b->events[i], TRL_F_EVENT_ID, &len);
        snprintf(k->ids[k->n++], sizeof(k->ids[0]), "%.*s", (int)len, id ? id : "");
    }
    return 0;
}

/* event.id is the receive time in nanoseconds as 16 lower-case hex digits, one past the previous
 * id when the clock stood still or stepped back. */
static void test_pipeline_event_id_is_receive_time_in_hex(void **state)
{
    (void)state;
    struct id_sink k = {.base = {.write = id_write, .destroy = rec_destroy}};
    struct trl_pipeline_config pc = {.encode_json = true, .parse_threads = 2, .sink = &k.base};
    struct trl_pipeline *p = trl_pipeline_create(&pc);
    assert_non_null(p);
    static const int64_t received[] = {
        0x0123456789abcdefLL, 0x0123456789abcdefLL, 0x0123456789abcdeeLL,
        0x1fa0b9c8d7e6f50aLL, 0x7fffffffffffffffLL,
    };
    struct trl_batch *b = trl_pipeline_batch_get(p);
    for (size_t i = 0; i < TRL_ARRAY_LEN(received); i++)
        trl_batch_add(b, "<13>1 - - - - - - hello", strlen("<13>1 - - - - - - hello"), NULL,
                      received[i], 0);
    trl_pipeline_submit(p, b);
    trl_pipeline_destroy(p);
    assert_int_equal(k.n, 5);
    assert_string_equal(k.ids[0], "0123456789abcdef");
    assert_string_equal(k.ids[1], "0123456789abcdf0");
    assert_string_equal(k.ids[2], "0123456789abcdf1");
    assert_string_equal(k.ids[3], "1fa0b9c8d7e6f50a");
    assert_string_equal(k.ids[4], "7fffffffffffffff");
}

/* A sink slower than parsing; counts the distinct arenas (work areas) its batches come in. */
struct slow_sink {
    struct trl_sink base; /* first member */
    const struct trl_arena *arenas[BATCHES];
    int narenas;
    long next_seq;
    bool order_ok;
};

static int slow_write(struct trl_sink *s, struct trl_batch *b)
{
    struct slow_sink *k = (struct slow_sink *)s;
    int i = 0;
    while (i < k->narenas && k->arenas[i] != b->arena)
        i++;
    if (i == k->narenas && k->narenas < BATCHES)
        k->arenas[k->narenas++] = b->arena;
    for (uint32_t e = 0; e < b->nevents; e++) {
        if (seq_of(b->events[e]) != k->next_seq++)
            k->order_ok = false;
    }
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
    return 0;
}

/* Parse threads do not run ahead of a slow sink by more than a few batches, each holding a work
 * area of its own: with two parse threads, batches come in at most six areas, reused in turn. */
static void test_pipeline_parsing_stays_few_batches_ahead_of_a_slow_sink(void **state)
{
    (void)state;
    struct slow_sink k = {.base = {.write = slow_write, .destroy = rec_destroy}, .order_ok = true};
    struct trl_pipeline_config pc = {
        .encode_json = true, .parse_threads = 2, .queue_batches = BATCHES, .sink = &k.base};
    struct trl_pipeline *p = trl_pipeline_create(&pc);
    assert_non_null(p);
    long seq = 0;
    for (int i = 0; i < BATCHES; i++)
        submit_numbered(p, &seq, trl_now_ns());
    trl_pipeline_destroy(p);
    assert_true(k.order_ok);
    assert_int_equal(k.next_seq, BATCHES * PER_BATCH);
    assert_true(k.narenas >= 1 && k.narenas <= 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_keeps_order_across_parse_threads),
        cmocka_unit_test(test_pipeline_assembles_audit_records_split_across_batches),
        cmocka_unit_test(test_pipeline_emits_unfinished_audit_event_on_destroy),
        cmocka_unit_test(test_pipeline_each_message_keeps_its_peer_across_reused_batches),
        cmocka_unit_test(test_pipeline_event_id_is_receive_time_in_hex),
        cmocka_unit_test(test_pipeline_parsing_stays_few_batches_ahead_of_a_slow_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Alert outputs: webhook signature, syslog and CEF formatting, the disk-backed queue (enqueue in
 * the alert store's transaction, delivery, retry, survival across reopen) and the exec output. */
#include "trl_test.h"

#include "detect/alerts.h"
#include "detect/outputs.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>

/* ---- webhook signature ---- */

/* RFC 4231, test case 2. */
static void test_webhook_signature_is_hmac_sha256_hex(void **state)
{
    (void)state;
    char sig[TRL_SIGNATURE_MAX];
    const char *body = "what do ya want for nothing?";
    trl_webhook_signature("Jefe", body, strlen(body), sig);
    assert_string_equal(sig,
                        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_webhook_signature_changes_with_body(void **state)
{
    (void)state;
    char a[TRL_SIGNATURE_MAX], b[TRL_SIGNATURE_MAX];
    trl_webhook_signature("k", "{\"id\":1}", 8, a);
    trl_webhook_signature("k", "{\"id\":2}", 8, b);
    assert_string_not_equal(a, b);
    assert_int_equal(strlen(a), 7 + 64);
}

/* ---- syslog formatting ---- */

static const char *alert_json =
    "{\"id\":7,\"rule_id\":\"b8246bfe\",\"title\":\"SSH Brute Force | "
    "From=One\",\"level\":\"high\","
    "\"tags\":[\"attack.t1110\"],\"correlation\":\"event_count\","
    "\"group_by\":{\"source.ip\":\"203.0.113.45\"},\"host\":\"web01\",\"event_ids\":[\"00ab\"],"
    "\"first_seen\":\"2026-11-27T10:00:04.000Z\",\"last_seen\":\"2026-11-27T10:00:05.000Z\","
    "\"count\":2,\"status\":\"new\"}";

/* 2026-11-27T10:00:06.123456Z */
#define NOW_NS (1795773606LL * 1000000000LL + 123456789LL)

static void format(struct trl_buf *out, enum trl_syslog_format fmt, const char *hostname)
{
    struct trl_outbox_item it = {
        .id = 1, .alert_id = 7, .body = alert_json, .len = strlen(alert_json)};
    it.alert = json_loads(alert_json, 0, NULL);
    assert_non_null(it.alert);
    trl_syslog_format_alert(out, &it, fmt, hostname, NOW_NS);
    trl_buf_putc(out, '\0');
    json_decref(it.alert);
}

static void test_syslog_rfc5424_carries_the_alert_json(void **state)
{
    (void)state;
    struct trl_buf b = {0};
    format(&b, TRL_SYSLOG_RFC5424, "siem01");
    char want[2048];
    /* Facility 4 (auth) * 8 + severity 3 (err) for a high alert. */
    snprintf(want, sizeof(want),
             "<35>1 2026-11-27T10:00:06.123456Z siem01 trapline %ld alert [trapline@32473 "
             "id=\"7\" level=\"high\" rule=\"b8246bfe\" count=\"2\"] %s",
             (long)getpid(), alert_json);
    assert_string_equal(b.data, want);
    trl_buf_free(&b);
}

static void test_syslog_rfc5424_hostname_with_space_is_replaced(void **state)
{
    (void)state;
    struct trl_buf b = {0};
    format(&b, TRL_SYSLOG_RFC5424, "bad host");
    assert_non_null(strstr(b.data, "Z bad_host trapline "));
    trl_buf_free(&b);
}

static void test_syslog_cef_escapes_header_and_extension(void **state)
{
    (void)state;
    struct trl_buf b = {0};
    format(&b, TRL_SYSLOG_CEF, "siem01");
    const char *cef = strstr(b.data, "] CEF:0|");
    assert_non_null(cef);
    assert_string_equal(cef + 2,
                        "CEF:0|Trapline|Trapline|" TRL_VERSION "|b8246bfe|SSH Brute Force \\| "
                        "From=One|8|externalId=7 cnt=2 start=1795773604000 end=1795773605000 "
                        "dhost=web01 src=203.0.113.45 cat=event_count cs1Label=tags "
                        "cs1=attack.t1110 cs2Label=group_by cs2={\"source.ip\":\"203.0.113.45\"} "
                        "msg=SSH Brute Force | From\\=One");
    trl_buf_free(&b);
}

/* ---- the queue ---- */

struct fake_output {
    struct trl_output base;
    int fail_next;   /* how many more deliveries fail */
    int delivered;   /* alerts accepted */
    int attempts;    /* deliver calls */
    char last[1024]; /* body of the last accepted alert */
};

static int fake_deliver(struct trl_output *o, const struct trl_outbox_item *it, char *err,
                        size_t errlen)
{
    struct fake_output *f = (struct fake_output *)o;
    f->attempts++;
    if (f->fail_next > 0) {
        f->fail_next--;
        snprintf(err, errlen, "receiver down");
        return TRL_EINVAL;
    }
    f->delivered++;
    snprintf(f->last, sizeof(f->last), "%.*s", (int)it->len, it->body);
    return 0;
}

static void fake_destroy(struct trl_output *o)
{
    (void)o; /* owned by the test */
}

struct fixture {
    char dir[64];
    struct fake_output a, b;
    struct trl_outputs_config cfg;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/trl-outputs-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->a = (struct fake_output){
        .base = {.name = "a", .deliver = fake_deliver, .destroy = fake_destroy}};
    f->b = (struct fake_output){
        .base = {.name = "b", .deliver = fake_deliver, .destroy = fake_destroy}};
    f->cfg = (struct trl_outputs_config){
        .data_dir = f->dir, .backoff_initial_ms = 1, .backoff_max_ms = 4};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char path[128];
    const char *files[] = {"alerts.db", "alerts.db-wal", "alerts.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", f->dir, files[i]);
        unlink(path);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static void add_alert(struct trl_alert_store *s, const char *level, const char *src)
{
    const char *tags[] = {"attack.t1110"};
    const char *gf[] = {"source.ip"};
    const char *gv[] = {src};
    const char *ids[] = {"00000000000000ab"};
    struct trl_alert a = {
        .rule_id = "b8246bfe",
        .title = "SSH Brute Force From One Source",
        .level = level,
        .tags = tags,
        .ntags = 1,
        .correlation = "event_count",
        .group_fields = gf,
        .group_values = gv,
        .ngroup = 1,
        .event_ids = ids,
        .nevents = 1,
        .host = "web01",
        .timestamp_ns = 1795773604LL * 1000000000LL,
    };
    assert_int_equal(trl_alert_store_add(s, &a), 0);
}

static long outbox_rows(const char *dir)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/alerts.db", dir);
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM alert_outbox", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long n = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static struct trl_outputs *open_outputs(struct fixture *f, bool both)
{
    struct trl_output *outs[] = {&f->a.base, &f->b.base};
    struct trl_outputs *o = trl_outputs_create_with(&f->cfg, outs, both ? 2 : 1, false);
    assert_non_null(o);
    return o;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_queue_new_and_folded_alerts_are_delivered_as_json(void **state)
{
    struct fixture *f = *state;
    struct trl_alert_store *s = trl_alert_store_open(f->dir, 3600LL * 1000000000LL, false);
    assert_non_null(s);
    assert_int_equal(trl_alert_store_set_outbox(s, 0), 0);
    struct trl_outputs *o = open_outputs(f, false);
    add_alert(s, "medium", "203.0.113.45");
    add_alert(s, "medium", "203.0.113.45"); /* folds: count 2, queued again */
    assert_int_equal(trl_alert_store_commit(s), 0);
    assert_int_equal(outbox_rows(f->dir), 2);
    assert_int_equal(trl_outputs_pump(o), -1);
    assert_int_equal(f->a.delivered, 2);
    json_t *j = json_loads(f->a.last, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 2);
    assert_string_equal(json_string_value(json_object_get(j, "level")), "medium");
    assert_string_equal(json_string_value(json_object_get(j, "first_seen")),
                        "2026-11-27T10:00:04.000Z");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "group_by"), "source.ip")),
        "203.0.113.45");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "tags"), 0)),
                        "attack.t1110");
    json_decref(j);
    assert_int_equal(outbox_rows(f->dir), 0);
    trl_outputs_destroy(o);
    trl_alert_store_close(s);
}

static void test_queue_skips_alerts_below_min_level(void **state)
{
    struct fixture *f = *state;
    struct trl_alert_store *s = trl_alert_store_open(f->dir, 0, false);
    assert_non_null(s);
    assert_int_equal(trl_alert_store_set_outbox(s, trl_alert_level_rank("high")), 0);
    add_alert(s, "medium", "203.0.113.45");
    add_alert(s, "critical", "203.0.113.46");
    assert_int_equal(trl_alert_store_commit(s), 0);
    assert_int_equal(outbox_rows(f->dir), 1);
    trl_alert_store_close(s);
}

static void test_queue_retries_a_failing_output_without_holding_up_others(void **state)
{
    struct fixture *f = *state;
    struct trl_alert_store *s = trl_alert_store_open(f->dir, 0, false);
    assert_non_null(s);
    assert_int_equal(trl_alert_store_set_outbox(s, 0), 0);
    struct trl_outputs *o = open_outputs(f, true);
    f->a.fail_next = 2;
    add_alert(s, "high", "203.0.113.45");
    assert_int_equal(trl_alert_store_commit(s), 0);

    int64_t wait = trl_outputs_pump(o);
    assert_true(wait >= 0 && wait <= 1); /* a's first backoff */
    assert_int_equal(f->a.delivered, 0);
    assert_int_equal(f->b.delivered, 1);
    assert_int_equal(outbox_rows(f->dir), 1); /* a has not got it yet */
    for (int i = 0; i < 20 && f->a.delivered == 0; i++) {
        sleep_ms(5);
        trl_outputs_pump(o);
    }
    assert_int_equal(f->a.attempts, 3);
    assert_int_equal(f->a.delivered, 1);
    assert_int_equal(f->b.delivered, 1);
    assert_int_equal(outbox_rows(f->dir), 0);
    trl_outputs_destroy(o);
    trl_alert_store_close(s);
}

static void test_queue_survives_reopen(void **state)
{
    struct fixture *f = *state;
    struct trl_alert_store *s = trl_alert_store_open(f->dir, 0, false);
    assert_non_null(s);
    assert_int_equal(trl_alert_store_set_outbox(s, 0), 0);
    struct trl_outputs *o = open_outputs(f, false);
    f->a.fail_next = 100;
    add_alert(s, "high", "203.0.113.45");
    add_alert(s, "high", "203.0.113.46");
    assert_int_equal(trl_alert_store_commit(s), 0);
    trl_outputs_pump(o);
    assert_int_equal(f->a.delivered, 0);
    trl_outputs_destroy(o);
    trl_alert_store_close(s);

    /* A new process with a receiver that is back up gets both, in order, at once. */
    f->a.fail_next = 0;
    s = trl_alert_store_open(f->dir, 0, false);
    assert_non_null(s);
    o = open_outputs(f, false);
    assert_int_equal(outbox_rows(f->dir), 2);
    assert_int_equal(trl_outputs_pump(o), -1);
    assert_int_equal(f->a.delivered, 2);
    assert_non_null(strstr(f->a.last, "203.0.113.46"));
    assert_int_equal(outbox_rows(f->dir), 0);
    trl_outputs_destroy(o);
    trl_alert_store_close(s);
}

/* ---- exec ---- */

static int run_exec(struct fixture *f, const char *const *argv, size_t argc, int64_t timeout_ms,
                    char *err, size_t errlen)
{
    struct trl_outputs_config c = {
        .exec_argv = argv, .exec_argc = argc, .exec_timeout_ms = timeout_ms};
    struct trl_output *x = trl_output_exec_create(&c);
    assert_non_null(x);
    (void)f;
    struct trl_outbox_item it = {
        .id = 1, .alert_id = 7, .body = alert_json, .len = strlen(alert_json)};
    it.alert = json_loads(alert_json, 0, NULL);
    int rc = x->deliver(x, &it, err, errlen);
    json_decref(it.alert);
    x->destroy(x);
    return rc;
}

static void test_exec_gets_json_on_stdin_and_alert_env(void **state)
{
    struct fixture *f = *state;
    char out[128], script[512], err[256] = "";
    snprintf(out, sizeof(out), "%s/hook.out", f->dir);
    snprintf(
        script, sizeof(script),
        "{ echo \"$TRAPLINE_ALERT_ID $TRAPLINE_ALERT_LEVEL $TRAPLINE_ALERT_RULE\"; cat; } > %s",
        out);
    const char *argv[] = {"/bin/sh", "-c", script};
    assert_int_equal(run_exec(f, argv, 3, 5000, err, sizeof(err)), 0);
    FILE *fp = fopen(out, "r");
    assert_non_null(fp);
    char line[2048];
    assert_non_null(fgets(line, sizeof(line), fp));
    assert_string_equal(line, "7 high b8246bfe\n");
    assert_non_null(fgets(line, sizeof(line), fp));
    assert_string_equal(line, alert_json);
    fclose(fp);
    unlink(out);
}

static void test_exec_nonzero_exit_is_a_failure(void **state)
{
    char err[256] = "";
    const char *argv[] = {"/bin/false"};
    assert_int_not_equal(run_exec(*state, argv, 1, 5000, err, sizeof(err)), 0);
    assert_string_equal(err, "/bin/false exited with status 1");
}

static void test_exec_is_killed_after_timeout(void **state)
{
    char err[256] = "";
    const char *argv[] = {"/bin/sleep", "10"};
    assert_int_not_equal(run_exec(*state, argv, 2, 200, err, sizeof(err)), 0);
    assert_string_equal(err, "/bin/sleep killed after 200 ms");
}

static void test_exec_missing_program_is_a_failure(void **state)
{
    char err[256] = "";
    const char *argv[] = {"/nonexistent/trapline-hook"};
    assert_int_not_equal(run_exec(*state, argv, 1, 1000, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "cannot run /nonexistent/trapline-hook"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_webhook_signature_is_hmac_sha256_hex),
        cmocka_unit_test(test_webhook_signature_changes_with_body),
        cmocka_unit_test(test_syslog_rfc5424_carries_the_alert_json),
        cmocka_unit_test(test_syslog_rfc5424_hostname_with_space_is_replaced),
        cmocka_unit_test(test_syslog_cef_escapes_header_and_extension),
        cmocka_unit_test_setup_teardown(test_queue_new_and_folded_alerts_are_delivered_as_json,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_skips_alerts_below_min_level, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_queue_retries_a_failing_output_without_holding_up_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_survives_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_gets_json_on_stdin_and_alert_env, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_exec_nonzero_exit_is_a_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_is_killed_after_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_missing_program_is_a_failure, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

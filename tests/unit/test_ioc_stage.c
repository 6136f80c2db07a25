/* Threat-intelligence stage: enrichment after parsing, hits left in the batch, one alert per hit
 * with level, tags and group-by, reload of a changed ioc.db, and the hook inside a real pipeline
 * (enriched before encoding). */
#include "trl_test.h"

#include "core/arena.h"
#include "detect/alerts.h"
#include "ioc/ioc_stage.h"
#include "ioc/iocdb.h"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

struct fixture {
    char dir[64];
    struct trl_arena *arena;
    struct trl_event *evs[8];
    struct trl_batch b;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/trl-iocstage-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->arena = trl_arena_create(64 * 1024);
    f->b.arena = f->arena;
    f->b.events = f->evs;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    trl_arena_destroy(f->arena);
    free(f);
    return 0;
}

static void add_indicator(const char *dir, enum trl_ioc_type type, const char *value,
                          int confidence, const char *const *tags, size_t ntags)
{
    struct trl_iocdb *db = trl_iocdb_open(dir, false);
    assert_non_null(db);
    struct trl_ioc ioc = {
        .type = type,
        .value = value,
        .source = "unit-feed",
        .confidence = confidence,
        .tags = tags,
        .ntags = ntags,
    };
    assert_int_equal(trl_iocdb_upsert(db, &ioc, 1, NULL), 0);
    trl_iocdb_close(db);
}

/* Parses a line into the fixture's batch as event i. */
static struct trl_event *add_event(struct fixture *f, const char *line, const char *id)
{
    struct trl_event *ev = trl_event_create(f->arena, line, strlen(line), 1720563011000000000LL);
    trl_parse_event(ev, TRL_FORMAT_AUTO);
    trl_event_set(ev, TRL_F_EVENT_ID, id, strlen(id));
    f->evs[f->b.nevents++] = ev;
    return ev;
}

static struct trl_ioc_stage *stage_for(const char *dir)
{
    struct trl_ioc_stage_opts o = {.data_dir = dir, .no_reload_thread = true};
    struct trl_ioc_stage *s = trl_ioc_stage_create(&o);
    assert_non_null(s);
    return s;
}

static const char *const scanner_line =
    "203.0.113.45 - - [09/Jul/2024:22:10:11 +0000] \"GET /.git/config HTTP/1.1\" 404 153 \"-\" "
    "\"Go-http-client/1.1\"";
static const char *const ssh_line =
    "<38>Jul  9 22:40:03 web01 sshd[2211]: Failed password for root from 198.51.100.7 port 50022 "
    "ssh2";
static const char *const clean_line =
    "192.0.2.200 - - [09/Jul/2024:22:09:58 +0000] \"GET / HTTP/1.1\" 200 5120 \"-\" \"curl/8\"";

static void test_enrich_adds_threat_fields_and_leaves_hits(void **state)
{
    struct fixture *f = *state;
    static const char *const tags[] = {"tlp:amber", "intrusion-set:APT40"};
    add_indicator(f->dir, TRL_IOC_IPV4, "203.0.113.45", 90, tags, 2);
    add_indicator(f->dir, TRL_IOC_CIDR, "198.51.100.0/24", 40, NULL, 0);
    struct trl_ioc_stage *s = stage_for(f->dir);
    assert_int_equal(trl_ioc_stage_indicators(s), 2);

    struct trl_event *scan = add_event(f, scanner_line, "0000000000000001");
    f->evs[f->b.nevents++] = NULL; /* an audit record waiting for its event */
    struct trl_event *clean = add_event(f, clean_line, "0000000000000003");
    struct trl_event *ssh = add_event(f, ssh_line, "0000000000000004");
    trl_ioc_stage_enrich(s, &f->b);

    assert_named(scan, "threat.indicator.ip", "203.0.113.45");
    assert_named(scan, "threat.indicator.confidence", "High");
    assert_named(scan, "threat.indicator.marking.tlp", "AMBER");
    assert_named(ssh, "threat.indicator.name", "198.51.100.0/24");
    assert_named(clean, "threat.indicator.ip", NULL);

    const struct trl_ioc_batch_hits *hs = f->b.ioc_hits;
    assert_non_null(hs);
    assert_int_equal(hs->n, 2);
    assert_int_equal(hs->events_hit, 2);
    assert_int_equal(hs->items[0].event, 0);
    assert_string_equal(hs->items[0].value, "203.0.113.45");
    assert_string_equal(hs->items[0].field, "source.ip");
    assert_int_equal(hs->items[1].event, 3);
    assert_string_equal(hs->items[1].value, "198.51.100.0/24");
    trl_ioc_stage_destroy(s);
}

struct listed {
    int n;
    char text[8][512];
};

static void each_alert(void *ud, const struct trl_alert_row *r)
{
    struct listed *l = ud;
    if (l->n < 8)
        snprintf(l->text[l->n++], sizeof(l->text[0]), "%s|%s|%s|%s|%s|%s|%s|%lld", r->rule_id,
                 r->title, r->level, r->tags_json, r->group_by_json, r->host ? r->host : "-",
                 r->event_ids_json, (long long)r->count);
}

static void test_alert_per_hit_with_level_tags_and_group_by(void **state)
{
    struct fixture *f = *state;
    static const char *const tags[] = {"tlp:amber"};
    add_indicator(f->dir, TRL_IOC_IPV4, "203.0.113.45", 90, tags, 1);
    add_indicator(f->dir, TRL_IOC_CIDR, "198.51.100.0/24", 40, NULL, 0);
    struct trl_ioc_stage *s = stage_for(f->dir);
    add_event(f, scanner_line, "00000000000000a1");
    add_event(f, scanner_line, "00000000000000a2");
    add_event(f, ssh_line, "00000000000000a3");
    trl_ioc_stage_enrich(s, &f->b);

    struct trl_alert_store *st = trl_alert_store_open(f->dir, 3600LL * 1000000000LL, false);
    assert_non_null(st);
    uint64_t written = 0;
    assert_int_equal(trl_ioc_alert_batch(&f->b, st, &written), 0);
    assert_int_equal(written, 3);
    assert_int_equal(trl_alert_store_commit(st), 0);
    struct listed l = {0};
    struct trl_alert_filter flt = {0};
    assert_int_equal(trl_alert_store_list(st, &flt, each_alert, &l), 2);
    trl_alert_store_close(st);

    /* The two scanner requests fold into one alert; the network hit is its own, low level. */
    bool net = false, addr = false;
    for (int i = 0; i < l.n; i++) {
        if (strstr(l.text[i], "|Threat intel match: cidr 198.51.100.0/24|low|[]|"
                              "{\"indicator\":\"198.51.100.0/24\",\"field\":\"source.ip\"}|web01|"
                              "[\"00000000000000a3\"]|1"))
            net = true;
        if (strstr(l.text[i], "|Threat intel match: ipv4 203.0.113.45|high|[\"tlp:amber\"]|"
                              "{\"indicator\":\"203.0.113.45\",\"field\":\"source.ip\"}|-|"
                              "[\"00000000000000a1\",\"00000000000000a2\"]|2"))
            addr = true;
        assert_true(strncmp(l.text[i], "ioc:ioc--", 9) == 0);
    }
    if (!net || !addr)
        fail_msg("alerts: %s\n%s", l.text[0], l.text[1]);
    trl_ioc_stage_destroy(s);
}

static void test_retro_alert_is_tagged_and_keeps_first_seen(void **state)
{
    struct fixture *f = *state;
    struct trl_alert_store *st = trl_alert_store_open(f->dir, 0, false);
    assert_non_null(st);
    struct trl_ioc_alert_info in = {
        .type = TRL_IOC_DOMAIN,
        .confidence = 50,
        .value = "evil.example",
        .id = "indicator--1",
        .tags_json = "[\"malware:x\"]",
        .field = "dns.question.name",
        .host = "dns01",
        .event_id = "00000000000000b1",
        .timestamp_ns = 1720563011000000000LL,
        .retro = true,
    };
    assert_int_equal(trl_ioc_alert_add(st, &in), 0);
    assert_int_equal(trl_alert_store_commit(st), 0);
    struct listed l = {0};
    struct trl_alert_filter flt = {0};
    assert_int_equal(trl_alert_store_list(st, &flt, each_alert, &l), 1);
    trl_alert_store_close(st);
    assert_string_equal(l.text[0],
                        "ioc:indicator--1|Threat intel match (retro-hunt): domain evil.example|"
                        "medium|[\"malware:x\",\"retro-hunt\"]|{\"indicator\":\"evil.example\","
                        "\"field\":\"dns.question.name\",\"first_seen\":"
                        "\"2024-07-09T22:10:11.000000000Z\"}|dns01|[\"00000000000000b1\"]|1");
}

static void test_reload_picks_up_a_changed_database(void **state)
{
    struct fixture *f = *state;
    /* No ioc.db yet: nothing matches, nothing breaks. */
    struct trl_ioc_stage *s = stage_for(f->dir);
    assert_int_equal(trl_ioc_stage_indicators(s), 0);
    struct trl_event *ev = add_event(f, scanner_line, "0000000000000001");
    trl_ioc_stage_enrich(s, &f->b);
    assert_null(f->b.ioc_hits);
    assert_int_equal(trl_ioc_stage_check_reload(s), 0);

    add_indicator(f->dir, TRL_IOC_IPV4, "203.0.113.45", 50, NULL, 0);
    assert_int_equal(trl_ioc_stage_check_reload(s), 1);
    assert_int_equal(trl_ioc_stage_indicators(s), 1);
    /* A file changed just now is read once more on the next check (its time stamp could not
     * tell a later change in the same clock tick); after that, nothing to do. */
    usleep(120 * 1000);
    trl_ioc_stage_check_reload(s);
    assert_int_equal(trl_ioc_stage_check_reload(s), 0);
    trl_ioc_stage_enrich(s, &f->b);
    assert_non_null(f->b.ioc_hits);
    assert_named(ev, "threat.indicator.confidence", "Medium");

    /* A second feed: the file changes again and the new matcher holds both rows. */
    add_indicator(f->dir, TRL_IOC_DOMAIN, "evil.example", 50, NULL, 0);
    assert_int_equal(trl_ioc_stage_check_reload(s), 1);
    assert_int_equal(trl_ioc_stage_indicators(s), 2);
    trl_ioc_stage_destroy(s);
}

/* ---- through the pipeline ---- */

struct capture {
    struct trl_sink sink;
    pthread_mutex_t mu;
    char json[8192];
    bool saw_hits;
};

static int capture_write(struct trl_sink *sk, struct trl_batch *b)
{
    struct capture *c = (struct capture *)sk;
    pthread_mutex_lock(&c->mu);
    for (uint32_t i = 0; i < b->nevents; i++) {
        size_t len;
        const char *j = trl_batch_json(b, i, &len);
        size_t have = strlen(c->json);
        if (j && have + len < sizeof(c->json))
            memcpy(c->json + have, j, len), c->json[have + len] = '\0';
    }
    if (b->ioc_hits)
        c->saw_hits = true;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

static void capture_destroy(struct trl_sink *sk)
{
    (void)sk;
}

static void test_pipeline_enriches_before_encoding(void **state)
{
    struct fixture *f = *state;
    add_indicator(f->dir, TRL_IOC_IPV4, "203.0.113.45", 80, NULL, 0);
    struct trl_ioc_stage *s = stage_for(f->dir);
    struct capture cap = {.sink = {.write = capture_write, .destroy = capture_destroy}};
    pthread_mutex_init(&cap.mu, NULL);
    struct trl_pipeline_config pc = {
        .format = TRL_FORMAT_AUTO,
        .encode_json = true,
        .sink = &cap.sink,
        .enrich = trl_ioc_stage_enrich,
        .enrich_ud = s,
    };
    struct trl_pipeline *p = trl_pipeline_create(&pc);
    assert_non_null(p);
    struct trl_batch *b = trl_pipeline_batch_get(p);
    trl_batch_add(b, scanner_line, strlen(scanner_line), "test", 1720563011000000000LL, 0);
    trl_batch_add(b, clean_line, strlen(clean_line), "test", 1720563011000000000LL, 0);
    trl_pipeline_submit(p, b);
    trl_pipeline_sync(p);
    trl_pipeline_destroy(p);
    trl_ioc_stage_destroy(s);
    pthread_mutex_destroy(&cap.mu);
    assert_true(cap.saw_hits);
    assert_non_null(strstr(cap.json, "\"threat\":{\"feed\":{\"name\":\"unit-feed\"},"
                                     "\"indicator\":{\"confidence\":\"High\""));
    /* Exactly one of the two events was enriched. */
    const char *first = strstr(cap.json, "\"threat\"");
    assert_null(strstr(first + 1, "\"threat\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_enrich_adds_threat_fields_and_leaves_hits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_alert_per_hit_with_level_tags_and_group_by, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_retro_alert_is_tagged_and_keeps_first_seen, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reload_picks_up_a_changed_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_enriches_before_encoding, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

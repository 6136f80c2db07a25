/*
 * `trapline rules check PATH...` and `trapline rules test --rules PATH... EVENTS_FILE...`: load
 * and compile Sigma rules, report every problem with file, line and reason, and evaluate rules
 * against events from files, printing one JSON line per match. `trapline rules disable|enable ID`
 * turns a rule off or on in DATA/rules-state.json (detect/rule_state.h), which a running server
 * reads on SIGHUP.
 */
#include "cli/cli.h"
#include "cli/common.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "detect/rule_state.h"
#include "detect/sigma.h"
#include "formats/json_encode.h"
#include "formats/json_stream.h"
#include "formats/parse.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct load_tally {
    int invalid;
    int unsupported;
    bool quiet;
};

static void report_problem(void *ud, const char *file, int line, const char *rule,
                           const char *reason, bool unsupported)
{
    struct load_tally *t = ud;
    if (unsupported)
        t->unsupported++;
    else
        t->invalid++;
    if (t->quiet)
        return;
    fprintf(stderr, "%s:%d: %s%s%s%s\n", file, line,
            unsupported ? "unsupported: " : "error: ", rule ? "rule '" : "", rule ? rule : "",
            rule ? "': " : "");
    fprintf(stderr, "    %s\n", reason);
}

static int load_rules(struct trl_sigma_ruleset *rs, char **paths, int npaths,
                      struct load_tally *tally)
{
    int failed = 0;
    for (int i = 0; i < npaths; i++) {
        if (trl_sigma_load_path(rs, paths[i], report_problem, tally) < 0)
            failed++;
    }
    return failed;
}

static void check_usage(FILE *out)
{
    fprintf(out,
            "usage: trapline rules check PATH...\n\n"
            "Loads and compiles Sigma rules (files, or directories searched for *.yml),\n"
            "reports each invalid or unsupported rule with file, line and reason, then a summary.\n"
            "Exit status: 0 when every rule loaded, 1 otherwise.\n");
}

static int rules_check(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        check_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    struct trl_sigma_ruleset *rs = trl_sigma_ruleset_create();
    struct load_tally tally = {0};
    int unreadable = load_rules(rs, argv + 1, argc - 1, &tally);
    trl_sigma_ruleset_finalize(rs, report_problem, &tally);
    size_t loaded = trl_sigma_rule_count(rs);
    printf("%zu rules loaded, %d unsupported, %d invalid%s\n", loaded, tally.unsupported,
           tally.invalid, unreadable ? ", some paths unreadable" : "");
    trl_sigma_ruleset_destroy(rs);
    return tally.unsupported || tally.invalid || unreadable ? 1 : 0;
}

static void test_usage(FILE *out)
{
    fprintf(out,
            "usage: trapline rules test --rules PATH [--rules PATH]... EVENTS_FILE...\n\n"
            "Evaluates every event in the files (JSON objects one per line, a JSON array, or\n"
            "pretty-printed objects one after another; Windows events dumped from EVTX as JSON\n"
            "are recognised) and prints one JSON line per match:\n"
            "  {\"rule_id\":...,\"title\":...,\"level\":...,\"file\":...,\"event_index\":N}\n"
            "event_index counts from 0 within its file.\n\n"
            "options:\n"
            "  --rules PATH   a rule file or a directory of rules (repeatable)\n"
            "  --quiet        do not list rules that failed to load\n");
}

struct test_ctx {
    struct trl_sigma_ruleset *rs;
    struct trl_sigma_scratch *scratch;
    struct trl_arena *arena;
    const char *file;
    size_t index;
    size_t matches;
    struct trl_buf out;
};

static void print_match(void *ud, const struct trl_sigma_match *m)
{
    struct test_ctx *c = ud;
    struct trl_sigma_rule_info info;
    trl_sigma_rule_get_info(c->rs, m->rule_index, &info);
    struct trl_buf *b = &c->out;
    trl_buf_reset(b);
    trl_buf_puts(b, "{\"rule_id\":");
    if (info.id)
        trl_json_append_string(b, info.id, strlen(info.id));
    else
        trl_buf_puts(b, "null");
    trl_buf_puts(b, ",\"title\":");
    trl_json_append_string(b, info.title, strlen(info.title));
    trl_buf_puts(b, ",\"level\":");
    if (info.level)
        trl_json_append_string(b, info.level, strlen(info.level));
    else
        trl_buf_puts(b, "null");
    trl_buf_puts(b, ",\"file\":");
    trl_json_append_string(b, c->file, strlen(c->file));
    if (!m->correlation) {
        trl_buf_printf(b, ",\"event_index\":%zu}\n", c->index);
    } else {
        trl_buf_puts(b, ",\"correlation\":");
        trl_json_append_string(b, info.type, strlen(info.type));
        trl_buf_puts(b, ",\"group_by\":{");
        for (size_t i = 0; i < m->ngroup; i++) {
            if (i)
                trl_buf_putc(b, ',');
            trl_json_append_string(b, m->group_fields[i], strlen(m->group_fields[i]));
            trl_buf_putc(b, ':');
            trl_json_append_string(b, m->group_values[i], strlen(m->group_values[i]));
        }
        trl_buf_puts(b, "},\"event_indexes\":[");
        for (size_t i = 0; i < m->nevents; i++)
            trl_buf_printf(b, "%s%llu", i ? "," : "", (unsigned long long)m->event_ids[i]);
        trl_buf_puts(b, "]}\n");
    }
    fwrite(b->data, 1, b->len, stdout);
    c->matches++;
}

static void eval_object(void *ud, size_t index, const char *json, size_t len)
{
    struct test_ctx *c = ud;
    trl_arena_reset(c->arena);
    struct trl_event *ev = trl_event_create(c->arena, json, len, trl_now_ns());
    trl_parse_event(ev, TRL_FORMAT_JSON);
    c->index = index;
    trl_sigma_eval(c->rs, c->scratch, ev, index, print_match, c);
}

static int read_file(const char *path, struct trl_buf *b)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        trl_buf_append(b, chunk, n);
    fclose(f);
    if (!b->data)
        trl_buf_append(b, "", 0);
    return 0;
}

static int rules_test(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"rules", required_argument, NULL, 'r'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    char **paths = trl_xcalloc((size_t)argc + 1, sizeof(*paths));
    int npaths = 0, c, rc = 0;
    struct load_tally tally = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'r') {
            paths[npaths++] = optarg;
        } else if (c == 'q') {
            tally.quiet = true;
        } else if (c == 'h') {
            test_usage(stdout);
            free(paths);
            return 0;
        } else {
            test_usage(stderr);
            free(paths);
            return 2;
        }
    }
    if (npaths == 0 || optind >= argc) {
        test_usage(stderr);
        free(paths);
        return 2;
    }
    struct test_ctx ctx = {.rs = trl_sigma_ruleset_create(), .arena = trl_arena_create(0)};
    if (load_rules(ctx.rs, paths, npaths, &tally) != 0)
        rc = 1;
    trl_sigma_ruleset_finalize(ctx.rs, report_problem, &tally);
    ctx.scratch = trl_sigma_scratch_create(ctx.rs);
    for (int i = optind; i < argc; i++) {
        struct trl_buf b = {0};
        char err[256];
        if (read_file(argv[i], &b) != 0) {
            fprintf(stderr, "trapline rules test: cannot read %s: %s\n", argv[i], strerror(errno));
            rc = 1;
            continue;
        }
        ctx.file = argv[i];
        if (trl_json_stream_each(b.data, b.len, eval_object, &ctx, err, sizeof(err)) < 0) {
            fprintf(stderr, "trapline rules test: %s: %s\n", argv[i], err);
            rc = 1;
        }
        trl_buf_free(&b);
    }
    fflush(stdout);
    fprintf(stderr, "%zu rules loaded (%d unsupported, %d invalid), %zu matches\n",
            trl_sigma_rule_count(ctx.rs), tally.unsupported, tally.invalid, ctx.matches);
    trl_buf_free(&ctx.out);
    trl_sigma_scratch_destroy(ctx.scratch);
    trl_sigma_ruleset_destroy(ctx.rs);
    trl_arena_destroy(ctx.arena);
    free(paths);
    return rc;
}

static void state_usage(FILE *out, const char *verb)
{
    fprintf(out,
            "usage: trapline rules %s ID [--data DIR]\n\n"
            "Turns the Sigma rule with this id %s in DATA/rules-state.json. A running server\n"
            "applies it on SIGHUP (`systemctl reload trapline`); the web API\n"
            "(PATCH /api/v1/rules/ID) applies it at once.\n",
            verb, strcmp(verb, "disable") ? "back on" : "off");
}

/* `rules disable ID` / `rules enable ID`. */
static int rules_state(int argc, char **argv, bool enabled)
{
    const char *verb = argv[0];
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data_flag = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'd') {
            data_flag = optarg;
        } else if (c == 'h') {
            state_usage(stdout, verb);
            return 0;
        } else {
            state_usage(stderr, verb);
            return 2;
        }
    }
    if (optind + 1 != argc) {
        state_usage(stderr, verb);
        return 2;
    }
    const char *id = argv[optind];
    size_t len = strlen(id);
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)id[i] < 0x21 || id[i] == 0x7f)
            len = 0;
    }
    if (len == 0 || len > 200) {
        fprintf(stderr, "trapline rules %s: '%s' is not a rule id\n", verb, id);
        return 2;
    }
    const char *data = trl_cli_data_dir(data_flag);
    if (trl_cli_ensure_dir(data) != 0)
        return 1;
    bool changed = false;
    int rc = trl_rule_state_set(data, id, enabled, &changed);
    if (rc != 0) {
        fprintf(stderr, "trapline rules %s: cannot write %s/%s: %s\n", verb, data,
                TRL_RULE_STATE_FILE, trl_strerror(rc));
        return 1;
    }
    printf("rule %s %s%s; a running server applies it on SIGHUP\n", id,
           changed ? "" : "was already ", enabled ? "enabled" : "disabled");
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: trapline rules <check|test|disable|enable> ...\n\n"
            "  check PATH...                          load and compile rules, report problems\n"
            "  test --rules PATH... EVENTS_FILE...    evaluate rules against events in files\n"
            "  disable ID [--data DIR]                turn a rule off (DATA/rules-state.json)\n"
            "  enable ID [--data DIR]                 turn it back on\n");
}

int trl_cmd_rules(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "check"))
        return rules_check(argc - 1, argv + 1);
    if (!strcmp(argv[1], "test"))
        return rules_test(argc - 1, argv + 1);
    if (!strcmp(argv[1], "disable") || !strcmp(argv[1], "enable"))
        return rules_state(argc - 1, argv + 1, !strcmp(argv[1], "enable"));
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "trapline rules: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}

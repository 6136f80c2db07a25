/*
 * `trapline ingest`: sends log files through exactly the pipeline the server uses (parse,
 * normalise, output), for forensics on copied logs. Lines are split on LF (a CR before it is
 * dropped); a line longer than the maximum message size is cut, flagged, and the rest of it
 * skipped.
 */
#include "cli/cli.h"
#include "cli/common.h"
#include "cli/progress.h"
#include "core/config.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "detect/detector.h"
#include "ioc/ioc_stage.h"
#include "server/pipeline.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ingest_opts {
    const char *data_dir;
    const char *output;
    enum trl_format_id format;
    size_t max_message_size;
    int year;
    bool progress;
    const char **rules; /* Sigma rule paths: detection runs when any is given */
    size_t nrules;
    const char *config_path; /* alerts.* (alert outputs) are read from it */
    bool ioc;                /* match against DATA/ioc.db: enrich events and raise alerts */
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: trapline ingest [options] FILE...\n"
        "\n"
        "Reads log files (\"-\" for standard input) line by line through the server's pipeline.\n"
        "\n"
        "options:\n"
        "  --data DIR          data directory (default: $TRAPLINE_DATA, else %s)\n"
        "  --format FMT        auto|rfc3164|rfc5424|snare|cef|leef|json|audit|access|raw\n"
        "                      (default: auto, detected per line)\n"
        "  --output FILE       write events as JSON lines to FILE (\"-\" for stdout)\n"
        "                      instead of the event store in DATA/events\n"
        "  --max-message-size N  cut longer lines at N bytes (default 65536)\n"
        "  --year YYYY         year of timestamps that carry none (RFC 3164 \"Jul  9 22:40:03\");\n"
        "                      default: the year that puts them nearest to now\n"
        "  --rules PATH        evaluate Sigma rules (file or directory; repeatable);\n"
        "                      alerts go to DATA/alerts.db (see `trapline alerts`)\n"
        "  --ioc               match events against the indicators in DATA/ioc.db: add\n"
        "                      threat.indicator.* fields and raise an alert per hit\n"
        "  --config FILE       read the alert outputs (alerts.* keys) from this\n"
        "                      configuration file\n"
        "  --no-progress       no progress bar even on a terminal\n"
        "  -h, --help          this text\n",
        trl_cli_default_data_dir());
}

/* Feeds one open file into the pipeline, splitting lines across read boundaries. */
static int ingest_fd(struct trl_pipeline *p, int fd, const char *name, const struct ingest_opts *o,
                     struct trl_progress *bar)
{
    size_t cap = o->max_message_size + (1u << 20);
    char *buf = trl_xmalloc(cap);
    size_t have = 0;
    bool skipping = false; /* inside the remainder of an over-long line */
    int rc = 0;
    struct trl_batch *b = trl_pipeline_batch_get(p);
    for (;;) {
        ssize_t n = read(fd, buf + have, cap - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            trl_error("ingest", "read failed file=%s error=\"%s\"", name, strerror(errno));
            break;
        }
        bool eof = n == 0;
        have += (size_t)n;
        trl_progress_add(bar, (uint64_t)n);
        int64_t now = trl_now_ns();
        size_t start = 0;
        for (;;) {
            char *nl = memchr(buf + start, '\n', have - start);
            size_t end = nl ? (size_t)(nl - buf) : have;
            size_t len = end - start;
            if (!nl && !eof && len <= o->max_message_size)
                break; /* wait for the rest of the line */
            if (!nl && start == have)
                break;
            if (!skipping) {
                uint32_t flags = 0;
                size_t take = len;
                if (take > 0 && buf[start + take - 1] == '\r')
                    take--;
                if (take > o->max_message_size) {
                    take = o->max_message_size;
                    flags |= TRL_MSG_TRUNCATED;
                }
                if (take > 0 || nl) {
                    if (trl_batch_add(b, buf + start, take, name, now, flags)) {
                        trl_pipeline_submit(p, b);
                        while (trl_pipeline_congested(p))
                            usleep(200);
                        b = trl_pipeline_batch_get(p);
                    }
                }
            }
            if (!nl) {
                /* An over-long line: what was kept is queued; skip up to its newline. */
                skipping = !eof;
                start = have;
                break;
            }
            skipping = false;
            start = end + 1;
        }
        memmove(buf, buf + start, have - start);
        have -= start;
        if (eof)
            break;
    }
    trl_pipeline_submit(p, b);
    free(buf);
    return rc;
}

static int parse_args(int argc, char **argv, struct ingest_opts *o)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"max-message-size", required_argument, NULL, 'm'},
        {"no-progress", no_argument, NULL, 'P'},
        {"year", required_argument, NULL, 'y'},
        {"rules", required_argument, NULL, 'r'},
        {"config", required_argument, NULL, 'c'},
        {"ioc", no_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->data_dir = optarg;
            break;
        case 'f': {
            int f = trl_format_from_name(optarg);
            if (f < 0) {
                fprintf(stderr, "trapline ingest: unknown format '%s'\n", optarg);
                return 2;
            }
            o->format = (enum trl_format_id)f;
            break;
        }
        case 'o':
            o->output = optarg;
            break;
        case 'm': {
            uint64_t v;
            if (!trl_parse_u64(optarg, strlen(optarg), &v) || v < 64 || v > (16u << 20)) {
                fprintf(stderr, "trapline ingest: --max-message-size: 64..16777216 bytes\n");
                return 2;
            }
            o->max_message_size = (size_t)v;
            break;
        }
        case 'c':
            o->config_path = optarg;
            break;
        case 'P':
            o->progress = false;
            break;
        case 'i':
            o->ioc = true;
            break;
        case 'r':
            o->rules = trl_xrealloc(o->rules, (o->nrules + 1) * sizeof(*o->rules));
            o->rules[o->nrules++] = optarg;
            break;
        case 'y': {
            uint64_t v;
            if (!trl_parse_u64(optarg, strlen(optarg), &v) || v < 1970 || v > 2200) {
                fprintf(stderr, "trapline ingest: --year: a year from 1970 to 2200\n");
                return 2;
            }
            o->year = (int)v;
            break;
        }
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "trapline ingest: no files given\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

static void print_summary(const struct trl_pipeline_stats *st, double secs, int files_failed)
{
    fprintf(stderr, "ingested %llu events (%.1f MB) in %.2f s, %.0f events/s\n",
            (unsigned long long)st->events, (double)st->bytes / 1e6, secs,
            secs > 0 ? (double)st->events / secs : 0.0);
    fprintf(stderr, "  by format:");
    for (int f = 0; f < TRL_FORMAT__COUNT; f++) {
        if (st->per_format[f])
            fprintf(stderr, " %s=%llu", trl_format_name((enum trl_format_id)f),
                    (unsigned long long)st->per_format[f]);
    }
    fprintf(stderr,
            "\n  unparsed: %llu  truncated: %llu  output errors: %llu  unreadable files: %d\n",
            (unsigned long long)st->unparsed, (unsigned long long)st->truncated,
            (unsigned long long)st->sink_errors, files_failed);
}

int trl_cmd_ingest(int argc, char **argv)
{
    struct ingest_opts o = {
        .format = TRL_FORMAT_AUTO,
        .max_message_size = 65536,
        .progress = isatty(2),
    };
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    rc = 1; /* until everything went well */

    char *output = NULL;
    struct trl_config cfg;
    trl_config_defaults(&cfg);
    struct trl_sink *sink = NULL;
    struct trl_detector *det = NULL;
    struct trl_ioc_stage *ioc = NULL;
    struct trl_pipeline *p = NULL;
    int failed = 0;
    char err[1024];
    if (o.config_path && trl_config_load_file(&cfg, o.config_path, err, sizeof(err)) != 0) {
        fprintf(stderr, "trapline ingest: %s\n", err);
        rc = 2;
        goto out;
    }
    const char *dir = trl_cli_data_dir(o.data_dir);
    if ((!o.output || o.nrules || o.ioc) && trl_cli_ensure_dir(dir) != 0)
        goto out;
    if (o.output) {
        output = trl_xstrdup(o.output);
        sink = trl_sink_jsonl_create(output);
    } else {
        /* Imported logs are kept whatever their age: retention is the server's business. */
        struct trl_store_opts so = {.retention_days = 0};
        size_t n = strlen(dir) + 16;
        output = trl_xmalloc(n);
        snprintf(output, n, "%s/events", dir);
        sink = trl_store_sink_create(dir, &so);
    }
    if (!sink)
        goto out;
    struct trl_outputs_config oc;
    trl_outputs_config_from(&oc, &cfg);
    oc.data_dir = dir;
    if (o.ioc) {
        /* The file does not change during an import: no need to watch it. */
        struct trl_ioc_stage_opts io = {.data_dir = dir, .no_reload_thread = true};
        if (!(ioc = trl_ioc_stage_create(&io)))
            goto out;
        if (trl_ioc_stage_indicators(ioc) == 0)
            fprintf(stderr, "trapline ingest: --ioc: no indicators in %s/ioc.db\n", dir);
    }
    if (o.nrules || o.ioc) {
        struct trl_detector_config dc = {
            .rule_paths = o.rules,
            .nrule_paths = o.nrules,
            .data_dir = dir,
            .fold_window_ns = 3600 * TRL_NS_PER_SEC,
            .outputs = &oc,
            .outputs_min_level = cfg.alerts.min_level,
        };
        det = trl_detector_create(&dc);
        if (!det)
            goto out;
    }
    struct trl_pipeline_config pc = {
        .format = o.format,
        .assume_year = o.year,
        /* The parse threads encode the events as JSON side by side; the store or the output
         * file on the worker thread takes that text as it is. */
        .encode_json = true,
        .sink = sink,
        .stage = det ? trl_detector_process : NULL,
        .stage_ud = det,
        .enrich = ioc ? trl_ioc_stage_enrich : NULL,
        .enrich_ud = ioc,
    };
    p = trl_pipeline_create(&pc);
    if (!p)
        goto out;
    sink = NULL; /* the pipeline owns it now */

    uint64_t total = 0;
    for (int i = optind; i < argc; i++) {
        struct stat st;
        if (strcmp(argv[i], "-") != 0 && stat(argv[i], &st) == 0 && S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
    }
    struct trl_progress *bar = trl_progress_create(o.progress, total);
    int64_t t0 = trl_mono_ns();
    for (int i = optind; i < argc; i++) {
        bool is_stdin = strcmp(argv[i], "-") == 0;
        int fd = is_stdin ? 0 : open(argv[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            trl_error("ingest", "cannot open file=%s error=\"%s\"", argv[i], strerror(errno));
            failed++;
            continue;
        }
        if (ingest_fd(p, fd, is_stdin ? "stdin" : argv[i], &o, bar) != 0)
            failed++;
        if (!is_stdin)
            close(fd);
    }
    trl_pipeline_sync(p);
    double secs = (double)(trl_mono_ns() - t0) / 1e9;
    trl_progress_destroy(bar);
    struct trl_pipeline_stats st;
    trl_pipeline_get_stats(p, &st);
    trl_pipeline_destroy(p);
    p = NULL;
    print_summary(&st, secs, failed);
    if (det) {
        struct trl_detector_stats ds;
        trl_detector_get_stats(det, &ds);
        fprintf(stderr, "  rules: %zu loaded (%zu unsupported, %zu invalid), %llu matches\n",
                ds.rules, ds.unsupported, ds.invalid, (unsigned long long)ds.matches);
        if (ioc)
            fprintf(stderr, "  threat intel: %zu indicators, %llu alerts\n",
                    trl_ioc_stage_indicators(ioc), (unsigned long long)ds.ioc_matches);
    }
    if (strcmp(output, "-") != 0)
        fprintf(stderr, "  output: %s\n", output);
    rc = failed || st.sink_errors ? 1 : 0;
out:
    trl_pipeline_destroy(p);
    if (sink)
        sink->destroy(sink);
    trl_detector_destroy(det);
    trl_config_free(&cfg);
    trl_ioc_stage_destroy(ioc);
    free(output);
    free(o.rules);
    return rc;
}

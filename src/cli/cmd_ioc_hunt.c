/*
 * `trapline ioc hunt` and `trapline ioc feeds`:
 *
 *   trapline ioc hunt [--data DIR] [--since T] [--until T] [--added T] [--max-events N] [VALUE...]
 *   trapline ioc feeds [--data DIR] [--output table|json]
 *
 * hunt searches the stored events for indicators (the values given, else those of ioc.db, else
 * those imported since --added) and raises a retrospective alert for every earlier sighting.
 * feeds prints the feed bookkeeping of ioc.db: when each feed was last imported, how many
 * indicators it holds and its last error.
 */
#include "cli/cmd_ioc.h"
#include "cli/common.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "ioc/hunt.h"
#include "ioc/iocdb.h"
#include "store/timearg.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void hunt_usage(FILE *out)
{
    fprintf(out,
            "usage: trapline ioc hunt [options] [VALUE...]\n"
            "\n"
            "Searches the stored events for indicators and raises a retrospective alert (tag\n"
            "retro-hunt) for every sighting. VALUEs are addresses, networks, domains, URLs,\n"
            "hashes...; without them every indicator of DATA/ioc.db valid now is hunted.\n"
            "\n"
            "options:\n"
            "  --data DIR         data directory (default: $TRAPLINE_DATA, else %s)\n"
            "  --since TIME       oldest events searched (default -30d; RFC 3339, a date, -7d)\n"
            "  --until TIME       newest events searched (default now)\n"
            "  --added TIME       without VALUEs: only indicators imported since TIME\n"
            "  --max-events N     sightings per indicator at most (default 10000)\n",
            trl_cli_default_data_dir());
}

int trl_ioc_run_hunt(const char *data_dir, int64_t from_ns, int64_t to_ns,
                     const char *const *values, size_t nvalues, int64_t imported_since_ns,
                     size_t max_events)
{
    struct trl_ioc_hunt_opts ho = {
        .data_dir = data_dir,
        .from_ns = from_ns,
        .to_ns = to_ns,
        .values = values,
        .nvalues = nvalues,
        .imported_since_ns = imported_since_ns,
        .max_events = max_events,
        .out = stdout,
    };
    struct trl_ioc_hunt_result r;
    int rc = trl_ioc_hunt(&ho, &r);
    if (rc == -ENOENT) {
        fprintf(stderr, "trapline ioc hunt: no indicators: %s/ioc.db does not exist\n", data_dir);
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "trapline ioc hunt: %s\n", trl_strerror(rc));
        return 1;
    }
    char from[TRL_RFC3339_MAX], to[TRL_RFC3339_MAX];
    trl_format_rfc3339(from_ns, from);
    trl_format_rfc3339(to_ns, to);
    printf("hunted %zu indicators in events from %s to %s: %zu sighted in %llu events, "
           "%llu retrospective alerts",
           r.indicators, from, to, r.sighted, (unsigned long long)r.sightings,
           (unsigned long long)r.alerts);
    if (r.unsearchable)
        printf(", %zu cannot be searched", r.unsearchable);
    printf("\n");
    if (r.truncated)
        printf("  some indicators have more sightings than --max-events: not all were recorded\n");
    if (r.unreadable_blocks)
        printf("  %llu damaged blocks of the event store were skipped (see trapline verify)\n",
               (unsigned long long)r.unreadable_blocks);
    return r.alert_errors ? 1 : 0;
}

static int parse_time(const char *what, const char *arg, int64_t now, bool end, int64_t *out)
{
    if (trl_parse_time_arg(arg, now, end, out) != 0) {
        fprintf(stderr, "trapline ioc hunt: %s: a time (RFC 3339, a date, now, -7d)\n", what);
        return 2;
    }
    return 0;
}

int trl_cmd_ioc_hunt(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"since", required_argument, NULL, 's'},
        {"until", required_argument, NULL, 'u'},
        {"added", required_argument, NULL, 'a'},
        {"max-events", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *data = NULL;
    int64_t now = trl_now_ns();
    int64_t from = now - 30LL * 86400 * TRL_NS_PER_SEC, to = now + 1, added = 0;
    uint64_t max_events = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 's':
            if (parse_time("--since", optarg, now, false, &from))
                return 2;
            break;
        case 'u':
            if (parse_time("--until", optarg, now, true, &to))
                return 2;
            break;
        case 'a':
            if (parse_time("--added", optarg, now, false, &added))
                return 2;
            break;
        case 'm':
            if (!trl_parse_u64(optarg, strlen(optarg), &max_events) || max_events == 0 ||
                max_events > 10000000) {
                fprintf(stderr, "trapline ioc hunt: --max-events: 1..10000000\n");
                return 2;
            }
            break;
        default:
            return trl_cli_help_or_usage(c, hunt_usage);
        }
    }
    if (from >= to) {
        fprintf(stderr, "trapline ioc hunt: --since must be before --until\n");
        return 2;
    }
    return trl_ioc_run_hunt(trl_cli_data_dir(data), from, to, (const char *const *)argv + optind,
                            (size_t)(argc - optind), added, (size_t)max_events);
}

/* ---- feeds ---- */

struct feeds_out {
    bool json;
    struct trl_buf line;
};

static void json_str(struct trl_buf *b, const char *s)
{
    if (!s) {
        trl_buf_puts(b, "null");
        return;
    }
    trl_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            trl_buf_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            trl_buf_printf(b, "\\u%04x", *p);
        else
            trl_buf_putc(b, (char)*p);
    }
    trl_buf_putc(b, '"');
}

static int print_feed(void *ud, const struct trl_iocdb_feed *f)
{
    struct feeds_out *o = ud;
    char when[TRL_RFC3339_MAX] = "-";
    if (f->last_fetch_ns)
        trl_format_rfc3339(f->last_fetch_ns, when);
    if (!o->json) {
        printf("%-20s %-10s %-32s %8lld  %s\n", f->name, f->format ? f->format : "-", when,
               (long long)f->count, f->last_error ? f->last_error : "-");
        return 0;
    }
    struct trl_buf *b = &o->line;
    trl_buf_reset(b);
    trl_buf_puts(b, "{\"name\":");
    json_str(b, f->name);
    trl_buf_puts(b, ",\"format\":");
    json_str(b, f->format);
    trl_buf_puts(b, ",\"url\":");
    json_str(b, f->url);
    trl_buf_puts(b, ",\"last_fetch\":");
    json_str(b, f->last_fetch_ns ? when : NULL);
    trl_buf_printf(b, ",\"count\":%lld,\"last_error\":", (long long)f->count);
    json_str(b, f->last_error);
    trl_buf_puts(b, "}\n");
    fwrite(b->data, 1, b->len, stdout);
    return 0;
}

int trl_cmd_ioc_feeds(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *data = NULL;
    struct feeds_out o = {.json = !isatty(1)};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 'o':
            if (trl_cli_output_json("ioc feeds", optarg, &o.json))
                return 2;
            break;
        case 'h':
            printf("usage: trapline ioc feeds [--data DIR] [--output table|json]\n");
            return 0;
        default:
            fprintf(stderr, "usage: trapline ioc feeds [--data DIR] [--output table|json]\n");
            return 2;
        }
    }
    struct trl_iocdb *db = trl_cli_open_existing_iocdb("trapline ioc feeds", data, true);
    if (!db)
        return 1;
    if (!o.json)
        printf("%-20s %-10s %-32s %8s  %s\n", "FEED", "FORMAT", "LAST FETCH", "COUNT",
               "LAST ERROR");
    long n = trl_iocdb_feeds(db, print_feed, &o);
    trl_iocdb_close(db);
    trl_buf_free(&o.line);
    return n < 0 ? 1 : 0;
}

struct trl_iocdb *trl_cli_open_existing_iocdb(const char *what, const char *data, bool read_only)
{
    const char *dir = trl_cli_data_dir(data);
    char path[4096];
    snprintf(path, sizeof(path), "%s/ioc.db", dir);
    if (access(path, F_OK) != 0) {
        fprintf(stderr, "%s: no indicators yet in %s (see trapline ioc import)\n", what, dir);
        return NULL;
    }
    return trl_iocdb_open(dir, read_only);
}

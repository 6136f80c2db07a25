/*
 * `trapline alerts`: list alerts, newest first, and move them through their status workflow.
 *
 *   trapline alerts [--data DIR] [--from T] [--to T] [--limit N] [--output json|table] [QUERY]
 *   trapline alerts ack|close|reopen ID... [--data DIR]
 *
 * QUERY words: level:high, status:new, rule:<text>, host:<name>; any other word must appear in the
 * title, the group-by values or the host.
 */
#include "cli/cli.h"
#include "cli/common.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "detect/alerts.h"
#include "formats/json_encode.h"
#include "store/timearg.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: trapline alerts [options] [QUERY]\n"
            "       trapline alerts ack|close|reopen ID... [--data DIR]\n\n"
            "Lists alerts, newest first. QUERY words: level:LEVEL status:STATUS rule:TEXT\n"
            "host:NAME; other words must appear in the title, group-by values or host.\n\n"
            "options:\n"
            "  --data DIR        data directory (default: $TRAPLINE_DATA, else %s)\n"
            "  --from T, --to T  last seen between (RFC 3339, 2024-07-09, -15m, -24h, -7d)\n"
            "  --limit N         at most N alerts (default 100)\n"
            "  --output FMT      json (one alert per line) or table (default on a terminal)\n",
            trl_cli_default_data_dir());
}

static void json_field_str(struct trl_buf *b, const char *key, const char *v)
{
    trl_buf_printf(b, ",\"%s\":", key);
    if (v)
        trl_json_append_string(b, v, strlen(v));
    else
        trl_buf_puts(b, "null");
}

static void print_json(void *ud, const struct trl_alert_row *r)
{
    struct trl_buf *b = ud;
    char first[TRL_RFC3339_MAX], last[TRL_RFC3339_MAX];
    trl_format_rfc3339(r->first_seen_ns, first);
    trl_format_rfc3339(r->last_seen_ns, last);
    trl_buf_reset(b);
    trl_buf_printf(b, "{\"id\":%lld", (long long)r->id);
    json_field_str(b, "rule_id", r->rule_id);
    json_field_str(b, "title", r->title);
    json_field_str(b, "level", r->level);
    trl_buf_printf(b, ",\"tags\":%s", r->tags_json ? r->tags_json : "[]");
    json_field_str(b, "correlation", r->correlation);
    trl_buf_printf(b, ",\"group_by\":%s", r->group_by_json ? r->group_by_json : "{}");
    json_field_str(b, "host", r->host);
    trl_buf_printf(b, ",\"event_ids\":%s", r->event_ids_json ? r->event_ids_json : "[]");
    json_field_str(b, "status", r->status);
    json_field_str(b, "first_seen", first);
    json_field_str(b, "last_seen", last);
    trl_buf_printf(b, ",\"count\":%lld}\n", (long long)r->count);
    fwrite(b->data, 1, b->len, stdout);
}

static void print_row(void *ud, const struct trl_alert_row *r)
{
    (void)ud;
    char last[TRL_RFC3339_MAX];
    trl_format_rfc3339(r->last_seen_ns, last);
    last[19] = '\0'; /* seconds are enough on a terminal */
    last[10] = ' ';
    printf("%-6lld %-19s %-13s %-12s %6lld  %-16.16s %s %s\n", (long long)r->id, last,
           r->level ? r->level : "-", r->status, (long long)r->count, r->host ? r->host : "-",
           r->title, r->group_by_json && strcmp(r->group_by_json, "{}") ? r->group_by_json : "");
}

static int set_status(int argc, char **argv)
{
    const char *status = !strcmp(argv[0], "ack")     ? "acknowledged"
                         : !strcmp(argv[0], "close") ? "closed"
                                                     : "new";
    const char *data = NULL;
    int rc = 0, changed = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) {
            data = argv[++i];
        }
    }
    struct trl_alert_store *s = trl_alert_store_open(trl_cli_data_dir(data), 0, false);
    if (!s)
        return 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data")) {
            i++;
            continue;
        }
        int64_t id;
        if (!trl_parse_i64(argv[i], strlen(argv[i]), &id)) {
            fprintf(stderr, "trapline alerts: '%s' is not an alert id\n", argv[i]);
            rc = 2;
            continue;
        }
        int r = trl_alert_store_set_status(s, id, status);
        if (r != 0) {
            fprintf(stderr, "trapline alerts: alert %s: %s\n", argv[i],
                    r == -2 ? "no such alert" : trl_strerror(r));
            rc = 1;
        } else {
            changed++;
        }
    }
    trl_alert_store_close(s);
    if (changed)
        printf("%d alert%s marked %s\n", changed, changed == 1 ? "" : "s", status);
    return rc;
}

int trl_cmd_alerts(int argc, char **argv)
{
    if (argc > 1 &&
        (!strcmp(argv[1], "ack") || !strcmp(argv[1], "close") || !strcmp(argv[1], "reopen")))
        return set_status(argc - 1, argv + 1);
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"limit", required_argument, NULL, 'l'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *data = NULL;
    bool json = !isatty(1);
    struct trl_alert_filter f = {.limit = 100};
    int64_t now = trl_now_ns();
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 'f':
        case 't': {
            int64_t *dst = c == 'f' ? &f.from_ns : &f.to_ns;
            if (trl_parse_time_arg(optarg, now, c == 't', dst) != 0) {
                fprintf(stderr, "trapline alerts: bad time '%s' (RFC 3339, a date, or -15m)\n",
                        optarg);
                return 2;
            }
            break;
        }
        case 'l': {
            uint64_t v;
            if (!trl_parse_u64(optarg, strlen(optarg), &v) || v == 0) {
                fprintf(stderr, "trapline alerts: --limit needs a positive number\n");
                return 2;
            }
            f.limit = (size_t)v;
            break;
        }
        case 'o':
            if (trl_cli_output_json("alerts", optarg, &json))
                return 2;
            break;
        default:
            return trl_cli_help_or_usage(c, usage);
        }
    }
    struct trl_buf text = {0};
    for (int i = optind; i < argc; i++) {
        const char *w = argv[i];
        if (!strncmp(w, "level:", 6))
            f.level = w + 6;
        else if (!strncmp(w, "status:", 7))
            f.status = w + 7;
        else if (!strncmp(w, "rule:", 5))
            f.rule = w + 5;
        else if (!strncmp(w, "host:", 5))
            f.host = w + 5;
        else {
            if (text.len)
                trl_buf_putc(&text, ' ');
            trl_buf_puts(&text, w);
        }
    }
    f.text = text.len ? text.data : NULL;
    struct trl_alert_store *s = trl_alert_store_open(trl_cli_data_dir(data), 0, true);
    if (!s) {
        trl_buf_free(&text);
        fprintf(stderr, "trapline alerts: no alerts yet in %s\n", trl_cli_data_dir(data));
        return 1;
    }
    struct trl_buf b = {0};
    bool table = !json;
    if (table)
        printf("%-6s %-19s %-13s %-12s %6s  %-16s %s\n", "ID", "LAST SEEN (UTC)", "LEVEL", "STATUS",
               "COUNT", "HOST", "TITLE");
    long n = trl_alert_store_list(s, &f, table ? print_row : print_json, &b);
    trl_alert_store_close(s);
    trl_buf_free(&b);
    trl_buf_free(&text);
    if (n < 0) {
        fprintf(stderr, "trapline alerts: cannot read the alert store\n");
        return 1;
    }
    return 0;
}

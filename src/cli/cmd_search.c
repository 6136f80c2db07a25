/*
 * `trapline search`: runs a query over the event store and prints the matching events newest
 * first, or the rows of its pipeline (stats, top, timechart, fields, sort, head), as JSON lines, a
 * table or CSV. Exit status 0 (with or without results), 1 when the store
 * cannot be read, 2 for usage and query syntax errors.
 */
#include "cli/cli.h"
#include "cli/common.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "store/json_leaves.h"
#include "store/pipes.h"
#include "store/query.h"
#include "store/store_read.h"
#include "store/timearg.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

enum output { OUT_JSON, OUT_TABLE, OUT_CSV };

/* Columns of the table and CSV outputs; the message falls back to event.original. */
static const char *const columns[] = {"@timestamp", "host.name", "event.action",
                                      "user.name",  "source.ip", "message"};
#define NCOLS 6
static const int table_width[NCOLS] = {19, 14, 22, 12, 15, 0};

struct out_ctx {
    enum output fmt;
    unsigned width; /* terminal columns for the table */
    struct trl_leaves leaves;
    struct trl_buf line;
    uint64_t printed;
    /* A pipeline's rows: their columns (none when the rows are whole events). */
    const char *cols[TRL_PIPE_MAX_FIELDS + 4];
    size_t ncols;
    struct trl_pipe_run *run;
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: trapline search [options] [QUERY]\n"
        "\n"
        "Searches the event store; prints matching events newest first.\n"
        "\n"
        "query:\n"
        "  failed password              words anywhere in the event (case-insensitive, AND)\n"
        "  \"failed password for root\"   a phrase\n"
        "  user.name:root               a field's value (ECS dotted names)\n"
        "  process.name:ssh*  url.path:*admin*   wildcards; source.ip:* means the field exists\n"
        "  user.name:(root OR admin)    several values of one field\n"
        "  a AND (b OR c) NOT d         operators in capitals; words side by side mean AND\n"
        "  source.ip:10.0.0.0/8         an address block (IPv4 or IPv6)\n"
        "  http.response.status_code>=500   comparisons > >= < <= (numbers, RFC 3339 times)\n"
        "  destination.port:[1 TO 1023] an inclusive range (* leaves an end open)\n"
        "\n"
        "pipes (after the query; aggregations read every match in the range, not --limit):\n"
        "  | stats count [by f1, f2]    | top N field    | timechart span=1h count [by f]\n"
        "  | fields f1, f2             | sort field [desc]    | head N\n"
        "  quote values holding ':' or spaces: url.original:\"http://x/\"\n"
        "\n"
        "options:\n"
        "  --data DIR       data directory (default: $TRAPLINE_DATA, else %s)\n"
        "  --from T         start of the time range (default -24h)\n"
        "  --to T           end of the time range (default now)\n"
        "                   T: RFC 3339 (2024-07-09T22:40:03Z), a date (2024-07-09; as --to\n"
        "                   the end of that day), now, or before now: -30s -15m -24h -7d -2w\n"
        "  --limit N        print at most N events (default 100; 0 = all)\n"
        "  --output FMT     json (one object per line), table, or csv (default: table on a\n"
        "                   terminal, json otherwise)\n"
        "  --stats          print what the search read on stderr\n"
        "  -h, --help       this text\n",
        trl_cli_default_data_dir());
}

static const char *leaf_value(const struct trl_leaves *l, const char *path, size_t *len)
{
    size_t plen = strlen(path);
    for (size_t i = 0; i < l->n; i++) {
        const struct trl_leaf *f = &l->items[i];
        if (f->path_len == plen && !memcmp(trl_leaf_path(l, f), path, plen)) {
            *len = f->val_len;
            return trl_leaf_val(l, f);
        }
    }
    return NULL;
}

/* Appends at most max bytes of v (max 0: all) without cutting a UTF-8 sequence, with every
 * control byte shown as a space: log contents must not drive the terminal. */
static void put_plain(struct trl_buf *b, const char *v, size_t len, size_t max)
{
    if (max && len > max) {
        len = max;
        while (len > 0 && ((unsigned char)v[len] & 0xC0) == 0x80)
            len--;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        trl_buf_putc(b, c < 0x20 || c == 0x7f ? ' ' : (char)c);
    }
}

static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static void column_value(const struct out_ctx *o, int col, const char **v, size_t *len)
{
    *v = leaf_value(&o->leaves, columns[col], len);
    if (!*v && col == NCOLS - 1)
        *v = leaf_value(&o->leaves, "event.original", len);
    if (!*v) {
        *v = "";
        *len = 0;
    }
}

static void print_table_row(struct out_ctx *o)
{
    struct trl_buf *b = &o->line;
    trl_buf_reset(b);
    size_t used = 0;
    for (int c = 0; c < NCOLS; c++) {
        const char *v;
        size_t len;
        column_value(o, c, &v, &len);
        if (c == 0 && len >= 19) {
            /* 2024-07-09T22:40:03.123456789Z -> 2024-07-09 22:40:03 */
            trl_buf_append(b, v, 10);
            trl_buf_putc(b, ' ');
            trl_buf_append(b, v + 11, 8);
            trl_buf_putc(b, ' ');
            used += 20;
            continue;
        }
        if (table_width[c]) {
            size_t start = b->len;
            put_plain(b, len ? v : "-", len ? len : 1, (size_t)table_width[c]);
            size_t shown = utf8_chars(b->data + start, b->len - start);
            for (size_t k = shown; k < (size_t)table_width[c] + 1; k++)
                trl_buf_putc(b, ' ');
            used += (size_t)table_width[c] + 1;
        } else {
            size_t room = o->width > used + 10 ? o->width - used : 10;
            put_plain(b, v, len, room);
        }
    }
    trl_buf_putc(b, '\n');
    fwrite(b->data, 1, b->len, stdout);
}

static void print_table_header(const struct out_ctx *o)
{
    (void)o;
    printf("%-19s %-14s %-22s %-12s %-15s %s\n", "TIME (UTC)", "HOST", "ACTION", "USER", "SOURCE",
           "MESSAGE");
}

/* RFC 4180 field; a value a spreadsheet would run as a formula gets a leading quote. */
static void put_csv(struct trl_buf *b, const char *v, size_t len)
{
    bool formula = len > 0 && strchr("=+-@\t\r", v[0]);
    trl_buf_putc(b, '"');
    if (formula)
        trl_buf_putc(b, '\'');
    for (size_t i = 0; i < len; i++) {
        if (v[i] == '"')
            trl_buf_putc(b, '"');
        trl_buf_putc(b, v[i]);
    }
    trl_buf_putc(b, '"');
}

static void print_csv_row(struct out_ctx *o)
{
    struct trl_buf *b = &o->line;
    trl_buf_reset(b);
    for (int c = 0; c < NCOLS; c++) {
        const char *v;
        size_t len;
        column_value(o, c, &v, &len);
        if (c)
            trl_buf_putc(b, ',');
        put_csv(b, v, len);
    }
    trl_buf_append(b, "\r\n", 2);
    fwrite(b->data, 1, b->len, stdout);
}

static int on_hit(void *ud, int64_t ts, const char *json, size_t len)
{
    (void)ts;
    struct out_ctx *o = ud;
    if (o->fmt == OUT_JSON) {
        fwrite(json, 1, len, stdout);
        putchar('\n');
    } else {
        trl_leaves_reset(&o->leaves);
        (void)trl_json_leaves(json, len, &o->leaves);
        if (o->fmt == OUT_TABLE)
            print_table_row(o);
        else
            print_csv_row(o);
    }
    o->printed++;
    return ferror(stdout) ? -EIO : 0;
}

/* Width of a pipeline column in the table: room for the name, within reason. */
static size_t row_col_width(const char *name)
{
    size_t n = strlen(name) + 2;
    return n < 16 ? 16 : n > 40 ? 40 : n;
}

static void print_row_header(const struct out_ctx *o)
{
    struct trl_buf b = {0};
    for (size_t c = 0; c < o->ncols; c++) {
        if (o->fmt == OUT_CSV) {
            /* Field names are letters, digits and ._@- only: no quoting needed. */
            if (c)
                trl_buf_putc(&b, ',');
            trl_buf_puts(&b, o->cols[c]);
            continue;
        }
        size_t start = b.len;
        put_plain(&b, o->cols[c], strlen(o->cols[c]), 0);
        if (c + 1 < o->ncols)
            for (size_t k = b.len - start; k < row_col_width(o->cols[c]); k++)
                trl_buf_putc(&b, ' ');
    }
    trl_buf_puts(&b, o->fmt == OUT_CSV ? "\r\n" : "\n");
    fwrite(b.data, 1, b.len, stdout);
    trl_buf_free(&b);
}

/* One row of a pipeline as table or CSV: each column's values (an array's joined by ','). */
static void print_row(struct out_ctx *o)
{
    struct trl_buf *b = &o->line;
    struct trl_buf v = {0};
    trl_buf_reset(b);
    for (size_t c = 0; c < o->ncols; c++) {
        trl_buf_reset(&v);
        trl_buf_putc(&v, '\0');
        v.len = 0;
        size_t plen = strlen(o->cols[c]);
        for (size_t i = 0; i < o->leaves.n; i++) {
            const struct trl_leaf *f = &o->leaves.items[i];
            if (f->path_len != plen || strncasecmp(trl_leaf_path(&o->leaves, f), o->cols[c], plen))
                continue;
            if (v.len)
                trl_buf_putc(&v, ',');
            trl_buf_append(&v, trl_leaf_val(&o->leaves, f), f->val_len);
        }
        if (o->fmt == OUT_CSV) {
            if (c)
                trl_buf_putc(b, ',');
            put_csv(b, v.data, v.len);
            continue;
        }
        size_t w = row_col_width(o->cols[c]);
        bool last = c + 1 == o->ncols;
        size_t start = b->len;
        put_plain(b, v.len ? v.data : "-", v.len ? v.len : 1, last ? 0 : w - 1);
        if (!last)
            for (size_t k = utf8_chars(b->data + start, b->len - start); k < w; k++)
                trl_buf_putc(b, ' ');
    }
    trl_buf_puts(b, o->fmt == OUT_CSV ? "\r\n" : "\n");
    fwrite(b->data, 1, b->len, stdout);
    trl_buf_free(&v);
}

static int on_row(void *ud, int64_t ts, const char *json, size_t len)
{
    struct out_ctx *o = ud;
    if (o->ncols == 0 || o->fmt == OUT_JSON)
        return on_hit(ud, ts, json, len);
    trl_leaves_reset(&o->leaves);
    (void)trl_json_leaves(json, len, &o->leaves);
    print_row(o);
    o->printed++;
    return ferror(stdout) ? -EIO : 0;
}

/* Feeds a matching event into the pipeline; TRL_PIPE_STOP ends the search early. */
static int on_piped_hit(void *ud, int64_t ts, const char *json, size_t len)
{
    struct out_ctx *o = ud;
    return trl_pipe_run_push(o->run, ts, json, len);
}

static void print_syntax_error(const char *query, const struct trl_query_error *e)
{
    fprintf(stderr, "trapline search: syntax error at column %u: %s\n", e->column, e->message);
    /* Show the query with a caret under the column, if it fits on a line. */
    size_t len = strlen(query);
    if (len > 200 || memchr(query, '\n', len))
        return;
    fprintf(stderr, "  ");
    for (size_t i = 0; i < len; i++)
        fputc((unsigned char)query[i] < 0x20 ? ' ' : query[i], stderr);
    fprintf(stderr, "\n  %*s^\n", (int)(e->column - 1), "");
}

static unsigned terminal_width(void)
{
    struct winsize ws;
    if (ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    uint64_t v;
    if (c && trl_parse_u64(c, strlen(c), &v) && v >= 40 && v <= 1000)
        return (unsigned)v;
    return 160;
}

/* The query words after the options, joined by spaces (so both `search a b` and
 * `search "a b"` work). */
static char *join_args(int argc, char **argv, int from)
{
    size_t n = 1;
    for (int i = from; i < argc; i++)
        n += strlen(argv[i]) + 1;
    char *q = trl_xmalloc(n);
    q[0] = '\0';
    for (int i = from; i < argc; i++) {
        if (i > from)
            strcat(q, " ");
        strcat(q, argv[i]);
    }
    return q;
}

int trl_cmd_search(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},   {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},     {"limit", required_argument, NULL, 'l'},
        {"output", required_argument, NULL, 'o'}, {"stats", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},         {0, 0, 0, 0},
    };
    const char *data = NULL, *from_s = "-24h", *to_s = "now";
    uint64_t limit = 100;
    bool stats = false;
    struct out_ctx o = {.fmt = isatty(1) ? OUT_TABLE : OUT_JSON};
    int c;
    optind = 1;
    /* Options may follow the query words; "--" ends the options when a word starts with '-'. */
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 'f':
            from_s = optarg;
            break;
        case 't':
            to_s = optarg;
            break;
        case 'l':
            if (!trl_parse_u64(optarg, strlen(optarg), &limit) || limit > 100000000) {
                fprintf(stderr, "trapline search: --limit: a number from 0 to 100000000\n");
                return 2;
            }
            break;
        case 'o':
            if (!strcmp(optarg, "json"))
                o.fmt = OUT_JSON;
            else if (!strcmp(optarg, "table"))
                o.fmt = OUT_TABLE;
            else if (!strcmp(optarg, "csv"))
                o.fmt = OUT_CSV;
            else {
                fprintf(stderr, "trapline search: --output: json, table or csv\n");
                return 2;
            }
            break;
        case 's':
            stats = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    int64_t now = trl_now_ns(), from, to;
    if (trl_parse_time_arg(from_s, now, false, &from) != 0) {
        fprintf(stderr, "trapline search: --from: cannot read time '%s'\n", from_s);
        return 2;
    }
    if (trl_parse_time_arg(to_s, now, true, &to) != 0) {
        fprintf(stderr, "trapline search: --to: cannot read time '%s'\n", to_s);
        return 2;
    }
    if (from >= to) {
        fprintf(stderr, "trapline search: the time range is empty (--from is not before --to)\n");
        return 2;
    }
    char *text = join_args(argc, argv, optind);
    struct trl_query *q = NULL;
    struct trl_query_error err;
    if (trl_query_parse(text, strlen(text), &q, &err) != 0) {
        print_syntax_error(text, &err);
        free(text);
        return 2;
    }
    free(text);
    const char *dir = trl_cli_data_dir(data);
    struct trl_store_reader *r = NULL;
    int rc = trl_store_reader_open(dir, &r);
    if (rc != 0) {
        fprintf(stderr, "trapline search: no event store in %s/events: %s\n", dir,
                trl_strerror(rc));
        trl_query_free(q);
        return 1;
    }
    /* A long search, or an aggregation by columns, runs on one thread per processor. */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    trl_store_reader_set_threads(r, ncpu < 1 ? 1 : (unsigned)ncpu);
    trl_store_reader_map_files(r, true);
    o.width = terminal_width();
    trl_leaves_init(&o.leaves);
    if (q->pipeline)
        o.ncols = trl_pipeline_columns(q->pipeline, o.cols, sizeof(o.cols) / sizeof(o.cols[0]));
    if (o.ncols && o.fmt != OUT_JSON)
        print_row_header(&o);
    else if (o.fmt == OUT_TABLE)
        print_table_header(&o);
    else if (o.fmt == OUT_CSV)
        printf("%s,%s,%s,%s,%s,%s\r\n", columns[0], columns[1], columns[2], columns[3], columns[4],
               columns[5]);
    struct trl_store_search_opts so = {from, to, (size_t)limit};
    struct trl_store_search_stats st;
    int64_t t0 = trl_mono_ns();
    bool cut = false;
    if (q->pipeline) {
        o.run = trl_pipe_run_create(q->pipeline, 0, on_row, &o);
        if (trl_pipeline_needs_all(q->pipeline))
            rc = trl_store_scan_pipe(r, q, &so, o.run, q->pipeline, &st);
        else
            rc = trl_store_search(r, q, &so, on_piped_hit, &o, &st);
        if (rc == TRL_PIPE_STOP)
            rc = 0;
        if (rc == 0)
            rc = trl_pipe_run_finish(o.run);
        cut = trl_pipe_run_cut(o.run);
        trl_pipe_run_destroy(o.run);
    } else {
        rc = trl_store_search(r, q, &so, on_hit, &o, &st);
    }
    double ms = (double)(trl_mono_ns() - t0) / 1e6;
    fflush(stdout);
    if (rc != 0)
        fprintf(stderr, "trapline search: %s\n", trl_strerror(rc));
    if (st.blocks_unreadable)
        fprintf(stderr,
                "trapline search: %llu blocks could not be read and were skipped; run "
                "`trapline verify`\n",
                (unsigned long long)st.blocks_unreadable);
    if (cut)
        fprintf(stderr,
                "trapline search: sort kept the first %d rows only; narrow the query or "
                "the time range\n",
                TRL_PIPE_SORT_CAP);
    if (stats || (isatty(2) && o.fmt == OUT_TABLE)) {
        fprintf(stderr, "%llu %s%s in %.1f ms", (unsigned long long)o.printed,
                q->pipeline ? "rows" : "events",
                st.more ? " (limit reached: older events may match; see --limit, --to)" : "", ms);
        if (stats)
            fprintf(stderr,
                    "; partitions %u, blocks %llu (skipped by index %llu, decoded %llu), "
                    "events tested %llu, matched %llu",
                    st.partitions, (unsigned long long)st.blocks,
                    (unsigned long long)st.blocks_skipped_index,
                    (unsigned long long)st.blocks_decoded, (unsigned long long)st.events_scanned,
                    (unsigned long long)st.events_matched);
        fputc('\n', stderr);
    }
    trl_leaves_free(&o.leaves);
    trl_buf_free(&o.line);
    trl_store_reader_close(r);
    trl_query_free(q);
    return rc != 0 || st.blocks_unreadable ? 1 : 0;
}

/*
 * `trapline ioc`: the threat-intelligence indicator database.
 *
 *   trapline ioc import [--data DIR] [--source NAME] [--format FMT] [--confidence N]
 *                       [--valid-for DAYS] FILE...
 *   trapline ioc list [--data DIR] [--output json|table] [--limit N] [--active] [QUERY...]
 *   trapline ioc remove [--data DIR] ID...
 *   trapline ioc match [--data DIR] [--format FMT] [--at TIME] [--enrich] FILE...
 *   trapline ioc hunt, trapline ioc feeds: see cmd_ioc_hunt.c
 *   trapline ioc export: see cmd_ioc_export.c
 *
 * import reads feeds and exports (format detected by content unless given) into DATA/ioc.db and
 * prints, per file, what was imported and why records were skipped. match runs log lines through
 * the normal parsers and prints every indicator hit as a JSON line (or, with --enrich, the enriched
 * events), which makes it the tool to check a feed against logs.
 */
#include "cli/cmd_ioc.h"
#include "cli/common.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/event.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "formats/json_encode.h"
#include "formats/parse.h"
#include "ioc/feed.h"
#include "ioc/iocdb.h"
#include "ioc/matcher.h"
#include "store/timearg.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Larger inputs are refused rather than read into memory whole. */
#define MAX_INPUT (1024L * 1024 * 1024)
/* Problems printed per file; the rest are counted. */
#define SHOW_PROBLEMS 5

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: trapline ioc import [options] FILE...   add indicators from feeds and exports\n"
        "       trapline ioc list [options] [QUERY...]  list indicators\n"
        "       trapline ioc remove [--data DIR] ID...  remove indicators by id\n"
        "       trapline ioc match [options] FILE...    match log lines, print hits as JSON\n"
        "       trapline ioc hunt [options] [VALUE...]  search stored events for indicators\n"
        "       trapline ioc feeds [--data DIR]         feeds: last import, count, last error\n"
        "       trapline ioc export [options]           indicators and sightings as STIX 2.1\n\n"
        "import options:\n"
        "  --source NAME      feed name stored with each indicator (default: the format's\n"
        "                     name; for lists, the file's name)\n"
        "  --format FMT       auto (default), stix, misp, misp-feed, misp-csv, freetext,\n"
        "                     feodo, urlhaus, threatfox, spamhaus, list\n"
        "  --confidence N     confidence (0-100) for records that state none (default 50)\n"
        "  --valid-for DAYS   expire indicators that carry no end of validity after DAYS\n"
        "  --hunt[=SINCE]     then search the events stored since SINCE (default -30d) for\n"
        "                     the indicators imported (see trapline ioc hunt --help)\n"
        "list options:\n"
        "  --output FMT       json (one indicator per line) or table (default on a terminal)\n"
        "  --limit N          at most N indicators (default 1000; 0: all)\n"
        "  --active           only indicators valid now\n"
        "  QUERY words: type:ip|hash|ipv4|ipv6|cidr|domain|url|md5|sha1|sha256|email|\n"
        "               filename|user-agent, source:NAME, id:ID, tag:TEXT; any other word\n"
        "               must appear in the value\n"
        "match options:\n"
        "  --format FMT       log format (auto, rfc3164, rfc5424, json, ...; default auto)\n"
        "  --at TIME          check validity at TIME (RFC 3339, a date, now, -7d) instead of\n"
        "                     each event's time\n"
        "  --enrich           print each matching event with threat.indicator.* fields\n"
        "common:\n"
        "  --data DIR         data directory (default: $TRAPLINE_DATA, else %s)\n",
        trl_cli_default_data_dir());
}

static int read_input(const char *path, struct trl_buf *b)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f)
        return -errno;
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b->len + n > (size_t)MAX_INPUT) {
            rc = -EFBIG;
            break;
        }
        trl_buf_append(b, chunk, n);
    }
    if (ferror(f))
        rc = -EIO;
    if (f != stdin)
        fclose(f);
    if (!b->data)
        trl_buf_append(b, "", 0);
    return rc;
}

/* ---- import ---- */

struct import {
    struct trl_iocdb *db;
    int64_t now;
    int64_t valid_for_ns;
    const char *prefix; /* put before item numbers (the event file of a MISP feed) */
    size_t created, updated, db_errors;
    size_t problems;
    size_t shown;
};

static int import_indicator(void *ud, const struct trl_ioc *ioc)
{
    struct import *im = ud;
    struct trl_ioc copy = *ioc;
    if (im->valid_for_ns && !copy.valid_until_ns)
        copy.valid_until_ns = im->now + im->valid_for_ns;
    bool created = false;
    int rc = trl_iocdb_upsert(im->db, &copy, im->now, &created);
    if (rc < 0) {
        im->db_errors++;
        return rc;
    }
    if (created)
        im->created++;
    else
        im->updated++;
    return 0;
}

static void import_problem(void *ud, size_t item, const char *reason, bool skipped)
{
    struct import *im = ud;
    im->problems++;
    if (im->shown >= SHOW_PROBLEMS)
        return;
    im->shown++;
    if (item)
        printf("  %s%sitem %zu: %s%s\n", im->prefix ? im->prefix : "", im->prefix ? ": " : "", item,
               skipped ? "" : "(note) ", reason);
    else
        printf("  %s%s%s\n", im->prefix ? im->prefix : "", im->prefix ? ": " : "", reason);
}

/* The default feed name of a list-like file: its base name without the extension. */
static char *name_from_path(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char *name = trl_xstrdup(*base && strcmp(base, "-") ? base : "list");
    char *dot = strrchr(name, '.');
    if (dot && dot != name)
        *dot = '\0';
    return name;
}

struct feed_dir {
    const char *dir;
    struct trl_ioc_parse_opts *opts;
    struct trl_ioc_sink *sink;
    struct import *im;
    int failed;
};

static int import_feed_event(void *ud, const char *uuid)
{
    struct feed_dir *fd = ud;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.json", fd->dir, uuid);
    struct trl_buf b = {0};
    int rc = read_input(path, &b);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "%s.json", uuid);
    fd->im->prefix = prefix;
    if (rc != 0) {
        import_problem(fd->im, 0, strerror(-rc), true);
        fd->sink->skipped++;
        fd->failed++;
    } else {
        rc = trl_ioc_parse_misp(b.data, b.len, fd->opts, fd->sink);
        if (rc == TRL_EINVAL)
            fd->failed++;
    }
    fd->im->prefix = NULL;
    trl_buf_free(&b);
    return rc < 0 && rc != TRL_EINVAL ? rc : 0;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int import_file(struct import *im, const char *path, int format, const char *source,
                       int confidence)
{
    struct trl_ioc_parse_opts opts = {.source = source, .confidence = confidence};
    struct trl_ioc_sink sink = {
        .indicator = import_indicator,
        .problem = import_problem,
        .ud = im,
    };
    char *dir = NULL, *default_name = NULL;
    struct trl_buf b = {0};
    int rc = 0;
    im->created = im->updated = im->db_errors = im->problems = im->shown = 0;

    if (is_dir(path)) {
        dir = trl_xstrdup(path);
        format = TRL_IOC_FMT_MISP_FEED;
    } else {
        int r = read_input(path, &b);
        if (r != 0) {
            fprintf(stderr, "trapline ioc import: cannot read %s: %s\n", path,
                    r == -EFBIG ? "larger than 1 GiB" : strerror(-r));
            return 1;
        }
        if (format == TRL_IOC_FMT_AUTO) {
            char why[256];
            format = trl_ioc_detect_format(b.data, b.len, why, sizeof(why));
            if (format == TRL_IOC_FMT_AUTO) {
                printf("%s: not imported: %s\n", path, why);
                trl_buf_free(&b);
                return 1;
            }
        }
        if (format == TRL_IOC_FMT_MISP_FEED) {
            const char *slash = strrchr(path, '/');
            dir = slash ? trl_xstrndup(path, (size_t)(slash - path)) : trl_xstrdup(".");
        }
    }
    if (!source && (format == TRL_IOC_FMT_LIST || format == TRL_IOC_FMT_FREETEXT ||
                    format == TRL_IOC_FMT_MISP_CSV)) {
        default_name = name_from_path(path);
        opts.source = default_name;
    }
    const char *feed = opts.source ? opts.source : trl_ioc_format_name(format);
    if (format == TRL_IOC_FMT_MISP_FEED && !source)
        feed = opts.source = "misp";

    if (trl_iocdb_begin(im->db) != 0) {
        rc = 1;
        goto out;
    }
    printf("%s: %s, source '%s'\n", path, trl_ioc_format_name(format), feed);
    int prc;
    bool whole_failed = false;
    if (format == TRL_IOC_FMT_MISP_FEED) {
        char mpath[4096];
        snprintf(mpath, sizeof(mpath), "%s/manifest.json", dir);
        struct trl_buf mb = {0};
        int r = read_input(mpath, &mb);
        if (r != 0) {
            printf("  cannot read %s: %s\n", mpath, strerror(-r));
            trl_buf_free(&mb);
            whole_failed = true;
            prc = TRL_EINVAL;
        } else {
            struct feed_dir fd = {.dir = dir, .opts = &opts, .sink = &sink, .im = im};
            prc = trl_ioc_parse_misp_manifest(mb.data, mb.len, import_feed_event, &fd, &sink);
            whole_failed = prc == TRL_EINVAL;
            trl_buf_free(&mb);
        }
    } else {
        prc = trl_ioc_parse((enum trl_ioc_format)format, b.data, b.len, &opts, &sink);
        whole_failed = prc == TRL_EINVAL;
    }
    if (im->db_errors) {
        trl_iocdb_rollback(im->db);
        printf("  database error: nothing imported from this file\n");
        rc = 1;
        goto out;
    }
    if (trl_iocdb_commit(im->db) != 0) {
        rc = 1;
        goto out;
    }
    if (im->problems > im->shown)
        printf("  ... and %zu more\n", im->problems - im->shown);
    printf("  %zu indicators imported (%zu new, %zu updated), %zu records skipped, %zu notes, "
           "%zu context records\n",
           im->created + im->updated, im->created, im->updated, sink.skipped, sink.notes,
           sink.context);
    trl_iocdb_feed_update(im->db, feed, trl_ioc_format_name(format), NULL, im->now,
                          whole_failed ? "the input could not be read as the format" : NULL);
    if (whole_failed)
        rc = 1;
out:
    free(dir);
    free(default_name);
    trl_buf_free(&b);
    return rc;
}

static int cmd_import(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"source", required_argument, NULL, 's'},
        {"format", required_argument, NULL, 'f'},
        {"confidence", required_argument, NULL, 'c'},
        {"valid-for", required_argument, NULL, 'v'},
        {"hunt", optional_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *data = NULL, *source = NULL;
    bool hunt = false;
    int64_t hunt_from = 0;
    int format = TRL_IOC_FMT_AUTO, confidence = -1, c;
    uint64_t u;
    struct import im = {.now = trl_now_ns()};
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 's':
            if (!*optarg) {
                fprintf(stderr, "trapline ioc import: --source needs a name\n");
                return 2;
            }
            source = optarg;
            break;
        case 'f':
            format = trl_ioc_format_from_name(optarg);
            if (format < 0) {
                fprintf(stderr, "trapline ioc import: unknown format '%s'\n", optarg);
                return 2;
            }
            break;
        case 'c':
            if (!trl_parse_u64(optarg, strlen(optarg), &u) || u > 100) {
                fprintf(stderr, "trapline ioc import: --confidence needs 0-100\n");
                return 2;
            }
            confidence = (int)u;
            break;
        case 'v':
            if (!trl_parse_u64(optarg, strlen(optarg), &u) || u == 0 || u > 36500) {
                fprintf(stderr, "trapline ioc import: --valid-for needs a number of days\n");
                return 2;
            }
            im.valid_for_ns = (int64_t)u * 86400 * TRL_NS_PER_SEC;
            break;
        case 'H':
            hunt = true;
            hunt_from = im.now - 30LL * 86400 * TRL_NS_PER_SEC;
            if (optarg && trl_parse_time_arg(optarg, im.now, false, &hunt_from) != 0) {
                fprintf(stderr, "trapline ioc import: --hunt=SINCE: a time (RFC 3339, a date, "
                                "-7d)\n");
                return 2;
            }
            break;
        default:
            return trl_cli_help_or_usage(c, usage);
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "trapline ioc import: no input files\n");
        return 2;
    }
    const char *dir = trl_cli_data_dir(data);
    if (trl_cli_ensure_dir(dir) != 0)
        return 1;
    im.db = trl_iocdb_open(dir, false);
    if (!im.db)
        return 1;
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        if (import_file(&im, argv[i], format, source, confidence) != 0)
            rc = 1;
    }
    long total = trl_iocdb_count(im.db, NULL);
    if (total >= 0)
        printf("%ld indicators in %s/ioc.db\n", total, dir);
    trl_iocdb_close(im.db);
    /* Every indicator this run imported (new or updated) was stamped with im.now. */
    if (hunt && trl_ioc_run_hunt(dir, hunt_from, trl_now_ns() + 1, NULL, 0, im.now, 0) != 0)
        rc = 1;
    return rc;
}

/* ---- list ---- */

static void put_time(struct trl_buf *b, const char *key, int64_t ns)
{
    if (!ns) {
        trl_buf_printf(b, ",\"%s\":null", key);
        return;
    }
    char t[TRL_RFC3339_MAX];
    trl_format_rfc3339(ns, t);
    trl_buf_printf(b, ",\"%s\":\"%s\"", key, t);
}

static void put_str(struct trl_buf *b, const char *key, const char *v)
{
    trl_buf_printf(b, ",\"%s\":", key);
    if (v)
        trl_json_append_string(b, v, strlen(v));
    else
        trl_buf_puts(b, "null");
}

struct list_ctx {
    struct trl_buf out;
    bool table;
    int64_t now;
};

static int print_row(void *ud, const struct trl_iocdb_row *r)
{
    struct list_ctx *c = ud;
    const struct trl_ioc *i = &r->ioc;
    if (c->table) {
        char until[TRL_RFC3339_MAX] = "-";
        if (i->valid_until_ns) {
            trl_format_rfc3339(i->valid_until_ns, until);
            until[10] = '\0';
        }
        bool expired = i->valid_until_ns && i->valid_until_ns <= c->now;
        printf("%-47.47s %-10s %-12.12s %4d %-10s%s %s\n", i->id, trl_ioc_type_name(i->type),
               i->source, i->confidence, until, expired ? "*" : " ", i->value);
        return 0;
    }
    struct trl_buf *b = &c->out;
    trl_buf_reset(b);
    trl_buf_puts(b, "{\"id\":");
    trl_json_append_string(b, i->id, strlen(i->id));
    put_str(b, "type", trl_ioc_type_name(i->type));
    put_str(b, "value", i->value);
    put_str(b, "source", i->source);
    trl_buf_printf(b, ",\"confidence\":%d", i->confidence);
    put_time(b, "valid_from", i->valid_from_ns);
    put_time(b, "valid_until", i->valid_until_ns);
    trl_buf_printf(b, ",\"tags\":%s,\"labels\":%s", r->tags_json ? r->tags_json : "[]",
                   r->labels_json ? r->labels_json : "[]");
    put_str(b, "description", i->description);
    put_time(b, "first_imported", r->first_imported_ns);
    put_time(b, "last_imported", r->last_imported_ns);
    trl_buf_puts(b, "}\n");
    fwrite(b->data, 1, b->len, stdout);
    return 0;
}

static int parse_type_word(const char *w, enum trl_ioc_type *types, size_t *n)
{
    static const enum trl_ioc_type ip[] = {TRL_IOC_IPV4, TRL_IOC_IPV6, TRL_IOC_CIDR};
    static const enum trl_ioc_type hash[] = {TRL_IOC_MD5, TRL_IOC_SHA1, TRL_IOC_SHA256};
    const enum trl_ioc_type *add = NULL;
    size_t count = 0;
    enum trl_ioc_type one;
    if (!strcmp(w, "ip")) {
        add = ip;
        count = 3;
    } else if (!strcmp(w, "hash")) {
        add = hash;
        count = 3;
    } else if ((one = trl_ioc_type_from_name(w, strlen(w))) != TRL_IOC_NONE) {
        add = &one;
        count = 1;
    } else {
        return -1;
    }
    for (size_t i = 0; i < count && *n < TRL_IOC_TYPE__COUNT * 2; i++)
        types[(*n)++] = add[i];
    return 0;
}

static int cmd_list(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},  {"output", required_argument, NULL, 'o'},
        {"limit", required_argument, NULL, 'l'}, {"active", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},        {0, 0, 0, 0},
    };
    const char *data = NULL;
    struct list_ctx ctx = {.table = isatty(1), .now = trl_now_ns()};
    enum trl_ioc_type types[TRL_IOC_TYPE__COUNT * 2];
    struct trl_iocdb_filter f = {.types = types, .limit = 1000};
    uint64_t u;
    bool json;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 'o':
            if (trl_cli_output_json("ioc list", optarg, &json))
                return 2;
            ctx.table = !json;
            break;
        case 'l':
            if (!trl_parse_u64(optarg, strlen(optarg), &u)) {
                fprintf(stderr, "trapline ioc list: --limit needs a number\n");
                return 2;
            }
            f.limit = (size_t)u;
            break;
        case 'a':
            f.valid_at = ctx.now;
            break;
        default:
            return trl_cli_help_or_usage(c, usage);
        }
    }
    for (int i = optind; i < argc; i++) {
        const char *w = argv[i];
        if (!strncmp(w, "type:", 5)) {
            if (parse_type_word(w + 5, types, &f.ntypes) != 0) {
                fprintf(stderr, "trapline ioc list: unknown type '%s'\n", w + 5);
                return 2;
            }
        } else if (!strncmp(w, "source:", 7)) {
            f.source = w + 7;
        } else if (!strncmp(w, "id:", 3)) {
            f.id = w + 3;
        } else if (!strncmp(w, "tag:", 4)) {
            f.tag = w + 4;
        } else if (f.text) {
            fprintf(stderr, "trapline ioc list: give one value text (have '%s' and '%s')\n", f.text,
                    w);
            return 2;
        } else {
            f.text = w;
        }
    }
    struct trl_iocdb *db = trl_cli_open_existing_iocdb("trapline ioc list", data, true);
    if (!db)
        return 1;
    if (ctx.table)
        printf("%-47s %-10s %-12s %4s %-10s  %s\n", "ID", "TYPE", "SOURCE", "CONF", "UNTIL",
               "VALUE");
    long n = trl_iocdb_list(db, &f, print_row, &ctx);
    trl_iocdb_close(db);
    trl_buf_free(&ctx.out);
    if (n < 0) {
        fprintf(stderr, "trapline ioc list: cannot read the indicator database\n");
        return 1;
    }
    if (ctx.table)
        printf("(%ld indicators%s)\n", n, f.limit && (size_t)n == f.limit ? ", limit reached" : "");
    return 0;
}

/* ---- remove ---- */

static int cmd_remove(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *data = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'd') {
            data = optarg;
        } else if (c == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "trapline ioc remove: no ids given\n");
        return 2;
    }
    struct trl_iocdb *db = trl_cli_open_existing_iocdb("trapline ioc remove", data, false);
    if (!db)
        return 1;
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        long n = trl_iocdb_remove(db, argv[i]);
        if (n < 0) {
            rc = 1;
        } else if (n == 0) {
            fprintf(stderr, "trapline ioc remove: no indicator with id '%s'\n", argv[i]);
            rc = 1;
        } else {
            printf("%s: %ld indicator%s removed\n", argv[i], n, n == 1 ? "" : "s");
        }
    }
    trl_iocdb_close(db);
    return rc;
}

/* ---- match ---- */

struct match_ctx {
    struct trl_buf out;
    const char *file;
    size_t line;
    size_t hits;
};

static int print_hit(void *ud, const struct trl_ioc_hit *h)
{
    struct match_ctx *c = ud;
    struct trl_buf *b = &c->out;
    trl_buf_reset(b);
    trl_buf_puts(b, "{\"file\":");
    trl_json_append_string(b, c->file, strlen(c->file));
    trl_buf_printf(b, ",\"line\":%zu", c->line);
    put_str(b, "field", h->field);
    trl_buf_puts(b, ",\"value\":");
    trl_json_append_string(b, h->matched, h->matched_len);
    trl_buf_puts(b, ",\"indicator\":{\"id\":");
    trl_json_append_string(b, h->id, strlen(h->id));
    put_str(b, "type", trl_ioc_type_name(h->type));
    put_str(b, "value", h->value);
    put_str(b, "source", h->source);
    trl_buf_printf(b, ",\"confidence\":%d,\"tags\":%s", h->confidence, h->tags_json);
    put_str(b, "description", h->description);
    trl_buf_puts(b, "}}\n");
    fwrite(b->data, 1, b->len, stdout);
    c->hits++;
    return 0;
}

static int cmd_match(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'}, {"format", required_argument, NULL, 'f'},
        {"at", required_argument, NULL, 't'},   {"enrich", no_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},       {0, 0, 0, 0},
    };
    const char *data = NULL;
    int format = TRL_FORMAT_AUTO, c;
    bool enrich = false;
    int64_t now = trl_now_ns(), at = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 'f':
            format = trl_format_from_name(optarg);
            if (format < 0) {
                fprintf(stderr, "trapline ioc match: unknown log format '%s'\n", optarg);
                return 2;
            }
            break;
        case 't':
            if (trl_parse_time_arg(optarg, now, false, &at) != 0) {
                fprintf(stderr, "trapline ioc match: bad time '%s' (RFC 3339, a date, -7d)\n",
                        optarg);
                return 2;
            }
            break;
        case 'e':
            enrich = true;
            break;
        default:
            return trl_cli_help_or_usage(c, usage);
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "trapline ioc match: no input files\n");
        return 2;
    }
    struct trl_iocdb *db = trl_cli_open_existing_iocdb("trapline ioc match", data, true);
    if (!db)
        return 1;
    struct trl_ioc_build_opts bo = {.now_ns = at ? at : now, .at_ns = at};
    struct trl_ioc_matcher *m;
    int64_t t0 = trl_mono_ns();
    int r = trl_iocdb_build_matcher(db, &bo, &m);
    trl_iocdb_close(db);
    if (r != 0) {
        fprintf(stderr, "trapline ioc match: cannot load indicators\n");
        return 1;
    }
    fprintf(stderr, "%zu indicators loaded in %.1f ms\n", trl_ioc_matcher_count(m),
            (double)(trl_mono_ns() - t0) / 1e6);
    struct match_ctx ctx = {0};
    struct trl_arena *arena = trl_arena_create(0);
    size_t lines = 0, events_hit = 0;
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        struct trl_buf in = {0};
        int rr = read_input(argv[i], &in);
        if (rr != 0) {
            fprintf(stderr, "trapline ioc match: cannot read %s: %s\n", argv[i],
                    rr == -EFBIG ? "larger than 1 GiB" : strerror(-rr));
            trl_buf_free(&in);
            rc = 1;
            continue;
        }
        ctx.file = argv[i];
        ctx.line = 0;
        const char *p = in.data, *end = in.data + in.len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
            ctx.line++;
            if (len && p[len - 1] == '\r')
                len--;
            if (len) {
                lines++;
                trl_arena_reset(arena);
                struct trl_event *ev = trl_event_create(arena, p, len, now);
                trl_parse_event(ev, (enum trl_format_id)format);
                int hits;
                if (enrich) {
                    hits = trl_ioc_enrich_event(m, ev);
                    if (hits) {
                        trl_buf_reset(&ctx.out);
                        trl_json_encode_event(ev, &ctx.out);
                        trl_buf_putc(&ctx.out, '\n');
                        fwrite(ctx.out.data, 1, ctx.out.len, stdout);
                        ctx.hits += (size_t)hits;
                    }
                } else {
                    hits = trl_ioc_match_event(m, ev, print_hit, &ctx);
                }
                events_hit += hits > 0;
            }
            p = nl ? nl + 1 : end;
        }
        trl_buf_free(&in);
    }
    fflush(stdout);
    fprintf(stderr, "%zu events, %zu with hits, %zu hits\n", lines, events_hit, ctx.hits);
    trl_arena_destroy(arena);
    trl_buf_free(&ctx.out);
    trl_ioc_matcher_unref(m);
    return rc;
}

int trl_cmd_ioc(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "import"))
        return cmd_import(argc - 1, argv + 1);
    if (!strcmp(argv[1], "list"))
        return cmd_list(argc - 1, argv + 1);
    if (!strcmp(argv[1], "remove"))
        return cmd_remove(argc - 1, argv + 1);
    if (!strcmp(argv[1], "match"))
        return cmd_match(argc - 1, argv + 1);
    if (!strcmp(argv[1], "hunt"))
        return trl_cmd_ioc_hunt(argc - 1, argv + 1);
    if (!strcmp(argv[1], "feeds"))
        return trl_cmd_ioc_feeds(argc - 1, argv + 1);
    if (!strcmp(argv[1], "export"))
        return trl_cmd_ioc_export(argc - 1, argv + 1);
    fprintf(stderr, "trapline ioc: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}

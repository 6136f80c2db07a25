/*
 * `trapline users` and `trapline tokens`: the accounts and API tokens of the web console and REST
 * API (DATA/users.db, see web/users.h).
 *
 *   trapline users add NAME --role ROLE [--password-stdin]
 *   trapline users passwd NAME [--password-stdin]
 *   trapline users remove NAME
 *   trapline users list
 *   trapline tokens create --name NAME --role ROLE
 *   trapline tokens list
 *   trapline tokens revoke ID
 *
 * Every form takes --data DIR. Passwords are asked for twice on a terminal (not echoed), or read
 * as one line from standard input with --password-stdin. Exit status 0, 1 on failure, 2 for
 * usage errors.
 */
#include "cli/cli.h"
#include "cli/common.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "web/http_parse.h"
#include "web/users.h"

#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

struct opts {
    const char *data;
    const char *role;
    const char *name;
    bool password_stdin;
    const char *verb;
    const char *arg;
};

static void users_usage(FILE *out)
{
    fprintf(out,
            "usage: trapline users add NAME --role admin|analyst|viewer [--password-stdin]\n"
            "       trapline users passwd NAME [--password-stdin]\n"
            "       trapline users remove NAME\n"
            "       trapline users list\n\n"
            "Web console and REST API accounts (DATA/users.db). Roles: admin (everything),\n"
            "analyst (search, alerts, rules, indicators), viewer (read only).\n\n"
            "options:\n"
            "  --data DIR         data directory (default: $TRAPLINE_DATA, else %s)\n"
            "  --password-stdin   read the password as one line from standard input\n",
            trl_cli_default_data_dir());
}

static void tokens_usage(FILE *out)
{
    fprintf(out,
            "usage: trapline tokens create --name NAME --role admin|analyst|viewer\n"
            "       trapline tokens list\n"
            "       trapline tokens revoke ID\n\n"
            "REST API tokens (sent as `Authorization: Bearer trl_...`). A token is shown once,\n"
            "when it is created; only its SHA-256 is kept.\n\n"
            "options:\n"
            "  --data DIR   data directory (default: $TRAPLINE_DATA, else %s)\n",
            trl_cli_default_data_dir());
}

/* Parses options and up to two words (verb, argument). 0, 1 (help shown) or 2 (usage error). */
static int parse(int argc, char **argv, struct opts *o, void (*usage)(FILE *))
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'}, {"role", required_argument, NULL, 'r'},
        {"name", required_argument, NULL, 'n'}, {"password-stdin", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},       {0, 0, 0, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->data = optarg;
            break;
        case 'r':
            o->role = optarg;
            break;
        case 'n':
            o->name = optarg;
            break;
        case 'p':
            o->password_stdin = true;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc)
        o->verb = argv[optind++];
    if (optind < argc)
        o->arg = argv[optind++];
    if (!o->verb || optind < argc) {
        usage(stderr);
        return 2;
    }
    return 0;
}

static int open_users(const struct opts *o, struct trl_users **u)
{
    const char *dir = trl_cli_data_dir(o->data);
    if (trl_cli_ensure_dir(dir) != 0)
        return -EIO;
    return trl_users_open(dir, u);
}

/* One line from f without its line end; false at EOF or when too long. */
static bool read_line(FILE *f, char *buf, size_t cap)
{
    if (!fgets(buf, (int)cap, f))
        return false;
    size_t n = strcspn(buf, "\r\n");
    if (buf[n] == '\0' && n == cap - 1)
        return false;
    buf[n] = '\0';
    return true;
}

static bool prompt(const char *what, char *buf, size_t cap)
{
    struct termios old, quiet;
    fprintf(stderr, "%s: ", what);
    fflush(stderr);
    bool tty = tcgetattr(0, &old) == 0;
    if (tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(0, TCSAFLUSH, &quiet);
    }
    bool ok = read_line(stdin, buf, cap);
    if (tty)
        tcsetattr(0, TCSAFLUSH, &old);
    fputc('\n', stderr);
    return ok;
}

/* The new password into buf: from standard input, or asked twice on a terminal. */
static bool get_password(const struct opts *o, char *buf, size_t cap)
{
    if (o->password_stdin)
        return read_line(stdin, buf, cap);
    if (!isatty(0)) {
        fprintf(stderr, "trapline users: no terminal to ask for the password: use "
                        "--password-stdin\n");
        return false;
    }
    char again[TRL_PW_MAX_LEN + 2];
    bool ok = prompt("password", buf, cap) && prompt("again", again, sizeof(again));
    if (ok && strcmp(buf, again)) {
        fprintf(stderr, "trapline users: the passwords differ\n");
        ok = false;
    }
    sodium_memzero(again, sizeof(again));
    return ok;
}

static void print_user(void *ud, const struct trl_user_row *r)
{
    (void)ud;
    char t[64];
    trl_format_rfc3339(r->created_ns, t);
    printf("%-24s %-8s %.19s\n", r->name, trl_role_name(r->role), t);
}

static int report(int rc, const char *what, const char *name)
{
    if (rc == 0)
        return 0;
    if (rc == -EEXIST)
        fprintf(stderr, "trapline users: %s exists\n", name);
    else if (rc == -ENOENT)
        fprintf(stderr, "trapline: no %s %s\n", what, name);
    else if (rc == TRL_EINVAL)
        fprintf(stderr,
                "trapline users: invalid: names are 1-64 letters, digits, '.', '_', '-', '@'; "
                "passwords %d to %d bytes\n",
                TRL_PW_MIN_LEN, TRL_PW_MAX_LEN);
    else
        fprintf(stderr, "trapline: %s\n", trl_strerror(rc));
    return 1;
}

int trl_cmd_users(int argc, char **argv)
{
    struct opts o = {0};
    int rc = parse(argc, argv, &o, users_usage);
    if (rc)
        return rc == 1 ? 0 : rc;
    bool needs_name = strcmp(o.verb, "list") != 0;
    if (needs_name != (o.arg != NULL) || (strcmp(o.verb, "add") && strcmp(o.verb, "passwd") &&
                                          strcmp(o.verb, "remove") && strcmp(o.verb, "list"))) {
        users_usage(stderr);
        return 2;
    }
    int role = -1;
    if (!strcmp(o.verb, "add") && (!o.role || (role = trl_role_parse(o.role)) < 0)) {
        fprintf(stderr, "trapline users add: --role admin, analyst or viewer\n");
        return 2;
    }
    struct trl_users *u = NULL;
    if (open_users(&o, &u) != 0)
        return 1;
    char pw[TRL_PW_MAX_LEN + 2] = "";
    if (!strcmp(o.verb, "list")) {
        rc = trl_users_list(u, print_user, NULL) < 0 ? 1 : 0;
    } else if (!strcmp(o.verb, "remove")) {
        rc = report(trl_users_remove(u, o.arg), "user", o.arg);
    } else if (!get_password(&o, pw, sizeof(pw))) {
        rc = 1;
    } else if (!strcmp(o.verb, "add")) {
        rc = report(trl_users_add(u, o.arg, role, pw), "user", o.arg);
    } else {
        rc = report(trl_users_set_password(u, o.arg, pw), "user", o.arg);
    }
    sodium_memzero(pw, sizeof(pw));
    trl_users_close(u);
    return rc;
}

static void print_token(void *ud, const struct trl_token_row *r)
{
    (void)ud;
    char t[64], used[64] = "never";
    trl_format_rfc3339(r->created_ns, t);
    if (r->last_used_ns)
        trl_format_rfc3339(r->last_used_ns, used);
    printf("%-6lld %-24s %-8s %-16s %.19s %.19s\n", (long long)r->id, r->name,
           trl_role_name(r->role), r->created_by, t, used);
}

int trl_cmd_tokens(int argc, char **argv)
{
    struct opts o = {0};
    int rc = parse(argc, argv, &o, tokens_usage);
    if (rc)
        return rc == 1 ? 0 : rc;
    int role = -1;
    int64_t id = 0;
    if (!strcmp(o.verb, "create")) {
        if (o.arg || !o.name || !o.role || (role = trl_role_parse(o.role)) < 0) {
            fprintf(stderr, "trapline tokens create: --name NAME --role admin|analyst|viewer\n");
            return 2;
        }
    } else if (!strcmp(o.verb, "revoke")) {
        if (!o.arg || !trl_parse_i64(o.arg, strlen(o.arg), &id)) {
            fprintf(stderr, "trapline tokens revoke: the token's ID (see `trapline tokens "
                            "list`)\n");
            return 2;
        }
    } else if (strcmp(o.verb, "list") || o.arg) {
        tokens_usage(stderr);
        return 2;
    }
    struct trl_users *u = NULL;
    if (open_users(&o, &u) != 0)
        return 1;
    if (!strcmp(o.verb, "create")) {
        char token[TRL_TOKEN_LEN + 1];
        rc = trl_tokens_create(u, o.name, role, "cli", token, &id);
        if (rc == 0) {
            printf("%s\n", token);
            fprintf(stderr, "token %lld created; it is shown only now\n", (long long)id);
        }
        sodium_memzero(token, sizeof(token));
        rc = report(rc, "token", o.name);
    } else if (!strcmp(o.verb, "revoke")) {
        rc = report(trl_tokens_revoke(u, id), "token", o.arg);
    } else {
        printf("%-6s %-24s %-8s %-16s %-19s %s\n", "ID", "NAME", "ROLE", "CREATED BY", "CREATED",
               "LAST USED");
        rc = trl_tokens_list(u, print_token, NULL) < 0 ? 1 : 0;
    }
    trl_users_close(u);
    return rc;
}

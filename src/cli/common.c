#include "cli/common.h"
#include "core/log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *trl_cli_default_data_dir(void)
{
    static char path[PATH_MAX];
    if (geteuid() == 0)
        return "/var/lib/trapline";
    const char *home = getenv("HOME");
    snprintf(path, sizeof(path), "%s/.local/share/trapline", home && *home ? home : ".");
    return path;
}

const char *trl_cli_data_dir(const char *flag)
{
    if (flag && *flag)
        return flag;
    const char *env = getenv("TRAPLINE_DATA");
    if (env && *env)
        return env;
    return trl_cli_default_data_dir();
}

int trl_cli_ensure_dir(const char *dir)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(path, 0750) != 0 && errno != EEXIST) {
                int err = errno;
                trl_error("cli", "cannot create directory path=%s error=\"%s\"", path,
                          strerror(err));
                return -err;
            }
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    return 0;
}

int trl_cli_output_json(const char *verb, const char *arg, bool *json)
{
    if (strcmp(arg, "json") && strcmp(arg, "table")) {
        fprintf(stderr, "trapline %s: --output json or table\n", verb);
        return 2;
    }
    *json = !strcmp(arg, "json");
    return 0;
}

int trl_cli_help_or_usage(int c, void (*usage)(FILE *out))
{
    if (c == 'h') {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}

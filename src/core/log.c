#include "core/log.h"
#include "core/timeutil.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Process-wide logging settings: set once by main() from flags and config, read by every thread. */
static atomic_int log_level = TRL_LOG_INFO;
static atomic_int log_fd = 2;

void trl_log_set_level(enum trl_log_level level)
{
    atomic_store(&log_level, (int)level);
}

enum trl_log_level trl_log_get_level(void)
{
    return (enum trl_log_level)atomic_load(&log_level);
}

void trl_log_set_fd(int fd)
{
    atomic_store(&log_fd, fd);
}

int trl_log_level_parse(const char *s)
{
    if (!strcasecmp(s, "debug"))
        return TRL_LOG_DEBUG;
    if (!strcasecmp(s, "info"))
        return TRL_LOG_INFO;
    if (!strcasecmp(s, "warn") || !strcasecmp(s, "warning"))
        return TRL_LOG_WARN;
    if (!strcasecmp(s, "error"))
        return TRL_LOG_ERROR;
    return -1;
}

void trl_log(enum trl_log_level level, const char *component, const char *fmt, ...)
{
    static const char *names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
    if ((int)level < atomic_load(&log_level))
        return;
    char line[2048];
    char ts[TRL_RFC3339_MAX];
    trl_format_rfc3339(trl_now_ns(), ts);
    /* Milliseconds are enough for our own log: cut "....123456789Z" to "....123Z". */
    ts[23] = 'Z';
    ts[24] = '\0';
    int n = snprintf(line, sizeof(line), "%s %s %s: ", ts, names[level], component);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0
                                    : ((size_t)m < sizeof(line) - (size_t)n - 2
                                           ? (size_t)m
                                           : sizeof(line) - (size_t)n - 2));
    line[len++] = '\n';
    ssize_t w = write(atomic_load(&log_fd), line, len);
    (void)w;
}

/*
 * log: Trapline's own diagnostic log (not the events it collects).
 *
 * One line per message on stderr (or a file), greppable: an RFC 3339 time, the level, the
 * component, then the text, conventionally with key=value pairs: 2026-11-27T16:53:07.123Z WARN tcp:
 * closed peer=10.0.0.5:40112 reason="oversize frame" Safe from any thread: each line is written
 * with one write(2).
 */
#ifndef TRL_LOG_H
#define TRL_LOG_H

enum trl_log_level { TRL_LOG_DEBUG, TRL_LOG_INFO, TRL_LOG_WARN, TRL_LOG_ERROR };

void trl_log_set_level(enum trl_log_level level);
enum trl_log_level trl_log_get_level(void);
/* Parses "debug", "info", "warn"/"warning", "error"; returns -1 when unknown. */
int trl_log_level_parse(const char *s);
/* Writes to fd (default 2). */
void trl_log_set_fd(int fd);

void trl_log(enum trl_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define trl_debug(comp, ...)                                                                       \
    do {                                                                                           \
        if (trl_log_get_level() <= TRL_LOG_DEBUG)                                                  \
            trl_log(TRL_LOG_DEBUG, comp, __VA_ARGS__);                                             \
    } while (0)
#define trl_info(comp, ...)  trl_log(TRL_LOG_INFO, comp, __VA_ARGS__)
#define trl_warn(comp, ...)  trl_log(TRL_LOG_WARN, comp, __VA_ARGS__)
#define trl_error(comp, ...) trl_log(TRL_LOG_ERROR, comp, __VA_ARGS__)

#endif

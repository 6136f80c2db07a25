/*
 * syslog_fuzz: the shared harness of the syslog header parsers' fuzz targets (RFC 3164 and
 * RFC 5424). Each runs its parser over arbitrary bytes. The input is passed as libFuzzer's exactly
 * sized buffer (no NUL after it), so any read past len is caught by ASan; every value the parser
 * set is then read back and serialised, and the parser's contract is checked: a line that is not
 * its own leaves the event untouched, and the host, program and message it sets are trimmed,
 * the pid all digits.
 */
#ifndef TRL_SYSLOG_FUZZ_H
#define TRL_SYSLOG_FUZZ_H

/* The fuzz targets' shared includes, RECEIVED_NS and check() come with the payload harness. */
#include "payload_fuzz.h"

static inline bool all_digits(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
    }
    return len > 0;
}

static inline void check_trimmed(const struct trl_event *ev, enum trl_field f)
{
    size_t len = 0;
    const char *v = trl_event_get(ev, f, &len);
    if (v)
        check(len > 0 && v[0] != ' ' && v[len - 1] != ' ');
}

static inline int fuzz_syslog_parser(int (*parse)(struct trl_event *, const char *, size_t),
                                     const uint8_t *data, size_t size)
{
    static struct trl_arena *arena;
    static struct trl_buf out;
    if (!arena)
        arena = trl_arena_create(0);
    trl_arena_reset(arena);

    struct trl_event *ev = trl_event_create(arena, NULL, 0, RECEIVED_NS);
    int rc = parse(ev, (const char *)data, size);
    check(rc == 0 || rc == TRL_ENOMATCH || rc == TRL_EINVAL);
    if (rc == TRL_ENOMATCH) {
        check(ev->nfields == 0 && ev->format == NULL && ev->timestamp_ns == 0);
        return 0;
    }
    check(ev->format != NULL);
    unsigned sum = 0;
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        for (uint32_t k = 0; k < kv->val_len; k++)
            sum += (unsigned char)kv->val[k];
    }
    (void)sum;
    check_trimmed(ev, TRL_F_MESSAGE);
    check_trimmed(ev, TRL_F_HOST_NAME);
    check_trimmed(ev, TRL_F_PROCESS_NAME);
    size_t len = 0;
    const char *pid = trl_event_get(ev, TRL_F_PROCESS_PID, &len);
    if (pid)
        check(all_digits(pid, len));
    trl_buf_reset(&out);
    trl_json_encode_event(ev, &out);
    return 0;
}

#endif

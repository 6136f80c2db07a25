/*
 * Fuzzes the Linux audit record parser and the audit assembler. The whole input is parsed once as
 * one record straight from libFuzzer's exactly sized buffer (a read past len is caught by ASan) and
 * the contract is checked; then its lines are fed as records through an assembler with tiny limits,
 * some as if they came inside syslog, with arrival times that make the settle, timeout and
 * eviction rules fire. Every event is serialised, and the assembler is destroyed with whatever is
 * left, so LeakSanitizer checks that nothing is lost.
 */
#include "core/arena.h"
#include "core/buf.h"
#include "core/event.h"
#include "core/util.h"
#include "formats/audit_assembler.h"
#include "formats/json_encode.h"
#include "formats/parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000LL

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void encode(const struct trl_event *ev, struct trl_buf *out)
{
    trl_buf_reset(out);
    trl_json_encode_event(ev, out);
    check(out->len > 0 && out->data[0] == '{');
}

static void parse_whole(struct trl_arena *arena, struct trl_buf *out, const char *p, size_t len)
{
    struct trl_event *ev = trl_event_create(arena, p, len, 0);
    int rc = trl_parse_audit(ev, p, len);
    check(rc == TRL_OK || rc == TRL_EINVAL || rc == TRL_ENOMATCH);
    if (rc == TRL_ENOMATCH) {
        check(ev->nfields == 0 && ev->format == NULL && ev->timestamp_ns == 0);
        return;
    }
    check(ev->format && !strcmp(ev->format, "audit"));
    check(trl_event_has(ev, TRL_F_AUDITD_RECORD_TYPE));
    encode(ev, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct trl_arena *in, *done;
    static struct trl_buf out;
    if (!in) {
        in = trl_arena_create(0);
        done = trl_arena_create(0);
    }
    trl_arena_reset(in);
    trl_arena_reset(done);
    const char *p = (const char *)data;
    parse_whole(in, &out, p, size);

    struct trl_audit_assembler_config cfg = {
        .timeout_ns = 200 * MS, .settle_ns = 50 * MS, .max_pending = 4, .max_bytes = 8192};
    struct trl_audit_assembler *a = trl_audit_assembler_create(&cfg);
    struct trl_event *events[8];
    int64_t now = 0;
    size_t start = 0, nlines = 0;
    while (start < size) {
        const char *nl = memchr(p + start, '\n', size - start);
        size_t end = nl ? (size_t)(nl - p) : size;
        const char *line = p + start;
        size_t len = end - start;
        start = end + 1;
        now += (int64_t)(len % 7) * 30 * MS;
        struct trl_event *ev = trl_event_create(in, line, len, now);
        if (len > 0 && (line[0] & 1)) {
            /* As the MSG of a syslog line from audispd on a relay. */
            ev->format = "rfc3164";
            trl_event_set_str(ev, TRL_F_PROCESS_NAME, "audispd");
            trl_event_set_str(ev, TRL_F_HOST_NAME, "relay");
        }
        int rc = trl_parse_audit(ev, ev->original, ev->original_len);
        check(rc == TRL_OK || rc == TRL_EINVAL || rc == TRL_ENOMATCH);
        if (trl_audit_assembler_wants(ev))
            check(trl_audit_assembler_add(a, ev) == TRL_OK);
        else
            check(trl_audit_assembler_add(a, ev) == TRL_EINVAL);
        if (++nlines % 4 == 0) {
            size_t n = trl_audit_assembler_take(a, done, now, false, events, 8);
            for (size_t i = 0; i < n; i++)
                encode(events[i], &out);
            /* Records are copied: the batch arena may go now. */
            trl_arena_reset(in);
        }
    }
    size_t n;
    while ((n = trl_audit_assembler_take(a, done, now, (nlines & 1) == 0, events, 3)) > 0) {
        for (size_t i = 0; i < n; i++)
            encode(events[i], &out);
    }
    struct trl_audit_assembler_stats st;
    trl_audit_assembler_get_stats(a, &st);
    check(st.pending <= cfg.max_pending);
    trl_audit_assembler_destroy(a);
    return 0;
}

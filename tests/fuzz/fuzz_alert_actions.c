/*
 * Fuzzes what alerts and action requests turn into: arbitrary bytes as an alert JSON for the email
 * output's message (no header may be injected: every line of the header block must be a header
 * or a folded continuation, and the body must not contain a bare CR or LF), and as an action
 * request for trl_response_request_parse() and the checks of trl_response_execute() (with a
 * runner that records instead of running: nothing allowlisted may reach nft).
 */
#include "core/buf.h"
#include "core/util.h"
#include "detect/outputs.h"
#include "detect/response.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(bool ok)
{
    if (!ok)
        abort();
}

static const char *last_target;
static struct trl_response *resp;

static int record_run(void *ud, const char *const *argv, char *err, size_t errlen)
{
    (void)ud;
    (void)err;
    (void)errlen;
    /* The address given to nft is never a protected one. */
    if (argv[1] && !strcmp(argv[1], "add") && argv[2] && !strcmp(argv[2], "element")) {
        check(last_target && !trl_response_ip_protected(resp, last_target));
        check(strchr(argv[6], ';') == NULL);
    }
    return 0;
}

static int record_kill(void *ud, int64_t pid, char *err, size_t errlen)
{
    (void)ud;
    (void)err;
    (void)errlen;
    check(pid > 1 && pid != 4000);
    return 0;
}

static int fake_uid(void *ud, const char *user, int64_t *uid)
{
    (void)ud;
    *uid = strlen(user) % 2 ? 1001 : 0;
    return 0;
}

static void no_addresses(void *ud, void (*add)(void *ctx, const char *ip), void *ctx)
{
    (void)ud;
    add(ctx, "192.0.2.10");
}

static void drop_event(void *ud, const char *json, size_t len)
{
    (void)ud;
    json_t *o = json_loadb(json, len, 0, NULL);
    check(o != NULL); /* response events are always valid JSON */
    json_decref(o);
}

static const struct trl_response_ops ops = {
    .run = record_run, .kill = record_kill, .user_uid = fake_uid, .own_addresses = no_addresses};

static void check_message(const struct trl_buf *m)
{
    const char *end = trl_memstr(m->data, m->len, "\r\n\r\n");
    check(end != NULL);
    size_t hlen = (size_t)(end - m->data) + 2;
    /* Header block: every line ends in CRLF and starts a header (Name:) or folds one. */
    for (size_t i = 0; i < hlen;) {
        const char *nl = trl_memstr(m->data + i, hlen - i, "\r\n");
        check(nl != NULL);
        size_t n = (size_t)(nl - (m->data + i));
        const char *line = m->data + i;
        check(n > 0);
        check(line[0] == ' ' || memchr(line, ':', n) != NULL);
        for (size_t k = 0; k < n; k++)
            check(line[k] != '\r' && line[k] != '\n');
        i += n + 2;
    }
    /* Body: CRLF line ends only, no line starting with '.' alone. */
    for (size_t i = hlen + 2; i < m->len; i++) {
        if (m->data[i] == '\n')
            check(i > 0 && m->data[i - 1] == '\r');
        if (m->data[i] == '\r')
            check(i + 1 < m->len && m->data[i + 1] == '\n');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!resp) {
        static const char *const allow[] = {"198.51.100.0/24"};
        struct trl_response_config c = {.allowlist = allow,
                                        .nallowlist = 1,
                                        .self_pid = 4000,
                                        .ops = &ops,
                                        .emit = drop_event,
                                        .synchronous = true};
        resp = trl_response_create(&c);
        check(resp != NULL);
    }
    json_t *alert = json_loadb((const char *)data, size, 0, NULL);
    if (json_is_object(alert)) {
        struct trl_outbox_item it = {
            .id = 1, .alert_id = 2, .body = (const char *)data, .len = size, .alert = alert};
        const char *to[] = {"soc@example.org"};
        struct trl_buf m = {0};
        trl_email_format_message(&m, &it, "t@example.org", to, 1,
                                 "{title} {level} {host} {rule_id} {id} {count} {x}", "h",
                                 1795773606LL * 1000000000LL, NULL);
        check_message(&m);
        trl_buf_free(&m);
    }
    json_decref(alert);

    struct trl_response_request req;
    if (trl_response_request_parse((const char *)data, size, &req) == 0) {
        struct trl_buf b = {0};
        trl_response_request_json(&req, &b);
        json_t *back = json_loadb(b.data, b.len, 0, NULL);
        check(back != NULL);
        json_decref(back);
        trl_buf_free(&b);
        last_target = req.target;
        char err[512];
        trl_response_execute(resp, &req, err, sizeof(err));
        last_target = NULL;
    }
    return 0;
}

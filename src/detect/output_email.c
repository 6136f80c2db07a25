/*
 * The email output: each alert is sent as one plain-text mail through an SMTP server with libcurl
 * (smtp:// with STARTTLS required, optional or off, or smtps://, optionally with SMTP AUTH). The
 * server accepting the message (250 after DATA) means delivered; any other answer, a refused
 * STARTTLS or a timeout means retry.
 *
 * Everything in the message that comes from an alert (titles, host names, group-by values taken
 * from events) is cleaned of control characters before it is written, so that an attacker who
 * controls a logged value cannot add headers or end the message early.
 */
#include "core/http_lib.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "detect/outputs.h"
#include "store/query.h"
#include "store/store_read.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Longest value written on one line: mail lines must stay below 998 octets. */
#define VALUE_MAX 900
/* Raw bytes per RFC 2047 encoded word: 45 bytes make 60 base64 characters, 72 with the wrapper. */
#define WORD_BYTES 45

struct email {
    struct trl_output base;
    const struct trl_curl *cu;
    CURL *curl;
    char *url;
    char *from;          /* as written in the From: header */
    char *envelope_from; /* the bare address, for MAIL FROM */
    char **to;
    size_t nto;
    char *subject;
    char *data_dir; /* where the events are looked up for the summary */
    char hostname[256];
};

/* The length of the longest prefix of s (at most max bytes) that does not cut a UTF-8 sequence. */
static size_t utf8_prefix(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* Appends s with every control character (CR and LF included) replaced by a space, cut at max
 * bytes. */
static void put_clean(struct trl_buf *b, const char *s, size_t max)
{
    if (!s)
        return;
    size_t len = utf8_prefix(s, strlen(s), max);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        trl_buf_putc(b, c < 0x20 || c == 0x7F ? ' ' : (char)c);
    }
}

static const char *str_field(const json_t *alert, const char *key)
{
    const char *v = json_string_value(json_object_get(alert, key));
    return v ? v : "";
}

static void put_number(struct trl_buf *b, const json_t *alert, const char *key)
{
    const json_t *v = json_object_get(alert, key);
    trl_buf_printf(b, "%lld", json_is_integer(v) ? (long long)json_integer_value(v) : 0LL);
}

/* Expands the subject template with the alert's values (unknown {names} stay as written). */
static void expand_subject(struct trl_buf *out, const char *tpl, const struct trl_outbox_item *it)
{
    static const char *const strs[] = {"title", "level", "rule_id", "host"};
    for (const char *p = tpl; *p;) {
        bool done = false;
        for (size_t i = 0; i < TRL_ARRAY_LEN(strs) && *p == '{'; i++) {
            size_t n = strlen(strs[i]);
            if (!strncmp(p + 1, strs[i], n) && p[n + 1] == '}') {
                put_clean(out, str_field(it->alert, strs[i]), VALUE_MAX);
                p += n + 2;
                done = true;
            }
        }
        if (!done && !strncmp(p, "{id}", 4)) {
            trl_buf_printf(out, "%lld", (long long)it->alert_id);
            p += 4;
            done = true;
        }
        if (!done && !strncmp(p, "{count}", 7)) {
            put_number(out, it->alert, "count");
            p += 7;
            done = true;
        }
        if (!done)
            trl_buf_putc(out, *p++);
    }
}

static bool is_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] >= 0x80)
            return false;
    }
    return true;
}

/* "Subject: ..." plain when ASCII, else as RFC 2047 base64 encoded words, one per folded line. */
static void put_subject(struct trl_buf *out, const char *s, size_t len)
{
    trl_buf_puts(out, "Subject: ");
    if (is_ascii(s, len)) {
        trl_buf_append(out, s, len);
        trl_buf_puts(out, "\r\n");
        return;
    }
    size_t off = 0;
    while (off < len) {
        size_t n = utf8_prefix(s + off, len - off, WORD_BYTES);
        if (n == 0)
            n = TRL_MIN(len - off, (size_t)WORD_BYTES);
        unsigned char enc[4 * ((WORD_BYTES + 2) / 3) + 1];
        EVP_EncodeBlock(enc, (const unsigned char *)s + off, (int)n);
        trl_buf_printf(out, "%s=?UTF-8?B?%s?=", off ? "\r\n " : "", (const char *)enc);
        off += n;
    }
    trl_buf_puts(out, "\r\n");
}

/* RFC 5322 date in UTC: "Fri, 27 Nov 2026 19:21:45 +0000" (English names whatever the locale). */
static void put_date(struct trl_buf *out, int64_t now_ns)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(now_ns / TRL_NS_PER_SEC);
    struct tm tm;
    gmtime_r(&t, &tm);
    trl_buf_printf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday % 7],
                   tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                   tm.tm_sec);
}

/* A host name usable after '@' in a Message-ID: letters, digits, '-' and '.', else "localhost". */
static void put_id_host(struct trl_buf *out, const char *hostname)
{
    size_t n = 0;
    for (const char *p = hostname; *p && n < 253; p++, n++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '.'))
            break;
    }
    if (n == 0 || hostname[n] != '\0')
        trl_buf_puts(out, "localhost");
    else
        trl_buf_append(out, hostname, n);
}

static void put_line(struct trl_buf *out, const char *label, const char *value)
{
    trl_buf_printf(out, "%-13s", label);
    put_clean(out, value, VALUE_MAX);
    trl_buf_puts(out, "\r\n");
}

static const char *summary_of(const struct trl_email_events *events, const char *id)
{
    for (size_t i = 0; events && id && i < events->n; i++) {
        if (events->lines[i] && !strcmp(events->ids[i], id))
            return events->lines[i];
    }
    return NULL;
}

static void put_body(struct trl_buf *out, const struct trl_outbox_item *it,
                     const struct trl_email_events *events)
{
    const json_t *a = it->alert;
    trl_buf_puts(out, "Trapline raised an alert.\r\n\r\n");
    put_line(out, "Title:", str_field(a, "title"));
    put_line(out, "Level:", str_field(a, "level"));
    put_line(out, "Rule:", str_field(a, "rule_id"));
    trl_buf_printf(out, "%-13s%lld\r\n", "Alert id:", (long long)it->alert_id);
    put_line(out, "Status:", str_field(a, "status"));
    trl_buf_printf(out, "%-13s", "Count:");
    put_number(out, a, "count");
    trl_buf_puts(out, "\r\n");
    put_line(out, "Host:", str_field(a, "host"));
    const char *corr = json_string_value(json_object_get(a, "correlation"));
    put_line(out, "Correlation:", corr ? corr : "none (single event)");
    put_line(out, "First seen:", str_field(a, "first_seen"));
    put_line(out, "Last seen:", str_field(a, "last_seen"));

    const json_t *tags = json_object_get(a, "tags");
    if (json_array_size(tags) > 0) {
        struct trl_buf line = {0};
        size_t i;
        const json_t *t;
        json_array_foreach(tags, i, t)
        {
            const char *v = json_string_value(t);
            if (!v)
                continue;
            if (line.len)
                trl_buf_puts(&line, ", ");
            trl_buf_puts(&line, v);
        }
        put_line(out, "Tags:", line.data ? line.data : "");
        trl_buf_free(&line);
    }
    const json_t *group = json_object_get(a, "group_by");
    if (json_object_size(group) > 0) {
        trl_buf_puts(out, "\r\nGrouped by:\r\n");
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)group, k, v)
        {
            trl_buf_puts(out, "  ");
            put_clean(out, k, 200);
            trl_buf_puts(out, " = ");
            put_clean(out, json_string_value(v), VALUE_MAX);
            trl_buf_puts(out, "\r\n");
        }
    }
    const json_t *ids = json_object_get(a, "event_ids");
    size_t nids = json_array_size(ids);
    trl_buf_printf(out, "\r\nEvents (%zu", nids);
    trl_buf_puts(out, nids == 1 ? " event.id):\r\n" : " event.id values):\r\n");
    for (size_t i = 0; i < nids; i++) {
        const char *id = json_string_value(json_array_get(ids, i));
        const char *summary = summary_of(events, id);
        trl_buf_puts(out, "  ");
        put_clean(out, id, 64);
        if (summary) {
            trl_buf_puts(out, "  ");
            put_clean(out, summary, VALUE_MAX);
        }
        trl_buf_puts(out, "\r\n");
    }
    if (nids > 0) {
        trl_buf_puts(out, "\r\nShow them with: trapline search 'event.id:");
        put_clean(out, json_string_value(json_array_get(ids, 0)), 64);
        trl_buf_puts(out, "'\r\n");
    }
    trl_buf_printf(out, "\r\nAcknowledge with: trapline alerts ack %lld\r\n",
                   (long long)it->alert_id);
}

void trl_email_format_message(struct trl_buf *out, const struct trl_outbox_item *it,
                              const char *from, const char *const *to, size_t nto,
                              const char *subject_tpl, const char *hostname, int64_t now_ns,
                              const struct trl_email_events *events)
{
    put_date(out, now_ns);
    trl_buf_puts(out, "From: ");
    put_clean(out, from, VALUE_MAX);
    trl_buf_puts(out, "\r\nTo: ");
    for (size_t i = 0; i < nto; i++) {
        if (i)
            trl_buf_puts(out, ",\r\n ");
        put_clean(out, to[i], VALUE_MAX);
    }
    trl_buf_puts(out, "\r\n");
    struct trl_buf subject = {0};
    expand_subject(&subject, subject_tpl, it);
    size_t slen = subject.data ? utf8_prefix(subject.data, subject.len, VALUE_MAX) : 0;
    put_subject(out, subject.data ? subject.data : "", slen);
    trl_buf_free(&subject);
    /* Stable across retries of one queued row, so that a receiver can drop a duplicate. */
    trl_buf_printf(out, "Message-ID: <trapline.alert.%lld.%lld@", (long long)it->alert_id,
                   (long long)it->id);
    put_id_host(out, hostname);
    trl_buf_puts(out, ">\r\n");
    trl_buf_puts(out, "MIME-Version: 1.0\r\n"
                      "Content-Type: text/plain; charset=utf-8\r\n"
                      "Content-Transfer-Encoding: 8bit\r\n"
                      "Auto-Submitted: auto-generated\r\n");
    trl_buf_printf(out, "X-Trapline-Alert-Id: %lld\r\n", (long long)it->alert_id);
    trl_buf_puts(out, "X-Trapline-Level: ");
    put_clean(out, str_field(it->alert, "level"), 64);
    trl_buf_puts(out, "\r\n\r\n");
    put_body(out, it, events);
}

/* ---- the events' summary ---- */

struct lookup {
    struct trl_email_events *ev;
    size_t found;
};

static const char *json_path(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_string_value(v);
}

/* "2026-11-27T10:00:04.000Z web01 ssh-login-failed source.ip=... user.name=...: message" */
static int on_event(void *ud, int64_t ts_ns, const char *json, size_t len)
{
    (void)ts_ns;
    struct lookup *l = ud;
    json_t *o = json_loadb(json, len, 0, NULL);
    const char *id = json_path(o, "event", "id");
    for (size_t i = 0; id && i < l->ev->n; i++) {
        if (l->ev->lines[i] || strcmp(l->ev->ids[i], id))
            continue;
        struct trl_buf b = {0};
        const char *parts[][3] = {{"@timestamp", NULL, ""},
                                  {"host", "name", " "},
                                  {"event", "action", " "},
                                  {"source", "ip", " source.ip="},
                                  {"user", "name", " user.name="}};
        for (size_t p = 0; p < TRL_ARRAY_LEN(parts); p++) {
            const char *v = json_path(o, parts[p][0], parts[p][1]);
            if (v) {
                trl_buf_puts(&b, parts[p][2]);
                trl_buf_append(&b, v, strnlen(v, 200));
            }
        }
        const char *msg = json_string_value(json_object_get(o, "message"));
        if (msg) {
            trl_buf_puts(&b, ": ");
            trl_buf_append(&b, msg, strnlen(msg, 300));
        }
        l->ev->lines[i] = b.data ? b.data : trl_xstrdup("");
        l->found++;
        break;
    }
    json_decref(o);
    return 0;
}

static bool hex_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (trl_hex_value(s[i]) < 0)
            return false;
    }
    return true;
}

/* Looks the alert's first events up in the event store. The events of a batch are stored right
 * after its alerts are queued, so a search that finds nothing is tried again for a moment. */
static void lookup_events(const char *data_dir, const json_t *alert, struct trl_email_events *ev)
{
    const json_t *ids = json_object_get(alert, "event_ids");
    struct trl_buf q = {0};
    trl_buf_puts(&q, "event.id:(");
    for (size_t i = 0; i < json_array_size(ids) && ev->n < TRL_EMAIL_MAX_EVENTS; i++) {
        const char *id = json_string_value(json_array_get(ids, i));
        if (!hex_id(id))
            continue;
        trl_buf_printf(&q, "%s%s", ev->n ? " OR " : "", id);
        ev->ids[ev->n++] = id;
    }
    trl_buf_putc(&q, ')');
    struct trl_query *query = NULL;
    struct trl_store_reader *r = NULL;
    if (ev->n == 0 || trl_query_parse(q.data, q.len, &query, NULL) != 0)
        goto out;
    int64_t first = 0, last = 0;
    const char *fs = json_string_value(json_object_get(alert, "first_seen"));
    const char *ls = json_string_value(json_object_get(alert, "last_seen"));
    if (!fs || !ls || !trl_parse_rfc3339(fs, strlen(fs), &first) ||
        !trl_parse_rfc3339(ls, strlen(ls), &last))
        goto out;
    /* Correlated events may be older than the alert's first sighting: a day either side. */
    const int64_t day = 86400 * TRL_NS_PER_SEC;
    struct trl_store_search_opts so = {
        .from_ns = first - day, .to_ns = last + day, .limit = TRL_EMAIL_MAX_EVENTS};
    for (int attempt = 0; attempt < 4; attempt++) {
        if (attempt > 0) {
            struct timespec ts = {.tv_sec = 0, .tv_nsec = 250000000L};
            nanosleep(&ts, NULL);
        }
        if (!r && trl_store_reader_open(data_dir, &r) != 0)
            continue;
        struct lookup l = {.ev = ev};
        if (trl_store_search(r, query, &so, on_event, &l, NULL) == 0 && l.found > 0)
            break;
        /* A new reader sees what was written since. */
        trl_store_reader_close(r);
        r = NULL;
    }
out:
    trl_store_reader_close(r);
    trl_query_free(query);
    trl_buf_free(&q);
}

static void events_free(struct trl_email_events *ev)
{
    for (size_t i = 0; i < ev->n; i++)
        free(ev->lines[i]);
}

struct reader {
    const char *p;
    size_t left;
};

static size_t read_message(char *dst, size_t size, size_t n, void *ud)
{
    struct reader *r = ud;
    size_t len = TRL_MIN(size * n, r->left);
    memcpy(dst, r->p, len);
    r->p += len;
    r->left -= len;
    return len;
}

static int deliver(struct trl_output *base, const struct trl_outbox_item *it, char *err,
                   size_t errlen)
{
    struct email *e = (struct email *)base;
    struct trl_buf msg = {0};
    struct trl_email_events events = {.n = 0};
    if (e->data_dir)
        lookup_events(e->data_dir, it->alert, &events);
    trl_email_format_message(&msg, it, e->from, (const char *const *)e->to, e->nto, e->subject,
                             e->hostname, trl_now_ns(), &events);
    events_free(&events);
    struct curl_slist *rcpt = NULL;
    for (size_t i = 0; i < e->nto; i++)
        rcpt = e->cu->slist_append(rcpt, e->to[i]);
    struct reader r = {msg.data, msg.len};
    e->cu->easy_setopt(e->curl, CURLOPT_MAIL_RCPT, rcpt);
    e->cu->easy_setopt(e->curl, CURLOPT_READDATA, &r);
    e->cu->easy_setopt(e->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg.len);
    CURLcode cc = e->cu->easy_perform(e->curl);
    int rc = 0;
    if (cc != CURLE_OK) {
        long code = 0;
        e->cu->easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &code);
        if (code)
            snprintf(err, errlen, "%s (SMTP %ld)", e->cu->easy_strerror(cc), code);
        else
            snprintf(err, errlen, "%s", e->cu->easy_strerror(cc));
        rc = TRL_EINVAL;
    }
    e->cu->easy_setopt(e->curl, CURLOPT_MAIL_RCPT, NULL);
    e->cu->easy_setopt(e->curl, CURLOPT_READDATA, NULL);
    e->cu->slist_free_all(rcpt);
    trl_buf_free(&msg);
    return rc;
}

static void destroy(struct trl_output *base)
{
    struct email *e = (struct email *)base;
    if (e->curl)
        e->cu->easy_cleanup(e->curl);
    free(e->url);
    free(e->from);
    free(e->envelope_from);
    for (size_t i = 0; i < e->nto; i++)
        free(e->to[i]);
    free(e->to);
    free(e->subject);
    free(e->data_dir);
    free(e);
}

/* An address from the configuration must be one line: it goes into SMTP commands and headers. */
static bool one_line(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            return false;
    }
    return true;
}

/* The envelope address of "Name <addr>" is addr; of a bare address, itself. */
static char *envelope_address(const char *from)
{
    const char *lt = strrchr(from, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt)
        return trl_xstrndup(lt + 1, (size_t)(gt - lt - 1));
    return trl_xstrdup(from);
}

static bool check_settings(const struct trl_outputs_config *c)
{
    if (strncmp(c->email_url, "smtp://", 7) != 0 && strncmp(c->email_url, "smtps://", 8) != 0) {
        trl_error("outputs", "alerts.email.url must start with smtp:// or smtps:// url=%s",
                  c->email_url);
        return false;
    }
    if (!c->email_from || !c->email_from[0] || !one_line(c->email_from) ||
        !strchr(c->email_from, '@')) {
        trl_error("outputs", "alerts.email.from must be one mail address");
        return false;
    }
    if (c->email_nto == 0) {
        trl_error("outputs", "alerts.email.to must name at least one recipient");
        return false;
    }
    for (size_t i = 0; i < c->email_nto; i++) {
        if (!one_line(c->email_to[i]) || !strchr(c->email_to[i], '@')) {
            trl_error("outputs", "alerts.email.to: not a mail address: \"%s\"", c->email_to[i]);
            return false;
        }
    }
    return true;
}

struct trl_output *trl_output_email_create(const struct trl_outputs_config *c)
{
    if (!check_settings(c))
        return NULL;
    char why[256];
    const struct trl_curl *cu = trl_curl_get(why, sizeof(why));
    if (!cu) {
        trl_error("outputs", "the email output needs libcurl: %s", why);
        return NULL;
    }
    struct email *e = trl_xcalloc(1, sizeof(*e));
    e->cu = cu;
    e->base.name = "email";
    e->base.deliver = deliver;
    e->base.destroy = destroy;
    e->url = trl_xstrdup(c->email_url);
    e->from = trl_xstrdup(c->email_from);
    e->envelope_from = envelope_address(c->email_from);
    e->data_dir = c->data_dir && c->data_dir[0] ? trl_xstrdup(c->data_dir) : NULL;
    e->to = trl_xcalloc(c->email_nto, sizeof(*e->to));
    for (size_t i = 0; i < c->email_nto; i++)
        e->to[e->nto++] = envelope_address(c->email_to[i]);
    e->subject = trl_xstrdup(c->email_subject && c->email_subject[0] ? c->email_subject
                                                                     : "[Trapline] {level}: "
                                                                       "{title}");
    if (gethostname(e->hostname, sizeof(e->hostname) - 1) != 0)
        snprintf(e->hostname, sizeof(e->hostname), "localhost");
    e->curl = cu->easy_init();
    if (!e->curl) {
        trl_error("outputs", "cannot create a libcurl handle");
        destroy(&e->base);
        return NULL;
    }
    long timeout = (long)(c->email_timeout_ms > 0 ? c->email_timeout_ms : 30000);
    bool implicit_tls = !strncmp(e->url, "smtps://", 8);
    long use_ssl = CURLUSESSL_ALL;
    if (!implicit_tls && c->email_starttls == TRL_EMAIL_STARTTLS_OPTIONAL)
        use_ssl = CURLUSESSL_TRY;
    else if (!implicit_tls && c->email_starttls == TRL_EMAIL_STARTTLS_OFF)
        use_ssl = CURLUSESSL_NONE;
    CURL *h = e->curl;
    cu->easy_setopt(h, CURLOPT_URL, e->url);
    cu->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    cu->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    cu->easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    cu->easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    cu->easy_setopt(h, CURLOPT_USE_SSL, use_ssl);
    cu->easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    cu->easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    cu->easy_setopt(h, CURLOPT_MAIL_FROM, e->envelope_from);
    cu->easy_setopt(h, CURLOPT_UPLOAD, 1L);
    cu->easy_setopt(h, CURLOPT_READFUNCTION, read_message);
    if (c->email_username && c->email_username[0]) {
        cu->easy_setopt(h, CURLOPT_USERNAME, c->email_username);
        cu->easy_setopt(h, CURLOPT_PASSWORD, c->email_password ? c->email_password : "");
        if (use_ssl != CURLUSESSL_ALL)
            trl_warn("outputs", "alerts.email: the password may be sent without TLS url=%s",
                     e->url);
    }
    return &e->base;
}

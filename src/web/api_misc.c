/*
 * api_misc: GET /health, GET /metrics (Prometheus text) and GET /api/v1/openapi.json. The metrics
 * read counters the running parts keep for any thread: the pipeline's, the syslog listeners'
 * (server/server.h) and the detector's.
 */
#include "core/buf.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "detect/alerts.h"
#include "server/agent_registry.h"
#include "web/assets.h"
#include "web/web.h"

#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void trl_api_health(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    (void)rq;
    trl_web_json(rs, 200, json_pack("{s:s, s:s}", "status", "ok", "version", TRL_VERSION));
}

void trl_api_openapi(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    (void)rq;
    const struct trl_web_asset *a = trl_web_asset_find("api/openapi.json");
    if (!a) {
        trl_web_error(rs, 404, "this build holds no OpenAPI document");
        return;
    }
    rs->body = trl_xmalloc(a->len ? a->len : 1);
    memcpy(rs->body, a->data, a->len);
    rs->len = a->len;
    rs->status = 200;
    rs->ctype = "application/json; charset=utf-8";
}

/* Bytes of the regular files under dir, recursively (depth-limited). */
static uint64_t dir_bytes(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    uint64_t total = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[4096];
        struct stat st;
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path) ||
            lstat(path, &st) != 0)
            continue;
        if (S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
        else if (S_ISDIR(st.st_mode) && depth < 4)
            total += dir_bytes(path, depth + 1);
    }
    closedir(d);
    return total;
}

static void metric(struct trl_buf *b, const char *name, const char *type, const char *help,
                   const char *labels, double v)
{
    char line[512];
    snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n%s%s %.17g\n", name, help, name, type,
             name, labels, v);
    trl_buf_puts(b, line);
}

/* One metric with a value per syslog listener kind. */
static void listener_metric(struct trl_buf *b, const char *name, const char *help,
                            const _Atomic uint64_t *v, bool udp_only)
{
    static const char *const kinds[] = {"udp", "tcp", "tls"};
    trl_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (size_t i = 0; i < TRL_ARRAY_LEN(kinds); i++) {
        if (udp_only && i != TRL_LISTEN_UDP)
            continue;
        trl_buf_printf(b, "%s{listener=\"%s\"} %llu\n", name, kinds[i],
                       (unsigned long long)atomic_load_explicit(&v[i], memory_order_relaxed));
    }
}

/* A Prometheus label value: backslash, double quote and line feed escaped. */
static void label_value(struct trl_buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            trl_buf_putc(b, '\\');
        if (*v == '\n')
            trl_buf_puts(b, "\\n");
        else
            trl_buf_putc(b, *v);
    }
}

enum slot_value { SLOT_MSGS, SLOT_BYTES, SLOT_DROPS, SLOT_CONNS };

/* One metric with a sample per listener address (kind and address labels); only listeners of
 * kind only_kind when that is not NULL, only connection-oriented ones for SLOT_CONNS. */
static void address_metric(struct trl_buf *b, const struct trl_server_counters *c, const char *name,
                           const char *type, const char *help, enum slot_value which,
                           const char *only_kind)
{
    trl_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (size_t i = 0; i < TRL_SERVER_COUNTER_SLOTS; i++) {
        const struct trl_listener_counters *s = &c->listeners[i];
        if (atomic_load_explicit(&s->state, memory_order_acquire) != TRL_COUNTERS_USED)
            continue;
        if ((only_kind && strcmp(s->kind, only_kind)) ||
            (which == SLOT_CONNS && !strcmp(s->kind, "udp")))
            continue;
        const _Atomic uint64_t *v = which == SLOT_MSGS    ? &s->msgs
                                    : which == SLOT_BYTES ? &s->bytes
                                    : which == SLOT_DROPS ? &s->drops
                                                          : &s->conns;
        trl_buf_printf(b, "%s{kind=\"", name);
        label_value(b, s->kind);
        trl_buf_puts(b, "\",address=\"");
        label_value(b, s->address);
        trl_buf_printf(b, "\"} %llu\n",
                       (unsigned long long)atomic_load_explicit(v, memory_order_relaxed));
    }
}

static void address_metrics(struct trl_buf *b, const struct trl_server_counters *c)
{
    address_metric(b, c, "trapline_input_messages_total", "counter",
                   "Messages received per listener (syslog messages; agent listener: events).",
                   SLOT_MSGS, NULL);
    address_metric(b, c, "trapline_input_bytes_total", "counter",
                   "Bytes received per listener (TLS: as on the wire).", SLOT_BYTES, NULL);
    address_metric(b, c, "trapline_input_drops_total", "counter",
                   "Datagrams dropped per UDP listener while the pipeline was congested.",
                   SLOT_DROPS, "udp");
    address_metric(b, c, "trapline_input_connections", "gauge",
                   "Connections open per TCP, TLS and agent listener.", SLOT_CONNS, NULL);
}

static void count_rule(void *ud, const char *id, bool enabled, uint64_t hits)
{
    (void)id;
    (void)hits;
    uint64_t *by_state = ud;
    by_state[enabled ? 0 : 1]++;
}

static void detector_metrics(struct trl_buf *b, struct trl_detector *d)
{
    uint64_t events, ns;
    trl_detector_get_eval_stats(d, &events, &ns);
    metric(b, "trapline_rule_eval_seconds_total", "counter",
           "Time spent evaluating events against the rules and recording alerts.", "",
           (double)ns / 1e9);
    metric(b, "trapline_rule_eval_events_total", "counter", "Events evaluated against the rules.",
           "", (double)events);
    uint64_t by_state[2] = {0};
    trl_detector_each_rule(d, count_rule, by_state);
    trl_buf_printf(b,
                   "# HELP trapline_rules Rules loaded by the detector, on or turned off.\n"
                   "# TYPE trapline_rules gauge\n"
                   "trapline_rules{state=\"enabled\"} %llu\n"
                   "trapline_rules{state=\"disabled\"} %llu\n",
                   (unsigned long long)by_state[0], (unsigned long long)by_state[1]);
}

/* The agents' own reports (DATA/agents.db), summed: agents deliver over their own listener. */
struct agent_sums {
    int64_t now;
    uint64_t by_status[3]; /* online, silent, revoked */
    double events_per_sec;
    uint64_t spool, dropped;
};

static void sum_agent(void *ud, const struct trl_agent_info *a)
{
    struct agent_sums *s = ud;
    const char *status = trl_agent_status(a, s->now);
    s->by_status[!strcmp(status, "online") ? 0 : !strcmp(status, "silent") ? 1 : 2]++;
    if (a->revoked_at)
        return;
    s->events_per_sec += a->events_per_sec;
    s->spool += a->spool_depth;
    s->dropped += a->dropped;
}

static void agent_metrics(struct trl_buf *b, const char *data_dir)
{
    struct agent_sums s = {.now = (int64_t)time(NULL)};
    char path[4096];
    struct stat st;
    /* Reading must not create the registry: it exists once an agent has enrolled. */
    snprintf(path, sizeof(path), "%s/agents.db", data_dir);
    struct trl_agent_registry *reg =
        stat(path, &st) == 0 ? trl_agent_registry_open(data_dir) : NULL;
    if (reg) {
        (void)trl_agent_registry_list(reg, sum_agent, &s);
        trl_agent_registry_close(reg);
    }
    trl_buf_printf(b,
                   "# HELP trapline_agents Enrolled agents by status.\n"
                   "# TYPE trapline_agents gauge\n"
                   "trapline_agents{status=\"online\"} %llu\n"
                   "trapline_agents{status=\"silent\"} %llu\n"
                   "trapline_agents{status=\"revoked\"} %llu\n",
                   (unsigned long long)s.by_status[0], (unsigned long long)s.by_status[1],
                   (unsigned long long)s.by_status[2]);
    metric(b, "trapline_agent_events_per_second", "gauge",
           "Events per second the agents last reported sending, summed.", "", s.events_per_sec);
    metric(b, "trapline_agent_spool_events", "gauge",
           "Events waiting in the agents' disk spools, as last reported, summed.", "",
           (double)s.spool);
    metric(b, "trapline_agent_dropped_events", "gauge",
           "Events the agents dropped (spool full) since each started, as last reported, summed.",
           "", (double)s.dropped);
}

static void count_alert(void *ud, const struct trl_alert_row *row)
{
    uint64_t *by_status = ud;
    if (!strcmp(row->status, "new"))
        by_status[0]++;
    else if (!strcmp(row->status, "acknowledged"))
        by_status[1]++;
    else
        by_status[2]++;
}

void trl_api_metrics(struct trl_web_req *rq, struct trl_web_resp *rs)
{
    struct trl_buf b = {0};
    trl_buf_puts(&b, "");
    metric(&b, "trapline_uptime_seconds", "gauge", "Seconds since the server started.", "",
           (double)(trl_now_ns() - rq->web->started_ns) / 1e9);
    if (rq->web->pipeline) {
        struct trl_pipeline_stats st;
        trl_pipeline_get_stats(rq->web->pipeline, &st);
        metric(&b, "trapline_events_total", "counter", "Events parsed by the pipeline.", "",
               (double)st.events);
        metric(&b, "trapline_bytes_total", "counter", "Message bytes received.", "",
               (double)st.bytes);
        metric(&b, "trapline_batches_total", "counter", "Batches processed.", "",
               (double)st.batches);
        metric(&b, "trapline_unparsed_total", "counter",
               "Messages no parser recognised (stored raw).", "", (double)st.unparsed);
        metric(&b, "trapline_truncated_total", "counter",
               "Messages cut at the maximum message size.", "", (double)st.truncated);
        metric(&b, "trapline_sink_errors_total", "counter", "Failed writes to the store.", "",
               (double)st.sink_errors);
        metric(&b, "trapline_queue_batches", "gauge", "Batches waiting in the pipeline queue.", "",
               (double)st.queued_batches);
    }
    const struct trl_server_counters *lc = rq->web->listener_counters;
    if (lc) {
        listener_metric(&b, "trapline_listener_messages_total",
                        "Syslog messages received, by listener kind.", lc->msgs, false);
        listener_metric(&b, "trapline_listener_bytes_total",
                        "Bytes received (TLS: as on the wire), by listener kind.", lc->bytes,
                        false);
        listener_metric(&b, "trapline_listener_drops_total",
                        "Datagrams dropped while the pipeline was congested (streams are slowed, "
                        "never dropped).",
                        lc->drops, true);
        address_metrics(&b, lc);
    }
    agent_metrics(&b, rq->web->data_dir);
    if (rq->web->detector)
        detector_metrics(&b, rq->web->detector);
    char path[4096];
    snprintf(path, sizeof(path), "%s/events", rq->web->data_dir);
    metric(&b, "trapline_store_bytes", "gauge", "Bytes of the event store on disk.", "",
           (double)dir_bytes(path, 0));
    struct trl_alert_store *as = trl_alert_store_open(rq->web->data_dir, 0, true);
    if (as) {
        uint64_t by_status[3] = {0};
        struct trl_alert_filter f = {.limit = 1000000};
        (void)trl_alert_store_list(as, &f, count_alert, by_status);
        trl_alert_store_close(as);
        const char *names[] = {"new", "acknowledged", "closed"};
        trl_buf_puts(&b, "# HELP trapline_alerts Alerts in the alert store by status.\n"
                         "# TYPE trapline_alerts gauge\n");
        for (int i = 0; i < 3; i++) {
            char line[128];
            snprintf(line, sizeof(line), "trapline_alerts{status=\"%s\"} %llu\n", names[i],
                     (unsigned long long)by_status[i]);
            trl_buf_puts(&b, line);
        }
    }
    rs->body = b.data;
    rs->len = b.len;
    rs->status = 200;
    rs->ctype = "text/plain; version=0.0.4; charset=utf-8";
}

#include "detect/detector.h"
#include "core/log.h"
#include "core/util.h"
#include "detect/alerts.h"
#include "detect/sigma.h"
#include "ioc/ioc_stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct trl_detector {
    struct trl_sigma_ruleset *rules;
    struct trl_sigma_scratch *scratch;
    struct trl_alert_store *alerts;
    struct trl_outputs *outputs; /* NULL: alerts are only stored */
    struct trl_detector_stats stats;
    /* The event being evaluated, and the ids of the batch's events for correlation reports. */
    const struct trl_event *current;
    struct trl_batch *batch;
};

static void log_problem(void *ud, const char *file, int line, const char *rule, const char *reason,
                        bool unsupported)
{
    struct trl_detector *d = ud;
    if (unsupported)
        d->stats.unsupported++;
    else
        d->stats.invalid++;
    trl_warn("rules", "%s rule skipped file=%s line=%d title=\"%s\" reason=\"%s\"",
             unsupported ? "unsupported" : "invalid", file, line, rule ? rule : "", reason);
}

struct trl_detector *trl_detector_create(const struct trl_detector_config *cfg)
{
    struct trl_detector *d = trl_xcalloc(1, sizeof(*d));
    d->rules = trl_sigma_ruleset_create();
    for (size_t i = 0; i < cfg->nrule_paths; i++)
        trl_sigma_load_path(d->rules, cfg->rule_paths[i], log_problem, d);
    trl_sigma_ruleset_finalize(d->rules, log_problem, d);
    d->stats.rules = trl_sigma_rule_count(d->rules);
    d->scratch = trl_sigma_scratch_create(d->rules);
    d->alerts = trl_alert_store_open(cfg->data_dir, cfg->fold_window_ns, false);
    if (!d->alerts) {
        trl_detector_destroy(d);
        return NULL;
    }
    if (cfg->outputs && trl_outputs_configured(cfg->outputs) &&
        (trl_alert_store_set_outbox(d->alerts, cfg->outputs_min_level) != 0 ||
         !(d->outputs = trl_outputs_create(cfg->outputs)))) {
        trl_detector_destroy(d);
        return NULL;
    }
    trl_info("rules", "loaded rules=%zu unsupported=%zu invalid=%zu", d->stats.rules,
             d->stats.unsupported, d->stats.invalid);
    return d;
}

void trl_detector_destroy(struct trl_detector *d)
{
    if (!d)
        return;
    /* The store commits what is pending first, so that the outputs drain every last alert. */
    trl_alert_store_close(d->alerts);
    trl_outputs_destroy(d->outputs);
    trl_sigma_scratch_destroy(d->scratch);
    trl_sigma_ruleset_destroy(d->rules);
    free(d);
}

static uint64_t event_number(const struct trl_event *ev)
{
    size_t len;
    const char *id = trl_event_get(ev, TRL_F_EVENT_ID, &len);
    return id ? strtoull(id, NULL, 16) : 0;
}

static void on_match(void *ud, const struct trl_sigma_match *m)
{
    struct trl_detector *d = ud;
    struct trl_sigma_rule_info info;
    trl_sigma_rule_get_info(d->rules, m->rule_index, &info);
    const struct trl_event *ev = d->current;
    size_t len = 0;
    const char *host = trl_event_get(ev, TRL_F_HOST_NAME, &len);
    char hostbuf[256] = "";
    if (host)
        snprintf(hostbuf, sizeof(hostbuf), "%.*s", (int)TRL_MIN(len, 255), host);

    /* Event ids travel as 64-bit numbers through correlation and are stored as event.id text. */
    char idtext[64][17];
    const char *ids[64];
    size_t nids = 0;
    if (m->correlation) {
        for (size_t i = 0; i < m->nevents && nids < 64; i++) {
            snprintf(idtext[nids], sizeof(idtext[nids]), "%016llx",
                     (unsigned long long)m->event_ids[i]);
            ids[nids] = idtext[nids];
            nids++;
        }
    } else {
        snprintf(idtext[0], sizeof(idtext[0]), "%016llx", (unsigned long long)event_number(ev));
        ids[0] = idtext[0];
        nids = 1;
    }
    struct trl_alert a = {
        .rule_id = info.id,
        .title = info.title,
        .level = info.level,
        .tags = info.tags,
        .ntags = info.ntags,
        .correlation = info.type,
        .group_fields = m->group_fields,
        .group_values = m->group_values,
        .ngroup = m->ngroup,
        .event_ids = ids,
        .nevents = nids,
        .host = host ? hostbuf : NULL,
        .timestamp_ns = ev->timestamp_ns ? ev->timestamp_ns : ev->received_ns,
    };
    d->stats.matches++;
    if (trl_alert_store_add(d->alerts, &a) != 0)
        d->stats.alert_errors++;
}

int trl_detector_process(void *detector, struct trl_batch *b)
{
    struct trl_detector *d = detector;
    for (uint32_t i = 0; i < b->nevents; i++) {
        const struct trl_event *ev = b->events[i];
        if (!ev)
            continue;
        d->current = ev;
        trl_sigma_eval(d->rules, d->scratch, ev, event_number(ev), on_match, d);
    }
    /* Threat-intelligence hits found while the batch was parsed: one alert each. */
    d->stats.alert_errors += trl_ioc_alert_batch(b, d->alerts, &d->stats.ioc_matches);
    d->stats.events += b->nevents;
    int rc = trl_alert_store_commit(d->alerts);
    if (rc == 0)
        trl_outputs_notify(d->outputs);
    return rc;
}

void trl_detector_get_stats(const struct trl_detector *d, struct trl_detector_stats *out)
{
    *out = d->stats;
}

/*
 * sigma_fields: maps the field names Sigma rules use (Windows EventData names, the Sigma taxonomy's
 * Image/CommandLine/..., raw auditd keys, web server names, or ECS dotted names) onto Trapline's
 * event fields, and classifies events into Sigma log sources (product / category / service).
 *
 * A field reference is resolved once when a rule is compiled into a short list of candidate event
 * fields tried in order. The mapping tables are constant data (documented in docs/detection.md).
 * Pure functions; safe from any thread.
 */
#ifndef TRL_SIGMA_FIELDS_H
#define TRL_SIGMA_FIELDS_H

#include "core/event.h"

#include <stdbool.h>
#include <stddef.h>

#define SIGMA_FIELD_MAX_CANDIDATES 6

enum sigma_field_kind { SIGMA_FIELD_KEYWORDS, SIGMA_FIELD_NAMED };

struct sigma_field_candidate {
    enum trl_field field; /* a known field, or TRL_F_NONE for a dynamic name */
    char *name;           /* dynamic dotted name (owned) */
    size_t name_len;
};

struct sigma_field_ref {
    enum sigma_field_kind kind;
    char *sigma_name; /* as written in the rule (owned) */
    struct sigma_field_candidate cand[SIGMA_FIELD_MAX_CANDIDATES];
    size_t ncand;
};

struct trl_sigma_logsource;

/* Resolves a Sigma field name for rules of the given log source. */
void sigma_field_ref_init(struct sigma_field_ref *ref, const char *name,
                          const struct trl_sigma_logsource *ls);
void sigma_field_ref_keywords(struct sigma_field_ref *ref);
void sigma_field_ref_free(struct sigma_field_ref *ref);
/* The first candidate present in ev, or NULL. */
const char *sigma_field_get(const struct sigma_field_ref *ref, const struct trl_event *ev,
                            size_t *len);

/* Every value of a field: the first candidate present, then, for array fields (event.category,
 * auditd.log.record_types...), its further values. index is the iteration state. */
const struct trl_kv *sigma_field_first(const struct sigma_field_ref *ref,
                                       const struct trl_event *ev, uint32_t *index);
const struct trl_kv *sigma_field_next(const struct trl_event *ev, const struct trl_kv *prev,
                                      uint32_t *index);

/* A rule's log source resolved once, so that classifying an event does no string comparison. */
enum sigma_ls_product { SIGMA_LS_ANY, SIGMA_LS_WINDOWS, SIGMA_LS_LINUX, SIGMA_LS_NEVER };
enum sigma_ls_service {
    SIGMA_SVC_AUDITD = 1,
    SIGMA_SVC_SYSLOG,
    SIGMA_SVC_SSHD,
    SIGMA_SVC_CRON,
    SIGMA_SVC_AUTH,
    SIGMA_SVC_PROGRAM /* any other service: the program's name */
};
enum sigma_ls_category {
    SIGMA_CAT_NONE,
    SIGMA_CAT_PROCESS_START,
    SIGMA_CAT_FILE,
    SIGMA_CAT_NETWORK
};

struct sigma_ls_match {
    int product; /* enum sigma_ls_product */
    bool webserver;
    bool has_service;
    bool has_category;
    const char *win_channel; /* the Windows channel of the service; NULL: not a Windows service */
    int lin_service;         /* enum sigma_ls_service */
    const char *service;     /* points into the rule's logsource */
    size_t service_len;
    int lin_category; /* enum sigma_ls_category */
    bool win_security_4688;
    long win_event_id; /* PowerShell categories: the one event id; -1: none */
    long sysmon_ids[4];
    size_t nsysmon;
};

/* What the log source tests read of an event, gathered once per event (pointers into it). */
struct sigma_ls_facts {
    bool windows, sysmon, security;
    long event_id;
    const char *channel;
    size_t channel_len;
    const char *app; /* log.syslog.appname, else process.name */
    size_t app_len;
    bool audit, syslog, auth, web, file, process_start, network_connection;
};

/* m points into ls afterwards: ls must outlive it. */
void sigma_logsource_compile(const struct trl_sigma_logsource *ls, struct sigma_ls_match *m);
void sigma_logsource_facts(const struct trl_event *ev, struct sigma_ls_facts *f);
/* Whether a rule with log source m applies to the event of f (unknown product/category/service:
 * no). */
bool sigma_logsource_matches(const struct sigma_ls_match *m, const struct sigma_ls_facts *f);

#endif

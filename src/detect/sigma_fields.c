#include "detect/sigma_fields.h"
#include "core/util.h"
#include "detect/sigma.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Windows System fields, reachable under their EVTX names. */
static const struct {
    const char *sigma;
    enum trl_field field;
} windows_system[] = {
    {"EventID", TRL_F_WINLOG_EVENT_ID},        {"Channel", TRL_F_WINLOG_CHANNEL},
    {"Computer", TRL_F_WINLOG_COMPUTER_NAME},  {"Provider_Name", TRL_F_WINLOG_PROVIDER_NAME},
    {"EventRecordID", TRL_F_WINLOG_RECORD_ID}, {"Hostname", TRL_F_HOST_NAME},
};

/* The Sigma taxonomy (and common raw names) onto ECS, for events that are not Windows events with
 * an EventData block: Linux process/file/network events from audit or the agent, web access logs.
 * Several rows for one name are tried in order. */
static const struct {
    const char *sigma;
    enum trl_field field;
} taxonomy[] = {
    {"Image", TRL_F_PROCESS_EXECUTABLE},
    {"CommandLine", TRL_F_PROCESS_COMMAND_LINE},
    {"ParentImage", TRL_F_PROCESS_PARENT_EXECUTABLE},
    {"ParentCommandLine", TRL_F_PROCESS_PARENT_COMMAND_LINE},
    {"ProcessId", TRL_F_PROCESS_PID},
    {"ParentProcessId", TRL_F_PROCESS_PARENT_PID},
    {"CurrentDirectory", TRL_F_PROCESS_WORKING_DIRECTORY},
    {"User", TRL_F_USER_NAME},
    {"LogonId", TRL_F_WINLOG_LOGON_ID},
    {"TargetFilename", TRL_F_FILE_PATH},
    {"DestinationIp", TRL_F_DESTINATION_IP},
    {"DestinationPort", TRL_F_DESTINATION_PORT},
    {"DestinationHostname", TRL_F_DESTINATION_DOMAIN},
    {"SourceIp", TRL_F_SOURCE_IP},
    {"SourcePort", TRL_F_SOURCE_PORT},
    {"Protocol", TRL_F_NETWORK_TRANSPORT},
    /* auditd raw names: an assembled event lists every record type it holds */
    {"type", TRL_F_AUDITD_RECORD_TYPES},
    {"type", TRL_F_AUDITD_RECORD_TYPE},
    {"name", TRL_F_FILE_PATH},
    {"key", TRL_F_AUDITD_KEY},
    {"exe", TRL_F_PROCESS_EXECUTABLE},
    {"comm", TRL_F_PROCESS_NAME},
    {"pid", TRL_F_PROCESS_PID},
    {"ppid", TRL_F_PROCESS_PARENT_PID},
    {"cwd", TRL_F_PROCESS_WORKING_DIRECTORY},
    {"proctitle", TRL_F_PROCESS_TITLE},
    {"syscall", TRL_F_AUDITD_SYSCALL},
    {"SYSCALL", TRL_F_AUDITD_SYSCALL},
    {"auid", TRL_F_AUDITD_AUID},
    /* web server taxonomy (W3C names) */
    {"c-ip", TRL_F_SOURCE_IP},
    {"c-uri", TRL_F_URL_ORIGINAL},
    {"cs-uri", TRL_F_URL_ORIGINAL},
    {"cs-uri-stem", TRL_F_URL_PATH},
    {"c-uri-stem", TRL_F_URL_PATH},
    {"cs-uri-query", TRL_F_URL_QUERY},
    {"c-uri-query", TRL_F_URL_QUERY},
    {"c-uri-extension", TRL_F_URL_EXTENSION},
    {"cs-method", TRL_F_HTTP_REQUEST_METHOD},
    {"sc-status", TRL_F_HTTP_RESPONSE_STATUS_CODE},
    {"c-useragent", TRL_F_USER_AGENT_ORIGINAL},
    {"cs-user-agent", TRL_F_USER_AGENT_ORIGINAL},
    {"cs-referer", TRL_F_HTTP_REQUEST_REFERRER},
    {"cs-host", TRL_F_URL_DOMAIN},
    {"cs-username", TRL_F_USER_NAME},
};

static void add_known(struct sigma_field_ref *ref, enum trl_field f)
{
    for (size_t i = 0; i < ref->ncand; i++) {
        if (ref->cand[i].field == f)
            return;
    }
    if (ref->ncand < SIGMA_FIELD_MAX_CANDIDATES)
        ref->cand[ref->ncand++] = (struct sigma_field_candidate){.field = f};
}

static void add_dynamic(struct sigma_field_ref *ref, const char *prefix, const char *name)
{
    if (ref->ncand >= SIGMA_FIELD_MAX_CANDIDATES)
        return;
    size_t n = strlen(prefix) + strlen(name);
    char *full = trl_xmalloc(n + 1);
    strcpy(full, prefix);
    strcat(full, name);
    enum trl_field f = trl_field_lookup(full, n);
    if (f != TRL_F_NONE) {
        free(full);
        add_known(ref, f);
        return;
    }
    ref->cand[ref->ncand++] = (struct sigma_field_candidate){.name = full, .name_len = n};
}

static bool ls_is(const char *v, const char *want)
{
    return v && !strcasecmp(v, want);
}

void sigma_field_ref_init(struct sigma_field_ref *ref, const char *name,
                          const struct trl_sigma_logsource *ls)
{
    memset(ref, 0, sizeof(*ref));
    ref->kind = SIGMA_FIELD_NAMED;
    ref->sigma_name = trl_xstrdup(name);
    bool windows = ls && ls_is(ls->product, "windows");
    bool linux_ = ls && ls_is(ls->product, "linux");

    if (!linux_) {
        for (size_t i = 0; i < TRL_ARRAY_LEN(windows_system); i++) {
            if (!strcmp(windows_system[i].sigma, name))
                add_known(ref, windows_system[i].field);
        }
        add_dynamic(ref, "winlog.event_data.", name);
        add_dynamic(ref, "winlog.user_data.", name);
        /* Security 4688 names the same things differently from Sysmon 1 (see docs/detection.md). */
        if (!strcmp(name, "Image"))
            add_dynamic(ref, "winlog.event_data.", "NewProcessName");
        else if (!strcmp(name, "ParentImage"))
            add_dynamic(ref, "winlog.event_data.", "ParentProcessName");
    }
    if (!windows) {
        for (size_t i = 0; i < TRL_ARRAY_LEN(taxonomy); i++) {
            if (!strcmp(taxonomy[i].sigma, name))
                add_known(ref, taxonomy[i].field);
        }
        if (!ls || ls_is(ls->service, "auditd") || !ls->product || linux_)
            add_dynamic(ref, "auditd.data.", name);
    }
    /* ECS names written directly in a rule (process.executable, source.ip, ...). */
    add_dynamic(ref, "", name);
}

void sigma_field_ref_keywords(struct sigma_field_ref *ref)
{
    memset(ref, 0, sizeof(*ref));
    ref->kind = SIGMA_FIELD_KEYWORDS;
}

void sigma_field_ref_free(struct sigma_field_ref *ref)
{
    free(ref->sigma_name);
    for (size_t i = 0; i < ref->ncand; i++)
        free(ref->cand[i].name);
    memset(ref, 0, sizeof(*ref));
}

const struct trl_kv *sigma_field_first(const struct sigma_field_ref *ref,
                                       const struct trl_event *ev, uint32_t *index)
{
    for (size_t c = 0; c < ref->ncand; c++) {
        const struct sigma_field_candidate *cand = &ref->cand[c];
        if (cand->field) {
            uint16_t slot = ev->slot[cand->field];
            if (slot) {
                *index = slot - 1u;
                return &ev->fields[slot - 1u];
            }
            continue;
        }
        for (uint32_t i = 0; i < ev->nfields; i++) {
            const struct trl_kv *kv = &ev->fields[i];
            bool hit = cand->field ? kv->field == cand->field
                                   : !kv->field && kv->name_len == cand->name_len &&
                                         memcmp(kv->name, cand->name, cand->name_len) == 0;
            if (hit) {
                *index = i;
                return kv;
            }
        }
    }
    return NULL;
}

const struct trl_kv *sigma_field_next(const struct trl_event *ev, const struct trl_kv *prev,
                                      uint32_t *index)
{
    if (!prev->field || trl_field_info((enum trl_field)prev->field)->type != TRL_FT_ARRAY)
        return NULL;
    for (uint32_t i = *index + 1; i < ev->nfields; i++) {
        if (ev->fields[i].field == prev->field) {
            *index = i;
            return &ev->fields[i];
        }
    }
    return NULL;
}

const char *sigma_field_get(const struct sigma_field_ref *ref, const struct trl_event *ev,
                            size_t *len)
{
    for (size_t i = 0; i < ref->ncand; i++) {
        const struct sigma_field_candidate *c = &ref->cand[i];
        const char *v = c->field ? trl_event_get(ev, c->field, len)
                                 : trl_event_get_named(ev, c->name, c->name_len, len);
        if (v)
            return v;
    }
    return NULL;
}

/* ---- log sources ---- */

static const struct {
    const char *service;
    const char *channel;
} windows_services[] = {
    {"security", "Security"},
    {"system", "System"},
    {"application", "Application"},
    {"sysmon", "Microsoft-Windows-Sysmon/Operational"},
    {"powershell", "Microsoft-Windows-PowerShell/Operational"},
    {"powershell-classic", "Windows PowerShell"},
    {"taskscheduler", "Microsoft-Windows-TaskScheduler/Operational"},
    {"wmi", "Microsoft-Windows-WMI-Activity/Operational"},
    {"windefend", "Microsoft-Windows-Windows Defender/Operational"},
    {"firewall-as", "Microsoft-Windows-Windows Firewall With Advanced Security/Firewall"},
    {"bits-client", "Microsoft-Windows-Bits-Client/Operational"},
    {"dns-server", "DNS Server"},
    {"terminalservices-localsessionmanager",
     "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"},
    {"codeintegrity-operational", "Microsoft-Windows-CodeIntegrity/Operational"},
    {"applocker", "Microsoft-Windows-AppLocker/EXE and DLL"},
    {"driver-framework", "Microsoft-Windows-DriverFrameworks-UserMode/Operational"},
    {"ntlm", "Microsoft-Windows-NTLM/Operational"},
    {"openssh", "OpenSSH/Operational"},
    {"printservice-admin", "Microsoft-Windows-PrintService/Admin"},
    {"printservice-operational", "Microsoft-Windows-PrintService/Operational"},
    {"smbclient-security", "Microsoft-Windows-SmbClient/Security"},
    {"security-mitigations", "Microsoft-Windows-Security-Mitigations/KernelMode"},
    {"appxdeployment-server", "Microsoft-Windows-AppXDeploymentServer/Operational"},
    {"capi2", "Microsoft-Windows-CAPI2/Operational"},
    {"diagnosis-scripted", "Microsoft-Windows-Diagnosis-Scripted/Operational"},
    {"shell-core", "Microsoft-Windows-Shell-Core/Operational"},
    {"lsa-server", "Microsoft-Windows-LSA/Operational"},
    {"msexchange-management", "MSExchange Management"},
    {"ldap", "Microsoft-Windows-LDAP-Client/Debug"},
};

/* Sysmon event ids for the Sigma categories of Windows rules. */
static const struct {
    const char *category;
    long sysmon_id;
} windows_categories[] = {
    {"process_creation", 1},
    {"network_connection", 3},
    {"sysmon_status", 4},
    {"process_termination", 5},
    {"driver_load", 6},
    {"image_load", 7},
    {"create_remote_thread", 8},
    {"raw_access_thread", 9},
    {"process_access", 10},
    {"file_event", 11},
    {"registry_add", 12},
    {"registry_delete", 12},
    {"registry_set", 13},
    {"registry_rename", 14},
    {"registry_event", 12},
    {"registry_event", 13},
    {"registry_event", 14},
    {"create_stream_hash", 15},
    {"pipe_created", 17},
    {"pipe_created", 18},
    {"wmi_event", 19},
    {"wmi_event", 20},
    {"wmi_event", 21},
    {"dns_query", 22},
    {"file_delete", 23},
    {"file_delete", 26},
    {"clipboard_capture", 24},
    {"process_tampering", 25},
    {"file_block_executable", 27},
    {"file_block_shredding", 28},
    {"file_executable_detected", 29},
};

static bool is(const char *s, const char *want)
{
    return s && !strcasecmp(s, want);
}

void sigma_logsource_compile(const struct trl_sigma_logsource *ls, struct sigma_ls_match *m)
{
    memset(m, 0, sizeof(*m));
    m->webserver = is(ls->category, "webserver");
    m->product = !ls->product                 ? SIGMA_LS_ANY
                 : is(ls->product, "windows") ? SIGMA_LS_WINDOWS
                 : is(ls->product, "linux")   ? SIGMA_LS_LINUX
                                              : SIGMA_LS_NEVER; /* cisco, macos, aws... */
    if (ls->service) {
        m->has_service = true;
        for (size_t i = 0; i < TRL_ARRAY_LEN(windows_services); i++) {
            if (is(ls->service, windows_services[i].service))
                m->win_channel = windows_services[i].channel;
        }
        m->lin_service = is(ls->service, "auditd")   ? SIGMA_SVC_AUDITD
                         : is(ls->service, "syslog") ? SIGMA_SVC_SYSLOG
                         : is(ls->service, "sshd")   ? SIGMA_SVC_SSHD
                         : is(ls->service, "cron")   ? SIGMA_SVC_CRON
                         : is(ls->service, "auth")   ? SIGMA_SVC_AUTH
                                                     : SIGMA_SVC_PROGRAM;
        m->service = ls->service;
        m->service_len = strlen(ls->service);
    }
    if (ls->category) {
        m->has_category = true;
        const char *c = ls->category;
        m->lin_category = is(c, "process_creation")                     ? SIGMA_CAT_PROCESS_START
                          : is(c, "file_event") || is(c, "file_change") ? SIGMA_CAT_FILE
                          : is(c, "network_connection")                 ? SIGMA_CAT_NETWORK
                                                                        : SIGMA_CAT_NONE;
        m->win_security_4688 = is(c, "process_creation");
        m->win_event_id = is(c, "ps_script")          ? 4104
                          : is(c, "ps_module")        ? 4103
                          : is(c, "ps_classic_start") ? 400
                                                      : -1;
        for (size_t i = 0; i < TRL_ARRAY_LEN(windows_categories); i++) {
            if (is(c, windows_categories[i].category) && m->nsysmon < TRL_ARRAY_LEN(m->sysmon_ids))
                m->sysmon_ids[m->nsysmon++] = windows_categories[i].sysmon_id;
        }
    }
}

static bool value_is(const struct trl_kv *kv, const char *want, size_t wl)
{
    return kv->val_len == wl && !strncasecmp(kv->val, want, wl);
}

#define VALUE_IS(kv, lit) value_is((kv), (lit), sizeof(lit) - 1)

void sigma_logsource_facts(const struct trl_event *ev, struct sigma_ls_facts *f)
{
    memset(f, 0, sizeof(*f));
    f->windows =
        trl_event_has(ev, TRL_F_WINLOG_EVENT_ID) || trl_event_has(ev, TRL_F_WINLOG_CHANNEL);
    size_t len;
    const char *v = trl_event_get(ev, TRL_F_WINLOG_EVENT_ID, &len);
    int64_t id;
    f->event_id = v && trl_parse_i64(v, len, &id) ? (long)id : -1;
    f->app = trl_event_get(ev, TRL_F_LOG_SYSLOG_APPNAME, &f->app_len);
    if (!f->app)
        f->app = trl_event_get(ev, TRL_F_PROCESS_NAME, &f->app_len);
    f->audit =
        trl_event_has(ev, TRL_F_AUDITD_RECORD_TYPE) || trl_event_has(ev, TRL_F_AUDITD_SEQUENCE);
    f->syslog =
        trl_event_has(ev, TRL_F_LOG_SYSLOG_PRIORITY) || trl_event_has(ev, TRL_F_LOG_SYSLOG_APPNAME);
    /* One pass over the fields for every value test (array fields hold several values). */
    bool process = false, start = false, network = false, connection = false;
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        switch (kv->field) {
        case TRL_F_WINLOG_CHANNEL:
            f->channel = kv->val;
            f->channel_len = kv->val_len;
            f->sysmon = f->sysmon || VALUE_IS(kv, "Microsoft-Windows-Sysmon/Operational");
            f->security = f->security || VALUE_IS(kv, "Security");
            break;
        case TRL_F_LOG_SYSLOG_FACILITY_NAME:
            f->auth = f->auth || VALUE_IS(kv, "auth") || VALUE_IS(kv, "authpriv");
            break;
        case TRL_F_EVENT_CATEGORY:
            f->auth = f->auth || VALUE_IS(kv, "authentication");
            f->web = f->web || VALUE_IS(kv, "web");
            f->file = f->file || VALUE_IS(kv, "file");
            process = process || VALUE_IS(kv, "process");
            network = network || VALUE_IS(kv, "network");
            break;
        case TRL_F_EVENT_TYPE:
            start = start || VALUE_IS(kv, "start");
            connection = connection || VALUE_IS(kv, "connection");
            break;
        default:
            break;
        }
    }
    f->process_start = process && start;
    f->network_connection = network && connection;
}

static bool windows_category_matches(const struct sigma_ls_match *m, const struct sigma_ls_facts *f)
{
    if (m->win_security_4688 && f->security && f->event_id == 4688)
        return true;
    if (m->win_event_id >= 0)
        return f->event_id == m->win_event_id;
    if (!f->sysmon)
        return false;
    for (size_t i = 0; i < m->nsysmon; i++) {
        if (m->sysmon_ids[i] == f->event_id)
            return true;
    }
    return false;
}

static bool linux_service_matches(const struct sigma_ls_match *m, const struct sigma_ls_facts *f)
{
    switch (m->lin_service) {
    case SIGMA_SVC_AUDITD:
        return f->audit;
    case SIGMA_SVC_SYSLOG:
        return f->syslog;
    default:
        break;
    }
    if (!f->app)
        return false;
    switch (m->lin_service) {
    case SIGMA_SVC_SSHD:
        return trl_starts_with(f->app, f->app_len, "sshd");
    case SIGMA_SVC_CRON:
        return trl_strcase_eq(f->app, f->app_len, "cron", 4) ||
               trl_strcase_eq(f->app, f->app_len, "crond", 5) ||
               trl_strcase_eq(f->app, f->app_len, "crontab", 7);
    case SIGMA_SVC_AUTH:
        return f->auth;
    default:
        return trl_strcase_eq(f->app, f->app_len, m->service, m->service_len);
    }
}

static bool linux_category_matches(const struct sigma_ls_match *m, const struct sigma_ls_facts *f)
{
    switch (m->lin_category) {
    case SIGMA_CAT_PROCESS_START:
        return f->process_start;
    case SIGMA_CAT_FILE:
        return f->file;
    case SIGMA_CAT_NETWORK:
        return f->network_connection;
    default:
        return false;
    }
}

bool sigma_logsource_matches(const struct sigma_ls_match *m, const struct sigma_ls_facts *f)
{
    if (m->webserver)
        return f->web;
    if ((m->product == SIGMA_LS_WINDOWS && !f->windows) ||
        (m->product == SIGMA_LS_LINUX && f->windows) || m->product == SIGMA_LS_NEVER)
        return false;
    if (f->windows) {
        if (m->has_service &&
            (!m->win_channel || !f->channel ||
             !trl_strcase_eq(f->channel, f->channel_len, m->win_channel, strlen(m->win_channel))))
            return false;
        return !m->has_category || windows_category_matches(m, f);
    }
    if (m->has_service && !linux_service_matches(m, f))
        return false;
    return !m->has_category || linux_category_matches(m, f);
}

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

static bool has_value(const struct trl_event *ev, enum trl_field f, const char *want)
{
    size_t wl = strlen(want);
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        if (kv->field == f && kv->val_len == wl && !strncasecmp(kv->val, want, wl))
            return true;
    }
    return false;
}

static long event_id(const struct trl_event *ev)
{
    size_t len;
    const char *v = trl_event_get(ev, TRL_F_WINLOG_EVENT_ID, &len);
    int64_t id;
    return v && trl_parse_i64(v, len, &id) ? (long)id : -1;
}

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

static bool windows_category_matches(const char *category, const struct trl_event *ev)
{
    long id = event_id(ev);
    bool sysmon = has_value(ev, TRL_F_WINLOG_CHANNEL, "Microsoft-Windows-Sysmon/Operational");
    bool security = has_value(ev, TRL_F_WINLOG_CHANNEL, "Security");
    if (!strcasecmp(category, "process_creation") && security && id == 4688)
        return true;
    if (!strcasecmp(category, "ps_script"))
        return id == 4104;
    if (!strcasecmp(category, "ps_module"))
        return id == 4103;
    if (!strcasecmp(category, "ps_classic_start"))
        return id == 400;
    if (!sysmon)
        return false;
    for (size_t i = 0; i < TRL_ARRAY_LEN(windows_categories); i++) {
        if (!strcasecmp(windows_categories[i].category, category) &&
            windows_categories[i].sysmon_id == id)
            return true;
    }
    return false;
}

static bool is_windows_event(const struct trl_event *ev)
{
    return trl_event_has(ev, TRL_F_WINLOG_EVENT_ID) || trl_event_has(ev, TRL_F_WINLOG_CHANNEL);
}

static bool linux_service_matches(const char *service, const struct trl_event *ev)
{
    size_t len = 0;
    const char *app = trl_event_get(ev, TRL_F_LOG_SYSLOG_APPNAME, &len);
    if (!app)
        app = trl_event_get(ev, TRL_F_PROCESS_NAME, &len);
    if (!strcasecmp(service, "auditd"))
        return trl_event_has(ev, TRL_F_AUDITD_RECORD_TYPE) ||
               trl_event_has(ev, TRL_F_AUDITD_SEQUENCE);
    if (!strcasecmp(service, "syslog"))
        return trl_event_has(ev, TRL_F_LOG_SYSLOG_PRIORITY) ||
               trl_event_has(ev, TRL_F_LOG_SYSLOG_APPNAME);
    if (!app)
        return false;
    if (!strcasecmp(service, "sshd"))
        return trl_starts_with(app, len, "sshd");
    if (!strcasecmp(service, "cron"))
        return trl_strcase_eq(app, len, "cron", 4) || trl_strcase_eq(app, len, "crond", 5) ||
               trl_strcase_eq(app, len, "crontab", 7);
    if (!strcasecmp(service, "auth"))
        return has_value(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, "auth") ||
               has_value(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, "authpriv") ||
               has_value(ev, TRL_F_EVENT_CATEGORY, "authentication");
    return trl_strcase_eq(app, len, service, strlen(service));
}

static bool linux_category_matches(const char *category, const struct trl_event *ev)
{
    if (!strcasecmp(category, "process_creation"))
        return has_value(ev, TRL_F_EVENT_CATEGORY, "process") &&
               has_value(ev, TRL_F_EVENT_TYPE, "start");
    if (!strcasecmp(category, "file_event") || !strcasecmp(category, "file_change"))
        return has_value(ev, TRL_F_EVENT_CATEGORY, "file");
    if (!strcasecmp(category, "network_connection"))
        return has_value(ev, TRL_F_EVENT_CATEGORY, "network") &&
               has_value(ev, TRL_F_EVENT_TYPE, "connection");
    return false;
}

bool sigma_logsource_matches(const struct trl_sigma_logsource *ls, const struct trl_event *ev)
{
    bool windows = is_windows_event(ev);
    if (ls->category && !strcasecmp(ls->category, "webserver"))
        return has_value(ev, TRL_F_EVENT_CATEGORY, "web");
    if (ls->product) {
        if (!strcasecmp(ls->product, "windows")) {
            if (!windows)
                return false;
        } else if (!strcasecmp(ls->product, "linux")) {
            if (windows)
                return false;
        } else {
            return false; /* products we do not receive yet (cisco, macos, aws, ...) */
        }
    }
    if (windows) {
        if (ls->service) {
            bool found = false;
            for (size_t i = 0; i < TRL_ARRAY_LEN(windows_services); i++) {
                if (!strcasecmp(windows_services[i].service, ls->service)) {
                    found = true;
                    if (!has_value(ev, TRL_F_WINLOG_CHANNEL, windows_services[i].channel))
                        return false;
                }
            }
            if (!found)
                return false;
        }
        return !ls->category || windows_category_matches(ls->category, ev);
    }
    if (ls->service && !linux_service_matches(ls->service, ev))
        return false;
    return !ls->category || linux_category_matches(ls->category, ev);
}

#include "json_test.h"

#include "core/timeutil.h"

#include <dirent.h>

/* EVTX records as evtx_dump writes them: the System element of each log, then the event data. */
#define SYSTEM(provider, guid, id, keywords, channel)                                              \
    "{\"Event\":{\"#attributes\":{\"xmlns\":\"http://schemas.microsoft.com/win/2004/08/events/"    \
    "event\"},\"System\":{\"Provider\":{\"#attributes\":{\"Name\":\"" provider                     \
    "\",\"Guid\":\"" guid "\"}},\"EventID\":" #id                                                  \
    ",\"Version\":2,\"Level\":0,\"Task\":12544,\"Opcode\":0,"                                      \
    "\"Keywords\":\"" keywords "\",\"TimeCreated\":{\"#attributes\":{\"SystemTime\":"              \
    "\"2024-07-09T22:31:02.123456Z\"}},\"EventRecordID\":1234567,\"Correlation\":{"                \
    "\"#attributes\":{\"ActivityID\":\"8E521E2B-7C26-0003-031F-528E267CDB01\"}},"                  \
    "\"Execution\":{\"#attributes\":{\"ProcessID\":668,\"ThreadID\":7412}},\"Channel\":\"" channel \
    "\",\"Computer\":\"DC01.corp.example.com\",\"Security\":null}"

#define SECURITY(id)                                                                               \
    SYSTEM("Microsoft-Windows-Security-Auditing", "54849625-5478-4994-A5BA-3E3B0328C30D", id,      \
           "0x8020000000000000", "Security")
#define SECURITY_FAILURE(id)                                                                       \
    SYSTEM("Microsoft-Windows-Security-Auditing", "54849625-5478-4994-A5BA-3E3B0328C30D", id,      \
           "0x8010000000000000", "Security")
#define SYSMON(id)                                                                                 \
    SYSTEM("Microsoft-Windows-Sysmon", "5770385F-C22A-43E0-BF4C-06F5698FFBD9", id,                 \
           "0x8000000000000000", "Microsoft-Windows-Sysmon/Operational")
#define EVENT_DATA(members) ",\"EventData\":{" members "}}}"

static const char ev_4624[] = SECURITY(4624) EVENT_DATA(
    "\"SubjectUserSid\":\"S-1-5-18\",\"SubjectUserName\":\"DC01$\",\"SubjectDomainName\":\"CORP\","
    "\"SubjectLogonId\":\"0x3e7\",\"TargetUserSid\":\"S-1-5-21-1004336348-1177238915-682003330-"
    "1104\","
    "\"TargetUserName\":\"jdoe\",\"TargetDomainName\":\"CORP\",\"TargetLogonId\":\"0x8dcdc\","
    "\"LogonType\":3,\"LogonProcessName\":\"NtLmSsp \",\"AuthenticationPackageName\":\"NTLM\","
    "\"WorkstationName\":\"WS-JDOE\",\"LogonGuid\":\"00000000-0000-0000-0000-000000000000\","
    "\"TransmittedServices\":\"-\",\"LmPackageName\":\"NTLM V2\",\"KeyLength\":128,"
    "\"ProcessId\":\"0x0\",\"ProcessName\":\"-\",\"IpAddress\":\"10.20.1.15\",\"IpPort\":\"49732\","
    "\"ImpersonationLevel\":\"%%1833\",\"ElevatedToken\":\"%%1842\"");

static void test_windows_parser_reads_the_system_element(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(ev_4624);
    assert_string_equal(ev->format, "json");
    assert_int_equal(ev->timestamp_ns, 1720564262123456000LL);
    assert_field(ev, TRL_F_WINLOG_EVENT_ID, "4624");
    assert_field(ev, TRL_F_EVENT_CODE, "4624");
    assert_field(ev, TRL_F_WINLOG_CHANNEL, "Security");
    assert_field(ev, TRL_F_WINLOG_PROVIDER_NAME, "Microsoft-Windows-Security-Auditing");
    assert_field(ev, TRL_F_EVENT_PROVIDER, "Microsoft-Windows-Security-Auditing");
    assert_field(ev, TRL_F_WINLOG_COMPUTER_NAME, "DC01.corp.example.com");
    assert_field(ev, TRL_F_HOST_NAME, "DC01.corp.example.com");
    assert_field(ev, TRL_F_WINLOG_RECORD_ID, "1234567");
    assert_field(ev, TRL_F_EVENT_MODULE, "windows");
    assert_field(ev, TRL_F_LOG_LEVEL, "information");
    assert_string_equal(json_values(ev, TRL_F_WINLOG_KEYWORDS), "Audit Success");
    assert_named(ev, "winlog.provider_guid", "54849625-5478-4994-A5BA-3E3B0328C30D");
    assert_named(ev, "winlog.process.pid", "668");
    assert_named(ev, "winlog.process.thread.id", "7412");
    assert_named(ev, "winlog.activity_id", "8E521E2B-7C26-0003-031F-528E267CDB01");
    assert_named(ev, "winlog.user.identifier", NULL);
    assert_named(ev, "winlog.version", "2");
    assert_named(ev, "winlog.task", "12544");
    assert_named(ev, "winlog.opcode", "0");
    /* Every EventData item keeps its EVTX name and text. */
    assert_named(ev, "winlog.event_data.LogonType", "3");
    assert_named(ev, "winlog.event_data.LogonProcessName", "NtLmSsp ");
    assert_named(ev, "winlog.event_data.ImpersonationLevel", "%%1833");
    assert_named(ev, "winlog.event_data.TransmittedServices", "-");
    assert_named(ev, "winlog.event_data.KeyLength", "128");
}

static void test_windows_4624_network_logon(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(ev_4624);
    assert_field(ev, TRL_F_EVENT_KIND, "event");
    assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "authentication");
    assert_string_equal(json_values(ev, TRL_F_EVENT_TYPE), "start");
    assert_field(ev, TRL_F_EVENT_ACTION, "logged-in");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
    assert_field(ev, TRL_F_USER_NAME, "jdoe");
    assert_field(ev, TRL_F_USER_DOMAIN, "CORP");
    assert_field(ev, TRL_F_USER_ID, "S-1-5-21-1004336348-1177238915-682003330-1104");
    assert_field(ev, TRL_F_WINLOG_LOGON_ID, "0x8dcdc");
    assert_field(ev, TRL_F_WINLOG_LOGON_TYPE, "Network");
    assert_field(ev, TRL_F_SOURCE_IP, "10.20.1.15");
    assert_field(ev, TRL_F_SOURCE_PORT, "49732");
    assert_field(ev, TRL_F_SOURCE_DOMAIN, "WS-JDOE");
    assert_string_equal(json_values(ev, TRL_F_RELATED_USER), "jdoe,DC01$");
    assert_string_equal(json_values(ev, TRL_F_RELATED_IP), "10.20.1.15");
    /* "-" and 0x0 mean "none": no process fields. */
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE, NULL);
    assert_field(ev, TRL_F_PROCESS_PID, NULL);
    assert_field(ev, TRL_F_EVENT_REASON, NULL);
}

static void test_windows_4624_interactive_logon_has_no_source(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(SECURITY(4624) EVENT_DATA(
        "\"TargetUserName\":\"admin\",\"TargetDomainName\":\"WS01\",\"LogonType\":\"2\","
        "\"IpAddress\":\"127.0.0.1\",\"IpPort\":\"0\",\"WorkstationName\":\"-\","
        "\"ProcessId\":\"0x2b4\",\"ProcessName\":\"C:\\\\Windows\\\\System32\\\\svchost.exe\""));
    assert_field(ev, TRL_F_WINLOG_LOGON_TYPE, "Interactive");
    assert_field(ev, TRL_F_SOURCE_IP, "127.0.0.1");
    assert_field(ev, TRL_F_SOURCE_PORT, NULL);
    assert_field(ev, TRL_F_SOURCE_DOMAIN, NULL);
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE, "C:\\Windows\\System32\\svchost.exe");
    assert_field(ev, TRL_F_PROCESS_NAME, "svchost.exe");
    assert_field(ev, TRL_F_PROCESS_PID, "692");
}

static void test_windows_4625_failed_logon_with_reason(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(SECURITY_FAILURE(4625) EVENT_DATA(
        "\"SubjectUserSid\":\"S-1-0-0\",\"SubjectUserName\":\"-\",\"SubjectDomainName\":\"-\","
        "\"SubjectLogonId\":\"0x0\",\"TargetUserSid\":\"S-1-0-0\",\"TargetUserName\":"
        "\"Administrator\",\"TargetDomainName\":\"CORP\",\"Status\":\"0xc000006d\","
        "\"FailureReason\":"
        "\"%%2313\",\"SubStatus\":\"0xc000006a\",\"LogonType\":10,\"LogonProcessName\":\"User32 \","
        "\"AuthenticationPackageName\":\"Negotiate\",\"WorkstationName\":\"KALI\","
        "\"IpAddress\":\"203.0.113.45\",\"IpPort\":\"0\""));
    assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "authentication");
    assert_string_equal(json_values(ev, TRL_F_EVENT_TYPE), "start");
    assert_field(ev, TRL_F_EVENT_ACTION, "logon-failed");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "failure");
    assert_field(ev, TRL_F_EVENT_REASON, "wrong password");
    assert_field(ev, TRL_F_USER_NAME, "Administrator");
    assert_field(ev, TRL_F_USER_DOMAIN, "CORP");
    /* The NULL SID is no account. */
    assert_field(ev, TRL_F_USER_ID, NULL);
    assert_field(ev, TRL_F_WINLOG_LOGON_TYPE, "RemoteInteractive");
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    assert_field(ev, TRL_F_SOURCE_PORT, NULL);
    assert_field(ev, TRL_F_SOURCE_DOMAIN, "KALI");
    assert_string_equal(json_values(ev, TRL_F_RELATED_USER), "Administrator");
}

static void test_windows_4634_and_4647_logoff(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(SECURITY(4634) EVENT_DATA(
        "\"TargetUserSid\":\"S-1-5-21-1004336348-1177238915-682003330-1104\",\"TargetUserName\":"
        "\"jdoe\",\"TargetDomainName\":\"CORP\",\"TargetLogonId\":\"0x8dcdc\",\"LogonType\":3"));
    assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "authentication");
    assert_string_equal(json_values(ev, TRL_F_EVENT_TYPE), "end");
    assert_field(ev, TRL_F_EVENT_ACTION, "logged-out");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
    assert_field(ev, TRL_F_USER_NAME, "jdoe");
    assert_field(ev, TRL_F_WINLOG_LOGON_ID, "0x8dcdc");
    assert_field(ev, TRL_F_WINLOG_LOGON_TYPE, "Network");

    ev = json_parsed(SECURITY(4647) EVENT_DATA(
        "\"TargetUserSid\":\"S-1-5-21-1004336348-1177238915-682003330-500\",\"TargetUserName\":"
        "\"Administrator\",\"TargetDomainName\":\"WS01\",\"TargetLogonId\":\"0x1f3c2a\""));
    assert_field(ev, TRL_F_EVENT_ACTION, "logged-out");
    assert_string_equal(json_values(ev, TRL_F_EVENT_TYPE), "end");
    assert_field(ev, TRL_F_USER_NAME, "Administrator");
    assert_field(ev, TRL_F_USER_DOMAIN, "WS01");
    assert_field(ev, TRL_F_WINLOG_LOGON_ID, "0x1f3c2a");
}

static void test_windows_4648_explicit_credentials(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(SECURITY(4648) EVENT_DATA(
        "\"SubjectUserSid\":\"S-1-5-21-1004336348-1177238915-682003330-1104\",\"SubjectUserName\":"
        "\"jdoe\",\"SubjectDomainName\":\"CORP\",\"SubjectLogonId\":\"0x8dcdc\",\"LogonGuid\":"
        "\"{00000000-0000-0000-0000-000000000000}\",\"TargetUserName\":\"svc_sql\","
        "\"TargetDomainName\":\"CORP\",\"TargetLogonGuid\":\"{00000000-0000-0000-0000-000000000000}"
        "\","
        "\"TargetServerName\":\"db01.corp.example.com\",\"TargetInfo\":\"db01.corp.example.com\","
        "\"ProcessId\":\"0x1b2c\",\"ProcessName\":\"C:\\\\Windows\\\\System32\\\\runas.exe\","
        "\"IpAddress\":\"::1\",\"IpPort\":\"0\""));
    assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "authentication");
    assert_string_equal(json_values(ev, TRL_F_EVENT_TYPE), "start");
    assert_field(ev, TRL_F_EVENT_ACTION, "logged-in-explicit");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
    assert_field(ev, TRL_F_USER_NAME, "jdoe");
    assert_field(ev, TRL_F_USER_DOMAIN, "CORP");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "svc_sql");
    assert_field(ev, TRL_F_USER_TARGET_DOMAIN, "CORP");
    assert_field(ev, TRL_F_DESTINATION_DOMAIN, "db01.corp.example.com");
    assert_field(ev, TRL_F_PROCESS_NAME, "runas.exe");
    assert_field(ev, TRL_F_PROCESS_PID, "6956");
    assert_field(ev, TRL_F_SOURCE_IP, "::1");
    assert_string_equal(json_values(ev, TRL_F_RELATED_USER), "jdoe,svc_sql");
}

static void test_windows_4672_special_privileges(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(SECURITY(4672) EVENT_DATA(
        "\"SubjectUserSid\":\"S-1-5-21-1004336348-1177238915-682003330-500\",\"SubjectUserName\":"
        "\"Administrator\",\"SubjectDomainName\":\"CORP\",\"SubjectLogonId\":\"0x1f3c2a\","
        "\"PrivilegeList\":\"SeSecurityPrivilege\\r\\n\\t\\t\\tSeBackupPrivilege\\r\\n\\t\\t\\t"
        "SeDebugPrivilege\""));
    assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "iam");
    assert_string_equal(json_values(ev, TRL_F_EVENT_TYPE), "admin");
    assert_field(ev, TRL_F_EVENT_ACTION, "logged-in-special");
    assert_field(ev, TRL_F_USER_NAME, "Administrator");
    assert_field(ev, TRL_F_USER_ID, "S-1-5-21-1004336348-1177238915-682003330-500");
    assert_field(ev, TRL_F_WINLOG_LOGON_ID, "0x1f3c2a");
    assert_named(ev, "winlog.event_data.PrivilegeList",
                 "SeSecurityPrivilege\r\n\t\t\tSeBackupPrivilege\r\n\t\t\tSeDebugPrivilege");
}

static void test_windows_4688_process_creation(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(SECURITY(4688) EVENT_DATA(
        "\"SubjectUserSid\":\"S-1-5-21-1004336348-1177238915-682003330-1104\",\"SubjectUserName\":"
        "\"jdoe\",\"SubjectDomainName\":\"CORP\",\"SubjectLogonId\":\"0x8dcdc\",\"NewProcessId\":"
        "\"0x1a4c\",\"NewProcessName\":\"C:\\\\Windows\\\\System32\\\\WindowsPowerShell\\\\v1.0\\\\"
        "powershell.exe\",\"TokenElevationType\":\"%%1938\",\"ProcessId\":\"0x11f0\","
        "\"CommandLine\":\"powershell.exe -nop -w hidden -enc SQBFAFgA\",\"TargetUserSid\":"
        "\"S-1-0-0\",\"TargetUserName\":\"-\",\"TargetDomainName\":\"-\",\"TargetLogonId\":\"0x0\","
        "\"ParentProcessName\":\"C:\\\\Windows\\\\System32\\\\cmd.exe\",\"MandatoryLabel\":"
        "\"S-1-16-8192\""));
    assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "process");
    assert_string_equal(json_values(ev, TRL_F_EVENT_TYPE), "start");
    assert_field(ev, TRL_F_EVENT_ACTION, "process-started");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE,
                 "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe");
    assert_field(ev, TRL_F_PROCESS_NAME, "powershell.exe");
    assert_field(ev, TRL_F_PROCESS_PID, "6732");
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE, "powershell.exe -nop -w hidden -enc SQBFAFgA");
    assert_field(ev, TRL_F_PROCESS_PARENT_EXECUTABLE, "C:\\Windows\\System32\\cmd.exe");
    assert_field(ev, TRL_F_PROCESS_PARENT_NAME, "cmd.exe");
    assert_field(ev, TRL_F_PROCESS_PARENT_PID, "4592");
    assert_field(ev, TRL_F_USER_NAME, "jdoe");
    assert_field(ev, TRL_F_USER_DOMAIN, "CORP");
    assert_field(ev, TRL_F_USER_ID, "S-1-5-21-1004336348-1177238915-682003330-1104");
    assert_field(ev, TRL_F_USER_EFFECTIVE_NAME, NULL);
    assert_field(ev, TRL_F_WINLOG_LOGON_ID, "0x8dcdc");
}

static void test_windows_4697_service_installed(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(SECURITY(4697) EVENT_DATA(
        "\"SubjectUserSid\":\"S-1-5-21-1004336348-1177238915-682003330-500\",\"SubjectUserName\":"
        "\"Administrator\",\"SubjectDomainName\":\"CORP\",\"SubjectLogonId\":\"0x1f3c2a\","
        "\"ServiceName\":\"PSEXESVC\",\"ServiceFileName\":\"%SystemRoot%\\\\PSEXESVC.exe\","
        "\"ServiceType\":\"0x10\",\"ServiceStartType\":3,\"ServiceAccount\":\"LocalSystem\""));
    assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "configuration");
    assert_string_equal(json_values(ev, TRL_F_EVENT_TYPE), "creation");
    assert_field(ev, TRL_F_EVENT_ACTION, "service-installed");
    assert_field(ev, TRL_F_SERVICE_NAME, "PSEXESVC");
    assert_field(ev, TRL_F_SERVICE_TYPE, "user mode service");
    assert_field(ev, TRL_F_FILE_PATH, "%SystemRoot%\\PSEXESVC.exe");
    assert_field(ev, TRL_F_FILE_NAME, "PSEXESVC.exe");
    assert_field(ev, TRL_F_USER_NAME, "Administrator");
    assert_named(ev, "winlog.event_data.ServiceAccount", "LocalSystem");
}

static void test_windows_7045_service_installed_in_system_log(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(
        "{\"Event\":{\"System\":{\"Provider\":{\"#attributes\":{\"Name\":\"Service Control "
        "Manager\",\"Guid\":\"{555908d1-a6d7-4695-8e1e-26931d2012f4}\",\"EventSourceName\":"
        "\"Service Control Manager\"}},\"EventID\":{\"#attributes\":{\"Qualifiers\":16384},"
        "\"#text\":7045},\"Version\":0,\"Level\":4,\"Task\":0,\"Opcode\":0,\"Keywords\":"
        "\"0x8080000000000000\",\"TimeCreated\":{\"#attributes\":{\"SystemTime\":"
        "\"2024-07-09T22:40:11.5Z\"}},\"EventRecordID\":9112,\"Execution\":{\"#attributes\":{"
        "\"ProcessID\":640,\"ThreadID\":5012}},\"Channel\":\"System\",\"Computer\":\"WS01\","
        "\"Security\":{\"#attributes\":{\"UserID\":\"S-1-5-21-1004336348-1177238915-682003330-"
        "500\"}"
        "}},\"EventData\":{\"ServiceName\":\"updsvc\",\"ImagePath\":\"C:\\\\ProgramData\\\\upd\\\\"
        "upd.exe -k run\",\"ServiceType\":\"user mode service\",\"StartType\":\"auto start\","
        "\"AccountName\":\"LocalSystem\"}}}");
    assert_field(ev, TRL_F_WINLOG_EVENT_ID, "7045");
    assert_field(ev, TRL_F_LOG_LEVEL, "information");
    assert_string_equal(json_values(ev, TRL_F_WINLOG_KEYWORDS), "Classic");
    assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "configuration");
    assert_string_equal(json_values(ev, TRL_F_EVENT_TYPE), "creation");
    assert_field(ev, TRL_F_EVENT_ACTION, "service-installed");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
    assert_field(ev, TRL_F_SERVICE_NAME, "updsvc");
    assert_field(ev, TRL_F_SERVICE_TYPE, "user mode service");
    assert_field(ev, TRL_F_FILE_PATH, "C:\\ProgramData\\upd\\upd.exe");
    assert_field(ev, TRL_F_FILE_NAME, "upd.exe");
    assert_field(ev, TRL_F_USER_ID, "S-1-5-21-1004336348-1177238915-682003330-500");
    assert_named(ev, "winlog.event_data.ImagePath", "C:\\ProgramData\\upd\\upd.exe -k run");
}

static void test_windows_scheduled_task_events(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(SECURITY(4698) EVENT_DATA(
        "\"SubjectUserSid\":\"S-1-5-21-1004336348-1177238915-682003330-1104\",\"SubjectUserName\":"
        "\"jdoe\",\"SubjectDomainName\":\"CORP\",\"SubjectLogonId\":\"0x8dcdc\",\"TaskName\":"
        "\"\\\\Microsoft\\\\Windows\\\\UpdateCheck\",\"TaskContent\":\"<?xml version=\\\"1.0\\\"?>"
        "<Task><Actions><Exec><Command>C:\\\\ProgramData\\\\svchost.exe</Command></Exec></Actions>"
        "</Task>\""));
    assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "configuration");
    assert_string_equal(json_values(ev, TRL_F_EVENT_TYPE), "creation");
    assert_field(ev, TRL_F_EVENT_ACTION, "scheduled-task-created");
    assert_field(ev, TRL_F_USER_NAME, "jdoe");
    assert_named(ev, "winlog.event_data.TaskName", "\\Microsoft\\Windows\\UpdateCheck");

    static const struct {
        const char *json, *type, *action;
    } others[] = {
        {SECURITY(4699) EVENT_DATA("\"SubjectUserName\":\"jdoe\",\"TaskName\":\"\\\\t\""),
         "deletion", "scheduled-task-deleted"},
        {SECURITY(4700) EVENT_DATA("\"SubjectUserName\":\"jdoe\",\"TaskName\":\"\\\\t\""), "change",
         "scheduled-task-enabled"},
        {SECURITY(4701) EVENT_DATA("\"SubjectUserName\":\"jdoe\",\"TaskName\":\"\\\\t\""), "change",
         "scheduled-task-disabled"},
        {SECURITY(4702) EVENT_DATA("\"SubjectUserName\":\"jdoe\",\"TaskName\":\"\\\\t\""), "change",
         "scheduled-task-updated"},
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(others); i++) {
        ev = json_parsed(others[i].json);
        assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "configuration");
        assert_string_equal(json_values(ev, TRL_F_EVENT_TYPE), others[i].type);
        assert_field(ev, TRL_F_EVENT_ACTION, others[i].action);
        assert_field(ev, TRL_F_USER_NAME, "jdoe");
    }
}

#define ACCOUNT_DATA(target)                                                                       \
    EVENT_DATA("\"TargetUserName\":\"" target "\",\"TargetDomainName\":\"CORP\",\"TargetSid\":"    \
               "\"S-1-5-21-1004336348-1177238915-682003330-1190\",\"SubjectUserSid\":"             \
               "\"S-1-5-21-1004336348-1177238915-682003330-500\",\"SubjectUserName\":"             \
               "\"Administrator\",\"SubjectDomainName\":\"CORP\",\"SubjectLogonId\":\"0x1f3c2a\"")

static void test_windows_user_account_management(void **state)
{
    (void)state;
    static const struct {
        const char *json, *type, *action;
    } cases[] = {
        {SECURITY(4720) ACCOUNT_DATA("backdoor"), "user,creation", "user-created"},
        {SECURITY(4722) ACCOUNT_DATA("backdoor"), "user,change", "user-enabled"},
        {SECURITY(4724) ACCOUNT_DATA("backdoor"), "user,change", "password-reset"},
        {SECURITY(4725) ACCOUNT_DATA("backdoor"), "user,change", "user-disabled"},
        {SECURITY(4726) ACCOUNT_DATA("backdoor"), "user,deletion", "user-deleted"},
        {SECURITY(4738) ACCOUNT_DATA("backdoor"), "user,change", "user-changed"},
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++) {
        struct trl_event *ev = json_parsed(cases[i].json);
        assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "iam");
        assert_string_equal(json_values(ev, TRL_F_EVENT_TYPE), cases[i].type);
        assert_field(ev, TRL_F_EVENT_ACTION, cases[i].action);
        assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
        assert_field(ev, TRL_F_USER_NAME, "Administrator");
        assert_field(ev, TRL_F_USER_DOMAIN, "CORP");
        assert_field(ev, TRL_F_USER_ID, "S-1-5-21-1004336348-1177238915-682003330-500");
        assert_field(ev, TRL_F_USER_TARGET_NAME, "backdoor");
        assert_field(ev, TRL_F_USER_TARGET_DOMAIN, "CORP");
        assert_field(ev, TRL_F_USER_TARGET_ID, "S-1-5-21-1004336348-1177238915-682003330-1190");
        assert_field(ev, TRL_F_WINLOG_LOGON_ID, "0x1f3c2a");
        assert_string_equal(json_values(ev, TRL_F_RELATED_USER), "Administrator,backdoor");
    }
}

static void test_windows_4728_member_added_by_distinguished_name(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(SECURITY(4728) EVENT_DATA(
        "\"MemberName\":\"CN=Back Door\\\\, Jr.,OU=Staff,DC=corp,DC=example,DC=com\","
        "\"MemberSid\":\"S-1-5-21-1004336348-1177238915-682003330-1190\",\"TargetUserName\":"
        "\"Domain Admins\",\"TargetDomainName\":\"CORP\",\"TargetSid\":"
        "\"S-1-5-21-1004336348-1177238915-682003330-512\",\"SubjectUserSid\":"
        "\"S-1-5-21-1004336348-1177238915-682003330-500\",\"SubjectUserName\":\"Administrator\","
        "\"SubjectDomainName\":\"CORP\",\"SubjectLogonId\":\"0x1f3c2a\",\"PrivilegeList\":\"-\""));
    assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "iam");
    assert_string_equal(json_values(ev, TRL_F_EVENT_TYPE), "group,change");
    assert_field(ev, TRL_F_EVENT_ACTION, "group-member-added");
    assert_field(ev, TRL_F_GROUP_NAME, "Domain Admins");
    assert_field(ev, TRL_F_GROUP_ID, "S-1-5-21-1004336348-1177238915-682003330-512");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "Back Door\\, Jr.");
    assert_field(ev, TRL_F_USER_TARGET_ID, "S-1-5-21-1004336348-1177238915-682003330-1190");
    assert_field(ev, TRL_F_USER_NAME, "Administrator");
}

static void test_windows_4732_local_group_member_by_sid(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(SECURITY(4732) EVENT_DATA(
        "\"MemberName\":\"-\",\"MemberSid\":\"S-1-5-21-3623811015-3361044348-30300820-1013\","
        "\"TargetUserName\":\"Administrators\",\"TargetDomainName\":\"Builtin\",\"TargetSid\":"
        "\"S-1-5-32-544\",\"SubjectUserSid\":\"S-1-5-21-3623811015-3361044348-30300820-500\","
        "\"SubjectUserName\":\"admin\",\"SubjectDomainName\":\"WS01\",\"SubjectLogonId\":"
        "\"0x3e7\""));
    assert_field(ev, TRL_F_EVENT_ACTION, "group-member-added");
    assert_field(ev, TRL_F_GROUP_NAME, "Administrators");
    assert_field(ev, TRL_F_GROUP_ID, "S-1-5-32-544");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "S-1-5-21-3623811015-3361044348-30300820-1013");
    assert_field(ev, TRL_F_USER_TARGET_ID, "S-1-5-21-3623811015-3361044348-30300820-1013");
    assert_field(ev, TRL_F_USER_NAME, "admin");

    ev = json_parsed(SECURITY(4733) EVENT_DATA("\"MemberName\":\"-\",\"MemberSid\":\"S-1-5-21-1\","
                                               "\"TargetUserName\":\"Administrators\""));
    assert_field(ev, TRL_F_EVENT_ACTION, "group-member-removed");
}

static void test_windows_group_membership_variants(void **state)
{
    (void)state;
    static const struct {
        const char *json, *action;
    } cases[] = {
        {SECURITY(4729) EVENT_DATA("\"MemberName\":\"CN=jdoe,DC=corp\",\"TargetUserName\":\"Ops\""),
         "group-member-removed"},
        {SECURITY(4756) EVENT_DATA("\"MemberName\":\"CN=jdoe,DC=corp\",\"TargetUserName\":\"Ops\""),
         "group-member-added"},
        {SECURITY(4757) EVENT_DATA("\"MemberName\":\"CN=jdoe,DC=corp\",\"TargetUserName\":\"Ops\""),
         "group-member-removed"},
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++) {
        struct trl_event *ev = json_parsed(cases[i].json);
        assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "iam");
        assert_string_equal(json_values(ev, TRL_F_EVENT_TYPE), "group,change");
        assert_field(ev, TRL_F_EVENT_ACTION, cases[i].action);
        assert_field(ev, TRL_F_GROUP_NAME, "Ops");
        assert_field(ev, TRL_F_USER_TARGET_NAME, "jdoe");
    }
}

static void test_windows_4768_kerberos_tgt(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(SECURITY(4768) EVENT_DATA(
        "\"TargetUserName\":\"jdoe\",\"TargetDomainName\":\"CORP.EXAMPLE.COM\",\"TargetSid\":"
        "\"S-1-5-21-1004336348-1177238915-682003330-1104\",\"ServiceName\":\"krbtgt\","
        "\"ServiceSid\":\"S-1-5-21-1004336348-1177238915-682003330-502\",\"TicketOptions\":"
        "\"0x40810010\",\"Status\":\"0x0\",\"TicketEncryptionType\":\"0x12\",\"PreAuthType\":\"2\","
        "\"IpAddress\":\"::ffff:10.20.1.15\",\"IpPort\":\"49811\",\"CertIssuerName\":\"\""));
    assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "authentication");
    assert_string_equal(json_values(ev, TRL_F_EVENT_TYPE), "start");
    assert_field(ev, TRL_F_EVENT_ACTION, "kerberos-tgt-requested");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
    assert_field(ev, TRL_F_USER_NAME, "jdoe");
    assert_field(ev, TRL_F_USER_DOMAIN, "CORP.EXAMPLE.COM");
    assert_field(ev, TRL_F_USER_ID, "S-1-5-21-1004336348-1177238915-682003330-1104");
    assert_field(ev, TRL_F_SERVICE_NAME, "krbtgt");
    assert_field(ev, TRL_F_SOURCE_IP, "10.20.1.15");
    assert_field(ev, TRL_F_SOURCE_PORT, "49811");
    assert_named(ev, "winlog.event_data.TicketEncryptionType", "0x12");
    assert_named(ev, "winlog.event_data.IpAddress", "::ffff:10.20.1.15");
    assert_field(ev, TRL_F_EVENT_REASON, NULL);
}

static void test_windows_4768_kerberos_preauth_failure_status(void **state)
{
    (void)state;
    /* The failure keyword and the status agree; the status gives the reason. */
    struct trl_event *ev = json_parsed(SECURITY_FAILURE(4768) EVENT_DATA(
        "\"TargetUserName\":\"jdoe\",\"TargetDomainName\":\"CORP\",\"ServiceName\":\"krbtgt\","
        "\"Status\":\"0x18\",\"TicketEncryptionType\":\"0xffffffff\",\"IpAddress\":"
        "\"::ffff:203.0.113.45\",\"IpPort\":\"50123\""));
    assert_field(ev, TRL_F_EVENT_OUTCOME, "failure");
    assert_field(ev, TRL_F_EVENT_REASON, "pre-authentication failed");
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");

    ev = json_parsed(SECURITY_FAILURE(4771) EVENT_DATA(
        "\"TargetUserName\":\"jdoe\",\"TargetSid\":\"S-1-5-21-1\",\"ServiceName\":"
        "\"krbtgt/CORP\",\"TicketOptions\":\"0x40810010\",\"Status\":\"0x18\",\"PreAuthType\":"
        "\"2\",\"IpAddress\":\"::ffff:203.0.113.45\",\"IpPort\":\"50124\""));
    assert_field(ev, TRL_F_EVENT_ACTION, "kerberos-preauth-failed");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "failure");
    assert_field(ev, TRL_F_USER_NAME, "jdoe");
}

static void test_windows_4769_kerberos_service_ticket(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(SECURITY(4769) EVENT_DATA(
        "\"TargetUserName\":\"jdoe@CORP.EXAMPLE.COM\",\"TargetDomainName\":\"CORP.EXAMPLE.COM\","
        "\"ServiceName\":\"MSSQLSvc/db01.corp.example.com:1433\",\"ServiceSid\":\"S-1-5-21-1\","
        "\"TicketOptions\":\"0x40810000\",\"TicketEncryptionType\":\"0x17\",\"IpAddress\":"
        "\"::ffff:10.20.1.15\",\"IpPort\":\"49900\",\"Status\":\"0x0\",\"LogonGuid\":"
        "\"{8a8b7f0e-1f2e-4d3c-9b8a-7f6e5d4c3b2a}\",\"TransmittedServices\":\"-\""));
    assert_field(ev, TRL_F_EVENT_ACTION, "kerberos-service-ticket-requested");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
    assert_field(ev, TRL_F_USER_NAME, "jdoe");
    assert_field(ev, TRL_F_USER_DOMAIN, "CORP.EXAMPLE.COM");
    assert_field(ev, TRL_F_SERVICE_NAME, "MSSQLSvc/db01.corp.example.com:1433");
    assert_field(ev, TRL_F_SOURCE_IP, "10.20.1.15");
    /* RC4 tickets are what Kerberoasting asks for: the type must stay visible. */
    assert_named(ev, "winlog.event_data.TicketEncryptionType", "0x17");
    assert_string_equal(json_values(ev, TRL_F_RELATED_USER), "jdoe");
}

/* A record with more data items than the normaliser gathers up front (64) still has its late items
 * mapped: the ones past the first 64 are looked up by name. */
static void test_windows_4624_with_many_data_items_maps_the_late_ones(void **state)
{
    (void)state;
    char items[4096];
    size_t n = 0;
    for (int i = 0; i < 70; i++)
        n += (size_t)snprintf(items + n, sizeof(items) - n, "\"Extra%02d\":\"x\",", i);
    snprintf(items + n, sizeof(items) - n,
             "\"TargetUserName\":\"jdoe\",\"TargetDomainName\":\"CORP\",\"LogonType\":3,"
             "\"IpAddress\":\"10.20.1.15\",\"IpPort\":\"49732\"");
    char line[8192];
    snprintf(line, sizeof(line), "%s,\"EventData\":{%s}}}", SECURITY(4624), items);
    struct trl_event *ev = json_parsed(line);
    assert_named(ev, "winlog.event_data.Extra69", "x");
    assert_field(ev, TRL_F_EVENT_ACTION, "logged-in");
    assert_field(ev, TRL_F_USER_NAME, "jdoe");
    assert_field(ev, TRL_F_USER_DOMAIN, "CORP");
    assert_field(ev, TRL_F_WINLOG_LOGON_TYPE, "Network");
    assert_field(ev, TRL_F_SOURCE_IP, "10.20.1.15");
    assert_field(ev, TRL_F_SOURCE_PORT, "49732");
}

static void test_windows_1102_audit_log_cleared_from_user_data(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(
        "{\"Event\":{\"System\":{\"Provider\":{\"#attributes\":{\"Name\":\"Microsoft-Windows-"
        "Eventlog\",\"Guid\":\"fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148\"}},\"EventID\":1102,"
        "\"Version\":0,\"Level\":4,\"Task\":104,\"Opcode\":0,\"Keywords\":\"0x4020000000000000\","
        "\"TimeCreated\":{\"#attributes\":{\"SystemTime\":\"2024-07-09T23:02:13.0425061Z\"}},"
        "\"EventRecordID\":1,\"Execution\":{\"#attributes\":{\"ProcessID\":1296,\"ThreadID\":"
        "6700}},\"Channel\":\"Security\",\"Computer\":\"DC01.corp.example.com\",\"Security\":null},"
        "\"UserData\":{\"LogFileCleared\":{\"#attributes\":{\"xmlns\":\"http://manifests.microsoft."
        "com/win/2004/08/windows/eventlog\"},\"SubjectUserSid\":\"S-1-5-21-1004336348-1177238915-"
        "682003330-500\",\"SubjectUserName\":\"Administrator\",\"SubjectDomainName\":\"CORP\","
        "\"SubjectLogonId\":\"0x1f3c2a\"}}}}");
    assert_string_equal(json_values(ev, TRL_F_WINLOG_KEYWORDS), "Audit Success");
    assert_named(ev, "winlog.user_data.xml_name", "LogFileCleared");
    assert_named(ev, "winlog.user_data.SubjectUserName", "Administrator");
    assert_named(ev, "winlog.user_data.xmlns", NULL);
    assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "configuration");
    assert_string_equal(json_values(ev, TRL_F_EVENT_TYPE), "deletion");
    assert_field(ev, TRL_F_EVENT_ACTION, "audit-log-cleared");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
    assert_field(ev, TRL_F_USER_NAME, "Administrator");
    assert_field(ev, TRL_F_USER_DOMAIN, "CORP");
    assert_field(ev, TRL_F_WINLOG_LOGON_ID, "0x1f3c2a");
    assert_int_equal(ev->timestamp_ns, 1720566133042506100LL);
}

static void test_windows_104_system_log_cleared(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(
        SYSTEM("Microsoft-Windows-Eventlog", "fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148", 104,
               "0x8000000000000000", "System") ",\"UserData\":{\"LogFileCleared\":{"
                                               "\"SubjectUserName\":\"Administrator\","
                                               "\"SubjectDomainName\":\"CORP\",\"Channel\":"
                                               "\"System\",\"BackupPath\":\"\"}}}}");
    assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "configuration");
    assert_string_equal(json_values(ev, TRL_F_EVENT_TYPE), "deletion");
    assert_field(ev, TRL_F_EVENT_ACTION, "event-log-cleared");
    assert_field(ev, TRL_F_USER_NAME, "Administrator");
    assert_field(ev, TRL_F_USER_DOMAIN, "CORP");
    assert_named(ev, "winlog.user_data.Channel", "System");
    /* Event 104 of the Security log is something else. */
    ev = json_parsed(SECURITY(104) EVENT_DATA("\"x\":\"y\""));
    assert_field(ev, TRL_F_EVENT_ACTION, NULL);
}

static void test_windows_sysmon_1_process_create(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(SYSMON(1) EVENT_DATA(
        "\"RuleName\":\"-\",\"UtcTime\":\"2024-07-09 22:31:02.120\",\"ProcessGuid\":"
        "\"{1A2B3C4D-0001-6690-0A00-000000000F00}\",\"ProcessId\":7312,\"Image\":\"C:"
        "\\\\Windows\\\\"
        "System32\\\\rundll32.exe\",\"FileVersion\":\"10.0.19041.3996 (WinBuild.160101.0800)\","
        "\"OriginalFileName\":\"RUNDLL32.EXE\",\"CommandLine\":\"rundll32.exe "
        "C:\\\\Users\\\\Public\\\\x.dll,Start\",\"CurrentDirectory\":\"C:\\\\Users\\\\jdoe\\\\\","
        "\"User\":\"CORP\\\\jdoe\",\"LogonGuid\":\"{1A2B3C4D-5E6F-6690-1FD2-050000000000}\","
        "\"LogonId\":\"0x5d21f\",\"TerminalSessionId\":1,\"IntegrityLevel\":\"Medium\",\"Hashes\":"
        "\"SHA1=0123456789ABCDEF0123456789ABCDEF01234567,MD5=0123456789ABCDEF0123456789ABCDEF,"
        "SHA256=00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF,IMPHASH="
        "FFEEDDCCBBAA99887766554433221100\",\"ParentProcessGuid\":\"{1A2B3C4D-0001-6690-0900-"
        "000000000F00}\",\"ParentProcessId\":6120,\"ParentImage\":\"C:\\\\Program Files\\\\"
        "Microsoft Office\\\\root\\\\Office16\\\\WINWORD.EXE\",\"ParentCommandLine\":"
        "\"\\\"WINWORD.EXE\\\" /n report.docm\",\"ParentUser\":\"CORP\\\\jdoe\""));
    assert_field(ev, TRL_F_WINLOG_CHANNEL, "Microsoft-Windows-Sysmon/Operational");
    assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "process");
    assert_string_equal(json_values(ev, TRL_F_EVENT_TYPE), "start");
    assert_field(ev, TRL_F_EVENT_ACTION, "process-started");
    assert_field(ev, TRL_F_EVENT_OUTCOME, NULL);
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE, "C:\\Windows\\System32\\rundll32.exe");
    assert_field(ev, TRL_F_PROCESS_NAME, "rundll32.exe");
    assert_field(ev, TRL_F_PROCESS_PID, "7312");
    assert_field(ev, TRL_F_PROCESS_ENTITY_ID, "{1A2B3C4D-0001-6690-0A00-000000000F00}");
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE, "rundll32.exe C:\\Users\\Public\\x.dll,Start");
    assert_field(ev, TRL_F_PROCESS_WORKING_DIRECTORY, "C:\\Users\\jdoe\\");
    assert_field(ev, TRL_F_PROCESS_HASH_SHA256,
                 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    assert_string_equal(json_values(ev, TRL_F_RELATED_HASH),
                        "0123456789abcdef0123456789abcdef01234567,0123456789abcdef0123456789abcdef,"
                        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff,"
                        "ffeeddccbbaa99887766554433221100");
    assert_field(ev, TRL_F_PROCESS_PARENT_EXECUTABLE,
                 "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE");
    assert_field(ev, TRL_F_PROCESS_PARENT_NAME, "WINWORD.EXE");
    assert_field(ev, TRL_F_PROCESS_PARENT_PID, "6120");
    assert_field(ev, TRL_F_PROCESS_PARENT_ENTITY_ID, "{1A2B3C4D-0001-6690-0900-000000000F00}");
    assert_field(ev, TRL_F_PROCESS_PARENT_COMMAND_LINE, "\"WINWORD.EXE\" /n report.docm");
    assert_field(ev, TRL_F_USER_NAME, "jdoe");
    assert_field(ev, TRL_F_USER_DOMAIN, "CORP");
    assert_field(ev, TRL_F_WINLOG_LOGON_ID, "0x5d21f");
    /* Sysmon's keyword bit is provider-specific: no standard name. */
    assert_string_equal(json_values(ev, TRL_F_WINLOG_KEYWORDS), "");
}

static void test_windows_sysmon_3_network_connection(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(SYSMON(3) EVENT_DATA(
        "\"RuleName\":\"-\",\"UtcTime\":\"2024-07-09 22:31:05.301\",\"ProcessGuid\":"
        "\"{1A2B3C4D-0001-6690-0B00-000000000F00}\",\"ProcessId\":9088,\"Image\":\"C:"
        "\\\\Windows\\\\"
        "System32\\\\WindowsPowerShell\\\\v1.0\\\\powershell.exe\",\"User\":\"CORP\\\\jdoe\","
        "\"Protocol\":\"tcp\",\"Initiated\":\"true\",\"SourceIsIpv6\":\"false\",\"SourceIp\":"
        "\"10.20.1.15\",\"SourceHostname\":\"WS-JDOE.corp.example.com\",\"SourcePort\":49822,"
        "\"SourcePortName\":\"-\",\"DestinationIsIpv6\":\"false\",\"DestinationIp\":"
        "\"203.0.113.45\",\"DestinationHostname\":\"-\",\"DestinationPort\":443,"
        "\"DestinationPortName\":\"https\""));
    assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "network");
    assert_string_equal(json_values(ev, TRL_F_EVENT_TYPE), "connection,start");
    assert_field(ev, TRL_F_EVENT_ACTION, "network-connection");
    assert_field(ev, TRL_F_NETWORK_TRANSPORT, "tcp");
    assert_field(ev, TRL_F_NETWORK_PROTOCOL, "https");
    assert_field(ev, TRL_F_NETWORK_DIRECTION, "egress");
    assert_field(ev, TRL_F_NETWORK_TYPE, "ipv4");
    assert_field(ev, TRL_F_SOURCE_IP, "10.20.1.15");
    assert_field(ev, TRL_F_SOURCE_PORT, "49822");
    assert_field(ev, TRL_F_SOURCE_DOMAIN, "WS-JDOE.corp.example.com");
    assert_field(ev, TRL_F_DESTINATION_IP, "203.0.113.45");
    assert_field(ev, TRL_F_DESTINATION_PORT, "443");
    assert_field(ev, TRL_F_DESTINATION_DOMAIN, NULL);
    assert_field(ev, TRL_F_PROCESS_NAME, "powershell.exe");
    assert_field(ev, TRL_F_PROCESS_PID, "9088");
    assert_field(ev, TRL_F_USER_NAME, "jdoe");
    assert_field(ev, TRL_F_USER_DOMAIN, "CORP");
    assert_string_equal(json_values(ev, TRL_F_RELATED_IP), "10.20.1.15,203.0.113.45");
}

static void test_windows_sysmon_11_file_create(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(SYSMON(11) EVENT_DATA(
        "\"RuleName\":\"-\",\"UtcTime\":\"2024-07-09 22:31:07.412\",\"ProcessGuid\":"
        "\"{1A2B3C4D-0001-6690-0A00-000000000F00}\",\"ProcessId\":7312,\"Image\":\"C:"
        "\\\\Windows\\\\"
        "System32\\\\rundll32.exe\",\"TargetFilename\":\"C:\\\\Users\\\\Public\\\\Documents\\\\"
        "invoice.pdf.lnk\",\"CreationUtcTime\":\"2024-07-09 22:31:07.410\",\"User\":"
        "\"CORP\\\\jdoe\""));
    assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "file");
    assert_string_equal(json_values(ev, TRL_F_EVENT_TYPE), "creation");
    assert_field(ev, TRL_F_EVENT_ACTION, "file-created");
    assert_field(ev, TRL_F_FILE_PATH, "C:\\Users\\Public\\Documents\\invoice.pdf.lnk");
    assert_field(ev, TRL_F_FILE_NAME, "invoice.pdf.lnk");
    assert_field(ev, TRL_F_FILE_DIRECTORY, "C:\\Users\\Public\\Documents");
    assert_field(ev, TRL_F_FILE_EXTENSION, "lnk");
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE, "C:\\Windows\\System32\\rundll32.exe");
    assert_field(ev, TRL_F_PROCESS_PID, "7312");
    assert_field(ev, TRL_F_USER_NAME, "jdoe");
}

static void test_windows_same_id_in_another_log_is_not_mapped(void **state)
{
    (void)state;
    /* Event 1 of a provider other than Sysmon is not a process start. */
    struct trl_event *ev = json_parsed(
        SYSTEM("Microsoft-Windows-Kernel-General", "A68CA8B7-004F-D7B6-A698-07E2DE0F1F5D", 1,
               "0x8000000000000010", "System") EVENT_DATA("\"NewTime\":\"2024-07-09T22:31:02Z\","
                                                          "\"OldTime\":\"2024-07-09T22:31:01Z\""));
    assert_field(ev, TRL_F_WINLOG_EVENT_ID, "1");
    assert_field(ev, TRL_F_EVENT_KIND, NULL);
    assert_field(ev, TRL_F_EVENT_ACTION, NULL);
    assert_int_equal(trl_norm_windows(ev), TRL_ENOMATCH);
    /* An ID the table does not know is left alone too. */
    ev = json_parsed(SECURITY(5156) EVENT_DATA("\"Application\":\"\\\\device\\\\x.exe\""));
    assert_field(ev, TRL_F_EVENT_KIND, NULL);
    assert_named(ev, "winlog.event_data.Application", "\\device\\x.exe");
}

static void test_windows_xml_style_dumps_are_read_alike(void **state)
{
    (void)state;
    /* xmltodict style: "@" attributes, <Data Name=".."> items in a list, EventID with text. */
    struct trl_event *ev = json_parsed(
        "{\"Event\":{\"@xmlns\":\"http://schemas.microsoft.com/win/2004/08/events/event\","
        "\"System\":{\"Provider\":{\"@Name\":\"Microsoft-Windows-Security-Auditing\"},"
        "\"EventID\":{\"@Qualifiers\":\"0\",\"#text\":\"4624\"},\"TimeCreated\":{\"@SystemTime\":"
        "\"2024-07-09 22:31:02.123456\"},\"Channel\":\"Security\",\"Computer\":\"DC01\"},"
        "\"EventData\":{\"Data\":[{\"@Name\":\"TargetUserName\",\"#text\":\"jdoe\"},"
        "{\"@Name\":\"LogonType\",\"#text\":\"3\"},{\"@Name\":\"IpAddress\",\"#text\":"
        "\"10.20.1.15\"},{\"@Name\":\"Empty\"}]}}}");
    assert_int_equal(ev->timestamp_ns, 1720564262123456000LL);
    assert_field(ev, TRL_F_WINLOG_EVENT_ID, "4624");
    assert_field(ev, TRL_F_WINLOG_PROVIDER_NAME, "Microsoft-Windows-Security-Auditing");
    assert_named(ev, "winlog.event_data.TargetUserName", "jdoe");
    assert_named(ev, "winlog.event_data.Empty", NULL);
    assert_field(ev, TRL_F_USER_NAME, "jdoe");
    assert_field(ev, TRL_F_SOURCE_IP, "10.20.1.15");

    /* Flattened attributes ("Provider_Name") and unnamed data items (param1, param2). */
    ev = json_parsed("{\"Event\":{\"System\":{\"Provider_Name\":\"Service Control Manager\","
                     "\"EventID\":\"7036\",\"TimeCreated_SystemTime\":\"2024-07-09T22:31:02Z\","
                     "\"Channel\":\"System\"},\"EventData\":{\"Data\":[\"Windows Update\","
                     "\"running\"],\"Binary\":\"770075006100\"}}}");
    assert_field(ev, TRL_F_WINLOG_PROVIDER_NAME, "Service Control Manager");
    assert_int_equal(ev->timestamp_ns, 1720564262000000000LL);
    assert_named(ev, "winlog.event_data.param1", "Windows Update");
    assert_named(ev, "winlog.event_data.param2", "running");
    assert_named(ev, "winlog.event_data.Binary", "770075006100");

    /* A single unnamed item. */
    ev = json_parsed("{\"Event\":{\"System\":{\"EventID\":1000,\"Channel\":\"Application\"},"
                     "\"EventData\":{\"Data\":{\"#text\":\"Faulting application x.exe\"}}}}");
    assert_named(ev, "winlog.event_data.param1", "Faulting application x.exe");
    assert_named(ev, "winlog.event_data.Data", NULL);
}

static void test_windows_rendering_info_gives_the_message(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(
        SECURITY(4634) ",\"EventData\":{\"TargetUserName\":\"jdoe\"},\"RenderingInfo\":{"
                       "\"Message\":\"An account was logged off.\",\"Level\":\"Information\"}}}");
    assert_field(ev, TRL_F_MESSAGE, "An account was logged off.");
}

/* The Snare parser fills the same winlog.* fields from text; the normaliser must give the same
 * ECS fields for both. */
static void test_windows_snare_fields_normalise_like_json(void **state)
{
    (void)state;
    struct trl_event *json = json_parsed(ev_4624);

    struct trl_event *snare = json_event("snare", 5);
    snare->format = "snare";
    trl_event_set_str(snare, TRL_F_WINLOG_EVENT_ID, "4624");
    trl_event_set_str(snare, TRL_F_WINLOG_CHANNEL, "Security");
    trl_event_set_str(snare, TRL_F_WINLOG_PROVIDER_NAME, "Microsoft-Windows-Security-Auditing");
    trl_event_set_str(snare, TRL_F_WINLOG_COMPUTER_NAME, "DC01.corp.example.com");
    static const char *const data[][2] = {
        {"SubjectUserSid", "S-1-5-18"},
        {"SubjectUserName", "DC01$"},
        {"SubjectDomainName", "CORP"},
        {"SubjectLogonId", "0x3e7"},
        {"TargetUserSid", "S-1-5-21-1004336348-1177238915-682003330-1104"},
        {"TargetUserName", "jdoe"},
        {"TargetDomainName", "CORP"},
        {"TargetLogonId", "0x8dcdc"},
        {"LogonType", "3"},
        {"WorkstationName", "WS-JDOE"},
        {"ProcessId", "0x0"},
        {"ProcessName", "-"},
        {"IpAddress", "10.20.1.15"},
        {"IpPort", "49732"},
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(data); i++) {
        char name[96];
        int n = snprintf(name, sizeof(name), "winlog.event_data.%s", data[i][0]);
        trl_event_set_named(snare, name, (size_t)n, data[i][1], strlen(data[i][1]));
    }
    trl_normalize(snare);

    static const enum trl_field compared[] = {
        TRL_F_EVENT_KIND,        TRL_F_EVENT_CATEGORY,
        TRL_F_EVENT_TYPE,        TRL_F_EVENT_ACTION,
        TRL_F_EVENT_OUTCOME,     TRL_F_EVENT_CODE,
        TRL_F_EVENT_PROVIDER,    TRL_F_HOST_NAME,
        TRL_F_USER_NAME,         TRL_F_USER_DOMAIN,
        TRL_F_USER_ID,           TRL_F_WINLOG_LOGON_ID,
        TRL_F_WINLOG_LOGON_TYPE, TRL_F_SOURCE_IP,
        TRL_F_SOURCE_PORT,       TRL_F_SOURCE_DOMAIN,
        TRL_F_RELATED_USER,      TRL_F_RELATED_IP,
        TRL_F_PROCESS_PID,       TRL_F_PROCESS_EXECUTABLE,
        TRL_F_EVENT_REASON,
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(compared); i++) {
        char want[2048];
        snprintf(want, sizeof(want), "%s", json_values(json, compared[i]));
        const char *got = json_values(snare, compared[i]);
        if (strcmp(want, got) != 0)
            print_error("%s: json '%s', snare '%s'\n", trl_field_info(compared[i])->name, want,
                        got);
        assert_string_equal(want, got);
    }
}

/* Finds the end of the JSON object that starts at p (the regression files hold pretty-printed
 * objects one after another). */
static const char *object_end(const char *p)
{
    int depth = 0;
    bool in_string = false;
    for (; *p; p++) {
        if (in_string) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                in_string = false;
        } else if (*p == '"') {
            in_string = true;
        } else if (*p == '{') {
            depth++;
        } else if (*p == '}' && --depth == 0) {
            return p + 1;
        }
    }
    return NULL;
}

static size_t parse_regression_file(const char *path)
{
    size_t len, events = 0;
    char *buf = json_read_file(path, &len);
    assert_non_null(buf);
    for (const char *p = strchr(buf, '{'), *end; p && (end = object_end(p)); p = strchr(end, '{')) {
        struct trl_event *ev = json_event(p, (size_t)(end - p));
        int rc = trl_parse_json(ev, ev->original, ev->original_len);
        if (rc != 0)
            print_error("%s: trl_parse_json returned %d\n", path, rc);
        assert_int_equal(rc, 0);
        trl_normalize(ev);
        assert_true(trl_event_has(ev, TRL_F_WINLOG_EVENT_ID));
        assert_true(trl_event_has(ev, TRL_F_WINLOG_CHANNEL));
        assert_true(trl_event_has(ev, TRL_F_HOST_NAME));
        assert_true(ev->timestamp_ns > 1500000000LL * TRL_NS_PER_SEC);
        if (trl_event_is(ev, TRL_F_WINLOG_CHANNEL, "Microsoft-Windows-Sysmon/Operational") &&
            trl_event_is(ev, TRL_F_WINLOG_EVENT_ID, "1")) {
            size_t ilen = 0, elen = 0;
            const char *image = trl_event_get_named(ev, "winlog.event_data.Image", 23, &ilen);
            const char *exe = trl_event_get(ev, TRL_F_PROCESS_EXECUTABLE, &elen);
            assert_non_null(image);
            assert_non_null(exe);
            assert_int_equal(ilen, elen);
            assert_memory_equal(image, exe, ilen);
            assert_field(ev, TRL_F_EVENT_ACTION, "process-started");
        }
        events++;
    }
    free(buf);
    return events;
}

static void test_windows_sigma_regression_events_parse(void **state)
{
    (void)state;
    const char *shared = trl_test_shared_dir();
    if (!shared) {
        print_message("TRL_SHARED not set: skipping the Sigma regression events\n");
        skip();
    }
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/data/sigma/regression", shared);
    DIR *d = opendir(dir);
    if (!d) {
        print_message("%s not readable: skipping\n", dir);
        skip();
    }
    size_t events = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char sub[1536];
        snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
        DIR *sd = opendir(sub);
        if (!sd)
            continue;
        struct dirent *f;
        while ((f = readdir(sd))) {
            size_t n = strlen(f->d_name);
            if (n < 5 || strcmp(f->d_name + n - 5, ".json") != 0)
                continue;
            char path[2048];
            snprintf(path, sizeof(path), "%s/%s", sub, f->d_name);
            events += parse_regression_file(path);
            trl_arena_reset(json_arena);
        }
        closedir(sd);
    }
    closedir(d);
    assert_true(events >= 100);
}

/* An event in the shape both Windows parsers leave: the log's fields, then the data items. */
static struct trl_event *winlog_event(const char *id, const char *const *items, size_t n)
{
    struct trl_event *ev = json_event("x", 1);
    trl_event_set_str(ev, TRL_F_WINLOG_EVENT_ID, id);
    trl_event_set_str(ev, TRL_F_WINLOG_CHANNEL, "Security");
    /* A dynamic field of another namespace among the items is no item. */
    trl_event_set_named(ev, "labels.site", 11, "hq", 2);
    for (size_t i = 0; i + 1 < n; i += 2)
        trl_event_set_dynamic_ex(ev, items[i], strlen(items[i]), items[i + 1], strlen(items[i + 1]),
                                 TRL_REF_NAME | TRL_REF_VALUE);
    return ev;
}

/* Items are found by their exact name among names that share prefixes and endings; a name set
 * twice holds its last value, "-" reads as no value, and NTSTATUS codes match in any case. */
static void test_windows_items_found_by_exact_name(void **state)
{
    (void)state;
    static const char *const items[] = {
        "winlog.event_data.TargetUserName",
        "jdoe",
        "winlog.event_data.TargetUserNam",
        "wrong",
        "winlog.event_data.SubjectUserName",
        "DC01$",
        "winlog.event_data.TargetDomainName",
        "CORP",
        "winlog.event_data.TargetUserSid",
        "S-1-5-21-1",
        "winlog.event_data.TargetUserSid",
        "S-1-5-21-2",
        "winlog.user_data.WorkstationName",
        "WS-USER-DATA",
        "winlog.event_data.LogonType",
        "10",
        "winlog.event_data.IpAddress",
        "::FFFF:192.0.2.7",
        "winlog.event_data.IpPort",
        "-",
        "winlog.event_data.ProcessName",
        "-",
        "winlog.event_data.Status",
        "0xc000006d",
        "winlog.event_data.SubStatus",
        "0xc000006a",
        "winlog.event_dat",
        "short",
        "winlog.event_data.",
        "empty name",
    };
    struct trl_event *ev = winlog_event("4625", items, sizeof(items) / sizeof(items[0]));
    assert_int_equal(trl_norm_windows(ev), 0);
    assert_field(ev, TRL_F_EVENT_ACTION, "logon-failed");
    assert_field(ev, TRL_F_USER_NAME, "jdoe");
    assert_field(ev, TRL_F_USER_DOMAIN, "CORP");
    assert_field(ev, TRL_F_USER_ID, "S-1-5-21-2");
    assert_field(ev, TRL_F_WINLOG_LOGON_TYPE, "RemoteInteractive");
    assert_field(ev, TRL_F_SOURCE_IP, "192.0.2.7");
    assert_field(ev, TRL_F_SOURCE_DOMAIN, "WS-USER-DATA");
    assert_null(trl_event_get(ev, TRL_F_SOURCE_PORT, &(size_t){0}));
    assert_null(trl_event_get(ev, TRL_F_PROCESS_EXECUTABLE, &(size_t){0}));
    assert_field(ev, TRL_F_EVENT_REASON, "wrong password");
    assert_string_equal(json_values(ev, TRL_F_RELATED_USER), "jdoe,DC01$");
    assert_string_equal(json_values(ev, TRL_F_RELATED_IP), "192.0.2.7");
}

/* An event without items, or whose items have other names, is mapped without them. */
static void test_windows_event_without_items_maps_the_log_fields(void **state)
{
    (void)state;
    static const char *const items[] = {"winlog.event_data.Unrelated", "1"};
    struct trl_event *ev = winlog_event("4672", NULL, 0);
    assert_int_equal(trl_norm_windows(ev), 0);
    assert_field(ev, TRL_F_EVENT_ACTION, "logged-in-special");
    assert_null(trl_event_get(ev, TRL_F_USER_NAME, &(size_t){0}));
    ev = winlog_event("4624", items, 2);
    assert_int_equal(trl_norm_windows(ev), 0);
    assert_null(trl_event_get(ev, TRL_F_USER_NAME, &(size_t){0}));
    assert_null(trl_event_get(ev, TRL_F_SOURCE_IP, &(size_t){0}));
    ev = winlog_event("4624x", items, 2);
    assert_int_equal(trl_norm_windows(ev), TRL_ENOMATCH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows_parser_reads_the_system_element),
        cmocka_unit_test(test_windows_items_found_by_exact_name),
        cmocka_unit_test(test_windows_event_without_items_maps_the_log_fields),
        cmocka_unit_test(test_windows_4624_network_logon),
        cmocka_unit_test(test_windows_4624_interactive_logon_has_no_source),
        cmocka_unit_test(test_windows_4624_with_many_data_items_maps_the_late_ones),
        cmocka_unit_test(test_windows_4625_failed_logon_with_reason),
        cmocka_unit_test(test_windows_4634_and_4647_logoff),
        cmocka_unit_test(test_windows_4648_explicit_credentials),
        cmocka_unit_test(test_windows_4672_special_privileges),
        cmocka_unit_test(test_windows_4688_process_creation),
        cmocka_unit_test(test_windows_4697_service_installed),
        cmocka_unit_test(test_windows_7045_service_installed_in_system_log),
        cmocka_unit_test(test_windows_scheduled_task_events),
        cmocka_unit_test(test_windows_user_account_management),
        cmocka_unit_test(test_windows_4728_member_added_by_distinguished_name),
        cmocka_unit_test(test_windows_4732_local_group_member_by_sid),
        cmocka_unit_test(test_windows_group_membership_variants),
        cmocka_unit_test(test_windows_4768_kerberos_tgt),
        cmocka_unit_test(test_windows_4768_kerberos_preauth_failure_status),
        cmocka_unit_test(test_windows_4769_kerberos_service_ticket),
        cmocka_unit_test(test_windows_1102_audit_log_cleared_from_user_data),
        cmocka_unit_test(test_windows_104_system_log_cleared),
        cmocka_unit_test(test_windows_sysmon_1_process_create),
        cmocka_unit_test(test_windows_sysmon_3_network_connection),
        cmocka_unit_test(test_windows_sysmon_11_file_create),
        cmocka_unit_test(test_windows_same_id_in_another_log_is_not_mapped),
        cmocka_unit_test(test_windows_xml_style_dumps_are_read_alike),
        cmocka_unit_test(test_windows_rendering_info_gives_the_message),
        cmocka_unit_test(test_windows_snare_fields_normalise_like_json),
        cmocka_unit_test(test_windows_sigma_regression_events_parse),
    };
    return cmocka_run_group_tests(tests, json_setup, json_teardown);
}

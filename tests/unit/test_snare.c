/* Snare records: Windows event log (classic and SNARE V2), Linux audit, macOS BSM, Epilog and
 * heartbeats, including the Windows Security message text mapped back onto EVTX EventData names. */
#include "trl_test.h"

#include "core/timeutil.h"
#include "formats/parse.h"

/* 2024-07-09T12:00:00Z, the receive time of every test event. */
#define RECV_NS 1720526400000000000LL

#define TRL_TEST_PARSER  trl_parse_snare
#define TRL_TEST_RECV_NS RECV_NS
#include "parse_test.h"

#define assert_data(ev, name, want) assert_named(ev, "winlog.event_data." name, want)

static size_t count_field(const struct trl_event *ev, enum trl_field f)
{
    size_t n = 0;
    for (uint32_t i = 0; i < ev->nfields; i++)
        n += ev->fields[i].field == f;
    return n;
}

/* A Security event as the Snare agent sends it, with an empty DataString. */
#define SEC(id, user, type, category, msg, record)                                                 \
    "DC01.corp.local\tMSWinEventLog\t1\tSecurity\t2291\tTue Jul 09 10:15:02 2024\t" id             \
    "\tMicrosoft-Windows-Security-Auditing\t" user "\tN/A\t" type "\tDC01.corp.local\t" category   \
    "\t\t" msg "\t" record

#define SID_BOB   "S-1-5-21-3623811015-3361044348-30300820-1013"
#define SID_ADMIN "S-1-5-21-3623811015-3361044348-30300820-500"

/* ---- Windows header fields ---- */

static void test_snare_windows_system_event_header_fields(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(
        "propc12\tMSWinEventLog\t4\tSystem\t2174\tFri Nov 27 09:58:51 2015\t7036\tService Control "
        "Manager\tN/A\tN/A\tInformation\tpropc12\tNone\t\tThe Application Experience service "
        "entered the stopped state.\t0");
    assert_string_equal(ev->format, "snare");
    assert_field(ev, TRL_F_HOST_NAME, "propc12");
    assert_field(ev, TRL_F_WINLOG_CHANNEL, "System");
    assert_field(ev, TRL_F_WINLOG_EVENT_ID, "7036");
    assert_field(ev, TRL_F_EVENT_CODE, "7036");
    assert_field(ev, TRL_F_WINLOG_PROVIDER_NAME, "Service Control Manager");
    assert_field(ev, TRL_F_EVENT_PROVIDER, "Service Control Manager");
    assert_field(ev, TRL_F_WINLOG_COMPUTER_NAME, "propc12");
    assert_field(ev, TRL_F_WINLOG_RECORD_ID, "0");
    assert_field(ev, TRL_F_EVENT_SEQUENCE, "2174");
    assert_field(ev, TRL_F_LOG_LEVEL, "information");
    assert_field(ev, TRL_F_USER_NAME, NULL);
    assert_field(ev, TRL_F_EVENT_OUTCOME, NULL);
    assert_field(ev, TRL_F_MESSAGE,
                 "The Application Experience service entered the stopped state.");
    assert_named(ev, "labels.snare_criticality", "4");
    assert_named(ev, "labels.snare_log_type", "MSWinEventLog");
    assert_named(ev, "winlog.task", "None");
    assert_time(ev, "2015-11-27T09:58:51.000000000Z");
}

static void test_snare_windows_user_outcome_and_optional_fields(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(
        "test-hostname\tMSWinEventLog\t0\tSecurity\t472890\tThu Mar 06 17:44:29 2025\t4690\t"
        "Microsoft-Windows-Security-Auditing\tTESTGROUP\\TEST-ACCOUNTNAME$\tN/A\tSuccess Audit\t"
        "test-hostname\tSensitive Privilege Use\t\tAn attempt was made to duplicate a handle to an "
        "object. Subject: Security ID: S-1-5-13 Account Name: TEST-ACCOUNTNAME$ Account Domain: "
        "TESTGROUP Logon ID: 0x3F7 Source Handle Information: Source Handle ID: 0x2ec Source "
        "Process ID: 0x16f8 New Handle Information: Target Handle ID: 0x1a0b4 Target Process ID: "
        "0x4\t78714\tEventSourceId=AU_123");
    assert_field(ev, TRL_F_USER_NAME, "TEST-ACCOUNTNAME$");
    assert_field(ev, TRL_F_USER_DOMAIN, "TESTGROUP");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
    assert_field(ev, TRL_F_WINLOG_KEYWORDS, "Audit Success");
    assert_field(ev, TRL_F_WINLOG_RECORD_ID, "78714");
    assert_named(ev, "labels.snare_EventSourceId", "AU_123");
    assert_named(ev, "winlog.task", "Sensitive Privilege Use");
    assert_data(ev, "SubjectUserSid", "S-1-5-13");
    assert_data(ev, "SubjectUserName", "TEST-ACCOUNTNAME$");
    assert_data(ev, "SubjectDomainName", "TESTGROUP");
    assert_data(ev, "SubjectLogonId", "0x3F7");
    assert_data(ev, "SourceHandleId", "0x2ec");
    assert_data(ev, "SourceProcessId", "0x16f8");
    assert_data(ev, "TargetHandleId", "0x1a0b4");
    assert_data(ev, "TargetProcessId", "0x4");
    assert_time(ev, "2025-03-06T17:44:29.000000000Z");
}

static void test_snare_windows_legacy_line_without_datastring_or_counter(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(
        "Test_Host\tMSWinEventLog\t2\tSecurity\t3027\tFri May 24 20:30:43 2010\t593\tSecurity\t"
        "Administrator\tUser\tSuccess Audit\tLE5678WSP\tDetailed Tracking\tA process has "
        "exited:Process ID: 656 User Name: Administrator Domain: LE5678WSPLogon ID: (0x0,0x6C52)");
    assert_field(ev, TRL_F_USER_NAME, "Administrator");
    assert_named(ev, "winlog.user.type", "User");
    assert_field(ev, TRL_F_WINLOG_RECORD_ID, NULL);
    assert_field(ev, TRL_F_MESSAGE,
                 "A process has exited:Process ID: 656 User Name: "
                 "Administrator Domain: LE5678WSPLogon ID: (0x0,0x6C52)");
    assert_data(ev, "ProcessId", "656");
}

static void test_snare_windows_rsyslog_hash_escaped_tabs(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(
        "<175>Oct 16 23:47:31 #001 MSWinEventLog 0#011Security#01119023582#011Fri Oct 16 "
        "16:30:44 2009#011592#011Security#011rgabcde#011User#011Success Audit#011XSXSXSN01#011"
        "Detailed Tracking#011#0112572#01119013885");
    assert_field(ev, TRL_F_HOST_NAME, "#001");
    assert_field(ev, TRL_F_WINLOG_CHANNEL, "Security");
    assert_field(ev, TRL_F_EVENT_SEQUENCE, "19023582");
    assert_field(ev, TRL_F_WINLOG_EVENT_ID, "592");
    assert_field(ev, TRL_F_USER_NAME, "rgabcde");
    assert_field(ev, TRL_F_WINLOG_COMPUTER_NAME, "XSXSXSN01");
    assert_named(ev, "winlog.task", "Detailed Tracking");
    assert_field(ev, TRL_F_MESSAGE, "2572");
    assert_field(ev, TRL_F_WINLOG_RECORD_ID, "19013885");
    assert_time(ev, "2009-10-16T16:30:44.000000000Z");
}

static void test_snare_windows_backslash_t_escaped_tabs(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(
        "web01\\tMSWinEventLog\\t1\\tSecurity\\t17\\tTue Jul 09 10:15:02 2024\\t4647\\t"
        "Microsoft-Windows-Security-Auditing\\tN/A\\tN/A\\tSuccess Audit\\tweb01\\tLogoff\\t\\t"
        "User initiated logoff: Subject: Security ID: " SID_BOB " Account Name: bob Account "
        "Domain: CORP Logon ID: 0x8A1F2C This event is generated when a logoff is initiated. No "
        "further user-initiated activity can occur. This event can be interpreted as a logoff "
        "event.\\t5521");
    assert_field(ev, TRL_F_HOST_NAME, "web01");
    assert_field(ev, TRL_F_WINLOG_EVENT_ID, "4647");
    assert_field(ev, TRL_F_WINLOG_RECORD_ID, "5521");
    /* 4647 reports the account that logs off under "Subject:" but names it Target*. */
    assert_data(ev, "TargetUserSid", SID_BOB);
    assert_data(ev, "TargetUserName", "bob");
    assert_data(ev, "TargetDomainName", "CORP");
    assert_data(ev, "TargetLogonId", "0x8A1F2C");
    assert_data(ev, "SubjectUserName", NULL);
}

static void test_snare_windows_custom_delimiter(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(
        "MSWinEventLog|1|Security|777|Thu Sep 18 13:06:00 2025|4625|"
        "Microsoft-Windows-Security-Auditing|N/A|N/A|Failure Audit|HOST1|Logon||An account failed "
        "to log on.|778");
    assert_field(ev, TRL_F_WINLOG_EVENT_ID, "4625");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "failure");
    assert_field(ev, TRL_F_WINLOG_KEYWORDS, "Audit Failure");
    assert_field(ev, TRL_F_HOST_NAME, "HOST1");
    assert_field(ev, TRL_F_WINLOG_RECORD_ID, "778");
}

static void test_snare_windows_message_keeps_its_own_tabs(void **state)
{
    (void)state;
    /* A relay that kept the message's line structure as tabs, and no DataString field. */
    struct trl_event *ev = parse_ok(
        "SL-Win2008R2DC.lab.home\tMSWinEventLog\t1\tSecurity\t606129\tWed May 17 02:25:10 2017\t"
        "4634\tMicrosoft-Windows-Security-Auditing\tN/A\tN/A\tSuccess Audit\t"
        "SL-Win2008R2DC.lab.home\tLogoff\tAn account was logged off.\tSubject:\tSecurity "
        "ID:\tS-1-5-21-1004336348-1177238915-682003330-512\tAccount Name:\tSL-WIN2008R2IIS$\t"
        "Account Domain:\tLAB\tLogon ID:\t0x9648a78\tLogon Type:\t3\tThis event is generated when "
        "a logon session is destroyed. It may be positively correlated with a logon event using "
        "the Logon ID value. Logon IDs are only unique between reboots on the same computer.\t"
        "984658");
    assert_field(ev, TRL_F_WINLOG_RECORD_ID, "984658");
    assert_data(ev, "TargetUserSid", "S-1-5-21-1004336348-1177238915-682003330-512");
    assert_data(ev, "TargetUserName", "SL-WIN2008R2IIS$");
    assert_data(ev, "TargetDomainName", "LAB");
    assert_data(ev, "TargetLogonId", "0x9648a78");
    assert_data(ev, "LogonType", "3");
    size_t len;
    const char *msg = trl_event_get(ev, TRL_F_MESSAGE, &len);
    assert_non_null(msg);
    assert_true(trl_starts_with(msg, len, "An account was logged off.\tSubject:\tSecurity ID:"));
}

static void test_snare_windows_in_syslog_msg_keeps_syslog_host_and_format(void **state)
{
    (void)state;
    const char *msg = "MSWinEventLog\t1\tSecurity\t606129\tWed May 17 02:25:10 2017\t4634\t"
                      "Microsoft-Windows-Security-Auditing\tN/A\tN/A\tSuccess Audit\t"
                      "SL-Win2008R2DC.lab.home\tLogoff\t\tAn account was logged off.\t984658";
    struct trl_event *ev = trl_event_create(arena, msg, strlen(msg), RECV_NS);
    ev->format = "rfc3164";
    trl_event_set_str(ev, TRL_F_HOST_NAME, "SL-Win2008R2DC.lab.home");
    trl_event_set_str(ev, TRL_F_MESSAGE, msg);
    assert_int_equal(trl_parse_snare(ev, msg, strlen(msg)), 0);
    assert_string_equal(ev->format, "rfc3164");
    assert_field(ev, TRL_F_HOST_NAME, "SL-Win2008R2DC.lab.home");
    assert_field(ev, TRL_F_MESSAGE, "An account was logged off.");
    assert_int_equal(count_field(ev, TRL_F_HOST_NAME), 1);
}

static void test_snare_windows_line_host_replaces_syslog_host(void **state)
{
    (void)state;
    const char *msg = "realhost\tMSWinEventLog\t0\tSystem\t1\tFri Nov 27 09:58:51 2015\t7036\t"
                      "Service Control Manager\tN/A\tN/A\tInformation\trealhost\tNone\t\tx\t0";
    struct trl_event *ev = trl_event_create(arena, msg, strlen(msg), RECV_NS);
    ev->format = "rfc3164";
    trl_event_set_str(ev, TRL_F_HOST_NAME, "relay01");
    assert_int_equal(trl_parse_snare(ev, msg, strlen(msg)), 0);
    assert_field(ev, TRL_F_HOST_NAME, "realhost");
}

static void test_snare_windows_syslog_wrapped_line_given_whole(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(
        "<14>May 17 02:25:10 SL-Win2008R2DC.lab.home MSWinEventLog\t1\tSecurity\t606129\tWed May "
        "17 02:25:10 2017\t4634\tMicrosoft-Windows-Security-Auditing\tN/A\tN/A\tSuccess Audit\t"
        "SL-Win2008R2DC.lab.home\tLogoff\t\tAn account was logged off.\t984658");
    assert_field(ev, TRL_F_HOST_NAME, "SL-Win2008R2DC.lab.home");
    assert_field(ev, TRL_F_WINLOG_EVENT_ID, "4634");
}

/* ---- Windows Security messages -> EventData ---- */

static void test_snare_4624_logon_event_data(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(SEC(
        "4624", "N/A", "Success Audit", "Logon",
        "An account was successfully logged on. Subject: Security ID: S-1-5-18 Account Name: "
        "DC01$ Account Domain: CORP Logon ID: 0x3E7 Logon Information: Logon Type: 3 Restricted "
        "Admin Mode: - Virtual Account: No Elevated Token: Yes Impersonation Level: Impersonation "
        "New Logon: Security ID: " SID_BOB " Account Name: bob Account Domain: CORP Logon ID: "
        "0x8A1F2C Linked Logon ID: 0x0 Network Account Name: - Network Account Domain: - Logon "
        "GUID: {00000000-0000-0000-0000-000000000000} Process Information: Process ID: 0x0 "
        "Process Name: - Network Information: Workstation Name: WS1 Source Network Address: "
        "10.0.0.5 Source Port: 51234 Detailed Authentication Information: Logon Process: NtLmSsp "
        "Authentication Package: NTLM Transited Services: - Package Name (NTLM only): NTLM V2 Key "
        "Length: 128 This event is generated when a logon session is created. It is generated on "
        "the computer that was accessed. The subject fields indicate the account on the local "
        "system which requested the logon. The New Logon fields indicate the account for whom the "
        "new logon was created, i.e. the account that was logged on.",
        "88211"));
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
    assert_data(ev, "SubjectUserSid", "S-1-5-18");
    assert_data(ev, "SubjectUserName", "DC01$");
    assert_data(ev, "SubjectDomainName", "CORP");
    assert_data(ev, "SubjectLogonId", "0x3E7");
    assert_data(ev, "LogonType", "3");
    assert_data(ev, "RestrictedAdminMode", "-");
    assert_data(ev, "VirtualAccount", "No");
    assert_data(ev, "ElevatedToken", "Yes");
    assert_data(ev, "ImpersonationLevel", "Impersonation");
    assert_data(ev, "TargetUserSid", SID_BOB);
    assert_data(ev, "TargetUserName", "bob");
    assert_data(ev, "TargetDomainName", "CORP");
    assert_data(ev, "TargetLogonId", "0x8A1F2C");
    assert_data(ev, "TargetLinkedLogonId", "0x0");
    assert_data(ev, "TargetOutboundUserName", "-");
    assert_data(ev, "LogonGuid", "{00000000-0000-0000-0000-000000000000}");
    assert_data(ev, "ProcessId", "0x0");
    assert_data(ev, "ProcessName", "-");
    assert_data(ev, "WorkstationName", "WS1");
    assert_data(ev, "IpAddress", "10.0.0.5");
    assert_data(ev, "IpPort", "51234");
    assert_data(ev, "LogonProcessName", "NtLmSsp");
    assert_data(ev, "AuthenticationPackageName", "NTLM");
    assert_data(ev, "TransmittedServices", "-");
    assert_data(ev, "LmPackageName", "NTLM V2");
    assert_data(ev, "KeyLength", "128");
}

static void test_snare_4625_failed_logon_event_data(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(SEC(
        "4625", "N/A", "Failure Audit", "Logon",
        "An account failed to log on. Subject: Security ID: S-1-0-0 Account Name: - Account "
        "Domain: - Logon ID: 0x0 Logon Type: 3 Account For Which Logon Failed: Security ID: "
        "S-1-0-0 Account Name: administrator Account Domain: CORP Failure Information: Failure "
        "Reason: Unknown user name or bad password. Status: 0xC000006D Sub Status: 0xC000006A "
        "Process Information: Caller Process ID: 0x0 Caller Process Name: - Network Information: "
        "Workstation Name: KALI Source Network Address: 203.0.113.77 Source Port: 0 Detailed "
        "Authentication Information: Logon Process: NtLmSsp Authentication Package: NTLM "
        "Transited Services: - Package Name (NTLM only): - Key Length: 0 This event is generated "
        "when a logon request fails. It is generated on the computer where access was attempted.",
        "88212"));
    assert_field(ev, TRL_F_EVENT_OUTCOME, "failure");
    assert_data(ev, "SubjectUserSid", "S-1-0-0");
    assert_data(ev, "SubjectUserName", "-");
    assert_data(ev, "LogonType", "3");
    assert_data(ev, "TargetUserSid", "S-1-0-0");
    assert_data(ev, "TargetUserName", "administrator");
    assert_data(ev, "TargetDomainName", "CORP");
    assert_data(ev, "FailureReason", "Unknown user name or bad password.");
    assert_data(ev, "Status", "0xC000006D");
    assert_data(ev, "SubStatus", "0xC000006A");
    assert_data(ev, "ProcessId", "0x0");
    assert_data(ev, "ProcessName", "-");
    assert_data(ev, "WorkstationName", "KALI");
    assert_data(ev, "IpAddress", "203.0.113.77");
    assert_data(ev, "IpPort", "0");
    assert_data(ev, "AuthenticationPackageName", "NTLM");
    assert_data(ev, "LmPackageName", "-");
    assert_data(ev, "KeyLength", "0");
}

static void test_snare_4648_explicit_credentials_event_data(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(SEC(
        "4648", "N/A", "Success Audit", "Logon",
        "A logon was attempted using explicit credentials. Subject: Security ID: " SID_BOB
        " Account Name: bob Account Domain: CORP Logon ID: 0x8A1F2C Logon GUID: "
        "{7a2c1c33-54b1-49b3-9cbb-aa1b7e3c6f0b} Account Whose Credentials Were Used: Account "
        "Name: admin Account Domain: CORP Logon GUID: {00000000-0000-0000-0000-000000000000} "
        "Target Server: Target Server Name: srv02.corp.local Additional Information: "
        "srv02.corp.local Process Information: Process ID: 0x1f4 Process Name: "
        "C:\\Windows\\System32\\svchost.exe Network Information: Network Address: 10.0.0.12 Port: "
        "445 This event is generated when a process attempts to log on an account by explicitly "
        "specifying that account's credentials.",
        "88213"));
    assert_data(ev, "SubjectUserName", "bob");
    assert_data(ev, "LogonGuid", "{7a2c1c33-54b1-49b3-9cbb-aa1b7e3c6f0b}");
    assert_data(ev, "TargetUserName", "admin");
    assert_data(ev, "TargetDomainName", "CORP");
    assert_data(ev, "TargetLogonGuid", "{00000000-0000-0000-0000-000000000000}");
    assert_data(ev, "TargetServerName", "srv02.corp.local");
    assert_data(ev, "TargetInfo", "srv02.corp.local");
    assert_data(ev, "ProcessId", "0x1f4");
    assert_data(ev, "ProcessName", "C:\\Windows\\System32\\svchost.exe");
    assert_data(ev, "IpAddress", "10.0.0.12");
    assert_data(ev, "IpPort", "445");
}

static void test_snare_4672_privileges_event_data(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(
        SEC("4672", "N/A", "Success Audit", "Special Logon",
            "Special privileges assigned to new logon. Subject: Security ID: " SID_ADMIN " Account "
            "Name: Administrator Account Domain: NT AUTHORITY Logon ID: 0x9F3A1 Privileges: "
            "SeSecurityPrivilege   SeBackupPrivilege   SeRestorePrivilege   SeDebugPrivilege",
            "88214"));
    assert_data(ev, "SubjectUserSid", SID_ADMIN);
    assert_data(ev, "SubjectUserName", "Administrator");
    assert_data(ev, "SubjectDomainName", "NT AUTHORITY");
    assert_data(ev, "SubjectLogonId", "0x9F3A1");
    assert_data(ev, "PrivilegeList",
                "SeSecurityPrivilege SeBackupPrivilege SeRestorePrivilege SeDebugPrivilege");
}

static void test_snare_4688_process_creation_event_data(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(SEC(
        "4688", "N/A", "Success Audit", "Process Creation",
        "A new process has been created. Creator Subject: Security ID: " SID_BOB " Account Name: "
        "bob Account Domain: CORP Logon ID: 0x8A1F2C Target Subject: Security ID: S-1-0-0 Account "
        "Name: - Account Domain: - Logon ID: 0x0 Process Information: New Process ID: 0x1a2c New "
        "Process Name: C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe Token "
        "Elevation Type: %%1938 Mandatory Label: S-1-16-8192 Creator Process ID: 0x13f0 Creator "
        "Process Name: C:\\Windows\\explorer.exe Process Command Line: powershell.exe -nop -w "
        "hidden -enc SQBFAFgA Token Elevation Type indicates the type of token that was assigned "
        "to the new process in accordance with User Account Control policy.",
        "88215"));
    assert_data(ev, "SubjectUserSid", SID_BOB);
    assert_data(ev, "SubjectUserName", "bob");
    assert_data(ev, "SubjectDomainName", "CORP");
    assert_data(ev, "SubjectLogonId", "0x8A1F2C");
    assert_data(ev, "TargetUserSid", "S-1-0-0");
    assert_data(ev, "TargetUserName", "-");
    assert_data(ev, "TargetLogonId", "0x0");
    assert_data(ev, "NewProcessId", "0x1a2c");
    assert_data(ev, "NewProcessName",
                "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe");
    assert_data(ev, "TokenElevationType", "%%1938");
    assert_data(ev, "MandatoryLabel", "S-1-16-8192");
    assert_data(ev, "ProcessId", "0x13f0");
    assert_data(ev, "ParentProcessName", "C:\\Windows\\explorer.exe");
    assert_data(ev, "CommandLine", "powershell.exe -nop -w hidden -enc SQBFAFgA");
}

static void test_snare_4688_older_windows_without_target_subject(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(
        SEC("4688", "N/A", "Success Audit", "Process Creation",
            "A new process has been created. Subject: Security ID: S-1-5-18 Account Name: WS1$ "
            "Account Domain: CORP Logon ID: 0x3e7 Process Information: New Process ID: 0xe74 New "
            "Process Name: C:\\Program Files\\Acme Agent\\agent.exe Token Elevation Type: "
            "TokenElevationTypeDefault (1) Creator Process ID: 0x244",
            "1"));
    assert_data(ev, "SubjectUserName", "WS1$");
    assert_data(ev, "NewProcessName", "C:\\Program Files\\Acme Agent\\agent.exe");
    assert_data(ev, "TokenElevationType", "TokenElevationTypeDefault (1)");
    assert_data(ev, "ProcessId", "0x244");
    assert_data(ev, "CommandLine", NULL);
}

static void test_snare_4697_service_installed_event_data(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(SEC(
        "4697", "N/A", "Success Audit", "Security System Extension",
        "A service was installed in the system. Subject: Security ID: S-1-5-18 Account Name: WS1$ "
        "Account Domain: CORP Logon ID: 0x3E7 Service Information: Service Name: PSEXESVC Service "
        "File Name: %SystemRoot%\\PSEXESVC.exe Service Type: 0x10 Service Start Type: 3 Service "
        "Account: LocalSystem",
        "88216"));
    assert_data(ev, "SubjectUserName", "WS1$");
    assert_data(ev, "ServiceName", "PSEXESVC");
    assert_data(ev, "ServiceFileName", "%SystemRoot%\\PSEXESVC.exe");
    assert_data(ev, "ServiceType", "0x10");
    assert_data(ev, "ServiceStartType", "3");
    assert_data(ev, "ServiceAccount", "LocalSystem");
}

static void test_snare_7045_system_service_installed_event_data(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(
        "WS1\tMSWinEventLog\t1\tSystem\t311\tTue Jul 09 10:15:02 2024\t7045\tService Control "
        "Manager\tCORP\\admin\tUser\tInformation\tWS1.corp.local\tNone\t\tA service was installed "
        "in the system. Service Name: Remote Admin Helper Service File Name: C:\\Program "
        "Files\\Helper\\helper.exe -k run Service Type: user mode service Service Start Type: auto "
        "start Service Account: LocalSystem\t4411");
    assert_field(ev, TRL_F_USER_NAME, "admin");
    assert_field(ev, TRL_F_USER_DOMAIN, "CORP");
    assert_data(ev, "ServiceName", "Remote Admin Helper");
    assert_data(ev, "ImagePath", "C:\\Program Files\\Helper\\helper.exe -k run");
    assert_data(ev, "ServiceType", "user mode service");
    assert_data(ev, "StartType", "auto start");
    assert_data(ev, "AccountName", "LocalSystem");
    assert_data(ev, "ServiceFileName", NULL);
}

static void test_snare_4698_scheduled_task_event_data(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(SEC(
        "4698", "N/A", "Success Audit", "Other Object Access Events",
        "A scheduled task was created. Subject: Security ID: " SID_BOB " Account Name: bob Account "
        "Domain: CORP Logon ID: 0x8A1F2C Task Information: Task Name: "
        "\\Microsoft\\Windows\\Updater "
        "Task Content: <?xml version=\"1.0\" encoding=\"UTF-16\"?> <Task version=\"1.2\"> "
        "<RegistrationInfo> <Date>2024-07-09T10:00:00</Date> <Author>CORP\\bob</Author> "
        "</RegistrationInfo> <Actions Context=\"Author\"> <Exec> "
        "<Command>C:\\Users\\Public\\upd.exe</Command> </Exec> </Actions> </Task> Other "
        "Information: ProcessCreationTime: 8444249301319681 ClientProcessId: 5012 "
        "ParentProcessId: 1032 FQDN: ws1.corp.local",
        "88217"));
    assert_data(ev, "SubjectUserName", "bob");
    assert_data(ev, "TaskName", "\\Microsoft\\Windows\\Updater");
    assert_data(ev, "TaskContent",
                "<?xml version=\"1.0\" encoding=\"UTF-16\"?> <Task version=\"1.2\"> "
                "<RegistrationInfo> <Date>2024-07-09T10:00:00</Date> <Author>CORP\\bob</Author> "
                "</RegistrationInfo> <Actions Context=\"Author\"> <Exec> "
                "<Command>C:\\Users\\Public\\upd.exe</Command> </Exec> </Actions> </Task>");
    assert_data(ev, "ClientProcessStartKey", "8444249301319681");
    assert_data(ev, "ClientProcessId", "5012");
    assert_data(ev, "ParentProcessId", "1032");
    assert_data(ev, "FQDN", "ws1.corp.local");
}

static void test_snare_4720_user_created_event_data(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(SEC(
        "4720", "N/A", "Success Audit", "User Account Management",
        "A user account was created. Subject: Security ID: " SID_ADMIN " Account Name: "
        "Administrator Account Domain: CORP Logon ID: 0x9F3A1 New Account: Security ID: "
        "S-1-5-21-3623811015-3361044348-30300820-1120 Account Name: svc_backup Account Domain: "
        "CORP Attributes: SAM Account Name: svc_backup Display Name: Backup Service User "
        "Principal Name: svc_backup@corp.local Home Directory: - Home Drive: - Script Path: - "
        "Profile Path: - User Workstations: - Password Last Set: <never> Account Expires: <never> "
        "Primary Group ID: 513 Allowed To Delegate To: - Old UAC Value: 0x0 New UAC Value: 0x15 "
        "User Account Control: Account Disabled 'Password Not Required' - Enabled 'Normal Account' "
        "- Enabled User Parameters: - SID History: - Logon Hours: All Additional Information: "
        "Privileges: -",
        "88218"));
    assert_data(ev, "SubjectUserSid", SID_ADMIN);
    assert_data(ev, "SubjectUserName", "Administrator");
    assert_data(ev, "SubjectDomainName", "CORP");
    assert_data(ev, "TargetSid", "S-1-5-21-3623811015-3361044348-30300820-1120");
    assert_data(ev, "TargetUserName", "svc_backup");
    assert_data(ev, "TargetDomainName", "CORP");
    assert_data(ev, "SamAccountName", "svc_backup");
    assert_data(ev, "DisplayName", "Backup Service");
    assert_data(ev, "UserPrincipalName", "svc_backup@corp.local");
    assert_data(ev, "PasswordLastSet", "<never>");
    assert_data(ev, "PrimaryGroupId", "513");
    assert_data(ev, "NewUacValue", "0x15");
    assert_data(ev, "UserAccountControl",
                "Account Disabled 'Password Not Required' - Enabled 'Normal Account' - Enabled");
    assert_data(ev, "LogonHours", "All");
    assert_data(ev, "PrivilegeList", "-");
    assert_data(ev, "TargetUserSid", NULL);
}

static void test_snare_4722_and_4726_target_account_event_data(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(
        SEC("4722", "N/A", "Success Audit", "User Account Management",
            "A user account was enabled. Subject: Security ID: " SID_ADMIN " Account Name: "
            "Administrator Account Domain: CORP Logon ID: 0x9F3A1 Target Account: Security ID: "
            "S-1-5-21-3623811015-3361044348-30300820-1120 Account Name: svc_backup Account "
            "Domain: CORP",
            "88219"));
    assert_data(ev, "SubjectUserName", "Administrator");
    assert_data(ev, "TargetSid", "S-1-5-21-3623811015-3361044348-30300820-1120");
    assert_data(ev, "TargetUserName", "svc_backup");
    assert_data(ev, "TargetDomainName", "CORP");

    ev = parse_ok(SEC("4726", "N/A", "Success Audit", "User Account Management",
                      "A user account was deleted. Subject: Security ID: " SID_ADMIN
                      " Account Name: Administrator Account Domain: CORP Logon ID: 0x9F3A1 Target "
                      "Account: Security ID: S-1-5-21-3623811015-3361044348-30300820-1099 Account "
                      "Name: olduser Account Domain: CORP Additional Information: Privileges: -",
                      "88220"));
    assert_data(ev, "TargetSid", "S-1-5-21-3623811015-3361044348-30300820-1099");
    assert_data(ev, "TargetUserName", "olduser");
    assert_data(ev, "TargetDomainName", "CORP");
    assert_data(ev, "PrivilegeList", "-");
}

static void test_snare_4728_and_4732_group_member_event_data(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(SEC(
        "4728", "N/A", "Success Audit", "Security Group Management",
        "A member was added to a security-enabled global group. Subject: Security ID: " SID_ADMIN
        " Account Name: Administrator Account Domain: CORP Logon ID: 0x9F3A1 Member: Security ID: "
        "S-1-5-21-3623811015-3361044348-30300820-1120 Account Name: CN=Backup "
        "Service,CN=Users,DC=corp,DC=local Group: Security ID: "
        "S-1-5-21-3623811015-3361044348-30300820-512 Group Name: Domain Admins Group Domain: CORP "
        "Additional Information: Privileges: -",
        "88221"));
    assert_data(ev, "SubjectUserName", "Administrator");
    assert_data(ev, "MemberSid", "S-1-5-21-3623811015-3361044348-30300820-1120");
    assert_data(ev, "MemberName", "CN=Backup Service,CN=Users,DC=corp,DC=local");
    assert_data(ev, "TargetSid", "S-1-5-21-3623811015-3361044348-30300820-512");
    assert_data(ev, "TargetUserName", "Domain Admins");
    assert_data(ev, "TargetDomainName", "CORP");

    ev = parse_ok(SEC("4732", "N/A", "Success Audit", "Security Group Management",
                      "A member was added to a security-enabled local group. Subject: Security "
                      "ID: " SID_ADMIN " Account Name: Administrator Account Domain: CORP Logon "
                      "ID: 0x9F3A1 Member: Security ID: " SID_BOB " Account Name: - Group: "
                      "Security ID: S-1-5-32-544 Group Name: Administrators Group Domain: Builtin "
                      "Additional Information: Privileges: -",
                      "88222"));
    assert_data(ev, "MemberSid", SID_BOB);
    assert_data(ev, "MemberName", "-");
    assert_data(ev, "TargetSid", "S-1-5-32-544");
    assert_data(ev, "TargetUserName", "Administrators");
    assert_data(ev, "TargetDomainName", "Builtin");
}

static void test_snare_4768_and_4769_kerberos_event_data(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(SEC(
        "4768", "N/A", "Success Audit", "Kerberos Authentication Service",
        "A Kerberos authentication ticket (TGT) was requested. Account Information: Account Name: "
        "bob Supplied Realm Name: CORP.LOCAL User ID: " SID_BOB " Service Information: Service "
        "Name: krbtgt Service ID: S-1-5-21-3623811015-3361044348-30300820-502 Network "
        "Information: Client Address: ::ffff:10.0.0.5 Client Port: 49711 Additional Information: "
        "Ticket Options: 0x40810010 Result Code: 0x0 Ticket Encryption Type: 0x12 "
        "Pre-Authentication Type: 2 Certificate Information: Certificate Issuer Name: "
        "Certificate Serial Number: Certificate Thumbprint: Certificate information is only "
        "provided if a certificate was used for pre-authentication.",
        "88223"));
    assert_data(ev, "TargetUserName", "bob");
    assert_data(ev, "TargetDomainName", "CORP.LOCAL");
    assert_data(ev, "TargetSid", SID_BOB);
    assert_data(ev, "ServiceName", "krbtgt");
    assert_data(ev, "ServiceSid", "S-1-5-21-3623811015-3361044348-30300820-502");
    assert_data(ev, "IpAddress", "::ffff:10.0.0.5");
    assert_data(ev, "IpPort", "49711");
    assert_data(ev, "TicketOptions", "0x40810010");
    assert_data(ev, "Status", "0x0");
    assert_data(ev, "TicketEncryptionType", "0x12");
    assert_data(ev, "PreAuthType", "2");
    assert_data(ev, "CertIssuerName", NULL);
    assert_data(ev, "CertThumbprint", NULL);

    ev = parse_ok(SEC(
        "4769", "N/A", "Success Audit", "Kerberos Service Ticket Operations",
        "A Kerberos service ticket was requested. Account Information: Account Name: "
        "bob@CORP.LOCAL Account Domain: CORP.LOCAL Logon GUID: "
        "{b1f0c9a4-1c1d-77a8-5b9e-2f4f0f6e0a11} Service Information: Service Name: "
        "MSSQLSvc/sql01.corp.local:1433 Service ID: S-1-5-21-3623811015-3361044348-30300820-1105 "
        "Network Information: Client Address: ::ffff:10.0.0.5 Client Port: 49722 Additional "
        "Information: Ticket Options: 0x40810000 Ticket Encryption Type: 0x17 Failure Code: 0x0 "
        "Transited Services: - This event is generated every time access is requested to a "
        "resource such as a computer or a Windows service.",
        "88224"));
    assert_data(ev, "TargetUserName", "bob@CORP.LOCAL");
    assert_data(ev, "TargetDomainName", "CORP.LOCAL");
    assert_data(ev, "LogonGuid", "{b1f0c9a4-1c1d-77a8-5b9e-2f4f0f6e0a11}");
    assert_data(ev, "ServiceName", "MSSQLSvc/sql01.corp.local:1433");
    assert_data(ev, "TicketEncryptionType", "0x17");
    assert_data(ev, "Status", "0x0");
    assert_data(ev, "TransmittedServices", "-");
    assert_data(ev, "IpPort", "49722");
}

static void test_snare_1102_audit_log_cleared_event_data(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(
        "DC01\tMSWinEventLog\t4\tSecurity\t9\tTue Jul 09 10:15:02 2024\t1102\t"
        "Microsoft-Windows-Eventlog\tN/A\tN/A\tSuccess Audit\tDC01.corp.local\tLog clear\t\tThe "
        "audit log was cleared. Subject: Security ID: " SID_ADMIN " Account Name: Administrator "
        "Domain Name: CORP Logon ID: 0x9F3A1\t88225");
    assert_field(ev, TRL_F_WINLOG_PROVIDER_NAME, "Microsoft-Windows-Eventlog");
    assert_data(ev, "SubjectUserSid", SID_ADMIN);
    assert_data(ev, "SubjectUserName", "Administrator");
    assert_data(ev, "SubjectDomainName", "CORP");
    assert_data(ev, "SubjectLogonId", "0x9F3A1");
}

/* ---- SNARE V2 (JSON) ---- */

static void test_snare_v2_windows_json_event(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(
        "DC01.corp.local\tMSWinEventLog\t2\t{\"Event\":{\"System\":{\"Provider\":{\"Name\":"
        "\"Microsoft-Windows-Security-Auditing\"},\"EventID\":4624,\"TimeCreated\":{\"SystemTime\":"
        "\"2024-07-09T10:15:02.123456Z\"},\"EventRecordID\":\"98765\",\"Channel\":\"Security\","
        "\"Computer\":\"DC01.corp.local\",\"Keywords\":\"0x8020000000000000\"},\"EventData\":{"
        "\"TargetUserName\":\"bob\",\"TargetDomainName\":\"CORP\",\"IpAddress\":\"10.0.0.5\","
        "\"LogonType\":3,\"Weird.Name\":\"x\"}}}");
    assert_field(ev, TRL_F_WINLOG_EVENT_ID, "4624");
    assert_field(ev, TRL_F_WINLOG_PROVIDER_NAME, "Microsoft-Windows-Security-Auditing");
    assert_field(ev, TRL_F_WINLOG_CHANNEL, "Security");
    assert_field(ev, TRL_F_WINLOG_RECORD_ID, "98765");
    assert_field(ev, TRL_F_WINLOG_COMPUTER_NAME, "DC01.corp.local");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
    assert_named(ev, "labels.snare_criticality", "2");
    assert_data(ev, "TargetUserName", "bob");
    assert_data(ev, "LogonType", "3");
    assert_data(ev, "Weird_Name", "x");
    assert_time(ev, "2024-07-09T10:15:02.123456000Z");
}

static void test_snare_v2_windows_flat_json_with_message_only(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(
        "MSWinEventLog\t0\t{\"EventID\":\"4625\",\"Channel\":\"Security\",\"Provider\":"
        "\"Microsoft-Windows-Security-Auditing\",\"EventTime\":\"2024-07-09 10:15:02\","
        "\"EventType\":\"AUDIT_FAILURE\",\"Hostname\":\"WS7\",\"Message\":\"An account failed to "
        "log on.\\r\\n\\r\\nSubject:\\r\\n\\tSecurity ID:\\t\\tS-1-0-0\\r\\n\\tAccount "
        "Name:\\t\\t-\\r\\n\\r\\nAccount For Which Logon Failed:\\r\\n\\tSecurity ID:\\t\\tS-1-0-0"
        "\\r\\n\\tAccount Name:\\t\\tguest\\r\\n\\tAccount Domain:\\t\\tWS7\"}");
    assert_field(ev, TRL_F_WINLOG_EVENT_ID, "4625");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "failure");
    assert_field(ev, TRL_F_HOST_NAME, "WS7");
    assert_data(ev, "TargetUserName", "guest");
    assert_data(ev, "TargetDomainName", "WS7");
    assert_data(ev, "SubjectUserName", "-");
    assert_time(ev, "2024-07-09T10:15:02.000000000Z");
}

static void test_snare_v2_windows_xml_style_json(void **state)
{
    (void)state;
    /* EventData rendered from XML: Data items with their Name as an attribute. */
    struct trl_event *ev = parse_ok(
        "WS9\tMSWinEventLog\t1\t{\"Event\":{\"System\":{\"Provider\":{\"#attributes\":{\"Name\":"
        "\"Microsoft-Windows-Security-Auditing\"}},\"EventID\":\"4625\",\"Keywords\":"
        "\"0x8010000000000000\",\"TimeCreated\":{\"@SystemTime\":\"2024-07-09T10:15:02Z\"}},"
        "\"EventData\":{\"Data\":[{\"@Name\":\"TargetUserName\",\"#text\":\"eve\"},{\"#"
        "attributes\":"
        "{\"Name\":\"LogonType\"},\"#text\":3},{\"Name\":\"Elevated\",\"Value\":true},{\"Name\":"
        "\"Ratio\",\"Value\":0.5},{\"Name\":\"Off\",\"Value\":false},{\"Name\":\"Nested\","
        "\"Value\":{\"a\":1}},{\"Value\":\"no name\"}]}}}");
    assert_field(ev, TRL_F_WINLOG_PROVIDER_NAME, "Microsoft-Windows-Security-Auditing");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "failure");
    assert_field(ev, TRL_F_WINLOG_KEYWORDS, "Audit Failure");
    assert_data(ev, "TargetUserName", "eve");
    assert_data(ev, "LogonType", "3");
    assert_data(ev, "Elevated", "true");
    assert_data(ev, "Ratio", "0.5");
    assert_data(ev, "Off", "false");
    assert_data(ev, "Nested", NULL);
    assert_time(ev, "2024-07-09T10:15:02.000000000Z");

    /* Flat names used by other relays. */
    ev =
        parse_ok("MSWinEventLog\t0\t{\"EventId\":4720,\"LogName\":\"Security\",\"SourceName\":"
                 "\"Microsoft-Windows-Security-Auditing\",\"Category\":\"User Account Management\","
                 "\"UserName\":\"CORP\\\\admin\",\"RecordNumber\":77}");
    assert_field(ev, TRL_F_WINLOG_EVENT_ID, "4720");
    assert_field(ev, TRL_F_WINLOG_CHANNEL, "Security");
    assert_field(ev, TRL_F_WINLOG_PROVIDER_NAME, "Microsoft-Windows-Security-Auditing");
    assert_field(ev, TRL_F_WINLOG_RECORD_ID, "77");
    assert_field(ev, TRL_F_USER_NAME, "admin");
    assert_field(ev, TRL_F_USER_DOMAIN, "CORP");
    assert_named(ev, "winlog.task", "User Account Management");

    int rc;
    const char *noid = "h\tMSWinEventLog\t0\t{\"Channel\":\"Security\"}";
    ev = parse_rc(noid, strlen(noid), &rc);
    assert_int_equal(rc, TRL_EINVAL);
    assert_field(ev, TRL_F_WINLOG_CHANNEL, "Security");
    const char *array = "h\tMSWinEventLog\t0\t[1,2]";
    ev = parse_rc(array, strlen(array), &rc);
    assert_int_equal(rc, TRL_EINVAL);
}

static void test_snare_windows_checksum_trailer(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse_ok("h\tMSWinEventLog\t0\tApplication\t5\tTue Jul 09 10:15:02 2024\t1000\tApplication "
                 "Error\tN/A\tN/A\tError\th\tNone\t\tFaulting application name: app.exe   \t812\t"
                 "0cc175b9c0f1b6a831c399e269772661");
    assert_field(ev, TRL_F_LOG_LEVEL, "error");
    assert_field(ev, TRL_F_WINLOG_RECORD_ID, "812");
    assert_named(ev, "labels.snare_checksum", "0cc175b9c0f1b6a831c399e269772661");
    assert_field(ev, TRL_F_MESSAGE, "Faulting application name: app.exe");
}

static void test_snare_v2_windows_user_data(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(
        "DC01\tMSWinEventLog\t4\t{\"Event\":{\"System\":{\"Provider\":{\"Name\":"
        "\"Microsoft-Windows-Eventlog\"},\"EventID\":{\"Qualifiers\":\"\",\"#text\":\"1102\"},"
        "\"Channel\":\"Security\"},\"UserData\":{\"LogFileCleared\":{\"SubjectUserSid\":"
        "\"" SID_ADMIN "\",\"SubjectUserName\":\"Administrator\",\"SubjectDomainName\":"
        "\"CORP\",\"SubjectLogonId\":\"0x9f3a1\"}}}}");
    assert_field(ev, TRL_F_WINLOG_EVENT_ID, "1102");
    assert_named(ev, "winlog.user_data.xml_name", "LogFileCleared");
    assert_named(ev, "winlog.user_data.SubjectUserName", "Administrator");
    assert_named(ev, "winlog.user_data.SubjectDomainName", "CORP");
}

static void test_snare_v2_bad_json_is_invalid(void **state)
{
    (void)state;
    int rc;
    const char *line = "h\tMSWinEventLog\t0\t{\"EventID\":4624,\"Channel\":";
    struct trl_event *ev = parse_rc(line, strlen(line), &rc);
    assert_int_equal(rc, TRL_EINVAL);
    assert_field(ev, TRL_F_HOST_NAME, "h");
    assert_true(trl_event_has(ev, TRL_F_MESSAGE));
}

/* ---- Linux audit ---- */

static void test_snare_linux_fchmod_record(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(
        "127.0.0.1\tLinuxKAudit\t0\tevent,fchmod,2018-05-15 00:00:01\tsequence,1219936\t"
        "uid,4294967295,unknown\teuid,0,root\tgid,0,root\tegid,0,root\t"
        "process,,/usr/lib/systemd/systemd-logind\treturn,0,yes\tname,null\t"
        "exe,/usr/lib/systemd/systemd-logind\tsuccess,yes\treturn,0\tsyscall,91,fchmod\t"
        "uid,unknown\teuid,root\tgid,root\tegid,root\tarch,\tname,null\ta0,17\ta1,1a4\t"
        "a2,fbad2484\ta3,24\titems,1\tppid,1\tpid,742\tuid,0\tsuid,0\tfsuid,0\tsgid,0\tfsgid,0\t"
        "tty,none\tses,4294967295\tcomm,systemd-logind\tkey,obj-3-1\titem,0\tinode,17098379\t"
        "dev,00:13\tmode,0100600\touid,0\togid,0\trdev,00:00\tobjtype,NORMAL\t"
        "proctitle,/usr/lib/systemd/systemd-logind\tsnareseq,33945");
    assert_field(ev, TRL_F_HOST_NAME, "127.0.0.1");
    assert_field(ev, TRL_F_AUDITD_SYSCALL, "fchmod");
    assert_field(ev, TRL_F_AUDITD_SEQUENCE, "1219936");
    assert_field(ev, TRL_F_AUDITD_KEY, "obj-3-1");
    assert_field(ev, TRL_F_AUDITD_TTY, "none");
    assert_field(ev, TRL_F_AUDITD_SES, "4294967295");
    assert_field(ev, TRL_F_USER_ID, "0");
    assert_field(ev, TRL_F_USER_NAME, NULL);
    assert_field(ev, TRL_F_USER_EFFECTIVE_ID, "0");
    assert_field(ev, TRL_F_USER_EFFECTIVE_NAME, "root");
    assert_field(ev, TRL_F_GROUP_NAME, "root");
    assert_named(ev, "user.effective.group.name", "root");
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE, "/usr/lib/systemd/systemd-logind");
    assert_field(ev, TRL_F_PROCESS_NAME, "systemd-logind");
    assert_field(ev, TRL_F_PROCESS_PID, "742");
    assert_field(ev, TRL_F_PROCESS_PARENT_PID, "1");
    assert_field(ev, TRL_F_PROCESS_TITLE, "/usr/lib/systemd/systemd-logind");
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE, "/usr/lib/systemd/systemd-logind");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
    assert_field(ev, TRL_F_FILE_INODE, "17098379");
    assert_field(ev, TRL_F_FILE_MODE, "0100600");
    assert_field(ev, TRL_F_FILE_PATH, NULL);
    assert_field(ev, TRL_F_EVENT_CATEGORY, "file");
    assert_field(ev, TRL_F_EVENT_TYPE, "change");
    assert_field(ev, TRL_F_EVENT_ACTION, "fchmod");
    assert_named(ev, "auditd.data.a0", "17");
    assert_named(ev, "auditd.data.syscall", "91");
    assert_named(ev, "labels.snare_sequence", "33945");
    assert_time(ev, "2018-05-15T00:00:01.000000000Z");
}

static void test_snare_linux_execve_arguments_after_key(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(
        "localhost.localdomain\tLinuxKAudit\t2\tevent,execve,Jun 20 06:10:03\tsequence,345199\t"
        "uid,4294967295,unknown\teuid,0,root\tgid,0,root\tegid,0,root\tprocess,,/sbin/auditctl\t"
        "return,0,yes\tname,null\texe,/sbin/auditctl\tsuccess,yes\treturn,0\t"
        "syscall,11,execve\tuid,unknown\teuid,root\tgid,root\tegid,root\tarch,\tname,null\t"
        "a0,80ca7f8\ta1,80ca980\ta2,80ca8a8\ta3,0\titems,2\tppid,24047\tpid,24051\tuid,0\t"
        "suid,0\tfsuid,0\tsgid,0\tfsgid,0\ttty,none\tcomm,auditctl\tkey,obj-0-0\t"
        "a0,/sbin/auditctl\ta1,-v\tcwd,/\titem,0\tinode,37751\tdev,03:02\tmode,0100750\touid,0\t"
        "ogid,0\trdev,00:00\titem,1\tinode,17644\tdev,03:02\tmode,0100755\touid,0\togid,0\t"
        "rdev,00:00");
    assert_field(ev, TRL_F_AUDITD_SYSCALL, "execve");
    assert_field(ev, TRL_F_EVENT_CATEGORY, "process");
    assert_field(ev, TRL_F_EVENT_TYPE, "start");
    assert_field(ev, TRL_F_EVENT_ACTION, "process-started");
    assert_field(ev, TRL_F_PROCESS_ARGS_COUNT, "2");
    assert_int_equal(count_field(ev, TRL_F_PROCESS_ARGS), 2);
    assert_field(ev, TRL_F_PROCESS_ARGS, "/sbin/auditctl");
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE, "/sbin/auditctl -v");
    assert_field(ev, TRL_F_PROCESS_WORKING_DIRECTORY, "/");
    assert_field(ev, TRL_F_PROCESS_PID, "24051");
    assert_field(ev, TRL_F_FILE_INODE, "37751");
    assert_named(ev, "auditd.data.a0", "80ca7f8");
    /* "Jun 20" without a year, received on 2024-07-09. */
    assert_time(ev, "2024-06-20T06:10:03.000000000Z");
}

static void test_snare_linux_v2_json_with_hex_proctitle(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(
        "example.com\tLinuxKAudit\t3\t{\"Event\":{\"System\":{\"event\":{\"syscall\":\"execve\","
        "\"datetime\":\"1753664832\"},\"sequence\":\"13528406\",\"uid\":{\"uid\":\"1000\","
        "\"name\":\"alice\"},\"euid\":{\"euid\":\"0\",\"name\":\"root\"},\"gid\":{\"gid\":\"0\","
        "\"name\":\"root\"},\"egid\":{\"egid\":\"0\",\"name\":\"root\"},\"process\":"
        "\"\\/usr\\/bin\\/python3\",\"return\":{\"code\":\"0\",\"status\":\"yes\"},\"name\":"
        "\"\\/usr\\/bin\\/python3\",\"arch\":\"unknown\",\"TimeCreated\":{\"SystemTime\":"
        "\"2025-07-28T01:07:12.630130Z\"}},\"Data\":{\"ppid\":\"3400\",\"pid\":\"3407\","
        "\"uid\":\"1000\",\"tty\":\"pts0\",\"ses\":\"3\",\"comm\":\"python3\",\"key\":\"exec\","
        "\"cwd\":\"\\/home\\/alice\",\"inode\":\"9953702\",\"proctitle\":"
        "\"2F7573722F62696E2F707974686F6E33002D6300696D706F7274206F733B206F732E73797374656D28226964"
        "2229\"}}}");
    assert_named(ev, "labels.snare_criticality", "3");
    assert_field(ev, TRL_F_AUDITD_SYSCALL, "execve");
    assert_field(ev, TRL_F_AUDITD_SEQUENCE, "13528406");
    assert_field(ev, TRL_F_USER_ID, "1000");
    assert_field(ev, TRL_F_USER_NAME, "alice");
    assert_field(ev, TRL_F_USER_EFFECTIVE_NAME, "root");
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE, "/usr/bin/python3");
    assert_field(ev, TRL_F_PROCESS_NAME, "python3");
    assert_field(ev, TRL_F_PROCESS_PID, "3407");
    assert_field(ev, TRL_F_PROCESS_PARENT_PID, "3400");
    assert_field(ev, TRL_F_PROCESS_WORKING_DIRECTORY, "/home/alice");
    assert_field(ev, TRL_F_AUDITD_KEY, "exec");
    assert_field(ev, TRL_F_PROCESS_TITLE, "/usr/bin/python3 -c import os; os.system(\"id\")");
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE,
                 "/usr/bin/python3 -c import os; os.system(\"id\")");
    assert_int_equal(count_field(ev, TRL_F_PROCESS_ARGS), 3);
    assert_field(ev, TRL_F_PROCESS_ARGS, "/usr/bin/python3");
    assert_field(ev, TRL_F_FILE_PATH, "/usr/bin/python3");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
    assert_field(ev, TRL_F_EVENT_CATEGORY, "process");
    assert_time(ev, "2025-07-28T01:07:12.630130000Z");
}

static void test_snare_linux_hex_encoded_path_is_decoded(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok("h\tLinuxKAudit\t1\tevent,unlink,2024-07-09 10:00:00\t"
                                    "name,2F746D702F6D7920646972\tsuccess,no\tcomm,rm");
    assert_field(ev, TRL_F_FILE_PATH, "/tmp/my dir");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "failure");
    assert_field(ev, TRL_F_EVENT_TYPE, "deletion");
}

/* ---- Other Snare log types ---- */

static void test_snare_apple_bsm_record(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(
        "my-machine.snare.ia\tAppleBSM\theader,251,11,chmod(2),0,Thu Jul 4 23:35:59 2019, + 317 "
        "msec\targument,2,0x1a4,new file mode\tattribute,100644,_locationd,_locationd,16777220,"
        "2246024,0\tpath,/var/db/locationd/clients.plist\tpath,/private/var/db/locationd/"
        "clients.plist\treturn,success,0\tsubject,-1,_locationd,_locationd,_locationd,_locationd,"
        "80,100000,0,0.0.0.0\ttrailer,251\tsnareseq,11075");
    assert_field(ev, TRL_F_HOST_NAME, "my-machine.snare.ia");
    assert_field(ev, TRL_F_EVENT_ACTION, "chmod");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
    assert_field(ev, TRL_F_FILE_PATH, "/var/db/locationd/clients.plist");
    assert_field(ev, TRL_F_USER_NAME, "_locationd");
    assert_field(ev, TRL_F_PROCESS_PID, "80");
    assert_named(ev, "labels.snare_log_type", "AppleBSM");
    assert_time(ev, "2019-07-04T23:35:59.317000000Z");
    size_t len;
    const char *msg = trl_event_get(ev, TRL_F_MESSAGE, &len);
    assert_true(trl_starts_with(msg, len, "header,251,11,chmod(2)"));
}

static void test_snare_epilog_apache_line(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok("VMsql12.snare.ia\tApacheLog\t0\t[16/Jun/2008:10:10:00 +1000] "
                                    "\"GET / HTTP/1.1\" 200 44");
    assert_field(ev, TRL_F_HOST_NAME, "VMsql12.snare.ia");
    assert_field(ev, TRL_F_MESSAGE, "[16/Jun/2008:10:10:00 +1000] \"GET / HTTP/1.1\" 200 44");
    assert_named(ev, "labels.snare_log_type", "ApacheLog");
    assert_named(ev, "labels.snare_criticality", "0");
}

static void test_snare_epilog_unknown_log_type(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok("fw01\tIISWebLog\t1\t2024-07-09 10:00:00 W3SVC1 GET /\tx");
    assert_field(ev, TRL_F_HOST_NAME, "fw01");
    assert_named(ev, "labels.snare_log_type", "IISWebLog");
    assert_field(ev, TRL_F_MESSAGE, "2024-07-09 10:00:00 W3SVC1 GET /\tx");
}

static void test_snare_agent_heartbeat(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok("VM11WIN7TEST\tAgentHeartBeat\t14/09/2017\t16:07:43\tWindows\t"
                                    "5.0.0-RC2\tHeartBeat\tMark - License expired on 2017-Jun-09.");
    assert_field(ev, TRL_F_HOST_NAME, "VM11WIN7TEST");
    assert_field(ev, TRL_F_EVENT_KIND, "event");
    assert_field(ev, TRL_F_EVENT_ACTION, "agent-heartbeat");
    assert_field(ev, TRL_F_AGENT_TYPE, "Windows");
    assert_field(ev, TRL_F_AGENT_VERSION, "5.0.0-RC2");
    assert_named(ev, "labels.snare_heartbeat_action", "HeartBeat");
    assert_field(ev, TRL_F_MESSAGE, "Mark - License expired on 2017-Jun-09.");
    assert_time(ev, "2017-09-14T16:07:43.000000000Z");

    /* The same heartbeat with its tabs rendered as spaces. */
    ev = parse_ok("VM11WIN7TEST AgentHeartBeat 14/09/2017 16:07:43 Windows 5.0.0-RC2 HeartBeat "
                  "Mark - License expired on 2017-Jun-09. Support expired on 2017-Jun-09. Extra");
    assert_field(ev, TRL_F_AGENT_TYPE, "Windows");
    assert_field(ev, TRL_F_AGENT_VERSION, "5.0.0-RC2");
    assert_field(ev, TRL_F_MESSAGE,
                 "Mark - License expired on 2017-Jun-09. Support expired on "
                 "2017-Jun-09. Extra");
    assert_time(ev, "2017-09-14T16:07:43.000000000Z");
}

/* ---- Malformed input ---- */

static void test_snare_rejects_lines_without_a_log_type(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "",
        "hello world",
        "MSWinEventLogX 1 Security",
        "xMSWinEventLog\t1",
        "host\tfoo\tbar",
        "<13>Jan  1 00:00:00 host app: message",
    };
    assert_not_matched(lines, TRL_ARRAY_LEN(lines));
    struct trl_event *ev = trl_event_create(arena, "", 0, RECV_NS);
    assert_int_equal(trl_parse_snare(ev, NULL, 0), TRL_ENOMATCH);
}

static void test_snare_malformed_windows_lines_are_invalid(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "MSWinEventLog",
        "h\tMSWinEventLog",
        "h\tMSWinEventLog\t",
        "h\tMSWinEventLog\t1\tSecurity\t12",
        "h\tMSWinEventLog\t1\tSecurity\t12\tnot a date\tnot-an-id\tsrc\tu\ts\tt\tc\tcat\t\tmsg",
        "h\tMSWinEventLog\t1\tSecurity\t12\tTue Jul 09 10:15:02 2024\t99999999\ts\tu\ts\tt\tc\tx",
        "h MSWinEventLog 0 Security 472890 Thu Mar 06 17:44:29 2025 4690 x",
        "h\tLinuxKAudit\t0",
        "h\tLinuxKAudit\t0\tnocomma\t,x",
        "h\tAppleBSM\t",
        "h\tAppleBSM\targument,1\tpath",
        "h\tApacheLog\t0\t",
        "h\tAgentHeartBeat\t1",
    };
    assert_invalid_with_message(lines, TRL_ARRAY_LEN(lines), "snare");
}

static void test_snare_escapes_cut_at_end_of_input(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "h#011MSWinEventLog#011", "h#011MSWinEventLog#01",
        "h#011MSWinEventLog#0",   "h#011MSWinEventLog#",
        "h\\tMSWinEventLog\\",    "h\\tMSWinEventLog\\t1\\",
        "h\tMSWinEventLog\t1\t{", "h\tLinuxKAudit\t1\t{\"Event\":",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(lines); i++) {
        /* parse_as passes an exact-size heap copy, so a read past the end is caught. */
        int rc;
        parse_as(lines[i], strlen(lines[i]), NULL, &rc);
        assert_true(rc == 0 || rc == TRL_EINVAL || rc == TRL_ENOMATCH);
    }
}

static void test_snare_huge_and_binary_input(void **state)
{
    (void)state;
    size_t len = 70000;
    char *buf = malloc(len);
    const char *head = "h\tMSWinEventLog\t1\tSecurity\t1\tTue Jul 09 10:15:02 2024\t4624\ts\tN/A\t"
                       "N/A\tSuccess Audit\tc\tLogon\t\tAn account was successfully logged on. "
                       "Subject: Account Name: ";
    size_t hl = strlen(head);
    memcpy(buf, head, hl);
    memset(buf + hl, 'A', len - hl);
    struct trl_event *ev = trl_event_create(arena, "", 0, RECV_NS);
    assert_int_equal(trl_parse_snare(ev, buf, len), 0);
    size_t vlen;
    assert_non_null(trl_event_get_named(ev, "winlog.event_data.SubjectUserName", 33, &vlen));
    assert_int_equal(vlen, len - hl);

    for (size_t i = 0; i < len; i++)
        buf[i] = (char)(i * 131 + 7);
    memcpy(buf + 10, "\tMSWinEventLog\t", 15);
    ev = trl_event_create(arena, "", 0, RECV_NS);
    int rc = trl_parse_snare(ev, buf, len);
    assert_true(rc == 0 || rc == TRL_EINVAL);
    free(buf);
}

/* ---- the message scan, the field split and the DateTime ---- */

/* A message of Windows labels behind padding of every length: the labels are found wherever they
 * fall in the blocks the scan reads at once, and only at the start of a word. */
static void test_snare_message_labels_at_every_offset(void **state)
{
    (void)state;
    for (size_t pad = 0; pad < 40; pad++) {
        char msg[256], line[512];
        size_t n = 0;
        for (size_t i = 0; i < pad; i++)
            msg[n++] = i + 1 == pad ? ' ' : (char)('a' + i % 26);
        snprintf(msg + n, sizeof(msg) - n,
                 "Logon Type: 3 XProcess Name: evil Source Network Address: 10.0.0.%zu Source "
                 "Port: 5%zu Process Name: good",
                 pad, pad);
        snprintf(line, sizeof(line), SEC("4624", "N/A", "Success Audit", "Logon", "%s", "7"), msg);
        struct trl_event *ev = parse_ok(line);
        char ip[32], port[32];
        snprintf(ip, sizeof(ip), "10.0.0.%zu", pad);
        snprintf(port, sizeof(port), "5%zu", pad);
        assert_data(ev, "LogonType", "3");
        assert_data(ev, "IpAddress", ip);
        assert_data(ev, "IpPort", port);
        /* "XProcess Name:" starts inside a word: no label, part of LogonType's value. */
        assert_data(ev, "ProcessName", "good");
    }
}

static void test_snare_message_without_labels_or_colons(void **state)
{
    (void)state;
    static const char *const msgs[] = {
        "no colon here at all",
        ":::",
        "A:B:C:",
        "Logon Type:",
        "Logon Type: ",
        ":Logon Type: 2",
        "x.Logon Type: 2",
        "Subject:Security ID:S-1-5-18",
    };
    for (size_t k = 0; k < TRL_ARRAY_LEN(msgs); k++) {
        char line[512];
        snprintf(line, sizeof(line), SEC("4624", "N/A", "Success Audit", "Logon", "%s", "7"),
                 msgs[k]);
        struct trl_event *ev = parse_ok(line);
        assert_field(ev, TRL_F_WINLOG_EVENT_ID, "4624");
        if (k == 5 || k == 6)
            assert_data(ev, "LogonType", "2");
        else if (k == 7)
            assert_data(ev, "SubjectUserSid", "S-1-5-18");
        else
            assert_data(ev, "LogonType", NULL);
    }
}

static void test_snare_message_trailer_ends_the_values(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(SEC(
        "4624", "N/A", "Success Audit", "Logon",
        "Logon Type: 3 Process Name: C:\\\\Windows\\\\x.exe This event is generated when a logon "
        "session is created. Logon Type: 9",
        "7"));
    assert_data(ev, "LogonType", "3");
    assert_data(ev, "ProcessName", "C:\\\\Windows\\\\x.exe");
    ev = parse_ok(SEC("4624", "N/A", "Success Audit", "Logon",
                      "Logon Type: 3 Certificate information is only provided if a certificate "
                      "was used. Logon Type: 9",
                      "7"));
    assert_data(ev, "LogonType", "3");
    /* A 'T' as the last byte, and phrases that only start like a trailer. */
    ev = parse_ok(SEC("4624", "N/A", "Success Audit", "Logon",
                      "Logon Type: 3 This event is Token Elevation T", "7"));
    assert_data(ev, "LogonType", "3");
}

static void test_snare_many_fields_are_all_split(void **state)
{
    (void)state;
    char line[2048];
    int n = snprintf(line, sizeof(line), "%s",
                     SEC("4624", "N/A", "Success Audit", "Logon", "Logon Type: 3", "7"));
    for (int i = 0; i < 40; i++)
        n += snprintf(line + n, sizeof(line) - (size_t)n, "\tK%d=v%d", i, i);
    struct trl_event *ev = parse_ok(line);
    assert_field(ev, TRL_F_WINLOG_RECORD_ID, "7");
    assert_named(ev, "labels.snare_K0", "v0");
    assert_named(ev, "labels.snare_K39", "v39");
    assert_data(ev, "LogonType", "3");
}

static void test_snare_datetime_forms(void **state)
{
    (void)state;
    static const struct {
        const char *when;
        const char *want; /* NULL: no timestamp from the record (the receive time stays) */
    } cases[] = {
        {"Tue Jul 09 10:15:02 2024", "2024-07-09T10:15:02.000000000Z"},
        {"Tue Jul 9 10:15:02 2024", "2024-07-09T10:15:02.000000000Z"},
        {"Tue Jul  9 10:15:02 2024", "2024-07-09T10:15:02.000000000Z"},
        {"tue JUL 09 10:15:02 2024", "2024-07-09T10:15:02.000000000Z"},
        {"Tuesday July 09 10:15:02 2024", "2024-07-09T10:15:02.000000000Z"},
        {"Sun Feb 29 23:59:60 2032", "2032-03-01T00:00:00.000000000Z"},
        {"Tue Jux 09 10:15:02 2024", NULL},
        {"Tue Jul 32 10:15:02 2024", NULL},
        {"Tue Jul 09 24:15:02 2024", NULL},
        {"Tue Jul 09 10:15:02 1969", NULL},
        {"Tue Jul 09 10:15:02 2262", NULL},
        {"Tue Jul 09 10-15-02 2024", NULL},
        {"T1e Jul 09 10:15:02 2024", NULL},
    };
    for (size_t k = 0; k < TRL_ARRAY_LEN(cases); k++) {
        char line[512];
        snprintf(line, sizeof(line),
                 "DC01\tMSWinEventLog\t1\tSecurity\t2291\t%s\t4624\tMicrosoft-Windows-Security-"
                 "Auditing\tN/A\tN/A\tSuccess Audit\tDC01\tLogon\t\tLogon Type: 3\t7",
                 cases[k].when);
        struct trl_event *ev = parse_ok(line);
        if (cases[k].want)
            assert_time(ev, cases[k].want);
        else
            assert_true(ev->timestamp_ns == 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snare_windows_system_event_header_fields),
        cmocka_unit_test(test_snare_windows_user_outcome_and_optional_fields),
        cmocka_unit_test(test_snare_windows_legacy_line_without_datastring_or_counter),
        cmocka_unit_test(test_snare_windows_rsyslog_hash_escaped_tabs),
        cmocka_unit_test(test_snare_windows_backslash_t_escaped_tabs),
        cmocka_unit_test(test_snare_windows_custom_delimiter),
        cmocka_unit_test(test_snare_windows_message_keeps_its_own_tabs),
        cmocka_unit_test(test_snare_windows_in_syslog_msg_keeps_syslog_host_and_format),
        cmocka_unit_test(test_snare_windows_line_host_replaces_syslog_host),
        cmocka_unit_test(test_snare_windows_syslog_wrapped_line_given_whole),
        cmocka_unit_test(test_snare_4624_logon_event_data),
        cmocka_unit_test(test_snare_4625_failed_logon_event_data),
        cmocka_unit_test(test_snare_4648_explicit_credentials_event_data),
        cmocka_unit_test(test_snare_4672_privileges_event_data),
        cmocka_unit_test(test_snare_4688_process_creation_event_data),
        cmocka_unit_test(test_snare_4688_older_windows_without_target_subject),
        cmocka_unit_test(test_snare_4697_service_installed_event_data),
        cmocka_unit_test(test_snare_7045_system_service_installed_event_data),
        cmocka_unit_test(test_snare_4698_scheduled_task_event_data),
        cmocka_unit_test(test_snare_4720_user_created_event_data),
        cmocka_unit_test(test_snare_4722_and_4726_target_account_event_data),
        cmocka_unit_test(test_snare_4728_and_4732_group_member_event_data),
        cmocka_unit_test(test_snare_4768_and_4769_kerberos_event_data),
        cmocka_unit_test(test_snare_1102_audit_log_cleared_event_data),
        cmocka_unit_test(test_snare_v2_windows_json_event),
        cmocka_unit_test(test_snare_v2_windows_flat_json_with_message_only),
        cmocka_unit_test(test_snare_v2_windows_xml_style_json),
        cmocka_unit_test(test_snare_windows_checksum_trailer),
        cmocka_unit_test(test_snare_v2_windows_user_data),
        cmocka_unit_test(test_snare_v2_bad_json_is_invalid),
        cmocka_unit_test(test_snare_linux_fchmod_record),
        cmocka_unit_test(test_snare_linux_execve_arguments_after_key),
        cmocka_unit_test(test_snare_linux_v2_json_with_hex_proctitle),
        cmocka_unit_test(test_snare_linux_hex_encoded_path_is_decoded),
        cmocka_unit_test(test_snare_apple_bsm_record),
        cmocka_unit_test(test_snare_epilog_apache_line),
        cmocka_unit_test(test_snare_epilog_unknown_log_type),
        cmocka_unit_test(test_snare_agent_heartbeat),
        cmocka_unit_test(test_snare_rejects_lines_without_a_log_type),
        cmocka_unit_test(test_snare_malformed_windows_lines_are_invalid),
        cmocka_unit_test(test_snare_escapes_cut_at_end_of_input),
        cmocka_unit_test(test_snare_huge_and_binary_input),
        cmocka_unit_test(test_snare_message_labels_at_every_offset),
        cmocka_unit_test(test_snare_message_without_labels_or_colons),
        cmocka_unit_test(test_snare_message_trailer_ends_the_values),
        cmocka_unit_test(test_snare_many_fields_are_all_split),
        cmocka_unit_test(test_snare_datetime_forms),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

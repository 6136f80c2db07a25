/*
 * The rendered message of a Windows event, turned back into the EVTX EventData names.
 *
 * Snare sends the message text Windows renders for an event ("An account was successfully logged
 * on. Subject: Security ID: S-1-5-18 Account Name: WIN$ ... New Logon: Security ID: ...") rather
 * than its EventData, and flattens the line breaks to spaces or tabs. Detection rules and the
 * Windows normaliser work on the EventData names (SubjectUserName, TargetUserName, IpAddress, ...),
 * so this file maps the message labels back onto them.
 *
 * The same label means different fields in different sections ("Account Name:" under "Subject:" is
 * SubjectUserName, under "New Logon:" TargetUserName, under "Member:" MemberName), and a few events
 * name their fields differently (4634 reports the logged-off account under "Subject:" but stores
 * it as TargetUserName; 7045 calls the service binary ImagePath). So the message is read as a
 * sequence of known labels: a section header with no value switches the section, and a field label
 * is looked up by (label, section, event ID) in rules ordered from specific to general.
 *
 * Values may contain spaces ("Account Domain: NT AUTHORITY", paths under "Program Files"), so a
 * value runs until the next known label. Labels the table does not know therefore end up inside
 * the value before them; the table lists every label of the events it maps, including the ones it
 * does not store. Single-token values (SIDs, IDs, ports, status codes) are cut at the first space,
 * and the explanatory paragraph Windows appends to many messages ("This event is generated when
 * ...") is cut off before values are read.
 */
#include "formats/snare_internal.h"

#include <limits.h>
#include <pthread.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EVENT_DATA_PFX "winlog.event_data."

enum section {
    SEC_ANY = 0, /* in rules: any section */
    SEC_TOP,     /* before the first section header */
    SEC_SUBJECT,
    SEC_LOGON_TARGET,   /* the account a logon is for: TargetUser* */
    SEC_ACCOUNT_TARGET, /* the account acted upon by account management: TargetSid */
    SEC_CREDS,          /* 4648 Account Whose Credentials Were Used */
    SEC_ACCOUNT_INFO,   /* Kerberos events */
    SEC_MEMBER,
    SEC_GROUP,
    SEC_LOGON_INFO,
    SEC_FAILURE,
    SEC_PROCESS,
    SEC_NETWORK,
    SEC_AUTH,
    SEC_SERVICE,
    SEC_TASK,
    SEC_OTHER,
    SEC_ADDITIONAL,
    SEC_TARGET_SERVER,
    SEC_ATTRIBUTES,
    SEC_CERT,
    SEC_APPLICATION,
    SEC_FILTER,
    SEC_OBJECT,
    SEC_ACCESS,
    SEC_SHARE,
    SEC_HANDLE,
};

enum label_flag {
    LF_TOKEN = 1, /* the value is one word: cut at the first whitespace */
    LF_LIST = 2,  /* a whitespace-separated list: runs of whitespace become one space */
};

struct rule {
    unsigned char section; /* enum section; SEC_ANY matches all */
    unsigned short ev_lo;  /* event ID range; 0: any event */
    unsigned short ev_hi;
    const char *name; /* NULL ends the list */
};

struct label {
    const char *text;
    unsigned char len;
    unsigned char flags;
    unsigned char header;     /* enum section this label opens, or 0 for a field */
    const struct rule *rules; /* NULL: a known label whose value is not stored */
};

#define L(text)    text, sizeof(text) - 1
#define RULES(...) ((const struct rule[]){__VA_ARGS__, {0, 0, 0, NULL}})
/* clang-format off */
#define ANY(name) {SEC_ANY, 0, 0, name}
/* 4634 and 4647 report the account that logged off under "Subject:" but store it as Target*. */
#define LOGOFF(name) {SEC_SUBJECT, 4634, 4634, name}, {SEC_SUBJECT, 4647, 4647, name}
/* Windows Filtering Platform events (5152..5159) name the connection endpoints differently. */
#define WFP(name) {SEC_ANY, 5152, 5159, name}
/* clang-format on */

static const struct label labels[] = {
    /* Section headers. */
    {L("Subject"), 0, SEC_SUBJECT, NULL},
    {L("Creator Subject"), 0, SEC_SUBJECT, NULL},
    {L("Target Subject"), 0, SEC_LOGON_TARGET, NULL},
    {L("New Logon"), 0, SEC_LOGON_TARGET, NULL},
    {L("Account For Which Logon Failed"), 0, SEC_LOGON_TARGET, NULL},
    {L("Target Account"), 0, SEC_ACCOUNT_TARGET, NULL},
    {L("New Account"), 0, SEC_ACCOUNT_TARGET, NULL},
    {L("Account That Was Locked Out"), 0, SEC_ACCOUNT_TARGET, NULL},
    {L("Account Whose Credentials Were Used"), 0, SEC_CREDS, NULL},
    {L("Account Information"), 0, SEC_ACCOUNT_INFO, NULL},
    {L("Member"), 0, SEC_MEMBER, NULL},
    {L("Group"), 0, SEC_GROUP, NULL},
    {L("New Group"), 0, SEC_GROUP, NULL},
    {L("Logon Information"), 0, SEC_LOGON_INFO, NULL},
    {L("Failure Information"), 0, SEC_FAILURE, NULL},
    {L("Process Information"), 0, SEC_PROCESS, NULL},
    {L("New Process Information"), 0, SEC_PROCESS, NULL},
    {L("Network Information"), 0, SEC_NETWORK, NULL},
    {L("Detailed Authentication Information"), 0, SEC_AUTH, NULL},
    {L("Service Information"), 0, SEC_SERVICE, NULL},
    {L("Service"), 0, SEC_SERVICE, NULL},
    {L("Task Information"), 0, SEC_TASK, NULL},
    {L("Other Information"), 0, SEC_OTHER, NULL},
    /* 4648 writes "Additional Information: <target info>" as a field under "Target Server:". */
    {L("Additional Information"), 0, SEC_ADDITIONAL,
     RULES({SEC_TARGET_SERVER, 0, 0, "TargetInfo"})},
    {L("Target Server"), 0, SEC_TARGET_SERVER, NULL},
    {L("Attributes"), 0, SEC_ATTRIBUTES, NULL},
    {L("Changed Attributes"), 0, SEC_ATTRIBUTES, NULL},
    {L("Certificate Information"), 0, SEC_CERT, NULL},
    {L("Application Information"), 0, SEC_APPLICATION, NULL},
    {L("Filter Information"), 0, SEC_FILTER, NULL},
    {L("Object"), 0, SEC_OBJECT, NULL},
    {L("Access Request Information"), 0, SEC_ACCESS, NULL},
    {L("Share Information"), 0, SEC_SHARE, NULL},
    {L("Source Handle Information"), 0, SEC_HANDLE, NULL},
    {L("New Handle Information"), 0, SEC_HANDLE, NULL},

    /* Accounts. */
    {L("Security ID"), LF_TOKEN, 0,
     RULES(LOGOFF("TargetUserSid"), {SEC_SUBJECT, 0, 0, "SubjectUserSid"},
           {SEC_LOGON_TARGET, 0, 0, "TargetUserSid"}, {SEC_ACCOUNT_TARGET, 0, 0, "TargetSid"},
           {SEC_ACCOUNT_INFO, 0, 0, "TargetSid"}, {SEC_MEMBER, 0, 0, "MemberSid"},
           {SEC_GROUP, 0, 0, "TargetSid"})},
    {L("Account Name"), 0, 0,
     RULES(LOGOFF("TargetUserName"), {SEC_SUBJECT, 0, 0, "SubjectUserName"},
           {SEC_LOGON_TARGET, 0, 0, "TargetUserName"}, {SEC_ACCOUNT_TARGET, 0, 0, "TargetUserName"},
           {SEC_CREDS, 0, 0, "TargetUserName"}, {SEC_ACCOUNT_INFO, 0, 0, "TargetUserName"},
           {SEC_MEMBER, 0, 0, "MemberName"})},
    {L("Account Domain"), 0, 0,
     RULES(LOGOFF("TargetDomainName"), {SEC_SUBJECT, 0, 0, "SubjectDomainName"},
           {SEC_LOGON_TARGET, 0, 0, "TargetDomainName"},
           {SEC_ACCOUNT_TARGET, 0, 0, "TargetDomainName"}, {SEC_CREDS, 0, 0, "TargetDomainName"},
           {SEC_ACCOUNT_INFO, 0, 0, "TargetDomainName"})},
    {L("Domain Name"), 0, 0, RULES({SEC_SUBJECT, 0, 0, "SubjectDomainName"})},
    {L("Logon ID"), LF_TOKEN, 0,
     RULES(LOGOFF("TargetLogonId"), {SEC_SUBJECT, 0, 0, "SubjectLogonId"},
           {SEC_LOGON_TARGET, 0, 0, "TargetLogonId"})},
    {L("Linked Logon ID"), LF_TOKEN, 0, RULES(ANY("TargetLinkedLogonId"))},
    {L("Network Account Name"), 0, 0, RULES(ANY("TargetOutboundUserName"))},
    {L("Network Account Domain"), 0, 0, RULES(ANY("TargetOutboundDomainName"))},
    {L("Logon GUID"), LF_TOKEN, 0, RULES({SEC_CREDS, 0, 0, "TargetLogonGuid"}, ANY("LogonGuid"))},
    {L("Logon Account"), 0, 0, RULES(ANY("TargetUserName"))},
    {L("Supplied Realm Name"), 0, 0, RULES(ANY("TargetDomainName"))},
    {L("User ID"), LF_TOKEN, 0, RULES(ANY("TargetSid"))},
    {L("Caller Computer Name"), 0, 0, RULES(ANY("TargetDomainName"))},
    {L("Group Name"), 0, 0, RULES(ANY("TargetUserName"))},
    {L("Group Domain"), 0, 0, RULES(ANY("TargetDomainName"))},
    {L("Privileges"), LF_LIST, 0, RULES(ANY("PrivilegeList"))},
    {L("Privileges Used for Access Check"), 0, 0, NULL},

    /* Logon. */
    {L("Logon Type"), LF_TOKEN, 0, RULES(ANY("LogonType"))},
    {L("Restricted Admin Mode"), LF_TOKEN, 0, RULES(ANY("RestrictedAdminMode"))},
    {L("Virtual Account"), LF_TOKEN, 0, RULES(ANY("VirtualAccount"))},
    {L("Elevated Token"), LF_TOKEN, 0, RULES(ANY("ElevatedToken"))},
    {L("Impersonation Level"), LF_TOKEN, 0, RULES(ANY("ImpersonationLevel"))},
    {L("Failure Reason"), 0, 0, RULES(ANY("FailureReason"))},
    {L("Status"), LF_TOKEN, 0, RULES(ANY("Status"))},
    {L("Sub Status"), LF_TOKEN, 0, RULES(ANY("SubStatus"))},
    {L("Logon Process"), LF_TOKEN, 0, RULES(ANY("LogonProcessName"))},
    {L("Authentication Package"), LF_TOKEN, 0,
     RULES({SEC_ANY, 4776, 4776, "PackageName"}, ANY("AuthenticationPackageName"))},
    {L("Transited Services"), 0, 0, RULES(ANY("TransmittedServices"))},
    {L("Package Name (NTLM only)"), 0, 0, RULES(ANY("LmPackageName"))},
    {L("Key Length"), LF_TOKEN, 0, RULES(ANY("KeyLength"))},
    {L("Error Code"), LF_TOKEN, 0, RULES(ANY("Status"))},
    {L("Target Server Name"), LF_TOKEN, 0, RULES(ANY("TargetServerName"))},

    /* Processes. */
    {L("Process ID"), LF_TOKEN, 0, RULES({SEC_APPLICATION, 0, 0, "ProcessID"}, ANY("ProcessId"))},
    {L("Process Name"), 0, 0, RULES(ANY("ProcessName"))},
    {L("Caller Process ID"), LF_TOKEN, 0, RULES(ANY("ProcessId"))},
    {L("Caller Process Name"), 0, 0, RULES(ANY("ProcessName"))},
    {L("New Process ID"), LF_TOKEN, 0, RULES(ANY("NewProcessId"))},
    {L("New Process Name"), 0, 0, RULES(ANY("NewProcessName"))},
    {L("Token Elevation Type"), 0, 0, RULES(ANY("TokenElevationType"))},
    {L("Mandatory Label"), LF_TOKEN, 0, RULES(ANY("MandatoryLabel"))},
    {L("Creator Process ID"), LF_TOKEN, 0, RULES(ANY("ProcessId"))},
    {L("Creator Process Name"), 0, 0, RULES(ANY("ParentProcessName"))},
    {L("Process Command Line"), 0, 0, RULES(ANY("CommandLine"))},
    {L("Exit Status"), LF_TOKEN, 0, RULES(ANY("Status"))},
    {L("Source Handle ID"), LF_TOKEN, 0, RULES(ANY("SourceHandleId"))},
    {L("Source Process ID"), LF_TOKEN, 0, RULES(ANY("SourceProcessId"))},
    {L("Target Handle ID"), LF_TOKEN, 0, RULES(ANY("TargetHandleId"))},
    {L("Target Process ID"), LF_TOKEN, 0, RULES(ANY("TargetProcessId"))},

    /* Network. */
    {L("Workstation Name"), LF_TOKEN, 0, RULES(ANY("WorkstationName"))},
    {L("Source Workstation"), LF_TOKEN, 0, RULES(ANY("Workstation"))},
    {L("Source Network Address"), LF_TOKEN, 0, RULES(ANY("IpAddress"))},
    {L("Source Port"), LF_TOKEN, 0, RULES(WFP("SourcePort"), ANY("IpPort"))},
    {L("Source Address"), LF_TOKEN, 0, RULES(WFP("SourceAddress"), ANY("IpAddress"))},
    {L("Network Address"), LF_TOKEN, 0, RULES(ANY("IpAddress"))},
    {L("Port"), LF_TOKEN, 0, RULES(ANY("IpPort"))},
    {L("Client Address"), LF_TOKEN, 0, RULES(ANY("IpAddress"))},
    {L("Client Port"), LF_TOKEN, 0, RULES(ANY("IpPort"))},
    {L("Destination Address"), LF_TOKEN, 0, RULES(ANY("DestAddress"))},
    {L("Destination Port"), LF_TOKEN, 0, RULES(ANY("DestPort"))},
    {L("Direction"), LF_TOKEN, 0, RULES(ANY("Direction"))},
    {L("Protocol"), LF_TOKEN, 0, RULES(ANY("Protocol"))},
    {L("Application Name"), 0, 0, RULES(ANY("Application"))},
    {L("Filter Run-Time ID"), LF_TOKEN, 0, RULES(ANY("FilterRTID"))},
    {L("Layer Name"), 0, 0, RULES(ANY("LayerName"))},
    {L("Layer Run-Time ID"), LF_TOKEN, 0, RULES(ANY("LayerRTID"))},

    /* Kerberos. */
    {L("Service Name"), 0, 0, RULES(ANY("ServiceName"))},
    {L("Service ID"), LF_TOKEN, 0, RULES(ANY("ServiceSid"))},
    {L("Ticket Options"), LF_TOKEN, 0, RULES(ANY("TicketOptions"))},
    {L("Result Code"), LF_TOKEN, 0, RULES(ANY("Status"))},
    {L("Failure Code"), LF_TOKEN, 0, RULES(ANY("Status"))},
    {L("Ticket Encryption Type"), LF_TOKEN, 0, RULES(ANY("TicketEncryptionType"))},
    {L("Pre-Authentication Type"), LF_TOKEN, 0, RULES(ANY("PreAuthType"))},
    {L("Certificate Issuer Name"), 0, 0, RULES(ANY("CertIssuerName"))},
    {L("Certificate Serial Number"), LF_TOKEN, 0, RULES(ANY("CertSerialNumber"))},
    {L("Certificate Thumbprint"), LF_TOKEN, 0, RULES(ANY("CertThumbprint"))},

    /* Services (4697 in Security, 7045 in System with other names). */
    {L("Service File Name"), 0, 0,
     RULES({SEC_ANY, 7045, 7045, "ImagePath"}, ANY("ServiceFileName"))},
    {L("Service Type"), 0, 0, RULES(ANY("ServiceType"))},
    {L("Service Start Type"), 0, 0,
     RULES({SEC_ANY, 7045, 7045, "StartType"}, ANY("ServiceStartType"))},
    {L("Service Account"), 0, 0,
     RULES({SEC_ANY, 7045, 7045, "AccountName"}, ANY("ServiceAccount"))},

    /* Scheduled tasks. */
    {L("Task Name"), 0, 0, RULES(ANY("TaskName"))},
    {L("Task Content"), 0, 0, RULES(ANY("TaskContent"))},
    {L("ProcessCreationTime"), LF_TOKEN, 0, RULES(ANY("ClientProcessStartKey"))},
    {L("ClientProcessId"), LF_TOKEN, 0, RULES(ANY("ClientProcessId"))},
    {L("ParentProcessId"), LF_TOKEN, 0, RULES(ANY("ParentProcessId"))},
    {L("FQDN"), LF_TOKEN, 0, RULES(ANY("FQDN"))},
    {L("RpcCallClientLocality"), LF_TOKEN, 0, RULES(ANY("RpcCallClientLocality"))},

    /* User account attributes (4720, 4738). */
    {L("SAM Account Name"), 0, 0, RULES(ANY("SamAccountName"))},
    {L("Display Name"), 0, 0, RULES(ANY("DisplayName"))},
    {L("User Principal Name"), 0, 0, RULES(ANY("UserPrincipalName"))},
    {L("Home Directory"), 0, 0, RULES(ANY("HomeDirectory"))},
    {L("Home Drive"), 0, 0, RULES(ANY("HomePath"))},
    {L("Script Path"), 0, 0, RULES(ANY("ScriptPath"))},
    {L("Profile Path"), 0, 0, RULES(ANY("ProfilePath"))},
    {L("User Workstations"), 0, 0, RULES(ANY("UserWorkstations"))},
    {L("Password Last Set"), 0, 0, RULES(ANY("PasswordLastSet"))},
    {L("Account Expires"), 0, 0, RULES(ANY("AccountExpires"))},
    {L("Primary Group ID"), LF_TOKEN, 0, RULES(ANY("PrimaryGroupId"))},
    {L("Allowed To Delegate To"), 0, 0, RULES(ANY("AllowedToDelegateTo"))},
    {L("Old UAC Value"), LF_TOKEN, 0, RULES(ANY("OldUacValue"))},
    {L("New UAC Value"), LF_TOKEN, 0, RULES(ANY("NewUacValue"))},
    {L("User Account Control"), 0, 0, RULES(ANY("UserAccountControl"))},
    {L("User Parameters"), 0, 0, RULES(ANY("UserParameters"))},
    {L("SID History"), 0, 0, RULES(ANY("SidHistory"))},
    {L("Logon Hours"), 0, 0, RULES(ANY("LogonHours"))},

    /* Object access and shares. */
    {L("Object Server"), 0, 0, RULES(ANY("ObjectServer"))},
    {L("Object Type"), 0, 0, RULES(ANY("ObjectType"))},
    {L("Object Name"), 0, 0, RULES(ANY("ObjectName"))},
    {L("Handle ID"), LF_TOKEN, 0, RULES(ANY("HandleId"))},
    {L("Resource Attributes"), 0, 0, RULES(ANY("ResourceAttributes"))},
    {L("Transaction ID"), LF_TOKEN, 0, RULES(ANY("TransactionId"))},
    {L("Accesses"), 0, 0, RULES(ANY("AccessList"))},
    {L("Access Mask"), LF_TOKEN, 0, RULES(ANY("AccessMask"))},
    {L("Share Name"), 0, 0, RULES(ANY("ShareName"))},
    {L("Share Path"), 0, 0, RULES(ANY("ShareLocalPath"))},
    {L("Relative Target Name"), 0, 0, RULES(ANY("RelativeTargetName"))},
};

#define NLABELS TRL_ARRAY_LEN(labels)

/* The most rules one label has. */
#define MAX_RULES 8
/* Room for the full names of the distinct EventData names of the rules. */
#define NAME_POOL 4096
#define MAX_NAMES 256

/* Labels chained by their length, and the rules' EventData names numbered and spelt out in full
 * ("winlog.event_data.TargetUserName"), built once and read-only afterwards. A label text holds no
 * ':', so a label at p[i] can only be the one that ends at the first ':' after i: its length is
 * known before any comparison and only the few labels of that length are compared. */
struct index {
    unsigned char head[UCHAR_MAX + 1]; /* by label length */
    unsigned char next[NLABELS];
    size_t max_len; /* the longest label */
    /* The number of the name of rule r of label k: the same name in several rules has one. */
    unsigned char name_id[NLABELS][MAX_RULES];
    const char *full[MAX_NAMES]; /* by number: EVENT_DATA_PFX name, NUL-terminated */
    unsigned char full_len[MAX_NAMES];
    size_t nnames;
    char pool[NAME_POOL];
};

_Static_assert(NLABELS < 255, "label indices must fit in an unsigned char");

/* Written once under index_once, read-only afterwards. */
static struct index label_index;
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

/* The number of a rule's name, added to the index when new. */
static unsigned char name_number(struct index *ix, size_t *pool_used, const char *name)
{
    size_t plen = sizeof(EVENT_DATA_PFX) - 1, nlen = strlen(name);
    for (size_t i = 0; i < ix->nnames; i++) {
        if (ix->full_len[i] == plen + nlen && memcmp(ix->full[i] + plen, name, nlen) == 0)
            return (unsigned char)i;
    }
    /* The table is fixed: a new rule name that overflowed these would be a programming error. */
    if (ix->nnames >= MAX_NAMES || *pool_used + plen + nlen + 1 > NAME_POOL || plen + nlen > 255)
        abort();
    char *full = ix->pool + *pool_used;
    memcpy(full, EVENT_DATA_PFX, plen);
    memcpy(full + plen, name, nlen + 1);
    *pool_used += plen + nlen + 1;
    ix->full[ix->nnames] = full;
    ix->full_len[ix->nnames] = (unsigned char)(plen + nlen);
    return (unsigned char)ix->nnames++;
}

static void build_index(void)
{
    struct index *ix = &label_index;
    size_t pool_used = 0;
    memset(ix->head, 0xff, sizeof(ix->head));
    ix->max_len = 0;
    for (size_t i = NLABELS; i-- > 0;) {
        unsigned l = labels[i].len;
        ix->next[i] = ix->head[l];
        ix->head[l] = (unsigned char)i;
        if (l > ix->max_len)
            ix->max_len = l;
    }
    for (size_t i = 0; i < NLABELS; i++) {
        size_t r = 0;
        for (const struct rule *ru = labels[i].rules; ru && ru->name; ru++, r++) {
            if (r >= MAX_RULES)
                abort();
            ix->name_id[i][r] = name_number(ix, &pool_used, ru->name);
        }
    }
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Whether a label may start at p[i]: a capital letter at the start of the message or after
 * whitespace, ':' or '.'. */
static bool may_start(const char *p, size_t i)
{
    char c = p[i];
    if (c < 'A' || c > 'Z')
        return false;
    return i == 0 || is_space(p[i - 1]) || p[i - 1] == ':' || p[i - 1] == '.';
}

/* The label that starts at p[i] and ends at colon, or -1. */
static int label_at(const struct index *ix, const char *p, size_t i, size_t colon)
{
    size_t tl = colon - i;
    if (tl > ix->max_len)
        return -1;
    for (unsigned k = ix->head[tl]; k != 0xff; k = ix->next[k]) {
        if (labels[k].text[0] == p[i] && memcmp(p + i, labels[k].text, tl) == 0)
            return (int)k;
    }
    return -1;
}

/* Tries the label that may start at p[i] (may_start() is true): a label ends at the first ':'
 * after its start, *colon, moved on when i is past it. Returns the label, -1 when none starts at
 * i, or -2 when there is no ':' left (no label can follow). */
static int try_at(const struct index *ix, const char *p, size_t len, size_t i, size_t *colon)
{
    if (i > *colon) {
        const char *q = memchr(p + i, ':', len - i);
        if (!q)
            return -2;
        *colon = (size_t)(q - p);
    }
    return label_at(ix, p, i, *colon);
}

/* The first known label at or after from: its index, with *at where it starts; or -1. The message
 * is read once, word start by word start (16 bytes at a time where SSE2 is available), and each
 * possible start is compared with the labels as long as the distance to the next ':'. */
static int next_label(const struct index *ix, const char *p, size_t len, size_t from, size_t *at)
{
    if (from >= len)
        return -1;
    const char *q = memchr(p + from, ':', len - from);
    if (!q)
        return -1;
    size_t colon = (size_t)(q - p);
    size_t i = from;
    int k;
#if defined(__SSE2__)
    if (i == 0) {
        if (may_start(p, 0) && (k = try_at(ix, p, len, 0, &colon)) != -1) {
            *at = 0;
            return k < 0 ? -1 : k;
        }
        i = 1;
    }
    const __m128i before_a = _mm_set1_epi8('A' - 1), after_z = _mm_set1_epi8('Z' + 1);
    const __m128i sp = _mm_set1_epi8(' '), tab = _mm_set1_epi8('\t'), cr = _mm_set1_epi8('\r'),
                  lf = _mm_set1_epi8('\n'), co = _mm_set1_epi8(':'), dot = _mm_set1_epi8('.');
    for (; i + 16 <= len; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + i - 1));
        /* Bytes 0x80 and above compare as negative: never capitals. */
        __m128i cap = _mm_and_si128(_mm_cmpgt_epi8(v, before_a), _mm_cmplt_epi8(v, after_z));
        __m128i sep =
            _mm_or_si128(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(b, sp), _mm_cmpeq_epi8(b, tab)),
                                      _mm_or_si128(_mm_cmpeq_epi8(b, cr), _mm_cmpeq_epi8(b, lf))),
                         _mm_or_si128(_mm_cmpeq_epi8(b, co), _mm_cmpeq_epi8(b, dot)));
        unsigned mask = (unsigned)_mm_movemask_epi8(_mm_and_si128(cap, sep));
        while (mask) {
            size_t j = i + (size_t)__builtin_ctz(mask);
            mask &= mask - 1;
            if ((k = try_at(ix, p, len, j, &colon)) != -1) {
                *at = j;
                return k < 0 ? -1 : k;
            }
        }
    }
#endif
    for (; i < len; i++) {
        if (may_start(p, i) && (k = try_at(ix, p, len, i, &colon)) != -1) {
            *at = i;
            return k < 0 ? -1 : k;
        }
    }
    return -1;
}

/* The number of the EventData name label k stores in section sec of event event_id, or -1. */
static int rule_name(const struct index *ix, size_t k, enum section sec, unsigned event_id)
{
    const struct label *l = &labels[k];
    if (!l->rules)
        return -1;
    size_t r = 0;
    for (const struct rule *ru = l->rules; ru->name; ru++, r++) {
        if ((ru->section == SEC_ANY || ru->section == sec) &&
            (ru->ev_lo == 0 || (event_id >= ru->ev_lo && event_id <= ru->ev_hi)))
            return ix->name_id[k][r];
    }
    return -1;
}

static void store(struct trl_event *ev, const struct index *ix, uint64_t *stored,
                  const struct label *l, unsigned id, const char *v, size_t len)
{
    /* The first value wins: a later label of the same name is further from the event's subject. */
    uint64_t bit = 1ULL << (id % 64);
    if (stored[id / 64] & bit)
        return;
    stored[id / 64] |= bit;
    unsigned refs = TRL_REF_NAME;
    if (l->flags & LF_LIST) {
        char *out = trl_arena_alloc(ev->arena, len + 1);
        size_t n = 0;
        for (size_t i = 0; i < len; i++) {
            if (is_space(v[i])) {
                if (n > 0 && out[n - 1] != ' ')
                    out[n++] = ' ';
            } else {
                out[n++] = v[i];
            }
        }
        out[n] = '\0';
        v = out;
        len = n;
        refs |= TRL_REF_VALUE;
    } else if (trl_event_in_original(ev, v, len)) {
        refs |= TRL_REF_VALUE;
    }
    trl_event_set_dynamic_ex(ev, ix->full[id], ix->full_len[id], v, len, refs);
}

/* Where the explanatory text Windows appends after the fields starts (len when there is none): the
 * first of the phrases that open it. No phrase can start inside another, so the first occurrence of
 * any of them is found by looking at each 'T' for the phrases that start with one. */
static size_t trailer_start(const char *msg, size_t len)
{
    static const char *const t_phrases[] = {
        "This event is generated",
        "This event is logged",
        "Token Elevation Type indicates",
    };
    size_t end = len;
    for (const char *t = memchr(msg, 'T', len); t;
         t = memchr(t + 1, 'T', len - (size_t)(t + 1 - msg))) {
        size_t rest = len - (size_t)(t - msg);
        bool hit = false;
        for (size_t k = 0; k < TRL_ARRAY_LEN(t_phrases) && !hit; k++)
            hit = trl_starts_with(t, rest, t_phrases[k]);
        if (hit) {
            end = (size_t)(t - msg);
            break;
        }
        if (rest <= 1)
            break;
    }
    const char *c = trl_memstr(msg, end, "Certificate information is only provided");
    return c ? (size_t)(c - msg) : end;
}

void trl_snare_win_message(struct trl_event *ev, unsigned event_id, const char *msg, size_t len)
{
    pthread_once(&index_once, build_index);
    const struct index *ix = &label_index;
    uint64_t stored[MAX_NAMES / 64] = {0};
    len = trailer_start(msg, len);
    enum section sec = SEC_TOP;
    int cur = -1;           /* label whose value is being read */
    size_t value_start = 0; /* where its value starts */
    size_t from = 0;        /* where the search for the next label starts */
    for (;;) {
        size_t i = len;
        int next = next_label(ix, msg, len, from, &i);
        if (cur >= 0) {
            const struct label *l = &labels[cur];
            size_t vs = value_start, ve = i;
            while (vs < ve && is_space(msg[vs]))
                vs++;
            while (ve > vs && is_space(msg[ve - 1]))
                ve--;
            if (l->flags & LF_TOKEN) {
                size_t t = vs;
                while (t < ve && !is_space(msg[t]))
                    t++;
                ve = t;
            }
            if (l->header && ve == vs) {
                sec = (enum section)l->header;
            } else if (ve > vs) {
                int id = rule_name(ix, (size_t)cur, sec, event_id);
                if (id >= 0)
                    store(ev, ix, stored, l, (unsigned)id, msg + vs, ve - vs);
                if (l->header)
                    sec = (enum section)l->header;
            }
        }
        if (next < 0)
            break;
        cur = next;
        value_start = i + labels[next].len + 1;
        from = value_start;
    }
}

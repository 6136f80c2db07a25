#!/usr/bin/env bash
# Event store benchmark, in two parts.
#
# 1. A real `trapline server` (TCP syslog listener, no console, no agents, no rules, a fresh data
#    directory) receives EVENTS realistic mixed events over one TCP connection and stores them:
#    sustained events/s from the first byte sent until every event is committed (the last line
#    sent carries an end marker: the clock stops when `trapline search` finds it, i.e. when a
#    reader sees it, and `trapline search '* | stats count'` must then count every event); then,
#    in the same run, a private rsyslog instance (imptcp -> omfile, as in bench/ingest.sh)
#    receives the same stream into a file (the clock stops when the marker is in the file's tail,
#    and `wc -l` must then count every line), and the ratio is printed (target
#    >= 0.5). Then the bytes on disk per event (du of DATA/events once the server stopped) against
#    the raw text sent. The events are generated here with a fixed seed: sshd (logins accepted
#    and failed, invalid users, disconnects), sudo, PAM, auditd records, nginx access lines and
#    Windows Security events as the Snare agent sends them (4624, 4625, 4688, 4672), RFC 5424 and
#    RFC 3164, 40 hosts, timestamps spread evenly over the last HOURS hours, in order.
# 2. On those stored events: a rare-term search, a field search (user.name:, source.ip:),
#    `| stats count by source.ip` and `| timechart span=1h count`, each run RUNS times (median
#    and worst, wall clock of the whole `trapline search` process), next to `grep -c` of the
#    same rare term over the raw text (targets: rare-term and field searches under 50 ms and
#    faster than grep; stats and timechart under 300 ms).
# 3. Unless ONLY=server: the per-block index comparison (Bloom filter against a term dictionary
#    with postings) that docs/storage.md quotes and the store's append throughput by zstd level,
#    through bench/store_bench.
#
# usage: bench/store.sh [EVENTS]   (default 2,000,000; BUILD=a Release/RelWithDebInfo build
#                                   directory, default build; HOURS=6; RUNS=7; ONLY=server skips
#                                   part 3; WRITE_EVENTS=events of part 3's write runs, 200,000;
#                                   KEEP=1 keeps the data directory and the generated text)
#        CALLGRIND=1 bench/store.sh   instructions per event of the store's append, counted by
#                                   valgrind on 20,480 events: repeatable on a shared machine, where
#                                   wall and CPU times are not (valgrind hides the CPU's SHA
#                                   instructions, so SHA-256 counts about 25,000 per event more
#                                   than it costs natively)
# Not part of `make test`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
BUILD=${BUILD:-$root/build}
EVENTS=${1:-2000000}
HOURS=${HOURS:-6}
RUNS=${RUNS:-7}
WRITE_EVENTS=${WRITE_EVENTS:-200000}
[ -f "$BUILD/CMakeCache.txt" ] || { echo "configure a release build first (make), or set BUILD"; exit 1; }

work=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "${CALLGRIND:-0}" = 1 ]; then
    command -v valgrind >/dev/null || { echo "valgrind not found"; exit 1; }
    cmake --build "$BUILD" --target store_bench >/dev/null
    valgrind --tool=callgrind --toggle-collect=trl_store_append_encoded \
        --callgrind-out-file="$work/cg.out" "$BUILD/bench/store_bench" write "$work/data-cg" \
        20480 2048 3 10 normal 2>"$work/cg.log" | grep -E "on disk"
    ir=$(grep -o 'Collected : [0-9]*' "$work/cg.log" | grep -o '[0-9]*$')
    echo "append: $ir instructions = $((ir / 20480)) per event"
    exit 0
fi

cmake --build "$BUILD" --target trapline >/dev/null
TRAPLINE=$BUILD/trapline
command -v python3 >/dev/null || { echo "python3 is needed"; exit 1; }
RSYSLOGD=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
[ -x "$RSYSLOGD" ] || RSYSLOGD=

echo "== generating $EVENTS events over the last $HOURS hours"
python3 - "$work" "$EVENTS" "$HOURS" <<'PY'
import datetime, json, random, sys
work, n, hours = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rnd = random.Random(20261127)
hosts = ([f"web{i:02d}" for i in range(1, 25)] + [f"db{i:02d}" for i in range(1, 7)] +
         ["bastion", "vpn01", "mail01", "ci-runner", "fw-edge", "backup01"])
win_hosts = ["DC01", "DC02", "FS01", "WS-0142", "WS-0177", "WS-0203"]
users = ["alice", "bob", "carol", "dave", "erin", "frank", "deploy", "root", "admin", "jenkins",
         "backup", "postgres", "www-data", "oracle", "ubuntu", "git", "nagios", "svc_sql"]
months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
wdays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
cmds = ["/usr/bin/apt-get update", "/usr/bin/systemctl restart nginx", "/bin/cat /etc/shadow",
        "/usr/bin/journalctl -u ssh", "/usr/sbin/useradd -m tmpuser", "/usr/bin/docker ps",
        "/usr/bin/tail -n 50 /var/log/syslog"]
paths = ["/", "/index.html", "/login", "/api/v1/items", "/api/v1/cart", "/static/app.js",
         "/static/site.css", "/images/logo.png", "/wp-login.php", "/.env", "/search", "/admin/",
         "/healthz", "/favicon.ico", "/robots.txt", "/cgi-bin/test.cgi"]
agents = ["Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/119.0 Safari/537.36", "curl/8.4.0", "python-requests/2.31.0",
          "Go-http-client/1.1", "Nmap Scripting Engine"]
exes = [("bash", "/usr/bin/bash"), ("curl", "/usr/bin/curl"), ("python3", "/usr/bin/python3.11"),
        ("sh", "/usr/bin/dash"), ("cron", "/usr/sbin/cron")]
win_procs = ["C:\\Windows\\System32\\cmd.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\"
             "powershell.exe", "C:\\Windows\\explorer.exe", "C:\\Program Files\\Git\\bin\\git.exe"]

# Remote addresses: 3,000, of which the first 10 carry a third of the traffic (scanners, proxies).
pool = set()
while len(pool) < 3000:
    pool.add(f"{rnd.choice([10, 45, 91, 172, 185, 192, 198, 203])}.{rnd.randrange(256)}."
             f"{rnd.randrange(256)}.{rnd.randrange(1, 255)}")
pool = sorted(pool)
rnd.shuffle(pool)
def ip():
    return pool[rnd.randrange(10)] if rnd.random() < 0.33 else pool[rnd.randrange(len(pool))]

# The rare term and the rare user appear at known counts, at fixed random positions.
RARE, RARE_N = "mimikatz", 5
RARE_USER, RARE_USER_N = "svc_backup7", 40
marks = {}
for pos in rnd.sample(range(n), min(RARE_N, n)):
    marks[pos] = "rare"
for pos in rnd.sample(range(n), min(RARE_USER_N + RARE_N, n)):
    marks.setdefault(pos, "user")
counts = {"rare": 0, "user": 0}

end = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=30)
span_us = int(hours * 3600 * 1_000_000)
start = end - datetime.timedelta(microseconds=span_us)

def snare(t, h):
    """A Windows Security event as the Snare agent sends it (tab-separated), host h."""
    ev = rnd.random()
    rec = rnd.randrange(100000, 9999999)
    when = f"{wdays[t.weekday()]} {months[t.month - 1]} {t.day:02d} {t:%H:%M:%S} {t.year}"
    u = rnd.choice(users)
    src = ip()
    if ev < 0.45:
        eid, kind, cat = "4624", "Success Audit", "Logon"
        msg = ("An account was successfully logged on. Subject: Security ID: S-1-5-18 Account "
               f"Name: {h}$ Account Domain: CORP Logon ID: 0x3E7 Logon Information: Logon Type: "
               f"{rnd.choice([2, 3, 3, 10])} New Logon: Security ID: S-1-5-21-3623811015-"
               f"3361044348-30300820-{rnd.randrange(1000, 5000)} Account Name: {u} Account "
               f"Domain: CORP Logon ID: 0x{rnd.getrandbits(24):X} Network Information: "
               f"Workstation Name: WS-{rnd.randrange(1000):04d} Source Network Address: {src} "
               f"Source Port: {rnd.randrange(1024, 65535)} Detailed Authentication Information: "
               "Logon Process: NtLmSsp Authentication Package: NTLM")
    elif ev < 0.75:
        eid, kind, cat = "4625", "Failure Audit", "Logon"
        msg = ("An account failed to log on. Subject: Security ID: S-1-0-0 Account Name: - "
               "Account Domain: - Logon ID: 0x0 Logon Type: 3 Account For Which Logon Failed: "
               f"Security ID: S-1-0-0 Account Name: {u} Account Domain: CORP Failure "
               "Information: Failure Reason: Unknown user name or bad password. Status: "
               "0xC000006D Sub Status: 0xC000006A Network Information: Workstation Name: "
               f"KALI Source Network Address: {src} Source Port: 0")
    elif ev < 0.9:
        eid, kind, cat = "4688", "Success Audit", "Process Creation"
        msg = ("A new process has been created. Creator Subject: Security ID: S-1-5-21-1004 "
               f"Account Name: {u} Account Domain: CORP Logon ID: 0x{rnd.getrandbits(24):X} "
               f"Process Information: New Process ID: 0x{rnd.randrange(4096, 65535):x} New "
               f"Process Name: {rnd.choice(win_procs)} Token Elevation Type: %%1938 Creator "
               f"Process ID: 0x{rnd.randrange(4096, 65535):x}")
    else:
        eid, kind, cat = "4672", "Success Audit", "Special Logon"
        msg = ("Special privileges assigned to new logon. Subject: Security ID: S-1-5-21-1005 "
               f"Account Name: {u} Account Domain: CORP Logon ID: 0x{rnd.getrandbits(24):X} "
               "Privileges: SeSecurityPrivilege SeBackupPrivilege SeRestorePrivilege "
               "SeDebugPrivilege")
    body = "\t".join(["MSWinEventLog", "1", "Security", str(rec), when, eid,
                      "Microsoft-Windows-Security-Auditing", "N/A", "N/A", kind, f"{h}.corp.local",
                      cat, "", msg, str(rec)])
    return f"<13>{months[t.month - 1]} {t.day:2d} {t:%H:%M:%S} {h} {body}"

def line(i, t):
    mark = marks.get(i)
    u = RARE_USER if mark == "user" else rnd.choice(users)
    h = rnd.choice(hosts)
    pid = rnd.randrange(300, 65000)
    k = rnd.random()
    if mark == "rare":
        app, p, fac, sev = "sudo", None, 10, 5
        msg = (f"  {u} : TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/tmp/.x/{RARE}.bin "
               "sekurlsa::logonpasswords")
    elif mark == "user" or k < 0.12:
        app, p, fac, sev = "sshd", pid, 10, 6
        msg = (f"Accepted publickey for {u} from {ip()} port {rnd.randrange(1024, 65535)} ssh2: "
               f"ED25519 SHA256:{rnd.getrandbits(128):032x}")
    elif k < 0.24:
        app, p, fac, sev = "sshd", pid, 10, 6
        msg = (f"Failed password for invalid user {u}{rnd.randrange(100)} from {ip()} "
               f"port {rnd.randrange(1024, 65535)} ssh2")
    elif k < 0.30:
        app, p, fac, sev = "sshd", pid, 10, 6
        msg = f"Disconnected from user {u} {ip()} port {rnd.randrange(1024, 65535)}"
    elif k < 0.35:
        app, p, fac, sev = "sshd", pid, 10, 6
        msg = (f"pam_unix(sshd:session): session opened for user {u}"
               f"(uid={rnd.randrange(1000, 2000)}) by (uid=0)")
    elif k < 0.42:
        app, p, fac, sev = "sudo", None, 10, 5
        msg = (f"  {u} : TTY=pts/{rnd.randrange(8)} ; PWD=/home/{u} ; USER=root ; "
               f"COMMAND={rnd.choice(cmds)}")
    elif k < 0.52:
        comm, exe = rnd.choice(exes)
        app, p, fac, sev = "audit", None, 13, 5
        ts = t.timestamp()
        msg = (f"type=SYSCALL msg=audit({int(ts)}.{rnd.randrange(1000):03d}:"
               f"{rnd.randrange(1, 9000000)}): arch=c000003e syscall=59 success=yes exit=0 "
               f"a0=55d0c3a4e2a0 a1=55d0c3a4e2c8 a2=7ffd6b1c1e58 a3=0 items=2 ppid={pid - 1} "
               f"pid={pid} auid={rnd.randrange(1000, 1020)} uid=0 gid=0 euid=0 suid=0 fsuid=0 "
               f"egid=0 sgid=0 fsgid=0 tty=pts{rnd.randrange(8)} ses={rnd.randrange(500)} "
               f'comm="{comm}" exe="{exe}" key="exec"')
    elif k < 0.72:
        app, p, fac, sev = "nginx", None, 23, 6
        status = rnd.choice([200] * 12 + [301, 304, 404, 404, 403, 500])
        path = rnd.choice(paths)
        if rnd.random() < 0.3:
            path += f"?id={rnd.randrange(100000)}"
        msg = (f'{ip()} - - [{t:%d}/{months[t.month - 1]}/{t:%Y:%H:%M:%S} +0000] '
               f'"{rnd.choice(["GET"] * 5 + ["POST", "HEAD"])} {path} HTTP/1.1" {status} '
               f'{rnd.randrange(100, 90000)} "-" "{rnd.choice(agents)}"')
    elif k < 0.80:
        app, p, fac, sev = "CRON", pid, 9, 6
        msg = f"({u}) CMD (run-parts /etc/cron.hourly)"
    else:
        return snare(t, rnd.choice(win_hosts)), None
    if rnd.random() < 0.3:
        tag = f"{app}[{p}]" if p else app
        text = f"<{fac * 8 + sev}>{months[t.month - 1]} {t.day:2d} {t:%H:%M:%S} {h} {tag}: {msg}"
    else:
        text = f"<{fac * 8 + sev}>1 {t:%Y-%m-%dT%H:%M:%S.%f}Z {h} {app} {p or '-'} - - {msg}"
    return text, mark

with open(f"{work}/events.log", "w") as f:
    for i in range(n - 1):
        t = start + datetime.timedelta(microseconds=i * span_us // max(n, 1))
        # RFC 3164 and Snare have whole seconds: keep every line on a whole second.
        t = t.replace(microsecond=0)
        text, mark = line(i, t)
        if mark:
            counts[mark] += 1
        f.write(text + "\n")
    # The last line carries the end marker the timing watches for (see send_and_wait).
    f.write(f"<38>1 {end:%Y-%m-%dT%H:%M:%S}.000000Z bastion sshd 4242 - - "
            f"Connection closed by 10.9.9.9 port 22 trapline-bench-end-of-stream\n")
field_ip = pool[5]
with open(f"{work}/expect.json", "w") as f:
    json.dump({"events": n, "rare": RARE, "rare_count": counts["rare"], "user": RARE_USER,
               "user_count": counts["user"], "ip": field_ip,
               "from": (start - datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
               "to": (end + datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}, f)
PY
expect() { python3 -c "import json,sys; print(json.load(open('$work/expect.json'))['$1'])"; }
raw_bytes=$(stat -c %s "$work/events.log")
FROM=$(expect from)
TO=$(expect to)
awk -v b="$raw_bytes" -v n="$EVENTS" \
    'BEGIN { printf "  %.1f MB of log text, %.1f bytes per event\n", b / 1048576, b / n }'

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# send_and_wait PORT INPUT EVENTS DONE-COMMAND COUNT-COMMAND: sends INPUT over one TCP connection,
# then runs DONE-COMMAND (a shell command) until it succeeds: the input's last line, which carries
# an end marker, has been stored (Trapline: found by a search) or written (rsyslog: in the file's
# tail). Both receivers keep the order of one connection, so that line comes last; nothing is
# polled before the sender is through, so watching costs the receivers next to nothing. Then,
# off the clock, COUNT-COMMAND must print EVENTS; should events still be missing (an audit event
# the assembler still holds), the clock runs on until COUNT-COMMAND prints EVENTS.
# Prints events/s, total s, sending s.
send_and_wait() {
    python3 - "$@" <<'PY'
import os, socket, subprocess, sys, time
port, src, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
done_cmd, count_cmd = sys.argv[4], sys.argv[5]
trace = os.environ.get("TRACE") == "1"
data = open(src, "rb").read()
t0 = time.monotonic()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(data)
s.shutdown(socket.SHUT_WR)
sent = time.monotonic() - t0


def count():
    out = subprocess.run(["bash", "-c", count_cmd], capture_output=True, text=True).stdout.strip()
    return int(out) if out.isdigit() else 0


while subprocess.run(["bash", "-c", done_cmd]).returncode != 0:
    if time.monotonic() - t0 > sent + 600:
        sys.exit("the last event never arrived")
    time.sleep(0.02)
total = time.monotonic() - t0
if trace:
    print(f"  {total:6.2f} s: the last event is in", file=sys.stderr)
got, last_change = count(), time.monotonic()
while got < n:
    time.sleep(0.3)
    now, c = time.monotonic(), count()
    if c != got:
        got, last_change = c, now
    elif now - last_change > 60:
        sys.exit(f"stuck at {got} of {n} events")
    total = now - t0
s.close()
if got != n:
    sys.exit(f"{got} events for {n} sent")
print(f"{n / total:.0f} {total:.2f} {sent:.2f}")
PY
}

echo
echo "== 1. ingest over TCP into the store: trapline server, then rsyslog (imptcp -> omfile)"
DATA=$work/data
out=$work/server.out
# RFC 3164 times carry no zone: the generator wrote UTC.
TZ=UTC "$TRAPLINE" server --data "$DATA" --syslog-tcp 127.0.0.1:0 --http "" --agents "" \
    --rules off --stats-interval 0 --log-level warn >"$out" 2>"$work/server.log" &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
port=
for _ in $(seq 300); do
    port=$(grep -o 'tcp=127\.0\.0\.1:[0-9]*' "$out" 2>/dev/null | head -1 | sed 's/.*://') || true
    [ -n "$port" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
[ -n "$port" ] || { echo "the server did not start:"; cat "$out" "$work/server.log"; exit 1; }
# The counting command as send_and_wait runs it (a fresh process each time).
read -r t_eps t_total t_sent < <(send_and_wait "$port" "$work/events.log" "$EVENTS" \
    "\"$TRAPLINE\" search --data \"$DATA\" --from \"$FROM\" --to \"$TO\" --output csv \
        trapline-bench-end-of-stream 2>/dev/null | grep -q end-of-stream" \
    "\"$TRAPLINE\" search --data \"$DATA\" --from \"$FROM\" --to \"$TO\" --output csv \
        '* | stats count' 2>/dev/null | tail -1 | tr -dc '0-9'")
printf '  trapline server -> store  %9s events/s  (%s s until all committed; sending took %s s)\n' \
    "$t_eps" "$t_total" "$t_sent"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true
PIDS=()
store_bytes=$(du -sb "$DATA/events" | cut -f1)

if [ -n "$RSYSLOGD" ]; then
    rport=$(free_port)
    rout=$work/rsyslog.log
    mkdir -p "$work/rs"
    cat >"$work/rsyslog.conf" <<CONF
global(workDirectory="$work/rs")
module(load="imptcp")
input(type="imptcp" address="127.0.0.1" port="$rport" ruleset="bench")
ruleset(name="bench") {
    action(type="omfile" file="$rout" template="RSYSLOG_TraditionalFileFormat")
}
CONF
    "$RSYSLOGD" -n -f "$work/rsyslog.conf" -i "$work/rsyslog.pid" >"$work/rsyslog.stdout" 2>&1 &
    RS_PID=$!
    PIDS+=("$RS_PID")
    for _ in $(seq 100); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $rport), 1)" \
            2>/dev/null && break
        sleep 0.1
    done
    read -r r_eps r_total r_sent < <(send_and_wait "$rport" "$work/events.log" "$EVENTS" \
        "[ -f \"$rout\" ] && tail -c 65536 \"$rout\" | grep -q trapline-bench-end-of-stream" \
        "[ -f \"$rout\" ] && wc -l <\"$rout\" || echo 0")
    printf '  rsyslog imptcp -> omfile   %9s events/s  (%s s until all written; sending took %s s)\n' \
        "$r_eps" "$r_total" "$r_sent"
    kill -TERM "$RS_PID"
    wait "$RS_PID" || true
    PIDS=()
    rm -f "$rout"
    awk -v t="$t_eps" -v r="$r_eps" \
        'BEGIN { ok = (t / r >= 0.5) ? "met" : "NOT met"
                 printf "  ratio trapline/rsyslog = %.2f (target >= 0.5): %s\n", t / r, ok }'
else
    echo "  rsyslogd not found: no comparison"
fi
awk -v s="$store_bytes" -v r="$raw_bytes" -v n="$EVENTS" 'BEGIN {
    printf "  on disk: %.1f MB for %d events = %.1f bytes/event against %.1f bytes/event of raw ",
        s / 1048576, n, s / n, r / n
    f = (r > s) ? r / s : s / r
    w = (r > s) ? "smaller" : "larger"
    printf "text (%.2fx %s)\n", f, w }'

echo
echo "== 2. searches on the stored events (--from $FROM --to $TO), $RUNS runs each, wall clock"
python3 - "$TRAPLINE" "$DATA" "$work/events.log" "$FROM" "$TO" "$RUNS" "$work/expect.json" <<'PY'
import json, os, re, resource, statistics, subprocess, sys, time
trapline, data, raw, frm, to, runs, expect = sys.argv[1:8]
runs = int(runs)
ex = json.load(open(expect))
env = dict(os.environ, LC_ALL="C")

def timed(cmd):
    """Median and worst wall ms of the whole process, its median CPU ms (user + system), the
    median of the time the search itself reports (--stats), and the last output."""
    wall, cpu, inner, out = [], [], [], ""
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall.append((time.perf_counter() - t0) * 1000.0)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000.0)
        if p.returncode not in (0, 1):
            sys.exit(f"{cmd} failed: {p.stderr}")
        m = re.search(r" in ([0-9.]+) ms", p.stderr)
        if m:
            inner.append(float(m.group(1)))
        out = p.stdout
    return (statistics.median(wall), max(wall), statistics.median(cpu),
            statistics.median(inner) if inner else None, out)

def search(q, limit=100):
    return [trapline, "search", "--data", data, "--from", frm, "--to", to, "--limit", str(limit),
            "--output", "json", "--stats", q]

g_med, g_max, g_cpu, _, g_out = timed(["grep", "-c", "-i", "-w", ex["rare"], raw])
rows = [
    ("rare term: %s" % ex["rare"], search(ex["rare"]), 50, True),
    ("field: user.name:%s" % ex["user"], search("user.name:" + ex["user"]), 50, True),
    ("field: source.ip:%s" % ex["ip"], search("source.ip:" + ex["ip"]), 50, True),
    ("| stats count by source.ip", search("| stats count by source.ip"), 300, False),
    ("| timechart span=1h count", search("| timechart span=1h count"), 300, False),
]
fmt = "  %-36s %8s %8s %8s %9s %10s  %-19s %s"
print(fmt % ("query", "wall p50", "wall max", "CPU p50", "search ms", "answer", "target (wall p50)",
             "met"))
print(fmt % ("grep -c -i -w %s (raw text)" % ex["rare"], "%.1f" % g_med, "%.1f" % g_max,
             "%.1f" % g_cpu, "-", g_out.strip() + " lines", "-", "-"))
for name, cmd, target, vs_grep in rows:
    med, worst, cpu, inner, out = timed(cmd)
    n = len(out.splitlines())
    want = "< %d ms%s" % (target, ", < grep" if vs_grep else "")
    met = med < target and (not vs_grep or med < g_med)
    print(fmt % (name, "%.1f" % med, "%.1f" % worst, "%.1f" % cpu,
                 "-" if inner is None else "%.1f" % inner, "%d rows" % n, want,
                 "yes" if met else "NO"))
print("  wall = the whole `trapline search` process (start-up included), CPU = its user + system")
print("  time, search ms = what the search itself took (--stats); expected: %s in %d events, "
      "user %s in %d (searches print at most 100)" % (ex["rare"], ex["rare_count"], ex["user"],
                                                       ex["user_count"]))
PY

[ "${ONLY:-}" = server ] && exit 0

cmake --build "$BUILD" --target store_bench >/dev/null
bench="$BUILD/bench/store_bench"
echo
echo "== 3. index comparison"
"$bench" index 40960
for level in 1 3 6; do
    echo
    echo "== write through the store's append, batches of 2048, zstd level $level"
    "$bench" write "$work/data-$level" "$WRITE_EVENTS" 2048 "$level" 10 full 2>/dev/null
done
echo
echo "== write, batches of 100 (a quiet server), then compaction"
"$bench" write "$work/data-small" $((WRITE_EVENTS / 4)) 100 3 10 full 2>/dev/null | head -4
echo
echo "== write, synchronous=NORMAL"
"$bench" write "$work/data-normal" "$WRITE_EVENTS" 2048 3 10 normal 2>/dev/null | head -4

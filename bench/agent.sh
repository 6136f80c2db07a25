#!/usr/bin/env bash
# Agent benchmark: how fast `trapline agent` delivers a log file to `trapline server`, against
# rsyslog forwarding the same file (imfile -> omfwd over TCP -> a second rsyslogd writing a file), on
# the same machine, with the same input, both from a cold start.
#
# Generates LINES realistic auth.log lines (sshd, sudo, cron with varying hosts, users, addresses
# and ports; every line carries a unique token tkNNNNNNNN), then:
#
#   trapline  twice, each time a server on a temporary data directory (agent listener on a free
#             loopback port, syslog TCP/TLS off, UDP on a free loopback port it never receives on,
#             web console off, --rules off) and an enrolled agent with --no-default-sources --tail
#             FILE. The clock runs from the agent's start until the server has acknowledged all
#             LINES events: the agent numbers each line once and the server records the highest
#             acknowledged number (agents.last_seq in DATA/agents.db, read every 0.1 s). The agent
#             spools every line to disk (fsync), parses and normalises it to ECS JSON, sends zstd
#             batches over TLS 1.3. First the server writes its store (indexed, compressed,
#             committed) before acknowledging: the central store's rate, which bench/store.sh
#             measures on its own, bounds this one. Then the server is a relay (--store off
#             --output FILE) that acknowledges once its file has the batch, the same work as
#             rsyslog's sink below: the agent's own delivery rate, compared with rsyslog's.
#   rsyslog   a sink (imptcp -> omfile) and a sender (imfile from the file's start, own state
#             directory -> omfwd TCP), both private instances (-n -f CONF -i PIDFILE in the
#             temporary directory; the system rsyslog is not touched). The clock runs from the
#             sender's start until the sink's file has LINES lines: until the last line's token
#             is in the file's tail, then every line is counted (the relay above is timed the
#             same way). rsyslog forwards the raw text:
#             no parsing into fields, no spool on disk, no TLS, no acknowledgement from the sink.
#
# Peak RSS (VmHWM) and CPU seconds (utime + stime) are those of the collecting process (the agent,
# the rsyslog sender), read from /proc just before it is stopped; the agent's network process (its
# child) is shown apart and counted in the summary's CPU; the receiving side's CPU is shown on a
# second line. Afterwards the delivered events are counted (each token once) for all three. Not
# part of `make test`.
#
# usage: bench/agent.sh [LINES]    (default 1000000; TRAPLINE=path of the binary, default
#                                   build/trapline, a Release/RelWithDebInfo build; rsyslogd from
#                                   PATH, or RSYSLOGD=path)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
TRAPLINE=${TRAPLINE:-$root/build/trapline}
LINES=${1:-1000000}
[ -x "$TRAPLINE" ] || { echo "build trapline first (make), or set TRAPLINE"; exit 1; }
command -v python3 >/dev/null || { echo "python3 is needed"; exit 1; }
RSYSLOGD=${RSYSLOGD:-$(command -v rsyslogd || echo /usr/sbin/rsyslogd)}
[ -x "$RSYSLOGD" ] || RSYSLOGD=
# Delivery must keep moving: give up when the count stands still this long.
STALL_S=${STALL_S:-60}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/trl-agentbench.XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stop PID: SIGTERM, then SIGKILL after 10 s.
stop() {
    kill -TERM "$1" 2>/dev/null || return 0
    for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT PID: until something accepts on 127.0.0.1:PORT (PID must stay alive).
wait_port() {
    for _ in $(seq 200); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 0.2)" \
            2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

now() { date +%s.%N; }

LOG="$WORK/auth.log"
echo "generating $LINES lines into $LOG ..."
python3 - "$LOG" "$LINES" <<'PY'
import datetime, random, sys
path, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
hosts = [f"web{i:02d}" for i in range(1, 21)] + ["db01", "db02", "bastion", "ci-runner"]
users = ["alice", "bob", "carol", "deploy", "root", "admin", "jenkins", "backup", "postgres"]
months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

def ip():
    return (f"{rnd.choice([10, 172, 192, 203, 198])}.{rnd.randrange(256)}.{rnd.randrange(256)}."
            f"{rnd.randrange(1, 255)}")

def body(tok):
    """(tag, message) with the line's unique token in a natural place."""
    k = rnd.random()
    u = rnd.choice(users)
    pid = rnd.randrange(300, 65000)
    port = rnd.randrange(1024, 65535)
    if k < 0.25:
        key = tok + "".join(rnd.choice(b64) for _ in range(33))
        return f"sshd[{pid}]", (f"Accepted publickey for {u} from {ip()} port {port} ssh2: "
                                f"ED25519 SHA256:{key}")
    if k < 0.45:
        return f"sshd[{pid}]", f"Failed password for invalid user {tok} from {ip()} port {port} ssh2"
    if k < 0.55:
        return f"sshd[{pid}]", f"Received disconnect from {ip()} port {port}:11: {tok} [preauth]"
    if k < 0.75:
        return "sudo", (f"{u:>8} : TTY=pts/{rnd.randrange(8)} ; PWD=/home/{u} ; USER=root ; "
                        f"COMMAND=/usr/bin/tail -n 50 /var/log/app/{tok}.log")
    return f"CRON[{pid}]", f"({u}) CMD (/usr/local/bin/backup --job {tok} >/dev/null 2>&1)"

# Timestamps as a live file has them: the last hour, in order.
start = datetime.datetime.now() - datetime.timedelta(hours=1)
with open(path, "w") as f:
    for i in range(n):
        t = start + datetime.timedelta(microseconds=i * 3_600_000_000 // max(n, 1))
        tag, msg = body(f"tk{i + 1:08d}")
        f.write(f"{months[t.month - 1]} {t.day:2d} {t:%H:%M:%S} {rnd.choice(hosts)} {tag}: {msg}\n")
PY
echo "  $(du -m "$LOG" | cut -f1) MB; the first lines:"
head -3 "$LOG" | sed 's/^/    /'

# wait_done MODE TARGET PID T0: polls until TARGET holds LINES events, then prints
# "SECONDS EVENTS_PER_S PEAK_RSS_MB CPU_S" for PID. MODE seq: TARGET is agents.db (the highest
# committed sequence number of the one agent); MODE lines: TARGET is a file whose lines are counted.
wait_done() {
    python3 - "$@" "$LINES" "$STALL_S" <<'PY'
import os, sqlite3, sys, time
mode, target, pid, t0, n, stall = sys.argv[1:7]
pid, t0, n, stall = int(pid), float(t0), int(n), float(stall)

def count_seq():
    try:
        db = sqlite3.connect(f"file:{target}?mode=ro", uri=True, timeout=1)
        try:
            row = db.execute("SELECT max(last_seq) FROM agents").fetchone()
        finally:
            db.close()
        return int(row[0] or 0)
    except sqlite3.Error:
        return 0

# In lines mode the clock stops when the last line's token shows in the file's tail (every sender
# and receiver here keeps the file's order); the lines are then counted, and should any be missing
# the wait goes on. Watching the tail costs the same whatever the receiver writes, where reading
# every byte as it came cost more for the one that writes more (JSON against plain lines), on the
# cores being measured.
# Until then it returns the file's size as a negative number, which still shows progress.
last_token = f"tk{n:08d}".encode()
def count_lines():
    try:
        with open(target, "rb", buffering=0) as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, size - 65536))
            if last_token not in f.read(65536):
                return -size
            f.seek(0)
            lines, buf = 0, bytearray(4 << 20)
            while got := f.readinto(buf):
                lines += buf.count(b"\n", 0, got)
            return lines
    except FileNotFoundError:
        return 0

count = count_seq if mode == "seq" else count_lines
last, last_change = -1, time.monotonic()
while True:
    c = count()
    if c >= n:
        break
    if c != last:
        last, last_change = c, time.monotonic()
    elif time.monotonic() - last_change > stall:
        print(f"STALLED at {c} of {n}" if c >= 0 else f"STALLED at {-c} bytes", file=sys.stderr)
        sys.exit(1)
    if not os.path.exists(f"/proc/{pid}"):
        print(f"the process {pid} exited at {max(c, 0)} of {n}", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.1)
elapsed = time.time() - t0
if c > n:
    print(f"WARNING: {c} events for {n} lines", file=sys.stderr)
hwm = 0
with open(f"/proc/{pid}/status") as f:
    for line in f:
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
with open(f"/proc/{pid}/stat") as f:
    fields = f.read().rsplit(")", 1)[1].split()
cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
print(f"{elapsed:.2f} {n / elapsed:.0f} {hwm / 1024:.1f} {cpu:.2f}")
PY
}

# cpu_s PID: utime + stime of a running process, in seconds.
cpu_s() {
    python3 -c '
import os, sys
f = open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")", 1)[1].split()
tck = os.sysconf("SC_CLK_TCK")
print(f"{(int(f[11]) + int(f[12])) / tck:.2f}")' "$1"
}

# ---- Trapline
# count_tokens: reads event text on stdin; prints how many of the LINES tokens were delivered, and
# how many are missing or came more than once.
count_tokens() {
    python3 -c '
import re, sys
seen = {}
for line in sys.stdin:
    m = re.search(r"tk\d{8}", line)
    if m:
        seen[m.group()] = seen.get(m.group(), 0) + 1
n = int(sys.argv[1])
stored = sum(seen.values())
missing = sum(1 for i in range(1, n + 1) if f"tk{i:08d}" not in seen)
dup = sum(1 for c in seen.values() if c > 1)
print(f"stored={stored} distinct={len(seen)} missing={missing} duplicated={dup}")' "$LINES"
}

# child_cpu_s PID: CPU seconds of PID's children (the agent's network process).
child_cpu_s() {
    python3 -c '
import os, sys
tck, total = os.sysconf("SC_CLK_TCK"), 0
for d in os.listdir("/proc"):
    if not d.isdigit():
        continue
    try:
        f = open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    if f[1] == sys.argv[1]:
        total += int(f[11]) + int(f[12])
print(f"{total / tck:.2f}")' "$1"
}

# run_trapline MODE: MODE store: the server keeps every event in its store (indexed, compressed,
# committed) before acknowledging; MODE relay: the server is a relay (--store off) that writes
# every event as a JSON line to a file and acknowledges once the file has it, as rsyslog's sink
# does below. Sets t_s t_eps t_rss t_cpu t_net_cpu t_srv_cpu t_check.
run_trapline() {
    local mode=$1 extra=() data="$WORK/trl-data-$1" state="$WORK/trl-state-$1"
    local out="$WORK/relay-$1.jsonl"
    [ "$mode" = relay ] && extra=(--store off --output "$out")
    aport=$(free_port)
    "$TRAPLINE" server --data "$data" --syslog-udp 127.0.0.1:0 --syslog-tcp off --syslog-tls off \
        --http "" --agents "127.0.0.1:$aport" --rules off --stats-interval 0 --log-level warn \
        "${extra[@]}" >"$WORK/server-$mode.out" 2>"$WORK/server-$mode.log" &
    spid=$!
    PIDS+=("$spid")
    wait_port "$aport" "$spid" ||
        { echo "the server did not start:"; cat "$WORK/server-$mode.log"; exit 1; }
    token=$("$TRAPLINE" token --data "$data" --server "127.0.0.1:$aport" 2>/dev/null | tail -1)
    "$TRAPLINE" agent enroll --token "$token" --state "$state" >/dev/null 2>&1
    t0=$(now)
    "$TRAPLINE" agent --state "$state" --server "127.0.0.1:$aport" --no-default-sources \
        --tail "$LOG" --log-level warn >/dev/null 2>"$WORK/agent-$mode.log" &
    apid=$!
    PIDS+=("$apid")
    if ! read -r t_s t_eps t_rss t_cpu < <(wait_done seq "$data/agents.db" "$apid" "$t0"); then
        echo "trapline delivery failed; agent log:"; tail -n 20 "$WORK/agent-$mode.log"
        echo "server log:"; tail -n 20 "$WORK/server-$mode.log"; exit 1
    fi
    t_net_cpu=$(child_cpu_s "$apid")
    t_srv_cpu=$(cpu_s "$spid")
    stop "$apid"
    printf '  %s events in %s s: %s events/s; agent peak RSS %s MB, CPU %s s (+ network process %s s); server CPU %s s\n' \
        "$LINES" "$t_s" "$t_eps" "$t_rss" "$t_cpu" "$t_net_cpu" "$t_srv_cpu"
    awk -v n="$LINES" -v a="$t_cpu" -v c="$t_net_cpu" -v s="$t_srv_cpu" 'BEGIN {
        printf "  CPU per event: agent %.1f us (+ %.1f us network process), server %.1f us\n",
            a * 1e6 / n, c * 1e6 / n, s * 1e6 / n }'
    # Each token delivered exactly once? (Outside the timing; the server is still running.)
    if [ "$mode" = store ]; then
        t_check=$("$TRAPLINE" search --data "$data" --from 2000-01-01 --to now --limit 0 \
            --output json '| fields event.original' 2>/dev/null | count_tokens)
    else
        t_check=$(count_tokens <"$out")
    fi
    echo "  check: $t_check"
    stop "$spid"
}

echo
echo "== trapline: agent --tail -> server (TLS 1.3, acks; --rules off), the server storing"
run_trapline store
s_s=$t_s s_eps=$t_eps s_rss=$t_rss s_cpu=$t_cpu s_net=$t_net_cpu
echo
echo "== trapline: agent --tail -> server as a relay (--store off --output FILE), as rsyslog's sink"
run_trapline relay

# ---- rsyslog
if [ -z "$RSYSLOGD" ]; then
    echo "rsyslogd not found: no comparison"
    exit 0
fi
echo
rsver=$("$RSYSLOGD" -v | head -1 | awk '{print $2}')
echo "== rsyslog $rsver: imfile -> omfwd TCP -> imptcp -> omfile"
SINK="$WORK/rsyslog-sink.log"
rport=$(free_port)
mkdir -p "$WORK/rs-sink" "$WORK/rs-send"
cat >"$WORK/rs-sink.conf" <<CONF
global(workDirectory="$WORK/rs-sink")
module(load="imptcp")
input(type="imptcp" address="127.0.0.1" port="$rport" ruleset="sink")
ruleset(name="sink") {
    action(type="omfile" file="$SINK" template="RSYSLOG_TraditionalFileFormat")
}
CONF
cat >"$WORK/rs-send.conf" <<CONF
global(workDirectory="$WORK/rs-send")
module(load="imfile" mode="inotify")
input(type="imfile" file="$LOG" tag="auth" freshStartTail="off" ruleset="send")
ruleset(name="send") {
    action(type="omfwd" target="127.0.0.1" port="$rport" protocol="tcp")
}
CONF
"$RSYSLOGD" -n -f "$WORK/rs-sink.conf" -i "$WORK/rs-sink.pid" >"$WORK/rs-sink.out" 2>&1 &
kpid=$!
PIDS+=("$kpid")
if ! wait_port "$rport" "$kpid"; then
    echo "the rsyslog sink did not start:"; cat "$WORK/rs-sink.out"; exit 1
fi
t0=$(now)
"$RSYSLOGD" -n -f "$WORK/rs-send.conf" -i "$WORK/rs-send.pid" >"$WORK/rs-send.out" 2>&1 &
rpid=$!
PIDS+=("$rpid")
if ! read -r r_s r_eps r_rss r_cpu < <(wait_done lines "$SINK" "$rpid" "$t0"); then
    echo "rsyslog delivery failed:"; tail -n 20 "$WORK/rs-send.out" "$WORK/rs-sink.out"; exit 1
fi
r_sink_cpu=$(cpu_s "$kpid")
stop "$rpid"
printf '  %s events in %s s: %s events/s; sender peak RSS %s MB, CPU %s s; sink CPU %s s\n' \
    "$LINES" "$r_s" "$r_eps" "$r_rss" "$r_cpu" "$r_sink_cpu"
awk -v n="$LINES" -v a="$r_cpu" -v s="$r_sink_cpu" \
    'BEGIN { printf "  CPU per event: sender %.1f us, sink %.1f us\n", a * 1e6 / n, s * 1e6 / n }'
sleep 0.5
r_check=$(count_tokens <"$SINK")
echo "  check: $r_check"
stop "$kpid"

# ---- Summary
echo
printf '%-26s %12s %12s %12s %14s\n' "$LINES lines" "trl, store" "trl, relay" rsyslog "relay/rsyslog"
awk -v se="$s_eps" -v te="$t_eps" -v re="$r_eps" -v sr="$s_rss" -v tr="$t_rss" -v rr="$r_rss" \
    -v sc="$s_cpu" -v sn="$s_net" -v tc="$t_cpu" -v tn="$t_net_cpu" -v rc="$r_cpu" \
    -v ss="$s_s" -v ts="$t_s" -v rs="$r_s" 'BEGIN {
    printf "%-26s %12d %12d %12d %14.2f\n", "events/s", se, te, re, te / re
    printf "%-26s %12.2f %12.2f %12.2f %14.2f\n", "seconds to deliver", ss, ts, rs, ts / rs
    printf "%-26s %12.1f %12.1f %12.1f %14.2f\n", "peak RSS MB (collector)", sr, tr, rr, tr / rr
    printf "%-26s %12.2f %12.2f %12.2f %14.2f\n", "CPU s (collector, all)", sc + sn, tc + tn, rc,
        (rc > 0 ? (tc + tn) / rc : 0)
}'
echo "(trl = trapline; ratio = trapline relay / rsyslog; for events/s higher is better, for the others lower)"

#!/usr/bin/env bash
# Ingest benchmark: events per second that `trapline server` takes over TCP, against rsyslog on the
# same machine and the same input.
#
# Generates 1,000,000 RFC 3164 and 1,000,000 RFC 5424 lines (sshd, sudo, PAM, kernel firewall, cron,
# systemd, with varying users, addresses and ports), sends each file over one TCP connection, and
# times from the first byte sent until every event is in the output file. Trapline parses,
# normalises and writes ECS JSON lines; rsyslog (a private test instance: imptcp -> omfile with its
# traditional file template) parses and writes plain lines. Trapline runs twice per format (and everything ROUNDS times, see below):
#   relay   --store off: parse + normalise + hand-off to the output file, what rsyslog does; the
#           ratio against rsyslog is computed on this run;
#   store   the default server: the same, plus every event committed to the event store (see
#           bench/store.sh for the store's own figures).
# Each run also prints the CPU time its threads used, by name: for trapline, trapline (the event
# loop receiving), trl-parse, trl-stage (detection) and trl-sink (the output file or the store); for
# rsyslog, its input and main-queue worker threads.
# Not part of `make test`.
#
# usage: bench/ingest.sh [LINES]   (TRAPLINE=path of the binary, default build/trapline;
#                                   a Release/RelWithDebInfo build, not a sanitizer one;
#                                   ROUNDS=3: rounds of every run, compared by their medians)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
TRAPLINE=${TRAPLINE:-$root/build/trapline}
LINES=${1:-1000000}
ROUNDS=${ROUNDS:-3}
[ -x "$TRAPLINE" ] || { echo "build trapline first (make), or set TRAPLINE"; exit 1; }
command -v python3 >/dev/null || { echo "python3 is needed"; exit 1; }
RSYSLOGD=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
[ -x "$RSYSLOGD" ] || RSYSLOGD=

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "generating $LINES RFC 3164 and $LINES RFC 5424 lines ..."
python3 - "$WORK" "$LINES" <<'PY'
import random, sys
work, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
hosts = [f"web{i:02d}" for i in range(1, 21)] + ["db01", "db02", "bastion", "fw-edge", "ci-runner"]
users = ["alice", "bob", "carol", "deploy", "root", "admin", "jenkins", "backup", "postgres", "www-data"]
months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
cmds = ["/usr/bin/apt update", "/usr/bin/systemctl restart nginx", "/bin/cat /etc/shadow",
        "/usr/bin/journalctl -u ssh", "/usr/sbin/useradd -m tmpuser", "/usr/bin/docker ps"]

def ip():
    return f"{rnd.choice([10, 172, 192, 203, 198])}.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"

def body():
    """(facility, severity, app, pid, message)"""
    k = rnd.random()
    u = rnd.choice(users)
    pid = rnd.randrange(300, 65000)
    if k < 0.25:
        return 10, 6, "sshd", pid, f"Accepted publickey for {u} from {ip()} port {rnd.randrange(1024, 65535)} ssh2: ED25519 SHA256:{rnd.getrandbits(128):032x}"
    if k < 0.45:
        return 10, 6, "sshd", pid, f"Failed password for invalid user {u}{rnd.randrange(100)} from {ip()} port {rnd.randrange(1024, 65535)} ssh2"
    if k < 0.55:
        return 10, 6, "sshd", pid, f"pam_unix(sshd:session): session opened for user {u}(uid={rnd.randrange(1000, 2000)}) by (uid=0)"
    if k < 0.65:
        return 10, 5, "sudo", None, f"  {u} : TTY=pts/{rnd.randrange(8)} ; PWD=/home/{u} ; USER=root ; COMMAND={rnd.choice(cmds)}"
    if k < 0.80:
        return 0, 4, "kernel", None, (f"[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC={ip()} DST=10.0.0.5 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID={rnd.randrange(65535)} DF PROTO=TCP SPT={rnd.randrange(1024, 65535)} DPT={rnd.choice([22, 23, 3389, 445, 8080])} WINDOW=64240 RES=0x00 SYN URGP=0")
    if k < 0.90:
        return 9, 6, "CRON", pid, f"({rnd.choice(users)}) CMD (run-parts /etc/cron.hourly)"
    return 3, 6, "systemd", 1, f"Started Session {rnd.randrange(1, 99999)} of User {u}."

# Timestamps as a live feed has them: the last hour, in order (a store keeps one partition per day).
import datetime
END_MARK = "trapline-bench-end-of-stream"
start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
def stamp(i):
    return start + datetime.timedelta(microseconds=i * 3_600_000_000 // max(n, 1))
with open(f"{work}/rfc3164.log", "w") as f:
    for i in range(n):
        fac, sev, app, pid, msg = body()
        if i == n - 1:
            msg += " " + END_MARK
        tag = f"{app}[{pid}]" if pid else app
        t = stamp(i)
        f.write(f"<{fac * 8 + sev}>{months[t.month - 1]} {t.day:2d} {t:%H:%M:%S} {rnd.choice(hosts)} {tag}: {msg}\n")
with open(f"{work}/rfc5424.log", "w") as f:
    for i in range(n):
        fac, sev, app, pid, msg = body()
        if i == n - 1:
            msg += " " + END_MARK
        sd = "-" if rnd.random() < 0.6 else f'[origin@32473 ip="{ip()}" software="bench"][meta seq="{i}"]'
        f.write(f"<{fac * 8 + sev}>1 {stamp(i):%Y-%m-%dT%H:%M:%S.%f}Z {rnd.choice(hosts)} {app} {pid or '-'} - {sd} {msg}\n")
PY

# send_and_count PORT INPUT OUTPUT LINES: prints events/s.
# Both receivers keep the order of one connection, so the input's last line, which carries an end
# marker, is the last line each writes. The clock stops when the marker shows in the tail of the
# output: watching only the tail costs the same for both receivers, where reading every output byte
# as it came cost more for the one that writes more (Trapline's JSON is about three times
# rsyslog's text), on the two cores the receivers run on. All lines are then counted, off the clock;
# should any be missing when the marker shows, the clock runs on until they are all there.
send_and_count() {
    python3 - "$@" <<'PY'
import os, socket, sys, time
port, src, out, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
END_MARK = b"trapline-bench-end-of-stream"
data = open(src, "rb").read()
t0 = time.monotonic()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(data)
s.shutdown(socket.SHUT_WR)
sent = time.monotonic() - t0


def marker_in_tail():
    try:
        with open(out, "rb", buffering=0) as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, size - 65536))
            return END_MARK in f.read(65536)
    except FileNotFoundError:
        return False


def count_lines():
    buf, count = bytearray(4 << 20), 0
    with open(out, "rb", buffering=0) as f:
        while got := f.readinto(buf):
            count += buf.count(b"\n", 0, got)
    return count


last_size, last_change = -1, time.monotonic()
while not marker_in_tail():
    size = os.stat(out).st_size if os.path.exists(out) else 0
    if size != last_size:
        last_size, last_change = size, time.monotonic()
    elif time.monotonic() - last_change > 30:
        sys.exit(f"stalled at {size} bytes of output")
    time.sleep(0.01)
total = time.monotonic() - t0
count = count_lines()
while count < n:
    if time.monotonic() - t0 - total > 30:
        sys.exit(f"stalled at {count} of {n} lines")
    time.sleep(0.05)
    count = count_lines()
    total = time.monotonic() - t0
s.close()
if count != n:
    sys.exit(f"{count} lines written for {n} sent")
print(f"{n / total:.0f} {total:.2f} {sent:.2f}")
PY
}

# thread_cpu PID LINES: the CPU time (user + system) of each thread of process PID so far, summed
# by thread name, and the whole per event, e.g. "trapline=0.21s trl-parse=0.93s ... = 2.05 us/event".
thread_cpu() {
    local pid=$1 lines=$2 t
    for t in /proc/"$pid"/task/*; do
        # utime and stime are the 14th and 15th fields of stat, the 12th and 13th after the name.
        printf '%s\t%s\n' "$(cat "$t/comm" 2>/dev/null)" \
            "$(sed 's/.*) //' "$t/stat" 2>/dev/null | cut -d' ' -f12,13)"
    done | awk -F'\t' -v tck="$(getconf CLK_TCK)" -v n="$lines" '
        $2 != "" { split($2, f, " "); c = (f[1] + f[2]) / tck; cpu[$1] += c; all += c }
        END { for (k in cpu) printf "%s=%.2fs ", k, cpu[k]; printf "= %.2f us/event", all * 1e6 / n }'
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run_trapline MODE FMT: one trapline run; appends its events/s to RESULT[trapline-MODE-FMT].
run_trapline() {
    local mode=$1 fmt=$2 out="$WORK/trapline-$2.jsonl" store=on pid port eps total sent
    rm -rf "$WORK/data"
    [ "$mode" = relay ] && store=off
    "$TRAPLINE" server --syslog-tcp 127.0.0.1:0 --output "$out" --data "$WORK/data" \
        --store "$store" --rules off --http "" --agents "" --stats-interval 0 \
        --log-level warn >"$WORK/trapline.stdout" 2>"$WORK/trapline-$fmt.log" &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 100); do grep -q listening "$WORK/trapline.stdout" && break; sleep 0.1; done
    port=$(grep -o 'tcp=127.0.0.1:[0-9]*' "$WORK/trapline.stdout" | head -1 | sed 's/.*://')
    read -r eps total sent < <(send_and_count "$port" "$WORK/$fmt.log" "$out" "$LINES")
    RESULT[trapline-$mode-$fmt]+=" $eps"
    printf 'trapline %-5s %-8s %9s events/s  (%s s; sending took %s s)\n' "$mode" "$fmt" \
        "$eps" "$total" "$sent"
    printf '         cpu by thread: %s\n' "$(thread_cpu "$pid" "$LINES")"
    kill -TERM "$pid"
    wait "$pid" || true
    rm -f "$out"
}

# run_rsyslog FMT: one rsyslog run; appends its events/s to RESULT[rsyslog-FMT].
run_rsyslog() {
    local fmt=$1 out="$WORK/rsyslog-$1.log" port pid eps total sent
    port=$(free_port)
    rm -rf "$WORK/rs-$fmt"
    mkdir -p "$WORK/rs-$fmt"
    cat >"$WORK/rsyslog-$fmt.conf" <<CONF
global(workDirectory="$WORK/rs-$fmt")
module(load="imptcp")
input(type="imptcp" address="127.0.0.1" port="$port" ruleset="bench")
ruleset(name="bench") {
    action(type="omfile" file="$out" template="RSYSLOG_TraditionalFileFormat")
}
CONF
    "$RSYSLOGD" -n -f "$WORK/rsyslog-$fmt.conf" -i "$WORK/rsyslog-$fmt.pid" \
        >"$WORK/rsyslog-$fmt.stdout" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 100); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" \
            2>/dev/null && break
        sleep 0.1
    done
    read -r eps total sent < <(send_and_count "$port" "$WORK/$fmt.log" "$out" "$LINES")
    RESULT[rsyslog-$fmt]+=" $eps"
    printf 'rsyslog        %-8s %9s events/s  (%s s; sending took %s s)\n' "$fmt" "$eps" "$total" \
        "$sent"
    printf '         cpu by thread: %s\n' "$(thread_cpu "$pid" "$LINES")"
    kill -TERM "$pid"
    wait "$pid" || true
    rm -f "$out"
}

# median VALUES...: the middle value (the lower middle of an even count).
median() {
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# Each round runs every trapline configuration and rsyslog on each format next to each other, so
# that a ratio compares runs made under the same load; the medians over ROUNDS are compared.
declare -A RESULT
for round in $(seq "$ROUNDS"); do
    [ "$ROUNDS" -gt 1 ] && echo "-- round $round of $ROUNDS"
    for fmt in rfc3164 rfc5424; do
        run_trapline relay "$fmt"
        [ -n "$RSYSLOGD" ] && run_rsyslog "$fmt"
        run_trapline store "$fmt"
    done
done

if [ -n "$RSYSLOGD" ]; then
    echo "-- medians of $ROUNDS round(s)"
    for mode in relay store; do
        for fmt in rfc3164 rfc5424; do
            # shellcheck disable=SC2086
            t=$(median ${RESULT[trapline-$mode-$fmt]})
            # shellcheck disable=SC2086
            r=$(median ${RESULT[rsyslog-$fmt]})
            awk -v t="$t" -v r="$r" -v f="$fmt" -v m="$mode" \
                'BEGIN { printf "ratio    %-5s %-8s trapline/rsyslog = %.2f  (%d / %d events/s)\n", m, f, t / r, t, r }'
        done
    done
else
    echo "rsyslogd not found: no comparison"
fi

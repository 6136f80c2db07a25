#!/usr/bin/env bash
# Footprint of `trapline agent` on this machine (docs/agent.md, "Footprint"):
#   1. a server on a temporary data directory and an agent enrolled with it, started with its
#      default sources (system logs, file integrity of /etc and the binary directories, processes,
#      network connections, logins, audit when root) plus one tailed file;
#   2. once the agent has settled (connected, file integrity baselines built, less than 1% of a
#      core used over 5 s), its resident memory: VmRSS of the agent and of its network process,
#      and their PSS (shared pages split between them, so the two add up);
#   3. then 1,000 lines a second appended to the tailed file for DURATION seconds (default 60):
#      CPU time of the agent and of the network process as a percentage of one core, and the
#      events the server committed meanwhile.
# Targets: RSS < 10 MB settled, CPU < 2% of a core at 1,000 events/s.
#
# Usage: bench/agent_idle.sh [DURATION]     (TRAPLINE=path/to/trapline; default build/trapline)
# SMAPS=DIR keeps /proc/PID/smaps of both processes once settled (agent.smaps, net.smaps) and
# prints their resident memory by mapping (bench/smaps_summary.py). AGENT_ARGS adds arguments to
# the agent's command line (e.g. --no-default-sources, which makes the figures independent of what
# else runs on the machine). AFTER=SECONDS also prints the RSS that long after the load stopped
# (the agent gives memory back every 20 s).
# Run as root for the default sources to be complete. Loopback only; cleans up on exit.
set -euo pipefail

DURATION=${1:-60}
RATE=1000
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TRAPLINE=${TRAPLINE:-$ROOT/build/trapline}
[ -x "$TRAPLINE" ] || { echo "no binary at $TRAPLINE (set TRAPLINE)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "needs python3" >&2; exit 2; }
[ "$(id -u)" = 0 ] || echo "note: not root: process, audit and some file sources will be off" >&2

WORK=$(mktemp -d /tmp/trl-agent-idle.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/data"
"$TRAPLINE" server --data "$WORK/data" --syslog-udp 127.0.0.1:0 --syslog-tcp off \
    --syslog-tls off --http "" --rules off --agents "127.0.0.1:$PORT" \
    >/dev/null 2>"$WORK/server.log" &
PIDS+=("$!")
for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null &&
        break
    sleep 0.1
done
TOKEN=$("$TRAPLINE" token --data "$WORK/data" --server "127.0.0.1:$PORT" 2>/dev/null)
"$TRAPLINE" agent enroll --token "$TOKEN" --state "$WORK/state" >/dev/null 2>"$WORK/enroll.log"

BENCHLOG=$WORK/bench.log
: >"$BENCHLOG"
# shellcheck disable=SC2086 # AGENT_ARGS is a list of arguments
"$TRAPLINE" agent --state "$WORK/state" --tail "$BENCHLOG" --heartbeat 30s ${AGENT_ARGS:-} \
    >/dev/null 2>"$WORK/agent.log" &
AGENT=$!
PIDS+=("$AGENT")

net_pid() {
    local p
    for p in $(cat /proc/"$AGENT"/task/*/children 2>/dev/null); do
        [ "$(cat /proc/"$p"/comm 2>/dev/null)" = trapline-net ] && { echo "$p"; return; }
    done
    echo ""
}
# utime + stime in clock ticks.
ticks() { awk '{ print $14 + $15 }' /proc/"$1"/stat 2>/dev/null || echo 0; }
kb() { awk -v k="$1:" '$1 == k { print $2 }' "$2" 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)

# Settle: connected, every baseline built and the memory of the scan given back (the agent trims
# every 20 s: 25 s after the baselines), then under 1% of a core over 5 s (at most 10 min).
echo "waiting for the agent to settle (file integrity baselines of /etc and the binaries)..." >&2
START=$(date +%s)
BASELINED=""
baselines_done() {
    grep -q "sources: .*file integrity" "$WORK/agent.log" || return 0
    grep -q "fim: baseline built" "$WORK/agent.log" || return 1
    [ -n "$BASELINED" ] || BASELINED=$(date +%s)
    [ $(($(date +%s) - BASELINED)) -ge 25 ]
}
while :; do
    kill -0 "$AGENT" 2>/dev/null || { echo "the agent exited:" >&2; tail "$WORK/agent.log" >&2; exit 1; }
    if grep -q "connected to" "$WORK/agent.log" && baselines_done; then
        t0=$(ticks "$AGENT")
        sleep 5
        t1=$(ticks "$AGENT")
        [ $(((t1 - t0) * 100 / HZ)) -lt 5 ] && break # < 1% of 5 s
    else
        sleep 1
    fi
    [ $(($(date +%s) - START)) -lt 600 ] || { echo "did not settle in 10 minutes" >&2; break; }
done
SETTLE=$(($(date +%s) - START))
NET=$(net_pid)
RSS_AGENT=$(kb VmRSS /proc/"$AGENT"/status)
RSS_NET=$(kb VmRSS /proc/"$NET"/status)
PSS_AGENT=$(kb Pss /proc/"$AGENT"/smaps_rollup)
PSS_NET=$(kb Pss /proc/"$NET"/smaps_rollup)
SOURCES=$(grep -o 'agent: sources: .*' "$WORK/agent.log" | tail -1)
if [ -n "${SMAPS:-}" ]; then
    mkdir -p "$SMAPS"
    cat /proc/"$AGENT"/smaps >"$SMAPS/agent.smaps"
    cat /proc/"$NET"/smaps >"$SMAPS/net.smaps"
    python3 "$ROOT/bench/smaps_summary.py" "$SMAPS/agent.smaps" "$SMAPS/net.smaps" >&2
fi

# Load: RATE lines a second for DURATION seconds, in ten bursts a second.
echo "appending $RATE lines/s to $BENCHLOG for ${DURATION}s..." >&2
A0=$(ticks "$AGENT")
N0=$(ticks "$NET")
python3 - "$BENCHLOG" "$RATE" "$DURATION" <<'PY'
import sys, time
path, rate, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
per = rate // 10
start = time.monotonic()
n = 0
with open(path, "a") as f:
    for tick in range(secs * 10):
        for _ in range(per):
            f.write(f"Nov 27 19:28:46 web08 sshd[{14000 + n % 900}]: Failed password for invalid "
                    f"user u{n % 37} from 198.51.100.{n % 250} port {30000 + n % 30000} ssh2 "
                    f"tk{n:08d}\n")
            n += 1
        f.flush()
        delay = start + (tick + 1) / 10 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
PY
A1=$(ticks "$AGENT")
N1=$(ticks "$NET")
sleep 2
COMMITTED=$(python3 - "$WORK/data/agents.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=5)
print(db.execute("SELECT COALESCE(MAX(last_seq), 0) FROM agents").fetchone()[0])
PY
)
HWM_AGENT=$(kb VmHWM /proc/"$AGENT"/status)
RSS_AGENT_LOAD=$(kb VmRSS /proc/"$AGENT"/status)
AFTER_LINE=""
if [ "${AFTER:-0}" -gt 0 ]; then
    sleep "$AFTER"
    AFTER_LINE="    RSS ${AFTER}s after:     agent $(awk -v k="$(kb VmRSS /proc/"$AGENT"/status)" \
        'BEGIN { printf "%.1f", k / 1024 }') MB, network process $(awk \
        -v k="$(kb VmRSS /proc/"$NET"/status)" 'BEGIN { printf "%.1f", k / 1024 }') MB"
fi

pct() { awk -v t="$1" -v hz="$HZ" -v s="$DURATION" 'BEGIN { printf "%.2f", t / hz / s * 100 }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
CPU_AGENT=$(pct $((A1 - A0)))
CPU_NET=$(pct $((N1 - N0)))
TOTAL_PSS=$((PSS_AGENT + PSS_NET))
cat <<EOF
trapline agent footprint ($(uname -r), $(nproc) cores, $("$TRAPLINE" --version 2>/dev/null | head -1))
  $SOURCES
  settled after ${SETTLE}s
  RSS settled:        agent $(mb "$RSS_AGENT") MB, network process $(mb "$RSS_NET") MB
  PSS settled:        agent $(mb "$PSS_AGENT") MB + network process $(mb "$PSS_NET") MB = $(mb "$TOTAL_PSS") MB   (target < 10 MB)
  under $RATE lines/s for ${DURATION}s:
    CPU:              agent ${CPU_AGENT}% + network process ${CPU_NET}% of one core   (target < 2%)
    RSS:              agent $(mb "$RSS_AGENT_LOAD") MB (peak $(mb "$HWM_AGENT") MB)
    committed by the server: $COMMITTED events (lines written: $((RATE * DURATION)), plus host events)
EOF
[ -z "$AFTER_LINE" ] || echo "$AFTER_LINE"

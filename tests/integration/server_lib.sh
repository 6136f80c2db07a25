# Helpers for the `trapline server` integration tests (sourced, not run).
#
# trl_start_server ARGS...   starts $TRAPLINE server with ARGS in the background (log in $TRL_LOG),
#                            waits until it listens, and sets TRL_PID, TRL_UDP_PORT, TRL_TCP_PORT,
#                            TRL_TLS_PORT from its "listening" log lines (use port 0 to get free ones).
# trl_wait_lines FILE N [SECONDS]  waits until FILE has at least N lines.
# trl_stop_server            SIGTERM, waits, fails unless the server exits 0.
# trl_free_port              prints a TCP/UDP port that was free a moment ago (for other daemons).
# Every test sets WORK (a temporary directory) first and calls trl_cleanup from its EXIT trap.

trl_skip() {
    echo "SKIP: $*"
    exit 77
}

trl_fail() {
    echo "FAIL: $*"
    if [ -n "${TRL_LOG:-}" ] && [ -f "$TRL_LOG" ]; then
        echo "---- server log (last 40 lines) ----"
        tail -n 40 "$TRL_LOG"
    fi
    exit 1
}

trl_require() {
    [ -n "${TRAPLINE:-}" ] && [ -x "$TRAPLINE" ] || trl_skip "TRAPLINE is not set to the built binary"
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || trl_skip "$tool is not installed"
    done
}

TRL_PIDS=()

trl_cleanup() {
    local pid
    for pid in "${TRL_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${TRL_PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then
        rm -rf "$WORK"
    fi
}

trl_start_server() {
    TRL_LOG="$WORK/server.log"
    # The console and agent listeners have fixed default ports that parallel tests would share:
    # off unless the test names them.
    "$TRAPLINE" server --http "" --agents "" "$@" >"$WORK/server.stdout" 2>"$TRL_LOG" &
    TRL_PID=$!
    TRL_PIDS+=("$TRL_PID")
    local i
    for i in $(seq 100); do
        if grep -q 'listening' "$WORK/server.stdout" 2>/dev/null; then
            break
        fi
        kill -0 "$TRL_PID" 2>/dev/null || trl_fail "server exited at start"
        sleep 0.1
    done
    grep -q 'listening' "$WORK/server.stdout" || trl_fail "server did not report listening"
    TRL_UDP_PORT=$(grep -o 'listening udp=[^ ]*' "$TRL_LOG" | head -1 | sed 's/.*://' || true)
    TRL_TCP_PORT=$(grep -o 'listening tcp=[^ ]*' "$TRL_LOG" | head -1 | sed 's/.*://' || true)
    TRL_TLS_PORT=$(grep -o 'listening tls=[^ ]*' "$TRL_LOG" | head -1 | sed 's/.*://' || true)
}

trl_wait_lines() {
    local file=$1 want=$2 secs=${3:-20} i
    for i in $(seq $((secs * 10))); do
        if [ -f "$file" ] && [ "$(wc -l <"$file")" -ge "$want" ]; then
            return 0
        fi
        sleep 0.1
    done
    trl_fail "expected $want lines in $file, got $(wc -l <"$file" 2>/dev/null || echo 0)"
}

trl_stop_server() {
    kill -TERM "$TRL_PID"
    local rc=0
    wait "$TRL_PID" || rc=$?
    [ "$rc" -eq 0 ] || trl_fail "server exited with status $rc after SIGTERM"
}

trl_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

#!/bin/sh
# Active response end to end, inside a network namespace created for the test (the host's own
# firewall is never touched): `trapline server` runs in the namespace with response.rules asking
# to block the source of the SSH brute-force alert; six failed passwords from 203.0.113.45 must put
# that address into the nftables set inet trapline blocked4 with a timeout, and write an
# ip-blocked event; the same from an allowlisted address must block nothing.
# Needs root, nft and `ip netns`; skips (77) otherwise.
set -u

TRAPLINE=${TRAPLINE:-build/trapline}
SRC=${TRL_SRC:-$(dirname "$0")/../..}
BRUTE=b8246bfe-b48e-4091-88f0-cc1293d1a285

skip() {
    echo "SKIP: $1"
    exit 77
}

[ "$(id -u)" = 0 ] || skip "needs root to create a network namespace and nftables rules"
command -v nft >/dev/null 2>&1 || skip "nft is not installed (Debian package nftables)"
command -v ip >/dev/null 2>&1 || skip "ip (iproute2) is not installed"
command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"
command -v nsenter >/dev/null 2>&1 || skip "nsenter (util-linux) is not installed"

NS=trl-response-$$
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace here"
WORK=$(mktemp -d)
SERVER=

cleanup() {
    if [ -n "$SERVER" ]; then
        kill "$SERVER" 2>/dev/null
        wait "$SERVER" 2>/dev/null
    fi
    ip netns del "$NS" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

in_ns() {
    ip netns exec "$NS" "$@"
}

in_ns ip link set lo up || skip "cannot bring up loopback in the namespace"
in_ns nft list ruleset >/dev/null 2>&1 || skip "nftables is not usable in a network namespace"

fail=0
check() {
    if eval "$1"; then
        echo "ok: $2"
    else
        echo "FAIL: $2"
        fail=1
    fi
}

cat >"$WORK/trapline.yml" <<EOF
response:
  rules:
    - "$BRUTE:block-ip:10m"
  allowlist: [198.51.100.0/24]
EOF

# The web console and agent listeners, where this build has them, are not needed.
SIDE=
for flag in http agents; do
    "$TRAPLINE" server --help | grep -q "^  --$flag " && SIDE="$SIDE --$flag="
done

# nsenter execs the server itself (ip netns exec forks), so that $! is the server's pid.
nsenter --net="/var/run/netns/$NS" "$TRAPLINE" server --config "$WORK/trapline.yml" --data "$WORK/data" \
    --syslog-tcp 127.0.0.1:0 --rules "$SRC/rules" --output "$WORK/events.jsonl" \
    --stats-interval 0 $SIDE >"$WORK/out" 2>"$WORK/log" &
SERVER=$!

i=0
while ! grep -q listening "$WORK/out" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$SERVER" 2>/dev/null; then
        echo "FAIL: server did not start"
        cat "$WORK/log"
        exit 1
    fi
    sleep 0.1
done
PORT=$(sed -n 's/.*tcp=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/out")

send_failures() {
    in_ns python3 - "$PORT" "$1" <<'EOF'
import socket, sys
port, ip = int(sys.argv[1]), sys.argv[2]
with socket.create_connection(("127.0.0.1", port)) as s:
    for i in range(6):
        s.sendall(("<38>Nov 27 10:00:0%d web01 sshd[812]: Failed password for root from %s "
                   "port %d ssh2\n" % (i, ip, 40000 + i)).encode())
EOF
}

wait_for() {
    i=0
    while ! eval "$1"; do
        i=$((i + 1))
        [ $i -gt 150 ] && return 1
        sleep 0.1
    done
    return 0
}

send_failures 203.0.113.45
check 'wait_for "in_ns nft list set inet trapline blocked4 2>/dev/null | grep -q 203.0.113.45"' \
    "203.0.113.45 is in the set blocked4"
ELEMENT=$(in_ns nft list set inet trapline blocked4 2>/dev/null | tr '\n' ' ')
echo "set: $ELEMENT"
check 'echo "$ELEMENT" | grep -q "flags timeout"' "the set has timeout flags"
check 'echo "$ELEMENT" | grep -Eq "203\.0\.113\.45 timeout 10m expires [0-9]"' \
    "the element has a 10m timeout and expires"
check 'in_ns nft list chain inet trapline input | grep -q "ip saddr @blocked4 drop"' \
    "the input chain drops the set's addresses"
check 'wait_for "grep -q ip-blocked \"$WORK/events.jsonl\" 2>/dev/null"' \
    "an ip-blocked event is stored"
check 'grep ip-blocked "$WORK/events.jsonl" | grep -q "\"id\":\"$BRUTE\""' \
    "the event names the rule"
check 'grep ip-blocked "$WORK/events.jsonl" | grep -q intrusion_detection' \
    "the event is intrusion_detection"

send_failures 198.51.100.7
check 'wait_for "grep -q \"198.51.100.7.*allowlisted\\|allowlisted.*198.51.100.7\" \"$WORK/log\""' \
    "the allowlisted address is refused and logged"
check '! in_ns nft list set inet trapline blocked4 | grep -q 198.51.100.7' \
    "the allowlisted address is not blocked"

check 'kill -0 "$SERVER" 2>/dev/null' "the server is still running"
kill "$SERVER"
wait "$SERVER"
rc=$?
SERVER=
check '[ $rc -eq 0 ]' "the server stops cleanly (status $rc)"
check '! grep -Eq "runtime error|Sanitizer" "$WORK/log"' "no sanitizer report"

if [ $fail -ne 0 ]; then
    echo "--- server log"
    cat "$WORK/log"
    exit 1
fi
echo PASS
exit 0

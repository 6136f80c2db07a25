#!/bin/sh
# Active response carried out by the agent that reported the event, end to end, inside a network
# namespace created for the test (the host's own firewall is never touched): `trapline server`
# and an enrolled `trapline agent` run in the namespace and talk over its loopback. A rule of the
# test maps an SSH failed-password line to block-ip for 20 s; the line is appended to the file the
# agent tails. The server must send the action to the agent (ACTION), the agent must put the
# address into the nftables set inet trapline blocked4 with a timeout, and the server's store must
# hold the agent's ip-blocked event (with agent.id: written by the agent, not the server) and, once
# the timeout has passed, its ip-unblocked event.
# Needs root, nft, `ip netns` and nsenter; skips (77) otherwise.
set -u

TRAPLINE=${TRAPLINE:-build/trapline}
RULE=3c0d9a52-6f1e-4d7b-9a0e-5b8f2c1d7e01
ATTACKER=203.0.113.45

skip() {
    echo "SKIP: $1"
    exit 77
}

[ "$(id -u)" = 0 ] || skip "needs root to create a network namespace and nftables rules"
command -v nft >/dev/null 2>&1 || skip "nft is not installed (Debian package nftables)"
command -v ip >/dev/null 2>&1 || skip "ip (iproute2) is not installed"
command -v nsenter >/dev/null 2>&1 || skip "nsenter (util-linux) is not installed"

NS=trl-agent-response-$$
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace here"
WORK=$(mktemp -d)
SERVER=
AGENT=

stop() {
    if [ -n "$1" ]; then
        kill "$1" 2>/dev/null
        wait "$1" 2>/dev/null
    fi
}

cleanup() {
    stop "$AGENT"
    stop "$SERVER"
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

# Polls the command every 0.1 s, at most $2 times (default 300).
wait_for() {
    i=0
    while ! eval "$1"; do
        i=$((i + 1))
        [ $i -gt "${2:-300}" ] && return 1
        sleep 0.1
    done
    return 0
}

mkdir -p "$WORK/rules"
cat >"$WORK/rules/ssh_failed_password.yml" <<RULE_END
title: SSH failed password from the test attacker
id: $RULE
status: test
description: One failed SSH password from $ATTACKER.
logsource:
    product: linux
detection:
    selection:
        event.action: 'ssh-login-failed'
        source.ip: '$ATTACKER'
    condition: selection
level: high
RULE_END
cat >"$WORK/trapline.yml" <<CONFIG_END
response:
  rules:
    - "$RULE:block-ip:20s"
CONFIG_END
: >"$WORK/auth.log"
PORT=$((20000 + $$ % 20000))

# nsenter execs trapline itself (ip netns exec forks), so that $! is its pid.
nsenter --net="/var/run/netns/$NS" "$TRAPLINE" server --config "$WORK/trapline.yml" \
    --data "$WORK/data" --syslog-udp 127.0.0.1:0 --syslog-tcp off --syslog-tls off --http "" \
    --agents "127.0.0.1:$PORT" --rules "$WORK/rules" --stats-interval 0 \
    >"$WORK/server.out" 2>"$WORK/server.log" &
SERVER=$!
if ! wait_for 'grep -q "listening agents=" "$WORK/server.log" 2>/dev/null'; then
    echo "FAIL: the server's agent listener did not start"
    cat "$WORK/server.log"
    exit 1
fi

TOKEN=$("$TRAPLINE" token --data "$WORK/data" --server "127.0.0.1:$PORT" 2>"$WORK/token.log" |
    tail -n 1)
if ! in_ns "$TRAPLINE" agent enroll --token "$TOKEN" --state "$WORK/state" \
    >"$WORK/enroll.log" 2>&1; then
    echo "FAIL: enrollment failed"
    cat "$WORK/enroll.log" "$WORK/server.log"
    exit 1
fi
AGENT_ID=$(cat "$WORK/state/agent.id")

nsenter --net="/var/run/netns/$NS" "$TRAPLINE" agent --state "$WORK/state" \
    --tail "$WORK/auth.log" --no-default-sources >"$WORK/agent.out" 2>"$WORK/agent.log" &
AGENT=$!
check 'wait_for "grep -q \"agent connected agent=$AGENT_ID\" \"$WORK/server.log\""' \
    "the agent connects"

LINE="web01 sshd[812]: Failed password for root from $ATTACKER port 40022 ssh2"
echo "$(date '+%b %e %H:%M:%S') $LINE" >>"$WORK/auth.log"

check 'wait_for "in_ns nft list set inet trapline blocked4 2>/dev/null | grep -q $ATTACKER"' \
    "$ATTACKER is in the agent's set blocked4"
ELEMENT=$(in_ns nft list set inet trapline blocked4 2>/dev/null | tr '\n' ' ')
echo "set: $ELEMENT"
check 'echo "$ELEMENT" | grep -Eq "$ATTACKER timeout 20s expires [0-9]"' \
    "the element has the rule's 20s timeout"
# The server logs the action once it has handed it to the connection: the agent may have applied
# it before that line is written.
check 'wait_for "grep -q \"action sent agent=$AGENT_ID\" \"$WORK/server.log\""' \
    "the server sent the action to the agent"
DONE="action done agent=$AGENT_ID .*action=ip-blocked"
check 'wait_for "grep -q \"$DONE\" \"$WORK/server.log\""' \
    "the agent answered ACTION_RESULT success"

search() {
    "$TRAPLINE" search --data "$WORK/data" --output json --limit 0 "$1" 2>/dev/null
}
check 'wait_for "search event.action:ip-blocked | grep -q $ATTACKER"' \
    "the ip-blocked event is in the server's store"
BLOCKED=$(search "event.action:ip-blocked")
echo "event: $BLOCKED"
check 'echo "$BLOCKED" | grep -q "\"id\":\"$AGENT_ID\""' "the event comes from the agent (agent.id)"
check 'echo "$BLOCKED" | grep -q "\"id\":\"$RULE\""' "the event names the rule"
check 'echo "$BLOCKED" | grep -q intrusion_detection' "the event is intrusion_detection"
check 'wait_for "search event.action:ip-unblocked | grep -q $ATTACKER" 600' \
    "the block's expiry is an ip-unblocked event in the store"
check '! in_ns nft list set inet trapline blocked4 | grep -q $ATTACKER' \
    "nft removed the element at its timeout"

check 'kill -0 "$AGENT" 2>/dev/null' "the agent is still running"
check 'kill -0 "$SERVER" 2>/dev/null' "the server is still running"
kill "$AGENT"
wait "$AGENT"
arc=$?
AGENT=
kill "$SERVER"
wait "$SERVER"
src=$?
SERVER=
check '[ $arc -eq 0 ] && [ $src -eq 0 ]' "agent and server stop cleanly (status $arc, $src)"
check '! grep -Eq "runtime error|Sanitizer" "$WORK/server.log" "$WORK/agent.log"' \
    "no sanitizer report"

if [ $fail -ne 0 ]; then
    echo "--- server log"
    tail -n 40 "$WORK/server.log"
    echo "--- agent log"
    tail -n 40 "$WORK/agent.log"
    exit 1
fi
echo PASS
exit 0

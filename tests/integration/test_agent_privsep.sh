#!/usr/bin/env bash
# Privilege separation of `trapline agent` (docs/agent.md): run as root, the agent forks a network
# process that holds no capability, runs as an unprivileged user with no_new_privs and a seccomp
# filter, and owns every network socket: the agent itself keeps its privileges and has no TCP
# socket. Killing the network process does not lose events: the agent starts another and the
# next lines still reach the server. Needs root (skips otherwise).
set -euo pipefail
. "$(dirname "$0")/server_lib.sh"
trl_require python3
[ "$(id -u)" = 0 ] || trl_skip "needs root: the agent only separates privileges it has"

WORK=$(mktemp -d)
trap trl_cleanup EXIT
DATA=$WORK/data
STATE=$WORK/state
mkdir -p "$DATA"
PORT=$(trl_free_port)
trl_start_server --data "$DATA" --syslog-udp 127.0.0.1:0 --syslog-tcp off --syslog-tls off \
    --http "" --rules off --agents "127.0.0.1:$PORT"
for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null &&
        break
    sleep 0.1
done
TOKEN=$("$TRAPLINE" token --data "$DATA" --server "127.0.0.1:$PORT" 2>/dev/null)
"$TRAPLINE" agent enroll --token "$TOKEN" --state "$STATE" >/dev/null 2>"$WORK/enroll.err" ||
    trl_fail "enroll failed: $(cat "$WORK/enroll.err")"

APP=$WORK/app.log
touch "$APP"
"$TRAPLINE" agent --state "$STATE" --tail "$APP" --no-default-sources --heartbeat 1s \
    >/dev/null 2>"$WORK/agent.log" &
AGENT=$!
TRL_PIDS+=("$AGENT")

# The network process: the agent's child named trapline-net.
net_pid() {
    local p
    for p in $(cat /proc/"$AGENT"/task/*/children 2>/dev/null); do
        if [ "$(cat /proc/"$p"/comm 2>/dev/null)" = trapline-net ]; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# Waits until the server has stored a line holding $1.
wait_stored() {
    for _ in $(seq 300); do
        if "$TRAPLINE" search --data "$DATA" --from 2000-01-01 --output json "$1" 2>/dev/null |
            grep -q "$1"; then
            return 0
        fi
        sleep 0.2
    done
    trl_fail "the server never stored $1: $(tail -n 20 "$WORK/agent.log")"
}

echo "Nov 27 10:00:00 host app[1]: before tokena1" >>"$APP"
wait_stored tokena1

NET=$(net_pid) || trl_fail "no trapline-net child of the agent: $(tail -n 20 "$WORK/agent.log")"
field() { awk -v k="$1:" '$1 == k { print $2 }' "$2"; }
ST=/proc/$NET/status
for k in CapEff CapPrm CapInh CapBnd CapAmb; do
    v=$(field "$k" "$ST")
    [ "$v" = 0000000000000000 ] || trl_fail "network process $k=$v, want none"
done
[ "$(field NoNewPrivs "$ST")" = 1 ] || trl_fail "network process lacks no_new_privs"
[ "$(field Seccomp "$ST")" = 2 ] || trl_fail "network process has no seccomp filter"
NOBODY=$(id -u nobody 2>/dev/null || echo 65534)
read -r _ RUID EUID_ SUID FSUID <<<"$(grep '^Uid:' "$ST")"
for u in "$RUID" "$EUID_" "$SUID" "$FSUID"; do
    [ "$u" = "$NOBODY" ] || trl_fail "network process uid $RUID $EUID_ $SUID $FSUID, want $NOBODY"
done
# Every thread of it (the resolver's included), not just the main one.
for t in /proc/"$NET"/task/*; do
    [ "$(field CapEff "$t/status")" = 0000000000000000 ] || trl_fail "thread $t has capabilities"
    [ "$(field Seccomp "$t/status")" = 2 ] || trl_fail "thread $t has no seccomp filter"
done
# The agent keeps its own privileges (audit, process events, file integrity need them).
[ "$(field CapEff /proc/"$AGENT"/status)" != 0000000000000000 ] ||
    trl_fail "the agent itself lost its capabilities"

# Sockets: the connection to the server belongs to the network process, none to the agent.
inodes() { find /proc/"$1"/fd -lname 'socket:*' -printf '%l\n' 2>/dev/null | tr -dc '0-9\n'; }
tcp_inodes() { awk 'NR > 1 { print $10 }' /proc/net/tcp /proc/net/tcp6; }
TCP=$(tcp_inodes | sort -u)
AGENT_TCP=$(comm -12 <(inodes "$AGENT" | sort -u) <(echo "$TCP"))
NET_TCP=$(comm -12 <(inodes "$NET" | sort -u) <(echo "$TCP"))
[ -z "$AGENT_TCP" ] || trl_fail "the agent itself holds TCP sockets: $AGENT_TCP"
[ -n "$NET_TCP" ] || trl_fail "the network process holds no TCP socket"

# A network process that dies is replaced; nothing is lost meanwhile.
kill -KILL "$NET"
echo "Nov 27 10:00:01 host app[1]: while down tokenb2" >>"$APP"
for _ in $(seq 100); do
    NEW=$(net_pid || true)
    [ -n "$NEW" ] && [ "$NEW" != "$NET" ] && break
    sleep 0.1
done
[ -n "${NEW:-}" ] && [ "$NEW" != "$NET" ] || trl_fail "no new network process after a kill"
[ "$(field Seccomp /proc/"$NEW"/status)" = 2 ] || trl_fail "the new network process is not confined"
wait_stored tokenb2
echo "Nov 27 10:00:02 host app[1]: after tokenc3" >>"$APP"
wait_stored tokenc3
grep -q "network process .* is gone" "$WORK/agent.log" || trl_fail "the agent did not log the restart"

# An agent killed outright leaves no network process behind: it sees its control socket close
# and exits (every handle of its loop closed, the memory trim timer too).
kill -KILL "$AGENT"
for _ in $(seq 50); do
    [ -d /proc/"$NEW" ] && [ "$(cat /proc/"$NEW"/comm 2>/dev/null)" = trapline-net ] || break
    sleep 0.1
done
if [ -d /proc/"$NEW" ] && [ "$(cat /proc/"$NEW"/comm 2>/dev/null)" = trapline-net ]; then
    kill -KILL "$NEW"
    trl_fail "the network process $NEW outlived the agent"
fi
echo "ok: network process $NET (uid $NOBODY) holds no capability, has no_new_privs and seccomp;" \
    "restarted as $NEW after SIGKILL without losing lines; gone with the agent"

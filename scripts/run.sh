#!/usr/bin/env bash
# `make run`: a Trapline server on this machine with its defaults, and a local agent enrolled with
# it, so this machine's own events show up. Data goes to ./data unless TRAPLINE_DATA is set; ports
# are above 1024. The agent collects most as root (audit, processes, file integrity); run as
# another user it says which sources it cannot open and collects the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${TRAPLINE_DATA:-$PWD/data}
state=${TRAPLINE_AGENT_STATE:-$data/agent}
udp=${TRAPLINE_UDP:-127.0.0.1:5514}
tcp=${TRAPLINE_TCP:-127.0.0.1:5514}
tls=${TRAPLINE_TLS:-127.0.0.1:6514}
http=${TRAPLINE_HTTP:-127.0.0.1:8443}
agents=${TRAPLINE_AGENTS:-127.0.0.1:6515}
t=./build/trapline
mkdir -p "$data"

"$t" server --data "$data" --syslog-udp "$udp" --syslog-tcp "$tcp" --syslog-tls "$tls" \
    --http "$http" --agents "$agents" --output "$data/events.jsonl" &
server=$!
agent=
stop() {
    trap - EXIT INT TERM
    [ -n "$agent" ] && kill "$agent" 2>/dev/null
    kill "$server" 2>/dev/null
    wait 2>/dev/null
}
trap stop EXIT INT TERM

# The server writes the first admin password once it is up; the agent listener is then open.
for _ in $(seq 1 100); do
    [ -s "$data/admin-password" ] && break
    kill -0 "$server" 2>/dev/null || { echo "trapline: the server did not start" >&2; exit 1; }
    sleep 0.1
done

if [ ! -s "$state/agent.id" ]; then
    for _ in $(seq 1 50); do
        token=$("$t" token --data "$data" 2>/dev/null) &&
            "$t" agent enroll --server "$agents" --token "$token" --state "$state" >/dev/null 2>&1 &&
            break
        sleep 0.2
    done
fi
if [ -s "$state/agent.id" ]; then
    "$t" agent --state "$state" --server "$agents" 2>"$data/agent.log" &
    agent=$!
    agent_line="agent $(cat "$state/agent.id") (log: $data/agent.log)"
else
    agent_line="not enrolled (see: $t agent enroll --help)"
fi

cat <<MSG

Trapline is running.
  console        : https://$http/      login: admin / $(cat "$data/admin-password" 2>/dev/null || echo "see $data/admin-password")
                   (the certificate is signed by this server's own CA: $data/keys/ca.crt)
  local agent    : $agent_line
  syslog UDP     : $udp     try: logger -d -n 127.0.0.1 -P ${udp##*:} "hello from logger"
  syslog TCP     : $tcp     try: logger -T -n 127.0.0.1 -P ${tcp##*:} --rfc5424 "hello over TCP"
  syslog TLS     : $tls     senders trust $data/keys/ca.crt
  agents         : $agents     enroll another host: $t token --data $data
  detection      : the built-in Sigma rules in rules/ ($(find rules -name '*.yml' | wc -l) files)
  events         : $t search --data $data 'hello'      (also as JSON lines: tail -f $data/events.jsonl)
  alerts         : $t alerts --data $data
  an SSH brute force to see an alert:
    for i in 1 2 3 4 5 6; do logger -T -n 127.0.0.1 -P ${tcp##*:} -t sshd "Failed password for root from 203.0.113.45 port 4\$i ssh2"; done
Stop with Ctrl-C.
MSG
wait "$server"

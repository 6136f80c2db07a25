#!/usr/bin/env bash
# `make run`: start a Trapline server on this machine with its defaults, in the foreground.
# Data goes to ./data unless TRAPLINE_DATA is set. Ports above 1024 so it also runs unprivileged.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${TRAPLINE_DATA:-$PWD/data}
mkdir -p "$data"
udp=${TRAPLINE_UDP:-127.0.0.1:5514}
tcp=${TRAPLINE_TCP:-127.0.0.1:5514}
tls=${TRAPLINE_TLS:-127.0.0.1:6514}
t=./build/trapline
cat <<MSG
Trapline server
  data directory : $data   (event store in events/, alerts in alerts.db, CA in keys/)
  syslog UDP     : $udp     try: logger -d -n 127.0.0.1 -P ${udp##*:} "hello from logger"
  syslog TCP     : $tcp     try: logger -T -n 127.0.0.1 -P ${tcp##*:} --rfc5424 "hello over TCP"
  syslog TLS     : $tls     senders trust $data/keys/ca.crt
  detection      : the built-in Sigma rules in rules/ ($(find rules -name '*.yml' | wc -l) files)
  events         : $t search --data $data 'hello'      (also as JSON lines: tail -f $data/events.jsonl)
  alerts         : $t alerts --data $data
  an SSH brute force to see an alert:
    for i in 1 2 3 4 5 6; do logger -T -n 127.0.0.1 -P ${tcp##*:} -t sshd "Failed password for root from 203.0.113.45 port 4\$i ssh2"; done
Stop with Ctrl-C.
MSG
exec "$t" server --data "$data" --syslog-udp "$udp" --syslog-tcp "$tcp" --syslog-tls "$tls" \
    --output "$data/events.jsonl"

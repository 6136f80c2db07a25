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
cat <<MSG
Trapline server
  data directory : $data
  syslog UDP     : $udp     try: logger -d -n 127.0.0.1 -P ${udp##*:} "hello from logger"
  syslog TCP     : $tcp     try: logger -T -n 127.0.0.1 -P ${tcp##*:} --rfc5424 "hello over TCP"
  syslog TLS     : $tls
  events         : $data/events.jsonl   (tail -f it in another terminal)
Stop with Ctrl-C.
MSG
exec ./build/trapline server --data "$data" --syslog-udp "$udp" --syslog-tcp "$tcp" --syslog-tls "$tls"

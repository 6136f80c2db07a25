#!/usr/bin/env bash
# util-linux logger sends syslog to `trapline server` over UDP and TCP, as RFC 3164 and RFC 5424
# (with structured data), LF-framed and octet-counted; every event is checked field by field.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/server_lib.sh"
trl_require logger python3

WORK=$(mktemp -d)
trap trl_cleanup EXIT

trl_start_server --syslog-udp 127.0.0.1:0 --syslog-tcp 127.0.0.1:0 --output "$WORK/events.jsonl" \
    --data "$WORK" --stats-interval 0
[ -n "$TRL_UDP_PORT" ] && [ -n "$TRL_TCP_PORT" ] || trl_fail "no ports in the server log"

host5424=$(hostname)
host3164=${host5424%%.*}
udp=(--server 127.0.0.1 --port "$TRL_UDP_PORT" --udp)
tcp=(--server 127.0.0.1 --port "$TRL_TCP_PORT" --tcp)

logger "${udp[@]}" --rfc3164 -p auth.warning -t sshd --id=4242 \
    "udp3164-tok1 Failed password for invalid user admin from 203.0.113.9 port 50522 ssh2"
logger "${tcp[@]}" --rfc3164 -p local3.err -t sudo --id=777 \
    "tcp3164-tok2 alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls"
logger "${tcp[@]}" --rfc5424 -p user.notice -t myapp --id=999 --msgid ID47 \
    --sd-id exampleSDID@32473 --sd-param 'iut="3"' --sd-param 'eventSource="Application"' \
    "tcp5424-tok3 application event"
logger "${tcp[@]}" --octet-count --rfc5424 -p daemon.info -t octapp --id=31337 \
    "octet-tok4 counted frame"
logger "${udp[@]}" --rfc5424 -p local7.debug -t udpapp --id=5 "udp5424-tok5 datagram"
# Several messages on one connection, both framings.
printf 'multi-tok6a first\nmulti-tok6b second\nmulti-tok6c third\n' |
    logger "${tcp[@]}" --rfc5424 -p mail.info -t multi --id=66
printf 'octmulti-tok7a first\noctmulti-tok7b second\n' |
    logger "${tcp[@]}" --octet-count --rfc3164 -p cron.info -t CRON --id=70
logger "${tcp[@]}" --rfc5424 -p user.info -t utf8app --id=8 "utf8-tok8 Grüße ünïcödé ✓"

trl_wait_lines "$WORK/events.jsonl" 11
trl_stop_server

T=$'\t'
cat >"$WORK/spec" <<SPEC
udp3164-tok1${T}message${T}udp3164-tok1 Failed password for invalid user admin from 203.0.113.9 port 50522 ssh2
udp3164-tok1${T}host.name${T}$host3164
udp3164-tok1${T}log.syslog.appname${T}sshd
udp3164-tok1${T}process.pid${T}4242
udp3164-tok1${T}log.syslog.facility.code${T}4
udp3164-tok1${T}log.syslog.severity.code${T}4
udp3164-tok1${T}log.syslog.priority${T}36
udp3164-tok1${T}log.source.address${T}re:127\.0\.0\.1:\d+
tcp3164-tok2${T}message${T}tcp3164-tok2 alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls
tcp3164-tok2${T}host.name${T}$host3164
tcp3164-tok2${T}log.syslog.appname${T}sudo
tcp3164-tok2${T}process.pid${T}777
tcp3164-tok2${T}log.syslog.facility.code${T}19
tcp3164-tok2${T}log.syslog.severity.code${T}3
tcp3164-tok2${T}log.source.address${T}re:127\.0\.0\.1:\d+
tcp5424-tok3${T}message${T}tcp5424-tok3 application event
tcp5424-tok3${T}host.name${T}$host5424
tcp5424-tok3${T}log.syslog.appname${T}myapp
tcp5424-tok3${T}process.pid${T}999
tcp5424-tok3${T}log.syslog.msgid${T}ID47
tcp5424-tok3${T}log.syslog.facility.code${T}1
tcp5424-tok3${T}log.syslog.severity.code${T}5
tcp5424-tok3${T}log.syslog.version${T}1
tcp5424-tok3${T}log.syslog.structured_data.exampleSDID@32473.iut${T}3
tcp5424-tok3${T}log.syslog.structured_data.exampleSDID@32473.eventSource${T}Application
tcp5424-tok3${T}log.syslog.structured_data.timeQuality.tzKnown${T}1
octet-tok4${T}message${T}octet-tok4 counted frame
octet-tok4${T}log.syslog.appname${T}octapp
octet-tok4${T}process.pid${T}31337
octet-tok4${T}log.syslog.facility.code${T}3
octet-tok4${T}log.syslog.severity.code${T}6
udp5424-tok5${T}message${T}udp5424-tok5 datagram
udp5424-tok5${T}host.name${T}$host5424
udp5424-tok5${T}log.syslog.appname${T}udpapp
udp5424-tok5${T}log.syslog.facility.code${T}23
udp5424-tok5${T}log.syslog.severity.code${T}7
multi-tok6a${T}message${T}multi-tok6a first
multi-tok6b${T}message${T}multi-tok6b second
multi-tok6c${T}message${T}multi-tok6c third
multi-tok6c${T}process.pid${T}66
multi-tok6c${T}log.syslog.facility.code${T}2
octmulti-tok7a${T}message${T}octmulti-tok7a first
octmulti-tok7b${T}message${T}octmulti-tok7b second
octmulti-tok7b${T}log.syslog.appname${T}CRON
octmulti-tok7b${T}process.pid${T}70
octmulti-tok7b${T}log.syslog.facility.code${T}9
utf8-tok8${T}message${T}utf8-tok8 Grüße ünïcödé ✓
utf8-tok8${T}log.syslog.appname${T}utf8app
SPEC
python3 "$here/jsonl_check.py" "$WORK/events.jsonl" "$WORK/spec" || trl_fail "field checks failed"

# The counters line at exit accounts for every message.
grep -q "stats: udp=127.0.0.1:$TRL_UDP_PORT msgs=2 " "$TRL_LOG" || trl_fail "udp stats line"
grep -q "stats: tcp=127.0.0.1:$TRL_TCP_PORT msgs=9 " "$TRL_LOG" || trl_fail "tcp stats line"
if grep -E ' (WARN|ERROR) ' "$TRL_LOG"; then
    trl_fail "unexpected warnings in the server log"
fi
echo "PASS: logger over UDP and TCP, RFC 3164/5424, LF and octet-counted"

#!/usr/bin/env bash
# rsyslog (a private test instance: own config, pid file and work directory, unprivileged ports)
# receives messages from logger on two imtcp inputs and forwards them to `trapline server` with
# omfwd: over plain TCP (traditional format, LF framing) and over TLS with the ossl driver (RFC 5424,
# octet counting, a client certificate that Trapline requires and verifies against a test CA).
# Every event is checked field by field.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/server_lib.sh"
trl_require logger python3 openssl
RSYSLOGD=$(command -v rsyslogd || true)
[ -n "$RSYSLOGD" ] || { [ -x /usr/sbin/rsyslogd ] && RSYSLOGD=/usr/sbin/rsyslogd; } ||
    trl_skip "rsyslogd is not installed"
moddir=$(dirname "$(find /usr/lib /usr/lib64 -name lmnsd_ossl.so 2>/dev/null | head -1)")
[ -n "$moddir" ] && [ -f "$moddir/lmnsd_ossl.so" ] || trl_skip "rsyslog-openssl (lmnsd_ossl) is not installed"

WORK=$(mktemp -d)
trap trl_cleanup EXIT

# A test CA, a server certificate for 127.0.0.1/localhost, a client certificate for rsyslog.
pki() {
    local ecparam=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    openssl req -x509 "${ecparam[@]}" -keyout "$WORK/ca.key" -out "$WORK/ca.pem" -days 2 \
        -subj "/CN=Trapline Test CA" -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req "${ecparam[@]}" -keyout "$WORK/server.key" -out "$WORK/server.csr" -subj /CN=localhost
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$WORK/server.ext"
    openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
        -CAcreateserial -out "$WORK/server.pem" -days 2 -extfile "$WORK/server.ext"
    openssl req "${ecparam[@]}" -keyout "$WORK/client.key" -out "$WORK/client.csr" \
        -subj /CN=rsyslog-client
    printf 'extendedKeyUsage=clientAuth\n' >"$WORK/client.ext"
    openssl x509 -req -in "$WORK/client.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
        -CAcreateserial -out "$WORK/client.pem" -days 2 -extfile "$WORK/client.ext"
}
pki >"$WORK/pki.log" 2>&1 || { cat "$WORK/pki.log"; trl_fail "certificate generation"; }

trl_start_server --syslog-tcp 127.0.0.1:0 --syslog-tls 127.0.0.1:0 --tls-cert "$WORK/server.pem" \
    --tls-key "$WORK/server.key" --tls-ca "$WORK/ca.pem" --tls-client-auth required \
    --output "$WORK/events.jsonl" --data "$WORK" --stats-interval 0

in_plain=$(trl_free_port)
in_tls=$(trl_free_port)
while [ "$in_tls" = "$in_plain" ]; do in_tls=$(trl_free_port); done
mkdir -p "$WORK/rsyslog"
cat >"$WORK/rsyslog.conf" <<CONF
global(workDirectory="$WORK/rsyslog" processInternalMessages="on")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="$in_plain" ruleset="to_tcp")
input(type="imtcp" address="127.0.0.1" port="$in_tls" ruleset="to_tls")
ruleset(name="to_tcp") {
    action(type="omfwd" target="127.0.0.1" port="$TRL_TCP_PORT" protocol="tcp"
           template="RSYSLOG_TraditionalForwardFormat")
}
ruleset(name="to_tls") {
    action(type="omfwd" target="127.0.0.1" port="$TRL_TLS_PORT" protocol="tcp"
           StreamDriver="ossl" StreamDriverMode="1" StreamDriverAuthMode="x509/name"
           StreamDriverPermittedPeers="localhost"
           StreamDriver.CAFile="$WORK/ca.pem" StreamDriver.CertFile="$WORK/client.pem"
           StreamDriver.KeyFile="$WORK/client.key"
           TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
}
CONF
"$RSYSLOGD" -n -f "$WORK/rsyslog.conf" -i "$WORK/rsyslog.pid" -M "$moddir" \
    >"$WORK/rsyslog.out" 2>&1 &
TRL_PIDS+=($!)
rsyslog_pid=$!
for _ in $(seq 100); do
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $in_tls), 1)" \
        2>/dev/null; then
        break
    fi
    kill -0 "$rsyslog_pid" 2>/dev/null || { cat "$WORK/rsyslog.out"; trl_fail "rsyslogd exited"; }
    sleep 0.1
done

host=$(hostname)
host=${host%%.*}
plain=(--server 127.0.0.1 --port "$in_plain" --tcp --rfc3164)
tls=(--server 127.0.0.1 --port "$in_tls" --tcp --rfc3164)
logger "${plain[@]}" -p auth.info -t sshd --id=2201 \
    "fwdtcp-tok1 Accepted publickey for alice from 198.51.100.7 port 40022 ssh2"
logger "${plain[@]}" -p authpriv.notice -t sudo --id=2202 \
    "fwdtcp-tok2 alice : TTY=pts/1 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id"
logger "${plain[@]}" -p local0.warning -t kernel "fwdtcp-tok3 [UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.5"
logger "${tls[@]}" -p auth.info -t sshd --id=3301 \
    "fwdtls-tok4 Accepted password for bob from 192.0.2.44 port 51000 ssh2"
logger "${tls[@]}" -p local4.err -t myapp --id=3302 "fwdtls-tok5 something failed: code=42"
printf 'fwdtls-tok6a first\nfwdtls-tok6b second\n' | logger "${tls[@]}" -p user.info -t batch --id=3303

trl_wait_lines "$WORK/events.jsonl" 7 30

T=$'\t'
cat >"$WORK/spec" <<SPEC
fwdtcp-tok1${T}message${T}fwdtcp-tok1 Accepted publickey for alice from 198.51.100.7 port 40022 ssh2
fwdtcp-tok1${T}host.name${T}$host
fwdtcp-tok1${T}log.syslog.appname${T}sshd
fwdtcp-tok1${T}process.pid${T}2201
fwdtcp-tok1${T}log.syslog.facility.code${T}4
fwdtcp-tok1${T}log.syslog.severity.code${T}6
fwdtcp-tok1${T}log.source.address${T}re:127\.0\.0\.1:\d+
fwdtcp-tok2${T}message${T}fwdtcp-tok2 alice : TTY=pts/1 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id
fwdtcp-tok2${T}log.syslog.appname${T}sudo
fwdtcp-tok2${T}process.pid${T}2202
fwdtcp-tok2${T}log.syslog.facility.code${T}10
fwdtcp-tok2${T}log.syslog.severity.code${T}5
fwdtcp-tok3${T}message${T}fwdtcp-tok3 [UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.5
fwdtcp-tok3${T}log.syslog.appname${T}kernel
fwdtcp-tok3${T}log.syslog.facility.code${T}16
fwdtcp-tok3${T}log.syslog.severity.code${T}4
fwdtls-tok4${T}message${T}fwdtls-tok4 Accepted password for bob from 192.0.2.44 port 51000 ssh2
fwdtls-tok4${T}host.name${T}$host
fwdtls-tok4${T}log.syslog.appname${T}sshd
fwdtls-tok4${T}process.pid${T}3301
fwdtls-tok4${T}log.syslog.version${T}1
fwdtls-tok4${T}log.syslog.facility.code${T}4
fwdtls-tok4${T}log.syslog.severity.code${T}6
fwdtls-tok5${T}message${T}fwdtls-tok5 something failed: code=42
fwdtls-tok5${T}log.syslog.appname${T}myapp
fwdtls-tok5${T}process.pid${T}3302
fwdtls-tok5${T}log.syslog.facility.code${T}20
fwdtls-tok5${T}log.syslog.severity.code${T}3
fwdtls-tok6a${T}message${T}fwdtls-tok6a first
fwdtls-tok6b${T}message${T}fwdtls-tok6b second
fwdtls-tok6b${T}process.pid${T}3303
SPEC
rc=0
python3 "$here/jsonl_check.py" "$WORK/events.jsonl" "$WORK/spec" || rc=1

# A TLS client without a certificate is refused, with a log line saying why.
python3 - "$TRL_TLS_PORT" "$WORK/ca.pem" <<'PY' || trl_fail "a TLS client without certificate was accepted"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
raw = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
try:
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.sendall(b"<13>no-cert-should-not-arrive\n")
    # TLS 1.3 reports the refusal on the first read.
    sys.exit(0 if s.recv(100) == b"" else 1)
except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
    sys.exit(0)
PY
for _ in $(seq 50); do
    grep -q 'WARN  tls: closed .*reason="handshake failed' "$TRL_LOG" && break
    sleep 0.1
done
grep -q 'WARN  tls: closed .*reason="handshake failed' "$TRL_LOG" ||
    trl_fail "no log line for the refused TLS client"

kill -TERM "$rsyslog_pid"
wait "$rsyslog_pid" || true
trl_stop_server
grep -q 'no-cert-should-not-arrive' "$WORK/events.jsonl" && trl_fail "unauthenticated TLS data arrived"
grep -q "stats: tls=127.0.0.1:$TRL_TLS_PORT msgs=4 " "$TRL_LOG" || trl_fail "tls stats line"
grep -q "stats: tcp=127.0.0.1:$TRL_TCP_PORT msgs=3 " "$TRL_LOG" || trl_fail "tcp stats line"
[ "$rc" -eq 0 ] || trl_fail "field checks failed"
echo "PASS: rsyslog omfwd over TCP and TLS (ossl, client certificate)"

#!/usr/bin/env bash
# Agent enrollment end to end on loopback: `trapline token`, `trapline agent enroll` against a
# running server, the identity files it writes, `trapline agents`, a token used twice, an expired
# token, a token pinned to another server's CA, the agent connecting with its identity, and
# revocation (shown by `trapline agents`, enforced by the running server).
set -euo pipefail
. "$(dirname "$0")/server_lib.sh"
trl_require openssl python3

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

# A token names the server; enrollment needs nothing else.
TOKEN=$("$TRAPLINE" token --data "$DATA" --ttl 10m --server "127.0.0.1:$PORT" 2>/dev/null)
[[ "$TOKEN" =~ ^trl1_[A-Za-z0-9_-]+$ ]] || trl_fail "token has an unexpected form: $TOKEN"
ID=$("$TRAPLINE" agent enroll --token "$TOKEN" --state "$STATE" 2>"$WORK/enroll.err") ||
    trl_fail "enroll failed: $(cat "$WORK/enroll.err")"
[[ "$ID" =~ ^agt-[0-9a-f]{16}$ ]] || trl_fail "agent id has an unexpected form: $ID"

# The identity files.
for f in agent.key agent.crt ca.crt server agent.id; do
    [ -f "$STATE/$f" ] || trl_fail "missing $STATE/$f"
done
[ "$(stat -c %a "$STATE/agent.key")" = 600 ] || trl_fail "agent.key is not mode 0600"
[ "$(cat "$STATE/agent.id")" = "$ID" ] || trl_fail "agent.id does not hold $ID"
[ "$(cat "$STATE/server")" = "127.0.0.1:$PORT" ] || trl_fail "server file: $(cat "$STATE/server")"
cmp -s "$STATE/ca.crt" "$DATA/keys/ca.crt" || trl_fail "ca.crt is not the server's CA"
openssl verify -CAfile "$STATE/ca.crt" -purpose sslclient "$STATE/agent.crt" >/dev/null ||
    trl_fail "agent.crt does not verify against the CA for client use"
openssl x509 -in "$STATE/agent.crt" -noout -subject | grep -q "CN *= *$ID" ||
    trl_fail "agent.crt does not name $ID: $(openssl x509 -in "$STATE/agent.crt" -noout -subject)"
[ "$(openssl pkey -in "$STATE/agent.key" -pubout)" = \
    "$(openssl x509 -in "$STATE/agent.crt" -noout -pubkey)" ] ||
    trl_fail "agent.key does not match agent.crt"

# The registry lists it.
"$TRAPLINE" agents --data "$DATA" --output json >"$WORK/agents.json"
python3 - "$WORK/agents.json" "$ID" <<'PY' || trl_fail "agents --output json: $(cat "$WORK/agents.json")"
import json, socket, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 1, rows
a = rows[0]
assert a["id"] == sys.argv[2], a
assert a["hostname"] == socket.gethostname(), a
assert a["status"] in ("silent", "online"), a
assert a["revoked_at"] is None and a["cert_fingerprint"].count(":") == 31, a
PY
"$TRAPLINE" agents --data "$DATA" --output table | grep -q "^$ID " || trl_fail "table lacks $ID"

# A token is single use (given on standard input this time).
if echo "$TOKEN" | "$TRAPLINE" agent enroll --token - --state "$WORK/state2" 2>"$WORK/second.err"; then
    trl_fail "a second enrollment with the same token succeeded"
fi
grep -q "already used" "$WORK/second.err" || trl_fail "second use: $(cat "$WORK/second.err")"
[ ! -e "$WORK/state2/agent.id" ] || trl_fail "a refused enrollment wrote agent.id"

# Enrolling again into a state directory with an identity needs --force.
if "$TRAPLINE" agent enroll --token "$TOKEN" --state "$STATE" 2>"$WORK/again.err"; then
    trl_fail "enroll overwrote an existing identity without --force"
fi
grep -q "already holds the identity of agent $ID" "$WORK/again.err" ||
    trl_fail "existing identity: $(cat "$WORK/again.err")"

# An expired token.
SHORT=$("$TRAPLINE" agents token --data "$DATA" --ttl 1s --server "127.0.0.1:$PORT" 2>/dev/null)
sleep 2
if "$TRAPLINE" agent enroll --token "$SHORT" --state "$WORK/state3" 2>"$WORK/expired.err"; then
    trl_fail "an expired token enrolled"
fi
grep -q "expired" "$WORK/expired.err" || trl_fail "expired token: $(cat "$WORK/expired.err")"

# A token of another server (another CA) pointed at this one: the agent refuses the server before
# it sends anything.
mkdir -p "$WORK/other"
FOREIGN=$("$TRAPLINE" token --data "$WORK/other" --server "127.0.0.1:$PORT" 2>/dev/null)
if "$TRAPLINE" agent enroll --token "$FOREIGN" --state "$WORK/state4" 2>"$WORK/pin.err"; then
    trl_fail "enrolled with a server whose CA is not the token's"
fi
grep -q "refusing 127.0.0.1:$PORT: its CA fingerprint .* is not the token's" "$WORK/pin.err" ||
    trl_fail "pinning: $(cat "$WORK/pin.err")"

# The enrolled agent connects with its new identity and reports in: `trapline agents` shows it
# online with the hostname and version it sent (event delivery is test_agent_delivery's subject).
touch "$WORK/app.log"
"$TRAPLINE" agent --state "$STATE" --tail "$WORK/app.log" --no-default-sources --heartbeat 1s \
    >/dev/null 2>"$WORK/agent.log" &
TRL_PIDS+=("$!")
online=""
for _ in $(seq 100); do
    if "$TRAPLINE" agents --data "$DATA" --output json | grep -q '"status":"online"'; then
        online=1
        break
    fi
    sleep 0.1
done
[ -n "$online" ] || trl_fail "the agent never showed online: \
$("$TRAPLINE" agents --data "$DATA" --output json) $(cat "$WORK/agent.log")"

# Revocation: the CLI writes it, the running server disconnects the agent within about a second.
"$TRAPLINE" agents revoke "$ID" --data "$DATA" | grep -q "agent $ID revoked" ||
    trl_fail "revoke did not confirm"
refused=""
for _ in $(seq 30); do
    if grep -q "agent revoked" "$WORK/agent.log"; then
        refused=1
        break
    fi
    sleep 0.1
done
[ -n "$refused" ] || trl_fail "the agent was not disconnected within 3 s: $(cat "$WORK/agent.log")"
"$TRAPLINE" agents --data "$DATA" --output table | grep "^$ID " | grep -q "revoked$" ||
    trl_fail "agents does not show $ID revoked: $("$TRAPLINE" agents --data "$DATA" --output table)"
"$TRAPLINE" agents revoke "$ID" --data "$DATA" | grep -q "already revoked" ||
    trl_fail "a second revoke did not say already revoked"
if "$TRAPLINE" agents revoke agt-0000000000000000 --data "$DATA" 2>/dev/null; then
    trl_fail "revoking an unknown agent succeeded"
fi

trl_stop_server
echo "PASS"

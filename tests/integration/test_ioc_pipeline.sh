#!/usr/bin/env bash
# Threat intelligence in the live path: indicators imported into a data directory enrich events at
# ingest (threat.indicator.* stored with them, searchable) and raise one alert per hit; the same
# log ingested without indicators is found afterwards by `ioc hunt` and `ioc import --hunt`, with
# retrospective alerts; a running server picks up `ioc import` without a restart.
set -euo pipefail

TRAPLINE=${TRAPLINE:-build/trapline}
log=${TRL_SHARED:-}/data/linux-samples/web01-nginx-access.log

if [ -z "${TRL_SHARED:-}" ] || [ ! -f "$log" ]; then
    echo "skipped: TRL_SHARED/data/linux-samples is not there"
    exit 77
fi
if ! "$TRAPLINE" ioc hunt --help >/dev/null 2>&1; then
    echo "skipped: this trapline has no ioc hunt"
    exit 77
fi

work=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
fail=0
check() { # check DESCRIPTION COMMAND...: runs the command, reports FAIL when it fails
    local what=$1
    shift
    if "$@"; then
        echo "ok   $what"
    else
        echo "FAIL $what"
        fail=1
    fi
}
count() { # count PATTERN FILE: lines of FILE holding PATTERN (0 when none)
    grep -c -- "$1" "$2" || true
}

# The scanner of the web log (12 requests), the network of the two other clients (one request
# each), and indicators the log does not hold.
cat >"$work/indicators.txt" <<'EOF'
# indicators for the web01 intrusion
203.0.113.45
192.0.2.200/31
evil.example
0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
EOF

# ---- matching at ingest ----
live="$work/live"
"$TRAPLINE" ioc import --data "$live" --source web01-intel --confidence 85 \
    "$work/indicators.txt" >"$work/import.out"
"$TRAPLINE" ingest --no-progress --data "$live" --ioc "$log" 2>"$work/ingest.err"
cat "$work/ingest.err"
check "ingest --ioc reports 14 threat-intel alerts" grep -q "threat intel: 4 indicators, 14 alerts" \
    "$work/ingest.err"
"$TRAPLINE" alerts --data "$live" --output json >"$work/alerts.json"
check "one alert for the address, 12 events folded into it" \
    grep -q '"title":"Threat intel match: ipv4 203.0.113.45","level":"high".*"group_by":{"indicator":"203.0.113.45","field":"source.ip"}.*"count":12' \
    "$work/alerts.json"
check "one alert for the network, 2 events" \
    grep -q '"rule_id":"ioc:ioc--[0-9a-f]*","title":"Threat intel match: cidr 192.0.2.200/31".*"count":2' \
    "$work/alerts.json"
check "no alert for indicators the log does not hold" \
    test "$(count 'evil.example' "$work/alerts.json")" = 0
"$TRAPLINE" search --data "$live" --from 2024-07-01 --limit 100 \
    'threat.indicator.ip:203.0.113.45' >"$work/search.json"
check "the 12 enriched events are stored and found by threat.indicator.ip" \
    test "$(count '"provider":"web01-intel"' "$work/search.json")" = 12
check "enrichment carries confidence and feed" \
    grep -q '"threat":{"feed":{"name":"web01-intel"},"indicator":{"confidence":"High"' \
    "$work/search.json"
"$TRAPLINE" ioc feeds --data "$live" --output json >"$work/feeds.json"
check "ioc feeds lists the feed with its count and no error" \
    grep -q '"name":"web01-intel","format":"list".*"count":4,"last_error":null' "$work/feeds.json"

# ---- retro-hunt ----
past="$work/past"
"$TRAPLINE" ingest --no-progress --data "$past" "$log" 2>/dev/null
"$TRAPLINE" ioc import --data "$past" --source web01-intel "$work/indicators.txt" \
    >"$work/import2.out"
"$TRAPLINE" ioc hunt --data "$past" --since 2024-07-01 >"$work/hunt.out"
cat "$work/hunt.out"
check "hunt summary: 2 of 4 indicators sighted in 14 events" \
    grep -q "hunted 4 indicators .*: 2 sighted in 14 events, 14 retrospective alerts" \
    "$work/hunt.out"
check "hunt names first and last sighting" \
    grep -q "ipv4 203.0.113.45 (web01-intel): 12 events, first 2024-07-09T22:10:11" \
    "$work/hunt.out"
"$TRAPLINE" alerts --data "$past" --output json --limit 100 >"$work/retro.json"
check "one retrospective alert per sighting" \
    test "$(count '"tags":\["retro-hunt"\]' "$work/retro.json")" = 14
check "retrospective alerts carry first_seen in their group-by" \
    grep -q '"group_by":{"indicator":"203.0.113.45","field":"source.ip","first_seen":"2024-07-09T22:10:11.000000000Z"}' \
    "$work/retro.json"
"$TRAPLINE" ioc hunt --data "$past" --since 2024-07-01 >"$work/hunt2.out"
check "hunting again folds into the same alerts" \
    test "$("$TRAPLINE" alerts --data "$past" --output json --limit 100 | wc -l)" = 14
check "the default window (30 days) holds none of the 2024 events" \
    sh -c "'$TRAPLINE' ioc hunt --data '$past' | grep -q ': 0 sighted in 0 events'"
check "a value given on the command line, defanged" \
    sh -c "'$TRAPLINE' ioc hunt --data '$past' --since 2024-07-01 '203.0.113[.]45' |
           grep -q 'hunted 1 indicators .*: 1 sighted in 12 events'"

echo '{"@timestamp":"2024-07-09T10:00:00Z","source":{"ip":"2001:db8::5"},"message":"v6 peer"}' \
    >"$work/v6.json"
"$TRAPLINE" ingest --no-progress --data "$past" "$work/v6.json" 2>/dev/null
check "an IPv6 network given on the command line is hunted as an address block" \
    sh -c "'$TRAPLINE' ioc hunt --data '$past' --since 2024-07-01 2001:db8::/32 2001:db9::/32 |
           grep -q 'hunted 2 indicators .*: 1 sighted in 1 events, 1 retrospective alerts'"

past2="$work/past2"
"$TRAPLINE" ingest --no-progress --data "$past2" "$log" 2>/dev/null
"$TRAPLINE" ioc import --data "$past2" --hunt=2024-07-01 "$work/indicators.txt" \
    >"$work/import3.out"
check "import --hunt hunts what it imported" \
    grep -q "hunted 4 indicators .*: 2 sighted in 14 events" "$work/import3.out"

# ---- a running server reloads ioc.db ----
srv="$work/srv"
mkdir -p "$srv"
cat >"$work/server.yaml" <<EOF
data_dir: $srv
server:
  syslog_udp: 127.0.0.1:0
  syslog_tcp: 127.0.0.1:0
ioc:
  reload_interval: 1s
EOF
"$TRAPLINE" server --config "$work/server.yaml" --rules off --http "" --agents "" >"$work/server.out" \
    2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do
    grep -q 'listening' "$work/server.out" 2>/dev/null && break
    sleep 0.1
done
tcp_port=$(grep -o 'listening tcp=[^ ]*' "$work/server.log" | head -1 | sed 's/.*://')
if [ -z "$tcp_port" ]; then
    echo "FAIL server did not start"
    cat "$work/server.log"
    exit 1
fi
"$TRAPLINE" ioc import --data "$srv" --source live-intel "$work/indicators.txt" >/dev/null
for _ in $(seq 100); do
    grep -q 'indicators loaded count=4' "$work/server.log" && break
    sleep 0.1
done
check "the server loads indicators imported while it runs" \
    grep -q 'indicators loaded count=4' "$work/server.log"
grep '203.0.113.45' "$log" | head -3 >"$work/three.log"
while IFS= read -r line; do
    printf '%s\n' "$line"
done <"$work/three.log" >/dev/tcp/127.0.0.1/"$tcp_port"
for _ in $(seq 100); do
    "$TRAPLINE" alerts --data "$srv" --output json 2>/dev/null | grep -q '"count":3' && break
    sleep 0.1
done
check "the server raises the alert for live traffic" \
    sh -c "'$TRAPLINE' alerts --data '$srv' --output json | grep -q 'Threat intel match: ipv4 203.0.113.45.*\"count\":3'"
kill -TERM "$server_pid"
wait "$server_pid" || true
server_pid=

exit $fail

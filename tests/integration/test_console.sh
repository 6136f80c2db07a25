#!/usr/bin/env bash
# The web console in a real browser: starts `trapline server` with its HTTPS console on a free
# loopback port, feeds it sshd and sudo lines over UDP (with the auth.log samples of the shared
# data when present) so that rules raise alerts, then runs
# tests/e2e/console.test.mjs (Playwright driving Debian's Chromium): sign in, search and open an
# event, live tail a line sent over TCP, close an alert, upload a rule, enrol an agent, manage users. A screenshot of every page
# goes to $SCREENSHOT_DIR (default: $TRL_BUILD/screenshots, else <repo>/build/screenshots).
#
# Skipped (77) when node, Chromium or the npm package playwright-core cannot be had.
set -euo pipefail

TRAPLINE=${TRAPLINE:-build/trapline}
src=${TRL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=server_lib.sh
. "$src/tests/integration/server_lib.sh"

trl_require node python3 curl
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || trl_skip "Chromium is not installed (apt-get install chromium)"
e2e=$src/tests/e2e
if [ ! -f "$e2e/node_modules/playwright-core/package.json" ]; then
    command -v npm >/dev/null 2>&1 || trl_skip "npm is not installed to fetch playwright-core"
    # The exact version is pinned in package-lock.json; no browser is downloaded (Debian's is used).
    (cd "$e2e" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 180 npm ci --no-audit --no-fund --loglevel=error) ||
        trl_skip "npm could not install playwright-core into tests/e2e"
fi

WORK=$(mktemp -d)
trap trl_cleanup EXIT
data=$WORK/data
mkdir -p "$data"

# The server's default rules (the built-in ones beside the binary, and DATA/rules where uploads go)
# so that a rule uploaded through the console is evaluated; --rules only when the binary has none.
rules=()
[ -d "$(dirname "$TRAPLINE")/../rules" ] || rules=(--rules "$src/rules")
http_port=$(trl_free_port)
trl_start_server --data "$data" --http "127.0.0.1:$http_port" --syslog-udp 127.0.0.1:0 \
    --syslog-tcp 127.0.0.1:0 --agents "127.0.0.1:$(trl_free_port)" "${rules[@]}"
base=https://127.0.0.1:$http_port
for _ in $(seq 100); do
    grep -q 'listening https=' "$TRL_LOG" && break
    sleep 0.1
done
grep -q 'listening https=' "$TRL_LOG" || trl_fail "the HTTPS console did not start"
[ -s "$data/admin-password" ] || trl_fail "no $data/admin-password was written"
password=$(cat "$data/admin-password")

code=$(curl -sk -o /dev/null -w '%{http_code}' "$base/")
[ "$code" = 200 ] || trl_fail "GET / answered $code: is the console embedded in the binary?"

# Eight failed sshd logins from one address (SSH brute force) and a root shell through sudo, then
# the auth.log samples of the shared data (brute force, spraying, account creation) re-stamped
# with the current time, all as RFC 3164 over UDP.
now=$(LC_ALL=C date -u '+%b %e %H:%M:%S')
send() {
    printf '%s' "$1" >"/dev/udp/127.0.0.1/$TRL_UDP_PORT"
    sleep 0.02
}
for i in 1 2 3 4 5 6 7 8; do
    send "$(printf '<38>%s web01 sshd[41%02d]: Failed password for root from 203.0.113.45 port 5%04d ssh2' \
        "$now" "$i" "$i")"
done
send "<86>$now web01 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash"
samples=${TRL_SHARED:-$src/../shared}/data/linux-samples
for f in "$samples/db01-auth.log" "$samples/web01-auth.log"; do
    [ -f "$f" ] || continue
    while IFS= read -r line; do
        [ ${#line} -gt 16 ] && send "<38>$now ${line:16}"
    done <"$f"
done

# Wait until the events are searchable, so that a failure below is the console's.
cookie=$WORK/cookie
curl -sk -c "$cookie" -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$password\"}" "$base/api/v1/login" >/dev/null ||
    trl_fail "cannot sign in through the API"
found=0
for _ in $(seq 50); do
    if curl -sk -b "$cookie" "$base/api/v1/search?q=%22failed+password%22&from=-1h&limit=20" |
        grep -q '203.0.113.45'; then
        found=1
        break
    fi
    sleep 0.2
done
[ $found -eq 1 ] || trl_fail "the UDP events never became searchable"

shots=${SCREENSHOT_DIR:-${TRL_BUILD:+$TRL_BUILD/screenshots}}
shots=${shots:-$src/build/screenshots}
mkdir -p "$shots"

rc=0
(cd "$e2e" && TRL_URL=$base TRL_USER=admin TRL_PASSWORD=$password SCREENSHOT_DIR=$shots \
    TRL_TCP_PORT=$TRL_TCP_PORT CHROMIUM=$chromium timeout 420 node console.test.mjs) || rc=$?
[ $rc -eq 0 ] || trl_fail "console end-to-end test failed (status $rc; screenshots in $shots)"
trl_stop_server
echo "PASS console end to end (screenshots in $shots)"

#!/usr/bin/env bash
# REST API benchmark: search latencies of `trapline server` over HTTPS on a store of realistic
# events, and the bytes the web console's first load transfers.
#
# Generates EVENTS syslog, auth and web lines (sshd, sudo, PAM, cron, systemd, kernel firewall,
# nginx access lines sent through syslog; RFC 5424 and RFC 3164; 25 hosts; source.ip drawn from a
# pool of 400 addresses, a few of them heavy hitters; three rare terms at known counts) with
# timestamps spread evenly over the last 72 hours, in order, as a live feed writes them. Stores
# them with `trapline ingest` (time and events/s printed as context), starts `trapline server` on
# that data directory with the HTTPS API on a free loopback port (syslog TCP on a free loopback
# port, no agent listener, no rules), logs in as admin and runs bench/api_client.py: a check of
# the answers against the generator's counts (the first /overview answer, counted from the store
# before anything is cached, is timed on its own), then p50/p95/max latency of each query over 30
# requests after 3 warm-ups (fewer for a query too slow for that) against the target (p95 under
# 200 ms), a live tail poll among them; then it fetches / and every file it references, gzip
# accepted, and compares the compressed total with the 300 KB target. Not part of `make test`.
#
# usage: bench/api.sh [EVENTS]   (default 2000000; TRAPLINE=path of the binary, default
#                                 build/trapline, a Release/RelWithDebInfo build, not a sanitizer
#                                 one; RUNS=timed requests per query, default 30; BUDGET=seconds
#                                 a query may take before it gets 1 warm-up and as many timed
#                                 requests as fit, at least 3; default 120)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
TRAPLINE=${TRAPLINE:-$root/build/trapline}
EVENTS=${1:-2000000}
RUNS=${RUNS:-30}
BUDGET=${BUDGET:-120}
[ -x "$TRAPLINE" ] || { echo "build trapline first (make), or set TRAPLINE"; exit 1; }
command -v python3 >/dev/null || { echo "python3 is needed"; exit 1; }

WORK=$(mktemp -d)
SERVER_PID=
CLIENT_PID=
cleanup() {
    if [ -n "$CLIENT_PID" ]; then
        kill -TERM "$CLIENT_PID" 2>/dev/null || true
        wait "$CLIENT_PID" 2>/dev/null || true
    fi
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
DATA=$WORK/data

echo "generating $EVENTS events over the last 72 hours ..."
python3 - "$WORK" "$EVENTS" <<'PY'
import datetime, json, random, sys
work, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
hosts = [f"web{i:02d}" for i in range(1, 21)] + ["db01", "db02", "bastion", "fw-edge", "ci-runner"]
users = ["alice", "bob", "carol", "deploy", "root", "admin", "jenkins", "backup", "postgres",
         "www-data", "oracle", "test", "ubuntu", "git", "nagios"]
months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
cmds = ["/usr/bin/apt update", "/usr/bin/systemctl restart nginx", "/bin/cat /etc/shadow",
        "/usr/bin/journalctl -u ssh", "/usr/sbin/useradd -m tmpuser", "/usr/bin/docker ps"]
paths = ["/", "/index.html", "/login", "/api/v1/items", "/api/v1/cart", "/static/app.js",
         "/static/site.css", "/images/logo.png", "/wp-login.php", "/.env", "/search",
         "/admin/", "/healthz", "/favicon.ico", "/robots.txt"]
agents = ["Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/119.0 Safari/537.36", "curl/8.4.0", "python-requests/2.31.0",
          "Go-http-client/1.1", "Nmap Scripting Engine"]

# source.ip: 400 addresses; the first 8 carry a third of the traffic (scanners, a busy proxy).
pool = []
while len(pool) < 400:
    a = (f"{rnd.choice([10, 172, 192, 203, 198, 45, 91])}.{rnd.randrange(256)}."
         f"{rnd.randrange(256)}.{rnd.randrange(1, 255)}")
    if a not in pool:
        pool.append(a)
weights = [40 if i < 8 else 1 for i in range(len(pool))]
cum, acc = [], 0
for w in weights:
    acc += w
    cum.append(acc)
import bisect
def ip():
    return pool[bisect.bisect_left(cum, rnd.random() * acc)]

# Rare terms at known counts, at fixed random positions.
rare = {"xmrig": 12, "mimikatz": 3, "kworkerds": 40}
rare_at = {}
for term, k in rare.items():
    for pos in rnd.sample(range(n), min(k, n)):
        rare_at.setdefault(pos, term)
rare_count = {t: 0 for t in rare}
filter_ip = pool[17]          # a typical address: the field-filter query
filter_count = 0
ips_seen = set()

end = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=2)
span_us = 72 * 3600 * 1_000_000
start = end - datetime.timedelta(microseconds=span_us)

def line(i, t):
    """One log line; returns (text, source.ip or None)."""
    u = rnd.choice(users)
    h = rnd.choice(hosts)
    pid = rnd.randrange(300, 65000)
    term = rare_at.get(i)
    k = rnd.random()
    src = None
    if term:
        app, p = "sudo", None
        msg = f"  {u} : TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/tmp/.cache/{term} --quiet"
        fac, sev = 10, 5
    elif k < 0.12:
        src = ip()
        fac, sev, app, p = 10, 6, "sshd", pid
        msg = (f"Accepted publickey for {u} from {src} port {rnd.randrange(1024, 65535)} ssh2: "
               f"ED25519 SHA256:{rnd.getrandbits(128):032x}")
    elif k < 0.25:
        src = ip()
        fac, sev, app, p = 10, 6, "sshd", pid
        msg = (f"Failed password for invalid user {u}{rnd.randrange(100)} from {src} "
               f"port {rnd.randrange(1024, 65535)} ssh2")
    elif k < 0.30:
        fac, sev, app, p = 10, 6, "sshd", pid
        msg = (f"pam_unix(sshd:session): session opened for user {u}"
               f"(uid={rnd.randrange(1000, 2000)}) by (uid=0)")
    elif k < 0.36:
        fac, sev, app, p = 10, 5, "sudo", None
        msg = (f"  {u} : TTY=pts/{rnd.randrange(8)} ; PWD=/home/{u} ; USER=root ; "
               f"COMMAND={rnd.choice(cmds)}")
    elif k < 0.50:
        src = ip()
        fac, sev, app, p = 0, 4, "kernel", None
        msg = (f"[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC={src} "
               f"DST=10.0.0.5 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID={rnd.randrange(65535)} DF "
               f"PROTO=TCP "
               f"SPT={rnd.randrange(1024, 65535)} DPT={rnd.choice([22, 23, 3389, 445, 8080])} "
               f"WINDOW=64240 RES=0x00 SYN URGP=0")
    elif k < 0.56:
        fac, sev, app, p = 9, 6, "CRON", pid
        msg = f"({u}) CMD (run-parts /etc/cron.hourly)"
    elif k < 0.62:
        fac, sev, app, p = 3, 6, "systemd", 1
        msg = f"Started Session {rnd.randrange(1, 99999)} of User {u}."
    else:
        src = ip()
        fac, sev, app, p = 23, 6, "nginx", None
        status = rnd.choice([200] * 12 + [301, 304, 404, 404, 403, 500])
        path = rnd.choice(paths)
        if rnd.random() < 0.3:
            path += f"?id={rnd.randrange(100000)}"
        msg = (f'{src} - - [{t:%d}/{months[t.month - 1]}/{t:%Y:%H:%M:%S} +0000] '
               f'"{rnd.choice(["GET"] * 5 + ["POST", "HEAD"])} {path} HTTP/1.1" {status} '
               f'{rnd.randrange(100, 90000)} "-" "{rnd.choice(agents)}"')
    if rnd.random() < 0.3:
        tag = f"{app}[{p}]" if p else app
        text = f"<{fac * 8 + sev}>{months[t.month - 1]} {t.day:2d} {t:%H:%M:%S} {h} {tag}: {msg}"
    else:
        text = f"<{fac * 8 + sev}>1 {t:%Y-%m-%dT%H:%M:%S.%f}Z {h} {app} {p or '-'} - - {msg}"
    return text, src, term

with open(f"{work}/events.log", "w") as f:
    for i in range(n):
        t = start + datetime.timedelta(microseconds=i * span_us // max(n, 1))
        # RFC 3164 has whole seconds: keep every line's time on a whole second so both forms agree.
        t = t.replace(microsecond=0)
        text, src, term = line(i, t)
        if src:
            ips_seen.add(src)
            if src == filter_ip:
                filter_count += 1
        if term:
            rare_count[term] += 1
        f.write(text + "\n")
with open(f"{work}/expect.json", "w") as f:
    json.dump({"events": n, "rare": rare_count, "filter_ip": filter_ip,
               "filter_count": filter_count, "distinct_ips": len(ips_seen), "hosts": len(hosts),
               "first": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
               "last": end.strftime("%Y-%m-%dT%H:%M:%SZ")}, f)
PY
awk -v b="$(stat -c %s "$WORK/events.log")" \
    'BEGIN { printf "  %.1f MB of log text\n", b / 1048576 }'

echo "ingesting ..."
t0=$(date +%s.%N)
# RFC 3164 times carry no zone: the generator wrote UTC.
TZ=UTC "$TRAPLINE" ingest --data "$DATA" --no-progress "$WORK/events.log" \
    >"$WORK/ingest.out" 2>"$WORK/ingest.log" ||
    { cat "$WORK/ingest.out" "$WORK/ingest.log"; exit 1; }
t1=$(date +%s.%N)
grep -hE '^ *(ingested|by format|unparsed)' "$WORK/ingest.out" "$WORK/ingest.log" |
    sed 's/^ */  /' || true
store_bytes=$(du -sb "$DATA/events" | cut -f1)
awk -v t0="$t0" -v t1="$t1" -v n="$EVENTS" -v b="$store_bytes" 'BEGIN {
    printf "ingest: %d events in %.1f s wall clock, %.0f events/s; ", n, t1 - t0, n / (t1 - t0)
    printf "store %.1f MB, %.0f bytes/event\n", b / 1048576, b / n }'

echo "starting the server ..."
"$TRAPLINE" server --data "$DATA" --http 127.0.0.1:0 --syslog-tcp 127.0.0.1:0 --agents "" \
    --rules off --stats-interval 0 >"$WORK/server.out" 2>"$WORK/server.log" &
SERVER_PID=$!
port=
for _ in $(seq 300); do
    port=$(grep -o 'https=127\.0\.0\.1:[0-9]*' "$WORK/server.log" 2>/dev/null | head -1 |
        sed 's/.*://') || true
    [ -n "$port" ] && [ -s "$DATA/admin-password" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "the server did not start:"
    cat "$WORK/server.out" "$WORK/server.log"
    exit 1
fi
echo "  https://127.0.0.1:$port"

# In the background, so that a signal to this script runs the cleanup at once.
python3 "$here/api_client.py" --port "$port" --ca "$DATA/keys/ca.crt" \
    --password-file "$DATA/admin-password" --expect "$WORK/expect.json" --runs "$RUNS" \
    --budget "$BUDGET" &
CLIENT_PID=$!
wait "$CLIENT_PID"
CLIENT_PID=

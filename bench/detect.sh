#!/usr/bin/env bash
# Detection benchmark: events/s through the pipeline (parse, normalise, detect, store) with no rules
# and with every SigmaHQ rule in ../shared plus Trapline's own (about 1,500), and the ratio. Then, on
# a generated 1,000,000-line auth.log, fail2ban-regex with its sshd filter side by side with
# Trapline's SSH brute-force rule: both times, and whether both flag the same source addresses.
# Not part of `make test`.
#
# usage: bench/detect.sh [LINES]   (TRAPLINE=binary, default build/trapline; TRL_SHARED=../shared)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
TRAPLINE=${TRAPLINE:-$root/build/trapline}
SHARED=${TRL_SHARED:-$root/../shared}
LINES=${1:-1000000}
[ -x "$TRAPLINE" ] || { echo "build trapline first (make), or set TRAPLINE"; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "generating $LINES mixed lines and a $LINES-line auth.log ..."
python3 - "$WORK" "$LINES" <<'PY'
import random, sys
work, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
users = ["alice", "bob", "deploy", "root", "admin", "postgres", "www-data", "backup"]
def ip(): return f"10.{rnd.randint(0,255)}.{rnd.randint(0,255)}.{rnd.randint(1,254)}"
attackers = [f"203.0.113.{i}" for i in range(1, 41)]
def ts(i): return f"Jul  9 {10 + i // 360000 % 12:02d}:{i // 6000 % 60:02d}:{i // 100 % 60:02d}"
with open(f"{work}/mixed.log", "w") as mixed, open(f"{work}/auth.log", "w") as auth:
    for i in range(n):
        t = ts(i)
        r = rnd.random()
        src = rnd.choice(attackers) if rnd.random() < 0.3 else ip()
        u = rnd.choice(users)
        p = rnd.randint(1024, 65535)
        if r < 0.45:
            line = f"{t} bastion sshd[{1000 + i % 30000}]: Failed password for {u} from {src} port {p} ssh2"
        elif r < 0.6:
            line = f"{t} bastion sshd[{1000 + i % 30000}]: Accepted publickey for {u} from {ip()} port {p} ssh2"
        elif r < 0.7:
            line = f"{t} db01 sudo: {u} : TTY=pts/0 ; PWD=/home/{u} ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx"
        elif r < 0.8:
            line = f"{t} fw kernel: [1234.5] UFW BLOCK IN=eth0 OUT= SRC={src} DST=10.0.0.5 LEN=60 PROTO=TCP SPT={p} DPT=22 SYN"
        elif r < 0.9:
            line = f'{src} - - [09/Jul/2024:10:00:{i % 60:02d} +0000] "GET /index.php?id={i} HTTP/1.1" 200 512 "-" "Mozilla/5.0"'
        else:
            line = f"{t} web01 CRON[{i % 9000}]: (root) CMD (/usr/local/bin/backup.sh)"
        mixed.write(line + "\n")
        a = rnd.random()
        src = rnd.choice(attackers) if a < 0.2 else ip()
        if a < 0.6:
            auth.write(f"{t} bastion sshd[{1000 + i % 30000}]: Failed password for {u} from {src} port {p} ssh2\n")
        else:
            auth.write(f"{t} bastion sshd[{1000 + i % 30000}]: Accepted password for {u} from {src} port {p} ssh2\n")
PY

run() { # label, extra args...
    local label=$1
    shift
    rm -rf "$WORK/data"
    local t0 t1
    t0=$(date +%s.%N)
    "$TRAPLINE" ingest --no-progress --year 2024 --data "$WORK/data" "$@" "$WORK/mixed.log" \
        >"$WORK/$label.out" 2>&1
    t1=$(date +%s.%N)
    python3 -c "print(round($LINES / ($t1 - $t0)))"
}
none=$(run none)
rules=("--rules" "$root/rules")
[ -d "$SHARED/data/sigma/rules" ] && rules+=("--rules" "$SHARED/data/sigma/rules")
all=$(run all "${rules[@]}")
loaded=$(grep -o 'rules: [0-9]* loaded' "$WORK/all.out" | grep -o '[0-9]*' || echo "?")
printf 'pipeline, no rules      %9s events/s\n' "$none"
printf 'pipeline, %5s rules    %9s events/s\n' "$loaded" "$all"
python3 -c "print(f'ratio with/without rules = {$all / $none:.2f}')"

echo
echo "SSH brute force on $LINES auth.log lines (5 failures from one address within 10 minutes):"
rm -rf "$WORK/data"
t0=$(date +%s.%N)
"$TRAPLINE" ingest --no-progress --year 2024 --data "$WORK/data" \
    --rules "$root/rules/correlation" "$WORK/auth.log" >"$WORK/bf.out" 2>&1
t1=$(date +%s.%N)
"$TRAPLINE" alerts --data "$WORK/data" --output json --limit 1000000 'rule:SSH Brute Force' |
    python3 -c "import json,sys; print('\n'.join(sorted({json.loads(l)['group_by'].get('source.ip','') for l in sys.stdin})))" \
    >"$WORK/trapline.ips"
printf 'trapline  %6.2f s  %s source addresses flagged\n' "$(python3 -c "print($t1 - $t0)")" "$(wc -l <"$WORK/trapline.ips")"
if command -v fail2ban-regex >/dev/null; then
    t0=$(date +%s.%N)
    fail2ban-regex --print-all-matched "$WORK/auth.log" /etc/fail2ban/filter.d/sshd.conf \
        >"$WORK/f2b.out" 2>&1 || true
    t1=$(date +%s.%N)
    # fail2ban-regex reports matches; a ban needs maxretry=5 within findtime=10m, as our rule.
    python3 - "$WORK/f2b.out" "$WORK/auth.log" >"$WORK/f2b.ips" <<'PY'
import re, sys, collections
matched = [l for l in open(sys.argv[1], errors="replace") if "Failed password" in l]
times = collections.defaultdict(list)
for l in matched:
    m = re.search(r"from (\S+) port", l)
    t = re.search(r"(\d\d):(\d\d):(\d\d)", l)
    if m and t:
        times[m.group(1)].append(int(t.group(1)) * 3600 + int(t.group(2)) * 60 + int(t.group(3)))
flagged = set()
for ip, ts in times.items():
    ts.sort()
    for i in range(len(ts) - 4):
        if ts[i + 4] - ts[i] <= 600:
            flagged.add(ip)
            break
print("\n".join(sorted(flagged)))
PY
    printf 'fail2ban  %6.2f s  %s source addresses flagged\n' "$(python3 -c "print($t1 - $t0)")" "$(wc -l <"$WORK/f2b.ips")"
    if diff -q "$WORK/trapline.ips" "$WORK/f2b.ips" >/dev/null; then
        echo "both flag the same source addresses"
    else
        echo "they differ: $(comm -23 "$WORK/trapline.ips" "$WORK/f2b.ips" | wc -l) only Trapline, $(comm -13 "$WORK/trapline.ips" "$WORK/f2b.ips" | wc -l) only fail2ban"
    fi
else
    echo "fail2ban-regex not installed (apt-get install fail2ban) - comparison skipped"
fi

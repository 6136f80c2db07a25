#!/usr/bin/env bash
# Disk full: the server's data directory sits on a tiny tmpfs. Senders keep sending over TCP while
# the store cannot write; the server must say so, hold the events (TCP back-pressure, no loss), and
# store every one of them once the file system grows again. Needs root (mount); skipped otherwise.
set -euo pipefail
TRAPLINE=${TRAPLINE:-build/trapline}
[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root to mount a small tmpfs"; exit 77; }
command -v python3 >/dev/null || { echo "skipped: python3 not found"; exit 77; }

work=$(mktemp -d)
mnt="$work/data"
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=1m tmpfs "$mnt" 2>/dev/null; then
    rm -rf "$work"
    echo "skipped: cannot mount tmpfs here"
    exit 77
fi
pid=
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    umount "$mnt" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$TRAPLINE" server --data "$mnt" --syslog-tcp 127.0.0.1:0 --rules off --http "" --agents "" --stats-interval 0 \
    >"$work/stdout" 2>"$work/log" &
pid=$!
for _ in $(seq 100); do grep -q listening "$work/stdout" && break; sleep 0.1; done
port=$(grep -o 'tcp=127.0.0.1:[0-9]*' "$work/stdout" | sed 's/.*://')
[ -n "$port" ] || { cat "$work/log"; echo "FAIL server did not start"; exit 1; }

N=20000
# The sender blocks in sendall while the server holds back; it runs in the background.
python3 - "$port" "$N" <<'PY' &
import datetime, socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
pad = "x" * 200
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
for i in range(n):
    s.sendall(f"<38>{now} web01 sshd[{i}]: Failed password for u{i} from 10.0.0.1 port 22 ssh2 {pad}\n".encode())
s.close()
PY
sender=$!
for _ in $(seq 200); do grep -q "cannot store events" "$work/log" && break; sleep 0.1; done
grep -q "cannot store events" "$work/log" || { tail -20 "$work/log"; echo "FAIL no disk-full report"; exit 1; }
kill -0 "$pid" || { echo "FAIL server died on a full disk"; exit 1; }
echo "disk full reported; growing the file system"
mount -o remount,size=256m "$mnt"
wait "$sender"
# The sender is through once the kernel holds its bytes: the socket buffers can take all 5 MB of
# them while the server still waits for the store. Wait until the server has read them all (no
# byte left in its receive queue), then stop it: it must write everything it accepted before
# exiting.
for _ in $(seq 600); do
    ss -tnH state all "( sport = :$port )" | awk '$2 != 0 { busy = 1 } END { exit busy }' && break
    sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || true
pid=
count=$("$TRAPLINE" search --data "$mnt" --from 2000-01-01 --to now --limit 0 --output json \
    'process.name:sshd' | grep -c '"event"' || true)
grep -q "storing events again" "$work/log" || { echo "FAIL no recovery line in the log"; exit 1; }
if [ "$count" -ne "$N" ]; then
    echo "FAIL stored $count events of $N"
    exit 1
fi
"$TRAPLINE" verify --data "$mnt" >/dev/null || { echo "FAIL verify found problems after disk full"; exit 1; }
echo "ok: $count of $N events stored after the disk filled up and grew again; verify clean"

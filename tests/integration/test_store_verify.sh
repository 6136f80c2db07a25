#!/usr/bin/env bash
# The event store end to end: `trapline ingest` writes events into DATA/events, `trapline search`
# finds them, `trapline verify` passes, and then catches a partition changed behind its back with
# the sqlite3 tool: a byte changed in a block, a block deleted, a block inserted.
set -euo pipefail

: "${TRAPLINE:?TRAPLINE must name the trapline binary}"
command -v sqlite3 >/dev/null || { echo "SKIP: the sqlite3 command-line tool is not installed"; exit 77; }
for verb in search verify; do
    if ! "$TRAPLINE" "$verb" --help >/dev/null 2>&1; then
        echo "SKIP: this trapline has no '$verb' verb yet"
        exit 77
    fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
data=$work/data
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# Ten sshd failures for root, five accepted logins for alice, all on 2024-07-09 (UTC), and one
# web request the next day.
log=$work/auth.log
for i in $(seq 0 9); do
    printf '<38>1 2024-07-09T22:40:%02d.000000Z web01 sshd 25003 - - Failed password for root from 203.0.113.%d port 5112%d ssh2\n' "$i" "$i" "$i"
done >"$log"
for i in $(seq 0 4); do
    printf '<38>1 2024-07-09T23:10:%02d.000000Z db01 sshd 4102 - - Accepted publickey for alice from 10.20.1.%d port 4421%d ssh2\n' "$i" "$i" "$i"
done >>"$log"
printf '192.0.2.200 - - [10/Jul/2024:00:00:05 +0000] "GET /wp-login.php HTTP/1.1" 404 153 "-" "curl/8.5.0"\n' >>"$log"

"$TRAPLINE" ingest --data "$data" --no-progress "$log" >"$work/ingest.out" 2>&1 ||
    fail "ingest failed: $(cat "$work/ingest.out")"
if ! ls "$data"/events/*.db >/dev/null 2>&1; then
    echo "SKIP: 'trapline ingest' does not write to the event store (DATA/events) yet"
    exit 77
fi
[ -f "$data/events/2024-07-09.db" ] || fail "no partition for 2024-07-09"
[ -f "$data/events/2024-07-10.db" ] || fail "no partition for 2024-07-10"

# Search: field values, phrases, wildcards, time ranges, output formats.
count() { "$TRAPLINE" search --data "$data" --output json "$@" | wc -l; }
n=$(count --from 2024-07-09 --to 2024-07-10 'user.name:root')
[ "$n" -eq 10 ] || fail "user.name:root: $n events, want 10"
n=$(count --from 2024-07-09 --to 2024-07-10 '"failed password" AND source.ip:203.0.113.*')
[ "$n" -eq 10 ] || fail "phrase and wildcard: $n events, want 10"
n=$(count --from 2024-07-09 --to 2024-07-09 'alice')
[ "$n" -eq 5 ] || fail "alice on 2024-07-09: $n events, want 5"
n=$(count --from 2024-07-10 --to 2024-07-10 'wp-login.php')
[ "$n" -eq 1 ] || fail "next day's request: $n events, want 1"
n=$(count --from 2024-07-09 --to 2024-07-10 --limit 3 '')
[ "$n" -eq 3 ] || fail "--limit 3: $n events"
first=$("$TRAPLINE" search --data "$data" --output json --from 2024-07-09 --to 2024-07-09 --limit 1 sshd)
case $first in
*'"@timestamp":"2024-07-09T23:10:04'*) ;;
*) fail "newest first: got $first" ;;
esac
"$TRAPLINE" search --data "$data" --output csv --from 2024-07-09 --to 2024-07-09 --limit 2 alice |
    head -1 | grep -q '^@timestamp,host.name' || fail "csv header"
if "$TRAPLINE" search --data "$data" 'user.name:(root' 2>"$work/err.txt"; then
    fail "a syntax error must fail"
fi
grep -q 'column 11' "$work/err.txt" || fail "syntax error without its column: $(cat "$work/err.txt")"

# Untouched, the store verifies.
"$TRAPLINE" verify --data "$data" >"$work/verify.out" || fail "verify of an untouched store: $(cat "$work/verify.out")"
grep -q 'no findings' "$work/verify.out" || fail "verify summary: $(cat "$work/verify.out")"

part=$data/events/2024-07-09.db
cp "$part" "$work/pristine.db"
restore() { cp "$work/pristine.db" "$part"; rm -f "$part-wal" "$part-shm"; }
id=$(sqlite3 "$part" 'SELECT min(id) FROM blocks')
[ -n "$id" ] || fail "no block in $part"

expect_finding() { # WHAT PATTERN
    if "$TRAPLINE" verify --data "$data" >"$work/verify.out" 2>&1; then
        fail "verify missed: $1 ($(cat "$work/verify.out"))"
    fi
    grep -q -- "$2" "$work/verify.out" || fail "verify did not name $1: $(cat "$work/verify.out")"
}

# 1. One byte of a block changed.
sqlite3 "$part" "UPDATE blocks SET data = substr(data, 1, 40) || x'5a' || substr(data, 42) WHERE id = $id"
expect_finding "a changed byte" "ALTERED .*block $id "
restore

# 2. A block deleted.
sqlite3 "$part" "DELETE FROM blocks WHERE id = $id"
expect_finding "a deleted block" "DELETED .*block $id "
restore

# 3. A block inserted (a copy of an existing one under a new id).
sqlite3 "$part" "INSERT INTO blocks(id, min_ts, max_ts, count, meta, data) SELECT 1000, min_ts, max_ts, count, meta, data FROM blocks WHERE id = $id"
expect_finding "an inserted block" "INSERTED .*block 1000 "
restore

# 4. A whole partition deleted.
mv "$data/events/2024-07-10.db" "$work/"
expect_finding "a deleted partition" "2024-07-10 .*DELETED"
mv "$work/2024-07-10.db" "$data/events/"

"$TRAPLINE" verify --data "$data" >"$work/verify.out" || fail "verify after restoring: $(cat "$work/verify.out")"

# 5. The last block of 2024-07-09 and its chain entry deleted, the head moved back to the entry
# before it: only the head's signature shows it. More events for that day are then ingested; the
# writer must not sign a new head over the truncated chain, and verify must still say so.
printf '<38>1 2024-07-09T23:40:00.000000Z web01 sshd 25003 - - Failed password for carol from 203.0.113.98 port 40001 ssh2\n' >"$work/carol.log"
"$TRAPLINE" ingest --data "$data" --no-progress "$work/carol.log" >"$work/ingest.out" 2>&1 ||
    fail "ingest of a second block failed: $(cat "$work/ingest.out")"
last=$(sqlite3 "$part" 'SELECT max(seq) FROM chain')
[ "$last" -ge 2 ] || fail "2024-07-09 should have two blocks, has $last"

sqlite3 "$part" "DELETE FROM blocks WHERE id = $last; DELETE FROM chain WHERE seq = $last;
    UPDATE head SET seq = $((last - 1)), hash = (SELECT hash FROM chain WHERE seq = $((last - 1)))"
expect_finding "a truncated chain" "the head signature does not match"
printf '<38>1 2024-07-09T23:50:00.000000Z web01 sshd 25003 - - Failed password for bob from 203.0.113.99 port 40000 ssh2\n' >"$work/more.log"
"$TRAPLINE" ingest --data "$data" --no-progress "$work/more.log" >"$work/ingest.out" 2>&1 ||
    fail "ingest after the truncation failed: $(cat "$work/ingest.out")"
grep -q 'moved aside' "$work/ingest.out" || fail "the writer did not set the partition aside: $(cat "$work/ingest.out")"
expect_finding "a truncated chain after a write" "2024-07-09.db.altered."
n=$(count --from 2024-07-09 --to 2024-07-09 'user.name:bob')
[ "$n" -eq 1 ] || fail "the event written after the truncation: $n, want 1"

echo "ok: ingest, search and verify; altered, deleted and inserted blocks, and a truncated chain a later write did not hide, caught"

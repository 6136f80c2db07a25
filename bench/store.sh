#!/usr/bin/env bash
# Event store benchmark: write throughput through the store's append (the sink's write), bytes on
# disk per event against the raw log text, search latencies, and the per-block index comparison
# (Bloom filter against a term dictionary with postings) that docs/storage.md quotes.
#
# The events are realistic syslog lines (sshd, sudo, cron, PAM, systemd, kernel firewall, nginx,
# auditd; varying hosts, users, addresses, ports, pids) parsed by Trapline's own parsers, from
# tests/unit/store_fixture.h. Not part of `make test`.
#
# usage: bench/store.sh [EVENTS]   (BUILD=a Release/RelWithDebInfo build directory, default build;
#                                   its store_bench target is built and run)
#        CALLGRIND=1 bench/store.sh   instructions per event of the store's append, counted by
#                                   valgrind on 20,480 events: repeatable on a shared machine, where
#                                   wall and CPU times are not (valgrind hides the CPU's SHA
#                                   instructions, so SHA-256 counts about 25,000 per event more
#                                   than it costs natively)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
BUILD=${BUILD:-$root/build}
EVENTS=${1:-200000}
[ -f "$BUILD/CMakeCache.txt" ] || { echo "configure a release build first (make), or set BUILD"; exit 1; }
cmake --build "$BUILD" --target store_bench >/dev/null
bench="$BUILD/bench/store_bench"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "${CALLGRIND:-0}" = 1 ]; then
    command -v valgrind >/dev/null || { echo "valgrind not found"; exit 1; }
    valgrind --tool=callgrind --toggle-collect=trl_store_append_encoded \
        --callgrind-out-file="$work/cg.out" "$bench" write "$work/data-cg" 20480 2048 3 \
        10 normal 2>"$work/cg.log" | grep -E "on disk"
    ir=$(grep -o 'Collected : [0-9]*' "$work/cg.log" | grep -o '[0-9]*$')
    echo "append: $ir instructions = $((ir / 20480)) per event"
    exit 0
fi

echo "== index comparison"
"$bench" index 40960
for level in 1 3 6; do
    echo
    echo "== write, batches of 2048, zstd level $level"
    "$bench" write "$work/data-$level" "$EVENTS" 2048 "$level" 10 full 2>/dev/null
done
echo
echo "== write, batches of 100 (a quiet server), then compaction"
"$bench" write "$work/data-small" $((EVENTS / 4)) 100 3 10 full 2>/dev/null | head -4
echo
echo "== write, synchronous=NORMAL"
"$bench" write "$work/data-normal" "$EVENTS" 2048 3 10 normal 2>/dev/null | head -4

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
#                                   its libtrl.a is linked into the benchmark program)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
BUILD=${BUILD:-$root/build}
EVENTS=${1:-200000}
[ -f "$BUILD/libtrl.a" ] || { echo "build Trapline first (make), or set BUILD"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The same libraries CMakeLists.txt links.
libs=$(pkg-config --libs openssl libuv jansson json-c yaml-0.1 libpcre2-8 libzstd sqlite3 libcurl \
    libsystemd libhs)
cc -std=gnu17 -O2 -D_GNU_SOURCE -I"$root/src" -o "$work/store_bench" "$here/store_bench.c" \
    "$BUILD/libtrl.a" $libs -lpthread -lm

echo "== index comparison"
"$work/store_bench" index 40960
for level in 1 3 6; do
    echo
    echo "== write, batches of 2048, zstd level $level"
    "$work/store_bench" write "$work/data-$level" "$EVENTS" 2048 "$level" 10 full 2>/dev/null
done
echo
echo "== write, batches of 100 (a quiet server), then compaction"
"$work/store_bench" write "$work/data-small" $((EVENTS / 4)) 100 3 10 full 2>/dev/null | head -4
echo
echo "== write, synchronous=NORMAL"
"$work/store_bench" write "$work/data-normal" "$EVENTS" 2048 3 10 normal 2>/dev/null | head -4

#!/usr/bin/env bash
# Indicator matching benchmark: time to load 1,000,000 indicators (from memory and through
# DATA/ioc.db), the cost of matching parsed events against them, as ns/event and as a share of
# parsing alone, and end to end: `trapline ingest` events/s with 0 and with 1,000,000 indicators
# and the ratio. Not part of `make test`.
#
# usage: bench/ioc.sh [INDICATORS] [EVENTS]   (BUILD=a release build directory, default build;
#                                              LINES_E2E lines for the end-to-end ingest, 500000;
#                                              a sanitizer build gives meaningless figures)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
BUILD=${BUILD:-$root/build}
INDICATORS=${1:-1000000}
EVENTS=${2:-200000}
[ -f "$BUILD/CMakeCache.txt" ] || { echo "configure a release build first (make), or set BUILD"; exit 1; }
cmake --build "$BUILD" --target ioc_bench >/dev/null

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$BUILD/bench/ioc_bench" "$INDICATORS" "$EVENTS" "$WORK"

# End to end: `trapline ingest` of the same kind of lines (parse, normalise, encode, written as
# JSON lines: the generated lines fall on random days, which would measure the store's day
# partitions rather than matching), with --ioc (threat.indicator.* fields and an alert per hit)
# against no indicators and against the 1,000,000 above (WORK/ioc.db), so that the runs differ only
# in the indicators loaded.
TRAPLINE=${TRAPLINE:-$BUILD/trapline}
if [ -x "$TRAPLINE" ]; then
    LINES_E2E=${LINES_E2E:-500000}
    "$BUILD/bench/ioc_bench" --lines "$INDICATORS" "$LINES_E2E" "$WORK/events.log"
    ingest_once() { # empty|loaded: the indicator database the run matches against
        rm -rf "$WORK/store"
        mkdir -p "$WORK/store"
        [ "$1" = loaded ] && cp "$WORK/ioc.db" "$WORK/store/"
        "$TRAPLINE" ingest --no-progress --data "$WORK/store" --output "$WORK/store/out.jsonl" \
            --ioc "$WORK/events.log" 2>&1 | sed -n 's/.* \([0-9]*\) events\/s.*/\1/p' | head -1
    }
    # Alternating runs, the best of each kept: a busy moment of the machine then hits both alike.
    plain=0
    with=0
    for _ in 1 2 3 4 5; do
        r=$(ingest_once empty)
        [ "${r:-0}" -gt "$plain" ] && plain=$r
        r=$(ingest_once loaded)
        [ "${r:-0}" -gt "$with" ] && with=$r
    done
    echo
    printf 'ingest, 0 indicators         %9s events/s (%s lines)\n' "$plain" "$LINES_E2E"
    printf 'ingest, %s indicators  %9s events/s\n' "$INDICATORS" "$with"
    awk -v a="$plain" -v b="$with" 'BEGIN { printf "ratio with/without = %.3f (ingest %.1f%% slower; target < 10%%)\n", b / a, 100 * (1 - b / a) }'
fi

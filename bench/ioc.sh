#!/usr/bin/env bash
# Indicator matching benchmark: time to load 1,000,000 indicators (from memory and through
# DATA/ioc.db), and the cost of matching parsed events against them, as ns/event and as a share
# of parsing (the ingest path). Not part of `make test`.
#
# usage: bench/ioc.sh [INDICATORS] [EVENTS]   (BUILD=a release build directory, default build;
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

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
[ -f "$BUILD/libtrl.a" ] || { echo "build the library first (make), or set BUILD"; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# shellcheck disable=SC2046
cc -O2 -std=gnu17 -D_GNU_SOURCE -I"$root/src" "$here/ioc_bench.c" "$BUILD/libtrl.a" \
    $(pkg-config --libs openssl libuv jansson json-c yaml-0.1 libpcre2-8 libzstd sqlite3 libcurl \
        libsystemd) -lpthread -lm -o "$WORK/ioc_bench"
"$WORK/ioc_bench" "$INDICATORS" "$EVENTS" "$WORK"

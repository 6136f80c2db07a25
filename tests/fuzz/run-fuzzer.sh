#!/usr/bin/env bash
# Runs one libFuzzer target briefly over a scratch copy of its seed corpus (the committed corpus is
# never modified). FUZZ_SECONDS sets the duration (default 20).
set -euo pipefail
target=$1
corpus=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null || true
exec "$target" -max_total_time="${FUZZ_SECONDS:-20}" -max_len=70000 -rss_limit_mb=1024 \
    -print_final_stats=1 "$work"

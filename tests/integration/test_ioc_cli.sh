#!/usr/bin/env bash
# `trapline ioc`: import every shared threat-intelligence sample (format detected by content), list
# and filter what was stored, match the web server logs of the synthetic intrusion, remove an
# indicator by id and check that it no longer matches.
set -euo pipefail

TRAPLINE=${TRAPLINE:-build/trapline}
ti=${TRL_SHARED:-}/data/ti
logs=${TRL_SHARED:-}/data/linux-samples

if [ -z "${TRL_SHARED:-}" ] || [ ! -d "$ti" ]; then
    echo "skipped: TRL_SHARED/data/ti is not there"
    exit 77
fi
if ! "$TRAPLINE" ioc --help >/dev/null 2>&1; then
    echo "skipped: this trapline has no ioc verb"
    exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
check() { # check DESCRIPTION COMMAND...: runs the command, reports FAIL when it fails
    local what=$1
    shift
    if "$@"; then
        echo "ok   $what"
    else
        echo "FAIL $what"
        fail=1
    fi
}

"$TRAPLINE" ioc import --data "$work" "$ti"/stix/bundle-apt40-synthetic.json \
    "$ti"/misp/event-apt40-synthetic.json "$ti"/misp/feed "$ti"/misp/simple-csv-feed.csv \
    "$ti"/misp/freetext-feed.txt "$ti"/feeds/* >"$work/import.out"
cat "$work/import.out"
check "STIX bundle: 7 imported, the FOLLOWEDBY pattern reported" \
    grep -q "correlated pattern: not matched per event" "$work/import.out"
check "MISP event: to_ids=false attributes are context" \
    grep -q "8 indicators imported (6 new, 2 updated), 0 records skipped, 0 notes, 2 context" \
    "$work/import.out"
check "every feed was recognised" bash -c "! grep -q 'not imported' '$work/import.out'"

"$TRAPLINE" ioc list --data "$work" --output json --limit 0 >"$work/all.jsonl"
check "list: indicators from every source" bash -c \
    "for s in stix misp simple-csv-feed freetext-feed feodo spamhaus threatfox urlhaus; do
         grep -q \"\\\"source\\\":\\\"\$s\\\"\" '$work/all.jsonl' || exit 1; done"
check "list type:ip source:spamhaus gives the DROP networks" bash -c \
    "[ \$('$TRAPLINE' ioc list --data '$work' --output json type:ip source:spamhaus | wc -l) -eq 3 ]"

"$TRAPLINE" ioc match --data "$work" "$logs"/web01-nginx-access.log >"$work/hits.jsonl" \
    2>"$work/match.err"
cat "$work/match.err"
check "match: the redirector address hits in source.ip" \
    grep -q '"field":"source.ip","value":"203.0.113.45"' "$work/hits.jsonl"
check "match: hits are JSON lines" python3 -c "
import json, sys
for line in open('$work/hits.jsonl'):
    h = json.loads(line)
    assert h['indicator']['type'] and h['indicator']['source'] and h['line'] > 0
"

"$TRAPLINE" ioc match --data "$work" --enrich "$logs"/web01-nginx-access.log \
    >"$work/enriched.jsonl" 2>/dev/null
check "match --enrich: events carry threat.indicator fields" python3 -c "
import json
n = 0
for line in open('$work/enriched.jsonl'):
    ev = json.loads(line)
    ind = ev['threat']['indicator']
    assert ind['type'] and ind['provider'] and ind['confidence'] in ('None', 'Low', 'Medium', 'High')
    n += 1
assert n > 0
"

check "remove a MISP attribute by its uuid" \
    "$TRAPLINE" ioc remove --data "$work" 07e57a77-0000-0000-0400-080000000000
check "removing it again fails" bash -c \
    "! '$TRAPLINE' ioc remove --data '$work' 07e57a77-0000-0000-0400-080000000000 2>/dev/null"
"$TRAPLINE" ioc match --data "$work" "$logs"/web01-nginx-access.log >"$work/hits2.jsonl" \
    2>/dev/null
check "the removed attribute no longer matches" bash -c \
    "! grep -q '07e57a77-0000-0000-0400-080000000000' '$work/hits2.jsonl'"

check "a file in no known format is refused" bash -c \
    "printf '\\x00\\x01binary' >'$work/bin' && ! '$TRAPLINE' ioc import --data '$work' '$work/bin' >/dev/null"

exit $fail

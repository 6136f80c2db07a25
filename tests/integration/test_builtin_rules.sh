#!/usr/bin/env bash
# Trapline's built-in Sigma rules (rules/): every file loads with nothing invalid or unsupported,
# and every rule fires on its positive test events and stays silent on its negative ones.
#
# For rules/<dir>/<stem>.yml the events are tests/detections/<stem>/positive.json and negative.json.
# A file may hold several rules. The rules expected to report are every correlation and every
# detection rule except the base rules that a correlation in the same file refers to (those report
# only through the correlation, unless it says `generate: true`). Each of them must match at least once in
# positive.json and never in negative.json.
set -euo pipefail

TRAPLINE=${TRAPLINE:-build/trapline}
src=${TRL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}

if ! command -v python3 >/dev/null || ! python3 -c 'import yaml' 2>/dev/null; then
    echo "skipped: python3 with PyYAML is needed to read the rule files"
    exit 77
fi

fail=0

# (a) The whole rule set loads: zero invalid, zero unsupported.
if ! check=$("$TRAPLINE" rules check "$src/rules" 2>&1); then
    echo "FAIL rules check:"
    echo "$check" | sed 's/^/    /'
    fail=1
else
    echo "rules check: $check"
fi

# (b) Each file against its own test events.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
nfiles=0
while IFS= read -r -d '' rule; do
    nfiles=$((nfiles + 1))
    stem=$(basename "$rule" .yml)
    dir="$src/tests/detections/$stem"
    for kind in positive negative; do
        if [ ! -s "$dir/$kind.json" ]; then
            echo "FAIL $rule: $dir/$kind.json is missing or empty"
            fail=1
            continue 2
        fi
    done
    "$TRAPLINE" rules test --rules "$rule" "$dir/positive.json" >"$work/pos.out" 2>"$work/pos.err" ||
        { echo "FAIL $rule: rules test exited with an error on positive.json"; sed 's/^/    /' "$work/pos.err"; fail=1; }
    "$TRAPLINE" rules test --rules "$rule" "$dir/negative.json" >"$work/neg.out" 2>"$work/neg.err" ||
        { echo "FAIL $rule: rules test exited with an error on negative.json"; sed 's/^/    /' "$work/neg.err"; fail=1; }
    python3 - "$rule" "$work/pos.out" "$work/neg.out" <<'EOF' || fail=1
import json, sys, yaml

rule_file, pos_out, neg_out = sys.argv[1:4]
docs = [d for d in yaml.safe_load_all(open(rule_file)) if isinstance(d, dict)]
quiet = set()
for d in docs:
    corr = d.get("correlation")
    if corr and str(corr.get("generate", d.get("generate", False))).lower() != "true":
        refs = corr.get("rules")
        quiet.update([refs] if isinstance(refs, str) else refs or [])
# Correlations always report, even when another correlation builds on them.
expected = {d["id"]: d.get("title", "") for d in docs
            if d.get("id") and ("correlation" in d or
                                (d["id"] not in quiet and d.get("name") not in quiet))}

def matched(path):
    ids = {}
    for line in open(path):
        if line.strip():
            m = json.loads(line)
            ids[m["rule_id"]] = ids.get(m["rule_id"], 0) + 1
    return ids

pos, neg = matched(pos_out), matched(neg_out)
ok = True
for rid, title in expected.items():
    if rid not in pos:
        print(f"FAIL {rule_file}: '{title}' ({rid}) did not match positive.json")
        ok = False
    if rid in neg:
        print(f"FAIL {rule_file}: '{title}' ({rid}) matched negative.json {neg[rid]} time(s)")
        ok = False
if not expected:
    print(f"FAIL {rule_file}: no rule in the file reports anything")
    ok = False
sys.exit(0 if ok else 1)
EOF
done < <(find "$src/rules" -name '*.yml' -print0 | sort -z)

if [ "$nfiles" -eq 0 ]; then
    echo "FAIL no rule files under $src/rules"
    fail=1
fi
echo "built-in rules: $nfiles files checked"
exit $fail

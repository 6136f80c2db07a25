#!/usr/bin/env python3
"""Every SigmaHQ regression rule in ../shared fires on exactly the events its test data says.

For each row of data/sigma/regression/MANIFEST.tsv that has events, runs
`trapline rules test --rules DIR/rule.yml DIR/EVENTS` and compares the matched event indexes
with the reference indexes recorded with the rule's test data.
"""
import csv
import json
import os
import subprocess
import sys

trapline = os.environ.get("TRAPLINE", "build/trapline")
shared = os.environ.get("TRL_SHARED", "../shared")
root = os.path.join(shared, "data", "sigma", "regression")
manifest = os.path.join(root, "MANIFEST.tsv")
if not os.path.exists(manifest):
    print(f"skipped: {manifest} not found (shared data absent)")
    sys.exit(77)

passed = failed = skipped = 0
with open(manifest, newline="") as f:
    for row in csv.DictReader(f, delimiter="\t"):
        if row["events_file"] in ("-", ""):
            skipped += 1
            continue
        d = os.path.join(root, row["dir"])
        want = sorted(int(x) for x in row["reference_matching_event_indexes"].split(",") if x.strip().isdigit())
        out = subprocess.run(
            [trapline, "rules", "test", "--rules", os.path.join(d, "rule.yml"),
             os.path.join(d, row["events_file"])],
            capture_output=True, text=True, timeout=60)
        got = sorted(json.loads(line)["event_index"] for line in out.stdout.splitlines()
                     if line.strip() and json.loads(line).get("rule_id") == row["rule_id"])
        if out.returncode == 0 and got == want:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {row['dir']}: want {want}, got {got} (exit {out.returncode})")
            if out.stderr.strip():
                print("     " + out.stderr.strip().replace("\n", "\n     "))

print(f"sigma regression: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)

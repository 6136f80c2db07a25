#!/usr/bin/env python3
"""Checks events in a JSON lines file against expectations, field by field.

usage: jsonl_check.py EVENTS.jsonl SPEC

SPEC has one expectation per line, tab-separated: TOKEN, FIELD, WANT. The event checked is the one
whose event.original contains TOKEN (exactly one must). FIELD is a dotted ECS name, looked up in
the nested JSON (a key that itself contains dots is found too). WANT is the expected value as
text; "re:PATTERN" matches a regular expression, "-" means the field must be absent.
Prints every mismatch and exits 1 if there was any.
"""
import json
import re
import sys


def lookup(obj, path):
    """Finds a dotted path in nested dicts, also when some keys contain dots themselves."""
    if path in obj:
        return obj[path]
    parts = path.split(".")
    for i in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:i])
        if head in obj and isinstance(obj[head], dict):
            found = lookup(obj[head], ".".join(parts[i:]))
            if found is not None:
                return found
    return None


def as_text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return str(v)


def main():
    events = []
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            try:
                events.append(json.loads(line))
            except ValueError as e:
                print(f"line {n} is not JSON: {e}")
                return 1
    failures = 0
    checked = 0
    with open(sys.argv[2], encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            token, field, want = line.split("\t")
            matches = [e for e in events if token in as_text(lookup(e, "event.original") or "")]
            if len(matches) != 1:
                print(f"{token}: expected exactly one event, found {len(matches)}")
                failures += 1
                continue
            got = lookup(matches[0], field)
            checked += 1
            if want == "-":
                ok = got is None
            elif got is None:
                ok = False
            elif want.startswith("re:"):
                ok = re.fullmatch(want[3:], as_text(got)) is not None
            else:
                ok = as_text(got) == want
            if not ok:
                failures += 1
                print(f"{token}: {field}: want {want!r}, got {as_text(got) if got is not None else '(absent)'!r}")
    print(f"{checked} field checks, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

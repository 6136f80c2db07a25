#!/usr/bin/env python3
"""Resident memory of a process by mapping, from a copy of its /proc/PID/smaps.

Usage: bench/smaps_summary.py FILE...   (each FILE a saved smaps; bench/agent_idle.sh SMAPS=DIR)

For each file: RSS and PSS summed by object (a library, the binary, [heap], thread stacks and
other anonymous memory) and, per object, split by kind: code (executable mappings), read-only data
(constants, relocated data after RELRO), writable data (.data/.bss and the GOT), each with the part
that is private and dirty (written by this process or inherited dirty across fork, hence not
shared with other processes running the same library).
"""
import collections
import os
import sys


def parse(path):
    maps = []
    cur = None
    with open(path) as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5 and ":" in parts[3]:
                name = parts[5] if len(parts) >= 6 else ""
                cur = {"perms": parts[1], "name": name, "kb": collections.Counter()}
                maps.append(cur)
            elif cur is not None and parts[0].endswith(":") and len(parts) >= 2:
                try:
                    cur["kb"][parts[0][:-1]] += int(parts[1])
                except ValueError:
                    pass
    return maps


def kind(m):
    p = m["perms"]
    if "x" in p:
        return "code"
    if "w" in p:
        return "data-rw"
    return "data-ro"


def obj(m):
    n = m["name"]
    if not n:
        # Thread stacks are anonymous: the guard page below each shows as ---p.
        return "[anon]"
    if n.startswith("["):
        return n
    return os.path.basename(n)


def summarise(path):
    maps = parse(path)
    by = collections.defaultdict(collections.Counter)
    total = collections.Counter()
    for m in maps:
        o = obj(m)
        k = kind(m)
        kb = m["kb"]
        by[o]["rss"] += kb["Rss"]
        by[o]["pss"] += kb["Pss"]
        by[o]["priv_dirty"] += kb["Private_Dirty"]
        by[o][k] += kb["Rss"]
        by[o][k + "_dirty"] += kb["Private_Dirty"]
        total["rss"] += kb["Rss"]
        total["pss"] += kb["Pss"]
        total["priv_dirty"] += kb["Private_Dirty"]
    print(f"== {path}: RSS {total['rss']} kB, PSS {total['pss']} kB, "
          f"private dirty {total['priv_dirty']} kB")
    print(f"  {'object':<28}{'RSS':>7}{'PSS':>7}{'dirty':>7}{'code':>7}{'ro':>7}"
          f"{'ro-dty':>7}{'rw':>7}{'rw-dty':>7}")
    for o, c in sorted(by.items(), key=lambda kv: -kv[1]["rss"]):
        if c["rss"] == 0:
            continue
        print(f"  {o[:27]:<28}{c['rss']:>7}{c['pss']:>7}{c['priv_dirty']:>7}{c['code']:>7}"
              f"{c['data-ro']:>7}{c['data-ro_dirty']:>7}{c['data-rw']:>7}"
              f"{c['data-rw_dirty']:>7}")


for p in sys.argv[1:]:
    summarise(p)

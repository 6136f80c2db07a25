#!/usr/bin/env python3
"""An agent started on a spool written in the earlier record layout delivers it exactly once.

Spools used to hold a file line as its event's JSON after the line's position in text
("\\x1e<offset> <end> <crc>\\n"); they now hold the line itself (src/agent/line_record.h). This test
writes, by hand, a spool segment in the earlier layout: the first line of a log file, and an event
of another source (plain JSON). The tailed file has no saved offset, so the agent reads the file
from its start: the first line must be recognised by its position and not spooled a second time;
the lines after it are spooled in the new layout. In the store: each line exactly once, the other
event once, and the first line's event as the earlier agent made it. Then tail.seq, where a restart
looks for lines spooled after the last offsets commit, must have moved past them.

Environment: TRAPLINE (the binary). Exit 77 skips.
"""
import json
import os
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent_lib import AgentHarness, trapline_from_env  # noqa: E402


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli, reflected), as the agent's trl_crc32c()."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def record(seq, payload):
    """A spool record: u32 length, u32 CRC-32C of length, sequence and payload, u64 sequence."""
    length = struct.pack("<I", len(payload))
    seqb = struct.pack("<Q", seq)
    return length + struct.pack("<I", crc32c(length + seqb + payload)) + seqb + payload


def main():
    trapline = trapline_from_env()
    work = tempfile.mkdtemp(prefix="trl-spool-upgrade-")
    run = AgentHarness(trapline, work)
    try:
        run.start_server()
        agent_id = run.enroll()
        log = os.path.join(work, "app.log")
        lines = [f"spool upgrade line {i} tok-upg-{i}" for i in (1, 2, 3)]
        with open(log, "w") as f:
            f.write("".join(line + "\n" for line in lines))

        first = lines[0].encode()
        earlier_event = {
            "@timestamp": "2026-11-27T21:03:46.000000000Z",
            "event": {"created": "2026-11-27T21:03:46.500000000Z", "kind": "event",
                      "original": lines[0]},
            "host": {"name": "upgrade-host"},
            "log": {"file": {"path": log}},
            "message": lines[0],
            "labels": {"spooled_by": "earlier-agent"},
        }
        other_event = {
            "@timestamp": "2026-11-27T21:03:47.000000000Z",
            "event": {"action": "spool-upgrade-check", "kind": "event", "original": ""},
            "host": {"name": "upgrade-host"},
            "message": "an event of another source tok-upg-other",
        }
        pos = f"\x1e0 {len(first) + 1} {crc32c(first)}\n".encode()
        seg = (record(1, pos + json.dumps(earlier_event).encode())
               + record(2, json.dumps(other_event).encode()))
        spool = os.path.join(run.state, "spool")
        os.makedirs(spool, mode=0o700, exist_ok=True)
        with open(os.path.join(spool, "00000001.seg"), "wb") as f:
            f.write(seg)

        run.start_agent("--tail", log, "--no-default-sources")
        want = {"tok-upg-1", "tok-upg-2", "tok-upg-3", "tok-upg-other"}
        deadline = time.monotonic() + 60
        while True:
            events = run.search(f"agent.id:{agent_id}")
            found = {}
            for ev in events:
                msg = ev.get("message", "")
                for tok in want:
                    if msg.endswith(tok):
                        found.setdefault(tok, []).append(ev)
            if set(found) == want or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        # The agent's own events (health, start) may be there too; the four above must be once.
        missing = want - set(found)
        if missing:
            run.fail(f"not delivered: {sorted(missing)}")
        twice = {tok: len(evs) for tok, evs in found.items() if len(evs) != 1}
        if twice:
            run.fail(f"delivered more than once: {twice}")
        ev1 = found["tok-upg-1"][0]
        if ev1.get("labels", {}).get("spooled_by") != "earlier-agent":
            run.fail(f"the first line was not delivered from the earlier record: {ev1}")
        ev2 = found["tok-upg-2"][0]
        if ev2.get("event", {}).get("original") != lines[1] or \
                ev2.get("log", {}).get("file", {}).get("path") != log:
            run.fail(f"a line spooled in the new layout lost its original or path: {ev2}")
        # The offsets commit (every second) records in tail.seq where the lines it does not cover
        # start: past the two records above and the two lines spooled after them.
        seq_path = os.path.join(run.state, "tail.seq")
        deadline = time.monotonic() + 10
        tail_seq = 0
        while time.monotonic() < deadline:
            try:
                with open(seq_path) as f:
                    tail_seq = int(f.read().strip() or 0)
            except (OSError, ValueError):
                tail_seq = 0
            if tail_seq >= 5:
                break
            time.sleep(0.2)
        if tail_seq < 5:
            run.fail(f"tail.seq did not advance past the spooled lines: {tail_seq}")
        print(f"delivered {len(want)} events once each from a spool of the earlier layout; "
              f"tail.seq={tail_seq}")
    finally:
        run.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

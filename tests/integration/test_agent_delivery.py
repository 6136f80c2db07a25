#!/usr/bin/env python3
"""End-to-end delivery of `trapline agent` to `trapline server`: nothing lost, nothing twice.

A server runs on a temporary data directory with its agent listener on a free loopback port; an
agent is enrolled with a token and tails one file (no default sources). While 200,000 lines are
appended, the file is rotated by rename once and by copytruncate once, the server is killed with
SIGKILL twice and the agent once (each restarted on the same data, state and ports). At the end
every line must be in the store exactly once (counted by the unique token each line carries).

Environment: TRAPLINE (the binary). Exit 77 skips.
"""
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent_lib import AgentHarness, trapline_from_env  # noqa: E402

LINES = 200_000
CHUNK = 5_000
# Delivery must keep moving: fail when the committed position stands still this long (sanitizer
# builds on a busy machine are slow, so there is no fixed total beyond DEADLINE_S).
STALL_S = 60
DEADLINE_S = 480


class Run(AgentHarness):
    def __init__(self, trapline, work):
        super().__init__(trapline, work)
        self.log = os.path.join(work, "app.log")
        self.server = None
        self.agent = None
        self.server_starts = 0
        self.agent_starts = 0

    def start_server(self):
        self.server_starts += 1
        self.server = super().start_server()

    def start_agent(self):
        self.agent_starts += 1
        self.agent = super().start_agent("--tail", self.log, "--no-default-sources")

    def kill9(self, proc):
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def tail_offset(self):
        """The offset the agent has committed for the current app.log (by inode), or -1."""
        try:
            ino = os.stat(self.log).st_ino
            with open(os.path.join(self.state, "tail.offsets")) as f:
                for line in f:
                    parts = line.split(" ", 5)
                    if len(parts) == 6 and parts[1] == str(ino):
                        return int(parts[2])
        except (OSError, ValueError):
            pass
        return -1

    def committed(self, agent_id):
        """The highest seq the server committed for the agent (agents.db), or 0."""
        try:
            db = sqlite3.connect(f"file:{self.data}/agents.db?mode=ro", uri=True, timeout=2)
            try:
                row = db.execute("SELECT last_seq FROM agents WHERE id = ?",
                                 (agent_id,)).fetchone()
            finally:
                db.close()
            return int(row[0] or 0) if row else 0
        except sqlite3.Error:
            return 0


def line(n):
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return f"<13>1 {ts} testhost deliveryapp 42 - - delivery check tok{n:07d} end\n"


def main():
    trapline = trapline_from_env()
    work = tempfile.mkdtemp(prefix="trl-agent-")
    run = Run(trapline, work)
    t0 = time.monotonic()
    try:
        run.start_server()
        agent_id = run.enroll()
        open(run.log, "w").close()
        run.start_agent()

        written = 0
        out = open(run.log, "a")
        while written < LINES:
            out.write("".join(line(n) for n in range(written + 1, written + CHUNK + 1)))
            out.flush()
            written += CHUNK
            time.sleep(0.05)
            if written == 40_000 or written == 120_000:
                run.kill9(run.server)
                time.sleep(0.3)
                run.start_server()
            elif written == 60_000:
                out.close()
                os.rename(run.log, run.log + ".1")
                out = open(run.log, "a")
            elif written == 90_000:
                run.kill9(run.agent)
                run.start_agent()
            elif written == 140_000:
                # copytruncate loses what the reader has not read yet, by design: let the
                # agent reach the end first, as a real logrotate run would hope for.
                out.close()
                size = os.path.getsize(run.log)
                until = time.monotonic() + 60
                while run.tail_offset() < size:
                    if time.monotonic() > until:
                        run.fail("the agent did not catch up before copytruncate")
                    time.sleep(0.1)
                shutil.copyfile(run.log, run.log + ".2")
                os.truncate(run.log, 0)
                out = open(run.log, "a")
        out.close()
        t_written = time.monotonic()

        # Each line got one sequence number: all are stored once the server committed LINES.
        last, last_change = 0, time.monotonic()
        until = time.monotonic() + DEADLINE_S
        while last < LINES:
            now = time.monotonic()
            if now > until or now - last_change > STALL_S:
                run.fail(f"delivery stalled at seq {last} of {LINES}")
            seq = run.committed(agent_id)
            if seq != last:
                last, last_change = seq, now
            time.sleep(0.5)
        t_done = time.monotonic()
        # A moment longer, to see duplicates that would still be on their way.
        time.sleep(1.5)
        events = run.search(f"agent.id:{agent_id} | fields message")
        seen = {}
        for ev in events:
            msg = ev.get("message", "")
            i = msg.find("tok")
            if i < 0:
                run.fail(f"event without a token: {msg!r}")
            tok = msg[i + 3:i + 10]
            seen[tok] = seen.get(tok, 0) + 1
        missing = [n for n in range(1, LINES + 1) if f"{n:07d}" not in seen]
        dups = {t: c for t, c in seen.items() if c > 1}
        print(f"lines={LINES} stored={len(events)} distinct={len(seen)} missing={len(missing)} "
              f"duplicated={len(dups)} server_starts={run.server_starts} "
              f"agent_starts={run.agent_starts} write_s={t_written - t0:.1f} "
              f"delivered_s={t_done - t0:.1f} rate={LINES / max(t_done - t0, 0.001):.0f}/s")
        if missing:
            run.fail(f"{len(missing)} lines missing, first {missing[:5]}")
        if dups:
            run.fail(f"{len(dups)} lines stored more than once, e.g. {list(dups.items())[:5]}")
        if len(events) != LINES:
            run.fail(f"stored {len(events)} events for {LINES} lines")
        run.stop()
        print("PASS")
    finally:
        run.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

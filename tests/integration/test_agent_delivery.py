#!/usr/bin/env python3
"""End-to-end delivery of `trapline agent` to `trapline server`: nothing lost, nothing twice.

A server runs on a temporary data directory with its agent listener on a free loopback port; an
agent is enrolled with a token and tails one file (no default sources). While 200,000 lines are
appended, the file is rotated by rename once and by copytruncate once, the server is killed with
SIGKILL twice and the agent once (each restarted on the same data, state and ports). At the end
every line must be in the store exactly once (counted by the unique token each line carries).

Environment: TRAPLINE (the binary). Exit 77 skips.
"""
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

LINES = 200_000
CHUNK = 5_000
# Delivery must keep moving: fail when the committed position stands still this long (sanitizer
# builds on a busy machine are slow, so there is no fixed total beyond DEADLINE_S).
STALL_S = 60
DEADLINE_S = 480


def skip(msg):
    print(f"SKIP: {msg}")
    sys.exit(77)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Run:
    def __init__(self, trapline, work):
        self.trapline = trapline
        self.work = work
        self.data = os.path.join(work, "data")
        self.state = os.path.join(work, "state")
        self.log = os.path.join(work, "app.log")
        self.port = free_port()
        self.server = None
        self.agent = None
        self.server_starts = 0
        self.agent_starts = 0

    def fail(self, msg):
        print(f"FAIL: {msg}")
        for name in ("server.log", "agent.log"):
            path = os.path.join(self.work, name)
            if os.path.exists(path):
                print(f"---- {name} (last 30 lines) ----")
                with open(path, errors="replace") as f:
                    print("".join(f.readlines()[-30:]))
        self.stop()
        sys.exit(1)

    def start_server(self):
        self.server_starts += 1
        err = open(os.path.join(self.work, "server.log"), "ab")
        self.server = subprocess.Popen(
            [self.trapline, "server", "--data", self.data, "--syslog-udp", "127.0.0.1:0",
             "--syslog-tcp", "off", "--syslog-tls", "off", "--http", "",
             "--agents", f"127.0.0.1:{self.port}", "--rules", "off"],
            stdout=subprocess.DEVNULL, stderr=err)
        err.close()
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.server.poll() is not None:
                    self.fail("the server exited at start")
                time.sleep(0.05)
        self.fail("the agent listener did not come up")

    def start_agent(self):
        self.agent_starts += 1
        err = open(os.path.join(self.work, "agent.log"), "ab")
        self.agent = subprocess.Popen(
            [self.trapline, "agent", "--state", self.state, "--tail", self.log,
             "--no-default-sources"],
            stdout=subprocess.DEVNULL, stderr=err)
        err.close()

    def kill9(self, proc):
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop(self):
        for p in (self.agent, self.server):
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    def enroll(self):
        tok = subprocess.run([self.trapline, "token", "--data", self.data, "--server",
                              f"127.0.0.1:{self.port}"], capture_output=True, text=True)
        token = tok.stdout.strip().splitlines()[-1] if tok.stdout.strip() else ""
        if tok.returncode != 0 or not token:
            self.fail(f"trapline token failed: {tok.stderr}")
        r = subprocess.run([self.trapline, "agent", "enroll", "--token", token, "--state",
                            self.state], capture_output=True, text=True)
        if r.returncode != 0:
            self.fail(f"trapline agent enroll failed: {r.stdout} {r.stderr}")
        with open(os.path.join(self.state, "agent.id")) as f:
            return f.read().strip()

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

    def search(self, query):
        r = subprocess.run([self.trapline, "search", "--data", self.data, "--from",
                            "2000-01-01", "--to", "now", "--limit", "0", "--output", "json",
                            query], capture_output=True, text=True)
        if r.returncode != 0:
            self.fail(f"search failed: {r.stderr}")
        return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


def line(n):
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return f"<13>1 {ts} testhost deliveryapp 42 - - delivery check tok{n:07d} end\n"


def main():
    trapline = os.environ.get("TRAPLINE")
    if not trapline or not os.access(trapline, os.X_OK):
        skip("TRAPLINE is not set to the built binary")
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

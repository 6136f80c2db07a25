#!/usr/bin/env python3
"""Host sources of `trapline agent`, end to end through a running server (as root).

A server and an enrolled agent run with file integrity of a temporary directory (--fim), process
executions (--processes) and network connections (--network), no other source. Then:
  - in the watched directory a file is created, another modified, chmod-ed and a third deleted:
    the server's store holds file-created, file-modified (before and after hash and size),
    file-permissions-changed (before and after mode) and file-deleted (last known values);
  - a python child, started with a unique marker in its command line, connects to a listener
    this test opened on loopback and holds the connection: the store holds its process-started
    event and the connection-opened event, both with the child's pid.
Checked with `trapline search --data DIR`. Needs root (process events, other processes' /proc).

Environment: TRAPLINE (the binary). Exit 77 skips.
"""
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent_lib import AgentHarness, skip, trapline_from_env  # noqa: E402

DEADLINE_S = 60


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Test(AgentHarness):
    def __init__(self, trapline, work):
        super().__init__(trapline, work)
        self.watch = os.path.join(work, "watched")

    def start(self):
        os.makedirs(self.data)
        self.start_server()
        self.enroll()
        self.agent = self.start_agent("--no-default-sources", "--fim", self.watch,
                                      "--processes", "--network", "--heartbeat", "1s")
        log = os.path.join(self.work, "agent.log")
        deadline = time.time() + DEADLINE_S
        while time.time() < deadline:
            with open(log, errors="replace") as f:
                text = f.read()
            if f"baseline built path={self.watch}" in text and "connected to" in text:
                return
            if self.agent.poll() is not None:
                self.fail("the agent exited at start")
            time.sleep(0.1)
        self.fail("the agent did not build its baseline and connect")

    def wait_for(self, what, query, pred):
        deadline = time.time() + DEADLINE_S
        evs = []
        while time.time() < deadline:
            evs = self.search(query)
            hits = [e for e in evs if pred(e)]
            if hits:
                return hits[0]
            time.sleep(0.5)
        self.fail(f"no {what} in the store; {query} gave {json.dumps(evs)[:3000]}")


def get(ev, dotted):
    """A field of a stored event, by its dotted ECS name (nested objects or flat keys)."""
    cur = ev
    parts = dotted.split(".")
    i = 0
    while i < len(parts):
        if not isinstance(cur, dict):
            return None
        for j in range(len(parts), i, -1):
            key = ".".join(parts[i:j])
            if key in cur:
                cur = cur[key]
                i = j
                break
        else:
            return None
    return cur


def main():
    trapline = trapline_from_env()
    if os.geteuid() != 0:
        skip("needs root: process events and other processes' /proc entries")
    work = tempfile.mkdtemp(prefix="trl-endpoint-")
    t = Test(trapline, work)
    try:
        body(t)
    finally:
        t.stop()
        shutil.rmtree(work, ignore_errors=True)


def body(t):
    os.makedirs(t.watch)
    conf = os.path.join(t.watch, "victim.conf")
    gone = os.path.join(t.watch, "gone.txt")
    with open(conf, "wb") as f:
        f.write(b"PermitRootLogin no\n")
    os.chmod(conf, 0o644)
    with open(gone, "wb") as f:
        f.write(b"to be deleted\n")
    t.start()

    # File integrity: create, modify, chmod, delete (a second apart: each is its own event).
    new = os.path.join(t.watch, "dropper.sh")
    with open(new, "wb") as f:
        f.write(b"#!/bin/sh\necho owned\n")
    time.sleep(1)
    with open(conf, "wb") as f:
        f.write(b"PermitRootLogin yes\n")
    time.sleep(1)
    os.chmod(conf, 0o600)
    time.sleep(1)
    os.unlink(gone)

    fim = "event.dataset:agent.fim"
    ev = t.wait_for("file-created", fim,
                    lambda e: get(e, "event.action") == "file-created" and
                    get(e, "file.path") == new)
    if get(ev, "file.hash.sha256") != sha256(b"#!/bin/sh\necho owned\n") or \
            str(get(ev, "file.size")) != "21":
        t.fail(f"file-created: {ev}")
    ev = t.wait_for("file-modified", fim,
                    lambda e: get(e, "event.action") == "file-modified" and
                    get(e, "file.path") == conf)
    want = {"fim.before.hash_sha256": sha256(b"PermitRootLogin no\n"),
            "file.hash.sha256": sha256(b"PermitRootLogin yes\n"),
            "fim.before.size": "19", "file.size": "20"}
    for k, v in want.items():
        if str(get(ev, k)) != v:
            t.fail(f"file-modified: {k} is {get(ev, k)}, want {v}: {ev}")
    if "hash" not in str(get(ev, "fim.changed")):
        t.fail(f"file-modified: fim.changed {get(ev, 'fim.changed')}")
    ev = t.wait_for("file-permissions-changed", fim,
                    lambda e: get(e, "event.action") == "file-permissions-changed" and
                    get(e, "file.path") == conf)
    if get(ev, "fim.before.mode") != "0644" or get(ev, "file.mode") != "0600":
        t.fail(f"file-permissions-changed: {ev}")
    ev = t.wait_for("file-deleted", fim,
                    lambda e: get(e, "event.action") == "file-deleted" and
                    get(e, "file.path") == gone)
    if get(ev, "file.hash.sha256") != sha256(b"to be deleted\n"):
        t.fail(f"file-deleted does not carry the last known hash: {ev}")

    # A process that starts and connects to a listener of ours.
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    lport = lsock.getsockname()[1]
    marker = f"trlmark{os.getpid()}x{int(time.time())}"
    code = (f"import socket, time  # {marker}\n"
            f"s = socket.create_connection(('127.0.0.1', {lport}))\n"
            f"time.sleep(4)\n")
    child = subprocess.Popen([sys.executable, "-c", code])
    t.procs.append(child)
    conn, _ = lsock.accept()
    ev = t.wait_for("process-started of the child", "event.dataset:agent.process",
                    lambda e: str(get(e, "process.pid")) == str(child.pid))
    if get(ev, "event.action") != "process-started" or \
            marker not in str(get(ev, "process.command_line")) or \
            not str(get(ev, "process.executable")).startswith("/"):
        t.fail(f"process-started: {ev}")
    ev = t.wait_for("connection-opened of the child", "event.dataset:agent.network",
                    lambda e: get(e, "event.action") == "connection-opened" and
                    str(get(e, "process.pid")) == str(child.pid))
    if str(get(ev, "destination.port")) != str(lport) or \
            get(ev, "destination.ip") != "127.0.0.1" or \
            get(ev, "network.direction") != "outbound" or get(ev, "network.transport") != "tcp":
        t.fail(f"connection-opened: {ev}")
    child.wait()
    conn.close()
    lsock.close()
    print(f"ok: file-created, file-modified, file-permissions-changed, file-deleted; "
          f"process-started and connection-opened of pid {child.pid}")


if __name__ == "__main__":
    main()

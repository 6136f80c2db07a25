#!/usr/bin/env python3
"""`trapline server --store off --output FILE` as a relay, end to end.

Three senders at once, each on its own TCP connection: LF-framed RFC 3164 lines, CRLF-framed lines,
and octet-counted RFC 5424 frames, written in chunks of random size so that messages and counts
are split across reads at every kind of boundary, with messages of every length and a few longer
than the maximum message size. Every message must come out as one JSON line: in order for its
connection, its bytes as sent in event.original (cut at the maximum size and tagged
trapline.truncated when longer), and the address of the connection that sent it in
log.source.address.
"""
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

MAX_MSG = 4096
PER_SENDER = 3000


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def fail(why, log=None):
    print(f"FAIL: {why}")
    if log and os.path.exists(log):
        print("---- server log (last 40 lines) ----")
        with open(log, errors="replace") as f:
            print("".join(f.readlines()[-40:]))
    sys.exit(1)


def body(rnd, tag, i):
    """A message whose first bytes say who sent it and in which order; lengths from 1 to 3x the
    maximum, many around the 16-byte blocks the framer scans."""
    k = rnd.random()
    if k < 0.01:
        pad = MAX_MSG * 2 + rnd.randrange(MAX_MSG)
    elif k < 0.5:
        pad = rnd.randrange(40)
    else:
        pad = rnd.randrange(1500)
    return f"n={tag}{i:05d} " + "".join(rnd.choice("abcdefxyz 0123456789") for _ in range(pad))


def messages(rnd, tag, rfc5424):
    out = []
    for i in range(PER_SENDER):
        if rfc5424:
            msg = f"<14>1 2026-11-27T21:03:{i % 60:02d}.000001Z web01 app 42 - - {body(rnd, tag, i)}"
        else:
            msg = f"<13>Nov 27 21:03:{i % 60:02d} web01 app[42]: {body(rnd, tag, i)}"
        out.append(msg.encode())
    return out


def send(port, frames, rnd, errors):
    try:
        s = socket.create_connection(("127.0.0.1", port))
        addr = "%s:%d" % s.getsockname()
        data = b"".join(frames)
        pos = 0
        while pos < len(data):
            n = rnd.choice([1, 2, 7, 15, 16, 17, 100, 1000, 4096, 65536])
            s.sendall(data[pos:pos + n])
            pos += n
        s.shutdown(socket.SHUT_WR)
        s.recv(1)
        s.close()
        errors.append(("ok", addr))
    except OSError as e:
        errors.append(("error", str(e)))


def main():
    binary = os.environ.get("TRAPLINE")
    if not binary or not os.access(binary, os.X_OK):
        skip("TRAPLINE is not set to the built binary")
    work = tempfile.mkdtemp(prefix="trl-relay-")
    log = os.path.join(work, "server.log")
    out = os.path.join(work, "events.jsonl")
    proc = None
    try:
        with open(os.path.join(work, "server.stdout"), "w") as so, open(log, "w") as se:
            proc = subprocess.Popen(
                [binary, "server", "--syslog-tcp", "127.0.0.1:0", "--store", "off", "--output", out,
                 "--data", os.path.join(work, "data"), "--rules", "off", "--http", "",
                 "--agents", "", "--stats-interval", "0", "--max-message-size", str(MAX_MSG)],
                stdout=so, stderr=se)
        port = None
        for _ in range(100):
            with open(os.path.join(work, "server.stdout")) as f:
                m = re.search(r"tcp=127\.0\.0\.1:(\d+)", f.read())
            if m:
                port = int(m.group(1))
                break
            if proc.poll() is not None:
                fail("the server exited at start", log)
            time.sleep(0.1)
        if not port:
            fail("the server does not listen", log)

        rnd = random.Random(6587)
        lf = messages(rnd, "L", False)
        crlf = messages(rnd, "C", False)
        counted = messages(rnd, "O", True)
        senders = {
            "L": [m + b"\n" for m in lf],
            "C": [m + b"\r\n" for m in crlf],
            "O": [b"%d %s" % (len(m), m) for m in counted],
        }
        sent = {"L": lf, "C": crlf, "O": counted}
        results = {tag: [] for tag in senders}
        threads = [threading.Thread(target=send,
                                    args=(port, frames, random.Random(tag), results[tag]))
                   for tag, frames in senders.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        peers = {}
        for tag, r in results.items():
            if not r or r[0][0] != "ok":
                fail(f"sender {tag} failed: {r}", log)
            peers[tag] = r[0][1]

        want = 3 * PER_SENDER
        lines = []
        deadline = time.time() + 60
        while time.time() < deadline:
            if os.path.exists(out):
                with open(out, "rb") as f:
                    lines = f.read().splitlines()
                if len(lines) >= want:
                    break
            time.sleep(0.1)
        if len(lines) != want:
            fail(f"{len(lines)} events written, {want} sent", log)

        next_index = {tag: 0 for tag in senders}
        truncated = 0
        for line in lines:
            ev = json.loads(line)
            original = ev["event"]["original"].encode()
            m = re.search(rb"n=([LCO])(\d{5}) ", original)
            if not m:
                fail(f"an event without its sender's mark: {line[:200]!r}")
            tag, i = m.group(1).decode(), int(m.group(2))
            if i != next_index[tag]:
                fail(f"sender {tag}: event {i} came when {next_index[tag]} was due")
            next_index[tag] = i + 1
            msg = sent[tag][i]
            tags = ev.get("tags", [])
            if len(msg) > MAX_MSG:
                truncated += 1
                if original != msg[:MAX_MSG] or "trapline.truncated" not in tags:
                    fail(f"sender {tag} message {i} ({len(msg)} bytes) not cut at {MAX_MSG}")
            elif original != msg or "trapline.truncated" in tags:
                fail(f"sender {tag} message {i} changed: {original[:120]!r} != {msg[:120]!r}")
            if ev["log"]["source"]["address"] != peers[tag]:
                fail(f"sender {tag} message {i} from {ev['log']['source']['address']}, "
                     f"not {peers[tag]}")
        if truncated == 0:
            fail("no message was long enough to be cut: the test lost its point")

        proc.send_signal(signal.SIGTERM)
        if proc.wait(timeout=30) != 0:
            fail(f"the server exited with {proc.returncode}", log)
        proc = None
        print(f"ok   {want} messages over 3 connections relayed in order, {truncated} cut at "
              f"{MAX_MSG} bytes")
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

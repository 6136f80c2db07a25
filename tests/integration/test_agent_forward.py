#!/usr/bin/env python3
"""`trapline agent` forwarders: every event goes to the Trapline server and, in parallel, to
third-party syslog collectors, which are receivers written here on loopback.

An agent tails one file (no default sources) and forwards to:
  udp5424   UDP, RFC 5424           (fields of the header and structured data checked)
  udpsnare  UDP, Snare              (Epilog GenericLog columns)
  tcp3164   TCP, RFC 3164, octet counting (RFC 6587 frames)
  tcpcef    TCP, CEF, LF framing    (header of seven fields, extension keys)
  tlsjson   TLS, JSON               (a CA made here; one ECS object per line)
  dead      TCP to a port nobody listens on (queue of 50: overflows, drops counted)
  stalled   TCP to a listener that accepts and never reads
Every line must reach the server (trapline search) and every live receiver, in its format; the
dead forwarder's drops must appear in the agent's health events in the server's store.

Environment: TRAPLINE (the binary). Exit 77 skips.
"""
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

LINES = 3000
DEADLINE_S = 240
SEARCH_S = 60

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent_lib import AgentHarness, free_port, skip, trapline_from_env  # noqa: E402


class Receiver:
    """Collects messages on a loopback UDP, TCP or TLS socket."""

    def __init__(self, name, transport, framing="lf", ctx=None, read=True):
        self.name = name
        self.transport = transport
        self.framing = framing
        self.ctx = ctx
        self.read = read
        self.msgs = []
        self.lock = threading.Lock()
        self.conns = []
        if transport == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            # UDP has no flow control: a receive buffer large enough for every message keeps a
            # busy machine from dropping some (SO_RCVBUFFORCE passes rmem_max, as root).
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 8 << 20)
            except OSError:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if not read:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        if transport != "udp":
            self.sock.listen(4)
        threading.Thread(target=self.run, daemon=True).start()

    def add(self, m):
        with self.lock:
            self.msgs.append(m.decode("utf-8", "replace"))

    def run(self):
        if self.transport == "udp":
            while True:
                data, _ = self.sock.recvfrom(70000)
                self.add(data)
        while True:
            c, _ = self.sock.accept()
            self.conns.append(c)
            if self.read:
                threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            if self.ctx:
                c = self.ctx.wrap_socket(c, server_side=True)
            buf = b""
            while True:
                data = c.recv(65536)
                if not data:
                    return
                buf += data
                buf = self.split(buf)
        except (OSError, ssl.SSLError):
            return

    def split(self, buf):
        while True:
            if self.framing == "lf":
                nl = buf.find(b"\n")
                if nl < 0:
                    return buf
                self.add(buf[:nl])
                buf = buf[nl + 1:]
            else:
                sp = buf.find(b" ")
                if sp < 0:
                    return buf
                n = int(buf[:sp])
                if len(buf) < sp + 1 + n:
                    return buf
                self.add(buf[sp + 1:sp + 1 + n])
                buf = buf[sp + 1 + n:]

    def count(self):
        with self.lock:
            return len(self.msgs)


class Test(AgentHarness):
    def __init__(self, trapline, work):
        super().__init__(trapline, work, log_tail=40)
        self.log = os.path.join(work, "app.log")

    def make_ca(self):
        """A CA and a certificate for 127.0.0.1 signed by it."""
        d = self.work

        def ossl(*a):
            r = subprocess.run(["openssl", *a], capture_output=True, text=True, cwd=d)
            if r.returncode != 0:
                self.fail(f"openssl {a[0]}: {r.stderr}")

        ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
             "keyUsage=critical,keyCertSign")
        ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
             "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1")
        with open(os.path.join(d, "ext.cnf"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        ossl("x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "srv.crt", "-days", "2", "-extfile", "ext.cnf")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(d, "srv.crt"), os.path.join(d, "srv.key"))
        return os.path.join(d, "ca.crt"), ctx


def check_5424(m):
    r = re.match(r"^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) (\[[^\]]*\]|-) (.*)$", m)
    assert r, f"not RFC 5424: {m!r}"
    pri, ts, host, app, pid, msgid, sd, msg = r.groups()
    assert 0 <= int(pri) <= 191 and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", ts), m
    assert host == socket.gethostname() or host == "web01", m
    assert app == "sshd" and pid.isdigit(), m
    assert 'action="' in sd and 'outcome="failure"' in sd, f"structured data: {m!r}"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$", ts), m
    return msg


def check_3164(m):
    r = re.match(r"^<(\d+)>([A-Z][a-z]{2}) ([ \d]\d) (\d\d:\d\d:\d\d) (\S+) sshd\[(\d+)\]: (.*)$", m)
    assert r, f"not RFC 3164: {m!r}"
    return r.group(7)


def check_cef(m):
    i = m.find("CEF:0|")
    assert i > 0 and re.match(r"^<\d+>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ $", m[:i]), m
    parts = re.split(r"(?<!\\)\|", m[i:], maxsplit=7)
    assert len(parts) == 8, f"CEF header has {len(parts)} fields: {m!r}"
    assert parts[1:4] == ["Trapline", "Trapline Agent", parts[3]] and parts[6].isdigit(), m
    ext = dict(re.findall(r"(\w+)=((?:[^=\\]|\\.)*?)(?=\s\w+=|$)", parts[7]))
    assert "rt" in ext and "msg" in ext and "dvchost" in ext, ext
    return ext


def check_snare(m):
    cols = m.split("\t")
    assert len(cols) == 4 and cols[1] == "GenericLog" and cols[2] in ("1", "3"), m
    return cols[3]


def main():
    trapline = trapline_from_env()
    if not shutil.which("openssl"):
        skip("openssl is not installed")
    work = tempfile.mkdtemp(prefix="trl-fwd-")
    t = Test(trapline, work)
    try:
        body(t)
    finally:
        t.stop()
        shutil.rmtree(work, ignore_errors=True)


def body(t):
    ca, ctx = t.make_ca()
    rx = {
        "udp5424": Receiver("udp5424", "udp"),
        "udpsnare": Receiver("udpsnare", "udp"),
        "tcp3164": Receiver("tcp3164", "tcp", framing="octet"),
        "tcpcef": Receiver("tcpcef", "tcp", framing="lf"),
        "tlsjson": Receiver("tlsjson", "tls", framing="lf", ctx=ctx),
    }
    stalled = Receiver("stalled", "tcp", read=False)
    dead_port = free_port()
    cfg = os.path.join(t.work, "agent.yml")
    with open(cfg, "w") as f:
        f.write(f"""# forwarders next to the usual settings
heartbeat: 1s
forwarders:
  - name: udp5424
    address: 127.0.0.1:{rx['udp5424'].port}
  - name: udpsnare
    address: 127.0.0.1:{rx['udpsnare'].port}
    transport: udp
    format: snare
  - name: tcp3164
    address: 127.0.0.1:{rx['tcp3164'].port}
    transport: tcp
    format: rfc3164
    framing: octet-counting
  - name: tcpcef
    address: 127.0.0.1:{rx['tcpcef'].port}
    transport: tcp
    format: cef
    framing: lf
  - name: tlsjson
    address: 127.0.0.1:{rx['tlsjson'].port}
    transport: tls
    format: json
    tls:
      ca: {ca}
  - name: dead
    address: 127.0.0.1:{dead_port}
    transport: tcp
    queue_size: 50
  - name: stalled
    address: 127.0.0.1:{stalled.port}
    transport: tcp
    queue_size: 100
log.level: info
""")
    os.makedirs(t.data)
    t.start_server()
    t.enroll()
    open(t.log, "w").close()
    agent = t.start_agent("--config", cfg, "--tail", t.log, "--no-default-sources")
    time.sleep(1.0)
    with open(t.log, "a") as f:
        for i in range(LINES):
            f.write(f"Nov 27 19:28:46 web01 sshd[{1000 + i % 50}]: Failed password for invalid "
                    f"user u{i % 7} from 203.0.113.{i % 200} port {40000 + i} ssh2 tk{i:08d}\n")
            if i % 500 == 499:
                f.flush()
                time.sleep(0.2)
    deadline = time.time() + DEADLINE_S
    live = list(rx.values())
    while time.time() < deadline:
        if agent.poll() is not None:
            t.fail("the agent exited")
        if all(r.count() >= LINES for r in live):
            break
        time.sleep(0.5)
    counts = {r.name: r.count() for r in live}
    for r in live:
        if r.count() != LINES:
            t.fail(f"{r.name} got {r.count()} messages, want {LINES}: {counts}")

    tokens = set(f"tk{i:08d}" for i in range(LINES))

    def tokens_of(texts):
        found = [re.search(r"tk\d{8}", x) for x in texts]
        return set(m.group(0) for m in found if m)

    try:
        got = [check_5424(m) for m in rx["udp5424"].msgs]
        assert tokens_of(got) == tokens, "udp5424 lost or changed lines"
        got = [check_3164(m) for m in rx["tcp3164"].msgs]
        assert tokens_of(got) == tokens, "tcp3164 lost or changed lines"
        exts = [check_cef(m) for m in rx["tcpcef"].msgs]
        assert tokens_of(e["msg"] for e in exts) == tokens, "tcpcef lost or changed lines"
        assert all(e.get("src", "").startswith("203.0.113.") for e in exts), exts[0]
        assert all(e.get("outcome") == "failure" for e in exts), exts[0]
        docs = [json.loads(m) for m in rx["tlsjson"].msgs]
        assert tokens_of(d["event"]["original"] for d in docs) == tokens, "tlsjson lost lines"
        assert all(d["source"]["ip"].startswith("203.0.113.") for d in docs), docs[0]
        got = [check_snare(m) for m in rx["udpsnare"].msgs]
        assert tokens_of(got) == tokens, "udpsnare lost or changed lines"
    except AssertionError as e:
        t.fail(f"forwarded message: {e}")

    # The server got every line, whatever the dead and stalled forwarders did.
    stored = set()
    evs = []
    until = time.time() + SEARCH_S
    while time.time() < until:
        evs = t.search("process.name:sshd")
        stored = tokens_of(e.get("event", {}).get("original", "") for e in evs)
        if stored == tokens:
            break
        time.sleep(1)
    if stored != tokens:
        t.fail(f"the server has {len(stored)} of {LINES} lines; first: {evs[:1]}")

    # The dead forwarder's drops are in the agent's health events.
    health = []
    while time.time() < deadline:
        health = t.search("event.dataset:agent.health forwarder.name:dead")
        if any(int(h.get("forwarder", {}).get("dropped", 0)) > 0 for h in health):
            break
        time.sleep(1)
    if not any(int(h.get("forwarder", {}).get("dropped", 0)) > 0 for h in health):
        t.fail(f"no health event reports the dead forwarder's drops: {health}")
    h = health[0]
    if h["event"]["action"] not in ("forwarder-dropped", "forwarder-disconnected") or \
            h["forwarder"]["connected"] not in ("false", False):
        t.fail(f"health event: {h}")
    print(f"ok: {LINES} lines to the server and to each of {len(live)} collectors "
          f"({', '.join(counts)}); dead forwarder dropped {h['forwarder']['dropped']}")


if __name__ == "__main__":
    main()

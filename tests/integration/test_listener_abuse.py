#!/usr/bin/env python3
"""Hostile and broken clients against `trapline server`, while a well-behaved sender keeps sending.

Garbage and binary data, a 1 MiB line, an absurd octet count, a TLS handshake that never finishes,
plain text on the TLS port, a sender of one byte every half second, idle connections, resets, and
2,000 connections open at once each sending a message. Every abuse must end in a closed connection
and a clear log line; the server must stay up, and no message from a good sender may be lost.
"""
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

GOOD_MESSAGES = 3000
CONCURRENT = 2000


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


class Failure(Exception):
    pass


class Server:
    def __init__(self, binary, work):
        self.work = work
        self.log_path = os.path.join(work, "server.log")
        self.out_path = os.path.join(work, "events.jsonl")
        key = os.path.join(work, "key.pem")
        cert = os.path.join(work, "cert.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.cert = cert
        args = [binary, "server", "--http", "", "--agents", "", "--syslog-tcp", "127.0.0.1:0",
                "--syslog-udp", "127.0.0.1:0",
                "--syslog-tls", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key,
                "--idle-timeout", "2s", "--handshake-timeout", "1500ms",
                "--max-connections", "5000", "--stats-interval", "0",
                "--output", self.out_path, "--data", work]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log)
        line = self.proc.stdout.readline().decode()
        if "listening" not in line:
            raise Failure(f"server did not start: {line!r}\n{self.log_text()}")
        log = self.log_text()
        self.tcp = int(re.search(r"listening tcp=127\.0\.0\.1:(\d+)", log).group(1))
        self.udp = int(re.search(r"listening udp=127\.0\.0\.1:(\d+)", log).group(1))
        self.tls = int(re.search(r"listening tls=127\.0\.0\.1:(\d+)", log).group(1))

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=30)
        self.log.close()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def events(self):
        out = []
        if not os.path.exists(self.out_path):
            return out
        with open(self.out_path, "rb") as f:
            for line in f:
                out.append(json.loads(line))
        return out

    def wait_log(self, pattern, secs=10):
        deadline = time.time() + secs
        while time.time() < deadline:
            if re.search(pattern, self.log_text()):
                return
            time.sleep(0.05)
        raise Failure(f"log line /{pattern}/ not found\n{self.log_text()[-4000:]}")


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s


def closed_by_server(s, secs=10):
    """True when the server closes the connection (EOF or reset) within secs."""
    s.settimeout(secs)
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def good_sender(port, stop_event, result):
    """A well-behaved client: one connection, LF framing, GOOD_MESSAGES messages over time."""
    s = connect(port)
    for i in range(GOOD_MESSAGES):
        s.sendall(f"<13>Jul  9 22:31:02 web01 app[1]: good-{i:05d}\n".encode())
        if i % 100 == 0:
            time.sleep(0.05)
    s.close()
    result.append(GOOD_MESSAGES)


def abuse_garbage(srv):
    rnd = random.Random(1)
    s = connect(srv.tcp)
    s.sendall(bytes(rnd.getrandbits(8) for _ in range(200000)))
    s.sendall(b"\n<13>garbage-then-good\n")
    s.close()


def abuse_big_line(srv):
    s = connect(srv.tcp)
    s.sendall(b"<13>bigline-start " + b"A" * (1 << 20) + b"\n<13>after-bigline\n")
    s.close()
    srv.wait_log(r"WARN  tcp: message truncated peer=127\.0\.0\.1:\d+ .*max_message_size=65536")


def abuse_absurd_count(srv):
    s = connect(srv.tcp)
    s.sendall(b"9999999999 <13>absurd")
    if not closed_by_server(s):
        raise Failure("connection with an absurd octet count was not closed")
    s.close()
    srv.wait_log(r"WARN  tcp: closed peer=127\.0\.0\.1:\d+ .*reason=\"framing error: octet count "
                 r"too large\"")


def abuse_tls_half_open(srv):
    s = connect(srv.tls)
    s.sendall(bytes.fromhex("160301"))  # the first bytes of a ClientHello, then nothing
    t0 = time.time()
    if not closed_by_server(s, 10):
        raise Failure("stalled TLS handshake was not closed")
    if time.time() - t0 < 1.0:
        raise Failure("stalled TLS handshake closed before the handshake timeout")
    s.close()
    srv.wait_log(r"WARN  tls: closed peer=127\.0\.0\.1:\d+ .*reason=\"TLS handshake not done in "
                 r"1500 ms\"")


def abuse_plaintext_on_tls(srv):
    s = connect(srv.tls)
    s.sendall(b"<13>Jul  9 22:31:02 web01 app: not tls at all\n" * 8)
    if not closed_by_server(s):
        raise Failure("plain text on the TLS port was not closed")
    s.close()
    srv.wait_log(r"WARN  tls: closed peer=127\.0\.0\.1:\d+ .*reason=\"handshake failed")


def abuse_slow_sender(srv):
    s = connect(srv.tcp)
    s.sendall(b"<13>slow-sender-partial ")
    t0 = time.time()
    closed = False
    for b in b"message that never ends, one byte every half second" * 4:
        try:
            s.send(bytes([b]))
        except OSError:
            closed = True
            break
        s.settimeout(0.5)
        try:
            if s.recv(1) == b"":
                closed = True
                break
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed = True
            break
        if time.time() - t0 > 10:
            break
    if not closed:
        raise Failure("slow sender was not closed")
    s.close()
    srv.wait_log(r"WARN  tcp: closed peer=127\.0\.0\.1:\d+ .*reason=\"too slow: no complete message "
                 r"in 2000 ms\"")


def abuse_idle(srv):
    conns = [connect(srv.tcp) for _ in range(50)]
    for s in conns:
        if not closed_by_server(s, 10):
            raise Failure("idle connection was not closed")
        s.close()
    srv.wait_log(r"INFO  tcp: closed peer=127\.0\.0\.1:\d+ .*reason=\"idle for 2000 ms\"")


def abuse_reset(srv):
    s = connect(srv.tcp)
    s.sendall(b"<13>reset-partial-message")
    time.sleep(0.2)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()  # RST
    srv.wait_log(r"INFO  tcp: closed peer=127\.0\.0\.1:\d+ .*reason=\"connection reset by peer\"")


def concurrent_connections(srv):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < CONCURRENT + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, CONCURRENT + 1000), hard))
    conns = []
    for i in range(CONCURRENT):
        s = connect(srv.tcp)
        conns.append(s)
    for i, s in enumerate(conns):
        s.sendall(f"<13>Jul  9 22:31:02 web01 app: concurrent-{i:05d}\n".encode())
    time.sleep(0.5)
    for s in conns:
        s.close()


def good_tls_message(srv):
    ctx = ssl.create_default_context(cafile=srv.cert)
    with socket.create_connection(("127.0.0.1", srv.tls), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            msg = b"<13>tls-good-message-1"
            s.sendall(str(len(msg)).encode() + b" " + msg)
            s.sendall(b"<13>tls-good-message-2\n")


def main():
    binary = os.environ.get("TRAPLINE")
    if not binary or not os.access(binary, os.X_OK):
        skip("TRAPLINE is not set to the built binary")
    if not shutil.which("openssl"):
        skip("openssl is not installed")
    work = tempfile.mkdtemp()
    srv = None
    try:
        srv = Server(binary, work)
        stop = threading.Event()
        result = []
        sender = threading.Thread(target=good_sender, args=(srv.tcp, stop, result))
        sender.start()
        steps = [abuse_garbage, abuse_big_line, abuse_absurd_count, abuse_tls_half_open,
                 abuse_plaintext_on_tls, abuse_slow_sender, abuse_idle, abuse_reset,
                 concurrent_connections, good_tls_message]
        threads = [threading.Thread(target=run_step, args=(step, srv, errors))
                   for step in steps]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        sender.join(60)
        if errors:
            raise Failure("; ".join(errors))
        if not result:
            raise Failure("the good sender did not finish")
        if not srv.alive():
            raise Failure("server died")

        # After all that, a good message over each transport still arrives.
        with connect(srv.tcp) as s:
            s.sendall(b"<13>Jul  9 22:31:02 web01 app: final-tcp\n")
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(b"<13>Jul  9 22:31:02 web01 app: final-udp", ("127.0.0.1", srv.udp))
        u.close()
        deadline = time.time() + 20
        want = {"final-tcp", "final-udp", "tls-good-message-1", "tls-good-message-2",
                "after-bigline", "garbage-then-good"}
        while time.time() < deadline:
            originals = [e.get("event", {}).get("original", "") for e in srv.events()]
            if all(any(w in o for o in originals) for w in want):
                break
            time.sleep(0.2)
        rc = srv.stop()
        if rc != 0:
            raise Failure(f"server exited {rc} after SIGTERM")

        events = srv.events()
        originals = [e.get("event", {}).get("original", "") for e in events]
        missing = [w for w in want if not any(w in o for o in originals)]
        if missing:
            raise Failure(f"messages missing: {missing}")
        good = {o for o in originals if "good-" in o and "tls-good" not in o}
        if len(good) != GOOD_MESSAGES:
            raise Failure(f"good sender: {len(good)} of {GOOD_MESSAGES} messages arrived")
        conc = {o for o in originals if "concurrent-" in o}
        if len(conc) != CONCURRENT:
            raise Failure(f"concurrent connections: {len(conc)} of {CONCURRENT} messages arrived")
        big = [e for e in events if "bigline-start" in e.get("event", {}).get("original", "")]
        if len(big) != 1 or len(big[0]["event"]["original"]) != 65536 or \
                "trapline.truncated" not in big[0].get("tags", []):
            raise Failure("the 1 MiB line was not cut once at 65536 bytes and tagged truncated")
        slow = [e for e in events if "<13>slow-sender" in e.get("event", {}).get("original", "")]
        if len(slow) != 1 or "trapline.truncated" not in slow[0].get("tags", []):
            raise Failure("the slow sender's partial message was not handed over as truncated")
        log = srv.log_text()
        if "ERROR" in log:
            raise Failure("errors in the server log")
        m = re.search(r"stats: tcp=127\.0\.0\.1:\d+ msgs=(\d+) .* conns=0 accepted=(\d+)", log)
        if not m or int(m.group(2)) < CONCURRENT + 50:
            raise Failure("tcp stats line missing or wrong")
        print(f"PASS: {len(events)} events, server survived every abuse")
        return 0
    except Failure as e:
        print(f"FAIL: {e}")
        if srv:
            print("---- server log (tail) ----")
            print(srv.log_text()[-6000:])
        return 1
    finally:
        if srv:
            srv.kill()
        shutil.rmtree(work, ignore_errors=True)


errors = []


def run_step(step, srv, errs):
    try:
        step(srv)
    except Failure as e:
        errs.append(f"{step.__name__}: {e}")
    except Exception as e:  # a client-side failure is a test failure, not a crash of the test
        errs.append(f"{step.__name__}: {type(e).__name__}: {e}")


if __name__ == "__main__":
    sys.exit(main())

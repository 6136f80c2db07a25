#!/usr/bin/env python3
"""End to end: six failed SSH passwords from one address raise the built-in SSH brute-force alert
during `trapline ingest --config`, and every alert output gets it.

- webhook: a local HTTP server that answers 500 twice, then 200. The alert must arrive after the
  retries, with a valid X-Trapline-Signature, and the outbox must be empty afterwards.
- syslog: a UDP sink (RFC 5424 carrying the JSON) and, in a second run, a TCP sink (CEF,
  octet-counted framing).
- exec: a hook script that writes its stdin and environment to a file.
Only loopback addresses are used.
"""
import hashlib
import hmac
import http.server
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from alert_lib import (BRUTE_FORCE, SRC, TRAPLINE, check, failures, ingest,  # noqa: E402
                       outbox_rows)

SECRET = "s3cret-key"


class Hook(http.server.BaseHTTPRequestHandler):
    answers = [500, 500]
    received = []  # (status answered, body, signature)
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with Hook.lock:
            status = Hook.answers.pop(0) if Hook.answers else 200
            Hook.received.append((status, body, self.headers.get("X-Trapline-Signature", "")))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def udp_sink():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.2)
    got = []

    def run():
        while not stop.is_set():
            try:
                got.append(s.recv(70000).decode("utf-8", "replace"))
            except socket.timeout:
                pass

    stop = threading.Event()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return s.getsockname()[1], got, stop


def tcp_sink():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(0.2)
    data = bytearray()
    stop = threading.Event()

    def run():
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except socket.timeout:
                continue
            c.settimeout(0.2)
            while not stop.is_set():
                try:
                    b = c.recv(65536)
                except socket.timeout:
                    continue
                if not b:
                    break
                data.extend(b)
            c.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return srv.getsockname()[1], data, stop


def octet_frames(data):
    out = []
    i = 0
    while i < len(data):
        sp = data.index(b" ", i)
        n = int(data[i:sp])
        out.append(data[sp + 1 : sp + 1 + n].decode())
        i = sp + 1 + n
    return out


def one_frame(data):
    sp = data.find(b" ")
    return sp > 0 and len(data) >= sp + 1 + int(data[:sp])


def backlog_run(work):
    """Run 4: the hook fails throughout a first import (the alert stays queued on disk), then a
    second import of nothing delivers it once the hook works again."""
    out = os.path.join(work, "late.out")
    gate = os.path.join(work, "gate")
    hook = os.path.join(work, "late.sh")
    with open(hook, "w") as f:
        f.write('#!/bin/sh\n[ -e "%s" ] || exit 3\ncat >> "%s"\n' % (gate, out))
    os.chmod(hook, 0o755)
    config = "alerts:\n  exec:\n    command: [%s]\n" % hook
    data4 = os.path.join(work, "data4")
    log = ingest(work, data4, config)
    check("exited with status 3" in log, "failing hook is logged")
    check(outbox_rows(data4) >= 1, "alert stays queued while the hook fails")
    check(not os.path.exists(out), "nothing delivered while the hook fails")
    open(gate, "w").close()
    empty = os.path.join(work, "empty.log")
    open(empty, "w").close()
    r = subprocess.run(
        [TRAPLINE, "ingest", "--no-progress", "--data", data4, "--rules",
         os.path.join(SRC, "rules"), "--config", os.path.join(work, "trapline.yml"), empty],
        capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "second ingest exits 0")
    text = open(out).read() if os.path.exists(out) else ""
    check(BRUTE_FORCE in text, "queued alert delivered by the next process: %r" % text[:100])
    check(outbox_rows(data4) == 0, "outbox empty after the backlog was delivered")


def tls_run(work):
    """Run 3: an https:// webhook and a tls:// syslog target, both checked against a CA file."""
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True)
    if r.returncode != 0:
        print("note: openssl cannot make a certificate; TLS outputs not tested")
        return
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    srv = ctx.wrap_socket(socket.create_server(("127.0.0.1", 0)), server_side=True)
    srv.settimeout(10)
    frames = []

    def accept():
        try:
            c, _ = srv.accept()
            c.settimeout(5)
            data = bytearray()
            while not one_frame(data):
                b = c.recv(65536)
                if not b:
                    break
                data.extend(b)
            frames.extend(octet_frames(bytes(data)))
        except (OSError, ValueError) as e:
            print("TLS sink:", e)

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    before = len(Hook.received)
    data3 = os.path.join(work, "data3")
    ingest(work, data3, """
alerts:
  webhook:
    url: https://127.0.0.1:%d/alerts
    ca: %s
  syslog:
    target: tls://127.0.0.1:%d
    ca: %s
""" % (httpd.server_address[1], cert, srv.getsockname()[1], cert))
    t.join(10)
    got = [b for s, b, _ in Hook.received[before:] if s == 200]
    check(any(json.loads(b).get("rule_id") == BRUTE_FORCE for b in got), "HTTPS webhook got it")
    check(any(BRUTE_FORCE in f for f in frames), "TLS syslog got it: %r" % frames[:1])
    check(outbox_rows(data3) == 0, "outbox empty after TLS delivery")
    httpd.shutdown()


def main():
    if not os.access(TRAPLINE, os.X_OK):
        print("skipped: %s not built" % TRAPLINE)
        return 77
    work = tempfile.mkdtemp()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    udp_port, udp_got, udp_stop = udp_sink()
    hook_out = os.path.join(work, "hook.out")
    hook = os.path.join(work, "hook.sh")
    with open(hook, "w") as f:
        f.write('#!/bin/sh\n{ echo "env $TRAPLINE_ALERT_ID $TRAPLINE_ALERT_LEVEL $TRAPLINE_ALERT_RULE";'
                ' cat; echo; } >> "$1"\n')
    os.chmod(hook, 0o755)

    # Run 1: webhook (failing twice), UDP syslog in RFC 5424, exec hook.
    data1 = os.path.join(work, "data1")
    log = ingest(work, data1, """
alerts:
  webhook:
    url: http://127.0.0.1:%d/alerts
    secret: %s
    timeout: 5s
  syslog:
    target: udp://127.0.0.1:%d
  exec:
    command: [%s, %s]
""" % (httpd.server_address[1], SECRET, udp_port, hook, hook_out))

    statuses = [s for s, _, _ in Hook.received]
    check(statuses[:3] == [500, 500, 200], "webhook retried after two 500s: %s" % statuses)
    delivered = [json.loads(b) for s, b, _ in Hook.received if s == 200]
    check(any(a.get("rule_id") == BRUTE_FORCE for a in delivered), "webhook got the brute force")
    for _, body, sig in Hook.received:
        want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        check(sig == want, "signature %s == %s" % (sig, want))
    for a in delivered:
        for k in ("id", "rule_id", "title", "level", "tags", "group_by", "event_ids",
                  "first_seen", "last_seen", "count", "status"):
            check(k in a, "webhook body has %s" % k)
    bf = [a for a in delivered if a.get("rule_id") == BRUTE_FORCE]
    if bf:
        check(bf[-1]["group_by"].get("source.ip") == "203.0.113.45", "group_by source.ip")
        check(bf[-1]["level"] == "medium", "level medium")
    check(outbox_rows(data1) == 0, "outbox empty after delivery")

    udp_stop.set()
    check(any(BRUTE_FORCE in m and m.startswith("<") and " trapline " in m for m in udp_got),
          "UDP syslog got the alert: %r" % udp_got[:1])
    for m in udp_got:
        body = m[m.index("] ") + 2:]
        check(json.loads(body).get("id") is not None, "RFC 5424 message carries the JSON")

    text = open(hook_out).read() if os.path.exists(hook_out) else ""
    check("env " in text and " medium " + BRUTE_FORCE in text, "exec hook got env: %r" % text[:200])
    check('"rule_id":"%s"' % BRUTE_FORCE in text.replace(" ", ""), "exec hook got the JSON")

    # Run 2: TCP syslog in CEF.
    tcp_port, tcp_data, tcp_stop = tcp_sink()
    data2 = os.path.join(work, "data2")
    ingest(work, data2, """
alerts:
  min_level: medium
  syslog:
    target: tcp://127.0.0.1:%d
    format: cef
""" % tcp_port)
    tcp_stop.set()
    frames = octet_frames(bytes(tcp_data))
    check(any("CEF:0|Trapline|Trapline|" in f and "|" + BRUTE_FORCE + "|" in f
              and "src=203.0.113.45" in f for f in frames), "TCP CEF frame: %r" % frames[:1])
    check(outbox_rows(data2) == 0, "outbox empty after TCP delivery")
    tls_run(work)
    backlog_run(work)
    httpd.shutdown()
    subprocess.run(["rm", "-rf", work])
    if failures:
        print("%d failures" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

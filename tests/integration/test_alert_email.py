#!/usr/bin/env python3
"""End to end: the email alert output against a small SMTP server written here (loopback only).

1. `trapline ingest` of six failed SSH passwords from one address raises the built-in SSH
   brute-force alert; the mail arrives through SMTP AUTH PLAIN with RFC 5322 headers (Date,
   Message-ID, From, To, the templated Subject) and a body with the alert's fields and event ids.
2. `alerts.email.starttls: required` against a server that offers no STARTTLS: nothing is sent in
   clear, the alert stays queued.
3. `trapline server` with the SMTP server down: the delivery fails and is retried; once the SMTP
   server starts on that port the queued alert arrives, without restarting Trapline.
"""
import base64
import email
import email.policy
import email.utils
import os
import re
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from alert_lib import (BRUTE_FORCE, SRC, TRAPLINE, brute_force_lines, check,  # noqa: E402
                       failures, ingest, outbox_rows)

USER, PASSWORD = "alerts", "p4ss word"


class Smtp(socketserver.StreamRequestHandler):
    """The SMTP verbs a mail client needs (RFC 5321): EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA,
    RSET, NOOP, QUIT. STARTTLS is not offered."""

    def reply(self, line):
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        srv = self.server
        self.reply("220 test.invalid ESMTP")
        mail_from, rcpts, authed = None, [], False
        while True:
            raw = self.rfile.readline(4096)
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            srv.commands.append(line)
            if verb == "EHLO":
                self.reply("250-test.invalid")
                self.reply("250-AUTH PLAIN")
                self.reply("250 8BITMIME")
            elif verb == "HELO":
                self.reply("250 test.invalid")
            elif verb == "AUTH":
                parts = line.split()
                if len(parts) < 2 or parts[1].upper() != "PLAIN":
                    self.reply("504 only PLAIN")
                    continue
                if len(parts) == 3:
                    blob = parts[2]
                else:
                    self.reply("334 ")
                    blob = self.rfile.readline(4096).decode().strip()
                _, user, pw = base64.b64decode(blob).decode().split("\0")
                authed = (user, pw) == (USER, PASSWORD)
                srv.auth.append((user, pw))
                self.reply("235 ok" if authed else "535 bad credentials")
            elif verb == "MAIL":
                mail_from = re.search(r"<([^>]*)>", line).group(1)
                rcpts = []
                self.reply("250 ok")
            elif verb == "RCPT":
                rcpts.append(re.search(r"<([^>]*)>", line).group(1))
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 go ahead")
                data = bytearray()
                while True:
                    l = self.rfile.readline(65536)
                    if not l or l == b".\r\n":
                        break
                    data.extend(l[1:] if l.startswith(b".") else l)
                srv.mails.append((mail_from, rcpts, bytes(data)))
                self.reply("250 queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 ok")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class SmtpServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, port=0):
        super().__init__(("127.0.0.1", port), Smtp)
        self.mails, self.auth, self.commands = [], [], []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self):
        return self.server_address[1]


def side_listeners_off():
    """Flags that turn off the server's other listeners (web console, agents) where this build has
    them, so that parallel test runs do not compete for their fixed default ports."""
    out = subprocess.run([TRAPLINE, "server", "--help"], capture_output=True, text=True).stdout
    flags = []
    for name in ("--http", "--agents"):
        if re.search(r"^\s+%s " % name, out, re.M):
            flags += [name, ""]
    return flags


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def email_config(port, starttls="optional", extra=""):
    return ("alerts:\n  email:\n    url: smtp://127.0.0.1:%d\n"
            "    from: Trapline <trapline@example.org>\n"
            "    to: [soc@example.org, oncall@example.org]\n"
            "    username: %s\n    password: \"%s\"\n    starttls: %s\n"
            "    subject: \"[{level}] {title} on {host}\"\n    timeout: 5s\n%s"
            % (port, USER, PASSWORD, starttls, extra))


def check_mail(mail):
    mail_from, rcpts, data = mail
    check(mail_from == "trapline@example.org", "envelope sender is the bare address: %r" % mail_from)
    check(rcpts == ["soc@example.org", "oncall@example.org"], "both recipients: %r" % rcpts)
    check(b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b""), "CRLF line ends only")
    msg = email.message_from_bytes(data, policy=email.policy.default)
    check(msg["From"] == "Trapline <trapline@example.org>", "From header: %r" % msg["From"])
    check("soc@example.org" in msg["To"] and "oncall@example.org" in msg["To"], "To header")
    check(msg["Subject"] == "[medium] SSH Brute Force From One Source on web01",
          "templated subject: %r" % msg["Subject"])
    date = email.utils.parsedate_to_datetime(msg["Date"])
    check(abs(time.time() - date.timestamp()) < 300, "Date is now: %r" % msg["Date"])
    check(re.fullmatch(r"<trapline\.alert\.\d+\.\d+@[A-Za-z0-9.-]+>", msg["Message-ID"] or ""),
          "Message-ID: %r" % msg["Message-ID"])
    check(msg.get_content_type() == "text/plain", "plain text")
    body = msg.get_content()
    for want in ("Title:       SSH Brute Force From One Source", "Level:       medium",
                 "Rule:        " + BRUTE_FORCE, "Host:        web01",
                 "Correlation: event_count", "source.ip = 203.0.113.45",
                 "attack.credential-access", "Events ("):
        check(want in body, "body has %r" % want)
    ids = re.findall(r"^  ([0-9a-f]{16})\b", body, re.M)
    check(len(ids) >= 5, "body lists the events' ids: %r" % ids)
    summaries = re.findall(r"^  [0-9a-f]{16}  (.*)$", body, re.M)
    check(len(summaries) >= 5 and all(
        "web01 ssh-login-failed source.ip=203.0.113.45 user.name=root: Failed password for root "
        "from 203.0.113.45" in l for l in summaries), "events summarised: %r" % summaries[:2])


def test_delivered(work):
    smtp = SmtpServer()
    data = os.path.join(work, "data1")
    ingest(work, data, email_config(smtp.port))
    check(len(smtp.mails) == 1, "one mail delivered: %d" % len(smtp.mails))
    check(smtp.auth == [(USER, PASSWORD)], "logged in with AUTH PLAIN: %r" % smtp.auth)
    if smtp.mails:
        check_mail(smtp.mails[0])
    check(outbox_rows(data) == 0, "outbox empty after delivery")
    smtp.shutdown()
    smtp.server_close()


def test_starttls_required(work):
    smtp = SmtpServer()
    data = os.path.join(work, "data2")
    log = ingest(work, data, email_config(smtp.port, starttls="required",
                                          extra="  max_backoff: 1s\n"))
    check(not smtp.mails, "nothing sent without STARTTLS when it is required")
    check(not smtp.auth, "no password sent in clear")
    check("delivery failed output=email" in log, "the refusal is logged")
    check(outbox_rows(data) >= 1, "the alert stays queued")
    smtp.shutdown()
    smtp.server_close()


def test_waits_for_server(work):
    port = free_port()
    data = os.path.join(work, "data3")
    cfg = os.path.join(work, "server.yml")
    with open(cfg, "w") as f:
        f.write(email_config(port, extra="  max_backoff: 1s\n"))
    log_path = os.path.join(work, "server.log")
    logf = open(log_path, "wb")
    proc = subprocess.Popen(
        [TRAPLINE, "server", "--config", cfg, "--data", data, "--syslog-tcp", "127.0.0.1:0",
         "--rules", os.path.join(SRC, "rules"), "--stats-interval", "0"] + side_listeners_off(),
        stdout=subprocess.PIPE, stderr=logf)
    smtp = None
    try:
        line = proc.stdout.readline().decode()
        m = re.search(r"tcp=127\.0\.0\.1:(\d+)", line)
        if not m:
            check(False, "server started: %r" % line)
            return
        with socket.create_connection(("127.0.0.1", int(m.group(1)))) as s:
            s.sendall(brute_force_lines().encode())

        def log_text():
            with open(log_path, "rb") as f:
                return f.read().decode(errors="replace")

        deadline = time.time() + 20
        while time.time() < deadline and "delivery failed output=email" not in log_text():
            time.sleep(0.2)
        check("delivery failed output=email" in log_text(), "failed delivery logged while down")
        check(outbox_rows(data) >= 1, "alert queued while the SMTP server is down")
        smtp = SmtpServer(port)
        deadline = time.time() + 20
        while time.time() < deadline and not smtp.mails:
            time.sleep(0.2)
        check(len(smtp.mails) == 1, "queued alert delivered once the SMTP server is up")
        if smtp.mails:
            check_mail(smtp.mails[0])
        check("delivered after retries output=email" in log_text(), "retry success logged")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        logf.close()
        if smtp:
            smtp.shutdown()
            smtp.server_close()


def main():
    if not os.access(TRAPLINE, os.X_OK):
        print("SKIP: no trapline binary at %s" % TRAPLINE)
        return 77
    with tempfile.TemporaryDirectory() as work:
        test_delivered(work)
        test_starttls_required(work)
        test_waits_for_server(work)
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())

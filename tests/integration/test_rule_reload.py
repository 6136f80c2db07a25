#!/usr/bin/env python3
"""SIGHUP reloads the Sigma rules of a running `trapline server` (loopback only):

- a rule file added to the rules directory applies after `kill -HUP`: an event that only the new
  rule matches raises its alert;
- the SSH brute-force correlation, unchanged by the reload, keeps its window: two failures before
  the reload and two after reach its threshold of four;
- a rule file that is broken at the next reload is reported and its previous version stays in
  effect.
"""
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

TRAPLINE = os.environ.get("TRAPLINE", "build/trapline")

SSH_RULES = """title: failed login
id: 20000000-0000-0000-0000-000000000001
name: reload_failed_login
logsource:
  product: linux
detection:
  sel:
    event.action: ssh-login-failed
  condition: sel
level: low
---
title: Reload Brute Force
id: 20000000-0000-0000-0000-000000000002
correlation:
  type: event_count
  rules: reload_failed_login
  group-by: source.ip
  timespan: 1h
  condition:
    gte: 4
level: high
"""

NEW_RULE = """title: Reload User Created
id: 20000000-0000-0000-0000-000000000003
logsource:
  product: linux
detection:
  sel:
    event.action: user-created
  condition: sel
level: medium
"""

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL", what)


def failed_line(i):
    return ("<38>Nov 27 10:00:%02d web01 sshd[812]: Failed password for root from 203.0.113.45 "
            "port %d ssh2\n" % (i, 40000 + i))


USERADD = ("<86>Nov 27 10:01:00 web01 useradd[1234]: new user: name=eve, UID=1001, GID=1001, "
           "home=/home/eve, shell=/bin/bash, from=/dev/pts/0\n")


def alerts(data, title):
    path = os.path.join(data, "alerts.db")
    if not os.path.exists(path):
        return 0
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT ifnull(sum(count), 0) FROM alerts WHERE title = ?", (title,)).fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def side_listeners_off():
    """Flags that turn off the server's other listeners (web console, agents) where this build has
    them, so that parallel test runs do not compete for their fixed default ports."""
    out = subprocess.run([TRAPLINE, "server", "--help"], capture_output=True, text=True).stdout
    flags = []
    for name in ("--http", "--agents"):
        if re.search(r"^\s+%s " % name, out, re.M):
            flags += [name, ""]
    return flags


def wait_for(pred, secs=15):
    deadline = time.time() + secs
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def main():
    if not os.access(TRAPLINE, os.X_OK):
        print("SKIP: no trapline binary at %s" % TRAPLINE)
        return 77
    with tempfile.TemporaryDirectory() as work:
        rules = os.path.join(work, "rules")
        data = os.path.join(work, "data")
        os.mkdir(rules)
        with open(os.path.join(rules, "ssh.yml"), "w") as f:
            f.write(SSH_RULES)
        log_path = os.path.join(work, "server.log")
        logf = open(log_path, "wb")

        def log_text():
            with open(log_path, "rb") as f:
                return f.read().decode(errors="replace")

        proc = subprocess.Popen(
            [TRAPLINE, "server", "--data", data, "--rules", rules, "--syslog-tcp",
             "127.0.0.1:0", "--stats-interval", "0"] + side_listeners_off(),
            stdout=subprocess.PIPE, stderr=logf)
        try:
            line = proc.stdout.readline().decode()
            m = re.search(r"tcp=127\.0\.0\.1:(\d+)", line)
            if not m:
                print("server did not start:", line, log_text())
                return 1
            conn = socket.create_connection(("127.0.0.1", int(m.group(1))))

            conn.sendall((failed_line(1) + failed_line(2)).encode())
            conn.sendall(USERADD.encode())
            time.sleep(1.5)
            check(alerts(data, "Reload User Created") == 0, "no alert before the rule exists")

            with open(os.path.join(rules, "accounts.yml"), "w") as f:
                f.write(NEW_RULE)
            proc.send_signal(signal.SIGHUP)
            check(wait_for(lambda: "reload prepared" in log_text()), "reload logged")

            conn.sendall(USERADD.encode())
            check(wait_for(lambda: alerts(data, "Reload User Created") == 1),
                  "the new rule raises an alert after SIGHUP")
            check("correlations_kept_state=1" in log_text(), "unchanged correlation kept state")

            conn.sendall((failed_line(3) + failed_line(4)).encode())
            # One alert that counts the four events that made it fire.
            check(wait_for(lambda: alerts(data, "Reload Brute Force") == 4),
                  "correlation fires on two events before and two after the reload")

            # A broken file: reported, its previous version stays in effect.
            with open(os.path.join(rules, "accounts.yml"), "w") as f:
                f.write("title: Reload User Created\ndetection: [unclosed\n")
            proc.send_signal(signal.SIGHUP)
            check(wait_for(lambda: "previous version stays in effect" in log_text()),
                  "broken rule file reported")
            conn.sendall(USERADD.replace("10:01:00", "10:02:00").encode())
            check(wait_for(lambda: alerts(data, "Reload User Created") == 2),
                  "the previous version of the broken file still raises alerts")
            conn.close()
        finally:
            proc.terminate()
            try:
                rc = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = -1
            logf.close()
        check(rc == 0, "server exits 0 after SIGTERM (rc=%s)" % rc)
        if failures:
            print(log_text())
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())

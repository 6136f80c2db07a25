#!/usr/bin/env python3
"""TAXII 2.1 feed in a running server: `trapline server` polls a local TAXII server (two pages of
objects, bearer token, TAXII Accept header checked), imports the indicators, retro-hunts them in
the events stored before they were published, and matches live syslog events against them.

1. The collection starts empty; events holding 198.51.100.77 (an indicator of page 2) are sent
   over TCP and stored.
2. Ten objects are published (five per page); the server fetches both pages and the retro-hunt
   raises a retrospective alert for the stored events.
3. Live events from 203.0.113.45 (an indicator of page 1) sent over UDP raise a live alert, tagged
   with the intrusion set that a relationship on page 2 ties it to. A new version of another
   indicator, revoked, removes it.
4. A feed whose server is down is recorded with its error and retried after 5 s, 10 s, ...
5. The next polls ask only for what was added after the last X-TAXII-Date-Added-Last, which is
   kept in DATA/taxii/<feed>.json; `trapline ioc feeds` shows the feed with its count.
Only loopback addresses are used.
"""
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taxii_server  # noqa: E402

TRAPLINE = os.environ.get("TRAPLINE", "build/trapline")
TOKEN = "test-token-6b1f"
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def wait_for(what, fn, secs=30):
    end = time.time() + secs
    while time.time() < end:
        r = fn()
        if r:
            return r
        time.sleep(0.3)
    check(False, what + " (timed out)")
    return None


def run(*args):
    r = subprocess.run([TRAPLINE] + list(args), capture_output=True, text=True, timeout=60)
    return r.stdout


def alerts(data):
    out = run("alerts", "--data", data, "--output", "json", "--limit", "100")
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def syslog_line(ip, msg_id):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return ("<38>1 %s web01 sshd 812 - - Failed password for root from %s port %d ssh2"
            % (now, ip, 40000 + msg_id))


def closed_port():
    """A loopback port nothing listens on (bound a moment ago, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    if not os.access(TRAPLINE, os.X_OK):
        print("skipped: TRAPLINE is not the built binary")
        return 77
    work = tempfile.mkdtemp(prefix="trl-taxii-")
    data = os.path.join(work, "data")
    token_file = os.path.join(work, "partner.token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    taxii = taxii_server.TaxiiServer(TOKEN, page_size=5).start()
    cfg = os.path.join(work, "trapline.yml")
    with open(cfg, "w") as f:
        f.write(
            "data_dir: %s\n" % data
            + taxii_server.server_section(TRAPLINE, udp=True, tcp=True)
            + "ioc:\n"
            "  reload_interval: 1s\n"
            "  feeds:\n"
            "    - taxii name=partner url=%s/taxii2/ collection=apt40-synth"
            " token_file=%s interval=1s hunt=1d\n"
            "    - taxii name=down url=http://127.0.0.1:%d/taxii2/ collection=x interval=1s\n"
            % (taxii.base, token_file, closed_port()))
    log_path = os.path.join(work, "server.log")
    log = open(log_path, "w")
    out = open(os.path.join(work, "server.stdout"), "w")
    srv = subprocess.Popen([TRAPLINE, "server", "--config", cfg], stdout=out, stderr=log)
    try:
        def ports():
            text = open(log_path).read()
            udp = tcp = None
            for word in text.split():
                if word.startswith("udp=") and "127.0.0.1:" in word:
                    udp = int(word.rsplit(":", 1)[1])
                if word.startswith("tcp=") and "127.0.0.1:" in word:
                    tcp = int(word.rsplit(":", 1)[1])
            return (udp, tcp) if udp and tcp else None

        got = wait_for("server listens", ports, 15)
        if not got or srv.poll() is not None:
            print(open(log_path).read())
            return 1
        udp_port, tcp_port = got
        check(wait_for("first (empty) poll", lambda: any(
            p.endswith("/objects/") for p, _, _ in taxii.requests), 15) is not None,
            "the server polls the empty collection")

        # 1. Events with the page-2 address, stored before the indicator exists.
        with socket.create_connection(("127.0.0.1", tcp_port)) as s:
            for i in range(3):
                s.sendall((syslog_line("198.51.100.77", i) + "\n").encode())
        stored = wait_for("events stored", lambda: run(
            "search", "--data", data, "--from", "-1h", "source.ip:198.51.100.77").strip(), 20)
        check(stored is not None and len(stored.splitlines()) == 3,
              "the three early events are stored")

        # 2. Publish: two pages.
        taxii.publish(taxii_server.apt40_objects())

        def feed_row():
            for line in run("ioc", "feeds", "--data", data, "--output", "json").splitlines():
                row = json.loads(line)
                if row.get("name") == "partner" and row.get("count", 0) > 0:
                    return row
            return None

        row = wait_for("feed imported", feed_row, 20)
        check(row is not None and row["count"] == 6 and row.get("last_error") is None,
              "ioc feeds: partner with 6 indicators and no error (%s)" % row)
        nexts = [q for p, q, st in taxii.requests if "next" in q and st == 200]
        check(len(nexts) >= 1, "the second page was fetched with next=")
        check(all(q.get("limit") == "1000" for p, q, _ in taxii.requests
                  if p.endswith("/objects/")), "every objects request sends limit")
        check(all(st == 200 for _, _, st in taxii.requests),
              "no request was refused (Accept header and bearer token)")

        def retro():
            return [a for a in alerts(data) if "retro-hunt" in a.get("tags", [])
                    and a.get("group_by", {}).get("indicator") == "198.51.100.77"]

        ra = wait_for("retro-hunt alert", retro, 20)
        check(bool(ra), "a retrospective alert for 198.51.100.77 in the stored events")

        # 3. Live events with the page-1 address; the matcher reloads within a second or two.
        def live():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.sendto(syslog_line("203.0.113.45", 9).encode(), ("127.0.0.1", udp_port))
            return [a for a in alerts(data) if "retro-hunt" not in a.get("tags", [])
                    and a.get("group_by", {}).get("indicator") == "203.0.113.45"]

        la = wait_for("live alert", live, 20)
        check(bool(la), "a live alert for 203.0.113.45 sent over UDP")
        if la:
            check("intrusion-set:APT40" in la[0].get("tags", []),
                  "the live alert carries the intrusion set of a relationship on another page")
            check(la[0].get("rule_id") ==
                  "ioc:indicator--6f1c2a3b-4d5e-4f60-8a71-b2c3d4e5f601",
                  "the alert names the STIX indicator id")

        # A new version revoking the domain indicator takes it out of ioc.db.
        revoked = dict(taxii_server.apt40_objects()[4], revoked=True,
                       modified="2024-07-11T00:00:00.000Z")
        taxii.publish([revoked])

        def count_is_5():
            for line in run("ioc", "feeds", "--data", data, "--output", "json").splitlines():
                row = json.loads(line)
                if row.get("name") == "partner" and row.get("count") == 5:
                    return row
            return None

        check(wait_for("revocation", count_is_5, 15) is not None and
              "update-cdn.example.net" not in run("ioc", "list", "--data", data, "--output",
                                                  "json"),
              "a revoked indicator is removed (6 -> 5 indicators)")

        # A feed whose server is down: recorded, retried with backoff, never fatal.
        def down_row():
            for line in run("ioc", "feeds", "--data", data, "--output", "json").splitlines():
                row = json.loads(line)
                if row.get("name") == "down" and row.get("last_error"):
                    return row
            return None

        row = wait_for("the failing feed's error", down_row, 10)
        check(row is not None and "connect to server" in (row or {}).get("last_error", ""),
              "ioc feeds shows the failing feed's error (%s)" % row)
        retried = wait_for("a retry", lambda: "feed=down refresh failed (attempt 2, retry in 5s)"
                           in open(log_path).read(), 15)
        check(bool(retried), "the failing feed is retried with backoff")
        check(srv.poll() is None, "the server keeps running")

        # 4. Incremental polls.
        state_file = os.path.join(data, "taxii", "partner.json")
        state = wait_for("cursor saved", lambda: os.path.exists(state_file) and
                         json.load(open(state_file)), 10)
        last = taxii_server.stamp(taxii.objects[-1][0])
        check(bool(state) and state.get("added_after") == last,
              "the cursor is the newest X-TAXII-Date-Added-Last (%s)" % state)
        n = len(taxii.requests)
        wait_for("another poll", lambda: len(taxii.requests) > n + 3, 10)
        later = [q for p, q, _ in taxii.requests[n:] if p.endswith("/objects/")]
        check(bool(later) and all(q.get("added_after") == last for q in later),
              "later polls ask only for objects added after the cursor")
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            rc = srv.wait(20)
        except subprocess.TimeoutExpired:
            srv.kill()
            rc = -1
        taxii.stop()
        check(rc == 0, "server exits 0 on SIGTERM")
        if failures:
            print("---- server log ----")
            print(open(log_path).read()[-6000:])
        subprocess.run(["rm", "-rf", work])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

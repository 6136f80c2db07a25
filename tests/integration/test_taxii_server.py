#!/usr/bin/env python3
"""Trapline's read-only TAXII 2.1 server, and a second Trapline polling it.

Instance A holds a local indicator list and alerts for one of them; with ioc.taxii_server.listen
and a token hash configured it serves its STIX export over HTTPS:
- 401 without the bearer token, 406 without the TAXII Accept header, 405 for POST;
- discovery, API root, one collection; objects in pages (limit, more/next), with
  X-TAXII-Date-Added-Last, and nothing more when asked for what was added after it;
- every object valid STIX 2.1 (spec_version, ids, millisecond timestamps).
Instance B has A as a TAXII feed (TLS verified against A's CA) and imports A's indicators.
Only loopback addresses are used.
"""
import datetime
import hashlib
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taxii_server  # noqa: E402

TRAPLINE = os.environ.get("TRAPLINE", "build/trapline")
TOKEN = "partner-token-41d2"
MEDIA = "application/taxii+json;version=2.1"
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


def start(work, name, config):
    cfg = os.path.join(work, name + ".yml")
    with open(cfg, "w") as f:
        f.write(config)
    log = os.path.join(work, name + ".log")
    p = subprocess.Popen([TRAPLINE, "server", "--config", cfg],
                         stdout=open(os.path.join(work, name + ".stdout"), "w"),
                         stderr=open(log, "w"))
    return p, log


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(20)
    except subprocess.TimeoutExpired:
        p.kill()
        return -1


def main():
    if not os.access(TRAPLINE, os.X_OK):
        print("skipped: TRAPLINE is not the built binary")
        return 77
    work = tempfile.mkdtemp(prefix="trl-taxiisrv-")
    a_data = os.path.join(work, "a")
    b_data = os.path.join(work, "b")
    lst = os.path.join(work, "local.txt")
    with open(lst, "w") as f:
        f.write("203.0.113.45\nevil.example\n198.51.100.0/24\n")
    subprocess.run([TRAPLINE, "ioc", "import", "--data", a_data, "--source", "local-intel", lst],
                   check=True, capture_output=True)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    events = os.path.join(work, "events.log")
    with open(events, "w") as f:
        for i in range(3):
            f.write("<38>1 %s web01 sshd 812 - - Failed password for root from 203.0.113.45 "
                    "port %d ssh2\n" % (now, 40000 + i))
    subprocess.run([TRAPLINE, "ingest", "--no-progress", "--data", a_data, "--ioc", events],
                   check=True, capture_output=True)
    # The same export from the command line, twice: byte for byte the same.
    e1, e2 = os.path.join(work, "e1.json"), os.path.join(work, "e2.json")
    for path in (e1, e2):
        r = subprocess.run([TRAPLINE, "ioc", "export", "--data", a_data, "--identity", "SOC lab",
                            "--output", path], capture_output=True, text=True)
        check(r.returncode == 0 and "3 indicators, 1 sightings" in r.stderr,
              "ioc export: 3 indicators, 1 sighting (%s)" % r.stderr.strip())
    check(open(e1).read() == open(e2).read(), "ioc export twice gives the same bundle")
    r = subprocess.run([TRAPLINE, "ioc", "export", "--data", a_data, "--format", "misp"],
                       capture_output=True, text=True)
    check(r.returncode == 2, "ioc export --format misp is refused")

    srv_yaml = taxii_server.server_section(TRAPLINE)
    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    a, a_log = start(work, "a", "data_dir: %s\n" % a_data + srv_yaml
                     + "ioc:\n  taxii_server:\n    listen: 127.0.0.1:0\n    tokens:\n"
                     "      - %s\n" % digest)
    b = None
    try:
        def port():
            m = re.search(r"listening taxii=127\.0\.0\.1:(\d+)", open(a_log).read())
            return int(m.group(1)) if m else None

        p = wait_for("TAXII server listens", port, 15)
        if not p:
            print(open(a_log).read())
            return 1
        base = "https://127.0.0.1:%d" % p
        ctx = ssl.create_default_context(cafile=os.path.join(a_data, "keys", "ca.crt"))

        def get(path, token=TOKEN, accept=MEDIA, method="GET"):
            req = urllib.request.Request(base + path, method=method)
            if token:
                req.add_header("Authorization", "Bearer " + token)
            if accept:
                req.add_header("Accept", accept)
            try:
                with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                    return r.status, dict(r.headers), json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, dict(e.headers), json.loads(e.read() or b"{}")

        st, _, body = get("/taxii2/", token=None)
        check(st == 401 and body.get("http_status") == "401", "no token: 401 with a TAXII error")
        st, _, _ = get("/taxii2/", token="wrong")
        check(st == 401, "a wrong token: 401")
        st, _, _ = get("/taxii2/", accept="application/json")
        check(st == 406, "no TAXII media type in Accept: 406")
        st, _, _ = get("/taxii2/", method="POST")
        check(st == 405, "POST: 405")
        st, hdr, disc = get("/taxii2/")
        check(st == 200 and disc.get("default") == base + "/trapline/", "discovery (%s)" % disc)
        check(hdr.get("Content-Type", "").replace(" ", "") == MEDIA, "TAXII content type")
        st, _, root = get("/trapline/")
        check(st == 200 and MEDIA in root.get("versions", []), "API root lists TAXII 2.1")
        st, _, colls = get("/trapline/collections/")
        coll = colls["collections"][0]
        check(coll["can_read"] and not coll["can_write"], "one read-only collection")

        objects, pages, nxt, last = [], 0, None, None
        while True:
            q = "?limit=2" + ("&next=" + nxt if nxt else "")
            st, hdr, env = get("/trapline/collections/%s/objects/%s" % (coll["id"], q))
            if st != 200:
                check(False, "objects page: HTTP %d" % st)
                break
            pages += 1
            objects += env.get("objects", [])
            last = hdr.get("X-TAXII-Date-Added-Last", last)
            if not env.get("more"):
                break
            nxt = env["next"]
        types = sorted(o["type"] for o in objects)
        check(pages == 3 and types == ["identity", "indicator", "indicator", "indicator",
                                       "sighting"],
              "five objects in three pages of two (%d pages: %s)" % (pages, types))
        ms = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        uid = re.compile(r"^[a-z-]+--[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                         r"[0-9a-f]{12}$")
        check(all(o["spec_version"] == "2.1" and uid.match(o["id"]) and ms.match(o["created"])
                  and ms.match(o["modified"]) for o in objects),
              "every object: spec_version 2.1, a v5 uuid id, millisecond timestamps")
        sighting = [o for o in objects if o["type"] == "sighting"]
        check(bool(sighting) and sighting[0]["count"] == 3, "the sighting counts three events")
        st, _, env = get("/trapline/collections/%s/objects/?added_after=%s" % (coll["id"], last))
        check(st == 200 and not env.get("objects") and env.get("more") is False,
              "nothing is added after X-TAXII-Date-Added-Last")

        # Instance B polls A.
        tok = os.path.join(work, "a.token")
        with open(tok, "w") as f:
            f.write(TOKEN + "\n")
        b, b_log = start(work, "b", "data_dir: %s\n" % b_data + srv_yaml
                         + "ioc:\n  feeds:\n    - taxii name=partner-a url=%s/taxii2/ "
                         "collection=%s token_file=%s ca=%s interval=1s\n"
                         % (base, coll["id"], tok, os.path.join(a_data, "keys", "ca.crt")))

        def b_feed():
            r = subprocess.run([TRAPLINE, "ioc", "feeds", "--data", b_data, "--output", "json"],
                               capture_output=True, text=True)
            for line in r.stdout.splitlines():
                row = json.loads(line)
                if row.get("name") == "partner-a" and row.get("count", 0) > 0:
                    return row
            return None

        row = wait_for("instance B imports A's indicators", b_feed, 20)
        check(row is not None and row["count"] == 3 and row["last_error"] is None,
              "instance B holds A's three indicators over verified TLS (%s)" % row)
    finally:
        if b:
            check(stop(b) == 0, "instance B exits 0")
        check(stop(a) == 0, "instance A exits 0")
        if failures:
            for log in ("a.log", "b.log"):
                path = os.path.join(work, log)
                if os.path.exists(path):
                    print("---- %s ----" % log)
                    print(open(path).read()[-4000:])
        subprocess.run(["rm", "-rf", work])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""End to end: the HTTPS web console and REST API of `trapline server` (docs/api.md).

Starts a server on free loopback ports with a fresh data directory, sends SSH login failures over
syslog TCP (enough for the built-in brute-force rule to raise an alert), then exercises every
endpoint through TLS verified against the server's own CA (DATA/keys/ca.crt): sessions and CSRF,
roles, API tokens, login throttling, search with cursor paging and pipes, events, histogram,
overview, live tail, alerts with status/assignee/comments, users, tokens, metrics (also per
listener, after syslog over TCP and UDP), agents, static files with gzip, path traversal, malformed
and oversized bodies, and the security headers. Also the CLI verbs `users` and `tokens`, and a
clean stop on SIGTERM. Only loopback addresses are used.
"""
import gzip
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings

TRAPLINE = os.environ.get("TRAPLINE", "build/trapline")
SRC = os.environ.get("TRL_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
BRUTE_FORCE = "b8246bfe-b48e-4091-88f0-cc1293d1a285"

failures = []

HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src "
                               "'self' data:; connect-src 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'; form-action 'self'",
    "Strict-Transport-Security": "max-age=31536000",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL", what)
    return cond


class Client:
    """One HTTPS connection per request (the server's limits apply per connection)."""

    def __init__(self, port, ca):
        self.port = port
        self.ctx = ssl.create_default_context(cafile=ca)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self.cookie = None
        self.csrf = None
        self.token = None

    def raw(self, method, path, body=None, headers=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=30)
        h = dict(headers or {})
        if self.cookie:
            h.setdefault("Cookie", self.cookie)
        if self.token:
            h.setdefault("Authorization", "Bearer " + self.token)
        if self.csrf and method not in ("GET", "HEAD"):
            h.setdefault("X-CSRF-Token", self.csrf)
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            return r.status, r.headers, data
        finally:
            conn.close()

    def call(self, method, path, body=None, headers=None):
        status, hdrs, data = self.raw(method, path, body, headers)
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = data
        return status, hdrs, doc

    def login(self, user, password):
        status, hdrs, doc = self.call("POST", "/api/v1/login",
                                      {"username": user, "password": password})
        if status == 200:
            m = re.match(r"trl_session=([0-9a-f]+)", hdrs.get("Set-Cookie", ""))
            self.cookie = "trl_session=" + m.group(1) if m else None
            self.csrf = doc.get("csrf")
        return status, hdrs, doc


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def syslog_lines():
    now = time.time()
    lines = []
    for i in range(8):
        t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - 60 + i)) + ".%03dZ" % i
        lines.append("<38>1 %s web01 sshd 812 - - Failed password for root from 203.0.113.45 "
                     "port %d ssh2\n" % (t, 40000 + i))
    t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 30))
    lines.append("<86>1 %s db02 sshd 900 - - Accepted password for alice from 198.51.100.7 "
                 "port 51000 ssh2\n" % t)
    return lines


def wait_for(pred, secs=20):
    deadline = time.time() + secs
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    return pred()


def check_headers(hdrs, what, api=True):
    for k, v in HEADERS.items():
        check(hdrs.get(k) == v, "%s: header %s" % (what, k))
    if api:
        check(hdrs.get("Cache-Control") == "no-store", "%s: Cache-Control no-store" % what)


def test_public(c):
    status, hdrs, doc = c.call("GET", "/health")
    check(status == 200 and doc.get("status") == "ok" and doc.get("version"), "health")
    check_headers(hdrs, "/health")
    status, hdrs, doc = c.call("GET", "/api/v1/openapi.json")
    check(status == 200 and isinstance(doc, dict) and doc.get("openapi", "").startswith("3.0"),
          "openapi.json is served without auth")
    status, hdrs, data = c.raw("GET", "/")
    check(status == 200 and b"<html" in data.lower(), "/ serves index.html")
    check(hdrs.get("Content-Type", "").startswith("text/html"), "index.html content type")
    check_headers(hdrs, "/", api=False)
    status, hdrs, data = c.raw("GET", "/assets/app.js", headers={"Accept-Encoding": "gzip"})
    check(status == 200 and hdrs.get("Content-Encoding") == "gzip", "assets served gzip")
    if status == 200 and hdrs.get("Content-Encoding") == "gzip":
        plain = c.raw("GET", "/assets/app.js")[2]
        check(gzip.decompress(data) == plain, "gzip asset decompresses to the plain one")
    status, hdrs, data = c.raw("GET", "/assets/app.js", headers={"Accept-Encoding": "gzip;q=0"})
    check(status == 200 and hdrs.get("Content-Encoding") is None, "gzip;q=0 gets plain bytes")
    for path in ["/assets/nothing.js", "/nothing", "/assets/../users.db",
                 "/assets/%2e%2e/%2e%2e/users.db", "/../admin-password", "/%2e%2e/admin-password",
                 "/assets/..%2f..%2fkeys/server.key", "/api/v1/../../admin-password",
                 "/api/v1/events/..%2f..%2fusers.db", "/keys/server.key", "/users.db",
                 "/assets//etc/passwd", "/api/v1/nothing"]:
        status, hdrs, data = c.raw("GET", path)
        check(status == 404, "traversal/unknown %s -> 404 (got %d)" % (path, status))
        check(b"BEGIN" not in data and b"argon2" not in data, "%s leaks nothing" % path)
        check_headers(hdrs, path, api=path.startswith("/api"))


def test_unauthenticated(c):
    for method, path in [("GET", "/api/v1/me"), ("GET", "/api/v1/search?q=x"),
                         ("GET", "/api/v1/search/tail?q=x"),
                         ("GET", "/api/v1/alerts"), ("GET", "/metrics"),
                         ("GET", "/api/v1/users"), ("POST", "/api/v1/logout"),
                         ("PATCH", "/api/v1/alerts/1")]:
        status, hdrs, doc = c.call(method, path, {} if method != "GET" else None)
        check(status == 401 and isinstance(doc, dict) and doc.get("error"),
              "%s %s without session -> 401" % (method, path))
        check_headers(hdrs, path)
    bad = Client(c.port, CA)
    bad.cookie = "trl_session=" + "ab" * 32
    check(bad.call("GET", "/api/v1/me")[0] == 401, "unknown session id -> 401")
    bad.cookie = None
    bad.token = "trl_" + "00" * 32
    check(bad.call("GET", "/api/v1/me")[0] == 401, "unknown bearer token -> 401")
    bad.token = "garbage"
    check(bad.call("GET", "/api/v1/me")[0] == 401, "malformed bearer token -> 401")


def test_login(c, admin_pw):
    status, _, doc = c.call("POST", "/api/v1/login", {"username": "admin", "password": "wrong"})
    check(status == 401 and doc.get("error"), "wrong password -> 401")
    status, _, doc = c.call("POST", "/api/v1/login", {"username": "nobody", "password": "x" * 9})
    check(status == 401, "unknown user -> 401")
    status, hdrs, doc = c.login("admin", admin_pw)
    check(status == 200, "admin login")
    check(doc and doc.get("user") == {"name": "admin", "role": "admin"}, "login returns the user")
    check(doc and re.fullmatch(r"[0-9a-f]{64}", doc.get("csrf", "")), "login returns a csrf token")
    cookie = hdrs.get("Set-Cookie", "")
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"]:
        check(attr in cookie, "session cookie has " + attr)
    status, _, doc = c.call("GET", "/api/v1/me")
    check(status == 200 and doc == {"name": "admin", "role": "admin", "csrf": c.csrf}, "me")


def test_bodies(c):
    status, _, doc = c.call("POST", "/api/v1/users", b'{"name": "x", "role": ',
                            {"Content-Type": "application/json"})
    check(status == 400 and "error" in doc and "position" in doc, "malformed JSON -> 400")
    status, _, doc = c.call("POST", "/api/v1/users", [1, 2])
    check(status == 400 and "error" in doc, "JSON array body -> 400")
    status, _, doc = c.call("POST", "/api/v1/users", b"\xff\xfe\x00garbage",
                            {"Content-Type": "application/json"})
    check(status == 400, "binary body -> 400")
    status, _, doc = c.call("POST", "/api/v1/users", b"{" + b" " * (1 << 20) + b"}",
                            {"Content-Type": "application/json"})
    check(status == 413 and isinstance(doc, dict) and doc.get("error"), "1 MiB+ body -> 413")
    status, _, doc = c.call("POST", "/api/v1/users", {"name": "bad/name", "role": "viewer",
                                                      "password": "longenough"})
    check(status == 400 and doc.get("field") == "name", "bad user name -> 400 with field")
    status, _, doc = c.call("POST", "/api/v1/users", {"name": "x1", "role": "king",
                                                      "password": "longenough"})
    check(status == 400 and doc.get("field") == "role", "bad role -> 400 with field")
    status, _, doc = c.call("POST", "/api/v1/users", {"name": "x1", "role": "viewer",
                                                      "password": "short"})
    check(status == 400 and doc.get("field") == "password", "short password -> 400")
    status, _, _ = c.call("DELETE", "/api/v1/search")
    check(status == 405, "wrong method on a known path -> 405")


def test_csrf_and_users(c):
    saved = c.csrf
    c.csrf = None
    status, _, doc = c.call("POST", "/api/v1/users", {"name": "vera", "role": "viewer",
                                                      "password": "vera-password"})
    check(status == 403 and doc.get("error"), "POST without CSRF token -> 403")
    status, _, _ = c.call("POST", "/api/v1/users", {"name": "vera", "role": "viewer",
                                                    "password": "vera-password"},
                          {"X-CSRF-Token": "0" * 64})
    check(status == 403, "POST with a wrong CSRF token -> 403")
    c.csrf = saved
    for name, role in [("vera", "viewer"), ("ann", "analyst"), ("tmp", "viewer")]:
        status, _, doc = c.call("POST", "/api/v1/users", {"name": name, "role": role,
                                                          "password": name + "-password"})
        check(status == 201 and doc == {"name": name, "role": role}, "create user " + name)
    status, _, doc = c.call("POST", "/api/v1/users", {"name": "vera", "role": "viewer",
                                                      "password": "vera-password"})
    check(status == 409, "duplicate user -> 409")
    status, _, doc = c.call("GET", "/api/v1/users")
    names = sorted(u["name"] for u in doc.get("users", [])) if status == 200 else []
    check(names == ["admin", "ann", "tmp", "vera"], "list users")


def test_search(c, expected_failed):
    def found():
        s, _, d = c.call("GET", "/api/v1/search?q=%22Failed+password%22&from=-1h")
        return s == 200 and len(d["events"]) >= expected_failed and d
    doc = wait_for(found)
    if not check(doc, "search finds the ingested events"):
        return None
    ev = doc["events"][0]
    check(set(ev) == {"id", "@timestamp", "event"}, "search event shape")
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", ev["@timestamp"]) or True,
          "timestamp")
    check(ev["event"].get("source", {}).get("ip") == "203.0.113.45", "ECS fields in the event")
    times = [e["@timestamp"] for e in doc["events"]]
    check(times == sorted(times, reverse=True), "newest first")
    check(isinstance(doc.get("took_ms"), int), "took_ms")
    # Cursor paging, two at a time, gives the same events exactly once.
    seen, cursor, pages = [], None, 0
    while pages < 20:
        path = "/api/v1/search?q=%22Failed+password%22&from=-1h&limit=2"
        if cursor:
            path += "&cursor=" + cursor
        s, _, d = c.call("GET", path)
        if not check(s == 200, "search page %d" % pages):
            break
        seen += [e["id"] for e in d["events"]]
        cursor = d["next_cursor"]
        pages += 1
        if not cursor:
            break
    check(sorted(seen) == sorted(e["id"] for e in doc["events"]), "paging returns every event once")
    check(pages == (len(doc["events"]) + 1) // 2, "paging page count")
    s, _, d = c.call("GET", "/api/v1/search?q=sshd+%7C+stats+count+by+source.ip&from=-1h")
    check(s == 200 and d.get("columns") == ["source.ip", "count"], "pipe columns")
    rows = {r[0]: r[1] for r in d.get("rows", [])} if s == 200 else {}
    check(rows.get("203.0.113.45") == expected_failed, "pipe stats counts (%r)" % rows)
    s, _, d = c.call("GET", "/api/v1/search?q=user.name%3A(root+OR&from=-1h")
    check(s == 400 and d.get("error") and isinstance(d.get("position"), int), "bad query -> 400")
    s, _, d = c.call("GET", "/api/v1/search?q=x+%7C+bogus")
    check(s == 400 and isinstance(d.get("position"), int), "bad pipe -> 400 with position")
    s, _, d = c.call("GET", "/api/v1/search?limit=abc")
    check(s == 400 and d.get("field") == "limit", "bad limit -> 400")
    s, _, d = c.call("GET", "/api/v1/search?from=yesterday-ish")
    check(s == 400 and d.get("field") == "from", "bad from -> 400")
    s, _, d = c.call("GET", "/api/v1/search?cursor=zzz")
    check(s == 400 and d.get("field") == "cursor", "bad cursor -> 400")

    eid = ev["id"]
    s, _, d = c.call("GET", "/api/v1/events/" + eid)
    check(s == 200 and d.get("id") == eid and d.get("event", {}).get("event", {}).get("id") == eid,
          "get one event")
    for bad in ["ffffffffffffffff", "not-hex", "%2e%2e"]:
        check(c.call("GET", "/api/v1/events/" + bad)[0] == 404, "unknown event %s -> 404" % bad)

    s, _, d = c.call("GET", "/api/v1/histogram?q=%22Failed+password%22&from=-1h&buckets=12")
    check(s == 200 and len(d.get("buckets", [])) == 12 and d.get("interval_ms") == 300000,
          "histogram buckets")
    check(s == 200 and sum(b["count"] for b in d["buckets"]) == expected_failed,
          "histogram counts every event")
    s, _, d = c.call("GET", "/api/v1/histogram?buckets=0")
    check(s == 400, "histogram buckets=0 -> 400")
    s, _, d = c.call("GET", "/api/v1/overview?from=-1h")
    check(s == 200 and len(d.get("events_per_minute", [])) == 60, "overview events per minute")
    hosts = {h["value"]: h["count"] for h in d.get("by_host", [])} if s == 200 else {}
    check(hosts.get("web01") == expected_failed, "overview by_host (%r)" % hosts)
    check(s == 200 and set(d.get("alerts_by_level", {})) ==
          {"critical", "high", "medium", "low", "informational"}, "overview alert levels")
    check(s == 200 and d.get("agents_silent") == [], "overview agents_silent")
    programs = {h["value"]: h["count"] for h in d.get("by_source", [])} if s == 200 else {}
    check(programs.get("sshd") == expected_failed + 1, "overview by_source (%r)" % programs)
    check(s == 200 and all(b["t"].endswith(":00.000Z") for b in d["events_per_minute"]),
          "overview buckets start on whole minutes")
    check(s == 200 and sum(b["count"] for b in d["events_per_minute"]) >= expected_failed + 1,
          "overview counts the events per minute")
    s2, _, d2 = c.call("GET", "/api/v1/overview?from=-1h")
    check(s2 == 200 and d2.get("by_host") == d.get("by_host"), "overview asked again (cached)")
    # Past a day the buckets widen: 7 days in 7-minute buckets (cached minutes), 30 days in
    # 30-minute ones (counted from the store); the same events either way.
    for rng, minutes in (("-7d", 7), ("-30d", 30)):
        s2, _, d2 = c.call("GET", "/api/v1/overview?from=" + rng)
        b = d2.get("events_per_minute", []) if s2 == 200 else []
        check(len(b) == 1440, "overview %s: 1440 buckets (%d)" % (rng, len(b)))
        if len(b) > 1:
            t0, t1 = (time.mktime(time.strptime(x["t"][:19], "%Y-%m-%dT%H:%M:%S")) for x in b[:2])
            check(t1 - t0 == minutes * 60, "overview %s: %d-minute buckets" % (rng, minutes))
        hosts = {h["value"]: h["count"] for h in d2.get("by_host", [])}
        check(hosts.get("web01") == expected_failed, "overview %s by_host (%r)" % (rng, hosts))
    return eid


def test_alerts(admin, analyst, viewer):
    def listed():
        s, _, d = admin.call("GET", "/api/v1/alerts")
        return s == 200 and d["alerts"] and d
    doc = wait_for(listed)
    if not check(doc, "alerts are listed"):
        return
    brute = [a for a in doc["alerts"] if a["rule_id"] == BRUTE_FORCE]
    if not check(brute, "the brute-force alert is listed (%r)" % doc["alerts"]):
        return
    a = brute[0]
    for k in ["id", "rule_id", "title", "level", "tags", "host", "count", "status", "assignee",
              "first_seen", "last_seen", "group"]:
        check(k in a, "alert has " + k)
    aid = a["id"]
    s, _, d = admin.call("GET", "/api/v1/alerts/%d" % aid)
    check(s == 200 and d.get("events") and d.get("comments") == [], "alert with events")
    if s == 200 and d.get("events"):
        times = [e["@timestamp"] for e in d["events"]]
        check(times == sorted(times), "alert events oldest first")
        check(all(e["event"]["source"]["ip"] == "203.0.113.45" for e in d["events"]),
              "alert events are the triggering ones")
    check(admin.call("GET", "/api/v1/alerts/999999")[0] == 404, "unknown alert -> 404")
    check(admin.call("GET", "/api/v1/alerts/abc")[0] == 404, "bad alert id -> 404")

    s, _, d = viewer.call("PATCH", "/api/v1/alerts/%d" % aid, {"status": "closed"})
    check(s == 403, "viewer cannot change an alert")
    s, _, d = viewer.call("POST", "/api/v1/alerts/%d/comments" % aid, {"text": "hi"})
    check(s == 403, "viewer cannot comment")
    s, _, d = analyst.call("PATCH", "/api/v1/alerts/%d" % aid, {"status": "bogus"})
    check(s == 400 and d.get("field") == "status", "bad status -> 400")
    s, _, d = analyst.call("PATCH", "/api/v1/alerts/%d" % aid,
                           {"status": "acknowledged", "assignee": "ann"})
    check(s == 200 and d.get("status") == "acknowledged" and d.get("assignee") == "ann",
          "analyst acknowledges and assigns")
    s, _, d = analyst.call("POST", "/api/v1/alerts/%d/comments" % aid,
                           {"text": "looking into it <script>"})
    check(s == 201 and d.get("user") == "ann" and d.get("text") == "looking into it <script>",
          "comment created")
    s, _, d = analyst.call("POST", "/api/v1/alerts/%d/comments" % aid, {"text": ""})
    check(s == 400, "empty comment -> 400")
    s, _, d = admin.call("GET", "/api/v1/alerts/%d" % aid)
    check(s == 200 and [c["text"] for c in d.get("comments", [])] == ["looking into it <script>"],
          "comment listed")
    s, _, d = admin.call("GET", "/api/v1/alerts?status=acknowledged")
    check(s == 200 and [x["id"] for x in d["alerts"]] == [aid], "filter by status")
    s, _, d = admin.call("GET", "/api/v1/alerts?limit=1")
    check(s == 200 and len(d["alerts"]) == 1, "alert list limit")
    s, _, d = admin.call("GET", "/api/v1/alerts?status=new")
    check(s == 200 and aid not in [x["id"] for x in d["alerts"]], "filter by status new")
    s, _, d = admin.call("GET", "/api/v1/alerts?status=weird")
    check(s == 400, "bad status filter -> 400")

    def audited():
        s, _, d = admin.call("GET", "/api/v1/search?q=event.action%3Aalert-status-changed")
        return s == 200 and d["events"] and d["events"][0]["event"]
    ev = wait_for(audited)
    if check(ev, "alert change is written as an audit event"):
        check(ev.get("user", {}).get("name") == "ann", "audit event names the user")
        check(ev.get("source", {}).get("ip") == "127.0.0.1", "audit event names the client")
        check("iam" in ev.get("event", {}).get("category", []) or
              "configuration" in ev.get("event", {}).get("category", []), "audit category")


def test_tokens(admin, port):
    s, _, d = admin.call("POST", "/api/v1/tokens", {"name": "ci", "role": "viewer"})
    check(s == 201 and re.fullmatch(r"trl_[0-9a-f]{64}", d.get("token", "")), "create token")
    if s != 201:
        return
    tid, tok = d["id"], d["token"]
    s, _, d = admin.call("POST", "/api/v1/tokens", {"name": "bot", "role": "analyst"})
    atok = d.get("token")
    t = Client(port, CA)
    t.token = tok
    s, _, d = t.call("GET", "/api/v1/me")
    check(s == 200 and d.get("name") == "token:ci" and d.get("role") == "viewer", "bearer me")
    check(t.call("GET", "/metrics")[0] == 200, "metrics with a token")
    status, hdrs, data = t.raw("GET", "/metrics")
    check(b"trapline_events_total" in data and b"trapline_store_bytes" in data,
          "metrics in Prometheus text")
    check(hdrs.get("Content-Type", "").startswith("text/plain"), "metrics content type")
    s, _, d = t.call("PATCH", "/api/v1/alerts/1", {"status": "closed"})
    check(s == 403, "viewer token cannot change")
    a = Client(port, CA)
    a.token = atok
    s, _, d = a.call("POST", "/api/v1/alerts/1/comments", {"text": "from a bot"})
    check(s == 201, "analyst token changes without CSRF")
    check(a.call("GET", "/api/v1/users")[0] == 403, "analyst token cannot list users")
    s, _, d = admin.call("GET", "/api/v1/tokens")
    check(s == 200 and {x["name"] for x in d["tokens"]} == {"ci", "bot"}, "list tokens")
    check(all("token" not in x and "hash" not in x for x in d.get("tokens", [])),
          "token list holds no secrets")
    check(admin.call("DELETE", "/api/v1/tokens/%d" % tid)[0] == 204, "revoke token")
    check(t.call("GET", "/api/v1/me")[0] == 401, "revoked token -> 401")
    check(admin.call("DELETE", "/api/v1/tokens/%d" % tid)[0] == 404, "revoke twice -> 404")


def test_iocs(admin, viewer, port):
    s, _, d = admin.call("POST", "/api/v1/tokens", {"name": "intel", "role": "analyst"})
    t = Client(port, CA)
    t.token = d.get("token") if s == 201 else None
    body = b"203.0.113.45\nevil.example.com\nnot an indicator !!\n"
    s, _, d = viewer.call("POST", "/api/v1/iocs?format=list&source=blocklist", body,
                          {"Content-Type": "text/plain"})
    check(s == 403, "viewer cannot import indicators")
    s, _, d = t.call("POST", "/api/v1/iocs?format=list&source=blocklist", body,
                     {"Content-Type": "text/plain"})
    check(s == 200 and d.get("imported") == 2 and d.get("rejected") == 1 and d.get("errors"),
          "import a list (%r)" % (d,))
    s, _, d = t.call("POST", "/api/v1/iocs?format=bogus", body)
    check(s == 400 and d.get("field") == "format", "bad format -> 400")
    s, _, d = t.call("POST", "/api/v1/iocs?source=../x", body)
    check(s == 400 and d.get("field") == "source", "bad source -> 400")
    # Uploads may be larger than other bodies (8 MiB), not more.
    big = b"".join(b"198.51.%d.%d\n" % (i // 250, i % 250) for i in range(60000)) + \
        b"#" * (2 << 20)
    s, _, d = t.call("POST", "/api/v1/iocs?format=list&source=big", big)
    check(s == 200 and d.get("imported") == 60000, "2 MiB+ upload accepted (%s)" % s)
    s, _, d = t.call("POST", "/api/v1/iocs?format=list&source=huge", b"1.2.3.4\n" * (1 << 20) +
                     b"x")
    check(s == 413, "8 MiB+ upload -> 413")
    s, _, d = viewer.call("GET", "/api/v1/iocs?q=evil")
    check(s == 200 and [i["value"] for i in d["indicators"]] == ["evil.example.com"],
          "list indicators by text")
    s, _, d = viewer.call("GET", "/api/v1/iocs?type=ipv4&limit=5")
    check(s == 200 and len(d["indicators"]) == 5 and
          all(i["type"] == "ipv4" for i in d["indicators"]), "list indicators by type")
    s, _, d = viewer.call("GET", "/api/v1/iocs?type=planet")
    check(s == 400, "bad indicator type -> 400")
    s, _, d = viewer.call("GET", "/api/v1/feeds")
    feeds = {f["name"]: f for f in d.get("feeds", [])} if s == 200 else {}
    check(feeds.get("blocklist", {}).get("count") == 2, "feeds list (%r)" % feeds)


UPLOAD_ID = "5d0f3a34-7e11-4c1d-9c1e-0a0b0c0d0e0f"
UPLOAD = """title: Web Upload Alice Logs In
id: %s
status: test
logsource:
    product: linux
    service: sshd
detection:
    selection:
        user.name: alice
    condition: selection
level: medium
""" % UPLOAD_ID


def test_rules(admin, viewer, port, tcp_port, log_text):
    s, _, d = viewer.call("GET", "/api/v1/rules")
    rules = {r["id"]: r for r in d.get("rules", [])} if s == 200 else {}
    check(BRUTE_FORCE in rules, "rules list holds the built-in rules")
    bf = rules.get(BRUTE_FORCE, {})
    check(bf.get("hits", 0) >= 1 and bf.get("kind") == "correlation" and bf.get("enabled") is True,
          "rule hits and kind (%r)" % bf)
    for k in ["title", "level", "tags", "file", "logsource"]:
        check(k in bf, "rule has " + k)
    s, _, d = viewer.call("GET", "/api/v1/rules/" + BRUTE_FORCE)
    check(s == 200 and BRUTE_FORCE in (d.get("yaml") or ""), "rule with its YAML")
    check(viewer.call("GET", "/api/v1/rules/nope")[0] == 404, "unknown rule -> 404")
    s, _, d = viewer.call("POST", "/api/v1/rules", UPLOAD.encode(),
                          {"Content-Type": "application/yaml"})
    check(s == 403, "viewer cannot upload rules")
    s, _, d = admin.call("POST", "/api/v1/rules", b"title: x\ndetection: [unclosed\n",
                         {"Content-Type": "application/yaml"})
    check(s == 400 and d.get("error") and isinstance(d.get("line"), int),
          "invalid rule -> 400 with line (%r)" % (d,))
    s, _, d = admin.call("POST", "/api/v1/rules", UPLOAD.replace("condition: selection",
                                                                   "condition: nothing").encode(),
                         {"Content-Type": "application/yaml"})
    check(s == 400 and d.get("error"), "rule with a bad condition -> 400")
    s, _, d = admin.call("POST", "/api/v1/rules/%s/test" % UPLOAD_ID, {"from": "-1h"})
    check(s == 404, "testing a rule not yet uploaded -> 404")
    s, _, d = admin.call("POST", "/api/v1/rules", UPLOAD.encode(),
                         {"Content-Type": "application/yaml"})
    check(s == 201 and d.get("id") == UPLOAD_ID and d.get("loaded") is True, "upload a rule")
    check(os.path.exists(os.path.join(DATA, "rules", UPLOAD_ID + ".yml")), "rule saved in DATA")
    s, _, d = admin.call("GET", "/api/v1/rules/" + UPLOAD_ID)
    check(s == 200 and d.get("yaml") == UPLOAD, "uploaded rule is listed")
    s, _, d = admin.call("POST", "/api/v1/rules/%s/test" % UPLOAD_ID, {"from": "-1h", "limit": 5})
    check(s == 200 and len(d.get("matches", [])) == 1 and d.get("scanned", 0) >= 9,
          "rule test finds the stored event (%r)" % ({k: v for k, v in (d or {}).items()
                                                      if k != "matches"},))
    s, _, d = admin.call("POST", "/api/v1/rules/%s/test" % UPLOAD_ID, {"limit": "x"})
    check(s == 400, "rule test with a bad limit -> 400")
    # The upload is live: a new matching event raises an alert.
    check(wait_for(lambda: "reload" in log_text()), "upload triggers a rule reload")
    # The indicators imported earlier must be loaded by the matcher (it polls every 5 s) before
    # the event, for the sighting checked below.
    check(wait_for(lambda: "ioc: indicators loaded count=60002" in log_text(), 30),
          "imported indicators loaded")
    time.sleep(1)
    t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with socket.create_connection(("127.0.0.1", tcp_port)) as conn:
        conn.sendall(("<86>1 %s db02 sshd 901 - - Accepted password for alice from "
                      "198.51.100.7 port 51001 ssh2\n" % t).encode())

    def alerted():
        s, _, d = admin.call("GET", "/api/v1/alerts?limit=100")
        return s == 200 and [a for a in d["alerts"] if a["rule_id"] == UPLOAD_ID]
    check(wait_for(alerted), "the uploaded rule raises alerts")

    # 198.51.100.7 is among the indicators imported earlier: the same event is a sighting.
    def sighted():
        s, _, d = admin.call("GET", "/api/v1/sightings?limit=10")
        return s == 200 and [x for x in d["sightings"] if x.get("value") == "198.51.100.7"]
    found = wait_for(sighted, 30)
    if check(found, "indicator hit listed as a sighting"):
        check(found[0].get("event_id") and found[0].get("at") and found[0].get("indicator"),
              "sighting fields (%r)" % found[0])
    test_rule_toggle(admin, viewer, port, tcp_port)


def send_alice(tcp_port, src_port):
    t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with socket.create_connection(("127.0.0.1", tcp_port)) as conn:
        conn.sendall(("<86>1 %s db03 sshd 902 - - Accepted password for alice from "
                      "198.51.100.8 port %d ssh2\n" % (t, src_port)).encode())


def stored(c, src_port):
    """Waits until the event with this source port is in the store (the detector saw it)."""
    def found():
        s, _, d = c.call("GET", "/api/v1/search?q=source.port%%3A%d&from=-1h" % src_port)
        return s == 200 and d.get("events")
    return wait_for(found)


def rule_of(c, rule_id):
    s, _, d = c.call("GET", "/api/v1/rules/" + rule_id)
    return d if s == 200 else {}


def test_rule_toggle(admin, viewer, port, tcp_port):
    """PATCH /rules/{id}: a rule turned off raises nothing, turned on again it does."""
    path = "/api/v1/rules/" + UPLOAD_ID
    check(viewer.call("PATCH", path, {"enabled": False})[0] == 403, "viewer cannot disable rules")
    nocsrf = Client(port, CA)
    nocsrf.cookie, nocsrf.csrf = admin.cookie, None
    check(nocsrf.call("PATCH", path, {"enabled": False})[0] == 403, "rule PATCH needs CSRF")
    s, _, d = admin.call("PATCH", path, {"enabled": "no"})
    check(s == 400 and d.get("field") == "enabled", "enabled must be a boolean -> 400")
    check(admin.call("PATCH", "/api/v1/rules/nope", {"enabled": False})[0] == 404,
          "disable unknown rule -> 404")
    before = rule_of(admin, UPLOAD_ID)
    check(before.get("hits", 0) >= 1 and before.get("alert_hits", 0) >= 1,
          "uploaded rule counts its hits (%r)" % {k: before.get(k) for k in ("hits",
                                                                             "alert_hits")})
    s, _, d = admin.call("PATCH", path, {"enabled": False})
    check(s == 200 and d.get("enabled") is False and d.get("id") == UPLOAD_ID, "disable a rule")
    check(rule_of(viewer, UPLOAD_ID).get("enabled") is False, "GET shows the rule disabled")
    with open(os.path.join(DATA, "rules-state.json")) as f:
        check(UPLOAD_ID in json.load(f).get("disabled", []), "state saved in DATA")
    send_alice(tcp_port, 52001)
    check(stored(admin, 52001), "event for the disabled rule stored")
    time.sleep(0.5)
    off = rule_of(admin, UPLOAD_ID)
    check(off.get("hits") == before.get("hits") and
          off.get("alert_hits") == before.get("alert_hits"),
          "a disabled rule raises no alert (%r -> %r)" % (before.get("hits"), off.get("hits")))
    s, _, d = admin.call("PATCH", path, {"enabled": True})
    check(s == 200 and d.get("enabled") is True, "enable the rule again")
    send_alice(tcp_port, 52002)
    check(wait_for(lambda: rule_of(admin, UPLOAD_ID).get("hits", 0) > before.get("hits", 0)),
          "an enabled rule raises alerts again")
    s, _, d = admin.call("GET", "/api/v1/search?q=event.action%3Arule-disabled")
    check(s == 200 and d.get("events"), "disabling a rule is audited")

    # The CLI writes the same state; a running server takes it on SIGHUP.
    r = subprocess.run([TRAPLINE, "rules", "disable", UPLOAD_ID, "--data", DATA],
                       capture_output=True, timeout=60)
    check(r.returncode == 0 and b"SIGHUP" in r.stdout, "rules disable (%r)" % r.stderr)
    check(rule_of(admin, UPLOAD_ID).get("enabled") is True, "CLI change waits for SIGHUP")
    SERVER.send_signal(signal.SIGHUP)
    check(wait_for(lambda: rule_of(admin, UPLOAD_ID).get("enabled") is False),
          "SIGHUP applies the CLI's rules disable")
    send_alice(tcp_port, 52003)
    check(stored(admin, 52003), "event after the SIGHUP stored")
    time.sleep(0.5)
    hits = rule_of(admin, UPLOAD_ID).get("hits")
    r = subprocess.run([TRAPLINE, "rules", "enable", UPLOAD_ID, "--data", DATA],
                       capture_output=True, timeout=60)
    check(r.returncode == 0, "rules enable")
    SERVER.send_signal(signal.SIGHUP)
    check(wait_for(lambda: rule_of(admin, UPLOAD_ID).get("enabled") is True),
          "SIGHUP applies the CLI's rules enable")
    check(rule_of(admin, UPLOAD_ID).get("hits") == hits, "hits kept across the reload")
    r = subprocess.run([TRAPLINE, "rules", "disable", "--data", DATA],
                       capture_output=True, timeout=60)
    check(r.returncode == 2, "rules disable without an id -> usage")

    status, _, data = admin.raw("GET", "/metrics")
    text = data.decode(errors="replace")
    for name in ["trapline_listener_messages_total", "trapline_listener_bytes_total",
                 "trapline_listener_drops_total", "trapline_queue_batches",
                 "trapline_rule_eval_seconds_total", "trapline_rule_eval_events_total",
                 "trapline_rules", "trapline_agents", "trapline_agent_events_per_second",
                 "trapline_agent_spool_events", "trapline_agent_dropped_events"]:
        check(status == 200 and ("# TYPE %s " % name) in text and ("# HELP %s " % name) in text,
              "metric %s with HELP and TYPE" % name)
    m = re.search(r'^trapline_listener_messages_total\{listener="tcp"\} (\d+)$', text, re.M)
    check(m and int(m.group(1)) >= 12, "TCP messages counted (%r)" % (m and m.group(0)))
    m = re.search(r'^trapline_rule_eval_events_total (\S+)$', text, re.M)
    check(m and float(m.group(1)) >= 12, "evaluated events counted")
    check(re.search(r'^trapline_listener_drops_total\{listener="udp"\} 0$', text, re.M),
          "no datagram dropped")


def test_tail(c, viewer, tcp_port):
    """GET /search/tail: the events received after a cursor, newest arrival first."""
    token = "tailtok%d" % os.getpid()
    s, _, d = c.call("GET", "/api/v1/search/tail?q=" + token)
    if not check(s == 200 and d.get("events") == [] and re.fullmatch(r"[0-9a-f]{16}", d.get(
            "cursor", "")) and d.get("truncated") is False, "tail without a cursor (%r)" % d):
        return
    start = d["cursor"]
    # The cursor is an event id: only events received after it are tailed.
    s, _, d = c.call("GET", "/api/v1/search?q=%22Failed+password%22&from=-1h&limit=1000")
    newest = max(e["id"] for e in d["events"]) if s == 200 and d["events"] else None
    if check(newest, "search for the tail's cursor"):
        s, _, d = c.call("GET", "/api/v1/search/tail?q=%22Failed+password%22&after=" + newest)
        check(s == 200 and d.get("events") == [], "events up to the cursor are not tailed")
        before = "%016x" % (int(newest, 16) - 1)
        s, _, d = c.call("GET", "/api/v1/search/tail?q=%22Failed+password%22&after=" + before)
        check(s == 200 and [e["id"] for e in d.get("events", [])] == [newest],
              "the event just after the cursor is tailed")
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with socket.create_connection(("127.0.0.1", tcp_port)) as conn:
        for i in range(3):
            # The last one is stamped ten minutes ago: arrival order counts, not @timestamp.
            t = now if i < 2 else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 600))
            conn.sendall(("<38>1 %s web09 sshd 77 - - %s line %d\n" % (t, token, i)).encode())

    def tailed():
        s, _, d = c.call("GET", "/api/v1/search/tail?q=%s&after=%s" % (token, start))
        return s == 200 and len(d["events"]) >= 3 and d
    d = wait_for(tailed)
    if not check(d, "events sent after the cursor are tailed"):
        return
    msgs = [e["event"].get("message", "") for e in d["events"]]
    check(msgs == ["%s line %d" % (token, i) for i in (2, 1, 0)],
          "tail gives each new event once, newest arrival first (%r)" % msgs)
    ids = [e["id"] for e in d["events"]]
    check(all(i > start for i in ids) and d["cursor"] >= max(ids),
          "the next cursor is past the tailed events")
    check(set(d["events"][0]) == {"id", "@timestamp", "event"}, "tail event shape")
    s, _, d2 = c.call("GET", "/api/v1/search/tail?q=%s&after=%s" % (token, d["cursor"]))
    check(s == 200 and d2["events"] == [], "nothing new past the new cursor")
    s, _, d2 = c.call("GET", "/api/v1/search/tail?q=%s&limit=2&after=%s" % (token, start))
    check(s == 200 and [e["event"]["message"] for e in d2["events"]] ==
          ["%s line 2" % token, "%s line 1" % token] and d2["truncated"] is True,
          "limit keeps the newest and says so")
    check(viewer.call("GET", "/api/v1/search/tail?q=%s&after=%s" % (token, start))[0] == 200,
          "viewers may tail")
    # A cursor of decimal digits only (compared by the handler, not in the query), long ago.
    s, _, d2 = c.call("GET", "/api/v1/search/tail?q=%s&after=1000000000000000" % token)
    check(s == 200 and len(d2["events"]) == 3, "an old all-digit cursor tails the last hour")
    for bad in ["zzzz", "123", "0" * 17, "g" * 16, "ffffffffffffffff"]:
        s, _, d = c.call("GET", "/api/v1/search/tail?after=" + bad)
        check(s == 400 and d.get("field") == "after", "bad cursor %s -> 400" % bad)
    s, _, d = c.call("GET", "/api/v1/search/tail?q=user.name%3A(root+OR")
    check(s == 400 and isinstance(d.get("position"), int), "tail: bad query -> 400")
    s, _, d = c.call("GET", "/api/v1/search/tail?q=x+%7C+stats+count")
    check(s == 400, "tail: a query with pipes -> 400")
    s, _, d = c.call("GET", "/api/v1/search/tail?limit=0")
    check(s == 400 and d.get("field") == "limit", "tail: limit=0 -> 400")


def metric_value(c, name, labels):
    text = c.raw("GET", "/metrics")[2].decode(errors="replace")
    m = re.search(r"^%s\{%s\} (\d+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return int(m.group(1)) if m else None


def test_listener_metrics(c, tcp_port, udp_port):
    """Per-listener counters: messages, bytes, drops and open connections by kind and address."""
    tcp = 'kind="tcp",address="127.0.0.1:%d"' % tcp_port
    udp = 'kind="udp",address="127.0.0.1:%d"' % udp_port
    before = {(n, l): metric_value(c, n, l) for n in ["trapline_input_messages_total",
                                                      "trapline_input_bytes_total"]
              for l in (tcp, udp)}
    if not check(all(v is not None for v in before.values()),
                 "per-listener metrics for the TCP and UDP listeners (%r)" % before):
        return
    check(metric_value(c, "trapline_input_drops_total", udp) == 0, "no datagram dropped")
    conns = metric_value(c, "trapline_input_connections", tcp)
    check(conns is not None, "open connections of the TCP listener")
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    tcp_lines = ["<38>1 %s web05 sshd 5 - - metrics tcp %d\n" % (now, i) for i in range(7)]
    udp_lines = ["<38>1 %s web06 sshd 6 - - metrics udp %d" % (now, i) for i in range(5)]
    conn = socket.create_connection(("127.0.0.1", tcp_port))
    conn.sendall("".join(tcp_lines).encode())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        for line in udp_lines:
            u.sendto(line.encode(), ("127.0.0.1", udp_port))
    want = {("trapline_input_messages_total", tcp): 7,
            ("trapline_input_messages_total", udp): 5,
            ("trapline_input_bytes_total", tcp): sum(len(x) for x in tcp_lines),
            ("trapline_input_bytes_total", udp): sum(len(x) for x in udp_lines)}

    def counted():
        return all((metric_value(c, n, l) or 0) - before[(n, l)] >= v for (n, l), v in want.items())
    wait_for(counted)
    for (n, l), v in want.items():
        got = (metric_value(c, n, l) or 0) - before[(n, l)]
        check(got == v, "%s{%s} grew by %d (got %d)" % (n, l, v, got))
    check(metric_value(c, "trapline_input_connections", tcp) == conns + 1,
          "an open TCP connection is counted")
    conn.close()
    check(wait_for(lambda: metric_value(c, "trapline_input_connections", tcp) == conns),
          "a closed TCP connection is no longer counted")


def test_concurrency(admin, port):
    """Idle and half-open connections do not starve the workers; parallel requests all answer."""
    s, _, d = admin.call("POST", "/api/v1/tokens", {"name": "load", "role": "viewer"})
    token = d.get("token") if s == 201 else None
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
    for i, sock in enumerate(idle[:10]):
        sock.sendall(b"\x16\x03\x01\x00" if i % 2 else b"GET / HTTP/1.1\r\n")
    results = []

    def worker():
        c = Client(port, CA)
        c.token = token
        for q in ["sshd", "root", "%7C+stats+count"]:
            results.append(c.call("GET", "/api/v1/search?q=" + q)[0])
        results.append(c.call("GET", "/health")[0])
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for sock in idle:
        sock.close()
    check(len(results) == 32 and all(r == 200 for r in results),
          "parallel requests with idle connections open (%r)" % results)


def test_agents(admin, viewer):
    check(viewer.call("POST", "/api/v1/agents/tokens", {})[0] == 403,
          "viewer cannot create enrollment tokens")
    s, _, d = admin.call("POST", "/api/v1/agents/tokens", {"ttl_s": 600})
    check(s == 201 and d.get("token") and d.get("expires") and
          d.get("command", "").startswith("trapline agent enroll --server ") and
          d["token"] in d["command"], "create an enrollment token (%r)" % (d,))
    s, _, d = admin.call("POST", "/api/v1/agents/tokens", {"ttl_s": 5})
    check(s == 400 and d.get("field") == "ttl_s", "bad ttl -> 400")
    s, _, d = admin.call("POST", "/api/v1/agents/tokens", {"server": "a b"})
    check(s == 400 and d.get("field") == "server", "bad server -> 400")
    check(admin.call("POST", "/api/v1/agents/nobody/revoke")[0] == 404, "revoke unknown agent")
    s, _, d = viewer.call("GET", "/api/v1/agents")
    check(s == 200 and d == {"agents": []}, "no agent enrolled yet")


def test_viewer(viewer):
    s, _, d = viewer.call("GET", "/api/v1/search?q=sshd")
    check(s == 200, "viewer can search")
    for method, path, body in [("POST", "/api/v1/tokens", {"name": "v", "role": "admin"}),
                               ("POST", "/api/v1/users", {"name": "v2", "role": "admin",
                                                          "password": "password1"}),
                               ("GET", "/api/v1/users", None),
                               ("DELETE", "/api/v1/users/admin", None)]:
        check(viewer.call(method, path, body)[0] == 403, "viewer: %s %s -> 403" % (method, path))
    check(viewer.call("GET", "/api/v1/agents")[1] is not None, "agents")
    s, _, d = viewer.call("GET", "/api/v1/agents")
    check(s == 200 and d == {"agents": []}, "no agents yet")


def test_throttle(port):
    c = Client(port, CA)
    codes = [c.call("POST", "/api/v1/login", {"username": "tmp", "password": "wrong-%d" % i})[0]
             for i in range(5)]
    check(codes == [401] * 5, "five wrong passwords -> 401 (%r)" % codes)
    s, hdrs, d = c.call("POST", "/api/v1/login", {"username": "tmp", "password": "wrong"})
    check(s == 429 and int(hdrs.get("Retry-After", "0")) > 0 and d.get("error"),
          "sixth attempt -> 429 with Retry-After")
    s, _, _ = c.login("tmp", "tmp-password")
    check(s == 429, "even the right password is refused while locked")
    s, _, _ = c.login("vera", "vera-password")
    check(s == 200, "other users are not locked")


def test_user_changes(admin, port):
    tmp = Client(port, CA)
    s, _, _ = tmp.login("ann", "ann-password")
    check(s == 200, "ann logs in again")
    s, _, d = admin.call("PATCH", "/api/v1/users/ann", {"role": "viewer"})
    check(s == 200 and d.get("role") == "viewer", "change role")
    check(tmp.call("GET", "/api/v1/me")[0] == 401, "role change ends the user's sessions")
    s, _, d = admin.call("PATCH", "/api/v1/users/ann", {"password": "ann-new-password"})
    check(s == 200, "change password")
    check(tmp.login("ann", "ann-password")[0] == 401, "old password no longer works")
    check(tmp.login("ann", "ann-new-password")[0] == 200, "new password works")
    check(admin.call("DELETE", "/api/v1/users/ann")[0] == 204, "remove user")
    check(tmp.call("GET", "/api/v1/me")[0] == 401, "removed user's session ends")
    check(admin.call("DELETE", "/api/v1/users/ann")[0] == 404, "remove twice -> 404")
    check(admin.call("DELETE", "/api/v1/users/admin")[0] == 400, "cannot remove yourself")
    check(admin.call("PATCH", "/api/v1/users/nobody", {"role": "viewer"})[0] == 404,
          "unknown user -> 404")


def test_cli(data):
    env = dict(os.environ)
    r = subprocess.run([TRAPLINE, "users", "add", "carol", "--role", "analyst",
                        "--password-stdin", "--data", data], input=b"carol-password\n",
                       capture_output=True, timeout=60, env=env)
    check(r.returncode == 0, "users add (%s)" % r.stderr.decode(errors="replace"))
    r = subprocess.run([TRAPLINE, "users", "add", "carol", "--role", "analyst",
                        "--password-stdin", "--data", data], input=b"carol-password\n",
                       capture_output=True, timeout=60)
    check(r.returncode == 1, "users add twice fails")
    r = subprocess.run([TRAPLINE, "users", "add", "dave", "--role", "root",
                        "--password-stdin", "--data", data], input=b"x\n", capture_output=True,
                       timeout=60)
    check(r.returncode == 2, "users add with a bad role -> 2")
    r = subprocess.run([TRAPLINE, "users", "list", "--data", data], capture_output=True,
                       timeout=60)
    check(r.returncode == 0 and b"carol" in r.stdout and b"analyst" in r.stdout, "users list")
    r = subprocess.run([TRAPLINE, "users", "passwd", "carol", "--password-stdin", "--data", data],
                       input=b"carol-password-2\n", capture_output=True, timeout=60)
    check(r.returncode == 0, "users passwd")
    r = subprocess.run([TRAPLINE, "tokens", "create", "--name", "cli-made", "--role", "viewer",
                        "--data", data], capture_output=True, timeout=60)
    tok = r.stdout.decode().strip()
    check(r.returncode == 0 and re.fullmatch(r"trl_[0-9a-f]{64}", tok), "tokens create")
    r = subprocess.run([TRAPLINE, "tokens", "list", "--data", data], capture_output=True,
                       timeout=60)
    check(r.returncode == 0 and b"cli-made" in r.stdout and tok.encode() not in r.stdout,
          "tokens list")
    m = re.search(rb"^(\d+)\s+cli-made", r.stdout, re.M)
    r = subprocess.run([TRAPLINE, "tokens", "revoke", m.group(1).decode() if m else "x",
                        "--data", data], capture_output=True, timeout=60)
    check(r.returncode == 0, "tokens revoke")
    r = subprocess.run([TRAPLINE, "users", "remove", "carol", "--data", data],
                       capture_output=True, timeout=60)
    check(r.returncode == 0, "users remove")
    return tok


def main():
    global CA, DATA, SERVER
    if not os.access(TRAPLINE, os.X_OK):
        print("SKIP: no trapline binary at %s" % TRAPLINE)
        return 77
    with tempfile.TemporaryDirectory() as work:
        data = os.path.join(work, "data")
        log_path = os.path.join(work, "server.log")
        logf = open(log_path, "wb")

        def log_text():
            with open(log_path, "rb") as f:
                return f.read().decode(errors="replace")

        proc = SERVER = subprocess.Popen(
            [TRAPLINE, "server", "--data", data, "--syslog-tcp", "127.0.0.1:0", "--syslog-udp", "127.0.0.1:0",
             "--http", "127.0.0.1:0", "--agents", "",
             "--stats-interval", "0"],
            stdout=subprocess.PIPE, stderr=logf)
        try:
            line = proc.stdout.readline().decode()
            m = re.search(r"tcp=127\.0\.0\.1:(\d+)", line)
            um = re.search(r"udp=127\.0\.0\.1:(\d+)", line)
            hm = re.search(r"https=127\.0\.0\.1:(\d+)", log_text())
            if not m or not um or not hm:
                print("server did not start:", line, log_text())
                return 1
            port = int(hm.group(1))
            check("assets=0" not in log_text(),
                  "the binary holds the console and OpenAPI document (CMakeLists.txt must "
                  "include cmake/embed_assets.cmake)")
            CA = os.path.join(data, "keys", "ca.crt")
            DATA = data
            pw_file = os.path.join(data, "admin-password")
            check(os.stat(pw_file).st_mode & 0o777 == 0o600, "admin-password is mode 0600")
            check(os.stat(os.path.join(data, "users.db")).st_mode & 0o077 == 0,
                  "users.db is private")
            admin_pw = open(pw_file).read().strip()
            check(admin_pw in log_text(), "first admin password is logged once")

            lines = syslog_lines()
            with socket.create_connection(("127.0.0.1", int(m.group(1)))) as conn:
                conn.sendall("".join(lines).encode())

            # Plain HTTP and old TLS versions are refused.
            raw = socket.create_connection(("127.0.0.1", port))
            raw.sendall(b"GET /health HTTP/1.0\r\n\r\n")
            raw.settimeout(5)
            try:
                got = raw.recv(100)
            except OSError:
                got = b""
            raw.close()
            check(not got.startswith(b"HTTP/1.0 200") and not got.startswith(b"HTTP/1.1 200"),
                  "plain HTTP is not served")
            warnings.simplefilter("ignore", DeprecationWarning)
            old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            old.load_verify_locations(CA)
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
            try:
                with socket.create_connection(("127.0.0.1", port)) as s:
                    with old.wrap_socket(s, server_hostname="127.0.0.1"):
                        check(False, "TLS 1.1 must be refused")
            except (ssl.SSLError, OSError):
                pass

            c = Client(port, CA)
            test_public(c)
            test_unauthenticated(c)
            test_login(c, admin_pw)
            test_bodies(c)
            test_csrf_and_users(c)
            test_search(c, 8)
            analyst = Client(port, CA)
            check(analyst.login("ann", "ann-password")[0] == 200, "analyst login")
            viewer = Client(port, CA)
            check(viewer.login("vera", "vera-password")[0] == 200, "viewer login")
            test_alerts(c, analyst, viewer)
            test_tail(c, viewer, int(m.group(1)))
            test_listener_metrics(c, int(m.group(1)), int(um.group(1)))
            test_tokens(c, port)
            test_viewer(viewer)
            test_agents(c, viewer)
            test_iocs(c, viewer, port)
            test_concurrency(c, port)
            test_rules(c, viewer, port, int(m.group(1)), log_text)
            test_throttle(port)
            test_user_changes(c, port)
            test_cli(data)
            check(c.call("POST", "/api/v1/logout")[0] == 204, "logout")
            check(c.call("GET", "/api/v1/me")[0] == 401, "session ends at logout")
        except Exception:
            traceback.print_exc()
            check(False, "no exception")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = -1
        check(rc == 0, "server stops cleanly on SIGTERM (rc=%d)" % rc)
        check("http: stopped" in log_text(), "web server stopped")
        if failures:
            print(log_text()[-4000:])
    if failures:
        print("%d checks failed" % len(failures))
        return 1
    print("ok")
    return 0


CA = None
DATA = None
SERVER = None

if __name__ == "__main__":
    sys.exit(main())

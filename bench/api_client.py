#!/usr/bin/env python3
"""Client side of bench/api.sh: REST API latencies and the web console's first-load size.

Logs in as admin over HTTPS (the server's CA verified), then for each query sends warm-up requests
followed by timed ones over one kept-alive connection, as the console does, and prints p50, p95 and
max of the wall-clock latency, the server's own `took_ms`, and whether p95 meets the target. The
answers are checked against the generator's counts (expect.json) once, outside the timing. Then it
fetches `/` and every file it references (script, stylesheet, icon and image links in the HTML,
JavaScript module imports, CSS url() and @import), gzip accepted, and sums the bytes received.
Python 3 standard library only.
"""
import argparse
import http.client
import json
import re
import ssl
import sys
import time
import urllib.parse
from html.parser import HTMLParser

LATENCY_TARGET_MS = 200.0
CONSOLE_TARGET_BYTES = 300 * 1024
RANGE = {"from": "-7d", "to": "now"}


class Conn:
    """One kept-alive HTTPS connection, reopened when the server has closed it."""

    def __init__(self, port, ca):
        self.port = port
        self.ctx = ssl.create_default_context(cafile=ca)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self.conn = None
        self.headers = {}

    def _open(self):
        self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx,
                                                timeout=300)

    def request(self, method, path, body=None, headers=None):
        h = dict(self.headers)
        h.update(headers or {})
        for attempt in (0, 1):
            if self.conn is None:
                self._open()
            try:
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, r.headers, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.BadStatusLine):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def get_json(self, path, params=None):
        if params:
            path += "?" + urllib.parse.urlencode(params)
        status, _, data = self.request("GET", path)
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = None
        return status, doc


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, -(-len(sorted_values) * p // 100) - 1))
    return sorted_values[int(k)]


def login(c, password):
    body = json.dumps({"username": "admin", "password": password}).encode()
    status, hdrs, data = c.request("POST", "/api/v1/login", body,
                                   {"Content-Type": "application/json"})
    m = re.match(r"trl_session=([0-9a-f]+)", hdrs.get("Set-Cookie", ""))
    if status != 200 or not m:
        sys.exit("login failed: %d %s" % (status, data[:200]))
    c.headers["Cookie"] = "trl_session=" + m.group(1)


def describe(doc):
    """A short summary of an answer: how many events, rows or buckets it holds."""
    if not isinstance(doc, dict):
        return "?"
    if "events" in doc:
        return "%d events" % len(doc["events"])
    if "rows" in doc:
        return "%d rows" % len(doc["rows"])
    if "buckets" in doc:
        return "%d buckets" % len(doc["buckets"])
    if "events_per_minute" in doc:
        return "%d minutes" % len(doc["events_per_minute"])
    return "?"


def measure(c, name, path, params, warmups, runs, budget):
    """Times `runs` requests after `warmups`; a query too slow for that many within `budget`
    seconds gets one warm-up and as many timed requests as fit, at least 3."""
    times, took, last = [], [], None
    i = 0
    while i < warmups + runs:
        t0 = time.perf_counter()
        status, doc = c.get_json(path, params)
        dt = (time.perf_counter() - t0) * 1000.0
        if status != 200:
            print("  %s: HTTP %d %s" % (name, status, json.dumps(doc)[:300]))
            return None
        if i >= warmups:
            times.append(dt)
            if isinstance(doc, dict) and isinstance(doc.get("took_ms"), (int, float)):
                took.append(float(doc["took_ms"]))
        elif i == 0 and (warmups + runs) * dt > budget * 1000.0:
            warmups, runs = 1, min(runs, max(3, int(budget * 1000.0 / dt) - 1))
        last = doc
        i += 1
    times.sort()
    took.sort()
    return {"name": name, "n": len(times), "p50": percentile(times, 50),
            "p95": percentile(times, 95),
            "max": times[-1], "took": percentile(took, 50) if took else None,
            "answer": describe(last), "doc": last}


def check_answers(c, expect):
    """Compares what the API answers with what the generator wrote; prints one line per check."""
    results = []

    def check(what, got, want):
        ok = got == want
        results.append(ok)
        print("  %-52s %s (got %s, expected %s)" % (what, "ok" if ok else "MISMATCH", got, want))

    def count(q):
        status, doc = c.get_json("/api/v1/search", dict(RANGE, q=q + " | stats count"))
        return doc["rows"][0][0] if status == 200 and doc.get("rows") else 0

    # The login is an audit event in the same store, written shortly after: wait for it, then
    # leave it out of the totals.
    deadline = time.time() + 15
    audit = count("event.dataset:trapline.audit")
    while audit == 0 and time.time() < deadline:
        time.sleep(0.2)
        audit = count("event.dataset:trapline.audit")
    check("events stored in the range, audit events left out", count("") - audit,
          expect["events"])
    for term, n in sorted(expect["rare"].items()):
        status, doc = c.get_json("/api/v1/search", dict(RANGE, q=term, limit=1000))
        check("rare term %s" % term, len(doc["events"]) if status == 200 else status, n)
    status, doc = c.get_json("/api/v1/search", dict(
        RANGE, q='source.ip:"%s" | stats count' % expect["filter_ip"]))
    got = doc["rows"][0][0] if status == 200 and doc.get("rows") else None
    check("events with source.ip %s" % expect["filter_ip"], got, expect["filter_count"])
    status, doc = c.get_json("/api/v1/search", dict(RANGE, q="| stats count by source.ip"))
    check("distinct source.ip (| stats count by source.ip)",
          len([r for r in doc["rows"] if r[0] != "127.0.0.1"]) if status == 200 else status,
          expect["distinct_ips"])
    status, doc = c.get_json("/api/v1/search", dict(RANGE, q="| stats count by host.name"))
    check("distinct host.name", len(doc["rows"]) if status == 200 else status, expect["hosts"])
    status, doc = c.get_json("/api/v1/histogram", dict(RANGE, q="", buckets=60))
    got = sum(b["count"] for b in doc["buckets"]) - audit if status == 200 else status
    check("histogram total, audit events left out", got, expect["events"])
    # The overview counts whole minutes ending with the current one: compare with a search of
    # the same minutes, the last three left out (the audit events of these requests land there).
    status, doc = c.get_json("/api/v1/overview", {"from": "-24h", "to": "now"})
    if status == 200 and len(doc["events_per_minute"]) > 3:
        first = doc["events_per_minute"][0]["t"]
        last = doc["events_per_minute"][-3]["t"]
        total = sum(b["count"] for b in doc["events_per_minute"][:-3])
        status2, top = c.get_json("/api/v1/search", {"from": first, "to": "now",
                                                     "q": "| top 10 host.name"})
        status3, n = c.get_json("/api/v1/search", {"from": first, "to": last, "q": "| stats count"})
        check("overview -24h: events per minute, summed", total,
              n["rows"][0][0] if status3 == 200 and n.get("rows") else status3)
        check("overview -24h: top hosts", sorted([h["value"], h["count"]] for h in doc["by_host"]),
              sorted(r[:2] for r in top["rows"]) if status2 == 200 else status2)
    else:
        check("overview -24h", status, 200)
    return all(results)


class AssetLinks(HTMLParser):
    """Collects the URLs a browser loads for a page: scripts, stylesheets, icons, images."""

    LOADED_RELS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "modulepreload",
                   "preload", "manifest", "mask-icon"}

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "img", "source", "audio", "video", "iframe") and a.get("src"):
            self.urls.append(a["src"])
        elif tag == "link" and a.get("href"):
            rels = set((a.get("rel") or "").lower().split())
            if rels & self.LOADED_RELS:
                self.urls.append(a["href"])


JS_IMPORT = re.compile(
    r"""(?:^|[;\s])(?:import|export)\s*(?:[\w*{}\s,$]+?\s*from\s*)?["']([^"']+)["']""", re.M)
CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+)["']?\s*\)|@import\s+["']([^"']+)["']""")


def references(url, ctype, body):
    if "javascript" in ctype:
        return JS_IMPORT.findall(body)
    if "css" in ctype:
        return [a or b for a, b in CSS_URL.findall(body)]
    if "html" in ctype:
        p = AssetLinks()
        p.feed(body)
        return p.urls
    return []


def console_load(port, ca):
    """Fetches / and everything it pulls in, gzip accepted; returns (ok, rows, wire, plain)."""
    import gzip
    c = Conn(port, ca)
    queue, seen, rows = ["/"], {"/"}, []
    wire = plain = 0
    ok = True
    t0 = time.perf_counter()
    while queue:
        path = queue.pop(0)
        status, hdrs, data = c.request("GET", path, headers={"Accept-Encoding": "gzip"})
        enc = hdrs.get("Content-Encoding") or "-"
        text = gzip.decompress(data) if enc == "gzip" else data
        rows.append((path, status, enc, len(data), len(text)))
        if status != 200:
            ok = False
            continue
        wire += len(data)
        plain += len(text)
        ctype = hdrs.get("Content-Type", "")
        for ref in references(path, ctype, text.decode("utf-8", "replace")):
            if ref.startswith(("data:", "#")):
                continue
            target = urllib.parse.urljoin("https://127.0.0.1:%d%s" % (port, path), ref)
            u = urllib.parse.urlsplit(target)
            if u.netloc != "127.0.0.1:%d" % port:
                print("  external reference from %s: %s" % (path, ref))
                ok = False
                continue
            p = u.path + ("?" + u.query if u.query else "")
            if p not in seen:
                seen.add(p)
                queue.append(p)
    elapsed = (time.perf_counter() - t0) * 1000.0
    return ok, rows, wire, plain, elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--password-file", required=True)
    ap.add_argument("--expect", required=True)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmups", type=int, default=3)
    ap.add_argument("--budget", type=float, default=120.0,
                    help="seconds per query before fewer requests are timed")
    args = ap.parse_args()
    expect = json.load(open(args.expect))
    c = Conn(args.port, args.ca)
    login(c, open(args.password_file).read().strip())

    # The overview keeps per-minute counts: time its first answer, counted from the store, before
    # anything else asks for it.
    t0 = time.perf_counter()
    status, _ = c.get_json("/api/v1/overview", {"from": "-24h", "to": "now"})
    cold_ms = (time.perf_counter() - t0) * 1000.0
    print("first /overview from=-24h (nothing cached yet): HTTP %d in %.0f ms" % (status, cold_ms))
    print("checking the answers against the generated data (range from=-7d to=now) ...")
    answers_ok = check_answers(c, expect)
    status, doc = c.get_json("/api/v1/search/tail", {"q": "sshd"})
    cursor = doc.get("cursor") if status == 200 else None

    rare = min(expect["rare"], key=lambda t: (expect["rare"][t], t))
    queries = [
        ("rare term: %s" % rare, "/api/v1/search", dict(RANGE, q=rare, limit=100)),
        ('field filter: source.ip:"%s"' % expect["filter_ip"], "/api/v1/search",
         dict(RANGE, q='source.ip:"%s"' % expect["filter_ip"], limit=100)),
        ("field filter: host.name:web07 sshd", "/api/v1/search",
         dict(RANGE, q="host.name:web07 sshd", limit=100)),
        ("| stats count by source.ip", "/api/v1/search",
         dict(RANGE, q="| stats count by source.ip")),
        ("| timechart span=1h count", "/api/v1/search",
         dict(RANGE, q="| timechart span=1h count")),
        ("/histogram buckets=60", "/api/v1/histogram", dict(RANGE, q="", buckets=60)),
        ("/histogram q=sshd buckets=60", "/api/v1/histogram",
         dict(RANGE, q="sshd", buckets=60)),
        ("/overview from=-24h", "/api/v1/overview", {"from": "-24h", "to": "now"}),
        ("/search/tail q=sshd (a live tail poll)", "/api/v1/search/tail",
         {"q": "sshd", "after": cursor}),
    ]
    print()
    print("latency over n requests (%d after %d warm-ups unless a query needs more than %.0f s "
          "for that), one kept-alive connection, %d events over 72 h, range -7d..now "
          "(/overview -24h); took = the server's took_ms:" %
          (args.runs, args.warmups, args.budget, expect["events"]))
    fmt = "  %-42s %3s %8s %8s %8s %9s  %-12s %-8s %s"
    print(fmt % ("query", "n", "p50 ms", "p95 ms", "max ms", "took p50", "answer", "target",
                 "met"))
    all_met = True
    for name, path, params in queries:
        r = measure(c, name, path, params, args.warmups, args.runs, args.budget)
        if r is None:
            all_met = False
            print(fmt % (name, "-", "-", "-", "-", "-", "error", "p95<200", "NO"))
            continue
        met = r["p95"] < LATENCY_TARGET_MS
        all_met &= met
        print(fmt % (name, r["n"], "%.1f" % r["p50"], "%.1f" % r["p95"], "%.1f" % r["max"],
                     "-" if r["took"] is None else "%.0f" % r["took"], r["answer"], "p95<200",
                     "yes" if met else "NO"))

    print()
    print("console first load (GET / and what it references, Accept-Encoding: gzip):")
    ok, rows, wire, plain, elapsed = console_load(args.port, args.ca)
    for path, status, enc, n_wire, n_plain in rows:
        print("  %-32s %3d %-5s %8d bytes (%d uncompressed)" % (path, status, enc, n_wire,
                                                                 n_plain))
    met = ok and wire < CONSOLE_TARGET_BYTES
    print("  total: %d files, %.1f KB compressed (%.1f KB uncompressed), fetched one by one in "
          "%.0f ms; target < 300 KB: %s" % (len(rows), wire / 1024.0, plain / 1024.0, elapsed,
                                            "yes" if met else "NO"))
    print()
    print("answers %s; latency targets %s; console size target %s" % (
        "correct" if answers_ok else "WRONG", "all met" if all_met else "NOT all met",
        "met" if met else "NOT met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

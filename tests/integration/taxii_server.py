#!/usr/bin/env python3
"""A small TAXII 2.1 server for tests (Python standard library only, loopback only).

It serves discovery (/taxii2/), one API root (/api1/), its collections and one collection's
objects, added_after filtering, and paging: at most `page_size` objects per page whatever `limit`
asks, with `more`/`next` in the envelope and X-TAXII-Date-Added-First/-Last headers. Every request
must accept the TAXII 2.1 media type (else 406) and carry the bearer token (else 401). Each
request is recorded in `requests` as (path, query dict, status).

Run alone to serve the objects of tests/integration/test_taxii_feed.py on a free port:
    python3 tests/integration/taxii_server.py TOKEN
"""
import base64
import datetime
import http.server
import json
import sys
import threading
import urllib.parse

MEDIA_TYPE = "application/taxii+json;version=2.1"
COLLECTION_ID = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"


def stamp(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stamp(s):
    s = s.rstrip("Z")
    if "." not in s:
        s += ".0"
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f")


class TaxiiServer:
    def __init__(self, token, page_size=5):
        self.token = token
        self.page_size = page_size
        self.objects = []  # (date_added datetime, object), in the order added
        self.requests = []
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server._handle(self)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.base = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def publish(self, objects):
        """Adds objects to the collection, each with its own date_added (1 ms apart)."""
        with self.lock:
            now = datetime.datetime.utcnow()
            for i, o in enumerate(objects):
                self.objects.append((now + datetime.timedelta(milliseconds=i), o))

    def _send(self, h, status, body, headers=None):
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", MEDIA_TYPE)
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def _error(self, h, status, title, description):
        self._send(h, status, {"title": title, "description": description,
                               "http_status": str(status)})
        return status

    def _handle(self, h):
        url = urllib.parse.urlsplit(h.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        status = self._route(h, url.path, query)
        with self.lock:
            self.requests.append((url.path, query, status))

    def _route(self, h, path, query):
        if MEDIA_TYPE not in h.headers.get("Accept", "").replace(" ", ""):
            return self._error(h, 406, "Unsupported media type",
                               "Accept header must be " + MEDIA_TYPE)
        if h.headers.get("Authorization", "") != "Bearer " + self.token:
            return self._error(h, 401, "Unauthorized", "a valid bearer token is required")
        if path == "/taxii2/":
            self._send(h, 200, {"title": "Test TAXII server", "default": self.base + "/api1/",
                                "api_roots": [self.base + "/api1/"]})
        elif path == "/api1/":
            self._send(h, 200, {"title": "API Root 1", "versions": [MEDIA_TYPE],
                                "max_content_length": 104857600})
        elif path == "/api1/collections/":
            self._send(h, 200, {"collections": [{
                "id": COLLECTION_ID, "title": "APT40 synthetic indicators",
                "alias": "apt40-synth", "can_read": True, "can_write": False,
                "media_types": ["application/stix+json;version=2.1"]}]})
        elif path == "/api1/collections/%s/objects/" % COLLECTION_ID:
            return self._objects(h, query)
        else:
            return self._error(h, 404, "Not found", path)
        return 200

    def _objects(self, h, query):
        with self.lock:
            objs = list(self.objects)
        if "added_after" in query:
            try:
                after = parse_stamp(query["added_after"])
            except ValueError:
                return self._error(h, 400, "Bad request", "added_after is not a timestamp")
            objs = [x for x in objs if x[0] > after]
        start = 0
        if "next" in query:
            try:
                start = int(base64.b64decode(query["next"] + "==").decode().split("=")[1])
            except (ValueError, IndexError):
                return self._error(h, 400, "Bad request", "unknown next")
        size = self.page_size
        if "limit" in query:
            size = min(size, max(1, int(query["limit"])))
        page = objs[start:start + size]
        env = {"more": start + size < len(objs)}
        if env["more"]:
            env["next"] = base64.b64encode(("seq=%d" % (start + size)).encode()).decode().rstrip("=")
        if page:
            env["objects"] = [o for _, o in page]
        headers = {}
        if page:
            headers["X-TAXII-Date-Added-First"] = stamp(page[0][0])
            headers["X-TAXII-Date-Added-Last"] = stamp(page[-1][0])
        self._send(h, 200, env, headers)
        return 200


def server_section(trapline, udp=True, tcp=False):
    """The `server:` YAML of a test instance: syslog on loopback ports chosen by the system, and
    every other listener this trapline has (TLS syslog, console, agents) turned off, so that two
    instances can run side by side and nothing listens beyond loopback."""
    import subprocess
    out = subprocess.run([trapline, "server", "--print-config"], capture_output=True,
                         text=True).stdout
    lines = ["server:",
             "  syslog_udp: %s" % ("127.0.0.1:0" if udp else "off"),
             "  syslog_tcp: %s" % ("127.0.0.1:0" if tcp else "off"),
             "  syslog_tls: off"]
    for key in ("http", "agents"):
        if ("\n  %s:" % key) in out:
            lines.append('  %s: ""' % key)
    return "\n".join(lines) + "\n"


def indicator(n, name, pattern):
    return {
        "type": "indicator", "spec_version": "2.1",
        "id": "indicator--6f1c2a3b-4d5e-4f60-8a71-b2c3d4e5f6%02d" % n,
        "created_by_ref": "identity--f1b9e0a2-3c4d-4e5f-8a6b-7c8d9e0f1a2b",
        "created": "2024-07-10T01:00:00.000Z", "modified": "2024-07-10T01:00:00.000Z",
        "name": name, "indicator_types": ["malicious-activity"], "pattern": pattern,
        "pattern_type": "stix", "pattern_version": "2.1",
        "valid_from": "2024-07-10T00:00:00Z", "valid_until": "2099-07-10T00:00:00Z",
        "confidence": 85,
        "kill_chain_phases": [{"kill_chain_name": "mitre-attack",
                               "phase_name": "command-and-control"}],
        "object_marking_refs": ["marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"],
    }


def apt40_objects():
    """Ten objects: the first page of five holds the identity, the intrusion set and the
    redirector address; the second the download server address and the relationship that ties
    the redirector (on page 1) to the intrusion set (on page 1 too)."""
    identity = {"type": "identity", "spec_version": "2.1",
                "id": "identity--f1b9e0a2-3c4d-4e5f-8a6b-7c8d9e0f1a2b",
                "created": "2024-07-10T01:00:00.000Z", "modified": "2024-07-10T01:00:00.000Z",
                "name": "Example SOC (synthetic)", "identity_class": "organization"}
    intrusion_set = {"type": "intrusion-set", "spec_version": "2.1",
                     "id": "intrusion-set--0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                     "created": "2024-07-10T01:00:00.000Z",
                     "modified": "2024-07-10T01:00:00.000Z", "name": "APT40"}
    relationship = {"type": "relationship", "spec_version": "2.1",
                    "id": "relationship--7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
                    "created": "2024-07-10T01:00:00.000Z",
                    "modified": "2024-07-10T01:00:00.000Z", "relationship_type": "indicates",
                    "source_ref": "indicator--6f1c2a3b-4d5e-4f60-8a71-b2c3d4e5f601",
                    "target_ref": intrusion_set["id"]}
    return [
        identity,
        intrusion_set,
        indicator(1, "SOHO last-hop redirector", "[ipv4-addr:value = '203.0.113.45']"),
        indicator(2, "C2 netblock", "[ipv4-addr:value ISSUBSET '192.0.2.128/25']"),
        indicator(3, "Exfil domain", "[domain-name:value = 'update-cdn.example.net']"),
        indicator(4, "Tool download server", "[ipv4-addr:value = '198.51.100.77']"),
        indicator(5, "Web shell thumb.php",
                  "[file:hashes.'SHA-256' = "
                  "'aba8206f24e3dd82777148dcf2fd4f03ced7ec7849af67971101b335fa01a139']"),
        indicator(6, "Tool download URL", "[url:value = 'http://198.51.100.77/f']"),
        relationship,
        {"type": "sighting", "spec_version": "2.1",
         "id": "sighting--ee20065d-2555-424f-ad9e-0f8fd27f1a7e",
         "created": "2024-07-10T02:00:00.000Z", "modified": "2024-07-10T02:00:00.000Z",
         "count": 37, "sighting_of_ref": "indicator--6f1c2a3b-4d5e-4f60-8a71-b2c3d4e5f601"},
    ]


if __name__ == "__main__":
    srv = TaxiiServer(sys.argv[1] if len(sys.argv) > 1 else "token").start()
    srv.publish(apt40_objects())
    print("serving", srv.base + "/taxii2/", flush=True)
    try:
        srv.thread.join()
    except KeyboardInterrupt:
        srv.stop()

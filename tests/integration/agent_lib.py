"""What the agent integration tests share: a server on a temporary data directory with its agent
listener on a free loopback port, enrollment, agents started with chosen sources, searches of the
server's store, and a failure report that shows the end of both logs.

Each test makes an AgentHarness(trapline, work) and calls harness.stop() in a finally block.
"""
import json
import os
import socket
import subprocess
import sys
import time


def skip(msg):
    print(f"SKIP: {msg}")
    sys.exit(77)


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def trapline_from_env():
    """The binary under test (TRAPLINE), or a skip when it is not set."""
    trapline = os.environ.get("TRAPLINE")
    if not trapline or not os.access(trapline, os.X_OK):
        skip("TRAPLINE is not set to the built binary")
    return trapline


class AgentHarness:
    def __init__(self, trapline, work, log_tail=30):
        self.trapline = trapline
        self.work = work
        self.data = os.path.join(work, "data")
        self.state = os.path.join(work, "state")
        self.port = free_port()
        self.log_tail = log_tail
        self.procs = []

    def fail(self, msg):
        print(f"FAIL: {msg}")
        for name in ("server.log", "agent.log"):
            path = os.path.join(self.work, name)
            if os.path.exists(path):
                print(f"---- {name} (last {self.log_tail} lines) ----")
                with open(path, errors="replace") as f:
                    print("".join(f.readlines()[-self.log_tail:]))
        self.stop()
        sys.exit(1)

    def stop(self):
        """Stops every process still running, newest first."""
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    def run(self, *args):
        return subprocess.run([self.trapline, *args], capture_output=True, text=True)

    def spawn(self, log_name, *args):
        """Starts `trapline ARGS` with stderr appended to WORK/LOG_NAME."""
        with open(os.path.join(self.work, log_name), "ab") as err:
            p = subprocess.Popen([self.trapline, *args], stdout=subprocess.DEVNULL, stderr=err)
        self.procs.append(p)
        return p

    def start_server(self):
        """A server with only its agent listener (and UDP syslog on an ephemeral port); returns
        once the listener accepts connections."""
        p = self.spawn("server.log", "server", "--data", self.data, "--syslog-udp",
                       "127.0.0.1:0", "--syslog-tcp", "off", "--syslog-tls", "off", "--http", "",
                       "--agents", f"127.0.0.1:{self.port}", "--rules", "off")
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return p
            except OSError:
                if p.poll() is not None:
                    self.fail("the server exited at start")
                time.sleep(0.05)
        self.fail("the agent listener did not come up")

    def start_agent(self, *args):
        return self.spawn("agent.log", "agent", "--state", self.state, *args)

    def enroll(self):
        """Enrolls an agent with a fresh token; returns its id."""
        tok = self.run("token", "--data", self.data, "--server", f"127.0.0.1:{self.port}")
        lines = tok.stdout.strip().splitlines()
        if tok.returncode != 0 or not lines:
            self.fail(f"trapline token failed: {tok.stderr}")
        r = self.run("agent", "enroll", "--token", lines[-1], "--state", self.state)
        if r.returncode != 0:
            self.fail(f"trapline agent enroll failed: {r.stdout} {r.stderr}")
        with open(os.path.join(self.state, "agent.id")) as f:
            return f.read().strip()

    def search(self, query):
        """Every stored event matching QUERY, as dicts."""
        r = self.run("search", "--data", self.data, "--from", "2000-01-01", "--to", "now",
                     "--limit", "0", "--output", "json", query)
        if r.returncode != 0:
            self.fail(f"search {query!r} failed: {r.stderr}")
        return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

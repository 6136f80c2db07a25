"""Shared by the alert output tests (test_alert_*.py): the binary and sources under test, a
check() that collects failures, and `trapline ingest` of six failed SSH passwords from one
address, which makes the built-in SSH brute-force rule raise one alert and queue it in the
outbox of DATA/alerts.db for the configured outputs."""
import os
import sqlite3
import subprocess

TRAPLINE = os.environ.get("TRAPLINE", "build/trapline")
SRC = os.environ.get("TRL_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
BRUTE_FORCE = "b8246bfe-b48e-4091-88f0-cc1293d1a285"

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL", what)


def brute_force_lines():
    return "".join(
        "Nov 27 10:00:0%d web01 sshd[812]: Failed password for root from 203.0.113.45 "
        "port %d ssh2\n" % (i, 40000 + i) for i in range(6))


def ingest(work, data_dir, config):
    """Ingests the brute-force lines with the built-in rules and config (YAML text) as the
    configuration file; returns what ingest logged."""
    cfg = os.path.join(work, "trapline.yml")
    with open(cfg, "w") as f:
        f.write(config)
    log = os.path.join(work, "auth.log")
    with open(log, "w") as f:
        f.write(brute_force_lines())
    r = subprocess.run(
        [TRAPLINE, "ingest", "--no-progress", "--year", "2026", "--data", data_dir,
         "--rules", os.path.join(SRC, "rules"), "--config", cfg, log],
        capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        print(r.stdout, r.stderr)
    check(r.returncode == 0, "ingest exits 0")
    return r.stderr


def outbox_rows(data_dir):
    """How many alerts wait in the outbox for delivery."""
    db = sqlite3.connect(os.path.join(data_dir, "alerts.db"))
    try:
        return db.execute("SELECT count(*) FROM alert_outbox").fetchone()[0]
    finally:
        db.close()

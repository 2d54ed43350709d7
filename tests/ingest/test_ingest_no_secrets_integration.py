"""Credentials never in URLs or logs (issue #13): an InfluxDB outage, a SIGKILL and a restart of the
bridge, and `ecm query` failing, then every log line, error text and state file is searched for
every generated password."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ecm.errors import InfluxError
from ecm.secrets import load_secrets
from tests.ingest.conftest import Publisher, count_points, now_ms, readings, wait_for

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


def _passwords(state: Path) -> list[str]:
    sec = load_secrets(state)
    pws = list(sec["mqtt"].values()) + [v["password"] for v in sec["influx"].values()]
    assert len(pws) >= 4 and all(len(p) >= 16 for p in pws)
    return pws


def test_no_password_in_any_log_or_error_from_outage_kill_and_restart(stack, bridge):
    cl, meter = stack.client(), "e10_elec_main"
    base = now_ms() - 5 * 86400_000
    texts: dict[str, str] = {}
    bridge.start().wait_ready()
    pub = Publisher(stack, "e10")
    assert set(pub.publish(readings("e10", meter, base, 100, 100))) == {0}
    stack.influx.stop()
    try:
        assert set(pub.publish(readings("e10", meter, base + 10_000, 100, 100))) == {0}  # spooled
        assert wait_for(lambda: b"influx_down_spooling" in (stack.state_dir / "ingest-bridge.log").read_bytes(), 20)
        r = subprocess.run([str(BIN / "ecm"), "query", "SELECT count(*) FROM readings"], capture_output=True,
                           text=True)
        assert r.returncode != 0
        texts["ecm query (InfluxDB down)"] = r.stdout + r.stderr
        try:
            cl.query_frame("SELECT count(*) FROM readings")
        except InfluxError as exc:
            texts["InfluxError"] = str(exc) + repr(exc)
        else:
            raise AssertionError("query must fail while InfluxDB is down")
        bridge.kill()
        bridge.start()
    finally:
        stack.influx.start()
    bridge.wait_ready()
    assert set(pub.publish(readings("e10", meter, base + 20_000, 100, 100))) == {0}
    pub.close()
    assert wait_for(lambda: count_points(cl, meter, base, base + 30_000) >= 300, 60)
    # a wrong password: the error names the user at most
    r = subprocess.run([str(BIN / "ecm"), "query", "SELECT 1"], capture_output=True, text=True,
                       env={**os.environ, "ECM_INFLUX_USER": "ecm_service",
                            "ECM_INFLUX_PASSWORD": "not-the-password-x"})
    texts["ecm query (wrong password)"] = r.stdout + r.stderr
    assert r.returncode != 0 and "not-the-password-x" not in texts["ecm query (wrong password)"]
    bridge.stop()
    # every file under the state dir but the secrets file itself: logs, health, quarantine, spool,
    # the broker's and InfluxDB's own logs and data
    for f in stack.state_dir.rglob("*"):
        if f.is_file() and f.name != "secrets.json":
            texts[str(f)] = f.read_bytes().decode("latin-1")
    assert any("influx_down_spooling" in t for t in texts.values())
    leaks = [(where, pw[:4] + "…") for pw in _passwords(stack.state_dir) for where, t in texts.items() if pw in t]
    assert leaks == []

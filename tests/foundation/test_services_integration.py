"""`ecm services start|stop|status` against the real Debian binaries, in a private state dir."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ecm.services import free_port, pid_alive

pytestmark = pytest.mark.integration
ECM = str(Path(sys.executable).parent / "ecm")


def _run(env, *args):
    return subprocess.run([ECM, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture()
def env(tmp_path):
    e = {k: v for k, v in os.environ.items() if not k.startswith("ECM_")}
    e.update(ECM_STATE_DIR=str(tmp_path / "state"), ECM_MQTT_PORT=str(free_port()),
             ECM_INFLUX_URL=f"http://127.0.0.1:{free_port()}")
    yield e
    _run(e, "services", "stop")


def _pids(state: Path) -> list[int]:
    return [int(p.read_text()) for p in state.glob("*/*.pid")]


def test_start_twice_is_harmless_and_stop_leaves_nothing(env):
    state = Path(env["ECM_STATE_DIR"])
    first = _run(env, "services", "start")
    assert first.returncode == 0, first.stderr
    pids = _pids(state)
    assert len(pids) == 2 and all(pid_alive(p) for p in pids)
    secrets_before = (state / "secrets.json").read_text()

    second = _run(env, "services", "start")
    assert second.returncode == 0, second.stderr
    assert sorted(_pids(state)) == sorted(pids), "second start must reuse the running servers"
    assert (state / "secrets.json").read_text() == secrets_before, "secrets are generated once"
    assert oct((state / "secrets.json").stat().st_mode & 0o777) == "0o600"

    st = _run(env, "services", "status", "--json")
    assert st.returncode == 0
    assert [s["healthy"] for s in json.loads(st.stdout)] == [True, True]

    stop = _run(env, "services", "stop")
    assert stop.returncode == 0
    assert not any(pid_alive(p) for p in pids)
    assert _pids(state) == []
    down = _run(env, "services", "status")
    assert down.returncode == 1 and "down" in down.stdout


def test_credentials_command_prints_enterprise_login(env):
    assert _run(env, "services", "start").returncode == 0
    out = _run(env, "credentials", "e03")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["username"] == "e03" and len(doc["password"]) >= 20
    assert doc["port"] == int(env["ECM_MQTT_PORT"])
    bad = _run(env, "credentials", "e999")
    assert bad.returncode == 1 and bad.stderr.startswith("error: unknown enterprise 'e999'")


def test_influxdb_debug_endpoints_off_or_loopback_only(stack):
    """pprof (profiles, heap dumps) is off. InfluxDB 1.6 has no switch for /debug/vars and
    /debug/requests, so the HTTP listener is loopback-only: unreachable from another address."""
    import socket
    from urllib.parse import urlparse

    import requests

    for path in ("/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline"):
        assert requests.get(stack.influx_url + path, timeout=5).status_code == 404, path
    port = urlparse(stack.influx_url).port
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect(("192.0.2.123", 9))  # no packet is sent; picks the outbound interface
    ip = probe.getsockname()[0]
    probe.close()
    assert not ip.startswith("127.")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((ip, port), timeout=5)

"""Gateway integration helpers: a test registry (the default district plus e01 meters fed by the
gateway), the real ingest bridge on it, the gateway as a child process, emulated devices speaking
the real protocols on loopback, and a status watcher (the ingest user may read ecm/v1/#).

Tests share the session ``stack`` (Mosquitto + InfluxDB); each test uses its own meters.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.ingest.conftest import Bridge, wait_for

ROOT = Path(__file__).resolve().parents[2]
N_FLEET = 20


def gw_meters() -> list[dict]:
    """Meters of e01 that exist only in the gateway tests' registry."""
    c = lambda mid, carrier, unit, digits: {"id": mid, "carrier": carrier, "unit": unit, "kind": "counter",  # noqa: E731
                                            "interval_s": 1, "role": "sub", "register_digits": digits}
    g = lambda mid, unit: {"id": mid, "carrier": "electricity", "unit": unit, "kind": "gauge", "interval_s": 1}  # noqa: E731
    ms = [c("e01_gw_energy", "electricity", "kwh", 7), g("e01_gw_power", "kw"),
          c("e01_gw_dlt_total", "electricity", "kwh", 6)]
    ms += [c(f"e01_gw_dlt_t{i}", "electricity", "kwh", 6) for i in range(1, 5)]
    ms += [g("e01_gw_dlt_power", "kw"), g("e01_gw_kiln_temp", "c"), c("e01_gw_kiln_gas", "natural_gas", "m3", 8),
           g("e01_gw_fan_power", "kw"), c("e01_gw_tot_gas", "natural_gas", "m3", 8)]
    ms += [c(f"e01_gw_m{i:02d}", "electricity", "kwh", 7) for i in range(1, N_FLEET + 1)]
    ms += [c(f"e01_gw_k{i:02d}", "electricity", "kwh", 7) for i in range(1, 6)]
    ms += [c(f"e01_gw_d{i:02d}", "electricity", "kwh", 7) for i in range(1, 4)]
    ms += [g(f"e01_gw_p{i}", "kw") for i in range(1, 5)]
    return ms


@pytest.fixture(scope="session")
def gw_registry(tmp_path_factory) -> Path:
    data = yaml.safe_load((ROOT / "config/district.yaml").read_text(encoding="utf-8"))
    e01 = next(e for e in data["enterprises"] if e["id"] == "e01")
    e01["meters"] += gw_meters()
    f = tmp_path_factory.mktemp("gw-registry") / "district.yaml"
    f.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return f


@pytest.fixture
def gw_bridge(stack, gw_registry):
    env = dict(os.environ, ECM_DISTRICT_FILE=str(gw_registry), ECM_INGEST_STATS_INTERVAL_S="2",
               ECM_INGEST_BATCH_MS="100", ECM_LOG_LEVEL="INFO")
    b = Bridge(env).start()
    b.wait_ready()
    yield b
    if b.alive:
        b.stop()


class GatewayProc:
    """``python -m gateway --config F`` as a child process."""

    def __init__(self, stack, workdir: Path, registry: Path):
        self.stack, self.dir, self.registry = stack, workdir, registry
        self.proc = None
        self.config = workdir / "gateway.yaml"

    def write(self, devices: list[dict], *, port: int | None = None, **top) -> Path:
        cfg = {"enterprise": "e01",
               "mqtt": {"host": self.stack.mqtt_host, "port": port or self.stack.mqtt_port,
                        "keepalive_s": 5},  # client id: the default e01-gw, the one the broker binds to e01
               "store": {"path": "queue.db", "max_mb": 64},
               "registry": str(self.registry), "jitter_frac": 0.1, "devices": devices}
        for k, v in top.items():
            cfg[k] = {**cfg.get(k, {}), **v} if isinstance(v, dict) else v
        self.config.write_text(yaml.safe_dump(cfg))
        return self.config

    def start(self) -> "GatewayProc":
        env = dict(os.environ, GATEWAY_MQTT_PASSWORD=self.stack.mqtt_password("e01"))
        log = open(self.dir / "gateway.log", "ab")
        self.started = time.time()
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway", "--config", str(self.config),
                                      "--log-level", "INFO"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return self

    @property
    def health_path(self) -> Path:
        return self.dir / "queue.health.json"

    def health(self) -> dict:
        try:
            return json.loads(self.health_path.read_text())
        except (OSError, ValueError):
            return {}

    def fresh_health(self) -> dict:
        h = self.health()
        return h if h.get("time_ms", 0) / 1000 >= self.started and h.get("pid") == self.proc.pid else {}

    def wait(self, pred, timeout_s: float, what: str = "") -> dict:
        def ok():
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited with {self.proc.returncode}: {self.log_tail()}")
            h = self.fresh_health()
            return h and pred(h)

        assert wait_for(ok, timeout_s, 0.1), \
            f"gateway: {what} not reached in {timeout_s} s; health={self.health()}; log tail={self.log_tail()}"
        return self.fresh_health()

    def log_tail(self, n: int = 5) -> str:
        try:
            return "\n".join((self.dir / "gateway.log").read_text().splitlines()[-n:])
        except OSError:
            return ""

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout_s: float = 30) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise
        return self.proc.returncode if self.proc else 0


@pytest.fixture
def gateway_proc(stack, gw_registry, tmp_path):
    g = GatewayProc(stack, tmp_path, gw_registry)
    yield g
    if g.proc is not None and g.proc.poll() is None:
        g.stop()


@pytest.fixture
def emulators():
    """Start emulators on private loops in threads: ``emu = emulators(factory)``; stopped at teardown."""
    from gateway.emulators import call, run_in_thread

    started = []

    def start(factory):
        loop, emu, t = run_in_thread(factory)
        started.append((loop, emu, t))
        return loop, emu

    yield start
    for loop, emu, t in started:
        try:
            call(loop, emu.stop())
        finally:
            loop.call_soon_threadsafe(loop.stop)
            t.join(10)


class StatusWatcher:
    """Subscribes as the ingest user to ``ecm/v1/e01/+/status`` and keeps every payload per topic."""

    def __init__(self, stack):
        from ecm.mqtt import make_client

        self.msgs: dict[str, list[str]] = {}
        self.lock = threading.Lock()
        self.c = make_client(f"test-status-watch-{time.monotonic_ns()}", "ingest", stack.mqtt_password("ingest"))
        self.c.on_message = self._on_message
        ok = threading.Event()
        self.c.on_connect = lambda *a: (self.c.subscribe("ecm/v1/e01/+/status", qos=1), ok.set())
        self.c.connect(stack.mqtt_host, stack.mqtt_port)
        self.c.loop_start()
        assert ok.wait(10)

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.msgs.setdefault(msg.topic, []).append(msg.payload.decode())

    def docs(self, meter: str) -> list:
        with self.lock:
            out = []
            for p in self.msgs.get(f"ecm/v1/e01/{meter}/status", []):
                try:
                    out.append(json.loads(p))
                except ValueError:
                    out.append(p)
            return out

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def status_watch(stack):
    w = StatusWatcher(stack)
    yield w
    w.close()


def landed(client, meter: str, field: str, since_ms: int) -> list[dict]:
    """Readings of ``meter`` since ``since_ms``: [{time_ms, value, seq}] in time order."""
    df = client.query_frame(f'SELECT "{field}", "seq" FROM readings WHERE meter = \'{meter}\' '
                            f"AND time >= {since_ms}ms")
    if df.empty:
        return []
    return [{"time_ms": int(t.value // 10**6), "value": float(v), "seq": int(s)}
            for t, v, s in zip(df["time"], df[field], df["seq"])]


@pytest.fixture
def null_modem():
    """Two serial port paths joined like a null-modem cable (two raw ptys whose masters are pumped
    into each other): the gateway opens one, a pymodbus serial server the other."""
    import pty
    import select
    import tty

    ma, sa = pty.openpty()
    mb, sb = pty.openpty()
    for fd in (sa, sb):
        tty.setraw(fd)
    stop_r, stop_w = os.pipe()

    def pump():
        while True:
            r, _, _ = select.select([ma, mb, stop_r], [], [])
            if stop_r in r:
                return
            for src, dst in ((ma, mb), (mb, ma)):
                if src in r:
                    try:
                        os.write(dst, os.read(src, 4096))
                    except OSError:
                        pass

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    yield os.ttyname(sa), os.ttyname(sb)
    os.write(stop_w, b"x")
    t.join(5)
    for fd in (ma, sa, mb, sb, stop_r, stop_w):
        os.close(fd)

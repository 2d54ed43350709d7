"""Helpers for ingest tests: the bridge as a subprocess, QoS 1 publishers, point counts.

Tests share the session ``stack``; each test uses its own meters and device-time window (base time
``now - k hours``) and asserts only on those, so tests stay independent.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from ecm.stack import Bridge  # noqa: F401 - the bridge child process; wait_ready = the one "ready"

ROOT = Path(__file__).resolve().parents[2]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def wait_for(fn, timeout_s: float, interval_s: float = 0.2):
    """Poll ``fn`` until it returns a truthy value; return the last value."""
    deadline = time.monotonic() + timeout_s
    v = fn()
    while not v and time.monotonic() < deadline:
        time.sleep(interval_s)
        v = fn()
    return v


@pytest.fixture
def bridge_env(stack):
    env = dict(os.environ)
    env.update({"ECM_INGEST_STATS_INTERVAL_S": "2", "ECM_INGEST_BATCH_MS": "100", "ECM_LOG_LEVEL": "INFO"})
    return env


@pytest.fixture
def bridge(bridge_env):
    b = Bridge(bridge_env)
    yield b
    if b.alive:
        b.stop()


class Publisher:
    """A paho MQTT v5 QoS 1 publisher logged in as ``user``; records each PUBACK reason code."""

    def __init__(self, stack, user: str, password: str | None = None, client_id: str | None = None):
        from ecm.mqtt import gateway_client_id, make_client

        self.acks: dict[int, int] = {}
        self.lock = threading.Lock()
        self.c = make_client(client_id or gateway_client_id(user), user,
                             password if password is not None else stack.mqtt_password(user))
        self.c.max_inflight_messages_set(1000)
        self.c.max_queued_messages_set(0)
        self.c.on_publish = self._on_publish
        ok = threading.Event()
        self.c.on_connect = lambda *a: ok.set()
        self.c.connect(stack.mqtt_host, stack.mqtt_port)
        self.c.loop_start()
        assert ok.wait(10), "publisher could not connect"

    def _on_publish(self, client, userdata, mid, reason, props):
        with self.lock:
            self.acks[mid] = reason.value

    def publish(self, items, timeout_s: float = 120) -> list[int]:
        """Publish ``[(topic, payload)]`` at QoS 1; wait for every PUBACK; return reason codes."""
        infos = [self.c.publish(t, p, qos=1) for t, p in items]
        for info in infos:
            info.wait_for_publish(timeout_s)
        with self.lock:
            return [self.acks.get(i.mid, -1) for i in infos]

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def count_points(client, meter: str, t0_ms: int, t1_ms: int, field: str = "energy_kwh") -> int:
    df = client.query_frame(f'SELECT count("{field}") FROM readings WHERE meter = \'{meter}\' '
                            f"AND time >= {t0_ms}ms AND time <= {t1_ms}ms")
    return 0 if df.empty else int(df.iloc[0, -1])


def stream(pub: Publisher, items, chunk: int = 500, pause_s: float = 0.1, out: dict | None = None):
    """Publish ``items`` in chunks with pauses (a steady stream); collects reason codes in out['codes']."""
    out = out if out is not None else {}
    out["codes"] = []
    for i in range(0, len(items), chunk):
        out["codes"] += pub.publish(items[i:i + chunk])
        out["published"] = i + chunk
        time.sleep(pause_s)
    return out


def readings(enterprise: str, meter: str, base_ms: int, n: int, step_ms: int = 1000):
    import json

    return [(f"ecm/v1/{enterprise}/{meter}/reading",
             json.dumps({"ts": base_ms + i * step_ms, "values": {"energy_kwh": float(i)}, "seq": i})) for i in range(n)]

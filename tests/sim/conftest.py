"""Helpers for simulator tests: a subscriber that records everything below ecm/v1/#."""
from __future__ import annotations

import threading
import time

import pytest

from ecm.mqtt import make_client


class Recorder:
    """Subscribes as user ``ingest`` to ecm/v1/# and keeps (topic, payload, retain) in arrival order."""

    def __init__(self, stack, client_id: str):
        self.msgs: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        ready = threading.Event()
        self.c = make_client(client_id, "ingest", stack.mqtt_password("ingest"))
        self.c.on_connect = lambda c, u, f, rc, p: (c.subscribe("ecm/v1/#", qos=1), ready.set())
        self.c.on_message = self._on_message
        self.c.connect(stack.mqtt_host, stack.mqtt_port)
        self.c.loop_start()
        assert ready.wait(10)
        time.sleep(0.3)

    def _on_message(self, client, userdata, msg):
        with self._lock:
            self.msgs.append((msg.topic, msg.payload, bool(msg.retain)))

    def wait_quiet(self, quiet_s: float = 1.0, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        last = -1
        while time.monotonic() < deadline:
            n = len(self.msgs)
            if n == last:
                return
            last = n
            time.sleep(quiet_s)

    def stop(self) -> list[tuple[str, bytes, bool]]:
        self.wait_quiet()
        self.c.disconnect()
        self.c.loop_stop()
        return [m for m in self.msgs if not m[2]]  # drop retained replays of earlier runs


@pytest.fixture(scope="session")
def make_recorder(stack):
    """``make_recorder(name)`` -> a started Recorder (call ``.stop()`` to get the messages)."""
    return lambda name: Recorder(stack, f"rec-{name}-{time.monotonic_ns()}")

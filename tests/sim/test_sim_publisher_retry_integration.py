"""The reference publisher resends on PUBACK 0x10 (no matching subscribers) and other retryable
failures, and reports permanent refusals (issue #13), against a real Mosquitto of its own."""
from __future__ import annotations

import threading
import time

import pytest

from ecm.errors import EcmError
from ecm.mqtt import make_client
from ecm.secrets import load_secrets
from ecm.services import MosquittoService, free_port
from sim_devices.publisher import Gateways

pytestmark = pytest.mark.integration


def test_publisher_resends_on_0x10_until_a_subscriber_exists_and_reports_0x87(tmp_path):
    port = free_port()
    mq = MosquittoService(tmp_path, "127.0.0.1", port, ["e01", "e02"])
    mq.start()
    try:
        gw = Gateways(["e01"], "127.0.0.1", port, tmp_path)
        n = 200
        for i in range(n):  # nobody subscribes yet: every PUBACK is 0x10
            gw.publish("e01", "ecm/v1/e01/e01_elec_main/reading", b'{"i": %d}' % i)
        time.sleep(1.0)
        assert gw.unacked == n and gw.n_resent > 0
        got: set = set()
        ready = threading.Event()
        sub = make_client(f"t-sub-{time.monotonic_ns()}", "ingest", load_secrets(tmp_path)["mqtt"]["ingest"])
        sub.on_connect = lambda c, u, f, rc, p: c.subscribe("ecm/v1/#", qos=1)
        sub.on_subscribe = lambda *a: ready.set()
        sub.on_message = lambda c, u, m: got.add(m.payload) if not m.retain else None
        sub.connect("127.0.0.1", port)
        sub.loop_start()
        assert ready.wait(10)
        gw.drain(60)
        assert gw.unacked == 0 and not gw.failed
        deadline = time.monotonic() + 10
        while len(got) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert got == {b'{"i": %d}' % i for i in range(n)}
        # a permanent refusal (another enterprise's topic) is not resent forever but reported
        gw.publish("e01", "ecm/v1/e02/e02_elec_main/reading", b"{}")
        with pytest.raises(EcmError, match="0x87"):
            gw.drain(30)
        gw.close()
        sub.disconnect()
        sub.loop_stop()
    finally:
        mq.stop()

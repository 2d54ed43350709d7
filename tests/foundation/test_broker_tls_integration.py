"""TLS for enterprises (issue #13): certificates generated once under the state dir; a gateway
connects over TLS with the generated CA and its reading lands; plaintext is loopback only."""
from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest

from ecm.errors import ServiceError
from ecm.mqtt import gateway_client_id, make_client, reading_topic
from ecm.services import MosquittoService
from ecm.tls import ensure_tls

pytestmark = pytest.mark.integration


def _tls_client(stack, user: str, ca: str | None):
    c = make_client(gateway_client_id(user), user, stack.mqtt_password(user))
    c.tls_set(ca_certs=ca, cert_reqs=ssl.CERT_REQUIRED)
    return c


def test_gateway_publishes_over_tls_with_the_generated_ca_and_the_reading_lands(stack):
    tls_dir = stack.mosquitto.dir / "tls"
    before = {p.name: p.read_bytes() for p in tls_dir.iterdir()}
    assert ensure_tls(tls_dir) and {p.name: p.read_bytes() for p in tls_dir.iterdir()} == before  # generated once
    assert oct((tls_dir / "server.key").stat().st_mode & 0o777) == "0o600"
    bridge = subprocess.Popen([sys.executable, "-m", "ingest"], env=dict(os.environ),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    health = stack.state_dir / "ingest" / "health-ingest-0.json"
    t0 = time.time() * 1000
    try:
        for _ in range(600):
            try:
                h = json.loads(health.read_text())
                if h.get("subscribed") and h.get("time_ms", 0) >= t0:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        c = _tls_client(stack, "e15", str(tls_dir / "ca.crt"))
        ok = threading.Event()
        c.on_connect = lambda cl, u, f, rc, p: ok.set() if not rc.is_failure else None
        c.connect("127.0.0.1", stack.mosquitto.tls_port)
        c.loop_start()
        assert ok.wait(10)
        ts = int(time.time() * 1000) - 5000
        info = c.publish(reading_topic("e15", "e15_elec_main"),
                         json.dumps({"ts": ts, "values": {"energy_kwh": 777.25}}), qos=1)
        info.wait_for_publish(10)
        c.disconnect()
        c.loop_stop()
        cl = stack.client()
        q = f"SELECT energy_kwh FROM readings WHERE meter = 'e15_elec_main' AND time = {ts}ms"
        for _ in range(100):
            df = cl.query_frame(q)
            if not df.empty:
                break
            time.sleep(0.2)
        assert len(df) == 1 and float(df["energy_kwh"].iloc[0]) == 777.25
    finally:
        bridge.send_signal(signal.SIGTERM)
        bridge.wait(30)


def test_tls_without_the_ca_fails_and_plaintext_is_loopback_only(stack, tmp_path):
    c = _tls_client(stack, "e15", None)  # system CAs only: the private CA is not trusted
    with pytest.raises(ssl.SSLError):
        c.connect("127.0.0.1", stack.mosquitto.tls_port)
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect(("192.0.2.123", 9))  # no packet is sent; picks the outbound interface
    ip = probe.getsockname()[0]
    probe.close()
    assert not ip.startswith("127."), "this test needs a non-loopback address"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((ip, stack.mqtt_port), timeout=5)
    with pytest.raises(ServiceError, match="loopback"):
        MosquittoService(tmp_path, "0.0.0.0", 1883, ["e01"]).write_config()

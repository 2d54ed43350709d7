"""Broker auth and ACL: anonymous refused; enterprise A cannot publish under B or read anything."""
from __future__ import annotations

import subprocess
import threading
import time

import pytest

from ecm.mqtt import gateway_client_id, make_client

pytestmark = pytest.mark.integration


def _connect(stack, user, password):
    c = make_client(gateway_client_id(user) if user.startswith("e") else f"t-{user}-{time.monotonic_ns()}", user,
                    password)
    result = {}
    done = threading.Event()

    def on_connect(client, userdata, flags, rc, props):
        result["rc"] = rc
        done.set()

    c.on_connect = on_connect
    c.connect(stack.mqtt_host, stack.mqtt_port)
    c.loop_start()
    done.wait(5)
    return c, result.get("rc")


def test_anonymous_and_wrong_password_are_refused(stack):
    r = subprocess.run(["mosquitto_pub", "-h", stack.mqtt_host, "-p", str(stack.mqtt_port),
                        "-t", "ecm/v1/e01/e01_elec_main/reading", "-m", "{}", "-q", "1"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "not authorised" in (r.stderr + r.stdout).lower()
    c, rc = _connect(stack, "e01", "wrong-password")
    c.loop_stop()
    assert rc is not None and rc.is_failure


def test_enterprise_cannot_publish_under_another_prefix_nor_subscribe(stack):
    received = []
    ing, rc = _connect(stack, "ingest", stack.mqtt_password("ingest"))
    assert not rc.is_failure
    ing.on_message = lambda c, u, m: received.append(m.topic)
    ing.subscribe("ecm/v1/#", qos=1)
    time.sleep(0.3)

    a, rc = _connect(stack, "e01", stack.mqtt_password("e01"))
    assert not rc.is_failure
    acks = {}
    a.on_publish = lambda c, u, mid, reason, props: acks.__setitem__(mid, reason)
    own = a.publish("ecm/v1/e01/e01_elec_main/status", "online", qos=1).mid
    foreign = a.publish("ecm/v1/e02/e02_elec_main/reading", '{"ts":0,"values":{"energy_kwh":1}}', qos=1).mid
    sub_seen = []
    a.on_message = lambda c, u, m: sub_seen.append(m.topic)
    a.subscribe("ecm/v1/#", qos=1)
    deadline = time.time() + 5
    while time.time() < deadline and len(acks) < 2:
        time.sleep(0.05)
    # MQTT 5: the broker answers the foreign publish with 0x87 Not authorized
    assert acks[own].value == 0
    assert acks[foreign].value == 0x87
    # ingest gets e01's own message, never the foreign one; e01 reads nothing
    b, _ = _connect(stack, "e02", stack.mqtt_password("e02"))
    b.publish("ecm/v1/e02/e02_elec_main/status", "online", qos=1).wait_for_publish(5)
    time.sleep(0.5)
    for c in (a, b, ing):
        c.disconnect()
        c.loop_stop()
    assert "ecm/v1/e01/e01_elec_main/status" in received
    assert "ecm/v1/e02/e02_elec_main/reading" not in received
    assert sub_seen == []

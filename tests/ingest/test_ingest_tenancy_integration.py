"""Broker tenancy (issue #13): an enterprise, with its own valid credentials, can neither join the
bridge's shared subscription, nor take over the bridge's or another gateway's client id, nor resume
the bridge's session. Real Mosquitto with the generated dynamic-security config; exact counts."""
from __future__ import annotations

import json
import threading
import time

import pytest

from ecm.mqtt import connect_properties, make_client
from tests.ingest.conftest import Publisher, count_points, now_ms, readings, stream, wait_for

pytestmark = pytest.mark.integration


def _connect(stack, user: str, client_id: str, *, clean: bool = True, expiry: int | None = None,
             will: str | None = None):
    """Connect; return (client, CONNACK reason code value). The client keeps its loop running."""
    c = make_client(client_id, user, stack.mqtt_password(user), will_topic=will)
    got: dict = {}
    ev = threading.Event()

    def on_connect(client, userdata, flags, rc, props):
        got["rc"] = rc.value
        ev.set()

    c.on_connect = on_connect
    c.on_disconnect = lambda client, u, f, rc, p: (got.setdefault("disconnects", []).append(rc.value), ev.set())
    c.user_data_set(got)
    c.connect(stack.mqtt_host, stack.mqtt_port, clean_start=clean,
              properties=connect_properties(expiry) if expiry is not None else None)
    c.loop_start()
    ev.wait(5)
    return c, got.get("rc", -1), got


def _close(c) -> None:
    c.disconnect()
    c.loop_stop()


def test_enterprise_cannot_join_the_bridge_share_online_offline_persistent_or_clean(stack, bridge):
    cl, meter = stack.client(), "e03_elec_main"
    bridge.start().wait_ready()
    base = now_ms() - 5 * 3_600_000
    for k, (clean, expiry, offline) in enumerate([(True, None, False), (False, 3600, False), (False, 3600, True)]):
        t0 = base + k * 600_000
        seen: list = []
        att, rc, _ = _connect(stack, "e01", "e01-gw", clean=clean, expiry=expiry)
        assert rc == 0
        codes: list = []
        sub_done = threading.Event()
        att.on_subscribe = lambda c, u, mid, rcs, p: (codes.extend(r.value for r in rcs), sub_done.set())
        att.on_message = lambda c, u, m: seen.append(m.topic)
        att.subscribe([("$share/ingest/ecm/v1/#", 1), ("ecm/v1/#", 1), ("$share/x/ecm/v1/e03/#", 1), ("#", 1)])
        assert sub_done.wait(5)
        assert codes == [0x87] * 4, "every subscription must be refused (SUBACK Not authorized)"
        if offline:
            att.disconnect()  # a persistent session left behind offline
            time.sleep(0.3)
        pub = Publisher(stack, "e03")
        assert set(pub.publish(readings("e03", meter, t0, 2000, 10))) == {0}
        pub.close()
        assert wait_for(lambda: count_points(cl, meter, t0, t0 + 20_000) >= 2000, 30)
        time.sleep(0.5)
        assert count_points(cl, meter, t0, t0 + 20_000) == 2000
        if offline:  # resuming the offline session delivers nothing either
            att, rc, _ = _connect(stack, "e01", "e01-gw", clean=False, expiry=3600)
            att.on_message = lambda c, u, m: seen.append(m.topic)
            time.sleep(1.0)
        _close(att)
        assert seen == []


def _health(stack) -> dict:
    return json.loads((stack.state_dir / "ingest" / "health-ingest-0.json").read_text())


def test_bridge_client_id_takeover_refused_while_another_enterprise_publishes(stack, bridge):
    cl, meter = stack.client(), "e04_elec_main"
    base = now_ms() - 5 * 3_600_000 + 3_600_000
    bridge.start().wait_ready()
    log = stack.state_dir / "ingest-bridge.log"
    log_before = log.read_text() if log.exists() else ""
    pub = Publisher(stack, "e04")
    out: dict = {}
    n = 10_000
    t = threading.Thread(target=stream, args=(pub, readings("e04", meter, base, n, 10)),
                         kwargs={"out": out, "chunk": 250, "pause_s": 0.5})
    t.start()
    refused: list = []

    def attempt():
        c, rc, _ = _connect(stack, "e01", "ingest-0", clean=False, expiry=3600)
        refused.append(rc)
        c.loop_stop()

    attempts = []
    t_start = time.monotonic()
    for k in range(40):  # every 0.5 s for 20 s, each attempt in its own thread
        time.sleep(max(0.0, t_start + k * 0.5 - time.monotonic()))
        attempts.append(threading.Thread(target=attempt))
        attempts[-1].start()
    for a in attempts:
        a.join(30)
    t.join(120)
    pub.close()
    assert len(refused) == 40 and set(refused) == {0x87}, refused  # CONNACK Not authorized
    assert set(out["codes"]) == {0} and len(out["codes"]) == n
    assert wait_for(lambda: count_points(cl, meter, base, base + n * 10) >= n, 60)
    time.sleep(0.5)
    assert count_points(cl, meter, base, base + n * 10) == n
    assert _health(stack)["connected"]
    assert "mqtt_disconnected" not in log.read_text()[len(log_before):], "the bridge was never kicked off"


def test_resuming_the_stopped_bridge_session_is_refused_and_queued_readings_land(stack, bridge):
    cl, meter = stack.client(), "e04_elec_main"
    base = now_ms() - 5 * 3_600_000 + 2 * 3_600_000
    bridge.start().wait_ready()
    assert bridge.stop() == 0  # its persistent session now queues
    pub = Publisher(stack, "e04")
    assert set(pub.publish(readings("e04", meter, base, 50, 10))) == {0}
    pub.close()
    stolen: list = []
    c, rc, _ = _connect(stack, "e01", "ingest-0", clean=False, expiry=3600)
    c.on_message = lambda cl_, u, m: stolen.append(m.topic)
    time.sleep(0.5)
    c.loop_stop()
    assert rc == 0x87 and stolen == []
    bridge.start().wait_ready()
    assert _health(stack)["session_present"] is True
    assert wait_for(lambda: count_points(cl, meter, base, base + 500) >= 50, 20)
    time.sleep(0.5)
    assert count_points(cl, meter, base, base + 500) == 50


def test_another_gateways_client_id_is_refused_and_it_stays_online(stack):
    from ecm.mqtt import status_topic

    e02, rc, e02_state = _connect(stack, "e02", "e02-gw", will=status_topic("e02"))
    assert rc == 0
    e02.publish(status_topic("e02"), "online", qos=1, retain=True).wait_for_publish(5)
    for cid in ("e02-gw", "e02", "ingest-0", "ingest-7", "ecm-admin", "e01", "e01-gw2", "whatever"):
        c, rc, _ = _connect(stack, "e01", cid)
        c.loop_stop()
        assert rc == 0x87, cid
    time.sleep(0.5)
    assert e02.is_connected() and "disconnects" not in e02_state
    # the retained status is still e02's "online" (its last will did not fire)
    seen: dict = {}
    ing = make_client(f"t-ingest-{time.monotonic_ns()}", "ingest", stack.mqtt_password("ingest"))
    ing.on_message = lambda c, u, m: seen.setdefault(m.topic, m.payload)
    ing.connect(stack.mqtt_host, stack.mqtt_port)
    ing.loop_start()
    ing.subscribe(status_topic("e02"), qos=1)
    assert wait_for(lambda: seen, 5)
    _close(ing)
    _close(e02)
    assert seen[status_topic("e02")] == b"online"

"""Onboarding and offboarding on a running deployment (issue #15): `ecm enterprise add e21` then a
publish from e21 lands with neither the broker nor the bridge restarted; e21 cannot publish under
another tenant's topics; `ecm enterprise disable e21` kicks its live session and refuses its next
CONNECT, and the bridge quarantines its later messages (enterprise_disabled) so nothing more of it
lands. A broken registry file is refused by the running bridge, which keeps the previous one.

Real Mosquitto (dynamic-security plugin), real InfluxDB and the real bridge process, on a private
stack whose registry is a copy of config/district.yaml (the CLI edits that copy)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ecm.mqtt import make_client
from tests.ingest.conftest import Publisher, count_points, readings, wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
E21 = ROOT / "tests" / "ops" / "data" / "e21.yaml"


@pytest.fixture
def private_stack(tmp_path):
    from ecm.stack import Bridge, Stack

    reg = tmp_path / "district.yaml"
    shutil.copy(ROOT / "config" / "district.yaml", reg)
    st = Stack.ephemeral(state_dir=tmp_path / "state", db="ecm_onboard", district_file=reg)
    st.start()
    bridge = Bridge(st.env(ECM_INGEST_STATS_INTERVAL_S="1", ECM_INGEST_BATCH_MS="100", ECM_LOG_LEVEL="INFO"),
                    log=tmp_path / "bridge.log")
    try:
        yield st, bridge, reg
    finally:
        if bridge.proc is not None and bridge.alive:
            bridge.proc.send_signal(signal.SIGCONT)
            bridge.stop()
        st.stop()


def ecm(stack, *args: str) -> dict:
    """Run the real CLI in a child process with the stack's environment; its JSON output."""
    p = subprocess.run([sys.executable, "-c", "from ecm.cli.main import main; main()", *args], cwd=ROOT,
                       env=stack.env(PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def connect(stack, user: str, password: str, client_id: str) -> tuple:
    """(client, CONNACK reason code, events); the client's loop runs (close it)."""
    c = make_client(client_id, user, password)
    got: dict = {"disconnects": []}
    ev = threading.Event()

    def on_connect(client, userdata, flags, rc, props):
        got.setdefault("rc", rc.value)
        ev.set()

    c.on_connect = on_connect
    c.on_disconnect = lambda client, u, f, rc, p: (got["disconnects"].append(rc.value), ev.set())
    c.connect(stack.mqtt_host, stack.mqtt_port)
    c.loop_start()
    ev.wait(10)
    return c, got.get("rc", -1), got


def quarantined(stack, enterprise: str, since_ms: int) -> list[dict]:
    out = []
    for f in sorted((stack.state_dir / "ingest" / "quarantine").glob(f"{enterprise}.*.jsonl")):
        out += [x for x in map(json.loads, f.read_text().splitlines()) if x["received_ms"] >= since_ms]
    return out


def test_add_publish_lands_then_disable_refuses_and_quarantines_without_restart(private_stack):
    stack, bridge, reg = private_stack
    cl = stack.client()
    bridge.start().wait_ready()
    broker_pid, bridge_pid = stack.mosquitto.status().pid, bridge.proc.pid

    out = ecm(stack, "enterprise", "add", str(E21))
    assert out["broker"] == ["role ent_e21 created", "client e21 created"]
    assert out["bridges"] == {"confirmed": ["ingest-0"], "pending": []}  # the bridge reloaded before the client existed
    assert Path(out["registry_backup"]).read_bytes() == (ROOT / "config" / "district.yaml").read_bytes()
    text = reg.read_text(encoding="utf-8")
    assert text.startswith((ROOT / "config" / "district.yaml").read_text(encoding="utf-8"))  # comments, layout kept
    assert stack.secrets()["mqtt"]["e21"] == out["password"]

    # a publish from the new credentials lands; nobody was restarted
    t0 = int(time.time() * 1000) - 3_600_000
    pub = Publisher(stack, "e21", password=out["password"])
    assert set(pub.publish(readings("e21", "e21_elec_main", t0, 10))) == {0}
    assert wait_for(lambda: count_points(cl, "e21_elec_main", t0, t0 + 60_000) == 10, 30)
    # it cannot publish under another tenant's topics (PUBACK 0x87 Not authorized), and nothing of it lands
    assert pub.publish(readings("e01", "e01_elec_main", t0, 3)) == [0x87] * 3
    assert pub.publish(readings("e21", "e21_elec_main", t0 + 100_000, 1)) == [0]  # still connected
    assert wait_for(lambda: count_points(cl, "e21_elec_main", t0, t0 + 200_000) == 11, 30)
    assert count_points(cl, "e01_elec_main", t0, t0 + 60_000) == 0
    # the same add again (an add that stopped after the registry write) finishes idempotently;
    # resetting the principal (bound client id) ends its sessions, so the gateway reconnects
    pub.close()
    again = ecm(stack, "enterprise", "add", str(E21))
    assert again["resumed"] is True and again["registry_backup"] is None and again["password"] == out["password"]
    assert again["broker"] == ["role ent_e21 reset", "client e21 updated and enabled"]
    assert reg.read_text(encoding="utf-8") == text
    pub = Publisher(stack, "e21", password=out["password"])
    assert pub.publish(readings("e21", "e21_elec_main", t0 + 150_000, 1)) == [0]
    assert pub.publish(readings("e01", "e01_elec_main", t0 + 150_000, 1)) == [0x87]  # the reset ACL is the tenant's
    assert wait_for(lambda: count_points(cl, "e21_elec_main", t0, t0 + 200_000) == 12, 30)
    # its principal is bound to its client id
    other, rc, _ = connect(stack, "e21", out["password"], "e01-gw")
    other.loop_stop()
    assert rc != 0

    # messages sent just before the disabling, still on their way to the (paused) bridge
    os.kill(bridge_pid, signal.SIGSTOP)
    try:
        t1 = int(time.time() * 1000)
        assert set(pub.publish(readings("e21", "e21_elec_main", t0 + 300_000, 5))) == {0}
        gone = threading.Event()
        pub.c.on_disconnect = lambda *a: gone.set()
        off = ecm(stack, "enterprise", "disable", "e21", "--reason", "closed down", "--wait-s", "0")
        assert off["broker_disabled"] == ["e21"]
        assert gone.wait(10), "the live session of the disabled enterprise must be kicked"
    finally:
        os.kill(bridge_pid, signal.SIGCONT)
    pub.close()
    assert "  disabled:\n    since: " in reg.read_text(encoding="utf-8")
    c, rc, _ = connect(stack, "e21", out["password"], "e21-gw")
    c.loop_stop()
    assert rc != 0, "a disabled enterprise's CONNECT must be refused"
    # the bridge reloads, and quarantines what arrives from e21 after that, with the reason
    assert wait_for(lambda: (bridge.health("ingest-0") or {}).get("registry_sha256") == off["registry_sha256"], 15)
    assert wait_for(lambda: len(quarantined(stack, "e21", t1)) == 5, 30)
    reasons = {r["reason"] for x in quarantined(stack, "e21", t1) for r in x["rejects"]}
    assert reasons == {"enterprise_disabled"}
    time.sleep(1.5)
    assert count_points(cl, "e21_elec_main", t0, t0 + 400_000) == 12  # nothing more of it landed
    assert count_points(cl, "e21_elec_main", t0 + 300_000, t0 + 400_000) == 0

    # a broken registry file: the running bridge keeps the previous one and says so once
    good = reg.read_text(encoding="utf-8")
    bad = good + "- id: e01\n  name_zh: x\n  name_en: x\n  industry: brick\n  park: x\n  meters: []\n"
    tmp = reg.with_name("broken.tmp")
    tmp.write_text(bad, encoding="utf-8")
    os.replace(tmp, reg)
    assert wait_for(lambda: "registry_reload_failed_keeping_previous" in bridge.log.read_text(errors="replace"), 15)
    t2 = int(time.time() * 1000) - 1_800_000
    e01 = Publisher(stack, "e01")
    assert set(e01.publish(readings("e01", "e01_elec_main", t2, 4))) == {0}
    e01.close()
    assert wait_for(lambda: count_points(cl, "e01_elec_main", t2, t2 + 10_000) == 4, 30)
    assert bridge.health("ingest-0")["registry_sha256"] == off["registry_sha256"]
    assert bridge.log.read_text(errors="replace").count("registry_reload_failed_keeping_previous") == 1

    # neither server nor the bridge was restarted
    assert stack.mosquitto.status().pid == broker_pid and bridge.alive and bridge.proc.pid == bridge_pid


def test_every_worker_process_of_the_bridge_reloads(private_stack):
    """With two worker processes sharing the subscription, the add waits for both, and the new
    tenant's messages land whichever worker the broker deals them to."""
    stack, bridge, _ = private_stack
    cl = stack.client()
    bridge.start("--workers", "2").wait_ready()
    out = ecm(stack, "enterprise", "add", str(E21))
    assert out["bridges"] == {"confirmed": ["ingest-0", "ingest-1"], "pending": []}
    t0 = int(time.time() * 1000) - 7_200_000
    pub = Publisher(stack, "e21", password=out["password"])
    assert set(pub.publish(readings("e21", "e21_elec_main", t0, 200, 100))) == {0}
    pub.close()
    assert wait_for(lambda: count_points(cl, "e21_elec_main", t0, t0 + 60_000) == 200, 30)
    time.sleep(2.5)  # both workers took a share (stats in their health files)
    acked = [bridge.health(f"ingest-{i}")["stats"]["messages_acked"] for i in range(2)]
    assert all(a > 0 for a in acked), acked
    assert not quarantined(stack, "e21", t0) and not quarantined(stack, "_unregistered", t0)

"""Real-time mode: per-meter single readings with ISO timestamps, online status, last will."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

import sim_devices
from ecm.registry import get_registry
from sim_devices.publisher import Gateways

pytestmark = pytest.mark.integration
TZ = timezone(timedelta(hours=8))


def test_run_publishes_each_meter_at_its_interval(stack, make_recorder):
    reg = sim_devices.select_registry(get_registry(), 3)
    rec = make_recorder("rec-run")
    start = datetime(2025, 6, 2, 9, 59, 30, tzinfo=TZ)
    out = sim_devices.run(reg, seed=2, host=stack.mqtt_host, port=stack.mqtt_port, state_dir=stack.state_dir,
                          duration_s=1800, start_at=start, speed=900, progress=False)
    msgs = rec.stop()
    assert 1.0 < out["wall_s"] < 10 and out["sim_s"] == 1800
    readings = [(t, json.loads(p)) for t, p, _ in msgs if t.endswith("/reading")]
    assert len(readings) == out["readings"] > 0
    power = [d for t, d in readings if t == "ecm/v1/e01/e01_power_main/reading"]
    gas = [d for t, d in readings if t == "ecm/v1/e01/e01_l1_kiln_gas/reading"]
    assert len(power) == 30 and len(gas) == 2  # 60 s gauge, 900 s counter over 30 minutes
    ts = [datetime.fromisoformat(d["ts"]) for d in gas]
    assert all(t.utcoffset() == timedelta(hours=8) and t.minute % 15 == 0 and t.second == 0 for t in ts)
    assert gas[1]["values"]["gas_m3"] > gas[0]["values"]["gas_m3"] and gas[1]["seq"] == gas[0]["seq"] + 1
    assert {(t, p) for t, p, _ in msgs if t.endswith("/status")} >= {
        ("ecm/v1/e01/gateway/status", b"online"), ("ecm/v1/e01/gateway/status", b"offline")}


def test_gateway_last_will_is_retained_offline(stack, make_recorder):
    reg = sim_devices.select_registry(get_registry(), 2)
    gw = Gateways(reg.enterprise_ids, stack.mqtt_host, stack.mqtt_port, stack.state_dir)
    time.sleep(0.3)
    before = make_recorder("rec-will0")
    time.sleep(0.3)
    assert {t: p for t, p, r in before.msgs if r}.get("ecm/v1/e02/gateway/status") == b"online"
    before.stop()
    c = gw.clients["e02"]
    c.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, "Disconnect with will message"))
    time.sleep(0.5)
    rec = make_recorder("rec-will")  # a new subscriber sees the retained will
    time.sleep(0.3)
    retained = {t: p for t, p, r in rec.msgs if r}
    rec.stop()
    gw.clients.pop("e02").loop_stop()
    gw.close()
    assert retained.get("ecm/v1/e02/gateway/status") == b"offline"

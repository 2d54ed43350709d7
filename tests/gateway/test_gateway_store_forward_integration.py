"""Store and forward under failure: a broker outage while polling 20 devices, a SIGKILL mid-backlog,
and a disk cap smaller than the backlog.

Proof of "every reading once": the queue's AUTOINCREMENT row id is sent as ``seq``; ids are given
only to committed rows and never reused, so the landed seqs must be exactly 1..max id.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest

from gateway.config import load_profiles
from gateway.emulators import ModbusEmulator
from tests.gateway.conftest import landed
from tests.ingest.conftest import now_ms, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
OUTAGE_S = 60


def _devices(port: int, meters: list[str], interval_s: float) -> list[dict]:
    return [{"id": f"dev{i + 1:02d}", "profile": "din_rail_3ph_int", "transport": "modbus_tcp", "host": "127.0.0.1",
             "port": port, "unit": i + 1, "schedule": {"energy": interval_s},
             "meters": {"energy_import": m}} for i, m in enumerate(meters)]


class Advancer:
    """Advances every unit's energy counter in the emulator (distinct values per reading)."""

    def __init__(self, emu: ModbusEmulator, units: list[int], period_s: float = 0.25):
        self.emu, self.units, self.period = emu, units, period_s
        self.raw = {u: 1_000_000 * u for u in units}
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        for u in units:
            emu.set(u, "energy_import", self.raw[u] * 0.01)
        self.t.start()

    def _run(self):
        while not self.stop_ev.wait(self.period):
            for u in self.units:
                self.raw[u] = (self.raw[u] + u) % 10**9
                self.emu.set(u, "energy_import", self.raw[u] * 0.01)

    def stop(self):
        self.stop_ev.set()
        self.t.join(5)


def _queue_ids(path) -> tuple[int, int]:
    """(highest id ever given, rows still queued)."""
    db = sqlite3.connect(str(path))
    try:
        r = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'queue'").fetchone()
        return (int(r[0]) if r else 0), db.execute("SELECT count(*) FROM queue").fetchone()[0]
    finally:
        db.close()


def _seqs(cl, meters: list[str], since: int) -> list[int]:
    return sorted(r["seq"] for m in meters for r in landed(cl, m, "energy_kwh", since))


def _wait_seqs(cl, meters, since, expected: list[int], timeout_s: float = 90) -> list[int]:
    wait_for(lambda: len(_seqs(cl, meters, since)) >= len(expected), timeout_s, 0.5)
    time.sleep(1.5)
    return _seqs(cl, meters, since)


def test_broker_outage_while_polling_20_devices_everything_lands_once(stack, gw_bridge, gateway_proc, emulators):
    meters = [f"e01_gw_m{i:02d}" for i in range(1, 21)]
    loop, emu = emulators(lambda: ModbusEmulator(load_profiles()["din_rail_3ph_int"], list(range(1, 21))).start())
    adv = Advancer(emu, list(range(1, 21)))
    t0 = now_ms() - 1000
    gateway_proc.write(_devices(emu.port, meters, 1.0))
    gateway_proc.start()
    gateway_proc.wait(lambda h: h["connected"] and all(d["reads_ok"] >= 2 for d in h["devices"].values()), 30, "polling")
    stack.mosquitto.stop()
    t_down = now_ms()
    try:
        h = gateway_proc.wait(lambda h: not h["connected"], 20, "disconnect seen")
        time.sleep(OUTAGE_S)
        h = gateway_proc.fresh_health()
        assert not h["connected"] and h["queue"]["pending"] >= 20 * (OUTAGE_S - 10)   # polling went on
    finally:
        stack.mosquitto.start()
    t_up = now_ms()
    gateway_proc.wait(lambda h: h["connected"] and h["queue"]["pending"] < 100, 60, "backlog drained")
    time.sleep(3)
    adv.stop()
    assert gateway_proc.stop() == 0
    max_id, left = _queue_ids(gateway_proc.dir / "queue.db")
    assert left == 0
    cl = stack.client()
    seqs = _wait_seqs(cl, meters, t0, list(range(1, max_id + 1)))
    assert seqs == list(range(1, max_id + 1)), f"{len(seqs)} landed of {max_id}"
    during = [r for m in meters for r in landed(cl, m, "energy_kwh", t_down) if r["time_ms"] < t_up]
    assert len(during) >= 20 * (OUTAGE_S - 10)
    h = gateway_proc.health()
    assert sum(d["reads_ok"] for d in h["devices"].values()) == max_id
    assert h["queue"]["dropped"] == 0


def test_sigkill_mid_backlog_then_restart_loses_nothing(stack, gw_bridge, gateway_proc, emulators):
    meters = [f"e01_gw_k{i:02d}" for i in range(1, 6)]
    loop, emu = emulators(lambda: ModbusEmulator(load_profiles()["din_rail_3ph_int"], list(range(1, 6))).start())
    adv = Advancer(emu, list(range(1, 6)))
    t0 = now_ms() - 1000
    # a backlog: the gateway first polls with the broker unreachable (a closed port)
    from ecm.services import free_port

    gateway_proc.write(_devices(emu.port, meters, 0.05), port=free_port(),
                       store={"batch_max": 50, "inflight_max": 1})
    gateway_proc.start()
    gateway_proc.wait(lambda h: h["queue"]["pending"] >= 3000, 90, "backlog of 3000")
    gateway_proc.kill()                                   # SIGKILL while polling
    max1, left1 = _queue_ids(gateway_proc.dir / "queue.db")
    assert left1 == max1 >= 3000
    # restart against the real broker; kill again while the backlog is half drained
    gateway_proc.write(_devices(emu.port, meters, 0.05), store={"batch_max": 50, "inflight_max": 1})
    gateway_proc.start()
    cl = stack.client()

    def draining() -> bool:   # read the queue itself: InfluxDB lags the acks by a batch or two
        top, left = _queue_ids(gateway_proc.dir / "queue.db")
        return left <= top - 200

    assert wait_for(draining, 60, 0.01), "drain did not start"
    gateway_proc.kill()
    max2, left2 = _queue_ids(gateway_proc.dir / "queue.db")
    assert 0 < left2 < max2, "the kill must land mid-backlog"
    gateway_proc.write(_devices(emu.port, meters, 1.0))
    gateway_proc.start()
    gateway_proc.wait(lambda h: h["connected"] and h["queue"]["pending"] < 10, 60, "drained after restart")
    adv.stop()
    assert gateway_proc.stop() == 0
    max3, left3 = _queue_ids(gateway_proc.dir / "queue.db")
    assert left3 == 0
    seqs = _wait_seqs(cl, meters, t0, list(range(1, max3 + 1)))
    assert seqs == list(range(1, max3 + 1)), f"lost {sorted(set(range(1, max3 + 1)) - set(seqs))[:10]}"


def test_disk_cap_drops_oldest_first_and_reports_the_count(stack, gw_bridge, gateway_proc, emulators, status_watch):
    meters = [f"e01_gw_d{i:02d}" for i in range(1, 4)]
    loop, emu = emulators(lambda: ModbusEmulator(load_profiles()["din_rail_3ph_int"], [1, 2, 3]).start())
    adv = Advancer(emu, [1, 2, 3])
    t0 = now_ms() - 1000
    from ecm.services import free_port

    cap_mb = 0.15                                   # about 3,000 queued readings
    gateway_proc.write(_devices(emu.port, meters, 0.02), port=free_port(), store={"max_mb": cap_mb})
    gateway_proc.start()
    h = gateway_proc.wait(lambda h: h["queue"]["dropped"] >= 1000, 120, "drops at the cap")
    assert h["queue"]["used_bytes"] <= cap_mb * 1024 * 1024
    assert gateway_proc.stop() == 0
    adv.stop()
    max1, left1 = _queue_ids(gateway_proc.dir / "queue.db")
    dropped = gateway_proc.health()["queue"]["dropped"]
    assert left1 + dropped == max1 and dropped >= 1000
    # the survivors are the newest: ids dropped+1 .. max
    gateway_proc.write(_devices(emu.port, meters, 3600.0), store={"max_mb": cap_mb})
    gateway_proc.start()
    h = gateway_proc.wait(lambda h: h["connected"] and h["queue"]["pending"] == 0, 60, "drained")
    assert h["queue"]["dropped"] == dropped                 # the count survives restarts
    cl = stack.client()
    polled = sum(d["reads_ok"] for d in h["devices"].values())   # one poll each at start (interval 1 h)
    seqs = _wait_seqs(cl, meters, t0, list(range(dropped + 1, max1 + 1 + polled)))
    assert seqs == list(range(dropped + 1, max1 + 1 + polled)), "exactly the oldest were dropped"
    # the gateway status topic carries the drop count
    assert wait_for(lambda: any(isinstance(d, dict) and d.get("state") == "online" and d.get("dropped") == dropped
                                for d in status_watch.docs("gateway")), 10), status_watch.docs("gateway")[-3:]
    assert gateway_proc.stop() == 0
    assert json.loads(gateway_proc.health_path.read_text())["queue"]["dropped"] == dropped

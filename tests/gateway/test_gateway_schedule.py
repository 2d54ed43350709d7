"""Per-device schedules with jitter, run in-process against a real Modbus server; the broker is
unreachable, so readings stay in the queue where their gateway timestamps are inspected."""
from __future__ import annotations

import asyncio
import statistics

from gateway.config import load_profiles, parse_config
from gateway.emulators import ModbusEmulator
from gateway.service import Gateway


def test_schedules_have_jitter_and_spread_and_timestamps_from_the_gateway_clock(tmp_path, emulators):
    import time

    from ecm.services import free_port

    prof = load_profiles()["din_rail_3ph_int"]
    loop, emu = emulators(lambda: ModbusEmulator(prof, [1, 2, 3, 4]).start())
    devs = [{"id": f"d{u}", "profile": "din_rail_3ph_int", "transport": "modbus_tcp", "host": "127.0.0.1",
             "port": emu.port, "unit": u, "schedule": {"energy": 0.5, "power": 2.0},
             "meters": {"energy_import": f"e01_gw_m{u:02d}", "power_total": f"e01_gw_p{u}"}} for u in (1, 2, 3, 4)]
    site = parse_config({"enterprise": "e01", "mqtt": {"port": free_port()}, "store": {"path": "q.db"},
                         "jitter_frac": 0.2, "devices": devs}, base=tmp_path)
    gw = Gateway(site, password="x")
    t0 = time.time() * 1000
    asyncio.run(gw.run_async(stop_after_s=6.0))
    t1 = time.time() * 1000
    from gateway.store import Queue

    q = Queue(tmp_path / "q.db", 10**9)
    rows = q.take(100_000)
    q.close()
    assert all(t0 <= r.ts_ms <= t1 for r in rows)                 # gateway clock at read time
    firsts = []
    for u in (1, 2, 3, 4):
        ts = [r.ts_ms for r in rows if r.meter == f"e01_gw_m{u:02d}"]
        power = [r.ts_ms for r in rows if r.meter == f"e01_gw_p{u}"]
        assert 7 <= len(ts) <= 13, len(ts)                         # ~ 6 s / 0.5 s, first slot random in [0, 0.5)
        assert 2 <= len(power) <= 4, len(power)                    # its own 2 s schedule
        gaps = [(b - a) / 1000 for a, b in zip(ts, ts[1:])]
        assert 0.5 * 0.9 < statistics.mean(gaps) < 0.5 * 1.25      # the interval holds on average
        assert statistics.pstdev(gaps) > 0.01                      # jitter: gaps are not all equal
        assert all(0.15 < g < 1.2 for g in gaps)                   # ±20 % jitter, contended machine margin
        firsts.append(ts[0])
    assert max(firsts) - min(firsts) > 10                          # devices spread over the first interval

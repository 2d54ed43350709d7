"""Gateway → MQTT → ingest → InfluxDB with real Modbus servers (pymodbus) on loopback."""
from __future__ import annotations

import time

import pandas as pd
import pytest

from gateway.config import load_profiles
from gateway.emulators import ModbusEmulator
from tests.gateway.conftest import landed
from tests.ingest.conftest import now_ms, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def queue_max_seq(path) -> int:
    import sqlite3

    db = sqlite3.connect(str(path))
    try:
        r = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'queue'").fetchone()
        return int(r[0]) if r else 0
    finally:
        db.close()


def all_landed(client, fields: dict[str, str], since_ms: int, n: int, timeout_s: float = 60) -> dict[str, list]:
    """Wait until ``n`` readings of ``fields`` (meter -> field) are in InfluxDB; return them per meter."""
    def got():
        out = {m: landed(client, m, f, since_ms) for m, f in fields.items()}
        return out if sum(len(v) for v in out.values()) >= n else None

    res = wait_for(got, timeout_s, 0.3)
    assert res, f"fewer than {n} readings landed: {({m: len(landed(client, m, f, since_ms)) for m, f in fields.items()})}"
    time.sleep(1.0)
    return {m: landed(client, m, f, since_ms) for m, f in fields.items()}


def test_modbus_counter_wrap_day_energy_exact_and_rollover_counted_once(stack, gw_bridge, gw_registry,
                                                                       gateway_proc, emulators):
    from ecm.accounting.counters import counters_to_deltas, deltas_to_periods
    from ecm.registry import load_registry

    prof = load_profiles()["din_rail_3ph_int"]
    loop, emu = emulators(lambda: ModbusEmulator(prof, [7]).start())
    raw = 999_999_000                      # 9,999,990.00 kWh in 0.01 kWh counts; the register wraps at 10^9
    emu.set(7, "energy_import", raw * 0.01)
    emu.set(7, "power_total", 123.456)
    t0 = now_ms() - 1000
    gateway_proc.write([{"id": "dinrail", "profile": "din_rail_3ph_int", "transport": "modbus_tcp",
                         "host": "127.0.0.1", "port": emu.port, "unit": 7, "schedule": {"energy": 0.3, "power": 0.5},
                         "meters": {"energy_import": "e01_gw_energy", "power_total": "e01_gw_power"}}])
    gateway_proc.start()
    gateway_proc.wait(lambda h: h["devices"]["dinrail"]["reads_ok"] >= 4, 30, "first reads")
    increments = [137, 250, 399, 401, 12, 555, 1000, 61]     # counts of 0.01 kWh; the 5th step wraps
    values = [raw]
    for inc in increments:
        raw = (raw + inc) % 10**9
        values.append(raw)
        emu.set(7, "energy_import", raw * 0.01)
        time.sleep(0.8)                                        # ≥ 2 energy polls per value
    n_before = gateway_proc.fresh_health()["devices"]["dinrail"]["reads_ok"]
    gateway_proc.wait(lambda h: h["devices"]["dinrail"]["reads_ok"] >= n_before + 4, 30, "final reads")
    assert gateway_proc.stop() == 0
    n_rows = queue_max_seq(gateway_proc.dir / "queue.db")
    h = gateway_proc.health()
    assert h["queue"]["pending"] == 0 and h["queue"]["dropped"] == 0

    cl = stack.client()
    got = all_landed(cl, {"e01_gw_energy": "energy_kwh", "e01_gw_power": "power_kw"}, t0, n_rows)
    seqs = sorted(r["seq"] for rs in got.values() for r in rs)
    assert seqs == list(range(1, n_rows + 1)), "every queued reading lands exactly once"
    energy = got["e01_gw_energy"]
    assert {round(r["value"] * 100) for r in energy} == set(values)       # nothing but the server's values
    assert {r["value"] for r in got["e01_gw_power"]} == {123.456}

    # the day's energy by the platform's own counter rules (ecm.accounting.counters)
    meters = load_registry(gw_registry).meters_frame()
    readings = pd.DataFrame({"time": pd.to_datetime([r["time_ms"] for r in energy], unit="ms", utc=True),
                             "meter": "e01_gw_energy", "enterprise": "e01", "value": [r["value"] for r in energy]})
    deltas, _issues = counters_to_deltas(readings, meters.loc[["e01_gw_energy"]])
    days, _ = deltas_to_periods(deltas, "1D")
    assert abs(days["delta"].sum() - sum(increments) / 100) < 1e-6      # 28.15 kWh, exactly the increments
    assert deltas["flags"].str.contains("rollover").sum() == 1
    assert not deltas["flags"].str.contains("reset|spike").any()


def test_modbus_rtu_on_a_serial_line_lands(stack, gw_bridge, gateway_proc, emulators, null_modem):
    gw_port, meter_port = null_modem
    prof = load_profiles()["gas_totaliser_modbus"]          # input registers, CDAB word order
    loop, emu = emulators(lambda: ModbusEmulator(prof, [5], serial_port=meter_port).start())
    emu.set(5, "std_volume_total", 1234567.8)
    emu.set(5, "gas_temperature", 18.5)
    emu.set(5, "totaliser_bcd", 12345678)
    t0 = now_ms() - 1000
    gateway_proc.write([{"id": "gas_fc", "profile": "gas_totaliser_modbus", "transport": "modbus_rtu",
                         "serial_port": gw_port, "baudrate": 9600, "unit": 5, "timeout_s": 1,
                         "schedule": {"energy": 0.5}, "meters": {"std_volume_total": "e01_gw_tot_gas"}}])
    gateway_proc.start()
    cl = stack.client()
    assert wait_for(lambda: len(landed(cl, "e01_gw_tot_gas", "gas_m3", t0)) >= 3, 30), \
        (gateway_proc.health(), gateway_proc.log_tail(10))
    assert {r["value"] for r in landed(cl, "e01_gw_tot_gas", "gas_m3", t0)} == {1234567.8}
    assert gateway_proc.stop() == 0
    # the commissioning table over the same line shows the diagnostic points too
    from gateway.config import load_config
    from gateway.service import check

    rows = {r["point"]: r for r in check(load_config(gateway_proc.config))}
    assert rows["gas_temperature"]["value"] == 18.5 and rows["totaliser_bcd"]["value"] == 12345678
    assert rows["std_volume_total"]["quality"] == "good"

"""Gateway status (online after connect, last will offline), re-send on PUBACK 0x10, the commissioning
check command, and the clock-skew check."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

from gateway.config import load_profiles
from gateway.dlt645 import Dlt645Responder
from gateway.emulators import ModbusEmulator
from tests.gateway.conftest import landed
from tests.ingest.conftest import now_ms, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def _dev(port: int, meter: str, interval_s: float = 0.5) -> dict:
    return {"id": "meter1", "profile": "din_rail_3ph_int", "transport": "modbus_tcp", "host": "127.0.0.1",
            "port": port, "unit": 1, "schedule": {"energy": interval_s}, "meters": {"energy_import": meter}}


def test_online_after_connect_and_last_will_offline_on_sigkill(stack, gateway_proc, emulators, status_watch):
    loop, emu = emulators(lambda: ModbusEmulator(load_profiles()["din_rail_3ph_int"], [1]).start())
    emu.set(1, "energy_import", 100.0)
    gateway_proc.write([_dev(emu.port, "e01_gw_d01", 5.0)])
    gateway_proc.start()
    assert wait_for(lambda: any(isinstance(d, dict) and d["state"] == "online" and d["ts"] >= gateway_proc.started * 1000
                                for d in status_watch.docs("gateway")), 20)
    assert wait_for(lambda: any(isinstance(d, dict) and d["state"] == "online" and d["device"] == "meter1"
                                for d in status_watch.docs("e01_gw_d01")), 20)
    gateway_proc.wait(lambda h: h["devices"]["meter1"]["state"] == "online" and h["connected"], 20, "online")
    res = subprocess.run([sys.executable, "-c", "from ecm.cli.main import main; main()", "gateway", "status",
                          "--config", str(gateway_proc.config)], capture_output=True, text=True, cwd=ROOT, timeout=60,
                         env={k: v for k, v in os.environ.items() if not k.startswith("ECM_")})
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith("e01-gw ok ") and "dropped=0" in res.stdout and "meter1: online" in res.stdout
    n = len(status_watch.docs("gateway"))
    gateway_proc.kill()
    # keepalive 5 s: the broker publishes the will within 1.5 × keepalive
    assert wait_for(lambda: "offline" in status_watch.docs("gateway")[n:], 15), status_watch.docs("gateway")[n:]
    # a clean stop publishes offline itself (with the counts)
    gateway_proc.start()
    assert wait_for(lambda: any(isinstance(d, dict) and d["state"] == "online" and d["ts"] >= gateway_proc.started * 1000
                                for d in status_watch.docs("gateway")), 20)
    assert gateway_proc.stop() == 0
    assert wait_for(lambda: isinstance(status_watch.docs("gateway")[-1], dict)
                    and status_watch.docs("gateway")[-1]["state"] == "offline", 10)


def test_puback_0x10_is_resent_until_the_bridge_subscribes(stack, gw_bridge, gateway_proc, emulators):
    """After a broker restart Mosquitto answers 0x10 (no matching subscribers) until the bridge's
    shared subscription is back, and stores nothing: the gateway must keep those rows and re-send."""
    loop, emu = emulators(lambda: ModbusEmulator(load_profiles()["din_rail_3ph_int"], [1]).start())
    emu.set(1, "energy_import", 2000.0)
    gw_bridge.stop()
    stack.mosquitto.stop()
    stack.mosquitto.start()
    t0 = now_ms() - 1000
    gateway_proc.write([_dev(emu.port, "e01_gw_d02", 0.3)], store={"batch_max": 5})
    gateway_proc.start()
    h = gateway_proc.wait(lambda h: h["uplink"]["failed_pubacks"] >= 3, 30, "0x10 answers")
    assert h["uplink"]["last_failure_reason"] == "0x10"
    assert h["queue"]["pending"] > 0 and h["queue"]["acked"] == 0
    gw_bridge.start().wait_ready()
    gateway_proc.wait(lambda h: h["queue"]["acked"] > 20, 30, "acks after the bridge subscribed")
    assert gateway_proc.stop() == 0
    import sqlite3

    db = sqlite3.connect(str(gateway_proc.dir / "queue.db"))
    max_id = db.execute("SELECT seq FROM sqlite_sequence").fetchone()[0]
    assert db.execute("SELECT count(*) FROM queue").fetchone()[0] == 0
    db.close()
    cl = stack.client()
    assert wait_for(lambda: len(landed(cl, "e01_gw_d02", "energy_kwh", t0)) >= max_id, 30)
    assert sorted(r["seq"] for r in landed(cl, "e01_gw_d02", "energy_kwh", t0)) == list(range(1, max_id + 1))


def test_check_command_prints_values_units_quality(tmp_path, emulators):
    prof = load_profiles()["din_rail_3ph_int"]
    loop, emu = emulators(lambda: ModbusEmulator(prof, [3]).start())
    emu.set(3, "energy_import", 12345.67)
    emu.set(3, "power_total", -1.5)
    emu.set(3, "voltage_a", 230.1)
    loop2, srv = emulators(lambda: Dlt645Responder({"000000000042": {"00010000": 512.25, "02030000": 1.5}}).start())
    cfg = {"enterprise": "e01", "devices": [
        {"id": "din", "profile": "din_rail_3ph_int", "transport": "modbus_tcp", "host": "127.0.0.1", "port": emu.port,
         "unit": 3, "meters": {"energy_import": "e01_gw_energy", "power_total": "e01_gw_power"}},
        {"id": "grid", "profile": "dlt645_2007_meter", "transport": "dlt645_tcp", "host": "127.0.0.1", "port": srv.port,
         "address": "discover", "timeout_s": 0.5, "meters": {"energy_total": "e01_gw_dlt_total"}}]}
    f = tmp_path / "gateway.yaml"
    f.write_text(yaml.safe_dump(cfg))

    def run(*extra):
        return subprocess.run([sys.executable, "-c", "from ecm.cli.main import main; main()", "gateway", "check",
                               "--config", str(f), *extra], capture_output=True, text=True, cwd=ROOT, timeout=120,
                              env={k: v for k, v in os.environ.items() if not k.startswith("ECM_")})

    res = run("--json")
    assert res.returncode == 0, res.stderr
    rows = {(r["device"], r["point"]): r for r in json.loads(res.stdout)}
    assert rows[("din", "energy_import")]["value"] == 12345.67 and rows[("din", "energy_import")]["unit"] == "kwh"
    assert rows[("din", "power_total")]["value"] == -1.5 and rows[("din", "power_total")]["meter"] == "e01_gw_power"
    assert rows[("din", "voltage_a")]["value"] == 230.1 and rows[("din", "voltage_a")]["unit"] == "V"
    assert rows[("grid", "energy_total")]["value"] == 512.25 and rows[("grid", "energy_total")]["quality"] == "good"
    # the meter lacks the tariff registers: a diagnostic-quality row, not a failure of a published point
    assert rows[("grid", "energy_tariff1")]["quality"] == "meter_error" and rows[("grid", "energy_tariff1")]["value"] is None
    srv.fault = "checksum"
    res = run()
    assert res.returncode == 1
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("grid") and "energy_total" in ln)
    assert "checksum" in line and "e01_gw_dlt_total" in line
    assert any(ln.startswith("din") and "12345.7" in ln and "good" in ln for ln in res.stdout.splitlines())


def test_clock_skew_warning_against_the_platform_date_header(tmp_path, caplog):
    from gateway.config import parse_config
    from gateway.service import Gateway

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(204)                    # its Date header: the platform 10 s behind
            self.end_headers()

        def date_time_string(self, timestamp=None):
            return formatdate(time.time() - 10, usegmt=True)

        def log_message(self, *a):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        site = parse_config({"enterprise": "e01", "store": {"path": str(tmp_path / "q.db")},
                             "clock_check_url": f"http://127.0.0.1:{httpd.server_port}/ping",
                             "devices": [_dev(1, "e01_gw_d03")]}, base=tmp_path)
        gw = Gateway(site, password="x")
        with caplog.at_level("WARNING", logger="gateway"):
            import logging

            logging.getLogger("gateway").propagate = True
            gw.check_clock()
        assert 8.4 <= gw.clock_skew_s <= 11.6
        assert any(r.getMessage() == "clock_skew" for r in caplog.records)
        gw.queue.close()
    finally:
        httpd.shutdown()


def test_modbus_crc_errors_and_exception_responses_are_status_events_not_readings(stack, gw_bridge, gateway_proc,
                                                                                   emulators, status_watch):
    from gateway.sources import crc16

    assert crc16(bytes.fromhex("010300000002")) == bytes.fromhex("C40B")   # the textbook read of 2 registers
    prof = load_profiles()["din_rail_3ph_int"]
    # RTU over TCP (a serial server); registers 0x00-0x0E only, so power_total (0x10) answers exception 2
    loop, emu = emulators(lambda: ModbusEmulator(prof, [9], framer="rtu", size=0x10).start())
    emu.set(9, "energy_import", 555.55)
    t0 = now_ms() - 1000
    gateway_proc.write([{"id": "rtu_meter", "profile": "din_rail_3ph_int", "transport": "modbus_rtu_over_tcp",
                         "host": "127.0.0.1", "port": emu.port, "unit": 9, "timeout_s": 0.5,
                         "schedule": {"energy": 0.4, "power": 0.4},
                         "meters": {"energy_import": "e01_gw_d03", "power_total": "e01_gw_power"}}])
    gateway_proc.start()
    h = gateway_proc.wait(lambda h: h["devices"]["rtu_meter"]["reads_ok"] >= 2
                          and h["devices"]["rtu_meter"]["errors"].get("modbus_exception", 0) >= 2, 30, "reads")
    cl = stack.client()
    assert wait_for(lambda: landed(cl, "e01_gw_d03", "energy_kwh", t0), 20), (gateway_proc.health(), gateway_proc.log_tail(20))
    assert {r["value"] for r in landed(cl, "e01_gw_d03", "energy_kwh", t0)} == {555.55}
    assert landed(cl, "e01_gw_power", "power_kw", t0) == []              # the refused register made no reading
    assert wait_for(lambda: any(isinstance(d, dict) and d["state"] == "offline" and "exception code 2" in d["error"]
                                for d in status_watch.docs("e01_gw_power")), 10)
    emu.corrupt_crc = True
    h = gateway_proc.wait(lambda h: h["devices"]["rtu_meter"]["errors"].get("crc", 0) >= 3, 30, "crc errors")
    ok = h["devices"]["rtu_meter"]["reads_ok"]
    time.sleep(1.5)
    h = gateway_proc.fresh_health()
    assert h["devices"]["rtu_meter"]["reads_ok"] == ok and "crc" in h["devices"]["rtu_meter"]["last_error"]
    assert wait_for(lambda: any(isinstance(d, dict) and d["error"].startswith("crc")
                                for d in status_watch.docs("e01_gw_d03")), 10)
    emu.corrupt_crc = False
    gateway_proc.wait(lambda h: h["devices"]["rtu_meter"]["reads_ok"] > ok, 20, "recovery")
    assert gateway_proc.stop() == 0

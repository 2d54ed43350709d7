"""DL/T 645-2007 (TCP responder) and OPC UA (asyncua server) devices end to end, with device status
events on faults and no reading for a failed read."""
from __future__ import annotations

import time

import pytest

from gateway.config import load_profiles
from gateway.dlt645 import Dlt645Responder
from gateway.emulators import OpcUaEmulator, call
from tests.gateway.conftest import landed
from tests.ingest.conftest import now_ms, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ADDR = "000012345678"
TARIFF_METERS = {f"energy_tariff{i}": f"e01_gw_dlt_t{i}" for i in range(1, 5)}


def _count(cl, meters: dict[str, str], since: int) -> int:
    return sum(len(landed(cl, m, f, since)) for m, f in meters.items())


def test_dlt645_energy_and_tariffs_land_faults_give_status_not_readings(stack, gw_bridge, gateway_proc, emulators,
                                                                        status_watch):
    regs = {"00010000": 10234.56, "00010100": 1000.01, "00010200": 4000.50, "00010300": 3000.00,
            "00010400": 2234.05, "02030000": 3.2101, "02010100": 220.5}
    loop, srv = emulators(lambda: Dlt645Responder({ADDR: regs}).start())
    t0 = now_ms() - 1000
    gateway_proc.write([{"id": "grid_meter", "profile": "dlt645_2007_meter", "transport": "dlt645_tcp",
                         "host": "127.0.0.1", "port": srv.port, "address": "discover", "timeout_s": 0.5,
                         "schedule": {"energy": 0.5, "power": 0.5},
                         "meters": {"energy_total": "e01_gw_dlt_total", **TARIFF_METERS,
                                    "power_total": "e01_gw_dlt_power"}}])
    gateway_proc.start()
    h = gateway_proc.wait(lambda h: h["devices"]["grid_meter"]["reads_ok"] >= 4, 30, "first reads")
    cl = stack.client()
    fields = {"e01_gw_dlt_total": "energy_kwh", **{m: "energy_kwh" for m in TARIFF_METERS.values()},
              "e01_gw_dlt_power": "power_kw"}
    assert wait_for(lambda: all(landed(cl, m, f, t0) for m, f in fields.items()), 30)
    assert {r["value"] for r in landed(cl, "e01_gw_dlt_total", "energy_kwh", t0)} == {10234.56}
    for i in range(1, 5):
        assert {r["value"] for r in landed(cl, f"e01_gw_dlt_t{i}", "energy_kwh", t0)} == {regs[f"00010{i}00"]}
    assert {r["value"] for r in landed(cl, "e01_gw_dlt_power", "power_kw", t0)} == {3.2101}
    assert wait_for(lambda: any(isinstance(d, dict) and d["state"] == "online" for d in status_watch.docs("e01_gw_dlt_t3")), 10)

    for fault in ("checksum", "silent"):
        kind = "checksum" if fault == "checksum" else "timeout"
        srv.fault = fault
        h = gateway_proc.wait(lambda h: h["devices"]["grid_meter"]["errors"].get(kind, 0) >= 1, 20, f"{kind} error")
        time.sleep(1.0)                                     # let anything read before the fault land
        ok_at_fault = gateway_proc.fresh_health()["devices"]["grid_meter"]["reads_ok"]
        n_at_fault = _count(cl, fields, t0)
        gateway_proc.wait(lambda h: h["devices"]["grid_meter"]["errors"].get(kind, 0) >= 4, 20, f"more {kind} errors")
        h = gateway_proc.fresh_health()
        assert h["devices"]["grid_meter"]["state"] == "offline"
        assert h["devices"]["grid_meter"]["reads_ok"] == ok_at_fault, "a failed read must yield no reading"
        assert kind in h["devices"]["grid_meter"]["last_error"]
        time.sleep(0.5)
        assert _count(cl, fields, t0) == n_at_fault
        assert wait_for(lambda: any(isinstance(d, dict) and d["state"] == "offline" and d["error"].startswith(kind)
                                    for d in status_watch.docs("e01_gw_dlt_total")), 10), status_watch.docs("e01_gw_dlt_total")
        srv.fault = None
        gateway_proc.wait(lambda h: h["devices"]["grid_meter"]["state"] == "online"
                          and h["devices"]["grid_meter"]["reads_ok"] > ok_at_fault, 20, "recovery")
    # ingest recorded the device status events (device_status, online 0 then 1)
    df = cl.query_frame(f"SELECT online FROM device_status WHERE meter = 'e01_gw_dlt_total' AND time >= {t0}ms")
    assert set(df["online"]) == {0, 1}
    assert gateway_proc.stop() == 0


def test_opcua_kiln_values_land_polled_and_subscribed(stack, gw_bridge, gateway_proc, emulators):
    prof = load_profiles()["opcua_kiln_dcs"]
    loop, emu = emulators(lambda: OpcUaEmulator(prof).start())
    for p, v in {"kiln_temperature": 1185.5, "gas_flow": 412.0, "gas_total": 123456.7, "fan_power": 75.25}.items():
        call(loop, emu.set(p, v))
    t0 = now_ms() - 1000
    gateway_proc.write([
        {"id": "kiln_poll", "profile": "opcua_kiln_dcs", "transport": "opcua", "endpoint": emu.endpoint,
         "schedule": {"process": 0.5, "energy": 0.5}, "timeout_s": 5,
         "meters": {"kiln_temperature": "e01_gw_kiln_temp", "gas_total": "e01_gw_kiln_gas"}},
        {"id": "kiln_sub", "profile": "opcua_kiln_dcs", "transport": "opcua", "endpoint": emu.endpoint,
         "opcua": {"mode": "subscribe"}, "schedule": {"process": 0.5}, "timeout_s": 5,
         "meters": {"fan_power": "e01_gw_fan_power"}},
    ])
    gateway_proc.start()
    cl = stack.client()
    assert wait_for(lambda: landed(cl, "e01_gw_kiln_temp", "temperature_c", t0)
                    and landed(cl, "e01_gw_fan_power", "power_kw", t0)
                    and landed(cl, "e01_gw_kiln_gas", "gas_m3", t0), 60), gateway_proc.health()
    assert {r["value"] for r in landed(cl, "e01_gw_kiln_temp", "temperature_c", t0)} == {1185.5}
    assert {r["value"] for r in landed(cl, "e01_gw_kiln_gas", "gas_m3", t0)} == {123456.7}
    assert {r["value"] for r in landed(cl, "e01_gw_fan_power", "power_kw", t0)} == {75.25}
    call(loop, emu.set("kiln_temperature", 1190.0))
    call(loop, emu.set("fan_power", 80.5))
    assert wait_for(lambda: 1190.0 in {r["value"] for r in landed(cl, "e01_gw_kiln_temp", "temperature_c", t0)}
                    and 80.5 in {r["value"] for r in landed(cl, "e01_gw_fan_power", "power_kw", t0)}, 30)
    assert gateway_proc.stop() == 0
    h = gateway_proc.health()
    assert h["devices"]["kiln_poll"]["state"] == "online" and h["devices"]["kiln_sub"]["state"] == "online"


def test_opcua_with_basic256sha256_sign_and_encrypt(stack, gw_bridge, gateway_proc, emulators, tmp_path):
    import asyncio

    from cryptography.x509.oid import ExtendedKeyUsageOID

    from asyncua.crypto.cert_gen import setup_self_signed_certificate

    certs = tmp_path / "certs"
    certs.mkdir()
    asyncio.run(setup_self_signed_certificate(certs / "gw_key.pem", certs / "gw_cert.der", "urn:ecm:gateway:e01",
                                              "localhost", [ExtendedKeyUsageOID.CLIENT_AUTH], {"commonName": "e01-gw"}))
    prof = load_profiles()["opcua_kiln_dcs"]
    loop, emu = emulators(lambda: OpcUaEmulator(prof, cert_dir=certs).start())
    call(loop, emu.set("kiln_temperature", 1201.25))
    t0 = now_ms() - 1000
    secure = {"security_policy": "Basic256Sha256", "security_mode": "SignAndEncrypt",
              "certificate": str(certs / "gw_cert.der"), "private_key": str(certs / "gw_key.pem"),
              "server_certificate": str(certs / "server_cert.der")}
    gateway_proc.write([{"id": "kiln_secure", "profile": "opcua_kiln_dcs", "transport": "opcua", "endpoint": emu.endpoint,
                         "opcua": secure, "schedule": {"process": 0.5}, "timeout_s": 5,
                         "meters": {"kiln_temperature": "e01_gw_kiln_temp"}}])
    gateway_proc.start()
    cl = stack.client()
    assert wait_for(lambda: 1201.25 in {r["value"] for r in landed(cl, "e01_gw_kiln_temp", "temperature_c", t0)}, 60), \
        (gateway_proc.health(), gateway_proc.log_tail(10))
    assert gateway_proc.stop() == 0
    # the same server refuses an unsecured client: a status event, no reading
    gateway_proc.write([{"id": "kiln_plain", "profile": "opcua_kiln_dcs", "transport": "opcua", "endpoint": emu.endpoint,
                         "schedule": {"process": 0.5}, "timeout_s": 2, "meters": {"kiln_temperature": "e01_gw_kiln_temp"}}])
    gateway_proc.start()
    h = gateway_proc.wait(lambda h: h["devices"]["kiln_plain"]["reads_failed"] >= 1, 30, "refused")
    assert h["devices"]["kiln_plain"]["reads_ok"] == 0 and h["devices"]["kiln_plain"]["state"] == "offline"
    assert gateway_proc.stop() == 0

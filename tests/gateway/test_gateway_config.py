"""Site config and profiles are validated completely before any connection; errors are one line and
name the entry and the field. Register decoding by type, byte order and word order."""
from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gateway.codec import DecodeError, decode, encode, from_bytes, physical, to_bytes
from gateway.config import GatewayConfigError, load_config, load_profiles

ROOT = Path(__file__).resolve().parents[2]


def _cfg(**over) -> dict:
    d = {
        "enterprise": "e01",
        "mqtt": {"host": "127.0.0.1", "port": 1883},
        "store": {"path": "q.db"},
        "devices": [
            {"id": "main_meter", "profile": "din_rail_3ph_int", "transport": "modbus_tcp", "host": "127.0.0.1",
             "port": 5020, "unit": 1, "meters": {"energy_import": "e01_elec_main", "power_total": "e01_power_main"}},
            {"id": "grid_meter", "profile": "dlt645_2007_meter", "transport": "dlt645_tcp", "host": "127.0.0.1",
             "port": 5021, "address": "000012345678", "meters": {"energy_total": "e01_l1_elec"}},
        ],
    }
    d.update(over)
    return d


def _write(tmp_path: Path, data: dict) -> Path:
    f = tmp_path / "gateway.yaml"
    f.write_text(yaml.safe_dump(data, allow_unicode=True))
    return f


def _err(tmp_path, data) -> str:
    with pytest.raises(GatewayConfigError) as ei:
        load_config(_write(tmp_path, data))
    msg = str(ei.value)
    assert "\n" not in msg
    return msg


def test_shipped_profiles_load_and_note_their_manual():
    ps = load_profiles()
    assert {"chint_dtsu666", "din_rail_3ph_int", "gas_totaliser_modbus", "dlt645_2007_meter", "opcua_kiln_dcs"} <= set(ps)
    assert {p.protocol for p in ps.values()} == {"modbus", "dlt645", "opcua"}
    for p in ps.values():
        assert len(p.manual) > 20
    assert ps["dlt645_2007_meter"].points["energy_tariff3"].di == "00010300"
    assert ps["gas_totaliser_modbus"].orders(ps["gas_totaliser_modbus"].points["std_volume_total"]) == ("big", "little")


def test_valid_config(tmp_path):
    site = load_config(_write(tmp_path, _cfg()))
    d0 = site.cfg.devices[0]
    assert site.interval(d0, "energy") == 60 and site.interval(d0, "power") == 5
    assert site.store_path == tmp_path / "q.db"
    assert site.cfg.client_id == "e01-gw" and site.cfg.username == "e01"
    assert {m for m, _p in site.published_points(d0).values()} == {"e01_elec_main", "e01_power_main"}


def test_unknown_profile_names_entry_and_field(tmp_path):
    d = _cfg()
    d["devices"][1]["profile"] = "no_such_meter"
    msg = _err(tmp_path, d)
    assert msg.startswith("gateway.yaml: devices[1](grid_meter).profile: unknown profile 'no_such_meter'")


def test_duplicate_meter(tmp_path):
    d = _cfg()
    d["devices"][1]["meters"] = {"energy_total": "e01_elec_main"}
    assert "duplicate meter 'e01_elec_main': fed by main_meter and grid_meter" in _err(tmp_path, d)


def test_bad_register_type_in_a_site_profile(tmp_path):
    pdir = tmp_path / "profiles"
    pdir.mkdir()
    prof = yaml.safe_load((ROOT / "gateway/profiles/din_rail_3ph_int.yaml").read_text())
    prof["name"] = "my_meter"
    prof["points"]["voltage_b"]["type"] = "u24"
    (pdir / "my_meter.yaml").write_text(yaml.safe_dump(prof))
    d = _cfg(profile_dirs=["profiles"])
    d["devices"][0]["profile"] = "my_meter"
    msg = _err(tmp_path, d)
    assert msg.startswith("my_meter.yaml: points.voltage_b.type: unknown register type 'u24'")


def test_field_errors_name_the_entry(tmp_path):
    d = _cfg()
    del d["devices"][0]["host"]
    assert _err(tmp_path, d).startswith("gateway.yaml: devices[0](main_meter): transport modbus_tcp needs host and port")
    d = _cfg()
    d["devices"][1]["address"] = "12345"
    assert "devices[1](grid_meter): dlt645 devices need address" in _err(tmp_path, d)
    d = _cfg()
    d["devices"][0]["meters"]["voltage_a"] = "e01_l2_elec"
    assert "devices[0](main_meter).meters.voltage_a: a diagnostic point" in _err(tmp_path, d)
    d = _cfg()
    d["devices"][0]["schedule"] = {"energi": 30}
    assert "devices[0](main_meter).schedule.energi" in _err(tmp_path, d)
    d = _cfg()
    d["devices"][0]["transport"] = "opcua"
    d["devices"][0]["endpoint"] = "opc.tcp://x:4840"
    assert "devices[0](main_meter).transport: opcua cannot read a modbus profile" in _err(tmp_path, d)
    d = _cfg()
    d["devices"][0]["unit"] = 300
    assert _err(tmp_path, d).startswith("gateway.yaml: devices[0](main_meter).unit:")


def test_counter_width_must_fit_the_register(tmp_path):
    pdir = tmp_path / "profiles"
    pdir.mkdir()
    prof = yaml.safe_load((ROOT / "gateway/profiles/din_rail_3ph_int.yaml").read_text())
    prof["name"] = "wide"
    prof["points"]["energy_import"]["counter_digits"] = 8     # 10^8 kWh / 0.01 = 10^10 > 2^32
    (pdir / "wide.yaml").write_text(yaml.safe_dump(prof))
    d = _cfg(profile_dirs=["profiles"])
    d["devices"][0]["profile"] = "wide"
    assert "points.energy_import.counter_digits: u32 × 0.01 cannot hold 10^8" in _err(tmp_path, d)


def test_registry_cross_check(tmp_path):
    reg = ROOT / "config/district.yaml"
    d = _cfg(registry=str(reg))
    # e01_elec_main has register_digits 9; the integer profile's counter is 7 digits wide
    assert "profile counter_digits 7 != registry register_digits 9 of e01_elec_main" in _err(tmp_path, d)
    d = _cfg(registry=str(reg))
    d["devices"] = [d["devices"][1]]
    d["devices"][0]["meters"] = {"power_total": "e01_elec_main"}
    assert "point gives power_kw but meter e01_elec_main records energy_kwh" in _err(tmp_path, d)
    d["devices"][0]["meters"] = {"power_total": "e02_power_main"}
    assert "meter 'e02_power_main' is not a meter of e01" in _err(tmp_path, d)


def test_cli_fails_before_connecting(tmp_path):
    """A bad config is refused in one line, exit 1, and the device's port never sees a connection."""
    lsn = socket.socket()
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(8)
    lsn.settimeout(0.5)
    port = lsn.getsockname()[1]
    d = _cfg()
    d["devices"][0]["port"] = port
    d["devices"][1]["port"] = port
    d["devices"][1]["meters"] = {"energy_total": "e01_elec_main"}     # duplicate meter
    f = _write(tmp_path, d)
    for cmd in ("check", "run"):
        res = subprocess.run([sys.executable, "-c", "from ecm.cli.main import main; main()", "gateway", cmd,
                              "--config", str(f)],
                             capture_output=True, text=True, cwd=ROOT, timeout=60,
                             env={**__import__("os").environ, "GATEWAY_MQTT_PASSWORD": "x"})
        assert res.returncode == 1
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: gateway.yaml: duplicate meter 'e01_elec_main'")
    with pytest.raises(socket.timeout):
        lsn.accept()
    lsn.close()


# ------------------------------------------------------------------------------------------ codec
@pytest.mark.parametrize("typ,value,bo,wo,words", [
    ("u16", 0xBEEF, "big", "big", [0xBEEF]),
    ("i16", -2, "big", "big", [0xFFFE]),
    ("u32", 0x12345678, "big", "big", [0x1234, 0x5678]),
    ("u32", 0x12345678, "big", "little", [0x5678, 0x1234]),          # CDAB
    ("u32", 0x12345678, "little", "big", [0x3412, 0x7856]),          # BADC
    ("u32", 0x12345678, "little", "little", [0x7856, 0x3412]),       # DCBA
    ("i32", -1, "big", "big", [0xFFFF, 0xFFFF]),
    ("f32", 1.5, "big", "big", [0x3FC0, 0x0000]),                    # IEEE 754: 1.5 = 0x3FC00000
    ("f64", -2.0, "big", "big", [0xC000, 0, 0, 0]),
    ("bcd16", 1234, "big", "big", [0x1234]),
    ("bcd32", 12345678, "big", "little", [0x5678, 0x1234]),
    ("u64", 2**40 + 7, "big", "big", [0, 0x0100, 0, 7]),
])
def test_decode_types_and_orders(typ, value, bo, wo, words):
    assert decode(words, typ, bo, wo) == value
    assert encode(value, typ, bo, wo) == words


def test_decode_rejects_bad_values():
    with pytest.raises(DecodeError, match="invalid BCD byte 0x1A"):
        decode([0x1A00], "bcd16")
    with pytest.raises(DecodeError, match="not finite"):
        decode([0x7FC0, 0], "f32")                                   # NaN is never a reading
    with pytest.raises(DecodeError, match="needs 2 registers"):
        decode([1], "u32")
    assert to_bytes([0x0102, 0x0304], "little", "little") == bytes([4, 3, 2, 1])
    assert from_bytes(bytes([4, 3, 2, 1]), "little", "little") == [0x0102, 0x0304]
    assert physical(12345678, 0.01) == 123456.78
    assert physical(5, 0.1, -1.0) == -0.5


def test_example_config_and_compose_example_validate(tmp_path):
    site = load_config(ROOT / "gateway/deploy/gateway.example.yaml")
    assert [d.transport for d in site.cfg.devices] == ["modbus_tcp", "dlt645_tcp", "modbus_rtu_over_tcp", "opcua"]
    import shutil

    d = tmp_path / "deploy"
    shutil.copytree(ROOT / "gateway/deploy", d)
    (d / "gateway.yaml").write_text("")
    (d / "mqtt_password").write_text("x")
    res = subprocess.run(["docker-compose", "-f", str(d / "compose.gateway.yml"), "config"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "python" in res.stdout and "/etc/ecm-gateway/gateway.yaml" in res.stdout
    unit = (ROOT / "gateway/deploy/ecm-gateway.service").read_text()
    assert "ExecStart=/opt/ecm-gateway/venv/bin/python -m gateway --config" in unit and "KillSignal=SIGTERM" in unit


def test_mqtt_principal_and_client_id(tmp_path):
    assert load_config(_write(tmp_path, _cfg(mqtt={"username": "e01-gw2"}))).cfg.client_id == "e01-gw2"
    assert "mqtt.username 'e02' is not a gateway of e01" in _err(tmp_path, _cfg(mqtt={"username": "e02"}))
    assert "mqtt.client_id 'box1': the broker accepts only 'e01-gw' for user 'e01'" in _err(tmp_path, _cfg(mqtt={"client_id": "box1"}))
    assert load_config(_write(tmp_path, _cfg(mqtt={"client_id": "e01-gw"}))).cfg.client_id == "e01-gw"

"""Restore drill: back up a running deployment, destroy its state, restore, compare.

Everything goes through the ``ecm`` CLI in subprocesses, on a private state dir with its own
Mosquitto and InfluxDB (Debian packages, free loopback ports): three enterprises' raw readings
for two days of March 2023 (raw retention policy), daily and monthly KPIs (``ecm kpi backfill``),
the nightly report (``ecm report``), an Airflow SQLite metadata DB with a marker variable. After
``ecm backup create``, the state folder is deleted; ``ecm backup restore`` must bring back
identical ``kpi_monthly`` rows, byte-identical report files (SHA-256), the registry, secrets and
Airflow metadata, and the ingest bridge must land a new reading published with the restored
credentials.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.ops.helpers import readings_frames

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
ECM = str(Path(sys.executable).parent / "ecm")
AIRFLOW = str(Path(sys.executable).parent / "airflow")
FIRST, LAST = "2023-03-01", "2023-03-02"


def _env(state: Path) -> dict[str, str]:
    from ecm.services import free_port

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECM_", "AIRFLOW"))}
    env.update({
        "ECM_STATE_DIR": str(state), "ECM_MQTT_PORT": str(free_port()),
        "ECM_INFLUX_URL": f"http://127.0.0.1:{free_port()}", "ECM_INFLUX_DB": "drill",
        "ECM_REPORTS_DIR": str(state / "reports"), "ECM_DISTRICT_FILE": str(state / "district.yaml"),
        "ECM_INFLUX_RAW_RP": "raw", "ECM_INFLUX_RAW_RETENTION_DAYS": "3650",   # 2023 points accepted
        "ECM_INGEST_MAX_AGE_S": str(86400),
        "AIRFLOW_HOME": str(state / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{state / 'airflow' / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    })
    return env


def _ecm(env: dict, *args: str, timeout: int = 600) -> str:
    r = subprocess.run([ECM, *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"ecm {' '.join(args)}: {r.stdout[-1500:]} {r.stderr[-2500:]}"
    return r.stdout


def _client(env: dict):
    from ecm.influx import InfluxClient, InfluxConfig
    from ecm.secrets import load_secrets

    creds = load_secrets(Path(env["ECM_STATE_DIR"]))["influx"]["service"]
    return InfluxClient(InfluxConfig(url=env["ECM_INFLUX_URL"], db=env["ECM_INFLUX_DB"], user=creds["user"],
                                     password=creds["password"], raw_rp="raw", timeout_s=60))


def _tree_hashes(folder: Path) -> dict[str, str]:
    from ecm.backup import sha256_file

    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def _kpi_monthly(client) -> pd.DataFrame:
    return client.query_frame("SELECT * FROM kpi_monthly GROUP BY enterprise").sort_values(
        ["enterprise", "time"]).reset_index(drop=True)


def _airflow_marker(state: Path) -> list:
    with sqlite3.connect(state / "airflow" / "airflow.db") as con:
        return con.execute("SELECT key, val FROM variable WHERE key = 'ecm_drill'").fetchall()


def _publish_and_land(env: dict, state: Path) -> None:
    """Ingest resumes: a reading published now with the restored e01 password is stored."""
    from ecm.mqtt import gateway_client_id, make_client, reading_topic
    from ecm.secrets import load_secrets

    from ecm.stack import Bridge

    bridge = Bridge(env, log=state / "ingest-drill.log").start()
    try:
        bridge.wait_ready()
        ts = int(time.time() * 1000) // 60000 * 60000
        c = make_client(gateway_client_id("e01"), "e01", load_secrets(state)["mqtt"]["e01"])  # the id the broker binds to e01
        c.connect("127.0.0.1", int(env["ECM_MQTT_PORT"]))
        c.loop_start()
        c.publish(reading_topic("e01", "e01_elec_main"), json.dumps({"ts": ts, "values": {"energy_kwh": 4242.5}}),
                  qos=1).wait_for_publish(10)
        c.disconnect()
        c.loop_stop()
        client = _client(env)
        q = f"SELECT energy_kwh FROM {client.readings_from} WHERE meter = 'e01_elec_main' AND time = {ts}ms"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and client.query_frame(q).empty:
            time.sleep(0.3)
        assert client.query_frame(q)["energy_kwh"].tolist() == [4242.5]
    finally:
        bridge.stop()


def test_restore_drill(tmp_path):
    import sim_devices
    from ecm.registry import load_registry
    from ecm.settings import resource_dir
    from ecm.stats import MEASUREMENT, stats_to_frame
    from sim_devices.window import monthly_stats_frame

    state, bdir = tmp_path / "state", tmp_path / "backups" / "b1"
    state.mkdir()
    env = _env(state)
    doc = yaml.safe_load((resource_dir("config") / "district.yaml").read_text(encoding="utf-8"))
    doc["enterprises"] = doc["enterprises"][:3]
    (state / "district.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    reg = load_registry(state / "district.yaml")
    _ecm(env, "services", "start")
    try:
        # -- a deployment with data, KPIs, a report and Airflow metadata -------------------------
        client = _client(env)
        from datetime import date

        for _q, df in readings_frames(reg, date.fromisoformat(FIRST), date.fromisoformat(LAST),
                                      sim_devices.DEFAULT_SEED).items():
            client.write_frame(df, "readings", ["enterprise", "meter", "quantity"])
        client.write_frame(stats_to_frame(monthly_stats_frame(reg, "2023-02", "2023-03", sim_devices.DEFAULT_SEED)),
                           MEASUREMENT, ["enterprise"])
        _ecm(env, "kpi", "backfill", "--start", FIRST, "--end", LAST, "--gate", "history")
        out = _ecm(env, "report", "--date", LAST)
        assert out.startswith("new:"), out
        subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
        subprocess.run([AIRFLOW, "variables", "set", "ecm_drill", "kpi-2023-03"], env=env, check=True,
                       capture_output=True)
        marker_before = _airflow_marker(state)
        assert len(marker_before) == 1 and marker_before[0][1] != "kpi-2023-03"   # encrypted (fernet)
        kpi_before = _kpi_monthly(client)
        assert len(kpi_before) == 4 and kpi_before["energy_tce"].notna().sum() >= 3
        reports_before = _tree_hashes(state / "reports")
        assert any(k.endswith(".pdf") for k in reports_before) and len(reports_before) >= 5
        secrets_before = (state / "secrets.json").read_bytes()
        registry_before = (state / "district.yaml").read_bytes()
        n_raw = int(client.query_frame(f"SELECT count(energy_kwh) FROM {client.readings_from}")["count"].iloc[0])

        # -- backup, verify, and a corrupted copy refused ------------------------------------------
        out = _ecm(env, "backup", "create", str(bdir))
        manifest = json.loads((bdir / "manifest.json").read_text())
        assert manifest["parts"] == ["influx", "secrets", "registry", "airflow", "reports"], out
        assert set(manifest["files"]) >= {"secrets/secrets.json", "registry/district.yaml", "airflow/airflow.sqlite",
                                          "airflow/airflow.cfg"}
        assert {f"reports/{k}" for k in reports_before} <= set(manifest["files"])
        sums = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=bdir, capture_output=True, text=True)
        assert sums.returncode == 0, sums.stdout + sums.stderr
        assert "intact" in _ecm(env, "backup", "verify", str(bdir))
        bad = tmp_path / "backups" / "corrupt"
        shutil.copytree(bdir, bad)
        victim = bad / "registry" / "district.yaml"
        victim.write_bytes(victim.read_bytes().replace(b"e01", b"e0X", 1))
        r = subprocess.run([ECM, "backup", "restore", str(bad)], env=env, capture_output=True, text=True)
        assert r.returncode == 1 and r.stderr.strip().count("\n") == 0
        assert "(SHA-256 mismatch): registry/district.yaml" in r.stderr

        # -- disaster: every service down, the whole state folder gone ------------------------------
        _ecm(env, "services", "stop")
        shutil.rmtree(state)
        assert not state.exists()

        # -- restore -------------------------------------------------------------------------------
        out = _ecm(env, "backup", "restore", str(bdir))
        assert "restored secrets, registry, reports, airflow, influx" in out
        assert (state / "secrets.json").read_bytes() == secrets_before
        assert (state / "district.yaml").read_bytes() == registry_before
        assert _airflow_marker(state) == marker_before
        r = subprocess.run([AIRFLOW, "variables", "get", "ecm_drill"], env=env, capture_output=True, text=True)
        assert r.stdout.strip() == "kpi-2023-03", r.stderr[-1000:]   # decryptable: the fernet key came back
        client = _client(env)
        pd.testing.assert_frame_equal(_kpi_monthly(client), kpi_before)
        assert int(client.query_frame(f"SELECT count(energy_kwh) FROM {client.readings_from}")["count"].iloc[0]) == n_raw
        assert _tree_hashes(state / "reports") == reports_before
        # the restored retention policies, and a re-run of the report finds nothing changed
        rps = client.query_frame("SHOW RETENTION POLICIES ON drill").set_index("name")
        assert {"autogen", "raw"} <= set(rps.index)
        assert _ecm(env, "report", "--date", LAST).startswith("unchanged:")
        assert _tree_hashes(state / "reports") == reports_before

        # -- ingest resumes with the restored credentials ------------------------------------------
        _publish_and_land(env, state)
    finally:
        subprocess.run([ECM, "services", "stop"], env=env, capture_output=True)

"""Quiet, clear output: an unreachable InfluxDB is one stderr line; third-party INFO logs stay off."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ECM = [sys.executable, "-c", "from ecm.cli.main import main; main()"]


def _env(state: Path, url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECM_")}
    env.update(ECM_STATE_DIR=str(state), ECM_INFLUX_URL=url, ECM_INFLUX_DB="ecm_test", PYTHONPATH=str(ROOT))
    return env


def test_stopped_influxdb_gives_one_stderr_line_and_exit_1(tmp_path):
    from ecm.services import InfluxService, free_port

    url = f"http://127.0.0.1:{free_port()}"
    ix = InfluxService(tmp_path, url, "ecm_test", ["e01"])
    ix.start()
    env = _env(tmp_path, url)
    up = subprocess.run(ECM + ["query", "SHOW DATABASES"], env=env, capture_output=True, text=True, timeout=120)
    assert up.returncode == 0 and "ecm_test" in up.stdout, up.stderr
    ix.stop()

    res = subprocess.run(ECM + ["query", "SHOW DATABASES"], env=env, capture_output=True, text=True, timeout=120)
    lines = res.stderr.splitlines()
    assert res.returncode == 1
    assert len(lines) == 1, res.stderr
    line = lines[0]
    # what failed, where, and the next command; no credentials, no retry JSON
    assert line.startswith("error: cannot reach InfluxDB at " + url), line
    assert "connection refused" in line and "ecm services start" in line
    assert "&p=" not in line and "influx_retry" not in line and len(line) < 200
    assert res.stdout == ""


def test_influx_info_level_shows_ours_only(tmp_path):
    """ECM_LOG_LEVEL=INFO shows ecm's retry lines, and no third-party INFO line."""
    env = _env(tmp_path, "http://127.0.0.1:1")
    env["ECM_LOG_LEVEL"] = "INFO"
    res = subprocess.run(ECM + ["query", "SHOW DATABASES"], env=env, capture_output=True, text=True, timeout=120)
    lines = res.stderr.splitlines()
    assert res.returncode == 1
    assert lines[-1].startswith("error: cannot reach InfluxDB")
    retries = [ln for ln in lines[:-1] if '"event": "influx_retry"' in ln]
    assert len(retries) == len(lines) - 1 >= 1
    assert all('"logger": "ecm.influx"' in ln for ln in retries)


def test_great_expectations_import_noise_is_silenced():
    """GX logs "Skipping registering function ..." at INFO on import; a root logger at INFO (as in an
    Airflow task) must not receive them once ecm is imported."""
    code = ("import logging, sys; logging.basicConfig(level=logging.INFO, stream=sys.stderr);"
            "import ecm.quality, great_expectations; print('ok')")
    res = subprocess.run([sys.executable, "-c", code], env=_env(Path("/tmp"), "http://127.0.0.1:1"),
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "Skipping registering function" not in res.stderr
    assert not [ln for ln in res.stderr.splitlines() if ln.startswith("INFO:great_expectations")]

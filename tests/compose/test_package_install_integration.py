"""Compose smoke test without Docker: the image's install step, then its Airflow parse and a DAG run.

The project is installed the way the Dockerfile does it (a wheel build of this checkout, here with
``pip install --no-deps --target``: the dependencies are this venv's). A subprocess that sees only
that install (cwd elsewhere, PYTHONPATH = the target) must find config, suites and templates as
package data, parse the installed DAG folder with Airflow's DagBag without import errors, and run
``ecm_hourly_rollup`` with ``dag.test()`` against the real InfluxDB, under the compose file's own
Airflow settings (DAGs unpaused at creation).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "ecm", "ingest", "sim_devices",
           "config", "expectations", "dags")   # what the Dockerfile COPYs


def _compose_airflow_env() -> dict[str, str]:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    return {k: str(v) for k, v in doc["services"]["airflow-scheduler"]["environment"].items()
            if k.startswith("AIRFLOW__CORE__DAGS_ARE_PAUSED")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    src, target = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("site-packages")
    for name in SOURCES:
        p = ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(p, src / name)
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(src)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    return target


def test_install_carries_every_module_and_the_package_data(installed):
    for pkg in ("ecm", "ingest", "sim_devices"):
        want = {p.relative_to(ROOT) for p in (ROOT / pkg).rglob("*.py")}
        got = {p.relative_to(installed) for p in (installed / pkg).rglob("*.py")}
        assert want <= got, f"not installed: {sorted(map(str, want - got))[:5]}"
    data = installed / "ecm" / "_data"
    assert {p.name for p in (data / "config").iterdir()} == {p.name for p in (ROOT / "config").glob("*.yaml")}
    assert {p.name for p in (data / "expectations").glob("*.json")} == {p.name for p in (ROOT / "expectations").glob("*.json")}
    assert {p.name for p in (data / "dags").glob("*.py")} == {p.name for p in (ROOT / "dags").glob("*.py")}
    assert (data / "config" / "factors.yaml").read_bytes() == (ROOT / "config" / "factors.yaml").read_bytes()


def test_installed_package_parses_its_dags_and_runs_one(installed, stack, tmp_path):
    home = tmp_path / "airflow-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "ECM_DISTRICT", "ECM_FACTORS")) and k != "PYTHONPATH"}
    env.update({
        "PYTHONPATH": str(installed),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(installed / "ecm" / "_data" / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        **_compose_airflow_env(),
    })
    airflow = str(Path(sys.executable).parent / "airflow")
    r = subprocess.run([airflow, "db", "migrate"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    # one meter's register over an hour no other test touches: 15-min readings, +10 kWh each
    import pandas as pd

    hour = "2019-06-01T02:00:00+00:00"
    t0 = pd.Timestamp(hour)
    times = [t0 + pd.Timedelta(minutes=15 * i) for i in range(-1, 5)]
    client = stack.client()
    client.write_frame(pd.DataFrame({"time": times, "enterprise": "e01", "meter": "e01_elec_main",
                                     "quantity": "energy_kwh", "energy_kwh": [1000.0 + 10 * i for i in range(6)]}),
                       "readings", ["enterprise", "meter", "quantity"])
    r = subprocess.run([sys.executable, str(Path(__file__).with_name("installed_smoke.py")), str(installed), hour],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("SMOKE ")), None)
    assert r.returncode == 0 and line, (r.stdout[-2000:], r.stderr[-3000:])
    out = json.loads(line[len("SMOKE "):])
    inst = str(installed.resolve())
    assert out["ecm_file"].startswith(inst)
    assert all(p.startswith(inst + "/ecm/_data/") for p in out["resources"].values())
    assert out["district_path"].startswith(inst) and out["factors_path"].startswith(inst)
    assert {"readings_daily", "aggregates_daily", "stats_monthly"} <= set(out["suites"])
    assert out["enterprises"] >= 1 and out["factor_table_version"]
    assert {"district.html", "enterprise.html", "style.css"} <= set(out["templates"])
    assert out["import_errors"] == {}
    assert out["dags"] == sorted(p.stem for p in (ROOT / "dags").glob("ecm_*.py"))  # every DAG of the repo
    assert all(f.startswith(inst) for f in out["dag_files"])
    assert out["run_state"].endswith("success"), out
    assert out["is_paused"] is False   # the compose setting, not a DAG-file flag
    row = client.query_frame(f"SELECT energy_kwh, n_intervals FROM meter_hourly WHERE time = '{hour}' "
                             "AND meter = 'e01_elec_main'")
    assert row["energy_kwh"].tolist() == [40.0] and row["n_intervals"].tolist() == [4]

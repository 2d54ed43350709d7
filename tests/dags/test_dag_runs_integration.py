"""`dag.test()` of each DAG on a temporary SQLite metadata DB against the seeded real InfluxDB.

Re-running a day gives identical results; a late reading changes exactly the affected day.
"""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.integration
DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def airflow_db():
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True, env=dict(os.environ))


def _dag(dag_id):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS)).dags[dag_id]


def _run(dag_id: str, conf: dict):
    from airflow.utils.state import DagRunState

    dr = _dag(dag_id).test(run_conf=conf)
    assert dr.state == DagRunState.SUCCESS, f"{dag_id} {conf}: {dr.state}"
    return dr


def _day_points(client, measurement: str, first, last) -> pd.DataFrame:
    from ecm.periods import day_bounds_utc

    s, _ = day_bounds_utc(first)
    _, e = day_bounds_utc(last)
    df = client.query_frame(f"SELECT * FROM {measurement} WHERE time >= '{s.isoformat()}' AND time < '{e.isoformat()}'")
    return df.sort_values([c for c in df.columns if c != "time"][:3] + ["time"]).reset_index(drop=True)


def test_hourly_rollup_dag(seeded, airflow_db):
    client = seeded.stack.client()
    hour = "2024-03-02T02:00:00+00:00"  # 10:00 Beijing
    _run("ecm_hourly_rollup", {"hour": hour})
    df = client.query_frame(f"SELECT * FROM meter_hourly WHERE time = '{hour}'")
    from ecm.registry import get_registry

    meters = get_registry().meters_frame()
    counters = df[df["n_intervals"].notna()]
    assert set(counters["meter"]) == set(meters.index[meters["kind"] == "counter"])
    assert (counters["completeness_frac"] == 1.0).all()
    # every registry meter (gauges too) carries the hour's quality metrics: 3600 / interval_s readings
    quality = df[df["n_received"].notna()].set_index("meter")
    assert set(quality.index) >= set(meters.index)
    expected = (3600 / meters["interval_s"]).round().astype(int)
    assert (quality.loc[list(meters.index), "n_received"].astype(int) == expected.loc[list(meters.index)]).all()


def test_daily_kpis_dag_is_idempotent(seeded, airflow_db):
    client = seeded.stack.client()
    day = seeded.recent[1]
    before = _day_points(client, "kpi_daily", day, day)
    _run("ecm_daily_kpis", {"day": day.isoformat()})
    first = _day_points(client, "kpi_daily", day, day)
    _run("ecm_daily_kpis", {"day": day.isoformat()})
    second = _day_points(client, "kpi_daily", day, day)
    pd.testing.assert_frame_equal(first, second)
    pd.testing.assert_frame_equal(before[first.columns], first)  # the DAG equals the library run
    assert len(first) == 20 and (first["data_status"] == "ok").all()


def test_monthly_compliance_dag_then_the_report_dag(seeded, airflow_db):
    """The monthly run writes the month; the report DAG (triggered by its asset) only reads it."""
    from ecm.settings import get_settings

    client = seeded.stack.client()
    day = seeded.recent[1].isoformat()
    _run("ecm_monthly_compliance", {"day": day})
    km = client.query_frame("SELECT status, path_index FROM kpi_monthly WHERE time = '2024-02-29T16:00:00Z' GROUP BY enterprise")
    assert len(km) == 21
    assert set(km["status"]) <= {"green", "yellow", "red", "data_insufficient"}
    assert km["path_index"].iloc[0] == pytest.approx(0.87 ** (2 / 5), rel=1e-9)
    _run("ecm_nightly_report", {"day": day})
    after = client.query_frame("SELECT status, path_index FROM kpi_monthly WHERE time = '2024-02-29T16:00:00Z' "
                               "GROUP BY enterprise")
    pd.testing.assert_frame_equal(km, after)  # the report rewrote nothing
    report = get_settings().reports_path / day
    assert (report / "district.pdf").exists() and (report / "manifest.json").exists()


def _ecm(*args, **env):
    return subprocess.run([str(Path(sys.executable).parent / "ecm"), *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=600)


def test_ecm_dag_test_runs_a_base_year_day_and_fails_when_no_task_ran(seeded, airflow_db):
    """DAGs start on 2022-01-01 (catchup off), so the base year can be run day by day; a day before
    that runs no task, which `ecm dag test` reports as a failure."""
    from datetime import date

    from ecm.pipeline.daily import run_days

    client = seeded.stack.client()
    day = date(2022, 3, 1)
    try:
        res = _ecm("dag", "test", "ecm_daily_kpis", "--date", day.isoformat())
        assert res.returncode == 0 and "success" in res.stdout, res.stdout + res.stderr
        kd = _day_points(client, "kpi_daily", day, day)
        # the day's raw readings are daily registers: the interval gate withholds every enterprise
        assert len(kd) == 20 and (kd["data_status"] == "data_insufficient").all()
    finally:  # the seeded base year is imported at daily resolution: restore it as the seed did,
        # without the DAG's gate results and hourly rollups of that day (later tests compare the
        # base year, and a stored failed gate would withhold the day there)
        from ecm.periods import day_bounds_utc

        d0, d1 = day_bounds_utc(day)
        for measurement in ("dq_result", "meter_hourly"):
            client.delete_range(measurement, d0, d1)
        run_days([day], client=client, gate="history")
    res = _ecm("dag", "test", "ecm_daily_kpis", "--date", "2021-12-30")
    assert res.returncode == 1 and "executed no task" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_ecm_dag_test_fails_fast_when_influxdb_is_down(airflow_db):
    import time

    from ecm.services import free_port

    t0 = time.monotonic()
    res = _ecm("dag", "test", "ecm_daily_kpis", "--date", "2024-03-01",
               ECM_INFLUX_URL=f"http://127.0.0.1:{free_port()}")
    assert res.returncode == 1 and "not reachable" in res.stderr
    assert time.monotonic() - t0 < 60


def test_late_reading_recomputes_exactly_the_affected_day(seeded, airflow_db):
    """A corrected reading for an earlier day arrives late: the next nightly run recomputes that
    day (and only that day) and the earlier day's KPIs change."""
    from ecm.influx import time_literal
    from ecm.periods import day_bounds_utc

    client = seeded.stack.client()
    r0, r1 = seeded.recent
    late_day, run_day = r0 + timedelta(days=1), r1
    snap = {d: _day_points(client, "kpi_daily", d, d) for d in (r0, late_day, r1 - timedelta(days=1))}
    # a meter correction: e03's main electricity registers from 12:00 on late_day onwards are
    # re-sent late, each +500 kWh (so only the 11:45-12:00 interval of late_day grows)
    start, _ = day_bounds_utc(late_day)
    t = start + pd.Timedelta(hours=12)
    cur = client.query_frame(f"SELECT energy_kwh FROM readings WHERE meter = 'e03_elec_main' AND time >= {time_literal(t)}")
    # received at 02:00 on the run's day: after the previous nightly run (01:00) had computed late_day
    received = int(pd.Timestamp(day_bounds_utc(run_day)[0]).value // 1_000_000) + 2 * 3_600_000
    lines = [f"readings,enterprise=e03,meter=e03_elec_main,quantity=energy_kwh energy_kwh={v + 500.0},"
             f"received_ms={received}i {int(ts.value // 1_000_000)}" for ts, v in zip(cur["time"], cur["energy_kwh"])]
    client.write_lines(lines)
    _run("ecm_daily_kpis", {"day": run_day.isoformat()})
    after = {d: _day_points(client, "kpi_daily", d, d) for d in snap}
    pd.testing.assert_frame_equal(snap[r0], after[r0])
    pd.testing.assert_frame_equal(snap[r1 - timedelta(days=1)], after[r1 - timedelta(days=1)])
    changed = after[late_day].set_index("enterprise")["energy_tce"] - snap[late_day].set_index("enterprise")["energy_tce"]
    # +500 kWh at 当量值 0.1229 kgce/kWh = +0.06145 tce, on e03 only
    assert changed["e03"] == pytest.approx(0.06145, rel=1e-6)
    assert (changed.drop("e03").abs() < 1e-12).all()

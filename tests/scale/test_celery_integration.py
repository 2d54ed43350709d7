"""The daily DAG on two Celery workers writes exactly the rows of the single-process run.

A 200-enterprise district (the default 20 and 180 simulator clones, 860 meters at their own
intervals) has one Beijing day of raw readings in a real InfluxDB. ``ecm_daily_kpis`` runs for
that day twice: first in one process, then — after every measurement that run wrote is dropped —
as a triggered run on the CeleryExecutor with Redis and two ``airflow celery worker`` processes. Every row of every
measurement the runs wrote (``meter_hourly``, ``energy_daily``, ``line_daily``, ``kpi_daily``,
``dq_result``) must be identical, and each worker must have executed task instances of the run
(the quality gate is mapped over 4 chunks of 50 enterprises). The single-process run calls the
DAG's task functions in order in the test's own process (what ``dag.test()`` would run, without
its in-process execution API, which costs minutes on a loaded 2-core machine).

The readings are written directly with the project's InfluxDB client, as the bridge stores them
(``received_ms`` 1.5 s after the reading): this test is about the executor, not ingest, and both
runs read the same stored day.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

DAY = date(2024, 3, 1)
N_ENTERPRISES = 200
DAG_ID = "ecm_daily_kpis"
SEED = 3


def _registry(root: Path):
    import yaml

    import sim_devices
    from ecm.registry import load_registry
    from ecm.settings import resource_dir

    base = yaml.safe_load((resource_dir("config") / "district.yaml").read_text(encoding="utf-8"))
    path = root / "district.yaml"
    path.write_text(yaml.safe_dump(sim_devices.scaled_registry(base, N_ENTERPRISES), allow_unicode=True),
                    encoding="utf-8")
    return path, load_registry(path)


def _seed(client, registry) -> int:
    """The simulator's readings of every meter (counters and gauges, at each meter's own interval)
    from the last hour before DAY (carry-in) to the midnight closing DAY, as the bridge writes them."""
    from sim_devices.calendar import DAY_S, day_index
    from sim_devices.publisher import rows_between
    from sim_devices.window import build_window, monthly_stats_frame, sim_s_to_ms

    from ecm.schema import MEAS_READINGS
    from ecm.stats import MEASUREMENT, stats_to_frame

    t_lo, t_hi = day_index(DAY) * DAY_S - 3600, (day_index(DAY) + 1) * DAY_S + 1  # an hour of carry-in
    meters = registry.meters_frame()
    n = 0
    for w in build_window(registry, DAY - timedelta(days=1), DAY, SEED):
        rows = rows_between(w.tracks, t_lo, t_hi, None)
        ids = [t.meter.id for t in w.tracks]
        ms = sim_s_to_ms(rows.ts)
        df = pd.DataFrame({"time": pd.to_datetime(ms, unit="ms", utc=True), "meter": [ids[i] for i in rows.meter],
                           "value": rows.value, "received_ms": (ms + 1500).astype("int64")})
        df = df.merge(meters[["enterprise", "quantity"]], left_on="meter", right_index=True)
        for q, g in df.groupby("quantity"):
            n += client.write_frame(g.rename(columns={"value": q})[["time", "enterprise", "meter", "quantity", q,
                                                                    "received_ms"]],
                                    MEAS_READINGS, ["enterprise", "meter", "quantity"])
    stats = monthly_stats_frame(registry, f"{DAY.year}-01", f"{DAY:%Y-%m}", SEED)
    client.write_frame(stats_to_frame(stats), MEASUREMENT, ["enterprise"])
    return n


def _written(client, keep: set[str]) -> dict[str, pd.DataFrame]:
    """Every row of every measurement except ``keep`` (the seeded inputs), sorted on all columns."""
    names = client.query_frame("SHOW MEASUREMENTS")
    out = {}
    for m in sorted(set(names["name"]) - keep):
        df = client.query_frame(f'SELECT * FROM "{m}"')
        df = df.reindex(sorted(df.columns), axis=1)
        out[m] = df.sort_values(list(df.columns)).reset_index(drop=True)
    return out


def _drop(admin, names) -> None:
    for m in names:
        admin.execute(f'DROP MEASUREMENT "{m}"')


def _single_process_run(day: str) -> None:
    """What ``ecm_daily_kpis`` runs for ``day``, task by task, in one process: the same library
    calls (dags/ecm_daily_kpis.py), the mapped quality gate chunk after chunk, then the KPIs of
    the whole district in one call (chunks write the same rows: test_daily_chunks_integration)."""
    from ecm.pipeline.daily import compute_daily_kpis, enterprise_chunks, merge_gates, run_quality_gate
    from ecm.pipeline.hourly import ensure_days_rolled_up
    from ecm.pipeline.late import find_late_day_hours, find_late_days

    days = sorted({day, *find_late_days(day)})
    ensure_days_rolled_up(days, find_late_day_hours(day))
    gates = [run_quality_gate(days, chunk) for chunk in enterprise_chunks()]
    compute_daily_kpis(days, merge_gates(gates))


@contextmanager
def _settings_of(stack, **extra):
    """This process's ``ecm.settings`` pointed at ``stack`` for the block, then restored (the
    session's other tests keep their own stack)."""
    from ecm.settings import reset_settings_cache

    saved = {k: v for k, v in os.environ.items() if k.startswith("ECM_")}
    stack.activate(clean=True, **extra)
    try:
        yield
    finally:
        for k in [k for k in os.environ if k.startswith("ECM_")]:
            del os.environ[k]
        os.environ.update(saved)
        reset_settings_cache()


def test_daily_dag_on_two_celery_workers_writes_the_single_process_rows():
    from ecm.periods import day_bounds_utc
    from ecm.schema import MEAS_READINGS
    from ecm.stack import Stack
    from ecm.stats import MEASUREMENT as STATS
    from tests.scale.cluster import CeleryCluster

    t_start = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="ecm-scale-"))
    os.chmod(root, 0o711)  # PostgreSQL runs as the `postgres` user when the test runs as root
    stack = cluster = None
    try:
        reg_file, reg = _registry(root)
        assert len(reg.enterprise_ids) == N_ENTERPRISES
        stack = Stack.ephemeral(state_dir=root / "state", db="ecm_scale", district_file=reg_file,
                                enterprise_ids=reg.enterprise_ids)
        stack.start()
        reports = str(root / "reports")
        cluster = CeleryCluster(root, stack.env(clean=True, ECM_REPORTS_DIR=reports))
        cluster.start_servers()
        cluster.spawn("db-migrate", "db", "migrate")  # the metadata DB, while this process seeds
        client, admin = stack.client(timeout_s=120), stack.client("admin", timeout_s=120)
        n_points = _seed(client, reg)
        print(f"seeded {n_points} at {time.monotonic() - t_start:.1f} s", flush=True)

        cluster.join("db-migrate")
        t_migrated = time.monotonic()
        # the cluster boots while this process computes; every DAG stays paused till the trigger
        cluster.spawn("reserialize", "dags", "reserialize")
        cluster.start_airflow()

        # 1. the single-process run: the DAG's task functions in order, in this process
        t0 = time.monotonic()
        with _settings_of(stack, ECM_REPORTS_DIR=reports):
            _single_process_run(DAY.isoformat())
        single_s = time.monotonic() - t0
        t_single = time.monotonic()
        single = _written(client, {MEAS_READINGS, STATS})
        assert {"meter_hourly", "energy_daily", "kpi_daily", "dq_result"} <= set(single)
        day_rows = single["kpi_daily"][single["kpi_daily"]["time"] == pd.Timestamp(day_bounds_utc(DAY)[0])]
        assert len(day_rows) == N_ENTERPRISES
        print(f"single-process run {single_s:.1f} s, at {time.monotonic() - t_start:.1f} s", flush=True)
        _drop(admin, single)  # the Celery run starts from the seeded readings alone
        print(f"dropped at {time.monotonic() - t_start:.1f} s", flush=True)
        assert _written(client, {MEAS_READINGS, STATS}) == {}

        # 2. the same day on the CeleryExecutor: api-server, scheduler, two workers
        run_id = f"celery__{DAY}"
        cluster.join("reserialize")
        cluster.wait_ready()
        t_ready = time.monotonic()
        cluster.airflow_steps("trigger", ["dags", "unpause", DAG_ID],
                              ["dags", "trigger", DAG_ID, "--run-id", run_id, "-c", json.dumps({"day": DAY.isoformat()})])
        state = cluster.wait_run(DAG_ID, run_id)
        celery_s = time.monotonic() - t_ready
        tis = cluster.task_instances(DAG_ID, run_id)
        assert state == "success", f"{tis}\n{cluster.tails()}"
        assert all(t["state"] == "success" for t in tis), tis
        gates = [t for t in tis if t["task_id"] == "quality_gate"]
        assert sorted(t["map_index"] for t in gates) == [0, 1, 2, 3]  # 200 enterprises / 50 a chunk

        celery = _written(client, {MEAS_READINGS, STATS})
        assert sorted(celery) == sorted(single)
        for m in single:
            if celery[m].shape != single[m].shape:
                by = [c for c in ("suite", "period", "expectation") if c in single[m]]
                raise AssertionError(f"{m}: {celery[m].shape} rows on Celery, {single[m].shape} single-process\n"
                                     f"{celery[m].groupby(by[:2]).size()}\n{single[m].groupby(by[:2]).size()}")
            pd.testing.assert_frame_equal(celery[m], single[m], check_exact=True, obj=m)

        # both workers executed task instances of this run, and every one was executed by exactly one
        by_worker = cluster.workloads_by_worker()
        ti_ids = {t["id"] for t in tis}
        ran = {w: ids & ti_ids for w, ids in by_worker.items()}
        assert all(ran.values()), f"a worker ran no task: {ran}\n{cluster.tails()}"
        assert set().union(*ran.values()) == ti_ids and sum(map(len, ran.values())) == len(ti_ids), ran
        print(f"\ncelery scale test: {n_points} readings, {len(tis)} task instances "
              f"({', '.join(f'{w}: {len(v)}' for w, v in ran.items())}); single-process run {single_s:.1f} s, "
              f"Celery run {celery_s:.1f} s (trigger to success); seeded and compared by {t_single - t_start:.1f} s, "
              f"migrated by {t_migrated - t_start:.1f} s, cluster ready by {t_ready - t_start:.1f} s, "
              f"total {time.monotonic() - t_start:.1f} s")
    finally:
        if cluster:
            cluster.stop()
        if stack:
            stack.stop()
        shutil.rmtree(root, ignore_errors=True)  # holds the generated passwords; logs were shown on failure

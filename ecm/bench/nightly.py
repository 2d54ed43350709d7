"""``ecm bench nightly``: the nightly accounting run at district scale, on throwaway servers.

Seeds one Beijing day of N enterprises × M meters at 1-minute resolution through the real path
(simulator → MQTT → ingest → InfluxDB), then (1) rolls the day's 24 hours up as the hourly DAG
does through the day (the only pass over raw readings; per-hour time and peak memory), and (2)
runs the nightly DAGs (``ecm_daily_kpis``, ``ecm_monthly_compliance``, ``ecm_nightly_report``)
with ``airflow dags test``, every task, and prints each task's time (from the metadata DB) and the
peak RSS of each ``airflow dags test`` process tree (sampled every 0.1 s).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from ecm.bench import RssSampler, host_info
from ecm.errors import EcmError

ROLLUP_CHILD = r"""
import json, sys, time
import pandas as pd
from ecm.periods import day_bounds_utc
from datetime import date
from ecm.pipeline.hourly import rollup_hours
start, _ = day_bounds_utc(date.fromisoformat(sys.argv[1]))
per_hour = []
for i in range(24):
    t = time.perf_counter(); rollup_hours([(start + pd.Timedelta(hours=i)).isoformat()])
    per_hour.append(time.perf_counter() - t)
peak = 0.0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        peak = int(line.split()[1]) / 1024
print(json.dumps({"rollup_hour_s": per_hour, "rollup_peak_rss_mb": peak}))
"""

NIGHTLY_DAGS = ("ecm_daily_kpis", "ecm_monthly_compliance", "ecm_nightly_report")


def _dag_test(env: dict, dag_id: str, day: str) -> dict:
    """``airflow dags test`` of one DAG for ``day`` in a child; its wall time, its peak RSS
    (its process tree, sampled) and each task's duration from the metadata DB."""
    import sqlite3

    exe = os.path.join(os.path.dirname(sys.executable), "airflow")
    t0 = time.perf_counter()
    proc = subprocess.Popen([exe, "dags", "test", dag_id, f"{day}T12:00:00+08:00", "-c", json.dumps({"day": day})],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rss = RssSampler(proc.pid, interval_s=0.1).start()
    out, _ = proc.communicate()
    peak = rss.stop()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise EcmError(f"DAG {dag_id} failed in the benchmark (exit {proc.returncode})", hint=out[-3000:])
    url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
    with sqlite3.connect(url) as db:
        run = db.execute("SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)).fetchone()[0]
        rows = db.execute("SELECT task_id, map_index, state, duration FROM task_instance WHERE dag_id = ? AND run_id = ?",
                          (dag_id, run)).fetchall()
    bad = [r for r in rows if r[2] != "success"]
    if bad or not rows:
        raise EcmError(f"DAG {dag_id}: tasks not successful in the benchmark: {bad or 'none ran'}", hint=out[-3000:])
    tasks: dict[str, float] = {}
    for task_id, _mi, _st, dur in rows:
        tasks[task_id] = round(tasks.get(task_id, 0.0) + float(dur or 0.0), 2)
    return {"wall_s": round(wall, 1), "tasks_s": tasks, "peak_rss_mb": round(peak)}


def run_nightly(n_ent: int = 200, n_meters: int = 25, day: str = "2026-03-10", interval_s: int = 60,
                echo=print) -> dict:
    """Seed one day of ``n_ent`` × ``n_meters`` at ``interval_s``, run the nightly work in a child,
    return its figures. Servers and the temp dir (with its secrets) are removed at the end."""
    import shutil

    import yaml

    import sim_devices
    from ecm.influx import InfluxClient
    from ecm.periods import day_bounds_utc
    from ecm.registry import load_registry
    from ecm.settings import resource_dir
    from ecm.stack import Stack, wait_landed

    tmp = Path(tempfile.mkdtemp(prefix="ecm-bench-nightly-"))
    base = yaml.safe_load((resource_dir("config") / "district.yaml").read_text(encoding="utf-8"))
    reg_file = tmp / "district.yaml"
    scaled = sim_devices.scaled_registry(base, n_ent, n_meters)
    for e in scaled["enterprises"]:  # every meter reports at the benchmark interval
        for m in e["meters"]:
            m["interval_s"] = interval_s
    reg_file.write_text(yaml.safe_dump(scaled, allow_unicode=True))
    reg = load_registry(reg_file)
    stack = Stack.ephemeral(state_dir=tmp / "state", db="bench", district_file=reg_file,
                            enterprise_ids=reg.enterprise_ids)
    stack.activate(clean=True, ECM_REPORTS_DIR=str(tmp / "reports"))
    d = date.fromisoformat(day)
    n_meters_total = len(reg.meters_frame())
    try:
        stack.start()
        mq_port = stack.mqtt_port
        bridge = stack.bridge(log=tmp / "ingest.log", ECM_INGEST_MAX_AGE_S=str(20 * 365 * 86400))
        rss = RssSampler(bridge.proc.pid).start()
        echo(f"seeding {n_ent} enterprises × {n_meters_total // n_ent} meters at {interval_s} s for {day} "
             "(simulator → MQTT → ingest → InfluxDB)")
        t0 = time.perf_counter()
        res = sim_devices.backfill(reg, d, d, seed=1, interval_s=interval_s, host="127.0.0.1", port=mq_port,
                                   state_dir=tmp / "state", publish_stats=False)
        landed = wait_landed(InfluxClient.from_settings(), day_bounds_utc(d)[0], res["readings"], timeout_s=1800)
        seed_s = time.perf_counter() - t0
        bridge.stop(120)
        bridge_peak_mb = rss.stop()
        from ecm.stats import MEASUREMENT, stats_to_frame

        stats = sim_devices.monthly_stats_frame(reg, f"{d.year}-01", f"{d:%Y-%m}", 1)
        InfluxClient.from_settings().write_frame(stats_to_frame(stats), MEASUREMENT, ["enterprise"])
        echo(f"seeded {landed:,} readings in {seed_s:.1f} s ({landed / seed_s:,.0f} readings/s end to end); "
             f"bridge peak RSS {bridge_peak_mb:.0f} MB (target ≤ 300 MB)")
        # 1. the hourly rollups, as the hourly DAG runs them through the day (the only raw pass)
        t0 = time.perf_counter()
        child = subprocess.run([sys.executable, "-c", ROLLUP_CHILD, day], capture_output=True, text=True,
                               env=dict(os.environ))
        if child.returncode != 0:
            raise EcmError("hourly rollups failed in the benchmark", hint=child.stderr[-3000:])
        roll = json.loads(child.stdout.strip().splitlines()[-1])
        out = {"rollup_total_s": round(time.perf_counter() - t0, 1),
               "rollup_max_hour_s": round(max(roll["rollup_hour_s"]), 2),
               "rollup_peak_rss_mb": round(roll["rollup_peak_rss_mb"])}
        echo(f"hourly rollups: 24 hours in {out['rollup_total_s']:.1f} s (slowest hour "
             f"{out['rollup_max_hour_s']:.1f} s; runs spread over the day), peak RSS {out['rollup_peak_rss_mb']} MB")
        # 2. the nightly DAGs through `airflow dags test`, every task, the report included
        from ecm.cli.dag import airflow_env, ensure_airflow_db

        env = airflow_env()
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parents[2] / "dags") \
            if (Path(__file__).resolve().parents[2] / "dags").is_dir() else env["AIRFLOW__CORE__DAGS_FOLDER"]
        ensure_airflow_db(env)
        nightly_wall, tasks, peak = 0.0, {}, 0.0
        for dag_id in NIGHTLY_DAGS:
            r = _dag_test(env, dag_id, day)
            nightly_wall += r["wall_s"]
            peak = max(peak, r["peak_rss_mb"])
            tasks.update({f"{dag_id}.{k}": v for k, v in r["tasks_s"].items()})
            echo(f"  {dag_id}: {r['wall_s']:.1f} s wall, peak RSS {r['peak_rss_mb']} MB; tasks {r['tasks_s']}")
        from ecm.schema import MEAS_DQ_RESULT

        dq = InfluxClient.from_settings().query_frame(
            f"SELECT count(success) AS n FROM {MEAS_DQ_RESULT} WHERE success = 0 GROUP BY expectation")
        out.update({"nightly_wall_s": round(nightly_wall, 1), "tasks_s": tasks,
                    "quality_gate_s": tasks.get("ecm_daily_kpis.quality_gate", 0.0),
                    "daily_kpis_s": tasks.get("ecm_daily_kpis.compute_kpis", 0.0),
                    "nightly_rollup_task_s": tasks.get("ecm_daily_kpis.rollup_hours", 0.0),
                    "peak_rss_mb": round(peak),
                    "failed_expectations": dict(zip(dq["expectation"], dq["n"])) if len(dq) else {},
                    "readings": landed, "enterprises": n_ent, "meters": n_meters_total,
                    "seed_s": round(seed_s, 1), "bridge_peak_rss_mb": round(bridge_peak_mb), **host_info()})
        echo(f"nightly run (dag.test of {', '.join(NIGHTLY_DAGS)}): {nightly_wall:.1f} s wall (quality gate "
             f"{out['quality_gate_s']:.1f} s, daily KPIs {out['daily_kpis_s']:.1f} s); peak RSS of the airflow process tree "
             f"{peak:.0f} MB; targets ≤ 60 s, ≤ 1024 MB")
        return out
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)

"""``ecm bench nightly``: the nightly accounting run at district scale, on throwaway servers.

Seeds one Beijing day of N enterprises × M meters at 1-minute resolution through the real path
(simulator → MQTT → ingest → InfluxDB; ``--seed direct`` writes the same readings straight to
InfluxDB, for city-scale days; ``--seed hourly`` computes the day's ``meter_hourly`` in-process with
the hourly rollup's own functions and writes raw readings only for the last two hours, which
``ecm_hourly_rollup`` then rolls up from raw: for 2,000 enterprises, whose 72 M raw points would
otherwise be written and read once only to produce those rows), then

1. rolls the day's 24 hours up as ``ecm_hourly_rollup``'s task does through the day (the hour and
   the previous hour again; the only pass over raw readings): total, slowest hour, VmHWM;
2. runs ``dag.test()`` of ``ecm_hourly_rollup`` for the day's last hour and of every nightly DAG
   in their asset order (``ecm_daily_kpis`` → ``ecm_monthly_compliance`` and ``ecm_baselines`` →
   ``ecm_nightly_report``), every task, in one child process (Airflow imported and the DAG files
   parsed once, as a worker keeps them), and prints each DAG's wall time, each task's time (from
   the metadata DB; mapped tasks per map index, with the child's peak RSS while each ran), the
   child's VmHWM, and the ratios to the 60 s / 1 GB targets with the host's CPU model and load.

``--keep-state DIR`` keeps the seeded servers' state; a later run with the same DIR and shape
skips the seeding (profiling iterations).
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
if sys.argv[2] == "day":  # the day's 24 hours in one pass, for this process's enterprises
    from ecm.influx import InfluxClient
    from ecm.pipeline.daily import registry_subset
    from ecm.pipeline.hourly import rollup_range
    from ecm.registry import get_registry
    t = time.perf_counter()
    reg = registry_subset(get_registry(), sys.argv[3].split(","))
    rollup_range(InfluxClient.from_settings(), reg, start, start + pd.Timedelta(hours=24), only_registry=True)
    per_hour.append(time.perf_counter() - t)
else:
    for i in range(24):  # as ecm_hourly_rollup's task: the hour, and the previous hour again
        t = time.perf_counter()
        rollup_hours([(start + pd.Timedelta(hours=i - k)).isoformat() for k in (1, 0)])
        per_hour.append(time.perf_counter() - t)
peak = 0.0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        peak = int(line.split()[1]) / 1024
print(json.dumps({"rollup_hour_s": per_hour, "rollup_peak_rss_mb": peak}))
"""

#: the nightly DAGs in the order their assets trigger them (kpi_daily → monthly and baselines;
#: kpi_monthly → report)
NIGHTLY_DAGS = ("ecm_daily_kpis", "ecm_monthly_compliance", "ecm_baselines", "ecm_nightly_report")


class _TreeSampler:
    """RSS timeline of a process tree (for each task's peak) and the highest VmHWM (the kernel's
    own peak-RSS counter) any process of the tree reached, sampled every ``interval_s``."""

    def __init__(self, pid: int, interval_s: float = 0.1):
        import threading

        self.pid, self.interval_s = pid, interval_s
        self.timeline: list[tuple[float, float, float]] = []   # (unix time, tree RSS MiB, tree PSS MiB)
        self.hwm_mb = 0.0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from ecm.bench import tree_pss_mb, tree_status_mb

        while not self._stop.is_set():
            procs = tree_status_mb(self.pid, ("VmHWM", "VmRSS"))
            self.hwm_mb = max([self.hwm_mb, *(d.get("VmHWM", 0.0) for d in procs)])
            self.timeline.append((time.time(), sum(d.get("VmRSS", 0.0) for d in procs), tree_pss_mb(self.pid)))
            self._stop.wait(self.interval_s)

    def start(self) -> "_TreeSampler":
        self._t.start()
        return self

    def stop(self) -> "_TreeSampler":
        self._stop.set()
        self._t.join(5)
        return self

    def peak_between(self, t0: float, t1: float, pss: bool = False) -> float:
        """Peak tree RSS (or PSS: forked workers' shared pages counted once) between t0 and t1."""
        return max((x[2] if pss else x[1] for x in self.timeline if t0 - self.interval_s <= x[0] <= t1 + self.interval_s),
                   default=0.0)


DAG_TEST_CHILD = r"""
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
runs = json.loads(sys.argv[2])
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
for dag_id, conf in runs:
    t0, w0 = time.time(), time.perf_counter()
    dr = bag.dags[dag_id].test(run_conf=conf)
    print("ECM_DAG_RUN " + json.dumps({"dag_id": dag_id, "run_id": dr.run_id, "state": str(dr.state),
                                       "t0": t0, "t1": time.time(), "wall_s": time.perf_counter() - w0}), flush=True)
"""


def _dag_tests(env: dict, runs: list[tuple[str, dict]]) -> list[dict]:
    """``dag.test()`` of each (dag_id, conf) in turn, in one child process (the DAG files parsed
    once, as a scheduler's worker keeps them): per DAG its wall time, the peak RSS of the child
    while it ran, and per task (mapped tasks: per map index) the duration from the metadata DB
    and the child's peak RSS while it ran; plus the child's VmHWM."""
    import sqlite3

    import pandas as pd

    proc = subprocess.Popen([sys.executable, "-c", DAG_TEST_CHILD, env["AIRFLOW__CORE__DAGS_FOLDER"], json.dumps(runs)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rss = _TreeSampler(proc.pid).start()
    out, _ = proc.communicate()
    rss.stop()
    done = [json.loads(ln.split("ECM_DAG_RUN ", 1)[1]) for ln in out.splitlines() if ln.startswith("ECM_DAG_RUN ")]
    if proc.returncode != 0 or len(done) != len(runs):
        raise EcmError(f"dag.test failed in the benchmark (exit {proc.returncode})", hint=out[-3000:])
    url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
    results = []
    for r in done:
        with sqlite3.connect(url) as db:
            rows = db.execute("SELECT task_id, map_index, state, duration, start_date, end_date FROM task_instance "
                              "WHERE dag_id = ? AND run_id = ?", (r["dag_id"], r["run_id"])).fetchall()
        bad = [x[:3] for x in rows if x[2] != "success"]
        if bad or not rows or "success" not in r["state"]:
            raise EcmError(f"DAG {r['dag_id']}: tasks not successful in the benchmark: {bad or 'none ran'}",
                           hint=out[-3000:])
        tasks: dict[str, float] = {}
        mapped: dict[str, list[dict]] = {}
        for task_id, mi, _st, dur, sd, ed in sorted(rows, key=lambda x: (x[0], x[1])):
            tasks[task_id] = round(tasks.get(task_id, 0.0) + float(dur or 0.0), 2)
            if mi is not None and mi >= 0:
                peak = rss.peak_between(pd.Timestamp(sd).timestamp(), pd.Timestamp(ed).timestamp()) if sd and ed else 0.0
                mapped.setdefault(task_id, []).append({"map_index": mi, "s": round(float(dur or 0.0), 2),
                                                       "peak_rss_mb": round(peak)})
        results.append({"dag_id": r["dag_id"], "wall_s": round(r["wall_s"], 1), "tasks_s": tasks, "mapped": mapped,
                        "peak_rss_mb": round(rss.peak_between(r["t0"], r["t1"])),
                        "peak_pss_mb": round(rss.peak_between(r["t0"], r["t1"], pss=True)), "vmhwm_mb": round(rss.hwm_mb)})
    return results


def run_nightly(n_ent: int = 200, n_meters: int = 25, day: str = "2026-03-10", interval_s: int = 60,
                echo=print, keep_state: Path | None = None, seed: str = "mqtt",
                chunk_enterprises: int | None = None, rollups: str = "hourly",
                dags: tuple[str, ...] | None = None) -> dict:
    """Seed one day of ``n_ent`` × ``n_meters`` at ``interval_s``, run the nightly work in a child,
    return its figures. Servers and the temp dir (with its secrets) are removed at the end, unless
    ``keep_state`` names a directory: then the seeded state is kept there, and a later run with the
    same directory and the same shape skips the seeding (for profiling iterations). ``seed``:
    ``mqtt`` (the real path), ``direct`` (/write, for city-scale days) or ``hourly`` (``meter_hourly``
    computed in-process by the rollup's functions, raw readings only for the last hours, which
    ``ecm_hourly_rollup`` then rolls up from raw: implies ``rollups="last"``); ``chunk_enterprises``:
    enterprises per mapped task (default ``ecm.pipeline.daily.GATE_CHUNK_ENTERPRISES``);
    ``rollups``: ``hourly`` (24 runs of the hourly DAG's task before the night, then its dag.test
    for the last hour), ``last`` (only that dag.test), ``day`` (the
    day's hours in one pass before the night) or ``nightly`` (none before: the daily DAG's
    ``rollup_hours`` task rolls up every hour lacking a rollup, inside the nightly figure)."""
    import shutil

    import yaml

    import sim_devices
    from ecm.registry import load_registry
    from ecm.settings import resource_dir
    from ecm.stack import Stack

    tmp = Path(keep_state) if keep_state else Path(tempfile.mkdtemp(prefix="ecm-bench-nightly-"))
    tmp.mkdir(parents=True, exist_ok=True)
    shape = {"enterprises": n_ent, "meters": n_meters, "day": day, "interval_s": interval_s, "seed": seed}
    marker = tmp / "seeded.json"
    seeded = json.loads(marker.read_text()) if marker.exists() else None
    reuse = bool(seeded) and all(seeded.get(k) == v for k, v in shape.items())
    if keep_state and seeded and not reuse:
        raise EcmError(f"{tmp} holds a seeded state of another shape ({seeded}); use a new directory")
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
        if reuse:
            landed, seed_s, bridge_peak_mb = seeded["readings"], seeded["seed_s"], seeded["bridge_peak_rss_mb"]
            echo(f"reusing the seeded state in {tmp} ({landed:,} readings, seeded earlier in {seed_s:.1f} s)")
            # an earlier run's report of the day would make this one 'unchanged' (nothing rendered):
            # each night renders a new day, so the report is measured rendering in full
            shutil.rmtree(tmp / "reports", ignore_errors=True)
        else:
            seeder = {"direct": _seed_direct, "hourly": _seed_hourly}.get(seed)
            landed, seed_s, bridge_peak_mb = (seeder(stack, reg, d, day, n_ent, n_meters_total, interval_s, echo)
                                              if seeder else
                                              _seed(stack, reg, d, day, n_ent, n_meters_total, interval_s, tmp, echo))
            if keep_state:
                marker.write_text(json.dumps({**shape, "readings": landed, "seed_s": round(seed_s, 1),
                                              "bridge_peak_rss_mb": round(bridge_peak_mb)}))
        out = {"seeding": {"direct": "direct /write to InfluxDB",
                           "hourly": f"meter_hourly computed in-process by hourly_frame from the simulator's readings; "
                                     f"raw readings of the last {RAW_HOURS} hours only, rolled up from raw by "
                                     f"ecm_hourly_rollup (dag.test)"}.get(seed, "sim → MQTT → ingest → InfluxDB")}
        if seed == "hourly":
            rollups = "last"   # the other hours' rollups were computed while seeding
        before = _last_hours_rows(d) if seed == "hourly" else None
        out.update(_nightly(day, echo, chunk_enterprises, rollups, dags or NIGHTLY_DAGS))
        if before is not None:
            # the hours rolled up from raw by ecm_hourly_rollup against the same hours computed while
            # seeding: the seeding's meter_hourly is the rollup's, row for row
            after = _last_hours_rows(d)
            same = before.equals(after)
            out["seeded_hours_equal_raw_rollup"] = {"equal": same, "rows": len(after), "rows_before": len(before)}
            echo(f"meter_hourly of the last {RAW_HOURS} hours: rolled up from raw by ecm_hourly_rollup "
                 f"{'equals' if same else 'DIFFERS FROM'} the rows computed while seeding ({len(after):,} rows; "
                 f"{len(before):,} before)")
            if not same:
                raise EcmError("--seed hourly: the seeded meter_hourly differs from the raw rollup's")
        out.update({"readings": landed, "enterprises": n_ent, "meters": n_meters_total,
                    "seed_s": round(seed_s, 1), "bridge_peak_rss_mb": round(bridge_peak_mb), **host_info()})
        return out
    finally:
        stack.stop()
        if not keep_state:
            shutil.rmtree(tmp, ignore_errors=True)


def _seed(stack, reg, d, day, n_ent, n_meters_total, interval_s, tmp, echo) -> tuple[int, float, float]:
    """The day through the real path (simulator → MQTT → ingest → InfluxDB), and the year's
    monthly statistics; the readings landed, the seconds and the bridge's peak RSS."""
    import sim_devices
    from ecm.influx import InfluxClient
    from ecm.periods import day_bounds_utc
    from ecm.stack import wait_landed

    bridge = stack.bridge(log=tmp / "ingest.log", ECM_INGEST_MAX_AGE_S=str(20 * 365 * 86400))
    rss = RssSampler(bridge.proc.pid).start()
    echo(f"seeding {n_ent} enterprises × {n_meters_total // n_ent} meters at {interval_s} s for {day} "
         "(simulator → MQTT → ingest → InfluxDB)")
    t0 = time.perf_counter()
    res = sim_devices.backfill(reg, d, d, seed=1, interval_s=interval_s, host="127.0.0.1", port=stack.mqtt_port,
                               state_dir=tmp / "state", publish_stats=False)
    landed = wait_landed(InfluxClient.from_settings(), day_bounds_utc(d)[0], res["readings"], timeout_s=1800)
    seed_s = time.perf_counter() - t0
    bridge.stop(120)
    bridge_peak_mb = rss.stop()
    _write_stats(reg, d, InfluxClient.from_settings())
    echo(f"seeded {landed:,} readings in {seed_s:.1f} s ({landed / seed_s:,.0f} readings/s end to end); "
         f"bridge peak RSS {bridge_peak_mb:.0f} MB (target ≤ 300 MB)")
    return landed, seed_s, bridge_peak_mb


def _sim_chunks(reg, d, interval_s, size: int = 25):
    """The simulator's readings of day ``d`` (and its closing midnight, as the MQTT backfill
    publishes them), per chunk of ``size`` enterprises: (chunk index, number of chunks, frame with
    time (UTC), enterprise, meter, quantity, value)."""
    import pandas as pd

    from ecm.pipeline.daily import enterprise_chunks, registry_subset
    from sim_devices.calendar import DAY_S, day_index
    from sim_devices.publisher import rows_between
    from sim_devices.window import build_window, sim_s_to_ms

    meters = reg.meters_frame()
    t_lo = day_index(d) * DAY_S
    t_hi = t_lo + DAY_S + 1          # the day and its closing midnight, as the MQTT backfill publishes
    chunks = enterprise_chunks(reg, size)
    for i, chunk in enumerate(chunks):
        parts = []
        for w in build_window(registry_subset(reg, chunk), d, d, 1):
            rows = rows_between(w.tracks, t_lo, t_hi, interval_s)
            ids = [t.meter.id for t in w.tracks]
            df = pd.DataFrame({"time": pd.to_datetime(sim_s_to_ms(rows.ts), unit="ms", utc=True),
                               "meter": pd.Categorical.from_codes(rows.meter, ids), "value": rows.value})
            df["meter"] = df["meter"].astype(str)
            df["quantity"] = df["meter"].map(meters["quantity"]).astype(str)
            df["enterprise"] = w.enterprise.id
            parts.append(df[["time", "enterprise", "meter", "quantity", "value"]])
        yield i, len(chunks), pd.concat(parts, ignore_index=True)


def _write_readings(client, df) -> int:
    """Raw readings to ``readings``, one field per quantity (as the bridge writes them)."""
    from ecm.schema import MEAS_READINGS

    n = 0
    for q, g in df.groupby("quantity"):
        n += client.write_frame(g.rename(columns={"value": q})[["time", "enterprise", "meter", "quantity", q]],
                                MEAS_READINGS, ["enterprise", "meter", "quantity"])
    return n


def _seed_client():
    """The settings' client with ~20k-line /write bodies (seeding only)."""
    from dataclasses import replace

    from ecm.influx import InfluxClient

    c = InfluxClient.from_settings()
    return InfluxClient(replace(c.cfg, batch_points=20_000))


def _write_stats(reg, d, client) -> None:
    import sim_devices
    from ecm.stats import MEASUREMENT, stats_to_frame

    stats = sim_devices.monthly_stats_frame(reg, f"{d.year}-01", f"{d:%Y-%m}", 1)
    client.write_frame(stats_to_frame(stats), MEASUREMENT, ["enterprise"])


def _seed_direct(stack, reg, d, day, n_ent, n_meters_total, interval_s, echo) -> tuple[int, float, float]:
    """The same simulated readings written straight to InfluxDB's /write (no broker, no bridge):
    for district sizes whose MQTT seeding would outlast the session. The readings carry no
    ``received_ms`` (nothing is late)."""
    client = _seed_client()
    echo(f"seeding {n_ent} enterprises × {n_meters_total // n_ent} meters at {interval_s} s for {day} "
         "by direct /write to InfluxDB (no MQTT: the broker path is measured by `ecm bench ingest`)")
    t0, n = time.perf_counter(), 0
    for i, n_chunks, df in _sim_chunks(reg, d, interval_s):
        n += _write_readings(client, df)
        if (i + 1) % 8 == 0 or i + 1 == n_chunks:
            el = time.perf_counter() - t0
            echo(f"  {n:,} readings written in {el:.0f} s ({n / el:,.0f}/s), {i + 1}/{n_chunks} chunks")
    seed_s = time.perf_counter() - t0
    _write_stats(reg, d, client)
    echo(f"seeded {n:,} readings in {seed_s:.1f} s ({n / seed_s:,.0f} readings/s, direct /write)")
    return n, seed_s, 0.0


def _last_hours_rows(d) -> "pd.DataFrame":
    """meter_hourly of the day's last ``RAW_HOURS`` hours, every field, in a stable order."""
    from ecm.influx import InfluxClient, time_literal
    from ecm.periods import day_bounds_utc
    from ecm.schema import MEAS_METER_HOURLY

    _, end = day_bounds_utc(d)
    df = InfluxClient.from_settings().query_frame(
        f"SELECT * FROM {MEAS_METER_HOURLY} WHERE time >= {time_literal(end - pd_hours(RAW_HOURS))} "
        f"AND time < {time_literal(end)}")
    if df.empty:
        return df
    return df.sort_values(["time", "meter", "quantity"], kind="stable").reset_index(drop=True)[sorted(df.columns)]


#: with ``--seed hourly``, the day's last hours whose raw readings are written (and rolled up from
#: raw by ``ecm_hourly_rollup``'s dag.test for the last hour: that hour and the previous one)
RAW_HOURS = 2


def _seed_hourly(stack, reg, d, day, n_ent, n_meters_total, interval_s, echo) -> tuple[int, float, float]:
    """``meter_hourly`` of the day computed in this process from the simulator's readings by the
    hourly rollup's own functions (``ecm.pipeline.hourly.hourly_frame`` on a frame shaped as
    ``load_readings`` returns it, written in ``_split``'s parts, as ``rollup_range`` does over
    the day), per chunk of 25 enterprises; raw readings written only for the day's last
    ``RAW_HOURS`` hours (and the reading before them), which the benchmark then rolls up from raw
    through ``ecm_hourly_rollup`` (one production hour, measured). For city-scale days: 72 M raw
    points would be written, then read once, only to produce these rows."""
    from ecm.periods import day_bounds_utc
    from ecm.pipeline.hourly import _split, hourly_frame
    from ecm.schema import MEAS_METER_HOURLY

    client = _seed_client()
    meters = reg.meters_frame()
    counters = meters[meters["kind"] == "counter"]
    start, end = day_bounds_utc(d)
    raw_from = end - pd_hours(RAW_HOURS)
    echo(f"seeding {n_ent} enterprises × {n_meters_total // n_ent} meters at {interval_s} s for {day}: "
         f"meter_hourly of all 24 hours computed in-process from the simulator's readings by "
         f"ecm.pipeline.hourly.hourly_frame (the rollup's functions), raw readings written only from "
         f"{raw_from.isoformat()} (the last {RAW_HOURS} hours, rolled up from raw by ecm_hourly_rollup below)")
    t0, n, n_raw, n_hourly, t_roll = time.perf_counter(), 0, 0, 0, 0.0
    for i, n_chunks, df in _sim_chunks(reg, d, interval_s):
        n += len(df)
        r = df.sort_values(["meter", "time"], kind="stable").reset_index(drop=True)
        t1 = time.perf_counter()
        frame = hourly_frame(r, counters, start, end, meters=meters)
        t_roll += time.perf_counter() - t1
        for part in _split(frame) if len(frame) else []:
            n_hourly += client.write_frame(part, MEAS_METER_HOURLY, ["enterprise", "meter", "quantity"])
        n_raw += _write_readings(client, df[df["time"] >= raw_from])
        if (i + 1) % 8 == 0 or i + 1 == n_chunks:
            el = time.perf_counter() - t0
            echo(f"  {n:,} readings simulated in {el:.0f} s ({n / el:,.0f}/s; hourly_frame {t_roll:.0f} s), "
                 f"{n_hourly:,} meter_hourly points and {n_raw:,} raw readings written, {i + 1}/{n_chunks} chunks")
    seed_s = time.perf_counter() - t0
    _write_stats(reg, d, client)
    echo(f"seeded in {seed_s:.1f} s: {n:,} readings simulated ({n / seed_s:,.0f}/s), hourly_frame "
         f"{t_roll:.1f} s ({n / max(t_roll, 1e-9):,.0f} readings/s), {n_hourly:,} meter_hourly points, "
         f"{n_raw:,} raw readings written")
    return n, seed_s, 0.0


def _nightly(day: str, echo, chunk_enterprises: int | None = None, rollups: str = "hourly",
             dags: tuple[str, ...] = NIGHTLY_DAGS) -> dict:
    """The day's hourly rollups (as the hourly DAG's task runs them), then the nightly DAGs
    through ``airflow dags test`` (``dag.test()``), every task, the report included."""
    from ecm.cli.dag import airflow_env, ensure_airflow_db
    from ecm.influx import InfluxClient
    from ecm.periods import day_bounds_utc
    from ecm.schema import MEAS_DQ_RESULT

    # 1. the hourly rollups, as the hourly DAG's task runs them through the day (the raw pass);
    #    rollups="nightly" leaves the whole day to the daily DAG's rollup_hours task (one pass)
    out: dict = {"rollups": rollups}
    if rollups in ("hourly", "day"):
        from ecm.pipeline.daily import enterprise_chunks

        t0 = time.perf_counter()
        # day: one process per chunk of enterprises, side by side (as mapped tasks would run)
        groups = [",".join(c) for c in enterprise_chunks(size=40)] if rollups == "day" else [""]
        kids = [subprocess.Popen([sys.executable, "-c", ROLLUP_CHILD, day, rollups, g], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=dict(os.environ)) for g in groups]
        smps = [_TreeSampler(k.pid, 0.5).start() for k in kids]
        rolls = []
        for k, smp in zip(kids, smps):
            so, se = k.communicate()
            smp.stop()
            if k.returncode != 0:
                raise EcmError("hourly rollups failed in the benchmark", hint=se[-3000:])
            rolls.append(json.loads(so.strip().splitlines()[-1]))
        out.update({"rollup_total_s": round(time.perf_counter() - t0, 1), "rollup_processes": len(kids),
                    "rollup_max_hour_s": round(max(max(r["rollup_hour_s"]) for r in rolls), 2),
                    "rollup_peak_rss_mb": round(max(max(r["rollup_peak_rss_mb"] for r in rolls),
                                                    max(s.hwm_mb for s in smps)))})
        how = (f"the day's 24 hours in one pass, {len(kids)} processes of 40 enterprises side by side"
               if rollups == "day" else
               "the hourly DAG's task, hour and previous hour, 24 runs in one process")
        echo(f"hourly rollups ({how}): {out['rollup_total_s']:.1f} s (slowest run {out['rollup_max_hour_s']:.1f} s; "
             f"in production spread over the day, not part of the nightly run), VmHWM {out['rollup_peak_rss_mb']} MB")
    # 2. through Airflow: one hourly run, then the nightly DAGs in their asset order
    env = airflow_env()
    here = Path(__file__).resolve().parents[2] / "dags"
    if here.is_dir():
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(here)
    if chunk_enterprises:
        env["ECM_CHUNK_ENTERPRISES"] = str(chunk_enterprises)
    # a failing task fails its dag.test() at once (with the DAGs' 2 retries it would wait out two
    # retry delays first, and the benchmark would look hung)
    env["ECM_TASK_RETRIES"] = "0"
    ensure_airflow_db(env)
    last_hour = (day_bounds_utc(date.fromisoformat(day))[1] - pd_hours(1)).isoformat()
    t0 = time.perf_counter()
    hourly_run = [("ecm_hourly_rollup", {"hour": last_hour})] if rollups in ("hourly", "last") else []
    res = _dag_tests(env, [*hourly_run, *[(d, {"day": day}) for d in dags]])
    child_wall = time.perf_counter() - t0
    if hourly_run:
        hourly, res = res[0], res[1:]
        out.update({"hourly_dag_s": hourly["wall_s"], "hourly_dag_peak_rss_mb": hourly["peak_rss_mb"],
                    "hourly_dag_tasks_s": hourly["tasks_s"]})
        echo(f"  ecm_hourly_rollup (dag.test, hour {last_hour} and the previous hour, from raw readings): "
             f"{hourly['wall_s']:.1f} s = {hourly['wall_s'] / 3600:.3f} × the 3,600 s an hour allows; peak RSS while "
             f"it ran {hourly['peak_rss_mb']} MB; tasks {hourly['tasks_s']}")
    nightly_wall, tasks, peak, hwm, mapped, walls = 0.0, {}, 0.0, res[-1]["vmhwm_mb"], {}, {}
    peak_pss = 0.0
    for r in res:
        dag_id = r["dag_id"]
        nightly_wall += r["wall_s"]
        walls[dag_id] = r["wall_s"]
        peak = max(peak, r["peak_rss_mb"])
        peak_pss = max(peak_pss, r["peak_pss_mb"])
        tasks.update({f"{dag_id}.{k}": v for k, v in r["tasks_s"].items()})
        mapped.update({f"{dag_id}.{k}": v for k, v in r["mapped"].items()})
        echo(f"  {dag_id}: {r['wall_s']:.1f} s wall, peak RSS while it ran {r['peak_rss_mb']} MB (PSS {r['peak_pss_mb']} MB, "
             f"forked workers' shared pages once); tasks {r['tasks_s']}")
        for k, v in r["mapped"].items():
            echo(f"    {k}: {len(v)} mapped tasks: " + ", ".join(f"[{m['map_index']}] {m['s']:.1f} s {m['peak_rss_mb']} MB"
                                                          for m in v))
    echo(f"  (one child process for all DAGs: {child_wall:.1f} s including Airflow's import and DAG parsing, "
         f"VmHWM {hwm} MB)")
    dq = InfluxClient.from_settings().query_frame(
        f"SELECT count(success) AS n FROM {MEAS_DQ_RESULT} WHERE success = 0 GROUP BY expectation")
    no_baselines = nightly_wall - walls.get("ecm_baselines", 0.0)
    out.update({"nightly_wall_s": round(nightly_wall, 1), "nightly_wall_without_baselines_s": round(no_baselines, 1),
                "dag_wall_s": walls, "tasks_s": tasks, "mapped_tasks": mapped,
                "quality_gate_s": tasks.get("ecm_daily_kpis.quality_gate", 0.0),
                "daily_kpis_s": tasks.get("ecm_daily_kpis.compute_kpis", 0.0),
                "nightly_rollup_task_s": tasks.get("ecm_daily_kpis.rollup_hours", 0.0),
                "peak_rss_mb": round(peak), "peak_pss_mb": round(peak_pss), "vmhwm_mb": round(hwm), "dag_child_wall_s": round(child_wall, 1),
                "failed_expectations": dict(zip(dq["expectation"], dq["n"])) if len(dq) else {},
                **host_info()})
    h = host_info()
    echo(f"nightly run (dag.test of {', '.join(dags)}): {nightly_wall:.1f} s wall = "
         f"{nightly_wall / 60:.2f} × the 60 s target ({no_baselines:.1f} s = {no_baselines / 60:.2f} × without "
         f"ecm_baselines); quality gate {out['quality_gate_s']:.1f} s, daily KPIs {out['daily_kpis_s']:.1f} s "
         f"(task time summed over mapped tasks); VmHWM of the dag.test process {hwm:.0f} MB = "
         f"{hwm / 1024:.2f} × the 1 GB target; the process tree with the report's forked workers peaked at "
         f"{peak_pss:.0f} MB PSS = {peak_pss / 1024:.2f} × ({peak:.0f} MB summed RSS, shared pages counted per process)")
    echo(f"host: {h['cpu_model']}, {h['cpus']} CPUs, load average {' '.join(map(str, h['loadavg']))} "
         "(shared machine: contended)")
    return out


def pd_hours(n: int):
    import pandas as pd

    return pd.Timedelta(hours=n)

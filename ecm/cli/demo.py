"""`ecm demo`: the whole pipeline on the simulated fleet, end to end, on this machine.

services → ingest bridge → simulated history (daily registers since 2022) and recent days at
full resolution, both published over MQTT → history KPIs (``ecm.history``, a year per pass) →
daily KPIs with quality gates for the recent days and monthly compliance for the closed months →
the Airflow DAGs for yesterday (one ``dag.test()`` process for the four) → the nightly report →
a summary with where to look and the seconds of every phase.
"""
from __future__ import annotations

import sys
import time
from datetime import date, datetime, timedelta, timezone

import click

from ecm.cli.common import handle_errors
from ecm.errors import EcmError
from ecm.schema import MEAS_KPI_DAILY, MEAS_KPI_MONTHLY, Status

BEIJING = timezone(timedelta(hours=8))


class _Phases:
    """Numbered progress lines, each closing the previous phase with its seconds."""

    def __init__(self, n: int):
        self.n, self.t0, self.cur, self.times = n, time.monotonic(), None, []

    def step(self, i: int, text: str, name: str) -> None:
        self.close()
        click.echo(click.style(f"[{i}/{self.n}] ", bold=True) + text, err=True)
        self.cur = (i, name, time.monotonic())

    def close(self) -> None:
        if self.cur:
            i, name, t = self.cur
            secs = time.monotonic() - t
            self.times.append((i, name, secs))
            click.echo(f"      ({secs:,.1f} s)", err=True)
            self.cur = None

    def total(self) -> float:
        return time.monotonic() - self.t0



def _monthly(months: list[date], workers: int) -> None:
    """Monthly compliance of the closed months, ``workers`` at a time (each its own InfluxDB session).

    Every month reads only daily rows and statistics, all stored before this step, so months are
    independent: no month's statistics are late, hence ``recompute_late=False`` (it would find none)."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import local

    from tqdm import tqdm

    from ecm.factors import get_factors
    from ecm.influx import InfluxClient
    from ecm.pipeline.monthly import compute_monthly_compliance
    from ecm.registry import get_registry

    reg, factors, tls = get_registry(), get_factors(), local()

    def one(d: date) -> None:
        if not hasattr(tls, "client"):
            tls.client = InfluxClient.from_settings()
        compute_monthly_compliance(d.isoformat(), client=tls.client, registry=reg, factors=factors,
                                   recompute_late=False)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool, \
            tqdm(total=len(months), unit="month", desc="compliance", file=sys.stderr, leave=False) as bar:
        for _ in pool.map(one, months):
            bar.update(1)


_DAGS_CHILD = """
import json, sys, time
from datetime import datetime
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.state import DagRunState
folder, day, out = sys.argv[1], sys.argv[2], sys.argv[3]
bag = DagBag(dag_folder=folder)
for dag_id in sys.argv[4:]:
    t = time.monotonic()
    dr = bag.dags[dag_id].test(logical_date=datetime.fromisoformat(day + "T12:00:00+08:00"), run_conf={"day": day})
    ok = dr.state == DagRunState.SUCCESS
    with open(out, "a") as fh:
        fh.write(json.dumps({"dag": dag_id, "state": str(dr.state), "seconds": round(time.monotonic() - t, 1)}) + "\\n")
    if not ok:
        sys.exit(1)
"""


def _run_dags(env: dict, dag_ids: list[str], day: date) -> None:
    """``dag.test()`` of ``dag_ids`` in order, in one Airflow process (the DAG folder parsed once);
    echoes each DAG's result as it finishes."""
    import json
    import os
    import subprocess

    out = os.path.join(env["AIRFLOW_HOME"], "demo-dags.jsonl")
    log = os.path.join(env["AIRFLOW_HOME"], "demo-dags.log")
    if os.path.exists(out):
        os.remove(out)
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-c", _DAGS_CHILD, env["AIRFLOW__CORE__DAGS_FOLDER"], day.isoformat(),
                                 out, *dag_ids], env=env, stdout=fh, stderr=subprocess.STDOUT)
        seen = 0
        while True:
            rc = proc.poll()
            lines = open(out).read().splitlines() if os.path.exists(out) else []
            for line in lines[seen:]:
                r = json.loads(line)
                click.echo(f"      {r['dag']}: {r['state']} ({r['seconds']:,.1f} s)", err=True)
            seen = len(lines)
            if rc is not None:
                break
            time.sleep(0.5)
    if rc != 0:
        failed = dag_ids[min(seen, len(dag_ids) - 1)]
        raise EcmError(f"Airflow DAG {failed} failed for {day}", hint=f"log: {log}; task logs under {env['AIRFLOW_HOME']}/logs")


@click.command("demo")
@click.option("--days", default=7, show_default=True, type=click.IntRange(min=2),
              help="Recent days simulated at full (15-min) resolution.")
@click.option("--history-from", default="2022-01-01", show_default=True,
              help="First day of the daily-resolution history (the 2022 base year must be covered).")
@click.option("--seed", type=int, default=None, help="Simulator seed (default: the fleet's).")
@click.option("--today", default=None, help="Pretend today is this Beijing day (YYYY-MM-DD).")
@click.option("--months", default=36, show_default=True, type=click.IntRange(min=0),
              help="Months of monthly compliance up to yesterday's (the report's trend shows 24, the boards 3 years); "
                   "0: every month of the history.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1),
              help="Months of compliance computed at once.")
@handle_errors
def demo(days: int, history_from: str, seed: int | None, today: str | None, months: int, workers: int) -> None:
    """Run the whole platform on the simulated fleet and print a summary."""
    import sim_devices
    from ecm.cli.dag import airflow_env, ensure_airflow_db
    from ecm.history import import_days
    from ecm.influx import InfluxClient
    from ecm.periods import day_bounds_utc
    from ecm.pipeline.daily import run_days
    from ecm.registry import get_registry
    from ecm.settings import get_settings
    from ecm.stack import Stack, wait_landed

    n = 8
    s, reg = get_settings(), get_registry()
    seed = sim_devices.load_fleet().get("seed", sim_devices.DEFAULT_SEED) if seed is None else seed
    t_today = date.fromisoformat(today) if today else datetime.now(BEIJING).date()
    last = t_today - timedelta(days=1)
    recent0 = last - timedelta(days=days - 1)
    hist0, hist1 = date.fromisoformat(history_from), recent0 - timedelta(days=1)
    ph = _Phases(n)

    ph.step(1, "starting Mosquitto and InfluxDB (ecm services start)", name="services")
    stack = Stack.from_settings(s, reg).start()
    for st in (stack.mosquitto.status(), stack.influx.status()):
        click.echo(f"      {st.name:10s} pid={st.pid} {st.address}", err=True)
    client = InfluxClient.from_settings()

    ph.step(2, "starting the ingest bridge (python -m ingest)", name="bridge")
    max_age_s = int((t_today - hist0).days * 86400 + 2 * 86400)
    bridge = stack.bridge(log=s.state_path / "ingest.log", ECM_INGEST_MAX_AGE_S=str(max_age_s))
    try:
        since, _ = day_bounds_utc(hist0)
        ph.step(3, f"simulating {len(reg.enterprises)} enterprises: daily registers {hist0}..{hist1}, "
                    f"15-min data {recent0}..{last}", name="publish (MQTT → ingest)")
        common = dict(seed=seed, host=s.mqtt_host, port=s.mqtt_port, state_dir=s.state_path)
        h = sim_devices.backfill(reg, hist0, hist1, interval_s=86400, **common)
        r = sim_devices.backfill(reg, recent0, last, **common)
        published = h["readings"] + r["readings"]
        click.echo(f"      published {published:,} readings ({h['stats_messages'] + r['stats_messages']} monthly "
                   f"statistics) at {r['readings_per_s']:,.0f} readings/s", err=True)
        bridge.wait_stored(published)   # a re-run overwrites points: wait on the bridge, not a count
        # both windows publish the midnight between them: one point per meter is written twice
        landed = wait_landed(client, since, published - len(reg.meters_frame()))
        click.echo(f"      {landed:,} readings queryable in InfluxDB", err=True)
    finally:
        bridge.stop()

    ph.step(4, "daily KPIs for the history (ecm.history: a year per vectorised pass, no interval-completeness gate)", name="history KPIs")
    from tqdm import tqdm

    hist_days = [hist0 + timedelta(days=i) for i in range((hist1 - hist0).days + 1)]
    with tqdm(total=len(hist_days), unit="day", desc="history", file=sys.stderr, leave=False) as bar:
        import_days(hist_days, client=client, registry=reg, progress=lambda d: bar.update(1))
    from ecm.periods import month_ends

    import pandas as pd

    # the month of `last` is computed by the ecm_monthly_compliance DAG in step 6, after its last day;
    # earlier months as far back as the report's trend charts (24) and the boards (3 years) show
    m_from = hist0 if months == 0 else max(hist0, (pd.Timestamp(last.replace(day=1))
                                                   - pd.DateOffset(months=months - 1)).date())
    closed = [d for d in month_ends(m_from, last) if (d.year, d.month) != (last.year, last.month)]
    ph.step(5, f"daily KPIs with quality gates for {days - 1} recent days, monthly compliance for "
               f"{len(closed)} closed months from {m_from:%Y-%m}", name="recent days + months")
    recent = [recent0 + timedelta(days=i) for i in range(days - 1)]
    with tqdm(total=len(recent), unit="day", desc="recent", file=sys.stderr, leave=False) as bar:
        run_days(recent, client=client, registry=reg, progress=lambda d: bar.update(1))
    _monthly(closed, workers)

    from ecm.schema import DAG_BASELINES, DAG_DAILY, DAG_MONTHLY, DAG_REPORT

    ph.step(6, f"Airflow: {DAG_DAILY}, {DAG_MONTHLY}, {DAG_REPORT} and {DAG_BASELINES} for {last} "
                "(dags test, SQLite metadata)", name="Airflow DAGs")
    env = airflow_env()
    ensure_airflow_db(env)
    _run_dags(env, [DAG_DAILY, DAG_MONTHLY, DAG_REPORT, DAG_BASELINES], last)

    ph.step(7, f"nightly report (written by the {DAG_REPORT} DAG)", name="report")
    report_dir = s.reports_path / last.isoformat()
    pdfs = sorted(report_dir.rglob("*.pdf"))
    if not pdfs:
        raise EcmError(f"no report PDF under {report_dir}")

    ph.step(8, "summary", name="summary")
    ph.close()
    _summary(client, reg, last, report_dir, pdfs, published, ph.total())
    click.echo("Seconds per phase: " + "; ".join(f"[{i}] {name} {secs:,.1f}" for i, name, secs in ph.times[:-1]))


def _summary(client, reg, day: date, report_dir, pdfs, published: int, seconds: float) -> None:
    import pandas as pd

    from ecm.influx import time_literal
    from ecm.periods import day_bounds_utc, month_bounds_utc

    m0, _ = month_bounds_utc(day)
    km = client.query_frame(f"SELECT status, ytd_intensity_tce_per_10k_cny, cumulative_index, path_index, "
                            f"required_annual_rate_frac, ytd_through FROM {MEAS_KPI_MONTHLY} WHERE time = {time_literal(m0)} "
                            f"GROUP BY enterprise")
    start, end = day_bounds_utc(day)
    kd = client.query_frame(f"SELECT energy_tce FROM {MEAS_KPI_DAILY} WHERE time >= {time_literal(start)} "
                            f"AND time < {time_literal(end)} GROUP BY enterprise")
    d = km[km["enterprise"] == "_district"].iloc[0]
    ent = km[km["enterprise"] != "_district"]
    counts = ent["status"].value_counts().to_dict()
    names = {e.id: e.name_zh for e in reg.enterprises}
    click.echo("")
    def num(v, fmt: str) -> str:
        return "n/a" if v is None or pd.isna(v) else format(v, fmt)

    click.echo(f"荣昌区 Rongchang district — year to date through {d['ytd_through']}")
    click.echo(f"  单位工业增加值能耗 unit value-added energy: {num(d['ytd_intensity_tce_per_10k_cny'], '.4f')} tce/万元; "
               f"index vs 2022 {num(d['cumulative_index'], '.4f')} (path {num(d['path_index'], '.4f')}); "
               f"status {d['status']}")
    rate = d["required_annual_rate_frac"]
    click.echo(f"  intensity change still allowed (+) or required (−) per year to 2027: "
               f"{num(None if rate is None or pd.isna(rate) else rate * 100, '+.2f')} %/yr")
    click.echo("  enterprises: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for row in ent[ent["status"].isin([Status.RED, Status.YELLOW, Status.DATA_INSUFFICIENT])].itertuples():
        click.echo(f"    {row.status:17s} {row.enterprise} {names.get(row.enterprise, '')}")
    click.echo(f"  energy on {day}: {kd['energy_tce'].sum():,.1f} tce over {len(kd)} enterprises")
    click.echo(f"  {published:,} simulated readings ingested; demo took {seconds:,.0f} s")
    click.echo("Where to look:")
    click.echo(f"  report:     {report_dir}  ({len(pdfs)} PDFs, manifest.json)")
    click.echo(f"  query:      .venv/bin/ecm query \"SELECT * FROM {MEAS_KPI_MONTHLY} GROUP BY enterprise\" --tz Asia/Shanghai")
    click.echo("  quality:    .venv/bin/ecm dq show --date " + day.isoformat())
    click.echo("  dashboards: dashboards/generated/*.json (Grafana: docker compose up, see README)")
    click.echo("  stop:       .venv/bin/ecm services stop")


COMMANDS = [demo]

"""`ecm demo`: the whole pipeline on the simulated fleet, end to end, on this machine.

services → ingest bridge → simulated history (daily registers since 2022) and recent days at
full resolution → daily KPIs and monthly compliance → the Airflow DAGs for yesterday → the
nightly report → a summary with where to look.
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


def _step(i: int, n: int, text: str) -> None:
    click.echo(click.style(f"[{i}/{n}] ", bold=True) + text, err=True)


@click.command("demo")
@click.option("--days", default=14, show_default=True, help="Recent days simulated at full (15-min) resolution.")
@click.option("--history-from", default="2022-01-01", show_default=True,
              help="First day of the daily-resolution history (the 2022 base year must be covered).")
@click.option("--seed", type=int, default=None, help="Simulator seed (default: the fleet's).")
@click.option("--today", default=None, help="Pretend today is this Beijing day (YYYY-MM-DD).")
@handle_errors
def demo(days: int, history_from: str, seed: int | None, today: str | None) -> None:
    """Run the whole platform on the simulated fleet and print a summary."""
    import sim_devices
    from ecm.cli.dag import _airflow, airflow_env, ensure_airflow_db
    from ecm.influx import InfluxClient
    from ecm.periods import day_bounds_utc
    from ecm.pipeline.daily import run_days
    from ecm.pipeline.monthly import compute_monthly_compliance
    from ecm.registry import get_registry
    from ecm.settings import get_settings
    from ecm.stack import Stack, readings_count, wait_landed

    n = 8
    s, reg = get_settings(), get_registry()
    seed = sim_devices.load_fleet().get("seed", sim_devices.DEFAULT_SEED) if seed is None else seed
    t_today = date.fromisoformat(today) if today else datetime.now(BEIJING).date()
    last = t_today - timedelta(days=1)
    recent0 = last - timedelta(days=days - 1)
    hist0, hist1 = date.fromisoformat(history_from), recent0 - timedelta(days=1)
    t0 = time.monotonic()

    _step(1, n, "starting Mosquitto and InfluxDB (ecm services start)")
    stack = Stack.from_settings(s, reg).start()
    for st in (stack.mosquitto.status(), stack.influx.status()):
        click.echo(f"      {st.name:10s} pid={st.pid} {st.address}", err=True)
    client = InfluxClient.from_settings()

    _step(2, n, "starting the ingest bridge (python -m ingest)")
    max_age_s = int((t_today - hist0).days * 86400 + 2 * 86400)
    bridge = stack.bridge(log=s.state_path / "ingest.log", ECM_INGEST_MAX_AGE_S=str(max_age_s))
    try:
        since, _ = day_bounds_utc(hist0)
        before = readings_count(client, since)
        _step(3, n, f"simulating {len(reg.enterprises)} enterprises: daily registers {hist0}..{hist1}, "
                    f"15-min data {recent0}..{last}")
        common = dict(seed=seed, host=s.mqtt_host, port=s.mqtt_port, state_dir=s.state_path)
        h = sim_devices.backfill(reg, hist0, hist1, interval_s=86400, **common)
        r = sim_devices.backfill(reg, recent0, last, **common)
        published = h["readings"] + r["readings"]
        click.echo(f"      published {published:,} readings ({h['stats_messages'] + r['stats_messages']} monthly "
                   f"statistics) at {r['readings_per_s']:,.0f} readings/s", err=True)
        # both windows publish the midnight between them: one point per meter is written twice
        landed = wait_landed(client, since, before + published - len(reg.meters_frame()))
        click.echo(f"      {landed:,} readings queryable in InfluxDB", err=True)
    finally:
        bridge.stop()

    _step(4, n, "daily KPIs for the history (vectorised import, no interval-completeness gate)")
    from tqdm import tqdm

    hist_days = [hist0 + timedelta(days=i) for i in range((hist1 - hist0).days + 1)]
    with tqdm(total=len(hist_days), unit="day", desc="history", file=sys.stderr, leave=False) as bar:
        run_days(hist_days, client=client, registry=reg, gate="history", progress=lambda d: bar.update(1))
    _step(5, n, "daily KPIs with quality gates for the recent days, monthly compliance for every month")
    recent = [recent0 + timedelta(days=i) for i in range(days - 1)]
    with tqdm(total=len(recent), unit="day", desc="recent", file=sys.stderr, leave=False) as bar:
        run_days(recent, client=client, registry=reg, progress=lambda d: bar.update(1))
    from ecm.periods import month_ends

    for d in tqdm(month_ends(hist0, last), unit="month", desc="compliance", file=sys.stderr, leave=False):
        compute_monthly_compliance(d.isoformat(), client=client, registry=reg)

    from ecm.schema import DAG_BASELINES, DAG_DAILY, DAG_MONTHLY, DAG_REPORT

    _step(6, n, f"Airflow: {DAG_DAILY}, {DAG_MONTHLY}, {DAG_REPORT} and {DAG_BASELINES} for {last} "
                "(dags test, SQLite metadata)")
    env = airflow_env()
    ensure_airflow_db(env)
    import json

    for dag_id in (DAG_DAILY, DAG_MONTHLY, DAG_REPORT, DAG_BASELINES):
        rc = _airflow(env, "dags", "test", dag_id, f"{last}T12:00:00+08:00", "-c", json.dumps({"day": last.isoformat()}),
                      quiet=True)
        if rc != 0:
            raise EcmError(f"Airflow DAG {dag_id} failed for {last}", hint=f"logs under {env['AIRFLOW_HOME']}/logs")
        click.echo(f"      {dag_id}: success", err=True)

    _step(7, n, f"nightly report (written by the {DAG_REPORT} DAG)")
    report_dir = s.reports_path / last.isoformat()
    pdfs = sorted(report_dir.rglob("*.pdf"))
    if not pdfs:
        raise EcmError(f"no report PDF under {report_dir}")

    _step(8, n, "summary")
    _summary(client, reg, last, report_dir, pdfs, published, time.monotonic() - t0)


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

"""`ecm kpi run|backfill`: compute the accounting outside Airflow (same library as the DAGs)."""
from __future__ import annotations

from datetime import date, timedelta

import click

from ecm.cli.common import DAY, day_range, handle_errors, to_date


@click.group("kpi")
def kpi() -> None:
    """Daily and monthly KPIs (tce, CO2, intensity, 13% path, benchmarks) outside Airflow."""


def _days(start, end) -> list[date]:
    d0, d1 = day_range(start, end)
    return [d0 + timedelta(days=i) for i in range((d1 - d0).days + 1)]


@kpi.command("run")
@click.option("--date", "day", required=True, type=DAY, help="Beijing day YYYY-MM-DD.")
@handle_errors
def run(day) -> None:
    """Compute one day's KPIs (with the raw-readings and aggregates quality gates) and its month."""
    from ecm.pipeline.daily import run_days
    from ecm.pipeline.monthly import compute_monthly_compliance

    day = to_date(day).isoformat()
    blocked = run_days([date.fromisoformat(day)])
    summary = compute_monthly_compliance(day)
    click.echo(f"{day}: data insufficient: {', '.join(blocked[day]) or 'none'}; month: {summary}")


@kpi.command("backfill")
@click.option("--start", required=True, type=DAY, help="First Beijing day YYYY-MM-DD.")
@click.option("--end", required=True, type=DAY, help="Last Beijing day YYYY-MM-DD (inclusive).")
@click.option("--gate", type=click.Choice(["inline", "history"]), default="inline", show_default=True,
              help="history: skip the raw-readings suite (daily-resolution historical imports).")
@click.option("--months/--no-months", default=True, help="Also compute each month's compliance.")
@handle_errors
def backfill(start, end, gate: str, months: bool) -> None:
    """Compute daily KPIs for every day from START to END, then each month's compliance."""
    from tqdm import tqdm

    from ecm.pipeline.daily import run_days
    from ecm.pipeline.monthly import compute_monthly_compliance

    days = _days(start, end)
    with tqdm(total=len(days), desc="daily KPIs", unit="day") as bar:
        blocked = run_days(days, gate=gate, progress=lambda d: bar.update(1))
    n_blocked = sum(1 for v in blocked.values() if v)
    click.echo(f"computed {len(days)} days ({n_blocked} with data-insufficient enterprises)")
    if months:
        from ecm.periods import month_ends

        for m in tqdm(month_ends(days[0], days[-1]), desc="monthly compliance", unit="month"):
            compute_monthly_compliance(m.isoformat())


COMMANDS = [kpi]

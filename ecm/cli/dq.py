"""`ecm dq run|show`: data-quality gates (Great Expectations suites of expectations/) outside Airflow."""
from __future__ import annotations

import click

from ecm.cli.common import day_option, echo_json, enterprise_option, format_option, handle_errors, to_date


@click.group("dq")
def dq() -> None:
    """Data-quality gates: run the GX suites, show failures (数据质量)."""


@dq.command("run")
@day_option
@click.option("--month", "with_month", is_flag=True,
              help="Also run the monthly statistics suite for the day's month.")
@click.option("--no-write", is_flag=True, help="Do not write dq_result points or artifacts.")
@handle_errors
def run(day, with_month: bool, no_write: bool) -> None:
    """Run the daily suites for --date (and, with --month, the monthly suite); write dq_result points
    and the GX validation JSON + Data Docs under <reports>/dq/<date>/."""
    from ecm import quality
    from ecm.influx import InfluxClient
    from ecm.registry import get_registry
    from ecm.settings import get_settings

    d = to_date(day)
    client, reg = InfluxClient.from_settings(), get_registry()
    results = quality.run_day(client, reg, d, write=not no_write)
    if with_month:
        results += quality.run_month(client, reg, d, write=not no_write)
    for r in results:
        f = r.failures
        blocked = sorted(set(f[f["severity"] == "block"]["enterprise"]))
        click.echo(f"{r.suite} {r.period}: {r.frame['expectation'].nunique()} expectations x "
                   f"{r.frame['enterprise'].nunique()} enterprises, {len(f)} failed; "
                   f"data insufficient: {', '.join(blocked) or 'none'}")
    if not no_write:
        out = get_settings().reports_path / "dq" / d.isoformat()
        quality.save_artifacts(results, out)
        click.echo(f"artifacts: {out}/index.html")


@dq.command("show")
@day_option
@enterprise_option
@format_option
@click.option("--all", "show_all", is_flag=True, help="Show passing expectations too.")
@handle_errors
def show(day, enterprise: str | None, fmt: str, show_all: bool) -> None:
    """Print stored dq_result failures of --date (and of its month's monthly suite)."""
    from ecm import quality
    from ecm.influx import InfluxClient

    d = to_date(day)
    df = quality.load_results(InfluxClient.from_settings(), d)
    if enterprise:
        df = df[df["enterprise"] == enterprise]
    if not show_all:
        df = df[~df["success"]]
    if fmt == "json":
        echo_json(df.to_dict(orient="records"))
    elif fmt == "csv":
        click.echo(df.to_csv(index=False), nl=False)
    elif df.empty:
        click.echo(f"no {'results' if show_all else 'failures'} stored for {d.isoformat()} "
                   f"(run `ecm dq run --date {d.isoformat()}` first if nothing ran)")
    else:
        cols = ["period", "suite", "enterprise", "severity", "expectation", "success", "observed"]
        click.echo(df[cols].to_string(index=False, max_colwidth=80))


COMMANDS = [dq]

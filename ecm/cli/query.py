"""`ecm query`: the operator's InfluxQL tool."""
from __future__ import annotations

import sys

import click

from ecm.cli.common import handle_errors


@click.command("query")
@click.argument("influxql")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--tz", default=None, help="Show times in this zone, e.g. Asia/Shanghai (default UTC).")
@handle_errors
def query(influxql: str, fmt: str, tz: str | None) -> None:
    """Run one InfluxQL statement against the configured database."""
    from ecm.influx import InfluxClient

    df = InfluxClient.from_settings().query_frame(influxql, tz=tz)
    if df.empty:
        click.echo("(no rows)", err=True)
        return
    if fmt == "csv":
        df.to_csv(sys.stdout, index=False)
    elif fmt == "json":
        click.echo(df.to_json(orient="records", date_format="iso", force_ascii=False))
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", 200, "display.width", 200, "display.max_columns", 50):
            click.echo(df.to_string(index=False))

COMMANDS = [query]

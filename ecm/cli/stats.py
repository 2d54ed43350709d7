"""`ecm stats import`: load monthly enterprise statistics from CSV."""
from __future__ import annotations

import click

from ecm.cli.common import handle_errors


@click.group("stats")
def stats() -> None:
    """Monthly enterprise statistics (output value, value added, deflator)."""


@stats.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@handle_errors
def import_(csv_file: str) -> None:
    """Import CSV_FILE (enterprise,month,output_value_10k_cny,value_added_current_10k_cny,deflator_index;
    value added at current prices; the deprecated column name value_added_10k_cny is still accepted)."""
    import pandas as pd

    from ecm.influx import InfluxClient
    from ecm.registry import get_registry
    from ecm.stats import MEASUREMENT, stats_to_frame, validate_stats

    df = pd.read_csv(csv_file, dtype={"enterprise": str, "month": str})
    valid, rejected = validate_stats(df, set(get_registry().enterprise_ids))
    n = InfluxClient.from_settings().write_frame(stats_to_frame(valid), MEASUREMENT, ["enterprise"]) if len(valid) else 0
    click.echo(f"imported {n} enterprise-months into {MEASUREMENT}; rejected {len(rejected)}")
    for row in rejected.head(20).itertuples(index=False):
        click.echo(f"  rejected {row.enterprise} {row.month}: {row.reason}", err=True)
    if len(rejected):
        raise SystemExit(1)


COMMANDS = [stats]

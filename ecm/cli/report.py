"""`ecm report`: build the nightly compliance report (its render-time benchmark is `ecm bench report`)."""
from __future__ import annotations

from pathlib import Path

import click

from ecm.cli.common import handle_errors, to_date


@click.group("report", invoke_without_command=True)
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Beijing-time day, YYYY-MM-DD.")
@click.option("--enterprise", default=None, help="Only this enterprise's report (default: district and all).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: ECM_REPORTS_DIR); the report goes to OUT/<date>/.")
@click.pass_context
@handle_errors
def report(ctx: click.Context, day, enterprise: str | None, out_dir: Path | None) -> None:
    """Nightly compliance report (合规日报): district and enterprise HTML/PDF, charts, CSV/JSON, manifest.

    Re-running a day without new data keeps the report; changed figures give a revision (rev2, ...).
    """
    if ctx.invoked_subcommand is not None:
        return
    if day is None:
        raise click.UsageError("--date is required")
    from ecm.influx import InfluxClient
    from ecm.registry import get_registry
    from ecm.report import build_report_published
    from ecm.settings import get_settings

    res = build_report_published(to_date(day), client=InfluxClient.from_settings(), registry=get_registry(),
                                 out_dir=out_dir or get_settings().reports_path, enterprise=enterprise)
    note = f", {len(res.changes)} figure(s) changed" if res.status == "revised" else ""
    click.echo(f"{res.status}: rev{res.revision} at {res.path}{note}")


COMMANDS = [report]

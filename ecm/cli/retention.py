"""`ecm retention apply|show`: InfluxDB retention policies and shard durations (ecm.retention)."""
from __future__ import annotations

import click

from ecm.cli.common import handle_errors


def _admin(user: str | None, password: str | None):
    from dataclasses import replace

    from ecm.influx import InfluxClient

    c = InfluxClient.from_settings("admin")
    if user:
        c = InfluxClient(replace(c.cfg, user=user, password=password or ""))
    return c


def _admin_options(fn):
    fn = click.option("--admin-password", envvar="INFLUX_ADMIN_PASSWORD", default=None, show_envvar=True,
                      help="InfluxDB admin password (default: the state dir's secrets).")(fn)
    return click.option("--admin-user", envvar="INFLUX_ADMIN_USER", default=None, show_envvar=True,
                        help="InfluxDB admin user (default: the state dir's secrets).")(fn)


@click.group("retention")
def retention() -> None:
    """Retention policies: raw readings for ECM_INFLUX_RAW_RETENTION_DAYS, rollups and derived forever."""


@retention.command("apply")
@_admin_options
@handle_errors
def apply(admin_user: str | None, admin_password: str | None) -> None:
    """Create or correct the policies and shard durations of ECM_INFLUX_DB (idempotent)."""
    from ecm.retention import ensure_retention
    from ecm.settings import get_settings

    s = get_settings()
    for p in ensure_retention(_admin(admin_user, admin_password), s.influx_db, s.influx_raw_retention_days):
        click.echo(f"{p.name:8} duration {p.duration:6} shard {p.shard_duration:4}{'  default' if p.default else ''}")


@retention.command("show")
@_admin_options
@handle_errors
def show(admin_user: str | None, admin_password: str | None) -> None:
    """Show the database's retention policies as the server reports them."""
    from ecm.retention import show_retention
    from ecm.settings import get_settings

    df = show_retention(_admin(admin_user, admin_password), get_settings().influx_db)
    click.echo(df.to_string(index=False) if len(df) else "no retention policies")


COMMANDS = [retention]

"""`ecm backup create|verify|restore`: whole-deployment backups with a SHA-256 manifest (ecm.backup)."""
from __future__ import annotations

from pathlib import Path

import click

from ecm.cli.common import handle_errors


def _target(admin_user: str | None, admin_password: str | None, airflow_db: str | None,
            includes: tuple[Path, ...] = ()):
    from dataclasses import replace

    from ecm.backup import BackupError, Target
    from ecm.influx import InfluxClient
    from ecm.secrets import load_secrets
    from ecm.settings import get_settings

    s = get_settings()
    admin = InfluxClient.from_settings("admin")
    if admin_user:
        admin = InfluxClient(replace(admin.cfg, user=admin_user, password=admin_password or ""))
    rpc = s.influx_rpc_address
    if not rpc:
        f = s.state_path / "influxdb" / "rpc.port"
        if not f.exists():
            raise BackupError("no InfluxDB RPC address", hint="set ECM_INFLUX_RPC_ADDRESS or run `ecm services start`")
        rpc = f"127.0.0.1:{int(f.read_text())}"
    if airflow_db is None:
        local = s.state_path / "airflow" / "airflow.db"
        airflow_db = f"sqlite:///{local}" if local.exists() else ""
    service_user = s.influx_user or load_secrets(s.state_path).get("influx", {}).get("service", {}).get("user", "")
    return Target(state_dir=s.state_path, registry_path=s.district_path, reports_dir=s.reports_path, db=s.influx_db,
                  influx_admin=admin, rpc_address=rpc, influxd_bin=s.influxd_bin, service_user=service_user,
                  airflow_db=airflow_db, includes=list(includes))


def _common(fn):
    fn = click.option("--airflow-db", envvar="AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", default=None, show_envvar=True,
                      help="Airflow metadata DB URL (default: ECM_STATE_DIR/airflow/airflow.db if it exists).")(fn)
    fn = click.option("--admin-password", envvar="INFLUX_ADMIN_PASSWORD", default=None, show_envvar=True,
                      help="InfluxDB admin password (default: the state dir's secrets).")(fn)
    return click.option("--admin-user", envvar="INFLUX_ADMIN_USER", default=None, show_envvar=True,
                        help="InfluxDB admin user (default: the state dir's secrets).")(fn)


@click.group("backup")
def backup() -> None:
    """Back up and restore InfluxDB, secrets, registry, Airflow metadata and reports."""


@backup.command("create")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--include", "includes", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Extra file for secrets/ (e.g. compose's .env); repeatable. Not restored automatically.")
@_common
@handle_errors
def create(dest: Path, includes, admin_user, admin_password, airflow_db) -> None:
    """Write a backup of this deployment into the new folder DEST, with manifest.json and SHA256SUMS."""
    from ecm.backup import create_backup

    doc = create_backup(dest, _target(admin_user, admin_password, airflow_db, includes),
                        progress=lambda m: click.echo(f"  {m}", err=True))
    size = sum(f["bytes"] for f in doc["files"].values())
    click.echo(f"backup {dest}: {', '.join(doc['parts'])}; {len(doc['files'])} files, {size / 1e6:.1f} MB, "
               f"{doc['seconds']} s")


@backup.command("verify")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@handle_errors
def verify(src: Path) -> None:
    """Check every file of the backup SRC against its manifest (size and SHA-256)."""
    from ecm.backup import verify_backup

    doc = verify_backup(src)
    click.echo(f"ok: {len(doc['files'])} files intact ({', '.join(doc['parts'])}, {doc['created_utc']})")


@backup.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--start-services/--no-start-services", default=None,
              help="Start the local Mosquitto and InfluxDB after restoring the secrets "
                   "(default: yes unless ECM_INFLUX_RPC_ADDRESS names an external server).")
@_common
@handle_errors
def restore(src: Path, start_services, admin_user, admin_password, airflow_db) -> None:
    """Restore the backup SRC: verify every hash, put files back, then replace the InfluxDB database."""
    from ecm.backup import restore_files, restore_influx, verify_backup
    from ecm.settings import get_settings

    s = get_settings()
    doc = verify_backup(src)
    click.echo(f"verified {len(doc['files'])} files", err=True)
    if airflow_db is None and "airflow" in doc["parts"] and doc["airflow_db_kind"] == "sqlite":
        airflow_db = f"sqlite:///{s.state_path / 'airflow' / 'airflow.db'}"
    if start_services is None:
        start_services = not s.influx_rpc_address
    # files first: the local services start with the restored secrets (passwords) and registry
    from ecm.backup import Target

    pre = Target(state_dir=s.state_path, registry_path=s.district_path, reports_dir=s.reports_path,
                 db=s.influx_db, influx_admin=None, rpc_address="", airflow_db=airflow_db or "")
    done = restore_files(src, pre, doc)
    if start_services:
        from ecm.services import local_services

        for svc in local_services():
            svc.start()
    if "influx" in doc["parts"]:
        restore_influx(src, _target(admin_user, admin_password, airflow_db or ""), s.influx_raw_retention_days)
        done.append("influx")
    click.echo(f"restored {', '.join(done)} from {src} ({doc['created_utc']})")


COMMANDS = [backup]

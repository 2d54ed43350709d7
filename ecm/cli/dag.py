"""`ecm dag test|list`: run the project's DAGs through Airflow with a SQLite metadata DB."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import click

from ecm.cli.common import DAY, handle_errors, to_date
from ecm.errors import EcmError, InfluxError


def airflow_env() -> dict[str, str]:
    """Environment for the Airflow CLI: AIRFLOW_HOME and a SQLite DB under ECM_STATE_DIR,
    the project's dags/ folder, examples off, quiet logs."""
    from ecm.settings import get_settings, resource_dir

    home = get_settings().state_path / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("AIRFLOW_HOME", str(home))
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(resource_dir("dags")))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home}/airflow.db")
    env.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    env.setdefault("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "True")
    return env


def _airflow(env: dict, *args: str, quiet: bool = False) -> int:
    exe = os.path.join(os.path.dirname(sys.executable), "airflow")
    out = subprocess.DEVNULL if quiet else None
    return subprocess.run([exe, *args], env=env, stdout=out, stderr=out if quiet else None).returncode


def ensure_airflow_db(env: dict) -> None:
    """`airflow db migrate` once per AIRFLOW_HOME (marker file)."""
    marker = os.path.join(env["AIRFLOW_HOME"], ".ecm-db-migrated")
    if os.path.exists(marker):
        return
    if _airflow(env, "db", "migrate", quiet=True) != 0:
        raise EcmError("airflow db migrate failed", hint=f"run it by hand with AIRFLOW_HOME={env['AIRFLOW_HOME']}")
    open(marker, "w").close()


@click.group("dag")
def dag() -> None:
    """Run the platform's Airflow DAGs once, outside the scheduler."""


def _task_states(env: dict, dag_id: str) -> dict[str, int]:
    """{state: count} of the task instances of DAG_ID's latest run in the SQLite metadata DB."""
    import sqlite3

    url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    if not url.startswith("sqlite:///"):
        return {}
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        row = db.execute("SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)).fetchone()
        if row is None:
            return {}
        rows = db.execute("SELECT coalesce(state, 'none'), count(*) FROM task_instance WHERE dag_id = ? AND run_id = ? "
                          "GROUP BY state", (dag_id, row[0])).fetchall()
    return dict(rows)


@dag.command("test")
@click.argument("dag_id")
@click.option("--date", "day", required=True, type=DAY, help="Beijing-time day (YYYY-MM-DD) the run owns.")
@handle_errors
def test(dag_id: str, day) -> None:
    """Run DAG_ID once for DAY through `airflow dags test` (SQLite metadata under ECM_STATE_DIR).

    Fails (exit 1) when InfluxDB cannot be reached (checked first, so an outage fails in seconds, not
    after the tasks' retries), when the run fails, or when it executed no task."""
    from ecm.influx import InfluxClient
    from ecm.settings import get_settings

    day = to_date(day).isoformat()
    if not InfluxClient.from_settings().ping():
        raise InfluxError(f"InfluxDB at {get_settings().influx_url} is not reachable; DAG {dag_id} not run")
    env = airflow_env()
    ensure_airflow_db(env)
    rc = _airflow(env, "dags", "test", dag_id, f"{day}T12:00:00+08:00", "-c", json.dumps({"day": day}))
    if rc != 0:
        raise EcmError(f"DAG {dag_id} failed for {day} (airflow exit {rc})",
                       hint=f"see logs under {env['AIRFLOW_HOME']}/logs")
    states = _task_states(env, dag_id)
    ran = states.get("success", 0) + states.get("failed", 0) + states.get("upstream_failed", 0)
    if not ran:
        raise EcmError(f"DAG {dag_id} executed no task for {day} (task states: {states or 'none'})",
                       hint="the day may lie before the DAG's start_date (2022-01-01) or the DAG is unknown")
    if states.get("failed") or states.get("upstream_failed"):
        raise EcmError(f"DAG {dag_id} had failed tasks for {day}: {states}",
                       hint=f"see logs under {env['AIRFLOW_HOME']}/logs")
    click.echo(f"{dag_id} {day}: success ({states.get('success', 0)} tasks)")


@dag.command("list")
@handle_errors
def list_() -> None:
    """List the DAGs in dags/ with import errors, if any."""
    env = airflow_env()
    ensure_airflow_db(env)
    _airflow(env, "dags", "list", "-o", "plain")


COMMANDS = [dag]

"""`ecm dashboards generate|check|push`: Grafana boards as code (dashboards/).

The generators run as ``python -m dashboards.generate`` in the project root (the CLI does not import
the dashboards component); ``push`` uploads the committed JSON through the Grafana HTTP API.
"""
from __future__ import annotations

import json
import subprocess
import sys

import click

from ecm.cli.common import handle_errors
from ecm.errors import EcmError
from ecm.settings import PROJECT_ROOT

GENERATED = PROJECT_ROOT / "dashboards" / "generated"
FOLDER_UID = "ecm"
FOLDER_TITLE = "ECM 能耗监测 / Energy monitoring"
DATASOURCE_UID = "ecm-influx"


def _run_generator(*args: str) -> int:
    r = subprocess.run([sys.executable, "-m", "dashboards.generate", *args], cwd=PROJECT_ROOT)
    return r.returncode


@click.group("dashboards")
def dashboards() -> None:
    """Grafana dashboards: generate the JSON, check it is current, push it to a Grafana."""


@dashboards.command("generate")
def generate() -> None:
    """Rewrite dashboards/generated/*.json and the alert rules from the Python generators."""
    raise SystemExit(_run_generator())


@dashboards.command("check")
def check() -> None:
    """Exit 1 when the committed dashboard JSON differs from what the generators produce."""
    rc = _run_generator("--check")
    if rc == 0:
        click.echo("dashboards: generated JSON is current")
    raise SystemExit(rc)


def load_boards() -> list[dict]:
    files = sorted(GENERATED.glob("*.json"))
    if not files:
        raise EcmError(f"no dashboards in {GENERATED}", hint="run `ecm dashboards generate`")
    return [json.loads(f.read_text(encoding="utf-8")) for f in files]


def sync_annotations(api, events: list[dict]) -> None:
    """Replace Grafana's annotations tagged ``ecm-registry`` with ``events`` (idempotent: a re-push leaves
    one annotation per registry event)."""
    from ecm.events import REGISTRY_TAG

    for old in api.annotations.find_annotations(tags=[REGISTRY_TAG], limit=100000) or []:
        api.annotations.delete_annotations_by_id(old["id"])
    for ev in events:
        api.annotations.add_annotation(time_from=ev["time"], time_to=ev["time"], tags=ev["tags"], text=ev["text"])


def push_boards(url: str, token: str, boards: list[dict], *, timeout_s: float = 10.0,
                events: list[dict] | None = None) -> list[dict]:
    """Create the folder when missing, then create-or-overwrite every board, then (``events`` given)
    replace the registry annotations. Returns Grafana's answers for the boards."""
    from grafana_client import GrafanaApi
    from grafana_client.client import GrafanaClientError, GrafanaException

    api = GrafanaApi.from_url(url, credential=token or None, timeout=timeout_s)
    try:
        try:
            api.folder.get_folder(FOLDER_UID)
        except GrafanaClientError as exc:
            if exc.status_code != 404:
                raise
            api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
        try:
            api.datasource.get_datasource_by_uid(DATASOURCE_UID)
        except GrafanaClientError as exc:
            if exc.status_code != 404:
                raise
            click.echo(f"warning: Grafana has no datasource uid {DATASOURCE_UID!r}; provision "
                       "dashboards/provisioning/datasources/influxdb.yaml or create it", err=True)
        out = []
        for b in boards:
            body = {"dashboard": {**b, "id": None}, "folderUid": FOLDER_UID, "overwrite": True,
                    "message": "ecm dashboards push"}
            out.append(api.dashboard.update_dashboard(body))
        if events is not None:
            sync_annotations(api, events)
        return out
    except GrafanaException as exc:
        raise EcmError(f"Grafana at {url} refused: {exc}", hint="check --url and that the token has Editor rights") from None
    except Exception as exc:  # connection errors from niquests
        if isinstance(exc, EcmError):
            raise
        raise EcmError(f"cannot reach Grafana at {url}: {exc.__class__.__name__}",
                       hint="check --url (e.g. http://localhost:3000)") from None


@dashboards.command("push")
@click.option("--url", required=True, help="Grafana base URL, e.g. http://localhost:3000.")
@click.option("--token", required=True,
              help="Grafana service-account token (Editor).")
@handle_errors
def push(url: str, token: str) -> None:
    """Upload the generated dashboards and the registry's events (annotations) through the Grafana HTTP API."""
    from ecm.events import registry_events
    from ecm.registry import get_registry

    boards, events = load_boards(), registry_events(get_registry())
    for b, res in zip(boards, push_boards(url, token, boards, events=events)):
        click.echo(f"{b['uid']:24s} {res.get('status', '?'):8s} version={res.get('version', '?')} {res.get('url', '')}")
    click.echo(f"annotations: {len(events)} registry events (retrofits, meters out of service, baseline adjustments)")


COMMANDS = [dashboards]

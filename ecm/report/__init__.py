"""Nightly compliance report: district and enterprise HTML/PDF, charts, CSV/JSON, manifest, revisions.

Library entry points (the DAG task and ``ecm report`` call these):

- :func:`build_report` — load a day's KPIs from InfluxDB, build the models, publish ``<out>/<day>/``.
- :func:`run_nightly` — the same with settings, plus the optional e-mail.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

from ecm.report.writer import Published


def build_report_published(day: date, *, client, registry, out_dir: Path, enterprise: str | None = None) -> Published:
    """Like :func:`build_report` but returns the full :class:`Published` result (status, changes)."""
    from ecm.errors import EcmError
    from ecm.report.data import load_report_data
    from ecm.report.model import build_models
    from ecm.report.writer import publish

    if enterprise is not None and registry.enterprise(enterprise) is None:
        raise EcmError(f"unknown enterprise {enterprise!r}", hint="see `ecm registry` for enterprise ids")
    data = load_report_data(client, day, registry)
    return publish(build_models(data, enterprise), day=day, out_dir=Path(out_dir), enterprise=enterprise)


def build_report(day: date, *, client, registry, out_dir: Path, enterprise: str | None = None) -> Path:
    """Build and publish the report of Beijing day ``day``; returns the folder of the (latest) revision.

    Raises :class:`ecm.report.writer.ReportRenderError` (nothing published) when rendering fails.
    """
    return build_report_published(day, client=client, registry=registry, out_dir=out_dir, enterprise=enterprise).path


def run_nightly(day: date | str) -> str:
    """DAG helper: build the district report into ``ECM_REPORTS_DIR`` and e-mail it when configured.

    Returns the published folder as a string (XCom-friendly).
    """
    from ecm.influx import InfluxClient
    from ecm.registry import get_registry
    from ecm.report.email import maybe_send
    from ecm.settings import get_settings

    day = date.fromisoformat(day) if isinstance(day, str) else day
    s = get_settings()
    res = build_report_published(day, client=InfluxClient.from_settings(), registry=get_registry(),
                                 out_dir=s.reports_path)
    if res.status != "unchanged":
        maybe_send(res.path, s)
    return str(res.path)

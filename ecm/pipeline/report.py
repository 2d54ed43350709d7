"""DAG task body for the nightly compliance report (``reports/<day>/``)."""
from __future__ import annotations

from datetime import date


def build_nightly_report(day_iso: str) -> str:
    """Compute the month's compliance for ``day_iso`` (so the report and dashboards agree), then
    render the district and enterprise reports; returns the report folder. Raises on any
    rendering failure: a report is never left partial."""
    from ecm.influx import InfluxClient
    from ecm.pipeline.monthly import compute_monthly_compliance
    from ecm.registry import get_registry
    from ecm.report import run_nightly

    compute_monthly_compliance(day_iso, client=InfluxClient.from_settings(), registry=get_registry())
    return run_nightly(date.fromisoformat(day_iso))

"""DAG task body for the nightly compliance report (``reports/<day>/``)."""
from __future__ import annotations

from datetime import date


def build_nightly_report(day_iso: str) -> str:
    """Render the district and enterprise reports of ``day_iso`` from the stored figures (the
    monthly compliance run, which triggers this one, wrote them); returns the report folder.
    Raises on any rendering failure: a report is never left partial."""
    from ecm.report import run_nightly

    return run_nightly(date.fromisoformat(day_iso))

"""Data-sufficiency and quality issues returned alongside accounting results.

Accounting functions never log, raise on bad data or silently substitute values: they return
``(frame, issues)``. An :class:`Issue` has a dotted name (``ecm.counters.reset_detected``), a
one-line message, an evidence dict (ids, counts, first timestamps) and ``blocking``: True when the
figure it concerns must not be published as a KPI (the caller marks it ``data_insufficient``).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

_NAME_RE = re.compile(r"^ecm(\.[a-z0-9_]+)+$")


@dataclass(frozen=True, eq=True)
class Issue:
    name: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict, hash=False)
    blocking: bool = False

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ValueError(f"issue name must be dotted and start with 'ecm.', got {self.name!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def any_blocking(issues: Iterable[Issue]) -> bool:
    """True if any issue is blocking."""
    return any(i.blocking for i in issues)


def issues_frame(issues: Iterable[Issue]):
    """Issues as a DataFrame (name, message, blocking, evidence) for reports and logs."""
    import pandas as pd

    rows = [{"name": i.name, "message": i.message, "blocking": i.blocking, "evidence": i.evidence} for i in issues]
    return pd.DataFrame(rows, columns=["name", "message", "blocking", "evidence"])

"""Registry events as Grafana annotations: retrofits, meters taken out of service, baseline adjustments.

The events live in the registry (config/district.yaml: ``measures``, ``meters[].decommissioned``,
``adjustments``), not in InfluxDB, so the boards read them as Grafana's own annotations: ``ecm
dashboards push`` replaces every annotation tagged :data:`REGISTRY_TAG` with :func:`registry_events`,
and the boards' "改造与表计 / retrofits and meters" annotation filters on that tag (and, on the
enterprise board, on ``$enterprise``). Pure: no I/O.
"""
from __future__ import annotations

import pandas as pd

from ecm.periods import TZ

#: tag on every registry annotation (the push replaces exactly these)
REGISTRY_TAG = "ecm-registry"


def _ms(day) -> int:
    """Epoch ms of 00:00 Beijing on ``day``."""
    return int(pd.Timestamp(day).tz_localize(TZ).tz_convert("UTC").value // 1_000_000)


def registry_events(registry) -> list[dict]:
    """``[{"time": ms, "tags": [...], "text": str}]`` sorted by time then text; tags carry the kind
    (``retrofit``, ``meter_out_of_service``, ``baseline_adjustment``), the enterprise id and the line or meter."""
    out = []
    for e in registry.enterprises:
        for m in e.measures:
            out.append({"time": _ms(m.date), "tags": [REGISTRY_TAG, "retrofit", e.id, *([m.line] if m.line else [])],
                        "text": f"改造 retrofit {m.id}: {m.description_zh or m.kind} / {m.description_en or m.kind}"})
        for mt in e.meters:
            if mt.decommissioned:
                out.append({"time": _ms(mt.decommissioned), "tags": [REGISTRY_TAG, "meter_out_of_service", e.id, mt.id],
                            "text": f"表计停用 meter out of service: {mt.id} ({mt.carrier})"})
        for a in e.adjustments:
            out.append({"time": _ms(a.date), "tags": [REGISTRY_TAG, "baseline_adjustment", e.id,
                                                      *([a.line] if a.line else [])],
                        "text": f"基准调整 baseline adjustment: {a.note}"})
    return sorted(out, key=lambda ev: (ev["time"], ev["text"]))

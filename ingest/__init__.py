"""MQTT → InfluxDB ingest bridge (at-least-once, idempotent, quarantining; see ingest/README.md).

``run(workers=N)`` starts N worker processes sharing ``$share/ingest/ecm/v1/#`` (one worker runs
in-process); ``python -m ingest`` and ``ecm ingest run`` call it. SIGTERM/SIGINT stop cleanly: each
worker flushes its batch, acks it and disconnects, keeping its persistent session.
"""
from __future__ import annotations

from ingest.runner import run

__all__ = ["run"]

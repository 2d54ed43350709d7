"""Quarantine of invalid input: an append-only JSON-lines file plus ``ingest_rejects`` points.

File: ``ECM_STATE_DIR/ingest/quarantine/<client id>-<YYYY-MM-DD UTC>.jsonl``, one line per message
that had at least one reject::

    {"received_ms": 1709251200123, "topic": "ecm/v1/e01/e01_elec_main/reading",
     "payload": "<raw payload as text>", "payload_encoding": "utf-8" | "base64",
     "payload_bytes": 123, "truncated": false,
     "rejects": [{"reason": "ts_too_old", "detail": "...", "item": null}]}

The raw payload is kept up to 256 KiB (``truncated`` says when cut). Lines are fsync'd before the
message is acked. Measurement ``ingest_rejects`` (tag ``reason``; string fields
``enterprise_claimed``, ``topic``, ``detail``, ``payload`` ≤ 2 KiB) gets one point per rejected
reading at nanosecond precision; the low digits carry a per-process counter and the worker index so
two rejects never share a timestamp.
"""
from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

from influxdb_client.client.write.point import _ESCAPE_STRING

from ingest.payload import Reject

REJECTS = "ingest_rejects"
FILE_PAYLOAD_MAX_BYTES = 256 * 1024
POINT_PAYLOAD_MAX_CHARS = 2048


def _text(payload: bytes) -> tuple[str, str]:
    try:
        return payload.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(payload).decode(), "base64"


#: influxdb_client's string-field escaping, plus CR/LF shown as \\n, \\r (the raw text stays in the file)
_ESCAPE_FIELD = {**_ESCAPE_STRING, ord("\n"): "\\n", ord("\r"): "\\r"}


def _field(s: str) -> str:
    return '"' + s.translate(_ESCAPE_FIELD) + '"'


class Quarantine:
    """Writes quarantine lines for one worker; ``reject_lines`` builds the ns-precision points."""

    def __init__(self, directory: Path, name: str, worker_index: int):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name, self.worker_index = name, worker_index
        self._last_ns = 0

    def path_for(self, t_ms: int) -> Path:
        return self.dir / f"{self.name}-{time.strftime('%Y-%m-%d', time.gmtime(t_ms / 1000))}.jsonl"

    def record(self, entries: list[tuple[str, bytes, int, list[Reject]]]) -> None:
        """Append ``[(topic, payload, received_ms, rejects)]`` durably (one fsync)."""
        if not entries:
            return
        by_file: dict[Path, list[str]] = {}
        for topic, payload, received_ms, rejects in entries:
            cut = payload[:FILE_PAYLOAD_MAX_BYTES]
            text, enc = _text(cut)
            doc = {"received_ms": received_ms, "topic": topic, "payload": text, "payload_encoding": enc,
                   "payload_bytes": len(payload), "truncated": len(cut) < len(payload),
                   "rejects": [{"reason": r.reason, "detail": r.detail, "item": r.item} for r in rejects]}
            by_file.setdefault(self.path_for(received_ms), []).append(json.dumps(doc, ensure_ascii=False))
        for path, lines in by_file.items():
            with open(path, "a", encoding="utf-8", errors="backslashreplace") as fh:
                fh.write("\n".join(lines) + "\n")
                fh.flush()
                os.fsync(fh.fileno())

    def _unique_ns(self, received_ms: int) -> int:
        base = max(received_ms * 1_000_000, self._last_ns + 1000)
        self._last_ns = base - base % 1000
        return self._last_ns + self.worker_index % 1000

    def reject_lines(self, topic: str, payload: bytes, received_ms: int, rejects: list[Reject]) -> list[str]:
        """``ingest_rejects`` line-protocol points (precision ns), one per reject."""
        out = []
        raw = None
        for r in rejects:
            if r.item_json is not None:
                shown = r.item_json
            else:
                if raw is None:
                    raw = _text(payload[:POINT_PAYLOAD_MAX_CHARS * 4])[0][:POINT_PAYLOAD_MAX_CHARS]
                shown = raw
            detail = r.detail if r.item is None else f"item {r.item}: {r.detail}"
            out.append(f"{REJECTS},reason={r.reason} enterprise_claimed={_field(r.enterprise_claimed[:64])},"
                       f"topic={_field(topic[:512])},detail={_field(detail[:512])},payload={_field(shown)} "
                       f"{self._unique_ns(received_ms)}")
        return out

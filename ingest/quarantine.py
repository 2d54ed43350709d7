"""Quarantine of invalid input: an append-only JSON-lines file plus ``ingest_rejects`` points.

File: ``ECM_STATE_DIR/ingest/quarantine/<tenant>.<client id>.<YYYY-MM-DD UTC>.jsonl`` (mode 0600:
raw payloads of every tenant), one line per message that had at least one reject::

    {"received_ms": 1709251200123, "topic": "ecm/v1/e01/e01_elec_main/reading",
     "payload": "<raw payload as text>", "payload_encoding": "utf-8" | "base64",
     "payload_bytes": 123, "truncated": false,
     "rejects": [{"reason": "ts_too_old", "detail": "...", "item": null}]}

``tenant`` is the topic's enterprise when registered, else ``_unregistered``. The raw payload is kept
up to 256 KiB (``truncated`` says when cut). Lines are fsync'd before the message is acked.

Quotas (``ECM_INGEST_QUARANTINE_TENANT_MAX_MB`` per tenant, ``ECM_INGEST_QUARANTINE_MAX_MB`` for
the folder): payloads are kept while a tenant's files and the folder are below 90 % of their cap.
Past that, lines keep the reason and metadata with ``"payload": null`` and ``"payload_omitted":
"tenant_cap" | "total_cap"`` (counted as ``quarantine_payloads_omitted``); at the cap itself no line
is written (``quarantine_lines_dropped``), and the ``ingest_rejects`` point (reason, topic, detail)
is the record. Usage is re-read from the folder at most once a second, so several workers share
the caps. A write that fails (disk full) is rolled back and raised: the caller stops acking. Measurement ``ingest_rejects`` (tag ``reason``; string fields
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

from ecm.schema import MEAS_INGEST_REJECTS
from ingest.payload import Reject

REJECTS = MEAS_INGEST_REJECTS
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


UNREGISTERED = "_unregistered"
PAYLOAD_FRAC = 0.9  # payloads are kept below this share of a cap; the rest is for payload-less lines


class Quarantine:
    """Writes quarantine lines for one worker; ``reject_lines`` builds the ns-precision points."""

    def __init__(self, directory: Path, name: str, worker_index: int, *, enterprises: frozenset[str] = frozenset(),
                 max_bytes: int = 1024 * 2**20, tenant_max_bytes: int = 64 * 2**20):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name, self.worker_index = name, worker_index
        self.enterprises = enterprises
        self.max_bytes, self.tenant_max_bytes = max_bytes, tenant_max_bytes
        self._last_ns = 0
        self._usage: dict[str, int] = {}
        self._total = 0
        self._scanned = 0.0
        self.payloads_omitted = 0
        self.lines_dropped = 0
        self.omitted_by_last_record: set[int] = set()  # ids of entries whose payload was left out

    def tenant_of(self, topic: str) -> str:
        parts = topic.split("/")
        return parts[2] if len(parts) > 2 and parts[2] in self.enterprises else UNREGISTERED

    def path_for(self, t_ms: int, tenant: str = UNREGISTERED) -> Path:
        return self.dir / f"{tenant}.{self.name}.{time.strftime('%Y-%m-%d', time.gmtime(t_ms / 1000))}.jsonl"

    def _rescan(self) -> None:
        if time.monotonic() - self._scanned < 1.0:
            return
        usage: dict[str, int] = {}
        total = 0
        for f in self.dir.iterdir():
            try:
                n = f.stat().st_size
            except OSError:
                continue
            total += n
            usage[f.name.split(".", 1)[0]] = usage.get(f.name.split(".", 1)[0], 0) + n
        self._usage, self._total, self._scanned = usage, total, time.monotonic()

    def _line(self, topic: str, payload: bytes, received_ms: int, rejects: list[Reject], omit: str | None) -> str:
        doc = {"received_ms": received_ms, "topic": topic, "payload": None, "payload_encoding": None,
               "payload_bytes": len(payload), "truncated": False,
               "rejects": [{"reason": r.reason, "detail": r.detail, "item": r.item} for r in rejects]}
        if omit is None:
            cut = payload[:FILE_PAYLOAD_MAX_BYTES]
            doc["payload"], doc["payload_encoding"] = _text(cut)
            doc["truncated"] = len(cut) < len(payload)
        else:
            doc["payload_omitted"] = omit
        return json.dumps(doc, ensure_ascii=False)

    def record(self, entries: list[tuple[str, bytes, int, list[Reject]]]) -> None:
        """Append ``[(topic, payload, received_ms, rejects)]`` durably (one fsync per file), within
        the caps. Raises OSError (after rolling the files back) when the disk refuses the write."""
        self.omitted_by_last_record = set()
        if not entries:
            return
        self._rescan()
        by_file: dict[Path, list[str]] = {}
        added: dict[str, int] = {}
        omitted = dropped = 0
        for k, (topic, payload, received_ms, rejects) in enumerate(entries):
            tenant = self.tenant_of(topic)
            used_t = self._usage.get(tenant, 0) + added.get(tenant, 0)
            used = self._total + sum(added.values())
            line = self._line(topic, payload, received_ms, rejects, None)
            n = len(line.encode("utf-8", "backslashreplace")) + 1
            if used_t + n > self.tenant_max_bytes * PAYLOAD_FRAC or used + n > self.max_bytes * PAYLOAD_FRAC:
                why = "tenant_cap" if used_t + n > self.tenant_max_bytes * PAYLOAD_FRAC else "total_cap"
                line = self._line(topic, payload, received_ms, rejects, why)
                n = len(line.encode("utf-8", "backslashreplace")) + 1
                self.omitted_by_last_record.add(k)
                if used_t + n > self.tenant_max_bytes or used + n > self.max_bytes:
                    dropped += 1
                    continue
                omitted += 1
            added[tenant] = added.get(tenant, 0) + n
            by_file.setdefault(self.path_for(received_ms, tenant), []).append(line)
        done: list[tuple[Path, int]] = []
        try:
            for path, lines in by_file.items():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                try:
                    done.append((path, os.fstat(fd).st_size))
                    data = ("\n".join(lines) + "\n").encode("utf-8", "backslashreplace")
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError:
            for path, size in done:  # no torn or partial lines: the whole record is retried
                try:
                    os.truncate(path, size)
                except OSError:
                    pass
            raise
        for t, n in added.items():
            self._usage[t] = self._usage.get(t, 0) + n
        self._total += sum(added.values())
        self.payloads_omitted += omitted
        self.lines_dropped += dropped

    def _unique_ns(self, received_ms: int) -> int:
        base = max(received_ms * 1_000_000, self._last_ns + 1000)
        self._last_ns = base - base % 1000
        return self._last_ns + self.worker_index % 1000

    def reject_lines(self, topic: str, payload: bytes, received_ms: int, rejects: list[Reject],
                     omit_payload: bool = False) -> list[str]:
        """``ingest_rejects`` line-protocol points (precision ns), one per reject (``payload`` empty
        when ``omit_payload``: the quarantine cap was reached)."""
        out = []
        raw = "" if omit_payload else None
        for r in rejects:
            if r.item_json is not None and not omit_payload:
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

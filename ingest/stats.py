"""Self-monitoring counters of one ingest worker, written to ``ingest_stats`` and a health file.

``ingest_stats`` (tag ``worker`` = client id; time = sample time, ms) fields, all cumulative since
the worker started unless named otherwise:

- ``messages_in``, ``messages_acked``: MQTT messages received / acknowledged (PUBACK sent)
- ``readings_in``: readings seen; ``points_written``: points durably stored (InfluxDB or spool)
- ``rejects_total`` and ``rejects_<reason>``: rejected readings by reason (see ingest/payload.py)
- ``spool_bytes``, ``spool_fill_frac`` (0–1), ``spool_alarm`` (1 when ≥ 80 % full),
  ``spooled_batches`` (batches appended to the spool), ``spool_records_replayed`` (spool records,
  i.e. write bodies, replayed into InfluxDB; named ``replayed_batches`` before, which it never
  counted); ``spool_records_corrupt`` (bad records skipped),
  ``spool_tails_torn`` (incomplete last records), ``spool_segments_damaged`` (segments moved to
  ``spool/<client id>/damaged/``)
- ``influx_up`` (1/0): the last write attempt succeeded
- ``write_latency_p50_ms``, ``write_latency_p99_ms``: duration of InfluxDB /write requests
- ``e2e_latency_p50_ms``, ``e2e_latency_p99_ms``: message received → durably stored
- ``devices_online``, ``devices_offline``: devices by last status message / last will
- ``uptime_s``
Latency percentiles cover the samples since the previous stats point.
"""
from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

from influxdb_client.client.write.point import _ESCAPE_KEY

from ecm.schema import MEAS_INGEST_STATS

STATS = MEAS_INGEST_STATS


def percentile(sorted_vals: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0–1) of an already sorted list; 0.0 when empty."""
    if not sorted_vals:
        return 0.0
    k = min(len(sorted_vals) - 1, max(0, int(round(q * len(sorted_vals) + 0.5)) - 1))
    return float(sorted_vals[k])


class Stats:
    """Counters and latency samples of one worker (updated by the processing thread only)."""

    def __init__(self, worker: str):
        self.worker = worker
        self.started = time.time()
        self.c: Counter = Counter()
        self.rejects: Counter = Counter()
        self.write_ms: list[float] = []
        self.e2e_ms: list[float] = []
        self.devices: dict[str, tuple[str, int]] = {}  # "enterprise/meter" -> (state, last seen ms)
        self.influx_up = 1
        self.spool_bytes = 0
        self.spool_fill_frac = 0.0
        self.spool_alarm = 0
        self._last_lat = {"write_latency_p50_ms": 0.0, "write_latency_p99_ms": 0.0,
                          "e2e_latency_p50_ms": 0.0, "e2e_latency_p99_ms": 0.0}

    def add_latency(self, write_ms: float | None, e2e_ms: list[float]) -> None:
        if write_ms is not None and len(self.write_ms) < 100_000:
            self.write_ms.append(write_ms)
        if len(self.e2e_ms) < 1_000_000:
            self.e2e_ms.extend(e2e_ms)

    def snapshot(self, reset: bool = True) -> dict:
        """Current figures as a flat dict (also the fields of the ingest_stats point); ``reset``
        starts a new latency window."""
        if reset and (self.write_ms or self.e2e_ms):
            w, e = sorted(self.write_ms), sorted(self.e2e_ms)
            self._last_lat = {"write_latency_p50_ms": percentile(w, .5), "write_latency_p99_ms": percentile(w, .99),
                              "e2e_latency_p50_ms": percentile(e, .5), "e2e_latency_p99_ms": percentile(e, .99)}
            self.write_ms, self.e2e_ms = [], []
        online = sum(1 for s, _ in self.devices.values() if s == "online")
        d = {k: int(v) for k, v in self.c.items()}
        d.update({f"rejects_{r}": int(n) for r, n in self.rejects.items()})
        d.update({"rejects_total": int(sum(self.rejects.values())), "influx_up": self.influx_up,
                  "spool_bytes": int(self.spool_bytes), "spool_fill_frac": float(self.spool_fill_frac),
                  "spool_alarm": int(self.spool_alarm), "devices_online": online,
                  "devices_offline": len(self.devices) - online,
                  "uptime_s": round(time.time() - self.started, 1)})
        d.update(self._last_lat)
        return d

    def line(self, snap: dict, t_ms: int) -> str:
        """The ``ingest_stats`` point (ms precision); ints get the ``i`` suffix, floats stay floats."""
        fields = ",".join(f"{k}={v}i" if isinstance(v, int) else f"{k}={float(v)!r}" for k, v in sorted(snap.items()))
        return f"{STATS},worker={self.worker.translate(_ESCAPE_KEY)} {fields} {t_ms}"

    def write_health(self, path: Path, snap: dict, extra: dict) -> None:
        """Atomically replace the worker's health JSON (read by ``ecm ingest status``; mode 0600, it
        names every tenant's devices)."""
        doc = {"worker": self.worker, "time_ms": int(time.time() * 1000), "pid": os.getpid(), **extra, "stats": snap,
               "devices": {k: {"state": s, "last_seen_ms": t} for k, (s, t) in sorted(self.devices.items())}}
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(doc, indent=1))
        os.replace(tmp, path)

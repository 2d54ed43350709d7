"""Python API of the simulator: backfill, real-time run, ground truth and statistics.

All times are Beijing (UTC+8) days and instants; the registry is an ``ecm.registry.Registry``.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from sim_devices.calendar import DAY_S, day_index
from sim_devices.faults import FaultConfig, Rows
from sim_devices.publisher import (Gateways, Packer, apply_faults, release_split, rows_between,
                                   stats_messages)
from sim_devices.window import (build_window, complete_months, monthly_stats_frame, to_sim_s)

log = logging.getLogger("sim_devices")
_TZ = timezone(timedelta(hours=8))


def _faults(faults, seed: int) -> FaultConfig | None:
    if faults is None or isinstance(faults, FaultConfig):
        fc = faults
    else:
        fc = FaultConfig.parse(faults, seed)
    if fc is not None:
        fc.seed = seed
    return fc if fc is not None and (fc.rates or fc.drifts) else None


def _progress(total: int, unit: str, enabled: bool, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, disable=not enabled, file=sys.stderr, desc=desc, leave=False)


def _chunk_days(windows, interval_s: int | None, batch_items: int) -> int:
    """Days per publishing chunk so one enterprise chunk fills about one batch (1..31)."""
    per_day = max(sum(86400 // int(interval_s or t.meter.interval_s) for t in w.tracks) for w in windows)
    return int(min(31, max(1, batch_items // max(per_day, 1))))


def backfill(registry, start: date, end: date, *, seed: int, faults=None, interval_s: int | None = None,
             host: str, port: int, state_dir: Path, progress: bool = True, batch_items: int = 500,
             publish_stats: bool = True) -> dict:
    """Publish Beijing days ``start``..``end`` (inclusive; readings up to the closing midnight)
    as fast as the broker acknowledges, in gateway batches of ≤ ``batch_items`` readings, QoS 1.

    Returns stats: readings, messages, bytes, seconds, readings_per_s, faults (counts per kind),
    enterprises, meters, stats_messages.
    """
    t0 = time.perf_counter()
    fc = _faults(faults, seed)
    windows = build_window(registry, start, end, seed, faults=fc)
    t_build = time.perf_counter() - t0
    gw = Gateways([w.enterprise.id for w in windows], host, port, state_dir)
    packers = {w.enterprise.id: Packer(w.enterprise.id, w.tracks, interval_s) for w in windows}
    pending = {w.enterprise.id: None for w in windows}
    d0, d1 = day_index(start), day_index(end)
    n_read = 0
    months = set(complete_months(start, end))
    stats = monthly_stats_frame(registry, min(months), max(months), seed) if (publish_stats and months) else None
    n_stats = 0
    bar = _progress(d1 - d0 + 1, "day", progress, "sim backfill")
    step = _chunk_days(windows, interval_s, batch_items) if fc is None or not fc.rates else 1  # faults decide per day
    try:
        for c0 in range(d0, d1 + 1, step):
            c1 = min(c0 + step - 1, d1)
            t_lo, t_hi = c0 * DAY_S, (c1 + 1) * DAY_S + (1 if c1 == d1 else 0)
            for w in windows:
                e = w.enterprise.id
                rows = rows_between(w.tracks, t_lo, t_hi, interval_s)
                n_read += len(rows.ts)
                rows, extras = apply_faults(fc, e, [t.meter for t in w.tracks], rows, c0, t_lo, t_hi)
                if pending[e] is not None:
                    rows = Rows.concat([pending[e], rows])
                    rows = rows.take(np.lexsort((rows.ts, rows.release)))
                now, pending[e] = release_split(rows, t_hi if c1 < d1 else 2**62)
                p = packers[e]
                msgs = p.batches(now, batch_items) + [p.extra(x) for x in extras]
                msgs.sort(key=lambda m: m[0])
                for _, topic, payload, retain in msgs:
                    gw.publish(e, topic, payload, retain)
            if stats is not None:
                for month in sorted(months):
                    if c0 <= day_index(pd.Period(month, freq="M").end_time.date()) <= c1:
                        for e, topic, payload in stats_messages(stats[stats.month == month]):
                            gw.publish(e, topic, payload)
                            n_stats += 1
            bar.update(c1 - c0 + 1)
            bar.set_postfix(readings=n_read, refresh=False)
        gw.drain()
    finally:
        bar.close()
        gw.close()
    secs = time.perf_counter() - t0
    return {"readings": n_read, "messages": gw.n_messages, "bytes": gw.n_bytes, "seconds": round(secs, 3),
            "build_seconds": round(t_build, 3), "readings_per_s": round(n_read / max(secs, 1e-9), 1),
            "faults": dict(fc.counts) if fc else {}, "enterprises": len(windows),
            "meters": sum(len(w.tracks) for w in windows), "stats_messages": n_stats}


def run(registry, *, seed: int, faults=None, interval_s: int | None = None, host: str, port: int,
        state_dir: Path, duration_s: float | None = None, start_at: datetime | None = None,
        speed: float | None = 1.0, block_s: int = 600, progress: bool = True, stop=None) -> dict:
    """Real-time publishing: each meter at its interval, one message per reading on its meter
    topic, as the (simulated) clock passes its timestamp. ``speed`` > 1 runs faster than real
    time, ``None`` as fast as possible (benchmarks). Stops after ``duration_s`` simulated
    seconds, or when ``stop`` (a threading.Event) is set. Returns readings, messages, cpu_s,
    wall_s, sim_s and the fault counts."""
    fc = _faults(faults, seed)
    now = start_at or datetime.now(_TZ)
    t_sim = to_sim_s(now)
    t_end = t_sim + duration_s if duration_s else None
    cpu0, wall0 = time.process_time(), time.monotonic()
    windows, w_days = None, (None, None)
    gw = None
    heap: list = []
    seq = itertools.count()
    n_read = 0
    block_lo = t_sim
    bar = _progress(int(duration_s) if duration_s else 0, "sim-s", progress, "sim run")
    try:
        while True:
            if stop is not None and stop.is_set():
                break
            if t_end is not None and block_lo >= t_end:
                break
            block_hi = block_lo + block_s if t_end is None else min(block_lo + block_s, t_end)
            day = block_lo // DAY_S
            if windows is None or not (w_days[0] <= day and (block_hi - 1) // DAY_S <= w_days[1]):
                first = date(2021, 1, 1) + timedelta(days=int(day))
                windows = build_window(registry, first, first + timedelta(days=1), seed, faults=fc)
                w_days = (day, day + 1)
                packers = {w.enterprise.id: Packer(w.enterprise.id, w.tracks, interval_s) for w in windows}
                if gw is None:
                    gw = Gateways([w.enterprise.id for w in windows], host, port, state_dir)
            for w in windows:
                e = w.enterprise.id
                for lo in range(block_lo, block_hi, DAY_S):
                    hi = min(block_hi, (lo // DAY_S + 1) * DAY_S)
                    rows = rows_between(w.tracks, lo, hi, interval_s)
                    n_read += len(rows.ts)
                    rows, extras = apply_faults(fc, e, [t.meter for t in w.tracks], rows, lo // DAY_S, lo, hi)
                    for m in packers[e].singles(rows) + [packers[e].extra(x) for x in extras]:
                        heapq.heappush(heap, (m[0], next(seq), e, m))
            while heap and heap[0][0] < block_hi:
                rel = heap[0][0]
                if speed:
                    wait = wall0 + (rel - t_sim) / speed - time.monotonic()
                    if wait > 0:
                        if stop is not None and stop.wait(wait):
                            break
                        elif stop is None:
                            time.sleep(wait)
                _, _, e, (_, topic, payload, retain) = heapq.heappop(heap)
                gw.publish(e, topic, payload, retain)
            bar.update(block_hi - block_lo)
            block_lo = block_hi
        if gw is not None:
            gw.drain()
    finally:
        bar.close()
        if gw is not None:
            gw.close()
    return {"readings": n_read, "messages": gw.n_messages if gw else 0, "cpu_s": round(time.process_time() - cpu0, 3),
            "wall_s": round(time.monotonic() - wall0, 3), "sim_s": block_lo - t_sim,
            "faults": dict(fc.counts) if fc else {}, "enterprises": len(windows or [])}

"""Hourly rollup: raw counters → consumption per meter and Beijing hour (``meter_hourly``)."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ecm.accounting.counters import FLAGS, counter_flags, counters_to_deltas, deltas_to_periods
from ecm.accounting.gaps import apportion_gaps
from ecm.periods import TZ
from ecm.pipeline.readings import load_readings
from ecm.schema import MEAS_METER_HOURLY as METER_HOURLY

log = logging.getLogger("ecm.pipeline.hourly")


def hourly_frame(readings: pd.DataFrame, counters: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, *,
                 meters: pd.DataFrame | None = None) -> pd.DataFrame:
    """See :func:`_hourly_frame`; ``attrs["reopened_from"]``: the earliest hour a gap closing in the
    window shares into (before ``start``), else None."""
    frame, reopened_from = _hourly_frame(readings, counters, start, end, meters=meters)
    frame.attrs["reopened_from"] = reopened_from
    return frame


def _hourly_frame(readings: pd.DataFrame, counters: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, *,
                  meters: pd.DataFrame | None = None):
    """Per meter and hour in (start, end] (pure). Counter meters: consumption in the field named by
    the meter's quantity, ``n_intervals``, ``completeness_frac``, ``flags`` and ``n_<flag>``
    (intervals per flag). With ``meters`` (the registry's meters_frame), every meter with readings
    in the hour also gets the readings_daily quality metrics of the hour
    (``ecm.quality_frames.HOURLY_QUALITY_COLUMNS``), so the nightly gate never reads raw rows.
    ``readings`` holds the window's readings plus each meter's carry-in reading and, so that a
    reading at the window's end is classified with its successor, the first reading after it."""
    from ecm.quality_frames import readings_hourly_metrics

    rc = readings[readings["meter"].isin(counters.index)]
    raw_deltas, issues = counters_to_deltas(rc, counters)
    deltas, split_issues = apportion_gaps(raw_deltas, "1h", TZ)   # a gap is shared linearly over its hours
    issues += split_issues
    gaps = raw_deltas[(raw_deltas["end"] > start) & (raw_deltas["start"] < start)
                      & raw_deltas["flags"].str.contains("gap", regex=False)] if len(raw_deltas) else raw_deltas
    reopened_from = gaps["start"].min().floor("h") if len(gaps) else None   # earlier hours a gap shares into
    per, more = deltas_to_periods(deltas, "1h", TZ, window=(start, end))
    if issues or more:  # the nightly run rebuilds the day's counter issues from n_<flag> (dq_result)
        log.info("hourly_counter_issues", extra={"n_issues": len(issues) + len(more), "start": start.isoformat()})
    out = pd.DataFrame(columns=["time", "enterprise", "meter", "quantity"])
    if not per.empty:
        per["quantity"] = per["meter"].map(counters["quantity"])
        out = per[["period_start", "enterprise", "meter", "quantity", "n_intervals", "completeness_frac", "flags"]].copy()
        for q in sorted(per["quantity"].unique()):
            out[q] = np.where(per["quantity"] == q, per["delta"], np.nan)
        out["time"] = out.pop("period_start").dt.tz_convert("UTC")
        out["n_intervals"] = out["n_intervals"].astype(int)
        if len(deltas):
            d = deltas[(deltas["end"] > start) & (deltas["end"] <= end)]
            hour = (d["end"] - pd.Timedelta(1, "ns")).dt.floor("h")
            for f in FLAGS:
                hit = d["flags"].str.contains(f, regex=False)
                n = hit.groupby([d["meter"], hour]).sum()
                n.index = n.index.set_names(["meter", "time"])
                out = out.merge(n.rename(f"n_{f}").reset_index(), on=["meter", "time"], how="left")
                out[f"n_{f}"] = out[f"n_{f}"].fillna(0).astype(int)
    if meters is None:
        return out, reopened_from
    flags = counter_flags(raw_deltas)   # the quality checks judge the readings, not the apportioned shares
    r = readings.reset_index(drop=True)
    t = pd.to_datetime(r["time"], utc=True)
    idx = np.floor(((t - start).dt.total_seconds().to_numpy() - 1e-9) / 3600.0)
    same_next = (r["meter"].to_numpy()[:-1] == r["meter"].to_numpy()[1:])
    parts = []
    for i in range(int(round((end - start) / pd.Timedelta(hours=1)))):
        h0 = start + pd.Timedelta(hours=i)
        inside = idx == i
        if not inside.any():
            continue
        sel = inside.copy()
        sel[:-1] |= inside[1:] & same_next           # each meter's carry-in reading
        sel[1:] |= inside[:-1] & same_next           # and its next reading (glitch context)
        parts.append(readings_hourly_metrics(r[sel], meters, h0, flags=flags).assign(time=h0))
    if not parts:
        return out, reopened_from
    qm = pd.concat(parts, ignore_index=True)
    if out.empty:
        return qm, reopened_from
    # merged for the caller; rollup_range writes the two parts apart so integer fields stay integers
    return out.merge(qm, on=["time", "enterprise", "meter", "quantity"], how="outer"), reopened_from


def _split(frame: pd.DataFrame) -> list[pd.DataFrame]:
    """The counter part and the quality part of an :func:`hourly_frame` (same series and time:
    InfluxDB merges their fields into one point), each without NaN-widened integer columns."""
    from ecm.quality_frames import HOURLY_QUALITY_COLUMNS

    key = ["time", "enterprise", "meter", "quantity"]
    qcols = [c for c in HOURLY_QUALITY_COLUMNS if c in frame.columns]
    ccols = [c for c in frame.columns if c not in key and c not in qcols]
    parts = []
    for cols, marker in ((ccols, "n_intervals"), (qcols, "n_received")):
        if marker in frame.columns:
            p = frame.loc[frame[marker].notna(), key + cols].copy()
            for c in cols:
                if c.startswith("n_") or c in ("stuck_head", "stuck_tail"):
                    p[c] = p[c].fillna(0).astype("int64")
            if "known_meter" in p.columns:
                p["known_meter"] = p["known_meter"].astype(bool)
            parts.append(p)
    return parts


def rollup_range(client, registry, start: pd.Timestamp, end: pd.Timestamp, *, chunk_enterprises: int = 40,
                 only_registry: bool = False) -> int:
    """Recompute ``meter_hourly`` for the hours in [start, end) (UTC, hour-aligned); overwrites.
    The only pass over raw readings: consumption and the quality metrics of every meter.
    ``only_registry``: clear only the series of ``registry``'s enterprises (a chunk of the
    district rolled up beside the others, e.g. in parallel processes)."""
    meters = registry.meters_frame()
    counters = meters[meters["kind"] == "counter"]
    quantities = sorted(meters["quantity"].unique())
    client.delete_range(METER_HOURLY, start, end,
                        tags={"enterprise": list(registry.enterprise_ids)} if only_registry else None)
    n, earliest = 0, None
    ids = registry.enterprise_ids
    for i in range(0, len(ids), chunk_enterprises):
        chunk = ids[i:i + chunk_enterprises]
        r = load_readings(client, quantities, start, end, enterprises=chunk, carry_out=pd.Timedelta(days=1))
        frame = hourly_frame(r, counters, start, end, meters=meters)
        for part in _split(frame) if len(frame) else []:
            n += client.write_frame(part, METER_HOURLY, ["enterprise", "meter", "quantity"])
        if frame.attrs.get("reopened_from") is not None:
            earliest = min(earliest or frame.attrs["reopened_from"], frame.attrs["reopened_from"])
    if earliest is not None and earliest < start:
        # a gap closing in this range is shared linearly into earlier hours (ecm.accounting.gaps): redo them
        log.info("gap_hours_reopened", extra={"from": earliest.isoformat(), "to": start.isoformat()})
        n += rollup_range(client, registry, earliest, start, chunk_enterprises=chunk_enterprises,
                          only_registry=only_registry)
    return n


def hours_of_days(days: list[str]) -> list[pd.Timestamp]:
    from datetime import date as _date

    from ecm.periods import day_bounds_utc

    out = []
    for d in days:
        s, _ = day_bounds_utc(_date.fromisoformat(d))
        out += [s + pd.Timedelta(hours=i) for i in range(24)]
    return out


def missing_hours(client, hours: list[pd.Timestamp]) -> list[pd.Timestamp]:
    """Those of ``hours`` without a quality row in ``meter_hourly`` (never rolled up, or rolled
    up before the hourly quality metrics existed)."""
    from ecm.influx import time_literal

    if not hours:
        return []
    lo, hi = min(hours), max(hours) + pd.Timedelta(hours=1)
    df = client.query_frame(f"SELECT count(n_received) AS n FROM {METER_HOURLY} WHERE time >= {time_literal(lo)} "
                            f"AND time < {time_literal(hi)} GROUP BY time(1h)")
    have = set(df.loc[df["n"].fillna(0) > 0, "time"]) if len(df) else set()
    return [h for h in hours if h not in have]


def ensure_days_rolled_up(days: list[str], late_hours: list[str] | None = None, *, client=None, registry=None) -> int:
    """DAG task: roll up the hours of ``days`` that have no rollup yet, and the ``late_hours``
    (ISO UTC starts holding late readings), so the nightly run reads only ``meter_hourly``."""
    from ecm.influx import InfluxClient

    client = client or InfluxClient.from_settings()
    todo = {h.isoformat() for h in missing_hours(client, hours_of_days(days))} | set(late_hours or [])
    n = rollup_hours(sorted(todo), client=client, registry=registry) if todo else 0
    log.info("nightly_rollup", extra={"days": days, "n_hours": len(todo), "n_points": n})
    return n


def rollup_hours(hours_iso: list[str], *, client=None, registry=None) -> int:
    """DAG task: roll up each listed hour (ISO UTC starts), contiguous hours in one pass."""
    from ecm.influx import InfluxClient
    from ecm.registry import get_registry

    client, registry = client or InfluxClient.from_settings(), registry or get_registry()
    hours = sorted(pd.Timestamp(h) for h in hours_iso)
    runs: list[list[pd.Timestamp]] = []
    for h in hours:
        if runs and h - runs[-1][-1] == pd.Timedelta(hours=1):
            runs[-1].append(h)
        else:
            runs.append([h])
    return sum(rollup_range(client, registry, run[0], run[-1] + pd.Timedelta(hours=1)) for run in runs)

"""Gap apportionment: a counter delta spanning several clock periods is shared linearly in time.

Rule (issue #12 §6; docs/contracts.md "Compliance verdict rules"): an interval ``(start, end]``
between two register readings measures the consumption of the whole span exactly, but not when
inside it the energy was used. Booking it whole to the period containing its end moves energy
across midnight or across 31 December into the next day or year. Instead the interval is cut at
every period boundary (Beijing time, Asia/Shanghai, no DST) it spans, and each piece gets
``delta × piece duration / interval duration`` — the linear (constant-rate) estimate, the only
one the two readings support. The pieces keep the interval's flags plus ``estimated``; their sum
equals the measured delta exactly, so period totals over the whole span are unchanged.

Plugs in between :func:`ecm.accounting.counters.counters_to_deltas` and
:func:`~ecm.accounting.counters.deltas_to_periods` (same columns in and out)::

    d, i1 = counters_to_deltas(readings, meters)
    d, i2 = apportion_gaps(d, "1D")          # or "1h"; "MS"/"YS" for month/year totals
    daily, i3 = deltas_to_periods(d, "1D")
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ecm.accounting.counters import DELTA_COLUMNS
from ecm.accounting.issues import Issue

TZ = "Asia/Shanghai"


def _boundaries(start_local: pd.Timestamp, end_local: pd.Timestamp, off) -> list[pd.Timestamp]:
    """Period boundaries strictly inside (start, end), naive local time."""
    if isinstance(off, pd.offsets.Tick):
        first = start_local.floor(off) + off
    else:                                   # calendar offsets (MS, YS): roll forward to the anchor
        first = off.rollforward(start_local.normalize())
        if first <= start_local:
            first = first + off
    if first >= end_local:
        return []
    return [b for b in pd.date_range(first, end_local, freq=off) if start_local < b < end_local]


def apportion_gaps(deltas: pd.DataFrame, freq: str = "1D", tz: str = TZ, *,
                   gaps_only: bool = True) -> tuple[pd.DataFrame, list[Issue]]:
    """Split counter intervals that span period boundaries, sharing their delta linearly in time.

    Inputs
    ------
    deltas : the interval frame of :func:`ecm.accounting.counters.counters_to_deltas` — columns
        ``enterprise``, ``meter``, ``start``, ``end`` (tz-aware UTC, interval ``(start, end]``),
        ``duration_s``, ``reading_start``, ``reading_end``, ``delta``, ``measured``, ``flags``.
    freq : the periods to respect, in ``tz``: a fixed frequency (``"1h"``, ``"1D"``) or a calendar
        one (``"MS"`` months, ``"YS"`` years).
    gaps_only : split only intervals flagged ``gap`` (default). Regular intervals are on the
        reporting grid and end on period boundaries; a jittered one crossing a boundary by seconds
        stays whole (booked to its end, as before) instead of being marked estimated.

    Output
    ------
    The same columns. Each split interval is replaced by its pieces ``(start_k, end_k]`` with
    ``delta`` × share of duration (NaN stays NaN, 0 stays 0), ``duration_s`` of the piece,
    ``reading_start``/``reading_end`` interpolated linearly (register value, unwrapped),
    ``measured`` as the interval, ``flags`` = interval flags + ``estimated``. Other rows unchanged;
    order by meter and time. Issue ``ecm.counters.gap_apportioned`` (non-blocking) per meter.
    """
    issues: list[Issue] = []
    if len(deltas) == 0:
        return deltas.copy(), issues
    off = pd.tseries.frequencies.to_offset(freq)
    start_l = deltas["start"].dt.tz_convert(tz).dt.tz_localize(None)
    end_l = deltas["end"].dt.tz_convert(tz).dt.tz_localize(None)
    if isinstance(off, pd.offsets.Tick):
        crosses = (end_l.dt.ceil(off) - start_l.dt.floor(off)) > pd.Timedelta(off)
    else:
        crosses = pd.Series(True, index=deltas.index)   # checked exactly per row below
    cand = crosses.to_numpy().copy()
    if gaps_only:
        cand &= deltas["flags"].astype(str).str.contains("gap", regex=False).to_numpy()
    keep = deltas[~cand]
    pieces = []
    split_meters: dict[str, int] = {}
    for idx in np.flatnonzero(cand):
        row = deltas.iloc[idx]
        bounds = _boundaries(start_l.iloc[idx], end_l.iloc[idx], off)
        if not bounds:
            keep = pd.concat([keep, deltas.iloc[[idx]]])
            continue
        edges = pd.DatetimeIndex([start_l.iloc[idx], *bounds, end_l.iloc[idx]]).tz_localize(tz).tz_convert("UTC")
        total_s = (edges[-1] - edges[0]).total_seconds()
        dur = (edges[1:] - edges[:-1]).total_seconds().to_numpy(float)
        share = dur / total_s
        cum = np.concatenate([[0.0], np.cumsum(share)])
        span = row["reading_end"] - row["reading_start"]
        flags = ",".join(f for f in [*str(row["flags"]).split(","), "estimated"] if f)
        pieces.append(pd.DataFrame({
            "enterprise": row["enterprise"], "meter": row["meter"], "start": edges[:-1], "end": edges[1:],
            "duration_s": dur, "reading_start": row["reading_start"] + span * cum[:-1],
            "reading_end": row["reading_start"] + span * cum[1:], "delta": row["delta"] * share,
            "measured": bool(row["measured"]), "flags": flags,
        }))
        split_meters[row["meter"]] = split_meters.get(row["meter"], 0) + 1
    out = pd.concat([keep, *pieces], ignore_index=True) if pieces else keep.reset_index(drop=True)
    out = out[DELTA_COLUMNS].sort_values(["meter", "start"], kind="stable").reset_index(drop=True)
    out["start"] = pd.to_datetime(out["start"], utc=True)
    out["end"] = pd.to_datetime(out["end"], utc=True)
    for meter, n in sorted(split_meters.items()):
        ent = deltas.loc[deltas["meter"] == meter, "enterprise"].iloc[0]
        issues.append(Issue("ecm.counters.gap_apportioned",
                            f"{meter}: {n} gap interval(s) shared linearly over the {freq} periods they span (estimated)",
                            {"meter": meter, "enterprise": ent, "n_intervals": n, "freq": freq}))
    return out, issues


def days_reopened(deltas: pd.DataFrame, window_start: pd.Timestamp, tz: str = TZ) -> list:
    """Beijing days before ``window_start`` that a gap closing inside the window also spans.

    A day computed while a gap was still open got none of the gap's consumption; once the reading
    that closes the gap arrives (in a later day's window), :func:`apportion_gaps` owes those earlier
    days their linear share, so they must be computed again. Input: the interval frame of
    :func:`ecm.accounting.counters.counters_to_deltas`; output: sorted ``datetime.date`` list.
    """
    if len(deltas) == 0:
        return []
    w0 = pd.Timestamp(window_start)
    g = deltas[deltas["flags"].astype(str).str.contains("gap", regex=False) & (deltas["start"] < w0)
               & (deltas["end"] > w0)]
    days = set()
    last = (w0.tz_convert(tz) - pd.Timedelta(seconds=1)).date()
    for s in g["start"]:
        d = s.tz_convert(tz).date()
        while d <= last:
            days.add(d)
            d = d + pd.Timedelta(days=1).to_pytimedelta()
    return sorted(days)

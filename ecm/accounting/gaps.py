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
    step = _fixed_step(off)
    if step:
        out, split_meters = _split_fixed(deltas, cand, start_l, end_l, step, tz)
    else:
        out, split_meters = _split_rows(deltas, cand, start_l, end_l, off, tz)
    out = out[DELTA_COLUMNS].sort_values(["meter", "start"], kind="stable").reset_index(drop=True)
    out["start"] = pd.to_datetime(out["start"], utc=True)
    out["end"] = pd.to_datetime(out["end"], utc=True)
    if split_meters:
        first_ent = deltas.drop_duplicates("meter").set_index("meter")["enterprise"]
    for meter, n in sorted(split_meters.items()):
        issues.append(Issue("ecm.counters.gap_apportioned",
                            f"{meter}: {n} gap interval(s) shared linearly over the {freq} periods they span (estimated)",
                            {"meter": meter, "enterprise": first_ent[meter], "n_intervals": n, "freq": freq}))
    return out, issues


def _estimated(flags) -> str:
    return ",".join(f for f in [*str(flags).split(","), "estimated"] if f)


def _fixed_step(off) -> int:
    """Nanoseconds between period boundaries in naive local time for fixed frequencies (``1h``,
    ``15min``, ``1D``: a calendar day is 24 h of local wall-clock time); 0 for calendar ones."""
    if isinstance(off, pd.offsets.Tick):
        return int(pd.Timedelta(off).value)
    if type(off) is pd.offsets.Day and off.n == 1:
        return 86_400 * 10**9
    return 0


def _split_fixed(deltas, cand, start_l, end_l, step, tz):
    """Fixed frequencies (1h, 1D): every candidate interval cut at once (numpy, no per-row frames).

    Same pieces as :func:`_split_rows`, to the bit: boundaries in naive local time, localised,
    shares of the UTC durations, cumulative shares added left to right as ``np.cumsum`` does."""
    idx = np.flatnonzero(cand)
    if len(idx) == 0:
        return deltas, {}
    step = np.int64(step)
    s_ns = start_l.to_numpy("datetime64[ns]").astype(np.int64)[idx]
    e_ns = end_l.to_numpy("datetime64[ns]").astype(np.int64)[idx]
    first = (s_ns // step) * step + step                      # floor(start) + off
    n_b = np.where(first < e_ns, -((first - e_ns) // step), 0)  # boundaries in [first, end)
    has = n_b > 0
    idx, s_ns, e_ns, first, n_b = idx[has], s_ns[has], e_ns[has], first[has], n_b[has]
    if len(idx) == 0:
        return deltas, {}
    n_p = n_b + 1                                             # pieces per interval
    row = np.repeat(np.arange(len(idx)), n_p)
    head = np.concatenate([[0], np.cumsum(n_p)[:-1]])
    pos = np.arange(len(row)) - np.repeat(head, n_p)         # piece number within its interval
    lo = np.where(pos == 0, s_ns[row], first[row] + (pos - 1) * step)
    hi = np.where(pos == n_b[row], e_ns[row], first[row] + pos * step)
    lo_u = pd.DatetimeIndex(lo.astype("datetime64[ns]")).tz_localize(tz).tz_convert("UTC")
    hi_u = pd.DatetimeIndex(hi.astype("datetime64[ns]")).tz_localize(tz).tz_convert("UTC")
    lo_i, hi_i = lo_u.asi8, hi_u.asi8
    unit = deltas["start"].dt.unit                           # the pieces keep the input's resolution
    lo_u, hi_u = lo_u.as_unit(unit), hi_u.as_unit(unit)
    dur = (hi_i - lo_i) / 1e9
    last = head + n_p - 1
    total_s = (hi_i[last] - lo_i[head]) / 1e9
    share = dur / total_s[row]
    cum1 = share.copy()                                       # running sum, left to right per interval
    for j in range(1, int(n_p.max())):
        at = np.flatnonzero(pos == j)
        cum1[at] = cum1[at - 1] + share[at]
    cum0 = np.where(pos == 0, 0.0, np.concatenate([[0.0], cum1[:-1]]))
    src = deltas.iloc[idx]
    r_start = src["reading_start"].to_numpy(float)[row]
    span = (src["reading_end"].to_numpy(float) - src["reading_start"].to_numpy(float))[row]
    flags = src["flags"].map(_estimated).to_numpy(object)
    pieces = pd.DataFrame({
        "enterprise": src["enterprise"].to_numpy(object)[row], "meter": src["meter"].to_numpy(object)[row],
        "start": lo_u, "end": hi_u, "duration_s": dur,
        "reading_start": r_start + span * cum0, "reading_end": r_start + span * cum1,
        "delta": src["delta"].to_numpy(float)[row] * share,
        "measured": src["measured"].to_numpy(bool)[row], "flags": flags[row],
    })
    keep = np.ones(len(deltas), bool)
    keep[idx] = False
    split = src["meter"].value_counts(sort=False)
    return pd.concat([deltas[keep], pieces], ignore_index=True), {str(m): int(n) for m, n in split.items()}


def _split_rows(deltas, cand, start_l, end_l, off, tz):
    """Calendar frequencies (MS, YS): interval by interval (few intervals span a month's end)."""
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
        pieces.append(pd.DataFrame({
            "enterprise": row["enterprise"], "meter": row["meter"], "start": edges[:-1], "end": edges[1:],
            "duration_s": dur, "reading_start": row["reading_start"] + span * cum[:-1],
            "reading_end": row["reading_start"] + span * cum[1:], "delta": row["delta"] * share,
            "measured": bool(row["measured"]), "flags": _estimated(row["flags"]),
        }))
        split_meters[row["meter"]] = split_meters.get(row["meter"], 0) + 1
    out = pd.concat([keep, *pieces], ignore_index=True) if pieces else keep.reset_index(drop=True)
    return out, split_meters


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

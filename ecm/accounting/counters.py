"""Cumulative meter registers → interval consumption → hourly/daily consumption.

Pure and vectorised (groupby-shift over millions of rows; Python loops only over the few
meters that raised an issue). Conventions:

* An interval is ``(start, end]`` between two consecutive readings of one meter; its ``delta``
  is the consumption in the meter's physical unit (kWh, m3, t, kg, GJ, m2 …).
* **Rollover**: the register drops and wrapping at ``register_max`` (10**digits) gives a plausible
  delta: ≤ ``max_rate_per_h`` × hours, or, for meters without a rate, < 10% of the register span.
  The wrapped delta is counted.
* **Reset / meter replacement**: a drop not explained by a plausible rollover. The consumption
  between the last old reading and the first new one is unknown; it is **not invented**:
  ``delta = 0``, ``measured = False`` (so it does not count toward completeness), flag ``reset``.
* **Glitch reading**: a single reading whose in-interval is rejected (reset or spike) while the
  next reading continues the counter (next ≥ previous, plausibly). That reading is dropped and
  its two intervals merge into one, flagged ``spike`` (the bad value) — real consumption is kept.
* **Gap**: an interval longer than 1.5 × the meter's expected interval; the delta is the
  measured consumption of the whole span (start, end] and is counted, flagged ``gap``.
* **Spike**: delta > ``max_rate_per_h`` × hours (physically impossible) → rejected,
  ``delta = NaN``, ``measured = False``, flag ``spike``.

NaN policy: readings with NaN ``value`` are dropped (issue); meters missing from the ``meters``
frame are dropped (blocking issue). A NaN ``register_max`` means no rollover, a NaN
``max_rate_per_h`` means no spike check.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ecm.accounting.issues import Issue
from ecm.periods import TZ
from ecm.schema import F_READING_VALUE

FLAGS = ("rollover", "reset", "gap", "spike", "estimated")   # estimated: set by ecm.accounting.gaps
GAP_FACTOR = 1.5                 # interval > 1.5 × expected → gap
ROLLOVER_SPAN_FRAC = 0.10        # without max_rate: wrapped delta must be < 10% of register span
REL_TOL = 1e-9                   # floating guard on "≤ max_rate × dt"
DELTA_COLUMNS = ["enterprise", "meter", "start", "end", "duration_s", "reading_start", "reading_end",
                 "delta", "measured", "flags"]
_ISSUES = {  # flag -> (issue name, blocking, message template)
    "rollover": ("ecm.counters.rollover", False, "register rolled over {n}× (wrapped delta counted)"),
    "reset": ("ecm.counters.reset_detected", False,
              "register reset/replaced {n}×: consumption across each reset unknown, not counted"),
    "gap": ("ecm.counters.gap_detected", False, "{n} interval(s) longer than 1.5× expected; delta covers the gap"),
    "spike": ("ecm.counters.spike_rejected", False, "{n} implausible interval(s)/reading(s) rejected (> max rate)"),
}


_FLAG_STRINGS = np.array([",".join(f for b, f in enumerate(FLAGS) if code >> b & 1) for code in range(1 << len(FLAGS))],
                         dtype=object)


def _join_flags(masks: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Comma-joined flag names per row, via a bit code and a lookup table (vectorised)."""
    code = np.zeros(n, dtype=np.int64)
    for bit, name in enumerate(FLAGS):
        code |= masks[name].astype(np.int64) << bit
    return _FLAG_STRINGS[code]


def interval_days(ends: pd.Series, tz: str = TZ) -> list[str]:
    """ISO days (in ``tz``) owning intervals that end at ``ends``: (start, end] is left-open, so an
    interval ending exactly at midnight belongs to the day before (as in :func:`deltas_to_periods`)."""
    e = pd.to_datetime(pd.Series(ends), utc=True).dt.tz_convert(tz) - pd.Timedelta(1, "ns")
    return sorted({d.isoformat() for d in e.dt.date})


def _pairs(df: pd.DataFrame, par: pd.DataFrame) -> pd.DataFrame:
    """Consecutive-reading intervals with rollover/reset/spike/gap classification."""
    g = df.groupby("meter", sort=False)
    prev_v = g[F_READING_VALUE].shift().to_numpy(float)
    prev_t = g["time"].shift()
    v = df[F_READING_VALUE].to_numpy(float)
    dt_s = (df["time"] - prev_t).dt.total_seconds().to_numpy(float)
    rmax = par["register_max"].to_numpy(float)
    max_allowed = par["max_rate_per_h"].to_numpy(float) * dt_s / 3600.0
    has_rate = np.isfinite(max_allowed)
    raw = v - prev_v
    with np.errstate(invalid="ignore"):
        drop = raw < 0
        wrapped = v + rmax - prev_v
        wrap_ok = np.where(has_rate, wrapped <= max_allowed * (1 + REL_TOL), wrapped < ROLLOVER_SPAN_FRAC * rmax)
        rollover = drop & np.isfinite(rmax) & (wrapped >= 0) & wrap_ok
        reset = drop & ~rollover
        delta = np.where(rollover, wrapped, np.where(reset, 0.0, raw))
        spike = ~reset & has_rate & (delta > max_allowed * (1 + REL_TOL))
        gap = dt_s > GAP_FACTOR * par["interval_s"].to_numpy(float)
    delta = np.where(spike, np.nan, delta)
    return pd.DataFrame({
        "enterprise": df["enterprise"].to_numpy(), "meter": df["meter"].to_numpy(),
        "start": prev_t.array, "end": df["time"].array, "duration_s": dt_s,
        "reading_start": prev_v, "reading_end": v, "delta": delta,
        "rollover": rollover, "reset": reset, "gap": gap, "spike": spike, "first": np.isnan(prev_v),
        "max_allowed": max_allowed,
    }, index=df.index)


def _glitches(p: pd.DataFrame) -> np.ndarray:
    """Readings whose in-interval was rejected while the next reading continues the counter."""
    g = p.groupby("meter", sort=False)
    rejected = (p["reset"] | p["spike"]).to_numpy()
    nxt_v = g["reading_end"].shift(-1).to_numpy(float)
    nxt_max = g["max_allowed"].shift(-1).to_numpy(float)
    merged = nxt_v - p["reading_start"].to_numpy(float)
    allowed = p["max_allowed"].to_numpy(float) + nxt_max
    with np.errstate(invalid="ignore"):
        plausible = (merged >= 0) & np.where(np.isfinite(allowed), merged <= allowed * (1 + REL_TOL), True)
    return rejected & ~p["first"].to_numpy() & np.isfinite(nxt_v) & plausible


def counters_to_deltas(readings: pd.DataFrame, meters: pd.DataFrame, *, expected_interval_s: float | None = None,
                       carry_in: pd.DataFrame | None = None) -> tuple[pd.DataFrame, list[Issue]]:
    """Turn cumulative register readings into per-interval consumption.

    Parameters
    ----------
    readings : columns ``time`` (tz-aware; converted to UTC), ``meter``, ``value`` (cumulative
        register, meter's physical unit), ``enterprise`` (optional: taken from ``meters`` if absent).
    meters : indexed by meter id; ``register_max`` (rollover modulus, e.g. 1e8 for 8 digits; NaN =
        none), ``max_rate_per_h`` (physical max per hour; NaN = no check), ``interval_s`` (expected
        reporting interval, s), optionally ``enterprise`` — as ``Registry.meters_frame()``.
    expected_interval_s : overrides every meter's ``interval_s`` for the gap rule.
    carry_in : the last reading before the window per meter (same columns), so consecutive
        windows chain; equivalent to including those rows in ``readings``.

    Returns
    -------
    frame : one row per interval: ``enterprise``, ``meter``, ``start``/``end`` (UTC, interval
        (start, end]), ``duration_s``, ``reading_start``/``reading_end`` (register), ``delta``
        (physical unit; 0 for reset, NaN for spike), ``measured`` (bool: delta is a measurement),
        ``flags`` (comma-joined subset of rollover, reset, gap, spike).
    issues : one per meter and flag kind, plus dropped-row issues.
    """
    issues: list[Issue] = []
    frames = [f for f in (carry_in, readings) if f is not None and len(f)]
    if not frames:
        return pd.DataFrame(columns=DELTA_COLUMNS), issues
    df = pd.concat(frames, ignore_index=True)
    if "enterprise" not in df.columns:
        ent = meters["enterprise"] if "enterprise" in meters.columns else pd.Series(dtype=object)
        df["enterprise"] = df["meter"].map(ent)
    df = df[["time", "enterprise", "meter", F_READING_VALUE]].copy()
    t = pd.to_datetime(df["time"])
    if t.dt.tz is None:
        raise ValueError("readings.time must be tz-aware (UTC)")
    df["time"] = t.dt.tz_convert("UTC")
    df[F_READING_VALUE] = pd.to_numeric(df[F_READING_VALUE], errors="coerce").astype(float)

    bad = df[F_READING_VALUE].isna()
    if bad.any():
        issues.append(Issue("ecm.counters.value_missing", f"{int(bad.sum())} reading(s) without a value dropped",
                            {"meters": sorted(df.loc[bad, "meter"].unique().tolist()), "n_readings": int(bad.sum())}))
        df = df[~bad]
    unknown = ~df["meter"].isin(meters.index)
    if unknown.any():
        ids = sorted(df.loc[unknown, "meter"].unique().tolist())
        u = df.loc[unknown]
        rows = [{"enterprise": e, "meter": m, "day": interval_days(g["time"])[-1]}
                for (e, m), g in u.groupby([u["enterprise"].astype(str), "meter"], sort=True)]
        issues.append(Issue("ecm.counters.unknown_meter", f"readings of {len(ids)} meter(s) not in the registry dropped",
                            {"meters": ids, "n_readings": int(unknown.sum()), "rows": rows}, blocking=True))
        df = df[~unknown]
    df = df.sort_values(["meter", "time"], kind="stable")
    dup = df.duplicated(["meter", "time"], keep="last")
    if dup.any():
        issues.append(Issue("ecm.counters.duplicate_reading", f"{int(dup.sum())} duplicate timestamp(s); last kept",
                            {"meters": sorted(df.loc[dup, "meter"].unique().tolist()), "n_readings": int(dup.sum())}))
        df = df[~dup]
    df = df.reset_index(drop=True)

    cols = ["register_max", "max_rate_per_h", "interval_s"]
    par = meters.reindex(columns=cols).astype(float).reindex(df["meter"].to_numpy()).reset_index(drop=True)
    if expected_interval_s is not None:
        par["interval_s"] = float(expected_interval_s)
    if par["interval_s"].isna().any():
        raise ValueError("expected interval unknown: give meters.interval_s or expected_interval_s")

    p = _pairs(df, par)
    glitch = _glitches(p)
    if glitch.any():
        # drop the glitch readings and classify again; the merged intervals are flagged spike
        # drop the glitch readings and classify again. A merged interval starts where the glitch's
        # in-interval started; it keeps its (plausible) measured delta and is flagged spike.
        gl = p.loc[glitch, ["meter", "start", "end"]]
        df, par = df[~glitch].reset_index(drop=True), par[~glitch].reset_index(drop=True)
        p = _pairs(df, par)
        merged = pd.MultiIndex.from_arrays([p["meter"], p["start"]]).isin(
            pd.MultiIndex.from_arrays([gl["meter"], gl["start"]]))
        p.loc[merged, "spike"] = True
        issues.append(Issue("ecm.counters.glitch_reading_dropped",
                            f"{int(glitch.sum())} isolated implausible reading(s) dropped; neighbours merged",
                            {"meters": sorted(gl["meter"].unique().tolist()),
                             "times": [str(x) for x in gl["end"].head(10)]}))
    p = p[~p["first"]]
    measured = ~(p["reset"] | (p["spike"] & p["delta"].isna()))
    masks = {k: p[k].to_numpy(bool) if k in p else np.zeros(len(p), dtype=bool) for k in FLAGS}
    out = p.assign(measured=measured.to_numpy(), flags=_join_flags(masks, len(p)))
    out = out[DELTA_COLUMNS].reset_index(drop=True)
    out["start"] = pd.to_datetime(out["start"], utc=True)
    out["end"] = pd.to_datetime(out["end"], utc=True)

    for flag in _ISSUES:
        hit = p[masks[flag]]
        if hit.empty:
            continue
        name, blocking, tmpl = _ISSUES[flag]
        for meter, grp in hit.groupby("meter", sort=True):
            issues.append(Issue(name, f"{meter}: " + tmpl.format(n=len(grp)), {
                "meter": meter, "enterprise": grp["enterprise"].iloc[0], "n_intervals": len(grp),
                "first_end": str(pd.Timestamp(grp["end"].iloc[0])), "last_end": str(pd.Timestamp(grp["end"].iloc[-1])),
                "days": interval_days(grp["end"]),
            }, blocking))
    return out, issues


def deltas_to_periods(deltas: pd.DataFrame, freq: str = "1h", tz: str = "Asia/Shanghai", *,
                      window: tuple[pd.Timestamp, pd.Timestamp] | None = None) -> tuple[pd.DataFrame, list[Issue]]:
    """Allocate interval deltas to clock periods (hours or days) in ``tz``.

    Rule: an interval ``(start, end]`` belongs wholly to the period containing its **end**, with
    periods also left-open: an interval ending exactly on 01:00 belongs to the 00:00–01:00 hour,
    and one ending on Beijing midnight to the day before. Nothing is pro-rated here: a gap interval
    spanning several periods lands in its last one (flag ``gap`` carried to that period) unless it
    was first split by :func:`ecm.accounting.gaps.apportion_gaps` (pieces flagged ``estimated``).

    ``completeness_frac`` = covered seconds / period seconds, where covered seconds are the
    overlap of *measured* intervals (not reset, not rejected spikes) with the receiving period.

    Parameters: ``deltas`` as returned by :func:`counters_to_deltas`; ``freq`` a fixed pandas
    frequency (``"1h"``, ``"1D"``, ``"15min"``); ``window`` = (start, end], tz-aware: keep only
    periods inside it and emit every period of the window for each meter present (empty → delta
    NaN, ``n_intervals`` 0, completeness 0).

    Returns columns ``enterprise``, ``meter``, ``period_start``, ``period_end`` (tz-aware in ``tz``),
    ``delta`` (physical unit, sum of measured deltas; NaN when nothing was measured), ``n_intervals``
    (int, all intervals ending in the period), ``covered_s``, ``completeness_frac`` ([0, 1]),
    ``flags`` (comma-joined union).
    """
    off = pd.tseries.frequencies.to_offset(freq)
    cols = ["enterprise", "meter", "period_start", "period_end", "delta", "n_intervals", "covered_s",
            "completeness_frac", "flags"]
    d = deltas
    if len(d):
        end_local = d["end"].dt.tz_convert(tz).dt.tz_localize(None)
        pend = end_local.dt.ceil(freq)
        pstart = pend - off
        period_start, period_end = pstart.dt.tz_localize(tz), pend.dt.tz_localize(tz)
        lo = d["start"].where(d["start"] > period_start, period_start.dt.tz_convert("UTC"))
        overlap = (d["end"] - lo).dt.total_seconds().clip(lower=0)
        measured = d["measured"].astype(bool)
        w = pd.DataFrame({
            "enterprise": d["enterprise"], "meter": d["meter"], "period_start": period_start, "period_end": period_end,
            "delta": d["delta"].where(measured), "covered_s": overlap.where(measured, 0.0), "one": 1,
            **{f: d["flags"].str.contains(f, regex=False) for f in FLAGS},
        })
        agg = w.groupby(["enterprise", "meter", "period_start"], sort=True, dropna=False).agg(
            period_end=("period_end", "first"), delta=("delta", "sum"), n_measured=("delta", "count"),
            n_intervals=("one", "sum"), covered_s=("covered_s", "sum"), **{f: (f, "any") for f in FLAGS},
        ).reset_index()
        agg["delta"] = agg["delta"].where(agg["n_measured"] > 0)
    else:
        agg = pd.DataFrame(columns=["enterprise", "meter", "period_start", "period_end", "delta", "n_intervals",
                                    "covered_s", *FLAGS])
    if window is not None:
        w0, w1 = (pd.Timestamp(x).tz_convert(tz) for x in window)
        agg = agg[(agg["period_start"] >= w0) & (agg["period_end"] <= w1)] if len(agg) else agg
        starts = pd.date_range(w0.tz_localize(None), w1.tz_localize(None), freq=freq, inclusive="left").tz_localize(tz)
        ids = deltas[["enterprise", "meter"]].drop_duplicates()
        grid = ids.merge(pd.DataFrame({"period_start": starts}), how="cross")
        agg = grid.merge(agg, on=["enterprise", "meter", "period_start"], how="left")
        agg["period_end"] = (agg["period_start"].dt.tz_localize(None) + off).dt.tz_localize(tz)
        agg["n_intervals"] = agg["n_intervals"].fillna(0)
        agg["covered_s"] = agg["covered_s"].fillna(0.0)
        for f in FLAGS:
            agg[f] = agg[f].fillna(False).astype(bool)
    if len(agg) == 0:
        return pd.DataFrame(columns=cols), []
    period_s = (agg["period_end"] - agg["period_start"]).dt.total_seconds()
    agg["n_intervals"] = agg["n_intervals"].astype(int)
    agg["delta"] = agg["delta"].astype(float)
    agg["completeness_frac"] = (agg["covered_s"].astype(float) / period_s).clip(0.0, 1.0)
    agg["flags"] = _join_flags({f: agg[f].to_numpy(bool) for f in FLAGS}, len(agg))
    return agg[cols].reset_index(drop=True), []


def counter_flags(deltas: pd.DataFrame) -> pd.DataFrame:
    """(``meter``, ``time``, ``flag``) rows, one per flag of each flagged interval of
    :func:`counters_to_deltas`, ``time`` being the interval's end reading. The data-quality gate
    (``ecm.quality_frames``) reads its rollover/reset verdicts from here, so the KPI run and
    ``ecm dq run`` classify a counter decrease with this one implementation."""
    f = deltas.loc[deltas["flags"] != "", ["meter", "end", "flags"]] if len(deltas) else deltas
    if f.empty:
        return pd.DataFrame({"meter": pd.Series(dtype=object), "time": pd.Series(dtype="datetime64[ns, UTC]"),
                             "flag": pd.Series(dtype=object)})
    f = f.assign(flag=f["flags"].str.split(",")).explode("flag")
    return f.rename(columns={"end": "time"})[["meter", "time", "flag"]].reset_index(drop=True)

"""Meter-day consumption from the hourly rollups, for days whose raw readings have expired.

``meter_hourly`` (kept forever, see ``ecm.retention``) holds each counter meter's consumption per
Beijing hour with ``n_intervals``, ``completeness_frac`` and ``flags``, computed by the same rule
as the daily path (``ecm.accounting.counters.deltas_to_periods``: an interval belongs to the period
holding its end). Hours nest in Beijing days, so a day is exactly the sum of its 24 hours:

* ``delta`` = Σ hourly consumption (NaN when no hour measured anything);
* ``n_intervals`` = Σ hourly intervals;
* ``completeness_frac`` = Σ hourly covered seconds / 86 400 = mean over the day's 24 hours, an
  hour without a row counting 0;
* ``flags`` = union of the hours' flags.

:func:`meter_day_from_hourly` has the signature and result of
``ecm.pipeline.daily.meter_day_consumption`` (with_quality is ignored: the raw-readings suite
needs raw readings), so ``compute_day(..., meter_days=meter_day_from_hourly)`` recomputes an old
month's KPIs. :func:`meter_days_for` picks the source from the raw retention.
"""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from ecm.accounting.counters import FLAGS
from ecm.influx import quote_ident, time_literal
from ecm.periods import TZ, day_bounds_utc
from ecm.pipeline.readings import enterprise_filter
from ecm.schema import MEAS_METER_HOURLY

HOURS_PER_DAY = 24


def _chunks(ids: list[str], n: int) -> list[list[str]]:
    return [ids[i:i + n] for i in range(0, len(ids), n)] or [[]]


def meter_day_from_hourly(client, registry, first: date, last: date | None = None, *,
                          chunk_enterprises: int = 20, with_quality: bool = False):
    """Per counter meter and Beijing day in [first, last], from ``meter_hourly``; returns
    ``(md, quality, issues)`` like ``meter_day_consumption``: ``quality`` is the readings_daily
    metrics frame summed from the hours' quality fields (single day with ``with_quality``, else
    None) and ``issues`` the counter issues rebuilt from the hours' ``n_<flag>`` counts."""
    from ecm.quality_frames import readings_daily_from_hourly

    last = last or first
    meters = registry.meters_frame()
    counters = meters[meters["kind"] == "counter"]
    quantities = sorted(counters["quantity"].unique())
    start, _ = day_bounds_utc(first)
    _, end = day_bounds_utc(last)
    fields = ", ".join(quote_ident(q) for q in quantities)
    flag_fields = ", ".join(quote_ident(f"n_{f}") for f in FLAGS)
    with_quality = with_quality and first == last
    parts = []
    for chunk in _chunks(registry.enterprise_ids, chunk_enterprises):
        # tags selected as columns, no GROUP BY: one series per answer, not one per meter
        sel = "*" if with_quality else f"{fields}, n_intervals, completeness_frac, flags, {flag_fields}, enterprise, meter"
        q = (f"SELECT {sel} FROM {quote_ident(MEAS_METER_HOURLY)} "
             f"WHERE time >= {time_literal(start)} AND time < {time_literal(end)}{enterprise_filter(chunk)}")
        df = client.query_frame(q)
        if len(df):
            parts.append(df)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    grid = pd.MultiIndex.from_product([counters.index, days], names=["meter", "day"]).to_frame(index=False)
    grid["enterprise"] = grid["meter"].map(counters["enterprise"])
    quality, issues = None, []
    h_all = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["time", "enterprise", "meter"])
    if with_quality:
        quality = readings_daily_from_hourly(h_all, meters, first)
    issues = _counter_issues(h_all, counters, first, last)
    if parts:
        h = h_all.drop(columns=[c for c in ("quantity",) if c in h_all.columns])
        for c in [*quantities, "n_intervals", "completeness_frac"]:   # SELECT * mixes gauge rows in: numbers stay numbers
            if c in h.columns:
                h[c] = pd.to_numeric(h[c], errors="coerce").astype("float64")
        h = h[h["meter"].isin(counters.index)]
        h = h[h["n_intervals"].notna()] if "n_intervals" in h.columns else h[:0]
        h["day"] = h["time"].dt.tz_convert(TZ).dt.date
        cols = [q for q in quantities if q in h.columns]
        h["delta"] = h[cols].sum(axis=1, min_count=1) if cols else np.nan
        h["flags"] = h["flags"].fillna("").astype(str)
        by = h.groupby(["meter", "day"])
        g = pd.DataFrame({"delta": by["delta"].sum(min_count=1), "n_intervals": by["n_intervals"].sum(),
                          "completeness_sum": by["completeness_frac"].sum()})
        # the union of the hours' flags, joined only where an hour carries any (most hours carry none)
        flagged = h[h["flags"] != ""]
        g["flags"] = "" if flagged.empty else flagged.groupby(["meter", "day"])["flags"].agg(
            lambda s: ",".join(sorted({f for v in s for f in v.split(",") if f}))).reindex(g.index).fillna("")
        grid = grid.merge(g.reset_index(), on=["meter", "day"], how="left")
    else:
        grid = grid.assign(delta=np.nan, n_intervals=0, completeness_sum=0.0, flags="")
    grid["n_intervals"] = grid["n_intervals"].fillna(0).astype(int)
    grid["completeness_frac"] = (grid.pop("completeness_sum").fillna(0.0) / HOURS_PER_DAY).clip(upper=1.0)
    grid["flags"] = grid["flags"].fillna("")
    md = grid[["day", "enterprise", "meter", "delta", "n_intervals", "completeness_frac", "flags"]]
    keep = [c for c in ("carrier", "quantity", "role", "line", "decommissioned") if c in counters.columns]
    md = md.merge(counters[keep], left_on="meter", right_index=True, how="left")
    return md, quality, issues


def quality_from_hourly(client, registry, day: date, *, chunk_enterprises: int = 50) -> pd.DataFrame:
    """The readings_daily metrics frame of ``day`` (what the quality gate validates) from the
    day's ``meter_hourly`` quality fields only: 24 rows a meter, never raw readings."""
    from ecm.quality_frames import HOURLY_QUALITY_COLUMNS, readings_daily_from_hourly

    start, end = day_bounds_utc(day)
    cols = ", ".join(quote_ident(c) for c in HOURLY_QUALITY_COLUMNS)
    parts = []
    for chunk in _chunks(registry.enterprise_ids, chunk_enterprises):
        df = client.query_frame(f"SELECT {cols}, enterprise, meter FROM {quote_ident(MEAS_METER_HOURLY)} "
                                f"WHERE time >= {time_literal(start)} AND time < {time_literal(end)}"
                                f"{enterprise_filter(chunk)} AND n_received >= 0")
        if len(df):
            parts.append(df)
    h = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["time", "enterprise", "meter"])
    return readings_daily_from_hourly(h, registry.meters_frame(), day)


def _counter_issues(h: pd.DataFrame, counters: pd.DataFrame, first: date, last: date) -> list:
    """One issue per meter and flag kind over [first, last] (``ecm.accounting.counters`` names and
    messages), from the hourly ``n_<flag>`` interval counts."""
    from ecm.accounting.counters import _ISSUES
    from ecm.accounting.issues import Issue

    out = []
    if h.empty:
        return out
    days = h["time"].dt.tz_convert(TZ).dt.date.map(date.isoformat)
    for flag, (name, blocking, tmpl) in _ISSUES.items():
        col = f"n_{flag}"
        if col not in h.columns:
            continue
        n = pd.to_numeric(h[col], errors="coerce").fillna(0)
        hit = h[n > 0].assign(n=n[n > 0], day=days[n > 0])
        for meter, g in hit.groupby("meter", sort=True):
            if meter not in counters.index:
                continue
            k = int(g["n"].sum())
            out.append(Issue(name, f"{meter}: " + tmpl.format(n=k), {
                "meter": meter, "enterprise": counters.at[meter, "enterprise"], "n_intervals": k,
                "days": sorted(set(g["day"]))}, blocking))
    return out


def meter_days_for(first: date, raw_retention_days: int, today: date | None = None):
    """The meter-day source for days from ``first``: ``None`` (raw readings, the default) while
    they are inside the raw retention, else :func:`meter_day_from_hourly`. Expiry drops only shard
    groups wholly older than the retention, so every day inside it is complete (one day of margin)."""
    from ecm.periods import TZ as _TZ

    today = today or pd.Timestamp.now(tz=_TZ).date()
    return meter_day_from_hourly if (today - first).days >= raw_retention_days - 1 else None

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
    ``(md, None, [])`` like ``meter_day_consumption``."""
    last = last or first
    meters = registry.meters_frame()
    counters = meters[meters["kind"] == "counter"]
    quantities = sorted(counters["quantity"].unique())
    start, _ = day_bounds_utc(first)
    _, end = day_bounds_utc(last)
    fields = ", ".join(quote_ident(q) for q in quantities)
    parts = []
    for chunk in _chunks(registry.enterprise_ids, chunk_enterprises):
        q = (f"SELECT {fields}, n_intervals, completeness_frac, flags FROM {quote_ident(MEAS_METER_HOURLY)} "
             f"WHERE time >= {time_literal(start)} AND time < {time_literal(end)}{enterprise_filter(chunk)} "
             f"GROUP BY enterprise, meter")
        df = client.query_frame(q)
        if len(df):
            parts.append(df)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    grid = pd.MultiIndex.from_product([counters.index, days], names=["meter", "day"]).to_frame(index=False)
    grid["enterprise"] = grid["meter"].map(counters["enterprise"])
    if parts:
        h = pd.concat(parts, ignore_index=True)
        h = h[h["meter"].isin(counters.index)]
        h["day"] = h["time"].dt.tz_convert(TZ).dt.date
        cols = [q for q in quantities if q in h.columns]
        h["delta"] = h[cols].sum(axis=1, min_count=1) if cols else np.nan
        h["flags"] = h["flags"].fillna("").astype(str)
        g = h.groupby(["meter", "day"]).agg(
            delta=("delta", lambda s: s.sum(min_count=1)), n_intervals=("n_intervals", "sum"),
            completeness_sum=("completeness_frac", "sum"),
            flags=("flags", lambda s: ",".join(sorted({f for v in s for f in v.split(",") if f}))))
        grid = grid.merge(g.reset_index(), on=["meter", "day"], how="left")
    else:
        grid = grid.assign(delta=np.nan, n_intervals=0, completeness_sum=0.0, flags="")
    grid["n_intervals"] = grid["n_intervals"].fillna(0).astype(int)
    grid["completeness_frac"] = (grid.pop("completeness_sum").fillna(0.0) / HOURS_PER_DAY).clip(upper=1.0)
    grid["flags"] = grid["flags"].fillna("")
    md = grid[["day", "enterprise", "meter", "delta", "n_intervals", "completeness_frac", "flags"]]
    md = md.merge(counters[["carrier", "quantity", "role", "line"]], left_on="meter", right_index=True, how="left")
    return md, None, []


def meter_days_for(first: date, raw_retention_days: int, today: date | None = None):
    """The meter-day source for days from ``first``: ``None`` (raw readings, the default) while
    they are inside the raw retention, else :func:`meter_day_from_hourly`. Expiry drops only shard
    groups wholly older than the retention, so every day inside it is complete (one day of margin)."""
    from ecm.periods import TZ as _TZ

    today = today or pd.Timestamp.now(tz=_TZ).date()
    return meter_day_from_hourly if (today - first).days >= raw_retention_days - 1 else None

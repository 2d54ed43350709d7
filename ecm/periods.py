"""Beijing-time (Asia/Shanghai) periods: days, months, years, and their UTC bounds.

Days, months and years of the platform are Beijing-time periods; InfluxDB stores UTC.
Pure functions: no clock, no environment.
"""
from __future__ import annotations

from datetime import date, datetime

import pandas as pd

TZ = "Asia/Shanghai"


def day_bounds_utc(day: date) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end) of a Beijing day as tz-aware UTC timestamps."""
    start = pd.Timestamp(day).tz_localize(TZ)
    return start.tz_convert("UTC"), (start + pd.Timedelta(days=1)).tz_convert("UTC")


def days_bounds_utc(first: date, last: date) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start of ``first``, end of ``last``) for an inclusive range of Beijing days, in UTC."""
    return day_bounds_utc(first)[0], day_bounds_utc(last)[1]


def month_start(day: date) -> date:
    return date(day.year, day.month, 1)


def month_bounds_utc(month: date) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end) of the Beijing month containing ``month``, in UTC."""
    start = pd.Timestamp(month_start(month)).tz_localize(TZ)
    return start.tz_convert("UTC"), (start + pd.offsets.MonthBegin(1)).tz_convert("UTC")


def beijing_day(ts) -> date:
    """The Beijing day a timestamp falls in."""
    t = pd.Timestamp(ts)
    t = t.tz_localize("UTC") if t.tzinfo is None else t
    return t.tz_convert(TZ).date()


def partition_day(conf: dict | None, data_interval_start: datetime | None) -> date:
    """The Beijing day a DAG run owns: ``conf["day"]`` when given (manual runs, ``ecm dag test``),
    otherwise the Beijing date of the data interval's start (scheduled runs)."""
    if conf and conf.get("day"):
        return date.fromisoformat(str(conf["day"]))
    if data_interval_start is None:
        raise ValueError("no day in conf and no data interval")
    return beijing_day(data_interval_start)


def hours_of_day(day: date) -> list[pd.Timestamp]:
    """The 24 hour starts (UTC) of a Beijing day."""
    start, _ = day_bounds_utc(day)
    return [start + pd.Timedelta(hours=h) for h in range(24)]


def month_ends(first: date, last: date) -> list[date]:
    """The last day of every month from ``first``'s to ``last``'s, the final one clipped to ``last``
    (the days a monthly compliance run is computed for)."""
    out, m = [], date(first.year, first.month, 1)
    while m <= last:
        nxt = (pd.Timestamp(m) + pd.offsets.MonthBegin(1)).date()
        out.append(min(nxt - pd.Timedelta(days=1), last))
        m = nxt
    return out

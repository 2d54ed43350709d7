"""Partition keys of DAG runs (Beijing-time hours, days and months)."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd

from ecm.periods import TZ, partition_day


def partition_day_str(conf: dict | None, data_interval_start: datetime | None) -> str:
    """ISO Beijing day a daily run owns (see :func:`ecm.periods.partition_day`)."""
    return partition_day(conf, data_interval_start).isoformat()


def partition_hour(conf: dict | None, data_interval_start: datetime | None) -> str:
    """ISO UTC start of the Beijing hour an hourly run owns (``conf["hour"]`` wins)."""
    if conf and conf.get("hour"):
        ts = pd.Timestamp(conf["hour"])
    elif data_interval_start is not None:
        ts = pd.Timestamp(data_interval_start)
    else:
        raise ValueError("no hour in conf and no data interval")
    ts = ts.tz_localize(TZ) if ts.tzinfo is None else ts
    return ts.tz_convert("UTC").floor("h").isoformat()


def partition_month_day(conf: dict | None, logical_date: datetime | None) -> str:
    """ISO Beijing day whose month (to date) a compliance run computes.

    ``conf["day"]`` wins; otherwise the Beijing day before the run's logical date, so the run
    on the 1st at 03:00 closes the previous month and asset-triggered runs refresh yesterday's month.
    """
    if conf and conf.get("day"):
        return date.fromisoformat(str(conf["day"])).isoformat()
    if logical_date is None:
        raise ValueError("no day in conf and no logical date")
    return (pd.Timestamp(logical_date).tz_convert(TZ).date() - timedelta(days=1)).isoformat()

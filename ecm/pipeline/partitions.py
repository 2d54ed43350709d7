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


def event_days(triggering_asset_events) -> list[str]:
    """ISO days named by the ``day`` extra of the asset events that triggered a run (the upstream
    task sets it: ``outlet_events[asset].extra = {"day": …}``)."""
    days = []
    for events in (triggering_asset_events or {}).values():
        for e in events or []:
            extra = getattr(e, "extra", None) or (e.get("extra") if isinstance(e, dict) else None) or {}
            if extra.get("day"):
                days.append(date.fromisoformat(str(extra["day"])).isoformat())
    return sorted(set(days))


def partition_month_day(conf: dict | None, logical_date: datetime | None, triggering_asset_events=None) -> str:
    """ISO Beijing day whose month (to date) a compliance run — or the report built on it — covers.

    ``conf["day"]`` wins; then the latest day named by the triggering asset events (the day the
    upstream run computed); otherwise the Beijing day before the run's logical date, so the
    scheduled run on the 1st at 03:00 closes the previous month.
    """
    if conf and conf.get("day"):
        return date.fromisoformat(str(conf["day"])).isoformat()
    days = event_days(triggering_asset_events)
    if days:
        return days[-1]
    if logical_date is None:
        raise ValueError("no day in conf and no logical date")
    return (pd.Timestamp(logical_date).tz_convert(TZ).date() - timedelta(days=1)).isoformat()

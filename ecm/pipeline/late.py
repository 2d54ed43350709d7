"""Late data: readings that arrived after their period was computed.

Every reading carries ``received_ms`` (bridge receive time). A run that owns period P also
recomputes every earlier period (within the ingest max age) holding a reading received in the
run's own receive window (since the previous run, up to its own scheduled start). Counter intervals are attributed to the period containing their end
((start, end] convention), and a reading exactly on a boundary also closes the interval before
it, so an hour or day is marked when a late reading falls in it or on its end boundary.
Recomputing an unaffected period is harmless: results are overwritten with identical values.
"""
from __future__ import annotations

from datetime import date

import pandas as pd

from ecm.influx import InfluxClient, time_literal
from ecm.periods import TZ, day_bounds_utc
from ecm.schema import MEAS_READINGS


def _ms(ts: pd.Timestamp) -> int:
    return int(ts.value // 1_000_000)


def late_hour_starts(client: InfluxClient, before: pd.Timestamp, received_since: pd.Timestamp,
                     received_until: pd.Timestamp, max_age: pd.Timedelta) -> list[pd.Timestamp]:
    """UTC starts of hours (before ``before``) holding readings received in
    [``received_since``, ``received_until``): the run's own receive window, so a re-run long after
    the fact (or a historical backfill) does not mistake old arrivals for late ones."""
    q = (f"SELECT count(received_ms) AS n FROM {client.readings_from} WHERE time > {time_literal(before - max_age)} "
         f"AND time <= {time_literal(before)} AND received_ms >= {_ms(received_since)} "
         f"AND received_ms < {_ms(received_until)} GROUP BY time(1h)")
    df = client.query_frame(q)
    if df.empty:
        return []
    df = df[df["n"].fillna(0) > 0]
    hours = set()
    for t in df["time"]:
        # a reading in [t, t+1h) closes an interval of hour t, or of hour t-1 if it sits on t exactly
        hours.add(t)
        hours.add(t - pd.Timedelta(hours=1))
    return sorted(h for h in hours if h < before)


def find_late_hours(hour_iso: str) -> list[str]:
    """Hours before ``hour_iso`` (ISO UTC) to roll up again because of late readings."""
    from ecm.settings import get_settings

    s = get_settings()
    hour = pd.Timestamp(hour_iso)
    # the run for hour H starts at H+1h05: it owns arrivals in [H, H+1h05)
    hours = late_hour_starts(InfluxClient.from_settings(), hour, hour, hour + pd.Timedelta(minutes=65),
                             pd.Timedelta(seconds=s.ingest_max_age_s))
    return [h.isoformat() for h in hours]


def find_late_day_hours(day_iso: str) -> list[str]:
    """UTC hour starts (ISO) before Beijing day ``day_iso`` holding readings that arrived during
    the nightly run's window: the hours to roll up again before the late days are recomputed."""
    from ecm.settings import get_settings

    s = get_settings()
    start, end = day_bounds_utc(date.fromisoformat(day_iso))
    hours = late_hour_starts(InfluxClient.from_settings(), start, start, end + pd.Timedelta(hours=1),
                             pd.Timedelta(seconds=s.ingest_max_age_s))
    return [h.isoformat() for h in hours]


def find_late_days(day_iso: str) -> list[str]:
    """Beijing days before ``day_iso`` to recompute because readings for them arrived late:
    received during the run's window [``day_iso`` 00:00, next day 01:00) Beijing, i.e. after the
    previous nightly run had computed them."""
    from ecm.settings import get_settings

    s = get_settings()
    start, end = day_bounds_utc(date.fromisoformat(day_iso))
    # the nightly run for day D starts at D+1 01:00 Beijing: it owns arrivals in [D 00:00, D+1 01:00)
    hours = late_hour_starts(InfluxClient.from_settings(), start, start, end + pd.Timedelta(hours=1),
                             pd.Timedelta(seconds=s.ingest_max_age_s))
    days = {h.tz_convert(TZ).date().isoformat() for h in hours}
    return sorted(d for d in days if d < day_iso)

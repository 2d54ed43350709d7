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


#: the hourly run for hour H starts at H+1h05, the nightly run for day D at D+1 01:00 Beijing
HOURLY_RUN_DELAY = pd.Timedelta(minutes=65)
NIGHTLY_RUN_DELAY = pd.Timedelta(hours=25)


def hourly_receive_window(hour: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Arrivals the run for ``hour`` owns: [H+0h05, H+1h05), from the previous hour's run start to
    its own. A reading stamped H that arrives at H+2 s closes hour H-1's last interval on time (the
    run for H-1 starts at H+0h05 and sees it): it is not late, and H-1 is not rolled up twice."""
    return hour + HOURLY_RUN_DELAY - pd.Timedelta(hours=1), hour + HOURLY_RUN_DELAY


def nightly_receive_window(day_iso: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Arrivals the nightly run for Beijing day D owns: [D 01:00, D+1 01:00) Beijing, from the
    previous night's run start to its own (the reading at D 00:00 that closes D-1 arrives before the
    run for D-1 starts, so D-1 is not recomputed every night)."""
    start, _ = day_bounds_utc(date.fromisoformat(day_iso))
    return start + NIGHTLY_RUN_DELAY - pd.Timedelta(days=1), start + NIGHTLY_RUN_DELAY


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
    hours = late_hour_starts(InfluxClient.from_settings(), hour, *hourly_receive_window(hour),
                             pd.Timedelta(seconds=s.ingest_max_age_s))
    return [h.isoformat() for h in hours]


def find_late_day_hours(day_iso: str) -> list[str]:
    """UTC hour starts (ISO) before Beijing day ``day_iso`` holding readings that arrived during
    the nightly run's window: the hours to roll up again before the late days are recomputed."""
    from ecm.settings import get_settings

    s = get_settings()
    start, _ = day_bounds_utc(date.fromisoformat(day_iso))
    hours = late_hour_starts(InfluxClient.from_settings(), start, *nightly_receive_window(day_iso),
                             pd.Timedelta(seconds=s.ingest_max_age_s))
    return [h.isoformat() for h in hours]


def find_late_days(day_iso: str) -> list[str]:
    """Beijing days before ``day_iso`` to recompute because readings for them arrived late:
    received during the run's window (:func:`nightly_receive_window`), i.e. after the previous
    nightly run had computed them."""
    from ecm.settings import get_settings

    s = get_settings()
    start, _ = day_bounds_utc(date.fromisoformat(day_iso))
    hours = late_hour_starts(InfluxClient.from_settings(), start, *nightly_receive_window(day_iso),
                             pd.Timedelta(seconds=s.ingest_max_age_s))
    days = {h.tz_convert(TZ).date().isoformat() for h in hours}
    return sorted(d for d in days if d < day_iso)

"""The late-data windows on a real InfluxDB: a run owns the arrivals since the previous run started,
so on-time readings that close the previous period are not mistaken for late ones (which made every
nightly run recompute the day before, and every hourly run roll the previous hour up twice)."""
from __future__ import annotations

import dataclasses
from datetime import date

import pandas as pd
import pytest

pytestmark = pytest.mark.integration
DAY = date(2024, 3, 10)


def _line(t: pd.Timestamp, received: pd.Timestamp, v: float) -> str:
    return (f"readings,enterprise=e01,meter=e01_elec_main,quantity=energy_kwh energy_kwh={v},"
            f"received_ms={received.value // 1_000_000}i {t.value // 1_000_000}")


def test_nightly_and_hourly_windows_own_only_arrivals_since_the_previous_run(stack):
    from ecm.influx import InfluxClient
    from ecm.pipeline.late import hourly_receive_window, late_hour_starts, nightly_receive_window
    from ecm.periods import TZ, day_bounds_utc

    client = InfluxClient(dataclasses.replace(stack.client("admin").cfg, db="ecm_late_window"))
    client.create_database()
    start, _ = day_bounds_utc(DAY)
    on_time = pd.Timedelta(seconds=1.5)
    t_mid = start + pd.Timedelta(hours=-36)                    # 2024-03-08 12:00 Beijing
    client.write_lines([
        _line(start, start + on_time, 100.0),                  # closes 03-09's last interval, on time
        _line(start + pd.Timedelta(hours=5), start + pd.Timedelta(hours=5) + on_time, 110.0),
        _line(t_mid, start + pd.Timedelta(hours=3), 50.0),     # 03-08's reading re-sent at 03:00 on 03-10
    ])
    max_age = pd.Timedelta(days=30)

    # the nightly run for 03-10 (at 03-11 01:00) owns [03-10 01:00, 03-11 01:00) Beijing
    since, until = nightly_receive_window(DAY.isoformat())
    assert (since.tz_convert(TZ).isoformat(), until.tz_convert(TZ).isoformat()) == (
        "2024-03-10T01:00:00+08:00", "2024-03-11T01:00:00+08:00")
    hours = late_hour_starts(client, start, since, until, max_age)
    assert sorted({h.tz_convert(TZ).date().isoformat() for h in hours}) == ["2024-03-08"]

    # the hourly run for 00:00-01:00 on 03-10 (at 01:05) owns [00:05, 01:05): the 00:00 reading that
    # arrived at 00:00:01.5 belongs to the run for 23:00-24:00 (at 00:05), which saw it
    since, until = hourly_receive_window(start)
    assert (since - start, until - start) == (pd.Timedelta(minutes=5), pd.Timedelta(minutes=65))
    assert late_hour_starts(client, start, since, until, max_age) == []
    # while the run for 23:00-24:00 on 03-09 owns it, and rolls nothing before its own hour again
    prev = start - pd.Timedelta(hours=1)
    assert late_hour_starts(client, prev, *hourly_receive_window(prev), max_age) == []

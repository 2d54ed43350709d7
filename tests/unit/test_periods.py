"""Beijing-time periods and DAG partition keys."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pandas as pd

from ecm.periods import day_bounds_utc, month_bounds_utc, partition_day
from ecm.pipeline.partitions import partition_hour, partition_month_day


def test_beijing_day_is_utc_minus_eight_hours():
    start, end = day_bounds_utc(date(2024, 3, 1))
    # 2024-03-01 00:00 +08:00 == 2024-02-29 16:00 UTC (leap year)
    assert start == pd.Timestamp("2024-02-29T16:00:00Z")
    assert end == pd.Timestamp("2024-03-01T16:00:00Z")


def test_month_bounds():
    start, end = month_bounds_utc(date(2024, 12, 15))
    assert start == pd.Timestamp("2024-11-30T16:00:00Z")
    assert end == pd.Timestamp("2024-12-31T16:00:00Z")


def test_partition_day_conf_wins_else_interval_start_in_beijing():
    assert partition_day({"day": "2024-05-06"}, None) == date(2024, 5, 6)
    # a scheduled run's interval starts 2024-05-06 01:00 Beijing = 2024-05-05 17:00 UTC
    assert partition_day({}, datetime(2024, 5, 5, 17, 0, tzinfo=timezone.utc)) == date(2024, 5, 6)


def test_partition_hour_and_month_day():
    assert partition_hour({"hour": "2024-05-06T10:30:00+08:00"}, None) == "2024-05-06T02:00:00+00:00"
    # the run on the 1st at 03:00 Beijing (2024-05-31 19:00 UTC) closes May
    assert partition_month_day(None, datetime(2024, 5, 31, 19, 0, tzinfo=timezone.utc)) == "2024-05-31"


def test_month_ends_clip_the_last_month():
    from ecm.periods import month_ends

    # Jan 2024 ends on the 31st, Feb 2024 (leap year) on the 29th, March is cut at the 2nd
    assert month_ends(date(2024, 1, 15), date(2024, 3, 2)) == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 2)]


def test_asset_triggered_runs_take_the_day_the_upstream_run_named():
    class Event:
        def __init__(self, day):
            self.extra = {"day": day}

    events = {"influxdb://ecm/kpi_daily": [Event("2022-03-01"), Event("2022-02-28")]}
    # a backfilled 2022 day triggers the month of that day, not the month of the wall clock
    assert partition_month_day(None, datetime(2026, 11, 28, 1, 5, tzinfo=timezone.utc), events) == "2022-03-01"
    assert partition_month_day({"day": "2024-01-05"}, None, events) == "2024-01-05"

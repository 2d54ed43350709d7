"""``ecm.history.import_days`` (a calendar year per pass, writes overlapping the next compute)
writes exactly the rows of ``run_days(..., gate="history")`` (a month per pass), on a real InfluxDB
over the default district's daily registers across a year end."""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from ecm.history import passes

from .helpers import client_for, start_influx

pytestmark = pytest.mark.integration
DERIVED = ("kpi_daily", "energy_daily", "line_daily")


def test_passes_are_contiguous_runs_within_a_year():
    d = date(2023, 12, 30)
    days = [d + timedelta(days=i) for i in range(4)] + [date(2024, 1, 10), date(2024, 1, 11)]
    assert passes(days) == [[date(2023, 12, 30), date(2023, 12, 31)], [date(2024, 1, 1), date(2024, 1, 2)],
                            [date(2024, 1, 10), date(2024, 1, 11)]]
    assert [len(p) for p in passes([date(2024, 1, 1) + timedelta(days=i) for i in range(366)], max_days=200)] == [200, 166]


def _snapshot(client, first: date, last: date) -> dict[str, pd.DataFrame]:
    from ecm.periods import day_bounds_utc

    s, _ = day_bounds_utc(first)
    _, e = day_bounds_utc(last)
    out = {}
    for m in DERIVED:
        df = client.query_frame(f"SELECT * FROM {m} WHERE time >= '{s.isoformat()}' AND time < '{e.isoformat()}'")
        out[m] = df.sort_values(sorted(df.columns)).reset_index(drop=True)
    acc = client.query_frame(f"SELECT * FROM dq_result WHERE suite = 'accounting_daily' AND time >= '{s.isoformat()}' "
                             f"AND time < '{e.isoformat()}'")
    out["dq_result"] = acc.sort_values(sorted(acc.columns)).reset_index(drop=True) if len(acc) else acc
    return out


def test_year_passes_write_the_rows_of_month_passes(tmp_path):
    from ecm.bench.history import _readings
    from ecm.factors import get_factors
    from ecm.history import import_days
    from ecm.pipeline.daily import run_days
    from ecm.registry import get_registry
    from ecm.schema import MEAS_READINGS
    from ecm.stats import MEASUREMENT, stats_to_frame
    from sim_devices.window import monthly_stats_frame

    reg, factors = get_registry(), get_factors()
    first, last = date(2023, 11, 20), date(2024, 2, 5)
    svc = start_influx(tmp_path / "influx", "hist", reg)
    try:
        client = client_for(svc, raw_rp="")
        for df in _readings(reg, first, last, 7):
            client.write_frame(df, MEAS_READINGS, ["enterprise", "meter", "quantity"])
        client.write_frame(stats_to_frame(monthly_stats_frame(reg, "2023-11", "2024-02", 7)), MEASUREMENT, ["enterprise"])
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        by_month = run_days(days, client=client, registry=reg, factors=factors, gate="history")
        before = _snapshot(client, first, last)
        seen: list[date] = []
        by_year = import_days(days, client=client, registry=reg, factors=factors, progress=seen.append)
        after = _snapshot(client, first, last)
    finally:
        svc.stop()
    assert sorted(seen) == days and by_year == by_month
    # every enterprise has a kpi_daily row every day (20 enterprises × 78 days)
    assert len(after["kpi_daily"]) == len(reg.enterprise_ids) * len(days)
    assert len(after["line_daily"]) > 0 and len(after["energy_daily"]) > len(after["kpi_daily"])
    for m in DERIVED:
        pd.testing.assert_frame_equal(after[m], before[m], check_exact=True, obj=m)
    # blocking issues are located identically; the informational notes that count a meter's
    # intervals over the pass (e.g. "43 interval(s) longer than 1.5× expected") say so with the
    # pass's count, so only their texts differ: the same notes on the same subjects and days
    acc = [before["dq_result"], after["dq_result"]]
    blk = [df[df["blocking"] == True].drop(columns="time").sort_values(["expectation", "enterprise", "period"])  # noqa: E712
           .reset_index(drop=True) for df in acc]
    pd.testing.assert_frame_equal(blk[1], blk[0], check_exact=True, obj="dq_result blocking")
    notes = [set(df.loc[df["blocking"] == False, ["expectation", "enterprise", "severity", "subject", "period"]]  # noqa: E712
                 .itertuples(index=False)) for df in acc]
    assert notes[1] == notes[0] and len(notes[0]) > 0


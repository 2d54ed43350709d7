"""The daily run mapped over enterprise chunks (``ecm_daily_kpis``: ``quality_gate`` and
``compute_kpis`` expanded per chunk) writes exactly the rows of one whole-district run."""
from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from ecm.periods import day_bounds_utc

pytestmark = pytest.mark.integration

MEASUREMENTS = ("energy_daily", "line_daily", "kpi_daily", "dq_result")


def _day_rows(client, day) -> dict[str, pd.DataFrame]:
    s, e = day_bounds_utc(day)
    out = {}
    for m in MEASUREMENTS:
        df = client.query_frame(f"SELECT * FROM {m} WHERE time >= '{s.isoformat()}' AND time < '{e.isoformat()}'")
        keys = [c for c in ("time", "suite", "expectation", "enterprise", "carrier", "line", "severity")
                if c in df.columns]
        out[m] = df.sort_values(keys).reset_index(drop=True)[sorted(df.columns)]
    return out


def _run(days, enterprise_chunks_, extra_blocked):
    from ecm.pipeline.daily import compute_daily_kpis, merge_gates, run_quality_gate

    gates = [run_quality_gate(days, chunk) for chunk in enterprise_chunks_]
    blocked = merge_gates([*gates, extra_blocked])
    for chunk in enterprise_chunks_:
        compute_daily_kpis(days, blocked, chunk)
    return blocked


def test_chunked_daily_run_writes_the_rows_of_the_whole_district_run(seeded):
    from ecm.pipeline.daily import enterprise_chunks
    from ecm.registry import get_registry

    client = seeded.stack.client()
    reg = get_registry()
    day = seeded.recent[0] + timedelta(days=1)
    days = [day.isoformat()]
    # one enterprise withheld by a gate verdict, so the status rule runs inside one chunk
    extra = {day.isoformat(): ["e05"]}
    whole_chunks = enterprise_chunks(reg, 50)
    chunks = enterprise_chunks(reg, 3)
    assert len(whole_chunks) == 1 and len(chunks) == 7 and [len(c) for c in chunks][-1] == 2
    try:
        blocked_whole = _run(days, whole_chunks, extra)
        whole = _day_rows(client, day)
        # a stale row of an enterprise in the first chunk (a carrier it no longer has): its chunk
        # clears it, the other chunks leave their neighbours' rows alone
        s, _ = day_bounds_utc(day)
        client.write_frame(pd.DataFrame({"time": [s], "enterprise": ["e02"], "carrier": ["stale"],
                                         "energy_tce": [9.0]}), "energy_daily", ["enterprise", "carrier"])
        blocked_chunked = _run(days, chunks, extra)
        chunked = _day_rows(client, day)
    finally:
        _run(days, whole_chunks, {})   # the session's state for the day, as the fixture left it
    assert blocked_chunked == blocked_whole == {day.isoformat(): ["e05"]}
    kpi = whole["kpi_daily"].set_index("enterprise")
    assert len(kpi) == 20 and kpi.at["e05", "data_status"] == "data_insufficient"
    assert (kpi.drop(index="e05")["data_status"] == "ok").all()
    assert "stale" not in set(chunked["energy_daily"]["carrier"])
    assert set(whole["dq_result"]["suite"]) >= {"readings_daily", "aggregates_daily"}
    for m in MEASUREMENTS:
        assert len(whole[m]) > 0, m
        pd.testing.assert_frame_equal(whole[m], chunked[m], obj=m)

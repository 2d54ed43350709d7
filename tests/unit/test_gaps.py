"""Gap apportionment (issue #12 §6): a delta spanning periods is shared linearly in Beijing time."""
from __future__ import annotations

import pandas as pd
import pytest

from ecm.accounting.counters import counters_to_deltas, deltas_to_periods
from ecm.accounting.gaps import apportion_gaps

BJ = "Asia/Shanghai"


def _meters():
    return pd.DataFrame({"enterprise": ["e01"], "register_max": [1e8], "max_rate_per_h": [1000.0],
                         "interval_s": [900]}, index=pd.Index(["m1"], name="meter"))


def _readings(pairs):
    return pd.DataFrame({"time": [pd.Timestamp(t, tz=BJ).tz_convert("UTC") for t, _ in pairs], "enterprise": "e01",
                         "meter": "m1", "value": [v for _, v in pairs]})


def test_gap_across_midnight_splits_2_2():
    # 21:45 -> 22:00: 5; gap 22:00 -> 02:00 (4 h): 140 - 100 = 40; 02:00 -> 02:15: 3
    r = _readings([("2024-03-01 21:45", 95.0), ("2024-03-01 22:00", 100.0), ("2024-03-02 02:00", 140.0),
                   ("2024-03-02 02:15", 143.0)])
    d, _ = counters_to_deltas(r, _meters())
    assert d["flags"].tolist() == ["", "gap", ""]
    a, issues = apportion_gaps(d, "1D")
    # 2 h before midnight, 2 h after: 40 x 2/4 = 20 each
    assert a["delta"].tolist() == [5.0, 20.0, 20.0, 3.0]
    assert a["flags"].tolist() == ["", "gap,estimated", "gap,estimated", ""]
    assert a["reading_end"].tolist()[1] == 120.0 and a["duration_s"].tolist()[1:3] == [7200.0, 7200.0]
    assert a["end"].iloc[1] == pd.Timestamp("2024-03-02 00:00", tz=BJ)
    assert [i.name for i in issues] == ["ecm.counters.gap_apportioned"]
    days, _ = deltas_to_periods(a, "1D")
    by_day = days.set_index(days["period_start"].dt.strftime("%m-%d"))
    assert by_day.loc["03-01", "delta"] == 25.0 and by_day.loc["03-02", "delta"] == 23.0   # 5 + 20 | 20 + 3
    assert "estimated" in by_day.loc["03-01", "flags"] and "estimated" in by_day.loc["03-02", "flags"]
    # without apportionment the whole 40 lands on 2 March
    whole, _ = deltas_to_periods(d, "1D")
    assert whole["delta"].tolist() == [5.0, 43.0]
    # hours: 4 pieces of 10
    h, _ = apportion_gaps(d, "1h")
    assert h["delta"].tolist() == [5.0, 10.0, 10.0, 10.0, 10.0, 3.0]


def test_gap_across_new_year_splits_by_year():
    # 2025-12-31 20:00 -> 2026-01-01 04:00 Beijing (8 h), 80 units: 4 h in each year = 40 / 40
    r = _readings([("2025-12-31 20:00", 1000.0), ("2026-01-01 04:00", 1080.0)])
    d, _ = counters_to_deltas(r, _meters())
    a, _ = apportion_gaps(d, "YS")
    assert a["delta"].tolist() == [40.0, 40.0]
    assert a["end"].iloc[0] == pd.Timestamp("2026-01-01", tz=BJ)
    # the total is unchanged and a non-crossing gap stays whole
    r2 = _readings([("2026-03-01 01:00", 0.0), ("2026-03-01 05:00", 30.0)])
    d2, _ = counters_to_deltas(r2, _meters())
    a2, issues = apportion_gaps(d2, "1D")
    assert a2["delta"].tolist() == [30.0] and a2["flags"].tolist() == ["gap"] and issues == []


def test_uneven_split_and_jitter_left_alone():
    # gap 23:00 -> 02:00 (3 h), 30 units: 1 h before midnight (10), 2 h after (20)
    r = _readings([("2024-03-01 23:00", 0.0), ("2024-03-02 02:00", 30.0)])
    d, _ = counters_to_deltas(r, _meters())
    a, _ = apportion_gaps(d, "1D")
    assert a["delta"].tolist() == pytest.approx([10.0, 20.0])
    # a regular 15-min interval crossing midnight by 30 s is not a gap: kept whole by default
    r3 = _readings([("2024-03-01 23:45:30", 0.0), ("2024-03-02 00:00:30", 4.0)])
    d3, _ = counters_to_deltas(r3, _meters())
    a3, _ = apportion_gaps(d3, "1D")
    assert a3["delta"].tolist() == [4.0]
    a4, _ = apportion_gaps(d3, "1D", gaps_only=False)
    assert a4["delta"].tolist() == pytest.approx([4.0 * 870 / 900, 4.0 * 30 / 900])


def test_days_reopened_by_a_gap_closing_after_midnight():
    """A gap from 22:00 on 1 March to 02:00 on 3 March (Beijing), closed in the 3 March window, also
    spans 1 and 2 March: those days were computed without their share and are recomputed."""
    from datetime import date as _d

    from ecm.accounting.gaps import days_reopened

    t = lambda s: pd.Timestamp(s, tz="Asia/Shanghai").tz_convert("UTC")  # noqa: E731
    d = pd.DataFrame({"enterprise": ["e", "e"], "meter": ["m", "m"], "start": [t("2024-03-01 22:00"), t("2024-03-03 02:00")],
                      "end": [t("2024-03-03 02:00"), t("2024-03-03 02:15")], "flags": ["gap", ""]})
    assert days_reopened(d, t("2024-03-03 00:00")) == [_d(2024, 3, 1), _d(2024, 3, 2)]
    assert days_reopened(d.assign(flags=""), t("2024-03-03 00:00")) == []     # not a gap: booked at its end
    assert days_reopened(d, t("2024-03-01 00:00")) == []                      # the gap closes after the window


def test_many_gaps_cut_at_once_match_interval_by_interval():
    # daily registers (interval 900 s declared, so every day is a gap) a few seconds off midnight,
    # plus one 3-day gap: each piece is the interval's delta × its share of the duration
    r = _readings([("2024-03-01 00:00:10", 0.0), ("2024-03-02 00:00:05", 8639.5),
                   ("2024-03-04 23:59:50", 8639.5 + 25918.5)])   # 0.1 unit a second throughout
    d, _ = counters_to_deltas(r, _meters())
    assert d["flags"].tolist() == ["gap", "gap"]
    a, issues = apportion_gaps(d, "1D")
    # 00:00:10 -> 24:00 = 86390 s, then 5 s; 00:00:05 -> 2 Mar 24:00 = 86395 s, 86400 s, 86390 s
    assert a["duration_s"].tolist() == [86390.0, 5.0, 86395.0, 86400.0, 86390.0]
    assert a["delta"].tolist() == pytest.approx([8639.0, 0.5, 8639.5, 8640.0, 8639.0], abs=1e-9)
    assert a["reading_end"].iloc[-1] == pytest.approx(8639.5 + 25918.5, abs=1e-9)
    assert a["reading_start"].iloc[2] == 8639.5 and a["reading_end"].iloc[0] == pytest.approx(8639.0, abs=1e-9)
    assert set(a["flags"]) == {"gap,estimated"}
    assert a["end"].iloc[0] == pd.Timestamp("2024-03-02 00:00", tz=BJ)
    assert [(i.name, i.evidence["n_intervals"]) for i in issues] == [("ecm.counters.gap_apportioned", 2)]

"""Counter registers → interval deltas → hours/days: rollover, reset, gap, spike, Beijing midnight."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ecm.accounting.counters import counters_to_deltas, deltas_to_periods

T0 = pd.Timestamp("2024-03-01T15:00:00Z")      # = 2024-03-01 23:00 Beijing


def _meters(register_max=1e8, max_rate_per_h=1000.0, interval_s=900):
    return pd.DataFrame({"enterprise": ["e01"], "register_max": [register_max], "max_rate_per_h": [max_rate_per_h],
                         "interval_s": [interval_s]}, index=pd.Index(["m1"], name="meter"))


def _readings(minutes, values, meter="m1"):
    return pd.DataFrame({"time": [T0 + pd.Timedelta(minutes=m) for m in minutes], "enterprise": "e01",
                         "meter": meter, "value": values})


def _names(issues):
    return [i.name for i in issues]


def test_plain_deltas():
    d, issues = counters_to_deltas(_readings([0, 15, 30], [100.0, 150.0, 230.0]), _meters())
    # 150 - 100 = 50; 230 - 150 = 80
    assert d["delta"].tolist() == [50.0, 80.0]
    assert d["flags"].tolist() == ["", ""]
    assert d["measured"].all()
    assert d["duration_s"].tolist() == [900.0, 900.0]
    assert d["start"].iloc[0] == T0 and d["end"].iloc[1] == T0 + pd.Timedelta(minutes=30)
    assert issues == []


def test_rollover_at_register_width():
    # 8-digit register wraps at 10**8. 99,999,980 -> 60: 60 + 100,000,000 - 99,999,980 = 80,
    # plausible because max 1000/h x 0.25 h = 250 >= 80.
    d, issues = counters_to_deltas(_readings([0, 15, 30], [99_999_900.0, 99_999_980.0, 60.0]), _meters())
    assert d["delta"].tolist() == [80.0, 80.0]
    assert d["flags"].tolist() == ["", "rollover"]
    assert d["measured"].all()
    assert _names(issues) == ["ecm.counters.rollover"] and not issues[0].blocking


def test_rollover_without_rate_uses_span_rule():
    # no max rate: 99,999,990 -> 10 wraps to 20, < 10% of 10**8 -> rollover
    d, _ = counters_to_deltas(_readings([0, 15], [99_999_990.0, 10.0]), _meters(max_rate_per_h=np.nan))
    assert d["delta"].tolist() == [20.0] and d["flags"].tolist() == ["rollover"]


def test_reset_is_not_counted():
    # meter replaced: 5,000,000 -> 120. Wrapped 120 + 1e8 - 5e6 = 95,000,120 > 250 allowed -> reset.
    # The consumption across the swap is unknown: delta 0, not measured. 120 -> 200 = 80 counts.
    d, issues = counters_to_deltas(_readings([0, 15, 30, 45], [4_999_900.0, 5_000_000.0, 120.0, 200.0]), _meters())
    assert d["delta"].tolist() == [100.0, 0.0, 80.0]
    assert d["flags"].tolist() == ["", "reset", ""]
    assert d["measured"].tolist() == [True, False, True]
    (iss,) = issues
    assert iss.name == "ecm.counters.reset_detected" and not iss.blocking
    assert iss.evidence["meter"] == "m1" and iss.evidence["n_intervals"] == 1


def test_drop_without_register_max_is_reset():
    d, _ = counters_to_deltas(_readings([0, 15], [500.0, 10.0]), _meters(register_max=np.nan))
    assert d["flags"].tolist() == ["reset"] and d["delta"].tolist() == [0.0]


def test_gap_is_counted_over_its_span():
    # 15 -> 60 min is 2700 s > 1.5 x 900 s: gap; 300 - 150 = 150 <= 1000/h x 0.75 h = 750, counted
    d, issues = counters_to_deltas(_readings([0, 15, 60], [100.0, 150.0, 300.0]), _meters())
    assert d["delta"].tolist() == [50.0, 150.0]
    assert d["flags"].tolist() == ["", "gap"]
    assert d["duration_s"].tolist() == [900.0, 2700.0]
    assert d["measured"].all()
    assert _names(issues) == ["ecm.counters.gap_detected"]


def test_expected_interval_override():
    # with 3600 s expected, a 2700 s interval is no gap
    d, _ = counters_to_deltas(_readings([0, 15, 60], [100.0, 150.0, 300.0]), _meters(), expected_interval_s=3600)
    assert d["flags"].tolist() == ["", ""]


def test_spike_is_rejected():
    # 1100 -> 5000 in 15 min = 3900 > 250 allowed: NaN. The counter then continues from 5000
    # (5050 - 5000 = 50), so 5000 is not an isolated glitch (1100 -> 5050 = 3950 > 500 either).
    d, issues = counters_to_deltas(_readings([0, 15, 30, 45], [1000.0, 1100.0, 5000.0, 5050.0]), _meters())
    assert d["delta"].iloc[0] == 100.0 and math.isnan(d["delta"].iloc[1]) and d["delta"].iloc[2] == 50.0
    assert d["flags"].tolist() == ["", "spike", ""]
    assert d["measured"].tolist() == [True, False, True]
    assert _names(issues) == ["ecm.counters.spike_rejected"]


def test_isolated_glitch_reading_is_dropped_and_neighbours_merged():
    # 1050 -> 9,999,999 -> 1150: the middle reading is garbage. Dropping it, 1050 -> 1150 = 100 over
    # 30 min (<= 500 allowed) is kept; that merged interval is flagged gap (1800 s > 1350 s) and spike.
    d, issues = counters_to_deltas(_readings([0, 15, 30, 45, 60], [1000.0, 1050.0, 9_999_999.0, 1150.0, 1200.0]),
                                   _meters())
    assert d["delta"].tolist() == [50.0, 100.0, 50.0]
    assert d["flags"].tolist() == ["", "gap,spike", ""]
    assert d["measured"].all()
    assert "ecm.counters.glitch_reading_dropped" in _names(issues)


def test_carry_in_chains_windows():
    carry = _readings([0], [100.0])
    d, _ = counters_to_deltas(_readings([15, 30], [150.0, 175.0]), _meters(), carry_in=carry)
    # 150 - 100 = 50 from the carried-in reading; 175 - 150 = 25
    assert d["delta"].tolist() == [50.0, 25.0]
    assert d["start"].iloc[0] == T0


def test_unknown_meter_and_missing_values():
    r = pd.concat([_readings([0, 15], [1.0, 2.0]), _readings([0, 15], [1.0, 2.0], meter="zz"),
                   _readings([30], [np.nan])])
    d, issues = counters_to_deltas(r, _meters())
    assert d["meter"].tolist() == ["m1"] and d["delta"].tolist() == [1.0]
    by = {i.name: i for i in issues}
    assert by["ecm.counters.unknown_meter"].blocking and by["ecm.counters.unknown_meter"].evidence["meters"] == ["zz"]
    assert not by["ecm.counters.value_missing"].blocking


def test_many_meters_interleaved_and_unsorted():
    m = pd.concat([_meters(), _meters().rename(index={"m1": "m2"})])
    r = pd.concat([_readings([30, 0, 15], [3.0, 1.0, 2.0]), _readings([15, 0], [20.0, 10.0], meter="m2")])
    d, _ = counters_to_deltas(r.sample(frac=1.0, random_state=1), m)
    assert d.groupby("meter")["delta"].sum().to_dict() == {"m1": 2.0, "m2": 10.0}


def test_tz_naive_time_rejected():
    r = _readings([0, 15], [1.0, 2.0])
    r["time"] = r["time"].dt.tz_localize(None)
    with pytest.raises(ValueError, match="tz-aware"):
        counters_to_deltas(r, _meters())


def test_empty_input():
    d, issues = counters_to_deltas(_readings([], []), _meters())
    assert d.empty and issues == []


# -- periods -------------------------------------------------------------------------------

def _deltas_across_midnight():
    # readings at Beijing 23:30, 23:45, 00:00, 00:15, 00:30 (UTC 15:30 ... 16:30)
    return counters_to_deltas(_readings([30, 45, 60, 75, 90], [0.0, 10.0, 30.0, 60.0, 100.0]), _meters())[0]


def test_hours_across_beijing_midnight():
    p, _ = deltas_to_periods(_deltas_across_midnight(), "1h")
    # intervals (23:30,23:45]=10 and (23:45,00:00]=20 end in hour 23 ((start, end] convention: 00:00 closes
    # hour 23); (00:00,00:15]=30 and (00:15,00:30]=40 in hour 00.
    assert [str(t) for t in p["period_start"]] == ["2024-03-01 23:00:00+08:00", "2024-03-02 00:00:00+08:00"]
    assert p["delta"].tolist() == [30.0, 70.0]
    assert p["n_intervals"].tolist() == [2, 2]
    # 2 x 900 s covered of 3600 s
    assert p["completeness_frac"].tolist() == [0.5, 0.5]


def test_days_across_beijing_midnight():
    p, _ = deltas_to_periods(_deltas_across_midnight(), "1D")
    assert [str(t) for t in p["period_start"]] == ["2024-03-01 00:00:00+08:00", "2024-03-02 00:00:00+08:00"]
    # the Beijing day 2024-03-02 starts at 2024-03-01T16:00Z
    assert p["period_start"].iloc[1].tz_convert("UTC") == pd.Timestamp("2024-03-01T16:00Z")
    assert p["delta"].tolist() == [30.0, 70.0]
    # 1800 s of 86400 s = 0.0208333...
    assert p["completeness_frac"].tolist() == pytest.approx([1800 / 86400, 1800 / 86400])


def test_gap_lands_in_period_of_its_end():
    # (22:45, 00:15] Beijing: one 90-min gap interval, delta 90 -> all in hour 00; covered = its
    # overlap with hour 00 (900 s) -> 0.25. Hour 23 receives nothing.
    d, _ = counters_to_deltas(pd.DataFrame({
        "time": [pd.Timestamp("2024-03-01T14:45Z"), pd.Timestamp("2024-03-01T16:15Z")],
        "enterprise": "e01", "meter": "m1", "value": [0.0, 90.0]}), _meters())
    p, _ = deltas_to_periods(d, "1h")
    assert len(p) == 1 and str(p["period_start"].iloc[0]) == "2024-03-02 00:00:00+08:00"
    assert (p["delta"].iloc[0], p["completeness_frac"].iloc[0], p["flags"].iloc[0]) == (90.0, 0.25, "gap")


def test_reset_and_spike_lower_completeness():
    # hour 23: (23:00,23:15] 50 measured; (23:15,23:30] reset; (23:30,23:45] 10 measured; (23:45,00:00] spike
    d, _ = counters_to_deltas(_readings([0, 15, 30, 45, 60], [5_000_000.0, 5_000_050.0, 20.0, 30.0, 900.0]), _meters())
    p, _ = deltas_to_periods(d, "1h")
    (row,) = p.to_dict("records")
    assert row["delta"] == 60.0 and row["n_intervals"] == 4
    assert row["completeness_frac"] == 0.5          # 2 x 900 s measured of 3600 s
    assert row["flags"] == "reset,spike"


def test_window_fills_empty_periods():
    d = _deltas_across_midnight()
    w = (pd.Timestamp("2024-03-01T22:00+08:00"), pd.Timestamp("2024-03-02T01:00+08:00"))
    p, _ = deltas_to_periods(d, "1h", window=w)
    assert [t.hour for t in p["period_start"]] == [22, 23, 0]
    first = p.iloc[0]
    assert math.isnan(first["delta"]) and first["n_intervals"] == 0 and first["completeness_frac"] == 0.0
    assert p["delta"].iloc[1:].tolist() == [30.0, 70.0]


def test_period_with_only_unmeasured_intervals_has_nan_delta():
    d, _ = counters_to_deltas(_readings([0, 15], [5_000_000.0, 3.0]), _meters())
    p, _ = deltas_to_periods(d, "1h")
    assert math.isnan(p["delta"].iloc[0]) and p["completeness_frac"].iloc[0] == 0.0

"""readings_daily suite: one test per fault kind; the named expectation fails for the affected
enterprise only and passes for every clean one."""
from __future__ import annotations

import pandas as pd

from ecm.quality import blocking_enterprises, run_suite
from ecm.quality_frames import counter_flags_for, readings_daily_from_hourly, readings_daily_metrics, readings_hourly_metrics
from tests.quality.conftest import DAY, failing, in_hours, outcome

ALL_EXPECTATIONS = ["completeness_ge_90pct", "counter_non_decreasing", "values_in_physical_range", "meter_not_stuck",
                    "timestamps_on_grid", "no_duplicate_timestamps", "no_unknown_meters"]


def _via_hours(readings, meters, day, flags=None):
    """The nightly path: per-hour metrics as the hourly rollup computes them, each hour seeing only
    readings up to its end, then summed into the day."""
    from ecm.periods import day_bounds_utc

    start, _ = day_bounds_utc(day)
    parts = []
    for i in range(24):
        h0 = start + pd.Timedelta(hours=i)
        t = pd.to_datetime(readings["time"], utc=True)
        after = readings[t > h0 + pd.Timedelta(hours=1)].sort_values("time").groupby("meter").head(1)
        sl = pd.concat([readings[t <= h0 + pd.Timedelta(hours=1)], after])  # the rollup's carry-out reading
        f = flags if flags is not None else counter_flags_for(sl, meters)
        parts.append(readings_hourly_metrics(sl, meters, h0, flags=f).assign(time=h0))
    return readings_daily_from_hourly(pd.concat(parts, ignore_index=True), meters, day)


def _run(readings, meters, **kw):
    """Runs the suite on the day's metrics, after checking that the hourly path gives the very same frame."""
    day = readings_daily_metrics(readings, meters, DAY, **kw)
    hours = _via_hours(readings, meters, DAY, **kw)
    key = ["enterprise", "meter"]
    pd.testing.assert_frame_equal(day.sort_values(key).reset_index(drop=True),
                                  hours.sort_values(key).reset_index(drop=True), check_dtype=False)
    return run_suite("readings_daily", day, period=DAY.isoformat())


def test_clean_day_passes_everything(clean, meters):
    res = _run(clean, meters)
    assert res.failures.empty, res.failures.to_string()
    assert set(res.frame["expectation"]) == set(ALL_EXPECTATIONS)
    assert set(res.frame["enterprise"]) == set(meters["enterprise"])


def test_dropout_fails_completeness_for_that_enterprise_only(clean, meters):
    # 5 h of a 15-min counter lost: 76/96 = 0.79 < 0.90
    r = clean[~in_hours(clean, "e01_l1_kiln_gas", 8, 13)]
    res = _run(r, meters)
    assert failing(res, "completeness_ge_90pct") == {"e01"}
    row = res.frame[(res.frame.expectation == "completeness_ge_90pct") & (res.frame.enterprise == "e01")].iloc[0]
    assert abs(row.observed_value - 76 / 96) < 1e-9
    assert "e01_l1_kiln_gas" in row.observed
    assert blocking_enterprises([res]) == {"e01"}


def test_short_dropout_within_10pct_passes(clean, meters):
    r = clean[~in_hours(clean, "e01_l1_kiln_gas", 8, 10)]  # 88/96 = 0.917
    assert failing(_run(r, meters), "completeness_ge_90pct") == set()


def test_silent_meter_fails_completeness(clean, meters):
    res = _run(clean[clean.meter != "e15_boiler_gas"], meters)
    assert failing(res, "completeness_ge_90pct") == {"e15"}


def test_stuck_counter_while_producing(clean, meters):
    r = clean.copy()
    sel = in_hours(r, "e02_l1_kiln_gas", 6, 9)  # 3 h frozen, then continues from the frozen value
    after = (r.meter == "e02_l1_kiln_gas") & (r.time > r.loc[sel, "time"].max())
    lost = r.loc[sel, "value"].iloc[-1] - r.loc[sel, "value"].iloc[0]
    r.loc[sel, "value"] = r.loc[sel, "value"].iloc[0]
    r.loc[after, "value"] -= lost
    res = _run(r, meters)
    assert failing(res, "meter_not_stuck") == {"e02"}
    assert failing(res, "completeness_ge_90pct") == set()
    assert failing(res, "counter_non_decreasing") == set()


def test_idle_counter_while_not_producing_is_not_stuck(clean, meters):
    r = clean.copy()
    for m in ("e02_l1_kiln_gas", "e02_l1_output"):  # the whole line stands still: not a fault
        sel = in_hours(r, m, 6, 9)
        lost = r.loc[sel, "value"].iloc[-1] - r.loc[sel, "value"].iloc[0]
        after = (r.meter == m) & (r.time > r.loc[sel, "time"].max())
        r.loc[sel, "value"] = r.loc[sel, "value"].iloc[0]
        r.loc[after, "value"] -= lost
    assert failing(_run(r, meters), "meter_not_stuck") == set()


def test_flat_gauge_is_stuck(clean, meters):
    r = clean.copy()
    sel = in_hours(r, "e10_power_main", 12, 14)
    r.loc[sel, "value"] = 512.5
    assert failing(_run(r, meters), "meter_not_stuck") == {"e10"}


def test_counter_spike_fails_physical_range(clean, meters):
    r = clean.copy()
    idx = r.index[in_hours(r, "e03_elec_main", 10, 10.25)][0]
    r.loc[idx, "value"] += 1e6  # one reading far above the register trend, then back
    res = _run(r, meters)
    assert failing(res, "values_in_physical_range") == {"e03"}
    assert failing(res, "counter_non_decreasing") == {"e03"}
    row = res.frame[(res.frame.expectation == "values_in_physical_range") & (res.frame.enterprise == "e03")].iloc[0]
    assert row.observed_value > 1.1  # max rate / max_rate_per_h


def test_gauge_spike_fails_physical_range(clean, meters):
    r = clean.copy()
    idx = r.index[in_hours(r, "e17_power_main", 10, 11)][0]
    r.loc[idx, "value"] = 1e9
    assert failing(_run(r, meters), "values_in_physical_range") == {"e17"}


def test_isolated_dip_is_an_unflagged_decrease(clean, meters):
    """One reading 5,000 kWh low while the next continues the counter: the accounting drops it as a
    glitch (no rollover, no reset), so the gate counts an unflagged decrease for e04 only."""
    r = clean.copy()
    idx = r.index[in_hours(r, "e04_l1_elec", 12, 12.1)][0]
    r.loc[idx, "value"] -= 5000.0
    res = _run(r, meters)
    assert failing(res, "counter_non_decreasing") == {"e04"}


def test_lasting_drop_is_a_reset_in_both_paths(clean, meters):
    """A register that drops for good (meter replaced mid-day) is a reset by the one counter
    implementation (ecm.accounting.counters): explained, whether the flags come from the KPI run or
    are computed by the gate itself (``ecm dq run``)."""
    from ecm.accounting.counters import counter_flags, counters_to_deltas

    r = clean.copy()
    after = (r.meter == "e04_l1_elec") & in_hours(r, "e04_l1_elec", 12, 24.1)
    r.loc[after, "value"] -= 5000.0  # a drop far from zero and from the register end
    counters = meters[meters["kind"] == "counter"]
    deltas, issues = counters_to_deltas(r[r["meter"].isin(counters.index)], counters)
    assert [i.evidence["meter"] for i in issues if i.name == "ecm.counters.reset_detected"] == ["e04_l1_elec"]
    assert failing(_run(r, meters), "counter_non_decreasing") == set()
    assert failing(_run(r, meters, flags=counter_flags(deltas)), "counter_non_decreasing") == set()
    assert failing(_run(r, meters), "values_in_physical_range") == set()  # a reset has no rate


def test_rollover_is_explained_without_flags(clean, meters):
    r = clean.copy()
    m = "e06_l1_kiln_gas"
    reg_max = meters.loc[m, "register_max"]
    sel = r.meter == m
    vals = r.loc[sel, "value"] - r.loc[sel, "value"].iloc[0] + reg_max - 500.0
    r.loc[sel, "value"] = vals.where(vals < reg_max, vals - reg_max)
    assert (r.loc[sel, "value"].diff() < 0).sum() == 1
    res = _run(r, meters)
    assert failing(res, "counter_non_decreasing") == set()
    assert failing(res, "values_in_physical_range") == set()


def test_off_grid_timestamps_warn(clean, meters):
    r = clean.copy()
    sel = r.index[in_hours(r, "e07_elec_main", 9, 10)]
    r.loc[sel, "time"] += pd.Timedelta(seconds=150)
    res = _run(r, meters)
    assert failing(res, "timestamps_on_grid") == {"e07"}
    assert blocking_enterprises([res]) == set()  # warn only


def test_duplicates_warn(clean, meters):
    r = pd.concat([clean, clean[in_hours(clean, "e08_elec_main", 3, 4)]], ignore_index=True)
    res = _run(r, meters)
    assert failing(res, "no_duplicate_timestamps") == {"e08"}
    assert failing(res, "completeness_ge_90pct") == set()


def test_unknown_meter_warns(clean, meters):
    ghost = clean[clean.meter == "e05_elec_main"].assign(meter="e05_ghost")
    moved = clean[clean.meter == "e09_elec_main"].assign(enterprise="e11")  # right meter, wrong enterprise
    res = _run(pd.concat([clean, ghost, moved], ignore_index=True), meters)
    assert failing(res, "no_unknown_meters") == {"e05", "e11"}
    assert outcome(res, "no_unknown_meters")["e09"] is True
    assert blocking_enterprises([res]) == set()


def test_no_readings_at_all_blocks_every_enterprise_on_completeness_only(meters):
    empty = pd.DataFrame(columns=["time", "enterprise", "meter", "quantity", "value"])
    res = _run(empty, meters)
    assert set(res.failures["expectation"]) == {"completeness_ge_90pct"}
    assert blocking_enterprises([res]) == set(meters["enterprise"])

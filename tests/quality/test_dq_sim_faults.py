"""The simulator's own fault injection through the quality suites: each fault kind fails the
expected expectation for the affected enterprise-day and leaves the clean enterprises passing.

Readings are taken as the gateways would have delivered them by the nightly run (release time ≤
cutoff), straight from ``sim_devices`` (no broker needed: the suites see the same rows ingest
would store).
"""
from __future__ import annotations

from datetime import date, timedelta, timezone

import numpy as np
import pandas as pd

import sim_devices
from ecm.quality import blocking_enterprises, run_suite
from ecm.quality_frames import readings_daily_metrics, stats_monthly_metrics
from ecm.registry import get_registry
from sim_devices.calendar import day_index
from sim_devices.publisher import apply_faults, rows_between
from sim_devices.window import sim_s_to_ms

DAY = date(2025, 4, 9)
SEED = 11
BEIJING = timezone(timedelta(hours=8))


def _delivered(faults: dict[str, list[str]], cutoff_s: int | None = None, drop_buffered: bool = False) -> pd.DataFrame:
    """Readings of DAY (plus the previous midnight) as released by each gateway; ``faults`` maps
    enterprise → fault specs (others clean)."""
    reg = get_registry()
    d = day_index(DAY)
    t_lo, t_hi = d * 86400 - 900, (d + 1) * 86400 + 1
    windows = sim_devices.build_window(reg, DAY - timedelta(days=1), DAY, SEED,
                                       faults=sim_devices.FaultConfig.parse(sorted({f for v in faults.values() for f in v}), SEED) if faults else None)
    parts = []
    for w in windows:
        rows = rows_between(w.tracks, t_lo, t_hi, None)
        specs = faults.get(w.enterprise.id)
        if specs:
            rows, _ = apply_faults(sim_devices.FaultConfig.parse(specs, SEED), w.enterprise.id,
                                   [t.meter for t in w.tracks], rows, d, t_lo, t_hi)
        keep = np.ones(len(rows.ts), bool)
        if cutoff_s is not None:
            keep &= rows.release <= cutoff_s
        if drop_buffered:
            keep &= ~rows.buffered
        rows = rows.take(np.where(keep)[0])
        names = np.array([t.meter.id for t in w.tracks])
        parts.append(pd.DataFrame({
            "time": pd.to_datetime(sim_s_to_ms(rows.ts), unit="ms", utc=True),
            "enterprise": w.enterprise.id, "meter": names[rows.meter],
            "quantity": [w.tracks[i].meter.quantity for i in rows.meter], "value": rows.value}))
    return pd.concat(parts, ignore_index=True)


def _failing(readings: pd.DataFrame, expectation: str) -> set[str]:
    res = run_suite("readings_daily", readings_daily_metrics(readings, get_registry().meters_frame(), DAY),
                    period=DAY.isoformat())
    f = res.frame
    return set(f[(f["expectation"] == expectation) & ~f["success"]]["enterprise"])


def test_clean_day_passes_every_blocking_expectation():
    res = run_suite("readings_daily", readings_daily_metrics(_delivered({}), get_registry().meters_frame(), DAY),
                    period=DAY.isoformat())
    assert blocking_enterprises([res]) == set()


def test_stuck_meters_fail_meter_not_stuck_for_that_enterprise_only():
    assert _failing(_delivered({"e02": ["stuck=1.0"]}), "meter_not_stuck") == {"e02"}


def test_spikes_fail_physical_range_for_that_enterprise_only():
    assert _failing(_delivered({"e10": ["spike=0.02"]}), "values_in_physical_range") == {"e10"}


def test_dropout_not_yet_flushed_fails_completeness_and_passes_once_flushed():
    faults = {"e03": ["dropout=1.0"]}
    # the nightly run before the gateway's buffer flush arrived
    assert _failing(_delivered(faults, drop_buffered=True), "completeness_ge_90pct") == {"e03"}
    # after the late flush (the late-data rerun), the day is complete again
    assert _failing(_delivered(faults), "completeness_ge_90pct") == set()


def test_counter_reset_is_explained_not_a_failure():
    assert _failing(_delivered({"e06": ["counter_reset=1.0"]}), "counter_non_decreasing") == set()


def test_missing_value_added_blocks_that_enterprise_month():
    reg = get_registry()
    stats = sim_devices.monthly_stats_frame(reg, "2025-03", "2025-04", SEED)
    stats.loc[(stats["enterprise"] == "e04") & (stats["month"] == "2025-04"), "value_added_current_10k_cny"] = np.nan
    frame = stats_monthly_metrics(stats.rename(columns={}), reg.enterprise_ids, DAY)
    res = run_suite("stats_monthly", frame, period="2025-04")
    f = res.frame
    assert set(f[(f["expectation"] == "value_added_present") & ~f["success"]]["enterprise"]) == {"e04"}
    assert blocking_enterprises([res]) == {"e04"}

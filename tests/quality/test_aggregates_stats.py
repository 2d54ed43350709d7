"""aggregates_daily and stats_monthly suites: faults fail the named expectation for the affected
enterprise only; severities decide the blocking set."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from ecm.quality import blocking_enterprises, data_status, load_bounds, run_suite, save_artifacts
from ecm.quality_frames import aggregates_daily_metrics, stats_monthly_metrics
from tests.quality.conftest import DAY, failing

# plausible lines: tile 4 kgce/m2, cement 3.7 kgce/t
LINES = pd.DataFrame({"enterprise": ["e01", "e02", "e10"], "line": ["e01_l1", "e02_l1", "e10_l1"],
                      "energy_tce": [60.0, 40.0, 5.0], "output_m2": [15000.0, 10000.0, None],
                      "output_t": [None, None, 1350.0]})
KPI = pd.DataFrame({"enterprise": ["e01", "e02", "e10"], "energy_tce": [90.0, 50.0, 6.0]})
ENERGY = pd.DataFrame({"enterprise": ["e01", "e01", "e02", "e10"], "carrier": ["electricity", "natural_gas"] * 2,
                       "energy_tce": [30.0, 60.0, 50.0, 6.0]})


def _agg(registry, **over):
    kw = dict(kpi_daily=KPI, energy_daily=ENERGY, line_daily=LINES)
    kw.update(over)
    frame = aggregates_daily_metrics(DAY, registry.lines_frame(), load_bounds(), **kw)
    return run_suite("aggregates_daily", frame, period=DAY.isoformat())


def test_clean_aggregates_pass(registry):
    res = _agg(registry)
    assert res.failures.empty, res.failures.to_string()


def test_negative_energy_blocks(registry):
    e = ENERGY.copy()
    e.loc[2, "energy_tce"] = -3.0
    res = _agg(registry, energy_daily=e)
    assert failing(res, "energy_non_negative") == {"e02"}
    assert blocking_enterprises([res]) == {"e02"}


@pytest.mark.parametrize("energy_tce, expectation", [(600.0, "unit_energy_below_plausible_max"),
                                                      (0.5, "unit_energy_above_plausible_min")])
def test_unit_energy_outside_plausible_bounds(registry, energy_tce, expectation):
    ln = LINES.copy()
    ln.loc[0, "energy_tce"] = energy_tce  # 40 or 0.033 kgce/m2 for tile
    res = _agg(registry, line_daily=ln)
    assert failing(res, expectation) == {"e01"}
    other = ({"unit_energy_below_plausible_max", "unit_energy_above_plausible_min"} - {expectation}).pop()
    assert failing(res, other) == set()


def test_output_missing_while_energy_shows_production(registry):
    ln = LINES.copy()
    ln.loc[2, "output_t"] = float("nan")  # no output figure at all
    res = _agg(registry, line_daily=ln)
    assert failing(res, "output_present_when_producing") == {"e10"}
    # a measured zero (kiln heating up after a stop) is present data, not a quality failure
    ln.loc[2, "output_t"] = 0.0
    assert failing(_agg(registry, line_daily=ln), "output_present_when_producing") == set()
    ln.loc[2, "output_t"] = float("nan")
    # an idle line (energy below 10% of capacity at the minimum unit energy) may report no output
    ln.loc[2, "energy_tce"] = 0.1
    assert failing(_agg(registry, line_daily=ln), "output_present_when_producing") == set()


def test_daily_sums_against_monthly_total(registry):
    month_days = pd.DataFrame({"enterprise": ["e01"] * 2 + ["e02"] * 2, "energy_tce": [100.0, 100.0, 50.0, 50.0]})
    monthly = pd.DataFrame({"enterprise": ["e01", "e02"], "energy_tce": [204.0, 110.0]})  # 2% and 9% apart
    res = _agg(registry, month_kpi_daily=month_days, kpi_monthly=monthly)
    assert failing(res, "daily_sum_vs_monthly_within_5pct") == {"e02"}
    row = res.frame[(res.frame.expectation == "daily_sum_vs_monthly_within_5pct") & (res.frame.enterprise == "e02")]
    assert row.observed_value.iloc[0] == pytest.approx(10 / 110)


def _stats(rows):
    return pd.DataFrame(rows, columns=["enterprise", "month", "value_added_current_10k_cny", "deflator_index"])


def _monthly(registry, stats):
    frame = stats_monthly_metrics(stats, registry.enterprise_ids, DAY)
    return run_suite("stats_monthly", frame, period="2024-03")


def _full(registry, va=1000.0):
    return [(e, m, va, 1.02) for e in registry.enterprise_ids for m in ("2024-02", "2024-03")]


def test_clean_stats_pass(registry):
    res = _monthly(registry, _stats(_full(registry)))
    assert res.failures.empty, res.failures.to_string()
    assert set(res.frame.enterprise) == set(registry.enterprise_ids)


def test_missing_value_added_blocks_that_enterprise(registry):
    rows = [r for r in _full(registry) if not (r[0] == "e04" and r[1] == "2024-03")]
    res = _monthly(registry, _stats(rows))
    assert failing(res, "value_added_present") == {"e04"}
    assert failing(res, "deflator_present") == {"e04"}
    status = data_status([res], registry.enterprise_ids, "2024-03")
    assert status["e04"] == "data_insufficient"
    assert {e for e, s in status.items() if s != "ok"} == {"e04"}


def test_zero_value_added_and_bad_deflator_block(registry):
    rows = [(e, m, 0.0 if (e == "e05" and m == "2024-03") else va, 3.0 if (e == "e06" and m == "2024-03") else d)
            for e, m, va, d in _full(registry)]
    res = _monthly(registry, _stats(rows))
    assert failing(res, "value_added_positive") == {"e05"}
    assert failing(res, "deflator_plausible") == {"e06"}
    assert blocking_enterprises([res]) == {"e05", "e06"}


def test_month_on_month_jump_warns_only(registry):
    rows = [(e, m, 2500.0 if (e == "e07" and m == "2024-03") else va, d) for e, m, va, d in _full(registry)]
    res = _monthly(registry, _stats(rows))
    assert failing(res, "value_added_mom_jump") == {"e07"}
    row = res.frame[(res.frame.expectation == "value_added_mom_jump") & (res.frame.enterprise == "e07")]
    assert row.observed_value.iloc[0] == pytest.approx(1.5)
    assert blocking_enterprises([res]) == set()


def test_artifacts_are_gx_json_and_data_docs(registry, tmp_path):
    rows = [r for r in _full(registry) if not (r[0] == "e04" and r[1] == "2024-03")]
    res = _monthly(registry, _stats(rows))
    paths = save_artifacts([res], tmp_path)
    doc = json.loads((tmp_path / "stats_monthly_2024-03.json").read_text())
    assert doc["success"] is False
    assert {r["expectation_config"]["meta"]["name"] for r in doc["results"] if not r["success"]} >= {"value_added_present"}
    html = (tmp_path / "stats_monthly_2024-03.html").read_text()
    assert "value_added_current_10k_cny" in html and "<html" in html.lower()
    assert "e04" in (tmp_path / "index.html").read_text()
    assert len(paths) == 4

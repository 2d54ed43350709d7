"""Monthly compliance composition (ecm.accounting.compliance): YTD windows, status rule, district
coverage and the path status on a hand-built two-enterprise January."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from ecm.accounting.compliance import intensity_frame
from ecm.factors import load_factors

ROOT = Path(__file__).resolve().parents[2]


def _days(year, tce, ent, status="ok"):
    d0 = date(year, 1, 1)
    return [{"enterprise": ent, "day": d0 + timedelta(days=i), "energy_tce": tce, "energy_tce_generation": tce,
             "co2_t": 2 * tce, "data_status": status} for i in range(31)]


def test_january_against_the_base_year_and_last_year():
    factors = load_factors(ROOT / "config/factors.yaml")
    rows = _days(2022, 1.0, "e1") + _days(2023, 1.0, "e1") + _days(2024, 0.9, "e1")
    rows += _days(2022, 1.0, "e2") + _days(2023, 1.0, "e2") + _days(2024, 1.0, "e2")
    kd = pd.DataFrame(rows)
    kd.loc[(kd["enterprise"] == "e2") & (kd["day"] == date(2024, 1, 15)), ["energy_tce", "data_status"]] = [
        float("nan"), "data_insufficient"]
    stats = pd.DataFrame([{"enterprise": e, "month": f"{y}-01", "value_added_10k_cny": 100.0,
                           "value_added_current_10k_cny": 100.0} for e in ("e1", "e2") for y in (2022, 2023, 2024)])
    df, issues = intensity_frame(kd, stats, ["e1", "e2"], date(2024, 1, 31), factors)
    r = df.set_index("enterprise")
    # e1: YTD 31 x 0.9 = 27.9 tce / 100 = 0.279; base and last year 31 / 100 = 0.31
    assert r.loc["e1", "ytd_intensity_tce_per_10k_cny"] == pytest.approx(0.279)
    assert r.loc["e1", "cumulative_index"] == pytest.approx(0.9)        # 0.279 / 0.31
    assert r.loc["e1", "ytd_change_frac"] == pytest.approx(-0.1)        # (1 - 0.1) / (1 + 0) - 1
    assert r.loc["e1", "path_index"] == pytest.approx(0.87 ** (2 / 5))  # 0.9458: 0.9 is below it
    # on the path, but a January-only year to date gets no colour (Spring Festival; 1–2月 rule)
    assert r.loc["e1", "status"] == "not_rated" and r.loc["e1", "status_level"] == 4
    assert r.loc["e1", "ytd_window_zh"] == "1月" and r.loc["e1", "ytd_window_en"] == "Jan"
    # e2 has one withheld day in the window and no counter totals around it: no colour
    assert r.loc["e2", "status"] == "data_insufficient" and r.loc["e2", "completeness_frac"] == pytest.approx(30 / 31)
    # the district covers e1 only: energy-weighted, 27.9 ÷ (27.9 + e2's 30 tce scaled to 31 days = 31) < 80 %
    assert r.loc["_district", "status"] == "data_insufficient"
    assert r.loc["_district", "completeness_frac"] == pytest.approx(27.9 / (27.9 + 31.0))
    assert r.loc["_district", "ytd_energy_tce"] == pytest.approx(27.9)  # Σ over the comparable set only
    assert "ecm.comparable.district_coverage_low" in {i.name for i in issues}

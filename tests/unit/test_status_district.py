"""Data status (90 % rule, blocked enterprise-days) and district coverage (ratio of sums)."""
from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from ecm.accounting.district import district_row
from ecm.accounting.status import day_status, drop_withheld, withheld

D1, D2 = date(2024, 3, 1), date(2024, 3, 2)


def _kpi():
    return pd.DataFrame({"day": [D1, D1, D2], "enterprise": ["e01", "e02", "e01"], "energy_tce": [1.0, 2.0, 3.0],
                         "energy_tce_generation": 1.0, "co2_t": 1.0, "completeness_frac": [0.95, 0.85, 0.90]})


def test_history_days_below_90pct_coverage_are_withheld_with_an_issue():
    k, issues = day_status(_kpi(), set(), completeness_rule=True)
    # NDRC 2017 online-monitoring completeness rule: 0.85 < 0.90 withheld; 0.90 exactly passes
    assert k["data_status"].tolist() == ["ok", "data_insufficient", "ok"]
    assert math.isnan(k.loc[1, "energy_tce"]) and k.loc[0, "energy_tce"] == 1.0
    (i,) = issues
    assert i.name == "ecm.status.completeness_below_90pct" and i.blocking
    assert i.evidence["rows"] == [{"enterprise": "e02", "day": "2024-03-01"}]


def test_gated_days_are_withheld_only_by_blocked_pairs():
    k, issues = day_status(_kpi(), {("2024-03-02", "e01")}, completeness_rule=False)
    assert k["data_status"].tolist() == ["ok", "ok", "data_insufficient"] and issues == []
    rows = pd.DataFrame({"day": [D1, D2], "enterprise": ["e01", "e01"], "carrier": ["gas", "gas"]})
    assert drop_withheld(rows, withheld(k))["day"].tolist() == [D1]


def _ents(statuses):
    n = len(statuses)
    return pd.DataFrame({"enterprise": [f"e{i}" for i in range(n)], "data_status": statuses,
                         "completeness_frac": 1.0, "energy_tce": [10.0 * (i + 1) for i in range(n)],
                         "value_added_10k_cny": [100.0] * n})


def test_district_is_a_ratio_of_sums_over_published_enterprises():
    row, issues = district_row(_ents(["ok", "ok", "ok", "ok", "data_insufficient"]))
    # Σ energy over the 4 published = 10 + 20 + 30 + 40 = 100; coverage 4/5 = 0.8 meets the minimum
    assert row["energy_tce"] == 100.0 and row["value_added_10k_cny"] == 400.0
    assert row["completeness_frac"] == pytest.approx(0.8) and row["data_status"] == "ok" and issues == []


def test_district_below_80pct_coverage_is_withheld():
    row, issues = district_row(_ents(["ok", "ok", "data_insufficient"]))
    assert row["completeness_frac"] == pytest.approx(2 / 3) and row["data_status"] == "data_insufficient"
    assert [i.name for i in issues] == ["ecm.district.coverage_below_minimum"] and issues[0].blocking

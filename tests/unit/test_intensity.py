"""Intensity as ratio of sums, deflation, the 13% geometric path, required rate, status lines."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ecm.accounting.intensity import (
    chain_index, co2_intensity_t_per_10k_cny, cumulative_index, deflate_value_added, intensity_change_frac,
    intensity_tce_per_10k_cny, path_annual_change_frac, path_status, required_annual_rate, target_path_index,
    ytd_change,
)


def test_district_is_ratio_of_sums_not_mean_of_ratios():
    df = pd.DataFrame({"enterprise": ["a", "b"], "energy_tce": [100.0, 10.0], "value_added_10k_cny": [100.0, 1000.0],
                       "factor_table_version": "v1"})
    out, issues = intensity_tce_per_10k_cny(df)
    r = out.set_index("enterprise")
    # a: 100/100 = 1.0; b: 10/1000 = 0.01; district: (100+10)/(100+1000) = 110/1100 = 0.1
    assert r.loc["a", "intensity_tce_per_10k_cny"] == 1.0
    assert r.loc["b", "intensity_tce_per_10k_cny"] == 0.01
    assert r.loc["_district", "intensity_tce_per_10k_cny"] == pytest.approx(0.1)
    # the mean of ratios would be (1.0 + 0.01)/2 = 0.505 — not what is reported
    assert r.loc["_district", "intensity_tce_per_10k_cny"] != pytest.approx(0.505)
    assert r.loc["_district", "n_members"] == 2 and r.loc["_district", "factor_table_version"] == "v1"
    assert issues == []


def test_grouped_by_industry_with_total():
    df = pd.DataFrame({"industry": ["x", "x", "y"], "energy_tce": [1.0, 3.0, 6.0], "value_added_10k_cny": [1.0, 1.0, 3.0]})
    out, _ = intensity_tce_per_10k_cny(df, by=["industry"], total_label="all")
    # x: 4/2 = 2; y: 6/3 = 2; all: 10/5 = 2
    assert out.set_index("industry")["intensity_tce_per_10k_cny"].to_dict() == {"x": 2.0, "y": 2.0, "all": 2.0}


def test_nan_member_makes_group_nan_and_blocks():
    df = pd.DataFrame({"enterprise": ["a", "b"], "energy_tce": [1.0, np.nan], "value_added_10k_cny": [1.0, 1.0]})
    out, issues = intensity_tce_per_10k_cny(df)
    r = out.set_index("enterprise")
    assert r.loc["a", "intensity_tce_per_10k_cny"] == 1.0
    assert math.isnan(r.loc["b", "intensity_tce_per_10k_cny"]) and math.isnan(r.loc["_district", "intensity_tce_per_10k_cny"])
    assert issues[0].name == "ecm.intensity.input_missing" and issues[0].blocking


def test_nonpositive_value_added_blocks():
    df = pd.DataFrame({"enterprise": ["a"], "energy_tce": [1.0], "value_added_10k_cny": [0.0]})
    out, issues = intensity_tce_per_10k_cny(df, total_label=None)
    assert math.isnan(out["intensity_tce_per_10k_cny"].iloc[0])
    assert [i.name for i in issues] == ["ecm.intensity.value_added_not_positive"]


def test_co2_intensity():
    df = pd.DataFrame({"enterprise": ["a", "b"], "co2_t": [30.0, 10.0], "value_added_10k_cny": [10.0, 10.0]})
    out, _ = co2_intensity_t_per_10k_cny(df)
    assert out.set_index("enterprise").loc["_district", "co2_intensity_t_per_10k_cny"] == 2.0   # 40/20


def test_deflate_value_added():
    df = pd.DataFrame({"enterprise": ["a", "b"], "value_added_current_10k_cny": [1031.0, 500.0], "deflator_index": [1.031, 0.0]})
    out, issues = deflate_value_added(df)
    assert out["value_added_10k_cny"].iloc[0] == pytest.approx(1000.0)     # 1031 / 1.031
    assert math.isnan(out["value_added_10k_cny"].iloc[1])
    assert issues[0].name == "ecm.intensity.deflator_invalid" and issues[0].blocking


@pytest.mark.parametrize("year,index", [
    (2022, 1.0), (2023, 0.97253), (2024, 0.94582), (2025, 0.91984), (2026, 0.89457), (2027, 0.87000),
    (2030, 0.87000),  # held flat after the end year
])
def test_target_path(year, index):
    # 0.87 ** ((year - 2022) / 5)
    assert target_path_index(year) == pytest.approx(index, abs=5e-6)


def test_path_arrays_and_annual_rate():
    assert target_path_index(np.array([2023, 2027])) == pytest.approx([0.97253, 0.87], abs=5e-6)
    # 0.87 ** (1/5) - 1 = -0.02747
    assert path_annual_change_frac() == pytest.approx(-0.02747, abs=5e-6)


def test_ytd_change():
    # g_E = 105/100 - 1 = 5 %, g_VA = 108/100 - 1 = 8 %: r = 1.05/1.08 - 1 = -0.027778
    assert intensity_change_frac(0.05, 0.08) == pytest.approx(-0.0277778, abs=1e-7)
    df = pd.DataFrame({"enterprise": ["a", "b"], "energy_tce": [105.0, 1.0], "energy_prev_year_tce": [100.0, 0.0],
                       "value_added_10k_cny": [108.0, 1.0], "value_added_prev_year_10k_cny": [100.0, 1.0]})
    out, issues = ytd_change(df)
    assert out["ytd_change_frac"].iloc[0] == pytest.approx(-0.0277778, abs=1e-7)
    assert out["energy_growth_frac"].iloc[0] == pytest.approx(0.05)
    assert math.isnan(out["ytd_change_frac"].iloc[1]) and issues[0].blocking


def test_cumulative_index_and_chain():
    df = pd.DataFrame({"intensity_tce_per_10k_cny": [0.9, 1.0], "base_intensity_tce_per_10k_cny": [1.0, np.nan]})
    out, issues = cumulative_index(df)
    assert out["cumulative_index"].iloc[0] == pytest.approx(0.9) and math.isnan(out["cumulative_index"].iloc[1])
    assert issues[0].blocking
    # (1 - 0.03) x (1 - 0.02) = 0.97 x 0.98 = 0.9506
    assert chain_index([-0.03, -0.02]) == pytest.approx(0.9506)


def test_required_annual_rate():
    # index 0.95 after 2024, 3 years left: (0.87/0.95) ** (1/3) - 1 = 0.915789 ** 0.3333 - 1 = -0.028897
    assert required_annual_rate(0.95, 2024) == pytest.approx(-0.028897, abs=1e-6)
    # exactly on the path in 2024 (0.87 ** 0.4): still need the path rate 0.87 ** 0.2 - 1 = -0.027468
    assert required_annual_rate(0.87 ** 0.4, 2024) == pytest.approx(-0.027468, abs=1e-6)
    # already below the end target: a rise is allowed (positive)
    assert required_annual_rate(0.80, 2026) == pytest.approx(0.0875, abs=1e-9)   # 0.87/0.80 - 1
    assert math.isnan(required_annual_rate(0.9, 2027))                            # no year left
    assert required_annual_rate(np.array([0.95, 0.95]), 2024) == pytest.approx([-0.028897] * 2, abs=1e-6)


def _status(ci, r=-0.01, year=2027, **extra):
    df = pd.DataFrame({"enterprise": ["a"], "cumulative_index": [ci], "ytd_change_frac": [r], **extra})
    out, _ = path_status(df, year=year)
    return out.iloc[0]


def test_status_boundaries_at_the_ten_percent_line():
    # 2027: path decline d_p = 1 - 0.87 = 0.13; yellow allowance 10% x 0.13 = 0.013
    assert _status(0.87)["status"] == "green"            # d_a = 0.13, shortfall 0
    assert _status(0.86)["status"] == "green"            # ahead of the path
    on_line = _status(0.883)                             # d_a = 0.117, shortfall = 0.013 exactly -> yellow
    assert on_line["status"] == "yellow" and on_line["status_level"] == 1
    assert on_line["shortfall_frac"] == pytest.approx(0.013)
    assert _status(0.8831)["status"] == "red"            # shortfall 0.0131 > 0.013
    assert _status(0.8831)["status_level"] == 2


def test_status_boundary_in_2024():
    # d_p = 1 - 0.87 ** 0.4 = 0.0541817; yellow line at d_a = 0.9 x d_p = 0.0487636 -> index 0.9512364
    d_p = 1 - 0.87 ** 0.4
    assert _status(1 - 0.9 * d_p, year=2024)["status"] == "yellow"
    assert _status(1 - 0.9 * d_p + 1e-6, year=2024)["status"] == "red"
    assert _status(1 - d_p, year=2024)["status"] == "green"


def test_rising_intensity_is_red_even_on_path():
    assert _status(0.86, r=0.001)["status"] == "red"
    assert _status(0.86, r=0.0)["status"] == "green"     # flat is not a rise


def test_data_insufficient():
    assert _status(float("nan"))["status"] == "data_insufficient"
    assert _status(0.86, r=float("nan"))["status"] == "data_insufficient"
    row = _status(0.86, data_status=["data_insufficient"])
    assert row["status"] == "data_insufficient" and row["status_level"] == 3


def test_status_columns():
    row = _status(0.95, year=2024)
    assert row["path_index"] == pytest.approx(0.94582, abs=5e-6)
    assert row["actual_decline_frac"] == pytest.approx(0.05)
    assert row["required_annual_rate_frac"] == pytest.approx(-0.028897, abs=1e-6)

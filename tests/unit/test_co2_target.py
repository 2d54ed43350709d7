"""CO₂ target (issue #12 §4): index at a fixed grid vintage, own vintage beside it, status vs society-wide."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ecm.accounting.co2_target import co2_parts, co2_target, process_co2_by_enterprise
from ecm.factors import load_factors

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def f():
    return load_factors(ROOT / "config/factors.yaml")


def _row(ent="_district", non_grid=(450.0, 480.0, 500.0), **extra):
    # spans cur (2026) / prev (2025) / base (2022): kWh, non-grid tCO2, value added 10^4 CNY
    r = {"enterprise": ent, "data_status": "ok",
         "grid_electricity_kwh_cur": 1.15e6, "grid_electricity_kwh_prev": 1.1e6, "grid_electricity_kwh_base": 1.0e6,
         "co2_non_grid_t_cur": non_grid[0], "co2_non_grid_t_prev": non_grid[1], "co2_non_grid_t_base": non_grid[2],
         "value_added_10k_cny_cur": 1200.0, "value_added_10k_cny_prev": 1100.0, "value_added_10k_cny_base": 1000.0}
    r.update(extra)
    return r


def test_index_at_fixed_vintage_and_status_against_society_wide(f):
    out, issues = co2_target(pd.DataFrame([_row(), _row("e01", non_grid=(400.0, 480.0, 500.0))]), f, year=2026)
    r = out.iloc[0]
    # fixed vintage 2022 (Chongqing 0.5227 kg/kWh):
    #   base: 500 + 1,000,000 x 0.5227 / 1000 = 1022.7 t / 1000 = 1.0227 t/10^4 CNY
    #   prev 480 + 574.97 = 1054.97 / 1100 = 0.959064;  cur 450 + 601.105 = 1051.105 / 1200 = 0.875921
    #   index 0.875921 / 1.0227 = 0.856479; yoy 0.875921 / 0.959064 - 1 = -0.086692
    assert r["energy_co2_index_fixed_vintage"] == pytest.approx(0.856479, abs=1e-6)
    assert r["energy_co2_yoy_change_frac_fixed_vintage"] == pytest.approx(-0.086692, abs=1e-6)
    # own vintages: 2022 -> 0.5227, 2025 and 2026 -> latest <= year = 2023 vintage 0.5581
    #   cur 450 + 641.815 = 1091.815 / 1200 = 0.909846 -> index 0.889651 (3.3 points above the fixed one)
    #   prev 480 + 613.91 = 1093.91 / 1100 = 0.994464 -> yoy -0.085089
    assert r["energy_co2_index_own_vintage"] == pytest.approx(0.889651, abs=1e-6)
    assert r["energy_co2_yoy_change_frac_own_vintage"] == pytest.approx(-0.085089, abs=1e-6)
    assert (r["grid_vintage_fixed"], r["grid_vintage_own"]) == (2022, 2023)
    # reference: 18 % over 2021-2025 -> a = 0.82 ** 0.2 - 1 = -0.038913; 2026 vs 2022: 0.82 ** 0.8 = 0.853200
    assert r["co2_reference_annual_change_frac"] == pytest.approx(-0.038913, abs=1e-6)
    assert r["co2_reference_index"] == pytest.approx(0.853200, abs=1e-6)
    # d_r = 0.146800, d_a = 0.143521 -> shortfall 0.003278 <= 0.1 x 0.146800 = 0.014680 -> yellow
    assert r["energy_co2_status"] == "yellow" and r["energy_co2_status_level"] == 1
    # e01 burns 50 t less in the YTD: (400 + 601.105) / 1200 = 0.834254 -> index 0.815737 < 0.853200 -> green
    e = out.iloc[1]
    assert e["energy_co2_index_fixed_vintage"] == pytest.approx(0.815737, abs=1e-6)
    assert e["energy_co2_status"] == "green"
    assert (out["co2_basis"] == "energy_related").all() and r["co2_label_en"] == "energy-related CO₂"
    assert "18%" in r["co2_reference_source"] or "18 %" in r["co2_reference_source"]
    assert "ecm.co2_target.vintage_differs" in [i.name for i in issues]


def test_yoy_rise_is_red_and_insufficient_is_not_a_colour(f):
    # prev non-grid 350: (350 + 574.97) / 1100 = 0.840882 < 0.875921 -> CO2 intensity rose y-o-y -> red
    out, _ = co2_target(pd.DataFrame([_row(non_grid=(450.0, 350.0, 500.0)),
                                      _row("e02", data_status="data_insufficient")]), f, year=2026)
    assert out["energy_co2_yoy_change_frac_fixed_vintage"].iloc[0] == pytest.approx(0.875921 / 0.840882 - 1, abs=1e-6)
    assert out["energy_co2_status"].tolist() == ["red", "data_insufficient"]


def test_process_co2_included_when_given(f):
    # process CO2 from carbonate: 100 t CaCO3 at 90 % x 0.440 = 39.6 t per span
    mats = pd.DataFrame([{"enterprise": "e05", "span": s, "material": "caco3", "mass_t": 100.0, "content_frac": 0.9}
                         for s in ("cur", "prev", "base")])
    proc, _ = process_co2_by_enterprise(mats, f)
    assert proc["process_co2_t"].tolist() == pytest.approx([39.6, 39.6, 39.6])
    p = proc.set_index("span")["process_co2_t"]
    row = _row("e05", **{f"process_co2_t_{s}": p[s] for s in ("cur", "prev", "base")})
    out, _ = co2_target(pd.DataFrame([row]), f, year=2026)
    r = out.iloc[0]
    # (450 + 39.6 + 601.105) / 1200 = 0.908921; base (500 + 39.6 + 522.7) / 1000 = 1.0623 -> 0.855616
    assert r["co2_index_fixed_vintage"] == pytest.approx(0.908921 / 1.0623, abs=1e-6)
    assert r["co2_basis"] == "energy_and_process" and "energy_co2_index_fixed_vintage" not in out
    # missing for one span -> energy-related only, with an issue
    row.pop("process_co2_t_prev")
    out, issues = co2_target(pd.DataFrame([row]), f, year=2026)
    assert "energy_co2_index_fixed_vintage" in out and "ecm.co2_target.process_data_partial" in [i.name for i in issues]


def test_co2_parts_from_consumption(f):
    from ecm.accounting.carbon import consumption_to_co2

    cons = pd.DataFrame([{"enterprise": "e01", "carrier": "electricity", "amount": 1000.0},
                         {"enterprise": "e01", "carrier": "natural_gas", "amount": 100.0}])
    c, _ = consumption_to_co2(cons, f, year=2026)
    parts, _ = co2_parts(c)
    # gas 100 m3 x 2.162 kg = 0.2162 t; electricity kept as kWh for re-pricing at any vintage
    assert parts.iloc[0]["grid_electricity_kwh"] == 1000.0
    assert parts.iloc[0]["co2_non_grid_t"] == pytest.approx(0.2162)

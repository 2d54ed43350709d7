"""CO2 by scope: grid vintage rule, fuels, purchased heat/steam, process carbonates."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from ecm.accounting.carbon import consumption_to_co2, process_co2
from ecm.factors import load_factors

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def f():
    return load_factors(ROOT / "config/factors.yaml")


def _consumption():
    return pd.DataFrame({
        "enterprise": "e01",
        "carrier": ["electricity", "natural_gas", "coal", "lpg", "diesel", "fuel_oil", "heat", "steam",
                    "pv_generation", "waste_heat"],
        "amount": [10_000.0, 1_000.0, 2.0, 500.0, 100.0, 200.0, 20.0, 10.0, 5_000.0, 100.0],
    })


def test_scopes_and_factors(f):
    out, issues = consumption_to_co2(_consumption(), f, year=2023)
    r = out.set_index("carrier")
    # kgCO2/unit x amount / 1000 = t
    assert r.loc["electricity", "co2_t"] == pytest.approx(5.581)    # 10,000 kWh x 0.5581 (Chongqing 2023)
    assert r.loc["natural_gas", "co2_t"] == pytest.approx(2.162)    # 1,000 m3 x 2.162
    assert r.loc["coal", "co2_t"] == pytest.approx(3.734)           # 2 t x 1,867
    assert r.loc["lpg", "co2_t"] == pytest.approx(1.5505)           # 500 kg x 3.101
    assert r.loc["diesel", "co2_t"] == pytest.approx(0.3096)        # 100 kg x 3.096
    assert r.loc["fuel_oil", "co2_t"] == pytest.approx(0.6342)      # 200 kg x 3.171
    assert r.loc["heat", "co2_t"] == pytest.approx(2.2)             # 20 GJ x 110
    assert r.loc["steam", "co2_t"] == pytest.approx(3.03237)        # 10 t x 2.7567 GJ/t x 110
    assert r.loc["pv_generation", "co2_t"] == 0.0 and r.loc["waste_heat", "co2_t"] == 0.0
    assert r.loc["electricity", "scope"] == "scope2" and r.loc["heat", "scope"] == "scope2"
    assert r.loc["coal", "scope"] == "scope1" and r.loc["pv_generation", "scope"] == "none"
    assert r.loc["electricity", "emission_kind"] == "purchased_electricity"
    assert r.loc["steam", "emission_kind"] == "purchased_heat"
    assert r.loc["natural_gas", "emission_kind"] == "combustion"
    assert r.loc["electricity", "factor_vintage"] == 2023 and pd.isna(r.loc["coal", "factor_vintage"])
    assert (out["factor_table_version"] == "2026.11-2").all()
    assert issues == []


def test_grid_vintage_fallback_recorded(f):
    c = pd.DataFrame({"enterprise": ["e01"], "carrier": ["electricity"], "amount": [10_000.0]})
    out, issues = consumption_to_co2(c, f, year=2025)
    # no 2025 vintage: latest <= 2025 is 2023 -> 10,000 x 0.5581 = 5.581 t
    assert out["co2_t"].iloc[0] == pytest.approx(5.581) and out["factor_vintage"].iloc[0] == 2023
    (iss,) = issues
    assert iss.name == "ecm.carbon.grid_factor_vintage_fallback" and iss.evidence["vintage"] == 2023
    out22, issues22 = consumption_to_co2(c, f, year=2022)
    assert out22["co2_t"].iloc[0] == pytest.approx(5.227) and issues22 == []   # 10,000 x 0.5227


def test_grid_region_choice(f):
    c = pd.DataFrame({"enterprise": ["e01"], "carrier": ["electricity"], "amount": [10_000.0]})
    out, _ = consumption_to_co2(c, f, year=2023, grid_region="national")
    assert out["co2_t"].iloc[0] == pytest.approx(5.306)   # 10,000 x 0.5306
    assert out["factor_region"].iloc[0] == "national"


def test_missing_amount_blocking(f):
    c = pd.DataFrame({"enterprise": ["e01"], "carrier": ["natural_gas"], "amount": [float("nan")]})
    out, issues = consumption_to_co2(c, f, year=2023)
    assert math.isnan(out["co2_t"].iloc[0]) and issues[0].blocking


def test_process_co2(f):
    m = pd.DataFrame({"enterprise": "e01", "material": ["caco3", "dolomite", "mgco3"],
                      "mass_t": [100.0, 10.0, 5.0], "content_frac": [0.9, 1.0, 1.2]})
    out, issues = process_co2(m, f)
    # 100 t x 0.9 x 0.440 = 39.6 t; 10 t x 1.0 x 0.477 = 4.77 t; content 1.2 is impossible -> NaN
    assert out["co2_t"].iloc[0] == pytest.approx(39.6)
    assert out["co2_t"].iloc[1] == pytest.approx(4.77)
    assert math.isnan(out["co2_t"].iloc[2])
    assert (out["scope"] == "scope1").all() and (out["emission_kind"] == "process").all()
    assert [i.name for i in issues] == ["ecm.carbon.process_input_invalid"] and issues[0].blocking


def test_process_co2_without_content_column(f):
    out, _ = process_co2(pd.DataFrame({"enterprise": ["e01"], "material": ["mgco3"], "mass_t": [10.0]}), f)
    assert out["co2_t"].iloc[0] == pytest.approx(5.22)   # 10 t x 0.522

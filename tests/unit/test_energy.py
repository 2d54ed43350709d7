"""Physical consumption → tce on both bases; boundary policy; unit product energy per line."""
from __future__ import annotations

import copy
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ecm.accounting.energy import consumption_to_tce, unit_product_energy
from ecm.factors import load_factors, parse_factors

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def f():
    return load_factors(ROOT / "config/factors.yaml")


def _with_policy(**kw):
    data = yaml.safe_load((ROOT / "config/factors.yaml").read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    for k, v in kw.items():
        data["policy"][k]["value"] = v
    return parse_factors(data)


def _consumption():
    return pd.DataFrame({
        "enterprise": "e01",
        "carrier": ["electricity", "natural_gas", "coal", "lpg", "diesel", "fuel_oil", "steam", "heat",
                    "pv_generation", "waste_heat"],
        "amount": [10_000.0, 1_000.0, 2.0, 500.0, 100.0, 200.0, 10.0, 20.0, 5_000.0, 100.0],
    })


def test_tce_per_carrier_both_bases(f):
    out, issues = consumption_to_tce(_consumption(), f, year=2024)
    got = dict(zip(out["carrier"], out["energy_tce"]))
    # kgce/unit x amount / 1000
    assert got["electricity"] == pytest.approx(1.229)      # 10,000 kWh x 0.1229
    assert got["natural_gas"] == pytest.approx(1.2143)     # 1,000 m3 x 1.2143
    assert got["coal"] == pytest.approx(1.4286)            # 2 t x 714.3
    assert got["lpg"] == pytest.approx(0.85715)            # 500 kg x 1.7143
    assert got["diesel"] == pytest.approx(0.14571)         # 100 kg x 1.4571
    assert got["fuel_oil"] == pytest.approx(0.28572)       # 200 kg x 1.4286
    assert got["steam"] == pytest.approx(0.941)            # 10 t x 94.1
    assert got["heat"] == pytest.approx(0.6824)            # 20 GJ x 34.12
    assert got["pv_generation"] == 0.0 and got["waste_heat"] == 0.0
    gen = dict(zip(out["carrier"], out["energy_tce_generation"]))
    assert gen["electricity"] == pytest.approx(3.024)      # 10,000 kWh x 0.3024 (2024 vintage)
    assert gen["natural_gas"] == pytest.approx(1.2143)     # same coefficient on both bases
    assert (out["factor_table_version"] == "2026.11-2").all()
    assert issues == []


def test_exclusions_stay_in_frame(f):
    out, _ = consumption_to_tce(_consumption(), f, year=2024)
    r = out.set_index("carrier")
    assert not r.loc["pv_generation", "included"] and r.loc["pv_generation", "exclusion_reason"] == "renewable_onsite"
    assert r.loc["waste_heat", "exclusion_reason"] == "waste_heat_recovered"
    assert r.loc["electricity", "included"] and r.loc["electricity", "exclusion_reason"] == ""
    # total 当量值: 1.229 + 1.2143 + 1.4286 + 0.85715 + 0.14571 + 0.28572 + 0.941 + 0.6824 = 6.78388
    assert out["energy_tce"].sum() == pytest.approx(6.78388)


def test_pv_included_by_policy():
    out, _ = consumption_to_tce(pd.DataFrame({"enterprise": ["e01"], "carrier": ["pv_generation"], "amount": [5_000.0]}),
                                _with_policy(renewable_onsite="include"), year=2024)
    # 5,000 kWh x 0.1229 = 614.5 kgce; 等价值 5,000 x 0.3024 = 1512 kgce
    assert out["energy_tce"].iloc[0] == pytest.approx(0.6145)
    assert out["energy_tce_generation"].iloc[0] == pytest.approx(1.512)
    assert out["included"].iloc[0]


def test_feedstock_excluded(f):
    c = pd.DataFrame({"enterprise": "e01", "carrier": ["natural_gas", "natural_gas"], "amount": [100.0, 100.0],
                      "use": ["fuel", "feedstock"]})
    out, _ = consumption_to_tce(c, f, year=2024)
    assert out["energy_tce"].tolist() == pytest.approx([0.12143, 0.0])
    assert out["exclusion_reason"].tolist() == ["", "feedstock"]


def test_generation_vintage_fallback_is_reported(f):
    c = pd.DataFrame({"enterprise": ["e01"], "carrier": ["electricity"], "amount": [10_000.0]})
    out, issues = consumption_to_tce(c, f, year=2022)
    # 2022 has no CEC vintage: latest <= 2022 is 2020 -> 10,000 x 0.3055 = 3.055 tce
    assert out["energy_tce_generation"].iloc[0] == pytest.approx(3.055)
    (iss,) = issues
    assert iss.name == "ecm.energy.generation_factor_vintage" and iss.evidence["vintage"] == 2020
    assert not iss.blocking


def test_missing_amount_is_blocking(f):
    c = pd.DataFrame({"enterprise": ["e01"], "carrier": ["coal"], "amount": [float("nan")]})
    out, issues = consumption_to_tce(c, f, year=2024)
    assert math.isnan(out["energy_tce"].iloc[0])
    assert [i.name for i in issues] == ["ecm.energy.quantity_missing"] and issues[0].blocking


def test_numeric_quantity_column_accepted(f):
    c = pd.DataFrame({"enterprise": ["e01"], "carrier": ["natural_gas"], "quantity": [1_000.0]})
    out, _ = consumption_to_tce(c, f, year=2024)
    assert out["energy_tce"].iloc[0] == pytest.approx(1.2143)


# -- unit product energy ---------------------------------------------------------------------

LINES = pd.DataFrame({
    "line": ["tile", "cem", "cup", "idle", "broken"],
    "enterprise": ["e01", "e10", "e08", "e02", "e03"],
    "product_class": ["tile_abs_le_0_2", "cement_grinding", "daily_ceramics", "tile_abs_0_2_to_0_5", "tile_abs_gt_10"],
    "output_unit": ["m2", "t", "pcs", "m2", "m2"],
})


def test_unit_product_energy(f):
    energy = pd.DataFrame({"line": ["tile", "cem", "cup", "idle", "broken"],
                           "energy_tce": [36.5, 4.0, 2.0, 0.0, 5.0],
                           "electricity_kwh": [60_000.0, 30_000.0, 1_000.0, 0.0, 10.0]})
    output = pd.DataFrame({"line": ["tile", "cem", "cup", "idle", "broken"],
                           "output_m2": [10_000.0, None, None, 0.0, 0.0],
                           "output_t": [None, 1_000.0, None, None, None],
                           "output_pcs": [None, None, 4_000.0, None, None]})
    out, issues = unit_product_energy(energy, output, LINES, f)
    r = out.set_index("line")
    # tile: 36.5 tce = 36,500 kgce / 10,000 m2 = 3.65 kgce/m2
    assert r.loc["tile", "unit_energy_kgce_per_m2"] == pytest.approx(3.65)
    assert math.isnan(r.loc["tile", "unit_energy_kgce_per_t"])
    # cement grinding indicator is electricity: 30,000 kWh / 1,000 t = 30 kWh/t
    assert r.loc["cem", "unit_energy_kwh_per_t"] == pytest.approx(30.0)
    assert r.loc["cem", "indicator_unit"] == "kwh_per_t"
    # daily ceramics: 2,000 kgce / 4,000 pcs = 0.5 kgce/pcs
    assert r.loc["cup", "unit_energy_kgce_per_pcs"] == pytest.approx(0.5)
    # zero output: idle (no energy) is non-blocking, energy without output is blocking
    assert math.isnan(r.loc["idle", "unit_energy_kgce_per_m2"]) and math.isnan(r.loc["broken", "unit_energy_kgce_per_m2"])
    by = {i.name: i for i in issues}
    assert by["ecm.energy.output_zero"].blocking and by["ecm.energy.output_zero"].evidence["lines"] == ["broken"]
    assert not by["ecm.energy.line_idle"].blocking and by["ecm.energy.line_idle"].evidence["lines"] == ["idle"]
    assert (out["factor_table_version"] == "2026.11-2").all()


def test_unit_product_energy_missing_input_is_blocking(f):
    energy = pd.DataFrame({"line": ["tile"], "energy_tce": [float("nan")]})
    output = pd.DataFrame({"line": ["tile"], "output_m2": [100.0]})
    out, issues = unit_product_energy(energy, output, LINES, f)
    assert math.isnan(out["unit_energy_kgce_per_m2"].iloc[0])
    assert [i.name for i in issues] == ["ecm.energy.unit_energy_input_missing"] and issues[0].blocking


def test_unit_product_energy_generation_basis(f):
    energy = pd.DataFrame({"line": ["tile"], "energy_tce": [36.5], "energy_tce_generation": [50.0]})
    output = pd.DataFrame({"line": ["tile"], "output_m2": [10_000.0]})
    out, _ = unit_product_energy(energy, output, LINES, f, basis="generation")
    # 50,000 kgce / 10,000 m2 = 5.0
    assert out["unit_energy_kgce_per_m2"].iloc[0] == pytest.approx(5.0)


def test_consumption_amount_is_named_amount_not_value(f):
    """``value`` names a meter reading (ecm.schema.F_READING_VALUE); a consumed quantity is ``amount``."""
    c = pd.DataFrame({"enterprise": ["e01"], "carrier": ["electricity"], "value": [10_000.0]})
    with pytest.raises(ValueError, match="`value` is a meter reading; the consumed amount is `amount`"):
        consumption_to_tce(c, f, year=2024)

"""Factor table: figures, vintage rules, provenance validation, frozen objects."""
from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import yaml

from ecm.errors import ConfigError, FactorMissingError
from ecm.factors import load_factors, parse_factors
from ecm.registry import load_registry

ROOT = Path(__file__).resolve().parents[2]
PATH = ROOT / "config/factors.yaml"


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def f():
    return load_factors(PATH)


def test_table_version_and_cache(f):
    assert f.table_version == "2026.11-2"
    assert load_factors(PATH) is f
    assert load_factors(str(PATH)) is f


@pytest.mark.parametrize("carrier,kgce", [
    ("electricity", 0.1229),     # 当量值, GB/T 2589-2020 Annex A
    ("natural_gas", 1.2143),     # gas-field gas, per m3
    ("natural_gas_oilfield", 1.3300),
    ("coal", 714.3),             # raw coal 0.7143 kgce/kg = 714.3 kgce/t
    ("lpg", 1.7143),
    ("diesel", 1.4571),
    ("fuel_oil", 1.4286),
    ("steam", 94.1),             # 2756.7 MJ/t x 0.03412
    ("heat", 34.12),             # per GJ
    ("pv_generation", 0.1229),   # coefficients_from electricity
    ("waste_heat", 34.12),
])
def test_tce_coefficients(f, carrier, kgce):
    assert f.tce_kgce_per_unit(carrier, "equivalent") == pytest.approx(kgce, abs=1e-12)


def test_generation_basis_by_vintage(f):
    assert f.tce_kgce_per_unit("electricity", "generation", 2020) == 0.3055
    assert f.tce_kgce_per_unit("electricity", "generation", 2022) == 0.3055   # latest vintage <= 2022 is 2020
    assert f.tce_kgce_per_unit("electricity", "generation", 2024) == 0.3024
    assert f.tce_kgce_per_unit("electricity", "generation", 2026) == 0.3024
    assert f.tce_kgce_per_unit("electricity", "generation", 2019) == 0.3024   # before every vintage: default
    assert f.tce_kgce_per_unit("electricity", "generation") == 0.3024         # no year: default
    assert f.tce_figure("electricity", "generation", 2025).vintage == 2024
    # non-electric carriers have one coefficient on both bases
    assert f.tce_kgce_per_unit("natural_gas", "generation", 2024) == 1.2143
    # basis None = policy default (equivalent)
    assert f.tce_kgce_per_unit("electricity", None) == 0.1229


def test_policy_defaults(f):
    p = f.policy
    assert (p.electricity_basis_default, p.renewable_onsite, p.feedstock, p.waste_heat_recovered) == (
        "equivalent", "exclude", "exclude", "not_counted")
    assert f.carrier_category("pv_generation") == "onsite_renewable"
    assert f.carrier_category("waste_heat") == "recovered"


def test_oilfield_gas_policy_switch(raw):
    data = copy.deepcopy(raw)
    data["policy"]["natural_gas_coefficient"]["value"] = "oil_field"
    assert parse_factors(data).tce_kgce_per_unit("natural_gas") == 1.3300


def test_grid_factor_vintages(f):
    c = f.co2_factor("electricity", 2023)
    assert (c.value_kgco2_per_unit, c.vintage, c.region, c.scope) == (0.5581, 2023, "chongqing", "scope2")
    assert f.co2_factor("electricity", 2022).value_kgco2_per_unit == 0.5227
    later = f.co2_factor("electricity", 2025)            # latest vintage <= 2025 is 2023
    assert (later.value_kgco2_per_unit, later.vintage) == (0.5581, 2023)
    early = f.co2_factor("electricity", 2019)            # no vintage <= 2019: latest
    assert early.vintage == 2023
    assert f.co2_factor("electricity", 2023, "national").value_kgco2_per_unit == 0.5306
    assert f.co2_factor("electricity", 2022, "national").value_kgco2_per_unit == 0.5366
    assert f.co2_factor("electricity", 2024, "national_carbon_market").value_kgco2_per_unit == 0.5703
    with pytest.raises(FactorMissingError):
        f.co2_factor("electricity", 2023, "mars")


def test_fuel_heat_steam_process_factors(f):
    assert f.co2_factor("natural_gas", 2023).value_kgco2_per_unit == 2.162
    assert f.co2_factor("coal", 2023).value_kgco2_per_unit == 1867.0      # 1.867 t/t, per t
    assert f.co2_factor("lpg", 2023).value_kgco2_per_unit == 3.101        # t/t = kg/kg
    assert f.co2_factor("diesel", 2023).value_kgco2_per_unit == 3.096
    assert f.co2_factor("fuel_oil", 2023).value_kgco2_per_unit == 3.171
    assert f.co2_factor("heat", 2023).value_kgco2_per_unit == 110.0       # 0.11 tCO2/GJ
    # steam: 2.7567 GJ/t x 110 kgCO2/GJ = 303.237 kgCO2/t
    assert f.co2_factor("steam", 2023).value_kgco2_per_unit == pytest.approx(303.237, abs=1e-9)
    assert f.co2_factor("pv_generation", 2023).value_kgco2_per_unit == 0.0
    assert f.process_factor("caco3").value == 0.440
    assert f.process_factor("mgco3").value == 0.522
    assert f.process_factor("dolomite").value == 0.477


def test_benchmarks(f):
    t = f.benchmark("tile_abs_le_0_2")
    assert (t.unit, t.basis, t.benchmark_value, t.baseline_value) == ("kgce_per_m2", "ndrc", 4.0, 7.0)
    assert (t.gb.grade_1, t.gb.grade_2, t.gb.grade_3) == (4.5, 5.5, 7.0)
    assert (f.benchmark("tile_abs_0_2_to_0_5").gb.grade_3, f.benchmark("tile_abs_gt_10").ndrc.benchmark) == (6.5, 3.5)
    s = f.benchmark("sanitary_abs_gt_0_3")
    # effective 基准 = min(NDRC 630, GB 21252-2023 limit 610) = 610
    assert (s.unit, s.benchmark_value, s.baseline_value, s.gb.grade_2) == ("kgce_per_t", 300, 610, 460)
    assert (s.ndrc_baseline_value, s.baseline_basis) == (630, "gb_limit_stricter")
    t2 = f.benchmark("tile_abs_0_2_to_0_5")   # NDRC 7.0 vs GB limit 6.5
    assert (t2.baseline_value, t2.baseline_basis, t2.stand_in) == (6.5, "gb_limit_stricter", False)
    assert (t.baseline_basis, f.benchmark("sanitary_abs_le_0_3").baseline_value) == ("ndrc", 630)
    assert "2021" in t.ndrc.edition and "1609" in t.ndrc.edition   # values come from the 2021 table
    c = f.benchmark("cement_grinding")   # no NDRC row: GB grade 1 / grade 3 as labelled stand-ins
    assert (c.unit, c.ndrc, c.basis, c.benchmark_value, c.baseline_value, c.stand_in) == (
        "kwh_per_t", None, "gb_grades_stand_in", 26, 34, True)
    assert c.boundary is not None and "packing" in c.boundary["excluded"] and c.boundary["confidence"] == "L"
    b = f.benchmark("brick_sintered_hollow")
    assert (b.benchmark_value, b.baseline_value) == (47, 55)
    d = f.benchmark("daily_ceramics")
    assert (d.basis, d.benchmark_value, d.baseline_value) == ("none", None, None)
    with pytest.raises(FactorMissingError, match="glass"):
        f.benchmark("glass")


def test_every_registry_product_class_has_a_row(f):
    reg = load_registry(ROOT / "config/district.yaml")
    classes = {ln.product_class for e in reg.enterprises for ln in e.lines}
    assert classes <= set(f.benchmarks)


def test_targets(f):
    t = f.targets
    assert (t.base_year, t.end_year, t.cumulative_reduction_frac, t.yellow_tolerance_frac) == (2022, 2027, 0.13, 0.10)
    assert (t.benchmark_share_goal_frac, t.baseline_share_goal_frac) == (0.30, 1.0)
    assert t.path_kwargs() == {"base_year": 2022, "end_year": 2027, "cumulative_reduction_frac": 0.13}


def test_unknown_carrier(f):
    with pytest.raises(FactorMissingError, match="hydrogen"):
        f.tce_kgce_per_unit("hydrogen")
    with pytest.raises(FactorMissingError):
        f.co2_factor("hydrogen", 2023)


def test_objects_are_frozen(f):
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.table_version = "x"
    with pytest.raises(TypeError):
        f.benchmarks["x"] = None


@pytest.mark.parametrize("mutate,where,what", [
    (lambda d: d["tce_coefficients"]["lpg"].pop("source"), "tce_coefficients.lpg", "missing source"),
    (lambda d: d["tce_coefficients"]["electricity"]["generation"]["by_year"][2020].pop("edition"),
     "tce_coefficients.electricity.generation.by_year.2020", "missing edition"),
    (lambda d: d["benchmarks"]["tile_abs_le_0_2"]["ndrc"].pop("edition"), "benchmarks.tile_abs_le_0_2.ndrc",
     "missing edition"),
    (lambda d: d["co2_factors"]["grid_electricity"]["regions"]["chongqing"][2023].pop("source"),
     "co2_factors.grid_electricity.regions.chongqing.2023", "missing source"),
    (lambda d: d["co2_factors"]["fuels"]["diesel"].update(confidence="X"), "co2_factors.fuels.diesel", "confidence"),
    (lambda d: d["policy"]["renewable_onsite"].update(value="maybe"), "policy.renewable_onsite", "one of"),
    (lambda d: d.pop("table_version"), "table_version", "missing"),
    (lambda d: d["benchmarks"]["tile_abs_gt_10"]["gb"].update(grade_1=9.0), "benchmarks.tile_abs_gt_10.gb", "grade_1"),
    (lambda d: d["co2_factors"]["fuels"]["lpg"].update(unit="kgco2_per_t"), "co2_factors.fuels.lpg.unit",
     "kgco2_per_kg"),
    (lambda d: d["coverage"]["period_min_covered_frac"].pop("source"), "coverage.period_min_covered_frac",
     "missing source"),
    (lambda d: d["coverage"]["district_min_energy_frac"].update(value=80), "coverage.district_min_energy_frac",
     "fraction"),
    (lambda d: d["co2_reference"]["fixed_grid_vintage"].update(value=1999), "co2_reference.fixed_grid_vintage",
     "vintage 1999"),
    (lambda d: d["benchmarks"]["cement_grinding"]["boundary"].pop("edition"), "benchmarks.cement_grinding.boundary",
     "missing edition"),
])
def test_validation_names_the_entry(raw, mutate, where, what):
    data = copy.deepcopy(raw)
    mutate(data)
    with pytest.raises(ConfigError) as exc:
        parse_factors(data, "factors.yaml")
    assert f"factors.yaml: {where}" in str(exc.value)
    assert what in str(exc.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_factors(tmp_path / "nope.yaml")

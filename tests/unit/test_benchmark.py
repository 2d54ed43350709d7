"""Lines against 标杆/基准 (exact boundaries), GB grades, project rule, capacity shares."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecm.accounting.benchmark import capacity_shares, classify_lines
from ecm.factors import load_factors

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def f():
    return load_factors(ROOT / "config/factors.yaml")


def _lines(rows):
    return pd.DataFrame(rows, columns=["line", "enterprise", "industry", "product_class", "capacity_per_day",
                                       "capacity_unit"])


def _ue(values: dict[str, tuple[str, float]]):
    """{line: (unit, value)} -> unit_energy frame with one unit_energy_<unit> column per unit."""
    df = pd.DataFrame({"line": list(values)})
    for unit in {u for u, _ in values.values()}:
        df[f"unit_energy_{unit}"] = [v if u == unit else np.nan for u, v in values.values()]
    return df


TILE = "tile_abs_le_0_2"   # NDRC 标杆 4.0 / 基准 7.0 kgce/m2; GB grades 4.5 / 5.5 / 7.0


def test_tile_boundaries(f):
    lines = _lines([(n, "e01", "building_ceramics", TILE, 10_000, "m2_per_day") for n in ("a", "b", "c", "d", "e")])
    ue = _ue({"a": ("kgce_per_m2", 4.0), "b": ("kgce_per_m2", 5.0), "c": ("kgce_per_m2", 7.0),
              "d": ("kgce_per_m2", 7.0001), "e": ("kgce_per_m2", 3.2)})
    out, issues = classify_lines(ue, lines, f)
    r = out.set_index("line")
    # exactly 标杆 -> at or better; exactly 基准 -> between (meets baseline); above 基准 -> worse
    assert r["classification"].to_dict() == {"a": "at_or_better_than_benchmark", "b": "between", "c": "between",
                                             "d": "worse_than_baseline", "e": "at_or_better_than_benchmark"}
    assert r["classification_level"].to_dict() == {"a": 0, "b": 1, "c": 1, "d": 2, "e": 0}
    # GB: 4.0 <= 4.5 -> 1; 5.0 <= 5.5 -> 2; 7.0 == grade 3 -> 3; 7.0001 > 7.0 -> above_limit
    assert r["gb_grade"].to_dict() == {"a": "1", "b": "2", "c": "3", "d": "above_limit", "e": "1"}
    # b: 5.0 - 4.0 = +1.0 (25 % worse than 标杆); 5.0 - 7.0 = -2.0 (-28.571 % vs 基准)
    assert r.loc["b", "gap_to_benchmark_kgce_per_m2"] == pytest.approx(1.0)
    assert r.loc["b", "gap_to_benchmark_pct"] == pytest.approx(25.0)
    assert r.loc["b", "gap_to_baseline_kgce_per_m2"] == pytest.approx(-2.0)
    assert r.loc["b", "gap_to_baseline_pct"] == pytest.approx(-28.571429, abs=1e-6)
    assert r.loc["a", "gap_to_benchmark_pct"] == 0.0 and r.loc["c", "gap_to_baseline_pct"] == 0.0
    assert r.loc["a", "benchmark_kgce_per_m2"] == 4.0 and r.loc["a", "baseline_kgce_per_m2"] == 7.0
    assert math.isnan(r.loc["a", "benchmark_kgce_per_t"])
    assert (r["benchmark_basis"] == "ndrc").all() and (out["factor_table_version"] == "2026.11-2").all()
    assert issues == []


def test_float_rounding_on_the_line_counts_as_on_it(f):
    lines = _lines([("a", "e01", "building_ceramics", TILE, 1, "m2_per_day")])
    out, _ = classify_lines(_ue({"a": ("kgce_per_m2", 0.1 * 3 / 0.075)}), lines, f)   # 4.000000000000001
    assert out["classification"].iloc[0] == "at_or_better_than_benchmark"


def test_project_rule_without_ndrc_row(f):
    # cement grinding: GB 16780-2021 grades 26 / 29 / 34 kWh/t; grade 1 = 标杆, grade 3 = 基准
    lines = _lines([(n, "e10", "cement", "cement_grinding", 2_000, "t_per_day") for n in ("x", "y", "z")])
    out, _ = classify_lines(_ue({"x": ("kwh_per_t", 26.0), "y": ("kwh_per_t", 34.0), "z": ("kwh_per_t", 34.5)}),
                            lines, f)
    r = out.set_index("line")
    assert r["classification"].to_dict() == {"x": "at_or_better_than_benchmark", "y": "between",
                                             "z": "worse_than_baseline"}
    assert (r["benchmark_basis"] == "gb_grades_stand_in").all() and r["stand_in"].all()
    assert (r["baseline_basis"] == "gb_stand_in").all()
    # z: (34.5 - 34) / 34 x 100 = 1.470588 %
    assert r.loc["z", "gap_to_baseline_pct"] == pytest.approx(1.470588, abs=1e-6)
    assert r.loc["z", "gap_to_baseline_kwh_per_t"] == pytest.approx(0.5)
    assert r.loc["z", "gb_grade"] == "above_limit"


def test_no_benchmark_and_missing_data(f):
    lines = _lines([("cup", "e08", "daily_ceramics", "daily_ceramics", 50_000, "pcs_per_day"),
                    ("t", "e01", "building_ceramics", TILE, 1_000, "m2_per_day")])
    out, issues = classify_lines(_ue({"cup": ("kgce_per_pcs", 0.5)}), lines, f)
    r = out.set_index("line")
    assert r.loc["cup", "classification"] == "no_benchmark" and r.loc["cup", "classification_level"] == 3
    assert r.loc["cup", "gb_grade"] == "none" and math.isnan(r.loc["cup", "gap_to_benchmark_pct"])
    assert r.loc["t", "classification"] == "data_insufficient" and r.loc["t", "gb_grade"] == "unknown"
    assert [i.name for i in issues] == ["ecm.benchmark.unit_energy_missing"]


def test_capacity_shares(f):
    lines = _lines([
        ("b1", "e01", "building_ceramics", TILE, 20_000, "m2_per_day"),
        ("b2", "e01", "building_ceramics", TILE, 15_000, "m2_per_day"),
        ("b3", "e02", "building_ceramics", TILE, 12_000, "m2_per_day"),
        ("c1", "e10", "cement", "cement_grinding", 3_000, "t_per_day"),
        ("c2", "e11", "cement", "cement_grinding", 1_000, "t_per_day"),
        ("d1", "e08", "daily_ceramics", "daily_ceramics", 50_000, "pcs_per_day"),
    ])
    ue = _ue({"b1": ("kgce_per_m2", 3.9), "b2": ("kgce_per_m2", 6.0), "b3": ("kgce_per_m2", 7.5),
              "c1": ("kwh_per_t", 25.0), "d1": ("kgce_per_pcs", 0.5)})   # c2 has no data
    classified, _ = classify_lines(ue, lines, f)
    out, issues = capacity_shares(classified, lines)
    r = out.set_index("industry")
    # ceramics: 标杆 20,000 / 47,000 = 0.425532; 基准-or-better (20,000 + 15,000) / 47,000 = 0.744681
    assert r.loc["building_ceramics", "benchmark_capacity_share_frac"] == pytest.approx(0.425532, abs=1e-6)
    assert r.loc["building_ceramics", "baseline_capacity_share_frac"] == pytest.approx(0.744681, abs=1e-6)
    assert r.loc["building_ceramics", "capacity_total"] == 47_000
    # cement: c2 without data stays in the denominator: 3,000 / 4,000 = 0.75 for both levels
    assert r.loc["cement", "benchmark_capacity_share_frac"] == 0.75
    assert r.loc["cement", "baseline_capacity_share_frac"] == 0.75
    assert r.loc["cement", "n_lines_data_insufficient"] == 1
    # daily ceramics: no level applies -> no share
    assert r.loc["daily_ceramics", "n_lines"] == 0 and math.isnan(r.loc["daily_ceramics", "benchmark_capacity_share_frac"])
    # headline "all": NDRC-levelled lines only (the cement GB stand-ins are reported apart):
    # 20,000 / 47,000 at 标杆, line shares 1/3 and 2/3
    assert r.loc["all", "capacity_unit"] == "m2_per_day" and r.loc["all", "level_basis"] == "ndrc"
    assert r.loc["all", "benchmark_capacity_share_frac"] == pytest.approx(20_000 / 47_000)
    assert r.loc["all", "benchmark_line_share_frac"] == pytest.approx(1 / 3)
    assert r.loc["all", "baseline_line_share_frac"] == pytest.approx(2 / 3)
    assert r.loc["all_gb_stand_in", "level_basis"] == "gb_grades_stand_in"
    assert r.loc["all_gb_stand_in", "benchmark_capacity_share_frac"] == 0.75
    assert r.loc["cement", "level_basis"] == "gb_grades_stand_in"
    names = [i.name for i in issues]
    assert "ecm.benchmark.capacity_data_insufficient" in names and "ecm.benchmark.mixed_capacity_units" not in names
    assert (out["factor_table_version"] == "2026.11-2").all()


def test_capacity_shares_single_unit_overall(f):
    lines = _lines([("a", "e01", "building_ceramics", TILE, 30_000, "m2_per_day"),
                    ("b", "e02", "building_ceramics", "tile_abs_gt_10", 10_000, "m2_per_day")])
    classified, _ = classify_lines(_ue({"a": ("kgce_per_m2", 4.0), "b": ("kgce_per_m2", 4.6)}), lines, f)
    out, issues = capacity_shares(classified)
    r = out.set_index("industry")
    # a exactly at 标杆 4.0; b 4.6 > 基准 4.5 (tile > 10 %): 30,000 / 40,000 = 0.75 at 标杆 and at 基准
    assert r.loc["all", "benchmark_capacity_share_frac"] == 0.75
    assert r.loc["all", "baseline_capacity_share_frac"] == 0.75
    assert r.loc["all", "capacity_unit"] == "m2_per_day" and issues == []


def test_overall_capacity_share_weights_capacity_by_baseline_energy():
    from ecm.accounting.benchmark import overall_capacity_shares
    from ecm.factors import get_factors

    classified = pd.DataFrame([
        # tile line 10,000 m2/day at 基准 7.0 kgce/m2 -> weight 70,000 kgce/day, at 标杆
        {"indicator_unit": "kgce_per_m2", "baseline_kgce_per_m2": 7.0, "capacity_per_day": 10000.0,
         "classification": "at_or_better_than_benchmark"},
        # brick line 500 t/day at 基准 53 kgce/t -> 26,500 kgce/day, between
        {"indicator_unit": "kgce_per_t", "baseline_kgce_per_t": 53.0, "capacity_per_day": 500.0,
         "classification": "between"},
        # grinding 2,000 t/day at 34 kWh/t x 0.1229 kgce/kWh -> 8,357.2 kgce/day, worse than 基准
        {"indicator_unit": "kwh_per_t", "baseline_kwh_per_t": 34.0, "capacity_per_day": 2000.0,
         "classification": "worse_than_baseline"},
        {"indicator_unit": "kgce_per_pcs", "capacity_per_day": 100.0, "classification": "no_benchmark"},
        # a second tile line 5,000 m2/day x 6.5 = 32,500 kgce/day, worse than 基准
        {"indicator_unit": "kgce_per_m2", "baseline_kgce_per_m2": 6.5, "capacity_per_day": 5000.0,
         "classification": "worse_than_baseline"},
    ])
    classified["stand_in"] = [False, True, True, False, False]   # brick and grinding: GB stand-ins
    out = overall_capacity_shares(classified, get_factors())
    total = 70000 + 32500   # headline: NDRC-levelled tiles only = 102,500
    assert out["capacity_total_kgce_per_day"] == pytest.approx(total)
    assert out["benchmark_capacity_share_frac"] == pytest.approx(70000 / total)          # 0.68293
    assert out["baseline_capacity_share_frac"] == pytest.approx(70000 / total)
    st = 26500 + 8357.2      # stand-ins apart = 34,857.2
    assert out["stand_in_capacity_total_kgce_per_day"] == pytest.approx(st)
    assert out["stand_in_benchmark_capacity_share_frac"] == 0.0
    assert out["stand_in_baseline_capacity_share_frac"] == pytest.approx(26500 / st)     # 0.76024


def test_effective_baseline_is_the_stricter_gb_limit(f):
    # tile 0.2-0.5 %: NDRC 基准 7.0 but GB 21252-2023 grade 3 (mandatory) 6.5 -> effective 6.5
    # sanitary > 0.3 %: NDRC 630 but GB limit 610 -> effective 610
    lines = _lines([("t66", "e01", "building_ceramics", "tile_abs_0_2_to_0_5", 10_000, "m2_per_day"),
                    ("t65", "e01", "building_ceramics", "tile_abs_0_2_to_0_5", 10_000, "m2_per_day"),
                    ("s620", "e05", "sanitary_ceramics", "sanitary_abs_gt_0_3", 30, "t_per_day"),
                    ("s610", "e05", "sanitary_ceramics", "sanitary_abs_gt_0_3", 30, "t_per_day")])
    ue = _ue({"t66": ("kgce_per_m2", 6.6), "t65": ("kgce_per_m2", 6.5),
              "s620": ("kgce_per_t", 620.0), "s610": ("kgce_per_t", 610.0)})
    out, _ = classify_lines(ue, lines, f)
    r = out.set_index("line")
    assert r.loc["t66", "classification"] == "worse_than_baseline" and r.loc["t66", "gb_grade"] == "above_limit"
    assert r.loc["t65", "classification"] == "between" and r.loc["t65", "gb_grade"] == "3"
    assert r.loc["s620", "classification"] == "worse_than_baseline"
    assert r.loc["s610", "classification"] == "between"
    assert r.loc["t66", "baseline_kgce_per_m2"] == 6.5 and r.loc["s620", "baseline_kgce_per_t"] == 610
    # 6.6 - 6.5 = 0.1 over the effective 基准: 1.538462 %
    assert r.loc["t66", "gap_to_baseline_pct"] == pytest.approx(0.1 / 6.5 * 100)
    assert (r["baseline_basis"] == "gb_limit_stricter").all() and not r["stand_in"].any()


def test_classification_coverage_counts_all_days_of_the_window(f):
    from datetime import date, timedelta

    from ecm.accounting.benchmark import line_window_coverage

    first, last = date(2025, 11, 1), date(2026, 10, 31)          # 365 days
    days = [first + timedelta(days=i) for i in range(365)]
    rows = [("full", d, 1.0) for d in days[:330]]                 # 330 / 365 = 0.90411 -> classified
    rows += [("few", d, 1.0) for d in days[:30]]                  # 30 days of perfect data: 0.08219
    rows += [("thin", d, 0.85) for d in days]                     # every day at 85 %: 0.85
    rows += [("full", date(2025, 10, 31), 1.0)]                   # outside the window: ignored
    ld = pd.DataFrame(rows, columns=["line", "day", "completeness_frac"])
    cov, _ = line_window_coverage(ld, first, last)
    c = cov.set_index("line")
    assert c.loc["full", "completeness_frac"] == pytest.approx(330 / 365)
    assert c.loc["few", "completeness_frac"] == pytest.approx(30 / 365)   # a mean over present days would say 1.0
    assert c.loc["thin", "completeness_frac"] == pytest.approx(0.85)
    assert (c["n_days_window"] == 365).all() and c.loc["few", "n_days_present"] == 30
    lines = _lines([(n, "e01", "building_ceramics", TILE, 10_000, "m2_per_day") for n in ("full", "few", "thin", "none")])
    ue = _ue({n: ("kgce_per_m2", 5.0) for n in ("full", "few", "thin", "none")})
    out, issues = classify_lines(ue, lines, f, coverage=cov)
    r = out.set_index("line")
    assert r["classification"].to_dict() == {"full": "between", "few": "data_insufficient",
                                             "thin": "data_insufficient", "none": "data_insufficient"}
    assert r.loc["few", "unit_energy_kgce_per_m2"] == 5.0 and r.loc["few", "gb_grade"] == "unknown"
    assert r.loc["none", "completeness_frac"] == 0.0
    cov_issue = [i for i in issues if i.name == "ecm.benchmark.coverage_below_min"]
    assert cov_issue and cov_issue[0].evidence["lines"] == ["few", "thin", "none"]
    assert f.coverage.classification_min_frac.value == 0.90

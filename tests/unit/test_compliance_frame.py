"""The monthly composition (``ecm.accounting.compliance.intensity_frame``) on a hand-built
two-enterprise district: comparable spans, recovery from counter totals, energy-weighted district
coverage, January rule, LMDI effects, CO2 index. Expectations computed by hand in the comments."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from ecm.accounting.compliance import blocked_stretches, counted_meter_factors, intensity_frame
from ecm.factors import load_factors

ROOT = Path(__file__).resolve().parents[2]
# per-day energy (tce) and monthly value added (10^4 CNY, 2022 prices) by year
E = {"a": {2022: 10.0, 2023: 10.0, 2024: 9.0}, "b": {2022: 30.0, 2023: 30.0, 2024: 30.0}}
VA = {"a": {2022: 100.0, 2023: 100.0, 2024: 100.0}, "b": {2022: 100.0, 2023: 100.0, 2024: 100.0}}


@pytest.fixture(scope="module")
def f():
    return load_factors(ROOT / "config/factors.yaml")


def _kd(blocked=()):
    rows = []
    for ent in ("a", "b"):
        for y in (2022, 2023, 2024):
            d = date(y, 1, 1)
            while d.month <= 2:
                bad = (ent, d) in blocked
                rows.append({"enterprise": ent, "day": d, "energy_tce": None if bad else E[ent][y],
                             "energy_tce_generation": None if bad else 2 * E[ent][y],
                             "co2_t": None if bad else 3 * E[ent][y],
                             "data_status": "data_insufficient" if bad else "ok"})
                d += timedelta(days=1)
    return pd.DataFrame(rows)


def _stats():
    rows = [{"enterprise": e, "month": f"{y}-{m:02d}", "value_added_10k_cny": VA[e][y],
             "value_added_current_10k_cny": VA[e][y]} for e in ("a", "b") for y in (2022, 2023, 2024) for m in (1, 2)]
    return pd.DataFrame(rows)


def _energy():
    """energy_daily: 10 000 kWh purchased electricity and 1 tCO2 of gas per enterprise-day, every year."""
    kd = _kd()
    el = kd[["enterprise", "day"]].assign(carrier="electricity", energy_kwh=10000.0, co2_t=float("nan"))
    gas = kd[["enterprise", "day"]].assign(carrier="natural_gas", energy_kwh=float("nan"), co2_t=1.0)
    return pd.concat([el, gas], ignore_index=True)


def _run(f, blocked=(), totals=None, end=date(2024, 2, 29)):
    df, issues = intensity_frame(_kd(blocked), _stats(), ["a", "b"], end, f, ytd_end=end, counter_totals=totals,
                                 industries={"a": "cement", "b": "brick"}, energy=_energy())
    return df.set_index("enterprise"), issues


def test_unblocked_district_and_lmdi(f):
    df, _ = _run(f)
    # a: 2024 60 days × 9 / 200 vs 2022 59 × 10 / 200 → index 0.9 × 60/59; b: 60/59
    # figures are floats, never objects (InfluxDB would store them as strings)
    for c in ("co2_intensity_t_per_10k_cny", "ytd_energy_tce", "cumulative_index", "energy_co2_index_fixed_vintage"):
        assert df[c].dtype.kind == "f", c
    assert df.loc["a", "cumulative_index"] == pytest.approx(0.9 * 60 / 59)
    assert df.loc["b", "cumulative_index"] == pytest.approx(60 / 59)
    # district: (60×39)/400 ÷ (59×40)/400 = 0.975 × 60/59; equal value-added shares in both periods →
    # structure effect 1, intensity effect = the whole ratio
    d = df.loc["_district"]
    assert d["cumulative_index"] == pytest.approx(0.975 * 60 / 59)
    assert d["structure_effect_vs_base"] == pytest.approx(1.0)
    assert d["intensity_effect_vs_base"] == pytest.approx(0.975 * 60 / 59)
    assert d["total_ratio_vs_base"] == pytest.approx(d["structure_effect_vs_base"] * d["intensity_effect_vs_base"],
                                                     abs=1e-9)
    assert d["completeness_frac"] == pytest.approx(1.0) and d["data_status"] == "ok"
    # the February window is the year's first coloured status and says it covers 1–2月
    assert d["ytd_window_zh"] == "1–2月" and d["ytd_window_en"] == "Jan–Feb"
    assert d["status"] in ("green", "yellow", "red") and "1–2月" in d["status_note_zh"]
    # CO2: energy-related only (no process data), index at the fixed vintage beside the own vintage
    # CO2 per day is the same every year at the fixed vintage: index = 60 days / 59 days (VA equal), and
    # it rose year on year (60/59 days) → red; the own-vintage index differs by the grid factors' ratio
    assert d["co2_basis"] == "energy_related" and d["co2_label_en"] == "energy-related CO₂"
    assert d["energy_co2_index_fixed_vintage"] == pytest.approx(60 / 59)
    assert d["energy_co2_status"] == "red"
    g22, g24 = f.grid_factor(2022).value_kgco2_per_unit, f.grid_factor(2024).value_kgco2_per_unit
    own = (60 * 2 * (10 * g24 + 1)) / (59 * 2 * (10 * g22 + 1))
    assert d["energy_co2_index_own_vintage"] == pytest.approx(own)


def test_base_year_block_recovered_from_counters_keeps_the_verdict(f):
    clean, _ = _run(f)
    blocked = {("a", date(2022, 2, 1) + timedelta(days=k)) for k in range(5)}
    # the counters around the stretch measure its 5 × 10 tce
    totals = pd.DataFrame([{"enterprise": "a", "first_day": date(2022, 2, 1), "last_day": date(2022, 2, 5),
                            "energy_tce": 50.0}])
    df, issues = _run(f, blocked, totals)
    assert df.loc["a", "cumulative_index"] == pytest.approx(clean.loc["a", "cumulative_index"])
    assert df.loc["a", "status"] == clean.loc["a", "status"]
    assert bool(df.loc["a", "estimated"]) and df.loc["a", "estimated_frac_base"] == pytest.approx(5 / 59)
    assert bool(df.loc["_district", "estimated"])
    assert any(i.name == "ecm.comparable.blocked_days_estimated" for i in issues)


def test_base_year_block_without_counters_is_insufficient_and_district_energy_weighted(f):
    blocked = {("a", date(2022, 2, 1) + timedelta(days=k)) for k in range(5)}
    df, _ = _run(f, blocked, None)
    assert df.loc["a", "status"] == "data_insufficient" and df.loc["a", "insufficient_spans"] == "base"
    # district = b only; completeness = b's current energy ÷ (a's + b's) = 60×30 / (60×9 + 60×30) = 30/39
    d = df.loc["_district"]
    assert d["completeness_frac"] == pytest.approx(30 / 39)
    assert d["status"] == "data_insufficient"          # 0.769 < 0.80
    assert d["n_members"] == 1


def test_january_window_has_no_colour(f):
    df, _ = _run(f, end=date(2024, 1, 31))
    assert (df["status"] == "not_rated").all() and (df["status_level"] == 4).all()
    assert (df["ytd_window_zh"] == "1月").all() and (df["ytd_window_en"] == "Jan").all()


def test_blocked_stretches_split_by_gap_and_span():
    kd = _kd({("a", date(2022, 2, 1)), ("a", date(2022, 2, 2)), ("a", date(2022, 2, 4)), ("b", date(2023, 1, 1))})
    st = blocked_stretches(kd, spans=[(date(2022, 1, 1), date(2022, 2, 28)), (date(2023, 1, 2), date(2023, 2, 28))])
    assert st.values.tolist() == [["a", date(2022, 2, 1), date(2022, 2, 2)], ["a", date(2022, 2, 4), date(2022, 2, 4)]]


def test_counted_meter_factors_keep_main_counted_carriers(f):
    m = pd.DataFrame({"enterprise": ["a", "a", "a", "a"], "carrier": ["electricity", "natural_gas", "electricity",
                                                                        "pv_generation"],
                      "role": ["main", "main", "sub", "main"], "decommissioned": [None] * 4},
                     index=pd.Index(["m1", "m2", "m3", "m4"], name="meter"))
    mf = counted_meter_factors(m, f, date(2024, 1, 1))
    # GB/T 2589-2020 当量值: electricity 0.1229 kgce/kWh; on-site PV not counted (policy), sub-meters inside main
    assert sorted(mf.index) == ["m1", "m2"]
    assert mf.loc["m1", "kgce_per_unit"] == pytest.approx(0.1229)

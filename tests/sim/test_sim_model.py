"""The pure generation layer: determinism, physics, calendars, retrofits, benchmarks, economics."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

import sim_devices
from ecm.registry import load_registry, parse_registry
from sim_devices.calendar import DAY_S, day_index
from sim_devices.fleet import enterprise_config
from sim_devices.plant import EnterpriseSim
from sim_devices.publisher import rows_between

ROOT = Path(__file__).resolve().parents[2]
KGCE = {"electricity": 0.1229, "natural_gas": 1.2143, "coal": 714.3, "lpg": 1.7143, "diesel": 1.4571,
        "steam": 94.1, "heat": 34.12}


@pytest.fixture(scope="module")
def reg():
    return load_registry(ROOT / "config/district.yaml")


@pytest.fixture(scope="module")
def yearly(reg):
    """{enterprise: {meter: [n_days, 24]}} from the epoch to 2027-12-31, seed 1."""
    n = day_index(date(2028, 1, 1))
    out = {}
    for e in reg.enterprises:
        sim = EnterpriseSim(e, enterprise_config(e.id), 1)
        out[e.id] = (sim.hourly(n), sim)
    return out


def _year(a: np.ndarray, y: int) -> np.ndarray:
    return a[day_index(date(y, 1, 1)):day_index(date(y + 1, 1, 1))]


def test_truth_of_a_day_does_not_depend_on_window_or_enterprise_set(reg):
    long = sim_devices.truth_frame(reg, date(2024, 2, 1), date(2024, 3, 15), 9)
    short = sim_devices.truth_frame(reg, date(2024, 3, 10), date(2024, 3, 11), 9)
    m = short.merge(long, on=["day_cst", "meter"])
    assert len(m) == len(short) and np.allclose(m.amount_x, m.amount_y, rtol=0, atol=1e-9)
    alone = parse_registry({**reg.model_dump(mode="json"),
                            "enterprises": [reg.enterprise("e05").model_dump(mode="json")]})
    one = sim_devices.truth_frame(alone, date(2024, 3, 10), date(2024, 3, 11), 9)
    assert np.allclose(one.amount.to_numpy(), short[short.enterprise == "e05"].amount.to_numpy())
    other_seed = sim_devices.truth_frame(reg, date(2024, 3, 10), date(2024, 3, 11), 10)
    assert not np.allclose(other_seed.amount, short.amount)


def test_counter_readings_do_not_depend_on_window(reg):
    a = sim_devices.build_window(reg, date(2024, 3, 1), date(2024, 3, 20), 4)
    b = sim_devices.build_window(reg, date(2024, 3, 12), date(2024, 3, 12), 4)
    lo = day_index(date(2024, 3, 12)) * DAY_S
    for wa, wb in zip(a, b):
        ra, rb = rows_between(wa.tracks, lo, lo + DAY_S, None), rows_between(wb.tracks, lo, lo + DAY_S, None)
        assert np.array_equal(ra.ts, rb.ts) and np.allclose(ra.value, rb.value, rtol=0, atol=1e-6)


def test_columns_and_daily_interval_samples_midnight(reg):
    t = sim_devices.truth_frame(reg, date(2024, 3, 1), date(2024, 3, 1), 1)
    assert list(t.columns) == ["day_cst", "enterprise", "line", "meter", "carrier", "role", "quantity", "amount"]
    assert (t.amount >= 0).all() and set(t.role) == {"main", "sub"}
    w = sim_devices.build_window(reg, date(2024, 3, 1), date(2024, 3, 3), 1)[0]
    r = rows_between(w.tracks, day_index(date(2024, 3, 1)) * DAY_S, day_index(date(2024, 3, 4)) * DAY_S + 1, 86400)
    assert set((r.ts % DAY_S).tolist()) == {0} and len(r.ts) == 4 * len(w.tracks)


def test_hourly_rates_stay_under_physical_maximum(reg, yearly):
    for e in reg.enterprises:
        H, _ = yearly[e.id]
        for m in e.meters:
            if m.kind == "counter" and m.max_rate_per_h:
                assert H[m.id].max() <= m.max_rate_per_h, m.id
            assert (H[m.id] >= 0).all(), m.id


def test_elec_main_is_grid_purchase_of_subs_plus_rest_minus_pv(reg, yearly):
    for e in reg.enterprises:
        H, _ = yearly[e.id]
        main = H[f"{e.id}_elec_main"]
        subs = sum((H[m.id] for m in e.meters if m.role == "sub"), np.zeros_like(main))
        pv = H.get(f"{e.id}_pv", np.zeros_like(main))
        assert (main + pv >= subs - 1e-9).all(), e.id
    H, _ = yearly["e01"]
    pv = _year(H["e01_pv"], 2024)
    assert 800 < pv.sum() / 2400 < 1150  # kWh per kWp per year, cloudy Chongqing
    assert pv[:, :6].max() == 0 and pv[:, 20:].max() == 0


def test_spring_festival_shutdown_and_kiln_ramp(reg, yearly):
    H, _ = yearly["e01"]
    sf = day_index(date(2024, 2, 10))
    assert H["e01_l1_output"][sf].sum() == 0 and H["e01_l1_kiln_gas"][sf].sum() == 0
    restart = sf + 12  # first day after the shutdown (sf_after_days = 12)
    assert H["e01_l1_output"][restart].sum() == 0 < H["e01_l1_kiln_gas"][restart].sum()
    normal = H["e01_l1_output"][restart + 20].sum()
    assert 0.6 * 20000 < normal < 1.05 * 20000
    H9, _ = yearly["e09"]  # Mon-Fri single shift
    sat = day_index(date(2024, 3, 9))
    assert H9["e09_l1_output"][sat].sum() == 0 < H9["e09_l1_output"][sat - 1].sum()
    assert H9["e09_l1_output"][sat - 1][:8].sum() == 0


def _unit_energy(reg, yearly, eid: str, y: int) -> float:
    """Comprehensive unit energy (kgce per output unit) of a single-output enterprise in year y."""
    H, _ = yearly[eid]
    e = reg.enterprise(eid)
    energy = sum(_year(H[m.id], y).sum() * KGCE.get(m.carrier, 0) for m in e.meters
                 if m.kind == "counter" and m.role == "main")
    out = sum(_year(H[m.id], y).sum() for m in e.meters if m.carrier == "output")
    return energy / out


def test_lines_span_benchmark_classes_and_retrofits_move_them(reg, yearly):
    ue = {e: _unit_energy(reg, yearly, e, 2022) for e in ("e02", "e03", "e04", "e05", "e06", "e07", "e12", "e13", "e14", "e20")}
    assert ue["e03"] < 3.5 and ue["e20"] < 4.0 and ue["e06"] < 300 and ue["e12"] < 46   # better than 标杆
    assert 4.0 < ue["e04"] < 7.0 and 300 < ue["e07"] < 630 and 47 < ue["e14"] < 55       # between
    assert ue["e02"] > 7.0 and ue["e05"] > 4.6 and ue["e13"] > 51                         # worse than 基准
    assert 4.0 < _unit_energy(reg, yearly, "e02", 2026) < 7.0 and _unit_energy(reg, yearly, "e05", 2025) < 4.6
    kwh_t = {(e, y): _unit_energy(reg, yearly, e, y) / 0.1229 for e, y in (("e10", 2023), ("e11", 2023), ("e11", 2026))}
    assert kwh_t[("e10", 2023)] < 26 < 34 < kwh_t[("e11", 2023)] and 26 < kwh_t[("e11", 2026)] < 34
    H5, _ = yearly["e05"]
    switch = day_index(date(2024, 7, 1))
    assert H5["e05_l1_dryer_coal"][switch:].sum() == 0 < H5["e05_l1_dryer_coal"][switch - 30:switch].sum()


def test_district_intensity_moves_some_on_track_some_not(reg, yearly):
    stats = sim_devices.monthly_stats_frame(reg, "2022-01", "2026-12", 1)
    stats["year"] = stats.month.str[:4].astype(int)
    stats["va_2022"] = stats.value_added_current_10k_cny / stats.deflator_index
    va = stats.groupby(["enterprise", "year"]).va_2022.sum()
    change = {}
    for e in reg.enterprises:
        H, _ = yearly[e.id]
        tce = {y: sum(_year(H[m.id], y).sum() * KGCE.get(m.carrier, 0) for m in e.meters
                      if m.kind == "counter" and m.role == "main") / 1000 for y in (2022, 2026)}
        change[e.id] = (tce[2026] / va[(e.id, 2026)]) / (tce[2022] / va[(e.id, 2022)]) - 1
    on_track = [e for e, c in change.items() if c <= -0.1054]   # 2026 path: -10.54 %
    off_track = [e for e, c in change.items() if c > -0.05]
    assert len(on_track) >= 3 and len(off_track) >= 4, change


def test_monthly_stats_deflator_and_values(reg):
    s = sim_devices.monthly_stats_frame(reg, "2022-01", "2022-12", 2)
    assert list(s.columns) == ["enterprise", "month", "output_value_10k_cny", "value_added_current_10k_cny", "deflator_index"]
    assert len(s) == 12 * len(reg.enterprises)
    assert abs(s.groupby("enterprise").deflator_index.mean() - 1.0).max() < 0.01
    assert (s.value_added_current_10k_cny < s.output_value_10k_cny).all() and (s.value_added_current_10k_cny > 0).all()
    feb, apr = (s[s.month == m].output_value_10k_cny.sum() for m in ("2022-02", "2022-04"))
    assert feb < 0.8 * apr  # Spring Festival


def test_scaled_registry_clones_and_pads(reg):
    data = sim_devices.scaled_registry(reg.model_dump(mode="json"), 45, meters_per_enterprise=25)
    big = parse_registry(data)
    assert big.enterprise_ids[:20] == reg.enterprise_ids and big.enterprise_ids[20] == "e021"
    assert all(len(e.meters) >= 25 for e in big.enterprises)
    e021 = big.enterprise("e021")
    assert {m.id for m in e021.meters} >= {"e021_elec_main", "e021_l1_kiln_gas", "e021_aux01_elec"}
    t = sim_devices.truth_frame(big, date(2024, 5, 6), date(2024, 5, 6), 1)
    assert (t.groupby("enterprise").amount.sum() > 0).all() and t.enterprise.nunique() == 45
    H = {m: t[t.meter == m].amount.iloc[0] for m in ("e021_elec_main", "e021_aux01_elec", "e01_elec_main")}
    assert H["e021_elec_main"] > H["e021_aux01_elec"] > 0 and H["e021_elec_main"] != H["e01_elec_main"]


def test_fault_config_parsing():
    assert sim_devices.FaultConfig.parse(None).rates == {}
    fc = sim_devices.FaultConfig.parse(["dropout=0.2", "spike"])
    assert fc.rates == {"dropout": 0.2, "spike": sim_devices.DEFAULT_RATES["spike"]}
    assert set(sim_devices.FaultConfig.parse("all").rates) == set(sim_devices.KINDS)
    with pytest.raises(ValueError, match="unknown fault"):
        sim_devices.FaultConfig.parse(["nope"])


def test_days_before_the_epoch_are_refused(reg):
    with pytest.raises(ValueError, match="starts at 2021-01-01"):
        sim_devices.truth_frame(reg, date(2020, 12, 31), date(2021, 1, 2), 1)

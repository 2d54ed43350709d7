"""Comparable periods (issue #12 §1): span coverage, recovery from counter totals, district 同口径,
energy-weighted district completeness. Expectations computed by hand in the comments."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from ecm.accounting.comparable import (comparable_spans, comparable_verdict, district_comparable,
                                       recover_blocked_days, span_coverage)
from ecm.factors import load_factors

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def f():
    return load_factors(ROOT / "config/factors.yaml")


def _days(first: date, last: date):
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


# Jan-Oct spans (304 days each in 2026, 2025, 2022)
SPANS = {"cur": (date(2026, 1, 1), date(2026, 10, 31)), "prev": (date(2025, 1, 1), date(2025, 10, 31)),
         "base": (date(2022, 1, 1), date(2022, 10, 31))}
PER_DAY = {"cur": 9.9, "prev": 10.0, "base": 10.0}                 # tce/day
VA = {"cur": 2100.0, "prev": 2100.0, "base": 1800.0}              # 10^4 CNY, 2022 prices


def _daily(ent="e04", blocked=()):
    rows = []
    for s, (a, b) in SPANS.items():
        for d in _days(a, b):
            bad = d in blocked
            rows.append({"enterprise": ent, "day": d, "energy_tce": None if bad else PER_DAY[s],
                         "data_status": "data_insufficient" if bad else "ok"})
    return pd.DataFrame(rows)


def _va(ents=("e04",)):
    return pd.DataFrame([{"enterprise": e, "span": s, "value_added_10k_cny": VA[s], "n_months_missing": 0}
                         for e in ents for s in SPANS])


def _verdict(f, daily, totals=None):
    rec, issues = recover_blocked_days(daily, totals if totals is not None else
                                       pd.DataFrame(columns=["enterprise", "first_day", "last_day", "energy_tce"]))
    comp, i2 = comparable_spans(rec, _va(), SPANS, ["e04"], f.coverage)
    out, _ = comparable_verdict(comp, year=2026, targets=f.targets)
    return out.iloc[0], issues + i2


@pytest.mark.parametrize("year", [2025, 2022])
def test_blocked_prior_or_base_year_recovered_or_insufficient_never_red(f, year):
    # unblocked: cur 304 x 9.9 = 3009.6 / 2100 = 1.433143; prev 3040 / 2100 = 1.447619;
    # r = 3009.6 / 3040 - 1 = -0.01; base 3040 / 1800 = 1.688889; index = 9.9 x 1800 / (10 x 2100) = 0.848571
    # path 2026 = 0.87 ** 0.8 = 0.894572 -> green
    clean, _ = _verdict(f, _daily())
    assert clean["ytd_change_frac"] == pytest.approx(-0.01)
    assert clean["cumulative_index"] == pytest.approx(0.848571, abs=1e-6)
    assert clean["status"] == "green" and not clean["estimated"]

    blocked = set(_days(date(year, 3, 5), date(year, 3, 14)))      # 10 blocked days in March
    # counters span the gap: the registers around it measure 10 x 10 = 100 tce -> verdict unchanged
    totals = pd.DataFrame([{"enterprise": "e04", "first_day": date(year, 3, 5), "last_day": date(year, 3, 14),
                            "energy_tce": 100.0}])
    rec, issues = _verdict(f, _daily(blocked=blocked), totals)
    assert rec["status"] == "green" and bool(rec["estimated"])
    assert rec["cumulative_index"] == pytest.approx(clean["cumulative_index"], abs=1e-12)
    assert rec["ytd_change_frac"] == pytest.approx(clean["ytd_change_frac"], abs=1e-12)
    assert "ecm.comparable.blocked_days_estimated" in [i.name for i in issues]

    # counters do not span it: 294 / 304 days covered < 1.0 -> data_insufficient, not a colour
    miss, issues = _verdict(f, _daily(blocked=blocked))
    assert miss["status"] == "data_insufficient" and miss["data_status"] == "data_insufficient"
    assert miss["insufficient_spans"] == ("prev" if year == 2025 else "base")
    assert {"ecm.comparable.blocked_days_unrecoverable", "ecm.comparable.span_insufficient"} <= {i.name for i in issues}
    # what summing the blocked days as zeros did: prev 2940 -> r = 3009.6 / 2940 - 1 = +0.023673 -> red
    if year == 2025:
        assert 3009.6 / 2940 - 1 == pytest.approx(0.023673, abs=1e-6)


def test_span_coverage_counts_all_days_and_caps_estimates():
    days = _days(date(2026, 1, 1), date(2026, 1, 10))
    daily = pd.DataFrame([{"enterprise": "a", "day": d, "energy_tce": 1.0, "day_status": st}
                          for d, st in zip(days, ["measured"] * 8 + ["estimated"] * 2)]
                         + [{"enterprise": "b", "day": d, "energy_tce": 1.0, "day_status": "measured"} for d in days[:9]]
                         + [{"enterprise": "c", "day": d, "energy_tce": 1.0, "day_status": "estimated" if i == 0
                             else "measured"} for i, d in enumerate(days)])
    cov, _ = span_coverage(daily, days[0], days[-1], ["a", "b", "c", "d"], min_covered_frac=1.0,
                           max_estimated_frac=0.10)
    c = cov.set_index("enterprise")
    # a: 10/10 covered but 2/10 = 0.2 estimated > 0.10; b: 9/10 covered; c: 1/10 estimated -> ok-estimated
    assert c["span_status"].to_dict() == {"a": "data_insufficient", "b": "data_insufficient", "c": "estimated",
                                          "d": "data_insufficient"}
    assert c.loc["b", "covered_frac"] == 0.9 and c.loc["a", "estimated_frac"] == 0.2 and c.loc["d", "n_missing"] == 10
    assert c.loc["c", "energy_tce"] == 10.0


def _multi(specs, spans, blocked=None):
    """specs: {ent: {span: (tce_per_day, va)}}; blocked: {ent: set(days)}; a span absent -> no rows."""
    rows, va = [], []
    for e, per in specs.items():
        for s, (tce, v) in per.items():
            for d in _days(*spans[s]):
                bad = d in (blocked or {}).get(e, set())
                rows.append({"enterprise": e, "day": d, "energy_tce": None if bad else tce,
                             "data_status": "data_insufficient" if bad else "ok"})
            va.append({"enterprise": e, "span": s, "value_added_10k_cny": v, "n_months_missing": 0})
    return pd.DataFrame(rows), pd.DataFrame(va)


SHORT = {"cur": (date(2026, 3, 1), date(2026, 3, 10)), "prev": (date(2025, 3, 1), date(2025, 3, 10)),
         "base": (date(2022, 3, 1), date(2022, 3, 10))}


def test_district_same_enterprise_set_in_every_period(f):
    # 10-day spans. e1: cur 100 tce / 100, prev 110 / 100, base 120 / 100
    #               e2: cur 400 / 200, prev 420 / 200, base 450 / 200
    #               e3: cur 100 / 200, prev 105 / 190, base 130 / 180
    specs = {"e1": {"cur": (10.0, 100.0), "prev": (11.0, 100.0), "base": (12.0, 100.0)},
             "e2": {"cur": (40.0, 200.0), "prev": (42.0, 200.0), "base": (45.0, 200.0)},
             "e3": {"cur": (10.0, 200.0), "prev": (10.5, 190.0), "base": (13.0, 180.0)}}
    daily, va = _multi(specs, SHORT)
    comp, _ = comparable_spans(daily, va, SHORT, ["e1", "e2", "e3"], f.coverage)
    full, _ = district_comparable(comp, min_energy_frac=0.8)
    full_v, _ = comparable_verdict(full, year=2026, targets=f.targets)
    # all three: (600 / 500) / (700 / 480) = 1.2 / 1.458333 = 0.822857
    assert full_v["cumulative_index"].iloc[0] == pytest.approx(0.822857, abs=1e-6)
    assert full["completeness_frac"].iloc[0] == 1.0

    # remove e3's base-year data: e3 leaves the set in EVERY period
    specs["e3"] = {k: v for k, v in specs["e3"].items() if k != "base"}
    daily, va = _multi(specs, SHORT)
    comp, issues = comparable_spans(daily, va, SHORT, ["e1", "e2", "e3"], f.coverage)
    assert comp.set_index("enterprise")["data_status"].to_dict() == {"e1": "ok", "e2": "ok", "e3": "data_insufficient"}
    dist, _ = district_comparable(comp, min_energy_frac=0.8)
    v, _ = comparable_verdict(dist, year=2026, targets=f.targets)
    # recomputed from the per-enterprise rows of the remaining set {e1, e2}
    rows = comp.set_index("enterprise").loc[["e1", "e2"]]
    expect = ((rows["energy_tce_cur"].sum() / rows["value_added_10k_cny_cur"].sum())
              / (rows["energy_tce_base"].sum() / rows["value_added_10k_cny_base"].sum()))
    assert v["cumulative_index"].iloc[0] == pytest.approx(expect, abs=1e-12)
    assert expect == pytest.approx((500 / 300) / (570 / 300), abs=1e-12)          # 0.877193
    # the old way (current over all "ok" enterprises, base over those with a base) gave 1.2 / 1.9 = 0.631579
    assert v["cumulative_index"].iloc[0] != pytest.approx(1.2 / 1.9, abs=1e-3)
    # energy-weighted coverage: e3 is 100 of 600 tce -> 500 / 600 = 0.833333 >= 0.80 -> published
    assert dist["completeness_frac"].iloc[0] == pytest.approx(500 / 600)
    assert dist["data_status"].iloc[0] == "ok" and dist["n_members"].iloc[0] == 2


def test_district_completeness_is_a_share_of_energy(f):
    # 20 enterprises over 10-day spans; e01 25 tce/day (250), e04 14.6 tce/day (146), 18 others 2.8/day (28 each)
    ents = [f"e{k:02d}" for k in range(1, 21)]
    per = {e: (25.0 if e == "e01" else 14.6 if e == "e04" else 2.8) for e in ents}
    specs = {e: {s: (per[e], 100.0) for s in SHORT} for e in ents}
    blocked = {"e01": {date(2026, 3, 4)}, "e04": {date(2026, 3, 7)}}     # one blocked day each, not spanned
    daily, va = _multi(specs, SHORT, blocked)
    comp, _ = comparable_spans(daily, va, SHORT, ents, f.coverage)
    dist, issues = district_comparable(comp, min_energy_frac=f.coverage.district_min_energy_frac.value)
    d = dist.iloc[0]
    # excluded weights: e01 225 / 0.9 = 250, e04 131.4 / 0.9 = 146; set 18 x 28 = 504; 504 / 900 = 0.56
    assert d["enterprise_share_frac"] == pytest.approx(0.90)
    assert d["completeness_frac"] == pytest.approx(0.56)
    assert d["data_status"] == "data_insufficient"
    assert "ecm.comparable.district_coverage_low" in [i.name for i in issues]
    v, _ = comparable_verdict(dist, year=2026, targets=f.targets)
    assert v["status"].iloc[0] == "data_insufficient"

    # the same blocked days spanned by counters: recovered, all 20 in the set, completeness 1.0, estimated
    totals = pd.DataFrame([{"enterprise": "e01", "first_day": date(2026, 3, 4), "last_day": date(2026, 3, 4),
                            "energy_tce": 25.0},
                           {"enterprise": "e04", "first_day": date(2026, 3, 7), "last_day": date(2026, 3, 7),
                            "energy_tce": 14.6}])
    rec, _ = recover_blocked_days(daily, totals)
    comp, _ = comparable_spans(rec, va, SHORT, ents, f.coverage)
    dist, _ = district_comparable(comp, min_energy_frac=0.8)
    assert dist["completeness_frac"].iloc[0] == pytest.approx(1.0) and bool(dist["estimated"].iloc[0])
    assert dist["energy_tce_cur"].iloc[0] == pytest.approx(900.0)


def test_recovery_never_overwrites_measured_days_and_needs_the_total():
    daily = pd.DataFrame([{"enterprise": "a", "day": date(2026, 1, d), "energy_tce": 5.0 if d != 2 else None,
                           "data_status": "ok" if d != 2 else "data_insufficient"} for d in (1, 2, 3)])
    # a stretch reported 1-3 Jan with 15 tce: days 1 and 3 are measured, only day 2 is estimated (15 / 3 = 5)
    totals = pd.DataFrame([{"enterprise": "a", "first_day": date(2026, 1, 1), "last_day": date(2026, 1, 3),
                            "energy_tce": 15.0},
                           {"enterprise": "b", "first_day": date(2026, 1, 1), "last_day": date(2026, 1, 2),
                            "energy_tce": float("nan")}])
    rec, issues = recover_blocked_days(daily, totals)
    r = rec.set_index(["enterprise", "day"])
    assert r["day_status"].tolist() == ["measured", "estimated", "measured"]
    assert r["energy_tce"].tolist() == [5.0, 5.0, 5.0]
    assert [i.name for i in issues] == ["ecm.comparable.blocked_days_estimated"]


def test_counter_stretch_totals_from_readings_around_the_stretch():
    from ecm.accounting.comparable import counter_stretch_totals
    from ecm.accounting.counters import counters_to_deltas, deltas_to_periods
    from ecm.accounting.gaps import apportion_gaps

    bj = "Asia/Shanghai"
    meters = pd.DataFrame({"enterprise": ["e04", "e04", "e09"], "register_max": [1e9] * 3,
                           "max_rate_per_h": [1e6] * 3, "interval_s": [900] * 3},
                          index=pd.Index(["gas", "elec", "x"], name="meter"))
    t = lambda s: pd.Timestamp(s, tz=bj).tz_convert("UTC")
    # e04 blocked 5-6 March: last good readings 4 March 24:00, first good 7 March 00:00
    readings = pd.DataFrame([
        (t("2026-03-04 23:45"), "gas", 990.0), (t("2026-03-05 00:00"), "gas", 1000.0),
        (t("2026-03-07 00:00"), "gas", 1480.0), (t("2026-03-07 00:15"), "gas", 1490.0),
        (t("2026-03-04 23:45"), "elec", 5000.0), (t("2026-03-05 00:00"), "elec", 5100.0),
        (t("2026-03-07 00:00"), "elec", 45100.0), (t("2026-03-07 00:15"), "elec", 45200.0),
        # e09: its only meter is replaced inside the stretch (register falls) -> not spanned
        (t("2026-03-05 00:00"), "x", 800.0), (t("2026-03-07 00:00"), "x", 12.0)],
        columns=["time", "meter", "value"])
    d, _ = counters_to_deltas(readings, meters)
    d, _ = apportion_gaps(d, "1D")
    md, _ = deltas_to_periods(d, "1D", window=(t("2026-03-05"), t("2026-03-07")))
    kgce = pd.DataFrame({"enterprise": ["e04", "e04", "e09"], "kgce_per_unit": [1.2143, 0.1229, 0.1229]},
                        index=pd.Index(["gas", "elec", "x"], name="meter"))
    stretches = pd.DataFrame({"enterprise": ["e04", "e09"], "first_day": [date(2026, 3, 5)] * 2,
                              "last_day": [date(2026, 3, 6)] * 2})
    out, _ = counter_stretch_totals(md, kgce, stretches)
    # e04: gas 1480 - 1000 = 480 m3 x 1.2143 = 582.864 kgce; elec 45100 - 5100 = 40000 kWh x 0.1229 = 4916 kgce
    # -> 5.498864 tce over the two days (2.749432 each once recovered)
    assert out["energy_tce"].iloc[0] == pytest.approx(5.498864, abs=1e-9)
    assert pd.isna(out["energy_tce"].iloc[1])

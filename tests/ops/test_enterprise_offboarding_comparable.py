"""What district 同口径 does with an enterprise that leaves (`ecm enterprise disable`), by hand.

A disabled enterprise stays in the registry, so the pipeline keeps passing it among
``registry.enterprise_ids``. Three enterprises A (10 tce/day), B (5), C (1); spans of 10 days in
2025 (current), 2024 (prior year), 2022 (base year). The leaver reports its last day on 2025-01-06.

- A span that ends before it left (1–5 Jan) is computed from the same data and the same enterprise
  list: the verdict is unchanged by the disabling (all three members, 80 tce).
- A span that runs past its leaving (1–10 Jan): its current span covers 6/10 days → it is
  ``data_insufficient`` and leaves the set in EVERY span (same set compared: 同口径), with a
  blocking issue naming it; its energy still weighs in the district's completeness as 6 days
  scaled to 10 (÷ 0.6). So a large leaver makes the district ``data_insufficient`` (never a
  colour on a shrunken base); a small one leaves a smaller, named, comparable set.
"""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from ecm.accounting.comparable import comparable_spans, district_comparable
from ecm.factors import get_factors

RATE = {"A": 10.0, "B": 5.0, "C": 1.0}


def daily(leaver: str | None) -> pd.DataFrame:
    rows = []
    for year in (2022, 2024, 2025):
        for k in range(10):
            d = date(year, 1, 1) + timedelta(days=k)
            for e, r in RATE.items():
                if e == leaver and d > date(2025, 1, 6):
                    continue  # disabled on 2025-01-06: nothing of it after
                rows.append({"enterprise": e, "day": d, "data_status": "ok", "energy_tce": r})
    return pd.DataFrame(rows)


def spans(last_day: int) -> dict:
    return {s: (date(y, 1, 1), date(y, 1, last_day)) for s, y in (("cur", 2025), ("prev", 2024), ("base", 2022))}


def district(leaver: str | None, last_day: int):
    va = pd.DataFrame([{"enterprise": e, "span": s, "value_added_10k_cny": 100.0, "n_months_missing": 0}
                       for e in RATE for s in ("cur", "prev", "base")])
    cov = get_factors().coverage
    comp, issues = comparable_spans(daily(leaver), va, spans(last_day), list(RATE), cov)
    dist, d_issues = district_comparable(comp, min_energy_frac=cov.district_min_energy_frac.value)
    return comp.set_index("enterprise"), dist.iloc[0], issues + d_issues


@pytest.mark.parametrize("leaver", ["B", "C"])
def test_a_span_before_the_leaving_is_unchanged(leaver):
    _, before, _ = district(None, 5)
    _, after, issues = district(leaver, 5)
    assert issues == []
    assert after["n_members"] == before["n_members"] == 3
    assert after["energy_tce_cur"] == before["energy_tce_cur"] == 5 * 16.0
    assert after["data_status"] == before["data_status"] == "ok"


def test_a_large_leaver_makes_the_district_data_insufficient_not_a_smaller_base():
    comp, dist, issues = district("B", 10)
    assert comp.loc["B", "data_status"] == "data_insufficient" and comp.loc["B", "covered_frac_cur"] == 0.6
    assert dist["n_members"] == 2 and dist["n_enterprises"] == 3
    assert dist["energy_tce_cur"] == 110.0 and dist["energy_tce_prev"] == 110.0  # A + C in both spans
    # weights: A 100, B 30 / 0.6 = 50, C 10 → completeness 110 / 160 = 0.6875 < 0.80
    assert dist["completeness_frac"] == pytest.approx(110 / 160)
    assert dist["data_status"] == "data_insufficient"
    codes = {i.name: i for i in issues}
    assert codes["ecm.comparable.span_insufficient"].evidence["enterprise"] == "B"
    assert codes["ecm.comparable.district_coverage_low"].evidence["excluded"] == ["B"]


def test_a_small_leaver_leaves_a_named_smaller_comparable_set():
    comp, dist, issues = district("C", 10)
    assert dist["n_members"] == 2
    assert dist["energy_tce_cur"] == 150.0 and dist["energy_tce_prev"] == 150.0 and dist["energy_tce_base"] == 150.0
    # weights: A 100, B 50, C 6 / 0.6 = 10 → 150 / 160 = 0.9375 ≥ 0.80
    assert dist["completeness_frac"] == pytest.approx(150 / 160)
    assert dist["data_status"] == "ok"
    assert [i.evidence["enterprise"] for i in issues if i.name == "ecm.comparable.span_insufficient"] == ["C"]

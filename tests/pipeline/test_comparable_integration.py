"""Comparable periods on the seeded district, end to end (issue #12 "Done when").

Withheld days of e04 in its base year (2022, for the 2023-12 verdict) or its prior year (2023, for
the 2024-03 verdict, 1 Jan – 2 Mar): when the counter registers around them span the stretch, the verdict is
unchanged and flagged ``estimated``; when a reset inside breaks the span, e04 is
``data_insufficient`` (never red) and the district is recomputed over the other enterprises, with
energy-weighted completeness. The shared database is restored at the end of each case.
"""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from ecm.periods import day_bounds_utc
from ecm.schema import MEAS_KPI_DAILY, MEAS_KPI_MONTHLY, MEAS_READINGS

pytestmark = pytest.mark.integration

ENT = "e04"


def _monthly(client, month: str) -> pd.DataFrame:
    """kpi_monthly rows of the month whose point time (Beijing month start, UTC) is ``month``."""
    return client.query_frame(f"SELECT * FROM {MEAS_KPI_MONTHLY} WHERE time = '{month}' GROUP BY enterprise"
                              ).set_index("enterprise")


def _block(client, first: date, last: date) -> None:
    """What a failed gate leaves in kpi_daily: the enterprise-days withheld, without energy."""
    s, _ = day_bounds_utc(first)
    _, e = day_bounds_utc(last)
    client.delete_range(MEAS_KPI_DAILY, s, e, tags={"enterprise": [ENT]})
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    rows = pd.DataFrame({"time": [day_bounds_utc(d)[0] for d in days], "enterprise": ENT,
                         "data_status": "data_insufficient", "completeness_frac": 0.0})
    client.write_frame(rows, MEAS_KPI_DAILY, ["enterprise"])


CASES = {  # blocked stretch, evaluated month (its kpi_monthly time, run day), spans hit, days in those spans
    # base year: the 2023-12 verdict compares 2023 with 2022, which is both its prior and its base year
    "base": (date(2022, 3, 10), 10, "2023-11-30T16:00:00Z", "2023-12-31", "prev,base", 365),
    # prior year: the 2024-03 verdict (1 Jan – 2 Mar; 61 days in 2023) allows at most 10 % estimated: 6 days
    "prev": (date(2023, 2, 10), 6, "2024-02-29T16:00:00Z", "2024-03-02", "prev", 61),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_blocked_compared_span_is_recovered_or_withheld_never_red(seeded, case):
    from ecm.pipeline.daily import run_days
    from ecm.pipeline.monthly import compute_monthly_compliance
    from ecm.registry import get_registry

    first, n, month, day, spans, n_span = CASES[case]
    last = first + timedelta(days=n - 1)
    client, reg = seeded.stack.client(), get_registry()
    # the verdict before blocking, recomputed from the stored days as they are now (an earlier test
    # may have re-run a day of the span through the DAG)
    compute_monthly_compliance(day, client=client, registry=reg)
    before = _monthly(client, month)
    assert before.loc[ENT, "status"] in ("green", "yellow", "red")
    meters = reg.meters_frame()
    main = meters[(meters["enterprise"] == ENT) & (meters["role"] == "main") & (meters["kind"] == "counter")
                  & (meters["carrier"] == "electricity")].iloc[0]
    reset_at = day_bounds_utc(first + timedelta(days=2))[0] + pd.Timedelta(hours=12)
    try:
        _block(client, first, last)
        compute_monthly_compliance(day, client=client, registry=reg)
        spanned = _monthly(client, month)
        e = spanned.loc[ENT]
        assert e["status"] == before.loc[ENT, "status"]
        assert e["cumulative_index"] == pytest.approx(before.loc[ENT, "cumulative_index"], rel=1e-9)
        assert e["estimated"] == 1 and e["insufficient_spans"] == ""
        for span in spans.split(","):
            assert e[f"estimated_frac_{span}"] == pytest.approx(n / n_span)
        assert spanned.loc["_district", "estimated"] == 1
        assert spanned.loc["_district", "cumulative_index"] == pytest.approx(before.loc["_district", "cumulative_index"],
                                                                             rel=1e-9)

        # the main meter replaced at noon inside the stretch (new register 0, then 5 at 18:00): the
        # consumption across the replacement is unknown, so the counters no longer span the stretch
        client.write_frame(pd.DataFrame({"time": [reset_at, reset_at + pd.Timedelta(hours=6)], "enterprise": ENT,
                                         "meter": main["meter"], "quantity": main["quantity"],
                                         main["quantity"]: [0.0, 5.0]}),
                           MEAS_READINGS, ["enterprise", "meter", "quantity"])
        compute_monthly_compliance(day, client=client, registry=reg)
        cut = _monthly(client, month)
        assert cut.loc[ENT, "status"] == "data_insufficient" and cut.loc[ENT, "insufficient_spans"] == spans
        # district 同口径: the ratio of sums over the other enterprises, recomputed from their rows
        ok = cut[(cut.index != "_district") & (cut["data_status"] == "ok")]
        assert ENT not in ok.index and len(ok) == 19
        expected = ((ok["ytd_energy_tce"].sum() / ok["ytd_value_added_10k_cny"].sum())
                    / (ok["energy_base_tce"].sum() / ok["value_added_base_10k_cny"].sum()))
        d = cut.loc["_district"]
        assert d["cumulative_index"] == pytest.approx(expected, rel=1e-9)
        # energy-weighted completeness: e04's current span is whole, so its weight is its YTD energy
        firms = cut[cut.index != "_district"]
        assert d["completeness_frac"] == pytest.approx(ok["ytd_energy_tce"].sum() / firms["ytd_energy_tce"].sum(),
                                                       rel=1e-9)
        assert d["completeness_frac"] < 1 and d["enterprise_share_frac"] == pytest.approx(0.95)
    finally:
        client.delete_range(MEAS_READINGS, reset_at, reset_at + pd.Timedelta(hours=6, seconds=1),
                            tags={"meter": [main["meter"]]})
        run_days([first + timedelta(days=k) for k in range(n)], client=client, registry=reg, gate="history")
        compute_monthly_compliance(day, client=client, registry=reg)
    restored = _monthly(client, month)
    assert restored.loc[ENT, "status"] == before.loc[ENT, "status"] and restored.loc[ENT, "estimated"] == 0


def test_estimated_share_above_the_cap_is_insufficient_not_red(seeded):
    """Ten recovered days in the 61-day prior-year span (16 % > 10 %): data_insufficient, never a colour."""
    from ecm.pipeline.daily import run_days
    from ecm.pipeline.monthly import compute_monthly_compliance
    from ecm.registry import get_registry

    client, reg, month, day = seeded.stack.client(), get_registry(), "2024-02-29T16:00:00Z", "2024-03-02"
    first = date(2023, 2, 10)
    try:
        _block(client, first, first + timedelta(days=9))
        compute_monthly_compliance(day, client=client, registry=reg)
        e = _monthly(client, month).loc[ENT]
        assert e["status"] == "data_insufficient" and e["insufficient_spans"] == "prev"
        assert e["estimated_frac_prev"] == pytest.approx(10 / 61)
    finally:
        run_days([first + timedelta(days=k) for k in range(10)], client=client, registry=reg, gate="history")
        compute_monthly_compliance(day, client=client, registry=reg)


def test_district_row_stores_lmdi_effects_co2_target_and_window(seeded):
    """The 2024-03 district row carries the LMDI effects (their product is the index ratio, exactly, and
    the vs-base total ratio is the cumulative index), the CO₂ index at the fixed 2022 grid vintage with
    its status, and the window label; printed for the report to the lead."""
    from ecm.factors import get_factors

    d = _monthly(seeded.stack.client(), "2024-02-29T16:00:00Z").loc["_district"]
    for tag in ("vs_base", "vs_prev"):
        assert d[f"total_ratio_{tag}"] == pytest.approx(d[f"structure_effect_{tag}"] * d[f"intensity_effect_{tag}"],
                                                        rel=1e-9)
        assert d[f"structure_effect_{tag}"] == pytest.approx(
            d[f"structure_industry_effect_{tag}"] * d[f"structure_within_industry_effect_{tag}"], rel=1e-9)
    assert d["total_ratio_vs_base"] == pytest.approx(d["cumulative_index"], rel=1e-9)
    assert d["total_ratio_vs_prev"] == pytest.approx(1 + d["ytd_change_frac"], rel=1e-9)
    a = get_factors().co2_reference.annual_change_frac
    assert d["co2_reference_index"] == pytest.approx((1 + a) ** 2) and d["grid_vintage_fixed"] == 2022
    assert d["energy_co2_status"] in ("green", "yellow", "red") and d["co2_basis"] == "energy_related"
    assert d["ytd_window_zh"] == "1月1日–3月2日" and d["ytd_window_en"] == "1 Jan–2 Mar"
    print("\nseeded district 2024-03 (YTD 1 Jan–2 Mar 2024):",
          {k: d[k] for k in ("status", "cumulative_index", "path_index", "ytd_change_frac", "required_annual_rate_frac",
                             "structure_effect_vs_base", "intensity_effect_vs_base", "fixed_weight_index_vs_base",
                             "structure_effect_vs_prev", "intensity_effect_vs_prev", "energy_co2_index_fixed_vintage",
                             "energy_co2_index_own_vintage", "energy_co2_yoy_change_frac_fixed_vintage",
                             "co2_reference_index", "energy_co2_status", "completeness_frac", "n_members",
                             "mix_explanation_en")})


def test_late_statistics_recompute_the_closed_month(seeded):
    """e03's February 2024 value added arrives after February was closed: the next run recomputes the
    February row, and e03 gets its colour back."""
    from ecm.pipeline.monthly import compute_monthly_compliance
    from ecm.registry import get_registry
    from ecm.schema import MEAS_ENTERPRISE_MONTHLY

    client, reg, feb = seeded.stack.client(), get_registry(), "2024-01-31T16:00:00Z"
    before = _monthly(client, feb)
    assert before.loc["e03", "status"] in ("green", "yellow", "red")
    saved = client.query_frame(f"SELECT * FROM {MEAS_ENTERPRISE_MONTHLY} WHERE enterprise = 'e03' AND time = '{feb}'")
    assert len(saved) == 1
    client.execute(f"DELETE FROM {MEAS_ENTERPRISE_MONTHLY} WHERE enterprise = 'e03' AND time = '{feb}'")
    try:
        compute_monthly_compliance("2024-02-29", client=client, registry=reg)
        assert _monthly(client, feb).loc["e03", "status"] == "data_insufficient"
    finally:
        client.write_frame(saved, MEAS_ENTERPRISE_MONTHLY,
                           ["enterprise"])
    out = compute_monthly_compliance("2024-03-02", client=client, registry=reg)
    assert out["recomputed"] == ["2024-02"]
    after = _monthly(client, feb)
    assert after.loc["e03", "status"] == before.loc["e03", "status"]
    assert after.loc["_district", "n_value_added_months"] == before.loc["_district", "n_value_added_months"]

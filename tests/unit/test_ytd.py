"""Year-to-date windows, pro-rating and factor years (ecm.accounting.ytd; NBS 1–N月 practice)."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from ecm.accounting.issues import Issue
from ecm.accounting.ytd import (by_year, month_fractions, shift_year, window_value_added, ytd_end_for,
                                ytd_spans)


def test_shift_year_maps_29_february_to_28():
    assert shift_year(date(2024, 2, 29), -1) == date(2023, 2, 28)
    assert shift_year(date(2024, 3, 31), -2) == date(2022, 3, 31)


def test_spans_are_the_same_dates_in_the_prior_and_base_year():
    s = ytd_spans(date(2024, 3, 10), date(2024, 2, 29), 2022)
    assert s["cur"] == (date(2024, 1, 1), date(2024, 2, 29))
    assert s["prev"] == (date(2023, 1, 1), date(2023, 2, 28))
    assert s["base"] == (date(2022, 1, 1), date(2022, 2, 28))
    assert s["month"] == (date(2024, 3, 1), date(2024, 3, 10))


def test_months_cut_by_the_window_are_pro_rated_by_days():
    f = month_fractions(date(2024, 1, 15), date(2024, 3, 10))
    # January 15-31 = 17 of 31 days; February whole; March 1-10 = 10 of 31
    assert f == pytest.approx({"2024-01": 17 / 31, "2024-02": 1.0, "2024-03": 10 / 31})
    stats = pd.DataFrame({"enterprise": "e01", "month": ["2024-01", "2024-02", "2024-03"],
                          "value_added_10k_cny": [310.0, 290.0, 620.0], "value_added_current_10k_cny": 1.0})
    va = window_value_added(stats, date(2024, 1, 15), date(2024, 3, 10)).loc["e01"]
    # 310 x 17/31 + 290 + 620 x 10/31 = 170 + 290 + 200 = 660
    assert va["value_added_10k_cny"] == pytest.approx(660.0) and va["n_missing"] == 0


def test_ytd_stops_at_the_previous_month_until_most_enterprises_report():
    stats = pd.DataFrame({"enterprise": ["e01"], "month": ["2024-03"], "value_added_10k_cny": [1.0]})
    end, issues = ytd_end_for(stats, ["e01", "e02", "e03"], date(2024, 3, 20))  # 1 of 3 < 50 %
    assert end == date(2024, 2, 29) and [i.name for i in issues] == ["ecm.ytd.month_not_reported"]
    end, issues = ytd_end_for(stats, ["e01", "e02"], date(2024, 3, 20))        # 1 of 2 = 50 %
    assert end == date(2024, 3, 20) and issues == []


def test_by_year_uses_each_years_factors_and_dates_unlocated_issues():
    seen = []

    def fn(frame, factors, *, year):
        seen.append((year, len(frame)))
        return frame.assign(year=year), [Issue("ecm.energy.generation_factor_vintage", "x", {"year": year})]

    f = pd.DataFrame({"day": [date(2023, 12, 31), date(2024, 1, 1), date(2024, 1, 2)], "value": [1.0, 2.0, 3.0]})
    out, issues = by_year(f, fn, None, empty_year=2024)
    assert seen == [(2023, 1), (2024, 2)] and out["year"].tolist() == [2023, 2024, 2024]
    assert [i.evidence["days"] for i in issues] == [["2023-12-31"], ["2024-01-01", "2024-01-02"]]
    out, issues = by_year(f.iloc[:0], fn, None, empty_year=2026)
    assert seen[-1] == (2026, 0) and [i.name for i in issues] == ["ecm.ytd.no_rows"]


def test_late_statistics_months_finds_rows_computed_before_their_statistics():
    """A closed month is recomputed when statistics it lacked have arrived: its window would now
    reach further (ytd_through) or rest on more value-added figures; a month never computed is left alone."""
    from datetime import date as _d

    import pandas as _pd

    from ecm.accounting.ytd import late_statistics_months, value_added_months

    ids = ["a", "b"]
    months = [f"{y}-{m:02d}" for y in (2022, 2023) for m in (1, 2, 3)]
    stats = _pd.DataFrame([{"enterprise": e, "month": m, "value_added_10k_cny": 10.0,
                            "value_added_current_10k_cny": 10.0} for e in ids for m in months])
    # Feb 2023 closed: cur Jan–Feb 2023 (2 ent × 2 months), prev = base Jan–Feb 2022 (2 × 2 each) → 12 figures
    feb = {"cur": (_d(2023, 1, 1), _d(2023, 2, 28)), "prev": (_d(2022, 1, 1), _d(2022, 2, 28)),
           "base": (_d(2022, 1, 1), _d(2022, 2, 28))}
    assert value_added_months(stats, feb) == 12
    stored = _pd.DataFrame({"month": ["2023-01", "2023-02"], "ytd_through": ["2023-01-31", "2023-02-28"],
                            "n_value_added_months": [6, 11]})   # Feb computed when b's Feb figure was missing
    ends = [_d(2023, 1, 31), _d(2023, 2, 28), _d(2023, 3, 31)]
    assert late_statistics_months(stored, stats, ids, ends, 2022) == [_d(2023, 2, 28)]
    # January computed before any January figure: its window had stopped at 31 Dec
    stored.loc[0, "ytd_through"] = "2022-12-31"
    assert late_statistics_months(stored, stats, ids, ends, 2022) == [_d(2023, 1, 31), _d(2023, 2, 28)]

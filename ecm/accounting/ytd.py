"""Periods behind the compliance figures: year-to-date windows, pro-rating, factor years.

Rules (NBS practice for 1–N月 statistics; docs/contracts.md §2.2):

* **Year to date (YTD)** = 1 January → ``ytd_end``. ``ytd_end`` is the run's day once most
  enterprises have reported the day's month's value added, else the end of the previous month
  (:func:`ytd_end_for`), as 1–N月 statistics are published after a month closes.
* **Comparison spans** are the same calendar dates one year earlier (``prev``) and in the base
  year (``base``), so seasonality cancels; 29 February maps to 28 February in other years.
* **Pro-rating**: a month cut by a window contributes its value added × (days in the window ÷
  days in the month) (:func:`month_fractions`). Energy is summed over the window's days.
* **Factor years**: factor vintages are chosen per calendar year (:func:`by_year`); an empty input
  has no year of its own, so the caller names it (``empty_year``) and an issue says so.
"""
from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Callable

import pandas as pd

from ecm.accounting.issues import Issue

#: share of registry enterprises that must have reported a month's value added before the YTD
#: window includes that month
YTD_MONTH_REPORTED_FRAC = 0.5


def shift_year(d: date, years: int) -> date:
    """The same calendar date ``years`` later (earlier when negative); 29 Feb → 28 Feb."""
    y = d.year + years
    return d.replace(year=y, day=min(d.day, calendar.monthrange(y, d.month)[1]))


def ytd_spans(day: date, ytd_end: date, base_year: int) -> dict[str, tuple[date, date]]:
    """Inclusive Beijing-day spans: ``cur`` (1 Jan → ytd_end), ``prev`` and ``base`` (the same
    dates one year earlier and in ``base_year``) and ``month`` (the day's month to the day)."""
    y0 = date(ytd_end.year, 1, 1)
    back = ytd_end.year - base_year
    return {"cur": (y0, ytd_end), "prev": (shift_year(y0, -1), shift_year(ytd_end, -1)),
            "base": (shift_year(y0, -back), shift_year(ytd_end, -back)), "month": (day.replace(day=1), day)}


def month_fractions(first: date, last: date) -> dict[str, float]:
    """``YYYY-MM`` → share of the month's days inside [first, last] (pro-rating rule)."""
    out = {}
    m = date(first.year, first.month, 1)
    while m <= last:
        dim = calendar.monthrange(m.year, m.month)[1]
        lo, hi = max(first, m), min(last, m.replace(day=dim))
        out[m.strftime("%Y-%m")] = ((hi - lo).days + 1) / dim
        m = m.replace(day=dim) + timedelta(days=1)
    return out


def window_energy(kd: pd.DataFrame, first: date, last: date) -> pd.DataFrame:
    """Σ energy/CO2 per enterprise over Beijing days [first, last] of ``kpi_daily`` rows
    (``enterprise``, ``day``, ``energy_tce``, ``energy_tce_generation``, ``co2_t``,
    ``data_status``), with ``n_days`` present and ``n_blocked`` (days not ``ok``)."""
    w = kd[(kd["day"] >= first) & (kd["day"] <= last)]
    g = w.groupby("enterprise")
    return pd.DataFrame({
        "energy_tce": g["energy_tce"].sum(min_count=1), "energy_tce_generation": g["energy_tce_generation"].sum(min_count=1),
        "co2_t": g["co2_t"].sum(min_count=1), "n_days": g.size(),
        "n_blocked": g["data_status"].apply(lambda s: int((s != "ok").sum())),
    })


def window_value_added(stats: pd.DataFrame, first: date, last: date) -> pd.DataFrame:
    """Σ value added (``value_added_10k_cny`` at 2022 prices and ``value_added_current_10k_cny``)
    per enterprise over [first, last], months cut by the window pro-rated by days;
    ``n_missing`` counts months of the window without a figure."""
    frac = month_fractions(first, last)
    s = stats[stats["month"].isin(frac)].copy()
    s["frac"] = s["month"].map(frac)
    g = s.assign(va=s["value_added_10k_cny"] * s["frac"],
                 vac=s["value_added_current_10k_cny"] * s["frac"]).groupby("enterprise")
    out = pd.DataFrame({"value_added_10k_cny": g["va"].sum(min_count=1),
                        "value_added_current_10k_cny": g["vac"].sum(min_count=1),
                        "n_months": g["va"].count()})
    out["n_missing"] = len(frac) - out["n_months"]
    return out


def ytd_end_for(stats: pd.DataFrame, enterprise_ids: list[str], day: date) -> tuple[date, list[Issue]]:
    """Last day of the YTD window for a run on ``day`` (rule in the module doc). When the window
    stops at the previous month's end, a non-blocking ``ecm.ytd.month_not_reported`` says so."""
    month = day.strftime("%Y-%m")
    have = stats[(stats["month"] == month) & stats["value_added_10k_cny"].notna()]["enterprise"].nunique()
    if have >= YTD_MONTH_REPORTED_FRAC * max(len(enterprise_ids), 1):
        return day, []
    end = day.replace(day=1) - timedelta(days=1)
    return end, [Issue("ecm.ytd.month_not_reported",
                       f"{month}: value added reported by {have} of {len(enterprise_ids)} enterprises; "
                       f"year to date runs through {end.isoformat()}",
                       {"month": month, "n_reported": int(have), "ytd_through": end.isoformat(), "period": month})]


def by_year(frame: pd.DataFrame, fn: Callable, factors, *, empty_year: int, day_column: str = "day"
            ) -> tuple[pd.DataFrame, list[Issue]]:
    """Apply a factor function ``fn(frame, factors, year=…)`` to each calendar year of
    ``frame[day_column]`` (factor vintages are annual). Issues that name no place and no day get
    the days of their year (so they are stored against the days they concern). An empty frame is
    passed once with ``year=empty_year`` (for its columns) and ``ecm.ytd.no_rows`` is raised."""
    if frame.empty:
        out, _vintage_issues = fn(frame, factors, year=empty_year)  # nothing was converted: no vintage used
        return out, [Issue("ecm.ytd.no_rows", f"{getattr(fn, '__name__', 'conversion')}: no consumption rows",
                           {"year": empty_year})]
    parts, issues = [], []
    for year, g in frame.groupby(frame[day_column].map(lambda d: d.year)):
        out, iss = fn(g, factors, year=int(year))
        parts.append(out)
        days = sorted({d.isoformat() for d in g[day_column]})
        for i in iss:
            located = any(k in i.evidence for k in ("enterprise", "enterprises", "meter", "meters", "line", "lines",
                                                    "rows", "day", "days", "period"))
            issues.append(i if located else Issue(i.name, i.message, {**i.evidence, "days": days}, i.blocking))
    return pd.concat(parts, ignore_index=True), issues


def value_added_months(stats: pd.DataFrame, spans: dict[str, tuple[date, date]]) -> int:
    """Number of (enterprise, month) value-added figures the compared spans rest on (Σ over spans of
    :func:`window_value_added` ``n_months``): it grows when late statistics arrive."""
    return int(sum(window_value_added(stats, *v)["n_months"].sum() for v in spans.values()))


def late_statistics_months(stored: pd.DataFrame, stats: pd.DataFrame, enterprise_ids: list[str],
                           month_ends: list[date], base_year: int) -> list[date]:
    """Closed months whose stored row predates statistics that have since arrived.

    ``stored``: the district row of each computed month (``month`` ``YYYY-MM``, ``ytd_through``
    ISO date, ``n_value_added_months``). For each month end ``d`` of ``month_ends`` that has a stored
    row, the window it would get now (:func:`ytd_end_for` on ``stats``) and the value-added figures
    it would rest on (:func:`value_added_months` over cur/prev/base) are compared with the stored
    ones; the month is returned (to be recomputed) when the window would reach further or more
    figures would be used. A month never computed is not returned (the 1st-of-month run closes it).
    """
    rows = stored.set_index("month") if len(stored) else pd.DataFrame(columns=["ytd_through", "n_value_added_months"])
    out = []
    for d in month_ends:
        key = d.strftime("%Y-%m")
        if key not in rows.index:
            continue
        r = rows.loc[key]
        end, _ = ytd_end_for(stats, enterprise_ids, d)
        spans = {k: v for k, v in ytd_spans(d, end, base_year).items() if k != "month"}
        n_now = value_added_months(stats, spans)
        n_then = pd.to_numeric(pd.Series([r.get("n_value_added_months")]), errors="coerce").iloc[0]
        if str(r.get("ytd_through")) != end.isoformat() or pd.isna(n_then) or n_now > n_then:
            out.append(d)
    return out

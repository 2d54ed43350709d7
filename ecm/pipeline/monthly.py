"""Monthly compliance: intensity against the 13% path, benchmark attainment, capacity shares.

Reads ``kpi_daily``, ``line_daily`` and ``enterprise_monthly``; writes ``kpi_monthly``
(enterprises and ``_district``), ``benchmark_monthly`` and ``capacity_share_monthly`` at the
month's start (Beijing), clearing the month first so a re-run overwrites.

Conventions (docs/contracts.md §2.2):
* year to date (YTD) = 1 January → the run's day once the day's month has value added reported,
  else → the end of the previous month (``ytd_through``), as 1–N月 statistics are published; the
  comparison period is the same calendar span one year earlier, and the base is the same span of
  the base year (2022), so seasonality cancels. A month cut by the window is pro-rated by days.
* cumulative_index = YTD intensity ÷ base-year intensity of the same span (comparable prices);
  the path value compared with it is the target path index of the current year.
* an enterprise with any ``data_insufficient`` day in the YTD window, or a month without value
  added, is ``data_insufficient``: no status colour is derived from incomplete data.
* the district figure is Σ energy ÷ Σ value added over the enterprises with complete data;
  ``completeness_frac`` is their share of registry enterprises, and below 0.8 the district
  status is ``data_insufficient``.
* line unit energy: 12 months to the run's day (classification) and YTD, as Σ energy ÷ Σ output.
"""
from __future__ import annotations

import calendar
from datetime import date, timedelta

import numpy as np
import pandas as pd

from ecm.accounting.benchmark import capacity_shares, classify_lines, overall_capacity_shares
from ecm.accounting.energy import unit_product_energy
from ecm.accounting.intensity import (STATUS_LEVEL, cumulative_index, deflate_value_added, path_status,
                                      ytd_change)
from ecm.influx import time_literal
from ecm.periods import TZ, day_bounds_utc, month_bounds_utc
from ecm.schema import MEAS_BENCHMARK_MONTHLY as BENCHMARK_MONTHLY
from ecm.schema import MEAS_CAPACITY_SHARE_MONTHLY as CAPACITY_SHARE
from ecm.schema import MEAS_KPI_MONTHLY as KPI_MONTHLY

DISTRICT = "_district"
DISTRICT_MIN_COVERAGE_FRAC = 0.8


def _shift_year(d: date, years: int) -> date:
    y = d.year + years
    return d.replace(year=y, day=min(d.day, calendar.monthrange(y, d.month)[1]))


def _window_energy(kd: pd.DataFrame, first: date, last: date) -> pd.DataFrame:
    """Σ energy/CO2 per enterprise over Beijing days [first, last], with blocked-day counts."""
    w = kd[(kd["day"] >= first) & (kd["day"] <= last)]
    g = w.groupby("enterprise")
    return pd.DataFrame({
        "energy_tce": g["energy_tce"].sum(min_count=1), "energy_tce_generation": g["energy_tce_generation"].sum(min_count=1),
        "co2_t": g["co2_t"].sum(min_count=1), "n_days": g.size(),
        "n_blocked": g["data_status"].apply(lambda s: int((s != "ok").sum())),
    })


def _window_value_added(stats: pd.DataFrame, first: date, last: date) -> pd.DataFrame:
    """Σ value added (2022 prices and current) per enterprise over [first, last]; months cut by the
    window are pro-rated by days. ``n_missing`` counts months without a usable figure."""
    rows = []
    m = date(first.year, first.month, 1)
    while m <= last:
        dim = calendar.monthrange(m.year, m.month)[1]
        lo, hi = max(first, m), min(last, m.replace(day=dim))
        rows.append((m.strftime("%Y-%m"), ((hi - lo).days + 1) / dim))
        m = m.replace(day=dim) + timedelta(days=1)
    frac = dict(rows)
    s = stats[stats["month"].isin(frac)].copy()
    s["frac"] = s["month"].map(frac)
    g = s.assign(va=s["value_added_10k_cny"] * s["frac"], vac=s["value_added_current_10k_cny"] * s["frac"]).groupby("enterprise")
    out = pd.DataFrame({"value_added_10k_cny": g["va"].sum(min_count=1),
                        "value_added_current_10k_cny": g["vac"].sum(min_count=1),
                        "n_months": g["va"].count()})
    out["n_missing"] = len(frac) - out["n_months"]
    return out


def ytd_end_for(stats: pd.DataFrame, enterprise_ids: list[str], day: date) -> date:
    """Last day of the year-to-date window: ``day`` when its month's value added has been
    reported for most enterprises, else the end of the previous month (statistics arrive after a
    month closes, so mid-month the YTD figures are 1–(N−1)月, as NBS publishes them)."""
    month = day.strftime("%Y-%m")
    have = stats[(stats["month"] == month) & stats["value_added_10k_cny"].notna()]["enterprise"].nunique()
    if have >= 0.5 * max(len(enterprise_ids), 1):
        return day
    return day.replace(day=1) - timedelta(days=1)


def intensity_frame(kd: pd.DataFrame, stats: pd.DataFrame, enterprise_ids: list[str], day: date,
                    targets, *, ytd_end: date | None = None) -> pd.DataFrame:
    """Per enterprise plus ``_district``: month-to-date figures for ``day``'s month and YTD figures
    and path status through ``ytd_end`` (default ``day``) (pure function).

    ``kd``: kpi_daily rows (enterprise, day, energy_tce, energy_tce_generation, co2_t, data_status);
    ``stats``: enterprise_monthly rows deflated (enterprise, month, value_added_10k_cny,
    value_added_current_10k_cny).
    """
    end = ytd_end or day
    y0 = date(end.year, 1, 1)
    base_years = end.year - targets.base_year
    spans = {"cur": (y0, end), "prev": (_shift_year(y0, -1), _shift_year(end, -1)),
             "base": (_shift_year(y0, -base_years), _shift_year(end, -base_years)),
             "month": (day.replace(day=1), day)}
    idx = pd.Index(enterprise_ids, name="enterprise")
    f = {k: _window_energy(kd, *v).reindex(idx).join(_window_value_added(stats, *v).reindex(idx))
         for k, v in spans.items()}
    ok = (f["cur"]["n_blocked"].fillna(1) == 0) & (f["cur"]["n_missing"].fillna(1) == 0) & f["cur"]["energy_tce"].notna()
    # a month still in progress has no value added yet: its intensity is not computed
    month_va = f["month"]["value_added_10k_cny"].where(f["month"]["n_missing"].fillna(1) == 0)
    f["month"]["value_added_10k_cny"] = month_va
    df = pd.DataFrame(index=idx)
    for col in ("energy_tce", "energy_tce_generation", "co2_t", "value_added_10k_cny", "value_added_current_10k_cny"):
        df[col] = f["month"][col]
        df[f"ytd_{col}"] = f["cur"][col]
    df["energy_prev_year_tce"], df["value_added_prev_year_10k_cny"] = f["prev"]["energy_tce"], f["prev"]["value_added_10k_cny"]
    df["energy_base_tce"], df["value_added_base_10k_cny"] = f["base"]["energy_tce"], f["base"]["value_added_10k_cny"]
    df["data_status"] = np.where(ok, "ok", "data_insufficient")
    df["completeness_frac"] = (1 - f["cur"]["n_blocked"].fillna(0) / f["cur"]["n_days"]).fillna(0.0)
    df = df.reset_index()
    # district: ratio of sums over enterprises with complete data
    good = df[df["data_status"] == "ok"]
    dist = good.drop(columns=["enterprise", "data_status", "completeness_frac"]).sum(min_count=1)
    dist["enterprise"] = DISTRICT
    dist["completeness_frac"] = len(good) / max(len(df), 1)
    dist["data_status"] = "ok" if dist["completeness_frac"] >= DISTRICT_MIN_COVERAGE_FRAC else "data_insufficient"
    df = pd.concat([df, dist.to_frame().T], ignore_index=True)
    num = [c for c in df.columns if c not in ("enterprise", "data_status")]
    df[num] = df[num].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        df["intensity_tce_per_10k_cny"] = df["energy_tce"] / df["value_added_10k_cny"].where(df["value_added_10k_cny"] > 0)
        df["ytd_intensity_tce_per_10k_cny"] = df["ytd_energy_tce"] / df["ytd_value_added_10k_cny"].where(df["ytd_value_added_10k_cny"] > 0)
        df["co2_intensity_t_per_10k_cny"] = df["ytd_co2_t"] / df["ytd_value_added_10k_cny"].where(df["ytd_value_added_10k_cny"] > 0)
        df["base_intensity_tce_per_10k_cny"] = df["energy_base_tce"] / df["value_added_base_10k_cny"].where(df["value_added_base_10k_cny"] > 0)
    work = df.rename(columns={"ytd_energy_tce": "energy_tce_ytd"}).assign(
        energy_tce=df["ytd_energy_tce"], value_added_10k_cny=df["ytd_value_added_10k_cny"],
        intensity_tce_per_10k_cny=df["ytd_intensity_tce_per_10k_cny"])
    work, _ = ytd_change(work)
    work, _ = cumulative_index(work)
    work, _ = path_status(work, year=end.year, base_year=targets.base_year, end_year=targets.end_year,
                          cumulative_reduction_frac=targets.cumulative_reduction_frac,
                          yellow_tolerance_frac=targets.yellow_tolerance_frac)
    for col in ("ytd_change_frac", "cumulative_index", "path_index", "required_annual_rate_frac", "shortfall_frac",
                "status", "status_level"):
        df[col] = work[col].to_numpy()
    df["ytd_through"] = end.isoformat()
    return df


def line_unit_energy(ld: pd.DataFrame, lines: pd.DataFrame, factors, first: date, last: date) -> pd.DataFrame:
    """Σ energy ÷ Σ output per line over [first, last] (unit_product_energy on the sums)."""
    w = ld[(ld["day"] >= first) & (ld["day"] <= last)]
    sums = w.groupby("line")[[c for c in w.columns if c.startswith("output_") or c in ("energy_tce", "electricity_kwh")]].sum(min_count=1)
    sums = sums.reset_index()
    energy = sums[["line", "energy_tce"] + (["electricity_kwh"] if "electricity_kwh" in sums else [])]
    output = sums[["line"] + [c for c in sums.columns if c.startswith("output_")]]
    upe, _ = unit_product_energy(energy, output, lines, factors)
    return upe


def benchmark_frames(ld: pd.DataFrame, registry, factors, day: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(benchmark_monthly rows per line, capacity_share_monthly rows per industry) for ``day``."""
    lines = registry.lines_frame()
    r12 = line_unit_energy(ld, lines, factors, day - timedelta(days=364), day)
    ytd = line_unit_energy(ld, lines, factors, date(day.year, 1, 1), day)
    cls, _ = classify_lines(r12, lines, factors)
    shares, _ = capacity_shares(cls, lines)
    overall = overall_capacity_shares(cls, factors)
    is_all = shares["industry"] == "all"
    for k in ("benchmark_capacity_share_frac", "baseline_capacity_share_frac"):
        shares.loc[is_all, k] = overall[k]
    ue_cols = [c for c in cls.columns if c.startswith("unit_energy_")]
    bm = cls.rename(columns={c: c.replace("unit_energy_", "unit_energy_12m_") for c in ue_cols})
    ytd_ue = ytd.set_index("line")[[c for c in ytd.columns if c.startswith("unit_energy_")]]
    for c in ytd_ue.columns:
        bm[c.replace("unit_energy_", "unit_energy_ytd_")] = bm["line"].map(ytd_ue[c])
    comp = ld[(ld["day"] > day - timedelta(days=365))].groupby("line")["completeness_frac"].mean()
    bm["completeness_frac"] = bm["line"].map(comp)
    return bm, shares


# -- I/O --------------------------------------------------------------------------------------
def _load(client, measurement: str, fields: str, tags: str, first: date, last: date) -> pd.DataFrame:
    s, _ = day_bounds_utc(first)
    _, e = day_bounds_utc(last)
    df = client.query_frame(f"SELECT {fields} FROM {measurement} WHERE time >= {time_literal(s)} "
                            f"AND time < {time_literal(e)} GROUP BY {tags}")
    if not df.empty:
        df["day"] = df["time"].dt.tz_convert(TZ).dt.date
    return df


def load_stats(client, first: date, last: date) -> pd.DataFrame:
    df = _load(client, "enterprise_monthly", "value_added_10k_cny, deflator_index", "enterprise", first, last)
    if df.empty:
        return pd.DataFrame(columns=["enterprise", "month", "value_added_10k_cny", "value_added_current_10k_cny"])
    df["month"] = df["time"].dt.tz_convert(TZ).dt.strftime("%Y-%m")
    df = df.rename(columns={"value_added_10k_cny": "value_added_current_10k_cny"})
    out, _ = deflate_value_added(df)
    return out


def check_inputs(day_iso: str) -> str:
    """DAG task: fail loudly when the month has no daily KPIs at all."""
    from ecm.errors import InsufficientDataError
    from ecm.influx import InfluxClient

    day = date.fromisoformat(day_iso)
    kd = _load(InfluxClient.from_settings(), "kpi_daily", "data_status", "enterprise", day.replace(day=1), day)
    if kd.empty:
        raise InsufficientDataError(f"no kpi_daily rows for {day:%Y-%m} up to {day_iso}",
                                    hint="run ecm_daily_kpis for the month's days first")
    return day_iso


def compute_monthly_compliance(day_iso: str, *, client=None, registry=None, factors=None) -> dict:
    """Compute and write the month-to-date compliance of ``day_iso``'s month; returns a summary."""
    from ecm.factors import get_factors
    from ecm.influx import InfluxClient
    from ecm.quality import run_month, write_results  # noqa: F401  (stats suite runs with the month)
    from ecm.registry import get_registry

    client = client or InfluxClient.from_settings()
    registry = registry or get_registry()
    factors = factors or get_factors()
    t = factors.targets
    day = date.fromisoformat(day_iso)
    first = _shift_year(date(day.year, 1, 1), -(day.year - t.base_year))
    kd = _load(client, "kpi_daily", "energy_tce, energy_tce_generation, co2_t, data_status", "enterprise", first, day)
    stats = load_stats(client, first, day)
    ytd_end = ytd_end_for(stats, registry.enterprise_ids, day)
    dq = run_month(client, registry, ytd_end)
    from ecm.quality import blocking_enterprises

    no_va = blocking_enterprises(dq)
    kf = intensity_frame(kd, stats, registry.enterprise_ids, day, t, ytd_end=ytd_end)
    kf.loc[kf["enterprise"].isin(no_va), ["status", "status_level"]] = ["data_insufficient", STATUS_LEVEL["data_insufficient"]]
    kf["factor_table_version"] = factors.table_version
    ld = _load(client, "line_daily", "*", "enterprise, line, product_class", day - timedelta(days=364), day)
    bm, shares = benchmark_frames(ld, registry, factors, day) if not ld.empty else (pd.DataFrame(), pd.DataFrame())
    m0, m1 = month_bounds_utc(day)
    for m in (KPI_MONTHLY, BENCHMARK_MONTHLY, CAPACITY_SHARE):
        client.delete_range(m, m0, m1)
    keep = ["enterprise", "energy_tce", "energy_tce_generation", "co2_t", "value_added_10k_cny",
            "value_added_current_10k_cny", "intensity_tce_per_10k_cny", "co2_intensity_t_per_10k_cny",
            "ytd_energy_tce", "ytd_value_added_10k_cny", "ytd_intensity_tce_per_10k_cny", "ytd_change_frac",
            "cumulative_index", "path_index", "required_annual_rate_frac", "shortfall_frac", "status",
            "status_level", "completeness_frac", "ytd_through", "factor_table_version"]
    client.write_frame(kf[keep].assign(time=m0), KPI_MONTHLY, ["enterprise"])
    if len(bm):
        bcols = [c for c in bm.columns if c not in ("indicator_unit", "capacity_unit", "benchmark_basis")]
        client.write_frame(bm[bcols].assign(time=m0).dropna(axis=1, how="all"), BENCHMARK_MONTHLY,
                           ["enterprise", "line", "industry", "product_class"])
        scols = ["industry", "benchmark_capacity_share_frac", "baseline_capacity_share_frac", "capacity_total",
                 "benchmark_line_share_frac", "baseline_line_share_frac", "n_lines", "factor_table_version"]
        client.write_frame(shares[scols].assign(time=m0), CAPACITY_SHARE, ["industry"])
    d = kf[kf["enterprise"] == DISTRICT].iloc[0]
    return {"month": f"{day:%Y-%m}", "district_status": d["status"],
            "district_ytd_intensity_tce_per_10k_cny": None if pd.isna(d["ytd_intensity_tce_per_10k_cny"]) else round(float(d["ytd_intensity_tce_per_10k_cny"]), 4),
            "n_red": int((kf["status"] == "red").sum()), "n_insufficient": int((kf["status"] == "data_insufficient").sum())}

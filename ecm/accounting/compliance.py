"""Monthly compliance frames: intensity against the target path, and line benchmark attainment.

Composes the pure rules of ``ytd`` (windows), ``status`` (what is published), ``district`` (ratio of
sums), ``intensity`` (path status, GB/T-independent NBS method) and ``benchmark`` (标杆/基准
classification, capacity shares). Each function returns ``(frame, issues)``.
"""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from ecm.accounting.benchmark import capacity_shares, classify_lines, overall_capacity_shares
from ecm.accounting.district import DISTRICT, district_row
from ecm.accounting.energy import unit_product_energy
from ecm.accounting.intensity import cumulative_index, path_status, ytd_change
from ecm.accounting.issues import Issue
from ecm.accounting.status import DATA_INSUFFICIENT, DATA_OK, ytd_completeness, ytd_ok
from ecm.accounting.ytd import window_energy, window_value_added, ytd_spans

SUM_COLUMNS = ("energy_tce", "energy_tce_generation", "co2_t", "value_added_10k_cny", "value_added_current_10k_cny")


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    with np.errstate(divide="ignore", invalid="ignore"):
        return num / den.where(den > 0)


def intensity_frame(kd: pd.DataFrame, stats: pd.DataFrame, enterprise_ids: list[str], day: date, targets, *,
                    ytd_end: date | None = None) -> tuple[pd.DataFrame, list[Issue]]:
    """Per enterprise plus ``_district``: month-to-date figures for ``day``'s month, and YTD
    figures and path status through ``ytd_end`` (default ``day``).

    ``kd``: kpi_daily rows (enterprise, day, energy_tce, energy_tce_generation, co2_t, data_status);
    ``stats``: enterprise_monthly rows deflated (enterprise, month, value_added_10k_cny,
    value_added_current_10k_cny); ``targets``: ``factors.targets`` (base/end year, reduction,
    tolerance). Issues are those of the path rules, stored against the month (``period``).
    """
    end = ytd_end or day
    spans = ytd_spans(day, end, targets.base_year)
    idx = pd.Index(enterprise_ids, name="enterprise")
    f = {k: window_energy(kd, *v).reindex(idx).join(window_value_added(stats, *v).reindex(idx))
         for k, v in spans.items()}
    ok = ytd_ok(f["cur"])
    # a month still in progress has no value added yet: its intensity is not computed
    f["month"]["value_added_10k_cny"] = f["month"]["value_added_10k_cny"].where(f["month"]["n_missing"].fillna(1) == 0)
    df = pd.DataFrame(index=idx)
    for col in SUM_COLUMNS:
        df[col] = f["month"][col]
        df[f"ytd_{col}"] = f["cur"][col]
    df["energy_prev_year_tce"], df["value_added_prev_year_10k_cny"] = f["prev"]["energy_tce"], f["prev"]["value_added_10k_cny"]
    df["energy_base_tce"], df["value_added_base_10k_cny"] = f["base"]["energy_tce"], f["base"]["value_added_10k_cny"]
    df["data_status"] = np.where(ok, DATA_OK, DATA_INSUFFICIENT)
    df["completeness_frac"] = ytd_completeness(f["cur"])
    df = df.reset_index()
    dist, issues = district_row(df)
    df = pd.concat([df, dist.to_frame().T], ignore_index=True)
    num = [c for c in df.columns if c not in ("enterprise", "data_status")]
    df[num] = df[num].astype(float)
    df["intensity_tce_per_10k_cny"] = _ratio(df["energy_tce"], df["value_added_10k_cny"])
    df["ytd_intensity_tce_per_10k_cny"] = _ratio(df["ytd_energy_tce"], df["ytd_value_added_10k_cny"])
    df["co2_intensity_t_per_10k_cny"] = _ratio(df["ytd_co2_t"], df["ytd_value_added_10k_cny"])
    df["base_intensity_tce_per_10k_cny"] = _ratio(df["energy_base_tce"], df["value_added_base_10k_cny"])
    work = df.rename(columns={"ytd_energy_tce": "energy_tce_ytd"}).assign(
        energy_tce=df["ytd_energy_tce"], value_added_10k_cny=df["ytd_value_added_10k_cny"],
        intensity_tce_per_10k_cny=df["ytd_intensity_tce_per_10k_cny"])
    # the path rules see only published rows: a withheld enterprise has no colour and no issue of its own
    work, i1 = ytd_change(work)
    work, i2 = cumulative_index(work)
    work, i3 = path_status(work, year=end.year, base_year=targets.base_year, end_year=targets.end_year,
                           cumulative_reduction_frac=targets.cumulative_reduction_frac,
                           yellow_tolerance_frac=targets.yellow_tolerance_frac)
    for col in ("ytd_change_frac", "cumulative_index", "path_index", "required_annual_rate_frac", "shortfall_frac",
                "status", "status_level"):
        df[col] = work[col].to_numpy()
    df["ytd_through"] = end.isoformat()
    return df, issues + i1 + i2 + i3


def line_unit_energy(ld: pd.DataFrame, lines: pd.DataFrame, factors, first: date, last: date
                     ) -> tuple[pd.DataFrame, list[Issue]]:
    """Σ energy ÷ Σ output per line over Beijing days [first, last] (unit_product_energy on the sums)."""
    w = ld[(ld["day"] >= first) & (ld["day"] <= last)]
    keep = [c for c in w.columns if c.startswith("output_") or c in ("energy_tce", "electricity_kwh")]
    sums = w.groupby("line")[keep].sum(min_count=1).reset_index()
    energy = sums[["line", "energy_tce"] + (["electricity_kwh"] if "electricity_kwh" in sums else [])]
    output = sums[["line"] + [c for c in sums.columns if c.startswith("output_")]]
    return unit_product_energy(energy, output, lines, factors)


def benchmark_frames(ld: pd.DataFrame, lines: pd.DataFrame, factors, day: date
                     ) -> tuple[pd.DataFrame, pd.DataFrame, list[Issue]]:
    """(benchmark_monthly rows per line, capacity_share_monthly rows per industry, issues) for
    ``day``: classification on the 12 months to ``day`` (365 days), YTD unit energy beside it."""
    if lines.empty or ld.empty:
        return pd.DataFrame(), pd.DataFrame(), []
    r12, i1 = line_unit_energy(ld, lines, factors, day - timedelta(days=364), day)
    ytd, _ytd_issues = line_unit_energy(ld, lines, factors, date(day.year, 1, 1), day)  # shown, not classified
    cls, i2 = classify_lines(r12, lines, factors)
    shares, i3 = capacity_shares(cls, lines)
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
    return bm, shares, i1 + i2 + i3


__all__ = ["DISTRICT", "intensity_frame", "line_unit_energy", "benchmark_frames"]

"""Value-added energy intensity, the 13% target path and the 晴雨表-style status.

Definitions (NBS method for 规上工业单位增加值能耗; NDRC 晴雨表 warning levels):

* intensity = Σ energy_tce / Σ value_added_10k_cny for any group (district, industry): a ratio of
  sums, never a mean of enterprise ratios; value added at comparable (2022) prices.
* year-to-date change r = (1 + g_E) / (1 + g_VA) − 1, g = growth over the same months last year.
* cumulative index = I_t / I_base; target path (geometric) = (1 − c) ** ((t − base) / (end − base)),
  c = 0.13, base 2022, end 2027 → annual change 0.87 ** (1/5) − 1 = −2.747 %.
* required annual rate = (0.87 / index) ** (1 / (end − t)) − 1 (signed: negative = must fall).
* status: path decline d_p = 1 − path index, actual decline d_a = 1 − cumulative index,
  shortfall = d_p − d_a. green if shortfall ≤ 0; yellow if shortfall ≤ 0.10 × d_p;
  red otherwise, or whenever intensity rose year on year (r > 0). Comparisons allow 1e-9 for
  floating-point rounding, so a value exactly on a line counts as on it.
"""
from __future__ import annotations

from typing import Iterable, Literal

import numpy as np
import pandas as pd

from ecm.accounting.issues import Issue
from ecm.schema import DataStatus, Status

EPS = 1e-9
STATUS_LEVEL = {s.value: s.level for s in Status}


def _versions(frame: pd.DataFrame, keys: list[str]) -> pd.Series | None:
    if "factor_table_version" not in frame.columns:
        return None
    if not keys:
        return pd.Series(["+".join(sorted(frame["factor_table_version"].dropna().astype(str).unique()))])
    return frame.groupby(keys, sort=True)["factor_table_version"].agg(
        lambda s: "+".join(sorted(s.dropna().astype(str).unique())))


def _ratio_of_sums(frame: pd.DataFrame, num: str, den: str, out_col: str, by: Iterable[str],
                   total_label: str | None, issue_prefix: str) -> tuple[pd.DataFrame, list[Issue]]:
    by = list(by)
    issues: list[Issue] = []
    df = frame.copy()
    df["_bad"] = df[num].isna() | df[den].isna()
    parts = []
    groups = [(by, df)] if by else []
    if total_label is not None or not by:
        groups.append(([], df))
    for keys, d in groups:
        if keys:
            g = d.groupby(keys, sort=True)
            agg = pd.DataFrame({num: g[num].sum(), den: g[den].sum(), "n_members": g.size(), "_bad": g["_bad"].any()})
            ver = _versions(d, keys)
            agg = agg.reset_index()
            if ver is not None:
                agg["factor_table_version"] = ver.to_numpy()
        else:
            agg = pd.DataFrame({num: [d[num].sum()], den: [d[den].sum()], "n_members": [len(d)],
                                "_bad": [bool(d["_bad"].any())]})
            for k in by:
                agg[k] = total_label
            ver = _versions(d, [])
            if ver is not None:
                agg["factor_table_version"] = ver.to_numpy()
        parts.append(agg)
    out = pd.concat(parts, ignore_index=True)
    nonpos = ~out["_bad"] & (out[den] <= 0)
    out[out_col] = np.where(out["_bad"] | nonpos, np.nan, out[num] / out[den].where(out[den] > 0))
    if out["_bad"].any():
        issues.append(Issue(f"{issue_prefix}.input_missing", f"{num} or {den} missing for a member; ratio not computed",
                            {"groups": out.loc[out["_bad"], by].astype(str).to_dict("records") if by else ["all"]},
                            blocking=True))
    if nonpos.any():
        issues.append(Issue(f"{issue_prefix}.value_added_not_positive", f"Σ {den} ≤ 0; ratio not computed",
                            {"groups": out.loc[nonpos, by].astype(str).to_dict("records") if by else ["all"]},
                            blocking=True))
    if "factor_table_version" in out and out["factor_table_version"].str.contains("+", regex=False).any():
        issues.append(Issue(f"{issue_prefix}.mixed_factor_versions", "members computed with different factor tables",
                            {"versions": sorted(out["factor_table_version"].unique().tolist())}))
    cols = [*by, num, den, out_col, "n_members"] + (["factor_table_version"] if "factor_table_version" in out else [])
    return out[cols], issues


def intensity_tce_per_10k_cny(frame: pd.DataFrame, *, by: Iterable[str] = ("enterprise",),
                              total_label: str | None = "_district",
                              basis: Literal["equivalent", "generation"] = "equivalent") -> tuple[pd.DataFrame, list[Issue]]:
    """Energy intensity per group as Σ energy / Σ value added.

    Input columns: ``by`` columns, ``energy_tce`` (当量值, tce; ``energy_tce_generation`` for
    ``basis="generation"``), ``value_added_10k_cny`` (10^4 CNY, 2022 comparable prices), optionally
    ``factor_table_version``. Output: one row per group plus, if ``total_label`` is set, a total
    row whose ``by`` columns hold ``total_label`` (e.g. ``_district``): the two sums,
    ``intensity_tce_per_10k_cny``, ``n_members``, ``factor_table_version``.

    NaN policy: a group with any NaN member is NaN (members are never dropped silently), blocking
    issue; Σ value added ≤ 0 → NaN, blocking issue.
    """
    num = "energy_tce" if basis == "equivalent" else "energy_tce_generation"
    return _ratio_of_sums(frame, num, "value_added_10k_cny", "intensity_tce_per_10k_cny", by, total_label,
                          "ecm.intensity")


def co2_intensity_t_per_10k_cny(frame: pd.DataFrame, *, by: Iterable[str] = ("enterprise",),
                                total_label: str | None = "_district") -> tuple[pd.DataFrame, list[Issue]]:
    """CO2 intensity Σ ``co2_t`` / Σ ``value_added_10k_cny`` (tCO2 per 10^4 CNY); as above."""
    return _ratio_of_sums(frame, "co2_t", "value_added_10k_cny", "co2_intensity_t_per_10k_cny", by, total_label,
                          "ecm.intensity.co2")


def deflate_value_added(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Issue]]:
    """Value added at 2022 comparable prices = current prices / deflator index (2022 = 1.0).

    Input: ``value_added_current_10k_cny`` (10^4 CNY, current prices), ``deflator_index`` (–).
    Output adds ``value_added_10k_cny``. NaN or non-positive deflator → NaN, blocking issue.
    """
    out = frame.copy()
    d = pd.to_numeric(out["deflator_index"], errors="coerce")
    bad = d.isna() | (d <= 0) | out["value_added_current_10k_cny"].isna()
    out["value_added_10k_cny"] = out["value_added_current_10k_cny"] / d.where(~bad)
    issues = []
    if bad.any():
        ev = out.loc[bad, [c for c in ("enterprise", "month") if c in out]].astype(str).to_dict("records")
        issues.append(Issue("ecm.intensity.deflator_invalid", f"{int(bad.sum())} row(s) without a usable deflator",
                            {"rows": ev[:20]}, blocking=True))
    return out, issues


def target_path_index(year, *, base_year: int = 2022, end_year: int = 2027, cumulative_reduction_frac: float = 0.13):
    """Geometric path index (base year = 1) for ``year`` (scalar or array); held flat outside [base, end]."""
    y = np.clip(np.asarray(year, dtype=float), base_year, end_year)
    idx = (1.0 - cumulative_reduction_frac) ** ((y - base_year) / (end_year - base_year))
    return float(idx) if np.ndim(idx) == 0 else idx


def path_annual_change_frac(*, base_year: int = 2022, end_year: int = 2027, cumulative_reduction_frac: float = 0.13) -> float:
    """Annual intensity change on the path (signed): 0.87 ** (1/5) − 1 = −0.02747."""
    return (1.0 - cumulative_reduction_frac) ** (1.0 / (end_year - base_year)) - 1.0


def intensity_change_frac(energy_growth_frac, value_added_growth_frac):
    """r = (1 + g_E) / (1 + g_VA) − 1 (scalars or arrays; fractions, not percent)."""
    return (1.0 + np.asarray(energy_growth_frac, dtype=float)) / (1.0 + np.asarray(value_added_growth_frac, dtype=float)) - 1.0


def ytd_change(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Issue]]:
    """Year-to-date intensity change against the same months of the previous year.

    Input: ``energy_tce``, ``energy_prev_year_tce``, ``value_added_10k_cny``,
    ``value_added_prev_year_10k_cny`` (comparable prices, same months). Output adds
    ``energy_growth_frac``, ``value_added_growth_frac``, ``ytd_change_frac``.
    NaN or non-positive previous-year values → NaN, blocking issue.
    """
    out = frame.copy()
    e0, v0 = out["energy_prev_year_tce"], out["value_added_prev_year_10k_cny"]
    bad = e0.isna() | v0.isna() | (e0 <= 0) | (v0 <= 0) | out["energy_tce"].isna() | out["value_added_10k_cny"].isna()
    out["energy_growth_frac"] = (out["energy_tce"] / e0.where(~bad) - 1.0)
    out["value_added_growth_frac"] = (out["value_added_10k_cny"] / v0.where(~bad) - 1.0)
    out["ytd_change_frac"] = intensity_change_frac(out["energy_growth_frac"], out["value_added_growth_frac"])
    issues = []
    if bad.any():
        ev = out.loc[bad, [c for c in ("enterprise",) if c in out]].astype(str).to_dict("records")
        issues.append(Issue("ecm.intensity.ytd_input_missing", f"{int(bad.sum())} row(s) without comparable prior-year data",
                            {"rows": ev[:20]}, blocking=True))
    return out, issues


def cumulative_index(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Issue]]:
    """``cumulative_index`` = ``intensity_tce_per_10k_cny`` / ``base_intensity_tce_per_10k_cny`` (I_t / I_2022).

    NaN or non-positive base → NaN, blocking issue.
    """
    out = frame.copy()
    base = out["base_intensity_tce_per_10k_cny"]
    bad = base.isna() | (base <= 0) | out["intensity_tce_per_10k_cny"].isna()
    out["cumulative_index"] = out["intensity_tce_per_10k_cny"] / base.where(~bad)
    issues = []
    if bad.any():
        ev = out.loc[bad, [c for c in ("enterprise",) if c in out]].astype(str).to_dict("records")
        issues.append(Issue("ecm.intensity.base_missing", f"{int(bad.sum())} row(s) without a base-year intensity",
                            {"rows": ev[:20]}, blocking=True))
    return out, issues


def chain_index(changes_frac) -> float:
    """Cumulative index from successive annual changes: Π (1 + r_y)."""
    return float(np.prod(1.0 + np.asarray(changes_frac, dtype=float)))


def required_annual_rate(index_now, year, *, base_year: int = 2022, end_year: int = 2027,
                         cumulative_reduction_frac: float = 0.13):
    """Annual change still needed to reach the end-year index: (0.87 / index) ** (1 / (end − year)) − 1.

    Signed: −0.03 means intensity must fall 3 % a year. NaN when no year remains or index is NaN/≤ 0.
    ``year`` is the last completed (or current) year the index refers to.
    """
    idx = np.asarray(index_now, dtype=float)
    remaining = end_year - np.asarray(year, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where((remaining > 0) & (idx > 0), ((1.0 - cumulative_reduction_frac) / idx) ** (1.0 / remaining) - 1.0,
                     np.nan)
    return float(r) if np.ndim(r) == 0 else r


def path_status(frame: pd.DataFrame, *, year: int, base_year: int = 2022, end_year: int = 2027,
                cumulative_reduction_frac: float = 0.13, yellow_tolerance_frac: float = 0.10) -> tuple[pd.DataFrame, list[Issue]]:
    """Green / yellow / red against the target path (one row per enterprise or group).

    Input: ``cumulative_index`` (I_t / I_base), ``ytd_change_frac`` (year-on-year intensity change),
    optional ``data_status`` (anything but ``ok`` → data_insufficient).
    Output adds ``path_index``, ``path_decline_frac``, ``actual_decline_frac``, ``shortfall_frac``
    (d_p − d_a; positive = behind), ``required_annual_rate_frac`` (signed, see
    :func:`required_annual_rate`), ``status`` (green | yellow | red | data_insufficient) and
    ``status_level`` (0, 1, 2, 3). NaN inputs → ``data_insufficient``.
    """
    kw = {"base_year": base_year, "end_year": end_year, "cumulative_reduction_frac": cumulative_reduction_frac}
    out = frame.copy()
    ci = pd.to_numeric(out["cumulative_index"], errors="coerce")
    r = pd.to_numeric(out["ytd_change_frac"], errors="coerce")
    out["path_index"] = target_path_index(year, **kw)
    d_p = 1.0 - out["path_index"]
    d_a = 1.0 - ci
    shortfall = d_p - d_a
    out["path_decline_frac"], out["actual_decline_frac"], out["shortfall_frac"] = d_p, d_a, shortfall
    out["required_annual_rate_frac"] = required_annual_rate(ci.to_numpy(), year, **kw)
    insufficient = ci.isna() | r.isna()
    if "data_status" in out:
        insufficient |= out["data_status"].fillna(Status.DATA_INSUFFICIENT.value).astype(str) != DataStatus.OK.value
    status = np.select(
        [insufficient, r > EPS, shortfall <= EPS, shortfall <= yellow_tolerance_frac * d_p + EPS],
        [Status.DATA_INSUFFICIENT.value, Status.RED.value, Status.GREEN.value, Status.YELLOW.value],
        default=Status.RED.value)
    out["status"] = status
    out["status_level"] = pd.Series(status, index=out.index).map(STATUS_LEVEL).astype(int)
    issues = []
    if insufficient.any():
        ev = out.loc[insufficient, [c for c in ("enterprise",) if c in out]].astype(str).to_dict("records")
        issues.append(Issue("ecm.intensity.status_data_insufficient",
                            f"{int(insufficient.sum())} row(s) lack the index or year-on-year change", {"rows": ev[:50]}))
    return out, issues

"""Monthly compliance frames: intensity against the target path, and line benchmark attainment.

Composes the pure rules of ``ytd`` (windows), ``comparable`` (同口径 spans, recovery of blocked
days, the district over one enterprise set with energy-weighted completeness), ``intensity`` (path
status), ``january`` (1–2月 rule, window label), ``decomposition`` (LMDI structure vs intensity),
``co2_target`` (CO2 index at a fixed grid vintage vs society-wide), ``signs`` (required-rate words,
action text) and ``benchmark`` (标杆/基准 classification on coverage over all days of the window,
capacity shares). Each function returns ``(frame, issues)``; docs/contracts.md §2.2 and §4.
"""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from ecm.accounting.benchmark import capacity_shares, classify_lines, line_window_coverage, overall_capacity_shares
from ecm.accounting.co2_target import co2_target
from ecm.accounting.comparable import (DISTRICT, comparable_spans, comparable_verdict, district_comparable,
                                       recover_blocked_days)
from ecm.accounting.decomposition import explain_mix, lmdi_intensity
from ecm.accounting.energy import consumption_to_tce, unit_product_energy
from ecm.accounting.issues import Issue
from ecm.accounting.january import january_rule
from ecm.accounting.signs import required_rate_display, status_action
from ecm.accounting.status import DATA_OK
from ecm.accounting.ytd import value_added_months, window_energy, window_value_added, ytd_spans
from ecm.schema import F_AMOUNT, Status

SUM_COLUMNS = ("energy_tce", "energy_tce_generation", "co2_t", "value_added_10k_cny", "value_added_current_10k_cny")


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    with np.errstate(divide="ignore", invalid="ignore"):
        return num / den.where(den > 0)


def blocked_stretches(kd: pd.DataFrame, *, spans: list[tuple[date, date]] | None = None) -> pd.DataFrame:
    """Runs of consecutive withheld days per enterprise (``kd``: ``enterprise``, ``day``,
    ``data_status``): ``enterprise``, ``first_day``, ``last_day`` — the stretches whose energy the
    counter registers around them may measure (:func:`ecm.accounting.comparable.counter_stretch_totals`).
    With ``spans`` (inclusive day ranges), only withheld days inside a span count, and a run never
    crosses a span's edge."""
    cols = ["enterprise", "first_day", "last_day"]
    b = kd[kd["data_status"].astype(str) != DATA_OK][["enterprise", "day"]].drop_duplicates()
    span_of = pd.Series(0, index=b.index)
    if spans is not None:
        span_of = pd.Series(-1, index=b.index)
        for i, (f, l) in enumerate(spans):
            span_of[(b["day"] >= f) & (b["day"] <= l) & (span_of < 0)] = i
        b, span_of = b[span_of >= 0], span_of[span_of >= 0]
    if b.empty:
        return pd.DataFrame(columns=cols)
    b = b.assign(span=span_of).sort_values(["enterprise", "day"]).reset_index(drop=True)
    ordinal = b["day"].map(date.toordinal)
    new_run = ((b["enterprise"] != b["enterprise"].shift()) | (b["span"] != b["span"].shift())
               | (ordinal - ordinal.shift() != 1))
    b["run"] = new_run.cumsum()
    g = b.groupby(["enterprise", "run"])["day"]
    return pd.DataFrame({"first_day": g.min(), "last_day": g.max()}).reset_index()[cols]


def counted_meter_factors(counters: pd.DataFrame, factors, day: date) -> pd.DataFrame:
    """The meters whose registers measure an enterprise's comprehensive energy (GB/T 2589-2020:
    ``role: main``, a carrier counted under the ``policy`` of config/factors.yaml, in service on
    ``day``), indexed by meter: ``enterprise``, ``kgce_per_unit`` (当量值) — the input of
    :func:`ecm.accounting.comparable.counter_stretch_totals`."""
    m = counters[(counters["role"] == "main") & (counters["carrier"] != "output")]
    if "decommissioned" in m:
        m = m[[d is None or pd.isna(d) or d > day for d in m["decommissioned"]]]
    if m.empty:
        return pd.DataFrame(columns=["enterprise", "kgce_per_unit"])
    conv, _ = consumption_to_tce(m[["enterprise", "carrier"]].assign(**{F_AMOUNT: 1.0}), factors, year=day.year)
    conv = conv[conv["included"]]
    return pd.DataFrame({"enterprise": conv["enterprise"], "kgce_per_unit": conv["factor_kgce_per_unit"]},
                        index=conv.index)


def fill_estimated_ratios(daily: pd.DataFrame, columns=("energy_tce_generation", "co2_t")) -> pd.DataFrame:
    """Estimated days carry ``energy_tce`` from the counter totals only; the other additive columns
    (等价值 tce, CO2) follow the enterprise's own ratio to ``energy_tce`` over its measured days of
    the frame (a project rule: the counters measure the stretch's energy, not its carrier mix)."""
    d = daily.copy()
    meas = d[d["day_status"] == "measured"]
    for c in columns:
        if c not in d:
            continue
        g = meas.groupby("enterprise")
        ratio = g[c].sum(min_count=1) / g["energy_tce"].sum(min_count=1).where(lambda s: s > 0)
        est = d["day_status"] == "estimated"
        if est.any():
            d.loc[est, c] = (d.loc[est, "energy_tce"] * d.loc[est, "enterprise"].map(ratio)).astype(float)
    return d


def co2_span_parts(energy: pd.DataFrame, daily: pd.DataFrame, spans: dict, enterprises: list[str]) -> pd.DataFrame:
    """Per enterprise and span ``s``: ``grid_electricity_kwh_<s>`` (purchased electricity, kWh) and
    ``co2_non_grid_t_<s>`` (other carriers' CO2), the inputs of
    :func:`ecm.accounting.co2_target.co2_target`.

    ``energy``: energy_daily rows (``enterprise``, ``day``, ``carrier``, ``energy_kwh``, ``co2_t``)
    of published days; ``daily``: :func:`ecm.accounting.comparable.recover_blocked_days` output.
    Measured days are summed; a span with estimated days is scaled by (covered energy ÷ measured
    energy) of that span, the same ratio rule as :func:`fill_estimated_ratios`."""
    idx = pd.Index(enterprises, name="enterprise")
    out = pd.DataFrame(index=idx)
    for s, (first, last) in spans.items():
        e = energy[(energy["day"] >= first) & (energy["day"] <= last)] if len(energy) else energy
        if len(e):
            grid = e["carrier"] == "electricity"
            kwh = pd.to_numeric(e.loc[grid, "energy_kwh"], errors="coerce").groupby(e.loc[grid, "enterprise"]).sum()
            non = pd.to_numeric(e.loc[~grid, "co2_t"], errors="coerce").groupby(e.loc[~grid, "enterprise"]).sum()
        else:
            kwh = non = pd.Series(dtype=float)
        w = daily[(daily["day"] >= first) & (daily["day"] <= last)]
        cov = w[w["day_status"].isin(["measured", "estimated"])].groupby("enterprise")["energy_tce"].sum()
        mea = w[w["day_status"] == "measured"].groupby("enterprise")["energy_tce"].sum()
        scale = (cov / mea.where(mea > 0)).reindex(idx).fillna(1.0)
        out[f"grid_electricity_kwh_{s}"] = kwh.reindex(idx).fillna(0.0) * scale
        out[f"co2_non_grid_t_{s}"] = non.reindex(idx).fillna(0.0) * scale
    return out.reset_index()


def _span_value_added(stats: pd.DataFrame, spans: dict, idx: pd.Index) -> pd.DataFrame:
    parts = []
    for s, (first, last) in spans.items():
        va = window_value_added(stats, first, last).reindex(idx)
        va = va.rename(columns={"n_missing": "n_months_missing"}).reset_index()
        parts.append(va.assign(span=s))
    return pd.concat(parts, ignore_index=True)


#: kpi_monthly columns that are words, not figures
TEXT_COLUMNS = {"enterprise", "data_status", "status", "insufficient_spans", "ytd_through", "ytd_window_zh",
                "ytd_window_en", "status_note_zh", "status_note_en", "required_rate_kind", "required_rate_colour",
                "required_rate_text_zh", "required_rate_text_en", "red_reason", "action_zh", "action_en",
                "mix_explanation_zh", "mix_explanation_en", "energy_co2_status", "co2_status", "co2_basis",
                "co2_label_zh", "co2_label_en", "co2_reference_source", "factor_table_version", "estimated", "rated"}
LMDI_FIELDS = ("total_ratio", "structure_effect", "structure_industry_effect", "structure_within_industry_effect",
               "intensity_effect", "fixed_weight_index")


def intensity_frame(kd: pd.DataFrame, stats: pd.DataFrame, enterprise_ids: list[str], day: date, factors, *,
                    ytd_end: date | None = None, counter_totals: pd.DataFrame | None = None,
                    industries: dict[str, str] | None = None, energy: pd.DataFrame | None = None
                    ) -> tuple[pd.DataFrame, list[Issue]]:
    """Per enterprise plus ``_district``: month-to-date figures of ``day``'s month, and the YTD
    verdict through ``ytd_end`` (default ``day``) over comparable periods.

    Inputs: ``kd`` kpi_daily rows (``enterprise``, ``day``, ``energy_tce``,
    ``energy_tce_generation``, ``co2_t``, ``data_status``) from 1 January of the base year;
    ``stats`` enterprise_monthly rows deflated (``enterprise``, ``month``, ``value_added_10k_cny``,
    ``value_added_current_10k_cny``); ``counter_totals`` (:func:`comparable.counter_stretch_totals`
    of :func:`blocked_stretches`); ``industries`` enterprise → industry (LMDI); ``energy``
    energy_daily rows (``enterprise``, ``day``, ``carrier``, ``energy_kwh``, ``co2_t``) for the CO2
    target. Rules, in order: blocked days recovered from counter totals (``comparable``), span
    coverage of cur/prev/base under one rule and the district over one enterprise set with
    energy-weighted completeness (``comparable``), path status (``intensity``), January rule and
    window label (``january``), LMDI effects vs base and prior year on the district row
    (``decomposition``), CO2 index and status (``co2_target``), required-rate words and action text
    (``signs``). Issues are stored against the month.
    """
    t, cov = factors.targets, factors.coverage
    end = ytd_end or day
    spans = ytd_spans(day, end, t.base_year)
    comp_spans = {k: spans[k] for k in ("cur", "prev", "base")}
    idx = pd.Index(enterprise_ids, name="enterprise")
    issues: list[Issue] = []
    # -- month to date (shown beside the verdict)
    m = window_energy(kd, *spans["month"]).reindex(idx).join(window_value_added(stats, *spans["month"]).reindex(idx))
    # a month still in progress has no value added yet: its intensity is not computed
    m["value_added_10k_cny"] = m["value_added_10k_cny"].where(m["n_missing"].fillna(1) == 0)
    # -- comparable spans (同口径)
    ct = counter_totals if counter_totals is not None else pd.DataFrame(
        columns=["enterprise", "first_day", "last_day", "energy_tce"])
    cols = ["energy_tce", "energy_tce_generation", "co2_t"]
    daily, iss = recover_blocked_days(kd[["enterprise", "day", "data_status", *cols]], ct, columns=("energy_tce",))
    issues += iss
    daily = fill_estimated_ratios(daily)
    va = _span_value_added(stats, comp_spans, idx)
    comp, iss = comparable_spans(daily, va, comp_spans, enterprise_ids, cov, columns=cols)
    issues += iss
    en = energy if energy is not None else pd.DataFrame(columns=["enterprise", "day", "carrier", "energy_kwh", "co2_t"])
    comp = comp.merge(co2_span_parts(en, daily, comp_spans, enterprise_ids), on="enterprise", how="left")
    for s in comp_spans:
        comp[f"value_added_current_10k_cny_{s}"] = va[va["span"] == s].set_index("enterprise").reindex(
            comp["enterprise"])["value_added_current_10k_cny"].to_numpy()
    dist, iss = district_comparable(comp, min_energy_frac=cov.district_min_energy_frac.value)
    issues += iss
    frame = pd.concat([comp.assign(completeness_frac=comp["covered_frac_cur"]), dist], ignore_index=True)
    frame["estimated"] = frame["estimated"].astype(bool)
    df, iss = comparable_verdict(frame, year=end.year, targets=t)
    issues += iss
    df, iss = january_rule(df.assign(ytd_through=end.isoformat()))
    issues += iss
    df, _ = required_rate_display(df, t)
    df, _ = status_action(df, t)
    df, iss = co2_target(df, factors, year=end.year)
    issues += iss
    # -- published names
    df = df.set_index("enterprise")
    for col in SUM_COLUMNS:
        src = m[col] if col in m else pd.Series(np.nan, index=idx)
        df[col] = src.reindex(df.index)
    df.loc[DISTRICT, list(SUM_COLUMNS)] = [m.loc[m.index.isin(comp.loc[comp["data_status"] == DATA_OK, "enterprise"]),
                                            c].sum(min_count=1) for c in SUM_COLUMNS]
    df["ytd_energy_tce"] = df["energy_tce_cur"]
    df["ytd_energy_tce_generation"] = df["energy_tce_generation_cur"]
    df["ytd_co2_t"] = df["co2_t_cur"]
    df["ytd_value_added_10k_cny"] = df["value_added_10k_cny_cur"]
    df["ytd_value_added_current_10k_cny"] = df["value_added_current_10k_cny_cur"]
    df["energy_prev_year_tce"], df["value_added_prev_year_10k_cny"] = df["energy_tce_prev"], df["value_added_10k_cny_prev"]
    df["energy_base_tce"], df["value_added_base_10k_cny"] = df["energy_tce_base"], df["value_added_10k_cny_base"]
    df["intensity_tce_per_10k_cny"] = _ratio(df["energy_tce"], df["value_added_10k_cny"])
    df["co2_intensity_t_per_10k_cny"] = _ratio(df["ytd_co2_t"], df["ytd_value_added_10k_cny"])
    df = df.reset_index()
    # -- structure vs efficiency on the district row (members of the comparable set only)
    members = comp[comp["data_status"] == DATA_OK].assign(
        industry=lambda x: x["enterprise"].map(industries or {}).fillna("other"))
    is_d = df["enterprise"] == DISTRICT
    for p0, tag in (("base", "vs_base"), ("prev", "vs_prev")):
        eff, iss = lmdi_intensity(members, period0=p0) if len(members) else (None, [])
        issues += iss
        for f in LMDI_FIELDS:
            df[f"{f}_{tag}"] = np.nan
            if eff is not None and len(eff):
                df.loc[is_d, f"{f}_{tag}"] = eff[f].iloc[0]
    d = df[is_d].iloc[0]
    firms = df[~is_d]
    zh = explain_mix(status=d["status"], cumulative_index=d["cumulative_index"], path_index=d["path_index"],
                     structure_effect=d["structure_effect_vs_base"], intensity_effect=d["intensity_effect_vs_base"],
                     fixed_weight_index=d["fixed_weight_index_vs_base"], n_red=int((firms["status"] == Status.RED.value).sum()),
                     n_enterprises=len(firms), lang="zh")
    en_ = explain_mix(status=d["status"], cumulative_index=d["cumulative_index"], path_index=d["path_index"],
                      structure_effect=d["structure_effect_vs_base"], intensity_effect=d["intensity_effect_vs_base"],
                      fixed_weight_index=d["fixed_weight_index_vs_base"], n_red=int((firms["status"] == Status.RED.value).sum()),
                      n_enterprises=len(firms), lang="en")
    # the figures the district verdict rests on: a later run recomputes the month when this grows
    df["n_value_added_months"] = np.where(is_d, float(value_added_months(stats, comp_spans)), np.nan)
    df["mix_explanation_zh"] = np.where(is_d, zh, "")
    df["mix_explanation_en"] = np.where(is_d, en_, "")
    df["ytd_through"] = end.isoformat()
    # every figure is a float (the district row is assembled from mixed rows: object columns would be
    # written to InfluxDB as strings and conflict with the field's type)
    for c in df.columns:
        if c not in TEXT_COLUMNS and df[c].dtype == object:
            df[c] = pd.to_numeric(df[c], errors="coerce")
    return df, issues


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
    # the 12-month classification needs coverage over ALL days of the window (missing day = 0)
    cov, _ = line_window_coverage(ld, day - timedelta(days=364), day)
    cls, i2 = classify_lines(r12, lines, factors, coverage=cov)
    shares, i3 = capacity_shares(cls, lines)
    overall = overall_capacity_shares(cls, factors)
    is_all = shares["industry"] == "all"
    is_stand_in = shares["industry"] == "all_gb_stand_in"
    for k in ("benchmark_capacity_share_frac", "baseline_capacity_share_frac"):
        shares.loc[is_all, k] = overall[k]
        shares.loc[is_stand_in, k] = overall[f"stand_in_{k}"]
    ue_cols = [c for c in cls.columns if c.startswith("unit_energy_")]
    bm = cls.rename(columns={c: c.replace("unit_energy_", "unit_energy_12m_") for c in ue_cols})
    ytd_ue = ytd.set_index("line")[[c for c in ytd.columns if c.startswith("unit_energy_")]]
    for c in ytd_ue.columns:
        bm[c.replace("unit_energy_", "unit_energy_ytd_")] = bm["line"].map(ytd_ue[c])
    bm["completeness_frac"] = bm["line"].map(cov.set_index("line")["completeness_frac"]).fillna(0.0)
    return bm, shares, i1 + i2 + i3


__all__ = ["DISTRICT", "blocked_stretches", "counted_meter_factors", "co2_span_parts", "fill_estimated_ratios", "intensity_frame",
           "line_unit_energy", "benchmark_frames"]

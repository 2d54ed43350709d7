"""Comparable periods (同口径): coverage of the current, prior-year and base-year spans, recovery of
blocked stretches from counter totals, and the district over one enterprise set.

Rules (issue #12 §1; docs/contracts.md "Compliance verdict rules"; thresholds in
``config/factors.yaml`` ``coverage``):

* **Day status.** Each enterprise-day is ``measured`` (data_status ok), ``estimated`` (blocked, but
  inside a stretch whose total the counter registers around it measure: the total is shared
  linearly in time over the stretch's days, as :mod:`ecm.accounting.gaps` does for hours) or
  ``missing``.
* **Span coverage** (the same rule for the current YTD span, the prior-year span and the base-year
  span): ``covered_frac`` = (measured + estimated days) ÷ ALL days of the span;
  ``estimated_frac`` = estimated days ÷ all days. A span is usable when covered_frac ≥
  ``period_min_covered_frac`` (1.0: a 1–N月 total is a sum over every day; a hole cannot be filled
  by a rate) and estimated_frac ≤ ``period_max_estimated_frac`` (0.10, mirroring the online
  monitoring ≥ 90 % completeness rule), and every month of the span has value added. Otherwise the
  enterprise is ``data_insufficient`` — never a colour, whichever span failed.
* **District 同口径.** District figures are ratios of sums over ONE enterprise set: the enterprises
  whose three spans are all usable. ``completeness_frac`` is the covered share of ENERGY: Σ current
  energy of the set ÷ Σ current energy of all registry enterprises, where an enterprise outside the
  set is weighted by its measured current energy scaled to the whole span (÷ its covered_frac), else
  its prior-year span, else its base-year span (each scaled the same way). Below
  ``district_min_energy_frac`` the district is ``data_insufficient``.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from ecm.accounting.intensity import cumulative_index, path_status, ytd_change
from ecm.accounting.issues import Issue
from ecm.schema import DATA_INSUFFICIENT

DAY_STATUSES = ("measured", "estimated", "missing")
SPAN_STATUSES = ("ok", "estimated", DATA_INSUFFICIENT)
SPANS = ("cur", "prev", "base")
DISTRICT = "_district"
EPS = 1e-9


def _as_date(x) -> date:
    return pd.Timestamp(x).date()


def recover_blocked_days(daily: pd.DataFrame, counter_totals: pd.DataFrame, *,
                         columns: Iterable[str] = ("energy_tce",)) -> tuple[pd.DataFrame, list[Issue]]:
    """Fill blocked days inside a counter-spanned stretch from the counter totals around it.

    Inputs
    ------
    daily : one row per enterprise-day: ``enterprise``, ``day`` (datetime.date, Beijing),
        ``data_status`` (``ok`` or anything else = blocked), and the additive ``columns``
        (``energy_tce``, optionally ``energy_tce_generation``, ``co2_t`` ...).
    counter_totals : one row per blocked stretch: ``enterprise``, ``first_day``, ``last_day``
        (inclusive Beijing dates), and per column the stretch total measured from the registers of
        the enterprise's main meters at the last good reading before and the first good reading
        after the stretch (NaN when the counters do not span it: no reading on one side, a reset
        inside). Built by the pipeline with counters_to_deltas over those boundary readings.

    Output
    ------
    ``daily`` with a row for every day of every stretch, plus ``day_status`` (measured | estimated
    | missing) and ``estimated`` (bool). Estimated days get total × 1/n_days of the stretch (linear
    in time; Beijing days have equal length). Blocked days outside a spanned stretch are
    ``missing`` with NaN columns. Issues: ``ecm.comparable.blocked_days_estimated`` (non-blocking),
    ``ecm.comparable.blocked_days_unrecoverable`` (blocking: those days leave their spans short).
    """
    columns = list(columns)
    issues: list[Issue] = []
    d = daily.copy()
    d["day"] = d["day"].map(_as_date)
    ok = d["data_status"].astype(str) == "ok"
    d["day_status"] = np.where(ok, "measured", "missing")
    d.loc[~ok, columns] = np.nan
    est_rows = []
    for st in counter_totals.itertuples(index=False):
        f, l = _as_date(st.first_day), _as_date(st.last_day)
        n = (l - f).days + 1
        totals = {c: getattr(st, c) for c in columns}
        if n <= 0 or any(pd.isna(v) for v in totals.values()):
            continue
        for k in range(n):
            est_rows.append({"enterprise": st.enterprise, "day": f + timedelta(days=k),
                             **{c: v / n for c, v in totals.items()}})
    if est_rows:
        est = pd.DataFrame(est_rows)
        key = ["enterprise", "day"]
        measured_keys = pd.MultiIndex.from_frame(d.loc[d["day_status"] == "measured", key])
        est = est[~pd.MultiIndex.from_frame(est[key]).isin(measured_keys)]   # never overwrite a measured day
        d = d[~pd.MultiIndex.from_frame(d[key]).isin(pd.MultiIndex.from_frame(est[key]))]
        est = est.assign(data_status="estimated", day_status="estimated")
        d = pd.concat([d, est], ignore_index=True)
        for ent, g in est.groupby("enterprise", sort=True):
            issues.append(Issue("ecm.comparable.blocked_days_estimated",
                                f"{ent}: {len(g)} blocked day(s) recovered from counter totals (estimated)",
                                {"enterprise": ent, "first_day": str(g["day"].min()), "last_day": str(g["day"].max()),
                                 "n_days": len(g)}))
    d["estimated"] = d["day_status"] == "estimated"
    miss = d[d["day_status"] == "missing"]
    for ent, g in miss.groupby("enterprise", sort=True):
        issues.append(Issue("ecm.comparable.blocked_days_unrecoverable",
                            f"{ent}: {len(g)} blocked day(s) not spanned by counter totals",
                            {"enterprise": ent, "days": [str(x) for x in sorted(g["day"])[:20]]}, blocking=True))
    return d.sort_values(["enterprise", "day"], kind="stable").reset_index(drop=True), issues


def counter_stretch_totals(meter_days: pd.DataFrame, meter_factors: pd.DataFrame,
                           stretches: pd.DataFrame) -> tuple[pd.DataFrame, list[Issue]]:
    """Energy of each blocked stretch from the counter registers around it (input of
    :func:`recover_blocked_days`).

    Inputs
    ------
    meter_days : per meter and Beijing day, from ``counters_to_deltas`` over the readings that
        bracket the stretch → :func:`ecm.accounting.gaps.apportion_gaps` (``"1D"``) →
        ``deltas_to_periods(…, "1D", window=…)``: ``enterprise``, ``meter``, ``period_start``
        (tz-aware, Beijing midnight), ``delta`` (physical unit), ``completeness_frac``.
    meter_factors : indexed by meter: ``enterprise``, ``kgce_per_unit`` (the counted main meters
        only, 当量值 coefficient of the meter's carrier; leave other meters out).
    stretches : ``enterprise``, ``first_day``, ``last_day`` (inclusive Beijing dates).

    Output: ``stretches`` plus ``energy_tce`` = Σ meters Σ days delta × kgce / 1000 when EVERY
    counted meter of the enterprise is fully covered (completeness 1, after apportionment: a gap
    spanned by two good readings counts as covered) on every day of the stretch; NaN otherwise (a
    reset inside, no reading after the stretch, a meter without data) — "not spanned".
    """
    md = meter_days.copy()
    md["day"] = md["period_start"].dt.tz_convert("Asia/Shanghai").dt.date
    rows = []
    for st in stretches.itertuples(index=False):
        f, l = _as_date(st.first_day), _as_date(st.last_day)
        days = [f + timedelta(days=k) for k in range((l - f).days + 1)]
        mets = meter_factors[meter_factors["enterprise"] == st.enterprise]
        w = md[(md["meter"].isin(mets.index)) & (md["day"] >= f) & (md["day"] <= l)]
        full = len(mets) > 0 and len(w) == len(mets) * len(days) and bool(
            (pd.to_numeric(w["completeness_frac"], errors="coerce") >= 1.0 - EPS).all()) and w["delta"].notna().all()
        tce = float((w["delta"] * w["meter"].map(mets["kgce_per_unit"])).sum() / 1000.0) if full else float("nan")
        rows.append({"enterprise": st.enterprise, "first_day": f, "last_day": l, "energy_tce": tce})
    return pd.DataFrame(rows, columns=["enterprise", "first_day", "last_day", "energy_tce"]), []


def span_coverage(daily: pd.DataFrame, first, last, enterprises: Iterable[str], *,
                  min_covered_frac: float, max_estimated_frac: float,
                  columns: Iterable[str] = ("energy_tce",)) -> tuple[pd.DataFrame, list[Issue]]:
    """Coverage and sums of one span ``[first, last]`` (inclusive Beijing dates) per enterprise.

    Input ``daily``: ``enterprise``, ``day``, ``day_status`` (from :func:`recover_blocked_days`;
    if absent, ``data_status`` ok → measured, else missing) and the additive ``columns``.
    Every enterprise of ``enterprises`` gets a row; days without a row count as missing.

    Output: ``enterprise``, ``n_days``, ``n_measured``, ``n_estimated``, ``n_missing``,
    ``covered_frac`` = (measured + estimated) ÷ n_days, ``estimated_frac`` = estimated ÷ n_days,
    the column sums over covered days, and ``span_status``: ``data_insufficient`` when
    covered_frac < ``min_covered_frac`` or estimated_frac > ``max_estimated_frac``, else
    ``estimated`` when any day is estimated, else ``ok``.
    """
    columns = list(columns)
    first, last = _as_date(first), _as_date(last)
    n_days = (last - first).days + 1
    d = daily.copy()
    d["day"] = d["day"].map(_as_date)
    if "day_status" not in d:
        d["day_status"] = np.where(d["data_status"].astype(str) == "ok", "measured", "missing")
    d = d[(d["day"] >= first) & (d["day"] <= last)].drop_duplicates(["enterprise", "day"], keep="last")
    idx = pd.Index(list(enterprises), name="enterprise")
    out = pd.DataFrame(index=idx)
    for s in ("measured", "estimated"):
        out[f"n_{s}"] = (d["day_status"] == s).groupby(d["enterprise"]).sum().reindex(idx).fillna(0).astype(int)
    covered = d[d["day_status"].isin(["measured", "estimated"])]
    for c in columns:
        out[c] = covered.groupby("enterprise")[c].sum(min_count=1).reindex(idx)
    out["n_days"] = n_days
    out["n_missing"] = n_days - out["n_measured"] - out["n_estimated"]
    out["covered_frac"] = (out["n_measured"] + out["n_estimated"]) / n_days
    out["estimated_frac"] = out["n_estimated"] / n_days
    bad = (out["covered_frac"] < min_covered_frac - EPS) | (out["estimated_frac"] > max_estimated_frac + EPS)
    out["span_status"] = np.where(bad, DATA_INSUFFICIENT, np.where(out["n_estimated"] > 0, "estimated", "ok"))
    cols = ["n_days", "n_measured", "n_estimated", "n_missing", "covered_frac", "estimated_frac", *columns,
            "span_status"]
    return out.reset_index()[["enterprise", *cols]], []


def comparable_spans(daily: pd.DataFrame, value_added: pd.DataFrame, spans: Mapping[str, tuple],
                     enterprises: Iterable[str], coverage, *,
                     columns: Iterable[str] = ("energy_tce",)) -> tuple[pd.DataFrame, list[Issue]]:
    """One wide row per enterprise with every compared span checked under the same rule.

    Inputs
    ------
    daily : as :func:`span_coverage` (after :func:`recover_blocked_days`).
    value_added : one row per enterprise and span: ``enterprise``, ``span`` (a key of ``spans``),
        ``value_added_10k_cny`` (2022 comparable prices, pro-rated to the span), ``n_months_missing``
        (months of the span without a usable figure).
    spans : ``{"cur": (first, last), "prev": (...), "base": (...)}`` inclusive Beijing dates (the
        same calendar dates one year and ``year − base_year`` years earlier).
    coverage : ``FactorTable.coverage`` (``period_min_covered_frac``, ``period_max_estimated_frac``).

    Output per enterprise: for each span s, ``<col>_<s>`` for every column, ``value_added_10k_cny_<s>``,
    ``covered_frac_<s>``, ``estimated_frac_<s>``, ``span_status_<s>`` (a span lacking value added
    for a month is data_insufficient); then ``estimated`` (bool, any span estimated),
    ``data_status`` (``ok`` when every span is usable, else ``data_insufficient``) and
    ``insufficient_spans`` (comma-joined span names that failed, "" when none).
    Issue ``ecm.comparable.span_insufficient`` (blocking) per failing enterprise.
    """
    columns = list(columns)
    ents = list(enterprises)
    out = pd.DataFrame({"enterprise": ents})
    failed = pd.Series("", index=out.index)
    est = pd.Series(False, index=out.index)
    for s, (first, last) in spans.items():
        cov, _ = span_coverage(daily, first, last, ents, min_covered_frac=coverage.period_min_covered_frac.value,
                               max_estimated_frac=coverage.period_max_estimated_frac.value, columns=columns)
        cov = cov.set_index("enterprise").reindex(ents)
        va = value_added[value_added["span"] == s].set_index("enterprise").reindex(ents)
        va_ok = (va["n_months_missing"].fillna(1) == 0) & va["value_added_10k_cny"].notna()
        status = np.where(~va_ok.to_numpy(), DATA_INSUFFICIENT, cov["span_status"].to_numpy())
        for c in columns:
            out[f"{c}_{s}"] = cov[c].to_numpy()
        out[f"value_added_10k_cny_{s}"] = va["value_added_10k_cny"].to_numpy()
        out[f"covered_frac_{s}"] = cov["covered_frac"].to_numpy()
        out[f"estimated_frac_{s}"] = cov["estimated_frac"].to_numpy()
        out[f"span_status_{s}"] = status
        bad = status == DATA_INSUFFICIENT
        failed = failed.where(~bad, failed + np.where(failed == "", "", ",") + s)
        est |= status == "estimated"
    out["estimated"] = est.to_numpy()
    out["data_status"] = np.where(failed == "", "ok", DATA_INSUFFICIENT)
    out["insufficient_spans"] = failed.to_numpy()
    issues = [Issue("ecm.comparable.span_insufficient",
                    f"{r.enterprise}: span(s) {r.insufficient_spans} below the coverage rule; data_insufficient",
                    {"enterprise": r.enterprise, "spans": r.insufficient_spans.split(",")}, blocking=True)
              for r in out.itertuples() if r.insufficient_spans]
    return out, issues


def _weight(row: pd.Series, col: str) -> float:
    """Energy weight of one enterprise in the current span: measured energy scaled to the whole span
    (÷ covered share), falling back to the prior-year, then the base-year span."""
    for s in SPANS:
        e, c = row.get(f"{col}_{s}"), row.get(f"covered_frac_{s}")
        if pd.notna(e) and pd.notna(c) and c > 0:
            return float(e) / float(c)
    return float("nan")


def district_comparable(comparable: pd.DataFrame, *, min_energy_frac: float, col: str = "energy_tce",
                        label: str = DISTRICT) -> tuple[pd.DataFrame, list[Issue]]:
    """District sums over ONE enterprise set (同口径) and its energy-weighted completeness.

    Input: :func:`comparable_spans` output (``enterprise``, ``<col>_<s>``, ``value_added_10k_cny_<s>``,
    ``covered_frac_<s>``, ``data_status``, ``estimated``; other additive ``*_<s>`` columns are summed
    too). The set = enterprises with ``data_status`` ok; the same set in every span.

    Output: one row, ``enterprise`` = ``label``: every ``*_<s>`` sum over the set, ``n_members``,
    ``n_enterprises``, ``completeness_frac`` (covered share of current energy, see module doc),
    ``enterprise_share_frac`` (members ÷ enterprises, for reference only), ``estimated`` (any
    member estimated), ``data_status`` (``ok`` | ``data_insufficient``), and the per-enterprise
    ``weight_<col>`` used is returned in the issue evidence. Issues:
    ``ecm.comparable.district_coverage_low`` (blocking) below ``min_energy_frac``;
    ``ecm.comparable.weight_unknown`` (blocking) when an enterprise has no energy in any span.
    """
    issues: list[Issue] = []
    members = comparable["data_status"] == "ok"
    sum_cols = [c for c in comparable.columns
                if any(c.endswith(f"_{s}") for s in SPANS)
                and not c.startswith(("covered_frac_", "estimated_frac_", "span_status_"))]
    row: dict = {"enterprise": label}
    for c in sum_cols:
        row[c] = comparable.loc[members, c].sum(min_count=1) if members.any() else np.nan
    weights = comparable.apply(_weight, axis=1, col=col)
    unknown = weights.isna()
    if unknown.any():
        issues.append(Issue("ecm.comparable.weight_unknown",
                            f"{int(unknown.sum())} enterprise(s) without energy in any span: district coverage unknown",
                            {"enterprises": comparable.loc[unknown, "enterprise"].tolist()}, blocking=True))
    total = weights.sum()
    covered = comparable.loc[members, f"{col}_cur"].sum()
    comp = float(covered / total) if total > 0 and not unknown.any() else float("nan")
    row.update(n_members=int(members.sum()), n_enterprises=len(comparable), completeness_frac=comp,
               enterprise_share_frac=members.sum() / max(len(comparable), 1),
               estimated=bool(comparable.loc[members, "estimated"].any()))
    ok = np.isfinite(comp) and comp >= min_energy_frac - EPS and members.any()
    row["data_status"] = "ok" if ok else DATA_INSUFFICIENT
    if not ok:
        issues.append(Issue("ecm.comparable.district_coverage_low",
                            f"district set covers {comp:.0%} of current energy (< {min_energy_frac:.0%}): data_insufficient"
                            if np.isfinite(comp) else "district energy coverage unknown: data_insufficient",
                            {"completeness_frac": comp, "min_energy_frac": min_energy_frac,
                             "excluded": comparable.loc[~members, "enterprise"].tolist(),
                             "weights": {e: float(w) for e, w in zip(comparable["enterprise"], weights)}},
                            blocking=True))
    return pd.DataFrame([row]), issues


def comparable_verdict(frame: pd.DataFrame, *, year: int, targets) -> tuple[pd.DataFrame, list[Issue]]:
    """Year-on-year change, cumulative index and path status from comparable spans.

    Input: rows of :func:`comparable_spans` and/or :func:`district_comparable` (``energy_tce_<s>``,
    ``value_added_10k_cny_<s>`` for s in cur/prev/base, ``data_status``, ``estimated``);
    ``targets`` = ``FactorTable.targets``. Output adds ``ytd_intensity_tce_per_10k_cny``,
    ``base_intensity_tce_per_10k_cny``, ``ytd_change_frac``, ``cumulative_index`` and the
    :func:`ecm.accounting.intensity.path_status` columns (``status`` …). A row whose data_status is
    not ok is ``data_insufficient`` — never a colour.
    """
    w = frame.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        w["energy_tce"], w["value_added_10k_cny"] = w["energy_tce_cur"], w["value_added_10k_cny_cur"]
        w["energy_prev_year_tce"], w["value_added_prev_year_10k_cny"] = w["energy_tce_prev"], w["value_added_10k_cny_prev"]
        w["intensity_tce_per_10k_cny"] = w["energy_tce_cur"] / w["value_added_10k_cny_cur"]
        w["base_intensity_tce_per_10k_cny"] = w["energy_tce_base"] / w["value_added_10k_cny_base"]
    issues: list[Issue] = []
    w, i1 = ytd_change(w)
    w, i2 = cumulative_index(w)
    w, i3 = path_status(w, year=year, **targets.path_kwargs(), yellow_tolerance_frac=targets.yellow_tolerance_frac)
    issues += [*i1, *i2, *i3]
    w = w.rename(columns={"intensity_tce_per_10k_cny": "ytd_intensity_tce_per_10k_cny"})
    return w.drop(columns=["energy_tce", "value_added_10k_cny", "energy_prev_year_tce",
                           "value_added_prev_year_10k_cny"]), issues

"""Production lines against the 标杆 (benchmark) / 基准 (baseline) levels, and capacity shares.

Levels come from the NDRC efficiency-level table (2021 edition values, 发改产业〔2021〕1609号,
assumed carried into the 2023 edition) where it has a row for the product class.

* **Effective 基准** = the stricter (lower) of the NDRC 基准 and the GB mandatory limit (grade 3 of
  GB 21252-2023 / GB 16780-2021 / GB 30526-2019 is 强制性): a tile line at 6.6 kgce/m² in the
  0.2–0.5 % class is above GB 21252-2023's 6.5 and so ``worse_than_baseline`` although the NDRC 基准
  is 7.0. ``baseline_basis`` says which figure applied (ndrc | gb_limit_stricter | gb_stand_in).
* **Stand-ins** for classes without an NDRC row but with a national energy-limit standard (cement
  grinding GB 16780-2021, sintered bricks GB 30526-2019): GB grade 1 stands in for 标杆 and grade 3
  for 基准; ``benchmark_basis`` = ``gb_grades_stand_in`` and such lines are reported apart from the
  headline capacity shares. Classes with neither (daily-use ceramics) are ``no_benchmark``.
* **Coverage** of the 12-month classification (:func:`line_window_coverage`): Σ daily completeness ÷
  ALL days of the window (a missing day counts 0); below ``coverage.classification_min_frac``
  (0.90, the online-monitoring ≥ 90 % completeness rule) the line is ``data_insufficient``.

Boundaries (lower energy is better): unit energy == 标杆 counts as at-or-better-than-benchmark;
== 基准 counts as meeting the baseline (``between``); only > 基准 is ``worse_than_baseline``. The
same "equal meets the level" rule gives the GB grade. Comparisons allow a relative 1e-9 for
floating-point rounding of computed unit energies.

Capacity shares (1464号 practice): design capacity of lines at-or-better than a level ÷ total
built capacity of lines that have a level, per industry; a ratio of capacity sums, never a mean.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ecm.accounting.issues import Issue
from ecm.factors import UNITS, FactorTable
from ecm.schema import Classification

REL_TOL = 1e-9
CLASS_LEVEL = {c.value: c.level for c in Classification}
_AT, _BETWEEN, _WORSE = (Classification.AT_OR_BETTER_THAN_BENCHMARK.value, Classification.BETWEEN.value,
                         Classification.WORSE_THAN_BASELINE.value)
_NONE, _NA = Classification.NO_BENCHMARK.value, Classification.DATA_INSUFFICIENT.value


def _lines(lines: pd.DataFrame) -> pd.DataFrame:
    return lines.reset_index(drop=True) if "line" in lines.columns else lines.rename_axis("line").reset_index()


def _le(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return a <= b * (1 + REL_TOL)


def line_window_coverage(line_daily: pd.DataFrame, first, last) -> tuple[pd.DataFrame, list[Issue]]:
    """Coverage of each line over the Beijing days ``[first, last]`` (dates, inclusive).

    Input ``line_daily``: ``line``, ``day`` (datetime.date, Beijing), ``completeness_frac`` (that
    day's measured share, [0, 1]); other columns ignored; rows outside the window ignored.
    Output per line present in the input: ``line``, ``n_days_window``, ``n_days_present``,
    ``completeness_frac`` = Σ daily completeness ÷ ``n_days_window`` — measured over ALL days of the
    window, so a missing day counts as 0 (it never drops out of the denominator).
    """
    first, last = pd.Timestamp(first).date(), pd.Timestamp(last).date()
    n_days = (last - first).days + 1
    w = line_daily[(line_daily["day"] >= first) & (line_daily["day"] <= last)]
    comp = pd.to_numeric(w["completeness_frac"], errors="coerce").fillna(0.0).clip(0.0, 1.0)
    g = comp.groupby(w["line"])
    out = pd.DataFrame({"n_days_present": g.size(), "sum": g.sum()}).reset_index()
    out["n_days_window"] = n_days
    out["completeness_frac"] = out["sum"] / n_days
    return out[["line", "n_days_window", "n_days_present", "completeness_frac"]], []


def classify_lines(unit_energy: pd.DataFrame, lines: pd.DataFrame, factors: FactorTable, *,
                   coverage: pd.DataFrame | None = None,
                   min_coverage_frac: float | None = None) -> tuple[pd.DataFrame, list[Issue]]:
    """Classify every registry line by its unit product energy.

    ``coverage`` (optional): :func:`line_window_coverage` output (``line``, ``completeness_frac``);
    a line below ``min_coverage_frac`` (default ``factors.coverage.classification_min_frac``, 0.90)
    or absent from it is ``data_insufficient`` (its unit energy is still reported) and the output
    gains ``completeness_frac``.

    Inputs: ``unit_energy`` with ``line`` and ``unit_energy_<unit>`` columns (as returned by
    :func:`ecm.accounting.energy.unit_product_energy`); ``lines``: the registry lines frame
    (``line``, ``enterprise``, ``industry``, ``product_class``, ``capacity_per_day``, ``capacity_unit``).
    Every line of ``lines`` appears in the result; a line without a unit energy is
    ``data_insufficient``.

    Output per line: ``enterprise``, ``line``, ``industry``, ``product_class``, ``indicator_unit``,
    ``capacity_per_day``, ``capacity_unit``, ``benchmark_basis`` (ndrc | gb_grades_stand_in | none),
    ``baseline_basis`` (ndrc | gb_limit_stricter | gb_stand_in | none), ``stand_in`` (bool),
    and per indicator unit u (NaN on lines of another unit): ``unit_energy_<u>``, ``benchmark_<u>``,
    ``baseline_<u>``, ``gap_to_benchmark_<u>``, ``gap_to_baseline_<u>`` (unit energy − level; positive =
    worse); plus ``gap_to_benchmark_pct``, ``gap_to_baseline_pct`` (0–100 scale, relative to the
    level, positive = worse), ``classification`` (at_or_better_than_benchmark | between |
    worse_than_baseline | no_benchmark | data_insufficient), ``classification_level`` (0, 1, 2; 3 none),
    ``gb_grade`` ("1" | "2" | "3" | "above_limit" | "none" without GB grades | "unknown" without data),
    ``factor_table_version``.
    """
    issues: list[Issue] = []
    ln = _lines(lines)
    keep = [c for c in ("line", "enterprise", "industry", "product_class", "capacity_per_day", "capacity_unit") if c in ln]
    ue_cols = ["line", *[c for c in unit_energy.columns if c.startswith("unit_energy_")]]
    df = ln[keep].merge(unit_energy[ue_cols], on="line", how="left")
    extra = sorted(set(unit_energy["line"]) - set(ln["line"]))
    if extra:
        issues.append(Issue("ecm.benchmark.unknown_line", f"{len(extra)} line(s) not in the registry ignored",
                            {"lines": extra}))
    bms = {c: factors.benchmark(c) for c in df["product_class"].unique()}
    unit = df["product_class"].map({c: b.unit for c, b in bms.items()})
    bm = df["product_class"].map({c: b.benchmark_value for c, b in bms.items()}).astype(float).to_numpy()
    bl = df["product_class"].map({c: b.baseline_value for c, b in bms.items()}).astype(float).to_numpy()
    g = {k: df["product_class"].map({c: getattr(b.gb, k) if b.gb else None for c, b in bms.items()}).astype(float).to_numpy()
         for k in ("grade_1", "grade_2", "grade_3")}
    ue = np.full(len(df), np.nan)
    for u in UNITS:
        col = f"unit_energy_{u}"
        if col in df:
            ue = np.where(unit == u, pd.to_numeric(df[col], errors="coerce"), ue)

    no_level, no_data = np.isnan(bm), np.isnan(ue)
    low_cov = np.zeros(len(df), dtype=bool)
    if coverage is not None:
        thr = factors.coverage.classification_min_frac.value if min_coverage_frac is None else min_coverage_frac
        cov = df["line"].map(coverage.set_index("line")["completeness_frac"]).astype(float).to_numpy()
        low_cov = ~(np.nan_to_num(cov, nan=0.0) >= thr - REL_TOL) & ~no_level
        no_data = no_data | low_cov
    cls = np.select(
        [no_level, no_data, _le(ue, bm), _le(ue, bl)],
        [_NONE, _NA, _AT, _BETWEEN], default=_WORSE)
    grade = np.select(
        [np.isnan(g["grade_3"]), no_data, _le(ue, g["grade_1"]), _le(ue, g["grade_2"]), _le(ue, g["grade_3"])],
        ["none", "unknown", "1", "2", "3"], default="above_limit")
    out = df[[c for c in keep]].copy()
    out["indicator_unit"] = unit
    out["benchmark_basis"] = df["product_class"].map({c: b.basis for c, b in bms.items()})
    # effective 基准 = min(NDRC 基准, GB grade 3): see ecm.factors.Benchmark.baseline_value
    out["baseline_basis"] = df["product_class"].map({c: b.baseline_basis for c, b in bms.items()})
    out["stand_in"] = df["product_class"].map({c: b.stand_in for c, b in bms.items()}).astype(bool)
    gap_bm, gap_bl = ue - bm, ue - bl
    for u in UNITS:
        sel = (unit == u).to_numpy()
        for name, arr in (("unit_energy", ue), ("benchmark", bm), ("baseline", bl),
                          ("gap_to_benchmark", gap_bm), ("gap_to_baseline", gap_bl)):
            out[f"{name}_{u}"] = np.where(sel, arr, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["gap_to_benchmark_pct"] = gap_bm / bm * 100.0
        out["gap_to_baseline_pct"] = gap_bl / bl * 100.0
    out["classification"] = cls
    out["classification_level"] = pd.Series(cls).map(CLASS_LEVEL).astype(int).to_numpy()
    grade = np.where(low_cov & (grade != "none"), "unknown", grade)
    out["gb_grade"] = grade
    if coverage is not None:
        out["completeness_frac"] = np.nan_to_num(cov, nan=0.0)
    out["factor_table_version"] = factors.table_version
    if low_cov.any():
        issues.append(Issue("ecm.benchmark.coverage_below_min",
                            f"{int(low_cov.sum())} line(s) below {thr:.0%} coverage of the window: data_insufficient",
                            {"lines": df.loc[low_cov, "line"].tolist(), "min_coverage_frac": thr}))
    missing = (cls == _NA) & ~low_cov
    if missing.any():
        issues.append(Issue("ecm.benchmark.unit_energy_missing",
                            f"{int(missing.sum())} line(s) without a unit energy: classified data_insufficient",
                            {"lines": df.loc[missing, "line"].tolist()}))
    return out.reset_index(drop=True), issues


def _stand_in(df: pd.DataFrame) -> pd.Series:
    if "stand_in" in df:
        return df["stand_in"].fillna(False).astype(bool)
    if "benchmark_basis" in df:
        return df["benchmark_basis"].astype(str).str.startswith("gb_grades")
    raise ValueError("classified frame needs `stand_in` or `benchmark_basis` (from classify_lines)")


def capacity_shares(classified: pd.DataFrame, lines: pd.DataFrame | None = None, *,
                    all_label: str = "all",
                    stand_in_label: str = "all_gb_stand_in") -> tuple[pd.DataFrame, list[Issue]]:
    """Share of design capacity at 标杆 and at-or-better-than 基准, per industry and overall.

    Input: ``classified`` from :func:`classify_lines` (``line``, ``classification``, and
    ``industry``, ``capacity_per_day``, ``capacity_unit`` — taken from ``lines`` when given).

    Denominator: capacity of lines that have a level (``no_benchmark`` lines are left out).
    ``data_insufficient`` lines stay in the denominator and count as not meeting any level
    (conservative; non-blocking issue with their capacity fraction). Capacities are summed only
    within one capacity unit: a group mixing units (e.g. the ``all`` row with m2/day and t/day)
    gets NaN capacity figures and a non-blocking issue; its line-count shares are still given.

    Headline vs stand-ins: the ``all_label`` row counts only lines with NDRC levels (the policy's
    标杆/基准); lines classified on GB grades standing in for missing NDRC levels (``stand_in``) go
    to a separate ``stand_in_label`` row (present when any exists). Per-industry rows keep all
    their lines and say which kind of level they rest on in ``level_basis`` (ndrc |
    gb_grades_stand_in | mixed).

    Output per industry plus an ``all_label`` row: ``industry``, ``level_basis``, ``capacity_unit`` (or ``mixed``),
    ``n_lines``, ``n_lines_at_benchmark``, ``n_lines_at_or_better_than_baseline``,
    ``n_lines_data_insufficient``, ``capacity_total``, ``capacity_at_benchmark``,
    ``capacity_at_or_better_than_baseline`` (per day, in ``capacity_unit``),
    ``benchmark_capacity_share_frac``, ``baseline_capacity_share_frac``,
    ``benchmark_line_share_frac``, ``baseline_line_share_frac`` (all in [0, 1]; NaN when no line has a
    level), ``factor_table_version``.
    """
    issues: list[Issue] = []
    df = classified.copy()
    if lines is not None:
        ln = _lines(lines)[["line", "industry", "capacity_per_day", "capacity_unit"]]
        df = df.drop(columns=[c for c in ("industry", "capacity_per_day", "capacity_unit") if c in df]).merge(
            ln, on="line", how="left")
    df["_stand_in"] = _stand_in(df).to_numpy()
    df["_has_level"] = df["classification"] != _NONE
    df["_bm"] = df["classification"] == _AT
    df["_bl"] = df["classification"].isin([_AT, _BETWEEN])
    df["_na"] = df["classification"] == _NA
    cap = pd.to_numeric(df["capacity_per_day"], errors="coerce").fillna(0.0)
    df["_cap"] = cap.where(df["_has_level"], 0.0)
    df["_cap_bm"] = cap.where(df["_bm"], 0.0)
    df["_cap_bl"] = cap.where(df["_bl"], 0.0)
    df["_cap_na"] = cap.where(df["_na"], 0.0)
    version = "+".join(sorted(df["factor_table_version"].astype(str).unique())) if "factor_table_version" in df else None

    rows = []
    groups = [(ind, d) for ind, d in df.groupby("industry", sort=True)] + [(all_label, df[~df["_stand_in"]])]
    if (df["_stand_in"] & df["_has_level"]).any():
        groups.append((stand_in_label, df[df["_stand_in"]]))
    for ind, d in groups:
        e = d[d["_has_level"]]
        units = sorted(e["capacity_unit"].dropna().unique().tolist())
        n = len(e)
        kinds = set(e["_stand_in"].map({True: "gb_grades_stand_in", False: "ndrc"}))
        row = {"industry": ind, "level_basis": kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else None),
               "capacity_unit": units[0] if len(units) == 1 else ("mixed" if units else None),
               "n_lines": n, "n_lines_at_benchmark": int(e["_bm"].sum()),
               "n_lines_at_or_better_than_baseline": int(e["_bl"].sum()), "n_lines_data_insufficient": int(e["_na"].sum()),
               "capacity_total": np.nan, "capacity_at_benchmark": np.nan, "capacity_at_or_better_than_baseline": np.nan,
               "benchmark_capacity_share_frac": np.nan, "baseline_capacity_share_frac": np.nan,
               "benchmark_line_share_frac": e["_bm"].sum() / n if n else np.nan,
               "baseline_line_share_frac": e["_bl"].sum() / n if n else np.nan}
        total = e["_cap"].sum()
        if len(units) == 1 and total > 0:
            row.update(capacity_total=total, capacity_at_benchmark=e["_cap_bm"].sum(),
                       capacity_at_or_better_than_baseline=e["_cap_bl"].sum(),
                       benchmark_capacity_share_frac=e["_cap_bm"].sum() / total,
                       baseline_capacity_share_frac=e["_cap_bl"].sum() / total)
            if e["_na"].any():
                issues.append(Issue("ecm.benchmark.capacity_data_insufficient",
                                    f"{ind}: {int(e['_na'].sum())} line(s) without data counted as not meeting a level",
                                    {"industry": ind, "lines": e.loc[e["_na"], "line"].tolist(),
                                     "capacity_frac": float(e["_cap_na"].sum() / total)}))
        elif len(units) > 1:
            issues.append(Issue("ecm.benchmark.mixed_capacity_units",
                                f"{ind}: capacities in {', '.join(units)} cannot be summed; capacity shares not computed",
                                {"industry": ind, "capacity_units": units}))
        rows.append(row)
    out = pd.DataFrame(rows)
    if version is not None:
        out["factor_table_version"] = version
    return out, issues


def overall_capacity_shares(classified: pd.DataFrame, factors: FactorTable) -> dict[str, float]:
    """District-wide shares of capacity at 标杆 and at-or-better-than 基准 across industries.

    Capacities in m²/day, t/day and kWh-based indicators cannot be added, so each line's design
    capacity is weighted by the energy it would use at its 基准 level (capacity × baseline unit
    energy, in kgce/day; kWh indicators at the 当量值 0.1229 kgce/kWh via the factor table). This is
    a project rule (the policy text gives shares per field), documented in docs/contracts.md §2.2.
    Lines without a level are left out; ``data_insufficient`` lines count as not meeting any level.
    The headline shares count NDRC-levelled lines only; lines on GB stand-in grades (``stand_in``
    column, or ``benchmark_basis`` = gb_grades_stand_in) are summed apart under ``stand_in_*``.

    Returns ``benchmark_capacity_share_frac``, ``baseline_capacity_share_frac`` (in [0, 1], NaN
    when no line has a level), ``capacity_total_kgce_per_day``, and the same three prefixed
    ``stand_in_`` for the stand-in lines.
    """
    kgce_per_kwh = factors.tce_kgce_per_unit("electricity", "equivalent")
    acc = {False: ([], [], []), True: ([], [], [])}
    for row, stand_in in zip(classified.itertuples(index=False), _stand_in(classified)):
        unit = row.indicator_unit
        base = getattr(row, f"baseline_{unit}", np.nan) if isinstance(unit, str) else np.nan
        if row.classification == _NONE or not np.isfinite(base):
            continue
        w = row.capacity_per_day * base * (kgce_per_kwh if unit.startswith("kwh") else 1.0)
        weights, at_b, at_base = acc[bool(stand_in)]
        weights.append(w)
        at_b.append(w if row.classification == _AT else 0.0)
        at_base.append(w if row.classification in (_AT, _BETWEEN) else 0.0)
    out = {}
    for stand_in, prefix in ((False, ""), (True, "stand_in_")):
        weights, at_b, at_base = acc[stand_in]
        total = float(np.sum(weights)) if weights else 0.0
        out[f"{prefix}benchmark_capacity_share_frac"] = float(np.sum(at_b)) / total if total > 0 else np.nan
        out[f"{prefix}baseline_capacity_share_frac"] = float(np.sum(at_base)) / total if total > 0 else np.nan
        out[f"{prefix}capacity_total_kgce_per_day"] = total
    return out

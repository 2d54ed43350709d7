"""The CO₂ target: CO₂ per unit of value added falling faster than society-wide (issue #12 §4).

Source of the clause: 《重庆市工业领域碳达峰实施方案》 (2023) and 工信部联节〔2022〕88号 — "单位工业增加值
二氧化碳排放下降幅度大于全社会下降幅度". Rules (docs/contracts.md "Compliance verdict rules"):

* **Fixed grid vintage.** Scope-2 electricity is recomputed in every span with ONE grid-factor
  vintage (``co2_reference.fixed_grid_vintage``, 2022 = the base year), so a new MEE/NBS vintage
  (Chongqing 0.5227 → 0.5581, +6.8 %) does not pass for a change in the enterprises' emissions.
  The index with each year's own vintage (latest ≤ year, as :mod:`ecm.accounting.carbon` does) is
  published beside it.
* **Index and change.** index = CO₂ intensity of the YTD span ÷ that of the same span of the base
  year; year-on-year change = YTD intensity ÷ prior-year span intensity − 1 (ratios of sums over the
  same enterprise set, value added at 2022 prices).
* **Reference.** Society-wide CO₂ per unit of GDP: ``co2_reference.society_wide_cumulative_reduction_frac``
  (18 % over 2021–2025, 14th Five-Year Plan) → annual change a = 0.82 ** (1/5) − 1 = −3.89 %;
  reference index for year t = (1 + a) ** (t − base_year).
* **Status** (same thresholds as the energy path, NDRC 晴雨表 practice): reference decline
  d_r = 1 − reference index, actual d_a = 1 − index (fixed vintage), shortfall = d_r − d_a;
  green when shortfall ≤ 0 (falling at least as fast as society-wide), yellow when ≤ 10 % of d_r,
  red otherwise or when CO₂ intensity rose year on year; data_insufficient when not ok.
* **Process CO₂.** Carbonate decomposition (GB/T 32151.9-2015, :func:`ecm.accounting.carbon.process_co2`)
  is included when every row has it for every span; fields are then ``co2_*`` ("二氧化碳（含工业过程）
  CO₂ incl. process"). Otherwise the fields are ``energy_co2_*`` and labelled energy-related CO₂
  (能源活动二氧化碳) everywhere.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ecm.accounting.carbon import process_co2
from ecm.accounting.energy import _amount
from ecm.accounting.issues import Issue
from ecm.factors import FactorTable
from ecm.schema import DATA_INSUFFICIENT, Status

GREEN, YELLOW, RED = Status.GREEN.value, Status.YELLOW.value, Status.RED.value
EPS = 1e-9
SPANS = ("cur", "prev", "base")
STATUS_LEVEL = {GREEN: 0, YELLOW: 1, RED: 2, DATA_INSUFFICIENT: 3}
LABELS = {"energy_co2": ("能源活动二氧化碳", "energy-related CO₂"),
          "co2": ("二氧化碳（含工业过程）", "CO₂ incl. process")}


def co2_parts(consumption_co2: pd.DataFrame, *, by=("enterprise",)) -> tuple[pd.DataFrame, list[Issue]]:
    """Split CO₂ into the part that depends on the grid vintage and the part that does not.

    Input: :func:`ecm.accounting.carbon.consumption_to_co2` output (``emission_kind``, ``co2_t``,
    ``amount`` = physical amount, and the ``by`` columns, e.g. ``enterprise`` and ``span``).
    Output per group: ``grid_electricity_kwh`` (purchased electricity, kWh), ``co2_non_grid_t``
    (combustion + purchased heat/steam, tCO₂).
    """
    by = list(by)
    d = consumption_co2.assign(_amt=_amount(consumption_co2))
    grid = d["emission_kind"] == "purchased_electricity"
    kwh = d.loc[grid].groupby(by)["_amt"].sum(min_count=1).rename("grid_electricity_kwh")
    non = d.loc[~grid].groupby(by)["co2_t"].sum(min_count=1).rename("co2_non_grid_t")
    out = pd.concat([kwh, non], axis=1).reset_index()
    out["grid_electricity_kwh"] = out["grid_electricity_kwh"].fillna(0.0)
    out["co2_non_grid_t"] = out["co2_non_grid_t"].fillna(0.0)
    return out, []


def process_co2_by_enterprise(materials: pd.DataFrame, factors: FactorTable, *,
                              by=("enterprise", "span")) -> tuple[pd.DataFrame, list[Issue]]:
    """Σ process CO₂ per group from registry raw-material data (carbonate method).

    Input: ``enterprise``, ``span`` (or other ``by`` columns), ``material`` (caco3 | mgco3 |
    dolomite | cao | mgo), ``mass_t``, optional ``content_frac`` — as
    :func:`ecm.accounting.carbon.process_co2`. Output: the ``by`` columns and ``process_co2_t``.
    """
    rows, issues = process_co2(materials, factors)
    out = rows.groupby(list(by))["co2_t"].sum(min_count=1).rename("process_co2_t").reset_index()
    return out, issues


def _status(index: pd.Series, yoy: pd.Series, ref_index: float, ok: pd.Series, tol: float) -> np.ndarray:
    d_r = 1.0 - ref_index
    shortfall = d_r - (1.0 - index)
    return np.select([~ok | index.isna() | yoy.isna(), yoy > EPS, shortfall <= EPS, shortfall <= tol * d_r + EPS],
                     [DATA_INSUFFICIENT, RED, GREEN, YELLOW], default=RED)


def co2_target(frame: pd.DataFrame, factors: FactorTable, *, year: int, region: str | None = None,
               include_process: bool | None = None) -> tuple[pd.DataFrame, list[Issue]]:
    """CO₂-intensity index against the base year at a fixed grid vintage, and its status.

    Input, one row per enterprise or the district (same enterprise set in every span), for each
    span s in cur / prev / base: ``grid_electricity_kwh_<s>``, ``co2_non_grid_t_<s>``
    (:func:`co2_parts`), ``value_added_10k_cny_<s>`` (2022 prices), optional ``process_co2_t_<s>``
    (:func:`process_co2_by_enterprise`); optional ``data_status`` (not ``ok`` → data_insufficient).
    ``year`` is the YTD year; prior year = year − 1; base year = ``factors.targets.base_year``.

    Output adds, with P = ``co2`` when process CO₂ is included, else ``energy_co2``:
    ``P_t_<s>`` (fixed vintage), ``P_intensity_t_per_10k_cny`` (YTD, fixed vintage),
    ``P_index_fixed_vintage``, ``P_index_own_vintage``, ``P_yoy_change_frac_fixed_vintage``,
    ``P_yoy_change_frac_own_vintage``, ``P_status``, ``P_status_level``; and ``grid_vintage_fixed``,
    ``grid_vintage_own`` (the YTD year's), ``co2_reference_index``, ``co2_reference_annual_change_frac``,
    ``co2_basis`` (energy_related | energy_and_process), ``co2_label_zh``, ``co2_label_en``,
    ``co2_reference_source``.
    """
    issues: list[Issue] = []
    ref = factors.co2_reference
    base_year = factors.targets.base_year
    years = {"cur": year, "prev": year - 1, "base": base_year}
    fixed = factors.grid_factor(int(ref.fixed_grid_vintage.value), region)
    own = {s: factors.grid_factor(y, region) for s, y in years.items()}
    if fixed.vintage != int(ref.fixed_grid_vintage.value):
        raise ValueError(f"no grid factor of vintage {int(ref.fixed_grid_vintage.value)} for {fixed.region}")
    out = frame.copy()
    has_proc = all(f"process_co2_t_{s}" in out for s in SPANS) and bool(
        np.all([out[f"process_co2_t_{s}"].notna().all() for s in SPANS if f"process_co2_t_{s}" in out]))
    proc = has_proc if include_process is None else include_process
    if include_process and not has_proc:
        raise ValueError("include_process=True but process_co2_t_<span> is missing for some row or span")
    if include_process is None and any(f"process_co2_t_{s}" in out for s in SPANS) and not has_proc:
        issues.append(Issue("ecm.co2_target.process_data_partial",
                            "process CO₂ missing for some rows or spans: reported as energy-related CO₂ only",
                            {"rows": len(out)}))
    p = "co2" if proc else "energy_co2"
    inten_fixed, inten_own = {}, {}
    for s in SPANS:
        kwh = pd.to_numeric(out[f"grid_electricity_kwh_{s}"], errors="coerce")
        base_t = pd.to_numeric(out[f"co2_non_grid_t_{s}"], errors="coerce")
        if proc:
            base_t = base_t + pd.to_numeric(out[f"process_co2_t_{s}"], errors="coerce")
        va = pd.to_numeric(out[f"value_added_10k_cny_{s}"], errors="coerce")
        va = va.where(va > 0)
        t_fixed = base_t + kwh * fixed.value_kgco2_per_unit / 1000.0
        t_own = base_t + kwh * own[s].value_kgco2_per_unit / 1000.0
        out[f"{p}_t_{s}"] = t_fixed
        inten_fixed[s], inten_own[s] = t_fixed / va, t_own / va
    out[f"{p}_intensity_t_per_10k_cny"] = inten_fixed["cur"]
    out[f"{p}_index_fixed_vintage"] = inten_fixed["cur"] / inten_fixed["base"]
    out[f"{p}_index_own_vintage"] = inten_own["cur"] / inten_own["base"]
    out[f"{p}_yoy_change_frac_fixed_vintage"] = inten_fixed["cur"] / inten_fixed["prev"] - 1.0
    out[f"{p}_yoy_change_frac_own_vintage"] = inten_own["cur"] / inten_own["prev"] - 1.0
    a = ref.annual_change_frac
    ref_index = (1.0 + a) ** (year - base_year)
    ok = (out["data_status"] == "ok") if "data_status" in out else pd.Series(True, index=out.index)
    status = _status(out[f"{p}_index_fixed_vintage"], out[f"{p}_yoy_change_frac_fixed_vintage"], ref_index, ok,
                     factors.targets.yellow_tolerance_frac)
    out[f"{p}_status"] = status
    out[f"{p}_status_level"] = pd.Series(status, index=out.index).map(STATUS_LEVEL).astype(int)
    out["grid_vintage_fixed"] = fixed.vintage
    out["grid_vintage_own"] = own["cur"].vintage
    out["co2_reference_index"] = ref_index
    out["co2_reference_annual_change_frac"] = a
    out["co2_basis"] = "energy_and_process" if proc else "energy_related"
    out["co2_label_zh"], out["co2_label_en"] = LABELS[p]
    out["co2_reference_source"] = f"{ref.cumulative_reduction.source} ({ref.cumulative_reduction.edition})"
    if own["cur"].vintage != fixed.vintage:
        issues.append(Issue("ecm.co2_target.vintage_differs",
                            f"index at fixed grid vintage {fixed.vintage} ({fixed.value_kgco2_per_unit}); the year's own "
                            f"vintage {own['cur'].vintage} ({own['cur'].value_kgco2_per_unit}) shown beside it",
                            {"fixed": fixed.vintage, "own": own["cur"].vintage, "region": fixed.region}))
    return out, issues

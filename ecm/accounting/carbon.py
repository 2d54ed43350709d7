"""CO2 emissions by scope from physical consumption and carbonate raw materials.

Method (GB/T 32150-2015 general rules; GB/T 32151.9-2015 ceramics; NDRC enterprise GHG guides):

* scope 1, combustion: fuel amount × default factor (NCV × carbon content × oxidation × 44/12);
* scope 2: purchased electricity × grid factor of the year's vintage — the latest vintage ≤ year,
  else the latest (the vintage actually used is stored in ``factor_vintage``) — and purchased
  heat / steam × 0.11 tCO2/GJ (steam via enthalpy);
* scope 1, process (optional): carbonate mass × content × stoichiometric factor;
* on-site PV and recovered waste heat: 0 (not purchased, nothing burnt inside the boundary).

Feedstock rows (``use == "feedstock"``) are kept: their carbon may still be emitted, so they are
not excluded from CO2 the way they are from energy assessment.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ecm.accounting.energy import _amount
from ecm.accounting.issues import Issue
from ecm.factors import FactorTable

_KIND = {"scope1": "combustion", "none": "none"}


def consumption_to_co2(consumption: pd.DataFrame, factors: FactorTable, *, year: int,
                       grid_region: str | None = None) -> tuple[pd.DataFrame, list[Issue]]:
    """CO2 of each consumption row.

    Input columns: ``enterprise``, ``carrier``, ``amount`` (physical amount in the carrier's registry
    unit); other columns pass through. ``grid_region`` defaults to the table's ``grid_default``.

    Output adds: ``scope`` (``scope1`` | ``scope2`` | ``none``), ``emission_kind`` (``combustion``,
    ``purchased_electricity``, ``purchased_heat``, ``none``), ``factor_kgco2_per_unit``,
    ``factor_vintage`` (Int64, grid only), ``factor_region``, ``factor_source``, ``co2_t`` (tCO2),
    ``factor_table_version``.

    NaN policy: NaN amount → NaN ``co2_t`` with a blocking issue. A grid vintage other than
    ``year`` gives a non-blocking ``ecm.carbon.grid_factor_vintage_fallback`` issue.
    """
    issues: list[Issue] = []
    out = consumption.copy()
    amount = _amount(out)
    carriers = out["carrier"].astype(str)
    fac = {c: factors.co2_factor(c, year, grid_region) for c in carriers.unique()}
    for c, f in fac.items():
        if c == "electricity" and f.vintage != year:
            issues.append(Issue("ecm.carbon.grid_factor_vintage_fallback",
                                f"no {f.region} grid factor for {year}; used vintage {f.vintage}",
                                {"region": f.region, "year": year, "vintage": f.vintage,
                                 "kgco2_per_kwh": f.value_kgco2_per_unit}))
    out["scope"] = carriers.map({c: f.scope for c, f in fac.items()})
    out["emission_kind"] = carriers.map({
        c: ("purchased_electricity" if c == "electricity" else "purchased_heat") if f.scope == "scope2"
        else _KIND[f.scope] for c, f in fac.items()})
    out["factor_kgco2_per_unit"] = carriers.map({c: f.value_kgco2_per_unit for c, f in fac.items()}).astype(float)
    out["factor_vintage"] = carriers.map({c: f.vintage for c, f in fac.items()}).astype("Int64")
    out["factor_region"] = carriers.map({c: f.region for c, f in fac.items()})
    out["factor_source"] = carriers.map({c: f.source for c, f in fac.items()})
    out["co2_t"] = amount * out["factor_kgco2_per_unit"] / 1000.0
    out["factor_table_version"] = factors.table_version
    missing = amount.isna()
    if missing.any():
        issues.append(Issue("ecm.carbon.quantity_missing", f"{int(missing.sum())} consumption row(s) without an amount",
                            {"enterprises": sorted(out.loc[missing, "enterprise"].astype(str).unique().tolist()),
                             "carriers": sorted(carriers[missing].unique().tolist())}, blocking=True))
    return out, issues


def process_co2(materials: pd.DataFrame, factors: FactorTable) -> tuple[pd.DataFrame, list[Issue]]:
    """Process CO2 from carbonate decomposition (GB/T 32151.9-2015 carbonate method).

    Input columns: ``enterprise``, ``material`` (``caco3``, ``mgco3``, ``dolomite``; or ``cao``/``mgo``
    for back-calculation from oxide analysis), ``mass_t`` (t of raw material consumed),
    ``content_frac`` (optional, mass fraction of the carbonate/oxide in [0, 1]; absent = 1.0).

    Output adds ``factor_tco2_per_t``, ``co2_t`` = mass_t × content_frac × factor, ``scope`` =
    ``scope1``, ``emission_kind`` = ``process``, ``factor_source``, ``factor_table_version``.
    NaN mass or content → NaN ``co2_t`` with a blocking issue; content outside [0, 1] is blocking too.
    """
    issues: list[Issue] = []
    out = materials.copy()
    mats = out["material"].astype(str)
    figs = {m: factors.process_factor(m) for m in mats.unique()}
    content = (pd.to_numeric(out["content_frac"], errors="coerce") if "content_frac" in out
               else pd.Series(1.0, index=out.index))
    mass = pd.to_numeric(out["mass_t"], errors="coerce")
    out["factor_tco2_per_t"] = mats.map({m: f.value for m, f in figs.items()}).astype(float)
    bad = (content < 0) | (content > 1)
    out["co2_t"] = np.where(bad, np.nan, mass * content * out["factor_tco2_per_t"])
    out["scope"] = "scope1"
    out["emission_kind"] = "process"
    out["factor_source"] = mats.map({m: f.source for m, f in figs.items()})
    out["factor_table_version"] = factors.table_version
    missing = out["co2_t"].isna()
    if missing.any():
        issues.append(Issue("ecm.carbon.process_input_invalid",
                            f"{int(missing.sum())} material row(s) with missing mass or content outside [0, 1]",
                            {"enterprises": sorted(out.loc[missing, "enterprise"].astype(str).unique().tolist())},
                            blocking=True))
    return out, issues

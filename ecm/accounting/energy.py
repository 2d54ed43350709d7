"""Physical consumption → standard coal (tce), and unit product energy per line.

Implements GB/T 2589-2020 综合能耗计算通则: comprehensive energy = Σ purchased energy × the
carrier's coefficient (Annex A, or the table in config/factors.yaml). Both electricity
conventions are always computed, as the NBS and many local bulletins publish both:

* ``energy_tce``            当量值 (equivalent: 0.1229 kgce/kWh) — enterprise comprehensive energy,
                            规上工业单位增加值能耗, and GB product energy limits;
* ``energy_tce_generation`` 等价值 (generation: the year's thermal-power coal rate, ~0.30 kgce/kWh).

Boundary policy (``factors.policy``): on-site self-generated PV is not purchased energy and new
renewables are excluded from assessment (发改运行〔2022〕1258号) → ``renewable_onsite: exclude``;
internally recovered waste heat is not an input → ``waste_heat_recovered: not_counted``;
rows with ``use == "feedstock"`` are excluded (发改环资〔2022〕803号). Excluded rows stay in the
frame with tce 0, ``included = False`` and an ``exclusion_reason``, so nothing vanishes silently.
Electricity rows are purchased grid electricity (boundary meters); PV arrives as its own carrier.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ecm.accounting.issues import Issue
from ecm.factors import UNITS, Basis, FactorTable
from ecm.schema import F_AMOUNT, F_READING_VALUE

UNIT_ENERGY_COLUMNS = [f"unit_energy_{u}" for u in UNITS]


def _amount(consumption: pd.DataFrame) -> pd.Series:
    """The physical amount consumed: ``amount`` (``ecm.schema.F_AMOUNT``); a numeric ``quantity``
    column is accepted when ``amount`` is absent. ``value`` names a meter reading, never an amount."""
    if F_AMOUNT in consumption.columns:
        return pd.to_numeric(consumption[F_AMOUNT], errors="coerce").astype(float)
    if "quantity" in consumption.columns and pd.api.types.is_numeric_dtype(consumption["quantity"]):
        return consumption["quantity"].astype(float)
    hint = f" (`{F_READING_VALUE}` is a meter reading; the consumed amount is `{F_AMOUNT}`)" \
        if F_READING_VALUE in consumption.columns else ""
    raise ValueError(f"consumption needs a numeric `{F_AMOUNT}` column (physical amount in the carrier's "
                     f"registry unit){hint}")


def consumption_to_tce(consumption: pd.DataFrame, factors: FactorTable, *, year: int) -> tuple[pd.DataFrame, list[Issue]]:
    """Convert physical consumption to tonnes of standard coal on both electricity bases.

    Input columns: ``enterprise``, ``carrier`` (registry carrier), ``amount`` (physical amount in the
    carrier's registry unit: kWh, m3, t, kg, GJ); optional ``use`` (``"feedstock"`` marks raw-material
    use). Other columns pass through. ``year`` selects the 等价值 vintage (exact, else latest ≤ year).

    Output adds: ``factor_kgce_per_unit`` (当量值 coefficient), ``factor_generation_kgce_per_unit``,
    ``included`` (bool), ``exclusion_reason`` (``""``, ``renewable_onsite``, ``waste_heat_recovered``,
    ``feedstock``), ``energy_tce`` (当量值, tce), ``energy_tce_generation`` (等价值, tce),
    ``factor_table_version``.

    NaN policy: NaN amount → NaN tce and a blocking issue; excluded rows are 0 whatever the amount.
    Unknown carriers raise :class:`FactorMissingError` (a configuration error, not a data one).
    """
    issues: list[Issue] = []
    out = consumption.copy()
    amount = _amount(out)
    carriers = out["carrier"].astype(str)
    eq, gen, category = {}, {}, {}
    for c in carriers.unique():
        eq[c] = factors.tce_kgce_per_unit(c, "equivalent")
        g = factors.tce_figure(c, "generation", year)
        gen[c] = g.value
        category[c] = factors.carrier_category(c)
        counted = c == "electricity" or (c == "pv_generation" and factors.policy.renewable_onsite == "include")
        if counted and g.vintage != year:
            issues.append(Issue("ecm.energy.generation_factor_vintage",
                                f"no 等价值 coefficient for {year}; used {g.vintage or 'the table default'}",
                                {"carrier": c, "year": year, "vintage": g.vintage, "kgce_per_kwh": g.value}))
    cat = carriers.map(category)
    pol = factors.policy
    reason = np.select(
        [(cat == "onsite_renewable") & (pol.renewable_onsite == "exclude"),
         (cat == "recovered") & (pol.waste_heat_recovered == "not_counted"),
         (out["use"].astype(str) == "feedstock" if "use" in out else pd.Series(False, index=out.index))
         & (pol.feedstock == "exclude")],
        ["renewable_onsite", "waste_heat_recovered", "feedstock"], default="")
    included = reason == ""
    out["factor_kgce_per_unit"] = carriers.map(eq).astype(float)
    out["factor_generation_kgce_per_unit"] = carriers.map(gen).astype(float)
    out["included"] = included
    out["exclusion_reason"] = reason
    out["energy_tce"] = np.where(included, amount * out["factor_kgce_per_unit"] / 1000.0, 0.0)
    out["energy_tce_generation"] = np.where(included, amount * out["factor_generation_kgce_per_unit"] / 1000.0, 0.0)
    out["factor_table_version"] = factors.table_version

    missing = amount.isna() & included
    if missing.any():
        issues.append(Issue("ecm.energy.quantity_missing", f"{int(missing.sum())} consumption row(s) without an amount",
                            {"enterprises": sorted(out.loc[missing, "enterprise"].astype(str).unique().tolist()),
                             "carriers": sorted(carriers[missing].unique().tolist())}, blocking=True))
    negative = (amount < 0) & included
    if negative.any():
        issues.append(Issue("ecm.energy.negative_quantity", f"{int(negative.sum())} negative consumption row(s)",
                            {"enterprises": sorted(out.loc[negative, "enterprise"].astype(str).unique().tolist())},
                            blocking=True))
    return out, issues


def _indicator_parts(unit: str) -> tuple[str, str]:
    """``kgce_per_m2`` → (numerator ``kgce``, output unit ``m2``)."""
    num, den = unit.split("_per_")
    return num, den


def unit_product_energy(energy_by_line: pd.DataFrame, output_by_line: pd.DataFrame, lines: pd.DataFrame,
                        factors: FactorTable, *, basis: Basis = "equivalent") -> tuple[pd.DataFrame, list[Issue]]:
    """Unit product comprehensive energy per line (GB 21252 / GB 16780 / GB 30526 indicator).

    Inputs:
    * ``energy_by_line``: ``line``, ``energy_tce`` (当量值, tce), ``energy_tce_generation``
      (only for ``basis="generation"``), ``electricity_kwh`` (only for ``kwh_per_t`` indicators such
      as the cement preparation section) — totals over the same period as the output.
    * ``output_by_line``: ``line`` and ``output_<unit>`` columns (``output_m2``, ``output_t``,
      ``output_pcs``); the column matching the line's ``output_unit`` is used.
    * ``lines``: registry lines frame (``line``, ``enterprise``, ``product_class``, ``output_unit``).

    The indicator unit comes from the product class's benchmark row (``kgce_per_m2``,
    ``kgce_per_t``, ``kwh_per_t``, ``kgce_per_pcs``). Output: one row per line with ``enterprise``,
    ``line``, ``product_class``, ``indicator_unit``, ``output_unit``, ``output_<unit>`` (the output
    used, per output unit present; NaN on other lines), one ``unit_energy_<unit>`` column per indicator unit (NaN except the line's own), and
    ``factor_table_version``.

    NaN policy: zero output with energy > 0 → NaN and a blocking issue; zero output and zero
    energy (idle) → NaN, non-blocking; NaN energy or output → NaN, blocking.
    """
    issues: list[Issue] = []
    ln = lines.reset_index(drop=True) if "line" in lines.columns else lines.rename_axis("line").reset_index()
    ln = ln[["line", "enterprise", "product_class", "output_unit"]]
    df = ln.merge(energy_by_line, on="line", how="inner", suffixes=("", "_energy"))
    df = df.merge(output_by_line, on="line", how="left", suffixes=("", "_output"))
    ind = df["product_class"].map(lambda c: factors.benchmark(c).unit)
    num = ind.map(lambda u: _indicator_parts(u)[0])
    den = ind.map(lambda u: _indicator_parts(u)[1])
    mismatch = den != df["output_unit"]
    if mismatch.any():
        issues.append(Issue("ecm.energy.output_unit_mismatch", "line output unit does not match its indicator unit",
                            {"lines": df.loc[mismatch, "line"].tolist()}, blocking=True))
    output = pd.Series(np.nan, index=df.index)
    for u in df["output_unit"].unique():
        col = f"output_{u}"
        sel = df["output_unit"] == u
        if col in df.columns:
            output[sel] = pd.to_numeric(df.loc[sel, col], errors="coerce")
    tce_col = "energy_tce" if basis == "equivalent" else "energy_tce_generation"
    kgce = pd.to_numeric(df[tce_col], errors="coerce") * 1000.0 if tce_col in df else pd.Series(np.nan, index=df.index)
    kwh = pd.to_numeric(df["electricity_kwh"], errors="coerce") if "electricity_kwh" in df else pd.Series(np.nan, index=df.index)
    numerator = pd.Series(np.where(num == "kwh", kwh, kgce), index=df.index, dtype=float)

    missing = numerator.isna() | output.isna()
    zero_out = ~missing & (output == 0)
    loaded = zero_out & (numerator > 0)
    idle = zero_out & (numerator == 0)
    ok = ~(missing | zero_out | mismatch)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(ok, numerator / output.where(output != 0), np.nan)
    for mask, name, msg, blocking in (
        (missing, "ecm.energy.unit_energy_input_missing", "energy or output missing for line(s)", True),
        (loaded, "ecm.energy.output_zero", "energy > 0 but output 0 for line(s)", True),
        (idle, "ecm.energy.line_idle", "no energy and no output for line(s)", False),
    ):
        if mask.any():
            issues.append(Issue(name, msg, {"lines": df.loc[mask, "line"].tolist()}, blocking))
    out = pd.DataFrame({"enterprise": df["enterprise"], "line": df["line"], "product_class": df["product_class"],
                        "indicator_unit": ind, "output_unit": df["output_unit"]})
    for u in sorted(df["output_unit"].unique()):
        out[f"output_{u}"] = np.where(df["output_unit"] == u, output, np.nan)
    for u in UNITS:
        out[f"unit_energy_{u}"] = np.where(ind == u, value, np.nan)
    out["factor_table_version"] = factors.table_version
    return out.reset_index(drop=True), issues

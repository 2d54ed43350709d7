"""Boundaries and allocation: meter-day consumption → enterprise energy, line energy, unit energy.

Input everywhere is the meter-day frame ``md`` (one row per counter meter and Beijing day):
``day`` (date), ``enterprise``, ``meter``, ``carrier``, ``quantity``, ``role`` (``main`` | ``sub``),
``line`` (None for plant meters), ``delta`` (physical unit; NaN when nothing was measured),
``completeness_frac``. Rules (docs/contracts.md §2.2):

* **In service**: a meter is expected from the registry; from its ``decommissioned`` day on it
  is not (:func:`in_service`).
* **Enterprise comprehensive energy** (GB/T 2589-2020 §4: the energy crossing the enterprise
  boundary) = Σ ``role: main`` meters per carrier; sub-meters sit inside a main meter and only
  split energy between lines. When any main meter of a carrier measured nothing that day, the
  carrier-day is NaN and a blocking ``ecm.energy.quantity_missing`` issue names the meter: the
  enterprise-day's total would otherwise be understated.
* **Line energy** = the line's own meters + the plant's unmetered remainder (Σ main − Σ
  line-assigned, per carrier, floored at 0) shared in proportion to the lines' directly metered tce,
  equally when none is metered (auxiliary systems belong to unit product comprehensive energy,
  GB 21252-2023 §3 / GB 30526). A line-day whose own meter measured nothing is flagged with a
  blocking, line-scoped ``ecm.allocation.line_meter_unmeasured``.
* ``kwh_per_t`` indicators (cement preparation section, GB 16780-2021) use the line's own
  electricity only (``electricity_kwh``).
* Output meters (``carrier: output``) give the line's production ``output_<unit>``.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from ecm.accounting.carbon import consumption_to_co2
from ecm.accounting.energy import consumption_to_tce, unit_product_energy
from ecm.accounting.issues import Issue
from ecm.accounting.ytd import by_year
from ecm.schema import F_AMOUNT

OUTPUT = "output"
TCE_COLUMNS = ["energy_tce", "energy_tce_generation"]
_REPLACED = {"ecm.energy.quantity_missing", "ecm.carbon.quantity_missing"}


def _year(md: pd.DataFrame, default: int) -> int:
    return int(md["day"].iloc[0].year) if len(md) else default


def in_service(md: pd.DataFrame) -> pd.DataFrame:
    """``md`` without the rows of meters on or after their ``decommissioned`` day (column optional)."""
    if "decommissioned" not in md.columns or md.empty:
        return md
    dec = md["decommissioned"]
    out = pd.Series([d is not None and not pd.isna(d) and day >= d for day, d in zip(md["day"], dec)],
                    index=md.index, dtype=bool)
    return md[~out]


def enterprise_energy(md: pd.DataFrame, factors, *, empty_year: int) -> tuple[pd.DataFrame, list[Issue]]:
    """Per (day, enterprise, carrier): physical ``amount`` (Σ main meters), ``completeness_frac``
    (mean over those meters), tce on both bases, ``included``, ``co2_t``, ``co2_factor_vintage``
    and ``factor_table_version`` (see :func:`consumption_to_tce`, :func:`consumption_to_co2`)."""
    main = md[(md["role"] == "main") & (md["carrier"] != OUTPUT)]
    g = main.groupby(["day", "enterprise", "carrier", "quantity"], as_index=False).agg(
        **{F_AMOUNT: ("delta", lambda s: s.sum(min_count=len(s)))}, completeness_frac=("completeness_frac", "mean"))
    tce, i1 = by_year(g, consumption_to_tce, factors, empty_year=empty_year)
    co2, i2 = by_year(g, consumption_to_co2, factors, empty_year=empty_year)
    co2 = co2.set_index(["day", "enterprise", "carrier"])
    key = pd.MultiIndex.from_frame(tce[["day", "enterprise", "carrier"]])
    tce["co2_t"] = co2["co2_t"].reindex(key).to_numpy()
    tce["co2_factor_vintage"] = co2["factor_vintage"].reindex(key).to_numpy()
    issues = [i for i in i1 + i2 if i.name not in _REPLACED]
    silent = main[main["delta"].isna()]
    if len(silent):
        rows = [{"enterprise": e, "day": d.isoformat(), "meter": m, "carrier": c}
                for d, e, m, c in silent[["day", "enterprise", "meter", "carrier"]].itertuples(index=False)]
        issues.append(Issue("ecm.energy.quantity_missing",
                            f"{len(rows)} main meter-day(s) measured nothing: the carrier's energy is unknown",
                            {"rows": rows}, blocking=True))
    return tce, issues


def line_energy(md: pd.DataFrame, energy: pd.DataFrame, lines: pd.DataFrame, factors, *,
                empty_year: int) -> tuple[pd.DataFrame, list[Issue]]:
    """Per (day, enterprise, line): ``energy_tce``, ``energy_tce_generation`` (own + remainder
    share) and ``electricity_kwh`` (own meters). ``energy`` is :func:`enterprise_energy`'s frame;
    ``lines`` the registry lines frame. Every registry line gets a row for every day of ``md``."""
    cols = ["day", "enterprise", "line", *TCE_COLUMNS, "electricity_kwh"]
    days = pd.DataFrame({"day": sorted(md["day"].unique())})
    if lines.empty or days.empty:
        return pd.DataFrame(columns=cols), []
    fuel = md[(md["carrier"] != OUTPUT) & md["line"].notna()]
    own = fuel.groupby(["day", "enterprise", "line", "carrier"], as_index=False)["delta"].sum(min_count=1)
    own = own.rename(columns={"delta": F_AMOUNT})
    own_tce, i1 = by_year(own, consumption_to_tce, factors, empty_year=empty_year)
    assigned = own.groupby(["day", "enterprise", "carrier"])[F_AMOUNT].sum()
    total = energy.set_index(["day", "enterprise", "carrier"])[F_AMOUNT]
    remainder = total.sub(assigned, fill_value=0).clip(lower=0).rename(F_AMOUNT).reset_index()
    remainder = remainder[remainder["enterprise"].isin(lines["enterprise"])]
    rem_tce, i2 = by_year(remainder, consumption_to_tce, factors, empty_year=empty_year)
    rem = rem_tce[rem_tce["included"].astype(bool)].groupby(["day", "enterprise"])[TCE_COLUMNS].sum()
    by_line = own_tce[own_tce["included"].astype(bool)].groupby(["day", "enterprise", "line"])[TCE_COLUMNS].sum()
    ln = days.merge(lines[["line", "enterprise"]].reset_index(drop=True), how="cross")
    ln = ln.merge(by_line.reset_index(), on=["day", "enterprise", "line"], how="left")
    ln[TCE_COLUMNS] = ln[TCE_COLUMNS].fillna(0.0)
    grp = ln.groupby(["day", "enterprise"])
    share = ln["energy_tce"] / grp["energy_tce"].transform("sum")
    share = share.where(np.isfinite(share), 1.0 / grp["line"].transform("count"))
    rem_rows = rem.reindex(pd.MultiIndex.from_frame(ln[["day", "enterprise"]]))
    for col in TCE_COLUMNS:
        ln[col] = ln[col] + share * rem_rows[col].fillna(0.0).to_numpy()
    elec = fuel[fuel["carrier"] == "electricity"].groupby(["day", "line"])["delta"].sum(min_count=1)
    ln["electricity_kwh"] = elec.reindex(pd.MultiIndex.from_frame(ln[["day", "line"]])).to_numpy()
    issues = [i for i in i1 + i2 if i.name not in _REPLACED]
    unmeasured = own[own[F_AMOUNT].isna()]
    if len(unmeasured):
        rows = [{"enterprise": e, "line": ln_, "day": d.isoformat()}
                for d, e, ln_ in unmeasured[["day", "enterprise", "line"]].drop_duplicates().itertuples(index=False)]
        issues.append(Issue("ecm.allocation.line_meter_unmeasured",
                            f"{len(rows)} line-day(s) whose own meters measured nothing: line energy understated",
                            {"rows": rows}, blocking=True))
    return ln[cols], issues


def line_output(md: pd.DataFrame) -> pd.DataFrame:
    """Per (day, line): production ``output_<unit>`` (Σ of the line's output meters)."""
    out = md[(md["carrier"] == OUTPUT) & md["line"].notna()]
    if out.empty:
        return pd.DataFrame(columns=["day", "line"])
    wide = out.pivot_table(index=["day", "line"], columns="quantity", values="delta", aggfunc="sum")
    wide.columns.name = None
    return wide.reset_index()


def unit_energy_by_day(energy_by_line: pd.DataFrame, output: pd.DataFrame, lines: pd.DataFrame, factors
                       ) -> tuple[pd.DataFrame, list[Issue]]:
    """:func:`unit_product_energy` for every (line, day) pair in one call; issues name each
    line-day (``rows`` with ``line`` and ``day``)."""
    sep = "|"

    def key(df):
        return df.assign(line=df["line"] + sep + df["day"].map(date.isoformat)).drop(columns="day")

    days = sorted(energy_by_line["day"].unique())
    if lines.empty or not days:
        return pd.DataFrame(columns=["enterprise", "line", "product_class", "day", "factor_table_version"]), []
    lx = pd.DataFrame({"day": days}).merge(lines.reset_index(drop=True), how="cross")
    upe, raw = unit_product_energy(key(energy_by_line), key(output) if len(output) else output, key(lx), factors)
    split = upe["line"].str.split(sep, n=1, expand=True)
    upe["line"], upe["day"] = split[0], split[1].map(date.fromisoformat)
    issues = []
    for i in raw:
        keyed = i.evidence.get("lines")
        if isinstance(keyed, list):
            rows = [dict(zip(("line", "day"), str(x).split(sep, 1))) for x in keyed]
            ev = {k: v for k, v in i.evidence.items() if k != "lines"}
            i = Issue(i.name, i.message, {**ev, "rows": rows}, i.blocking)
        issues.append(i)
    return upe, issues


def line_daily(md: pd.DataFrame, energy: pd.DataFrame, lines: pd.DataFrame, factors, *, empty_year: int
               ) -> tuple[pd.DataFrame, list[Issue]]:
    """``line_daily`` rows: unit energy, output, energy (both bases), own electricity and
    ``completeness_frac`` (mean over the line's meters) per (day, line)."""
    le, i1 = line_energy(md, energy, lines, factors, empty_year=empty_year)
    upe, i2 = unit_energy_by_day(le, line_output(md), lines, factors)
    if upe.empty:
        return upe.assign(**{c: pd.Series(dtype=float) for c in (*TCE_COLUMNS, "electricity_kwh",
                                                                    "completeness_frac")}), i1 + i2
    out = upe.drop(columns=["indicator_unit", "output_unit"]).merge(
        le[["day", "line", *TCE_COLUMNS, "electricity_kwh"]], on=["day", "line"], how="left")
    comp = md.groupby(["day", "line"])["completeness_frac"].mean()
    out["completeness_frac"] = comp.reindex(pd.MultiIndex.from_frame(out[["day", "line"]])).to_numpy()
    return out, i1 + i2


def enterprise_day_kpis(md: pd.DataFrame, energy: pd.DataFrame, enterprise_ids: list[str],
                        table_version: str, last_days: dict | None = None) -> pd.DataFrame:
    """``kpi_daily`` rows before the status rule: Σ included energy/CO2 per enterprise-day (NaN
    when nothing was counted), ``completeness_frac`` = mean over the enterprise's counter meters
    (0 without any), for every registry enterprise and every day of ``md`` — except the days after
    an enterprise's entry in ``last_days`` (``Registry.last_days()``: it was offboarded; a day
    outside its scope is neither measured nor missing, and 同口径 comparisons see those days as not
    covered, ecm.accounting.comparable)."""
    days = sorted(md["day"].unique())
    full = pd.MultiIndex.from_product([days, enterprise_ids], names=["day", "enterprise"])
    if last_days:
        full = full[[e not in last_days or d <= last_days[e] for d, e in full]]
    inc = energy[energy["included"].astype(bool)] if len(energy) else energy
    kpi = inc.groupby(["day", "enterprise"])[[*TCE_COLUMNS, "co2_t"]].sum(min_count=1).reindex(full)
    kpi["completeness_frac"] = md.groupby(["day", "enterprise"])["completeness_frac"].mean().reindex(full).fillna(0.0)
    kpi = kpi.reset_index()
    kpi["factor_table_version"] = table_version
    return kpi

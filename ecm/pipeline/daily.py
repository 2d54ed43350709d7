"""Daily KPIs per enterprise: counters → consumption → tce, CO2, unit product energy, gates.

Read (``readings`` for the Beijing day plus each meter's carry-in reading) → pure functions
(``ecm.accounting``, ``ecm.quality_frames``) → write (``energy_daily``, ``line_daily``,
``kpi_daily``, ``dq_result``). Every write first clears the day's partition, so re-running a day
gives the same points and rows that disappeared (e.g. an enterprise now data-insufficient) go too.

Boundary rules (documented in docs/contracts.md §2.2):
* enterprise comprehensive energy = Σ ``role: main`` meters per carrier (sub-meters are inside a
  main meter and are used only to split energy between lines);
* line energy = the line's own meters + the plant's unmetered remainder (Σ main − Σ line-assigned,
  per carrier) shared in proportion to the lines' directly metered tce (auxiliary systems are part
  of unit product comprehensive energy under GB 21252 / GB 30526);
* ``kwh_per_t`` indicators (cement preparation section) use the line's own electricity only.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from ecm.accounting.carbon import consumption_to_co2
from ecm.accounting.counters import counters_to_deltas, deltas_to_periods
from ecm.accounting.energy import consumption_to_tce, unit_product_energy
from ecm.accounting.issues import Issue
from ecm.periods import TZ, day_bounds_utc, month_bounds_utc
from ecm.pipeline.readings import load_readings

log = logging.getLogger("ecm.pipeline.daily")

ENERGY_DAILY, LINE_DAILY, KPI_DAILY = "energy_daily", "line_daily", "kpi_daily"
OUTPUT = "output"
DATA_OK, DATA_INSUFFICIENT = "ok", "data_insufficient"


@dataclass
class DayFrames:
    """Everything computed for one day (frames in memory; written by :func:`write_day`)."""

    day: date
    meter_day: pd.DataFrame
    energy_daily: pd.DataFrame
    line_daily: pd.DataFrame
    kpi_daily: pd.DataFrame
    dq: list = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)


def _chunks(ids: list[str], n: int) -> list[list[str]]:
    return [ids[i:i + n] for i in range(0, len(ids), n)] or [[]]


def _flags_frame(deltas: pd.DataFrame) -> pd.DataFrame:
    """(meter, time, flag) rows for flagged intervals, as ecm.quality_frames expects."""
    f = deltas.loc[deltas["flags"] != "", ["meter", "end", "flags"]]
    if f.empty:
        return pd.DataFrame(columns=["meter", "time", "flag"])
    f = f.assign(flag=f["flags"].str.split(",")).explode("flag")
    return f.rename(columns={"end": "time"})[["meter", "time", "flag"]]


def meter_day_consumption(client, registry, day: date, *, chunk_enterprises: int = 40,
                          with_quality: bool = True):
    """Per counter meter: the day's consumption (``delta``, physical unit), ``completeness_frac``
    and ``flags``; plus the readings_daily quality metrics when ``with_quality``.

    Loads readings enterprise-chunk by chunk to bound memory on large districts.
    """
    from ecm.quality_frames import readings_daily_metrics

    meters = registry.meters_frame()
    counters = meters[meters["kind"] == "counter"]
    quantities = sorted(meters["quantity"].unique() if with_quality else counters["quantity"].unique())
    start, end = day_bounds_utc(day)
    parts, metrics, issues = [], [], []
    for chunk in _chunks(registry.enterprise_ids, chunk_enterprises):
        r = load_readings(client, quantities, start, end, enterprises=chunk)
        rc = r[r["meter"].isin(counters.index)]
        deltas, iss = counters_to_deltas(rc, counters)
        issues += iss
        per, _ = deltas_to_periods(deltas, "1D", TZ, window=(start, end))
        # meters without any reading still get a row (completeness 0)
        present = set(per["meter"])
        missing = counters[counters["enterprise"].isin(chunk) & ~counters.index.isin(present)]
        if len(missing):
            per = pd.concat([per, pd.DataFrame({"enterprise": missing["enterprise"], "meter": missing.index,
                                                "delta": np.nan, "n_intervals": 0, "completeness_frac": 0.0,
                                                "flags": ""})], ignore_index=True)
        parts.append(per[["enterprise", "meter", "delta", "n_intervals", "completeness_frac", "flags"]])
        if with_quality:
            metrics.append(readings_daily_metrics(r, meters, day, flags=_flags_frame(deltas)))
    md = pd.concat(parts, ignore_index=True)
    md = md.merge(counters[["carrier", "quantity", "role", "line"]], left_on="meter", right_index=True, how="left")
    qm = pd.concat(metrics, ignore_index=True) if metrics else None
    return md, qm, issues


def _energy_daily(md: pd.DataFrame, factors, year: int) -> tuple[pd.DataFrame, list[Issue]]:
    main = md[(md["role"] == "main") & (md["carrier"] != OUTPUT)]
    g = main.groupby(["enterprise", "carrier", "quantity"], as_index=False).agg(
        value=("delta", lambda s: s.sum(min_count=1)), completeness_frac=("completeness_frac", "mean"))
    tce, i1 = consumption_to_tce(g, factors, year=year)
    co2, i2 = consumption_to_co2(g, factors, year=year)
    tce["co2_t"] = co2["co2_t"].to_numpy()
    tce["co2_factor_vintage"] = co2["factor_vintage"].to_numpy()
    return tce, i1 + i2


def _line_energy(md: pd.DataFrame, energy: pd.DataFrame, lines: pd.DataFrame, factors, year: int):
    """Energy per line: own meters + share of the plant remainder (see module doc)."""
    fuel = md[(md["carrier"] != OUTPUT) & md["line"].notna()]
    own = fuel.groupby(["enterprise", "line", "carrier"], as_index=False)["delta"].sum(min_count=1)
    own = own.rename(columns={"delta": "value"})
    own_tce, _ = consumption_to_tce(own, factors, year=year)
    assigned = own.groupby(["enterprise", "carrier"])["value"].sum()
    total = energy.set_index(["enterprise", "carrier"])["value"]
    remainder = (total.sub(assigned, fill_value=0)).clip(lower=0).rename("value").reset_index()
    remainder = remainder[remainder["enterprise"].isin(lines["enterprise"])]
    rem_tce, _ = consumption_to_tce(remainder, factors, year=year)
    rem_by_ent = rem_tce[rem_tce["included"]].groupby("enterprise")[["energy_tce", "energy_tce_generation"]].sum()
    by_line = own_tce[own_tce["included"]].groupby(["enterprise", "line"], as_index=False)[
        ["energy_tce", "energy_tce_generation"]].sum()
    ln = lines[["line", "enterprise"]].reset_index(drop=True).merge(by_line, on=["enterprise", "line"], how="left")
    ln[["energy_tce", "energy_tce_generation"]] = ln[["energy_tce", "energy_tce_generation"]].fillna(0.0)
    share = ln["energy_tce"] / ln.groupby("enterprise")["energy_tce"].transform("sum")
    n_lines = ln.groupby("enterprise")["line"].transform("count")
    share = share.where(share.notna() & np.isfinite(share), 1.0 / n_lines)
    for col in ("energy_tce", "energy_tce_generation"):
        ln[col] = ln[col] + share * ln["enterprise"].map(rem_by_ent[col]).fillna(0.0)
    elec = fuel[fuel["carrier"] == "electricity"].groupby("line")["delta"].sum(min_count=1)
    ln["electricity_kwh"] = ln["line"].map(elec)
    return ln


def _line_output(md: pd.DataFrame) -> pd.DataFrame:
    out = md[(md["carrier"] == OUTPUT) & md["line"].notna()]
    wide = out.pivot_table(index="line", columns="quantity", values="delta", aggfunc="sum")
    return wide.reset_index()


def compute_day(client, registry, factors, day: date, *, gate_readings: bool = True,
                chunk_enterprises: int = 40) -> DayFrames:
    """All daily frames for ``day`` (no writes). ``gate_readings=False`` skips the raw-readings
    suite (historical imports at daily resolution, where interval completeness does not apply)."""
    from ecm.quality import run_suite

    md, qmetrics, issues = meter_day_consumption(client, registry, day, chunk_enterprises=chunk_enterprises,
                                                 with_quality=gate_readings)
    dq = [run_suite("readings_daily", qmetrics, period=day.isoformat())] if gate_readings else []
    energy, iss = _energy_daily(md, factors, day.year)
    issues += iss
    lines = registry.lines_frame()
    line_energy = _line_energy(md, energy, lines, factors, day.year)
    upe, iss = unit_product_energy(line_energy, _line_output(md), lines, factors)
    issues += iss
    line_daily = upe.drop(columns=["indicator_unit", "output_unit"]).merge(
        line_energy[["line", "energy_tce", "energy_tce_generation", "electricity_kwh"]], on="line", how="left")
    comp = md.groupby("line")["completeness_frac"].mean()
    line_daily["completeness_frac"] = line_daily["line"].map(comp)
    inc = energy[energy["included"]]
    kpi = inc.groupby("enterprise")[["energy_tce", "energy_tce_generation", "co2_t"]].sum(min_count=1)
    kpi["completeness_frac"] = md.groupby("enterprise")["completeness_frac"].mean()
    kpi = kpi.reindex(registry.enterprise_ids).rename_axis("enterprise").reset_index()
    kpi["completeness_frac"] = kpi["completeness_frac"].fillna(0.0)
    kpi["factor_table_version"] = factors.table_version
    return DayFrames(day, md, energy, line_daily, kpi, dq, issues)


def gate_aggregates(frames: DayFrames, client, registry) -> None:
    """Run the aggregates suite on the in-memory frames (plus the month's other stored days)."""
    from ecm.quality import load_bounds, run_suite
    from ecm.quality_frames import aggregates_daily_metrics

    start, _ = day_bounds_utc(frames.day)
    m0, _ = month_bounds_utc(frames.day)
    from ecm.influx import time_literal

    others = client.query_frame(f"SELECT energy_tce FROM {KPI_DAILY} WHERE time >= {time_literal(m0)} "
                                f"AND time < {time_literal(start)} GROUP BY enterprise")
    month_days = pd.concat([others[["enterprise", "energy_tce"]] if len(others) else None,
                            frames.kpi_daily[["enterprise", "energy_tce"]]], ignore_index=True)
    metrics = aggregates_daily_metrics(frames.day, registry.lines_frame(), load_bounds(),
                                       kpi_daily=frames.kpi_daily.dropna(subset=["energy_tce"]),
                                       energy_daily=frames.energy_daily, line_daily=frames.line_daily,
                                       month_kpi_daily=month_days, kpi_monthly=None)
    frames.dq.append(run_suite("aggregates_daily", metrics, period=frames.day.isoformat()))


def apply_status(frames: DayFrames, extra_blocked: set[str] | frozenset = frozenset()) -> set[str]:
    """Mark blocked enterprises ``data_insufficient`` (critical DQ failures in ``frames.dq`` or
    ``extra_blocked`` from an earlier gate): their numbers are not published."""
    from ecm.quality import blocking_enterprises

    blocked = blocking_enterprises(frames.dq, frames.day.isoformat()) | set(extra_blocked)
    k = frames.kpi_daily
    k["data_status"] = np.where(k["enterprise"].isin(blocked), DATA_INSUFFICIENT, DATA_OK)
    k.loc[k["enterprise"].isin(blocked), ["energy_tce", "energy_tce_generation", "co2_t"]] = np.nan
    frames.energy_daily = frames.energy_daily[~frames.energy_daily["enterprise"].isin(blocked)]
    frames.line_daily = frames.line_daily[~frames.line_daily["enterprise"].isin(blocked)]
    return blocked


def _wide_physical(energy: pd.DataFrame) -> pd.DataFrame:
    """energy_daily rows with the physical amount in a field named by its quantity (gas_m3 …)."""
    out = energy[["enterprise", "carrier", "energy_tce", "energy_tce_generation", "co2_t", "completeness_frac",
                  "factor_table_version"]].copy()
    out["included"] = energy["included"].astype(int)
    for q in sorted(energy["quantity"].unique()):
        out[q] = np.where(energy["quantity"] == q, energy["value"], np.nan)
    return out


def write_day(client, frames: DayFrames) -> int:
    """Clear the day's partition of the derived measurements and write the frames + DQ results."""
    from ecm.quality import write_results

    start, end = day_bounds_utc(frames.day)
    for m in (ENERGY_DAILY, LINE_DAILY, KPI_DAILY):
        client.delete_range(m, start, end)
    n = 0
    e = _wide_physical(frames.energy_daily).assign(time=start)
    n += client.write_frame(e, ENERGY_DAILY, ["enterprise", "carrier"])
    ld = frames.line_daily.assign(time=start)
    ld = ld.dropna(axis=1, how="all")
    n += client.write_frame(ld, LINE_DAILY, ["enterprise", "line", "product_class"])
    n += client.write_frame(frames.kpi_daily.assign(time=start), KPI_DAILY, ["enterprise"])
    if frames.dq:
        n += write_results(client, frames.dq)
    return n


def run_days(days: list[date], *, client=None, registry=None, factors=None, gate: str = "inline",
             blocked: dict[str, list[str]] | None = None, progress=None) -> dict[str, list[str]]:
    """Compute and write each day; returns {day: data-insufficient enterprises}.

    ``gate``: ``inline`` runs the readings suite in the same pass; ``given`` uses ``blocked``
    from an earlier gate task; ``history`` skips the readings suite (daily-resolution imports).
    The aggregates suite always runs.
    """
    from ecm.factors import get_factors
    from ecm.influx import InfluxClient
    from ecm.registry import get_registry

    client = client or InfluxClient.from_settings()
    registry = registry or get_registry()
    factors = factors or get_factors()
    out = {}
    for day in days:
        frames = compute_day(client, registry, factors, day, gate_readings=(gate == "inline"))
        gate_aggregates(frames, client, registry)
        extra = set((blocked or {}).get(day.isoformat(), [])) if gate == "given" else set()
        out[day.isoformat()] = sorted(apply_status(frames, extra))
        write_day(client, frames)
        if progress:
            progress(day)
    return out


def run_quality_gate(days: list[str]) -> dict[str, list[str]]:
    """DAG task: the raw-readings suite per day → {day: enterprises whose KPIs are blocked}."""
    from ecm.influx import InfluxClient
    from ecm.quality import blocking_enterprises, run_suite, write_results
    from ecm.registry import get_registry

    client, registry = InfluxClient.from_settings(), get_registry()
    out = {}
    for d in days:
        day = date.fromisoformat(d)
        _, metrics, _ = meter_day_consumption(client, registry, day)
        res = [run_suite("readings_daily", metrics, period=d)]
        write_results(client, res)
        out[d] = sorted(blocking_enterprises(res, d))
    return out


def compute_daily_kpis(days: list[str], blocked: dict[str, list[str]]) -> list[str]:
    """DAG task: compute and write the daily KPIs of ``days`` with the gate's verdicts."""
    run_days([date.fromisoformat(d) for d in days], gate="given", blocked=blocked)
    return days

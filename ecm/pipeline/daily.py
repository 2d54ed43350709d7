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
from datetime import date, timedelta

import numpy as np
import pandas as pd

from ecm.accounting.carbon import consumption_to_co2
from ecm.accounting.counters import counters_to_deltas, deltas_to_periods
from ecm.accounting.energy import consumption_to_tce, unit_product_energy
from ecm.accounting.issues import Issue
from ecm.periods import TZ, day_bounds_utc, month_bounds_utc
from ecm.pipeline.readings import load_readings
from ecm.schema import MEAS_ENERGY_DAILY as ENERGY_DAILY
from ecm.schema import MEAS_KPI_DAILY as KPI_DAILY
from ecm.schema import MEAS_LINE_DAILY as LINE_DAILY

log = logging.getLogger("ecm.pipeline.daily")

OUTPUT = "output"
DATA_OK, DATA_INSUFFICIENT = "ok", "data_insufficient"


@dataclass
class DayFrames:
    """Everything computed for one day (frames in memory; written by :func:`write_day`)."""

    day: date
    last: date
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


def meter_day_consumption(client, registry, first: date, last: date | None = None, *,
                          chunk_enterprises: int = 20, with_quality: bool = True):
    """Per counter meter and Beijing day in [first, last]: consumption (``delta``, physical unit),
    ``completeness_frac``, ``flags``, plus the readings_daily quality metrics (single day only)
    when ``with_quality``. Loads readings enterprise-chunk by chunk to bound memory."""
    from ecm.quality_frames import readings_daily_metrics

    last = last or first
    with_quality = with_quality and first == last
    meters = registry.meters_frame()
    counters = meters[meters["kind"] == "counter"]
    quantities = sorted(meters["quantity"].unique() if with_quality else counters["quantity"].unique())
    start, _ = day_bounds_utc(first)
    _, end = day_bounds_utc(last)
    n_days = (last - first).days + 1
    parts, metrics, issues = [], [], []
    for chunk in _chunks(registry.enterprise_ids, chunk_enterprises):
        r = load_readings(client, quantities, start, end, enterprises=chunk)
        rc = r[r["meter"].isin(counters.index)]
        deltas, iss = counters_to_deltas(rc, counters)
        issues += iss
        per, _ = deltas_to_periods(deltas, "1D", TZ, window=(start, end))
        per["day"] = per["period_start"].dt.date
        # meters without any reading in the window still get rows (completeness 0)
        missing = counters[counters["enterprise"].isin(chunk) & ~counters.index.isin(set(per["meter"]))]
        if len(missing):
            days = [first + timedelta(days=i) for i in range(n_days)]
            idx = pd.MultiIndex.from_product([missing.index, days], names=["meter", "day"]).to_frame(index=False)
            idx["enterprise"] = idx["meter"].map(missing["enterprise"])
            per = pd.concat([per, idx.assign(delta=np.nan, n_intervals=0, completeness_frac=0.0, flags="")],
                            ignore_index=True)
        parts.append(per[["day", "enterprise", "meter", "delta", "n_intervals", "completeness_frac", "flags"]])
        if with_quality:
            # only this chunk's meters: the others would show up as silent (completeness 0)
            metrics.append(readings_daily_metrics(r, meters[meters["enterprise"].isin(chunk)], first,
                                                  flags=_flags_frame(deltas)))
    md = pd.concat(parts, ignore_index=True)
    md = md.merge(counters[["carrier", "quantity", "role", "line"]], left_on="meter", right_index=True, how="left")
    qm = pd.concat(metrics, ignore_index=True) if metrics else None
    return md, qm, issues


def _by_year(frame: pd.DataFrame, fn, factors) -> tuple[pd.DataFrame, list[Issue]]:
    """Apply a factor function (year-dependent vintages) to each calendar year of ``frame.day``."""
    parts, issues = [], []
    for year, g in frame.groupby(frame["day"].map(lambda d: d.year)):
        out, iss = fn(g, factors, year=int(year))
        parts.append(out)
        issues += iss
    if not parts:
        out, iss = fn(frame, factors, year=2022)
        return out, iss
    return pd.concat(parts, ignore_index=True), issues


def _energy_daily(md: pd.DataFrame, factors) -> tuple[pd.DataFrame, list[Issue]]:
    main = md[(md["role"] == "main") & (md["carrier"] != OUTPUT)]
    g = main.groupby(["day", "enterprise", "carrier", "quantity"], as_index=False).agg(
        value=("delta", lambda s: s.sum(min_count=1)), completeness_frac=("completeness_frac", "mean"))
    tce, i1 = _by_year(g, consumption_to_tce, factors)
    co2, i2 = _by_year(g, consumption_to_co2, factors)
    co2 = co2.set_index(["day", "enterprise", "carrier"])
    key = pd.MultiIndex.from_frame(tce[["day", "enterprise", "carrier"]])
    tce["co2_t"] = co2["co2_t"].reindex(key).to_numpy()
    tce["co2_factor_vintage"] = co2["factor_vintage"].reindex(key).to_numpy()
    return tce, i1 + i2


def _line_energy(md: pd.DataFrame, energy: pd.DataFrame, lines: pd.DataFrame, factors) -> pd.DataFrame:
    """Energy per line and day: own meters + share of the plant remainder (see module doc)."""
    fuel = md[(md["carrier"] != OUTPUT) & md["line"].notna()]
    own = fuel.groupby(["day", "enterprise", "line", "carrier"], as_index=False)["delta"].sum(min_count=1)
    own = own.rename(columns={"delta": "value"})
    own_tce, _ = _by_year(own, consumption_to_tce, factors)
    assigned = own.groupby(["day", "enterprise", "carrier"])["value"].sum()
    total = energy.set_index(["day", "enterprise", "carrier"])["value"]
    remainder = total.sub(assigned, fill_value=0).clip(lower=0).rename("value").reset_index()
    remainder = remainder[remainder["enterprise"].isin(lines["enterprise"])]
    rem_tce, _ = _by_year(remainder, consumption_to_tce, factors)
    cols = ["energy_tce", "energy_tce_generation"]
    rem = rem_tce[rem_tce["included"]].groupby(["day", "enterprise"])[cols].sum()
    by_line = own_tce[own_tce["included"]].groupby(["day", "enterprise", "line"])[cols].sum()
    days = pd.DataFrame({"day": sorted(md["day"].unique())})
    ln = days.merge(lines[["line", "enterprise"]].reset_index(drop=True), how="cross")
    ln = ln.merge(by_line.reset_index(), on=["day", "enterprise", "line"], how="left")
    ln[cols] = ln[cols].fillna(0.0)
    grp = ln.groupby(["day", "enterprise"])
    share = ln["energy_tce"] / grp["energy_tce"].transform("sum")
    share = share.where(np.isfinite(share), 1.0 / grp["line"].transform("count"))
    rem_rows = rem.reindex(pd.MultiIndex.from_frame(ln[["day", "enterprise"]]))
    for col in cols:
        ln[col] = ln[col] + share * rem_rows[col].fillna(0.0).to_numpy()
    elec = fuel[fuel["carrier"] == "electricity"].groupby(["day", "line"])["delta"].sum(min_count=1)
    ln["electricity_kwh"] = elec.reindex(pd.MultiIndex.from_frame(ln[["day", "line"]])).to_numpy()
    return ln


def _line_output(md: pd.DataFrame) -> pd.DataFrame:
    out = md[(md["carrier"] == OUTPUT) & md["line"].notna()]
    wide = out.pivot_table(index=["day", "line"], columns="quantity", values="delta", aggfunc="sum")
    wide.columns.name = None
    return wide.reset_index()


def _unit_energy_by_day(line_energy: pd.DataFrame, output: pd.DataFrame, lines: pd.DataFrame, factors):
    """unit_product_energy over (line, day) pairs, keyed as ``line|day`` so one call covers all days."""
    def key(df):
        return df.assign(line=df["line"] + "|" + df["day"].map(date.isoformat)).drop(columns="day")

    days = sorted(line_energy["day"].unique())
    lx = pd.DataFrame({"day": days}).merge(lines.reset_index(drop=True), how="cross")
    upe, issues = unit_product_energy(key(line_energy), key(output) if len(output) else output, key(lx), factors)
    split = upe["line"].str.split("|", n=1, expand=True)
    upe["line"], upe["day"] = split[0], split[1].map(date.fromisoformat)
    return upe, issues


def compute_day(client, registry, factors, first: date, last: date | None = None, *, gate_readings: bool = True,
                chunk_enterprises: int = 20, meter_days=None) -> DayFrames:
    """All daily frames for Beijing days [first, last] (no writes); every frame has a ``day``
    column. ``gate_readings=False`` skips the raw-readings suite (historical imports at daily
    resolution, where interval completeness does not apply); it only runs for a single day.
    ``meter_days`` replaces :func:`meter_day_consumption` (same signature and result), e.g.
    ``ecm.pipeline.rollup_source.meter_day_from_hourly`` once raw readings have expired."""
    from ecm.quality import run_suite

    last = last or first
    md, qmetrics, issues = (meter_days or meter_day_consumption)(
        client, registry, first, last, chunk_enterprises=chunk_enterprises, with_quality=gate_readings)
    dq = [run_suite("readings_daily", qmetrics, period=first.isoformat())] if qmetrics is not None else []
    energy, iss = _energy_daily(md, factors)
    issues += iss
    lines = registry.lines_frame()
    line_energy = _line_energy(md, energy, lines, factors)
    upe, iss = _unit_energy_by_day(line_energy, _line_output(md), lines, factors)
    issues += iss
    line_daily = upe.drop(columns=["indicator_unit", "output_unit"]).merge(
        line_energy[["day", "line", "energy_tce", "energy_tce_generation", "electricity_kwh"]],
        on=["day", "line"], how="left")
    comp = md.groupby(["day", "line"])["completeness_frac"].mean()
    line_daily["completeness_frac"] = comp.reindex(pd.MultiIndex.from_frame(line_daily[["day", "line"]])).to_numpy()
    inc = energy[energy["included"]]
    kpi = inc.groupby(["day", "enterprise"])[["energy_tce", "energy_tce_generation", "co2_t"]].sum(min_count=1)
    full = pd.MultiIndex.from_product([sorted(md["day"].unique()), registry.enterprise_ids], names=["day", "enterprise"])
    kpi = kpi.reindex(full)
    kpi["completeness_frac"] = md.groupby(["day", "enterprise"])["completeness_frac"].mean().reindex(full).fillna(0.0)
    kpi = kpi.reset_index()
    kpi["factor_table_version"] = factors.table_version
    return DayFrames(first, last, md, energy, line_daily, kpi, dq, issues)


def gate_aggregates(frames: DayFrames, client, registry) -> None:
    """Run the aggregates suite on the in-memory frames (plus the month's other stored days)."""
    from ecm.quality import load_bounds, run_suite
    from ecm.quality_frames import aggregates_daily_metrics

    from ecm.influx import time_literal

    start, _ = day_bounds_utc(frames.day)
    m0, _ = month_bounds_utc(frames.day)
    others = client.query_frame(f"SELECT energy_tce FROM {KPI_DAILY} WHERE time >= {time_literal(m0)} "
                                f"AND time < {time_literal(start)} GROUP BY enterprise")
    month_days = pd.concat([others[["enterprise", "energy_tce"]] if len(others) else None,
                            frames.kpi_daily[["enterprise", "energy_tce"]]], ignore_index=True)
    metrics = aggregates_daily_metrics(frames.day, registry.lines_frame().drop(columns="line"), load_bounds(),
                                       kpi_daily=frames.kpi_daily.dropna(subset=["energy_tce"]),
                                       energy_daily=frames.energy_daily, line_daily=frames.line_daily,
                                       month_kpi_daily=month_days, kpi_monthly=None)
    frames.dq.append(run_suite("aggregates_daily", metrics, period=frames.day.isoformat()))


HISTORY_MIN_COMPLETENESS_FRAC = 0.9


def apply_status(frames: DayFrames, extra_blocked: set[str] | frozenset = frozenset()) -> dict[str, list[str]]:
    """Mark blocked enterprise-days ``data_insufficient``: their numbers are not published.

    Blocked: critical DQ failures in ``frames.dq`` or ``extra_blocked`` (an earlier gate task),
    for the frames' first day; without any DQ result (historical multi-day imports) an
    enterprise-day whose interval coverage is below 90% (the national completeness rule).
    Returns {day: blocked enterprises}.
    """
    from ecm.quality import blocking_enterprises

    k = frames.kpi_daily
    if frames.dq or extra_blocked:
        ents = blocking_enterprises(frames.dq, frames.day.isoformat()) | set(extra_blocked)
        bad = (k["day"] == frames.day) & k["enterprise"].isin(ents)
    else:
        bad = k["completeness_frac"] < HISTORY_MIN_COMPLETENESS_FRAC
    k["data_status"] = np.where(bad, DATA_INSUFFICIENT, DATA_OK)
    k.loc[bad, ["energy_tce", "energy_tce_generation", "co2_t"]] = np.nan
    pairs = set(zip(k.loc[bad, "day"], k.loc[bad, "enterprise"]))
    for name in ("energy_daily", "line_daily"):
        f = getattr(frames, name)
        drop = pd.Series([(d, e) in pairs for d, e in zip(f["day"], f["enterprise"])], index=f.index, dtype=bool)
        setattr(frames, name, f[~drop])
    out: dict[str, list[str]] = {}
    for d, e in sorted(pairs):
        out.setdefault(d.isoformat(), []).append(e)
    return out


def _wide_physical(energy: pd.DataFrame) -> pd.DataFrame:
    """energy_daily rows with the physical amount in a field named by its quantity (gas_m3 …)."""
    out = energy[["day", "enterprise", "carrier", "energy_tce", "energy_tce_generation", "co2_t", "completeness_frac",
                  "factor_table_version"]].copy()
    out["included"] = energy["included"].astype(int)
    for q in sorted(energy["quantity"].unique()):
        out[q] = np.where(energy["quantity"] == q, energy["value"], np.nan)
    return out


def write_day(client, frames: DayFrames) -> int:
    """Clear the day's partition of the derived measurements and write the frames + DQ results."""
    from ecm.quality import write_results

    start, _ = day_bounds_utc(frames.day)
    _, end = day_bounds_utc(frames.last)
    for m in (ENERGY_DAILY, LINE_DAILY, KPI_DAILY):
        client.delete_range(m, start, end)

    def timed(df: pd.DataFrame) -> pd.DataFrame:
        t = pd.to_datetime(df["day"].map(date.isoformat)).dt.tz_localize(TZ).dt.tz_convert("UTC")
        return df.drop(columns="day").assign(time=t.to_numpy())

    n = 0
    e = _wide_physical(frames.energy_daily)
    n += client.write_frame(timed(e), ENERGY_DAILY, ["enterprise", "carrier"])
    ld = timed(frames.line_daily).dropna(axis=1, how="all")
    n += client.write_frame(ld, LINE_DAILY, ["enterprise", "line", "product_class"])
    n += client.write_frame(timed(frames.kpi_daily), KPI_DAILY, ["enterprise"])
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
    out: dict[str, list[str]] = {}
    if gate == "history":  # contiguous runs of up to a month in one vectorised pass
        days = sorted(days)
        runs: list[list[date]] = []
        for d in days:
            if runs and (d - runs[-1][-1]).days == 1 and len(runs[-1]) < 31:
                runs[-1].append(d)
            else:
                runs.append([d])
        for run in runs:
            frames = compute_day(client, registry, factors, run[0], run[-1], gate_readings=False)
            status = apply_status(frames)
            write_day(client, frames)
            for d in run:
                out[d.isoformat()] = status.get(d.isoformat(), [])
                if progress:
                    progress(d)
        return out
    for day in days:
        frames = compute_day(client, registry, factors, day, gate_readings=(gate == "inline"))
        gate_aggregates(frames, client, registry)
        extra = set((blocked or {}).get(day.isoformat(), [])) if gate == "given" else set()
        out[day.isoformat()] = apply_status(frames, extra).get(day.isoformat(), [])
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

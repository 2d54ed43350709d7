"""Daily KPIs per enterprise: load → ``ecm.accounting`` → write.

Load ``readings`` for the Beijing day plus each meter's carry-in reading; call the accounting
(``counters`` → ``allocation`` → ``status``, and the data-quality frames); write ``energy_daily``,
``line_daily``, ``kpi_daily`` and ``dq_result`` (the GX suites, and suite ``accounting_daily``: every
accounting issue of the day, so issues are results). Every write first clears the day's partition,
so re-running a day gives the same points and rows that disappeared (e.g. an enterprise now
data-insufficient) go too. The rules live in ``ecm/accounting/`` (docs/contracts.md §2.2).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple

import numpy as np
import pandas as pd

from ecm.accounting import allocation, status
from ecm.accounting.counters import counter_flags, counters_to_deltas, deltas_to_periods
from ecm.accounting.gaps import apportion_gaps, days_reopened
from ecm.accounting.issues import Issue, blocked_pairs, issue_records
from ecm.periods import TZ, day_bounds_utc
from ecm.pipeline.readings import load_readings
from ecm.schema import MEAS_DQ_RESULT as DQ_RESULT
from ecm.schema import MEAS_ENERGY_DAILY as ENERGY_DAILY
from ecm.schema import MEAS_KPI_DAILY as KPI_DAILY
from ecm.schema import MEAS_LINE_DAILY as LINE_DAILY
from ecm.schema import SUITE_ACCOUNTING_DAILY

log = logging.getLogger("ecm.pipeline.daily")

DATA_OK, DATA_INSUFFICIENT = status.DATA_OK, status.DATA_INSUFFICIENT
HISTORY_MIN_COMPLETENESS_FRAC = status.HISTORY_MIN_COMPLETENESS_FRAC


@dataclass
class DayFrames:
    """Everything computed for Beijing days [day, last] (frames in memory; written by :func:`write_day`)."""

    day: date
    last: date
    meter_day: pd.DataFrame
    energy_daily: pd.DataFrame
    line_daily: pd.DataFrame
    kpi_daily: pd.DataFrame
    dq: list = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    records: pd.DataFrame | None = None   #: issues located (issue_records), set by apply_status
    reopened: tuple = ()                  #: earlier days a gap closing here spans (recomputed by run_days)


class MeterDays(NamedTuple):
    meter_day: pd.DataFrame        #: per counter meter and day: delta, completeness_frac, flags, …
    quality: pd.DataFrame | None   #: readings_daily metrics (single day with quality only)
    issues: list[Issue]            #: counter issues
    reopened: tuple = ()           #: earlier days a gap closing in this window also spans (recompute them)


#: how far past the window the first reading is looked for, so a gap open at midnight is apportioned
GAP_CARRY_OUT = pd.Timedelta(days=8)


def _chunks(ids: list[str], n: int) -> list[list[str]]:
    return [ids[i:i + n] for i in range(0, len(ids), n)] or [[]]


def meter_day_consumption(client, registry, first: date, last: date | None = None, *,
                          chunk_enterprises: int = 20, with_quality: bool = True) -> MeterDays:
    """Per counter meter and Beijing day in [first, last]: consumption (``delta``, physical unit),
    ``completeness_frac``, ``flags``, plus the readings_daily quality metrics (single day only)
    when ``with_quality``. Loads readings enterprise-chunk by chunk to bound memory."""
    from ecm.quality_frames import readings_daily_metrics

    last = last or first
    with_quality = with_quality and first == last
    meters = registry.meters_frame()
    counters = meters[meters["kind"] == "counter"]
    quantities = sorted(meters["quantity"].unique() if with_quality else counters["quantity"].unique())
    start = day_bounds_utc(first)[0]
    _, end = day_bounds_utc(last)
    n_days = (last - first).days + 1
    parts, metrics, issues = [], [], []
    reopened: set = set()
    for chunk in _chunks(registry.enterprise_ids, chunk_enterprises):
        r = load_readings(client, quantities, start, end, carry_out=GAP_CARRY_OUT, enterprises=chunk)
        rc = r[r["meter"].isin(counters.index)]
        deltas, iss = counters_to_deltas(rc, counters)
        issues += iss
        reopened.update(days_reopened(deltas, start))
        # a gap spanning midnight is shared linearly over the days it spans (flag estimated)
        split, iss = apportion_gaps(deltas, "1D", TZ)
        issues += iss
        per, iss = deltas_to_periods(split, "1D", TZ, window=(start, end))
        issues += iss
        deltas = deltas[deltas["end"] <= end]     # the quality metrics judge the window's own readings
        r = r[r["time"] <= end]
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
                                                  flags=counter_flags(deltas)))
    md = pd.concat(parts, ignore_index=True)
    md = md.merge(counters[["carrier", "quantity", "role", "line", "decommissioned"]], left_on="meter",
                  right_index=True, how="left")
    qm = pd.concat(metrics, ignore_index=True) if metrics else None
    return MeterDays(md, qm, issues, tuple(sorted(reopened)))


def compute_day(client, registry, factors, first: date, last: date | None = None, *, gate_readings: bool = True,
                chunk_enterprises: int = 20, meter_days=None) -> DayFrames:
    """All daily frames for Beijing days [first, last] (no writes); every frame has a ``day``
    column. ``gate_readings=False`` skips the raw-readings suite (historical imports at daily
    resolution, where interval completeness does not apply); it only runs for a single day.
    ``meter_days`` replaces :func:`meter_day_consumption` (same signature and result), e.g.
    ``ecm.pipeline.rollup_source.meter_day_from_hourly`` once raw readings have expired."""
    from ecm.pipeline.rollup_source import meter_day_from_hourly
    from ecm.quality import run_suite

    last = last or first
    if meter_days is None:  # the nightly run builds on meter_hourly; multi-day imports read raw readings
        meter_days = meter_day_from_hourly if (gate_readings and first == last) else meter_day_consumption
    res = meter_days(
        client, registry, first, last, chunk_enterprises=chunk_enterprises, with_quality=gate_readings)
    md, qmetrics, issues = res[0], res[1], res[2]
    reopened = res[3] if len(res) > 3 else ()
    md = allocation.in_service(md)
    dq = [run_suite("readings_daily", qmetrics, period=first.isoformat())] if qmetrics is not None else []
    energy, iss = allocation.enterprise_energy(md, factors, empty_year=first.year)
    issues += iss
    line_daily, iss = allocation.line_daily(md, energy, registry.lines_frame(), factors, empty_year=first.year)
    issues += iss
    kpi = allocation.enterprise_day_kpis(md, energy, registry.enterprise_ids, factors.table_version,
                                         registry.last_days())
    return DayFrames(first, last, md, energy, line_daily, kpi, dq, issues, reopened=reopened)


def gate_aggregates(frames: DayFrames, client, registry) -> None:
    """Run the aggregates suite on the in-memory frames of the day (the enterprises of ``registry``).
    The month-versus-daily check needs ``kpi_monthly``, which the monthly DAG writes after this run:
    the nightly gate leaves it out (``kpi_monthly=None``), so no month rows are loaded."""
    from ecm.quality import load_bounds, run_suite
    from ecm.quality_frames import aggregates_daily_metrics

    metrics = aggregates_daily_metrics(frames.day, registry.lines_frame().drop(columns="line"), load_bounds(),
                                       kpi_daily=frames.kpi_daily.dropna(subset=["energy_tce"]),
                                       energy_daily=frames.energy_daily, line_daily=frames.line_daily,
                                       month_kpi_daily=None, kpi_monthly=None)
    frames.dq.append(run_suite("aggregates_daily", metrics, period=frames.day.isoformat()))


def _records(frames: DayFrames, registry) -> pd.DataFrame:
    meters = registry.meters_frame()
    lines = registry.lines_frame()
    return issue_records(frames.issues, frames.day.isoformat(),
                         meter_enterprise=dict(zip(meters["meter"], meters["enterprise"])),
                         line_enterprise=dict(zip(lines["line"], lines["enterprise"])) if len(lines) else {})


def apply_status(frames: DayFrames, extra_blocked: set[str] | frozenset = frozenset(), *,
                 registry=None) -> dict[str, list[str]]:
    """Mark withheld enterprise-days ``data_insufficient`` (rules: ``ecm.accounting.status``).

    Withheld: ``block`` failures in ``frames.dq`` or ``extra_blocked`` (an earlier gate task) for
    the frames' first day; blocking accounting issues of the enterprise-day; and, without any DQ
    result (historical multi-day imports), coverage below 90 %. Locates every accounting issue
    (``frames.records``, written as dq_result suite ``accounting_daily``). Returns {day: withheld
    enterprises}.
    """
    from ecm.quality import blocking_enterprises
    from ecm.registry import get_registry

    gated = bool(frames.dq or extra_blocked)
    blocked = set()
    if gated:
        ents = blocking_enterprises(frames.dq, frames.day.isoformat()) | set(extra_blocked)
        blocked = {(frames.day.isoformat(), e) for e in ents}
    records = _records(frames, registry or get_registry())
    kpi, iss = status.day_status(frames.kpi_daily, blocked | blocked_pairs(records), completeness_rule=not gated)
    if iss:
        frames.issues += iss
        records = _records(frames, registry or get_registry())
    frames.records = records
    frames.kpi_daily = kpi
    pairs = status.withheld(kpi)
    frames.energy_daily = status.drop_withheld(frames.energy_daily, pairs)
    frames.line_daily = status.drop_withheld(frames.line_daily, pairs)
    n_block = int((records["severity"] == "block").sum())
    if len(records):
        log.info("accounting_issues", extra={"day": frames.day.isoformat(), "last": frames.last.isoformat(),
                                             "n_issues": len(records), "n_blocking": n_block})
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
        out[q] = np.where(energy["quantity"] == q, energy["amount"], np.nan)
    return out


def write_day(client, frames: DayFrames, enterprises: list[str] | None = None) -> int:
    """Clear the days' partition of the derived measurements (and of the ``accounting_daily``
    dq_result suite) and write the frames, the DQ results and the accounting issues. With
    ``enterprises`` (a mapped task's chunk) only their series are cleared: the chunks of one day
    write side by side."""
    from ecm.quality import accounting_results, write_results, write_rows

    start = day_bounds_utc(frames.day)[0]
    _, end = day_bounds_utc(frames.last)
    only = {"enterprise": list(enterprises)} if enterprises is not None else {}
    for m in (ENERGY_DAILY, LINE_DAILY, KPI_DAILY):
        client.delete_range(m, start, end, tags=only or None)
    client.delete_range(DQ_RESULT, start, end, tags={"suite": [SUITE_ACCOUNTING_DAILY], **only})

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
    n += write_rows(client, accounting_results(frames.records, SUITE_ACCOUNTING_DAILY))
    return n


def run_days(days: list[date], *, client=None, registry=None, factors=None, gate: str = "inline",
             blocked: dict[str, list[str]] | None = None, progress=None,
             enterprises: list[str] | None = None, hourly: bool | None = None) -> dict[str, list[str]]:
    """Compute and write each day; returns {day: data-insufficient enterprises}.

    ``gate``: ``inline`` runs the readings suite in the same pass; ``given`` uses ``blocked``
    from an earlier gate task; ``history`` skips the readings suite (daily-resolution imports).
    The aggregates suite always runs. ``enterprises``: only this chunk of the registry (a mapped
    task), computed and written (its series cleared) exactly as in a whole-district run.
    ``hourly``: the meter-days come from ``meter_hourly`` (24 rows a meter, never raw readings);
    default for ``inline`` (which rolls the missing hours up first); the DAG's ``compute_kpis``
    sets it for ``given``, its ``rollup_hours`` task having rolled the days (and late hours) up.
    """
    from ecm.factors import get_factors
    from ecm.influx import InfluxClient
    from ecm.registry import get_registry

    client = client or InfluxClient.from_settings()
    registry = registry or get_registry()
    if enterprises is not None:
        registry = registry_subset(registry, enterprises)
    factors = factors or get_factors()
    out: dict[str, list[str]] = {}
    if gate == "inline":  # the hours of the days must be rolled up (the DAG has a task for it)
        from ecm.pipeline.hourly import ensure_days_rolled_up

        ensure_days_rolled_up([d.isoformat() for d in days], client=client, registry=registry)
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
            withheld = apply_status(frames, registry=registry)
            write_day(client, frames, enterprises)
            for d in run:
                out[d.isoformat()] = withheld.get(d.isoformat(), [])
                if progress:
                    progress(d)
        return out
    reopened: set[date] = set()
    from ecm.pipeline.rollup_source import meter_day_from_hourly

    from_hourly = meter_day_from_hourly if (gate == "inline" if hourly is None else hourly) else None
    for day in days:
        frames = compute_day(client, registry, factors, day, gate_readings=(gate == "inline"), meter_days=from_hourly)
        gate_aggregates(frames, client, registry)
        extra = set((blocked or {}).get(day.isoformat(), [])) if gate == "given" else set()
        out[day.isoformat()] = apply_status(frames, extra, registry=registry).get(day.isoformat(), [])
        write_day(client, frames, enterprises)
        reopened.update(frames.reopened)
        if progress:
            progress(day)
    # days a gap closing in this run also spans get their linear share now (ecm.accounting.gaps)
    again = sorted(reopened - set(days))
    if again:
        log.info("gap_days_recomputed", extra={"days": [d.isoformat() for d in again]})
        out.update(run_days(again, client=client, registry=registry, factors=factors, gate="inline",
                            enterprises=enterprises))
    return out


#: enterprises per mapped task of ``ecm_daily_kpis`` (``quality_gate`` and ``compute_kpis``),
#: overridable with ``ECM_CHUNK_ENTERPRISES``
GATE_CHUNK_ENTERPRISES = 50


def enterprise_chunks(registry=None, size: int | None = None) -> list[list[str]]:
    """The registry's enterprises in chunks of ``size`` (default ``ECM_CHUNK_ENTERPRISES``, else
    ``GATE_CHUNK_ENTERPRISES``): one mapped task each."""
    import os

    from ecm.registry import get_registry

    size = size or int(os.environ.get("ECM_CHUNK_ENTERPRISES") or GATE_CHUNK_ENTERPRISES)
    return _chunks((registry or get_registry()).enterprise_ids, size)


def registry_subset(registry, enterprises: list[str]):
    """The registry restricted to ``enterprises`` (a mapped task's chunk)."""
    from ecm.registry import Registry

    keep = set(enterprises)
    return Registry(district=registry.district, enterprises=tuple(e for e in registry.enterprises if e.id in keep))


def quality_gate_results(client, registry, day: date, enterprises: list[str] | None = None):
    """The readings_daily suite for ``day`` on the day's ``meter_hourly`` quality rows (the
    ``enterprises`` chunk, or all): one :class:`ecm.quality.DqResult`."""
    from ecm.pipeline.rollup_source import quality_from_hourly
    from ecm.quality import run_suite

    reg = registry_subset(registry, enterprises) if enterprises is not None else registry
    return run_suite("readings_daily", quality_from_hourly(client, reg, day), period=day.isoformat())


def run_quality_gate(days: list[str], enterprises: list[str] | None = None) -> dict[str, list[str]]:
    """DAG task (mapped over enterprise chunks): the readings suite per day on the hourly
    rollups → {day: enterprises whose KPIs are blocked}. Counter issues are located and stored by
    compute_daily_kpis."""
    from ecm.influx import InfluxClient
    from ecm.quality import blocking_enterprises, write_results
    from ecm.registry import get_registry

    client, registry = InfluxClient.from_settings(), get_registry()
    out = {}
    for d in days:
        res = [quality_gate_results(client, registry, date.fromisoformat(d), enterprises)]
        write_results(client, res)
        out[d] = sorted(blocking_enterprises(res, d))
    return out


def merge_gates(results) -> dict[str, list[str]]:
    """The mapped gate tasks' {day: blocked} merged into one."""
    out: dict[str, set[str]] = {}
    for r in results:
        for d, ents in r.items():
            out.setdefault(d, set()).update(ents)
    return {d: sorted(e) for d, e in out.items()}


def compute_daily_kpis(days: list[str], blocked: dict[str, list[str]],
                       enterprises: list[str] | None = None) -> list[str]:
    """DAG task (mapped over enterprise chunks): compute and write the daily KPIs of ``days``
    for ``enterprises`` (default: all) with the gate's verdicts."""
    run_days([date.fromisoformat(d) for d in days], gate="given", blocked=blocked, enterprises=enterprises,
             hourly=True)
    return days

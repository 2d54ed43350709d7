"""Monthly compliance: load → ``ecm.accounting.compliance`` → write.

Reads ``kpi_daily``, ``energy_daily``, ``line_daily``, ``enterprise_monthly`` and, for blocked
stretches of the compared spans, the ``readings`` around them; writes ``kpi_monthly``
(enterprises and ``_district``), ``benchmark_monthly``, ``capacity_share_monthly`` and the month's
accounting issues (dq_result suite ``accounting_monthly``) at the month's start (Beijing),
clearing the month first so a re-run overwrites. The rules (year-to-date windows, status,
comparable spans and energy-weighted district coverage, path status, January rule, LMDI effects,
CO2 target, benchmark classification) are in ``ecm/accounting/`` (composed by ``compliance``) and
docs/contracts.md §2.2 and §4.
"""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from ecm.accounting import compliance, status
from ecm.accounting.intensity import STATUS_LEVEL, deflate_value_added
from ecm.accounting.issues import issue_records
from ecm.accounting.ytd import late_statistics_months, shift_year, ytd_end_for, ytd_spans
from ecm.influx import time_literal
from ecm.periods import TZ, day_bounds_utc, month_bounds_utc
from ecm.schema import MEAS_BENCHMARK_MONTHLY as BENCHMARK_MONTHLY
from ecm.schema import MEAS_CAPACITY_SHARE_MONTHLY as CAPACITY_SHARE
from ecm.schema import MEAS_DQ_RESULT as DQ_RESULT
from ecm.schema import KPI_MONTHLY_FIELDS, MEAS_ENERGY_DAILY, MEAS_ENTERPRISE_MONTHLY, MEAS_KPI_DAILY, MEAS_LINE_DAILY
from ecm.schema import SUITE_ACCOUNTING_MONTHLY
from ecm.schema import MEAS_KPI_MONTHLY as KPI_MONTHLY
from ecm.schema import F_VALUE_ADDED_10K_CNY, Status
from ecm.stats import VA_CURRENT, VA_DEPRECATED, coalesce_stored

DISTRICT = compliance.DISTRICT


# -- I/O --------------------------------------------------------------------------------------
def _load(client, measurement: str, fields: str, tags: str, first: date, last: date) -> pd.DataFrame:
    s = day_bounds_utc(first)[0]
    _, e = day_bounds_utc(last)
    df = client.query_frame(f"SELECT {fields} FROM {measurement} WHERE time >= {time_literal(s)} "
                            f"AND time < {time_literal(e)} GROUP BY {tags}")
    if not df.empty:
        df["day"] = df["time"].dt.tz_convert(TZ).dt.date
    return df


def load_stats(client, first: date, last: date) -> tuple[pd.DataFrame, list]:
    """enterprise_monthly rows of [first, last], deflated to 2022 prices (with the deflator's issues)."""
    df = _load(client, MEAS_ENTERPRISE_MONTHLY, f"{VA_CURRENT}, {VA_DEPRECATED}, deflator_index", "enterprise", first, last)
    if df.empty:
        return pd.DataFrame(columns=["enterprise", "month", F_VALUE_ADDED_10K_CNY, VA_CURRENT]), []
    df["month"] = df["time"].dt.tz_convert(TZ).dt.strftime("%Y-%m")
    df = coalesce_stored(df)  # points written before the rename carry the deprecated field name
    return deflate_value_added(df)


def check_inputs(day_iso: str) -> str:
    """DAG task: fail loudly when the month has no daily KPIs at all."""
    from ecm.errors import InsufficientDataError
    from ecm.influx import InfluxClient

    day = date.fromisoformat(day_iso)
    kd = _load(InfluxClient.from_settings(), MEAS_KPI_DAILY, "data_status", "enterprise", day.replace(day=1), day)
    if kd.empty:
        raise InsufficientDataError(f"no kpi_daily rows for {day:%Y-%m} up to {day_iso}",
                                    hint="run ecm_daily_kpis for the month's days first")
    return day_iso


def load_counter_totals(client, registry, factors, stretches: pd.DataFrame) -> tuple[pd.DataFrame, list]:
    """Energy of each blocked stretch measured by the counter registers around it: readings of the
    stretch plus the last one before and the first one after (``carry_out``) →
    ``counters_to_deltas`` → ``apportion_gaps`` (days) → ``deltas_to_periods`` →
    ``comparable.counter_stretch_totals`` over the enterprise's counted main meters."""
    from ecm.accounting.comparable import counter_stretch_totals
    from ecm.accounting.compliance import counted_meter_factors
    from ecm.accounting.counters import counters_to_deltas, deltas_to_periods
    from ecm.accounting.gaps import apportion_gaps
    from ecm.pipeline.readings import load_readings

    cols = ["enterprise", "first_day", "last_day", "energy_tce"]
    if stretches.empty:
        return pd.DataFrame(columns=cols), []
    meters = registry.meters_frame()
    counters = meters[meters["kind"] == "counter"]
    parts, issues = [], []
    for st in stretches.itertuples(index=False):
        mf = counted_meter_factors(counters[counters["enterprise"] == st.enterprise], factors, st.first_day)
        s0, _ = day_bounds_utc(st.first_day)
        _, s1 = day_bounds_utc(st.last_day)
        r = load_readings(client, sorted(counters["quantity"].unique()), s0, s1, carry_out=pd.Timedelta(days=8),
                          enterprises=[st.enterprise])
        r = r[r["meter"].isin(mf.index)]
        deltas, iss = counters_to_deltas(r, counters)
        issues += iss
        deltas, iss = apportion_gaps(deltas, "1D", TZ)
        issues += iss
        per, _per_issues = deltas_to_periods(deltas, "1D", TZ, window=(s0, s1))  # counted by the daily run
        tot, iss = counter_stretch_totals(per, mf, pd.DataFrame([st._asdict()]))
        issues += iss
        parts.append(tot)
    return pd.concat(parts, ignore_index=True)[cols], issues


def load_energy(client, first: date, last: date) -> pd.DataFrame:
    """energy_daily rows (published days) with purchased electricity (``energy_kwh``) and CO2 per carrier."""
    df = _load(client, MEAS_ENERGY_DAILY, "energy_kwh, co2_t", "enterprise, carrier", first, last)
    if df.empty:
        return pd.DataFrame(columns=["enterprise", "day", "carrier", "energy_kwh", "co2_t"])
    for c in ("energy_kwh", "co2_t"):
        if c not in df:
            df[c] = float("nan")
    return df


def _stored_district_rows(client, first: date, before: date) -> pd.DataFrame:
    """The stored ``_district`` kpi_monthly rows of the months in [first, before)."""
    s, _ = day_bounds_utc(first)
    e, _ = day_bounds_utc(before)
    df = client.query_frame(f"SELECT ytd_through, n_value_added_months FROM {KPI_MONTHLY} WHERE "
                            f"enterprise = '{DISTRICT}' AND time >= {time_literal(s)} AND time < {time_literal(e)}")
    if df.empty:
        return pd.DataFrame(columns=["month", "ytd_through", "n_value_added_months"])
    df["month"] = df["time"].dt.tz_convert(TZ).dt.strftime("%Y-%m")
    for c in ("ytd_through", "n_value_added_months"):
        if c not in df:
            df[c] = None
    return df[["month", "ytd_through", "n_value_added_months"]]


def _closed_month_ends(day: date, base_year: int, n: int = 12) -> list[date]:
    ends, m = [], day.replace(day=1) - timedelta(days=1)
    while len(ends) < n and m.year >= base_year:
        ends.append(m)
        m = m.replace(day=1) - timedelta(days=1)
    return sorted(ends)


def compute_monthly_compliance(day_iso: str, *, client=None, registry=None, factors=None,
                               recompute_late: bool = True) -> dict:
    """Compute and write the month-to-date compliance of ``day_iso``'s month; returns a summary.
    With ``recompute_late``, earlier months (last 12) whose rows predate statistics that have since
    arrived are recomputed too (``ytd.late_statistics_months``; summary key ``recomputed``)."""
    from ecm.factors import get_factors
    from ecm.influx import InfluxClient
    from ecm.quality import accounting_results, blocking_enterprises, run_month, write_rows
    from ecm.registry import get_registry

    client = client or InfluxClient.from_settings()
    registry = registry or get_registry()
    factors = factors or get_factors()
    t = factors.targets
    day = date.fromisoformat(day_iso)
    first = shift_year(date(day.year, 1, 1), -(day.year - t.base_year))
    kd = _load(client, MEAS_KPI_DAILY, "energy_tce, energy_tce_generation, co2_t, data_status", "enterprise", first, day)
    stats, issues = load_stats(client, first, day)
    ytd_end, iss = ytd_end_for(stats, registry.enterprise_ids, day)
    issues += iss
    dq = run_month(client, registry, ytd_end)
    spans = ytd_spans(day, ytd_end, t.base_year)
    stretches = compliance.blocked_stretches(kd, spans=[spans[k] for k in ("cur", "prev", "base")])
    totals, iss = load_counter_totals(client, registry, factors, stretches)
    issues += iss
    industries = {e.id: str(e.industry) for e in registry.enterprise_index.values()}
    kf, iss = compliance.intensity_frame(kd, stats, registry.enterprise_ids, day, factors, ytd_end=ytd_end,
                                         counter_totals=totals, industries=industries,
                                         energy=load_energy(client, first, day))
    issues += iss
    kf = status.withhold_periods(kf, blocking_enterprises(dq), STATUS_LEVEL)
    kf["factor_table_version"] = factors.table_version
    lines = registry.lines_frame()
    ld = _load(client, MEAS_LINE_DAILY, "*", "enterprise, line, product_class", day - timedelta(days=364), day)
    bm, shares, iss = compliance.benchmark_frames(ld, lines, factors, day)
    issues += iss
    records = issue_records(issues, f"{day:%Y-%m}",
                            line_enterprise=dict(zip(lines["line"], lines["enterprise"])) if len(lines) else {})
    m0, m1 = month_bounds_utc(day)
    for m in (KPI_MONTHLY, BENCHMARK_MONTHLY, CAPACITY_SHARE):
        client.delete_range(m, m0, m1)
    client.delete_range(DQ_RESULT, m0, m1, tags={"suite": [SUITE_ACCOUNTING_MONTHLY]})
    write_rows(client, accounting_results(records, SUITE_ACCOUNTING_MONTHLY))
    out = kf.assign(estimated=kf["estimated"].astype(int), time=m0)
    client.write_frame(out[["enterprise", *KPI_MONTHLY_FIELDS, "time"]], KPI_MONTHLY, ["enterprise"])
    if len(bm):
        bcols = [c for c in bm.columns if c not in ("indicator_unit", "capacity_unit", "benchmark_basis")]
        client.write_frame(bm[bcols].assign(time=m0).dropna(axis=1, how="all"), BENCHMARK_MONTHLY,
                           ["enterprise", "line", "industry", "product_class"])
        scols = ["industry", "level_basis", "benchmark_capacity_share_frac", "baseline_capacity_share_frac", "capacity_total",
                 "benchmark_line_share_frac", "baseline_line_share_frac", "n_lines", "factor_table_version"]
        client.write_frame(shares[scols].assign(time=m0), CAPACITY_SHARE, ["industry"])
    recomputed = []
    if recompute_late:
        ends = _closed_month_ends(day, t.base_year)
        if ends:
            stored = _stored_district_rows(client, ends[0].replace(day=1), day.replace(day=1))
            for m_end in late_statistics_months(stored, stats, registry.enterprise_ids, ends, t.base_year):
                compute_monthly_compliance(m_end.isoformat(), client=client, registry=registry, factors=factors,
                                           recompute_late=False)
                recomputed.append(m_end.strftime("%Y-%m"))
    d = kf[kf["enterprise"] == DISTRICT].iloc[0]
    return {"recomputed": recomputed, "month": f"{day:%Y-%m}", "district_status": d["status"], "n_issues": len(records),
            "district_ytd_intensity_tce_per_10k_cny": None if pd.isna(d["ytd_intensity_tce_per_10k_cny"]) else round(float(d["ytd_intensity_tce_per_10k_cny"]), 4),
            "n_red": int((kf["status"] == Status.RED).sum()),
            "n_insufficient": int((kf["status"] == Status.DATA_INSUFFICIENT).sum())}

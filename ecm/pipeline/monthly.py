"""Monthly compliance: load → ``ecm.accounting.compliance`` → write.

Reads ``kpi_daily``, ``line_daily`` and ``enterprise_monthly``; writes ``kpi_monthly``
(enterprises and ``_district``), ``benchmark_monthly``, ``capacity_share_monthly`` and the month's
accounting issues (dq_result suite ``accounting_monthly``) at the month's start (Beijing),
clearing the month first so a re-run overwrites. The rules (year-to-date windows, status,
district coverage, path status, benchmark classification) are in ``ecm/accounting/``
(``ytd``, ``status``, ``district``, ``intensity``, ``benchmark``, composed by ``compliance``) and
docs/contracts.md §2.2.
"""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from ecm.accounting import compliance, status
from ecm.accounting.intensity import STATUS_LEVEL, deflate_value_added
from ecm.accounting.issues import issue_records
from ecm.accounting.ytd import shift_year, ytd_end_for
from ecm.influx import time_literal
from ecm.periods import TZ, day_bounds_utc, month_bounds_utc
from ecm.schema import MEAS_BENCHMARK_MONTHLY as BENCHMARK_MONTHLY
from ecm.schema import MEAS_CAPACITY_SHARE_MONTHLY as CAPACITY_SHARE
from ecm.schema import MEAS_DQ_RESULT as DQ_RESULT
from ecm.schema import MEAS_ENTERPRISE_MONTHLY, MEAS_KPI_DAILY, MEAS_LINE_DAILY, SUITE_ACCOUNTING_MONTHLY
from ecm.schema import MEAS_KPI_MONTHLY as KPI_MONTHLY

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
    df = _load(client, MEAS_ENTERPRISE_MONTHLY, "value_added_10k_cny, deflator_index", "enterprise", first, last)
    if df.empty:
        return pd.DataFrame(columns=["enterprise", "month", "value_added_10k_cny", "value_added_current_10k_cny"]), []
    df["month"] = df["time"].dt.tz_convert(TZ).dt.strftime("%Y-%m")
    df = df.rename(columns={"value_added_10k_cny": "value_added_current_10k_cny"})
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


def compute_monthly_compliance(day_iso: str, *, client=None, registry=None, factors=None) -> dict:
    """Compute and write the month-to-date compliance of ``day_iso``'s month; returns a summary."""
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
    kf, iss = compliance.intensity_frame(kd, stats, registry.enterprise_ids, day, t, ytd_end=ytd_end)
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
    keep = ["enterprise", "energy_tce", "energy_tce_generation", "co2_t", "value_added_10k_cny",
            "value_added_current_10k_cny", "intensity_tce_per_10k_cny", "co2_intensity_t_per_10k_cny",
            "ytd_energy_tce", "ytd_value_added_10k_cny", "ytd_intensity_tce_per_10k_cny", "ytd_change_frac",
            "cumulative_index", "path_index", "required_annual_rate_frac", "shortfall_frac", "status",
            "status_level", "completeness_frac", "ytd_through", "factor_table_version"]
    client.write_frame(kf[keep].assign(time=m0), KPI_MONTHLY, ["enterprise"])
    if len(bm):
        bcols = [c for c in bm.columns if c not in ("indicator_unit", "capacity_unit", "benchmark_basis")]
        client.write_frame(bm[bcols].assign(time=m0).dropna(axis=1, how="all"), BENCHMARK_MONTHLY,
                           ["enterprise", "line", "industry", "product_class"])
        scols = ["industry", "benchmark_capacity_share_frac", "baseline_capacity_share_frac", "capacity_total",
                 "benchmark_line_share_frac", "baseline_line_share_frac", "n_lines", "factor_table_version"]
        client.write_frame(shares[scols].assign(time=m0), CAPACITY_SHARE, ["industry"])
    d = kf[kf["enterprise"] == DISTRICT].iloc[0]
    return {"month": f"{day:%Y-%m}", "district_status": d["status"], "n_issues": len(records),
            "district_ytd_intensity_tce_per_10k_cny": None if pd.isna(d["ytd_intensity_tce_per_10k_cny"]) else round(float(d["ytd_intensity_tce_per_10k_cny"]), 4),
            "n_red": int((kf["status"] == "red").sum()), "n_insufficient": int((kf["status"] == "data_insufficient").sum())}

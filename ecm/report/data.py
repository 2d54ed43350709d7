"""I/O edge of the report: load the numbers of one Beijing day from InfluxDB.

Reads exactly the derived measurements of docs/contracts.md §2.1 (kpi_monthly, kpi_daily,
energy_daily, line_daily, benchmark_monthly, capacity_share_monthly, dq_result) plus the
registry's names. Everything after this module is pure (``ecm.report.model``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from ecm.influx import InfluxClient, quote_ident, time_literal
from ecm import schema as S
from ecm.periods import TZ, day_bounds_utc, month_bounds_utc, month_start

#: months of kpi_monthly history shown in the trend charts (incl. the report month)
TREND_MONTHS = 24


@dataclass(frozen=True)
class ReportData:
    """All inputs of one night's report. Frames may be empty; columns follow contracts.md §2.1.

    Added columns: ``month`` ('YYYY-MM', Beijing) on monthly frames, ``day_cst`` ('YYYY-MM-DD')
    on daily frames.
    """

    day: date
    district_name_zh: str
    district_name_en: str
    enterprises: pd.DataFrame  # enterprise, name_zh, name_en, industry (registry order)
    lines: pd.DataFrame  # line, enterprise, name_zh, name_en, product_class, output_unit
    kpi_monthly: pd.DataFrame  # TREND_MONTHS months up to the report month, incl. `_district`
    kpi_daily: pd.DataFrame  # month to date (1st .. day)
    energy_daily: pd.DataFrame  # month to date
    line_daily: pd.DataFrame  # the day
    benchmark_monthly: pd.DataFrame  # the report month
    capacity_share_monthly: pd.DataFrame  # the report month
    dq_result: pd.DataFrame  # the day


def registry_frames(registry) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(enterprises, lines) frames of the registry, in registry order."""
    ents = pd.DataFrame(
        [{"enterprise": e.id, "name_zh": e.name_zh, "name_en": e.name_en, "industry": e.industry}
         for e in registry.enterprises],
        columns=["enterprise", "name_zh", "name_en", "industry"])
    lines = pd.DataFrame(
        [{"line": ln.id, "enterprise": e.id, "name_zh": ln.name_zh, "name_en": ln.name_en,
          "product_class": ln.product_class, "output_unit": ln.output_unit}
         for e in registry.enterprises for ln in e.lines],
        columns=["line", "enterprise", "name_zh", "name_en", "product_class", "output_unit"])
    return ents, lines


def _select(client: InfluxClient, measurement: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    q = (f"SELECT * FROM {quote_ident(measurement)} WHERE time >= {time_literal(start)} "
         f"AND time < {time_literal(end)} GROUP BY *")
    return add_period_columns(client.query_frame(q))


def add_period_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``month`` and ``day_cst`` (Beijing) from ``time`` (tz-aware UTC) and sort by time and tags."""
    if df.empty:
        return df
    df = df.copy()
    local = pd.to_datetime(df["time"], utc=True).dt.tz_convert(TZ)
    df["month"] = local.dt.strftime("%Y-%m")
    df["day_cst"] = local.dt.strftime("%Y-%m-%d")
    return df.sort_values([c for c in df.columns if c in ("time", "enterprise", "line", "carrier", "industry",
                                                          "suite", "expectation")]).reset_index(drop=True)


def load_report_data(client: InfluxClient, day: date, registry) -> ReportData:
    """Query every measurement the report reads for Beijing day ``day``."""
    m0 = month_start(day)
    first_trend = (pd.Timestamp(m0) - pd.DateOffset(months=TREND_MONTHS - 1)).date()
    month_lo, month_hi = month_bounds_utc(m0)
    trend_lo, _ = month_bounds_utc(first_trend)
    day_lo, day_hi = day_bounds_utc(day)
    ents, lines = registry_frames(registry)
    return ReportData(
        day=day,
        district_name_zh=registry.district.name_zh,
        district_name_en=registry.district.name_en,
        enterprises=ents,
        lines=lines,
        kpi_monthly=_select(client, S.MEAS_KPI_MONTHLY, trend_lo, month_hi),
        kpi_daily=_select(client, S.MEAS_KPI_DAILY, month_lo, day_hi),
        energy_daily=_select(client, S.MEAS_ENERGY_DAILY, month_lo, day_hi),
        line_daily=_select(client, S.MEAS_LINE_DAILY, day_lo, day_hi),
        benchmark_monthly=_select(client, S.MEAS_BENCHMARK_MONTHLY, month_lo, month_hi),
        capacity_share_monthly=_select(client, S.MEAS_CAPACITY_SHARE_MONTHLY, month_lo, month_hi),
        dq_result=_select(client, S.MEAS_DQ_RESULT, day_lo, day_hi),
    )

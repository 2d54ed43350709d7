"""Pure: periods and units written as a government reader reads them.

- ``ytd_window(through)``: ``("2026年1–10月", "Jan–Oct 2026")``; statistics offices publish 1–N月, so a
  window ending on a month end is named in months, one ending mid-month in days.
- ``month_to_date(day)``: the current month's partial span (``11月1–28日``), or None when ``day`` is the
  month's last day (the month is complete).
- ``cutoff(day)``: the data cut-off of a nightly report, the end of its Beijing day.
- ``UNIT_FIRST`` / ``UNIT_SHORT``: units spelled out on first use, short after (吨标准煤 (tce), 万元).
"""
from __future__ import annotations

import calendar
from datetime import date

MONTH_EN = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: unit key -> spelled out on first use (zh with the symbol in brackets)
UNIT_FIRST = {
    "tce": "吨标准煤 (tce)",
    "tco2": "吨二氧化碳 (tCO₂)",
    "intensity": "吨标准煤/万元 (tce/万元)",
    "co2_intensity": "吨二氧化碳/万元 (tCO₂/万元)",
    "10k_cny": "万元 (10⁴ 元)",
}
#: unit key -> the short symbol used after the first mention
UNIT_SHORT = {"tce": "tce", "tco2": "tCO₂", "intensity": "tce/万元", "co2_intensity": "tCO₂/万元", "10k_cny": "万元"}


def is_month_end(d: date) -> bool:
    return d.day == calendar.monthrange(d.year, d.month)[1]


def ytd_window(through: date | None) -> tuple[str, str]:
    """The year-to-date window 1 January → ``through``, in words (zh, en), with its year
    (``ecm.accounting.january.ytd_window_label`` words the months, one rule for boards and report)."""
    from ecm.accounting.january import ytd_window_label

    if through is None:
        return "—", "—"
    zh, en = ytd_window_label(through)
    return f"{through.year}年{zh}", f"{en} {through.year}"


def month_to_date(day: date) -> tuple[str, str] | None:
    """``("11月1–28日", "1–28 Nov")`` while the month of ``day`` is still running, else None."""
    if is_month_end(day):
        return None
    if day.day == 1:
        return f"{day.month}月1日", f"1 {MONTH_EN[day.month]}"
    return f"{day.month}月1–{day.day}日", f"1–{day.day} {MONTH_EN[day.month]}"


def cutoff(day: date) -> tuple[str, str]:
    """Data cut-off of the report of Beijing day ``day``: the end of that day."""
    return f"{day.isoformat()} 24:00（北京时间）", f"{day.isoformat()} 24:00 Beijing time"


def month_label(key: str, partial: bool) -> str:
    """Axis label of a month ``YYYY-MM``; a partial month is marked with * (see the chart note)."""
    return f"{key}*" if partial else key

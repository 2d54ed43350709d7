"""Plant calendars: Beijing days since the simulator epoch, shifts, workdays, Spring Festival,
planned maintenance and order-driven load.

Day index ``d`` counts Beijing (UTC+8, no DST) days from :data:`EPOCH_DAY`; hour ``h`` is the
Beijing hour of day. Everything here is a pure function of parameters and keyed randomness.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np

from sim_devices import rng

EPOCH_DAY = date(2021, 1, 1)
#: 2021-01-01T00:00+08:00 in epoch seconds
EPOCH_S = int(datetime(2021, 1, 1, tzinfo=timezone(timedelta(hours=8))).timestamp())
DAY_S = 86400
HOUR_S = 3600

#: Chinese New Year's day (正月初一)
SPRING_FESTIVAL = {2021: date(2021, 2, 12), 2022: date(2022, 2, 1), 2023: date(2023, 1, 22),
                   2024: date(2024, 2, 10), 2025: date(2025, 1, 29), 2026: date(2026, 2, 17),
                   2027: date(2027, 2, 6), 2028: date(2028, 1, 26), 2029: date(2029, 2, 13),
                   2030: date(2030, 2, 3)}

#: month-of-year order multipliers (construction season for building materials)
SEASONALITY = {
    "building": np.array([0.90, 0.80, 1.02, 1.06, 1.06, 1.00, 0.93, 0.92, 1.03, 1.06, 1.05, 0.97]),
    "flat": np.ones(12),
    "consumer": np.array([1.05, 0.85, 0.95, 0.97, 0.98, 1.0, 1.0, 1.0, 1.03, 1.05, 1.06, 1.08]),
}

#: hourly on-fraction (Beijing hours 0..23) of process schedules
SCHEDULES = {
    "continuous": np.ones(24),
    "shifts2": np.array([0] * 8 + [1] * 16, dtype=float),           # 08:00-24:00
    "shifts1": np.array([0] * 8 + [1] * 4 + [0.3] + [1] * 5 + [0] * 6, dtype=float),  # 08-18, lunch
    # grinding stations avoid the Chongqing peak-tariff hours 10-12 and 17-21 (valley/flat only)
    "offpeak": np.array([1] * 10 + [0] * 2 + [1] * 5 + [0] * 4 + [1] * 3, dtype=float),
}


def day_index(d: date) -> int:
    """Beijing day ``d`` as a day index from :data:`EPOCH_DAY`."""
    return (d - EPOCH_DAY).days


def day_of(idx: int) -> date:
    return EPOCH_DAY + timedelta(days=int(idx))


def days_dates(n_days: int) -> np.ndarray:
    """datetime64[D] of day indices 0..n_days-1."""
    return np.datetime64(EPOCH_DAY, "D") + np.arange(n_days)


@dataclass(frozen=True)
class CalendarParams:
    """Calendar of one enterprise.

    workdays: ``all`` (continuous plants), ``mon_sat`` or ``mon_fri``.
    sf_before_days / sf_after_days: Spring Festival shutdown, days before/after New Year's day.
    maint_month / maint_days: annual planned maintenance (month, length in days; 0 = none); the
    start day within the month is drawn per year.
    """

    workdays: str = "all"
    sf_before_days: int = 7
    sf_after_days: int = 10
    maint_month: int = 7
    maint_days: int = 4

    @classmethod
    def from_dict(cls, d: dict) -> "CalendarParams":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def shutdown_mask(p: CalendarParams, key: int, n_days: int) -> np.ndarray:
    """bool[n_days]: whole-plant shutdown days (Spring Festival and planned maintenance)."""
    off = np.zeros(n_days, dtype=bool)
    for year, ny in SPRING_FESTIVAL.items():
        a, b = day_index(ny) - p.sf_before_days, day_index(ny) + p.sf_after_days
        if p.sf_before_days + p.sf_after_days > 0:
            off[max(a, 0):max(min(b, n_days), 0)] = True
        if p.maint_days > 0:
            start = day_index(date(year, p.maint_month, 1)) + int(rng.uniform1(key, year) * 20)
            off[max(start, 0):max(min(start + p.maint_days, n_days), 0)] = True
    return off


def workday_mask(p: CalendarParams, n_days: int) -> np.ndarray:
    """bool[n_days]: days the process equipment works (weekday pattern only)."""
    dow = (days_dates(n_days).astype("datetime64[D]").view("int64") - 4) % 7  # 0 = Monday
    if p.workdays == "all":
        return np.ones(n_days, dtype=bool)
    if p.workdays == "mon_sat":
        return dow < 6
    if p.workdays == "mon_fri":
        return dow < 5
    raise ValueError(f"unknown workdays {p.workdays!r}: all, mon_sat, mon_fri")


def order_load(load: dict, key: int, n_days: int) -> np.ndarray:
    """float[n_days]: order-driven load factor (fraction of design capacity) per day.

    ``load`` keys: base (fraction), seasonal (SEASONALITY name), trend_per_year (fraction/year,
    compounding from 2022), order_noise (monthly shock, fraction), daily_noise (fraction),
    years: optional {year: multiplier}.
    """
    dates = days_dates(n_days)
    months = dates.astype("datetime64[M]").view("int64")  # months since 1970-01
    moy = months % 12
    years = 1970 + months // 12
    season = SEASONALITY[load.get("seasonal", "flat")][moy]
    trend = (1 + load.get("trend_per_year", 0.0)) ** ((dates.view("int64") - np.datetime64("2022-01-01", "D").view("int64")) / 365.25)
    shock = 0.6 * rng.normal(key, months, 7) + 0.4 * rng.normal(key, months - 1, 7)
    yearly = np.array([load.get("years", {}).get(int(y), 1.0) for y in range(2021, 2031)])[np.clip(years - 2021, 0, 9)]
    daily = load.get("daily_noise", 0.03) * rng.normal(key, np.arange(n_days), 8)
    lf = load.get("base", 0.85) * season * trend * yearly * (1 + load.get("order_noise", 0.06) * shock + daily)
    return np.clip(lf, 0.25, load.get("max", 1.08))

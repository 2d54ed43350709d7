"""Monthly enterprise statistics: industrial output value, value added (current prices, 10^4 yuan)
and the price deflator (2022 average = 1.0), derived from simulated production.

Output value at 2022 prices = Σ_lines output × price_cny_per_unit (or full-load days ×
output_value_per_day_10k_cny for plants without lines), grown by real_price_trend_per_year
(product mix upgrading). Current prices = 2022 prices × deflator. Value added = output value ×
(va_ratio + va_ratio_trend_per_year × years since 2022) × (1 ± 2 % monthly noise).
Payload and CSV columns follow docs/contracts.md §1.3.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ecm.schema import ENTERPRISE_MONTHLY_FIELDS, F_DEFLATOR_INDEX, F_OUTPUT_VALUE_10K_CNY, F_VALUE_ADDED_CURRENT_10K_CNY
from sim_devices import rng
from sim_devices.calendar import EPOCH_DAY, days_dates

COLUMNS = ["enterprise", "month", *ENTERPRISE_MONTHLY_FIELDS]


def deflator_index(path: dict, months: np.ndarray, key: int) -> np.ndarray:
    """Deflator per month (datetime64[M]) from annual indices (mid-year anchors), ±0.3 % noise."""
    years = sorted(int(y) for y in path)
    x = np.array([y + 0.5 for y in years])
    yv = np.array([path[y] if y in path else path[str(y)] for y in years], dtype=float)
    m = months.astype("int64")
    t = 1970 + m / 12.0 + 1 / 24.0
    return np.round(np.interp(t, x, yv) * (1 + 0.003 * rng.tri(key, m)), 4)


def monthly_stats(enterprise_id: str, cfg: dict, deflators: dict, daily_output: dict[str, np.ndarray],
                  plant_activity: np.ndarray | None, seed: int, months: list[str]) -> pd.DataFrame:
    """Rows (COLUMNS) for ``months`` ('YYYY-MM'). ``daily_output``: line id -> output per day from
    the epoch (line unit); ``plant_activity``: full-load days per day for plants without lines."""
    eco = cfg.get("economics", {})
    n = len(next(iter(daily_output.values()))) if daily_output else len(plant_activity)
    dates = days_dates(n)
    years = (dates - np.datetime64("2022-01-01", "D")).astype(float) / 365.25
    ov = np.zeros(n)  # 10^4 yuan per day at 2022 prices
    for lid, out in daily_output.items():
        ov += out * eco.get("price_cny_per_unit", {}).get(lid, 0.0) / 1e4
    if plant_activity is not None:
        ov += plant_activity * eco.get("output_value_per_day_10k_cny", 0.0)
    ov *= (1 + eco.get("real_price_trend_per_year", 0.0)) ** years
    mon = pd.Series(ov, index=pd.PeriodIndex(dates.astype("datetime64[D]"), freq="M")).groupby(level=0).sum()
    want = pd.PeriodIndex(months, freq="M")
    ov_m = mon.reindex(want, fill_value=0.0).to_numpy()
    m64 = np.array([np.datetime64(m, "M") for m in months])
    dkey = rng.key_of(seed, "deflator", eco.get("deflator", "building_materials"))
    defl = deflator_index(deflators[eco.get("deflator", "building_materials")], m64, dkey)
    ym = (m64.astype("int64") - np.datetime64("2022-01", "M").astype("int64")) / 12.0 + 1 / 24
    va_ratio = np.clip(eco.get("va_ratio", 0.24) + eco.get("va_ratio_trend_per_year", 0.0) * ym, 0.03, 0.9)
    noise = 1 + 0.02 * rng.tri(rng.key_of(seed, enterprise_id, "va"), m64.astype("int64"))
    cur = ov_m * defl
    return pd.DataFrame({"enterprise": enterprise_id, "month": months,
                         F_OUTPUT_VALUE_10K_CNY: np.round(cur, 2),
                         F_VALUE_ADDED_CURRENT_10K_CNY: np.round(cur * va_ratio * noise, 2),
                         F_DEFLATOR_INDEX: defl})


def months_between(start_month: str, end_month: str) -> list[str]:
    """Inclusive list of 'YYYY-MM' months; months before the epoch are refused."""
    if start_month < EPOCH_DAY.strftime("%Y-%m"):
        raise ValueError(f"months start at {EPOCH_DAY:%Y-%m}")
    return [str(p) for p in pd.period_range(start_month, end_month, freq="M")]

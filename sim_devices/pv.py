"""Rooftop PV: hourly generation (kWh per hour) of a plant's array in Rongchang (29.4°N, 105.6°E).

Clear-sky shape: half-sine over the day length around solar noon (13:00 Beijing time, as
Rongchang lies 15° west of 120°E), day length 10.3-13.9 h over the year; a daily cloud factor
(Chongqing is among China's cloudiest places: ~950 kWh per kWp per year).
"""
from __future__ import annotations

import numpy as np

from sim_devices import rng
from sim_devices.calendar import days_dates

SOLAR_NOON_H = 13.0
#: peak output at clear sky, fraction of kWp (temperature, soiling, inverter losses)
PEAK_FRAC = 0.78


def pv_hourly(kwp: float, key: int, n_days: int) -> np.ndarray:
    """float[n_days, 24]: PV energy per Beijing hour, in kWh."""
    doy = (days_dates(n_days) - days_dates(n_days).astype("datetime64[Y]")).astype(int)
    season = np.sin(2 * np.pi * (doy - 80) / 365.25)
    half_len_h = 6.05 + 0.9 * season  # half day length
    hours = np.arange(24) + 0.5
    x = (hours[None, :] - SOLAR_NOON_H) / half_len_h[:, None]
    shape = np.where(np.abs(x) < 1, np.cos(np.pi / 2 * x), 0.0)
    elev = 0.75 + 0.25 * season  # sun higher in summer
    cloud = np.clip(0.15 + 0.55 * rng.uniform(key, np.arange(n_days)) ** 0.8 + 0.12 * season, 0.05, 1.0)
    hourly = 1 + 0.08 * rng.normal(key, np.arange(n_days)[:, None], np.arange(24)[None, :], 3)
    return np.clip(kwp * PEAK_FRAC * shape * (elev * cloud)[:, None] * hourly, 0, None)

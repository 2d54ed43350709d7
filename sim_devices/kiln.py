"""Kilns (roller, tunnel, shuttle): heat and output fractions per day around shutdowns.

A kiln is cooled for a shutdown and re-heated after it. Re-heating burns fuel with little or no
output (start-up loss); before a shutdown the kiln is emptied (output falls before the fuel).
Fuel of a kiln-following meter per hour (in the meter's unit):
``per_unit * eff * (fixed_frac * P_ref * heat * (1 + startup_extra * startup) + (1 - fixed_frac) * P)``
where ``P`` is the output rate and ``P_ref`` the output rate at the reference load.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: (heat fraction, output fraction) on ramp-up day k = 0, 1, 2, ... after a shutdown
RAMP_UP = [(0.65, 0.0), (0.9, 0.35), (1.0, 0.75), (1.0, 0.95)]
#: (heat fraction, output fraction) on the last days before a shutdown (last day first)
RAMP_DOWN = [(0.7, 0.45), (1.0, 0.85)]


@dataclass(frozen=True)
class KilnDays:
    """Per-day kiln factors (arrays of n_days). heat_frac, output_frac in [0, 1]; startup is 1.0 on
    re-heating days (extra start-up fuel applies), else 0.0."""

    heat_frac: np.ndarray
    output_frac: np.ndarray
    startup: np.ndarray


def _days_since_end(off: np.ndarray) -> np.ndarray:
    """Days since the last shutdown day (0 = first day after it); large when none before."""
    n = len(off)
    idx = np.where(off, np.arange(n), -10_000)
    last_off = np.maximum.accumulate(idx)
    return np.arange(n) - last_off - 1


def kiln_days(off: np.ndarray, ramp_up_days: int = 3, ramp_down_days: int = 1) -> KilnDays:
    """Kiln factors from a shutdown mask ``off`` (bool per day)."""
    since = _days_since_end(off)
    until = _days_since_end(off[::-1])[::-1]  # days until the next shutdown day, minus one
    heat = np.where(off, 0.0, 1.0)
    out = heat.copy()
    startup = np.zeros(len(off))
    for k in range(min(ramp_up_days, len(RAMP_UP))):
        m = (~off) & (since == k)
        heat[m], out[m] = RAMP_UP[k]
        startup[m] = 1.0 if k < 2 else 0.0
    for k in range(min(ramp_down_days, len(RAMP_DOWN))):
        m = (~off) & (until == k) & (since >= ramp_up_days)
        heat[m], out[m] = RAMP_DOWN[k]
    return KilnDays(heat, out, startup)


def drift_factor(off: np.ndarray, drift_per_year: float) -> np.ndarray:
    """Efficiency drift (≥ 1, multiplies unit energy): grows linearly with days since the last
    shutdown (burner fouling, roller wear, insulation), reset by each maintenance or shutdown."""
    since = np.minimum(_days_since_end(off), 730)
    return 1.0 + drift_per_year * since / 365.0

"""Meters as a gateway reads them: cumulative registers and gauges, sampled at any instant.

A counter's register reads ``(start + consumed since epoch) mod 10**register_digits``; after a
replacement at ``t_r`` it reads ``(new_start + consumed since t_r) mod 10**register_digits``.
Inside an hour, consumption is spread over the four quarter-hours with keyed weights (±10 %),
linearly inside each quarter, so hourly and daily totals are exact at any sampling interval.
Times are int64 seconds since calendar.EPOCH_S (Beijing midnight of the epoch day).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ecm.registry import Meter
from sim_devices import rng
from sim_devices.calendar import DAY_S, HOUR_S

#: decimals of published values (counters: 0.001 of the unit; gauges: 0.01)
COUNTER_DECIMALS = 3
GAUGE_DECIMALS = 2


@dataclass
class MeterTrack:
    """One meter over local days [d0, d0 + n): hourly quantities and the cumulative offset.

    hourly: float[n, 24] in the meter's unit (counters: per hour; gauges: hourly mean).
    day_cum: float[n + 1], consumption from the epoch to the start of each local day.
    start: register value at the epoch; replacements: [(t_s, new_start, consumed_to_t_s)] by time.
    """

    meter: Meter
    enterprise: str
    key: int
    d0: int
    hourly: np.ndarray
    day_cum: np.ndarray
    start: float = 0.0
    replacements: list[tuple[int, float, float]] = field(default_factory=list)

    def cumulative(self, t_s: np.ndarray) -> np.ndarray:
        """Consumption from the epoch to each instant ``t_s`` (meter unit)."""
        t_s = np.asarray(t_s, dtype=np.int64)
        n = self.hourly.shape[0]
        d = t_s // DAY_S - self.d0
        s = t_s % DAY_S
        at_end = d == n  # the closing midnight of the window
        d = np.where(at_end, n - 1, d)
        s = np.where(at_end, DAY_S, s)
        h = np.minimum(s // HOUR_S, 23)
        f = (s - h * HOUR_S) / HOUR_S
        H = self.hourly
        cum_h = np.cumsum(H, axis=1) - H
        w = 0.9 + 0.2 * rng.uniform(self.key, (d + self.d0)[:, None], h[:, None], np.arange(4)[None, :])
        w = w / w.sum(axis=1, keepdims=True)
        q = np.minimum((f * 4).astype(np.int64), 3)
        fq = f * 4 - q
        cw = np.cumsum(w, axis=1) - w
        rows = np.arange(len(t_s))
        within = cw[rows, q] + w[rows, q] * fq
        return self.day_cum[d] + cum_h[d, h] + H[d, h] * within

    def register(self, t_s: np.ndarray, cum: np.ndarray | None = None) -> np.ndarray:
        """Register readings at ``t_s`` (rollover at 10**register_digits, replacements applied)."""
        cum = self.cumulative(t_s) if cum is None else cum
        val = self.start + cum
        for t_r, new_start, c_r in self.replacements:
            val = np.where(np.asarray(t_s) >= t_r, new_start + cum - c_r, val)
        reg = self.meter.register_max or 1e15
        return np.round(np.mod(val, reg), COUNTER_DECIMALS) % reg

    def gauge(self, t_s: np.ndarray) -> np.ndarray:
        """Gauge values at ``t_s``: the hourly mean shaped by the quarter weights, ±2 % noise."""
        t_s = np.asarray(t_s, dtype=np.int64)
        n = self.hourly.shape[0]
        d = np.minimum(t_s // DAY_S - self.d0, n - 1)
        h = (t_s % DAY_S) // HOUR_S
        q = ((t_s % HOUR_S) // 900)
        w = 0.9 + 0.2 * rng.uniform(self.key, (d + self.d0)[:, None], h[:, None], np.arange(4)[None, :])
        wq = 4 * w[np.arange(len(t_s)), q] / w.sum(axis=1)
        noise = 1 + 0.02 * rng.tri(self.key ^ 0x5A5A, t_s // 60)
        return np.round(self.hourly[d, h] * wq * noise, GAUGE_DECIMALS)

    def daily(self) -> np.ndarray:
        """Quantity per local day (counters), float[n]."""
        return self.hourly.sum(axis=1)

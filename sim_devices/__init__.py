"""Simulated fleet of the district's key energy-using enterprises (see README.md).

Public API (registry = ``ecm.registry.Registry``; days are Beijing days, inclusive):

- ``backfill(registry, start, end, *, seed, faults=None, interval_s=None, host, port, state_dir, progress=True) -> dict``
- ``run(registry, *, seed, faults=None, interval_s=None, host, port, state_dir, duration_s=None, speed=1.0) -> dict``
- ``truth_frame(registry, start, end, seed, faults=None) -> DataFrame`` (day_cst, enterprise, line, meter, carrier, role, quantity, amount)
- ``savings_truth_frame(registry, start, end, seed, faults=None) -> DataFrame`` (per retrofit: actual and counterfactual per meter-day)
- ``monthly_stats_frame(registry, start_month, end_month, seed) -> DataFrame``
- ``select_registry(registry, n_enterprises)``, ``scaled_registry(data, n, meters_per_enterprise=None)``
- ``FaultConfig.parse(["dropout=0.1", "spike"])``, ``KINDS``, ``DEFAULT_RATES``
"""
from __future__ import annotations

from sim_devices.api import backfill, run
from sim_devices.faults import DEFAULT_RATES, KINDS, FaultConfig
from sim_devices.fleet import load_fleet, scaled_registry
from sim_devices.window import (build_window, monthly_stats_frame, savings_truth_frame, select_registry,
                                truth_frame)

DEFAULT_SEED = 20240301

__all__ = ["backfill", "run", "truth_frame", "savings_truth_frame", "monthly_stats_frame", "select_registry", "scaled_registry",
           "build_window", "load_fleet", "FaultConfig", "KINDS", "DEFAULT_RATES", "DEFAULT_SEED"]

"""Seed the derived KPI measurements (docs/contracts.md §2.1) for one report day.

Writes synthetic but schema-exact points with ``InfluxClient.write_frame``; the lead may swap this
for a pipeline-seeded fixture. Returns the frames written (measurement -> DataFrame).
"""
from __future__ import annotations

from datetime import date

from ecm.registry import get_registry
from ecm.report.data import registry_frames
from ecm.report.synthetic import TAGS, synthetic_kpis

INSUFFICIENT = ("e19",)


def seed_kpis(client, day: date, *, seed: int = 7, insufficient: tuple[str, ...] = INSUFFICIENT) -> dict:
    """Write kpi_monthly, kpi_daily, energy_daily, line_daily, benchmark_monthly, capacity_share_monthly
    and dq_result for ``day`` (24 months of kpi_monthly) for every registry enterprise."""
    ents, lines = registry_frames(get_registry())
    frames = synthetic_kpis(day, ents, lines, seed=seed, insufficient=insufficient)
    for measurement, df in frames.items():
        client.write_frame(df, measurement, TAGS[measurement])
    return frames

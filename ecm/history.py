"""History import: daily KPIs for daily-resolution register history, a year per vectorised pass.

The rules are the daily run's (``ecm.pipeline.daily``: ``compute_day`` with ``gate_readings=False``
→ ``apply_status`` → ``write_day``), so the rows are exactly those of ``run_days(days,
gate="history")``. What differs is the pass: contiguous days are computed up to a Beijing calendar
year at a time instead of a month (a pass's cost is mostly per query and per frame, not per day:
measured 37.8 vs 6.4 days/s for 2022 of the default district, docs/benchmarks.md), and the write of
one pass overlaps the compute of the next (one writer thread; InfluxDB works while pandas does).

Memory is bounded as in the daily run: readings are loaded enterprise-chunk by chunk
(``chunk_enterprises``); a year of daily registers is 365 rows per meter.
"""
from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from typing import Callable

log = logging.getLogger("ecm.history")

def passes(days: list[date], max_days: int = 366) -> list[list[date]]:
    """Contiguous runs of ``days`` within one calendar year, at most ``max_days`` long (a pass never
    spans two years, so the per-year figures of ``ecm bench history`` time whole passes)."""
    out: list[list[date]] = []
    for d in sorted(set(days)):
        if (out and (d - out[-1][-1]).days == 1 and len(out[-1]) < max_days
                and d.year == out[-1][-1].year):
            out[-1].append(d)
        else:
            out.append([d])
    return out


def import_days(days: list[date], *, client=None, registry=None, factors=None, max_days: int = 366,
                chunk_enterprises: int = 20, progress: Callable[[date], None] | None = None,
                overlap_writes: bool = True) -> dict[str, list[str]]:
    """Daily KPIs of ``days`` from daily-resolution history (no readings suite; coverage rule of
    ``ecm.accounting.status``); returns {day: data-insufficient enterprises}. ``progress(day)``
    is called for every day once its pass is written."""
    from ecm.factors import get_factors
    from ecm.influx import InfluxClient
    from ecm.pipeline.daily import apply_status, compute_day, write_day
    from ecm.registry import get_registry

    client = client or InfluxClient.from_settings()
    registry = registry or get_registry()
    factors = factors or get_factors()
    writer = InfluxClient(client.cfg)     # a session of its own for the writer thread
    writer.skip_empty_deletes = client.skip_empty_deletes
    out: dict[str, list[str]] = {}
    pending: Future | None = None

    def done(run: list[date], withheld: dict) -> None:
        for d in run:
            out[d.isoformat()] = withheld.get(d.isoformat(), [])
            if progress:
                progress(d)

    def write(frames, run, withheld) -> None:
        write_day(writer if overlap_writes else client, frames)
        done(run, withheld)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ecm-history-write") as pool:
        for run in passes(days, max_days):
            frames = compute_day(client, registry, factors, run[0], run[-1], gate_readings=False,
                                 chunk_enterprises=chunk_enterprises)
            withheld = apply_status(frames, registry=registry)
            if pending is not None:
                pending.result()          # one pass in flight: bounded memory, errors surface here
            if overlap_writes:
                pending = pool.submit(write, frames, run, withheld)
            else:
                write(frames, run, withheld)
            log.info("history_pass", extra={"first": run[0].isoformat(), "last": run[-1].isoformat()})
        if pending is not None:
            pending.result()
    return out

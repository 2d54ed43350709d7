"""``ecm bench quality``: the GX suites over one synthetic default-district day, seconds per step."""
from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

from ecm.quality import load_suite, run_suite, save_artifacts
from ecm.quality_frames import month_label, readings_daily_metrics, stats_monthly_metrics, synthetic_day


def bench(day: date = date(2024, 3, 1)) -> dict[str, float]:
    """Seconds per step for one synthetic default-district day (pure frames + GX + artifacts)."""
    from ecm.registry import get_registry

    t = {"start": time.perf_counter()}
    reg = get_registry()
    meters = reg.meters_frame()
    readings = synthetic_day(meters, day)
    t["synthesise"] = time.perf_counter()
    load_suite("readings_daily")
    t["gx_context_and_suite"] = time.perf_counter()
    frame = readings_daily_metrics(readings, meters, day)
    t["readings_metrics"] = time.perf_counter()
    results = [run_suite("readings_daily", frame, period=day.isoformat())]
    t["readings_validate"] = time.perf_counter()
    stats = pd.DataFrame({"enterprise": reg.enterprise_ids, "month": day.strftime("%Y-%m"),
                          "value_added_current_10k_cny": 1000.0, "deflator_index": 1.02})
    results.append(run_suite("stats_monthly", stats_monthly_metrics(stats, reg.enterprise_ids, day), period=month_label(day)))
    t["stats_validate"] = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        save_artifacts(results, Path(tmp))
    t["artifacts"] = time.perf_counter()
    keys = list(t)
    out = {k: t[k] - t[keys[i - 1]] for i, k in enumerate(keys) if i}
    out["total_excl_synthesis"] = t[keys[-1]] - t["synthesise"]
    out["n_readings"] = float(len(readings))
    out["n_meters"] = float(len(meters))
    return out


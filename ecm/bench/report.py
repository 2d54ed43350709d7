"""``ecm bench report``: render the district report for N synthetic enterprises (no InfluxDB).

Goal: a 200-enterprise district report (HTML, charts, PDF, CSV/JSON, manifest) in under 60 s.
``bench_data`` also feeds the report model's unit tests.
"""
from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

INDUSTRIES = ["building_ceramics", "sanitary_ceramics", "daily_ceramics", "cement", "brick", "other"]
UNITS = {"building_ceramics": ("tile_abs_le_0_2", "m2"), "sanitary_ceramics": ("sanitary_abs_le_0_3", "pcs"),
         "daily_ceramics": ("daily_ceramics", "t"), "cement": ("cement_grinding", "t"),
         "brick": ("brick_sintered_solid", "t"), "other": None}


def synthetic_registry_frames(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` enterprises (cycling industries, one line each except 'other') and their lines."""
    ents, lines = [], []
    for i in range(1, n + 1):
        ind = INDUSTRIES[i % len(INDUSTRIES)]
        eid = f"s{i:03d}"
        ents.append({"enterprise": eid, "name_zh": f"合成企业{i:03d}有限公司", "name_en": f"Synthetic Co. {i:03d}",
                     "industry": ind})
        if UNITS[ind]:
            pc, unit = UNITS[ind]
            lines.append({"line": f"{eid}_l1", "enterprise": eid, "name_zh": f"{i:03d}号产线",
                          "name_en": f"line {i:03d}", "product_class": pc, "output_unit": unit})
    return pd.DataFrame(ents), pd.DataFrame(lines)


def bench_data(n: int, day: date):
    """ReportData for ``n`` synthetic enterprises (two of them data-insufficient)."""
    from ecm.report.data import ReportData, add_period_columns
    from ecm.report.synthetic import synthetic_kpis

    ents, lines = synthetic_registry_frames(n)
    frames = synthetic_kpis(day, ents, lines, insufficient=tuple(ents["enterprise"][-2:]))
    f = {k: add_period_columns(v) for k, v in frames.items()}
    return ReportData(day=day, district_name_zh="合成测试区", district_name_en="Synthetic district",
                      enterprises=ents, lines=lines, **f)


def run_bench(n: int, out_dir: Path | None = None, day: date = date(2024, 3, 5)) -> float:
    """Seconds to build and publish the district report of ``n`` synthetic enterprises."""
    from ecm.report.model import build_district
    from ecm.report.writer import publish

    t0 = time.perf_counter()
    data = bench_data(n, day)
    with tempfile.TemporaryDirectory(prefix="ecm-bench-") as tmp:
        publish({"district": build_district(data)}, day=day, out_dir=Path(out_dir or tmp))
    return time.perf_counter() - t0


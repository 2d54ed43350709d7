"""``ecm bench report``: render the nightly report set for N synthetic enterprises (no InfluxDB).

What the nightly DAG renders (``--documents all``, the default): the district document and one per
enterprise (N + 1 documents: charts, HTML, PDF each), plus CSV/JSON and the manifest, over
``ECM_REPORT_WORKERS`` processes. ``--documents district`` renders the district document alone.
Goal: 200 enterprises (201 documents) in ≤ 20 s, the report's share of the 60 s nightly run.
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


#: the whole nightly run's target (issue 14), and the report's share of it (the daily DAG takes ~25 s)
NIGHTLY_TARGET_S = 60.0
REPORT_SHARE_S = 20.0


def run_bench(n: int, out_dir: Path | None = None, day: date = date(2024, 3, 5), documents: str = "all") -> dict:
    """Build the models and publish the report set of ``n`` synthetic enterprises (``documents``:
    ``all`` = district + every enterprise, as the nightly DAG; ``district`` = the district alone).

    Returns seconds (wall; models and publish apart), CPU seconds of this process and its workers,
    documents/s, the worker count, the host line fields and the ratios to the 20 s / 60 s targets."""
    import os
    import resource

    from ecm.bench import host_info
    from ecm.report.model import build_district, build_models
    from ecm.report.writer import PARALLEL_MIN_DOCS, publish
    from ecm.settings import get_settings

    if documents not in ("all", "district"):
        raise ValueError(f"documents must be 'all' or 'district', not {documents!r}")

    def cpu() -> float:
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    host_before = host_info()
    c0, t0 = cpu(), time.perf_counter()
    data = bench_data(n, day)
    models = build_models(data) if documents == "all" else {"district": build_district(data)}
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ecm-bench-") as tmp:
        publish(models, day=day, out_dir=Path(out_dir or tmp))
    t2 = time.perf_counter()
    c1 = cpu()
    seconds = t2 - t0
    return {"enterprises": n, "documents": len(models), "scope": documents,
            "workers": 1 if len(models) < PARALLEL_MIN_DOCS else min(get_settings().report_workers
                                                                     or os.cpu_count() or 1, len(models)),
            "seconds": round(seconds, 2), "models_s": round(t1 - t0, 2), "publish_s": round(t2 - t1, 2),
            "cpu_s": round(c1 - c0, 2), "documents_per_s": round(len(models) / seconds, 2),
            "ratio_to_report_share": round(seconds / REPORT_SHARE_S, 2),
            "ratio_to_nightly_target": round(seconds / NIGHTLY_TARGET_S, 2),
            "host_before": host_before, "host_after": host_info()}

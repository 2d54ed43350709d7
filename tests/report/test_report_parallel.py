"""Report documents rendered over worker processes are byte-identical to the in-process render:
the manifest (every file's SHA-256) does not depend on ECM_REPORT_WORKERS."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path


def test_worker_processes_render_the_same_bytes(tmp_path, monkeypatch):
    from ecm.bench.report import bench_data
    from ecm.report.model import build_models
    from ecm.report.writer import PARALLEL_MIN_DOCS, publish
    from ecm.settings import reset_settings_cache

    day = date(2024, 3, 5)
    models = build_models(bench_data(PARALLEL_MIN_DOCS, day), None)
    assert len(models) > PARALLEL_MIN_DOCS          # enough documents to use the workers
    files = {}
    for workers in ("1", "2"):
        monkeypatch.setenv("ECM_REPORT_WORKERS", workers)
        reset_settings_cache()
        res = publish(models, day=day, out_dir=Path(tmp_path / f"w{workers}"))
        files[workers] = json.loads((res.path / "manifest.json").read_text())["files"]
    monkeypatch.delenv("ECM_REPORT_WORKERS")
    reset_settings_cache()
    assert sum(name.endswith(".pdf") for name in files["1"]) == len(models)
    assert files["1"] == files["2"]

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


def test_bench_report_renders_every_document_the_dag_renders(tmp_path):
    """`ecm bench report` measures the nightly set: the district + one document per enterprise."""
    from click.testing import CliRunner

    from ecm.cli.bench import bench

    res = CliRunner().invoke(bench, ["report", "--enterprises", "3", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "4 documents (all)" in res.output and "× the 20 s report share" in res.output
    assert "host: " in res.output and "documents/s" in res.output
    pdfs = sorted(p.name for p in tmp_path.rglob("*.pdf"))
    assert pdfs == ["district.pdf", "enterprise-s001.pdf", "enterprise-s002.pdf", "enterprise-s003.pdf"]
    res = CliRunner().invoke(bench, ["report", "--enterprises", "3", "--documents", "district"])
    assert res.exit_code == 0, res.output
    assert "1 documents (district)" in res.output


def test_rendering_leaves_no_temp_folders(tmp_path, monkeypatch):
    """WeasyPrint's font folders (one per FontConfiguration) are removed, whether documents render in
    process or in pool workers (which end with os._exit and never run WeasyPrint's cleanup)."""
    import tempfile

    from ecm.bench.report import bench_data
    from ecm.report.model import build_models
    from ecm.report.writer import PARALLEL_MIN_DOCS, publish
    from ecm.settings import reset_settings_cache

    day = date(2024, 3, 5)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    for workers, n in (("1", 2), ("2", PARALLEL_MIN_DOCS)):
        monkeypatch.setenv("ECM_REPORT_WORKERS", workers)
        reset_settings_cache()
        res = publish(build_models(bench_data(n, day), None), day=day, out_dir=tmp_path / f"w{workers}")
        assert res.status == "new" and list(res.path.glob("*.pdf"))
        assert list(scratch.iterdir()) == [], workers
    monkeypatch.delenv("ECM_REPORT_WORKERS")
    reset_settings_cache()


def test_font_cut_cache_gives_the_same_bytes_whatever_the_day(tmp_path, monkeypatch):
    """The CJK cut depends only on the characters (no timestamp of its own): cut fresh on two report
    days and taken from the cache, the font files are identical; another character set is another cut."""
    from ecm.report import render as R

    text = "荣昌区 单位工业增加值能耗 tce 万元"
    cache = tmp_path / "cache"
    cache.mkdir()
    got = []
    for k, (day, use_cache) in enumerate([(date(2024, 3, 5), False), (date(2025, 7, 1), True),
                                          (date(2026, 1, 2), True)]):
        folder = tmp_path / f"f{k}"
        folder.mkdir()
        with R.source_date_epoch(day):
            fonts = R.CjkFonts(text, folder, cache=cache if use_cache else None)
        got.append({w: p.read_bytes() for w, p in fonts.files.items()})
        if use_cache:  # the first cached run wrote the two cuts, the second read them
            assert len(list(cache.glob("cjk-*.otf"))) == 2
    assert got[0] == got[1] == got[2]
    other = tmp_path / "other"
    other.mkdir()
    R.CjkFonts(text + "陶瓷", other, cache=cache)
    assert len(list(cache.glob("cjk-*.otf"))) == 4
    assert (other / "ecm-cjk-normal.otf").read_bytes() != got[0]["normal"]

"""Write one night's report set atomically, with a SHA-256 manifest and revisions.

Layout (``scope`` = ``<out>/<day>/`` for the district run, ``<out>/<day>-<enterprise>/`` for a
single-enterprise run)::

    <scope>/manifest.json  data.json  figures.csv  ranking.csv  lines.csv
    <scope>/district.{html,pdf}  enterprise-<id>.{html,pdf}  charts/<report>-<chart>.png
    <scope>/rev2/ ... + changes.json        (late data changed a figure; rev1 is kept)

Everything is rendered into a hidden temp folder next to the target and renamed into place only
when complete, so a report is never partial; any failure removes the temp folder and raises.
A re-run whose ``data.json`` equals the latest revision's writes nothing (status ``unchanged``).
"""
from __future__ import annotations

import base64
import contextlib
import gc
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ecm.errors import EcmError
from ecm.report import charts as C
from ecm.report import figures as F
from ecm.report import render as R

log = logging.getLogger("ecm.report")

RANKING_COLUMNS = ["rank", "key", "name_zh", "name_en", "industry", "status", "status_level",
                   "ytd_intensity_tce_per_10k_cny", "ytd_change_frac", "cumulative_index", "path_index",
                   "gap_index", "required_annual_rate_frac", "energy_tce", "co2_t", "value_added_10k_cny",
                   "day_energy_tce", "day_co2_t", "day_data_status", "completeness_frac", "factor_table_version"]
LINE_COLUMNS = ["key", "enterprise", "industry", "product_class", "unit", "unit_energy_12m", "unit_energy_ytd",
                "benchmark", "baseline", "classification", "gap_to_benchmark_pct", "gap_to_baseline_pct",
                "completeness_frac", "factor_table_version"]


class ReportRenderError(EcmError):
    """A report could not be rendered; nothing was published."""

    hint = "see the traceback in the task log; the previous revision is untouched"


@dataclass
class Published:
    """Result of :func:`publish`: ``status`` is ``new``, ``revised`` or ``unchanged``."""

    path: Path
    revision: int
    status: str
    changes: list[dict] = field(default_factory=list)


def scope_dir(out_dir: Path, day: date, enterprise: str | None = None) -> Path:
    return Path(out_dir) / (day.isoformat() if enterprise is None else f"{day.isoformat()}-{enterprise}")


def latest_revision(scope: Path) -> tuple[int, Path] | None:
    """(number, folder) of the newest complete revision under ``scope``, or None."""
    if not (scope / "manifest.json").exists():
        return None
    revs = [int(p.name[3:]) for p in scope.glob("rev*") if p.name[3:].isdigit() and (p / "manifest.json").exists()]
    n = max(revs, default=1)
    return n, (scope if n == 1 else scope / f"rev{n}")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def report_files(name: str) -> tuple[str, str]:
    stem = "district" if name == "district" else f"enterprise-{name}"
    return f"{stem}.html", f"{stem}.pdf"


#: below this many documents the report renders in process (a worker's imports cost ~2 s)
PARALLEL_MIN_DOCS = 6


def _render_document(args: tuple[dict, dict, Path, str]) -> tuple[dict[str, bytes], bytes]:
    """One document in one pass (in a worker or in process): its charts (PNG bytes) and its PDF,
    whose HTML carries the charts inline. Returns ``(charts, pdf)``."""
    model, rev, base_url, fonts_css = args
    with _young_garbage_collected_after():
        charts = C.model_charts(model)
        # the PDF gets the PNGs inline: WeasyPrint names image resources after their URL, and a path
        # in the temp folder would make every PDF differ
        inline = {chart: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
                  for chart, png in charts.items()}
        html = R.render_html(R.shared_env(), model, rev, inline)
        return charts, R.html_to_pdf(html, base_url, fonts_css)


@contextlib.contextmanager
def _young_garbage_collected_after():
    """The cyclic collector off while one document renders, then one collection of the young
    generations: WeasyPrint allocates hundreds of thousands of objects per document, and the
    collections they trigger scan them again and again (about 12 % of a PDF's time). The garbage
    of one document (its box tree's cycles) is all young, so it is freed at the end of the document;
    the older objects (fonts, templates, the parent's data) are not scanned."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.collect(1)


def _scratch_in(folder: str) -> None:
    """Worker initializer: the worker's temp files (WeasyPrint's font folder) go under ``folder``,
    which the run removes; a pool worker ends with ``os._exit`` and would leave its own behind."""
    tempfile.tempdir = folder


def _in_process(fn, items: list) -> list:
    try:
        return [fn(x) for x in items]
    finally:
        R.release_fonts()


def _map(fn, items: list, scratch: Path) -> list:
    """``[fn(x) for x in items]``, over ``ECM_REPORT_WORKERS`` forked processes (0: one per CPU)
    when there are enough documents to repay a worker's start. Each document is rendered by the same
    function either way, so the bytes (and the manifest's SHA-256) do not depend on the worker count.
    Temp files of the workers go under ``scratch`` (removed by the caller)."""
    from ecm.settings import get_settings

    workers = get_settings().report_workers or os.cpu_count() or 1
    workers = min(workers, len(items))
    if workers <= 1 or len(items) < PARALLEL_MIN_DOCS:
        return _in_process(fn, items)
    # fork: a spawned worker would re-import the caller's __main__ (scripts without a main guard break)
    ctx = multiprocessing.get_context("fork")
    # the parent's objects (report data, models) move to the collector's permanent generation before
    # the fork: a worker's collections then never touch them, so their pages stay shared (copy on write)
    gc.freeze()
    try:
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_scratch_in, initargs=(str(scratch),)) as pool:
            # small chunks: documents differ in cost (the district's is the largest), and a big last
            # chunk would leave the other workers idle at the end
            return list(pool.map(fn, items, chunksize=max(1, min(4, len(items) // (4 * workers)))))
    except BrokenProcessPool:   # a worker died (e.g. killed for memory): render in process instead
        log.warning("report_workers_failed_rendering_in_process", extra={"documents": len(items)})
        return _in_process(fn, items)
    finally:
        gc.unfreeze()


def write_set(tmp: Path, models: dict[str, dict], day: date, revision: dict, data_bytes: bytes,
              previous: dict | None) -> None:
    """Render every file of one revision into ``tmp`` and write ``manifest.json`` last."""
    (tmp / "charts").mkdir()
    (tmp / "data.json").write_bytes(data_bytes)
    (tmp / "figures.csv").write_bytes(F.figures_csv(F.flatten(models)))
    if "district" in models:
        (tmp / "ranking.csv").write_bytes(F.table_csv(models["district"]["ranking"], RANKING_COLUMNS))
        (tmp / "lines.csv").write_bytes(F.table_csv(models["district"]["lines"], LINE_COLUMNS))
    if revision["number"] > 1:
        (tmp / "changes.json").write_bytes(F.dumps(revision))
    env = R.shared_env()
    htmls, revs = {}, {}
    for name, model in models.items():
        srcs = {chart: f"charts/{name}-{chart}.png" for chart in C.chart_names(model)}
        revs[name] = {"number": revision["number"],
                      "changes": [c for c in revision["changes"] if name == "district" or c["report"] == name]}
        htmls[name] = R.render_html(env, model, revs[name], srcs)
    with tempfile.TemporaryDirectory(prefix="ecm-fonts-") as fdir, R.source_date_epoch(day):
        # one cut of the CJK font for the PDFs and the charts (forked workers inherit its registration)
        fonts = R.CjkFonts("".join(htmls.values()) + C.chart_text(), Path(fdir), cache=R.cut_cache_dir())
        with C.cut_font(fonts.files["normal"]):
            # charts and PDF of a document in one worker pass: the PNGs are pickled back once
            done = _map(_render_document, [(model, revs[name], tmp, fonts.css) for name, model in models.items()],
                        Path(fdir))
        for (name, html), (charts, pdf) in zip(htmls.items(), done):
            for chart, png in charts.items():
                (tmp / f"charts/{name}-{chart}.png").write_bytes(png)
            h, p = report_files(name)
            (tmp / h).write_text(html, encoding="utf-8")
            (tmp / p).write_bytes(pdf)
    files = sorted(p for p in tmp.rglob("*") if p.is_file())
    manifest = {"schema": "ecm.report.manifest/1", "day": day.isoformat(), "revision": revision["number"],
                "previous": previous,
                "files": {p.relative_to(tmp).as_posix(): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
                          for p in files}}
    (tmp / "manifest.json").write_bytes(F.dumps(manifest))


def publish(models: dict[str, dict], *, day: date, out_dir: Path, enterprise: str | None = None) -> Published:
    """Publish ``models`` as the next revision of the day's report (or keep the latest if unchanged)."""
    scope = scope_dir(out_dir, day, enterprise)
    data_bytes = F.dumps({"day": day.isoformat(), "scope": enterprise or "district", "models": models})
    latest = latest_revision(scope)
    previous, changes, number = None, [], 1
    if latest is not None:
        n, folder = latest
        old_bytes = (folder / "data.json").read_bytes()
        if old_bytes == data_bytes:
            log.info("report_unchanged", extra={"path": str(folder), "revision": n})
            return Published(folder, n, "unchanged")
        changes = F.diff_figures(F.flatten(json.loads(old_bytes)["models"]), F.flatten(models))
        if not changes:
            changes = [{"report": "-", "section": "-", "entity": "-", "figure": "descriptive text", "unit": "",
                        "old": None, "new": None}]
        previous = {"revision": n, "manifest_sha256": sha256_file(folder / "manifest.json")}
        number = n + 1
    elif scope.exists():
        raise ReportRenderError(f"{scope} exists but has no manifest.json", hint="move it away and re-run")
    target = scope if number == 1 else scope / f"rev{number}"
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=parent))
    try:
        write_set(tmp, models, day, {"number": number, "changes": changes}, data_bytes, previous)
        os.chmod(tmp, 0o755)
        os.rename(tmp, target)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, EcmError) or not isinstance(exc, Exception):
            raise
        raise ReportRenderError(f"report {day} failed to render: {type(exc).__name__}: {exc}") from exc
    log.info("report_published", extra={"path": str(target), "revision": number, "n_changes": len(changes)})
    return Published(target, number, "new" if number == 1 else "revised", changes)

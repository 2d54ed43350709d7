"""Nightly report against a real InfluxDB: PDF text equals the KPI store, charts render,
re-runs are byte-identical, late data gives rev2 with a change note."""
from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from seed import INSUFFICIENT, seed_kpis

from ecm.periods import month_bounds_utc

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DAY = date(2023, 11, 14)


def _pdftext(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout


def _store_monthly(client, enterprise: str) -> dict:
    start, _ = month_bounds_utc(DAY)
    df = client.query_frame(f"SELECT * FROM kpi_monthly WHERE enterprise = '{enterprise}' "
                            f"AND time = '{start.strftime('%Y-%m-%dT%H:%M:%SZ')}'")
    assert len(df) == 1
    return df.iloc[0].to_dict()


@pytest.fixture(scope="module")
def built(stack, tmp_path_factory):
    from ecm.registry import get_registry
    from ecm.report import build_report_published

    client = stack.client()
    seed_kpis(client, DAY)
    out = tmp_path_factory.mktemp("reports")
    res = build_report_published(DAY, client=client, registry=get_registry(), out_dir=out)
    return client, get_registry(), out, res


def test_manifest_hashes_every_file(built):
    _, registry, _, res = built
    assert res.status == "new" and res.revision == 1
    manifest = json.loads((res.path / "manifest.json").read_text())
    files = {p.relative_to(res.path).as_posix() for p in res.path.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(manifest["files"]) == files
    for rel, meta in manifest["files"].items():
        assert hashlib.sha256((res.path / rel).read_bytes()).hexdigest() == meta["sha256"]
    assert {f"enterprise-{e}.pdf" for e in registry.enterprise_ids} | {"district.pdf", "figures.csv", "data.json"} <= files


def test_district_pdf_names_and_figures_equal_store(built):
    client, registry, _, res = built
    text = _pdftext(res.path / "district.pdf")
    for e in registry.enterprises:
        assert e.name_zh in text, e.id
    d = _store_monthly(client, "_district")
    for v in (f"{d['ytd_intensity_tce_per_10k_cny']:.4f}", f"{d['cumulative_index']:.4f}",
              f"{d['energy_tce']:,.1f}", f"{d['co2_t']:,.1f}", f"{d['required_annual_rate_frac'] * 100:.1f}%"):
        assert v in text, v
    for eid in ("e01", "e10", "e20"):
        e = _store_monthly(client, eid)
        assert f"{e['cumulative_index']:.4f}" in text and f"{e['energy_tce']:,.1f}" in text
    assert "数据不足" in text and "13%" in text


def test_enterprise_pdf_figures_equal_store_and_insufficient_says_so(built):
    client, registry, _, res = built
    text = _pdftext(res.path / "enterprise-e01.pdf")
    e = _store_monthly(client, "e01")
    assert registry.enterprise("e01").name_zh in text
    for v in (f"{e['ytd_intensity_tce_per_10k_cny']:.4f}", f"{e['path_index']:.4f}", f"{e['co2_t']:,.1f}"):
        assert v in text, v
    bad = _pdftext(res.path / f"enterprise-{INSUFFICIENT[0]}.pdf")
    assert "数据不足" in bad and "figures are withheld" in bad
    stored = _store_monthly(client, INSUFFICIENT[0])
    assert stored["status"] == "data_insufficient" and pd.isna(stored.get("energy_tce", np.nan))
    assert bad.count("数据不足 data") >= 10  # every headline figure says so instead of a number


def test_pdf_pages_render_with_charts(built, tmp_path):
    _, _, _, res = built
    pdf = res.path / "district.pdf"
    listing = subprocess.run(["pdfimages", "-list", str(pdf)], check=True, capture_output=True, text=True).stdout
    images = [ln.split() for ln in listing.splitlines()[2:] if ln.split() and ln.split()[2] == "image"]
    assert len(images) >= 4  # intensity, CO2, mix, lines
    page = int(images[0][0])
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", str(page), "-l", str(page), str(pdf), str(tmp_path / "p")],
                   check=True)
    png = next(tmp_path.glob("p*.png"))
    px = imread(png)[..., :3]
    non_white = float((px.min(axis=2) < 0.9).mean())
    assert non_white > 0.05, non_white
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(res.path / "enterprise-e01.pdf"), str(tmp_path / "e")], check=True)
    assert len(list(tmp_path.glob("e*.png"))) >= 2


def test_rerun_is_byte_identical(built, tmp_path):
    from ecm.report import build_report_published

    client, registry, out, res = built
    again = build_report_published(DAY, client=client, registry=registry, out_dir=out)
    assert again.status == "unchanged" and again.path == res.path
    fresh = build_report_published(DAY, client=client, registry=registry, out_dir=tmp_path)
    assert (fresh.path / "manifest.json").read_bytes() == (res.path / "manifest.json").read_bytes()
    for name in ("figures.csv", "data.json", "ranking.csv", "district.pdf", "enterprise-e01.pdf"):
        assert (fresh.path / name).read_bytes() == (res.path / name).read_bytes(), name


def test_late_data_writes_rev2_and_keeps_rev1(built):
    from ecm.report import build_report_published

    client, registry, out, res = built
    rev1_manifest = (res.path / "manifest.json").read_bytes()
    old = _store_monthly(client, "e03")
    start, _ = month_bounds_utc(DAY)
    client.write_frame(pd.DataFrame([{"time": start, "enterprise": "e03", "energy_tce": old["energy_tce"] + 123.4}]),
                       "kpi_monthly", ["enterprise"])
    rev = build_report_published(DAY, client=client, registry=registry, out_dir=out)
    assert rev.status == "revised" and rev.revision == 2 and rev.path == res.path / "rev2"
    changes = json.loads((rev.path / "changes.json").read_text())["changes"]
    hit = [c for c in changes if c["report"] == "e03" and c["section"] == "summary" and c["figure"] == "energy_tce"]
    assert hit and hit[0]["old"] == old["energy_tce"] and np.isclose(hit[0]["new"], old["energy_tce"] + 123.4)
    assert all(c["report"] in ("district", "e03") or c["section"] == "position" for c in changes)
    assert (res.path / "manifest.json").read_bytes() == rev1_manifest
    manifest = json.loads((rev.path / "manifest.json").read_text())
    assert manifest["previous"]["manifest_sha256"] == hashlib.sha256(rev1_manifest).hexdigest()
    text = _pdftext(rev.path / "enterprise-e03.pdf")
    assert "修订版" in text and f"{old['energy_tce'] + 123.4:,.1f}" in text
    again = build_report_published(DAY, client=client, registry=registry, out_dir=out)
    assert again.status == "unchanged" and again.revision == 2


def _page_texts(pdf: Path) -> list[str]:
    n = int(next(ln.split()[1] for ln in subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True,
                                                         text=True).stdout.splitlines() if ln.startswith("Pages:")))
    return [subprocess.run(["pdftotext", "-layout", "-f", str(p), "-l", str(p), str(pdf), "-"], check=True,
                           capture_output=True, text=True).stdout for p in range(1, n + 1)]


def test_first_page_names_the_window_cutoff_and_units(built):
    """The demo-like case: the report of 14 Nov has no November value added yet, so its year to date is
    1–10月; the first page says so, with the data cut-off, and spells the units out."""
    _, _, _, res = built
    for name in ("district.pdf", "enterprise-e01.pdf"):
        first = _page_texts(res.path / name)[0]
        assert "2023年1–10月" in first and "Jan–Oct 2023" in first, name
        assert "数据截至" in first and "2023-11-14 24:00" in first, name
        assert "吨标准煤 (tce)" in first and "吨标准煤/万元" in first, name
        assert "本月至今（11月1–14日，未完）" in first, "the running month is marked partial"
        assert "未报 not yet reported" in first, "value added not yet in is said so, not shown complete"
    first = _page_texts(res.path / "district.pdf")[0]
    assert "距基准差距最大的三条产线" in first and "需关注事项" in first
    text = _pdftext(res.path / "district.pdf")
    assert not [ln for ln in text.splitlines() if ln.rstrip().endswith("tce/万")], "tce/万元 wrapped"


def test_no_page_is_empty_apart_from_its_heading(built, tmp_path):
    """Every page carries more than a heading: text beyond one line, or a chart (ink over 3 % of the page
    below the top margin)."""
    _, _, _, res = built
    for name in ("district.pdf", "enterprise-e01.pdf", f"enterprise-{INSUFFICIENT[0]}.pdf"):
        pdf = res.path / name
        pages = _page_texts(pdf)
        assert len(pages) >= 2
        subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf), str(tmp_path / name)], check=True)
        pngs = sorted(tmp_path.glob(f"{name}-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        assert len(pngs) == len(pages)
        for i, (text, png) in enumerate(zip(pages, pngs), 1):
            lines = [ln for ln in text.splitlines() if ln.strip() and "page" not in ln and "第" not in ln[:8]]
            px = imread(png)[..., :3]
            body = px[int(px.shape[0] * 0.12): int(px.shape[0] * 0.92)]
            ink = float((body.min(axis=2) < 0.8).mean())
            assert len(lines) > 2 or ink > 0.03, f"{name} page {i} holds only {lines!r} (ink {ink:.3f})"


def test_line_chart_labels_unique_with_enterprise_names(built):
    from ecm.report import charts as C

    _, _, _, res = built
    model = json.loads((res.path / "data.json").read_text())["models"]["district"]
    rows = C.chart_lines(model["lines"])
    labels = C.line_labels(rows)
    assert len(labels) == len(set(labels)) == len(rows)
    assert all(label.startswith(r["enterprise_short_zh"] + " ") for r, label in zip(rows, labels))
    text = _pdftext(res.path / "district.pdf")
    assert "渝荣陶瓷 一号线" in text, "tables name lines with their enterprise too"

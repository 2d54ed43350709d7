"""Targets are read from config/factors.yaml everywhere: a copy with another path target (20 % by
2030) changes the report's words and the boards' titles; the default file gives 13 % and 30 %."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2024, 3, 5)


def _texts():
    from dashboards.generate import build_all
    from ecm.bench.report import bench_data
    from ecm.report.model import build_district
    from ecm.report.render import make_env, render_html

    html = render_html(make_env(), build_district(bench_data(12, DAY)), {"number": 1, "changes": []}, {})
    boards = build_all()
    titles = " | ".join(p.get("title", "") for b in boards.values() for p in b.get("panels", []))
    return html, titles


@pytest.fixture()
def factors_copy(tmp_path, monkeypatch):
    from ecm.settings import reset_settings_cache

    data = yaml.safe_load((ROOT / "config/factors.yaml").read_text(encoding="utf-8"))
    data["targets"].update(cumulative_reduction_frac=0.20, end_year=2030, benchmark_share_goal_frac=0.40)
    path = tmp_path / "factors.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("ECM_FACTORS_FILE", str(path))
    reset_settings_cache()
    yield path
    monkeypatch.delenv("ECM_FACTORS_FILE")
    reset_settings_cache()


def test_default_targets_in_report_and_boards():
    html, titles = _texts()
    assert "13%路径" in html and "goal ≥ 30%" in html
    assert "vs 13% 路径" in titles and "目标30%" in titles


def test_changed_path_target_changes_report_and_board_titles(factors_copy):
    html, titles = _texts()
    assert "20%路径" in html and "13%路径" not in html
    assert "goal ≥ 40%" in html
    assert "vs 20% 路径" in titles and "13%" not in titles and "目标40%" in titles

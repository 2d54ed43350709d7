"""Charts reuse their 24-month and energy-mix frames across documents (ecm.report.charts._FRAMES): a document's
chart must come out byte for byte as from a fresh figure, whatever was drawn before it."""
from __future__ import annotations

import copy
from datetime import date

import pytest


@pytest.fixture(scope="module")
def models():
    from ecm.bench.report import bench_data
    from ecm.report.model import build_models

    ms = build_models(bench_data(12, date(2024, 3, 5)), None)
    picked = [ms["district"], ms["s001"], ms["s002"], ms["s011"], ms["s012"]]   # s011, s012: insufficient
    gappy = copy.deepcopy(ms["s003"])          # gaps: months without data in both trend charts
    for t in gappy["trend"][3:6]:
        t["co2_t"] = None
        t["cumulative_index"] = None
    gappy["trend"][-2]["partial"] = True       # and a second partial month (other x labels)
    gappy["mix"] = gappy["mix"][:2]            # and fewer carriers (another mix frame)
    return picked + [gappy]


def _fresh(model) -> dict[str, bytes]:
    from ecm.report import charts as C

    C.clear_frames()
    return C.model_charts(model)


def test_reused_frames_give_the_bytes_of_fresh_figures(models):
    from ecm.report import charts as C

    fresh = [_fresh(m) for m in models]
    assert all(f for f in fresh) and any("co2" in f and "intensity" in f for f in fresh)
    C.clear_frames()
    forward = [C.model_charts(m) for m in models]
    backward = [C.model_charts(m) for m in reversed(models)][::-1]
    again = [C.model_charts(m) for m in models]
    assert forward == fresh
    assert backward == fresh
    assert again == fresh
    assert fresh[-1]["co2"] != fresh[2]["co2"]   # the gaps drew something else
    assert fresh[-1]["mix"] != fresh[2]["mix"]


def test_gap_months_and_insufficient_are_drawn(models):
    from ecm.report import charts as C

    gappy = _fresh(models[-1])
    assert set(gappy) >= {"intensity", "co2"}
    insufficient = _fresh(models[3])
    assert "intensity" not in insufficient       # withheld in its report, so not drawn
    assert C.chart_names(models[3]) == list(insufficient)
